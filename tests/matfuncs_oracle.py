"""An independent table of derivatives of matrix functions and decompositions: for each row the
formula in matcalc's language, the variable, the shapes, the literature it comes from, a NumPy
implementation of the ORIGINAL function, and a hand-written closed form of its derivative
(gradient, Jacobian/tensor, vector–Jacobian product, Hessian or Hessian–vector product).

Nothing here imports matcalc. The closed forms are written from the sources cited on each row
and are themselves checked against central finite differences of this module's own functions
(tests/test_matfuncs_table.py, part a), so the table can be trusted before matcalc is compared
with it.

Conventions (the public contract's): a gradient of a scalar has the variable's shape (a vector
is an n×1 column); a non-scalar derivative lists the function's indices, then the variable's,
with a vector contributing one index: T[i, j, k, l] = ∂F_ij/∂X_kl, J[i, k] = ∂f_i/∂x_k; a Hessian
of a scalar wrt a matrix is T[i, j, k, l] = ∂²f/∂X_ij∂X_kl; a VJP and an HVP have the variable's
shape. Every entry of a matrix variable is independent. A function that only exists for
symmetric arguments (chol, eigvals, λ_max, λ_min) is read as f(sym(X)), sym(X) = (X + Xᵀ)/2 —
matcalc's reading too — so its gradient is the symmetric part of the textbook one (Murray's
sym(·)); rows built on that reading are flagged `sym` and their Hessian–vector products take a
symmetric direction U, where the textbook second-order formulas hold.

Sources cited (short names used in the rows):
  Cookbook   Petersen & Pedersen, The Matrix Cookbook (2012), §2.1 determinants, §2.2 inverses,
             §2.3 eigenvalues, §2.5 traces.
  Higham     N. J. Higham, Functions of Matrices (SIAM 2008): ch. 3 §3.2 (Fréchet derivative:
             block-triangular formula f([[X, E], [0, X]]) = [[f(X), L(X, E)], [0, f(X)]];
             Daleckiĭ–Kreĭn divided differences for diagonalisable X; L(X, E)* = L(Xᵀ, E) for
             real f; d tr f(X) = tr(f′(X) dX)); ch. 6 §6.1 (L_sqrt solves R L + L R = E);
             ch. 10 (exponential), ch. 11 (logarithm).
  HighamRelton  Higham & Relton, Higher order Fréchet derivatives of matrix functions (SIMAX
             2014): the (1,3) block of f([[X, E, 0], [0, X, F], [0, 0, X]]) and L²(X; E, F).
  MN         Magnus & Neudecker, Matrix Differential Calculus (3rd ed. 2019), ch. 8 §8.8–8.9:
             dλ = vᵀ(dS)v, dv = (λI − S)⁺(dS)v for a simple eigenvalue of symmetric S.
  Giles      M. Giles, An extended collection of matrix derivative results for forward and
             reverse mode AD (2008): inverse/solve (C = A⁻¹B: B̄ = A⁻ᵀC̄, Ā = −B̄Cᵀ),
             eigenvalues, SVD (dσ_i = u_iᵀ dA v_i), Cholesky.
  Murray     I. Murray, Differentiation of the Cholesky decomposition (2016):
             dL = L Φ(L⁻¹ dA L⁻ᵀ), Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ = lower triangle, diagonal halved.
  GolubPereyra  Golub & Pereyra, The differentiation of pseudo-inverses (SINUM 1973), (4.12).
  Arsigny    Arsigny, Fillard, Pennec & Ayache, Geometric means in a novel vector space
             structure on SPD matrices (SIMAX 2007): log-Euclidean distance ‖log A − log B‖_F.
  Dryden     Dryden, Koloydenko & Zhou, Non-Euclidean statistics for covariance matrices
             (Ann. Appl. Stat. 2009): square-root Euclidean distance ‖A^½ − B^½‖_F.
  PinheiroBates  Pinheiro & Bates, Unconstrained parametrizations for variance–covariance
             matrices (Stat. Comput. 1996): Σ = expm(S) (matrix-logarithm parametrisation).
  CandesRecht  Candès & Recht, Exact matrix completion (2009); Cai, Candès & Shen, SVT (2010):
             nuclear-norm regularisation, ∂‖A‖_* = UVᵀ at full rank.
  YoshidaMiyato  Yoshida & Miyato, Spectral norm regularization (2017): ∂‖W‖₂² = 2σ₁u₁v₁ᵀ.
  Rasmussen  Rasmussen & Williams, Gaussian Processes for ML (2006) §2.2, A.4: Gaussian NLL
             through a Cholesky factor (½‖L⁻¹x‖² + Σ log L_ii).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg as sla

# A different size for every dimension name, so that a transposition cannot hide.
SIZES = {"n": 4, "m": 6, "p": 3, "q": 5}


# Points -------------------------------------------------------------------------------------------

def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def separated(rng, lo, hi, k):
    """k values from lo to hi, well apart (jitter below a quarter of the spacing)."""
    base = np.linspace(lo, hi, k)
    gap = (hi - lo) / max(k - 1, 1)
    return base + rng.uniform(-0.25, 0.25, size=k) * gap


def gen_spd(n, lo=0.6, hi=2.6):
    def draw(rng):
        q = orthogonal(rng, SIZES[n])
        return (q * separated(rng, lo, hi, SIZES[n])) @ q.T
    return draw


def gen_symmetric(n, lo=-2.0, hi=2.0):
    def draw(rng):
        q = orthogonal(rng, SIZES[n])
        return (q * separated(rng, lo, hi, SIZES[n])) @ q.T
    return draw


def gen_general(m, n=None, scale=0.5):
    def draw(rng):
        k = SIZES[n or m]
        return scale * rng.normal(size=(SIZES[m], k)) / np.sqrt(k)
    return draw


def gen_invertible(n):
    """Near the identity: well conditioned and far from singular."""
    def draw(rng):
        k = SIZES[n]
        return np.eye(k) + 0.4 * rng.normal(size=(k, k)) / np.sqrt(k)
    return draw


def gen_rank(m, n, lo=0.7, hi=3.0):
    """An m×n matrix of full rank with well-separated singular values."""
    def draw(rng):
        a, b = SIZES[m], SIZES[n]
        k = min(a, b)
        u = orthogonal(rng, a)[:, :k]
        v = orthogonal(rng, b)[:, :k]
        return (u * separated(rng, hi, lo, k)) @ v.T
    return draw


def gen_vec(n, scale=0.7):
    return lambda rng: scale * rng.normal(size=(SIZES[n], 1))


def gen_scalar(lo=-0.8, hi=0.8):
    return lambda rng: float(rng.uniform(lo, hi))


# The original functions (this module's own NumPy) -------------------------------------------------

def sym(x):
    return (x + x.T) / 2


def scal(x):
    """A Python float from a number or a 1×1 array."""
    return float(np.asarray(x).item())


def tr(x):
    return float(np.trace(x))


def fro2(x):
    return float(np.sum(x * x))


def expm(x):
    return sla.expm(x)


def _eig_function(x, f):
    """f(X) = V f(Λ) V⁻¹ for a real diagonalisable X (principal branches; complex eigenvalues in
    conjugate pairs give a real result). Every point here has distinct eigenvalues off the
    closed negative axis: near a symmetric matrix with separated spectrum, or near I."""
    w, v = np.linalg.eig(x)
    out = (v * f(w.astype(complex))) @ np.linalg.inv(v)
    if np.max(np.abs(out.imag)) > 1e-8 * max(1.0, np.max(np.abs(out.real))):
        raise AssertionError("oracle: f(X) is not real")
    return out.real


def logm(x):
    return _eig_function(x, np.log)


def sqrtm(x):
    return _eig_function(x, np.sqrt)


def mpow(x, p):
    return _eig_function(x, lambda w: w ** p)


def chol(a):
    return np.linalg.cholesky(sym(a))


def eigvals(s):
    return np.linalg.eigvalsh(sym(s)).reshape(-1, 1)          # ascending


def svdvals(a):
    return np.linalg.svd(a, compute_uv=False).reshape(-1, 1)  # descending


def solve(a, b):
    return np.linalg.solve(a, b)


def pinv(a):
    m, n = a.shape
    if m >= n:
        return np.linalg.solve(a.T @ a, a.T)
    return a.T @ np.linalg.inv(a @ a.T)


# Closed forms -------------------------------------------------------------------------------------

def L_exp(x, e):
    """Fréchet derivative of expm at X in direction E: the (1,2) block of expm([[X, E], [0, X]])
    (Higham §3.2)."""
    n = x.shape[0]
    big = np.block([[x, e], [np.zeros_like(x), x]])
    return sla.expm(big)[:n, n:]


def L2_exp(x, e, f):
    """Second Fréchet derivative of expm: L²(X; E, F) = B(E, F) + B(F, E), B the (1,3) block of
    expm([[X, E, 0], [0, X, F], [0, 0, X]]) (Higham & Relton 2014)."""
    n = x.shape[0]
    z = np.zeros_like(x)

    def b(e1, e2):
        big = np.block([[x, e1, z], [z, x, e2], [z, z, x]])
        return sla.expm(big)[:n, 2 * n:]
    return b(e, f) + b(f, e)


def L_block(fun, x, e):
    """L_f(X, E) as the (1,2) block of f([[X, E], [0, X]]) for any matrix function (Higham
    §3.2), with SciPy's implementation of f (real part of a real result)."""
    n = x.shape[0]
    big = np.block([[x, e], [np.zeros_like(x), x]])
    return np.real(fun(big))[:n, n:]


def divided_differences(lam, f, fp):
    """Γ_ij = (f(λi) − f(λj))/(λi − λj), Γ_ii = f′(λi)."""
    d = lam[:, None] - lam[None, :]
    fl = f(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (fl[:, None] - fl[None, :]) / d
    g[np.diag_indices_from(g)] = fp(lam)
    return g


def second_divided_differences(lam, f, fp, fpp):
    """f[λi, λk, λj] for distinct λ's (coinciding indices by the confluent formulas)."""
    k = len(lam)
    g = divided_differences(lam, f, fp)
    out = np.empty((k, k, k))
    for i in range(k):
        for a in range(k):
            for j in range(k):
                idx = sorted({i, a, j})
                if len(idx) == 1:
                    out[i, a, j] = fpp(lam[i]) / 2
                elif len(idx) == 3:
                    out[i, a, j] = (g[i, a] - g[a, j]) / (lam[i] - lam[j])
                else:
                    # two equal indices p (twice) and q: f[p, p, q] = (f′(p) − f[p, q])/(p − q)
                    trio = [i, a, j]
                    p = max(set(trio), key=trio.count)
                    q = idx[0] if idx[1] == p else idx[1]
                    out[i, a, j] = (fp(lam[p]) - g[p, q]) / (lam[p] - lam[q])
    return out


def L_sym(s, e, f, fp):
    """Daleckiĭ–Kreĭn: for symmetric S = VΛVᵀ, L_f(S, E) = V (Γ ∘ VᵀEV) Vᵀ (any E)."""
    lam, v = np.linalg.eigh(s)
    return v @ (divided_differences(lam, f, fp) * (v.T @ e @ v)) @ v.T


def L2_sym(s, e, f_, fp, fpp, g_=None):
    """Second-order Daleckiĭ–Kreĭn: L²(S; E, F)_ij in the eigenbasis is
    Σ_k f[λi, λk, λj] (Ẽ_ik F̃_kj + F̃_ik Ẽ_kj)."""
    lam, v = np.linalg.eigh(s)
    e2, f2 = v.T @ e @ v, v.T @ g_ @ v
    dd = second_divided_differences(lam, f_, fp, fpp)
    m = np.einsum("ikj,ik,kj->ij", dd, e2, f2) + np.einsum("ikj,ik,kj->ij", dd, f2, e2)
    return v @ m @ v.T


LOG = (np.log, lambda w: 1 / w, lambda w: -1 / w ** 2)


def POW(p):
    return (lambda w: w ** p, lambda w: p * w ** (p - 1), lambda w: p * (p - 1) * w ** (p - 2))


def L_log(s, e):
    return L_sym(s, e, LOG[0], LOG[1])


def L_pow(s, e, p):
    return L_sym(s, e, *POW(p)[:2])


def L_sqrt(s, e):
    """Fréchet derivative of the principal square root: R L + L R = E, R = S^½ (Higham §6.1)."""
    r = sqrtm(s)
    return sla.solve_sylvester(r, r, e)


def Phi(x):
    return np.tril(x) - 0.5 * np.diag(np.diag(x))


def chol_vjp(a, lbar):
    """Murray (2016): Ā = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹) for the symmetric argument."""
    L = chol(a)
    li = np.linalg.inv(L)
    return sym(li.T @ Phi(L.T @ lbar) @ li)


def eigpair(s, which):
    lam, v = np.linalg.eigh(sym(s))
    return lam[which], v[:, [which]]


def pinv_grad_trace(a, c):
    """Gradient of tr(C A⁺) (Golub & Pereyra (4.12): dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺)
    + (I − A⁺A) dAᵀ A⁺ᵀA⁺)."""
    ap = pinv(a)
    m, n = a.shape
    p_out = np.eye(m) - a @ ap
    q_in = np.eye(n) - ap @ a
    return -(ap @ c @ ap).T + p_out @ c @ ap @ ap.T + ap.T @ ap @ c @ q_in


def tensor_of(linear, var_shape):
    """T[out..., var...] of a linear map E ↦ linear(E) (E of var_shape), in the layout above."""
    cols = []
    for idx in np.ndindex(*var_shape):
        e = np.zeros(var_shape)
        e[idx] = 1.0
        cols.append(np.asarray(linear(e), dtype=float))
    t = np.stack(cols, axis=-1).reshape(tuple(cols[0].shape) + tuple(var_shape))
    return t.reshape(axes(cols[0]) + axes(np.zeros(var_shape)))


def axes(value):
    """The indices a value contributes to a derivative's layout: () for a scalar, (m,) for an
    m×1 column, (m, n) for a matrix."""
    a = np.asarray(value)
    if a.ndim == 0 or a.shape == (1, 1):
        return ()
    if a.shape[1] == 1:
        return (a.shape[0],)
    return a.shape


# Finite differences of the ORIGINAL function ------------------------------------------------------

H1 = 1e-6      # first derivatives
H2 = 1e-4      # nested second derivatives


def _shift(values, wrt, delta):
    out = dict(values)
    x = values[wrt]
    out[wrt] = x + delta if not isinstance(x, float) else x + float(delta)
    return out


def _directions(x):
    """Unit perturbations of every entry of x (a float or an array)."""
    if isinstance(x, float):
        return [((), 1.0)]
    out = []
    for idx in np.ndindex(*np.shape(x)):
        e = np.zeros(np.shape(x))
        e[idx] = 1.0
        out.append((idx, e))
    return out


def fd_derivative(f, values, wrt, h=H1):
    """Central differences of f wrt every entry of values[wrt], laid out as documented above."""
    x = values[wrt]
    f0 = np.asarray(f(values), dtype=float)
    cols = []
    for _, e in _directions(x):
        plus = np.asarray(f(_shift(values, wrt, h * e)), dtype=float)
        minus = np.asarray(f(_shift(values, wrt, -h * e)), dtype=float)
        cols.append((plus - minus) / (2 * h))
    if f0.ndim == 0:                                  # scalar: the variable's shape
        if isinstance(x, float):
            return float(cols[0])
        return np.array(cols, dtype=float).reshape(np.shape(x))
    var_axes = () if isinstance(x, float) else axes(x)
    return np.stack(cols, axis=-1).reshape(axes(f0) + var_axes)


def fd_vjp(f, values, wrt, g):
    """∇ of ⟨G, f⟩ by central differences (f non-scalar)."""
    return fd_derivative(lambda v: float(np.sum(g * f(v))), values, wrt)


def fd_hvp(f, values, wrt, u, h=H2):
    """(H u)_k = ∂²f/∂x_k∂u by nested central differences of f."""
    x = values[wrt]
    out = np.zeros(np.shape(x))
    for idx, e in _directions(x):
        s = 0.0
        for a, b, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
            s += sign * f(_shift(values, wrt, a * h * u + b * h * e))
        out[idx] = s / (4 * h * h)
    return out


def fd_hessian(f, values, wrt, h=H2):
    """T[i, j, k, l] = ∂²f/∂X_ij∂X_kl (n×n for a vector) by nested central differences (each
    pair of entries once: the difference quotient is symmetric in them)."""
    x = values[wrt]
    dirs = [e for _, e in _directions(x)]
    k = len(dirs)
    t = np.zeros((k, k))
    for a in range(k):
        for b in range(a, k):
            s = 0.0
            for sa, sb, sign in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
                s += sign * f(_shift(values, wrt, sa * h * dirs[a] + sb * h * dirs[b]))
            t[a, b] = t[b, a] = s / (4 * h * h)
    if isinstance(x, float):
        return float(t[0, 0])
    return t.reshape(axes(x) + axes(x))


def fd_mixed(f, values, x, y, h=H2):
    """M[i, k] = ∂/∂y_k (∂f/∂x_i) for vectors x and y, by nested central differences."""
    cols = []
    for _, e in _directions(values[y]):
        plus = fd_derivative(f, _shift(values, y, h * e), x, h)
        minus = fd_derivative(f, _shift(values, y, -h * e), x, h)
        cols.append((plus - minus).reshape(-1) / (2 * h))
    return np.stack(cols, axis=-1).reshape(axes(values[x]) + axes(values[y]))


def fd_directional(f, values, wrt, u, h=H1):
    """d/dt f(x + t u) at t = 0 (a JVP), by central differences."""
    return (np.asarray(f(_shift(values, wrt, h * u)), dtype=float)
            - np.asarray(f(_shift(values, wrt, -h * u)), dtype=float)) / (2 * h)


# Rows ---------------------------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    expr: str                 # matcalc's language
    wrt: str
    shapes: str
    source: str
    point: dict               # name -> generator(rng)
    f: Callable               # values -> float or 2-D array (the ORIGINAL function)
    kind: str                 # "d1" derivative, "d2" second derivative, "vjp", "hvp",
    #                           "mixed" (∂/∂y ∂f/∂x for wrt "x,y")
    closed: Callable | None   # d1/d2: values -> array; vjp/hvp: (values, G/U) -> array
    needs: tuple = ()         # the new functions the row uses
    sym: bool = False         # read as f(sym X); HVP directions symmetric (module docstring)
    tol: float | None = None  # relative tolerance against finite differences (else by order)

    @property
    def fd_tol(self):
        return self.tol or (1e-6 if self.order == 1 else 1e-5)

    @property
    def order(self):
        return 2 if self.kind in ("d2", "hvp", "mixed") else 1

    @property
    def seed(self):
        return zlib.crc32(self.id.encode())

    def values(self, seed_offset=0):
        rng = np.random.default_rng(self.seed + seed_offset)
        return {name: gen(rng) for name, gen in self.point.items()}

    def direction(self, values, seed_offset=0):
        """A cotangent (vjp: the function's shape) or a direction (hvp: the variable's)."""
        if self.kind not in ("vjp", "hvp"):
            return None
        rng = np.random.default_rng(self.seed + 7919 + seed_offset)
        like = self.f(values) if self.kind == "vjp" else values[self.wrt]
        d = rng.normal(size=np.shape(like))
        return sym(d) if self.sym and self.kind == "hvp" else d


ROWS: list[Row] = []


def row(id, expr, wrt, shapes, source, point, f, kind, closed, needs=(), sym=False, tol=None):
    ROWS.append(Row(id, expr, wrt, shapes, source, point, f, kind, closed, tuple(needs), sym,
                    tol))


T = np.transpose


def _inv(a):
    return np.linalg.inv(a)


# expm ---------------------------------------------------------------------------------------------

row("expm-trace", "tr(expm(X))", "X", "X: n×n",
    "Higham §3.2: d tr f(X) = tr(f′(X) dX), so ∇ tr expm(X) = expm(X)ᵀ",
    {"X": gen_general("n")}, lambda v: tr(expm(v["X"])), "d1",
    lambda v: expm(v["X"]).T, ["expm"])
row("expm-trace-weighted", "tr(A expm(X))", "X", "A: n×n, X: n×n",
    "Higham §3.2: adjoint L(X, ·)* = L(Xᵀ, ·): ∇ = L_exp(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_general("n")},
    lambda v: tr(v["A"] @ expm(v["X"])), "d1", lambda v: L_exp(v["X"].T, v["A"].T), ["expm"])
row("expm-bilinear", "a^T expm(X) b", "X", "a: n, b: n, X: n×n",
    "Higham §3.2 (block formula, adjoint): ∇ aᵀe^X b = L_exp(Xᵀ, abᵀ)",
    {"a": gen_vec("n"), "b": gen_vec("n"), "X": gen_general("n")},
    lambda v: scal(v["a"].T @ expm(v["X"]) @ v["b"]), "d1",
    lambda v: L_exp(v["X"].T, v["a"] @ v["b"].T), ["expm"])
row("expm-frobenius", "‖expm(X)‖_F^2", "X", "X: n×n",
    "Higham §3.2: ∇‖e^X‖_F² = 2 L_exp(Xᵀ, e^X)",
    {"X": gen_general("n")}, lambda v: fro2(expm(v["X"])), "d1",
    lambda v: 2 * L_exp(v["X"].T, expm(v["X"])), ["expm"])
row("expm-logdet", "logdet(expm(X))", "X", "X: n×n",
    "Higham ch. 10: det e^X = e^{tr X}, so logdet e^X = tr X and ∇ = I; Cookbook §2.1",
    {"X": gen_general("n")}, lambda v: scal(np.linalg.slogdet(expm(v["X"]))[1]), "d1",
    lambda v: np.eye(SIZES["n"]), ["expm"])
row("expm-det", "det(expm(X))", "X", "X: n×n",
    "Higham ch. 10: det e^X = e^{tr X}, ∇ = e^{tr X} I",
    {"X": gen_general("n")}, lambda v: scal(np.linalg.det(expm(v["X"]))), "d1",
    lambda v: np.exp(np.trace(v["X"])) * np.eye(SIZES["n"]), ["expm"])
row("expm-tensor", "expm(X)", "X", "X: n×n",
    "Higham §3.2: ∂expm(X)_ij/∂X_kl = L_exp(X, e_k e_lᵀ)_ij (block-triangular formula)",
    {"X": gen_general("n")}, lambda v: expm(v["X"]), "d1",
    lambda v: tensor_of(lambda e: L_exp(v["X"], e), v["X"].shape), ["expm"])
row("expm-vjp", "expm(X)", "X", "X: n×n",
    "Higham §3.2: VJP of expm is L_exp(Xᵀ, G)",
    {"X": gen_general("n")}, lambda v: expm(v["X"]), "vjp",
    lambda v, g: L_exp(v["X"].T, g), ["expm"])
row("expm-time", "expm(t A)", "t", "t: scalar, A: n×n",
    "Higham ch. 10 (§10.1): d/dt e^{tA} = A e^{tA}",
    {"t": gen_scalar(), "A": gen_general("n", scale=1.0)}, lambda v: expm(v["t"] * v["A"]),
    "d1", lambda v: v["A"] @ expm(v["t"] * v["A"]), ["expm"])
row("expm-covariance-nll", "x^T expm(-S) x + tr(S)", "S", "x: n, S: n×n symmetric",
    "PinheiroBates: Σ = expm(S), NLL xᵀΣ⁻¹x + logdet Σ; Higham §3.2: ∇ = I − L_exp(−S, xxᵀ)",
    {"x": gen_vec("n"), "S": gen_symmetric("n", -1.0, 1.0)},
    lambda v: scal(v["x"].T @ expm(-v["S"]) @ v["x"]) + tr(v["S"]), "d1",
    lambda v: np.eye(SIZES["n"]) - L_exp(-v["S"].T, v["x"] @ v["x"].T), ["expm"])
row("expm-covariance-solve", "½ x^T solve(expm(S), x) + ½ tr(S)", "S",
    "x: n, S: n×n symmetric",
    "PinheiroBates + Cookbook §2.2: ∇ = ½I − ½L_exp(Sᵀ, Σ⁻ᵀxxᵀΣ⁻ᵀ), Σ = expm(S)",
    {"x": gen_vec("n"), "S": gen_symmetric("n", -1.0, 1.0)},
    lambda v: 0.5 * scal(v["x"].T @ solve(expm(v["S"]), v["x"])) + 0.5 * tr(v["S"]), "d1",
    lambda v: 0.5 * np.eye(SIZES["n"]) - 0.5 * L_exp(
        v["S"].T, _inv(expm(v["S"])).T @ v["x"] @ v["x"].T @ _inv(expm(v["S"])).T),
    ["expm", "solve"])
row("expm-trace-hessian", "tr(expm(X))", "X", "X: n×n",
    "Higham §3.2: ∇ = expm(X)ᵀ, so ∂²/∂X_ij∂X_kl = L_exp(X, e_k e_lᵀ)_ji",
    {"X": gen_general("n")}, lambda v: tr(expm(v["X"])), "d2",
    lambda v: tensor_of(lambda e: L_exp(v["X"], e).T, v["X"].shape), ["expm"])
row("expm-trace-weighted-hvp", "tr(A expm(X))", "X", "A: n×n, X: n×n",
    "HighamRelton: ∇ = L_exp(Xᵀ, Aᵀ), H[U] = L²_exp(Xᵀ; Aᵀ, Uᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_general("n")},
    lambda v: tr(v["A"] @ expm(v["X"])), "hvp",
    lambda v, u: L2_exp(v["X"].T, v["A"].T, u.T), ["expm"])

# logm ---------------------------------------------------------------------------------------------

row("logm-trace", "tr(logm(X))", "X", "X: n×n spd",
    "Higham §3.2 with f′ = 1/x: ∇ tr log X = X⁻ᵀ (= ∇ logdet X, Cookbook §2.1)",
    {"X": gen_spd("n")}, lambda v: tr(logm(v["X"])), "d1", lambda v: _inv(v["X"]).T, ["logm"])
row("logm-trace-weighted", "tr(A logm(X))", "X", "A: n×n, X: n×n spd",
    "Higham §3.2 (Daleckiĭ–Kreĭn): ∇ = L_log(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ logm(v["X"])), "d1", lambda v: L_log(v["X"].T, v["A"].T), ["logm"])
row("log-euclidean-distance", "‖logm(A) − logm(B)‖_F^2", "A", "A: n×n spd, B: n×n spd",
    "Arsigny: log-Euclidean distance; ∇_A = 2 L_log(A, log A − log B) (A symmetric)",
    {"A": gen_spd("n"), "B": gen_spd("n")}, lambda v: fro2(logm(v["A"]) - logm(v["B"])), "d1",
    lambda v: 2 * L_log(v["A"].T, logm(v["A"]) - logm(v["B"])), ["logm"])
row("logm-vjp", "logm(X)", "X", "X: n×n spd",
    "Higham §3.2, ch. 11: VJP of logm is L_log(Xᵀ, G) (Daleckiĭ–Kreĭn)",
    {"X": gen_spd("n")}, lambda v: logm(v["X"]), "vjp", lambda v, g: L_log(v["X"].T, g),
    ["logm"])
row("logm-tensor", "logm(X)", "X", "X: n×n spd",
    "Higham §3.2 (Daleckiĭ–Kreĭn): ∂logm(X)_ij/∂X_kl = L_log(X, e_k e_lᵀ)_ij",
    {"X": gen_spd("n")}, lambda v: logm(v["X"]), "d1",
    lambda v: tensor_of(lambda e: L_log(v["X"], e), v["X"].shape), ["logm"])
row("logm-trace-hvp", "tr(logm(X))", "X", "X: n×n spd",
    "Cookbook §2.2: ∇ = X⁻ᵀ, H[U] = −(X⁻¹UX⁻¹)ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(logm(v["X"])), "hvp",
    lambda v, u: -(_inv(v["X"]) @ u @ _inv(v["X"])).T, ["logm"])
row("log-euclidean-hvp", "‖logm(A) − logm(B)‖_F^2", "A", "A: n×n spd, B: n×n spd",
    "Arsigny + HighamRelton (second-order Daleckiĭ–Kreĭn): "
    "H[U] = 2 L²_log(A; D, Uᵀ) + 2 L_log(A, L_log(A, U)), D = log A − log B",
    {"A": gen_spd("n"), "B": gen_spd("n")}, lambda v: fro2(logm(v["A"]) - logm(v["B"])), "hvp",
    lambda v, u: 2 * L2_sym(v["A"], logm(v["A"]) - logm(v["B"]), *LOG, g_=u.T)
    + 2 * L_log(v["A"], L_log(v["A"], u)), ["logm"])

# sqrtm and X^(1/2) --------------------------------------------------------------------------------

row("sqrtm-trace", "tr(sqrtm(X))", "X", "X: n×n spd",
    "Higham §3.2 with f′ = ½x^{−½}: ∇ = ½(X^{−½})ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(sqrtm(v["X"])), "d1",
    lambda v: 0.5 * _inv(sqrtm(v["X"])).T, ["sqrtm"])
row("sqrtm-trace-weighted", "tr(A sqrtm(X))", "X", "A: n×n, X: n×n spd",
    "Higham §6.1: L_sqrt solves R L + L R = E; ∇ = L_sqrt(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ sqrtm(v["X"])), "d1", lambda v: L_sqrt(v["X"].T, v["A"].T), ["sqrtm"])
row("half-power-trace-weighted", "tr(A X^(1/2))", "X", "A: n×n, X: n×n spd",
    "Higham §6.1 (X^(1/2) is the principal square root): ∇ = L_sqrt(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ sqrtm(v["X"])), "d1", lambda v: L_sqrt(v["X"].T, v["A"].T),
    ["X^(1/2)"])
row("sqrtm-vjp", "sqrtm(X)", "X", "X: n×n spd",
    "Higham §6.1: VJP of sqrtm is the solution of R Z + Z R = G (R = X^½ symmetric)",
    {"X": gen_spd("n")}, lambda v: sqrtm(v["X"]), "vjp", lambda v, g: L_sqrt(v["X"].T, g),
    ["sqrtm"])
row("half-power-vjp", "X^(1/2)", "X", "X: n×n spd",
    "Higham §6.1: VJP of X^½ solves R Z + Z R = G",
    {"X": gen_spd("n")}, lambda v: sqrtm(v["X"]), "vjp", lambda v, g: L_sqrt(v["X"].T, g),
    ["X^(1/2)"])
row("sqrtm-tensor", "sqrtm(X)", "X", "X: n×n spd",
    "Higham §6.1: ∂sqrtm(X)_ij/∂X_kl = L_sqrt(X, e_k e_lᵀ)_ij",
    {"X": gen_spd("n")}, lambda v: sqrtm(v["X"]), "d1",
    lambda v: tensor_of(lambda e: L_sqrt(v["X"], e), v["X"].shape), ["sqrtm"])
row("root-euclidean-distance", "‖sqrtm(A) − sqrtm(B)‖_F^2", "A", "A: n×n spd, B: n×n spd",
    "Dryden: square-root Euclidean distance; ∇_A = 2 L_sqrt(A, A^½ − B^½)",
    {"A": gen_spd("n"), "B": gen_spd("n")}, lambda v: fro2(sqrtm(v["A"]) - sqrtm(v["B"])), "d1",
    lambda v: 2 * L_sqrt(v["A"].T, sqrtm(v["A"]) - sqrtm(v["B"])), ["sqrtm"])
row("sqrtm-trace-hvp", "tr(sqrtm(X))", "X", "X: n×n spd",
    "Higham §6.1 + Cookbook §2.2: ∇ = ½R⁻ᵀ, H[U] = −½(R⁻¹ L_sqrt(X, U) R⁻¹)ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(sqrtm(v["X"])), "hvp",
    lambda v, u: -0.5 * (_inv(sqrtm(v["X"])) @ L_sqrt(v["X"], u) @ _inv(sqrtm(v["X"]))).T,
    ["sqrtm"])

# real powers X^p ----------------------------------------------------------------------------------

row("power-trace", "tr(X^0.7)", "X", "X: n×n spd",
    "Higham §3.2 with f′ = p x^{p−1}: ∇ tr X^p = p (X^{p−1})ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(mpow(v["X"], 0.7)), "d1",
    lambda v: 0.7 * mpow(v["X"], -0.3).T, ["X^p"])
row("power-trace-negative", "tr(X^(-1/2))", "X", "X: n×n spd",
    "Higham §3.2: ∇ tr X^{−½} = −½ (X^{−3/2})ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(mpow(v["X"], -0.5)), "d1",
    lambda v: -0.5 * mpow(v["X"], -1.5).T, ["X^p"])
row("power-trace-weighted", "tr(A X^(3/2))", "X", "A: n×n, X: n×n spd",
    "Higham §3.2 (Daleckiĭ–Kreĭn): ∇ = L_{x^{3/2}}(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ mpow(v["X"], 1.5)), "d1", lambda v: L_pow(v["X"].T, v["A"].T, 1.5),
    ["X^p"])
row("power-vjp", "X^(1/3)", "X", "X: n×n spd",
    "Higham §3.2 (Daleckiĭ–Kreĭn): VJP of X^{1/3} is L_{x^{1/3}}(Xᵀ, G)",
    {"X": gen_spd("n")}, lambda v: mpow(v["X"], 1 / 3), "vjp",
    lambda v, g: L_pow(v["X"].T, g, 1 / 3), ["X^p"])
row("power-trace-hvp", "tr(X^2.5)", "X", "X: n×n spd",
    "Higham §3.2: ∇ = 2.5(X^{1.5})ᵀ, H[U] = 2.5 L_{x^{1.5}}(X, U)ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(mpow(v["X"], 2.5)), "hvp",
    lambda v, u: 2.5 * L_pow(v["X"], u, 1.5).T, ["X^p"])
row("half-powers-multiply", "tr(X^(1/2) X^(1/2))", "X", "X: n×n spd",
    "Higham ch. 6: X^½X^½ = X, so ∇ tr = I",
    {"X": gen_spd("n")}, lambda v: tr(sqrtm(v["X"]) @ sqrtm(v["X"])), "d1",
    lambda v: np.eye(SIZES["n"]), ["X^(1/2)"])

# solve and A \ B ----------------------------------------------------------------------------------

row("solve-rhs-jacobian", "solve(A, b)", "b", "A: n×n, b: n",
    "Cookbook §2.2 / Giles §2.2: ∂(A⁻¹b)/∂b = A⁻¹",
    {"A": gen_invertible("n"), "b": gen_vec("n")}, lambda v: solve(v["A"], v["b"]), "d1",
    lambda v: _inv(v["A"]), ["solve"])
row("solve-matrix-tensor", "solve(A, b)", "A", "A: n×n, b: n",
    "Cookbook §2.2: d(A⁻¹b) = −A⁻¹ dA A⁻¹b, ∂x_i/∂A_kl = −(A⁻¹)_ik x_l",
    {"A": gen_invertible("n"), "b": gen_vec("n")}, lambda v: solve(v["A"], v["b"]), "d1",
    lambda v: -np.einsum("ik,l->ikl", _inv(v["A"]), solve(v["A"], v["b"])[:, 0]), ["solve"])
row("solve-matrix-vjp", "solve(A, B)", "A", "A: n×n, B: n×p",
    "Giles §2.2: C = A⁻¹B, Ā = −A⁻ᵀ C̄ Cᵀ",
    {"A": gen_invertible("n"), "B": gen_general("n", "p", 1.0)},
    lambda v: solve(v["A"], v["B"]), "vjp",
    lambda v, g: -_inv(v["A"]).T @ g @ solve(v["A"], v["B"]).T, ["solve"])
row("solve-rhs-vjp", "solve(A, B)", "B", "A: n×n, B: n×p",
    "Giles §2.2: B̄ = A⁻ᵀ C̄",
    {"A": gen_invertible("n"), "B": gen_general("n", "p", 1.0)},
    lambda v: solve(v["A"], v["B"]), "vjp", lambda v, g: _inv(v["A"]).T @ g, ["solve"])
row("backslash-trace", "tr(C (A \\ B))", "A", "A: n×n, B: n×p, C: p×n",
    "Cookbook §2.2 (∂tr(CA⁻¹B)/∂A = −(A⁻¹BCA⁻¹)ᵀ)",
    {"A": gen_invertible("n"), "B": gen_general("n", "p", 1.0),
     "C": gen_general("p", "n", 1.0)},
    lambda v: tr(v["C"] @ solve(v["A"], v["B"])), "d1",
    lambda v: -(_inv(v["A"]) @ v["B"] @ v["C"] @ _inv(v["A"])).T, ["\\"])
row("backslash-rhs", "tr(C (A \\ B))", "B", "A: n×n, B: n×p, C: p×n",
    "Cookbook §2.5: ∂tr(CA⁻¹B)/∂B = A⁻ᵀCᵀ",
    {"A": gen_invertible("n"), "B": gen_general("n", "p", 1.0),
     "C": gen_general("p", "n", 1.0)},
    lambda v: tr(v["C"] @ solve(v["A"], v["B"])), "d1",
    lambda v: _inv(v["A"]).T @ v["C"].T, ["\\"])
row("least-squares-solve-matrix", "‖solve(A, b) − c‖^2", "A", "A: n×n, b: n, c: n",
    "least squares through solve; Giles §2.2: ∇_A = −2A⁻ᵀ(x − c)xᵀ, x = A⁻¹b",
    {"A": gen_invertible("n"), "b": gen_vec("n"), "c": gen_vec("n")},
    lambda v: fro2(solve(v["A"], v["b"]) - v["c"]), "d1",
    lambda v: -2 * _inv(v["A"]).T @ (solve(v["A"], v["b"]) - v["c"]) @ solve(v["A"], v["b"]).T,
    ["solve"])
row("least-squares-solve-rhs", "‖solve(A, b) − c‖^2", "b", "A: n×n, b: n, c: n",
    "least squares through solve: ∇_b = 2A⁻ᵀ(A⁻¹b − c)",
    {"A": gen_invertible("n"), "b": gen_vec("n"), "c": gen_vec("n")},
    lambda v: fro2(solve(v["A"], v["b"]) - v["c"]), "d1",
    lambda v: 2 * _inv(v["A"]).T @ (solve(v["A"], v["b"]) - v["c"]), ["solve"])
row("quadratic-solve-vector", "x^T solve(A, x)", "x", "A: n×n, x: n",
    "Cookbook §2.4 (xᵀBx with B = A⁻¹): ∇ = (A⁻¹ + A⁻ᵀ)x",
    {"A": gen_invertible("n"), "x": gen_vec("n")},
    lambda v: scal(v["x"].T @ solve(v["A"], v["x"])), "d1",
    lambda v: (_inv(v["A"]) + _inv(v["A"]).T) @ v["x"], ["solve"])
row("quadratic-solve-matrix", "x^T solve(A, x)", "A", "A: n×n, x: n",
    "Cookbook §2.2 (∂aᵀX⁻¹b/∂X = −X⁻ᵀabᵀX⁻ᵀ)",
    {"A": gen_invertible("n"), "x": gen_vec("n")},
    lambda v: scal(v["x"].T @ solve(v["A"], v["x"])), "d1",
    lambda v: -_inv(v["A"]).T @ v["x"] @ v["x"].T @ _inv(v["A"]).T, ["solve"])
row("generalised-least-squares", "(y − X β)^T solve(Σ, y − X β)", "β",
    "X: m×n, β: n, y: m, Σ: m×m spd",
    "GLS / Gaussian NLL (Rasmussen §2.2); Cookbook §2.4: ∇_β = −2XᵀΣ⁻¹(y − Xβ)",
    {"X": gen_general("m", "n", 1.0), "β": gen_vec("n"), "y": gen_vec("m"), "Σ": gen_spd("m")},
    lambda v: scal((v["y"] - v["X"] @ v["β"]).T @ solve(v["Σ"], v["y"] - v["X"] @ v["β"])),
    "d1", lambda v: -2 * v["X"].T @ solve(v["Σ"], v["y"] - v["X"] @ v["β"]), ["solve"])
row("generalised-least-squares-hessian", "(y − X β)^T solve(Σ, y − X β)", "β",
    "X: m×n, β: n, y: m, Σ: m×m spd",
    "GLS normal equations: ∇²_β = 2XᵀΣ⁻¹X",
    {"X": gen_general("m", "n", 1.0), "β": gen_vec("n"), "y": gen_vec("m"), "Σ": gen_spd("m")},
    lambda v: scal((v["y"] - v["X"] @ v["β"]).T @ solve(v["Σ"], v["y"] - v["X"] @ v["β"])),
    "d2", lambda v: 2 * v["X"].T @ solve(v["Σ"], v["X"]), ["solve"])
row("quadratic-solve-hessian", "x^T solve(A, x)", "x", "A: n×n, x: n",
    "Cookbook §2.4: ∇²xᵀBx = B + Bᵀ with B = A⁻¹",
    {"A": gen_invertible("n"), "x": gen_vec("n")},
    lambda v: scal(v["x"].T @ solve(v["A"], v["x"])), "d2",
    lambda v: _inv(v["A"]) + _inv(v["A"]).T, ["solve"])
row("least-squares-solve-hessian", "‖solve(A, b) − c‖^2", "b", "A: n×n, b: n, c: n",
    "least squares through solve: ∇²_b = 2A⁻ᵀA⁻¹",
    {"A": gen_invertible("n"), "b": gen_vec("n"), "c": gen_vec("n")},
    lambda v: fro2(solve(v["A"], v["b"]) - v["c"]), "d2",
    lambda v: 2 * _inv(v["A"]).T @ _inv(v["A"]), ["solve"])


def _ls_solve_hvp(v, u):
    ai = _inv(v["A"])
    x = ai @ v["b"]
    r = x - v["c"]
    dx = -ai @ u @ x
    return (2 * ai.T @ u.T @ ai.T @ r @ x.T - 2 * ai.T @ dx @ x.T - 2 * ai.T @ r @ dx.T)


row("least-squares-solve-matrix-hvp", "‖solve(A, b) − c‖^2", "A", "A: n×n, b: n, c: n",
    "Giles §2.2 differentiated once more: ∇ = −2A⁻ᵀrxᵀ, dx = −A⁻¹Ux, dA⁻ᵀ = −A⁻ᵀUᵀA⁻ᵀ",
    {"A": gen_invertible("n"), "b": gen_vec("n"), "c": gen_vec("n")},
    lambda v: fro2(solve(v["A"], v["b"]) - v["c"]), "hvp", _ls_solve_hvp, ["solve"])

# pinv ---------------------------------------------------------------------------------------------

row("pinv-rhs-jacobian", "pinv(A) b", "b", "A: m×n, b: m",
    "GolubPereyra: linear in b, ∂(A⁺b)/∂b = A⁺",
    {"A": gen_rank("m", "n"), "b": gen_vec("m")}, lambda v: pinv(v["A"]) @ v["b"], "d1",
    lambda v: pinv(v["A"]), ["pinv"])
row("pinv-trace-tall", "tr(C pinv(A))", "A", "A: m×n, C: m×n",
    "GolubPereyra (4.12), full column rank",
    {"A": gen_rank("m", "n"), "C": gen_general("m", "n", 1.0)},
    lambda v: tr(v["C"] @ pinv(v["A"])), "d1", lambda v: pinv_grad_trace(v["A"], v["C"]),
    ["pinv"])
row("pinv-trace-wide", "tr(C pinv(A))", "A", "A: p×n, C: p×n",
    "GolubPereyra (4.12), full row rank (the (I − A⁺A) term)",
    {"A": gen_rank("p", "n"), "C": gen_general("p", "n", 1.0)},
    lambda v: tr(v["C"] @ pinv(v["A"])), "d1", lambda v: pinv_grad_trace(v["A"], v["C"]),
    ["pinv"])
row("pinv-vjp", "pinv(A)", "A", "A: m×n",
    "GolubPereyra (4.12): VJP = ∇ tr(Gᵀ A⁺)",
    {"A": gen_rank("m", "n")}, lambda v: pinv(v["A"]), "vjp",
    lambda v, g: pinv_grad_trace(v["A"], g.T), ["pinv"])

# chol ---------------------------------------------------------------------------------------------

row("chol-vjp", "chol(A)", "A", "A: n×n spd",
    "Murray (2016) eq. for reverse mode: Ā = sym(L⁻ᵀ Φ(LᵀL̄) L⁻¹)",
    {"A": gen_spd("n")}, lambda v: chol(v["A"]), "vjp", lambda v, g: chol_vjp(v["A"], g),
    ["chol"], sym=True)
row("chol-tensor", "chol(A)", "A", "A: n×n spd",
    "Murray (2016): dL = L Φ(L⁻¹ dA L⁻ᵀ) (symmetric dA)",
    {"A": gen_spd("n")}, lambda v: chol(v["A"]), "d1",
    lambda v: tensor_of(lambda e: chol(v["A"]) @ Phi(
        _inv(chol(v["A"])) @ sym(e) @ _inv(chol(v["A"])).T), v["A"].shape),
    ["chol"], sym=True)
row("chol-logdet", "2 sum(log(diag(chol(A))))", "A", "A: n×n spd",
    "Murray / Rasmussen A.4: 2Σ log L_ii = logdet A, ∇ = A⁻¹ (Cookbook §2.1)",
    {"A": gen_spd("n")}, lambda v: 2 * scal(np.sum(np.log(np.diag(chol(v["A"]))))), "d1",
    lambda v: _inv(v["A"]), ["chol"], sym=True)


def _nll(v):
    L = chol(v["Σ"])
    z = np.linalg.solve(L, v["x"])
    return 0.5 * fro2(z) + scal(np.sum(np.log(np.diag(L))))


row("gaussian-nll-cholesky", "½‖solve(chol(Σ), x)‖^2 + sum(log(diag(chol(Σ))))", "Σ",
    "Σ: n×n spd, x: n",
    "Rasmussen §2.2, A.4 (NLL via L); Cookbook §2.1–2.2: ∇_Σ = ½Σ⁻¹ − ½Σ⁻¹xxᵀΣ⁻¹",
    {"Σ": gen_spd("n"), "x": gen_vec("n")}, _nll, "d1",
    lambda v: 0.5 * _inv(v["Σ"]) - 0.5 * _inv(v["Σ"]) @ v["x"] @ v["x"].T @ _inv(v["Σ"]),
    ["chol", "solve"], sym=True)
row("gaussian-nll-cholesky-mean", "½‖solve(chol(Σ), x)‖^2 + sum(log(diag(chol(Σ))))", "x",
    "Σ: n×n spd, x: n",
    "Rasmussen §2.2: ∇_x = Σ⁻¹x",
    {"Σ": gen_spd("n"), "x": gen_vec("n")}, _nll, "d1", lambda v: _inv(v["Σ"]) @ v["x"],
    ["chol", "solve"])
row("gaussian-nll-cholesky-mean-hessian",
    "½‖solve(chol(Σ), x)‖^2 + sum(log(diag(chol(Σ))))", "x", "Σ: n×n spd, x: n",
    "Rasmussen §2.2: ∇²_x = Σ⁻¹",
    {"Σ": gen_spd("n"), "x": gen_vec("n")}, _nll, "d2", lambda v: _inv(v["Σ"]),
    ["chol", "solve"])


def _nll_hvp(v, u):
    si = _inv(v["Σ"])
    xx = v["x"] @ v["x"].T
    return sym(0.5 * si @ u @ si @ xx @ si + 0.5 * si @ xx @ si @ u @ si - 0.5 * si @ u @ si)


row("gaussian-nll-cholesky-hvp", "½‖solve(chol(Σ), x)‖^2 + sum(log(diag(chol(Σ))))", "Σ",
    "Σ: n×n spd, x: n",
    "Cookbook §2.2 differentiated once more (symmetric U): "
    "H[U] = ½Σ⁻¹UΣ⁻¹xxᵀΣ⁻¹ + ½Σ⁻¹xxᵀΣ⁻¹UΣ⁻¹ − ½Σ⁻¹UΣ⁻¹",
    {"Σ": gen_spd("n"), "x": gen_vec("n")}, _nll, "hvp", _nll_hvp, ["chol", "solve"], sym=True)
row("chol-frobenius", "‖chol(A)‖_F^2", "A", "A: n×n spd",
    "Murray: ‖L‖_F² = tr(LLᵀ) = tr A, ∇ = I",
    {"A": gen_spd("n")}, lambda v: fro2(chol(v["A"])), "d1", lambda v: np.eye(SIZES["n"]),
    ["chol"], sym=True)
row("chol-bilinear", "a^T chol(A) b", "A", "a: n, b: n, A: n×n spd",
    "Murray (2016) reverse mode with L̄ = abᵀ",
    {"a": gen_vec("n"), "b": gen_vec("n"), "A": gen_spd("n")},
    lambda v: scal(v["a"].T @ chol(v["A"]) @ v["b"]), "d1",
    lambda v: chol_vjp(v["A"], v["a"] @ v["b"].T), ["chol"], sym=True)
row("chol-trace", "tr(chol(A))", "A", "A: n×n spd",
    "Murray (2016) with L̄ = I: ∇ = sym(½ L⁻ᵀ diag(L) L⁻¹)",
    {"A": gen_spd("n")}, lambda v: tr(chol(v["A"])), "d1",
    lambda v: sym(0.5 * _inv(chol(v["A"])).T @ np.diag(np.diag(chol(v["A"])))
                  @ _inv(chol(v["A"]))), ["chol"], sym=True)

# eigenvalues of a symmetric matrix ----------------------------------------------------------------

row("lambda-max", "λ_max(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9 / Cookbook §2.3: dλ = vᵀ(dS)v, ∇λ_max = vvᵀ",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[-1, 0]), "d1",
    lambda v: eigpair(v["S"], -1)[1] @ eigpair(v["S"], -1)[1].T, ["λ_max"])
row("lambda-min", "lambda_min(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9: ∇λ_min = v₁v₁ᵀ",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[0, 0]), "d1",
    lambda v: eigpair(v["S"], 0)[1] @ eigpair(v["S"], 0)[1].T, ["λ_min"])
row("eigvals-tensor", "eigvals(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9 / Giles §3.1: ∂λ_i/∂S_kl = V_ki V_li (ascending)",
    {"S": gen_symmetric("n")}, lambda v: eigvals(v["S"]), "d1",
    lambda v: np.einsum("ki,li->ikl", *(2 * [np.linalg.eigh(v["S"])[1]])), ["eigvals"])
row("eigvals-vjp", "eigvals(S)", "S", "S: n×n symmetric",
    "Giles §3.1: S̄ = V diag(λ̄) Vᵀ",
    {"S": gen_symmetric("n")}, lambda v: eigvals(v["S"]), "vjp",
    lambda v, g: np.linalg.eigh(v["S"])[1] @ np.diag(g[:, 0]) @ np.linalg.eigh(v["S"])[1].T,
    ["eigvals"])
row("eigvals-sum", "sum(eigvals(S))", "S", "S: n×n symmetric",
    "Cookbook §2.3: Σλ_i = tr S, ∇ = I",
    {"S": gen_symmetric("n")}, lambda v: scal(np.sum(eigvals(v["S"]))), "d1",
    lambda v: np.eye(SIZES["n"]), ["eigvals"])
row("eigvals-squared", "‖eigvals(S)‖^2", "S", "S: n×n symmetric",
    "MN ch. 8: Σλ_i² = ‖S‖_F² for symmetric S, ∇ = 2S",
    {"S": gen_symmetric("n")}, lambda v: fro2(eigvals(v["S"])), "d1", lambda v: 2 * v["S"],
    ["eigvals"])
row("spectral-gap", "λ_max(S) − λ_min(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9: ∇ = v_n v_nᵀ − v₁v₁ᵀ",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[-1, 0] - eigvals(v["S"])[0, 0]),
    "d1", lambda v: (eigpair(v["S"], -1)[1] @ eigpair(v["S"], -1)[1].T
                     - eigpair(v["S"], 0)[1] @ eigpair(v["S"], 0)[1].T), ["λ_max", "λ_min"])
row("lambda-max-rank-one-update", "λ_max(S + x x^T)", "x", "S: n×n symmetric, x: n",
    "MN Thm 8.9 + chain rule: ∇_x = 2(vᵀx)v, v the top eigenvector of S + xxᵀ",
    {"S": gen_symmetric("n"), "x": gen_vec("n", 0.4)},
    lambda v: scal(eigvals(v["S"] + v["x"] @ v["x"].T)[-1, 0]), "d1",
    lambda v: 2 * scal(eigpair(v["S"] + v["x"] @ v["x"].T, -1)[1].T @ v["x"])
    * eigpair(v["S"] + v["x"] @ v["x"].T, -1)[1], ["λ_max"])


def _lmax_hvp(v, u):
    lam, vec = eigpair(v["S"], -1)
    k = SIZES["n"]
    pinv_shift = np.linalg.pinv(lam * np.eye(k) - v["S"], rcond=1e-10)
    dv = pinv_shift @ u @ vec
    return sym(dv @ vec.T + vec @ dv.T)


row("lambda-max-hvp", "λ_max(S)", "S", "S: n×n symmetric",
    "MN §8.9 / Cookbook §2.3: dv = (λI − S)⁺(dS)v, so H[U] = dv vᵀ + v dvᵀ (symmetric U)",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[-1, 0]), "hvp", _lmax_hvp,
    ["λ_max"], sym=True)
row("lambda-max-hessian", "λ_max(S)", "S", "S: n×n symmetric",
    "MN §8.9: d²λ = 2vᵀ(dS)(λI − S)⁺(dS)v (symmetric directions)",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[-1, 0]), "d2",
    lambda v: tensor_of(lambda e: _lmax_hvp(v, sym(e)), v["S"].shape),
    ["λ_max"], sym=True)


def _gram_top(a):
    lam, vec = np.linalg.eigh(a.T @ a)
    return lam[-1], vec[:, -1:]


def _gram_hvp(v, u):
    a = v["A"]
    lam, vec = _gram_top(a)
    k = a.shape[1]
    shift = np.linalg.pinv(lam * np.eye(k) - a.T @ a, rcond=1e-10)
    dv = shift @ (u.T @ a + a.T @ u) @ vec
    return 2 * u @ vec @ vec.T + 2 * a @ (dv @ vec.T + vec @ dv.T)


row("lambda-max-gram", "λ_max(A^T A)", "A", "A: m×n",
    "MN Thm 8.9 + chain rule: ∇ = 2Avvᵀ (= 2σ₁u₁v₁ᵀ)",
    {"A": gen_rank("m", "n")}, lambda v: scal(_gram_top(v["A"])[0]), "d1",
    lambda v: 2 * v["A"] @ _gram_top(v["A"])[1] @ _gram_top(v["A"])[1].T, ["λ_max"])
row("lambda-max-gram-hvp", "λ_max(A^T A)", "A", "A: m×n",
    "MN §8.9: H[U] = 2Uvvᵀ + 2A(dv vᵀ + v dvᵀ), dv = (λI − AᵀA)⁺(UᵀA + AᵀU)v",
    {"A": gen_rank("m", "n")}, lambda v: scal(_gram_top(v["A"])[0]), "hvp", _gram_hvp,
    ["λ_max"])

# singular values ----------------------------------------------------------------------------------


def _svd(a):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u, s, vt.T


row("svdvals-tensor", "svdvals(A)", "A", "A: m×n",
    "Giles §3.2: dσ_i = u_iᵀ(dA)v_i, ∂σ_i/∂A_kl = U_ki V_li (descending)",
    {"A": gen_rank("m", "n")}, lambda v: svdvals(v["A"]), "d1",
    lambda v: np.einsum("ki,li->ikl", _svd(v["A"])[0], _svd(v["A"])[2]), ["svdvals"])
row("svdvals-vjp", "svdvals(A)", "A", "A: p×n",
    "Giles §3.2: Ā = U diag(σ̄) Vᵀ (wide A)",
    {"A": gen_rank("p", "n")}, lambda v: svdvals(v["A"]), "vjp",
    lambda v, g: _svd(v["A"])[0] @ np.diag(g[:, 0]) @ _svd(v["A"])[2].T, ["svdvals"])
row("sigma-max", "σ_max(A)", "A", "A: m×n",
    "Giles §3.2: ∇σ_max = u₁v₁ᵀ",
    {"A": gen_rank("m", "n")}, lambda v: scal(svdvals(v["A"])[0, 0]), "d1",
    lambda v: _svd(v["A"])[0][:, :1] @ _svd(v["A"])[2][:, :1].T, ["σ_max"])
row("sigma-max-wide", "sigma_max(A)", "A", "A: p×n",
    "Giles §3.2: ∇σ_max = u₁v₁ᵀ (wide A)",
    {"A": gen_rank("p", "n")}, lambda v: scal(svdvals(v["A"])[0, 0]), "d1",
    lambda v: _svd(v["A"])[0][:, :1] @ _svd(v["A"])[2][:, :1].T, ["σ_max"])
row("spectral-norm-squared", "‖W‖₂^2", "W", "W: m×n",
    "YoshidaMiyato: ∇‖W‖₂² = 2σ₁u₁v₁ᵀ",
    {"W": gen_rank("m", "n")}, lambda v: scal(svdvals(v["W"])[0, 0]) ** 2, "d1",
    lambda v: 2 * scal(svdvals(v["W"])[0, 0]) * _svd(v["W"])[0][:, :1]
    @ _svd(v["W"])[2][:, :1].T, ["‖·‖₂"])
row("spectral-norm-penalty", "‖X W − Y‖_F^2 + λ‖W‖₂^2", "W",
    "X: m×n, W: n×p, Y: m×p, λ: scalar",
    "YoshidaMiyato: ∇ = 2Xᵀ(XW − Y) + 2λσ₁u₁v₁ᵀ",
    {"X": gen_general("m", "n", 1.0), "W": gen_rank("n", "p"), "Y": gen_general("m", "p", 1.0),
     "λ": gen_scalar(0.2, 1.0)},
    lambda v: fro2(v["X"] @ v["W"] - v["Y"]) + v["λ"] * scal(svdvals(v["W"])[0, 0]) ** 2, "d1",
    lambda v: 2 * v["X"].T @ (v["X"] @ v["W"] - v["Y"]) + 2 * v["λ"] * scal(
        svdvals(v["W"])[0, 0]) * _svd(v["W"])[0][:, :1] @ _svd(v["W"])[2][:, :1].T, ["‖·‖₂"])
row("sigma-max-squared-hvp", "σ_max(A)^2", "A", "A: m×n",
    "σ_max² = λ_max(AᵀA); MN §8.9 (as lambda-max-gram-hvp)",
    {"A": gen_rank("m", "n")}, lambda v: scal(svdvals(v["A"])[0, 0]) ** 2, "hvp", _gram_hvp,
    ["σ_max"])
row("nuclear-norm", "‖A‖_*", "A", "A: m×n",
    "CandesRecht: ∇‖A‖_* = UVᵀ at full rank (thin SVD)",
    {"A": gen_rank("m", "n")}, lambda v: scal(np.sum(svdvals(v["A"]))), "d1",
    lambda v: _svd(v["A"])[0] @ _svd(v["A"])[2].T, ["‖·‖_*"])
row("nuclear-norm-wide", "nuclear(A)", "A", "A: p×n",
    "CandesRecht: ∇‖A‖_* = UVᵀ (wide A)",
    {"A": gen_rank("p", "n")}, lambda v: scal(np.sum(svdvals(v["A"]))), "d1",
    lambda v: _svd(v["A"])[0] @ _svd(v["A"])[2].T, ["nuclear"])
row("nuclear-regularised-fit", "½‖A − M‖_F^2 + λ‖A‖_*", "A", "A: m×n, M: m×n, λ: scalar",
    "CandesRecht / SVT: ∇ = A − M + λUVᵀ",
    {"A": gen_rank("m", "n"), "M": gen_general("m", "n", 1.0), "λ": gen_scalar(0.2, 1.0)},
    lambda v: 0.5 * fro2(v["A"] - v["M"]) + v["λ"] * scal(np.sum(svdvals(v["A"]))), "d1",
    lambda v: v["A"] - v["M"] + v["λ"] * _svd(v["A"])[0] @ _svd(v["A"])[2].T, ["‖·‖_*"])
row("svdvals-sum", "sum(svdvals(A))", "A", "A: m×n",
    "Giles §3.2: Σσ_i = ‖A‖_*, ∇ = UVᵀ",
    {"A": gen_rank("m", "n")}, lambda v: scal(np.sum(svdvals(v["A"]))), "d1",
    lambda v: _svd(v["A"])[0] @ _svd(v["A"])[2].T, ["svdvals"])
row("svdvals-squared", "‖svdvals(A)‖^2", "A", "A: p×n",
    "Σσ_i² = ‖A‖_F², ∇ = 2A",
    {"A": gen_rank("p", "n")}, lambda v: fro2(svdvals(v["A"])), "d1", lambda v: 2 * v["A"],
    ["svdvals"])

# mixed second derivatives ∂/∂y (∂f/∂x) ------------------------------------------------------------

row("expm-bilinear-mixed", "a^T expm(X) b", "a,b", "a: n, b: n, X: n×n",
    "∂f/∂a = e^X b, so ∂/∂b ∂f/∂a = e^X (Higham ch. 10)",
    {"a": gen_vec("n"), "b": gen_vec("n"), "X": gen_general("n")},
    lambda v: scal(v["a"].T @ expm(v["X"]) @ v["b"]), "mixed", lambda v: expm(v["X"]), ["expm"])
row("solve-bilinear-mixed", "x^T solve(A, y)", "x,y", "A: n×n, x: n, y: n",
    "Cookbook §2.4 (xᵀBy with B = A⁻¹): ∂/∂y ∂f/∂x = A⁻¹",
    {"A": gen_invertible("n"), "x": gen_vec("n"), "y": gen_vec("n")},
    lambda v: scal(v["x"].T @ solve(v["A"], v["y"])), "mixed", lambda v: _inv(v["A"]),
    ["solve"])
row("generalised-least-squares-mixed", "(y − X β)^T solve(Σ, y − X β)", "β,y",
    "X: m×n, β: n, y: m, Σ: m×m spd",
    "GLS: ∇_β = −2XᵀΣ⁻¹(y − Xβ), so ∂/∂y ∇_β = −2XᵀΣ⁻¹",
    {"X": gen_general("m", "n", 1.0), "β": gen_vec("n"), "y": gen_vec("m"), "Σ": gen_spd("m")},
    lambda v: scal((v["y"] - v["X"] @ v["β"]).T @ solve(v["Σ"], v["y"] - v["X"] @ v["β"])),
    "mixed", lambda v: -2 * v["X"].T @ _inv(v["Σ"]), ["solve"])

# LaTeX spellings (the same identities, written as LaTeX) ------------------------------------------

row("lambda-max-latex", r"\lambda_{\max}(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9: ∇λ_max = vvᵀ",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[-1, 0]), "d1",
    lambda v: eigpair(v["S"], -1)[1] @ eigpair(v["S"], -1)[1].T, ["λ_max"])
row("lambda-min-latex", r"\lambda_{\min}(S)", "S", "S: n×n symmetric",
    "MN Thm 8.9: ∇λ_min = v₁v₁ᵀ",
    {"S": gen_symmetric("n")}, lambda v: scal(eigvals(v["S"])[0, 0]), "d1",
    lambda v: eigpair(v["S"], 0)[1] @ eigpair(v["S"], 0)[1].T, ["λ_min"])
row("sigma-max-latex", r"\sigma_{\max}(A)", "A", "A: m×n",
    "Giles §3.2: ∇σ_max = u₁v₁ᵀ",
    {"A": gen_rank("m", "n")}, lambda v: scal(svdvals(v["A"])[0, 0]), "d1",
    lambda v: _svd(v["A"])[0][:, :1] @ _svd(v["A"])[2][:, :1].T, ["σ_max"])
row("nuclear-norm-latex", r"\|A\|_*", "A", "A: p×n",
    "CandesRecht: ∇‖A‖_* = UVᵀ",
    {"A": gen_rank("p", "n")}, lambda v: scal(np.sum(svdvals(v["A"]))), "d1",
    lambda v: _svd(v["A"])[0] @ _svd(v["A"])[2].T, ["‖·‖_*"])
row("spectral-norm-squared-latex", r"\|W\|_2^2", "W", "W: m×n",
    "YoshidaMiyato: ∇‖W‖₂² = 2σ₁u₁v₁ᵀ",
    {"W": gen_rank("m", "n")}, lambda v: scal(svdvals(v["W"])[0, 0]) ** 2, "d1",
    lambda v: 2 * scal(svdvals(v["W"])[0, 0]) * _svd(v["W"])[0][:, :1]
    @ _svd(v["W"])[2][:, :1].T, ["‖·‖₂"])
row("expm-trace-latex", r"\operatorname{tr}(\operatorname{expm}(X))", "X", "X: n×n",
    "Higham §3.2: ∇ tr expm(X) = expm(X)ᵀ",
    {"X": gen_general("n")}, lambda v: tr(expm(v["X"])), "d1", lambda v: expm(v["X"]).T,
    ["expm"])
row("half-power-latex", r"\operatorname{tr}(A X^{1/2})", "X", "A: n×n, X: n×n spd",
    "Higham §6.1: ∇ = L_sqrt(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ sqrtm(v["X"])), "d1", lambda v: L_sqrt(v["X"].T, v["A"].T),
    ["X^(1/2)"])
row("backslash-latex", r"\operatorname{tr}(C (A \backslash B))", "A",
    "A: n×n, B: n×p, C: p×n",
    "Cookbook §2.2: ∇ = −(A⁻¹BCA⁻¹)ᵀ",
    {"A": gen_invertible("n"), "B": gen_general("n", "p", 1.0),
     "C": gen_general("p", "n", 1.0)},
    lambda v: tr(v["C"] @ solve(v["A"], v["B"])), "d1",
    lambda v: -(_inv(v["A"]) @ v["B"] @ v["C"] @ _inv(v["A"])).T, ["\\"])
row("gaussian-nll-cholesky-latex",
    r"\frac{1}{2}\|\operatorname{solve}(\operatorname{chol}(\Sigma), x)\|^2"
    r" + \operatorname{sum}(\log(\operatorname{diag}(\operatorname{chol}(\Sigma))))", "Σ",
    "Σ: n×n spd, x: n",
    "Rasmussen §2.2, A.4: ∇_Σ = ½Σ⁻¹ − ½Σ⁻¹xxᵀΣ⁻¹",
    {"Σ": gen_spd("n"), "x": gen_vec("n")}, _nll, "d1",
    lambda v: 0.5 * _inv(v["Σ"]) - 0.5 * _inv(v["Σ"]) @ v["x"] @ v["x"].T @ _inv(v["Σ"]),
    ["chol", "solve"], sym=True)

# compositions and cancellations ------------------------------------------------------------------

row("expm-time-trace", "tr(expm(t A))", "t", "t: scalar, A: n×n",
    "Higham ch. 10: d/dt tr e^{tA} = tr(A e^{tA})",
    {"t": gen_scalar(), "A": gen_general("n", scale=1.0)}, lambda v: tr(expm(v["t"] * v["A"])),
    "d1", lambda v: tr(v["A"] @ expm(v["t"] * v["A"])), ["expm"])
row("expm-time-trace-second", "tr(expm(t A))", "t", "t: scalar, A: n×n",
    "Higham ch. 10: d²/dt² tr e^{tA} = tr(A² e^{tA})",
    {"t": gen_scalar(), "A": gen_general("n", scale=1.0)}, lambda v: tr(expm(v["t"] * v["A"])),
    "d2", lambda v: tr(v["A"] @ v["A"] @ expm(v["t"] * v["A"])), ["expm"])
row("logm-of-expm", "tr(A logm(expm(S)))", "S", "A: n×n, S: n×n symmetric",
    "Higham §3.2 chain rule: L_log(e^S, L_exp(S, E)) = E for real spectrum in (−π, π), "
    "so ∇ tr(A log e^S) = Aᵀ",
    {"A": gen_general("n", scale=1.0), "S": gen_symmetric("n", -1.0, 1.0)},
    lambda v: tr(v["A"] @ logm(expm(v["S"]))), "d1", lambda v: v["A"].T, ["expm", "logm"])
row("chol-reconstructs", "tr(B chol(A) chol(A)^T)", "A", "B: n×n, A: n×n spd",
    "Murray: LLᵀ = A, so ∇ tr(BLLᵀ) = sym(B) on symmetric directions",
    {"B": gen_general("n", scale=1.0), "A": gen_spd("n")},
    lambda v: tr(v["B"] @ chol(v["A"]) @ chol(v["A"]).T), "d1", lambda v: sym(v["B"]),
    ["chol"], sym=True)
row("pinv-left-inverse", "tr(C pinv(A) A)", "A", "A: m×n, C: n×n",
    "GolubPereyra: A⁺A = I for full column rank, so the gradient is zero",
    {"A": gen_rank("m", "n"), "C": gen_general("n", scale=1.0)},
    lambda v: tr(v["C"] @ pinv(v["A"]) @ v["A"]), "d1",
    lambda v: np.zeros((SIZES["m"], SIZES["n"])), ["pinv"])


def _nuclear_hvp(v, u):
    """d(UVᵀ) for full column rank: UVᵀ = A(AᵀA)^{−½}, so
    H[U] = U(AᵀA)^{−½} + A L_{x^{−½}}(AᵀA, UᵀA + AᵀU)."""
    a = v["A"]
    g = a.T @ a
    return u @ mpow(g, -0.5) + a @ L_pow(g, u.T @ a + a.T @ u, -0.5)


row("nuclear-norm-hvp", "‖A‖_*", "A", "A: m×n",
    "CandesRecht + Higham §3.2: ∇‖A‖_* = UVᵀ = A(AᵀA)^{−½} (polar factor), "
    "H[U] = U(AᵀA)^{−½} + A L_{x^{−½}}(AᵀA, UᵀA + AᵀU)",
    {"A": gen_rank("m", "n")}, lambda v: scal(np.sum(svdvals(v["A"]))), "hvp", _nuclear_hvp,
    ["‖·‖_*"])


def _eigvals_weighted_hvp(v, u):
    """Σ_i a_i (dv_i v_iᵀ + v_i dv_iᵀ), dv_i = (λ_i I − S)⁺ U v_i (MN §8.9)."""
    lam, vec = np.linalg.eigh(v["S"])
    k = len(lam)
    out = np.zeros((k, k))
    for i in range(k):
        vi = vec[:, [i]]
        dv = np.linalg.pinv(lam[i] * np.eye(k) - v["S"], rcond=1e-10) @ u @ vi
        out += v["a"][i, 0] * (dv @ vi.T + vi @ dv.T)
    return sym(out)


row("eigvals-weighted-hvp", "a^T eigvals(S)", "S", "a: n, S: n×n symmetric",
    "MN §8.9: H[U] = Σ a_i (dv_i v_iᵀ + v_i dv_iᵀ), dv_i = (λ_i I − S)⁺ U v_i (symmetric U)",
    {"a": gen_vec("n"), "S": gen_symmetric("n")}, lambda v: scal(v["a"].T @ eigvals(v["S"])),
    "hvp", _eigvals_weighted_hvp, ["eigvals"], sym=True)
row("half-power-frac-latex", r"\operatorname{tr}(A X^{\frac{1}{2}})", "X", "A: n×n, X: n×n spd",
    "Higham §6.1: ∇ = L_sqrt(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_spd("n")},
    lambda v: tr(v["A"] @ sqrtm(v["X"])), "d1", lambda v: L_sqrt(v["X"].T, v["A"].T),
    ["X^(1/2)"])
row("power-latex", r"\operatorname{tr}(X^{0.7})", "X", "X: n×n spd",
    "Higham §3.2: ∇ tr X^p = p (X^{p−1})ᵀ",
    {"X": gen_spd("n")}, lambda v: tr(mpow(v["X"], 0.7)), "d1",
    lambda v: 0.7 * mpow(v["X"], -0.3).T, ["X^p"])
row("pinv-dagger-latex", r"\operatorname{tr}(C A^\dagger)", "A", "A: m×n, C: m×n",
    "GolubPereyra (4.12), full column rank",
    {"A": gen_rank("m", "n"), "C": gen_general("m", "n", 1.0)},
    lambda v: tr(v["C"] @ pinv(v["A"])), "d1", lambda v: pinv_grad_trace(v["A"], v["C"]),
    ["pinv"])
row("pinv-plus-unicode", "‖A⁺ b − c‖^2", "A", "A: m×n, b: m, c: n",
    "GolubPereyra (4.12): least squares through the pseudo-inverse, ∇ = ∇tr(C A⁺) with "
    "C = 2 b (A⁺b − c)ᵀ",
    {"A": gen_rank("m", "n"), "b": gen_vec("m"), "c": gen_vec("n")},
    lambda v: fro2(pinv(v["A"]) @ v["b"] - v["c"]), "d1",
    lambda v: pinv_grad_trace(v["A"], 2 * v["b"] @ (pinv(v["A"]) @ v["b"] - v["c"]).T),
    ["pinv"])

# logm and sqrtm of a general (non-symmetric) matrix, complex eigenvalues allowed ------------------

row("logm-general-trace-weighted", "tr(A logm(X))", "X", "A: n×n, X: n×n",
    "Higham §3.2 (block formula with the principal log) and ch. 11: ∇ = L_log(Xᵀ, Aᵀ)",
    {"A": gen_general("n", scale=1.0), "X": gen_invertible("n")},
    lambda v: tr(v["A"] @ logm(v["X"])), "d1",
    lambda v: L_block(sla.logm, v["X"].T, v["A"].T), ["logm"])
row("sqrtm-general-vjp", "sqrtm(X)", "X", "X: n×n",
    "Higham §6.1: R Z + Z R = G with R = (Xᵀ)^½ for a general X",
    {"X": gen_invertible("n")}, lambda v: sqrtm(v["X"]), "vjp",
    lambda v, g: sla.solve_sylvester(sla.sqrtm(v["X"].T).real, sla.sqrtm(v["X"].T).real, g),
    ["sqrtm"])
row("logm-general-hvp", "tr(logm(X))", "X", "X: n×n",
    "Cookbook §2.2: ∇ = X⁻ᵀ for any X off the negative axis, H[U] = −(X⁻¹UX⁻¹)ᵀ",
    {"X": gen_invertible("n")}, lambda v: tr(logm(v["X"])), "hvp",
    lambda v, u: -(_inv(v["X"]) @ u @ _inv(v["X"])).T, ["logm"])
