"""derive, parse, printing and evaluation called from many threads at once give what they give
one at a time. The recursion limit used to be raised and restored around every call, so one
thread finishing lowered it under another one deep in a tree (RecursionError on an input that
works alone)."""
from __future__ import annotations

import sys
import threading

import numpy as np

import matcalc
from matcalc import derive, parse
from matcalc.printing.latex import to_latex
from matcalc.printing.text import to_text

THREADS = 8
CALLS = 500


def _deep_network(layers):
    s = "x"
    for i in range(1, layers + 1):
        s = f"tanh(W{i} {s})"
    return f"sum(({s} - y) .^ 2)"


DERIVE = [  # (expression, wrt, shapes)
    ("(Xθ − y)^T (Xθ − y)", "θ", "X: m×n, θ: n, y: m"),
    ("x^T A x", "x", "A: n×n, x: n"),
    ("logdet(X) + tr(A X)", "X", "X: n×n, A: n×n"),
    ("sum(softmax(W x))", "x", "W: m×n"),
    ("‖X - U V^T‖_F^2", "U", "X: m×n, U: m×k, V: n×k"),
    ("sigmoid(w^T x)", "w", "w: n, x: n"),
    ("exp(" * 450 + "x" + ")" * 450, "x", "x: scalar"),   # needs more than 1,000 frames
    (_deep_network(64), "W1", None),   # printing it needs more than 1,000 frames; derived once
    ("(" * 300 + "x^T x" + ")" * 300, "x", None),
]
PARSE = ["A B^T C", "x ⊙ exp(−x) + 1", "\\frac{1}{2} \\|A x - b\\|^2", "(" * 200 + "x" + ")" * 200,
         " - ".join(f"x_{i}" for i in range(20))]

VALUES = {"X": np.arange(12.0).reshape(4, 3) / 7, "θ": np.array([0.3, -0.2, 0.5]),
          "y": np.array([1.0, -1.0, 0.5, 2.0]), "A": np.array([[2.0, 0.3], [0.1, 1.5]]),
          "x": np.array([0.4, -0.7])}


def _tasks():
    results = [derive(e, wrt=w, shapes=s) for e, w, s in DERIVE]
    ls, quad = results[0], results[1]
    tasks = []
    for e, w, s in DERIVE[:6]:          # the deep ones are derived once, printed many times
        tasks.append(("derive", lambda e=e, w=w, s=s: str(derive(e, wrt=w, shapes=s))))
    for t in PARSE:
        tasks.append(("parse", lambda t=t: to_text(parse(t))))
    for r in results[:-1]:
        tasks += [("str", lambda r=r: str(r)), ("text", lambda r=r: r.text),
                  ("latex", lambda r=r: r.latex)]
    tasks.append(("str", lambda: str(results[-1])))
    tasks.append(("latex of a parse", lambda: to_latex(parse("A^{-1} b"))))
    tasks.append(("evaluate", lambda: ls.evaluate(VALUES).round(12).tolist()))
    tasks.append(("evaluate", lambda: quad.evaluate({"A": VALUES["A"], "x": VALUES["x"]})
                  .round(12).tolist()))
    tasks.append(("error", lambda: _error("x +")))
    tasks.append(("error", lambda: _error("(" * 501 + "x" + ")" * 501)))
    return tasks


def _error(text):
    try:
        parse(text)
    except matcalc.MatcalcError as err:
        return f"{type(err).__name__}: {err}"
    return "no error"


def test_many_threads_give_the_sequential_results():
    """8 threads × 500 calls (derive, parse, str/text/latex, evaluate, errors, including
    inputs that need deep recursion) give exactly the results of the same calls made one by
    one, and the process's recursion limit is what it was before."""
    limit = sys.getrecursionlimit()
    tasks = _tasks()
    expected = [fn() for _, fn in tasks]
    cheap = [i for i, (kind, _) in enumerate(tasks) if kind in ("str", "text", "latex",
                                                                  "evaluate", "error")]
    schedule = list(range(len(tasks))) + cheap * 3    # cheap calls more often: a short test
    failures: list = []
    start = threading.Barrier(THREADS)

    def worker(k):
        rng = np.random.default_rng(k)
        start.wait()
        for _ in range(CALLS):
            i = schedule[int(rng.integers(len(schedule)))]
            try:
                got = tasks[i][1]()
            except BaseException as err:        # noqa: BLE001 - reported below
                failures.append((tasks[i][0], i, f"{type(err).__name__}: {err}"[:300]))
                continue
            if got != expected[i]:
                failures.append((tasks[i][0], i, f"{got!r:.200} != {expected[i]!r:.200}"))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, f"{len(failures)} of {THREADS * CALLS} calls differed: {failures[:5]}"
    assert sys.getrecursionlimit() == limit


def test_recursion_limit_is_never_lowered_under_a_running_call():
    """While one thread is inside matcalc, another thread's call finishing must not lower the
    recursion limit (it used to restore its own saved value)."""
    from matcalc.core import limits
    inside = threading.Event()
    release = threading.Event()
    seen = []

    def slow():
        inside.set()
        release.wait(10)
        seen.append(sys.getrecursionlimit())

    t = threading.Thread(target=lambda: limits.run_deep(slow))
    t.start()
    inside.wait(10)
    for _ in range(20):
        derive("x^T x", wrt="x")
    release.set()
    t.join()
    assert seen == [limits.RECURSION_LIMIT]


def test_errors_and_context_cross_the_worker_thread():
    """A MatcalcError raised on the worker thread reaches the caller as itself, and the
    caller's context variables (NumPy's error state, decimal contexts) are seen inside."""
    import contextvars

    import pytest

    from matcalc.core import limits
    with pytest.raises(matcalc.ParseError, match="needs a right operand"):
        parse("x +")
    var = contextvars.ContextVar("var", default="unset")
    var.set("caller's value")
    assert limits.run_deep(var.get) == "caller's value"
