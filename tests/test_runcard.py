"""The run card's comparison, on a real store: with stored runs, with runs of this process
whose final write is still under way, and with a best run looked up while the cell ran."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from jupyter_mltrack.capture.runcard import card_data, compared_on
from jupyter_mltrack.store import RunStatus, Store
from jupyter_mltrack.store.entities import MetricPoint, Run, RunRef


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(str(tmp_path / "home"))
    try:
        yield st
    finally:
        st.close()


def _finished(store: Store, experiment: str, acc: float) -> Run:
    run = store.create_run(experiment)
    store.finish_run(run.id, RunStatus.FINISHED, metrics=[MetricPoint("acc", acc, 0, time.time())])
    return store.get_run(run.id)


def _in_memory(store: Store, experiment: str, acc: float) -> Run:
    """A run as ``ActiveRun.summary`` gives it: created, its metric not yet written."""
    run = store.create_run(experiment)
    return replace(run, status=RunStatus.FINISHED, metrics={"acc": acc})


def test_the_card_compares_with_the_best_stored_run(store: Store) -> None:
    first = _finished(store, "exp", 0.8)
    run = _in_memory(store, "exp", 0.7)
    data = card_data(store, run)
    assert data["best"]["number"] == first.number
    assert data["deltas"]["acc"] == pytest.approx(-0.1)
    assert compared_on(run.experiment_id) == "acc"


def test_a_run_still_being_written_counts_as_stored(store: Store) -> None:
    """The previous cell's run ends in a background thread (``ActiveRun.end``'s
    ``background``); until that write is done the store holds it as ``running`` without its
    metric, and the card must compare with it as it is about to be stored."""
    _finished(store, "exp", 0.8)
    pending = _in_memory(store, "exp", 0.95)  # its row exists, its metric is not written
    run = _in_memory(store, "exp", 0.9)
    without = card_data(store, run)
    assert without["best"]["number"] == 1  # what the store alone says
    data = card_data(store, run, pending=[pending])
    assert data["best"]["number"] == pending.number
    assert data["deltas"]["acc"] == pytest.approx(-0.05)
    # a pending run of another experiment, or worse than the stored best, changes nothing
    other = replace(_in_memory(store, "other", 0.99), metrics={"acc": 0.99})
    worse = replace(pending, metrics={"acc": 0.5})
    assert card_data(store, run, pending=[other, worse])["best"]["number"] == 1


def test_a_pending_runs_stale_row_is_superseded_by_what_it_will_write(store: Store) -> None:
    """A long run flushes metrics while it runs: its stored row may hold an older, better
    value than the one it ends with; the card compares with the final one."""
    flushed = store.create_run("exp")
    store.log_metrics(flushed.id, [MetricPoint("acc", 0.99, 0, time.time())])
    stored = _finished(store, "exp", 0.8)
    ending = replace(flushed, status=RunStatus.FINISHED, metrics={"acc": 0.7})
    run = _in_memory(store, "exp", 0.75)
    assert card_data(store, run)["best"]["number"] == flushed.number
    assert card_data(store, run, pending=[ending])["best"]["number"] == stored.number


def test_a_best_run_looked_up_during_the_cell_is_used_for_its_metric_only(
    store: Store,
) -> None:
    """``prefetched``: the best run by the metric the last card compared on, looked up while
    the cell ran. Used when the card compares on that metric; otherwise the store is asked."""
    first = _finished(store, "exp", 0.8)
    run = _in_memory(store, "exp", 0.7)
    looked_up = RunRef(id="f" * 32, number=41, metrics={"acc": 0.75})
    assert card_data(store, run, prefetched=("acc", looked_up))["best"]["number"] == 41
    assert card_data(store, run, prefetched=("acc", None))["best"] is None
    assert card_data(store, run, prefetched=("loss", looked_up))["best"]["number"] == first.number
