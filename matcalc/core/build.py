"""Constructors that give every new node its shape and keep trees in a light normal form.

The derivative rules build their results only through these functions: products and sums are
flattened, numeric factors folded to the front, zeros, ones and identities dropped. Anything
that needs a named identity (transposes of products, collecting like terms) is simplify/rewrite.py's.
"""
from __future__ import annotations

from fractions import Fraction

from . import expr as E
from .dims import Dim
from .shapes import SCALAR, ONE, shape_of, is_scalar


# Hash-consing: an operator node equal to one built before is that node, so equal subtrees are
# one object and comparing them (dictionary keys in every memo table) stops at `is`. Nodes with
# a source span (the parser's) are left alone, so error carets keep pointing at their text.
# The table is emptied when full; that costs speed, never correctness.
_INTERN: dict = {}
_INTERN_SIZE = 200_000


def _make(cls, *args, _intern=True, **kw):
    node = cls(*args, **kw)
    if node.shape is None:
        object.__setattr__(node, "shape", shape_of(node, [c.shape for c in node.children]))
    if _intern and node.span is None and node.children:
        cls._hash_now(node)              # (new: its hash is not kept yet)
        hit = _INTERN.get(node)
        if hit is not None:
            return hit
        if len(_INTERN) >= _INTERN_SIZE:
            _forget_nodes()
        _INTERN[node] = node
    return node


def _maker(cls):
    """f(operands, shape) → the hash-consed cls node with those operands (its first field) and
    that shape: _make(cls, operands, shape=shape) without the dataclass __init__ (a call
    that sets each field by name through object.__setattr__) and without the generic checks,
    for the constructors every rule and rewrite calls (products, sums, transposes). The
    fields are written through their slots; a class laid out otherwise gets _make itself."""
    fields = getattr(cls, "_fields", ())
    if len(fields) != 3 or fields[1:] != ("shape", "span") or \
            hasattr(cls, "__post_init__") or not all(hasattr(getattr(cls, f, None), "__set__")
                                                     for f in fields):
        return lambda operands, shape: _make(cls, operands, shape=shape)
    new = object.__new__
    put_operands, put_shape, put_span = (getattr(cls, f).__set__ for f in fields)
    hash_now, table = cls._hash_now, _INTERN

    def make(operands, shape):
        node = new(cls)
        put_operands(node, operands)
        put_shape(node, shape)
        put_span(node, None)
        hash_now(node)                   # (new: its hash is not kept yet)
        hit = table.get(node)
        if hit is not None:
            return hit
        if len(table) >= _INTERN_SIZE:
            _forget_nodes()
        table[node] = node
        return node
    return make


_product = _maker(E.MatMul)         # (operands: a non-empty tuple; a shape tuple)
_sum = _maker(E.Add)
_transposed = _maker(E.Transpose)


def _forget_nodes() -> None:
    """Empty the hash-consing table (full) and what holds nodes of it."""
    _INTERN.clear()
    _TRANSPOSES.clear()


def clear_intern() -> None:
    """Forget the hash-consing tables (for cold benchmarks)."""
    _forget_nodes()
    _NUMS.clear()


def make(cls, *args, **kw) -> E.Node:
    """The node exactly as given (nothing flattened or folded), its shape from SHAPE_RULES.
    Not entered in the hash-consing table: the nodes there are the constructors' normal forms
    (see is_normal)."""
    return _make(cls, *args, _intern=False, **kw)


def is_normal(node) -> bool:
    """Whether node is a constructor's own result (found in the hash-consing table): rebuilding
    it from the same children gives it back. False when unknown (the table may have been
    emptied): the caller then rebuilds, which is always safe."""
    return _INTERN.get(node) is node


# The node of the hash-consing table equal to a node, or None (is_normal(n): interned(n) is n),
# for a walk that asks it of many nodes without a call of its own. (The table is emptied, never
# replaced, so this stays its lookup.)
interned = _INTERN.get


_NUMS: dict = {}                    # Fraction → its Num leaf (numbers recur: 1, −1, 2, ½ …)


def num(value) -> E.Num:
    t = type(value)
    if t is int:                     # whole numbers are looked up by the int (Fraction.__hash__
        key = value                  # is Python code; an int's is not): equal keys, one entry
    elif t is Fraction and value.denominator == 1:
        key = value.numerator
    else:
        if t is not Fraction:
            if isinstance(value, float):
                value = Fraction(value).limit_denominator(10**12) if value == value else value
            value = Fraction(value)
        key = value.numerator if value.denominator == 1 else value
    hit = _NUMS.get(key)
    if hit is None:
        if len(_NUMS) >= 4096:
            _NUMS.clear()
        hit = _NUMS[key] = E.Num(Fraction(key) if type(key) is int else key, SCALAR)
    return hit


def size(d) -> E.Node:
    """A dimension used as a value (the N of mean = sum/N): a number when the size is known."""
    return num(int(d)) if d.is_Integer else E.Size(d, SCALAR)


def sym(name: str, shape) -> E.Sym:
    return E.Sym(name, tuple(shape))


def zero(shape) -> E.Node:
    return num(0) if is_scalar(shape) else E.Zero(tuple(shape))


def identity(n) -> E.Node:
    """I of size n; a 1×1 identity is the number 1."""
    return num(1) if n == 1 else E.Identity((n, n))


def ones(shape) -> E.Node:
    return num(1) if is_scalar(shape) else E.Ones(tuple(shape))


def is_zero(node) -> bool:
    return isinstance(node, E.Zero) or (isinstance(node, E.Num) and node.value == 0)


def is_one(node) -> bool:
    return isinstance(node, E.Num) and node.value == 1


def add(*terms, shape=None) -> E.Node:
    """Σ terms, flattened, zeros dropped; `shape` is used when every term is zero."""
    for t in terms:
        k = type(t)
        if k is E.Add or k is E.Num or k is E.Zero:
            break
    else:                                # nothing to flatten, drop or fold: the terms as given
        if shape is None:
            shape = _common_shape(terms)
            if shape is None:
                shape = shape_of(E.Add(terms), [t.shape for t in terms])
        if not terms:
            return zero(shape)
        if not is_scalar(shape) and all(is_scalar(t.shape) for t in terms):
            return mul(add(*terms), ones(shape))
        if len(terms) == 1 and tuple(terms[0].shape) == tuple(shape):
            return terms[0]
        return _sum(terms, tuple(shape))
    flat = []
    for t in terms:
        flat.extend(t.args if isinstance(t, E.Add) else (t,))
    if shape is None:
        shape = _common_shape(flat)
        if shape is None:                # the shapes differ: the full rule says why
            shape = shape_of(E.Add(tuple(flat)), [t.shape for t in flat])
    kept = [t for t in flat if not is_zero(t)]
    nums = [t for t in kept if isinstance(t, E.Num)]
    if len(nums) > 1:
        total = num(sum(t.value for t in nums))
        kept = [t for t in kept if not isinstance(t, E.Num)] + ([total] if total.value else [])
    if not kept:
        return zero(shape)
    if not is_scalar(shape) and all(is_scalar(t.shape) for t in kept):
        return mul(add(*kept), ones(shape))   # x + s − x is s𝟙: a scalar alone keeps the shape
    if len(kept) == 1 and tuple(kept[0].shape) == tuple(shape):
        return kept[0]
    return _sum(tuple(kept), tuple(shape))


def _common_shape(terms):
    """The shape of a sum of `terms` (shapes.add's rule: the one shape of the terms that are
    not 1×1, scalars broadcast), or None when two of those differ."""
    out = None
    for t in terms:
        s = t.shape
        if is_scalar(s):
            continue
        if out is None:
            out = s
        elif s is not out and s != out:
            return None
    return SCALAR if out is None else out


def chain_shape(factors):
    """The shape of the product of `factors`, or None when the inner sizes do not line up (the
    caller then asks shapes.py, which raises the ShapeError). is_scalar is written out: this
    runs for every product built."""
    rows = cols = None
    for f in factors:
        s = f.shape
        r, c = s[0], s[1]
        if (r is ONE or type(r) is not Dim and r == 1) and \
                (c is ONE or type(c) is not Dim and c == 1):
            continue
        if rows is None:
            rows, cols = r, c
        elif cols is r or cols == r:
            cols = c
        else:
            return None
    return SCALAR if rows is None else (rows, cols)


def mul(*factors) -> E.Node:
    """Product: flattened, numbers folded into one leading coefficient, 1 and I dropped.
    A 1×1 product such as aᵀb stays one factor among matrices: it is a scalar, and splicing
    its row and column into a matrix chain would not line up."""
    lead = bool(factors) and type(factors[0]) is E.Num
    rest = factors[1:] if lead else factors
    for f in rest:
        t = type(f)
        if t is E.MatMul or t is E.Num or t is E.Zero or t is E.Identity:
            break
    else:      # nothing to splice, fold or drop: the factors as given, after one number
        if not lead and len(rest) < 2:
            return rest[0] if rest else num(1)
        shape = chain_shape(rest)        # (the number in front is a scalar: nothing to skip)
        if shape is None:                # sizes do not line up: the full rule says why
            shape = shape_of(E.MatMul(factors), [f.shape for f in factors])
        if lead:
            v = factors[0].value
            if type(v) is Fraction:
                if v.numerator == 0:
                    return zero(shape)
                coef = v.numerator if v.denominator == 1 else v
            else:
                if v == 0:
                    return zero(shape)
                coef = v
            if not rest:
                return num(coef)
            if coef != 1:
                rest = (num(coef),) + rest
            elif len(rest) == 1 and tuple(rest[0].shape) == tuple(shape):
                return rest[0]
        return _product(rest, tuple(shape))
    flat = []
    for f in factors:
        if type(f) is not E.MatMul:
            flat.append(f)
        elif is_scalar(f.shape) and any(not is_scalar(g.shape) for g in f.args) and \
                any(not is_scalar(g.shape) for g in factors):   # aᵀb among matrices
            inner = [g for g in f.args if type(g) is not E.Num]
            flat.extend([g for g in f.args if type(g) is E.Num])
            flat.append(f if len(inner) == len(f.args) else _make(E.MatMul, tuple(inner)))
        else:
            flat.extend(f.args)
    # one pass: the shape (chain_shape's loop, fused), the numbers folded into
    # one coefficient, the other factors kept; identities are dropped below, zeros at the end
    rows = cols = None
    lined_up = True
    coef = 1                             # an int while every number is whole (no Fraction work)
    rest = []
    matrices = identities = 0
    vanishes = False
    for f in flat:
        s = f.shape
        r, c = s[0], s[1]
        if not ((r is ONE or type(r) is not Dim and r == 1) and
                (c is ONE or type(c) is not Dim and c == 1)):
            matrices += 1
            if rows is None:
                rows, cols = r, c
            elif cols is r or cols == r:
                cols = c
            else:
                lined_up = False
        t = type(f)
        if t is E.Num:
            v = f.value
            if type(v) is Fraction:      # (Fraction == int is Python code: ask the parts)
                if v.numerator == 0:
                    vanishes = True
                elif type(coef) is int and v.denominator == 1:
                    coef *= v.numerator
                else:
                    coef *= v
            elif v == 0:
                vanishes = True
            else:
                coef *= v
        elif t is E.Zero:
            vanishes = True
        else:
            if t is E.Identity:
                identities += 1
            rest.append(f)
    if not lined_up:                     # sizes do not line up: the full rule says why
        shape = shape_of(E.MatMul(tuple(flat)), [f.shape for f in flat])
    else:
        shape = SCALAR if rows is None else (rows, cols)
    if vanishes or coef == 0:
        return zero(shape)
    if identities:                       # I dropped while another matrix remains
        kept = []
        for f in rest:
            if type(f) is E.Identity and matrices > 1:
                matrices -= 1
                continue
            kept.append(f)
        rest = kept
    if not rest:
        return num(coef)
    if coef != 1:
        rest.insert(0, num(coef))
    if len(rest) == 1 and tuple(rest[0].shape) == tuple(shape):
        return rest[0]
    return _product(tuple(rest), tuple(shape))


def neg(x) -> E.Node:
    return mul(num(-1), x)


def sub(a, b) -> E.Node:
    return add(a, neg(b))


def scale(c, x) -> E.Node:
    return mul(num(c), x)


# id(x) → (x, the transpose B.transpose built for it): found again without building a node to
# look up (the rules transpose the same operands over and over). An entry keeps x, so its id is
# not reused while the entry lasts; emptied with the hash-consing table, whose node it gives.
# Only nodes of that table are kept: a parser's nodes are new in every call, and an entry for
# one would keep its whole formula alive.
_TRANSPOSES: dict = {}


def transpose(x) -> E.Node:
    known = _TRANSPOSES.get(id(x))
    if known is not None and known[0] is x:
        return known[1]
    if is_scalar(x.shape) or isinstance(x, (E.Identity, E.DiagMat)) and x.shape[0] == x.shape[1]:
        return x
    if isinstance(x, E.Transpose):
        return x.arg
    if isinstance(x, (E.Zero, E.Ones)):
        return type(x)((x.shape[1], x.shape[0]))
    t = _transposed(x, (x.shape[1], x.shape[0]))          # (shapes.transpose's rule)
    if _INTERN.get(x) is x:            # (not a parser's node: it would be kept past its call)
        if len(_TRANSPOSES) >= _INTERN_SIZE:
            _TRANSPOSES.clear()
        _TRANSPOSES[id(x)] = (x, t)
    return t


def _nonzero(x):
    if is_zero(x):
        from .errors import DomainError
        raise DomainError("the expression divides by zero (a quantity that simplifies to 0)")


def inverse(x) -> E.Node:
    _nonzero(x)
    if isinstance(x, E.Num):
        return num(1 / x.value)
    if isinstance(x, E.Identity):
        return x
    if isinstance(x, E.Inverse):
        return x.arg
    return _make(E.Inverse, x)


def power(x, e) -> E.Node:
    e = Fraction(e)
    if e == 1:
        return x
    if e == 0:
        return num(1) if is_scalar(x.shape) else E.Identity(x.shape)
    if isinstance(x, E.Num) and e.denominator == 1 and abs(e) <= 64 and \
            abs(x.value.numerator) < 2 ** 64 and abs(x.value.denominator) < 2 ** 64 and \
            (x.value != 0 or e > 0):
        return num(x.value ** e)      # exact, and small enough to fold
    if e == -1:
        return inverse(x)
    if isinstance(x, E.Power) and (is_scalar(x.shape) or e.denominator == 1) and \
            _powers_merge(x.exponent, e):
        return power(x.arg, x.exponent * e)
    return _make(E.Power, x, e)


def _powers_merge(inner, outer) -> bool:
    """(xᵃ)ᵉ = xᵃᵉ for every real x where the left side is defined — except when a is an even
    integer and e is not an integer: (x²)^½ is |x|, not x."""
    inner, outer = Fraction(inner), Fraction(outer)
    return outer.denominator == 1 or not (inner.denominator == 1 and inner.numerator % 2 == 0)


def hadamard(*factors) -> E.Node:
    flat = []
    for f in factors:
        flat.extend(f.args if isinstance(f, E.Hadamard) else (f,))
    shape = _common_shape(flat)          # (shapes.hadamard's rule is the sum's)
    if shape is None:
        shape = shape_of(E.Hadamard(tuple(flat)), [f.shape for f in flat])
    if any(is_zero(f) for f in flat):
        return zero(shape)
    scalars = [f for f in flat if is_scalar(f.shape)]
    rest = [f for f in flat if not is_scalar(f.shape) and not isinstance(f, E.Ones)]
    if not rest:
        base = E.Ones(shape) if not is_scalar(shape) else num(1)
        return mul(*scalars, base) if scalars else base
    core = rest[0] if len(rest) == 1 else _make(E.Hadamard, tuple(rest), shape=tuple(shape))
    return mul(*scalars, core) if scalars else core


def hdiv(a, b) -> E.Node:
    _nonzero(b)
    if is_zero(a):
        return zero(shape_of(E.HadamardDiv(a, b), [a.shape, b.shape]))
    if is_scalar(b.shape):
        return mul(a, inverse(b)) if not isinstance(b, E.Num) else mul(num(1 / b.value), a)
    if is_one(b):
        return a
    return _make(E.HadamardDiv, a, b)


def hpow(x, e) -> E.Node:
    e = Fraction(e)
    if e == 1:
        return x
    if is_scalar(x.shape):
        return power(x, e)
    if e == 0:
        return E.Ones(x.shape)
    if isinstance(x, E.HadamardPower) and _powers_merge(x.exponent, e):
        return hpow(x.arg, x.exponent * e)
    return _make(E.HadamardPower, x, e)


def kron(a, b) -> E.Node:
    """a ⊗ b; a scalar side scales, zeros vanish, I ⊗ I is one identity."""
    if is_scalar(a.shape) or is_scalar(b.shape):
        return mul(a, b)
    if is_zero(a) or is_zero(b):
        return zero((a.shape[0] * b.shape[0], a.shape[1] * b.shape[1]))
    if isinstance(a, E.Identity) and isinstance(b, E.Identity):
        n = a.shape[0] * b.shape[0]
        return E.Identity((n, n))
    return _make(E.Kron, a, b)


def apply(fn: str, x) -> E.Node:
    return _make(E.Apply, fn, x)


def diag_mat(v) -> E.Node:
    if isinstance(v, E.Ones):
        return E.Identity((v.shape[0], v.shape[0]))
    if isinstance(v, E.Zero) and not is_scalar(v.shape):
        n = v.shape[1] if v.shape[0] == ONE else v.shape[0]
        return zero((n, n))                 # diag(0) printed alone read back as 1×1

    if is_scalar(v.shape):
        return v
    return _make(E.DiagMat, v)


def diag_vec(a) -> E.Node:
    if isinstance(a, E.DiagMat):
        return a.arg
    if isinstance(a, E.Zero):
        return zero((a.shape[0], ONE))
    if isinstance(a, E.Identity):
        return E.Ones((a.shape[0], ONE))
    return _make(E.DiagVec, a)


def unary(cls, x) -> E.Node:
    return _make(cls, x)


def summ(x) -> E.Node:
    if is_scalar(x.shape):
        return x
    return _make(E.Sum, x)


def trace(x) -> E.Node:
    if is_scalar(x.shape):
        return x
    return _make(E.Trace, x)


def inner(a, b) -> E.Node:
    """⟨a, b⟩ = Σ a_ij b_ij, written the way a textbook would: aᵀb for vectors, tr(aᵀb) otherwise."""
    if is_scalar(a.shape) or is_scalar(b.shape):
        if is_scalar(a.shape) and is_scalar(b.shape):
            return mul(a, b)
        return mul(a, summ(b)) if is_scalar(a.shape) else mul(b, summ(a))
    if is_zero(a) or is_zero(b):
        return num(0)
    if a.shape[1] == 1:
        return mul(transpose(a), b)
    if a.shape[0] == 1:
        return mul(a, transpose(b))
    if isinstance(b, E.Ones):
        return summ(a)
    if isinstance(a, E.Ones):
        return summ(b)
    return trace(mul(transpose(a), b))


def vec(a) -> E.Node:
    """vec(A); a column is its own vec, a row its transpose."""
    if a.shape[1] == 1:
        return a
    if a.shape[0] == 1:
        return transpose(a)
    if isinstance(a, E.Ones):
        return E.Ones((a.shape[0] * a.shape[1], ONE))
    if isinstance(a, E.Zero):
        return E.Zero((a.shape[0] * a.shape[1], ONE))
    return _make(E.Vec, a)


def triangle(cls, a) -> E.Node:
    """tril(a) or triu(a) (cls E.Tril / E.Triu); a scalar, a diagonal matrix, I and 0 are
    their own triangles."""
    if is_scalar(a.shape) or isinstance(a, (E.Zero, E.Identity, E.DiagMat, cls)):
        return a
    if isinstance(a, E.MatMul) and isinstance(a.args[0], E.Num):     # tril(cA) = c tril(A)
        return mul(a.args[0], triangle(cls, mul(*a.args[1:])))
    return _make(cls, a)


def commutation(m, n) -> E.Node:
    """K(m,n); with a unit size it is the identity."""
    if m == 1 or n == 1:
        return identity(m * n)
    return _make(E.Commutation, m, n)
