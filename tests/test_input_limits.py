"""check_input's limits at their edges, with the caret where the input goes over: the counts
check_input skips when they cannot reach a limit must give the same answers as counting."""
from __future__ import annotations

import re

import pytest

from matcalc.core.errors import ParseError
from matcalc.core.limits import (MAX_DIGITS, MAX_NAMES, MAX_NESTING, MAX_OPERANDS,
                                 check_input)


def _refused(text):
    with pytest.raises(ParseError) as info:
        check_input(text)
    return info.value


def _nth(text, word, n):
    """Where the n-th (1-based) whole word `word` starts."""
    return [m.start() for m in re.finditer(rf"(?<![\w{{}}]){re.escape(word)}(?![\w{{}}])",
                                           text)][n - 1]


@pytest.mark.parametrize("spelling", ["x^T", "x^-T", "x ^ - T", "x^⊤", "x^{T}", "x^{-T}", "x^{⊤}",
                                      "x^{ T }"])
def test_the_t_of_a_transpose_is_not_an_operand(spelling):
    check_input(" + ".join([spelling] * MAX_OPERANDS))
    text = " + ".join([spelling] * (MAX_OPERANDS + 1))
    err = _refused(text)
    assert "limit on operands" in str(err)
    assert err.span.start == _nth(text, "x", MAX_OPERANDS + 1)


def test_a_t_that_is_a_name_is_an_operand():
    text = " + ".join(["x T"] * (MAX_OPERANDS // 2 + 1))
    err = _refused(text)
    assert "limit on operands" in str(err)
    assert err.span.start == _nth(text, "x", MAX_OPERANDS // 2 + 1)


def test_names_at_the_limit():
    check_input(" + ".join(f"a{i}^T" for i in range(MAX_NAMES)))
    text = " + ".join(f"a{i}" for i in range(MAX_NAMES + 1))
    err = _refused(text)
    assert "limit on names" in str(err)
    assert err.span.start == text.index(f"a{MAX_NAMES}")
    check_input(" + ".join(f"ab{i}(x)" for i in range(MAX_NAMES + 1)))   # calls are not names


def test_digits_at_the_limit():
    check_input("x + " + "1" * MAX_DIGITS)
    err = _refused("x + " + "1" * (MAX_DIGITS + 1))
    assert "digits" in str(err) and err.span.start == 4


def test_brackets_at_the_limit():
    check_input("(" * MAX_NESTING + "x" + ")" * MAX_NESTING)
    text = "y + " + "(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1)
    err = _refused(text)
    assert "brackets are nested" in str(err)
    assert err.span.start == 4 + MAX_NESTING


def test_postfix_runs_count_with_the_brackets_around_them():
    check_input("(" * (MAX_NESTING - 3) + "x^T^T^T" + ")" * (MAX_NESTING - 3))
    text = "(" * (MAX_NESTING - 2) + "x^T^T^T" + ")" * (MAX_NESTING - 2)
    err = _refused(text)
    assert "operators are nested" in str(err)
    assert (err.span.start, err.span.end) == (MAX_NESTING - 1, MAX_NESTING + 5)
    check_input("x" + "^(2)" * MAX_NESTING)             # the brackets of ^(2) do not nest
    err = _refused("x" + "^(2)" * (MAX_NESTING + 1))
    assert "operators are nested" in str(err)


def test_latex_commands_before_braces_are_not_operands():
    """\\frac{c}{2} \\mathbf{x}^\\top \\mathbf{A} \\mathbf{x}: the operands are c, 2, x, A, x (and
    the \\top), not the commands; 1,000 such terms are within the limit, as written in plain
    text they are."""
    check_input(" + ".join([r"\frac{c}{2} \mathbf{x}^\top \mathbf{A} \mathbf{x}"] * 1000))
    check_input(" + ".join([r"\sqrt{c} x_{12}^{T} A x_{12}"] * 1500))
