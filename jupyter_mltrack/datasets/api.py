"""``mltrack.datasets``: push data as a named, versioned dataset; get any version back exactly.

A version is a snapshot (:mod:`jupyter_mltrack.snapshots`: content-addressed blocks, exact
restore, diff) plus the user's meta, named by the hash of its manifest
(:func:`~jupyter_mltrack.store.dataset_records.version_hash`): the same data and meta give
the same hash in any store, and pushing them again adds nothing. The functions here are
thin: the store keeps the records (:mod:`~jupyter_mltrack.store.dataset_records`), the
snapshotter the data; what is added is the reference syntax, who pushed, and telling
capture which version a run read (:mod:`.inputs`).

The ``*_with`` functions take an explicit store and snapshotter (the CLI's); the public ones
use the process's store, as the rest of the public API does.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..capture.data import SnapshotDiff
from ..snapshots.errors import SnapshotError
from ..store.dataset_records import (
    check_dataset_name,
    check_dataset_tag,
    parse_dataset_ref,
    version_manifest,
)
from ..store.entities import Dataset, DatasetVersion, Snapshot
from ..store.errors import SnapshotNotFound, StoreError
from . import inputs

if TYPE_CHECKING:
    from ..snapshots.storage import Snapshotter
    from ..store.store import Store

#: Overrides who a push is recorded as (else git's ``user.name``, else ``user@host``).
AUTHOR_ENV = "MLTRACK_AUTHOR"
#: Files of a folder version a printed ``browse`` lists (``.files`` has them all).
MAX_LISTED = 50


# who pushed ------------------------------------------------------------------------------------


def author() -> str:
    """Who is pushing: ``$MLTRACK_AUTHOR``, else git's ``user.name`` (what a team knows
    people by), else ``user@host`` (runs record no user; this is what the machine knows)."""
    return os.environ.get(AUTHOR_ENV, "").strip() or _default_author()


@functools.cache
def _default_author() -> str:
    try:
        done = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()[:256]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:256]


# what the public functions return --------------------------------------------------------------


@dataclass(frozen=True)
class DatasetManifest:
    """What ``browse`` shows of a version without reading its data: the manifest its hash
    is taken of, its record, and its snapshot's (schema, statistics, row and column counts)."""

    version: DatasetVersion
    manifest: dict[str, Any]
    snapshot: Snapshot

    @property
    def schema(self) -> dict[str, Any]:
        return self.snapshot.schema

    @property
    def stats(self) -> dict[str, Any] | None:
        return self.snapshot.stats

    @property
    def files(self) -> list[dict[str, Any]]:
        """A folder version's files (``path``, ``size``, ``digest``), sorted by path, from
        its record (no data is read); a file version's one file; nothing for a table."""
        snap = self.snapshot
        if snap.kind == "folder":
            from ..snapshots.folders import folder_files

            return [{"path": p, "size": n, "digest": d} for p, d, n in folder_files(snap)]
        if snap.kind == "file":
            name = str(snap.schema.get("name") or snap.short)
            return [{"path": name, "size": snap.nbytes, "digest": snap.layout.get("blob")}]
        return []

    def to_dict(self) -> dict[str, Any]:
        out = {
            "version": self.version.to_dict(),
            "manifest": self.manifest,
            "snapshot": self.snapshot.to_dict(),
        }
        if self.snapshot.kind in ("file", "folder"):
            out["files"] = self.files
        return out

    def __str__(self) -> str:
        v = self.version
        shape = "x".join("?" if d is None else f"{d:,}" for d in self.snapshot.shape)
        if v.kind == "folder":
            shape = f"{self.snapshot.schema.get('files', 0):,} files,"
        lines = [
            f"{v.dataset}@{v.short}" + "".join(f" @{t}" for t in v.tags),
            f"  {v.kind} {shape or ''} {v.nbytes:,} bytes".rstrip(),
            f"  pushed by {v.author or '-'}" + (f": {v.message}" if v.message else ""),
        ]
        if v.meta:
            lines.append(f"  meta {json.dumps(v.meta, ensure_ascii=False)}")
        if v.kind == "folder":
            files = self.files
            lines.extend(f"  {f['size']:>12,}  {f['path']}" for f in files[:MAX_LISTED])
            if len(files) > MAX_LISTED:
                lines.append(f"  … and {len(files) - MAX_LISTED:,} more (.files lists all)")
        return "\n".join(lines)


class DatasetDiff(SnapshotDiff):
    """The snapshot diff of two versions, with the versions named in its summary and the
    meta of each when they differ (``meta``)."""

    def summary(self) -> str:
        a, b = self["versions"]["a"], self["versions"]["b"]
        return f"{a} -> {b}: " + super().summary()


# the work, on a given store --------------------------------------------------------------------


def push_with(
    store: Store,
    sn: Snapshotter,
    obj: Any,
    name: str,
    *,
    message: str = "",
    meta: Mapping[str, Any] | None = None,
    tag: str | None = None,
    pushed_by: str | None = None,
) -> tuple[DatasetVersion, bool]:
    """Push ``obj`` as the next version of ``name``: ``(version, created)``. Waits until the
    data is stored (a version always names durable data)."""
    check_dataset_name(name)
    from ..store.dataset_records import canonical_meta

    canonical_meta(meta)  # refused before any data is read
    if tag is not None:
        check_dataset_tag(tag)
    who = author() if pushed_by is None else pushed_by
    for attempt in range(2):
        snap = _stored(sn, obj, name)
        try:
            version, created = store.add_dataset_version(
                name, snap.digest, meta=meta, message=message, author=who, tag=tag
            )
        except SnapshotNotFound:
            if attempt:
                raise
            sn.forget(snap.digest)  # swept by a gc since: stored again, once
            continue
        inputs.remember(version, snap)
        return version, created
    raise AssertionError("unreachable")


def _stored(sn: Snapshotter, obj: Any, name: str) -> Snapshot:
    """The complete snapshot of ``obj`` (a DataFrame, Series, array, Arrow table, file or
    folder)."""
    if isinstance(obj, str | os.PathLike) and not os.path.exists(obj):
        raise SnapshotError(f"cannot push {os.fspath(obj)!r}: no such file or folder")
    return sn.snapshot(obj, name=name, pin=False).wait()


def resolve_with(store: Store, ref: str | DatasetVersion) -> DatasetVersion:
    """The version ``ref`` names (``team/churn``, ``team/churn@gold``, ``@<hash prefix>``)."""
    if isinstance(ref, DatasetVersion):
        return ref
    name, selector = parse_dataset_ref(ref)
    return store.resolve_dataset_version(name, selector)


def load_with(
    sn: Snapshotter, version: DatasetVersion, dest: str | os.PathLike[str] | None = None
) -> Any:
    """The data of ``version`` exactly as pushed: a table or array as the object; a file
    or folder as a local path (read-only, shared, under the cache; or, with ``dest``,
    written there as a writable copy: a new or empty folder for a folder, a file's path or
    an existing folder to put it in for a file)."""
    snap = sn.resolve(version.snapshot_digest)
    if dest is None:
        data = sn.load(snap)
    elif snap.kind == "folder":
        data = sn.restore_folder(snap, dest)
    elif snap.kind == "file":
        out = Path(dest)
        if out.is_dir():
            out = out / (os.path.basename(str(snap.schema.get("name") or "")) or snap.short)
        data = sn.restore_file(snap, out)
    else:
        raise SnapshotError(
            f"{version.dataset}@{version.short} is a {version.kind}: 'dest' is for file and "
            "folder versions (a table or array is returned as the object)"
        )
    inputs.remember(version, snap, data)
    return data


def manifest_with(store: Store, ref: str | DatasetVersion) -> DatasetManifest:
    version = resolve_with(store, ref)
    manifest = json.loads(version_manifest(version.snapshot_digest, version.meta))
    return DatasetManifest(version, manifest, store.get_snapshot(version.snapshot_digest))


def diff_with(
    store: Store, sn: Snapshotter, a: str | DatasetVersion, b: str | DatasetVersion, sample: int = 0
) -> DatasetDiff:
    from ..snapshots.diff import diff_snapshots

    va, vb = resolve_with(store, a), resolve_with(store, b)
    left, right = sn.resolve(va.snapshot_digest), sn.resolve(vb.snapshot_digest)
    out = DatasetDiff(diff_snapshots(sn, left, right, sample=sample))
    out["versions"] = {"a": f"{va.dataset}@{va.short}", "b": f"{vb.dataset}@{vb.short}"}
    out["refs"] = {"a": va.ref, "b": vb.ref}
    if va.meta != vb.meta:
        out["meta"] = {"a": va.meta, "b": vb.meta}
    return out


# the public API --------------------------------------------------------------------------------


def push(
    obj: Any,
    name: str,
    message: str = "",
    meta: Mapping[str, Any] | None = None,
    tag: str | None = None,
) -> DatasetVersion:
    """Push ``obj`` — a DataFrame, Series, numpy array, Arrow table, or the path of a file
    or a folder — as the next version of dataset ``name`` (``team/churn``), with a
    ``message`` and JSON ``meta``; ``tag`` (``gold``) is pointed at it. Returns the version,
    named by the hash of its manifest: the same data and meta always get the same hash, and
    pushing them again returns the existing version (and makes it ``latest``) instead of
    adding one. A folder's content is its files' relative paths, sizes and bytes (not their
    times, nor the folder's name); only the files the store lacks are copied."""
    __tracebackhide__ = True
    from ..capture.data import snapshotter

    store = _store()
    with _user_errors():
        return push_with(store, snapshotter(store), obj, name, message=message, meta=meta, tag=tag)[
            0
        ]


def get(
    ref: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    pinned: Mapping[str, str] | None = None,
) -> Any:
    """The data of a version exactly as pushed: ``"team/churn"`` (the latest),
    ``"team/churn@gold"`` (a tag) or ``"team/churn@3f2a9c"`` (a hash prefix, 6+ hex digits).
    A table or array comes back as the object; a file or a folder as a :class:`~pathlib.Path`
    of a local, read-only copy (shared, under the cache: ``$MLTRACK_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/mltrack``) or, with ``dest``, of a writable copy written there (a new
    or empty folder for a folder version; for a file version, the file's path or a folder
    to put it in). From a remote blob store (S3) what is read is kept in that cache: a
    second ``get`` of the version downloads nothing.

    ``pinned`` maps references to the versions they are to mean (what an exported pipeline
    passes: ``{"team/churn@gold": "team/churn@<hash>"}``, the version the notebook got).

    Inside a run (a tracked cell, ``start_run``) the version is recorded as an input of the
    run, by name (``team/churn@<hash>``); a tracked cell that later reads what this returned
    records the same; an exported pipeline gets the same version back by its hash."""
    __tracebackhide__ = True
    from ..capture.api import active_run
    from ..capture.data import snapshotter
    from ..snapshots.storage import SnapshotJob

    asked = ref
    if pinned and isinstance(ref, str):
        ref = pinned.get(ref, ref)
    store = _store()
    sn = snapshotter(store)
    with _user_errors():
        version = resolve_with(store, ref)
        data = load_with(sn, version, dest)
    run = active_run()
    if run is not None:
        snap = sn.resolve(version.snapshot_digest)
        path = os.fspath(data) if isinstance(data, os.PathLike) else None
        run.add_data("input", version.dataset, SnapshotJob(snap), path=path, dataset=version.ref)
    _note_in_log(asked, version)
    return data


def browse(ref: str) -> DatasetManifest:
    """A version's manifest, record and schema and statistics, without reading its data."""
    __tracebackhide__ = True
    with _user_errors():
        return manifest_with(_store(), ref)


def versions(name: str) -> list[DatasetVersion]:
    """The versions of dataset ``name``, newest first, each with its message, author, time,
    size, tags and the runs that read it."""
    __tracebackhide__ = True
    with _user_errors():
        return _store().dataset_versions(name, uses=True)


def diff(a: str, b: str, *, sample: int = 0) -> DatasetDiff:
    """What changed from version ``a`` to version ``b`` (``"team/churn@v1"``,
    ``"team/churn@v2"``): the snapshot diff (schema, rows, changed columns and blocks,
    drift), reading no data unless ``sample`` asks for that many mismatched cells."""
    __tracebackhide__ = True
    from ..capture.data import snapshotter

    store = _store()
    with _user_errors():
        return diff_with(store, snapshotter(store), a, b, sample)


def tag(ref: str, tag: str) -> DatasetVersion:
    """Point ``tag`` (``gold``, ``v1``; not ``latest``) at the version ``ref`` names, moving
    it from the version it named before, if any."""
    __tracebackhide__ = True
    with _user_errors():
        name, selector = parse_dataset_ref(ref)
        return _store().set_dataset_tag(name, tag, selector)


def untag(name: str, tag: str) -> None:
    """Remove ``tag`` from dataset ``name`` (its version stays)."""
    __tracebackhide__ = True
    with _user_errors():
        _store().delete_dataset_tag(name, tag)


def list_datasets() -> list[Dataset]:
    """Every dataset, by name, with its latest version and its tags."""
    return _store().list_datasets()


# helpers -----------------------------------------------------------------------------------


def _store() -> Store:
    from ..capture.api import get_store, wait_pending

    wait_pending()  # a run's writes queued by this process land first
    return get_store()


class _user_errors:
    """A bad name, reference or meta is the user's to fix: shown by IPython as one line, not
    a traceback through this package (as ``mltrack.compare`` does for run references)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, StoreError | SnapshotError):
            from .. import _one_line

            raise _one_line(exc) from None
        return False


def _note_in_log(asked: Any, version: DatasetVersion) -> None:
    """Tell the execution log which version the statement running now got, so that an
    exported pipeline gets that version (by its hash), not whatever a tag names then."""
    history = sys.modules.get("jupyter_mltrack.capture.history")
    log = history.ExecutionLog.current if history is not None else None
    if log is not None:
        log.dataset_got(asked if isinstance(asked, str) else version.ref, version.ref)
