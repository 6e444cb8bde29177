"""Query text to :mod:`.ast` nodes: lark (LALR, contextual lexer) for the shape, then a walk
that reads fields, checks values against them and builds the nodes.

Lark's own errors name grammar terminals (``Expected one of: BARE, STRING``); a person
typing in a filter box needs "expected a value after '<'" and a caret. So when lark
refuses a text, the text is parsed again step by step (:func:`_explain`) to learn which
token came before the failure, what the parser would have taken there and which
parenthesis is still open, and that is put into words.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .ast import And, Compare, Field, In, IsNull, Node, Not, Or, Scalar
from .checks import ORDERING, check_operator, check_value
from .errors import QuerySyntaxError
from .fields import read_field
from .literals import Raw, Span, read_literal

#: Limits that keep a query within what both databases take in one statement, so a long or
#: deep query gets this message rather than a database error: SQLite refuses an expression
#: more than 1000 deep (an AND chain of n conditions is about 2n deep) and overflows its
#: parser's stack past about 40 nested parentheses (test_query_compile runs the largest
#: queries these allow on both backends). No one types a query near them.
MAX_DEPTH = 32
MAX_CONDITIONS = 256
MAX_LIST = 1000

_OPERATORS = {"==": "=", "<>": "!="}
_VALUE = {"STRING", "BARE"}
_SPELLED = {
    "_AND": "and",
    "_OR": "or",
    "_NOT": "not",
    "_IN": "in",
    "_IS": "is",
    "_NULL": "null",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
}


@functools.cache
def _lark() -> Lark:
    """Built on first use (a few milliseconds), not at import: the server imports the
    store, and the store imports this package."""
    grammar = Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", start=["query", "field_only"])


def parse(text: str) -> Node:
    """The tree of the query ``text``; :class:`QuerySyntaxError` says what is wrong and where.

    ``and`` binds tighter than ``or`` and ``not`` tighter than both; keywords and field
    prefixes are case-insensitive. See the package docstring for the language.
    """
    if not text.strip():
        raise QuerySyntaxError(
            "the query is empty: write a condition such as status = finished", text, 0
        )
    tree = _tree(text, "query")
    return _Builder(text).node(tree.children[0], 0)


def parse_field(text: str) -> Field:
    """The field ``text`` names (``params.lr``, ``metrics.loss.min``, ``started``), as an
    ``order`` or ``group_by`` takes it; bare ``tags`` names no single value and is refused."""
    if not text.strip():
        raise QuerySyntaxError(
            "expected a field such as params.lr, metrics.loss.min or started", text, 0
        )
    token = _tree(text, "field_only").children[0]
    assert isinstance(token, Token)
    field = read_field(str(token), text, token.start_pos or 0)
    if field.kind == "tag" and field.key is None:
        raise QuerySyntaxError("expected a tag key: tags.KEY", text, token.end_pos or len(text))
    if field.kind == "used":
        raise QuerySyntaxError(
            "'used' selects runs (used = churn), it is no value to sort or group by", text, 0
        )
    return field


def _tree(text: str, start: str) -> Tree:
    try:
        return _lark().parse(text, start=start)
    except UnexpectedInput:
        pass
    raise _explain(text, start)


# building nodes ---------------------------------------------------------------------------


class _Builder:
    """Walks lark's tree into nodes, checking fields and values with their positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.conditions = 0

    def node(self, tree: Tree | Token, depth: int) -> Node:
        assert isinstance(tree, Tree)
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"the query nests more than {MAX_DEPTH} levels deep", self.text, _start(tree)
            )
        kind = tree.data
        if kind == "or_expr":
            return any_of(self.node(child, depth + 1) for child in tree.children)
        if kind == "and_expr":
            return all_of(self.node(child, depth + 1) for child in tree.children)
        if kind == "negation":
            return Not(self.node(tree.children[0], depth + 1))
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise QuerySyntaxError(
                f"a query holds at most {MAX_CONDITIONS} conditions", self.text, _start(tree)
            )
        token = tree.children[0]
        assert isinstance(token, Token)
        field = read_field(str(token), self.text, token.start_pos or 0)
        if kind in ("is_null", "is_not_null"):
            return IsNull(field, negated=kind == "is_not_null")
        if kind == "compare":
            return self.compare(field, tree.children[1], tree.children[2])
        return self.member(field, tree.children[1], negated=kind == "not_member")

    def compare(self, field: Field, op_token: Tree | Token, value: Tree | Token) -> Node:
        assert isinstance(op_token, Token)
        op = _OPERATORS.get(str(op_token), str(op_token))
        check_operator(field, op, self.text, op_token.start_pos or 0)
        checked = check_value(field, op, self._raw(value), self.text)
        if checked is None:  # = null, != null
            return IsNull(field, negated=op == "!=")
        if isinstance(checked, Span):
            return _span_condition(field, op, checked)
        return Compare(field, op, checked)

    def member(self, field: Field, items: Tree | Token, *, negated: bool) -> Node:
        assert isinstance(items, Tree)
        if len(items.children) > MAX_LIST:
            raise QuerySyntaxError(
                f"a list holds at most {MAX_LIST} values", self.text, _start(items)
            )
        check_operator(field, "=", self.text, _start(items))
        values: list[Scalar] = []
        spans: list[Span] = []
        has_null = False
        for item in items.children:
            checked = check_value(field, "in", self._raw(item), self.text)
            if checked is None:
                has_null = True
            elif isinstance(checked, Span):
                spans.append(checked)
            elif (type(checked), checked) not in {(type(v), v) for v in values}:
                values.append(checked)  # once each; 1.0 and true are two (1.0 == True)
        options: list[Node] = [_span_condition(field, "=", span) for span in spans]
        if values:
            options.insert(0, In(field, tuple(values)))
        if negated:
            # present and none of them (null adds nothing: a missing value is never "in")
            if not options:
                return IsNull(field, negated=True)
            if len(options) == 1 and isinstance(options[0], In):
                return In(field, tuple(values), negated=True)
            return all_of([IsNull(field, negated=True), Not(any_of(options))])
        if has_null:
            options.append(IsNull(field))
        return any_of(options)

    def _raw(self, value: Tree | Token) -> Raw:
        assert isinstance(value, Tree)
        token = value.children[0]
        assert isinstance(token, Token)
        return read_literal(token.type, str(token), token.start_pos or 0)


def _span_condition(field: Field, op: str, span: Span) -> Node:
    """A comparison with a day or month, as comparisons with its first and last instant:
    ``= day`` is during it, ``< day`` before it starts, ``<= day`` before it ends…"""
    if op == "=":
        return And((Compare(field, ">=", span.start), Compare(field, "<", span.end)))
    if op == "!=":
        return Or((Compare(field, "<", span.start), Compare(field, ">=", span.end)))
    assert op in ORDERING
    bound = {"<": ("<", span.start), "<=": ("<", span.end), ">": (">=", span.end)}
    new_op, value = bound.get(op, (">=", span.start))
    return Compare(field, new_op, value)


def all_of(nodes: Iterable[Node]) -> Node:
    """``and`` of ``nodes``, flattened (``a and (b and c)`` is ``a and b and c``), so a tree
    printed and parsed again is the same tree."""
    items: list[Node] = []
    for node in nodes:
        items.extend(node.items if isinstance(node, And) else (node,))
    return items[0] if len(items) == 1 else And(tuple(items))


def any_of(nodes: Iterable[Node]) -> Node:
    """``or`` of ``nodes``, flattened like :func:`all_of`."""
    items: list[Node] = []
    for node in nodes:
        items.extend(node.items if isinstance(node, Or) else (node,))
    return items[0] if len(items) == 1 else Or(tuple(items))


def _start(tree: Tree) -> int:
    for token in tree.scan_values(lambda v: isinstance(v, Token)):
        return token.start_pos or 0
    return 0


# explaining errors ------------------------------------------------------------------------


def _explain(text: str, start: str) -> QuerySyntaxError:
    """Parse ``text`` again token by token to say, in words, why lark refused it."""
    parser = _lark().parse_interactive(text, start=start)
    seen: list[Token] = []
    try:
        for token in parser.iter_parse():
            seen.append(token)
        parser.feed_eof(seen[-1] if seen else None)
    except UnexpectedToken as exc:
        # what the parser would take where it stopped (lark's own list is the lexer's,
        # which serves several parser states and names terminals they do not take)
        expected = {t for t in parser.accepts() if t != "$END"} or set(exc.expected)
        failed = seen[-1] if seen and seen[-1] is exc.token else None
        before = [t for t in seen if t is not failed]
        found = exc.token if exc.token.type != "$END" else None
        if start == "field_only":
            return _field_error(text, found, before)
        return _token_error(text, found, before, expected)
    except UnexpectedCharacters as exc:
        return _character_error(text, exc.pos_in_stream, seen)
    # lark refused it once; a second, step-by-step parse that accepts it would be a bug
    return QuerySyntaxError("the query could not be read", text, 0)  # pragma: no cover


def _token_error(
    text: str, found: Token | None, before: list[Token], expected: set[str]
) -> QuerySyntaxError:
    prev = before[-1] if before else None
    at = (found.start_pos or 0) if found is not None else len(text.rstrip())
    shown = f", found '{found}'" if found is not None else ""
    if found is not None and prev is not None and prev.type == "FIELD" and str(found)[:1] == ".":
        return _key_error(text, at)
    if expected & _VALUE:
        after = f" after '{prev}'" if prev is not None and prev.type in ("OP", "COMMA") else ""
        where = " in the list" if prev is not None and prev.type == "LPAR" else after
        return QuerySyntaxError(f"expected a value{where}{shown}", text, at)
    if "OP" in expected:
        return QuerySyntaxError(
            f"expected an operator after '{prev}' (=, !=, <, <=, >, >=, ~, !~, in (…), not in "
            f"(…), is null or is not null){shown}",
            text,
            at,
        )
    if "FIELD" in expected:
        if found is not None and found.type == "RPAR" and prev is not None and prev.type == "LPAR":
            return QuerySyntaxError("empty parentheses: put a condition inside", text, at)
        after = f" after '{_spelled(prev)}'" if prev is not None else ""
        return QuerySyntaxError(
            f"expected a condition such as params.lr < 0.01 or status = finished{after}{shown}",
            text,
            at,
        )
    if found is None and "RPAR" in expected:
        return QuerySyntaxError("unclosed parenthesis: add ')'", text, _open_parenthesis(before))
    if found is not None and found.type == "RPAR" and "RPAR" not in expected:
        return QuerySyntaxError("')' without a matching '('", text, at)
    if expected and expected <= {"_NULL", "_NOT"}:
        if "_NOT" in expected:
            return QuerySyntaxError(f"expected 'null' or 'not null' after 'is'{shown}", text, at)
        return QuerySyntaxError(f"expected 'null' after 'is not'{shown}", text, at)
    if expected == {"_IN"}:
        return QuerySyntaxError(f"expected 'in' after 'not'{shown}", text, at)
    if expected == {"LPAR"}:
        return QuerySyntaxError(f"expected '(' and a list of values after 'in'{shown}", text, at)
    if "COMMA" in expected:
        return QuerySyntaxError(f"expected ',' or ')' in the list{shown}", text, at)
    spaced = prev is not None and prev.type == "BARE" and found is not None
    hint = " (quote a value that has spaces)" if spaced and found.type in ("BARE", "FIELD") else ""
    return QuerySyntaxError(f"expected 'and' or 'or' between conditions{shown}{hint}", text, at)


def _field_error(text: str, found: Token | None, before: list[Token]) -> QuerySyntaxError:
    at = (found.start_pos or 0) if found is not None else len(text.rstrip())
    if found is not None and before and before[-1].type == "FIELD" and str(found)[:1] == ".":
        return _key_error(text, at)
    shown = f", found '{found}'" if found is not None else ""
    return QuerySyntaxError(
        f"expected a field such as params.lr, metrics.loss.min or started{shown}", text, at
    )


def _character_error(text: str, at: int, seen: list[Token]) -> QuerySyntaxError:
    char = text[at] if at < len(text) else ""
    if char in ("'", '"'):
        return QuerySyntaxError(f"unclosed string: add the closing {char}", text, at)
    if char == "`":
        if seen and seen[-1].type == "FIELD" and text[:at].endswith("."):
            return QuerySyntaxError("unclosed backtick: add the closing `", text, at)
        return QuerySyntaxError(
            "backticks quote a key in a field (metrics.`a.b`); quote a value with ' or \"",
            text,
            at,
        )
    if char == "." and seen and seen[-1].type == "FIELD":
        return _key_error(text, at)
    return QuerySyntaxError(f"unexpected character '{char}'", text, at)


def _key_error(text: str, dot: int) -> QuerySyntaxError:
    if text[dot + 1 : dot + 2] == "`":
        return QuerySyntaxError("unclosed backtick: add the closing `", text, dot + 1)
    return QuerySyntaxError("expected a key after '.'", text, dot + 1)


def _open_parenthesis(tokens: list[Token]) -> int:
    opened: list[int] = []
    for token in tokens:
        if token.type == "LPAR":
            opened.append(token.start_pos or 0)
        elif token.type == "RPAR" and opened:
            opened.pop()
    return opened[-1] if opened else 0


def _spelled(token: Token) -> str:
    return _SPELLED.get(token.type, str(token))
