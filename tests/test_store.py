"""The run store, on SQLite and on a real PostgreSQL server (the ``store``/``store_url``
fixtures run each test on both backends)."""

from __future__ import annotations

import datetime as dt
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from jupyter_mltrack.location import HOME_ENV, URL_ENV, resolve_store_url
from jupyter_mltrack.store import (
    DEFAULT_EXPERIMENT,
    Environment,
    InvalidName,
    InvalidQuery,
    MetricPoint,
    RunNotFound,
    RunStatus,
    Store,
    StoreError,
)

CHILD_TABLES = ("params", "metric_chunks", "latest_metrics", "outputs", "tags")


def point(key: str, value: float, step: int, ts: float | None = None) -> MetricPoint:
    return MetricPoint(key=key, value=value, step=step, timestamp=time.time() if ts is None else ts)


def count_rows(store: Store, table: str, run_id: str) -> int:
    with store.engine.connect() as conn:
        return conn.execute(
            text(f"SELECT COUNT(*) FROM {table} WHERE run_id = :r"), {"r": run_id}
        ).scalar_one()


def set_columns(store: Store, run_id: str, **values: object) -> None:
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    with store.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE runs SET {assignments} WHERE id = :where_id"),
            {**values, "where_id": run_id},
        )


# creating and finishing runs ------------------------------------------------------------------


def test_create_and_finish_run(store: Store) -> None:
    before = time.time()
    run = store.create_run(
        "exp",
        name="baseline",
        notebook_path="nb/train.ipynb",
        cell_id="cell-1",
        execution_count=7,
        code="lr = 0.1\nfit()",
        tags={"team": "vision"},
        kernel_id="kern-1",
        git_commit="abc123",
        git_dirty=True,
    )
    assert run.status is RunStatus.RUNNING and run.end_time is None and run.number == 1
    assert before <= run.start_time <= time.time()

    got = store.get_run(run.id)
    assert got == run  # what create_run returned is what a reader sees
    assert got.duration is None

    store.finish_run(run.id, "finished", end_time=run.start_time + 2.5)
    done = store.get_run(run.id)
    assert done.status is RunStatus.FINISHED
    assert done.end_time == pytest.approx(run.start_time + 2.5)
    assert done.duration == pytest.approx(2.5)
    assert done.to_dict()["status"] == "finished"

    detail = store.get_run_detail(run.id)
    assert detail.code == "lr = 0.1\nfit()"
    assert (detail.kernel_id, detail.host, detail.pid) == (
        "kern-1",
        socket.gethostname(),
        os.getpid(),
    )
    assert (detail.git_commit, detail.git_dirty) == ("abc123", True)
    assert detail.error is None and detail.outputs == [] and detail.metric_series == {}

    failed = store.create_run("exp")
    store.finish_run(
        failed.id, RunStatus.FAILED, error={"ename": "ValueError", "value": math.nan, "n": 1}
    )
    detail = store.get_run_detail(failed.id)
    assert detail.run.status is RunStatus.FAILED and detail.run.end_time is not None
    assert detail.error == {
        "ename": "ValueError",
        "value": {"$type": "float", "value": "nan"},
        "n": 1,
    }
    with pytest.raises(ValueError):
        store.finish_run(failed.id, "done")


def test_run_numbers_are_consecutive_per_experiment(store: Store) -> None:
    a1, a2 = store.create_run("a"), store.create_run("a")
    b1 = store.create_run("b")
    a3 = store.create_run("a")
    assert [a1.number, a2.number, a3.number] == [1, 2, 3]
    assert b1.number == 1
    assert a1.experiment_id == a3.experiment_id != b1.experiment_id
    store.delete_run(a3.id)
    assert store.create_run("a").number == 3
    for blank in (None, "", "   "):
        assert store.create_run(blank).experiment == DEFAULT_EXPERIMENT
    runs, total = store.search_runs(experiment=DEFAULT_EXPERIMENT, order="number")
    assert total == 3 and [r.number for r in runs] == [1, 2, 3]


# params ---------------------------------------------------------------------------------------


def test_params_keep_their_json_types(store: Store) -> None:
    params = {
        "epochs": 10,
        "lr": 0.001,
        "opt": "adam",
        "shuffle": False,
        "seed": None,
        "layers": [64, 32, [1, 2]],
        "cfg": {"drop": 0.5, "act": "relu", "sizes": (1, 2)},
        "zero": 0.0,
        "neg": -3,
        "unicode": "héllo ✓ 日本",
    }
    run = store.create_run("p", params=params)
    got = store.get_run(run.id).params
    assert got == {**params, "cfg": {"drop": 0.5, "act": "relu", "sizes": [1, 2]}}
    assert type(got["epochs"]) is int and type(got["neg"]) is int
    assert type(got["lr"]) is float and type(got["zero"]) is float
    assert got["shuffle"] is False and got["seed"] is None
    assert run.params == got  # the returned run agrees with what was stored

    store.log_params(run.id, {"epochs": 20, "extra": True})
    store.finish_run(run.id, "finished", params={"opt": "sgd"})
    got = store.get_run(run.id).params
    assert (got["epochs"], got["extra"], got["opt"], got["lr"]) == (20, True, "sgd", 0.001)


def test_params_odd_values_become_markers(store: Store) -> None:
    class Model:
        def __repr__(self) -> str:
            return "Model(depth=3)"

    when = dt.datetime(2024, 5, 17, 12, 30, tzinfo=dt.timezone.utc)
    run = store.create_run("p")
    store.log_params(
        run.id,
        {
            "nan": math.nan,
            "inf": math.inf,
            "ninf": -math.inf,
            "big": 2**70,
            "when": when,
            "np_int": np.int64(5),
            "np_float": np.float32(0.25),
            "np_bool": np.bool_(True),
            "np_arr": np.array([1.5, 2.5]),
            "long": "x" * 25_000,
            "model": Model(),
            "bytes": b"\x00\x01",
            "bad_text": "a\ud800b",
        },
    )
    got = store.get_run(run.id).params
    assert got["nan"] == {"$type": "float", "value": "nan"}
    assert got["inf"] == {"$type": "float", "value": "inf"}
    assert got["ninf"] == {"$type": "float", "value": "-inf"}
    assert got["big"] == {"$type": "int", "value": str(2**70)}
    assert got["when"] == {"$type": "datetime", "value": "2024-05-17T12:30:00+00:00"}
    assert got["np_int"] == 5 and type(got["np_int"]) is int
    assert got["np_float"] == 0.25 and got["np_bool"] is True and got["np_arr"] == [1.5, 2.5]
    assert got["long"] == {"$type": "truncated", "value": "x" * 10_000, "length": 25_000}
    assert got["model"]["$type"] == "repr" and got["model"]["repr"] == "Model(depth=3)"
    assert got["model"]["class"].endswith("Model")
    assert got["bytes"] == {"$type": "bytes", "length": 2, "hex": "0001"}
    assert got["bad_text"] == "a\ufffdb"  # a lone surrogate cannot be stored as UTF-8


def test_param_keys_are_text(store: Store) -> None:
    run = store.create_run("p", params={1: "int key", "2": "two"})
    store.log_params(run.id, {2: "replaced"})
    store.log_params(run.id, {"1": "also replaced"})
    assert store.get_run(run.id).params == {"1": "also replaced", "2": "replaced"}
    assert count_rows(store, "params", run.id) == 2
    # 1 and "1" are one param: the last one given wins, not a duplicate-key error
    both = store.create_run("p", params={1: "int", "1": "str"})
    assert both.params == store.get_run(both.id).params == {"1": "str"}


# metrics --------------------------------------------------------------------------------------


def test_metric_series_in_step_order(store: Store) -> None:
    run = store.create_run("m")
    t0 = 1_700_000_000.0
    store.log_metrics(run.id, [point("loss", 1.0 / (s + 1), s, t0 + s) for s in range(5)])
    store.log_metrics(run.id, [point("acc", 0.5, 0, t0), point("acc", 0.75, 10, t0 + 1)])
    series = store.get_run_detail(run.id).metric_series
    assert sorted(series) == ["acc", "loss"]
    assert [p.step for p in series["loss"]] == [0, 1, 2, 3, 4]
    assert [p.value for p in series["loss"]] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert [p.timestamp for p in series["loss"]] == [t0 + s for s in range(5)]
    assert [(p.step, p.value) for p in series["acc"]] == [(0, 0.5), (10, 0.75)]
    assert store.get_run(run.id).metrics == {"acc": 0.75, "loss": 0.2}


def test_many_metric_points_in_one_batch(store: Store) -> None:
    run = store.create_run("m")
    n = 5000
    store.log_metrics(run.id, [point("x", float(i) * 0.5, i) for i in range(n)])
    pts = store.get_run_detail(run.id).metric_series["x"]
    assert len(pts) == n
    assert [p.step for p in pts] == list(range(n))
    assert pts[1234].value == 617.0
    assert store.get_run(run.id).metrics == {"x": (n - 1) * 0.5}


def test_nan_and_infinities_round_trip(store: Store) -> None:
    run = store.create_run("m")
    store.log_metrics(
        run.id,
        [point("v", math.nan, 0), point("v", math.inf, 1), point("v", -math.inf, 2)]
        + [point("w", 1.0, 0), point("w", math.nan, 1)],
    )
    values = [p.value for p in store.get_run_detail(run.id).metric_series["v"]]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]
    got = store.get_run(run.id)
    assert got.metrics["v"] == -math.inf
    assert math.isnan(got.metrics["w"])  # the latest value is NaN, not the last finite one
    assert got.to_dict()["metrics"] == {"v": "-inf", "w": None}


def test_latest_metric_keeps_the_highest_step(store: Store) -> None:
    run = store.create_run("m")
    store.log_metrics(run.id, [point("loss", 3.0, 3), point("loss", 1.0, 1), point("loss", 2.0, 2)])
    assert store.get_run(run.id).metrics["loss"] == 3.0
    store.log_metrics(run.id, [point("loss", 0.5, 1)])  # a late, lower step
    assert store.get_run(run.id).metrics["loss"] == 3.0
    store.log_metrics(run.id, [point("loss", 9.0, 5)])
    assert store.get_run(run.id).metrics["loss"] == 9.0
    later = time.time() + 10
    store.log_metrics(run.id, [point("loss", 8.0, 5, later)])  # same step, newer point wins
    assert store.get_run(run.id).metrics["loss"] == 8.0
    store.finish_run(run.id, "finished", metrics=[point("loss", 7.0, 4), point("acc", 1.0, 0)])
    assert store.get_run(run.id).metrics == {"acc": 1.0, "loss": 8.0}
    steps = [p.step for p in store.get_run_detail(run.id).metric_series["loss"]]
    assert steps == [1, 1, 2, 3, 4, 5, 5]
    assert count_rows(store, "latest_metrics", run.id) == 2


def test_best_run_of_an_experiment(store: Store) -> None:
    """The run card's comparison: best latest value, its direction, NaN skipped, one query."""
    made = {}
    for name, acc, loss in [
        ("a", 0.7, 0.5),
        ("b", 0.9, 0.4),
        ("c", math.nan, 0.1),
        ("d", 0.8, 0.9),
    ]:
        run = store.create_run("best", name=name)
        store.finish_run(run.id, "finished", metrics=[point("acc", acc, 0), point("loss", loss, 0)])
        made[name] = run
    store.finish_run(store.create_run("elsewhere").id, "finished", metrics=[point("acc", 1.0, 0)])
    exp = made["a"].experiment_id

    best = store.best_run(exp, "acc", higher_is_better=True)
    assert best is not None and best.id == made["b"].id and best.number == 2
    assert best.metrics == {"acc": 0.9, "loss": 0.4}  # every metric, to compare the card's
    assert store.best_run(exp, "loss", higher_is_better=False).id == made["c"].id
    # the run being compared is left out
    assert store.best_run(exp, "acc", higher_is_better=True, exclude=made["b"].id).id == (
        made["d"].id
    )
    assert store.best_run(exp, "f1", higher_is_better=True) is None


# outputs, tags, edits, deletion ---------------------------------------------------------------


def test_outputs_are_kept_in_order(store: Store) -> None:
    run = store.create_run("o")
    first = {"output_type": "stream", "name": "stdout", "text": "epoch 0\n"}
    store.finish_run(run.id, RunStatus.RUNNING, outputs=[first])  # one output, then more
    assert store.get_run(run.id).end_time is None
    more = [
        {"output_type": "execute_result", "data": {"text/plain": str(i)}, "metadata": {}}
        for i in range(12)
    ]
    store.finish_run(run.id, "finished", outputs=more)
    assert store.get_run_detail(run.id).outputs == [first, *more]


def test_tags_set_and_replace(store: Store) -> None:
    run = store.create_run("t", tags={"a": "1", "b": "2"})
    store.set_tags(run.id, {"b": "two", "c": 3})  # type: ignore[dict-item]
    assert store.get_run(run.id).tags == {"a": "1", "b": "two", "c": "3"}
    store.set_tags(run.id, {"only": ""}, replace=True)
    assert store.get_run(run.id).tags == {"only": ""}
    store.set_tags(run.id, {}, replace=True)
    assert store.get_run(run.id).tags == {}
    assert count_rows(store, "tags", run.id) == 0


def test_update_run(store: Store) -> None:
    run = store.create_run("u", name="first", tags={"old": "x"})
    store.update_run(run.id, name="second", note="looks good", tags={"new": "y"})
    got = store.get_run(run.id)
    assert (got.name, got.note, got.tags) == ("second", "looks good", {"new": "y"})
    store.update_run(run.id)  # nothing given: nothing changes
    assert store.get_run(run.id) == got
    store.update_run(run.id, name="", note="")
    got = store.get_run(run.id)
    assert got.name is None and got.note == "" and got.tags == {"new": "y"}


def test_a_users_edit_of_tags_keeps_the_trackers_own(store: Store) -> None:
    """The sidebar's tag editor sends the run's whole set: the tracker's tags (a sweep's
    attempt, its name and trial number; a pulled run's origin) left out stay, since a sweep
    resumed, an attempt fenced and a second pull rely on them; one added or changed is
    refused whole, the run as it was. Tags the tracker sets itself are written as before."""
    tracker = {"mltrack.sweep": "s", "mltrack.trial": "3", "mltrack.attempt": "a1"}
    run = store.create_run("u", tags={"old": "x", **tracker})
    store.update_run(run.id, tags={"new": "y"})
    assert store.get_run(run.id).tags == {"new": "y", **tracker}
    store.update_run(run.id, tags={"new": "z", "mltrack.trial": "3"})  # unchanged: fine
    assert store.get_run(run.id).tags == {"new": "z", **tracker}
    for bad in ({"mltrack.attempt": "mine"}, {"mltrack.extra": ""}, {"mltrack.%": "1"}):
        with pytest.raises(InvalidName, match="the tracker's own"):
            store.update_run(run.id, name="not written", tags={"other": "", **bad})
    got = store.get_run(run.id)
    assert got.tags == {"new": "z", **tracker} and got.name is None
    store.set_tags(run.id, {"mltrack.attempt": "a2"})  # the driver's own hand-out
    assert store.get_run(run.id).tags["mltrack.attempt"] == "a2"


def test_delete_run_removes_everything(store: Store) -> None:
    env_id = store.put_environment(Environment("3.11", "linux", {"numpy": "2.0"}, "d" * 64))
    runs = []
    for _ in range(2):
        run = store.create_run("d", params={"p": 1}, tags={"t": "v"}, environment_id=env_id)
        store.log_metrics(run.id, [point("loss", 1.0, 0), point("loss", 0.5, 1)])
        store.finish_run(run.id, "finished", outputs=[{"output_type": "stream", "text": "x"}])
        runs.append(run)
    gone, kept = runs
    assert all(count_rows(store, t, gone.id) > 0 for t in CHILD_TABLES)

    store.delete_run(gone.id)
    with pytest.raises(RunNotFound):
        store.get_run(gone.id)
    assert {t: count_rows(store, t, gone.id) for t in CHILD_TABLES} == dict.fromkeys(
        CHILD_TABLES, 0
    )
    assert all(count_rows(store, t, kept.id) > 0 for t in CHILD_TABLES)
    assert store.get_run_detail(kept.id).environment.packages == {"numpy": "2.0"}
    assert store.search_runs()[1] == 1
    with pytest.raises(RunNotFound):
        store.delete_run(gone.id)


# searching ------------------------------------------------------------------------------------


def test_search_filters(store: Store) -> None:
    a = store.create_run("e1", notebook_path="a.ipynb")
    b = store.create_run("e1", notebook_path="b.ipynb")
    c = store.create_run("e2", notebook_path="a.ipynb")
    store.finish_run(b.id, "finished")
    store.finish_run(c.id, "failed")

    def ids(**kw: object) -> tuple[set[str], int]:
        runs, total = store.search_runs(**kw)  # type: ignore[arg-type]
        return {r.id for r in runs}, total

    assert ids() == ({a.id, b.id, c.id}, 3)
    assert ids(experiment="e1") == ({a.id, b.id}, 2)
    assert ids(notebook="a.ipynb") == ({a.id, c.id}, 2)
    assert ids(status="finished") == ({b.id}, 1)
    assert ids(status="running") == ({a.id}, 1)
    assert ids(experiment="e1", notebook="a.ipynb", status="running") == ({a.id}, 1)
    assert ids(experiment="e2", status="running") == (set(), 0)
    assert ids(experiment="nope") == (set(), 0)
    assert ids(notebook="missing.ipynb") == (set(), 0)


def test_search_ordering(store: Store) -> None:
    t0 = 1_700_000_000.0
    specs = [  # name, start offset, duration (None: still running), acc (None: not logged)
        ("bravo", 30, 5.0, 0.9),
        ("alpha", 10, 1.0, math.nan),
        (None, 20, None, 0.7),
        ("charlie", 0, 3.0, None),
    ]
    ids = []
    for name, start, duration, acc in specs:
        run = store.create_run("o", name=name, start_time=t0 + start)
        if acc is not None:
            store.log_metrics(run.id, [point("acc", acc, 0)])
        if duration is not None:
            store.finish_run(run.id, "finished", end_time=t0 + start + duration)
        ids.append(run.id)
    bravo, alpha, unnamed, charlie = ids

    def order(key: str) -> list[str]:
        return [r.id for r in store.search_runs(experiment="o", order=key)[0]]

    assert order("-start_time") == [bravo, unnamed, alpha, charlie]
    assert order("start_time") == order("+start_time") == [charlie, alpha, unnamed, bravo]
    assert order("number") == [bravo, alpha, unnamed, charlie]
    assert order("-number") == [charlie, unnamed, alpha, bravo]
    assert order("name") == [alpha, bravo, charlie, unnamed]  # NULL last both ways
    assert order("-name") == [charlie, bravo, alpha, unnamed]
    assert order("duration") == [alpha, charlie, bravo, unnamed]
    assert order("-duration") == [bravo, charlie, alpha, unnamed]
    # NaN is stored as NULL and sorts with the runs that never logged the metric
    assert order("metrics.acc")[:2] == [unnamed, bravo]
    assert order("-metrics.acc")[:2] == [bravo, unnamed]
    assert set(order("metrics.acc")[2:]) == set(order("-metrics.acc")[2:]) == {alpha, charlie}
    # ties (no such metric anywhere) fall back to the newest first
    assert order("metrics.nothing") == [bravo, unnamed, alpha, charlie]


def test_search_pagination(store: Store) -> None:
    t0 = 1_700_000_000.0
    made = [store.create_run("pg", start_time=t0 + i).id for i in range(7)]
    pages = []
    for offset in (0, 3, 6, 9):
        runs, total = store.search_runs(order="start_time", limit=3, offset=offset)
        assert total == 7
        pages.append([r.id for r in runs])
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [i for p in pages for i in p] == made
    runs, total = store.search_runs(status="running", limit=2)
    assert total == 7 and len(runs) == 2


def test_search_rejects_bad_queries(store: Store) -> None:
    store.create_run("q")
    cases = [
        ({"order": "bogus"}, "cannot order by 'bogus'"),
        ({"order": "-params.lr"}, "metrics.<key>"),
        ({"status": "done"}, "unknown status 'done'"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidQuery, match=message.replace(".", r"\.")) as info:
            store.search_runs(**kwargs)  # type: ignore[arg-type]
        assert isinstance(info.value, ValueError) and isinstance(info.value, StoreError)
    assert store.search_runs(limit=1000, order="-end_time")[1] == 1


# revision, experiments, environments ----------------------------------------------------------


def test_revision_changes_on_every_write(store: Store) -> None:
    seen = [store.revision()]

    def changed() -> None:
        now = store.revision()
        assert now != seen[-1]  # pollers compare with the last revision they saw
        assert store.revision() == now  # stable while nothing happens
        seen.append(now)

    run = store.create_run("r")
    changed()
    other = store.create_run("r")
    changed()
    store.update_run(run.id, note="hello")
    changed()
    store.log_params(run.id, {"a": 1})
    changed()
    store.log_metrics(run.id, [point("m", 1.0, 0)])
    changed()
    store.set_tags(run.id, {"k": "v"})
    changed()
    store.finish_run(run.id, "finished")
    changed()
    store.delete_run(other.id)
    changed()
    store.delete_run(run.id)
    changed()


def test_list_experiments_counts(store: Store) -> None:
    t0 = 1_700_000_000.0
    store.create_run("beta", start_time=t0)
    store.create_run("beta", start_time=t0 + 50)
    store.create_run("alpha", start_time=t0 + 5)
    empty = store.get_or_create_experiment("gamma")
    assert store.get_or_create_experiment("gamma") == empty
    got = {e.name: (e.run_count, e.last_run_at) for e in store.list_experiments()}
    assert got == {"alpha": (1, t0 + 5), "beta": (2, t0 + 50), "gamma": (0, None)}
    assert [e.name for e in store.list_experiments()] == ["alpha", "beta", "gamma"]
    # a second store (another process) sees the same experiment ids
    other = Store(store.url)
    try:
        assert other.get_or_create_experiment("gamma").id == empty.id
    finally:
        other.close()


def test_put_environment_dedupes_by_digest(store: Store) -> None:
    env = Environment("3.11.4", "Linux-x86_64", {"numpy": "2.0", "torch": "2.3"}, "a" * 64)
    first = store.put_environment(env)
    assert store.put_environment(env) == first
    assert store.put_environment(Environment("3.12", "Linux", {}, "a" * 64)) == first
    second = store.put_environment(Environment("3.12", "Linux", {}, "b" * 64))
    assert second != first
    run = store.create_run("env", environment_id=first)
    got = store.get_run_detail(run.id).environment
    assert got is not None and got.id == first
    assert (got.python, got.platform, got.packages, got.digest) == (
        "3.11.4",
        "Linux-x86_64",
        {"numpy": "2.0", "torch": "2.3"},
        "a" * 64,
    )
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM environments")).scalar_one() == 2


# resolving references -------------------------------------------------------------------------


def test_resolve_run_id(store: Store) -> None:
    t0 = 1_700_000_000.0
    e1_1 = store.create_run("e1", start_time=t0)
    e1_2 = store.create_run("e1", start_time=t0 + 1)
    e2_1 = store.create_run("e2", start_time=t0 + 2)

    assert store.resolve_run_id(e1_2.id) == e1_2.id
    assert store.resolve_run_id(f"  {e1_2.id[:10]}  ") == e1_2.id
    assert store.resolve_run_id(e1_2.id[:10].upper()) == e1_2.id
    # a number two experiments have names neither: the message says how to name one
    with pytest.raises(InvalidQuery) as ambiguous:
        store.resolve_run_id("1")
    assert str(ambiguous.value) == (
        "run number 1 is ambiguous: experiments e1, e2 have one; name the experiment "
        "(experiment=… / -e …) or use the run id"
    )
    assert store.resolve_run_id("1", experiment="e1") == e1_1.id
    assert store.resolve_run_id("1", experiment="e2") == e2_1.id
    assert store.resolve_run_id("2") == e1_2.id
    assert store.resolve_run_id("2", experiment="e1") == e1_2.id

    set_columns(store, e1_1.id, id="abcd1111" + "0" * 24)
    set_columns(store, e1_2.id, id="abcd2222" + "0" * 24)
    with pytest.raises(InvalidQuery, match="ambiguous"):
        store.resolve_run_id("abcd")
    assert store.resolve_run_id("abcd2") == "abcd2222" + "0" * 24

    for unknown in ("99", "ffffffff", "ab", "", "____", "%%%%", "²"):
        with pytest.raises(RunNotFound):
            store.resolve_run_id(unknown)
    with pytest.raises(RunNotFound):
        store.resolve_run_id("3", experiment="e1")


# liveness -------------------------------------------------------------------------------------


def test_mark_kernel_runs(store: Store) -> None:
    old1 = store.create_run("k", kernel_id="k1")
    old2 = store.create_run("k", kernel_id="k1")
    done = store.create_run("k", kernel_id="k1")
    store.finish_run(done.id, "finished", end_time=done.start_time + 1)
    other = store.create_run("k", kernel_id="k2")

    assert set(store.mark_kernel_runs("k1")) == {old1.id, old2.id}
    for run_id in (old1.id, old2.id):
        got = store.get_run(run_id)
        assert got.status is RunStatus.CRASHED and got.end_time is not None
    assert store.get_run(done.id).status is RunStatus.FINISHED
    assert store.get_run(done.id).end_time == pytest.approx(done.start_time + 1)
    assert store.get_run(other.id).status is RunStatus.RUNNING
    assert store.mark_kernel_runs("k1") == []

    # a restarted kernel keeps its id: spare what its new process already started
    cutoff = time.time()
    early = store.create_run("k", kernel_id="k2", start_time=cutoff - 5)
    fresh = store.create_run("k", kernel_id="k2", start_time=cutoff + 5)
    closed = store.mark_kernel_runs("k2", RunStatus.INTERRUPTED, started_before=cutoff)
    assert set(closed) == {other.id, early.id}
    assert store.get_run(early.id).status is RunStatus.INTERRUPTED
    assert store.get_run(fresh.id).status is RunStatus.RUNNING


def test_reap_stale_runs(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid is dead on this host
    now = time.time()

    dead_local = store.create_run("s")
    set_columns(store, dead_local.id, pid=child.pid, heartbeat_at=now - 3)
    stale_remote = store.create_run("s")
    set_columns(store, stale_remote.id, host="elsewhere", pid=1, heartbeat_at=now - 1000)
    fresh_remote = store.create_run("s")
    set_columns(store, fresh_remote.id, host="elsewhere", pid=1, heartbeat_at=now - 5)
    live_local = store.create_run("s")  # this very process
    finished = store.create_run("s")
    store.finish_run(finished.id, "finished")
    set_columns(store, finished.id, pid=child.pid)

    assert set(store.reap_stale_runs()) == {dead_local.id, stale_remote.id}
    got = {r.id: r for r in store.search_runs(experiment="s")[0]}
    assert got[dead_local.id].status is RunStatus.CRASHED
    assert got[stale_remote.id].status is RunStatus.CRASHED
    # a crashed run ends at its last sign of life
    assert got[dead_local.id].end_time == pytest.approx(now - 3)
    assert got[stale_remote.id].end_time == pytest.approx(now - 1000)
    assert got[fresh_remote.id].status is RunStatus.RUNNING
    assert got[live_local.id].status is RunStatus.RUNNING
    assert got[finished.id].status is RunStatus.FINISHED
    assert store.reap_stale_runs() == []
    assert store.reap_stale_runs(stale_after=1.0) == [fresh_remote.id]


# concurrency ----------------------------------------------------------------------------------


def _create_concurrently(stores: list[Store], threads: int, per_thread: int) -> list[int]:
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(st: Store) -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                number = st.create_run("race").number
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            else:
                with lock:
                    numbers.append(number)

    workers = [
        threading.Thread(target=work, args=(stores[i % len(stores)],)) for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    return numbers


def test_concurrent_create_run_threads(store: Store) -> None:
    numbers = _create_concurrently([store], threads=6, per_thread=8)
    assert sorted(numbers) == list(range(1, 49))


def test_concurrent_create_run_two_stores(store_url: str) -> None:
    """Like the kernel and another process writing to one database at once."""
    stores = [Store(store_url), Store(store_url)]
    try:
        numbers = _create_concurrently(stores, threads=4, per_thread=12)
    finally:
        for st in stores:
            st.close()
    assert sorted(numbers) == list(range(1, 49))


def test_integrity_errors_are_not_retried_as_number_clashes(store: Store) -> None:
    start = time.monotonic()
    with pytest.raises(Exception, match="(?i)foreign key|violates"):
        store.create_run("fk", environment_id=987654)
    assert time.monotonic() - start < 1.0
    assert store.search_runs()[1] == 0
    assert store.create_run("fk").number == 1


# errors and locations -------------------------------------------------------------------------


def test_unknown_run_raises_run_not_found(store: Store) -> None:
    missing = "0" * 32
    store.create_run("x")
    calls = [
        lambda: store.get_run(missing),
        lambda: store.get_run_detail(missing),
        lambda: store.log_params(missing, {"a": 1}),
        lambda: store.log_metrics(missing, [point("m", 1.0, 0)]),
        lambda: store.set_tags(missing, {"a": "b"}),
        lambda: store.finish_run(missing, "finished"),
        lambda: store.update_run(missing, name="n"),
        lambda: store.delete_run(missing),
    ]
    for call in calls:
        with pytest.raises(RunNotFound) as info:
            call()
        assert isinstance(info.value, LookupError) and missing in str(info.value)
    assert store.search_runs()[1] == 1


def test_store_on_a_file_path_and_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "one" / "runs.db"
    st = Store(str(db))
    try:
        assert st.url == f"sqlite:///{db}" and st.home == db.parent
        st.create_run("x")
    finally:
        st.close()
    assert db.is_file()

    folder = tmp_path / "two"
    st = Store(str(folder))
    try:
        assert st.url == f"sqlite:///{folder / 'mltrack.db'}" and st.home == folder
        st.create_run("x")
    finally:
        st.close()
    assert (folder / "mltrack.db").is_file()

    # the default: MLTRACK_HOME (set for every test by conftest), then MLTRACK_STORE_URL
    st = Store()
    try:
        assert st.home == Path(os.environ[HOME_ENV]).resolve()
    finally:
        st.close()
    monkeypatch.setenv(URL_ENV, str(db))
    assert resolve_store_url() == f"sqlite:///{db}"
    assert resolve_store_url(str(folder)) == f"sqlite:///{folder / 'mltrack.db'}"

    # with neither set: the nearest .mltrack folder up from the working directory
    monkeypatch.delenv(URL_ENV)
    monkeypatch.delenv(HOME_ENV)
    (tmp_path / "proj" / ".mltrack").mkdir(parents=True)
    (tmp_path / "proj" / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj" / "sub" / "deeper")
    assert resolve_store_url() == f"sqlite:///{tmp_path / 'proj' / '.mltrack' / 'mltrack.db'}"
    assert resolve_store_url(start=tmp_path) == f"sqlite:///{tmp_path / '.mltrack' / 'mltrack.db'}"


def test_store_location_of_each_backend(store_url: str) -> None:
    st = Store(store_url)
    try:
        if store_url.startswith("postgresql://"):
            # the psycopg 3 driver we install, not SQLAlchemy's psycopg2 default
            assert st.url == "postgresql+psycopg://" + store_url[len("postgresql://") :]
            assert st.home is None
        else:
            assert st.url == store_url and st.home == Path(store_url[len("sqlite:///") :]).parent
        run = st.create_run("x")
        assert st.get_run(run.id).status is RunStatus.RUNNING
        assert st.search_runs()[1] == 1
    finally:
        st.close()
    assert resolve_store_url("postgresql://u:p@db.example:5432/ml") == (
        "postgresql+psycopg://u:p@db.example:5432/ml"
    )
    assert resolve_store_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_series_are_stored_in_chunks_one_per_flush(store: Store) -> None:
    run = store.create_run("chunks")
    store.log_metrics(
        run.id, [point("a", float(i), i) for i in range(50_000)] + [point("b", 1.0, 0)]
    )
    store.log_metrics(run.id, [point("a", -1.0, 10), point("a", math.inf, 50_000)])
    assert count_rows(store, "metric_chunks", run.id) == 3  # a, b, then a again
    series = store.get_run_detail(run.id).metric_series
    a = series["a"]
    assert len(a) == 50_002 and [p.step for p in a[:3]] == [0, 1, 2]
    assert [p.value for p in a if p.step == 10] == [10.0, -1.0]  # logging order kept
    assert a[-1].value == math.inf and series["b"][0].value == 1.0


def test_a_run_written_through_the_driver_is_stored_as_through_the_engine(
    tmp_path: Path,
) -> None:
    """On SQLite, the hot writes of a run (created, started over, ended without outputs:
    a tracked cell's, a sweep's trial's) run on the DBAPI connection kept for the kernel's
    writes (``store/driver.py``), with the same statements compiled once; PostgreSQL's go
    through the engine. Both must store the same rows: every column of the run, its tags,
    params (typed JSON), data links and metrics; and ``restart_run`` must hand back the run
    as ``get_run`` reads it."""
    from jupyter_mltrack.store.entities import Run

    st = Store(str(tmp_path / "home"))
    try:
        import numpy as np

        from jupyter_mltrack.snapshots.storage import Snapshotter

        snapshotter = Snapshotter(st)
        try:
            jobs = [snapshotter.snapshot(np.arange(n, dtype=float)) for n in (3, 5)]
            for job in jobs:
                job.wait()
        finally:
            snapshotter.close()
        x, y = (job.digest for job in jobs)
        fields = dict(
            name="same",
            notebook_path="nb.ipynb",
            cell_id="c1",
            execution_count=4,
            code="x = 1",
            source="notebook",
            tags={"t": "1", "mltrack.trial": "0"},
            params={"lr": 0.1, "layers": [64, 32], "name": "rf", "on": True, "none": None},
            git_commit="0" * 40,
            git_dirty=True,
            kernel_id="k",
            start_time=1234.5,
            data=[("input", "X", x, None), ("input", "y", y, "/d/y.csv")],
        )
        points = [MetricPoint("loss", 0.5, 0, 1.0), MetricPoint("loss", math.nan, 1, 2.0)]
        ended = dict(
            params={"extra": {"a": 1}},
            metrics=[*points, MetricPoint("acc", 0.9, 0, 3.0)],
            error={"ename": "E", "evalue": "v", "traceback": []},
            end_time=5678.5,
            environment_id=st.put_environment(Environment("3.11", "linux", {}, "e" * 64)),
            git_commit="1" * 40,
            git_dirty=False,
        )

        def rows(run_id: str, skip: set[str]) -> dict[str, list[tuple]]:
            skip = {"id", "number", "updated_at", "heartbeat_at", "created_at", "run_id", *skip}
            out = {}
            with st.engine.connect() as conn:
                for table in (
                    "runs",
                    "params",
                    "tags",
                    "run_data",
                    "metric_chunks",
                    "latest_metrics",
                ):
                    column = "id" if table == "runs" else "run_id"
                    result = conn.execute(
                        text(f"SELECT * FROM {table} WHERE {column} = :r ORDER BY 1, 2, 3"),
                        {"r": run_id},
                    )
                    columns = result.keys()
                    keys = [k for k in columns if k not in skip]
                    out[table] = [tuple(m[k] for k in keys) for m in result.mappings()]
            return out

        def life(fast: bool) -> tuple[str, dict[str, list[tuple]], Run]:
            st._fast_writes = fast
            run = st.create_run("exp", **fields)
            created = rows(run.id, set())
            st.log_metrics(run.id, points)  # what the start over forgets
            again = st.restart_run(run.id, {"lr": 0.2})
            st.finish_run(run.id, RunStatus.FAILED, **ended)
            return run.id, created, again

        fast_id, fast_created, fast_again = life(True)
        engine_id, engine_created, engine_again = life(False)
        assert fast_created == engine_created and len(fast_created["run_data"]) == 2
        assert fast_created["params"] and fast_created["tags"]
        skip = {"start_time"}  # a run started over starts now
        assert rows(fast_id, skip) == rows(engine_id, skip)
        assert rows(fast_id, skip)["metric_chunks"] and rows(fast_id, skip)["latest_metrics"]
        for again in (fast_again, engine_again):
            assert again.params == {"lr": 0.2} and again.metrics == {}
            assert again.tags == fields["tags"] and again.status is RunStatus.RUNNING
        st._fast_writes = True
        again = st.restart_run(fast_id, {"lr": 0.3, "n": [1]})
        assert again == st.get_run(fast_id)
        detail = st.get_run_detail(fast_id)
        assert detail.run.params == {"lr": 0.3, "n": [1]} and detail.run.tags == fields["tags"]
        with pytest.raises(RunNotFound):
            st.finish_run("0" * 32, RunStatus.FINISHED)
        with pytest.raises(RunNotFound):
            st.restart_run("0" * 32)
    finally:
        st.close()


def test_a_run_started_over_keeps_its_id_number_and_tags(store: Store) -> None:
    """``restart_run`` (a sweep's trial run again) forgets an earlier attempt's values in one
    transaction and keeps the run's identity; ``reopen_run`` carries an ended run on;
    ``runs_tagged`` finds runs by a tag."""
    from jupyter_mltrack.store.entities import MetricPoint
    from jupyter_mltrack.store.errors import RunNotFound

    run = store.create_run("exp", source="sweep", tags={"mltrack.sweep": "s"}, params={"lr": 0.1})
    store.finish_run(run.id, RunStatus.CRASHED, metrics=[MetricPoint("loss", 1.0, 0, 1.0)])
    again = store.restart_run(run.id, {"lr": 0.2})
    assert (again.id, again.number, again.tags) == (run.id, run.number, {"mltrack.sweep": "s"})
    assert again.status is RunStatus.RUNNING and again.params == {"lr": 0.2}
    assert again.metrics == {} and store.get_run_detail(run.id).metric_series == {}
    store.finish_run(run.id, RunStatus.FINISHED)
    store.reopen_run(run.id)
    assert store.get_run(run.id).status is RunStatus.RUNNING
    assert [r.id for r in store.runs_tagged("mltrack.sweep", "s")] == [run.id]
    assert store.runs_tagged("mltrack.sweep", "s", source="notebook") == []
    with pytest.raises(RunNotFound):
        store.restart_run("0" * 32)


def run_row(store: Store, run_id: str) -> dict[str, object]:
    """The run's row as stored (its ``updated_at`` and ``heartbeat_at`` included)."""
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM runs WHERE id = :r"), {"r": run_id}).one()
    return dict(row._mapping)


def test_a_superseded_attempts_writes_are_refused_and_the_current_ones_kept(
    store: Store,
) -> None:
    """A sweep's trial handed out again (``restart_run(attempt=…)`` by its driver, another
    process: another store here) while its first attempt still runs: every write of that
    attempt (``writing_as``) from then on is refused whole, its heartbeat too, and the run
    holds only what the new attempt writes; the new attempt, started over by its own worker,
    writes as before (the Dask scheduler running a task again is the same attempt)."""
    from jupyter_mltrack.store.attempts import ATTEMPT_TAG
    from jupyter_mltrack.store.errors import RunSuperseded

    run = store.create_run("exp", source="sweep", tags={ATTEMPT_TAG: "a1"}, params={"lr": 0.1})
    driver, worker = Store(store.url), Store(store.url)
    try:
        with store.writing_as(run.id, "a1") as first:
            store.restart_run(run.id, {"lr": 0.1})  # the first attempt's worker takes it
            store.log_metrics(run.id, [point("loss", 9.0, 0)])
            driver.restart_run(run.id, {"lr": 0.1}, attempt="a2")
            before = run_row(store, run.id)
            refused = [
                lambda: store.log_metrics(run.id, [point("loss", 8.0, 1)]),
                lambda: store.log_params(run.id, {"lr": 5.0}),
                lambda: store.set_tags(run.id, {"by": "orphan"}),
                lambda: store.begin_artifact(run.id, "model", "file"),
                lambda: store.open_artifact(run.id, "model", "file", []),
                lambda: store.abandon_artifact(run.id, "model"),
                lambda: store.add_run_data_many(run.id, [("input", "X", "d" * 32, None)]),
                lambda: store.finish_run(
                    run.id, RunStatus.FINISHED, metrics=[point("acc", 0.1, 0)]
                ),
                lambda: store.restart_run(run.id, {"lr": 5.0}),
            ]
            for write in refused:
                with pytest.raises(RunSuperseded, match="another attempt has it"):
                    write()
            store.heartbeat([run.id])  # quietly not written
            assert first.superseded
        assert run_row(store, run.id) == before  # not a column of it changed
        with worker.writing_as(run.id, "a2") as second:
            worker.restart_run(run.id, {"lr": 0.1})
            worker.log_metrics(run.id, [point("loss", 1.0, 0)])
            worker.finish_run(run.id, RunStatus.FINISHED, metrics=[point("acc", 0.9, 0)])
        assert not second.superseded
        got = store.get_run(run.id)
        assert got.status is RunStatus.FINISHED and got.params == {"lr": 0.1}
        assert got.metrics == {"loss": 1.0, "acc": 0.9} and got.tags == {ATTEMPT_TAG: "a2"}
        assert [p.value for p in store.get_run_detail(run.id).metric_series["loss"]] == [1.0]
        assert store.list_artifacts(run.id) == [] and store.run_data(run.id) == []
        store.log_metrics(run.id, [point("late", 1.0, 0)])  # outside writing_as: not checked
        with store.writing_as(run.id, None) as unchecked:  # a trial run by hand
            store.log_params(run.id, {"by": "hand"})
        assert not unchecked.superseded and store.get_run(run.id).params["by"] == "hand"
    finally:
        driver.close()
        worker.close()


def test_a_superseded_attempt_is_refused_on_the_dbapi_path_as_on_the_engines(
    store: Store,
) -> None:
    """The hot writes of a sweep's trial (``restart_run``, ``finish_run`` without outputs)
    take the kept DBAPI connection on SQLite, the engine otherwise (PostgreSQL, or SQLite
    told so): on each path the driver's ``restart_run(attempt=…)`` hands the run over (the
    run it reads back names the new attempt), and the old attempt's end and restart are
    then refused whole, leaving the new attempt's row as it was, which the new attempt's
    worker then starts over and ends."""
    from jupyter_mltrack.store.attempts import ATTEMPT_TAG
    from jupyter_mltrack.store.errors import RunSuperseded

    tags = {ATTEMPT_TAG: "a1", "mltrack.trial": "0"}
    for fast in [True, False] if store._dialect == "sqlite" else [False]:
        driver, orphan, worker = Store(store.url), Store(store.url), Store(store.url)
        try:
            for st in (driver, orphan, worker):
                st._fast_writes = fast
            run = driver.create_run("exp", source="sweep", tags=tags, params={"lr": 0.1})
            with orphan.writing_as(run.id, "a1") as first:
                orphan.restart_run(run.id, {"lr": 0.1})  # the first attempt's worker
                orphan.log_metrics(run.id, [point("loss", 9.0, 0)])
                again = driver.restart_run(run.id, {"lr": 0.2}, attempt="a2")
                assert again.tags == {**tags, ATTEMPT_TAG: "a2"}, fast
                before = run_row(store, run.id)
                with pytest.raises(RunSuperseded):
                    orphan.finish_run(
                        run.id,
                        RunStatus.FINISHED,
                        params={"lr": 5.0},
                        metrics=[point("acc", 0.1, 0)],
                    )
                with pytest.raises(RunSuperseded):
                    orphan.restart_run(run.id, {"lr": 5.0})
                assert first.superseded
            assert run_row(store, run.id) == before, fast  # not a column of it changed
            got = store.get_run(run.id)
            assert got.status is RunStatus.RUNNING and got.params == {"lr": 0.2}, fast
            assert got.metrics == {} and got.tags == {**tags, ATTEMPT_TAG: "a2"}, fast
            with worker.writing_as(run.id, "a2") as second:
                worker.restart_run(run.id, {"lr": 0.2})
                worker.finish_run(run.id, RunStatus.FINISHED, metrics=[point("acc", 0.9, 0)])
            assert not second.superseded
            got = store.get_run(run.id)
            assert got.status is RunStatus.FINISHED and got.metrics == {"acc": 0.9}, fast
            # the path each took: the kept DBAPI connection is opened by its first write
            assert [st._driver_conn is not None for st in (orphan, worker)] == [fast, fast]
        finally:
            for st in (driver, orphan, worker):
                st.close()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_write_waiting_for_the_restart_that_supersedes_it_is_refused(store_url: str) -> None:
    """On PostgreSQL (READ COMMITTED) a superseded attempt's write that has to wait for the
    restart superseding it (the restart holds the run's row, uncommitted) must see, once the
    restart commits, the attempt it wrote: refused, not written after the restart. (On
    SQLite the database's write lock runs the two one after the other, whole.)"""
    from jupyter_mltrack.store.attempts import ATTEMPT_TAG
    from jupyter_mltrack.store.errors import RunSuperseded

    st, driver = Store(store_url), Store(store_url)
    try:
        run = st.create_run("exp", source="sweep", tags={ATTEMPT_TAG: "a1"})
        outcome: list[BaseException | None] = []
        with (
            driver.engine.connect() as conn,
            driver.engine.connect() as watch,
            st.writing_as(run.id, "a1"),
        ):
            tx = conn.begin()
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            # what restart_run(attempt="a2") does first: the run's row, then its attempt
            conn.execute(text("UPDATE runs SET status = 'running' WHERE id = :r"), {"r": run.id})
            conn.execute(
                text("UPDATE tags SET value = 'a2' WHERE run_id = :r AND key = :k"),
                {"r": run.id, "k": ATTEMPT_TAG},
            )

            def orphan() -> None:
                try:
                    st.log_metrics(run.id, [point("loss", 8.0, 0)])
                    outcome.append(None)
                except BaseException as exc:  # noqa: BLE001 (asserted below)
                    outcome.append(exc)

            writer = threading.Thread(target=orphan)
            writer.start()
            waiting = 0
            while not waiting:  # until the orphan's write is blocked on the run's row
                assert writer.is_alive(), outcome
                time.sleep(0.01)
                waiting = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND pid <> :me AND datname = current_database()"
                    ),
                    {"me": pid},
                ).scalar_one()
                watch.rollback()  # a fresh snapshot of the activity each time
            tx.commit()
            writer.join(timeout=60)
        assert len(outcome) == 1 and isinstance(outcome[0], RunSuperseded), outcome
        assert st.get_run(run.id).metrics == {}
    finally:
        st.close()
        driver.close()


def test_a_sqlite_store_never_loads_postgresqls_dialect(tmp_path: Path) -> None:
    """A sweep's workers and every kernel import the store: PostgreSQL's dialect (about
    20 ms to load) must wait for a PostgreSQL store, through every write a run makes and
    a setting written (``store_settings``, whose upsert is per dialect). The store exists
    already, as a worker's does (creating one runs alembic, which loads every dialect)."""
    Store(str(tmp_path / "st")).close()
    code = (
        "import sys\n"
        "from jupyter_mltrack.store import MetricPoint, Store\n"
        f"s = Store({str(tmp_path / 'st')!r})\n"
        "run = s.create_run('e', name='r', tags={'k': 'v'})\n"
        "s.log_params(run.id, {'a': 1})\n"
        "s.log_metrics(run.id, [MetricPoint('m', 1.0, 0, 0.0)])\n"
        "s.finish_run(run.id, 'finished')\n"
        "s.set_setting('probe', 'x')\n"
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.dialects.postgresql')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
