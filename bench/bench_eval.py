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


def hand_written(name, v):
    if name == "logistic regression":
        s = 1 / (1 + np.exp(-(v["X"] @ v["w"])))
        return v["X"].T @ ((s * (1 - s)) * v["X"])
    if name == "least squares":
        return 2 * v["X"].T @ v["X"]
    if name == "xᵀAx":
        return v["A"] + v["A"].T
    V = v["V"]
    return 2 * np.kron(V.T @ V, np.eye(v["U"].shape[0]))


def jax_fn(name):
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
    return jax.jit(jax.hessian(f))


def jax_args(name, v):
    import jax.numpy as jnp
    order = {"logistic regression": ("w", "X", "y"), "least squares": ("w", "X", "y"),
             "xᵀAx": ("x", "A"), "matrix factorisation": ("U", "X", "V")}[name]
    return [jnp.asarray(v[k]) for k in order]


def torch_hessian(name, v):
    import torch
    from torch.func import hessian
    t = {k: torch.as_tensor(a) for k, a in v.items()}
    if name == "logistic regression":
        f = lambda w: torch.sum(torch.nn.functional.softplus(t["X"] @ w) - t["y"] * (t["X"] @ w))  # noqa
        return lambda: hessian(f)(t["w"])
    if name == "least squares":
        return lambda: hessian(lambda w: torch.sum((t["X"] @ w - t["y"]) ** 2))(t["w"])
    if name == "xᵀAx":
        return lambda: hessian(lambda x: (x.T @ t["A"] @ x)[0, 0])(t["x"])
    return lambda: hessian(lambda U: torch.sum((t["X"] - U @ t["V"].T) ** 2))(t["U"])


def timeit(fn, repeat=7):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def generated(name):
    expr, wrt, shapes = PROBLEMS[name]
    r = matcalc.derive(expr, wrt=wrt, shapes=shapes, order=2)
    namespace: dict = {}
    src = r.code("numpy", value=False)     # the Hessian only, as autodiff computes it
    exec(compile(src, "<matcalc>", "exec"), namespace)   # matcalc's own generated code
    import re
    return namespace[re.search(r"def (\w+)\(", src).group(1)]


def call(fn, v):
    import inspect
    return fn(*[v[p] for p in inspect.signature(fn).parameters])


def evaluation_section(lines):
    lines += ["## Generated Hessians vs autodiff", "",
              "| problem | n | matcalc (ms) | hand-written (ms) | jax.jit(hessian) (ms) | "
              "torch.func.hessian (ms) | vs JAX | vs hand |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rng = np.random.default_rng(0)
    for name in PROBLEMS:
        fn = generated(name)
        for n in (100, 1000):
            v = values(name, n, rng)
            ours = timeit(lambda: call(fn, v))
            hand = timeit(lambda: hand_written(name, v))
            assert np.allclose(np.squeeze(call(fn, v)), np.squeeze(hand_written(name, v)))
            try:
                jf, ja = jax_fn(name), jax_args(name, v)
                jt = timeit(lambda: jf(*ja).block_until_ready())
            except ImportError:
                jt = None
            try:
                tt = timeit(torch_hessian(name, v), repeat=3)
            except ImportError:
                tt = None
            lines.append(f"| {name} | {n} | {ours * 1e3:.2f} | {hand * 1e3:.2f} | "
                         f"{'—' if jt is None else f'{jt * 1e3:.2f}'} | "
                         f"{'—' if tt is None else f'{tt * 1e3:.2f}'} | "
                         f"{'—' if jt is None else f'{jt / ours:.1f}×'} | {ours / hand:.2f} |")
    lines.append("")


def depth_section(lines, out_png):
    lines += ["## Derivation time and result size by depth", "",
              "tanh(W_L … tanh(W_1 x)) loss `sum((… - y) .^ 2)`, gradient wrt W_1:", "",
              "| L | derive (ms) | result size (characters of text) |", "|---:|---:|---:|"]
    Ls, ts = [], []
    for L in (1, 2, 4, 8, 16, 32, 64):
        e = "x"
        for i in range(1, L + 1):
            e = f"tanh(W{i} {e})"
        shapes = ", ".join(f"W{i}: n×n" for i in range(1, L + 1)) + ", x: n, y: n"
        matcalc.derive(f"sum(({e} - y) .^ 2)", wrt="W1", shapes=shapes)
        t = time.perf_counter()
        r = matcalc.derive(f"sum(({e} - y) .^ 2)", wrt="W1", shapes=shapes)
        dt = time.perf_counter() - t
        Ls.append(L)
        ts.append(dt)
        lines.append(f"| {L} | {dt * 1e3:.1f} | {len(r.text)} |")
    lines += ["", "SymPy 1.14 on the same losses (matcalc.to_sympy translation, then "
              "`diff` wrt W_1, 60 s limit):", ""]
    lines += sympy_depth()
    lines.append("")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.figure(figsize=(4, 3))
        plt.loglog(Ls, [t * 1e3 for t in ts], "o-", label="matcalc")
        plt.xlabel("depth L")
        plt.ylabel("derive time (ms)")
        plt.legend()
        plt.tight_layout()
        plt.savefig(out_png)
        lines += [f"Plot: `{out_png.name}` (matcalc only: SymPy stops at L = 1 above — possibly "
                  "in part because of matcalc's SymPy translation of element-wise functions — and "
                  "tensorgrad, which needs torch in a separate environment, was not run).", ""]
    except ImportError:
        pass


def sympy_depth():
    import signal
    import sympy
    from matcalc.to_sympy import to_sympy

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
