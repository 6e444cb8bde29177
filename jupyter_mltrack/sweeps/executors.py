"""Where a sweep's trials run: a pool of local processes, or a Dask cluster.

Processes, never threads: a pipeline is Python code holding the GIL for much of its time,
and a trial's globals are the pipeline module's (``run()`` rebinds them), so two trials in
one process would see each other's values. A local worker gets one BLAS/OpenMP thread
unless told otherwise, so ``jobs`` workers share the cores instead of each taking them all.

Both executors hand back :class:`concurrent.futures.Future` objects, so the driver waits on
either the same way. A local worker that dies mid-trial fails that trial (its run says so)
and is replaced; a Dask worker that dies has its task run again by the scheduler elsewhere;
either way the trial writes into the same run id, so it is never recorded twice, and as
the same attempt (``TrialSpec.attempt``), which its run still names, so a task run again
starts the run over. A Dask worker outlives its driver: a trial it runs when the driver
dies runs on, and its writes are refused once a resumed sweep has handed the trial out
again (a new attempt; see ``trial``). A local worker dies with its driver (``pool``).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, InvalidStateError
from typing import Any, Protocol

from .pool import WorkerPool, acquire, release
from .trial import TrialOutcome, TrialSpec, limit_threads, run_trial


class Executor(Protocol):
    """Runs trials somewhere and says when each is done."""

    #: How many trials run at once.
    slots: int
    #: Whether the workers may not see the driver's files (the pipeline is shipped).
    remote: bool

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]: ...

    def shutdown(self) -> None: ...


class LocalExecutor:
    """``jobs`` worker processes of this machine, each running one trial after another: a
    pool kept from the last sweep that needs the same workers, else a new one (see
    :mod:`.pool`). ``keep=False``: a pool of this sweep's own, closed at its end."""

    remote = False

    def __init__(self, jobs: int, *, threads: int | None = None, keep: bool = True) -> None:
        self.slots = max(1, int(jobs))
        self.threads = threads
        self.keep = keep
        self.pool: WorkerPool | None = None

    def start(self) -> None:
        """Take the pool now: a new one's workers import what a trial needs while the driver
        sets the sweep up."""
        if self.pool is None:
            if self.keep:
                self.pool = acquire(self.slots, self.threads)
            else:
                self.pool = WorkerPool(self.slots, self.threads)

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]:
        self.start()
        assert self.pool is not None
        return self.pool.submit(spec)

    def shutdown(self) -> None:
        """The sweep is done with its workers: the pool is kept for the next sweep, or let
        go (its workers exit once their current trial, if any, has ended)."""
        pool, self.pool = self.pool, None
        if pool is None:
            return
        if self.keep:
            release(pool)
        else:
            pool.close()


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
