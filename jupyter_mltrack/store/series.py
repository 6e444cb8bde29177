"""Metric series stored in chunks: the points one flush wrote for one metric, as three
little-endian arrays (steps int64, values float64, timestamps float64).

Why chunks: a training loop logs tens of thousands of points a second; a row (and an index
entry) per point makes SQLite's insert the bottleneck. A chunk per flush is one row, and
reading a series back is a handful of rows. NaN and infinities are kept as such (no NULL
mapping is needed in a float64 array). Only the standard library is used: the store must
not need numpy.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from .entities import MetricPoint

_SWAP = sys.byteorder == "big"


class Chunk(NamedTuple):
    """One chunk, ready to insert (``run_id`` is added by the caller)."""

    key: str
    count: int
    first_step: int
    last_step: int
    steps: bytes
    values: bytes
    timestamps: bytes


def _pack(typecode: str, items: Iterable[Any]) -> bytes:
    arr = array(typecode, items)
    if _SWAP:
        arr.byteswap()
    return arr.tobytes()


def _unpack(typecode: str, data: bytes) -> array:
    arr = array(typecode)
    arr.frombytes(data)
    if _SWAP:
        arr.byteswap()
    return arr


def chunks(points: Sequence[MetricPoint]) -> list[Chunk]:
    """The points grouped by metric, each group one chunk, in the order they were logged."""
    by_key: dict[str, list[MetricPoint]] = {}
    for p in points:
        group = by_key.get(p.key)
        if group is None:
            group = by_key[p.key] = []
        group.append(p)
    out = []
    for key, group in by_key.items():
        _keys, values, steps, stamps = zip(*group, strict=True)
        out.append(
            Chunk(
                key=key,
                count=len(group),
                first_step=min(steps),
                last_step=max(steps),
                steps=_pack("q", steps),
                values=_pack("d", values),
                timestamps=_pack("d", stamps),
            )
        )
    return out


def points(key: str, steps: bytes, values: bytes, timestamps: bytes) -> list[MetricPoint]:
    """The points of one stored chunk."""
    s, v, t = _unpack("q", steps), _unpack("d", values), _unpack("d", timestamps)
    if not len(s) == len(v) == len(t):
        raise ValueError(f"corrupt metric chunk for {key!r}: arrays of different lengths")
    return [MetricPoint(key, value, step, ts) for step, value, ts in zip(s, v, t, strict=True)]


def series(chunk_rows: Iterable[Any]) -> dict[str, list[MetricPoint]]:
    """Series by metric from chunk rows read in the order they were written (``key``,
    ``steps``, ``values``, ``timestamps``): sorted by step, equal steps in logging order."""
    out: dict[str, list[MetricPoint]] = {}
    for row in chunk_rows:
        out.setdefault(row.key, []).extend(points(row.key, row.steps, row.values, row.timestamps))
    for pts in out.values():
        pts.sort(key=lambda p: p.step)  # stable: ties stay in the order they were logged
    return dict(sorted(out.items()))


def sibling_series(
    runs: Iterable[Sequence[Any]], chunk_rows: Iterable[Sequence[Any]]
) -> list[tuple[Any, float, dict[int, float]]]:
    """``(status, latest value, {step: value})`` for each of ``runs`` (rows ``id, status,
    latest value`` of one metric), its steps from ``chunk_rows`` (``run_id, key, steps,
    values, timestamps, id``, that metric's): what a sweep's pruner compares a trial with.
    A step logged twice keeps its last value; NaN values are left out."""
    by_run: dict[str, list[MetricPoint]] = {}
    for row in sorted(chunk_rows, key=lambda r: r[5]):  # in the order they were written
        by_run.setdefault(row[0], []).extend(points(row[1], row[2], row[3], row[4]))
    out = []
    for run_id, status, value in runs:
        steps = sorted(by_run.get(run_id, []), key=lambda p: p.step)  # stable
        values = {p.step: p.value for p in steps if p.value == p.value}
        out.append((status, math.nan if value is None else value, values))
    return out
