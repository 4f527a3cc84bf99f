"""The LALR driver (matcalc/language/lalr.py) reads exactly what Lark reads: on every formula it
builds the tree Lark's parse tree and the builder build, with the same spans (carets) and notes,
and on every text Lark refuses it gives up, so the error is Lark's. Lark is the reference
implementation of grammar/matcalc.lark here, not matcalc."""
from __future__ import annotations

import random

import pytest

from matcalc.core import expr as E
from matcalc.core.shapes import Shapes, parse_shapes
from matcalc.language import parser as P
from matcalc.language.lalr import FAILED

from test_identities import TABLE


def _lark(marked: str, shapes: Shapes):
    """The raw tree as Lark reads it: its parse tree through the builder's methods."""
    builder = P.ToExpr(shapes)
    builder.text = marked
    return P.build_tree(builder, P.lark_parser().parse(marked))


def _outcome(read, marked, spec):
    shapes = Shapes(dict(parse_shapes(spec).decls), [])
    try:
        return "ok", read(marked, shapes), shapes.notes
    except Exception as err:            # compared below: type, message, caret
        return "error", (type(err).__name__, str(err), getattr(err, "span", None)), None


def _difference(a, b) -> str | None:
    """Where two raw trees differ, spans included (node equality leaves spans out)."""
    stack = [(a, b, "tree")]
    while stack:
        x, y, where = stack.pop()
        if type(x) is not type(y):
            return f"{where}: {type(x).__name__} vs {type(y).__name__}"
        if not isinstance(x, E.Node):
            if x != y:
                return f"{where}: {x!r} vs {y!r}"
            continue
        for name in type(x).__dataclass_fields__:
            u, v = getattr(x, name), getattr(y, name)
            if isinstance(u, tuple) and u and isinstance(u[0], E.Node):
                if not isinstance(v, tuple) or len(u) != len(v):
                    return f"{where}.{name}: {len(u)} children vs {v!r}"
                stack.extend((p, q, f"{where}.{name}[{i}]") for i, (p, q) in enumerate(zip(u, v)))
            else:
                stack.append((u, v, f"{where}.{name}"))
    return None


def _check(text: str, spec=None) -> None:
    marked = P.mark_abs_bars(P.mark_closing_bars(P.subscript_digits(text)))
    ours, lark = _outcome(P.read, marked, spec), _outcome(_lark, marked, spec)
    assert ours[0] == lark[0], (text, ours, lark)
    if ours[0] == "error":
        assert ours[1] == lark[1], text
    else:
        assert _difference(ours[1], lark[1]) is None, (text, _difference(ours[1], lark[1]))
        assert ours[2] == lark[2], text


def test_the_driver_reads_this_grammar():
    """Lark's tables for grammar/matcalc.lark suit the driver (else every formula would be read
    by Lark, correctly but slowly)."""
    driver = P._driver()
    assert driver is not None
    assert driver.parse("x^T A x", P.ToExpr(Shapes())) is not FAILED


SPELLINGS = [
    "x", "(A x - b)^T (A x - b)", "x' A x", "xᵀAx", "X(θ)ᵀ", "AAᵀ", "ABᵀ⁻¹", "cS⁻¹", "2AAᵀ",
    "W₂σ(W₁x)", "σ(w^T x) + log1p(x)", "log det(X)", "tr(A^{-1} B)", "A^(-1/2)", "x .^ (-3/2)",
    "X^{-1/2}", "A^{+}", "A⁺ + B†", "x^½", "‖x‖‖y‖", "λ‖x‖²", "‖x − ‖y‖‖", "||x||_2 + ‖A‖_F",
    "‖X‖_*", "‖x‖₁", "|x| + |y|", "√x", "𝟙ᵀx", "K(m,n) vec(X)", "K(θ)", "eye(n) ⊗ A", "ones(m, n)",
    "zeros(n)", "max(x, 0) + min(a, b)", "A \\ b", "A ⊙ B ./ C .^ 2", "x⊙² + y∘⁻¹", "A.T x",
    "softmax(W_out h_2) · 𝟙", "kron(A, B) ⊗ C", "2.5e-3 x / c", "Xtrain θ", "theta_1 + alpha x",
    "λ_max(S) + σ_max(A)", "L_exp(X, E)", "L_pow(X, E, 2)", "expm1(x)", "f(x)", "AI(x)",
    "a/b c", "(a)/(b c)", "x^a", "x^", "(x", "x)", "‖x", "|x", "x + * y", "", " ", "x ,y",
    "1e999", "x2 3", "中", "x ‖", "log", "log + x", "sin x", "foo(x)", "A^{-T}", "x^{T}",
]


@pytest.mark.parametrize("text", SPELLINGS)
def test_spellings_read_as_lark_reads_them(text):
    if not text.strip():
        return
    _check(text, "A: n×n, B: n×n, C: n×n, X: n×n, S: n×n symmetric, x: n, y: n, c: scalar")
    _check(text)


def test_the_identity_table_reads_as_lark_reads_it():
    for case in TABLE:
        _check(case.values[0], case.values[2])


def test_generated_formulas_read_as_lark_reads_them():
    """Random formulas of the language, and near misses (a piece inserted or cut out)."""
    rnd = random.Random(20261201)
    names = ["x", "y", "A", "B", "X", "θ", "λ", "W1", "W_1", "A_{2}", "Xtrain", "AB", "I", "σ",
             "alpha", "theta_1", "n", "T", "xy"]
    calls = ["log", "det", "tr", "exp", "sum", "norm2", "σ", "sigmoid", "softmax", "diag",
             "inv", "tanh", "abs", "relu"]
    posts = ["^T", "^{T}", "^-1", "^{-1}", "^(-1/2)", "^2", ".^2", ".^(-1)", "'", ".T", "ᵀ",
             "⁻¹", "⁻ᵀ", "⁺", "²", "⊙²", "^{+}", "^⊤", "^-T", "^½"]
    ops = ["+", "-", "−", "*", "@", "/", ".*", "./", "⊙", "⊘", "⊗", "·", "\\", "", " "]
    junk = ["(", ")", "{", "}", ",", "|", "‖", "^", "_", "$", "é", "..", "T", "1", "𝟙"]

    def space():
        return rnd.choice(["", "", " ", "  "])

    def atom(depth):
        r = rnd.random()
        if depth > 3 or r < 0.4:
            return rnd.choice(names)
        if r < 0.5:
            return rnd.choice(["1", "2", "0.5", "3e2", ".5", "½", "𝟙"])
        if r < 0.6:
            return "(" + space() + formula(depth + 1) + space() + ")"
        if r < 0.75:
            return rnd.choice(calls) + "(" + formula(depth + 1) + ")"
        if r < 0.8:
            return "log det(" + formula(depth + 1) + ")"
        if r < 0.86:
            return "‖" + formula(depth + 1) + "‖" + rnd.choice(["", "_F", "_2", "₁", "²"])
        if r < 0.9:
            return "|" + formula(depth + 1) + "|"
        if r < 0.95:
            return rnd.choice(["K(m,n)", "eye(n)", "ones(m)", "max(x, 0)", "dot(x, y)",
                               "kron(A, B)", "solve(A, b)", "λ_max(S)"])
        return "-" + atom(depth + 1)

    def term(depth):
        out = atom(depth)
        while rnd.random() < 0.3:
            out += rnd.choice(posts)
        return out

    def formula(depth=0):
        out = term(depth)
        while rnd.random() < 0.5:
            out += space() + rnd.choice(ops) + space() + term(depth)
        return out

    specs = [None, "x: n, A: n×n", "A: m×n, x: n, y: m", "X: n×n symmetric, θ: n, λ: scalar"]
    for _ in range(1500):
        text = formula()
        if rnd.random() < 0.25:
            k = rnd.randrange(len(text) + 1)
            text = text[:k] + rnd.choice(junk) + text[k + rnd.randint(0, 2):]
        if text.strip():
            _check(text, rnd.choice(specs))
