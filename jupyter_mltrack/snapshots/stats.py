"""Per-column statistics recorded when a snapshot is taken, and the drift between two.

Recorded once, at snapshot time, so comparing two runs' data never has to load either:

* exact over every row: count, nulls (and their share), min, max, mean, std;
* from an evenly spaced sample of at most ``SAMPLE_ROWS`` rows: quantiles (every 5%), the
  most frequent values and a distinct-count estimate (exact when the sample is the column).

Drift between two columns is a number in ``[0, 1]``: the Jensen–Shannon distance between
their distributions (numbers: the mass of the second in the first's 5%-quantile bins;
anything else: shares of the top values plus "other"), raised to the change in null share
when that is larger. 0 means the recorded distributions agree, 1 that they do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

#: Rows sampled for quantiles, top values and the distinct estimate.
SAMPLE_ROWS = 20_000
#: Quantile levels recorded (0, 5, …, 100 %).
QUANTILES = tuple(round(q / 20, 2) for q in range(21))
TOP_VALUES = 10
_MAX_TEXT = 200


def _sample_positions(n: int, size: int = SAMPLE_ROWS) -> np.ndarray | None:
    """Evenly spaced row positions (deterministic: the same data gives the same stats)."""
    if n <= size:
        return None
    return np.linspace(0, n - 1, size).round().astype(np.int64)


def _jsonable(value: Any) -> Any:
    """A value for the stats JSON: numbers stay numbers, the rest becomes short text."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _distinct_estimate(counts: Any, total: int) -> int:
    """Distinct values of a column from the value counts of a sample of it (GEE estimator:
    exact when the sample is the whole column, sensible for low and high cardinality)."""
    n = int(counts.sum())
    if n == 0:
        return 0
    if n >= total:
        return len(counts)
    singletons = int((counts == 1).sum())
    return int(round(math.sqrt(total / n) * singletons + (len(counts) - singletons)))


def _arrow(series: Any) -> Any:
    """The column as Arrow (zero-copy for numpy numbers; NaN counts as null, as in pandas)."""
    import pyarrow as pa

    try:
        return pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None


def block_moments(block: np.ndarray) -> dict[str, Any] | None:
    """Partial moments of one block of a plain numpy column, taken while it is being stored
    (it is in cache then): merged with :func:`merge_moments` they give the column's exact
    count, min, max, mean and std without another pass over the data.

    Written for speed (it runs on every stored block): NaNs are looked for only when the
    sum says there are some, integer sums stay integer when they cannot overflow, and the
    squared deviations are summed by ``einsum`` (numpy's own loop: no BLAS call, whose
    threads would fight the encoder threads).
    """
    kind = block.dtype.kind
    times = kind in "mM"
    values = block.view(np.int64) if times else block
    if kind == "b":
        values = values.view(np.uint8)
    nulls = 0
    if kind == "f":
        total = values.sum(dtype=np.float64)
        if math.isnan(total):
            mask = np.isnan(values)
            nulls = int(mask.sum())
            values = values[~mask]
            total = values.sum(dtype=np.float64)
    elif times:
        missing = values == _NAT
        if missing.any():
            nulls = int(missing.sum())
            values = values[~missing]
    n = len(values)
    out: dict[str, Any] = {"n": n, "nulls": nulls, "min": None, "max": None}
    out["mean"] = out["m2"] = None
    if not n:
        return out
    lo, hi = values.min(), values.max()
    out["min"], out["max"] = _plain(lo), _plain(hi)
    if times:
        return out
    if kind != "f":
        big = max(abs(int(lo)), abs(int(hi)))
        total = float(values.sum()) if big < 2**46 else float(values.sum(dtype=np.float64))
    mean = float(total) / n
    d = np.subtract(values, mean, dtype=np.float64)
    m2 = float(np.einsum("i,i->", d, d))
    if not (math.isfinite(mean) and math.isfinite(m2)):
        return None  # infinities: the column's figures are computed directly
    out["mean"], out["m2"] = mean, m2
    return out


def arrow_block_moments(array: Any, kind: str) -> dict[str, Any] | None:
    """:func:`block_moments` of a block held as Arrow (extension dtypes, tz-aware times,
    strings, categoricals): the null count for any kind, and for numbers and times the
    min and max (times as integers in the column's unit), for numbers the mean and M2."""
    import pyarrow as pa
    import pyarrow.compute as pc

    nulls = array.null_count
    n = len(array) - nulls
    out: dict[str, Any] = {"n": n, "nulls": nulls, "min": None, "max": None}
    out["mean"] = out["m2"] = None
    if not n or kind == "other":
        return out
    values = array
    if kind in ("datetime", "timedelta"):
        values = array.cast(pa.int64())
    elif not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return out
    bounds = pc.min_max(values)
    out["min"], out["max"] = _plain(bounds["min"].as_py()), _plain(bounds["max"].as_py())
    if kind == "number":
        mean = pc.mean(values).as_py()
        variance = pc.variance(values, ddof=0).as_py()
        if (
            mean is None
            or variance is None
            or not (math.isfinite(mean) and math.isfinite(variance))
        ):
            return None  # infinities: the column's figures are computed directly
        out["mean"], out["m2"] = float(mean), float(variance) * n
    return out


def _plain(value: Any) -> Any:
    if value is None:
        return None
    value = value.item() if hasattr(value, "item") else value
    return value if not isinstance(value, float) or math.isfinite(value) else None


def merge_moments(parts: list[dict[str, Any]]) -> tuple[int, Any, Any, float, float]:
    """``(count, min, max, mean, M2)`` of blocks from their partial moments (Chan et al.'s
    pairwise update, so the mean and variance stay exact and stable)."""
    count, lo, hi, mean, m2 = 0, None, None, 0.0, 0.0
    for part in parts:
        n = int(part["n"])
        if n == 0:
            continue
        if part["min"] is not None:
            lo = part["min"] if lo is None or part["min"] < lo else lo
        if part["max"] is not None:
            hi = part["max"] if hi is None or part["max"] > hi else hi
        if part.get("mean") is not None:
            total = count + n
            delta = part["mean"] - mean
            mean += delta * n / total
            m2 += part["m2"] + delta * delta * count * n / total
        count += n
    return count, lo, hi, mean, m2


def column_stats(
    values: Any, moments: tuple[int, Any, Any, float, float] | None = None
) -> dict[str, Any]:
    """Statistics of one column (a pandas Series/Index, or a 1-D numpy array).

    ``moments`` (merged block moments) spare the pass over a plain numpy column; other
    columns get their exact figures from Arrow kernels; the rest comes from the sample.
    """
    import pandas as pd
    import pyarrow.compute as pc

    series = values if isinstance(values, pd.Series) else pd.Series(values, copy=False)
    n = len(series)
    kind = _kind(series)
    if moments is None:
        raw = _plain_numbers(series, kind)
        moments = _moments(raw, times=kind != "number") if raw is not None else None
    arr = None if moments is not None else _arrow(series)
    if moments is not None:
        nulls = n - moments[0]
        if kind not in ("number", "datetime", "timedelta"):
            moments = None  # a count of non-null values, nothing numeric
    elif arr is not None:
        nulls = arr.null_count
    else:
        nulls = int(series.isna().sum())
    out: dict[str, Any] = {
        "dtype": str(series.dtype),
        "count": n,
        "nulls": nulls,
        "null_share": nulls / n if n else 0.0,
    }
    positions = _sample_positions(n)
    sample = series if positions is None else series.iloc[positions]
    sample = sample[~sample.isna().to_numpy()]
    out["sampled"] = len(sample) if positions is not None else None

    numeric: dict[str, Any] | None = None
    if kind in ("number", "datetime", "timedelta") and n - nulls > 0:
        numeric = {"kind": kind, "min": None, "max": None, "mean": None, "std": None}
        if moments is not None:
            count, lo, hi, mean, m2 = moments
            numeric["min"], numeric["max"] = _unit(lo, kind, series), _unit(hi, kind, series)
            if kind == "number":
                numeric["mean"] = _jsonable(mean)
                numeric["std"] = _jsonable(math.sqrt(m2 / (count - 1))) if count > 1 else None
        elif arr is not None:
            lo_hi = pc.min_max(arr)
            numeric["min"], numeric["max"] = _scalar(lo_hi["min"]), _scalar(lo_hi["max"])
            if kind == "number":
                numeric["mean"] = _jsonable(pc.mean(arr).as_py())
                if n - nulls > 1:
                    numeric["std"] = _jsonable(pc.stddev(arr, ddof=1).as_py())
        numeric["quantiles"] = []
        sample_numbers = _as_float(sample, kind)
        if len(sample_numbers):
            numeric["quantiles"] = [float(q) for q in np.quantile(sample_numbers, QUANTILES)]
        out["numeric"] = numeric
    try:  # one count of the sample serves the distinct estimate and the top values
        counts = sample.value_counts(dropna=True, sort=True)
        counts = counts[counts > 0]  # a categorical lists its unused categories too
    except TypeError:  # unhashable values (lists in an object column)
        counts = None
    out["distinct_estimate"] = None if counts is None else _distinct_estimate(counts, n - nulls)
    if counts is not None and (kind != "number" or len(counts) <= 20):
        total = max(len(sample), 1)
        out["top"] = [
            {"value": _jsonable(value), "count": int(count), "share": int(count) / total}
            for value, count in counts.head(TOP_VALUES).items()
        ]
    return out


def _plain_numbers(series: Any, kind: str) -> np.ndarray | None:
    """The numpy values of a numpy-backed number/datetime column (as int64 for times), or
    ``None`` for extension arrays (those go through Arrow)."""
    if kind not in ("number", "datetime", "timedelta"):
        return None
    if kind == "number":
        values = series.array
        if not isinstance(series.dtype, np.dtype):
            return None
        return np.asarray(values)
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        return np.asarray(series.array).view(np.int64)
    return np.asarray(series.array.asi8) if hasattr(series.array, "asi8") else None


_NAT = np.iinfo(np.int64).min


def _moments(
    values: np.ndarray, times: bool = False, chunk: int = 1 << 16
) -> tuple[int, Any, Any, float, float]:
    """``(count, min, max, mean, M2)`` of the non-missing values, in two chunked passes:
    exact and numerically stable (no E[x²]−E[x]² cancellation) without copying the column.
    NaN is missing for floats; for ``times`` (int64 nanoseconds, …) NaT is, and only the
    count, min and max are computed."""
    floats = values.dtype.kind == "f"
    count, total = 0, 0.0
    lo: Any = None
    hi: Any = None
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        if floats:
            part = part[~np.isnan(part)]
        elif times:
            part = part[part != _NAT]
        if not len(part):
            continue
        count += len(part)
        total += float(part.sum(dtype=np.float64))
        pmin, pmax = part.min(), part.max()
        lo = pmin if lo is None or pmin < lo else lo
        hi = pmax if hi is None or pmax > hi else hi
    if count == 0 or times:
        return count, lo, hi, math.nan, math.nan
    mean = total / count
    m2 = 0.0
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        if floats:
            part = part[~np.isnan(part)]
        d = part.astype(np.float64, copy=False) - mean
        m2 += float(np.dot(d, d))
    return count, lo, hi, mean, m2


def _unit(value: Any, kind: str, series: Any) -> Any:
    """A min/max back in the column's terms (timestamps as ISO text)."""
    import pandas as pd

    if value is None:
        return None
    if kind == "number":
        return _jsonable(value.item() if hasattr(value, "item") else value)
    unit = np.datetime_data(series.dtype.base if hasattr(series.dtype, "base") else series.dtype)
    if kind == "timedelta":
        return str(pd.Timedelta(int(value), unit=unit[0]))
    tz = getattr(series.dtype, "tz", None)
    stamp = pd.Timestamp(int(value), unit=getattr(series.dtype, "unit", unit[0]))
    return (stamp.tz_localize("UTC").tz_convert(tz) if tz else stamp).isoformat()


def _scalar(value: Any) -> Any:
    """An Arrow scalar (number, timestamp, duration) as JSON."""
    py = value.as_py()
    if hasattr(py, "isoformat"):
        return py.isoformat()
    if not isinstance(py, int | float | bool) and py is not None:
        return str(py)
    return _jsonable(py)


def _kind(series: Any) -> str:
    return dtype_kind(series.dtype)


def dtype_kind(dtype: Any) -> str:
    """What statistics a column of this dtype gets: ``number``, ``datetime``,
    ``timedelta``, ``bool``, ``category`` or ``other``."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "number"
    return "other"


def _as_float(series: Any, kind: str) -> np.ndarray:
    """Numbers (datetimes and durations as nanoseconds) for quantiles; no nulls given."""
    if kind == "datetime":
        values = series.dt.tz_convert("UTC") if getattr(series.dtype, "tz", None) else series
        return values.to_numpy(dtype="datetime64[ns]").astype("int64").astype(np.float64)
    if kind == "timedelta":
        return series.to_numpy(dtype="timedelta64[ns]").astype("int64").astype(np.float64)
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))


def frame_stats(
    obj: Any,
    moments: Mapping[int, tuple[int, Any, Any, float, float]] | None = None,
    names: list[str] | None = None,
) -> dict[str, Any]:
    """Statistics of every column of a DataFrame / Series / 1-D array / Arrow table;
    ``moments`` gives merged block moments by column position where they are known, and
    ``names`` the columns' names when ``obj``'s own are not the user's."""
    import pandas as pd

    moments = moments or {}
    if isinstance(obj, pd.DataFrame):
        columns = [(str(name), obj.iloc[:, i]) for i, name in enumerate(obj.columns)]
    elif isinstance(obj, pd.Series):
        columns = [(str(obj.name), obj)]
    elif isinstance(obj, np.ndarray):
        if obj.ndim != 1:
            return {"columns": []}
        columns = [("values", pd.Series(obj, copy=False))]
    else:  # pyarrow Table
        columns = [(name, obj.column(name).to_pandas()) for name in obj.column_names]
    if names is not None and len(names) == len(columns):
        columns = [(name, values) for name, (_old, values) in zip(names, columns, strict=True)]
    with np.errstate(all="ignore"):  # infinities and NaNs are described, not warned about
        stats = [
            {"name": name, **column_stats(values, moments.get(i))}
            for i, (name, values) in enumerate(columns)
        ]
    return finite({"columns": stats})


def finite(value: Any) -> Any:
    """``value`` as strict JSON: infinities become "inf"/"-inf" and NaN becomes null."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


# --------------------------------------------------------------------------- drift


def _js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2): 0 for equal distributions, 1 for disjoint ones."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(math.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def _cdf(quantiles: list[float], x: np.ndarray) -> np.ndarray:
    """A column's CDF at ``x``, interpolated from its recorded quantiles."""
    qs = np.asarray(quantiles, dtype=np.float64)
    levels = np.asarray(QUANTILES[: len(qs)], dtype=np.float64)
    # Repeated quantile values (a constant stretch) would make interp ill-defined.
    qs, first = np.unique(qs, return_index=True)
    levels_lo = levels[first]
    last = np.r_[first[1:] - 1, len(levels) - 1]
    levels_hi = levels[last]
    below = np.interp(x, qs, levels_lo, left=0.0, right=1.0)
    at = np.interp(x, qs, levels_hi, left=0.0, right=1.0)
    return np.where(np.isin(x, qs), at, below)


def drift(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> float | None:
    """How differently two recorded columns are distributed, in ``[0, 1]``."""
    if not a or not b:
        return None
    score = abs(float(a.get("null_share", 0.0)) - float(b.get("null_share", 0.0)))
    na, nb = a.get("numeric"), b.get("numeric")
    if na and nb and na.get("quantiles") and nb.get("quantiles"):
        edges = np.asarray(na["quantiles"], dtype=np.float64)
        inner = np.unique(edges)
        if len(inner) == 1:  # a constant column: compare "at that value" vs elsewhere
            x = inner[0]
            mass_b = (
                _cdf(nb["quantiles"], np.array([x]))[0]
                - _cdf(nb["quantiles"], np.array([np.nextafter(x, -np.inf)]))[0]
            )
            score = max(score, _js_distance(np.array([1.0, 0.0]), np.array([mass_b, 1 - mass_b])))
        else:
            cdf_a = np.r_[0.0, _cdf(na["quantiles"], inner[1:-1]), 1.0]
            cdf_b = np.r_[0.0, _cdf(nb["quantiles"], inner[1:-1]), 1.0]
            # mass outside A's range falls into A's first/last bin
            score = max(score, _js_distance(np.diff(cdf_a), np.clip(np.diff(cdf_b), 0, None)))
        return round(min(score, 1.0), 6)
    ta, tb = a.get("top"), b.get("top")
    if ta is not None and tb is not None:
        keys = list(dict.fromkeys([json_key(t["value"]) for t in ta + tb]))
        pa_ = {json_key(t["value"]): t["share"] for t in ta}
        pb_ = {json_key(t["value"]): t["share"] for t in tb}
        p = np.array([pa_.get(k, 0.0) for k in keys] + [max(0.0, 1 - sum(pa_.values()))])
        q = np.array([pb_.get(k, 0.0) for k in keys] + [max(0.0, 1 - sum(pb_.values()))])
        score = max(score, _js_distance(p, q))
    return round(min(score, 1.0), 6)


def json_key(value: Any) -> str:
    """A hashable key for a top value (1 and "1" stay apart)."""
    return f"{type(value).__name__}:{value}"
