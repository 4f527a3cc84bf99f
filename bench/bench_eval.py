"""Benchmark (issue 8): evaluating matcalc's generated Hessians against jax.jit(jax.hessian),
torch.func.hessian and a hand-written NumPy closed form; derivation time and result size by
depth; CLI cold start. One run, side by side; prints a Markdown section.

    python bench/bench_eval.py [--out bench/RESULTS_eval.md]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Every contender on one thread, so that the comparison is of the work each does: XLA's CPU
# client and the BLAS behind NumPy and PyTorch would otherwise use every core (set before the
# libraries are imported; an explicit setting in the environment wins).
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import matcalc  # noqa: E402

PROBLEMS = {  # name: (expression, wrt, shapes, builder of values at size n, hand-written Hessian)
    "logistic regression": ("sum(log(1 + exp(X w)) - y .* (X w))", "w", "X: N×n, w: n, y: N"),
    "least squares": ("‖X w - y‖^2", "w", "X: N×n, w: n, y: N"),
    "xᵀAx": ("x^T A x", "x", "A: n×n, x: n"),
    "matrix factorisation": ("‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k"),
}


def values(name, n, rng):
    if name in ("logistic regression", "least squares"):
        return {"X": rng.normal(size=(2 * n, n)), "w": rng.normal(size=(n, 1)) / np.sqrt(n),
                "y": rng.normal(size=(2 * n, 1))}
    if name == "xᵀAx":
        return {"A": rng.normal(size=(n, n)), "x": rng.normal(size=(n, 1))}
    k = 5
    m = n if n <= 100 else 100          # the Hessian is (mk)², kept to 500×500
    return {"X": rng.normal(size=(m, n)), "U": rng.normal(size=(m, k)),
            "V": rng.normal(size=(n, k))}


def hand_written(name, v, order):
    """The closed forms as a careful person would type them in NumPy (Cookbook / textbook), in
    the cheap order: scalars applied to the smallest operand (2·(Xᵀr), not (2Xᵀ)r), matrix-vector
    products rather than matrix sums ((A + Aᵀ)x as Ax + Aᵀx), small Gram matrices first."""
    if name == "logistic regression":
        s = 1 / (1 + np.exp(-(v["X"] @ v["w"])))
        return v["X"].T @ (s - v["y"]) if order == 1 else v["X"].T @ ((s * (1 - s)) * v["X"])
    if name == "least squares":
        if order == 1:
            return 2 * (v["X"].T @ (v["X"] @ v["w"] - v["y"]))
        return 2 * (v["X"].T @ v["X"])
    if name == "xᵀAx":
        return v["A"] @ v["x"] + v["A"].T @ v["x"] if order == 1 else v["A"] + v["A"].T
    U, V = v["U"], v["V"]
    if order == 1:
        return 2 * (U @ (V.T @ V) - v["X"] @ V)
    return 2 * np.kron(V.T @ V, np.eye(U.shape[0]))


ARGS = {"logistic regression": ("w", "X", "y"), "least squares": ("w", "X", "y"),
        "xᵀAx": ("x", "A"), "matrix factorisation": ("U", "X", "V")}


def jax_fn(name, order):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    if name == "logistic regression":
        f = lambda w, X, y: jnp.sum(jnp.logaddexp(0, X @ w) - y * (X @ w))  # noqa: E731
    elif name == "least squares":
        f = lambda w, X, y: jnp.sum((X @ w - y) ** 2)  # noqa: E731
    elif name == "xᵀAx":
        f = lambda x, A: (x.T @ A @ x)[0, 0]  # noqa: E731
    else:
        f = lambda U, X, V: jnp.sum((X - U @ V.T) ** 2)  # noqa: E731
    return jax.jit(jax.grad(f) if order == 1 else jax.hessian(f))


def jax_args(name, v):
    import jax.numpy as jnp
    return [jnp.asarray(v[k]) for k in ARGS[name]]


def torch_fn(name, v, order):
    import torch
    from torch.func import grad, hessian
    t = {k: torch.as_tensor(a) for k, a in v.items()}
    op = grad if order == 1 else hessian
    if name == "logistic regression":
        f = lambda w: torch.sum(torch.nn.functional.softplus(t["X"] @ w) - t["y"] * (t["X"] @ w))  # noqa
    elif name == "least squares":
        f = lambda w: torch.sum((t["X"] @ w - t["y"]) ** 2)  # noqa: E731
    elif name == "xᵀAx":
        f = lambda x: (x.T @ t["A"] @ x)[0, 0]  # noqa: E731
    else:
        f = lambda U: torch.sum((t["X"] - U @ t["V"].T) ** 2)  # noqa: E731
    arg = t[ARGS[name][0]]
    return lambda: op(f)(arg)


def timeit(fn, repeat=7):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(fns: dict, rounds: int) -> dict:
    """Per call time of each function: blocks of calls (each about 20 ms, so allocation reaches
    its steady state), the contenders taking turns round after round (a slow moment on this
    shared machine hits every contender, not one), best block kept."""
    number = {}
    for k, f in fns.items():
        t = time.perf_counter()
        f()
        number[k] = max(1, int(0.02 / max(time.perf_counter() - t, 1e-6)))
    best = {k: float("inf") for k in fns}
    order = list(fns)
    for r in range(rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:   # who follows whom rotates
            f = fns[k]
            t = time.perf_counter()
            for _ in range(number[k]):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / number[k])
    return best


def generated(name, order, backend="numpy"):
    """matcalc's generated function (the derivative only, as autodiff computes it) and its
    parameter names."""
    import inspect
    import re
    expr, wrt, shapes = PROBLEMS[name]
    r = matcalc.derive(expr, wrt=wrt, shapes=shapes, order=order)
    namespace: dict = {}
    src = r.code(backend, value=False)
    exec(compile(src, "<matcalc>", "exec"), namespace)   # matcalc's own generated code
    fn = namespace[re.search(r"def (\w+)\(", src).group(1)]
    return fn, list(inspect.signature(fn).parameters), str(r)


def evaluation_section(lines):
    try:
        import jax
        jax_version = jax.__version__
    except ImportError:
        jax_version = None
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    lines += ["Every contender runs on one thread (XLA_FLAGS and the BLAS thread counts are "
              "set to 1 before the libraries load); the hand-written NumPy is in the cheap "
              "order (2·(Xᵀr), Ax + Aᵀx, U(VᵀV) − XV).", ""]
    lines += [f"JAX {jax_version or 'not installed'} (x64, CPU), PyTorch "
              f"{torch_version or 'not installed'} (CPU). Times are per call, the best of 15 "
              "rounds of ~20 ms blocks taken in turn, the order rotating each round (torch: "
              "median of 3 calls); ratios are from the same run. \"vs JAX\" = jax.jit(autodiff) "
              "time / "
              "matcalc NumPy time; \"vs hand\" = matcalc NumPy time / hand-written NumPy time "
              "(target ≤ 1.2).", ""]
    rng = np.random.default_rng(0)
    for order, what, auto in ((1, "gradients", "grad"), (2, "Hessians", "hessian")):
        lines += [f"## Generated {what} vs autodiff", "",
                  f"| problem | result | n | matcalc NumPy (ms) | matcalc JAX, jitted (ms) | "
                  f"hand-written NumPy (ms) | jax.jit({auto}) (ms) | torch.func.{auto} (ms) | "
                  "vs JAX | vs hand |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in PROBLEMS:
            fn, params, printed = generated(name, order)
            for n in (100, 1000):
                v = values(name, n, rng)
                args = [v[p] for p in params]
                fns = {"ours": lambda: fn(*args), "hand": lambda: hand_written(name, v, order)}
                assert np.allclose(np.squeeze(fn(*args)), np.squeeze(hand_written(name, v, order)))
                if jax_version:
                    jf, ja = jax_fn(name, order), jax_args(name, v)
                    gj, gparams, _ = generated(name, order, "jax")
                    gjit = jax.jit(gj)
                    gargs = [jax.numpy.asarray(v[p]) for p in gparams]
                    fns["jax"] = lambda: jf(*ja).block_until_ready()
                    fns["ours_jax"] = lambda: gjit(*gargs).block_until_ready()
                rounds = 15
                t = interleaved(fns, rounds)
                tt = None
                if torch_version:
                    tt = timeit(torch_fn(name, v, order), repeat=3)
                jt, gt = t.get("jax"), t.get("ours_jax")
                fmt = lambda x: "—" if x is None else f"{x * 1e3:.2f}"  # noqa: E731
                vs_jax = "—" if jt is None else f"{jt / t['ours']:.1f}×"
                lines.append(f"| {name} | `{printed}` | {n} | {fmt(t['ours'])} | {fmt(gt)} | "
                             f"{fmt(t['hand'])} | {fmt(jt)} | {fmt(tt)} | {vs_jax} | "
                             f"{t['ours'] / t['hand']:.2f} |")
        lines.append("")


DEPTHS = (1, 2, 4, 8, 16, 32, 64)
TENSORGRAD_PY = ROOT / "bench" / ".tgenv" / "bin" / "python"


def depth_section(lines, out_png):
    lines += ["## Derivation time and result size by depth", "",
              "tanh(W_L … tanh(W_1 x)) loss `sum((… - y) .^ 2)`, all W_i n×n, gradient wrt W_1; "
              "each tool stops at the first depth it cannot finish within 60 s.", "",
              "| L | matcalc derive (ms, best of 3) | matcalc result (characters) | tensorgrad 0.3.0 "
              "grad + full_simplify (ms) | tensorgrad result (characters of its repr) |",
              "|---:|---:|---:|---:|---:|"]
    Ls, ts = [], []
    tg = tensorgrad_depth()
    for L in DEPTHS:
        e = "x"
        for i in range(1, L + 1):
            e = f"tanh(W{i} {e})"
        shapes = ", ".join(f"W{i}: n×n" for i in range(1, L + 1)) + ", x: n, y: n"
        dt = float("inf")
        for _ in range(3):                       # best of three: the machine is shared
            t = time.perf_counter()
            r = matcalc.derive(f"sum(({e} - y) .^ 2)", wrt="W1", shapes=shapes)
            dt = min(dt, time.perf_counter() - t)
        Ls.append(L)
        ts.append(dt)
        row = tg.get(L)
        if row is None:
            other = "— | —"
        elif "timeout" in row:
            other = "over 60 s | —"
        elif "error" in row:
            other = f"{row['error']} | —"
        else:
            other = f"{row['seconds'] * 1e3:.1f} | {row['size']}"
        lines.append(f"| {L} | {dt * 1e3:.1f} | {len(r.text)} | {other} |")
    if not tg:
        lines += ["", "tensorgrad was not run: its environment bench/.tgenv is missing "
                  "(bench/run_all.sh creates it)."]
    lines += ["", "SymPy 1.14 on the same losses (matcalc.printing.sympy translation, then "
              "`diff` wrt W_1, 60 s limit):", ""]
    lines += sympy_depth()
    lines.append("")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.figure(figsize=(4.5, 3.2))
        plt.loglog(Ls, [t * 1e3 for t in ts], "o-", label="matcalc")
        done = [(L, row["seconds"]) for L, row in sorted(tg.items()) if "seconds" in row]
        if done:
            plt.loglog([L for L, _ in done], [s * 1e3 for _, s in done], "s--",
                       label="tensorgrad 0.3.0")
        plt.axhline(60e3, color="grey", lw=0.5)
        plt.xlabel("depth L")
        plt.ylabel("derivation time (ms)")
        plt.legend()
        plt.tight_layout()
        plt.savefig(out_png)
        lines += [f"Plot: `{out_png.name}` (log-log; the grey line is the 60 s limit; SymPy "
                  "gives no point, see above).", ""]
    except ImportError:
        pass


def tensorgrad_depth() -> dict:
    """{L: {"seconds", "size"} | {"timeout"} | {"error"}} from the tensorgrad environment."""
    import json
    if not TENSORGRAD_PY.exists():
        return {}
    out = {}
    for L in DEPTHS:
        try:
            proc = subprocess.run([str(TENSORGRAD_PY), str(ROOT / "bench" / "tensorgrad_depth.py"),
                                   str(L), "60"], capture_output=True, text=True, timeout=180)
            row = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 \
                else {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:60]}
        except subprocess.TimeoutExpired:
            row = {"timeout": 60}
        out[L] = row
        if "seconds" not in row:
            break
    return out


def sympy_depth():
    import signal
    import sympy
    from matcalc.printing.sympy import to_sympy

    class Timeout(Exception):
        pass

    def alarm(*_):
        raise Timeout()

    signal.signal(signal.SIGALRM, alarm)
    out = []
    for L in (1, 2, 4):
        e = "x"
        for i in range(1, L + 1):
            e = f"tanh(W{i} {e})"
        shapes = ", ".join(f"W{i}: n×n" for i in range(1, L + 1)) + ", x: n, y: n"
        f = to_sympy(matcalc.parse(f"sum(({e} - y) .^ 2)", shapes))
        W1 = sympy.MatrixSymbol("W1", sympy.Symbol("n", integer=True, positive=True),
                                sympy.Symbol("n", integer=True, positive=True))
        t = time.perf_counter()
        signal.alarm(60)
        try:
            f.diff(W1)
            out.append(f"- L = {L}: {time.perf_counter() - t:.2f} s")
        except Timeout:
            out.append(f"- L = {L}: no answer within 60 s")
            break
        except Exception as err:        # SymPy raises on element-wise functions of products
            out.append(f"- L = {L}: SymPy raises {type(err).__name__}: {str(err)[:80]}")
            break
        finally:
            signal.alarm(0)
    return out


def cold_start_section(lines):
    exe = [sys.executable, "-m", "matcalc", "(Xθ−y)^T(Xθ−y)", "--wrt", "θ"]
    def wall(cmd):
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)
    ours = wall(exe)
    base = wall([sys.executable, "-c", "pass"])
    sym = wall([sys.executable, "-c", "import sympy"])
    lines += ["## CLI cold start", "",
              f"- `matcalc \"(Xθ−y)^T(Xθ−y)\" --wrt θ`: {ours:.2f} s wall (median of 5; target < 0.5 s)",
              f"- `python -c pass`: {base:.2f} s; `python -c \"import sympy\"`: {sym:.2f} s", ""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    lines = ["# Evaluation benchmark", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, NumPy {np.__version__}; command: "
             "`python bench/bench_eval.py --out bench/RESULTS_eval.md`; one run.", ""]
    evaluation_section(lines)
    depth_section(lines, ROOT / "bench" / "depth.png")
    cold_start_section(lines)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
