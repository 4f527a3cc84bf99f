"""DERIVATIVE_RULES: the reverse-mode (vector–Jacobian) rule of every operator.

A rule receives the node, the cotangent G flowing into it (∂f/∂node for a scalar f, with the
node's shape) and the index of a child, and returns that child's cotangent. Families share
helpers: linear maps pass G through, bilinear products contract it with the other operand,
element-wise functions scale it by f′ (core/functions.py). For Jacobians the driver also passes a
batched G — one column per output — into column-vector nodes; the rules marked so accept it.
The driver (derive.py) walks the tree and accumulates; it never does calculus itself.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

from ..core import build as B
from ..core import expr as E
from ..core.errors import UnsupportedError
from ..core.functions import FUNCTIONS
from ..core.shapes import ONE, SCALAR, is_scalar

DERIVATIVE_RULES: dict[type, Callable] = {}
MAX_RESULT_NODES = 100_000   # a derivative larger than this, written out, is refused


def refuse_large_result(size: int) -> None:
    """Refuse a derivative that would have more than MAX_RESULT_NODES terms and factors."""
    if size > MAX_RESULT_NODES:
        raise UnsupportedError(
            f"the derivative written out would have about {size:,} terms and factors, over "
            f"the limit of {MAX_RESULT_NODES:,}", hint="a long product in which the variable "
            "occurs many times has one term per occurrence, each as long as the product; "
            "name a repeated part as one matrix, or differentiate a shorter expression")


def derivative(*types):
    def register(fn):
        for t in types:
            DERIVATIVE_RULES[t] = fn
        return fn
    return register


def batched(node, G) -> bool:
    """G carries one column per output of a Jacobian (see derive.reverse)."""
    return tuple(G.shape) != tuple(node.shape)


def scale_rows(a, G, node):
    """a ⊙ G; with a batched G, diag(a)·G (each output's cotangent scaled alike)."""
    if is_scalar(a.shape):
        return B.mul(a, G)
    if batched(node, G):
        return B.mul(B.diag_mat(a), G)
    return B.hadamard(a, G)


def contract(G, other, node):
    """⟨G, other⟩ for a scalar operand of an element-wise or scaling operation."""
    if not is_scalar(node.shape) and node.shape[1] == 1:
        return B.mul(B.transpose(other), G)          # works for a batched G as well
    return B.inner(G, other)


def reduce_broadcast(G, node):
    """Σ of G over a broadcast scalar: sum(G), or 𝟙ᵀG for (batched) vectors."""
    if is_scalar(node.shape):
        return G
    if node.shape[1] == 1:
        return B.mul(B.transpose(B.ones(node.shape)), G)
    return B.summ(G)


# Linear ----------------------------------------------------------------------------------------

@derivative(E.Add)
def add(node, G, i):
    """d(A + B) = dA + dB; a broadcast scalar s collects Σ G"""
    child = node.args[i]
    if is_scalar(child.shape) and not is_scalar(node.shape):
        return reduce_broadcast(G, node)
    return G


@derivative(E.Transpose)
def transpose(node, G, i):
    """d(Aᵀ) = (dA)ᵀ"""
    if batched(node, G):           # vec(aᵀ) = vec(a): a batched cotangent passes unchanged
        return G
    return B.transpose(G)


@derivative(E.Sum)
def summ(node, G, i):
    """∂ sum(X)/∂X = 𝟙𝟙ᵀ"""
    return B.mul(G, B.ones(node.arg.shape))


@derivative(E.Mean)
def mean(node, G, i):
    """∂ mean(X)/∂X = 𝟙𝟙ᵀ/(mn)"""
    r, c = node.arg.shape
    count = B.size(r * c)
    return B.mul(G, B.ones(node.arg.shape), B.inverse(count))


@derivative(E.Trace)
def trace(node, G, i):
    """∂ tr(X)/∂X = I"""
    return B.mul(G, B.identity(node.arg.shape[0]))


@derivative(E.DiagMat)
def diag_mat(node, G, i):
    """d diag(v) = diag(dv): the cotangent of v is the diagonal of G"""
    return B.diag_vec(G)


@derivative(E.DiagVec)
def diag_vec(node, G, i):
    """d diag(A) = diag(dA): the cotangent of A is diag(G)"""
    return B.diag_mat(G)


# Bilinear ------------------------------------------------------------------------------------------

@derivative(E.MatMul)
def mat_mul(node, G, i):
    """d(c·ABC) for factor B: Aᵀ·G·Cᵀ·c; for a scalar factor c: ⟨G, ABC⟩"""
    fs = node.args
    target = fs[i]
    if is_scalar(target.shape):
        others = [f for k, f in enumerate(fs) if k != i]
        rest = B.mul(*others) if others else B.num(1)
        return contract(G, rest, node) if not is_scalar(node.shape) else B.mul(G, rest)
    if len(fs) == 2:                 # (most products: the general case's answer, directly)
        other = fs[1 - i]
        if is_scalar(other.shape):
            return B.mul(other, G)
        if i == 0:
            return B.mul(G, B.transpose(other))
        t = type(G)
        if t is E.Num:               # (the same product: B.mul folds a number wherever it
            return B.mul(G, B.transpose(other))      # stands, and takes its quick path first)
        if t is E.MatMul and type(G.args[0]) is E.Num and not is_scalar(G.shape) and \
                not any([type(g) is E.MatMul for g in G.args]):
            # Aᵀ·(cX) is c·AᵀX: G's factors are spliced in either way (a matrix product, none
            # of them a product that B.mul would splice in turn when given it), so only where
            # its number stands differs, and a number is folded wherever it stands
            return B.mul(G.args[0], B.transpose(other), *G.args[1:])
        return B.mul(B.transpose(other), G)
    scalar = [is_scalar(f.shape) for f in fs]
    scalars = [f for k, f in enumerate(fs) if k != i and scalar[k]]
    # the matrices before and after the target, each side read backwards and transposed
    before = [B.transpose(fs[k]) for k in range(i - 1, -1, -1) if not scalar[k]]
    after = [B.transpose(fs[k]) for k in range(len(fs) - 1, i, -1) if not scalar[k]]
    return B.mul(*scalars, *before, G, *after)


@derivative(E.Hadamard)
def hadamard(node, G, i):
    """d(A ⊙ B) = dA ⊙ B + A ⊙ dB; a broadcast scalar factor collects ⟨G, rest⟩"""
    child = node.args[i]
    rest = B.hadamard(*(a for k, a in enumerate(node.args) if k != i))
    if is_scalar(child.shape) and not is_scalar(node.shape):
        return contract(G, rest, node)
    return scale_rows(rest, G, node)


@derivative(E.HadamardDiv)
def hadamard_div(node, G, i):
    """d(A ⊘ B) = dA ⊘ B − (A ⊘ B²) ⊙ dB"""
    a, b = node.left, node.right
    local = B.hdiv(B.num(1), b) if i == 0 else B.neg(B.hdiv(a, B.hpow(b, 2)))
    child = node.children[i]
    if is_scalar(child.shape) and not is_scalar(node.shape):
        return contract(G, local, node)
    return scale_rows(local, G, node)


@derivative(E.Kron)
def kron(node, G, i):
    """a ⊗ b for column vectors: ∂/∂a = I ⊗ b, ∂/∂b = a ⊗ I. For A (m×n) ⊗ B (p×q) with a
    matrix operand, the cotangent of A sums each p×q block of G ⊙ (𝟙 ⊗ B):
    (Iₘ ⊗ 𝟙ₚᵀ)(G ⊙ (𝟙ₘₓₙ ⊗ B))(Iₙ ⊗ 𝟙_q), and that of B sums G ⊙ (A ⊗ 𝟙ₚₓ_q) over the blocks:
    (𝟙ₘᵀ ⊗ Iₚ)(G ⊙ (A ⊗ 𝟙ₚₓ_q))(𝟙ₙ ⊗ I_q)"""
    a, b = node.left, node.right
    if is_scalar(a.shape) or is_scalar(b.shape):        # c ⊗ X is the scaling cX
        other = b if i == 0 else a
        if is_scalar(node.children[i].shape):
            return contract(G, other, node)
        return B.mul(other, G)
    proper = any(1 not in (s[0], s[1]) for s in (a.shape, b.shape))
    if proper and not batched(node, G):
        (m, n), (p, q) = a.shape, b.shape
        if i == 0:
            mask = B.kron(B.ones((m, n)), b)
            left = B.kron(B.identity(m), B.ones((ONE, p)))
            right = B.kron(B.identity(n), B.ones((q, ONE)))
        else:
            mask = B.kron(a, B.ones((p, q)))
            left = B.kron(B.ones((ONE, m)), B.identity(p))
            right = B.kron(B.ones((n, ONE)), B.identity(q))
        return B.mul(left, B.hadamard(G, mask), right)
    col_a, col_b = a.shape[1] == 1, b.shape[1] == 1
    if not proper and not batched(node, G) and not (col_a and col_b):
        if col_a:                                    # a ⊗ bᵀ = abᵀ (b a row here)
            return B.mul(G, B.transpose(b)) if i == 0 else B.mul(B.transpose(a), G)
        if col_b:                                    # aᵀ ⊗ b = baᵀ (a a row here)
            return B.mul(B.transpose(b), G) if i == 0 else B.mul(G, B.transpose(a))
        if i == 0:                                   # rows: a ⊗ b = a(I ⊗ b) = b(a ⊗ I)
            return B.mul(G, B.kron(B.identity(a.shape[1]), B.transpose(b)))
        return B.mul(G, B.kron(B.transpose(a), B.identity(b.shape[1])))
    if not (col_a and col_b):      # a batched cotangent reaches only column-vector nodes
        raise UnsupportedError("this Jacobian passes through a Kronecker product that is not a "
                               "column vector; that needs tensor derivatives")
    if i == 0:
        return B.mul(B.kron(B.identity(a.shape[0]), B.transpose(b)), G)
    return B.mul(B.kron(B.transpose(a), B.identity(b.shape[0])), G)


# Powers and inverses -----------------------------------------------------------------------------

@derivative(E.Inverse)
def inverse(node, G, i):
    """d(X⁻¹) = −X⁻¹ dX X⁻¹, so the cotangent is −X⁻ᵀ G X⁻ᵀ"""
    inv_t = B.transpose(node)
    return B.neg(B.mul(inv_t, G, inv_t))


@derivative(E.Power)
def power(node, G, i):
    """d(xᵉ) = e·xᵉ⁻¹ dx for scalars; d(Xᵏ) = Σⱼ Xʲ dX Xᵏ⁻¹⁻ʲ for matrices (k > 0),
    d(X⁻ᵖ) = −Σⱼ X⁻⁽ʲ⁺¹⁾ dX X⁻⁽ᵖ⁻ʲ⁾, d(X⁰) = 0"""
    x, e = node.arg, node.exponent
    if is_scalar(x.shape):
        return B.mul(B.num(e), B.power(x, e - 1), G)
    k = int(e)
    if k == 0:                                   # X⁰ = I does not depend on X
        return B.zero(x.shape)
    if k > 0:
        xt = B.transpose(x)
        terms = [B.mul(B.power(xt, j), G, B.power(xt, k - 1 - j)) for j in range(k)]
        return B.add(*terms, shape=x.shape)
    # X⁻ᵖ = (X⁻¹)ᵖ: d(X⁻ᵖ) = −Σⱼ X⁻⁽ʲ⁺¹⁾ dX X⁻⁽ᵖ⁻ʲ⁾, so the cotangent is −Σⱼ X⁻⁽ʲ⁺¹⁾ᵀ G X⁻⁽ᵖ⁻ʲ⁾ᵀ
    p = -k
    terms = [B.mul(B.transpose(B.power(x, -(j + 1))), G, B.transpose(B.power(x, -(p - j))))
             for j in range(p)]
    return B.neg(B.add(*terms, shape=x.shape))


@derivative(E.HadamardPower)
def hadamard_power(node, G, i):
    """d(X.^e) = e·X.^(e−1) ⊙ dX"""
    local = B.mul(B.num(node.exponent), B.hpow(node.arg, node.exponent - 1))
    return scale_rows(local, G, node)


@derivative(E.Apply)
def apply(node, G, i):
    """d f(X) = f′(X) ⊙ dX, with f′ from functions.FUNCTIONS"""
    local = FUNCTIONS[node.fn].deriv(node.arg)
    if B.is_zero(local):
        return B.zero(G.shape if batched(node, G) else node.arg.shape)
    return scale_rows(local, G, node)


# Matrix functions and reductions -----------------------------------------------------------------

@derivative(E.Det)
def det(node, G, i):
    """∂ det(X)/∂X = det(X)·X⁻ᵀ"""
    return B.mul(G, node, B.transpose(B.inverse(node.arg)))


@derivative(E.LogDet)
def logdet(node, G, i):
    """∂ log det(X)/∂X = X⁻ᵀ"""
    return B.mul(G, B.transpose(B.inverse(node.arg)))


@derivative(E.Norm)
def norm(node, G, i):
    """∂‖X‖/∂X = X/‖X‖"""
    return B.mul(G, node.arg, B.inverse(node))


@derivative(E.LogSumExp)
def logsumexp(node, G, i):
    """∂ logsumexp(x)/∂x = softmax(x)"""
    return B.mul(G, B.unary(E.Softmax, node.arg))


@derivative(E.Softmax)
def softmax(node, G, i):
    """∂ softmax(x)/∂x = diag(s) − ssᵀ, s = softmax(x) (symmetric)"""
    s = node
    return B.sub(scale_rows(s, G, node), B.mul(s, B.mul(B.transpose(s), G)))


@derivative(E.Vec)
def vec(node, G, i):
    """d vec(A) = vec(dA): the cotangent of A is G reshaped (not expressible yet: unsupported)"""
    raise UnsupportedError("differentiating through vec(·) in reverse mode is not supported")


@derivative(E.Tril)
@derivative(E.Triu)
def triangle(node, G, i):
    """⟨G, tril(dA)⟩ = ⟨tril(G), dA⟩: the cotangent of A is the same triangle of G"""
    return B.triangle(type(node), G)


NO_RULE = (E.Dot, E.Diag, E.Div)   # parse-only nodes: resolved before differentiation
