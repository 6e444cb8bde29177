"""Series reading, downsampling and smoothing (``compare.series``) and the comparison charts
(``compare.charts``), on a real SQLite store (series reading on PostgreSQL too)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest
from sqlalchemy import event

from jupyter_mltrack.compare import CompareError, UnknownMetric, UnknownRun
from jupyter_mltrack.compare.charts import (
    ChartArgumentError,
    ChartRun,
    UnknownExperiment,
    UnknownParam,
    bars_figure,
    build_chart,
    curves_figure,
    curves_from_series,
    figure_json,
    groups_figure,
    importance_figure,
    parallel_figure,
    parallel_from_runs,
    run_color,
    scatter_from_runs,
    varying_params,
)
from jupyter_mltrack.compare.series import SeriesArrays, downsample, ema, read_series
from jupyter_mltrack.store import MetricPoint, Store

T0 = 1_700_000_000.0


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'store' / 'mltrack.db'}")
    yield st
    st.close()


def pts(key: str, values: Any, steps: Any = None, t0: float = T0) -> list[MetricPoint]:
    values = list(values)
    steps = list(range(len(values))) if steps is None else list(steps)
    return [
        MetricPoint(key, float(v), int(s), t0 + 0.5 * i)
        for i, (v, s) in enumerate(zip(values, steps, strict=True))
    ]


def make_run(
    store: Store,
    experiment: str = "exp",
    params: dict[str, Any] | None = None,
    series: dict[str, Any] | None = None,
    start: float = T0,
) -> str:
    run = store.create_run(experiment, params=params or {}, start_time=start)
    for key, values in (series or {}).items():
        store.log_metrics(run.id, pts(key, values, t0=start + 1.0))
    store.finish_run(run.id, "finished")
    return run.id


def arrays(values: Any, steps: Any = None) -> SeriesArrays:
    v = np.asarray(values, dtype=np.float64)
    s = np.arange(v.size, dtype=np.int64) if steps is None else np.asarray(steps, np.int64)
    return SeriesArrays(s, v, T0 + s.astype(np.float64))


def validated(fig: go.Figure) -> dict[str, Any]:
    """The figure's JSON, checked the strict way: JSON without NaN, and accepted by
    plotly's validators (which the builders skip for speed)."""
    data = figure_json(fig)
    json.dumps(data, allow_nan=False)
    go.Figure(data)  # raises on any invalid property or value
    return data


# reading series -------------------------------------------------------------------------------


def test_read_series_round_trip(store: Store) -> None:
    a = store.create_run("exp")
    # two flushes: the second logs earlier steps, NaN, ±inf and a repeated step
    store.log_metrics(a.id, pts("loss", [3.0, math.nan, 1.0], [10, 11, 12]))
    store.log_metrics(a.id, pts("loss", [math.inf, -math.inf, 7.0], [0, 11, 13], t0=T0 + 50))
    store.log_metrics(a.id, pts("acc", [0.5, 0.6]))
    b = make_run(store, series={"acc": [0.1, 0.2, 0.3]})
    empty = make_run(store)

    got = read_series(store, [a.id, b, empty])
    assert set(got) == {a.id, b}  # a run without series is left out
    loss = got[a.id]["loss"]
    assert loss.steps.dtype == np.int64 and loss.values.dtype == np.float64
    assert loss.steps.tolist() == [0, 10, 11, 11, 12, 13]
    # equal steps stay in logging order: NaN (first flush) before -inf (second)
    assert math.isnan(loss.values[2]) and loss.values[3] == -math.inf
    assert loss.values[0] == math.inf and loss.values[-1] == 7.0
    # the same as the store's own decoder, NaN and timestamps included
    detail = store.get_run_detail(a.id).metric_series
    for key in ("loss", "acc"):
        expected = detail[key]
        s = got[a.id][key]
        assert s.steps.tolist() == [p.step for p in expected]
        assert s.timestamps.tolist() == [p.timestamp for p in expected]
        np.testing.assert_array_equal(s.values, [p.value for p in expected])
    assert got[b]["acc"].values.tolist() == [0.1, 0.2, 0.3]

    only = read_series(store, [a.id, b], ["acc"])
    assert {r: list(s) for r, s in only.items()} == {a.id: ["acc"], b: ["acc"]}
    assert read_series(store, [a.id], []) == {}


def test_read_series_is_one_query(sqlite_store: Store) -> None:
    ids = [make_run(sqlite_store, series={f"m{k}": range(5) for k in range(3)}) for _ in range(4)]
    statements: list[str] = []
    event.listen(
        sqlite_store.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: statements.append(statement),
    )
    got = read_series(sqlite_store, ids, ["m0", "m2"])
    assert len(statements) == 1 and "metric_chunks" in statements[0]
    assert all(list(got[i]) == ["m0", "m2"] for i in ids)


# downsampling ---------------------------------------------------------------------------------


def test_downsample_keeps_a_single_spike() -> None:
    values = np.sin(np.linspace(0, 20, 100_000))
    values[61_803] = 50.0
    values[31_415] = -50.0
    s = downsample(arrays(values), 2000)
    assert s.size <= 2000
    assert 50.0 in s.values and -50.0 in s.values
    assert 61_803 in s.steps and 31_415 in s.steps
    # first and last kept, in step order, values still paired with their steps
    assert s.steps[0] == 0 and s.steps[-1] == 99_999
    assert (np.diff(s.steps) > 0).all()
    np.testing.assert_array_equal(s.values, values[s.steps])
    np.testing.assert_array_equal(s.timestamps, T0 + s.steps)


@pytest.mark.parametrize("n", [5, 6, 7, 99, 100, 101, 1001, 9_999, 100_000])
@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 6, 7, 10, 99, 2000])
def test_downsample_never_exceeds_max_points(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 31 + m)
    values = rng.normal(size=n)
    s = downsample(arrays(values), m)
    assert s.size <= m
    if n <= m:
        assert s.size == n
    else:
        assert s.steps[-1] == n - 1  # the latest value is always drawn
        if m >= 4:
            # the extremes of the whole series survive any reduction
            assert values.max() in s.values and values.min() in s.values
            assert s.steps[0] == 0
    # buckets cover the series evenly: more points asked, (about) more points given
    if n > 2000 and m == 2000:
        assert s.size >= 0.9 * m - 2


def test_downsample_leaves_short_series_alone() -> None:
    s = arrays([1.0, 2.0, 3.0])
    assert downsample(s, 3) is s
    assert downsample(s, 2000) is s
    with pytest.raises(ValueError, match="at least 1"):
        downsample(s, 0)


def test_downsample_nan() -> None:
    values = np.arange(1000, dtype=np.float64)
    values[100:300] = np.nan  # a gap as wide as several buckets
    values[500] = np.nan
    values[700] = 5000.0
    s = downsample(arrays(values), 50)
    assert s.size <= 50
    assert 5000.0 in s.values  # a NaN beside it does not hide the spike
    inside_gap = s.values[(s.steps >= 100) & (s.steps < 300)]
    assert inside_gap.size and np.isnan(inside_gap).all()  # the gap stays a gap
    assert not np.isnan(s.values[s.steps == 500]).any()  # a lone NaN is just skipped


# smoothing ------------------------------------------------------------------------------------


def ema_reference(values: Any, weight: float) -> list[float]:
    """TensorBoard's smoothing, point by point."""
    last, n, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight**n))
    return out


def test_ema_small_case() -> None:
    np.testing.assert_allclose(ema(np.array([1.0, 2.0, 3.0]), 0.5), [1.0, 5 / 3, 2.125 / 0.875])


@pytest.mark.parametrize("weight", [0.0, 0.01, 0.3, 0.5, 0.6, 0.9, 0.99])
@pytest.mark.parametrize("n", [1, 2, 70, 3000, 70_000])
def test_ema_matches_the_recursion(weight: float, n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.normal(size=n) * 1e3 + 7.0
    if n > 10:
        values[[3, 5, 8]] = [math.nan, math.inf, -math.inf]
    got = ema(values, weight)
    np.testing.assert_allclose(got, ema_reference(values, weight), rtol=1e-9, atol=1e-9)
    assert np.isnan(got[3]) if n > 10 else True
    if n > 10:
        assert got[5] == math.inf and got[8] == -math.inf


def test_ema_rejects_weights_out_of_range() -> None:
    for weight in (-0.1, 1.0, 2.0):
        with pytest.raises(ValueError, match="between 0 and 0.99"):
            ema(np.ones(3), weight)


# curves ---------------------------------------------------------------------------------------


@pytest.fixture
def two_runs(sqlite_store: Store) -> tuple[Store, list[str]]:
    a = make_run(sqlite_store, series={"loss": [4.0, 2.0, 1.0], "acc": [0.1, 0.5, 0.9]})
    b = make_run(sqlite_store, series={"loss": [5.0, 3.0, 2.0, 1.5]}, start=T0 + 100)
    return sqlite_store, [a, b]


def test_curves_panels_traces_and_colours(two_runs: tuple[Store, list[str]]) -> None:
    store, (a, b) = two_runs
    fig = curves_figure(store, [b, a])  # b is first: it gets the first colour
    data = validated(fig)
    layout = data["layout"]
    assert [t["text"] for t in layout["annotations"]] == ["acc", "loss"]
    assert "xaxis2" in layout and "yaxis2" in layout and "xaxis3" not in layout
    traces = data["data"]
    assert [(t["name"], t["yaxis"]) for t in traces] == [("#1", "y"), ("#2", "y2"), ("#1", "y2")]
    colors = {t["name"]: t["line"]["color"] for t in traces}
    assert colors == {"#2": run_color(0), "#1": run_color(1)}
    # one legend entry per run; its legend group hides it in every panel
    assert [t["showlegend"] for t in traces] == [True, True, False]
    assert {t["legendgroup"] for t in traces if t["name"] == "#1"} == {a}
    assert traces[1]["y"] == [5.0, 3.0, 2.0, 1.5] and traces[1]["x"] == [0, 1, 2, 3]
    assert "#2 and #1" in layout["title"]["text"]
    assert layout.get("yaxis", {}).get("type") != "log"

    only = validated(curves_figure(store, [a, b], ["loss"], log_y=True))
    assert len(only["data"]) == 2 and "xaxis2" not in only["layout"]
    assert only["layout"]["yaxis"]["type"] == "log"


def test_curves_x_relative_and_wall(two_runs: tuple[Store, list[str]]) -> None:
    store, (a, b) = two_runs
    rel = validated(curves_figure(store, [a, b], ["loss"], x="relative"))
    # logged from one second after the start, every half second
    assert rel["data"][1]["x"] == [1.0, 1.5, 2.0, 2.5]
    assert "seconds since the run started" in rel["layout"]["xaxis"]["title"]["text"]
    wall = validated(curves_figure(store, [a, b], ["loss"], x="wall"))
    assert wall["layout"]["xaxis"]["type"] == "date"
    assert wall["data"][1]["x"][0] == (T0 + 101.0) * 1000  # epoch milliseconds


def test_curves_smoothing_draws_raw_faded_behind(two_runs: tuple[Store, list[str]]) -> None:
    store, (a, _b) = two_runs
    data = validated(curves_figure(store, [a], ["loss"], smoothing=0.5))
    raw, smooth = data["data"]
    assert raw["y"] == [4.0, 2.0, 1.0] and raw["showlegend"] is False
    assert raw["hoverinfo"] == "skip" and raw["line"]["color"].startswith("rgba(")
    np.testing.assert_allclose(smooth["y"], ema_reference([4.0, 2.0, 1.0], 0.5))
    assert smooth["line"]["color"] == run_color(0) and smooth["showlegend"] is True
    # with several runs every raw curve is drawn behind every smoothed one
    both = validated(curves_figure(store, two_runs[1], smoothing=0.9))
    faded = [t.get("hoverinfo") == "skip" for t in both["data"]]
    assert faded == [True] * 3 + [False] * 3


def test_curves_downsample_long_series(sqlite_store: Store) -> None:
    values = np.zeros(10_000)
    values[4321] = 99.0
    run = make_run(sqlite_store, series={"loss": values})
    data = validated(curves_figure(sqlite_store, [run], max_points=500))
    trace = data["data"][0]
    assert len(trace["y"]) <= 500 and 99.0 in trace["y"] and 4321 in trace["x"]


def test_curves_from_plain_data_and_errors() -> None:
    run = ChartRun("r1", "#1", {}, {"loss": 1.0})
    series = {"r1": {"loss": arrays([3.0, math.nan, 1.0])}}
    data = validated(curves_from_series([run], series))
    assert data["data"][0]["y"] == [3.0, None, 1.0]  # NaN is a gap, JSON null
    with pytest.raises(UnknownMetric, match="loss"):
        curves_from_series([run], series, ["acc"])
    with pytest.raises(ChartArgumentError, match="x must be one of step, relative, wall"):
        curves_from_series([run], series, x="time")
    with pytest.raises(ChartArgumentError, match="smoothing must be between 0 and 0.99"):
        curves_from_series([run], series, smoothing=1.5)
    empty = validated(curves_from_series([run], {}))
    assert "No metric series" in empty["layout"]["annotations"][0]["text"]


# parallel coordinates -------------------------------------------------------------------------


def chart_run(i: int, params: dict[str, Any], metrics: dict[str, float]) -> ChartRun:
    return ChartRun(f"id{i}", f"#{i}", params, metrics)


def dims(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["label"]: d for d in data["data"][0]["dimensions"]}


def test_parallel_default_axes_are_the_varying_params() -> None:
    runs = [
        chart_run(1, {"lr": 0.1, "batch": 32, "model": "rf", "opt.m": 0.9}, {"acc": 0.8}),
        chart_run(2, {"lr": 0.01, "batch": 32, "model": "svm", "opt.m": 0.9}, {"acc": 0.9}),
        chart_run(3, {"lr": 0.0001, "batch": 32, "model": "rf"}, {"acc": 0.7, "loss": 1.0}),
    ]
    assert varying_params(runs) == ["lr", "model", "opt.m"]
    data = validated(parallel_from_runs(runs))
    d = dims(data)
    assert list(d) == ["lr", "model", "opt.m", "acc"]  # batch is constant: no axis
    # a categorical parameter: ticks 0..k-1 labelled with its values
    assert d["model"]["values"] == [0, 1, 0]
    assert d["model"]["tickvals"] == [0, 1] and d["model"]["ticktext"] == ["rf", "svm"]
    # lr spans three decades: log scale, ticks in lr's units
    assert d["lr"]["values"] == pytest.approx([-1.0, -2.0, -4.0])
    assert d["lr"]["ticktext"] == ["0.0001", "0.001", "0.01", "0.1"]
    # a run without the parameter sits on an n/a tick below the range, not at 0
    m = d["opt.m"]
    assert m["ticktext"][0] == "n/a" and m["values"][2] == m["tickvals"][0] < 0.9
    assert m["range"][0] == m["tickvals"][0]
    # coloured by acc (the metric most runs logged), bright is better
    line = data["data"][0]["line"]
    assert line["color"] == [0.8, 0.9, 0.7] and line["colorbar"]["title"]["text"] == "acc (max)"
    assert line["colorscale"][-1][1] == "#fde725"


def test_log_axes_only_for_values_spread_in_log_space() -> None:
    rng = np.random.default_rng(0)
    runs = [
        chart_run(i, {"lr": 10 ** rng.uniform(-5, -1), "dropout": rng.uniform(0, 0.5)}, {})
        for i in range(200)
    ]
    runs[0].params["dropout"] = 1e-4  # three decades below the top, but not log-spread
    d = dims(validated(parallel_from_runs(runs)))
    assert "tickvals" in d["lr"] and max(d["lr"]["values"]) < 0  # log10 of the values
    assert "tickvals" not in d["dropout"] and max(d["dropout"]["values"]) > 0.4
    x_lr = validated(scatter_from_runs(runs, x="params.lr", y="params.dropout"))
    assert x_lr["layout"]["xaxis"]["type"] == "log"
    assert x_lr["layout"]["yaxis"].get("type") != "log"


def test_parallel_choices_and_errors() -> None:
    runs = [
        chart_run(1, {"lr": 0.1, "depth": None}, {"loss": 0.5}),
        chart_run(2, {"lr": 0.2, "depth": 5}, {}),
        chart_run(3, {"lr": 0.3, "depth": 10}, {"loss": 0.2, "acc": 1.0}),
    ]
    data = validated(parallel_from_runs(runs, params=["depth"], metrics=["acc", "loss"]))
    d = dims(data)
    assert list(d) == ["depth", "acc", "loss"]
    # mixed None and numbers: categories, numbers first in numeric order
    assert d["depth"]["ticktext"] == ["5", "10", "None"] and d["depth"]["values"] == [2, 0, 1]
    # loss is minimised: the scale is reversed; run 2 has no loss: grey, below the scale
    line = data["data"][0]["line"]
    assert line["colorbar"]["title"]["text"] == "loss (min)"
    assert line["colorscale"][0][1] == line["colorscale"][1][1] == "#b0b0b0"
    assert line["color"][1] < line["cmin"] + 1e-9 < min(line["color"][0], line["color"][2])
    assert line["colorscale"][-1][1] == "#fde725" or line["colorscale"][-1][1] == "#440154"
    with pytest.raises(UnknownParam, match="'nope'.*depth, lr"):
        parallel_from_runs(runs, params=["nope"])
    with pytest.raises(UnknownMetric, match="'f1'"):
        parallel_from_runs(runs, color="f1")
    same = [chart_run(i, {"lr": 0.1}, {}) for i in range(3)]
    empty = validated(parallel_from_runs(same))
    assert "No parameter varies" in empty["layout"]["annotations"][0]["text"]


def test_parallel_over_an_experiment(sqlite_store: Store) -> None:
    for i in range(6):
        make_run(
            sqlite_store,
            "sweep",
            params={"lr": 10.0**-i, "model": {"kind": ["rf", "gb"][i % 2], "depth": 3}},
            series={"acc": [0.1 * i]},
        )
    make_run(sqlite_store, "other", params={"lr": 5.0})
    fig = build_chart(sqlite_store, "parallel", {"experiments": "sweep"})
    data = validated(fig)
    assert len(data["data"][0]["dimensions"][0]["values"]) == 6
    assert list(dims(data)) == ["lr", "model.kind", "acc"]  # nested params flattened
    assert "6 runs of sweep" in data["layout"]["title"]["text"]
    # experiment=NAME is also taken for a chart over experiments
    again = figure_json(build_chart(sqlite_store, "parallel", {"experiment": "sweep"}))
    assert again["data"] == data["data"]
    named = validated(parallel_figure(sqlite_store, runs=["1", "2"], experiment="sweep"))
    assert "#1 and #2" in named["layout"]["title"]["text"]


# scatter, bars, importance --------------------------------------------------------------------


def test_scatter() -> None:
    runs = [
        chart_run(1, {"lr": 0.1, "model": "rf"}, {"acc": 0.8}),
        chart_run(2, {"lr": 0.01, "model": "svm"}, {"acc": 0.9}),
        chart_run(3, {"model": "rf"}, {"acc": 0.7}),
    ]
    data = validated(scatter_from_runs(runs, x="params.lr", y="metrics.acc"))
    (trace,) = data["data"]
    assert trace["x"] == [0.1, 0.01] and trace["y"] == [0.8, 0.9]
    assert trace["text"] == ["#1", "#2"]
    assert trace["marker"]["color"] == [run_color(0), run_color(1)]
    assert "1 run without lr or acc not shown" in data["layout"]["annotations"][0]["text"]
    cat = validated(scatter_from_runs(runs, x="params.model", y="metrics.acc", log_y=True))
    assert cat["layout"]["xaxis"]["type"] == "category"
    assert cat["layout"]["xaxis"]["categoryarray"] == ["rf", "svm"]
    assert cat["layout"]["yaxis"]["type"] == "log"
    assert cat["data"][0]["x"] == ["rf", "svm", "rf"]
    with pytest.raises(ChartArgumentError, match="params.NAME or metrics.NAME"):
        scatter_from_runs(runs, x="lr", y="metrics.acc")
    with pytest.raises(UnknownMetric, match="'f1'"):
        scatter_from_runs(runs, x="params.lr", y="metrics.f1")


COMPARISON = {
    "baseline": "a",
    "runs": [
        {"id": "a", "number": 3, "label": "#3"},
        {"id": "b", "number": 5, "label": "#5"},
        {"id": "c", "number": 7, "label": "#7"},
    ],
    "metrics": [
        {
            "key": "acc",
            "reducer": "last",
            "goal": "max",
            "values": [0.9, 0.95, None],
            "changes": [None, 0.05, None],
            "pct_changes": [None, 5.6, None],
            "verdicts": [None, "better", None],
        },
        {
            "key": "loss",
            "reducer": "min",
            "goal": "min",
            "values": [0.3, 0.2, 0.4],
            "changes": [None, -0.1, 0.1],
            "pct_changes": [None, -33.3, 33.3],
            "verdicts": [None, "better", "worse"],
        },
        {"key": "unlogged", "reducer": "last", "values": [None, None, None]},
    ],
}


def test_bars_from_a_comparison_dict() -> None:
    data = validated(bars_figure(COMPARISON))
    assert [t["name"] for t in data["data"]] == ["acc", "loss"]  # empty metrics left out
    acc, loss = data["data"]
    assert acc["x"] == ["#3", "#5", "#7"] and acc["y"] == [0.9, 0.95, None]
    assert acc["marker"]["color"] == [run_color(i) for i in range(3)]
    assert "+0.05 vs baseline (+5.6%), better" in acc["customdata"][1]
    assert loss["customdata"][0] == "" and loss["xaxis"] == "x2"
    titles = [a["text"] for a in data["layout"]["annotations"]]
    assert titles == ["acc (last, max)", "loss (min, min)"]
    only = validated(bars_figure(COMPARISON, ["loss"]))
    assert [t["name"] for t in only["data"]] == ["loss"]
    with pytest.raises(UnknownMetric, match="'f1'"):
        bars_figure(COMPARISON, ["f1"])


def test_importance_figure() -> None:
    imp = {
        "experiments": ["exp"],
        "metric": "acc",
        "runs": 50,
        "sklearn": True,
        "params": [
            {"key": "lr", "spearman": -0.8, "rf_importance": 0.6, "runs": 50},
            {"key": "depth", "spearman": 0.3, "rf_importance": 0.3, "runs": 48},
            {"key": "seed", "spearman": None, "rf_importance": 0.1, "runs": 50},
        ],
    }
    data = validated(importance_figure(imp))
    rf, corr = data["data"]
    assert rf["y"] == ["lr", "depth", "seed"] and rf["x"] == [0.6, 0.3, 0.1]
    assert corr["x"] == [-0.8, 0.3, None]
    assert corr["marker"]["color"][:2] == ["#d62728", "#2ca02c"]  # falls, rises
    assert data["layout"]["yaxis"]["autorange"] == "reversed"  # strongest on top
    assert "50 runs of exp" in data["layout"]["title"]["text"]
    without = validated(importance_figure({**imp, "sklearn": False}))
    assert [t["name"] for t in without["data"]] == ["correlation"]
    assert "scikit-learn is not installed" in without["layout"]["annotations"][-1]["text"]


# build_chart ----------------------------------------------------------------------------------


def test_build_chart_takes_query_strings(two_runs: tuple[Store, list[str]]) -> None:
    store, (a, b) = two_runs
    fig = build_chart(
        store,
        "curves",
        {"runs": f"{a},{b}", "metrics": "loss", "smoothing": "0.6", "log": "true", "x": "step"},
    )
    data = validated(fig)
    assert len(data["data"]) == 4 and data["layout"]["yaxis"]["type"] == "log"
    # numbers in an experiment, and id prefixes, name runs too
    by_number = figure_json(
        build_chart(store, "curves", {"runs": ["1", b[:8]], "experiment": "exp"})
    )
    assert {t["legendgroup"] for t in by_number["data"]} == {a, b}
    scatter = validated(
        build_chart(store, "scatter", {"runs": [a, b], "x": "metrics.loss", "y": "metrics.loss"})
    )
    assert scatter["data"][0]["x"] == [1.0, 1.5]


def test_build_chart_errors(two_runs: tuple[Store, list[str]]) -> None:
    store, (a, b) = two_runs
    cases: list[tuple[str, dict[str, Any], type, str]] = [
        ("pie", {"runs": [a]}, ChartArgumentError, "kind must be one of curves, parallel"),
        ("curves", {}, ChartArgumentError, "curves chart needs runs"),
        ("curves", {"runs": [a], "color": "acc"}, ChartArgumentError, "does not take color"),
        ("curves", {"runs": [a], "smoothing": "abc"}, ChartArgumentError, "smoothing must be"),
        ("curves", {"runs": [a], "smoothing": 1.0}, ChartArgumentError, "between 0 and 0.99"),
        ("curves", {"runs": [a], "x": "time"}, ChartArgumentError, "step, relative, wall"),
        ("curves", {"runs": [a], "log": "maybe"}, ChartArgumentError, "log must be true or"),
        ("curves", {"runs": [a], "max_points": 1}, ChartArgumentError, "max_points must be"),
        ("curves", {"runs": [a], "metrics": "f1"}, UnknownMetric, "they have: acc, loss"),
        ("curves", {"runs": [a, a[:6]]}, ChartArgumentError, "name the same run"),
        ("curves", {"runs": ["ffffffffff"]}, UnknownRun, "no run 'ffffffffff'"),
        ("parallel", {}, ChartArgumentError, r"runs \(named runs\) or experiments"),
        ("parallel", {"runs": [a], "experiments": "exp"}, ChartArgumentError, "not both"),
        ("parallel", {"experiments": "nope"}, UnknownExperiment, "no experiment 'nope'"),
        ("scatter", {"runs": [a], "x": "params.lr"}, ChartArgumentError, "needs y=params.NAME"),
        ("bars", {"runs": [a]}, ChartArgumentError, "at least 2"),
        ("importance", {"experiments": "exp"}, ChartArgumentError, "needs metric"),
        ("importance", {"metric": "acc"}, ChartArgumentError, "over runs or experiments"),
    ]
    for kind, args, error, message in cases:
        with pytest.raises(error, match=message):
            build_chart(store, kind, args)
    # every refusal is a CompareError (the API's 400/404), unknown names LookupErrors (404)
    assert issubclass(ChartArgumentError, CompareError)
    assert issubclass(UnknownExperiment, LookupError) and issubclass(UnknownRun, LookupError)


def test_build_chart_bars_and_importance(sqlite_store: Store) -> None:
    ids = [
        make_run(sqlite_store, "sweep", {"lr": 0.1 * (i + 1)}, {"acc": [0.5 + 0.01 * i]})
        for i in range(6)
    ]
    bars = validated(build_chart(sqlite_store, "bars", {"runs": ids[:3]}))
    assert bars["data"][0]["x"] == ["#1", "#2", "#3"]
    assert bars["data"][0]["y"] == pytest.approx([0.5, 0.51, 0.52])
    imp = validated(
        build_chart(sqlite_store, "importance", {"experiments": "sweep", "metric": "acc"})
    )
    assert imp["data"][-1]["y"] == ["lr"] and imp["data"][-1]["x"][0] == pytest.approx(1.0)
    # over the runs of a comparison (the compare view's chart), not the whole experiment
    some = validated(build_chart(sqlite_store, "importance", {"runs": ids[1:], "metric": "acc"}))
    assert some["data"][-1]["y"] == ["lr"]
    assert "5 runs" in str(some["layout"]), some["layout"].get("title")


# figure_json ----------------------------------------------------------------------------------


def test_figure_json_is_strict_json_plotly_accepts() -> None:
    fig = go.Figure(
        {
            "data": [
                {
                    "type": "scatter",
                    "x": np.array(["2024-01-01T00:00", "NaT"], dtype="datetime64[ms]"),
                    "y": np.array([math.inf, math.nan]),
                    "customdata": [np.float32(1.5), np.int64(2)],
                },
                {"type": "scatter", "x": np.arange(3), "y": np.array([1.0, -math.inf, 3.0])},
            ],
            "layout": {"title": {"text": "t"}},
        }
    )  # validated: plotly stores its arrays as typed-array specs, which are decoded back
    data = figure_json(fig)
    text = json.dumps(data, allow_nan=False)
    assert data["data"][0]["y"] == [None, None]
    assert (
        data["data"][0]["x"][0].startswith("2024-01-01T00:00") and data["data"][0]["x"][1] is None
    )
    assert data["data"][0]["customdata"] == [1.5, 2]
    assert data["data"][1] == {"type": "scatter", "x": [0, 1, 2], "y": [1.0, None, 3.0]}
    again = go.Figure(json.loads(text))
    assert list(again.data[1].y) == [1.0, None, 3.0]


def test_figure_json_typed_arrays_round_trip(two_runs: tuple[Store, list[str]]) -> None:
    store, ids = two_runs
    fig = curves_figure(store, ids)
    typed = figure_json(fig, typed_arrays=True)
    text = json.dumps(typed, allow_nan=False)
    assert '"bdata"' in text
    assert figure_json(json.loads(text)) == figure_json(fig)  # decodes to the same lists
    go.Figure(json.loads(text))


def test_importing_the_package_does_not_import_plotly() -> None:
    code = (
        "import sys, jupyter_mltrack, jupyter_mltrack.compare, jupyter_mltrack.compare.series;"
        "assert 'plotly' not in sys.modules, 'plotly imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# groups -----------------------------------------------------------------------------------------

GROUPS = {
    "group_by": "params.model",
    "metrics": ["acc", "loss.min"],
    "total": 6,
    "groups": [
        {
            "value": "rf",
            "count": 3,
            "metrics": {
                "acc": {"count": 3, "mean": 0.9, "std": 0.1, "min": 0.8, "max": 1.0},
                "loss.min": {"count": 2, "mean": 0.2, "std": None, "min": 0.1, "max": 0.3},
            },
        },
        {
            "value": None,
            "count": 2,
            "metrics": {
                "acc": {"count": 0, "mean": None, "std": None, "min": None, "max": None},
                "loss.min": {"count": 0, "mean": None, "std": None, "min": None, "max": None},
            },
        },
        {
            "value": 0.01,
            "count": 1,
            "metrics": {
                "acc": {"count": 1, "mean": 0.5, "std": None, "min": 0.5, "max": 0.5},
                "loss.min": {"count": 1, "mean": float("inf"), "std": None, "min": 1, "max": 1},
            },
        },
    ],
}


def test_groups_figure_bars_error_bars_and_ticks() -> None:
    data = validated(groups_figure(GROUPS))
    bars = [t for t in data["data"] if t["type"] == "bar"]
    ticks = [t for t in data["data"] if t["type"] == "scatter"]
    assert [b["name"] for b in bars] == ["acc", "loss.min"]  # a panel per metric
    assert bars[0]["x"] == ["rf (n=3)", "(none) (n=2)", "0.01 (n=1)"]
    assert bars[0]["y"] == [0.9, None, 0.5]
    assert bars[0]["error_y"]["array"] == [0.1, 0, 0]  # one seed has no spread
    assert bars[1]["y"] == [0.2, None, None]  # an infinite mean is not drawn as a number
    assert bars[1]["xaxis"] == "x2" and bars[1]["yaxis"] == "y2"
    assert [t["y"] for t in ticks[:2]] == [[0.8, None, 0.5], [1.0, None, 0.5]]  # min, max
    assert "0.9 ± 0.1" in bars[0]["customdata"][0] and "no value" in bars[0]["customdata"][1]
    assert "6 runs, 3 groups" in data["layout"]["title"]["text"]


def test_groups_figure_many_groups_and_nothing_to_draw() -> None:
    many = dict(GROUPS, groups=[dict(GROUPS["groups"][0], value=i) for i in range(45)])
    data = validated(groups_figure(many))
    assert len(data["data"][0]["x"]) == 40
    assert any("5 more not drawn" in a["text"] for a in data["layout"]["annotations"])
    empty = validated(groups_figure(dict(GROUPS, groups=[])))
    assert empty["layout"]["annotations"][0]["text"] == "No run is selected."
    no_metric = validated(groups_figure(dict(GROUPS, metrics=[])))
    assert "Name a metric" in no_metric["layout"]["annotations"][0]["text"]
