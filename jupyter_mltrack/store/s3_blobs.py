"""Blobs on S3-compatible storage through s3fs, with the fewest requests a blob needs.

:class:`FsspecBlobStore` works on any fsspec filesystem, but on S3 every call is one or
more HTTP requests, and s3fs's generic calls add some: its ``isfile`` of a missing key is
a HEAD then a LIST, its ``cat_file`` asks the size (a HEAD) before the GET, and its
``put_file`` uploads a large file in waves of parts (the next wave waits for the slowest
part of the last). A folder of a thousand files made three to four thousand requests where
one per file is enough. This store talks to S3 through s3fs's client (``_call_s3``: the
credentials, endpoint and extra arguments a team configured for s3fs all apply) and:

* asks whether a blob exists with one HEAD (a 404 means missing);
* writes bytes its caller's records do not know without asking first
  (``put_many(check=False)``): a PUT is atomic, and one of a content-addressed key holds the
  same bytes as any earlier one, so writing a blob that was there costs only the upload.
  A file is sent unasked only as a :class:`~.blob_files.HashedFile`, checked to be the file
  that was hashed before it is read and before its upload is made visible (else asked for:
  it may have changed since it was hashed);
* uploads a large file in ``PART``-sized parts, ``PARTS_AT_ONCE`` in flight at any time
  (a new part starts as soon as one ends, as boto3's transfer manager does);
* reads a blob whose size the records know without asking its size (one GET; a large blob
  in ranges fetched at once), and checks what it read against the blob's name, so a blob
  changed or removed outside the store is an error, never other bytes;
* runs many blobs' requests at once on s3fs's event loop (``REQUESTS_AT_ONCE``), with no
  thread per request.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import contextlib
import errno
import io
import os
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, BinaryIO, TypeVar

from .blob_files import BatchSource, HashedFile, StagedCopy, changed_after_hash
from .blobs import DIGEST_ALGORITHM, BlobNotFound, FsspecBlobStore, digest_bytes, split_digest

__all__ = ["S3BlobStore"]

#: Requests in flight at once for a batch of blobs. moto's server (one Python process on
#: this machine's 2 cores) took 3.9 s for 1,000 PUTs 16 at a time, 4.0 s 8 at a time and
#: 4.7 s through 8 threads calling s3fs; a real S3 answers many more at once.
REQUESTS_AT_ONCE = 16
#: Files from this size on are uploaded in parts (boto3 starts at 8 MiB).
MULTIPART_FROM = 16 << 20
#: A part of an upload: 8 MiB, as boto3's transfer manager (1.8 s for 200 MiB on moto's
#: server, against 1.9-2.2 s in 16-50 MiB parts). S3
#: allows at most 10,000 parts, so a file over 78 GiB gets larger parts.
PART = 8 << 20
#: Parts uploaded, or ranges read, at once for one blob (boto3's default is 10).
PARTS_AT_ONCE = 10
#: A range of a large blob's read: s3fs's default block. Ranges are fetched
#: ``PARTS_AT_ONCE`` at a time. Not smaller: moto's server copies the whole object for
#: every range it serves, so a 200 MiB blob took 2.9 s in 8 MiB ranges, 0.8 s in 50 MiB
#: ones (and 0.4 s in one GET, which a real S3 serves at one connection's speed).
RANGE = 50 << 20
#: Blobs larger than this are read in ranges at once.
RANGED_FROM = RANGE
_MAX_PARTS = 10_000
#: Bytes written to a file in the event loop's thread; larger writes go to a thread.
_INLINE_WRITE = 1 << 20

_T = TypeVar("_T")


class S3BlobStore(FsspecBlobStore):
    """:class:`FsspecBlobStore` on s3fs, by direct S3 calls (see the module's docstring)."""

    remote = True

    def __init__(self, fs: Any, root: str) -> None:
        super().__init__(fs, root, atomic_put=True)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.root!r})"

    @staticmethod
    def serves(fs: Any) -> bool:
        """Whether ``fs`` is a synchronous s3fs filesystem this store can drive."""
        try:
            import s3fs
        except ImportError:
            return False
        return isinstance(fs, s3fs.S3FileSystem) and not getattr(fs, "asynchronous", False)

    # plumbing -------------------------------------------------------------------------------

    def _run(self, make: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """Run ``make(*args)`` on s3fs's event loop, from this (non-loop) thread."""
        import fsspec.asyn

        return fsspec.asyn.sync(self.fs.loop, make, *args)

    def _key(self, digest: str) -> tuple[str, str]:
        bucket, key, _ = self.fs.split_path(self.path_of(digest))
        return bucket, key

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await self.fs._call_s3(method, **kwargs)

    async def _head(self, bucket: str, key: str) -> int | None:
        """The object's size, or ``None`` if there is none: one HEAD."""
        try:
            found = await self._call("head_object", Bucket=bucket, Key=key)
        except FileNotFoundError:
            return None
        return int(found["ContentLength"])

    # writing --------------------------------------------------------------------------------

    def _exists(self, key: str) -> bool:
        bucket, name, _ = self.fs.split_path(key)
        return self._run(self._head, bucket, name) is not None

    def put_bytes(self, digest: str, data: bytes | bytearray | memoryview) -> int:
        return self._run(self._put, digest, bytes(data), True)

    def put_file(self, digest: str, path: str | os.PathLike[str]) -> int:
        return self._run(self._put, digest, os.fspath(path), True)

    def put_many(
        self, items: Sequence[tuple[str, BatchSource]], threads: int, *, check: bool = True
    ) -> list[int]:
        """All at once on the event loop, ``REQUESTS_AT_ONCE`` requests in flight
        (``threads`` is for stores that copy with threads)."""
        if not items:
            return []
        return self._run(self._put_many, list(items), check)

    async def _put_many(self, items: list[tuple[str, BatchSource]], check: bool) -> list[int]:
        gate = asyncio.Semaphore(REQUESTS_AT_ONCE)

        async def one(item: tuple[str, BatchSource]) -> int:
            async with gate:
                return await self._put(item[0], item[1], check)

        results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
        self.fs.invalidate_cache()  # s3fs's listings may predate these keys
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [int(r) for r in results]  # type: ignore[arg-type]

    async def _put(self, digest: str, source: BatchSource, check: bool) -> int:
        """Store one blob; the bytes sent (0 if it was found there)."""
        bucket, key = self._key(digest)
        if isinstance(source, StagedCopy):  # staged for a local store only
            source.discard()
            source = source.source
        if isinstance(source, str):
            if not os.path.isfile(source):  # (a fifo would block the read)
                raise FileNotFoundError(errno.ENOENT, "not a regular file", source)
            # a file is sent unasked only if it says what it was when hashed, and is still so
            hashed = source if isinstance(source, HashedFile) else None
            if (check or hashed is None) and await self._head(bucket, key) is not None:
                return 0
            size = os.path.getsize(source)
            if size >= MULTIPART_FROM:
                await self._multipart(bucket, key, size, _FileParts(source, size, hashed))
            else:
                body = await asyncio.to_thread(_read_whole, source, size, hashed)
                await self._call("put_object", Bucket=bucket, Key=key, Body=body)
            return size
        data = bytes(source)
        if check and await self._head(bucket, key) is not None:
            return 0
        if len(data) >= MULTIPART_FROM:
            await self._multipart(bucket, key, len(data), _BytesParts(data))
        else:
            await self._call("put_object", Bucket=bucket, Key=key, Body=data)
        return len(data)

    async def _multipart(self, bucket: str, key: str, size: int, parts: _Parts) -> None:
        """A multipart upload whose parts are read and sent ``PARTS_AT_ONCE`` at a time;
        aborted (nothing visible) if any part fails."""
        part = max(PART, -(-size // _MAX_PARTS))
        # the parts' checksum named at the start, as boto3's transfer manager does: the object's
        # is then built from the parts' (S3's "composite"), not computed again over the whole
        # object (moto's server copied and hashed 200 MiB once more: a tenth of the upload)
        started = await self._call(
            "create_multipart_upload", Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32"
        )
        upload = started["UploadId"]
        gate = asyncio.Semaphore(PARTS_AT_ONCE)

        async def send(number: int, offset: int) -> dict[str, Any]:
            async with gate:
                body, crc = await asyncio.to_thread(
                    _read_part, parts, offset, min(part, size - offset)
                )
                sent = await self._call(
                    "upload_part",
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload,
                    PartNumber=number,
                    Body=body,
                    ChecksumCRC32=crc,
                )
                return {"PartNumber": number, "ETag": sent["ETag"], "ChecksumCRC32": crc}

        try:
            offsets = range(0, size, part)
            # every part settles before the file is closed or the upload aborted
            done = await asyncio.gather(
                *(send(n, off) for n, off in enumerate(offsets, 1)), return_exceptions=True
            )
            for result in done:
                if isinstance(result, BaseException):
                    raise result
            parts.verify()  # nothing is visible until this call
            await self._call(
                "complete_multipart_upload",
                Bucket=bucket,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": done},
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the upload's own error is the one to raise
                await self._call("abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload)
            raise
        finally:
            parts.close()

    # reading --------------------------------------------------------------------------------

    def size(self, digest: str) -> int:
        found = self._run(self._head, *self._key(digest))
        if found is None:
            raise BlobNotFound(digest)
        return found

    def open(self, digest: str) -> BinaryIO:
        return io.BytesIO(self._run(self._get, digest, None))

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            data = self._run(self._get_range, *self._key(digest), offset, length)
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        if len(data) != length:
            raise BlobNotFound(f"{digest} is shorter than {offset + length} bytes")
        return data

    def copy_out(self, items: Sequence[tuple[str, int, str]], threads: int) -> None:
        """Every blob fetched at once on the event loop (``REQUESTS_AT_ONCE`` requests in
        flight), each checked against its name before its file is written."""
        if items:
            self._run(self._copy_out, list(items))

    async def _copy_out(self, items: list[tuple[str, int, str]]) -> None:
        gate = asyncio.Semaphore(REQUESTS_AT_ONCE)

        async def one(item: tuple[str, int, str]) -> None:
            digest, size, target = item
            async with gate:
                data = await self._get(digest, size)
            if len(data) <= _INLINE_WRITE:
                _write_file(target, data)
            else:
                await asyncio.to_thread(_write_file, target, data)

        results = await asyncio.gather(*(one(i) for i in items), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _get(self, digest: str, size: int | None) -> bytes | bytearray:
        """The blob's bytes, checked against its name (and ``size``, when recorded): one
        GET, or ranges at once for a large blob of known size."""
        bucket, key = self._key(digest)
        try:
            if size is not None and size > RANGED_FROM:
                data = await self._get_ranges(bucket, key, size)
            else:
                response = await self._call("get_object", Bucket=bucket, Key=key)
                try:
                    data = await response["Body"].read()
                finally:
                    response["Body"].close()
        except FileNotFoundError:
            raise BlobNotFound(
                f"blob {digest} is missing from {self!r}: removed outside mltrack (its "
                "records still name it)"
            ) from None
        if size is not None and len(data) != size:
            raise BlobNotFound(f"blob {digest} holds {len(data)} bytes where {size} were recorded")
        if split_digest(digest)[0] == DIGEST_ALGORITHM:
            found = (
                digest_bytes(data)
                if len(data) <= _INLINE_WRITE
                else await asyncio.to_thread(digest_bytes, data)
            )
            if found != digest:
                raise BlobNotFound(
                    f"blob {digest} holds other bytes ({found}): changed outside mltrack"
                )
        return data  # (a large blob's bytearray is not copied again)

    async def _get_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        response = await self._call(
            "get_object", Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
        )
        try:
            return bytes(await response["Body"].read())
        finally:
            response["Body"].close()

    async def _get_ranges(self, bucket: str, key: str, size: int) -> bytearray:
        out = bytearray(size)
        view = memoryview(out)
        gate = asyncio.Semaphore(PARTS_AT_ONCE)

        async def fetch(offset: int) -> None:
            length = min(RANGE, size - offset)
            async with gate:
                data = await self._get_range(bucket, key, offset, length)
            if len(data) != length:
                raise BlobNotFound(f"{bucket}/{key} is shorter than {offset + length} bytes")
            view[offset : offset + length] = data

        results = await asyncio.gather(
            *(fetch(off) for off in range(0, size, RANGE)), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return out


# helpers -------------------------------------------------------------------------------------


class _Parts(abc.ABC):
    """Where an upload's parts are read from (in a worker thread)."""

    @abc.abstractmethod
    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``."""

    def verify(self) -> None:  # noqa: B027 (bytes cannot change)
        """Raise if what was read may not be what the digest was taken of."""

    def close(self) -> None:  # noqa: B027 (bytes need no release)
        """Release what reading needed."""


class _BytesParts(_Parts):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


class _FileParts(_Parts):
    """Parts read with ``pread`` from one descriptor: any order, any thread. A file that
    says what it was when hashed (``hashed``) must still be so when opened and once every
    part is sent."""

    def __init__(self, path: str, size: int, hashed: HashedFile | None = None) -> None:
        self.path = path
        self.hashed = hashed
        self.fd = os.open(path, os.O_RDONLY)
        try:
            self.verify()
        except BaseException:
            os.close(self.fd)
            raise

    def verify(self) -> None:
        if self.hashed is not None and not self.hashed.unchanged(os.fstat(self.fd)):
            raise changed_after_hash(self.path)

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise OSError(errno.EIO, "the file shrank while it was being stored", self.path)
        return data

    def close(self) -> None:
        os.close(self.fd)


def _read_part(parts: _Parts, offset: int, length: int) -> tuple[bytes, str]:
    """A part and its CRC32 (base64), computed here in a worker thread: botocore computes the
    checksum it sends with a part (its default) in the event loop's thread, one part after
    another, unless it is given."""
    body = parts.read(offset, length)
    return body, base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()


def _read_whole(path: str, size: int, hashed: HashedFile | None = None) -> bytes:
    with open(path, "rb") as fh:
        before = os.fstat(fh.fileno())
        data = fh.read()
        after = os.fstat(fh.fileno())
    if len(data) != size:
        raise OSError(errno.EIO, "the file changed size while it was being stored", path)
    if hashed is not None and not (hashed.unchanged(before) and hashed.unchanged(after)):
        raise changed_after_hash(path)
    return data


def _write_file(target: str, data: bytes | bytearray) -> None:
    with open(target, "wb") as out:
        out.write(data)
