"""How many scalar multiplications a formula costs, as printed and with its best chain order,
and forward versus reverse accumulation for a chain of Jacobians (the backprop-order tutorial).

The count is the textbook one: (a×b)(b×c) costs a·b·c, scaling or a Hadamard product of an
r×c matrix costs r·c, an n×n inverse or determinant n³, a Kronecker product the size of its
result; element-wise functions, sums and traces cost nothing. A matrix function or
decomposition costs a standard rough figure from the literature (MATFN_FLOPS), halved: a flop
count there counts a multiplication and an addition.
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
    known = dict(sizes)
    for s in d.free_symbols:            # min(m,n): the number of singular values of an m×n A
        a, _, b = str(s)[4:-1].partition(",") if str(s).startswith("min(") else ("", "", "")
        if a.strip() in sizes and b.strip() in sizes:
            known[str(s)] = min(sizes[a.strip()], sizes[b.strip()])
    v = d.subs({s: known[str(s)] for s in d.free_symbols if str(s) in known})
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


# Matrix functions and decompositions --------------------------------------------------------
# Rough dense-algorithm flop counts (a flop: one multiplication or addition) for an n×n argument,
# or m×n with m ≥ n (k: the columns of the right-hand side of solve):
#   solve   LU with partial pivoting and two triangular solves: 2n³/3 + 2n²k  (Golub & Van Loan,
#           Matrix Computations, §3.2–3.4)
#   chol    n³/3  (Golub & Van Loan §4.2)
#   expm    scaling and squaring with the degree-13 Padé approximant: 6 matrix products and one
#           solve with n right-hand sides, (6 + 4/3)·2n³ (Higham 2005, SIAM J. Matrix Anal. Appl.
#           26:1179; Functions of Matrices, Alg. 10.20); the squarings (one product each, as
#           many as log₂‖X‖ requires) are not counted
#   sqrtm   Schur method: 25n³ for the real Schur form, n³/3 for the triangular root, 3n³ to
#           transform back: 28⅓n³ (Higham, Functions of Matrices, Alg. 6.3)
#   logm    inverse scaling and squaring on the Schur form: the Schur form, a few triangular
#           square roots, a Padé approximant and the transformation back, ≈ 30n³ (Higham,
#           Functions of Matrices, Alg. 11.10; rough); X^p (powm) the same (Schur–Padé)
#   eigvals, λ_max, λ_min   symmetric tridiagonalisation and QR, values only: 4n³/3
#   eigvecs and the other eigenvector forms   with the vectors: 9n³ (Golub & Van Loan §8.3)
#   svdvals, σ_max, ‖·‖_*   Golub–Reinsch, values only: 4mn² − 4n³/3
#   svd_V, svd_v1   Σ and V: 4mn² + 8n³;  svd_U, svd_u1, svdgap_inv   Σ, thin U and V:
#           14mn² + 8n³ (Golub & Van Loan, §5.4.5 table)
#   pinv    the thin SVD and V Σ⁺ Uᵀ: 14mn² + 8n³ + 2mn²
#   L_f(X, E)      f of the 2n×2n block matrix [[X, E], [0, X]]: 8× the cost of f at n
#   L2_f(X, P, Q)  f of two 3n×3n block matrices: 54× the cost of f at n
#   K_f, K2_f      one column per direction: n² times the cost of L_f, L2_f
_SQUARE_FLOPS = {"expm": (6 + 4 / 3) * 2, "sqrtm": 25 + 1 / 3 + 3, "logm": 30, "powm": 30,
                 "chol": 1 / 3, "eigvals": 4 / 3, "lambda_max": 4 / 3, "lambda_min": 4 / 3,
                 "eigvecs": 9, "eiggap_inv": 9, "eigvec_max": 9, "eigvec_min": 9,
                 "eigres_max": 9, "eigres_min": 9, "tril_half": 0}
_SVD_FLOPS = {"svdvals": (4, -4 / 3), "sigma_max": (4, -4 / 3), "nuclear": (4, -4 / 3),
              "svd_V": (4, 8), "svd_v1": (4, 8), "svd_U": (14, 8), "svd_u1": (14, 8),
              "svdgap_inv": (14, 8), "pinv": (16, 8)}


def matfn_flops(fn: str, dims: list) -> float:
    """The flop estimate above for matrix function `fn` with arguments of these (rows, cols)."""
    if fn == "solve":
        (n, _), (_, k) = dims[0], dims[1]
        return 2 * n ** 3 / 3 + 2 * n * n * k
    if fn in _SVD_FLOPS:
        m, n = max(dims[0]), min(dims[0])
        a, b = _SVD_FLOPS[fn]
        return a * m * n * n + b * n ** 3
    n = dims[0][0]
    if fn.startswith(("K_", "K2_")):
        return n * n * matfn_flops(fn[1:].replace("2_", "L2_") if fn.startswith("K2_")
                                   else "L" + fn[1:], dims)
    if fn.startswith("L2_"):
        return 54 * matfn_flops(_BASE.get(fn[3:], fn[3:]), dims)
    if fn.startswith("L_"):
        return 8 * matfn_flops(_BASE.get(fn[2:], fn[2:]), dims)
    return _SQUARE_FLOPS.get(fn, 0) * n ** 3


_BASE = {"exp": "expm", "log": "logm", "sqrt": "sqrtm", "pow": "powm"}


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
        elif t is E.MatFn:
            total += round(matfn_flops(n.fn, [rc(a) for a in n.args]) / 2)
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
