"""`matcalc serve`: the page and its JSON API over the standard library's HTTP server.

Serves a fixed set of files from static/ (listed once at start, so no path from a request
reaches the file system) and `POST /api/derive` (see api.py). Bound to 127.0.0.1 unless
--host says otherwise; a request whose Host header names another machine is refused (DNS
rebinding), and every answer carries a Content-Security-Policy without inline script.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import mimetypes
import socket
import sys
import threading
import traceback
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .api import answer

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
       "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
           "Cross-Origin-Opener-Policy": "same-origin",
           "Cross-Origin-Resource-Policy": "same-origin"}
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".woff2": "font/woff2",
         ".png": "image/png", ".svg": "image/svg+xml", "": "text/plain; charset=utf-8"}


def _static_files() -> dict[str, Path]:
    files = {"/" + p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file()}
    files["/"] = STATIC / "index.html"
    return files


def _host_allowed(host_header: str | None, bound: str) -> bool:
    """Accept localhost, an IP literal, or the name given to --host; a DNS name that merely
    resolves to us (a rebinding attack from a web page) is refused."""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    if host in ("localhost", bound.lower()):
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class Handler(BaseHTTPRequestHandler):
    server_version = "matcalc"
    sys_version = ""
    files: dict[str, Path] = {}
    bound = "127.0.0.1"
    quiet = False

    def log_message(self, format, *args):   # noqa: A002 (the base class's name)
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, ctype: str, cache: str = "no-cache") -> None:
        self.send_response(status)
        for k, v in HEADERS.items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: dict) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode(),
                   "application/json; charset=utf-8", "no-store")

    def _refuse(self, status: int, message: str) -> None:
        self._json(status, {"ok": False, "error": {"type": "BadRequest", "message": message}})

    def _host_ok(self) -> bool:
        if _host_allowed(self.headers.get("Host"), self.bound):
            return True
        self._refuse(421, "this server answers only requests addressed to localhost")
        return False

    def do_GET(self):   # noqa: N802 (http.server's naming)
        if not self._host_ok():
            return
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        file = self.files.get(path)
        if file is None:
            self._refuse(404, f"no such page: {path[:100]}")
            return
        cache = "public, max-age=86400" if "/katex/" in path else "no-cache"
        self._send(200, file.read_bytes(), TYPES.get(file.suffix) or
                   mimetypes.guess_type(file.name)[0] or "application/octet-stream", cache)

    do_HEAD = do_GET

    def do_POST(self):   # noqa: N802
        if not self._host_ok():
            return
        if self.path != "/api/derive":
            self._refuse(404, "the API is POST /api/derive")
            return
        # A JSON content type cannot be sent cross-site without a CORS preflight, which this
        # server never grants; a page elsewhere cannot make us compute.
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._refuse(415, "send the query as application/json")
            return
        origin = self.headers.get("Origin")
        if origin is not None and origin.split("//", 1)[-1] != self.headers.get("Host"):
            self._refuse(403, "requests from other sites are refused")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._refuse(411, "a Content-Length is required")
            return
        if length > MAX_BODY or length < 0:
            self._refuse(413, f"the query is over {MAX_BODY // 1024} KiB")
            return
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._refuse(400, "the body is not JSON")
            return
        try:
            status, out = answer(body)
        except Exception:            # our bug: keep the traceback in the log, not in the page
            traceback.print_exc()
            status, out = 500, {"ok": False, "error": {
                "type": "InternalError",
                "message": "matcalc failed on this input (a bug: please report the query)"}}
        self._json(status, out)


def make_server(host: str = "127.0.0.1", port: int = 0, quiet: bool = False) -> ThreadingHTTPServer:
    """A server ready to serve_forever(); port 0 picks a free port (server.server_port)."""
    handler = type("MatcalcHandler", (Handler,), {"files": _static_files(), "bound": host,
                                                  "quiet": quiet})
    cls = ThreadingHTTPServer
    if ":" in host:
        cls = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    server = cls((host, port), handler)
    server.daemon_threads = True
    return server


def start_in_thread(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """A quiet server on a background thread (tests, notebooks); returns it and its URL."""
    server = make_server(host, port, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}/"


def serve_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="matcalc serve",
                                description="Start the local web page (no request leaves "
                                            "this machine).")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only); "
                        "requests must then name this host, localhost or an IP address")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    args = p.parse_args(argv)
    try:
        server = make_server(args.host, args.port)
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror}", file=sys.stderr)
        return 1
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{server.server_port}/"
    print(f"matcalc: serving {url}  (Ctrl-C stops)", file=sys.stderr, flush=True)
    if args.open:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
