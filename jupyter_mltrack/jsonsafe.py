"""Turn arbitrary Python values into JSON the store can keep, without ever raising.

Users log whatever they have at hand: numpy scalars, NaN, datetimes, paths, 10 MB strings,
model objects. Each becomes plain JSON when it is plain data, or a small marker object
(``{"$type": ...}``) that says what it was, so a value is never silently changed into a
different-looking one and never breaks the user's cell.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
import math
import numbers
import pathlib
import uuid
from typing import Any

#: Longest string kept whole; longer ones are cut and marked.
MAX_STRING = 10_000
#: Most items kept from a list, tuple, set or dict; the rest are counted in the marker.
MAX_ITEMS = 1_000
#: Deepest nesting followed.
MAX_DEPTH = 8


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {
        "$type": "float",
        "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"),
    }


def _truncated_str(value: str, limit: int) -> Any:
    if len(value) <= limit:
        return value
    return {"$type": "truncated", "value": value[:limit], "length": len(value)}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the cell
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return text if len(text) <= 200 else text[:200] + "…"


def to_json(value: Any, *, max_string: int = MAX_STRING, _depth: int = 0) -> Any:
    """Return a JSON-serialisable version of ``value`` (see the module docstring)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return value if abs(value) < 2**63 else {"$type": "int", "value": str(value)}
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _truncated_str(value, max_string)
    if _depth >= MAX_DEPTH:
        return {"$type": "repr", "class": _qualname(value), "repr": _safe_repr(value)}
    # numpy and other numeric towers, without importing numpy
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return to_json(item(), max_string=max_string, _depth=_depth + 1)
        except Exception:
            pass
    if isinstance(value, decimal.Decimal):
        return _float(float(value))
    if isinstance(value, numbers.Integral):
        return to_json(int(value), _depth=_depth + 1)
    if isinstance(value, numbers.Real):
        return _float(float(value))
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return {"$type": type(value).__name__, "value": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"$type": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, enum.Enum):
        return {"$type": "enum", "class": _qualname(value), "name": value.name}
    if isinstance(value, pathlib.PurePath | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return {"$type": "bytes", "length": len(value)}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["$truncated"] = len(value)
                break
            out[k if isinstance(k, str) else _safe_repr(k)] = to_json(
                v, max_string=max_string, _depth=_depth + 1
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value) if not isinstance(value, set | frozenset) else sorted(value, key=repr)
        items = [to_json(v, max_string=max_string, _depth=_depth + 1) for v in seq[:MAX_ITEMS]]
        if len(seq) > MAX_ITEMS:
            items.append({"$type": "truncated", "length": len(seq)})
        return items
    tolist = getattr(value, "tolist", None)
    size = getattr(value, "size", None)
    if callable(tolist) and isinstance(size, int) and size <= MAX_ITEMS:
        try:
            return to_json(tolist(), max_string=max_string, _depth=_depth + 1)
        except Exception:
            pass
    return {"$type": "repr", "class": _qualname(value), "repr": _safe_repr(value)}


def to_float(value: Any) -> float | None:
    """A metric value as a float (NaN and inf allowed), or ``None`` when it is not a number."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            inner = item()
        except Exception:
            return None
        return to_float(inner) if inner is not value else None
    return None


def _qualname(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
