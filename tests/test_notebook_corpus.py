"""Real notebooks nobody on this project wrote, run as a new user would run them.

The corpus is scikit-learn's own gallery (``tests/notebooks/``, credited in its README): each
sphinx-gallery script becomes a notebook with jupytext, and one of its cells is run under
``%%track``. For every notebook, in real kernels:

(a) with ``%load_ext jupyter_mltrack`` and the ``%%track`` cell, every cell prints and shows
    what the same notebook shows without the extension (the run card aside; timings, memory
    addresses and the kernel's temporary cell file names masked);
(b) the tracked cell records parameters and at least one metric with no code added (autolog);
(c) the export of a chosen variable is ruff-clean and, run in a fresh Python in a fresh folder
    (the notebooks read no files), returns the kernel's value;
(d) ``mltrack reproduce`` of the tracked run exits 0.

The two kernels of a notebook (plain and tracked) run each cell side by side, and the four
checks share them: one notebook costs two kernel starts, one run of its cells, one export and
one reproduction, which starts in the background as soon as the cells have run. Both kernels start from the same global RNG state (an IPython startup file
seeds ``random`` and numpy before the first cell, so nothing in the session's log seeds them:
to the export the notebook is unseeded, as the gallery scripts are), so a notebook that draws
from the global RNG prints the same numbers in both unless the extension itself draws.
Plots use matplotlib's Agg backend: figures are built, never rendered, which keeps each
notebook to a few seconds.
"""

from __future__ import annotations

import difflib
import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from pprint import pformat
from typing import Any

import jupytext
import nbformat
import pytest

from jupyter_mltrack.capture.outputs import RUN_CARD_MIME
from jupyter_mltrack.store import Store

from .export_harness import NOTEBOOK, Notebook, assert_same
from .kernel import REPO, Kernel

CORPUS = Path(__file__).resolve().parent / "notebooks"

#: Run by IPython before a kernel's first cell (a profile startup file), in both kernels.
SEED = (
    "import random as _r\nimport numpy as _np\n"
    "_r.seed(20240607)\n_np.random.seed(20240607)\ndel _r, _np\n"
)

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: ``0x7f3a…``, also as scikit-learn's HTML repr elides it: ``<function f_c...x7f3a…>``.
ADDRESS = re.compile(r"(?<![0-9A-Za-z_])0?x[0-9a-fA-F]{8,}")
#: ``1.234s``, ``0.5 ms``, ``12 seconds``: how long something took is never the same twice.
TIMING = re.compile(r"\b\d+(?:\.\d+)?(?:e-?\d+)?\s?(?:s|ms|µs|us|sec|secs|seconds)\b")
#: scikit-learn's HTML display of an estimator lists its fitted attributes, timings included
#: (``refit_time_``, ``cv_results_['mean_fit_time']``): such an output is compared on its
#: ``text/plain`` repr (the parameters), which is the same every run.
ESTIMATOR_HTML = "sk-top-container"
#: ipykernel compiles each cell into ``/tmp/ipykernel_<pid>/<hash of the code>.py``.
CELL_FILE = re.compile(r"\S*ipykernel_\d+/\d+\.py")


#: How long a tracked run may still read ``running`` after its cell returned.
RUN_END_WAIT = 10.0


@dataclass(frozen=True)
class Case:
    """One gallery script: which cell is tracked and which variable is exported, and why."""

    source: str
    #: Text found in exactly one code cell: that cell runs under ``%%track``.
    track: str
    #: The variable ``mltrack export --target`` writes a pipeline for.
    target: str
    #: What this notebook exercises: why it is in the corpus.
    why: str
    #: An expression of ``target`` compared instead of its value, where the value holds
    #: something that differs from run to run (said why in ``why``).
    probe: str | None = None
    #: Patterns masked in every output: what the notebook itself prints differently each run.
    volatile: tuple[str, ...] = ()
    #: Text of code cells whose outputs are not compared, for the same reason.
    volatile_cells: tuple[str, ...] = ()
    #: Parameters of the estimator the cell fits (key suffixes: autolog may prefix them with
    #: the class name) that the run must record.
    params_like: tuple[str, ...] = ()
    #: Why the tracked cell's printout differs between any two runs, if it does: then
    #: reproduce must agree, or name the stdout as the only difference.
    stdout_varies: str = ""


CASES = [
    Case(
        "plot_grid_search_digits.py",
        track="grid_search.fit(X_train, y_train)",
        target="grid_search",
        why="GridSearchCV(refit=refit_strategy): a notebook function handed to a library, whose "
        "body uses pandas (`pd`); multi-metric search; classification_report. refit_strategy "
        "picks the candidate that was fastest to score, so which of four near-identical models "
        "wins differs between any two runs: the export is compared on the search's "
        "cross-validated recall, and the winner's printout, best_params_ and the report on the "
        "winner's predictions are masked",
        probe="grid_search.cv_results_['mean_test_recall']",
        volatile=(r"Its scoring time is:\n\n[\s\S]*?dtype: object",),
        volatile_cells=("grid_search.best_params_", "print(classification_report(y_test, y_pred))"),
        stdout_varies="refit_strategy prints the winning candidate, chosen by measured score "
        "time; reproduce compares the cell's stdout even when every metric agrees "
        "(/work/coord/corpus_failures.md F5)",
    ),
    Case(
        "plot_scaling_importance.py",
        track="scaled_clf.fit(X_train, y_train)",
        target="y_proba_scaled",
        why="StandardScaler + PCA + LogisticRegressionCV pipelines on the bundled wine data "
        "(a DataFrame); accuracy_score and log_loss printed as formatted text",
    ),
    Case(
        "plot_successive_halving_iterations.py",
        track="rsh.fit(X, y)",
        target="mean_scores",
        why="`from sklearn.experimental import enable_halving_search_cv` (an import kept only for "
        "its side effect) then HalvingRandomSearchCV; pandas pivot of cv_results_",
    ),
    Case(
        "plot_kmeans_digits.py",
        track='bench_k_means(kmeans=kmeans, name="k-means++", data=data, labels=labels)',
        target="centroids",
        why="KMeans benchmarks scored with sklearn.metrics functions (homogeneity, v-measure, "
        "ARI, AMI, silhouette) called inside a notebook function; silhouette_score samples "
        "300 points from the unseeded global RNG; the fit times printed are masked",
    ),
    Case(
        "plot_kmeans_assumptions.py",
        track="from sklearn.mixture import GaussianMixture",
        target="y_pred",
        why="GaussianMixture() without random_state: draws from numpy's global RNG, which the "
        "notebook never seeds; y_pred is rebound by many cells; GaussianMixture fits a KMeans "
        "inside its own fit (its initialisation): the run's params are GaussianMixture's",
        params_like=("n_components", "covariance_type"),
    ),
    Case(
        "plot_digits_classification.py",
        track="clf.fit(X_train, y_train)",
        target="predicted",
        why="SVC fit/predict, classification_report and ConfusionMatrixDisplay; the whole "
        "script is one cell",
        params_like=("C", "gamma"),
    ),
    Case(
        "plot_feature_selection_pipeline.py",
        track="anova_svm.fit(X_train, y_train)",
        target="y_pred",
        why="make_pipeline(SelectKBest, LinearSVC) on make_classification data; the cell's "
        "value is the fitted pipeline (its HTML repr); classification_report",
    ),
    Case(
        "plot_svm_anova.py",
        track="this_scores = cross_val_score(clf, X, y)",
        target="score_means",
        why="cross_val_score in a loop over set_params on a Pipeline mutated in place",
    ),
    Case(
        "plot_underfitting_overfitting.py",
        track="np.random.seed(0)",
        target="scores",
        why="np.random.seed then legacy global draws; cross_val_score with a negative MSE "
        "scorer; a notebook function (true_fun); one cell",
    ),
    Case(
        "plot_kmeans_silhouette_analysis.py",
        track="silhouette_avg = silhouette_score(X, cluster_labels)",
        target="sample_silhouette_values",
        why="KMeans and silhouette_score/silhouette_samples in a loop; one cell",
    ),
]


def code_cells(case: Case) -> list[tuple[str, str]]:
    """The notebook jupytext makes of the script: ``(cell id, source)`` of its code cells,
    with ``%%track`` added to the tracked one."""
    nb = jupytext.read(CORPUS / case.source, fmt="py:percent")
    cells = [(f"cell-{i}", c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    hits = [i for i, (_, source) in enumerate(cells) if case.track in source]
    assert len(hits) == 1, f"{case.source}: {case.track!r} is in cells {hits}, not in one"
    cell_id, source = cells[hits[0]]
    cells[hits[0]] = (cell_id, "%%track\n" + source)
    return cells


def normalise(outputs: list[dict[str, Any]], case: Case) -> dict[str, Any]:
    """What a cell showed, as compared: stdout, stderr, rich outputs (the run card dropped)
    and the error, with timings, addresses, cell file names and the case's volatile parts
    masked. Streams are joined: how a kernel chunks them is no output of the notebook."""

    def clean(text: str) -> str:
        text = ANSI.sub("", text)
        for pattern in case.volatile:
            text = re.sub(pattern, "<volatile>", text)
        text = CELL_FILE.sub("<cell>", text)
        text = ADDRESS.sub("<address>", text)
        return TIMING.sub("<time>", text)

    shown: dict[str, Any] = {"stdout": "", "stderr": "", "rich": [], "error": None}
    for out in outputs:
        kind = out["output_type"]
        if kind == "stream":
            shown[out["name"]] += out["text"]
        elif kind in ("display_data", "execute_result"):
            if RUN_CARD_MIME in out["data"]:
                continue
            data = {
                mime: clean(value) if isinstance(value, str) else value
                for mime, value in out["data"].items()
                if not (mime == "text/html" and ESTIMATOR_HTML in value)
            }
            shown["rich"].append((kind, data))
        elif kind == "error":
            shown["error"] = (out["ename"], clean("\n".join(out["traceback"])))
    shown["stdout"] = clean(shown["stdout"])
    shown["stderr"] = clean(shown["stderr"])
    return shown


def diff(without: Any, with_: Any) -> str:
    """Where two outputs part: a unified diff of their text (the first lines of it)."""
    lines = difflib.unified_diff(
        pformat(without, width=100).splitlines(),
        pformat(with_, width=100).splitlines(),
        "without the extension",
        "with it",
        lineterm="",
        n=1,
    )
    return "\n".join(list(lines)[:40])


@dataclass
class Session:
    """A notebook run twice, side by side: in a plain kernel and in a tracked one."""

    case: Case
    root: Path
    cells: list[tuple[str, str]]
    tracked: Notebook
    plain: Kernel | None = None
    plain_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracked_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Cells that raised in the tracked kernel: ``cell id -> ename: evalue``.
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: ``mltrack reproduce`` of the tracked run, started as soon as the cells have run.
    reproducing: subprocess.Popen[str] | None = None
    reproduce_started: float = 0.0

    def run(self) -> None:
        """Each cell is sent to both kernels, then both replies are awaited."""
        assert self.plain is not None
        plain_source = {cell_id: source.removeprefix("%%track\n") for cell_id, source in self.cells}
        for cell_id, source in self.cells:
            a = self.plain.execute(plain_source[cell_id], cell_id=cell_id, wait=False)["msg_id"]
            b = self.tracked.kernel.execute(source, cell_id=cell_id, wait=False)["msg_id"]
            got_a = self.plain.collect(a, timeout=180)
            got_b = self.tracked.kernel.collect(b, timeout=180)
            self.plain_outputs[cell_id] = normalise(got_a["outputs"], self.case)
            self.tracked_outputs[cell_id] = normalise(got_b["outputs"], self.case)
            reply = got_b["reply"]
            if reply["status"] != "ok":
                self.errors[cell_id] = f"{reply.get('ename')}: {reply.get('evalue')}"

    def tracked_run(self) -> Any:
        """The one run the session recorded (the ``%%track`` cell's), once it has ended: the
        kernel writes a run's end in the background, so right after its cell (the last cell
        of a one-cell notebook) the store may still say ``running`` for a moment."""
        deadline = time.monotonic() + RUN_END_WAIT
        while True:
            store = Store(str(self.tracked.home))
            try:
                runs, total = store.search_runs(order="number", limit=10)
            finally:
                store.close()
            assert total == 1, f"{self.case.source}: {total} runs, expected the tracked one"
            if runs[0].status.value != "running" or time.monotonic() > deadline:
                return runs[0]
            time.sleep(0.1)

    def start_reproduce(self) -> None:
        """Start ``mltrack reproduce RUN`` in the background, from the folder the kernel
        started in: it re-runs the tracked cell's computation in a fresh Python, and
        overlapping that with checks (a)-(c) saves most of its wall time."""
        if self.errors:
            return
        run = self.tracked_run()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        env.pop("MLTRACK_STORE_URL", None)
        self.reproduce_started = time.perf_counter()
        self.reproducing = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mltrack.cli", "--store", str(self.tracked.home),
             "reproduce", run.id, "-o", str(self.root / "reproduce")],
            cwd=self.tracked.workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def reproduced(self) -> tuple[int, str]:
        """``mltrack reproduce``'s exit status and what it printed."""
        assert self.reproducing is not None, "reproduce was not started"
        out, err = self.reproducing.communicate(timeout=300)
        self.seconds["reproduce"] = time.perf_counter() - self.reproduce_started
        return self.reproducing.returncode, f"{out}\n{err}"

    def close(self) -> None:
        try:
            if self.reproducing is not None and self.reproducing.poll() is None:
                self.reproducing.kill()
                self.reproducing.wait()
            if self.plain is not None:
                self.plain.stop()
        finally:
            self.tracked.close()


@pytest.fixture(scope="module")
def startup_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Kernels (and the pipelines they export) plot with Agg and hash strings alike; IPython's
    profile startup folder seeds both kernels' global RNGs before their first cell."""
    ipython_dir = tmp_path_factory.mktemp("ipython")
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-corpus-seed.py").write_text(SEED)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("PYTHONHASHSEED", "0")
        mp.setenv("IPYTHONDIR", str(ipython_dir))
        # a notebook's `!pip` would really run: never let it reach an index
        mp.setenv("PIP_NO_INDEX", "1")
        yield


@pytest.fixture(scope="module", params=CASES, ids=[c.source.removesuffix(".py") for c in CASES])
def session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, startup_env: None
) -> Iterator[Session]:
    """One notebook's two kernels, run once and shared by its four checks."""
    case: Case = request.param
    root = tmp_path_factory.mktemp(case.source.removesuffix(".py"))
    cells = code_cells(case)
    started = time.perf_counter()
    tracked = Notebook(root)
    # the notebook file as the user's editor would hold it: the session's notebook
    nb = jupytext.read(CORPUS / case.source, fmt="py:percent")
    nb.cells = [nbformat.v4.new_code_cell(source, id=cell_id) for cell_id, source in cells]
    nbformat.write(nb, tracked.workdir / NOTEBOOK)
    plain_dir = root / "plain"
    plain_dir.mkdir()
    s = Session(case=case, root=root, cells=cells, tracked=tracked)
    try:
        s.plain = Kernel(plain_dir, root / "plain-home", notebook=None)
        s.seconds["kernels"] = time.perf_counter() - started
        started = time.perf_counter()
        s.run()
        s.seconds["cells"] = time.perf_counter() - started
        s.plain.stop()  # (a) has what it needs: free its memory for the pipelines
        s.plain = None
        s.start_reproduce()
        yield s
    finally:
        s.close()
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in s.seconds.items())
        print(f"\n{case.source}: {timing}")


def test_outputs_are_the_same_as_without_the_extension(session: Session) -> None:
    """(a) Every cell shows what it shows without the extension."""
    volatile = {
        cell_id
        for cell_id, source in session.cells
        if any(text in source for text in session.case.volatile_cells)
    }
    differ = []
    for cell_id, source in session.cells:
        if cell_id in volatile:
            continue
        plain, tracked = session.plain_outputs[cell_id], session.tracked_outputs[cell_id]
        for key in ("stdout", "stderr", "rich", "error"):
            if plain[key] != tracked[key]:
                first = source.strip().splitlines()[0] if source.strip() else ""
                differ.append(
                    f"{cell_id} ({first[:60]!r}) {key}:\n{diff(plain[key], tracked[key])}"
                )
    assert not differ, f"{session.case.source}: outputs changed\n" + "\n".join(differ)


def test_tracked_cell_records_params_and_metrics_without_code(session: Session) -> None:
    """(b) Autolog: the %%track cell, as upstream wrote it, records params and a metric."""
    assert not session.errors, f"{session.case.source}: cells failed {session.errors}"
    run = session.tracked_run()
    assert run.status.value == "finished", (session.case.source, run.status)
    assert run.params, f"{session.case.source}: the tracked run recorded no params"
    missing = [
        name
        for name in session.case.params_like
        if not any(key == name or key.endswith(("." + name, "__" + name)) for key in run.params)
    ]
    assert not missing, (
        f"{session.case.source}: no param {missing} of the estimator the cell fits; "
        f"recorded: {run.params}"
    )
    assert run.metrics, (
        f"{session.case.source}: the tracked run recorded no metric "
        f"(params: {sorted(run.params)[:20]})"
    )


#: Imports the exported module (which must print, write and chdir nothing), calls ``run()``
#: once and pickles ``probe`` evaluated on the target:
#: ``python -c RUN_PROBE REPORT.pkl TARGET PROBE``.
RUN_PROBE = textwrap.dedent(
    """
    import contextlib, io, os, pickle, sys

    report_path, target, probe = sys.argv[1:4]
    root, before = os.getcwd(), sorted(os.listdir())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        import pipeline
    imported = {
        "stdout": out.getvalue(), "cwd": os.getcwd() != root, "files": sorted(os.listdir()) != before
    }
    result = pipeline.run()
    value = eval(probe, {}, {target: result[target]})
    with open(report_path, "wb") as f:
        pickle.dump({"import": imported, "keys": sorted(result), "value": value}, f)
    """
)


def kernel_probe(session: Session, probe: str) -> Any:
    """``probe`` evaluated in the tracked kernel (pickled there, read here)."""
    path = session.root / "kernel-probe.pkl"
    session.tracked.run(
        "test-harness-probe",
        "import pickle as _harness_pickle\n"
        f"with open({str(path)!r}, 'wb') as _harness_file:\n"
        f"    _harness_pickle.dump({probe}, _harness_file)\n",
    )
    return pickle.loads(path.read_bytes())


def pipeline_probe(session: Session, export_dir: Path, target: str, probe: str) -> Any:
    """``probe`` evaluated on what the pipeline's ``run()`` returned, in a fresh Python in a
    fresh copy of the notebook folder."""
    # The notebooks read no files: a fresh copy of the notebook folder is an empty folder.
    # (The kernel's own folder is where reproduce runs meanwhile: it stays as it is.)
    cwd = session.root / "pipeline-cwd"
    cwd.mkdir()
    report = session.root / "probe-report.pkl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(export_dir), str(REPO), os.environ.get("PYTHONPATH", "")) if p
        ),
        "MLTRACK_HOME": str(session.root / "pipeline-home"),
    }
    env.pop("MLTRACK_STORE_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", RUN_PROBE, str(report), target, probe],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    script = (export_dir / "pipeline.py").read_text()
    assert proc.returncode == 0, f"the pipeline failed:\n{proc.stderr}\n{script}"
    got = pickle.loads(report.read_bytes())
    assert got["import"] == {"stdout": "", "cwd": False, "files": False}, (
        f"importing pipeline did something: {got['import']}"
    )
    assert got["keys"] == [target], f"run() returned {got['keys']}, not [{target!r}]"
    return got["value"]


def test_export_of_the_target_returns_the_kernels_value(session: Session) -> None:
    """(c) The exported pipeline, run as a script in a fresh process, gives the kernel's value."""
    assert not session.errors, f"{session.case.source}: cells failed {session.errors}"
    case, nb = session.case, session.tracked
    started = time.perf_counter()
    export = nb.export(case.target)  # ruff-clean, no noqa'd undefined name, no get_ipython
    # run() once (test_export_cases checks a second call; here it would double the cost)
    probe = case.probe or case.target
    want = kernel_probe(session, probe)
    got = pipeline_probe(session, export.dir, case.target, probe)
    assert_same(probe, got, want)
    session.seconds["export"] = time.perf_counter() - started


def test_reproduce_of_the_tracked_run_exits_0(session: Session) -> None:
    """(d) ``mltrack reproduce RUN`` re-runs the tracked cell's pipeline and agrees."""
    assert not session.errors, f"{session.case.source}: cells failed {session.errors}"
    status, printed = session.reproduced()
    if status != 0 and session.case.stdout_varies:
        # the notebook itself chooses by a measured time: reproduce must then name exactly
        # that difference (the printed winner), with every metric and value equal
        verdicts = [line for line in printed.splitlines() if line.startswith("NOT reproduced")]
        assert verdicts and verdicts[-1].startswith("NOT reproduced: stdout differs ("), (
            f"{session.case.source}: reproduce found more than the varying printout "
            f"({session.case.stdout_varies}):\n{printed}"
        )
        return
    assert status == 0, f"{session.case.source}: mltrack reproduce exited {status}\n{printed}"
