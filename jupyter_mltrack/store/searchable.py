"""The searchable forms of what runs record: a parameter's number and text, a metric's summary.

A parameter is stored as typed JSON, which SQL cannot compare: ``"0.01" < "0.1"`` as text and
``10 < 9`` as JSON text. So each param row also keeps ``num_value`` (the value as a number,
when it is one or a string that reads as one) and ``text_value`` (the string, or the JSON
text of anything else): the query language compares numbers with numbers and strings with
strings whatever type the param was recorded with, with an index on ``(key, num_value)``.

A metric's series lives in binary chunks SQL cannot read either; the ``latest_metrics`` row
of a run and key keeps, beside the latest value, the minimum, maximum, sum and count of
every non-NaN value ever logged, merged at each flush, so ``metrics.loss.min < 0.2`` and
sorting by a best value are indexed lookups rather than a decode of every series.
Only the standard library: the store must not need numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, NamedTuple


def param_number(value: Any) -> float | None:
    """``value`` as a finite-or-infinite float when it is a number (not a bool) or a string
    that reads as one (``"0.01"``, ``" 1e-3 "``, ``"inf"``); ``None`` otherwise (NaN too:
    it compares with nothing)."""
    if isinstance(value, bool):
        return None
    if not isinstance(value, int | float) and not (isinstance(value, str) and len(value) <= 64):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # not a number; an int past float's range
        return None
    if math.isnan(number):
        return None
    return number


def param_text(value: Any, json_text: str) -> str:
    """The string itself for a string param, the stored JSON text for anything else.

    A NUL character becomes U+FFFD: PostgreSQL's text cannot hold it (the JSON ``value``
    keeps it, escaped), and both backends must compare the same strings."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else json_text


def param_columns(json_text: str) -> tuple[float | None, str]:
    """``(num_value, text_value)`` of a param stored as ``json_text`` (the migration's
    backfill; writers already hold the Python value and call the two functions above)."""
    try:
        value = json.loads(json_text)
    except ValueError:
        return None, json_text
    return param_number(value), param_text(value, json_text)


class Summary(NamedTuple):
    """Minimum, maximum, sum and count of a series' non-NaN values (``None`` when none)."""

    min_value: float | None
    max_value: float | None
    sum_value: float | None
    n_values: int


def summarise(values: Iterable[float]) -> Summary:
    """The summary of some values of one metric (NaN ignored; a sum that is NaN, as
    ``inf + -inf``, is kept as ``None``: the mean is then unknown rather than wrong)."""
    low = high = None
    total = 0.0
    n = 0
    for v in values:
        if v != v:  # NaN
            continue
        n += 1
        total += v
        if low is None or v < low:
            low = v
        if high is None or v > high:
            high = v
    if n == 0:
        return Summary(None, None, None, 0)
    return Summary(low, high, None if math.isnan(total) else total, n)
