"""The local cache of a remote blob store's blobs: what a dataset ``get`` reads the second time.

When the store's blobs are remote (``MLTRACK_BLOB_URL=s3://…``), reading a version again
should not download it again. Blobs are content-addressed, so the cache is keyed by digest
and never goes stale: it is itself a :class:`~..store.blobs.LocalBlobStore` (the same
fan-out, the same atomic publication, read-only files), rooted at ``$MLTRACK_CACHE_DIR``,
else ``$XDG_CACHE_HOME/mltrack``, else ``~/.cache/mltrack``, under ``blobs/``. One cache
for every kind of snapshot: a file snapshot's blob, a folder snapshot's file blobs, and
the packs a table's blocks are read from. A blob is filled by streaming the remote one
through a blob writer, which names what it wrote by the digest of the bytes: a download
that does not hash to the digest asked for is refused, so the cache only ever holds what
it says. The folder may be deleted at any time (it is filled again); with
``MLTRACK_CACHE_SIZE`` set, the least recently used entries are removed once new ones
bring it over that size (:mod:`.eviction`, which ``mltrack cache`` also drives).

Folders a folder version is handed out as (``mltrack.datasets.get`` without a
destination) live beside it, under ``folders/<snapshot hex>`` (see :mod:`.folders`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from ..store.blobs import BlobStore, LocalBlobStore
from ..store.threads import map_threads
from .eviction import BLOBS_DIR, evict_if_over, touch

#: Where the cache lives, when set (else ``$XDG_CACHE_HOME/mltrack``).
CACHE_ENV = "MLTRACK_CACHE_DIR"
#: Threads downloading blobs into the cache at once (each mostly waits for the network).
FETCHERS = 8
#: Bytes read from the remote store per call while filling the cache.
CHUNK = 8 << 20


class CacheError(OSError):
    """A blob could not be brought into the cache (not its digest, or unwritable)."""


def cache_dir() -> Path:
    """``$MLTRACK_CACHE_DIR``, else ``$XDG_CACHE_HOME/mltrack``, else ``~/.cache/mltrack``
    (the XDG base directory rule: a relative ``XDG_CACHE_HOME`` is ignored)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mltrack"


def blob_cache() -> LocalBlobStore:
    """The cache of remote blobs (created on first write)."""
    return LocalBlobStore(cache_dir() / BLOBS_DIR)


def is_remote(blobs: BlobStore) -> bool:
    """Whether reading ``blobs`` goes over a network (anything but a local folder)."""
    return not isinstance(blobs, LocalBlobStore)


def cached(remote: BlobStore, cache: LocalBlobStore, digest: str) -> str:
    """The local path of blob ``digest`` in ``cache``, downloaded from ``remote`` first if
    the cache lacks it. Raises :class:`CacheError` if the bytes downloaded are not the
    blob's (the remote copy is damaged) and :class:`~..store.blobs.BlobNotFound` if the
    remote store has no such blob."""
    path, downloaded = _fill(remote, cache, digest)
    if downloaded:
        evict_if_over(cache.root.parent)
    return path


def _fill(remote: BlobStore, cache: LocalBlobStore, digest: str) -> tuple[str, bool]:
    """:func:`cached` without the eviction after it: the path, and whether it was
    downloaded (a hit marks the blob used now, the last to be evicted)."""
    if cache.has(digest):
        path = cache.file_path(digest)
        touch(path)
        return path, False
    writer = cache.writer()
    try:
        with remote.open(digest) as src:
            while chunk := src.read(CHUNK):
                writer.write(chunk)
        if writer.digest != digest:
            raise CacheError(
                f"blob {digest} read from {remote!r} hashes to {writer.digest}: the stored "
                "copy is damaged"
            )
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return cache.file_path(digest), True


def cached_many(
    remote: BlobStore, cache: LocalBlobStore, digests: Iterable[str], threads: int = FETCHERS
) -> dict[str, str]:
    """``digest -> local path`` for every blob, the missing ones downloaded ``threads`` at a
    time (a folder of small files is latency-bound: one at a time wastes the network)."""
    wanted = list(dict.fromkeys(digests))
    missing = [d for d in wanted if not cache.has(d)]
    fetched = map_threads(lambda d: _fill(remote, cache, d), missing, threads)
    found = {d: cache.file_path(d) for d in wanted}
    for digest in set(wanted).difference(missing):
        touch(found[digest])
    if any(downloaded for _, downloaded in fetched):
        evict_if_over(cache.root.parent)
    return found


def try_cache() -> LocalBlobStore | None:
    """The cache, or ``None`` when its folder cannot be created (a read-only home): reads
    then go to the remote store every time, as they did before there was a cache."""
    cache = blob_cache()
    with contextlib.suppress(OSError):
        cache.root.mkdir(parents=True, exist_ok=True)
        if os.access(cache.root, os.W_OK):
            return cache
    return None
