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
#: Longest bytes value kept whole (as hex); longer ones are only measured.
MAX_BYTES = 1_000
#: Deepest nesting followed.
MAX_DEPTH = 8


def _float(value: float) -> Any:
    value = float(value)  # a plain float, not a subclass such as numpy.float64
    if math.isfinite(value):
        return value
    return {
        "$type": "float",
        "value": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"),
    }


def utf8(value: str) -> str:
    """``value`` without lone surrogates (from bad decoding), which no database can store:
    each is replaced by U+FFFD, as ``errors="replace"`` would."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


_utf8 = utf8


def _truncated_str(value: str, limit: int) -> Any:
    if len(value) <= limit:
        return _utf8(value)
    return {"$type": "truncated", "value": _utf8(value[:limit]), "length": len(value)}


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the cell
        text = f"<unrepresentable {type(value).__name__}: {exc!r}>"
    return text if len(text) <= 200 else text[:200] + "…"


def to_json(value: Any, *, max_string: int = MAX_STRING, _depth: int = 0) -> Any:
    """Return a JSON-serialisable version of ``value`` (see the module docstring)."""
    try:
        return _to_json(value, max_string, _depth)
    except Exception:  # e.g. a __getattr__ that raises, or a number that cannot be a float
        return {"$type": "repr", "class": _qualname(value), "repr": _safe_repr(value)}


def _to_json(value: Any, max_string: int, _depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, enum.Enum):  # before int/str: an IntEnum is not just its number
        return {"$type": "enum", "class": _qualname(value), "name": value.name}
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"$type": "int", "value": str(value)}
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _truncated_str(value, max_string)
    if _depth >= MAX_DEPTH:
        return {"$type": "repr", "class": _qualname(value), "repr": _safe_repr(value)}
    if type(value).__name__ in ("datetime64", "timedelta64"):
        # numpy's .item() turns nanosecond datetimes into a bare int
        return {"$type": f"numpy.{type(value).__name__}", "value": str(value)}
    # numpy and other numeric towers, without importing numpy
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        try:
            return to_json(item(), max_string=max_string, _depth=_depth + 1)
        except Exception:
            pass
    if isinstance(value, decimal.Decimal):
        return _float(math.nan if value.is_nan() else float(value))
    if isinstance(value, numbers.Integral):
        return to_json(int(value), _depth=_depth + 1)
    if isinstance(value, numbers.Real):
        number = to_float(value)  # a huge int or Fraction is ±inf, not an error
        if number is not None:
            return _float(number)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return {"$type": type(value).__name__, "value": value.isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"$type": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, pathlib.PurePath | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):  # short ones kept whole, as hex
        if len(value) <= MAX_BYTES:
            return {"$type": "bytes", "length": len(value), "hex": bytes(value).hex()}
        return {"$type": "bytes", "length": len(value)}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["$truncated"] = len(value)
                break
            out[_utf8(k) if isinstance(k, str) else _safe_repr(k)] = to_json(
                v, max_string=max_string, _depth=_depth + 1
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = (
            list(value) if not isinstance(value, set | frozenset) else sorted(value, key=_safe_repr)
        )
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
    if isinstance(value, decimal.Decimal):
        return math.nan if value.is_nan() else float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:  # an int or Fraction beyond the float range
            return math.inf if value > 0 else -math.inf
        except (TypeError, ValueError):
            return None
    try:  # numpy scalars, 0-d arrays, tensors; a broken __getattr__ is just "not a number"
        item = getattr(value, "item", None)
        if not (callable(item) and getattr(value, "shape", None) == ()):
            return None
        inner = item()
    except Exception:
        return None
    return to_float(inner) if inner is not value else None


def _qualname(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"
