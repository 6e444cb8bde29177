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


def run_statements(
    conn: Any, dialect_module: Any, steps: Sequence[tuple[DriverStatement, Any]]
) -> list[Any]:
    """Run ``(statement, values or list of values)`` steps in one transaction on the DBAPI
    connection ``conn`` and commit; the first row of each single execution (a ``RETURNING``
    or a ``SELECT``), ``None`` for the others. Rolled back on any error; a driver error is
    raised as SQLAlchemy raises it (``IntegrityError``, ``OperationalError`` …), so callers
    handle both paths alike."""
    cursor = conn.cursor()
    firsts: list[Any] = []
    try:
        for statement, values in steps:
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
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        cursor.close()
    return firsts
