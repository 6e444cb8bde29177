"""A run records the artifacts of other runs it used (W&B's ``use_artifact`` edge): every
loader (``load_model``, ``load_table``, ``load_text``, ``load_dict``, ``load_image``,
``load_figure``), ``download_artifact`` and ``use_artifact`` itself, called while a run is
open. Lineage answers both ways (what a model's run used; which runs used the model, with
their metrics), ``runs show`` and the run detail list them, a comparison matches them across
runs and ``explain`` weighs them as a factor: the evaluation of churn v1 against v2 is
explained by the model it loaded. Real SQLite (and PostgreSQL for the store's rows), a real
kernel for ``%%track`` and the exported pipeline, a real spool.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.cli import main
from jupyter_mltrack.compare.comparison import compare
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.store import RunNotFound, Store
from jupyter_mltrack.store.spool import Spool, SpoolingStore, spool_path

from .test_pipeline import Session, session_reading_data
from .test_pipeline import mltrack as mltrack_cli


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((200, 3))
    y = (X[:, 0] + 0.3 * rng.random(200) > 0.6).astype(int)
    return X, y


@pytest.fixture
def trained(api_store: Store, tmp_path: Path) -> dict[str, str]:
    """Run #1 of ``train`` logs a model (registered as churn v1, ``@production``) and one
    artifact of every other kind; run #2 a weaker model (churn v2). Their ids."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "summary.txt").write_text("ok\n")
    ids = {}
    with mltrack.start_run(experiment="train") as run:
        fitted = LogisticRegression(C=10.0).fit(X[:100], y[:100])
        mltrack.log_model(fitted, "model", signature_from=X[:3], register="churn")
        mltrack.log_text("notes", "notes.txt")
        mltrack.log_dict({"lr": 0.1}, "config")
        mltrack.log_table(pd.DataFrame({"id": [1, 2], "f": [0.5, 0.7]}), "features")
        mltrack.log_artifact(folder)
        mltrack.log_figure(go.Figure(go.Bar(y=[1, 2])), "bars")
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        mltrack.log_figure(fig, "curve")
        plt.close(fig)
        for step in (0, 1, 2):
            mltrack.log_image(np.full((4, 4), step * 40, dtype=np.uint8), "pred", step=step)
    ids["strong"] = run.id
    with mltrack.start_run(experiment="train") as run:
        weak = LogisticRegression(C=0.001).fit(X[:100], y[:100])
        mltrack.log_model(weak, "model", signature_from=X[:3], register="churn")
    ids["weak"] = run.id
    mltrack.set_alias("churn", "production", 1)
    return ids


def _uses(store: Store, run_id: str) -> list[tuple[str, str, str, str | None, int | None]]:
    return [(u.ref, u.how, u.name, u.model, u.version) for u in store.artifacts_used(run_id)]


# recording ------------------------------------------------------------------------------------


def test_every_reader_records_what_the_open_run_used(
    api_store: Store, trained: dict[str, str], tmp_path: Path
) -> None:
    strong = trained["strong"]
    with mltrack.start_run(experiment="eval") as run:
        model = mltrack.load_model("models:/churn@production")
        written = api_store.revision()
        mltrack.load_model("models:/churn@production")  # again: nothing is written
        assert api_store.revision() == written
        mltrack.load_model(f"{strong}/model")  # the same artifact by its run: one use
        assert mltrack.load_text(f"{strong}/notes.txt") == "notes"
        assert mltrack.load_dict(f"{strong}/config.json") == {"lr": 0.1}
        assert list(mltrack.load_table(f"{strong}/features")["f"]) == [0.5, 0.7]
        assert mltrack.load_text(f"{strong}/reports/summary.txt") == "ok\n"  # a folder's file
        mltrack.load_figure(f"{strong}/bars")
        mltrack.load_image(f"{strong}/curve")
        mltrack.load_image(f"{strong}/pred", step=1)  # one step of a series: that step
        mltrack.download_artifact(f"{strong}/pred", tmp_path / "steps")  # the whole series
        used = mltrack.use_artifact(f"{strong[:8]}/notes.txt")  # recorded once already
        assert used.name == "notes.txt" and used.run_id == strong
        X, y = _data()
        assert model.score(X[100:], y[100:]) > 0.8
    assert _uses(api_store, run.id) == [
        ("models:/churn@production", "load_model", "model", "churn", 1),
        (f"{strong}/notes.txt", "load_text", "notes.txt", None, None),
        (f"{strong}/config.json", "load_dict", "config.json", None, None),
        (f"{strong}/features", "load_table", "features", None, None),
        (f"{strong}/reports/summary.txt", "load_text", "reports", None, None),
        (f"{strong}/bars", "load_figure", "bars", None, None),
        (f"{strong}/curve", "load_image", "curve", None, None),
        (f"{strong}/pred", "load_image", "pred/step_000001", None, None),
        (f"{strong}/pred", "download_artifact", "pred/step_000000", None, None),
        (f"{strong}/pred", "download_artifact", "pred/step_000002", None, None),
    ]
    (first, *_) = api_store.artifacts_used(run.id)
    assert (first.source_number, first.source_experiment, first.source_exists) == (1, "train", True)
    assert (first.run_number, first.run_experiment) == (1, "eval")
    artifact = api_store.get_artifact(strong, "model")
    assert first.digest == artifact.content_digest and first.kind == "model"


def test_a_registered_model_loaded_by_its_run_is_that_version(
    api_store: Store, trained: dict[str, str]
) -> None:
    """``RUN/model`` of an artifact registered as churn v2 is a use of churn v2: searched,
    compared and explained as one through ``models:/``; a run's own reference is pinned,
    so reproduce never says it moved."""
    from jupyter_mltrack.pipeline.usecheck import _check

    with mltrack.start_run(experiment="eval") as run:
        mltrack.load_model(f"{trained['weak']}/model")
    (use,) = api_store.artifacts_used(run.id)
    assert (use.ref, use.model, use.version) == (f"{trained['weak']}/model", "churn", 2)
    found = mltrack.search_runs("used = churn")
    assert list(zip(found["experiment"], found["number"], strict=True)) == [("eval", 1)]
    other = api_store.artifacts_used(run.id)[0]
    moved = _check("churn", use, replace(other, digest="other", version=3))
    assert moved.equal is False  # and no "pin it" advice: the reference was pinned
    assert moved.detail == f"{use.ref} loaded churn v3, not churn v2"


def test_reading_outside_a_run_or_ones_own_artifact_is_no_use(
    api_store: Store, trained: dict[str, str]
) -> None:
    before = api_store.revision()
    mltrack.load_model("models:/churn/2")  # no run open: none is started for a read
    assert mltrack.active_run() is None and api_store.revision() == before
    assert api_store.artifact_users(trained["weak"]) == []
    with mltrack.start_run(experiment="eval") as run:
        mltrack.log_text("mine", "own.txt")
        assert mltrack.load_text(f"{run.id}/own.txt") == "mine"  # it made it: not a use
    assert api_store.artifacts_used(run.id) == []


def test_a_read_from_another_store_is_not_recorded_in_the_run(
    api_store: Store, trained: dict[str, str], tmp_path: Path
) -> None:
    """``store=`` another store: its run ids mean nothing in the run's store."""
    other = Store(f"sqlite:///{tmp_path / 'other' / 'mltrack.db'}")
    try:
        producer = other.create_run("elsewhere")
        write_artifact(other, producer.id, "notes", "text", [Source("notes.txt", data=b"hi")])
        with mltrack.start_run(experiment="eval") as run:
            assert mltrack.load_text(f"{producer.id}/notes", store=other) == "hi"
        assert api_store.artifacts_used(run.id) == []
    finally:
        other.close()


def test_a_use_that_cannot_be_recorded_never_fails_the_read(
    api_store: Store, trained: dict[str, str]
) -> None:
    """The open run was deleted from under the notebook (another process): the model
    loads all the same, and the notebook is told, once, at its own line."""
    run = mltrack.start_run(experiment="eval")
    Store(api_store.url).delete_run(run.id)
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            assert mltrack.load_model("models:/churn/1") is not None
            assert mltrack.load_text(f"{trained['strong']}/notes.txt") == "notes"
        (warning,) = [w for w in said if "was not recorded" in str(w.message)]
        assert "load_model('models:/churn/1') read it" in str(warning.message)
        assert warning.filename == __file__  # the user's line, not the package's
    finally:
        with contextlib.suppress(RunNotFound):  # its end has no run to write to either
            mltrack.end_run()


def test_a_use_outlives_its_artifact_and_goes_with_its_run(api_store: Store) -> None:
    producer = api_store.create_run("train")
    write_artifact(api_store, producer.id, "notes", "text", [Source("n.txt", data=b"n")])
    with mltrack.start_run(experiment="eval") as run:
        mltrack.load_text(f"{producer.id}/notes")
    api_store.delete_run(producer.id)
    (use,) = api_store.artifacts_used(run.id)
    assert (use.source_run_id, use.source_number, use.source_exists) == (producer.id, None, False)
    api_store.delete_run(run.id)  # the user's row goes with it
    assert api_store.artifact_users(producer.id) == []


def test_the_store_keeps_one_use_per_artifact_on_both_databases(blob_store: Store) -> None:
    """On SQLite and PostgreSQL: the first use is kept, a run's own artifact is no use,
    both directions read back, and many runs' uses are one query's."""
    store = blob_store
    producer = store.create_run("train")
    write_artifact(store, producer.id, "notes", "text", [Source("n.txt", data=b"n")])
    users = [store.create_run("eval") for _ in range(3)]
    use = {
        "source_run_id": producer.id,
        "name": "notes",
        "kind": "text",
        "digest": "d" * 32,
        "ref": "1/notes",
        "how": "load_text",
    }
    for i, user in enumerate(users):
        store.record_artifact_uses(user.id, [{**use, "used_at": 100.0 + i}])
        store.record_artifact_uses(user.id, [{**use, "ref": "again", "used_at": 200.0}])
    store.record_artifact_uses(producer.id, [use])  # its own
    assert store.artifacts_used(producer.id) == []
    assert [u.ref for u in store.artifacts_used(users[0].id)] == ["1/notes"]
    newest = store.artifact_users(producer.id, "notes", limit=2)
    assert [u.run_number for u in newest] == [3, 2]
    assert store.artifact_user_count(producer.id) == 3
    assert set(store.runs_uses([u.id for u in users])) == {u.id for u in users}


def test_a_use_made_while_the_store_is_away_is_written_with_the_run(tmp_path: Path) -> None:
    """Kept in the spool in order with the run's other writes, and written by ``sync``."""
    st = SpoolingStore(str(tmp_path / "home"))
    url = st.url
    try:
        producer = st.create_run("train")
        write_artifact(st, producer.id, "notes", "text", [Source("n.txt", data=b"n")])
        user = st.create_run("eval")
        st._go_offline("the test took the store away")
        artifact = st.get_artifact(producer.id, "notes")  # reads still work here
        from jupyter_mltrack.models.uses import use_of

        st.record_artifact_uses(user.id, [use_of(artifact, "1/notes", "load_text", None)])
        assert st.spool.count() == 1
    finally:
        st.close()
    assert main(["--store", url, "sync"]) == 0
    assert Spool(spool_path(url)).count() == 0
    back = Store(url)
    try:
        (use,) = back.artifacts_used(user.id)
        assert (use.ref, use.name, use.digest) == ("1/notes", "notes", artifact.content_digest)
    finally:
        back.close()


# lineage, the run's detail, the terminal ------------------------------------------------------


def test_lineage_lists_what_the_run_used_and_who_used_the_model(
    api_store: Store, trained: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with mltrack.start_run(experiment="eval", name="v1 on test") as ev:
        model = mltrack.load_model("models:/churn@production")
        X, y = _data()
        mltrack.log_metric("accuracy", model.score(X[100:], y[100:]))
    with mltrack.start_run(experiment="train") as tuned:  # fine-tunes from a base model
        mltrack.load_model("models:/churn/2")
        mltrack.log_model(model, "model", register="churn-tuned")
    up = mltrack.lineage("models:/churn-tuned/1")
    assert [(u["ref"], u["model"], u["version"]) for u in up["used"]] == [
        ("models:/churn/2", "churn", 2)
    ]
    down = mltrack.lineage("models:/churn@production")
    assert down["used_by"]["count"] == 1
    (user,) = down["used_by"]["runs"]
    assert (user["run_id"], user["status"], user["ref"]) == (
        ev.id,
        "finished",
        "models:/churn@production",
    )
    assert user["metrics"]["accuracy"] > 0.8

    assert main(["--store", api_store.url, "models", "lineage", "churn@production"]) == 0
    text = capsys.readouterr().out
    assert "used by 1 run" in text and f"#1 of eval ({ev.id[:8]}): finished" in text
    assert main(["--store", api_store.url, "models", "lineage", "churn-tuned/1"]) == 0
    text = capsys.readouterr().out
    assert "used: 1 artifact of other runs" in text
    assert "models:/churn/2  load_model: model 'model' of run #2 of train" in text
    assert ", as churn v2" in text and tuned.id[:8] in text

    assert main(["--store", api_store.url, "runs", "show", "1", "-e", "eval"]) == 0
    text = capsys.readouterr().out
    assert "Used\n  models:/churn@production  model 'model' of run #1 of train" in text
    assert main(["--store", api_store.url, "runs", "show", "1", "-e", "train"]) == 0
    text = capsys.readouterr().out
    assert "Used by (1 run)\n  #1 of eval" in text
    assert main(["--store", api_store.url, "runs", "show", "1", "-e", "train", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["used"] == [] and detail["used_by"]["count"] == 1


# comparing and explaining ---------------------------------------------------------------------


def _evaluations(store: Store, n: int = 8) -> list[str]:
    """``n`` evaluations in ``eval``, alternately of churn v1 and v2, same code and params:
    only the model loaded differs."""
    X, y = _data()
    ids = []
    rng = np.random.default_rng(1)
    for i in range(n):
        with mltrack.start_run(experiment="eval", params={"split": "test"}) as run:
            model = mltrack.load_model(f"models:/churn/{1 + i % 2}")
            noise = float(rng.random()) * 1e-4
            mltrack.log_metric("accuracy", model.score(X[100:], y[100:]) + noise)
        ids.append(run.id)
    return ids


def test_a_comparison_and_explain_name_the_model_each_run_loaded(
    api_store: Store, trained: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first, second, *_ = _evaluations(api_store)
    data = compare(api_store, [first, second]).to_dict()
    (row,) = data["used"]
    assert row["key"] == "churn" and row["states"] == [None, "changed"]
    assert [(e["version"], e["source_number"]) for e in row["entries"]] == [(1, 1), (2, 2)]
    same = compare(api_store, [first, _evaluations(api_store, 1)[0]]).to_dict()
    assert same["used"][0]["states"] == [None, "same"]

    why = mltrack.explain(first, second, "accuracy")
    top = why.factors[0]
    assert (top.kind, top.key, top.status) == ("used", "churn", "supported")
    assert "loaded `churn`: churn v1 → churn v2 (models:/churn/1 → models:/churn/2)" in str(why)

    assert main(["--store", api_store.url, "runs", "compare", "1", "2", "-e", "eval"]) == 0
    text = capsys.readouterr().out
    assert (
        "Used\n  USED   #1 (base)      #2\n  churn  churn v1 (#1)  churn v2 (#2): changed" in text
    )
    report = tmp_path / "report.html"
    args = ["--store", api_store.url, "runs", "compare", "1", "2", "-e", "eval"]
    assert main([*args, "--html", str(report)]) == 0
    assert "churn v2 (#2): changed" in report.read_text()

    from jupyter_mltrack.widgets.render import comparison_html

    html = comparison_html(data)
    assert "churn v1 (#1)" in html and "churn v2 (#2) (changed)" in html


# a real kernel: %%track, and the pipeline exported from it ------------------------------------

TRAIN = """%%track -e train
clf = LogisticRegression(C=C).fit(X, y)
mltrack.log_model(clf, signature_from=X[:2], register="churn")"""
RETRAIN = """%%track -e train
weak = LogisticRegression(C=0.01).fit(X, y)
mltrack.log_model(weak, signature_from=X[:2], register="churn")"""
PROMOTE = 'mltrack.set_alias("churn", "production", 1)'
EVALUATE = """%%track -e evaluate
model = mltrack.load_model("models:/churn@production")
mltrack.log_metric("acc", model.score(X, y))"""


@pytest.fixture(scope="module")
def kernel_session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return session_reading_data(
        tmp_path_factory.mktemp("uses"),
        (
            "imports",
            "import pandas as pd\nimport jupyter_mltrack as mltrack\n"
            "from sklearn.linear_model import LogisticRegression\n"
            'df = pd.read_csv("data.csv")\nX, y = df[["x"]], (df["x"] > 1).astype(int)\nC = 1.0',
        ),
        ("train", TRAIN),
        ("retrain", RETRAIN),
        ("promote", PROMOTE),
        ("evaluate", EVALUATE),
    )


def test_a_tracked_cell_and_its_reproduction_record_the_model_they_loaded(
    kernel_session: Session,
) -> None:
    """The evaluation cell's run used churn v1 through ``@production``; its pipeline,
    reproduced, loads and records the same, and ``reproduce`` says so. Once the alias has
    moved, the reproduction loads v2: not reproduced, saying why and what to pin."""
    store = kernel_session.store()
    try:
        (evaluation,), _ = store.search_runs(experiment="evaluate", limit=1)
        (trained, _weak), _ = store.search_runs(experiment="train", order="number")
        assert _uses(store, evaluation.id) == [
            ("models:/churn@production", "load_model", "model", "churn", 1)
        ]
        (use,) = store.artifacts_used(evaluation.id)
        assert use.source_run_id == trained.id
    finally:
        store.close()

    def reproduce() -> dict:
        out = kernel_session.root / "r"
        done = mltrack_cli(
            kernel_session.home, "reproduce", evaluation.id, "--json", "-o", str(out),
            cwd=kernel_session.root,
        )  # fmt: skip
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return json.loads(done.stdout)

    report = reproduce()
    assert report["ok"] is True, report
    assert report["used"] == [
        {
            "key": "churn",
            "ref": "models:/churn@production",
            "original": "churn v1",
            "reproduced": "churn v1",
            "equal": True,
            "detail": "",
        }
    ]
    store = kernel_session.store()
    try:
        (child,) = store.child_runs(evaluation.id)
        assert child.source == "pipeline"
        assert _uses(store, child.id) == _uses(store, evaluation.id)
        store.set_model_alias("churn", "production", 2)  # promoted since the evaluation
    finally:
        store.close()

    report = reproduce()  # loads what @production names now: not what the run scored
    assert report["ok"] is False and "used churn" in report["differences"], report
    (check,) = report["used"]
    assert (check["original"], check["reproduced"], check["equal"]) == (
        "churn v1",
        "churn v2",
        False,
    )
    assert check["detail"] == (
        "models:/churn@production loaded churn v2, not churn v1: the alias @production has"
        " moved since the run; load models:/churn/1 in the notebook to reproduce it"
    )
    done = mltrack_cli(
        kernel_session.home, "reproduce", evaluation.id, "-o", str(kernel_session.root / "t"),
        cwd=kernel_session.root,
    )  # fmt: skip
    assert done.returncode == 1
    assert "churn  models:/churn@production  churn v1  churn v2    NO" in done.stdout
    assert "NOT reproduced: used churn differs" in done.stdout, done.stdout


def test_a_pushed_run_keeps_what_it_used(
    api_store: Store, trained: dict[str, str], tmp_path: Path
) -> None:
    """Pushed alone, the evaluation still says which model it loaded; the model's run is
    not in the team store, and the use says so rather than naming nothing."""
    with mltrack.start_run(experiment="eval") as run:
        mltrack.load_model("models:/churn@production")
    team = f"sqlite:///{tmp_path / 'team' / 'mltrack.db'}"
    args = ["--store", api_store.url, "push", "--to", team, "--experiment", "eval"]
    assert main(args) == 0
    dst = Store(team)
    try:
        (use,) = dst.artifacts_used(run.id)
        assert (use.ref, use.version, use.source_number) == ("models:/churn@production", 1, None)
    finally:
        dst.close()


# searching by what a run used -----------------------------------------------------------------


def test_runs_are_searched_by_what_they_used_on_both_databases(blob_store: Store) -> None:
    """``used`` in the query language: a registered model (any version, a version, the
    version an alias names now), an artifact loaded by its run, contains, negations and
    ``is null``; parsed back as written; refused where it means nothing."""
    from jupyter_mltrack.query import parse_filter
    from jupyter_mltrack.query.errors import QuerySyntaxError
    from jupyter_mltrack.query.search import Order, query_runs

    store = blob_store
    trainer = store.create_run("train")
    for name, kind in (("m1", "model"), ("m2", "model"), ("features", "file")):
        write_artifact(store, trainer.id, name, kind, [Source(f"{name}.bin", data=name.encode())])
    store.register_model_version("churn", trainer.id, "m1")
    store.register_model_version("churn", trainer.id, "m2")
    store.set_model_alias("churn", "production", 2)
    runs = [store.create_run("eval") for _ in range(4)]  # #1..#4 of eval

    def use(version: int | None, name: str = "") -> dict:
        name = name or f"m{version}"
        ref = f"models:/churn/{version}" if version else f"1/{name}"
        return {
            "source_run_id": trainer.id,
            "name": name,
            "kind": "file",
            "digest": name,
            "ref": ref,
            "how": "load_model" if version else "load_table",
            "model": "churn" if version else None,
            "version": version,
        }

    store.record_artifact_uses(runs[0].id, [use(1)])
    store.record_artifact_uses(runs[1].id, [use(2), use(None, "features")])
    store.record_artifact_uses(runs[2].id, [use(None, "features")])

    def numbers(query: str) -> list[int]:
        page = query_runs(store, query, limit=100, details=False, count=False)
        return sorted(r.number for r in page.runs if r.experiment == "eval")

    assert numbers("used = churn") == [1, 2]
    assert numbers('used = "churn/2"') == numbers('used = "models:/churn/2"') == [2]
    assert numbers('used = "churn@production"') == [2]  # the version it names now
    store.set_model_alias("churn", "production", 1)
    assert numbers('used = "churn@production"') == [1]
    assert numbers("used = features") == [2, 3]
    assert numbers("used = m1") == []  # loaded through the registry: used = churn
    assert numbers("used ~ feat") == [2, 3]
    assert numbers('used != "churn/1"') == [2, 3]  # used something, and not churn v1
    assert numbers('used not in ("churn/1", "churn/2")') == [3]  # none of what it used
    assert numbers('used in ("churn/1", features)') == [1, 2, 3]
    assert numbers("used is null") == [4] and numbers("used is not null") == [1, 2, 3]
    assert numbers("not used = churn") == [3, 4]
    assert numbers("used = churn and used = features") == [2]

    for text in ('used = "churn/2"', 'used ~ "feat"', "used is not null", 'used in ("a", "b")'):
        assert str(parse_filter(text)) == text
    refusals = {
        "used < 3": "'<' does not compare what a run used",
        "used.model = churn": "'used' takes no key",
    }
    for text, said in refusals.items():
        with pytest.raises(QuerySyntaxError, match=said):
            parse_filter(text)
    with pytest.raises(QuerySyntaxError, match="no value to sort or group by"):
        Order.parse("used")


def test_the_terminal_and_search_runs_filter_by_what_runs_used(
    api_store: Store, trained: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _evaluations(api_store, 4)
    frame = mltrack.search_runs('used = "churn/2"')
    assert sorted(frame["number"]) == [2, 4]
    args = ["--store", api_store.url, "runs", "list", "--filter", "used = churn/1", "-e", "eval"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["3", "1"]
