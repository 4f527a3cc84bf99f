"""Derivations (issue 6): the seed examples' sequence of intermediates and shapes, every step
kind in Chinese, LaTeX rendering, costs, and the Jupyter hooks."""
from __future__ import annotations

import pytest

import matcalc
from matcalc import chain_cost, derive
from matcalc.explain.steps import TEMPLATES, Step
from matcalc.cli import main


def kinds(steps):
    return [s.kind for s in steps]


def test_least_squares_follows_seed_000():
    """令 z = Xθ − y, C = zᵀz; ∂C/∂z = 2z (m×1), ∂z/∂θ = X (m×n); (∂z/∂θ)ᵀ ∂C/∂z = 2Xᵀ(Xθ − y)."""
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", shapes="X: m×n, θ: n, y: m")
    steps = r.explain(function="C")
    assert kinds(steps) == ["define", "function", "local", "local", "chain", "substitute",
                            "result"]
    lines = steps.render().splitlines()
    assert lines[0] == "1. let z = Xθ − y  (m×1)"
    assert lines[1] == "2. then C = zᵀz  (scalar)"
    assert lines[2] == "3. local derivative: ∂C/∂z = 2z  (m×1)"
    assert lines[3] == "4. local derivative: ∂z/∂θ = X  (m×n)"
    assert lines[4] == ("5. chain rule: ∂C/∂θ = (∂z/∂θ)ᵀ · ∂C/∂z = 2Xᵀz;  shapes "
                        "(n×m)(m×1) = n×1 ✓")
    assert lines[5] == "6. substitute z: ∂C/∂θ = 2Xᵀ(Xθ − y)  (n×1)"
    zh = steps.render("zh").splitlines()
    assert zh[0] == "1. 令 z = Xθ − y（m×1）" and "核对维度 (n×m)(m×1) = n×1 ✓" in zh[4]


def test_neuron_follows_seed_001():
    """z = w·x + b (scalar), activation = max(0, z); ∂/∂z = step(z), ∂z/∂w = x."""
    r = derive("max(0, w·x + b)", wrt="w", shapes="w: n, x: n, b: scalar")
    lines = r.explain().render().splitlines()
    assert lines[0] == "1. let z = wᵀx + b  (scalar)"
    assert lines[1] == "2. then f = relu(z)  (scalar)"
    assert lines[2] == "3. local derivative: ∂f/∂z = step(z)  (scalar)"
    assert lines[3] == "4. local derivative: ∂z/∂w = x  (n×1)"
    assert "(n×1)(1×1) = n×1 ✓" in lines[4]
    assert lines[5] == "6. substitute z: ∂f/∂w = step(wᵀx + b)x  (n×1)"


def test_matrix_intermediate_passes_back_like_seed_000_section_4():
    r = derive("sum(exp(A X + B))", wrt="X", shapes="A: m×k, X: k×n, B: m×n")
    lines = r.explain().render().splitlines()
    assert "backward through z: ∂f/∂X = Aᵀ∂f/∂z  (k×n)" in lines[3]
    assert "(k×m)(m×n) = k×n ✓" in lines[4]


def test_two_layer_jacobian_chain():
    r = derive("tanh(W2 tanh(W1 x))", wrt="x", shapes="W1: h×n, W2: m×h, x: n")
    text = r.explain().render()
    assert "(m×m)(m×h)(h×n) = m×n ✓" in text and "let z1 = W1x  (h×1)" in text


def test_direct_derivation_lists_simplifications():
    r = derive("x^T A x", wrt="x", shapes="A: n×n, x: n")
    steps = r.explain()
    assert kinds(steps)[0] == "direct" and "simplify" in kinds(steps)
    assert steps[-1].render() == "result: ∂f/∂x = (A + Aᵀ)x  (n×1)"


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_every_step_kind_has_english_and_chinese(kind):
    assert set(TEMPLATES[kind]) == {"en", "zh"}
    assert all(ch for ch in TEMPLATES[kind]["zh"] if "\u4e00" <= ch <= "\u9fff")


def test_every_step_kind_renders_in_every_style():
    seen = set()
    for expr, wrt, shapes, structure in [
            ("(Xθ − y)^T (Xθ − y)", "θ", "X: m×n, θ: n, y: m", None),
            ("sum(exp(A X + B))", "X", "A: m×k, X: k×n, B: m×n", None),
            ("x^T A x", "x", "A: n×n, x: n", None),
            ("tr(A X)", "X", "X: n×n symmetric", "structured"),
            ("cᵀ solve(A, b)", "b", "A: n×n, b: n, c: n", None)]:
        for step in derive(expr, wrt=wrt, shapes=shapes, structure=structure).explain():
            seen.add(step.kind)
            for lang in ("en", "zh"):
                for style in ("unicode", "text", "latex"):
                    assert step.render(lang, style)
    assert seen == set(TEMPLATES)


def test_latex_steps():
    r = derive("(Xθ − y)^T (Xθ − y)", wrt="θ", shapes="X: m×n, θ: n, y: m")
    chain = r.explain()[4].render(style="latex")
    assert "\\frac{\\partial f}{\\partial \\theta}" in chain and "\\checkmark" in chain
    assert r.explain()._repr_latex_().startswith("$\\begin{array}")


def test_seed_003_costs():
    """x (10) → z1 (6) → z2 (8) → y (2) → ℓ (1): forward 660, reverse 124 multiplications."""
    assert chain_cost([10, 6, 8, 2, 1]) == {"forward": 660, "reverse": 124}
    r = derive("sum(tanh(W3 tanh(W2 tanh(W1 x))))", wrt="x",
               shapes="W1: a×n, W2: b×a, W3: c×b, x: n")
    c = r.cost({"n": 10, "a": 6, "b": 8, "c": 2})
    assert c["jacobian_chain"] == {"sizes": [10, 6, 8, 2, 1], "forward": 660, "reverse": 124}


def test_cost_of_chain_order():
    r = derive("sum(A B x)", wrt="x", shapes="A: p×q, B: q×r, x: r")
    c = r.cost({"p": 1, "q": 1000, "r": 1000})
    # the gradient Bᵀ(Aᵀ𝟙): right to left is 1000 + 10⁶ multiplications; as printed the same
    assert c["best_order"] <= c["as_printed"]


def test_cli_steps_cost_and_code(capsys):
    assert main(["(Xθ − y)^T (Xθ − y)", "--wrt", "θ", "--shapes", "X: m×n, θ: n, y: m",
                 "--steps", "--lang", "zh", "--cost", "m=1000,n=10"]) == 0
    out = capsys.readouterr().out
    assert "令 z = Xθ − y（m×1）" in out and "cost: as_printed" in out
    assert main(["x^T x", "--wrt", "x", "--format", "numpy"]) == 0
    assert "def value_and_grad(x):" in capsys.readouterr().out
    assert main(["x^T x", "--wrt", "x", "--format", "json", "--code", "torch", "--steps"]) == 0
    import json
    obj = json.loads(capsys.readouterr().out)
    assert "import torch" in obj["code"] and obj["steps"]
    assert main(["x^T x", "--wrt", "x", "--cost", "n=ten"]) == 1


def test_jupyter_reprs_and_error_handler():
    r = derive("x^T x", wrt="x", shapes="x: n")
    assert r._repr_latex_().startswith("$") and "<code>" in r._repr_html_()
    assert "<ol>" in r.explain()._repr_html_()
    try:
        matcalc.parse("trace(X)")
    except matcalc.MatcalcError as err:
        html = err._repr_html_()
    assert "did you mean `tr`" in html and "^" in html

    class Shell:
        def set_custom_exc(self, types, handler):
            self.types, self.handler = types, handler
    from matcalc.jupyter import load_ipython_extension
    shell = Shell()
    load_ipython_extension(shell)
    assert shell.types == (matcalc.MatcalcError,)


def test_every_assumption_sentence_and_convention_label_has_chinese():
    from matcalc.calculus.structured import LABELS, LABELS_ZH
    from matcalc.core.matrix_functions import ASSUMPTIONS_ZH, MATRIX_FUNCTIONS
    templates = {t for f in MATRIX_FUNCTIONS.values() for t in f.assumptions}
    assert templates <= set(ASSUMPTIONS_ZH)
    assert set(LABELS) <= set(LABELS_ZH)
    for zh in [*ASSUMPTIONS_ZH.values(), *LABELS_ZH.values()]:
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


def test_chinese_steps_say_the_assumptions_and_the_convention_in_chinese():
    """r.explain(lang="zh") ended with "假设 S is symmetric" and named the convention
    "约定（structured gradient sym(G) = (G + Gᵀ)/2）": English sentences in Chinese steps."""
    r = derive("λ_max(S) + tr(logm(A S))", wrt="S", shapes="S: n×n symmetric, A: n×n",
               structure="structured")
    zh = r.explain(lang="zh").render()
    assert "假设 S 是对称矩阵" in zh and "假设 S 的最大特征值是单特征值" in zh
    assert "假设 AS 在闭负实轴上没有特征值" in zh
    assert "约定（结构化梯度 sym(G) = (G + Gᵀ)/2）" in zh
    for english in ("symmetric", "simple", "negative", "structured gradient"):
        assert english not in zh
    en = r.explain().render()            # English unchanged
    assert "assuming S is symmetric" in en and "structured gradient sym(G)" in en
    for step in r.explain(lang="zh"):
        for target in ("latex", "html"):
            assert step.typeset("zh", target)
    # the command line too
    code = main(["λ_max(S)", "--wrt", "S", "--shapes", "S: n×n symmetric", "--structure",
                 "entries", "--steps", "--lang", "zh"])
    assert code == 0


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("cᵀ solve(A, b)", "A", "A: n×n, b: n, c: n"), ("tr(sqrtm(X))", "X", "X: n×n"),
    ("‖A‖_*", "A", "A: m×n"), ("‖A‖₂", "A", "A: m×n"),
    ("sum(eigvals(S))", "S", "S: n×n symmetric"), ("tr(chol(S))", "S", "S: n×n spd"),
    ("tr(pinv(A))", "A", "A: n×n")])
def test_every_matrix_function_assumption_renders_in_chinese(expr, wrt, shapes):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert r.assumptions
    zh = [s.render("zh") for s in r.explain(lang="zh") if s.kind == "assume"]
    assert len(zh) == len(r.assumptions)
    for s, en in zip(zh, r.assumptions):       # "假设 A 可逆": only the matrix's name is Latin
        words = s.removeprefix("假设 ").replace(wrt, "", 1)
        assert not any("a" <= ch.lower() <= "z" for ch in words), (s, en)


def test_cost_of_matrix_exponential_is_nonzero_and_grows_like_n_cubed():
    """r.cost counted expm, logm, solve, eigh, svd… as free: tr(expm(X)) cost 0 at any n."""
    r = derive("tr(expm(X))", wrt="X", shapes="X: n×n")
    c = [r.cost({"n": n})["as_printed"] for n in (10, 20, 40)]
    assert c[0] > 0
    # (6 + 4/3)·2n³ flops (Padé-13: six products and one solve), counted as n³·22/3 products
    assert c == [round(22 / 3 * n ** 3) for n in (10, 20, 40)]
    assert c[1] / c[0] == pytest.approx(8, rel=1e-3) and c[2] / c[1] == pytest.approx(8, rel=1e-3)


@pytest.mark.parametrize("expr, wrt, shapes, want", [
    # multiplications = half the flop figure of explain/cost.py's table
    # solve(A, B)d: LU and k = 4 right-hand sides, then (n×k)(k×1)
    ("cᵀ solve(A, B) d", "c", "A: n×n, B: n×k, c: n, d: k",
     (2 * 10**3 / 3 + 2 * 10**2 * 4) / 2 + 10 * 4),
    # sqrtm(X)⁻¹/2: the Schur square root, an inverse (n³) and a scaling (n²)
    ("tr(sqrtm(X))", "X", "X: n×n", (28 + 1 / 3) * 10**3 / 2 + 10**3 + 10**2),
    # eigvec_max(S)eigvec_max(S)ᵀ: one eigh with vectors (shared), an outer product
    ("λ_max(S)", "S", "S: n×n symmetric", 9 * 10**3 / 2 + 10**2),
    # svd_U(A)svd_V(A)ᵀ, A 20×10: thin U with V, V alone, then (m×n)(n×n)
    ("‖A‖_*", "A", "A: m×n", (14 * 20 * 10**2 + 8 * 10**3) / 2 + (4 * 20 * 10**2 + 8 * 10**3) / 2
     + 20 * 10 * 10),
])
def test_cost_of_matrix_functions_follows_the_textbook_estimates(expr, wrt, shapes, want):
    r = derive(expr, wrt=wrt, shapes=shapes)
    assert r.cost({"n": 10, "m": 20, "k": 4})["as_printed"] == pytest.approx(want, abs=2)


def test_every_matrix_function_has_a_cost_estimate():
    from matcalc.core.matrix_functions import MATRIX_FUNCTIONS
    from matcalc.explain.cost import matfn_flops
    for fn, f in MATRIX_FUNCTIONS.items():
        dims = [(5, 5)] * f.arity if fn not in ("svdvals", "pinv", "nuclear") else [(7, 5)]
        assert (matfn_flops(fn, dims) > 0) == (fn != "tril_half"), fn
