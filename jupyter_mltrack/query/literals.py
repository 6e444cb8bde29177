"""Literals as written: quoted strings, bare words and numbers, dates and durations.

A bare value is one token whatever it looks like (``finished``, ``2026-11-01``, ``5m``,
``-1e-3``); what it *is* is decided here, from its text, and then against its field in
:mod:`.checks` — so ``started > 2026-11-01`` needs no quotes, and ``"3"`` (quoted) stays
the string it was written as.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

LiteralKind = Literal["number", "string", "word", "bool", "null"]

#: A number as a bare value: no hex, no underscores, no ``inf`` (that is a word), so a
#: number means the same here as in JSON and Python literals people copy.
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: Text that stands for a number where only numbers make sense (a metric's ``"0.9"``,
#: ``inf`` for a diverged loss).
NUMERIC_TEXT = re.compile(
    r"\s*[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\s*", re.I
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "`": "`"}

_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d))+", re.I)
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)", re.I)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

_ISO = re.compile(
    r"(\d{4})-(\d{2})(?:-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?"
)


@dataclass(frozen=True)
class Raw:
    """A literal before it meets its field: ``text`` is a string's content (escapes
    resolved) or the token as written; ``value`` what the text says on its own."""

    kind: LiteralKind
    value: float | str | bool | None
    text: str
    position: int


@dataclass(frozen=True)
class Span:
    """A date written without a time: every instant from ``start`` up to ``end``
    (exclusive), so ``started = 2026-11-01`` means during that day."""

    start: float
    end: float


def read_literal(token_type: str, written: str, position: int) -> Raw:
    """The literal of a ``STRING`` or ``BARE`` token."""
    if token_type == "STRING":
        return Raw("string", unescape(written[1:-1]), unescape(written[1:-1]), position)
    if NUMBER.fullmatch(written):
        return Raw("number", float(written), written, position)
    lowered = written.lower()
    if lowered in ("true", "false"):
        return Raw("bool", lowered == "true", written, position)
    if lowered == "null":
        return Raw("null", None, written, position)
    return Raw("word", written, written, position)


def unescape(body: str) -> str:
    r"""A quoted string's content: ``\n``, ``\t``, ``\r``, ``\uXXXX`` and an escaped quote or
    backslash are resolved; any other backslash is kept as typed, so a Windows path
    (``"C:\data"``) means what it shows."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, match.group(0))

    return _ESCAPE.sub(one, body)


def number_from_text(text: str) -> float | None:
    """The number a text stands for (``"0.9"``, ``"inf"``, ``"nan"``), else ``None``."""
    if NUMERIC_TEXT.fullmatch(text):
        return float(text)
    return None


def duration_seconds(text: str) -> float | None:
    """Seconds of ``90s``, ``5m``, ``2h``, ``1h30m``, ``250ms``, ``1.5d``; else ``None``."""
    if not _DURATION.fullmatch(text.strip()):
        return None
    return sum(float(n) * _UNITS[unit.lower()] for n, unit in _DURATION_PART.findall(text))


def time_value(text: str) -> float | Span | None:
    """Epoch seconds of an ISO date-time, or the :class:`Span` of a date (``2026-11-01``) or
    month (``2026-11``); ``None`` when ``text`` is not one.

    A date-time without an offset is local time, as a person reading a clock means it; the
    spans follow the local calendar too (a day with a daylight-saving change is 23 or 25
    hours long).
    """
    match = _ISO.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return _moment(*match.groups())
    except (ValueError, OverflowError, OSError):  # 2026-13-01, +99:00, year 1 in local time
        return None


def _moment(
    year: str,
    month: str,
    day: str | None,
    hour: str | None,
    minute: str | None,
    second: str | None,
    fraction: str | None,
    offset: str | None,
) -> float | Span:
    if day is None:
        first = dt.datetime(int(year), int(month), 1)
        days = calendar.monthrange(first.year, first.month)[1]
        return Span(first.timestamp(), (first + dt.timedelta(days=days)).timestamp())
    date = dt.datetime(int(year), int(month), int(day))
    if hour is None or minute is None:
        return Span(date.timestamp(), (date + dt.timedelta(days=1)).timestamp())
    moment = date.replace(hour=int(hour), minute=int(minute), second=int(second or 0))
    if fraction:
        moment += dt.timedelta(microseconds=round(float("0." + fraction) * 1_000_000))
    if offset:
        moment = moment.replace(tzinfo=_zone(offset))
    return moment.timestamp()


def _zone(offset: str) -> dt.timezone:
    if offset in ("Z", "z"):
        return dt.timezone.utc
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
    return dt.timezone(sign * dt.timedelta(minutes=minutes))
