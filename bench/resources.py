"""Resource table: the worst inputs found, with the time and peak memory that parse + derive +
print take on them, or the limit that refuses them. Each case runs in a fresh process with a
wall-clock timeout; time is measured on a first run, peak memory (tracemalloc) on a second.

    python bench/resources.py [--out FILE] [--timeout 60] [--before OLD_CHECKOUT]

--before also measures another matcalc checkout (an older version) for before/after columns. tests/test_security.py runs the same cases
(the quick ones by default, all of them with --slow) and asserts the budget.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 2.0          # CPU seconds for parse + derive + print
BUDGET_MB = 500.0       # tracemalloc peak


def _nest(n, open_, close, inner="x"):
    return open_ * n + inner + close * n


def _softmax(n):
    return "sum(" + _nest(n, "softmax(", ")") + ")"


def _sqrt_latex(n):
    return _nest(n, "\\sqrt{", "}")


def _layers(n):
    s = "x"
    for i in range(1, n + 1):
        s = f"tanh(W{i} {s})"
    return f"sum(({s} - y) .^ 2)"


# name: (what the case does, builder of its arguments, heavy?)
# kinds: derive (text, wrt, shapes) then str/text/latex; parse (text) then str; repr (text).
CASES = {
    "softmax nested 18 deep": ("derive", lambda: (_softmax(18), "x", None), True),
    "softmax nested 12 deep": ("derive", lambda: (_softmax(12), "x", None), False),
    "\\sqrt nested 400 deep (LaTeX)": ("derive", lambda: (_sqrt_latex(400), "x", "x: scalar"), True),
    "\\sqrt nested 100 deep (LaTeX)": ("derive", lambda: (_sqrt_latex(100), "x", "x: scalar"), False),
    "10,000 terms x + x + …": ("derive", lambda: (" + ".join(["x"] * 10_000), "x", None), False),
    "4,000 terms x + x + …": ("derive", lambda: (" + ".join(["x"] * 4_000), "x", None), True),
    "3,000 distinct names": ("derive", lambda: (" + ".join(f"x_{i}" for i in range(3000)), "x_1",
                                                None), False),
    "250 distinct names summed": ("derive", lambda: (" + ".join(f"x_{i}" for i in range(250)),
                                                     "x_1", None), False),
    "1,240 quadratic forms over 248 matrices": ("derive", lambda: (
        " + ".join(f"x^T A_{i % 248} x" for i in range(1240)), "x", None), True),
    "3,000-factor ⊙ product": ("derive", lambda: (" ⊙ ".join(["x"] * 3000), "x", None), True),
    "1,000 distinct ⊙ factors": ("derive", lambda: (" ⊙ ".join(f"x_{i}" for i in range(1000)),
                                                    "x_1", None), False),
    "250 distinct ⊙ factors": ("derive", lambda: (" ⊙ ".join(f"x_{i}" for i in range(250)),
                                                  "x_1", None), True),
    "15,020 minus signs": ("parse", lambda: ("-" * 15020 + "x",), False),
    "4,300-digit decimal": ("parse", lambda: ("1." + "1" * 4300 + " x",), False),
    "5,000-digit exponent": ("parse", lambda: ("1e" + "9" * 5000 + " x",), False),
    "repr of a 250-factor product": ("repr", lambda: (" ".join(f"A_{i}" for i in range(250)),),
                                     False),
    "brackets 501 deep": ("parse", lambda: (_nest(501, "(", ")"),), False),
    "brackets 500 deep": ("derive", lambda: (_nest(500, "(", ")"), "x", None), False),
    "20,000 transposes": ("parse", lambda: ("x" + "ᵀ" * 20_000,), False),
    "300 postfix ^T^-1 in a row": ("derive", lambda: ("A" + "^T^-1" * 150, "A", None), False),
    "100,001 characters": ("parse", lambda: ("x" + " " * 100_000,), False),
    "exp nested 400 deep": ("derive", lambda: (_nest(400, "exp(", ")"), "x", "x: scalar"), False),
    "64-layer tanh network": ("derive", lambda: (_layers(64), "W1", None), True),
    "16-layer tanh network": ("derive", lambda: (_layers(16), "W1", None), False),
    "matrix power A^99999999": ("derive", lambda: ("A^99999999", "A", None), False),
    "scalar power c^1e300": ("derive", lambda: ("c^1e300 x", "x", "c: scalar"), False),
    "(x^T x)^64 nested squares": ("derive", lambda: (_nest(6, "(", ")^2", "x^T x"), "x", None),
                                  False),
    "logsumexp ∘ softmax 10 deep": ("derive", lambda: (
        "logsumexp(" + _nest(10, "softmax(W ", ")") + ")", "x", "W: n×n"), False),
    "product of 100 matrices": ("derive", lambda: (" ".join(f"A_{i}" for i in range(100)),
                                                   "A_1", None), True),
    "‖·‖ nested 200 deep": ("derive", lambda: (_nest(200, "norm2(", ")"), "x", None), False),
}


def run_case(name: str, trace: bool = False) -> dict:
    """Run one case in this process, timed, or (trace=True) under tracemalloc for its peak."""
    import resource
    import tracemalloc

    import matcalc
    kind, build, _ = CASES[name]
    args = build()

    def once():
        if kind == "derive":
            text, wrt, shapes = args
            r = matcalc.derive(text, wrt=wrt, shapes=shapes)
            return len(str(r)) + len(r.text) + len(r.latex)
        node = matcalc.parse(args[0])
        return len(repr(node)) if kind == "repr" else len(_print(node))

    out = {"case": name}
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out["chars"] = once()
        out["outcome"] = "ok"
    except matcalc.MatcalcError as err:
        out["outcome"] = f"refused: {type(err).__name__}: {err.message}"
    except Exception as err:          # anything else is a failure of the promise
        out["outcome"] = f"CRASH: {type(err).__name__}: {str(err)[:200]}"
    out["seconds"] = time.perf_counter() - t0
    out["cpu"] = time.process_time() - c0
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out


def _print(node):
    from matcalc.printing.unicode import to_unicode
    from matcalc.core.limits import run_deep
    return run_deep(to_unicode, node)


def _run(name, root, timeout, trace):
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
            "import resources; print(json.dumps(resources.run_case(sys.argv[3], "
            "sys.argv[4] == '1')))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    t = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(root), str(ROOT / "bench"),
                               name, "1" if trace else "0"], capture_output=True,
                              text=True, timeout=timeout, env=env, encoding="utf-8")
    except subprocess.TimeoutExpired:
        return {"case": name, "outcome": f"TIMEOUT after {timeout:.0f} s", "seconds": None}
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"case": name, "outcome": f"CRASH (exit {proc.returncode}): {tail[:200]}",
                "seconds": time.perf_counter() - t}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(names, root: Path = ROOT, timeout: float = 60.0, trace: bool = True):
    """Each case in a fresh process (so that a hang or a blow-up cannot take the caller with
    it), timed; then, unless it timed out, in another fresh process under tracemalloc.
    Yields one result dict per case (peak_mb from the second run)."""
    for name in names:
        out = _run(name, root, timeout, False)
        if trace and out.get("seconds") is not None:
            traced = _run(name, root, 4 * timeout, True)   # tracemalloc is slow
            out["peak_mb"] = traced.get("peak_mb")
        yield out


def _cell(r, key, fmt):
    v = r.get(key)
    return "—" if v is None else fmt.format(v)


def table(before: list, after: list, timeout: float) -> list[str]:
    lines = ["## Resources: worst inputs", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; command: `python bench/resources.py`. Each input runs "
             "in a fresh process: parse + derive + `str`/`.text`/`.latex` (or parse and print, or "
             "`repr`); time is wall-clock of a first run, peak memory is tracemalloc's on a second "
             f"run. Budget: {BUDGET_S:g} s and {BUDGET_MB:g} MB, or refused with a MatcalcError "
             f"naming the limit. Timeout {timeout:.0f} s per input.", ""]
    if before:
        lines += ["| input | before: outcome | before (s) | before peak (MB) | after: outcome | "
                  "after (s) | after peak (MB) |", "|---|---|---:|---:|---|---:|---:|"]
        for b, a in zip(before, after):
            lines.append(f"| {a['case']} | {_short(b['outcome'])} | {_cell(b, 'seconds', '{:.2f}')}"
                         f" | {_cell(b, 'peak_mb', '{:.0f}')} | {_short(a['outcome'])} | "
                         f"{_cell(a, 'seconds', '{:.2f}')} | {_cell(a, 'peak_mb', '{:.0f}')} |")
    else:
        lines += ["| input | outcome | time (s) | peak (MB) |", "|---|---|---:|---:|"]
        for a in after:
            lines.append(f"| {a['case']} | {_short(a['outcome'])} | "
                         f"{_cell(a, 'seconds', '{:.2f}')} | {_cell(a, 'peak_mb', '{:.0f}')} |")
    return lines


def _short(outcome: str) -> str:
    return outcome.replace("|", "\\|").replace("\n", " ")[:110]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--before", help="a matcalc checkout to measure for the 'before' columns")
    ap.add_argument("--before-json", help="'before' results saved earlier with --save-json")
    ap.add_argument("--save-json", help="also write the results as JSON to this file")
    ap.add_argument("--cases", help="case names separated by ; (default: all)")
    a = ap.parse_args()
    names = a.cases.split(";") if a.cases else list(CASES)
    before = list(measure(names, Path(a.before), a.timeout)) if a.before else []
    if a.before_json:
        saved = {r["case"]: r for r in json.loads(Path(a.before_json).read_text("utf-8"))}
        before = [saved.get(n, {"case": n, "outcome": "not measured"}) for n in names]
    after = list(measure(names, ROOT, a.timeout))
    if a.save_json:
        Path(a.save_json).write_text(json.dumps(after, indent=1), encoding="utf-8")
    text = "\n".join(table(before, after, a.timeout)) + "\n"
    if a.out:
        Path(a.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
