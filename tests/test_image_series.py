"""Images and figures logged at a step (``log_image(..., step=)``, ``log_figure(..., step=)``):
one artifact per step, grouped as a series by what their meta says, compared as one row per
series with each run's steps, and shown in the notebook's compare HTML at each run's last
step. Written through the public API into a real SQLite store and blob folder."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import jupyter_mltrack as mltrack
from jupyter_mltrack.compare import artifacts as section
from jupyter_mltrack.compare import compare
from jupyter_mltrack.compare.artifacts import artifacts_section, thinned
from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import ArtifactError
from jupyter_mltrack.models.steps import step_of, stepped
from jupyter_mltrack.store import Store
from jupyter_mltrack.widgets.render import artifacts_html, comparison_html, shown_images


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


def gray(level: float) -> np.ndarray:
    return np.full((6, 6), level)


def pixels(st: Store, run_id: str, name: str) -> np.ndarray:
    art = st.get_artifact(run_id, name)
    with Image.open(io.BytesIO(artifacts.read_bytes(st, art))) as img:
        return np.asarray(img)


def series_run(levels: dict[int, float], name: str = "pred") -> str:
    with mltrack.start_run() as run:
        for step, level in levels.items():
            mltrack.log_image(gray(level), name, step=step)
    return run.id


def test_each_step_is_an_artifact_of_the_series(api_store: Store) -> None:
    with mltrack.start_run() as run:
        first = mltrack.log_image(gray(0.0), "val/pred", step=0)
        mltrack.log_image(gray(0.5), "val/pred", step=np.int64(12))
        jpeg = mltrack.log_image(gray(1.0), "val/pred.jpg", step=1_000_000)
        mltrack.log_image(gray(0.25), "val/pred")  # the same name without a step: apart
    assert (first.name, first.files[0].path) == ("val/pred/step_000000", "step_000000.png")
    assert (jpeg.name, jpeg.files[0].path) == ("val/pred/step_1000000", "step_1000000.jpg")
    assert jpeg.media_type == "image/jpeg"
    listed = {a.name: step_of(a.meta) for a in api_store.list_artifacts(run.id)}
    assert listed == {
        "val/pred": None,
        "val/pred/step_000000": ("val/pred", 0),
        "val/pred/step_000012": ("val/pred", 12),
        "val/pred/step_1000000": ("val/pred", 1_000_000),
    }
    assert pixels(api_store, run.id, "val/pred/step_000012").tolist() == [[128] * 6] * 6


def test_logging_a_step_again_replaces_it(api_store: Store) -> None:
    with mltrack.start_run() as run:
        mltrack.log_image(gray(0.0), "pred", step=3)
        mltrack.log_image(gray(1.0), "pred", step=3)
    (art,) = api_store.list_artifacts(run.id)
    assert art.meta["step"] == 3
    assert pixels(api_store, run.id, art.name).tolist() == [[255] * 6] * 6


def test_a_figure_at_a_step_keeps_its_formats(api_store: Store) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with mltrack.start_run() as run:
        art = mltrack.log_figure(fig, "plots/loss", step=4)
        svg = mltrack.log_figure(fig, "plots/roc.svg", step=4)
    plt.close(fig)
    assert art.name == "plots/loss/step_000004"
    assert [f.path for f in art.files] == ["step_000004.png", "step_000004.svg"]
    assert art.meta["primary"] == "step_000004.png"
    assert step_of(art.meta) == ("plots/loss", 4)
    assert [f.path for f in svg.files] == ["step_000004.svg"]
    rows = artifacts_section(api_store, [run.id])
    assert {r["name"]: r["view"] for r in rows} == {"plots/loss": "series", "plots/roc": "series"}


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (1.5, "a step is an integer, not float 1.5"),
        (True, "a step is an integer, not True"),
        ("3", "a step is an integer, not str '3'"),
        (2**63, "out of range: steps are 64-bit integers"),
    ],
)
def test_a_step_that_is_no_integer_is_refused_and_nothing_recorded(
    api_store: Store, step: Any, message: str
) -> None:
    with mltrack.start_run() as run, pytest.raises(ArtifactError, match=message):
        mltrack.log_image(gray(0.5), "pred", step=step)
    assert api_store.list_artifacts(run.id) == []


def test_stepped_names() -> None:
    assert stepped("pred", 7) == ("pred/step_000007", "step_000007", {"series": "pred", "step": 7})
    assert stepped("a/b.jpg", -2)[:2] == ("a/b/step_-00002", "step_-00002.jpg")
    assert step_of({"series": "pred", "step": 7}) == ("pred", 7)
    for meta in ({}, {"series": "pred"}, {"series": "", "step": 1}, {"series": "p", "step": True}):
        assert step_of(meta) is None


def test_a_series_compares_as_one_row_with_each_runs_steps(api_store: Store) -> None:
    base = series_run({0: 0.0, 1: 0.5, 2: 1.0})
    same = series_run({0: 0.0, 1: 0.5, 2: 1.0})
    other = series_run({0: 0.0, 1: 0.75, 3: 1.0})  # step 1 changed, 2 removed, 3 added
    with mltrack.start_run() as lone:
        mltrack.log_image(gray(0.0), "other", step=0)

    rows = {r["name"]: r for r in artifacts_section(api_store, [base, same, other, lone.id])}
    assert list(rows) == ["other", "pred"]
    pred = rows["pred"]
    assert (pred["view"], pred["kind"], pred["status"]) == ("series", "file", "missing")
    assert pred["states"] == [None, "same", "changed", "missing"]
    assert pred["file_changes"][1] == {"added": 0, "removed": 0, "changed": 0}
    assert pred["file_changes"][2] == {"added": 1, "removed": 1, "changed": 1}
    assert pred["runs"][3] is None and pred["steps"][3] is None
    side = pred["runs"][2]
    assert (side["step_count"], side["first_step"], side["last_step"]) == (3, 0, 3)
    steps = pred["steps"][2]
    assert [s["step"] for s in steps] == [0, 1, 3]
    assert steps[1]["name"] == "pred/step_000001" and steps[1]["run_id"] == other
    assert steps[1]["path"] == "step_000001.png" and steps[1]["media_type"] == "image/png"
    # equal digests are the same bytes: step 0 of every run, not step 1 of the third
    digests = [{s["step"]: s["digest"] for s in run} for run in pred["steps"][:3]]
    assert digests[0][0] == digests[1][0] == digests[2][0]
    assert digests[0][1] == digests[1][1] != digests[2][1]
    assert rows["other"]["states"] == [None, None, None, "added"]

    same_only = {r["name"]: r for r in artifacts_section(api_store, [base, same])}
    assert same_only["pred"]["status"] == "same"


def test_a_long_series_lists_its_steps_spread_evenly(
    api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(section, "MAX_SERIES_STEPS", 4)
    run_id = series_run({step: step / 10 for step in range(10)})
    (row,) = artifacts_section(api_store, [run_id])
    assert [s["step"] for s in row["steps"][0]] == [0, 3, 6, 9]
    assert row["runs"][0]["step_count"] == 10  # all of them counted


def test_thinned() -> None:
    assert thinned([1, 2, 3], 5) == [1, 2, 3]
    assert thinned(list(range(101)), 3) == [0, 50, 100]
    assert thinned(list(range(10)), 1) == [9]
    assert thinned(list(range(10)), 0) == []
    picked = thinned(list(range(1000)), 500)
    assert len(picked) == 500 and picked[0] == 0 and picked[-1] == 999


def test_the_notebook_html_shows_each_runs_last_step(api_store: Store) -> None:
    base = series_run({0: 0.0, 1: 0.5})
    other = series_run({0: 0.0, 1: 0.75, 2: 1.0})
    data = compare(api_store, [base, other]).to_dict()
    (row,) = [r for r in data["artifacts"] if r["name"] == "pred"]
    assert [ref["step"] for ref in shown_images(row)] == [1, 2]
    last = shown_images(row)[1]
    page = artifacts_html(data, {(last["run_id"], last["name"]): "data:image/png;base64,AAAA"})
    assert "step 2" in page and 'src="data:image/png;base64,AAAA"' in page
    table = comparison_html(data)
    assert "(2 steps)" in table and "(3 steps)" in table and "1 added" in table


def test_an_exported_pipeline_logs_images_at_their_steps(api_store: Store) -> None:
    """The exported script's ``mltrack`` (``_Tracker``) passes ``step=`` on."""
    from jupyter_mltrack.pipeline.script_runtime import _TRACKER

    namespace: dict[str, Any] = {}
    exec(_TRACKER, namespace)
    tracker = namespace["_Tracker"]()
    with mltrack.start_run() as run:
        tracker.active = mltrack.active_run()
        tracker.log_image(gray(0.5), "pred", step=2)
        tracker.log_figure(_plotly(), "curve", step=5)
    names = sorted(a.name for a in api_store.list_artifacts(run.id))
    assert names == ["curve/step_000005", "pred/step_000002"]


def _plotly() -> Any:
    import plotly.graph_objects as go

    return go.Figure(go.Scatter(y=[1, 3, 2]))


def test_the_terminal_lists_a_series_as_one_line_and_gets_it_as_a_folder(
    api_store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from jupyter_mltrack.cli import main

    run_id = series_run({step: step / 30 for step in range(0, 30)})
    with mltrack.start_run() as other:  # another run's artifacts are not listed
        mltrack.log_text("hi", "notes.txt")
    url = api_store.url

    def cli(*argv: str) -> str:
        assert main(["--store", url, *argv]) == 0
        return capsys.readouterr().out

    listed = cli("artifacts", "list", run_id).splitlines()
    assert listed[0].endswith(": 30 artifacts")
    assert listed[2].split()[:4] == ["pred", "file", "series", "30"]
    assert listed[3] == (
        f"pred: 30 steps (0-29); one of them: mltrack artifacts get {run_id} pred/step_000029"
    )
    assert len(cli("artifacts", "list", run_id, "--steps").splitlines()) == 2 + 30
    assert "  pred  file series, 30 steps (0-29), " in cli("runs", "show", run_id)

    out = cli("artifacts", "get", run_id, "pred", "-o", str(tmp_path / "frames"))
    assert out.startswith(f"wrote {tmp_path / 'frames'}/ (30 files, ")
    assert out.endswith(f": series 'pred' of run #1 of Default ({run_id[:8]}), 30 steps\n")
    frames = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert frames == [f"step_{step:06d}.png" for step in range(30)]
    with Image.open(tmp_path / "frames" / "step_000015.png") as img:
        assert np.asarray(img).tolist() == [[128] * 6] * 6

    # an unknown name lists 20 of the run's names, not every step
    assert main(["--store", url, "artifacts", "get", run_id, "nope"]) != 0
    err = capsys.readouterr().err
    assert "'pred/step_000019', … 10 more)" in err and "step_000020" not in err
    assert other.id != run_id
