"""Reading artifacts back from Python, as MLflow's ``mlflow.artifacts.load_text`` /
``load_dict`` / ``load_image`` / ``download_artifacts`` do: every ``log_*`` kind comes back
as the value it was (``load_text``, ``load_dict``, ``load_image``, ``load_figure``) or as
files (``download_artifact``), by the ``"RUN/NAME"`` references the rest of the API takes,
with a file of a folder named inside the reference, and a series by its name; what cannot
be read so is refused, saying what can read it. Through ``mltrack.*`` on a real SQLite
store, and ``mltrack artifacts get`` for what it gained (a file named inside NAME,
``--step``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.cli import main
from jupyter_mltrack.models.artifacts import ArtifactError
from jupyter_mltrack.models.refs import ModelRefError
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.errors import ArtifactNotFound


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    """The store ``mltrack.*`` writes into and reads from (SQLite, blobs beside it)."""
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


@pytest.fixture
def logged(api_store: Store, tmp_path: Path) -> str:
    """Run #1 of the default experiment, with one artifact of each kind; its id."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    reports = tmp_path / "reports"
    (reports / "deep").mkdir(parents=True)
    (reports / "summary.txt").write_text("accuracy 0.93\n")
    (reports / "deep" / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "weights.bin").write_bytes(bytes(range(256)) * 4)
    with mltrack.start_run(name="readback") as run:
        mltrack.log_text("line one\nline two é\n", "notes/log.txt")
        mltrack.log_dict({"lr": 0.1, "layers": [3, 4], "name": "ü"}, "config")
        mltrack.log_dict({"lr": 0.2, "tags": ["a", "b"]}, "settings.yaml")
        mltrack.log_artifact(reports)
        mltrack.log_artifact(tmp_path / "weights.bin")
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        mltrack.log_figure(fig, "loss")
        plt.close(fig)
        mltrack.log_figure(go.Figure(go.Bar(y=[1, 2], name="bars")), "bars")
        for step in (0, 5, 10):
            mltrack.log_image(np.full((4, 6), step * 20, dtype=np.uint8), "pred", step=step)
        mltrack.log_image(np.arange(24, dtype=np.uint8).reshape(2, 4, 3), "rgb")
    return run.id


# values ---------------------------------------------------------------------------------------


def test_every_kind_reads_back_as_the_value_it_was(logged: str) -> None:
    import plotly.graph_objects as go

    readers = ("list_artifacts", "load_text", "load_dict", "load_image", "load_figure")
    for name in (*readers, "download_artifact"):  # public, and offered by tab completion
        assert name in mltrack.__all__ and name in dir(mltrack), name

    assert mltrack.load_text("1/notes/log.txt") == "line one\nline two é\n"
    assert mltrack.load_text(f"{logged}/notes/log.txt") == "line one\nline two é\n"  # by id
    assert mltrack.load_text(f"{logged[:8]}/notes/log.txt") == "line one\nline two é\n"
    assert mltrack.load_dict("1/config.json") == {"lr": 0.1, "layers": [3, 4], "name": "ü"}
    assert mltrack.load_dict("1/settings.yaml") == {"lr": 0.2, "tags": ["a", "b"]}
    assert mltrack.load_text("1/settings.yaml") == "lr: 0.2\ntags:\n- a\n- b\n"

    # a file of a folder artifact, named in the reference or with path=, at any depth
    assert mltrack.load_text("1/reports/summary.txt") == "accuracy 0.93\n"
    assert mltrack.load_text("1/reports", path="summary.txt") == "accuracy 0.93\n"
    assert mltrack.load_text("1/reports/deep/table.csv") == "a,b\n1,2\n"

    image = mltrack.load_image("1/rgb")
    assert image.mode == "RGB" and image.size == (4, 2)
    assert np.array_equal(np.asarray(image), np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    # a series: its last step, or the step asked for
    assert np.asarray(mltrack.load_image("1/pred")).tolist() == [[200] * 6] * 4
    assert np.asarray(mltrack.load_image("1/pred", step=5)).tolist() == [[100] * 6] * 4
    assert np.asarray(mltrack.load_image("1/pred", step=np.int64(0))).max() == 0
    # a matplotlib figure is read as its PNG
    loss = mltrack.load_image("1/loss")
    assert loss.format == "PNG" and loss.size[0] > 100

    bars = mltrack.load_figure("1/bars")
    assert isinstance(bars, go.Figure)
    assert bars.to_dict()["data"] == go.Figure(go.Bar(y=[1, 2], name="bars")).to_dict()["data"]


def test_what_cannot_be_read_so_is_refused_saying_what_can(logged: str) -> None:
    with pytest.raises(ArtifactError, match=r"not UTF-8 text \(weights.bin: byte 128 is 0x80\)"):
        mltrack.load_text("1/weights.bin")
    with pytest.raises(ArtifactError, match=r"folder artifact of 2 files: name one with path="):
        mltrack.load_text("1/reports")
    with pytest.raises(ArtifactError, match=r"reports/deep/table.csv.*deep/table.csv"):
        mltrack.load_text("1/reports/deep/table.csv", path="summary.txt")
    with pytest.raises(ArtifactError, match="is not JSON.*load_text reads it as text"):
        mltrack.load_dict("1/notes/log.txt")
    with pytest.raises(ArtifactError, match="not an image Pillow reads"):
        mltrack.load_image("1/notes/log.txt")
    with pytest.raises(ArtifactError, match="load_figure reads a plotly figure"):
        mltrack.load_image("1/bars")
    with pytest.raises(ArtifactError, match="matplotlib figure, kept as loss.png and loss.svg"):
        mltrack.load_figure("1/loss")
    with pytest.raises(ArtifactError, match="holds no plotly JSON"):
        mltrack.load_figure("1/notes/log.txt")
    with pytest.raises(ArtifactError, match=r"is not a plotly figure \(config.json: Invalid prop"):
        mltrack.load_figure("1/config.json")
    with pytest.raises(ArtifactError, match="a text artifact, not a series: step="):
        mltrack.load_text("1/notes/log.txt", step=1)
    with pytest.raises(ArtifactError, match="series of 3 steps.*pass step= to name one"):
        mltrack.load_image("1/pred", path="step_000005.png")
    with pytest.raises(
        ArtifactNotFound, match=r"no step 7 \(it has 3 steps, 0-10; the nearest: 5\)"
    ):
        mltrack.load_image("1/pred", step=7)
    with pytest.raises(ArtifactError, match="a step is an integer"):
        mltrack.load_image("1/pred", step=1.5)
    with pytest.raises(ArtifactNotFound, match=r"no artifact 'nope'.*'config.json'"):
        mltrack.load_text("1/nope")
    with pytest.raises(ArtifactNotFound, match=r"artifact 'reports' has no file 'missing.txt'"):
        mltrack.load_text("1/reports/missing.txt")
    with pytest.raises(ArtifactNotFound, match=r"has no file 'nope'.*summary.txt"):
        mltrack.load_text("1/reports", path="nope")
    with pytest.raises(ModelRefError, match="cannot read"):
        mltrack.load_text("config.json")
    with pytest.raises(ArtifactError, match="an artifact reference is text"):
        mltrack.load_text(1)  # type: ignore[arg-type]


def test_an_exact_name_wins_over_a_file_of_a_folder(api_store: Store, tmp_path: Path) -> None:
    """``a/b.txt`` is both an artifact of its own and a file of the folder ``a``: the
    reference names the artifact, as a listing shows it; ``path=`` reaches the other."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_text("in the folder")
    with mltrack.start_run():
        mltrack.log_artifact(tmp_path / "a")
        mltrack.log_text("its own", "a/b.txt")
    assert mltrack.load_text("1/a/b.txt") == "its own"
    assert mltrack.load_text("1/a", path="b.txt") == "in the folder"


def test_load_dict_reads_yaml_safely(api_store: Store, tmp_path: Path) -> None:
    """A YAML file is read with ``safe_load``: a tag that would call a function is refused,
    and the function is not called."""
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"!!python/object/apply:os.mkdir ['{marker}']\n")
    with mltrack.start_run():
        mltrack.log_artifact(evil)
    with pytest.raises(ArtifactError, match="is not YAML safe_load reads"):
        mltrack.load_dict("1/evil.yaml")
    assert not marker.exists()


def test_list_artifacts_of_the_active_run_and_by_reference(api_store: Store) -> None:
    with pytest.raises(
        ArtifactError, match=r"no run is active: name one, e.g. list_artifacts\(3\)"
    ):
        mltrack.list_artifacts()
    with mltrack.start_run() as run:
        assert mltrack.list_artifacts() == []
        mltrack.log_text("hi", "hello.txt")
        mltrack.log_image(np.zeros((2, 2), dtype=np.uint8), "img", step=3)
        assert [a.name for a in mltrack.list_artifacts()] == ["hello.txt", "img/step_000003"]
    listed = mltrack.list_artifacts(1)
    assert [a.name for a in listed] == ["hello.txt", "img/step_000003"]
    # one line each, as a notebook shows the list
    assert repr(listed) == (
        f"[<Artifact 'hello.txt' (text text/plain, 1 file, 2 bytes) of run {run.id[:8]}>, "
        f"<Artifact 'img/step_000003' (file image/png, 1 file, {listed[1].size:,} bytes, "
        f"step 3) of run {run.id[:8]}>]"
    )
    assert listed[0].kind == "text" and listed[0].size == 2 and listed[0].run_id == run.id
    assert [a.name for a in mltrack.list_artifacts(run.id[:8], store=api_store)] == [
        "hello.txt",
        "img/step_000003",
    ]


# files ----------------------------------------------------------------------------------------


def test_download_writes_each_kind_under_its_name(
    logged: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert mltrack.download_artifact("1/notes/log.txt") == Path("notes/log.txt")
    assert (work / "notes" / "log.txt").read_text() == "line one\nline two é\n"
    assert mltrack.download_artifact("1/reports") == Path("reports")
    assert (work / "reports" / "deep" / "table.csv").read_text() == "a,b\n1,2\n"
    # a series: a folder of its steps; one step; one file of a folder, under its own name
    assert mltrack.download_artifact("1/pred") == Path("pred")
    assert sorted(p.name for p in (work / "pred").iterdir()) == [
        "step_000000.png",
        "step_000005.png",
        "step_000010.png",
    ]
    out = tmp_path / "out"
    out.mkdir()
    # a one-file artifact whose name has no extension keeps its file's: it opens in a viewer
    assert mltrack.download_artifact("1/pred", out, step=5) == out / "pred" / "step_000005.png"
    assert (out / "pred" / "step_000005.png").read_bytes()[:4] == b"\x89PNG"
    assert mltrack.download_artifact("1/rgb", out) == out / "rgb.png"
    assert mltrack.download_artifact("1/config.json", out / "cfg") == out / "cfg"  # as named
    assert mltrack.download_artifact("1/reports/deep/table.csv", out) == out / "table.csv"
    assert mltrack.download_artifact("1/loss", out / "plot") == out / "plot"
    assert sorted(p.name for p in (out / "plot").iterdir()) == ["loss.png", "loss.svg"]

    # nothing is replaced without force=True; with it, the whole of it is
    (work / "reports" / "stale.txt").write_text("old")
    with pytest.raises(ArtifactError, match=r"reports already exists \(pass force=True to replace"):
        mltrack.download_artifact("1/reports")
    with pytest.raises(ArtifactError, match=r"log.txt already exists \(pass force=True"):
        mltrack.download_artifact("1/notes/log.txt")
    mltrack.download_artifact("1/reports", force=True)
    assert sorted(p.name for p in (work / "reports").iterdir()) == ["deep", "summary.txt"]
    with pytest.raises(ArtifactError, match=r"no such folder: .*missing"):
        mltrack.download_artifact("1/config.json", tmp_path / "missing" / "x.json")
    assert not list(tmp_path.rglob("*.mltrack-tmp"))


def test_download_of_a_registered_model_writes_its_files(api_store: Store, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]])
    with mltrack.start_run():
        info = mltrack.log_model(LogisticRegression().fit(X, [0, 1, 0, 1]), register="clf")
    mltrack.set_alias("clf", "production", info.registered.version)
    written = mltrack.download_artifact("models:/clf@production", tmp_path / "deploy")
    assert written == tmp_path / "deploy"
    assert (tmp_path / "deploy" / "model.skops").read_bytes()[:2] == b"PK"
    with pytest.raises(ArtifactError, match="not UTF-8 text.*mltrack.load_model loads it"):
        mltrack.load_text("models:/clf@production")


def test_a_failed_download_leaves_nothing(
    logged: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mltrack.models import readback

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(readback, "materialize", full)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(ArtifactError, match="cannot write .*dest/notes/log.txt: No space left"):
        mltrack.download_artifact("1/notes/log.txt", dest)  # would make dest/notes/
    with pytest.raises(ArtifactError, match="cannot write .*dest/reports: No space left"):
        mltrack.download_artifact("1/reports", dest)
    assert list(dest.iterdir()) == []  # no partial file, no folder made for it


# the terminal ---------------------------------------------------------------------------------


def test_artifacts_get_takes_a_file_in_the_name_and_a_step(
    logged: str, api_store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "got"
    out.mkdir()
    get = ["artifacts", "get", "--store", api_store.url, "1"]
    assert main([*get, "reports/deep/table.csv", "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith(
        f"wrote {out / 'table.csv'} (8 B): deep/table.csv of artifact 'reports' of run #1"
    )
    assert (out / "table.csv").read_text() == "a,b\n1,2\n"
    assert main([*get, "pred", "--step", "10", "-o", str(out / "last.png")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {out / 'last.png'} (")
    assert (out / "last.png").read_bytes()[:4] == b"\x89PNG"
    # the library's options, as a terminal spells them
    assert main([*get, "pred", "--path", "x.png"]) == 1
    assert "pass --step to name one, not --path 'x.png'" in capsys.readouterr().err
    assert main([*get, "notes/log.txt", "--step", "2"]) == 1
    assert "a text artifact, not a series: --step is for images" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.mltrack-tmp"))
