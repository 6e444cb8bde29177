"""The steps of a run's hot writes on the DBAPI path (:func:`.prepared.run_statements`),
built from prepared statements by key.

Two writers build them: :class:`.store.Store` on SQLite, which prepares each statement from
its construct on first use (:func:`.statements.fast_statement`), and a sweep's worker, which
gets them prepared by its driver and imports no SQLAlchemy (``sweeps.trial_store``). So the
writes of a trial's run are the same statements, values and checks whichever wrote them,
and nothing here imports SQLAlchemy.

A ``statement`` argument is the writer's lookup: key → :class:`.prepared.PreparedStatement`.
The keys: ``run:<columns>`` (a run's row updated with those columns, its id back),
``check_attempt``, ``take_over_start``, ``registered``, ``delete_attempt_tag``,
``insert_tags``, ``delete_<table>`` for each of :data:`RUN_VALUE_TABLE_NAMES`,
``upsert_params``, ``run_row``, ``insert_chunks``, ``upsert_latest``, ``environment_id``,
``insert_environment``; and the two reads of a pruned trial (``sweep_siblings``,
``sweep_sibling_chunks``: ``Store.sweep_siblings``).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .attempts import ATTEMPT_TAG, Fence
from .entities import Environment, MetricPoint, Run, RunStatus
from .errors import RunNotFound, RunSuperseded
from .names import check_tags
from .prepared import PreparedStatement, Step
from .write_rows import by_key, metric_rows, param_rows, registered, take_over_values

StatementOf = Callable[[str], PreparedStatement]

#: What ``restart_run`` forgets of a run's attempt, table by table (``statements``'
#: ``RUN_VALUE_TABLES``, by name: ``tests/test_prepared.py`` checks they agree).
RUN_VALUE_TABLE_NAMES = (
    "artifact_files",
    "artifacts",
    "metric_chunks",
    "latest_metrics",
    "params",
    "outputs",
    "run_data",
    "run_values",
)
#: The run's columns :meth:`Store.restart_run` reads back (``statements.RUN_ROW_COLUMNS``).
RUN_ROW_COLUMNS = (
    "id",
    "number",
    "experiment_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "notebook_path",
    "cell_id",
    "execution_count",
    "source",
    "parent_run_id",
    "note",
)


def run_update_key(names: Sequence[str]) -> str:
    """The key of the statement updating a run's row with ``names``."""
    return "run:" + ",".join(sorted(names))


def trial_keys() -> list[str]:
    """Every statement a sweep trial's run may be written with here: its restart, its end
    (each set of values ``finish_run`` may write), metric flushes, heartbeats and its
    environment, and what its pruner reads. A driver prepares these for its workers."""
    ends = [
        run_update_key(("end_time", "status", "updated_at", *e, *v, *g))
        for e, v, g in itertools.product(
            ((), ("error",)), ((), ("environment_id",)), ((), ("git_commit", "git_dirty"))
        )
    ]
    return [
        *ends,
        run_update_key(("updated_at",)),
        run_update_key(("heartbeat_at",)),
        "check_attempt",
        "take_over_start",
        "registered",
        "delete_attempt_tag",
        "insert_tags",
        *(f"delete_{name}" for name in RUN_VALUE_TABLE_NAMES),
        "upsert_params",
        "run_row",
        "insert_chunks",
        "upsert_latest",
        "environment_id",
        "insert_environment",
        "sweep_siblings",
        "sweep_sibling_chunks",
    ]


def _found(run_id: str) -> Callable[[Any], None]:
    def check(row: Any) -> None:
        if row is None:
            raise RunNotFound(run_id)

    return check


def touch_step(statement: StatementOf, run_id: str, now: float) -> Step:
    """The run marked changed at ``now`` (the revision the sidebar polls): its row taken,
    which must be there (:class:`RunNotFound`)."""
    touch = statement(run_update_key(("updated_at",)))
    return (touch, {"b_run_id": run_id, "v_updated_at": now}, _found(run_id))


def attempt_steps(statement: StatementOf, fences: Mapping[str, Fence], run_id: str) -> list[Step]:
    """The check that the run is still the attempt's this writer writes it as (see
    :mod:`.attempts`), to follow the step that takes the run's row: a compare-and-swap,
    its row checked (``RETURNING``); none when the writer does not write ``run_id`` as an
    attempt."""
    fence = fences.get(run_id)
    if fence is None:
        return []

    def current(row: Any) -> None:
        if row is None:
            fence.superseded = True
            raise RunSuperseded(run_id, fence.attempt)

    check = statement("check_attempt")
    return [(check, {"b_run_id": run_id, "b_attempt": fence.attempt}, current)]


def restart_steps(
    statement: StatementOf,
    fences: Mapping[str, Fence],
    run_id: str,
    params: Mapping[str, Any] | None,
    attempt: str | None,
) -> tuple[list[Step], list[dict[str, Any]]]:
    """``restart_run``: the run taken over (made ``running``, this process's, started now),
    the attempt checked, no registered version refused, the new attempt's tag, what an
    earlier attempt recorded deleted, ``params`` written, and the run read back (the last
    step's row: see :func:`restarted_run`). With the params' rows."""
    key = {"b_run_id": run_id}

    def unregistered(row: Any) -> None:
        if row is not None:
            raise registered(run_id, "started over")

    take_over = {f"v_{k}": v for k, v in take_over_values(start=True).items()}
    steps: list[Step] = [
        (statement("take_over_start"), {**key, **take_over}, _found(run_id)),
        *attempt_steps(statement, fences, run_id),
        (statement("registered"), key, unregistered),
    ]
    if attempt is not None:
        tag = check_tags({ATTEMPT_TAG: str(attempt)})
        steps.append((statement("delete_attempt_tag"), key))
        tag_rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tag.items()]
        steps.append((statement("insert_tags"), tag_rows))
    steps += [(statement(f"delete_{name}"), key) for name in RUN_VALUE_TABLE_NAMES]
    rows = param_rows(run_id, params or {})
    if rows:
        steps.append((statement("upsert_params"), rows))
    steps.append((statement("run_row"), key))
    return steps, rows


def restarted_run(row: Sequence[Any], rows: Sequence[Mapping[str, Any]]) -> Run:
    """The run :func:`restart_steps` read back: its row and tags; its params are those
    written (``rows``), its metrics none."""
    fields = dict(zip(RUN_ROW_COLUMNS, row, strict=False))
    fields["status"] = RunStatus(fields["status"])
    return Run(
        **fields,
        experiment=row[len(RUN_ROW_COLUMNS)],
        tags=dict(sorted(json.loads(row[-1] or "{}").items())),
        params={r["key"]: json.loads(r["value"]) for r in sorted(rows, key=by_key)},
    )


def metric_steps(statement: StatementOf, run_id: str, points: Sequence[MetricPoint]) -> list[Step]:
    """Metric points appended (one chunk row per metric) and the latest values merged."""
    chunk_rows, latest_rows = metric_rows(run_id, points)
    return [
        (statement("insert_chunks"), chunk_rows),
        (statement("upsert_latest"), latest_rows),
    ]


def finish_steps(
    statement: StatementOf,
    fences: Mapping[str, Fence],
    run_id: str,
    values: Mapping[str, Any],
    params: Mapping[str, Any] | None,
    metrics: Sequence[MetricPoint],
) -> list[Step]:
    """``finish_run`` without outputs: the run's row updated with ``values`` (see
    ``write_rows.finish_values``), the attempt checked, its params and metrics written."""
    end = statement(run_update_key(tuple(values)))
    steps: list[Step] = [
        (end, {"b_run_id": run_id, **{f"v_{k}": v for k, v in values.items()}}, _found(run_id)),
        *attempt_steps(statement, fences, run_id),
    ]
    if params:
        steps.append((statement("upsert_params"), param_rows(run_id, params)))
    if metrics:
        steps += metric_steps(statement, run_id, metrics)
    return steps


def log_metrics_steps(
    statement: StatementOf,
    fences: Mapping[str, Fence],
    run_id: str,
    points: Sequence[MetricPoint],
) -> list[Step]:
    """``log_metrics``: the run touched (it must exist), the attempt checked, the points."""
    return [
        touch_step(statement, run_id, time.time()),
        *attempt_steps(statement, fences, run_id),
        *metric_steps(statement, run_id, points),
    ]


def heartbeat_steps(statement: StatementOf, fences: Mapping[str, Fence], run_id: str) -> list[Step]:
    """A run's heartbeat; refused (:class:`RunSuperseded`) for a superseded attempt, whose
    heartbeat must not keep the current attempt's run looking alive."""
    beat = statement(run_update_key(("heartbeat_at",)))
    return [
        (beat, {"b_run_id": run_id, "v_heartbeat_at": time.time()}, _found(run_id)),
        *attempt_steps(statement, fences, run_id),
    ]


def environment_row(env: Environment) -> dict[str, Any]:
    """An environment's row (``insert_environment``)."""
    return {
        "digest": env.digest,
        "python": env.python,
        "platform": env.platform,
        "packages": json.dumps(env.packages, sort_keys=True),
        "created_at": time.time(),
    }
