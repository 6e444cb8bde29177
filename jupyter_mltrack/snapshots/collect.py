"""Garbage collection of snapshots: deleting what no run and no pinned snapshot uses.

:class:`SnapshotCollector` is a mixin of :class:`~.storage.Snapshotter`, split from
:mod:`.storage` because collecting (sweeping snapshots, deleting or rewriting packs,
removing orphaned blobs) shares nothing with taking snapshots but the store. The module is
not called ``gc`` so that it is never mistaken for the standard library's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models import packs
from ..models.artifacts import WRITERS
from ..store import blob_holds
from ..store.blobs import BlobNotFound, BlobStore, Listed, LocalBlobStore
from ..store.entities import Snapshot
from ..store.snapshot_records import HAS_THREADS, file_blobs
from ..store.spool import spool_path, spooled_blobs
from ..store.store import SnapshotNotFound, Store
from ..store.threads import map_threads

if TYPE_CHECKING:
    from .storage import SnapshotJob


class SnapshotCollector:
    """Garbage collection (a mixin of :class:`~.storage.Snapshotter`, which provides the
    attributes below; a repack reads its live blocks with :class:`~.restore.SnapshotReads`)."""

    store: Store
    blobs: BlobStore
    _complete: dict[str, Snapshot]

    if TYPE_CHECKING:

        def wait_pending(self, timeout: float | None = None) -> list[SnapshotJob]: ...

        def _fetch(self, digests: Iterable[str]) -> dict[str, bytes]: ...

    def gc(self, *, dry_run: bool = False, repack_below: float = 0.5) -> dict[str, Any]:
        """Delete what no run, no pinned snapshot and no artifact references.

        Snapshots nobody uses go first, then their blocks; a pack left without live blocks
        is deleted, and one whose live blocks are under ``repack_below`` of its bytes is
        rewritten with only those. An artifact pack whose files rows still name are under
        ``repack_below`` of its bytes (the artifacts that shared it were deleted) is
        rewritten the same way, so that one small file left does not keep a pack of
        megabytes (:meth:`_repack_artifacts`). A pending snapshot whose writer died is
        deleted, or marked ``failed`` when a run uses it (see ``Store.sweep_snapshots``); a
        pending artifact whose writer died is forgotten. Blobs no row
        mentions at all (left by a writer that died before recording them) are deleted at
        once when no live process may be writing a snapshot, else once they are an hour
        old; temp files, once their writer is gone or they are an hour old.

        Blobs are deleted under ``Store.blob_deletion_lock``, each checked again to be
        unused there: a snapshot completed meanwhile by another process (its pack may have
        the very bytes, so the very name, of a dead one) is never left without its data,
        nor is an artifact that claimed bytes in a pack being rewritten.

        The report counts what was done (with ``dry_run``: what would be), says how many
        unrecorded blobs were left for a later ``gc`` and why (``orphans_waiting``,
        ``orphans_waiting_why``: a writer may still record them), and lists in
        ``artifact_packs_damaged`` the artifact packs left as they are because a file in
        them is not the bytes its digest names (changed outside mltrack), each naming the
        file: nothing is copied from such a pack.
        """
        self.wait_pending()
        self._complete.clear()
        sweep = self.store.sweep_snapshots(dry_run=dry_run)
        dead_packs = dict.fromkeys(pack for _digest, pack, _offset, _length in sweep.blocks)
        # blobs to delete (packs and files no row uses), each with the bytes its deletion
        # frees: a rewritten pack's, net of the new pack written with its live blocks
        doomed: dict[str, int] = {}
        deleted_packs: list[str] = []
        repacked: list[str] = []
        for pack in dead_packs:
            live = sweep.kept.get(pack, [])
            try:
                size = self.blobs.size(pack)
            except BlobNotFound:
                continue
            live_bytes = sum(length for _, _, length in live)
            if not live:
                deleted_packs.append(pack)
                doomed[pack] = size
            elif live_bytes < size * repack_below:
                old = [pack] if dry_run else self._repack(pack, live)
                repacked.extend(old)
                doomed.update((p, size - live_bytes) for p in old)
        deleted_files = [
            blob
            for s in sweep.snapshots
            if s.kind in ("file", "folder")
            for blob in file_blobs(s.layout)
        ]
        for blob in dict.fromkeys(deleted_files):
            if blob in sweep.files:  # still used by another snapshot of the same bytes
                continue
            with contextlib.suppress(BlobNotFound):
                doomed[blob] = self.blobs.size(blob)
        dead_artifacts = self.store.sweep_abandoned_artifacts(dry_run=dry_run)
        # One listing serves the artifact packs' sizes (no request per pack) and the
        # orphans. Taken before the rewrite: the new packs are not in it, so never taken
        # for orphans, and the rows the orphans are told from are read after it.
        listed = list(self.blobs.listing())
        art_packs, damaged = self._repack_artifacts(dry_run, repack_below, listed)
        doomed.update(art_packs)
        orphans, waiting = self._orphans(sweep, set(doomed), listed)
        doomed.update((o, n) for o, n in orphans.items() if o not in doomed)
        # what a dry run would delete; else only what was (a blob a writer claimed bytes in,
        # or that a snapshot completed meanwhile uses, stays and frees nothing)
        gone = set(doomed) if dry_run else self._delete_unused(list(doomed))
        freed = sum(n for blob, n in doomed.items() if blob in gone)
        temp_files = 0
        if isinstance(self.blobs, LocalBlobStore):
            temp_files = self.blobs.cleanup_temp(dry_run=dry_run)
        if not dry_run:
            blob_holds.drop_abandoned(self.blobs, time.time())
        return {
            "dry_run": dry_run,
            "snapshots": [s.digest for s in sweep.snapshots],
            "abandoned": [s.digest for s in sweep.abandoned],
            "abandoned_artifacts": dead_artifacts,
            "blocks": len(sweep.blocks),
            "packs_deleted": len(deleted_packs),
            "packs_rewritten": len(repacked),
            "artifact_packs_rewritten": len(art_packs),
            "artifact_packs_damaged": damaged,
            "orphans": len(orphans),
            "orphans_waiting": waiting.count,
            "orphans_waiting_why": waiting.why,
            "temp_files": temp_files,
            "bytes_freed": freed,
        }

    def _delete_unused(self, blobs: list[str]) -> set[str]:
        """Delete ``blobs`` under the store's blob-deletion lock, each only if no block
        row, no snapshot and no artifact names it (checked again there); those deleted."""
        deleted: set[str] = set()
        if not blobs:
            return deleted
        with self.store.blob_deletion_lock():
            in_folders = self.store.folder_blobs()  # read under the lock: none added meanwhile
            for blob in dict.fromkeys(blobs):
                if (
                    blob in in_folders
                    or self.store.pack_in_use(blob)
                    or self._is_file_blob(blob)
                    or self.store.artifact_blob_in_use(blob)
                ):
                    continue
                self.blobs.delete(blob)
                deleted.add(blob)
        return deleted

    def _repack(self, pack: str, live: list[tuple[str, int, int]]) -> list[str]:
        """Rewrite ``pack`` with only its live blocks; returns the old pack, to delete
        (none when a concurrent ``gc`` took the new one for an orphan before the blocks
        were moved to it: they stay in the old pack, for a later ``gc``)."""
        data = self._fetch(d for d, _o, _n in live)
        moves = []
        with self.blobs.writer() as writer:
            for digest, _offset, _length in sorted(live, key=lambda x: x[1]):
                moves.append((digest, writer.write(data[digest])))
            new_pack = writer.commit()
        try:
            self.store.move_blocks([(d, new_pack, off) for d, off in moves], self.blobs)
        except FileNotFoundError:
            return []
        return [pack] if new_pack != pack else []

    def _repack_artifacts(
        self, dry_run: bool, repack_below: float, listed: list[Listed]
    ) -> tuple[dict[str, int], list[str]]:
        """Rewrite each artifact pack whose bytes rows still name are under
        ``repack_below`` of its size with only those (unless ``dry_run``); ``old pack ->
        bytes its deletion frees`` (to delete: the caller's ``_delete_unused`` checks
        again, under its lock, that no row names it), and what was left as it is, said.

        The live bytes are read and checked against their digests, written as a new pack
        (:func:`..models.packs.rewrite`), then their rows moved there in one transaction
        (``Store.move_packed_files``, which says why a writer deduplicating against the
        old pack meanwhile never ends with rows naming a deleted pack). A pack whose bytes
        do not match a file's digest, or is shorter than its rows say, is left as it is
        and named; one gone meanwhile (another ``gc`` rewrote it) is skipped."""
        contents = self.store.artifact_pack_contents()
        names = list(contents)
        # sizes from the listing; asked for a pack written since (or a store that gives none)
        sizes: dict[str, int | None] = {b.digest: b.size for b in listed if b.size is not None}
        unlisted = [pack for pack in names if pack not in sizes]
        threads = HAS_THREADS if self.blobs.remote else 1
        sizes.update(zip(unlisted, map_threads(self._blob_size, unlisted, threads), strict=True))
        freed: dict[str, int] = {}
        damaged: list[str] = []
        for pack in names:
            live, size = contents[pack], sizes[pack]
            kept = sum(f.size for f in live)
            if size is None or kept >= size * repack_below:
                continue
            beyond = [f for f in live if (f.offset or 0) + f.size > size]
            try:
                if beyond:
                    raise packs.PackDamaged(beyond[0], f"pack {pack} is shorter than recorded")
                if not dry_run:
                    self.store.move_packed_files(
                        pack, packs.rewrite(self.blobs, live, WRITERS), self.blobs
                    )
            except packs.PackDamaged as exc:
                owner = self.store.packed_file_owner(pack, exc.file.digest)
                damaged.append(f"{owner}: {exc.args[0]} (the pack is left as it is)")
                continue
            except (BlobNotFound, FileNotFoundError):
                continue
            freed[pack] = size - kept
        return freed, damaged

    def _blob_size(self, digest: str) -> int | None:
        try:
            return self.blobs.size(digest)
        except BlobNotFound:
            return None

    def _orphans(
        self, sweep: Any, doomed: set[str], listed: list[Listed], older_than: float = 3600.0
    ) -> tuple[dict[str, int], Waiting]:
        """Blobs no row names: packs and copies a writer published and died before
        recording, and the blobs of deleted runs' artifacts. On every blob store (a bucket
        too), aged by the listing's times. Which writer published a blob is not known, so
        none goes while a process of this host is writing a snapshot or an artifact (its
        blobs may be among them, about to be recorded); while only writers that cannot be
        checked (another host) are, those older than ``older_than`` go; else all. The
        writers are asked *after* listing the blobs: a writer that starts later wrote none
        of those. ``doomed``: blobs the sweep's results delete already (not counted again).

        An artifact logged while the database could not be written has no row until the
        replay: its writer left a hold in the blob store (:mod:`..store.blob_holds`), read
        after the listing, which keeps the blobs it names; a hold naming none yet is a
        writer storing them, busy as a live one while young. This host's spool is read too
        (a spool written before holds).

        Returns the orphans to delete, each with its size, and what was left for a later
        ``gc`` and why: a user whose bucket does not shrink is told what holds it up, not
        "0 orphans"."""
        recorded = set(sweep.kept) | sweep.files | doomed | self.store.artifact_blobs()
        known = set(recorded)
        spooled = spooled_blobs(self.store.url)
        if spooled is None:  # a spool that cannot be read may name any of them
            why = f"this host's spool ({spool_path(self.store.url)}) could not be read"
            return {}, _unnamed_wait(why, listed, known)
        known |= spooled
        now = time.time()
        stale_hold = False
        busy: list[blob_holds.Hold] = []
        for hold in blob_holds.holds(self.blobs):
            known |= hold.digests
            if hold.busy:
                if not hold.readable or now - hold.written_at < older_than:
                    busy.append(hold)
                else:
                    stale_hold = True  # its writer may have died: as another host's
        # kept for artifacts a spool holds (waiting for a replay, or refused and kept aside)
        spooled_count = sum(1 for b in listed if b.digest in known and b.digest not in recorded)
        orphans, waits = self._unnamed(sweep, listed, known, busy, stale_hold, now, older_than)
        return orphans, waits.also(spooled_count, SPOOLED_WHY)

    def _unnamed(
        self,
        sweep: Any,
        listed: list[Listed],
        known: set[str],
        busy: list[blob_holds.Hold],
        stale_hold: bool,
        now: float,
        older_than: float,
    ) -> tuple[dict[str, int], Waiting]:
        """The orphans among the blobs ``known`` does not name, or why they must wait."""
        if busy:  # (one that cannot be read may name any of them)
            return {}, _unnamed_wait(_busy_holds(busy, now), listed, known)
        orphans_listed = [blob for blob in listed if blob.digest not in known]
        if not orphans_listed:
            return {}, NOTHING_WAITING
        # a pending artifact's writer counts as a snapshot's: its blobs may be among them
        writers = sweep.writers | self.store.snapshot_writers() | self.store.artifact_writers()
        if "alive" in writers:
            why = "a process on this host is writing a snapshot or an artifact"
            return {}, _unnamed_wait(why, orphans_listed, known)
        young_too = "unknown" not in writers and not stale_hold
        cutoff = now - older_than
        orphans: dict[str, int] = {}  # each with its size (0 where the listing gave none)
        young = 0
        for digest, written_at, size in orphans_listed:
            if self.store.pack_in_use(digest):
                continue
            if not young_too and (written_at is None or written_at > cutoff):
                young += 1  # (a store that gives no times: only when no writer may be busy)
                continue
            if self._is_file_blob(digest):
                continue
            orphans[digest] = size or 0
        if not young:
            return orphans, NOTHING_WAITING
        minutes = round(older_than / 60)
        who = (
            "an artifact's writer stopped storing it"
            if stale_hold and "unknown" not in writers
            else "a writer on another host may still record them"
        )
        return orphans, Waiting(young, f"younger than {minutes} minutes, and {who}")

    def _is_file_blob(self, digest: str) -> bool:
        try:
            self.store.get_snapshot(digest)
        except SnapshotNotFound:
            return False
        return True


@dataclass(frozen=True)
class Waiting:
    """Unrecorded blobs ``gc`` left for a later run, and why (``None`` when none were)."""

    count: int
    why: str | None

    def also(self, count: int, why: str) -> Waiting:
        """These, and ``count`` more kept for ``why``."""
        if not count:
            return self
        if not self.count:
            return Waiting(count, why)
        return Waiting(self.count + count, f"{self.why}; and {count}: {why}")


NOTHING_WAITING = Waiting(0, None)
#: Why blobs named only by artifacts in a spool wait (see :class:`Waiting.also`).
SPOOLED_WHY = (
    "artifacts in a spool name them, not yet in the store (`mltrack sync` writes them, and"
    " lists those the store refused)"
)


def _unnamed_wait(why: str, candidates: Iterable[Listed], known: set[str]) -> Waiting:
    """The blobs among ``candidates`` that ``known`` does not name, kept for ``why``."""
    count = sum(1 for blob in candidates if blob.digest not in known)
    return Waiting(count, why if count else None)


def _busy_holds(busy: list[blob_holds.Hold], now: float) -> str:
    """Why busy holds keep every unrecorded blob, naming the first."""
    first = busy[0]
    if not first.readable:
        what = f"hold {first.name} in the blob store could not be read"
    else:
        what = (
            f"an artifact is being stored (hold {first.name}, {now - first.written_at:.0f} s old)"
        )
    return what if len(busy) == 1 else f"{what}, and {len(busy) - 1} more"
