"""Where a run executes: the environment (packages loaded) and git's state, kept current
off the cells' path.

Why a module of its own: collecting them costs a git subprocess or two and a look-up of the
imported packages' versions, more than a tracked cell may add; :class:`RunContext` decides
when a scan is needed (new packages loaded, or the last one over a second old), runs it in
the tracker's background worker, and hands the finishing run the latest state. It knows
nothing of runs beyond that.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.store import Store


class RunContext:
    """Environment and git state, refreshed by the background worker.

    Collecting them costs a git subprocess or two and a look-up of the imported packages'
    versions, more than the 5 ms a tracked cell may add. So the worker refreshes them when a
    run starts (at most once per ``REFRESH`` seconds, or at once when modules were imported
    since the last scan) and when a run ends having imported modules, and the finishing run
    records the latest state in its final transaction (git's at most about a second old). A
    run that ends before the scan covering its modules is done (the first run of a kernel, a
    run that imported packages) is recorded as ended once that scan is done, by the
    finishing thread (as a run waiting for its snapshots is): the cell never waits for it,
    and the run still gets its whole environment.
    """

    REFRESH = 1.0

    def __init__(
        self,
        submit: Callable[..., Future[Any]],
        store: Callable[[], Store | None],
    ) -> None:
        """``submit``: hands a scan to the tracker's background worker; ``store``: the
        process's store once it is open (the environment is recorded there as scanned)."""
        self._submit = submit
        self._store = store
        self._lock = threading.Lock()
        self._state: tuple[Any, Any] | None = None
        #: ``len(sys.modules)`` and the top-level module names when the scan behind
        #: ``_state`` started: the state is stale once a new top-level module is loaded.
        self._scanned: tuple[int, frozenset[str]] | None = None
        #: When the read of git's state behind ``_state`` began. Freshness counts from
        #: there, not from when the scan carrying it ended: a slow scan (a loaded machine)
        #: would otherwise leave a file changed just after the read unseen for longer.
        self._at = 0.0
        self._future: Future[Any] | None = None
        #: ``len(sys.modules)`` when ``_future`` was requested.
        self._future_modules = -1
        #: Per store (held weakly: a store opened after another was closed may be given
        #: the same ``id()``, and must not inherit its ids), ``digest -> environment id``.
        self._env_ids: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()
        #: The latest read of git's state (begun when a run started, or the kernel's idle
        #: scan), which the runs that start before the next one record.
        self.git: Future[Any] | None = None

    def _covers(self, scanned: tuple[int, frozenset[str]] | None) -> bool:
        """Whether a scan of ``scanned`` modules saw every package loaded now. New modules
        of known packages (a library's lazy submodules, this package's own) change
        nothing; the comparison of names runs only when the count of modules changed, and
        once it found no new package, the scan is taken to cover the new count (so later
        calls are a length check again, not a pass over every module). Under ``_lock``."""
        if scanned is None:
            return False
        count, tops = scanned
        modules = len(sys.modules)
        if count == modules:
            return True
        if not top_level_names() <= tops:
            return False
        if scanned is self._scanned:
            self._scanned = (modules, tops)
        return True

    def request(self, cwd: str, *, now: bool = False) -> Future[Any] | None:
        """Have the worker scan unless a scan under way or done covers the packages loaded
        now (and, without ``now``, is under ``REFRESH`` seconds old). Returns the scan under
        way that a run ending now must wait for (``None``: the last completed one will do)."""
        modules = len(sys.modules)
        with self._lock:
            future, scanned, state = self._future, self._scanned, self._state
            pending = future is not None and not future.done()
            fresh = time.monotonic() - self._at < self.REFRESH
            covered = state is not None and self._covers(scanned)
            if covered and (fresh or now or pending):  # (a refresh is under way already)
                return None
            if not covered:
                if pending and self._future_modules == modules:
                    return future
                self._future_modules = modules
                self._at = time.monotonic()
                # git's state is read at once, in a thread of its own: the worker may be
                # busy, and the run must record the files as they were when it started
                self.git = git_now(cwd)
                self._future = self._submit(self.collect, cwd, self.git)
                return self._future
            # the packages loaded are those the last scan saw, so their versions are too:
            # only git's state can be stale. Read it alone: a whole scan in the worker would
            # compete with the run's cell for the GIL for ~20 ms
            self._at = time.monotonic()
            git = self.git = git_now(cwd)
        # Outside the lock: a read that is done already (git fails at once outside a
        # repository, and this thread may have been descheduled since starting it) runs the
        # callback right here, and the callback takes the lock.
        git.add_done_callback(self._set_git)
        return None

    def _set_git(self, git: Future[Any]) -> None:
        with contextlib.suppress(Exception), self._lock:
            if self._state is not None:
                self._state = (self._state[0], git.result())

    def covers_now(self) -> bool:
        """Whether the last completed scan saw every package loaded now."""
        with self._lock:
            return self._state is not None and self._covers(self._scanned)

    def collect(self, cwd: str, git: Future[Any] | None = None) -> None:
        """Scan now, in this thread (the worker's, or the kernel's own when idle); ``git``:
        git's state read already (see :func:`git_now`)."""
        from .environment import current_environment, git_state

        scanned = (len(sys.modules), top_level_names())
        env = current_environment()
        started = time.monotonic()
        state = (env, git.result(timeout=30) if git is not None else git_state(cwd))
        # record the environment here rather than in the finishing run's thread (the cell's)
        store = self._store()
        if store is not None:
            with contextlib.suppress(Exception):
                self._environment_id(store, state[0])
        with self._lock:
            self._state, self._scanned = state, scanned
            # A read of its own (the kernel's idle scan) is the latest unless ``request``
            # began one since (its ``_at``): the runs that start next record it, not an
            # older read still held in ``git``. Left there, the kernel scanning after a cell
            # while a file changed made the next second's runs record the file unchanged.
            if git is None and started >= self._at:
                self._at = started
                self.git = Future()
                self.git.set_result(state[1])

    def _environment_id(self, store: Store, env: Any) -> int:
        """The id of ``env`` in ``store``, stored once per store and digest."""
        known = self._env_ids.setdefault(store, {})
        env_id = known.get(env.digest)
        if env_id is None:
            env_id = known[env.digest] = store.put_environment(env)
        return env_id

    def for_run(
        self, store: Store, scan: Future[Any] | None = None, git: Future[Any] | None = None
    ) -> dict[str, Any]:
        """``finish_run`` keyword arguments describing where the run executed: the latest
        environment, after ``scan`` (waited for: call it off the cell's path when it is not
        done), and git's state as ``git`` (the read begun when the run started) found it."""
        if scan is not None:
            with contextlib.suppress(Exception):
                scan.result(timeout=30)
        with self._lock:
            state = self._state
        if state is None:
            return {}
        env, git_state = state
        if git is not None and git.done() and git.exception() is None:
            git_state = git.result()
        git = git_state
        where = {"git_commit": git.commit, "git_dirty": git.dirty}
        try:
            return {"environment_id": self._environment_id(store, env), **where}
        except Exception:
            if not hasattr(store, "spool"):
                raise
            # the store cannot be written: the environment goes to the spool with the run
            return {"environment": env, **where}


def git_now(cwd: str) -> Future[Any]:
    """Git's state of ``cwd``, read now in a short-lived thread (two ``git`` commands); at
    once, without a thread, outside a repository."""
    from .environment import GitState, git_state, outside_repository

    future: Future[Any] = Future()
    if outside_repository(cwd):
        future.set_result(GitState(None, None))
        return future

    def read() -> None:
        try:
            future.set_result(git_state(cwd))
        except BaseException as exc:  # git_state itself never raises; be safe anyway
            future.set_exception(exc)

    threading.Thread(target=read, name="mltrack-git", daemon=True).start()
    return future


def top_level_names() -> frozenset[str]:
    return frozenset(name.partition(".")[0] for name in list(sys.modules))
