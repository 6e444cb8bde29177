"""What changed between two snapshots, computed from what was recorded when they were taken.

Schema changes, row counts and statistics come from the two snapshot records alone; which
columns changed, and where, comes from their block digests (a column whose blocks are all
equal is unchanged without reading a byte of it); whether the second is the first with rows
appended is decided from the blocks too, reading at most one block per column. Only a
requested sample of mismatched rows reads data: the changed blocks of the changed columns,
or, when both frames have a unique, non-default index, the two frames aligned on it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..store.entities import Snapshot
from .stats import drift

if TYPE_CHECKING:
    from .storage import Snapshotter


def block_rows(layout: Mapping[str, Any]) -> int:
    from .restore import block_rows as rows_of

    return rows_of(layout)


#: Most mismatched rows a diff will list.
MAX_SAMPLE = 1000


def _summary(s: Snapshot) -> dict[str, Any]:
    return {
        "digest": s.digest,
        "short": s.short,
        "kind": s.kind,
        "rows": s.rows,
        "columns": s.columns,
        "name": s.name,
        "nbytes": s.nbytes,
    }


def _columns(s: Snapshot) -> list[dict[str, Any]]:
    """Column entries of a snapshot's schema, with their block digests and statistics."""
    cols = list(s.schema.get("columns", []))
    blocks = s.layout.get("blocks", {})
    stats = {c.get("name"): c for c in (s.stats or {}).get("columns", [])}
    out = []
    for position, col in enumerate(cols):
        key = "values" if s.kind == "ndarray" and "values" in blocks else f"col:{position}"
        name = column_name(col.get("name"))
        out.append(
            {
                "name": name,
                "dtype": col.get("dtype"),
                "blocks": list(blocks.get(key, [])),
                "stats": stats.get(name),
            }
        )
    return out


def column_name(label: Any) -> str:
    """A column label as text (the fingerprint keeps its type; a diff shows it)."""
    if isinstance(label, dict) and len(label) == 1:
        ((kind, value),) = label.items()
        if kind == "tuple":
            return "(" + ", ".join(column_name(v) for v in value) + ")"
        return str(value)
    return str(label)


def diff_snapshots(
    snapshotter: Snapshotter | None, a: Snapshot, b: Snapshot, *, sample: int = 0
) -> dict[str, Any]:
    """The difference from snapshot ``a`` to snapshot ``b`` (see the module docstring).

    ``sample``: list up to that many mismatched rows (0 reads no data at all).
    ``snapshotter``: ``None`` reads no data at all, from the records alone (a comparison of
    many runs): ``appended_rows`` is then ``None`` and no sample is taken.
    """
    sample = max(0, min(int(sample), MAX_SAMPLE))
    out: dict[str, Any] = {
        "a": _summary(a),
        "b": _summary(b),
        "identical": a.digest == b.digest,
        "kind": a.kind if a.kind == b.kind else f"{a.kind} -> {b.kind}",
    }
    if a.kind == "folder" and b.kind == "folder":
        from .folders import diff_folders

        out["folder"] = diff_folders(a, b)
        return out
    if a.kind in ("file", "folder") or b.kind in ("file", "folder"):
        out["files"] = {
            "a_size": a.nbytes,
            "b_size": b.nbytes,
            "same_content": a.digest == b.digest,
        }
        return out
    rows_a, rows_b = int(a.rows or 0), int(b.rows or 0)
    out["rows"] = {"a": rows_a, "b": rows_b, "delta": rows_b - rows_a}
    cols_a, cols_b = _columns(a), _columns(b)
    by_name_a = {c["name"]: c for c in cols_a}
    by_name_b = {c["name"]: c for c in cols_b}
    names_a, names_b = [c["name"] for c in cols_a], [c["name"] for c in cols_b]
    added = [n for n in names_b if n not in by_name_a]
    removed = [n for n in names_a if n not in by_name_b]
    common = [n for n in names_a if n in by_name_b]
    retyped = [
        {"name": n, "a": by_name_a[n]["dtype"], "b": by_name_b[n]["dtype"]}
        for n in common
        if by_name_a[n]["dtype"] != by_name_b[n]["dtype"]
    ]
    out["schema"] = {
        "added": added,
        "removed": removed,
        "dtype_changed": retyped,
        "order_changed": [n for n in names_b if n in by_name_a] != common,
        "index_changed": a.schema.get("index") != b.schema.get("index")
        if a.kind in ("dataframe", "series")
        else False,
    }
    columns: list[dict[str, Any]] = []
    for name in names_a + added:
        ca, cb = by_name_a.get(name), by_name_b.get(name)
        entry: dict[str, Any] = {"name": name}
        if ca is None or cb is None:
            entry["status"] = "added" if ca is None else "removed"
            entry["changed_blocks"] = None
        else:
            changed = _changed_blocks(ca["blocks"], cb["blocks"])
            if ca["dtype"] != cb["dtype"]:
                entry["status"] = "dtype_changed"
            elif not changed and rows_a == rows_b:
                entry["status"] = "unchanged"
            else:
                entry["status"] = "changed"
            entry["changed_blocks"] = len(changed)
            entry["blocks"] = max(len(ca["blocks"]), len(cb["blocks"]))
        sa = ca["stats"] if ca else None
        sb = cb["stats"] if cb else None
        entry["stats"] = {"a": _brief(sa), "b": _brief(sb)}
        entry["drift"] = drift(sa, sb) if sa and sb else None
        columns.append(entry)
    out["columns"] = columns
    out["changed_columns"] = [c["name"] for c in columns if c["status"] != "unchanged"]
    if snapshotter is None:
        out["appended_rows"] = None
        return out
    out["appended_rows"] = _appended(snapshotter, a, b, cols_a, cols_b)
    if sample:
        out["sample"] = _sample(snapshotter, a, b, cols_a, by_name_b, sample)
    return out


def _brief(stats: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The figures a diff table shows for one side of a column."""
    if not stats:
        return None
    numeric = stats.get("numeric") or {}
    quantiles = numeric.get("quantiles") or []
    out = {
        "count": stats.get("count"),
        "null_share": stats.get("null_share"),
        "min": numeric.get("min"),
        "max": numeric.get("max"),
        "mean": numeric.get("mean"),
        "std": numeric.get("std"),
        "median": quantiles[len(quantiles) // 2] if quantiles else None,
        "distinct_estimate": stats.get("distinct_estimate"),
    }
    if stats.get("top"):
        out["top"] = stats["top"][:3]
    return out


def _changed_blocks(a: list[str], b: list[str]) -> list[int]:
    return [k for k in range(max(len(a), len(b))) if k >= len(a) or k >= len(b) or a[k] != b[k]]


def _index_blocks(s: Snapshot) -> list[list[str]]:
    blocks = s.layout.get("blocks", {})
    return [blocks[k] for k in sorted(blocks) if k.startswith("index:")]


def _range(s: Snapshot) -> list[int] | None:
    return s.layout.get("frame", {}).get("index", {}).get("range")


def _appended(
    snapshotter: Snapshotter,
    a: Snapshot,
    b: Snapshot,
    cols_a: list[dict[str, Any]],
    cols_b: list[dict[str, Any]],
) -> int | None:
    """Rows appended to ``a`` to make ``b`` (0 if equal), or ``None`` if ``b`` is not ``a``
    plus rows at the end. Decided from the block digests: every full block of ``a`` must
    reappear in ``b``; only ``a``'s last, partial block is read and compared."""
    rows_a, rows_b = int(a.rows or 0), int(b.rows or 0)
    if rows_b < rows_a or a.kind != b.kind:
        return None
    if [(c["name"], c["dtype"]) for c in cols_a] != [(c["name"], c["dtype"]) for c in cols_b]:
        return None
    if a.schema.get("index") != b.schema.get("index"):
        return None
    range_a, range_b = _range(a), _range(b)
    if (range_a is None) != (range_b is None):
        return None
    if range_a and range_b and (range_a[0], range_a[2]) != (range_b[0], range_b[2]):
        return None
    index_a, index_b = _index_blocks(a), _index_blocks(b)
    pairs = [(ca["blocks"], cb["blocks"]) for ca, cb in zip(cols_a, cols_b, strict=True)]
    pairs += list(zip(index_a, index_b, strict=True))
    per_block = block_rows(a.layout)
    if per_block != block_rows(b.layout):
        return None
    full = rows_a // per_block
    if any(xa[:full] != xb[:full] for xa, xb in pairs):
        return None
    if rows_a % per_block:
        start = full * per_block
        tail_a = snapshotter.preview(a, start, rows_a - start)
        tail_b = snapshotter.preview(b, start, rows_a - start)
        if not _same(tail_a, tail_b):
            return None
    return rows_b - rows_a


def _same(x: Any, y: Any) -> bool:
    if hasattr(x, "equals") and type(x) is type(y):
        try:
            import pandas as pd

            if isinstance(x, pd.DataFrame | pd.Series):
                pd.testing.assert_frame_equal(
                    x if isinstance(x, pd.DataFrame) else x.to_frame(),
                    y if isinstance(y, pd.DataFrame) else y.to_frame(),
                    check_exact=True,
                )
                return True
        except AssertionError:
            return False
        return bool(x.equals(y))
    import numpy as np

    return bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))


def _json_value(value: Any) -> Any:
    """A cell value for a JSON diff sample."""
    if value is None:
        return None
    if hasattr(value, "item"):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, bool | int | str):
        return value
    return str(value)


def _missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cells
        return False


def _differs(x: Any, y: Any) -> bool:
    """Cell inequality as a snapshot sees it: NaN equals NaN, but None is not NaN."""
    if _missing(x) or _missing(y):
        return not (_missing(x) and _missing(y) and type(x) is type(y))
    try:
        return bool(x != y)
    except (TypeError, ValueError):
        return repr(x) != repr(y)


def _sample(
    snapshotter: Snapshotter,
    a: Snapshot,
    b: Snapshot,
    cols_a: list[dict[str, Any]],
    by_name_b: Mapping[str, dict[str, Any]],
    limit: int,
) -> dict[str, Any]:
    """Up to ``limit`` mismatched cells, keyed by index label (or position)."""
    if a.kind not in ("dataframe", "series") or b.kind != a.kind:
        return {"by": None, "rows": [], "truncated": False}
    names = [c["name"] for c in cols_a if c["name"] in by_name_b]
    found: list[dict[str, Any]] = []
    if _range(a) is None and _range(b) is None:
        fa, fb = _named(a, snapshotter.load(a)), _named(b, snapshotter.load(b))
        if fa.index.is_unique and fb.index.is_unique:
            both = fa.index.intersection(fb.index, sort=False)
            for label in both:
                for name in names:
                    x, y = fa.at[label, name], fb.at[label, name]
                    if _differs(x, y):
                        found.append(_cell(label, None, name, x, y))
                if len(found) >= limit:
                    break
            return {
                "by": "index",
                "rows": found[:limit],
                "truncated": len(found) >= limit,
                "only_in_a": len(fa.index.difference(fb.index)),
                "only_in_b": len(fb.index.difference(fa.index)),
            }
    rows = min(int(a.rows or 0), int(b.rows or 0))
    per_block = block_rows(a.layout)
    changed = sorted(
        {
            k
            for c in cols_a
            if c["name"] in by_name_b
            for k in _changed_blocks(c["blocks"], by_name_b[c["name"]]["blocks"])
            if k * per_block < rows
        }
    )
    for k in changed:
        start = k * per_block
        count = min(rows, start + per_block) - start
        pa_ = _named(a, snapshotter.preview(a, start, count))
        pb_ = _named(b, snapshotter.preview(b, start, count))
        for i in range(count):
            for name in names:
                x, y = pa_[name].iat[i], pb_[name].iat[i]
                if _differs(x, y):
                    found.append(_cell(pa_.index[i], start + i, name, x, y))
            if len(found) >= limit:
                break
        if len(found) >= limit:
            break
    return {"by": "position", "rows": found[:limit], "truncated": len(found) >= limit}


def _cell(label: Any, position: int | None, name: str, x: Any, y: Any) -> dict[str, Any]:
    return {
        "index": _json_value(label),
        "position": position,
        "column": name,
        "a": _json_value(x),
        "b": _json_value(y),
    }


def _named(s: Snapshot, obj: Any) -> Any:
    """A frame whose columns are named as the diff names them."""
    import pandas as pd

    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj.copy(deep=False)
    labels = [c.get("name") for c in s.schema.get("columns", [])]
    frame.columns = (
        [column_name(c) for c in labels]
        if len(labels) == frame.shape[1]
        else [column_name(c) for c in frame.columns]
    )
    return frame
