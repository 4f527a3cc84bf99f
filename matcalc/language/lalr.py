"""A lean LALR driver over Lark's own tables: the grammar stays the one definition of the
language (grammar/matcalc.lark), but a formula is read without Lark's per-token and per-rule
machinery (token objects with line and column, a tree node per rule, positions propagated
through every rule), which cost most of the time of reading a long formula.

The driver uses the parse table Lark built for the grammar (the shipped tables, or the ones
built in memory) and the contextual lexer's own compiled regular expressions, one per parser
state, so it reads exactly the tokens and makes exactly the reductions Lark would. Each
reduction calls the builder's method for its rule at once (what Lark's tree followed by a
transformer would call, in the same order: LR reductions are a post-order walk of the tree),
with the span Lark's propagate_positions gives that rule's node: from the start of the first
token the rule covers to the end of the last (brackets and other filtered tokens included).

The driver reads only input Lark accepts: at a character no token matches, or a token the
table has no action for, it gives up (returns FAILED) and the caller lets Lark read the text,
for Lark's own exception and so the same error message and caret as before.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..core.errors import Span

FAILED = object()


class Tok(NamedTuple):
    """A kept token (a name, a number, an operator the builder looks at): Lark's Token has the
    same four fields, so the builder reads either."""
    type: str
    value: str
    start_pos: int
    end_pos: int


class Driver:
    """The tables of one Lark parser, rearranged for the loop in `parse`."""

    def __init__(self, lark, methods: dict):
        frontend = lark.parser
        table = frontend.parser.parser.parse_table
        lexer = frontend.lexer
        from lark.lexer import ContextualLexer
        from lark.parsers.lalr_analysis import Shift
        if not isinstance(lexer, ContextualLexer):
            raise TypeError("the driver follows Lark's contextual lexer")
        start = lark.options.start
        start = start[0] if isinstance(start, (list, tuple)) else start
        self.start_state = table.start_states[start]
        self.end_state = table.end_states[start]
        maybe_placeholders = lark.options.maybe_placeholders

        # rules: index → (size, origin, kind, detail); kind 0: pass the one child through
        # (a `?rule` with one kept child), 1: the builder's method on the kept children,
        # 2: an inlined `_rule`, whose kept children join its parent's
        rules: list = []
        rule_index: dict = {}
        for state_actions in table.states.values():
            for action, arg in state_actions.values():
                if action is not Shift and arg not in rule_index:
                    rule_index[arg] = len(rules)
                    rules.append(self._rule(arg, methods, maybe_placeholders))
        self.rules = rules

        # actions: state → {symbol: code}; code ≥ 0 shifts (or goes) to that state, code < 0
        # reduces by rule −code − 1
        self.actions = {
            state: {sym: (arg if action is Shift else -rule_index[arg] - 1)
                    for sym, (action, arg) in acts.items()}
            for state, acts in table.states.items()}

        # lexers: state → compiled expressions (the contextual lexer's, tried in order)
        ignore: set = set()
        scanners: dict = {}
        self.lexers: dict = {}
        for state in table.states:
            basic = lexer.lexers[state]
            key = id(basic)
            if key not in scanners:
                scanner = basic.scanner
                if basic.callback:       # (they could retype a token; this grammar has none)
                    raise TypeError("the driver does not run lexer callbacks")
                scanners[key] = tuple(scanner._mres)
                ignore |= set(basic.ignore_types)
            self.lexers[state] = scanners[key]
        self.ignore = frozenset(ignore)
        self.filtered = self._filtered(lark)

    @staticmethod
    def _filtered(lark) -> frozenset:
        """Terminals Lark leaves out of the tree everywhere: anonymous strings ("+", "(")."""
        out, kept = set(), set()
        for rule in lark.rules:
            if rule.options.keep_all_tokens:
                raise TypeError("the driver does not keep filtered tokens")
            for sym in rule.expansion:
                if sym.is_term:
                    (out if sym.filter_out else kept).add(sym.name)
        if out & kept:
            raise TypeError("a terminal both kept and left out")
        return frozenset(out)

    @staticmethod
    def _rule(rule, methods, maybe_placeholders):
        expansion = rule.expansion
        size = len(expansion)
        if size == 0:
            raise TypeError("the driver needs every rule to cover a token")
        empty = rule.options.empty_indices if maybe_placeholders else None
        if empty:
            s = "".join(str(int(b)) for b in empty)
            nones = [len(ones) for ones in s.split("0")]
        else:
            nones = [0] * (size + 1)
        keep_all = rule.options.keep_all_tokens
        include = []
        for i, sym in enumerate(expansion):
            if keep_all or not (sym.is_term and sym.filter_out):
                inline = not sym.is_term and sym.name.startswith("_")
                include.append((i, inline, nones[i]))
            elif nones[i]:
                include.append((None, False, nones[i]))
        trailing = nones[size]
        simple = not trailing and all(i is not None and not inline and not n
                                      for i, inline, n in include)
        name = rule.alias or rule.options.template_source or rule.origin.name
        origin = rule.origin.name
        passthrough = rule.options.expand1 and not rule.alias
        if passthrough and simple and len(include) == 1:
            return (size, origin, 0, include[0][0] - size)
        if origin.startswith("_") and not rule.alias:
            kind = 2
            method = None
        else:
            method = methods.get(name)
            if method is None:
                raise TypeError(f"no builder method for the rule {name}")
            kind = 1
        if simple:
            picks = tuple(i for i, _, _ in include)
            return (size, origin, kind, (method, picks, None, passthrough))
        return (size, origin, kind, (method, None, (tuple(include), trailing), passthrough))

    def parse(self, text: str, builder) -> Any:
        """The builder's value for text, or FAILED where Lark would raise (then nothing is
        said about the builder's state)."""
        actions = self.actions
        lexers = self.lexers
        rules = self.rules
        ignore = self.ignore
        filtered = self.filtered
        end_state = self.end_state
        states = [self.start_state]
        values: list = []
        starts: list = []
        ends: list = []
        pos, n = 0, len(text)
        state = self.start_state
        while True:
            # the next token, read by the lexer of the state on top of the stack
            while True:
                if pos >= n:
                    typ = "$END"
                    break
                m = None
                for mre in lexers[state]:
                    m = mre.match(text, pos)
                    if m is not None:
                        break
                if m is None:
                    return FAILED
                typ = m.lastgroup
                tstart = pos
                pos = m.end()
                if typ not in ignore:
                    break
            # reduce while the table says so, then shift the token
            while True:
                code = actions[state].get(typ)
                if code is None:
                    return FAILED
                if code >= 0:
                    if typ == "$END":
                        return FAILED
                    states.append(code)
                    state = code
                    values.append(None if typ in filtered else
                                  Tok(typ, m.group(), tstart, pos))
                    starts.append(tstart)
                    ends.append(pos)
                    break
                size, origin, kind, detail = rules[-code - 1]
                if kind == 0:            # one child passed through: only the state changes
                    if size == 1:
                        state = states[-1] = actions[states[-2]][origin]
                        if state == end_state and typ == "$END":
                            return values[-1]
                        continue
                    value = values[detail]
                    start, end = starts[-size], ends[-1]
                else:
                    method, picks, general, passthrough = detail
                    kids = values[-size:]
                    start, end = starts[-size], ends[-1]
                    if picks is not None:
                        c = [kids[i] for i in picks]
                    else:
                        c = []
                        include, trailing = general
                        for i, inline, nones in include:
                            if nones:
                                c += [None] * nones
                            if i is None:
                                continue
                            if inline:
                                c += kids[i]
                            else:
                                c.append(kids[i])
                        if trailing:
                            c += [None] * trailing
                    if kind == 2:
                        value = c
                    elif passthrough and len(c) == 1:
                        value = c[0]
                    else:
                        value = method(builder, Span(start, end), c)
                del values[-size:], starts[-size:], ends[-size:], states[-size:]
                values.append(value)
                starts.append(start)
                ends.append(end)
                state = actions[states[-1]][origin]
                states.append(state)
                if typ == "$END" and state == end_state:
                    return value
