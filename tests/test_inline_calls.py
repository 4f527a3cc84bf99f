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


def test_short_call_runs_on_the_calling_thread(monkeypatch):
    seen = []
    import matcalc.calculus.derive as D
    original = D.first_derivative

    def spy(*args, **kwargs):
        seen.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(D, "first_derivative", spy)
    derive("x^T A x", wrt="x", shapes="A: n×n")
    assert seen and all(t is threading.current_thread() for t in seen)


def test_long_call_runs_on_a_worker(monkeypatch):
    seen = []
    import matcalc.calculus.derive as D
    original = D.first_derivative

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(D, "first_derivative", spy)
    text = " + ".join(f"c{i} x^T A x" for i in range(60))     # over the inline size
    assert len(text) > limits.INLINE_CHARS
    derive(text, wrt="x", shapes="A: n×n")
    assert seen and all(name == "matcalc" for name in seen)


def test_short_call_too_deep_for_the_caller_falls_back_to_a_worker(monkeypatch):
    """With the caller's limit only 40 frames above where it stands, sin nested 79 deep (396
    characters, a tree 79 levels deep) hits RecursionError inline; the call is repeated on a
    worker, and its derivative is checked against central differences of the nested sine.
    (79, the deepest within INLINE_CHARS: parsing a formula whose names are all declared no
    longer recurses at all, so 60 levels no longer run out of room.)"""
    fallbacks = []
    original = limits.run_deep

    def spy(*args, **kwargs):
        fallbacks.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(limits, "run_deep", spy)
    depth = 79
    text = "sin(" * depth + "x" + ")" * depth
    assert len(text) <= limits.INLINE_CHARS
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_frames() + 40)
    try:
        r = derive(text, wrt="x", shapes="x: scalar")
    finally:
        sys.setrecursionlimit(old)
    assert fallbacks, "the inline run was expected to run out of room"

    def f(t):
        for _ in range(depth):
            t = np.sin(t)
        return t

    x, h = 0.7, 1e-6
    assert np.isclose(float(np.ravel(r.evaluate({"x": x}))[0]), (f(x + h) - f(x - h)) / (2 * h),
                      rtol=1e-6, atol=1e-9)


def test_a_raised_recursion_limit_keeps_calls_on_a_worker(monkeypatch):
    """When the limit is already high (another thread's matcalc call, or the caller's own
    setting), a call never recurses deeply on a stack of unknown size: it goes to a worker."""
    seen = []
    import matcalc.calculus.derive as D
    original = D.first_derivative

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(D, "first_derivative", spy)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limits.INLINE_LIMIT + 1)
    try:
        derive("x^T A x", wrt="x", shapes="A: n×n")
    finally:
        sys.setrecursionlimit(old)
    assert seen and all(name == "matcalc" for name in seen)


def test_collector_thresholds_are_restored_after_inline_and_worker_calls():
    """Calls space out the collector's young-generation collections while they run (inline as
    on a worker) and leave the thresholds as they found them."""
    import gc
    before = gc.get_threshold()
    derive("x^T A x", wrt="x", shapes="A: n×n")
    derive(" + ".join(f"c{i} x^T A x" for i in range(60)), wrt="x", shapes="A: n×n")
    assert gc.get_threshold() == before
