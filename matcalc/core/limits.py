"""Limits on input, and room to recurse within them, safely from many threads at once.

Every input inside these limits is parsed, differentiated and printed in about a second or
less and well under 500 MB; input beyond them is refused with a ParseError that names the
limit and points at where the input goes over it (never a RecursionError or a long wait).

| limit | value | what counts |
| --- | ---: | --- |
| MAX_INPUT_CHARS | 100,000 | characters of one expression |
| MAX_NESTING | 500 | brackets open at any point, plus a run of prefix minus signs or of postfix operators (ᵀ, ', ⁻¹, ², ^2, .^2) in a row (each nests the tree one level) |
| MAX_OPERANDS | 6,500 | names, numbers and calls in one expression (terms of a sum, factors of a product; the T of ^T is not one) |
| MAX_NAMES | 2,500 | distinct variable names in one expression (a chain of 1,024 matrices, a sum of 1,000 least-squares terms; the simplifier is linear in the number of terms) |
| MAX_DIGITS | 400 | digits in one number (values are limited to about ±1e308 anyway) |
| (matrix powers) | 64 | A^k of a matrix for k up to 64 (a ShapeError beyond: its derivative has a term per factor); scalar powers take any exponent |
| MAX_PRINTED_NODES | 20,000 | a result whose printed tree would be larger (a derivative of deep compositions shares subexpressions) prints with the shared parts named once: `… where s1 = …` |

Derivatives of deep compositions are deep trees (a 64-layer network's gradient nests several
hundred levels), so the public entry points (`@deep`) on anything but short text (see
INLINE_CHARS: those run on the caller's thread, and move to a worker only if they run out of
room) run on a worker thread with a large stack
(RECURSION_STACK bytes of address space; only the pages used are committed) while the
interpreter's recursion limit is raised to RECURSION_LIMIT (and the garbage collector's
young-generation threshold to GC_THRESHOLD: trees are acyclic). Both are process-wide: they
are raised under a lock when the first matcalc call starts and restored to what they were when the
last one running ends, never lowered while any matcalc call is running in another thread.
The calling thread's context variables (NumPy error state, decimal contexts) carry over.
"""
from __future__ import annotations

import contextvars
import functools
import gc
from itertools import accumulate
import os
from _queue import SimpleQueue      # (queue.SimpleQueue, without importing queue.py)
import re
import sys
import threading

MAX_INPUT_CHARS = 100_000
MAX_NESTING = 500
MAX_OPERANDS = 6_500
MAX_NAMES = 2_500
MAX_DIGITS = 400
MAX_PRINTED_NODES = 20_000

RECURSION_LIMIT = 30_000
RECURSION_STACK = 256 * 1024 * 1024


# Recursion room, thread-safely ----------------------------------------------------------------

_state = threading.local()          # .inside: this thread is already running matcalc code
_limit_lock = threading.Lock()
_running = 0                        # matcalc calls in progress, all threads together
_saved_limit: int | None = None     # the limit to restore when _running drops to 0
_saved_gc: tuple | None = None      # the collector's thresholds to restore when _gc_users drops to 0
GC_THRESHOLD = 50_000               # allocations between young-generation collections, during a call
_stack_lock = threading.Lock()


_gc_users = 0                       # calls in progress that space out collections (inline too)


def _space_out_collections() -> None:
    """(Under _limit_lock.) Trees are acyclic and made of many small nodes: with the default
    thresholds the collector walks the heap over and over while a long formula is parsed (a
    quarter of the time of a 1,000-term sum). Collections are spaced out during calls."""
    global _gc_users, _saved_gc
    if _gc_users == 0:
        gc_now = gc.get_threshold()
        _saved_gc = None
        if gc_now[0] and gc_now[0] < GC_THRESHOLD:
            gc.set_threshold(GC_THRESHOLD, *gc_now[1:])
            _saved_gc = gc_now
    _gc_users += 1


def _restore_collections() -> None:
    """(Under _limit_lock.) The thresholds as they were, once the last call has ended."""
    global _gc_users, _saved_gc
    _gc_users -= 1
    if _gc_users == 0 and _saved_gc is not None:
        if gc.get_threshold()[0] == GC_THRESHOLD:            # unless someone else changed it
            gc.set_threshold(*_saved_gc)
        _saved_gc = None


def _enter() -> None:
    global _running, _saved_limit
    with _limit_lock:
        _space_out_collections()
        if _running == 0:
            current = sys.getrecursionlimit()
            _saved_limit = None
            if current < RECURSION_LIMIT:
                sys.setrecursionlimit(RECURSION_LIMIT)
                _saved_limit = current
        elif sys.getrecursionlimit() < RECURSION_LIMIT:      # someone lowered it meanwhile
            sys.setrecursionlimit(RECURSION_LIMIT)
        _running += 1


def _leave() -> None:
    global _running, _saved_limit
    with _limit_lock:
        _restore_collections()
        _running -= 1
        if _running == 0 and _saved_limit is not None:
            if sys.getrecursionlimit() == RECURSION_LIMIT:   # unless someone else changed it
                try:
                    sys.setrecursionlimit(_saved_limit)
                except RecursionError:                       # this thread is deeper than that
                    pass
            _saved_limit = None


def _run_inside(fn, args, kwargs):
    _state.inside = True
    try:
        return fn(*args, **kwargs)
    finally:
        _state.inside = False


# Workers: threads with a large stack, kept idle between calls (starting one costs about a
# quarter of a millisecond, as much as a whole small derivation). A call takes an idle worker
# or starts a new one; at most MAX_IDLE wait for the next call. A forked child starts with none.
MAX_IDLE = 4
_idle: list = []
_idle_lock = threading.Lock()


def _forget_workers() -> None:
    global _idle_lock
    _idle.clear()
    _idle_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _work(inbox) -> None:
    """A worker's life: run each job handed in, then wait idle for the next (or end)."""
    while True:
        job = inbox.get()
        if job is None:
            return
        job()


def _start_worker():
    inbox = SimpleQueue()
    with _stack_lock:
        old = threading.stack_size()
        try:
            threading.stack_size(RECURSION_STACK)
        except (ValueError, RuntimeError):       # no control over stack sizes here
            old = None
        try:
            threading.Thread(target=_work, args=(inbox,), name="matcalc", daemon=True).start()
        finally:
            if old is not None:
                threading.stack_size(old)
    return inbox


def run_deep(fn, *args, **kwargs):
    """fn(*args, **kwargs) with room for deep trees: on a worker thread with a large stack
    and the raised recursion limit; exceptions are re-raised in the caller."""
    if getattr(_state, "inside", False):
        return fn(*args, **kwargs)
    box: dict = {}
    context = contextvars.copy_context()
    done = threading.Lock()
    done.acquire()

    def job():
        try:
            box["value"] = context.run(_run_inside, fn, args, kwargs)
        except BaseException as err:          # handed to the caller, raised there
            box["error"] = err
        finally:
            _leave()
            with _idle_lock:                  # this worker waits for the next call
                if len(_idle) < MAX_IDLE:
                    _idle.append(inbox)
                    keep = True
                else:
                    keep = False
            if not keep:
                inbox.put(None)
            done.release()

    _enter()
    try:
        with _idle_lock:
            inbox = _idle.pop() if _idle else None
        if inbox is None:
            inbox = _start_worker()
        inbox.put(job)
    except BaseException:
        _leave()
        raise
    done.acquire()
    if "error" in box:
        err = box.pop("error")
        try:
            raise err
        finally:
            del err
    return box["value"]


# A call whose arguments are short text (a formula of a few hundred characters, its shapes and
# variable names) runs on the calling thread: handing it to a worker and back costs about
# 0.1 ms, a fifth of a whole small derivation. Its trees are shallow, so the caller's own stack
# and recursion limit are room enough; if they are not (a RecursionError), the call runs again on
# a worker. It stays on a worker whenever the recursion limit is already raised (a matcalc call
# in another thread, or the caller's own setting), so a deep recursion is never attempted on a
# stack of unknown size.
INLINE_CHARS = 400
INLINE_LIMIT = 3_000


def _text_size(value, budget: int) -> int:
    """Characters of text in a call's arguments (str, numbers, None, and tuples, lists and dicts
    of them), or more than budget when it is larger or holds anything else."""
    if value is None or isinstance(value, (bool, int, float)):
        return 0
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    elif not isinstance(value, (tuple, list)):
        return budget + 1
    total = 0
    for item in value:
        total += _text_size(item, budget - total)
        if total > budget:
            break
    return total


def _runs_inline(args, kwargs) -> bool:
    return (sys.getrecursionlimit() <= INLINE_LIMIT and
            _text_size([*args, *kwargs.values()], INLINE_CHARS) <= INLINE_CHARS)


def deep(fn):
    """Decorator: run fn with room for deep trees (see run_deep); nested calls run directly,
    and so do calls on short text while the recursion limit is the ordinary one (see above)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_state, "inside", False):
            return fn(*args, **kwargs)
        if _runs_inline(args, kwargs):
            with _limit_lock:
                _space_out_collections()
            _state.inside = True
            try:
                return fn(*args, **kwargs)
            except RecursionError:
                pass                    # deeper than expected: again, on a worker below
            finally:
                _state.inside = False
                with _limit_lock:
                    _restore_collections()
        return run_deep(fn, *args, **kwargs)
    return wrapper


# Input limits -----------------------------------------------------------------------------------

# (each written to start with a character class, which the regular expression engine tests
# quickly at every position of a long text: the same matches as (?:[-−]\s*){2,} and
# (?:POSTFIX\s*){2,}, several times faster)
_PREFIX = re.compile(r"[-−]\s*(?:[-−]\s*)+")
_POSTFIX = (r"(?:'|ᵀ|⁻¹|⁻ᵀ|[²³⁴⁵⁶⁷⁸⁹]"
            r"|\.?\^\s*(?:\{\s*[-−]?\s*(?:T|⊤|[\d.]+)\s*\}|\(\s*[-−]?\s*[\d.]+\s*\)|[-−]?\s*(?:T|⊤|[\d.]+)))")
_POSTFIX_RUN = re.compile(rf"(?=[\^.'ᵀ⁻²³⁴⁵⁶⁷⁸⁹])(?:{_POSTFIX}\s*){{2,}}")
_ONE_POSTFIX = re.compile(_POSTFIX)
_DIGITS = re.compile(r"\d{%d,}" % (MAX_DIGITS + 1))
# text no longer than this is within every limit but the first
MIN_LIMIT = min(MAX_DIGITS, MAX_NESTING, MAX_OPERANDS, MAX_NAMES)
# a name, with subscripts in braces (W_{12}); a brace not after _ closes or opens a group:
# the T of x^{T} is a word of its own (then not an operand, like the T of x^T), and so is the x
# of \mathbf{x} (the command before the brace is not counted)
_OPERAND = re.compile(r"[A-Za-zΑ-Ωα-ωϑϕϵℓ](?:_\{[^{}\s]*\}|[A-Za-z0-9Α-Ωα-ωϑϕϵℓ_])*"
                      r"|\d+\.?\d*|\.\d+|𝟙")


def check_input(text: str) -> None:
    """Refuse input over the limits (see the table above), pointing at where it goes over."""
    if len(text) <= MIN_LIMIT:
        return      # (each digit, bracket, operator and word takes a character at least)
    from .errors import ParseError, Span
    if len(text) > MAX_INPUT_CHARS:
        raise ParseError(f"the expression is {len(text):,} characters long; the limit is "
                         f"{MAX_INPUT_CHARS:,}", span=Span(MAX_INPUT_CHARS, MAX_INPUT_CHARS + 1),
                         text=text)
    m = _DIGITS.search(text) if _long_number(text) else None
    if m:
        raise ParseError(f"a number with more than {MAX_DIGITS} digits (the limit on digits in "
                         "a number)", span=Span(m.start(), m.start() + MAX_DIGITS + 1), text=text)
    _check_nesting(text)
    words = _OPERAND.findall(text)
    if len(words) > MAX_OPERANDS:       # the T of each ^T is a word but not an operand
        operators = len(_CARET_T.findall(text)) if "^" in text else 0
    else:
        operators = 0
    if len(words) - operators <= MAX_OPERANDS and len(set(words)) <= MAX_NAMES:
        return                          # (no more operands or names than that, anyway)
    operands = 0
    names: set = set()
    for m in _OPERAND.finditer(text):
        word = m.group()
        if word == "T" or word == "⊤":
            if _after_caret(text, m.start()):
                continue                # the T of ^T is an operator, not an operand
            named = True
        elif text[m.end():m.end() + 1] == "{" and text[m.start() - 1:m.start()] == "\\":
            continue                    # \frac{…}, \mathbf{…}: the operands are in the braces
        else:
            named = not word[0].isdigit() and not (
                len(word) > 1 and text[m.end():m.end() + 1] in ("(", "{"))
        operands += 1
        if operands > MAX_OPERANDS:
            raise ParseError(f"the expression has more than {MAX_OPERANDS:,} operands (names, "
                             "numbers and calls; the limit on operands)",
                             span=Span(m.start(), m.end()), text=text)
        if named:                       # (a function name before its bracket is not a name)
            names.add(word)
            if len(names) > MAX_NAMES:
                raise ParseError(f"the expression has more than {MAX_NAMES:,} distinct names "
                                 "(the limit on names)", span=Span(m.start(), m.end()),
                                 text=text)


# a T that _after_caret says is an operator, as a whole word of _OPERAND (a word cannot
# start at `{`, and none runs on through `^`; ⊤ is not a word at all)
_CARET_T = re.compile(r"\^[ {−-]*T(?![A-Za-z0-9Α-Ωα-ωϑϕϵℓ_{])")


_DIGIT_RUN = re.compile(r"\d*")


def _long_number(text: str) -> bool:
    """Whether _DIGITS finds a run of more than MAX_DIGITS digits in text. Such a run covers a
    position that is a multiple of MAX_DIGITS + 1, so only the runs through those positions are
    measured (a long text is not scanned at every position)."""
    step = MAX_DIGITS + 1
    run = _DIGIT_RUN.match
    for p in range(0, len(text), step):
        end = run(text, p).end()         # the run through p ends at `end`
        if end > p:
            if end - p >= step:
                return True
            start = end - step           # long enough when it starts at `start` or before
            if start >= 0 and run(text, start, p).end() == p:
                return True
    return False


def _depth_bound(text: str, stretch: int = 512) -> int:
    """At least as deep as the brackets go (the running count of _BRACKET_STEP, from 0): in
    each stretch of the text, the count at its start plus the brackets opened in it."""
    best = depth = 0
    count = text.count
    for i in range(0, len(text), stretch):
        j = i + stretch
        opened = count("(", i, j) + count("[", i, j) + count("{", i, j)
        if depth + opened > best:
            best = depth + opened
        depth += opened - count(")", i, j) - count("]", i, j) - count("}", i, j)
    return best


def _after_caret(text: str, i: int) -> bool:
    """Whether a `^` comes before position i, past spaces, `{` and minus signs (x^{-T})."""
    i -= 1
    while i >= 0 and text[i] in " {−-":
        i -= 1
    return i >= 0 and text[i] == "^"


_BRACKET = re.compile(r"[(\[{)\]}]")
_BRACKET_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


def _check_nesting(text: str) -> None:
    """Brackets open at any point plus runs of prefix signs and postfix operators."""
    from .errors import ParseError, Span
    runs = {}
    for m in _PREFIX.finditer(text):
        runs[m.start()] = (m.end(), text.count("-", m.start(), m.end())
                           + text.count("−", m.start(), m.end()))
    for m in _POSTFIX_RUN.finditer(text):
        runs[m.start()] = (m.end(), len(_ONE_POSTFIX.findall(m.group(0))))
    opened = text.count("(") + text.count("[") + text.count("{")
    longest = max((length for _, length in runs.values()), default=0)
    if opened + longest <= MAX_NESTING or _depth_bound(text) + longest <= MAX_NESTING:
        return                          # never more open than that
    # nor more than the deepest the brackets go (brackets inside a run of postfix operators,
    # ^{-T} or ^(2), are pairs: the scan below skips them, no deeper than counting them)
    if max(accumulate(map(_BRACKET_STEP.__getitem__, _BRACKET.findall(text)), initial=0)) \
            + longest <= MAX_NESTING:
        return

    def scan(depth, start, end):
        for m in _BRACKET.finditer(text, start, end):
            if m.group() in "([{":
                depth += 1
                if depth > MAX_NESTING:
                    raise ParseError(f"brackets are nested more than {MAX_NESTING} deep (the "
                                     "limit on nesting)",
                                     span=Span(m.start(), m.start() + 1), text=text)
            else:
                depth -= 1
        return depth

    depth, i = 0, 0
    for start in sorted(runs):          # a run is one step, brackets in it included
        if start < i:
            continue
        depth = scan(depth, i, start)
        end, length = runs[start]
        if depth + length > MAX_NESTING:
            raise ParseError(f"operators are nested more than {MAX_NESTING} deep (the limit "
                             f"on nesting: {length:,} signs or postfix operators in a row "
                             f"inside {depth} brackets)", span=Span(start, end), text=text)
        i = end
    scan(depth, i, len(text))


# repr() of expression nodes ---------------------------------------------------------------------

def inside_deep() -> bool:
    """Whether this thread is already running matcalc code with room for deep trees."""
    return getattr(_state, "inside", False)


def node_repr(node, base) -> str:
    """repr() of an expression node: the dataclass form, computed with room for deep trees,
    or a one-line summary when its tree is over MAX_PRINTED_NODES (a shared tree's repr can be
    exponentially long)."""
    if inside_deep():
        return base(node)
    size, shared = _tree_size(node, MAX_PRINTED_NODES)
    if size > MAX_PRINTED_NODES:
        return (f"<{type(node).__name__} node: over {MAX_PRINTED_NODES:,} nodes as a tree, "
                f"{shared:,} shared; shape {node.shape}>")
    return run_deep(base, node)


def fold(roots, fn, known: dict | None = None) -> dict:
    """fn(node, [its children's results]) for every distinct node of the trees once, children
    first, without recursion (linear in the shared form). A node in `known` takes that result
    and is not descended into. Returns node → result."""
    done: dict = dict(known) if known else {}
    stack = list(roots)
    while stack:
        n = stack[-1]
        if n in done:
            stack.pop()
            continue
        todo = [c for c in n.children if c not in done]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        done[n] = fn(n, [done[c] for c in n.children])
    return done


def tree_sizes(node, cap: int | None = None) -> dict:
    """The written-out size of node and of every subtree in it (each capped at cap + 1), in one
    linear pass over the shared form, without recursion."""
    limit = float("inf") if cap is None else cap + 1
    return fold([node], lambda n, kids: min(1 + sum(kids), limit))


def _tree_size(root, cap: int) -> tuple[int, int]:
    """(nodes in the tree, capped at cap + 1; distinct nodes), without recursion."""
    sizes = tree_sizes(root, cap)
    return sizes[root], len(sizes)
