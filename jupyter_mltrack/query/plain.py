"""What the filter box takes: a query, or plain words (the search it always was).

The rule (also :func:`parse_filter`'s docstring): a text is a query when it parses as one,
or when it *tries* to be one — it has, outside quotes, a comparison operator (``=``, ``!=``,
``<>``, ``<``, ``>``, ``~``, ``!~``…) or a parenthesis, or a word starts with ``params.``,
``metrics.`` or ``tags.`` (singular too). A text that tries and fails raises its syntax
error, so a half-typed ``params.lr <`` says what is missing instead of silently searching
names for it. Anything else is words: ``sweep``, ``#3``, ``lr baseline``, ``"my run"``.

``stage=tuning`` is therefore a query (and an error: "unknown field 'stage' … tags.stage");
the old sidebar matched it against the ``stage=tuning`` tag chip, which ``tags.stage =
tuning`` now says exactly.
"""

from __future__ import annotations

import re

from ..store.entities import RunStatus
from .ast import Compare, Field, Node
from .errors import QuerySyntaxError
from .literals import unescape
from .parser import all_of, any_of, parse

_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", re.S)
_OPERATOR = re.compile(r"[=<>~()]|!=|!~")
_PREFIX = re.compile(r"(?:^|\s)(?:params?|metrics?|tags?)\.", re.I)
_WORD = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|(\S+)", re.S)
_RUN_NUMBER = re.compile(r"#?([0-9]+)")
_STATUSES = {s.value for s in RunStatus}
#: Words of a plain-text search (each is up to five conditions).
MAX_WORDS = 50


def parse_filter(text: str | None) -> Node | None:
    """The filter ``text`` means: ``None`` when it is empty, else a query's tree.

    A text is a query when it parses as one, or has (outside quotes) a comparison operator
    or a parenthesis, or a word starting with ``params.``, ``metrics.`` or ``tags.`` (or
    ``param.``/``metric.``/``tag.``); such a text that does not parse raises
    :class:`QuerySyntaxError`. Any other text is plain words, each of which must match the
    run in one of these ways: its name, its experiment's name, or one of its tags' keys or
    values contains the word (case-insensitive; ``*`` and ``?`` are wildcards); the word is
    its number (``3`` or ``#3``); the word is its status (``failed``). Quotes keep words
    together: ``"my run" baseline`` is two words.
    """
    if text is None or not text.strip():
        return None
    try:
        return parse(text)
    except QuerySyntaxError:
        if looks_like_query(text):
            raise
    return search(words(text))


def looks_like_query(text: str) -> bool:
    """Does ``text`` try to be a query (see :func:`parse_filter`)?"""
    bare = _QUOTED.sub(" ", text)
    return bool(_OPERATOR.search(bare) or _PREFIX.search(bare))


def words(text: str) -> list[str]:
    """The words of a plain-text filter; quoted words keep their spaces. At most
    :data:`MAX_WORDS` (each is several conditions: see :data:`.parser.MAX_CONDITIONS`)."""
    found = []
    for match in _WORD.finditer(text):
        double, single, bare = match.groups()
        word = bare if bare is not None else unescape(double if double is not None else single)
        if not word:
            continue
        if len(found) == MAX_WORDS:
            raise QuerySyntaxError(f"a search holds at most {MAX_WORDS} words", text, match.start())
        found.append(word)
    return found


def search(terms: list[str]) -> Node | None:
    """The tree of a plain-text search: every term matches (see :func:`parse_filter`)."""
    if not terms:
        return None
    return all_of(_term(term) for term in terms)


def _term(term: str) -> Node:
    options: list[Node] = [
        Compare(Field("attribute", "name"), "~", term),
        Compare(Field("attribute", "experiment"), "~", term),
        Compare(Field("tag", None), "~", term),
    ]
    number = _RUN_NUMBER.fullmatch(term)
    if number:
        options.append(Compare(Field("attribute", "number"), "=", float(number.group(1))))
    if term.lower() in _STATUSES:
        options.append(Compare(Field("attribute", "status"), "=", term.lower()))
    return any_of(options)
