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
