"""Code generation: a readable NumPy, JAX or PyTorch function for a result and its function.

Only validated identifiers from the expression reach the code (names are checked against
Python's identifier rules and keywords, Greek letters are spelled out); numbers are printed
from their values. Every name in the code is used once: the parameters are named like the
variables, and a size or temporary that would clash with one gets another name (a variable
called m keeps its value next to the size m). Every matrix product is associated by cost (for
the sizes given; a size not given counts as large), a sub-product that the value and the
derivative share (Xθ in θᵀXθ and in its gradient) is written once, repeated subexpressions
become temporaries, diag(v)·M becomes broadcasting, and each input's shape is checked once (a
vector may come 1-D or as a column). Outputs have r.evaluate's shapes: a scalar is 0-d, a vector a
column (or a row); a tensor result is returned as its vec-form matrix d vec(F)/d vec(X)ᵀ.
"""
from __future__ import annotations

import keyword
import re

from ..core import expr as E
from ..simplify.cse import TRIVIAL, shared
from ..core.errors import UnsupportedError
from ..core.limits import fold
from ..core.dims import symbol
from ..core.shapes import LATIN_OF_GREEK, is_scalar
from .base import negate, negative_coefficient
from .unicode import to_unicode

BACKENDS = ("numpy", "jax", "torch")
_ATOM, _POW, _UNARY, _MUL, _ADD = 100, 90, 80, 70, 60

FUNCS = {   # element-wise functions: (numpy, jax, torch), {} is the argument
    "exp": ("np.exp({})", "jnp.exp({})", "torch.exp({})"),
    "log": ("np.log({})", "jnp.log({})", "torch.log({})"),
    "sin": ("np.sin({})", "jnp.sin({})", "torch.sin({})"),
    "cos": ("np.cos({})", "jnp.cos({})", "torch.cos({})"),
    "tan": ("np.tan({})", "jnp.tan({})", "torch.tan({})"),
    "tanh": ("np.tanh({})", "jnp.tanh({})", "torch.tanh({})"),
    "sigmoid": ("(0.5 * (1.0 + np.tanh(0.5 * {})))", "jax.nn.sigmoid({})", "torch.sigmoid({})"),
    "relu": ("np.maximum({}, 0.0)", "jnp.maximum({}, 0.0)", "torch.relu({})"),
    "softplus": ("np.logaddexp(0.0, {})", "jax.nn.softplus({})",
                 "torch.nn.functional.softplus({})"),
    "abs": ("np.abs({})", "jnp.abs({})", "torch.abs({})"),
    "sqrt": ("np.sqrt({})", "jnp.sqrt({})", "torch.sqrt({})"),
    "sign": ("np.sign({})", "jnp.sign({})", "torch.sign({})"),
    "step": ("np.heaviside({}, 0.0)", "jnp.heaviside({}, 0.0)", "(({}) > 0).to(dtype)"),
    "arcsin": ("np.arcsin({})", "jnp.arcsin({})", "torch.asin({})"),
    "arccos": ("np.arccos({})", "jnp.arccos({})", "torch.acos({})"),
    "arctan": ("np.arctan({})", "jnp.arctan({})", "torch.atan({})"),
    "sinh": ("np.sinh({})", "jnp.sinh({})", "torch.sinh({})"),
    "cosh": ("np.cosh({})", "jnp.cosh({})", "torch.cosh({})"),
    "log1p": ("np.log1p({})", "jnp.log1p({})", "torch.log1p({})"),
    "expm1": ("np.expm1({})", "jnp.expm1({})", "torch.expm1({})"),
}
HEADER = {
    "numpy": "import numpy as np\n",
    "jax": "import jax\nimport jax.numpy as jnp\n",
    "torch": "import torch\n",
}
# K(m,n) is the permutation with K(m,n)·vec(A) = vec(Aᵀ) for A m×n (column-major vec): row
# c + n·r of K picks entry r + m·c of vec(A), i.e. K = I[p] with p = arange(mn) laid out n×m
# row by row, transposed and read row by row.
_COMMUTATION = {
    "numpy": "np.eye({m} * {n})[np.arange({m} * {n}).reshape({n}, {m}).T.reshape(-1)]",
    "jax": "jnp.eye({m} * {n})[jnp.arange({m} * {n}).reshape({n}, {m}).T.reshape(-1)]",
    "torch": "torch.eye({m} * {n}, dtype=dtype, device=device)"
             "[torch.arange({m} * {n}, device=device)"
             ".reshape({n}, {m}).T.reshape(-1)]",
}
_RESERVED = frozenset({"np", "jnp", "jax", "torch", "value", "derivative", "dtype", "device",
                       "_"})


def identifier(name: str) -> str:
    """A safe Python identifier for a matcalc name: θ → theta, keywords get a trailing _."""
    out = "".join(LATIN_OF_GREEK.get(ch, ch) if ch in LATIN_OF_GREEK else ch for ch in name)
    out = out.replace("∂", "d_")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", out):
        raise UnsupportedError(f"`{name}` cannot be used as a name in generated code")
    if keyword.iskeyword(out) or out in _RESERVED - {"_"}:
        out += "_"
    return out


class Names:
    """Identifiers for generated code, each used once: variables first (named like the user's
    variables), then sizes, then temporaries; a clash gets a suffix, never a shadowed name."""

    def __init__(self, reserved=()):
        self.taken = set(_RESERVED) | set(reserved)

    def fresh(self, base: str, alternative: str | None = None) -> str:
        """`base` if free, else `alternative` (e.g. m_size for a size m that a variable is
        called), else the first free of alternative_2, alternative_3, …"""
        for name in (base, alternative or base):
            if name not in self.taken and not keyword.iskeyword(name):
                self.taken.add(name)
                return name
        stem, k = alternative or base, 2
        while f"{stem}_{k}" in self.taken:
            k += 1
        self.taken.add(f"{stem}_{k}")
        return f"{stem}_{k}"


def _constant(node) -> bool:
    """Arithmetic of numbers and sizes alone: its code gives a Python number."""
    if isinstance(node, (E.Num, E.Size)):
        return True
    return isinstance(node, (E.Add, E.MatMul, E.Hadamard, E.HadamardDiv, E.HadamardPower,
                             E.Power, E.Inverse)) and all(_constant(c) for c in node.children)


_REDUCTIONS = (E.Sum, E.Mean, E.Trace, E.Det, E.LogDet, E.Norm, E.LogSumExp)


def _two_d(node) -> bool:
    """Whether the code of a scalar node gives a 1×1 array (a variable, a product of vectors)
    rather than a 0-d one or a Python number (a reduction, a number, a size)."""
    if isinstance(node, (E.Num, E.Size) + _REDUCTIONS):
        return False
    if isinstance(node, E.MatMul) and any(not is_scalar(f.shape) for f in node.args):
        return True
    if isinstance(node, (E.MatMul, E.Add, E.Hadamard, E.HadamardDiv, E.HadamardPower,
                         E.Power, E.Inverse, E.Apply)):
        return any(_two_d(c) for c in node.children)
    return True


# Matrix products for code: association by cost, shared sub-products -------------------------
#
# A product node holds its factors flat (X, θ for Xθ; θᵀ, X, θ for θᵀXθ). Before printing, every
# product is rebuilt as nested two-factor products in the cheapest order, where a sub-product
# that occurs in several places (Xθ inside θᵀXθ and alone in the gradient) costs its share only:
# the nested nodes are then equal trees, and the shared-subexpression pass computes them once.

_DP_LIMIT = 24        # longer chains are ordered from the vector end (the cost table is cubic)
_UNKNOWN_SIZE = 1000  # a size nobody gave is taken as large: it ranks the orders, never prints


def _is_diag(f) -> bool:
    return isinstance(f, E.DiagMat)


class _Products:
    """The association plan of every matrix product of some trees (see plan_products)."""

    def __init__(self, sizes):
        self.sizes = {str(k): int(v) for k, v in (sizes or {}).items()}
        self.values: dict = {}
        self.count: dict = {}          # sub-chain (tuple of factors) → occurrences
        self.best: dict = {}           # sub-chain → (cost, split)
        self.built: dict = {}          # sub-chain → its nested node

    def size(self, d) -> float:
        v = self.values.get(d)
        if v is None:
            v = float(d.coef)
            for name, e in d.factors:
                v *= float(self.sizes.get(name, _UNKNOWN_SIZE)) ** e
            self.values[d] = v
        return v

    def add(self, chain):
        """Count the sub-chains of one product's factors."""
        if len(chain) > _DP_LIMIT:
            return
        for i in range(len(chain) - 1):
            for j in range(i + 2, len(chain) + 1):
                key = chain[i:j]
                self.count[key] = self.count.get(key, 0) + 1

    def share(self, chain) -> float:
        """What computing `chain` costs a product that uses it: its cost split among its
        uses when it occurs in several places."""
        if len(chain) == 1:
            return 0.0
        return self.plan(chain)[0] / max(1, self.count.get(chain, 1))

    def product_cost(self, left, right) -> float:
        rows, inner, cols = (self.size(left[0].shape[0]), self.size(left[-1].shape[1]),
                             self.size(right[-1].shape[1]))
        if len(left) == 1 and _is_diag(left[0]) or len(right) == 1 and _is_diag(right[0]):
            return rows * cols            # diag(v)·M is broadcasting
        return rows * inner * cols

    def plan(self, chain):
        """(cost, split) of the cheapest association of `chain` (a tuple of ≥ 2 factors)."""
        got = self.best.get(chain)
        if got is not None:
            return got
        if len(chain) == 2:
            got = (self.product_cost(chain[:1], chain[1:]), 1)
        else:
            got = (float("inf"), 1)
            for k in range(1, len(chain)):
                c = self.share(chain[:k]) + self.share(chain[k:]) + \
                    self.product_cost(chain[:k], chain[k:])
                if c < got[0]:
                    got = (c, k)
        self.best[chain] = got
        return got

    def nested(self, chain, final):
        """The product of `final` (the factors of `chain`, rebuilt) as nested pairs."""
        if len(chain) == 1:
            return final[0]
        got = self.built.get(chain)
        if got is not None:
            return got
        if len(chain) > _DP_LIMIT:
            # from the vector end: right to left unless the chain starts with a row (or the
            # left end is the narrower one)
            first, last = self.size(chain[0].shape[0]), self.size(chain[-1].shape[1])
            if last <= first:
                node = final[-1]
                for f in reversed(final[:-1]):
                    node = E.MatMul((f, node), (f.shape[0], node.shape[1]))
            else:
                node = final[0]
                for f in final[1:]:
                    node = E.MatMul((node, f), (node.shape[0], f.shape[1]))
            self.built[chain] = node
            return node
        k = self.plan(chain)[1]
        left = self.nested(chain[:k], final[:k])
        right = self.nested(chain[k:], final[k:])
        node = E.MatMul((left, right), (left.shape[0], right.shape[1]))
        self.built[chain] = node
        return node


def _rebuild(roots, fn):
    """Every distinct node of the trees once, children first: fn(node, new children) gives its
    new form. Returns the new roots."""
    done = fold(roots, fn)
    return [done[r] for r in roots]


def _same_or_new(n, kids):
    return n if all(k is c for k, c in zip(kids, n.children)) else E.with_children(n, kids)


def _split_factors(n):
    scal = tuple(f for f in n.args if is_scalar(f.shape))
    chain = tuple(f for f in n.args if not is_scalar(f.shape))
    return scal, chain


def _distributed(n, kids):
    """Products inside products flattened into one chain, and (A + Aᵀ)·R for a product R that
    gives a vector as A·R + Aᵀ·R: two matrix–vector products that stream through A, where
    forming A + Aᵀ reads A transposed (cache-hostile) and writes an n×n temporary; R is then one
    shared sub-product, and A·R may be shared with the value (xᵀAx and its gradient). Only sums
    of plain matrices: a broadcast scalar term is c·𝟙𝟙ᵀ, not c, so (A + c)x is not Ax + cx."""
    n = _same_or_new(n, kids)
    if not isinstance(n, E.MatMul):
        return n
    if any(isinstance(k, E.MatMul) and not is_scalar(k.shape) for k in n.args):
        # a product inside a product (θᵀX inside (θᵀX)θ, as parsed) is one chain: how it is
        # associated is decided below, by cost
        flat = []
        for k in n.args:
            flat.extend(k.args if isinstance(k, E.MatMul) and not is_scalar(k.shape) else (k,))
        n = E.MatMul(tuple(flat), n.shape)
    scal, chain = _split_factors(n)
    if len(chain) < 2 or not isinstance(chain[0], E.Add) or chain[-1].shape[1] != 1:
        return n
    if not all((isinstance(t, E.Sym) or isinstance(t, E.Transpose) and isinstance(t.arg, E.Sym))
               and not is_scalar(t.shape) for t in chain[0].args):
        return n
    rest = chain[1:]
    terms = tuple(E.MatMul((t,) + rest, (t.shape[0], rest[-1].shape[1]))
                  for t in chain[0].args)
    total = E.Add(terms, (chain[0].shape[0], rest[-1].shape[1]))
    return E.MatMul(scal + (total,), n.shape) if scal else total


def plan_products(roots, sizes=None) -> list:
    """The trees with every matrix product as nested pairs in the cheapest order for `sizes`
    (a size not given counts as large), sub-products occurring in several places (in the value
    and in the derivative alike) written the same way so that they are computed once, and
    (A + Aᵀ)x as Ax + Aᵀx."""
    roots = _rebuild(roots, _distributed)
    plans = _Products(sizes)
    seen, stack = set(), list(roots)
    while stack:                         # count sub-chains once per distinct product
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if isinstance(n, E.MatMul):
            chain = _split_factors(n)[1]
            if len(chain) >= 2:
                plans.add(chain)
        stack.extend(n.children)

    def nest(n, kids):
        new = _same_or_new(n, kids)
        if not isinstance(n, E.MatMul):
            return new
        pairs = [(a, k) for a, k in zip(n.args, kids)]
        chain = tuple(a for a, _ in pairs if not is_scalar(a.shape))
        if len(chain) < 3 and len(chain) == len(n.args):
            return new
        if len(chain) < 2:
            return new
        final = [k for a, k in pairs if not is_scalar(a.shape)]
        scal = tuple(k for a, k in pairs if is_scalar(a.shape))
        tree = plans.nested(chain, final)
        return E.MatMul(scal + (tree,), n.shape) if scal else tree

    return _rebuild(roots, nest)


class NotFlat(Exception):
    """The expression needs vectors as columns (an outer product, diag, vec, a scalar variable):
    no 1-D form of its code."""


class CodePrinter:
    """Code for nodes. With flat=True (NumPy and PyTorch) vectors are 1-D arrays and scalars
    0-d, which is what a caller passing 1-D vectors has, and NotFlat is raised for anything
    whose 1-D reading differs from the column reading (an outer product, diag(v), vec, Kronecker
    products, vectors of zeros or ones, a scalar used as a matrix)."""

    def __init__(self, backend: str, sizes: dict | None = None, flat: bool = False):
        if backend not in BACKENDS:
            raise UnsupportedError(f"unknown code backend {backend!r}; choose one of "
                                   + ", ".join(BACKENDS))
        self.backend = backend
        self.k = BACKENDS.index(backend)
        self.mod = {"numpy": "np", "jax": "jnp", "torch": "torch"}[backend]
        self.sizes = sizes or {}
        self.names: dict = {}          # node → temporary holding it
        self.variables: dict = {}      # matcalc name → identifier in the code
        self.dims: dict = {}           # size name → identifier in the code
        self.flat = flat
        if flat and backend == "jax":
            raise NotFlat("the JAX code keeps columns")

    def dim(self, d) -> str:
        """A size as code: an integer, a size's identifier, or a product of them."""
        if d.is_Integer:
            return str(int(d))
        if d.is_Symbol and str(d).startswith("min("):    # the length of svdvals(A)
            a, b = (symbol(x.strip()) if not x.strip().isdigit() else x.strip()
                    for x in str(d)[4:-1].split(","))
            return f"min({self._dim_name(str(a))}, {self._dim_name(str(b))})"
        if d.is_Symbol:
            return self._dim_name(str(d))
        return "(" + " * ".join(self._dim_name(f) if isinstance(f, str) else str(f)
                                for f in d.flat_factors()) + ")"

    def _dim_name(self, name: str) -> str:
        if name.startswith("min("):                      # a factor min(m,n) of a product
            return self.dim(symbol(name))
        return self.dims[name] if name in self.dims else identifier(name)

    # expressions ------------------------------------------------------------------------
    def emit(self, node) -> tuple[str, int]:
        if node in self.names:
            return self.names[node], _ATOM
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def code(self, node) -> str:
        return self.emit(node)[0]

    def arr(self, node, level=None, matrix=True) -> str:
        """The code of an operand that must be an array (matrix=True: a 2-D one, for a
        transpose, trace, det, kron, diag, vec…). Scalars are 1×1 arrays in this code, but a
        reduction gives a 0-d one and numbers and sizes alone give a Python number."""
        if self.flat and is_scalar(node.shape) and (matrix or _constant(node)):
            raise NotFlat("a scalar where an array is needed")
        if is_scalar(node.shape) and (_constant(node) or matrix and not _two_d(node)):
            if _constant(node):
                extra = ", dtype=dtype, device=device" if self.backend == "torch" else ""
                return f"{self.mod}.full((1, 1), {self.code(node)}{extra})"
            return f"{self.mod}.reshape({self.code(node)}, (1, 1))"
        return self.code(node) if level is None else self.wrap(node, level)

    def wrap(self, node, level) -> str:
        s, p = self.emit(node)
        return s if p > level else f"({s})"

    def _sym(self, n):
        if n.name in self.variables:
            return self.variables[n.name], _ATOM
        return identifier(n.name), _ATOM

    def _num(self, n):
        v = n.value
        s = str(v.numerator) + ".0" if v.denominator == 1 else repr(float(v))
        return (s, _ATOM) if v >= 0 else (s, _UNARY)

    def _size(self, n):
        return self.dim(n.dim), _ATOM

    def _shape_args(self, shape):
        return ", ".join(self.dim(d) for d in shape)

    def _not_flat_vector(self, n):
        if self.flat and (n.shape[0] == 1 or n.shape[1] == 1):
            raise NotFlat("a vector or scalar constant")

    def _identity(self, n):
        self._not_flat_vector(n)
        f = ("torch.eye({}, dtype=dtype, device=device)" if self.backend == "torch"
             else self.mod + ".eye({})")
        return f.format(self.dim(n.shape[0])), _ATOM

    def _zero(self, n):
        self._not_flat_vector(n)
        extra = ", dtype=dtype, device=device" if self.backend == "torch" else ""
        return f"{self.mod}.zeros(({self._shape_args(n.shape)}){extra})", _ATOM

    def _ones(self, n):
        self._not_flat_vector(n)
        extra = ", dtype=dtype, device=device" if self.backend == "torch" else ""
        return f"{self.mod}.ones(({self._shape_args(n.shape)}){extra})", _ATOM

    def _commutation(self, n):
        return _COMMUTATION[self.backend].format(m=self.dim(n.rows), n=self.dim(n.cols)), _ATOM

    def _add(self, n):
        parts = []
        for i, t in enumerate(n.args):
            if i and negative_coefficient(t):
                parts.append(" - " + self.wrap_neg(t))
                continue
            s = self.wrap(t, _ADD - 1)
            if i and s.startswith("-"):         # a negated product nested deeper: a + -b
                parts.append(" + " + f"({s})")
            else:
                parts.append((" + " if i else "") + s)
        return "".join(parts), _ADD

    def wrap_neg(self, t):
        return self.wrap(negate(t), _ADD)

    def _matmul(self, n):
        scal = [f for f in n.args if is_scalar(f.shape)]
        chain = [f for f in n.args if not is_scalar(f.shape)]
        parts = []
        coef = None
        for f in scal:
            if isinstance(f, E.Num) and coef is None:
                coef = f
                continue
            if isinstance(f, E.Inverse):
                parts.append(("/", self.wrap(f.arg, _MUL)))
            else:
                parts.append(("*", self.wrap(f, _MUL)))
        body = self.chain(chain) if chain else None
        out = body[0] if body else None
        prec = body[1] if body else _ATOM
        for op, s in parts:
            if out is None:
                out, prec = (s if op == "*" else f"1.0 / {s}"), _MUL
            else:
                out = f"{out if prec >= _MUL else '(' + out + ')'} {op} {s}"
                prec = _MUL
        if coef is not None:
            c = coef.value
            if c == -1 and out is not None:
                return "-" + (out if prec > _UNARY else f"({out})"), _UNARY
            cs = self._num(coef)[0]
            if out is None:
                return cs, _ATOM
            return f"{cs if c > 0 else '(' + cs + ')'} * {out if prec > _MUL else '(' + out + ')'}", _MUL
        return out, prec

    # matrix chains: association by cost, diag(v) as broadcasting ------------------------
    def chain(self, fs):
        if len(fs) == 1:
            return self.emit(fs[0])
        split = self.best_split(fs)
        left, right = fs[:split], fs[split:]
        return self.pair(left, right)

    def pair(self, left, right):
        if self.flat and (left[0].shape[0] != 1 and left[-1].shape[1] == 1 and
                          right[-1].shape[1] != 1 or
                          any(isinstance(f, E.DiagMat) for f in (left[0], right[-1]))):
            raise NotFlat("an outer product or diag(v)")
        ls = self.chain(left)
        rs = self.chain(right)
        if len(left) == 1 and isinstance(left[0], E.DiagMat):
            v = self.wrap(left[0].arg, _MUL)
            return f"{v} * {rs[0] if rs[1] >= _MUL else '(' + rs[0] + ')'}", _MUL
        if len(right) == 1 and isinstance(right[0], E.DiagMat) and len(left) == 1 and \
                not isinstance(left[0], E.DiagMat):
            w = self.wrap(right[0].arg, _POW)
            return f"{ls[0] if ls[1] >= _MUL else '(' + ls[0] + ')'} * {w}.T", _MUL
        if self.backend == "jax":
            # XLA on CPU copies a transposed operand before a dot; contracting over the right
            # axis instead computes Aᵀb without the copy (4× faster for a 2000×1000 A).
            if len(left) == 1 and isinstance(left[0], E.Transpose):
                a = self.emit(left[0].arg)[0]
                return f"jax.lax.dot_general({a}, {rs[0]}, (((0,), (0,)), ((), ())))", _ATOM
            if len(right) == 1 and isinstance(right[0], E.Transpose):
                b = self.emit(right[0].arg)[0]
                return f"jax.lax.dot_general({ls[0]}, {b}, (((1,), (1,)), ((), ())))", _ATOM
        return (f"{ls[0] if ls[1] >= _MUL else '(' + ls[0] + ')'} @ "
                f"{rs[0] if rs[1] > _MUL else '(' + rs[0] + ')'}"), _MUL

    def best_split(self, fs):
        dims = [self.concrete(fs[0].shape[0])] + [self.concrete(f.shape[1]) for f in fs]
        if None in dims:        # unknown sizes: a chain that ends in a vector runs from the right
            return len(fs) - 1 if fs[-1].shape[1] == 1 and fs[0].shape[0] != 1 else 1
        n = len(fs)
        cost = [[0] * n for _ in range(n)]
        cut = [[0] * n for _ in range(n)]
        for span in range(1, n):
            for i in range(n - span):
                j = i + span
                cost[i][j] = float("inf")
                for k in range(i, j):
                    c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                    if c < cost[i][j]:
                        cost[i][j], cut[i][j] = c, k
        return cut[0][n - 1] + 1

    def concrete(self, d):
        if d.is_Integer:
            return int(d)
        v = d.subs({s: self.sizes[str(s)] for s in d.free_symbols if str(s) in self.sizes})
        return int(v) if v.is_Integer else None

    # the rest ---------------------------------------------------------------------------
    def _hadamard(self, n):
        return " * ".join(self.wrap(a, _MUL) for a in n.args), _MUL

    def _hadamarddiv(self, n):
        return f"{self.wrap(n.left, _MUL - 1)} / {self.wrap(n.right, _MUL)}", _MUL

    def _hadamardpower(self, n):
        return f"{self.wrap(n.arg, _POW)} ** {self._num(E.Num(n.exponent))[0]}", _POW

    def _kron(self, n):
        if self.flat:
            raise NotFlat("a Kronecker product")
        if self.backend == "torch":
            # torch.kron fails on a transposed (non-contiguous) operand ("view size is not
            # compatible with input tensor's size and stride"), and on a column of eigh's
            # column-major result, which .contiguous() keeps (a size-1 dimension's stride
            # does not count): hand it row-major copies
            c = ".clone(memory_format=torch.contiguous_format)"
            return (f"torch.kron({self.arr(n.left, _POW)}{c}, "
                    f"{self.arr(n.right, _POW)}{c})"), _ATOM
        return f"{self.mod}.kron({self.arr(n.left)}, {self.arr(n.right)})", _ATOM

    def _transpose(self, n):
        if self.flat and (n.shape[0] == 1) != (n.shape[1] == 1):
            return self.emit(n.arg)         # a 1-D vector is its own transpose
        return f"{self.arr(n.arg, _POW)}.T", _ATOM

    def _inverse(self, n):
        if is_scalar(n.shape):
            return f"1.0 / {self.wrap(n.arg, _MUL)}", _MUL
        return f"{self.mod}.linalg.inv({self.arr(n.arg)})", _ATOM

    def _power(self, n):
        if is_scalar(n.shape):
            return f"{self.wrap(n.arg, _POW)} ** {self._num(E.Num(n.exponent))[0]}", _POW
        return f"{self.mod}.linalg.matrix_power({self.arr(n.arg)}, {int(n.exponent)})", _ATOM

    def _apply(self, n):
        if n.fn == "log":
            stable = self._stable_log(n.arg)
            if stable is not None:
                return stable
        if n.fn not in FUNCS:
            raise UnsupportedError(f"{n.fn} has no generated-code form yet")
        template = FUNCS[n.fn][self.k]
        plain = re.fullmatch(r"[\w.]+\(\{\}\)", template) is not None
        arg = self.arr(n.arg, matrix=False) if plain else self.arr(n.arg, _POW, matrix=False)
        return template.format(arg), _ATOM

    def _softplus(self, z, minus=False) -> str:
        """softplus(z) as code (softplus(−z) with minus=True)."""
        if minus and negative_coefficient(z):
            z, minus = negate(z), False
        code = self.arr(z, matrix=False) if not minus else \
            "-" + self.arr(z, _UNARY, matrix=False)
        return FUNCS["softplus"][self.k].format(code)

    def _stable_log(self, arg):
        """log of a form that overflows or loses digits when printed as written: log(1 + eᶻ)
        is softplus(z), log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z),
        log softmax(a) = a − logsumexp(a), log(1 + u) is log1p(u). None for any other."""
        if isinstance(arg, E.Apply) and arg.fn == "sigmoid":
            return f"-{self._softplus(arg.arg, minus=True)}", _UNARY
        if isinstance(arg, E.Softmax):
            a = self.arr(arg.arg)
            return {"numpy": f"({a} - np.logaddexp.reduce({a}, axis=None))",
                    "jax": f"jax.nn.log_softmax({a}, axis=0)",
                    "torch": f"torch.log_softmax({a}, dim=0)"}[self.backend], _ATOM
        if isinstance(arg, E.Add) and len(arg.args) == 2 and arg not in self.names:
            one = [t for t in arg.args if isinstance(t, E.Num) and t.value == 1]
            if one:
                u = arg.args[1] if arg.args[0] is one[0] else arg.args[0]
                if isinstance(u, E.Apply) and u.fn == "exp":
                    return self._softplus(u.arg), _ATOM
                if negative_coefficient(u):
                    v = negate(u)
                    if isinstance(v, E.Apply) and v.fn == "sigmoid":
                        return f"-{self._softplus(v.arg)}", _UNARY
                fn = {"numpy": "np.log1p", "jax": "jnp.log1p", "torch": "torch.log1p"}
                return f"{fn[self.backend]}({self.arr(u, matrix=False)})", _ATOM
        return None

    def _sum(self, n):
        return f"{self.mod}.sum({self.arr(n.arg, matrix=False)})", _ATOM

    def _mean(self, n):
        return f"{self.mod}.mean({self.arr(n.arg, matrix=False)})", _ATOM

    def _trace(self, n):
        return f"{self.mod}.trace({self.arr(n.arg)})", _ATOM

    def _det(self, n):
        return f"{self.mod}.linalg.det({self.arr(n.arg)})", _ATOM

    def _logdet(self, n):
        if self.backend == "torch":
            return f"torch.logdet({self.arr(n.arg)})", _ATOM
        return f"{self.mod}.linalg.slogdet({self.arr(n.arg)})[1]", _ATOM

    def _norm(self, n):
        return f"{self.mod}.linalg.norm({self.arr(n.arg)})", _ATOM

    def _logsumexp(self, n):
        a = self.arr(n.arg)
        return {"numpy": f"np.logaddexp.reduce({a}, axis=None)",
                "jax": f"jax.scipy.special.logsumexp({a})",
                "torch": f"torch.logsumexp(torch.reshape({a}, (-1,)), dim=0)"}[self.backend], _ATOM

    def _softmax(self, n):
        a = self.arr(n.arg)
        return {"numpy": f"np.exp({a} - np.logaddexp.reduce({a}, axis=None))",
                "jax": f"jax.nn.softmax({a}, axis=0)",
                "torch": f"torch.softmax({a}, dim=0)"}[self.backend], _ATOM

    def _diagmat(self, n):
        if self.flat:
            raise NotFlat("diag or vec")
        a = self.arr(n.arg, _POW)
        return (f"torch.diag({a}.reshape(-1))" if self.backend == "torch" else
                f"{self.mod}.diag({a}.ravel())"), _ATOM

    def _diagvec(self, n):
        if self.flat:
            raise NotFlat("diag or vec")
        return f"{self.mod}.diag({self.arr(n.arg)}).reshape(-1, 1)", _ATOM

    def _tril(self, n):
        return f"{self.mod}.tril({self.arr(n.arg)})", _ATOM

    def _triu(self, n):
        return f"{self.mod}.triu({self.arr(n.arg)})", _ATOM

    def _vec(self, n):
        if self.flat:
            raise NotFlat("diag or vec")
        return f"{self.arr(n.arg, _POW)}.T.reshape(-1, 1)", _ATOM

    def _matfn(self, n):
        from .matfn_code import matfn_code
        return matfn_code(self, n), _ATOM


def generate(result, backend: str = "numpy", sizes: dict | None = None,
             name: str | None = None, value: bool = True) -> str:
    """Source of a function computing (value, derivative) of a Result (only the derivative
    with value=False). Outputs have the shapes r.evaluate gives: a scalar is 0-d, a vector a
    column (or a row), a tensor result is returned as its vec-form matrix d vec(F)/d vec(X)ᵀ."""
    return generated(result, backend, sizes, name, value)[0]


def generated(result, backend="numpy", sizes=None, name=None, value=True, order=None,
              flat=False):
    """(source, function name, parameters, the variables as nodes with their identifiers);
    `order` lists variable names to come first among the parameters, in that order. With
    flat=True, the code for 1-D vectors (raises NotFlat when the expression has none)."""
    f, d = result.function, result.node
    fname = identifier(name or (f"value_and_{_kind_word(result.kind)}" if value else
                                _kind_word(result.kind)))
    p = CodePrinter(backend, sizes, flat)
    args = _arguments(result, [f, d])     # all of f's variables: they carry the sizes
    if flat and not any(not is_scalar(a.shape) and 1 in a.shape for a in args):
        raise NotFlat("no vector variable")
    if order is not None:                 # the parameters in this order (variable names)
        by_name = {a.name: a for a in args}
        args = [by_name[k] for k in order] + [a for a in args if a.name not in order]
    names = Names({fname})
    params, prologue = bind(p, names, args, [f, d], sizes)
    roots = plan_products([f, d] if value else [d], sizes)
    lines = [HEADER[backend].rstrip("\n"), "", ""]
    from .matfn_code import IMPORTS, uses_matfn
    if IMPORTS[backend] and uses_matfn([f, d]):          # expm, solve, …: scipy.linalg
        lines.insert(1, IMPORTS[backend])
    lines.append(f"def {fname}({', '.join(params)}):")
    what = result.kind
    if result.kind == "tensor":
        what = "derivative, as the matrix d vec(F)/d vec(X)ᵀ (column-major vec),"
    lines.append(f'    """{_safe(to_unicode(result.function))} and its {what} wrt '
                 f'{_safe(result.wrt)}: {_safe(str(result))}."""')
    body = []
    for node in _temporaries(roots):
        t = names.fresh(f"t{len(p.names) + 1}")
        body.append(f"    {t} = {p.code(node)}")
        p.names[node] = t
    if value:
        body.append(f"    value = {_output(p, roots[0])}")
    body.append(f"    derivative = {_output(p, roots[-1])}")
    body.append("    return value, derivative" if value else "    return derivative")
    lines += ["    " + s for s in _needed(prologue, body)] + body
    return "\n".join(lines) + "\n", fname, params, [(a, p.variables[a.name]) for a in args]


_DEEP = 64      # a node this many levels above the leaves gets a temporary: printing recurses


def _temporaries(roots) -> list:
    """The nodes to compute into temporaries, children first: repeated subtrees, and every
    _DEEP-th level of a deep tree (a chain of 1,000 factors prints without running out of
    recursion)."""
    named = set(shared(roots))
    height: dict = {}
    order: list = []
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        n, ready = stack.pop()
        if n in height:
            continue
        if not ready:
            stack.append((n, True))
            stack.extend((c, False) for c in reversed(n.children) if c not in height)
            continue
        h = 1 + max((height[c] for c in n.children), default=-1)
        height[n] = h
        if n in named or h and h % _DEEP == 0 and not isinstance(n, TRIVIAL):
            order.append(n)
            height[n] = 0          # a name is a leaf to what uses it
    return order


def _needed(prologue, body):
    """The prologue without torch's dtype line when nothing uses `dtype` or `device`."""
    if prologue and prologue[0].startswith("dtype, device = ") and not any(
            re.search(r"\b(dtype|device)\b", line) for line in prologue[1:] + body):
        return prologue[1:]
    return prologue


def _output(p, node) -> str:
    """The code of a returned node: a scalar comes back 0-d (as r.evaluate gives a float)."""
    code, prec = p.emit(node)
    if not is_scalar(node.shape):
        return code
    if _constant(node):                  # a Python number
        if p.backend == "torch":
            return f"torch.as_tensor({code}, dtype=dtype, device=device).reshape(())"
        return f"{p.mod}.reshape({code}, ())"
    return f"{code if prec >= _ATOM else '(' + code + ')'}.reshape(())"


def _size_names(nodes, everywhere=False) -> list:
    """The size names that the code of the trees prints (identity, zeros, ones, commutation,
    a size used as a value), or with everywhere=True every size in their shapes; first seen
    first."""
    out: dict = {}
    stack = list(reversed(nodes))
    while stack:
        n = stack.pop()
        dims = list(n.shape or ()) if everywhere or isinstance(
            n, (E.Identity, E.Zero, E.Ones)) else []
        if isinstance(n, E.Size):
            dims.append(n.dim)
        if isinstance(n, E.Commutation):
            dims += [n.rows, n.cols]
        for dim in dims:
            for f in dim.flat_factors():
                if isinstance(f, str) and f.startswith("min("):     # min(m,n): m and n
                    for g in f[4:-1].split(","):
                        if not g.strip().isdigit():
                            out.setdefault(g.strip(), None)
                elif isinstance(f, str):
                    out.setdefault(f, None)
        stack.extend(reversed(n.children))
    return list(out)


def bind(p, names, args, roots, sizes=None, check=True, reshape=True):
    """Name the variables and sizes for printer `p`, and write the lines that read every size
    off the inputs and check every input's shape. Returns (parameters, lines): a size no input
    carries is a keyword-only parameter (or a constant, when `sizes` gives it)."""
    for a in args:
        p.variables[a.name] = names.fresh(identifier(a.name))
    wanted = _size_names(args, everywhere=True) if check else []
    wanted += [s for s in _size_names(roots) if s not in wanted]
    for s in wanted:
        base = identifier(s)
        p.dims[s] = names.fresh(base, base + "_size")
    out, known = [], set()
    if p.backend == "torch":
        # computed in the inputs' floating dtype (float32 in, float32 out), the default dtype
        # when every input is a Python number
        tensors = ", ".join(p.variables[a.name] for a in args) + ("," if len(args) == 1 else "")
        # and on their device (a CUDA input: constants such as I are made there too)
        out.append(f"dtype, device = next(((a.dtype, a.device) for a in ({tensors}) if "
                   "torch.is_tensor(a) and a.is_floating_point()), "
                   "(torch.get_default_dtype(), None))")
    reads, checks, reshapes = [], [], []
    for a in args:
        ident = p.variables[a.name]
        if is_scalar(a.shape) and p.flat:
            raise NotFlat("a scalar variable")
        if is_scalar(a.shape):
            # a float, a 0-d or a 1×1 array: 1×1, as every scalar is in the printed code
            if reshape and p.backend == "torch":
                reshapes.append(f"{ident} = ({ident} if torch.is_tensor({ident}) else "
                                f"torch.tensor({ident}, dtype=dtype, device=device)).reshape(1, 1)")
            elif reshape:
                reshapes.append(f"{ident} = {p.mod}.reshape({ident}, (1, 1))")
            continue
        # a size is read off the first input that carries it; a vector may come 1-D, so the
        # row size is shape[0] and the column size shape[-1]
        for i, dim in enumerate(a.shape):
            if dim.is_Symbol and dim not in known and str(dim) in wanted:
                reads.append(f"{p.dim(dim)} = {ident}.shape[{'0' if i == 0 else '-1'}]")
                known.add(dim)
        if not reshape:
            continue
        column, row = a.shape[1] == 1, a.shape[0] == 1
        if (column or row) and not p.flat:
            reshapes.append(f"{ident} = {ident}.reshape({'-1, 1' if column else '1, -1'})")
        if check:
            want = ", ".join(p.dim(dim) for dim in a.shape)
            label = _safe("×".join(str(dim) for dim in a.shape)).replace("{", "").replace("}", "")
            alone = p.dim(a.shape[0] if column else a.shape[1])
            if p.flat and (column or row):      # 1-D code: 1-D vectors only
                length = _safe(str(a.shape[0] if column else a.shape[1]))
                test, label = f"{ident}.shape != ({alone},)", f"1-D of length {length}"
            else:
                test = f"{ident}.shape != ({want})" + (
                    f" and {ident}.shape != ({alone},)" if column or row else "")
            checks += [f"if {test}:",
                       f'    raise ValueError(f"{_safe(a.name)} should be {label}'
                       f'{" or 1-D" if (column or row) and not p.flat else ""}, got shape '
                       f'{{tuple({ident}.shape)}}")']
    params = [p.variables[a.name] for a in args]
    missing = [s for s in wanted if symbol(s) not in known]
    given = {str(k): v for k, v in (sizes or {}).items()}
    keyword_only = []
    for s in missing:
        if s in given:
            out.append(f"{p.dims[s]} = {int(given[s])}")
        else:
            keyword_only.append(p.dims[s])
    if keyword_only:
        params += ["*"] + keyword_only
    return params, out + reads + checks + reshapes


def _safe(text: str) -> str:
    """Printed mathematics for a docstring: no quote or backslash can reach the code."""
    return "".join(ch for ch in text if ch not in "\"'\\\n\r")


def _kind_word(kind):
    return {"gradient": "grad", "jacobian": "jacobian", "derivative": "derivative",
            "hessian": "hessian", "mixed": "hessian", "tensor": "vec_jacobian", "vjp": "vjp",
            "jvp": "jvp", "hvp": "hvp"}.get(kind, "derivative")


def _arguments(result, roots):
    """The variables in order of first appearance, left to right through the function (then
    the derivative), the variable differentiated by last when neither uses it."""
    found = {n.name: n for n in _in_order(*roots)}
    found.setdefault(result.variable.name, result.variable)   # a parameter even when unused
    return list(found.values())


def _in_order(*roots):
    found: dict = {}
    for r in roots:
        stack = [r]
        while stack:
            n = stack.pop()
            if type(n) is E.Sym:
                found.setdefault(n.name, n)
            stack.extend(reversed(n.children))
    return list(found.values())


def autograd_function(expr: str, shapes=None, backend: str = "torch", name: str = "Op",
                      compiled: bool = False):
    """Source of a torch.autograd.Function (or a jax.custom_vjp function) whose backward pass is
    matcalc's symbolic vector–Jacobian product with respect to every input; with compiled=True
    the class (or function) itself, ready for Op.apply(...) or jax.grad. Its inputs come in the
    order the variables appear in `expr`. Vectors may come 1-D or as columns, matrices as
    matrices; each gradient has its input's shape and a vector value is 1-D when the first
    vector input is."""
    source = _autograd_source(expr, shapes, backend, name)
    if not compiled:
        return source
    return compile_generated(source, identifier(name) if backend == "torch"
                             else identifier(name.lower()))


def compile_generated(source: str, name: str):
    """Run matcalc's generated source in a fresh namespace and return the function `name`."""
    namespace: dict = {"__name__": "matcalc_generated"}
    exec(compile(source, "<matcalc generated>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace[name]


def _autograd_source(expr, shapes, backend, name):
    from ..language.parser import parse_with_shapes
    from ..calculus.products import vjp
    from ..numeric.evaluate import names_in
    if backend not in ("torch", "jax"):
        raise UnsupportedError("autograd functions are generated for torch and jax")
    f, decls = parse_with_shapes(expr, shapes)
    taken = set(names_in(f))
    g = next(c for c in ("g", "g_out", "cotangent", "g0") if c not in taken)
    inputs = [n.name for n in _in_order(f)]
    products = {}
    for n in inputs:
        try:
            products[n] = vjp(expr, n, g, shapes=shapes).node
        except UnsupportedError:
            products[n] = None
    cls = identifier(name)
    fn = identifier(name.lower())
    reserved = {cls, fn, fn + "_fwd", fn + "_bwd", "ctx", "residuals", "shapes", "out", "flat"}
    nodes = [names_in(f)[n] for n in inputs]
    forward = CodePrinter(backend)         # the forward pass: no cotangent yet
    forward_names = Names(reserved)
    _, start = bind(forward, forward_names, nodes, [f], check=False)
    planned = plan_products([f])
    for node in _temporaries(planned):
        t = forward_names.fresh(f"t{len(forward.names) + 1}")
        start.append(f"{t} = {forward.code(node)}")
        forward.names[node] = t
    value = forward.code(planned[0])
    start = _needed(start, [value])
    p = CodePrinter(backend)
    args = nodes + [E.Sym(g, f.shape)]
    taken = Names(reserved)
    _, prologue = bind(p, taken, args,
                       [f] + [d for d in products.values() if d is not None], check=False)
    # the products in their cheapest order, what the gradients share computed once
    live = [k for k, d in products.items() if d is not None]
    products.update(zip(live, plan_products([products[k] for k in live])))
    for node in _temporaries([products[k] for k in live]):
        t = taken.fresh(f"t{len(p.names) + 1}")
        prologue.append(f"{t} = {p.code(node)}")
        p.names[node] = t
    idents = [p.variables[n] for n in inputs]
    gname = p.variables[g]
    params = ", ".join(idents)
    packed = ", ".join(idents) + ("," if len(idents) == 1 else "")
    # the value's shape: 0-d for a scalar, 1-D for a vector when the first vector input is
    vectors = [p.variables[a.name] for a in nodes if not is_scalar(a.shape) and 1 in a.shape]
    if is_scalar(f.shape):
        shaped = "out.reshape(())"
    elif 1 in f.shape and vectors:
        dim = "dim()" if backend == "torch" else "ndim"
        start.insert(0, f"flat = {vectors[0]}.{dim} == 1")
        shaped = "out.reshape(-1) if flat else out"
    else:
        shaped = "out"
    grads = []
    for i, d in enumerate(products.values()):
        if d is None:
            grads.append("None")
        elif backend == "torch":
            grads.append(f"({p.code(d)}).reshape(shapes[{i}])")
        else:
            grads.append(f"jnp.reshape({p.code(d)}, shapes[{i}][0]).astype(shapes[{i}][1])")
    returned = ", ".join(grads) + ("," if len(grads) == 1 else "")
    prologue = _needed(prologue, [returned])
    if backend == "torch":
        body = [HEADER["torch"], "",
                f"class {cls}(torch.autograd.Function):",
                f'    """{_safe(to_unicode(f))} with a closed-form backward pass."""',
                "", "    @staticmethod",
                f"    def forward(ctx, {params}):",
                f"        ctx.save_for_backward({packed})",
                *("        " + line for line in start),
                f"        out = {value}",
                f"        return {shaped}", "", "    @staticmethod",
                f"    def backward(ctx, {gname}):",
                f"        {packed} = ctx.saved_tensors",
                f"        shapes = tuple(a.shape for a in ({packed}))",
                *("        " + line for line in prologue),
                f"        return {returned}"]
        return "\n".join(body) + "\n"
    body = [HEADER["jax"], "",
            "@jax.custom_vjp", f"def {fn}({params}):",
            *("    " + line for line in start),
            f"    out = {value}",
            f"    return {shaped}", "",
            f"def {fn}_fwd({params}):",
            f"    return {fn}({params}), ({packed})", "",
            f"def {fn}_bwd(residuals, {gname}):",
            f"    {packed} = residuals",
            "    shapes = tuple((jnp.shape(a), jnp.result_type(a)) for a in residuals)",
            *("    " + line for line in prologue),
            f"    return ({returned})", "",
            f"{fn}.defvjp({fn}_fwd, {fn}_bwd)"]
    return "\n".join(body) + "\n"
