"""The active-run lifecycle and the public logging API (usable with or without magics).

Runs nest as a stack: ``log_metric`` goes to the innermost open run, and starting a run while
another is open simply opens a new one — re-running a cell or tracking in a loop never fails
with "a run is already active". Metric points are buffered in memory and written in batches (by
a background worker every couple of seconds, so long trainings show up live, and at the end of
the run), which is what makes logging 100,000 steps cheap. Environment and git facts are also
collected by that worker, off the cell's critical path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..jsonsafe import to_float
from ..store.entities import MetricPoint, Run, RunStatus
from ..store.store import Store

if TYPE_CHECKING:
    from ..snapshots.storage import SnapshotJob

#: How often buffered metrics are flushed and heartbeats written while a run is open.
FLUSH_INTERVAL = 2.0
#: Flush right away once this many points are buffered (bounds memory).
MAX_BUFFER = 100_000

_store: Store | None = None
_store_lock = threading.Lock()
_stack: list[ActiveRun] = []
_stack_lock = threading.RLock()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrack")
#: Runs waiting for their snapshots before they are recorded as ended.
_finisher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mltrack-finish")
_finishing: list[ActiveRun] = []
_pending: list[Future[Any]] = []


class TrackingError(Exception):
    """A user-facing error from the logging API (bad metric value, no such run, …)."""


def get_store() -> Store:
    """The store this process records into (opened on first use; see ``location``)."""
    global _store
    with _store_lock:
        if _store is None:
            _store = Store()
        return _store


def set_store(url: str | Store | None) -> Store:
    """Record into another store (``%mltrack store URL``); ``None`` re-resolves the default."""
    global _store
    with _store_lock:
        _store = url if isinstance(url, Store) else Store(url)
        return _store


def _submit(fn: Any, *args: Any) -> Future[Any]:
    fut = _executor.submit(fn, *args)
    with _stack_lock:
        _pending[:] = [f for f in _pending if not f.done()]
        _pending.append(fut)
    return fut


def wait_pending(timeout: float | None = 30.0) -> None:
    """Block until background writes (environment, git, flushes) are done."""
    with _stack_lock:
        pending = list(_pending)
    for fut in pending:
        with contextlib.suppress(Exception):
            fut.result(timeout=timeout)


class _Context:
    """Environment and git state, refreshed by the background worker.

    Collecting them costs a subprocess or two and a scan of installed distributions, far more
    than the 5 ms a tracked cell may add. So the worker refreshes them (at most once per
    ``REFRESH`` seconds, when a run starts) and a finishing run records the latest completed
    state in its final transaction: at most about a second old, never on the critical path.
    Only the very first run of a process waits for it.
    """

    REFRESH = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: tuple[Any, Any] | None = None
        self._at = 0.0
        self._future: Future[Any] | None = None
        self._env_ids: dict[tuple[int, str], int] = {}

    def request(self, cwd: str) -> None:
        with self._lock:
            if self._future is not None and not self._future.done():
                return
            if self._state is not None and time.monotonic() - self._at < self.REFRESH:
                return
            self._future = _submit(self._collect, cwd)

    def _collect(self, cwd: str) -> None:
        from .environment import current_environment, git_state

        state = (current_environment(), git_state(cwd))
        with self._lock:
            self._state, self._at = state, time.monotonic()

    def for_run(self, store: Store) -> dict[str, Any]:
        """``finish_run`` keyword arguments describing where the run executed."""
        with self._lock:
            state, future = self._state, self._future
        if state is None and future is not None:
            try:
                future.result(timeout=30)
            except Exception:
                return {}
            with self._lock:
                state = self._state
        if state is None:
            return {}
        env, git = state
        key = (id(store), env.digest)
        env_id = self._env_ids.get(key)
        if env_id is None:
            env_id = self._env_ids[key] = store.put_environment(env)
        return {"environment_id": env_id, "git_commit": git.commit, "git_dirty": git.dirty}


_context = _Context()


class ActiveRun:
    """An open run: buffers what is logged and writes it when flushed or ended."""

    def __init__(self, run: Run, store: Store) -> None:
        self.run = run
        self.store = store
        self._lock = threading.Lock()
        self._metrics: list[MetricPoint] = []
        self._params: dict[str, Any] = {}
        self._next_step: dict[str, int] = {}
        #: Latest value of each metric and every param logged so far, kept in memory so the
        #: run card needs no query to read them back.
        self.latest: dict[str, tuple[int, float]] = {}
        self.all_params: dict[str, Any] = dict(run.params)
        self.end_time: float | None = None
        self.status: RunStatus = RunStatus.RUNNING
        self.ended = False
        #: Set while a ``%%track`` cell executes: if the process exits then, the cell never
        #: finished, so the run is recorded as crashed rather than finished.
        self.in_cell = False
        #: Snapshots of the data the run read and wrote: the run is recorded as ended only
        #: once they are durable.
        self.data_jobs: list[SnapshotJob] = []

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def number(self) -> int:
        return self.run.number

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run.experiment}#{self.run.number} {self.run.id[:8]} {self.status.value}>"

    # logging --------------------------------------------------------------------------------

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        # a plain float is by far the common case, and to_float would return it unchanged
        number = value if type(value) is float else to_float(value)
        if number is None:
            raise TrackingError(
                f"metric {key!r} must be a number, got {type(value).__name__}: {value!r:.80}"
            )
        if not isinstance(key, str) or not key:
            raise TrackingError(f"metric name must be a non-empty string, got {key!r}")
        with self._lock:
            step = self._next_step.get(key, 0) if step is None else int(step)
            self._next_step[key] = step + 1
            self._metrics.append(MetricPoint(key, number, step, time.time()))
            latest = self.latest.get(key)
            if latest is None or step >= latest[0]:
                self.latest[key] = (step, number)
            full = len(self._metrics) >= MAX_BUFFER
        if full:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        with self._lock:
            clean = {str(k): v for k, v in params.items()}
            self._params.update(clean)
            self.all_params.update(clean)

    def add_data(self, role: str, name: str, job: SnapshotJob, path: str | None = None) -> None:
        """Record a dataset the run read (``input``) or wrote (``output``)."""
        self.store.add_run_data(self.id, role, name, job.digest, path)
        if not job.done():
            self.data_jobs.append(job)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.store.set_tags(self.id, {str(k): "" if v is None else str(v) for k, v in tags.items()})

    def _take(self) -> tuple[list[MetricPoint], dict[str, Any]]:
        with self._lock:
            metrics, self._metrics = self._metrics, []
            params, self._params = self._params, {}
        return metrics, params

    def flush(self) -> None:
        """Write buffered params and metrics now."""
        metrics, params = self._take()
        if params:
            self.store.log_params(self.id, params)
        if metrics:
            self.store.log_metrics(self.id, metrics)

    def end(
        self,
        status: RunStatus | str = RunStatus.FINISHED,
        *,
        outputs: Sequence[Mapping[str, Any]] = (),
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """Write everything left and the final status in one transaction. Idempotent."""
        with _stack_lock:
            if self.ended:
                return
            self.ended = True
            if self in _stack:
                _stack.remove(self)
        self.status = RunStatus(status)
        self.end_time = time.time()
        metrics, params = self._take()
        context = _context.for_run(self.store)
        pending = [job for job in self.data_jobs if not job.done()]

        def write() -> None:
            for job in pending:
                try:
                    job.wait()
                except Exception as exc:  # the run still ends; its data entry says why
                    print(f"mltrack: run #{self.number}: {exc}", file=sys.stderr)
            self.store.finish_run(
                self.id,
                self.status,
                params=params,
                metrics=metrics,
                outputs=outputs,
                error=error,
                end_time=self.end_time,
                **context,
            )

        if not pending:
            write()
            return
        # The cell returns now; the run is recorded as ended once its snapshots are
        # durable (heartbeats continue meanwhile, so no reaper takes it for dead).
        with _stack_lock:
            _finishing.append(self)

        def finish() -> None:
            try:
                write()
            finally:
                with _stack_lock:
                    if self in _finishing:
                        _finishing.remove(self)

        fut = _finisher.submit(finish)
        with _stack_lock:
            _pending[:] = [f for f in _pending if not f.done()]
            _pending.append(fut)

    def summary(self) -> Run:
        """The run as the store would list it now, built from memory."""
        return replace(
            self.run,
            status=self.status,
            end_time=self.end_time,
            params=dict(self.all_params),
            metrics={k: v for k, (_step, v) in self.latest.items()},
        )

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(RunStatus.INTERRUPTED, error=error_info(exc))
        else:
            self.end(RunStatus.FAILED, error=error_info(exc))


def error_info(exc: BaseException, formatted: list[str] | None = None) -> dict[str, Any]:
    """An error as nbformat describes it (``ename``, ``evalue``, ``traceback`` lines)."""
    return {
        "ename": type(exc).__name__,
        "evalue": str(exc),
        "traceback": formatted
        if formatted is not None
        else traceback.format_exception(type(exc), exc, exc.__traceback__),
    }


def start_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    notebook_path: str | None = None,
    cell_id: str | None = None,
    execution_count: int | None = None,
    code: str = "",
    source: str = "api",
    parent_run_id: str | None = None,
    store: Store | None = None,
) -> ActiveRun:
    """Open a new run and make it the active one. Use it as a context manager to close it::

    with mltrack.start_run(name="baseline", params={"C": 1.0}) as run:
        mltrack.log_metric("accuracy", 0.93)
    """
    from .kernelinfo import kernel_id
    from .kernelinfo import notebook_path as current_notebook

    st = store or get_store()
    nb = notebook_path if notebook_path is not None else current_notebook()
    if experiment is None:
        experiment = default_experiment(nb)
    run = st.create_run(
        experiment,
        name=name,
        notebook_path=nb,
        cell_id=cell_id,
        execution_count=execution_count,
        code=code,
        source=source,
        parent_run_id=parent_run_id,
        tags={str(k): "" if v is None else str(v) for k, v in (tags or {}).items()},
        params=params,
        kernel_id=kernel_id(),
    )
    active = ActiveRun(run, st)
    with _stack_lock:
        _stack.append(active)
    _context.request(os.getcwd())
    _ensure_worker()
    return active


def start_pipeline_run(
    experiment: str | None,
    params: Mapping[str, Any],
    parent_run_id: str | None = None,
    notebook_path: str | None = None,
) -> ActiveRun | None:
    """The run an exported pipeline records (source ``pipeline``, linked to the notebook's run).

    A pipeline must run where no store can be opened (a read-only checkout, a CI box): then
    this says why on stderr and returns ``None`` instead of failing the pipeline.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return start_run(
            experiment=experiment,
            params=params,
            source="pipeline",
            parent_run_id=parent_run_id,
            notebook_path=notebook_path or "",
        )
    except (SQLAlchemyError, OSError, TrackingError) as exc:
        print(f"pipeline: not recording the run ({exc})", file=sys.stderr)
        return None


def default_experiment(notebook: str | None) -> str | None:
    """Runs of a notebook go to an experiment named after it, unless told otherwise."""
    env = os.environ.get("MLTRACK_EXPERIMENT")
    if env:
        return env
    if notebook:
        stem = os.path.splitext(os.path.basename(notebook))[0]
        return stem or None
    return None


def active_run() -> ActiveRun | None:
    with _stack_lock:
        return _stack[-1] if _stack else None


def _current(auto: bool = True) -> ActiveRun:
    run = active_run()
    if run is None:
        if not auto:
            raise TrackingError("no active run")
        # As in MLflow: logging outside a run opens one, closed at exit or by end_run().
        run = start_run()
    return run


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """Close the innermost open run (no-op when there is none)."""
    run = active_run()
    if run is not None:
        run.end(status)


def log_metric(key: str, value: Any, step: int | None = None) -> None:
    """Log one value of a metric; ``step`` defaults to the metric's previous step + 1."""
    try:  # hot path (once per training step): reading the top of the stack is atomic
        run = _stack[-1]
    except IndexError:
        run = _current()
    run.log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, Any], step: int | None = None) -> None:
    _current().log_metrics(metrics, step)


def log_params(params: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    _current().log_params({**(params or {}), **kwargs})


def set_tags(tags: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
    _current().set_tags({**(tags or {}), **kwargs})


def set_metric_goal(
    key: str, goal: str | None, experiment: str | None = None, *, store: Store | None = None
) -> None:
    """Say whether ``key`` is better low (``"min"``) or high (``"max"``) in an experiment, when
    its name would be guessed wrong; comparisons then call changes better or worse by it.
    ``None`` forgets the setting. ``experiment`` defaults to the current one, the one a bare
    ``%%track`` cell records into (see ``refs.current_experiment``)."""
    if goal is not None and goal not in ("min", "max"):
        raise ValueError(
            f"goal must be 'min' (lower is better) or 'max' (higher is better), not {goal!r}"
        )
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"key must be a metric name, not {key!r}")
    if experiment is None:
        from .refs import current_experiment

        experiment = current_experiment()
    (store or get_store()).set_metric_goal(experiment, key, goal)


# background worker -------------------------------------------------------------------------

_worker: threading.Thread | None = None
_stop = threading.Event()


def _ensure_worker() -> None:
    global _worker
    if _worker is not None and _worker.is_alive():
        return
    _worker = threading.Thread(target=_work, name="mltrack-heartbeat", daemon=True)
    _worker.start()


def _work() -> None:
    while not _stop.wait(FLUSH_INTERVAL):
        with _stack_lock:
            runs = list(_stack)
            waiting = list(_finishing)
        if waiting:
            with contextlib.suppress(Exception):
                waiting[0].store.heartbeat(r.id for r in waiting)
        if not runs:
            continue
        for run in runs:
            with contextlib.suppress(Exception):
                run.flush()
        with contextlib.suppress(Exception):
            runs[0].store.heartbeat(r.id for r in runs)


@atexit.register
def _at_exit() -> None:
    """Close what is still open when the interpreter exits normally and finish pending writes."""
    _stop.set()
    with _stack_lock:
        runs = list(reversed(_stack))
    for run in runs:
        with contextlib.suppress(Exception):
            run.end(RunStatus.CRASHED if run.in_cell else RunStatus.FINISHED)
    # Snapshots being written must be finished before the runs that read them are
    # recorded as ended (and before the process is gone).
    with contextlib.suppress(Exception):
        from .data import wait_for_snapshots

        wait_for_snapshots()
    wait_pending(timeout=60)
