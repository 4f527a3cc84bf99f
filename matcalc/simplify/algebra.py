"""Element-wise algebra for the simplifier: a maximal element-wise subexpression that divides is a
rational function of its atoms applied entry by entry, so a scalar `cancel`/`factor` can
put it in lowest terms — σ(z) ⊙ (1 − σ(z)) ⊙ ((1 − y) ⊘ (1 − σ(z)) − y ⊘ σ(z)) becomes
σ(z) − y. The result is translated back into our nodes and kept only when strictly smaller.
The scalar algebra is done by rational.py (exact, SymPy-free); SymPy is imported only when
that cannot decide (a fractional power, a factor it cannot certify irreducible).
"""
from __future__ import annotations

from fractions import Fraction

from ..core import build as B
from ..core import expr as E
from ..core.shapes import is_scalar
from . import rational
from .rewrite import COMPACTIONS, rebuild, rebuilt, record, size

MAX_ALGEBRA_SIZE = 60
MAX_ALGEBRA_ATOMS = 10
#: SymPy is asked only below this bound on the degree of what it would expand (see _degree):
#: the forms it puts in lowest terms in the identity table and the tests reach 9; a product of
#: five quotients' gradient reaches 56 and took SymPy 0.3 s to find nothing smaller.
MAX_ALGEBRA_DEGREE = 24

# Answers of _algebra across calls (the same element-wise parts recur in every derivation of a
# model); cleared when full. matcalc.simplify.rewrite.clear_caches empties it.
_MEMO: dict = {}
_MEMO_SIZE = 4096
_MISSING = object()


def _elementwise(node) -> bool:
    t = type(node)
    if t in (E.Add, E.Hadamard, E.HadamardDiv, E.HadamardPower):
        return True
    if t is E.MatMul:
        return sum(not is_scalar(f.shape) for f in node.args) <= 1 or \
            (is_scalar(node.shape) and any(is_scalar(f.shape) for f in node.args))
    return is_scalar(node.shape) and t in (E.Power, E.Inverse)


def _parts(node):
    """The operands of an element-wise node; the matrix chain of a 1×1 product is one
    operand (ν⁻¹·xᵀΣ⁻¹x: ν⁻¹ and xᵀΣ⁻¹x), never a commuting factor of its own."""
    if type(node) is E.MatMul and is_scalar(node.shape):
        chain = [f for f in node.args if not is_scalar(f.shape)]
        if len(chain) > 1:
            return tuple(f for f in node.args if is_scalar(f.shape)) + (B.mul(*chain),)
    return node.children


def _divides(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        t = type(n)
        if t is E.HadamardDiv or (t is E.HadamardPower and n.exponent < 0) or \
                (is_scalar(n.shape) and (t is E.Inverse or t is E.Power and n.exponent < 0)):
            return True
        if _elementwise(n):
            stack.extend(_parts(n))
    return False


def _to_sympy(node, atoms, sympy, keep_sums=False):
    """node as a SymPy expression in symbols for its atoms; with keep_sums, a sum that does
    not divide is one atom too (so c + (Xw − y)⊙² is not expanded)."""
    t = type(node)
    if keep_sums and t is E.Add and not _divides(node) and not _plain_sums(node, inner=True):
        t = None
    if t is E.Num:
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if t is E.Ones:
        return sympy.Integer(1)
    if t is not None and _elementwise(node):
        kids = [_to_sympy(c, atoms, sympy, keep_sums) for c in _parts(node)]
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
        outside = [f for f in num if is_scalar(f.shape)] if den else []
        num = [f for f in num if not is_scalar(f.shape)] if den else num
        top = B.mul(B.num(abs(coef)), B.hadamard(*num) if num else B.num(1))
        out = B.mul(*outside, B.hdiv(top, B.hadamard(*den))) if den else top
        return B.neg(out) if coef < 0 else out          # −(1 ⊘ x²), not (−1) ⊘ x²
    return None


def _degree(node) -> int:
    """A bound on the degree of the polynomials SymPy works with when it puts node over one
    denominator: atoms count 1, a product adds its factors' degrees, a quotient adds both sides',
    a sum adds its terms' (the common denominator of the terms holds all their denominators)."""
    t = type(node)
    if t is E.Num or t is E.Ones:
        return 0
    if not _elementwise(node):
        return 1
    if t is E.HadamardPower or t is E.Power:
        e = node.exponent
        return _degree(node.arg) * (abs(int(e)) if Fraction(e).denominator == 1 else 99)
    return sum(_degree(c) for c in _parts(node))


def _atoms(node, out: set) -> set:
    """The atoms of an element-wise expression (what _to_sympy makes symbols of)."""
    if type(node) in (E.Num, E.Ones):
        return out
    if _elementwise(node):
        for c in _parts(node):
            _atoms(c, out)
    else:
        out.add(node)
    return out


def _monomial(node, sign: int, powers: dict) -> bool:
    """Collect node as a product of powers of bases (atoms and sums) into powers[base] → set of
    signs of its exponents; False when node is not such a product."""
    t = type(node)
    if t is E.Num or t is E.Ones:
        return True
    if t in (E.Hadamard, E.MatMul) and _elementwise(node):
        return all(_monomial(c, sign, powers) for c in _parts(node))
    if t is E.HadamardDiv:
        return _monomial(node.left, sign, powers) and _monomial(node.right, -sign, powers)
    if t in (E.HadamardPower, E.Power):
        e = node.exponent
        return e != 0 and _monomial(node.arg, sign if e > 0 else -sign, powers)
    if t is E.Inverse and is_scalar(node.shape):
        return _monomial(node.arg, -sign, powers)
    if t is E.Add and _divides(node):
        return False
    powers.setdefault(node, set()).add(sign)
    return True


def _in_lowest_terms(node) -> bool:
    """Whether node is visibly in lowest terms already: a product of powers of atoms and of
    sums without division, no base both above and below the line, and no sum on one side that
    an atom on the other could divide (some term of the sum lacks that atom): x/‖x‖,
    2t/(1 + t²), x⊙² ⊘ (1 + x⊙²). A sum of such quotients goes to SymPy."""
    powers: dict = {}
    if not _monomial(node, 1, powers):
        return False
    up = [b for b, signs in powers.items() if signs == {1}]
    down = [b for b, signs in powers.items() if signs == {-1}]
    if len(up) + len(down) != len(powers):
        return False                         # a base on both sides cancels
    for side, other in ((up, down), (down, up)):
        sums = [b for b in side if type(b) is E.Add]
        if not sums:
            continue
        if any(type(b) is E.Add for b in other):
            return False                     # two polynomials may share a factor
        for atom in other:
            for total in sums:
                if all(atom in _atoms(term, set()) for term in total.args):
                    return False
    return True


def _algebra(node):
    """node in lowest terms as a rational function of its atoms, or None when not smaller."""
    if size(node) > MAX_ALGEBRA_SIZE:
        return None
    if type(node) is E.HadamardDiv and node.left != node.right and \
            not _elementwise(node.left) and not _elementwise(node.right):
        return None                          # a ⊘ b of two atoms has nothing to cancel
    if _degree(node) > MAX_ALGEBRA_DEGREE:
        return None                          # SymPy's cost grows fast with it; gains do not
    if _in_lowest_terms(node):
        return None                          # nothing to cancel: SymPy is not even imported
    hit = _MEMO.get(node, _MISSING)
    if hit is not _MISSING:
        return hit
    best = _lowest_terms(node)
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[node] = best
    return best


def _plain_sums(node, inner: bool = False) -> bool:
    """Whether an element-wise expression holds a sum that does not divide (one that the
    second pass of _lowest_terms keeps whole); with inner, one below node itself."""
    stack = list(_parts(node)) if inner else [node]
    while stack:
        n = stack.pop()
        if type(n) is E.Add and (inner or not _divides(n)):
            return True
        if _elementwise(n):
            stack.extend(_parts(n))
    return False


def _lowest_terms(node):
    if type(node) is E.HadamardDiv and node.left != node.right and \
            not _elementwise(node.left) and not _elementwise(node.right):
        return None                          # a ⊘ b of two atoms has nothing to cancel
    try:                                     # the own exact algebra first: no SymPy import
        return _lowest_terms_in(node, rational)
    except rational.Undecided:
        import sympy
        return _lowest_terms_in(node, sympy)


def _lowest_terms_in(node, sympy):
    """_lowest_terms with `sympy` the SymPy module or its SymPy-free stand-in, rational."""
    best, best_size = None, size(node)
    forms = []
    for keep_sums in (False, True):
        if keep_sums and not _plain_sums(node):
            break
        atoms: dict = {}
        expr = _to_sympy(node, atoms, sympy, keep_sums)
        if len(atoms) > MAX_ALGEBRA_ATOMS:
            return None
        back = {v: k for k, v in atoms.items()}
        cancelled = sympy.cancel(expr)
        forms.append((cancelled, back))
        if not cancelled.is_polynomial():    # a polynomial is already in lowest terms
            forms.append((sympy.factor(cancelled), back))
    for form, back in forms:
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


def _scalar_part(node):
    """The scalar factors of a matrix product in lowest terms together (σ(1 − σ)((1 − t)/(1 − σ)
    − t/σ)·M → (σ − t)·M, M/((1 + q/ν)ν) → M/(ν + q)), or None when that is not smaller."""
    scal = [f for f in node.args if is_scalar(f.shape) and type(f) is not E.Num]
    if not scal:
        return None
    # (the test below on the factors, before their product is built: a product of scalars
    # divides exactly when one of its factors does)
    if not (_elementwise(scal[0]) and _divides(scal[0]) if len(scal) == 1 else
            any(_divides(f) for f in scal)):
        return None
    part = B.mul(*scal)
    if not (_elementwise(part) and _divides(part)):
        return None
    reduced = _algebra(part)
    if reduced is None:
        return None
    rest = [f for f in node.args if not is_scalar(f.shape) or type(f) is E.Num]
    return B.mul(reduced, *rest)


def _termwise(node):
    """node with the scalar factors of each product inside it in lowest terms, when node as a
    whole has no smaller form: (g − (gᵀx)x/((xᵀx/n + ε)n))/√u → (g − (gᵀx)x/(xᵀx + nε))/√u."""
    def go(n):
        if type(n) is E.MatMul:
            r = _scalar_part(n)
            if r is not None:
                return r
        if type(n) in (E.Add, E.MatMul, E.Hadamard) and _elementwise(n):
            return rebuilt(n, [go(c) for c in n.children])
        return n
    out = go(node)
    return None if out == node else out


_LEAVES = frozenset(E.LEAVES)


_DIVIDING = frozenset((E.HadamardDiv, E.HadamardPower, E.Inverse, E.Power))


def _may_divide(node) -> bool:
    """Whether the tree holds a node of a type that _divides looks for: every reduction below
    starts from one, so without any the tree is its own compact form."""
    return E.holds_type(node, _DIVIDING)


def compact_algebra(node, ctx):
    """Element-wise subexpressions in lowest terms; inner products through ⊙ (bottom-up)."""
    if not _may_divide(node):
        return node
    memos = ({}, {})                  # outside / inside an element-wise part: node → result

    def go(n, inside):
        memo = memos[inside]
        hit = memo.get(n)
        if hit is not None:
            return hit
        ew = _elementwise(n)
        direct = set(_parts(n)) if ew else ()      # a 1×1 product's chain factors stand alone
        m = rebuilt(n, [c if type(c) in _LEAVES else go(c, c in direct)   # (a leaf is itself)
                        for c in n.children])
        reduced = None
        if type(m) is E.MatMul and len(m.args) == 2 and is_scalar(m.shape):
            reduced = _inner_product(m)
        elif type(m) is E.MatMul and not ew:
            reduced = _scalar_part(m)
        elif ew and not inside and _elementwise(m) and _divides(m):
            reduced = _algebra(m)
            if reduced is None:
                reduced = _termwise(m)
        if reduced is not None:
            record(ctx, "elementwise_algebra", m, reduced)
            m = reduced
        memo[n] = m
        return m

    return go(node, False)


compact_algebra.needs = _DIVIDING      # (see _may_divide)
COMPACTIONS.append(compact_algebra)
