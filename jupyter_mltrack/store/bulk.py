"""Reading many runs at once, for comparisons: each method is one query (or a few) whatever
the number of runs, where reading run by run would cost a round trip each.

The comparison (:mod:`jupyter_mltrack.compare.facts`) loads everything it needs through these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from .entities import Environment, Execution, Run, RunContext, RunData
from .liveness import Liveness
from .models import EnvironmentRow, ExecutionRow, MetricChunkRow
from .statements import (
    _CHUNKS_OF_RUN_KEYS,
    _CHUNKS_OF_RUNS,
    _IN_CHUNK,
    _execution,
    _experiments_t,
    _latest_t,
    _outputs_t,
    _run_data_t,
    _runs_t,
    _snapshot,
    _snapshots_t,
)


class BulkReads(Liveness):
    """Bulk reads of runs (uses ``_load_runs`` of :class:`.run_reads.RunReads`)."""

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
        (unknown ids left out): three queries whatever the count. (This host's runs whose
        process is gone are marked crashed first, as every read of runs does.)"""
        self.reap_local_runs()
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

    def run_errors(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``run id -> error`` (``{"ename", "evalue", "traceback"}``) of the runs that recorded
        one: what a sweep's chart says of its failed trials, in one query rather than a run
        detail (series, outputs) per trial."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, dict[str, Any]] = {}
        if not ids:
            return out
        stmt = select(_runs_t.c.id, _runs_t.c.error).where(
            self._ids_in(_runs_t.c.id, ids), _runs_t.c.error.is_not(None)
        )
        with self.engine.connect() as conn:
            for run_id, raw in conn.execute(stmt):
                error = json.loads(raw) if raw else None
                if isinstance(error, dict):
                    out[run_id] = error
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
                        dataset=r.dataset,
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
