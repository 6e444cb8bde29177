"""Statements compiled once and run on a DBAPI cursor: the SQLite writes a kernel makes on
every cell, without SQLAlchemy's per-execution work.

Why: on the kernel's path (the execution log's record after each cell, a tracked cell's run
created before it runs), SQLAlchemy's execution machinery costs more than the insert and
the commit together, and more still once the cell before has left the caches cold (creating
a run: about 0.6 ms against 0.15, see ``docs/benchmarks.md``, section 8). The statements
stay SQLAlchemy Core constructs (:mod:`.statements`), compiled for the engine's dialect;
only their execution skips the engine. Values go through the same bind processors the
engine would apply, so what is stored is the same either way (``tests/test_store.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


class DriverStatement:
    """One statement as its dialect's SQL text, with the order of its positional
    parameters, their defaults (literal values of the construct) and bind processors."""

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        if dialect.paramstyle not in ("qmark", "numeric", "format"):
            raise ValueError(f"positional parameters needed, not {dialect.paramstyle!r}")
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self._defaults = {name: bind.value for name, bind in binds.items()}
        self._processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in binds.items():
            process = bind.type.bind_processor(dialect)
            if process is not None:
                self._processors[name] = process

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for ``values`` (a construct's literals by default)."""
        out = []
        for name in self.names:
            value = values[name] if name in values else self._defaults[name]
            process = self._processors.get(name)
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)


#: The first waits for another writer's lock (seconds), doubling up to the last.
BUSY_FIRST = 0.0001
BUSY_LONGEST = 0.01


def run_statements(
    conn: Any,
    dialect_module: Any,
    steps: Sequence[tuple[Any, ...]],
    *,
    busy_wait: float = 0.0,
) -> list[Any]:
    """Run ``(statement, values or list of values[, check])`` steps in one transaction on
    the DBAPI connection ``conn`` and commit; the first row of each single execution (a
    ``RETURNING`` or a ``SELECT``), ``None`` for the others. ``check``, called with a single
    execution's first row, may raise to stop there (a run that is not there, a conflict):
    nothing is written then. Rolled back on any error; a driver error is raised as
    SQLAlchemy raises it (``IntegrityError``, ``OperationalError`` …), so callers handle
    both paths alike.

    ``busy_wait``: for a connection whose database does not wait for a lock itself (SQLite's
    ``busy_timeout`` 0), how long to try again while another connection holds the write
    lock: the transaction is rolled back and run again after 0.1 ms, then twice as long each
    time, up to 10 ms. SQLite's own wait sleeps 1 ms first, then 2, 5, 10…, against
    transactions of a tenth of that here: three processes writing one database (a sweep's
    driver and two workers) spent more time asleep than writing."""
    deadline = time.monotonic() + busy_wait
    pause = BUSY_FIRST
    while True:
        try:
            return _run_once(conn, dialect_module, steps)
        except sa_exc.OperationalError as exc:
            if not _busy(exc.orig) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, BUSY_LONGEST)


def _busy(exc: BaseException | None) -> bool:
    """Whether a DBAPI error says another connection holds the lock (SQLite's BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF == 5  # SQLITE_BUSY and its extended codes
    return "database is locked" in str(exc)


def _run_once(conn: Any, dialect_module: Any, steps: Sequence[tuple[Any, ...]]) -> list[Any]:
    cursor = conn.cursor()
    firsts: list[Any] = []
    try:
        for statement, values, *check in steps:
            params: Any = None
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
            except dialect_module.Error as exc:
                raise sa_exc.DBAPIError.instance(
                    statement.sql, params, exc, dialect_module.Error
                ) from exc
            if check:
                check[0](firsts[-1])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cursor.close()
    return firsts
