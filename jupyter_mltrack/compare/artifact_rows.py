"""The comparison's artifact rows in words, for every reader that is not the compare tab:
the notebook widget's HTML, ``mltrack runs compare`` and its ``--html`` report.

What a run holds under a name, what changed against the baseline and which image a row
shows are said the same way in each (the compare tab, in TypeScript, says them as
``compare/artifactrows.ts`` does). Works on the rows' dictionaries alone (``to_dict()``,
the API's JSON): no store and no I/O, so the widget's renderer imports it for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .outputs import human_size


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def side_summary(side: Mapping[str, Any] | None) -> str:
    """What a run holds: ``skops sklearn 1.5 2.1 KB``, ``folder 3.4 KB (12 files)``,
    ``file 772 B (3 steps)`` for a series, ``table 300 x 6 12 KB`` (rows x columns);
    ``""`` for nothing."""
    if side is None:
        return ""
    model = side.get("model") or {}
    words = [model.get("format"), model.get("flavor"), model.get("library_version")]
    what = " ".join(str(w) for w in words if w) or str(side.get("kind") or "")
    table = side.get("table")
    if table:  # a log_table table: its shape says more than its one file
        what = f"table {table['rows']:,} x {table['columns']}"
    text = f"{what} {human_size(int(side.get('size') or 0))}"
    steps = side.get("step_count")
    if steps is not None:
        return f"{text} ({plural(int(steps), 'step')})"
    files = int(side.get("file_count") or 0)
    return f"{text} ({files} files)" if files > 1 else text


def change_note(
    side: Mapping[str, Any] | None,
    state: str | None,
    changes: Mapping[str, int] | None,
    table: Mapping[str, Any] | None = None,
) -> str:
    """Against the baseline: ``""`` when the same (and for the baseline), else the state
    and, for a folder or a series, what changed: ``changed: 2 changed, 1 added`` (a series
    counts steps); for a table, its cells: ``changed: 12 of 143 rows differ: pred 12``."""
    if not state or state == "same":
        return ""
    if table:
        return f"{state}: {table_change_text(table)}"
    counted = side is not None and (
        side.get("step_count") is not None or int(side.get("file_count") or 0) > 1
    )
    counts = [f"{n} {key}" for key, n in (changes or {}).items() if n] if counted else []
    return f"{state}: {', '.join(counts)}" if counts else state


def table_change_text(diff: Mapping[str, Any] | None) -> str:
    """One line for a diff: ``12 of 143 rows differ: pred 12, proba 40``, ``rows 143 ->
    150`` (rows paired by position), ``3 rows added`` (by index or key; ``12 of 140 rows
    (by customer_id) differ: …`` by a key), ``+ column score``,
    ``- column id``, ``label int64 -> object``; ``""`` for none."""
    if not diff:
        return ""
    if "skipped" in diff:
        return str(diff["skipped"])
    parts: list[str] = []
    before, after = diff["rows"]
    paired = before - int(diff.get("rows_removed") or 0)
    by = f" (by {', '.join(diff['key'])})" if diff.get("paired_by") == "key" else ""
    if diff.get("rows_changed"):
        columns = ", ".join(f"{k} {v:,}" for k, v in (diff.get("columns_changed") or {}).items())
        parts.append(f"{diff['rows_changed']:,} of {paired:,} rows{by} differ: {columns}")
    elif by and diff.get("rows_changed") == 0:  # reordered, or rows only added/removed
        parts.append(f"none of {paired:,} rows{by} differ")
    if diff.get("paired_by") in ("index", "key"):
        for key, word in (("rows_added", "added"), ("rows_removed", "removed")):
            if diff.get(key):
                parts.append(f"{plural(int(diff[key]), 'row')} {word}")
    elif before != after:
        parts.append(f"rows {before:,} -> {after:,}")
    for key, sign in (("added", "+"), ("removed", "-")):
        names = diff.get(key) or []
        if names:
            word = "column" if len(names) == 1 else "columns"
            parts.append(f"{sign} {word} {', '.join(names)}")
    parts += [f"{r['name']} {r['a']} -> {r['b']}" for r in diff.get("retyped") or []]
    if not parts:  # same cells, other bytes (the order of row groups, a type's metadata)
        parts.append("the same cells")
    return "; ".join(parts)


def side_text(
    side: Mapping[str, Any] | None,
    state: str | None,
    changes: Mapping[str, int] | None,
    table: Mapping[str, Any] | None = None,
) -> str:
    """A run's cell of an artifact row in plain text: what it holds and, when it differs,
    how (``text 29 B (changed)``); ``missing``/``-`` when it holds nothing."""
    if side is None:
        return state or "-"
    note = change_note(side, state, changes, table)
    text = side_summary(side)
    return f"{text} ({note})" if note else text


def shown_images(row: Mapping[str, Any]) -> list[Mapping[str, Any] | None]:
    """The image each run shows for an artifact row, baseline first: an image's own, a
    series' last step (the compare tab's slider reaches the others); ``[]`` for the rest."""
    if row.get("view") == "image":
        return list(row.get("images") or [])
    if row.get("view") == "series":
        return [steps[-1] if steps else None for steps in row.get("steps") or []]
    return []
