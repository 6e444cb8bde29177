"""Column blocks: how a DataFrame is cut, encoded and rebuilt exactly.

A frame is stored as one small schema (JSON) plus, for every column and every
materialised index level, a list of *blocks*: the rows ``[k*B, (k+1)*B)`` of that column
encoded as a zstd-compressed Arrow IPC stream. Blocks are content-addressed by the
caller, so the encoding has to be a pure function of the block's values:

* block boundaries are fixed row ranges, so appending rows leaves every earlier full
  block byte-identical (only the last partial block and the new ones change);
* the block never contains the column's name (renaming a column re-uses its blocks);
* categoricals store only their codes in blocks; the categories live in the schema, so a
  block does not change when an unrelated row adds a category.

Conversion itself is pyarrow's (``Table.from_pandas`` / ``Table.to_pandas`` and pandas'
own Arrow metadata, which already restores widths, tz, units, categories, nullable and
string dtypes, RangeIndex and MultiIndex). This module only adds what that round trip
loses:

* ``object`` columns come back as ``object`` (pandas 3 would infer ``str``), and the
  kind of each missing value is kept: ``None``, ``float('nan')``, ``pd.NA``, ``pd.NaT``,
  ``np.datetime64('NaT')`` and ``np.timedelta64('NaT')`` (Arrow has a single null);
* column labels and index names of type ``str``, ``int``, ``float``, ``bool``, ``None``
  and tuples of those (MultiIndex columns), and a ``RangeIndex`` of columns, come back
  with their types (pyarrow would turn them into strings).

Not supported (a clear ``TypeError`` / ``ValueError`` at encode time, so the caller can
fall back to storing the frame another way): duplicate column labels, labels of other
types (e.g. Timestamps), ``object`` columns whose values Arrow cannot hold in one type
(e.g. ``["a", 1]``), and ``object`` columns of lists/dicts (they would come back as
arrays). Extension dtypes pyarrow knows (Int*, Float*, boolean, string, period,
interval via their ``__arrow_array__``) round-trip as pyarrow does.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "FORMAT",
    "Block",
    "FramePlan",
    "blocks_to_frame",
    "decode_block",
    "decode_frame_schema",
    "encode_block",
    "encode_frame_schema",
    "frame_to_blocks",
    "split_blocks",
]

FORMAT = "mltrack-frame/1"
DEFAULT_BLOCK_ROWS = 1 << 16
# Level 1 is what Arrow uses by default for zstd: fast, and blocks are re-read often.
DEFAULT_ZSTD_LEVEL = 1

_VALUES = "v"
_NULL_KIND = "null_kind"

# How a missing value in an ``object`` column is spelled. 0 = not missing, 1 = None (what
# Arrow gives back anyway, so blocks of only Nones/values carry no extra column).
_NULL_KINDS: tuple[Any, ...] = (
    None,
    None,
    np.nan,
    pd.NA,
    pd.NaT,
    np.datetime64("NaT"),
    np.timedelta64("NaT"),
)


class Block(NamedTuple):
    """One decoded block: the Arrow values and, if needed, the kinds of their nulls."""

    values: pa.Array
    null_kinds: np.ndarray | None


# --------------------------------------------------------------------------- blocks


def encode_block(
    values: pa.Array | np.ndarray,
    null_kinds: np.ndarray | None = None,
    *,
    level: int | None = DEFAULT_ZSTD_LEVEL,
) -> bytes:
    """Encode one block as a zstd-compressed Arrow IPC stream (deterministic bytes).

    ``values`` is an Arrow array (a numpy array is converted with ``pa.array``; pass an
    Arrow array to control the type). ``null_kinds`` (int8, see module docstring) is only
    written when it says something Arrow's null cannot. ``level=None`` writes the buffers
    uncompressed (for data zstd cannot shrink: the IPC format says so per buffer, and the
    decoder reads both).
    """
    if not isinstance(values, pa.Array):
        values = pa.array(values)
    columns = [values]
    names = [_VALUES]
    if null_kinds is not None and bool(np.any(null_kinds > 1)):
        if len(null_kinds) != len(values):
            raise ValueError("null_kinds must have one entry per value")
        columns.append(pa.array(np.asarray(null_kinds, dtype=np.int8)))
        names.append(_NULL_KIND)
    batch = pa.record_batch(columns, names=names)
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(
        compression=None if level is None else pa.Codec("zstd", compression_level=level)
    )
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


# Plain numpy columns (numbers, bools, naive datetimes/durations) are stored as their raw
# little-endian bytes: no Arrow conversion, no validity bitmap to compute, and an
# uncompressed block is written straight from the column's memory. NaN payloads survive.
_RAW_MAGIC = b"MLTN"
_RAW_HEADER = struct.Struct("<4sBBHQ")  # magic, version, compressed, len(dtype), raw bytes


def raw_numpy_dtype(dtype: Any) -> bool:
    """Whether a column of this dtype is stored as raw numpy bytes."""
    return isinstance(dtype, np.dtype) and dtype.kind in "biufmM" and dtype.isnative


def encode_raw(values: np.ndarray, *, level: int | None = DEFAULT_ZSTD_LEVEL) -> list[Any]:
    """A raw numpy block as buffers to write one after the other (header, payload); the
    payload is the column's own memory when uncompressed (no copy)."""
    block = np.ascontiguousarray(values)
    if block.dtype.byteorder == ">" or (block.dtype.byteorder == "=" and not np.little_endian):
        block = block.astype(block.dtype.newbyteorder("<"))
    payload: Any = memoryview(block.view(np.uint8).reshape(-1))
    dtype = block.dtype.str.encode()
    if level is not None:
        payload = pa.compress(payload, codec="zstd", asbytes=False)
    header = _RAW_HEADER.pack(_RAW_MAGIC, 1, level is not None, len(dtype), block.nbytes)
    return [header + dtype, payload]


def is_raw(data: bytes | memoryview | pa.Buffer) -> bool:
    return bytes(memoryview(data)[:4]) == _RAW_MAGIC


def decode_raw(data: bytes | memoryview | pa.Buffer) -> np.ndarray:
    """The flat numpy array :func:`encode_raw` stored (read-only when not decompressed)."""
    view = memoryview(data)
    magic, _version, compressed, dtype_len, size = _RAW_HEADER.unpack_from(view, 0)
    if magic != _RAW_MAGIC:
        raise ValueError("not an mltrack raw block")
    start = _RAW_HEADER.size + dtype_len
    dtype = np.dtype(bytes(view[_RAW_HEADER.size : start]).decode())
    body = view[start:]
    if compressed:
        body = memoryview(pa.decompress(body, decompressed_size=size, codec="zstd"))
    if len(body) != size:
        raise ValueError("truncated raw block")
    return np.frombuffer(body, dtype=dtype)


def decode_raw_into(data: bytes | memoryview, out: np.ndarray) -> None:
    """Decode a raw block straight into ``out`` (a slice of the column being rebuilt), so
    restoring a column touches its final memory once."""
    view = memoryview(data)
    if not is_raw(view):
        # Blocks are shared by logical content: the same values may have been stored from
        # a column that went through Arrow (a big-endian one, say).
        values = decode_block(bytes(view)).values.to_numpy(zero_copy_only=False)
        if len(values) != len(out):
            raise ValueError(f"block of {len(values)} rows does not fill {len(out)}")
        out[:] = values.astype(out.dtype, copy=False)
        return
    magic, _version, compressed, dtype_len, size = _RAW_HEADER.unpack_from(view, 0)
    start = _RAW_HEADER.size + dtype_len
    body = view[start:]
    if compressed:
        body = memoryview(pa.decompress(body, decompressed_size=size, codec="zstd"))
    if len(body) != size or size != out.nbytes:
        raise ValueError(f"raw block of {size} bytes does not fill {out.nbytes}")
    out.view(np.uint8).reshape(-1)[:] = np.frombuffer(body, dtype=np.uint8)


def decode_block(data: bytes | memoryview | pa.Buffer) -> Block:
    """Decode what :func:`encode_block` or :func:`encode_raw` wrote."""
    if is_raw(data):
        return Block(pa.array(decode_raw(data)), None)
    with pa.ipc.open_stream(pa.py_buffer(data) if not isinstance(data, pa.Buffer) else data) as r:
        table = r.read_all()
    if table.num_columns not in (1, 2) or table.column_names[0] != _VALUES:
        raise ValueError("not an mltrack column block")
    values = table.column(0).combine_chunks()
    kinds = None
    if table.num_columns == 2:
        kinds = table.column(1).to_numpy().astype(np.int8, copy=False)
    return Block(values, kinds)


def as_block(data: bytes | memoryview | pa.Buffer | Block) -> Block:
    """A block, decoding it unless a reader thread already did."""
    return data if isinstance(data, Block) else decode_block(data)


def _storage_array(array: pa.Array) -> pa.Array:
    """What a block stores: dictionary arrays keep only their indices."""
    return array.indices if pa.types.is_dictionary(array.type) else array


def _slices(column: pa.ChunkedArray, block_rows: int) -> list[pa.Array]:
    if block_rows <= 0:
        raise ValueError("block_rows must be positive")
    n = len(column)
    return [
        _storage_array(column.slice(start, block_rows).combine_chunks())
        for start in range(0, n, block_rows)
    ]


def split_blocks(series: pd.Series, block_rows: int = DEFAULT_BLOCK_ROWS) -> list[pa.Array]:
    """The Arrow arrays stored for ``series``: rows ``[k*B, (k+1)*B)`` for each ``k``.

    Conversion is pyarrow's (as for whole frames); categoricals give their codes.
    """
    table = pa.Table.from_pandas(series.to_frame(name=_VALUES), preserve_index=False)
    return _slices(table.column(0), block_rows)


# --------------------------------------------------------------------------- labels


def _encode_label(label: Any) -> Any:
    """A column label / index name as JSON that keeps its Python type."""
    if label is None:
        return None
    if isinstance(label, (bool, np.bool_)):
        return {"bool": bool(label)}
    if isinstance(label, (int, np.integer)):
        return {"int": int(label)}
    if isinstance(label, (float, np.floating)):
        value = float(label)
        return {"float": value if math.isfinite(value) else repr(value)}
    if isinstance(label, str):
        return label
    if isinstance(label, tuple):
        return {"tuple": [_encode_label(x) for x in label]}
    raise TypeError(
        f"unsupported column label or index name {label!r} ({type(label).__name__}): "
        "only str, int, float, bool, None and tuples of those"
    )


def _decode_label(data: Any) -> Any:
    if data is None or isinstance(data, str):
        return data
    ((kind, value),) = data.items()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "tuple":
        return tuple(_decode_label(x) for x in value)
    raise ValueError(f"unknown label encoding {data!r}")


def _encode_columns_index(columns: pd.Index) -> dict[str, Any]:
    if isinstance(columns, pd.RangeIndex):
        return {
            "range": [columns.start, columns.stop, columns.step],
            "names": [_encode_label(columns.name)],
        }
    if columns.has_duplicates:
        raise ValueError("duplicate column labels are not supported in a snapshot")
    return {
        "labels": [_encode_label(x) for x in columns],
        "names": [_encode_label(x) for x in columns.names],
        "dtype": str(columns.dtype) if columns.nlevels == 1 else None,
        "level_dtypes": [str(level.dtype) for level in getattr(columns, "levels", [])],
    }


def _decode_columns_index(data: Mapping[str, Any]) -> pd.Index:
    names = [_decode_label(x) for x in data["names"]]
    if "range" in data:
        start, stop, step = data["range"]
        return pd.RangeIndex(start, stop, step, name=names[0])
    labels = [_decode_label(x) for x in data["labels"]]
    if len(names) > 1:
        if not labels:
            return pd.MultiIndex.from_arrays(
                [pd.Index([], dtype=d) for d in data["level_dtypes"]], names=names
            )
        index = pd.MultiIndex.from_tuples(labels, names=names)
        return index.set_levels(
            [lvl.astype(d) for lvl, d in zip(index.levels, data["level_dtypes"], strict=True)]
        )
    return pd.Index(labels, dtype=data["dtype"], name=names[0], tupleize_cols=False)


# --------------------------------------------------------------------------- frames


def _null_kinds(values: np.ndarray, array: pa.Array | None = None) -> np.ndarray | None:
    """Per-row null kinds of an object array, or ``None`` if every null is ``None``.

    ``array``, the same rows already converted to Arrow, says where the nulls are (only
    those values are then looked at: ``pd.isna`` over a whole object block is slow)."""
    if array is not None and len(array) == len(values):
        if array.null_count == 0:
            return None
        missing = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))
    else:
        missing = np.flatnonzero(pd.isna(values))
    if missing.size == 0:
        return None
    kinds = np.zeros(len(values), dtype=np.int8)
    special = False
    for pos in missing:
        value = values[pos]
        if value is None:
            kind = 1
        elif value is pd.NA:
            kind = 3
        elif value is pd.NaT:
            kind = 4
        elif isinstance(value, np.datetime64):
            kind = 5
        elif isinstance(value, np.timedelta64):
            kind = 6
        elif isinstance(value, (float, np.floating)):
            kind = 2
        else:  # pragma: no cover - pd.isna knows no other scalar missing values today
            raise TypeError(f"unsupported missing value {value!r} in an object column")
        kinds[pos] = kind
        special = special or kind > 1
    return kinds if special else None


class _Plan(NamedTuple):
    schema: dict[str, Any]
    arrow_schema: pa.Schema
    #: The pandas values behind each stored field (``col:<i>`` / ``index:<level>``).
    originals: dict[str, pd.Series | pd.Index]
    #: The shallow copy the plan reads: under pandas' copy-on-write, holding it makes
    #: later in-place edits of the user's frame copy instead of changing what we store.
    frame: pd.DataFrame


def _field_name(kind: str, position: int) -> str:
    return f"__mltrack_{kind}_{position}__"


def _plan(df: pd.DataFrame, block_rows: int) -> _Plan:
    """The storage schema of ``df``; no values are converted yet (blocks are converted one
    by one when encoded, so storing a few blocks of a big frame costs only those)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if block_rows <= 0:
        raise ValueError("block_rows must be positive")
    columns_meta = _encode_columns_index(df.columns)
    index_names = [_encode_label(x) for x in df.index.names]

    # Neutral field names: the labels are restored from our own JSON, and pyarrow then
    # never has to stringify (and warn about) a label.
    work = df.copy(deep=False)
    work.columns = [_field_name("col", i) for i in range(df.shape[1])]
    work.index = work.index.set_names([_field_name("index", i) for i in range(df.index.nlevels)])
    try:
        arrow_schema = _arrow_schema(work)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise TypeError(f"cannot store this frame as Arrow blocks: {exc}") from exc
    meta = arrow_schema.pandas_metadata
    index_fields = [x for x in meta["index_columns"] if isinstance(x, str)]

    fields: list[dict[str, Any]] = []
    originals: dict[str, pd.Series | pd.Index] = {}
    named: list[tuple[str, str, pd.Series | pd.Index]] = [
        (f"col:{i}", _field_name("col", i), work.iloc[:, i]) for i in range(df.shape[1])
    ]
    for name in index_fields:
        level = int(name.removeprefix("__mltrack_index_").removesuffix("__"))
        named.append((f"index:{level}", name, work.index.get_level_values(level)))
    for key, name, original in named:
        fields.append(_field_entry(key, name, original, arrow_schema.field(name).type))
        originals[key] = original

    index = df.index
    index_extra: dict[str, Any] = {}
    if isinstance(index, pd.RangeIndex):
        index_extra["range"] = [index.start, index.stop, index.step]
    elif isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) and index.freq is not None:
        index_extra["freq"] = index.freqstr
    schema = {
        "format": FORMAT,
        "nrows": len(df),
        "index": index_extra,
        "block_rows": block_rows,
        "columns": columns_meta,
        "index_names": index_names,
        "fields": fields,
        "arrow_schema": base64.b64encode(arrow_schema.serialize().to_pybytes()).decode(),
    }
    return _Plan(schema, arrow_schema, originals, work)


#: Arrow types and pandas metadata of object columns whose type is known from a cheap
#: ``infer_dtype`` scan (pyarrow would infer it value by value, a second full pass).
_TEXT_TYPES = {"string": (pa.string(), "unicode"), "bytes": (pa.binary(), "bytes")}


def _arrow_schema(work: pd.DataFrame) -> pa.Schema:
    """``pa.Schema.from_pandas(work)``, without converting object columns of strings (or
    bytes) to learn their type: they are swapped for an untouched stand-in while the
    schema is built, then given the type and pandas metadata pyarrow would have given."""
    text: dict[int, tuple[pa.DataType, str]] = {}
    for i in range(work.shape[1]):
        column = work.iloc[:, i]
        if column.dtype == object and len(column):
            found = _TEXT_TYPES.get(pd.api.types.infer_dtype(column, skipna=True))
            if found is not None:
                text[i] = found
    if not text:
        return pa.Schema.from_pandas(work, preserve_index=None)
    proxy = work.copy(deep=False)
    for i in text:
        proxy.isetitem(i, np.empty(len(work), dtype=np.int8))  # never read
    schema = pa.Schema.from_pandas(proxy, preserve_index=None)
    meta = json.loads(schema.metadata[b"pandas"])
    for i, (arrow_type, pandas_type) in text.items():
        name = work.columns[i]
        schema = schema.set(i, pa.field(name, arrow_type))
        for entry in meta["columns"]:
            if entry.get("field_name") == name:
                entry.update(pandas_type=pandas_type, numpy_type="object", metadata=None)
    return schema.with_metadata({**schema.metadata, b"pandas": json.dumps(meta).encode()})


def _field_entry(key: str, field: str, original: Any, arrow_type: pa.DataType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key": key,
        "field": field,
        "object": original.dtype == object,
        "dictionary": None,
        "string": None,
        # stored as raw numpy bytes of this dtype (see encode_raw)
        "raw": original.dtype.str if raw_numpy_dtype(original.dtype) else None,
    }
    if isinstance(original.dtype, pd.StringDtype):
        # pandas' Arrow metadata says "string" but not which storage / missing value.
        entry["string"] = {
            "storage": original.dtype.storage,
            "na_value": "nan" if original.dtype.na_value is np.nan else "NA",
        }
    if pa.types.is_dictionary(arrow_type):
        categories = original.cat.categories if hasattr(original, "cat") else original.categories
        dictionary = pa.array(categories, type=arrow_type.value_type, from_pandas=True)
        entry["dictionary"] = base64.b64encode(encode_block(dictionary)).decode()
    return entry


def encode_frame_schema(df: pd.DataFrame, block_rows: int = DEFAULT_BLOCK_ROWS) -> str:
    """The schema JSON of ``df`` (deterministic: sorted keys, no whitespace)."""
    return _dumps(_plan(df, block_rows).schema)


def decode_frame_schema(schema_json: str) -> dict[str, Any]:
    """Parse and check a schema JSON written by :func:`encode_frame_schema`."""
    schema = json.loads(schema_json)
    if schema.get("format") != FORMAT:
        raise ValueError(f"unsupported frame schema format {schema.get('format')!r}")
    return schema


def _dumps(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)


class FramePlan:
    """A frame ready to be stored block by block, in any order, from any thread.

    Made synchronously (the Arrow conversion is zero-copy for numpy-backed columns and
    pyarrow-backed strings); :meth:`encode` then produces one block's bytes on demand, so
    a caller stores only the blocks it is missing and never holds all of them at once.
    """

    def __init__(self, df: pd.DataFrame, block_rows: int = DEFAULT_BLOCK_ROWS) -> None:
        self.block_rows = block_rows
        plan = _plan(df, block_rows)
        self.schema = plan.schema
        self.schema_json = _dumps(plan.schema)
        self._arrow_schema = plan.arrow_schema
        self._originals = plan.originals
        self._frame = plan.frame
        self._fields = {entry["key"]: entry for entry in plan.schema["fields"]}
        self._numpy: dict[str, np.ndarray] = {}

    @property
    def keys(self) -> list[str]:
        """``col:<position>`` for columns, ``index:<level>`` for materialised index levels
        (a RangeIndex is stored in the schema only)."""
        return list(self._fields)

    def block_count(self) -> int:
        nrows = int(self.schema["nrows"])
        return -(-nrows // self.block_rows)

    def _values(self, key: str, k: int) -> Any:
        original = self._originals[key]
        return original[k * self.block_rows : (k + 1) * self.block_rows]

    def array(self, key: str, k: int) -> pa.Array:
        """The Arrow values stored for block ``k`` of field ``key`` (codes for categoricals):
        pyarrow's conversion of just those rows, to the column's type."""
        entry = self._fields[key]
        arrow_type = self._arrow_schema.field(entry["field"]).type
        values = self._values(key, k)
        try:
            part = pa.array(values, type=arrow_type, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise TypeError(f"cannot store {key} as Arrow: {exc}") from exc
        if isinstance(part, pa.ChunkedArray):
            part = part.combine_chunks()
        return _storage_array(part)

    def raw(self, key: str) -> bool:
        """Is this field stored as raw numpy bytes (see :func:`encode_raw`)?"""
        return raw_numpy_dtype(self._originals[key].dtype)

    def numpy_block(self, key: str, k: int) -> np.ndarray:
        """Block ``k`` of a raw field: a view of the column, no copy."""
        values = self._numpy.get(key)
        if values is None:
            values = self._numpy[key] = np.asarray(self._originals[key])
        return values[k * self.block_rows : (k + 1) * self.block_rows]

    def encode_parts(self, key: str, k: int, level: int | None = DEFAULT_ZSTD_LEVEL) -> list[Any]:
        """Block ``k`` of field ``key`` as buffers to write in order (see :meth:`encode`)."""
        if self.raw(key):
            return encode_raw(self.numpy_block(key, k), level=level)
        return [self.encode(key, k, level)]

    def encode(self, key: str, k: int, level: int | None = DEFAULT_ZSTD_LEVEL) -> bytes:
        """Block ``k`` of field ``key`` as :func:`encode_block` (or raw) bytes."""
        if self.raw(key):
            return b"".join(bytes(p) for p in self.encode_parts(key, k, level))
        return self.encode_array(key, k, self.array(key, k), level)

    def encode_array(
        self, key: str, k: int, array: pa.Array, level: int | None = DEFAULT_ZSTD_LEVEL
    ) -> bytes:
        """Block ``k`` of a non-raw field, already converted by :meth:`array`."""
        kinds = None
        if self._fields[key]["object"]:
            kinds = _null_kinds(np.asarray(self._values(key, k), dtype=object), array)
        return encode_block(array, kinds, level=level)

    def kind(self, key: str) -> str:
        """``number``, ``datetime``, ``timedelta`` or ``other``: which block statistics a
        field has (a categorical's stored codes are not its values)."""
        from .stats import dtype_kind

        kind = dtype_kind(self._originals[key].dtype)
        return kind if kind in ("number", "datetime", "timedelta") else "other"


def frame_to_blocks(
    df: pd.DataFrame, block_rows: int = DEFAULT_BLOCK_ROWS
) -> tuple[str, dict[str, list[bytes]]]:
    """``(schema_json, {key: [block bytes, ...]})`` for ``df`` (see :class:`FramePlan`)."""
    plan = FramePlan(df, block_rows)
    blocks = {key: [plan.encode(key, k) for k in range(plan.block_count())] for key in plan.keys}
    return plan.schema_json, blocks


def blocks_to_frame(
    schema_json: str,
    blocks: Mapping[str, Sequence[bytes | memoryview | pa.Buffer | Block]],
    columns: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Rebuild exactly the frame :func:`frame_to_blocks` was given.

    ``columns`` holds fields already assembled as whole numpy arrays (raw fields decoded
    with :func:`decode_raw_into`); they become the frame's columns without another copy.
    """
    schema = decode_frame_schema(schema_json)
    arrow_schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(schema["arrow_schema"])))
    nrows = int(schema["nrows"])
    columns = columns or {}
    arrays: list[pa.ChunkedArray] = []
    fixes: list[tuple[dict[str, Any], np.ndarray | None, np.ndarray]] = []
    for entry in schema["fields"]:
        field = arrow_schema.field(entry["field"])
        whole = columns.get(entry["key"])
        if whole is not None:
            if len(whole) != nrows:
                raise ValueError(f"{entry['key']}: {len(whole)} rows, expected {nrows}")
            arrays.append(pa.chunked_array([pa.array(whole, type=field.type)], type=field.type))
            continue
        decoded = [as_block(b) for b in blocks[entry["key"]]]
        chunks = [d.values for d in decoded]
        if entry["dictionary"] is not None:
            dictionary = decode_block(base64.b64decode(entry["dictionary"])).values
            if not chunks:  # keep the categories of an empty column
                chunks = [pa.array([], type=field.type.index_type)]
            chunks = [
                pa.DictionaryArray.from_arrays(c, dictionary, ordered=field.type.ordered)
                for c in chunks
            ]
        column = pa.chunked_array(chunks, type=field.type)
        if len(column) != nrows:
            raise ValueError(f"{entry['key']}: {len(column)} rows in blocks, expected {nrows}")
        arrays.append(column)
        if entry["object"]:
            kinds = None
            if any(d.null_kinds is not None for d in decoded):
                kinds = np.concatenate(
                    [
                        d.null_kinds
                        if d.null_kinds is not None
                        else np.zeros(len(d.values), dtype=np.int8)
                        for d in decoded
                    ]
                )
            fixes.append((entry, kinds, column.is_null().to_numpy(zero_copy_only=False)))
    table = pa.Table.from_arrays(arrays, schema=arrow_schema)
    # one pandas block per column: numpy-compatible columns are then not copied again
    df = table.to_pandas(split_blocks=True)
    index_extra = schema["index"]
    if "range" in index_extra:
        start, stop, step = index_extra["range"]
        if df.shape[1] == 0:  # Arrow has no rows without columns
            df = pd.DataFrame(index=pd.RangeIndex(start, stop, step))
            df.attrs = table.to_pandas().attrs
        else:
            df.index = pd.RangeIndex(start, stop, step)
    for entry in schema["fields"]:
        if entry["string"] is not None and entry["key"].startswith("col:"):
            spec = entry["string"]
            dtype = pd.StringDtype(
                spec["storage"], na_value=np.nan if spec["na_value"] == "nan" else pd.NA
            )
            pos = int(entry["key"][4:])
            if df.iloc[:, pos].dtype != dtype:
                df.isetitem(pos, df.iloc[:, pos].astype(dtype))

    index_levels = {}
    for entry, kinds, is_null in fixes:
        kind, _, pos = entry["key"].partition(":")
        source = df.iloc[:, int(pos)] if kind == "col" else df.index.get_level_values(int(pos))
        values = _object_values(np.asarray(source.astype(object)), kinds, is_null)
        if kind == "col":
            df.isetitem(int(pos), pd.Series(values, index=df.index, dtype=object, copy=False))
        else:
            index_levels[int(pos)] = pd.Index(values, dtype=object)
    if index_levels:
        levels = [
            index_levels.get(i, df.index.get_level_values(i)) for i in range(df.index.nlevels)
        ]
        df.index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels)
    if "freq" in index_extra:
        df.index = type(df.index)(df.index, freq=index_extra["freq"])
    df.index = df.index.set_names([_decode_label(x) for x in schema["index_names"]])
    df.columns = _decode_columns_index(schema["columns"])
    return df


def _object_values(values: np.ndarray, kinds: np.ndarray | None, is_null: np.ndarray) -> np.ndarray:
    values = np.array(values, dtype=object, copy=True)
    values[is_null] = None
    if kinds is not None:
        for code in range(2, len(_NULL_KINDS)):
            values[kinds == code] = _NULL_KINDS[code]
    return values
