"""LaTeX: \\top, \\odot, \\otimes, \\operatorname{tr}; Greek names as commands."""
from __future__ import annotations

from ..core import expr as E
from ..core.functions import FUNCTIONS
from ..core.shapes import LATIN_OF_GREEK, is_scalar
from .base import Printer


class LatexPrinter(Printer):
    """bold=True prints vectors as \\boldsymbol{x} and matrices as \\mathbf{X}."""

    minus = "-"
    hadamard_op = " \\odot "
    hdiv_op = " \\oslash "
    kron_op = " \\otimes "
    times = " "
    t_suffix = "^{\\top}"
    inv_suffix = "^{-1}"
    inv_t_suffix = "^{-\\top}"

    def paren(self, s):
        return f"\\left({s}\\right)"

    def pow_suffix(self, e):
        return "^{" + Printer.number(self, e) + "}"       # ^{1/3}: a \frac exponent would not read back

    def __init__(self, bold: bool = False):
        super().__init__()
        self.bold = bold

    def sym(self, node):
        plain = self._sym(node)
        if self.bold and node.shape and not is_scalar(node.shape):
            return f"\\boldsymbol{{{plain}}}" if node.shape[1] == 1 else f"\\mathbf{{{plain}}}"
        return plain

    def _sym(self, node):
        name, _, sub = node.name.partition("_")
        head = name.rstrip("0123456789")
        digits = name[len(head):]
        if head in LATIN_OF_GREEK:
            head = "\\" + LATIN_OF_GREEK[head]
        elif len(head) > 1:
            head = f"\\mathrm{{{head}}}"
        sub = sub or digits
        return head + (f"_{{{sub}}}" if sub else "")

    def number(self, v):
        if v.denominator != 1 and "/" in Printer.number(self, v):
            return f"\\frac{{{v.numerator}}}{{{v.denominator}}}"
        return Printer.number(self, v)

    def divide(self, body, den, node, num):
        d = self.join_factors([self.operand(x, node) for x in den], den)
        return f"\\frac{{{body}}}{{{d}}}"

    def join_factors(self, parts, nodes):
        out = ""
        for p in parts:
            out += (" \\cdot " if out and p[:1] in "0123456789" else " " if out else "") + p
        return out

    def scale(self, coef, body, num):
        if body[:1] in "0123456789" and body:
            return coef + " \\cdot " + body
        return coef + " " + body if body else coef

    def hadamard_power(self, node):
        return self.operand(node.arg, node) + "^{\\circ " + Printer.number(self, node.exponent) + "}"

    def apply(self, node):
        f = FUNCTIONS[node.fn]
        if node.fn == "sqrt":
            return f"\\sqrt{{{self(node.arg)}}}"
        return f"{f.latex}\\left({self(node.arg)}\\right)"

    def call(self, name):
        op = {"sum": "\\operatorname{sum}", "mean": "\\operatorname{mean}",
              "tr": "\\operatorname{tr}", "det": "\\det", "logdet": "\\log\\det",
              "logsumexp": "\\operatorname{logsumexp}", "softmax": "\\operatorname{softmax}",
              "diag": "\\operatorname{diag}", "vec": "\\operatorname{vec}"}[name]
        return lambda node: f"{op}\\left({self(node.arg)}\\right)"

    def matfn_template(self, node) -> str:
        from ..core.matrix_functions import MATRIX_FUNCTIONS
        return MATRIX_FUNCTIONS[node.fn].latex

    def norm(self, node):
        a = node.arg
        sub = "_F" if a.shape and a.shape[0] != 1 and a.shape[1] != 1 else ""
        return f"\\left\\| {self(a)} \\right\\|{sub}"

    # Constants carry their sizes as subscripts (I_{n}, 1_{m×n}) when the sizes have names,
    # so that the LaTeX reads back with the same shapes.
    def ones(self, node):
        r, c = node.shape
        if r == 1 and c != 1:
            n = _size(c)
            return f"\\mathbf{{1}}_{{{n}}}^{{\\top}}" if n else "\\mathbf{1}^{\\top}"
        return "\\mathbf{1}" + _sub(node.shape)

    def zero(self, node):
        return "0" + _sub(node.shape)

    def identity(self, node):
        n = _size(node.shape[0])
        return f"I_{{{n}}}" if n else "I"

    def commutation(self, node):
        r, c = (_size(d) or str(d) for d in (node.rows, node.cols))
        return f"\\operatorname{{K}}_{{{r},{c}}}"

    def dot(self, node):
        return self.operand(node.left, node) + " \\cdot " + self.operand(node.right, node)


_PRINTER = LatexPrinter()


def to_latex(node: E.Node, bold: bool = False) -> str:
    return (LatexPrinter(bold=True) if bold else _PRINTER)(node)


def _size(d):
    from .base import size_text
    t = size_text(d)
    return t.replace("*", " \\cdot ") if t else t


def _sub(shape) -> str:
    r, c = (_size(d) for d in shape)
    if not (r and c):
        return ""
    return f"_{{{r}}}" if c == "1" else f"_{{{r} \\times {c}}}"
