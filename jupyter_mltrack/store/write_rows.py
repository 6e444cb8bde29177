"""The rows and values a run's writes bind, computed from what the caller logged: shared by
the store's two paths (the engine's, and the prepared statements of :mod:`.fast_writes`) and
by a sweep's worker, which writes its trial's run without SQLAlchemy (so nothing here
imports it)."""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..jsonsafe import to_json
from .entities import MetricPoint, RunStatus
from .errors import ModelRegistryConflict
from .names import check_name
from .searchable import param_number, param_text, summarise
from .series import chunks

#: This machine's name, as runs and writers record it.
HOST = socket.gethostname()


def dumps(value: Any) -> str:
    """A logged value as the store keeps it (JSON, NaN refused, text as given)."""
    return json.dumps(to_json(value), allow_nan=False, ensure_ascii=False)


def param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The params' rows: the JSON value and its searchable forms."""
    # keys are stored as text: 1 and "1" are the same param (the last one wins)
    values = {check_name("param", str(k)): v for k, v in params.items()}
    rows = []
    for k, v in values.items():
        text = dumps(v)
        # the searchable forms read the stored JSON value: a numpy scalar counts as its
        # number, a string as it was stored (lone surrogates replaced)
        value = v if isinstance(v, int | float) else json.loads(text)
        rows.append(
            {
                "run_id": run_id,
                "key": k,
                "value": text,
                "num_value": param_number(value),
                "text_value": param_text(value, text),
            }
        )
    return rows


def by_key(row: Mapping[str, Any]) -> str:
    return row["key"]


def metric_value(value: float) -> float | None:
    """A metric's value as stored: NaN as NULL."""
    return None if math.isnan(value) else value


def metric_rows(
    run_id: str, points: Sequence[MetricPoint]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows a flush writes: its chunks (one row per metric per flush, see
    store.series: 100,000 points, one insert) and each metric's latest-value summary."""
    rows = [{"run_id": run_id, **c._asdict()} for c in chunks(points)]
    for row in rows:
        check_name("metric", row["key"])
    latest: dict[str, MetricPoint] = {}
    values: dict[str, list[float]] = {}
    for p in points:
        cur = latest.get(p.key)
        if cur is None or (p.step, p.timestamp) >= (cur.step, cur.timestamp):
            latest[p.key] = p
        values.setdefault(p.key, []).append(p.value)
    summary = [
        {
            "run_id": run_id,
            "key": key,
            "step": p.step,
            "value": metric_value(p.value),
            "timestamp": p.timestamp,
            **summarise(values[key])._asdict(),
        }
        for key, p in latest.items()
    ]
    return rows, summary


def take_over_values(*, start: bool) -> dict[str, Any]:
    """A run ``running`` again, owned by this process (host, pid, heartbeat); ``start``
    also resets when it started (a run started over, not carried on). The keys are
    ``statements.TAKE_OVER_COLUMNS`` (and ``start_time``), which the DBAPI path binds."""
    now = time.time()
    values: dict[str, Any] = {
        "status": RunStatus.RUNNING.value,
        "end_time": None,
        "error": None,
        "updated_at": now,
        "heartbeat_at": now,
        "host": HOST,
        "pid": os.getpid(),
    }
    if start:
        values["start_time"] = now
    return values


def finish_values(
    status: RunStatus | str,
    *,
    error: Mapping[str, Any] | None = None,
    end_time: float | None = None,
    environment_id: int | None = None,
    git_commit: str | None = None,
    git_dirty: bool | None = None,
) -> dict[str, Any]:
    """The run row's values ``finish_run`` writes: its status, when, and what is given."""
    status = RunStatus(status)
    now = time.time()
    values: dict[str, Any] = {
        "status": status.value,
        "updated_at": now,
        "end_time": (end_time or now) if status.terminal else None,
    }
    if error is not None:
        values["error"] = json.dumps(to_json(dict(error)), allow_nan=False)
    if environment_id is not None:
        values["environment_id"] = environment_id
    if git_commit is not None or git_dirty is not None:
        values.update(git_commit=git_commit, git_dirty=git_dirty)
    return values


def registered(run_id: str, what: str) -> ModelRegistryConflict:
    """The refusal to remove a run's artifacts while registry versions point at them."""
    return ModelRegistryConflict(
        f"run {run_id} has registered model versions: delete them first "
        f"(mltrack models delete-version NAME VERSION) so the registry never "
        f"points at a run {what}"
    )
