"""Writing artifacts into the blob store and reading them back.

An artifact is a set of files (one for a file or a text, several for a folder, a figure or a
model), each stored as a content-addressed blob of the store the snapshots use: the same
bytes logged twice, by one run or by two, are stored once, and logging an unchanged file
again costs a stat (its digest is cached by ``fingerprint_file``). A folder's files are
hashed in the calling thread (from the page cache, xxh3 outruns any thread handover), and
only the blobs the store lacks are copied, by several threads at once, and made durable
together (:func:`..store.blob_files.write_batch`). A large file is copied into a local store
while it is hashed, and the copy dropped if the store turns out to have its bytes.

Writing is crash-safe and gc-safe (see :mod:`..store.artifact_records`): the artifact is
``pending`` while its blobs are written, and recorded ``complete`` with its files at once.
"""

from __future__ import annotations

import contextlib
import io
import mimetypes
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ..store import blob_holds
from ..store.blob_files import BatchSource, FileChanged, HashedFile, StagedCopy
from ..store.blobs import BlobNotFound, BlobStore, LocalBlobStore, digest_bytes
from ..store.entities import Artifact, ArtifactFile, placed
from ..store.errors import StoreError, StoreUnavailable
from . import packs

if TYPE_CHECKING:
    from ..store.store import Store

#: Longest artifact name (``ArtifactRow.name``).
MAX_NAME = 512
#: Threads copying a folder's files into the blob store (and out of it): each mostly
#: waits for the disk (its fsyncs), so more threads than cores keep the disk busier.
WRITERS = 8
#: A file up to this size whose digest is not cached is read once, hashed, and stored from
#: those bytes (opening and reading it a second time to copy it cost more than the copy).
SMALL_FILE = 1 << 20
#: ... as long as the bytes so kept for one artifact stay under this.
HELD_BYTES = 256 << 20
#: Files from this size on are copied into a local store while they are hashed.
STAGE_FROM = 16 << 20
#: At most this many such copies run at once (each is a thread and a stream of writes).
STAGED_AT_ONCE = 2
#: Pauses before the second and later tries of a log whose file changed under it (each
#: try hashes the files anew): a file still written from time to time (a training log) is
#: stored as it was at one moment, once it holds still that long.
RETRY_PAUSES = (0.02, 0.1)
#: Kinds whose one-file artifacts :func:`materialize` writes as that file, not a folder.
ONE_FILE_KINDS = ("file", "text", "dict")

_T = TypeVar("_T")
_R = TypeVar("_R")


class ArtifactError(ValueError):
    """An artifact cannot be logged as asked (a bad name, a missing path…)."""


@dataclass(frozen=True)
class Source:
    """One file to store: its path inside the artifact and either a file or bytes."""

    path: str
    file: str | None = None
    data: bytes | None = None


def check_name(name: str) -> str:
    """``name`` if it is a usable artifact name: a relative POSIX path of at most
    ``MAX_NAME`` characters with no ``..`` or empty segment (it becomes a path when the
    artifact is written out, so it must stay inside the folder it is written to)."""
    if not isinstance(name, str) or not name.strip():
        raise ArtifactError(f"an artifact name is a non-empty string, not {name!r}")
    if len(name) > MAX_NAME:
        raise ArtifactError(f"an artifact name is at most {MAX_NAME} characters")
    if "\x00" in name or "\\" in name:
        raise ArtifactError(f"artifact name {name!r}: no NUL or backslash")
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ArtifactError(
            f"artifact name {name!r}: a relative path like 'plots/roc.png', without "
            "'..', '.' or empty parts"
        )
    return name


def media_type_of(path: str) -> str:
    """The media type a preview uses for a file, by its extension."""
    lower = path.lower()
    if lower.endswith((".yaml", ".yml")):
        return "application/yaml"
    if lower.endswith((".md", ".markdown")):
        return "text/markdown"
    if lower.endswith((".py", ".toml", ".cfg", ".ini", ".log", ".txt", ".tsv")):
        return "text/plain"
    if lower.endswith(".parquet"):
        return "application/vnd.apache.parquet"  # (models.tables.PARQUET)
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


def folder_sources(folder: str | os.PathLike[str]) -> list[Source]:
    """Every regular file under ``folder`` (symlinks to files followed, to folders not:
    a link cycle cannot loop), by path relative to it: each folder's files by name, then
    its subfolders by name. Unreadable subfolders are skipped, as ``os.walk`` does.

    A directory entry says whether it is a regular file without a stat (``os.walk`` and
    ``os.path.isfile`` took two per file: a fifth of logging an unchanged folder)."""
    out: list[Source] = []

    def walk(here: str, prefix: str) -> None:
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        subdirs = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry)
            elif entry.is_file():  # follows a link; not a dangling link, a socket, a fifo
                out.append(Source(prefix + entry.name, file=entry.path))
        for entry in subdirs:
            walk(entry.path, f"{prefix}{entry.name}/")

    walk(os.fspath(folder), "")
    return out


def write_artifact(
    store: Store,
    run_id: str,
    name: str,
    kind: str,
    sources: Sequence[Source],
    *,
    meta: Mapping[str, Any] | None = None,
    media_type: str | None = None,
    blobs: BlobStore | None = None,
) -> Artifact:
    """Store ``sources`` as artifact ``name`` of ``run_id`` and return it (with files).

    Every file is hashed (an unchanged file costs a stat: its digest is cached); the files
    are claimed (:meth:`~..store.artifact_records.ArtifactRecords.claim_artifact_files`: gc
    keeps their blobs from then on); the blobs the store lacks are written, ``WRITERS`` at a
    time, each checked for without any lock held; then the artifact is marked complete.
    Many new small files are written as a few packs (:mod:`.packs`), and bytes an artifact
    keeps in a pack already are not written again. On a remote store (S3) the blobs the
    records say are stored are not checked for, and new bytes are written without asking
    first (:attr:`~..store.blobs.BlobStore.remote`).
    Bytes that appear twice in one artifact are written once. A failure leaves nothing
    recorded (the pending row and its claimed files are removed).

    A file that changes between its hash and its copy is never stored under the digest of
    other bytes: the log is tried again from its hash, after ``RETRY_PAUSES``, then fails
    (:class:`~..store.blob_files.FileChanged`)."""
    pauses = iter(RETRY_PAUSES)
    while True:
        try:
            return _write_once(store, run_id, name, kind, sources, meta, media_type, blobs)
        except FileChanged as exc:
            pause = next(pauses, None)
            if pause is None and not RETRY_PAUSES:
                raise
            if pause is None:
                raise FileChanged(
                    exc.errno,
                    f"the file changed each of the {len(RETRY_PAUSES) + 1} times it was "
                    "logged: log it once it is no longer being written",
                    exc.filename,
                ) from None
            time.sleep(pause)


def _write_once(
    store: Store,
    run_id: str,
    name: str,
    kind: str,
    sources: Sequence[Source],
    meta: Mapping[str, Any] | None,
    media_type: str | None,
    blobs: BlobStore | None,
) -> Artifact:
    """One try of :func:`write_artifact`."""
    check_name(name)
    blobs = blobs or store.blobs
    meta = dict(meta or {})
    paths = [s.path for s in sources]
    if len(set(paths)) != len(paths):
        raise ArtifactError(f"artifact {name!r} lists a file twice")
    remote = blobs.remote
    large = _to_stage(blobs, sources)
    staged: dict[int, StagedCopy] = {}
    begun = False
    try:
        if large:  # the pending row first: gc spares a live writer's unrecorded copies
            store.begin_artifact(run_id, name, kind, meta=meta, media_type=media_type)
            begun = True
            staged = _stage(blobs, large)
        # hashed in this thread: for 1,000 files of 1-150 KB (77 MB) two threads took 31 ms
        # and one 26 (the reads are from the page cache, xxh3 does 10 GB/s), and 9 ms
        # against 5 when every digest was cached
        files, source_of = _describe_all(sources, staged)
        # claimed first: gc keeps these blobs from now on, so which exist can be asked
        # without its lock (a blob it deleted before the claim is found missing, and stored).
        # A remote store is not asked about the blobs the records say are stored, and may
        # write the others unasked (see BlobStore.remote)
        if begun:
            stored = store.claim_artifact_files(run_id, name, files, known=remote)
        else:  # nothing written yet: begun and claimed in one transaction
            stored = store.open_artifact(
                run_id, name, kind, files, meta=meta, media_type=media_type, known=remote
            )
            begun = True
        files = placed(files, {d: at for d, at in stored.items() if at is not None})
        unstored = {d: s for d, s in source_of.items() if d not in stored}
        written = 0
        to_pack = packs.packable(files, unstored)
        if to_pack:  # many new small files: a few blobs, not one each
            where, written = packs.write_packs(blobs, to_pack, unstored, WRITERS)
            files = placed(files, where)
            for digest in where:
                del unstored[digest]
        written += sum(blobs.put_many(list(unstored.items()), WRITERS, check=not remote))
        return store.complete_artifact(
            run_id, name, files, meta={**meta, "stored_bytes": written}, packed=bool(to_pack)
        )
    except StoreUnavailable:  # the database cannot be written: spooled, if it can be
        if begun or not hasattr(store, "spool_artifact"):
            _abandon(store, run_id, name, begun)
            raise
    except BaseException:
        _abandon(store, run_id, name, begun)
        raise
    finally:
        for copy in staged.values():  # (one the batch used is gone already)
            copy.discard(wait=False)
    return _spooled(store, run_id, name, kind, sources, blobs, meta, media_type)


def _abandon(store: Store, run_id: str, name: str, begun: bool) -> None:
    """Forget the pending artifact a failed log began (nothing if it began none)."""
    if begun:
        with contextlib.suppress(Exception):
            store.abandon_artifact(run_id, name)


def _spooled(
    store: Any,
    run_id: str,
    name: str,
    kind: str,
    sources: Sequence[Source],
    blobs: BlobStore,
    meta: dict[str, Any],
    media_type: str | None,
) -> Artifact:
    """The database cannot be written now (a ``SpoolingStore`` gone offline): the blobs
    are stored, and the artifact's record kept in the spool for when it is back. Until
    then no row names the blobs: a hold in the blob store keeps them from every ``gc``
    (:mod:`..store.blob_holds`), left before they are stored, dropped by the replay."""
    hold = blob_holds.new_hold(blobs)
    try:
        files, written = _store_all(blobs, sources)
        blob_holds.put_hold(blobs, hold, [d for f in files for d in (f.digest, f.pack) if d])
    except BaseException:
        blob_holds.drop_hold(blobs, hold)
        raise
    meta = {**meta, "stored_bytes": written}
    store.spool_artifact(run_id, name, kind, files, meta=meta, media_type=media_type, hold=hold)
    return Artifact(
        run_id=run_id,
        name=name,
        kind=kind,
        size=sum(f.size for f in files),
        file_count=len(files),
        media_type=media_type,
        meta=meta,
        created_at=time.time(),
        status="spooled",
        files=tuple(files),
    )


def _store_all(blobs: BlobStore, sources: Sequence[Source]) -> tuple[list[ArtifactFile], int]:
    """Each source's file record and the bytes newly written, in the sources' order, with
    no record to say what is stored (the database is away): a local store is asked (a stat
    per blob), a remote one is sent the packs unasked, and ``put_many`` skips the loose
    blobs it has. Many new small files are packed, as :func:`write_artifact` packs them;
    the records say where (``ArtifactFile.pack``)."""
    files, source_of = _describe_all(sources, {})
    unstored = {d: s for d, s in source_of.items() if blobs.remote or not blobs.has(d)}
    written = 0
    to_pack = packs.packable(files, unstored)
    if to_pack:
        where, written = packs.write_packs(blobs, to_pack, unstored, WRITERS)
        files = placed(files, where)
        for digest in where:
            del unstored[digest]
    return files, written + sum(blobs.put_many(list(unstored.items()), WRITERS))


def _to_stage(blobs: BlobStore, sources: Sequence[Source]) -> dict[int, str]:
    """Which sources to copy into a local store before their digests are known: the first
    ``STAGED_AT_ONCE`` large files whose digests are not cached. Each is copied while it is
    hashed (two cores, one page cache), and the copy dropped if the store has its bytes. A
    cached digest costs a stat, so such a file is never copied ahead. By index: the path."""
    if not isinstance(blobs, LocalBlobStore):
        return {}
    from ..snapshots.fingerprint import cached_file_digest

    large: dict[int, str] = {}
    for i, source in enumerate(sources):
        if len(large) == STAGED_AT_ONCE:
            break
        if source.file is None or cached_file_digest(source.file) is not None:
            continue
        with contextlib.suppress(OSError):
            if os.stat(source.file).st_size >= STAGE_FROM:
                large[i] = source.file
    return large


def _stage(blobs: BlobStore, large: Mapping[int, str]) -> dict[int, StagedCopy]:
    """The copies of :func:`_to_stage`'s files, started now (a local store's only)."""
    if not large or not isinstance(blobs, LocalBlobStore):
        return {}
    return {i: blobs.stage_file(path) for i, path in large.items()}


def _describe_all(
    sources: Sequence[Source], staged: Mapping[int, StagedCopy]
) -> tuple[list[ArtifactFile], dict[str, BatchSource]]:
    """Each source's file record (its digest and size: from the cache ``fingerprint_file``
    keeps by stat, when unchanged), and ``digest -> what to copy in`` for the first source
    with each digest: a staged copy if it holds the file as hashed, else the file or bytes."""
    from ..snapshots.fingerprint import read_small_file

    files: list[ArtifactFile] = []
    source_of: dict[str, BatchSource] = {}
    held = 0  # bytes of small files kept in memory
    for i, source in enumerate(sources):
        if source.data is not None:
            f = ArtifactFile(source.path, digest_bytes(source.data), len(source.data))
            what: BatchSource = source.data
        else:
            assert source.file is not None
            fp, data = read_small_file(source.file, SMALL_FILE if held < HELD_BYTES else 0)
            f = ArtifactFile(source.path, fp.digest, fp.size)
            copy = staged.get(i)
            if data is not None:  # read once: hashed, and stored from memory if new
                what, held = data, held + len(data)
            elif copy is not None:  # used if the file stayed as hashed, else copied again
                what = copy.expect(fp.size, fp.mtime_ns)
            else:  # a remote store sends it unasked if it is still the file hashed
                what = HashedFile(source.file, fp.size, fp.mtime_ns)
        files.append(f)
        source_of.setdefault(f.digest, what)
    return files, source_of


def describe_sources(
    sources: Sequence[Source],
) -> tuple[list[ArtifactFile], dict[str, BatchSource]]:
    """Each source's ``(path, digest, size)`` record, and ``digest -> what to copy in`` for
    the first source with each digest (a small file's bytes as hashed, else its path): what
    a folder snapshot stores its files with, as an artifact does (no staged copies)."""
    return _describe_all(sources, {})


# reading ------------------------------------------------------------------------------------------


def open_file(store: Store, artifact: Artifact, path: str | None = None) -> BinaryIO:
    """A reader of one file of ``artifact`` (its primary file without ``path``)."""

    def read(art: Artifact) -> BinaryIO:
        f = art.file(path)
        if f.pack is not None:
            return io.BytesIO(packs.read_packed(store.blobs, f))
        return store.blobs.open(f.digest)

    return _with_fresh_rows(store, artifact, read)


def read_bytes(
    store: Store, artifact: Artifact, path: str | None = None, *, limit: int = -1
) -> bytes:
    """The bytes of one file (at most ``limit`` when given)."""
    with open_file(store, artifact, path) as fh:
        return fh.read(limit) if limit >= 0 else fh.read()


def materialize(
    store: Store, artifact: Artifact, dest: str | os.PathLike[str], *, link: bool = True
) -> Path:
    """Write ``artifact``'s files under ``dest`` (created), keeping their paths; returns the
    file itself for a one-file artifact of kind ``file``/``text``/``dict``, else ``dest``.

    With a local blob store and ``link``, files are hard links to the blobs where the
    filesystem allows (instant, no space): only for readers that do not write to them,
    as model loaders; else copies. A file kept in a pack is always a copy."""
    root = Path(dest)

    def place(art: Artifact) -> list[str]:
        files = list(art.files)
        return place_files(
            store.blobs,
            [(f.path, f.digest, f.size) for f in files],
            root,
            link=link,
            packed={i: f for i, f in enumerate(files) if f.pack is not None},
        )

    try:
        targets = _with_fresh_rows(store, artifact, place)
    except BlobNotFound as exc:
        raise BlobNotFound(
            f"artifact {artifact.name!r} of run {artifact.run_id}: {exc.args[0]}"
        ) from None
    if artifact.kind in ONE_FILE_KINDS and len(targets) == 1:
        return Path(targets[0])
    return root


def _with_fresh_rows(store: Store, artifact: Artifact, read: Callable[[Artifact], _T]) -> _T:
    """``read(artifact)``; if a blob it was told about is gone, ``read`` once more of the
    artifact as its rows say now. Every read of an artifact's files goes through here.

    ``gc`` rewrites a pack most of whose bytes are dead: it copies the live files to a new
    pack, moves their rows there, then deletes the old pack. A reader that read the rows
    before the move and the pack after the deletion finds the pack gone, where the rows
    read now say where the bytes went. Rows that did not change mean the blob is gone for
    good (removed by hand, or the artifact deleted): the first error stands."""
    try:
        return read(artifact)
    except BlobNotFound:
        fresh = _moved(store, artifact)
        if fresh is None:
            raise
    return read(fresh)


def _moved(store: Store, artifact: Artifact) -> Artifact | None:
    """``artifact`` read again if its packed files' rows changed since it was read (only a
    pack is ever rewritten), else ``None``."""
    if not any(f.pack for f in artifact.files):
        return None
    try:
        fresh = store.get_artifact(artifact.run_id, artifact.name)
    except StoreError:  # deleted since, or a spooled one the database does not have yet
        return None
    return fresh if fresh.files != artifact.files else None


def place_files(
    blobs: BlobStore,
    files: Sequence[tuple[str, str, int]],
    root: str | os.PathLike[str],
    *,
    link: bool = True,
    local: Mapping[str, str] | None = None,
    packed: Mapping[int, ArtifactFile] | None = None,
) -> list[str]:
    """Write each ``(relative posix path, blob digest, size)`` under ``root`` (created); the
    paths written, in order. An artifact's files and a folder snapshot's are written out
    by this one function.

    Read from the local blob store's own files, or from ``local`` (``digest -> path``:
    blobs of a remote store already in the local cache), linked there where ``link`` and
    the filesystem allow (instant, no space: for readers that do not write to them), else
    copied; any other blob is downloaded from ``blobs``. ``packed`` (``index in files ->
    its record``): the files an artifact keeps in packs, read as ranges of them."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    store = blobs if isinstance(blobs, LocalBlobStore) else None
    known = dict(local or {})
    targets = [os.path.join(root, *path.split("/")) for path, _, _ in files]
    for folder in sorted({os.path.dirname(t) for t in targets}):  # once each, not per file
        os.makedirs(folder, exist_ok=True)

    for target in targets:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)  # (a hard link to a blob must not be written through)
    fetched = []
    in_packs = []
    for i, ((_, digest, size), target) in enumerate(zip(files, targets, strict=True)):
        if packed and i in packed:
            in_packs.append((packed[i], target))
            continue
        blob = known.get(digest) or (store.file_path(digest) if store is not None else None)
        if blob is None:
            fetched.append((digest, size, target))
            continue
        # One thread for local files: copies within the page cache are the CPU's work, and
        # threads creating files in the same folders only wait for each other (8 threads
        # took 125 ms for 1,000 files, one 97 ms).
        if link:
            try:
                os.link(blob, target)
                continue
            except OSError:
                pass
        try:
            shutil.copyfile(blob, target)  # the kernel copies (sendfile)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
    # From a remote store, all at once (on S3: one GET per file, its size known from the
    # record, each checked against its digest); a blob gone is an error, named by the caller.
    blobs.copy_out(fetched, WRITERS)
    if in_packs:
        packs.write_packed(blobs, in_packs, WRITERS)
    return targets


@contextlib.contextmanager
def checked_out(store: Store, artifact: Artifact) -> Iterator[Path]:
    """A temporary folder holding ``artifact``'s files (linked where possible), removed
    after: where a model is loaded from."""
    folder = tempfile.mkdtemp(prefix="mltrack-artifact-")
    try:
        yield materialize(store, artifact, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sources_of(
    path: str | os.PathLike[str], name: str | None = None
) -> tuple[str, str, list[Source]]:
    """``(kind, name, sources)`` of a file or folder a user logs: a file keeps its base
    name, a folder lists its files under their relative paths."""
    p = Path(path)
    if p.is_dir():
        sources = folder_sources(p)
        return "folder", name or p.resolve().name, sources
    if p.is_file():
        base = posixpath.basename(name) if name else p.name
        return "file", name or p.name, [Source(base, file=str(p))]
    raise ArtifactError(f"no file or folder at {os.fspath(path)!r}")
