"""Exact rational-function algebra over the rationals, without SymPy: the element-wise algebra
(algebra.py) asks it first to put a rational function of opaque atoms (σ(z), exp(x), x) in
lowest terms, and asks SymPy only when this module raises Undecided.

Polynomials are sparse dicts {monomial: Fraction}, a monomial the tuple of the atoms' exponents
(atom 0 first, trailing zeros dropped), so tuple order is the lexicographic order with atom 0
most significant. The greatest common divisor is exact (recursive: contents, then a primitive
pseudo-remainder sequence in one atom), so cancellation is always decided. Factoring is not
general: a polynomial is split by its monomial content and by trial division by the
polynomials of the sums that occur in the input, and each remaining factor must be certified
irreducible (degree 1 in some atom with coprime coefficients, or degree 2 in some atom with a
constant discriminant that is not a square); anything else raises Undecided.

The module mimics the small part of SymPy's interface that algebra.py uses (Symbol, Rational,
Integer, Add, Mul, cancel, factor and the is_* flags of the results), with SymPy's normal forms:
cancel gives P/Q with P, Q coprime integer polynomials without a common integer factor and the
leading coefficient of Q positive; factor gives a coefficient times powers of primitive factors
with positive leading coefficients.
"""
from __future__ import annotations

from fractions import Fraction
from functools import cmp_to_key
from math import gcd as igcd, isqrt


class Undecided(Exception):
    """The own algebra cannot give SymPy's answer here (a fractional power, a factor it cannot
    certify irreducible): the caller asks SymPy."""


# ---------------------------------------------------------------- polynomials (dicts)

ONE = {(): 1}


def _strip(m):
    n = len(m)
    while n and m[n - 1] == 0:
        n -= 1
    return m[:n]


def _mono_mul(a, b):
    if len(a) < len(b):
        a, b = b, a
    return _strip(tuple(x + (b[i] if i < len(b) else 0) for i, x in enumerate(a)))


def _mono_div(a, b):
    """a / b when b divides a, else None."""
    if len(b) > len(a):
        return None
    out = []
    for i, x in enumerate(a):
        y = x - (b[i] if i < len(b) else 0)
        if y < 0:
            return None
        out.append(y)
    return _strip(tuple(out))


def _add(f, g, sign=1):
    out = dict(f)
    for m, c in g.items():
        v = out.get(m, 0) + sign * c
        if v:
            out[m] = v
        else:
            out.pop(m, None)
    return out


def _mul(f, g):
    out: dict = {}
    for m1, c1 in f.items():
        for m2, c2 in g.items():
            m = _mono_mul(m1, m2)
            v = out.get(m, 0) + c1 * c2
            if v:
                out[m] = v
            else:
                out.pop(m, None)
    return out


def _scale(f, c):
    return {m: v * c for m, v in f.items()} if c else {}


def _pow(f, k):
    out = ONE
    for _ in range(k):
        out = _mul(out, f)
    return out


def _is_const(f):
    return not f or (len(f) == 1 and () in f)


def _lead(f):
    m = max(f)
    return m, f[m]


def _div(f, g):
    """f / g when g divides f exactly, else None (long division in lex order)."""
    if not g:
        raise ZeroDivisionError
    gm, gc = _lead(g)
    q: dict = {}
    r = dict(f)
    while r:
        m, c = _lead(r)
        t = _mono_div(m, gm)
        if t is None:
            return None
        term = {t: c // gc if type(c) is int and type(gc) is int and not c % gc else
                Fraction(c) / gc}
        q = _add(q, term)
        r = _add(r, _mul(term, g), -1)
    return q


def _vars(f):
    out = set()
    for m in f:
        out.update(i for i, e in enumerate(m) if e)
    return out


def _deg(f, v):
    return max((m[v] if v < len(m) else 0) for m in f) if f else -1


def _coeffs(f, v):
    """f as {power of atom v: coefficient polynomial free of v}."""
    out: dict = {}
    for m, c in f.items():
        k = m[v] if v < len(m) else 0
        rest = _strip(m[:v] + (0,) + m[v + 1:]) if v < len(m) else m
        out.setdefault(k, {})[rest] = c
    return out


def _var(v, k=1):
    return {_strip(tuple(0 for _ in range(v)) + (k,)): 1}


def _prim(f):
    """f scaled to coprime integer coefficients with a positive leading one (the gcd works
    over the integers: Python's ints are much faster than Fractions)."""
    if not f:
        return f
    _, (g,) = _integral(f)
    return _scale(g, -1) if _lead(g)[1] < 0 else g


def _content(f, v):
    """The gcd of f's coefficients as a polynomial in atom v (f primitive over the integers)."""
    g: dict = {}
    for c in _coeffs(f, v).values():
        g = _zgcd(g, _prim(c))
        if _is_const(g):
            return ONE
    return g


def _prem(f, g, v):
    n = _deg(g, v)
    lc = _coeffs(g, v)[n]
    r = f
    while r and _deg(r, v) >= n:
        d = _deg(r, v)
        lr = _coeffs(r, v)[d]
        r = _add(_mul(lc, r), _mul(_mul(lr, _var(v, d - n)), g), -1)
    return r


def _gcd(f, g):
    """A greatest common divisor of f and g over the rationals (primitive over the integers)."""
    return _zgcd(_prim(f), _prim(g))


def _zgcd(f, g):
    """_gcd of two primitive integer polynomials."""
    if not f:
        return _prim(g)
    if not g:
        return _prim(f)
    if _is_const(f) or _is_const(g):
        return ONE
    mf, mg = _low(f), _low(g)
    if mf or mg:                             # monomial contents apart: x·p, x²·q
        common = _strip(tuple(min(a, b) for a, b in zip(mf, mg)))
        h = _zgcd(_div(f, {mf: 1}), _div(g, {mg: 1}))
        return _mul({common: 1}, h)
    for a, b in ((f, g), (g, f)):
        if _div(b, a) is not None:
            return _prim(a)
    vf, vg = _vars(f), _vars(g)
    for v in vf ^ vg:                        # an atom in one only: its coefficients' gcd
        return _zgcd(f, _content(g, v)) if v in vg else _zgcd(_content(f, v), g)
    v = min(vf, key=lambda u: (max(_deg(f, u), _deg(g, u)), -u))
    cf, cg = _content(f, v), _content(g, v)
    a, b = _div(f, cf), _div(g, cg)
    if _deg(a, v) < _deg(b, v):
        a, b = b, a
    while True:
        r = _prem(a, b, v)
        if not r:
            h = _prim(_div(b, _content(b, v)))
            break
        if _deg(r, v) == 0:
            h = ONE
            break
        a, b = b, _prim(_div(r, _content(r, v)))
    return _prim(_mul(_zgcd(cf, cg), h))


def _low(f):
    """The monomial content of f: the least exponent of every atom over its terms."""
    width = max(map(len, f))
    return _strip(tuple(min((m[i] if i < len(m) else 0) for m in f) for i in range(width)))


def _integral(p, q=None):
    """p (and q) scaled by one rational so that all coefficients are coprime integers."""
    polys = [p] if q is None else [p, q]
    den, num = 1, 0
    for f in polys:
        for c in f.values():
            den = den * c.denominator // igcd(den, c.denominator)
    for f in polys:
        for c in f.values():
            num = igcd(num, int(c * den))
    k = Fraction(den, num or 1)
    return k, [{m: int(c * k) for m, c in f.items()} for f in polys]


def _is_square(c: Fraction) -> bool:
    if c < 0:
        return False
    return isqrt(c.numerator) ** 2 == c.numerator and isqrt(c.denominator) ** 2 == c.denominator


def _irreducible(f) -> bool:
    """Whether f (primitive, no monomial factor) is certainly irreducible over the rationals."""
    if sum(max(m) if m else 0 for m in f) and all(sum(m) <= 1 for m in f):
        return True
    for v in _vars(f):
        d = _deg(f, v)
        if d > 2:
            continue
        cs = _coeffs(f, v)
        if not _is_const(_content(f, v)):
            continue
        if d == 1:
            return True
        c2, c1, c0 = cs.get(2, {}), cs.get(1, {}), cs.get(0, {})
        disc = _add(_mul(c1, c1), _scale(_mul(c2, c0), 4), -1)
        if not _maybe_square(disc):
            return True
    return False


def _maybe_square(f) -> bool:
    """False when f is certainly not the square of a polynomial: its lexicographically first
    or last coefficient is not a rational square, or it is one term with an odd exponent."""
    if not f:
        return True
    if not (_is_square(f[max(f)]) and _is_square(f[min(f)])):
        return False
    return len(f) > 1 or all(e % 2 == 0 for e in next(iter(f)))


# ---------------------------------------------------------------- SymPy-shaped expressions

class _Expr:
    is_Symbol = is_Rational = is_Add = is_Mul = is_Pow = False
    args: tuple = ()
    pq = None                       # (P, Q, candidates) on a result of cancel

    def is_polynomial(self):
        return _is_const(self.pq[1])

    # atoms and numbers met while translating a tree take part in its arithmetic
    def __add__(self, other):
        return _rf(self) + other

    def __radd__(self, other):
        return _rf(other) + self

    def __mul__(self, other):
        return _rf(self) * other

    def __rmul__(self, other):
        return _rf(other) * self

    def __truediv__(self, other):
        return _rf(self) / other

    def __rtruediv__(self, other):
        return _rf(other) / self

    def __pow__(self, e):
        return _rf(self) ** e


class Symbol(_Expr):
    is_Symbol = True

    def __init__(self, name):
        self.index = int(name[1:])

    def __eq__(self, other):
        return isinstance(other, Symbol) and other.index == self.index

    def __hash__(self):
        return hash(("rational-symbol", self.index))


class _Num(_Expr):
    is_Rational = True

    def __init__(self, value):
        self.value = Fraction(value)
        self.p, self.q = self.value.numerator, self.value.denominator


def Rational(p, q=1):
    return _Num(Fraction(p, q))


def Integer(p):
    return _Num(Fraction(p))


class _Node(_Expr):
    def __init__(self, kind, args, base=None, exp=None):
        setattr(self, kind, True)
        self.args, self.base, self.exp = tuple(args), base, exp


_NUMBER_CLASS = {Fraction(0): 0, Fraction(1): 1, Fraction(1, 2): 2, Fraction(-1): 5}


def _cmp(x, y) -> int:
    """SymPy's Basic.compare on these expressions, the order of the args of its Add and Mul:
    numbers, then symbols (by name as text), powers, products (fewer args first)."""
    rx, ry = _rank(x), _rank(y)
    if rx != ry:
        return -1 if rx < ry else 1
    if x.is_Rational:
        a, b = (x.p, x.q), (y.p, y.q)
    elif x.is_Symbol:
        a, b = f"a{x.index}", f"a{y.index}"
    else:
        if len(x.args) != len(y.args):
            return -1 if len(x.args) < len(y.args) else 1
        for u, v in zip(x.args, y.args):
            c = _cmp(u, v)
            if c:
                return c
        return 0
    return (a > b) - (a < b)


def _rank(x):
    if x.is_Rational:
        return _NUMBER_CLASS.get(x.value, 7 if x.q == 1 else 8)
    return 20 if x.is_Symbol else 21 if x.is_Pow else 22 if x.is_Mul else 23


def _sorted(args):
    return sorted(args, key=cmp_to_key(_cmp))


def _pow_expr(base, k):
    return base if k == 1 else _Node("is_Pow", (base, Integer(k)), base, Integer(k))


def _mul_expr(coef, factors):
    """coef · factors, as SymPy's Mul would leave it (a lone factor is itself)."""
    if coef == 0:
        return Integer(0)
    if not factors:
        return _Num(coef)
    if coef == 1 and len(factors) == 1:
        return factors[0]
    return _Node("is_Mul", ((_Num(coef),) if coef != 1 else ()) + tuple(_sorted(factors)))


def _poly_expr(f, sign=1):
    """An expanded polynomial: a sum of terms, a term, or a number."""
    terms = []
    for m in sorted(f, key=lambda m: (sum(m), tuple(-e for e in m))):
        factors = [_pow_expr(Symbol(f"a{i}"), e) for i, e in enumerate(m) if e]
        terms.append(_mul_expr(sign * f[m], factors))
    if not terms:
        return Integer(0)
    return terms[0] if len(terms) == 1 else _Node("is_Add", _sorted(terms))


# ---------------------------------------------------------------- rational functions

class _RF:
    """A rational function num/den met while translating a tree; `sums` holds the numerator of
    every sum in it, the candidate factors for `factor`."""

    def __init__(self, num, den, sums):
        self.num, self.den, self.sums = num, den, sums

    def __add__(self, other):
        o = _rf(other)
        sums = self.sums + o.sums
        if self.den == o.den:
            num, den = _add(self.num, o.num), self.den
        elif _div(o.den, self.den) is not None:          # 1/(1 + x²) − x²/(1 + x²)²
            num, den = _add(_mul(self.num, _div(o.den, self.den)), o.num), o.den
        elif _div(self.den, o.den) is not None:
            num, den = _add(self.num, _mul(o.num, _div(self.den, o.den))), self.den
        else:
            num, den = _add(_mul(self.num, o.den), _mul(o.num, self.den)), _mul(self.den, o.den)
        return _RF(num, den, sums + (num,))

    __radd__ = __add__

    def __mul__(self, other):
        o = _rf(other)
        return _RF(_mul(self.num, o.num), _mul(self.den, o.den), self.sums + o.sums)

    __rmul__ = __mul__

    def __truediv__(self, other):
        o = _rf(other)
        if not o.num:
            raise Undecided("division by zero")
        return _RF(_mul(self.num, o.den), _mul(self.den, o.num), self.sums + o.sums)

    def __rtruediv__(self, other):
        return _rf(other) / self

    def __pow__(self, e):
        e = e.value if isinstance(e, _Num) else Fraction(e)
        if e.denominator != 1:
            raise Undecided("fractional power")
        k = int(e)
        if k < 0:
            if not self.num:
                raise Undecided("division by zero")
            return _RF(_pow(self.den, -k), _pow(self.num, -k), self.sums)
        return _RF(_pow(self.num, k), _pow(self.den, k), self.sums)


def _rf(x):
    if isinstance(x, _RF):
        return x
    if isinstance(x, Symbol):
        return _RF(_var(x.index), ONE, ())
    if isinstance(x, _Num):
        return _RF({(): x.value} if x.value else {}, ONE, ())
    if isinstance(x, (int, Fraction)):
        return _RF({(): Fraction(x)} if x else {}, ONE, ())
    raise Undecided(f"not a rational function: {type(x).__name__}")


def Add(*terms):
    out = _rf(Integer(0))
    for t in terms:
        out = out + t
    return out


def Mul(*factors):
    out = _rf(Integer(1))
    for f in factors:
        out = out * f
    return out


def cancel(e):
    """SymPy's cancel(e): P/Q in lowest terms (coprime integer polynomials, no common integer
    factor, Q's leading coefficient positive), as the expression SymPy would build."""
    rf = _rf(e)
    g = _gcd(rf.num, rf.den)
    p, q = _div(rf.num, g), _div(rf.den, g)
    if not p:
        out = Integer(0)
        out.pq = ({}, ONE, rf.sums)
        return out
    _, (p, q) = _integral(p, q)
    if _lead(q)[1] < 0:
        p, q = _scale(p, -1), _scale(q, -1)
    if _is_const(q):
        k = Fraction(1) / q[()]
        out = _poly_expr(_scale(p, k))            # a number over a sum is distributed
    else:
        top = _poly_expr(p)
        bottom = _poly_expr(q)
        factors = [top] if not (top.is_Rational or top.is_Mul) else \
            [] if top.is_Rational else [f for f in top.args if not f.is_Rational]
        coef = top.value if top.is_Rational else \
            next((f.value for f in top.args if f.is_Rational), Fraction(1)) if top.is_Mul \
            else Fraction(1)
        if bottom.is_Add:
            factors.append(_Node("is_Pow", (bottom, Integer(-1)), bottom, Integer(-1)))
        else:
            parts = bottom.args if bottom.is_Mul else (bottom,)
            for f in parts:
                if f.is_Rational:
                    coef /= f.value
                else:
                    base, k = (f.base, f.exp.value) if f.is_Pow else (f, Fraction(1))
                    factors.append(_Node("is_Pow", (base, Integer(-k)), base, Integer(-k)))
        out = _mul_expr(coef, factors)
    out.pq = (p, q, rf.sums)
    return out


def _factor_list(f, candidates):
    """(c, [(factor, power)]) with f = c · Π factor^power, every factor primitive with a
    positive leading coefficient and irreducible; Undecided when that cannot be certified."""
    out = []
    mono = _low(f)
    rest = {_mono_div(m, mono): c for m, c in f.items()}
    for i, e in enumerate(mono):
        if e:
            out.append((_var(i), e))
    for cand in candidates:
        k = 0
        while not _is_const(rest):
            q = _div(rest, cand)
            if q is None:
                break
            rest, k = q, k + 1
        if k:
            out.append((cand, k))
    if not _is_const(rest):
        rest = _prim(rest)
        if len(_vars(rest)) == 1:                # x² − 1 = (x + 1)(x − 1)
            for lin in _linear_factors(rest):
                k = 0
                while True:
                    q = _div(rest, lin)
                    if q is None:
                        break
                    rest, k = q, k + 1
                out.append((lin, k))
    if not _is_const(rest):
        r = _prim(rest)
        atoms = _vars(r)                     # one atom, degree ≤ 3, no rational root left
        univariate = len(atoms) == 1 and _deg(r, min(atoms)) <= 3
        if not (univariate or _irreducible(r)):
            raise Undecided("a factor not certified irreducible")
        out.append((r, 1))
    prod = ONE
    for g, k in out:
        prod = _mul(prod, _pow(g, k))
    c = _div(f, prod)
    if c is None or not _is_const(c):
        raise Undecided("factorisation does not multiply back")
    return c.get((), Fraction(0)), out


def _divisors(n: int):
    n = abs(n)
    if n > 10 ** 6:
        raise Undecided("coefficients too large to look for rational roots")
    return [d for d in range(1, n + 1) if n % d == 0]


def _linear_factors(f):
    """The factors q·x − p of a polynomial f in one atom x (integer coefficients, not divisible
    by x), one per rational root p/q."""
    (v,) = _vars(f)
    cs = _coeffs(f, v)
    lead, const = cs[max(cs)][()], cs[0][()]
    out = []
    for q in _divisors(lead):
        for p in _divisors(const):
            for root in {Fraction(p, q), Fraction(-p, q)}:
                if sum(c[()] * root ** k for k, c in cs.items()) == 0:
                    lin = _prim(_add(_scale(_var(v), root.denominator),
                                     {(): -root.numerator}))
                    if lin not in out:
                        out.append(lin)
    return out


def _candidates(sums):
    seen, out = set(), []
    for s in sums:
        if not s or _is_const(s):
            continue
        low = _low(s)
        s = {_mono_div(m, low): c for m, c in s.items()}
        if len(s) < 2:
            continue
        _, (s,) = _integral(s)
        if _lead(s)[1] < 0:
            s = _scale(s, -1)
        key = tuple(sorted(s.items()))
        if key not in seen and _irreducible(s):
            seen.add(key)
            out.append(s)
    return out


def factor(e):
    """SymPy's factor of a result of cancel: a coefficient times powers of irreducible
    factors, built as SymPy's _keep_coeff would leave it."""
    p, q, sums = e.pq
    cands = _candidates(sums)
    cp, fp = _factor_list(p, cands)
    cq, fq = _factor_list(q, cands)
    coef = Fraction(cp) / cq
    factors = [(g, k) for g, k in fp] + [(g, -k) for g, k in fq]
    if not factors:
        return _Num(coef)
    exprs = [_poly_expr(g) if k == 1 else
             _Node("is_Pow", (_poly_expr(g), Integer(k)), _poly_expr(g), Integer(k))
             for g, k in factors]
    if len(exprs) == 1 and exprs[0].is_Add:
        if coef == 1:
            return exprs[0]
        if coef == -1:
            return _poly_expr(factors[0][0], -1)
        return _Node("is_Mul", (_Num(coef), exprs[0]))
    return _mul_expr(coef, exprs) if coef != 1 or len(exprs) == 1 else \
        _Node("is_Mul", _sorted(exprs))
