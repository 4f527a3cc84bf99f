"""Plain syntax: ASCII operators, explicit `*`, so that parse(to_text(e)) gives e back."""
from __future__ import annotations

from .. import expr as E
from .base import Printer


class TextPrinter(Printer):
    t_suffix = "^T"
    inv_suffix = "^-1"
    inv_t_suffix = "^-T"

    def pow_suffix(self, e):
        return "^" + self.number(e) if e.denominator == 1 else "^" + format(float(e), ".12g")

    def kron(self, node):
        return f"kron({self(node.left)}, {self(node.right)})"

    def zero(self, node):
        r, c = node.shape
        if all(str(d).isidentifier() or str(d).isdigit() for d in (r, c)) and "_" not in str(r) + str(c):
            return f"zeros({r}, {c})"
        return "0"

    def ones(self, node):
        r, c = node.shape
        if c == 1 and (str(r).isalnum() and "_" not in str(r)):
            return f"ones({r})"
        return "ones(" + f"{r}, {c})" if c != 1 else "𝟙"


_PRINTER = TextPrinter()


def to_text(node: E.Node) -> str:
    return _PRINTER(node)
