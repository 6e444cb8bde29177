"""The runs' query language: one language for the sidebar's filter box, ``mltrack …
--filter``, ``GET /mltrack/api/runs?filter=`` and ``mltrack.search_runs``.

``params.lr < 0.01 and (metrics.acc >= 0.9 or tags.stage = "tuning") and status = finished
and name ~ "sweep" and started > 2026-11-01``

- ``and``, ``or``, ``not``, parentheses (``not`` binds tightest, then ``and``, then ``or``);
  keywords, field prefixes and attribute names are case-insensitive, keys are not.
- Operators: ``= == != <> < <= > >=``, ``in (…)``, ``not in (…)``, ``~`` (contains,
  case-insensitive; a glob matching the whole value when the pattern has ``*`` or ``?``),
  ``!~``, ``is null``, ``is not null``.
- Fields: ``params.KEY``, ``metrics.KEY`` or ``metrics.KEY.REDUCER`` (one of
  :data:`REDUCERS`, default ``last``; a last segment that is not a reducer belongs to the
  key), ``tags.KEY``, bare ``tags`` (any tag's key or value), and the attributes ``id``,
  ``status``, ``name``, ``number``, ``notebook``, ``experiment``, ``source``, ``duration``
  (seconds, none while running), ``started``, ``ended``, ``commit``, ``parent``, ``note``.
  ``param.``, ``metric.``, ``tag.`` work too; backticks quote a key with any characters
  (``metrics.`val.min`.max``; a backtick inside is doubled).
- Values: numbers, ``'single'`` or ``"double"`` quoted strings (backslash escapes),
  ``true``, ``false``, ``null``, and bare words (``status = finished``).
- Types follow the literal: against a param a number compares numbers (a string param
  that reads as a number included), a string compares text, whatever the param's recorded
  type. ``started``/``ended`` take epoch seconds or ISO dates and times (local time without
  an offset; a date alone is the whole day, ``2026-11`` the whole month); ``duration`` takes
  seconds or ``90s``, ``5m``, ``2h``, ``1h30m``; ``number`` takes ``3`` or ``#3``.
- Missing values: every comparison (``!=``, ``!~``, ``not in`` included) with a missing
  param, tag or metric, a NaN metric or a param recorded as ``None`` is false;
  ``is null`` is true for them, and ``not`` turns false into true.

The compiler (:func:`compile_filter`, :func:`value_expression`,
:func:`order_expressions`) needs SQLAlchemy and is loaded on first use, so parsing a query
costs no SQLAlchemy import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .ast import REDUCERS, And, Compare, Field, In, IsNull, Node, Not, Or
from .errors import QuerySyntaxError
from .parser import parse, parse_field
from .plain import parse_filter

if TYPE_CHECKING:
    from .compile import compile_filter, order_expressions, value_expression

_LAZY = ("compile_filter", "order_expressions", "value_expression")

__all__ = [
    "REDUCERS",
    "And",
    "Compare",
    "Field",
    "In",
    "IsNull",
    "Node",
    "Not",
    "Or",
    "QuerySyntaxError",
    "compile_filter",
    "order_expressions",
    "parse",
    "parse_field",
    "parse_filter",
    "value_expression",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(".compile", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
