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
    assert card_data(store, run, prefetched=(("acc", "last"), looked_up))["best"]["number"] == 41
    assert card_data(store, run, prefetched=(("acc", "last"), None))["best"] is None
    loss = (("loss", "last"), looked_up)
    assert card_data(store, run, prefetched=loss)["best"]["number"] == first.number
    # looked up under another reducer: not this card's comparison
    other = (("acc", "max"), looked_up)
    assert card_data(store, run, prefetched=other)["best"]["number"] == first.number


def _curve(store: Store, experiment: str, *values: float) -> Run:
    run = store.create_run(experiment)
    points = [MetricPoint("acc", v, i, time.time()) for i, v in enumerate(values)]
    store.finish_run(run.id, RunStatus.FINISHED, metrics=points)
    return store.get_run(run.id)


def test_the_card_under_a_reducer_shows_and_compares_best_not_last(store: Store) -> None:
    """A run whose accuracy peaked and fell: under ``best`` the card shows the peak, and the
    experiment's best run is the one with the best peak, compared peak to peak."""
    peaked = _curve(store, "exp", 0.5, 0.95, 0.6)  # last 0.6, best 0.95
    steady = _curve(store, "exp", 0.7, 0.8)  # last 0.8, best 0.8
    run = replace(_in_memory(store, "exp", 0.9), metrics={"acc": 0.9})  # its own best: 0.9
    last = card_data(store, run)
    assert last["best"]["number"] == steady.number and "reducers" not in last
    best = card_data(store, run, reducers={"acc": "best"})
    assert best["best"]["number"] == peaked.number
    assert best["best"]["metrics"]["acc"] == 0.95
    assert best["deltas"]["acc"] == pytest.approx(-0.05)
    assert best["reducers"] == {"acc": "best"}
    mean = card_data(store, run, reducers={"acc": "mean"})
    assert mean["best"]["number"] == steady.number and mean["best"]["metrics"]["acc"] == 0.75
    # and the store's own look-up, per reducer
    exp = peaked.experiment_id
    assert store.best_run(exp, "acc", higher_is_better=True, reducer="min").number == steady.number
    assert store.best_run(exp, "acc", higher_is_better=False, reducer="max").number == steady.number
    with pytest.raises(Exception, match="unknown reducer"):
        store.best_run(exp, "acc", higher_is_better=True, reducer="median")


def test_an_active_run_reduces_what_it_logged(store: Store) -> None:
    from jupyter_mltrack.capture.api import ActiveRun
    from jupyter_mltrack.capture.runcard import card_reducers

    active = ActiveRun(store.create_run("exp"), store)
    for value in (0.5, float("nan"), 0.9, 0.7):
        active.log_metric("acc", value)
    active.log_metric("val_loss", 2.0)
    active.log_metric("val_loss", 1.0)
    reducers = card_reducers(["acc", "val_loss"], "best", {"acc": "mean"})
    assert reducers == {"acc": "mean", "val_loss": "best"}
    summary = active.summary(reducers)
    assert summary.metrics["acc"] == pytest.approx(0.7) and summary.metrics["val_loss"] == 1.0
    assert active.summary().metrics == {"acc": 0.7, "val_loss": 1.0}  # the latest values
    assert active.summary({"acc": "max"}).metrics["acc"] == 0.9
    assert card_reducers(["x"], "median", {}) == {"x": "last"}


def test_the_experiments_goal_decides_best_and_better(store: Store) -> None:
    """``set_metric_goal`` says ``acc`` is better low in this experiment (an error rate
    named badly): the card's best run is the lowest, a drop is an improvement, and ``best``
    is the run's minimum; in another experiment the name still decides."""
    from jupyter_mltrack.capture.api import ActiveRun, set_metric_goal
    from jupyter_mltrack.capture.runcard import card_html, experiment_goals

    low = _finished(store, "errs", 0.2)
    _finished(store, "errs", 0.6)
    assert card_data(store, _in_memory(store, "errs", 0.4))["goals"] == {"acc": "max"}
    set_metric_goal("acc", "min", "errs", store=store)
    run = _in_memory(store, "errs", 0.4)
    data = card_data(store, run)
    assert data["goals"] == {"acc": "min"} and data["best"]["number"] == low.number
    assert data["deltas"]["acc"] == pytest.approx(0.2)
    assert "#c62828" in card_html(data)  # worse: red, though the value went up
    assert experiment_goals(store, run.experiment_id) == {"acc": "min"}
    active = ActiveRun(store.create_run("errs"), store)
    for value in (0.5, 0.1, 0.3):
        active.log_metric("acc", value)
    goals = experiment_goals(store, run.experiment_id)
    assert active.summary({"acc": "best"}, goals).metrics["acc"] == 0.1
    assert active.summary({"acc": "best"}).metrics["acc"] == 0.5  # by the name: max
    other = card_data(store, _in_memory(store, "plain", 0.4))
    assert other["goals"] == {"acc": "max"}
