"""Simplifier (part of issue 4): named rules, termination under the rewrite budget, shared
subexpressions, and equivalence by canonical form or numeric test."""
from __future__ import annotations

import pytest

import matcalc
from matcalc import derive, equivalent
from matcalc.simplify.rewrite import RULES, Context, simplify
from matcalc.language.parser import parse


@pytest.mark.parametrize("expr, wrt, shapes, printed", [
    ("det(A X B)", "X", "A: n×n, X: n×n, B: n×n", "det(AXB)X⁻ᵀ"),
    ("logdet(A X B)", "X", "A: n×n, X: n×n, B: n×n", "X⁻ᵀ"),
    ("det(X^-1)", "X", "X: n×n", "−X⁻ᵀ/det(X)"),     # was −det(X⁻¹)X⁻ᵀ (same size)
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
    assert equivalent("x^T A x", "x^T A^T x", "A: n×n, x: n").how == "canonical form"
    assert equivalent("tr(A B C)", "tr(C^T B^T A^T)", "A: n×n, B: n×n, C: n×n").how == \
        "canonical form"
    numeric = equivalent("(A + B)^2", "A^2 + A B + B A + B^2", "A: n×n, B: n×n")
    assert numeric and numeric.how == "numeric test"
    different = equivalent("A B", "B A", "A: n×n, B: n×n")
    assert not different and "differ" in str(different)
    assert not equivalent("x", "A", "x: n, A: n×n")


def test_cse_names_repeated_and_costly_parts():
    r = derive("-y^T log(softmax(W x))", wrt="W", shapes="W: m×n, x: n, y: m")
    text = r.cse()
    assert "where r = softmax(Wx)" in text and text.count("softmax") == 1
    assert derive("x^T x", wrt="x").cse() == "2x"
    # the residual of a least-squares fit is named, as the example writes it
    assert derive("(X θ - y)^T (X θ - y)", wrt="θ").cse() == "2Xᵀr   where r = Xθ − y"
    assert derive("‖X - U V^T‖_F^2", wrt="U").cse() == "2rV   where r = UVᵀ − X"
    # sums of outer products or of parts named anyway are not
    assert derive("b^T X^T X c", wrt="X", shapes="X: m×n, b: n, c: n").cse() == "X(bcᵀ + cbᵀ)"
    assert derive("softmax(W x)", wrt="x").cse() == "(diag(r) − rrᵀ)W   where r = softmax(Wx)"


@pytest.mark.parametrize("expr, wrt, shapes, expected, order", [
    pytest.param(*p.values, id=p.id) for p in __import__("test_identities").TABLE if not p.marks])
def test_no_result_is_larger_than_the_textbook_form(expr, wrt, shapes, expected, order):
    """Size = operators and function applications (matcalc.simplify.size); the textbook form is
    the identity table's hand-written closed form."""
    from matcalc.simplify.rewrite import size
    r = derive(expr, wrt=wrt, shapes=shapes, order=order)
    book = parse(expected, shapes)
    assert size(r.node) <= size(book), (
        f"{r} (size {size(r.node)}) is larger than the textbook {expected} (size {size(book)}): "
        "a simplification rule is missing")


def test_every_rule_has_a_chinese_name():
    from matcalc.explain.steps import RULE_NAMES_ZH
    for name in [r.__name__ for r in RULES] + ["elementwise_algebra", "transposes_out"]:
        assert name in RULE_NAMES_ZH, name


@pytest.mark.parametrize("a, b, shapes", [
    ("a^T b", "b^T a", "a: n, b: n"),
    ("tr(A B C)", "tr(C A B)", "A: m×n, B: n×p, C: p×m"),
    ("tr(A B)", "tr(B^T A^T)", "A: m×n, B: n×m"),
    ("a^T X b + 1", "1 + b^T X^T a", "a: m, X: m×n, b: n"),
    ("(A B C)^T", "C^T B^T A^T", "A: m×n, B: n×p, C: p×q"),
    ("x ⊙ y + z", "z + y ⊙ x", "x: n, y: n, z: n"),
])
def test_canonical_form_identifies_spellings(a, b, shapes):
    same = equivalent(a, b, shapes)
    assert same and same.how == "canonical form", str(same)


def test_elementwise_algebra_needs_no_numbers_and_keeps_shapes():
    r = derive("sum(y ./ x .* x)", wrt="y", shapes="x: n, y: n")   # ⊙ and ⊘ cancel: 𝟙
    assert str(r) == "𝟙"
    r.check()


def test_every_rule_declares_the_node_types_it_rewrites():
    from matcalc.simplify.rewrite import RULE_TYPES
    assert set(RULE_TYPES) == set(RULES)
