"""What the REST API does, with no HTTP in it.

The handlers in :mod:`.handlers` only move bytes: they hand query arguments and parsed bodies
to these functions and write back what they return. Keeping validation and store calls here
(as jupyterlab-git keeps git logic out of its handlers) means every rule about what a request
may contain is written once, is testable without a server, and the tornado layer cannot drift
from it. Every function here is synchronous and blocking; handlers run them off the event loop.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import json
import keyword
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..store import (
    InvalidName,
    InvalidQuery,
    KernelSession,
    Run,
    RunNotFound,
    RunRefError,
    Snapshot,
    SnapshotNotFound,
    SnapshotStatus,
    Store,
)
from ..store.errors import ModelRegistryConflict

if TYPE_CHECKING:  # numpy and pandas are imported on the first preview, not at start-up
    from ..snapshots.storage import Snapshotter

#: Largest page a client may ask for; the store enforces the same bound.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: Both backends accept a 32-bit offset; a larger one would overflow PostgreSQL's OFFSET.
MAX_OFFSET = 2**31 - 1
#: Longest run name / tag key the schema accepts (``String(256)``).
MAX_KEY = 256

PATCH_FIELDS = ("name", "tags", "note")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class ApiError(Exception):
    """A request the API refuses; ``status`` is the HTTP status and the message is for users.

    ``reason`` (a stable, machine-readable word) and ``details`` (more fields) go into the
    error object beside ``status`` and ``message`` for refusals a client acts on, e.g. an
    export that would overwrite files."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.details = dict(details or {})

    def extra(self) -> dict[str, Any]:
        """The error object's fields beyond ``status`` and ``message``."""
        return {**({"reason": self.reason} if self.reason else {}), **self.details}


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """JSON a browser can parse: ``Infinity``/``NaN`` (metrics may hold them) become ``null``."""
    try:
        return json.dumps(data, allow_nan=False, ensure_ascii=False)
    except ValueError:  # rare: walk the value only when a non-finite float is in it
        return json.dumps(_finite(data), allow_nan=False, ensure_ascii=False)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def _check_text(field: str, value: str) -> str:
    # PostgreSQL refuses NUL in text; reject it the same way on every backend.
    if "\x00" in value:
        raise bad_request(f"{field} must not contain NUL characters")
    return value


def _single(args: Mapping[str, list[str]], name: str) -> str | None:
    values = args.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f"query parameter {name!r} was given more than once")
    return _check_text(f"query parameter {name!r}", values[0])


def _int_arg(args: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = _single(args, name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}, got {value}")
    return value


def _known_args(args: Mapping[str, list[str]], allowed: Iterable[str]) -> dict[str, list[str]]:
    """``args`` without cache-busting keys; any other key not in ``allowed`` is a 400."""
    allowed = tuple(allowed)
    # JupyterLab's request helper adds a bare ``&<timestamp>`` to GETs to defeat caches.
    args = {k: v for k, v in args.items() if not k.isdigit()}
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        hint = "; use " + ", ".join(allowed) if allowed else "; this route takes none"
        raise bad_request(f"unknown query parameter {unknown[0]!r}{hint}")
    return args


def list_experiments(store: Store) -> dict[str, Any]:
    return {"experiments": [e.to_dict() for e in store.list_experiments()]}


def _require_id(run_id: str) -> str:
    # Ids are uuid4 hex; anything else cannot exist, so do not send it to the database.
    if not _RUN_ID.match(run_id):
        raise ApiError(404, str(RunNotFound(run_id)))
    return run_id


def resolve_run(store: Store, ref: str, experiment: str | None = None) -> str:
    """The id of the run ``ref`` names: an id, a unique id prefix (4+ hex digits) or a
    number (``3``, ``#3``; looked up in ``experiment`` when given), as every route taking a
    run reference resolves it (:meth:`~jupyter_mltrack.store.Store.resolve_run_id`). A
    reference naming no run is a 404, one naming several (an ambiguous prefix or number) a
    400, with the store's message."""
    _check_text("a run reference", ref)
    try:
        return store.resolve_run_id(ref, experiment)
    except RunRefError as exc:
        raise ApiError(404 if isinstance(exc, LookupError) else 400, str(exc)) from None


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    """A run's detail, with what it logged (artifacts) and the registered versions of its
    models (the sidebar's detail shows both)."""
    from ..models.lineage import users
    from .models import artifact_json, run_versions_json

    try:
        data = store.get_run_detail(_require_id(run_id)).to_dict()
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    artifacts = store.list_artifacts(run_id)
    data["artifacts"] = [artifact_json(a) for a in artifacts]
    data["models"] = run_versions_json(store, run_id, artifacts)
    data["used"] = [u.to_dict() for u in store.artifacts_used(run_id)]
    data["used_by"] = users(store, run_id)
    return data


def flag(args: Mapping[str, list[str]], name: str, *, default: bool = False) -> bool:
    """``?NAME=``: ``1``/``true``/``yes`` or ``0``/``false``/``no`` (absent: ``default``);
    anything else a 400 naming the parameter."""
    raw = (_single(args, name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise bad_request(f"{name} must be 1 or 0, got {raw!r}")


def _parse_patch(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    unknown = sorted(set(body) - set(PATCH_FIELDS))
    if unknown:
        raise bad_request(
            f"unknown field {unknown[0]!r}; a run's " + ", ".join(PATCH_FIELDS) + " can be changed"
        )
    if not body:
        raise bad_request("nothing to change: give at least one of " + ", ".join(PATCH_FIELDS))
    changes: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if name is not None and not isinstance(name, str):
            raise bad_request("name must be a string or null")
        name = _check_text("name", (name or "").strip())
        if len(name) > MAX_KEY:
            raise bad_request(f"name must be at most {MAX_KEY} characters")
        changes["name"] = name  # "" clears the name
    if "note" in body:
        note = body["note"]
        if not isinstance(note, str):
            raise bad_request("note must be a string")
        changes["note"] = _check_text("note", note)
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, dict):
            raise bad_request('tags must be an object of strings, e.g. {"baseline": ""}')
        for key, value in tags.items():
            if not key.strip() or len(key) > MAX_KEY:
                raise bad_request(f"tag names must be 1 to {MAX_KEY} characters, got {key!r}")
            if not isinstance(value, str):
                raise bad_request(f"tag {key!r} must have a string value")
            _check_text(f"tag {key!r}", key + value)
        changes["tags"] = dict(tags)
    return changes


def patch_run(store: Store, run_id: str, body: Any) -> dict[str, Any]:
    """``PATCH runs/{id}``: validate everything before writing anything."""
    changes = _parse_patch(body)
    try:
        store.update_run(_require_id(run_id), **changes)
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except InvalidName as exc:  # a tracker's tag changed, or a name the store cannot keep
        raise ApiError(400, str(exc)) from None
    return get_run(store, run_id)


def delete_run(store: Store, run_id: str) -> None:
    try:
        store.delete_run(_require_id(run_id))
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except ModelRegistryConflict as exc:  # the registry points at it
        raise ApiError(409, str(exc), reason="registered") from None


# snapshots ------------------------------------------------------------------------------------

SNAPSHOT_LIST_PARAMS = ("run", "limit", "offset")
ROWS_PARAMS = ("offset", "limit")
DIFF_PARAMS = ("sample",)
#: Default and largest page of a preview. Every cell is converted in Python and the browser
#: renders them as an HTML table: a few hundred rows is what a person reads at once.
DEFAULT_ROWS = 50
MAX_ROWS = 500
#: Most columns a preview returns (``total_columns`` says how many there are): a 2-D array
#: of 10 000 features would otherwise send 10 000 cells a row.
MAX_PREVIEW_COLUMNS = 200
#: Longest text cell sent whole; a longer one is cut and ends with "…".
MAX_CELL_TEXT = 1000
#: Most items of a nested cell (a list, an array, a dict) sent.
MAX_CELL_ITEMS = 100
#: Distinct runs a snapshot's detail names (number, name): one store call each, and the same
#: training set may be read by thousands of runs.
MAX_USER_RUNS = 100


def _resolve(store: Store, ref: str) -> Snapshot:
    """The snapshot ``ref`` names: digest, unique hex prefix (4+ digits) or name."""
    _check_text("a snapshot reference", ref)
    try:
        return store.resolve_snapshot(ref)
    except SnapshotNotFound as exc:  # the store's message says why (a prefix too short)
        raise ApiError(404, str(exc)) from None
    except InvalidQuery as exc:  # an ambiguous prefix
        raise bad_request(str(exc)) from None


def _readable(snap: Snapshot) -> Snapshot:
    """``snap`` if its data can be read; a 409 saying why not otherwise (its metadata can)."""
    if snap.status is SnapshotStatus.PENDING:
        raise ApiError(
            409,
            f"snapshot {snap.short} is still being stored (status 'pending'); "
            "its data can be read once its status is 'complete'",
        )
    if snap.status is SnapshotStatus.FAILED:
        raise ApiError(
            409,
            f"snapshot {snap.short} could not be stored (status 'failed': "
            f"{snap.error or 'no reason recorded'}); it has no data to read",
        )
    return snap


def _data_readable(snapshotter: Snapshotter) -> None:
    """A store whose blobs cannot be opened (PostgreSQL without ``MLTRACK_BLOB_URL``, an
    ``s3://`` URL without s3fs) has metadata but no data: say so rather than "internal"."""
    try:
        snapshotter.blobs  # noqa: B018 - opening it is the check
    except (ValueError, ImportError) as exc:
        raise ApiError(500, f"the server cannot read snapshot data: {exc}") from None


def snapshot_summary(snap: Snapshot) -> dict[str, Any]:
    """A listed snapshot: its identity, shape and state, without the (large) schema and
    statistics the detail has."""
    data = snap.to_dict()
    del data["schema"], data["stats"]
    return data


def list_snapshots(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET snapshots``: newest first, optionally only those a run read or wrote."""
    args = _known_args(args, SNAPSHOT_LIST_PARAMS)
    run = _single(args, "run") or None
    limit = _int_arg(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg(args, "offset", 0, 0, MAX_OFFSET)
    if run is not None:
        # An absent run would list nothing, like a run that used no data: say which it is.
        try:
            store.get_run(_require_id(run))
        except RunNotFound as exc:
            raise ApiError(404, str(exc)) from None
    try:
        snaps, total = store.list_snapshots(run_id=run, limit=limit, offset=offset)
    except InvalidQuery as exc:
        raise bad_request(str(exc)) from None
    return {
        "snapshots": [snapshot_summary(s) for s in snaps],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def get_snapshot(store: Store, ref: str) -> dict[str, Any]:
    """``GET snapshots/{ref}``: everything recorded about a snapshot, and who used it."""
    snap = _resolve(store, ref)
    data = snap.to_dict()
    data["users"] = _users(store, store.snapshot_users(snap.digest))
    return data


def _users(store: Store, uses: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Each use of a snapshot, with the run's number and name for the first
    ``MAX_USER_RUNS`` distinct runs (``run`` is null beyond them, or for a run deleted
    meanwhile). The store has no batch lookup of runs by id, hence the cap."""
    runs: dict[str, dict[str, Any] | None] = {}
    for run_id, _role, _name in uses:
        if run_id in runs or len(runs) >= MAX_USER_RUNS:
            continue
        try:
            run = store.get_run(run_id)
        except RunNotFound:
            runs[run_id] = None
            continue
        runs[run_id] = {
            "number": run.number,
            "name": run.name,
            "experiment": run.experiment,
            "status": run.status.value,
        }
    return [
        {"run_id": run_id, "role": role, "name": name, "run": runs.get(run_id)}
        for run_id, role, name in uses
    ]


def snapshot_rows(
    snapshotter: Snapshotter, ref: str, args: Mapping[str, list[str]]
) -> dict[str, Any]:
    """``GET snapshots/{ref}/rows``: rows ``[offset, offset + limit)`` as JSON values.

    Only the blocks holding those rows are read. A file has no rows: 400 (its name and size
    are in its metadata). A snapshot whose data is not stored (pending, failed): 409.
    """
    from ..snapshots.storage import SnapshotError

    args = _known_args(args, ROWS_PARAMS)
    offset = _int_arg(args, "offset", 0, 0, MAX_OFFSET)
    limit = _int_arg(args, "limit", DEFAULT_ROWS, 1, MAX_ROWS)
    snap = _resolve(snapshotter.store, ref)
    if snap.kind in ("file", "folder"):
        name = snap.schema.get("name") or snap.name or snap.short
        raise bad_request(
            f"snapshot {snap.short} is a {snap.kind} ({name!r}, {snap.nbytes} bytes): a "
            f"{snap.kind} has no rows; read it with mltrack.load_snapshot, which gives its path"
        )
    _readable(snap)
    _data_readable(snapshotter)
    try:
        part = snapshotter.preview(snap, offset, limit)
    except SnapshotError as exc:  # e.g. blocks deleted by a concurrent gc
        raise ApiError(409, f"cannot read snapshot {snap.short}: {exc}") from None
    return {
        "digest": snap.digest,
        "short": snap.short,
        "kind": snap.kind,
        "offset": offset,
        "limit": limit,
        "total_rows": int(snap.rows or 0),
        **_table(snap, part, offset),
    }


def diff_snapshots(
    snapshotter: Snapshotter, a_ref: str, b_ref: str, args: Mapping[str, list[str]]
) -> dict[str, Any]:
    """``GET snapshots/{a}/diff/{b}``: what changed from ``a`` to ``b`` (see
    :func:`jupyter_mltrack.snapshots.diff.diff_snapshots`); ``sample`` lists up to that
    many mismatched cells, which reads data (0, the default, reads none)."""
    from ..snapshots.diff import MAX_SAMPLE
    from ..snapshots.diff import diff_snapshots as diff
    from ..snapshots.storage import SnapshotError

    args = _known_args(args, DIFF_PARAMS)
    sample = _int_arg(args, "sample", 0, 0, MAX_SAMPLE)
    a = _readable(_resolve(snapshotter.store, a_ref))
    b = _readable(_resolve(snapshotter.store, b_ref))
    # files and folders are compared by digests alone (a folder's are in its record)
    if a.kind not in ("file", "folder") and b.kind not in ("file", "folder"):
        _data_readable(snapshotter)
    try:
        return diff(snapshotter, a, b, sample=sample)
    except SnapshotError as exc:
        raise ApiError(409, f"cannot compare {a.short} with {b.short}: {exc}") from None


# export to pipeline --------------------------------------------------------------------------

EXPORT_FIELDS = ("notebook", "kernel", "run", "targets", "overwrite")
#: Most variables one export may name (a person types them into a dialog).
MAX_TARGETS = 100
#: Logged sessions searched for the notebook's kernel (see :func:`_latest_session`).
MAX_KERNEL_SESSIONS = 200


def _parse_export(body: Any) -> dict[str, Any]:
    """The fields of a ``POST export`` body, checked; nothing is read from the store."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    unknown = sorted(set(body) - set(EXPORT_FIELDS))
    if unknown:
        raise bad_request(
            f"unknown field {unknown[0]!r}; an export takes " + ", ".join(EXPORT_FIELDS)
        )
    request: dict[str, Any] = {}
    for name in ("notebook", "kernel", "run"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise bad_request(f"{name} must be a string or null")
        value = _check_text(name, value.strip()) if value else None
        request[name] = value or None
    targets = body.get("targets")
    if targets is not None:
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise bad_request('targets must be an array of variable names, e.g. ["model"]')
        targets = list(dict.fromkeys(t.strip() for t in targets))
        if not targets:
            raise bad_request("targets must name at least one variable")
        if len(targets) > MAX_TARGETS:
            raise bad_request(f"at most {MAX_TARGETS} targets can be exported at once")
        for name in targets:
            if not name.isidentifier() or keyword.iskeyword(name):
                raise bad_request(f"{name!r} is not a variable name")
    request["targets"] = targets or []
    overwrite = body.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise bad_request("overwrite must be true or false")
    request["overwrite"] = overwrite
    if request["run"] is not None and request["targets"]:
        raise bad_request("give either run or targets, not both")
    if request["notebook"] is None and request["run"] is None:
        raise bad_request("notebook is required: the path of the notebook to export")
    return request


def _notebook_file(root: Path, notebook: str) -> Path:
    """The notebook's file: ``notebook`` is a path relative to the server root (as the
    contents API and ``notebook_path`` give it; a leading ``/`` is the root, as there) and
    must name a file inside it."""
    parts = PurePosixPath(notebook.replace("\\", "/").lstrip("/")).parts
    if ".." in parts or not parts:
        raise bad_request(
            f"notebook {notebook!r} must be a path relative to the server root, "
            "without '..' (as the file browser shows it)"
        )
    from ..pipeline.notebook import NotebookError, check_notebook

    path = root.joinpath(*parts)
    if not path.is_file():
        raise ApiError(404, f"no notebook {notebook!r} in the server root")
    inside = root.resolve()
    if not path.resolve().is_relative_to(inside):
        # a symlink out of the root: the files would be written outside it
        raise ApiError(403, f"notebook {notebook!r} is a link to outside the server root")
    if not path.parent.resolve().is_relative_to(inside):
        # a link to a folder outside, holding a link back to a notebook inside: the
        # files go beside the notebook as the browser shows it, so outside the root
        raise ApiError(403, f"the folder of {notebook!r} is a link to outside the server root")
    try:
        check_notebook(path, require_code=False)  # cells typed since the last save ran too
    except NotebookError as exc:  # paths as the file browser shows them
        message = str(exc).replace(str(path), notebook)
        raise ApiError(422, message, reason="bad_notebook") from None
    return path


def _latest_session(store: Store, notebook: str, kernel: str | None) -> KernelSession:
    """The most recent logged session of ``notebook``, or of ``kernel`` (the notebook's own
    kernel: one started before the notebook was renamed still logs the old path)."""
    found = store.sessions(notebook, limit=1)
    if kernel:
        recent = store.sessions(None, limit=MAX_KERNEL_SESSIONS)
        found += [s for s in recent if s.kernel_id == kernel][:1]
    if not found:
        raise ApiError(
            422,
            f"no logged session of {notebook!r}: run '%load_ext jupyter_mltrack' in the "
            "notebook, then its cells, before exporting it (the export replays what ran "
            "since then)",
            reason="no_session",
        )
    return max(found, key=lambda s: s.last_at)


def _latest_run(store: Store, session: KernelSession) -> Run | None:
    """The last run a cell of ``session`` recorded that still exists."""
    for execution in reversed(store.executions(session.session_id)):
        if execution.run_id is None:
            continue
        try:
            return store.get_run(execution.run_id)
        except RunNotFound:  # deleted since; an earlier one may still be there
            continue
    return None


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else ""


def export_pipeline(store: Store, root_dir: str | os.PathLike[str], body: Any) -> dict[str, Any]:
    """``POST export``: write ``pipeline.py``, ``params.yaml`` and ``requirements.txt`` beside
    a notebook (see ``docs/rest-api.md``).

    What is exported: ``run`` (an id), else ``targets`` (variables of the notebook's latest
    logged session), else the latest run of that session; with none of them a 400 whose
    ``reason`` is ``targets_required`` tells the client to ask for variable names. Files
    that exist are only replaced with ``overwrite``: else a 409 listing them."""
    from ..pipeline.export import FILES, export
    from ..pipeline.slicer import SliceError
    from ..safepaths import PathRefused

    request = _parse_export(body)
    root = Path(root_dir).absolute()
    run: Run | None = None
    if request["run"] is not None:
        try:
            run = store.get_run(_require_id(request["run"]))
        except RunNotFound as exc:
            raise ApiError(404, str(exc)) from None
    notebook = request["notebook"] or (run.notebook_path if run is not None else None)
    if notebook is None:
        assert run is not None
        raise ApiError(
            422,
            f"run #{run.number} was not recorded in a notebook: give notebook, the path of "
            "the notebook beside which to write the pipeline",
            reason="no_notebook",
        )
    notebook_file = _notebook_file(root, notebook)
    notebook = _relative(notebook_file, root)
    directory = notebook_file.parent
    session_id = None
    selection = "run"
    if run is None:
        session = _latest_session(store, notebook, request["kernel"])
        if request["targets"]:
            session_id, selection = session.session_id, "targets"
        else:
            run, selection = _latest_run(store, session), "latest_run"
            if run is None:
                raise ApiError(
                    400,
                    f"the latest logged session of {notebook!r} has no tracked run: name the "
                    "variables to export (targets), or run a %%track cell first",
                    reason="targets_required",
                )
    try:
        result = export(
            store,
            directory=directory,
            session_id=session_id,
            notebook=notebook,
            targets=request["targets"],
            run=run.id if run is not None else None,
            notebook_file=notebook_file,
            overwrite=request["overwrite"],
            within=root,
        )
    except FileExistsError:
        existing = [_relative(directory / n, root) for n in FILES if (directory / n).exists()]
        where = _relative(directory, root) or "the server root"
        raise ApiError(
            409,
            f"{', '.join(PurePosixPath(p).name for p in existing)} already "
            f"{'exists' if len(existing) == 1 else 'exist'} in {where}; "
            "send overwrite: true to replace them",
            reason="files_exist",
            details={"existing": existing},
        ) from None
    except PathRefused as exc:  # a link in the folder to outside the root
        raise ApiError(
            403,
            f"{_relative(exc.path, root)} is a link to outside the server root: refusing to "
            "write through it (remove the link)",
        ) from None
    except SliceError as exc:  # ExportError is one: the message names the line
        raise ApiError(422, str(exc), reason="export_failed") from None
    files = [_relative(Path(f), root) for f in result.files]
    shown = dataclasses.replace(
        result, directory=Path(_relative(directory, root)), files=[Path(f) for f in files]
    )
    return {
        "notebook": notebook,
        "directory": _relative(directory, root),
        "files": files,
        "pipeline": files[0],
        "selection": selection,
        "run": None
        if run is None
        else {
            "id": run.id,
            "number": run.number,
            "name": run.name,
            "experiment": run.experiment,
        },
        "targets": result.targets,
        "statements": result.statements,
        "executions": result.executions,
        "parameters": result.parameters,
        "requirements": result.requirements,
        "start_cwd": result.start_cwd,
        "summary": shown.summary(),
    }


# preview cells -------------------------------------------------------------------------------


def _table(snap: Snapshot, part: Any, offset: int) -> dict[str, Any]:
    """Column names, dtypes, index and rows of a preview: a pandas frame or series, a
    pyarrow table or a numpy array (rows along the first axis)."""
    import numpy as np
    import pandas as pd

    from ..snapshots.diff import column_name

    names: list[str]
    columns: list[list[Any]]
    if isinstance(part, pd.Series):
        part = part.to_frame()
    if isinstance(part, pd.DataFrame):
        labels = [c.get("name") for c in snap.schema.get("columns", [])]
        if len(labels) != part.shape[1]:
            labels = list(part.columns)
        total = part.shape[1]
        shown = range(min(total, MAX_PREVIEW_COLUMNS))
        names = [column_name(labels[i]) for i in shown]
        dtypes = [str(part.dtypes.iloc[i]) for i in shown]
        columns = [_cells(part.iloc[:, i].tolist()) for i in shown]
        index_names = [None if n is None else str(n) for n in part.index.names]
        index = _cells(part.index.tolist())
    elif hasattr(part, "column_names") and hasattr(part, "num_rows"):  # a pyarrow Table
        total = part.num_columns
        shown = range(min(total, MAX_PREVIEW_COLUMNS))
        names = [str(part.column_names[i]) for i in shown]
        dtypes = [str(part.schema.field(i).type) for i in shown]
        columns = [_cells(part.column(i).to_pylist()) for i in shown]
        index_names = [None]
        index = list(range(offset, offset + part.num_rows))
    else:
        array = np.asarray(part)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim == 1:
            total = 1
            labels = [c.get("name") for c in snap.schema.get("columns", [])] or ["values"]
            names = [column_name(labels[0])]
            views = [array]
        else:
            total = array.shape[1]
            names = [str(j) for j in range(min(total, MAX_PREVIEW_COLUMNS))]
            views = [array[:, j] for j in range(len(names))]
        dtypes = [str(array.dtype)] * len(views)
        # ``tolist`` turns datetime64[ns] into bare integers: keep numpy's scalars for those.
        time_like = array.dtype.kind in "mM"
        columns = [_cells(list(v) if time_like else v.tolist()) for v in views]
        index_names = [None]
        index = list(range(offset, offset + len(array)))
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in index]
    return {
        "columns": names,
        "dtypes": dtypes,
        "total_columns": int(total),
        "index_names": index_names,
        "index": index,
        "rows": rows,
    }


def _cells(values: Iterable[Any]) -> list[Any]:
    return [_cell(v) for v in values]


def _cell(value: Any, depth: int = 0) -> Any:
    """One value as JSON: missing values (None, NaN, NaT, pd.NA) are null, infinities the
    strings "inf"/"-inf" (as for metrics), times ISO-8601 (with their offset when they have
    a time zone), other scalars their text; nested values are cut to ``MAX_CELL_ITEMS``."""
    # Plain Python values first: most cells are, and they need no import.
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):  # numpy.float64 too
        if math.isfinite(value):
            return float(value)
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _text(value)
    return _other_cell(value, depth)


def _other_cell(value: Any, depth: int) -> Any:
    import numpy as np
    import pandas as pd

    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64 | np.timedelta64):
        if np.isnat(value):
            return None
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    elif isinstance(value, np.generic):
        return _cell(value.item(), depth)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return str(pd.Timedelta(value))  # "1 days 02:03:04", as pandas shows it
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return None
        return str(value) if value.is_finite() else ("inf" if value > 0 else "-inf")
    if isinstance(value, bytes | bytearray):
        return _text(repr(bytes(value[: MAX_CELL_TEXT + 1])))
    if depth < 4:
        if isinstance(value, dict):
            items = list(value.items())[:MAX_CELL_ITEMS]
            return {str(k): _cell(v, depth + 1) for k, v in items}
        if isinstance(value, np.ndarray) and value.ndim == 0:
            return _cell(value[()], depth)
        if isinstance(value, list | tuple | np.ndarray):
            return [_cell(v, depth + 1) for v in value[:MAX_CELL_ITEMS]]
    try:
        text = str(value)
    except Exception:  # a broken __str__ must not fail the page
        text = f"<{type(value).__name__}>"
    return _text(text)


def _text(value: str) -> str:
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT] + "…"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the response could not be encoded
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value
