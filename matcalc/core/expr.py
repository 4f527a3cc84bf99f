"""The expression tree: frozen, slotted, hashable nodes and nothing else.

Every node carries its shape (a tuple of two SymPy sizes, (1, 1) for scalars); the shape takes
part in equality so that I(n) and I(m) differ. The source span does not: two spellings of one
formula are the same tree. Operations on nodes (shapes, derivatives, printing, evaluation) live
in their own modules, each a table keyed by node type.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction
from operator import attrgetter
from typing import Any, Union

from .errors import Span
from .limits import fold

Scalar = Union[int, Fraction, float]


def _node(cls):
    """Frozen, slotted dataclass whose hash is computed once and cached (trees are shared
    widely as dictionary keys during differentiation and simplification)."""
    cls = dataclass(frozen=True, slots=True)(cls)
    keys = tuple(f.name for f in fields(cls) if f.compare)
    cls._keys = keys
    cls._fields = tuple(f.name for f in fields(cls))
    # an operator's shape follows from its operands: it is compared, not hashed (hashing a
    # shape calls Dim.__hash__, Python code, twice); a leaf's shape is hashed (I(n), 𝟙ₙ, …)
    cls.__hash__, cls._hash_now = _hash_of(cls, keys if cls.__name__ in _LEAF_NAMES else
                                           tuple(k for k in keys if k != "shape"))
    cls.__eq__ = _leaf_eq_of(keys) if cls.__name__ in _LEAF_NAMES else _shared_eq
    cls.__repr__ = _bounded_repr(cls.__repr__)
    return cls


_LEAF_NAMES = frozenset({"Sym", "Num", "Size", "Identity", "Zero", "Ones", "Commutation"})


def _shared_eq(self, other):
    """Structural equality in time linear in the shared form: the generated field-by-field
    comparison walks a shared tree as a tree (exponential: a second derive of softmax nested 18
    deep spent 15 s comparing with the first one's memoised nodes). Cached hashes rule out most
    unequal pairs at once; each pair of nodes is compared once."""
    if self is other:
        return True
    if type(other) is not type(self):
        return NotImplemented
    for k in self._keys:          # fast path: hash-consed children are the same objects, and
        u, v = getattr(self, k), getattr(other, k)       # equal leaves compare field by field
        if u is v:
            continue
        if type(u) is tuple:
            if u and isinstance(u[0], Node):
                if type(v) is tuple and len(u) == len(v) and \
                        all(a is b or _leaf_eq(a, b) for a, b in zip(u, v)):
                    continue
                break
        elif isinstance(u, Node):
            if _leaf_eq(u, v):
                continue
            break
        if u != v:                # a shape, a name, a number: compared by value
            return False
    else:
        return True
    stack, done = [(self, other)], set()
    while stack:
        a, b = stack.pop()
        if a is b or (id(a), id(b)) in done:
            continue
        if type(a) is not type(b) or hash(a) != hash(b):
            return False
        done.add((id(a), id(b)))
        for k in a._keys:
            u, v = getattr(a, k), getattr(b, k)
            if u is v:
                continue
            if isinstance(u, Node):
                if type(u) in _LEAF_TYPES:         # (a leaf: compared here, not queued)
                    if u != v:
                        return False
                else:
                    stack.append((u, v))
            elif type(u) is tuple and u and isinstance(u[0], Node):
                if type(v) is not tuple or len(u) != len(v):
                    return False
                for x, y in zip(u, v):
                    if x is y:
                        continue
                    if type(x) in _LEAF_TYPES:
                        if x != y:
                            return False
                    else:
                        stack.append((x, y))
            elif u != v:
                return False
    return True


def _leaf_eq_of(keys):
    """A leaf's __eq__: its fields hold no nodes, so comparing them as one tuple (in C, each
    field by identity first and then by value) is field-by-field equality."""
    get = attrgetter(*keys)

    def __eq__(self, other):
        if self is other:
            return True
        if type(other) is not type(self):
            return NotImplemented
        return get(self) == get(other)
    return __eq__


def _leaf_eq(a, b) -> bool:
    """Whether a and b are equal leaves (the parser makes one Sym per occurrence of a name);
    False for anything else, equal or not (the caller then compares the slow way)."""
    return type(a) in _LEAF_TYPES and a == b      # (a leaf's __eq__: _leaf_eq_of)


def _bounded_repr(base):
    def __repr__(self):            # deep trees: room to recurse; huge trees: a summary
        from .limits import node_repr
        return node_repr(self, base)
    return __repr__


def _hash_of(cls, keys):
    """cls's __hash__: hash((class name, *keys)), computed once and kept in the node;
    the fields are read by one attrgetter (no generator, no getattr per field: every new node
    the constructors build is looked up in the hash-consing table). Also the function that
    computes and keeps it (for a node known to be new: no failed lookup of the kept one)."""
    name, get, put = cls.__name__, attrgetter(*keys), object.__setattr__
    if len(keys) == 1:
        def compute(self):
            h = hash((name, get(self)))
            put(self, "_h", h)
            return h
    else:
        def compute(self):
            h = hash((name,) + get(self))
            put(self, "_h", h)
            return h

    def __hash__(self):
        try:
            return self._h
        except AttributeError:
            return compute(self)
    return __hash__, compute


class Node:
    """Base of all nodes; `children` lists the sub-expressions in order."""

    __slots__ = ("_h",)

    def __str__(self) -> str:      # print(tree) shows the formula; repr() keeps the tree
        from .errors import show
        return show(self)

    @property
    def children(self) -> tuple["Node", ...]:
        return ()

    @property
    def is_scalar(self) -> bool:
        return self.shape[0] == 1 and self.shape[1] == 1     # sizes compare with ints (dims.py)


# Leaves -------------------------------------------------------------------------------------

@_node
class Sym(Node):
    """A named variable."""
    name: str
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Num(Node):
    """A numeric scalar constant."""
    value: Scalar
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Size(Node):
    """A dimension name used as a value, e.g. N in (1/N)·sum(e .^ 2)."""
    dim: Any
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Identity(Node):
    """The identity matrix I (its size is in its shape)."""
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Zero(Node):
    """The zero matrix, vector or scalar of its shape."""
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Ones(Node):
    """The all-ones vector 𝟙 (or matrix) of its shape."""
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


# Operators ----------------------------------------------------------------------------------

class _Nary(Node):
    __slots__ = ()

    @property
    def children(self):
        return self.args


class _Unary(Node):
    __slots__ = ()

    @property
    def children(self):
        return (self.arg,)


class _Binary(Node):
    __slots__ = ()

    @property
    def children(self):
        return (self.left, self.right)


@_node
class Add(_Nary):
    """Sum of terms of one shape; scalar terms broadcast."""
    args: tuple
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class MatMul(_Nary):
    """Matrix product of factors; 1×1 factors act as scalars and commute."""
    args: tuple
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Hadamard(_Nary):
    """Element-wise product; scalar factors broadcast."""
    args: tuple
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class HadamardDiv(_Binary):
    """Element-wise division left ⊘ right; a scalar side broadcasts."""
    left: Node
    right: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class HadamardPower(_Unary):
    """Element-wise power arg .^ exponent (a number)."""
    arg: Node
    exponent: Scalar
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Kron(_Binary):
    """Kronecker product left ⊗ right."""
    left: Node
    right: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Transpose(_Unary):
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Inverse(_Unary):
    """Matrix inverse; for a scalar, the reciprocal."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Power(_Unary):
    """Matrix power (square matrices, integer exponent ≥ 2) or scalar power (any number)."""
    arg: Node
    exponent: Scalar
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Apply(_Unary):
    """An element-wise function from functions.FUNCTIONS applied to every entry."""
    fn: str
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Sum(_Unary):
    """Sum of all entries."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Mean(_Unary):
    """Mean of all entries."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Trace(_Unary):
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Det(_Unary):
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class LogDet(_Unary):
    """log det(X), for X with positive determinant."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Norm(_Unary):
    """Euclidean norm of a vector, Frobenius norm of a matrix."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class LogSumExp(_Unary):
    """log Σ exp(x_i) over a vector."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Softmax(_Unary):
    """exp(x) / Σ exp(x_i) over a vector."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class DiagMat(_Unary):
    """diag(v): the square matrix with the vector v on its diagonal."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class DiagVec(_Unary):
    """diag(A): the diagonal of a square matrix, as a column vector."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Vec(_Unary):
    """vec(A): the columns of A stacked into one column (column-major), (mn)×1."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Tril(_Unary):
    """tril(A): the lower triangle of A, diagonal included (zeros above), same shape."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Triu(_Unary):
    """triu(A): the upper triangle of A, diagonal included (zeros below), same shape."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Commutation(Node):
    """K(m,n): the mn×mn permutation with K·vec(A) = vec(Aᵀ) for every m×n matrix A."""
    rows: Any
    cols: Any
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class MatFn(_Nary):
    """A matrix function or decomposition of functions.MATRIX_FUNCTIONS applied to its
    arguments: expm(X), solve(A, B), λ_max(S), the Fréchet derivative L_exp(X, E), …;
    `exponent` is the real power p of powm (X^p of an spd X), None for the others."""
    fn: str
    args: tuple
    exponent: Any = None
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


# Parse-only nodes: resolved into the nodes above once shapes are known ---------------------

@_node
class Dot(_Binary):
    """a·b: inner product of two vectors (→ aᵀb) or scaling when one side is a scalar."""
    left: Node
    right: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Div(_Binary):
    """left / right, where right must be a scalar (→ left · right⁻¹)."""
    left: Node
    right: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


@_node
class Diag(_Unary):
    """diag(·) before its argument's shape says which of DiagMat / DiagVec it is."""
    arg: Node
    shape: Any = None
    span: Span | None = field(default=None, compare=False, repr=False)


LEAVES = (Sym, Num, Size, Identity, Zero, Ones, Commutation)
_LEAF_TYPES = frozenset(LEAVES)
NODE_TYPES = (Sym, Num, Size, Identity, Zero, Ones, Add, MatMul, Hadamard, HadamardDiv,
              HadamardPower, Kron, Transpose, Inverse, Power, Apply, Sum, Mean, Trace, Det,
              LogDet, Norm, LogSumExp, Softmax, DiagMat, DiagVec, Vec, Commutation, Tril, Triu,
              MatFn)

# Binding strength for printers: larger binds tighter.
PRECEDENCE = {Add: 10, MatMul: 20, Hadamard: 20, HadamardDiv: 20, Kron: 20, Dot: 20,
              Power: 40, HadamardPower: 40, Transpose: 40, Inverse: 40}
ATOM_PRECEDENCE = 100


def evolve(node: Node, **changes) -> Node:
    """A copy of node with the given fields changed: dataclasses.replace without its per-call
    introspection (the parser copies every node of its tree twice, to write shapes in)."""
    cls = type(node)
    new = object.__new__(cls)
    for k in cls._fields:
        object.__setattr__(new, k, changes[k] if k in changes else getattr(node, k))
    return new


def with_children(node: Node, children) -> Node:
    """A copy of node with new children (same fields otherwise); shape must be updated by caller."""
    if isinstance(node, _Nary):
        return evolve(node, args=tuple(children))
    if isinstance(node, _Binary):
        return evolve(node, left=children[0], right=children[1])
    if isinstance(node, _Unary):
        return evolve(node, arg=children[0])
    return node


def _same_or_rebuilt(node: Node, kids: list) -> Node:
    return with_children(node, kids) if any(k is not c for k, c in zip(kids, node.children)) \
        else node


def substitute(node: Node, mapping: dict) -> Node:
    """The tree with every subtree found in `mapping` replaced by its value (outermost first;
    linear in the shared form, without recursion)."""
    return fold([node], _same_or_rebuilt, mapping)[node]


def share_equal(node: Node, visit=None, table: dict | None = None,
                done: dict | None = None, fresh: bool = False) -> Node:
    """The tree with equal subtrees made one object (the first met, in post-order, with its
    source span): the parser makes one object per occurrence, and equal but distinct subtrees
    are compared node by node in every dictionary the derivative sweep keeps. `visit(m)` is
    called on the way once for every distinct operator node of the shared tree, children
    first. `table` (shared node → itself) and `done` (id of a node given → its shared node)
    may be passed in and are filled: a second call with the first one's tables walks only the
    nodes the first did not meet. `fresh`: the nodes given have not been hashed yet (a
    parser's tree), so their hashes are computed at once rather than looked for first."""
    table = {} if table is None else table
    done = {} if done is None else done
    stack = [(node, False)]
    pop, push, share = stack.pop, stack.append, table.setdefault
    while stack:
        n, ready = pop()
        i = id(n)
        if i in done:
            continue
        kids = n.children
        if not kids:
            if fresh:
                type(n)._hash_now(n)
            done[i] = share(n, n)
            continue
        if not ready:
            push((n, True))
            stack.extend([(c, False) for c in kids if id(c) not in done])
            continue
        m = n
        for c in kids:
            if done[id(c)] is not c:
                m = with_children(n, [done[id(c)] for c in kids])
                type(m)._hash_now(m)       # (a new node: its hash is not kept yet)
                break
        else:
            if fresh:
                type(n)._hash_now(n)
        r = done[i] = share(m, m)
        if visit is not None and r is m:       # (m met for the first time)
            visit(m)
    return done[id(node)]


class Unshared(Exception):
    """Sharer met two nodes it cannot tell apart by their children and fields alone (equal
    operands, unequal shapes): share_equal, which compares whole nodes, does the work."""


# how Sharer reads a node of each type: (kind, its fields holding children, a getter of its
# other compared fields but the shape, its fields but the children)
_SYM, _NUM, _LEAF, _NARY, _UNARY, _BINARY = range(6)
_SPECS: dict = {}
_READY = object()                       # (on Sharer's stack: the node below has its children)
_DEEP = 200                             # levels Sharer.share recurses, at most


def _spec(t) -> tuple:
    spec = _SPECS.get(t)
    if spec is None:
        if t is Sym:
            kind = _SYM
        elif t is Num:
            kind = _NUM
        elif t in _LEAF_TYPES:
            kind = _LEAF
        elif issubclass(t, _Nary):
            kind = _NARY
        elif issubclass(t, _Unary):
            kind = _UNARY
        elif issubclass(t, _Binary):
            kind = _BINARY
        else:
            raise Unshared(t.__name__)
        kids = {_NARY: ("args",), _UNARY: ("arg",), _BINARY: ("left", "right")}.get(kind, ())
        extra = tuple(k for k in t._keys if k != "shape" and k not in kids)
        rest = tuple(k for k in t._fields if k not in kids)
        spec = _SPECS[t] = (kind, kids, attrgetter(*extra) if extra else None, rest)
    return spec


class Sharer:
    """share_equal for trees whose nodes are not shared with other trees yet (a parser's): the
    same tree, the same node kept for each set of equal subtrees (the first met, in the same
    order, with its span), the same calls of `visit`; but an operator is looked up by its type,
    the ids of its (shared) children and its other fields (no node is hashed, and a node equal
    to one met before is found without building its copy first), and a leaf by its name or
    value. Raises Unshared where it cannot tell (then share_equal does the work)."""

    __slots__ = ("done", "classes", "syms", "nums", "leaves", "nodes", "gone", "alive", "fresh",
                 "names")

    def __init__(self):
        self.done: dict = {}            # id of a node given or made → its shared node
        self.classes: dict = {}         # (type, ids of shared children, fields) → shared node
        self.syms: dict = {}            # (name, id of shape) → shared Sym
        self.nums: dict = {}            # (id of value, id of shape) → shared Num
        self.leaves: dict = {}          # name, or (Num, value) → shared leaf (list: leaves)
        self.nodes: list = []           # the shared nodes, in the order made
        self.gone: set = set()          # ids of shared nodes left out since (forget)
        self.alive: list = []           # nodes whose fields' ids are in keys: kept alive
        self.fresh = False              # (share's argument: the leaves too are hashed)
        # name → (a shape, the shared Sym for that name and that very shape object): syms
        # without making its key (most leaves of a parser's tree are found here)
        self.names: dict = {}

    def share(self, node: Node, visit=None, fresh: bool = False) -> Node:
        """share_equal(node, visit, fresh=fresh) (walking only what this sharer has not met
        yet): by recursion (quicker), down to _DEEP levels, and below that by _walk. Each
        operator kept has its hash computed, children first (hashing a deep tree later would
        recurse as deep as the tree); `fresh`: the nodes given have not been hashed yet."""
        done, classes, nodes = self.done, self.classes, self.nodes
        syms, nums, leaf_of, walk, keep = self.syms, self.nums, self._leaf, self._walk, self._keep
        self.fresh = fresh
        spec_of = _SPECS.get

        names = self.names
        name_of = names.get

        def sym(n):
            """The shared Sym for n (not found in names)."""
            r = syms.get((n.name, id(n.shape)))
            if r is None:
                r = leaf_of(n, _SYM)
            if n.name not in names:
                names[n.name] = (n.shape, r)
            return r

        def go(n, depth):
            t = type(n)
            if t is Sym:
                e = name_of(n.name)
                return e[1] if e is not None and e[0] is n.shape else sym(n)
            if t is Num:
                r = nums.get((id(n.value), id(n.shape)))
                return leaf_of(n, _NUM) if r is None else r
            r = done.get(id(n))
            if r is not None:
                return r
            spec = spec_of(t) or _spec(t)
            kind = spec[0]
            if kind == _LEAF:
                return leaf_of(n, _LEAF)
            if depth > _DEEP:
                return walk(n, visit, fresh)
            depth += 1
            if kind == _NARY:           # (children right to left, as share_equal meets them)
                old = n.args
                if len(old) == 2:
                    c1 = old[1]
                    if type(c1) is Sym:                 # (go's first lines, inline)
                        e = name_of(c1.name)
                        b = e[1] if e is not None and e[0] is c1.shape else sym(c1)
                    else:
                        b = go(c1, depth)
                    c0 = old[0]
                    if type(c0) is Sym:
                        e = name_of(c0.name)
                        a = e[1] if e is not None and e[0] is c0.shape else sym(c0)
                    else:
                        a = go(c0, depth)
                    kids = (a, b)
                    key = (t, (id(a), id(b)))
                    same = a is c0 and b is c1
                else:
                    kids = [go(c, depth) for c in reversed(old)]
                    kids.reverse()
                    kids = tuple(kids)
                    key = (t, tuple(map(id, kids)))
                    same = True
                    for a, b in zip(kids, old):
                        if a is not b:
                            same = False
                            break
            elif kind == _UNARY:
                c = n.arg
                if type(c) is Sym:
                    e = name_of(c.name)
                    kid = e[1] if e is not None and e[0] is c.shape else sym(c)
                else:
                    kid = go(c, depth)
                key = (t, id(kid))
                same = kid is c
                kids = kid
            else:
                a, b = n.left, n.right
                kb = go(b, depth)
                ka = go(a, depth)
                key = (t, id(ka), id(kb))
                same = ka is a and kb is b
                kids = (ka, kb)
            return keep(n, t, spec, key, kids, same, visit)

        try:
            return go(node, 0)
        finally:
            del go, sym                      # (go refers to itself: a cycle, left to the collector)

    def _walk(self, node: Node, visit=None, fresh: bool = False) -> Node:
        """share, without recursion."""
        done, classes, nodes = self.done, self.classes, self.nodes
        syms, nums, leaf_of, keep = self.syms, self.nums, self._leaf, self._keep
        get = done.__getitem__
        spec_of = _SPECS.get
        ready = _READY
        stack = [node]
        pop, push, extend = stack.pop, stack.append, stack.extend
        # The walk is share_equal's, children right to left: a node is met after all its
        # children, and the first met of equal nodes is kept. A leaf that is the last child
        # of a node (or the last but leaves) is met at once: it would be the next popped.
        while stack:
            n = pop()
            if n is ready:
                n = pop()
                t = type(n)
                spec = spec_of(t)
                kind = spec[0]
            else:
                i = id(n)
                if i in done:
                    continue
                t = type(n)
                spec = spec_of(t) or _spec(t)
                kind = spec[0]
                if kind == _NARY:
                    args = n.args
                    j = len(args)
                    while j:
                        c = args[j - 1]
                        k = type(c)
                        if k is Sym:
                            r = syms.get((c.name, id(c.shape)))
                            done[id(c)] = leaf_of(c, _SYM) if r is None else r
                        elif k is Num:
                            r = nums.get((id(c.value), id(c.shape)))
                            done[id(c)] = leaf_of(c, _NUM) if r is None else r
                        elif k in _LEAF_TYPES:
                            done[id(c)] = leaf_of(c, _LEAF)
                        else:
                            break
                        j -= 1
                    if j:
                        push(n)
                        push(ready)
                        extend([c for c in args[:j] if id(c) not in done])
                        continue
                elif kind == _UNARY:
                    c = n.arg
                    k = type(c)
                    if k in _LEAF_TYPES:
                        done[id(c)] = leaf_of(c, _SYM if k is Sym else _NUM if k is Num else
                                              _LEAF)
                    else:
                        if id(c) not in done:
                            push(n)
                            push(ready)
                            push(c)
                            continue
                elif kind == _BINARY:
                    a, b = n.left, n.right
                    k = type(b)
                    if k in _LEAF_TYPES:
                        done[id(b)] = leaf_of(b, _SYM if k is Sym else _NUM if k is Num else
                                              _LEAF)
                        k = type(a)
                        if k in _LEAF_TYPES:
                            done[id(a)] = leaf_of(a, _SYM if k is Sym else _NUM if k is Num
                                                  else _LEAF)
                        elif id(a) not in done:
                            push(n)
                            push(ready)
                            push(a)
                            continue
                    else:
                        push(n)
                        push(ready)
                        if id(a) not in done:
                            push(a)
                        if id(b) not in done:
                            push(b)
                        continue
                else:
                    done[i] = leaf_of(n, kind)
                    continue
            # all of n's children are met: n
            if kind == _NARY:
                old = n.args
                kids = tuple(map(get, map(id, old)))
                key = (t, tuple(map(id, kids)))
                same = True
                for a, b in zip(kids, old):
                    if a is not b:
                        same = False
                        break
            elif kind == _UNARY:
                c = n.arg
                kids = get(id(c))
                key = (t, id(kids))
                same = kids is c
            else:
                a, b = n.left, n.right
                kids = ka, kb = get(id(a)), get(id(b))
                key = (t, id(ka), id(kb))
                same = ka is a and kb is b
            keep(n, t, spec, key, kids, same, visit)
        return done[id(node)]

    def _keep(self, n, t, spec, key, kids, same, visit) -> Node:
        """The shared node for the operator n (of type t, with _spec `spec`), its children
        shared as `kids` (a tuple for a sum or a product, one node for a unary operator, a
        pair for a binary one) and `key` made from their ids: the node met before with that
        key, else n itself (`same`: its children are those) or a copy of n with them."""
        extra = spec[2]
        if extra is not None:
            key = key + (extra(n),)
        done, classes = self.done, self.classes
        r = classes.get(key)
        if r is not None:
            if r.shape != n.shape:
                raise Unshared("equal operands, unequal shapes")
            done[id(n)] = r
            return r
        if same:                             # (a copy only where a child is another object)
            m = n
            if self.fresh:
                t._hash_now(m)
            else:
                hash(m)
        else:
            m = object.__new__(t)
            put = object.__setattr__
            kind = spec[0]
            if kind == _NARY:
                put(m, "args", kids)
            elif kind == _UNARY:
                put(m, "arg", kids)
            else:
                put(m, "left", kids[0])
                put(m, "right", kids[1])
            for k in spec[3]:
                put(m, k, getattr(n, k))
            done[id(m)] = m
            t._hash_now(m)
        classes[key] = m
        self.nodes.append(m)
        done[id(n)] = m
        if visit is not None:
            visit(m)
        return m

    def _leaf(self, n, kind):
        """The shared leaf equal to n (n itself when it is the first met)."""
        if kind == _LEAF:                    # (I, 𝟙, 0, a size, K: rare, compared whole)
            r = self.classes.get(n)
            if r is None:
                r = self.classes[n] = n
                self.nodes.append(n)
            return r
        if self.fresh:                       # (its hash, as share_equal computes it)
            type(n)._hash_now(n)
        if kind == _SYM:
            table, key, same = self.syms, (n.name, id(n.shape)), n.name
        else:
            table, key, same = self.nums, (id(n.value), id(n.shape)), (Num, n.value)
        r = table.get(key)
        if r is not None:
            return r
        # the key holds ids of n's fields: n is kept alive. A leaf whose shape or value is
        # another object, equal to one met, is found among the leaves of its name or value.
        self.alive.append(n)
        met = self.leaves.get(same)
        if met is None:
            r = self.leaves[same] = n
            self.nodes.append(n)
        else:
            for r in (met if type(met) is list else (met,)):
                if r == n:
                    break
            else:
                r = n
                self.leaves[same] = (met if type(met) is list else [met]) + [n]
                self.nodes.append(n)
        table[key] = r
        return r

    def forget(self, n: Node) -> None:
        """Leave out the shared operator n (one no longer in the tree): a node met later that
        equals it is not made n."""
        t = type(n)
        kind, _, extra, _ = _spec(t)
        if kind == _NARY:
            key = (t, tuple([id(c) for c in n.args]))
        elif kind == _UNARY:
            key = (t, id(n.arg))
        elif kind == _BINARY:
            key = (t, id(n.left), id(n.right))
        else:
            raise Unshared("a leaf")
        if extra is not None:
            key = key + (extra(n),)
        if self.classes.get(key) is n:
            del self.classes[key]
            self.done.pop(id(n), None)
            self.gone.add(id(n))             # (n stays in self.nodes: alive, its id unique)

    def table(self) -> dict:
        """share_equal's table for what this sharer has met: shared node → itself."""
        gone = self.gone
        return {n: n for n in self.nodes if id(n) not in gone}


def holds_type(root: Node, types) -> bool:
    """Whether a node whose type is in `types` occurs in the tree (each shared subtree walked
    once, without recursion)."""
    stack, seen = [root], set()
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        n = pop()
        if type(n) in types:
            return True
        for c in n.children:
            if id(c) not in seen:
                add(id(c))
                push(c)
    return False


def names_in(node) -> dict:
    """Every Sym in the tree: name → node."""
    out, stack, seen = {}, [node], set()
    while stack:
        n = stack.pop()
        if type(n) is Sym:
            out[n.name] = n
        stack.extend(c for c in n.children if c not in seen)
        seen.update(n.children)
    return out
