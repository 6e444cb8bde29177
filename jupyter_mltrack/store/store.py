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
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..jsonsafe import to_json
from ..location import home_of, resolve_store_url
from .entities import Environment, Experiment, MetricPoint, Run, RunDetail, RunStatus
from .models import (
    EnvironmentRow,
    ExperimentRow,
    LatestMetricRow,
    MetricRow,
    OutputRow,
    ParamRow,
    RunRow,
    TagRow,
)
from .schema import upgrade_to_head

DEFAULT_EXPERIMENT = "Default"
#: A running run whose heartbeat is older than this, on a host we cannot check, is crashed.
STALE_AFTER = 120.0
_HOST = socket.gethostname()
_ORDER_FIELDS = {"start_time", "number", "name", "status", "duration", "end_time"}


class StoreError(Exception):
    """Base of the store's errors; the message is meant for the user."""


class RunNotFound(StoreError, LookupError):
    pass


class InvalidQuery(StoreError, ValueError):
    pass


def _dumps(value: Any) -> str:
    return json.dumps(to_json(value), allow_nan=False, ensure_ascii=False)


def _metric_value(value: float) -> float | None:
    return None if math.isnan(value) else value


def _from_db_metric(value: float | None) -> float:
    return math.nan if value is None else value


class Store:
    """Experiments, runs and everything recorded with them."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_store_url(url)
        self.home = home_of(self.url)
        if self.home is not None:
            self.home.mkdir(parents=True, exist_ok=True)
        self.engine = _make_engine(self.url)
        if migrate:
            upgrade_to_head(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._number_lock = threading.Lock()
        # Experiments are never renamed or deleted, so their ids can be remembered.
        self._experiments: dict[str, Experiment] = {}

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

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
        for attempt in range(20):
            with self._number_lock, self.session() as s:
                number = (
                    s.scalar(select(func.max(RunRow.number)).where(RunRow.experiment_id == exp.id))
                    or 0
                ) + 1
                s.execute(
                    RunRow.__table__.insert(),
                    {
                        "id": run_id,
                        "experiment_id": exp.id,
                        "number": number,
                        "name": name,
                        "status": RunStatus.RUNNING.value,
                        "start_time": start,
                        "updated_at": now,
                        "notebook_path": notebook_path,
                        "cell_id": cell_id,
                        "execution_count": execution_count,
                        "code": code,
                        "note": "",
                        "source": source,
                        "parent_run_id": parent_run_id,
                        "environment_id": environment_id,
                        "git_commit": git_commit,
                        "git_dirty": git_dirty,
                        "kernel_id": kernel_id,
                        "host": _HOST,
                        "pid": os.getpid(),
                        "heartbeat_at": now,
                    },
                )
                if tags:
                    s.execute(
                        TagRow.__table__.insert(),
                        [{"run_id": run_id, "key": k, "value": str(v)} for k, v in tags.items()],
                    )
                if params:
                    s.execute(ParamRow.__table__.insert(), _param_rows(run_id, params))
                try:
                    s.commit()
                except IntegrityError:  # another process took this number
                    s.rollback()
                    time.sleep(0.005 * (attempt + 1))
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
                tags=dict(tags or {}),
                params={k: to_json(v) for k, v in (params or {}).items()},
            )
        raise StoreError(f"could not allocate a run number in experiment {exp.name!r}")

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Insert or overwrite params (typed JSON values)."""
        if not params:
            return
        with self.session() as s:
            self._require_run(s, run_id)
            s.execute(
                delete(ParamRow).where(ParamRow.run_id == run_id, ParamRow.key.in_(list(params)))
            )
            s.execute(ParamRow.__table__.insert(), _param_rows(run_id, params))
            self._touch(s, run_id)
            s.commit()

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points in one transaction and refresh the latest-value summary."""
        if not points:
            return
        with self.session() as s:
            self._require_run(s, run_id)
            self._write_metrics(s, run_id, points)
            self._touch(s, run_id)
            s.commit()

    def set_tags(self, run_id: str, tags: Mapping[str, str], *, replace: bool = False) -> None:
        with self.session() as s:
            self._require_run(s, run_id)
            self._write_tags(s, run_id, tags, replace=replace)
            self._touch(s, run_id)
            s.commit()

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
        with self.session() as s:
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
            if s.execute(update(RunRow).where(RunRow.id == run_id).values(**values)).rowcount == 0:
                raise RunNotFound(f"no run {run_id!r}")
            if params:
                s.execute(
                    delete(ParamRow).where(
                        ParamRow.run_id == run_id, ParamRow.key.in_(list(params))
                    )
                )
                s.execute(ParamRow.__table__.insert(), _param_rows(run_id, params))
            if metrics:
                self._write_metrics(s, run_id, metrics)
            if outputs:
                start = (
                    s.scalar(select(func.max(OutputRow.idx)).where(OutputRow.run_id == run_id))
                    or -1
                ) + 1
                s.connection().execute(
                    OutputRow.__table__.insert(),
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
            s.commit()

    def update_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        note: str | None = None,
    ) -> None:
        """User edits from the sidebar or CLI; ``tags`` replaces the run's tags."""
        with self.session() as s:
            self._require_run(s, run_id)
            values: dict[str, Any] = {"updated_at": time.time()}
            if name is not None:
                values["name"] = name or None
            if note is not None:
                values["note"] = note
            if tags is not None:
                self._write_tags(s, run_id, tags, replace=True)
            s.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
            s.commit()

    def delete_run(self, run_id: str) -> None:
        with self.session() as s:
            self._require_run(s, run_id)
            for table in (MetricRow, LatestMetricRow, ParamRow, OutputRow, TagRow):
                s.execute(delete(table).where(table.run_id == run_id))
            s.execute(delete(RunRow).where(RunRow.id == run_id))
            s.commit()

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
        """A run id from a full id, a unique id prefix, or a run number (within ``experiment``,
        else the most recent experiment's)."""
        ref = ref.strip()
        with self.session() as s:
            if ref.isdigit() and len(ref) < 9:
                stmt = select(RunRow.id).where(RunRow.number == int(ref))
                if experiment:
                    stmt = stmt.join(ExperimentRow).where(ExperimentRow.name == experiment)
                found = s.scalars(stmt.order_by(RunRow.start_time.desc()).limit(1)).first()
                if found:
                    return found
            if len(ref) >= 4:
                matches = list(
                    s.scalars(select(RunRow.id).where(RunRow.id.like(f"{ref}%")).limit(2))
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
            series: dict[str, list[MetricPoint]] = {}
            for key, step, value, ts in s.execute(
                select(MetricRow.key, MetricRow.step, MetricRow.value, MetricRow.timestamp)
                .where(MetricRow.run_id == run_id)
                .order_by(MetricRow.key, MetricRow.step, MetricRow.id)
            ):
                series.setdefault(key, []).append(
                    MetricPoint(key=key, value=_from_db_metric(value), step=step, timestamp=ts)
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
                metric_series=series,
                outputs=outputs,
                environment=env,
                git_commit=row.git_commit,
                git_dirty=row.git_dirty,
                kernel_id=row.kernel_id,
                host=row.host,
                pid=row.pid,
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
    ) -> tuple[list[Run], int]:
        """A page of runs matching the filters, and how many match in all."""
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
                stmt = stmt.where(RunRow.notebook_path == notebook)
                count = count.where(RunRow.notebook_path == notebook)
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
    ) -> Run | None:
        """The run of an experiment with the best latest value of ``metric``."""
        with self.session() as s:
            stmt = (
                select(LatestMetricRow.run_id)
                .join(RunRow, RunRow.id == LatestMetricRow.run_id)
                .where(
                    RunRow.experiment_id == experiment_id,
                    LatestMetricRow.key == metric,
                    LatestMetricRow.value.is_not(None),
                )
            )
            if exclude:
                stmt = stmt.where(RunRow.id != exclude)
            order = (
                LatestMetricRow.value.desc() if higher_is_better else LatestMetricRow.value.asc()
            )
            best = s.scalars(stmt.order_by(order).limit(1)).first()
        return self.get_run(best) if best else None

    # internals ---------------------------------------------------------------------------

    def _load_runs(self, ids: Sequence[str]) -> list[Run]:
        if not ids:
            return []
        with self.session() as s:
            rows = s.execute(
                select(RunRow, ExperimentRow.name)
                .join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
                .where(RunRow.id.in_(ids))
            ).all()
            params: dict[str, dict[str, Any]] = {}
            for run_id, key, value in s.execute(
                select(ParamRow.run_id, ParamRow.key, ParamRow.value).where(
                    ParamRow.run_id.in_(ids)
                )
            ):
                params.setdefault(run_id, {})[key] = json.loads(value)
            metrics: dict[str, dict[str, float]] = {}
            for run_id, key, value in s.execute(
                select(LatestMetricRow.run_id, LatestMetricRow.key, LatestMetricRow.value).where(
                    LatestMetricRow.run_id.in_(ids)
                )
            ):
                metrics.setdefault(run_id, {})[key] = _from_db_metric(value)
            tags: dict[str, dict[str, str]] = {}
            for run_id, key, value in s.execute(
                select(TagRow.run_id, TagRow.key, TagRow.value).where(TagRow.run_id.in_(ids))
            ):
                tags.setdefault(run_id, {})[key] = value
        by_id = {
            row.id: Run(
                id=row.id,
                number=row.number,
                experiment_id=row.experiment_id,
                experiment=exp_name,
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
            for row, exp_name in rows
        }
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _require_run(s: Session, run_id: str) -> None:
        if s.scalar(select(RunRow.id).where(RunRow.id == run_id)) is None:
            raise RunNotFound(f"no run {run_id!r}")

    @staticmethod
    def _touch(s: Session, run_id: str) -> None:
        s.execute(update(RunRow).where(RunRow.id == run_id).values(updated_at=time.time()))

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
    def _write_tags(s: Session, run_id: str, tags: Mapping[str, str], *, replace: bool) -> None:
        if replace:
            s.execute(delete(TagRow).where(TagRow.run_id == run_id))
        elif tags:
            s.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key.in_(list(tags))))
        if tags:
            s.execute(
                TagRow.__table__.insert(),
                [{"run_id": run_id, "key": str(k), "value": str(v)} for k, v in tags.items()],
            )

    @staticmethod
    def _write_metrics(s: Session, run_id: str, points: Sequence[MetricPoint]) -> None:
        s.connection().execute(
            MetricRow.__table__.insert(),
            [
                {
                    "run_id": run_id,
                    "key": p.key,
                    "step": p.step,
                    "value": _metric_value(p.value),
                    "timestamp": p.timestamp,
                }
                for p in points
            ],
        )
        latest: dict[str, MetricPoint] = {}
        for p in points:
            cur = latest.get(p.key)
            if cur is None or (p.step, p.timestamp) >= (cur.step, cur.timestamp):
                latest[p.key] = p
        existing = {
            key: (step, ts)
            for key, step, ts in s.execute(
                select(LatestMetricRow.key, LatestMetricRow.step, LatestMetricRow.timestamp).where(
                    LatestMetricRow.run_id == run_id, LatestMetricRow.key.in_(list(latest))
                )
            )
        }
        fresh = [
            {
                "run_id": run_id,
                "key": key,
                "step": p.step,
                "value": _metric_value(p.value),
                "timestamp": p.timestamp,
            }
            for key, p in latest.items()
            if key not in existing
        ]
        if fresh:
            s.connection().execute(LatestMetricRow.__table__.insert(), fresh)
        for key, p in latest.items():
            row = {"step": p.step, "value": _metric_value(p.value), "timestamp": p.timestamp}
            if key in existing and (p.step, p.timestamp) >= existing[key]:
                s.execute(
                    update(LatestMetricRow)
                    .where(LatestMetricRow.run_id == run_id, LatestMetricRow.key == key)
                    .values(**row)
                )


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"run_id": run_id, "key": str(k), "value": _dumps(v)} for k, v in params.items()]


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


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
