"""Taking and storing dataset snapshots: :class:`Snapshotter` and its write path.

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
4. Only then, in one transaction, check the packs are still there (a ``gc`` deletes blobs
   under the lock that transaction takes), record where each new block lives and mark the
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

The rest of :class:`Snapshotter` lives beside this module: what a snapshot is made from in
:mod:`.sources`, the progress bar in :mod:`.progress`, reading snapshots back (``load``,
``preview``, ``restore_file``) in :mod:`.restore`, folders in :mod:`.folders`, the local
cache of a remote store's blobs in :mod:`.cache` and garbage collection in :mod:`.collect`.
Names other modules import from here (``Snapshotter``, ``SnapshotJob``, ``SnapshotError``,
``block_rows``, ...) are all still importable from here.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from ..store.blobs import BlobStore, BlobWriter
from ..store.entities import Snapshot, SnapshotStatus
from ..store.store import SnapshotNotFound, Store
from .collect import SnapshotCollector
from .errors import SnapshotError
from .fingerprint import fingerprint_file, fingerprint_frame
from .folders import FolderSnapshots

# ``_submit`` reads ``PROGRESS_AFTER`` from this module's globals at each snapshot, so
# setting ``storage.PROGRESS_AFTER`` (as tests do) still takes effect.
from .progress import PROGRESS_AFTER, ProgressCallback, _Counter, _Progress
from .restore import SnapshotReads
from .restore import block_rows as block_rows  # re-exported: importers use storage's
from .sources import _FrameSource as _FrameSource  # re-exported: tests patch it here
from .sources import _prefixed, _Source, _source_for

#: Largest pack blob: big enough that a GiB is a handful of files and fsyncs, small enough
#: that one unused block rarely keeps much else alive.
PACK_BYTES = 64 << 20
#: Threads encoding blocks (zstd and file writes release the GIL).
ENCODE_WORKERS = 2
#: Neighbouring blocks an encoder takes at a time (8 MiB of float64s).
RUN_BLOCKS = 16
#: Store a column compressed only if its first block shrinks by at least this share. zstd
#: (level 1) runs at about 400 MB/s per core on hard-to-compress data while the disk writes
#: about 1 GB/s: saving less than a quarter costs more time than the smaller write saves,
#: so such columns (random floats and wide integers, hashes) are stored as they are.
COMPRESS_MIN_SAVING = 0.25


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


# --------------------------------------------------------------------------- snapshotter


class Snapshotter(SnapshotReads, FolderSnapshots, SnapshotCollector):
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

        ``obj``: a pandas DataFrame/Series, a numpy array, a pyarrow Table, a file path or a
        folder's path (:mod:`.folders`).
        """
        if isinstance(obj, str | os.PathLike):
            if os.path.isdir(obj):
                return self.snapshot_folder(obj, name=name, pin=pin, progress=progress)
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

    def pending_jobs(self) -> list[SnapshotJob]:
        """The snapshots taken so far that may still be being written (queued included)."""
        with self._lock:
            return list(self._pending)

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
        self.store.complete_snapshot(
            snap.digest, blocks=rows, stored_bytes=written, stats=stats, blobs=self.blobs
        )
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
        self.store.complete_snapshot(
            snap.digest, stored_bytes=written, blobs=self.blobs, blob_names=[digest]
        )
        return written


# --------------------------------------------------------------------------- helpers


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
