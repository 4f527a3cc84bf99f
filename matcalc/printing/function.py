"""Derivatives as Python functions: r.to_function() compiles matcalc's generated NumPy, JAX or
PyTorch source (its own output: validated identifiers and printed mathematics, never user
text) into a fresh namespace and wraps it so that it is called like the mathematics reads.

- Parameters are named like the variables: the name as written when it is a Python
  identifier (θ, Σ, W1), and its spelled-out form is accepted too (theta, Sigma).
- Shapes in = shapes out: a vector passed 1-D gets 1-D outputs, a column gets columns; a
  scalar comes back 0-d (a NumPy scalar, a 0-d jax array or torch tensor); a gradient has its
  variable's shape; a tensor derivative comes back as r.evaluate gives it (∂F_ij/∂X_kl).
- Inputs of the wrong shape, or with extra (batch) dimensions, raise ShapeError.
- Outputs have the inputs' floating dtype; no global setting is touched.

Layering: this module sits with the printers (it imports the code printer, never Result or
the api); Result.to_function calls it.
"""
from __future__ import annotations

import inspect
import keyword
import unicodedata

from ..core.errors import ShapeError, UnsupportedError
from ..numeric.evaluate import tensor_axes
from .code import BACKENDS, compile_generated, generated  # noqa: F401 (re-exported)
from .unicode import to_unicode
from ..core.shapes import fmt_shape, is_scalar


def _param_name(name: str, ident: str) -> str:
    """The variable's own name when Python accepts it as a keyword argument, else `ident`."""
    if name.isidentifier() and not keyword.iskeyword(name) and \
            unicodedata.normalize("NFKC", name) == name:
        return name
    return ident


def _backend_module(backend):
    if backend == "numpy":
        import numpy
        return numpy
    if backend == "jax":
        import jax.numpy
        return jax.numpy
    import torch
    return torch


class _Kind:
    SCALAR, COLUMN, ROW, MATRIX = range(4)


def _kind(shape):
    if is_scalar(shape):
        return _Kind.SCALAR
    if shape[1] == 1:
        return _Kind.COLUMN
    if shape[0] == 1:
        return _Kind.ROW
    return _Kind.MATRIX


def make_function(result, backend: str = "numpy", value: bool = True, args=None,
                  sizes: dict | None = None):
    """The callable behind Result.to_function (see the module docstring)."""
    if backend not in BACKENDS:
        raise UnsupportedError(f"unknown backend {backend!r}; choose one of "
                               + ", ".join(BACKENDS))
    source, fname, params, variables = generated(result, backend, sizes, None, value)
    inner = compile_generated(source, fname)
    xp = _backend_module(backend)
    keyword_only = params[params.index("*") + 1:] if "*" in params else []

    # parameters: the variables' names, in the order asked for
    public = {}            # public name → (node, identifier in the generated code)
    alias = {}             # accepted other spelling → public name
    for node, ident in variables:
        pub = _param_name(node.name, ident)
        public[pub] = (node, ident)
        for other in {ident, node.name}:
            if other != pub:
                alias[other] = pub
    order = list(public)
    if args is not None:
        wanted = [a.strip() for a in (args.split(",") if isinstance(args, str) else args)]
        wanted = [alias.get(a, a) for a in wanted]
        unknown = [a for a in wanted if a not in public]
        if unknown or len(set(wanted)) != len(wanted):
            raise UnsupportedError(
                f"args must name the variables once each; the variables are {', '.join(order)}"
                + (f" (not {', '.join(unknown)})" if unknown else ""))
        order = wanted + [a for a in order if a not in wanted]
    sig = inspect.Signature(
        [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in order] +
        [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY) for k in keyword_only])

    f_node, d_node = result.function, result.node
    wrt = result.variable.name
    wrt_pub = next((p for p, (n, _) in public.items() if n.name == wrt), None)
    vector_inputs = [p for p, (n, _) in public.items() if _kind(n.shape) in (_Kind.COLUMN,
                                                                              _Kind.ROW)]

    # per parameter, worked out once: its kind, and each size as an int or a size name
    static = {}
    for pub, (node, _) in public.items():
        k = _kind(node.shape)
        dims_of = [] if k == _Kind.SCALAR else [
            int(d) if d.is_Integer else str(d) for d in node.shape]
        static[pub] = (node, k, dims_of)

    def prepare(name, v, dims):
        node, k, dims_of = static[name]
        raw = v
        if backend == "torch":
            if not xp.is_tensor(v):
                v = xp.as_tensor(v)
            if not v.is_floating_point():
                v = v.to(xp.get_default_dtype())
        else:
            v = xp.asarray(v)
            if v.dtype.kind != "f":
                v = v.astype(float)
        shape = tuple(v.shape)
        nd = len(shape)
        if k == _Kind.SCALAR:
            ok = nd <= 2 and all(s == 1 for s in shape)
            fixed, got = v, ()
        elif k == _Kind.COLUMN:
            ok = nd == 1 or (nd == 2 and shape[1] == 1)
            fixed, got = (v.reshape(-1, 1) if nd == 1 else v), (shape[0], 1)
        elif k == _Kind.ROW:
            ok = nd == 1 or (nd == 2 and shape[0] == 1)
            fixed, got = (v.reshape(1, -1) if nd == 1 else v), (1, shape[-1])
        else:
            ok = nd == 2
            fixed, got = v, shape
        if not ok:
            extra = " (batch dimensions are not supported: call it once per item, or wrap it "\
                    "in jax.vmap / torch.func.vmap)" if nd > 2 or (
                        k != _Kind.MATRIX and nd == 2) else ""
            raise ShapeError(f"{node.name} should be {fmt_shape(node.shape)}, got an array "
                             f"of shape {shape}{extra}")
        for dim, size in zip(dims_of, got):
            if dim.__class__ is int:
                if dim != size:
                    raise ShapeError(f"{node.name} should be {fmt_shape(node.shape)}, got "
                                     f"shape {shape}")
                continue
            seen = dims.get(dim)
            if seen is None:
                dims[dim] = (size, node.name)
            elif seen[0] != size:
                raise ShapeError(f"{node.name} should be {fmt_shape(node.shape)}: {dim} is "
                                 f"{seen[0]} from {seen[1]}, but {size} here")
        return fixed, shape, (v.dtype if hasattr(raw, "dtype") else None)

    def function(*a, **kw):
        for k in list(kw):
            if k in alias:
                if alias[k] in kw:
                    raise TypeError(f"{k} and {alias[k]} name the same variable")
                kw[alias[k]] = kw.pop(k)
        if len(a) == len(order) and not kw:
            given = dict(zip(order, a))
        else:
            given = sig.bind(*a, **kw).arguments
        dims, call, shapes, dtypes = {}, {}, {}, []
        for name in order:
            fixed, shape, dtype = prepare(name, given[name], dims)
            call[public[name][1]] = fixed
            shapes[name] = shape
            dtypes.append(dtype)
        for k in keyword_only:
            call[k] = given[k]
            dims.setdefault(k, (int(given[k]), k))
        dtype = _result_dtype(backend, xp, [d for d in dtypes if d is not None] or
                              [_default_dtype(backend, xp)])
        out = inner(**call)
        flat = _flat(shapes, wrt_pub, vector_inputs)
        if value:
            v, d = out
            return (_shaped(v, f_node, flat, dtype, backend),
                    _derivative(d, result, shapes.get(wrt_pub), flat, dtype, backend, dims))
        return _derivative(out, result, shapes.get(wrt_pub), flat, dtype, backend, dims)

    function.__signature__ = sig
    function.__name__ = function.__qualname__ = fname
    what = {"gradient": "gradient", "jacobian": "Jacobian", "hessian": "Hessian"}.get(
        result.kind, "derivative")
    lines = [f"{to_unicode(f_node)}" + (" and its " if value else ": its ") +
             f"{what} wrt {wrt}: {result}", "", "Parameters:"]
    for name in order:
        node, _ = public[name]
        lines.append(f"    {name}: {fmt_shape(node.shape)}"
                     + (" (a 1-D array or a column)" if _kind(node.shape) == _Kind.COLUMN
                        else ""))
    for k in keyword_only:
        lines.append(f"    {k}: a size no input carries (an int)")
    returns = f"{fmt_shape(d_node.shape)} {what}"
    lines += ["", "Returns " + (f"(value {fmt_shape(f_node.shape)}, {returns})" if value
                                else returns) + ", shaped like the inputs; "
              f"backend: {backend}. The source is r.code({backend!r})."]
    function.__doc__ = "\n".join(lines)
    function.source = source
    return function


def _default_dtype(backend, xp):
    """The dtype when every input is a Python number: float64, or torch's default dtype, or
    JAX's (float32 unless jax_enable_x64 is on)."""
    if backend == "torch":
        return xp.get_default_dtype()
    return xp.asarray(0.0).dtype


def _result_dtype(backend, xp, dtypes):
    if backend == "torch":
        out = dtypes[0]
        for d in dtypes[1:]:
            out = xp.promote_types(out, d)
        return out
    return xp.result_type(*dtypes) if dtypes else None


def _flat(shapes, wrt, vectors) -> bool:
    """Vector outputs are 1-D when the variable (or, for a non-vector variable, the first
    vector input) came 1-D."""
    if wrt in vectors:
        return len(shapes[wrt]) == 1
    return bool(vectors) and len(shapes[vectors[0]]) == 1


def _cast(x, dtype, backend):
    if backend == "torch":
        return x.to(dtype)
    if backend == "numpy":
        return x.astype(dtype, copy=False)
    return x.astype(dtype)


def _shaped(x, node, flat, dtype, backend):
    x = _cast(x, dtype, backend)
    k = _kind(node.shape)
    if k == _Kind.SCALAR:
        x = x.reshape(())
        return x[()] if backend == "numpy" else x
    if k in (_Kind.COLUMN, _Kind.ROW) and flat:
        return x.reshape(-1)
    return x


def _concrete(shape, dims):
    from ..core.dims import symbol
    from ..numeric.evaluate import concrete_size          # min(m,n) (svdvals) included
    return [concrete_size(d, {symbol(k): n for k, (n, _) in dims.items()}) for d in shape]


def _derivative(d, result, wrt_shape, flat, dtype, backend, dims):
    node = result.node
    if result.kind == "tensor":          # the vec form → T[i, j, k, l] = ∂F_ij/∂X_kl
        d = _cast(d, dtype, backend)
        f, x = result.source.shape, result.variable.shape
        rows, cols = _concrete(f, dims), _concrete(x, dims)
        full = d.T.reshape(cols[1], cols[0], rows[1], rows[0])
        full = full.permute(3, 2, 1, 0) if backend == "torch" else full.transpose(3, 2, 1, 0)
        keep = [(rows + cols)[i] for i in tensor_axes(f) + [2 + i for i in tensor_axes(x)]]
        return full.reshape(tuple(keep))
    if wrt_shape is not None and result.kind == "gradient" and \
            tuple(node.shape) == tuple(result.variable.shape):
        d = _cast(d, dtype, backend).reshape(wrt_shape)
        return d[()] if backend == "numpy" and d.ndim == 0 else d
    return _shaped(d, node, flat, dtype, backend)
