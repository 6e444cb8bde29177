"""``mltrack reproduce`` of a run that logged a model: the exported pipeline logs it again into
its own run, and the reproduced model's predictions on the example rows the original's
signature kept are compared with the recorded ones, beside the metrics.

One real kernel trains a scikit-learn model in a tracked cell (shared by the tests of this
file: a kernel with scikit-learn loaded is the slow part); the store is a real SQLite store.
How the slicer recognises the tracker's logging calls under the notebook's names for them
is checked on a hand-written log, without a kernel.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jupyter_mltrack.location import URL_ENV
from jupyter_mltrack.pipeline import modelcheck
from jupyter_mltrack.pipeline.export import ExportResult, export
from jupyter_mltrack.pipeline.modelcheck import compare_models
from jupyter_mltrack.pipeline.reproduce import ATOL, RTOL, MetricCheck, Reproduction
from jupyter_mltrack.pipeline.runslice import run_target, tracker_function
from jupyter_mltrack.pipeline.slicer import Slicer
from jupyter_mltrack.store import Execution, Store

from .test_pipeline import Session, _env, mltrack, python, session_reading_data

#: Trains on data.csv (x: 1, 2, 3) and ends with the model logged, as notebooks do: its last
#: value is the ``ModelInfo`` the notebook showed, naming its run. ``register=`` adds it to
#: the registry, which a reproduction must leave alone.
TRAIN = """%%track
df = pd.read_csv("data.csv")
X, y = df[["x"]], (df["x"] > 2).astype(int)
clf = LogisticRegression(C=C).fit(X, y)
mltrack.log_metric("acc", clf.score(X, y))
mltrack.log_model(clf, signature_from=X[:5], register="churn")"""
#: Run #2: the same data, a weaker C.
WEAKER = """%%track
weak = LogisticRegression(C=0.01).fit(X, y)
mltrack.log_model(weak, signature_from=X[:5])"""
#: Into run #1 after it ended: no part of what its pipeline runs.
LATE = 'mltrack.log_model(clf, "late", signature_from=X[:5], run=1)'


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return session_reading_data(
        tmp_path_factory.mktemp("models"),
        ("imports", "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression"),
        ("params", "C = 1.0"),
        ("train", TRAIN),
        ("weaker", WEAKER),
        ("late", LATE),
    )


@pytest.fixture
def store(session: Session) -> Any:
    opened = session.store()
    yield opened
    opened.close()


def _run_id(store: Store) -> str:
    (run,), _ = store.search_runs(experiment="analysis", order="number", limit=1)
    return run.id


def test_the_pipeline_logs_the_model_again_and_reproduce_compares_it(
    session: Session, store: Store
) -> None:
    out = session.root / "r"
    done = mltrack(session.home, "reproduce", "1", "--json", "-o", str(out), cwd=session.root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["differences"] == [], report
    assert report["models"] == [
        {
            "name": "late",
            "format": "skops",
            "rows": 0,
            "matches": 0,
            "max_abs_diff": None,
            "status": "not compared",
            "reason": "logged after the run ended (with run=), not by the code its pipeline runs",
        },
        {
            "name": "model",
            "format": "skops",
            "rows": 3,
            "matches": 3,
            "max_abs_diff": 0.0,
            "status": "reproduced",
            "reason": "",
        },
    ]
    assert report["compared"]["models"] == 1 and report["compared"]["metrics"] == 2
    # the notebook showed the ModelInfo naming its run: not a text the pipeline can give
    (result,) = [t for t in report["outputs"] if t["name"] == "result"]
    assert result["equal"] is None and "what log_model returned" in result["detail"]

    script = (out / "pipeline.py").read_text()
    assert "mltrack.log_model(clf, signature_from=X[:5], register='churn')" in script.replace(
        '"', "'"
    )  # kept as the notebook wrote it; the script's recorder drops register=
    assert "mltrack.show(mltrack.log_model" not in script

    run_id = _run_id(store)
    (child,) = store.child_runs(run_id)
    assert child.id == report["pipeline_run_id"] and child.source == "pipeline"
    (model,) = store.list_artifacts(child.id)
    assert (model.name, model.kind, model.meta["format"]) == ("model", "model", "skops")
    assert model.meta["signature"]["predictions"] == [0, 0, 0]  # X[:5] of its own data
    # the notebook's version only: a reproduction registers nothing
    assert [v.run_id for v in store.get_registered_model("churn").versions] == [run_id]
    # the run read data.csv, and nothing of the tracker's own code it imported to log
    assert [Path(d.path).name for d in store.run_data(run_id) if d.role == "input"] == ["data.csv"]


def test_a_model_trained_otherwise_is_reported_different_with_the_difference(
    store: Store,
) -> None:
    """Run #2 trained with a weaker C: the same labels on these rows, other probabilities —
    what only the model's comparison sees. Compared as reproduce compares a pipeline's model
    (its run and artifact of the same name), without running a second pipeline."""
    from jupyter_mltrack.cli.pipeline import reproduce_report

    (first, second), _ = store.search_runs(experiment="analysis", order="number", limit=2)
    checks = {c.name: c for c in compare_models(store, first.id, second.id, rtol=RTOL, atol=ATOL)}
    late = checks.pop("late")  # logged into run #1 later: run #2 has none (no end time given)
    assert (late.status, late.reason) == ("different", "the pipeline logged no model of this name")
    models = list(checks.values())
    (check,) = models
    assert (check.name, check.format, check.status) == ("model", "skops", "different"), check
    assert (check.rows, check.matches) == (3, 0), check
    assert check.max_abs_diff is not None and 0.01 < check.max_abs_diff < 1, check
    assert check.reason.startswith("row 0: probabilities [0."), check.reason

    result = Reproduction(
        run_id=first.id,
        export=ExportResult(
            directory=Path("out"), files=[], targets=[], statements=5, executions=2
        ),
        returncode=0,
        checks=[MetricCheck("acc", 2 / 3, 2 / 3, True)],
        models=models,
    )
    assert result.differences == ["model model"] and not result.ok
    report = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert report["models"][0]["status"] == "different" and report["compared"]["models"] == 1
    text = reproduce_report(result)
    row = next(line for line in text.splitlines() if line.startswith("model  skops"))
    assert row.split()[:5] == ["model", "skops", "0/3", f"{check.max_abs_diff:.3g}", "NO"], text
    assert "compared: 1 metric, 1 model" in text, text
    assert text.splitlines()[-1].startswith("NOT reproduced: model model differs"), text


def test_without_a_store_the_pipeline_runs_and_logs_no_model(
    session: Session, store: Store
) -> None:
    out = session.root / "e"
    export(store, directory=out, run=_run_id(store))
    hide = textwrap.dedent(
        """
        import json, sys
        sys.modules["jupyter_mltrack"] = None  # as if it were not installed
        sys.path.insert(0, sys.argv[1])
        import pipeline
        print(json.dumps(pipeline.run()))
        """
    )
    ran = python("-c", hide, str(out), cwd=session.root)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {"acc": pytest.approx(2 / 3)}

    # installed, but the store cannot take it (a PostgreSQL store unreachable, and with no
    # blob store configured): the run waits in the local spool, the model is skipped saying
    # so, and the pipeline runs on
    broken = _env(**{URL_ENV: "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"})
    ran = python(str(out / "pipeline.py"), cwd=session.root, env=broken)
    assert ran.returncode == 0, ran.stderr
    assert "pipeline: log_model 'model' not recorded (" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr and "acc: 0.666" in ran.stdout, ran.stderr


# the comparison, and the slicer's reading of logging calls, without a kernel ----------------


def _artifact(signature: dict[str, Any], **meta: Any) -> Any:
    return SimpleNamespace(name="m", meta={"format": "skops", "signature": signature, **meta})


def test_labels_compare_exactly_and_floats_within_the_tolerances() -> None:
    signature = {"rows": 2, "predictions": [1, 0], "probabilities": [[0.25, 0.75], [0.5, 0.5]]}
    close = {"predictions": [1, 0], "probabilities": [[0.25 + 1e-12, 0.75], [0.5, 0.5]]}
    check = modelcheck.compare_predictions(_artifact(signature), signature, close,
                                           rtol=1e-6, atol=1e-12)  # fmt: skip
    assert (check.status, check.matches, check.reason) == ("reproduced", 2, "")
    assert check.max_abs_diff == pytest.approx(1e-12)
    label = {"predictions": [1, 1], "probabilities": signature["probabilities"]}
    check = modelcheck.compare_predictions(_artifact(signature), signature, label,
                                           rtol=1e-6, atol=1e-12)  # fmt: skip
    assert (check.status, check.matches) == ("different", 1)
    assert check.reason == "row 1: predictions 0 became 1" and check.max_abs_diff == 0.0
    strings = {"rows": 1, "predictions": ["cat"], "probabilities": None}
    check = modelcheck.compare_predictions(_artifact(strings), strings,
                                           {"predictions": ["dog"]}, rtol=1, atol=1)  # fmt: skip
    assert (check.status, check.max_abs_diff) == ("different", None)


def test_a_model_needing_trust_is_never_loaded() -> None:
    signature = {"rows": 1, "predictions": [1]}
    pickled = _artifact(signature, format="pickle", unsafe=True)
    # no store is touched: refused from the original's meta alone
    check = modelcheck.check_model(None, pickled, pickled, rtol=0, atol=0)  # type: ignore[arg-type]
    assert (check.status, check.equal) == ("not compared", None)
    assert check.reason.startswith("pickle format: loading it could run code"), check.reason
    unsigned = modelcheck.check_model(None, _artifact(None), None, rtol=0, atol=0)  # type: ignore[arg-type]
    assert unsigned.reason == "logged without signature_from: no example rows"
    missing = modelcheck.check_model(None, _artifact(signature), None, rtol=0, atol=0)  # type: ignore[arg-type]
    assert (missing.status, missing.reason) == (
        "different",
        "the pipeline logged no model of this name",
    )


def _execution(
    seq: int, statements: list[str], facts: list[dict[str, Any]], magic: str = ""
) -> Execution:
    """A logged cell execution: its statements, each with the facts the kernel recorded; a
    cell ``magic`` line (``%%track``) heads what was typed, not the Python that ran."""
    source = "\n".join(statements)
    return Execution(
        session_id="s",
        seq=seq,
        notebook_path=None,
        kernel_id=None,
        cell_id=f"c{seq}",
        execution_count=seq,
        raw=f"{magic}\n{source}" if magic else source,
        source=source,
        status="ok",
        error_statement=None,
        facts={
            "statements": [
                {"i": i, "ran": True, "ok": True, **fact} for i, fact in enumerate(facts)
            ]
        },
        run_id=None,
        started_at=0.0,
        duration=0.0,
    )


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("", "mltrack.log_model(clf)"),
        ("import jupyter_mltrack as mltrack", "mltrack.log_model(clf)"),
        ("import jupyter_mltrack", "jupyter_mltrack.log_model(clf)"),
        ("import jupyter_mltrack as jt", "jt.log_model(clf)"),
        ("from jupyter_mltrack import log_model", "log_model(clf)"),
        ("from jupyter_mltrack import log_model as keep", "keep(clf)"),
    ],
)
def test_a_logging_call_is_kept_under_any_name_never_shown(imports: str, call: str) -> None:
    """The cell's last line logs the model: kept for what it records (the model it reads is
    in the slice), not shown as the cell's value (``mltrack.show(...)``)."""
    cells = [_execution(1, ["clf = make()"], [{"bound": {"clf": 7}}])]
    if imports:
        cells.insert(0, _execution(0, [imports], [{}]))
    tracked = _execution(2, ["x = 1", call], [{}, {}], magic="%%track")
    slicer = Slicer([*cells, tracked])
    step = slicer.steps_of(tracked)[-1]
    assert [tracker_function(c, slicer) for c in step.stmt.calls] == ["log_model"]
    run = SimpleNamespace(id="r", experiment="e", name=None, number=1, metrics={})
    target, roots = run_target(slicer, run, tracked)
    assert step in roots and not target.show_last
    assert "clf = make()" in [s.stmt.source.strip() for s in slicer.closure(roots)]


def test_a_function_of_the_same_name_is_not_the_trackers() -> None:
    cells = [
        _execution(0, ["def log_model(m):\n    return m"], [{}]),
        _execution(1, ["import other as mltrack"], [{}]),
    ]
    slicer = Slicer(cells)
    (mine,) = analyse("log_model(clf)").calls
    (theirs,) = analyse("mltrack.log_model(clf)").calls
    assert tracker_function(mine, slicer) is None and tracker_function(theirs, slicer) is None


def analyse(code: str) -> Any:
    from jupyter_mltrack.pipeline.analysis import analyse_cell

    (statement,) = analyse_cell(code)
    return statement


def test_the_id_of_the_run_a_text_was_output_in_is_not_compared() -> None:
    """A cell that shows its run's id (a ``ModelInfo``, ``print(run.id)``) shows the
    pipeline's run's id when reproduced; any other id still differs."""
    from jupyter_mltrack.pipeline import cellcheck
    from jupyter_mltrack.pipeline.reproduce import _run_named

    kernel, pipeline = "a" * 32, "b" * 32
    shown = {"stdout": f"logged into {kernel}\n", "result": f"<ModelInfo {kernel}/model (skops)>"}
    again = {
        "stdout": f"logged into {pipeline}\n",
        "result": f"<ModelInfo {pipeline}/model (skops)>",
    }
    checks = cellcheck.compare_texts(_run_named(shown, kernel), _run_named(again, pipeline),
                                     rtol=0, atol=0)  # fmt: skip
    assert [(c.name, c.equal) for c in checks] == [("stdout", True), ("result", True)]
    other = {"stdout": f"logged into {'c' * 32}\n", "result": again["result"]}
    checks = cellcheck.compare_texts(_run_named(shown, kernel), _run_named(other, pipeline),
                                     rtol=0, atol=0)  # fmt: skip
    assert [(c.name, c.equal) for c in checks] == [("stdout", False), ("result", True)]
