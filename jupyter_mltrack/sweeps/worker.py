"""A local pool's worker process: runs the trials its driver sends, one after another.

Started by :mod:`.pool` as ``python -c BOOT`` (not through ``multiprocessing``: a spawned
``multiprocessing`` child imports the driver's ``__main__`` again unless it is hidden, and
hiding it means changing the driver's ``__main__`` while other threads run). The driver
talks to it over the process's standard input and output: each message a pickle behind
its length. The pipeline's own prints go to standard error instead, so they cannot mix
with the messages. A message ``None``, or the end of standard input (the driver closed the
pool, or exited), stops the worker between trials; the driver's death kills it at once
(:func:`die_with`).

Each reply also carries the files of the modules the worker loaded since its last reply,
with their modification time and size: a pool kept for the next sweep is not used again
once one of them changed (the worker would run the old code).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

#: The length of a message, before its pickle.
HEADER = struct.Struct("!Q")
#: Environment variables the driver starts a worker with (removed once read).
DRIVER_ENV = "MLTRACK_SWEEP_DRIVER"
PATH_ENV = "MLTRACK_SWEEP_PATH"
#: How often a worker checks that its driver is alive, where the kernel cannot tell it
#: (seconds).
DRIVER_WATCH = 0.5
#: Modules not checked for changes: an exported pipeline is imported by its content's
#: digest (a changed one is another module), so a re-export does not retire the pool.
UNCHECKED_PREFIX = "mltrack_sweep_pipeline_"

#: The worker's bootstrap: the driver's ``sys.path``, then this module.
BOOT = (
    "import json, os, sys; "
    f"sys.path[:] = json.loads(os.environ.pop({PATH_ENV!r})); "
    "from jupyter_mltrack.sweeps.worker import main; main()"
)


def encode(message: Any) -> bytes:
    """One message as sent: its pickle's length, then the pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def send(out: IO[bytes], message: Any) -> None:
    out.write(encode(message))
    out.flush()


def receive(source: IO[bytes]) -> Any:
    """The next message; ``EOFError`` when the other end closed."""
    head = _exactly(source, HEADER.size)
    return pickle.loads(_exactly(source, HEADER.unpack(head)[0]))


def _exactly(source: IO[bytes], size: int) -> bytes:
    data = source.read(size)
    if data is None or len(data) < size:
        raise EOFError
    return data


Stamp = tuple[int, int] | None


def stamp(path: str) -> Stamp:
    """A file's modification time and size (``None`` if it cannot be read)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class LoadedFiles:
    """The files of the modules this process loaded, reported once each."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._count = -1

    def new(self) -> dict[str, Stamp]:
        modules = sys.modules
        if len(modules) == self._count:  # nothing loaded since the last report
            return {}
        out: dict[str, Stamp] = {}
        for name, module in list(modules.items()):
            if name in self._seen:
                continue
            self._seen.add(name)
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and not name.startswith(UNCHECKED_PREFIX):
                out[path] = stamp(path)
        self._count = len(modules)
        return out


def die_with(driver: int) -> None:
    """Have the kernel kill this worker when the driver's process ends (Linux's
    ``PR_SET_PDEATHSIG``; the driver starts each worker from a thread that lives as long
    as the worker, since the signal follows the thread that started it). A worker otherwise
    outlives a driver killed with SIGKILL, finishing the trial it holds into a run the
    resumed sweep is running again. Where the call is not available, a thread checks the
    parent every half second."""
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


def _channel() -> tuple[IO[bytes], IO[bytes]]:
    """The driver's pipes, taken off standard input and output: what the pipeline prints
    goes to standard error, and it reads nothing."""
    inbox = os.fdopen(os.dup(0), "rb")
    outbox = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout.flush()
    os.dup2(2, 1)
    return inbox, outbox


def messages(inbox: IO[bytes]) -> Iterator[Any]:
    """The driver's messages until it says stop (``None``) or closes the pipe."""
    while True:
        try:
            message = receive(inbox)
        except EOFError:
            return
        if message is None:
            return
        yield message


def main() -> None:
    """The worker's life: take the channel, die with the driver, import what every trial
    needs, say ready; then run each trial sent and send its outcome. Its BLAS and OpenMP
    threads are capped by the environment it was started with, before anything loads them
    (threadpoolctl, which a Dask worker needs, has nothing to cap here)."""
    inbox, outbox = _channel()
    die_with(int(os.environ.pop(DRIVER_ENV)))
    # what every trial imports, now, while the driver is still setting up (not SQLAlchemy:
    # a trial of a SQLite store is written without it, see .trial_store)
    import jupyter_mltrack.capture.api  # noqa: F401

    from .trial import run_trial

    loaded = LoadedFiles()
    send(outbox, ("ready", os.getpid(), loaded.new()))
    for spec in messages(inbox):
        try:
            reply: tuple[Any, ...] = ("done", run_trial(spec))
        except BaseException as exc:  # noqa: BLE001 (the driver's to handle: sent back)
            reply = ("error", _sendable(exc))
        send(outbox, (*reply, loaded.new()))


def _sendable(exc: BaseException) -> BaseException:
    """``exc`` if it pickles, else a ``RuntimeError`` saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
