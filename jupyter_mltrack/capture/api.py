"""The active-run lifecycle and the public logging API (usable with or without magics).

Runs nest as a stack: ``log_metric`` goes to the innermost open run, and starting a run while
another is open simply opens a new one — re-running a cell or tracking in a loop never fails
with "a run is already active". Metric points are buffered in memory and written in batches (by
a background worker every couple of seconds, so long trainings show up live, and at the end of
the run), which is what makes logging 100,000 steps cheap. Environment and git facts are also
collected by that worker, off the cell's critical path.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..jsonsafe import to_float
from ..store.entities import MetricPoint, Run, RunStatus
from ..store.errors import RunSuperseded
from ..store.names import name_problem, shown
from .context import RunContext
from .refused import STEP_RANGE, refuse, storable_params, storable_tags

if TYPE_CHECKING:
    from ..snapshots.storage import SnapshotJob
    from ..store.snapshot_records import DataLink
    from ..store.store import Store

    #: A dataset a run read or wrote: ``(role, name, snapshot job, path[, dataset])``.
    DataEntry = (
        tuple[str, str, SnapshotJob, str | None]
        | tuple[str, str, SnapshotJob, str | None, str | None]
    )

#: How often buffered metrics are flushed and heartbeats written while a run is open.
FLUSH_INTERVAL = 2.0
#: Flush right away once this many points are buffered (bounds memory).
MAX_BUFFER = 100_000

_store: Store | None = None
_store_lock = threading.Lock()
_store_opened = threading.Event()
_stack: list[ActiveRun] = []
_stack_lock = threading.RLock()
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrack")
#: Runs waiting for their snapshots before they are recorded as ended.
_finisher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mltrack-finish")
_finishing: list[ActiveRun] = []
_pending: list[Future[Any]] = []
#: Writes left for after the kernel's reply to the cell that made them (see after_reply).
_after_reply: list[Callable[[], None]] = []


class TrackingError(Exception):
    """A user-facing error from the logging API (bad metric value, no such run, …)."""


def get_store() -> Store:
    """The store this process records into (opened on first use; see ``location``)."""
    global _store
    with _store_lock:
        if _store is None:
            from ..store.spool import SpoolingStore

            _store = SpoolingStore()
            _store_opened.set()
        return _store


def opened_store() -> Store | None:
    """The store if it is open already, else ``None``: for callers on a cell's path that can
    wait for it off that path (the execution log's writes) rather than open it there."""
    return _store


def wait_for_store(timeout: float) -> Store:
    """The store, from a background thread: once :func:`warm_up` or a cell has opened it,
    or opened here after ``timeout`` seconds (a thread opening it while a cell runs would
    slow the cell down, see :func:`warm_up`)."""
    _store_opened.wait(timeout)
    return get_store()


def set_store(url: str | Store | None) -> Store:
    """Record into another store (``%mltrack store URL``); ``None`` re-resolves the default.

    A store given by URL is a :class:`..store.spool.SpoolingStore`: what this process
    records is kept locally while the database cannot be written, not lost. A store object
    is used as it is (a sweep's worker gives its trials' store)."""
    global _store
    with _store_lock:
        if url is None or isinstance(url, str | os.PathLike):
            from ..store.spool import SpoolingStore

            url = SpoolingStore(url)
        _store = url
        _store_opened.set()
        return _store


#: Modules of this package a tracked cell imports on first use (lazily, so that ``%load_ext``
#: does not wait for them): :func:`warm_up` loads them in the kernel's idle time instead.
#: They import only the standard library and this package.
CELL_MODULES = (
    "jupyter_mltrack.capture.results",
    "jupyter_mltrack.autolog._session",
    "jupyter_mltrack.autolog.sklearn",
)


def warm_up(cwd: str) -> None:
    """Do ahead what the first tracked cell would otherwise wait for (``%load_ext`` calls
    this, then returns): open the store (importing SQLAlchemy, checking the schema, looking
    the notebook's experiment up), load the modules a tracked cell uses, then scan the
    environment and git state.

    In a kernel this runs on the kernel's own event loop, one step per turn, once the
    ``%load_ext`` cell has replied: in the time the kernel would sit idle waiting for the
    next cell, and never alongside a cell. Work done by a thread while a cell runs would
    compete with the cell for the GIL, and a cell that hands the GIL back and forth (imports
    reading files, a fit in compiled code) can lose several times that work's own time
    waiting for it. A step not done yet when a cell needs it is done by the cell, as before
    (``get_store`` opens the store on first use). Without a running event loop (a script,
    terminal IPython) the tracking worker does it. An error is reported by whichever call
    needs the store next, as before.
    """

    def open_store() -> None:
        from .kernelinfo import notebook_path

        with contextlib.suppress(Exception):
            get_store().warm_up(default_experiment(notebook_path()))
        _ensure_worker()  # the heartbeat thread: a run would start it

    def load_modules() -> None:
        import importlib

        for module in CELL_MODULES:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    steps = [open_store, load_modules, warm_snapshots_now, lambda: _context.collect(cwd)]
    try:
        import asyncio

        loop: Any = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None:
        for step in steps:
            _submit(step)
        return

    def run_next() -> None:
        step = steps.pop(0)
        with contextlib.suppress(Exception):
            step()
        if steps:
            loop.call_soon(run_next)

    loop.call_soon(run_next)


_snapshots_warm = False


def after_cell() -> None:
    """After every cell (the magics' post-run hook), when the kernel is next idle (see
    :func:`warm_up`): load the snapshot code once numpy is loaded (it needs numpy, which a
    kernel that never loads it must not be made to import), and scan the environment again
    if the cell loaded modules. A tracked cell that starts then finds both done, instead of
    a background scan of the new packages competing with it for the GIL. Costs a flag and
    two length checks when there is nothing to do."""
    snapshots = not _snapshots_warm and "numpy" in sys.modules
    scanned = _context._scanned
    rescan = scanned is not None and scanned[0] != len(sys.modules)
    if not (snapshots or rescan):
        return
    cwd = os.getcwd()

    def idle() -> None:
        if snapshots:
            warm_snapshots_now()
        if rescan and not _context.covers_now():
            _context.collect(cwd)

    try:
        import asyncio

        asyncio.get_running_loop().call_soon(idle)
    except RuntimeError:
        if snapshots:
            _submit(warm_snapshots_now)


def warm_snapshots_now() -> None:
    """Load the snapshot code now (see :func:`after_cell`)."""
    global _snapshots_warm
    if _snapshots_warm or "numpy" not in sys.modules:
        return
    _snapshots_warm = True
    from . import data

    with contextlib.suppress(Exception):
        data.warm_up()


def _submit(fn: Any, *args: Any) -> Future[Any]:
    fut = _executor.submit(fn, *args)
    with _stack_lock:
        _pending[:] = [f for f in _pending if not f.done()]
        _pending.append(fut)
    return fut


def track_pending(fut: Future[Any]) -> None:
    """Have :func:`wait_pending` (and the exit handler) wait for ``fut`` too: background
    writes made by other threads of the package (the execution log's queued records)."""
    with _stack_lock:
        _pending[:] = [f for f in _pending if not f.done()]
        _pending.append(fut)


def wait_pending(timeout: float | None = 30.0) -> None:
    """Block until background writes (environment, git, flushes) are done."""
    with _stack_lock:
        pending = list(_pending)
    for fut in pending:
        with contextlib.suppress(Exception):
            fut.result(timeout=timeout)


def after_reply(write: Callable[[], None]) -> None:
    """Have ``write`` run once the kernel has sent the reply of the cell running now, and
    before it reports idle (:func:`settle`, which the magics call from ipykernel's
    ``post_handler_hook``).

    Why not a thread: the GIL. A write running beside the end of the cell (the run card,
    the reply) takes the interpreter from it for as long as its own Python part runs, so the
    cell ends no sooner. Run after the reply, in the kernel's own thread, it costs the cell
    nothing, and a client that waits for idle (JupyterLab's busy indicator, nbclient, a
    test) still reads everything written. ``write`` reports its own errors. Queued writes
    run in the order queued; those of a cell that never replies run at exit."""
    with _stack_lock:
        _after_reply.append(write)


def settle() -> None:
    """Run the writes left for after the reply (see :func:`after_reply`); never raises."""
    while True:
        with _stack_lock:
            if not _after_reply:
                return
            writes = list(_after_reply)
            _after_reply.clear()
        for write in writes:
            with contextlib.suppress(Exception):
                write()


def finishing_runs(
    exclude: str | None = None,
    reducers: Mapping[str, str] | None = None,
    goals: Mapping[str, str] | None = None,
) -> list[Run]:
    """Runs of this process that have ended but whose final write is still under way, as
    they will be stored (the run card compares with them as with stored runs), their
    metrics under ``reducers`` and ``goals`` (see ``ActiveRun.summary``)."""
    with _stack_lock:
        runs = [r for r in _finishing if r.id != exclude]
    return [run.summary(reducers, goals) for run in runs]


_context = RunContext(_submit, lambda: _store)


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
        #: Per metric, ``[min, max, sum, count]`` of its non-NaN values: what the run card
        #: shows under a reducer other than the latest value, without reading the store.
        self.seen: dict[str, list[float]] = {}
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
        #: Where the run started (its git state is read there, see ``context.RunContext``).
        self.cwd = os.getcwd()
        #: The autolog session recording into this run (ended, restoring its patches, when
        #: the run ends).
        self.autolog: Any = None
        #: The read of git's state current when the run started (see ``context.RunContext``).
        self.git: Future[Any] | None = None
        #: ``(kind, name)`` of the values refused so far: each is said once.
        self._refused: set[tuple[str, str]] = set()

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
        if key not in self.latest:  # a name not yet logged: can a store keep it?
            problem = name_problem(key)
            if problem is not None:
                refuse("metric", key, problem, self._refused)
                return
        with self._lock:
            step = self._next_step.get(key, 0) if step is None else int(step)
            if step not in STEP_RANGE:
                why = "steps are 64-bit integers"
                refuse("metric", key, why, self._refused, detail=f" step {step}")
                return
            self._next_step[key] = step + 1
            self._metrics.append(MetricPoint(key, number, step, time.time()))
            latest = self.latest.get(key)
            if latest is None or step >= latest[0]:
                self.latest[key] = (step, number)
            if number == number:  # not NaN
                seen = self.seen.get(key)
                if seen is None:
                    self.seen[key] = [number, number, number, 1]
                else:
                    if number < seen[0]:
                        seen[0] = number
                    elif number > seen[1]:
                        seen[1] = number
                    seen[2] += number
                    seen[3] += 1
            full = len(self._metrics) >= MAX_BUFFER
        if full:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_params(self, params: Mapping[str, Any]) -> None:
        clean = storable_params(params, self._refused)
        with self._lock:
            self._params.update(clean)
            self.all_params.update(clean)

    def add_data(
        self,
        role: str,
        name: str,
        job: SnapshotJob,
        path: str | None = None,
        dataset: str | None = None,
    ) -> None:
        """Record a dataset the run read (``input``) or wrote (``output``); ``dataset``: the
        dataset version it was got as (else looked up: see :func:`data_links`)."""
        self.add_data_many([(role, name, job, path, dataset)])

    def add_data_many(self, entries: Sequence[DataEntry]) -> None:
        """:meth:`add_data` for several datasets, written in one transaction."""
        self.store.add_run_data_many(self.id, data_links(entries))
        self.data_jobs.extend(entry[2] for entry in entries if not entry[2].done())

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        clean = storable_tags(tags, self._refused)
        if clean:
            self.store.set_tags(self.id, clean)

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
        wait_environment: bool = True,
        background: bool = False,
    ) -> None:
        """Write everything left and the final status in one transaction. Idempotent.

        ``wait_environment=False`` (a tracked cell): when the scan of the packages loaded
        now is still under way, the run is recorded as ended by a background thread once it
        is done, rather than the cell waiting for it. Other runs (``start_run`` blocks,
        scripts, pipelines) wait, so that whoever reads the store next finds them ended.
        ``background`` (a tracked cell in a kernel): that final transaction is written
        after the kernel has sent the cell's reply, before it reports idle (see
        :func:`after_reply`)."""
        with _stack_lock:
            if self.ended:
                return
            self.ended = True
            if self in _stack:
                _stack.remove(self)
        if self.autolog is not None:  # never raises; what it buffered is written below
            self.autolog.end()
        self.status = RunStatus(status)
        self.end_time = time.time()
        metrics, params = self._take()
        # the environment and git state, unless the scan covering the modules loaded now is
        # under way (the kernel's first run, or modules were imported since the last scan):
        # then the finishing thread waits for it, not the cell, and the run ends with it
        if self.git is not None:  # begun when the run started: a few milliseconds
            with contextlib.suppress(Exception):
                self.git.result(timeout=5)
        scan = _context.request(self.cwd, now=True)
        if scan is not None and (scan.done() or wait_environment):
            context = _context.for_run(self.store, scan, self.git)
            scan = None
        else:
            context = _context.for_run(self.store, git=self.git) if scan is None else None
        pending = [job for job in self.data_jobs if not job.done()]
        # Only the scan is under way (a kernel's first run): the status and what was logged
        # are written now, as for any cell, and where the run executed once the scan is done.
        # A kernel that dies meanwhile (``os._exit`` in the next cell) then loses only that.
        environment_later = scan if not pending and context is None else None
        if environment_later is not None:
            context = {}
        logged: dict[str, Any] = {"params": params, "metrics": metrics, "outputs": outputs}

        def write() -> None:
            for job in pending:
                try:
                    job.wait()
                except Exception as exc:  # the run still ends; its data entry says why
                    print(f"mltrack: run #{self.number}: {exc}", file=sys.stderr)
            where = context if context is not None else _context.for_run(self.store, scan, self.git)
            self.store.finish_run(
                self.id, self.status, error=error, end_time=self.end_time, **logged, **where
            )
            if environment_later is not None:
                self._record_environment(environment_later)

        if not pending and not background:
            write()
            say_store_notices()
            return
        # The cell returns now. A run waiting for its snapshots is recorded as ended once
        # they are durable (a finished run's data is there to restore); heartbeats continue
        # meanwhile, so no reaper takes it for dead.
        with _stack_lock:
            _finishing.append(self)

        def finish() -> None:
            try:
                write()
            except RunSuperseded:  # another attempt has the run (a sweep's): by design
                raise
            except Exception as exc:  # no cell left to raise into: said, as the cell would
                print(f"mltrack: could not record run {self.id[:8]}: {exc!r}", file=sys.stderr)
                raise
            finally:
                with _stack_lock:
                    if self in _finishing:
                        _finishing.remove(self)

        if not pending:  # nothing to wait for: written once the kernel has replied
            after_reply(finish)
            return

        def hand_over() -> None:
            # What the run logged is written first, the run still open: a process that
            # dies while the snapshots are written (out of memory in the next cell) leaves
            # a crashed run with its metrics, params and outputs, not an empty one
            try:
                self.store.finish_run(self.id, RunStatus.RUNNING, **logged)
                logged.clear()
            except RunSuperseded:
                pass  # said by the final write
            except Exception as exc:  # the final write carries them instead
                print(f"mltrack: run #{self.number}: {exc!r}", file=sys.stderr)
            track_pending(_finisher.submit(finish))

        if background:
            after_reply(hand_over)
        else:
            hand_over()

    def _record_environment(self, scan: Future[Any]) -> None:
        """Add the environment and git state to the ended run once ``scan`` is done, in a
        thread (:func:`wait_pending` and the exit handler wait for it)."""

        def write() -> None:
            where = _context.for_run(self.store, scan, self.git)
            if not where:
                return
            try:
                self.store.finish_run(self.id, self.status, end_time=self.end_time, **where)
            except RunSuperseded:  # another attempt has the run now: its own to describe
                pass
            except Exception as exc:  # the run is recorded; only where it ran is missing
                print(
                    f"mltrack: run #{self.number}: environment not recorded: {exc!r}",
                    file=sys.stderr,
                )

        track_pending(_finisher.submit(write))

    def summary(
        self, reducers: Mapping[str, str] | None = None, goals: Mapping[str, str] | None = None
    ) -> Run:
        """The run as the store would list it now, built from memory; ``reducers`` (metric
        -> ``min``, ``max``, ``mean`` or ``best``) replaces those metrics' latest values,
        ``best`` by the experiment's ``goals`` (``set_metric_goal``) or the name's."""
        metrics = {k: v for k, (_step, v) in self.latest.items()}
        for key, reducer in (reducers or {}).items():
            if key in metrics and reducer != "last":
                metrics[key] = self.reduced(key, reducer, goals)
        return replace(
            self.run,
            status=self.status,
            end_time=self.end_time,
            params=dict(self.all_params),
            metrics=metrics,
        )

    def reduced(self, key: str, reducer: str, goals: Mapping[str, str] | None = None) -> float:
        """A metric under a reducer, from every value logged (NaN when none is a number);
        ``best`` is the min or the max by ``goals`` (metric -> goal set for the experiment),
        else by the metric's name."""
        seen = self.seen.get(key)
        if seen is None:
            return math.nan
        if reducer == "best":
            from ..compare.goals import metric_goal

            reducer = metric_goal(key, goals)
        if reducer == "mean":
            return seen[2] / seen[3]
        return seen[0] if reducer == "min" else seen[1] if reducer == "max" else math.nan

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
    nested: bool | None = None,
    store: Store | None = None,
    data: Sequence[DataEntry] = (),
    start_time: float | None = None,
    run_id: str | None = None,
    active_type: type[ActiveRun] | None = None,
) -> ActiveRun:
    """Open a new run and make it the active one. Use it as a context manager to close it::

    with mltrack.start_run(name="baseline", params={"C": 1.0}) as run:
        mltrack.log_metric("accuracy", 0.93)

    A run opened through the API while another is active is its child (``nested=None``,
    the default, as the loop of a search inside its parent run expects): the sidebar shows
    it under its parent. ``nested=False`` opens a top-level run anyway; ``nested=True``
    nests any run, a tracked cell's included; ``parent_run_id`` names the parent outright.

    ``data``: ``(role, name, snapshot job, path)`` of datasets snapshotted before the run
    opened (a tracked cell's inputs), linked in the transaction that creates it, as
    :meth:`ActiveRun.add_data_many` would link them after; ``start_time``: when it began,
    if before now (the snapshots were taken first). ``run_id`` and ``active_type`` are a
    sweep's: the id its driver gave the trial, and the open run that reports to its pruner.
    """
    from .kernelinfo import kernel_id
    from .kernelinfo import notebook_path as current_notebook

    if parent_run_id is None and nested is not False:
        outer = active_run()
        if outer is not None and (nested or source == "api"):
            parent_run_id = outer.run.id
    st = store or get_store()
    nb = notebook_path if notebook_path is not None else current_notebook()
    if experiment is None:
        experiment = default_experiment(nb)
    if experiment is not None:  # no run without its experiment: an error, not a message
        problem = name_problem(experiment.strip())
        if problem is not None:
            raise TrackingError(f"experiment {shown(experiment)}: {problem}")
    if name is not None and (problem := name_problem(name)) is not None:
        refuse("run name", name, problem)  # the run is kept, unnamed
        name = None
    run = st.create_run(
        experiment,
        name=name,
        notebook_path=nb,
        cell_id=cell_id,
        execution_count=execution_count,
        code=code,
        source=source,
        parent_run_id=parent_run_id,
        tags=storable_tags(tags or {}),
        params=storable_params(params or {}),
        kernel_id=kernel_id(),
        start_time=start_time,
        data=data_links(data),
        run_id=run_id,
    )
    active = activate(run, st, active_type=active_type)
    active.data_jobs.extend(entry[2] for entry in data if not entry[2].done())
    return active


def data_links(entries: Sequence[DataEntry]) -> list[DataLink]:
    """``(role, name, job[, dataset])`` entries as the store links them. An input whose
    data is a dataset version this process got or pushed (same snapshot digest) names that
    version (``team/churn@<hash>``): the run's input is then the version, not just the
    data. Only looked up once datasets are in use (:mod:`..datasets.inputs` loaded)."""
    got = sys.modules.get("jupyter_mltrack.datasets.inputs")
    links: list[DataLink] = []
    for entry in entries:
        role, name, job, path = entry[:4]
        dataset = entry[4] if len(entry) > 4 else None
        if dataset is None and got is not None and role == "input":
            dataset = got.ref_for(job.digest)
        links.append((role, name, job.digest, path, dataset))
    return links


def activate(run: Run, store: Store, *, active_type: type[ActiveRun] | None = None) -> ActiveRun:
    """Make a run the store has just opened (created, or started over) the active one."""
    active = (active_type or ActiveRun)(run, store)
    with _stack_lock:
        _stack.append(active)
    if run.source == "api":  # %%track cells (and reproduced pipelines) begin their own session
        from ..autolog import begin_for_run

        active.autolog = begin_for_run(active)  # None unless mltrack.autolog() was called
    _context.request(active.cwd)
    active.git = _context.git
    _ensure_worker()
    if run.source != "notebook":  # a tracked cell says it with its card
        say_store_notices()
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
    sweeps = sys.modules.get("jupyter_mltrack.sweeps.trial")
    if sweeps is not None and sweeps.current() is not None:  # a sweep's trial: its run
        return sweeps.start_trial_run(experiment, params, notebook_path or "")
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
    from .runcard import forget_goals

    forget_goals()  # the next card of this process reads the goals again


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
        _drain_spool()
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


def say_store_notices() -> None:
    """Show on stderr, once each, what the store has to say of itself: that it cannot be
    written and where what is recorded is kept, that it is back (see ``store.spool``).
    Called where the user looks: a tracked cell, a script's run, the exit."""
    take = getattr(_store, "take_notices", None)
    if take is not None:
        for line in take():
            print(line, file=sys.stderr)


def _drain_spool(force: bool = False) -> int:
    """Write what was spooled while the store could not be written, if it can be now (see
    :mod:`..store.spool`); how many writes are still kept locally."""
    store = _store
    if store is None or getattr(store, "offline", None) is None:
        return 0
    with contextlib.suppress(Exception):  # said by the store; tried again later
        store.drain(force=force)
    return store.spool.count() if store.offline is not None else 0
