"""The data section of a comparison: the datasets runs read and wrote, matched across runs
by name (then by file path), each marked same, changed, added or missing against the
baseline, a change summarised from the two snapshot records (no data is read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..snapshots.diff import diff_snapshots
from ..store.entities import RunData, Snapshot
from .facts import RunFacts


def _entry(d: RunData | None) -> dict[str, Any] | None:
    if d is None:
        return None
    s = d.snapshot
    return {
        "digest": s.digest,
        "short": s.short,
        "kind": s.kind,
        "rows": s.rows,
        "columns": s.columns,
    }


def summary(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """What changed from ``a`` to ``b``: rows, whether the schema changed, which columns
    changed, were added or removed, and the drift (Jensen–Shannon distance between the
    recorded distributions, under the key ``psi``) of each changed column."""
    diff = diff_snapshots(None, a, b)
    schema = diff.get("schema") or {}
    columns = diff.get("columns") or []
    changed = [c["name"] for c in columns if c.get("status") in ("changed", "dtype_changed")]
    drift = [
        {"column": c["name"], "psi": c["drift"], "measure": "jensen-shannon"}
        for c in columns
        if c.get("status") in ("changed", "dtype_changed") and c.get("drift") is not None
    ]
    drift.sort(key=lambda d: -d["psi"])
    return {
        "rows": [a.rows, b.rows],
        "schema_changed": bool(
            schema.get("added")
            or schema.get("removed")
            or schema.get("dtype_changed")
            or schema.get("order_changed")
            or schema.get("index_changed")
            or a.kind != b.kind
        ),
        "changed_columns": changed,
        "added_columns": list(schema.get("added") or []),
        "removed_columns": list(schema.get("removed") or []),
        "drift": drift,
    }


def _rows(facts: Sequence[RunFacts]) -> list[dict[str, Any]]:
    """Rows ``{role, name, path, items: [RunData | None per run]}``: inputs then outputs,
    in the order they first appear; a dataset joins the row of its name, else of its path."""
    rows: list[dict[str, Any]] = []
    n = len(facts)
    for role in ("input", "output"):
        by_name: dict[str, dict[str, Any]] = {}
        by_path: dict[str, dict[str, Any]] = {}
        for i, f in enumerate(facts):
            for d in f.data:
                if d.role != role:
                    continue
                row = by_name.get(d.name)
                if row is not None and row["items"][i] is not None:
                    row = None  # the name is taken in this run (cannot happen: name is a key)
                if row is None and d.path:
                    row = by_path.get(d.path)
                    if row is not None and row["items"][i] is not None:
                        row = None
                if row is None:
                    row = {"role": role, "name": d.name, "path": d.path, "items": [None] * n}
                    rows.append(row)
                    by_name.setdefault(d.name, row)
                row["items"][i] = d
                if d.path:
                    by_path.setdefault(d.path, row)
                    if row["path"] is None:
                        row["path"] = d.path
    return rows


def data_section(facts: Sequence[RunFacts]) -> list[dict[str, Any]]:
    out = []
    for row in _rows(facts):
        items: list[RunData | None] = row["items"]
        base = items[0]
        states: list[str | None] = [None]
        diffs: list[dict[str, Any] | None] = [None]
        for d in items[1:]:
            diff = None
            if d is None:
                state = "missing" if base is not None else None
            elif base is None:
                state = "added"
            elif d.snapshot.digest == base.snapshot.digest:
                state = "same"
            else:
                state = "changed"
                diff = summary(base.snapshot, d.snapshot)
            states.append(state)
            diffs.append(diff)
        out.append(
            {
                "role": row["role"],
                "name": row["name"],
                "path": row["path"],
                "entries": [_entry(d) for d in items],
                "states": states,
                "diffs": diffs,
            }
        )
    return out
