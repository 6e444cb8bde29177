"""What the REST API does, with no HTTP in it.

The handlers in :mod:`.handlers` only move bytes: they hand query arguments and parsed bodies
to these functions and write back what they return. Keeping validation and store calls here
(as jupyterlab-git keeps git logic out of its handlers) means every rule about what a request
may contain is written once, is testable without a server, and the tornado layer cannot drift
from it. Every function here is synchronous and blocking; handlers run them off the event loop.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from ..store import InvalidQuery, RunNotFound, RunStatus, Store

#: Largest page a client may ask for; the store enforces the same bound.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
#: Both backends accept a 32-bit offset; a larger one would overflow PostgreSQL's OFFSET.
MAX_OFFSET = 2**31 - 1
#: Longest run name / tag key the schema accepts (``String(256)``).
MAX_KEY = 256

LIST_PARAMS = ("experiment", "notebook", "kernel", "status", "order", "limit", "offset")
PATCH_FIELDS = ("name", "tags", "note")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class ApiError(Exception):
    """A request the API refuses; ``status`` is the HTTP status and the message is for users."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


def list_experiments(store: Store) -> dict[str, Any]:
    return {"experiments": [e.to_dict() for e in store.list_experiments()]}


def list_runs(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET runs``: ``args`` maps each query parameter to its raw values (tornado's shape).

    With ``notebook``, ``kernel`` (the notebook's kernel, which the frontend knows) also
    selects that kernel's runs: a kernel started before the notebook was renamed still
    records the old name. JupyterLab does not update the session's path on a rename, so the
    server cannot find this out itself."""
    # JupyterLab's request helper adds a bare ``&<timestamp>`` to GETs to defeat caches.
    args = {k: v for k, v in args.items() if not k.isdigit()}
    unknown = sorted(set(args) - set(LIST_PARAMS))
    if unknown:
        raise bad_request(f"unknown query parameter {unknown[0]!r}; use " + ", ".join(LIST_PARAMS))
    # An empty filter (``?status=``) means "no filter", so clients can always send every key.
    experiment = _single(args, "experiment") or None
    notebook = _single(args, "notebook") or None
    status = _single(args, "status") or None
    kernel = _single(args, "kernel") or None
    if status is not None and status not in {s.value for s in RunStatus}:
        raise bad_request(
            f"unknown status {status!r}; use one of " + ", ".join(s.value for s in RunStatus)
        )
    order = _single(args, "order") or "-start_time"
    limit = _int_arg(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg(args, "offset", 0, 0, MAX_OFFSET)
    try:
        runs, total = store.search_runs(
            experiment=experiment,
            notebook=notebook,
            status=status,
            order=order,
            limit=limit,
            offset=offset,
            notebook_kernels=[kernel] if notebook and kernel else (),
        )
    except InvalidQuery as exc:
        raise bad_request(str(exc)) from None
    return {
        "runs": [r.to_dict() for r in runs],
        "total": total,
        "limit": limit,
        "offset": offset,
        "revision": store.revision(),
    }


def _require_id(run_id: str) -> str:
    # Ids are uuid4 hex; anything else cannot exist, so do not send it to the database.
    if not _RUN_ID.match(run_id):
        raise ApiError(404, f"no run {run_id!r}")
    return run_id


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    try:
        return store.get_run_detail(_require_id(run_id)).to_dict()
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None


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
        return store.get_run_detail(run_id).to_dict()
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None


def delete_run(store: Store, run_id: str) -> None:
    try:
        store.delete_run(_require_id(run_id))
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
