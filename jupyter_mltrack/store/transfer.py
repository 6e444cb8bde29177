"""Copying a snapshot from one store to another, sending only what the other lacks.

Snapshots are content-addressed: a snapshot's digest, its blocks' digests and its packs'
names are the same in every store, so copying one means recording it in the destination
and sending the packs holding the blocks the destination does not have yet (a file
snapshot: its one blob; a folder snapshot: its files' blobs the destination lacks). The spool uses it (``store/spool.py``): a snapshot taken while the
team store could not be written goes to a local store of its own, and is copied to the team
store before the run that read it is written there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .entities import SnapshotStatus
from .errors import SnapshotNotFound
from .snapshot_records import file_blobs
from .threads import map_threads

if TYPE_CHECKING:
    from .blobs import BlobStore
    from .store import Store


#: Blobs copied at once.
COPIERS = 8


def has_complete_snapshot(store: Store, digest: str) -> bool:
    try:
        return store.get_snapshot(digest).status is SnapshotStatus.COMPLETE
    except SnapshotNotFound:
        return False


def copy_snapshot(src: Store, dst: Store, digest: str) -> bool:
    """Make the snapshot ``digest`` complete in ``dst`` from ``src``: recorded as
    ``pending``, the packs of the blocks ``dst`` lacks (and a file's blob) copied, then
    completed in one transaction that checks they are there (``complete_snapshot``).
    ``True`` once ``dst`` has it complete; ``False`` when ``src`` has not (yet)."""
    if has_complete_snapshot(dst, digest):
        return True
    if not has_complete_snapshot(src, digest):
        return False
    snap = src.get_snapshot(digest)
    dst.add_snapshot(
        digest=digest,
        kind=snap.kind,
        rows=snap.rows,
        columns=snap.columns,
        nbytes=snap.nbytes,
        schema=snap.schema,
        layout=snap.layout,
        name=snap.name,
        pinned=snap.pinned,
    )
    wanted = [d for digests in snap.layout.get("blocks", {}).values() for d in digests]
    missing = dst.missing_blocks(wanted)
    blocks = src.block_rows(missing)
    packs = dict.fromkeys(b["pack"] for b in blocks)
    # a file's blob, a folder's files' blobs: recorded (pending, with the layout naming
    # them) before they are copied, so a gc of ``dst`` meanwhile keeps them
    files = list(dict.fromkeys(file_blobs(snap.layout)))
    names = [*packs, *files]
    # a folder's files are many small blobs: their copies overlap (each waits on I/O)
    map_threads(lambda name: _copy_blob(src.blobs, dst.blobs, name), names, COPIERS)
    dst.complete_snapshot(
        digest,
        blocks=blocks,
        stored_bytes=snap.stored_bytes,
        stats=snap.stats,
        blobs=dst.blobs,
        blob_names=files,
    )
    return True


def _copy_blob(src: BlobStore, dst: BlobStore, name: str) -> None:
    """Copy one blob (same name: its content's digest) unless ``dst`` has it."""
    if dst.has(name):
        return
    path: Any = getattr(src, "path_of", None)
    if path is not None and Path(path(name)).is_file():  # a local folder: no copy in memory
        dst.put_file(name, path(name))
    else:
        dst.put_bytes(name, src.get_bytes(name))
