"""Statements as SQL text, run on a DBAPI connection: what the hot writes need once their
statements are compiled, and nothing of SQLAlchemy.

Why apart from :mod:`.driver` (which compiles them): a sweep's worker process writes its
trial's run with these alone. SQLAlchemy and the store's ORM models take about 0.25 s to
import, which every worker paid before its first trial, a sweep's cold start; the driver
compiles the statements a trial writes with and sends them along (see
``sweeps.trial_store``). A :class:`PreparedStatement` pickles; a driver error is raised as
SQLAlchemy raises it (imported then, on the error's path only), so callers handle the
store's two paths alike.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Every SQLite connection of a store: WAL, so readers never block the writer; NORMAL
#: sync, durable at each WAL checkpoint; a 30 s busy timeout; room for the index pages a
#: big metric flush touches (used only as needed); foreign keys enforced.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA cache_size=-32768",
    "PRAGMA foreign_keys=ON",
)
#: How long a write waits for another connection's lock before it fails (seconds).
BUSY_TIMEOUT = 30.0
#: The kept DBAPI connection waits for no lock itself (see :func:`run_statements`) …
NO_BUSY_TIMEOUT = "PRAGMA busy_timeout = 0"
#: … and gets the pool's wait back before it goes back to the pool.
RESTORE_BUSY_TIMEOUT = "PRAGMA busy_timeout = 30000"


def _strict_bool(value: Any) -> int:
    """As SQLAlchemy binds a ``Boolean`` on SQLite: ``True``/``False`` (or 1/0) as 1/0; any
    other integer a ``ValueError``, anything else a ``TypeError``."""
    if value not in (True, False):
        if isinstance(value, int):
            raise ValueError(f"Value {value!r} is not None, True, or False")
        raise TypeError(f"Not a boolean value: {value!r}")
    return int(value)


#: How a value is bound, by the kind of its column's type (what SQLAlchemy's bind
#: processors for SQLite do: ``tests/test_prepared.py`` compares them).
PROCESSORS: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "binary": sqlite3.Binary,
    "bool": _strict_bool,
}


@dataclass(frozen=True)
class PreparedStatement:
    """One statement as its dialect's SQL text, with the order of its positional
    parameters, their defaults (the construct's literal values) and how each is bound
    (a key of :data:`PROCESSORS`)."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    kinds: Mapping[str, str] = field(default_factory=dict)

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for ``values`` (a construct's literals by default)."""
        out = []
        kinds = self.kinds
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            kind = kinds.get(name)
            out.append(PROCESSORS[kind](value) if kind is not None and value is not None else value)
        return tuple(out)


#: A step of :func:`run_statements`: ``(statement, values or list of values[, check])``;
#: the values may be given as a function of nothing, called when the step runs.
Step = tuple[Any, ...]

#: The first waits for another writer's lock (seconds), doubling up to the last.
BUSY_FIRST = 0.0001
BUSY_LONGEST = 0.01


def run_statements(
    conn: Any,
    dialect_module: Any,
    steps: Sequence[Step],
    *,
    busy_wait: float = 0.0,
) -> list[Any]:
    """Run ``(statement, values or list of values[, check])`` steps in one transaction on
    the DBAPI connection ``conn`` and commit; the first row of each single execution (a
    ``RETURNING`` or a ``SELECT``), ``None`` for the others. ``check``, called with a single
    execution's first row, may raise to stop there (a run that is not there, a conflict):
    nothing is written then. Rolled back on any error; a driver error is raised as
    SQLAlchemy raises it (``IntegrityError``, ``OperationalError`` …). Values given as a
    function are built when their step runs, after the checks before it: rows read earlier
    in the transaction decide them (where an artifact's bytes are packed already).

    ``busy_wait``: for a connection whose database does not wait for a lock itself (SQLite's
    ``busy_timeout`` 0), how long to try again while another connection holds the write
    lock: the transaction is rolled back and run again after 0.1 ms, then twice as long each
    time, up to 10 ms. SQLite's own wait sleeps 1 ms first, then 2, 5, 10…, against
    transactions of a tenth of that here: three processes writing one database (a sweep's
    driver and two workers) spent more time asleep than writing."""
    deadline = time.monotonic() + busy_wait
    pause = BUSY_FIRST
    while True:
        failed: list[Any] = []
        try:
            return _run_once(conn, dialect_module, steps, failed)
        except dialect_module.Error as exc:
            if not _busy(exc) or time.monotonic() + pause > deadline:
                raise _as_sqlalchemy(failed, exc, dialect_module) from exc
        time.sleep(pause)
        pause = min(pause * 2, BUSY_LONGEST)


def _as_sqlalchemy(failed: list[Any], exc: BaseException, dialect_module: Any) -> BaseException:
    """``exc`` as SQLAlchemy's engine would have raised it, naming the statement."""
    from sqlalchemy import exc as sa_exc

    sql, params = failed[0] if failed else ("", None)
    return sa_exc.DBAPIError.instance(sql, params, exc, dialect_module.Error)


def _busy(exc: BaseException | None) -> bool:
    """Whether a DBAPI error says another connection holds the lock (SQLite's BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == 5  # SQLITE_BUSY and its extended codes
    return "database is locked" in str(exc)


def _run_once(
    conn: Any, dialect_module: Any, steps: Sequence[Step], failed: list[Any]
) -> list[Any]:
    cursor = conn.cursor()
    firsts: list[Any] = []
    try:
        for statement, values, *check in steps:
            params: Any = None
            if callable(values):
                values = values()
            try:
                if isinstance(values, list):
                    params = [statement.args(v) for v in values]
                    if params:
                        cursor.executemany(statement.sql, params)
                    firsts.append(None)
                else:
                    params = statement.args(values)
                    cursor.execute(statement.sql, params)
                    firsts.append(cursor.fetchone() if cursor.description else None)
            except dialect_module.Error:
                failed.append((statement.sql, params))
                raise
            if check:
                check[0](firsts[-1])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cursor.close()
    return firsts


def read_rows(
    conn: Any, dialect_module: Any, statement: PreparedStatement, values: Mapping[str, Any]
) -> list[Any]:
    """Every row of one read (no transaction of its own: on SQLite in WAL a read waits for
    no writer); a driver error raised as SQLAlchemy raises it."""
    cursor = conn.cursor()
    params = statement.args(values)
    try:
        cursor.execute(statement.sql, params)
        return cursor.fetchall()
    except dialect_module.Error as exc:
        raise _as_sqlalchemy([(statement.sql, params)], exc, dialect_module) from exc
    finally:
        cursor.close()


def connect_sqlite(database: str) -> sqlite3.Connection:
    """A connection to a store's SQLite file as the store's own kept connection is: its
    pragmas, then no busy wait of SQLite's own (:func:`run_statements` waits)."""
    conn = sqlite3.connect(database, timeout=30, check_same_thread=False)
    cursor = conn.cursor()
    for pragma in (*SQLITE_PRAGMAS, NO_BUSY_TIMEOUT):
        cursor.execute(pragma)
    cursor.close()
    return conn
