"""Copying blobs and snapshots from one store to another, sending only what the other lacks.

The one code path by which data moves between stores: the spool (``store/spool.py``: a
snapshot taken while the team store could not be written goes to a local store of its own,
and is copied to the team store before the run that read it is written there) and
``mltrack push``/``pull`` (:mod:`jupyter_mltrack.sharing`) both call it.

Everything here is content-addressed: a snapshot's digest, its blocks' digests, its packs'
names and the blob of an artifact file, a file snapshot or a folder snapshot's file are the
same in every store. So copying is: find which blobs the destination lacks (its database
first, in bulk: a blob a durable row names is there; then the blob store, only for the
rest, on a few threads), send those (a local file is handed to the destination as a file,
never read into memory), and record them last.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from .artifact_records import stored_digests
from .entities import SnapshotStatus
from .errors import SnapshotNotFound
from .models import BlockRow, SnapshotRow
from .snapshot_records import file_blobs
from .statements import _IN_CHUNK
from .threads import map_threads

if TYPE_CHECKING:
    from .blobs import BlobStore
    from .store import Store

#: Threads sending blobs (or asking an object store whether it has them): requests to S3
#: spend their time waiting, so a few at once go several times faster than one.
THREADS = 8


@dataclass
class Sent:
    """What a copy sent: blobs written to the destination and their bytes."""

    blobs: int = 0
    bytes: int = 0

    def add(self, other: Sent) -> None:
        self.blobs += other.blobs
        self.bytes += other.bytes


@dataclass
class SnapshotsCopied:
    """What :func:`copy_snapshots` did: snapshots completed in the destination, those it
    had already, those the source has not complete (left out), the blocks recorded and the
    blobs sent."""

    copied: list[str]
    present: list[str]
    unavailable: list[str]
    blocks: int
    sent: Sent


def has_complete_snapshot(store: Store, digest: str) -> bool:
    try:
        return store.get_snapshot(digest).status is SnapshotStatus.COMPLETE
    except SnapshotNotFound:
        return False


def complete_snapshots(store: Store, digests: Iterable[str]) -> set[str]:
    """The digests among ``digests`` that ``store`` has complete (chunked queries)."""
    wanted = list(dict.fromkeys(digests))
    t = SnapshotRow.__table__
    found: set[str] = set()
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i : i + _IN_CHUNK]
            found.update(
                conn.execute(
                    select(t.c.digest).where(
                        t.c.digest.in_(chunk), t.c.status == SnapshotStatus.COMPLETE.value
                    )
                ).scalars()
            )
    return found


def recorded_blobs(store: Store, names: Iterable[str]) -> set[str]:
    """The blob names among ``names`` that a durable row of ``store`` names: a pack of a
    recorded block, a complete artifact's file, a complete file snapshot's copy (named by
    its digest). Such a blob is in the blob store (rows are written after their blobs, and
    ``gc`` deletes only blobs no row names), so it need not be asked for."""
    with store.engine.connect() as conn:
        return recorded_in(conn, names)


def recorded_in(conn: Connection, names: Iterable[str]) -> set[str]:
    """:func:`recorded_blobs`, read on ``conn``: in a transaction holding the lock ``gc``
    deletes blobs under, a blob named so stays until the transaction's own rows name it."""
    wanted = list(dict.fromkeys(names))
    blocks = BlockRow.__table__
    found: set[str] = set()
    for i in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[i : i + _IN_CHUNK]
        found.update(conn.execute(select(blocks.c.pack).where(blocks.c.pack.in_(chunk))).scalars())
    found.update(stored_digests(conn, set(wanted)))
    return found


def missing_blobs(dst: Store, names: Iterable[str]) -> list[str]:
    """The blobs among ``names`` that ``dst`` lacks: its database answers for most, in
    bulk (:func:`recorded_blobs`); the blob store is asked only about the others, on a few
    threads (one request each on S3: listing a team bucket would read every key it has)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    known = recorded_blobs(dst, wanted)
    unknown = [n for n in wanted if n not in known]
    blobs = dst.blobs
    there = map_threads(blobs.has, unknown, THREADS)
    return [n for n, has in zip(unknown, there, strict=True) if not has]


def send_blobs(
    src: BlobStore,
    dst: BlobStore,
    names: Sequence[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Sent:
    """Copy the blobs ``names`` (which the caller found ``dst`` lacks) from ``src``, on a
    few threads. A blob is published whole under its name or not at all (the blob stores'
    own guarantee), so a copy killed midway leaves whole blobs, sent again by nobody."""
    done = Sent()
    if not names:
        return done
    lock = threading.Lock()
    every = max(1, len(names) // 20)  # a call per blob for a few, per 5% for many
    finished = 0

    def one(name: str) -> int:
        nonlocal finished
        size = copy_blob(src, dst, name)
        with lock:
            finished += 1
            done.blobs += 1 if size else 0
            done.bytes += size
            if progress is not None and (finished % every == 0 or finished == len(names)):
                progress(done.blobs, done.bytes)
        return size

    map_threads(one, list(names), THREADS)
    return done


def copy_blob(src: BlobStore, dst: BlobStore, name: str) -> int:
    """Copy one blob (same name: its content's digest); the bytes written, 0 if ``dst``
    had it. A local source is handed over as a file (no copy in memory)."""
    path: Any = getattr(src, "path_of", None)
    if path is not None and isinstance(path(name), Path) and Path(path(name)).is_file():
        return dst.put_file(name, path(name))
    return dst.put_bytes(name, src.get_bytes(name))


def copy_snapshot(src: Store, dst: Store, digest: str) -> bool:
    """Make the snapshot ``digest`` complete in ``dst`` from ``src``. ``True`` once ``dst``
    has it complete; ``False`` when ``src`` has not (yet)."""
    done = copy_snapshots(src, dst, [digest])
    return digest in done.copied or digest in done.present


def copy_snapshots(
    src: Store,
    dst: Store,
    digests: Iterable[str],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SnapshotsCopied:
    """Make the snapshots ``digests`` complete in ``dst`` from ``src``: each recorded as
    ``pending`` (so ``gc`` there keeps what is sent for it), the packs of the blocks ``dst``
    lacks and the file copies sent (all snapshots' at once), then each completed in one
    transaction that checks its blobs are there (``complete_snapshot``). Those ``dst`` has
    complete are not touched: copying them again writes nothing."""
    wanted = list(dict.fromkeys(digests))
    present = complete_snapshots(dst, wanted)
    available = complete_snapshots(src, [d for d in wanted if d not in present])
    copyable = [d for d in wanted if d in available]
    snaps = [src.get_snapshot(d) for d in copyable]
    for snap in snaps:
        dst.add_snapshot(
            digest=snap.digest,
            kind=snap.kind,
            rows=snap.rows,
            columns=snap.columns,
            nbytes=snap.nbytes,
            schema=snap.schema,
            layout=snap.layout,
            name=snap.name,
            pinned=snap.pinned,
        )
    block_digests = [
        d for snap in snaps for digests_ in snap.layout.get("blocks", {}).values() for d in digests_
    ]
    missing = dst.missing_blocks(block_digests)
    rows = src.block_rows(missing)
    by_digest = {r["digest"]: r for r in rows}
    # a file's blob, a folder's files' blobs: recorded (pending, with the layout naming
    # them) before they are sent, so a gc of ``dst`` meanwhile keeps them
    files = list(dict.fromkeys(b for snap in snaps for b in file_blobs(snap.layout)))
    packs = list(dict.fromkeys(r["pack"] for r in rows))
    sent = send_blobs(src.blobs, dst.blobs, missing_blobs(dst, [*packs, *files]), progress=progress)
    recorded = 0
    for snap in snaps:
        own = dict.fromkeys(
            d for digests_ in snap.layout.get("blocks", {}).values() for d in digests_
        )
        blocks = [by_digest[d] for d in own if d in by_digest]
        recorded += len(blocks)
        dst.complete_snapshot(
            snap.digest,
            blocks=blocks,
            stored_bytes=snap.stored_bytes,
            stats=snap.stats,
            blobs=dst.blobs,
            blob_names=list(dict.fromkeys(file_blobs(snap.layout))),
        )
    unavailable = [d for d in wanted if d not in present and d not in available]
    return SnapshotsCopied(
        copyable, [d for d in wanted if d in present], unavailable, recorded, sent
    )
