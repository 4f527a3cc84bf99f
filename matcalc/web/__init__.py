"""The local web page: `matcalc serve` (server.py), its JSON API (api.py) and static/.

A front end over the public API like the command line; KaTeX is vendored in static/katex/ so
that nothing is fetched from the network.
"""
from __future__ import annotations

from .server import make_server, serve_main, start_in_thread

__all__ = ["make_server", "serve_main", "start_in_thread"]
