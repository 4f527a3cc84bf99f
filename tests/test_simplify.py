"""Simplifier (part of issue 4): named rules, termination under the rewrite budget, shared
subexpressions, and equivalence by canonical form or numeric test."""
from __future__ import annotations

import pytest

import matcalc
from matcalc import derive, equivalent
from matcalc.simplify import RULES, Context, simplify
from matcalc.parser import parse


@pytest.mark.parametrize("expr, wrt, shapes, printed", [
    ("det(A X B)", "X", "A: n×n, X: n×n, B: n×n", "det(AXB)X⁻ᵀ"),
    ("logdet(A X B)", "X", "A: n×n, X: n×n, B: n×n", "X⁻ᵀ"),
    ("det(X^-1)", "X", "X: n×n", "−det(X⁻¹)X⁻ᵀ"),
    ("a^T diag(x) b", "x", "a: n, b: n, x: n", "a ⊙ b"),
    ("log(1 + exp(x))", "x", "x: n", "diag(σ(x))"),
    ("x^T A x", "x", "A: n×n symmetric, x: n", "2Ax"),
    ("logdet(X^T X)", "X", "X: m×n", "2X(XᵀX)⁻¹"),
])
def test_textbook_forms(expr, wrt, shapes, printed):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert str(r) == printed
    r.check()


def test_every_rule_states_its_identity():
    for rule in RULES:
        assert "→" in (rule.__doc__ or ""), rule.__name__


def test_budget_bounds_the_rewrites_and_stays_correct():
    r = derive("sum(exp(A x)) + x^T B x + ‖C x - d‖^2", wrt="x", simplify=False)
    tight = Context(budget=3)
    node = simplify(r.node, tight)
    assert tight.budget <= 0
    from dataclasses import replace
    replace(r, node=node).check()          # longer than it could be, but still right


def test_equivalent_says_how():
    same = equivalent("(A + A^T) x", "A x + A^T x", "A: n×n, x: n")
    assert same and same.how == "canonical form"
    numeric = equivalent("x^T A x", "x^T A^T x", "A: n×n, x: n")
    assert numeric and numeric.how == "numeric test"
    different = equivalent("A B", "B A", "A: n×n, B: n×n")
    assert not different and "differ" in str(different)
    assert not equivalent("x", "A", "x: n, A: n×n")


def test_cse_names_repeated_and_costly_parts():
    r = derive("-y^T log(softmax(W x))", wrt="W", shapes="W: m×n, x: n, y: m")
    text = r.cse()
    assert "where r = softmax(Wx)" in text and text.count("softmax") == 1
    assert derive("x^T x", wrt="x").cse() == "2x"
