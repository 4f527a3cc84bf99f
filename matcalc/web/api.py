"""The JSON answer of `POST /api/derive`: one query in, everything the page shows out.

Uses only matcalc's public API (derive, vjp, jvp, hvp, Result, the MatcalcError family) and the
steps' wording (explain.steps.said_in), so it stays a front end like the command line. It owns
the query's validation and limits, and the shape of the JSON; it computes no mathematics itself.
"""
from __future__ import annotations

import threading
from dataclasses import replace
from functools import lru_cache

from ..api import derive, hvp, jvp, vjp          # the public entry points, not the package root
from ..core.errors import MatcalcError
from ..explain.steps import said_in                # rule steps' assumptions in Chinese too

MAX_FIELD = {"formula": 2000, "shapes": 2000, "wrt": 100, "symbol": 20}
MODES = ("derivative", "hessian", "vjp", "jvp", "hvp")
LAYOUTS = ("numerator", "denominator")
LANGS = ("en", "zh")
STRUCTURES = ("", "unconstrained", "structured", "entries")   # "": derive's default (None)
BACKENDS = ("numpy", "jax", "torch")
# A name no formula uses: deriving with respect to it gives a zero derivative shaped like the
# formula, and its Result carries the parsed, shape-checked formula to typeset (the public API
# has no printer for parse()'s tree).
PROBE = "ω_99"

# The engine raises the recursion limit while it works (process-wide state), so requests are
# answered one at a time; a repeated query (the page retyping) is answered from the cache.
_ENGINE = threading.Lock()
BUSY_AFTER = 20.0     # seconds a query waits for the engine before it is answered 503


class QueryError(Exception):
    """The request itself is malformed (not the user's formula): HTTP 400."""


def read_query(body: object) -> tuple:
    """The validated query as a hashable tuple, or QueryError."""
    if not isinstance(body, dict):
        raise QueryError("the body must be a JSON object")
    q = {}
    for key, default in (("formula", ""), ("shapes", ""), ("wrt", ""), ("symbol", "")):
        value = body.get(key, default)
        if not isinstance(value, str):
            raise QueryError(f"`{key}` must be a string")
        if len(value) > MAX_FIELD[key]:
            raise QueryError(f"`{key}` is {len(value):,} characters long; the limit is "
                             f"{MAX_FIELD[key]:,}")
        q[key] = value
    for key, allowed, default in (("mode", MODES, "derivative"), ("layout", LAYOUTS, "numerator"),
                                  ("lang", LANGS, "en"), ("structure", STRUCTURES, "")):
        value = body.get(key, default)
        if value not in allowed:
            raise QueryError(f"`{key}` must be one of {', '.join(a for a in allowed if a)}")
        q[key] = value
    if q["structure"] and q["mode"] in ("vjp", "jvp", "hvp"):
        raise QueryError(f"`structure` chooses the convention of a derivative or Hessian; it "
                         f"does not apply to mode {q['mode']}")
    check = body.get("check", True)
    if not isinstance(check, bool):
        raise QueryError("`check` must be true or false")
    return (q["formula"], q["shapes"], q["wrt"], q["mode"], q["layout"], q["lang"],
            q["symbol"], check, q["structure"])


def answer(body: object) -> tuple[int, dict]:
    """(HTTP status, JSON object) for one request body."""
    try:
        query = read_query(body)
    except QueryError as err:
        return 400, {"ok": False, "error": {"type": "BadRequest", "message": str(err)}}
    # One query at a time (see _ENGINE); a query that waits too long for an earlier, slow one
    # is told so rather than queued without end.
    if not _ENGINE.acquire(timeout=BUSY_AFTER):
        return 503, {"ok": False, "error": {
            "type": "Busy", "message": "matcalc is still working on an earlier query; "
                                       "try again in a moment"}}
    try:
        return _answer(query)
    finally:
        _ENGINE.release()


@lru_cache(maxsize=256)
def _answer(query: tuple) -> tuple[int, dict]:
    formula, shapes, wrt, mode, layout, lang, symbol, check, structure = query
    if not formula.strip():
        return 200, {"ok": True, "empty": True}
    out: dict = {"ok": True}
    try:
        out["formula"] = _formula(formula, shapes)
    except MatcalcError as err:
        return 422, _error(err, formula, shapes, "formula")
    if not wrt.strip():
        return 200, out
    try:
        r = _derive(formula, shapes, wrt, mode, layout, symbol, structure or None)
        out["result"] = _result(r, lang, structure)
    except MatcalcError as err:
        out.update(_error(err, formula, shapes, "wrt"))
        out["ok"] = False
        return 422, out
    out["code"] = {}
    for backend in BACKENDS:
        try:
            out["code"][backend] = r.code(backend)
        except MatcalcError as err:
            out["code"][backend] = f"# {err.message}"
    if check:
        out["check"] = _check(r, lang)
    return 200, out


def _formula(formula: str, shapes: str) -> dict:
    probe_shapes = f"{shapes}, {PROBE}: scalar" if shapes.strip() else f"{PROBE}: scalar"
    r = derive(formula, wrt=PROBE, shapes=probe_shapes)
    f = replace(r, node=r.function)
    return {"latex": f.latex, "text": f.text, "unicode": str(f), "shape": _shape(r.shape)}


def _derive(formula, shapes, wrt, mode, layout, symbol, structure=None):
    names = [w.strip() for w in wrt.split(",") if w.strip()]
    if mode in ("vjp", "jvp", "hvp"):
        if len(names) != 1:
            raise MatcalcError(f"a {mode.upper()} is taken with respect to one variable")
        fn = {"vjp": vjp, "jvp": jvp, "hvp": hvp}[mode]
        default = "v" if mode == "vjp" else "u"
        return fn(formula, names[0], symbol.strip() or default, shapes=shapes or None)
    if mode == "hessian" and len(names) != 1:
        raise MatcalcError("a Hessian is taken with respect to one variable; for a mixed "
                           "second derivative give two variables with the first derivative")
    order = 2 if mode == "hessian" else 1
    wrt_arg = names[0] if len(names) == 1 else tuple(names)
    return derive(formula, wrt=wrt_arg, shapes=shapes or None, order=order, layout=layout,
                  structure=structure)


def _result(r, lang: str, structure: str = "") -> dict:
    out = {"latex": r.latex, "unicode": str(r), "text": r.text, "kind": r.kind,
           "shape": _shape(r.shape), "wrt": r.wrt, "layout": r.layout, "order": r.order,
           "assumptions": r.assumptions, "notes": r.notes}
    if structure:
        out["convention"] = r.convention
    if r.kind == "tensor":
        out["vec"] = {"latex": r.vec.latex, "unicode": str(r.vec)}
        out["index_sizes"] = [str(d) for d in r.shape]
    try:        # a failure to explain should not hide a derivative that was found
        steps = r.explain(lang=lang) if r.kind in ("gradient", "jacobian", "derivative") \
            else r.steps
        out["steps"] = said_in([s.render(lang, "unicode") if hasattr(s, "render") else str(s)
                                for s in steps], r.assumptions, lang)
    except MatcalcError as err:
        out["steps"] = []
        out["steps_error"] = err.message
    return out


def _check(r, lang: str) -> dict:
    try:
        report = r.check()
    except MatcalcError as err:
        return {"ok": False, "text": err.message}
    text = str(report)
    try:     # the report's fields (sizes, errors, entries), said in Chinese
        if lang == "zh":
            sizes = "，".join(f"{k}={v}" for k, v in sorted(report.sizes.items(), key=str))
            text = (f"{report.entries} 个元素与中心差分一致（最大绝对误差 "
                    f"{report.max_abs_error:.2e}，相对误差 {report.max_rel_error:.2e}），"
                    f"尺寸 {sizes}")
    except (AttributeError, TypeError, ValueError):
        pass
    return {"ok": True, "text": text}


def _shape(shape: tuple) -> str:
    return "scalar" if not shape else "×".join(str(d) for d in shape)


def _error(err: MatcalcError, formula: str, shapes: str, fallback: str) -> dict:
    """The error as JSON; `field` says which input box the span points into."""
    probe = err.text is not None and err.text.endswith(f"{PROBE}: scalar") and \
        err.text.startswith(shapes)
    field = "formula" if err.text == formula else \
        "shapes" if err.text is not None and (err.text == shapes or probe) else fallback
    if probe:
        err.text = shapes or " "     # the caret is drawn under what the user typed
    e = {"type": type(err).__name__, "message": err.message, "hint": err.hint,
         "field": field, "caret": err.caret()}
    if err.span is not None and err.text is not None:
        e.update(span=[err.span.start, err.span.end], line=err.line, column=err.column)
    return {"ok": False, "error": e}
