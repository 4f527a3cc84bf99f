"""The matcalc command (CONTRACT §4): formats, stdin, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matcalc.cli import Format, PRINTERS, CODE_FORMATS, main


def run(argv, capsys, stdin=None, monkeypatch=None):
    if stdin is not None:
        import io
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_example_prints_the_textbook_form(capsys):
    code, out, err = run(["(Xθ−y)^T(Xθ−y)", "--wrt", "θ"], capsys)
    assert code == 0 and out.strip() == "2Xᵀ(Xθ − y)" and err == ""


def test_without_wrt_prints_expression_and_shape(capsys):
    code, out, _ = run(["(Xθ−y)^T(Xθ−y)"], capsys)
    assert code == 0 and out.strip() == "(Xθ − y)ᵀ(Xθ − y) : scalar"
    code, out, _ = run(["X θ", "--shapes", "X: m×n, θ: n"], capsys)
    assert out.strip() == "Xθ : m×1"


@pytest.mark.parametrize("fmt, expected", [
    ("unicode", "2Xᵀ(Xθ − y)"), ("text", "2*X^T*(X*θ - y)"),
    ("latex", r"2 X^{\top} \left(X \theta - y\right)"),
])
def test_formats(fmt, expected, capsys):
    code, out, _ = run(["(Xθ − y)^T (Xθ − y)", "--wrt", "theta", "--shapes",
                        "X: m×n, θ: n, y: m", "--format", fmt], capsys)
    assert code == 0 and out.strip() == expected


def test_json(capsys):
    code, out, _ = run(["(Xθ − y)^T (Xθ − y)", "--wrt", "θ", "--shapes", "X: m×n, θ: n, y: m",
                        "--format", "json", "--steps", "--check"], capsys)
    obj = json.loads(out)
    assert code == 0
    assert obj["input"] == "(Xθ − y)^T (Xθ − y)" and obj["wrt"] == "θ"
    assert obj["result"] == "2*X^T*(X*θ - y)" and obj["shape"] == ["n", 1]
    assert obj["kind"] == "gradient" and obj["latex"].startswith("2 X^{\\top}")
    assert obj["steps"] and obj["check"]["ok"]


def test_stdin_one_expression_per_line(capsys, monkeypatch):
    code, out, err = run(["-", "--wrt", "x", "--format", "json"], capsys,
                         stdin="x^T A x\n\nsum(exp(W x))\ntrace(x)\n", monkeypatch=monkeypatch)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [o.get("result") for o in lines] == ["(A + A^T)*x", "W^T*exp(W*x)", None]
    assert [o["line"] for o in lines] == [1, 3, 4]        # numbered as in the input
    assert lines[2]["kind"] == "error" and "did you mean `tr`" in lines[2]["error"]
    assert code == 1 and "line 4: error:" in err and "did you mean `tr`" in err


def test_check_steps_order_layout(capsys):
    code, out, _ = run(["tanh(W x)", "--wrt", "x", "--layout", "denominator", "--check"], capsys)
    assert code == 0 and out.splitlines()[0] == "Wᵀdiag(1 − tanh(Wx)⊙²)"
    assert "check: ok" in out
    code, out, _ = run(["x^T A x", "--wrt", "x", "--order", "2"], capsys)
    assert out.strip() == "A + Aᵀ"
    code, out, _ = run(["x^T x", "--wrt", "x", "--steps"], capsys)
    assert "steps:" in out and "result: ∂f/∂x = 2x" in out


def test_code_formats_print_code(capsys):
    code, out, err = run(["x^T x", "--wrt", "x", "--format", "numpy"], capsys)
    assert code == 0 and "def value_and_grad(x):" in out
    code, out, err = run(["x^T x", "--format", "jax"], capsys)
    assert code == 1 and "give --wrt" in err and "Traceback" not in err


def test_every_format_maps_to_a_printer_or_is_reserved():
    for f in Format:
        assert f in PRINTERS or f in CODE_FORMATS or f is Format.JSON


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["x", "--format", "pdf"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_installed_command_runs():
    proc = subprocess.run([sys.executable, "-m", "matcalc", "x^T A x", "--wrt", "x"],
                          capture_output=True, text=True, encoding="utf-8")
    assert proc.returncode == 0 and proc.stdout.strip() == "(A + Aᵀ)x"


def test_products_and_mixed_from_the_command_line(capsys):
    code, out, _ = run(["tanh(W x)", "--wrt", "x", "--vjp", "v"], capsys)
    assert code == 0 and out.strip() == "Wᵀ((1 − tanh(Wx)⊙²) ⊙ v)"
    code, out, _ = run(["A X B", "--wrt", "X", "--jvp", "U"], capsys)
    assert code == 0 and out.strip() == "AUB"
    code, out, _ = run(["x^T A x", "--wrt", "x", "--hvp", "u", "--check"], capsys)
    assert code == 0 and out.splitlines()[0] == "(A + Aᵀ)u" and "check: ok" in out
    code, out, _ = run(["x^T A y", "--wrt", "x,y"], capsys)
    assert code == 0 and out.strip() == "A"
    code, out, err = run(["A x", "--wrt", "x", "--jvp", "x"], capsys)
    assert code == 1 and "already used" in err


def test_tensor_json(capsys):
    code, out, _ = run(["A X B", "--wrt", "X", "--shapes", "A: m×p, X: p×q, B: q×n",
                        "--format", "json", "--check"], capsys)
    obj = json.loads(out)
    assert obj["kind"] == "tensor" and obj["shape"] == ["m", "n", "p", "q"]
    assert obj["result"] == "kron(B^T, A)" and obj["check"]["ok"]


def test_json_lists_the_assumptions_a_matrix_function_result_needs(capsys):
    """--format json used to leave out r.assumptions: a script reading the gradient of
    λ_max(S) never learned that it needs a simple largest eigenvalue."""
    code, out, _ = run(["λ_max(S)", "--wrt", "S", "--shapes", "S: n×n symmetric",
                        "--structure", "structured", "--format", "json"], capsys)
    obj = json.loads(out)
    assert code == 0 and obj["convention"] == "structured"
    assert obj["assumptions"] == ["S is symmetric", "the largest eigenvalue of S is simple"]
    code, out, _ = run(["x^T x", "--wrt", "x", "--format", "json"], capsys)
    assert json.loads(out)["assumptions"] == []          # always present, empty when none
    code, out, _ = run(["tr(logm(X))", "--wrt", "X", "--vjp", "V", "--format", "json"], capsys)
    assert json.loads(out)["assumptions"] == [
        "X has no eigenvalue on the closed negative real axis"]


def test_text_output_says_what_the_result_assumes(capsys):
    """The plain output of tr(logm(X)) printed X⁻ᵀ alone; the condition under which it holds
    was only visible with --steps."""
    code, out, _ = run(["tr(logm(X))", "--wrt", "X"], capsys)
    assert code == 0 and out.splitlines() == [
        "X⁻ᵀ", "assuming: X has no eigenvalue on the closed negative real axis"]
    # with --steps the last steps say it (once, not twice)
    code, out, _ = run(["tr(logm(X))", "--wrt", "X", "--steps"], capsys)
    assert out.count("no eigenvalue on the closed negative real axis") == 1
    assert "assuming:" not in out
    code, out, _ = run(["x^T x", "--wrt", "x"], capsys)
    assert out.strip() == "2x"                           # nothing assumed: no extra line


def test_chinese_rule_steps_end_with_the_assumptions_in_chinese(capsys):
    """--lang zh with a Hessian or a VJP (rule steps) ended with "assuming X has no
    eigenvalue …" in English."""
    code, out, _ = run(["tr(logm(X))", "--wrt", "X", "--order", "2", "--steps", "--lang", "zh"],
                       capsys)
    assert code == 0 and "假设 X 在闭负实轴上没有特征值" in out and "assuming" not in out
    code, out, _ = run(["tr(logm(X))", "--wrt", "X", "--vjp", "V", "--steps", "--lang", "zh",
                        "--format", "json"], capsys)
    obj = json.loads(out)
    assert obj["steps"][-1] == "假设 X 在闭负实轴上没有特征值"
    assert obj["assumptions"] == ["X has no eigenvalue on the closed negative real axis"]
    code, out, _ = run(["tr(logm(X))", "--wrt", "X", "--order", "2", "--steps"], capsys)
    assert "assuming X has no eigenvalue on the closed negative real axis" in out
