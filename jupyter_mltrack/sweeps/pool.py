"""The local pool: worker processes of this machine, kept warm from one sweep to the next.

Why not ``concurrent.futures.ProcessPoolExecutor``: each trial crossed three threads of the
driver (the submit woke the pool's manager thread, its queue's feeder thread wrote the
trial, the manager thread read the outcome), and on two cores shared with the workers each
wake-up waited for the interpreter's lock: at a few milliseconds a trial, that was a third
of a trivial trial's cost. Here the driver's thread writes a trial straight to its worker's
pipe, and one thread per worker reads the outcome back. A worker that dies fails its own
trial, and is replaced, without breaking the others.

Why kept: a worker's start is an interpreter plus SQLAlchemy and this package, half a second
before the first trial, which is most of a short sweep. A notebook runs sweep after sweep, so
a pool is kept after its sweep (up to :data:`KEEP_POOLS` of them, each for
``MLTRACK_SWEEP_POOL_IDLE`` seconds, :data:`IDLE_SECONDS` by default; ``0`` keeps none) and
the next sweep that needs the same workers takes it. The same means: as many workers, the
same thread cap, interpreter, ``sys.path``, working folder and environment variables (what
a fresh worker would start from). A kept pool is not used again once a file of a module its
workers loaded has changed (they would run the old code); an exported pipeline is imported
by its content, so a re-exported one is imported anew. :func:`shutdown` stops the kept pools
now.

Every worker dies with the driver (see :func:`.worker.die_with`): each is started from its
slot's thread, which lives as long as it does, as Linux ties that signal to the starting
thread.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from typing import Any

from .trial import THREAD_VARIABLES, TrialOutcome, TrialSpec
from .worker import BOOT, DRIVER_ENV, PATH_ENV, Stamp, encode, receive, stamp

#: Seconds a pool is kept after its sweep (``MLTRACK_SWEEP_POOL_IDLE`` overrides).
IDLE_SECONDS = 300.0
IDLE_ENV = "MLTRACK_SWEEP_POOL_IDLE"
#: Pools kept at most (the least recently used go first): a sweep of 1 job and one of 2
#: alternating keep theirs, and idle workers do not pile up.
KEEP_POOLS = 2
#: A worker that dies before it is ready this many times in a row breaks its pool: the
#: workers cannot start here (the package not importable, say), and trying again forever
#: would not change that.
START_FAILURES = 3


class WorkerDied(RuntimeError):
    """A trial's worker process died before the trial ended."""


#: A trial handed out: its spec as sent (see ``worker.encode``), and its future.
Work = tuple[bytes, "Future[TrialOutcome]"]


class WorkerPool:
    """``jobs`` worker processes, each running one trial at a time (see the module)."""

    def __init__(self, jobs: int, threads: int | None = None) -> None:
        self.jobs = max(1, int(jobs))
        self.threads = threads
        self.key = pool_key(self.jobs, threads)
        #: The files of every module the workers loaded, as they were when loaded.
        self.files: dict[str, Stamp] = {}
        self.closed = False
        #: Why the pool cannot run trials (its workers cannot start), once it cannot.
        self.broken: str | None = None
        self._lock = threading.Lock()
        self._pending: collections.deque[Work] = collections.deque()
        self._idle_timer: threading.Timer | None = None
        self._slots = [_Slot(self, i) for i in range(self.jobs)]
        for slot in self._slots:
            slot.start()

    def __repr__(self) -> str:
        return f"<WorkerPool {self.jobs} jobs, pids {self.pids()}>"

    def pids(self) -> list[int]:
        """The workers' process ids (a worker being started has none yet)."""
        with self._lock:
            return [s.proc.pid for s in self._slots if s.proc is not None]

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]:
        """Hand a trial to an idle worker (or queue it for the next one free)."""
        data = encode(spec)  # a spec that does not pickle fails here, before it is given
        fut: Future[TrialOutcome] = Future()
        fut.set_running_or_notify_cancel()
        with self._lock:
            if self.broken is not None:
                raise WorkerDied(self.broken)
            if self.closed:
                raise RuntimeError("the sweep's worker pool is closed")
            slot = next((s for s in self._slots if s.free()), None)
            if slot is None:
                self._pending.append((data, fut))
                return fut
            slot.current = (data, fut)
            proc = slot.proc
        slot.write(proc, data)
        return fut

    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending) or any(s.current is not None for s in self._slots)

    def stale(self) -> bool:
        """Whether a module the workers loaded has changed on disk since."""
        with self._lock:
            files = list(self.files.items())
        return any(stamp(path) != was for path, was in files)

    def usable(self) -> bool:
        return not self.closed and self.broken is None and not self.busy() and not self.stale()

    def close(self, *, wait: bool = False, timeout: float = 10.0) -> None:
        """Let the workers go: each exits once its current trial, if any, has ended (its
        outcome still reaches the trial's future). ``wait``: until they have exited."""
        with self._lock:
            self.closed = True
            timer, self._idle_timer = self._idle_timer, None
            pending = list(self._pending)
            self._pending.clear()
        if timer is not None:
            timer.cancel()
        for _, fut in pending:
            fut.set_exception(RuntimeError("the sweep's worker pool was closed"))
        for slot in self._slots:
            slot.stop()
        if wait:
            for slot in self._slots:
                slot.thread.join(timeout)

    # called by the slots' threads, under the lock -------------------------------------------------

    def _next_for(self, slot: _Slot) -> tuple[subprocess.Popen[bytes], bytes] | None:
        """A queued trial for ``slot``, free now: where to send it."""
        if not self._pending or slot.proc is None or self.closed:
            return None
        slot.current = self._pending.popleft()
        return slot.proc, slot.current[0]

    def _break(self, reason: str) -> list[Future[TrialOutcome]]:
        """The workers cannot start: the trials waiting fail, queued or held by a worker
        still starting (returned, to be failed out of the lock), and so will every submit."""
        self.broken = reason
        waiting = [fut for _, fut in self._pending]
        self._pending.clear()
        for slot in self._slots:
            if slot.current is not None and not slot.ready:
                waiting.append(slot.current[1])
                slot.current = None
        return waiting


class _Slot:
    """One worker of a pool at a time: its thread starts it, reads its replies, and starts
    another when it dies (unless the pool is closed)."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = False
        #: The trial the worker runs now.
        self.current: Work | None = None
        self._write_lock = threading.Lock()
        self.thread = threading.Thread(
            target=self._serve, name=f"mltrack-sweep-worker-{index}", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def free(self) -> bool:
        """Started (a starting worker reads its trial once ready) and not running one."""
        return self.proc is not None and self.current is None

    def write(self, proc: subprocess.Popen[bytes], data: bytes) -> None:
        """Send a trial (encoded). A worker that died meanwhile fails it when its death is
        read."""
        with self._write_lock, contextlib.suppress(OSError, ValueError):
            assert proc.stdin is not None
            proc.stdin.write(data)
            proc.stdin.flush()

    def stop(self) -> None:
        """Close the worker's input: it exits after its current trial."""
        proc = self.proc
        if proc is not None and proc.stdin is not None:
            with self._write_lock, contextlib.suppress(OSError):
                proc.stdin.close()

    def _serve(self) -> None:
        """:meth:`_serve_workers`; should this thread fail, the pool breaks rather than
        leave a trial waiting for a worker that no thread will start."""
        try:
            self._serve_workers()
        except BaseException as exc:  # noqa: BLE001 (said to every trial waiting)
            reason = f"the sweep's worker pool failed: {type(exc).__name__}: {exc}"
            with self.pool._lock:
                waiting = self.pool._break(reason)
                if self.current is not None:
                    waiting.append(self.current[1])
                    self.current = None
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(WorkerDied(reason))

    def _serve_workers(self) -> None:
        """Start a worker, serve it until it exits, again while the pool is open. A worker
        that dies before it is ready hands its trial back to the queue (the trial never
        began); :data:`START_FAILURES` of those in a row break the pool."""
        pool = self.pool
        failures = 0
        while not pool.closed:
            try:
                proc = self._spawn()
            except (OSError, ValueError, TypeError) as exc:  # no interpreter there…
                proc, reason = None, f"the sweep's worker processes cannot start: {exc}"
            else:
                if proc is None:  # the pool closed meanwhile
                    return
                self._read(proc)
                code = self._end(proc)
                reason = (
                    f"worker process {proc.pid} exited with code {code}"
                    + (f" (signal {-code})" if code < 0 else "")
                    + ("" if self.ready else " before it was ready (its error is on stderr)")
                )
            with pool._lock:
                work, self.current = self.current, None
                started, self.ready, self.proc = self.ready, False, None
                failures = 0 if started else failures + 1
                failed: list[Future[TrialOutcome]] = []
                if work is not None and not started and not pool.closed and not pool.broken:
                    pool._pending.appendleft(work)  # it never began: the next worker's
                elif work is not None:
                    failed.append(work[1])
                if failures >= START_FAILURES:
                    if proc is not None:
                        reason = f"the sweep's worker processes cannot start: {reason}"
                    failed += pool._break(reason)
            for fut in failed:
                if not fut.done():
                    fut.set_exception(WorkerDied(reason))
            if pool.broken is not None:
                return
            if failures:
                time.sleep(0.1 * failures)

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        pool = self.pool
        env = dict(os.environ)
        env.update({name: str(pool.threads or 1) for name in THREAD_VARIABLES})
        env[DRIVER_ENV] = str(os.getpid())
        env[PATH_ENV] = json.dumps(
            [os.fspath(p) for p in sys.path if isinstance(p, str | os.PathLike)]
        )
        flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
        args = [sys.executable, *flags, "-c", BOOT]
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        with pool._lock:
            if pool.closed:  # closed while it started: it goes at once
                closed = True
            else:
                closed = False
                self.proc = proc
                work = pool._next_for(self)
        if closed:
            self._end(proc)
            return None
        if work is not None:
            self.write(*work)
        return proc

    def _end(self, proc: subprocess.Popen[bytes]) -> int:
        """Close a worker's pipes (it exits once it has read to the end) and wait for it."""
        with self._write_lock:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
        return proc.wait()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        """The worker's replies, until it exits."""
        pool = self.pool
        assert proc.stdout is not None
        while True:
            try:
                reply = receive(proc.stdout)
            except (EOFError, OSError):
                return
            except Exception as exc:  # noqa: BLE001 (a reply that does not unpickle)
                reply = ("error", exc, {})
            kind, *rest = reply
            with pool._lock:
                pool.files.update(rest[-1])
                if kind == "ready":
                    self.ready = True
                    continue
                work, self.current = self.current, None
                more = pool._next_for(self)
            if more is not None:
                self.write(*more)
            if work is None or work[1].done():
                continue
            if kind == "done":
                work[1].set_result(rest[0])
            else:
                work[1].set_exception(rest[0])


def pool_key(jobs: int, threads: int | None) -> tuple[Any, ...]:
    """What a worker depends on, besides the trial it is sent: a kept pool serves a sweep
    only if a fresh one would start the same."""
    env = hashlib.blake2b(digest_size=16)
    for name, value in sorted(os.environ.items()):
        env.update(f"{name}={value}\0".encode("utf-8", "surrogateescape"))
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # a working folder deleted since
        cwd = None
    return (jobs, threads, sys.executable, tuple(map(str, sys.path)), cwd, env.hexdigest())


# the kept pools ------------------------------------------------------------------------------

_kept: collections.OrderedDict[tuple[Any, ...], WorkerPool] = collections.OrderedDict()
_kept_lock = threading.Lock()
# at exit the kept workers are told to go (they would anyway, their pipes closing with
# this process; this way they leave at once, without waiting for the interpreter's end)
atexit.register(lambda: shutdown(wait=False))


def idle_seconds() -> float:
    """How long a pool is kept after its sweep (``MLTRACK_SWEEP_POOL_IDLE``)."""
    try:
        return max(0.0, float(os.environ.get(IDLE_ENV, IDLE_SECONDS)))
    except ValueError:
        return IDLE_SECONDS


def acquire(jobs: int, threads: int | None = None) -> WorkerPool:
    """A pool for a sweep: a kept one of the same workers if there is one still good, else
    a new one (its workers starting now)."""
    key = pool_key(max(1, int(jobs)), threads)
    with _kept_lock:
        pool = _kept.pop(key, None)
    if pool is not None:
        if pool.usable():
            with pool._lock:
                timer, pool._idle_timer = pool._idle_timer, None
            if timer is not None:
                timer.cancel()
            return pool
        pool.close()
    return WorkerPool(jobs, threads)


def release(pool: WorkerPool) -> None:
    """A sweep is done with ``pool``: kept for the next (see the module), or closed."""
    idle = idle_seconds()
    if idle <= 0 or not pool.usable():
        pool.close()
        return
    with _kept_lock:
        replaced = _kept.pop(pool.key, None)
        _kept[pool.key] = pool
        evicted = [_kept.popitem(last=False)[1] for _ in range(len(_kept) - KEEP_POOLS)]
        timer = threading.Timer(idle, _expire, (pool,))
        timer.daemon = True
        pool._idle_timer = timer
    timer.start()
    for old in ([replaced] if replaced is not None else []) + evicted:
        old.close()


def prestart(jobs: int, threads: int | None = None) -> None:
    """Have the workers of a sweep about to start (``mltrack.sweep`` calls this first thing)
    start now, while the sweep is set up (a run exported, the sweep recorded): the pool is
    kept, and the sweep's driver takes it. Nothing to do if one is kept already, or if no
    pool may be kept."""
    if idle_seconds() <= 0:
        return
    key = pool_key(max(1, int(jobs)), threads)
    with _kept_lock:
        if key in _kept:
            return
    release(WorkerPool(jobs, threads))


def _expire(pool: WorkerPool) -> None:
    with _kept_lock:
        if _kept.get(pool.key) is not pool:
            return
        del _kept[pool.key]
    pool.close()


def kept() -> list[WorkerPool]:
    """The pools kept now, the most recently used last."""
    with _kept_lock:
        return list(_kept.values())


def shutdown(*, wait: bool = True) -> None:
    """Stop the kept pools now (their workers exit; ``wait``: until they have). A later
    sweep starts new ones. Pools of sweeps still running are theirs until they end."""
    with _kept_lock:
        pools = list(_kept.values())
        _kept.clear()
    for pool in pools:
        pool.close(wait=wait)
