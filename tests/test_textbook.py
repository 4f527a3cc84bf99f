"""The textbook table (tests/textbook_table.py): formulas from sources the identity and golden
tables do not use, each with the form its source prints. Three checks per row:

(a) matcalc's result is no larger than the textbook form (matcalc.simplify.size: operators and
    function applications, the measure of the identity table's size test), and prints exactly
    as pinned in PRINTED;
(b) what matcalc prints (plain text, and Unicode where the print carries every size) parses
    back and agrees with central finite differences of the ORIGINAL function, at random values
    with a different size for every dimension name;
(c) the textbook form itself, parsed, agrees with the same finite differences, so the column
    that (a) compares with is verified rather than trusted.

When the table was written (64 rows), 17 results were larger than the textbook form; now
none of its 75 rows is.
"""
from __future__ import annotations

import pytest

from matcalc import derive
from matcalc.language.parser import parse_with_shapes
from matcalc.numeric.evaluate import finite_difference_check
from matcalc.simplify.rewrite import size

from textbook_table import PRINTED, ROWS


def _params():
    out = []
    for row in ROWS:
        expr, wrt, shapes, book, source, id_ = row[:6]
        order = row[6] if len(row) > 6 else 1
        out.append(pytest.param(expr, wrt, shapes, book, order, id_, id=id_))
    return out


TABLE = _params()


def _against_differences(r, node):
    """node, as the derivative of r's ORIGINAL function, against its central differences."""
    kind = {"hessian": "jacobian"}.get(r.kind, r.kind)
    return finite_difference_check(r.function, node, r._variables(), kind, r.layout,
                                   r.decls.modifiers, seed=7)


@pytest.mark.parametrize("expr, wrt, shapes, book, order, key", TABLE)
def test_no_larger_than_the_textbook_form(expr, wrt, shapes, book, order, key):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    form, _ = parse_with_shapes(book, shapes)
    assert size(r.node) <= size(form), (
        f"{r} (size {size(r.node)}) is larger than the textbook {book} (size {size(form)})")
    assert str(r) == PRINTED[key]


@pytest.mark.parametrize("expr, wrt, shapes, book, order, key", TABLE)
def test_printed_result_agrees_with_finite_differences(expr, wrt, shapes, book, order, key):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    back, _ = parse_with_shapes(r.text, shapes)
    _against_differences(r, back)
    pretty, _ = parse_with_shapes(str(r), shapes)
    if tuple(pretty.shape) == tuple(r.node.shape):    # I and 𝟙 alone carry no size in print
        _against_differences(r, pretty)


@pytest.mark.parametrize("expr, wrt, shapes, book, order, key", TABLE)
def test_textbook_form_agrees_with_finite_differences(expr, wrt, shapes, book, order, key):
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    form, _ = parse_with_shapes(book, shapes)
    _against_differences(r, form)


def test_the_table_is_large_and_cited():
    assert len(ROWS) >= 40
    assert len({row[5] for row in ROWS}) == len(ROWS)
    assert all(row[4] for row in ROWS)
    assert set(PRINTED) == {row[5] for row in ROWS}
