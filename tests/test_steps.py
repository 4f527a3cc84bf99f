"""The derivation shown step by step (r.steps): regressions for what users saw go wrong."""
from __future__ import annotations

import numpy as np

from matcalc import derive
from matcalc.numeric.evaluate import evaluate_tree


def test_steps_of_a_derivative_wrt_a_broadcast_scalar_do_not_raise_shape_error():
    """d/db of (1/N)·sum((y − relu(Xw + b))²), b a scalar added to every entry: the steps used
    to fail with "cannot multiply 𝟙 (N×1) by (−diag(step(z1)))ᵀ (N×N)"."""
    r = derive("(1/N)*sum((y - relu(X w + b)) .^ 2)", wrt="b",
               shapes="X: N×n, w: n, y: N, b: scalar")
    steps = r.steps
    text = steps.render()
    assert "(∂z1/∂b)ᵀ" in text and "shapes (1×N)(N×N)(N×1) = 1×1 ✓" in text
    # the substituted chain-rule result against central differences of the loss, in NumPy
    rng = np.random.default_rng(4)
    N, n = 7, 4
    X, w, y, b = rng.normal(size=(N, n)), rng.normal(size=(n, 1)), rng.normal(size=(N, 1)), 0.3
    loss = lambda b: np.mean((y - np.maximum(0, X @ w + b)) ** 2)
    h = 1e-6
    want = (loss(b + h) - loss(b - h)) / (2 * h)
    substituted = next(s for s in steps if s.kind == "substitute").parts["expr"]
    env = {"X": X, "w": w, "y": y, "b": np.array([[b]])}
    got = evaluate_tree(substituted, env, {"N": N, "n": n})
    assert np.allclose(got, want, rtol=1e-6, atol=1e-8)


def test_steps_wrt_a_scalar_added_to_a_vector_transpose_its_column():
    r = derive("sum(tanh(x + s))", wrt="s", shapes="x: n, s: scalar")
    assert "chain rule: ∂f/∂s = (∂z/∂s)ᵀ · ∂f/∂z" in str(r.steps)


def test_steps_of_nested_softmax_do_not_grow_exponentially():
    """Twelve nested softmaxes printed 5 million characters of steps (each level doubled every
    printed step); repeated parts are now named once in each step."""
    r = derive("sum(" + "softmax(" * 12 + "x" + ")" * 13, wrt="x")
    assert len(r.steps.render()) < 100_000
    r = derive("c^T " + "softmax(" * 12 + "x" + ")" * 12, wrt="x")
    text = r.steps.render()
    assert len(text) < 100_000 and "where" in text
    assert len(r.steps._repr_latex_()) < 400_000 and len(r.steps._repr_html_()) < 400_000
