"""Errors of the comparison: bad input, with a message that says what to change.

The REST layer maps :class:`UnknownRun` to 404 and the other :class:`CompareError` to 400;
the CLI prints the message.
"""

from __future__ import annotations

#: Most runs one comparison takes (a table wider than this is not read by anyone).
MAX_RUNS = 100


class CompareError(ValueError):
    """Input the comparison cannot use; the message says what to change."""


class UnknownRun(CompareError, LookupError):
    """A run reference that names no run."""


class UnknownMetric(CompareError):
    """A metric no compared run logged."""
