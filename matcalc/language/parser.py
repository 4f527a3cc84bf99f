"""Text → expression tree with a shape on every node.

Owns the Lark parser (built once from grammar/matcalc.lark), the builder that turns each rule
of the grammar into expr nodes (called at every reduction by the LALR driver over Lark's tables,
language/lalr.py, or over Lark's own parse tree where the driver leaves a text to Lark), the
name rule (splitting `Xθ` into X·θ using the declared names), shape inference by unification,
and the translation of Lark's errors into ParseError. It does not simplify or differentiate.
"""
from __future__ import annotations

import difflib
import re
import threading
from dataclasses import replace
from fractions import Fraction
from importlib import resources  # noqa: F401  (tests read the grammar through it)

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..core import expr as E
from ..core.errors import MatcalcError, ParseError, ShapeError, Span, UnsupportedError, show
from ..core.functions import ALIASES
from ..core.matrix_functions import MATRIX_ALIASES, MATRIX_FUNCTIONS
from .lalr import FAILED, Driver, Tok
from .latex_in import looks_like_latex, read_e_powers
from ..core.dims import Dim
from ..core.limits import check_input, deep
from ..core.shapes import (GREEK, ONE, SCALAR, STRICT, Decl, Shapes, Unifier, canonical_name, dim,
                           fmt_shape_plain, is_scalar, parse_shapes, SHAPE_RULES, check_matfn,
                           min_size, names_in_use)

# Calls that are not element-wise functions: name → (node builder, accepted argument counts).
REDUCTIONS = {"sum": E.Sum, "mean": E.Mean, "tr": E.Trace, "det": E.Det, "logdet": E.LogDet,
              "norm2": E.Norm, "logsumexp": E.LogSumExp, "softmax": E.Softmax, "diag": E.Diag,
              "inv": E.Inverse, "vec": E.Vec, "tril": E.Tril, "triu": E.Triu}
OTHER_CALLS = {"dot": 2, "kron": 2, "max": 2, "min": 2, "ones": (1, 2), "eye": 1,
               "zeros": (1, 2), "commutation": 2, "norm1": 1}
# matrix functions (core/functions.py); λ_max, σ_max, L_exp … are read by their own terminal
MATRIX_CALLS = {n for n in MATRIX_ALIASES if "_" not in n}
CALL_NAMES = set(ALIASES) | set(REDUCTIONS) | set(OTHER_CALLS) | MATRIX_CALLS
SUGGEST = {"trace": "tr", "inverse": "inv", "transpose": "^T", "logistic": "sigmoid",
           "norm": "norm2", "determinant": "det", "identity": "eye", "ln": "log",
           "heaviside": "step", "sgn": "sign", "exponential": "exp", "lse": "logsumexp"}
_FROM_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_LETTER = "A-Za-zΑ-Ωα-ωϑϕϵℓ"
_UNIT = re.compile(rf"[{_LETTER}][0-9]*")
_GREEK_BY_LEN = sorted(GREEK, key=len, reverse=True)

_PARSER: Lark | None = None
_PARSER_LOCK = threading.Lock()


def grammar_text() -> str:
    """The grammar, from the installed package data or, in a source checkout, grammar/."""
    from .parser_tables import grammar_text as read
    return read()


def lark_parser() -> Lark:
    """The parser, made once per process: from the tables shipped in the package when they
    were made from this grammar (matcalc/language/parser_tables.py), else built in memory. Nothing is
    read from or written to a cache directory another user could write to."""
    global _PARSER
    if _PARSER is None:
        with _PARSER_LOCK:
            if _PARSER is None:
                from . import parser_tables
                grammar = grammar_text()
                _PARSER = parser_tables.load(grammar) or parser_tables.build(grammar)
    return _PARSER


# The name rule --------------------------------------------------------------------------------

def split_name(text: str, start: int, declared: set[str]) -> list[tuple[str, Span]]:
    """Split a run of letters into names: declared names and spelled-out Greek stay whole,
    single letters (with digits and an optional _subscript) are names, and anything else is a
    product of those (`Xθ` → X·θ, `Ax` → A·x, `Xtrain` → X·t·r·a·i·n unless declared)."""
    if len(text) == 1:                  # one letter: itself (what the rest comes to)
        return [(text, Span(start, start + 1))]
    whole = canonical_name(text.replace("{", "").replace("}", ""))
    if whole in declared or text in declared or whole in CALL_NAMES:
        return [(whole, Span(start, start + len(text)))]
    joined = re.sub(r"^([^\W\d_]+)_(\d+)$", r"\1\2", whole)     # W_1 is W1 if only W1 is declared
    if joined != whole and joined in declared:
        return [(joined, Span(start, start + len(text)))]
    apart = re.sub(r"^([^\W\d_])(\d+)$", r"\1_\2", whole)      # and W1 is W_1 if only W_1 is
    if apart != whole and apart in declared:
        return [(apart, Span(start, start + len(text)))]
    body, sub = (text.split("_", 1) + [""])[:2] if "_" in text else (text, "")
    body = body.replace("{", "")
    sub = sub.strip("{}")
    units, i = [], 0
    long_declared = sorted((d for d in declared if len(d) > 1), key=len, reverse=True)
    while i < len(body):
        match = next((d for d in long_declared if body.startswith(d, i)), None)
        if match is None:
            g = next((g for g in _GREEK_BY_LEN if body.startswith(g, i)), None)
            if g is not None:
                m = re.match(r"[0-9]*", body[i + len(g):])
                match = body[i:i + len(g) + m.end()]
        if match is None:
            unit = _UNIT.match(body, i)
            if unit is None:            # digits after a declared name of several letters
                name, at = units[-1]
                digits = re.match(r"[0-9]*", body[i:]).group(0) or body[i]
                raise ParseError(
                    f"`{name}{digits}` reads as the declared name {name} followed by "
                    f"{digits}: declare {name}{digits} to use it as a name of its own, or "
                    f"write {name}*{digits} for a product",
                    span=Span(start + at, start + i + len(digits)))
            match = unit.group(0)
        units.append([match, i])
        i += len(match)
    if sub:
        units[-1][0] += "_" + sub
    out = []
    for k, (u, pos) in enumerate(units):
        end = pos + len(u) if k + 1 < len(units) else len(text)
        out.append((canonical_name(u), Span(start + pos, start + end)))
    return out


# Lark tree → raw nodes -----------------------------------------------------------------------

def _span(meta) -> Span | None:
    if getattr(meta, "empty", True):
        return None
    return Span(meta.start_pos, meta.end_pos)


_TOKENS = (Token, Tok)


def _tspan(tok) -> Span:
    return Span(tok.start_pos, tok.end_pos)


def _number(tok) -> Fraction:
    """An exact number, refused beyond the range of a double (1e308): exact arithmetic on
    1e999999999 would never finish."""
    text = tok.value
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.replace(".", "").lstrip("0"))
    if (exponent and abs(int(exponent)) > 308) or digits > 308:
        raise ParseError(f"the number {text[:20]}{'…' if len(text) > 20 else ''} is out of range "
                         "(numbers are limited to about ±1e308, like floating point)",
                         span=_tspan(tok))
    return Fraction(text)


_MINUS_ONE = Fraction(-1)               # (one value for every −1: Fractions are immutable)

# Nodes made without their dataclass __init__: each field set by its slot's own setter (a frozen
# dataclass's __init__ goes through object.__setattr__ by name, field by field; the nodes are the
# same objects either way). Only for types whose fields are exactly these.
_new = object.__new__


def _setters(cls, *names):
    from dataclasses import fields
    assert tuple(f.name for f in fields(cls)) == names, (cls, names)
    return tuple(cls.__dict__[n].__set__ for n in names)


_SYM_SET = _setters(E.Sym, "name", "shape", "span")
_NUM_SET = _setters(E.Num, "value", "shape", "span")
_NARY_SET = {t: _setters(t, "args", "shape", "span") for t in (E.Add, E.MatMul, E.Hadamard)}
_MATMUL_SET = _NARY_SET[E.MatMul]
_ADD_SET_ARGS, _ADD_SET_SHAPE, _ADD_SET_SPAN = _NARY_SET[E.Add]
_Add, _MatMul, _Div, _Sym = E.Add, E.MatMul, E.Div, E.Sym
_TRANSPOSE_SET = _setters(E.Transpose, "arg", "shape", "span")


def _nary(cls, args, shape, span):
    """cls(args, shape, span) for Add, MatMul or Hadamard."""
    set_args, set_shape, set_span = _NARY_SET[cls]
    node = _new(cls)
    set_args(node, args)
    set_shape(node, shape)
    set_span(node, span)
    return node


def _matmul(args, shape, span):
    """E.MatMul(args, shape, span)."""
    set_args, set_shape, set_span = _MATMUL_SET
    node = _new(E.MatMul)
    set_args(node, args)
    set_shape(node, shape)
    set_span(node, span)
    return node


def _neg(node, span):
    set_value, set_shape, set_span = _NUM_SET
    minus = _new(E.Num)
    set_value(minus, _MINUS_ONE)
    set_shape(minus, None)
    set_span(minus, None)
    return _matmul((minus, node), None, span)


def _settled(method):
    """Mark a ToExpr rule that shapes its own value in shaped building (ToExpr._settle)."""
    method.settled = True
    return method


class ToExpr:
    """Builds raw nodes (shapes not yet known); names are split with the declared names.

    Made `shaped` (parse_with_shapes), it also writes each node's shape in as the driver
    reduces, bottom-up, for as long as that is all Inference would do: every name declared,
    no size made up (a bare I or 𝟙), only operators whose inferred node is the node itself
    with its shape rule's shape, and no shape error. Sizes are then never unified, only
    compared, so each shape is the one Inference finds, and the tree needs no inference
    pass. At the first thing beyond that the builder stops (`env` is None) and the tree is
    inferred as usual (Inference reads no operator's shape from the raw tree)."""

    def __init__(self, shapes: Shapes, shaped: bool = False):
        self.declared = set(shapes.decls) | shapes.dim_names
        self.decls = shapes.decls
        self.notes = shapes.notes
        # Nodes written in brackets (a bracketed a/b may be multiplied on): id → node, kept
        # alive so ids stay unique (a bracketed exponent, L_pow(X, E, (1/2)), is dropped once
        # read, and a later a/b could take its id)
        self.grouped: dict[int, E.Node] = {}
        self.text = ""                  # the marked text, to see the space in `AB (x)`
        # Products the parser made itself (a run of letters split into names, X(θ)): a postfix
        # operator after one applies to its last factor only, AAᵀ = A·Aᵀ, X(θ)ᵀ = X·θᵀ.
        self.call_products: dict[int, E.Node] = {}   # id → node, kept alive so ids stay unique
        # shaped: name → declared shape while every node so far has its final shape
        self.env: dict | None = {n: d.shape for n, d in shapes.decls.items()} if shaped \
            else None
        self.whole: dict[str, str] = {}  # a NAME token's text → its one name, once split
        # shaped: a NAME token's text → (its one name, its declared shape), once read
        self.known: dict[str, tuple] = {}
        # shaped: whether an element-wise node may broadcast a scalar (a note to look for)
        self.broadcasts = False
        # Sums still growing: id → (the sum, its operands so far). A sum of three or more
        # terms is made without its args, which are set once when the sum is read as a whole
        # (close: by the rules that take a sum, and at the end); copying the operands at each
        # `+` would be quadratic in the number of terms.
        self.open: dict[int, tuple] = {}

    # shaped building ----------------------------------------------------------------------

    def _settle(self, node) -> bool:
        """Write node's shape in (and its new operands' shapes) where it is the shape
        Inference would give it; else leave shaped building. Whether node has its shape."""
        if self.env is None:
            return False
        t = type(node)
        kind = _SETTLE.get(t)
        if kind is None:                 # (not a node: a postfix operator, an argument list)
            if isinstance(node, E.Node):
                self.env = None          # Div, Dot, Diag, a matrix function: inferred later
            return False
        shape = node.shape
        if shape is not None:
            if type(shape) is tuple:
                return True
            self.env = None              # ‖A‖₂ before its argument's shape is known
            return False
        if kind == _S_SYM:
            shape = self.env.get(node.name)
            if shape is None:            # undeclared, or a size used as a number
                self.env = None
                return False
            _set(node, "shape", shape)
            return True
        if kind == _S_NUM:
            _set(node, "shape", SCALAR)
            return True
        if kind == _S_LEAF:              # I or 𝟙 of a size not yet known
            self.env = None
            return False
        kids = node.children
        for k in kids:
            if type(k.shape) is not tuple and not self._settle(k):
                return self._unsettled(node)
        if kind == _S_POWER and (node.exponent < 0 or node.exponent.denominator != 1):
            self.env = None              # X⁻¹, X^½: Inference rewrites them
            return False
        try:
            shape = SHAPE_RULES[t](node, [k.shape for k in kids], STRICT)
        except MatcalcError:
            return self._unsettled(node)
        _set(node, "shape", shape)
        if kind == _S_ELEMENTWISE and not self.broadcasts and not is_scalar(shape) and \
                any(is_scalar(k.shape) for k in kids):
            self.broadcasts = True
        return True

    def close(self, node):
        """node, with its operands set if it is a sum still growing (see `open`)."""
        if self.open:
            entry = self.open.pop(id(node), None)
            if entry is not None:
                _ADD_SET_ARGS(node, tuple(entry[1]))
        return node

    def _unsettled(self, node) -> bool:
        """A node without a shape: fine for a product the parser made itself, which a
        postfix operator or a factor after it may still take apart (AAᵀ is A·Aᵀ); the
        bracket or the reduction that keeps it settles it again."""
        if self.call_products.get(id(node)) is not node:
            self.env = None
        return False

    def _chain(self, cls, left, right, span):
        """left op right: a + b + c as one node of three operands, not nested pairs (long
        nested sums cost the simplifier cubic time), but a bracketed left operand, (a + b) + c,
        stays a pair; and in shaped building the shape of a + b + c from that of a + b (the
        shape rule over every term of a long sum at each term would be quadratic). A sum of
        three or more terms is left open (see `open`)."""
        if not (type(left) is cls and left.span and span and left.span.start == span.start):
            if type(left) is _Add and self.open:
                self.close(left)
            set_args, set_shape, set_span = _NARY_SET[cls]
            node = _new(cls)
            set_args(node, (left, right))
            set_shape(node, None)
            set_span(node, span)
        elif cls is _Add:
            entry = self.open.pop(id(left), None)
            if entry is None:            # (left is a pair, or a sum read whole)
                terms = list(left.args)
            else:
                terms = entry[1]
            terms.append(right)
            node = _new(_Add)            # (its args: close)
            _ADD_SET_SHAPE(node, None)
            _ADD_SET_SPAN(node, span)
            self.open[id(node)] = (node, terms)
        else:
            node = _nary(cls, left.args + (right,), None, span)
        if self.env is None:
            return node
        if type(left.shape) is not tuple or \
                (type(right.shape) is not tuple and not self._settle(right)):
            self._settle(self.close(node))
        else:
            a, b = left.shape, right.shape
            # (is_scalar: False at once when the first size is a Dim other than ONE)
            sa = False if type(a[0]) is Dim and a[0] is not ONE else is_scalar(a)
            sb = False if type(b[0]) is Dim and b[0] is not ONE else is_scalar(b)
            if sb:
                shape = a
            elif sa:
                shape = b
            elif (a[0] is b[0] or a[0] == b[0]) and (a[1] is b[1] or a[1] == b[1]):
                shape = a               # (sizes are interned: the same object, mostly)
            else:
                self.env = None
                return node
            if sa and sb:
                shape = SCALAR           # (what the shape rule gives a sum of scalars)
            _set(node, "shape", shape)
            if not self.broadcasts and shape is not SCALAR and (sa or sb):
                self.broadcasts = True
        return node

    def _neg(self, node, span):
        """_neg, shaped when node is."""
        if self.env is not None and (type(node.shape) is tuple or self._settle(node)):
            set_value, set_shape, set_span = _NUM_SET
            minus = _new(E.Num)
            set_value(minus, _MINUS_ONE)
            set_shape(minus, SCALAR)
            set_span(minus, None)
            shape = node.shape
            return _matmul((minus, node), SCALAR if is_scalar(shape) else shape, span)
        return _neg(node, span)

    # rules (`settled`: the rule's value is shaped, where it can be, by the rule itself) ----

    @_settled
    def add(self, span, c):
        return self._chain(E.Add, c[0], c[1], span)

    @_settled
    def sub(self, span, c):
        return self._chain(E.Add, c[0], self._neg(c[2], c[2].span), span)

    @_settled
    def neg(self, span, c):
        return self._neg(c[1], span)

    @_settled
    def mat_mul(self, span, c):
        return self._product(c[0], c[1], span)

    @_settled
    def juxt(self, span, c):
        """A product without `*`. After an unbracketed division it is refused: `xᵀAx / xᵀx`
        means (xᵀAx)/(xᵀx) to a reader and ((xᵀAx)/xᵀ)·x left to right."""
        left = c[0]
        if type(left) is _Div and self.grouped.get(id(left)) is not left:
            raise ParseError("a product written without `*` after `/` is ambiguous: is the "
                             "whole product the denominator?", span=span,
                             hint="write (a)/(b c) for a ratio, or (a/b) c; `*` also works: "
                                  "a/b*c is (a/b)·c")
        right = c[1]
        if self.grouped.get(id(right)) is right and self.call_products.get(id(left)) is left \
                and type(left.args[1]) is E.Sym and left.args[1].name == "σ" \
                and "σ" not in self.declared:           # W₂σ(W₁x): σ before ( is the sigmoid
            sig = left.args[1]
            call = E.Apply("sigmoid", right, span=Span(sig.span.start, span.end)
                           if sig.span and span else None)
            return self._product(left.args[0], call, span)
        return self._product(left, right, span)

    def abs_bars(self, span, c):
        return E.Apply("abs", self.close(c[1]), span=span)

    def sqrt_sign(self, span, c):
        return E.Apply("sqrt", c[1], span=span)

    def _product(self, left, right, span):
        """left·right, left to right: 2·(AAᵀ) from the juxtaposition `2AAᵀ` is (2·A)·Aᵀ, the
        same tree as 2*A*A^T."""
        if self.call_products.get(id(right)) is right:
            first, last = right.args
            start = left.span.start if left.span and first.span else None
            inner = self._product(left, first, None if start is None else
                                  Span(start, first.span.end))
            node = _matmul((inner, last), None, span)
            if self.env is not None:
                self._settle(node)
            return node
        if self.env is not None:
            a, b = left.shape, right.shape
            if type(a) is tuple and type(b) is tuple:      # the shape rule of a product of two
                # (is_scalar: False at once when the first size is a Dim other than ONE)
                if False if type(a[0]) is Dim and a[0] is not ONE else is_scalar(a):
                    shape = SCALAR if is_scalar(b) else b
                elif False if type(b[0]) is Dim and b[0] is not ONE else is_scalar(b):
                    shape = a
                elif a[1] is b[0] or a[1] == b[0]:        # (sizes are interned: mostly the same)
                    shape = (a[0], b[1])
                else:
                    self.env = None      # (a shape error: Inference says which)
                    return _matmul((left, right), None, span)
                set_args, set_shape, set_span = _MATMUL_SET         # (_matmul, inline)
                node = _new(_MatMul)
                set_args(node, (left, right))
                set_shape(node, shape)
                set_span(node, span)
                return node
            node = _matmul((left, right), None, span)
            self._settle(node)
            return node
        return _matmul((left, right), None, span)

    @_settled
    def hadamard(self, span, c):
        return self._chain(E.Hadamard, c[0], c[2], span)

    def hadamard_div(self, span, c):
        return E.HadamardDiv(c[0], c[2], span=span)

    def div(self, span, c):
        return E.Div(c[0], c[1], span=span)

    def kron(self, span, c):
        return E.Kron(c[0], c[2], span=span)

    def dot(self, span, c):
        return E.Dot(c[0], c[2], span=span)

    def solve_op(self, span, c):
        """A \\ B = solve(A, B)."""
        return E.MatFn("solve", (c[0], c[2]), span=span)

    @_settled
    def group(self, span, c):
        """(AB)ᵀ: brackets make a product one factor again, so a postfix takes all of it."""
        node = self.close(c[0])
        self.call_products.pop(id(node), None)
        self.grouped[id(node)] = node
        if self.env is not None and type(node.shape) is not tuple:
            self._settle(node)
        return node

    @_settled
    def number(self, span, c):
        return E.Num(_number(c[0]), SCALAR if self.env is not None else None, _tspan(c[0]))

    def ones_vec(self, span, c):
        return E.Ones(None, span=_tspan(c[0]))

    def norm(self, span, c):
        sub = c[3] if len(c) > 3 and c[3] is not None else None
        self.close(c[1])
        node = E.Norm(c[1], span=span)
        if sub is not None and ("1" in sub.value or "₁" in sub.value):
            return E.Sum(E.Apply("abs", c[1], span=span), span=span)
        if sub is not None and "*" in sub.value:
            return E.MatFn("nuclear", (c[1],), span=span)
        if sub is not None and ("2" in sub.value or "₂" in sub.value):
            return E.Norm(c[1], shape="2", span=span)  # checked for matrices later
        return node

    # postfix operators: the grammar gives (operand, postop tree)
    def postfix(self, span, c, whole: bool = True):
        base, op = c
        if self.call_products.get(id(base)) is base:   # AAᵀ = A·Aᵀ, X(θ)ᵀ = X·θᵀ, cS⁻¹ = c·S⁻¹
            last = base.args[1]
            inner = self.postfix(span, [last, op], False)
            inner = replace(inner, span=Span(last.span.start, span.end)) \
                if last.span is not None and span is not None else inner
            node = E.MatMul((base.args[0], inner), span=span)
            self.call_products[id(node)] = node     # ABᵀ⁻¹ is A·(Bᵀ)⁻¹
            return node
        kind, args = op
        if kind == "transpose":
            set_arg, set_shape, set_span = _TRANSPOSE_SET
            node = _new(E.Transpose)
            set_arg(node, base)
            shape = base.shape
            # (shaped: the shape rule's (c, r), as _settle would write it)
            set_shape(node, (shape[1], shape[0]) if self.env is not None and
                      type(shape) is tuple else None)
            set_span(node, span)
            return node
        if kind == "inverse":
            return E.Inverse(base, span=span)
        if kind == "pseudo_inverse":
            return E.MatFn("pinv", (base,), span=span)
        if kind == "inverse_transpose":
            return E.Transpose(E.Inverse(base, span=span), span=span)
        if kind == "power":
            if whole and self.env is not None and args < 0 and args.denominator == 1:
                # X^-k: what Inference makes of it, whatever X's shape (X⁻¹, or (X⁻¹)^k;
                # not for the last factor of a product the parser made, whose span changes)
                inner = E.Inverse(base, span=span)
                return inner if args == -1 else E.Power(inner, -args, span=span)
            return E.Power(base, args, span=span)
        return E.HadamardPower(base, args, span=span)

    @_settled                            # (not a node)
    def transpose(self, span, c):
        return ("transpose", None)

    @_settled                            # (not a node)
    def inverse(self, span, c):
        return ("inverse", None)

    @_settled                            # (not a node)
    def inverse_transpose(self, span, c):
        return ("inverse_transpose", None)

    @_settled                            # (not a node)
    def pseudo_inverse(self, span, c):
        return ("pseudo_inverse", None)

    @_settled                            # (not a node)
    def power(self, span, c):
        tok = c[0]
        if isinstance(tok, _TOKENS) and tok.type == "VULGAR":
            import unicodedata
            return ("power", Fraction(unicodedata.numeric(tok.value)).limit_denominator(10))
        if isinstance(tok, _TOKENS) and tok.type == "SUP_NUM":
            return ("power", Fraction(int(tok.value.translate(_FROM_SUPERSCRIPT))))
        return ("power", tok)

    @_settled                            # (not a node)
    def hadamard_power(self, span, c):
        if isinstance(c[0], _TOKENS) and c[0].type == "HSUP_NUM":
            return ("hadamard_power", Fraction(int(c[0].value[1:].translate(_FROM_SUPERSCRIPT))))
        return ("hadamard_power", c[1])

    @_settled                            # (not a node)
    def ratio(self, span, c):
        if len(c) == 1:
            return c[0]
        den = _number(c[1])
        if den == 0:
            raise ParseError("an exponent cannot divide by zero", span=span)
        return c[0] / den

    def vulgar(self, span, c):
        import unicodedata
        return E.Num(Fraction(unicodedata.numeric(c[0].value)).limit_denominator(10),
                     span=_tspan(c[0]))

    @_settled                            # (not a node)
    def exponent(self, span, c):
        value = _number(c[-1])
        return -value if len(c) == 2 else value

    @_settled                            # (not a node)
    def postop(self, span, c):  # not reached: postop alternatives are all aliased
        return c[0]

    @_settled                            # (not a node)
    def args(self, span, c):
        return [self.close(a) for a in c]

    @_settled
    def name(self, span, c):
        tok = c[0]
        value = tok.value
        known = self.known.get(value)
        # (span: the token's, as the driver and _span give it; one token of one rule)
        if known is not None and self.env is not None:     # (what _leaf made of it before)
            set_name, set_shape, set_span = _SYM_SET
            leaf = _new(_Sym)
            set_name(leaf, known[0])
            set_shape(leaf, known[1])
            set_span(leaf, span)
            return leaf
        if span is None:                 # (not expected: the span of the token)
            span = Span(tok.start_pos, tok.end_pos)
        if len(value) == 1:              # (split_name's first case)
            return self._known(value, self._leaf(value, span))
        whole = self.whole.get(value)
        if whole is not None:            # read as one name before
            return self._known(value, self._leaf(whole, span))
        if value in self.declared:       # (split_name's second case, at once)
            whole = self.whole[value] = canonical_name(value.replace("{", "").replace("}", ""))
            return self._known(value, self._leaf(whole, span))
        units = split_name(value, tok.start_pos, self.declared)
        if len(units) == 1:              # (the name covers the whole token)
            self.whole[value] = units[0][0]
            return self._known(value, self._leaf(*units[0]))
        parts = [self._leaf(n, s) for n, s in units]
        if len(units) >= 3:
            word = tok.value
            self.notes.append(f"`{word}` is read as the product {'·'.join(n for n, _ in units)}; "
                              f"to use it as one name, declare it (e.g. \"{word}: "
                              f"{'m×n' if word[0].isupper() else 'n'}\")")
        node = parts[0]
        for p in parts[1:]:
            node = E.MatMul((node, p), span=Span(node.span.start, p.span.end))
            self.call_products[id(node)] = node
        if self.env is not None:
            self._settle(node)
        return node

    def _known(self, value, leaf):
        """leaf, noted as what the NAME token `value` is while building is shaped: a name of a
        declared shape (the next time, name makes it without asking _leaf)."""
        if type(leaf) is E.Sym and self.env is not None and type(leaf.shape) is tuple:
            self.known[value] = (leaf.name, leaf.shape)
        return leaf

    def _leaf(self, name, span):
        if name == "I":                 # always the identity; a declaration gives its size
            decl = self.decls.get("I")
            if decl is None:
                self.env = None          # (its size is made up: Inference)
                return E.Identity(None, span=span)
            if decl.shape[0] != decl.shape[1]:
                raise ParseError("I is the identity matrix, so its declared shape must be "
                                 "square", span=span, hint="name the matrix something else")
            return E.Identity(decl.shape, span=span)
        env = self.env
        if env is None:
            shape = None
        else:
            shape = env.get(name)
            if shape is None:            # undeclared, or a size used as a number
                self.env = None
        set_name, set_shape, set_span = _SYM_SET           # (E.Sym(name, shape, span))
        leaf = _new(_Sym)
        set_name(leaf, name)
        set_shape(leaf, shape)
        set_span(leaf, span)
        return leaf

    def call(self, span, c):
        tok, args = c[0], c[1] or []
        raw = tok.value
        name = canonical_name(raw)
        if name in MATRIX_ALIASES:
            return self._matrix_call(MATRIX_ALIASES[name], raw, args, span)
        if name not in CALL_NAMES:
            for a in args:                         # the parentheses make each one factor
                self.call_products.pop(id(a), None)
                self.grouped[id(a)] = a
            units = split_name(raw, tok.start_pos, self.declared)
            if len(units) == 1 and (units[0][0] in self.declared or len(_UNIT.findall(raw)) == 1):
                if len(args) != 1:
                    raise ParseError(f"`{raw}(…)` multiplies {raw} by a parenthesised "
                                     "expression, which cannot have commas", span=span)
                node = E.MatMul((self._leaf(units[0][0], units[0][1]), args[0]), span=span)
                self.call_products[id(node)] = node
                return node
            spaced = self.text[tok.end_pos:tok.end_pos + 1].isspace()
            if len(units) > 1 and len(args) == 1 and (spaced or all(
                    n in self.declared or not ("a" <= n[0] <= "z") for n, _ in units)):
                node = None                       # AI(x), Xθ(x): a run of names times (x)
                for n, sp in units:
                    leaf = self._leaf(n, sp)
                    if node is None:
                        node = leaf
                        continue
                    node = E.MatMul((node, leaf), span=Span(node.span.start, sp.end))
                    self.call_products[id(node)] = node
                node = E.MatMul((node, args[0]), span=span)
                self.call_products[id(node)] = node
                return node
            raise self._unknown(raw, tok)
        return self._call(name, raw, args, span, tok)

    def _matrix_call(self, fn, raw, args, span):
        """expm(X), solve(A, B), L_pow(X, E, p), …: a matrix function (core/functions.py)."""
        spec = MATRIX_FUNCTIONS[fn]
        powered = fn in ("L_pow", "L2_pow", "K_pow", "K2_pow")
        self._arity(raw, args, spec.arity + powered, span)
        exponent = None
        if powered:
            exponent = _number_value(args[-1])
            if exponent is None:
                raise ParseError(f"the last argument of `{raw}` is the exponent: a number",
                                 span=args[-1].span or span)
            args = args[:-1]
        return E.MatFn(fn, tuple(args), exponent, span=span)

    def commutation_k(self, span, c):
        """K(m,n), as the Unicode printer writes the commutation matrix."""
        return self._call("commutation", "K", c[1] or [], span, c[0])

    def compose(self, span, c):
        """`log det(X)`: a function name before a call applies to that call's value."""
        tok, inner = c
        return self._call(canonical_name(tok.value), tok.value, [inner], span, tok)

    def _unknown(self, raw, tok):
        guess = SUGGEST.get(raw) or next(iter(difflib.get_close_matches(raw, sorted(CALL_NAMES),
                                                                        n=1)), None)
        hint = f"did you mean `{guess}`?" if guess else None
        msg = f"unknown function `{raw}`"
        if guess:
            msg += f" — did you mean `{guess}`?"
        return ParseError(msg, span=_tspan(tok), hint=None if guess else
                          "functions: " + ", ".join(sorted(CALL_NAMES)))

    def _arity(self, name, args, allowed, span):
        allowed = (allowed,) if isinstance(allowed, int) else allowed
        if len(args) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ParseError(f"`{name}` takes {want} argument{'s' if allowed != (1,) else ''}, "
                             f"got {len(args)}", span=span)

    def _call(self, name, raw, args, span, tok):
        if name in ALIASES and name not in REDUCTIONS and name not in OTHER_CALLS:
            self._arity(raw, args, 1, span)
            return E.Apply(ALIASES[name], args[0], span=span)
        if name in REDUCTIONS:
            self._arity(raw, args, 1, span)
            return REDUCTIONS[name](args[0], span=span)
        self._arity(raw, args, OTHER_CALLS[name], span)
        if name == "dot":
            return E.Dot(args[0], args[1], span=span)
        if name == "kron":
            return E.Kron(args[0], args[1], span=span)
        if name in ("max", "min"):
            self.env = None              # (its tree shares an argument; Inference copies it)
            return _max_min(name, args, span)
        if name == "norm1":
            return E.Sum(E.Apply("abs", args[0], span=span), span=span)
        dims = [self._dim_arg(a, raw) for a in args]
        if name == "eye":
            return E.Identity((dims[0], dims[0]), span=span)
        if name == "commutation":
            n = dims[0] * dims[1]
            return E.Commutation(dims[0], dims[1], (n, n), span=span)
        shape = (dims[0], dims[1] if len(dims) > 1 else ONE)
        return (E.Ones if name == "ones" else E.Zero)(shape, span=span)

    def _dim_arg(self, node, fn):
        if isinstance(node, E.Num) and node.value.denominator == 1 and node.value > 0:
            return dim(int(node.value))
        if isinstance(node, E.Sym):
            return dim(node.name)
        if isinstance(node, E.MatMul):                       # n*n, 2*m: a product of sizes
            out = dim(1)
            for f in node.args:
                out = out * self._dim_arg(f, fn)
            return out
        pair = _min_of(node)
        if pair is not None:                                 # min(m, n): svdvals(A)'s length
            return min_size(*(self._dim_arg(a, fn) for a in pair))
        raise ParseError(f"the arguments of `{fn}` are sizes: a name like n or a positive integer",
                         span=node.span)


def _min_of(node):
    """(a, b) when node is min(a, b) as _max_min builds it, a − relu(a − b); else None."""
    if type(node) is not E.Add or len(node.args) != 2:
        return None
    a, neg = node.args
    if type(neg) is E.MatMul and len(neg.args) == 2 and type(neg.args[1]) is E.Apply and \
            neg.args[1].fn == "relu" and type(neg.args[1].arg) is E.Add:
        diff = neg.args[1].arg.args
        if len(diff) == 2 and diff[0] is a and type(diff[1]) is E.MatMul:
            return a, diff[1].args[1]
    return None


def _number_value(node):
    """The value of a number written with signs and a fraction bar (−1/2), else None."""
    if type(node) is E.Num:
        return node.value
    if type(node) in (E.MatMul, E.Div):
        parts = [_number_value(c) for c in node.children]
        if None in parts or (type(node) is E.Div and parts[1] == 0):
            return None
        if type(node) is E.Div:
            return parts[0] / parts[1]
        out = Fraction(1)
        for v in parts:
            out *= v
        return out
    return None


def _max_min(name, args, span):
    """Element-wise max and min: max(x, 0) = relu(x), max(a, b) = b + relu(a − b),
    min(a, b) = a − relu(a − b) (a scalar argument is compared with every entry)."""
    a, b = args
    zero = [i for i, v in enumerate(args) if isinstance(v, E.Num) and v.value == 0]
    if name == "max" and zero:
        return E.Apply("relu", args[1 - zero[0]], span=span)
    if name == "min" and zero:                         # min(x, 0) = −relu(−x)
        return _neg(E.Apply("relu", _neg(args[1 - zero[0]], span), span=span), span)
    diff = E.Add((a, _neg(b, b.span)), span=span)
    if name == "max":
        return E.Add((b, E.Apply("relu", diff, span=span)), span=span)
    return E.Add((a, _neg(E.Apply("relu", diff, span=span), span)), span=span)


# Shape inference ------------------------------------------------------------------------------

class Inference:
    """Bottom-up shapes with unification, then a pass that writes the final shapes in."""

    def __init__(self, shapes: Shapes):
        self.shapes = shapes
        dim_names = shapes.dim_names
        self.u = Unifier(reserved=dim_names | shapes.decls.keys())
        self.env: dict[str, tuple] = {n: d.shape for n, d in shapes.decls.items()}
        self.dim_names = dim_names
        self.survey = None              # (a tree, its element-wise nodes): see _free_names
        # what infer made, for _free_names when finish keeps the tree as it is (`root`): each
        # Sym, I, 𝟙 and 0, and each element-wise node, children before parents
        self.leaves: list = []
        self.elementwise: list = []
        self.root = None

    def sym_shape(self, name: str):
        if name not in self.env:
            first = name[0]
            if first.isupper():
                self.env[name] = (self.u.fresh(f"m_{name}"), self.u.fresh(f"n_{name}"))
            else:
                self.env[name] = (self.u.fresh(f"n_{name}"), ONE)
        return self.env[name]

    def infer(self, node):
        t = type(node)
        plain = _PLAIN.get(t)
        if plain is not None:                   # the common operators: a copy with a shape
            new = _new(t)
            arity, others = plain
            if arity == 1:
                kid = self.infer(node.arg)
                _set(new, "arg", kid)
                shapes = [kid.shape]
            elif arity == 0:
                infer = self.infer
                kids = tuple([infer(c) for c in node.args])
                _set(new, "args", kids)
                shapes = [k.shape for k in kids]
            else:
                left, right = self.infer(node.left), self.infer(node.right)
                _set(new, "left", left)
                _set(new, "right", right)
                shapes = [left.shape, right.shape]
            for f in others:
                _set(new, f, getattr(node, f))
            _set(new, "shape", node.shape)      # (a ShapeError's node is whole, as a copy is)
            _set(new, "shape", SHAPE_RULES[t](new, shapes, self.u))
            if hasattr(new, "_h"):                # (a hash taken before the shape is stale)
                object.__delattr__(new, "_h")
            if t in _ELEMENTWISE:
                self.elementwise.append(new)
            return new
        if t is E.Sym:
            name = node.name
            shape = self.env.get(name)
            if shape is None:
                if name in self.dim_names:
                    return E.Size(dim(name), SCALAR, span=node.span)
                shape = self.sym_shape(name)
            new = _new(E.Sym)
            _set(new, "name", name)
            _set(new, "shape", shape)
            _set(new, "span", node.span)
            self.leaves.append(new)
            return new
        if t is E.Num:
            new = _new(E.Num)
            _set(new, "value", node.value)
            _set(new, "shape", SCALAR)
            _set(new, "span", node.span)
            return new
        if t is E.Identity and node.shape is None:
            k = self.u.fresh("k")
            node = E.evolve(node, shape=(k, k))
            self.leaves.append(node)
            return node
        if t is E.Ones and node.shape is None:
            node = E.evolve(node, shape=(self.u.fresh("k"), ONE))
            self.leaves.append(node)
            return node
        if t in (E.Identity, E.Ones, E.Zero, E.Commutation):
            if t is not E.Commutation:
                self.leaves.append(node)
            return node
        kids = [self.infer(c) for c in node.children]
        node = E.with_children(node, kids)
        if t is E.Div:
            return self._div(node)
        if t is E.Diag:
            s = self.u.resolve(kids[0].shape)
            cls = E.DiagMat if s[1] == 1 else E.DiagVec
            node = cls(kids[0], span=node.span)
        if t is E.Power and node.exponent < 0 and not self._real_matrix_power(node, kids[0]):
            inner = E.Inverse(kids[0], span=node.span)
            inner = E.evolve(inner, shape=SHAPE_RULES[E.Inverse](inner, [kids[0].shape], self.u))
            node = inner if node.exponent == -1 else E.Power(inner, -node.exponent, span=node.span)
            if node is inner:
                return node
            kids = [inner]
        if t is E.Norm and node.shape == "2":
            node = E.Norm(kids[0], span=node.span)
            s = self.u.resolve(kids[0].shape)
            if s[1] != 1 and s[0] != 1:                # ‖A‖₂ of a matrix: the spectral norm
                node = E.MatFn("sigma_max", (kids[0],), span=node.span)
        if t is E.Power and node.exponent.denominator != 1:
            node = self._real_power(node, kids[0])
        if type(node) is E.MatFn:
            shape = SHAPE_RULES[E.MatFn](node, [k.shape for k in node.args], self.u)
            check_matfn(node, self.shapes, self.u)
            return replace(node, shape=shape)
        shape = SHAPE_RULES[type(node)](node, [k.shape for k in kids], self.u)
        if t is E.Dot:
            a, b = kids
            if is_scalar(self.u.resolve(a.shape)) or is_scalar(self.u.resolve(b.shape)):
                return E.MatMul((a, b), shape=shape, span=node.span)
            at = E.Transpose(a, shape=(a.shape[1], a.shape[0]), span=a.span)
            return E.MatMul((at, b), shape=shape, span=node.span)
        object.__setattr__(node, "shape", shape)     # node is this pass's own fresh copy
        if hasattr(node, "_h"):                       # (a hash taken before the shape is stale)
            object.__delattr__(node, "_h")
        return node

    def finish(self, node):
        """Write the unified shapes into every node (a node whose children and shape are
        already final is kept as it is: all of them when no size was bound)."""
        return self._finish(node) if self.u.binding else node

    def _real_matrix_power(self, node, kid) -> bool:
        """X^p of a square matrix with p not an integer (X^(-1/2) stays one power)."""
        s = self.u.resolve(kid.shape)
        return node.exponent.denominator != 1 and not (is_scalar(s) or s[0] == 1 or s[1] == 1)

    def _real_power(self, node, kid):
        """X^p with p not an integer, for a square matrix X: sqrtm(X) for p = ½, else the real
        power (an spd X); for a scalar, or anything not square, the power stays a power."""
        s = self.u.resolve(kid.shape)
        if is_scalar(s) or s[0] == 1 or s[1] == 1 or not self.u.unify(s[0], s[1]):
            return node
        if node.exponent == Fraction(1, 2):
            return E.MatFn("sqrtm", (kid,), span=node.span)
        return E.MatFn("powm", (kid,), node.exponent, span=node.span)

    def _div(self, node):
        a, b = node.left, node.right
        bs = self.u.resolve(b.shape)
        if not is_scalar(bs):
            raise ShapeError(f"cannot divide by {show(b)} ({fmt_shape_plain(bs)}): `/` "
                             "divides by a scalar", node=node, left_shape=a.shape,
                             right_shape=bs, op="divide", span=node.span,
                             hint="for element-wise division write ./")
        inv = E.Inverse(b, shape=SCALAR, span=b.span)
        return E.MatMul((a, inv), shape=a.shape, span=node.span)

    def _finish(self, node):
        kids = [self._finish(c) for c in node.children]
        shape = self.u.resolve(node.shape)
        if all(a is b for a, b in zip(kids, node.children)) and shape is not None and \
                node.shape is not None and len(shape) == len(node.shape) and \
                all(a is b for a, b in zip(shape, node.shape)):
            return node
        if kids:
            node = E.with_children(node, kids)
        return E.evolve(node, shape=shape)


_set = object.__setattr__


def _plain_types() -> dict:
    """Operator type → (0: args, 1: arg, 2: left and right; its other fields), for the types
    whose shape is their shape rule's and nothing else (Inference.infer)."""
    from dataclasses import fields
    special = {E.Div, E.Diag, E.Power, E.Norm, E.MatFn, E.Dot}
    out = {}
    for t in vars(E).values():
        if not (isinstance(t, type) and issubclass(t, E.Node)) or t in special or \
                t not in SHAPE_RULES or t in E.LEAVES:
            continue
        names = tuple(f.name for f in fields(t))
        if "args" in names:
            arity, kids = 0, ("args",)
        elif "arg" in names:
            arity, kids = 1, ("arg",)
        elif "left" in names and "right" in names:
            arity, kids = 2, ("left", "right")
        else:
            continue
        out[t] = (arity, tuple(f for f in names if f not in kids and f != "shape"))
    return out


_PLAIN = _plain_types()



# Norm bars ----------------------------------------------------------------------------------

CLOSE_BAR = "\uE000"
_OPERAND_END = re.compile(rf"[{_LETTER}0-9)}}\]'ᵀ⊤⁺†⁰¹²³⁴⁵⁶⁷⁸⁹𝟙_{CLOSE_BAR}\uE002]")


ABS_OPEN, ABS_CLOSE = "\uE001", "\uE002"
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SUBSCRIPT_DIGIT = re.compile("[₀-₉]")


def mark_abs_bars(text: str) -> str:
    """Single bars |x| (not ||) as absolute values: a bar right after an operand closes the
    innermost open one, any other bar opens one; the same length, so carets stay in place."""
    if "|" not in text.replace("||", ""):
        return text
    out, depth, i, prev = [], 0, 0, ""
    while i < len(text):
        if text.startswith("||", i):
            out.append("||")
            prev = "|"
            i += 2
            continue
        if text[i] == "|":
            if depth and _OPERAND_END.match(prev or " "):
                out.append(ABS_CLOSE)
                depth -= 1
                prev = ")"
            else:
                out.append(ABS_OPEN)
                depth += 1
                prev = "("
            i += 1
            continue
        if not text[i].isspace():
            prev = text[i]
        out.append(text[i])
        i += 1
    return "".join(out)


def subscript_digits(text: str) -> str:
    """W₁ is W1 (a name with digits); ‖x‖₁ and ‖x‖₂ keep their subscripts."""
    if _SUBSCRIPT_DIGIT.search(text) is None:
        return text
    out = []
    for i, ch in enumerate(text):
        if "₀" <= ch <= "₉" and i and (out[-1].isalnum() and out[-1] not in "‖|"):
            out.append(ch.translate(_SUBSCRIPT_DIGITS))
        else:
            out.append(ch)
    return "".join(out)


def mark_closing_bars(text: str) -> str:
    """The same text with each closing norm bar (‖ or ||) replaced by CLOSE_BAR (|| by
    CLOSE_BAR and a space): inside a norm, a bar right after an operand closes it; every other
    bar opens a norm. So ‖a‖‖b‖ is ‖a‖·‖b‖ and ‖x − ‖y‖‖ nests."""
    if "‖" not in text and "||" not in text:
        return text
    out, depth, i, prev = [], 0, 0, ""
    while i < len(text):
        bar = 2 if text.startswith("||", i) else 1 if text[i] == "‖" else 0
        if bar:
            if depth and _OPERAND_END.match(prev or " "):
                out.append(CLOSE_BAR + " " * (bar - 1))
                depth -= 1
                prev = CLOSE_BAR
            else:
                out.append(text[i:i + bar])
                depth += 1
                prev = "‖"
            i += bar
            continue
        if not text[i].isspace():
            prev = text[i]
        out.append(text[i])
        i += 1
    return "".join(out)


# Errors -----------------------------------------------------------------------------------------

_OPERATORS = ("+", "-", "−", "*", "@", "/", ".*", "./", "⊙", "∘", "⊘", "⊗", "·", ",")


def _prev_token(text: str, pos: int) -> tuple[str, int]:
    head = text[:pos].rstrip()
    for op in sorted(_OPERATORS + ("^", ".^", "(", "‖"), key=len, reverse=True):
        if head.endswith(op):
            return op, len(head) - len(op)
    return (head[-1:], len(head) - 1) if head else ("", 0)


def _unclosed(text: str, upto: int) -> int | None:
    stack = []
    for i, ch in enumerate(text[:upto]):
        if ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


_WORD_BEFORE = re.compile(rf"(?:^|(?<=[^{_LETTER}_]))([{_LETTER}][{_LETTER}0-9]*)\s*$")


def _bare_function(text: str, pos: int) -> ParseError | None:
    """A function name with no call after it (`log`, `log + x`, `log x`): never a variable."""
    m = _WORD_BEFORE.search(text[:pos])
    if m is None or m.group(1) not in CALL_NAMES or m.group(1) == "σ":
        return None
    head = text[:m.start(1)].rstrip("0123456789")
    if len(head) < m.start(1) and head and re.match(f"[{_LETTER}_]", head[-1]):
        return None                                    # W1log is a name run, not a function
    word = m.group(1)
    return ParseError(f"`{word}` is a function: write {word}(…) with its argument in "
                      "parentheses", span=Span(m.start(1), m.end(1)),
                      hint=f"a function name may stand before another call: {word} det(X) is "
                           f"{word}(det(X))")


class SymbolicExponentError(UnsupportedError, ParseError):
    """x^a with a name for the exponent: the language has numeric exponents only (both
    something not supported and a spelling the grammar refuses)."""


def translate(err: UnexpectedInput, text: str) -> ParseError:
    """Turn Lark's exception into a ParseError a user can act on."""
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = text[pos]
        prev, ppos = _prev_token(text, pos)
        if prev in ("^", ".^"):
            want = "T, -1, -T or a number" if prev == "^" else "a number"
            return ParseError(f"`{prev}` needs an exponent: {want}",
                              span=Span(ppos, ppos + len(prev)))
        if ch == "|" :
            return ParseError("a single `|` is not an operator; write ‖x‖ or ||x|| for a norm, "
                              "abs(x) for absolute values", span=Span(pos, pos + 1))
        return ParseError(f"unexpected character `{ch}`", span=Span(pos, pos + 1))
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    if tok.type in ("NAME", "CALLNAME", "ONE_VEC") and re.search(
            r"\^\s*[({]?\s*[-−]?\s*$", text[:tok.start_pos]):
        return SymbolicExponentError("a power with a symbolic exponent (x^a, x .^ p) is not supported: "
                                "exponents are numbers, like x^2, x^(1/2) or x .^ -1",
                                span=Span(tok.start_pos, tok.end_pos),
                                hint="for the matrix exponential of X write expm(X), for "
                                     "e to each entry exp(X)" if re.search(
                                         r"(?<![A-Za-z])e\s*\^\s*[({]?\s*$", text[:tok.start_pos])
                                else "for positive x write exp(a log(x)) for a scalar x, or "
                                     "exp(p .* log(x)) element-wise")
    at_end = tok.type == "$END"
    pos = len(text.rstrip()) if at_end else tok.start_pos
    bare = _bare_function(text, pos)
    if bare is not None:
        return bare
    prev, ppos = _prev_token(text, pos)
    value = "" if at_end else str(tok).replace(CLOSE_BAR, "‖").replace(
        ABS_OPEN, "|").replace(ABS_CLOSE, "|")
    singles = [m.start() for m in re.finditer(r"(?<!\|)\|(?!\|)", text)]
    if at_end and len(singles) % 2:
        return ParseError("missing closing `|` of an absolute value |x|",
                          span=Span(singles[-1], singles[-1] + 1),
                          hint="abs(x) also works")
    if value == "|" or (value == "||" and singles):
        return ParseError("cannot tell absolute-value bars from a norm here",
                          span=Span(pos, pos + len(value)),
                          hint="write abs(x) for absolute values and ‖x‖ for norms")
    pspan = Span(ppos, ppos + len(prev))
    if prev in ("^", ".^"):
        want = "T, -1, -T or a number" if prev == "^" else "a number"
        return ParseError(f"`{prev}` needs an exponent: {want}"
                          + ("" if at_end else f", not `{value}`"), span=pspan,
                          hint="for an element-wise power of a vector write x .^ 2"
                          if prev == "^" else None)
    if at_end or value in (")", ","):
        opened = _unclosed(text, pos)
        if at_end and opened is not None:
            return ParseError("missing closing parenthesis", span=Span(opened, opened + 1))
        if at_end and text.count("‖") % 2:
            i = text.rfind("‖")
            return ParseError("missing closing ‖ of a norm", span=Span(i, i + 1))
        if value == ")" and opened is None:
            return ParseError("unmatched closing parenthesis", span=Span(pos, pos + 1))
        if prev in _OPERATORS:
            return ParseError(f"operator `{prev}` needs a right operand", span=pspan)
        if prev == "(":
            return ParseError("empty parentheses", span=Span(ppos, pos + 1))
        if at_end:
            return ParseError("unexpected end of input", span=Span(pos, pos + 1))
        if value == ",":
            return ParseError("unexpected `,`: commas separate the arguments of a function",
                              span=Span(pos, pos + 1))
    if value in _OPERATORS:
        if prev in _OPERATORS or prev in ("(", "") or ppos < 0:
            return ParseError(f"operator `{value}` needs a left operand", span=Span(pos, pos + len(value)))
    if tok.type == "NUMBER":
        return ParseError(f"a number cannot follow an operand directly; write `*` before `{value}`",
                          span=Span(pos, pos + len(value)))
    if tok.type in ("NORM_BAR", "DBAR"):
        return ParseError("write `*` between a factor and a norm", span=Span(pos, pos + len(value)))
    return ParseError(f"unexpected `{value}`", span=Span(pos, pos + max(1, len(value))))


# Entry points -------------------------------------------------------------------------------------

def parse_raw(text: str, shapes: Shapes, translated: bool = False) -> E.Node:
    return _parse_raw(text, shapes, translated)[0]


def _parse_raw(text: str, shapes: Shapes, translated: bool = False, shaped: bool = False):
    """(the raw tree, the builder when it was shaped all through — then every node has its
    final shape — else None)."""
    if not isinstance(text, str):
        raise TypeError("the expression must be a string")
    if not text.strip():
        raise ParseError("empty expression", span=Span(0, 1), text=text or " ")
    check_input(text)
    if looks_like_latex(text) and not translated:        # translated once: I_{…} stays
        from .latex_in import remap, source_tree, translate as from_latex
        plain, positions = from_latex(text)
        try:
            raw = parse_raw(plain, shapes, translated=True)
        except MatcalcError as err:
            raise remap(err, positions, text) from None
        return source_tree(raw, text, positions), None
    try:
        marked = mark_abs_bars(mark_closing_bars(subscript_digits(text)))
        if not shaped:
            return read(marked, shapes), None
        builder = ToExpr(shapes, shaped=True)
        node = read(marked, shapes, builder)
        return node, (builder if builder.env is not None and type(node.shape) is tuple
                      else None)
    except UnexpectedInput as err:
        raise translate(err, text).with_text(text) from None
    except MatcalcError as err:
        raise err.with_text(text) from None


def read(marked: str, shapes: Shapes, builder: ToExpr | None = None) -> E.Node:
    """The raw tree of the marked text: read by the LALR driver over Lark's tables
    (language/lalr.py), or by Lark itself where the driver gives up (Lark then raises its
    error). A builder error counts only when the whole text is well formed, as when Lark's
    tree is built before any builder method runs. A shaped builder (ToExpr) given is used
    by the driver; where Lark reads the text it is left unshaped (env None)."""
    driver = _driver()
    if driver is not None:
        noted = len(shapes.notes)
        if builder is None:
            builder = ToExpr(shapes)
        builder.text = marked
        try:
            value = driver.parse(marked, builder,
                                 None if builder.env is None else builder._settle)
        except MatcalcError:
            lark_parser().parse(marked)          # a syntax error anywhere comes first
            raise
        except Exception:                        # anything else: as Lark's way has it
            value = FAILED
        if value is not FAILED:
            return builder.close(value)
        del shapes.notes[noted:]
    if builder is not None:
        builder.env = None
    tree = lark_parser().parse(marked)
    builder = ToExpr(shapes)
    builder.text = marked
    return build_tree(builder, tree)


_DRIVER: list = []                  # [the driver, or None where Lark's tables do not suit it]


def _driver():
    if not _DRIVER:
        parser = lark_parser()
        with _PARSER_LOCK:
            if not _DRIVER:
                try:
                    _DRIVER.append(Driver(parser, _RULE_METHODS))
                except Exception:          # another Lark's internals: Lark reads everything
                    _DRIVER.append(None)
    return _DRIVER[0]


def build_tree(builder: ToExpr, tree):
    """Lark's tree → raw nodes through the builder's methods, as a transformer would."""
    from lark import Tree
    methods = _RULE_METHODS

    def go(t):
        kids = [go(c) if type(c) is Tree else c for c in t.children]
        f = methods.get(t.data)
        return Tree(t.data, kids, t.meta) if f is None else f(builder, _span(t.meta), kids)

    return builder.close(go(tree))


# rule name → ToExpr's function for it
_RULE_METHODS: dict = {name: f for name, f in vars(ToExpr).items()
                       if not name.startswith("_") and callable(f)}


def _infer(raw, decls: Shapes, full: bool = False):
    inference = Inference(decls)
    inference.u.reserve_later(lambda: names_in_use(raw))
    inferred = inference.infer(raw)
    node = inference.finish(inferred)
    if node is inferred:
        inference.root = node
    return (node, inference) if full else node


def _undeclared_small(raw, decls: Shapes) -> list[str]:
    """Undeclared lower-case and Greek names, in order of appearance: the ones that may be
    scalars (a capital is a matrix)."""
    out, stack = [], [raw]
    while stack:
        n = stack.pop()
        if isinstance(n, E.Sym) and n.name not in decls.decls and n.name not in out \
                and n.name not in decls.dim_names and not n.name[0].isupper():
            out.append(n.name)
        stack.extend(reversed(n.children))
    return out


def _with_scalars(decls: Shapes, names) -> Shapes:
    return Shapes({**decls.decls, **{n: Decl(SCALAR) for n in names}}, list(decls.notes))


def _as_scalars(raw, decls: Shapes, err: ShapeError):
    """docs/language.md: an undeclared name whose only well-shaped reading is a scalar is a scalar
    (`tr((I + c A)^-1)`). Tries one name, then two, then all; more than one reading → the error."""
    from itertools import combinations
    names = _undeclared_small(raw, decls)
    sizes = [1, 2] + ([len(names)] if len(names) > 2 else [])
    for k in sizes:
        if k > len(names) or (k == 2 and len(names) > 8):
            continue
        found = []
        for group in combinations(names, k):
            trial = _with_scalars(decls, group)
            try:
                node, inference = _infer(raw, trial, full=True)
            except MatcalcError:
                continue
            if not _broadcasts_name(node, set(group)):
                found.append((node, trial, group, inference))
        if len(found) == 1:
            node, trial, group, inference = found[0]
            trial.notes.append(_scalar_note(*group))
            return node, trial, inference
        if found:
            options = " or ".join(", ".join(g) for _, _, g, _ in found)
            err.hint = f"declare which names are scalars ({options}: scalar)"
            raise err
    raise err


def _distinct_nodes(node):
    """Every node of the tree once (a shared subtree is visited once), without recursion."""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(n.children)


def _broadcasts_name(node, names: set) -> bool:
    """Whether one of `names`, as a scalar, would be broadcast to a vector or matrix: a reading
    in which an undeclared name is a scalar only to be broadcast is never taken (docs/language.md)."""
    for n in _distinct_nodes(node):
        if type(n) in _ELEMENTWISE and not is_scalar(n.shape):
            for a in n.children:
                b = _bare_name(a)
                if b is not None and b.name in names:
                    return True
    return False


def _scalar_note(*names: str) -> str:
    name = names[0]
    example = "m×n" if name[0].isupper() else "n"
    if len(names) > 1:
        listed = ", ".join(names)
        return (f"{listed} are taken as scalars (the only well-shaped reading); declare their "
                f"shapes to read them otherwise (e.g. \"{name}: {example}\")")
    kind = "matrix" if name[0].isupper() else "vector"
    return (f"{name} is taken as a scalar (the only well-shaped reading that does not scale or "
            f"broadcast an undeclared {kind} {name}); declare \"{name}: {example}\" to read it "
            "otherwise")


def _factors(node) -> list:
    if type(node) is E.MatMul:
        return [f for a in node.args for f in _factors(a)]
    return [node]


def _simple_scalar(node, decls: Shapes) -> bool:
    """A number, a size or a declared name: a scalar the user wrote as one."""
    if type(node) is E.MatMul and len(node.args) == 2 and type(node.args[0]) is E.Num:
        node = node.args[1]
    return type(node) in (E.Num, E.Size) or (type(node) is E.Sym and node.name in decls.decls)


def _bare_name(node):
    if type(node) is E.MatMul and len(node.args) == 2 and type(node.args[0]) is E.Num:
        node = node.args[1]
    return node if type(node) is E.Sym else None


def _free_names(node, decls: Shapes, inference) -> set[str]:
    """Undeclared names whose sizes occur nowhere else in the formula: nothing but the
    default reading makes them vectors or matrices."""
    if inference.root is node:           # what infer made: no tree walk
        leaves = list({id(n): n for n in inference.leaves}.values())
        # the walk below meets the nodes in pre-order, last child first: post-order reversed
        elementwise = inference.elementwise[::-1]
    else:
        leaves = []                                  # each Sym, I, 𝟙 and 0 once
        elementwise = []                             # (kept for _broadcast_notes)
        stack, seen = [node], set()
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            t = type(n)
            if t in _SIZE_OWNERS:
                leaves.append(n)
            else:
                if t in _ELEMENTWISE:
                    elementwise.append(n)
                stack.extend(n.children)
    inference.survey = (node, elementwise)
    occurrences: dict = {}
    for n in leaves:
        if type(n) is E.Sym:
            occurrences[n.name] = occurrences.get(n.name, 0) + 1
    candidates = [name for name, k in occurrences.items()
                  if k == 1 and name not in decls.decls]
    if candidates:
        dim_names = decls.dim_names
        candidates = [name for name in candidates if name not in dim_names]
    if not candidates:
        return set()
    free: dict = {}                                  # a size → its names, found once

    def names_of(shape) -> set:
        out = set()
        for d in shape:
            f = free.get(d)
            if f is None:
                f = free[d] = d.free_symbols
            out |= f
        return out

    owners: dict = {}
    shapes: dict = {}
    for n in leaves:
        key = n.name if type(n) is E.Sym else id(n)
        if key in occurrences:
            shapes[key] = n.shape
        for s in names_of(n.shape):
            owners.setdefault(s, set()).add(key)
    out = set()
    for name in candidates:
        syms = names_of(shapes[name])
        if syms and all(s in inference.u.generated and owners.get(s) == {name} for s in syms):
            out.add(name)
    return out


_SIZE_OWNERS = (E.Sym, E.Identity, E.Ones, E.Zero)


def _syms(node):
    stack, out, seen = [node], [], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if type(n) is E.Sym:
            out.append(n)
        stack.extend(n.children)
    return out


_ELEMENTWISE = (E.Add, E.Hadamard, E.HadamardDiv)

# what ToExpr._settle does with a node of each type (a type not listed leaves shaped building)
_S_SYM, _S_NUM, _S_LEAF, _S_POWER, _S_ELEMENTWISE, _S_OPERATOR = range(6)
_SETTLE: dict = {E.Sym: _S_SYM, E.Num: _S_NUM, E.Identity: _S_LEAF, E.Ones: _S_LEAF,
                 E.Zero: _S_LEAF, E.Commutation: _S_LEAF, E.Power: _S_POWER, E.Norm: _S_OPERATOR,
                 **{t: _S_ELEMENTWISE if t in _ELEMENTWISE else _S_OPERATOR for t in _PLAIN}}


def _scalar_suspects(node, decls: Shapes, inference) -> list[str]:
    """Undeclared names that the default reading makes vectors only for them to be scaled by a
    scalar (λθᵀθ, a·xᵀx, α‖w‖²) or to have a computed scalar broadcast to them (wᵀx + b):
    docs/language.md reads those as scalars."""
    free = _free_names(node, decls, inference)
    if not free:
        return []
    out: list[str] = []
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if type(n) is E.MatMul:
            fs = _factors(n)
            for i, f in enumerate(fs[:-1]):
                if type(f) is E.Sym and f.name in free and not f.name[0].isupper():
                    rest = [g for g in fs[i + 1:] if not is_scalar(g.shape)]
                    if any(type(g) is not E.Num for g in fs[i + 1:]) and (
                            not rest or (rest[0].shape[0] == 1 and rest[-1].shape[1] == 1)):
                        out.append(f.name)
                if type(f) is not E.Num:
                    break               # only a leading factor (after numbers) scales the rest
        elif type(n) in _ELEMENTWISE:
            scal = [a for a in n.children if is_scalar(a.shape)]
            if scal and not all(_simple_scalar(a, decls) for a in scal):
                for a in n.children:
                    b = _bare_name(a)
                    if b is not None and not is_scalar(a.shape) and b.name in free:
                        out.append(b.name)
        stack.extend(n.children)
    return list(dict.fromkeys(out))


def _prefer_scalars(raw, node, inference, decls: Shapes):
    """Take as scalars the undeclared names docs/language.md says are scalars, while the formula
    stays well-shaped."""
    for _ in range(4):
        suspects = _scalar_suspects(node, decls, inference)
        if not suspects:
            break
        trial = _with_scalars(decls, suspects)
        try:
            new_node, new_inference = _infer(raw, trial, full=True)
        except MatcalcError:
            break
        if _broadcasts_name(new_node, set(suspects)):
            break
        node, inference = new_node, new_inference
        trial.notes.append(_scalar_note(*suspects))
        decls = trial
    return node, decls, inference


def _broadcast_notes(node, decls: Shapes, elementwise=None) -> None:
    """Notes on scalars broadcast over a vector or matrix; `elementwise`: the element-wise
    nodes of the tree in the order _distinct_nodes meets them, where already known."""
    verbs = {E.Add: "is added to", E.Hadamard: "multiplies", E.HadamardDiv: "divides"}
    for n in _distinct_nodes(node) if elementwise is None else elementwise:
        if type(n) in _ELEMENTWISE and not is_scalar(n.shape):
            for a in n.children:
                if is_scalar(a.shape) and type(a) is not E.Num and not (
                        type(a) is E.MatMul and all(type(g) is E.Num for g in a.args)):
                    other = next(b for b in n.children if not is_scalar(b.shape))
                    decls.notes.append(f"the scalar {show(a)} {verbs[type(n)]} every entry "
                                       f"of {show(other)} (broadcast)")


def parse_with_shapes(text: str, shapes=None) -> tuple[E.Node, Shapes]:
    """Parse text and infer every shape; returns the tree and the declarations used (with the
    names found to be scalars, and notes on what was assumed)."""
    given = parse_shapes(shapes)
    decls = Shapes(dict(given.decls), [])
    raw, shaped = _parse_raw(text, decls, shaped=True)
    if shaped is not None:              # every node has its shape: nothing to infer
        if shaped.broadcasts:
            _broadcast_notes(raw, decls)
        decls.notes[:] = list(dict.fromkeys(decls.notes))
        return raw, decls
    try:
        try:
            node, inference = _infer(raw, decls, full=True)
        except ShapeError as err:
            if err.op not in ("multiply", "power", "divide", "the inverse", "add",
                              "multiply element-wise", "divide element-wise"):
                raise                                                # det(x): see the error
            node, decls, inference = _as_scalars(raw, decls, err)
        node, decls, inference = _prefer_scalars(raw, node, inference, decls)
        if looks_like_latex(text):
            node = read_e_powers(node, decls)          # e^{s}: exp(s) for a scalar s only
    except MatcalcError as err:
        splits = [n for n in decls.notes if n.startswith("`")]
        if splits and isinstance(err, ShapeError):
            err.hint = "; ".join([*(s_.replace("; to use", " — to use") for s_ in splits),
                                  *([err.hint] if err.hint else [])])
        raise err.with_text(text) from None
    survey = getattr(inference, "survey", None)
    _broadcast_notes(node, decls, survey[1] if survey and survey[0] is node else None)
    decls.notes[:] = list(dict.fromkeys(decls.notes))
    return node, decls


def parse_together(texts, shapes=None) -> tuple[list, Shapes]:
    """Several expressions over the same names, with one shape per name: sizes are unified
    across all of them (as derive infers them within one). Names each formula reads as
    scalars are scalars in all of them."""
    decls = Shapes(dict(parse_shapes(shapes).decls), [])
    for t in texts:
        _, found = parse_with_shapes(t, decls)
        decls = Shapes({**decls.decls, **found.decls}, decls.notes + found.notes)
    raws = [parse_raw(t, decls) for t in texts]
    inference = Inference(decls)
    for raw in raws:
        inference.u.reserve(names_in_use(raw))
    done = []
    for t, raw in zip(texts, raws):
        try:
            done.append(inference.infer(raw))
        except MatcalcError as err:
            raise err.with_text(t) from None
    return [read_e_powers(inference.finish(n), decls) for n in done], decls


def result_notes(r) -> list[str]:
    """Result.notes: the parser's notes, and a word when f is not a scalar, so the answer is a
    Jacobian or a tensor rather than a gradient."""
    from ..core.shapes import fmt_shape
    notes = list(getattr(r.decls, "notes", []))
    f = r.function
    if r.kind in ("jacobian", "tensor") and r.direction is None and not is_scalar(f.shape):
        what = "its Jacobian" if r.kind == "jacobian" else "a tensor (the Jacobian of vec f)"
        note = f"f is {fmt_shape(f.shape)}, so this is {what}"
        vectors = [n.name for n in _syms(f) if n.name not in r.decls.decls
                   and n.name != r.variable.name and not is_scalar(n.shape)
                   and not n.name[0].isupper()]
        for name in list(dict.fromkeys(vectors))[:8]:
            try:
                g, _ = parse_with_shapes(r.input, _with_scalars(r.decls, [name]))
            except MatcalcError:
                continue
            if is_scalar(g.shape):
                note += f"; declare {name}: scalar if you meant a gradient"
                break
        notes.append(note)
    return notes


@deep
def parse(text: str, shapes=None) -> E.Node:
    """The expression tree of `text`, with a shape on every node (docs/language.md–2)."""
    return parse_with_shapes(text, shapes)[0]
