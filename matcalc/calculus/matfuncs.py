"""Derivative rules of the matrix functions and decompositions (core/functions.py MATRIX_FUNCTIONS).

One reverse-mode rule per function, in the form of calculus/rules.py: the node, the cotangent G
and the index of a child give that child's cotangent. Closed forms from the literature where
there is one (Magnus & Neudecker; Matrix Cookbook §2.1–2.3; Higham, Functions of Matrices,
ch. 3): d tr f(X) = f′(X)ᵀ, dλᵢ = vᵢᵀ dS vᵢ, d‖A‖_* = UVᵀ, dL = L Φ(L⁻¹ dA L⁻ᵀ). Elsewhere the
Fréchet derivative L_f(X, E) is a node of its own whose adjoint is L_f(Xᵀ, ·), so gradients of
any scalar built from expm, logm, sqrtm and X^p stay closed-form; its derivative in X is the
second Fréchet derivative L2_f. Eigenvectors and singular vectors get the classical perturbation
forms (reduced resolvents, the F matrices of eigenvalue and singular-value gaps). Functions of a
symmetric matrix read its symmetric part (S + Sᵀ)/2, so their cotangents are symmetric. Also:
the forward vec-Jacobian rule for Hessians through these functions (the Kronecker forms K_f,
K2_f, or the transpose of the adjoint rule) and r.assumptions.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

from ..core import build as B
from ..core import expr as E
from ..core.errors import UnsupportedError, show
from ..core.functions import FRECHET, FRECHET2, KRON, KRON2, PRIMARY, matfn, matpow, primary_prime
from ..core.matrix_functions import MATRIX_FUNCTIONS, fill
from .rules import derivative
from .vecrules import vec_rule

MATFN_RULES: dict[str, Callable] = {}


def rule(*names):
    def register(fn):
        for name in names:
            MATFN_RULES[name] = fn
        return fn
    return register


@derivative(E.MatFn)
def matrix_function(node, G, i):
    """d f(X) for a matrix function f: the rule of f in calculus/matfuncs.py MATFN_RULES"""
    found = MATFN_RULES.get(node.fn)
    if found is None:
        raise UnsupportedError(f"differentiating {node.fn}(·) is not supported (it appears in "
                               "derivatives of eigenvalues and singular values, whose further "
                               "derivatives matcalc does not give)",
                               hint="supported: " + ", ".join(sorted(MATFN_RULES)))
    return found(node, G, i)


def _sym(m):
    """(M + Mᵀ)/2"""
    return B.mul(B.num(Fraction(1, 2)), B.add(m, B.transpose(m)))


def _t(x):
    return B.transpose(x)


# Solving linear systems ----------------------------------------------------------------------

@rule("solve")
def solve(node, G, i):
    """X = A⁻¹B: dX = A⁻¹(dB − dA X), so the cotangents are A⁻ᵀG (of B) and −A⁻ᵀGXᵀ (of A)"""
    a = node.args[0]
    a_inv_t = _t(B.inverse(a))
    if i == 1:
        return B.mul(a_inv_t, G)
    return B.neg(B.mul(a_inv_t, G, _t(node)))


@rule("pinv")
def pinv(node, G, i):
    """d A⁺ = −A⁺dAA⁺ + A⁺A⁺ᵀdAᵀ(I − AA⁺) + (I − A⁺A)dAᵀA⁺ᵀA⁺ (constant rank), so the
    cotangent is −A⁺ᵀGA⁺ᵀ + (I − AA⁺)GᵀA⁺A⁺ᵀ + A⁺ᵀA⁺Gᵀ(I − A⁺A)"""
    a, p = node.args[0], node
    m, n = a.shape
    left = B.sub(B.identity(m), B.mul(a, p))
    right = B.sub(B.identity(n), B.mul(p, a))
    return B.add(B.neg(B.mul(_t(p), G, _t(p))), B.mul(left, _t(G), p, _t(p)),
                 B.mul(_t(p), p, _t(G), right))


# Primary matrix functions and their Fréchet derivatives ----------------------------------------

def _function_of(e, x) -> bool:
    """Whether e is built from x, I, scalars and primary functions of those (so commutes with x)."""
    if e == x or type(e) is E.Identity or e.is_scalar:
        return True
    if type(e) is E.MatFn:
        return e.fn in PRIMARY and _function_of(e.args[0], x)
    if type(e) in (E.Inverse, E.Power):
        return _function_of(e.arg, x)
    if type(e) is E.Transpose:                              # g(Xᵀ)ᵀ = g(X)
        return _function_of(e.arg, _t(x))
    if type(e) in (E.MatMul, E.Add):
        return all(_function_of(a, x) for a in e.args)
    return False


@rule("expm", "logm", "sqrtm", "powm")
def primary(node, G, i):
    """d f(X) = L_f(X, dX), whose adjoint is L_f(Xᵀ, ·): the cotangent is L_f(Xᵀ, G)
    (for G = I: f′(X)ᵀ, so ∂ tr expm(X)/∂X = expm(X)ᵀ). L_f(Xᵀ, G) = L_f(X, Gᵀ)ᵀ, and where
    Gᵀ commutes with X, being a function of X, L_f(X, Gᵀ) = f′(X)Gᵀ (Higham, Functions of
    Matrices, 3.2): ∂ logdet expm(X)/∂X = (expm(X)expm(X)⁻¹)ᵀ = I"""
    x = node.args[0]
    if type(_scalar_times(_t(G))[1]) is not E.Identity and _function_of(_t(G), x):
        prime = primary_prime(node.fn, x, node.exponent)
        (c, p), (d, q) = _scalar_times(prime), _scalar_times(_t(G))
        a, b = _power_of(p, x), _power_of(q, x)
        if a is not None and b is not None:                 # X^a X^b = X^(a+b) (principal)
            return _t(B.mul(*c, *d, matpow(x, a + b)))
        return _t(B.mul(prime, _t(G)))
    return matfn(FRECHET[node.fn], _t(x), G, exponent=node.exponent)


def _power_of(e, x):
    """a when e is the principal power X^a (X, I, X⁻¹, sqrtm(X), X^p and their integer powers),
    else None"""
    if e == x:
        return Fraction(1)
    if type(e) is E.Identity:
        return Fraction(0)
    if type(e) is E.MatFn and e.args[0] == x and e.fn in ("sqrtm", "powm"):
        return Fraction(1, 2) if e.fn == "sqrtm" else Fraction(e.exponent)
    if type(e) is E.Transpose:                              # (Xᵀ)^a = (X^a)ᵀ
        return _power_of(e.arg, _t(x))
    if type(e) is E.Inverse:
        a = _power_of(e.arg, x)
        return None if a is None else -a
    if type(e) is E.Power and isinstance(e.exponent, (int, Fraction)) and \
            Fraction(e.exponent).denominator == 1:
        a = _power_of(e.arg, x)
        return None if a is None else a * Fraction(e.exponent)
    return None


@rule("L_exp", "L_log", "L_sqrt", "L_pow")
def frechet(node, G, i):
    """L_f(X, E) is linear in E with adjoint L_f(Xᵀ, ·); its derivative in X is the second
    Fréchet derivative, ⟨G, L²_f(X, E, dX)⟩ = ⟨L²_f(Xᵀ, Eᵀ, G), dX⟩"""
    x, e = node.args
    if i == 1:
        return matfn(node.fn, _t(x), G, exponent=node.exponent)
    return matfn(FRECHET2[node.fn], _t(x), _t(e), G, exponent=node.exponent)


@rule("L2_exp", "L2_log", "L2_sqrt", "L2_pow")
def frechet2(node, G, i):
    """L²_f(X, P, Q) is bilinear and symmetric in P, Q, with ⟨G, L²_f(X, P, Q)⟩ =
    ⟨L²_f(Xᵀ, G, Qᵀ), P⟩ = ⟨L²_f(Xᵀ, Pᵀ, G), Q⟩; third derivatives in X are not given"""
    x, p, q = node.args
    if i == 0:
        raise UnsupportedError("third derivatives of matrix functions (the derivative of "
                               f"{node.fn} in its first argument) are not supported")
    if i == 1:
        return matfn(node.fn, _t(x), G, _t(q), exponent=node.exponent)
    return matfn(node.fn, _t(x), _t(p), G, exponent=node.exponent)


# Cholesky factor ---------------------------------------------------------------------------------

@rule("chol")
def chol(node, G, i):
    """A = LLᵀ: dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ = lower triangle with half the diagonal (self-adjoint),
    so the cotangent is sym(L⁻ᵀ Φ(LᵀG) L⁻¹)"""
    L = node
    inv = B.inverse(L)
    return _sym(B.mul(_t(inv), matfn("tril_half", B.mul(_t(L), G)), inv))


@rule("tril_half")
def tril_half(node, G, i):
    """Φ(M) = M ⊙ (strictly lower ones + ½I) is linear and self-adjoint: the cotangent is Φ(G)"""
    return matfn("tril_half", G)


# Eigenvalues of a symmetric matrix -------------------------------------------------------------

@rule("eigvals")
def eigvals(node, G, i):
    """dλᵢ = vᵢᵀ dS vᵢ for simple eigenvalues: the cotangent is V diag(G) Vᵀ, V = eigvecs(S)"""
    c, m = _scalar_times(G)
    if type(m) is E.Ones:                                   # V diag(c𝟙) Vᵀ = cI
        return B.mul(*c, B.identity(node.shape[0]))
    if m == node:                                           # V diag(cλ) Vᵀ = c sym(S)
        return B.mul(*c, _sym(node.args[0]))
    V = matfn("eigvecs", node.args[0])
    return B.mul(V, B.diag_mat(G), _t(V))


def _scalar_times(G):
    """(scalar factors, the one matrix factor) of G = c·M; ([], G) when G is not such a product"""
    if type(G) is E.MatMul:
        mats = [a for a in G.args if not a.is_scalar]
        if len(mats) == 1:
            return [a for a in G.args if a.is_scalar], mats[0]
    if type(G) is E.Transpose:                              # (cM)ᵀ = cMᵀ
        c, m = _scalar_times(G.arg)
        if c:
            return c, _t(m)
    return [], G


@rule("eigvecs")
def eigvecs(node, G, i):
    """dV = V(F ⊙ (Vᵀ dS V)) for simple eigenvalues, F_jk = 1/(λ_k − λ_j) off the diagonal and
    0 on it (eiggap_inv(S)), so the cotangent is sym(V(F ⊙ VᵀG)Vᵀ)"""
    V, F = node, matfn("eiggap_inv", node.args[0])
    return _sym(B.mul(V, B.hadamard(F, B.mul(_t(V), G)), _t(V)))


@rule("lambda_max", "lambda_min")
def extreme_eigenvalue(node, G, i):
    """dλ = vᵀ dS v for a simple eigenvalue with unit eigenvector v: ∂λ/∂S = vvᵀ"""
    v = matfn("eigvec_max" if node.fn == "lambda_max" else "eigvec_min", node.args[0])
    return B.mul(G, v, _t(v))


@rule("eigvec_max", "eigvec_min")
def extreme_eigenvector(node, G, i):
    """dv = (λI − S)⁺ dS v for a simple eigenvalue λ (unit v, vᵀdv = 0), so the cotangent is
    sym((λI − S)⁺ G vᵀ); (λI − S)⁺ is eigres_max(S) or eigres_min(S)"""
    res = matfn("eigres_max" if node.fn == "eigvec_max" else "eigres_min", node.args[0])
    return _sym(B.mul(res, G, _t(node)))


# Singular values ---------------------------------------------------------------------------------

@rule("svdvals")
def svdvals(node, G, i):
    """dσᵢ = uᵢᵀ dA vᵢ for distinct nonzero singular values: the cotangent is U diag(G) Vᵀ"""
    a = node.args[0]
    c, m = _scalar_times(G)
    if m == node:                                           # U diag(cσ) Vᵀ = cA (thin SVD)
        return B.mul(*c, a)
    return B.mul(matfn("svd_U", a), B.diag_mat(G), _t(matfn("svd_V", a)))


@rule("svd_U", "svd_V")
def singular_vectors(node, G, i):
    """Thin SVD A = USVᵀ with distinct nonzero σ, F_ij = 1/(σⱼ² − σᵢ²) (svdgap_inv(A)), dP = UᵀdAV:
    dU = U(F ⊙ (dP S + S dPᵀ)) + (I − UUᵀ)dA V S⁻¹, dV = V(F ⊙ (S dP + dPᵀS)) + (I − VVᵀ)dAᵀU S⁻¹;
    cotangents U(H + Hᵀ)SVᵀ + (I − UUᵀ)GS⁻¹Vᵀ with H = F ⊙ UᵀG, and US(H + Hᵀ)Vᵀ +
    US⁻¹Gᵀ(I − VVᵀ) with H = F ⊙ VᵀG (Townsend, Differentiating the SVD)"""
    a = node.args[0]
    m, n = a.shape
    U, V = matfn("svd_U", a), matfn("svd_V", a)
    S, F = B.diag_mat(matfn("svdvals", a)), matfn("svdgap_inv", a)
    S_inv = B.inverse(S)
    if node.fn == "svd_U":
        H = B.hadamard(F, B.mul(_t(U), G))
        rest = B.sub(B.identity(m), B.mul(U, _t(U)))
        return B.add(B.mul(U, B.add(H, _t(H)), S, _t(V)), B.mul(rest, G, S_inv, _t(V)))
    H = B.hadamard(F, B.mul(_t(V), G))
    rest = B.sub(B.identity(n), B.mul(V, _t(V)))
    return B.add(B.mul(U, S, B.add(H, _t(H)), _t(V)), B.mul(U, S_inv, _t(G), rest))


@rule("sigma_max")
def sigma_max(node, G, i):
    """d‖A‖₂ = d σ_max = u₁ᵀ dA v₁ for a simple largest singular value: ∂σ_max/∂A = u₁v₁ᵀ"""
    a = node.args[0]
    return B.mul(G, matfn("svd_u1", a), _t(matfn("svd_v1", a)))


@rule("svd_u1", "svd_v1")
def top_singular_vector(node, G, i):
    """For a simple σ = σ_max(A) with u = svd_u1(A), v = svd_v1(A):
    du = (σ²I − AAᵀ)⁺(A dAᵀu + σ dA v), dv = (σ²I − AᵀA)⁺(Aᵀ dA v + σ dAᵀu), the
    pseudo-inverses eigres_max(AAᵀ), eigres_max(AᵀA); cotangents uGᵀRA + σRGvᵀ and
    AR′Gvᵀ + σuGᵀR′"""
    a = node.args[0]
    u, v, s = matfn("svd_u1", a), matfn("svd_v1", a), matfn("sigma_max", a)
    if node.fn == "svd_u1":
        R = matfn("eigres_max", B.mul(a, _t(a)))
        return B.add(B.mul(u, _t(G), R, a), B.mul(s, R, G, _t(v)))
    R = matfn("eigres_max", B.mul(_t(a), a))
    return B.add(B.mul(a, R, G, _t(v)), B.mul(s, u, _t(G), R))


@rule("nuclear")
def nuclear(node, G, i):
    """d‖A‖_* = tr(Uᵀ dA V) for A of full rank: ∂‖A‖_*/∂A = UVᵀ (thin SVD)"""
    a = node.args[0]
    return B.mul(G, matfn("svd_U", a), _t(matfn("svd_V", a)))


# Forward vec-Jacobians (Hessians through these functions) ---------------------------------------

# Functions whose cotangent is built from nodes that have vec rules: their vec-Jacobian is the
# transpose of the Jacobian of that cotangent with respect to G (the cotangent is linear in G).
_VEC_BY_ADJOINT = ("solve", "pinv", "eigvals", "lambda_max", "lambda_min", "eigvec_max",
                   "eigvec_min", "svdvals", "sigma_max", "nuclear", "svd_u1", "svd_v1", "chol",
                   "eigvecs", "svd_U", "svd_V")


@vec_rule(E.MatFn)
def vec_matrix_function(node, Js):
    """d vec f(A) = J d vec(A), with Jᵀ = ∂ vec(cotangent of A)/∂ vec(G)ᵀ for the adjoint rule"""
    from .vecrules import forward
    if node.fn == "tril_half":                # Φ(M) = M ⊙ Φ(𝟙𝟙ᵀ): a diagonal scaling of vec M
        mask = matfn("tril_half", B.ones(node.shape))
        return B.mul(B.diag_mat(B.vec(mask)), Js[0])
    if node.fn in KRON:                       # d vec f(X) = K_f(X) d vec X
        return B.mul(matfn(KRON[node.fn], node.args[0], exponent=node.exponent), Js[0])
    if node.fn in KRON2:                      # L_f(X, E): K_f(X) d vec E + K2_f(X, E) d vec X
        x, e = node.args
        base = next(k for k, v in FRECHET.items() if v == node.fn)
        terms = []
        if Js[1] is not None:
            terms.append(B.mul(matfn(KRON[base], x, exponent=node.exponent), Js[1]))
        if Js[0] is not None:
            terms.append(B.mul(matfn(KRON2[node.fn], x, e, exponent=node.exponent), Js[0]))
        return B.add(*terms)
    if node.fn not in _VEC_BY_ADJOINT:
        why = ("third derivatives of matrix functions are not given" if node.fn in
               FRECHET2.values() else f"matcalc does not differentiate {node.fn}(·) itself")
        raise UnsupportedError(f"a Jacobian or Hessian through {node.fn}(·) with respect to a "
                               f"vector or matrix is not supported ({why})", span=node.span,
                               hint="second derivatives with respect to a scalar are supported")
    G = E.Sym("∂G", node.shape)
    terms = []
    for i, J in enumerate(Js):
        if J is None:
            continue
        local = forward(MATFN_RULES[node.fn](node, G, i), G)
        terms.append(B.mul(_t(local), J))
    return B.add(*terms)


# Assumptions ------------------------------------------------------------------------------------

def assumptions(*trees) -> list[str]:
    """The sentences under which results built from these trees hold, in order of appearance:
    invertible, full rank, simple eigenvalues, no eigenvalue on the closed negative axis…"""
    out: list[str] = []
    seen: set = set()
    stack = list(reversed(trees))
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if type(n) is E.MatFn:
            for template in MATRIX_FUNCTIONS[n.fn].assumptions:
                sentence = fill(template, [show(n.args[0])])
                if sentence not in out:
                    out.append(sentence)
        stack.extend(reversed(n.children))
    return out
