"""The language of CONTRACT §1: every spelling builds the same tree as its plain form, the
name rule, precedence, and a tree free of Lark leftovers."""
from __future__ import annotations

import pytest
from lark import Token, Tree

import matcalc
from matcalc.core import expr as E
from matcalc import parse
from matcalc.core.errors import MatcalcError

SHAPES = "A: n×n, B: n×n, C: n×n, X: m×n, a: n, b: n, x: n, y: n, c: scalar, θ: n, λ: scalar"

SPELLINGS = [
    # products and scaling
    ("A*B", "A B"), ("A @ B", "A*B"), ("(A) @ (B)", "A*B"), ("AB", "A*B"), ("(A)(B)", "A*B"), ("2X", "2*X"), ("2 X", "2*X"),
    ("X(θ)", "X*θ"), ("Xθ", "X*θ"), ("Ax", "A*x"), ("A x", "A*x"),
    # inner products
    ("a·b", "a^T*b"), ("dot(a, b)", "a^T*b"), ("a·b", "dot(a, b)"), ("c·x", "c*x"),
    # sums, differences, negation
    ("A − B", "A - B"), ("−x", "-x"), ("A + −B", "A + -B"), ("x / c", "x/c"),
    # element-wise
    ("A .* B", "A ⊙ B"), ("A ∘ B", "A .* B"), ("A ./ B", "A ⊘ B"), ("A .^ 2", "A.^2"),
    ("A .^ {2}", "A.^2"), ("A .^ (2)", "A.^2"),
    # Kronecker
    ("A ⊗ B", "kron(A, B)"),
    # transpose
    ("A^T", "A'"), ("Aᵀ", "A'"), ("A^⊤", "A'"), ("A^{T}", "A'"), ("x'y", "x^T y"),
    # inverse
    ("A^-1", "inv(A)"), ("A^{-1}", "inv(A)"), ("A⁻¹", "inv(A)"), ("A^−1", "inv(A)"),
    ("A^-T", "inv(A)^T"), ("A⁻ᵀ", "inv(A)^T"), ("A^{-T}", "inv(A)'"),
    # powers
    ("A^2", "A²"), ("A^{2}", "A^2"), ("c^3", "c³"), ("A^-2", "inv(A)^2"),
    # functions and aliases
    ("σ(x)", "sigmoid(x)"), ("max(0, x)", "relu(x)"), ("max(x, 0)", "relu(x)"),
    ("ln(x)", "log(x)"), ("sgn(x)", "sign(x)"), ("heaviside(x)", "step(x)"),
    # norms
    ("‖x‖", "norm2(x)"), ("||x||", "norm2(x)"), ("‖x‖_2", "norm2(x)"), ("‖X‖_F", "norm2(X)"),
    ("‖x‖^2", "norm2(x)^2"), ("‖x‖²", "norm2(x)^2"),
    # reductions and matrix functions
    ("tr(A)", "tr(A)"), ("det(A)", "det(A)"), ("logdet(A)", "logdet(A)"), ("sum(X)", "sum(X)"),
    ("mean(X)", "mean(X)"), ("logsumexp(x)", "logsumexp(x)"), ("softmax(x)", "softmax(x)"),
    ("diag(x)", "diag(x)"), ("diag(A)", "diag(A)"),
    # constants
    ("𝟙^T x", "ones(n)^T x"), ("A + I", "A + eye(n)"), ("X + zeros(m, n)", "X + zeros(m, n)"),
    # Greek spelled out
    ("X*theta", "Xθ"), ("lambda*x", "λ x"), ("A*theta - y", "Aθ − y"),
]


@pytest.mark.parametrize("spelling, plain", SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_spelling_builds_the_same_tree(spelling, plain):
    assert parse(spelling, SHAPES) == parse(plain, SHAPES)


def test_the_seed_example_two_ways():
    assert parse("(Xθ−y)^T(Xθ−y)") == parse("(X*theta - y)'*(X*theta - y)")
    assert parse("(Xθ−y)^T(Xθ−y)").shape == (1, 1)


def test_different_formulas_differ():
    assert parse("A B", SHAPES) != parse("B A", SHAPES)
    assert parse("A^T", SHAPES) != parse("A", SHAPES)


# The name rule -------------------------------------------------------------------------------

def names(text, shapes=None):
    out, stack = [], [parse(text, shapes)]
    while stack:
        n = stack.pop()
        if isinstance(n, E.Sym):
            out.append(n.name)
        stack.extend(n.children)
    return sorted(out)


@pytest.mark.parametrize("text, shapes, expected", [
    ("Xθ", None, ["X", "θ"]),
    ("Ax", None, ["A", "x"]),
    ("x1", None, ["x1"]),
    ("x_1", None, ["x_1"]),
    ("W_out x", None, ["W_out", "x"]),
    ("θ2", None, ["θ2"]),
    ("theta", None, ["θ"]),
    ("Sigma", "Sigma: n×n", ["Σ"]),
    ("beta x", "beta: scalar", ["x", "β"]),
    ("Xtheta", None, ["X", "θ"]),
    ("Xtrain w", "Xtrain: m×n, w: n", ["Xtrain", "w"]),
    ("W1 x", "W1: m×n", ["W1", "x"]),
    ("abx", "a: scalar, b: scalar", ["a", "b", "x"]),
])
def test_name_rule(text, shapes, expected):
    assert names(text, shapes) == sorted(expected)


def test_theta_and_its_greek_letter_are_one_name():
    t = parse("theta^T theta")
    assert t == parse("θ^T θ")


def test_a_dimension_name_used_as_a_value_is_a_size():
    node = parse("(1/N)*sum(e .^ 2)", "e: N")
    sizes = [n for n in _walk(node) if isinstance(n, E.Size)]
    assert sizes and str(sizes[0].dim) == "N"


def test_run_of_letters_before_parenthesis_must_be_a_function():
    with pytest.raises(matcalc.ParseError, match="unknown function `trace` — did you mean `tr`"):
        parse("trace(X)")


def test_single_letter_before_parenthesis_is_a_product():
    assert parse("X(θ + a)") == parse("X*(θ + a)")


# Precedence -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, plain", [
    ("A - B C", "A - (B*C)"),
    ("A -B", "A - B"),
    ("-c^2", "-(c^2)"),
    ("A + B * C", "A + (B*C)"),
    ("A .* B * C", "(A .* B) * C"),
    ("A^T B^T", "(A^T)*(B^T)"),
    ("-A B", "(-A)*B"),
    ("a^T b c", "(a^T*b)*c"),
    ("x' A x", "(x^T*A)*x"),
    ("A * -B", "A*(-B)"),
    ("A⁻¹B", "(A^-1)*B"),
])
def test_precedence(text, plain):
    assert parse(text, SHAPES) == parse(plain, SHAPES)


def test_unary_minus_is_looser_than_transpose():
    node = parse("-x'", "x: n")
    assert isinstance(node, E.MatMul) and isinstance(node.args[1], E.Transpose)


# Shapes on every node, no Lark leftovers -------------------------------------------------------

def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(n.children)


def test_every_node_has_a_shape_and_no_lark_objects_remain():
    from test_identities import TABLE
    for param in TABLE:
        expr, wrt, shapes = param.values[:3]
        for n in _walk(parse(expr, shapes)):
            assert isinstance(n, E.NODE_TYPES), f"{type(n)} left in the tree of {expr}"
            assert n.shape is not None and len(n.shape) == 2
            for value in vars(n).values() if hasattr(n, "__dict__") else ():
                assert not isinstance(value, (Tree, Token))
            for slot in type(n).__slots__:
                assert not isinstance(getattr(n, slot, None), (Tree, Token)), expr


def test_spans_point_into_the_source():
    text = "(Xθ − y)^T (Xθ − y)"
    node = parse(text)
    assert node.span is not None and text[node.span.start:node.span.end] == text


def test_nodes_are_hashable_and_frozen():
    node = parse("x^T A x")
    assert {node: 1}[parse("x'*A*x")] == 1
    with pytest.raises(Exception):
        node.args = ()


# Shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", [
    "X: m×n, θ: n", "X: m x n, θ: n", "X: m*n, θ: n", "X: (m, n), θ: (n)",
    {"X": ("m", "n"), "θ": ("n",)}, {"X": "m×n", "theta": ("n",)},
])
def test_shape_declaration_forms(spec):
    node = parse("X θ", spec)
    assert tuple(str(d) for d in node.shape) == ("m", "1")


def test_concrete_sizes_and_scalars():
    assert parse("X θ", "X: 100×3, θ: 3").shape[0] == 100
    assert parse("λ x", {"λ": (), "x": ("n",)}).shape[1] == 1
    assert parse("w", {"w": ("1", "n")}).shape[0] == 1


def test_undeclared_sizes_are_inferred_by_unification():
    node = parse("(Xθ − y)^T (Xθ − y)")
    x_theta = node.args[1].args[0]
    assert x_theta.args[1].shape[0] == x_theta.args[0].shape[1]    # θ has X's column count
    assert node.args[1].args[1].args[1].shape[0] == x_theta.args[0].shape[0]   # y: X's rows


def test_scalar_broadcasting():
    assert parse("x + 1", "x: n").shape[0] != 1
    assert parse("1 - s", "s: n").shape == parse("s", "s: n").shape
    assert parse("1 ./ x", "x: n").shape == parse("x", "x: n").shape
    assert parse("x + c", "x: n, c: scalar").shape == parse("x", "x: n").shape


def test_modifiers_are_kept():
    from matcalc.core.shapes import parse_shapes
    decls = parse_shapes("A: n×n symmetric, S: n×n spd, D: n×n diagonal")
    assert decls.modifiers("A") == {"symmetric"}
    assert decls.modifiers("S") == {"spd"}
    assert decls.modifiers("D") == {"diagonal"}


def test_undeclared_name_that_only_fits_as_a_scalar_is_a_scalar():
    """`tr((I + c A)^-1)` was refused: c was taken for a vector (cannot multiply c by A)."""
    import numpy as np
    from matcalc import derive
    r = derive("tr((I + c A)^-1)", wrt="c", shapes="A: n×n")
    assert r.shape == () and r.decls.decls["c"].shape == (1, 1)
    rng = np.random.default_rng(0)
    A, c, h = rng.normal(size=(4, 4)) * 0.3, 0.4, 1e-6
    f = lambda s: np.trace(np.linalg.inv(np.eye(4) + s * A))     # noqa: E731
    want = (f(c + h) - f(c - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(r.evaluate({"A": A, "c": c})).item(), want, rtol=1e-6)


def test_two_names_that_could_each_be_the_scalar_are_refused_with_a_hint():
    with pytest.raises(matcalc.ShapeError) as err:
        parse("x y")
    assert "scalar" in str(err.value)


RATIONAL_POWERS = [("s^(1/2)", "s^0.5"), ("s^{1/2}", "s^0.5"), ("x .^ (1/2)", "x .^ 0.5"),
                   ("x .^ (-3/2)", "x .^ -1.5"), ("s^(-1/2)", "(s^-1)^0.5"), ("½x", "0.5*x"),
                   ("¾s", "0.75*s"), ("½‖x‖^2", "0.5*‖x‖^2"), ("A^(2)", "A^2")]


@pytest.mark.parametrize("spelling, plain", RATIONAL_POWERS, ids=[s for s, _ in RATIONAL_POWERS])
def test_bracketed_rational_exponents_and_vulgar_fractions_are_numbers(spelling, plain):
    """`s^(1/2)`, `x .^ (1/2)` and `½x` (CONTRACT §1) were refused with a ParseError."""
    shapes = "s: scalar, x: n, A: n×n"
    assert parse(spelling, shapes) == parse(plain, shapes)


def test_an_exponent_that_divides_by_zero_is_a_parse_error():
    with pytest.raises(matcalc.ParseError):
        parse("s^(1/0)", "s: scalar")


NORM_PRODUCTS = [("λ‖x‖²", "λ*‖x‖^2"), ("2‖x‖^2", "2*‖x‖^2"), ("½‖x‖²", "0.5*‖x‖^2"),
                 ("‖a‖‖b‖", "‖a‖*‖b‖"), ("‖A‖_F‖B‖_F", "‖A‖_F*‖B‖_F"), ("||a|| ||b||", "‖a‖*‖b‖"),
                 ("x‖b‖", "x*‖b‖"), ("‖a − ‖b‖x‖", "‖a - ‖b‖*x‖"), ("‖‖a‖x‖", "‖(‖a‖*x)‖")]


@pytest.mark.parametrize("spelling, plain", NORM_PRODUCTS, ids=[s for s, _ in NORM_PRODUCTS])
def test_a_factor_before_a_norm_multiplies_it(spelling, plain):
    """`λ‖x‖²` and `‖a‖‖b‖` (CONTRACT §1) asked for a `*` before the norm."""
    shapes = "λ: scalar, a: n, b: n, x: n, A: m×n, B: m×n"
    assert parse(spelling, shapes) == parse(plain, shapes)


def test_declared_I_is_still_the_identity_with_the_declared_size():
    from matcalc.core import expr as E
    node = parse("I + A", "I: n×n")
    assert type(node.args[0]) is E.Identity and node.shape == parse("A", "A: n×n").shape
    with pytest.raises(MatcalcError) as err:
        parse("I x", "I: m×n")
    assert "identity" in str(err.value) and err.value.span is not None


@pytest.mark.parametrize("spec, rows, cols", [("X: mxn", "m", "n"), ("X: nxm", "n", "m"),
                                              ("X: 3x4", "3", "4"), ("X: m x n", "m", "n")])
def test_shape_string_glued_with_x_means_rows_by_cols(spec, rows, cols):
    assert tuple(str(d) for d in parse("X", spec).shape) == (rows, cols)


def test_shape_string_with_three_glued_sizes_is_an_error():
    with pytest.raises(MatcalcError) as err:
        parse("X", "X: mxnxp")
    assert "at most two sizes" in str(err.value)


def test_capitals_before_a_bracket_multiply_instead_of_being_an_unknown_function():
    """`AI(AAᵀ)⁻¹`, printed by matcalc, once failed to read back: unknown function `AI`."""
    assert parse("AI(AAᵀ)⁻¹") == parse("A*I*inv(A*A^T)")
    assert parse("AB(x)ᵀ") == parse("A*B*x^T")


@pytest.mark.parametrize("spelling, explicit, shapes", [
    ("AB (x - y)", "A*B*(x - y)", "A: n×n, B: n×n, x: n, y: n"),
    ("sum(cB (A + B)^Ty)", "sum(c*B*(A + B)^T*y)", "c: scalar, A: n×n, B: n×n, y: n"),
    ("z^TXB (A + B)²", "z^T*X*B*(A + B)^2", "z: n, X: n×n, A: n×n, B: n×n"),
    ("tr(cy (x − y)ᵀ(A + B)')", "tr(c*y*(x − y)^T*(A + B)^T)",
     "c: scalar, A: n×n, B: n×n, x: n, y: n"),
])
def test_run_of_letters_then_a_space_then_a_bracket_is_a_product(spelling, explicit, shapes):
    """`AB (x − y)` was refused as an unknown function `AB`: only a run directly before `(`
    must be a function name."""
    assert parse(spelling, shapes) == parse(explicit, shapes)


def test_norm_closes_after_a_transpose_written_with_the_top_symbol():
    """`‖X^⊤‖_F` was a ParseError ("unexpected _F"): the bar after ⊤ was taken as opening a
    new norm; found by the slow second-derivative property."""
    shapes = "X: m×n"
    assert parse("‖X^⊤‖_F", shapes) == parse("‖X^T‖_F", shapes)
    assert parse("‖((X)^T)^⊤‖_F^2", shapes) == parse("‖X‖_F^2", shapes) or \
        str(parse("‖((X)^T)^⊤‖_F^2", shapes)) == "‖(Xᵀ)ᵀ‖_F²"
