"""What the fast paths of the simplifier must still get right, and the structure they promise
(long sums collected into one term, long chains within the limits, SymPy skipped where there is
nothing to cancel). No timed assertions: the speed figures live in bench/bench_scaling.py.
Derivatives are compared with central differences of the original function written in NumPy."""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import derive
from matcalc.core import build as B
from matcalc.core import expr as E
from matcalc.core.errors import ParseError


def fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def test_scaled_quadratic_forms_collect_into_one_term_and_stay_correct():
    """Σ cᵢxᵀAx printed (c0A + c1A + …)ᵀx + A(c0x + …) (uncollected); now one term."""
    rng = np.random.default_rng(230)
    k, n = 4, 5
    r = derive(" + ".join(f"c{i} x^T A x" for i in range(k)), wrt="x",
               shapes="x: n, A: n×n, " + ", ".join(f"c{i}: scalar" for i in range(k)))
    assert str(r) == "(c0 + c1 + c2 + c3)(A + Aᵀ)x"
    A, x = rng.normal(size=(n, n)), rng.normal(size=(n, 1))
    c = rng.normal(size=k)
    vals = {"A": A, "x": x, **{f"c{i}": c[i] for i in range(k)}}
    expected = fd_grad(lambda x: float(sum(c) * (x.T @ A @ x)[0, 0]), x)
    np.testing.assert_allclose(r.evaluate(vals), expected, rtol=1e-6, atol=1e-8)


def test_thousand_scaled_quadratic_forms_collect_into_one_term():
    r = derive(" + ".join(f"c{i} x^T A x" for i in range(1000)), wrt="x",
               shapes="x: n, A: n×n, " + ", ".join(f"c{i}: scalar" for i in range(1000)))
    node = r.node
    assert type(node) is E.MatMul
    coef = [f for f in node.args if type(f) is E.Add and f.shape == (1, 1)]
    assert len(coef) == 1 and len(coef[0].args) == 1000
    assert str(r).endswith("(A + Aᵀ)x")


def test_terms_with_different_scalar_factors_collect_only_when_the_matrix_parts_agree():
    rng = np.random.default_rng(231)
    m, n = 3, 4
    r = derive("a b^T x + c b^T x + d e^T x", wrt="x", shapes="a: scalar, c: scalar, d: scalar, b: n, e: n, x: n")
    b, e, x = (rng.normal(size=(n, 1)) for _ in range(3))
    a, c, d = rng.normal(size=3)
    expected = fd_grad(lambda x: float((a * b.T @ x + c * b.T @ x + d * e.T @ x)[0, 0]), x)
    np.testing.assert_allclose(r.evaluate({"a": a, "b": b, "c": c, "d": d, "e": e, "x": x}),
                               expected, rtol=1e-6, atol=1e-8)
    r = derive("a M x + c M x", wrt="x", shapes="a: scalar, c: scalar, M: m×n, x: n")
    M = rng.normal(size=(m, n))
    assert str(r) == "(a + c)M"
    np.testing.assert_allclose(r.evaluate({"a": a, "c": c, "M": M, "x": x}), (a + c) * M)


def test_least_squares_sum_of_many_terms_is_one_term_per_block():
    rng = np.random.default_rng(232)
    k, m, n = 6, 3, 4
    r = derive(" + ".join(f"(A{i} x - b{i})^T (A{i} x - b{i})" for i in range(k)), wrt="x",
               shapes="x: n, " + ", ".join(f"A{i}: m×n, b{i}: m" for i in range(k)))
    vals = {"x": rng.normal(size=(n, 1))}
    for i in range(k):
        vals[f"A{i}"], vals[f"b{i}"] = rng.normal(size=(m, n)), rng.normal(size=(m, 1))

    def f(x):
        return float(sum(np.sum((vals[f"A{i}"] @ x - vals[f"b{i}"]) ** 2) for i in range(k)))
    np.testing.assert_allclose(r.evaluate(vals), fd_grad(f, vals["x"]), rtol=1e-6, atol=1e-7)
    assert str(r).count("+") == k - 1


def test_chain_of_1024_distinct_matrices_is_within_the_name_limit():
    """The name limit was 250 (sums of distinct terms simplified in quadratic time); a chain of
    1,024 matrices was refused."""
    L = 1024
    r = derive("a^T " + " ".join(f"A{i}" for i in range(1, L + 1)) + " x", wrt="x",
               shapes="a: n, x: n, " + ", ".join(f"A{i}: n×n" for i in range(1, L + 1)))
    text = str(r)
    assert text.startswith("(aᵀA1A2") and "A1024" in text


def test_a_chain_checked_numerically_at_a_moderate_length():
    rng = np.random.default_rng(233)
    L, n = 30, 3
    mats = [np.eye(n) + 0.2 * rng.normal(size=(n, n)) for _ in range(L)]
    a, x = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
    r = derive("a^T " + " ".join(f"A{i}" for i in range(L)) + " x", wrt="x",
               shapes="a: n, x: n, " + ", ".join(f"A{i}: n×n" for i in range(L)))

    def f(x):
        out = x
        for M in reversed(mats):
            out = M @ out
        return float((a.T @ out)[0, 0])
    vals = {"a": a, "x": x, **{f"A{i}": mats[i] for i in range(L)}}
    np.testing.assert_allclose(r.evaluate(vals), fd_grad(f, x), rtol=1e-5, atol=1e-7)


def test_more_distinct_names_than_the_limit_are_refused_with_the_limit_named():
    from matcalc.core.limits import MAX_NAMES
    assert MAX_NAMES >= 2048
    with pytest.raises(ParseError, match="limit on names"):
        derive(" + ".join(f"x_{i}" for i in range(MAX_NAMES + 1)), wrt="x_1")


def test_product_of_quotients_skips_sympy_and_is_correct(monkeypatch):
    """sum((x+a0) ./ … ./ (x+a4)) spent 0.3 s in SymPy to find nothing smaller."""
    import matcalc.simplify.algebra as A

    def refuse(node):
        raise AssertionError("SymPy was consulted")
    monkeypatch.setattr(A, "_lowest_terms", refuse)
    r = derive("sum((x+a0) ./ (x+a1) ./ (x+a2) ./ (x+a3) ./ (x+a4))", wrt="x")
    rng = np.random.default_rng(234)
    n = 4
    vals = {"x": rng.uniform(1, 2, size=(n, 1))}
    vals.update({f"a{i}": rng.uniform(1, 2, size=(n, 1)) for i in range(5)})

    def f(x):
        q = x + vals["a0"]
        for i in range(1, 5):
            q = q / (x + vals[f"a{i}"])
        return float(np.sum(q))
    np.testing.assert_allclose(r.evaluate(vals), fd_grad(f, vals["x"]), rtol=1e-6, atol=1e-8)


def test_lowest_terms_check_leaves_cancellable_forms_to_sympy():
    from matcalc.simplify.algebra import _in_lowest_terms
    from matcalc.language.parser import parse_with_shapes

    def node(text, shapes="x: n, y: n, a: n, b: n, t: scalar"):
        return parse_with_shapes(text, shapes)[0]
    assert _in_lowest_terms(node("x ./ (a + b)"))
    assert _in_lowest_terms(node("(2 t) / (1 + t^2)"))
    assert not _in_lowest_terms(node("x .* (y ./ x)"))                 # x cancels
    assert not _in_lowest_terms(node("(x .* x + x .* y) ./ x"))        # x divides the sum
    assert not _in_lowest_terms(node("(x + y) ./ (x - y)"))            # two sums: ask SymPy
    assert not _in_lowest_terms(node("x ./ y - y ./ x"))               # a sum of quotients


def test_logistic_gradient_still_reaches_lowest_terms():
    r = derive("-sum(y .* log(sigmoid(X w)) + (1 - y) .* log(1 - sigmoid(X w)))", wrt="w",
               shapes="X: N×n, w: n, y: N")
    assert str(r) == "Xᵀ(σ(Xw) − y)"


def test_equal_nodes_from_the_constructors_are_one_object():
    from matcalc.language.parser import parse_with_shapes
    x, A = parse_with_shapes("x + A x", "x: n, A: n×n")[0].args[0], None
    A = B.sym("A", (x.shape[0], x.shape[0]))
    assert B.mul(B.transpose(A), x) is B.mul(B.transpose(A), x)


def test_thousand_least_squares_terms_are_within_the_operand_limit():
    """1,000 terms (Aᵢx − bᵢ)ᵀ(Aᵢx − bᵢ) were refused: the T of each ^T counted as an operand."""
    from matcalc.core.limits import check_input
    check_input(" + ".join(f"(A{i} x - b{i})^T (A{i} x - b{i})" for i in range(1000)))
    with pytest.raises(ParseError, match="limit on operands"):
        check_input(" + ".join(["x"] * 7000))


# Structure that keeps long inputs linear ---------------------------------------------------------

def _tanh_net(L):
    s = "x"
    for i in range(1, L + 1):
        s = f"tanh(W{i} {s})"
    return (f"sum(({s} - y) .^ 2)",
            "x: n, y: n, " + ", ".join(f"W{i}: n×n" for i in range(1, L + 1)))


def test_deep_network_hessian_is_correct_against_second_differences():
    """The Hessian of sum((tanh(W2 tanh(W1 x)) − y).^2) wrt x, after shared right-hand factors
    are taken out in one rewrite, against central second differences of the function."""
    rng = np.random.default_rng(232)
    n = 3
    expr, shapes = _tanh_net(2)
    r = derive(expr, wrt="x", shapes=shapes, order=2)
    W1, W2 = rng.normal(size=(n, n)) * 0.7, rng.normal(size=(n, n)) * 0.7
    y, x = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))

    def f(v):
        return float(np.sum((np.tanh(W2 @ np.tanh(W1 @ v)) - y) ** 2))

    h, H = 1e-4, np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.zeros((n, 1)), np.zeros((n, 1))
            ei[i], ej[j] = h, h
            H[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    got = r.evaluate({"W1": W1, "W2": W2, "y": y, "x": x})
    assert got.shape == (n, n)
    np.testing.assert_allclose(got, H, rtol=1e-5, atol=1e-6)


def test_deep_network_hessian_printed_with_named_parts_grows_linearly_with_depth():
    """Printed with repeated parts named once, the Hessian of an L-layer tanh network grows
    linearly in L (it grew as L² when each level held the flattened chain below it)."""
    from matcalc.calculus.derive import shared_size
    from matcalc.printing.named import named_form
    sizes, nodes = [], []
    for L in (6, 12, 24):
        expr, shapes = _tanh_net(L)
        r = derive(expr, wrt="x", shapes=shapes, order=2)
        sizes.append(len(named_form(r.node)))
        nodes.append(shared_size(r.node))
    for a, b in zip(sizes, sizes[1:]):
        assert b <= 2.4 * a, sizes
    for a, b in zip(nodes, nodes[1:]):
        assert b <= 2.2 * a, nodes


def test_shared_run_of_right_factors_is_taken_out_as_one_factor_at_a_time_would():
    """ABCD + EBCD + FCD: CD is shared by all three terms and B by two; taking the shared run
    out at once gives the form taking it out factor by factor gave."""
    from matcalc.core.dims import symbol
    from matcalc.simplify.rewrite import simplify
    n = symbol("n")
    A, Bm, C, D, E_, F = (E.Sym(s, (n, n)) for s in "ABCDEF")
    assert str(simplify(B.add(B.mul(A, Bm, C, D), B.mul(E_, Bm, C, D), B.mul(F, C, D)))) == \
        "((A + E)B + F)CD"
    assert str(simplify(B.add(B.mul(A, Bm, C, D), B.mul(B.num(-1), B.transpose(A), Bm, C, D)))) \
        == "(A − Aᵀ)BCD"
    assert str(simplify(B.add(B.mul(B.transpose(A), Bm, C, D), B.mul(A, Bm, C, D),
                              B.mul(D, A, C)))) == "(A + Aᵀ)BCD + DAC"


def test_like_terms_of_a_long_sum_are_found_when_only_their_canonical_forms_agree():
    """In a sum of many terms, aᵀx and xᵀa (equal only in canonical form) still collect: the
    names filter that spares canonical forms of unlike terms must not hide like ones."""
    rng = np.random.default_rng(233)
    n, k = 4, 9
    expr = "a^T x + x^T a + " + " + ".join(f"b{i}^T x" for i in range(k)) + " + x^T a"
    r = derive(expr, wrt="x")
    assert str(r) == "3a + " + " + ".join(f"b{i}" for i in range(k))
    vals = {"a": rng.normal(size=(n, 1)), "x": rng.normal(size=(n, 1)),
            **{f"b{i}": rng.normal(size=(n, 1)) for i in range(k)}}

    def f(x):
        a = vals["a"]
        total = a.T @ x + x.T @ a + sum(vals[f"b{i}"].T @ x for i in range(k)) + x.T @ a
        return float(total[0, 0])

    np.testing.assert_allclose(r.evaluate(vals), fd_grad(f, vals["x"]), rtol=1e-6, atol=1e-8)


def test_equal_cotangents_are_counted_not_repeated():
    """uᵀu sends u along both of its edges: the raw gradient of (Ax − b)ᵀ(Ax − b) holds
    2(Ax − b) once, not (Ax − b) + (Ax − b)."""
    from matcalc import parse
    from matcalc.calculus.derive import first_derivative
    f = parse("(A x - b)^T (A x - b)", "A: m×n, x: n, b: m")
    x = E.names_in(f)["x"]
    g, _ = first_derivative(f, x, None)
    text = str(g)
    assert text.count("Ax − b") == 1, text


# The command line and the call machinery -------------------------------------------------------

def test_command_line_does_not_import_sympy_for_a_plain_formula():
    """`matcalc "xᵀAx + sum(exp(x)) + log det(X)" --wrt x` answers without importing SymPy
    (its import alone costs more than the whole answer should)."""
    import subprocess
    import sys
    code = ("import sys, runpy\n"
            "sys.argv = ['matcalc', 'x^T A x + sum(exp(x)) + log det(X)', '--wrt', 'x']\n"
            "try:\n    runpy.run_module('matcalc', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('SYMPY' if 'sympy' in sys.modules else 'NO SYMPY')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "NO SYMPY", out.stdout + out.stderr


def test_calls_reuse_their_worker_threads():
    """Each call used to start a thread with a 256 MB stack; idle workers are now kept (a
    bounded number) and reused."""
    import threading
    import time
    from matcalc.core import limits
    for _ in range(30):
        derive("x^T x", wrt="x")
    for _ in range(100):                 # workers told to end (beyond MAX_IDLE) end promptly
        workers = [t for t in threading.enumerate() if t.name == "matcalc"]
        if len(workers) <= limits.MAX_IDLE:
            break
        time.sleep(0.02)
    assert 1 <= len(workers) <= limits.MAX_IDLE


def test_collector_thresholds_are_restored_after_a_call():
    import gc
    before = gc.get_threshold()
    derive("x^T A x", wrt="x")
    assert gc.get_threshold() == before


def test_a_forked_child_derives_without_the_parents_workers():
    """Worker threads do not survive fork(): a child must start its own, not hand its call to
    a thread that does not exist there (it would wait forever)."""
    import multiprocessing as mp
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    derive("x^T x", wrt="x")                 # the parent has an idle worker now
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_child_derive).get(timeout=60) == "2x"


def _child_derive():
    return str(derive("x^T x", wrt="x"))
