"""Holds: notes kept in a blob store, beside the blobs, that ``gc`` must keep some blobs
no row names yet.

A blob becomes ``gc``'s to delete when no row names it and no writer that may be about to
record it can be busy. Writers say so in the database (a pending row with its host and
pid), but an artifact logged while the database could not be written (the spool's) has no
row until the replay, hours later perhaps and on another machine, and its blobs are
already in the blob store the whole team shares. So such a writer leaves a hold in the
blob store itself, where every ``gc`` of it looks: first one naming no blob (a writer
busy: ``gc`` deletes no unrecorded blob while it is young), then the same hold naming the
blobs the artifact uses once they are stored. The replay drops the hold once the artifact's
rows are written and name the blobs themselves.

A hold is a small JSON object under ``holds/`` of the blob store's root, named by a random
id: never a blob's name, so never listed as one.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .blob_files import fsync_dir, make_temp
from .blobs import BlobStore, FsspecBlobStore, LocalBlobStore, listing_time

#: The folder (or key prefix) of the holds under a blob store's root.
FOLDER = "holds"
#: Seconds after which a hold that never named its blobs is taken as abandoned: a day, far
#: beyond the time any artifact takes to store.
ABANDONED = 86400.0


@dataclass(frozen=True)
class Hold:
    """One hold: the blobs it keeps (none while its writer is storing them) and when it
    was last written (seconds since the epoch)."""

    name: str
    digests: frozenset[str]
    written_at: float
    #: Whether its writer has said which blobs it keeps (an empty artifact's keeps none).
    stored: bool
    #: Whether it could be read (one that could not may name any blob).
    readable: bool = True

    @property
    def busy(self) -> bool:
        """Whether its writer has not said yet which blobs it keeps (it may be storing
        them: no unrecorded blob is safe to delete meanwhile)."""
        return not self.stored


def new_hold(blobs: BlobStore) -> str:
    """Leave a hold naming no blob yet (its writer is about to store some); its name."""
    name = uuid.uuid4().hex
    put_hold(blobs, name, (), stored=False)
    return name


def put_hold(blobs: BlobStore, name: str, digests: Iterable[str], *, stored: bool = True) -> None:
    """Write hold ``name`` naming ``digests``, the blobs its writer stored (replacing what
    it named); ``stored=False`` while it is storing them. The writer is written down for a
    person looking at the store."""
    body = json.dumps(
        {
            "digests": sorted(set(digests)),
            "stored": stored,
            "at": time.time(),
            "writer": f"{socket.gethostname()}:{os.getpid()}",
        }
    ).encode()
    if isinstance(blobs, LocalBlobStore):
        folder = blobs.root / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = make_temp(str(folder))
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, folder / f"{name}.json")
        fsync_dir(folder)
    elif isinstance(blobs, FsspecBlobStore):
        blobs.fs.pipe_file(f"{blobs.root}/{FOLDER}/{name}.json", body)
    else:  # pragma: no cover - every store is one of the two
        raise TypeError(f"no holds on {blobs!r}")


def drop_hold(blobs: BlobStore, name: str) -> None:
    """Remove hold ``name`` (gone already is fine)."""
    with contextlib.suppress(FileNotFoundError):
        if isinstance(blobs, LocalBlobStore):
            (blobs.root / FOLDER / f"{name}.json").unlink()
            return
        if isinstance(blobs, FsspecBlobStore):
            blobs.fs.rm_file(f"{blobs.root}/{FOLDER}/{name}.json")


def holds(blobs: BlobStore) -> Iterator[Hold]:
    """Every hold of the blob store. One that cannot be read (being replaced on a store
    without atomic puts, or damaged) counts as busy: it may name any blob."""
    for name, read, written_at in _entries(blobs):
        try:
            data = json.loads(read())
            digests = frozenset(str(d) for d in data["digests"])
            stored = data["stored"] is True
        except FileNotFoundError:  # dropped since the listing
            continue
        except (OSError, ValueError, TypeError, KeyError):
            yield Hold(name, frozenset(), written_at, stored=False, readable=False)
            continue
        yield Hold(name, digests, written_at, stored)


def drop_abandoned(blobs: BlobStore, now: float, older_than: float = ABANDONED) -> list[str]:
    """Drop the holds whose writer never said which blobs they keep and that are older
    than ``older_than``: a writer killed while it stored them (its blobs, named by no
    spool entry either, are orphans). Left, such a hold would make every later ``gc`` wait
    an hour for any orphan. A hold that cannot be read is never dropped: it may name
    anything. The names dropped."""
    dropped = []
    for hold in holds(blobs):
        if hold.busy and hold.readable and now - hold.written_at > older_than:
            drop_hold(blobs, hold.name)
            dropped.append(hold.name)
    return dropped


def _entries(blobs: BlobStore) -> Iterator[tuple[str, Callable[[], bytes], float]]:
    """``(name, read, written at)`` of each hold, ``read()`` giving its bytes."""
    if isinstance(blobs, LocalBlobStore):
        folder = blobs.root / FOLDER
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                written_at = path.stat().st_mtime
            except FileNotFoundError:
                continue
            yield path.stem, path.read_bytes, written_at
    elif isinstance(blobs, FsspecBlobStore):
        prefix = f"{blobs.root}/{FOLDER}"
        try:
            found = blobs.fs.find(prefix, detail=True)
        except FileNotFoundError:
            return
        for key, info in sorted(found.items()):
            stem = str(key).rsplit("/", 1)[-1]
            if not stem.endswith(".json"):
                continue
            at = listing_time(info)
            if at is None:  # no time said: taken as young
                at = time.time()
            yield stem[: -len(".json")], lambda key=key: bytes(blobs.fs.cat_file(key)), at
