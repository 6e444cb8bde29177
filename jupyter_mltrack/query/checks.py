"""A literal meets its field: the value a condition compares, or an error at the literal.

Each field holds one kind of value (:func:`.fields.value_kind`), and the same text means
different things against different fields: ``2026-11-01`` is a day for ``started`` and a
word for a tag; ``5m`` is 300 seconds for ``duration``; ``3`` is a number for a param (and
also matches the string param ``"3"``, which the store keeps as a number too) but the text
``3`` for a tag. Deciding this at parse time means every mistake is reported with its
column, and the compiler never meets a value it cannot compare.
"""

from __future__ import annotations

import math

from ..store.entities import RunStatus
from .ast import Field, Scalar
from .errors import QuerySyntaxError
from .fields import ValueKind, value_kind
from .literals import Raw, Span, duration_seconds, number_from_text, time_value

#: Operators that order values; ``~``/``!~`` match text; the rest test equality.
ORDERING = ("<", "<=", ">", ">=")
MATCHING = ("~", "!~")
_STATUSES = tuple(s.value for s in RunStatus)
_WHAT: dict[ValueKind, str] = {
    "number": "numbers",
    "integer": "run numbers",
    "time": "times",
    "duration": "durations",
}


def check_operator(field: Field, op: str, text: str, position: int) -> None:
    """Refuse an operator the field's values do not support (``~`` on a metric, ``<`` on
    ``tags`` without a key), pointing at the operator."""
    kind = value_kind(field)
    if op in MATCHING and kind in _WHAT:
        raise QuerySyntaxError(
            f"'{op}' matches text, and {field} holds {_WHAT[kind]}: use =, !=, <, <=, > or >=",
            text,
            position,
        )
    if op in ORDERING and kind == "uses":
        raise QuerySyntaxError(
            f"'{op}' does not compare what a run used; used takes =, !=, ~, !~, in and is null"
            ' (used = churn, used = "churn/2", used = "churn@production")',
            text,
            position,
        )
    if op in ORDERING and kind == "tags":
        raise QuerySyntaxError(
            f"'{op}' needs a tag key (tags.KEY {op} …); tags alone take =, !=, ~, !~, in "
            "and is null",
            text,
            position,
        )


def check_value(field: Field, op: str, raw: Raw, text: str) -> Scalar | Span | None:
    """The value ``raw`` stands for in ``field op raw`` (``op`` is ``in`` for a list item);
    ``None`` for ``null``, which the caller turns into ``is null``."""
    if raw.kind == "null":
        if op in ORDERING or op in MATCHING:
            raise QuerySyntaxError(
                f"null only compares with = or != (or write 'is null'), not '{op}'",
                text,
                raw.position,
            )
        return None
    kind = value_kind(field)
    if kind == "mixed":
        return _param_value(op, raw, text)
    if kind in ("text", "tags", "uses"):
        return _text_value(field, op, raw, text)
    if kind == "number":
        return _number_value(field, raw, text)
    if kind == "integer":
        return _integer_value(raw, text)
    if kind == "duration":
        return _duration_value(raw, text)
    return _time_value(field, raw, text)


def _param_value(op: str, raw: Raw, text: str) -> Scalar:
    if op in MATCHING:
        return raw.text  # contains: the value as written, whatever it looks like
    if raw.kind == "bool":
        if op in ORDERING:
            raise QuerySyntaxError(
                f"true and false only compare with =, != or in, not '{op}'", text, raw.position
            )
        return bool(raw.value)
    if raw.kind == "number":
        return float(raw.value)  # type: ignore[arg-type]
    return raw.text


def _text_value(field: Field, op: str, raw: Raw, text: str) -> str:
    if field == Field("attribute", "status"):  # stored in lower case, written in any
        status = raw.text.lower()
        if op in ("=", "!=", "in") and status not in _STATUSES:
            raise QuerySyntaxError(
                f"unknown status '{raw.text}': use one of {', '.join(_STATUSES)}",
                text,
                raw.position,
            )
        return status
    return raw.text  # a tag or a name is text: 3.0 means the characters "3.0"


def _number_value(field: Field, raw: Raw, text: str) -> float:
    number = float(raw.value) if raw.kind == "number" else None  # type: ignore[arg-type]
    if raw.kind in ("string", "word"):
        number = number_from_text(raw.text)
    if number is not None and math.isnan(number):
        raise QuerySyntaxError(
            "NaN equals nothing, not even NaN: write 'is null' for a missing or NaN value",
            text,
            raw.position,
        )
    if number is None:
        raise QuerySyntaxError(
            f"{field} holds numbers: expected a number, found '{raw.text}'", text, raw.position
        )
    return number


def _integer_value(raw: Raw, text: str) -> float:
    written = raw.text.strip()
    if raw.kind == "number":
        return float(raw.value)  # type: ignore[arg-type]
    if raw.kind in ("string", "word") and written.lstrip("#").isascii():
        digits = written[1:] if written.startswith("#") else written
        if digits.isdigit():
            return float(digits)
    raise QuerySyntaxError(
        f"number takes a run number (3 or #3), not '{raw.text}'", text, raw.position
    )


def _duration_value(raw: Raw, text: str) -> float:
    if raw.kind == "number":
        return float(raw.value)  # type: ignore[arg-type]
    seconds = duration_seconds(raw.text) if raw.kind in ("string", "word") else None
    if seconds is None:
        raise QuerySyntaxError(
            f"duration takes seconds or a length like 90s, 5m, 2h or 1h30m, not '{raw.text}'",
            text,
            raw.position,
        )
    return seconds


def _time_value(field: Field, raw: Raw, text: str) -> float | Span:
    if raw.kind == "number":
        return float(raw.value)  # type: ignore[arg-type]
    moment = time_value(raw.text) if raw.kind in ("string", "word") else None
    if moment is None:
        raise QuerySyntaxError(
            f"{field} takes a date or time (2026-11-01, 2026-11-01T10:30, with an optional "
            f"Z or +02:00; local time without one) or epoch seconds, not '{raw.text}'",
            text,
            raw.position,
        )
    return moment
