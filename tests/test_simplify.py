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


# Scalar factors in one normal form (textbook forms beyond the identity table) ------------------

@pytest.mark.parametrize("expr, wrt, shapes, printed", [
    # was 2(A/((xᵀx)) − ((xᵀx)⁻²xᵀAx)I)x, with a doubled parenthesis
    ("x^T A x / (x^T x)", "x", "A: n×n symmetric, x: n", "2(A − (xᵀAx)I/(xᵀx))x/(xᵀx)"),
    # was (b − ‖b‖((‖a‖‖b‖)⁻²‖b‖aᵀb)a)/((‖a‖‖b‖))
    ("a^T b / (‖a‖ ‖b‖)", "a", "a: n, b: n", "(b − (aᵀb)a/‖a‖²)/(‖a‖·‖b‖)"),
    # was −det(X⁻¹)X⁻ᵀ
    ("det(X^-1)", "X", "X: n×n", "−X⁻ᵀ/det(X)"),
    # was sign(det(X))det(X)X⁻ᵀ/abs(det(X))
    ("log(abs(det(X)))", "X", "X: n×n", "X⁻ᵀ"),
    ("abs(det(X))", "X", "X: n×n", "abs(det(X))X⁻ᵀ"),
    # was σ(1 − σ)((1 − t)/(1 − σ) − t/σ)(…)xᵀ
    ("-(t*log(σ(v^T tanh(W x))) + (1 - t)*log(1 - σ(v^T tanh(W x))))", "W",
     "v: h, W: h×n, x: n, t: scalar", "(σ(vᵀtanh(Wx)) − t)((1 − tanh(Wx)⊙²) ⊙ v)xᵀ"),
    # was −(1 + xᵀx)⁻²x/sqrt((1 + xᵀx)⁻¹) and −(xᵀx)⁻²((xᵀx)⁻¹)^(-0.5)x
    ("sqrt(1/(1 + x^T x))", "x", "x: n", "−x/(1 + xᵀx)^1.5"),
    ("(x^T x)^(-0.5)", "x", "x: n", "−x/(xᵀx)^1.5"),
    ("sum(log(cosh(X w - y)))", "w", "X: N×n, w: n, y: N", "Xᵀtanh(Xw − y)"),
    # √(u²) = |u| (u may be negative), then u/|u| = sign(u); sign(u)|u| = u
    ("sqrt((a^T x)^2)", "x", "a: n, x: n", "sign(aᵀx)a"),
    ("(a^T x)^2 / abs(a^T x)", "x", "a: n, x: n", "sign(aᵀx)a"),
    ("abs(t)^2", "t", "t: scalar", "2t"),
    ("exp(a^T x) * exp(b^T x)", "x", "a: n, b: n, x: n", "exp((a + b)ᵀx)(a + b)"),
    ("sum(sqrt(1 + (X w - y) .^ 2) - 1)", "w", "X: N×n, w: n, y: N",
     "Xᵀ((Xw − y) ⊘ sqrt(1 + (Xw − y)⊙²))"),
    ("sum((X w - y) .^ 2 ./ (c + (X w - y) .^ 2))", "w", "X: N×n, w: n, y: N, c: scalar",
     "2cXᵀ((Xw − y) ⊘ (c + (Xw − y)⊙²)⊙²)"),
])
def test_scalar_factors_collect_and_cancel(expr, wrt, shapes, printed):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert str(r) == printed
    r.check()


def test_hessian_of_the_rayleigh_quotient_prints_as_a_matrix():
    """It printed with (xᵀ ⊗ I)(vec(…)xᵀ + …) although it is an n×n matrix."""
    from matcalc.core import expr as E
    r = derive("x^T A x / (x^T x)", wrt="x", shapes="A: n×n symmetric, x: n", order=2)
    stack = [r.node]
    while stack:
        n = stack.pop()
        assert type(n) not in (E.Kron, E.Vec, E.Commutation), str(r)
        stack.extend(n.children)
    r.check()


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("sqrt((a^T x)^2)", "x", "a: n, x: n"),          # (u²)^½ = |u|, not u
    ("((a^T x)^2)^(1.5)", "x", "a: n, x: n"),
    ("sign(a^T x) * (a^T x)^3", "x", "a: n, x: n"),  # sign(u)u³ = |u|u², not u³
    ("(a^T x)^2 / abs(a^T x)", "x", "a: n, x: n"),
    ("sqrt(t)^2 * sqrt(t)", "t", "t: scalar"),
])
def test_powers_are_opened_only_where_that_is_an_identity(expr, wrt, shapes):
    derive(expr, wrt=wrt, shapes=shapes).check()


def test_cse_names_a_repeated_piece_only_when_that_shortens_the_print():
    """A layer-norm gradient repeated the variance under its square root; the Rayleigh quotient's
    xᵀx twice is shorter left as it is (it was named r = (xᵀx)⁻¹, longer than without)."""
    r = derive("sum(g .* (x - mean(x)) / sqrt(mean((x - mean(x)) .^ 2) + ε))", wrt="x",
               shapes="g: n, x: n, ε: scalar")
    text = r.cse()
    assert text.endswith("where r = mean((x − mean(x))⊙²) + ε")
    assert len(text) < len(str(r)) and text.count("mean((") == 1
    assert r.cse("text").endswith("where r = mean((x - mean(x)).^2) + ε")
    assert r.cse("latex").endswith(
        r"\quad\text{where } r = \operatorname{mean}\left(\left(x - \operatorname{mean}"
        r"\left(x\right)\right)^{\circ 2}\right) + \epsilon")
    q = derive("x^T A x / (x^T x)", wrt="x", shapes="A: n×n symmetric, x: n")
    assert q.cse() == str(q)
    with pytest.raises(ValueError, match="unknown style"):
        q.cse("html")


def test_cse_definitions_read_back():
    """The body with every name's definition substituted has the result's values."""
    import numpy as np
    from matcalc.language.parser import parse_with_shapes
    from matcalc.numeric.evaluate import evaluate_tree
    shapes = "g: n, x: n, ε: scalar"
    r = derive("sum(g .* (x - mean(x)) / sqrt(mean((x - mean(x)) .^ 2) + ε))", wrt="x",
               shapes=shapes)
    body, defs = r.cse("text").split("   where ")
    env = {"g": np.arange(1.0, 5.0).reshape(4, 1), "x": np.array([[0.3], [-1.0], [2.0], [0.5]]),
           "ε": np.array([[0.1]])}
    sizes = {d: 4 for d in r.node.shape[0].free_symbols}
    for d in defs.split(", "):
        name, rhs = d.split(" = ")
        node, _ = parse_with_shapes(rhs, shapes)
        env[name] = evaluate_tree(node, env, sizes)
        shapes += f", {name}: {'n' if node.shape[0] != 1 else 'scalar'}"
    node, _ = parse_with_shapes(body, shapes)
    np.testing.assert_allclose(evaluate_tree(node, env, sizes), evaluate_tree(r.node, env, sizes),
                               rtol=1e-10)
