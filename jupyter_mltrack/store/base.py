"""What every part of the store stands on: its state, sessions and two shared helpers.

:class:`.store.Store` is assembled from mixins, one per responsibility (run writes, run reads,
the bulk reads of comparisons, snapshot records, the execution log). Each derives from
:class:`StoreBase`, which declares the state ``Store.__init__`` sets up and holds the helpers
more than one of them needs, so that no mixin imports ``store.py`` (which imports them all).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .attempts import Fence
from .errors import RunNotFound, RunSuperseded
from .fast_writes import attempt_steps
from .prepared import BUSY_TIMEOUT, NO_BUSY_TIMEOUT, RESTORE_BUSY_TIMEOUT, PreparedStatement
from .statements import _CHECK_ATTEMPT, _UPDATE_RUN, _snapshots_t, fast_statement

__all__ = ["BUSY_TIMEOUT", "RESTORE_BUSY_TIMEOUT", "StoreBase"]

#: The DBAPI path's statements compiled so far in this process, by key, dialect and server
#: version (see :meth:`StoreBase._driver_statement`).
_COMPILED: dict[tuple[str, str, Any], PreparedStatement] = {}


class StoreBase:
    """The state and helpers the store's mixins share (set up by ``Store.__init__``)."""

    engine: Engine
    #: ``"sqlite"`` or ``"postgresql"``: which spelling of an upsert to run.
    _dialect: str
    #: Whether the database can ``INSERT … RETURNING`` (SQLite before 3.35 cannot).
    _returning: bool
    #: Whether the hot writes (a run created, started over, ended) run on the kept DBAPI
    #: connection (SQLite) rather than through the engine (PostgreSQL; a test compares).
    _fast_writes: bool
    _session: sessionmaker[Session]
    #: Held while a run takes its experiment's next number.
    _number_lock: threading.Lock
    #: On SQLite, a DBAPI connection kept for the kernel's per-cell writes (the execution
    #: log's records, tracked cells' runs: see :mod:`.driver`), and its lock.
    _driver_conn: Any
    _driver_lock: threading.Lock
    #: Those writes' statements, compiled for this engine's dialect (``_driver_statement``).
    _driver_statements: dict[str, PreparedStatement]
    #: The runs this store writes as an attempt, by id (see :mod:`.attempts`).
    _fences: dict[str, Fence]

    def session(self) -> Session:
        return self._session()

    def _driver_statement(self, key: str, stmt: Any = None) -> PreparedStatement:
        """``stmt`` compiled for this engine (see :mod:`.driver`); without ``stmt``, the hot
        write of that key in :mod:`.fast_writes`. Compiled once per process and dialect
        (each key names one module-level construct): compiling the ten statements an
        artifact is written with took 4 ms, which every new store paid on its first log."""
        found = self._driver_statements.get(key)
        if found is None:
            dialect = self.engine.dialect
            cache_key = (key, dialect.name, dialect.server_version_info)
            found = _COMPILED.get(cache_key)
            if found is None:
                from .driver import prepare

                if stmt is None:
                    stmt = fast_statement(key, self._dialect)
                found = _COMPILED[cache_key] = prepare(stmt, dialect)
            self._driver_statements[key] = found
        return found

    def prepared_statements(self, keys: Sequence[str]) -> dict[str, PreparedStatement]:
        """The hot writes named (keys of :mod:`.fast_writes`), compiled for this SQLite
        store: what a sweep's driver sends its workers, which then write their trials'
        runs without SQLAlchemy (``sweeps.trial_store``)."""
        return {key: self._driver_statement(key) for key in keys}

    def _driver_run(self, steps: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Run prebuilt statements in one transaction on the kept DBAPI connection (SQLite
        only; see :mod:`.driver`). Callers hold ``_driver_lock``.

        That connection does not wait for another writer's lock in SQLite (which sleeps a
        millisecond first): ``run_statements`` tries again in shorter steps, for as long as
        the store's other connections wait."""
        from .prepared import run_statements

        if self._driver_conn is None:
            conn = self.engine.raw_connection()
            cursor = conn.cursor()
            cursor.execute(NO_BUSY_TIMEOUT)
            cursor.close()
            self._driver_conn = conn
        return run_statements(
            self._driver_conn, self.engine.dialect.dbapi, steps, busy_wait=BUSY_TIMEOUT
        )

    def _ids_in(self, column: Any, ids: Sequence[str]) -> Any:
        """``column IN (ids)`` as one bound value (a JSON array read with ``json_each`` on
        SQLite, an array with ``= ANY`` on PostgreSQL): SQLAlchemy spends longer expanding
        10,000 ``IN`` parameters than the database takes to answer."""
        from sqlalchemy import String, any_, literal_column

        if self._dialect == "postgresql":
            # imported here: the dialect costs 40 ms a SQLite process need not pay
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
        values = select(literal_column("value")).select_from(
            func.json_each(bindparam(None, json.dumps(list(ids))))
        )
        return column.in_(values.scalar_subquery())

    def _touch(self, conn: Connection, run_id: str) -> None:
        """Mark the run as changed (for the revision the sidebar polls); it must exist, and
        be the attempt's this store writes it as, if any (see :meth:`_check_attempt`)."""
        if not self._take_run(conn, run_id):
            raise RunNotFound(run_id)
        self._check_attempt(conn, run_id)

    @staticmethod
    def _take_run(conn: Connection, run_id: str) -> bool:
        """Mark the run as changed, and say whether it exists. A write: it takes SQLite's
        write lock, or the run's row on PostgreSQL, until ``conn`` commits, which is how
        an artifact's replacement and a model version's registration wait for each other."""
        return bool(
            conn.execute(_UPDATE_RUN, {"b_run_id": run_id, "updated_at": time.time()}).rowcount
        )

    def _lock_snapshots(self, conn: Connection) -> None:
        """Take, for ``conn``'s transaction, the lock no snapshot can be completed under and
        ``gc`` deletes blobs under: what snapshots, datasets and artifacts write under when
        what they record must not lose its blobs to a concurrent ``gc``."""
        if self._dialect == "postgresql":
            conn.exec_driver_sql("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE")
        else:  # a no-op write takes SQLite's write lock for the whole transaction
            conn.execute(update(_snapshots_t).where(False).values(pinned=False))

    def _fence_first(self, conn: Connection, run_id: str) -> None:
        """:meth:`_touch`, first thing in a write that changes no run row otherwise (an
        artifact's), when this store writes the run as an attempt: the run's row is taken
        before any other, in the order a restart takes them (no deadlock on PostgreSQL);
        nothing for other runs (their writes stay as they were)."""
        if run_id in self._fences:
            self._touch(conn, run_id)

    def _check_attempt(self, conn: Connection, run_id: str) -> None:
        """Refuse the write under way (:class:`RunSuperseded`, its transaction rolled back)
        if this store writes ``run_id`` as an attempt another has superseded since. Called
        once the write has taken the run's row, so a restart that changes the attempt runs
        wholly before or after it (see :mod:`.attempts`)."""
        fence = self._fences.get(run_id)
        if fence is None:
            return
        found = conn.execute(_CHECK_ATTEMPT, {"b_run_id": run_id, "b_attempt": fence.attempt})
        if found.rowcount == 0:
            fence.superseded = True
            raise RunSuperseded(run_id, fence.attempt)

    def _attempt_steps(self, run_id: str) -> list[tuple[Any, ...]]:
        """:meth:`_check_attempt` as a step of the DBAPI path (see
        :func:`.fast_writes.attempt_steps`)."""
        return attempt_steps(self._driver_statement, self._fences, run_id)
