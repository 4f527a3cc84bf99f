"""VEC_RULES: forward-mode rules for vec-Jacobians, d vec(N)/d vec(X)ᵀ, of every operator.

Where a derivative has more than two indices (a matrix with respect to a matrix, a vector with
respect to a matrix, the Hessian of a scalar with respect to a matrix), matcalc gives it in the
equivalent vec form, a matrix with one row per entry of vec(N) and one column per entry of
vec(X). A rule receives the node and its children's vec-Jacobians (None for a child that does
not depend on X) and returns the node's. The identities are the Magnus–Neudecker ones:
vec(AXB) = (Bᵀ ⊗ A)vec(X), vec(Aᵀ) = K vec(A), d vec(A⁻¹) = −(A⁻ᵀ ⊗ A⁻¹) d vec(A).
"""
from __future__ import annotations

from typing import Callable

from ..core import build as B
from ..core import expr as E
from ..core.errors import UnsupportedError
from ..core.functions import FUNCTIONS
from .rules import refuse_large_result
from ..core.shapes import ONE, SCALAR, is_scalar

VEC_RULES: dict[type, Callable] = {}


def vec_rule(*types):
    def register(fn):
        for t in types:
            VEC_RULES[t] = fn
        return fn
    return register


def _size(node):
    return node.shape[0] * node.shape[1]


def _eye(n):
    return B.identity(n)


def _broadcast(child, J, node):
    """A scalar child broadcast over node: vec(s𝟙) = 𝟙·s, so its vec-Jacobian is 𝟙·J."""
    if is_scalar(child.shape) and not is_scalar(node.shape):
        return B.mul(B.ones((_size(node), ONE)), J)
    return J


def _scale_rows(a, J):
    """diag(vec(a))·J, for an element-wise factor a (a scalar just scales)."""
    if is_scalar(a.shape):
        return B.mul(a, J)
    return B.mul(B.diag_mat(B.vec(a)), J)


@vec_rule(E.Add)
def add(node, Js):
    """d vec(A + B) = d vec(A) + d vec(B)"""
    return B.add(*(_broadcast(c, J, node) for c, J in zip(node.args, Js) if J is not None))


@vec_rule(E.MatMul)
def mat_mul(node, Js):
    """d vec(c·PFQ) = c(Qᵀ ⊗ P) d vec(F); for a scalar factor s: vec(rest)·ds"""
    fs = node.args
    r, c = node.shape
    refuse_large_result(len(fs) * sum(J is not None for J in Js))
    terms = []
    for i, (f, J) in enumerate(zip(fs, Js)):
        if J is None:
            continue
        others = [g for k, g in enumerate(fs) if k != i]
        if is_scalar(f.shape):
            rest = B.mul(*others) if others else B.num(1)
            terms.append(B.mul(B.vec(rest), J))
            continue
        scal = [g for g in others if is_scalar(g.shape)]
        chain = [(k, g) for k, g in enumerate(fs) if not is_scalar(g.shape)]
        pos = next(j for j, (k, _) in enumerate(chain) if k == i)
        before = [g for _, g in chain[:pos]]
        after = [g for _, g in chain[pos + 1:]]
        P = B.mul(*before) if before else _eye(r)
        Q = B.mul(*after) if after else _eye(c)
        terms.append(B.mul(*scal, B.kron(B.transpose(Q), P), J))
    return B.add(*terms)


@vec_rule(E.Transpose)
def transpose(node, Js):
    """d vec(Aᵀ) = K(m,n) d vec(A)"""
    a = node.arg
    return B.mul(B.commutation(a.shape[0], a.shape[1]), Js[0])


@vec_rule(E.Hadamard)
def hadamard(node, Js):
    """d vec(A ⊙ B) = diag(vec B) d vec(A) + diag(vec A) d vec(B)"""
    terms = []
    for i, (f, J) in enumerate(zip(node.args, Js)):
        if J is None:
            continue
        rest = B.hadamard(*(g for k, g in enumerate(node.args) if k != i))
        if is_scalar(f.shape) and not is_scalar(node.shape):
            terms.append(B.mul(B.vec(rest) if not is_scalar(rest.shape) else
                               B.mul(rest, B.ones((_size(node), ONE))), J))
        else:
            terms.append(_scale_rows(rest, J))
    return B.add(*terms)


@vec_rule(E.HadamardDiv)
def hadamard_div(node, Js):
    """d vec(A ⊘ B) = diag(vec(1 ⊘ B)) d vec(A) − diag(vec(A ⊘ B²)) d vec(B)"""
    a, b = node.left, node.right
    terms = []
    for child, J, local in ((a, Js[0], lambda: B.hdiv(B.num(1), b)),
                            (b, Js[1], lambda: B.neg(B.hdiv(a, B.hpow(b, 2))))):
        if J is None:
            continue
        loc = local()
        if is_scalar(child.shape) and not is_scalar(node.shape):
            terms.append(B.mul(B.vec(loc) if not is_scalar(loc.shape) else
                               B.mul(loc, B.ones((_size(node), ONE))), J))
        else:
            terms.append(_scale_rows(loc, J))
    return B.add(*terms)


@vec_rule(E.HadamardPower)
def hadamard_power(node, Js):
    """d vec(A.^e) = diag(vec(e·A.^(e−1))) d vec(A)"""
    return _scale_rows(B.mul(B.num(node.exponent), B.hpow(node.arg, node.exponent - 1)), Js[0])


@vec_rule(E.Apply)
def apply(node, Js):
    """d vec f(A) = diag(vec f′(A)) d vec(A)"""
    local = FUNCTIONS[node.fn].deriv(node.arg)
    if B.is_zero(local):
        return B.zero((_size(node), Js[0].shape[1]))
    return _scale_rows(local, Js[0])


@vec_rule(E.Kron)
def kron(node, Js):
    """d vec(A ⊗ B) = (Iₙ ⊗ K(q,m) ⊗ Iₚ)(d vec(A) ⊗ vec(B) + vec(A) ⊗ d vec(B))"""
    a, b = node.left, node.right
    (m, n), (p, q) = a.shape, b.shape
    parts = []
    if Js[0] is not None:
        parts.append(B.kron(Js[0], B.vec(b)))
    if Js[1] is not None:
        parts.append(B.kron(B.vec(a), Js[1]))
    shuffle = B.kron(B.kron(_eye(n), B.commutation(q, m)), _eye(p))
    return B.mul(shuffle, B.add(*parts))


@vec_rule(E.Inverse)
def inverse(node, Js):
    """d vec(A⁻¹) = −(A⁻ᵀ ⊗ A⁻¹) d vec(A)"""
    if is_scalar(node.shape):
        return B.neg(B.mul(B.power(node.arg, -2), Js[0]))
    return B.neg(B.mul(B.kron(B.transpose(node), node), Js[0]))


@vec_rule(E.Power)
def power(node, Js):
    """d vec(Aᵏ) = Σⱼ ((Aᵀ)ᵏ⁻¹⁻ʲ ⊗ Aʲ) d vec(A) for k > 0; d vec(A⁻ᵖ) = −Σⱼ (A⁻⁽ᵖ⁻ʲ⁾ᵀ ⊗ A⁻⁽ʲ⁺¹⁾)
    d vec(A); d vec(A⁰) = 0; for a scalar e·xᵉ⁻¹ dx"""
    x, e = node.arg, node.exponent
    if is_scalar(x.shape):
        return B.mul(B.num(e), B.power(x, e - 1), Js[0])
    k = int(e)
    n = x.shape[0]
    if k == 0:                                   # X⁰ = I does not depend on X
        return B.zero((n * n, Js[0].shape[1]))
    if k > 0:
        terms = [B.kron(B.power(B.transpose(x), k - 1 - j), B.power(x, j)) for j in range(k)]
        return B.mul(B.add(*terms), Js[0])
    p = -k                                       # d(X⁻ᵖ) = −Σⱼ X⁻⁽ʲ⁺¹⁾ dX X⁻⁽ᵖ⁻ʲ⁾
    terms = [B.kron(B.transpose(B.power(x, -(p - j))), B.power(x, -(j + 1))) for j in range(p)]
    return B.neg(B.mul(B.add(*terms), Js[0]))


def _row(a):
    """vec(a)ᵀ, the gradient row of ⟨a, ·⟩."""
    return B.transpose(B.vec(a))


@vec_rule(E.Sum)
def summ(node, Js):
    """d sum(A) = 𝟙ᵀ d vec(A)"""
    return B.mul(B.transpose(B.ones((_size(node.arg), ONE))), Js[0])


@vec_rule(E.Mean)
def mean(node, Js):
    """d mean(A) = 𝟙ᵀ d vec(A)/(mn)"""
    n = _size(node.arg)
    return B.mul(B.transpose(B.ones((n, ONE))), Js[0], B.inverse(B.size(n)))


@vec_rule(E.Trace)
def trace(node, Js):
    """d tr(A) = vec(I)ᵀ d vec(A)"""
    return B.mul(_row(B.identity(node.arg.shape[0])), Js[0])


@vec_rule(E.Det)
def det(node, Js):
    """d det(A) = det(A) vec(A⁻ᵀ)ᵀ d vec(A)"""
    return B.mul(node, _row(B.transpose(B.inverse(node.arg))), Js[0])


@vec_rule(E.LogDet)
def logdet(node, Js):
    """d log det(A) = vec(A⁻ᵀ)ᵀ d vec(A)"""
    return B.mul(_row(B.transpose(B.inverse(node.arg))), Js[0])


@vec_rule(E.Norm)
def norm(node, Js):
    """d‖A‖ = vec(A)ᵀ d vec(A)/‖A‖"""
    return B.mul(_row(node.arg), Js[0], B.inverse(node))


@vec_rule(E.LogSumExp)
def logsumexp(node, Js):
    """d logsumexp(x) = softmax(x)ᵀ dx"""
    return B.mul(B.transpose(B.unary(E.Softmax, node.arg)), Js[0])


@vec_rule(E.Softmax)
def softmax(node, Js):
    """d softmax(x) = (diag(s) − ssᵀ) dx"""
    s = node
    return B.mul(B.sub(B.diag_mat(s), B.mul(s, B.transpose(s))), Js[0])


@vec_rule(E.DiagMat)
def diag_mat(node, Js):
    """d vec(diag(v)) = diag(vec I)(𝟙 ⊗ I) dv, since vec(diag(v)) = vec(I) ⊙ (𝟙 ⊗ v)"""
    n = node.shape[0]
    select = B.mul(B.diag_mat(B.vec(B.identity(n))), B.kron(B.ones((n, ONE)), _eye(n)))
    return B.mul(select, Js[0])


@vec_rule(E.DiagVec)
def diag_vec(node, Js):
    """d diag(A) = (𝟙ᵀ ⊗ I) diag(vec I) d vec(A)"""
    n = node.shape[0]
    select = B.mul(B.kron(B.transpose(B.ones((n, ONE))), _eye(n)),
                   B.diag_mat(B.vec(B.identity(n))))
    return B.mul(select, Js[0])


@vec_rule(E.Vec)
def vec(node, Js):
    """d vec(vec A) = d vec(A)"""
    return Js[0]


@vec_rule(E.Tril)
@vec_rule(E.Triu)
def triangle(node, Js):
    """d vec(tril A) = diag(vec(tril 𝟙𝟙ᵀ)) d vec(A) (triu alike): a 0/1 mask on the entries"""
    mask = B.diag_mat(B.vec(B.triangle(type(node), B.ones(node.shape))))
    return B.mul(mask, Js[0])


def forward(f, x):
    """d vec(f)/d vec(x)ᵀ, or None when f does not depend on x."""
    memo: dict = {}
    n_x = x.shape[0] * x.shape[1]

    def go(n):
        if n in memo:
            return memo[n]
        if n == x:
            out = _eye(n_x)
        elif not n.children:
            out = None
        else:
            Js = [go(c) for c in n.children]
            if all(J is None for J in Js):
                out = None
            else:
                rule = VEC_RULES.get(type(n))
                if rule is None:
                    raise UnsupportedError(f"no vec-Jacobian rule for {type(n).__name__}",
                                           span=getattr(n, "span", None))
                out = rule(n, Js)
        memo[n] = out
        return out

    return go(f)
