"""Taking, storing, restoring and collecting dataset snapshots.

Write path (``Snapshotter.snapshot``):

1. **Fingerprint** the object, synchronously (memory speed; the digest names the snapshot).
2. If that digest is already stored and complete, stop: an unchanged re-snapshot writes
   nothing. Otherwise record the snapshot as ``pending`` and plan its blocks (the Arrow
   view of a frame is zero-copy for numpy columns and pyarrow strings).
3. In the **background**, ask the database which block digests it lacks, encode only those
   (zstd Arrow IPC; a column zstd cannot shrink by 10% is stored uncompressed, which the
   format records per buffer) on ``ENCODE_WORKERS`` threads, and append them to *pack*
   blobs of up to ``PACK_BYTES``. A pack is written to a temporary name, fsynced and
   published under the digest of its bytes, so no partial pack is ever visible.
4. Only then, in one transaction, record where each new block lives and mark the
   snapshot ``complete``. A block row therefore always points at durable bytes, and
   "is this block stored?" is one indexed lookup.

Blocks are content-addressed by their fingerprint digest (logical content, per column and
fixed row range), so appending rows stores only the new blocks, editing one column stores
only its changed blocks, and equal data is stored once however many runs read it.

Data changed while it is being written (an ndarray edited in place right after the cell)
is caught: each block of a numpy-backed column is re-hashed before it is stored, and a
mismatch fails the snapshot instead of storing bytes under a digest they do not have.
pandas frames are held through a shallow copy, which pandas' copy-on-write keeps intact.

Files are fingerprinted by a streamed hash and copied whole into the blob store (a reflink
where the filesystem allows; never a link to the user's file), then re-hashed.
"""

from __future__ import annotations

import abc
import base64
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..store.blobs import BlobNotFound, BlobStore, BlobWriter, LocalBlobStore
from ..store.entities import Snapshot, SnapshotStatus
from ..store.store import InvalidQuery, SnapshotNotFound, Store
from .blocks import encode_raw, raw_numpy_dtype
from .diff import column_name
from .fingerprint import (
    BLOCK_ROWS,
    Fingerprint,
    fingerprint_file,
    fingerprint_frame,
    ndarray_tag,
    numpy_block_digest,
    numpy_column_tag,
)
from .stats import arrow_block_moments, block_moments

#: Largest pack blob: big enough that a GiB is a handful of files and fsyncs, small enough
#: that one unused block rarely keeps much else alive.
PACK_BYTES = 64 << 20
#: Threads encoding blocks (zstd and file writes release the GIL).
ENCODE_WORKERS = 2
#: Neighbouring blocks an encoder takes at a time (8 MiB of float64s).
RUN_BLOCKS = 16
#: Largest single read when restoring: enough to amortise the call, small enough that the
#: readers share the work evenly and their reused buffers stay small.
READ_BYTES = 8 << 20
#: Store a column compressed only if its first block shrinks by at least this share. zstd
#: (level 1) runs at about 400 MB/s per core on hard-to-compress data while the disk writes
#: about 1 GB/s: saving less than a quarter costs more time than the smaller write saves,
#: so such columns (random floats and wide integers, hashes) are stored as they are.
COMPRESS_MIN_SAVING = 0.25
#: A snapshot still writing after this many seconds shows a progress bar.
PROGRESS_AFTER = 1.0
#: Marks the progress display, so a tracked cell does not record it among its outputs.
PROGRESS_METADATA = {"mltrack": {"progress": True}}
#: Bytes of a file kept in memory when a blob store cannot hand out a local path.
FILE_CACHE_DIR = "files"

ProgressCallback = Callable[[int, int], None]


class SnapshotError(Exception):
    """A snapshot that cannot be taken or restored; the message says why."""


# --------------------------------------------------------------------------- sources


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


# --------------------------------------------------------------------------- jobs


@dataclass
class SnapshotJob:
    """A snapshot being stored. ``snapshot`` is known at once; :meth:`wait` returns it
    once durable (or raises :class:`SnapshotError` if it could not be stored)."""

    snapshot: Snapshot
    future: Future[Snapshot] | None = None
    #: Bytes this snapshot added to the blob store (known when done).
    written: int = 0
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    @property
    def digest(self) -> str:
        return self.snapshot.digest

    def done(self) -> bool:
        return self.future is None or self.future.done()

    def wait(self, timeout: float | None = None) -> Snapshot:
        if self.future is None:
            return self.snapshot
        try:
            self.snapshot = self.future.result(timeout=timeout)
        except SnapshotError:
            raise
        except Exception as exc:
            raise SnapshotError(f"snapshot {self.snapshot.short} was not stored: {exc}") from exc
        return self.snapshot


class _Progress:
    """A progress bar for a slow snapshot: shown only once it has taken ``PROGRESS_AFTER``
    seconds, as an updating display in a notebook, or lines on stderr elsewhere."""

    def __init__(self, label: str, total: int, after: float = PROGRESS_AFTER) -> None:
        self.label = label
        self.total = max(total, 1)
        self.after = after
        self.start = time.perf_counter()
        self._handle: Any = None
        self._shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(total, 1)
        now = time.perf_counter()
        if now - self.start < self.after or (now - self._last < 0.25 and done < self.total):
            return
        self._last = now
        self._show(done, final=False)

    def finish(self, written: int) -> None:
        if self._shown:
            self._show(self.total, final=True, written=written)

    def _show(self, done: int, *, final: bool, written: int | None = None) -> None:
        share = min(done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        text = (
            f"mltrack: snapshot {self.label} {share:4.0%} of {_size(self.total)} ({elapsed:.1f} s)"
        )
        if final:
            text = f"mltrack: snapshot {self.label} stored: {_size(written or 0)} written in {elapsed:.1f} s"
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is None or not hasattr(shell, "kernel"):
            print(f"{text} {bar if not final else ''}", file=sys.stderr)
            self._shown = True
            return
        from IPython.display import display

        bundle = {
            "text/plain": f"{text}\n{bar}",
            "text/html": (
                f'<div class="jp-mltrack-progress"><progress max="1" value="{share:.3f}" '
                f'style="width:18em;vertical-align:middle"></progress> {_html(text)}</div>'
            ),
        }
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True, metadata=PROGRESS_METADATA)
        else:
            self._handle.update(bundle, raw=True, metadata=PROGRESS_METADATA)
        self._shown = True


def _html(text: str) -> str:
    import html

    return html.escape(text)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


# --------------------------------------------------------------------------- snapshotter


class Snapshotter:
    """Snapshots of one store: take, store, restore, preview, collect garbage."""

    def __init__(self, store: Store, blobs: BlobStore | None = None) -> None:
        self.store = store
        self._blobs = blobs
        # Jobs run one at a time (each uses the encoder pool): a later job then finds the
        # blocks an earlier one wrote instead of writing them twice.
        self._jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrack-snapshot")
        self._pool = ThreadPoolExecutor(
            max_workers=ENCODE_WORKERS, thread_name_prefix="mltrack-encode"
        )
        self._lock = threading.Lock()
        self._pending: list[SnapshotJob] = []
        #: Block moments this process wrote or read: an append's statistics then need no
        #: database read for the blocks it shares with the previous version.
        self._moments_cache: dict[str, dict[str, Any]] = {}
        #: Snapshots found complete, by digest: a tracked cell re-reads the same arrays cell
        #: after cell, and a look-up per array each time was most of what its inputs cost.
        #: Complete snapshots never change; one swept by a ``gc`` elsewhere is forgotten when
        #: linking a run to it fails (``forget``), and this process's ``gc`` clears it all.
        self._complete: dict[str, Snapshot] = {}

    def forget(self, digest: str) -> None:
        """Stop trusting that snapshot ``digest`` is complete (it may have been swept)."""
        self._complete.pop(digest, None)

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            self._blobs = self.store.blobs
        return self._blobs

    def start(self) -> None:
        """Start the job thread now (the kernel's warm-up after ``%load_ext`` calls this), so
        that a tracked cell's first snapshot does not wait for a thread to start."""
        self._jobs.submit(int).result()

    def close(self) -> None:
        self.wait_pending()
        self._jobs.shutdown(wait=True)
        self._pool.shutdown(wait=True)

    # taking -----------------------------------------------------------------------------

    def snapshot(
        self,
        obj: Any,
        *,
        name: str | None = None,
        pin: bool = False,
        progress: bool = True,
    ) -> SnapshotJob:
        """Fingerprint ``obj`` now and store it in the background (see the module doc).

        ``obj``: a pandas DataFrame/Series, a numpy array, a pyarrow Table, or a file path.
        """
        if isinstance(obj, str | os.PathLike):
            return self.snapshot_file(obj, name=name, pin=pin, progress=progress)
        try:
            fp = fingerprint_frame(obj)
        except TypeError as exc:
            raise SnapshotError(str(exc)) from exc
        known = self._known(fp.digest, name=name, pin=pin)
        if known is not None:
            return known
        try:
            source = _source_for(obj, fp)
        except (TypeError, ValueError) as exc:  # e.g. complex numbers, duplicate labels
            raise SnapshotError(f"cannot store this {fp.kind}: {exc}") from exc
        rows = fp.rows
        cols = len(fp.schema.get("columns", []))
        snap = self.store.add_snapshot(
            digest=fp.digest,
            kind=fp.kind,
            rows=rows,
            columns=cols,
            nbytes=source.raw_size(),
            schema=fp.schema,
            layout=source.layout(),
            name=name,
            pinned=pin,
        )
        if snap.status is SnapshotStatus.COMPLETE:
            return SnapshotJob(snap)
        label = name or snap.short
        return self._submit(
            snap, lambda report: self._store_blocks(snap, source, report), label, progress
        )

    def snapshot_file(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        pin: bool = False,
        progress: bool = True,
    ) -> SnapshotJob:
        """Hash a file now; copy it into the blob store in the background."""
        try:
            fp = fingerprint_file(path)
        except OSError as exc:
            raise SnapshotError(
                f"cannot snapshot {os.fspath(path)!r}: {exc.strerror or exc}"
            ) from exc
        known = self._known(fp.digest, name=name, pin=pin)
        if known is not None:
            return known
        snap = self.store.add_snapshot(
            digest=fp.digest,
            kind="file",
            rows=None,
            columns=None,
            nbytes=fp.size,
            schema={"size": fp.size, "name": os.path.basename(fp.path)},
            layout={"format": "mltrack-file/1", "blob": fp.digest, "size": fp.size},
            name=name,
            pinned=pin,
        )
        if snap.status is SnapshotStatus.COMPLETE:
            return SnapshotJob(snap)
        return self._submit(
            snap,
            lambda report: self._store_file(snap, fp.path, report),
            name or snap.short,
            progress,
        )

    def _known(self, digest: str, *, name: str | None, pin: bool) -> SnapshotJob | None:
        """The job of an already complete snapshot (0 bytes to write), else ``None``."""
        snap = self._complete.get(digest) if not pin else None
        if snap is not None:
            return SnapshotJob(snap, finished=time.perf_counter())
        try:
            snap = self.store.get_snapshot(digest)
        except SnapshotNotFound:
            return None
        if snap.status is not SnapshotStatus.COMPLETE:
            return None
        self._complete[digest] = snap
        if pin and (not snap.pinned or (name and snap.name != name)):
            self.store.pin_snapshot(digest, True, name=name)
            snap = self.store.get_snapshot(digest)
        return SnapshotJob(snap, finished=time.perf_counter())

    def _submit(
        self,
        snap: Snapshot,
        work: Callable[[Callable[[int, int], None]], int],
        label: str,
        progress: bool,
    ) -> SnapshotJob:
        job = SnapshotJob(snap)
        bar = _Progress(label, snap.nbytes, PROGRESS_AFTER) if progress else None

        def run() -> Snapshot:
            try:
                job.written = work(bar or (lambda done, total: None))
            except Exception as exc:
                with contextlib.suppress(Exception):
                    self.store.fail_snapshot(snap.digest, f"{type(exc).__name__}: {exc}")
                raise
            finally:
                job.finished = time.perf_counter()
            if bar is not None:
                bar.finish(job.written)
            return self.store.get_snapshot(snap.digest)

        job.future = self._jobs.submit(run)
        with self._lock:
            self._pending = [j for j in self._pending if not j.done()]
            self._pending.append(job)
        return job

    def wait_pending(self, timeout: float | None = None) -> list[SnapshotJob]:
        """Block until every snapshot taken so far is stored; returns the ones that failed."""
        with self._lock:
            jobs = list(self._pending)
        failed = []
        for job in jobs:
            try:
                job.wait(timeout)
            except Exception:
                failed.append(job)
        return failed

    # storing ----------------------------------------------------------------------------

    def _store_blocks(self, snap: Snapshot, source: _Source, report: ProgressCallback) -> int:
        blocks = source.blocks()
        missing = self.store.missing_blocks(d for ds in blocks.values() for d in ds)
        todo: list[tuple[str, int, str]] = []
        seen: set[str] = set()
        for key, digests in blocks.items():
            for k, digest in enumerate(digests):
                if digest in missing and digest not in seen:
                    seen.add(digest)
                    todo.append((key, k, digest))
        rows: list[dict[str, Any]] = []
        written = 0
        if todo:
            levels = self._levels(source, todo)
            # progress counts stored bytes against an estimate of what is left to store
            share = len(todo) / max(sum(len(d) for d in blocks.values()), 1)
            counter = _Counter(report, int(snap.nbytes * share))
            # Workers take runs of neighbouring blocks from one queue: the load balances
            # (compressed and raw columns cost very different CPU) while each pack still
            # holds long runs of one column for fast restores.
            queue = _WorkQueue(todo, RUN_BLOCKS)
            futures = [
                self._pool.submit(self._write_packs, source, queue, levels, counter)
                for _ in range(min(ENCODE_WORKERS, len(queue)))
            ]
            done, _ = wait(futures)
            errors = [f.exception() for f in futures if f.exception() is not None]
            results = [f.result() for f in futures if f.exception() is None]
            if errors:
                # Packs that were committed hold only blocks no row points at: gc's orphans.
                raise errors[0]  # type: ignore[misc]
            for pack_rows in results:
                rows.extend(pack_rows)
            written = sum(r["length"] for r in rows)
        stats = _safe_stats(source, self._moments(source, rows))
        self.store.complete_snapshot(snap.digest, blocks=rows, stored_bytes=written, stats=stats)
        return written

    def _moments(self, source: _Source, rows: list[dict[str, Any]]) -> dict[int, Any]:
        """Merged block moments per numeric column: of the blocks just written, and from
        the database for blocks stored earlier (an append reads only its new blocks)."""
        from .stats import merge_moments

        numeric = source.stat_keys()
        if not numeric:
            return {}
        blocks = source.blocks()
        known = self._moments_cache
        if len(known) > 1_000_000:
            known.clear()
        known.update({r["digest"]: r["stats"] for r in rows if r.get("stats")})
        wanted = {d for key in numeric for d in blocks[key] if d not in known}
        if wanted:
            known.update(self.store.block_stats(wanted))
        out: dict[int, Any] = {}
        for key, position in numeric.items():
            parts = [known.get(d) for d in blocks[key]]
            if all(p is not None for p in parts):
                out[position] = merge_moments(parts)  # type: ignore[arg-type]
        return out

    def _levels(self, source: _Source, todo: list[tuple[str, int, str]]) -> dict[str, int | None]:
        """Per field: zstd level 1, or ``None`` if its blocks do not shrink by
        ``COMPRESS_MIN_SAVING`` (random floats, hashes: compressing them only costs).

        Decided from a block of the field already stored when there is one (an append
        then encodes nothing twice), else by encoding its first missing block both ways.
        """
        levels: dict[str, int | None] = {}
        missing = {d for _, _, d in todo}
        blocks = source.blocks()
        stored = {
            key: next((d for d in digests if d not in missing), None)
            for key, digests in blocks.items()
        }
        sizes = self.store.block_sizes(d for d in stored.values() if d is not None)
        for key, digest in stored.items():
            if digest in sizes:
                length, raw = sizes[digest]
                levels[key] = 1 if length <= raw * (1 - COMPRESS_MIN_SAVING) else None
        for key, k, _ in todo:
            if key in levels:
                continue
            plain = source.encode(key, k, None).size
            packed = source.encode(key, k, 1).size
            levels[key] = 1 if packed <= plain * (1 - COMPRESS_MIN_SAVING) else None
        return levels

    def _write_packs(
        self,
        source: _Source,
        queue: _WorkQueue,
        levels: Mapping[str, int | None],
        counter: _Counter,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        writer: BlobWriter | None = None
        try:
            for key, k, digest in queue:
                encoded = source.encode(key, k, levels.get(key, 1))
                if not source.verify(key, k, digest):
                    raise SnapshotError(
                        f"the data changed while it was being stored ({key}, block {k} and "
                        "on); snapshot it again once it is no longer being modified"
                    )
                if writer is None:
                    writer = self.blobs.writer()
                offset = writer.size
                for part in encoded.parts:
                    writer.write(part)
                length = writer.size - offset
                pending.append(
                    {
                        "digest": digest,
                        "offset": offset,
                        "length": length,
                        "raw_bytes": encoded.raw,
                        "stats": encoded.moments,
                    }
                )
                counter.add(length)
                if writer.size >= PACK_BYTES:
                    pack = writer.commit()
                    rows.extend({**r, "pack": pack} for r in pending)
                    writer, pending = None, []
            if writer is not None:
                pack = writer.commit()
                rows.extend({**r, "pack": pack} for r in pending)
                writer = None
        except BaseException:
            queue.stop()  # the other workers stop too: the snapshot has failed
            if writer is not None:
                writer.abort()
            raise
        return rows

    def _store_file(self, snap: Snapshot, path: str, report: ProgressCallback) -> int:
        digest = snap.layout["blob"]
        report(0, snap.nbytes)
        try:
            written = self.blobs.put_file(digest, path)
        except OSError as exc:
            raise SnapshotError(f"cannot copy {path!r}: {exc.strerror or exc}") from exc
        if written:
            # The file may have changed between hashing and copying: the copy must be what
            # the digest says, or it would poison every later snapshot of that content.
            copied = _hash_blob(self.blobs, digest)
            if copied != digest:
                self.blobs.delete(digest)
                raise SnapshotError(
                    f"{path!r} changed while it was being copied; snapshot it again"
                )
        report(snap.nbytes, snap.nbytes)
        self.store.complete_snapshot(snap.digest, stored_bytes=written)
        return written

    # restoring --------------------------------------------------------------------------

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
        """The snapshotted object, exactly as it was (a file snapshot gives a path to a
        read-only copy)."""
        snap = self.resolve(ref)
        if snap.kind == "file":
            return self.file_path(snap)
        return self._assemble(snap, snap.layout, snap.layout["blocks"])

    def preview(self, ref: str | Snapshot, offset: int = 0, limit: int = 50) -> Any:
        """Rows ``[offset, offset + limit)`` of a tabular snapshot, reading only the blocks
        that hold them."""
        snap = self.resolve(ref)
        if snap.kind == "file":
            raise SnapshotError("a file snapshot has no rows; restore it to read it")
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
        self, snap: Snapshot, layout: dict[str, Any], blocks: Mapping[str, list[str]]
    ) -> Any:
        """Read ``blocks`` and rebuild the object ``layout`` describes. Raw numpy fields are
        decoded straight into their final arrays (one pass over fresh memory); the other
        blocks are kept as bytes and decoded by :mod:`.blocks`."""
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
        self._read_blocks(consumers)
        other = {k: [kept[d] for d in ds] for k, ds in blocks.items() if k not in raw}
        return _rebuild(snap, layout, other, columns)

    def file_path(self, ref: str | Snapshot) -> Path:
        """A local, read-only path holding a file snapshot's bytes."""
        snap = self.resolve(ref)
        if snap.kind != "file":
            raise SnapshotError(f"snapshot {snap.short} is a {snap.kind}, not a file")
        digest = snap.layout["blob"]
        if isinstance(self.blobs, LocalBlobStore):
            path = self.blobs.path_of(digest)
            if not path.is_file():
                raise SnapshotError(f"the blob of snapshot {snap.short} is missing")
            return path
        cache = self._file_cache()
        target = cache / _hex(digest)
        if not target.is_file():
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(self.blobs.get_bytes(digest))
            os.replace(tmp, target)
        return target

    def restore_file(self, ref: str | Snapshot, dest: str | os.PathLike[str]) -> Path:
        """Write a file snapshot's bytes to ``dest`` (a new, writable file)."""
        import shutil

        source = self.file_path(ref)
        out = Path(dest)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, out)
        return out

    def _file_cache(self) -> Path:
        home = self.store.home
        base = home if home is not None else Path.home() / ".cache" / "mltrack"
        folder = base / FILE_CACHE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _fetch(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The stored bytes of blocks (each an independent copy)."""
        out: dict[str, bytes] = {}

        def keep(digest: str) -> Callable[[memoryview], None]:
            def consume(view: memoryview) -> None:
                out[digest] = bytes(view)

            return consume

        self._read_blocks({d: [keep(d)] for d in dict.fromkeys(digests)})
        return out

    def _read_blocks(self, consumers: Mapping[str, list[Callable[[memoryview], None]]]) -> None:
        """Hand every block's bytes to its consumers, reading on the encoder threads:
        adjacent blocks of a pack in one read, into a reused per-thread buffer (a consumer
        copies what it keeps; decoding a raw block into its column does just that)."""
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
                for _ in self._pool.map(lambda task: self._read_run(*task, consumers), tasks):
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
    ) -> None:
        start = run[0][0]
        size = run[-1][0] + run[-1][1] - start
        buffer = _thread_buffer(size)
        self.blobs.read_range_into(pack, start, buffer)
        for offset, length, digest in run:
            view = buffer[offset - start : offset - start + length]
            for consume in consumers[digest]:
                consume(view)

    # garbage collection -----------------------------------------------------------------

    def gc(self, *, dry_run: bool = False, repack_below: float = 0.5) -> dict[str, Any]:
        """Delete what no run and no pinned snapshot references.

        Snapshots nobody uses go first, then their blocks; a pack left without live blocks
        is deleted, and one whose live blocks are under ``repack_below`` of its bytes is
        rewritten with only those. Blobs no row mentions at all (left by a writer that
        died before recording them) are deleted once they are an hour old.
        """
        self.wait_pending()
        self._complete.clear()
        sweep = self.store.sweep_snapshots(dry_run=dry_run)
        dead_packs: dict[str, int] = {}
        for _digest, pack, _offset, length in sweep.blocks:
            dead_packs[pack] = dead_packs.get(pack, 0) + length
        freed = 0
        deleted_packs: list[str] = []
        repacked: list[str] = []
        for pack, dead_bytes in dead_packs.items():
            live = sweep.kept.get(pack, [])
            try:
                size = self.blobs.size(pack)
            except BlobNotFound:
                continue
            if not live:
                deleted_packs.append(pack)
                freed += size
                if not dry_run:
                    self.blobs.delete(pack)
            elif sum(length for _, _, length in live) < size * repack_below:
                repacked.append(pack)
                freed += dead_bytes
                if not dry_run:
                    self._repack(pack, live)
        deleted_files = [s.layout["blob"] for s in sweep.snapshots if s.kind == "file"]
        for blob in deleted_files:
            if blob in sweep.files:  # still used by another snapshot of the same bytes
                continue
            with contextlib.suppress(BlobNotFound):
                freed += self.blobs.size(blob)
                if not dry_run:
                    self.blobs.delete(blob)
        orphans = self._orphans(sweep, dry_run)
        return {
            "dry_run": dry_run,
            "snapshots": [s.digest for s in sweep.snapshots],
            "blocks": len(sweep.blocks),
            "packs_deleted": len(deleted_packs),
            "packs_rewritten": len(repacked),
            "orphans": len(orphans),
            "bytes_freed": freed,
        }

    def _repack(self, pack: str, live: list[tuple[str, int, int]]) -> None:
        data = self._fetch(d for d, _o, _n in live)
        moves = []
        with self.blobs.writer() as writer:
            for digest, _offset, _length in sorted(live, key=lambda x: x[1]):
                moves.append((digest, writer.write(data[digest])))
            new_pack = writer.commit()
        self.store.move_blocks([(d, new_pack, off) for d, off in moves])
        if new_pack != pack and not self.store.pack_in_use(pack):
            self.blobs.delete(pack)

    def _orphans(self, sweep: Any, dry_run: bool, older_than: float = 3600.0) -> list[str]:
        if not isinstance(self.blobs, LocalBlobStore):
            return []
        known = set(sweep.kept) | sweep.files
        cutoff = time.time() - older_than
        orphans = []
        for digest in self.blobs.iter_digests():
            if digest in known or self.store.pack_in_use(digest):
                continue
            try:
                if self.blobs.path_of(digest).stat().st_mtime > cutoff:
                    continue
            except FileNotFoundError:
                continue
            if self._is_file_blob(digest):
                continue
            orphans.append(digest)
            if not dry_run:
                self.blobs.delete(digest)
        if not dry_run:
            self.blobs.cleanup_temp(older_than)
        return orphans

    def _is_file_blob(self, digest: str) -> bool:
        try:
            self.store.get_snapshot(digest)
        except SnapshotNotFound:
            return False
        return True


# --------------------------------------------------------------------------- helpers


class _Counter:
    """Bytes encoded so far, reported to the progress bar (thread-safe)."""

    def __init__(self, report: ProgressCallback, total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            done = self.done
        self.report(done, max(self.total, done))


class _WorkQueue:
    """The blocks to store, handed out in runs of up to ``run`` neighbours (thread-safe)."""

    def __init__(self, items: list[Any], run: int) -> None:
        self._runs = [items[i : i + run] for i in range(0, len(items), run)]
        self._next = 0
        self._stopped = False
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._runs)

    def stop(self) -> None:
        self._stopped = True

    def __iter__(self) -> Iterator[Any]:
        while True:
            with self._lock:
                if self._stopped or self._next >= len(self._runs):
                    return
                run = self._runs[self._next]
                self._next += 1
            yield from run


def _copy_on_write() -> bool:
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    with contextlib.suppress(Exception):
        return bool(pd.options.mode.copy_on_write is True)
    return False


def _safe_stats(source: _Source, moments: Mapping[int, Any]) -> dict[str, Any] | None:
    """Statistics are a convenience: a column they cannot describe must not fail the
    snapshot (the data is what matters)."""
    try:
        return source.stats(moments)
    except Exception as exc:  # pragma: no cover - depends on exotic dtypes
        return {"error": f"{type(exc).__name__}: {exc}"}


def _hash_blob(blobs: BlobStore, digest: str) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    with blobs.open(digest) as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    return _prefixed(h.hexdigest())


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
