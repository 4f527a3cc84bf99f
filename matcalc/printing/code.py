"""Code generation: a readable NumPy, JAX or PyTorch function for a result and its function.

Only validated identifiers from the expression reach the code (names are checked against
Python's identifier rules and keywords, Greek letters are spelled out); numbers are printed
from their values. Every name in the code is used once: the parameters are named like the
variables, and a size or temporary that would clash with one gets another name (a variable
called m keeps its value next to the size m). Repeated subexpressions become temporaries,
diag(v)·M becomes broadcasting, matrix chains are ordered by cost when sizes are known, and
inputs are checked for shape. Outputs have r.evaluate's shapes: a scalar is 0-d, a vector a
column (or a row); a tensor result is returned as its vec-form matrix d vec(F)/d vec(X)ᵀ.
"""
from __future__ import annotations

import keyword
import re

from ..core import expr as E
from ..simplify.cse import shared
from ..core.errors import UnsupportedError
from ..core.dims import symbol
from ..core.shapes import LATIN_OF_GREEK, is_scalar
from .base import negate, negative_coefficient
from .unicode import to_unicode

BACKENDS = ("numpy", "jax", "torch")
_ATOM, _POW, _UNARY, _MUL, _ADD = 100, 90, 80, 70, 60

FUNCS = {   # element-wise functions: (numpy, jax, torch), {} is the argument
    "exp": ("np.exp({})", "jnp.exp({})", "torch.exp({})"),
    "log": ("np.log({})", "jnp.log({})", "torch.log({})"),
    "sin": ("np.sin({})", "jnp.sin({})", "torch.sin({})"),
    "cos": ("np.cos({})", "jnp.cos({})", "torch.cos({})"),
    "tan": ("np.tan({})", "jnp.tan({})", "torch.tan({})"),
    "tanh": ("np.tanh({})", "jnp.tanh({})", "torch.tanh({})"),
    "sigmoid": ("(0.5 * (1.0 + np.tanh(0.5 * {})))", "jax.nn.sigmoid({})", "torch.sigmoid({})"),
    "relu": ("np.maximum({}, 0.0)", "jnp.maximum({}, 0.0)", "torch.relu({})"),
    "softplus": ("np.logaddexp(0.0, {})", "jax.nn.softplus({})",
                 "torch.nn.functional.softplus({})"),
    "abs": ("np.abs({})", "jnp.abs({})", "torch.abs({})"),
    "sqrt": ("np.sqrt({})", "jnp.sqrt({})", "torch.sqrt({})"),
    "sign": ("np.sign({})", "jnp.sign({})", "torch.sign({})"),
    "step": ("np.heaviside({}, 0.0)", "jnp.heaviside({}, 0.0)", "(({}) > 0).to(dtype)"),
    "arcsin": ("np.arcsin({})", "jnp.arcsin({})", "torch.asin({})"),
    "arccos": ("np.arccos({})", "jnp.arccos({})", "torch.acos({})"),
    "arctan": ("np.arctan({})", "jnp.arctan({})", "torch.atan({})"),
    "sinh": ("np.sinh({})", "jnp.sinh({})", "torch.sinh({})"),
    "cosh": ("np.cosh({})", "jnp.cosh({})", "torch.cosh({})"),
    "log1p": ("np.log1p({})", "jnp.log1p({})", "torch.log1p({})"),
    "expm1": ("np.expm1({})", "jnp.expm1({})", "torch.expm1({})"),
}
HEADER = {
    "numpy": "import numpy as np\n",
    "jax": "import jax\nimport jax.numpy as jnp\n",
    "torch": "import torch\n",
}
# K(m,n) is the permutation with K(m,n)·vec(A) = vec(Aᵀ) for A m×n (column-major vec): row
# c + n·r of K picks entry r + m·c of vec(A), i.e. K = I[p] with p = arange(mn) laid out n×m
# row by row, transposed and read row by row.
_COMMUTATION = {
    "numpy": "np.eye({m} * {n})[np.arange({m} * {n}).reshape({n}, {m}).T.reshape(-1)]",
    "jax": "jnp.eye({m} * {n})[jnp.arange({m} * {n}).reshape({n}, {m}).T.reshape(-1)]",
    "torch": "torch.eye({m} * {n}, dtype=dtype)[torch.arange({m} * {n})"
             ".reshape({n}, {m}).T.reshape(-1)]",
}
_RESERVED = frozenset({"np", "jnp", "jax", "torch", "value", "derivative", "dtype", "_"})


def identifier(name: str) -> str:
    """A safe Python identifier for a matcalc name: θ → theta, keywords get a trailing _."""
    out = "".join(LATIN_OF_GREEK.get(ch, ch) if ch in LATIN_OF_GREEK else ch for ch in name)
    out = out.replace("∂", "d_")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", out):
        raise UnsupportedError(f"`{name}` cannot be used as a name in generated code")
    if keyword.iskeyword(out) or out in _RESERVED - {"_"}:
        out += "_"
    return out


class Names:
    """Identifiers for generated code, each used once: variables first (named like the user's
    variables), then sizes, then temporaries; a clash gets a suffix, never a shadowed name."""

    def __init__(self, reserved=()):
        self.taken = set(_RESERVED) | set(reserved)

    def fresh(self, base: str, alternative: str | None = None) -> str:
        """`base` if free, else `alternative` (e.g. m_size for a size m that a variable is
        called), else the first free of alternative_2, alternative_3, …"""
        for name in (base, alternative or base):
            if name not in self.taken and not keyword.iskeyword(name):
                self.taken.add(name)
                return name
        stem, k = alternative or base, 2
        while f"{stem}_{k}" in self.taken:
            k += 1
        self.taken.add(f"{stem}_{k}")
        return f"{stem}_{k}"


def _constant(node) -> bool:
    """Arithmetic of numbers and sizes alone: its code gives a Python number."""
    if isinstance(node, (E.Num, E.Size)):
        return True
    return isinstance(node, (E.Add, E.MatMul, E.Hadamard, E.HadamardDiv, E.HadamardPower,
                             E.Power, E.Inverse)) and all(_constant(c) for c in node.children)


_REDUCTIONS = (E.Sum, E.Mean, E.Trace, E.Det, E.LogDet, E.Norm, E.LogSumExp)


def _two_d(node) -> bool:
    """Whether the code of a scalar node gives a 1×1 array (a variable, a product of vectors)
    rather than a 0-d one or a Python number (a reduction, a number, a size)."""
    if isinstance(node, (E.Num, E.Size) + _REDUCTIONS):
        return False
    if isinstance(node, E.MatMul) and any(not is_scalar(f.shape) for f in node.args):
        return True
    if isinstance(node, (E.MatMul, E.Add, E.Hadamard, E.HadamardDiv, E.HadamardPower,
                         E.Power, E.Inverse, E.Apply)):
        return any(_two_d(c) for c in node.children)
    return True


class CodePrinter:
    def __init__(self, backend: str, sizes: dict | None = None):
        if backend not in BACKENDS:
            raise UnsupportedError(f"unknown code backend {backend!r}; choose one of "
                                   + ", ".join(BACKENDS))
        self.backend = backend
        self.k = BACKENDS.index(backend)
        self.mod = {"numpy": "np", "jax": "jnp", "torch": "torch"}[backend]
        self.sizes = sizes or {}
        self.names: dict = {}          # node → temporary holding it
        self.variables: dict = {}      # matcalc name → identifier in the code
        self.dims: dict = {}           # size name → identifier in the code

    def dim(self, d) -> str:
        """A size as code: an integer, a size's identifier, or a product of them."""
        if d.is_Integer:
            return str(int(d))
        if d.is_Symbol and str(d).startswith("min("):    # the length of svdvals(A)
            a, b = (symbol(x.strip()) if not x.strip().isdigit() else x.strip()
                    for x in str(d)[4:-1].split(","))
            return f"min({self._dim_name(str(a))}, {self._dim_name(str(b))})"
        if d.is_Symbol:
            return self._dim_name(str(d))
        return "(" + " * ".join(self._dim_name(f) if isinstance(f, str) else str(f)
                                for f in d.flat_factors()) + ")"

    def _dim_name(self, name: str) -> str:
        if name.startswith("min("):                      # a factor min(m,n) of a product
            return self.dim(symbol(name))
        return self.dims[name] if name in self.dims else identifier(name)

    # expressions ------------------------------------------------------------------------
    def emit(self, node) -> tuple[str, int]:
        if node in self.names:
            return self.names[node], _ATOM
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def code(self, node) -> str:
        return self.emit(node)[0]

    def arr(self, node, level=None, matrix=True) -> str:
        """The code of an operand that must be an array (matrix=True: a 2-D one, for a
        transpose, trace, det, kron, diag, vec…). Scalars are 1×1 arrays in this code, but a
        reduction gives a 0-d one and numbers and sizes alone give a Python number."""
        if is_scalar(node.shape) and (_constant(node) or matrix and not _two_d(node)):
            if _constant(node):
                extra = ", dtype=dtype" if self.backend == "torch" else ""
                return f"{self.mod}.full((1, 1), {self.code(node)}{extra})"
            return f"{self.mod}.reshape({self.code(node)}, (1, 1))"
        return self.code(node) if level is None else self.wrap(node, level)

    def wrap(self, node, level) -> str:
        s, p = self.emit(node)
        return s if p > level else f"({s})"

    def _sym(self, n):
        if n.name in self.variables:
            return self.variables[n.name], _ATOM
        return identifier(n.name), _ATOM

    def _num(self, n):
        v = n.value
        s = str(v.numerator) + ".0" if v.denominator == 1 else repr(float(v))
        return (s, _ATOM) if v >= 0 else (s, _UNARY)

    def _size(self, n):
        return self.dim(n.dim), _ATOM

    def _shape_args(self, shape):
        return ", ".join(self.dim(d) for d in shape)

    def _identity(self, n):
        f = "torch.eye({}, dtype=dtype)" if self.backend == "torch" else self.mod + ".eye({})"
        return f.format(self.dim(n.shape[0])), _ATOM

    def _zero(self, n):
        extra = ", dtype=dtype" if self.backend == "torch" else ""
        return f"{self.mod}.zeros(({self._shape_args(n.shape)}){extra})", _ATOM

    def _ones(self, n):
        extra = ", dtype=dtype" if self.backend == "torch" else ""
        return f"{self.mod}.ones(({self._shape_args(n.shape)}){extra})", _ATOM

    def _commutation(self, n):
        return _COMMUTATION[self.backend].format(m=self.dim(n.rows), n=self.dim(n.cols)), _ATOM

    def _add(self, n):
        parts = []
        for i, t in enumerate(n.args):
            if i and negative_coefficient(t):
                parts.append(" - " + self.wrap_neg(t))
                continue
            s = self.wrap(t, _ADD - 1)
            if i and s.startswith("-"):         # a negated product nested deeper: a + -b
                parts.append(" + " + f"({s})")
            else:
                parts.append((" + " if i else "") + s)
        return "".join(parts), _ADD

    def wrap_neg(self, t):
        return self.wrap(negate(t), _ADD)

    def _matmul(self, n):
        scal = [f for f in n.args if is_scalar(f.shape)]
        chain = [f for f in n.args if not is_scalar(f.shape)]
        parts = []
        coef = None
        for f in scal:
            if isinstance(f, E.Num) and coef is None:
                coef = f
                continue
            if isinstance(f, E.Inverse):
                parts.append(("/", self.wrap(f.arg, _MUL)))
            else:
                parts.append(("*", self.wrap(f, _MUL)))
        body = self.chain(chain) if chain else None
        out = body[0] if body else None
        prec = body[1] if body else _ATOM
        for op, s in parts:
            if out is None:
                out, prec = (s if op == "*" else f"1.0 / {s}"), _MUL
            else:
                out = f"{out if prec >= _MUL else '(' + out + ')'} {op} {s}"
                prec = _MUL
        if coef is not None:
            c = coef.value
            if c == -1 and out is not None:
                return "-" + (out if prec > _UNARY else f"({out})"), _UNARY
            cs = self._num(coef)[0]
            if out is None:
                return cs, _ATOM
            return f"{cs if c > 0 else '(' + cs + ')'} * {out if prec > _MUL else '(' + out + ')'}", _MUL
        return out, prec

    # matrix chains: association by cost, diag(v) as broadcasting ------------------------
    def chain(self, fs):
        if len(fs) == 1:
            return self.emit(fs[0])
        split = self.best_split(fs)
        left, right = fs[:split], fs[split:]
        return self.pair(left, right)

    def pair(self, left, right):
        if len(left) == 1 and isinstance(left[0], E.Add) and len(right) == 1 and \
                isinstance(right[0], E.Sym) and right[0].shape[1] == 1 and \
                all((isinstance(t, E.Sym) or isinstance(t, E.Transpose) and
                     isinstance(t.arg, E.Sym)) and not is_scalar(t.shape)
                    for t in left[0].args):
            # (a broadcast scalar term is c·𝟙𝟙ᵀ, not c: (A + c)x is not Ax + cx)
            # (A + Aᵀ)x as Ax + Aᵀx: two matrix–vector products stream through A, where forming
            # A + Aᵀ first reads A transposed (cache-hostile) and writes an n×n temporary.
            return " + ".join(self.pair([t], right)[0] for t in left[0].args), _ADD
        ls = self.chain(left)
        rs = self.chain(right)
        if len(left) == 1 and isinstance(left[0], E.DiagMat):
            v = self.wrap(left[0].arg, _MUL)
            return f"{v} * {rs[0] if rs[1] >= _MUL else '(' + rs[0] + ')'}", _MUL
        if len(right) == 1 and isinstance(right[0], E.DiagMat) and len(left) == 1 and \
                not isinstance(left[0], E.DiagMat):
            w = self.wrap(right[0].arg, _POW)
            return f"{ls[0] if ls[1] >= _MUL else '(' + ls[0] + ')'} * {w}.T", _MUL
        if self.backend == "jax":
            # XLA on CPU copies a transposed operand before a dot; contracting over the right
            # axis instead computes Aᵀb without the copy (4× faster for a 2000×1000 A).
            if len(left) == 1 and isinstance(left[0], E.Transpose):
                a = self.emit(left[0].arg)[0]
                return f"jax.lax.dot_general({a}, {rs[0]}, (((0,), (0,)), ((), ())))", _ATOM
            if len(right) == 1 and isinstance(right[0], E.Transpose):
                b = self.emit(right[0].arg)[0]
                return f"jax.lax.dot_general({ls[0]}, {b}, (((1,), (1,)), ((), ())))", _ATOM
        return (f"{ls[0] if ls[1] >= _MUL else '(' + ls[0] + ')'} @ "
                f"{rs[0] if rs[1] > _MUL else '(' + rs[0] + ')'}"), _MUL

    def best_split(self, fs):
        dims = [self.concrete(fs[0].shape[0])] + [self.concrete(f.shape[1]) for f in fs]
        if None in dims:        # unknown sizes: a chain that ends in a vector runs from the right
            return len(fs) - 1 if fs[-1].shape[1] == 1 and fs[0].shape[0] != 1 else 1
        n = len(fs)
        cost = [[0] * n for _ in range(n)]
        cut = [[0] * n for _ in range(n)]
        for span in range(1, n):
            for i in range(n - span):
                j = i + span
                cost[i][j] = float("inf")
                for k in range(i, j):
                    c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                    if c < cost[i][j]:
                        cost[i][j], cut[i][j] = c, k
        return cut[0][n - 1] + 1

    def concrete(self, d):
        if d.is_Integer:
            return int(d)
        v = d.subs({s: self.sizes[str(s)] for s in d.free_symbols if str(s) in self.sizes})
        return int(v) if v.is_Integer else None

    # the rest ---------------------------------------------------------------------------
    def _hadamard(self, n):
        return " * ".join(self.wrap(a, _MUL) for a in n.args), _MUL

    def _hadamarddiv(self, n):
        return f"{self.wrap(n.left, _MUL - 1)} / {self.wrap(n.right, _MUL)}", _MUL

    def _hadamardpower(self, n):
        return f"{self.wrap(n.arg, _POW)} ** {self._num(E.Num(n.exponent))[0]}", _POW

    def _kron(self, n):
        if self.backend == "torch":
            # torch.kron fails on a transposed (non-contiguous) operand ("view size is not
            # compatible with input tensor's size and stride"): hand it contiguous copies
            return (f"torch.kron({self.arr(n.left, _POW)}.contiguous(), "
                    f"{self.arr(n.right, _POW)}.contiguous())"), _ATOM
        return f"{self.mod}.kron({self.arr(n.left)}, {self.arr(n.right)})", _ATOM

    def _transpose(self, n):
        return f"{self.arr(n.arg, _POW)}.T", _ATOM

    def _inverse(self, n):
        if is_scalar(n.shape):
            return f"1.0 / {self.wrap(n.arg, _MUL)}", _MUL
        return f"{self.mod}.linalg.inv({self.arr(n.arg)})", _ATOM

    def _power(self, n):
        if is_scalar(n.shape):
            return f"{self.wrap(n.arg, _POW)} ** {self._num(E.Num(n.exponent))[0]}", _POW
        return f"{self.mod}.linalg.matrix_power({self.arr(n.arg)}, {int(n.exponent)})", _ATOM

    def _apply(self, n):
        if n.fn == "log":
            stable = self._stable_log(n.arg)
            if stable is not None:
                return stable
        if n.fn not in FUNCS:
            raise UnsupportedError(f"{n.fn} has no generated-code form yet")
        template = FUNCS[n.fn][self.k]
        plain = re.fullmatch(r"[\w.]+\(\{\}\)", template) is not None
        arg = self.arr(n.arg, matrix=False) if plain else self.arr(n.arg, _POW, matrix=False)
        return template.format(arg), _ATOM

    def _softplus(self, z, minus=False) -> str:
        """softplus(z) as code (softplus(−z) with minus=True)."""
        if minus and negative_coefficient(z):
            z, minus = negate(z), False
        code = self.arr(z, matrix=False) if not minus else \
            "-" + self.arr(z, _UNARY, matrix=False)
        return FUNCS["softplus"][self.k].format(code)

    def _stable_log(self, arg):
        """log of a form that overflows or loses digits when printed as written: log(1 + eᶻ)
        is softplus(z), log σ(z) = −softplus(−z), log(1 − σ(z)) = −softplus(z),
        log softmax(a) = a − logsumexp(a), log(1 + u) is log1p(u). None for any other."""
        if isinstance(arg, E.Apply) and arg.fn == "sigmoid":
            return f"-{self._softplus(arg.arg, minus=True)}", _UNARY
        if isinstance(arg, E.Softmax):
            a = self.arr(arg.arg)
            return {"numpy": f"({a} - np.logaddexp.reduce({a}, axis=None))",
                    "jax": f"jax.nn.log_softmax({a}, axis=0)",
                    "torch": f"torch.log_softmax({a}, dim=0)"}[self.backend], _ATOM
        if isinstance(arg, E.Add) and len(arg.args) == 2 and arg not in self.names:
            one = [t for t in arg.args if isinstance(t, E.Num) and t.value == 1]
            if one:
                u = arg.args[1] if arg.args[0] is one[0] else arg.args[0]
                if isinstance(u, E.Apply) and u.fn == "exp":
                    return self._softplus(u.arg), _ATOM
                if negative_coefficient(u):
                    v = negate(u)
                    if isinstance(v, E.Apply) and v.fn == "sigmoid":
                        return f"-{self._softplus(v.arg)}", _UNARY
                fn = {"numpy": "np.log1p", "jax": "jnp.log1p", "torch": "torch.log1p"}
                return f"{fn[self.backend]}({self.arr(u, matrix=False)})", _ATOM
        return None

    def _sum(self, n):
        return f"{self.mod}.sum({self.arr(n.arg, matrix=False)})", _ATOM

    def _mean(self, n):
        return f"{self.mod}.mean({self.arr(n.arg, matrix=False)})", _ATOM

    def _trace(self, n):
        return f"{self.mod}.trace({self.arr(n.arg)})", _ATOM

    def _det(self, n):
        return f"{self.mod}.linalg.det({self.arr(n.arg)})", _ATOM

    def _logdet(self, n):
        if self.backend == "torch":
            return f"torch.logdet({self.arr(n.arg)})", _ATOM
        return f"{self.mod}.linalg.slogdet({self.arr(n.arg)})[1]", _ATOM

    def _norm(self, n):
        return f"{self.mod}.linalg.norm({self.arr(n.arg)})", _ATOM

    def _logsumexp(self, n):
        a = self.arr(n.arg)
        return {"numpy": f"np.logaddexp.reduce({a}, axis=None)",
                "jax": f"jax.scipy.special.logsumexp({a})",
                "torch": f"torch.logsumexp(torch.reshape({a}, (-1,)), dim=0)"}[self.backend], _ATOM

    def _softmax(self, n):
        a = self.arr(n.arg)
        return {"numpy": f"np.exp({a} - np.logaddexp.reduce({a}, axis=None))",
                "jax": f"jax.nn.softmax({a}, axis=0)",
                "torch": f"torch.softmax({a}, dim=0)"}[self.backend], _ATOM

    def _diagmat(self, n):
        a = self.arr(n.arg, _POW)
        return (f"torch.diag({a}.reshape(-1))" if self.backend == "torch" else
                f"{self.mod}.diag({a}.ravel())"), _ATOM

    def _diagvec(self, n):
        return f"{self.mod}.diag({self.arr(n.arg)}).reshape(-1, 1)", _ATOM

    def _vec(self, n):
        return f"{self.arr(n.arg, _POW)}.T.reshape(-1, 1)", _ATOM

    def _matfn(self, n):
        from .matfn_code import matfn_code
        return matfn_code(self, n), _ATOM


def generate(result, backend: str = "numpy", sizes: dict | None = None,
             name: str | None = None, value: bool = True) -> str:
    """Source of a function computing (value, derivative) of a Result (only the derivative
    with value=False). Outputs have the shapes r.evaluate gives: a scalar is 0-d, a vector a
    column (or a row), a tensor result is returned as its vec-form matrix d vec(F)/d vec(X)ᵀ."""
    return generated(result, backend, sizes, name, value)[0]


def generated(result, backend="numpy", sizes=None, name=None, value=True):
    """(source, function name, parameters, the variables as nodes with their identifiers)."""
    f, d = result.function, result.node
    fname = identifier(name or (f"value_and_{_kind_word(result.kind)}" if value else
                                _kind_word(result.kind)))
    p = CodePrinter(backend, sizes)
    args = _arguments(result, [f, d])     # all of f's variables: they carry the sizes
    names = Names({fname})
    params, prologue = bind(p, names, args, [f, d], sizes)
    lines = [HEADER[backend].rstrip("\n"), "", ""]
    from .matfn_code import IMPORTS, uses_matfn
    if IMPORTS[backend] and uses_matfn([f, d]):          # expm, solve, …: scipy.linalg
        lines.insert(1, IMPORTS[backend])
    lines.append(f"def {fname}({', '.join(params)}):")
    what = result.kind
    if result.kind == "tensor":
        what = "derivative, as the matrix d vec(F)/d vec(X)ᵀ (column-major vec),"
    lines.append(f'    """{_safe(to_unicode(result.function))} and its {what} wrt '
                 f'{_safe(result.wrt)}: {_safe(str(result))}."""')
    lines += ["    " + s for s in prologue]
    for node in shared([f, d] if value else [d]):
        t = names.fresh(f"t{len(p.names) + 1}")
        lines.append(f"    {t} = {p.code(node)}")
        p.names[node] = t
    if value:
        lines.append(f"    value = {_output(p, f)}")
    lines.append(f"    derivative = {_output(p, d)}")
    lines.append("    return value, derivative" if value else "    return derivative")
    return "\n".join(lines) + "\n", fname, params, [(a, p.variables[a.name]) for a in args]


def _output(p, node) -> str:
    """The code of a returned node: a scalar comes back 0-d (as r.evaluate gives a float)."""
    code = p.code(node)
    if not is_scalar(node.shape):
        return code
    if p.backend == "torch":
        return f"torch.as_tensor({code}, dtype=dtype).reshape(())"
    return f"{p.mod}.reshape({code}, ())"


def _size_names(nodes, everywhere=False) -> list:
    """The size names that the code of the trees prints (identity, zeros, ones, commutation,
    a size used as a value), or with everywhere=True every size in their shapes; first seen
    first."""
    out: dict = {}
    stack = list(reversed(nodes))
    while stack:
        n = stack.pop()
        dims = list(n.shape or ()) if everywhere or isinstance(
            n, (E.Identity, E.Zero, E.Ones)) else []
        if isinstance(n, E.Size):
            dims.append(n.dim)
        if isinstance(n, E.Commutation):
            dims += [n.rows, n.cols]
        for dim in dims:
            for f in dim.flat_factors():
                if isinstance(f, str) and f.startswith("min("):     # min(m,n): m and n
                    for g in f[4:-1].split(","):
                        if not g.strip().isdigit():
                            out.setdefault(g.strip(), None)
                elif isinstance(f, str):
                    out.setdefault(f, None)
        stack.extend(reversed(n.children))
    return list(out)


def bind(p, names, args, roots, sizes=None, check=True, reshape=True):
    """Name the variables and sizes for printer `p`, and write the lines that read every size
    off the inputs and check every input's shape. Returns (parameters, lines): a size no input
    carries is a keyword-only parameter (or a constant, when `sizes` gives it)."""
    for a in args:
        p.variables[a.name] = names.fresh(identifier(a.name))
    wanted = _size_names(args, everywhere=True) if check else []
    wanted += [s for s in _size_names(roots) if s not in wanted]
    for s in wanted:
        base = identifier(s)
        p.dims[s] = names.fresh(base, base + "_size")
    out, known = [], set()
    if p.backend == "torch":
        # computed in the inputs' floating dtype (float32 in, float32 out), the default dtype
        # when every input is a Python number
        tensors = ", ".join(p.variables[a.name] for a in args) + ("," if len(args) == 1 else "")
        out.append(f"dtype = next((a.dtype for a in ({tensors}) if torch.is_tensor(a) and "
                   "a.is_floating_point()), torch.get_default_dtype())")
    for a in args:
        ident = p.variables[a.name]
        if is_scalar(a.shape):
            # a float, a 0-d or a 1×1 array: 1×1, as every scalar is in the printed code
            if reshape and p.backend == "torch":
                out.append(f"{ident} = ({ident} if torch.is_tensor({ident}) else "
                           f"torch.tensor({ident}, dtype=dtype)).reshape(1, 1)")
            elif reshape:
                out.append(f"{ident} = {p.mod}.reshape({ident}, (1, 1))")
            continue
        if a.shape[1] == 1 and reshape:
            out.append(f"{ident} = {ident}.reshape(-1, 1)")
        read = []
        for dim in a.shape:
            if dim.is_Symbol and dim not in known and str(dim) in wanted:
                read.append(p.dim(dim))
                known.add(dim)
            else:
                read.append("_")
        if reshape and any(r != "_" for r in read):
            out.append(f"{', '.join(read)} = {ident}.shape")
        elif not reshape:        # the input may come 1-D: index the shape from both ends
            out += [f"{r} = {ident}.shape[{'0' if i == 0 else '-1'}]"
                    for i, r in enumerate(read) if r != "_"]
    params = [p.variables[a.name] for a in args]
    missing = [s for s in wanted if symbol(s) not in known]
    given = {str(k): v for k, v in (sizes or {}).items()}
    keyword_only = []
    for s in missing:
        if s in given:
            out.append(f"{p.dims[s]} = {int(given[s])}")
        else:
            keyword_only.append(p.dims[s])
    if keyword_only:
        params += ["*"] + keyword_only
    if check:
        for a in args:
            if is_scalar(a.shape):
                continue
            ident = p.variables[a.name]
            want = ", ".join(p.dim(dim) for dim in a.shape)
            label = _safe("×".join(str(dim) for dim in a.shape)).replace("{", "").replace("}", "")
            out.append(f'assert (*{ident}.shape,) == ({want}), f"{_safe(a.name)} should be '
                       f'{label}, got {{(*{ident}.shape,)}}"')
    return params, out


def _safe(text: str) -> str:
    """Printed mathematics for a docstring: no quote or backslash can reach the code."""
    return "".join(ch for ch in text if ch not in "\"'\\\n\r")


def _kind_word(kind):
    return {"gradient": "grad", "jacobian": "jacobian", "derivative": "derivative",
            "hessian": "hessian", "mixed": "hessian", "tensor": "vec_jacobian", "vjp": "vjp",
            "jvp": "jvp", "hvp": "hvp"}.get(kind, "derivative")


def _arguments(result, roots):
    """The variables in order of first appearance, left to right through the function (then
    the derivative), the variable differentiated by last when neither uses it."""
    found = {n.name: n for n in _in_order(*roots)}
    found.setdefault(result.variable.name, result.variable)   # a parameter even when unused
    return list(found.values())


def _in_order(*roots):
    found: dict = {}
    for r in roots:
        stack = [r]
        while stack:
            n = stack.pop()
            if type(n) is E.Sym:
                found.setdefault(n.name, n)
            stack.extend(reversed(n.children))
    return list(found.values())


def autograd_function(expr: str, shapes=None, backend: str = "torch", name: str = "Op",
                      compiled: bool = False):
    """Source of a torch.autograd.Function (or a jax.custom_vjp function) whose backward pass is
    matcalc's symbolic vector–Jacobian product with respect to every input; with compiled=True
    the class (or function) itself, ready for Op.apply(...) or jax.grad. Its inputs come in the
    order the variables appear in `expr`. Vectors may come 1-D or as columns, matrices as
    matrices; each gradient has its input's shape and a vector value is 1-D when the first
    vector input is."""
    source = _autograd_source(expr, shapes, backend, name)
    if not compiled:
        return source
    return compile_generated(source, identifier(name) if backend == "torch"
                             else identifier(name.lower()))


def compile_generated(source: str, name: str):
    """Run matcalc's generated source in a fresh namespace and return the function `name`."""
    namespace: dict = {"__name__": "matcalc_generated"}
    exec(compile(source, "<matcalc generated>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace[name]


def _autograd_source(expr, shapes, backend, name):
    from ..language.parser import parse_with_shapes
    from ..calculus.products import vjp
    from ..numeric.evaluate import names_in
    if backend not in ("torch", "jax"):
        raise UnsupportedError("autograd functions are generated for torch and jax")
    f, decls = parse_with_shapes(expr, shapes)
    taken = set(names_in(f))
    g = next(c for c in ("g", "g_out", "cotangent", "g0") if c not in taken)
    inputs = [n.name for n in _in_order(f)]
    products = {}
    for n in inputs:
        try:
            products[n] = vjp(expr, n, g, shapes=shapes).node
        except UnsupportedError:
            products[n] = None
    cls = identifier(name)
    fn = identifier(name.lower())
    reserved = {cls, fn, fn + "_fwd", fn + "_bwd", "ctx", "residuals", "shapes", "out", "flat"}
    nodes = [names_in(f)[n] for n in inputs]
    forward = CodePrinter(backend)         # the forward pass: no cotangent yet
    _, start = bind(forward, Names(reserved), nodes, [f], check=False)
    value = forward.code(f)
    p = CodePrinter(backend)
    args = nodes + [E.Sym(g, f.shape)]
    _, prologue = bind(p, Names(reserved), args,
                       [f] + [d for d in products.values() if d is not None], check=False)
    idents = [p.variables[n] for n in inputs]
    gname = p.variables[g]
    params = ", ".join(idents)
    packed = ", ".join(idents) + ("," if len(idents) == 1 else "")
    # the value's shape: 0-d for a scalar, 1-D for a vector when the first vector input is
    vectors = [p.variables[a.name] for a in nodes if not is_scalar(a.shape) and 1 in a.shape]
    if is_scalar(f.shape):
        shaped = "out.reshape(())"
    elif 1 in f.shape and vectors:
        dim = "dim()" if backend == "torch" else "ndim"
        start.insert(0, f"flat = {vectors[0]}.{dim} == 1")
        shaped = "out.reshape(-1) if flat else out"
    else:
        shaped = "out"
    grads = []
    for i, d in enumerate(products.values()):
        if d is None:
            grads.append("None")
        elif backend == "torch":
            grads.append(f"({p.code(d)}).reshape(shapes[{i}])")
        else:
            grads.append(f"jnp.reshape({p.code(d)}, shapes[{i}][0]).astype(shapes[{i}][1])")
    returned = ", ".join(grads) + ("," if len(grads) == 1 else "")
    if backend == "torch":
        body = [HEADER["torch"], "",
                f"class {cls}(torch.autograd.Function):",
                f'    """{_safe(to_unicode(f))} with a closed-form backward pass."""',
                "", "    @staticmethod",
                f"    def forward(ctx, {params}):",
                f"        ctx.save_for_backward({packed})",
                *("        " + line for line in start),
                f"        out = {value}",
                f"        return {shaped}", "", "    @staticmethod",
                f"    def backward(ctx, {gname}):",
                f"        {packed} = ctx.saved_tensors",
                f"        shapes = tuple(a.shape for a in ({packed}))",
                *("        " + line for line in prologue),
                f"        return {returned}"]
        return "\n".join(body) + "\n"
    body = [HEADER["jax"], "",
            "@jax.custom_vjp", f"def {fn}({params}):",
            *("    " + line for line in start),
            f"    out = {value}",
            f"    return {shaped}", "",
            f"def {fn}_fwd({params}):",
            f"    return {fn}({params}), ({packed})", "",
            f"def {fn}_bwd(residuals, {gname}):",
            f"    {packed} = residuals",
            "    shapes = tuple((jnp.shape(a), jnp.result_type(a)) for a in residuals)",
            *("    " + line for line in prologue),
            f"    return ({returned})", "",
            f"{fn}.defvjp({fn}_fwd, {fn}_bwd)"]
    return "\n".join(body) + "\n"
