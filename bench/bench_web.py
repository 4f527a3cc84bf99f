"""Web page figures: the API's answer time over the identity table, and the page's load time.

    python bench/bench_web.py [--out bench/RESULTS_web.md]

Each identity-table row is posted once to `POST /api/derive` of an in-process server (the
answer cache is cold for every row; the process is warm), with and without the numerical
check the page asks for. The page load is timed in headless Chromium when it is installed
(and Selenium is importable): from navigation to the typeset derivative of the default example.
"""
from __future__ import annotations

import argparse
import http.client
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from matcalc.web import start_in_thread  # noqa: E402
from matcalc.web.api import _answer  # noqa: E402


def identity_rows():
    import test_identities
    for p in test_identities.TABLE:
        expr, wrt, shapes, _expected, order = p.values
        yield {"formula": expr, "wrt": wrt, "shapes": shapes,
               "mode": "hessian" if order == 2 else "derivative"}


def post(port, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("POST", "/api/derive", json.dumps(body), {"Content-Type": "application/json"})
    res = conn.getresponse()
    out = json.loads(res.read())
    elapsed = time.perf_counter() - start
    conn.close()
    return res.status, out, elapsed


def api_times(port, check):
    _answer.cache_clear()
    times, failures = [], []
    for row in identity_rows():
        status, out, elapsed = post(port, {**row, "check": check})
        if status != 200:
            failures.append(f"`{row['formula']}` ({out['error']['type']})")
        times.append(elapsed * 1000)
    return times, failures


def page_load(url, rounds=5):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        return None, "Selenium is not installed"
    if not (chromium and driver_path):
        return None, "chromium / chromedriver are not installed"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=driver_path))
    script = ("const el = document.querySelector('#result-math .katex-html');"
              "return el && el.textContent.includes('θ') ? performance.now() : null;")
    out = []
    try:
        for i in range(rounds + 1):      # the first round fills the browser's cache
            driver.get(url + f"?round={i}&f=(X%CE%B8%20%E2%88%92%20y)%5ET%20(X%CE%B8%20%E2%88%92%20y)"
                              "&s=X%3A%20m%C3%97n%2C%20%CE%B8%3A%20n%2C%20y%3A%20m&wrt=%CE%B8")
            shown = None
            deadline = time.time() + 30
            while shown is None and time.time() < deadline:
                shown = driver.execute_script(script)
                if shown is None:
                    time.sleep(0.01)
            timing = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "const r = performance.getEntriesByType('resource');"
                "return [n.domContentLoadedEventEnd, "
                "r.reduce((s, e) => s + e.encodedBodySize, 0) + n.encodedBodySize, r.length];")
            if i > 0:
                out.append((shown, *timing))
            else:
                cold = (shown, *timing)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return {"cold": cold, "warm": out}, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="write the Markdown table here (default: stdout)")
    args = ap.parse_args()
    server, url = start_in_thread()
    lines = ["# Web page", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}; command: "
             "`python bench/bench_web.py`; in-process server, answers over HTTP on 127.0.0.1.", ""]
    post(server.server_port, {"formula": "x^T x", "wrt": "x"})   # imports, grammar, caches
    lines += ["| API answer (identity table, one request per row) | rows | median (ms) | "
              "90th percentile (ms) | max (ms) | not 200 |", "|---|---:|---:|---:|---:|---:|"]
    refused = []
    for check in (True, False):    # the first pass meets the engine's own caches cold
        times, failures = api_times(server.server_port, check)
        q = statistics.quantiles(times, n=10)
        label = "first pass: with the numerical check (what the page asks)" if check else \
            "second pass: derivative, steps, code, no check"
        lines.append(f"| {label} | {len(times)} | {statistics.median(times):.1f} | "
                     f"{q[-1]:.1f} | {max(times):.1f} | {len(failures)} |")
        refused = failures
    if refused:
        lines += ["", "Not 200 (rows the identity table marks as known gaps, answered 422 with "
                  "the error): " + ", ".join(refused) + "."]
    loads, why = page_load(url)
    lines.append("")
    if loads is None:
        lines.append(f"Page load: not measured ({why}).")
    else:
        cold, warm = loads["cold"], loads["warm"]
        lines += ["| page load, headless Chromium | typeset result shown (ms) | "
                  "DOMContentLoaded (ms) | bytes transferred | requests |",
                  "|---|---:|---:|---:|---:|",
                  f"| first visit (empty cache) | {cold[0]:.0f} | {cold[1]:.0f} | "
                  f"{cold[2]:,} | {cold[3] + 1} |",
                  f"| later visits, median of {len(warm)} | "
                  f"{statistics.median(w[0] for w in warm):.0f} | "
                  f"{statistics.median(w[1] for w in warm):.0f} | — | — |"]
    server.shutdown()
    text = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
