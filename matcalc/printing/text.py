"""Plain syntax: ASCII operators, explicit `*`, so that parse(to_text(e)) gives e back."""
from __future__ import annotations

from .. import expr as E
from .base import Printer


class TextPrinter(Printer):
    t_suffix = "^T"
    inv_suffix = "^-1"
    inv_t_suffix = "^-T"

    def pow_suffix(self, e):
        return "^" + self.exponent(e) if e >= 0 else "^(" + self.number(e) + ")"

    def kron(self, node):
        return f"kron({self(node.left)}, {self(node.right)})"

    # Constants print with their sizes where the sizes have names parse() reads back;
    # generated sizes (m_X) do not, and there the size is left to inference.
    def identity(self, node):
        n = _size(node.shape[0])
        return f"eye({n})" if n else "I"

    def zero(self, node):
        r, c = (_size(d) for d in node.shape)
        if r and c:
            return f"zeros({r})" if c == "1" else f"zeros({r}, {c})"
        return "0"

    def ones(self, node):
        r, c = (_size(d) for d in node.shape)
        if r and c:
            return f"ones({r})" if c == "1" else f"ones({r}, {c})"
        if node.shape[1] == 1:
            return "𝟙"
        return "𝟙^T" if node.shape[0] == 1 else "(𝟙*𝟙^T)"


def _size(d) -> str | None:
    """A size as parse() reads it back (n, 3, n*n, m*n), or None for generated sizes."""
    text = str(d)
    if d.is_Integer or (d.is_Symbol and "_" not in text and text.isidentifier()):
        return text
    factors = d.flat_factors()
    if any(isinstance(f, str) and ("_" in f or not f.isidentifier()) for f in factors):
        return None
    return "*".join(map(str, factors))


_PRINTER = TextPrinter()


def to_text(node: E.Node) -> str:
    return _PRINTER(node)
