"""Benchmark: how derive() grows with the size of its input, with log-log slopes. Not a test:
speed targets live here.

    python bench/bench_scaling.py [--quick] [--cli N] [--clock wall|cpu] [--only TEXT] [--out FILE]

Every figure is cold: matcalc's memos are emptied before each call (bench_derive's
clear_matcalc_caches), and each time is the median of --repeat calls of the whole derive()
plus printing the result (str). The slope is the least-squares slope of log(time) against
log(size) over the sizes listed; 1 is linear. The tanh Hessian also lists its printed size with
repeated subexpressions named once (`… where s1 = …`), which should grow linearly.

--cli N times the command line (a fresh `python -m matcalc FORMULA --wrt X` process, median of
5) on the first N identity-table rows (all of them with --cli 0); target < 0.3 s each.
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench_derive import clear_matcalc_caches  # noqa: E402
from matcalc import derive  # noqa: E402


def chain(n):
    names = " ".join(f"A{i}" for i in range(1, n + 1))
    return f"a^T {names} x", "x", "a: n, x: n, " + ", ".join(f"A{i}: n×n" for i in range(1, n + 1))


def chain_norm(n):
    names = " ".join(f"A{i}" for i in range(1, n + 1))
    return f"‖{names} x‖^2", "x", "x: n, " + ", ".join(f"A{i}: n×n" for i in range(1, n + 1))


def least_squares_sum(n):
    return (" + ".join(f"(A{i} x - b{i})^T (A{i} x - b{i})" for i in range(n)), "x",
            "x: n, " + ", ".join(f"A{i}: m×n, b{i}: m" for i in range(n)))


def quadratic_sum(n):
    return (" + ".join(f"c{i} x^T A x" for i in range(n)), "x",
            "x: n, A: n×n, " + ", ".join(f"c{i}: scalar" for i in range(n)))


def tanh_net(n):
    s = "x"
    for i in range(1, n + 1):
        s = f"tanh(W{i} {s})"
    return (f"sum(({s} - y) .^ 2)", "x",
            "x: n, y: n, " + ", ".join(f"W{i}: n×n" for i in range(1, n + 1)))


RATIONAL = ("sum((x+a0) ./ (x+a1) ./ (x+a2) ./ (x+a3) ./ (x+a4))", "x", None)

# name: (builder, sizes, order, target)
SERIES = {
    "chain aᵀA1…ALx wrt x": (chain, (64, 128, 256, 512, 1024), 1, "L = 1024 < 0.2 s"),
    "‖A1…ALx‖² wrt x": (chain_norm, (64, 128, 256, 512, 1024), 1, "L = 1024 < 0.2 s"),
    "Σ (Aᵢx − bᵢ)ᵀ(Aᵢx − bᵢ) wrt x": (least_squares_sum, (125, 250, 500, 1000), 1,
                                      "1,000 terms < 0.3 s"),
    "Σ cᵢxᵀAx wrt x": (quadratic_sum, (125, 250, 500, 1000), 1, "1,000 terms < 0.3 s"),
    "tanh network gradient wrt x": (tanh_net, (6, 12, 24, 48), 1, "slope ≤ 1.2"),
    "tanh network Hessian wrt x": (tanh_net, (6, 12, 24, 48), 2, "L = 48 < 1 s"),
}
QUICK = {"chain aᵀA1…ALx wrt x": (64, 128, 256), "‖A1…ALx‖² wrt x": (64, 128, 256),
         "Σ (Aᵢx − bᵢ)ᵀ(Aᵢx − bᵢ) wrt x": (50, 100, 200), "Σ cᵢxᵀAx wrt x": (50, 100, 200),
         "tanh network gradient wrt x": (6, 12), "tanh network Hessian wrt x": (6, 12)}


CLOCK = time.perf_counter          # --clock cpu: time.process_time (this process's CPU time)


def timed(expr, wrt, shapes, order, repeat):
    """(median seconds of derive + str, the result printed with repeated parts named once)."""
    from matcalc.printing.named import named_form
    times, r = [], None
    for _ in range(repeat):
        clear_matcalc_caches()
        t = CLOCK()
        r = derive(expr, wrt=wrt, shapes=shapes, order=order)
        str(r)
        times.append(CLOCK() - t)
    return statistics.median(times), named_form(r.node)


def slope(xs, ys):
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def cli_times(limit):
    from test_identities import TABLE
    rows = []
    for p in TABLE[:limit or None]:
        if p.marks:
            continue
        expr, wrt, shapes, _, order = p.values
        cmd = [sys.executable, "-m", "matcalc", expr, "--wrt", wrt]
        if shapes:
            cmd += ["--shapes", shapes]
        if order != 1:
            cmd += ["--order", str(order)]
        times = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - t)
        rows.append((p.id, statistics.median(times)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    ap.add_argument("--cli", type=int, default=None, metavar="N",
                    help="also time the command line on the first N table rows (0: all)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall-clock time (default) or this process's CPU time, steadier on a "
                         "machine shared with other work")
    ap.add_argument("--only", default=None, help="only the series whose name contains this")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    lines = ["# Scaling", "",
             f"Cold figures (matcalc's memos emptied before every call), median of {args.repeat} "
             f"calls of derive() plus str(), {args.clock} time; Python "
             f"{sys.version.split()[0]}. Slope: least squares of log time against log size.", ""]
    summary = ["| input | sizes | times (s) | log-log slope | target |", "|---|---|---|---:|---|"]
    details = []
    for name, (build, sizes, order, target) in SERIES.items():
        if args.only and args.only not in name:
            continue
        if args.quick:
            sizes = QUICK[name]
        times, printed = [], []
        for n in sizes:
            expr, wrt, shapes = build(n)
            t, text = timed(expr, wrt, shapes, order, args.repeat)
            times.append(t)
            printed.append(len(text))
            print(f"{name} n={n}: {t:.3f} s, {len(text):,} characters printed", flush=True)
        summary.append(f"| {name} | {', '.join(map(str, sizes))} | "
                       f"{', '.join(f'{t:.3f}' for t in times)} | {slope(sizes, times):.2f} | "
                       f"{target} |")
        if order == 2:
            details.append(f"- {name}: printed size (named parts) "
                           f"{', '.join(f'{c:,}' for c in printed)} characters for L = "
                           f"{', '.join(map(str, sizes))}; log-log slope "
                           f"{slope(sizes, printed):.2f}")
    expr, wrt, shapes = RATIONAL
    t, _ = timed(expr, wrt, shapes, 1, max(args.repeat, 5))
    details.append(f"- `{expr}` wrt x: {t * 1e3:.1f} ms cold (target < 20 ms)")
    lines += summary + [""] + details
    if args.cli is not None:
        rows = cli_times(args.cli)
        over = [(i, t) for i, t in rows if t >= 0.3]
        worst = sorted(rows, key=lambda it: -it[1])[:10]
        lines += ["", "## Command line, wall time per identity-table formula (median of 5)", "",
                  f"{len(rows)} formulas; median {statistics.median(t for _, t in rows):.3f} s, "
                  f"slowest {max(t for _, t in rows):.3f} s; {len(over)} at or over 0.3 s. "
                  "The ten slowest: " + ", ".join(f"{i} {t:.2f} s" for i, t in worst) + "."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
