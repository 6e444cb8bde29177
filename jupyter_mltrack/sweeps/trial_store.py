"""The store a sweep's worker writes its trials' runs to, without SQLAlchemy.

Why: a worker imported SQLAlchemy and the store's ORM models before its first trial, about
0.25 s of the 0.35 s a worker took to start, and a sweep's two workers start together on a
two-core machine: on a sweep of a dozen half-second trials that start cost the speed-up of
2 jobs over 1 a tenth (``docs/benchmarks.md``, section 12). A trial's run is written by a
handful of statements (:mod:`..store.fast_writes`: its restart, its end, metric flushes,
heartbeats, its environment; and a pruner reads the other trials with two), which on SQLite
the store already runs on the DBAPI connection. So the driver compiles them once
(:class:`TrialWrites`, sent with each trial) and a worker runs them with Python's own
``sqlite3``: the same statements, values and attempt checks as the store's own path, built
by the same code.

Anything else a pipeline does with the store (a dataset read through ``mltrack.get``, an
artifact or a model logged, a run that fails before it begins) goes to a
:class:`..store.store.Store` opened on first use, which shares this store's attempt fences:
a trial written partly one way and partly the other is still written as its attempt. A
PostgreSQL store, or a SQLite one whose database cannot say ``RETURNING``, sends no
:class:`TrialWrites`, and its workers open a full store as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pickle
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store.attempts import Fence
from ..store.attempts import writing_as as fenced
from ..store.entities import Environment, MetricPoint, Run, RunStatus
from ..store.errors import RunNotFound, RunSuperseded
from ..store.fast_writes import (
    environment_row,
    finish_steps,
    heartbeat_steps,
    log_metrics_steps,
    restart_steps,
    restarted_run,
    trial_keys,
)
from ..store.prepared import (
    BUSY_TIMEOUT,
    PreparedStatement,
    connect_sqlite,
    read_rows,
    run_statements,
)
from ..store.series import sibling_series
from ..store.write_rows import finish_values

if TYPE_CHECKING:
    from ..store.store import Store

#: What only a spooling store has (``store.spool.SpoolingStore``; a test keeps the list
#: whole): a trial's store is a plain one, as before (a trial that cannot record fails, and
#: its sweep says so), and callers ask for these with ``getattr(store, name, None)``, which
#: must not open the full store to find out.
NOT_HERE = frozenset(
    {"drain", "offline", "snapshot_store", "spool", "spool_artifact", "synced", "take_notices"}
)


@dataclass(frozen=True)
class TrialWrites:
    """What a driver on a SQLite store sends its workers: the database file, and the
    statements of a trial's writes compiled for it.

    It goes with every trial, so it pickles as bytes made once (9 KB: pickling the
    statements took 30 µs a trial, on the driver, which is what a sweep waits on) and
    their digest; a worker unpickles the bytes once and keeps them by digest."""

    database: str
    statements: Mapping[str, PreparedStatement]

    @functools.cached_property
    def _packed(self) -> tuple[str, bytes]:
        data = pickle.dumps((self.database, dict(self.statements)), pickle.HIGHEST_PROTOCOL)
        return hashlib.blake2b(data, digest_size=16).hexdigest(), data

    def __reduce__(self) -> tuple[Any, ...]:
        return _unpacked, self._packed

    @classmethod
    def of(cls, store: Store) -> TrialWrites | None:
        """The writes for ``store``'s trials; ``None`` where workers need a full store (a
        PostgreSQL store, a SQLite without ``RETURNING``, a database in memory)."""
        if not (store._fast_writes and store._returning):
            return None
        database = store.engine.url.database
        if not database or database == ":memory:":
            return None
        return cls(os.path.abspath(database), store.prepared_statements(trial_keys()))


#: The writes this process has unpickled, by digest (see :class:`TrialWrites`).
_unpacked_writes: dict[str, TrialWrites] = {}


def _unpacked(digest: str, data: bytes) -> TrialWrites:
    found = _unpacked_writes.get(digest)
    if found is None:
        database, statements = pickle.loads(data)
        found = _unpacked_writes[digest] = TrialWrites(database, statements)
    return found


class TrialStore:
    """A trial's writes on ``sqlite3`` (see the module's docstring); for its callers, a
    :class:`..store.store.Store` of ``url``: any other attribute is the full store's."""

    def __init__(self, url: str, blob_url: str | None, writes: TrialWrites) -> None:
        self.url = url
        self.blob_url = blob_url
        self._writes = writes
        self._conn: sqlite3.Connection | None = None
        #: One transaction at a time on the connection (the trial's thread, the run's
        #: heartbeat, the environment's scan).
        self._lock = threading.Lock()
        #: The runs written as an attempt, by id (shared with the full store, once opened).
        self._fences: dict[str, Fence] = {}
        self._full: Store | None = None
        self._full_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TrialStore({self._writes.database!r})"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name in NOT_HERE:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.full, name)

    @property
    def full(self) -> Store:
        """The store itself, opened on first use, writing as the same attempts."""
        with self._full_lock:
            if self._full is None:
                from ..store.store import Store

                store = Store(self.url, blob_url=self.blob_url)
                store._fences = self._fences
                self._full = store
            return self._full

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with self._full_lock:
            if self._full is not None:
                self._full.close()
                self._full = None

    # the writes of a trial -------------------------------------------------------------------

    def _statement(self, key: str) -> PreparedStatement:
        return self._writes.statements[key]

    def _connection(self) -> sqlite3.Connection:
        """The store's database, connected on first use (callers hold ``_lock``)."""
        if self._conn is None:
            self._conn = connect_sqlite(self._writes.database)
        return self._conn

    def _run(self, steps: Sequence[tuple[Any, ...]]) -> list[Any]:
        with self._lock:
            return run_statements(self._connection(), sqlite3, steps, busy_wait=BUSY_TIMEOUT)

    def writing_as(
        self, run_id: str, attempt: str | None
    ) -> contextlib.AbstractContextManager[Fence]:
        """``Store.writing_as``: this store's writes to ``run_id`` are ``attempt``'s."""
        return fenced(self._fences, run_id, attempt)

    def restart_run(
        self, run_id: str, params: Mapping[str, Any] | None = None, *, attempt: str | None = None
    ) -> Run:
        """``Store.restart_run``: the run started over by this process."""
        steps, rows = restart_steps(self._statement, self._fences, run_id, params, attempt)
        return restarted_run(self._run(steps)[-1], rows)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        outputs: Sequence[Mapping[str, Any]] = (),
        **where: Any,
    ) -> None:
        """``Store.finish_run``; ``where``: its ``error``, ``end_time``, ``environment_id``,
        ``git_commit`` and ``git_dirty``. A run with outputs (a pipeline's has none) is
        ended by the full store."""
        if outputs:
            self.full.finish_run(
                run_id, status, params=params, metrics=metrics, outputs=outputs, **where
            )
            return
        values = finish_values(status, **where)
        self._run(finish_steps(self._statement, self._fences, run_id, values, params, metrics))

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """``Store.log_metrics``: a flush of a long trial's metrics."""
        if points:
            self._run(log_metrics_steps(self._statement, self._fences, run_id, points))

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        """``Store.heartbeat``: each run's, a superseded attempt's refused quietly."""
        for run_id in run_ids:
            with contextlib.suppress(RunSuperseded, RunNotFound):
                self._run(heartbeat_steps(self._statement, self._fences, run_id))

    def sweep_siblings(
        self, parent_run_id: str, run_id: str, metric: str
    ) -> list[tuple[RunStatus, float, dict[int, float]]]:
        """``Store.sweep_siblings``: what a pruner compares the trial with."""
        args = {"b_parent": parent_run_id, "b_run_id": run_id, "b_key": metric}
        with self._lock:
            conn = self._connection()
            runs = read_rows(conn, sqlite3, self._statement("sweep_siblings"), args)
            chunks = read_rows(conn, sqlite3, self._statement("sweep_sibling_chunks"), args)
        return [(RunStatus(s), v, steps) for s, v, steps in sibling_series(runs, chunks)]

    def put_environment(self, env: Environment) -> int:
        """``Store.put_environment``: stored once per digest, its id."""
        look_up = (self._statement("environment_id"), {"digest": env.digest})
        found = self._run([look_up])[0]
        if found is None:  # inserted unless another process just did; read either way
            insert = (self._statement("insert_environment"), environment_row(env))
            found = self._run([insert, look_up])[1]
        return int(found[0])
