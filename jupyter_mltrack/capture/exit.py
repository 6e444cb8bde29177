"""Making what this process recorded durable: ``mltrack.flush`` and the exit path.

Apart from :mod:`.api` (which it reads) so that the run lifecycle stays one module of a
readable size; registered at import, which ``jupyter_mltrack`` does right after importing
:mod:`.api` (and so after ``concurrent.futures``, see :func:`_at_exit`).
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from ..store.entities import RunStatus
from . import api

#: How long the exit path waits for what this process recorded to be written.
EXIT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Flushed:
    """What :func:`flush` found: ``failed``, one line per record that could not be made
    durable (which, and why); ``pending``, how many writes were still under way when the
    timeout ran out; ``spooled``, how many are durable in the local spool but not yet in the
    store, which could not be written (they are written when it can, or by ``mltrack
    sync``)."""

    failed: tuple[str, ...] = ()
    pending: int = 0
    spooled: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.pending


def flush(timeout: float | None = None) -> Flushed:
    """Block until everything this process recorded is durable — the buffered metrics and
    params of open runs, ended runs' final writes, snapshots (those queued behind a running
    write too), the execution log — or ``timeout`` seconds pass; say what failed.

    Open runs stay open (their buffers are written now). The exit path calls it."""
    deadline = None if timeout is None else time.monotonic() + timeout
    failed: list[str] = []
    api.settle()
    with api._stack_lock:
        runs = list(api._stack)
    for run in runs:
        try:
            run.flush()
        except Exception as exc:
            failed.append(f"run {run.id[:8]}: metrics and params: {_one_line(exc)}")
    from .data import wait_for_snapshots

    snapshots_failed, pending = wait_for_snapshots(deadline)
    failed.extend(snapshots_failed)
    waited: set[Future[object]] = set()  # the futures themselves: an id could be reused
    while True:  # a write may queue another (a run's environment, once its end is written)
        with api._stack_lock:
            futures = [f for f in api._pending if f not in waited]
        if not futures:
            break
        for fut in futures:
            waited.add(fut)
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                fut.result(timeout=left)
            except FutureTimeout:
                pending += 1
            except Exception as exc:
                failed.append(_one_line(exc))
    return Flushed(tuple(failed), pending, api._drain_spool(force=True))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _at_exit() -> None:
    """Close what is still open when the interpreter exits normally and make everything
    recorded durable (:func:`flush`), saying on stderr what could not be.

    Registered with threading's exit hooks, which run before ``atexit``'s and, being
    registered after ``concurrent.futures``'s, before that one stops every thread pool: a
    write queued behind a running one (a second snapshot) can still hand its blocks to a
    pool. (Registered with ``atexit`` as well, should that hook be unavailable; the second
    call finds nothing left to do.)"""
    global _exited
    if _exited:
        return
    _exited = True
    api._stop.set()
    api.settle()  # a cell whose reply never came (the kernel is shutting down in it)
    with api._stack_lock:
        runs = list(reversed(api._stack))
    for run in runs:
        try:
            # a run's end waits for the snapshots it read and wrote before it is recorded
            run.end(RunStatus.CRASHED if run.in_cell else RunStatus.FINISHED)
        except Exception as exc:
            print(f"mltrack: not recorded: run {run.id[:8]}: {_one_line(exc)}", file=sys.stderr)
    result = flush(timeout=EXIT_TIMEOUT)
    api.say_store_notices()
    for line in result.failed:
        print(f"mltrack: not recorded: {line}", file=sys.stderr)
    if result.pending:
        print(
            f"mltrack: {result.pending} write(s) still under way after {EXIT_TIMEOUT:.0f} s"
            " at exit: not recorded",
            file=sys.stderr,
        )
    if result.spooled:
        store = api._store
        where = getattr(getattr(store, "spool", None), "path", "the local spool")
        print(
            f"mltrack: {result.spooled} write(s) could not reach the store and are kept in"
            f" {where}: run `mltrack sync` once it is back",
            file=sys.stderr,
        )


_exited = False
_register_before_pools = getattr(threading, "_register_atexit", None)
if _register_before_pools is not None:
    _register_before_pools(_at_exit)
atexit.register(_at_exit)
