"""Review of the parsespeed branch: inputs where its fast paths once read differently from the
general code they stand in for (each case's expected value is what main's code gave)."""
from __future__ import annotations

import pytest

from matcalc.core.errors import ParseError
from matcalc.core.shapes import parse_shapes


@pytest.mark.parametrize("spec", ["X: m × spd", "X: m × symmetric", "X: n ×\tlower", "X: m × Spd",
                                  "X: n × orthogonal", "X: m× diagonal"])
def test_a_modifier_after_the_times_sign_is_a_modifier(spec):
    """`m × spd`: the last word is a modifier, which leaves `m ×`, a shape with a size missing
    (parse_shapes' direct reading of `m×n` must not take spd for the second size)."""
    with pytest.raises(ParseError, match="`` is not a size") as info:
        parse_shapes(spec)
    assert (info.value.span.start, info.value.span.end) == (0, len(spec))


def test_a_modifier_glued_to_the_times_sign_is_a_size():
    assert [str(d) for d in parse_shapes("X: m ×spd").decls["X"].shape] == ["m", "spd"]
    assert [str(d) for d in parse_shapes({"X": "m×lower"}).decls["X"].shape] == ["m", "lower"]


@pytest.mark.parametrize("text, spec, kind", [
    ("A + B", "A: m×n, B: n×m", "Add"), ("A B", "A: m×n, B: m×n", "MatMul"),
    ("tr(x)", "x: n", "Trace"), ("A ⊙ B", "A: m×n, B: n×m", "Hadamard")])
def test_a_shape_errors_node_is_a_whole_node(text, spec, kind):
    """ShapeError.node is the operator whose children did not fit, its shape not yet known
    (None): shape inference's direct copies must not hand over a node with an unset field."""
    from matcalc.core.errors import ShapeError
    from matcalc.language.parser import parse
    with pytest.raises(ShapeError) as info:
        parse(text, spec)
    node = info.value.node
    assert type(node).__name__ == kind and node.shape is None
    assert repr(node).startswith(kind + "(") and node == node


@pytest.mark.parametrize("text", [
    "L_pow(X, E, (1/2)) + a/b c", "L_pow(X, E, (1/2)) a/b c", "L_pow(X, E, (3/4)) + a/b c d",
    "L_pow(X, E, (1/2)) + tr(a/b c)", "tr(Y) + L_pow(X, E, (1/2)) + tr(a/b c)",
    "x + L_pow(X, E, (1/2)) + tr(a/b c)", "L_pow(X, E, (1/2))+(a/b c)"])
def test_a_dropped_bracketed_exponent_does_not_make_a_later_ratio_bracketed(text):
    """`a/b c` is refused after a bracketed exponent as anywhere: the builder's record of the
    bracketed nodes keeps them alive, so a later a/b cannot take the id of the (1/2) the
    matrix function dropped once it read the exponent (main accepted the first as a·c/b, or
    said `cannot divide by b`, depending on where the allocator put the nodes)."""
    from matcalc.language.parser import parse
    with pytest.raises(ParseError, match="ambiguous"):
        parse(text, "X: n×n, E: n×n")


def test_a_bracketed_ratio_may_still_be_multiplied_on():
    from matcalc.language.parser import parse
    assert str(parse("L_pow(X, E, (1/2)) + (a/b) c", "X: n×n, E: n×n, a: n×n, b: scalar, c: n×n")) \
        == str(parse("L_pow(X, E, (1/2)) + (a/b)*c", "X: n×n, E: n×n, a: n×n, b: scalar, c: n×n"))


def test_the_builder_keeps_its_bracketed_nodes_alive():
    """(Whatever the allocator does: an id in the record is always its own node's.)"""
    import gc
    from fractions import Fraction
    from matcalc.core import expr as E
    from matcalc.core.shapes import Shapes
    from matcalc.language.parser import ToExpr
    builder = ToExpr(Shapes())
    ratio = E.Div(E.Num(Fraction(1)), E.Num(Fraction(2)))
    key = id(ratio)
    builder.group(None, (ratio,))
    del ratio
    gc.collect()
    assert type(builder.grouped[key]) is E.Div and id(builder.grouped[key]) == key


_TOY = r"""
?start: sum
?sum: atom | sum "+" atom -> add
?atom: %s
    | "(" sum ")"
NAME: /[a-z]+/
%%ignore " "
"""


class _ToyBuilder:
    def add(self, span, c):
        return ("add", (span.start, span.end), c[0], c[1])

    def name(self, span, c):
        return ("name", (span.start, span.end), c[0].value)


@pytest.mark.parametrize("atom, start", [("NAME -> name", 0), ("NAME", 1)])
def test_the_driver_declines_a_rule_that_passes_a_child_on_from_brackets(atom, start):
    """`?atom: "(" sum ")"` passes on what is between the brackets, and Lark's parent spans
    the brackets when that is a tree (`(a)+b` is an add from 0) but not when it is a token
    (an add from 1): the driver refuses such a grammar (Lark reads it) rather than give the
    bracket's position for both. matcalc's grammar aliases every such rule (`-> group`)."""
    from lark import Lark
    from matcalc.language.lalr import Driver
    lark = Lark(_TOY % atom, parser="lalr", propagate_positions=True)
    tree = lark.parse("(a)+b")
    assert (tree.data, tree.meta.start_pos, tree.meta.end_pos) == ("add", start, 5)
    with pytest.raises(TypeError):
        Driver(lark, {"add": _ToyBuilder.add, "name": _ToyBuilder.name})
