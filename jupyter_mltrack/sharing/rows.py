"""Reading rows of a store in bulk and writing them into another, on either backend.

Both stores are at the schema's head (opening a store migrates it), so a row read from one
table is a row of the same table in the other: copied as it is, but for the keys that are
per store (an experiment's, environment's, model's or dataset's integer id, a run's
number, an autoincrement id), which the callers map.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, select

from ..store import Store

#: ``IN`` lists are cut in chunks this long (old SQLite builds bind at most 999 values).
CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rows_in(
    conn: Connection, table: Table, column: str, keys: Sequence[Any], *order: Any
) -> list[dict[str, Any]]:
    """Every row of ``table`` whose ``column`` is among ``keys``, as dicts (chunked)."""
    out: list[dict[str, Any]] = []
    for chunk in chunks(list(keys)):
        stmt = select(table).where(table.c[column].in_(chunk))
        if order:
            stmt = stmt.order_by(*order)
        out.extend(dict(r._mapping) for r in conn.execute(stmt))
    return out


def by_key(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def insert_ignoring(store: Store, table: Table, keys: Sequence[str]) -> Any:
    """``INSERT … ON CONFLICT (keys) DO NOTHING`` in the store's dialect: a row another
    transfer (or a killed one's retry) inserted first is left as it is."""
    # (imported here: the PostgreSQL dialect costs every CLI command 20 ms at import)
    name = "postgresql" if store.engine.dialect.name == "postgresql" else "sqlite"
    module = importlib.import_module(f"sqlalchemy.dialects.{name}")
    return module.insert(table).on_conflict_do_nothing(index_elements=list(keys))


def without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def as_bytes(row: dict[str, Any]) -> dict[str, Any]:
    """Binary values as ``bytes`` (a driver may hand back a ``memoryview``)."""
    return {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
