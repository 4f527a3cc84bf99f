"""The numeric check of a structured gradient or Hessian, along directions inside the structure.

A structured answer (docs/structured.md) is only defined on its structure, so it is compared
with central differences of the ORIGINAL function along directions that stay in it: a basis of
the symmetric, diagonal or skew-symmetric matrices, or of the tangent space {XΩ + X⊥B : Ω skew}
of the Stiefel manifold at a drawn X with orthonormal columns. It also checks that the answer
lies where the convention says (sym(G) is symmetric, a Riemannian gradient is tangent). The
default check (every entry on its own) stays in numeric/evaluate.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import expr as E
from ..core.errors import CheckError
from ..core.expr import names_in
from .evaluate import draw_sizes, draw_value, evaluate_tree, limit_entries

MAX_DIRECTIONS = 24          # basis directions compared (a random subset beyond it)
_H1, _H2 = 1e-4, 2e-4        # steps: gradient (fourth-order stencil), Hessian (mixed)


@dataclass
class StructuredCheckReport:
    """What the check compared: how many directions, in which structure, the largest error."""
    sizes: dict
    structure: str
    convention: str
    directions: int
    max_abs_error: float
    max_rel_error: float

    def __str__(self):
        sz = ", ".join(f"{k}={v}" for k, v in sorted(self.sizes.items(), key=str))
        kind = "tangent" if self.structure == "orthogonal" else self.structure
        return (f"ok: the {self.convention} result matches central differences of the original "
                f"function along {self.directions} {kind} directions (max abs error "
                f"{self.max_abs_error:.2e}, rel {self.max_rel_error:.2e}) at sizes {sz}")


def basis(structure: str, X: np.ndarray) -> list:
    """Directions spanning the structure at X: (label, direction) with label the independent
    entry (i, j) it moves, or None for tangent directions of the Stiefel manifold."""
    n, p = X.shape
    out = []
    if structure == "symmetric":
        for j in range(n):
            for i in range(j, n):
                E = np.zeros((n, n))
                E[i, j] = E[j, i] = 1.0
                out.append(((i, j), E))
    elif structure == "diagonal":
        out = [((i, i), np.diag(np.eye(n)[i])) for i in range(n)]
    elif structure == "skew":
        for j in range(n):
            for i in range(j + 1, n):
                E = np.zeros((n, n))
                E[i, j], E[j, i] = 1.0, -1.0
                out.append(((i, j), E))
    elif structure in ("lower", "upper"):
        for j in range(n):
            for i in (range(j, n) if structure == "lower" else range(j + 1)):
                E = np.zeros((n, n))
                E[i, j] = 1.0
                out.append(((i, j), E))
    elif structure == "orthogonal":
        q, _ = np.linalg.qr(X, mode="complete")
        perp = q[:, p:]                        # X⊥: orthonormal complement of the columns
        for _, W in basis("skew", np.zeros((p, p))):
            out.append((None, X @ W))
        for k in range(n - p):
            for j in range(p):
                B = np.zeros((n - p, p))
                B[k, j] = 1.0
                out.append((None, perp @ B))
    return out


def projection(structure: str, n: int) -> np.ndarray:
    """The orthogonal projection onto the structure in vec space (column-major), n²×n²."""
    K = np.zeros((n * n, n * n))
    for i in range(n):
        for j in range(n):
            K[j + n * i, i + n * j] = 1.0
    eye = np.eye(n * n)
    if structure == "symmetric":
        return (eye + K) / 2
    if structure == "skew":
        return (eye - K) / 2
    if structure in ("lower", "upper"):
        tri = np.tril if structure == "lower" else np.triu
        return np.diag(tri(np.ones((n, n))).ravel(order="F"))
    return np.diag(np.eye(n).ravel(order="F"))


def _vec(a):
    return a.ravel(order="F")


def _first(f, env, name, E, k=1):
    """Df(X)[E] by the fourth-order central stencil on the original function (step k·h)."""
    x0 = env[name]
    h = k * _H1 * max(1.0, float(np.max(np.abs(x0))))
    val = lambda t: float(f({**env, name: x0 + t * E})[0, 0])   # noqa: E731
    return (8 * (val(h) - val(-h)) - (val(2 * h) - val(-2 * h))) / (12 * h)


def _second(f, env, name, E, F, k=1):
    """D²f(X)[E, F] by the mixed central difference on the original function (step k·h)."""
    x0 = env[name]
    h = k * _H2 * max(1.0, float(np.max(np.abs(x0))))
    val = lambda a, b: float(f({**env, name: x0 + a * E + b * F})[0, 0])   # noqa: E731
    return (val(h, h) - val(h, -h) - val(-h, h) + val(-h, -h)) / (4 * h * h)


def _polar(Z):
    """The nearest matrix with orthonormal columns (the polar factor UVᵀ of Z)."""
    u, _, vt = np.linalg.svd(Z, full_matrices=False)
    return u @ vt


def _second_retracted(f, env, name, E, F, k=1):
    """∂²/∂s∂t f(R(X + sE + tF)) at 0 with the polar retraction R, which is of second order,
    so for tangent E and F this is ⟨E, Hess f(X)[F]⟩ (Absil, Mahony & Sepulchre, §5.5)."""
    x0 = env[name]
    h = k * _H2
    val = lambda a, b: float(f({**env, name: _polar(x0 + a * E + b * F)})[0, 0])  # noqa: E731
    return (val(h, h) - val(h, -h) - val(-h, h) + val(-h, -h)) / (4 * h * h)


def _stiefel_projection(X):
    """P_X(Z) = Z − X sym(XᵀZ) in vec form (column-major), np×np."""
    n, p = X.shape
    K = np.zeros((n * p, n * p))
    for i in range(n):
        for j in range(p):
            K[j + p * i, i + n * j] = 1.0          # K vec(Z) = vec(Zᵀ), Z n×p
    return np.eye(n * p) - (np.kron(np.eye(p), X @ X.T) + np.kron(X.T, X) @ K) / 2


def _membership(structure, X, d0, order):
    """How far d0 is from where the convention puts it (0 when it lies there)."""
    if structure == "orthogonal" and order == 2:   # maps tangent vectors to tangent vectors
        P = _stiefel_projection(X)
        return float(np.max(np.abs(P @ d0 @ P - d0)))
    if structure == "orthogonal":          # tangent at X: Xᵀξ + ξᵀX = 0
        return float(np.max(np.abs(X.T @ d0 + d0.T @ X)))
    P = projection(structure, X.shape[0])
    if order == 1:
        return float(np.max(np.abs(P @ _vec(d0) - _vec(d0))))
    return float(np.max(np.abs(P @ d0 @ P - d0)))


def _inverted(nodes) -> list:
    """The matrices the trees invert or take a determinant of (their condition decides whether
    differences at a point mean anything: a skew-symmetric matrix of odd size is singular)."""
    out, stack, seen = [], list(nodes), set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        inverts = type(n) in (E.Inverse, E.LogDet, E.Det) or (type(n) is E.Power
                                                              and n.exponent < 0)
        if inverts and not n.arg.is_scalar:
            out.append(n.arg)
        stack.extend(n.children)
    return out


def _condition(matrices, env, sizes) -> float:
    worst = 1.0
    for node in matrices:
        a = evaluate_tree(node, env, sizes)
        if not np.all(np.isfinite(a)):
            return float("inf")
        worst = max(worst, float(np.linalg.cond(a)))
    return worst


def check_structured(f, d, x, structure: str, convention: str, order: int, modifiers,
                     seed=None, rtol: float = 1e-5, atol: float = 1e-7):
    """Compare d, the structured (or entries) gradient or vec-form Hessian of the scalar f with
    respect to the Sym x, with differences of f along directions inside `structure`; raises
    CheckError on a mismatch."""
    rng = np.random.default_rng(seed)
    syms = {**names_in(f), **names_in(d)}
    syms.setdefault(x.name, x)
    dims = set()
    for n in syms.values():
        for s in n.shape:
            dims |= s.free_symbols
    fn, inverted, singular = None, _inverted([f, d]), False
    for _attempt in range(8):
        # one size larger than the default check (n = 2 has a single off-diagonal entry), and
        # two on every other pair of attempts: a skew-symmetric matrix of odd size is singular
        shift = 1 + (_attempt // 2) % 2
        sizes = {k: v + shift for k, v in draw_sizes(dims, rng).items()}
        r, c = (int(s.subs(sizes)) if s.free_symbols else int(s) for s in x.shape)
        if r < c:                            # Stiefel: more rows than columns
            continue
        limit_entries([f, d] + list(syms.values()), sizes, "the check")
        env = {k: draw_value(n, sizes, modifiers(k), rng, _attempt % 2 == 1)
               for k, n in syms.items()}
        fn = lambda e, s=sizes: evaluate_tree(f, e, s)      # noqa: E731
        if not np.isfinite(fn(env)).all():
            continue
        d0 = np.asarray(evaluate_tree(d, env, sizes), dtype=float)
        if not np.isfinite(d0).all():
            continue
        if _condition(inverted, env, sizes) > (1e8 if order == 1 else 1e6):
            singular = True                  # differences next to a singular matrix: redrawn
            continue
        return _compare(fn, env, x.name, d0, structure, convention, order, sizes, rng,
                        rtol, atol)
    if singular:
        raise CheckError("every point drawn makes a matrix the function inverts singular (a "
                         "skew-symmetric matrix of odd size always is), so the structured "
                         "derivative was not checked")
    raise CheckError("could not find a point where the function and its derivative are finite, "
                     "so the structured derivative was not checked")


def _compare(fn, env, name, d0, structure, convention, order, sizes, rng, rtol, atol):
    X = env[name]
    dirs = basis(structure, X)
    if len(dirs) > MAX_DIRECTIONS:
        keep = rng.choice(len(dirs), MAX_DIRECTIONS, replace=False)
        dirs = [dirs[k] for k in sorted(keep)]
    n = X.shape[0]
    got, expected, what, again = [], [], [], []
    for label, E in dirs:
        if order == 1:
            # entries: the entry at the independent position; structured: ⟨d, E⟩
            sym = d0[label] if convention == "entries" else float(np.sum(d0 * E))
            got.append(sym)
            expected.append(_first(fn, env, name, E))
            again.append(lambda k, E=E: _first(fn, env, name, E, k))
            what.append(f"direction moving entry {label}" if label else "a tangent direction")
            continue
        for label2, F in dirs:
            if convention == "entries":
                sym = d0[label[0] + n * label[1], label2[0] + n * label2[1]]
            else:
                sym = float(_vec(E) @ d0 @ _vec(F))
            got.append(sym)
            second = _second_retracted if structure == "orthogonal" else _second
            expected.append(second(fn, env, name, E, F))
            again.append(lambda k, E=E, F=F, second=second: second(fn, env, name, E, F, k))
            what.append(f"directions moving entries {label} and {label2}")
    got, expected = np.array(got), np.array(expected)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0)))
    tol = (rtol if order == 1 else 1e-4) * scale + atol * scale
    err = np.abs(got - expected)
    # where the differences disagree, their own error is estimated by the gap to the
    # differences at twice the step (truncation grows, so the gap bounds it): no false alarm
    # where f is steep, as next to a nearly singular matrix
    slack = np.zeros_like(err)
    for k in np.flatnonzero(err > tol):
        slack[k] = abs(expected[k] - again[k](2))
    raw, err = err, np.maximum(err - slack, 0)
    sz = {str(k): v for k, v in sizes.items()}
    if err.size and float(err.max()) > tol:
        k = int(np.argmax(err))
        raise CheckError(f"the {convention} derivative disagrees with finite differences of the "
                         f"original function along {what[k]}: symbolic {got[k]:.8g}, numeric "
                         f"{expected[k]:.8g} (sizes {sz})")
    off = _membership(structure, X, d0, order)
    if off > 1e-8 * max(1.0, float(np.max(np.abs(d0), initial=0))):
        raise CheckError(f"the {convention} derivative does not lie in the {structure} "
                         f"structure where it was checked (off by {off:.3g}, sizes {sz})")
    return StructuredCheckReport(sz, structure, convention, len(dirs),
                                 float(raw.max(initial=0)), float(raw.max(initial=0)) / scale)


def vech_form(value: np.ndarray, order: int) -> np.ndarray:
    """The entries result of a symmetric variable in vech form: D_nᵀ vec(G) (the lower triangle
    of G + Gᵀ − G ∘ I, column by column) for a gradient, D_nᵀ H D_n for a vec-form Hessian."""
    if order == 1:
        n = value.shape[0]
        return value.T[np.triu_indices(n)]          # column by column, diagonal down
    n = int(round(np.sqrt(value.shape[0])))
    rows, cols = np.triu_indices(n)                  # (row, col) of Xᵀ = (col, row) of X
    keep = rows * n + cols                           # column-major index of X[cols, rows]
    return value[np.ix_(keep, keep)]
