"""Shared subexpressions: which subtrees repeat, in an order that computes each once.

Trees are hash-consed by structure, so a repeated subexpression is one key; `shared` returns
the subtrees worth naming (repeated, and more than a name or a number) children first.
"""
from __future__ import annotations

from ..core import expr as E
from ..core.expr import substitute       # noqa: F401 (named.py takes it from here)
from ..core.limits import tree_sizes      # (named.py takes it from here too)

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


# Printing results whose tree is far larger than their shared form --------------------------------

def tree_size(node, cap: int | None = None) -> int:
    """Nodes in the tree as printed (a shared subtree counted at every use), computed on the
    shared form in linear time; with `cap`, any size over cap is reported as cap + 1."""
    return tree_sizes(node, cap)[node]


def too_big(node) -> bool:
    """Whether the printed tree of node is over the limit on printed size: the tree walked as
    printed (a shared subtree at each use) until the limit is passed, at most the limit's
    worth of steps (cheaper than tree_size's table of every subtree's size)."""
    from ..core.limits import MAX_PRINTED_NODES
    left = MAX_PRINTED_NODES
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        left -= 1
        if left < 0:
            return True
        extend(pop().children)
    return False


