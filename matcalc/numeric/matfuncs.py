"""NumPy/SciPy values of the matrix functions and decompositions (core/functions.py), and the
checks that say where one is undefined or its derivative does not exist.

SciPy is imported only when one of these is evaluated. Each function gets its arguments as 2-D
arrays and returns a 2-D array. A function of a symmetric matrix reads the symmetric part
(S + Sᵀ)/2 (finite differences perturb one entry at a time, and the derivative rules are written
for that reading). At a point where an assumption fails — a singular matrix in solve, an
eigenvalue on the closed negative axis for logm, sqrtm and X^p, repeated eigenvalues or
singular values where eigenvectors or singular vectors are needed — `value` raises
DomainError when asked to be strict (r.evaluate), and gives NaN otherwise (a check redraws).
"""
from __future__ import annotations

import numpy as np

from ..core.errors import DomainError, show

_GAP = 1e-9          # relative gap below which eigenvalues or singular values count as equal
_SINGULAR = 1e15     # condition number beyond which a matrix counts as singular


class _Undefined(Exception):
    """An assumption fails at this point; the message says which."""


def _sym(a):
    return (a + a.T) / 2


def _scale(a) -> float:
    return max(1.0, float(np.max(np.abs(a), initial=0.0)))


def _no_negative_axis(x, what):
    w = np.linalg.eigvals(x)
    tol = 1e-12 * _scale(x)
    bad = (np.abs(w.imag) <= tol) & (w.real <= tol)
    if np.any(bad):
        raise _Undefined(f"{what} has the eigenvalue {w.real[bad][0]:.3g} on the closed "
                         "negative real axis")


def _real(m):
    m = np.asarray(m)
    return m.real if np.iscomplexobj(m) else m


def _primary(fn, exponent):
    """The NumPy function X ↦ f(X) for expm, logm, sqrtm and X^p."""
    import scipy.linalg as sl
    if fn == "expm":
        return sl.expm
    if fn == "logm":
        return lambda x: _real(sl.logm(x))
    if fn == "sqrtm":
        return lambda x: _real(sl.sqrtm(x))
    return lambda x: _real(sl.fractional_matrix_power(x, float(exponent)))


_BASE = {"L_exp": "expm", "L_log": "logm", "L_sqrt": "sqrtm", "L_pow": "powm",
         "L2_exp": "expm", "L2_log": "logm", "L2_sqrt": "sqrtm", "L2_pow": "powm"}
_KRON = {"K_exp": "L_exp", "K_log": "L_log", "K_sqrt": "L_sqrt", "K_pow": "L_pow",
         "K2_exp": "L2_exp", "K2_log": "L2_log", "K2_sqrt": "L2_sqrt", "K2_pow": "L2_pow"}


def _kron_form(fn, exponent, x, *fixed):
    """K with vec L(X, …, H) = K vec H: one column per unit direction H (column-major vec)."""
    n = x.shape[0]
    name = _KRON[fn]
    op = _frechet if name.startswith("L_") else _frechet2
    cols = []
    for j in range(n * n):
        h = np.zeros(n * n)
        h[j] = 1.0
        cols.append(op(name, exponent, x, *fixed, h.reshape(n, n, order="F")).reshape(
            -1, order="F"))
    return np.column_stack(cols)


def _frechet(fn, exponent, x, e):
    """L_f(X, E): the upper right block of f([[X, E], [0, X]]) (Higham, Functions of
    Matrices, Thm 3.6); expm_frechet for the exponential."""
    import scipy.linalg as sl
    base = _BASE[fn]
    if base != "expm":
        _no_negative_axis(x, "the matrix")
    if base == "expm":
        return sl.expm_frechet(x, e, compute_expm=False)
    n = x.shape[0]
    z = np.zeros_like(x)
    big = np.block([[x, e], [z, x]])
    return _primary(base, exponent)(big)[:n, n:]


def _frechet2(fn, exponent, x, p, q):
    """L²_f(X, P, Q) = D²f(X)[P, Q]: the (1, 3) blocks of f([[X, P, 0], [0, X, Q], [0, 0, X]])
    and of the same with P and Q exchanged, added."""
    base = _BASE[fn]
    if base != "expm":
        _no_negative_axis(x, "the matrix")
    f = _primary(base, exponent)
    n = x.shape[0]
    z = np.zeros_like(x)
    out = 0
    for a, b in ((p, q), (q, p)):
        big = np.block([[x, a, z], [z, x, b], [z, z, x]])
        out = out + f(big)[:n, 2 * n:]
    return out


def _eigh(s, need_gap: bool):
    w, v = np.linalg.eigh(_sym(s))
    if need_gap and len(w) > 1:
        gap = np.min(np.diff(w))
        if gap <= _GAP * _scale(s):
            raise _Undefined("the matrix has a repeated eigenvalue "
                             f"({w[np.argmin(np.diff(w))]:.6g}), so its eigenvectors are not "
                             "unique and the eigenvalues are not differentiable there")
    return w, _signs(v)


def _signs(v):
    """Each column with its largest entry positive (eigenvectors are defined up to sign)."""
    idx = np.argmax(np.abs(v), axis=0)
    s = np.sign(v[idx, np.arange(v.shape[1])])
    s[s == 0] = 1.0
    return v * s


def _eiggap_inv(s):
    """F with F_jk = 1/(λ_k − λ_j) for j ≠ k and 0 on the diagonal (simple eigenvalues)."""
    w, _ = _eigh(s, True)
    d = w[None, :] - w[:, None]
    np.fill_diagonal(d, 1.0)
    out = 1.0 / d
    np.fill_diagonal(out, 0.0)
    return out


def _simple_end(s, k):
    """The eigenvalue at index k (0 or −1) must be simple."""
    w, v = np.linalg.eigh(_sym(s))
    if len(w) > 1:
        other = w[1] if k == 0 else w[-2]
        if abs(w[k] - other) <= _GAP * _scale(s):
            raise _Undefined(f"the {'smallest' if k == 0 else 'largest'} eigenvalue "
                             f"({w[k]:.6g}) is repeated, so its eigenvector is not unique and "
                             "it is not differentiable there")
    return w, _signs(v)


def _eigres(s, k):
    """(λₖI − S)⁺ = Σ_{j≠k} vⱼvⱼᵀ/(λₖ − λⱼ), the reduced resolvent at λₖ."""
    w, v = _simple_end(s, k)
    k = k % len(w)
    out = np.zeros_like(s)
    for j in range(len(w)):
        if j != k:
            out += np.outer(v[:, j], v[:, j]) / (w[k] - w[j])
    return out


def _svd(a, need: str = ""):
    """Thin SVD with σ descending; need="all": distinct nonzero σ, "top": simple σ₁."""
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    v = vt.T
    idx = np.argmax(np.abs(v), axis=0)
    sign = np.sign(v[idx, np.arange(v.shape[1])])
    sign[sign == 0] = 1.0
    u, v = u * sign, v * sign
    tol = _GAP * _scale(a)
    if need == "all" and (np.any(s <= tol) or np.any(-np.diff(s) <= tol)):
        raise _Undefined("the matrix has a repeated or zero singular value, so its singular "
                         "vectors are not unique and the derivative does not exist there")
    if need == "top" and len(s) > 1 and s[0] - s[1] <= tol:
        raise _Undefined(f"the largest singular value ({s[0]:.6g}) is repeated, so the "
                         "spectral norm is not differentiable there")
    return u, s, v


def _svdgap_inv(a):
    """F with F_ij = 1/(σⱼ² − σᵢ²) for i ≠ j and 0 on the diagonal."""
    _, s, _ = _svd(a, "all")
    d = (s ** 2)[None, :] - (s ** 2)[:, None]
    np.fill_diagonal(d, 1.0)
    out = 1.0 / d
    np.fill_diagonal(out, 0.0)
    return out


def _solve(a, b):
    if np.linalg.cond(a) > _SINGULAR:
        raise _Undefined("the matrix is singular")
    return np.linalg.solve(a, b)


def _pinv(a):
    s = np.linalg.svd(a, compute_uv=False)
    if s[-1] <= 1e-12 * _scale(a) * max(a.shape):
        raise _Undefined("it does not have full rank (the pseudo-inverse is not differentiable, "
                         "not even continuous, where the rank drops)")
    return np.linalg.pinv(a)


def _chol(a):
    try:
        return np.linalg.cholesky(_sym(a))
    except np.linalg.LinAlgError:
        raise _Undefined("the matrix is not positive definite") from None


def _checked_primary(fn, exponent, x):
    if fn != "expm":
        _no_negative_axis(x, "the matrix")
    return _primary(fn, exponent)(x)


def _tril_half(m):
    return np.tril(m, -1) + np.diag(np.diag(m)) / 2


VALUES = {
    "solve": lambda n, v: _solve(v[0], v[1]),
    "expm": lambda n, v: _checked_primary("expm", None, v[0]),
    "logm": lambda n, v: _checked_primary("logm", None, v[0]),
    "sqrtm": lambda n, v: _checked_primary("sqrtm", None, v[0]),
    "powm": lambda n, v: _checked_primary("powm", n.exponent, v[0]),
    "pinv": lambda n, v: _pinv(v[0]),
    "chol": lambda n, v: _chol(v[0]),
    "tril_half": lambda n, v: _tril_half(v[0]),
    "eigvals": lambda n, v: np.linalg.eigvalsh(_sym(v[0])).reshape(-1, 1),
    "eigvecs": lambda n, v: _eigh(v[0], True)[1],
    "eiggap_inv": lambda n, v: _eiggap_inv(v[0]),
    "lambda_max": lambda n, v: np.array([[np.linalg.eigvalsh(_sym(v[0]))[-1]]]),
    "lambda_min": lambda n, v: np.array([[np.linalg.eigvalsh(_sym(v[0]))[0]]]),
    "eigvec_max": lambda n, v: _simple_end(v[0], -1)[1][:, -1:],
    "eigvec_min": lambda n, v: _simple_end(v[0], 0)[1][:, :1],
    "eigres_max": lambda n, v: _eigres(v[0], -1),
    "eigres_min": lambda n, v: _eigres(v[0], 0),
    "svdvals": lambda n, v: np.linalg.svd(v[0], compute_uv=False).reshape(-1, 1),
    "svd_U": lambda n, v: _svd(v[0], "all")[0],
    "svd_V": lambda n, v: _svd(v[0], "all")[2],
    "svdgap_inv": lambda n, v: _svdgap_inv(v[0]),
    "sigma_max": lambda n, v: np.array([[np.linalg.norm(v[0], 2)]]),
    "svd_u1": lambda n, v: _svd(v[0], "top")[0][:, :1],
    "svd_v1": lambda n, v: _svd(v[0], "top")[2][:, :1],
    "nuclear": lambda n, v: np.array([[np.sum(np.linalg.svd(v[0], compute_uv=False))]]),
}
for _name in _KRON:
    VALUES[_name] = (lambda name: lambda n, v: _kron_form(name, n.exponent, *v))(_name)
for _name in _BASE:
    VALUES[_name] = (lambda name: lambda n, v: (_frechet if name.startswith("L_") else
                                                _frechet2)(name, n.exponent, *v))(_name)

_SYMMETRIC_READERS = ("chol", "eigvals", "eigvecs", "eiggap_inv", "lambda_max", "lambda_min", "eigvec_max",
                      "eigvec_min", "eigres_max", "eigres_min")


def value(n, vals, strict: bool = False):
    """The value of the MatFn node n given its arguments' values. strict: DomainError where
    an assumption fails (and for a function of a symmetric matrix given one that is not);
    otherwise NaN there."""
    if not all(np.all(np.isfinite(v)) for v in vals):
        return np.full(_shape_like(n, vals), np.nan)
    if strict and n.fn in _SYMMETRIC_READERS:
        a = vals[0]
        if np.max(np.abs(a - a.T), initial=0.0) > 1e-8 * _scale(a):
            _domain(n, "it is not symmetric at these values")
    try:
        with np.errstate(all="ignore"):
            out = VALUES[n.fn](n, vals)
    except _Undefined as why:
        if strict:
            _domain(n, str(why))
        return np.full(_shape_like(n, vals), np.nan)
    except (np.linalg.LinAlgError, ValueError) as why:
        if strict:
            _domain(n, f"it cannot be computed there ({why})")
        return np.full(_shape_like(n, vals), np.nan)
    return np.asarray(out, dtype=float)


def _shape_like(n, vals):
    a = vals[0]
    r, c = a.shape
    k = min(r, c)
    if n.fn in _KRON:             # K_f(X), K2_f(X, A): n²×n² for an n×n X
        return (r * c, r * c)
    return {"solve": vals[-1].shape, "pinv": (c, r), "eigvals": (r, 1), "lambda_max": (1, 1),
            "lambda_min": (1, 1), "eigvec_max": (r, 1), "eigvec_min": (r, 1),
            "svdvals": (k, 1), "svdgap_inv": (k, k), "svd_U": (r, k), "svd_V": (c, k), "sigma_max": (1, 1),
            "svd_u1": (r, 1), "svd_v1": (c, 1), "nuclear": (1, 1)}.get(n.fn, a.shape)


def _domain(n, why: str):
    text = show(n)
    text = text if len(text) <= 60 else text[:59] + "…"
    raise DomainError(f"undefined at these values: {text} assumes that "
                      f"{_needs(n)}, and {why}")


def _needs(n) -> str:
    from ..core.matrix_functions import MATRIX_FUNCTIONS, fill
    arg = show(n.args[0])
    arg = arg if len(arg) <= 40 else arg[:39] + "…"
    found = MATRIX_FUNCTIONS[n.fn].assumptions
    return "; ".join(fill(t, [arg]) for t in found) if found else "a finite argument"
