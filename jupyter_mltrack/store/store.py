"""The run store: one SQLAlchemy implementation for SQLite (embedded) and PostgreSQL (teams).

The kernel writes here directly (like an MLflow client with a tracking URI), the server reads
and applies user edits. Every public method opens and closes its own transaction, so a store
object is safe to share between threads; SQLite runs in WAL mode with a busy timeout so the
kernel writing and the server reading never block each other for long.

``Store`` is assembled from one mixin per responsibility, each in its own module (all derive
from :class:`.base.StoreBase`, none imports this one): :mod:`.run_writes`, :mod:`.run_reads`,
:mod:`.bulk` (the reads of comparisons), :mod:`.snapshot_records`, :mod:`.executions`,
:mod:`.artifact_records`, :mod:`.registry_records` (the model registry) and
:mod:`.dataset_records` (named, versioned datasets) and :mod:`.settings` (what a store says
about itself: the blob URL a team store remembers);
the statements they share are built once in :mod:`.statements`. This module keeps what ties
them together: opening the database, experiments, environments and metric goals.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from ..location import BLOB_URL_ENV, home_of, resolve_store_url
from .artifact_records import ArtifactRecords
from .artifact_uses import ArtifactUses
from .attempts import Fence
from .base import RESTORE_BUSY_TIMEOUT
from .blobs import BlobStore, blob_store_for
from .bulk import BulkReads
from .dataset_records import DatasetRecords
from .entities import Environment, Experiment
from .errors import (
    AmbiguousRunNumber,
    AmbiguousRunRef,
    InvalidQuery,
    RunNotFound,
    RunRefError,
    SnapshotNotFound,
    StoreError,
)
from .executions import ExecutionLog
from .liveness import STALE_AFTER
from .models import EnvironmentRow, ExperimentRow, MetricGoalRow, RunRow
from .names import InvalidName, check_name
from .prepared import SQLITE_PRAGMAS
from .registry_records import RegistryRecords
from .run_reads import RunReads
from .run_values import RunValues
from .run_writes import RunWrites
from .schema import upgrade_to_head
from .settings import StoreSettings
from .snapshot_records import SnapshotRecords, Sweep
from .statements import DIALECTS

#: Importable from here as before the split (the errors, ``Sweep`` and the constants are
#: defined in the modules named above and re-exported).
__all__ = [
    "DEFAULT_EXPERIMENT",
    "DIALECTS",
    "STALE_AFTER",
    "AmbiguousRunNumber",
    "AmbiguousRunRef",
    "InvalidName",
    "InvalidQuery",
    "RunNotFound",
    "RunRefError",
    "SnapshotNotFound",
    "Store",
    "StoreError",
    "Sweep",
]

DEFAULT_EXPERIMENT = "Default"


class Store(
    RunWrites,
    RunReads,
    BulkReads,
    DatasetRecords,
    SnapshotRecords,
    ExecutionLog,
    RunValues,
    ArtifactRecords,
    ArtifactUses,
    RegistryRecords,
    StoreSettings,
):
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
        self._fast_writes = self._dialect == "sqlite"
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._number_lock = threading.Lock()
        #: The execution log's own connection on SQLite (see ``add_executions``).
        self._driver_conn: Any = None
        self._driver_lock = threading.Lock()
        self._driver_statements: dict[str, Any] = {}
        self._fences: dict[str, Fence] = {}
        # Experiments are never renamed or deleted, so their ids can be remembered.
        self._experiments: dict[str, Experiment] = {}
        # last: the first use of the database (a store that spools can be made without it)
        if migrate:
            upgrade_to_head(self.engine)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        with self._driver_lock:
            if self._driver_conn is not None:
                with contextlib.suppress(Exception):  # the pool's connections wait for locks
                    cursor = self._driver_conn.cursor()
                    cursor.execute(RESTORE_BUSY_TIMEOUT)
                    cursor.close()
                self._driver_conn.close()
                self._driver_conn = None
        self.engine.dispose()

    @property
    def blobs(self) -> BlobStore:
        """The blob store holding this store's snapshot data (opened on first use)."""
        if self._blobs is None:
            if self.blob_url is None and self.home is None:  # a team store: does it say?
                self.blob_url = self._remembered_blob_url()
            target = self.blob_url or (str(self.home) if self.home is not None else self.url)
            self._blobs = blob_store_for(target)
        return self._blobs

    def _remembered_blob_url(self) -> str | None:
        """The blob URL the database remembers (:mod:`.settings`); ``None`` when it cannot
        say (unreachable now, or not migrated: a store opened without its schema check)."""
        try:
            return self.remembered_blob_url()
        except Exception:
            return None

    # experiments -------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str | None) -> Experiment:
        name = (name or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT
        cached = self._experiments.get(name)
        if cached is not None:
            return cached
        check_name("experiment", name)
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

    def warm_up(self, experiment: str | None = None) -> None:
        """Do ahead, off the cell's path, the one-time work a kernel's first run would
        otherwise wait for: configure the ORM mappers, and look the run's experiment up (the
        ORM query is compiled and the experiment remembered). Nothing is written: an
        experiment that does not exist yet is created by its first run, as before."""
        from sqlalchemy.orm import configure_mappers

        configure_mappers()
        with contextlib.suppress(SnapshotNotFound):  # the query a first snapshot makes
            self.get_snapshot("0" * 64)
        name = (experiment or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT
        if name in self._experiments:
            return
        with self.session() as s:
            row = s.scalar(select(ExperimentRow).where(ExperimentRow.name == name))
            if row is not None:
                exp = Experiment(id=row.id, name=row.name, created_at=row.created_at)
                self._experiments[name] = exp

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

    # metric goals ---------------------------------------------------------------------------

    def set_metric_goal(self, experiment: str | None, key: str, goal: str | None) -> None:
        """Record that ``key`` is minimised (``"min"``) or maximised (``"max"``) in an
        experiment (created if new), or with ``None`` forget it (the name decides again)."""
        if goal is not None and goal not in ("min", "max"):
            raise InvalidQuery(f"a metric goal is 'min' or 'max' (or None to clear), not {goal!r}")
        check_name("metric", key)
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


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        return engine
    # a server that went away answers at once (connection refused); a host that went away
    # does not answer at all: give up after 10 s rather than the system's two minutes
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
