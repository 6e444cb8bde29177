"""Reading a field as written (``params.lr``, ``metrics.`val.min`.max``, ``Status``) into a
:class:`~.ast.Field`, and what kind of value each field holds.

Prefixes and attribute names are case-insensitive, like the keywords: people type
``Status`` or ``METRICS.acc`` and mean the same thing. Keys are not: ``loss`` and ``Loss``
are two metrics.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

from .ast import ATTRIBUTES, REDUCERS, Field
from .errors import QuerySyntaxError

#: What the values of a field are, which decides the literals and operators it takes.
#: ``mixed`` (params): a number literal compares numbers, a string literal strings.
ValueKind = Literal["mixed", "number", "text", "tags", "uses", "time", "duration", "integer"]

_KINDS = {
    "params": "param",
    "param": "param",
    "metrics": "metric",
    "metric": "metric",
    "tags": "tag",
    "tag": "tag",
    "used": "used",
}

#: Other spellings of attributes: the runs' column names, which ``order=-start_time`` and
#: older clients use.
_ALIASES = {
    "start_time": "started",
    "end_time": "ended",
    "notebook_path": "notebook",
    "git_commit": "commit",
    "parent_run_id": "parent",
    "run_id": "id",
}

_ATTRIBUTE_KINDS: dict[str, ValueKind] = {
    "number": "integer",
    "duration": "duration",
    "started": "time",
    "ended": "time",
}

_SEGMENT = re.compile(r"\.(?:`((?:[^`]|``)*)`|([^\s.`=<>!~(),'\"]+))")
_HEAD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_FIELD_HELP = "use params.KEY, metrics.KEY[.REDUCER], tags.KEY, used or one of " + ", ".join(
    ATTRIBUTES
)


@dataclass(frozen=True)
class _Segment:
    text: str
    quoted: bool
    position: int


def value_kind(field: Field) -> ValueKind:
    """The kind of value ``field`` holds (see :data:`ValueKind`)."""
    if field.kind == "param":
        return "mixed"
    if field.kind == "metric":
        return "number"
    if field.kind == "tag":
        return "text" if field.key is not None else "tags"
    if field.kind == "used":
        return "uses"
    return _ATTRIBUTE_KINDS.get(str(field.key), "text")


def read_field(written: str, text: str, position: int) -> Field:
    """The field ``written`` at ``position`` of the query ``text`` (for error positions).

    ``written`` has the shape the grammar's ``FIELD`` token allows; what it names is
    checked here: the prefix or attribute exists, a key follows a prefix, and after a key
    in backticks only a reducer may follow.
    """
    head = _HEAD.match(written)
    if head is None:  # not from the lexer: parse_field's callers pass anything
        raise QuerySyntaxError(f"expected a field; {_FIELD_HELP}", text, position)
    segments = _segments(written, head.end(), text, position)
    name = head.group().lower()
    kind = _KINDS.get(name)
    if kind is None:
        attribute = _ALIASES.get(name, name)
        if segments or attribute not in ATTRIBUTES:
            raise QuerySyntaxError(_unknown(written), text, position)
        return Field("attribute", attribute)
    if kind == "used":
        if segments:
            raise QuerySyntaxError(
                "'used' takes no key: used = churn, used = \"churn/2\", used ~ feat",
                text,
                segments[0].position,
            )
        return Field("used", None)  # the artifacts of other runs the run loaded
    if not segments:
        if kind == "tag":
            return Field("tag", None)  # any tag's key or value
        raise QuerySyntaxError(
            f"expected a key after '{head.group()}': {head.group()}.KEY", text, position
        )
    reducer = None
    if kind == "metric":
        last = segments[-1]
        if len(segments) > 1 and not last.quoted:
            if last.text in REDUCERS:
                reducer = last.text
                segments = segments[:-1]
            elif any(s.quoted for s in segments[:-1]):
                raise QuerySyntaxError(
                    f"unknown reducer '{last.text}': use one of {', '.join(REDUCERS)}",
                    text,
                    last.position,
                )
        reducer = reducer or "last"
    key = ".".join(s.text for s in segments)
    if not key:
        raise QuerySyntaxError("a key cannot be empty", text, segments[0].position)
    return Field(kind, key, reducer)  # type: ignore[arg-type]


def _segments(written: str, start: int, text: str, position: int) -> list[_Segment]:
    segments = []
    at = start
    while at < len(written):
        match = _SEGMENT.match(written, at)
        if match is None:
            raise QuerySyntaxError("expected a key after '.'", text, position + at + 1)
        quoted = match.group(1) is not None
        body = match.group(1).replace("``", "`") if quoted else match.group(2)
        segments.append(_Segment(body, quoted, position + at + 1))
        at = match.end()
    return segments


def _unknown(written: str) -> str:
    message = f"unknown field '{written}': {_FIELD_HELP}"
    head, dot, rest = written.partition(".")
    names = ["params", "metrics", "tags"] if dot else [*ATTRIBUTES, "used"]
    close = difflib.get_close_matches(head.lower(), names, n=1, cutoff=0.7)
    if close:
        return message + f" (did you mean '{close[0]}{dot}{rest}'?)"
    if not dot:
        return message + f" (a tag or a param? tags.{written}, params.{written})"
    return message
