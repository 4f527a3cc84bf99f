"""Shared subexpressions: which subtrees repeat, in an order that computes each once.

Trees are hash-consed by structure, so a repeated subexpression is one key; `shared` returns
the subtrees worth naming (repeated, and more than a name or a number) children first.
"""
from __future__ import annotations

from . import expr as E

TRIVIAL = (E.Sym, E.Num, E.Size, E.Identity, E.Zero, E.Ones, E.Commutation)


def counts(roots) -> dict:
    """How many times each subtree is used, counting a shared subtree's insides once."""
    seen: dict = {}
    stack = list(roots)
    while stack:
        n = stack.pop()
        seen[n] = seen.get(n, 0) + 1
        if seen[n] == 1:
            stack.extend(n.children)
    return seen


def shared(roots) -> list:
    """Subtrees used more than once (and not trivial), children before parents."""
    c = counts(roots)
    order, done = [], set()

    def visit(n):
        if n in done:
            return
        done.add(n)
        for k in n.children:
            visit(k)
        if c.get(n, 0) > 1 and not isinstance(n, TRIVIAL) and \
                not (isinstance(n, E.Transpose) and isinstance(n.arg, TRIVIAL)):
            order.append(n)

    for r in roots:
        visit(r)
    return order
