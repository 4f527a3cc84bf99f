"""Generated code for the matrix functions (core/functions.py): NumPy with scipy.linalg, and
jax.scipy.linalg / torch.linalg where those libraries have the function.

Templates take the arguments' code as {0}, {1}, … and the exponent as {p}; an argument used
twice goes through a lambda so that it is computed once. Scalar results are 1×1 arrays, as
every scalar is in the generated code. A function a backend lacks raises UnsupportedError.
"""
from __future__ import annotations

from ..core.errors import UnsupportedError

# f([[X, E], [0, X]]) has L_f(X, E) as its upper right block (Higham, Functions of Matrices, 3.6)
_BLOCK2 = "(lambda x, e: {f}({m}.block([[x, e], [{m}.zeros_like(x), x]]))[:x.shape[0], x.shape[0]:])({0}, {1})"
_BLOCK3 = ("(lambda x, a, b: (lambda z: {f}({m}.block([[x, a, z], [z, x, b], [z, z, x]]))"
           "[:x.shape[0], 2 * x.shape[0]:] + {f}({m}.block([[x, b, z], [z, x, a], [z, z, x]]))"
           "[:x.shape[0], 2 * x.shape[0]:])({m}.zeros_like(x)))({0}, {1}, {2})")
_EIGRES_MAX = "(lambda w, v: (v[:, :-1] / (w[-1] - w[:-1])) @ v[:, :-1].T)(*{m}.linalg.eigh({0}))"
_EIGRES_MIN = "(lambda w, v: (v[:, 1:] / (w[0] - w[1:])) @ v[:, 1:].T)(*{m}.linalg.eigh({0}))"
_SYMPART = "(lambda s: (s + s.T) / 2)({0})"
_TRIL_HALF = "(lambda t: {m}.tril(t, -1) + {m}.diag({m}.diag(t)) / 2)({0})"
# the evaluator's signs (numeric/matfuncs.py): each eigenvector with its largest entry positive;
# the singular vectors uᵢ, vᵢ both flipped where vᵢ's largest entry is negative
_SIGN = "{m}.sign(V[abs(V).argmax(0), {m}.arange(V.shape[1])])"


def _signed(v: str, cols: str) -> str:
    return "(lambda v: (v * " + _SIGN.replace("V", "v") + ")" + cols + ")(" + v + ")"


def _svd_signed(which: str, cols: str) -> str:
    return ("(lambda u, s, vt: (" + which + " * " + _SIGN.replace("V", "vt.T") + ")" + cols +
            ")(*{m}.linalg.svd({0}, full_matrices=False))")

_NUMPY_F = {"expm": "scipy.linalg.expm", "logm": "(lambda y: np.real(scipy.linalg.logm(y)))",
            "sqrtm": "(lambda y: np.real(scipy.linalg.sqrtm(y)))",
            "powm": "(lambda y: np.real(scipy.linalg.fractional_matrix_power(y, {p})))"}

COMMON = {      # the same text in every backend, {m} is np, jnp or torch
    "solve": "{m}.linalg.solve({0}, {1})",
    "pinv": "{m}.linalg.pinv({0})",
    "eigvals": "{m}.linalg.eigvalsh({0}).reshape(-1, 1)",
    "eigvecs": _signed("{m}.linalg.eigh({0})[1]", ""),
    "lambda_max": "{m}.linalg.eigvalsh({0})[-1:].reshape(1, 1)",
    "lambda_min": "{m}.linalg.eigvalsh({0})[:1].reshape(1, 1)",
    "eigvec_max": _signed("{m}.linalg.eigh({0})[1]", "[:, -1:]"),
    "eigvec_min": _signed("{m}.linalg.eigh({0})[1]", "[:, :1]"),
    "eiggap_inv": "(lambda w: (lambda d: {m}.where(d == 0, 0.0, 1.0 / {m}.where(d == 0, 1.0, d)))"
                  "(w[None, :] - w[:, None]))({m}.linalg.eigvalsh({0}))",
    "eigres_max": _EIGRES_MAX,
    "eigres_min": _EIGRES_MIN,
    "tril_half": _TRIL_HALF,
}
NUMPY = {
    **COMMON,
    "chol": "np.linalg.cholesky(" + _SYMPART + ")",
    "expm": "scipy.linalg.expm({0})",
    "logm": "np.real(scipy.linalg.logm({0}))",
    "sqrtm": "np.real(scipy.linalg.sqrtm({0}))",
    "powm": "np.real(scipy.linalg.fractional_matrix_power({0}, {p}))",
    "L_exp": "scipy.linalg.expm_frechet({0}, {1}, compute_expm=False)",
    "L_log": _BLOCK2.replace("{f}", _NUMPY_F["logm"]),
    "L_sqrt": _BLOCK2.replace("{f}", _NUMPY_F["sqrtm"]),
    "L_pow": _BLOCK2.replace("{f}", _NUMPY_F["powm"]),
    "L2_exp": _BLOCK3.replace("{f}", _NUMPY_F["expm"]),
    "L2_log": _BLOCK3.replace("{f}", _NUMPY_F["logm"]),
    "L2_sqrt": _BLOCK3.replace("{f}", _NUMPY_F["sqrtm"]),
    "L2_pow": _BLOCK3.replace("{f}", _NUMPY_F["powm"]),
    "svdvals": "np.linalg.svd({0}, compute_uv=False).reshape(-1, 1)",
    "svd_U": _svd_signed("u", ""),
    "svd_V": _svd_signed("vt.T", ""),
    "svd_u1": _svd_signed("u", "[:, :1]"),
    "svd_v1": _svd_signed("vt.T", "[:, :1]"),
    "sigma_max": "np.reshape(np.linalg.norm({0}, 2), (1, 1))",
    "nuclear": "np.reshape(np.linalg.norm({0}, 'nuc'), (1, 1))",
}
JAX = {
    **COMMON,
    "chol": "jnp.linalg.cholesky(" + _SYMPART + ")",
    "expm": "jax.scipy.linalg.expm({0})",
    "L_exp": "jax.scipy.linalg.expm_frechet({0}, {1}, compute_expm=False)",
    "L2_exp": _BLOCK3.replace("{f}", "jax.scipy.linalg.expm"),
    "svdvals": "jnp.linalg.svd({0}, compute_uv=False).reshape(-1, 1)",
    "svd_U": _svd_signed("u", ""),
    "svd_V": _svd_signed("vt.T", ""),
    "svd_u1": _svd_signed("u", "[:, :1]"),
    "svd_v1": _svd_signed("vt.T", "[:, :1]"),
    "sigma_max": "jnp.reshape(jnp.linalg.norm({0}, 2), (1, 1))",
    "nuclear": "jnp.reshape(jnp.linalg.norm({0}, 'nuc'), (1, 1))",
}
TORCH = {
    **{k: v.replace(".T)(*", ".mT)(*") for k, v in COMMON.items()},
    "chol": "torch.linalg.cholesky(" + _SYMPART + ")",
    "expm": "torch.linalg.matrix_exp({0})",
    "L_exp": _BLOCK2.replace("{f}", "torch.linalg.matrix_exp").replace(
        "{m}.block([[x, e], [{m}.zeros_like(x), x]])",
        "torch.cat([torch.cat([x, e], 1), torch.cat([torch.zeros_like(x), x], 1)], 0)"),
    "svdvals": "torch.linalg.svdvals({0}).reshape(-1, 1)",
    "svd_U": _svd_signed("u", ""),
    "svd_V": _svd_signed("vt.T", ""),
    "svd_u1": _svd_signed("u", "[:, :1]"),
    "svd_v1": _svd_signed("vt.T", "[:, :1]"),
    "sigma_max": "torch.linalg.matrix_norm({0}, 2).reshape(1, 1)",
    "nuclear": "torch.linalg.matrix_norm({0}, 'nuc').reshape(1, 1)",
}
# Kronecker forms: one column vec L(X, …, H) per unit direction H (column-major vec)
_NUMPY_L = {"exp": "(lambda x, e: scipy.linalg.expm_frechet(x, e, compute_expm=False))"}
_NUMPY_L.update({k: "(lambda x, e: " + _BLOCK2.replace("{f}", _NUMPY_F[f]).replace(
    "({0}, {1})", "(x, e)") + ")" for k, f in (("log", "logm"), ("sqrt", "sqrtm"),
                                                ("pow", "powm"))})
_NUMPY_L2 = {k: "(lambda x, a, b: " + _BLOCK3.replace("{f}", _NUMPY_F[f]).replace(
    "({0}, {1}, {2})", "(x, a, b)") + ")" for k, f in (("exp", "expm"), ("log", "logm"),
                                                      ("sqrt", "sqrtm"), ("pow", "powm"))}
_UNIT = "np.eye(x.size)[j].reshape(x.shape, order='F')"
for _k in ("exp", "log", "sqrt", "pow"):
    NUMPY[f"K_{_k}"] = ("(lambda x: np.column_stack([" + _NUMPY_L[_k] + f"(x, {_UNIT})"
                        ".reshape(-1, order='F') for j in range(x.size)]))({0})")
    NUMPY[f"K2_{_k}"] = ("(lambda x, a: np.column_stack([" + _NUMPY_L2[_k] + f"(x, a, {_UNIT})"
                         ".reshape(-1, order='F') for j in range(x.size)]))({0}, {1})")
for _table in (NUMPY, JAX):
    _table["svdgap_inv"] = ("(lambda w: (lambda d: {m}.where(d == 0, 0.0, 1.0 / {m}.where(d == 0, "
                            "1.0, d)))(w[None, :] - w[:, None]))({m}.linalg.svd({0}, "
                            "compute_uv=False) ** 2)")
# logm, sqrtm, X^p and their Fréchet derivatives in JAX and PyTorch, which lack them: through the
# eigendecomposition X = VΛV⁻¹ (complex; X diagonalizable, as almost every matrix is):
# f(X) = V f(Λ) V⁻¹ and L_f(X, E) = V (D ⊙ V⁻¹EV) V⁻¹, D the divided differences of f on the
# eigenvalues, f′ where two coincide (Daleckiĭ–Kreĭn; Higham, Functions of Matrices, Thm 3.11).
_F = {"log": ("{m}.log(w)", "1 / w"), "sqrt": ("{m}.sqrt(w)", "0.5 / {m}.sqrt(w)"),
      "pow": ("w ** {p}", "{p} * w ** ({p} - 1)")}
_EIG_F = "(lambda w, v: (v @ {m}.diag(F) @ {m}.linalg.inv(v)).real)(*{m}.linalg.eig({0}))"
_DD = ("(lambda dw, df, dp: {m}.where({m}.abs(dw) < 1e-9 * (1 + {m}.abs(w[:, None])), dp, "
       "df / {m}.where(dw == 0, 1, dw)))(w[:, None] - w[None, :], (F)[:, None] - (F)[None, :], "
       "(FP)[:, None] + 0 * w[None, :])")
_EIG_L = ("(lambda w, v: (lambda vi, d: (v @ (d * (vi @ CAST @ v)) @ vi).real)"
          "({m}.linalg.inv(v), DD))(*{m}.linalg.eig({0}))")
for _name, (_f, _fp) in _F.items():
    _base = {"log": "logm", "sqrt": "sqrtm", "pow": "powm"}[_name]
    for _table, _cast in ((JAX, "{1}.astype(v.dtype)"), (TORCH, "{1}.to(v.dtype)")):
        _table[_base] = _EIG_F.replace("F", _f)
        _table[f"L_{_name}"] = _EIG_L.replace("CAST", _cast).replace(
            "DD", _DD.replace("(FP)", f"({_fp})").replace("(F)", f"({_f})"))
# torch has no block(): the same blocks joined with cat
_TORCH_BLOCK3 = _BLOCK3.replace("{f}", "torch.linalg.matrix_exp").replace(
    "{m}.block([[x, a, z], [z, x, b], [z, z, x]])",
    "torch.cat([torch.cat([x, a, z], 1), torch.cat([z, x, b], 1), torch.cat([z, z, x], 1)], 0)"
).replace("{m}.block([[x, b, z], [z, x, a], [z, z, x]])",
          "torch.cat([torch.cat([x, b, z], 1), torch.cat([z, x, a], 1), torch.cat([z, z, x], 1)], 0)")
TORCH["L2_exp"] = _TORCH_BLOCK3
TORCH["svdgap_inv"] = ("(lambda w: (lambda d: torch.where(d == 0, 0.0, 1.0 / torch.where(d == 0, "
                       "1.0, d)))(w[None, :] - w[:, None]))(torch.linalg.svdvals({0}) ** 2)")
# Kronecker forms in JAX and PyTorch, from their own Fréchet derivatives: one column vec L(X, H)
# per unit direction H (column-major vec: vec(M) is M.T flattened)
_UNITS = {"jax": "jnp.eye(x.size, dtype=x.dtype)[j].reshape(x.shape, order='F')",
          "torch": ("torch.eye(x.shape[0] * x.shape[1], dtype=x.dtype, device=x.device)[j]"
                    ".reshape(x.shape[1], x.shape[0]).T")}
for _backend, _table in (("jax", JAX), ("torch", TORCH)):
    _unit, _m = _UNITS[_backend], {"jax": "jnp", "torch": "torch"}[_backend]
    for _k in ("exp", "log", "sqrt", "pow"):
        if f"L_{_k}" in _table:
            _table[f"K_{_k}"] = (
                "(lambda x: {m}.stack([(lambda h: " + _table[f"L_{_k}"].replace("{1}", "h")
                .replace("{0}", "x") + f")({_unit}).T.reshape(-1) for j in range(x.shape[0] * "
                "x.shape[1])], 1))({0})")
        if f"L2_{_k}" in _table:
            _table[f"K2_{_k}"] = (
                "(lambda x, a: {m}.stack([(lambda h: " + _table[f"L2_{_k}"].replace("{2}", "h")
                .replace("{1}", "a").replace("{0}", "x") + f")({_unit}).T.reshape(-1) for j in "
                "range(x.shape[0] * x.shape[1])], 1))({0}, {1})")
TEMPLATES = {"numpy": NUMPY, "jax": JAX, "torch": TORCH}
IMPORTS = {"numpy": "import scipy.linalg", "jax": "import jax.scipy.linalg", "torch": ""}


_BELOW_ATOM = 99          # code.py's atom level is 100: every operator binds below it


def matfn_code(printer, node) -> str:
    """The code of a MatFn node for the printer's backend."""
    import re
    table = TEMPLATES[printer.backend]
    template = table.get(node.fn)
    if template is None:
        have = ", ".join(sorted(k for k in NUMPY if k in table))
        raise UnsupportedError(f"{node.fn} has no {printer.backend} form in generated code; use "
                               f"the numpy backend (scipy.linalg)", hint=f"{printer.backend} "
                               f"has: {have}")
    # anything but an atom (a name, a call) in parentheses: templates write {1}.T, x @ {1} @ v
    args = [printer.arr(a, _BELOW_ATOM) for a in node.args]
    p = repr(float(node.exponent)) if node.exponent is not None else ""
    mod = printer.mod
    return re.sub(r"\{(\d|p|m)\}", lambda k: mod if k.group(1) == "m" else p
                  if k.group(1) == "p" else args[int(k.group(1))], template)


def uses_matfn(nodes) -> bool:
    """Whether any of the trees holds a matrix function (the code then imports its library)."""
    from ..core import expr as E
    stack, seen = list(nodes), set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if type(n) is E.MatFn:
            return True
        stack.extend(n.children)
    return False
