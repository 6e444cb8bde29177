"""What a snapshot is made from: one ``_Source`` per kind of object.

A source turns a fingerprinted object (a pandas DataFrame or Series, a numpy array, a
pyarrow Table) into what :mod:`.storage` writes: its block digests by field key, the layout
that :mod:`.restore` rebuilds it from, each block's encoded bytes and moments, and a check
that a block still holds the data that was fingerprinted. Kept apart from the write path,
which only drives sources through this interface.
"""

from __future__ import annotations

import abc
import base64
import contextlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .blocks import encode_raw, raw_numpy_dtype
from .diff import column_name
from .errors import SnapshotError
from .fingerprint import (
    Fingerprint,
    ndarray_tag,
    numpy_block_digest,
    numpy_column_tag,
)
from .stats import arrow_block_moments, block_moments


class _Source(abc.ABC):
    """What a snapshot stores: its blocks (by field key) and how to encode one."""

    kind: str
    fingerprint: Fingerprint | None

    @abc.abstractmethod
    def layout(self) -> dict[str, Any]:
        """How to rebuild the object from its blocks (stored with the snapshot)."""

    @abc.abstractmethod
    def blocks(self) -> dict[str, tuple[str, ...]]:
        """``key -> block digests`` of every stored field."""

    @abc.abstractmethod
    def encode(self, key: str, k: int, level: int | None) -> _Encoded:
        """Block ``k`` of ``key``: the buffers to store, in order, the size of its values in
        memory and, for a plain numeric column, its partial moments."""

    @abc.abstractmethod
    def raw_size(self) -> int:
        """Bytes the object takes in memory."""

    def stat_keys(self) -> dict[str, int]:
        """Fields whose block moments make up a column's exact figures: ``key -> column``."""
        return {}

    def verify(self, key: str, k: int, digest: str) -> bool:
        """Is block ``k`` of ``key`` still the data that was fingerprinted?"""
        return True

    def stats(self, moments: Mapping[int, Any]) -> dict[str, Any] | None:
        return None


class _Encoded(NamedTuple):
    parts: list[Any]
    raw: int
    moments: dict[str, Any] | None

    @property
    def size(self) -> int:
        return sum(memoryview(p).nbytes for p in self.parts)


def _hex(digest: str) -> str:
    return digest.partition(":")[2] or digest


def _prefixed(hexdigest: str) -> str:
    return f"xxh3-128:{hexdigest}"


class _FrameSource(_Source):
    """A DataFrame, a Series (stored as a one-column frame) or a 1-D object ndarray."""

    def __init__(self, obj: Any, fp: Fingerprint, wrap: str) -> None:
        import pandas as pd

        from .blocks import FramePlan

        self.kind = fp.kind
        self.fingerprint = fp
        self.wrap = wrap
        self.obj = obj
        if wrap == "dataframe":
            frame = obj
        elif wrap == "series":
            frame = obj.to_frame()
        else:  # a 1-D object ndarray
            frame = pd.DataFrame({"values": pd.Series(obj, dtype=object, copy=False)})
        self.rows_per_block = fp.block_rows
        self.plan = FramePlan(frame, fp.block_rows)
        self.frame = self.plan._frame
        digests: dict[str, tuple[str, ...]] = {}
        for key in self.plan.keys:
            kind, _, pos = key.partition(":")
            source = fp.columns if kind == "col" else fp.index
            digests[key] = tuple(_prefixed(d) for d in source[int(pos)])
        self._blocks = digests
        self._tags: dict[str, tuple[str, Any]] = {}
        # Under copy-on-write (always, from pandas 3) the plan's shallow copy keeps the data
        # as it was fingerprinted: nothing to re-check. Older pandas can edit it in place.
        protected = _copy_on_write()
        for key in [] if protected else self.plan.keys:
            original = self.plan._originals[key]
            tag = numpy_column_tag(original.dtype)
            if tag is not None:
                self._tags[key] = (tag, np.asarray(original))

    def layout(self) -> dict[str, Any]:
        from .fingerprint import _label

        out: dict[str, Any] = {
            "format": "mltrack-frame/1",
            "wrap": self.wrap,
            "frame": self.plan.schema,
            "blocks": {k: list(v) for k, v in self._blocks.items()},
        }
        if self.wrap == "series":
            out["series_name"] = _label(self.obj.name)
        return out

    def blocks(self) -> dict[str, tuple[str, ...]]:
        return self._blocks

    def encode(self, key: str, k: int, level: int | None) -> _Encoded:
        column = key.startswith("col:")
        if self.plan.raw(key):
            block = self.plan.numpy_block(key, k)
            moments = block_moments(block) if column else None
            return _Encoded(encode_raw(block, level=level), block.nbytes, moments)
        array = self.plan.array(key, k)
        moments = arrow_block_moments(array, self.plan.kind(key)) if column else None
        return _Encoded([self.plan.encode_array(key, k, array, level)], array.nbytes, moments)

    def stat_keys(self) -> dict[str, int]:
        return {key: int(key.partition(":")[2]) for key in self.plan.keys if key.startswith("col:")}

    def verify(self, key: str, k: int, digest: str) -> bool:
        found = self._tags.get(key)
        if found is None:  # converted to Arrow when planned: a private copy
            return True
        tag, values = found
        b = self.rows_per_block
        return _prefixed(numpy_block_digest(values[k * b : (k + 1) * b], tag)) == digest

    def raw_size(self) -> int:
        return int(self.frame.memory_usage(index=True, deep=False).sum())

    def stats(self, moments: Mapping[int, Any]) -> dict[str, Any]:
        from .stats import frame_stats

        names = [column_name(c.get("name")) for c in self.fingerprint.schema.get("columns", [])]
        if self.wrap == "dataframe":
            return frame_stats(self.frame, moments, names)
        return frame_stats(self.frame.iloc[:, 0], moments, names)


class _ArraySource(_Source):
    """A numeric/fixed-width numpy array of any shape: raw little-endian rows per block."""

    def __init__(self, a: np.ndarray, fp: Fingerprint) -> None:
        self.kind = "ndarray"
        self.fingerprint = fp
        self.array = a.reshape(1) if a.ndim == 0 else a
        self.ndim = a.ndim
        self.tag = ndarray_tag(self.array)
        self._blocks = {"values": tuple(_prefixed(d) for d in fp.columns[0])}

    def layout(self) -> dict[str, Any]:
        dtype = self.array.dtype
        return {
            "format": "mltrack-ndarray/1",
            "dtype": dtype.newbyteorder("<").str if dtype.byteorder in "=>" else dtype.str,
            "shape": list(self.array.shape) if self.ndim else [],
            "block_rows": self.fingerprint.block_rows,
            "blocks": {k: list(v) for k, v in self._blocks.items()},
        }

    def blocks(self) -> dict[str, tuple[str, ...]]:
        return self._blocks

    def encode(self, key: str, k: int, level: int | None) -> _Encoded:
        b = self.fingerprint.block_rows
        block = self.array[k * b : (k + 1) * b]
        moments = block_moments(block) if block.ndim == 1 and raw_numpy_dtype(block.dtype) else None
        return _Encoded(encode_raw(block, level=level), block.nbytes, moments)

    def stat_keys(self) -> dict[str, int]:
        return {"values": 0} if self.array.ndim == 1 and raw_numpy_dtype(self.array.dtype) else {}

    def verify(self, key: str, k: int, digest: str) -> bool:
        b = self.fingerprint.block_rows
        block = self.array[k * b : (k + 1) * b]
        return _prefixed(numpy_block_digest(block, self.tag)) == digest

    def raw_size(self) -> int:
        return int(self.array.nbytes)

    def stats(self, moments: Mapping[int, Any]) -> dict[str, Any] | None:
        from .stats import frame_stats

        return frame_stats(self.array, moments) if self.array.ndim == 1 else None


class _TableSource(_Source):
    """A pyarrow Table: each column's blocks as Arrow IPC."""

    def __init__(self, table: Any, fp: Fingerprint) -> None:
        self.kind = "table"
        self.fingerprint = fp
        self.table = table
        self._blocks = {
            f"col:{i}": tuple(_prefixed(d) for d in c) for i, c in enumerate(fp.columns)
        }

    def layout(self) -> dict[str, Any]:
        return {
            "format": "mltrack-table/1",
            "rows": self.table.num_rows,
            "block_rows": self.fingerprint.block_rows,
            "arrow_schema": base64.b64encode(self.table.schema.serialize().to_pybytes()).decode(),
            "blocks": {k: list(v) for k, v in self._blocks.items()},
        }

    def blocks(self) -> dict[str, tuple[str, ...]]:
        return self._blocks

    def encode(self, key: str, k: int, level: int | None) -> _Encoded:
        from .blocks import encode_block

        column = self.table.column(int(key.partition(":")[2]))
        b = self.fingerprint.block_rows
        part = column.slice(k * b, b).combine_chunks()
        return _Encoded([encode_block(part, level=level)], part.nbytes, None)

    def raw_size(self) -> int:
        return int(self.table.nbytes)

    def stats(self, moments: Mapping[int, Any]) -> dict[str, Any]:
        from .stats import frame_stats

        return frame_stats(self.table)


def _source_for(obj: Any, fp: Fingerprint) -> _Source:
    if fp.kind == "dataframe":
        return _FrameSource(obj, fp, "dataframe")
    if fp.kind == "series":
        return _FrameSource(obj, fp, "series")
    if fp.kind == "table":
        import pyarrow as pa

        table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
        return _TableSource(table, fp)
    if obj.dtype.kind == "O":
        return _FrameSource(obj, fp, "ndarray")
    if obj.dtype.kind not in "biufcmMSUV":
        raise SnapshotError(f"cannot store a numpy array of dtype {obj.dtype}")
    return _ArraySource(obj, fp)


def _copy_on_write() -> bool:
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    with contextlib.suppress(Exception):
        return bool(pd.options.mode.copy_on_write is True)
    return False
