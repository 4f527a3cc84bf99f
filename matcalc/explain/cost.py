"""How many scalar multiplications a formula costs, as printed and with its best chain order,
and forward versus reverse accumulation for a chain of Jacobians (the backprop-order tutorial).

The count is the textbook one: (a×b)(b×c) costs a·b·c, scaling or a Hadamard product of an
r×c matrix costs r·c, an n×n inverse or determinant n³, a Kronecker product the size of its
result; element-wise functions, sums and traces cost nothing.
"""
from __future__ import annotations

from ..core import expr as E
from ..core.shapes import is_scalar


def chain_cost(sizes: list[int]) -> dict:
    """Multiplications to form the Jacobian of a chain x → z₁ → … → f with these sizes
    (input first): forward accumulation multiplies from the input side, reverse from the
    output side. [10, 6, 8, 2, 1] gives forward 660, reverse 124."""
    n = list(sizes)
    k = len(n) - 1                      # number of Jacobians; J_i is n[i+1]×n[i]
    forward = sum(n[i + 1] * n[i] * n[0] for i in range(1, k))
    reverse = sum(n[k] * n[i + 1] * n[i] for i in range(0, k - 1))
    return {"forward": forward, "reverse": reverse}


def _concrete(d, sizes):
    if d.is_Integer:
        return int(d)
    v = d.subs({s: sizes[str(s)] for s in d.free_symbols if str(s) in sizes})
    if not v.is_Integer:
        from ..core.errors import MatcalcError
        raise MatcalcError(f"give a size for {', '.join(sorted(str(s) for s in v.free_symbols))}"
                           " to count multiplications")
    return int(v)


def _best_chain(dims):
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    for span in range(1, n):
        for i in range(n - span):
            j = i + span
            cost[i][j] = min(cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                             for k in range(i, j))
    return cost[0][n - 1] if n else 0


def multiplications(node, sizes: dict, best: bool) -> int:
    """Scalar multiplications to evaluate node; shared subtrees are counted once."""
    seen: set = set()

    def rc(n):
        return tuple(_concrete(d, sizes) for d in n.shape)

    def go(n):
        if n in seen:
            return 0
        seen.add(n)
        total = sum(go(c) for c in n.children)
        t = type(n)
        if t is E.MatMul:
            chain = [f for f in n.args if not is_scalar(f.shape)]
            scal = len(n.args) - len(chain)
            dims = [rc(chain[0])[0]] + [rc(f)[1] for f in chain] if chain else []
            if chain:
                total += _best_chain(dims) if best else sum(
                    dims[0] * dims[i] * dims[i + 1] for i in range(1, len(dims) - 1))
            r, c = rc(n)
            total += scal * r * c if chain else max(scal - 1, 0)
        elif t in (E.Hadamard, E.HadamardDiv):
            r, c = rc(n)
            total += (len(n.children) - 1) * r * c
        elif t in (E.Inverse, E.Det, E.LogDet) and not is_scalar(n.shape if t is E.Inverse
                                                                 else n.arg.shape):
            k = rc(n.arg)[0]
            total += k ** 3
        elif t is E.Kron:
            r, c = rc(n)
            total += r * c
        elif t is E.Power and not is_scalar(n.shape):
            k = rc(n)[0]
            total += (int(n.exponent) - 1) * k ** 3
        return total

    return go(node)


def cost(result, sizes: dict) -> dict:
    """{"as_printed": …, "best_order": …} and, when the derivation is a chain of vector
    intermediates, {"jacobian_chain": {"sizes": […], "forward": …, "reverse": …}}."""
    out = {"as_printed": multiplications(result.node, sizes, best=False),
           "best_order": multiplications(result.node, sizes, best=True)}
    chain = _chain_sizes(result, sizes)
    if chain:
        out["jacobian_chain"] = {"sizes": chain, **chain_cost(chain)}
    return out


def _chain_sizes(result, sizes):
    from .steps import intermediates
    from ..simplify.rewrite import rebuild_all
    f = rebuild_all(result.source)
    x = result.variable
    if x.shape[1] != 1:
        return None
    inter = intermediates(f, x)
    if not inter or any(z.shape[1] != 1 for z in inter):
        return None
    dims = [_concrete(x.shape[0], sizes)] + [_concrete(z.shape[0], sizes) for z in inter]
    return dims + [_concrete(f.shape[0], sizes) * _concrete(f.shape[1], sizes)]
