"""The execution log: every cell a kernel ran since ``%load_ext``, with its runtime facts
(what the pipeline slicer and ``export`` read back).

It has a write path of its own: the kernel appends after every cell, and on SQLite through a
DBAPI connection kept for such writes (see :mod:`.driver`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from .base import StoreBase
from .entities import Execution, KernelSession
from .models import ExecutionRow
from .names import free_text
from .statements import _execution


class ExecutionLog(StoreBase):
    """Appending to and reading the execution log."""

    def add_executions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append logged cell executions (``facts`` as a dict), in one transaction.

        The kernel calls this after every cell. On SQLite the insert goes through the DBAPI
        connection kept for such writes (:mod:`.driver`): SQLAlchemy's execution machinery
        costs more than the insert and the commit together (0.2 ms against 0.05)."""
        if not rows:
            return
        values = [
            {
                **r,
                # a cell's text as typed may hold what no text column keeps (a NUL typed
                # on its %%track line): replaced, rather than losing the record
                "raw": free_text(r["raw"]),
                "source": free_text(r["source"]),
                "facts": json.dumps(r.get("facts") or {}, allow_nan=False, default=str),
            }
            for r in rows
        ]
        if self._dialect != "sqlite":
            with self.engine.begin() as conn:
                conn.execute(ExecutionRow.__table__.insert(), values)
            return
        insert = self._driver_statement("insert_execution", ExecutionRow.__table__.insert())
        with self._driver_lock:
            self._driver_run([(insert, values)])

    def sessions(self, notebook: str | None = None, *, limit: int = 20) -> list[KernelSession]:
        """Logged kernel sessions, most recent first (of one notebook, if given)."""
        t = ExecutionRow.__table__
        stmt = select(
            t.c.session_id,
            func.max(t.c.notebook_path),
            func.max(t.c.kernel_id),
            func.min(t.c.started_at),
            func.max(t.c.started_at),
            func.count(),
        ).group_by(t.c.session_id)
        if notebook is not None:
            stmt = stmt.where(t.c.notebook_path == notebook.strip("/"))
        stmt = stmt.order_by(func.max(t.c.started_at).desc()).limit(limit)
        with self.engine.connect() as conn:
            return [KernelSession(*row) for row in conn.execute(stmt)]

    def executions(self, session_id: str, *, upto: int | None = None) -> list[Execution]:
        """A session's executions in the order they ran (up to and including ``upto``)."""
        t = ExecutionRow.__table__
        stmt = select(t).where(t.c.session_id == session_id)
        if upto is not None:
            stmt = stmt.where(t.c.seq <= upto)
        with self.engine.connect() as conn:
            return [_execution(r) for r in conn.execute(stmt.order_by(t.c.seq))]

    def execution_of_run(self, run_id: str) -> Execution | None:
        """The logged cell execution a run was recorded in (``None`` for runs outside cells)."""
        t = ExecutionRow.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.run_id == run_id).limit(1)).first()
        return _execution(row) if row is not None else None
