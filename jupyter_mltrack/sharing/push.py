"""``push`` and ``pull``: copy work from one store to another, sending only what it lacks.

The order is what keeps the destination whole at every moment, so a transfer killed
anywhere and run again ends the same as one that was not killed:

1. snapshots (those the runs link, the dataset versions hold, or all, for a full push):
   their missing packs and file copies sent, then each completed in a transaction that
   checks its blobs are there (:func:`..store.transfer.copy_snapshots`, the spool's path);
2. runs: their artifacts' missing blobs sent, then each run written whole in one
   transaction (:mod:`.runs`);
3. dataset versions and tags, then registered models, versions and aliases
   (:mod:`.catalog`), each dataset and model in one transaction, after what they name.

What the destination has already is found in bulk and skipped, so a second transfer of the
same work sends no blob and writes no row. Nothing the destination holds is overwritten:
differences are :class:`.report.Conflict`\\ s in the report.
"""

from __future__ import annotations

from collections.abc import Callable

from ..store import Store
from ..store.spool import shown_url
from ..store.transfer import copy_snapshots
from .catalog import copy_dataset, copy_model, dataset_snapshots
from .report import TransferReport
from .runs import RunCopier, linked_snapshots, plan_runs, record_unusable
from .selection import select_work

Progress = Callable[[str], None]


def push(
    src: Store,
    dst: Store,
    *,
    runs: str | None = None,
    experiment: str | None = None,
    dataset: str | None = None,
    model: str | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Copy from ``src`` to ``dst`` what the options name (everything when none is given):
    ``runs``, a filter of the query language (``"metrics.acc > 0.9 and tags.stage =
    'prod'"``); ``experiment``, an experiment's name; ``dataset``, a dataset's name;
    ``model``, a registered model's name. ``progress`` is called with a line now and then.
    Raises :class:`.selection.NothingToTransfer` when an option names nothing in ``src``."""
    say = progress or (lambda _line: None)
    report = TransferReport(shown_url(src.url), shown_url(dst.url))
    work = select_work(src, runs=runs, experiment=experiment, dataset=dataset, model=model)
    plan = plan_runs(src, dst, work.run_ids)
    report.runs_skipped = len(plan.present)
    report.runs_running = len(plan.running)
    report.conflicts.extend(plan.conflicts)
    say(
        f"runs: {len(plan.new)} to copy, {len(plan.present)} there already"
        + (f", {len(plan.running)} still running" if plan.running else "")
    )

    digests = [
        *linked_snapshots(src, plan.new),
        *dataset_snapshots(src, work.datasets),
        *work.snapshots,
    ]
    digests = list(dict.fromkeys(digests))
    if digests:
        say(f"snapshots: checking {len(digests)}")
    snaps = copy_snapshots(
        src, dst, digests, progress=lambda n, b: say(f"snapshots: {n} blobs ({b} bytes) sent")
    )
    report.snapshots_copied = len(snaps.copied)
    report.snapshots_skipped = len(snaps.present)
    report.blocks_sent = snaps.blocks
    report.blobs_sent += snaps.sent.blobs
    report.bytes_sent += snaps.sent.bytes
    # rows: each snapshot's row (pending, then complete) and its new blocks
    report.rows_written += 2 * len(snaps.copied) + snaps.blocks
    complete = set(snaps.copied) | set(snaps.present)
    linked = set(linked_snapshots(src, plan.new))
    record_unusable(src, dst, [d for d in snaps.unavailable if d in linked], report)

    RunCopier(src, dst, report, say).copy(plan)

    for name, hashes in work.datasets.items():
        copy_dataset(src, dst, name, hashes, report, complete.__contains__)
    for name in work.models:
        copy_model(src, dst, name, report)
    say(
        f"done: {report.runs_copied} runs, {report.snapshots_copied} snapshots,"
        f" {report.dataset_versions_copied} dataset versions,"
        f" {report.model_versions_copied} model versions copied"
    )
    return report


def pull(
    local: Store,
    remote: Store,
    *,
    runs: str | None = None,
    experiment: str | None = None,
    dataset: str | None = None,
    model: str | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """:func:`push` the other way: copy into ``local`` from ``remote`` (``push(remote,
    local, …)``; the arguments in the order of ``push(local, remote)``, so both read
    "this store, that store")."""
    return push(
        remote,
        local,
        runs=runs,
        experiment=experiment,
        dataset=dataset,
        model=model,
        progress=progress,
    )
