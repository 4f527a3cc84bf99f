"""Symbolic sizes: positive integers, names, and products of them (m, 3, m·n, n²).

Sizes in matcalc only ever multiply (Kronecker products, vec, commutation matrices), so a size
is a monomial: an integer coefficient times names raised to positive powers. This small class
replaces SymPy symbols for sizes so that parsing, deriving and printing never import SymPy
(importing SymPy alone takes longer than the command line's whole answer should); the
attribute names (is_Integer, is_Symbol, free_symbols, subs) follow SymPy's, and
`to_sympy()` gives the SymPy expression for users who continue there.
"""
from __future__ import annotations

from math import gcd
from numbers import Integral


class Dim:
    """coef · Π name^exp, immutable and hashable; an integer Dim hashes and compares like an int."""

    __slots__ = ("coef", "factors", "_hash")

    def __init__(self, coef: int = 1, factors: tuple = ()):
        object.__setattr__(self, "coef", int(coef))
        object.__setattr__(self, "factors", factors)     # sorted ((name, exp), ...), exp ≥ 1
        object.__setattr__(self, "_hash", hash(self.coef) if not factors
                           else hash((self.coef, factors)))

    def __setattr__(self, key, value):
        raise AttributeError("sizes are immutable")

    # SymPy-compatible queries ----------------------------------------------------------------
    @property
    def is_Integer(self) -> bool:
        return not self.factors

    @property
    def is_Symbol(self) -> bool:
        return self.coef == 1 and len(self.factors) == 1 and self.factors[0][1] == 1

    @property
    def free_symbols(self) -> set:
        return {symbol(n) for n, _ in self.factors}

    def subs(self, mapping) -> "Dim":
        """Replace names by sizes or integers; keys may be Dims or strings."""
        out = integer(self.coef)
        for n, e in self.factors:
            value = mapping.get(symbol(n), mapping.get(n)) if mapping else None
            base = symbol(n) if value is None else as_dim(value)
            for _ in range(e):
                out = out * base
        return out

    def flat_factors(self) -> list:
        """The size as a list of factors, a name repeated for its power: 2m·n² → [2, m, n, n]
        (the coefficient only when it is not 1)."""
        out = [self.coef] if self.coef != 1 else []
        for name, exp in self.factors:
            out += [name] * exp
        return out

    # Arithmetic ------------------------------------------------------------------------------
    def __mul__(self, other) -> "Dim":
        other = as_dim(other)
        merged = dict(self.factors)
        for n, e in other.factors:
            merged[n] = merged.get(n, 0) + e
        return _make(self.coef * other.coef, tuple(sorted(merged.items())))

    __rmul__ = __mul__

    def __int__(self) -> int:
        if self.factors:
            raise TypeError(f"the size {self} is not a number")
        return self.coef

    __index__ = __int__

    def __eq__(self, other) -> bool:
        if type(other) is int:                  # (before the ABC check below, which is slow)
            return not self.factors and self.coef == other
        if isinstance(other, Dim):
            return self.coef == other.coef and self.factors == other.factors
        if isinstance(other, Integral):
            return not self.factors and self.coef == other
        return NotImplemented

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        parts = [] if self.coef == 1 and self.factors else [str(self.coef)]
        parts += [n if e == 1 else f"{n}**{e}" for n, e in self.factors]
        return "*".join(parts)

    __repr__ = __str__

    def __reduce__(self):
        return (_make, (self.coef, self.factors))

    def to_sympy(self):
        import sympy
        out = sympy.Integer(self.coef)
        for n, e in self.factors:
            out *= sympy.Symbol(n, integer=True, positive=True) ** e
        return out


_CACHE: dict = {}     # never emptied: sizes are interned, and shapes.is_scalar counts on ONE
                      # being the only Dim equal to 1


def _make(coef: int, factors: tuple) -> Dim:
    key = (coef, factors)
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = Dim(coef, factors)
    return hit


def symbol(name: str) -> Dim:
    """The size called `name`."""
    return _make(1, ((name, 1),))


def integer(value: int) -> Dim:
    return _make(int(value), ())


def as_dim(value) -> Dim:
    if isinstance(value, Dim):
        return value
    if isinstance(value, Integral):
        return integer(int(value))
    if hasattr(value, "is_Integer") and value.is_Integer:       # a SymPy integer
        return integer(int(value))
    if hasattr(value, "is_Symbol") and value.is_Symbol:          # a SymPy symbol
        return symbol(str(value))
    raise TypeError(f"not a size: {value!r}")


def without_common_factor(a, b) -> tuple:
    """a and b divided by their greatest common factor: (k·n, n·p) → (k, p), (2n, 6) → (n, 3),
    (n², n·k) → (n, k). Sizes are positive, so a = b exactly when the two quotients are equal."""
    a, b = as_dim(a), as_dim(b)
    g = gcd(a.coef, b.coef)
    fa, fb = dict(a.factors), dict(b.factors)
    for name in fa.keys() & fb.keys():
        e = min(fa[name], fb[name])
        fa[name] -= e
        fb[name] -= e
    return (_make(a.coef // g, tuple(sorted((n, e) for n, e in fa.items() if e))),
            _make(b.coef // g, tuple(sorted((n, e) for n, e in fb.items() if e))))


ONE = integer(1)
