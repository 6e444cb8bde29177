"""The data a run reads and writes: variables and files, snapshotted as the run's inputs and
outputs, and the public ``snapshot`` / ``load_snapshot`` / ``diff`` functions.

Inside a ``%%track`` cell, every pandas DataFrame/Series and numpy array the cell reads is
snapshotted before the cell runs (so in-place edits by the cell are not what is recorded),
and every file the cell opens is seen through a ``sys.addaudithook`` hook: read-only opens
become file inputs, opens for writing file outputs (snapshotted after the cell, once
written). The hook is installed once per process and does nothing outside tracked cells
but compare one attribute.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.entities import Snapshot

if TYPE_CHECKING:
    from ..snapshots.storage import SnapshotJob, Snapshotter
    from ..store.store import Store

_snapshotters: dict[int, Snapshotter] = {}
_lock = threading.Lock()


def snapshotter(store: Store | None = None) -> Snapshotter:
    """The snapshotter of ``store`` (default: the process's store), made once per store;
    while the store cannot be written, of the local store snapshots are kept in until it can
    (``SpoolingStore.snapshot_store``)."""
    from ..snapshots.storage import Snapshotter
    from .api import get_store

    st = store or get_store()
    elsewhere = getattr(st, "snapshot_store", None)
    if elsewhere is not None:
        st = elsewhere()
    with _lock:
        found = _snapshotters.get(id(st))
        if found is None or found.store is not st:
            found = _snapshotters[id(st)] = Snapshotter(st)
        return found


def warm_up() -> bool:
    """Load the snapshot code (and make the store's snapshotter) ahead of the first tracked
    cell, which would otherwise import it while the user waits (tens of milliseconds). Only
    once numpy is loaded: that code needs numpy, and a kernel that never loads it must not
    be made to. Returns whether it ran; called from the tracking worker."""
    if "numpy" not in sys.modules:
        return False
    from .api import get_store

    snapshotter(get_store()).start()
    return True


def wait_for_snapshots(deadline: float | None = None) -> tuple[list[str], int]:
    """Block until every snapshot this process took is stored, or ``deadline``
    (``time.monotonic()``) passes: one line per snapshot that failed (which, and why), and
    how many were still being written at the deadline. Snapshots queued behind a running
    write are waited for too."""
    with _lock:
        all_ = list(_snapshotters.values())
    failed: list[str] = []
    pending = 0
    for sn in all_:
        for job in sn.pending_jobs():
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                job.wait(left)
            except Exception as exc:
                if not job.done():
                    pending += 1
                else:
                    failed.append(f"snapshot {job.snapshot.short}: {exc}")
    return failed, pending


# --------------------------------------------------------------------------- public API


def snapshot(obj: Any, name: str | None = None, *, pin: bool | None = None) -> Snapshot:
    """Fingerprint ``obj`` (a DataFrame, Series, numpy array, Arrow table or a file path)
    and store it. Returns at once; the data is written in the background.

    Inside a run it becomes an input of that run (named ``name``, else after the variable
    or file); outside a run it is pinned, so ``mltrack gc`` keeps it.
    """
    from .api import active_run

    run = active_run()
    keep = pin if pin is not None else run is None
    job = snapshotter(run.store if run is not None else None).snapshot(obj, name=name, pin=keep)
    if run is not None:
        label = name or _default_name(obj, job.snapshot)
        path = os.path.abspath(os.fspath(obj)) if isinstance(obj, str | os.PathLike) else None
        run.add_data("input", label, job, path=path)
    return job.snapshot


def _default_name(obj: Any, snap: Snapshot) -> str:
    if isinstance(obj, str | os.PathLike):
        return os.fspath(obj)
    return f"{snap.kind}-{snap.short}"


def load_snapshot(ref: str | Snapshot) -> Any:
    """The object a snapshot holds, exactly as it was: a DataFrame, Series, array or Arrow
    table; for a file, the path of a read-only copy. ``ref``: a digest, a unique digest
    prefix or a snapshot name."""
    return snapshotter().load(ref)


def diff(a: Any, b: Any, *, sample: int = 0) -> SnapshotDiff:
    """What changed from ``a`` to ``b``: snapshots (or refs to them), or live objects,
    which are snapshotted first. ``sample``: list up to that many mismatched rows."""
    from ..snapshots.diff import diff_snapshots

    sn = snapshotter()
    left, right = (_as_snapshot(sn, x) for x in (a, b))
    return SnapshotDiff(diff_snapshots(sn, left, right, sample=sample))


def _as_snapshot(sn: Snapshotter, x: Any) -> Snapshot:
    if isinstance(x, Snapshot):
        return sn.resolve(x.digest)
    if isinstance(x, str) and not os.path.exists(x):
        return sn.resolve(x)
    return sn.snapshot(x, pin=False, progress=False).wait()


#: Files of a folder diff its HTML lists (the dict has them all).
MAX_HTML_FILES = 200


class SnapshotDiff(dict):
    """A snapshot diff (a plain dict, as the REST API returns it) that reads well in a
    notebook: a summary line and a table of the columns that changed."""

    def summary(self) -> str:
        a, b = self["a"], self["b"]
        if self.get("identical"):
            return f"{a['short']} and {b['short']} hold the same data"
        parts = [f"{a['short']} -> {b['short']}"]
        rows = self.get("rows")
        if rows:
            parts.append(f"rows {rows['a']:,} -> {rows['b']:,} ({rows['delta']:+,})")
        if self.get("appended_rows"):
            parts.append(f"{self['appended_rows']:,} rows appended, earlier rows unchanged")
        schema = self.get("schema") or {}
        for key, label in (("added", "added"), ("removed", "removed")):
            if schema.get(key):
                parts.append(f"{label}: {', '.join(schema[key])}")
        if schema.get("dtype_changed"):
            parts.append(
                "dtype: "
                + ", ".join(f"{c['name']} {c['a']}->{c['b']}" for c in schema["dtype_changed"])
            )
        # Added and removed columns are named above; "changed" is for the columns both hold.
        named = {*schema.get("added", ()), *schema.get("removed", ())}
        changed = [c for c in self.get("changed_columns") or [] if c not in named]
        if changed:
            parts.append(f"changed columns: {', '.join(changed)}")
        if "files" in self:
            f = self["files"]
            parts.append(f"size {f['a_size']:,} -> {f['b_size']:,} bytes")
        if "folder" in self:
            f = self["folder"]
            parts.append(
                f"files {f['a_files']:,} -> {f['b_files']:,}: {len(f['added'])} added, "
                f"{len(f['removed'])} removed, {len(f['changed'])} changed"
            )
        return "; ".join(parts)

    def __str__(self) -> str:
        lines = [self.summary()]
        for col in self.get("columns", []):
            if col["status"] == "unchanged":
                continue
            drift = "" if col.get("drift") is None else f" drift {col['drift']:.3f}"
            blocks = (
                f" ({col['changed_blocks']}/{col['blocks']} blocks)"
                if col.get("changed_blocks") is not None and col.get("blocks")
                else ""
            )
            lines.append(f"  {col['name']}: {col['status']}{blocks}{drift}")
        for row in (self.get("sample") or {}).get("rows", []):
            lines.append(f"  [{row['index']}] {row['column']}: {row['a']!r} -> {row['b']!r}")
        folder = self.get("folder") or {}
        lines.extend(f"  + {p}" for p in folder.get("added", []))
        lines.extend(f"  - {p}" for p in folder.get("removed", []))
        lines.extend(
            f"  ~ {c['path']} ({c['a_size']:,} -> {c['b_size']:,} bytes)"
            for c in folder.get("changed", [])
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        esc = html.escape
        rows = []
        for col in self.get("columns", []):
            a = (col.get("stats") or {}).get("a") or {}
            b = (col.get("stats") or {}).get("b") or {}
            drift = "" if col.get("drift") is None else f"{col['drift']:.3f}"
            rows.append(
                "<tr>"
                f"<td>{esc(str(col['name']))}</td><td>{esc(col['status'])}</td>"
                f"<td>{esc(_fmt(a.get('mean')))} → {esc(_fmt(b.get('mean')))}</td>"
                f"<td>{esc(_fmt(a.get('null_share')))} → {esc(_fmt(b.get('null_share')))}</td>"
                f"<td>{esc(drift)}</td></tr>"
            )
        table = (
            "<table><tr><th>column</th><th>status</th><th>mean</th><th>null share</th>"
            f"<th>drift</th></tr>{''.join(rows)}</table>"
            if rows
            else ""
        )
        folder = self.get("folder")
        if folder is not None:
            changes = [
                *((p, "added", "", "") for p in folder["added"]),
                *((p, "removed", "", "") for p in folder["removed"]),
                *(
                    (c["path"], "changed", f"{c['a_size']:,}", f"{c['b_size']:,}")
                    for c in folder["changed"]
                ),
            ]
            cells = "".join(
                f"<tr><td>{esc(p)}</td><td>{what}</td><td>{a}</td><td>{b}</td></tr>"
                for p, what, a, b in changes[:MAX_HTML_FILES]
            )
            more = len(changes) - MAX_HTML_FILES
            table = (
                "<table><tr><th>file</th><th>status</th><th>bytes before</th><th>bytes after</th>"
                f"</tr>{cells}</table>" + (f"<p>… {more:,} more</p>" if more > 0 else "")
                if changes
                else ""
            )
        return f'<div class="jp-mltrack-diff"><p>{esc(self.summary())}</p>{table}</div>'


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --------------------------------------------------------------------------- in a cell


def is_dataset(value: Any) -> bool:
    """Values a tracked cell snapshots when it reads them."""
    module = type(value).__module__
    if module.startswith("pandas"):
        import pandas as pd

        return isinstance(value, pd.DataFrame | pd.Series)
    if module == "numpy":
        import numpy as np

        return isinstance(value, np.ndarray) and value.dtype.kind != "V" and value.size > 0
    return False


def snapshot_values(
    run: Any, role: str, names: Iterable[str], namespace: dict[str, Any], *, quiet: bool = False
) -> list[str]:
    """Snapshot the datasets among ``names`` as the run's ``role`` data; returns the names
    that could not be snapshotted (their values have no exact fingerprint). The run is linked
    to them all in one transaction."""
    taken, skipped = take_snapshots(run.store, names, namespace, quiet=quiet)
    if not taken:
        return skipped
    try:
        run.add_data_many([(role, name, job, None) for name, job in taken])
    except Exception:
        # a snapshot remembered as complete was swept by a gc elsewhere: look each up again
        again = retake_snapshots(run.store, taken, namespace)
        run.add_data_many([(role, name, job, None) for name, job in again])
    return skipped


def take_snapshots(
    store: Store, names: Iterable[str], namespace: dict[str, Any], *, quiet: bool = False
) -> tuple[list[tuple[str, SnapshotJob]], list[str]]:
    """Snapshot the datasets among ``names`` (written in the background): ``(name, job)``
    for each, and the names that could not be snapshotted (said on stderr unless ``quiet``).
    Linking them to a run is the caller's: :func:`snapshot_values`, or ``start_run(data=...)``
    for a tracked cell's inputs."""
    skipped: list[str] = []
    taken: list[tuple[str, SnapshotJob]] = []
    got = sys.modules.get("jupyter_mltrack.datasets.inputs")
    for name in names:
        if name not in namespace:
            continue
        if not is_dataset(namespace[name]):
            # a file version's path, or an Arrow table, from mltrack.datasets.get: its
            # snapshot is known (and complete), nothing to take
            held = got.held(namespace[name]) if got is not None else None
            if held is not None:
                from ..snapshots.storage import SnapshotJob

                taken.append((name, SnapshotJob(held)))
            continue
        try:
            job = snapshotter(store).snapshot(namespace[name], progress=True)
        except Exception as exc:
            skipped.append(name)
            if not quiet:
                print(f"mltrack: not snapshotting {name!r}: {_why(exc)}", file=sys.stderr)
            continue
        taken.append((name, job))
    return taken, skipped


def retake_snapshots(
    store: Store, taken: list[tuple[str, SnapshotJob]], namespace: dict[str, Any]
) -> list[tuple[str, SnapshotJob]]:
    """``taken`` again, after linking them failed: a snapshot this process remembered as
    complete was swept by a ``gc`` in another one, so none is taken on trust this time."""
    sn = snapshotter(store)
    for _, job in taken:
        sn.forget(job.digest)
    return [(name, sn.snapshot(namespace[name], progress=True)) for name, _ in taken]


class FileAccess:
    """Files a tracked cell opens, seen by an audit hook (``open`` events): read-only opens
    are inputs, opens for writing outputs. Only opens from the cell's own thread count, and
    never files inside Python's installation, Jupyter's and IPython's folders, caches and
    settings under the home folder, system folders, or the tracker's own store."""

    _hook_installed = False
    #: The recorder of the tracked cell running now (one at a time).
    current: FileAccess | None = None

    def __init__(self, ignore: Iterable[Path] = ()) -> None:
        self.thread = threading.get_ident()
        self.reads: dict[str, str] = {}  # resolved path -> path as the cell wrote it
        self.writes: dict[str, str] = {}
        self.ignore = _ignored((*ignore, *_cache_dirs()))

    @classmethod
    def install(cls) -> None:
        """Add the audit hook (once per process: hooks cannot be removed)."""
        if not cls._hook_installed:
            sys.addaudithook(_audit)
            cls._hook_installed = True

    def __enter__(self) -> FileAccess:
        FileAccess.install()
        FileAccess.current = self
        return self

    def __exit__(self, *exc: Any) -> None:
        if FileAccess.current is self:
            FileAccess.current = None

    def seen(self, path: Any, mode: Any, flags: Any) -> None:
        if threading.get_ident() != self.thread or isinstance(path, int):
            return
        try:
            text = os.fsdecode(path)
        except TypeError:
            return
        resolved = os.path.abspath(text)
        if resolved.startswith(self.ignore) or resolved.startswith(("/proc/", "/sys/", "/dev/")):
            return
        writing = _writes(mode, flags)
        if writing:
            self.writes.setdefault(resolved, text)
        elif resolved not in self.writes:
            self.reads.setdefault(resolved, text)

    def inputs(self) -> dict[str, str]:
        """Files read (and not written) that still exist as regular files."""
        return {p: t for p, t in self.reads.items() if p not in self.writes and _is_file(p)}

    def outputs(self) -> dict[str, str]:
        return {p: t for p, t in self.writes.items() if _is_file(p)}


@functools.lru_cache(maxsize=8)
def _ignored(extra: tuple[Path, ...]) -> tuple[str, ...]:
    return tuple(os.path.join(str(p), "") for p in {*_python_dirs(), *extra})


def _cache_dirs() -> tuple[Path, ...]:
    """The blob cache (``snapshots/cache.py``): the files of dataset versions handed out
    there are recorded by the version's name (the path ``get`` returned), not as files."""
    return _cache_dir_of(*_cache_env())


def _cache_env() -> tuple[str | None, str | None]:
    return os.environ.get("MLTRACK_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME")


@functools.lru_cache(maxsize=4)
def _log_ignored(explicit: str | None, xdg: str | None) -> tuple[str, ...]:
    """The prefixes of files the execution log does not list, built once per cache
    location: the audit hook asks on every ``open()`` of a cell."""
    return _ignored(_cache_dir_of(explicit, xdg)) + ("/proc/", "/sys/", "/dev/")


@functools.lru_cache(maxsize=4)
def _cache_dir_of(_explicit: str | None, _xdg: str | None) -> tuple[Path, ...]:
    from ..snapshots.cache import cache_dir

    return (cache_dir(),)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event != "open":
        return
    recorder = FileAccess.current
    log = _execution_log()
    if recorder is None and log is None:
        return
    with contextlib.suppress(Exception):  # an audit hook must never break the user's open()
        path, mode, flags = (list(args) + [None, None, None])[:3]
        if recorder is not None:
            recorder.seen(path, mode, flags)
        if log is not None and not isinstance(path, int):
            resolved = os.path.abspath(os.fsdecode(path))
            if not resolved.startswith(_log_ignored(*_cache_env())):
                log.file_opened(resolved, _writes(mode, flags))


def _execution_log() -> Any:
    history = sys.modules.get("jupyter_mltrack.capture.history")
    return history.ExecutionLog.current if history is not None else None


def _writes(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    if isinstance(flags, int):
        return bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))
    return False


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


@functools.cache
def _python_dirs() -> frozenset[Path]:
    """Folders whose files are never a run's data (computed once: it resolves paths)."""
    import sysconfig

    dirs = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    # this package's own modules, imported lazily inside a tracked cell (log_model loads
    # the model formats): an editable install keeps them outside site-packages
    dirs.add(Path(__file__).resolve().parents[1])
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            dirs.add(Path(paths[key]))
    with contextlib.suppress(Exception):
        from IPython.paths import get_ipython_dir

        dirs.add(Path(get_ipython_dir()))
    with contextlib.suppress(Exception):
        from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir, jupyter_runtime_dir

        dirs.update(Path(d()) for d in (jupyter_config_dir, jupyter_data_dir, jupyter_runtime_dir))
    # Caches and settings libraries read on their own (matplotlib's font list, …) and the
    # system's files are not a run's data.
    home = Path.home()
    dirs.update(home / d for d in (".cache", ".config", ".local", ".matplotlib", ".keras"))
    dirs.update(Path(d) for d in ("/etc", "/usr", "/var/lib", "/run", "/opt/conda"))
    return frozenset(d.resolve() for d in dirs)


def snapshot_files(
    run: Any, role: str, files: dict[str, str], *, quiet: bool = False
) -> list[tuple[str, SnapshotJob]]:
    """Snapshot ``files`` (resolved path -> path as the code wrote it) as the run's
    ``role`` data; ``(path as written, job)`` of each one taken."""
    if not files:
        return []
    sn = snapshotter(run.store)
    jobs = []
    for resolved, as_written in files.items():
        try:
            job = sn.snapshot_file(resolved, progress=True)
        except Exception as exc:
            if not quiet:
                print(f"mltrack: not snapshotting {as_written!r}: {_why(exc)}", file=sys.stderr)
            continue
        run.add_data(role, as_written, job, path=resolved)
        jobs.append((as_written, job))
    return jobs


def _why(exc: BaseException) -> str:
    """Why a snapshot was not taken, in one line: the database's own first line when the
    store could not be reached (SQLAlchemy's wrapping and links left out)."""
    from ..store.errors import reason, unavailable

    if unavailable(exc):
        return f"the store cannot be reached ({reason(exc)}); snapshots resume when it is back"
    return str(exc)
