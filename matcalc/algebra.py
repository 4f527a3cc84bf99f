"""Element-wise algebra for the simplifier: a maximal element-wise subexpression that divides is a
rational function of its atoms applied entry by entry, so SymPy's scalar `cancel`/`factor` can
put it in lowest terms — σ(z) ⊙ (1 − σ(z)) ⊙ ((1 − y) ⊘ (1 − σ(z)) − y ⊘ σ(z)) becomes
σ(z) − y. The result is translated back into our nodes and kept only when strictly smaller.
SymPy does scalar algebra here and nothing else, and is imported only when the
simplifier reaches this stage.
"""
from __future__ import annotations

from fractions import Fraction

from . import build as B
from . import expr as E
from .shapes import is_scalar
from .simplify import COMPACTIONS, rebuild, rebuilt, record, size

MAX_ALGEBRA_SIZE = 60
MAX_ALGEBRA_ATOMS = 10


def _elementwise(node) -> bool:
    t = type(node)
    if t in (E.Add, E.Hadamard, E.HadamardDiv, E.HadamardPower):
        return True
    if t is E.MatMul:
        return sum(not is_scalar(f.shape) for f in node.args) <= 1
    return is_scalar(node.shape) and t in (E.Power, E.Inverse)


def _divides(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        t = type(n)
        if t is E.HadamardDiv or (t is E.HadamardPower and n.exponent < 0) or \
                (is_scalar(n.shape) and (t is E.Inverse or t is E.Power and n.exponent < 0)):
            return True
        if _elementwise(n):
            stack.extend(n.children)
    return False


def _to_sympy(node, atoms, sympy):
    t = type(node)
    if t is E.Num:
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if t is E.Ones:
        return sympy.Integer(1)
    if _elementwise(node):
        kids = [_to_sympy(c, atoms, sympy) for c in node.children]
        if t is E.Add:
            return sympy.Add(*kids)
        if t in (E.Hadamard, E.MatMul):
            return sympy.Mul(*kids)
        if t is E.HadamardDiv:
            return kids[0] / kids[1]
        if t is E.Inverse:
            return 1 / kids[0]
        return kids[0] ** sympy.Rational(node.exponent.numerator, node.exponent.denominator)
    if node not in atoms:
        atoms[node] = sympy.Symbol(f"a{len(atoms)}")
    return atoms[node]


def _from_sympy(e, back, sympy):
    """Our tree for a SymPy rational expression in the atoms (None for anything else)."""
    if e.is_Symbol:
        return back.get(e)
    if e.is_Rational:
        return B.num(Fraction(int(e.p), int(e.q)))
    if e.is_Add:
        terms = [_from_sympy(a, back, sympy) for a in e.args]
        return None if any(t is None for t in terms) else B.add(*terms)
    if e.is_Mul or e.is_Pow:
        factors = e.args if e.is_Mul else (e,)
        coef, num, den = Fraction(1), [], []
        for f in factors:
            if f.is_Rational:
                coef *= Fraction(int(f.p), int(f.q))
                continue
            base, ex = (f.base, f.exp) if f.is_Pow else (f, sympy.Integer(1))
            if not ex.is_Rational:
                return None
            b = _from_sympy(base, back, sympy)
            if b is None:
                return None
            ex = Fraction(int(ex.p), int(ex.q))
            (num if ex > 0 else den).append(B.hpow(b, abs(ex)))
        top = B.mul(B.num(abs(coef)), B.hadamard(*num) if num else B.num(1))
        out = B.hdiv(top, B.hadamard(*den)) if den else top
        return B.neg(out) if coef < 0 else out          # −(1 ⊘ x²), not (−1) ⊘ x²
    return None


def _algebra(node):
    """node in lowest terms as a rational function of its atoms, or None when not smaller."""
    if size(node) > MAX_ALGEBRA_SIZE:
        return None
    if type(node) is E.HadamardDiv and node.left != node.right and \
            not _elementwise(node.left) and not _elementwise(node.right):
        return None                          # a ⊘ b of two atoms has nothing to cancel
    import sympy
    atoms: dict = {}
    expr = _to_sympy(node, atoms, sympy)
    if len(atoms) > MAX_ALGEBRA_ATOMS:
        return None
    back = {v: k for k, v in atoms.items()}
    best, best_size = None, size(node)
    cancelled = sympy.cancel(expr)
    forms = [cancelled]
    if not cancelled.is_polynomial():        # a polynomial is already in lowest terms
        forms.append(sympy.factor(cancelled))
    for form in forms:
        cand = _from_sympy(form, back, sympy)
        if cand is None:
            continue
        if tuple(cand.shape) != tuple(node.shape):
            if not is_scalar(cand.shape):
                continue
            cand = B.mul(cand, B.ones(node.shape))
        cand_size = size(cand)
        if cand_size < best_size:
            best, best_size = cand, cand_size
    return best


def _inner_product(node):
    """uᵀv → sum(u ⊙ v) when u ⊙ v reduces, e.g. sᵀ(y ⊘ s) → sum(y)."""
    a, b = node.args
    if type(a) is not E.Transpose or a.arg.shape[1] != 1 or b.shape[1] != 1 or \
            is_scalar(b.shape) or not (_divides(b) or _divides(a.arg)):
        return None
    prod = B.hadamard(a.arg, b)
    reduced = _algebra(prod) if _elementwise(prod) else None
    if reduced is None:
        return None
    cand = B.summ(reduced)
    return cand if size(cand) < size(node) else None


def compact_algebra(node, ctx):
    """Element-wise subexpressions in lowest terms; inner products through ⊙ (bottom-up)."""
    memo: dict = {}

    def go(n, inside):
        key = (n, inside)
        hit = memo.get(key)
        if hit is not None:
            return hit
        ew = _elementwise(n)
        m = rebuilt(n, [go(c, ew) for c in n.children])
        reduced = None
        if type(m) is E.MatMul and len(m.args) == 2 and is_scalar(m.shape):
            reduced = _inner_product(m)
        elif ew and not inside and _elementwise(m) and _divides(m):
            reduced = _algebra(m)
        if reduced is not None:
            record(ctx, "elementwise_algebra", m, reduced)
            m = reduced
        memo[key] = m
        return m

    return go(node, False)


COMPACTIONS.append(compact_algebra)
