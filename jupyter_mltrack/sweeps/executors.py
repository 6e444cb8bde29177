"""Where a sweep's trials run: a pool of local processes, or a Dask cluster.

Processes, never threads: a pipeline is Python code holding the GIL for much of its time,
and a trial's globals are the pipeline module's (``run()`` rebinds them), so two trials in
one process would see each other's values. A local worker gets one BLAS/OpenMP thread
unless told otherwise, so ``jobs`` workers share the cores instead of each taking them all.

Both executors hand back :class:`concurrent.futures.Future` objects, so the driver waits on
either the same way. A Dask worker that dies mid-trial has its task run again by the
scheduler elsewhere; the trial writes into the same run id, so it is never recorded twice,
and as the same attempt (``TrialSpec.attempt``), which its run still names, so it starts
the run over. A Dask worker outlives its driver: a trial it runs when the driver dies runs
on, and its writes are refused once a resumed sweep has handed the trial out again (a new
attempt; see ``trial``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from typing import Any, Protocol

from .trial import (
    THREAD_VARIABLES,
    TrialOutcome,
    TrialSpec,
    limit_threads,
    run_trial,
)

#: How often a local worker checks that its driver is alive, where the kernel cannot tell
#: it (seconds).
DRIVER_WATCH = 0.5


class Executor(Protocol):
    """Runs trials somewhere and says when each is done."""

    #: How many trials run at once.
    slots: int
    #: Whether the workers may not see the driver's files (the pipeline is shipped).
    remote: bool

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]: ...

    def shutdown(self) -> None: ...


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Spawn workers that do not import the driver's ``__main__``: a spawned process runs
    the parent's main script again (under another name) unless told it has none, and a
    sweep started from a script without an ``if __name__ == "__main__"`` guard would start
    again in every worker, and one read from stdin fails to start at all. The workers run
    only this package's code, so they need none of it."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if main and k in main.__dict__}
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _start_worker(threads: int | None, env: dict[str, str], driver: int) -> None:
    """A pool worker's first step: die with the driver, cap its threads, take the driver's
    store settings."""
    _die_with(driver)
    os.environ.update(env)
    limit_threads(threads)
    # what every trial imports, now, while the driver is still setting up (half a second of
    # a worker's first trial otherwise)
    import jupyter_mltrack.capture.api  # noqa: F401
    import jupyter_mltrack.store.store  # noqa: F401


def _ready() -> int:
    """A warm-up task: its submit starts a worker (a pool starts one per submit)."""
    return os.getpid()


def _die_with(driver: int) -> None:
    """Have the kernel kill this worker when the driver's process ends (Linux's
    ``PR_SET_PDEATHSIG``). A pool's workers otherwise outlive a driver killed with SIGKILL,
    finishing the trials they hold into runs the resumed sweep is running again. Where the
    call is not available, a thread checks the parent every half second."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(1, 9, 0, 0, 0) == 0  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        armed = False
    if os.getppid() != driver:  # it died before we asked
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == driver:
            time.sleep(DRIVER_WATCH)
        os._exit(1)

    threading.Thread(target=watch, name="mltrack-driver-watch", daemon=True).start()


class LocalExecutor:
    """``jobs`` worker processes of this machine (spawned: a kernel's threads make forking
    it unsafe), each running one trial after another."""

    remote = False

    def __init__(self, jobs: int, *, threads: int | None = None) -> None:
        self.slots = max(1, int(jobs))
        self.threads = threads
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            caps = {name: str(self.threads or 1) for name in THREAD_VARIABLES}
            # set for the spawn too: a worker imports numpy before its initializer runs
            # only if the pipeline's module is pickled in, which it never is (a path is)
            self._pool = ProcessPoolExecutor(
                max_workers=self.slots,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.threads, caps, os.getpid()),
            )
        return self._pool

    def start(self) -> None:
        """Start every worker now (each imports what a trial needs while the driver sets up
        the sweep), rather than one at each of the first submits."""
        with _main_hidden():
            pool = self._ensure()
            for _ in range(self.slots):
                pool.submit(_ready)

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]:
        with _main_hidden():  # a submit may spawn a worker (one more each, up to ``jobs``)
            return self._ensure().submit(run_trial, spec)

    def restart(self) -> None:
        """A worker died and broke the pool: the next trial gets a new one."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def shutdown(self) -> None:
        """Let the workers go, without waiting for them to exit (every result is in)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """Trials submitted to a Dask cluster (``dask://HOST:PORT``, a scheduler address, or a
    ``distributed.Client``). The workers write their runs into the sweep's store, which
    must be one they can all reach (PostgreSQL and S3-compatible blobs for a real cluster)."""

    remote = True

    def __init__(self, target: Any, *, threads: int | None = None) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ImportError(
                "a Dask executor needs dask.distributed: pip install 'jupyter-mltrack[dask]'"
            ) from None
        self.threads = threads
        if isinstance(target, Client):
            self.client, self._owned = target, False
        else:
            address = str(target)
            if address.startswith("dask://"):
                address = "tcp://" + address[len("dask://") :]
            self.client, self._owned = Client(address, set_as_default=False), True
        # a worker process runs one trial at a time, whatever its threads (``run_trial``)
        self.slots = max(1, len(self.client.nthreads()))

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]:
        done: Future[TrialOutcome] = Future()
        # a trial's key is its run and attempt: the scheduler runs it again if its worker
        # dies (the trial then replaces its own run), and never merges two trials, nor two
        # attempts at one (a worker still running a dead driver's attempt, whose task was
        # released, would otherwise take a resumed sweep's task of the same key as its own,
        # and hand that attempt's outcome back)
        key = f"mltrack-trial-{spec.run_id}-{spec.attempt}"
        remote = self.client.submit(_run_on_worker, spec, self.threads, key=key, pure=False)

        def settle(fut: Any) -> None:
            # the driver cancels ``done`` when it stops (an interrupt): the trial still ends
            # on its worker, and nobody waits for it (no "Error in callback" then)
            with contextlib.suppress(InvalidStateError):
                try:
                    done.set_result(fut.result())
                except BaseException as exc:  # noqa: BLE001 (handed to the driver)
                    done.set_exception(exc)

        remote.add_done_callback(settle)
        return done

    def shutdown(self) -> None:
        if self._owned:
            self.client.close()


def _run_on_worker(spec: TrialSpec, threads: int | None) -> TrialOutcome:
    """A trial on a Dask worker: threads capped as in a local pool."""
    limit_threads(threads)
    return run_trial(spec)


def executor_for(target: Any, jobs: int, *, threads: int | None = None) -> Executor:
    """The executor a sweep's ``executor=`` names: ``None``/``"local"`` a local pool of
    ``jobs`` processes, ``dask://HOST:PORT`` (or ``tcp://…``) or a ``distributed.Client``
    a Dask cluster."""
    if target is None or target == "local":
        return LocalExecutor(jobs, threads=threads)
    if isinstance(target, str) and not target.startswith(("dask://", "tcp://", "tls://")):
        raise ValueError(
            f"executor {target!r}: use 'local', 'dask://HOST:PORT' or a distributed.Client"
        )
    return DaskExecutor(target, threads=threads)
