"""The parameter and attribute rows of a comparison: one value per run, whether they
differ, and for numbers the change against the baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..store.entities import iso
from .environment import known
from .facts import RunFacts


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(a: Any, b: Any) -> bool:
    """Equal as the user means it: ``1 == 1.0`` but ``True != 1``, and NaN equals NaN."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    if a is None or b is None:
        return a is b
    return bool(a == b)


def differs(values: Sequence[Any]) -> bool:
    first = values[0] if values else None
    return any(not same_value(first, v) for v in values[1:])


def numeric_change(value: Any, base: Any) -> float | int | None:
    """``value - base`` when both are finite numbers, else ``None``."""
    if not (_is_number(value) and _is_number(base)):
        return None
    if not (math.isfinite(value) and math.isfinite(base)):
        return None
    return value - base


def param_rows(facts: Sequence[RunFacts]) -> list[dict[str, Any]]:
    keys = sorted({k for f in facts for k in f.params})
    rows = []
    for key in keys:
        values = [f.params.get(key) for f in facts]
        present = [key in f.params for f in facts]
        changes: list[Any] = [None]
        changes += [
            numeric_change(v, values[0]) if p and present[0] else None
            for v, p in zip(values[1:], present[1:], strict=True)
        ]
        rows.append(
            {
                "key": key,
                "values": values,
                "differs": differs(values) or len(set(present)) > 1,
                "changes": changes,
            }
        )
    return rows


#: Attribute rows, in the order shown.
ATTRIBUTES = (
    "status",
    "duration",
    "start_time",
    "notebook",
    "cell",
    "source",
    "parent_run",
    "git_commit",
    "git_dirty",
    "python",
    "platform",
)


def _attribute(f: RunFacts, key: str) -> Any:
    run = f.run
    return {
        "status": run.status.value,
        "duration": run.duration,
        "start_time": iso(run.start_time),
        "notebook": run.notebook_path,
        "cell": run.cell_id,
        "source": run.source,
        "parent_run": run.parent_run_id,
        "git_commit": f.git_commit,
        "git_dirty": f.git_dirty,
        "python": f.python,
        "platform": f.platform,
    }[key]


#: Attributes recorded with the environment when a run ends: unknown (not "none") before.
RECORDED_AT_END = frozenset({"git_commit", "git_dirty", "python", "platform"})
#: Attributes that differ between any two runs by nature: shown, never flagged as differing
#: (else "differences only" would always show them and every diff would start with them).
ALWAYS_DIFFERENT = frozenset({"start_time"})


def attribute_rows(facts: Sequence[RunFacts]) -> list[dict[str, Any]]:
    """One row per attribute; ``unknown[i]``: run ``i`` has not recorded it (yet) — a
    still-running run's Python, platform and git state — which is not a difference."""
    recorded = [known(f) for f in facts]
    rows = []
    for key in ATTRIBUTES:
        values = [_attribute(f, key) for f in facts]
        unknown = [
            key in RECORDED_AT_END and not ok and v is None
            for v, ok in zip(values, recorded, strict=True)
        ]
        compared = [v for v, u in zip(values, unknown, strict=True) if not u]
        rows.append(
            {
                "key": key,
                "values": values,
                "differs": key not in ALWAYS_DIFFERENT and differs(compared),
                "unknown": unknown,
            }
        )
    return rows
