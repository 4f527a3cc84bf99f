"""Printing a result whose printed tree would be far larger than its shared form: repeated
subexpressions named once, `… where s1 = softmax(x), s2 = softmax(s1)`, so that what is printed
grows with the shared form (the derivative of softmax nested 18 deep would otherwise print 124
million characters). Used by Result's printing, r.cse() and the command line."""
from __future__ import annotations

from ..core import expr as E
from ..simplify.cse import counts, shared, substitute, too_big, tree_sizes

SMALL = 8       # repeated subtrees up to this size are printed at each use rather than named

STYLES = {
    "unicode": ("   where ", ", ", " = "),
    "text": ("   where ", ", ", " = "),
    "latex": (" \\quad\\text{where } ", ",\\; ", " = "),
}


def named_form(node, style: str = "unicode", printer=None) -> str:
    """node printed with every repeated subexpression (bigger than SMALL nodes) named once,
    children before parents: `… where s1 = softmax(x), s2 = …`. Its length is linear in the
    shared form of node, however large the printed tree would be."""
    printer = printer or _printer(style)
    sizes = tree_sizes(node, SMALL)
    repeated = [n for n in shared([node]) if sizes[n] > SMALL]
    if not repeated:
        return printer(node)
    letter = _free_letter(node)
    mapping: dict = {}
    lines = []
    where, sep, eq = STYLES[style]
    for k, sub in enumerate(repeated, 1):
        name = E.Sym(f"{letter}{k}", sub.shape)
        lines.append(f"{printer(name)}{eq}{printer(substitute(sub, mapping))}")
        mapping[sub] = name
    return printer(substitute(node, mapping)) + where + sep.join(lines)


def printed(node, style: str = "unicode", printer=None) -> str:
    """node printed in full, or in named form when the full tree would be over the limit on
    printed size (limits.MAX_PRINTED_NODES)."""
    printer = printer or _printer(style)
    if too_big(node):
        return named_form(node, style, printer)
    return printer(node)


def _printer(style: str):
    if style == "unicode":
        from .unicode import to_unicode
        return to_unicode
    if style == "text":
        from .text import to_text
        return to_text
    if style == "latex":
        from .latex import to_latex
        return to_latex
    raise ValueError(f"unknown style {style!r}")


def _free_letter(node) -> str:
    """A letter no name in node starts with, for the names s1, s2, …"""
    heads = {n.name[:1] for n in counts([node]) if type(n) is E.Sym}
    return next((c for c in "stuvwrqpkghabcdefjlmnoyz" if c not in heads), "s")
