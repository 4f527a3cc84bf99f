"""Whether two expressions are equal: by canonical form when the simplifier makes them
identical, otherwise by evaluating both at random points with a different size for every
dimension name. The answer says which test decided."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.limits import deep


@dataclass(frozen=True)
class Equivalence:
    equal: bool
    how: str          # "canonical form", "numeric test", or "shapes differ"
    detail: str = ""

    def __bool__(self):
        return self.equal

    def __str__(self):
        verdict = "equivalent" if self.equal else "not equivalent"
        return f"{verdict} ({self.how}{': ' + self.detail if self.detail else ''})"


@deep
def equivalent(a: str, b: str, shapes=None, points: int = 3, seed: int = 0) -> Equivalence:
    """Are the expressions a and b equal for all values of their variables?"""
    import numpy as np
    from ..numeric.evaluate import draw_sizes, draw_value, evaluate_tree, names_in
    from ..core.errors import ShapeError
    from ..language.parser import parse_together
    from .rewrite import Context, canonical, simplify
    try:
        (na, nb), decls = parse_together([a, b], shapes)
    except ShapeError as err:
        # each is well-shaped alone (parse_together read them one by one first), but no
        # shapes of the names fit both
        return Equivalence(False, "shapes differ", str(err).splitlines()[0])
    # a scalar equals a matrix only as the number 0 against a zero matrix (`0` is how a zero
    # matrix is written); anything else of another shape is a different function
    broadcast_zero = tuple(na.shape) != tuple(nb.shape) and (na.is_scalar or nb.is_scalar)
    if tuple(na.shape) != tuple(nb.shape) and not broadcast_zero:
        return Equivalence(False, "shapes differ", f"{na.shape} vs {nb.shape}")
    ctx = Context(symmetric=decls.symmetric_names)
    if canonical(simplify(na, ctx)) == canonical(simplify(nb, ctx)):
        return Equivalence(True, "canonical form")
    rng = np.random.default_rng(seed)
    syms = {**names_in(na), **names_in(nb)}
    dims = set()
    for n in list(syms.values()) + [na, nb]:
        for d in n.shape:
            dims |= d.free_symbols
    checked = 0
    for attempt in range(4 * points):
        sizes = draw_sizes(dims, rng)
        env = {k: draw_value(n, sizes, decls.modifiers(k), rng, attempt % 2 == 1)
               for k, n in syms.items()}
        va, vb = evaluate_tree(na, env, sizes), evaluate_tree(nb, env, sizes)
        if not (np.all(np.isfinite(va)) and np.all(np.isfinite(vb))):
            continue
        if broadcast_zero:
            small, big = (va, vb) if va.shape == (1, 1) else (vb, va)
            if small[0, 0] != 0 or np.any(big != 0):
                return Equivalence(False, "shapes differ",
                                   f"{na.shape} vs {nb.shape}, and they are not both zero")
        elif not np.allclose(va, vb, rtol=1e-8, atol=1e-10):
            return Equivalence(False, "numeric test",
                               f"they differ at sizes {{{', '.join(f'{k}={v}' for k, v in sizes.items())}}}")
        checked += 1
        if checked == points:
            return Equivalence(True, "numeric test", f"equal at {points} random points")
    return Equivalence(False, "numeric test", "no point where both are finite was found")
