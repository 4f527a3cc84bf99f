"""Limits, and room to recurse within them.

Derivatives of deep compositions are deep trees (a 64-layer network's gradient nests several
hundred levels), so the public entry points run with a raised recursion limit. Input beyond
the stated limits is refused with a MatcalcError saying which limit, never a RecursionError.
"""
from __future__ import annotations

import functools
import sys

MAX_INPUT_CHARS = 100_000       # characters in one expression
MAX_NESTING = 500               # open brackets at any point
RECURSION_LIMIT = 30_000


def deep(fn):
    """Run fn with enough recursion depth for deep trees; restore the limit afterwards."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        old = sys.getrecursionlimit()
        if old >= RECURSION_LIMIT:
            return fn(*args, **kwargs)
        sys.setrecursionlimit(RECURSION_LIMIT)
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setrecursionlimit(old)
    return wrapper


def check_input(text: str) -> None:
    """Refuse input over the limits, pointing at where it goes over."""
    from .errors import ParseError, Span
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(f"the expression is {len(text):,} characters long; the limit is "
                         f"{MAX_INPUT_CHARS:,}", span=Span(MAX_INPUT_CHARS, MAX_INPUT_CHARS + 1),
                         text=text)
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise ParseError(f"brackets are nested more than {MAX_NESTING} deep",
                                 span=Span(i, i + 1), text=text)
        elif ch in ")]}":
            depth -= 1
