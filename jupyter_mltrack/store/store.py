"""The run store: one SQLAlchemy implementation for SQLite (embedded) and PostgreSQL (teams).

The kernel writes here directly (like an MLflow client with a tracking URI), the server reads
and applies user edits. Every public method opens and closes its own transaction, so a store
object is safe to share between threads; SQLite runs in WAL mode with a busy timeout so the
kernel writing and the server reading never block each other for long.
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    LargeBinary,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..jsonsafe import to_json
from ..location import BLOB_URL_ENV, home_of, resolve_store_url
from .blobs import BlobStore, blob_store_for
from .entities import (
    Environment,
    Execution,
    Experiment,
    KernelSession,
    MetricPoint,
    Run,
    RunContext,
    RunData,
    RunDetail,
    RunRef,
    RunStatus,
    Snapshot,
    SnapshotStatus,
)
from .models import (
    BlockRow,
    EnvironmentRow,
    ExecutionRow,
    ExperimentRow,
    LatestMetricRow,
    MetricChunkRow,
    MetricGoalRow,
    OutputRow,
    ParamRow,
    RunDataRow,
    RunRow,
    SnapshotRow,
    TagRow,
)
from .schema import upgrade_to_head
from .series import chunks, series

DEFAULT_EXPERIMENT = "Default"
#: A running run whose heartbeat is older than this, on a host we cannot check, is crashed.
STALE_AFTER = 120.0
_HOST = socket.gethostname()
_ORDER_FIELDS = {"start_time", "number", "name", "status", "duration", "end_time"}

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
#: constraint on (experiment, number) catches two writers that raced; the caller retries.
_RUN_VALUES = [c for c in _runs_t.c if c.name != "number"]
_INSERT_RUN = _runs_t.insert().from_select(
    [*(c.name for c in _RUN_VALUES), "number"],
    select(
        *(bindparam(f"v_{c.name}", type_=c.type) for c in _RUN_VALUES),
        func.coalesce(func.max(_runs_t.c.number), 0) + 1,
    ).where(_runs_t.c.experiment_id == bindparam("v_experiment_id", type_=Integer)),
)
_INSERT_RUN_RETURNING = _INSERT_RUN.returning(_runs_t.c.number)
_RUN_EXISTS = select(_runs_t.c.id).where(_runs_t.c.id == bindparam("b_run_id"))
_NUMBER_OF = select(_runs_t.c.number).where(_runs_t.c.id == bindparam("b_run_id"))
#: The SET clause is made of the other keys passed with ``b_run_id``.
_UPDATE_RUN = update(_runs_t).where(_runs_t.c.id == bindparam("b_run_id"))
_INSERT_CHUNKS = MetricChunkRow.__table__.insert()
_NEXT_OUTPUT = select(func.coalesce(func.max(_outputs_t.c.idx), -1) + 1).where(
    _outputs_t.c.run_id == bindparam("b_run_id")
)


def _upserts(table: Any, keys: tuple[str, ...], newer: Any = None) -> dict[str, Any]:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` for each dialect (both spell it alike).

    ``newer(excluded)`` optionally restricts the update to rows that are newer than the
    stored one, so one statement both inserts and keeps the maximum.
    """
    out = {}
    for name, module in (("sqlite", sqlite), ("postgresql", postgresql)):
        stmt = module.insert(table)
        values = {c.name: stmt.excluded[c.name] for c in table.c if c.name not in keys}
        out[name] = stmt.on_conflict_do_update(
            index_elements=list(keys),
            set_=values,
            where=newer(stmt.excluded) if newer is not None else None,
        )
    return out


_UPSERT_PARAMS = _upserts(_params_t, ("run_id", "key"))
#: The latest value of a metric is the one with the highest (step, timestamp).
_UPSERT_LATEST = _upserts(
    _latest_t,
    ("run_id", "key"),
    lambda new: or_(
        new.step > _latest_t.c.step,
        (new.step == _latest_t.c.step) & (new.timestamp >= _latest_t.c.timestamp),
    ),
)

_UPSERT_RUN_DATA = _upserts(RunDataRow.__table__, ("run_id", "role", "name"))
#: Blocks are immutable: a second writer of the same block keeps the first row.
_INSERT_BLOCKS = {
    name: module.insert(BlockRow.__table__).on_conflict_do_nothing(index_elements=["digest"])
    for name, module in (("sqlite", sqlite), ("postgresql", postgresql))
}

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


def _best_run_statement(higher_is_better: bool, exclude: bool) -> Any:
    """The best run of an experiment for one metric, with all its latest metric values, in
    one query (the run card asks after every tracked cell)."""
    best = (
        select(_latest_t.c.run_id, _runs_t.c.number)
        .join(_runs_t, _runs_t.c.id == _latest_t.c.run_id)
        .where(
            _runs_t.c.experiment_id == bindparam("b_exp"),
            _latest_t.c.key == bindparam("b_key"),
            _latest_t.c.value.is_not(None),
        )
    )
    if exclude:
        best = best.where(_runs_t.c.id != bindparam("b_exclude"))
    order = _latest_t.c.value.desc() if higher_is_better else _latest_t.c.value.asc()
    best = best.order_by(order).limit(1).subquery()
    values = _latest_t.alias("values_")
    return select(best.c.run_id, best.c.number, values.c.key, values.c.value).join(
        values, values.c.run_id == best.c.run_id
    )


_BEST_RUN = {(h, e): _best_run_statement(h, e) for h in (True, False) for e in (True, False)}


class StoreError(Exception):
    """Base of the store's errors; the message is meant for the user."""


class RunNotFound(StoreError, LookupError):
    pass


class InvalidQuery(StoreError, ValueError):
    pass


class AmbiguousRunNumber(InvalidQuery):
    """A run number given without an experiment that several experiments have."""

    def __init__(self, number: int, experiments: Sequence[str]) -> None:
        self.number = number
        self.experiments = list(experiments)
        shown = ", ".join(self.experiments[:5])
        if len(self.experiments) > 5:
            shown += f" (and {len(self.experiments) - 5} more)"
        super().__init__(
            f"run number {number} is ambiguous: experiments {shown} have one; name the "
            "experiment (experiment=… / -e …) or use the run id"
        )


class SnapshotNotFound(StoreError, LookupError):
    pass


class Sweep(NamedTuple):
    """What :meth:`Store.sweep_snapshots` found (and, unless a dry run, deleted)."""

    snapshots: list[Snapshot]
    #: ``(digest, pack, offset, length)`` of blocks no snapshot uses any more.
    blocks: list[tuple[str, str, int, int]]
    #: Blocks still used, by pack: ``pack -> [(digest, offset, length)]``.
    kept: dict[str, list[tuple[str, int, int]]]
    #: Blobs of file snapshots still used.
    files: set[str]


#: Block digests per ``IN (…)`` query: well under every SQLite build's variable limit.
_IN_CHUNK = 500
_snapshots_t = SnapshotRow.__table__
_blocks_t = BlockRow.__table__
_run_data_t = RunDataRow.__table__


def _dumps(value: Any) -> str:
    return json.dumps(to_json(value), allow_nan=False, ensure_ascii=False)


def _metric_value(value: float) -> float | None:
    return None if math.isnan(value) else value


def _from_db_metric(value: float | None) -> float:
    return math.nan if value is None else value


class Store:
    """Experiments, runs and everything recorded with them."""

    def __init__(
        self, url: str | None = None, *, migrate: bool = True, blob_url: str | None = None
    ) -> None:
        """``blob_url``: where snapshot data goes (default: ``MLTRACK_BLOB_URL``, else a
        ``blobs/`` folder beside a SQLite database)."""
        self.url = resolve_store_url(url)
        self.blob_url = blob_url or os.environ.get(BLOB_URL_ENV) or None
        self._blobs: BlobStore | None = None
        self.home = home_of(self.url)
        if self.home is not None:
            self.home.mkdir(parents=True, exist_ok=True)
        self.engine = _make_engine(self.url)
        self._dialect = self.engine.dialect.name
        if self._dialect not in DIALECTS:
            self.engine.dispose()
            raise StoreError(f"unsupported database {self._dialect!r}: use SQLite or PostgreSQL")
        #: SQLite before 3.35 cannot ``INSERT … RETURNING``.
        self._returning = bool(self.engine.dialect.insert_returning)
        if migrate:
            upgrade_to_head(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._number_lock = threading.Lock()
        #: The execution log's own connection on SQLite (see ``add_executions``).
        self._log_conn: Any = None
        self._log_lock = threading.Lock()
        # Experiments are never renamed or deleted, so their ids can be remembered.
        self._experiments: dict[str, Experiment] = {}

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        with self._log_lock:
            if self._log_conn is not None:
                self._log_conn.close()
                self._log_conn = None
        self.engine.dispose()

    @property
    def blobs(self) -> BlobStore:
        """The blob store holding this store's snapshot data (opened on first use)."""
        if self._blobs is None:
            target = self.blob_url or (str(self.home) if self.home is not None else self.url)
            self._blobs = blob_store_for(target)
        return self._blobs

    def session(self) -> Session:
        return self._session()

    # experiments -------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str | None) -> Experiment:
        name = (name or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT
        cached = self._experiments.get(name)
        if cached is not None:
            return cached
        with self.session() as s:
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            if row is None:
                row = ExperimentRow(name=name, created_at=time.time())
                s.add(row)
                try:
                    s.commit()
                except IntegrityError:  # another process created it first
                    s.rollback()
                    row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            assert row is not None
            exp = Experiment(id=row.id, name=row.name, created_at=row.created_at)
        self._experiments[name] = exp
        return exp

    def list_experiments(self) -> list[Experiment]:
        with self.session() as s:
            stmt = (
                select(
                    ExperimentRow,
                    func.count(RunRow.id),
                    func.max(RunRow.start_time),
                )
                .outerjoin(RunRow, RunRow.experiment_id == ExperimentRow.id)
                .group_by(ExperimentRow.id)
                .order_by(ExperimentRow.name)
            )
            return [
                Experiment(
                    id=row.id,
                    name=row.name,
                    created_at=row.created_at,
                    run_count=count,
                    last_run_at=last,
                )
                for row, count, last in s.execute(stmt)
            ]

    # environments ------------------------------------------------------------------------

    def put_environment(self, env: Environment) -> int:
        """Store an environment once per digest and return its id."""
        with self.session() as s:
            found = s.scalar(select(EnvironmentRow.id).where(EnvironmentRow.digest == env.digest))
            if found is not None:
                return found
            row = EnvironmentRow(
                digest=env.digest,
                python=env.python,
                platform=env.platform,
                packages=json.dumps(env.packages, sort_keys=True),
                created_at=time.time(),
            )
            s.add(row)
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                found = s.scalar(
                    select(EnvironmentRow.id).where(EnvironmentRow.digest == env.digest)
                )
                assert found is not None
                return found
            return row.id

    # runs: writing -----------------------------------------------------------------------

    def create_run(
        self,
        experiment: str | None = None,
        *,
        name: str | None = None,
        notebook_path: str | None = None,
        cell_id: str | None = None,
        execution_count: int | None = None,
        code: str = "",
        source: str = "notebook",
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        environment_id: int | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        kernel_id: str | None = None,
        start_time: float | None = None,
    ) -> Run:
        """Insert a ``running`` run with the next number of its experiment."""
        exp = self.get_or_create_experiment(experiment)
        now = time.time()
        start = start_time if start_time is not None else now
        run_id = uuid.uuid4().hex
        row = {
            "v_id": run_id,
            "v_experiment_id": exp.id,
            "v_name": name,
            "v_status": RunStatus.RUNNING.value,
            "v_start_time": start,
            "v_end_time": None,
            "v_updated_at": now,
            "v_notebook_path": notebook_path,
            "v_cell_id": cell_id,
            "v_execution_count": execution_count,
            "v_code": code,
            "v_error": None,
            "v_note": "",
            "v_source": source,
            "v_parent_run_id": parent_run_id,
            "v_environment_id": environment_id,
            "v_git_commit": git_commit,
            "v_git_dirty": git_dirty,
            "v_kernel_id": kernel_id,
            "v_host": _HOST,
            "v_pid": os.getpid(),
            "v_heartbeat_at": now,
        }
        for attempt in range(20):
            try:
                with self._number_lock, self.engine.begin() as conn:
                    number = self._insert_run(conn, row)
                    if tags:
                        self._write_tags(conn, run_id, tags, replace=False)
                    if params:
                        conn.execute(_UPSERT_PARAMS[self._dialect], _param_rows(run_id, params))
            except IntegrityError as exc:
                if not self._number_clash(exc):
                    raise
                time.sleep(0.005 * (attempt + 1))  # another process took this number
                continue
            return Run(
                id=run_id,
                number=number,
                experiment_id=exp.id,
                experiment=exp.name,
                name=name,
                status=RunStatus.RUNNING,
                start_time=start,
                end_time=None,
                notebook_path=notebook_path,
                cell_id=cell_id,
                execution_count=execution_count,
                source=source,
                parent_run_id=parent_run_id,
                note="",
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                params={str(k): to_json(v) for k, v in (params or {}).items()},
            )
        raise StoreError(f"could not allocate a run number in experiment {exp.name!r}")

    def _insert_run(self, conn: Connection, row: dict[str, Any]) -> int:
        """Insert the run with the next free number of its experiment; return the number."""
        if self._returning:
            return conn.execute(_INSERT_RUN_RETURNING, row).scalar_one()
        conn.execute(_INSERT_RUN, row)
        return conn.execute(_NUMBER_OF, {"b_run_id": row["v_id"]}).scalar_one()

    @staticmethod
    def _number_clash(exc: IntegrityError) -> bool:
        """Is this the (experiment, number) constraint, i.e. another writer took the number?

        Any other integrity error (a bad foreign key, say) is a real error, not retried.
        """
        orig = exc.orig
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)  # psycopg
        if constraint is not None:
            return constraint == "uq_runs_experiment_number"
        return "runs.experiment_id, runs.number" in str(orig)  # SQLite names the columns

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Insert or overwrite params (typed JSON values)."""
        if not params:
            return
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            conn.execute(_UPSERT_PARAMS[self._dialect], _param_rows(run_id, params))

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points in one transaction and refresh the latest-value summary."""
        if not points:
            return
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            self._write_metrics(conn, run_id, points)

    def set_tags(self, run_id: str, tags: Mapping[str, str], *, replace: bool = False) -> None:
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            self._write_tags(conn, run_id, tags, replace=replace)

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        ids = list(run_ids)
        if not ids:
            return
        with self.session() as s:
            s.execute(update(RunRow).where(RunRow.id.in_(ids)).values(heartbeat_at=time.time()))
            s.commit()

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[MetricPoint] = (),
        outputs: Sequence[Mapping[str, Any]] = (),
        error: Mapping[str, Any] | None = None,
        end_time: float | None = None,
        environment_id: int | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
    ) -> None:
        """Write what the run produced and its final status in one transaction.

        Doing it at once keeps a tracked cell to a single commit, and means a reader never
        sees a finished run whose metrics are still missing.
        """
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
        with self.engine.begin() as conn:
            if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values}).rowcount == 0:
                raise RunNotFound(f"no run {run_id!r}")
            if params:
                conn.execute(_UPSERT_PARAMS[self._dialect], _param_rows(run_id, params))
            if metrics:
                self._write_metrics(conn, run_id, metrics)
            if outputs:
                start = conn.execute(_NEXT_OUTPUT, {"b_run_id": run_id}).scalar_one()
                conn.execute(
                    _outputs_t.insert(),
                    [
                        {
                            "run_id": run_id,
                            "idx": start + i,
                            "output_type": str(out.get("output_type", "display_data")),
                            "content": json.dumps(out, allow_nan=False, ensure_ascii=False),
                        }
                        for i, out in enumerate(outputs)
                    ],
                )

    def update_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        note: str | None = None,
    ) -> None:
        """User edits from the sidebar or CLI; ``tags`` replaces the run's tags."""
        values: dict[str, Any] = {"updated_at": time.time()}
        if name is not None:
            values["name"] = name or None
        if note is not None:
            values["note"] = note
        with self.engine.begin() as conn:
            if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values}).rowcount == 0:
                raise RunNotFound(f"no run {run_id!r}")
            if tags is not None:
                self._write_tags(conn, run_id, tags, replace=True)

    def rename_notebook(self, old: str, new: str) -> int:
        """A notebook (or a folder of them) was renamed: its runs and its execution log
        follow it. Returns the count of runs moved."""
        old, new = old.strip("/"), new.strip("/")
        t = ExecutionRow.__table__
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.notebook_path == old).values(notebook_path=new))
            prefix = t.c.notebook_path.startswith(old + "/", autoescape=True)
            for row in conn.execute(select(t.c.id, t.c.notebook_path).where(prefix)).all():
                conn.execute(
                    update(t)
                    .where(t.c.id == row.id)
                    .values(notebook_path=new + row.notebook_path[len(old) :])
                )
        with self.session() as s:
            moved = s.execute(
                update(RunRow)
                .where(RunRow.notebook_path == old)
                .values(notebook_path=new, updated_at=time.time())
            ).rowcount
            for run_id, path in s.execute(
                select(RunRow.id, RunRow.notebook_path).where(
                    RunRow.notebook_path.startswith(old + "/", autoescape=True)
                )
            ).all():
                s.execute(
                    update(RunRow)
                    .where(RunRow.id == run_id)
                    .values(notebook_path=new + path[len(old) :], updated_at=time.time())
                )
                moved += 1
            s.commit()
        return moved

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(_RUN_EXISTS, {"b_run_id": run_id}).first() is None:
                raise RunNotFound(f"no run {run_id!r}")
            for table in (
                MetricChunkRow,
                LatestMetricRow,
                ParamRow,
                OutputRow,
                TagRow,
                RunDataRow,
            ):
                conn.execute(delete(table).where(table.run_id == run_id))
            conn.execute(delete(RunRow).where(RunRow.id == run_id))

    # runs: liveness ----------------------------------------------------------------------

    def mark_kernel_runs(
        self,
        kernel_id: str,
        status: RunStatus = RunStatus.CRASHED,
        *,
        started_before: float | None = None,
    ) -> list[str]:
        """Close the runs a kernel left running (it died, restarted or was shut down).

        ``started_before`` spares runs the *new* process of a restarted kernel (same id) may
        already have opened by the time the server reacts to the restart.
        """
        with self.session() as s:
            stmt = select(RunRow.id).where(
                RunRow.kernel_id == kernel_id, RunRow.status == RunStatus.RUNNING.value
            )
            if started_before is not None:
                stmt = stmt.where(RunRow.start_time <= started_before)
            ids = list(s.scalars(stmt))
            if ids:
                self._close_running(s, ids, status)
                s.commit()
            return ids

    def reap_stale_runs(self, *, stale_after: float = STALE_AFTER) -> list[str]:
        """Mark ``crashed`` every running run whose process is gone.

        On this host a run's pid is checked directly; elsewhere we rely on the heartbeat the
        kernel refreshes while the run is open.
        """
        now = time.time()
        host = _HOST
        dead: list[str] = []
        with self.session() as s:
            rows = s.execute(
                select(RunRow.id, RunRow.host, RunRow.pid, RunRow.heartbeat_at).where(
                    RunRow.status == RunStatus.RUNNING.value
                )
            ).all()
            for run_id, run_host, pid, beat in rows:
                if run_host == host and pid:
                    if not _pid_alive(pid):
                        dead.append(run_id)
                elif beat is None or now - beat > stale_after:
                    dead.append(run_id)
            if dead:
                self._close_running(s, dead, RunStatus.CRASHED)
                s.commit()
        return dead

    # runs: reading -----------------------------------------------------------------------

    def resolve_run_id(self, ref: str, experiment: str | None = None) -> str:
        """A run id from a full id, a unique id prefix, or a run number.

        A number is looked up in ``experiment``; without one it must be unique across the
        store: a number several experiments have raises :class:`AmbiguousRunNumber` (an
        :class:`InvalidQuery`) naming them, since picking one would silently name a run the
        caller did not mean."""
        ref = ref.strip()
        with self.session() as s:
            if ref.isascii() and ref.isdigit() and len(ref) < 9:
                stmt = select(RunRow.id, ExperimentRow.name).join(ExperimentRow)
                stmt = stmt.where(RunRow.number == int(ref))
                if experiment:
                    stmt = stmt.where(ExperimentRow.name == experiment)
                found = s.execute(stmt.order_by(RunRow.start_time.desc()).limit(50)).all()
                if len(found) == 1 or (found and experiment):
                    return found[0][0]
                if found:
                    raise AmbiguousRunNumber(int(ref), sorted({name for _id, name in found}))
            prefix = ref.lower()
            if len(prefix) >= 4 and all(c in "0123456789abcdef" for c in prefix):
                matches = list(
                    s.scalars(select(RunRow.id).where(RunRow.id.like(f"{prefix}%")).limit(2))
                )
                if len(matches) == 1:
                    return matches[0]
                if len(matches) > 1:
                    raise InvalidQuery(f"run id prefix {ref!r} is ambiguous")
        raise RunNotFound(f"no run {ref!r}")

    def get_run(self, run_id: str) -> Run:
        runs = self._load_runs([run_id])
        if not runs:
            raise RunNotFound(f"no run {run_id!r}")
        return runs[0]

    def get_run_detail(self, run_id: str) -> RunDetail:
        run = self.get_run(run_id)
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RunNotFound(f"no run {run_id!r}")
            metric_series = series(
                s.execute(
                    select(
                        MetricChunkRow.key,
                        MetricChunkRow.steps,
                        MetricChunkRow.values,
                        MetricChunkRow.timestamps,
                    )
                    .where(MetricChunkRow.run_id == run_id)
                    .order_by(MetricChunkRow.id)
                )
            )
            outputs = [
                json.loads(content)
                for (content,) in s.execute(
                    select(OutputRow.content)
                    .where(OutputRow.run_id == run_id)
                    .order_by(OutputRow.idx)
                )
            ]
            env = None
            if row.environment_id is not None:
                env_row = s.get(EnvironmentRow, row.environment_id)
                if env_row is not None:
                    env = Environment(
                        id=env_row.id,
                        digest=env_row.digest,
                        python=env_row.python,
                        platform=env_row.platform,
                        packages=json.loads(env_row.packages),
                    )
            return RunDetail(
                run=run,
                code=row.code,
                error=json.loads(row.error) if row.error else None,
                metric_series=metric_series,
                outputs=outputs,
                environment=env,
                git_commit=row.git_commit,
                git_dirty=row.git_dirty,
                kernel_id=row.kernel_id,
                host=row.host,
                pid=row.pid,
                data=self.run_data(run_id),
            )

    def search_runs(
        self,
        *,
        experiment: str | None = None,
        notebook: str | None = None,
        status: str | None = None,
        order: str = "-start_time",
        limit: int = 100,
        offset: int = 0,
        notebook_kernels: Sequence[str] = (),
    ) -> tuple[list[Run], int]:
        """A page of runs matching the filters, and how many match in all.

        ``notebook_kernels`` are the kernels of the notebook's live sessions: a kernel started
        before the notebook was renamed still records the old path, yet its runs belong to it.
        """
        if status is not None:
            try:
                status = RunStatus(status).value
            except ValueError:
                raise InvalidQuery(
                    f"unknown status {status!r}; use one of "
                    + ", ".join(s.value for s in RunStatus)
                ) from None
        if not 1 <= limit <= 1000:
            raise InvalidQuery("limit must be between 1 and 1000")
        if offset < 0:
            raise InvalidQuery("offset must be 0 or more")
        descending = order.startswith("-")
        key = order.lstrip("-+")
        with self.session() as s:
            stmt = select(RunRow.id)
            count = select(func.count(RunRow.id))
            if experiment is not None:
                exp_id = s.scalar(select(ExperimentRow.id).where(ExperimentRow.name == experiment))
                if exp_id is None:
                    return [], 0
                stmt = stmt.where(RunRow.experiment_id == exp_id)
                count = count.where(RunRow.experiment_id == exp_id)
            if notebook is not None:
                cond = RunRow.notebook_path == notebook
                if notebook_kernels:
                    cond = or_(cond, RunRow.kernel_id.in_(list(notebook_kernels)))
                stmt = stmt.where(cond)
                count = count.where(cond)
            if status is not None:
                stmt = stmt.where(RunRow.status == status)
                count = count.where(RunRow.status == status)
            if key.startswith("metrics."):
                metric = key[len("metrics.") :]
                value = (
                    select(LatestMetricRow.value)
                    .where(LatestMetricRow.run_id == RunRow.id, LatestMetricRow.key == metric)
                    .scalar_subquery()
                )
                column = value
            elif key in _ORDER_FIELDS:
                column = (
                    (RunRow.end_time - RunRow.start_time)
                    if key == "duration"
                    else getattr(RunRow, key)
                )
            else:
                raise InvalidQuery(
                    f"cannot order by {key!r}; use one of "
                    + ", ".join(sorted(_ORDER_FIELDS))
                    + " or metrics.<key>"
                )
            ordering = column.desc().nulls_last() if descending else column.asc().nulls_last()
            stmt = stmt.order_by(ordering, RunRow.start_time.desc()).limit(limit).offset(offset)
            ids = list(s.scalars(stmt))
            total = s.scalar(count) or 0
        runs = {r.id: r for r in self._load_runs(ids)}
        return [runs[i] for i in ids if i in runs], total

    def revision(self) -> str:
        """Changes whenever a run is created, updated or deleted (for cheap polling)."""
        with self.session() as s:
            count, latest = s.execute(
                select(func.count(RunRow.id), func.max(RunRow.updated_at))
            ).one()
        return f"{count}:{latest or 0:.6f}"

    def best_run(
        self, experiment_id: int, metric: str, *, higher_is_better: bool, exclude: str | None = None
    ) -> RunRef | None:
        """The run of an experiment with the best latest value of ``metric``, with the latest
        values of all its metrics (what the run card compares against)."""
        args: dict[str, Any] = {"b_exp": experiment_id, "b_key": metric}
        if exclude:
            args["b_exclude"] = exclude
        stmt = _BEST_RUN[(bool(higher_is_better), bool(exclude))]
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, args).all()
        if not rows:
            return None
        return RunRef(
            id=rows[0][0],
            number=rows[0][1],
            metrics={key: _from_db_metric(value) for _id, _n, key, value in rows},
        )

    # metric goals ---------------------------------------------------------------------------

    def set_metric_goal(self, experiment: str | None, key: str, goal: str | None) -> None:
        """Record that ``key`` is minimised (``"min"``) or maximised (``"max"``) in an
        experiment (created if new), or with ``None`` forget it (the name decides again)."""
        if goal is not None and goal not in ("min", "max"):
            raise InvalidQuery(f"a metric goal is 'min' or 'max' (or None to clear), not {goal!r}")
        exp = self.get_or_create_experiment(experiment)
        t = MetricGoalRow.__table__
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.experiment_id == exp.id, t.c.key == key))
            if goal is not None:
                conn.execute(t.insert(), {"experiment_id": exp.id, "key": key, "goal": goal})

    def metric_goals(self, experiment_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """``experiment id -> {metric: "min" | "max"}`` of the goals set for them."""
        ids = sorted(set(experiment_ids))
        out: dict[int, dict[str, str]] = {i: {} for i in ids}
        if not ids:
            return out
        t = MetricGoalRow.__table__
        with self.engine.connect() as conn:
            for exp_id, key, goal in conn.execute(
                select(t.c.experiment_id, t.c.key, t.c.goal).where(t.c.experiment_id.in_(ids))
            ):
                out[exp_id][key] = goal
        return out

    # runs: reading many at once (comparison) ---------------------------------------------

    def experiment_run_ids(self, experiments: Sequence[str], *, limit: int = 10_000) -> list[str]:
        """Ids of the runs of the named experiments, newest first, at most ``limit`` (unknown
        names contribute nothing): one query, however many runs."""
        stmt = (
            select(_runs_t.c.id)
            .join(_experiments_t, _experiments_t.c.id == _runs_t.c.experiment_id)
            .where(_experiments_t.c.name.in_(list(experiments)))
            .order_by(_runs_t.c.start_time.desc(), _runs_t.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(stmt))

    def load_runs(self, run_ids: Sequence[str]) -> list[Run]:
        """Runs with their params, latest metrics and tags, in the order of ``run_ids``
        (unknown ids left out): three queries whatever the count."""
        return self._load_runs(list(dict.fromkeys(run_ids)))

    def run_contexts(self, run_ids: Sequence[str], *, code: bool = False) -> dict[str, RunContext]:
        """Environment, git state and (with ``code``) the cell of each run: one query for the
        runs and one for the distinct environments they share."""
        ids = list(dict.fromkeys(run_ids))
        columns = [
            _runs_t.c.id,
            _runs_t.c.environment_id,
            _runs_t.c.git_commit,
            _runs_t.c.git_dirty,
        ]
        if code:
            columns.append(_runs_t.c.code)
        env_t = EnvironmentRow.__table__
        rows: list[Any] = []
        envs: dict[int, Environment] = {}
        with self.engine.connect() as conn:
            rows.extend(conn.execute(select(*columns).where(self._ids_in(_runs_t.c.id, ids))))
            env_ids = sorted({r.environment_id for r in rows if r.environment_id is not None})
            for i in range(0, len(env_ids), _IN_CHUNK):
                for e in conn.execute(
                    select(env_t).where(env_t.c.id.in_(env_ids[i : i + _IN_CHUNK]))
                ):
                    envs[e.id] = Environment(
                        id=e.id,
                        digest=e.digest,
                        python=e.python,
                        platform=e.platform,
                        packages=json.loads(e.packages),
                    )
        return {
            r.id: RunContext(
                run_id=r.id,
                environment=envs.get(r.environment_id) if r.environment_id is not None else None,
                git_commit=r.git_commit,
                git_dirty=r.git_dirty,
                code=r.code if code else None,
            )
            for r in rows
        }

    def latest_metric_steps(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``run id -> {metric: step of its latest value}`` (the values come with the run)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, dict[str, int]] = {}
        if not ids:
            return out
        stmt = select(_latest_t.c.run_id, _latest_t.c.key, _latest_t.c.step).where(
            self._ids_in(_latest_t.c.run_id, ids)
        )
        with self.engine.connect() as conn:
            for run_id, key, step in conn.execute(stmt):
                out.setdefault(run_id, {})[key] = step
        return out

    def metric_extents(self, run_ids: Sequence[str]) -> dict[str, dict[str, tuple[int, int]]]:
        """``run id -> {metric: (points, last step)}`` from the chunks' headers, without
        reading a point: whether a metric has a series, and how far it goes."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, dict[str, tuple[int, int]]] = {}
        if not ids:
            return out
        t = MetricChunkRow.__table__
        stmt = (
            select(t.c.run_id, t.c.key, func.sum(t.c.count), func.max(t.c.last_step))
            .where(self._ids_in(t.c.run_id, ids))
            .group_by(t.c.run_id, t.c.key)
        )
        with self.engine.connect() as conn:
            for run_id, key, count, last in conn.execute(stmt):
                out.setdefault(run_id, {})[key] = (int(count), int(last))
        return out

    def runs_data(self, run_ids: Sequence[str]) -> dict[str, list[RunData]]:
        """:meth:`run_data` of many runs in one query (runs without data are left out)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, list[RunData]] = {}
        if not ids:
            return out
        stmt = (
            select(_run_data_t, _snapshots_t)
            .join(_snapshots_t, _snapshots_t.c.digest == _run_data_t.c.snapshot_digest)
            .where(self._ids_in(_run_data_t.c.run_id, ids))
            .order_by(_run_data_t.c.role, _run_data_t.c.created_at, _run_data_t.c.name)
        )
        with self.engine.connect() as conn:
            for r in conn.execute(stmt):
                out.setdefault(r.run_id, []).append(
                    RunData(
                        run_id=r.run_id,
                        role=r.role,
                        name=r.name,
                        path=r.path,
                        snapshot=_snapshot(r),
                    )
                )
        return out

    def runs_outputs(self, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The recorded outputs (nbformat dicts, in order) of many runs, in one query."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        if not ids:
            return out
        stmt = (
            select(_outputs_t.c.run_id, _outputs_t.c.content)
            .where(self._ids_in(_outputs_t.c.run_id, ids))
            .order_by(_outputs_t.c.run_id, _outputs_t.c.idx)
        )
        with self.engine.connect() as conn:
            for run_id, content in conn.execute(stmt):
                out[run_id].append(json.loads(content))
        return out

    def executions_of_runs(self, run_ids: Sequence[str]) -> dict[str, Execution]:
        """:meth:`execution_of_run` of many runs, in one query (runs outside logged cells
        are left out)."""
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        t = ExecutionRow.__table__
        out: dict[str, Execution] = {}
        with self.engine.connect() as conn:
            stmt = select(t).where(self._ids_in(t.c.run_id, ids)).order_by(t.c.id)
            for row in conn.execute(stmt):
                out.setdefault(row.run_id, _execution(row))
        return out

    def metric_chunks(self, run_ids: Sequence[str], keys: Sequence[str] | None = None) -> list[Any]:
        """The stored metric chunks of several runs (of some metrics only, if ``keys``), as
        rows ``(run_id, key, steps, values, timestamps, id)`` (raw little-endian bytes) in
        the order they were written.

        One query for all the runs and metrics a comparison draws: reading them series by
        series (MLflow's ``get_metric_history`` per run and metric) costs a round trip each.
        The bytes are left undecoded so callers with numpy decode them in one step (the store
        itself stays numpy-free; :func:`.series.series` decodes without it)."""
        ids = list(dict.fromkeys(run_ids))
        if not ids or (keys is not None and not keys):
            return []
        stmt = _CHUNKS_OF_RUNS if keys is None else _CHUNKS_OF_RUN_KEYS
        args: dict[str, Any] = {} if keys is None else {"b_keys": list(dict.fromkeys(keys))}
        rows: list[Any] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _IN_CHUNK):
                rows.extend(conn.execute(stmt, {**args, "b_ids": ids[i : i + _IN_CHUNK]}))
        rows.sort(key=lambda r: r.id)
        return rows

    # snapshots -------------------------------------------------------------------------

    def add_snapshot(
        self,
        *,
        digest: str,
        kind: str,
        rows: int | None,
        columns: int | None,
        nbytes: int,
        schema: Mapping[str, Any],
        layout: Mapping[str, Any],
        name: str | None = None,
        pinned: bool = False,
    ) -> Snapshot:
        """Record a snapshot as ``pending`` (its blocks are being written) and return it;
        if the digest is already known, return what is recorded (nothing is changed but
        ``pinned``, which only ever turns on, and a ``failed`` one, which starts over)."""
        now = time.time()
        row = {
            "digest": digest,
            "kind": kind,
            "status": SnapshotStatus.PENDING.value,
            "rows": rows,
            "columns": columns,
            "nbytes": nbytes,
            "stored_bytes": 0,
            "schema": json.dumps(schema, sort_keys=True, allow_nan=False),
            "layout": json.dumps(layout, sort_keys=True, allow_nan=False),
            "name": name,
            "pinned": pinned,
            "created_at": now,
        }
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(_snapshots_t.c.status, _snapshots_t.c.pinned).where(
                    _snapshots_t.c.digest == digest
                )
            ).first()
            if existing is None:
                try:
                    with conn.begin_nested():
                        conn.execute(_snapshots_t.insert(), row)
                except IntegrityError:  # another process recorded it first
                    pass
            else:
                values: dict[str, Any] = {}
                if pinned and not existing.pinned:
                    values["pinned"] = True
                if name and pinned:
                    values["name"] = name
                if existing.status == SnapshotStatus.FAILED.value:
                    values.update(status=SnapshotStatus.PENDING.value, error=None)
                if values:
                    conn.execute(
                        update(_snapshots_t).where(_snapshots_t.c.digest == digest).values(**values)
                    )
        return self.get_snapshot(digest)

    def complete_snapshot(
        self,
        digest: str,
        *,
        blocks: Sequence[Mapping[str, Any]] = (),
        stored_bytes: int = 0,
        stats: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the (now durable) blocks and mark the snapshot ``complete``, atomically."""
        now = time.time()
        with self.engine.begin() as conn:
            if blocks:
                rows = [
                    {
                        **b,
                        "stats": json.dumps(b["stats"], allow_nan=False)
                        if b.get("stats")
                        else None,
                        "created_at": now,
                    }
                    for b in blocks
                ]
                conn.execute(_INSERT_BLOCKS[self._dialect], rows)
            values: dict[str, Any] = {
                "status": SnapshotStatus.COMPLETE.value,
                "completed_at": now,
                "error": None,
            }
            if stored_bytes:
                values["stored_bytes"] = stored_bytes
            if stats is not None:
                values["stats"] = json.dumps(stats, sort_keys=True, allow_nan=False)
            result = conn.execute(
                update(_snapshots_t)
                .where(
                    _snapshots_t.c.digest == digest,
                    _snapshots_t.c.status != SnapshotStatus.COMPLETE.value,
                )
                .values(**values)
            )
            if result.rowcount == 0 and not self._snapshot_exists(conn, digest):
                raise SnapshotNotFound(f"no snapshot {digest!r}")

    def fail_snapshot(self, digest: str, error: str) -> None:
        """A snapshot whose blocks could not be stored (it stays listed, unusable)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(_snapshots_t)
                .where(
                    _snapshots_t.c.digest == digest,
                    _snapshots_t.c.status == SnapshotStatus.PENDING.value,
                )
                .values(status=SnapshotStatus.FAILED.value, error=error[:10_000])
            )

    def set_snapshot_stats(self, digest: str, stats: Mapping[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(_snapshots_t)
                .where(_snapshots_t.c.digest == digest)
                .values(stats=json.dumps(stats, sort_keys=True, allow_nan=False))
            )

    def pin_snapshot(self, digest: str, pinned: bool = True, name: str | None = None) -> None:
        """Pinned snapshots (and their blocks) survive ``gc`` even when no run uses them."""
        values: dict[str, Any] = {"pinned": pinned}
        if name is not None:
            values["name"] = name or None
        with self.engine.begin() as conn:
            done = conn.execute(
                update(_snapshots_t).where(_snapshots_t.c.digest == digest).values(**values)
            ).rowcount
        if not done:
            raise SnapshotNotFound(f"no snapshot {digest!r}")

    @staticmethod
    def _snapshot_exists(conn: Connection, digest: str) -> bool:
        found = conn.execute(
            select(_snapshots_t.c.digest).where(_snapshots_t.c.digest == digest)
        ).first()
        return found is not None

    def get_snapshot(self, digest: str) -> Snapshot:
        with self.engine.connect() as conn:
            row = conn.execute(select(_snapshots_t).where(_snapshots_t.c.digest == digest)).first()
        if row is None:
            raise SnapshotNotFound(f"no snapshot {digest!r}")
        return _snapshot(row)

    def resolve_snapshot(self, ref: str) -> Snapshot:
        """A snapshot from its digest, a unique prefix of its hex part (4+ digits), or the
        name it was saved under (the most recent one of that name)."""
        ref = ref.strip()
        if not ref:
            raise SnapshotNotFound("no snapshot ''")
        with self.engine.connect() as conn:
            row = conn.execute(select(_snapshots_t).where(_snapshots_t.c.digest == ref)).first()
            if row is None:
                row = conn.execute(
                    select(_snapshots_t)
                    .where(_snapshots_t.c.name == ref)
                    .order_by(_snapshots_t.c.created_at.desc())
                    .limit(1)
                ).first()
            if row is None:
                hexpart = (ref.partition(":")[2] if ":" in ref else ref).lower()
                if len(hexpart) >= 4 and all(c in "0123456789abcdef" for c in hexpart):
                    rows = conn.execute(
                        select(_snapshots_t)
                        .where(_snapshots_t.c.digest.like(f"%:{hexpart}%"))
                        .limit(2)
                    ).all()
                    if len(rows) > 1:
                        raise InvalidQuery(f"snapshot prefix {ref!r} is ambiguous")
                    row = rows[0] if rows else None
        if row is None:
            raise SnapshotNotFound(f"no snapshot {ref!r}")
        return _snapshot(row)

    def list_snapshots(
        self, *, run_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Snapshot], int]:
        """Snapshots, newest first (those a run used, if ``run_id`` is given)."""
        if not 1 <= limit <= 1000:
            raise InvalidQuery("limit must be between 1 and 1000")
        if offset < 0:
            raise InvalidQuery("offset must be 0 or more")
        stmt = select(_snapshots_t)
        count = select(func.count()).select_from(_snapshots_t)
        if run_id is not None:
            used = select(_run_data_t.c.snapshot_digest).where(_run_data_t.c.run_id == run_id)
            stmt = stmt.where(_snapshots_t.c.digest.in_(used))
            count = count.where(_snapshots_t.c.digest.in_(used))
        stmt = stmt.order_by(_snapshots_t.c.created_at.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
            total = conn.execute(count).scalar_one()
        return [_snapshot(r) for r in rows], total

    def snapshot_users(self, digest: str) -> list[tuple[str, str, str]]:
        """``(run_id, role, name)`` of every use of a snapshot by a run."""
        with self.engine.connect() as conn:
            return [
                (r.run_id, r.role, r.name)
                for r in conn.execute(
                    select(_run_data_t.c.run_id, _run_data_t.c.role, _run_data_t.c.name)
                    .where(_run_data_t.c.snapshot_digest == digest)
                    .order_by(_run_data_t.c.created_at)
                )
            ]

    def add_run_data(
        self, run_id: str, role: str, name: str, digest: str, path: str | None = None
    ) -> None:
        """Record that a run read (``input``) or wrote (``output``) a snapshot; the same
        name recorded again for a run points at the newer snapshot."""
        if role not in ("input", "output"):
            raise InvalidQuery(f"role must be 'input' or 'output', not {role!r}")
        row = {
            "run_id": run_id,
            "role": role,
            "name": name,
            "snapshot_digest": digest,
            "path": path,
            "created_at": time.time(),
        }
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            conn.execute(_UPSERT_RUN_DATA[self._dialect], row)

    def run_data(self, run_id: str) -> list[RunData]:
        """Inputs then outputs of a run, each in the order it was recorded."""
        stmt = (
            select(_run_data_t, _snapshots_t)
            .join(_snapshots_t, _snapshots_t.c.digest == _run_data_t.c.snapshot_digest)
            .where(_run_data_t.c.run_id == run_id)
            .order_by(_run_data_t.c.role, _run_data_t.c.created_at, _run_data_t.c.name)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            RunData(
                run_id=r.run_id,
                role=r.role,
                name=r.name,
                path=r.path,
                snapshot=_snapshot(r),
            )
            for r in rows
        ]

    def _blocks_in(self, columns: Sequence[Any], digests: Iterable[str]) -> Iterator[Any]:
        """Rows of ``columns`` for the stored blocks among ``digests`` (chunked ``IN``
        queries: a GiB frame has 2,000 blocks, more than old SQLite builds bind at once)."""
        wanted = list(dict.fromkeys(digests))
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), _IN_CHUNK):
                chunk = wanted[i : i + _IN_CHUNK]
                yield from conn.execute(
                    select(_blocks_t.c.digest, *columns).where(_blocks_t.c.digest.in_(chunk))
                )

    def missing_blocks(self, digests: Iterable[str]) -> set[str]:
        """The digests among ``digests`` that no durable block holds yet."""
        wanted = set(digests)
        return wanted - {r.digest for r in self._blocks_in([], wanted)}

    def block_locations(self, digests: Iterable[str]) -> dict[str, tuple[str, int, int]]:
        """``digest -> (pack, offset, length)`` of stored blocks (missing ones are left out)."""
        columns = [_blocks_t.c.pack, _blocks_t.c.offset, _blocks_t.c.length]
        return {r.digest: (r.pack, r.offset, r.length) for r in self._blocks_in(columns, digests)}

    def block_sizes(self, digests: Iterable[str]) -> dict[str, tuple[int, int]]:
        """``digest -> (stored length, raw bytes)`` of stored blocks: how well they
        compressed, so a writer can decide for their neighbours without trying."""
        columns = [_blocks_t.c.length, _blocks_t.c.raw_bytes]
        return {r.digest: (r.length, r.raw_bytes) for r in self._blocks_in(columns, digests)}

    def block_stats(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The partial moments recorded with stored blocks (blocks without any are left out)."""
        rows = self._blocks_in([_blocks_t.c.stats], digests)
        return {r.digest: json.loads(r.stats) for r in rows if r.stats}

    # garbage collection --------------------------------------------------------------------

    def sweep_snapshots(self, *, dry_run: bool = False, pending_after: float = 3600.0) -> Sweep:
        """The database half of ``gc``, in one write transaction.

        Deletes the snapshots no run uses and nobody pinned, then the rows of the blocks no
        remaining snapshot lists (pending ones included). Holding the write lock throughout
        means a snapshot being taken concurrently is either seen here (its blocks are kept)
        or starts after (and finds the deleted blocks missing, so it writes them again).
        With ``dry_run`` nothing is deleted. The caller then deletes the pack blobs left
        without blocks.
        """
        with self.engine.begin() as conn:
            if self._dialect == "postgresql":
                conn.exec_driver_sql("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE")
            else:  # a no-op write takes SQLite's write lock for the whole transaction
                conn.execute(update(_snapshots_t).where(False).values(pinned=False))
            used = set(conn.execute(select(_run_data_t.c.snapshot_digest)).scalars())
            dead: list[Snapshot] = []
            live_blocks: set[str] = set()
            live_blobs: set[str] = set()
            # A pending snapshot may be about to be linked to a run by another process:
            # only one left pending for longer than ``pending_after`` (its writer died) goes.
            cutoff = time.time() - pending_after
            for row in conn.execute(select(_snapshots_t)):
                young = row.status == SnapshotStatus.PENDING.value and row.created_at > cutoff
                if row.digest not in used and not row.pinned and not young:
                    dead.append(_snapshot(row))
                    continue
                layout = json.loads(row.layout)
                for digests in layout.get("blocks", {}).values():
                    live_blocks.update(digests)
                if layout.get("blob"):
                    live_blobs.add(layout["blob"])
            blocks = conn.execute(
                select(_blocks_t.c.digest, _blocks_t.c.pack, _blocks_t.c.offset, _blocks_t.c.length)
            ).all()
            dead_blocks = [tuple(b) for b in blocks if b.digest not in live_blocks]
            kept: dict[str, list[tuple[str, int, int]]] = {}
            for b in blocks:
                if b.digest in live_blocks:
                    kept.setdefault(b.pack, []).append((b.digest, b.offset, b.length))
            if not dry_run:
                names = [d.digest for d in dead]
                for i in range(0, len(names), _IN_CHUNK):
                    conn.execute(
                        delete(_snapshots_t).where(
                            _snapshots_t.c.digest.in_(names[i : i + _IN_CHUNK])
                        )
                    )
                gone = [b[0] for b in dead_blocks]
                for i in range(0, len(gone), _IN_CHUNK):
                    conn.execute(
                        delete(_blocks_t).where(_blocks_t.c.digest.in_(gone[i : i + _IN_CHUNK]))
                    )
        return Sweep(dead, dead_blocks, kept, live_blobs)

    def move_blocks(self, moves: Sequence[tuple[str, str, int]]) -> None:
        """Point blocks at their copies in a new pack: ``(digest, pack, offset)``."""
        with self.engine.begin() as conn:
            for digest, pack, offset in moves:
                conn.execute(
                    update(_blocks_t)
                    .where(_blocks_t.c.digest == digest)
                    .values(pack=pack, offset=offset)
                )

    def pack_in_use(self, pack: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(_blocks_t.c.digest).where(_blocks_t.c.pack == pack).limit(1)
            ).first()
        return found is not None

    # execution log -------------------------------------------------------------------------

    def add_executions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append logged cell executions (``facts`` as a dict), in one transaction.

        The kernel calls this after every cell. On SQLite the insert goes through a DBAPI
        connection of its own with a fixed statement: SQLAlchemy's execution machinery costs
        more than the insert and the commit together (0.2 ms against 0.05)."""
        if not rows:
            return
        values = [
            {**r, "facts": json.dumps(r.get("facts") or {}, allow_nan=False, default=str)}
            for r in rows
        ]
        if self._dialect != "sqlite":
            with self.engine.begin() as conn:
                conn.execute(ExecutionRow.__table__.insert(), values)
            return
        with self._log_lock:
            if self._log_conn is None:
                self._log_conn = self.engine.raw_connection()
            conn = self._log_conn
            try:
                conn.cursor().executemany(
                    _EXECUTION_INSERT, [tuple(v.get(c) for c in _EXECUTION_COLUMNS) for v in values]
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def sessions(self, notebook: str | None = None, *, limit: int = 20) -> list[KernelSession]:
        """Logged kernel sessions, most recent first (of one notebook, if given)."""
        t = ExecutionRow.__table__
        stmt = select(
            t.c.session_id,
            func.max(t.c.notebook_path),
            func.max(t.c.kernel_id),
            func.min(t.c.started_at),
            func.max(t.c.started_at),
            func.count(),
        ).group_by(t.c.session_id)
        if notebook is not None:
            stmt = stmt.where(t.c.notebook_path == notebook.strip("/"))
        stmt = stmt.order_by(func.max(t.c.started_at).desc()).limit(limit)
        with self.engine.connect() as conn:
            return [KernelSession(*row) for row in conn.execute(stmt)]

    def executions(self, session_id: str, *, upto: int | None = None) -> list[Execution]:
        """A session's executions in the order they ran (up to and including ``upto``)."""
        t = ExecutionRow.__table__
        stmt = select(t).where(t.c.session_id == session_id)
        if upto is not None:
            stmt = stmt.where(t.c.seq <= upto)
        with self.engine.connect() as conn:
            return [_execution(r) for r in conn.execute(stmt.order_by(t.c.seq))]

    def execution_of_run(self, run_id: str) -> Execution | None:
        """The logged cell execution a run was recorded in (``None`` for runs outside cells)."""
        t = ExecutionRow.__table__
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.run_id == run_id).limit(1)).first()
        return _execution(row) if row is not None else None

    def child_runs(self, run_id: str, *, source: str | None = None) -> list[Run]:
        """Runs recorded as children of ``run_id`` (a pipeline's runs of a notebook run),
        newest first."""
        stmt = select(RunRow.id).where(RunRow.parent_run_id == run_id)
        if source is not None:
            stmt = stmt.where(RunRow.source == source)
        with self.engine.connect() as conn:
            ids = list(conn.scalars(stmt.order_by(RunRow.start_time.desc())))
        return self._load_runs(ids)

    # internals ---------------------------------------------------------------------------

    def _ids_in(self, column: Any, ids: Sequence[str]) -> Any:
        """``column IN (ids)`` as one bound value (a JSON array read with ``json_each`` on
        SQLite, an array with ``= ANY`` on PostgreSQL): SQLAlchemy spends longer expanding
        10,000 ``IN`` parameters than the database takes to answer."""
        from sqlalchemy import String, any_, literal_column
        from sqlalchemy.dialects.postgresql import ARRAY

        if self._dialect == "postgresql":
            return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
        values = select(literal_column("value")).select_from(
            func.json_each(bindparam(None, json.dumps(list(ids))))
        )
        return column.in_(values.scalar_subquery())

    def _load_runs(self, ids: Sequence[str]) -> list[Run]:
        if not ids:
            return []
        args: dict[str, Any] = {"b_ids": list(ids)}
        statements = (_LOAD_RUNS, _LOAD_PARAMS, _LOAD_LATEST, _LOAD_TAGS)
        if len(ids) > _IN_CHUNK:  # many runs (comparisons of whole experiments)
            args = {}
            statements = (
                select(_runs_t, _experiments_t.c.name.label("experiment_name"))
                .join(_experiments_t, _experiments_t.c.id == _runs_t.c.experiment_id)
                .where(self._ids_in(_runs_t.c.id, ids)),
                *(
                    select(t.c.run_id, t.c.key, t.c.value).where(self._ids_in(t.c.run_id, ids))
                    for t in (_params_t, _latest_t, _tags_t)
                ),
            )
        with self.engine.connect() as conn:
            rows = conn.execute(statements[0], args).all()
            params: dict[str, dict[str, Any]] = {}
            found = conn.execute(statements[1], args).all()
            # one JSON document for all the values: a parse per value costs 10x more
            values = json.loads("[" + ",".join(r[2] for r in found) + "]")
            for (run_id, key, _text), value in zip(found, values, strict=True):
                params.setdefault(run_id, {})[key] = value
            metrics: dict[str, dict[str, float]] = {}
            for run_id, key, value in conn.execute(statements[2], args):
                metrics.setdefault(run_id, {})[key] = _from_db_metric(value)
            tags: dict[str, dict[str, str]] = {}
            for run_id, key, value in conn.execute(statements[3], args):
                tags.setdefault(run_id, {})[key] = value
        by_id = {
            row.id: Run(
                id=row.id,
                number=row.number,
                experiment_id=row.experiment_id,
                experiment=row.experiment_name,
                name=row.name,
                status=RunStatus(row.status),
                start_time=row.start_time,
                end_time=row.end_time,
                notebook_path=row.notebook_path,
                cell_id=row.cell_id,
                execution_count=row.execution_count,
                source=row.source,
                parent_run_id=row.parent_run_id,
                note=row.note,
                tags=dict(sorted(tags.get(row.id, {}).items())),
                params=dict(sorted(params.get(row.id, {}).items())),
                metrics=dict(sorted(metrics.get(row.id, {}).items())),
            )
            for row in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _touch(conn: Connection, run_id: str) -> None:
        """Mark the run as changed (for the revision the sidebar polls); it must exist."""
        if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, "updated_at": time.time()}).rowcount == 0:
            raise RunNotFound(f"no run {run_id!r}")

    @staticmethod
    def _close_running(s: Session, ids: list[str], status: RunStatus) -> None:
        now = time.time()
        s.execute(
            update(RunRow)
            .where(RunRow.id.in_(ids), RunRow.status == RunStatus.RUNNING.value)
            .values(
                status=status.value,
                end_time=func.coalesce(RunRow.heartbeat_at, now),
                updated_at=now,
            )
        )

    @staticmethod
    def _write_tags(
        conn: Connection, run_id: str, tags: Mapping[str, str], *, replace: bool
    ) -> None:
        if replace:
            conn.execute(delete(TagRow).where(TagRow.run_id == run_id))
        elif tags:
            conn.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key.in_(list(tags))))
        if tags:
            conn.execute(
                _tags_t.insert(),
                [{"run_id": run_id, "key": str(k), "value": str(v)} for k, v in tags.items()],
            )

    def _write_metrics(self, conn: Connection, run_id: str, points: Sequence[MetricPoint]) -> None:
        # one row per metric per flush (see store.series): 100,000 points, one insert
        conn.execute(_INSERT_CHUNKS, [{"run_id": run_id, **c._asdict()} for c in chunks(points)])
        latest: dict[str, MetricPoint] = {}
        for p in points:
            cur = latest.get(p.key)
            if cur is None or (p.step, p.timestamp) >= (cur.step, cur.timestamp):
                latest[p.key] = p
        conn.execute(
            _UPSERT_LATEST[self._dialect],
            [
                {
                    "run_id": run_id,
                    "key": key,
                    "step": p.step,
                    "value": _metric_value(p.value),
                    "timestamp": p.timestamp,
                }
                for key, p in latest.items()
            ],
        )


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


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    # keys are stored as text: 1 and "1" are the same param (the last one wins)
    values = {str(k): v for k, v in params.items()}
    return [{"run_id": run_id, "key": k, "value": _dumps(v)} for k, v in values.items()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


#: ``executions`` columns a logged record fills, and the statement inserting one (SQLite).
_EXECUTION_COLUMNS = tuple(c.name for c in ExecutionRow.__table__.columns if c.name != "id")
_EXECUTION_INSERT = (
    f"INSERT INTO {ExecutionRow.__tablename__} ({', '.join(_EXECUTION_COLUMNS)})"
    f" VALUES ({', '.join('?' for _ in _EXECUTION_COLUMNS)})"
)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # room for the index pages a big metric flush touches (used only as needed)
            cur.execute("PRAGMA cache_size=-32768")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
