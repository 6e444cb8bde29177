"""The dataset versions this process got or pushed, so that a tracked cell reading their data
records the version (``team/churn@<hash>``) as its input, not just an anonymous snapshot.

Keyed by what capture already knows of an input: its snapshot digest (a DataFrame or array
a cell reads is snapshotted before the cell runs; equal digest, equal content, so the data
*is* that version whatever object holds it, and a frame changed since no longer matches),
the local path a file version was handed out as (a cell that reads the path variable), and,
for objects a cell does not snapshot (an Arrow table), the object itself while it lives.

Standard library only, and only imported once a dataset is pushed or got: capture asks
``sys.modules`` for it, so a process that never uses datasets pays nothing per cell.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.entities import DatasetVersion, Snapshot

_lock = threading.Lock()
#: snapshot digest -> ``team/churn@<hash>`` of the version last got or pushed with it.
_refs: dict[str, str] = {}
#: absolute local path -> the snapshot of the file version handed out at that path.
_paths: dict[str, Snapshot] = {}
#: ``id(obj)`` -> (a weak reference to it, its snapshot): objects capture does not snapshot.
_objects: dict[int, tuple[weakref.ref[Any], Snapshot]] = {}
#: Longest string looked up as a path (a cell may read a 10 MB string: not a path).
MAX_PATH = 4096


def remember(version: DatasetVersion, snapshot: Snapshot, obj: Any = None) -> None:
    """``version`` was got (as ``obj``) or pushed: its data, read by a tracked cell, is it."""
    with _lock:
        _refs[version.snapshot_digest] = version.ref
        if obj is None:
            return
        if isinstance(obj, str | os.PathLike):
            _paths[os.path.abspath(os.fspath(obj))] = snapshot
            return
        try:
            key = id(obj)
            _objects[key] = (weakref.ref(obj, lambda _r, key=key: _forget(key)), snapshot)
        except TypeError:  # not weak-referenceable: recognised by its digest only
            pass


def _forget(key: int) -> None:
    with _lock:
        _objects.pop(key, None)


def ref_for(digest: str) -> str | None:
    """The version (``team/churn@<hash>``) data with snapshot ``digest`` was got as."""
    return _refs.get(digest)


def held(value: Any) -> Snapshot | None:
    """The snapshot of a dataset version ``value`` is (a path a file version was handed
    out at, or an object ``get`` returned that capture does not snapshot), else ``None``."""
    if isinstance(value, str | os.PathLike):
        text = os.fspath(value)
        if not _paths or not isinstance(text, str) or len(text) > MAX_PATH:
            return None
        return _paths.get(os.path.abspath(text))
    found = _objects.get(id(value))
    if found is not None and found[0]() is value:
        return found[1]
    return None


def clear() -> None:
    """Forget everything (tests; a store switched)."""
    with _lock:
        _refs.clear()
        _paths.clear()
        _objects.clear()
