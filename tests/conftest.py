"""Shared test helpers: random points with a different size for every dimension name, and the
--slow option (hypothesis profile "slow": thousands of generated examples)."""
from __future__ import annotations

import os
from collections import Counter, defaultdict

import numpy as np

from matcalc.numeric.evaluate import draw_sizes, draw_value, evaluate_tree, names_in
from matcalc.language.parser import parse_with_shapes


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


# Property-test tallies: examples that passed, and examples rejected with a reason (no usable
# point, no rule) — reported at the end of the run, never counted as passes.
TALLY: dict = defaultdict(Counter)
EXAMPLES: dict = defaultdict(list)


def tally(test: str, outcome: str, example: str | None = None) -> None:
    TALLY[test][outcome] += 1
    if example is not None and len(EXAMPLES[(test, outcome)]) < 5:
        EXAMPLES[(test, outcome)].append(example)


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    tr = terminalreporter
    tr.section("property examples (a rejected example is not a pass)")
    for test, counts in sorted(TALLY.items()):
        total = sum(counts.values())
        parts = ", ".join(f"{k}: {v}" for k, v in counts.most_common())
        tr.write_line(f"{test}: {total} examples — {parts}")
        for outcome in counts:
            if outcome != "passed":
                for ex in EXAMPLES[(test, outcome)][:3]:
                    tr.write_line(f"    {outcome}: {ex[:160]}")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="run the property tests with thousands of examples")


def pytest_configure(config):
    from hypothesis import HealthCheck, settings
    # the default run is reproducible (the same examples on every machine, so a run that passed
    # here passes in CI); --slow draws fresh examples and explores
    settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True,
                              suppress_health_check=list(HealthCheck))
    settings.register_profile("slow", max_examples=5000, deadline=None,
                              suppress_health_check=list(HealthCheck))
    slow = config.getoption("--slow", default=False) or os.environ.get("MATCALC_SLOW")
    settings.load_profile("slow" if slow else "ci")
