"""Shared test helpers: random points with a different size for every dimension name, and the
--slow option (hypothesis profile "slow": thousands of generated examples)."""
from __future__ import annotations

import os

import numpy as np

from matcalc.numeric import draw_sizes, draw_value, evaluate_tree, names_in
from matcalc.parser import parse_with_shapes


def random_point(nodes, decls, rng, positive=False):
    """Sizes (distinct per dimension name) and values for every name in the given trees."""
    syms, dims = {}, set()
    for node in nodes:
        syms.update(names_in(node))
        stack = [node]
        while stack:
            n = stack.pop()
            for d in n.shape:
                dims |= d.free_symbols
            if hasattr(n, "dim"):
                dims |= n.dim.free_symbols
            stack.extend(n.children)
    sizes = draw_sizes(dims, rng)
    env = {name: draw_value(n, sizes, decls.modifiers(name), rng, positive)
           for name, n in syms.items()}
    return env, sizes


def compare_with_closed_form(result, expected_text, shapes, seed=0, tries=6):
    """Evaluate a derive() result and a hand-written closed form at the same random point
    (distinct sizes); returns the two arrays."""
    expected, _ = parse_with_shapes(expected_text, shapes)
    rng = np.random.default_rng(seed)
    for attempt in range(tries):
        env, sizes = random_point([result.function, result.node, expected], result.decls, rng,
                                  positive=attempt % 2 == 1)
        got = evaluate_tree(result.node, env, sizes)
        want = evaluate_tree(expected, env, sizes)
        if np.all(np.isfinite(got)) and np.all(np.isfinite(want)) and \
                np.all(np.isfinite(evaluate_tree(result.function, env, sizes))):
            return got, want, sizes
    raise AssertionError("no finite random point found")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="run the property tests with thousands of examples")


def pytest_configure(config):
    from hypothesis import HealthCheck, settings
    settings.register_profile("ci", max_examples=150, deadline=None,
                              suppress_health_check=list(HealthCheck))
    settings.register_profile("slow", max_examples=5000, deadline=None,
                              suppress_health_check=list(HealthCheck))
    slow = config.getoption("--slow", default=False) or os.environ.get("MATCALC_SLOW")
    settings.load_profile("slow" if slow else "ci")
