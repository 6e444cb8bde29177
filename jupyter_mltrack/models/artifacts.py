"""Writing artifacts into the blob store and reading them back.

An artifact is a set of files (one for a file or a text, several for a folder, a figure or a
model), each stored as a content-addressed blob of the store the snapshots use: the same
bytes logged twice, by one run or by two, are stored once, and logging an unchanged file
again costs a stat (its digest is cached by ``fingerprint_file``). A folder's files are
hashed and copied by a pool of threads (xxh3 and the kernel's copy release the GIL), which is
what makes logging a folder of many small files fast.

Writing is crash-safe and gc-safe (see :mod:`..store.artifact_records`): the artifact is
``pending`` while its blobs are written, and recorded ``complete`` with its files at once.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..store.blobs import BlobStore, LocalBlobStore, digest_bytes
from ..store.entities import Artifact, ArtifactFile
from ..store.errors import StoreUnavailable

if TYPE_CHECKING:
    from ..store.store import Store

#: Longest artifact name (``ArtifactRow.name``).
MAX_NAME = 512
#: Threads hashing and copying a folder's files.
WRITERS = 8
#: Tries at completing an artifact whose blobs a concurrent ``gc`` removed meanwhile.
_COMPLETE_TRIES = 3


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
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


def folder_sources(folder: str | os.PathLike[str]) -> list[Source]:
    """Every regular file under ``folder`` (symlinks to files followed, to folders not:
    a link cycle cannot loop), by path relative to it."""
    root = Path(folder)
    out: list[Source] = []
    for here, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(here, name)
            if not os.path.isfile(full):  # a dangling link, a socket, a fifo
                continue
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out.append(Source(rel, file=full))
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

    Files are hashed and copied in parallel; bytes already in the blob store are not
    written again. A failure leaves nothing recorded (the pending row is removed)."""
    check_name(name)
    blobs = blobs or store.blobs
    meta = dict(meta or {})
    paths = [s.path for s in sources]
    if len(set(paths)) != len(paths):
        raise ArtifactError(f"artifact {name!r} lists a file twice")
    try:
        store.begin_artifact(run_id, name, kind, meta=meta, media_type=media_type)
    except StoreUnavailable:
        if not hasattr(store, "spool_artifact"):
            raise
        return _spooled(store, run_id, name, kind, sources, blobs, meta, media_type)
    try:
        files, written = _store_all(blobs, sources)
        for _ in range(_COMPLETE_TRIES):
            missing = store.complete_artifact(
                run_id, name, files, blobs=blobs, meta={**meta, "stored_bytes": written}
            )
            if not missing:
                break
            again = set(missing)
            _store_all(blobs, [s for s, f in zip(sources, files, strict=True) if f.digest in again])
        else:
            raise OSError(f"artifact {name!r}: its blobs kept disappearing (a gc running?)")
    except BaseException:
        with contextlib.suppress(Exception):
            store.abandon_artifact(run_id, name)
        raise
    return store.get_artifact(run_id, name)


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
    are stored, and the artifact's record kept in the spool for when it is back."""
    files, written = _store_all(blobs, sources)
    meta = {**meta, "stored_bytes": written}
    store.spool_artifact(run_id, name, kind, files, meta=meta, media_type=media_type)
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
    """Each source's file record and the bytes newly written, in the sources' order."""
    if len(sources) <= 1:
        results = [_store_one(blobs, s) for s in sources]
    else:
        with ThreadPoolExecutor(min(WRITERS, len(sources))) as pool:
            results = list(pool.map(lambda s: _store_one(blobs, s), sources))
    return [f for f, _ in results], sum(n for _, n in results)


def _store_one(blobs: BlobStore, source: Source) -> tuple[ArtifactFile, int]:
    if source.data is not None:
        digest = digest_bytes(source.data)
        written = blobs.put_bytes(digest, source.data)
        return ArtifactFile(source.path, digest, len(source.data)), written
    assert source.file is not None
    from ..snapshots.fingerprint import fingerprint_file

    fp = fingerprint_file(source.file)
    written = blobs.put_file(fp.digest, source.file)
    return ArtifactFile(source.path, fp.digest, fp.size), written


# reading ------------------------------------------------------------------------------------------


def open_file(store: Store, artifact: Artifact, path: str | None = None) -> BinaryIO:
    """A reader of one file of ``artifact`` (its primary file without ``path``)."""
    return store.blobs.open(artifact.file(path).digest)


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
    as model loaders; else copies."""
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    blobs = store.blobs
    local = isinstance(blobs, LocalBlobStore)

    def place(f: ArtifactFile) -> None:
        target = root.joinpath(*f.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        if local and link:
            with contextlib.suppress(OSError):
                os.link(blobs.path_of(f.digest), target)  # type: ignore[attr-defined]
                return
        with blobs.open(f.digest) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)

    files = list(artifact.files)
    if len(files) > 1:
        with ThreadPoolExecutor(min(WRITERS, len(files))) as pool:
            list(pool.map(place, files))
    else:
        for f in files:
            place(f)
    if artifact.kind in ("file", "text", "dict") and len(files) == 1:
        return root.joinpath(*files[0].path.split("/"))
    return root


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
