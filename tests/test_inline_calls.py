"""Short calls run on the caller's own thread (a hand-off to a worker costs as much as a small
derivation); a short call that turns out to need deeper recursion than the caller's limit allows
runs again on a worker with room, and gives the right answer, not a RecursionError."""
from __future__ import annotations

import inspect
import sys
import threading

import numpy as np

from matcalc import derive
from matcalc.core import limits


def _frames() -> int:
    return len(inspect.stack(0))


def _threads_deriving(monkeypatch) -> list:
    """The threads the derivative step runs on, appended as it runs."""
    import matcalc.calculus.derive as D
    seen, original = [], D.first_derivative

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(D, "first_derivative", spy)
    return seen


def test_short_call_runs_on_the_calling_thread(monkeypatch):
    seen = _threads_deriving(monkeypatch)
    derive("x^T A x", wrt="x", shapes="A: n×n")
    assert seen and all(t is threading.current_thread() for t in seen)


def test_long_call_runs_on_a_worker(monkeypatch):
    seen = _threads_deriving(monkeypatch)
    text = " + ".join(f"c{i} x^T A x" for i in range(60))     # over the inline size
    assert len(text) > limits.INLINE_CHARS
    derive(text, wrt="x", shapes="A: n×n")
    assert seen and all(t.name == "matcalc" for t in seen)


def test_short_call_too_deep_for_the_caller_falls_back_to_a_worker(monkeypatch):
    """A short call that runs out of room on the caller's thread (here: the derivative step
    raises RecursionError there, as a tree deeper than the caller's limit would) is repeated on
    a worker and answers; its derivative of sin nested 12 deep is checked against central
    differences of the nested sine."""
    import matcalc.calculus.derive as D
    original = D.first_derivative
    caller = threading.current_thread()
    threads = []

    def shallow_caller(*args, **kwargs):
        threads.append(threading.current_thread())
        if threading.current_thread() is caller:
            raise RecursionError("maximum recursion depth exceeded")
        return original(*args, **kwargs)

    monkeypatch.setattr(D, "first_derivative", shallow_caller)
    depth = 12
    r = derive("sin(" * depth + "x" + ")" * depth, wrt="x", shapes="x: scalar")
    assert threads[0] is caller and threads[-1] is not caller

    def f(t):
        for _ in range(depth):
            t = np.sin(t)
        return t

    x, h = 0.7, 1e-6
    assert np.isclose(float(np.ravel(r.evaluate({"x": x}))[0]), (f(x + h) - f(x - h)) / (2 * h),
                      rtol=1e-6, atol=1e-9)


def test_short_call_deeper_than_the_callers_limit_still_answers():
    """The same through a real recursion limit: the caller's limit a few frames above where it
    stands (whatever part of the call runs out of room first), the answer still comes back."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 12)
    try:
        r = derive("x^T A x", wrt="x", shapes="A: n×n")
    finally:
        sys.setrecursionlimit(old)
    rng = np.random.default_rng(3)
    A, x = rng.standard_normal((4, 4)), rng.standard_normal(4)
    g = np.ravel(r.evaluate({"A": A, "x": x}))
    h = 1e-6
    fd = np.array([((x + h * e) @ A @ (x + h * e) - (x - h * e) @ A @ (x - h * e)) / (2 * h)
                   for e in np.eye(4)])
    assert np.allclose(g, fd, atol=1e-6)


def test_a_raised_recursion_limit_keeps_calls_on_a_worker(monkeypatch):
    """When the limit is already high (another thread's matcalc call, or the caller's own
    setting), a call never recurses deeply on a stack of unknown size: it goes to a worker."""
    seen = _threads_deriving(monkeypatch)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limits.INLINE_LIMIT + 1)
    try:
        derive("x^T A x", wrt="x", shapes="A: n×n")
    finally:
        sys.setrecursionlimit(old)
    assert seen and all(t.name == "matcalc" for t in seen)


def test_collector_thresholds_are_restored_after_inline_and_worker_calls():
    """Calls space out the collector's young-generation collections while they run (inline as
    on a worker) and leave the thresholds as they found them."""
    import gc
    before = gc.get_threshold()
    derive("x^T A x", wrt="x", shapes="A: n×n")
    derive(" + ".join(f"c{i} x^T A x" for i in range(60)), wrt="x", shapes="A: n×n")
    assert gc.get_threshold() == before
