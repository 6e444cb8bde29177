"""``compare`` on constructed runs in a real store: every section of the comparison, every
reducer, goals and their overrides, package grading, code hunks, data matching with real
snapshots, outputs, and the errors that tell the caller what to change."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.capture import api
from jupyter_mltrack.compare import (
    MAX_RUNS,
    CompareError,
    Reducer,
    UnknownMetric,
    UnknownRun,
    compare,
    flatten,
    load_experiment_facts,
    load_facts,
    metric_goal,
    parse_reducer,
    parse_reducer_arg,
)
from jupyter_mltrack.compare.environment import grade
from jupyter_mltrack.compare.series import SeriesArrays
from jupyter_mltrack.compare.textdiff import hunks
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, MetricPoint, Run, Store
from jupyter_mltrack.store.store import InvalidQuery


def make_run(
    store: Store,
    experiment: str = "exp",
    *,
    params: Mapping[str, Any] | None = None,
    series: Mapping[str, Sequence[float] | Sequence[tuple[int, float]]] | None = None,
    packages: Mapping[str, str] | None = None,
    code: str = "",
    outputs: Sequence[dict[str, Any]] = (),
    status: str = "finished",
    python: str = "3.11.7",
) -> Run:
    """A finished run with the given params, metric series (values at steps 0.., or explicit
    ``(step, value)`` points), environment, code and outputs."""
    env_id = None
    if packages is not None:
        digest = json.dumps([python, sorted(packages.items())])
        env_id = store.put_environment(
            Environment(python=python, platform="linux", packages=dict(packages), digest=digest)
        )
    run = store.create_run(experiment, params=params, code=code)
    now = time.time()
    points = []
    for key, values in (series or {}).items():
        for i, v in enumerate(values):
            step, value = v if isinstance(v, tuple) else (i, v)
            points.append(MetricPoint(key, float(value), int(step), now + i * 1e-3))
    store.finish_run(
        run.id,
        status,
        metrics=points,
        outputs=outputs,
        environment_id=env_id,
        git_commit="abc123",
        git_dirty=False,
    )
    return store.get_run(run.id)


def row(rows: list[dict[str, Any]], key: str, field: str = "key") -> dict[str, Any]:
    found = [r for r in rows if r[field] == key]
    assert len(found) == 1, (key, rows)
    return found[0]


# --------------------------------------------------------------------------- flattening, params


def test_flatten_nested_dicts_and_lists() -> None:
    assert flatten(
        {
            "optimizer": {"name": "adam", "lr": 0.1, "betas": [0.9, 0.999]},
            "layers": [64, {"units": 32}],
            "empty": {},
            "none": [],
            "nan": {"$type": "float", "value": "nan"},
        }
    ) == {
        "optimizer.name": "adam",
        "optimizer.lr": 0.1,
        "optimizer.betas.0": 0.9,
        "optimizer.betas.1": 0.999,
        "layers.0": 64,
        "layers.1.units": 32,
        "empty": {},
        "none": [],
        "nan": {"$type": "float", "value": "nan"},
    }


def test_params_are_the_flattened_union_with_numeric_changes(store: Store) -> None:
    a = make_run(store, params={"opt": {"lr": 0.1, "name": "adam"}, "epochs": 10, "flag": 1})
    b = make_run(store, params={"opt": {"lr": 0.01, "name": "sgd"}, "epochs": 10, "flag": True})
    c = make_run(store, params={"opt": {"lr": 0.1, "name": "adam"}, "layers": [8, 16]})
    out = compare(store, [a.id, b.id, c.id]).to_dict()
    params = out["params"]
    assert [p["key"] for p in params] == [
        "epochs",
        "flag",
        "layers.0",
        "layers.1",
        "opt.lr",
        "opt.name",
    ]
    lr = row(params, "opt.lr")
    assert lr["values"] == [0.1, 0.01, 0.1] and lr["differs"] is True
    assert lr["changes"][0] is None and lr["changes"][1] == pytest.approx(-0.09)
    assert lr["changes"][2] == 0
    assert row(params, "opt.name")["changes"] == [None, None, None]
    epochs = row(params, "epochs")
    # missing in one run: null there, and that is a difference
    assert epochs["values"] == [10, 10, None] and epochs["differs"] is True
    assert epochs["changes"] == [None, 0, None]
    # True is not the number 1
    flag = row(params, "flag")
    assert flag["differs"] is True and flag["changes"] == [None, None, None]
    assert row(params, "layers.0")["values"] == [None, None, 8]


def test_unchanged_params_are_not_flagged(sqlite_store: Store) -> None:
    a = make_run(sqlite_store, params={"lr": 0.1, "n": 1})
    b = make_run(sqlite_store, params={"lr": 0.1, "n": 1.0})
    params = compare(sqlite_store, [a.id, b.id]).to_dict()["params"]
    assert not any(p["differs"] for p in params)


# --------------------------------------------------------------------------- reducers


def test_parse_reducer_specs_and_errors() -> None:
    assert parse_reducer("last") == Reducer("last")
    assert parse_reducer(" MAX ") == Reducer("max")
    assert parse_reducer("step=100") == Reducer("step", 100)
    assert parse_reducer("step=0") == Reducer("step", 0)
    assert parse_reducer("mean = 5") == Reducer("mean", 5)
    assert str(parse_reducer("mean=5")) == "mean=5" and parse_reducer("best").spec == "best"
    for bad in ("median", "step", "step=-1", "step=x", "mean=0", "mean=", "", "last=3"):
        with pytest.raises(CompareError, match="use last, min, max, best"):
            parse_reducer(bad)
    assert parse_reducer_arg("loss:min") == ("loss", Reducer("min"))
    # split at the last ':' so metric names may hold one
    assert parse_reducer_arg("val:acc:step=3") == ("val:acc", Reducer("step", 3))
    for bad in ("loss", ":min", "loss:median"):
        with pytest.raises(CompareError):
            parse_reducer_arg(bad)


def series_of(values: Sequence[float], steps: Sequence[int] | None = None) -> SeriesArrays:
    steps = list(range(len(values))) if steps is None else steps
    return SeriesArrays(
        np.array(steps, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.arange(len(values), dtype=np.float64),
    )


def test_every_reducer_on_a_series() -> None:
    s = series_of([0.5, 0.2, math.nan, 0.9, 0.4], [0, 10, 20, 30, 40])
    assert Reducer("last").reduce(s) == (0.4, 40)
    assert Reducer("min").reduce(s) == (0.2, 10)
    assert Reducer("max").reduce(s) == (0.9, 30)
    assert Reducer("best").reduce(s, "min") == (0.2, 10)
    assert Reducer("best").reduce(s, "max") == (0.9, 30)
    assert Reducer("step", 25).reduce(s)[1] == 20 and math.isnan(Reducer("step", 25).reduce(s)[0])
    assert Reducer("step", 30).reduce(s) == (0.9, 30)
    assert Reducer("step", 1000).reduce(s) == (0.4, 40)
    assert Reducer("step", 0).reduce(s) == (0.5, 0)
    assert Reducer("mean", 2).reduce(s) == (pytest.approx(0.65), 40)
    assert Reducer("mean", 3).reduce(s) == (pytest.approx(0.65), 40)  # NaN left out
    assert Reducer("mean", 100).reduce(s) == (pytest.approx(0.5), 40)
    before = series_of([1.0], [5])
    assert Reducer("step", 4).reduce(before) == (None, None)
    assert Reducer("min").reduce(None) == (None, None)
    all_nan = series_of([math.nan, math.nan])
    value, step = Reducer("max").reduce(all_nan)
    assert math.isnan(value) and step == 1


def test_reducers_in_a_comparison(store: Store) -> None:
    a = make_run(store, series={"loss": [1.0, 0.5, 0.7], "acc": [0.5, 0.8, 0.7]})
    b = make_run(store, series={"loss": [0.9, 0.4, 0.3, 0.6], "acc": [0.6, 0.9, 0.95, 0.85]})
    c = compare(
        store,
        [a.id, b.id],
        reducers={"loss": "best", "acc": parse_reducer("mean=2")},
    )
    loss, acc = c.metric("loss"), c.metric("acc")
    assert loss["reducer"] == "best" and loss["goal"] == "min"
    assert loss["values"] == [0.5, 0.3] and loss["steps"] == [1, 2]
    assert acc["reducer"] == "mean=2" and acc["goal"] == "max"
    assert acc["values"] == [pytest.approx(0.75), pytest.approx(0.9)] and acc["steps"] == [2, 3]
    assert loss["has_series"] and loss["max_step"] == 3

    last = compare(store, [a.id, b.id]).to_dict()["metrics"]
    assert row(last, "loss")["values"] == [0.7, 0.6] and row(last, "loss")["steps"] == [2, 3]
    assert row(last, "loss")["reducer"] == "last"

    at = compare(store, [a.id, b.id], step=1, reducers={"loss": "max"})
    assert at.metric("acc")["reducer"] == "step=1" and at.metric("acc")["values"] == [0.8, 0.9]
    assert at.metric("loss")["reducer"] == "max" and at.metric("loss")["values"] == [1.0, 0.9]


def test_step_applies_only_to_metrics_with_a_series(sqlite_store: Store) -> None:
    a = make_run(sqlite_store, series={"acc": [0.1, 0.2, 0.3], "final": [0.5]})
    b = make_run(sqlite_store, series={"acc": [0.2, 0.4], "final": [0.6]})
    c = compare(sqlite_store, [a.id, b.id], step=0)
    assert c.metric("acc")["reducer"] == "step=0" and c.metric("acc")["values"] == [0.1, 0.2]
    final = c.metric("final")
    assert final["reducer"] == "last" and final["has_series"] is False
    assert final["values"] == [0.5, 0.6] and final["max_step"] == 0


def test_nan_and_infinity_are_not_missing(sqlite_store: Store) -> None:
    """A diverged metric is "nan" (and ±inf "inf"/"-inf"), never null as an unlogged one;
    the comparison stays strict JSON."""
    a = make_run(sqlite_store, series={"loss": [1.0, 0.5], "acc": [0.5]})
    b = make_run(sqlite_store, series={"loss": [1.0, math.nan], "acc": [math.inf]})
    c = make_run(sqlite_store, series={"loss": [1.0, -math.inf]})
    data = compare(sqlite_store, [a.id, b.id, c.id]).to_dict()
    loss, acc = row(data["metrics"], "loss"), row(data["metrics"], "acc")
    assert loss["values"] == [0.5, "nan", "-inf"] and loss["differs"]
    assert loss["changes"] == [None, None, None] and loss["verdicts"] == [None, None, "better"]
    assert acc["values"] == [0.5, "inf", None]  # None: run c never logged acc
    json.dumps(data, allow_nan=False)
    mean = compare(sqlite_store, [b.id, c.id], reducers={"acc": "min"}).metric("acc")
    assert mean["values"] == ["inf", None]


def test_step_beyond_a_series_keeps_its_last_point(sqlite_store: Store) -> None:
    """``step=100`` on a 30-step series: the value at step 29, and ``steps`` says 29."""
    a = make_run(sqlite_store, series={"loss": [1.0 / (i + 1) for i in range(30)]})
    b = make_run(sqlite_store, series={"loss": [1.0 / (i + 2) for i in range(200)]})
    loss = compare(sqlite_store, [a.id, b.id], reducers={"loss": "step=100"}).metric("loss")
    assert loss["values"] == [pytest.approx(1 / 30), pytest.approx(1 / 102)]
    assert loss["steps"] == [29, 100]


# --------------------------------------------------------------------------- goals, verdicts


@pytest.mark.parametrize(
    ("key", "goal"),
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("train/loss", "min"),
        ("valLoss", "min"),
        ("error", "min"),
        ("test_err", "min"),
        ("mae", "min"),
        ("MSE", "min"),
        ("rmse", "min"),
        ("perplexity", "min"),
        ("eval.ppl", "min"),
        ("nll", "min"),
        ("logloss", "min"),
        ("wer", "min"),
        ("cer", "min"),
        ("accuracy", "max"),
        ("acc", "max"),
        ("f1", "max"),
        ("auc", "max"),
        ("r2", "max"),
        ("reward", "max"),
        ("precision", "max"),
    ],
)
def test_goal_guessed_from_the_name(key: str, goal: str) -> None:
    assert metric_goal(key) == goal


def test_goal_overrides_win() -> None:
    assert metric_goal("loss", {"loss": "max"}) == "max"
    assert metric_goal("f1", {"f1": "min"}) == "min"
    assert metric_goal("f1", {"other": "min"}) == "max"


def test_changes_and_verdicts_follow_the_goal(store: Store) -> None:
    a = make_run(store, series={"loss": [0.5], "acc": [0.8], "f1": [0.5], "gone": [1.0]})
    b = make_run(store, series={"loss": [0.4], "acc": [0.7], "f1": [0.5]})
    c = make_run(store, series={"loss": [math.nan], "acc": [0.9], "f1": [0.6]})
    out = compare(store, [a.id, b.id, c.id])
    loss = out.metric("loss")
    assert loss["verdicts"] == [None, "better", None]
    assert loss["values"] == [0.5, 0.4, "nan"]  # NaN is "nan", not null (missing)
    assert loss["changes"][1] == pytest.approx(-0.1) and loss["changes"][2] is None
    assert loss["pct_changes"][1] == pytest.approx(-20.0)
    acc = out.metric("acc")
    assert acc["verdicts"] == [None, "worse", "better"]
    assert acc["pct_changes"][2] == pytest.approx(12.5)
    f1 = out.metric("f1")
    assert f1["verdicts"] == [None, "same", "better"] and f1["differs"] is True
    gone = out.metric("gone")
    assert gone["values"] == [1.0, None, None] and gone["verdicts"] == [None, None, None]
    json.dumps(out.to_dict(), allow_nan=False)  # strict JSON


def test_metric_goals_set_in_the_store_are_honoured(store: Store) -> None:
    a = make_run(store, series={"f1_gap": [0.3], "loss": [0.5]})
    b = make_run(store, series={"f1_gap": [0.2], "loss": [0.6]})
    assert compare(store, [a.id, b.id]).metric("f1_gap")["verdicts"] == [None, "worse"]
    store.set_metric_goal("exp", "f1_gap", "min")
    store.set_metric_goal("exp", "loss", "max")
    exp_id = a.experiment_id
    assert store.metric_goals([exp_id]) == {exp_id: {"f1_gap": "min", "loss": "max"}}
    out = compare(store, [a.id, b.id])
    assert out.metric("f1_gap")["goal"] == "min"
    assert out.metric("f1_gap")["verdicts"] == [None, "better"]
    assert out.metric("loss")["verdicts"] == [None, "better"]
    store.set_metric_goal("exp", "f1_gap", "max")  # replaced, not duplicated
    store.set_metric_goal("exp", "loss", None)  # forgotten: the name decides again
    assert store.metric_goals([exp_id, 999]) == {exp_id: {"f1_gap": "max"}, 999: {}}
    assert compare(store, [a.id, b.id]).metric("loss")["goal"] == "min"
    with pytest.raises(InvalidQuery, match="'min' or 'max'"):
        store.set_metric_goal("exp", "loss", "lower")


def test_best_follows_a_goal_set_in_the_store(sqlite_store: Store) -> None:
    """``best`` picks the minimum of a loss by its name, the maximum once the experiment says
    the loss is maximised (and the verdicts follow)."""
    a = make_run(sqlite_store, series={"loss": [0.9, 0.2, 0.5]})
    b = make_run(sqlite_store, series={"loss": [0.8, 0.3, 0.95]})
    guessed = compare(sqlite_store, [a.id, b.id], reducers={"loss": "best"}).metric("loss")
    assert guessed["goal"] == "min" and guessed["values"] == [0.2, 0.3]
    assert guessed["steps"] == [1, 1] and guessed["verdicts"] == [None, "worse"]
    sqlite_store.set_metric_goal("exp", "loss", "max")
    chosen = compare(sqlite_store, [a.id, b.id], reducers={"loss": "best"}).metric("loss")
    assert chosen["goal"] == "max" and chosen["values"] == [0.9, 0.95]
    assert chosen["steps"] == [0, 2] and chosen["verdicts"] == [None, "better"]


def test_the_baselines_experiment_decides_a_goal(sqlite_store: Store) -> None:
    a = make_run(sqlite_store, "one", series={"score": [1.0]})
    b = make_run(sqlite_store, "two", series={"score": [2.0]})
    sqlite_store.set_metric_goal("one", "score", "min")
    sqlite_store.set_metric_goal("two", "score", "max")
    assert compare(sqlite_store, [a.id, b.id]).metric("score")["goal"] == "min"
    assert compare(sqlite_store, [b.id, a.id]).metric("score")["goal"] == "max"


@pytest.fixture
def api_store(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("MLTRACK_EXPERIMENT", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    previous = api._store
    api.set_store(sqlite_store)
    yield sqlite_store
    api._store = previous


def test_set_metric_goal_from_the_api(api_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    api.set_metric_goal("f1", "min", experiment="exp")
    exp = api_store.get_or_create_experiment("exp")
    assert api_store.metric_goals([exp.id])[exp.id] == {"f1": "min"}
    # no experiment: where start_run would record (the notebook's, else Default)
    api.set_metric_goal("f1", "max")
    default = api_store.get_or_create_experiment(None)
    assert api_store.metric_goals([default.id])[default.id] == {"f1": "max"}
    monkeypatch.setenv("JPY_SESSION_NAME", "work/train.ipynb")
    api.set_metric_goal("loss", "max")
    nb = api_store.get_or_create_experiment("train")
    assert api_store.metric_goals([nb.id])[nb.id] == {"loss": "max"}
    with pytest.raises(ValueError, match="'min' .* or 'max'"):
        api.set_metric_goal("f1", "maximise")
    api.set_metric_goal("loss", None)
    assert api_store.metric_goals([nb.id])[nb.id] == {}


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("1.26.4", "2.0.1", "major"),
        ("1.26.4", "1.27.0", "minor"),
        ("1.26.4", "1.26.5", "patch"),
        ("1.26", "1.26.1", "patch"),
        ("2.0.0", "2.0.0.post1", "other"),
        ("2.0.0rc1", "2.0.0", "other"),
        ("1.0", "1!1.0", "major"),
        ("2.1.0", "1.9.9", "major"),
        ("weird-version", "1.0", "other"),
    ],
)
def test_package_changes_are_graded(old: str, new: str, expected: str) -> None:
    assert grade(old, new) == expected


def test_environment_diff_against_the_baseline(sqlite_store: Store) -> None:
    base = {"numpy": "1.26.4", "pandas": "2.1.0", "scipy": "1.11.0", "Requests": "2.31.0"}
    a = make_run(sqlite_store, packages=base)
    b = make_run(
        sqlite_store,
        packages={"numpy": "2.0.1", "pandas": "2.2.0", "scipy": "1.11.1", "torch": "2.3.0"},
    )
    c = make_run(sqlite_store, packages=None)  # environment never recorded
    d = make_run(sqlite_store, packages={**base, "requests": "2.31.0"})
    env = compare(sqlite_store, [a.id, b.id, c.id, d.id]).to_dict()["environment"]
    assert env["recorded"] == [True, True, False, True]
    assert env["diffs"][0] is None
    # not recorded (yet): unknown, not "every package removed"
    assert env["diffs"][2] == {"unknown": True, "added": [], "removed": [], "changed": []}
    diff = env["diffs"][1]
    assert diff["added"] == [{"name": "torch", "version": "2.3.0"}]
    assert diff["removed"] == [{"name": "Requests", "version": "2.31.0"}]
    assert diff["changed"] == [
        {"name": "numpy", "from": "1.26.4", "to": "2.0.1", "grade": "major"},
        {"name": "pandas", "from": "2.1.0", "to": "2.2.0", "grade": "minor"},
        {"name": "scipy", "from": "1.11.0", "to": "1.11.1", "grade": "patch"},
    ]
    # names are matched regardless of case
    assert env["diffs"][3] == {"added": [], "removed": [], "changed": []}
    numpy = row(env["packages"], "numpy", "name")
    assert numpy["values"] == ["1.26.4", "2.0.1", None, "1.26.4"] and numpy["differs"]
    # the run without an environment does not make a package differ
    assert row(env["packages"], "pandas", "name")["differs"]
    same = compare(sqlite_store, [a.id, c.id, d.id]).to_dict()["environment"]
    assert not any(p["differs"] for p in same["packages"])
    # nor does a baseline without one make every package "added"
    assert compare(sqlite_store, [c.id, a.id]).to_dict()["environment"]["diffs"][1]["unknown"]
    assert [p["name"] for p in env["packages"]] == [
        "numpy",
        "pandas",
        "Requests",
        "scipy",
        "torch",
    ]


# --------------------------------------------------------------------------- code


def test_hunks_are_unified_diff_hunks() -> None:
    old = "\n".join(f"line {i}" for i in range(1, 21))
    new = old.replace("line 5", "line five").replace("line 18\n", "")
    found = hunks(old, new)
    assert [h["header"] for h in found] == ["@@ -2,7 +2,7 @@", "@@ -15,6 +15,5 @@"]
    first = found[0]
    assert (first["old_start"], first["old_lines"], first["new_start"], first["new_lines"]) == (
        2,
        7,
        2,
        7,
    )
    assert first["lines"] == [
        " line 2",
        " line 3",
        " line 4",
        "-line 5",
        "+line five",
        " line 6",
        " line 7",
        " line 8",
    ]
    assert "-line 18" in found[1]["lines"]
    assert hunks("a\nb", "a\nb") == []
    added = hunks("", "x = 1")
    assert added[0]["header"] == "@@ -0,0 +1 @@" and added[0]["lines"] == ["+x = 1"]


def test_code_section_diffs_cells(sqlite_store: Store) -> None:
    cell = "%%track\nlr = 0.1\nmodel.fit(X, y)\nscore = model.score(X, y)"
    a = make_run(sqlite_store, code=cell)
    b = make_run(sqlite_store, code=cell.replace("lr = 0.1", "lr = 0.01"))
    c = make_run(sqlite_store, code=cell)
    code = compare(sqlite_store, [a.id, b.id, c.id]).to_dict()["code"]
    assert code["runs"][1] == {"cell": cell.replace("0.1", "0.01"), "dependencies": None}
    assert code["diffs"][0] is None
    diff = code["diffs"][1]["cell"]
    assert diff["same"] is False and len(diff["hunks"]) == 1
    assert diff["hunks"][0]["header"] == "@@ -1,4 +1,4 @@"
    assert "-lr = 0.1" in diff["hunks"][0]["lines"] and "+lr = 0.01" in diff["hunks"][0]["lines"]
    assert code["diffs"][1]["dependencies"] == {"same": True, "hunks": []}
    assert code["diffs"][2]["cell"] == {"same": True, "hunks": []}


# --------------------------------------------------------------------------- data


@pytest.fixture
def snapshotter(sqlite_store: Store) -> Iterator[Snapshotter]:
    s = Snapshotter(sqlite_store)
    yield s
    s.close()


def test_data_matched_by_name_then_path(snapshotter: Snapshotter, tmp_path: Any) -> None:
    store = snapshotter.store
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(0, 1, 500), "y": np.arange(500), "z": ["a", "b"] * 250})
    changed = df.assign(x=df["x"] + 5, w=1.0).drop(columns="z").iloc[:450]

    def snap(obj: Any) -> str:
        return snapshotter.snapshot(obj, progress=False).wait().digest

    d_df, d_changed, d_labels = snap(df), snap(changed), snap(df["y"])
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("x\n1\n")
    second.write_text("x\n2\n")
    d_first, d_second = snap(first), snap(second)

    a = make_run(store)
    b = make_run(store)
    c = make_run(store)
    store.add_run_data(a.id, "input", "df", d_df)
    store.add_run_data(a.id, "input", "labels", d_labels)
    store.add_run_data(a.id, "input", "a.csv", d_first, path="/data/train.csv")
    store.add_run_data(a.id, "output", "model.pkl", d_first, path="/out/model.pkl")
    store.add_run_data(b.id, "input", "df", d_changed)
    store.add_run_data(b.id, "input", "labels", d_labels)
    # same file under another name: matched by its path
    store.add_run_data(b.id, "input", "train.csv", d_second, path="/data/train.csv")
    store.add_run_data(b.id, "input", "extra", d_labels)
    store.add_run_data(c.id, "input", "df", d_df)

    data = compare(store, [a.id, b.id, c.id]).to_dict()["data"]
    assert [(d["role"], d["name"]) for d in data] == [
        ("input", "df"),
        ("input", "labels"),
        ("input", "a.csv"),
        ("input", "extra"),
        ("output", "model.pkl"),
    ]
    frame = row(data, "df", "name")
    assert frame["states"] == [None, "changed", "same"]
    assert frame["entries"][0]["rows"] == 500 and frame["entries"][0]["columns"] == 3
    assert frame["entries"][0]["kind"] == "dataframe"
    assert frame["entries"][1]["digest"] == d_changed
    summary = frame["diffs"][1]
    assert summary["rows"] == [500, 450] and summary["schema_changed"] is True
    assert summary["added_columns"] == ["w"] and summary["removed_columns"] == ["z"]
    assert "x" in summary["changed_columns"] and "w" not in summary["changed_columns"]
    drift = {d["column"]: d["psi"] for d in summary["drift"]}
    assert drift["x"] > 0.5
    assert frame["diffs"][0] is None and frame["diffs"][2] is None
    assert row(data, "labels", "name")["states"] == [None, "same", "missing"]
    by_path = row(data, "a.csv", "name")
    assert by_path["path"] == "/data/train.csv"
    assert by_path["entries"][1]["digest"] == d_second and by_path["entries"][2] is None
    assert by_path["states"] == [None, "changed", "missing"]
    assert by_path["diffs"][1]["rows"] == [None, None]
    assert row(data, "extra", "name")["states"] == [None, "added", None]
    assert row(data, "model.pkl", "name")["states"] == [None, "missing", "missing"]


# --------------------------------------------------------------------------- outputs


def stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def test_outputs_aligned_by_position(sqlite_store: Store) -> None:
    png = {"output_type": "display_data", "data": {"image/png": "AAAA"}, "metadata": {}}
    a = make_run(sqlite_store, outputs=[stream("epoch 1\nloss 0.5\n"), png])
    b = make_run(
        sqlite_store,
        outputs=[stream("epoch 1\nloss 0.4\n"), {**png, "metadata": {"w": 1}}, stream("x")],
    )
    c = make_run(sqlite_store, outputs=[stream("epoch 1\nloss 0.5\n", "stderr")])
    outputs = compare(sqlite_store, [a.id, b.id, c.id]).to_dict()["outputs"]
    assert [o["index"] for o in outputs] == [0, 1, 2]
    first = outputs[0]
    assert first["same"] is False and first["items"][0]["text"] == "epoch 1\nloss 0.5\n"
    assert first["text_diffs"][0] is None
    assert first["text_diffs"][1]["same"] is False
    assert first["text_diffs"][1]["hunks"][0]["lines"] == [" epoch 1", "-loss 0.5", "+loss 0.4"]
    assert first["text_diffs"][2] is None  # stderr is not diffed against stdout
    second = outputs[1]
    assert second["items"][2] is None and second["text_diffs"] == [None, None, None]
    assert second["same"] is False  # missing in the third run
    assert outputs[2]["items"] == [None, stream("x"), None]


def test_rich_outputs_differing_only_in_metadata_are_the_same(sqlite_store: Store) -> None:
    html = {"output_type": "display_data", "data": {"text/html": "<b>x</b>"}, "metadata": {}}
    a = make_run(sqlite_store, outputs=[html])
    b = make_run(sqlite_store, outputs=[{**html, "metadata": {"isolated": True}}])
    assert compare(sqlite_store, [a.id, b.id]).to_dict()["outputs"][0]["same"] is True


def test_large_outputs_are_cut_in_a_comparison(sqlite_store: Store) -> None:
    """A 1 MB stdout is cut to 20,000 characters (saying how much, and where the rest is),
    a rich output over 256 KB becomes a note with its sizes; the diff runs on the cut text
    and the comparison stays small."""
    from jupyter_mltrack.compare.outputs import MAX_STREAM_CHARS

    lines = "".join(f"step {i} loss {1 / (i + 1):.6f}\n" for i in range(45_000))
    assert len(lines) > 1_000_000
    big_png = {
        "output_type": "display_data",
        "data": {"image/png": "A" * 300_000, "text/plain": "<Figure>"},
        "metadata": {},
    }
    changed = lines.replace("step 3 loss", "step 3 LOSS")
    a = make_run(sqlite_store, outputs=[stream(lines), big_png])
    b = make_run(sqlite_store, outputs=[stream(changed), big_png])
    c = make_run(sqlite_store, outputs=[stream(lines + "tail\n"), big_png])
    data = compare(sqlite_store, [a.id, b.id, c.id]).to_dict()
    assert len(json.dumps(data)) < 100_000
    first = data["outputs"][0]
    item = first["items"][0]
    assert item["output_type"] == "stream" and item["name"] == "stdout"
    assert item["text"].startswith(lines[:MAX_STREAM_CHARS])
    assert item["mltrack_cut"] == {"chars": len(lines), "shown": MAX_STREAM_CHARS}
    assert f"{len(lines) - MAX_STREAM_CHARS:,} more characters" in item["text"]
    assert "detail view" in item["text"]
    assert first["text_diffs"][1]["hunks"][0]["lines"][3:5] == [
        "-step 3 loss 0.250000",
        "+step 3 LOSS 0.250000",
    ]
    # the difference past the cut still counts, though the cut texts are equal
    assert first["same"] is False and first["text_diffs"][2]["same"] is True
    rich = data["outputs"][1]
    assert rich["same"] is True
    note = rich["items"][0]
    assert note["output_type"] == "display_data"
    assert note["mltrack_cut"]["mimes"] == {"image/png": 300_000, "text/plain": 8}
    assert list(note["data"]) == ["text/plain"]
    assert "display_data output of 293.0 KB" in note["data"]["text/plain"]
    small = make_run(sqlite_store, outputs=[stream("ok\n"), {**big_png, "data": {"x": "y"}}])
    kept = compare(sqlite_store, [small.id, a.id]).to_dict()["outputs"]
    assert kept[0]["items"][0] == stream("ok\n") and "mltrack_cut" not in kept[1]["items"][0]


# --------------------------------------------------------------------------- runs, attributes


def test_runs_baseline_and_labels(store: Store) -> None:
    a = make_run(store, "exp")
    b = make_run(store, "exp", status="failed")
    c = make_run(store, "exp")
    out = compare(store, [str(a.number), b.id[:8], c.id], baseline=str(c.number), experiment="exp")
    data = out.to_dict()
    assert data["baseline"] == c.id and out.baseline_id == c.id
    assert [r["id"] for r in data["runs"]] == [c.id, a.id, b.id]
    assert [r["label"] for r in data["runs"]] == ["#3", "#1", "#2"]
    assert data["runs"][2] == {
        "id": b.id,
        "number": 2,
        "name": None,
        "experiment": "exp",
        "status": "failed",
        "label": "#2",
    }
    status = row(data["attributes"], "status")
    assert status["values"] == ["finished", "finished", "failed"] and status["differs"]
    assert [r["key"] for r in data["attributes"]] == [
        "status",
        "duration",
        "start_time",
        "notebook",
        "cell",
        "source",
        "parent_run",
        "git_commit",
        "git_dirty",
        "python",
        "platform",
    ]
    assert row(data["attributes"], "git_commit")["values"] == ["abc123"] * 3

    other = make_run(store, "other")
    labels = [r["label"] for r in compare(store, [a.id, other.id]).to_dict()["runs"]]
    assert labels == ["exp #1", "other #1"]


def test_attribute_values(sqlite_store: Store) -> None:
    """Every attribute row carries the run's own value: status, duration, start, notebook,
    cell, source, parent run, git commit and dirty flag, Python and platform."""
    store = sqlite_store
    t0 = 1_700_000_000.0
    env_a = store.put_environment(
        Environment(python="3.11.7", platform="linux-x86_64", packages={}, digest="env-a")
    )
    env_b = store.put_environment(
        Environment(python="3.12.1", platform="macOS-arm64", packages={}, digest="env-b")
    )
    a = store.create_run(
        "exp",
        notebook_path="nb/train.ipynb",
        cell_id="cell-1",
        source="notebook",
        git_commit="abc123",
        git_dirty=False,
        environment_id=env_a,
        start_time=t0,
    )
    store.finish_run(a.id, "finished", end_time=t0 + 30)
    b = store.create_run(
        "exp",
        notebook_path=None,
        source="pipeline",
        parent_run_id=a.id,
        git_commit="def456",
        git_dirty=True,
        environment_id=env_b,
        start_time=t0 + 100,
    )
    store.finish_run(b.id, "failed", end_time=t0 + 145)
    attributes = compare(store, [a.id, b.id]).to_dict()["attributes"]
    values = {r["key"]: r["values"] for r in attributes}
    assert values == {
        "status": ["finished", "failed"],
        "duration": [30.0, 45.0],
        "start_time": ["2023-11-14T22:13:20+00:00", "2023-11-14T22:15:00+00:00"],
        "notebook": ["nb/train.ipynb", None],
        "cell": ["cell-1", None],
        "source": ["notebook", "pipeline"],
        "parent_run": [None, a.id],
        "git_commit": ["abc123", "def456"],
        "git_dirty": [False, True],
        "python": ["3.11.7", "3.12.1"],
        "platform": ["linux-x86_64", "macOS-arm64"],
    }
    # start times always differ between runs: shown, never flagged
    assert [r["key"] for r in attributes if not r["differs"]] == ["start_time"]
    assert not any(any(r["unknown"]) for r in attributes)
    same = compare(store, [a.id, a.id[:12], b.id]).to_dict()["attributes"]
    assert len(same[0]["values"]) == 2  # one run named twice is compared once


def test_a_running_run_has_no_environment_yet(sqlite_store: Store) -> None:
    """A run still running has not recorded Python, platform or git state: those are unknown
    for it, not different, and "differences only" shows no attribute for two equal runs."""
    env = Environment(python="3.11.7", platform="linux", packages={"numpy": "1.26.4"}, digest="e")
    env_id = sqlite_store.put_environment(env)
    done = sqlite_store.create_run("exp", git_commit="abc", git_dirty=False, environment_id=env_id)
    sqlite_store.finish_run(done.id, "finished", end_time=done.start_time + 5)
    running = sqlite_store.create_run("exp")
    data = compare(sqlite_store, [done.id, running.id]).to_dict()
    attrs = {r["key"]: r for r in data["attributes"]}
    for key in ("python", "platform", "git_commit", "git_dirty"):
        assert attrs[key]["unknown"] == [False, True] and not attrs[key]["differs"], key
    assert attrs["python"]["values"] == ["3.11.7", None]
    assert attrs["status"]["differs"] and attrs["status"]["unknown"] == [False, False]
    assert data["environment"]["recorded"] == [True, False]
    assert data["environment"]["diffs"][1]["unknown"] is True
    assert not row(data["environment"]["packages"], "numpy", "name")["differs"]


def test_errors_say_what_to_change(sqlite_store: Store) -> None:
    a = make_run(sqlite_store, series={"acc": [0.5]})
    b = make_run(sqlite_store, series={"acc": [0.6]})
    c = make_run(sqlite_store, "elsewhere")
    with pytest.raises(CompareError, match="at least 2 runs"):
        compare(sqlite_store, [a.id])
    with pytest.raises(CompareError, match="2 different runs"):
        compare(sqlite_store, [a.id, a.id[:10]])
    with pytest.raises(CompareError, match=f"at most {MAX_RUNS} runs"):
        compare(sqlite_store, [a.id] * (MAX_RUNS + 1))
    with pytest.raises(UnknownRun, match="no run 'ffffffff'") as err:
        compare(sqlite_store, [a.id, "ffffffff"])
    assert isinstance(err.value, LookupError) and isinstance(err.value, CompareError)
    with pytest.raises(UnknownRun, match="no run '7'"):
        compare(sqlite_store, [a.id, "7"])
    with pytest.raises(CompareError, match="unknown reducer 'median'"):
        compare(sqlite_store, [a.id, b.id], reducers={"acc": "median"})
    with pytest.raises(UnknownMetric, match="no compared run logged 'loss'; metrics: acc"):
        compare(sqlite_store, [a.id, b.id], reducers={"loss": "min"})
    with pytest.raises(CompareError, match="baseline .* is not one of the compared runs"):
        compare(sqlite_store, [a.id, b.id], baseline=c.id)
    with pytest.raises(CompareError, match="step must be"):
        compare(sqlite_store, [a.id, b.id], step=-1)
    with pytest.raises(CompareError, match="step must be"):
        compare(sqlite_store, [a.id, b.id], step=1.5)
    assert compare(sqlite_store, [a.id, b.id], step="0").metric("acc")["reducer"] == "last"


def test_a_hundred_runs_are_accepted(sqlite_store: Store) -> None:
    runs = [make_run(sqlite_store, params={"i": i}, series={"acc": [i / 100]}) for i in range(100)]
    out = compare(sqlite_store, [r.id for r in runs]).to_dict()
    assert len(out["runs"]) == 100 and len(row(out["metrics"], "acc")["values"]) == 100


# --------------------------------------------------------------------------- facts


def test_facts_in_bulk(store: Store) -> None:
    a = make_run(
        store,
        params={"opt": {"lr": 0.1}},
        series={"acc": [0.5, 0.7]},
        packages={"numpy": "1.26.4"},
        code="x = 1",
    )
    b = make_run(store, "exp", params={"opt": {"lr": 0.2}}, packages={"numpy": "1.26.4"})
    make_run(store, "other")
    facts = load_facts(store, [b.id, a.id], series=True)
    assert [f.id for f in facts] == [b.id, a.id]
    fa = facts[1]
    assert fa.params == {"opt.lr": 0.1} and fa.metrics == {"acc": 0.7}
    assert fa.packages == {"numpy": "1.26.4"} and fa.python == "3.11.7"
    assert fa.platform == "linux" and fa.git_commit == "abc123" and fa.git_dirty is False
    assert fa.code == "x = 1" and fa.dependencies is None and fa.seeds == {}
    assert fa.series is not None and fa.series["acc"].values.tolist() == [0.5, 0.7]
    assert facts[0].series == {}
    # references work too
    assert [f.id for f in load_facts(store, [a.id[:8]], code=False)] == [a.id]
    with pytest.raises(UnknownRun):
        load_facts(store, ["nope"])

    bulk = load_experiment_facts(store, ["exp"])
    assert {f.id for f in bulk} == {a.id, b.id}
    assert all(f.series is None and f.code == "" for f in bulk)
    assert len(load_experiment_facts(store, ["exp", "other"], limit=2)) == 2
    assert load_experiment_facts(store, ["missing"]) == []
    assert load_experiment_facts(store, "other")[0].run.experiment == "other"


def test_loading_many_runs_at_once(store: Store) -> None:
    """Over 500 ids the store binds them as one array value (not 500 parameters)."""
    a = make_run(store, params={"lr": 0.1}, series={"acc": [0.5]}, packages={"numpy": "2.0"})
    b = make_run(store, params={"lr": 0.2, "nested": {"x": [1]}})
    store.set_tags(b.id, {"kind": "big"})
    ids = [f"{i:032x}" for i in range(600)]
    ids[100], ids[400] = b.id, a.id
    runs = store.load_runs(ids)
    assert [r.id for r in runs] == [b.id, a.id]
    assert runs[0].params == {"lr": 0.2, "nested": {"x": [1]}} and runs[0].tags == {"kind": "big"}
    assert runs[1].metrics == {"acc": 0.5}
    assert set(store.run_contexts(ids)) == {a.id, b.id}
    assert store.run_contexts(ids)[a.id].environment.packages == {"numpy": "2.0"}
    assert store.metric_extents(ids) == {a.id: {"acc": (1, 0)}}
    assert store.latest_metric_steps(ids) == {a.id: {"acc": 0}}
