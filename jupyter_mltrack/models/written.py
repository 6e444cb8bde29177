"""``%%track --artifacts``: the files a tracked cell wrote, kept as artifacts of its run.

A tracked cell already snapshots the files it writes (their bytes go whole into the blob
store, see ``Snapshotter.snapshot_file``). Keeping them as artifacts reuses those blobs: the
artifact is recorded from the snapshot once it is stored, so nothing is read or copied
twice, and the artifact holds the bytes as the cell left them even if a later cell rewrites
the file. The work happens in the background, off the cell's path; a failure is said in one
line and never reaches the cell.
"""

from __future__ import annotations

import posixpath
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..store.entities import ArtifactFile
from .artifacts import ArtifactError, check_name, media_type_of

if TYPE_CHECKING:
    from ..snapshots.storage import SnapshotJob

#: How long to wait for a written file's snapshot before giving up on its artifact.
WAIT = 3600.0


def artifact_name(as_written: str, taken: set[str]) -> str:
    """The name a written file is kept under: its path as the code wrote it when that is
    a clean relative path, else its base name; ``-2``, ``-3``… when already taken."""
    text = as_written.replace("\\", "/")
    candidate = posixpath.normpath(text) if text else "file"
    try:
        check_name(candidate)
    except ArtifactError:
        candidate = posixpath.basename(candidate.rstrip("/")) or "file"
    name, n = candidate, 1
    while name in taken:
        n += 1
        stem, dot, ext = candidate.rpartition(".")
        name = f"{stem}-{n}.{ext}" if dot and stem else f"{candidate}-{n}"
    taken.add(name)
    return name


def keep_written_files(run: Any, written: Sequence[tuple[str, SnapshotJob]]) -> None:
    """Record ``written`` (path as written, its snapshot job) as ``file`` artifacts of
    ``run`` (an ``ActiveRun``) once their snapshots are stored, in the background."""
    from ..capture import api

    api._submit(_record, run.store, run.id, list(written))


def _record(store: Any, run_id: str, written: list[tuple[str, SnapshotJob]]) -> None:
    taken: set[str] = set()
    for as_written, job in written:
        name = artifact_name(as_written, taken)
        try:
            snap = job.wait(WAIT)
            blob, size = snap.layout["blob"], int(snap.layout["size"])
            file = ArtifactFile(posixpath.basename(name), blob, size)
            # gc keeps the blob from now on
            store.open_artifact(run_id, name, "file", [file], media_type=media_type_of(name))
            if not store.blobs.has(blob):  # the snapshot's blob was collected before
                store.abandon_artifact(run_id, name)
                raise FileNotFoundError(f"its stored copy {blob} is gone")
            store.complete_artifact(run_id, name, [file])
        except Exception as exc:  # tracking never breaks the cell, nor the next one
            print(f"mltrack: not keeping {as_written!r} as an artifact: {exc}", file=sys.stderr)
