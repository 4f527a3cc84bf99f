"""NumPy evaluation of a tree, and the finite-difference check of a derivative.

Evaluation walks the tree with one NumPy rule per node type (never `eval` of text); every value
is a 2-D array, scalars are 1×1. The check draws a different size for every dimension name, so
a transposed answer cannot pass, and random values that respect symmetric / spd / diagonal
declarations; it then compares the derivative with central differences of the function.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import expr as E
from .expr import names_in  # noqa: F401  (part of this module's interface)
from .errors import CheckError, MatcalcError, show  # noqa: F401  (CheckError is public here too)
from .functions import FUNCTIONS




def _concrete(d, sizes) -> int:
    if isinstance(d, (int, np.integer)):
        return int(d)
    if d.is_Integer:
        return int(d)
    v = d.subs(sizes) if d.free_symbols else d
    if not v.is_Integer:
        raise MatcalcError(f"the size {d} is not known: pass it in sizes= or give a value "
                           "whose shape has it")
    return int(v)


def _shape(node, sizes):
    return tuple(_concrete(d, sizes) for d in node.shape)


def _logdet(a):
    sign, val = np.linalg.slogdet(a)
    return np.array([[val if sign > 0 else np.nan]])


def _softmax(x):
    z = np.exp(x - np.max(x))
    return z / np.sum(z)


def _lse(x):
    m = np.max(x)
    return np.array([[m + np.log(np.sum(np.exp(x - m)))]])


def _matmul(vals):
    scal = 1.0
    chain = None
    for v in vals:
        if v.shape == (1, 1):
            scal = scal * v[0, 0]
        else:
            chain = v if chain is None else chain @ v
    if chain is None:
        return np.array([[scal]])
    return scal * chain


def _float(v) -> float:
    try:
        return float(v)
    except OverflowError:                 # 1e999 is a number; as a float it is infinite
        return float("inf") if v > 0 else float("-inf")


def _inv(a):
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:        # singular at this point: the caller redraws
        return np.full_like(a, np.nan)


def _commutation(m, n):
    k = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            k[j + n * i, i + m * j] = 1.0        # vec(Aᵀ)[j + n·i] = A[i, j] = vec(A)[i + m·j]
    return k


def _power(v, e):
    if v.shape == (1, 1):
        return np.power(v, float(e))
    return np.linalg.matrix_power(v, int(e))


NUMPY_RULES: dict[type, Callable] = {
    E.Add: lambda n, v, s: sum(v[1:], v[0]),
    E.MatMul: lambda n, v, s: _matmul(v),
    E.Hadamard: lambda n, v, s: np.prod(np.broadcast_arrays(*v), axis=0),
    E.HadamardDiv: lambda n, v, s: v[0] / v[1],
    E.HadamardPower: lambda n, v, s: np.power(v[0], float(n.exponent)),
    E.Kron: lambda n, v, s: np.kron(v[0], v[1]),
    E.Transpose: lambda n, v, s: v[0].T,
    E.Inverse: lambda n, v, s: _inv(v[0]),
    E.Power: lambda n, v, s: _power(v[0], n.exponent),
    E.Apply: lambda n, v, s: FUNCTIONS[n.fn].numpy(v[0]),
    E.Sum: lambda n, v, s: np.array([[np.sum(v[0])]]),
    E.Mean: lambda n, v, s: np.array([[np.mean(v[0])]]),
    E.Trace: lambda n, v, s: np.array([[np.trace(v[0])]]),
    E.Det: lambda n, v, s: np.array([[np.linalg.det(v[0])]]),
    E.LogDet: lambda n, v, s: _logdet(v[0]),
    E.Norm: lambda n, v, s: np.array([[np.linalg.norm(v[0])]]),
    E.LogSumExp: lambda n, v, s: _lse(v[0]),
    E.Softmax: lambda n, v, s: _softmax(v[0]),
    E.DiagMat: lambda n, v, s: np.diag(v[0][:, 0]),
    E.DiagVec: lambda n, v, s: np.diag(v[0]).reshape(-1, 1).copy(),
    E.Vec: lambda n, v, s: v[0].reshape(-1, 1, order="F"),
    E.Commutation: lambda n, v, s: _commutation(_concrete(n.rows, s), _concrete(n.cols, s)),
    E.Num: lambda n, v, s: np.array([[_float(n.value)]]),
    E.Size: lambda n, v, s: np.array([[float(_concrete(n.dim, s))]]),
    E.Identity: lambda n, v, s: np.eye(_shape(n, s)[0]),
    E.Zero: lambda n, v, s: np.zeros(_shape(n, s)),
    E.Ones: lambda n, v, s: np.ones(_shape(n, s)),
}


def evaluate_tree(node, env: dict, sizes: dict) -> np.ndarray:
    """Value of node (2-D array) given 2-D arrays for the names and integer sizes."""
    memo: dict = {}

    def ev(n):
        hit = memo.get(n)
        if hit is not None:
            return hit
        if type(n) is E.Sym:
            out = env[n.name]
        else:
            out = NUMPY_RULES[type(n)](n, [ev(c) for c in n.children], sizes)
        memo[n] = out
        return out

    with np.errstate(all="ignore"):
        return ev(node)


def bind_values(syms: dict, values: dict, aliases: Callable) -> tuple[dict, dict]:
    """Turn user values into 2-D arrays and read the sizes off their shapes."""
    env, sizes = {}, {}
    for name, node in syms.items():
        key = aliases(name, values)
        if key is None:
            raise MatcalcError(f"no value given for `{name}`")
        arr = np.asarray(values[key], dtype=float)
        want = node.shape
        if arr.ndim == 0:
            arr = arr.reshape(1, 1)
        elif arr.ndim == 1:
            arr = arr.reshape(-1, 1) if want[1] == 1 else arr.reshape(1, -1)
        if arr.ndim != 2:
            raise MatcalcError(f"the value of `{name}` must be a scalar, vector or matrix")
        for d, k in zip(want, arr.shape):
            if d.free_symbols:
                if d.is_Symbol:
                    if sizes.setdefault(d, k) != k:
                        raise MatcalcError(f"size {d} is {sizes[d]} elsewhere but {k} in the "
                                           f"value of `{name}`")
            elif int(d) != k:
                raise MatcalcError(f"`{name}` should be {want[0]}×{want[1]}, got "
                                   f"{arr.shape[0]}×{arr.shape[1]}")
        env[name] = arr
    for name, node in syms.items():
        got = env[name].shape
        want = tuple(int(d.subs(sizes)) if d.free_symbols <= set(sizes) else None
                     for d in node.shape)
        if None not in want and want != got:
            raise MatcalcError(f"`{name}` should be {want[0]}×{want[1]}, got {got[0]}×{got[1]}")
    return env, sizes


# The finite-difference check ---------------------------------------------------------------------

@dataclass
class CheckReport:
    sizes: dict
    max_abs_error: float
    max_rel_error: float
    entries: int

    def __str__(self):
        sz = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items(), key=str))
        return (f"ok: {self.entries} entries match central differences (max abs error "
                f"{self.max_abs_error:.2e}, rel {self.max_rel_error:.2e}) at sizes {sz}")


def draw_sizes(dims, rng) -> dict:
    """A different size for every dimension name (2, 3, 4, … shuffled)."""
    free = sorted({d for d in dims if not d.is_Integer}, key=str)
    pool = list(range(2, 2 + len(free)))
    rng.shuffle(pool)
    return dict(zip(free, pool))


def draw_value(node, sizes, modifiers, rng, positive: bool):
    r, c = _shape(node, sizes)
    if "spd" in modifiers:
        a = rng.normal(size=(r, r))
        return a @ a.T / r + np.eye(r)
    if "diagonal" in modifiers:
        return np.diag(rng.uniform(0.5, 1.5, size=r))
    if positive:
        v = rng.uniform(0.5, 1.5, size=(r, c))
    else:
        v = rng.normal(size=(r, c))
    if r == c and r > 1 and not positive:
        v = 0.4 * v / math.sqrt(r) + np.eye(r)
    elif r == c and r > 1:
        v = 0.3 * v / r + np.eye(r)
    if "symmetric" in modifiers:
        v = (v + v.T) / 2
    return v


def finite_difference_check(f, d, wrt, kind, layout, modifiers, seed=None, rtol=1e-5,
                            atol=1e-7, direction: str | None = None) -> CheckReport:
    """Compare d (the derivative of f wrt the Sym wrt) with central differences of f; with a
    `direction` (the name of a variable shaped like wrt), d is the directional derivative."""
    rng = np.random.default_rng(seed)
    syms = {**names_in(f), **names_in(d)}
    syms.setdefault(wrt.name, wrt)
    dims = set()
    for n in list(syms.values()) + [f, d]:
        for x in n.shape:
            dims |= x.free_symbols
    for n in _all_nodes(f) + _all_nodes(d):
        for x in n.shape:
            dims |= x.free_symbols
        if type(n) is E.Size:
            dims |= n.dim.free_symbols
    kinks = [n for n in _all_nodes(f) if type(n) is E.Apply and n.fn in NON_SMOOTH]
    inverted = [n.arg for n in _all_nodes(f) + _all_nodes(d)
                if type(n) in (E.Inverse, E.LogDet, E.Det) and not n.arg.is_scalar]
    kink_seen = None
    for attempt in range(8):
        sizes = draw_sizes(dims, rng)        # redrawn: m < n can make XᵀX singular
        positive = attempt % 2 == 1
        env = {name: draw_value(n, sizes, modifiers(name), rng, positive)
               for name, n in syms.items()}
        f0 = evaluate_tree(f, env, sizes)
        d0 = evaluate_tree(d, env, sizes)
        if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(d0))):
            continue
        if _ill_conditioned(inverted, env, sizes):
            continue                         # XᵀX with m < n: singular, differences meaningless
        kink_seen = _near_kink(kinks, env, sizes)
        if kink_seen is None:
            break
    else:
        if kink_seen is not None:
            raise CheckError(f"not differentiable where it was checked: the argument of "
                             f"{show(kink_seen)} is 0 (or within the finite-difference "
                             "step) at every point drawn, so the derivative there is a "
                             "convention, not a limit")
        raise CheckError("could not find a point where the function and its derivative are "
                         "finite, so the derivative was not checked")
    x0 = env[wrt.name]
    if direction is not None:
        u = env[direction]
        h = 1e-6 * max(1.0, float(np.max(np.abs(x0))))
        fp = evaluate_tree(f, {**env, wrt.name: x0 + h * u}, sizes)
        fm = evaluate_tree(f, {**env, wrt.name: x0 - h * u}, sizes)
        return _compare(np.asarray(d0), (fp - fm) / (2 * h), sizes, rtol, atol)
    numeric = np.zeros((f0.size, x0.size))
    for k in range(x0.size):
        idx = np.unravel_index(k, x0.shape)
        h = 1e-6 * max(1.0, abs(x0[idx]))
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += h
        xm[idx] -= h
        fp = evaluate_tree(f, {**env, wrt.name: xp}, sizes)
        fm = evaluate_tree(f, {**env, wrt.name: xm}, sizes)
        numeric[:, k] = ((fp - fm) / (2 * h)).ravel()
    if kind == "tensor":                 # entry by entry: ∂F_ij/∂X_kl against the vec form
        full = numeric.reshape(f0.shape + x0.shape)
        keep = tensor_axes(f.shape) + [2 + i for i in tensor_axes(wrt.shape)]
        expected = full.reshape([full.shape[a] for a in keep])
        got = vec_to_tensor(d0, f0.shape, x0.shape, f.shape, wrt.shape)
        return _compare(got, expected, sizes, rtol, atol)
    expected = arrange(numeric, f0.shape, x0.shape, kind, layout)
    return _compare(np.asarray(d0), expected, sizes, rtol, atol)


def _compare(got, expected, sizes, rtol, atol) -> CheckReport:
    if got.shape != expected.shape:
        raise CheckError(f"the derivative has shape {got.shape} but should have {expected.shape}")
    err = np.abs(got - expected)
    scale = max(1.0, float(np.max(np.abs(expected))))
    bad = err > atol * scale + rtol * np.maximum(np.abs(expected), scale)
    report = CheckReport({str(k): v for k, v in sizes.items()}, float(err.max(initial=0)),
                         float(err.max(initial=0)) / scale, int(got.size))
    if np.any(bad):
        where = np.argwhere(bad)[0]
        raise CheckError(f"derivative disagrees with finite differences at index "
                         f"{tuple(int(i) for i in where)}: symbolic {got[tuple(where)]:.8g}, "
                         f"numeric {expected[tuple(where)]:.8g} (sizes {report.sizes})")
    return report


def tensor_axes(shape) -> list[int]:
    """The axes of a symbolic shape that index something: a column vector keeps its rows, a
    row its columns, a matrix both (so vectors give 3-index and matrices 4-index tensors)."""
    return [i for i, d in enumerate(shape) if not (d == 1)]


def vec_to_tensor(J, f_shape, x_shape, f_sym, x_sym):
    """T[i, j, k, l] = ∂F_ij/∂X_kl from J = d vec(F)/d vec(X)ᵀ (column-major vec)."""
    full = np.asarray(J).reshape(tuple(f_shape) + tuple(x_shape), order="F")
    keep = tensor_axes(f_sym) + [2 + i for i in tensor_axes(x_sym)]
    return full.reshape([full.shape[a] for a in keep])


NON_SMOOTH = ("relu", "abs", "sign", "step")


def _ill_conditioned(matrices, env, sizes, limit=1e8) -> bool:
    for node in matrices:
        a = evaluate_tree(node, env, sizes)
        if not np.all(np.isfinite(a)) or np.linalg.cond(a) > limit:
            return True
    return False


def _near_kink(kinks, env, sizes, margin=1e-4):
    """The first non-smooth application whose argument is within `margin` of its kink."""
    for node in kinks:
        arg = evaluate_tree(node.arg, env, sizes)
        if np.any(np.abs(arg) < margin):
            return node
    return None


def arrange(numeric, f_shape, x_shape, kind, layout):
    """Lay the raw table ∂f_i/∂x_k out as the derivative of the given kind and layout."""
    if kind == "gradient" or (kind == "derivative" and numeric.shape == (1, 1)):
        return numeric.reshape(x_shape) if kind == "gradient" else numeric.reshape(1, 1)
    if kind == "derivative":          # wrt a scalar: the shape of f
        out = numeric.reshape(f_shape)
        return out.T if layout == "denominator" and f_shape[1] == 1 else out
    if kind in ("jacobian", "hessian"):
        return numeric.T if layout == "denominator" else numeric
    raise ValueError(kind)


def _all_nodes(node):
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out
