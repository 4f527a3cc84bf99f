"""The `matcalc` command: a thin shell over parse() and derive() (CONTRACT §4).

Results go to stdout, messages to stderr. A MatcalcError (the user's mistake) prints its
message and caret and exits 1; argparse's usage errors exit 2; anything else is our bug and
keeps its traceback. Nothing here computes math.
"""
from __future__ import annotations

import argparse
import json
import sys
from enum import Enum

from . import __version__  # noqa: F401  (read by --version)
from .api import derive, hvp, jvp, vjp
from .errors import MatcalcError
from .limits import deep
from .parser import parse
from .printing.latex import to_latex
from .printing.named import printed
from .printing.text import to_text
from .printing.unicode import to_unicode
from .shapes import fmt_shape


class Format(str, Enum):
    UNICODE = "unicode"
    TEXT = "text"
    LATEX = "latex"
    JSON = "json"
    NUMPY = "numpy"
    TORCH = "torch"
    JAX = "jax"


PRINTERS = {Format.UNICODE: to_unicode, Format.TEXT: to_text, Format.LATEX: to_latex}
CODE_FORMATS = (Format.NUMPY, Format.TORCH, Format.JAX)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="matcalc",
        description="Differentiate matrix expressions in closed form.",
        epilog='example: matcalc "(Xθ − y)^T (Xθ − y)" --wrt θ --shapes "X: m×n, θ: n, y: m"')
    p.add_argument("expr", help="the expression, or - to read one expression per line from stdin")
    p.add_argument("--wrt", help="variable to differentiate with respect to (omit to only "
                                 "check and print the expression and its shape); x,y gives "
                                 "the mixed second derivative")
    p.add_argument("--shapes", help='declarations, e.g. "X: m×n, θ: n, y: m, A: n×n spd"')
    p.add_argument("--order", type=int, default=1, help="order of the derivative (2: Hessian)")
    p.add_argument("--format", type=Format, default=Format.UNICODE,
                   choices=list(Format), metavar="{" + ",".join(f.value for f in Format) + "}")
    p.add_argument("--layout", choices=["numerator", "denominator"], default="numerator")
    products = p.add_mutually_exclusive_group()
    products.add_argument("--vjp", metavar="V", help="print vᵀ(∂f/∂x) with a new symbol V "
                                                      "shaped like f (a vector–Jacobian product)")
    products.add_argument("--jvp", metavar="U", help="print (∂f/∂x)u with a new symbol U shaped "
                                                      "like x (a Jacobian–vector product)")
    products.add_argument("--hvp", metavar="U", help="print (∇²f)u for a scalar f (a "
                                                      "Hessian–vector product)")
    p.add_argument("--steps", action="store_true", help="print the chain-rule steps")
    p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of --steps")
    p.add_argument("--cse", action="store_true",
                   help="name repeated or costly subexpressions once (… where r = …)")
    p.add_argument("--cost", metavar="SIZES", help='count multiplications at these sizes, '
                                                  'e.g. "m=1000,n=10"')
    p.add_argument("--code", choices=["numpy", "jax", "torch"],
                   help="with --format json, include generated code for this backend")
    p.add_argument("--check", action="store_true",
                   help="verify numerically against finite differences")
    p.add_argument("--version", action="version", version=f"matcalc {__version__}")
    return p


@deep
def run_one(text: str, args) -> dict | str:
    """Process one expression; returns a JSON-able dict or the lines to print."""
    if args.format in CODE_FORMATS and not args.wrt:
        raise MatcalcError(f"--format {args.format.value} generates the code of a derivative: "
                           "give --wrt")
    if not args.wrt:
        node = parse(text, args.shapes)
        if args.format is Format.JSON:
            return {"input": text, "result": to_text(node), "latex": to_latex(node),
                    "shape": _json_shape(node.shape), "kind": "expression"}
        return f"{PRINTERS[args.format](node)} : {fmt_shape(node.shape)}"
    wrt = [w.strip() for w in args.wrt.split(",")] if "," in args.wrt else args.wrt
    if args.vjp or args.jvp or args.hvp:
        fn, name = (vjp, args.vjp) if args.vjp else (jvp, args.jvp) if args.jvp else \
            (hvp, args.hvp)
        r = fn(text, args.wrt, name, shapes=args.shapes)
    else:
        r = derive(text, wrt=wrt, shapes=args.shapes, order=args.order, layout=args.layout)
    report = r.check() if args.check else None
    sizes = _sizes(args.cost) if args.cost else None
    costs = r.cost(sizes) if sizes else None
    if args.format in CODE_FORMATS:
        return r.code(args.format.value, sizes=sizes).rstrip("\n")
    if args.format is Format.JSON:
        out = {"input": text, "wrt": r.wrt, "result": r.text, "unicode": str(r),
               "latex": r.latex, "shape": list(r.shape), "kind": r.kind, "layout": r.layout,
               "order": r.order}
        if args.steps:
            out["steps"] = [s.render(args.lang) if hasattr(s, "render") else str(s)
                            for s in r.steps]
        if costs is not None:
            out["cost"] = costs
        if args.code:
            out["code"] = r.code(args.code, sizes=sizes)
        if report is not None:
            out["check"] = {"ok": True, "sizes": report.sizes,
                            "max_abs_error": report.max_abs_error}
        return out
    lines = [r.cse() if args.cse and args.format is Format.UNICODE else
             printed(r.node, args.format.value, PRINTERS[args.format])]
    if args.steps:
        steps = r.steps
        style = args.format.value
        rendered = steps.render(args.lang, style).splitlines() if hasattr(steps, "render") \
            else [str(s) for s in steps]
        lines += ["", "steps:"] + [f"  {s}" for s in rendered]
    if costs is not None:
        lines.append("cost: " + ", ".join(f"{k} {v}" for k, v in costs.items()))
    if report is not None:
        lines.append(f"check: {report}")
    return "\n".join(lines)


def _sizes(text: str) -> dict:
    out = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, _, value = part.partition("=")
        if not value.strip().isdigit() or not name.strip().isidentifier():
            raise MatcalcError(f"--cost takes sizes like \"m=1000,n=10\", not {part.strip()!r}")
        out[name.strip()] = int(value)
    return out


def _json_shape(shape):
    from .result import public_shape
    return list(public_shape(shape))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from .web import serve_main
        return serve_main(argv[1:])
    args = build_parser().parse_args(argv)
    inputs = [line for line in sys.stdin.read().splitlines() if line.strip()] \
        if args.expr == "-" else [args.expr]
    status = 0
    for text in inputs:
        try:
            out = run_one(text, args)
        except MatcalcError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
            continue
        print(json.dumps(out, ensure_ascii=False) if isinstance(out, dict) else out)
    return status
