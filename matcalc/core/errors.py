"""Errors a user can cause, and how they draw themselves.

Owns the MatcalcError hierarchy and the caret picture. Every mistake a user can make surfaces
as one of these; anything else escaping the engine is a bug and keeps its traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character range [start, end) in the source text."""

    start: int
    end: int


# Messages name the node at fault in Unicode, but the printers sit in a layer above every module
# that raises; the Unicode printer registers itself here when it is imported (the package does
# that on import), and until then a node is named by its class.
_NODE_PRINTERS: list = []


def register_node_printer(show) -> None:
    """Use `show(node) -> str` to name nodes in messages (printing/unicode.py calls this)."""
    _NODE_PRINTERS[:] = [show]


def show(node) -> str:
    """A node as messages print it: Unicode, or its class name for a half-built node."""
    for printer in _NODE_PRINTERS:
        try:
            return printer(node)
        except Exception:  # a half-built node: still name the operation
            break
    return type(node).__name__


class MatcalcError(ValueError):
    """Base class: a message, optionally a hint, and a caret under the offending source."""

    def __init__(self, message: str, *, span: Span | None = None, text: str | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.text = text
        self.hint = hint

    def with_text(self, text: str) -> "MatcalcError":
        """Attach the source text (done once, at the API boundary) so the caret can be drawn."""
        if self.text is None:
            self.text = text
        return self

    @property
    def line(self) -> int | None:
        if self.span is None or self.text is None:
            return None
        return self.text.count("\n", 0, self.span.start) + 1

    @property
    def column(self) -> int | None:
        """1-based column of the first character the caret points at."""
        if self.span is None or self.text is None:
            return None
        return self.span.start - (self.text.rfind("\n", 0, self.span.start) + 1) + 1

    def caret(self) -> str:
        """The source line with ^^^ under the whole span (clipped to that line)."""
        if self.span is None or self.text is None:
            return ""
        line_start = self.text.rfind("\n", 0, self.span.start) + 1
        line_end = self.text.find("\n", self.span.start)
        line_end = len(self.text) if line_end < 0 else line_end
        start = self.span.start - line_start
        width = max(1, min(self.span.end, line_end) - self.span.start)
        return f"  {self.text[line_start:line_end]}\n  {' ' * start}{'^' * width}"

    def __str__(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(f"hint: {self.hint}")
        picture = self.caret()
        if picture:
            parts.append(picture)
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        """In Jupyter: the class and message, the hint, and the source line with the offending
        characters marked under a caret (monospace, so the caret lines up)."""
        import html
        out = [f"<div class='matcalc-error' style='border-left:3px solid #b00;padding-left:8px'>"
               f"<b style='color:#b00'>{html.escape(type(self).__name__)}</b>: "
               f"{html.escape(self.message)}"]
        if self.hint:
            out.append(f"<div><i>hint:</i> {html.escape(self.hint)}</div>")
        picture = self.caret()
        if picture:
            out.append(f"<pre style='margin:4px 0'>{html.escape(picture)}</pre>")
        return "".join(out) + "</div>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": f"{type(self).__name__}: {self}", "text/html": self._repr_html_()}


class ParseError(MatcalcError):
    """The text is not an expression of the language."""


class ShapeError(MatcalcError):
    """The sizes of the operands of an operation do not line up."""

    def __init__(self, message: str, *, node=None, left_shape=None, right_shape=None,
                 op: str | None = None, **kw):
        super().__init__(message, **kw)
        self.node = node
        self.left_shape = left_shape
        self.right_shape = right_shape
        self.op = op


class UnsupportedError(MatcalcError):
    """A well-formed request that matcalc has no rule for (yet)."""


class DomainError(MatcalcError):
    """The expression is undefined everywhere, e.g. it divides by a quantity that is 0."""


class CheckError(MatcalcError):
    """A derivative disagreed with finite differences (a bug in matcalc: please report it)."""
