"""A lean LALR driver over Lark's own tables: the grammar stays the one definition of the
language (grammar/matcalc.lark), but a formula is read without Lark's per-token and per-rule
machinery (token objects with lines and columns, a tree node per rule, positions propagated
through every rule), which cost most of the time of reading a long formula.

The driver uses the parse table Lark built for the grammar (the shipped tables, or the ones
built in memory) and the contextual lexer's own compiled regular expressions, one per parser
state, so it reads exactly the tokens and makes exactly the reductions Lark would. Each
reduction calls the builder's method for its rule at once (what Lark's tree followed by a
transformer would call, in the same order: LR reductions are a post-order walk of the tree),
with the span Lark's propagate_positions gives that rule's node: from the start of the first
token the rule covers to the end of the last (brackets and other filtered tokens included).
A run of reductions by rules that only pass their one child on (`?sum: product`, …) changes
nothing but the state, so it is looked up as one step.

The driver reads only input Lark accepts: at a character no token matches, or a token the
table has no action for, it gives up (returns FAILED) and the caller lets Lark read the text,
for Lark's own exception and so the same error message and caret as before.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from ..core.errors import Span

FAILED = object()

# kinds of rule
_PASS = 0          # `?rule: child`: the one kept child passes on (size 1: only the state changes)
_METHOD = 1        # the builder's method for the rule (or its alias), on the kept children
_INLINE = 2        # `_rule`: its kept children join its parent's


class Tok(NamedTuple):
    """A kept token (a name, a number, an operator the builder looks at): Lark's Token has the
    same four fields, so the builder reads either."""
    type: str
    value: str
    start_pos: int
    end_pos: int


class Driver:
    """The tables of one Lark parser, rearranged for the loop in `parse`. Raises TypeError
    for a grammar or a Lark whose tables it does not follow (the caller then uses Lark)."""

    def __init__(self, lark, methods: dict):
        frontend = lark.parser
        table = frontend.parser.parser.parse_table
        lexer = frontend.lexer
        from lark.lexer import ContextualLexer
        from lark.parsers.lalr_analysis import Shift
        if not isinstance(lexer, ContextualLexer) or lark.options.lexer_callbacks or \
                lark.options.postlex is not None or lark.options.parser != "lalr" or \
                lark.options.use_bytes:
            raise TypeError("the driver follows Lark's LALR parser and contextual lexer")
        start = lark.options.start
        start = start[0] if isinstance(start, (list, tuple)) else start
        self.start_state = table.start_states[start]
        self.end_state = table.end_states[start]

        rules: list = []
        rule_index: dict = {}
        for state_actions in table.states.values():
            for action, arg in state_actions.values():
                if action is not Shift and arg not in rule_index:
                    rule_index[arg] = len(rules)
                    rules.append(self._rule(arg, methods, lark.options.maybe_placeholders))
        self.rules = rules

        # actions: state → {symbol: code}; code ≥ 0 shifts (or goes) to that state, code < 0
        # reduces by rule ~code
        self.actions = {
            state: {sym: (arg if action is Shift else ~rule_index[arg])
                    for sym, (action, arg) in acts.items()}
            for state, acts in table.states.items()}
        self.after: dict = {}           # (state below, rule origin, lookahead) → _after's

        # lexers: state → its lexer's table, first character → the match function of the
        # contextual lexer's expression cut down to the terminals that may start with that
        # character, in their order (the first alternative that matches wins, so the others
        # never could); filled as characters are met
        self.ignore = frozenset(lexer.root_lexer.ignore_types)
        self._re = (lexer.root_lexer.re, lark.options.g_regex_flags)
        tables: dict = {}
        self.lexers: dict = {}
        self._lexers: dict = {}         # id(table) → Lark's lexer for it
        for state in table.states:
            basic = lexer.lexers[state]
            if id(basic) not in tables:
                if basic.ignore_types != self.ignore:
                    raise TypeError("one set of ignored terminals")
                tables[id(basic)] = {}
                self._lexers[id(tables[id(basic)])] = basic
            self.lexers[state] = tables[id(basic)]
        self._patterns = {t.name: t.pattern.to_regexp() for t in lexer.root_lexer.terminals}
        self._terminals = {t.name: t for t in lexer.root_lexer.terminals}
        self._trees: dict = {}          # terminal name → its parsed expression
        self._starts: dict = {}         # (terminal name, character) → may it start with it
        self._cut: dict = {}            # terminal names → the match function of their union
        self._retyping: dict = {}       # id(table) → _retypes of its terminals
        self.space = self._space_is_ignored(lexer.root_lexer.terminals)
        self.filtered = self._filtered(lark)

    def _space_is_ignored(self, terminals) -> bool:
        """Whether a space is always (part of) an ignored token, whatever the lexer: one
        terminal only may start with a space, an ignored one of the form [characters]+ whose
        characters include the space (then any tail of one of its tokens is one of its tokens
        too, so the loop may step over a space without lexing it)."""
        re_, flags = self._re
        if flags or _PARSER is None:
            return False
        found = False
        for t in terminals:
            if t.pattern.flags:
                return False
            if t.pattern.type == "str":
                if t.pattern.value[:1] == " ":
                    return False
                continue
            tree = self._tree(t.name)
            if tree is not None and not _seq_may_start(tree, 32):
                continue
            if t.name not in self.ignore or found or tree is None or len(tree) != 1:
                return False
            op, av = tree[0]
            if op is not _C.MAX_REPEAT or av[0] != 1 or av[1] != _C.MAXREPEAT or \
                    len(av[2]) != 1 or av[2][0][0] not in (_C.IN, _C.LITERAL):
                return False
            m = re_.match(self._patterns[t.name], " ")
            if m is None or m.end() != 1:
                return False
            found = True
        return found

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
    def _rule(rule, methods, maybe_placeholders) -> tuple:
        """(size, origin, kind, method, picks, general, passthrough, spans, settled) for a
        rule: picks are the indices of the kept children when that is all there is to do;
        otherwise general is ((index or None, inline, Nones before), ...) and the Nones after,
        as Lark's child filter does it (Nones stand for an absent [optional] part); spans:
        whether the method reads its span; settled: whether the method settles its own
        values (its `settled` attribute: parse's `settle` is not called on them)."""
        expansion = rule.expansion
        size = len(expansion)
        if size == 0:
            raise TypeError("the driver needs every rule to cover a token")
        empty = rule.options.empty_indices if maybe_placeholders else None
        if empty:
            nones = [len(ones) for ones in "".join(str(int(b)) for b in empty).split("0")]
        else:
            nones = [0] * (size + 1)
        include = []
        for i, sym in enumerate(expansion):
            if not (sym.is_term and sym.filter_out):
                include.append((i, not sym.is_term and sym.name.startswith("_"), nones[i]))
            elif nones[i]:
                include.append((None, False, nones[i]))
        trailing = nones[size]
        simple = not trailing and all(i is not None and not inline and not k
                                      for i, inline, k in include)
        name = rule.alias or rule.options.template_source or rule.origin.name
        origin = rule.origin.name
        passthrough = bool(rule.options.expand1 and not rule.alias)
        if passthrough and size > 1:
            # `?atom: "(" sum ")"`: what Lark's parent spans depends on what is passed on (a
            # tree: the brackets too; a token, or an absent [part]: not them), which the
            # driver does not follow (matcalc's grammar aliases every such rule)
            raise TypeError("the driver passes a child on only from a rule of one symbol")
        if passthrough and simple and len(include) == 1:
            return (size, origin, _PASS, None, include[0][0], None, True, False, True)
        if origin.startswith("_") and not rule.alias:
            kind, method = _INLINE, None
        else:
            kind, method = _METHOD, methods.get(name)
            if method is None:
                raise TypeError(f"no builder method for the rule {name}")
        spans = method is None or _reads_span(method)
        settled = bool(getattr(method, "settled", False))
        if simple:
            return (size, origin, kind, method, tuple(i for i, _, _ in include), None,
                    passthrough, spans, settled)
        return (size, origin, kind, method, None, (tuple(include), trailing), passthrough,
                spans, settled)

    def _after(self, below, origin, sym):
        """The state after a reduction to `origin` over the state `below`, with the lookahead
        `sym`: the goto, and every reduction in a row by a rule that passes its one child on
        (each pops and pushes one state over the same state below)."""
        actions, rules = self.actions, self.rules
        top = actions[below][origin]
        while top != self.end_state:
            code = actions[top].get(sym)
            if code is None or code >= 0:
                break
            size, origin, kind = rules[~code][:3]
            if kind != _PASS or size != 1:
                break
            top = actions[below][origin]
        return top

    def _first(self, table: dict, ch: str):
        """The match function for tokens starting with ch in one lexer's table (None when no
        terminal may start with ch; the terminal's name when its token can only be ch itself),
        entered into the table."""
        terminals = self._lexers[id(table)].terminals
        re_, flags = self._re
        retypes = self._retyping.get(id(table))
        if retypes is None:
            retypes = self._retyping[id(table)] = self._retypes(terminals)
        if retypes:
            return None                  # (Lark reads the text: this grammar has no such lexer)
        names = []
        for t in terminals:
            key = (t.name, ch)
            may = self._starts.get(key)
            if may is None:
                if flags or t.pattern.flags or _PARSER is None:
                    may = True
                elif t.pattern.type == "str":            # a string: its first character
                    may = t.pattern.value[:1] == ch
                else:
                    tree = self._tree(t.name)
                    may = tree is None or _seq_may_start(tree, ord(ch))
            if may:
                names.append(t.name)
        if not names:
            return None                  # (nothing kept: the text is refused anyway)
        for t in terminals:
            self._starts[t.name, ch] = t.name in names
        if len(names) == 1 and self._one_character(names[0], ch):
            table[ch] = names[0]         # (the token is ch itself: no expression to match)
            return names[0]
        names = tuple(names)
        match = self._cut.get(names)
        if match is None:
            try:
                match = re_.compile("|".join("(?P<%s>%s)" % (name, self._patterns[name])
                                             for name in names), flags).match
            except Exception:            # (too many groups for one expression, say)
                match = _matcher(tuple(self._lexers[id(table)].scanner._mres))
            self._cut[names] = match
        table[ch] = match
        return match

    def _one_character(self, name: str, ch: str) -> bool:
        """Whether each token of the terminal `name` that starts with ch is ch alone (a
        string of one character, or an expression for one character of a set)."""
        re_, flags = self._re
        pattern = self._terminals[name].pattern
        if flags or pattern.flags:
            return False
        if pattern.type == "str":
            return pattern.value == ch
        tree = self._tree(name)
        if tree is None or len(tree) != 1 or tree[0][0] not in (_C.LITERAL, _C.IN):
            return False
        return re_.fullmatch(self._patterns[name], ch) is not None

    def _retypes(self, terminals) -> bool:
        """Whether Lark's lexer with these terminals retypes tokens: a string terminal that a
        pattern terminal of the same priority matches whole is given its own type by a
        callback (lark.lexer._create_unless), which the driver does not run."""
        re_, flags = self._re
        for s in terminals:
            if s.pattern.type != "str" or not s.pattern.value:
                continue
            value = s.pattern.value
            for r in terminals:
                if r.pattern.type != "re" or r.priority != s.priority:
                    continue
                tree = self._tree(r.name)
                if tree is not None and not flags and not r.pattern.flags and \
                        not _seq_may_start(tree, ord(value[0])):
                    continue
                m = re_.match(self._patterns[r.name], value, flags)
                if m is not None and m.group(0) == value:
                    return True
        return False

    def _tree(self, name: str):
        tree = self._trees.get(name, False)
        if tree is False:
            tree = self._trees[name] = _parse_pattern(self._patterns[name])
        return tree

    def parse(self, text: str, builder, settle=None) -> Any:
        """The builder's value for text, or FAILED where Lark would raise (then nothing is
        said about the builder's state). `settle`, when given, is called with the value of
        each reduction by a builder method (but one marked `settled`) as soon as it is made."""
        actions = self.actions
        lexers = self.lexers
        rules = self.rules
        after = self.after
        ignore = self.ignore
        filtered = self.filtered
        end_state = self.end_state
        space = " " if self.space else None
        state = self.start_state
        # (state, value, start, end) for each symbol read, over the start state
        stack: list = [(state, None, 0, 0)]
        push = stack.append
        pos, n = 0, len(text)
        while True:
            # the next token, read by the lexer of the state on top of the stack
            if pos < n:
                table = lexers[state]
                match = table.get(text[pos])
                if match is None:
                    match = self._first(table, text[pos])
                    if match is None:
                        return FAILED
                tstart = pos
                if type(match) is str:           # a token of one character
                    typ = match
                    pos += 1
                else:
                    m = match(text, pos)
                    if m is None:
                        return FAILED
                    typ = m.lastgroup
                    pos = m.end()
                if typ in ignore:
                    continue
            else:
                typ = "$END"
            # reduce while the table says so, then shift the token
            act = actions[state]
            while True:
                code = act.get(typ)
                if code is None:
                    return FAILED
                if code >= 0:
                    if typ == "$END":
                        return FAILED
                    state = code
                    push((code, None if typ in filtered else
                          _tuple_new(Tok, (typ, text[tstart:pos], tstart, pos)), tstart, pos))
                    if pos < n and text[pos] == space:
                        pos += 1                 # (an ignored space: see _space_is_ignored)
                    break
                size, origin, kind, method, picks, general, passthrough, spans, settled = \
                    rules[~code]
                if size == 1:
                    top = stack.pop()
                    below = stack[-1][0]
                    if kind == _PASS:                # only the state changes
                        key = (below, origin, typ)
                        state = after.get(key)
                        if state is None:
                            state = after[key] = self._after(below, origin, typ)
                        push((state, top[1], top[2], top[3]))
                        if state == end_state and typ == "$END":
                            return top[1]
                        act = actions[state]
                        continue
                    start, end = top[2], top[3]
                    if picks is not None:
                        c = (top[1],) if picks else ()
                    else:
                        c = _children([top], general)
                else:
                    kids = stack[-size:]
                    del stack[-size:]
                    below = stack[-1][0]
                    start, end = kids[0][2], kids[-1][3]
                    if kind == _PASS:
                        c = (kids[picks][1],)
                    elif picks is not None:
                        k = len(picks)               # (most rules keep one to three)
                        if k == 2:
                            c = (kids[picks[0]][1], kids[picks[1]][1])
                        elif k == 1:
                            c = (kids[picks[0]][1],)
                        elif k == 3:
                            c = (kids[picks[0]][1], kids[picks[1]][1], kids[picks[2]][1])
                        else:
                            c = tuple([kids[i][1] for i in picks])
                    else:
                        c = _children(kids, general)
                if kind == _INLINE:
                    value = c
                elif passthrough and len(c) == 1:
                    value = c[0]
                else:
                    if spans:                        # Span(start, end), without its __init__
                        span = _new(Span)
                        _set_start(span, start)
                        _set_end(span, end)
                    else:
                        span = None
                    value = method(builder, span, c)
                    if settle is not None and not settled:
                        settle(value)
                key = (below, origin, typ)
                state = after.get(key)
                if state is None:
                    state = after[key] = self._after(below, origin, typ)
                push((state, value, start, end))
                if state == end_state and typ == "$END":
                    return value
                act = actions[state]


_tuple_new = tuple.__new__              # Tok(...) without NamedTuple's Python-level __new__
_new = object.__new__
_set_start = Span.__dict__["start"].__set__    # (the slot's own setter: quicker than object.__setattr__)
_set_end = Span.__dict__["end"].__set__


def _children(kids: list, general) -> tuple:
    """The kept children of a reduction (from its stack entries), with inlined rules'
    children and placeholders."""
    include, trailing = general
    c: list = []
    for i, inline, nones in include:
        if nones:
            c += [None] * nones
        if i is None:
            continue
        if inline:
            c += kids[i][1]
        else:
            c.append(kids[i][1])
    if trailing:
        c += [None] * trailing
    return tuple(c)


def _matcher(expressions: tuple):
    """A function (text, pos) → the match of the first expression that matches there."""
    if len(expressions) == 1:
        return expressions[0].match

    def match(text, pos):
        for mre in expressions:
            m = mre.match(text, pos)
            if m is not None:
                return m
        return None
    return match


def _reads_span(method) -> bool:
    """Whether a builder method reads its span argument (the second, after self): a method
    that does not is given None, and no Span is made for it. Unsure means it does."""
    import dis
    code = getattr(method, "__code__", None)
    if code is None or code.co_argcount < 2 or code.co_varnames[1] in code.co_cellvars:
        return True                              # (a cell: used by a nested function)
    loads = {op for name, op in dis.opmap.items() if "LOAD_FAST" in name}
    raw = code.co_code
    for i in range(0, len(raw) - 1, 2):          # (op, arg) pairs; a pair of loads packs its
        if raw[i] in loads:                      # two indices in the argument's nibbles
            arg = raw[i + 1]
            if arg == 1 or arg >> 4 == 1 or arg & 15 == 1:
                return True
    return False


# Which characters a terminal may start with, from its parsed regular expression: True when
# it may (or when unsure), False only when it cannot.
try:
    from re import _parser as _PARSER, _constants as _C          # Python 3.11+
except ImportError:                                               # pragma: no cover
    try:
        import sre_parse as _PARSER, sre_constants as _C
    except ImportError:
        _PARSER = _C = None


def _parse_pattern(pattern: str):
    """The parsed expression, or None (then any character may start it)."""
    try:
        return _PARSER.parse(pattern)
    except Exception:
        return None


def _seq_may_start(items, o: int) -> bool:
    for op, av in items:
        may, width = _item_may_start(op, av, o)
        if may or width is None:
            return True
        if width > 0:
            return False                 # it takes a character, and not this one
    return True                          # (it may match nothing: unsure)


def _width(sub) -> int:
    return sub.getwidth()[0]


def _item_may_start(op, av, o: int):
    """(may it start with the character o, its least width or None when unknown)."""
    C = _C
    if op is C.LITERAL:
        return av == o, 1
    if op is C.NOT_LITERAL:
        return av != o, 1
    if op is C.ANY:
        return True, 1
    if op is C.IN:
        return _in_set(av, o), 1
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return False, 0                  # takes no character (a lookahead only narrows)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) or op is getattr(C, "POSSESSIVE_REPEAT", None):
        lo, hi, sub = av
        if hi == 0:
            return False, 0
        return _seq_may_start(sub, o), lo * _width(sub) if lo else 0
    if op is C.SUBPATTERN:
        group, add_flags, del_flags, sub = av
        if add_flags or del_flags:
            return True, None
        return _seq_may_start(sub, o), _width(sub)
    if op is C.BRANCH:
        _, alternatives = av
        return any(_seq_may_start(a, o) for a in alternatives), \
            min(_width(a) for a in alternatives)
    return True, None


def _in_set(items, o: int) -> bool:
    negate, hit = False, False
    for op, av in items:
        if op is _C.NEGATE:
            negate = True
        elif op is _C.LITERAL:
            hit = hit or av == o
        elif op is _C.RANGE:
            hit = hit or av[0] <= o <= av[1]
        else:                            # a category (\s, \w), a case-folded range: unsure
            return True
    return hit != negate
