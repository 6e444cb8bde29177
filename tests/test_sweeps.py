"""Sweeps (issue 15): a real scikit-learn notebook tracked by a real kernel, its run exported
to a pipeline, and that pipeline searched by ``mltrack.sweep``: trials in a pool of real
processes, each trial a child run in a real SQLite store; a sweep killed with SIGKILL and
resumed; grids, failures and pruning; the pool kept for the next sweep (a changed pipeline
or module imported anew, a dead worker replaced, the kept workers let go).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mltrack.pipeline.export import export
from jupyter_mltrack.store import RunStatus, Store
from jupyter_mltrack.sweeps import api
from jupyter_mltrack.sweeps import pool as sweep_pool
from jupyter_mltrack.sweeps.driver import SweepError, find_sweep_or_none, pipeline_params
from jupyter_mltrack.sweeps.records import SWEEP_TAG, TRIAL_TAG
from jupyter_mltrack.sweeps.trial import TrialSpec, run_trial

from .test_pipeline import Session, _env, session_reading_data

pytest.importorskip("optuna")

IMPORTS = """import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split"""
DATA = """X, y = make_classification(n_samples=300, n_features=8, n_informative=3, random_state=0)
X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)"""
PARAMS = "C = 0.05\nsteps = 4\nboom = 0"
#: Logs ``curve`` step by step (what a pruner reads), then the held-out accuracy.
TRAIN = """%%track
scale = 1 / (1 - boom)  # boom=1 fails the cell
for step in range(steps):
    mltrack.log_metric("curve", C * (step + 1), step=step)
clf = LogisticRegression(C=C, max_iter=300).fit(X_tr, y_tr)
acc = clf.score(X_te, y_te)
mltrack.log_metric("acc", acc * scale)"""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return session_reading_data(
        tmp_path_factory.mktemp("sweeps"),
        ("imports", IMPORTS),
        ("data", DATA),
        ("params", PARAMS),
        ("train", TRAIN),
    )


@pytest.fixture(scope="module")
def pipeline(session: Session) -> Path:
    """The notebook's run #1 exported."""
    store = session.store()
    try:
        (run,), _ = store.search_runs(order="number", limit=1)
        out = session.root / "pipeline"
        export(store, directory=out, run=run.id)
    finally:
        store.close()
    return out


@pytest.fixture(scope="module", autouse=True)
def _kept_workers_go_with_the_module() -> Iterator[None]:
    """The pools the sweeps here keep (their workers hold scikit-learn) go with the module."""
    yield
    sweep_pool.shutdown()


@pytest.fixture
def store(session: Session) -> Iterator[Store]:
    st = session.store()
    yield st
    st.close()


def notebook_acc(store: Store) -> float:
    (run,), _ = store.search_runs(experiment="analysis", order="number", limit=1)
    assert run.source == "notebook"
    return float(run.metrics["acc"])


def trials_of(store: Store, sweep_run_id: str) -> list:
    return store.child_runs(sweep_run_id, source="sweep")


def test_the_pipeline_parameters_are_read_without_running_it(pipeline: Path) -> None:
    assert pipeline_params(pipeline) == {"C": 0.05, "steps": 4, "boom": 0}
    with pytest.raises(SweepError, match="no pipeline"):
        pipeline_params(pipeline.parent / "nowhere")


def test_a_grid_sweep_is_exactly_the_grid_each_trial_a_child_run(
    pipeline: Path, store: Store
) -> None:
    result = api.sweep(
        pipeline,
        {"C": [0.01, 0.1, 1.0], "steps": [2, 3]},
        "acc",
        sampler="grid",
        trials=50,
        jobs=2,
        name="grid",
        store=store,
        progress=False,
    )
    assert result.counts() == {"finished": 6}
    combos = sorted((t.params["C"], t.params["steps"]) for t in result.trials)
    assert combos == sorted((c, s) for c in (0.01, 0.1, 1.0) for s in (2, 3))
    assert sorted(t.number for t in result.trials) == list(range(6))
    sweep_run = store.get_run(result.run_id)
    assert sweep_run.source == "sweep" and sweep_run.status is RunStatus.FINISHED
    assert sweep_run.experiment == "analysis"  # the pipeline's, as its trials
    assert sweep_run.params["metric"] == "acc" and sweep_run.params["space.C"] == "[0.01, 0.1, 1.0]"
    assert sweep_run.metrics["best.acc"] == result.best.value
    for run in trials_of(store, result.run_id):
        assert run.tags[SWEEP_TAG] == "grid" and run.tags[TRIAL_TAG].isdigit()
        assert run.params["boom"] == 0  # not searched: the pipeline's value
        assert "acc" in run.metrics and run.status is RunStatus.FINISHED
        assert store.get_run_detail(run.id).pid != os.getpid()  # in a worker process
    with pytest.raises(SweepError, match="exists"):
        api.sweep(pipeline, {"C": [1.0]}, "acc", name="grid", store=store, progress=False)


def test_a_trial_that_raises_is_failed_with_its_error_and_the_sweep_goes_on(
    pipeline: Path, store: Store
) -> None:
    result = api.sweep(
        pipeline, {"boom": [0, 1]}, "acc", sampler="grid", jobs=1, name="boom", store=store,
        progress=False,
    )  # fmt: skip
    assert result.counts() == {"failed": 1, "finished": 1}
    (failed,) = [t for t in result.trials if t.state == "failed"]
    assert failed.params == {"boom": 1} and "ZeroDivisionError" in (failed.error or "")
    assert store.get_run(failed.run_id).status is RunStatus.FAILED
    assert store.get_run(result.run_id).status is RunStatus.FINISHED


def test_unknown_parameters_and_bad_spaces_are_refused_before_any_trial(
    pipeline: Path, store: Store
) -> None:
    with pytest.raises(SweepError, match="no parameter lr; its parameters: C, steps, boom"):
        api.sweep(pipeline, {"lr": "loguniform(1e-4, 1e-1)"}, "acc", store=store, progress=False)
    with pytest.raises(ValueError, match="C: "):
        api.sweep(pipeline, {"C": "loguniform(0, 1)"}, "acc", store=store, progress=False)
    with pytest.raises(ValueError, match="unknown pruner 'medain': did you mean median"):
        api.sweep(pipeline, {"C": [1.0]}, "acc", pruner="medain", store=store, progress=False)


def test_a_run_number_is_looked_up_in_the_experiment_named(
    session: Session, store: Store, tmp_path: Path
) -> None:
    """``mltrack sweep 1 -e analysis`` sweeps run #1 of ``analysis``, whatever experiment is
    current (here the store's default, which has no run #1)."""
    from jupyter_mltrack.sweeps.api import _pipeline_of

    folder, _cwd, experiment = _pipeline_of(store, 1, "by-number", tmp_path / "out", "analysis")
    assert experiment == "analysis"
    assert pipeline_params(folder) == {"C": 0.05, "steps": 4, "boom": 0}


def test_a_sweep_resumes_on_the_executor_it_is_given(pipeline: Path, store: Store) -> None:
    """``mltrack sweep resume NAME --executor URL`` resumes there, not where it started."""
    from jupyter_mltrack.sweeps.driver import Sweep, definition

    Sweep.create(store, definition(pipeline, {"C": [0.1]}, "acc", name="elsewhere"))
    with pytest.raises(ValueError, match="executor 'nowhere': use 'local'"):
        api.resume("elsewhere", executor="nowhere", store=store, progress=False)


def test_a_pruned_trial_is_recorded_pruned(pipeline: Path, store: Store) -> None:
    """Five finished trials whose ``curve`` reached 10 per step; a trial whose curve is far
    below the median at its second step is stopped there by the median pruner."""
    sweep_run = store.create_run(
        "sweeps", name="pruning", source="sweep", tags={SWEEP_TAG: "pruning"}
    )
    from jupyter_mltrack.store.entities import MetricPoint

    for n in range(5):
        sibling = store.create_run(
            "sweeps",
            source="sweep",
            parent_run_id=sweep_run.id,
            tags={SWEEP_TAG: "pruning", TRIAL_TAG: str(n)},
        )
        points = [MetricPoint("curve", 10.0 * (s + 1), s, time.time()) for s in range(4)]
        store.finish_run(sibling.id, RunStatus.FINISHED, metrics=points)
    spec = TrialSpec(
        sweep="pruning",
        sweep_run_id=sweep_run.id,
        number=5,
        run_id="f" * 32,
        params={"C": 0.5},
        metric="curve",
        goal="max",
        pruner="median",
        experiment="sweeps",
        pipeline=str(pipeline),
        store_url=store.url,
    )
    outcome = run_trial(spec)
    assert outcome.state == "pruned", outcome
    assert outcome.intermediate == {0: 0.5, 1: 1.0} or outcome.intermediate == {0: 0.5}
    run = store.get_run(spec.run_id)
    assert run.status is RunStatus.PRUNED and run.parent_run_id == sweep_run.id
    assert "acc" not in run.metrics  # stopped before training
    spec_good = TrialSpec(
        **{**spec.__dict__, "number": 6, "run_id": "e" * 32, "params": {"C": 20.0}}
    )
    assert run_trial(spec_good).state == "finished"


def test_a_trial_run_a_worker_creates_is_its_attempts(pipeline: Path, store: Store) -> None:
    """A trial whose run the driver did not record (the worker creates it: as it starts, or
    to record a failure before the pipeline opened it) carries its attempt, as the driver's
    would: its writes, checked against that attempt, land; once the driver hands the trial
    out again, the old attempt's next run of it is superseded and writes nothing."""
    from jupyter_mltrack.sweeps.records import ATTEMPT_TAG

    sweep_run = store.create_run("sweeps", name="made", source="sweep", tags={SWEEP_TAG: "made"})
    spec = TrialSpec(
        sweep="made",
        sweep_run_id=sweep_run.id,
        number=0,
        run_id="a" * 32,
        params={"C": 0.5, "steps": 1},
        metric="acc",
        goal="max",
        pruner=None,
        experiment="sweeps",
        pipeline=str(pipeline),
        store_url=store.url,
        attempt="a1",
    )
    outcome = run_trial(spec)  # start_trial_run finds no run: it creates it
    assert outcome.state == "finished", outcome
    run = store.get_run(spec.run_id)
    assert run.status is RunStatus.FINISHED and run.tags[ATTEMPT_TAG] == "a1"
    assert "acc" in run.metrics
    failing = TrialSpec(**{**spec.__dict__, "number": 1, "run_id": "b" * 32, "params": {"x": 1}})
    outcome = run_trial(failing)  # refused before the pipeline runs: the failure's record
    assert outcome.state == "failed" and "no parameter x" in (outcome.error or ""), outcome
    run = store.get_run(failing.run_id)
    assert run.status is RunStatus.FAILED and run.tags[ATTEMPT_TAG] == "a1"
    store.restart_run(spec.run_id, spec.params, attempt="a2")  # handed out again
    outcome = run_trial(spec)  # the first attempt, still running somewhere
    assert outcome.state == "superseded", outcome
    run = store.get_run(spec.run_id)
    assert run.status is RunStatus.RUNNING and run.metrics == {}
    assert run.tags[ATTEMPT_TAG] == "a2"


#: A script without a ``__main__`` guard, as a user may write: the workers must not run it.
KILLED = """
import sys
with open(sys.argv[3], "a") as marks:  # once: no worker may run this script again
    marks.write("started\\n")
from jupyter_mltrack.store import Store
from jupyter_mltrack.sweeps import api
store = Store(sys.argv[1])
api.sweep(sys.argv[2], {"C": "loguniform(0.01, 10)"}, "acc", trials=20, jobs=2, seed=3,
          name="killed", store=store, progress=False)
"""


def test_a_sweep_killed_after_8_trials_resumes_to_exactly_20(
    session: Session, pipeline: Path, store: Store
) -> None:
    """The driver is SIGKILLed once 8 trials have ended; resumed, the sweep ends with
    exactly 20 trials, numbered 0-19, none recorded twice, the best no worse than the
    notebook's own run (trial 0 is the notebook's values)."""
    script = session.root / "killed.py"
    script.write_text(textwrap.dedent(KILLED))
    marks = session.root / "killed-started.txt"
    driver = subprocess.Popen(
        [sys.executable, str(script), str(session.home), str(pipeline), str(marks)],
        cwd=session.root,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if driver.poll() is not None:
                pytest.fail(f"the sweep ended before it was killed: {driver.stderr.read()}")
            found = store.runs_tagged(SWEEP_TAG, "killed", source="sweep")
            sweep = [r for r in found if r.parent_run_id is None]
            if sweep:
                ended = [r for r in trials_of(store, sweep[0].id) if r.status.terminal]
                if len(ended) >= 8:
                    break
            time.sleep(0.05)
        else:
            pytest.fail("8 trials did not end in time")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert marks.read_text() == "started\n"  # the spawned workers never ran the script
    result = api.resume("killed", store=store, progress=False)
    runs = trials_of(store, result.run_id)
    numbers = sorted(int(r.tags[TRIAL_TAG]) for r in runs)
    assert numbers == list(range(20)), numbers
    assert len({r.id for r in runs}) == 20
    assert result.counts() == {"finished": 20}  # the killed ones were run again
    # the resumed sampler is seeded on from where it was, not from the start again
    assert len({t.params["C"] for t in result.trials}) == 20
    first = next(t for t in result.trials if t.number == 0)
    assert first.params == {"C": 0.05}
    assert result.best is not None and result.best.value >= notebook_acc(store)
    assert store.get_run(result.run_id).status is RunStatus.FINISHED
    shown = api.show("killed", store=store)
    assert shown.summary().splitlines()[0].startswith("sweep killed (finished): 20 trials")
    history = shown.history_figure()
    assert sum(len(trace.x) for trace in history.data if trace.mode == "markers") == 20
    assert shown.importance_figure().data  # one searched parameter, 20 finished trials


#: In a process that is no kernel (as a sweep's worker): the sweep API resolves, and a run
#: does not import ipykernel (IPython, jedi…: half a second of a worker's first trial).
FRESH = """
import sys
import jupyter_mltrack as m
assert m.sweep is m.sweeps.sweep
m.start_run(experiment="fresh")
m.log_metric("x", 1.0)
m.end_run()
from jupyter_mltrack.capture.api import wait_pending
wait_pending()
assert "ipykernel" not in sys.modules and "IPython" not in sys.modules, "imported a kernel"
print("ok")
"""


def test_mltrack_sweep_resolves_and_a_script_run_loads_no_kernel(tmp_path: Path) -> None:
    """``mltrack.sweep`` and ``mltrack.sweeps`` are loaded on first use (PEP 562): in a
    process that has not imported the subpackage yet, the lookup must not recurse. A run
    there asks for no kernel id (there is none to find)."""
    done = subprocess.run(
        [sys.executable, "-c", FRESH],
        env=_env(tmp_path / "store"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


READS = """%%track
df = pd.read_csv("data.csv")
total = float(df["x"].sum()) * lr
mltrack.log_metric("total", total)"""


def test_from_snapshots_every_trial_reads_the_data_the_run_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook's run read data.csv (x: 1, 2, 3); the file has changed since. Swept from
    the run's snapshots, every trial reads the data the run read; swept as it is (from the
    notebook's folder, as a pipeline folder's trials work where the sweep starts), the file
    as it is now."""
    monkeypatch.chdir(tmp_path)
    session = session_reading_data(
        tmp_path, ("params", "import pandas as pd\nlr = 1.0"), ("train", READS)
    )
    store = session.store()
    try:
        (run,), _ = store.search_runs(experiment="analysis", order="number", limit=1)
        export(store, directory=tmp_path / "reads", run=run.id)
        (tmp_path / "data.csv").write_text("x\n10\n20\n30\n")
        kept = api.sweep(
            tmp_path / "reads", {"lr": [1.0, 2.0]}, "total", sampler="grid", jobs=2,
            from_snapshots=True, name="kept", store=store, progress=False,
        )  # fmt: skip
        assert sorted(t.value for t in kept.trials) == [6.0, 12.0]
        now = api.sweep(
            tmp_path / "reads", {"lr": [1.0]}, "total", sampler="grid", jobs=1,
            name="now", store=store, progress=False,
        )  # fmt: skip
        assert [t.value for t in now.trials] == [60.0]
    finally:
        store.close()


# the pool kept from one sweep to the next -----------------------------------------------------


def worker_pids(store: Store, sweep_run_id: str) -> set[int]:
    """The processes the sweep's trials ran in (each took its run over)."""
    return {store.get_run_detail(r.id).pid for r in trials_of(store, sweep_run_id)}


def pool_of(store: Store, sweep_run_id: str) -> sweep_pool.WorkerPool:
    """The kept pool the sweep's trials ran in (others may be kept, by other tests)."""
    pids = worker_pids(store, sweep_run_id)
    (pool,) = [p for p in sweep_pool.kept() if pids <= set(p.pids())]
    return pool


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for(what: str, done: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not in {timeout:.0f} s"
        time.sleep(0.02)


def grid_sweep(folder: Path, store: Store, name: str, values: list[float], jobs: int = 2) -> str:
    """A grid sweep of ``C``; its run id (every trial finished)."""
    result = api.sweep(
        folder, {"C": values}, "acc", sampler="grid", jobs=jobs, name=name, store=store,
        progress=False,
    )  # fmt: skip
    assert result.counts() == {"finished": len(values)}, result.to_dict()
    return result.run_id


def edited(pipeline: Path, folder: Path, after_acc: str) -> Path:
    """A copy of the pipeline whose cell runs ``after_acc`` after logging ``acc``."""
    shutil.copytree(pipeline, folder)
    source = folder / "pipeline.py"
    logged = '    mltrack.log_metric("acc", acc * scale)\n'
    text = source.read_text()
    assert logged in text
    source.write_text(text.replace(logged, logged + after_acc))
    return folder


def test_the_next_sweep_runs_in_the_kept_workers_and_imports_a_changed_pipeline(
    pipeline: Path, store: Store, tmp_path: Path
) -> None:
    """A sweep's workers are kept: the next sweep runs in them, without starting any. The
    pipeline exported again into the same folder, changed, is imported anew by them."""
    sweep_pool.shutdown()
    folder = edited(pipeline, tmp_path / "pipe", "")
    first = grid_sweep(folder, store, "warm-1", [0.05, 0.5])
    (kept,) = sweep_pool.kept()
    pids = set(kept.pids())
    assert worker_pids(store, first) <= pids and len(pids) == 2 and os.getpid() not in pids
    source = folder / "pipeline.py"
    logged = '    mltrack.log_metric("acc", acc * scale)\n'
    source.write_text(
        source.read_text().replace(logged, logged + '    mltrack.log_metric("marker", 1.0)\n')
    )
    second = grid_sweep(folder, store, "warm-2", [0.05, 0.5])
    assert sweep_pool.kept() == [kept] and set(kept.pids()) == pids
    assert worker_pids(store, second) <= pids
    assert all(r.metrics.get("marker") == 1.0 for r in trials_of(store, second))
    assert all("marker" not in r.metrics for r in trials_of(store, first))


def test_a_worker_writes_its_trials_without_loading_sqlalchemy(
    pipeline: Path, store: Store
) -> None:
    """A SQLite store's trials are written, and their pruner's view of the others read,
    with the statements the driver prepared: the workers never import SQLAlchemy (a quarter
    of a second each at start), and the trials' runs are recorded as ever (params, metrics,
    environment, their attempt)."""
    sweep_pool.shutdown()
    result = api.sweep(
        pipeline, {"C": [0.05, 0.5, 5.0]}, "acc", sampler="grid", jobs=2, name="lean",
        pruner="median", store=store, progress=False,
    )  # fmt: skip
    assert result.counts() == {"finished": 3}, result.to_dict()
    run_id = result.run_id
    (kept,) = sweep_pool.kept()
    assert kept.files and not [f for f in kept.files if f"{os.sep}sqlalchemy{os.sep}" in f]
    for trial in trials_of(store, run_id):
        detail = store.get_run_detail(trial.id)
        assert trial.params["C"] in (0.05, 0.5, 5.0) and "acc" in trial.metrics
        assert detail.environment is not None and "scikit-learn" in detail.environment.packages
        assert trial.tags["mltrack.attempt"] and detail.pid in kept.pids()


def test_a_kept_worker_that_died_is_replaced(pipeline: Path, store: Store) -> None:
    kept = pool_of(store, grid_sweep(pipeline, store, "replaced-1", [0.05]))
    victim = kept.pids()[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(
        "the dead worker replaced", lambda: victim not in kept.pids() and len(kept.pids()) == 2
    )
    second = grid_sweep(pipeline, store, "replaced-2", [0.05, 0.5, 5.0])
    assert victim not in worker_pids(store, second)
    assert pool_of(store, second) is kept  # the same pool, kept again


def test_a_kept_pool_is_not_used_once_a_module_its_workers_loaded_changed(
    pipeline: Path, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline imports a module of the user's: edited after a sweep, the next sweep runs
    in new workers, which import it as it is now (the kept ones would run the old code)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    helper = lib / "mltrack_sweep_helper.py"
    helper.write_text("VALUE = 1.0\n")
    monkeypatch.syspath_prepend(str(lib))
    folder = edited(
        pipeline,
        tmp_path / "pipe",
        "    import mltrack_sweep_helper\n"
        '    mltrack.log_metric("helper", mltrack_sweep_helper.VALUE)\n',
    )
    first = grid_sweep(folder, store, "helper-1", [0.05], jobs=1)
    assert [r.metrics["helper"] for r in trials_of(store, first)] == [1.0]
    helper.write_text("VALUE = 2.0\n")
    was = helper.stat()
    os.utime(helper, ns=(was.st_atime_ns, was.st_mtime_ns + 10**9))  # saved a second later
    second = grid_sweep(folder, store, "helper-2", [0.05], jobs=1)
    assert [r.metrics["helper"] for r in trials_of(store, second)] == [2.0]
    assert worker_pids(store, first).isdisjoint(worker_pids(store, second))


def test_the_kept_workers_go_on_shutdown_after_their_idle_time_or_at_once(
    pipeline: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mltrack.sweeps.shutdown()`` lets the kept workers go now; a pool is kept
    ``MLTRACK_SWEEP_POOL_IDLE`` seconds after its sweep, none with 0. A worker starts with
    its BLAS/OpenMP threads capped (one, or ``threads``)."""
    import jupyter_mltrack as mltrack

    grid_sweep(pipeline, store, "let-go", [0.05], jobs=1)
    pids = [pid for pool in sweep_pool.kept() for pid in pool.pids()]
    assert pids
    mltrack.sweeps.shutdown()
    assert sweep_pool.kept() == [] and all(gone(pid) for pid in pids)

    for idle, threads in (("0", None), ("0.1", 2)):
        monkeypatch.setenv(sweep_pool.IDLE_ENV, idle)
        pool = sweep_pool.acquire(1, threads)  # as a sweep takes it, and gives it back
        wait_for("a worker started", lambda: len(pool.pids()) == 1)  # noqa: B023
        (pid,) = pool.pids()
        if sys.platform == "linux":
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"OMP_NUM_THREADS={threads or 1}".encode() in environ
        sweep_pool.release(pool)
        if idle == "0":
            assert sweep_pool.kept() == []
        wait_for(f"the pool let go ({idle} s idle)", lambda: gone(pid) and not sweep_pool.kept())  # noqa: B023


def test_workers_that_cannot_start_fail_the_sweep_saying_so(
    pipeline: Path, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interpreter that exits at once (a broken environment): the sweep stops with the
    reason, instead of failing every trial or starting workers forever."""
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(broken))
    with pytest.raises(sweep_pool.WorkerDied, match="cannot start.*code 3"):
        grid_sweep(pipeline, store, "no-workers", [0.05, 0.5, 5.0])
    sweep = find_sweep_or_none(store, "no-workers")
    assert sweep is not None and sweep.status is RunStatus.INTERRUPTED
    trials = trials_of(store, sweep.id)
    # the two handed out failed; the third, never handed out, is run again by a resume
    assert sorted(r.status.value for r in trials) == ["failed", "failed", "interrupted"]
    assert all("cannot start" in store.get_run_detail(r.id).error["evalue"] for r in trials)
