"""Content-addressed blob storage for dataset snapshot blocks and copied files.

A blob is named by the digest of what it holds (``xxh3-128:<32 hex>``), so a blob is
written once and never changed: storing the same block again costs nothing, and two
runs that share data share its bytes. This module only moves bytes; deciding *which*
digest a block has is the fingerprinting code's job.

Guarantees every implementation keeps:

* No partial blob is ever visible under its final name. Bytes go to a temporary name in
  the same directory, are flushed to disk, then published with one atomic step. A process
  killed mid-write leaves at most a ``.tmp-*`` file that :meth:`BlobStore.iter_digests`
  never lists and ``cleanup_temp`` removes: at once when the name's writer (its pid and
  host are in the name) is gone, else once it is old.
* ``put_*`` never rewrites an existing blob and reports 0 bytes written for it, so an
  unchanged re-snapshot is observably free.
* Digests are validated before they touch a path, so a digest read back from a database
  or a URL can never escape the store's root.
* A user's file is copied (a reflink where the filesystem allows), never hard-linked or
  symlinked: editing the original later must not change what a run recorded.

The embedded default is :class:`LocalBlobStore` in ``<home>/blobs`` beside
``mltrack.db``; teams can point :func:`blob_store_for` at ``s3://`` (or any fsspec URL).
"""

from __future__ import annotations

import abc
import contextlib
import datetime
import errno
import io
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from ..location import home_of
from . import blob_files
from .blob_files import CHUNK as _CHUNK
from .blob_files import HOST_TAG as _HOST_TAG
from .blob_files import TEMP_PREFIX as _TEMP_PREFIX
from .blob_files import BatchSource, fsync_dir, temp_prefix
from .threads import map_threads

__all__ = [
    "DIGEST_ALGORITHM",
    "BlobNotFound",
    "BlobStore",
    "BlobWriter",
    "FsspecBlobStore",
    "LocalBlobStore",
    "blob_store_for",
    "digest_bytes",
    "split_digest",
    "validate_digest",
]

DIGEST_ALGORITHM = "xxh3-128"

# Algorithm names are short lowercase tokens; the hex part is lowercase only, so one
# content has exactly one name (no case aliases on case-insensitive filesystems).
_DIGEST_RE = re.compile(r"^(?P<algo>[a-z0-9][a-z0-9-]{0,31}):(?P<hex>[0-9a-f]{32,128})$")
#: ``.tmp-<pid>-<host tag>-<random>``: who wrote a temp file, so that ``cleanup_temp`` can
#: remove a dead writer's at once.
_TEMP_NAME_RE = re.compile(r"^\.tmp-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-")


class BlobNotFound(KeyError):
    """The store has no blob with this digest."""


def validate_digest(digest: str) -> str:
    """Return ``digest`` unchanged if it is a well-formed name, else raise ``ValueError``.

    Only ``<algo>:<lowercase hex>`` is accepted, so no ``/``, ``..``, NUL or other
    character that could address a path outside the store can get through.
    """
    if not isinstance(digest, str) or _DIGEST_RE.fullmatch(digest) is None:
        raise ValueError(
            f"invalid blob digest {digest!r}: expected '<algorithm>:<hex>', "
            f"e.g. '{DIGEST_ALGORITHM}:' followed by 32 lowercase hex digits"
        )
    return digest


def split_digest(digest: str) -> tuple[str, str]:
    """``(algorithm, hex)`` of a validated digest."""
    algo, _, hexpart = validate_digest(digest).partition(":")
    return algo, hexpart


def digest_bytes(data: bytes | bytearray | memoryview) -> str:
    """The default digest of some bytes (``xxh3-128``): fast, and wide enough for dedup."""
    import xxhash

    return f"{DIGEST_ALGORITHM}:{xxhash.xxh3_128_hexdigest(data)}"


def digest_pieces(pieces: Sequence[bytes | bytearray | memoryview]) -> str:
    """:func:`digest_bytes` of the pieces' concatenation, without joining them."""
    import xxhash

    hasher = xxhash.xxh3_128()
    for piece in pieces:
        hasher.update(piece)
    return f"{DIGEST_ALGORITHM}:{hasher.hexdigest()}"


def _relative_parts(digest: str) -> tuple[str, str, str, str]:
    """``<algo>/<ab>/<cd>/<hex>``: an object store's key (there, folders cost nothing), and
    where a local store wrote its blobs before one fan-out level (see
    :class:`LocalBlobStore`)."""
    algo, hexpart = split_digest(digest)
    return algo, hexpart[:2], hexpart[2:4], hexpart


def _local_parts(digest: str) -> tuple[str, str, str]:
    """``<algo>/<ab>/<hex>``: a local store's blob, as git keeps its loose objects."""
    algo, hexpart = split_digest(digest)
    return algo, hexpart[:2], hexpart


class Listed(NamedTuple):
    """A blob as a listing gives it."""

    digest: str
    #: When it was last written, in seconds since the epoch (``None``: the store does not say).
    written_at: float | None
    #: Its size in bytes (``None``: the store does not say).
    size: int | None


class BlobStore(abc.ABC):
    """Where immutable, content-addressed blobs live (a local folder, S3, ...)."""

    #: Whether asking if a blob exists is a request to a server. A writer to such a store
    #: trusts the database's records of which blobs are stored rather than ask, and lets
    #: :meth:`put_many` write the others unasked where it can (``check=False``). A local
    #: store answers with a stat: it keeps checking, so a blob removed by hand comes back.
    remote = False

    @abc.abstractmethod
    def has(self, digest: str) -> bool:
        """Whether a complete blob with this digest exists."""

    @abc.abstractmethod
    def put_bytes(self, digest: str, data: bytes | bytearray | memoryview) -> int:
        """Store ``data`` under ``digest``; bytes written, 0 if it was already there."""

    @abc.abstractmethod
    def put_file(self, digest: str, path: str | os.PathLike[str]) -> int:
        """Copy the file at ``path`` in; bytes written, 0 if it was already there."""

    def put_many(
        self, items: Sequence[tuple[str, BatchSource]], threads: int, *, check: bool = True
    ) -> list[int]:
        """Store each ``(digest, file path or bytes)``, ``threads`` at a time; the bytes
        written per item, 0 for a blob that was there. A store that can make many blobs
        durable at once (a local folder) overrides this.

        ``check=False``: the caller's records do not know these blobs, so they are likely
        missing, and a store whose write of given bytes is atomic and idempotent (an object
        store's PUT) may write them without asking first; it then reports the bytes sent.
        A file is still checked: it may have changed since it was hashed, and must never
        replace a stored blob. Other stores check anyway."""

        def put(item: tuple[str, BatchSource]) -> int:
            digest, source = item
            if isinstance(source, str):
                return self.put_file(digest, source)
            if isinstance(source, blob_files.StagedCopy):
                source.discard()  # staged for a local store only: copy it afresh
                return self.put_file(digest, source.source)
            return self.put_bytes(digest, source)

        return map_threads(put, items, threads)

    @abc.abstractmethod
    def open(self, digest: str) -> BinaryIO:
        """A binary reader of the blob; raises :class:`BlobNotFound`."""

    @abc.abstractmethod
    def size(self, digest: str) -> int:
        """Size of the blob in bytes; raises :class:`BlobNotFound`."""

    @abc.abstractmethod
    def delete(self, digest: str) -> bool:
        """Remove the blob; ``True`` if it existed. Only garbage collection calls this."""

    def iter_digests(self) -> Iterator[str]:
        """Every complete blob's digest (temporary files are never listed)."""
        return (listed.digest for listed in self.listing())

    @abc.abstractmethod
    def listing(self) -> Iterator[Listed]:
        """Every complete blob with the time it was last written and its size, from one
        listing: ``gc`` tells a blob that a writer may be about to record from one left
        behind by its age, and says what deleting it freed without asking again."""

    @abc.abstractmethod
    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the blob from ``offset`` (a block inside a pack)."""

    def read_range_into(self, digest: str, offset: int, out: memoryview) -> None:
        """Fill ``out`` with the blob's bytes from ``offset`` (a reusable buffer: reading
        many blocks then touches no fresh memory)."""
        data = self.read_range(digest, offset, len(out))
        out[:] = data

    @abc.abstractmethod
    def writer(self) -> BlobWriter:
        """A new blob written as a stream, named by its digest when committed."""

    def get_bytes(self, digest: str) -> bytes:
        """The blob's whole content."""
        with self.open(digest) as fh:
            return fh.read()

    def copy_out(self, items: Sequence[tuple[str, int, str]], threads: int) -> None:
        """Write each ``(digest, recorded size, target path)`` blob to a new file at its
        target, ``threads`` at a time (the target's folder exists). A blob missing, or of
        another size than recorded, raises :class:`BlobNotFound`. A remote store overrides
        this to fetch without a request per blob to learn its size first."""

        def one(item: tuple[str, int, str]) -> None:
            digest, size, target = item
            with self.open(digest) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                if out.tell() != size:
                    raise BlobNotFound(
                        f"blob {digest} holds {out.tell()} bytes where {size} were recorded"
                    )

        map_threads(one, list(items), threads)

    def total_bytes(self) -> int:
        """Sum of all blob sizes (what ``mltrack gc`` and the UI report)."""
        total = 0
        for digest in self.iter_digests():
            with contextlib.suppress(BlobNotFound):
                total += self.size(digest)
        return total


class BlobWriter(abc.ABC):
    """A blob written piece by piece (a pack of blocks) whose name is the digest of all its
    bytes, known only at :meth:`commit`. Nothing is visible until then; :meth:`abort`
    (or an exception inside ``with``) leaves nothing behind."""

    def __init__(self) -> None:
        import xxhash

        self._hash = xxhash.xxh3_128()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append ``data``; returns the offset it starts at."""
        offset = self.size
        view = memoryview(data).cast("B")
        self._write(view)
        self._hash.update(view)
        self.size += len(view)
        return offset

    @property
    def digest(self) -> str:
        return f"{DIGEST_ALGORITHM}:{self._hash.hexdigest()}"

    @abc.abstractmethod
    def _write(self, view: memoryview) -> None: ...

    @abc.abstractmethod
    def commit(self) -> str:
        """Make the blob durable and visible; returns its digest."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Throw away what was written."""

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            self.abort()


# --------------------------------------------------------------------------- local


class LocalBlobStore(BlobStore):
    """Blobs as read-only files under ``root/<algo>/<ab>/<hex>``.

    One fan-out level of 256 folders, as git's loose objects: a new store's first folder
    of 1,000 files otherwise creates about 1,250 folders (``<ab>/<cd>``, 65,536 of them),
    which took longer than writing the files' 77 MB here (a first log 629 ms against 348).
    Stores written before kept their blobs under ``root/<algo>/<ab>/<cd>/<hex>``: those are
    read, listed and deleted where they are, and new blobs go to the one-level path, so
    both layouts live in one store and nothing is moved.

    Publication renames the durable temporary file without replacing (Linux's
    ``renameat2``), else hard-links it (both atomic and refuse to overwrite, so a blob is
    never rewritten even by racing writers), else falls back to :func:`os.replace` (atomic;
    replacing identical content is harmless) on filesystems without hard links
    (:func:`.blob_files.publish`). Names change *inside the store* only; user files are
    never linked.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path_of(self, digest: str) -> Path:
        """Final path of a blob (validated: always inside :attr:`root`)."""
        return Path(self.file_path(digest))

    def file_path(self, digest: str) -> str:
        """:meth:`path_of` as a string: the paths of the calls made once per file of a
        folder (a thousand ``Path`` objects cost more than the thousand stats they make).
        The blob's older two-level path where only that holds it."""
        path = self.new_path(digest)
        if not os.path.lexists(path):
            legacy = self._legacy_path(digest)
            if os.path.lexists(legacy):
                return legacy
        return path

    def new_path(self, digest: str) -> str:
        """Where this store writes the blob (one fan-out level)."""
        return os.sep.join((str(self.root), *_local_parts(digest)))

    def _legacy_path(self, digest: str) -> str:
        return os.sep.join((str(self.root), *_relative_parts(digest)))

    def has(self, digest: str) -> bool:
        return os.path.isfile(self.new_path(digest)) or os.path.isfile(self._legacy_path(digest))

    def put_bytes(self, digest: str, data: bytes | bytearray | memoryview) -> int:
        if self.has(digest):
            return 0
        final = self.new_path(digest)

        def fill(fd: int) -> int:
            view = memoryview(data).cast("B")
            written = 0
            while written < len(view):
                written += os.write(fd, view[written : written + _CHUNK * 16])
            return written

        return self._publish(final, fill)

    def put_file(self, digest: str, path: str | os.PathLike[str]) -> int:
        if self.has(digest):
            return 0
        final = self.new_path(digest)
        source = os.fspath(path)
        if not os.path.isfile(source):  # (a fifo would block the copy)
            raise FileNotFoundError(errno.ENOENT, "not a regular file", source)

        def fill(fd: int) -> int:
            return blob_files.copy_file_in(source, fd)  # (a HashedFile stays one)

        return self._publish(final, fill)

    def put_many(
        self, items: Sequence[tuple[str, BatchSource]], threads: int, *, check: bool = True
    ) -> list[int]:
        """Many blobs with one durability barrier for all (see :mod:`.blob_files`); each
        checked for whatever ``check`` says (a stat is cheap)."""
        return blob_files.write_batch(items, self.new_path, self.has, str(self.root), threads)

    def stage_file(self, path: str) -> blob_files.StagedCopy:
        """Start copying ``path`` into the store before its digest is known (it is being
        hashed meanwhile); hand it to :meth:`put_many` or discard it."""
        self.root.mkdir(parents=True, exist_ok=True)
        return blob_files.StagedCopy(path, str(self.root))

    def _publish(self, final: str, fill: Any) -> int:
        """Write via a temp file in ``final``'s folder, fsync, make read-only, publish."""
        parent = os.path.dirname(final)
        fd, tmp = blob_files.make_temp(parent)
        try:
            try:
                written = fill(fd)
                os.fsync(fd)
                os.fchmod(fd, 0o444)  # nothing may edit a blob in place
            finally:
                os.close(fd)
            if not blob_files.publish(tmp, final):
                return 0  # a concurrent writer published the same content first
            fsync_dir(parent)
            return written
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path_of(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def size(self, digest: str) -> int:
        try:
            return self.path_of(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        try:
            fd = os.open(self.path_of(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        try:
            data = os.pread(fd, length, offset)
        finally:
            os.close(fd)
        if len(data) != length:
            raise BlobNotFound(f"{digest} is shorter than {offset + length} bytes")
        return data

    def read_range_into(self, digest: str, offset: int, out: memoryview) -> None:
        try:
            fd = os.open(self.path_of(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        try:
            done = 0
            while done < len(out):
                n = os.preadv(fd, [out[done:]], offset + done)
                if n == 0:
                    raise BlobNotFound(f"{digest} is shorter than {offset + len(out)} bytes")
                done += n
        finally:
            os.close(fd)

    def writer(self) -> BlobWriter:
        return _LocalWriter(self)

    def delete(self, digest: str) -> bool:
        # Empty fan-out folders are left in place: removing them would race a writer
        # that has just created one and is about to make its temp file there.
        removed = False
        for path in (self.new_path(digest), self._legacy_path(digest)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                removed = True
        return removed

    def listing(self) -> Iterator[Listed]:
        if not self.root.is_dir():
            return
        for algo_dir in sorted(self.root.iterdir()):
            if not algo_dir.is_dir():
                continue
            seen: set[str] = set()  # a blob under both layouts is listed once
            for pattern, levels in (("??/*", 1), ("??/??/*", 2)):
                for path in sorted(algo_dir.glob(pattern)):
                    name = path.name
                    if name.startswith(_TEMP_PREFIX):
                        continue
                    try:
                        st = path.stat()
                    except FileNotFoundError:  # deleted since the glob
                        continue
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    digest = f"{algo_dir.name}:{name}"
                    parents = path.parents
                    fan_out = tuple(parents[i].name for i in reversed(range(levels)))
                    expected = (name[:2],) if levels == 1 else (name[:2], name[2:4])
                    if _DIGEST_RE.fullmatch(digest) and fan_out == expected and digest not in seen:
                        seen.add(digest)
                        yield Listed(digest, st.st_mtime, st.st_size)

    def total_bytes(self) -> int:
        return sum(self.path_of(d).stat().st_size for d in self.iter_digests())

    def cleanup_temp(self, older_than: float = 3600.0, *, dry_run: bool = False) -> int:
        """Remove temp files left by killed writers: those whose writer (named in the
        file's name: a process of this host) is gone, at once; those of another host, or
        named before names said whose, once older than ``older_than`` seconds. A live
        writer's temp file is left alone, so this is safe to run while other processes
        write. Returns how many files were (or, ``dry_run``, would be) removed."""
        if not self.root.is_dir():
            return 0
        from .liveness import _pid_alive

        cutoff = time.time() - older_than
        removed = 0
        stray = [
            *self.root.glob(f"{_TEMP_PREFIX}*"),
            *self.root.glob(f"*/??/{_TEMP_PREFIX}*"),
            *self.root.glob(f"*/??/??/{_TEMP_PREFIX}*"),
        ]
        for path in stray:
            try:
                mtime = path.lstat().st_mtime
                named = _TEMP_NAME_RE.match(path.name)
                if named is not None and named["host"] == _HOST_TAG:
                    # The pid given to a newer process counts only once the file is old:
                    # an mtime may come from another clock (a shared folder's server).
                    pid = int(named["pid"])
                    doomed = not _pid_alive(pid) or (mtime <= cutoff and not _pid_alive(pid, mtime))
                else:  # another host's, or from before names said whose: by age
                    doomed = mtime <= cutoff
                if doomed:
                    if not dry_run:
                        path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class _LocalWriter(BlobWriter):
    """Streams into a temporary file at the store's root, published like any blob."""

    def __init__(self, store: LocalBlobStore) -> None:
        super().__init__()
        self.store = store
        store.root.mkdir(parents=True, exist_ok=True)
        self._fd, name = tempfile.mkstemp(prefix=temp_prefix(), dir=store.root)
        self._tmp: Path | None = Path(name)

    def _write(self, view: memoryview) -> None:
        written = 0
        while written < len(view):
            written += os.write(self._fd, view[written : written + _CHUNK * 16])

    def commit(self) -> str:
        if self._tmp is None:
            raise ValueError("this blob writer is closed")
        digest = self.digest
        final = self.store.path_of(digest)
        tmp, self._tmp = self._tmp, None
        try:
            os.fsync(self._fd)
            os.fchmod(self._fd, 0o444)
        finally:
            os.close(self._fd)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if blob_files.publish(str(tmp), str(final)):  # else the same bytes were stored
                fsync_dir(final.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return digest

    def abort(self) -> None:
        if self._tmp is None:
            return
        tmp, self._tmp = self._tmp, None
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# --------------------------------------------------------------------------- fsspec

# Object stores publish a PUT atomically (the object appears only when complete) and
# "rename" there is copy + delete, so writing straight to the final key is the safe way.
_ATOMIC_PUT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"})


class FsspecBlobStore(BlobStore):
    """Blobs on any fsspec filesystem (S3-compatible storage, GCS, memory for tests...).

    Where a rename is a true rename (local, memory, SFTP...) bytes go to a temporary key
    first and are moved into place; on object stores a single PUT is already atomic.
    """

    def __init__(self, fs: Any, root: str, *, atomic_put: bool | None = None) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        if atomic_put is None:
            protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
            atomic_put = any(p in _ATOMIC_PUT_PROTOCOLS for p in protocols)
        self.atomic_put = atomic_put

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.fs.protocol!r}, {self.root!r})"

    def path_of(self, digest: str) -> str:
        return "/".join((self.root, *_relative_parts(digest)))

    def has(self, digest: str) -> bool:
        return self._exists(self.path_of(digest))

    def _exists(self, key: str) -> bool:
        """Whether ``key`` is a stored object (a subclass may ask with fewer requests)."""
        return bool(self.fs.isfile(key))

    def put_bytes(self, digest: str, data: bytes | bytearray | memoryview) -> int:
        payload = bytes(data)
        return self._publish(digest, len(payload), lambda key: self.fs.pipe_file(key, payload))

    def put_file(self, digest: str, path: str | os.PathLike[str]) -> int:
        source = os.fspath(path)
        if not os.path.isfile(source):
            raise FileNotFoundError(errno.ENOENT, "not a regular file", source)
        # the filesystem's own upload (on S3, s3fs's multipart upload, in parts of its
        # choosing) rather than the whole file read into one bytes object first
        size = os.path.getsize(source)
        hashed = source if isinstance(source, blob_files.HashedFile) else None

        def upload(key: str) -> None:
            """The upload, of the file hashed only (a ``HashedFile`` checked before and
            after it): other bytes must never be kept under this digest, where dedup would
            serve them for every later file with its content."""
            if hashed is not None and not hashed.unchanged(os.stat(source)):
                raise blob_files.changed_after_hash(source)
            self.fs.put_file(source, key)
            if hashed is not None and not hashed.unchanged(os.stat(source)):
                with contextlib.suppress(OSError):  # (a temp key is removed by the caller)
                    self.fs.rm_file(key)
                raise blob_files.changed_after_hash(source)

        return self._publish(digest, size, upload)

    def _publish(self, digest: str, size: int, write: Any) -> int:
        """``write(key)`` the blob: straight to its final key where a put is atomic, else
        to a temp key moved into place. 0 if the blob was there."""
        final = self.path_of(digest)
        if self._exists(final):
            return 0
        if self.atomic_put:
            write(final)
            return size
        parent = final.rsplit("/", 1)[0]
        tmp = f"{parent}/{_TEMP_PREFIX}{uuid.uuid4().hex}"
        self.fs.makedirs(parent, exist_ok=True)
        try:
            write(tmp)
            if self._exists(final):
                return 0
            self.fs.mv(tmp, final)
        finally:
            with contextlib.suppress(FileNotFoundError, OSError):
                if self.fs.exists(tmp):
                    self.fs.rm_file(tmp)
        return size

    def open(self, digest: str) -> BinaryIO:
        try:
            return io.BytesIO(self.fs.cat_file(self.path_of(digest)))
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def size(self, digest: str) -> int:
        try:
            return int(self.fs.size(self.path_of(digest)))
        except FileNotFoundError:
            raise BlobNotFound(digest) from None

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        try:
            data = self.fs.cat_file(self.path_of(digest), start=offset, end=offset + length)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        if len(data) != length:
            raise BlobNotFound(f"{digest} is shorter than {offset + length} bytes")
        return bytes(data)

    def writer(self) -> BlobWriter:
        return _SpooledWriter(self)

    def delete(self, digest: str) -> bool:
        path = self.path_of(digest)
        if not self._exists(path):
            return False
        self.fs.rm_file(path)
        return True

    def listing(self) -> Iterator[Listed]:
        if not self.fs.exists(self.root):
            return
        prefix = (self.root + "/").lstrip("/")
        found = self.fs.find(self.root, detail=True)  # one listing, times included
        for key in sorted(found):
            rel = str(key)
            # Some implementations drop or add a leading "/"; compare on the tail.
            idx = rel.find(prefix)
            if idx < 0:
                continue
            parts = rel[idx + len(prefix) :].split("/")
            if len(parts) != 4 or parts[3].startswith(_TEMP_PREFIX):
                continue
            algo, ab, cd, hexpart = parts
            digest = f"{algo}:{hexpart}"
            if _DIGEST_RE.fullmatch(digest) and hexpart[:2] == ab and hexpart[2:4] == cd:
                info = found[key]
                size = info.get("size") if isinstance(info, dict) else None
                yield Listed(digest, listing_time(info), size if isinstance(size, int) else None)


def listing_time(info: Any) -> float | None:
    """When an fsspec listing's entry was last written, in seconds since the epoch: each
    filesystem names it its own way (s3fs ``LastModified``, local ``mtime``, memory
    ``created``); ``None`` when it does not say."""
    if not isinstance(info, dict):
        return None
    for field in ("LastModified", "mtime", "last_modified", "updated", "created"):
        value = info.get(field)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:  # (a naive time is UTC)
                value = value.replace(tzinfo=datetime.timezone.utc)
            return value.timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


class _SpooledWriter(BlobWriter):
    """Collects a pack in a spooled temporary file, then stores it with one ``put``."""

    def __init__(self, store: BlobStore) -> None:
        super().__init__()
        self.store = store
        self._buf: Any = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 (closed by commit or abort)

    def _write(self, view: memoryview) -> None:
        self._buf.write(view)

    def commit(self) -> str:
        digest = self.digest
        self._buf.seek(0)
        try:
            self.store.put_bytes(digest, self._buf.read())
        finally:
            self._buf.close()
        return digest

    def abort(self) -> None:
        self._buf.close()


# --------------------------------------------------------------------------- factory


def blob_store_for(url_or_home: str | os.PathLike[str]) -> BlobStore:
    """The blob store that goes with a store home folder or URL.

    * a folder (a ``.mltrack`` home) or ``sqlite:///…/mltrack.db`` → ``<home>/blobs``;
    * ``file:///path`` → a local store rooted at ``/path``;
    * any other URL (``s3://bucket/prefix``, ``memory://…``) → :class:`FsspecBlobStore`,
      which needs ``fsspec`` (and ``s3fs`` for ``s3://``).

    A PostgreSQL URL is refused: a shared database needs shared blob storage, so the
    blob URL has to be given explicitly rather than guessed (or remembered by the store
    itself: ``Store.blobs`` asks it first, see :mod:`.settings`).
    """
    text = os.fspath(url_or_home)
    if "://" not in text:
        return LocalBlobStore(Path(text).expanduser() / "blobs")
    scheme = text.split("://", 1)[0].lower()
    if scheme.startswith("sqlite"):
        home = home_of(text)
        if home is None:
            raise ValueError(f"cannot place blobs beside {text!r}: use sqlite:///<path>")
        return LocalBlobStore(home / "blobs")
    if scheme.startswith("postgres"):
        raise ValueError(
            "a PostgreSQL store has no local folder for blobs: give a blob URL such as "
            "s3://bucket/prefix or file:///shared/folder"
        )
    if scheme == "file":
        return LocalBlobStore(Path(text[len("file://") :]))
    try:
        import fsspec
    except ImportError:
        extra = " and s3fs" if scheme in {"s3", "s3a"} else ""
        raise ImportError(
            f"blob URL {text!r} needs the 'fsspec'{extra} package: pip install fsspec{extra.replace(' and', '')}"
        ) from None
    try:
        fs, root = fsspec.core.url_to_fs(text)
    except ImportError as exc:
        package = "s3fs" if scheme in {"s3", "s3a"} else f"the fsspec backend for {scheme}://"
        raise ImportError(f"blob URL {text!r} needs {package}: pip install {package}") from exc
    from .s3_blobs import S3BlobStore

    if scheme in {"s3", "s3a"} and S3BlobStore.serves(fs):
        return S3BlobStore(fs, root)
    return FsspecBlobStore(fs, root)
