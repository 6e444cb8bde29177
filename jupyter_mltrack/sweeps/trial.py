"""One trial of a sweep, in the process that runs it (a pool worker, a Dask worker).

The exported pipeline knows nothing of sweeps: its ``run(**params)`` opens its run through
``start_pipeline_run`` and logs through ``mltrack.log_metric``. While :func:`run_trial`
runs it, a trial context is set here, and the package reads it: the pipeline's run becomes
the trial's child run (source ``sweep``, the id the driver gave it, the sweep's tags), and
every value of the sweep's metric it logs is reported to the pruner, which may stop the
trial by raising :class:`optuna.TrialPruned` from inside that ``log_metric`` call.

A trial re-run (its worker died, or the sweep was resumed) writes into the same run id:
the earlier attempt's run is replaced, so a sweep never holds a trial twice. Each hand-out
of a trial by a driver is an attempt (``TrialSpec.attempt``, recorded on the run by the
driver) and the worker writes the run as that attempt (``Store.writing_as``): once a
resumed driver has handed the trial out again, every write of an earlier attempt still
running (on a Dask worker, which outlives its driver) is refused in its own transaction,
and that attempt ends quietly as ``superseded``, its worker free for the next trial. The
Dask scheduler running a task again after its worker died runs the same attempt, which
starts its run over as before.

Nothing here imports optuna or the pipeline's libraries until a trial runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..capture.api import ActiveRun
from ..store.entities import RunStatus
from .records import ATTEMPT_TAG, SWEEP_TAG, TRIAL_TAG
from .trial_store import TrialWrites

if TYPE_CHECKING:
    from ..store.attempts import Fence
    from ..store.store import Store

#: The pruner's view of the other trials is read again at most this often (seconds).
SIBLINGS_TTL = 1.0
#: Environment variables that cap the threads of numpy's BLAS and OpenMP in a worker.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs to run one trial (pickled to it)."""

    sweep: str
    sweep_run_id: str
    number: int
    run_id: str
    #: The searched parameters; the others keep the pipeline's values (``params.yaml``).
    params: dict[str, Any]
    metric: str
    goal: str
    pruner: str | None
    experiment: str | None
    #: The pipeline's folder on the driver's machine.
    pipeline: str
    store_url: str
    blob_url: str | None = None
    #: The working folder the pipeline reads its files from (``None``: the pipeline's own).
    cwd: str | None = None
    #: Run on the run's snapshotted input files rather than the current ones.
    from_snapshots: bool = False
    #: The pipeline's files by name, for a worker that may not see the driver's folder.
    files: dict[str, bytes] | None = None
    #: This hand-out of the trial (a token the driver records on the run): the worker's
    #: writes count only while the run is still this attempt's. ``None``: a trial run by
    #: hand, its writes unchecked.
    attempt: str | None = None
    #: The trial's writes, prepared by the driver (a SQLite store): the worker records the
    #: trial's run without importing SQLAlchemy (see :mod:`.trial_store`).
    writes: TrialWrites | None = None

    def run_fields(self) -> dict[str, Any]:
        """What the trial's run is created with, by the driver or by a worker alike."""
        tags = {SWEEP_TAG: self.sweep, TRIAL_TAG: str(self.number)}
        if self.attempt is not None:
            tags[ATTEMPT_TAG] = self.attempt
        return {
            "name": f"{self.sweep} #{self.number}",
            "source": "sweep",
            "parent_run_id": self.sweep_run_id,
            "tags": tags,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class TrialOutcome:
    """What became of a trial: ``state`` is ``finished``, ``failed`` or ``pruned``, or
    ``superseded`` when another attempt took the trial's run over while this one ran (its
    writes were refused from then on: the run is the other attempt's to record)."""

    number: int
    run_id: str
    state: str
    value: float | None
    error: str | None = None
    seconds: float = 0.0
    intermediate: dict[int, float] = field(default_factory=dict)


class TrialRun(ActiveRun):
    """The run of a trial: each value of the sweep's metric it logs is reported to the
    pruner (the one call the other runs do not pay for)."""

    trial: _Trial

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        super().log_metric(key, value, step)
        if key == self.trial.spec.metric:
            latest = self.latest.get(key)
            if latest is not None:
                self.trial.report(latest[0], latest[1])

    def end(self, status: RunStatus | str = RunStatus.FINISHED, **kwargs: Any) -> None:
        if self.trial.pruned and RunStatus(status) is RunStatus.FAILED:
            status = RunStatus.PRUNED
        super().end(status, **kwargs)


class _Trial:
    """The trial this process is running: its spec, its reports, its pruner."""

    def __init__(self, spec: TrialSpec, store: Store) -> None:
        self.spec = spec
        self.store = store
        self.reported: dict[int, float] = {}
        self.pruned = False
        self.pruner = None
        self.system_attrs: dict[str, Any] = {}
        self._siblings: list[Any] = []
        self._siblings_at = float("-inf")
        if spec.pruner:
            from .space import make_pruner

            self.pruner = make_pruner(spec.pruner)

    def report(self, step: int, value: float) -> None:
        """Record an intermediate value; raise ``optuna.TrialPruned`` if the pruner says so."""
        self.reported[int(step)] = float(value)
        if self.pruner is None or value != value:  # NaN: nothing to compare
            return
        import optuna

        study = self._study()
        trial = study.trials[-1]
        if self.pruner.prune(study, trial):
            self.pruned = True
            raise optuna.TrialPruned(f"pruned at step {step} ({self.spec.metric} = {value:g})")
        # a pruner's own state (successive halving's rungs) lives in the trial's attributes
        self.system_attrs = dict(study.trials[-1].system_attrs)

    def _study(self) -> Any:
        """An in-memory study of the sweep's other trials (read from the store at most every
        ``SIBLINGS_TTL`` seconds) and this one, running, with what it reported."""
        import optuna
        from optuna.distributions import FloatDistribution
        from optuna.trial import TrialState, create_trial

        now = time.monotonic()
        if now - self._siblings_at > SIBLINGS_TTL:
            self._siblings = list(sibling_trials(self.store, self.spec))
            self._siblings_at = now
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        direction = "maximize" if self.spec.goal == "max" else "minimize"
        study = optuna.create_study(direction=direction)
        dist = {"_": FloatDistribution(0.0, 1.0)}
        trials = [
            create_trial(
                state=state,
                value=value if state is TrialState.COMPLETE else None,
                params={"_": 0.0},
                distributions=dist,
                intermediate_values=series,
            )
            for state, value, series in self._siblings
        ]
        trials.append(
            create_trial(
                state=TrialState.RUNNING,
                params={"_": 0.0},
                distributions=dist,
                intermediate_values=dict(self.reported),
                system_attrs=dict(self.system_attrs),
            )
        )
        study.add_trials(trials)
        return study


def sibling_trials(store: Store, spec: TrialSpec) -> Iterator[tuple[Any, float | None, dict]]:
    """``(optuna state, value, {step: value})`` of the sweep's other ended trials: what a
    pruner compares this trial with."""
    from optuna.trial import TrialState

    states = {RunStatus.FINISHED: TrialState.COMPLETE, RunStatus.PRUNED: TrialState.PRUNED}
    for status, value, values in store.sweep_siblings(spec.sweep_run_id, spec.run_id, spec.metric):
        yield states[status], value, values


# the process side --------------------------------------------------------------------------

_current: _Trial | None = None
#: The store this process opened for its trials (closed when a trial of another comes).
_opened: Store | None = None
#: Pipelines imported by this process, by (folder, content digest).
_modules: dict[tuple[str, str], ModuleType] = {}
_pipeline_paths: dict[str, Path] = {}
#: Where each pipeline module's snapshotted inputs were restored, by module name (which
#: holds its content's digest: a pipeline exported again restores its own).
_restored: dict[str, str] = {}
#: One trial at a time in a process: its context (``_current``) and the pipeline module's
#: globals (``run()`` rebinds them) are the process's. A Dask worker of several threads
#: would otherwise run two trials at once, each training with the other's values and
#: writing into the other's run.
one_trial_at_a_time = threading.Lock()


def current() -> _Trial | None:
    """The trial this process is running, if any (read by ``start_pipeline_run``)."""
    return _current


def start_trial_run(
    experiment: str | None, params: Mapping[str, Any], notebook_path: str
) -> ActiveRun | None:
    """The pipeline's run, as the current trial's run (``start_pipeline_run`` calls it):
    the run the driver recorded for the trial, started over by this process (an earlier
    attempt's values go), else a new one of that id. Raises ``RunSuperseded`` if the run
    is another attempt's by now (the pipeline stops before it begins)."""
    from ..capture.api import activate, start_run
    from ..store.errors import RunNotFound

    trial = _current
    assert trial is not None
    spec = trial.spec
    try:
        run = trial.store.restart_run(spec.run_id, params)
    except RunNotFound:
        active = start_run(
            experiment=spec.experiment or experiment,
            params=params,
            notebook_path=notebook_path,
            nested=False,
            store=trial.store,
            active_type=TrialRun,
            **spec.run_fields(),
        )
    else:
        active = activate(run, trial.store, active_type=TrialRun)
    assert isinstance(active, TrialRun)
    active.trial = trial
    return active


def run_trial(spec: TrialSpec) -> TrialOutcome:
    """Run one trial in this process and say how it went. Never raises for the trial's own
    failure: a failed trial is an outcome (its run records the error). A trial handed to
    this process while another runs in it (another thread of a Dask worker) waits for it."""
    with one_trial_at_a_time:
        return _run_trial(spec)


def _run_trial(spec: TrialSpec) -> TrialOutcome:
    store = _store_for(spec)
    with store.writing_as(spec.run_id, spec.attempt) as fence:
        return _attempt(spec, store, fence)


def _attempt(spec: TrialSpec, store: Store, fence: Fence) -> TrialOutcome:
    """Run the trial, its writes those of ``spec.attempt`` (see :func:`_run_trial`)."""
    global _current
    from ..capture import api
    from ..store.errors import RunSuperseded

    t0 = time.perf_counter()
    trial = _Trial(spec, store)
    error: str | None = None
    value: float | None = None
    results: Mapping[str, Any] = {}
    _current = trial
    try:
        with _working_folder(spec) as folder:
            module = _pipeline_module(folder)
            known = getattr(module, "PARAMS", {})
            unknown = sorted(set(spec.params) - set(known))
            if unknown:
                raise TypeError(f"the pipeline has no parameter {', '.join(unknown)}")
            # the values a sweep does not search are the pipeline's (params.yaml first), read
            # as its own command line reads them
            load = getattr(module, "_load_params", lambda path: {})
            params = {**known, **load(Path(folder) / "params.yaml"), **spec.params}
            results = module.run(**{k: v for k, v in params.items() if k in known}) or {}
    except RunSuperseded:  # another attempt has the run: nothing more to write into it
        error = "superseded"
    except (Exception, SystemExit) as exc:  # the pipeline's failure is the trial's
        if not trial.pruned:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            _record_failure(store, spec, exc)
    finally:
        _current = None
        api.wait_pending()
    if fence.superseded:  # whatever it came to, none of it from then on was recorded
        return TrialOutcome(
            number=spec.number,
            run_id=spec.run_id,
            state="superseded",
            value=None,
            error=f"superseded: run {spec.run_id} was handed to another attempt",
            seconds=time.perf_counter() - t0,
        )
    state = "pruned" if trial.pruned else "failed" if error else "finished"
    if state == "finished":
        value = _objective(results, store, spec)
        if value is None:
            state, error = "failed", f"the pipeline logged no {spec.metric!r}"
            _record_failure(store, spec, ValueError(error))
    return TrialOutcome(
        number=spec.number,
        run_id=spec.run_id,
        state=state,
        value=value,
        error=error,
        seconds=time.perf_counter() - t0,
        intermediate=dict(trial.reported),
    )


def _store_for(spec: TrialSpec) -> Store:
    """The sweep's store, opened once per process (a worker runs many trials): a
    :class:`.trial_store.TrialStore` where the driver prepared the trial's writes; the one
    a kept worker opened for an earlier sweep of another store is closed."""
    global _opened
    from ..capture import api

    store = api.opened_store()
    if store is not None and store.url == spec.store_url and store.blob_url == spec.blob_url:
        return store
    if spec.writes is not None:
        from .trial_store import TrialStore

        store = TrialStore(spec.store_url, spec.blob_url, spec.writes)
    else:
        from ..store.store import Store

        store = Store(spec.store_url, blob_url=spec.blob_url)
    earlier, _opened = _opened, api.set_store(store)
    if earlier is not None:  # no longer the process's store, and its trials have ended
        with contextlib.suppress(Exception):
            earlier.close()
    return _opened


def _objective(results: Mapping[str, Any], store: Store, spec: TrialSpec) -> float | None:
    """The trial's value: what ``run()`` returned under the metric's name, else the latest
    value the run logged."""
    from ..jsonsafe import to_float

    value = to_float(results.get(spec.metric)) if spec.metric in results else None
    if value is None:
        with contextlib.suppress(Exception):
            value = to_float(store.get_run(spec.run_id).metrics.get(spec.metric))
    return value


def _record_failure(store: Store, spec: TrialSpec, exc: BaseException) -> None:
    """The trial's run records the error (created if the pipeline failed before opening it)."""
    from ..capture.api import error_info
    from ..store.errors import RunNotFound

    info = error_info(exc)
    try:
        run = store.get_run(spec.run_id)
    except RunNotFound:
        with contextlib.suppress(Exception):
            store.create_run(spec.experiment, params=spec.params, **spec.run_fields())
        run = None
    status = RunStatus.FAILED if run is None or run.status is not RunStatus.PRUNED else run.status
    with contextlib.suppress(Exception):
        store.finish_run(spec.run_id, status, error=info)


@contextlib.contextmanager
def _working_folder(spec: TrialSpec) -> Iterator[str]:
    """The pipeline's folder on this machine (written from ``spec.files`` when the driver's
    is not here), with the working directory set as the pipeline expects, and put back."""
    folder = spec.pipeline
    if spec.files is not None and not _same_files(folder, spec.files):
        folder = _materialize(spec.files)
    before = os.getcwd()
    try:
        if spec.from_snapshots:
            os.chdir(_restored_inputs(folder))
        elif spec.cwd and os.path.isdir(spec.cwd):
            os.chdir(spec.cwd)
        yield folder
    finally:
        os.chdir(before)


def _same_files(folder: str, files: Mapping[str, bytes]) -> bool:
    try:
        return all((Path(folder) / name).read_bytes() == data for name, data in files.items())
    except OSError:
        return False


def _materialize(files: Mapping[str, bytes]) -> str:
    """The shipped pipeline written once per content, in this machine's temp folder."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    folder = Path(tempfile.gettempdir()) / f"mltrack-pipeline-{digest.hexdigest()}"
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + "-", dir=folder.parent))
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        with contextlib.suppress(OSError):  # another worker of this machine did it first
            tmp.rename(folder)
    return str(folder)


def _restored_inputs(folder: str) -> str:
    """The run's snapshotted input files, restored once per pipeline and process (a worker
    kept for the next sweep restores a re-exported pipeline's own): where it works."""
    module = _pipeline_module(folder)
    if module.__name__ not in _restored:
        before = os.getcwd()
        try:
            module.restore_inputs(tempfile.mkdtemp(prefix="mltrack-sweep-inputs-"))
            _restored[module.__name__] = os.getcwd()
        finally:
            os.chdir(before)
    return _restored[module.__name__]


def _pipeline_module(folder: str) -> ModuleType:
    """``pipeline.py`` of ``folder``, imported once per content by this process (read at
    every trial: a pipeline exported again into the same folder is imported anew)."""
    path = _pipeline_paths.get(folder)
    if path is None:
        path = _pipeline_paths[folder] = (Path(folder) / "pipeline.py").resolve()
    source = path.read_bytes()
    key = (str(path), hashlib.blake2b(source, digest_size=8).hexdigest())
    module = _modules.get(key)
    if module is None:
        name = f"mltrack_sweep_pipeline_{key[1]}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # pickling what it defines needs it
        spec.loader.exec_module(module)
        _modules[key] = module
    return module


def limit_threads(threads: int | None) -> None:
    """One BLAS/OpenMP thread per worker (``threads`` if given): two processes each using
    every core would fight over them. Set before numpy loads, and through threadpoolctl for
    libraries already loaded."""
    if threads is None:
        threads = 1
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    with contextlib.suppress(Exception):
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
