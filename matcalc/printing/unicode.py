"""Pretty Unicode, the way a textbook prints: juxtaposed products, ᵀ, ⁻¹, ⊙, ‖x‖."""
from __future__ import annotations

import re

from ..core import expr as E
from ..core.errors import register_node_printer
from ..core.functions import FUNCTIONS
from ..core.shapes import is_scalar
from .base import Printer

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class UnicodePrinter(Printer):
    minus = "−"
    binary_minus = " − "
    hadamard_op = " ⊙ "
    hdiv_op = " ⊘ "
    times = ""
    t_suffix = "ᵀ"
    inv_suffix = "⁻¹"
    inv_t_suffix = "⁻ᵀ"

    def __init__(self):
        super().__init__()
        self._sized: set = set()
        self._depth = 0

    def __call__(self, node) -> str:
        if self._depth:                   # inside a print: the constants were found at the top
            return self.table[type(node)](node)
        self._sized = unsized_constants(node)
        self._depth = 1
        try:
            return self.table[type(node)](node)
        finally:
            self._depth = 0

    def identity(self, node):
        if node in self._sized:
            n = _size(node.shape[0])
            if n:
                return f"eye({n.replace('*', '')})"
        return "I"

    def pow_suffix(self, e):
        if e.denominator == 1:
            return str(e.numerator).translate(_SUP)
        return "^" + self.exponent(e) if e >= 0 else "^(" + self.number(e) + ")"

    def join_factors(self, parts, nodes):
        """Juxtapose, with a space only where two words would run together: after or before a
        multi-letter name, after a name with a subscript, and before a function name (W1 x,
        Xtrain w, B_1 P, x tanh(Wx))."""
        out, prev, prev_at = "", None, 0
        for p, n in zip(parts, nodes):
            if out and _word(out[-1]) and _word(p[:1]) and (
                    _long_sym(n) or _long_sym(prev) or _subscripted(prev) or
                    _CALL_TEXT.match(p)):
                out += " "
            elif out and p and (p[0] == "‖" or p[0] in "0123456789"):
                out += "·"                       # A·‖A‖_F, A·2⁻ᵀ: not a closing bar, not A2
            elif out and _word(out[-1]) and (isinstance(n, E.Commutation) or
                                             re.match(r"[^\W\d_]\(", p)):
                out += " "                       # x K(m,n), c K(n,n)², not a call of xK
            elif p[:1] == "(" and isinstance(prev, E.Sym) and prev_at and \
                    _word(out[prev_at - 1]) and _word(out[-1]):
                # AX(XᵀAX)⁻¹ would read as a call of a function AX: write A X(XᵀAX)⁻¹
                out = out[:prev_at] + " " + out[prev_at:]
            prev_at = len(out)
            out += p
            prev = n
        return out

    def scale(self, coef, body, num):
        if body and body[0] in "0123456789.‖":
            return coef + "·" + body
        return coef + body

    def hadamard_power(self, node):
        """x⊙² for a vector or matrix (x² is a matrix power, which a vector does not have);
        a scalar's element-wise power is its power, s²."""
        e = node.exponent
        if e.denominator == 1 and node.shape and is_scalar(node.shape):
            return self.operand(node.arg, node) + self.pow_suffix(e)
        if e.denominator == 1:
            return self.operand(node.arg, node) + "⊙" + str(e.numerator).translate(_SUP)
        return super().hadamard_power(node)

    def apply(self, node):
        return f"{FUNCTIONS[node.fn].pretty}({self(node.arg)})"

    def matfn_template(self, node) -> str:
        from ..core.matrix_functions import MATRIX_FUNCTIONS
        return MATRIX_FUNCTIONS[node.fn].unicode

    def norm(self, node):
        a = node.arg
        sub = "_F" if a.shape and a.shape[0] != 1 and a.shape[1] != 1 else ""
        return f"‖{self(a)}‖{sub}"

    def ones(self, node):
        """𝟙 (a column), 𝟙ᵀ (a row), 𝟙𝟙ᵀ (a matrix of ones: 𝟙 alone would read back as a
        column)."""
        r, c = node.shape
        if node in self._sized:
            sizes = [_size(d) for d in (r, c) if d != 1]
            if sizes and all(sizes):
                return f"ones({', '.join(x.replace('*', '') for x in sizes)})" + \
                    ("ᵀ" if r == 1 and c != 1 else "")
        if c == 1:
            return "𝟙"
        return "𝟙ᵀ" if r == 1 else "𝟙𝟙ᵀ"

    def operand(self, node, parent):
        s = super().operand(node, parent)
        if s == "𝟙𝟙ᵀ" and not isinstance(parent, E.MatMul):
            return self.paren(s)                 # (𝟙𝟙ᵀ)ᵀ, X ⊙ (𝟙𝟙ᵀ): it is a product
        return s

    def zero(self, node):
        if node in self._sized and not _one_by_one(node.shape):
            r, c = (_size(d) for d in node.shape)
            if r and c:
                return f"zeros({r.replace('*', '')})" if c == "1" else \
                    f"zeros({r.replace('*', '')}, {c.replace('*', '')})"
        return "0"

    def commutation(self, node):
        from .base import size_text
        r, c = (size_text(d) or str(d) for d in (node.rows, node.cols))
        if "(" in r + c:                      # min(m,n) sizes (svdvals): K(…) would not read
            return f"commutation({r}, {c})"
        return f"K({r.replace('*', '')},{c.replace('*', '')})"


# tanh(, eye(, σ(, eigvec_max(, λ_max(, L_exp(: a space before
_CALL_TEXT = re.compile(r"([^\W\d_]{2,}[0-9]*(?:_[A-Za-z0-9]+)?|σ|[λσ]_m(?:ax|in)|[LK]2?_[a-z]+)\(")


def _size(d):
    from .base import size_text as text_size
    return text_size(d)


def _pinned(node, memo: dict) -> bool:
    """Whether the printed node determines its own shape (a variable does, I and 𝟙 do not)."""
    hit = memo.get(id(node))
    if hit is not None:
        return hit
    if _one_by_one(node.shape) or isinstance(node, (E.Sym, E.Commutation)):
        out = True
    elif isinstance(node, (E.Identity, E.Ones, E.Zero, E.Num)):
        out = False
    elif isinstance(node, E.Kron):
        out = all(_pinned(c, memo) for c in node.children)
    else:
        out = any(_pinned(c, memo) for c in node.children if not _one_by_one(c.shape))
    memo[id(node)] = out
    return out


def _one_by_one(shape) -> bool:
    """shape == (1, 1), without comparing each size with an int (Dim.__eq__ is Python)."""
    return type(shape) is tuple and len(shape) == 2 and is_scalar(shape)


_CONSTANTS = frozenset((E.Identity, E.Ones, E.Zero))


def _holds_constant(root) -> bool:
    """Whether an I, a 𝟙 or a 0 occurs in the tree: without one, no constant needs its size (a
    cheaper walk than unsized_constants' own)."""
    return E.holds_type(root, _CONSTANTS)


def unsized_constants(root) -> set:
    """The identities, ones and zeros whose size nothing around them fixes — inside ⊗ and vec,
    where a bare I would read back with another size; they print with their size, eye(n). The
    result itself (the root) prints I: its size is the result's. Each shared subtree is walked
    once per context. The set holds constants by value (an I of size n, not one object): the
    same formula can hold one I object or several equal ones, depending on what earlier calls
    left in the constructors' tables, and what it prints must not depend on that — so once one
    I of size n needs its size, every I of size n in the result shows it."""
    out: set = set()
    if not _holds_constant(root):
        return out
    seen: set[tuple[int, bool]] = set()
    memo: dict = {}

    def walk(node, free):
        key = (id(node), free)
        if key in seen:
            return
        seen.add(key)
        t = type(node)
        if t is E.Identity or t is E.Ones or t is E.Zero:
            if free:
                out.add(node)
            return
        children = node.children
        if not children:
            return
        if t is E.Kron or t is E.Vec:
            for c in children:
                walk(c, True)
            return
        if _one_by_one(node.shape) and t is not E.MatMul:
            for c in children:             # tr(I ⊗ A), sum(…): nothing outside fixes it
                walk(c, True)
            return
        kids = [c for c in children if not _one_by_one(c.shape)]
        for c in children:
            if _one_by_one(c.shape):
                walk(c, free)
            elif t is E.MatMul and type(c) is E.Ones:
                # 𝟙 takes its sizes from its neighbours: Aᵀ𝟙𝟙ᵀ and 𝟙xᵀ have one side open
                walk(c, free and ((c is kids[0] and c.shape[0] != 1) or
                                  (c is kids[-1] and c.shape[1] != 1)))
            else:
                walk(c, free and not any(_pinned(k, memo) for k in kids if k is not c))

    walk(root, False)
    return out


def _word(c: str) -> bool:
    return bool(c) and (c.isalnum() or c == "_") and c not in "ᵀ⁻¹²³⁴⁵⁶⁷⁸⁹⁰"


def _long(name: str) -> bool:
    return len(name) > 1 and not name[1:].isdigit() and "_" not in name


def _subscripted(n) -> bool:
    """A name with a subscript (B_1, y_12): a letter or digit after it would join the
    subscript (B_1P reads as one name, B with the subscript 1P)."""
    return type(n) is E.Sym and "_" in n.name


def _long_sym(n) -> bool:
    return isinstance(n, E.Sym) and _long(n.name)


_CALLS = (E.Apply, E.Sum, E.Trace, E.Det, E.LogDet, E.Mean, E.LogSumExp, E.Softmax, E.DiagMat,
          E.DiagVec, E.Tril, E.Triu)


def to_unicode(node: E.Node) -> str:
    return UnicodePrinter()(node)        # one per call: the printer keeps per-result state


register_node_printer(to_unicode)    # error messages from the layers below name nodes with it
