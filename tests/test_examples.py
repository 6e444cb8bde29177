"""Every notebook in examples/ runs top to bottom in a real kernel and records what it says.

Each notebook is executed with nbclient in a temporary copy of ``examples/``, with the store in a
temporary ``MLTRACK_HOME`` and the kernel importing this repository's package. The kernel gets
the variables jupyter_server gives its kernels (``JPY_SESSION_NAME``, ``MLTRACK_SERVER_ROOT``),
so runs land in the experiment named after the notebook, as in JupyterLab. Then the store is
opened and the runs checked: generic checks for any notebook (so a new example is tested as soon
as it is added) and detailed ones for the notebooks listed in ``EXPECTED``.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from jupyter_mltrack.location import HOME_ENV, URL_ENV
from jupyter_mltrack.store import RunStatus, Store

from .kernel import kernel_ports

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
#: The quick start promises "a few seconds"; this only catches a gross slowdown.
MAX_SECONDS = 90


def _score(value: float) -> bool:
    """A sane accuracy/F1 on the bundled data sets: a probability, and well above chance."""
    return 0.8 <= value <= 1.0


def _seconds(value: float) -> bool:
    """A training time autolog recorded (``fit_time``)."""
    return 0.0 < value < MAX_SECONDS


# What autolog adds to a %%track run without a line of code (see examples/autolog.ipynb).
_FIT = {"fit_time": _seconds}


# Per notebook: run name -> what that run must have recorded. ``params``/``tags`` are compared
# as subsets/exactly; ``metrics`` maps a name to a check of its latest value; ``series`` maps a
# metric to the number of steps it must have (steps 0..n-1).
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "quickstart.ipynb": {
        "logreg-C1": {
            "source": "notebook",
            "params": {"C": 1.0, "MAX_ITER": 1000, "logisticregression__C": 1.0},
            "tags": {},
            "metrics": {
                "accuracy": _score,
                "f1": _score,
                "accuracy_score": _score,
                "f1_score": _score,
                **_FIT,
            },
        },
        "logreg-C0.01": {
            "source": "notebook",
            "params": {"C": 0.01, "MAX_ITER": 1000, "logisticregression__C": 0.01},
            "tags": {},
            "metrics": {
                "accuracy": _score,
                "f1": _score,
                "accuracy_score": _score,
                "f1_score": _score,
                **_FIT,
            },
        },
        "forest": {
            "source": "notebook",
            "params": {
                "n_estimators": 100,
                "max_depth": 6,
                "SEED": 42,
                "n_features": 30,
                # the cell's own max_depth/n_estimators stay; the estimator's get its class
                "RandomForestClassifier.max_depth": 6,
                "criterion": "gini",
            },
            "tags": {"forest": "", "stage": "tuning"},
            "metrics": {
                "accuracy": _score,
                "f1": _score,
                "f1_score": _score,
                "score_X_test": _score,
                **_FIT,
            },
        },
        "sgd-epochs": {
            "source": "notebook",
            "params": {"epochs": 20, "alpha": 0.0001, "SEED": 42},
            "tags": {},
            "metrics": {
                "final_accuracy": _score,
                "val_accuracy": _score,
                "val_loss": lambda v: 0.0 < v < 1.0,
                "log_loss": lambda v: 0.0 < v < 1.0,
                "score_X_test_s": _score,
            },
            "series": {
                "val_loss": 20,
                "val_accuracy": 20,
                "final_accuracy": 1,
                "log_loss": 20,
                "score_X_test_s": 21,
            },
        },
        "logreg-C0.1": {
            "source": "api",
            "params": {"C": 0.1, "max_iter": 1000},
            "tags": {"sweep": "C"},
            "metrics": {"accuracy": _score, "f1": _score},
        },
        "logreg-C10.0": {
            "source": "api",
            "params": {"C": 10.0, "max_iter": 1000},
            "tags": {"sweep": "C"},
            "metrics": {"accuracy": _score, "f1": _score},
        },
    },
    "compare.ipynb": {
        **{
            name: {
                "source": "notebook",
                "params": {"alpha": alpha, "EPOCHS": 12, "SEED": 0},
                "tags": {},
                "metrics": {"accuracy": _score, "val_accuracy": _score, "score_X_val": _score},
                "series": {"val_accuracy": 12, "accuracy": 1, "score_X_val": 13},
            }
            for name, alpha in [
                ("sgd-alpha0.0001", 0.0001),
                ("sgd-alpha0.01", 0.01),
                ("sgd-averaged", 0.0001),
                ("sgd-less-data", 0.0001),
            ]
        },
        **{
            name: {
                "source": "notebook",
                "params": {"C": C, "LogisticRegression.C": C, "max_iter": 500},
                "tags": {},
                "metrics": {"accuracy": _score, "score_X_val": _score, **_FIT},
            }
            for name, C in [("logreg-C1", 1.0), ("logreg-C0.01", 0.01)]
        },
        "forest": {
            "source": "notebook",
            "params": {"n_estimators": 60, "max_depth": 8, "SEED": 0},
            "tags": {},
            "metrics": {"accuracy": _score, "score_X_val": _score, **_FIT},
        },
    },
}


EXPECTED["autolog.ipynb"] = {
    "grid-search": {
        "source": "notebook",
        "params": {
            "cv": 3,
            "param_grid": {"logisticregression__C": [0.001, 0.01, 0.1, 1.0]},
            "estimator__logisticregression__max_iter": 1000,
            "best_logisticregression__C": 1.0,
        },
        "tags": {},
        "metrics": {
            "best_score": _score,
            "mean_test_score": _score,
            "std_test_score": lambda v: 0.0 <= v < 0.1,
            "accuracy_score": _score,
            "score_X_test": _score,
            **_FIT,
        },
        "series": {"mean_test_score": 4, "std_test_score": 4, "fit_time": 1},
    },
    "cv-logreg": {
        "source": "api",
        "params": {},  # cross_val_score's fits are its own: no params of their estimator
        "tags": {},
        "metrics": {"cross_val_score_mean": _score, "cross_val_score_std": lambda v: v < 0.1},
    },
}


EXPECTED["models.ipynb"] = {
    **{
        name: {
            "source": "notebook",
            "params": {"C": C},
            "tags": {},
            "metrics": {"accuracy": _score, "accuracy_score": _score, **_FIT},
        }
        for name, C in [("logreg-C1", 1.0), ("logreg-C0.1", 0.1)]
    },
    "feature-correlations": {
        "source": "notebook",
        "params": {},
        "tags": {},
        "metrics": {"mean_abs_correlation": lambda v: 0 < v < 1},
    },
    "sgd-epochs": {
        "source": "notebook",
        "params": {"epochs": 6},
        "tags": {},
        # autolog: the scaler's fit, and the classifier's score (the step-5 accuracy)
        "metrics": {"accuracy": _score, "score": _score, "StandardScaler.fit_time": _seconds},
    },
    "evaluate-production": {
        "source": "notebook",
        "params": {},
        "tags": {},
        "metrics": {"accuracy": _score, "accuracy_score": _score},
    },
    "pickled": {"source": "api", "params": {}, "tags": {}, "metrics": {"accuracy": _score}},
}


EXPECTED["datasets.ipynb"] = {
    "wine-forest": {
        "source": "notebook",
        "params": {"n_estimators": 50},
        "tags": {},
        "metrics": {
            "accuracy": _score,
            "cross_val_score_mean": _score,
            "cross_val_score_std": lambda v: v < 0.1,
        },
    },
}


def _outputs_of(nb: Any, source_start: str) -> list[Any]:
    """The outputs of the one code cell whose source starts with ``source_start``."""
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return cell.outputs


def _check_compare_outputs(nb: Any) -> None:
    """examples/compare.ipynb: the widget carries its static copy; the explanations name the
    data and the code change the notebook made."""
    (shown,) = _outputs_of(nb, "mltrack.compare(")
    data = shown["data"]
    assert "application/vnd.jupyter.widget-view+json" in data, list(data)
    static = data["text/html"]
    for run in ("#1", "#2", "#6", "#7"):
        assert run in static, run
    assert "<table" in static and "cdn.plot.ly" in static  # the table and the charts
    assert "input X_fit" in static and "rows 1257 → 419" in static  # the data change
    assert "average=True" in static  # the code change, in the diff of run #6's cell
    (explained,) = _outputs_of(nb, "mltrack.explain(1, 7")
    text = explained["data"]["text/plain"]
    assert text.startswith("Why accuracy changed from #1") and "`X_fit`" in text, text
    (explained,) = _outputs_of(nb, "%mltrack explain 1 6")
    text = explained["data"]["text/plain"]
    assert text.startswith("Why accuracy changed from #1") and "[code] cell" in text, text


def _check_models_outputs(nb: Any) -> None:
    """examples/models.ipynb: the alias moved to version 2, the better model, which loads
    and scores as it did when logged, described and tagged; its run's dict, text and figure
    read back, a series' step too; an evaluation that loads it by alias is listed among its
    users; the pickled model is refused; an array is kept as a grayscale PNG."""
    (image, *_) = _outputs_of(nb, "%%track feature-correlations")
    assert image["text"] == "correlations.png 30x30 L\n", image["text"]
    (frame, *_) = _outputs_of(nb, "%%track sgd-epochs")
    assert frame["text"] == "weights/step_000005 weights 5 | 143 rows\n", frame["text"]
    (shown,) = _outputs_of(nb, 'mltrack.set_alias("cancer"')
    text = shown["text"]
    assert text.startswith("{'production': 2} accuracy: 0.965"), text
    (tagged,) = _outputs_of(nb, "version = second.registered.version")
    assert tagged["text"] == (
        "v2 C=0.1: more regularization, 0.965 on the test set | "
        "{'approved_by': 'ana', 'validation': 'passed'} | model: {'task': 'diagnosis'}\n"
    ), tagged["text"]
    (read_back,) = _outputs_of(nb, "import tempfile\n\nrun = second.run_id")
    assert read_back["text"] == (
        "{'C': 0.1, 'scaler': 'standard', 'test_size': 0.25}\n"
        "['accuracy', '0.97', '143']\n"
        "PNG (48, 40) confusion ['confusion.png', 'confusion.svg']\n"
    ), read_back["text"]
    (used,) = _outputs_of(nb, 'for use in mltrack.lineage("models:/cancer@production")')
    assert used["text"] == (
        "#5 finished: loaded models:/cancer@production as v2, accuracy 0.965\n"
    ), used["text"]
    (graph,) = _outputs_of(nb, "# the same as a graph")
    figure = graph["data"]["application/vnd.plotly.v1+json"]
    assert {t["name"] for t in figure["data"]} >= {"this model", "run"}, figure["data"]
    (refused,) = _outputs_of(nb, 'with mltrack.start_run(name="pickled")')
    assert refused["text"].startswith("UntrustedModelError - "), refused["text"]


def _check_sweep_outputs(nb: Any) -> None:
    """examples/sweep.ipynb: a line per trial as it ended, the summary of the 8 trials, the
    same summary read back from the store by ``%mltrack sweep show``, the comparison."""
    outputs = _outputs_of(nb, "result = mltrack.sweep(")
    lines = "".join(o["text"] for o in outputs if o.output_type == "stream").splitlines()
    assert sorted(line.split(" trial #")[1].split()[0] for line in lines) == list("01234567")
    (shown,) = [o for o in outputs if o.output_type == "execute_result"]
    summary = shown["data"]["text/plain"]
    head = summary.splitlines()[0]
    assert head.startswith("sweep sweep-") and ": 8 trials (" in head, summary
    assert head.endswith("; max val_accuracy") and "\n  best #" in summary, summary
    (again,) = _outputs_of(nb, "%mltrack sweep show")
    assert again["data"]["text/plain"] == summary
    (frame,) = _outputs_of(nb, "result.to_frame()")
    assert "params.alpha" in frame["data"]["text/plain"], frame["data"]["text/plain"]
    (compared,) = _outputs_of(nb, "baseline = result.trials[0]")
    assert "application/vnd.jupyter.widget-view+json" in compared["data"]
    assert "val_accuracy" in compared["data"]["text/html"]


def _check_sweep_runs(store: Store, runs: list[Any]) -> None:
    """examples/sweep.ipynb: the notebook's run, the sweep's run and its 8 trials, numbered
    0-7, each finished or pruned. Trial 0 ran the notebook's own values through the exported
    pipeline and got the notebook's metrics; the sweep's best is its best finished trial's."""
    (notebook,) = [r for r in runs if r.source == "notebook"]
    (sweep,) = [r for r in runs if r.source == "sweep" and r.parent_run_id is None]
    trials = {int(t.tags["mltrack.trial"]): t for t in store.child_runs(sweep.id)}
    assert sorted(trials) == list(range(8)) and len(runs) == 2 + len(trials)
    assert sweep.status is RunStatus.FINISHED and sweep.number == notebook.number + 1
    assert sweep.params["metric"] == "val_accuracy" and sweep.params["pruner"] == "median"
    assert sweep.params["space.loss"] == "choice(log_loss, hinge, modified_huber)"
    for trial in trials.values():
        assert trial.source == "sweep" and trial.tags["mltrack.sweep"] == sweep.name
        assert trial.status in (RunStatus.FINISHED, RunStatus.PRUNED), trial.status
        if trial.status is RunStatus.PRUNED:  # stopped in its epochs: never tested
            assert "test_accuracy" not in trial.metrics
            points = store.get_run_detail(trial.id).metric_series["val_accuracy"]
            assert 1 <= len(points) < 10, points
    first = trials[0]
    assert first.status is RunStatus.FINISHED
    for key in ("alpha", "loss", "penalty", "EPOCHS", "SEED"):
        assert first.params[key] == notebook.params[key], (key, first.params, notebook.params)
    for key in ("val_accuracy", "test_accuracy"):
        assert first.metrics[key] == notebook.metrics[key], key
    finished = [t for t in trials.values() if t.status is RunStatus.FINISHED]
    assert sweep.metrics["trials.finished"] == len(finished)
    assert sweep.metrics["best.val_accuracy"] == max(t.metrics["val_accuracy"] for t in finished)


def _check_datasets_outputs(nb: Any) -> None:
    """examples/datasets.ipynb: the same data pushed again adds no version; the diff names
    the removed column and the rows; the tracked cell's run is listed as reading gold."""
    (pushed,) = _outputs_of(nb, "from sklearn.datasets import load_wine")
    assert pushed["text"].rstrip().endswith("pushed again: True"), pushed["text"]
    (listed,) = _outputs_of(nb, 'mltrack.datasets.tag(v2.ref, "gold")')
    lines = listed["text"].splitlines()
    assert "('gold',) drop proline" in lines[0] and "('v1',) raw" in lines[1], lines
    (changes,) = _outputs_of(nb, "changes = mltrack.datasets.diff(")
    assert "rows 178 -> 174 (-4); removed: proline;" in changes["text"], changes["text"]
    (used,) = _outputs_of(nb, "gold = mltrack.datasets.versions(")
    ref = used["text"].splitlines()[0].removeprefix("gold is ")
    assert used["text"].splitlines()[1] == f"read by: [('#1', '{ref}')]", used["text"]


#: Checks of a notebook's own outputs, after it ran.
OUTPUT_CHECKS = {
    "compare.ipynb": _check_compare_outputs,
    "datasets.ipynb": _check_datasets_outputs,
    "models.ipynb": _check_models_outputs,
    "sweep.ipynb": _check_sweep_outputs,
}
#: Checks of the runs a notebook recorded (with the store), after the generic ones.
RUN_CHECKS = {"sweep.ipynb": _check_sweep_runs}


def test_examples_exist() -> None:
    assert NOTEBOOKS, f"no notebooks in {EXAMPLES}"
    missing = set(EXPECTED) - {p.name for p in NOTEBOOKS}
    assert not missing, f"EXPECTED lists notebooks that do not exist: {sorted(missing)}"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_example_committed_without_outputs(source: Path) -> None:
    nb = nbformat.read(source, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{source.name}: clear outputs before committing (cell {cell.get('id')})"
            )


def _execute(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Path, float]:
    workdir = tmp_path / "examples"
    shutil.copytree(
        EXAMPLES, workdir, ignore=shutil.ignore_patterns(".mltrack", ".ipynb_checkpoints")
    )
    home = tmp_path / "store"
    notebook = workdir / source.name
    # nbclient starts the kernel with this process's environment.
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv("MLTRACK_EXPERIMENT", raising=False)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    )
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    monkeypatch.setenv("MLTRACK_SERVER_ROOT", str(workdir))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        config=Config(KernelManager=kernel_ports()),  # nbclient's own manager, our ports
        timeout=120,
        startup_timeout=60,
        resources={"metadata": {"path": str(workdir)}},
        # one output per stream: a loaded machine can flush one print as two messages
        # (a CI run split the pickled model's refusal in two, and the check saw 2 outputs)
        coalesce_streams=True,
    )
    started = time.monotonic()
    client.execute()  # raises CellExecutionError on the first failing cell
    return nb, home, time.monotonic() - started


#: Each notebook is executed once per session, for both tests below: ``source name ->
#: (executed notebook, store home, seconds)``. Executing is most of their time.
_EXECUTED: dict[str, tuple[Any, Path, float]] = {}


def _executed(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, float]:
    if source.name not in _EXECUTED:
        with pytest.MonkeyPatch.context() as mp:
            where = tmp_path_factory.mktemp(source.stem)
            _EXECUTED[source.name] = _execute(source, where, mp)
    return _EXECUTED[source.name]


def _tracked_cells(nb: Any) -> int:
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code" and cell.source.lstrip().startswith("%%track")
    )


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_example_runs_and_records(source: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    nb, home, seconds = _executed(source, tmp_path_factory)
    assert seconds < MAX_SECONDS, f"{source.name} took {seconds:.1f}s to execute"

    check_outputs = OUTPUT_CHECKS.get(source.name)
    if check_outputs is not None:
        check_outputs(nb)

    # The tracker reports its own problems on stderr without failing the cell: none allowed.
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr":
                assert "mltrack:" not in out.text, out.text

    store = Store(str(home))
    try:
        experiment = source.stem
        runs, total = store.search_runs(experiment=experiment, order="number", limit=1000)
        assert total == len(runs)
        # Nothing may leak into another experiment (e.g. a start_run without the notebook's).
        all_runs, all_total = store.search_runs(limit=1000)
        assert all_total == total, [(r.experiment, r.name) for r in all_runs]
        # (the reproduction test below adds pipeline runs to this store: it runs after)
        assert not [r for r in runs if r.source == "pipeline"], "run the tests in file order"

        # Generic: at least one run per %%track cell, all closed cleanly, each with a metric.
        assert total >= max(1, _tracked_cells(nb)), [r.name for r in runs]
        assert [r.number for r in runs] == list(range(1, total + 1))
        for run in runs:
            # a sweep's runs are its driver's and its worker processes', not the notebook's
            # cells; a trial its pruner stopped ends pruned
            sweep = run.source == "sweep"
            ended = (RunStatus.FINISHED, RunStatus.PRUNED) if sweep else (RunStatus.FINISHED,)
            assert run.status in ended, (run.name, run.status)
            assert run.end_time is not None and run.end_time >= run.start_time
            assert sweep or run.notebook_path == source.name, (run.name, run.notebook_path)
            assert run.metrics, f"run {run.name!r} recorded no metric"
            assert all(not math.isnan(v) for v in run.metrics.values()), run.metrics

        check_runs = RUN_CHECKS.get(source.name)
        if check_runs is not None:
            check_runs(store, runs)

        expected = EXPECTED.get(source.name)
        if expected is None:
            return
        by_name = {r.name: r for r in runs}
        assert len(by_name) == total, "run names must be unique to be checked"
        assert set(by_name) == set(expected)
        for name, want in expected.items():
            run = by_name[name]
            assert run.source == want["source"], (name, run.source)
            for key, value in want["params"].items():
                assert run.params.get(key) == value, (name, key, run.params)
            assert run.tags == want["tags"], (name, run.tags)
            assert set(run.metrics) == set(want["metrics"]), (name, run.metrics)
            for key, check in want["metrics"].items():
                assert check(run.metrics[key]), (name, key, run.metrics[key])
            detail = store.get_run_detail(run.id)
            assert detail.environment is not None, name
            if want["source"] == "notebook":
                assert detail.code.strip(), name  # the cell's source, without the magic line
                assert not detail.code.lstrip().startswith("%%track"), detail.code
            for key, steps in want.get("series", {}).items():
                points = detail.metric_series[key]
                assert [p.step for p in points] == list(range(steps)), (name, key, points)
    finally:
        store.close()


@pytest.mark.parametrize("source", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_tracked_run_of_an_example_reproduces(
    source: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mltrack reproduce`` on each ``%%track`` run of the notebook: the exported pipeline,
    run in a fresh process, gives the run's metrics and logs its artifacts again, and is
    recorded as the run's child."""
    import subprocess
    import sys

    _nb, home, _seconds = _executed(source, tmp_path_factory)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    )
    workdir = home.parent / "examples"
    store = Store(str(home))
    try:
        runs, _total = store.search_runs(experiment=source.stem, order="number", limit=1000)
        tracked = [r for r in runs if r.source == "notebook"]
        assert tracked, f"{source.name} has no %%track run to reproduce"
        for run in tracked:
            done = subprocess.run(
                [sys.executable, "-m", "jupyter_mltrack.cli", "--store", str(home),
                 "reproduce", run.id, "-o", str(tmp_path / f"run-{run.number}")],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=300,
            )  # fmt: skip
            assert done.returncode == 0, (run.name, done.stdout, done.stderr)
            assert done.stdout.splitlines()[-1].startswith("reproduced ("), done.stdout
            (child,) = store.child_runs(run.id)
            assert child.source == "pipeline" and child.metrics.keys() == run.metrics.keys()
            # what the run logged (texts, figures, images, models), the pipeline logs again
            logged = sorted(a.name for a in store.list_artifacts(run.id))
            assert sorted(a.name for a in store.list_artifacts(child.id)) == logged, run.name
    finally:
        store.close()
