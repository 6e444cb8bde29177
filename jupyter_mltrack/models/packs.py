"""An artifact's small files written together, as a few packs.

On S3 every blob is a request, and a request costs the same few milliseconds (on a real
S3, tens) whatever its size: a folder of a thousand small files written as a thousand
objects spends its time waiting, not sending. On a local disk every blob is a file
created, made read-only, renamed into its folder and made durable: a folder of a thousand
took 578 ms here where its bytes as ten packs took 230 (benchmark 11: the cost is the
files, not the bytes). So the new files of an artifact up to ``PACKED_SIZE`` are written, when
there are at least ``PACK_FROM`` of them, as the concatenation of their bytes in packs
of about ``PACK_BYTES`` (git's packs; our snapshots' blocks are packed the same way). A
pack is a blob like any other, named by the digest of its bytes, so writing it again
leaves the same object; each file's row says which pack holds it and at which offset
(``ArtifactFile.pack``/``offset``), and its digest still names its own bytes, which is
what dedup, comparisons and checks use.

Reading a packed file is a range of its pack. Reading many (a folder written out) asks
for each pack's needed bytes as few ranges as their gaps allow, several at once, and
checks every file against its digest: bytes changed or lost outside mltrack are an error,
never another file's bytes. What packing gives up is the hard link: a packed file read
out of a local store is always a copy (a model's few large files are never packed, and
are still linked where they are loaded from).

A pack outlives most of its files when the artifacts that shared it are deleted: one 10 KB
file left would keep 8 MB. ``gc`` then rewrites it (:func:`rewrite`): the files still named
are read as a folder is, checked, and written as a new pack by :func:`write_packs`; their
rows are moved to it and the old pack deleted (``Store.move_packed_files`` says why a
writer deduplicating meanwhile never ends with rows naming a deleted pack, and
``artifacts._with_fresh_rows`` how a reader that read the rows before the move finds the
bytes). Bytes that are not their digest's are never copied (:class:`PackDamaged`): the
pack is left as it is, the file named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from ..store.blob_files import COPIERS, BatchSource, Pieces, changed_after_hash
from ..store.blobs import (
    DIGEST_ALGORITHM,
    BlobNotFound,
    BlobStore,
    digest_bytes,
    digest_pieces,
    split_digest,
)
from ..store.entities import ArtifactFile
from ..store.threads import map_threads

#: Files up to this size are packed (the size up to which a folder's files are read once
#: and held, ``artifacts.SMALL_FILE``): a larger file is few requests for its bytes.
PACKED_SIZE = 1 << 20
#: Fewer new small files than this are written as blobs of their own: a pack saves little,
#: and a file read alone is then a whole object, not a range of one.
PACK_FROM = 16
#: A pack is closed once the next file would take it past this: under s3fs's multipart
#: threshold (one PUT each), and enough packs for a large folder's to go up side by side.
PACK_BYTES = 8 << 20
#: Packs built and written per wave: what a folder of small files holds in memory at once.
WAVE_BYTES = 128 << 20
#: Bytes of a pack between two wanted files that are read through rather than split into
#: two ranges (one request of a little more against two).
GAP = 1 << 20
#: Ranges of packs read at once.
READS_AT_ONCE = 10

_T = TypeVar("_T")


class PackDamaged(BlobNotFound):
    """A pack holds other bytes than a file's digest where its row says the file is (changed
    or cut outside mltrack): a read fails rather than return another file's bytes, and
    ``gc`` leaves the pack as it is rather than copy them. ``file`` is the file's record."""

    def __init__(self, file: ArtifactFile, message: str) -> None:
        super().__init__(message)
        self.file = file


def packable(
    files: Sequence[ArtifactFile], unstored: Mapping[str, BatchSource]
) -> list[ArtifactFile]:
    """The files whose bytes are to be packed, one per digest, in the artifact's order:
    the new (``unstored``) ones up to ``PACKED_SIZE``, when there are ``PACK_FROM`` or
    more; else none."""
    chosen: dict[str, ArtifactFile] = {}
    for f in files:
        if f.digest in unstored and f.size <= PACKED_SIZE:
            chosen.setdefault(f.digest, f)
    return list(chosen.values()) if len(chosen) >= PACK_FROM else []


def write_packs(
    blobs: BlobStore,
    files: Sequence[ArtifactFile],
    sources: Mapping[str, BatchSource],
    threads: int,
) -> tuple[dict[str, tuple[str, int]], int]:
    """Write ``files``' bytes (from ``sources``: bytes held, or the file to read) as packs;
    ``digest -> (pack, offset)`` of each, and the bytes sent. Packs are built and written
    ``WAVE_BYTES`` at a time, all of a wave's at once (written unasked: a pack's name is
    its bytes', so one already there is the same object)."""
    where: dict[str, tuple[str, int]] = {}
    sent = 0
    for wave in _waves(files):
        built = [_build(group, sources) for group in _groups(wave)]
        sent += sum(blobs.put_many([(p, data) for p, data, _ in built], threads, check=False))
        for pack, _data, offsets in built:
            for digest, offset in offsets:
                where[digest] = (pack, offset)
    return where, sent


def _waves(files: Sequence[ArtifactFile]) -> Iterator[list[ArtifactFile]]:
    wave: list[ArtifactFile] = []
    size = 0
    for f in files:
        if wave and size + f.size > WAVE_BYTES:
            yield wave
            wave, size = [], 0
        wave.append(f)
        size += f.size
    if wave:
        yield wave


def _groups(files: Sequence[ArtifactFile]) -> list[list[ArtifactFile]]:
    groups: list[list[ArtifactFile]] = []
    size = PACK_BYTES + 1
    for f in files:
        if size + f.size > PACK_BYTES and (not groups or groups[-1]):
            groups.append([])
            size = 0
        groups[-1].append(f)
        size += f.size
    return groups


def _build(
    group: Sequence[ArtifactFile], sources: Mapping[str, BatchSource]
) -> tuple[str, Pieces, list[tuple[str, int]]]:
    """A pack's name, bytes (its files' bytes in order, not joined: a local store writes
    them so, a remote one joins them into one body) and ``(digest, offset)`` of each file
    in it."""
    parts: list[bytes | bytearray | memoryview] = []
    offsets = []
    offset = 0
    for f in group:
        data = _bytes_of(f, sources[f.digest])
        parts.append(data)
        offsets.append((f.digest, offset))
        offset += len(data)
    return digest_pieces(parts), Pieces(parts), offsets


def _bytes_of(f: ArtifactFile, source: BatchSource) -> bytes | bytearray | memoryview:
    """The bytes held, or the file read and checked to be the bytes hashed (never a staged
    copy: only files of ``artifacts.STAGE_FROM`` and more are staged, none packed)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return source
    assert isinstance(source, str)
    with open(source, "rb") as fh:
        data = fh.read()
    if len(data) != f.size or digest_bytes(data) != f.digest:
        raise changed_after_hash(source)
    return data


# reading ------------------------------------------------------------------------------------------


def read_packed(blobs: BlobStore, f: ArtifactFile) -> bytes:
    """The bytes of one packed file, checked against its digest."""
    assert f.pack is not None and f.offset is not None
    try:
        data = blobs.read_range(f.pack, f.offset, f.size) if f.size else b""
    except (BlobNotFound, FileNotFoundError):
        raise BlobNotFound(f"pack {f.pack} holding {f.digest} is missing") from None
    return bytes(_checked(f, data))


def write_packed(blobs: BlobStore, items: Sequence[tuple[ArtifactFile, str]], threads: int) -> None:
    """Write each packed file to its target path (its folder exists): each pack's wanted
    bytes read as few ranges as ``GAP`` allows (from a remote store ``READS_AT_ONCE`` at a
    time, from a local one a thread per core), each file checked against its digest before
    it is written."""

    def write(target: str, part: memoryview) -> None:
        with open(target, "wb") as out:
            out.write(part)

    _read_ranges(blobs, items, threads, write)


def _read_ranges(
    blobs: BlobStore,
    items: Sequence[tuple[ArtifactFile, _T]],
    threads: int,
    use: Callable[[_T, memoryview], None],
) -> None:
    """``use(item, bytes)`` for each ``(packed file, item)`` once its bytes are read (each
    pack's wanted ones as few ranges as ``GAP`` allows) and checked against its digest:
    what writing a folder out and rewriting a pack both read with."""
    spans = _spans(items)

    def fetch(span: tuple[str, int, int, list[tuple[ArtifactFile, _T]]]) -> None:
        pack, start, length, members = span
        try:
            data = memoryview(blobs.read_range(pack, start, length)) if length else memoryview(b"")
        except (BlobNotFound, FileNotFoundError):
            raise BlobNotFound(f"pack {pack} is missing") from None
        for f, item in members:
            assert f.offset is not None
            if f.offset + f.size > start + len(data):
                raise PackDamaged(f, f"pack {pack} is shorter than recorded")
            use(item, _checked(f, data[f.offset - start : f.offset - start + f.size]))

    # a remote store's ranges are requests, waited for side by side; a local store's are
    # reads from the page cache and files created, CPU work (1,000 files from 10 packs: one
    # thread 108 ms, two 69, ten 86)
    map_threads(
        fetch, spans, max(threads, READS_AT_ONCE) if blobs.remote else min(threads, COPIERS)
    )


def _spans(
    items: Sequence[tuple[ArtifactFile, _T]],
) -> list[tuple[str, int, int, list[tuple[ArtifactFile, _T]]]]:
    """``(pack, start, length, files in it)``: each pack's wanted files, merged into one
    range while the bytes between two are at most ``GAP``."""
    by_pack: dict[str, list[tuple[ArtifactFile, _T]]] = {}
    for f, item in items:
        assert f.pack is not None and f.offset is not None
        by_pack.setdefault(f.pack, []).append((f, item))
    spans = []
    for pack, members in by_pack.items():
        members.sort(key=lambda m: m[0].offset or 0)
        start = end = -1
        group: list[tuple[ArtifactFile, _T]] = []
        for f, item in members:
            offset = f.offset or 0
            if group and offset - end > GAP:
                spans.append((pack, start, end - start, group))
                group = []
            if not group:
                start = end = offset
            group.append((f, item))
            end = max(end, offset + f.size)
        spans.append((pack, start, end - start, group))
    return spans


def _checked(f: ArtifactFile, data: bytes | memoryview) -> bytes | memoryview:
    """``data`` if it is ``f``'s bytes (by its digest, when of the default algorithm)."""
    same = len(data) == f.size and (
        split_digest(f.digest)[0] != DIGEST_ALGORITHM or digest_bytes(data) == f.digest
    )
    if not same:
        raise PackDamaged(
            f,
            f"pack {f.pack} holds other bytes at {f.offset} than {f.digest}: changed "
            "outside mltrack",
        )
    return data


# rewriting ----------------------------------------------------------------------------------------


def rewrite(
    blobs: BlobStore, live: Sequence[ArtifactFile], threads: int
) -> dict[str, tuple[str, int]]:
    """Write the bytes of ``live`` (the files rows still name in a pack, one per digest, in
    the pack's order) as new packs; ``digest -> (pack, offset)`` of each. What ``gc``
    rewrites a pack most of whose bytes no row names with: the caller then moves the rows
    and deletes the old pack.

    Every file is read as :func:`write_packed` reads them and checked against its digest
    before anything is written: bytes that are not their digest's raise
    :class:`PackDamaged` naming the file, and nothing is written (a copy would give them a
    second home under a name that is not theirs). A digest of another algorithm than
    ``DIGEST_ALGORITHM`` cannot be checked, so it is refused the same way."""
    for f in live:
        if split_digest(f.digest)[0] != DIGEST_ALGORITHM:
            raise PackDamaged(f, f"{f.digest} in pack {f.pack} cannot be checked here")
    held: dict[str, BatchSource] = {}

    def keep(f: ArtifactFile, part: memoryview) -> None:
        held[f.digest] = part

    _read_ranges(blobs, [(f, f) for f in live], threads, keep)
    return write_packs(blobs, live, held, threads)[0]
