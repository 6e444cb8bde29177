"""How a local blob store's bytes reach the disk: temp files, copies, durability barriers.

A blob is written to a temp file beside its final name, made durable, then published with
one atomic rename that never replaces (:func:`publish`), so no final name ever shows a
partial blob (see :mod:`.blobs`). Making a
blob durable is what costs: an fsync of the file and one of its folder, two journal commits
each. One blob at a time (:meth:`.blobs.LocalBlobStore.put_file`) pays them; a batch
(:func:`write_batch`: a folder logged as an artifact) pays one barrier for all its files'
bytes and one for all their names: ``syncfs`` of the store's filesystem where Linux has it,
else the per-file fsyncs. For 1,000 files of 77 MB that took the copy from 330 to 190 ms
here.

A large file also starts its writeback while it is copied (``sync_file_range``), so the
barrier finds little left to write; and it can be copied while it is hashed
(:class:`StagedCopy`): the copy and the hash read the same page cache on two cores, and
the copy is dropped if the store turns out to hold the blob already.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import functools
import hashlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .threads import map_threads

TEMP_PREFIX = ".tmp-"
#: This host, as a temp file's name spells it (a local blob folder may be shared over NFS).
HOST_TAG = hashlib.blake2s(socket.gethostname().encode(), digest_size=4).hexdigest()
# Linux ``FICLONE`` ioctl: share extents copy-on-write (btrfs, XFS, overlayfs on them...).
_FICLONE = 0x40049409
CHUNK = 1 << 20
#: Files from this size on start their writeback while they are copied.
WRITEBACK_FROM = 16 << 20
#: From this many new blobs on, a batch uses ``syncfs`` (one barrier for the filesystem)
#: rather than an fsync per file and folder. ``syncfs`` also writes other processes' dirty
#: data on that filesystem, so a handful of blobs keep their own fsyncs.
SYNCFS_FROM = 8
_SYNC_FILE_RANGE_WRITE = 2
_AT_FDCWD = -100
#: Threads copying a batch into a local folder: copies into the page cache are CPU work, and
#: more threads than cores only wait for each other on the folders (1,000 files here: 2
#: threads 305 ms, 8 threads 655).
COPIERS = min(8, max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2))


def temp_prefix() -> str:
    """The start of a temp file's name: its writer, this process (``cleanup_temp`` reads it)."""
    return f"{TEMP_PREFIX}{os.getpid()}-{HOST_TAG}-"


def make_temp(folder: str) -> tuple[int, str]:
    """A new temp file in ``folder`` (created if missing): ``(fd, path)``."""
    try:
        return tempfile.mkstemp(prefix=temp_prefix(), dir=folder)
    except FileNotFoundError:  # the first blob of its fan-out folder
        os.makedirs(folder, exist_ok=True)
        return tempfile.mkstemp(prefix=temp_prefix(), dir=folder)


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make the new directory entry durable (best effort: not all platforms allow it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _libc() -> Any:
    """The C library's ``syncfs`` and ``sync_file_range`` (Linux), or ``None``."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    if not hasattr(libc, "syncfs") or not hasattr(libc, "sync_file_range"):
        return None
    libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    libc.syncfs.argtypes = [ctypes.c_int]
    if hasattr(libc, "renameat2"):  # glibc 2.28 and later
        libc.renameat2.argtypes = [
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_uint,
        ]
    return libc


def publish(tmp: str, final: str) -> bool:
    """Give the complete temp file ``tmp`` the name ``final``, never replacing a blob there:
    ``True`` once done (``tmp`` is gone), ``False`` if a blob was there (a concurrent writer
    stored the same bytes first: ``tmp`` is left for the caller to remove). One atomic change
    to the folder where Linux and the filesystem can rename without replacing
    (``renameat2``'s ``RENAME_NOREPLACE``; a link and an unlink made two, each journalled),
    else a hard link then the temp name removed, else ``os.replace`` (no hard links here:
    replacing a blob by the same bytes is harmless)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "renameat2"):
        if libc.renameat2(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(final), 1) == 0:
            return True
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            return False
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), final)
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError:
        os.replace(tmp, final)
        return True
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    return True


def syncfs(path: str) -> bool:
    """Flush the filesystem holding ``path`` to disk; ``False`` where that is not possible
    (then the caller fsyncs file by file)."""
    libc = _libc()
    if libc is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing these bytes to disk now, without waiting: the
    fsync that follows the copy then has little left to do."""
    libc = _libc()
    if libc is not None:
        libc.sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def copy_into(src_fd: int, dst_fd: int, cancelled: threading.Event | None = None) -> int:
    """Copy a whole file: reflink if possible, else ``copy_file_range``, else read/write.

    Every path produces an independent copy (a reflink is copy-on-write), never a link. A
    large file's writeback starts as it goes. ``cancelled``, when set, stops the copy at
    the next chunk (the caller throws the copy away).
    """
    size = os.fstat(src_fd).st_size
    try:
        import fcntl

        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
        return size
    except (ImportError, OSError):
        pass
    writeback = size >= WRITEBACK_FROM
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            copied = 0
            while cancelled is None or not cancelled.is_set():
                n = copy_range(src_fd, dst_fd, CHUNK * 8)
                if n == 0:
                    break
                if writeback:
                    start_writeback(dst_fd, copied, n)
                copied += n
            return copied
        except OSError:
            # Start over with plain reads; the destination is still our private temp file.
            os.lseek(src_fd, 0, os.SEEK_SET)
            os.lseek(dst_fd, 0, os.SEEK_SET)
            os.ftruncate(dst_fd, 0)
    with (
        open(src_fd, "rb", closefd=False) as src,
        open(dst_fd, "wb", closefd=False) as dst,
    ):
        shutil.copyfileobj(src, dst, CHUNK)
        dst.flush()
        return dst.tell()


def _file_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class StagedCopy:
    """A file being copied into a store's folder, on a thread of its own, before its digest
    is known (it is being hashed meanwhile). :meth:`expect` says at which size and mtime the
    digest was taken; :meth:`result` waits for the copy and gives it only if the file was
    that file throughout; :meth:`discard` stops the copy and removes it."""

    def __init__(self, source: str, folder: str) -> None:
        self.source = source
        self.folder = folder
        self._cancel = threading.Event()
        self._tmp: str | None = None
        self._size = 0
        self._keys: tuple[Any, Any] = (None, None)
        self._expected: tuple[int, int] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._copy, name="mltrack-staged-copy")
        self._thread.start()

    def _copy(self) -> None:
        try:
            with open(self.source, "rb") as src:
                before = _file_key(os.fstat(src.fileno()))
                fd, self._tmp = make_temp(self.folder)
                try:
                    self._size = copy_into(src.fileno(), fd, self._cancel)
                    os.fchmod(fd, 0o444)  # nothing may edit a blob in place
                finally:
                    os.close(fd)
                self._keys = (before, _file_key(os.stat(self.source)))
        except BaseException as exc:  # reported by result()
            self._error = exc

    def expect(self, size: int, mtime_ns: int) -> StagedCopy:
        """The size and mtime the file's digest was taken at (no waiting: the copy goes on)."""
        self._expected = (size, mtime_ns)
        return self

    def result(self) -> tuple[str, int] | None:
        """``(temp path, size)`` once the copy is done; ``None`` if the copy may not hold the
        bytes the digest was taken of (the file changed meanwhile, or could not be read)."""
        self._thread.join()
        before, after = self._keys
        usable = (
            self._error is None
            and self._tmp is not None
            and before is not None
            and before == after
            and self._expected is not None
            and before[2:] == self._expected
            and self._size == self._expected[0]
        )
        return (self._tmp, self._size) if usable and self._tmp is not None else None

    def discard(self, *, wait: bool = True) -> None:
        """Stop the copy and remove its temp file (idempotent). ``wait=False`` leaves that to
        a thread of its own: a file whose pages are being written back cannot be removed
        before they are, and the caller need not wait for a copy it did not want (a killed
        process leaves the temp file to ``gc``, as any writer's)."""
        self._cancel.set()
        if not wait and self._thread.is_alive():
            threading.Thread(target=self.discard, name="mltrack-discard", daemon=True).start()
            return
        self._thread.join()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None


class HashedFile(str):
    """The path of a file whose digest was taken when it had ``size`` and ``mtime_ns``.

    A writer that sends a file without asking first whether its blob exists (S3) checks
    instead that the file is still that file, before it starts and before its upload is
    made visible: bytes other than those hashed never go under the digest. A ``str``, so
    every writer that takes a path takes it; the stat is trusted as the digest cache
    trusts it (a rewrite of the same size within one mtime tick goes unseen)."""

    size: int
    mtime_ns: int

    def __new__(cls, path: str, size: int, mtime_ns: int) -> HashedFile:
        self = super().__new__(cls, path)
        self.size = size
        self.mtime_ns = mtime_ns
        return self

    def unchanged(self, st: os.stat_result) -> bool:
        """Whether ``st`` (of the file, or of a descriptor open on it) is the hashed file's."""
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


class FileChanged(OSError):
    """A file changed between its hash and its copy: its bytes are not stored (under the
    digest of others). An ``OSError`` with ``EAGAIN``: trying again hashes it anew."""


def changed_after_hash(path: str) -> FileChanged:
    """The error of a file whose bytes are no longer those its digest was taken of (a
    writer must not store them under it); logging it again hashes them anew."""
    return FileChanged(errno.EAGAIN, "the file changed after it was hashed: log it again", path)


def copy_file_in(source: str, dst_fd: int) -> int:
    """Copy the file at ``source`` into ``dst_fd`` (:func:`copy_into`); the bytes copied.

    A :class:`HashedFile` must be, when opened and once copied, the file that was hashed,
    else :func:`changed_after_hash`: its bytes would go under another content's digest
    and be served, by dedup, for every later file with that content."""
    hashed = source if isinstance(source, HashedFile) else None
    with open(source, "rb") as fh:
        if hashed is not None and not hashed.unchanged(os.fstat(fh.fileno())):
            raise changed_after_hash(source)
        size = copy_into(fh.fileno(), dst_fd)
        if hashed is not None and (
            size != hashed.size or not hashed.unchanged(os.fstat(fh.fileno()))
        ):
            raise changed_after_hash(source)
    return size


class Pieces(tuple):  # type: ignore[type-arg]
    """One blob's bytes given as several buffers, in order: a pack is its files' bytes,
    held already. A local store writes them as they are (:func:`write_pieces`); joining
    the 77 MB of benchmark 11's folder into ten packs first took 61 ms here, writing the
    pieces 27. ``bytes()`` joins them, for a store that sends one body."""

    def __bytes__(self) -> bytes:
        return b"".join(self)


#: Buffers per ``writev`` (the system's ``IOV_MAX``).
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


def write_pieces(fd: int, pieces: Sequence[bytes | bytearray | memoryview]) -> int:
    """Write ``pieces`` one after the other at ``fd``'s offset with gathered writes (no
    joined copy); the bytes written. A short write carries on where it stopped."""
    views = [memoryview(p).cast("B") for p in pieces if len(p)]
    if not hasattr(os, "writev"):  # (Windows)
        return sum(_write_all(fd, v) for v in views)
    total = i = 0
    while i < len(views):
        n = os.writev(fd, views[i : i + _IOV_MAX])
        if n <= 0:
            raise OSError(errno.EIO, "a write to the blob store wrote nothing")
        total += n
        while n:
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i], n = views[i][n:], 0
    return total


def _write_all(fd: int, view: memoryview) -> int:
    written = 0
    while written < len(view):
        written += os.write(fd, view[written : written + CHUNK * 16])
    return written


#: What a batch item's bytes come from: a file's path, bytes (or pieces of them), or a copy
#: already started.
BatchSource = str | bytes | bytearray | memoryview | Pieces | StagedCopy


def write_batch(
    items: Sequence[tuple[str, BatchSource]],
    final_of: Callable[[str], str],
    present: Callable[[str], bool],
    root: str,
    threads: int,
) -> list[int]:
    """Store each ``(digest, source)`` that is not ``present`` at ``final_of(digest)``, with
    one durability barrier for all the bytes and one for all the names; the bytes written
    per item (0 where the blob was there already). Everything is published or nothing new
    is: a failure removes every temp file it made, and a blob published already stays (it
    is complete)."""
    threads = min(threads, COPIERS)
    missing = [(i, digest, src) for i, (digest, src) in enumerate(items)]
    missing = [t for t in missing if not present(t[1])]
    written = [0] * len(items)
    staged = [t for t in missing if isinstance(t[2], StagedCopy)]
    batched = len(missing) >= SYNCFS_FROM and _libc() is not None
    temps: list[str | None] = [None] * len(missing)

    def stage(k: int) -> int:
        _, digest, src = missing[k]
        if isinstance(src, StagedCopy):
            copied = src.result()
            if copied is None:  # its bytes may not be the ones hashed: none are stored
                raise FileChanged(
                    errno.EAGAIN, "the file changed while it was logged: log it again", src.source
                )
            temps[k] = copied[0]
            if not batched:
                with open(copied[0], "rb") as fh:
                    os.fsync(fh.fileno())
            return copied[1]
        fd, temps[k] = make_temp(os.path.dirname(final_of(digest)))
        try:
            if isinstance(src, str):
                size = copy_file_in(src, fd)
            elif isinstance(src, Pieces):
                size = write_pieces(fd, src)
            else:
                size = _write_all(fd, memoryview(src).cast("B"))
            if not batched:
                os.fsync(fd)
            os.fchmod(fd, 0o444)  # nothing may edit a blob in place
        finally:
            os.close(fd)
        return size

    try:
        sizes = map_threads(stage, range(len(missing)), threads)
        if batched and not syncfs(root):
            raise OSError(errno.EIO, "could not flush the blob store's filesystem", root)
        parents: set[str] = set()
        for k, (i, digest, src) in enumerate(missing):
            final, tmp = final_of(digest), temps[k]
            assert tmp is not None
            if isinstance(src, StagedCopy):  # copied at the root, before its name was known
                os.makedirs(os.path.dirname(final), exist_ok=True)
            if not publish(tmp, final):
                continue  # a concurrent writer published the same content first
            temps[k] = None
            written[i] = sizes[k]
            parents.add(os.path.dirname(final))
        if batched:
            if not syncfs(root):
                raise OSError(errno.EIO, "could not flush the blob store's filesystem", root)
        else:
            for parent in sorted(parents):
                fsync_dir(parent)
    finally:
        for tmp in temps:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        for _, _, src in staged:
            assert isinstance(src, StagedCopy)
            src.discard()
    return written
