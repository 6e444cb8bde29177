"""Folder snapshots: a folder of files as one snapshot, named by its canonical manifest.

A folder is stored the way an artifact folder is (:mod:`..models.artifacts`): every file a
content-addressed blob of the store (so a file in two folders, or in two versions of one,
is stored once, and pushing a folder again copies only the files the store lacks), hashed
in the calling thread with the stat cache ``fingerprint_file`` keeps, written by
:meth:`~..store.blobs.BlobStore.put_many` (one durability barrier for a local store). It is
a snapshot rather than an artifact because a dataset version is a snapshot: ``gc``, the
transfer between stores, ``diff``, the run inputs and the dataset records all speak
snapshots, and a folder kind of snapshot gets all of them.

The snapshot's digest is the hash of its manifest (:func:`folder_manifest`): the files'
relative POSIX paths, sizes and digests, sorted by path, as canonical JSON; not their
mtimes, owners or the folder's name. The same content therefore has the same digest on any
machine and in any store. The layout keeps the same list (``files``: ``[path, digest,
size]``); empty subfolders are not part of a folder snapshot (as in git).

Reading one back: :meth:`FolderSnapshots.restore_folder` writes the files into a new folder
the caller chooses (writable copies); :meth:`FolderSnapshots.folder_path` hands out a
read-only folder under the cache (:mod:`.cache`, ``folders/<hex>``), built once per
snapshot from hard links to the blobs (a local store on the same filesystem) or to the
cached copies of a remote store's blobs, so a second ``get`` reads nothing remote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.blobs import BlobStore, digest_bytes
from ..store.entities import Snapshot, SnapshotStatus
from .errors import SnapshotError
from .eviction import FOLDERS_DIR  # the read-only folders ``folder_path`` hands out

if TYPE_CHECKING:
    from ..store.store import Store
    from .storage import SnapshotJob

#: The layout and manifest format of a folder snapshot; bump it if any hashed byte changes.
FOLDER_FORMAT = "mltrack-folder/1"
#: Threads copying files in (and out): the artifacts' figure (they mostly wait on the disk).
WRITERS = 8

#: One file of a folder snapshot: ``(relative posix path, blob digest, size)``.
FolderFile = tuple[str, str, int]


def folder_manifest(files: Iterable[FolderFile]) -> bytes:
    """The canonical bytes a folder snapshot's digest is taken of: the format and every
    file's path, size and digest, sorted by path (sorted keys, no spaces, ASCII)."""
    entries = [
        {"digest": digest, "path": path, "size": int(size)}
        for path, digest, size in sorted(files, key=lambda f: f[0])
    ]
    doc = {"files": entries, "format": FOLDER_FORMAT}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def folder_digest(files: Iterable[FolderFile]) -> str:
    """``xxh3-128:<hex>`` of :func:`folder_manifest`."""
    return digest_bytes(folder_manifest(files))


def folder_files(snap: Snapshot) -> list[FolderFile]:
    """The files of folder snapshot ``snap`` (from its record: no data is read), each path
    checked to stay inside the folder it is written to (a record copied from another store
    is not trusted to)."""
    if snap.kind != "folder":
        raise SnapshotError(f"snapshot {snap.short} is a {snap.kind}, not a folder")
    out: list[FolderFile] = []
    for path, digest, size in snap.layout.get("files", []):
        _check_path(str(path))
        out.append((str(path), str(digest), int(size)))
    return out


def _check_path(path: str) -> None:
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\x00" in path
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise SnapshotError(f"a folder snapshot names the file {path!r}: not a relative path")


def diff_folders(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """What changed from folder ``a`` to folder ``b``, from their manifests alone: the paths
    ``added`` and ``removed``, and those ``changed`` (another digest: ``{path, a_size,
    b_size}``), each sorted; ``unchanged`` counts the rest."""
    left = {p: (d, s) for p, d, s in folder_files(a)}
    right = {p: (d, s) for p, d, s in folder_files(b)}
    changed = [
        {"path": p, "a_size": left[p][1], "b_size": right[p][1]}
        for p in sorted(left.keys() & right.keys())
        if left[p][0] != right[p][0]
    ]
    return {
        "added": sorted(right.keys() - left.keys()),
        "removed": sorted(left.keys() - right.keys()),
        "changed": changed,
        "unchanged": len(left.keys() & right.keys()) - len(changed),
        "a_files": len(left),
        "b_files": len(right),
    }


class FolderSnapshots:
    """Taking and reading folder snapshots (a mixin of :class:`~.storage.Snapshotter`,
    which provides the attributes below)."""

    store: Store
    blobs: BlobStore
    _lock: threading.Lock

    if TYPE_CHECKING:

        def _known(self, digest: str, *, name: str | None, pin: bool) -> SnapshotJob | None: ...

        def _submit(
            self,
            snap: Snapshot,
            work: Callable[[Callable[[int, int], None]], int],
            label: str,
            progress: bool,
        ) -> SnapshotJob: ...

        def resolve(self, ref: str | Snapshot) -> Snapshot: ...

    # taking -----------------------------------------------------------------------------

    def snapshot_folder(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        pin: bool = False,
        progress: bool = True,
    ) -> SnapshotJob:
        """Hash every file under ``path`` now (an unchanged file costs a stat); copy those
        the store lacks in the background. An unchanged folder writes nothing."""
        from ..models.artifacts import describe_sources, folder_sources

        if not os.path.isdir(path):
            raise SnapshotError(f"cannot snapshot {os.fspath(path)!r}: not a folder")
        try:
            described, source_of = describe_sources(folder_sources(path))
        except OSError as exc:
            raise SnapshotError(
                f"cannot snapshot {os.fspath(path)!r}: {exc.strerror or exc} "
                f"({exc.filename or 'a file in it'})"
            ) from exc
        files = sorted(((f.path, f.digest, f.size) for f in described), key=lambda f: f[0])
        digest = folder_digest(files)
        known = self._known(digest, name=name, pin=pin)
        if known is not None:
            return known
        total = sum(size for _, _, size in files)
        snap = self.store.add_snapshot(
            digest=digest,
            kind="folder",
            rows=None,
            columns=None,
            nbytes=total,
            schema={
                "files": len(files),
                "size": total,
                "name": os.path.basename(os.path.abspath(os.fspath(path))),
            },
            layout={"format": FOLDER_FORMAT, "files": [list(f) for f in files]},
            name=name,
            pinned=pin,
        )
        if snap.status is SnapshotStatus.COMPLETE:
            from .storage import SnapshotJob

            return SnapshotJob(snap)
        items = list(source_of.items())
        return self._submit(
            snap,
            lambda report: self._store_folder(snap, items, report),
            name or snap.short,
            progress,
        )

    def _store_folder(
        self, snap: Snapshot, items: Sequence[tuple[str, Any]], report: Callable[[int, int], None]
    ) -> int:
        """Copy the files the store lacks (recorded ``pending`` first, so a ``gc`` keeps
        their blobs), check those copied from a file are what was hashed, complete."""
        from .storage import _hash_blob

        report(0, snap.nbytes)
        try:
            written = self.blobs.put_many(list(items), WRITERS)
        except OSError as exc:
            raise SnapshotError(f"cannot copy a file of the folder: {exc.strerror or exc}") from exc
        # A file copied from its path (a large one: small ones are stored from the bytes
        # that were hashed) may have changed since: its copy must be what the digest says.
        for (digest, source), n in zip(items, written, strict=True):
            if n and isinstance(source, str) and _hash_blob(self.blobs, digest) != digest:
                self.blobs.delete(digest)
                raise SnapshotError(
                    f"{source!r} changed while it was being copied; snapshot the folder again"
                )
        report(snap.nbytes, snap.nbytes)
        self.store.complete_snapshot(
            snap.digest,
            stored_bytes=sum(written),
            blobs=self.blobs,
            blob_names=[digest for digest, _ in items],
        )
        return sum(written)

    # reading ----------------------------------------------------------------------------

    def _local_blobs(self, files: Sequence[FolderFile]) -> dict[str, str] | None:
        """``digest -> local path`` of the files' blobs in the cache, downloaded there first
        if missing, when the store is remote; ``None`` when it is local (its own files are
        read) or the cache cannot be written (then blobs are read remotely)."""
        from .cache import cached_many, is_remote, try_cache

        if not is_remote(self.blobs):
            return None
        cache = try_cache()
        if cache is None:
            return None
        return cached_many(self.blobs, cache, (d for _, d, _ in files))

    def restore_folder(self, ref: str | Snapshot, dest: str | os.PathLike[str]) -> Path:
        """Write folder snapshot ``ref``'s files into ``dest`` (a new or empty folder), as
        writable copies; returns ``dest``."""
        from ..models.artifacts import place_files

        snap = self.resolve(ref)
        files = folder_files(snap)
        out = Path(dest)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise SnapshotError(
                f"cannot restore folder snapshot {snap.short} into {os.fspath(dest)!r}: it "
                "exists and is not an empty folder (the folder is restored exactly, so into "
                "a new one)"
            )
        local = self._local_blobs(files)
        place_files(self.blobs, list(files), out, link=False, local=local)
        return out

    def folder_path(self, ref: str | Snapshot) -> Path:
        """A local, read-only folder holding folder snapshot ``ref``'s files: built once per
        snapshot under the cache (``folders/<hex>``) and reused while its files are there
        with their sizes (one stat each); rebuilt if anything was removed from it."""
        from ..models.artifacts import place_files
        from .cache import cache_dir
        from .eviction import evict_if_over

        snap = self.resolve(ref)
        files = folder_files(snap)
        root = cache_dir() / FOLDERS_DIR
        final = root / snap.digest.partition(":")[2]
        if _intact(final, files):
            _used(final, files)
            return final
        root.mkdir(parents=True, exist_ok=True)
        local = self._local_blobs(files)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            place_files(self.blobs, list(files), tmp, link=True, local=local)
            for path, _, _ in files:  # read-only, as the blobs they may be links to are
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(tmp, *path.split("/")), 0o444)
            if final.exists():  # damaged (checked above), or built meanwhile by another
                if _intact(final, files):
                    return final
                _remove(final)
            try:
                os.rename(tmp, final)
            except OSError:  # another process published it first
                if not _intact(final, files):
                    raise
        finally:
            if tmp.exists():
                _remove(tmp)
        evict_if_over(root.parent)
        return final


def _used(folder: Path, files: Sequence[FolderFile]) -> None:
    """Mark a handed-out folder used now, and its files (hard links to the cache's blobs:
    the same inodes), so that eviction removes neither before what was used longer ago."""
    from .eviction import touch

    touch(folder)
    for path, _, _ in files:
        touch(os.path.join(folder, *path.split("/")))


def _intact(folder: Path, files: Sequence[FolderFile]) -> bool:
    """Whether ``folder`` holds each file at its size (the cache may have been edited)."""
    if not folder.is_dir():
        return False
    for path, _, size in files:
        try:
            if os.stat(os.path.join(folder, *path.split("/"))).st_size != size:
                return False
        except OSError:
            return False
    return True


def _remove(folder: Path) -> None:
    """Remove a folder built here, or a damaged one (its files are read-only, its folders
    not: removing a file needs only its folder's permission)."""
    shutil.rmtree(folder, ignore_errors=True)
