"""How results, steps, errors and parse trees look: in the plain REPL (repr) and in Jupyter
(_repr_html_ / _repr_latex_ / _repr_mimebundle_, through IPython's own display formatter)."""
from __future__ import annotations

import pytest

import matcalc
from matcalc import derive, parse

LSQ = dict(wrt="θ", shapes="X: m×n, θ: n, y: m")


def test_result_repr_names_kind_shape_and_formula():
    r = derive("(Xθ − y)^T (Xθ − y)", **LSQ)
    assert repr(r) == "<gradient n×1: 2Xᵀ(Xθ − y)>"
    assert repr(derive("x^T A x", wrt="x", shapes="x: n, A: n×n", order=2)) == \
        "<hessian n×n: A + Aᵀ>"
    assert repr(derive("tanh(W x)", wrt="x", shapes="W: m×n, x: n")).startswith("<jacobian m×n: ")


def test_tensor_repr_lists_its_index_sizes():
    r = derive("A X B", wrt="X", shapes="A: m×p, X: p×q, B: q×n")
    assert repr(r) == "<tensor m×n×p×q: Bᵀ ⊗ A>"


def test_result_mimebundle_has_typeset_latex_and_mathjax_html():
    r = derive("(Xθ − y)^T (Xθ − y)", **LSQ)
    bundle = r._repr_mimebundle_()
    assert bundle["text/plain"] == repr(r)
    assert bundle["text/latex"] == "$\\displaystyle " + r.latex + "$"
    html = bundle["text/html"]
    assert "$$ 2 X^{\\top} \\left(X \\theta - y\\right) $$" in html      # MathJax display math
    assert "<code>2*X^T*(X*θ - y)</code>" in html and "gradient, n×1" in html


def test_steps_print_as_a_numbered_list():
    r = derive("(Xθ − y)^T (Xθ − y)", **LSQ)
    lines = repr(r.steps).splitlines()
    assert lines[0] == "1. let z = Xθ − y  (m×1)"
    assert lines[-1] == "7. result: ∂f/∂θ = 2Xᵀ(Xθ − y)  (n×1)"
    assert "Step(" not in repr(r.steps) and "Step(" not in repr(r.steps[0])


def test_steps_typeset_words_as_text_and_mathematics_as_latex():
    steps = derive("(Xθ − y)^T (Xθ − y)", **LSQ).steps
    latex = steps._repr_latex_()
    assert latex.startswith("$\\begin{array}{l}") and "\\text{let }z" in latex
    assert "\\text{scalar}" in latex and "(}scalar" not in latex
    html = steps._repr_html_()
    assert html.startswith("<ol") and html.count("<li>") == len(steps)
    assert "let \\(z\\) = \\(X \\theta - y\\)" in html
    zh = derive("(Xθ − y)^T (Xθ − y)", **LSQ).explain(lang="zh")._repr_html_()
    assert "令 \\(z\\)" in zh


def test_rule_steps_of_a_hessian_print_as_a_numbered_list():
    h = derive("x^T A x", wrt="x", shapes="x: n, A: n×n", order=2)
    text = repr(h.steps)
    assert text.startswith("1. [") and "StepView(" not in text
    assert h.steps._repr_html_().startswith("<ol")


def test_shape_error_html_shows_message_and_caret():
    with pytest.raises(matcalc.ShapeError) as info:
        parse("X y", shapes="X: m×n, y: m")
    bundle = info.value._repr_mimebundle_()
    assert "inner sizes n and m differ" in bundle["text/html"]
    assert "<pre style='margin:4px 0'>  X y\n  ^^^</pre>" in bundle["text/html"]
    assert bundle["text/plain"].startswith("ShapeError: cannot multiply")


def _shell():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    return InteractiveShell.instance()


def test_ipython_displays_results_steps_and_parse_trees_typeset():
    shell = _shell()
    from matcalc.jupyter import load_ipython_extension
    load_ipython_extension(shell)
    fmt = shell.display_formatter.format
    data, _ = fmt(derive("(Xθ − y)^T (Xθ − y)", **LSQ))
    assert {"text/plain", "text/latex", "text/html"} <= set(data)
    data, _ = fmt(parse("Xθ − y", shapes="X: m×n, θ: n"))
    assert data["text/plain"] == "<expression m×1: Xθ − y>"
    assert data["text/latex"] == "$\\displaystyle X \\theta - y$"
    data, _ = fmt(derive("(Xθ − y)^T (Xθ − y)", **LSQ).steps)
    assert data["text/plain"].startswith("1. let z") and "text/latex" in data


def test_a_matcalc_error_in_ipython_shows_message_and_caret_not_a_traceback(capsys):
    shell = _shell()
    from matcalc.jupyter import load_ipython_extension, unload_ipython_extension
    load_ipython_extension(shell)
    assert shell.custom_exceptions == (matcalc.MatcalcError,)
    unload_ipython_extension(shell)             # the way out: ordinary tracebacks again
    assert shell.custom_exceptions == ()


def test_the_users_own_exception_handler_is_kept(monkeypatch):
    class Shell:
        custom_exceptions = (KeyError,)

        def set_custom_exc(self, types, handler):      # pragma: no cover - must not be called
            raise AssertionError("replaced the user's handler")
    from matcalc.jupyter import load_ipython_extension
    load_ipython_extension(Shell())


def test_environment_variable_turns_the_error_handler_off(monkeypatch):
    monkeypatch.setenv("MATCALC_IPYTHON_ERRORS", "0")

    class Shell:
        def set_custom_exc(self, types, handler):      # pragma: no cover - must not be called
            raise AssertionError("installed despite MATCALC_IPYTHON_ERRORS=0")
    from matcalc.jupyter import load_ipython_extension
    load_ipython_extension(Shell())
