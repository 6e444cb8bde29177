"""What another connection gets when it tries to write while a store's transaction is
under way: how the tests show a check is read under the lock its write needs."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from jupyter_mltrack.store import Store

#: What :func:`try_write` says when the write had to wait and gave up.
LOCKED = "database is locked"


def try_write(st: Store, sql: str, params: Mapping[str, Any]) -> str:
    """Run ``sql`` (``:name`` parameters) on a new connection to ``st``'s database,
    waiting 50 ms at most for a lock: ``"wrote"``, or :data:`LOCKED`."""
    if st.engine.dialect.name == "sqlite":
        other = sqlite3.connect(st.engine.url.database, timeout=0.05)
        try:
            other.execute(sql, dict(params))
            other.commit()
            return "wrote"
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            return LOCKED
        finally:
            other.close()
    import psycopg

    with psycopg.connect(st.url.replace("postgresql+psycopg://", "postgresql://")) as other:
        try:
            other.execute("SET lock_timeout = '50ms'")
            other.execute(re.sub(r":(\w+)", r"%(\1)s", sql), dict(params))
            other.commit()
            return "wrote"
        except psycopg.errors.LockNotAvailable:
            return LOCKED
