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
    for expr, wrt, shapes in [("(Xθ − y)^T (Xθ − y)", "θ", "X: m×n, θ: n, y: m"),
                              ("sum(exp(A X + B))", "X", "A: m×k, X: k×n, B: m×n"),
                              ("x^T A x", "x", "A: n×n, x: n"),
                              ("cᵀ solve(A, b)", "b", "A: n×n, b: n, c: n")]:
        for step in derive(expr, wrt=wrt, shapes=shapes).explain():
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
