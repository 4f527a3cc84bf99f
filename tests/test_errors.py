"""Malformed input: every mistake gives the right error class, a message in a user's words and
a caret at the right column — through the API and through the CLI (exit 1, no traceback)."""
from __future__ import annotations

import subprocess
import sys

import pytest

import matcalc
from matcalc import MatcalcError, ParseError, ShapeError, UnsupportedError
from matcalc.cli import main

MN = "X: m×n, y: m, A: n×n, B: n×n, x: n, z: p"

# (input, shapes, error class, message fragment, caret column (1-based))
MALFORMED = [
    ("(A + B", None, ParseError, "missing closing parenthesis", 1),
    ("sum(", None, ParseError, "missing closing parenthesis", 4),
    ("A + B)", None, ParseError, "unmatched closing parenthesis", 6),
    ("(A))", None, ParseError, "unmatched closing parenthesis", 4),
    ("()", None, ParseError, "empty parentheses", 1),
    ("A *", None, ParseError, "operator `*` needs a right operand", 3),
    ("A +", None, ParseError, "operator `+` needs a right operand", 3),
    ("A B +", None, ParseError, "operator `+` needs a right operand", 5),
    ("A ⊗", None, ParseError, "operator `⊗` needs a right operand", 3),
    ("x ./ ", None, ParseError, "operator `./` needs a right operand", 3),
    ("* A", None, ParseError, "operator `*` needs a left operand", 1),
    ("A + * B", None, ParseError, "operator `*` needs a left operand", 5),
    ("A ++ B", None, ParseError, "operator `+` needs a left operand", 4),
    ("A^", None, ParseError, "`^` needs an exponent", 2),
    ("A^x", None, ParseError, "a power with a symbolic exponent", 3),
    ("A ^ ^ T", None, ParseError, "`^` needs an exponent", 3),
    ("A .^", None, ParseError, "`.^` needs an exponent: a number", 3),
    ("trace(X)", None, ParseError, "unknown function `trace` — did you mean `tr`?", 1),
    ("transpose(A)", None, ParseError, "unknown function `transpose` — did you mean `^T`?", 1),
    ("expp(x)", None, ParseError, "unknown function `expp` — did you mean `exp`?", 1),
    ("A + foo(x)", None, ParseError, "unknown function `foo`", 5),
    ("tr(X, Y)", None, ParseError, "`tr` takes 1 argument, got 2", 1),
    ("sqrt(x, y)", None, ParseError, "`sqrt` takes 1 argument, got 2", 1),
    ("kron(A)", None, ParseError, "`kron` takes 2 arguments, got 1", 1),
    ("exp()", None, ParseError, "`exp` takes 1 argument, got 0", 1),
    ("ones(x+1)", None, ParseError, "the arguments of `ones` are sizes", 6),
    ("", None, ParseError, "empty expression", 1),
    ("   ", None, ParseError, "empty expression", 1),
    ("A $ B", None, ParseError, "unexpected character `$`", 3),
    ("A $ B", None, ParseError, "unexpected character `$`", 3),
    ("|x", None, ParseError, "missing closing `|` of an absolute value", 1),
    ("A,B", None, ParseError, "unexpected `,`", 2),
    ("‖x", None, ParseError, "missing closing ‖", 1),
    ("2 3", None, ParseError, "a number cannot follow an operand directly", 3),
    ("X y", MN, ShapeError, "cannot multiply X (m×n) by y (m×1): inner sizes n and m differ", 1),
    ("A + X y", MN, ShapeError, "cannot multiply X (m×n) by y (m×1)", 5),
    ("X^T x", MN, ShapeError, "cannot multiply Xᵀ (n×m) by x (n×1): inner sizes m and n differ",
     1),
    ("x z", MN, ShapeError, "inner sizes 1 and p differ", 1),
    ("x + z", MN, ShapeError, "cannot add x (n×1) and z (p×1): shapes differ", 1),
    ("x .* z", MN, ShapeError, "cannot multiply element-wise x (n×1) and z (p×1)", 1),
    ("x ./ z", MN, ShapeError, "cannot divide element-wise x (n×1) and z (p×1)", 1),
    ("x / z", MN, ShapeError, "cannot divide by z (p×1): `/` divides by a scalar", 1),
    ("det(X)", MN, ShapeError, "det needs a square matrix, but X is m×n", 1),
    ("inv(X)", MN, ShapeError, "the inverse needs a square matrix, but X is m×n", 1),
    ("X^-1", MN, ShapeError, "the inverse needs a square matrix", 1),
    ("tr(X)", MN, ShapeError, "tr needs a square matrix, but X is m×n", 1),
    ("logdet(X)", MN, ShapeError, "logdet needs a square matrix", 1),
    ("diag(X)", MN, ShapeError, "diag needs a square matrix", 1),
    ("x^2", MN, ShapeError, "the matrix power ^2 needs a square matrix, but x is n×1", 1),
    ("softmax(X)", MN, ShapeError, "softmax needs a column vector, but X is m×n", 1),
    ("logsumexp(X)", MN, ShapeError, "logsumexp needs a column vector", 1),
    ("dot(x, z)", MN, ShapeError, "cannot take the inner product of x (n×1) and z (p×1)", 1),
    ("x·A", MN, ShapeError, "the inner product · needs two vectors", 1),
    ("1 + det(x)", None, ShapeError, "det needs a square matrix", 5),
    ("max(x)", None, ParseError, "`max` takes 2 arguments, got 1", 1),
    # ‖X‖₂ of a matrix was refused until the spectral norm arrived; a precondition instead:
    ("1 + λ_max(A + B)", MN, ShapeError, "needs a symmetric matrix", 5),
    ("expm(X)", MN, ShapeError, "expm needs a square matrix", 1),
    # digits after a declared name of several letters were an AttributeError from the engine:
    ("ab3", "ab: n", ParseError, "the declared name ab followed by 3", 1),
    ("2 Xtrain2 w", "Xtrain: m×n, w: n", ParseError, "declare Xtrain2 to use it", 3),
]

BAD_SHAPES = [
    ("X y", "X m×n", "needs the form `name: shape`"),
    ("X y", "X: ", "missing shape"),
    ("A", "A: m×n symmetric", "needs a square shape"),
    ("X", "X: 0×n", "must be positive"),
    ("X", "X: m×n×p", "at most two sizes"),
    ("X", "X: m×?", "is not a size"),
]


@pytest.mark.parametrize("text, shapes, cls, message, column", MALFORMED,
                         ids=[f"{i}:{m[0]}" for i, m in enumerate(MALFORMED)])
def test_api_error(text, shapes, cls, message, column):
    with pytest.raises(cls) as info:
        matcalc.parse(text, shapes)
    err = info.value
    assert isinstance(err, MatcalcError) and isinstance(err, ValueError)
    assert message in str(err)
    assert err.column == column, str(err)
    caret_line = str(err).splitlines()[-1]
    assert caret_line.index("^") - 2 + 1 == column


@pytest.mark.parametrize("text, shapes, cls, message, column", MALFORMED,
                         ids=[f"{i}:{m[0]}" for i, m in enumerate(MALFORMED)])
def test_cli_error(text, shapes, cls, message, column, capsys):
    argv = [text] + (["--shapes", shapes] if shapes else [])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err and "Traceback" not in err
    assert err.rstrip("\n").splitlines()[-1].index("^") - 2 + 1 == column


@pytest.mark.parametrize("text, shapes, message", BAD_SHAPES)
def test_bad_shape_declarations(text, shapes, message, capsys):
    with pytest.raises(ParseError, match="in shapes") as info:
        matcalc.parse(text, shapes)
    assert message in str(info.value)
    assert main([text, "--shapes", shapes]) == 1
    assert message in capsys.readouterr().err


def test_at_least_forty_malformed_inputs():
    assert len(MALFORMED) + len(BAD_SHAPES) >= 40


def test_errors_while_deriving():
    with pytest.raises(MatcalcError, match="does not occur"):
        matcalc.derive("x^T x", wrt="q")
    with pytest.raises(MatcalcError, match="layout"):
        matcalc.derive("x^T x", wrt="x", layout="sideways")
    with pytest.raises(MatcalcError, match="order"):
        matcalc.derive("x^T x", wrt="x", order=0)
    with pytest.raises(UnsupportedError, match="more than\nfour indices|four indices"):
        matcalc.derive("logdet(X)", wrt="X", order=3)
    with pytest.raises(ShapeError):
        matcalc.derive("X y", wrt="y", shapes=MN)


def test_cli_subprocess_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "matcalc", "trace(X)", "--wrt", "X"],
                          capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 1
    assert "did you mean `tr`" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "matcalc", "x", "--order", "two"],
                          capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 2


def test_a_span_from_another_text_never_places_the_caret(monkeypatch):
    """The simplifier's tables can hand a later call a node parsed from an earlier text, with
    that text's span; an error raised on it while differentiating puts its caret under the
    whole formula, not at a place the span names in the other text."""
    import matcalc.calculus.derive as D
    from matcalc.core.errors import Span

    def stale(*args, **kwargs):
        raise UnsupportedError("no rule here", span=Span(3, 9))

    monkeypatch.setattr(D, "first_derivative", stale)
    with pytest.raises(UnsupportedError) as info:
        matcalc.derive("x^T A x + c", wrt="x", shapes="A: n×n, c: scalar")
    caret = str(info.value).splitlines()[-1]
    assert caret.strip() == "^" * len("x^T A x + c")


def test_an_error_on_a_part_of_this_text_keeps_its_caret(monkeypatch):
    import matcalc.calculus.derive as D
    from matcalc.core.errors import Span

    def on_a_part(*args, **kwargs):
        raise UnsupportedError("no rule here", span=Span(0, 7))      # x^T A x, a real part

    monkeypatch.setattr(D, "first_derivative", on_a_part)
    with pytest.raises(UnsupportedError) as info:
        matcalc.derive("x^T A x + c", wrt="x", shapes="A: n×n, c: scalar")
    assert str(info.value).splitlines()[-1] == "  ^^^^^^^"
