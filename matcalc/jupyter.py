"""Jupyter: results, steps and errors display as LaTeX/HTML, and a MatcalcError in a cell shows
its message and caret instead of a traceback of the engine (`%load_ext matcalc.jupyter`, done
automatically when matcalc is imported inside IPython)."""
from __future__ import annotations

from .errors import MatcalcError


def show_error(shell, etype, value, tb, tb_offset=None):
    """IPython custom-exception handler: the message and caret picture, nothing else."""
    try:
        from IPython.display import HTML, display
        display(HTML(value._repr_html_()))
    except ImportError:  # pragma: no cover - IPython is what calls this
        print(f"{etype.__name__}: {value}")
    return None


def load_ipython_extension(ipython):
    ipython.set_custom_exc((MatcalcError,), show_error)


def register() -> bool:
    import sys
    ipython = sys.modules.get("IPython")      # inside IPython it is already imported; importing
    if ipython is None:                      # it just to ask would cost a third of a second
        return False
    ip = ipython.get_ipython()
    if ip is None:
        return False
    load_ipython_extension(ip)
    return True
