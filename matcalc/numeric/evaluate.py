"""NumPy evaluation of a tree, and the finite-difference check of a derivative.

Evaluation walks the tree with one NumPy rule per node type (never `eval` of text); every value
is a 2-D array, scalars are 1×1. The check draws a different size for every dimension name, so
a transposed answer cannot pass, and random values inside symmetric / spd / diagonal
declarations; it then compares the derivative with central differences of the ORIGINAL
function, every entry of every variable perturbed on its own. A second (or higher) derivative
is compared with nested differences of the original function, never with differences of
matcalc's own lower-order derivative, which would share its mistakes.

Limits: no array in a numeric evaluation or check may have more than MAX_NUMERIC_ENTRIES
(10^6) entries, and a check evaluates the function at most MAX_CHECK_EVALUATIONS times; beyond
them a MatcalcError names the limit before anything is allocated. At a point where the
formula needs the inverse of a singular matrix, r.evaluate raises DomainError.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..core import expr as E
from ..core.expr import names_in  # noqa: F401  (part of this module's interface)
from ..core.errors import CheckError, MatcalcError, show  # noqa: F401  (CheckError is public here too)
from ..core.functions import FUNCTIONS
from .matfuncs import value as matfn_value



def _concrete(d, sizes) -> int:
    if isinstance(d, (int, np.integer)):
        return int(d)
    if d.is_Integer:
        return int(d)
    if any(isinstance(f, str) and f.startswith("min(") for f in d.flat_factors()):
        out = 1                                          # svdvals(A): min(m,n) entries
        for f in d.flat_factors():
            if isinstance(f, str) and f.startswith("min("):
                a, b = f[4:-1].split(",")
                out *= min(_concrete(_size_named(a), sizes), _concrete(_size_named(b), sizes))
            else:
                out *= _concrete(_size_named(str(f)), sizes)
        return out
    v = d.subs(sizes) if d.free_symbols else d
    if not v.is_Integer:
        raise MatcalcError(f"the size {d} is not known: pass it in sizes= or give a value "
                           "whose shape has it")
    return int(v)


def concrete_size(d, sizes) -> int:
    """The number a size stands for at these sizes (min(m,n) included); MatcalcError if
    one of its names has no value."""
    return _concrete(d, sizes)


def _size_named(text):
    from ..core.shapes import dim
    return dim(text.strip())


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
    try:
        return np.linalg.matrix_power(v, int(e))
    except np.linalg.LinAlgError:        # a negative power of a singular matrix: redrawn
        return np.full_like(v, np.nan)


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
    E.Tril: lambda n, v, s: np.tril(v[0]),
    E.Triu: lambda n, v, s: np.triu(v[0]),
    E.MatFn: lambda n, v, s: matfn_value(n, v),
    E.Commutation: lambda n, v, s: _commutation(_concrete(n.rows, s), _concrete(n.cols, s)),
    E.Num: lambda n, v, s: np.array([[_float(n.value)]]),
    E.Size: lambda n, v, s: np.array([[float(_concrete(n.dim, s))]]),
    E.Identity: lambda n, v, s: np.eye(_shape(n, s)[0]),
    E.Zero: lambda n, v, s: np.zeros(_shape(n, s)),
    E.Ones: lambda n, v, s: np.ones(_shape(n, s)),
}


def evaluate_tree(node, env: dict, sizes: dict, strict: bool = False) -> np.ndarray:
    """Value of node (2-D array) given 2-D arrays for the names and integer sizes.

    By default a singular matrix gives NaN (the finite-difference check then draws another
    point); with strict=True (r.evaluate) it raises DomainError naming what is singular."""
    memo: dict = {}

    def ev(n):
        hit = memo.get(n)
        if hit is not None:
            return hit
        if type(n) is E.Sym:
            out = env[n.name]
        else:
            vals = [ev(c) for c in n.children]
            if strict and type(n) in _NEEDS_REGULAR:
                _require_regular(n, vals[0])
            if strict and type(n) is E.MatFn:
                out = matfn_value(n, vals, strict=True)
            else:
                out = NUMPY_RULES[type(n)](n, vals, sizes)
        memo[n] = out
        return out

    with np.errstate(all="ignore"):
        return ev(node)


# Nodes whose value needs an invertible (or positive-determinant) matrix argument.
_NEEDS_REGULAR = (E.Inverse, E.Power, E.LogDet)
_SINGULAR_COND = 1e15


def _require_regular(n, a) -> None:
    if a.shape == (1, 1) or a.shape[0] != a.shape[1]:
        if type(n) is E.Inverse and a.shape == (1, 1) and a[0, 0] == 0:
            _singular(n, "it is 0")
        return
    if type(n) is E.Power and n.exponent >= 0:
        return
    if not np.all(np.isfinite(a)):
        return                                   # NaN in, NaN out: nothing singular to name
    if type(n) is E.LogDet:
        sign, _ = np.linalg.slogdet(a)
        if sign <= 0:
            _singular(n, "its determinant is not positive" if sign < 0 else "it is singular")
        return
    try:
        cond = np.linalg.cond(a)
    except np.linalg.LinAlgError:
        cond = np.inf
    if not np.isfinite(cond) or cond > _SINGULAR_COND:
        _singular(n, "it is singular")


def _singular(n, why: str):
    from ..core.errors import DomainError
    arg = show(n.children[0])
    what = {E.Inverse: f"{_short(show(n))} needs the inverse of {_short(arg)}",
            E.Power: f"{_short(show(n))} (a negative power) needs the inverse of "
                     f"{_short(arg)}",
            E.LogDet: f"{_short(show(n))} needs a positive determinant of "
                      f"{_short(arg)}"}[type(n)]
    raise DomainError(f"undefined at these values: {what}, and {why} there")


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


# Limits on numeric work --------------------------------------------------------------------------

MAX_NUMERIC_ENTRIES = 1_000_000
"""The most entries one array may have in a numeric evaluation or check (r.evaluate, r.check,
--check): a declared size like `A: 100000×100000` is refused with a MatcalcError naming this
limit before anything is allocated."""

MAX_CHECK_EVALUATIONS = 200_000
"""The most evaluations of the function one finite-difference check may take (a check perturbs
every entry of the variable, twice per entry for a first derivative, at two step sizes)."""


def _walk(roots):
    """Every distinct node of the trees (shared subtrees once)."""
    seen, stack = set(), list(roots)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        stack.extend(n.children)
    return seen


def limit_entries(roots, sizes, what: str = "this evaluation") -> None:
    """Refuse (MatcalcError) when any node of the trees would hold more than
    MAX_NUMERIC_ENTRIES entries at these sizes; called before anything is allocated."""
    seen: dict = {}
    for n in _walk(roots):
        shape = n.shape
        if shape in seen:
            continue
        try:
            r, c = _shape(n, sizes)
        except MatcalcError:
            continue                      # an unknown size is reported where it is needed
        seen[shape] = r * c
        if r * c > MAX_NUMERIC_ENTRIES:
            raise MatcalcError(
                f"{what} would need a {r:,}×{c:,} array ({r * c:,} entries) for "
                f"{_short(show(n))}; numeric work is limited to "
                f"{MAX_NUMERIC_ENTRIES:,} entries per array",
                hint=_size_hint([n], sizes, what))


def _size_hint(nodes, sizes, what: str) -> str:
    """What to do about a numeric refusal: smaller sizes where the user gave them (values at
    sizes of their own, or a size written as a number), else (every size a name the check
    draws at 2, 3, …) a smaller piece, since no smaller sizes exist."""
    if what != "the check":
        return "evaluate at smaller sizes"
    if any(d.is_Integer and int(d) > 1 for n in nodes for d in n.shape):
        return "declare the sizes as names (`A: n×n`) so a check can pick small ones"
    drawn = ", ".join(f"{k} = {v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))
    return (f"the sizes are already names, drawn small ({drawn}): a derivative this large "
            "cannot be checked numerically; check a part of the formula instead")


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


# The finite-difference check ---------------------------------------------------------------------

@dataclass
class CheckReport:
    sizes: dict
    max_abs_error: float
    max_rel_error: float
    entries: int
    # True when the only points found had the derivative and the differences both exactly 0
    # because every kink (relu, step, abs) sat on a flat side: a comparison of zeros
    only_zeros: bool = False

    def __str__(self):
        sz = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items(), key=str))
        if self.only_zeros:
            return (f"ok, but weak: the derivative and the differences are 0 in all "
                    f"{self.entries} entries at every point drawn (each relu/step/abs argument "
                    f"on a flat side), so only zeros were compared, at sizes {sz}")
        return (f"ok: {self.entries} entries match central differences (max abs error "
                f"{self.max_abs_error:.2e}, rel {self.max_rel_error:.2e}) at sizes {sz}")


def draw_sizes(dims, rng) -> dict:
    """A different size for every dimension name (2, 3, 4, … shuffled)."""
    free = sorted({d for d in dims if not d.is_Integer and not str(d).startswith("min(")},
                  key=str)
    pool = list(range(2, 2 + len(free)))
    rng.shuffle(pool)
    return dict(zip(free, pool))


def draw_value(node, sizes, modifiers, rng, positive: bool):
    """A random value for a variable, inside its declared structure (symmetric, spd, diagonal,
    lower, upper, skew, orthogonal);
    square matrices near the identity so that inverses and log-determinants exist."""
    r, c = _shape(node, sizes)
    if "diagonal" in modifiers:         # first: `spd diagonal` is diagonal (and positive)
        return np.diag(rng.uniform(0.5, 1.5, size=r))
    if "spd" in modifiers:
        a = rng.normal(size=(r, r))
        return a @ a.T / r + np.eye(r)
    if "orthogonal" in modifiers:       # orthonormal columns (Stiefel), signs fixed by R
        q, rr = np.linalg.qr(rng.normal(size=(max(r, c), min(r, c))))
        q = q * np.sign(np.diag(rr))
        return q if r >= c else q.T
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
    if "skew" in modifiers:
        v = (v - v.T) / 2
    if "lower" in modifiers or "upper" in modifiers:
        v = np.tril(v) if "lower" in modifiers else np.triu(v)
    return v


def first_kind(f_shape, x_shape) -> str:
    """The kind of the first derivative of a function of shape f_shape with respect to a
    variable of shape x_shape (docs/api.md, numerator layout): gradient, derivative (wrt a
    scalar), jacobian (vector wrt vector) or tensor (given in vec form)."""
    if is_scalar_shape(f_shape):
        return "derivative" if is_scalar_shape(x_shape) else "gradient"
    if is_scalar_shape(x_shape):
        return "derivative"
    f_vec = f_shape[0] == 1 or f_shape[1] == 1
    x_vec = x_shape[0] == 1 or x_shape[1] == 1
    return "jacobian" if f_vec and x_vec else "tensor"


def is_scalar_shape(shape) -> bool:
    return shape[0] == 1 and shape[1] == 1


def first_shape(f_shape, x_shape):
    """The symbolic shape of that first derivative (the vec form for a tensor)."""
    kind = first_kind(f_shape, x_shape)
    if kind == "gradient":
        return tuple(x_shape)
    if kind == "derivative":
        return tuple(f_shape)
    return (f_shape[0] * f_shape[1], x_shape[0] * x_shape[1])


# Central differences. A first derivative uses the two-point stencil with a tiny step; a
# derivative of order k ≥ 2 nests the fourth-order stencil k times on the ORIGINAL function
# (never on a symbolic lower-order derivative), with a step that balances truncation against
# rounding (error ≈ eps/h^k + h^4).
_STEP = {1: 1e-6, 2: 1e-3, 3: 4e-3}
_RTOL = {1: 1e-5, 2: 1e-5, 3: 1e-4}
_STENCIL2 = ((1.0, 0.5),)                               # (offset, weight) pairs, antisymmetric
_STENCIL4 = ((1.0, 8.0 / 12.0), (2.0, -1.0 / 12.0))


def _step(order: int) -> float:
    return _STEP.get(order, 1e-2)


def _tolerance(order: int) -> float:
    return _RTOL.get(order, 1e-3)


def _directional(fn, env, name, u, h, stencil):
    """Central difference of fn along u at env[name]: Σ w (f(x + a h u) − f(x − a h u)) / h."""
    x0 = env[name]
    out = None
    for a, w in stencil:
        fp = fn({**env, name: x0 + (a * h) * u})
        fm = fn({**env, name: x0 - (a * h) * u})
        term = (w / h) * (fp - fm)
        out = term if out is None else out + term
    return out


def difference_table(fn, env, name, order: int = 1, scale: float = 1.0):
    """T[i, k] = ∂ fn_i / ∂ x_k (entries of fn and of x = env[name] in row-major order) by
    central differences, each entry of x perturbed on its own."""
    x0 = env[name]
    stencil = _STENCIL2 if order == 1 else _STENCIL4
    cols = []
    for k in range(x0.size):
        e = np.zeros(x0.shape)
        e.flat[k] = 1.0
        h = scale * _step(order) * max(1.0, abs(float(x0.flat[k])))
        cols.append(np.asarray(_directional(fn, env, name, e, h, stencil)).ravel())
    f0 = fn(env)
    table = np.zeros((f0.size, x0.size))
    for k, col in enumerate(cols):
        table[:, k] = col
    return table


def _lay_out(table, f_value_shape, x_value_shape, kind):
    """The raw table ∂f_i/∂x_k as the numerator-layout derivative of the given kind."""
    if kind == "gradient":
        return table.reshape(x_value_shape)
    if kind == "derivative":
        return table.reshape(f_value_shape)
    if kind == "jacobian":
        return table
    # tensor, in vec form: J[i + m·j, k + p·l] = ∂F_ij/∂X_kl (column-major vec)
    full = table.reshape(tuple(f_value_shape) + tuple(x_value_shape))
    return full.transpose(1, 0, 3, 2).reshape(table.shape)


def numeric_derivative(fn, f_shape, x, order: int, scale: float = 1.0):
    """(g, shape of g): g(env) is the first derivative of fn wrt the Sym x by central
    differences, laid out as docs/api.md lays out the symbolic one."""
    kind = first_kind(f_shape, x.shape)
    if kind == "tensor":
        raise MatcalcError("a derivative with more than four indices cannot be checked")

    def g(env):
        f0 = fn(env)
        table = difference_table(fn, env, x.name, order, scale)
        return _lay_out(table, f0.shape, env[x.name].shape, kind)
    return g, first_shape(f_shape, x.shape)


# Points (and sizes) tried before a check gives up. About half of all size draws make XᵀX
# singular for X: m×n (m < n), so 8 tries failed about once in 256 checks of logdet(XᵀX);
# failing tries cost two evaluations each.
_ATTEMPTS = 24


def finite_difference_check(f, d, wrt, kind, layout, modifiers, seed=None, rtol=None,
                            atol=1e-7, direction: str | None = None,
                            hessian_product: bool = False) -> CheckReport:
    """Compare d, the derivative of f, with central differences of the ORIGINAL function f.

    wrt is the Sym (or the list of Syms, in order, for a derivative of order ≥ 2: ∂/∂wrt[-1]
    … ∂/∂wrt[0] f). Lower-order derivatives are taken numerically, never from matcalc's own
    symbolic ones. With `direction` (the name of a variable shaped like wrt[-1]) d is the
    directional derivative; with `hessian_product` too, d is the Hessian applied to it.
    Every entry of every variable is perturbed on its own (docs/api.md: entries independent),
    at a point drawn inside any declared structure."""
    variables = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    order = len(variables) + (1 if hessian_product else 0)
    rng = np.random.default_rng(seed)
    syms = {**names_in(f), **names_in(d)}
    for v in variables:
        syms.setdefault(v.name, v)
    nodes_f, nodes_d = _walk([f]), _walk([d])
    dims = set()
    for n in list(syms.values()) + list(nodes_f | nodes_d):
        for x in n.shape:
            dims |= x.free_symbols
        if type(n) is E.Size:
            dims |= n.dim.free_symbols
    kinks = [n for n in nodes_f if type(n) is E.Apply and n.fn in NON_SMOOTH]
    inverted = [n.arg for n in nodes_f | nodes_d
                if type(n) in (E.Inverse, E.LogDet, E.Det) and not n.arg.is_scalar]
    inverted += [n.arg for n in nodes_f | nodes_d
                 if type(n) is E.Power and not n.arg.is_scalar and n.exponent < 0]
    margin = 1e-4 if order == 1 else 20 * _step(order)
    rtol = _tolerance(order) if rtol is None else rtol
    kink_seen, inaccurate, zeros = None, None, None
    limited = False
    for attempt in range(_ATTEMPTS):
        sizes = draw_sizes(dims, rng)        # redrawn: m < n can make XᵀX singular
        if not limited:
            limit_entries([f, d] + list(syms.values()), sizes, "the check")
            _limit_evaluations(variables, direction, hessian_product, sizes)
            limited = True
        positive = attempt % 2 == 1
        env = {name: draw_value(n, sizes, modifiers(name), rng, positive)
               for name, n in syms.items()}
        f0 = evaluate_tree(f, env, sizes)
        d0 = evaluate_tree(d, env, sizes)
        if not (np.all(np.isfinite(f0)) and np.all(np.isfinite(d0))):
            continue
        cond = _condition(inverted, env, sizes)
        if cond > (1e8 if order == 1 else 1e6):
            continue                         # XᵀX with m < n: singular, differences meaningless
        kink_seen = _near_kink(kinks, env, sizes, margin)
        if kink_seen is not None:
            continue
        # the differences at steps h and 2h: their gap estimates truncation and rounding error
        got, expected = _numeric(f, d0, sizes, env, variables, kind, layout, direction,
                                 hessian_product, order, 1.0)
        _, coarse = _numeric(f, d0, sizes, env, variables, kind, layout, direction,
                             hessian_product, order, 2.0)
        if got.shape != expected.shape:
            raise CheckError(f"the derivative has shape {got.shape} but should have "
                             f"{expected.shape}")
        scale = max(1.0, float(np.max(np.abs(expected), initial=0)))
        # an inverse with condition number κ is computed to about κ·eps, not eps
        rounding = (200 * np.finfo(float).eps * max(1.0, cond) * float(np.max(np.abs(f0)))
                    / _step(order) ** order)
        slack = np.abs(expected - coarse) + rounding
        if not np.all(np.isfinite(expected)) or float(np.max(slack, initial=0)) > 1e-2 * scale:
            inaccurate = float(np.max(np.abs(f0)))
            continue
        report = _compare(got, expected, sizes, rtol, atol, slack)
        if kinks and not np.any(got) and not np.any(expected):
            # every unit inactive: zeros agree with zeros, which proves nothing; look on
            zeros = zeros or report
            continue
        return report
    if zeros is not None:
        zeros.only_zeros = True
        return zeros
    if kink_seen is not None:
        raise CheckError(f"not differentiable where it was checked: the argument of "
                         f"{show(kink_seen)} is 0 (or within the finite-difference "
                         "step) at every point drawn, so the derivative there is a "
                         "convention, not a limit")
    if inaccurate is not None:
        raise CheckError("could not find a point where central differences are accurate "
                         f"enough to check the derivative (the function's values, about "
                         f"{inaccurate:.1e}, or its curvature swamp them in floating point)")
    raise CheckError("could not find a point where the function and its derivative are "
                     "finite, so the derivative was not checked")


def _numeric(f, d0, sizes, env, variables, kind, layout, direction, hessian_product, order,
             scale):
    """(the symbolic value as compared, the central-difference value) at env, with every step
    multiplied by `scale`."""
    fn, shape = (lambda e: evaluate_tree(f, e, sizes)), tuple(f.shape)
    lower = variables[:-1] + ([variables[-1]] if hessian_product else [])
    for x in lower:           # the function whose first derivative d is: f, or f numerically
        fn, shape = numeric_derivative(fn, shape, x, order, scale)
    x = variables[-1]
    x0 = env[x.name]
    if direction is not None:
        u = env[direction]
        h = scale * _step(order) * max(1.0, float(np.max(np.abs(x0))))
        expected = _directional(fn, env, x.name, u, h, _STENCIL2 if order == 1 else _STENCIL4)
        return np.asarray(d0), np.asarray(expected)
    p0 = fn(env)
    numeric = difference_table(fn, env, x.name, order, scale)
    if kind == "tensor":                 # entry by entry: ∂F_ij/∂X_kl against the vec form
        full = numeric.reshape(p0.shape + x0.shape)
        keep = tensor_axes(shape) + [2 + i for i in tensor_axes(x.shape)]
        expected = full.reshape([full.shape[a] for a in keep])
        return vec_to_tensor(d0, p0.shape, x0.shape, shape, x.shape), expected
    return np.asarray(d0), arrange(numeric, p0.shape, x0.shape, kind, layout)


def _limit_evaluations(variables, direction, hessian_product, sizes) -> None:
    count = 2                                  # differences at steps h and 2h
    stencil_points = 2 if len(variables) + hessian_product == 1 else 4
    for k, x in enumerate(variables):
        r, c = _shape(x, sizes)
        last = k == len(variables) - 1
        count *= stencil_points * (1 if (last and direction) else r * c)
    if hessian_product:
        r, c = _shape(variables[-1], sizes)
        count *= stencil_points * r * c
    if count > MAX_CHECK_EVALUATIONS:
        names = ", ".join(f"{x.name} ({'×'.join(str(v) for v in _shape(x, sizes))})"
                          for x in variables)
        raise MatcalcError(f"the check would evaluate the function {count:,} times (every "
                           f"entry of {names} is perturbed); numeric checks are limited to "
                           f"{MAX_CHECK_EVALUATIONS:,} evaluations",
                           hint=_size_hint(variables, sizes, "the check"))


def _compare(got, expected, sizes, rtol, atol, slack=0.0) -> CheckReport:
    if got.shape != expected.shape:
        raise CheckError(f"the derivative has shape {got.shape} but should have {expected.shape}")
    err = np.abs(got - expected)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0)))
    bad = err > atol * scale + rtol * np.maximum(np.abs(expected), scale) + slack
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


def _condition(matrices, env, sizes) -> float:
    """The largest condition number of the matrices the function or derivative inverts (or
    takes a determinant of) at this point; inf where one is not finite."""
    worst = 1.0
    for node in matrices:
        a = evaluate_tree(node, env, sizes)
        if not np.all(np.isfinite(a)):
            return float("inf")
        worst = max(worst, float(np.linalg.cond(a)))
    return worst


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
