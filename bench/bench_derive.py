"""Benchmark: derive() over the identity table, next to SymPy's matrix `diff` on the same
functions, measured in the same run (issue 3). Not a test: speed targets live here.

    python bench/bench_derive.py [--repeat 7] [--out bench/RESULTS.md]

matcalc's time is the whole derive() call: parsing, shape inference, differentiation and
simplification. The headline figure is cold: before every timed call every memo of the package
is emptied (each functools cache found in the loaded matcalc modules, the simplifier's tables,
the element-wise algebra's answers and the hash-consing table: `clear_matcalc_caches`); the
warm figure (caches kept between repeats) is listed beside it and labelled as such. What stays
between calls in both: the loaded Lark parser, the per-rule dispatch of the parser's builder and
the idle worker thread that deep calls run on (process state, not memos of answers). SymPy's time is only `f.diff(X)` on an already-built SymPy expression (the
same function, translated by matcalc.printing.sympy), so the comparison favours SymPy. SymPy caches
results, so its cache is cleared before every timed call (outside the timing). A case counts as
one SymPy "can do" when diff returns within 5 s without raising, without an unevaluated
Derivative in its answer, and not 0 where the true derivative is not zero (SymPy 1.14 answers
0 for log det X, for instance). Its answers are not otherwise checked.
"""
from __future__ import annotations

import argparse
import platform
import signal
import statistics
import sys
import time
from pathlib import Path

import sympy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from matcalc import derive  # noqa: E402
from matcalc.printing.sympy import to_sympy  # noqa: E402
from test_identities import TABLE  # noqa: E402


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def best_median(fn, repeat, before=None):
    times = []
    for _ in range(repeat):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def clear_matcalc_caches():
    """Every memo matcalc keeps between calls, emptied: each lru_cache in the loaded matcalc
    modules (found by looking, so a new one is not missed) and simplify.clear_caches (the
    algebra memo and the hash-consing table)."""
    import matcalc.simplify.rewrite as S
    for name, module in list(sys.modules.items()):
        if name == "matcalc" or name.startswith("matcalc."):
            for obj in list(vars(module).values()):
                if callable(getattr(obj, "cache_clear", None)):
                    obj.cache_clear()
    S.clear_caches()


def clear_cache():
    from sympy.core.cache import clear_cache as clear
    clear()


def _sympy_zero(answer):
    return answer == 0 or bool(getattr(answer, "is_ZeroMatrix", False)) or \
        isinstance(answer, sympy.ZeroMatrix)


def _is_zero(r):
    from matcalc.core import build
    return build.is_zero(r.node)


def sympy_case(r):
    f = to_sympy(r.function)
    x = r.variable
    var = sympy.Symbol(x.name) if x.shape == (1, 1) else \
        sympy.MatrixSymbol(x.name, *(d.to_sympy() for d in x.shape))
    return lambda: f.diff(var)


def size_report():
    """Issue 4: result size against the textbook form of every identity-table row."""
    from matcalc import parse
    from matcalc.simplify.rewrite import size
    larger = []
    rows = 0
    for p in TABLE:
        if p.marks:
            continue
        expr, wrt, shapes, expected, order = p.values
        r = derive(expr, wrt=wrt, shapes=shapes, order=order)
        rows += 1
        ours, book = size(r.node), size(parse(expected, shapes))
        if ours > book:
            larger.append(f"| {p.id} | {ours} | {book} | `{r}` | `{expected}` |")
    return ["", "## Result size against the textbook form", "",
            f"{rows - len(larger)} of {rows} identity-table results are no larger than the "
            f"textbook form; the {len(larger)} below are larger:", "",
            "| case | matcalc size | textbook size | matcalc | textbook |",
            "|---|---:|---:|---|---|"] + larger


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    rows = []
    for p in TABLE:
        expr, wrt, shapes, expected, order = p.values
        if p.marks:
            continue
        call = lambda: derive(expr, wrt=wrt, shapes=shapes, order=order)  # noqa: E731
        r = call()
        ours = best_median(call, args.repeat, clear_matcalc_caches)
        warm = best_median(call, args.repeat)
        theirs = None
        if order == 1:
            try:
                fn = sympy_case(r)
                signal.alarm(5)
                answer = fn()
                signal.alarm(0)
                if answer.has(sympy.Derivative) or (_sympy_zero(answer) and not _is_zero(r)):
                    raise ValueError("SymPy cannot do this case")
                theirs = best_median(fn, max(1, args.repeat // 2), clear_cache)
            except Exception:  # SymPy cannot do this case (or took > 5 s)
                theirs = None
            finally:
                signal.alarm(0)
        rows.append((p.id, ours, warm, theirs))
    ours_all = [o for _, o, _, _ in rows]
    warm_all = [w for _, _, w, _ in rows]
    both = [(o, t) for _, o, _, t in rows if t is not None]
    med = statistics.median(ours_all) * 1e3
    ratios = [t / o for o, t in both]
    lines = [
        "# derive() benchmark", "",
        f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"SymPy {sympy.__version__}; median of {args.repeat} runs per case, one run of the script. "
        "Cold: every matcalc memo emptied before each timed call, SymPy's cache cleared before "
        "each of its calls; warm: matcalc's memos kept between repeats.", "",
        f"- identity-table cases timed: {len(rows)}",
        f"- median derive() time, cold: **{med:.2f} ms** (target < 1 ms); warm: "
        f"{statistics.median(warm_all) * 1e3:.2f} ms",
        f"- cases SymPy's diff can do: {len(both)} of {len(rows)}",
        f"- on those, median matcalc (cold) {statistics.median([o for o, _ in both]) * 1e3:.2f} ms vs "
        f"SymPy diff (cold) {statistics.median([t for _, t in both]) * 1e3:.2f} ms; "
        f"median per-case speed-up **{statistics.median(ratios):.1f}×** "
        f"(geometric mean {statistics.geometric_mean(ratios):.1f}×, target ≥ 30×)", "",
        "| case | matcalc derive, cold (ms) | warm (ms) | SymPy diff, cold (ms) | ratio (cold) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, o, w, t in rows:
        lines.append(f"| {name} | {o * 1e3:.2f} | {w * 1e3:.2f} | "
                     f"{'—' if t is None else f'{t * 1e3:.2f}'} | "
                     f"{'—' if t is None else f'{t / o:.1f}×'} |")
    lines += size_report()
    text = "\n".join(lines) + "\n"
    print("\n".join(lines[:9]))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
