"""Metric series as numpy arrays: read many at once, downsample for drawing, smooth.

The store keeps a series as chunks of little-endian arrays (see ``store/series.py``), so a
comparison reads every chunk of every compared run in one query and decodes each with
``numpy.frombuffer`` (no per-point Python object). Charts never draw more than a couple of
thousand points a line: a browser gains nothing from more, while the JSON and the drawing
cost grow with each point. Downsampling keeps each bucket's minimum and maximum, so a loss
spike or a NaN-free dip in a 100,000-step series is still on the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

_STEPS = np.dtype("<i8")
_FLOATS = np.dtype("<f8")


class SeriesArrays(NamedTuple):
    """One metric's points, sorted by step (equal steps in the order they were logged).

    Arrays read from the store are read-only views of the stored bytes (no copy when a
    series is one chunk): copy one before changing it in place."""

    steps: np.ndarray  # int64
    values: np.ndarray  # float64; NaN and ±inf kept
    timestamps: np.ndarray  # float64, epoch seconds

    @property
    def size(self) -> int:
        return int(self.steps.shape[0])


def read_series(
    store: Any, run_ids: Sequence[str], keys: Sequence[str] | None = None
) -> dict[str, dict[str, SeriesArrays]]:
    """``{run_id: {key: arrays}}`` for the given runs (and metrics, when ``keys`` is given).

    One query over ``metric_chunks`` for all of them; runs without series are left out.
    Chunks are concatenated in the order they were written, then sorted by step with a
    stable sort (skipped when already in order, the common case), as ``Store`` does.
    """
    parts: dict[tuple[str, str], list[Any]] = {}
    for row in store.metric_chunks(run_ids, keys):
        parts.setdefault((row.run_id, row.key), []).append(row)
    out: dict[str, dict[str, SeriesArrays]] = {}
    for (run_id, key), rows in parts.items():
        out.setdefault(run_id, {})[key] = _decode(key, rows)
    return {run_id: dict(sorted(series.items())) for run_id, series in out.items()}


def _decode(key: str, rows: Sequence[Any]) -> SeriesArrays:
    if len(rows) == 1:
        row = rows[0]
        steps = np.frombuffer(row.steps, dtype=_STEPS)
        values = np.frombuffer(row.values, dtype=_FLOATS)
        stamps = np.frombuffer(row.timestamps, dtype=_FLOATS)
    else:
        steps = np.frombuffer(b"".join(r.steps for r in rows), dtype=_STEPS)
        values = np.frombuffer(b"".join(r.values for r in rows), dtype=_FLOATS)
        stamps = np.frombuffer(b"".join(r.timestamps for r in rows), dtype=_FLOATS)
    if not steps.shape == values.shape == stamps.shape:
        raise ValueError(f"corrupt metric chunk for {key!r}: arrays of different lengths")
    # native byte order (a no-op on little-endian machines) so later arithmetic is fast
    steps = steps.astype(np.int64, copy=False)
    values = values.astype(np.float64, copy=False)
    stamps = stamps.astype(np.float64, copy=False)
    if steps.size > 1 and bool((steps[1:] < steps[:-1]).any()):
        order = np.argsort(steps, kind="stable")
        steps, values, stamps = steps[order], values[order], stamps[order]
    return SeriesArrays(steps, values, stamps)


def downsample(s: SeriesArrays, max_points: int) -> SeriesArrays:
    """At most ``max_points`` points of ``s`` that still show its shape and its extremes.

    The points between the first and the last are cut into equal buckets by index; each
    bucket keeps its minimum and its maximum (one point when they coincide), in step order,
    and the first and last points are always kept. A single spike therefore survives any
    reduction. NaN is ignored when looking for extremes; a bucket of NaN only keeps one NaN,
    so a gap in the line stays a gap. Short series are returned unchanged.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, not {max_points}")
    n = s.size
    if n <= max_points:
        return s
    if max_points < 4:
        # no room for a bucket: the ends (the latest value matters most)
        index = np.array([n - 1] if max_points == 1 else [0, n - 1])
        return _take(s, index)
    buckets = (max_points - 2) // 2
    inner = n - 2
    size = -(-inner // buckets)  # ceil: every bucket but the last is full
    used = -(-inner // size)
    values = s.values[1 : n - 1]
    pad = used * size - inner
    nan = np.isnan(values)
    has_nan = bool(nan.any())
    low = np.where(nan, np.inf, values) if has_nan else values
    high = np.where(nan, -np.inf, values) if has_nan else values
    if pad:
        # padding never wins: real points come first in the bucket, and ties go to the first
        low = np.concatenate([low, np.full(pad, np.inf)])
        high = np.concatenate([high, np.full(pad, -np.inf)])
    starts = np.arange(1, used * size + 1, size)
    # a mask rather than np.unique: sorted (step order), without the duplicates of buckets
    # whose minimum is their maximum, in O(n) (unique sorts: ten times slower here)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[n - 1] = True
    keep[starts + low.reshape(used, size).argmin(axis=1)] = True
    keep[starts + high.reshape(used, size).argmax(axis=1)] = True
    return _take(s, np.flatnonzero(keep))


def _take(s: SeriesArrays, index: np.ndarray) -> SeriesArrays:
    return SeriesArrays(s.steps[index], s.values[index], s.timestamps[index])


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average as TensorBoard and W&B smooth curves (``weight`` 0..0.99).

    ``last = weight * last + (1 - weight) * value``, debiased by ``1 - weight ** n`` so the
    curve starts at the first value rather than at zero; NaN and ±inf points are shown as
    they are and do not enter the average. Computed without a Python loop per point: the
    recursion is ``weight ** t`` times a cumulative sum of ``value * weight ** -t``, done in
    blocks short enough for ``weight ** -t`` not to overflow; a small weight, whose memory is
    a few points, is a short convolution instead.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing must be between 0 and 0.99, not {weight}")
    values = np.asarray(values, dtype=np.float64)
    if weight == 0.0 or values.size == 0:
        return values.copy()
    finite = np.isfinite(values)
    x = values[finite] if not finite.all() else values
    out = values.copy()
    if x.size == 0:
        return out
    scale = float(np.abs(x).max()) or 1.0
    x = x / scale
    log_w = math.log(weight)
    # weight ** n is below 1e-17 (nothing in float64) from n = memory on
    memory = int(40.0 / -log_w) + 1
    if memory <= 24:
        # a short memory: the truncated impulse response, as one convolution
        kernel = (1.0 - weight) * np.exp(np.arange(memory, dtype=np.float64) * log_w)
        smoothed = np.convolve(x, kernel)[: x.size]
    else:
        smoothed = np.empty_like(x)
        # weight ** -block <= e**600: products and sums stay inside float64's range
        block = min(x.size, int(600.0 / -log_w))
        powers = np.exp(np.arange(1, block + 1, dtype=np.float64) * log_w)  # 8x faster than **
        last = 0.0
        for start in range(0, x.size, block):
            chunk = x[start : start + block]
            p = powers[: chunk.size]
            smoothed[start : start + chunk.size] = p * (
                last + (1.0 - weight) * np.cumsum(chunk / p)
            )
            last = float(smoothed[start + chunk.size - 1])
    # debiasing: divide by 1 - weight ** n, which is 1.0 in float64 from n = memory on
    head = min(x.size, memory)
    smoothed[:head] /= -np.expm1(np.arange(1, head + 1, dtype=np.float64) * log_w)
    smoothed *= scale
    if finite.all():
        return smoothed
    out[finite] = smoothed
    return out
