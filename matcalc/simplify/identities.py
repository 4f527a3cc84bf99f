"""Identities the scalar normal form (scalars.py) does not cover: det(X⁻¹) = 1/det X,
tr(cA) = c·tr A, (ABC)⁻¹ABC = I; element-wise sinh/cosh = tanh, exp(a) ⊙ exp(b) = exp(a + b),
cos² + sin² = 1; a centred vector sums to 0; matrices out of vec/⊗ form ((Bᵀ ⊗ A)vec(X) =
vec(AXB) across a sum). They register themselves in rewrite.RULES after the scalar rules.
"""
from __future__ import annotations

from ..core import build as B
from ..core import expr as E
from ..core.shapes import is_scalar
from .rewrite import PRODUCT_NEEDS, SUM_IDLE, SUM_NEEDS, canonical, register, split_term


def det_of_inverse(node, ctx):
    """det(X⁻¹) → 1/det(X), det(Xᵀ) → det(X)"""
    if type(node) is E.Det:
        if type(node.arg) is E.Inverse:
            return B.inverse(B.unary(E.Det, node.arg.arg))
        if type(node.arg) is E.Transpose:
            return B.unary(E.Det, node.arg.arg)
    return node


def trace_scalars_out(node, ctx):
    """tr(c·A) → c·tr(A) for scalar factors c"""
    if type(node) is E.Trace and type(node.arg) is E.MatMul:
        scal = [f for f in node.arg.args if is_scalar(f.shape)]
        if scal:
            rest = [f for f in node.arg.args if not is_scalar(f.shape)]
            return B.mul(*scal, B.trace(B.mul(*rest)))
    return node


_QUOTIENTS = {("sinh", "cosh"): "tanh", ("sin", "cos"): "tan"}


def function_quotients(node, ctx):
    """sinh(a) ⊘ cosh(a) → tanh(a), sin(a) ⊘ cos(a) → tan(a), also with other factors above
    the line"""
    if type(node) is E.HadamardDiv and type(node.right) is E.Apply:
        den = node.right
        top = node.left.args if type(node.left) is E.Hadamard else (node.left,)
        for i, f in enumerate(top):
            if type(f) is E.Apply and f.arg == den.arg and (f.fn, den.fn) in _QUOTIENTS:
                rest = top[:i] + top[i + 1:]
                return B.hadamard(*rest, B.apply(_QUOTIENTS[(f.fn, den.fn)], f.arg))
    return node


def quotient_of_quotient(node, ctx):
    """(A ⊘ B) ⊘ C → A ⊘ (B ⊙ C)"""
    if type(node) is E.HadamardDiv and type(node.left) is E.HadamardDiv and \
            tuple(node.left.right.shape) == tuple(node.right.shape):
        return B.hdiv(node.left.left, B.hadamard(node.left.right, node.right))
    return node


def number_over_out(node, ctx):
    """A ⊙ (c ⊘ B) → c·(A ⊘ B) for a number c"""
    if type(node) is E.Hadamard:
        for i, a in enumerate(node.args):
            if type(a) is E.HadamardDiv and type(a.left) is E.Num and a.left.value != 1:
                num = B.hadamard(*node.args[:i], *node.args[i + 1:])
                if tuple(num.shape) == tuple(node.shape):
                    return B.mul(a.left, B.hdiv(num, a.right))
    return node


def _exp_arg(f, sign):
    return (f.arg, sign) if type(f) is E.Apply and f.fn == "exp" else None


def hadamard_exps(node, ctx):
    """exp(a) ⊙ exp(b) → exp(a + b) and exp(a) ⊘ exp(b) → exp(a − b), entry by entry"""
    if type(node) is E.HadamardDiv:
        top, bottom = _exp_arg(node.left, 1), _exp_arg(node.right, -1)
        if top and bottom and tuple(node.left.shape) == tuple(node.right.shape):
            out = B.apply("exp", B.sub(top[0], bottom[0]))
            # exp(x) ⊘ exp(x − mean(x)) is the vector exp(mean(x))𝟙, not the scalar
            return out if tuple(out.shape) == tuple(node.shape) else node
        return node
    if type(node) is not E.Hadamard:
        return node
    exps = sorted((f for f in node.args if _exp_arg(f, 1)), key=lambda f: repr(canonical(f)))
    if len(exps) < 2 or len({tuple(f.shape) for f in exps}) != 1:
        return node
    rest = [f for f in node.args if not _exp_arg(f, 1)]
    merged = B.apply("exp", B.add(*(f.arg for f in exps)))
    if tuple(merged.shape) != tuple(exps[0].shape):
        return node                     # the exponents' sum lost its shape (x + (a − x) = a)
    return B.hadamard(merged, *rest)


def pythagorean(node, ctx):
    """c·cos(a)² + c·sin(a)² → c, also element-wise (cos(a)⊙² + sin(a)⊙² → 𝟙)"""
    if type(node) is not E.Add:
        return node
    found = {}
    for i, t in enumerate(node.args):
        c, scal, chain = split_term(t)
        f = (chain or scal)
        if len(f) != 1 or (chain and scal):
            continue
        f = f[0]
        if (type(f) is E.HadamardPower or type(f) is E.Power and is_scalar(f.shape)) and \
                f.exponent == 2 and type(f.arg) is E.Apply and f.arg.fn in ("sin", "cos"):
            # cos(A)² + sin(A)² for a matrix A is a matrix product, not 𝟙𝟙ᵀ
            key = (c, canonical(f.arg.arg))
            other = found.get((key, "cos" if f.arg.fn == "sin" else "sin"))
            if other is not None:
                rest = [a for k, a in enumerate(node.args) if k not in (i, other)]
                one = B.num(c) if is_scalar(f.shape) else B.mul(B.num(c), B.ones(f.shape))
                return B.add(one, *rest, shape=node.shape)
            found[(key, f.arg.fn)] = i
    return node


def exp_of_zero(node, ctx):
    """exp(0) → 1, log(1) → 0 (what collecting exp(a)exp(−a) leaves)"""
    if type(node) is E.Apply and type(node.arg) in (E.Num, E.Zero):
        zero = B.is_zero(node.arg) or (type(node.arg) is E.Num and node.arg.value == 0)
        if node.fn == "exp" and zero:
            return B.num(1) if is_scalar(node.shape) else B.ones(node.shape)
        if node.fn == "log" and type(node.arg) is E.Num and node.arg.value == 1:
            return B.num(0)
    return node


def _centred(node) -> bool:
    """node = s·(v − mean(v)) or s·(mean(v) − v) for scalars s: its entries sum to 0."""
    _, _, chain = split_term(node)
    if len(chain) != 1 or type(chain[0]) is not E.Add or len(chain[0].args) != 2:
        return False
    parts = []
    for t in chain[0].args:
        c, scal, rest = split_term(t)
        parts.append((c, B.mul(*scal, *rest)))
    (ca, a), (cb, b) = parts
    return ca == -cb and abs(ca) == 1 and \
        ((type(a) is E.Mean and a.arg == b) or (type(b) is E.Mean and b.arg == a))


def centred_sums_vanish(node, ctx):
    """sum(u + s·(v − mean(v))) → sum(u): the entries of a centred vector sum to 0"""
    if type(node) not in (E.Sum, E.Mean):
        return node
    terms = node.arg.args if type(node.arg) is E.Add else (node.arg,)
    kept = [t for t in terms if not _centred(t)]
    if len(kept) == len(terms):
        return node
    if not kept:
        return B.num(0)
    if all(is_scalar(t.shape) for t in kept) and not is_scalar(node.arg.shape):
        return node                     # sum(a + 2(x − mean(x))) is n·a, not sum(a) = a
    return B.unary(type(node), B.add(*kept, shape=node.arg.shape)) if type(node) is E.Mean \
        else B.summ(B.add(*kept, shape=node.arg.shape))


def ones_in_a_sum(node, ctx):
    """s·𝟙 + v → s + v for a column v: a scalar added to a vector is broadcast, as written
    (x − mean(x)), so the ones it is multiplied by are not needed"""
    if type(node) is not E.Add or is_scalar(node.shape) or node.shape[1] != 1:
        return node                     # vectors only: I − 1/n would not read as I − 𝟙𝟙ᵀ/n
    terms, changed, vector = [], False, False
    for t in node.args:
        c, scal, chain = split_term(t)
        if len(chain) == 1 and type(chain[0]) is E.Ones and \
                tuple(chain[0].shape) == tuple(node.shape) and len(node.args) > 1:
            t, changed = B.mul(B.num(c), *scal), True
        else:
            vector = vector or not is_scalar(t.shape)
        terms.append(t)
    # a term of the vector's own shape must stay: 𝟙 − mean(𝟙) is not the scalar 1 − 1
    return B.add(*terms, shape=node.shape) if changed and vector else node


def inverse_of_chain_cancel(node, ctx):
    """(ABC)⁻¹ABC → I and ABC(ABC)⁻¹ → I inside a longer product: (WᵀSW)⁻¹WᵀSW → I"""
    if type(node) is not E.MatMul:
        return node
    fs = node.args
    for i, f in enumerate(fs):
        if type(f) is E.Inverse and type(f.arg) is E.MatMul and not is_scalar(f.shape):
            chain, k = f.arg.args, len(f.arg.args)
            if fs[i + 1:i + 1 + k] == chain:
                return B.mul(*fs[:i], B.identity(f.shape[0]), *fs[i + 1 + k:])
            if i >= k and fs[i - k:i] == chain:
                return B.mul(*fs[:i - k], B.identity(f.shape[0]), *fs[i + 1:])
    return node


def sum_of_row_transposes(node, ctx):
    """aᵀ + bᵀ → (a + b)ᵀ for column vectors a, b: one transpose for the sum of rows (so
    aᵀx + bᵀx, collected, is (a + b)ᵀx)"""
    if type(node) is E.Add and node.shape[0] == 1 and not is_scalar(node.shape) and \
            all(type(t) is E.Transpose and t.arg.shape[1] == 1 for t in node.args):
        return B.transpose(B.add(*(t.arg for t in node.args)))
    return node


def _starts_with_vec(term, k) -> bool:
    """term = (scalars)·vec(X)·… with (Bᵀ ⊗ A)vec(X) = vec(AXB) defined for k = Bᵀ ⊗ A."""
    _, _, chain = split_term(term)
    if not chain or type(chain[0]) is not E.Vec:
        return False
    x = chain[0].arg
    return k.right.shape[1] == x.shape[0] and k.left.shape[1] == x.shape[1]


def kron_over_vec_sum(node, ctx):
    """(P ⊗ Q)(vec(M)u + vec(N)v) → (P ⊗ Q)vec(M)u + (P ⊗ Q)vec(N)v, so that each
    (Bᵀ ⊗ A)vec(X) becomes vec(AXB): a plain matrix is not left in vec/⊗ form"""
    if type(node) is not E.MatMul:
        return node
    fs = node.args
    for i in range(len(fs) - 1):
        k, s = fs[i], fs[i + 1]
        if type(k) is E.Kron and type(s) is E.Add and all(_starts_with_vec(t, k) for t in s.args):
            spread = B.add(*(B.mul(k, t) for t in s.args))
            return B.mul(*fs[:i], spread, *fs[i + 2:])
    return node


def vec_scalars_out(node, ctx):
    """vec(c·A) → c·vec(A) for scalar factors c"""
    if type(node) is E.Vec and type(node.arg) is E.MatMul:
        scal = [f for f in node.arg.args if is_scalar(f.shape)]
        if scal:
            return B.mul(*scal, B.vec(B.mul(*(f for f in node.arg.args
                                               if not is_scalar(f.shape)))))
    return node


RULES = (det_of_inverse, trace_scalars_out, function_quotients, quotient_of_quotient,
         number_over_out, pythagorean, exp_of_zero,
         sum_of_row_transposes, kron_over_vec_sum, vec_scalars_out, centred_sums_vanish,
         ones_in_a_sum, hadamard_exps, inverse_of_chain_cancel)
RULE_TYPES = {
    det_of_inverse: (E.Det,), trace_scalars_out: (E.Trace,),
    function_quotients: (E.HadamardDiv,), quotient_of_quotient: (E.HadamardDiv,),
    number_over_out: (E.Hadamard,), pythagorean: (E.Add,),
    exp_of_zero: (E.Apply,), sum_of_row_transposes: (E.Add,), kron_over_vec_sum: (E.MatMul,),
    vec_scalars_out: (E.Vec,), centred_sums_vanish: (E.Sum, E.Mean),
    ones_in_a_sum: (E.Add,), hadamard_exps: (E.Hadamard, E.HadamardDiv),
    inverse_of_chain_cancel: (E.MatMul,),
}
register(RULES, RULE_TYPES)
PRODUCT_NEEDS.update({kron_over_vec_sum: (E.Kron,), inverse_of_chain_cancel: (E.Inverse,)})
SUM_NEEDS.update({
    pythagorean: (E.Power, E.HadamardPower, ("in", E.Power), ("in", E.HadamardPower)),
    ones_in_a_sum: (E.Ones, ("in", E.Ones)),
})
SUM_IDLE[sum_of_row_transposes] = lambda kinds: any(   # needs every term a transpose
    k is not E.Transpose for k in kinds if type(k) is not tuple)
