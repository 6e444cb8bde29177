"""Attempts at a run: which of the processes that may write a run is the one whose writes
count.

A sweep's trial may be attempted more than once while an earlier attempt still runs: its
sweep was resumed after the driver died, and a Dask worker of that driver, which outlives
it, still runs the trial. Both attempts write the same run. So the run records which
attempt is current, as its ``mltrack.attempt`` tag (set by whoever starts it: the sweep's
driver, through ``create_run`` or ``restart_run(attempt=…)``), and a process that writes as
an attempt says so (``Store.writing_as``). From then on each of that store's writes to the
run checks, in the write's own transaction, that the tag still names the attempt: a
compare-and-swap on the tag's row, made after the write has taken the run's row (whoever
changes the tag takes the run's row first too, so the two are serialised on it, on SQLite
by its write lock and on PostgreSQL by the row lock: under READ COMMITTED the check, a
statement of its own, reads what a restart that committed meanwhile wrote). A write of a
superseded attempt is refused whole (:class:`.errors.RunSuperseded`, its transaction rolled
back), so nothing of it lands in the run the current attempt is writing.

A tag rather than a column: tags are already written with the run in the same transactions,
carried by every copy of a run (spool, transfer), and shown; no migration. This module
imports nothing, so the sweeps' record conventions (``sweeps.records``) can name the tag.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

#: The tag naming a run's current attempt (a token given by whoever starts the attempt).
ATTEMPT_TAG = "mltrack.attempt"


@dataclass
class Fence:
    """A store's writes to ``run_id`` are ``attempt``'s (see ``Store.writing_as``);
    ``superseded`` once one of them was refused because another attempt has the run."""

    run_id: str
    attempt: str
    superseded: bool = False


@contextlib.contextmanager
def writing_as(
    fences: MutableMapping[str, Fence], run_id: str, attempt: str | None
) -> Iterator[Fence]:
    """A store's ``writing_as``: ``run_id``'s fence in ``fences`` (the store's) while the
    block runs; ``attempt=None`` fences nothing."""
    fence = Fence(run_id, attempt or "")
    if attempt is None:
        yield fence
        return
    fences[run_id] = fence
    try:
        yield fence
    finally:
        if fences.get(run_id) is fence:
            del fences[run_id]
