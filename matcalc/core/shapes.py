"""Shapes: sizes, declarations, unification and the shape rule of every operator.

Owns SHAPE_RULES (one small function per node type) and the Unifier, the only place where
symbolic sizes are matched. A shape is a pair (rows, cols) of SymPy integers or positive integer
symbols; (1, 1) is a scalar. It does not build trees (language/parser.py) or differentiate (calculus/rules.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from . import expr as E
from .dims import ONE, Dim, integer, symbol, without_common_factor
from .errors import ShapeError, ParseError, show

SCALAR = (ONE, ONE)
MODIFIERS = ("symmetric", "spd", "diagonal", "lower", "upper", "skew", "orthogonal")
#: the modifiers under which Aᵀ = A (what the simplifier may use)
SYMMETRIC_MODIFIERS = frozenset({"symmetric", "spd", "diagonal"})
MAX_MATRIX_POWER = 64

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "omicron": "ο", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ",
    "upsilon": "υ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
}
LATIN_OF_GREEK = {v: k for k, v in GREEK.items()}

def dim(name: str | int) -> Dim:
    """The size for a name or a concrete integer."""
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        value = int(name)
        if value < 1:
            raise ValueError("sizes must be positive")
        return integer(value)
    return symbol(name)


_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_dim(d) -> str:
    """A size for messages: n, 3, k·n, n² (not n··2)."""
    if not isinstance(d, Dim) or not d.factors:
        return str(d)
    parts = [] if d.coef == 1 else [str(d.coef)]
    parts += [n if e == 1 else n + str(e).translate(_SUPERSCRIPT) for n, e in d.factors]
    return "·".join(parts)


def fmt_shape(shape) -> str:
    """m×n, or 'scalar' for 1×1."""
    if shape is None:
        return "?"
    if is_scalar(shape):
        return "scalar"
    return "×".join(fmt_dim(d) for d in shape)


def fmt_shape_plain(shape) -> str:
    return "×".join(fmt_dim(d) for d in shape)


def _one(d) -> bool:
    # Sizes are interned: the identity test is the fast path.
    return d is ONE or (d.is_Integer and d == 1)


def is_scalar(shape) -> bool:
    # (_one inlined: the simplifier asks this of nearly every factor it looks at; a size that is
    # a Dim equals 1 only when it is ONE, Dims being interned)
    a = shape[0]
    b = shape[1]
    return (a is ONE or type(a) is not Dim and a == 1) and \
        (b is ONE or type(b) is not Dim and b == 1)


def is_vector(shape) -> bool:
    """A column vector n×1 with n ≠ 1."""
    return len(shape) == 2 and shape[1] == 1 and shape[0] != 1


_LATIN_HEAD = re.compile(r"([A-Za-z]+)(.*)$")
_LATIN_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def canonical_name(name: str) -> str:
    """Spelled-out Greek is the Greek letter: theta → θ, theta_1 → θ_1, Sigma2 → Σ2."""
    if len(name) < 2 or name[1] not in _LATIN_LETTERS:
        return name                     # (a run of Latin letters at the start, if any, is one
    m = _LATIN_HEAD.match(name)         # letter: no Greek name is that short)
    if m and m.group(1) in GREEK:
        return GREEK[m.group(1)] + m.group(2)
    return name


# Declarations -------------------------------------------------------------------------------

@dataclass
class Decl:
    shape: tuple
    modifiers: frozenset = frozenset()


@dataclass
class Shapes:
    """Declared names, their shapes and modifiers, and the dimension names in use; `notes`
    says what the parser assumed while reading a formula (names taken as scalars, names split
    into letters, broadcasts)."""
    decls: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def dim_names(self) -> set[str]:
        out: set = set()
        # each shape once (names declared together share theirs: `A0: m×n, A1: m×n, …`)
        for shape in {id(d.shape): d.shape for d in self.decls.values()}.values():
            for x in shape:
                if type(x) is Dim:
                    for name, _ in x.factors:
                        out.add(name)
                else:
                    out.update(str(s) for s in x.free_symbols)
        return out

    def modifiers(self, name: str) -> frozenset:
        d = self.decls.get(name)
        return d.modifiers if d else frozenset()

    @property
    def symmetric_names(self) -> frozenset:
        """The names declared symmetric, spd or diagonal (Aᵀ = A for them)."""
        return frozenset(n for n, d in self.decls.items() if d.modifiers & SYMMETRIC_MODIFIERS)


_NAME_RE = re.compile(r"^[A-Za-zΑ-Ωα-ωϑϕϵℓ]+[0-9]*(_[A-Za-z0-9]+)?$")
_SIZE_RE = re.compile(r"^([A-Za-zΑ-Ωα-ω][A-Za-z0-9_]*|[0-9]+)$")


_SEPARATORS = re.compile("[,;\n]")


def _split_top(text: str) -> list[str]:
    if "(" not in text and "[" not in text and ")" not in text and "]" not in text:
        return [p.strip() for p in _SEPARATORS.split(text) if p.strip()]
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch in ",;\n" and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _shape_error(msg: str, spec: str, part: str) -> ParseError:
    from .errors import Span
    start = max(0, spec.find(part))
    return ParseError(f"in shapes: {msg}", span=Span(start, start + len(part)), text=spec)


def _sizes(items, spec: str, part: str) -> tuple:
    out = []
    for item in items:
        item = str(item).strip()
        if not _SIZE_RE.match(item):
            raise _shape_error(f"`{item}` is not a size (a name like n, or a positive integer)",
                               spec, part)
        if item.isdigit() and int(item) < 1:
            raise _shape_error(f"size `{item}` must be positive", spec, part)
        out.append(dim(canonical_name(item)))
    if len(out) == 0:
        return SCALAR
    if len(out) == 1:
        return (out[0], ONE)
    if len(out) == 2:
        return tuple(out)
    raise _shape_error("shapes have at most two sizes (rows×cols)", spec, part)


_GLUED = re.compile(r"[A-Za-wyzΑ-Ωα-ω]|[0-9]+")
_SIZE_SEPARATOR = re.compile(r"\s*(?:×|\*|,|\bx\b|(?<=[0-9])x(?=[0-9A-Za-z]))\s*")


# `n` or `m×n` with names for sizes (no x in them, no modifier): read directly
_PLAIN_SHAPE = re.compile(r"\s*([A-Za-wyzΑ-Ωα-ω][A-Za-wyz0-9_]*)"
                          r"(?:\s*×\s*([A-Za-wyzΑ-Ωα-ω][A-Za-wyz0-9_]*))?\s*")


def _parse_shape_text(body: str, spec: str, part: str) -> Decl:
    m = _PLAIN_SHAPE.fullmatch(body)
    if m is not None:
        rows, cols = m.groups()
        if cols is None:
            if rows != "scalar" and rows.lower() not in MODIFIERS:
                return Decl((dim(canonical_name(rows)), ONE))
        elif cols.lower() not in MODIFIERS:    # (`m × spd`: spd is a modifier, m× a shape)
            return Decl((dim(canonical_name(rows)), dim(canonical_name(cols))))
    words = body.split()
    mods = []
    while words and words[-1].lower() in MODIFIERS:
        mods.append(words.pop().lower())
    core = " ".join(words).strip()
    if core in ("scalar", "()", "1", ""):
        if core == "":
            raise _shape_error("missing shape after `:`", spec, part)
        shape = SCALAR
    else:
        core = core.strip("()[] ")
        glued = core.split("x")
        if len(glued) > 1 and all(_GLUED.fullmatch(g) for g in glued):
            core = "×".join(glued)          # mxn, nx3: single-letter sizes glued by x
        items = _SIZE_SEPARATOR.split(core)
        shape = _sizes([i for i in items], spec, part)
    return _check_mods(Decl(shape, frozenset(mods)), spec, part)


def _check_mods(decl: Decl, spec, part) -> Decl:
    mods = decl.modifiers
    clash = [m for m in ("skew", "orthogonal") if m in mods and len(mods) > 1]
    if clash or {"lower", "upper"} <= mods:
        raise _shape_error(f"`{' '.join(sorted(mods))}` do not go together", spec, part)
    if mods & {"lower", "upper"} and mods & {"symmetric", "spd"}:
        raise _shape_error(f"`{' '.join(sorted(mods))}` do not go together: a symmetric "
                           "triangular matrix is diagonal (declare it `diagonal`)", spec, part)
    if mods == {"orthogonal"}:          # n×p with orthonormal columns (the Stiefel manifold)
        return decl
    if decl.modifiers and decl.shape[0] != decl.shape[1]:
        raise _shape_error(f"`{' '.join(sorted(decl.modifiers))}` needs a square shape, not "
                           f"{fmt_shape_plain(decl.shape)}", spec, part)
    return decl


def parse_shapes(spec) -> Shapes:
    """Read `"X: m×n, θ: n, y: m, λ: scalar, A: n×n spd"` or the dict form into Shapes."""
    if spec is None:
        return Shapes()
    if isinstance(spec, Shapes):
        return spec
    decls = {}
    if isinstance(spec, dict):
        for name, value in spec.items():
            key = _check_name(str(name), str(name), str(name))
            if isinstance(value, str):
                decls[key] = _parse_shape_text(value, value, value)
                continue
            items = [str(v) for v in value]
            mods = frozenset(v.lower() for v in items if v.lower() in MODIFIERS)
            sizes = [v for v in items if v.lower() not in MODIFIERS]
            decls[key] = _check_mods(Decl(_sizes(sizes, str(value), str(value)), mods),
                                     str(value), str(value))
        return Shapes(decls)
    if not isinstance(spec, str):
        raise TypeError("shapes must be a string like 'X: m×n, y: m' or a dict")
    read: dict = {}                     # a shape's text → its declaration (`m×n` once)
    for part in _split_top(spec):
        m = _PART.match(part)
        if m is not None:               # (a name _NAME_RE takes, and its colon)
            key, body = canonical_name(m.group(1)), part[m.end():]
        else:
            if ":" not in part:
                raise _shape_error(f"`{part}` needs the form `name: shape`", spec, part)
            name, body = part.split(":", 1)
            key = _check_name(name.strip(), spec, part)
        decl = read.get(body)
        if decl is None:
            decls[key] = read[body] = _parse_shape_text(body, spec, part)
        else:                           # (each name its own Decl)
            decls[key] = Decl(decl.shape, decl.modifiers)
    return Shapes(decls)


_OTHER_NAME = re.compile(r"^[A-Za-zΑ-Ωα-ω][A-Za-z0-9_]*$")
# `name:` at the start of a declaration, the name as _NAME_RE reads it
_PART = re.compile(r"\s*([A-Za-zΑ-Ωα-ωϑϕϵℓ]+[0-9]*(?:_[A-Za-z0-9]+)?)\s*:")


def _check_name(name: str, spec: str, part: str) -> str:
    if not _NAME_RE.match(name) and not _OTHER_NAME.match(name):
        raise _shape_error(f"`{name}` is not a valid name", spec, part)
    return canonical_name(name)


# Unification --------------------------------------------------------------------------------

class Unifier:
    """Union–find over size symbols. Generated sizes (of undeclared names, of a bare I or 𝟙) may
    be bound to any size except 1; declared sizes are rigid: m and n are different sizes because
    the user said so. A generated size never takes a name in `reserved` (the names a formula
    and its declarations use), so a bare I next to eye(n) ⊗ A with A: n×k does not make up
    the size k and then rebind the user's k."""

    def __init__(self, strict: bool = False, reserved=()):
        self.binding: dict = {}
        self.generated: set = set()
        self.strict = strict
        self.reserved: set = set(reserved)
        self._count = 0
        self._pending: list = []

    def reserve(self, names) -> None:
        """Names sizes made up later must not take (call before inferring a formula)."""
        self.reserved.update(names)

    def reserve_later(self, names) -> None:
        """reserve(names()), called only when a size is first made up (a formula whose names
        are all declared never needs its names listed)."""
        self._pending.append(names)

    def fresh(self, hint: str) -> Dim:
        while self._pending:
            self.reserved.update(self._pending.pop(0)())
        self._count += 1
        name = hint
        if self._taken(name):
            name = f"{hint}{self._count}"
            while self._taken(name):
                self._count += 1
                name = f"{hint}{self._count}"
        s = symbol(name)
        self.generated.add(s)
        return s

    def _taken(self, name: str) -> bool:
        return name in self.reserved or symbol(name) in self.generated

    def find(self, d):
        if not self.binding:
            return d
        while d in self.binding:
            d = self.binding[d]
        if not (d.is_Symbol or d.is_Integer) and any(s in self.binding for s in d.free_symbols):
            d = d.subs({s: self.find(s) for s in d.free_symbols if s in self.binding})
        return d

    def unify(self, a, b) -> bool:
        if a is b:                      # (sizes are interned: the common case)
            return True
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if self.strict:
            return False            # sizes are monomials: equal only when identical
        if self._bind(a, b):
            return True
        # products of sizes: k·n = n·p exactly when k = p ((I ⊗ A)vec(X), A: m×n, X: n×p)
        return self._bind(*without_common_factor(a, b))

    def _bind(self, a, b) -> bool:
        for x, y in ((a, b), (b, a)):
            if x in self.generated and y != 1 and x not in y.free_symbols:
                self.binding[x] = y
                return True
        return False

    def resolve(self, shape):
        return tuple(self.find(d) for d in shape) if shape is not None else None


def names_in_use(node) -> set[str]:
    """The names a (parsed, not yet inferred) formula writes: its symbols and every size it
    spells out (eye(n), ones(m), K(m,n), a declared size used as a number). Made-up sizes
    avoid them (Unifier.reserve)."""
    out: set[str] = set()
    stack, seen = [node], set()
    sym = E.Sym
    while stack:
        n = stack.pop()
        t = type(n)
        if t is sym:
            out.add(n.name)
            shape = n.shape
        else:
            if id(n) in seen:
                continue
            seen.add(id(n))
            shape = n.shape
            stack.extend(n.children)
            attrs = _SIZE_FIELDS.get(t)
            if attrs is None:
                attrs = _SIZE_FIELDS[t] = tuple(a for a in ("rows", "cols", "dim")
                                                if hasattr(n, a))
            for a in attrs:
                d = getattr(n, a)
                if isinstance(d, Dim):
                    out.update(name for name, _ in d.factors)
        if isinstance(shape, tuple):
            for d in shape:
                if isinstance(d, Dim) and d.factors:
                    out.update(name for name, _ in d.factors)
    return out


_SIZE_FIELDS: dict = {}         # node type → its fields that hold a size (Commutation's rows…)


STRICT = Unifier(strict=True)


# Shape rules --------------------------------------------------------------------------------

SHAPE_RULES: dict[type, Callable] = {}


def shape_rule(*types):
    def register(fn):
        for t in types:
            SHAPE_RULES[t] = fn
        return fn
    return register


def _show(node) -> str:
    return show(node)


def _err(node, message, left=None, right=None, op=None, hint=None) -> ShapeError:
    return ShapeError(message, node=node, left_shape=left, right_shape=right, op=op,
                      span=getattr(node, "span", None), hint=hint)


def _elementwise_shape(node, shapes, u: Unifier, verb: str):
    """Shapes of an element-wise operation: non-scalar operands must agree; scalars broadcast."""
    result = None
    result_child = None
    for child, s in zip(node.children, shapes):
        if is_scalar(s):
            continue
        if result is None:
            result, result_child = s, child
            continue
        if not (u.unify(result[0], s[0]) and u.unify(result[1], s[1])):
            r = u.resolve(result)
            raise _err(node, f"cannot {verb} {_show(result_child)} ({fmt_shape(r)}) and "
                       f"{_show(child)} ({fmt_shape(u.resolve(s))}): shapes differ",
                       r, u.resolve(s), verb)
    return result if result is not None else SCALAR


@shape_rule(E.Add)
def add(node, shapes, u):
    return _elementwise_shape(node, shapes, u, "add")


@shape_rule(E.Hadamard)
def hadamard(node, shapes, u):
    return _elementwise_shape(node, shapes, u, "multiply element-wise")


@shape_rule(E.HadamardDiv)
def hadamard_div(node, shapes, u):
    return _elementwise_shape(node, shapes, u, "divide element-wise")


@shape_rule(E.MatMul)
def mat_mul(node, shapes, u):
    """Chain the non-scalar factors: (a×b)(b×c) = a×c; scalar factors scale."""
    result, prev = None, None
    for child, s in zip(node.children, shapes):
        if is_scalar(s):
            continue
        if result is None:
            result, prev = s, child
            continue
        if not u.unify(result[1], s[0]):
            left, right = u.resolve(result), u.resolve(s)
            hint = None
            if is_vector(left) and is_vector(right):
                hint = (f"for the inner product write {_show(prev)}ᵀ{_show(child)}, "
                        f"for the outer product {_show(prev)}{_show(child)}ᵀ")
            raise _err(node, f"cannot multiply {_show(prev)} ({fmt_shape_plain(left)}) by "
                       f"{_show(child)} ({fmt_shape_plain(right)}): inner sizes "
                       f"{fmt_dim(left[1])} and {fmt_dim(right[0])} differ",
                       left, right, "multiply", hint)
        result = (result[0], s[1])
        prev = node if len(node.children) == 2 else child
    return result if result is not None else SCALAR


@shape_rule(E.Dot)
def dot(node, shapes, u):
    a, b = shapes
    if is_scalar(a) or is_scalar(b):
        return b if is_scalar(a) else a
    if not (u.unify(a[1], ONE) and u.unify(b[1], ONE)):
        raise _err(node, f"the inner product · needs two vectors, got {_show(node.left)} "
                   f"({fmt_shape_plain(u.resolve(a))}) and {_show(node.right)} "
                   f"({fmt_shape_plain(u.resolve(b))})", a, b, "dot",
                   "for matrices use * (product) or .* (element-wise)")
    if not u.unify(a[0], b[0]):
        raise _err(node, f"cannot take the inner product of {_show(node.left)} "
                   f"({fmt_shape_plain(u.resolve(a))}) and {_show(node.right)} "
                   f"({fmt_shape_plain(u.resolve(b))}): lengths differ", a, b, "dot")
    return SCALAR


@shape_rule(E.Kron)
def kron(node, shapes, u):
    (a, b), (c, d) = shapes
    return (a * c, b * d)


@shape_rule(E.Transpose)
def transpose(node, shapes, u):
    (r, c), = shapes
    return (c, r)


def _square(node, shape, u, what: str):
    if not u.unify(shape[0], shape[1]):
        raise _err(node, f"{what} needs a square matrix, but {_show(node.arg)} is "
                   f"{fmt_shape_plain(u.resolve(shape))}", shape, None, what)
    return u.resolve(shape)


@shape_rule(E.Inverse)
def inverse(node, shapes, u):
    return _square(node, shapes[0], u, "the inverse")


@shape_rule(E.Power)
def power(node, shapes, u):
    s = shapes[0]
    if is_scalar(s):
        return SCALAR
    e = node.exponent
    if e != int(e):
        raise _err(node, f"a matrix power needs an integer exponent, not {e}", s, None, "power",
                   f"for an element-wise power write .^({e})")
    if abs(e) > MAX_MATRIX_POWER:
        raise _err(node, f"matrix powers are supported up to {MAX_MATRIX_POWER}, not {e}", s,
                   None, "power")
    if not u.unify(s[0], s[1]):
        hint = "for an element-wise power write .^" if s[1] == 1 or s[0] == 1 else None
        raise _err(node, f"the matrix power ^{e} needs a square matrix, but "
                   f"{_show(node.arg)} is {fmt_shape_plain(u.resolve(s))}", s, None, "power",
                   hint)
    return u.resolve(s)


@shape_rule(E.HadamardPower, E.Apply)
def same_shape(node, shapes, u):
    return shapes[0]


@shape_rule(E.Sum, E.Mean, E.Norm)
def reduce_all(node, shapes, u):
    return SCALAR


@shape_rule(E.Trace)
def trace(node, shapes, u):
    _square(node, shapes[0], u, "tr")
    return SCALAR


@shape_rule(E.Det)
def det(node, shapes, u):
    _square(node, shapes[0], u, "det")
    return SCALAR


@shape_rule(E.LogDet)
def logdet(node, shapes, u):
    _square(node, shapes[0], u, "logdet")
    return SCALAR


def _vector(node, shape, u, what):
    if not u.unify(shape[1], ONE):
        raise _err(node, f"{what} needs a column vector, but {_show(node.arg)} is "
                   f"{fmt_shape_plain(u.resolve(shape))}", shape, None, what)
    return u.resolve(shape)


@shape_rule(E.LogSumExp)
def logsumexp(node, shapes, u):
    _vector(node, shapes[0], u, "logsumexp")
    return SCALAR


@shape_rule(E.Softmax)
def softmax(node, shapes, u):
    return _vector(node, shapes[0], u, "softmax")


@shape_rule(E.DiagMat)
def diag_mat(node, shapes, u):
    n = _vector(node, shapes[0], u, "diag")[0]
    return (n, n)


@shape_rule(E.DiagVec)
def diag_vec(node, shapes, u):
    n = _square(node, shapes[0], u, "diag")[0]
    return (n, ONE)


@shape_rule(E.Vec)
def vec(node, shapes, u):
    (r, c), = shapes
    return (r * c, ONE)


@shape_rule(E.Tril)
@shape_rule(E.Triu)
def triangle(node, shapes, u):
    (r, c), = shapes
    return (r, c)


@shape_rule(E.Commutation)
def commutation(node, shapes, u):
    n = node.rows * node.cols
    return (n, n)


def min_size(a, b):
    """min(a, b) of two sizes: the size itself when they are equal, a number for numbers, else
    the size named min(a,b) (numeric work reads it from a and b: numeric/evaluate.py)."""
    if a == b:
        return a
    if a.is_Integer and b.is_Integer:
        return a if int(a) <= int(b) else b
    return symbol(f"min({a},{b})")


def _matfn_square(node, shape, u, what):
    if not u.unify(shape[0], shape[1]):
        raise _err(node, f"{what} needs a square matrix, but {_show(node.args[0])} is "
                   f"{fmt_shape_plain(u.resolve(shape))}", shape, None, what)
    return u.resolve(shape)


@shape_rule(E.MatFn)
def matfn(node, shapes, u):
    """Shapes of the matrix functions (core/functions.py MATRIX_FUNCTIONS, by kind)."""
    from .matrix_functions import MATRIX_FUNCTIONS
    kind = MATRIX_FUNCTIONS[node.fn].kind
    what = "X^p" if node.fn == "powm" else node.fn
    s = shapes[0]
    if kind in ("square", "eigvals", "scalar_sq", "vec_sq", "frechet", "kron"):
        n = _matfn_square(node, s, u, what)[0]
        for child, t in zip(node.args[1:], shapes[1:]):
            if not (u.unify(t[0], n) and u.unify(t[1], n)):
                raise _err(node, f"{what} needs a direction of the size of "
                           f"{_show(node.args[0])} ({fmt_shape_plain((n, n))}), but "
                           f"{_show(child)} is {fmt_shape_plain(u.resolve(t))}",
                           (n, n), u.resolve(t), what)
        return {"eigvals": (n, ONE), "vec_sq": (n, ONE), "scalar_sq": SCALAR,
                "kron": (n * n, n * n)}.get(kind, (n, n))
    if kind == "solve":
        n = _matfn_square(node, s, u, "solve")[0]
        b = shapes[1]
        if not u.unify(b[0], n):
            raise _err(node, f"cannot solve with {_show(node.args[0])} "
                       f"({fmt_shape_plain(u.resolve(s))}) for {_show(node.args[1])} "
                       f"({fmt_shape_plain(u.resolve(b))}): sizes {fmt_dim(u.find(n))} and "
                       f"{fmt_dim(u.find(b[0]))} differ", u.resolve(s), u.resolve(b), "solve")
        return u.resolve(b)
    r, c = u.resolve(s)
    k = min_size(r, c)
    return {"pinv": (c, r), "svdvals": (k, ONE), "svd_U": (r, k), "svd_V": (c, k), "svd_kk": (k, k),
            "svd_u1": (r, ONE), "svd_v1": (c, ONE), "scalar_any": SCALAR}[kind]


def check_matfn(node, decls, u) -> None:
    """Preconditions a formula can show: a function of a symmetric matrix (eigenvalues,
    Cholesky) needs an argument that is symmetric by declaration or by structure."""
    from .matrix_functions import MATRIX_FUNCTIONS, fill
    spec = MATRIX_FUNCTIONS[node.fn]
    arg = node.args[0]
    if spec.symmetric_arg and not provably_symmetric(_resolved(arg, u), decls):
        name = _show(arg)
        example = f"{name}: n×n symmetric" if type(arg) is E.Sym else "S: n×n symmetric"
        raise _err(node, f"{fill(spec.unicode, [name])} needs a symmetric matrix, and "
                   f"{name} is not symmetric by its declaration or its form", None, None,
                   node.fn, f"declare it (\"{example}\", or spd), or write a symmetric form "
                   "such as (A + Aᵀ)/2 or AᵀA")


def _resolved(node, u):
    """node with every shape resolved (the structural test compares shapes)."""
    kids = [_resolved(c, u) for c in node.children]
    if kids:
        node = E.with_children(node, kids)
    return node if node.shape is None else replace(node, shape=u.resolve(node.shape))


def provably_symmetric(node, decls) -> bool:
    """Whether node equals its transpose by its structure: names declared symmetric (spd,
    diagonal), I, diag(v), XᵀX and XXᵀ, XᵀSX with S symmetric, and sums, scalar multiples,
    inverses, powers and primary matrix functions of those."""
    t = type(node)
    if t is E.Sym:
        return bool(decls.modifiers(node.name) & {"symmetric", "spd", "diagonal"}) or \
            is_scalar(node.shape)
    if t in (E.Identity, E.DiagMat, E.Num, E.Size, E.Zero):
        return True
    if t is E.Ones:
        return node.shape[0] == node.shape[1]
    if t is E.Hadamard:
        return all(provably_symmetric(a, decls) for a in node.args)
    if t is E.Add:                       # symmetric terms, and the others in pairs A + Aᵀ
        rest = [a for a in node.args if not provably_symmetric(a, decls)]
        while rest:
            a = rest.pop()
            partner = next((b for b in rest if _transposed(a, b)), None)
            if partner is None:
                return False
            rest.remove(partner)
        return True
    if t in (E.Inverse, E.Power, E.Transpose):
        return provably_symmetric(node.arg, decls)
    if t is E.MatFn:
        return node.fn in ("expm", "logm", "sqrtm", "powm", "eigres_max", "eigres_min") and \
            provably_symmetric(node.args[0], decls)
    if t is E.MatMul:
        factors = _flat_product(node)
        chain = [a for a in factors if not is_scalar(a.shape)]
        if not all(provably_symmetric(a, decls) for a in factors if is_scalar(a.shape)):
            return False
        if len(chain) == 1:
            return provably_symmetric(chain[0], decls)
        return _palindrome(chain, decls)
    return False


def _flat_product(node) -> list:
    if type(node) is E.MatMul:
        return [f for a in node.args for f in _flat_product(a)]
    return [node]


def _transposed(a, b) -> bool:
    """Whether b is aᵀ by structure."""
    return (type(b) is E.Transpose and b.arg == a) or (type(a) is E.Transpose and a.arg == b)


def _palindrome(chain, decls) -> bool:
    """A₁A₂…Aₖ with Aₖ₋ᵢ = Aᵢᵀ and a symmetric middle factor: XᵀX, XᵀSX, XSXᵀ."""
    i, j = 0, len(chain) - 1
    while i < j:
        if not _transposed(chain[i], chain[j]):
            return False
        i, j = i + 1, j - 1
    return i > j or provably_symmetric(chain[i], decls)


@shape_rule(E.Num, E.Size)
def scalar_leaf(node, shapes, u):
    return SCALAR


@shape_rule(E.Sym, E.Identity, E.Zero, E.Ones)
def declared_leaf(node, shapes, u):
    return node.shape


def shape_of(node, child_shapes, u: Unifier = STRICT):
    """The shape of node given its children's shapes (raises ShapeError on a mismatch)."""
    return SHAPE_RULES[type(node)](node, child_shapes, u)
