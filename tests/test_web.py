"""`matcalc serve`: the JSON API and the server's guards, over HTTP to an in-process server on
a free port. The page itself is tested in a real browser in test_web_browser.py.

The one derivative checked here (least squares) is checked against central differences of
this file's own NumPy function, through the NumPy code the API hands out.
"""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from matcalc.cli import main as cli_main
from matcalc.web import start_in_thread
from matcalc.web.server import STATIC, _host_allowed

LEAST_SQUARES = {"formula": "(Xθ − y)^T (Xθ − y)", "shapes": "X: m×n, θ: n, y: m", "wrt": "θ"}


@pytest.fixture(scope="module")
def server():
    srv, url = start_in_thread()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


def request(port, method, path, body=None, headers=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if body is not None else {}
    hdrs.update(headers or {})
    conn.request(method, path, body=data, headers=hdrs)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    return res.status, dict(res.getheaders()), payload


def derive_api(port, **query):
    status, headers, payload = request(port, "POST", "/api/derive", query)
    assert headers["Content-Type"].startswith("application/json")
    return status, json.loads(payload)


# the page ----------------------------------------------------------------------------------

def test_page_has_a_csp_without_inline_script_and_security_headers(server):
    status, headers, payload = request(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    html = payload.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handlers run as inline script"
    assert "style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page must load nothing remote"


def test_every_file_the_page_uses_is_served_and_nothing_is_remote(server):
    for path in ("/app.js", "/style.css", "/katex/katex.min.js", "/katex/katex.min.css",
                 "/katex/LICENSE", "/katex/fonts/KaTeX_Main-Regular.woff2"):
        status, headers, payload = request(server, "GET", path)
        assert status == 200 and payload, path
    _, headers, _ = request(server, "GET", "/app.js")
    assert headers["Content-Type"].startswith("text/javascript")
    css = (STATIC / "katex" / "katex.min.css").read_text()
    for font in re.findall(r"url\((fonts/[^)]+\.woff2)\)", css):
        assert (STATIC / "katex" / font).is_file(), font
    app = (STATIC / "app.js").read_text()
    assert "eval(" not in app and "new Function" not in app and "http" not in app.lower().replace(
        "htmlandmathml", "")
    assert "MIT License" in (STATIC / "katex" / "LICENSE").read_text()


@pytest.mark.parametrize("path", ["/../matcalc/web/server.py", "/%2e%2e/server.py",
                                  "/static/../api.py", "/nothing.html", "/api/derive"])
def test_unknown_paths_are_404_and_never_reach_the_file_system(server, path):
    status, _, payload = request(server, "GET", path)
    assert status == 404 and json.loads(payload)["ok"] is False


# the API -----------------------------------------------------------------------------------

def test_least_squares_answer_and_its_code_agree_with_finite_differences(server):
    status, out = derive_api(server, **LEAST_SQUARES)
    assert status == 200 and out["ok"]
    assert out["formula"] == {"latex": r"\left(X \theta - y\right)^{\top} \left(X \theta - y\right)",
                              "text": "(X*θ - y)^T*(X*θ - y)", "unicode": "(Xθ − y)ᵀ(Xθ − y)",
                              "shape": "scalar"}
    r = out["result"]
    assert (r["unicode"], r["kind"], r["shape"], r["wrt"]) == \
        ("2Xᵀ(Xθ − y)", "gradient", "n×1", "θ")
    assert r["latex"] == r"2 X^{\top} \left(X \theta - y\right)"
    assert out["check"]["ok"] and "central differences" in out["check"]["text"]
    assert set(out["code"]) == {"numpy", "jax", "torch"}
    # the NumPy code the page offers for copying, against differences of our own function
    namespace: dict = {}
    exec(compile(out["code"]["numpy"], "<api numpy code>", "exec"), namespace)
    rng = np.random.default_rng(7)
    m, n = 5, 3
    X, theta, y = rng.normal(size=(m, n)), rng.normal(size=n), rng.normal(size=m)

    def f(t):
        e = X @ t - y
        return e @ e
    h = 1e-6
    fd = np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(n)])
    value, grad = namespace["value_and_grad"](X, theta, y)
    assert np.shape(grad) == (n, 1)
    np.testing.assert_allclose(np.ravel(grad), fd, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(np.ravel(value)[0]), f(theta), rtol=1e-12)


def test_a_query_waiting_behind_a_slow_one_is_told_the_server_is_busy(server, monkeypatch):
    import matcalc.web.api as api
    monkeypatch.setattr(api, "BUSY_AFTER", 0.05)
    api._ENGINE.acquire()          # as if an earlier query were still being answered
    try:
        status, out = derive_api(server, formula="x^T x", wrt="x")
    finally:
        api._ENGINE.release()
    assert status == 503 and out["error"]["type"] == "Busy"
    assert derive_api(server, formula="x^T x", wrt="x")[0] == 200


def test_check_result_is_said_in_chinese_too(server):
    _, out = derive_api(server, **LEAST_SQUARES, lang="zh")
    assert out["check"]["ok"] and "个元素与中心差分一致" in out["check"]["text"]


def test_steps_come_in_english_and_chinese(server):
    _, en = derive_api(server, **LEAST_SQUARES)
    _, zh = derive_api(server, **LEAST_SQUARES, lang="zh")
    assert any(s.startswith("5. chain rule") for s in en["result"]["steps"]) or \
        any("chain rule" in s for s in en["result"]["steps"])
    assert any("链式法则" in s for s in zh["result"]["steps"])


def test_latex_input_gives_the_same_derivative(server):
    _, out = derive_api(server, formula=r"\|X\theta - y\|_2^2", shapes="X: m×n, θ: n, y: m",
                        wrt=r"θ")
    assert out["result"]["unicode"] == "2Xᵀ(Xθ − y)"


def test_formula_alone_is_typeset_with_its_shape(server):
    status, out = derive_api(server, formula="A x + b", shapes="A: m×n", wrt="")
    assert status == 200 and "result" not in out
    assert out["formula"]["latex"] == "A x + b" and out["formula"]["shape"] == "m×1"


def test_empty_formula_is_not_an_error(server):
    assert derive_api(server, formula="   ") == (200, {"ok": True, "empty": True})


def test_shape_error_points_into_the_formula(server):
    status, out = derive_api(server, formula="X y", shapes="X: m×n, y: m", wrt="y")
    assert status == 422 and not out["ok"]
    e = out["error"]
    assert e["type"] == "ShapeError" and e["field"] == "formula" and e["span"] == [0, 3]
    assert e["message"] == "cannot multiply X (m×n) by y (m×1): inner sizes n and m differ"
    assert e["caret"] == "  X y\n  ^^^"


def test_parse_error_has_line_column_and_caret(server):
    _, out = derive_api(server, formula="x^T (x + 1", wrt="x")
    e = out["error"]
    assert e["type"] == "ParseError" and e["field"] == "formula"
    assert e["line"] == 1 and e["column"] == e["span"][0] + 1 and "^" in e["caret"]


def test_error_in_the_shapes_points_into_the_shapes_as_typed(server):
    _, out = derive_api(server, formula="x", shapes="x: m×", wrt="x")
    e = out["error"]
    assert e["field"] == "shapes" and e["span"][0] == 0
    assert e["caret"].splitlines()[0] == "  x: m×", "the caret shows only what the user typed"
    assert "ω_99" not in json.dumps(out, ensure_ascii=False)


def test_unknown_variable_keeps_the_typeset_formula(server):
    status, out = derive_api(server, formula="x^T x", wrt="z")
    assert status == 422 and out["formula"]["latex"] == r"x^{\top} x"
    assert out["error"]["field"] == "wrt" and "`z` does not occur" in out["error"]["message"]


def test_derivative_is_shown_even_when_its_steps_cannot_be(server):
    # the mean-squared loss of a relu neuron wrt the bias: the steps once raised ShapeError,
    # and the page answered with that error instead of the derivative
    status, out = derive_api(server, formula="(1/N)*sum((y - relu(X w + b)) .^ 2)",
                             shapes="X: N×n, w: n, y: N, b: scalar", wrt="b")
    assert status == 200 and out["result"]["kind"] == "derivative"
    assert out["result"]["steps"] or out["result"]["steps_error"]
    assert out["check"]["ok"] and out["code"]["numpy"].startswith("import numpy")


def test_tensor_result_carries_its_vec_form_and_index_sizes(server):
    _, out = derive_api(server, formula="σ(Wx + b)", shapes="W: m×n, x: n, b: m", wrt="W")
    r = out["result"]
    assert r["kind"] == "tensor" and r["index_sizes"] == ["m", "m", "n"]
    assert r["shape"] == "m×m×n" and r["vec"]["latex"]
    assert out["check"]["ok"]


@pytest.mark.parametrize("mode, kind, shape", [("hessian", "hessian", "n×n"),
                                               ("vjp", "vjp", "n×1"), ("jvp", "jvp", "scalar"),
                                               ("hvp", "hvp", "n×1")])
def test_second_derivatives_and_products(server, mode, kind, shape):
    status, out = derive_api(server, formula="sum(log(1 + exp(A x)))", shapes="A: m×n, x: n",
                             wrt="x", mode=mode)
    assert status == 200, out
    assert out["result"]["kind"] == kind and out["result"]["shape"] == shape
    assert out["check"]["ok"]


def test_vjp_uses_the_symbol_given(server):
    _, out = derive_api(server, formula="tanh(Wx)", shapes="W: m×n, x: n", wrt="x",
                        mode="vjp", symbol="g")
    assert "g" in out["result"]["unicode"] and "v" not in out["result"]["unicode"]


def test_mixed_derivative_from_two_variables(server):
    status, out = derive_api(server, formula="xᵀAy", shapes="x: m, A: m×n, y: n", wrt="x, y")
    assert status == 200 and out["result"]["shape"] in ("m×n", "n×m")


def test_denominator_layout_transposes_a_jacobian(server):
    _, num = derive_api(server, formula="A x", shapes="A: m×n, x: n", wrt="x")
    _, den = derive_api(server, formula="A x", shapes="A: m×n, x: n", wrt="x",
                        layout="denominator")
    assert (num["result"]["shape"], den["result"]["shape"]) == ("m×n", "n×m")


# guards ------------------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ({"formula": "x" * 2001, "wrt": "x"}, "`formula` is 2,001 characters long"),
    ({"formula": "x", "shapes": "x: n, " * 400}, "`shapes` is"),
    ({"formula": "x", "wrt": "x" * 101}, "`wrt` is"),
    ({"formula": 3}, "`formula` must be a string"),
    ({"formula": "x", "mode": "eval"}, "`mode` must be one of"),
    ({"formula": "x", "lang": "fr"}, "`lang` must be one of"),
    ({"formula": "x", "check": "yes"}, "`check` must be"),
    ({"formula": "x", "structure": "sym"}, "`structure` must be one of unconstrained, structured"),
    ({"formula": "x", "wrt": "x", "mode": "vjp", "structure": "structured"},
     "does not apply to mode vjp"),
    (["x"], "must be a JSON object"),
])
def test_malformed_queries_are_400_with_a_message(server, body, message):
    status, out = derive_api(server, **body) if isinstance(body, dict) else \
        (lambda s, h, p: (s, json.loads(p)))(*request(server, "POST", "/api/derive", body))
    assert status == 400 and message in out["error"]["message"]


def test_body_over_the_limit_is_refused_unread(server):
    status, _, payload = request(server, "POST", "/api/derive", raw=b"{" + b" " * 70000 + b"}",
                                 headers={"Content-Type": "application/json"})
    assert status == 413 and "KiB" in json.loads(payload)["error"]["message"]


def test_not_json_is_400_and_a_form_post_is_415(server):
    status, _, _ = request(server, "POST", "/api/derive", raw=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert status == 400
    status, _, _ = request(server, "POST", "/api/derive", raw=b"formula=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415


def test_dns_rebinding_host_and_foreign_origin_are_refused(server):
    status, _, _ = request(server, "GET", "/", headers={"Host": "attacker.example"})
    assert status == 421
    status, _, _ = request(server, "POST", "/api/derive", LEAST_SQUARES,
                           headers={"Host": f"attacker.example:{server}"})
    assert status == 421
    status, _, _ = request(server, "POST", "/api/derive", LEAST_SQUARES,
                           headers={"Origin": "http://attacker.example"})
    assert status == 403
    status, _, _ = request(server, "POST", "/api/derive", LEAST_SQUARES,
                           headers={"Origin": f"http://127.0.0.1:{server}"})
    assert status == 200


@pytest.mark.parametrize("host, bound, ok", [
    ("127.0.0.1:8765", "127.0.0.1", True), ("localhost:8765", "127.0.0.1", True),
    ("[::1]:8765", "::1", True), ("192.168.1.5:80", "0.0.0.0", True),
    ("box.lan:8765", "box.lan", True), ("evil.example:8765", "127.0.0.1", False),
    ("localhost.evil.example", "127.0.0.1", False), ("", "127.0.0.1", False),
    (None, "127.0.0.1", False)])
def test_host_header_check(host, bound, ok):
    assert _host_allowed(host, bound) is ok


def test_an_engine_bug_is_a_500_json_without_traceback(server, monkeypatch, capsys):
    import matcalc.web.server as server_module

    def broken(body):
        raise RuntimeError("engine bug")
    monkeypatch.setattr(server_module, "answer", broken)
    status, _, payload = request(server, "POST", "/api/derive", LEAST_SQUARES)
    out = json.loads(payload)
    assert status == 500 and out["error"]["type"] == "InternalError"
    assert "Traceback" not in payload.decode() and "engine bug" not in payload.decode()


def test_concurrent_requests_all_get_their_own_answer(server):
    formulas = [f"x^T x * {k}" for k in range(2, 10)]
    results: dict = {}

    def ask(text):
        results[text] = derive_api(server, formula=text, wrt="x", check=False)
    threads = [threading.Thread(target=ask, args=(t,)) for t in formulas]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for text in formulas:
        status, out = results[text]
        k = text.rsplit(" ", 1)[1]
        assert status == 200 and out["result"]["unicode"] == f"{2 * int(k)}x", (text, out)


# the command -------------------------------------------------------------------------------

def test_serve_help_from_the_matcalc_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["serve", "--help"])
    assert exc.value.code == 0
    assert "--port" in capsys.readouterr().out


def test_serve_starts_on_localhost_and_answers(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", "0"],
                            stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        status, out = derive_api(int(m.group(1)), formula="x^T x", wrt="x", check=False)
        assert status == 200 and out["result"]["unicode"] == "2x"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_on_a_port_in_use_is_a_clear_error(server, capsys):
    assert cli_main(["serve", "--port", str(server)]) == 1
    assert "cannot listen on 127.0.0.1" in capsys.readouterr().err


# matrix functions, assumptions and structured gradients ----------------------------------------

def test_matrix_function_answer_lists_its_assumptions_and_checks(server):
    """The JSON answer left out r.assumptions: a page or script asking for the gradient of
    tr(W logm(X)) was not told it needs no eigenvalue of X on the closed negative axis."""
    status, out = derive_api(server, formula="tr(W logm(X))", shapes="X: n×n spd, W: n×n",
                             wrt="X")
    assert status == 200 and out["result"]["unicode"] == "L_log(X, W)ᵀ"
    assert out["result"]["assumptions"] == [
        "X has no eigenvalue on the closed negative real axis"]
    assert out["check"]["ok"]
    _, zh = derive_api(server, formula="tr(W logm(X))", shapes="X: n×n spd, W: n×n", wrt="X",
                       lang="zh")
    assert "假设 X 在闭负实轴上没有特征值" in zh["result"]["steps"][-1]
    _, plain = derive_api(server, **LEAST_SQUARES)
    assert plain["result"]["assumptions"] == []


@pytest.mark.parametrize("formula, shapes, wrt", [
    ("tr expm(X)", "X: n×n", "X"), ("‖A‖_*", "A: m×n", "A"), ("λ_max(S)", "S: n×n symmetric", "S"),
    ("cᵀ solve(A, b)", "A: n×n, b: n, c: n", "A"), ("tr(chol(S))", "S: n×n spd", "S"),
    ("tr(X^(1/2))", "X: n×n spd", "X")])
def test_the_page_accepts_the_matrix_functions(server, formula, shapes, wrt):
    status, out = derive_api(server, formula=formula, shapes=shapes, wrt=wrt)
    assert status == 200 and out["ok"] and out["result"]["kind"] == "gradient"
    assert out["result"]["assumptions"] or formula == "tr expm(X)"
    assert out["check"]["ok"], out["check"]
    assert all(not code.startswith("#") for code in out["code"].values())


def test_structure_option_gives_the_structured_gradient(server):
    """f = aᵀSb, S symmetric: unconstrained abᵀ; structured (abᵀ + baᵀ)/2 — compared here with
    central differences of f along symmetric directions, in NumPy."""
    query = dict(formula="a^T S b", shapes="S: n×n symmetric, a: n, b: n", wrt="S")
    _, free = derive_api(server, **query)
    status, sym = derive_api(server, **query, structure="structured")
    assert status == 200 and sym["result"]["convention"] == "structured"
    assert "convention" not in free["result"]
    assert any("sym(G)" in note for note in sym["result"]["notes"])
    assert sym["check"]["ok"]
    from matcalc import parse
    rng = np.random.default_rng(3)
    n = 4
    a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
    S = rng.normal(size=(n, n))
    S = S + S.T
    # the gradient on the symmetric space: the symmetric G with ⟨G, E⟩ = Df[E] for symmetric E
    got = parse(sym["result"]["text"], shapes="S: n×n symmetric, a: n, b: n")
    from matcalc.numeric.evaluate import evaluate_tree
    G = evaluate_tree(got, {"a": a, "b": b, "S": S}, {"n": n})
    assert G.shape == (n, n) and np.allclose(G, G.T)
    f = lambda M: (a.T @ M @ b).item()
    for _ in range(3):
        E = rng.normal(size=(n, n))
        E = E + E.T
        h = 1e-6
        fd = (f(S + h * E) - f(S - h * E)) / (2 * h)
        assert np.isclose(np.sum(G * E), fd, rtol=1e-6, atol=1e-8)
    _, zh = derive_api(server, **query, structure="structured", lang="zh")
    assert any("约定（结构化梯度" in s for s in zh["result"]["steps"])


def test_every_example_button_answers_and_every_label_has_chinese(server):
    import html
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    for tag in re.findall(r'<button[^>]*class="example"[^>]*>', page):
        attrs = {k: html.unescape(v) for k, v in re.findall(r'data-(\w+)="([^"]*)"', tag)}
        status, out = derive_api(server, formula=attrs["f"], shapes=attrs["s"], wrt=attrs["w"],
                                 mode=attrs.get("m", "derivative"), check=False)
        assert status == 200 and out["ok"], attrs
    zh_block = script[script.index("const ZH = {"):script.index("const EN = {")]
    for key in set(re.findall(r'data-i18n="([^"]+)"', page)):
        assert f'"{key}":' in zh_block or f"{key}:" in zh_block, key
    assert '<select id="structure">' in page and '"structure"' in script


def test_hessian_steps_say_their_assumptions_in_chinese(server):
    _, zh = derive_api(server, formula="tr(logm(X))", shapes="X: n×n", wrt="X", mode="hessian",
                       lang="zh", check=False)
    assert zh["result"]["steps"][-1] == "假设 X 在闭负实轴上没有特征值"
    _, en = derive_api(server, formula="tr(logm(X))", shapes="X: n×n", wrt="X", mode="hessian",
                       check=False)
    assert en["result"]["steps"][-1] == "assuming X has no eigenvalue on the closed negative real axis"
