"""matcalc's callables (r.to_function) against autodiff and hand-written NumPy, in one run.

    python bench/bench_callables.py [--sizes 100 1000 3000] [--rounds 10] [--block 0.02]
                                    [--clock cpu|wall] [--numpy-only] [--out FILE]

Gradients (value and gradient together) of least squares, logistic regression and xᵀAx, and
their Hessians, with X n×n, θ, w, x, y of length n (1-D arrays). Steady state: every contender
of a row is timed in turn, one short block each, and the round is repeated (interleaved, so a
busy spell on a shared machine hits all of them alike); the figure is the best block's mean time
per call. Every library runs on one thread (BLAS, XLA, PyTorch: set before they load; a setting
already in the environment wins), and the clock is this process's CPU time, which other work
on a shared machine does not inflate (--clock wall for wall-clock time). First call (wall
clock): for matcalc, derive + build the function + its first call; for jax.jit,
building the jitted function + its first call (trace and XLA compile); for torch.func, the first
call. JAX runs in float64 (the benchmark switches jax_enable_x64 on for itself; matcalc's code
does not touch it).
Hand-written NumPy is written as an expert would: Xθ once, Xᵀ(…) as a matrix–vector product.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

# one thread each, so that CPU time is the time the work takes (before the libraries load)
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import matcalc  # noqa: E402

PROBLEMS = {
    "least squares": ("(X θ - y)^T (X θ - y)", "θ", "X: n×n, θ: n, y: n"),
    "logistic regression": ("sum(softplus(X θ)) - y^T X θ", "θ", "X: n×n, θ: n, y: n"),
    "xᵀAx": ("θ^T X θ", "θ", "X: n×n, θ: n"),
}


def hand_gradient(name):
    if name == "least squares":
        def f(X, t, y):
            r = X @ t - y
            return r @ r, (X.T @ r) * 2.0
    elif name == "logistic regression":
        def f(X, t, y):
            z = X @ t
            return (np.sum(np.logaddexp(0.0, z)) - y @ z,
                    X.T @ (0.5 * (1.0 + np.tanh(0.5 * z)) - y))
    else:
        def f(X, t):
            Xt = X @ t
            return t @ Xt, Xt + X.T @ t
    return f


def hand_hessian(name):
    if name == "least squares":
        return lambda X, t, y: (X.T @ X) * 2.0
    if name == "logistic regression":
        def f(X, t, y):
            s = 0.5 * (1.0 + np.tanh(0.5 * (X @ t)))
            return (X.T * (s * (1.0 - s))) @ X
        return f
    return lambda X, t: X + X.T


def loss(name, lib):
    """The function for autodiff, written in `lib` (jax.numpy or torch)."""
    if name == "least squares":
        def f(t, X, y):
            r = X @ t - y
            return r @ r
    elif name == "logistic regression":
        if lib.__name__ == "torch":
            def f(t, X, y):
                z = X @ t
                return lib.nn.functional.softplus(z).sum() - y @ z
        else:
            import jax
            def f(t, X, y):
                z = X @ t
                return jax.nn.softplus(z).sum() - y @ z
    else:
        def f(t, X):
            return t @ (X @ t)
    return f


CLOCK = time.perf_counter


def block_time(fn, args, sync=None, block=0.2):
    """Mean seconds per call over one block of about `block` seconds."""
    k, t0 = 0, CLOCK()
    while True:
        out = fn(*args)
        if sync:
            sync(out)
        k += 1
        t = CLOCK() - t0
        if t > block:
            return t / k


def interleaved(contenders, rounds=5, block=0.2):
    """{name: (fn, args, sync)} → {name: ms per call}: each round times every contender once,
    in turn; the best of the rounds."""
    for fn, args, sync in contenders.values():
        out = fn(*args)
        if sync:
            sync(out)
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, (fn, args, sync) in contenders.items():
            best[name] = min(best[name], block_time(fn, args, sync, block))
    return {k: v * 1e3 for k, v in best.items()}


def first(build):
    t0 = time.perf_counter()
    build()
    return (time.perf_counter() - t0) * 1e3


def block_jax(out):
    import jax
    jax.block_until_ready(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 3000])
    ap.add_argument("--hessian-sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=float, default=0.02)
    ap.add_argument("--numpy-only", action="store_true",
                    help="matcalc's NumPy callable and hand-written NumPy only")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="cpu",
                    help="cpu: this process's CPU time, which a busy machine does not inflate "
                         "(the time the work takes when every library runs on one thread)")
    ap.add_argument("--out")
    a = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if a.clock == "cpu" else time.perf_counter
    full = not a.numpy_only
    if full:
        import jax
        import jax.numpy as jnp
        import torch
        import torch.func
        jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    rows, hrows = [], []
    for n in a.sizes:
        X = rng.normal(size=(n, n)) / np.sqrt(n)
        t = rng.normal(size=n)
        y = (rng.random(n) < 0.5).astype(float)
        for name, (expr, wrt, shapes) in PROBLEMS.items():
            args = (X, t, y) if name != "xᵀAx" else (X, t)
            order = ["X", "θ", "y"][:len(args)]
            fn = {}

            def build_np():
                fn["np"] = matcalc.derive(expr, wrt, shapes).to_function("numpy", args=order)
                fn["np"](*args)
            r = dict(problem=name, n=n, np_first=first(build_np))
            hand = hand_gradient(name)
            contenders = {"np": (fn["np"], args, None), "hand": (hand, args, None)}
            if full:
                jargs = tuple(jnp.asarray(v) for v in args)
                targs = tuple(torch.from_numpy(v) for v in args)

                def build_mj():
                    made = matcalc.derive(expr, wrt, shapes).to_function("jax", args=order)
                    fn["mj"] = jax.jit(made)
                    block_jax(fn["mj"](*jargs))
                r["mj_first"] = first(build_mj)
                fn["mt"] = matcalc.derive(expr, wrt, shapes).to_function("torch", args=order)
                fj = loss(name, jnp)

                def build_jj():
                    fn["jj"] = jax.jit(jax.value_and_grad(fj))
                    block_jax(fn["jj"](jargs[1], jargs[0], *jargs[2:]))
                r["jj_first"] = first(build_jj)
                ft = torch.func.grad_and_value(loss(name, torch))
                r["tf_first"] = first(lambda: ft(targs[1], targs[0], *targs[2:]))
                contenders.update(
                    mj=(fn["mj"], jargs, block_jax), mt=(fn["mt"], targs, None),
                    jj=(fn["jj"], (jargs[1], jargs[0]) + jargs[2:], block_jax),
                    tf=(ft, (targs[1], targs[0]) + targs[2:], None))
            r.update(interleaved(contenders, a.rounds, a.block))
            rows.append(r)
            print(r, flush=True)
            if n not in a.hessian_sizes:
                continue

            def build_hnp():
                fn["h"] = matcalc.derive(expr, wrt, shapes, order=2).to_function(
                    "numpy", value=False, args=order)
                fn["h"](*args)
            hr = dict(problem=name, n=n, np_first=first(build_hnp))
            contenders = {"np": (fn["h"], args, None), "hand": (hand_hessian(name), args, None)}
            if full:
                def build_hj():
                    fn["hj"] = jax.jit(jax.hessian(fj))
                    block_jax(fn["hj"](jargs[1], jargs[0], *jargs[2:]))
                hr["jj_first"] = first(build_hj)
                fth = torch.func.hessian(loss(name, torch))
                hr["tf_first"] = first(lambda: fth(targs[1], targs[0], *targs[2:]))
                contenders["jj"] = (fn["hj"], (jargs[1], jargs[0]) + jargs[2:], block_jax)
            hr.update(interleaved(contenders, a.rounds, a.block))
            if full:       # torch.func.hessian is slow: fewer, shorter blocks
                hr.update(interleaved({"tf": (fth, (targs[1], targs[0]) + targs[2:], None)},
                                      2, 0.05))
            hrows.append(hr)
            print(hr, flush=True)
    text = numpy_table(rows, hrows, a) if not full else full_table(rows, hrows, a)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(text)


def numpy_table(rows, hrows, a):
    lines = ["# Callables: matcalc's NumPy callable against hand-written NumPy", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, NumPy {np.__version__}; command: `python "
             f"bench/bench_callables.py --numpy-only --rounds {a.rounds} --block {a.block} "
             f"--clock {a.clock}` (BLAS threads: "
             f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}); steady state (ms): best of "
             "the interleaved rounds.", "",
             "| problem | n | matcalc NumPy | hand NumPy | vs hand |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['problem']} | {r['n']} | {r['np']:.4f} | {r['hand']:.4f} | "
              f"{r['np'] / r['hand']:.2f} |" for r in rows]
    lines += ["", "| Hessian of | n | matcalc NumPy | hand NumPy | vs hand |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['problem']} | {r['n']} | {r['np']:.4f} | {r['hand']:.4f} | "
              f"{r['np'] / r['hand']:.2f} |" for r in hrows]
    return "\n".join(lines) + "\n"


def full_table(rows, hrows, a):
    import jax
    import torch
    lines = ["# Callables: r.to_function() against autodiff and hand-written NumPy", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other work "
             f"while measured), Python {platform.python_version()}, NumPy {np.__version__} "
             f"(BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS')}), JAX {jax.__version__} "
             f"(float64, CPU, XLA_FLAGS={os.environ.get('XLA_FLAGS')}), PyTorch "
             f"{torch.__version__} ({torch.get_num_threads()} threads); command: `python "
             f"bench/bench_callables.py --rounds {a.rounds} --block {a.block} --clock "
             f"{a.clock}`; one run. X is n×n, vectors are 1-D. Steady state: the contenders of "
             f"a row timed in turn, {a.rounds} interleaved rounds of ~{a.block * 1e3:.0f} ms "
             f"blocks, the best block's mean per call (ms, "
             f"{'process CPU time' if a.clock == 'cpu' else 'wall clock'}). First call: "
             "build + compile + one call (ms, wall clock); for matcalc that includes derive(). "
             "\"vs hand\" = matcalc NumPy / hand-written "
             "NumPy (cheap order: Xᵀ(Xθ − y) as X.T @ (X @ θ − y), Xθ computed once).",
             "", "## Value and gradient", "",
             "| problem | n | matcalc NumPy | matcalc JAX (jit) | matcalc torch | hand NumPy | "
             "jax.jit(value_and_grad) | torch.func.grad_and_value | vs hand | first call: "
             "matcalc NumPy | matcalc JAX (jit) | jax.jit(value_and_grad) | torch.func |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['problem']} | {r['n']} | {r['np']:.3f} | {r['mj']:.3f} | "
                     f"{r['mt']:.3f} | {r['hand']:.3f} | {r['jj']:.3f} | {r['tf']:.3f} | "
                     f"{r['np'] / r['hand']:.2f} | {r['np_first']:.1f} | {r['mj_first']:.1f} | "
                     f"{r['jj_first']:.1f} | {r['tf_first']:.1f} |")
    lines += ["", "## Hessian", "",
              "| problem | n | matcalc NumPy | hand NumPy | jax.jit(hessian) | "
              "torch.func.hessian | vs hand | first call: matcalc NumPy | jax.jit(hessian) | "
              "torch.func |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in hrows:
        lines.append(f"| {r['problem']} | {r['n']} | {r['np']:.3f} | {r['hand']:.3f} | "
                     f"{r['jj']:.3f} | {r['tf']:.3f} | {r['np'] / r['hand']:.2f} | "
                     f"{r['np_first']:.1f} | {r['jj_first']:.1f} | {r['tf_first']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
