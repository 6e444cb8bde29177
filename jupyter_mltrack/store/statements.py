"""Statements built once at import, and the row conversions the store's parts share.

Every mixin :class:`.store.Store` is made of runs some of these statements, and several read
the same rows (a snapshot row is read by the snapshot records and by the bulk reads of a
comparison), so they live here, apart from the methods that run them. Nothing here touches
a connection: it is SQLAlchemy Core expressions and plain functions of rows and values.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    LargeBinary,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    type_coerce,
    update,
)

from .attempts import ATTEMPT_TAG
from .entities import Execution, RunStatus, Snapshot, SnapshotStatus
from .fast_writes import RUN_ROW_COLUMNS, RUN_VALUE_TABLE_NAMES
from .models import (
    ArtifactFileRow,
    ArtifactRow,
    BlockRow,
    EnvironmentRow,
    ExperimentRow,
    LatestMetricRow,
    MetricChunkRow,
    ModelVersionRow,
    OutputRow,
    ParamRow,
    RunDataRow,
    RunRow,
    RunTombstoneRow,
    RunValueRow,
    SnapshotRow,
    TagRow,
)

# Statements of the hot paths (a tracked cell, a metric flush, the run card), built once:
# building and cache-keying a SQLAlchemy statement costs more than SQLite takes to run it.
# They run on a Core connection (``engine.begin()``), skipping the ORM session's bookkeeping,
# and each write is one statement where SQL allows it (upserts, INSERT … SELECT), because on
# SQLite the per-statement overhead, not the I/O, is what a tracked cell pays.
_runs_t = RunRow.__table__
_params_t = ParamRow.__table__
_latest_t = LatestMetricRow.__table__
_tags_t = TagRow.__table__
_outputs_t = OutputRow.__table__
_experiments_t = ExperimentRow.__table__
#: Supported backends; the upserts below are written for each.
DIALECTS = ("sqlite", "postgresql")

#: The run's row with the next number of its experiment, in one statement. The unique
#: constraint on (experiment, number) catches two writers that raced; the caller retries
#: (on PostgreSQL :data:`_LOCK_EXPERIMENT` keeps them from racing in the first place).
_RUN_VALUES = [c for c in _runs_t.c if c.name != "number"]
_INSERT_RUN = _runs_t.insert().from_select(
    [*(c.name for c in _RUN_VALUES), "number"],
    select(
        *(bindparam(f"v_{c.name}", type_=c.type) for c in _RUN_VALUES),
        func.coalesce(func.max(_runs_t.c.number), 0) + 1,
    ).where(_runs_t.c.experiment_id == bindparam("v_experiment_id", type_=Integer)),
)
_INSERT_RUN_RETURNING = _INSERT_RUN.returning(_runs_t.c.number)
#: PostgreSQL: the experiment's row locked (``FOR NO KEY UPDATE``) until the run's insert
#: commits, so writers of one experiment take its next number one after the other instead
#: of racing for it. Under READ COMMITTED each ``INSERT … SELECT max + 1`` reads a fresh
#: snapshot, so the one that gets the lock next sees the number just committed. The lock
#: does not block the key-share locks that inserting a run (its foreign key) takes, nor
#: readers. SQLite needs none: its write lock already serialises the statement.
_LOCK_EXPERIMENT = (
    select(_experiments_t.c.id)
    .where(_experiments_t.c.id == bindparam("v_experiment_id", type_=Integer))
    .with_for_update(key_share=True)
)
_RUN_EXISTS = select(_runs_t.c.id).where(_runs_t.c.id == bindparam("b_run_id"))
_NUMBER_OF = select(_runs_t.c.number).where(_runs_t.c.id == bindparam("b_run_id"))
#: The SET clause is made of the other keys passed with ``b_run_id``.
_UPDATE_RUN = update(_runs_t).where(_runs_t.c.id == bindparam("b_run_id"))
#: A run's attempt tag still names ``b_attempt`` (see :mod:`.attempts`): a compare-and-swap
#: that writes the value it found, so its row count says whether it matched, and its row
#: stays locked until the write it guards commits.
_CHECK_ATTEMPT = (
    update(_tags_t)
    .where(
        _tags_t.c.run_id == bindparam("b_run_id"),
        _tags_t.c.key == ATTEMPT_TAG,
        _tags_t.c.value == bindparam("b_attempt"),
    )
    .values(value=_tags_t.c.value)
)
#: The same, for the DBAPI path (whose steps check a row, not a count): the tag's run id
#: back if it matched.
_CHECK_ATTEMPT_RETURNING = _CHECK_ATTEMPT.returning(_tags_t.c.run_id)
#: A run's attempt tag removed, before ``restart_run(attempt=…)`` inserts the new one.
_DELETE_ATTEMPT_TAG = delete(_tags_t).where(
    _tags_t.c.run_id == bindparam("b_run_id"), _tags_t.c.key == ATTEMPT_TAG
)
_INSERT_CHUNKS = MetricChunkRow.__table__.insert()
#: Tags inserted: a new run's (``create_run``: there are none to replace), a restart's
#: attempt tag (after ``_DELETE_ATTEMPT_TAG``).
_INSERT_TAGS = _tags_t.insert()

#: What a run records of its attempt, table by table: what ``restart_run`` forgets when it
#: starts the run over (its tags stay: they say what the run is, a sweep's trial).
RUN_VALUE_TABLES = (
    ArtifactFileRow,
    ArtifactRow,
    MetricChunkRow,
    LatestMetricRow,
    ParamRow,
    OutputRow,
    RunDataRow,
    RunValueRow,
)
#: Taking a run over (``_take_over``), for the DBAPI path: its id back if it is there.
TAKE_OVER_COLUMNS = ("status", "end_time", "error", "updated_at", "heartbeat_at", "host", "pid")
_TAKE_OVER_START = (
    update(_runs_t)
    .where(_runs_t.c.id == bindparam("b_run_id"))
    .values(
        {
            _runs_t.c[name]: bindparam(f"v_{name}", type_=_runs_t.c[name].type)
            for name in (*TAKE_OVER_COLUMNS, "start_time")
        }
    )
    .returning(_runs_t.c.id)
)


@functools.lru_cache(maxsize=32)
def finish_statement(names: tuple[str, ...]) -> Any:
    """A run's row updated with the values named (``finish_run``: its status, end, error,
    environment…), its id back if it is there. Built once per set of names."""
    return (
        update(_runs_t)
        .where(_runs_t.c.id == bindparam("b_run_id"))
        .values({_runs_t.c[n]: bindparam(f"v_{n}", type_=_runs_t.c[n].type) for n in names})
        .returning(_runs_t.c.id)
    )


_DELETE_RUN_VALUES = {
    t.__tablename__: delete(t.__table__).where(t.__table__.c.run_id == bindparam("b_run_id"))
    for t in RUN_VALUE_TABLES
}
_REGISTERED = (
    select(ModelVersionRow.__table__.c.model_id)
    .where(ModelVersionRow.__table__.c.run_id == bindparam("b_run_id"))
    .limit(1)
)
#: A run's row as :class:`.entities.Run` lists it, with its experiment's name and its tags
#: (one JSON object): the run ``restart_run`` hands back, read in its own transaction.
_RUN_ROW_SQLITE = (
    select(
        *(_runs_t.c[name] for name in RUN_ROW_COLUMNS),
        _experiments_t.c.name,
        select(func.json_group_object(_tags_t.c.key, _tags_t.c.value))
        .where(_tags_t.c.run_id == _runs_t.c.id)
        .scalar_subquery(),
    )
    .join(_experiments_t, _experiments_t.c.id == _runs_t.c.experiment_id)
    .where(_runs_t.c.id == bindparam("b_run_id"))
)
_NEXT_OUTPUT = select(func.coalesce(func.max(_outputs_t.c.idx), -1) + 1).where(
    _outputs_t.c.run_id == bindparam("b_run_id")
)


class PerDialect(Mapping[str, Any]):
    """A statement spelt in each dialect's own syntax (an upsert), built on first use from
    that dialect's ``insert``: importing SQLAlchemy's PostgreSQL dialect takes 40 ms, which
    every process on SQLite (a kernel's start, a sweep's worker) would pay for nothing."""

    def __init__(self, build: Callable[[Callable[[Any], Any]], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def __getitem__(self, dialect: str) -> Any:
        found = self._built.get(dialect)
        if found is None:
            if dialect not in DIALECTS:
                raise KeyError(dialect)
            module = importlib.import_module(f"sqlalchemy.dialects.{dialect}")
            found = self._built[dialect] = self._build(module.insert)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(DIALECTS)

    def __len__(self) -> int:
        return len(DIALECTS)


def _upserts(table: Any, keys: tuple[str, ...]) -> PerDialect:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` for each dialect (both spell it alike)."""

    def build(insert: Callable[[Any], Any]) -> Any:
        stmt = insert(table)
        values = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=values)

    return PerDialect(build)


_UPSERT_PARAMS = _upserts(_params_t, ("run_id", "key"))


def _latest_upserts() -> PerDialect:
    """Merge a flush into a run's ``latest_metrics`` row, in one statement per dialect.

    The latest value is the one with the highest (step, timestamp), so the latest fields
    are replaced only by a newer point; the summary (minimum, maximum, sum and count of the
    non-NaN values, see :mod:`.searchable`) always merges, whatever order flushes land in.
    """
    t = _latest_t.c

    def build(insert: Callable[[Any], Any]) -> Any:
        stmt = insert(_latest_t)
        new = stmt.excluded
        newer = or_(new.step > t.step, (new.step == t.step) & (new.timestamp >= t.timestamp))
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "key"],
            set_={
                **{c: case((newer, new[c]), else_=t[c]) for c in ("step", "value", "timestamp")},
                # NULL (no value yet) on either side keeps the other: ``NULL < x`` is NULL,
                # which takes the ``else`` branch.
                "min_value": case(
                    (t.min_value.is_(None) | (new.min_value < t.min_value), new.min_value),
                    else_=t.min_value,
                ),
                "max_value": case(
                    (t.max_value.is_(None) | (new.max_value > t.max_value), new.max_value),
                    else_=t.max_value,
                ),
                # merged on the counts: a sum that is NULL with values behind it (the
                # NaN of ``inf + -inf``) stays NULL, so the mean stays unknown, not wrong
                "sum_value": case(
                    (t.n_values == 0, new.sum_value),
                    (new.n_values == 0, t.sum_value),
                    else_=t.sum_value + new.sum_value,
                ),
                "n_values": t.n_values + new.n_values,
            },
        )

    return PerDialect(build)


_UPSERT_LATEST = _latest_upserts()
#: A deleted run's tombstone (a run id deleted twice, by two stores' replays, keeps its first).
_INSERT_TOMBSTONE = PerDialect(
    lambda insert: insert(RunTombstoneRow.__table__).on_conflict_do_nothing(
        index_elements=["run_id"]
    )
)
_tombstones_t = RunTombstoneRow.__table__
_RECENT = bindparam("b_recent", type_=Float)
#: The revision check (see ``RunReads.revision``): index lookups and a scan of the recent.
_REVISION = select(
    select(func.max(_runs_t.c.updated_at)).scalar_subquery(),
    select(func.count()).where(_runs_t.c.updated_at > _RECENT).scalar_subquery(),
    select(func.sum(_runs_t.c.updated_at)).where(_runs_t.c.updated_at > _RECENT).scalar_subquery(),
    select(func.max(_tombstones_t.c.deleted_at)).scalar_subquery(),
    select(func.count())
    .select_from(_tombstones_t)
    .where(_tombstones_t.c.deleted_at > _RECENT)
    .scalar_subquery(),
)
_UPSERT_RUN_DATA = _upserts(RunDataRow.__table__, ("run_id", "role", "name"))
#: Blocks are immutable: a second writer of the same block keeps the first row.
_INSERT_BLOCKS = PerDialect(
    lambda insert: insert(BlockRow.__table__).on_conflict_do_nothing(index_elements=["digest"])
)

_LOAD_RUNS = (
    select(_runs_t, _experiments_t.c.name.label("experiment_name"))
    .join(_experiments_t, _experiments_t.c.id == _runs_t.c.experiment_id)
    .where(_runs_t.c.id.in_(bindparam("b_ids", expanding=True)))
)
_LOAD_PARAMS = select(_params_t.c.run_id, _params_t.c.key, _params_t.c.value).where(
    _params_t.c.run_id.in_(bindparam("b_ids", expanding=True))
)
_LOAD_LATEST = select(_latest_t.c.run_id, _latest_t.c.key, _latest_t.c.value).where(
    _latest_t.c.run_id.in_(bindparam("b_ids", expanding=True))
)
_LOAD_TAGS = select(_tags_t.c.run_id, _tags_t.c.key, _tags_t.c.value).where(
    _tags_t.c.run_id.in_(bindparam("b_ids", expanding=True))
)
_chunks_t = MetricChunkRow.__table__


class _RawBytes(LargeBinary):
    """``LargeBinary`` read as the driver returns it: SQLAlchemy's result processor copies
    every blob into a new ``bytes``, a third of the time of reading a comparison's series."""

    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> None:
        return None


#: Metric chunks of several runs in the order they were written (``Store.metric_chunks``).
_CHUNKS_OF_RUNS = (
    select(
        _chunks_t.c.run_id,
        _chunks_t.c.key,
        type_coerce(_chunks_t.c.steps, _RawBytes()).label("steps"),
        type_coerce(_chunks_t.c["values"], _RawBytes()).label("values"),
        type_coerce(_chunks_t.c.timestamps, _RawBytes()).label("timestamps"),
        _chunks_t.c.id,
    )
    # no ORDER BY: sorting makes SQLite copy every blob into a temporary b-tree before the
    # first row comes back (half the time); the caller sorts the few rows by id instead
    .where(_chunks_t.c.run_id.in_(bindparam("b_ids", expanding=True)))
)
_CHUNKS_OF_RUN_KEYS = _CHUNKS_OF_RUNS.where(
    _chunks_t.c.key.in_(bindparam("b_keys", expanding=True))
)


#: What the run card compares runs on, per reducer: a column of ``latest_metrics``.
CARD_REDUCERS = ("last", "min", "max", "mean")


def _reduced_column(table: Any, reducer: str) -> Any:
    if reducer == "min":
        return table.c.min_value
    if reducer == "max":
        return table.c.max_value
    if reducer == "mean":
        return case((table.c.n_values > 0, table.c.sum_value / table.c.n_values), else_=None)
    return table.c.value


def _best_run_statement(higher_is_better: bool, exclude: bool, reducer: str) -> Any:
    """The best run of an experiment for one metric under a reducer, with all its metric
    values under the same reducer, in one query (the run card asks after every tracked
    cell)."""
    ranked = _reduced_column(_latest_t, reducer)
    best = (
        select(_latest_t.c.run_id, _runs_t.c.number)
        .join(_runs_t, _runs_t.c.id == _latest_t.c.run_id)
        .where(
            _runs_t.c.experiment_id == bindparam("b_exp"),
            _latest_t.c.key == bindparam("b_key"),
            ranked.is_not(None),
        )
    )
    if exclude:
        best = best.where(_runs_t.c.id.not_in(bindparam("b_exclude", expanding=True)))
    order = ranked.desc() if higher_is_better else ranked.asc()
    best = best.order_by(order).limit(1).subquery()
    values = _latest_t.alias("values_")
    return select(
        best.c.run_id, best.c.number, values.c.key, _reduced_column(values, reducer)
    ).join(values, values.c.run_id == best.c.run_id)


_BEST_RUN = {
    (h, e, r): _best_run_statement(h, e, r)
    for h in (True, False)
    for e in (True, False)
    for r in CARD_REDUCERS
}

#: Block digests per ``IN (…)`` query: well under every SQLite build's variable limit.
_IN_CHUNK = 500
_snapshots_t = SnapshotRow.__table__
_blocks_t = BlockRow.__table__
_run_data_t = RunDataRow.__table__


def _from_db_metric(value: float | None) -> float:
    return math.nan if value is None else value


def _execution(row: Any) -> Execution:
    return Execution(
        session_id=row.session_id,
        seq=row.seq,
        notebook_path=row.notebook_path,
        kernel_id=row.kernel_id,
        cell_id=row.cell_id,
        execution_count=row.execution_count,
        raw=row.raw,
        source=row.source,
        status=row.status,
        error_statement=row.error_statement,
        facts=json.loads(row.facts),
        run_id=row.run_id,
        started_at=row.started_at,
        duration=row.duration,
    )


def _snapshot(row: Any) -> Snapshot:
    return Snapshot(
        digest=row.digest,
        kind=row.kind,
        status=SnapshotStatus(row.status),
        rows=row.rows,
        columns=row.columns,
        nbytes=row.nbytes,
        stored_bytes=row.stored_bytes,
        schema=json.loads(row.schema),
        layout=json.loads(row.layout),
        stats=json.loads(row.stats) if row.stats else None,
        error=row.error,
        name=row.name,
        pinned=bool(row.pinned),
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


#: What a sweep's pruner compares a trial with: the sweep's other ended trials (finished or
#: pruned) that logged the metric ``b_key``, with its latest value…
_SIBLING_TRIALS = and_(
    _runs_t.c.parent_run_id == bindparam("b_parent"),
    _runs_t.c.source == "sweep",
    _runs_t.c.id != bindparam("b_run_id"),
    or_(
        _runs_t.c.status == RunStatus.FINISHED.value,
        _runs_t.c.status == RunStatus.PRUNED.value,
    ),
)
_SWEEP_SIBLINGS = (
    select(_runs_t.c.id, _runs_t.c.status, _latest_t.c.value)
    .join(
        _latest_t, and_(_latest_t.c.run_id == _runs_t.c.id, _latest_t.c.key == bindparam("b_key"))
    )
    .where(_SIBLING_TRIALS)
)
#: … and its chunks (``Store.metric_chunks``' columns), in no order (the caller sorts by id).
_SWEEP_SIBLING_CHUNKS = (
    select(*_CHUNKS_OF_RUNS.selected_columns)
    .select_from(_chunks_t.join(_runs_t, _runs_t.c.id == _chunks_t.c.run_id))
    .where(_SIBLING_TRIALS, _chunks_t.c.key == bindparam("b_key"))
)


_environments_t = EnvironmentRow.__table__
_ENVIRONMENT_ID = select(_environments_t.c.id).where(
    _environments_t.c.digest == bindparam("digest")
)


def _insert_environment(insert: Callable[[Any], Any]) -> Any:
    """``INSERT … ON CONFLICT (digest) DO NOTHING``: two sweep workers that store the same
    environment at once both succeed (one inserts it), where a plain insert failed one of
    them with a UNIQUE violation, whose error loaded SQLAlchemy in the worker."""
    stmt = insert(_environments_t).values(
        {c: bindparam(c.name) for c in _environments_t.c if c.name != "id"}
    )
    return stmt.on_conflict_do_nothing(index_elements=["digest"])


_INSERT_ENVIRONMENT = PerDialect(_insert_environment)
if tuple(t.__tablename__ for t in RUN_VALUE_TABLES) != RUN_VALUE_TABLE_NAMES:
    raise AssertionError("fast_writes.RUN_VALUE_TABLE_NAMES must name RUN_VALUE_TABLES")


def fast_statement(key: str, dialect: str) -> Any:
    """The construct of a hot write's statement, by its key in :mod:`.fast_writes` (which
    builds the steps from them, prepared: see :mod:`.driver`)."""
    if key.startswith("run:"):
        return finish_statement(tuple(key[len("run:") :].split(",")))
    if key.startswith("delete_") and key[len("delete_") :] in _DELETE_RUN_VALUES:
        return _DELETE_RUN_VALUES[key[len("delete_") :]]
    fixed = {
        "check_attempt": _CHECK_ATTEMPT_RETURNING,
        "take_over_start": _TAKE_OVER_START,
        "registered": _REGISTERED,
        "delete_attempt_tag": _DELETE_ATTEMPT_TAG,
        "insert_tags": _INSERT_TAGS,
        "run_row": _RUN_ROW_SQLITE,
        "insert_chunks": _INSERT_CHUNKS,
        "environment_id": _ENVIRONMENT_ID,
        "sweep_siblings": _SWEEP_SIBLINGS,
        "sweep_sibling_chunks": _SWEEP_SIBLING_CHUNKS,
    }
    if key in fixed:
        return fixed[key]
    per_dialect = {
        "upsert_params": _UPSERT_PARAMS,
        "upsert_latest": _UPSERT_LATEST,
        "insert_environment": _INSERT_ENVIRONMENT,
    }
    if key in per_dialect:
        return per_dialect[key][dialect]
    raise KeyError(f"no hot write statement {key!r}")
