"""A sweep's charts (``compare.charts.sweep``): its optimisation history and what its metric
depends on, read from the sweep's runs, and served as kinds of ``build_chart``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import plotly.graph_objects as go
import pytest

from jupyter_mltrack.compare import UnknownRun
from jupyter_mltrack.compare.charts import (
    ChartArgumentError,
    build_chart,
    figure_json,
    sweep_history_figure,
    sweep_importance_figure,
)
from jupyter_mltrack.compare.charts.sweep import load_sweep, summary_text
from jupyter_mltrack.store import Store

from .sweep_data import PLAN, PlannedTrial, SeededSweep, seed_sweep

#: Run ids of the other runs the module's store holds, by name.
OTHERS: dict[str, str] = {}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, SeededSweep]]:
    """One store for the module (the charts only read): a max sweep, a min sweep, a sweep
    with no finished trial, and a notebook run."""
    store = Store(str(tmp_path_factory.mktemp("sweeps") / "store"))
    sweep = seed_sweep(store)
    OTHERS["loss-search"] = seed_sweep(
        store,
        name="loss-search",
        metric="score",  # a name guessed "max": the sweep's goal must win
        goal="min",
        plan=(
            PlannedTrial("finished", 0.01, 3, (0.5, 0.4)),
            PlannedTrial("finished", 0.02, 4, (0.6, 0.3)),
            PlannedTrial("finished", 0.03, 5, (0.5, 0.45)),
        ),
    ).sweep
    failed = seed_sweep(store, name="all-failed", plan=(PlannedTrial("failed", 0.1, 2, ()),))
    OTHERS["all-failed"] = failed.sweep
    OTHERS["plain"] = store.create_run("sweeps", name="plain").id
    yield store, sweep
    store.close()


def validated(fig: go.Figure) -> dict[str, Any]:
    """Strict JSON that plotly's validators accept (the builders skip validation)."""
    data = figure_json(fig)
    json.dumps(data, allow_nan=False)
    go.Figure(data)
    return data


def traces(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in data["data"]}


def test_load_sweep_reads_definition_and_trials(seeded: tuple[Store, SeededSweep]) -> None:
    store, sweep = seeded
    loaded = load_sweep(store, sweep.sweep)
    assert (loaded.name, loaded.metric, loaded.goal) == ("lr-search", "acc", "max")
    assert loaded.space == ("depth", "lr")  # params come back sorted by name
    assert [t.number for t in loaded.trials] == list(range(len(PLAN)))
    assert [t.run.id for t in loaded.trials] == sweep.trials
    assert loaded.counts() == {"finished": 5, "pruned": 2, "failed": 1}
    best = loaded.best()
    assert best is not None and (best.number, best.value) == (4, 0.91)
    pruned = loaded.trials[3]
    assert (pruned.value, pruned.step) == (0.35, 1)  # its last report, where it stopped
    failed = loaded.trials[2]
    assert failed.error == "ValueError: lr too high: <diverged>"
    assert loaded.trials[0].params == (("depth", "3"), ("lr", "0.01"))
    assert summary_text(loaded) == (
        "8 trials: 5 finished, 2 pruned, 1 failed \u00b7 best 0.91 (trial 4, run #6)"
    )


def test_history_by_status_with_best_so_far(seeded: tuple[Store, SeededSweep]) -> None:
    store, sweep = seeded
    data = validated(sweep_history_figure(store, sweep.sweep))
    by_name = traces(data)
    assert list(by_name) == ["finished", "pruned", "best acc", "failed"]
    finished = by_name["finished"]
    assert finished["x"] == [0, 1, 4, 6, 7]
    assert finished["y"] == [0.72, 0.85, 0.91, 0.89, 0.66]
    assert finished["ids"] == [sweep.trials[i] for i in (0, 1, 4, 6, 7)]
    assert "depth = 3<br>lr = 0.01" in finished["text"][0]
    pruned = by_name["pruned"]
    assert (pruned["x"], pruned["y"]) == ([3, 5], [0.35, 0.2])
    assert "acc = 0.35 at step 1" in pruned["text"][0]
    assert pruned["marker"]["symbol"] != finished["marker"]["symbol"]
    best = by_name["best acc"]
    assert best["line"]["shape"] == "hv"
    assert (best["x"], best["y"]) == ([0, 1, 4, 6, 7], [0.72, 0.85, 0.91, 0.91, 0.91])
    # the failed trial: a cross on the x axis (the hidden 0..1 axis), its error in the hover
    failed = by_name["failed"]
    assert (failed["x"], failed["y"], failed["yaxis"]) == ([2], [0], "y2")
    assert data["layout"]["yaxis2"]["range"] == [0, 1]
    assert "ValueError: lr too high: &lt;diverged&gt;" in failed["text"][0]
    title = data["layout"]["title"]["text"]
    assert title.startswith("Optimization history of lr-search: acc (max)")
    assert "8 trials: 5 finished, 2 pruned, 1 failed" in title


def test_a_min_sweep_follows_its_goal(seeded: tuple[Store, SeededSweep]) -> None:
    store, _ = seeded
    data = validated(build_chart(store, "sweep_history", {"sweep": OTHERS["loss-search"]}))
    best = traces(data)["best score"]
    assert best["y"] == [0.4, 0.3, 0.3]  # lowest so far, though "score" reads as a max
    assert "score (min)" in data["layout"]["title"]["text"]


def test_a_sweep_without_values(seeded: tuple[Store, SeededSweep]) -> None:
    store, _ = seeded
    run = OTHERS["all-failed"]
    data = validated(sweep_history_figure(store, run))
    assert list(traces(data)) == ["failed"]
    assert data["layout"]["yaxis"]["showticklabels"] is False
    importance = validated(sweep_importance_figure(store, run))
    assert not importance["data"]
    assert "No finished trial has acc yet." in importance["layout"]["annotations"][0]["text"]


def test_importance_over_the_finished_trials(seeded: tuple[Store, SeededSweep]) -> None:
    store, sweep = seeded
    data = validated(sweep_importance_figure(store, sweep.sweep))
    title = data["layout"]["title"]["text"]
    assert title == "What acc depends on in lr-search (5 finished trials)"
    bars = traces(data)
    assert set(bars) == {"importance", "correlation"}  # 5 trials: the forest too
    assert sorted(bars["correlation"]["y"]) == ["depth", "lr"]  # n_estimators never varies
    assert set(bars["correlation"]["customdata"]) == {5}  # finished trials only


def test_build_chart_sweep_kinds_and_refusals(seeded: tuple[Store, SeededSweep]) -> None:
    store, sweep = seeded
    number = store.get_run(sweep.sweep).number
    by_number = build_chart(store, "sweep_history", {"sweep": str(number), "experiment": "sweeps"})
    assert traces(validated(by_number))["finished"]["ids"][0] == sweep.trials[0]
    prefix = build_chart(store, "sweep_importance", {"sweep": sweep.sweep[:8]})
    assert "lr-search" in validated(prefix)["layout"]["title"]["text"]
    with pytest.raises(ChartArgumentError, match="needs sweep: the sweep's run"):
        build_chart(store, "sweep_history", {})
    with pytest.raises(ChartArgumentError, match="does not take runs"):
        build_chart(store, "sweep_history", {"sweep": sweep.sweep, "runs": "1"})
    trial = store.get_run(sweep.trials[3])
    with pytest.raises(ChartArgumentError, match="is trial 3 of sweep 'lr-search'"):
        build_chart(store, "sweep_history", {"sweep": trial.id})
    with pytest.raises(ChartArgumentError, match="is not a sweep"):
        build_chart(store, "sweep_importance", {"sweep": OTHERS["plain"]})
    with pytest.raises(UnknownRun):
        build_chart(store, "sweep_history", {"sweep": "f" * 32})


def test_store_run_errors(seeded: tuple[Store, SeededSweep]) -> None:
    store, sweep = seeded
    errors = store.run_errors([*sweep.trials, "f" * 32])
    assert list(errors) == [sweep.trials[2]]  # only the run that recorded one
    assert errors[sweep.trials[2]]["ename"] == "ValueError"
    assert store.run_errors([]) == {}
