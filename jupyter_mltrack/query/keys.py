"""The param, metric and tag keys the runs of a scope have: what the sidebar's metric
columns are chosen from, and what a query box can complete."""

from __future__ import annotations

from sqlalchemy import select

from ..store import Store
from ..store.models import LatestMetricRow, ParamRow, RunRow, TagRow
from .search import EVERYTHING, Scope

#: Keys listed per kind at most (a store with more metric names than this has a naming bug).
MAX_KEYS = 1000


def run_keys(store: Store, scope: Scope = EVERYTHING) -> dict[str, list[str]]:
    """``{"params": [...], "metrics": [...], "tags": [...]}``, each sorted. Without a scope,
    a walk of each table's key index; with one, of the scope's runs' rows."""
    conditions = scope.conditions()
    out: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for name, row in (("params", ParamRow), ("metrics", LatestMetricRow), ("tags", TagRow)):
            stmt = select(row.key).distinct().order_by(row.key).limit(MAX_KEYS)
            if conditions:
                runs = select(RunRow.id).where(*conditions)
                stmt = stmt.where(row.run_id.in_(runs.scalar_subquery()))
            out[name] = list(conn.scalars(stmt))
    return out
