"""Equal subtrees are made one object before differentiation (simplify/rewrite.py's
shared_and_gathered): the one kept is the last in the formula, with its own span, so carets
point where they did; each distinct sum, product or ⊙ is counted once, children first."""
from __future__ import annotations

from matcalc.core import expr as E
from matcalc.core.errors import Span
from matcalc.language.parser import parse_with_shapes
from matcalc.simplify.rewrite import shared_and_gathered


def _nodes(root):
    out, stack, seen = [], [root], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.append(n)
        stack.extend(n.children)
    return out


def test_equal_subtrees_are_one_object_with_the_last_span():
    text = "(A x - b)^T (A x - b)"
    f, _ = parse_with_shapes(text, "A: m×n, x: n, b: m")
    left, right = f.args[0].arg, f.args[1]
    assert left is not right                             # the parser's tree is left as it is
    g = shared_and_gathered(f, 12)
    assert g.args[0].arg is g.args[1]
    assert g.args[1].span == Span(13, 20) and text[13:20] == "A x - b"
    xs = {id(n) for n in _nodes(g) if type(n) is E.Sym and n.name == "x"}
    assert len(xs) == 1
    x = next(n for n in _nodes(g) if type(n) is E.Sym and n.name == "x")
    assert x.span == Span(15, 16)                        # the last x
    assert f.args[0].arg.args[0].args[1].span == Span(3, 4)      # (the parser's first x)


def test_a_repeated_term_is_shared_in_a_long_sum():
    terms = [f"c{i} x^T A x" for i in range(30)] + ["c0 x^T A x"]
    text = " + ".join(terms)
    shapes = "x: n, A: n×n, " + ", ".join(f"c{i}: scalar" for i in range(30))
    f, _ = parse_with_shapes(text, shapes)
    g = shared_and_gathered(f, 12)
    assert type(g) is E.Add
    first, last = g.args[0], g.args[-1]
    assert first is last and first.span == Span(len(text) - len(terms[-1]), len(text))


def test_a_deep_formula_is_shared():
    text = " ".join(["A"] * 500) + " x + " + " ".join(["A"] * 500) + " x"
    f, _ = parse_with_shapes(text, "A: n×n, x: n")
    g = shared_and_gathered(f, 12)
    a = [n for n in _nodes(g) if type(n) is E.Sym and n.name == "A"]
    assert len(a) == 1 and a[0].span == Span(text.rindex("A"), text.rindex("A") + 1)
    assert len([n for n in _nodes(g) if type(n) is E.Sym and n.name == "x"]) == 1
