"""Jupyter and IPython: how matcalc displays itself, and what `import matcalc` changes there.

Results, derivations (steps) and errors carry their own `_repr_html_`/`_repr_latex_`/
`_repr_mimebundle_` methods, so they typeset (MathJax, which JupyterLab and the classic
Notebook ship; nothing is fetched) wherever IPython displays them. This module adds the rest
when matcalc is imported inside IPython (or with `%load_ext matcalc.jupyter`):

- parse trees (what `matcalc.parse` returns) display typeset, with their shape, and print as
  `<expression m×1: Xθ − y>` in the IPython terminal;
- a `MatcalcError` raised in a cell (a typo, a shape mismatch) shows its message and a caret
  under the offending characters instead of a traceback through matcalc's internals. Other
  exceptions are untouched, and so is a handler the user installed before (IPython keeps one).

The way out: set the environment variable MATCALC_IPYTHON_ERRORS=0 before importing matcalc, or
run `%unload_ext matcalc.jupyter` (or `matcalc.jupyter.unload_ipython_extension(get_ipython())`)
to get IPython's ordinary tracebacks back.
"""
from __future__ import annotations

import os

from .core.errors import MatcalcError


def show_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom-exception handler: the message and caret picture, nothing else."""
    try:
        from IPython.display import HTML, display
        display(HTML(value._repr_html_()))
    except ImportError:  # pragma: no cover - IPython is what calls this
        print(f"{etype.__name__}: {value}")
    return None


def _node_plain(node, printer, cycle):
    from .printing.named import printed
    from .core.shapes import fmt_shape
    printer.text(f"<expression {fmt_shape(node.shape)}: {printed(node, 'unicode')}>")


def _node_latex(node):
    from .printing.named import printed
    return f"$\\displaystyle {printed(node, 'latex')}$"


def load_ipython_extension(ipython) -> None:
    """Install matcalc's display of parse trees and its handler for MatcalcError."""
    formatters = getattr(getattr(ipython, "display_formatter", None), "formatters", None)
    if formatters:
        from .core.expr import Node
        classes, stack = [], [Node]
        while stack:                        # every node class: each has its own __repr__,
            cls = stack.pop()               # which IPython would find before Node's entry
            classes.append(cls)
            stack.extend(cls.__subclasses__())
        for cls in classes:
            formatters["text/plain"].for_type(cls, _node_plain)
            formatters["text/latex"].for_type(cls, _node_latex)
    if os.environ.get("MATCALC_IPYTHON_ERRORS", "1") == "0":
        return
    current = getattr(ipython, "custom_exceptions", ())
    if current and current != (MatcalcError,):
        return                              # the user's own handler stays
    ipython.set_custom_exc((MatcalcError,), show_error)


def unload_ipython_extension(ipython) -> None:
    """Give IPython back its ordinary tracebacks for MatcalcError (`%unload_ext`)."""
    if getattr(ipython, "custom_exceptions", ()) == (MatcalcError,):
        ipython.set_custom_exc((), None)


def register() -> bool:
    """Called by `import matcalc`: load the extension when running inside IPython."""
    import sys
    ipython = sys.modules.get("IPython")      # inside IPython it is already imported; importing
    if ipython is None:                      # it just to ask would cost a third of a second
        return False
    ip = ipython.get_ipython()
    if ip is None:
        return False
    load_ipython_extension(ip)
    return True
