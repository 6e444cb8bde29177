"""Searching runs with the query language on a real store (SQLite and PostgreSQL): server-side
sorting with missing values last, keyset pages that add up to the whole order, the parent/child
tree, metric summaries under every reducer, groups, keys, the DataFrame of ``search_runs``."""

from __future__ import annotations

import math
import random

import pandas as pd
import pytest

from jupyter_mltrack.query.frame import search_frame
from jupyter_mltrack.query.groups import group_runs
from jupyter_mltrack.query.keys import run_keys
from jupyter_mltrack.query.search import Scope, query_runs
from jupyter_mltrack.store import InvalidQuery, MetricPoint, Store

from .sweep_data import seed_sweep

T0 = 1_790_000_000.0


def pts(key: str, *values: float) -> list[MetricPoint]:
    return [MetricPoint(key, v, i, T0 + i) for i, v in enumerate(values)]


def make(
    store: Store,
    name: str,
    *,
    experiment: str = "e",
    params: dict | None = None,
    metrics: list[MetricPoint] = (),
    tags: dict | None = None,
    parent: str | None = None,
    start: float = T0,
    status: str = "finished",
) -> str:
    run = store.create_run(
        experiment,
        name=name,
        params=params or {},
        tags=tags or {},
        parent_run_id=parent,
        start_time=start,
    )
    store.finish_run(run.id, status, metrics=list(metrics), end_time=start + 10)
    return run.id


@pytest.fixture
def tree(store: Store) -> dict[str, str]:
    """A parent with three children (one a grandparent of its own), two plain runs, and an
    orphan whose parent was deleted."""
    ids = {}
    ids["parent"] = make(store, "parent", params={"lr": 0.1}, start=T0)
    ids["c1"] = make(
        store,
        "c1",
        params={"lr": 0.01},
        metrics=pts("acc", 0.5, 0.9, 0.7),
        parent=ids["parent"],
        start=T0 + 1,
    )
    ids["c2"] = make(
        store,
        "c2",
        params={"lr": "0.001"},
        metrics=pts("acc", 0.6, 0.8),
        parent=ids["parent"],
        start=T0 + 2,
    )
    ids["c3"] = make(
        store, "c3", metrics=pts("loss", 2.0, 0.5, 1.0), parent=ids["parent"], start=T0 + 3
    )
    ids["g1"] = make(store, "g1", metrics=pts("acc", 0.1), parent=ids["c3"], start=T0 + 4)
    ids["plain"] = make(
        store, "plain", params={"lr": 0.5}, metrics=pts("acc", 0.95, 0.2), start=T0 + 5
    )
    ghost = make(store, "ghost", start=T0 + 6)
    ids["orphan"] = make(store, "orphan", parent=ghost, start=T0 + 7)
    store.delete_run(ghost)
    return ids


def names(page) -> list[str]:
    return [r.name for r in page.runs]


def test_order_by_metric_reducer_with_missing_values_last_both_ways(
    store: Store, tree: dict
) -> None:
    up = query_runs(store, order="metrics.acc.max")
    assert names(up)[:4] == ["g1", "c2", "c1", "plain"]  # max: 0.1, 0.8, 0.9, 0.95
    assert set(names(up)[4:]) == {"parent", "c3", "orphan"}  # no acc: last
    down = query_runs(store, order="-metrics.acc.max")
    assert names(down)[:4] == ["plain", "c1", "c2", "g1"]
    assert set(names(down)[4:]) == {"parent", "c3", "orphan"}  # still last
    assert names(query_runs(store, order="-metrics.acc"))[:4] == ["c2", "c1", "plain", "g1"]
    assert names(query_runs(store, order="metrics.loss.min"))[0] == "c3"
    assert names(query_runs(store, order="metrics.acc DESC")) == names(
        query_runs(store, order="-metrics.acc")
    )


def test_keyset_pages_add_up_to_the_whole_order(store: Store) -> None:
    rng = random.Random(7)
    accs: dict[str, list[float]] = {}
    for i in range(37):
        # many ties, some missing, some with two points (so the reducers differ)
        acc = [rng.choice([0.5, 0.7, 0.9]) for _ in range(rng.choice([1, 2]))] if i % 4 else []
        run_id = make(
            store,
            f"r{i}",
            params={"lr": rng.choice([0.1, 0.01, "x"])},
            metrics=pts("acc", *acc),
            start=T0 + rng.randint(0, 5),
        )
        accs[run_id] = acc
    reducers = {"": lambda v: v[-1], ".max": max, ".min": min, ".mean": lambda v: sum(v) / len(v)}
    for order in (
        "-metrics.acc",
        "metrics.acc",
        "metrics.acc.max",
        "-metrics.acc.mean",
        "-metrics.acc.best",
        "metrics.acc.count",
        "start_time",
        "-start_time",
        "name",
        "params.lr",
        "-params.lr",
    ):
        whole = [r.id for r in query_runs(store, order=order, limit=1000).runs]
        assert len(whole) == 37
        reducer = order.lstrip("-").removeprefix("metrics.acc")
        if reducer in reducers or reducer == ".best":  # against Python: missing last, then id
            reduce = reducers.get(reducer, max)  # acc's goal is max
            down = order.startswith("-")
            valued = sorted((reduce(v), k) for k, v in accs.items() if v)
            if down:
                valued.reverse()
            missing = sorted((k for k, v in accs.items() if not v), reverse=down)
            assert whole == [k for _v, k in valued] + missing, order
        seen: list[str] = []
        after = None
        while True:
            page = query_runs(store, order=order, limit=5, after=after, count=False)
            seen += [r.id for r in page.runs]
            if page.next is None:
                break
            after = page.next
        assert seen == whole, order
        by_offset = [
            r.id
            for off in range(0, 37, 5)
            for r in query_runs(store, order=order, limit=5, offset=off).runs
        ]
        assert by_offset == whole, order
        filtered = query_runs(store, 'params.lr != "x"', order=order, limit=1000, offset=3)
        expected = [i for i in whole if store.get_run(i).params["lr"] != "x"][3:]
        assert [r.id for r in filtered.runs] == expected, order


def test_cursors_are_checked(store: Store, tree: dict) -> None:
    page = query_runs(store, order="name", limit=2)
    assert page.next is not None and page.total == 7
    with pytest.raises(InvalidQuery, match="belongs to order 'name'"):
        query_runs(store, order="-name", after=page.next)
    with pytest.raises(InvalidQuery, match="not a cursor"):
        query_runs(store, order="name", after="%%%")
    with pytest.raises(InvalidQuery, match="limit"):
        query_runs(store, limit=0)


def test_roots_parents_and_children_summaries(store: Store, tree: dict) -> None:
    roots = query_runs(store, scope=Scope(roots=True), order="start_time")
    assert names(roots) == ["parent", "plain", "orphan"]  # the orphan's parent is gone
    parent = roots.runs[0]
    kids = roots.children[parent.id]
    assert kids.count == 3
    # best child per reducer, by the metric's goal: acc is maximised, loss minimised
    assert kids.best["acc"]["max"] == 0.9 and kids.best["acc"]["last"] == 0.8
    assert kids.best["loss"]["min"] == 0.5 and kids.best["loss"]["last"] == 1.0
    assert roots.children[tree["plain"]].count == 0
    children = query_runs(store, scope=Scope(parent=tree["parent"]), order="start_time")
    assert names(children) == ["c1", "c2", "c3"]
    assert children.children[tree["c3"]].count == 1
    summary = children.summaries[tree["c1"]]["acc"]
    assert (summary.last, summary.min, summary.max, summary.count) == (0.7, 0.5, 0.9, 3)
    assert math.isclose(summary.mean, 0.7) and summary.best == 0.9
    loss = children.summaries[tree["c3"]]["loss"]
    assert loss.best == 0.5 and children.goals[tree["c3"]]["loss"] == "min"


def test_a_sweep_row_counts_trials_by_status_and_follows_its_goal(store: Store) -> None:
    sweep = seed_sweep(store, experiment="e")
    kids = query_runs(store, scope=Scope(roots=True)).children[sweep.sweep]
    assert kids.count == 8
    assert kids.to_dict()["statuses"] == {"finished": 5, "pruned": 2, "failed": 1}
    assert kids.best["acc"]["last"] == 0.91
    # the sweep's goal decides the best trial, whatever the metric's name suggests
    low = seed_sweep(store, experiment="e", name="low", goal="min", start=T0 + 1000)
    page = query_runs(store, scope=Scope(roots=True))
    assert page.children[low.sweep].best["acc"]["last"] == 0.66
    assert page.goals[low.sweep] == {
        "best.acc": "min",
        "trials.failed": "max",
        "trials.finished": "max",
        "trials.pruned": "max",
    }
    trial = query_runs(store, scope=Scope(parent=sweep.sweep)).children[sweep.trials[0]]
    assert trial.to_dict() == {"count": 0, "best": {}}  # no statuses without children


def test_metric_goal_override_changes_best(store: Store, tree: dict) -> None:
    store.set_metric_goal("e", "acc", "min")
    page = query_runs(store, scope=Scope(parent=tree["parent"]), order="start_time")
    assert page.summaries[tree["c1"]]["acc"].best == 0.5
    roots = query_runs(store, scope=Scope(roots=True), order="start_time")
    assert roots.children[tree["parent"]].best["acc"]["best"] == 0.5


def test_filter_and_scope_together(store: Store, tree: dict) -> None:
    assert names(query_runs(store, "params.lr < 0.05", order="name")) == ["c1", "c2"]
    assert names(query_runs(store, "params.lr < 0.05", scope=Scope(roots=True))) == []
    assert query_runs(store, "metrics.acc.max >= 0.9").total == 2
    assert names(query_runs(store, "c1")) == ["c1"]  # plain words: the name


def test_groups_aggregate_each_metric(store: Store) -> None:
    for seed, (model, acc) in enumerate([("rf", 0.8), ("rf", 0.9), ("rf", 1.0), ("gb", 0.7)]):
        make(
            store,
            f"s{seed}",
            params={"model": model, "seed": seed},
            metrics=pts("acc", acc / 2, acc) + pts("loss", 1 - acc),
        )
    make(store, "none")
    groups = group_runs(store, "params.model", ["acc", "acc.min", "loss"])
    assert [(g.value, g.count) for g in groups] == [("rf", 3), ("gb", 1), (None, 1)]
    rf = groups[0].metrics
    assert rf["acc"].count == 3 and math.isclose(rf["acc"].mean, 0.9)
    assert math.isclose(rf["acc"].std, 0.1) and (rf["acc"].min, rf["acc"].max) == (0.8, 1.0)
    assert math.isclose(rf["acc.min"].mean, 0.45)
    assert groups[1].metrics["acc"].std is None  # one run has no spread
    assert groups[2].metrics["acc"].count == 0 and groups[2].metrics["acc"].mean is None
    best = group_runs(store, "params.model", ["acc.best", "loss.best"])[0].metrics
    assert math.isclose(best["acc.best"].mean, 0.9)  # acc is maximised: its max
    assert math.isclose(best["loss.best"].mean, 0.1)  # loss minimised (one point each)
    store.set_metric_goal("e", "acc", "min")
    assert math.isclose(
        group_runs(store, "params.model", ["acc.best"])[0].metrics["acc.best"].mean, 0.45
    )
    seeds = group_runs(store, "params.seed", ["acc"], filter="params.model = rf")
    assert sorted(g.value for g in seeds) == [0, 1, 2]  # typed values back
    assert [g.count for g in group_runs(store, "status")] == [5]
    with pytest.raises(InvalidQuery, match="cannot group by a metric"):
        group_runs(store, "metrics.acc")


def test_keys_of_a_scope(store: Store, tree: dict) -> None:
    make(
        store,
        "other",
        experiment="f",
        params={"depth": 3},
        metrics=pts("f1", 0.4),
        tags={"stage": "x"},
    )
    assert run_keys(store) == {
        "params": ["depth", "lr"],
        "metrics": ["acc", "f1", "loss"],
        "tags": ["stage"],
    }
    assert run_keys(store, Scope(experiment="e")) == {
        "params": ["lr"],
        "metrics": ["acc", "loss"],
        "tags": [],
    }


def test_search_frame_is_a_row_per_run_with_typed_columns(store: Store, tree: dict) -> None:
    frame = search_frame(store, "params.lr is not null", order_by="-params.lr")
    assert list(frame["name"]) == ["plain", "parent", "c1", "c2"]
    assert frame["params.lr"].tolist() == [0.5, 0.1, 0.01, "0.001"]  # types kept
    assert isinstance(frame["start_time"].dtype, pd.DatetimeTZDtype)
    assert math.isnan(frame.loc[1, "metrics.acc"]) and frame.loc[0, "metrics.acc"] == 0.2
    assert frame.loc[2, "parent_run_id"] == tree["parent"]
    assert frame.loc[0, "duration"] == 10.0
    assert list(frame.columns[:3]) == ["run_id", "number", "experiment"]
    assert len(search_frame(store, max_results=2)) == 2
    assert search_frame(store, experiments=["nope"]).empty
    two = search_frame(store, order_by=["metrics.acc.max DESC", "name"], max_results=3)
    assert list(two["name"]) == ["plain", "c1", "c2"]


def test_nested_api_runs_have_their_parent(store: Store) -> None:
    from jupyter_mltrack.capture import api

    previous = api._store
    api.set_store(store)
    try:
        with api.start_run(name="outer", experiment="n") as outer:
            with api.start_run(name="inner", experiment="n") as inner:
                pass
            with api.start_run(name="alone", experiment="n", nested=False) as alone:
                pass
        api.wait_pending()
    finally:
        api._store = previous
    assert store.get_run(inner.run.id).parent_run_id == outer.run.id
    assert store.get_run(alone.run.id).parent_run_id is None
    assert store.get_run(outer.run.id).parent_run_id is None
