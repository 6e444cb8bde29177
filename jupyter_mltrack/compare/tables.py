"""What changed between two runs' tables (``mltrack.log_table``), cell by cell.

Two runs' predictions tables differing "by bytes" say nothing of why a metric moved; which
column changed, in how many rows, does. A table is compared with the baseline's by column
name: columns added, removed or of another type, and, when both have as many rows, how many
rows differ in each column the two share (row ``i`` against row ``i``: a table logged by the
same code keeps its order). Missing values are equal to each other, as a reader expects.

Tables are read whole, so only those of at most :data:`MAX_TABLE_BYTES` (Parquet, stored)
are compared; a bigger one says so. Results are kept by the pair of digests: the compare
tab asks again each time the selection changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..models.artifacts import read_bytes
from ..models.tables import PARQUET
from .outputs import human_size

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Store
    from ..store.entities import Artifact

#: Largest logged table (its Parquet file) compared cell by cell.
MAX_TABLE_BYTES = 64 << 20
#: Most column names a diff lists in each of its lists.
MAX_NAMED = 20
#: Pairs of tables whose diff is kept.
CACHE_SIZE = 64

_cache: OrderedDict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def is_table(artifact: Artifact | None) -> bool:
    """Whether ``artifact`` is a table ``log_table`` logged (one Parquet file)."""
    return (
        artifact is not None
        and artifact.media_type == PARQUET
        and artifact.file_count == 1
        and isinstance(artifact.meta.get("columns"), list)
    )


def table_diff(
    old: pd.DataFrame, new: pd.DataFrame, key: list[str] | None = None
) -> dict[str, Any]:
    """From ``old`` to ``new``: ``rows`` (``[old, new]``), ``added``, ``removed`` and
    ``retyped`` columns (``{"name", "a", "b"}``), how rows were paired (``paired_by``), and
    ``rows_changed`` (paired rows where a shared column differs) and ``columns_changed``
    (shared column -> paired rows where it differs, only those that do).

    Rows are paired by ``key`` (columns ``log_table(..., key=)`` named, ``paired_by``
    ``"key"``) when both tables have those columns without repeats; else by their index
    when both have an index of their own (not the default 0..n-1) without repeats: a table
    of predictions by customer id, logged in another order, compares customer by customer;
    ``rows_added``/``rows_removed`` count the keys only one has. Else by position, when
    both have as many rows; else none are (``paired_by``, ``rows_changed`` and
    ``columns_changed`` are ``None``)."""
    by_key = bool(key) and all(_keyable(t, key) for t in (old, new))
    if by_key:
        assert key is not None
        old, new = old.set_index(key), new.set_index(key)
    old_names, new_names = [str(c) for c in old.columns], [str(c) for c in new.columns]
    shared = [c for c in old_names if c in set(new_names)]
    retyped = [
        {"name": c, "a": str(old[c].dtype), "b": str(new[c].dtype)}
        for c in shared
        if str(old[c].dtype) != str(new[c].dtype)
    ]
    out: dict[str, Any] = {
        "rows": [len(old), len(new)],
        "added": [c for c in new_names if c not in set(old_names)][:MAX_NAMED],
        "removed": [c for c in old_names if c not in set(new_names)][:MAX_NAMED],
        "retyped": retyped[:MAX_NAMED],
        "paired_by": None,
        "rows_added": 0,
        "rows_removed": 0,
        "rows_changed": None,
        "columns_changed": None,
    }
    if by_key or (_keyed(old) and _keyed(new)):
        both = old.index.intersection(new.index, sort=False)
        out["paired_by"] = "key" if by_key else "index"
        if by_key:
            out["key"] = list(key or [])
        out["rows_added"] = int(len(new) - len(both))
        out["rows_removed"] = int(len(old) - len(both))
        old, new = old.loc[both], new.loc[both]
    elif len(old) == len(new):
        out["paired_by"] = "position"
    else:
        return out
    import numpy as np

    any_row = np.zeros(len(old), dtype=bool)
    changed: dict[str, int] = {}
    for name in shared:
        differs = _differs(old[name], new[name])
        count = int(differs.sum())
        if count:
            changed[name] = count
            any_row |= differs
    out["rows_changed"] = int(any_row.sum())
    ranked = sorted(changed.items(), key=lambda kv: (-kv[1], shared.index(kv[0])))
    out["columns_changed"] = dict(ranked[:MAX_NAMED])
    return out


def _keyable(frame: pd.DataFrame, key: list[str]) -> bool:
    """Whether ``frame`` has the columns ``key`` and they name each row once (a table
    logged before its key was given, or by other code, may not)."""
    return all(k in frame.columns for k in key) and not frame.duplicated(key).any()


def _keyed(frame: pd.DataFrame) -> bool:
    """Whether ``frame``'s rows are named by an index of their own: not the default
    ``0..n-1`` (a ``RangeIndex``, as Parquet gives it back), and no value twice."""
    import pandas as pd

    return not isinstance(frame.index, pd.RangeIndex) and bool(frame.index.is_unique)


def _differs(a: pd.Series, b: pd.Series) -> Any:
    """Row by row, whether ``a`` and ``b`` hold different values (both missing: equal).
    Values of types that do not compare (lists, mixed objects) are compared as text."""
    import numpy as np

    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    both_missing = (a.isna() & b.isna()).to_numpy(dtype=bool)
    try:
        unequal = np.asarray(a.to_numpy() != b.to_numpy(), dtype=bool)
    except (TypeError, ValueError):
        unequal = (a.astype(str) != b.astype(str)).to_numpy(dtype=bool)
    if unequal.shape != both_missing.shape:  # an elementwise comparison numpy refused
        unequal = (a.astype(str) != b.astype(str)).to_numpy(dtype=bool)
    return unequal & ~both_missing


def table_changes(store: Store, base: Artifact, other: Artifact) -> dict[str, Any] | None:
    """:func:`table_diff` of two logged tables (``None`` unless both are tables holding
    different bytes); ``{"skipped": why}`` for a table too big to read whole."""
    if not (is_table(base) and is_table(other)):
        return None
    old, new = base.file(), other.file()
    if old.digest == new.digest:
        return None
    if max(old.size, new.size) > MAX_TABLE_BYTES:
        sizes = " and ".join(human_size(s) for s in (old.size, new.size))
        return {"skipped": f"too big to compare ({sizes}; at most {human_size(MAX_TABLE_BYTES)})"}
    pairing = _pairing_key(base, other)
    key = (old.digest, new.digest, tuple(pairing or ()))
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    from ..models.tables import read_table

    try:
        diff = table_diff(
            read_table(read_bytes(store, base, old.path)),
            read_table(read_bytes(store, other, new.path)),
            pairing,
        )
    except Exception as exc:  # a file that no longer reads: the row says so, the rest shows
        return {"skipped": f"could not be read: {exc}"}
    with _lock:
        _cache[key] = diff
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return diff


def _pairing_key(base: Artifact, other: Artifact) -> list[str] | None:
    """The key this run's table was logged with (``log_table(..., key=)``), else the
    baseline's: the newer code says how its rows are named."""
    for key in (other.meta.get("key"), base.meta.get("key")):
        if isinstance(key, list) and key and all(isinstance(c, str) for c in key):
            return key
    return None
