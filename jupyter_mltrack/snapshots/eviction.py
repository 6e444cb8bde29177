"""Keeping the local blob cache (:mod:`.cache`) under a size: least recently used first.

The cache fills as remote dataset versions, snapshots and packs are read, and a data
scientist who gets many versions of a large dataset would otherwise fill the disk without
being told. ``MLTRACK_CACHE_SIZE`` (``20G``, ``500M``, a number of bytes) caps it: after a
read brings new blobs in, the entries used longest ago are removed until the cache is under
the cap; ``mltrack cache clean`` does the same on demand and ``mltrack cache info`` says
what it holds. Unset, nothing is removed automatically.

An *entry* is a blob (``blobs/<algo>/<ab>/<hex>``) or a folder handed out as a dataset
version (``folders/<hex>``, whose files may be hard links to blobs). "Used" is the entry's
modification time, set again on every hit (``touch``): access times are not reliable
(``relatime``, ``noatime`` mounts). Entries used within ``RECENT`` seconds are never
removed automatically: a path handed out a moment ago may not have been opened yet. What
a removal frees is counted per inode, so a blob linked into a folder is freed once both
are gone. Temporary files of writers still running (``.tmp-*``) are neither counted nor
removed. A removed entry is simply downloaded again the next time it is read.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The cap on the cache's size, when set (see :func:`parse_size`).
CACHE_SIZE_ENV = "MLTRACK_CACHE_SIZE"
#: Entries used within this many seconds are kept by automatic eviction.
RECENT = 600.0
#: Under the cache's root (see :mod:`.cache`): the blobs, and the read-only folders that
#: ``folder_path`` hands out.
BLOBS_DIR = "blobs"
FOLDERS_DIR = "folders"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``"20G"``, ``"500M"``, ``"1.5GiB"``, ``"1048576"`` (binary units, as
    ``du -h`` shows them); :class:`ValueError` saying what is accepted otherwise."""
    found = _SIZE_RE.match(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a size: give a number of bytes, or one with K, M, G or T "
            "after it (e.g. 20G, 500M)"
        )
    number, unit, _ = found.groups()
    return int(float(number) * _UNITS[unit.lower()])


def size_limit() -> int | None:
    """``$MLTRACK_CACHE_SIZE`` in bytes; ``None`` when unset (no automatic eviction).
    Raises :class:`ValueError` naming the variable when it is not a size."""
    text = os.environ.get(CACHE_SIZE_ENV, "").strip()
    if not text:
        return None
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ValueError(f"{CACHE_SIZE_ENV}: {exc}") from None


def touch(path: str | os.PathLike[str]) -> None:
    """Mark an entry used now (a hit): it becomes the last to be evicted."""
    with contextlib.suppress(OSError):
        os.utime(path)


@dataclass(frozen=True)
class Entry:
    """One evictable thing in the cache: a blob file or a handed-out folder."""

    path: Path
    kind: str  # "blob" or "folder"
    used: float
    #: ``(device, inode, size, links)`` of every file it holds.
    files: tuple[tuple[int, int, int, int], ...]


@dataclass(frozen=True)
class Usage:
    """What the cache holds: bytes on disk (each inode once), blobs and folders."""

    root: Path
    bytes: int
    blobs: int
    folders: int
    limit: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.root),
            "bytes": self.bytes,
            "blobs": self.blobs,
            "folders": self.folders,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class Evicted:
    """What an eviction removed, and what the cache holds after it."""

    entries: int
    freed: int
    after: Usage

    def to_dict(self) -> dict[str, object]:
        return {"removed": self.entries, "freed_bytes": self.freed, **self.after.to_dict()}


def _is_temp(name: str) -> bool:
    return name.startswith(".")


def _file(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _inode(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_nlink)


def entries(root: Path) -> Iterator[Entry]:
    """Every blob and handed-out folder under the cache ``root`` (gone ones skipped)."""
    blobs = root / BLOBS_DIR
    for folder, dirs, names in os.walk(blobs):
        dirs[:] = [d for d in dirs if not _is_temp(d)]
        for name in names:
            if _is_temp(name):
                continue
            path = os.path.join(folder, name)
            st = _file(path)
            if st is not None:
                yield Entry(Path(path), "blob", st.st_mtime, (_inode(st),))
    with contextlib.suppress(OSError):
        for item in os.scandir(root / FOLDERS_DIR):
            if _is_temp(item.name) or not item.is_dir(follow_symlinks=False):
                continue
            held = []
            for folder, _, names in os.walk(item.path):
                for name in names:
                    st = _file(os.path.join(folder, name))
                    if st is not None:
                        held.append(_inode(st))
            with contextlib.suppress(OSError):
                yield Entry(Path(item.path), "folder", item.stat().st_mtime, tuple(held))


def _measure(root: Path, found: list[Entry], limit: int | None) -> Usage:
    inodes = {(dev, ino): size for e in found for dev, ino, size, _ in e.files}
    return Usage(
        root=root,
        bytes=sum(inodes.values()),
        blobs=sum(e.kind == "blob" for e in found),
        folders=sum(e.kind == "folder" for e in found),
        limit=limit,
    )


def usage(root: Path, limit: int | None = None) -> Usage:
    """What the cache at ``root`` holds now."""
    return _measure(root, list(entries(root)), limit)


def evict(root: Path, limit: int, *, keep_recent: float = RECENT) -> Evicted:
    """Remove the least recently used entries until the cache at ``root`` holds at most
    ``limit`` bytes, keeping those used within ``keep_recent`` seconds (so it may stay
    above ``limit`` when what was just used is larger)."""
    found = list(entries(root))
    # links left to each inode inside the cache: a blob linked into a folder is freed when
    # the last of them goes (links from outside the cache, none are made, would keep it)
    links: dict[tuple[int, int], list[int]] = {}
    for e in found:
        for dev, ino, size, nlink in e.files:
            links.setdefault((dev, ino), [size, nlink])
    total = sum(size for size, _ in links.values())
    now = time.time()
    removed = freed = 0
    for e in sorted(found, key=lambda e: e.used):
        if total <= limit:
            break
        if now - e.used < keep_recent:
            break  # sorted: every later entry is more recent still
        try:
            if e.kind == "folder":
                _remove_tree(e.path)
            else:
                e.path.unlink()
        except FileNotFoundError:
            pass  # another process evicted it meanwhile
        except OSError:
            continue
        removed += 1
        for dev, ino, _, _ in e.files:
            left = links[(dev, ino)]
            left[1] -= 1
            if left[1] <= 0:
                freed += left[0]
                total -= left[0]
    return Evicted(removed, freed, usage(root, limit))


def _remove_tree(path: Path) -> None:
    """Remove a handed-out folder: renamed first, so a reader finds it whole or not at all
    (``folder_path`` then builds it again), then deleted."""
    doomed = path.with_name(f".evicting-{path.name}-{os.getpid()}")
    os.rename(path, doomed)
    shutil.rmtree(doomed)


def evict_if_over(root: Path) -> Evicted | None:
    """After new blobs were brought into the cache: evict down to ``$MLTRACK_CACHE_SIZE``
    when it is set. Never raises (a reader must not fail over its cache's upkeep); a
    variable that is not a size is reported by ``mltrack cache info``."""
    try:
        limit = size_limit()
        if limit is None:
            return None
        return evict(root, limit)
    except (OSError, ValueError):
        return None
