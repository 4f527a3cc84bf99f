"""One normal form for the scalar factors of a product: coef · Π baseᵉ over scalar atoms
(xᵀx, ‖a‖, det X, tr A, σ(z), 1 + xᵀx), nested products, powers, reciprocals and roots
opened where that is an identity on the domain ((u²)^½ = |u|, √u² = u), equal atoms
collected by canonical key, sign(u)·u = |u|, exp(a)exp(b) = exp(a + b). Not here: the
element-wise rational algebra (algebra.py) and other identities (identities.py).
"""
from __future__ import annotations

from fractions import Fraction
from math import gcd

from ..core import build as B
from ..core import expr as E
from ..core.shapes import is_scalar
from .rewrite import PRODUCT_IDLE, SUM_TERMS_IDLE, canonical, register, size, split_term

HALF = Fraction(1, 2)
_NONNEG_FNS = frozenset({"sqrt", "exp", "abs", "softplus", "sigmoid", "relu", "step", "cosh"})


def nonnegative(node) -> bool:
    """Whether a scalar is ≥ 0 wherever it is defined, by structure: norms, √, exp, |·|, even
    powers, xᵀx, and products, sums and reciprocals of those."""
    t = type(node)
    if t is E.Num:
        return node.value >= 0
    if t is E.Norm:
        return True
    if t is E.Apply:
        return node.fn in _NONNEG_FNS
    if t is E.Power:
        e = Fraction(node.exponent)
        return (e.denominator == 1 and e.numerator % 2 == 0) or nonnegative(node.arg) or \
            e.denominator != 1                  # a fractional power is real only for u ≥ 0
    if t is E.Inverse:
        return nonnegative(node.arg)
    if t is E.Add:
        return all(nonnegative(a) for a in node.args)
    if t is E.MatMul:
        chain = [f for f in node.args if not is_scalar(f.shape)]
        scal = [f for f in node.args if is_scalar(f.shape)]
        gram = not chain or (len(chain) == 2 and type(chain[0]) is E.Transpose and
                             chain[0].arg == chain[1])
        return gram and all(nonnegative(f) for f in scal)
    return False


def _may_open(inner, outer, base) -> bool:
    """(baseⁱⁿⁿᵉʳ)ᵒᵘᵗᵉʳ = base^(inner·outer) on the domain: the outer power is an integer, or
    the inner one is not an even integer, or base ≥ 0."""
    inner, outer = Fraction(inner), Fraction(outer)
    return outer.denominator == 1 or not (inner.denominator == 1 and inner.numerator % 2 == 0) \
        or nonnegative(base)


class Factors:
    """coef · Π baseᵉ, bases kept in the order first met, keyed by their canonical form."""
    __slots__ = ("coef", "powers", "seen", "opened")

    def __init__(self):
        self.coef = Fraction(1)
        self.powers: dict = {}       # key → [base, exponent]
        self.seen = 0                # base occurrences (more than len(powers): a merge)
        self.opened = False          # a scalar product holding a chain was opened: ((c)⁻²aᵀb)

    def add(self, base, e):
        key = canonical(base)
        self.seen += 1
        hit = self.powers.get(key)
        if hit is None:
            self.powers[key] = [base, Fraction(e)]
        else:
            hit[1] += e

    def take(self, node, e=Fraction(1)):
        """node^e multiplied in, opened as far as it is an identity to open it."""
        t = type(node)
        if t is E.Num:
            if Fraction(e).denominator == 1 and (node.value != 0 or e > 0):
                self.coef *= node.value ** int(e)
                return
        elif t is E.Power and is_scalar(node.shape):
            if _may_open(node.exponent, e, node.arg):
                return self.take(node.arg, e * Fraction(node.exponent))
            return self.take(B.apply("abs", node.arg), e * Fraction(node.exponent))  # (u²)^½
        elif t is E.Inverse and is_scalar(node.shape):
            return self.take(node.arg, -e)
        elif t is E.Apply and node.fn == "sqrt" and is_scalar(node.shape):
            return self.take(node.arg, e * HALF)
        elif t is E.Apply and node.fn == "abs" and nonnegative(node.arg):
            return self.take(node.arg, e)                       # |‖x‖| = ‖x‖
        elif t is E.MatMul and is_scalar(node.shape):
            scal = [f for f in node.args if is_scalar(f.shape)]
            chain = [f for f in node.args if not is_scalar(f.shape)]
            whole = B.mul(*chain) if chain else None
            if Fraction(e).denominator == 1 or (all(nonnegative(f) for f in scal) and
                                                (whole is None or nonnegative(whole))):
                if whole is not None:
                    self.add(whole, e)
                    self.opened = self.opened or bool(scal)
                for f in scal:
                    self.take(f, e)
                return
        self.add(node, e)

    def combine(self) -> bool:
        """sign(u)·u → |u|, sign(u)·|u| → u, u/|u| → sign(u), |u|²ᵏ → u²ᵏ, exp(a)ᵖexp(b)^q → exp(pa + qb), sinh(a)/cosh(a) →
        tanh(a), sin(a)/cos(a) → tan(a); whether any fired."""
        fired = False
        items = list(self.powers.values())
        fns = {}
        for entry in items:
            base = entry[0]
            if type(base) is E.Apply and entry[1] != 0:
                fns.setdefault((base.fn, canonical(base.arg)), entry)
        for (fn, key), entry in list(fns.items()):
            if fn == "sign" and entry[1] == 1:
                arg = entry[0].arg
                size_ = self.powers.get(canonical(B.apply("abs", arg)))
                plain = self.powers.get(canonical(arg))
                if size_ is not None and size_[1] >= 1:          # sign(u)·|u| = u
                    size_[1] -= 1
                    entry[1] = Fraction(0)
                    self.add(arg, 1)
                    fired = True
                elif plain is not None and plain[1] >= 1:        # sign(u)·u = |u|
                    plain[1] -= 1
                    entry[1] = Fraction(0)
                    self.add(B.apply("abs", arg), 1)
                    fired = True
            elif fn == "abs" and entry[1].denominator == 1 and entry[1].numerator % 2 == 0:
                self.add(entry[0].arg, entry[1])                 # |u|²ᵏ = u²ᵏ
                entry[1] = Fraction(0)
                fired = True
            elif fn == "abs" and entry[1] <= -1:
                plain = self.powers.get(key)
                if plain is not None and plain[1] >= 1 and plain[1].denominator == 1:
                    plain[1] -= 1                                # u/|u| = sign(u)
                    entry[1] += 1
                    self.add(B.apply("sign", entry[0].arg), 1)
                    fired = True
            elif fn in ("sinh", "sin"):
                other = fns.get(("cosh" if fn == "sinh" else "cos", key))
                if other is not None and other[1] == -entry[1]:
                    self.add(B.apply("tanh" if fn == "sinh" else "tan", entry[0].arg), entry[1])
                    entry[1] = other[1] = Fraction(0)
                    fired = True
        exps = [e for e in self.powers.values() if type(e[0]) is E.Apply and e[0].fn == "exp"
                and e[1] != 0]
        if len(exps) > 1:
            total = B.add(*(B.mul(B.num(p), b.arg) for b, p in exps))
            for entry in exps:
                entry[1] = Fraction(0)
            if not B.is_zero(total) and total != B.num(0):
                self.add(B.apply("exp", total), 1)           # exp(a)exp(−a) = 1
            fired = True
        return fired

    def merged(self) -> bool:
        return self.seen > len(self.powers)

    def build(self, chain=()):
        """The product back: coef, the bases above the line, then those below it (one
        denominator when that is smaller), then the matrix chain."""
        up, down = [], []
        for base, e in self.powers.values():
            if e > 0:
                up.append(_pow(base, e))
            elif e < 0:
                down.append((base, -e))
        head = [B.num(self.coef)] + up
        if not down:
            return B.mul(*head, *chain)
        apart = B.mul(*head, *(_pow(b, -e) for b, e in down), *chain)
        if len(down) == 1:
            return apart
        together = B.mul(*head, B.inverse(B.mul(*(_pow(b, e) for b, e in down))), *chain)
        exps = {e for _, e in down}
        options = [apart, together]
        if len(exps) == 1:
            options.append(B.mul(*head, _pow(B.mul(*(b for b, _ in down)), -exps.pop()), *chain))
        return min(options, key=size)


def _pow(base, e):
    if e == HALF:
        return B.apply("sqrt", base)
    if e == -HALF:
        return B.inverse(B.apply("sqrt", base))
    return B.power(base, e)


def _trivial(f) -> bool:
    """A scalar factor the normal form leaves as it is: an atom, not a power, product,
    reciprocal, root or a function that combines."""
    t = type(f)
    if t in (E.Power, E.Inverse, E.MatMul):
        return False
    return not (t is E.Apply and f.fn in ("sqrt", "sign", "abs", "exp", "sinh", "cosh",
                                          "sin", "cos"))


def read_term(term, whole: bool = False):
    """(Factors of the scalar part of term, its matrix chain); with whole, a 1×1 chain (the
    aᵀx of 2·aᵀx·|aᵀx|⁻¹) is one more atom and the chain is empty."""
    c, scal, chain = split_term(term)
    fs = Factors()
    fs.coef = c
    for f in scal:
        fs.take(f)
    if whole and chain and is_scalar(term.shape):
        fs.add(B.mul(*chain), 1)
        chain = []
    return fs, chain


def scalar_factors(node, ctx):
    """c·(xᵀx)⁻²·(xᵀx) → c·(xᵀx)⁻¹, sign(u)·u/|u| → 1, √u·√u → u, exp(a)exp(b) → exp(a + b):
    the scalar factors of a product as one rational function of its atoms, collected"""
    if type(node) is not E.MatMul:
        return node
    scal = [f for f in node.args if is_scalar(f.shape) and type(f) is not E.Num]
    if all(_trivial(f) for f in scal) and len(set(scal)) == len(scal):
        return node                           # plain distinct atoms: nothing to collect
    if len(scal) == 1 and type(scal[0]) in (E.Power, E.Inverse) and \
            _trivial(scal[0].arg) and type(scal[0].arg) is not E.Num and \
            not is_scalar(node.shape):
        return node     # one power of one plain atom beside matrices: nothing to merge, open or
        #                 combine (what is built back is this product, or larger: √u for u^½)
    fs, chain = read_term(node, whole=True)
    fired = fs.combine()
    out = fs.build(chain)
    if out == node or tuple(out.shape) != tuple(node.shape):
        return node
    new, old = size(out), size(node)
    if new == old and canonical(out) == canonical(node):
        return node                           # the same factors in another order: a cycle with
        #                                       the rules that order them (a/(u·|a/u|))
    keep = new < old or (new == old and (fired or fs.merged() or fs.opened))
    return out if keep else node


def _factors_of(term):
    fs, chain = read_term(term)
    fs.combine()
    return fs, chain


def _pull(parts, shape, keys):
    """Σ terms (their Factors and chains) with the lowest power of each base in keys, and
    the greatest common whole coefficient, taken outside; None when a term would not fit."""
    outside = Factors()
    for key in keys:
        exps = [fs.powers[key][1] for fs, _ in parts]
        e = min(exps) if exps[0] > 0 else max(exps)
        outside.powers[key] = [parts[0][0].powers[key][0], e]
    coefs = [fs.coef for fs, _ in parts]
    if all(c.denominator == 1 for c in coefs):
        g = 0
        for c in coefs:
            g = gcd(g, int(c))
        outside.coef = Fraction(-g if all(c < 0 for c in coefs) else g)
    terms = []
    for fs, chain in parts:
        fs.coef /= outside.coef
        for key in keys:
            fs.powers[key][1] -= outside.powers[key][1]
        terms.append(fs.build(chain))
        fs.coef *= outside.coef
        for key in keys:
            fs.powers[key][1] += outside.powers[key][1]
    if any(tuple(t.shape) != tuple(shape) and not is_scalar(t.shape) for t in terms):
        return None
    return outside.build([B.add(*terms, shape=shape)])


def _shared(parts):
    """base key → indices of the terms that hold it, all with exponents of one sign."""
    where: dict = {}
    for i, (fs, _) in enumerate(parts):
        for key, (_, e) in fs.powers.items():
            if e != 0:
                where.setdefault(key, []).append((i, e > 0))
    return {k: [i for i, _ in v] for k, v in where.items()
            if len(v) >= 2 and len({s for _, s in v}) == 1}


def common_scalar_power(node, ctx):
    """a⁻¹X + a⁻³Y → a⁻¹(X + a⁻²Y): the lowest power of a scalar atom that every term of a
    sum holds (with one sign) stands outside; 2a⁻¹X + 2a⁻¹Y + Z → 2a⁻¹(X + Y) + Z when that
    is smaller"""
    if type(node) is not E.Add or len(node.args) < 2:
        return node
    if sum(type(t) in (E.Power, E.Inverse) or type(t) is E.MatMul and
           any(is_scalar(f.shape) and type(f) is not E.Num for f in t.args)
           for t in node.args) < 2:
        return node                           # fewer than two terms with a scalar factor
    parts = [_factors_of(t) for t in node.args]
    shared = _shared(parts)
    if not shared:
        return node
    everywhere = [k for k, idx in shared.items() if len(idx) == len(parts)]
    if everywhere:
        out = _pull(parts, node.shape, everywhere)
        return out if out is not None and size(out) <= size(node) else node
    key = max(shared, key=lambda k: len(shared[k]))
    idx = shared[key]
    keys = [k for k, v in shared.items() if set(idx) <= set(v)]
    group = _pull([parts[i] for i in idx], node.shape, keys)
    if group is None:
        return node
    out = B.add(group, *(t for i, t in enumerate(node.args) if i not in idx), shape=node.shape)
    return out if size(out) < size(node) else node


RULES = (scalar_factors, common_scalar_power)
RULE_TYPES = {scalar_factors: (E.MatMul,), common_scalar_power: (E.Add,)}
register(RULES, RULE_TYPES)
# scalar_factors returns a product unchanged when its scalar factors other than numbers are none,
# or one that is plain (not a power, reciprocal, product or function application)
PRODUCT_IDLE[scalar_factors] = lambda s: not s.atoms or (
    len(s.atoms) == 1 and s.atoms[0] not in (E.Power, E.Inverse, E.MatMul, E.Apply))
# common_scalar_power counts the terms that are powers or inverses or have a scalar factor other
# than a number (plain: none has one)
SUM_TERMS_IDLE[common_scalar_power] = lambda f: f.plain and f.powers < 2
