"""The read side of snapshots: resolving, loading, previewing and restoring them.

:class:`SnapshotReads` is a mixin of :class:`~.storage.Snapshotter` holding everything that
reads stored blocks back (whole objects, a preview's rows, a file snapshot's bytes), and the
layout helpers only reading needs; it was split from :mod:`.storage` so the write path and
the read path can each be read on their own. Blocks are read on the snapshotter's encoder
pool, adjacent blocks of a pack in one read, into a reused per-thread buffer.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store.blobs import BlobNotFound, BlobStore, LocalBlobStore
from ..store.entities import Snapshot, SnapshotStatus
from ..store.store import InvalidQuery, Store
from .errors import SnapshotError
from .fingerprint import BLOCK_ROWS

if TYPE_CHECKING:
    from .storage import SnapshotJob

#: Largest single read when restoring: enough to amortise the call, small enough that the
#: readers share the work evenly and their reused buffers stay small.
READ_BYTES = 8 << 20


class SnapshotReads:
    """Resolving, loading, previewing and restoring snapshots (a mixin of
    :class:`~.storage.Snapshotter`, which provides the attributes below)."""

    store: Store
    blobs: BlobStore
    _lock: threading.Lock
    _pending: list[SnapshotJob]
    _pool: ThreadPoolExecutor

    def resolve(self, ref: str | Snapshot) -> Snapshot:
        snap = ref if isinstance(ref, Snapshot) else self.store.resolve_snapshot(str(ref))
        if snap.status is SnapshotStatus.PENDING:
            with self._lock:
                job = next((j for j in self._pending if j.digest == snap.digest), None)
            if job is not None:
                snap = job.wait()
        if snap.status is SnapshotStatus.FAILED:
            raise SnapshotError(f"snapshot {snap.short} could not be stored: {snap.error}")
        if snap.status is not SnapshotStatus.COMPLETE:
            raise SnapshotError(f"snapshot {snap.short} is still being stored by another process")
        return snap

    def load(self, ref: str | Snapshot) -> Any:
        """The snapshotted object, exactly as it was (a file snapshot gives the path of a
        read-only copy, a folder snapshot that of a read-only folder). From a remote blob
        store, what is read is kept in the local cache (:mod:`.cache`): loading it again
        reads nothing remote."""
        snap = self.resolve(ref)
        if snap.kind == "file":
            return self.file_path(snap)
        if snap.kind == "folder":
            return self.folder_path(snap)  # type: ignore[attr-defined]
        return self._assemble(snap, snap.layout, snap.layout["blocks"], cache=True)

    def preview(self, ref: str | Snapshot, offset: int = 0, limit: int = 50) -> Any:
        """Rows ``[offset, offset + limit)`` of a tabular snapshot, reading only the blocks
        that hold them."""
        snap = self.resolve(ref)
        if snap.kind in ("file", "folder"):
            raise SnapshotError(f"a {snap.kind} snapshot has no rows; restore it to read it")
        if offset < 0 or limit < 0:
            raise InvalidQuery("offset and limit must be 0 or more")
        layout = snap.layout
        per_block = block_rows(layout)
        rows = int(snap.rows or 0)
        stop = min(rows, offset + limit)
        if stop <= offset:
            first = last = 0
        else:
            first, last = offset // per_block, (stop - 1) // per_block + 1
        part = {k: ds[first:last] for k, ds in layout["blocks"].items()}
        obj = self._assemble(snap, _sub_layout(snap, layout, first, last), part)
        lo = offset - first * per_block
        hi = lo + max(0, stop - offset)
        return obj.iloc[lo:hi] if hasattr(obj, "iloc") else obj[lo:hi]

    def _assemble(
        self,
        snap: Snapshot,
        layout: dict[str, Any],
        blocks: Mapping[str, list[str]],
        *,
        cache: bool = False,
    ) -> Any:
        """Read ``blocks`` and rebuild the object ``layout`` describes. Raw numpy fields are
        decoded straight into their final arrays (one pass over fresh memory); the other
        blocks are kept as bytes and decoded by :mod:`.blocks`. ``cache``: read a remote
        store's packs through the local cache (a whole object is read: its packs are
        mostly its own blocks; a preview's few rows are not worth a pack each)."""
        from .blocks import Block, decode_block, decode_raw_into

        consumers: dict[str, list[Callable[[memoryview], None]]] = {}
        kept: dict[str, Block] = {}
        columns: dict[str, np.ndarray] = {}
        raw = _raw_fields(layout)

        def keep(digest: str) -> Callable[[memoryview], None]:
            def consume(view: memoryview) -> None:
                # decoded here, on the reader threads, not one by one afterwards
                kept[digest] = decode_block(bytes(view))

            return consume

        def into(out: np.ndarray) -> Callable[[memoryview], None]:
            return lambda view: decode_raw_into(view, out)

        for key, digests in blocks.items():
            if key in raw:
                dtype, count, per_block = raw[key]
                whole = columns[key] = np.empty(count, dtype=dtype)
                for k, digest in enumerate(digests):
                    part = whole[k * per_block : (k + 1) * per_block]
                    consumers.setdefault(digest, []).append(into(part))
            else:
                for digest in digests:
                    consumers.setdefault(digest, []).append(keep(digest))
        self._read_blocks(consumers, cache=cache)
        other = {k: [kept[d] for d in ds] for k, ds in blocks.items() if k not in raw}
        return _rebuild(snap, layout, other, columns)

    def file_path(self, ref: str | Snapshot) -> Path:
        """A local, read-only path holding a file snapshot's bytes: the blob itself in a
        local store, else its copy in the local cache (:mod:`.cache`), downloaded on the
        first read (or, if the cache cannot be written, into a temporary folder)."""
        from .cache import cached, try_cache

        snap = self.resolve(ref)
        if snap.kind != "file":
            raise SnapshotError(f"snapshot {snap.short} is a {snap.kind}, not a file")
        digest = snap.layout["blob"]
        if isinstance(self.blobs, LocalBlobStore):
            path = self.blobs.path_of(digest)
            if not path.is_file():
                raise SnapshotError(f"the blob of snapshot {snap.short} is missing")
            return path
        cache = try_cache()
        if cache is None:
            cache = LocalBlobStore(tempfile.mkdtemp(prefix="mltrack-files-"))
        return Path(cached(self.blobs, cache, digest))

    def restore_file(self, ref: str | Snapshot, dest: str | os.PathLike[str]) -> Path:
        """Write a file snapshot's bytes to ``dest`` (a new, writable file)."""
        import shutil

        source = self.file_path(ref)
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out)
        return out

    def _fetch(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The stored bytes of blocks (each an independent copy)."""
        out: dict[str, bytes] = {}

        def keep(digest: str) -> Callable[[memoryview], None]:
            def consume(view: memoryview) -> None:
                out[digest] = bytes(view)

            return consume

        self._read_blocks({d: [keep(d)] for d in dict.fromkeys(digests)})
        return out

    def _read_blocks(
        self,
        consumers: Mapping[str, list[Callable[[memoryview], None]]],
        *,
        cache: bool = False,
    ) -> None:
        """Hand every block's bytes to its consumers, reading on the encoder threads:
        adjacent blocks of a pack in one read, into a reused per-thread buffer (a consumer
        copies what it keeps; decoding a raw block into its column does just that). With
        ``cache`` and a remote store, the packs are read from the local cache, downloaded
        there whole first if missing (:mod:`.cache`)."""
        from .cache import cached_many, is_remote, try_cache

        local = try_cache() if cache and is_remote(self.blobs) else None
        reader: BlobStore = local if local is not None else self.blobs
        wanted = list(consumers)
        for attempt in range(3):
            where = self.store.block_locations(wanted)
            missing = [d for d in wanted if d not in where]
            if missing:
                raise SnapshotError(
                    f"{len(missing)} block(s) of this snapshot are not in the store "
                    f"(e.g. {missing[0]}); it cannot be restored"
                )
            by_pack: dict[str, list[tuple[int, int, str]]] = {}
            for digest, (pack, offset, length) in where.items():
                by_pack.setdefault(pack, []).append((offset, length, digest))
            tasks = [(pack, run) for pack, entries in by_pack.items() for run in _runs(entries)]
            try:
                if local is not None:
                    cached_many(self.blobs, local, by_pack)
                for _ in self._pool.map(
                    lambda task: self._read_run(*task, consumers, reader), tasks
                ):
                    pass
            except BlobNotFound:
                if attempt == 2:
                    raise
                continue  # a pack was rewritten by gc meanwhile: look the blocks up again
            return

    def _read_run(
        self,
        pack: str,
        run: list[tuple[int, int, str]],
        consumers: Mapping[str, list[Callable[[memoryview], None]]],
        reader: BlobStore,
    ) -> None:
        start = run[0][0]
        size = run[-1][0] + run[-1][1] - start
        buffer = _thread_buffer(size)
        reader.read_range_into(pack, start, buffer)
        for offset, length, digest in run:
            view = buffer[offset - start : offset - start + length]
            for consume in consumers[digest]:
                consume(view)


def _sub_layout(snap: Snapshot, layout: dict[str, Any], first: int, last: int) -> dict[str, Any]:
    """The layout of blocks ``[first, last)`` alone (for a preview)."""
    rows = int(snap.rows or 0)
    per_block = block_rows(layout)
    start_row = first * per_block
    nrows = max(0, min(rows, last * per_block) - start_row)
    sub = dict(layout)
    if layout["format"] == "mltrack-frame/1":
        frame = dict(layout["frame"])
        frame["nrows"] = nrows
        index = dict(frame.get("index", {}))
        if "range" in index:
            start, _stop, step = index["range"]
            index["range"] = [start + start_row * step, start + (start_row + nrows) * step, step]
        index.pop("freq", None)
        frame["index"] = index
        sub["frame"] = frame
    elif layout["format"] == "mltrack-ndarray/1":
        shape = list(layout["shape"]) or [1]
        shape[0] = nrows
        sub["shape"] = shape
    elif layout["format"] == "mltrack-table/1":
        sub["rows"] = nrows
    return sub


def block_rows(layout: Mapping[str, Any]) -> int:
    """Rows per block of a stored snapshot (recorded with it: the default may change)."""
    if layout.get("format") == "mltrack-frame/1":
        return int(layout["frame"]["block_rows"])
    return int(layout.get("block_rows", BLOCK_ROWS))


def _raw_fields(layout: Mapping[str, Any]) -> dict[str, tuple[np.dtype, int, int]]:
    """Fields rebuilt as whole numpy arrays: ``key -> (dtype, items, items per block)``."""
    fmt = layout.get("format")
    if fmt == "mltrack-frame/1":
        frame = layout["frame"]
        return {
            e["key"]: (np.dtype(e["raw"]), int(frame["nrows"]), int(frame["block_rows"]))
            for e in frame["fields"]
            if e.get("raw")
        }
    if fmt == "mltrack-ndarray/1":
        shape = list(layout["shape"]) or [1]
        row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        per_block = int(layout["block_rows"]) * row
        return {"values": (np.dtype(layout["dtype"]), int(np.prod(shape)), per_block)}
    return {}


def _rebuild(
    snap: Snapshot,
    layout: dict[str, Any],
    blocks: Mapping[str, list[Any]],
    columns: Mapping[str, np.ndarray] | None = None,
) -> Any:
    fmt = layout.get("format")
    columns = columns or {}
    if fmt == "mltrack-frame/1":
        import json

        from .blocks import blocks_to_frame

        frame = blocks_to_frame(json.dumps(layout["frame"]), blocks, columns)
        wrap = layout.get("wrap", "dataframe")
        if wrap == "series":
            series = frame.iloc[:, 0]
            series.name = _decode_name(layout.get("series_name"))
            return series
        if wrap == "ndarray":
            return frame.iloc[:, 0].to_numpy(dtype=object)
        return frame
    if fmt == "mltrack-ndarray/1":
        shape = list(layout["shape"])
        values = columns["values"]
        return values.reshape(shape) if shape else values.reshape(())
    if fmt == "mltrack-table/1":
        import pyarrow as pa

        from .blocks import as_block

        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(layout["arrow_schema"])))
        arrays = []
        for i, f in enumerate(schema):
            chunks = [as_block(b).values for b in blocks.get(f"col:{i}", [])]
            arrays.append(pa.chunked_array(chunks, type=f.type))
        return pa.Table.from_arrays(arrays, schema=schema)
    raise SnapshotError(f"snapshot {snap.short}: unknown storage format {fmt!r}")


def _decode_name(label: Any) -> Any:
    """Undo ``fingerprint._label`` for a Series name."""
    if label is None or isinstance(label, str | bool | int):
        return label
    if isinstance(label, dict) and len(label) == 1:
        ((kind, value),) = label.items()
        if kind == "float":
            return float(value)
        if kind == "tuple":
            return tuple(_decode_name(v) for v in value)
    return label


_local = threading.local()


def _thread_buffer(size: int) -> memoryview:
    """A per-thread read buffer, grown as needed and reused (memory already touched)."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None or len(buffer) < size:
        buffer = _local.buffer = bytearray(max(size, 1 << 20))
    return memoryview(buffer)[:size]


def _runs(entries: list[tuple[int, int, str]], limit: int = READ_BYTES) -> list[list[Any]]:
    """Adjacent blocks of one pack, grouped into reads of at most ``limit`` bytes."""
    runs: list[list[Any]] = []
    for entry in sorted(entries):
        if runs:
            last = runs[-1]
            end = last[-1][0] + last[-1][1]
            if entry[0] == end and end + entry[1] - last[0][0] <= limit:
                last.append(entry)
                continue
        runs.append([entry])
    return runs
