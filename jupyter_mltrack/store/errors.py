"""The store's exceptions, in a module of their own so every part of the store can raise them
and callers can catch them without importing the store itself (``store.py`` re-exports them).
"""

from __future__ import annotations

from collections.abc import Sequence


class StoreError(Exception):
    """Base of the store's errors; the message is meant for the user."""


class RunNotFound(StoreError, LookupError):
    pass


class InvalidQuery(StoreError, ValueError):
    pass


class AmbiguousRunNumber(InvalidQuery):
    """A run number given without an experiment that several experiments have."""

    def __init__(self, number: int, experiments: Sequence[str]) -> None:
        self.number = number
        self.experiments = list(experiments)
        shown = ", ".join(self.experiments[:5])
        if len(self.experiments) > 5:
            shown += f" (and {len(self.experiments) - 5} more)"
        super().__init__(
            f"run number {number} is ambiguous: experiments {shown} have one; name the "
            "experiment (experiment=… / -e …) or use the run id"
        )


class SnapshotNotFound(StoreError, LookupError):
    pass
