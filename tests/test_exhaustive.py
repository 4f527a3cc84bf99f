"""Exhaustiveness: every node type has a shape rule, a derivative rule (or is explicitly
parse-only), a NumPy rule and a method in every printer."""
from __future__ import annotations

import pytest

from matcalc.core import expr as E
from matcalc.numeric.evaluate import NUMPY_RULES
from matcalc.printing.latex import LatexPrinter
from matcalc.printing.text import TextPrinter
from matcalc.printing.unicode import UnicodePrinter
from matcalc.calculus.rules import DERIVATIVE_RULES, NO_RULE
from matcalc.core.shapes import SHAPE_RULES

OPERATORS = [t for t in E.NODE_TYPES if t not in E.LEAVES]


@pytest.mark.parametrize("t", E.NODE_TYPES, ids=lambda t: t.__name__)
def test_shape_rule(t):
    assert t in SHAPE_RULES


@pytest.mark.parametrize("t", OPERATORS, ids=lambda t: t.__name__)
def test_derivative_rule(t):
    assert t in DERIVATIVE_RULES
    assert DERIVATIVE_RULES[t].__doc__, "every rule states its identity"


def test_parse_only_nodes_have_no_rule():
    for t in NO_RULE:
        assert t not in DERIVATIVE_RULES and t not in E.NODE_TYPES


@pytest.mark.parametrize("t", E.NODE_TYPES, ids=lambda t: t.__name__)
def test_numpy_rule(t):
    assert t in NUMPY_RULES or t is E.Sym


@pytest.mark.parametrize("printer", [TextPrinter, UnicodePrinter, LatexPrinter])
def test_printers(printer):
    table = printer().table
    for t in E.NODE_TYPES:
        assert t in table, f"{printer.__name__} cannot print {t.__name__}"


def test_simplifier_rules_state_their_identity():
    from matcalc.simplify.rewrite import RULES
    for rule in RULES:
        assert rule.__doc__ and ("→" in rule.__doc__), rule.__name__
