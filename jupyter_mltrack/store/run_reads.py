"""Reading runs one page or one run at a time: what the sidebar, the CLI and the run card ask.

Every list of runs is built by :meth:`RunReads._load_runs` (four queries whatever the count),
which the bulk reads of a comparison use as well.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select

from .entities import Environment, Run, RunDetail, RunRef, RunStatus
from .errors import AmbiguousRunNumber, AmbiguousRunRef, InvalidQuery, RunNotFound
from .listing import checked_status, notebook_condition
from .liveness import Liveness
from .models import (
    EnvironmentRow,
    ExperimentRow,
    LatestMetricRow,
    MetricChunkRow,
    OutputRow,
    RunRow,
    TagRow,
)
from .series import series, sibling_series
from .statements import (
    _BEST_RUN,
    _IN_CHUNK,
    _LOAD_LATEST,
    _LOAD_PARAMS,
    _LOAD_RUNS,
    _LOAD_TAGS,
    _REVISION,
    _SWEEP_SIBLING_CHUNKS,
    _SWEEP_SIBLINGS,
    CARD_REDUCERS,
    _experiments_t,
    _from_db_metric,
    _latest_t,
    _params_t,
    _runs_t,
    _tags_t,
)

_HEX = frozenset("0123456789abcdef")
#: Runs an ambiguous id prefix's error lists.
_SHOWN_CANDIDATES = 5
#: Seconds within which a write may commit after a newer one (see ``revision``).
LATE_COMMIT_WINDOW = 120.0
_ORDER_FIELDS = {"start_time", "number", "name", "status", "duration", "end_time"}


class RunReads(Liveness):
    """Run lookups, details, searches and the run card's best run (uses ``run_data`` of
    :class:`.snapshot_records.SnapshotRecords`)."""

    # runs: reading -----------------------------------------------------------------------

    def resolve_run_id(self, ref: str, experiment: str | None = None) -> str:
        """A run id from a full id, a unique id prefix (4+ hex digits), or a run number
        (``3`` or ``#3``).

        The one place run references are resolved: the CLI, the REST API, compare and the
        notebook all call this and show its errors as they are. A number is looked up in
        ``experiment``; without one it must be unique across the store: a number several
        experiments have raises :class:`AmbiguousRunNumber`, a prefix several ids start with
        :class:`AmbiguousRunRef` listing them (both :class:`InvalidQuery`), since picking one
        would silently name a run the caller did not mean. Anything that names no run raises
        :class:`RunNotFound` saying why (absent, too short, not a reference)."""
        text = ref.strip()
        if text.startswith("#") and text[1:].isdigit():
            text = text[1:]
        if not text:
            raise RunNotFound(ref, reason="give a run number, a run id or an id prefix")
        with self.session() as s:
            if text.isascii() and text.isdigit() and len(text) < 9:
                stmt = select(RunRow.id, ExperimentRow.name).join(ExperimentRow)
                stmt = stmt.where(RunRow.number == int(text))
                if experiment:
                    stmt = stmt.where(ExperimentRow.name == experiment)
                found = s.execute(stmt.order_by(RunRow.start_time.desc()).limit(50)).all()
                if len(found) == 1 or (found and experiment):
                    return found[0][0]
                if found:
                    raise AmbiguousRunNumber(int(text), sorted({name for _id, name in found}))
                if experiment:
                    names = sorted(s.scalars(select(ExperimentRow.name)))
                    if experiment not in names:
                        listed = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
                        reason = f"no experiment {experiment!r}; experiments: {listed or '-'}"
                        raise RunNotFound(text, experiment, reason)
                if len(text) < 4:
                    raise RunNotFound(text, experiment)
            prefix = text.lower()
            if not all(c in _HEX for c in prefix):
                raise RunNotFound(
                    text,
                    reason="a run is named by its number, its id or an id prefix (4+ hex digits)",
                )
            if len(prefix) < 4:
                raise RunNotFound(
                    text,
                    reason=f"an id prefix needs at least 4 hex digits, {text!r} has "
                    f"{len(text)}: give more of the id, or the run's number",
                )
            stmt = (
                select(RunRow.id, RunRow.number, ExperimentRow.name)
                .join(ExperimentRow)
                .where(RunRow.id.startswith(prefix, autoescape=True))
                .order_by(RunRow.id)
                .limit(_SHOWN_CANDIDATES + 1)
            )
            matches = s.execute(stmt).all()
        if len(matches) == 1:
            return matches[0][0]
        if matches:
            shown = [f"{i[:12]} (#{n} in {e})" for i, n, e in matches[:_SHOWN_CANDIDATES]]
            raise AmbiguousRunRef(text, shown, more=len(matches) > _SHOWN_CANDIDATES)
        raise RunNotFound(text, experiment if text.isdigit() else None)

    def get_run(self, run_id: str) -> Run:
        self.reap_local_runs()
        runs = self._load_runs([run_id])
        if not runs:
            raise RunNotFound(run_id)
        return runs[0]

    def get_run_detail(self, run_id: str) -> RunDetail:
        run = self.get_run(run_id)
        with self.session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RunNotFound(run_id)
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
        Runs of this host whose process is gone are marked crashed first (see
        ``reap_local_runs``).
        """
        self.reap_local_runs()
        if status is not None:
            status = checked_status(status)
        if not 1 <= limit <= 1000:
            raise InvalidQuery("limit must be between 1 and 1000")
        if offset < 0:
            raise InvalidQuery("offset must be 0 or more")
        descending = order.startswith("-")
        key = order[1:] if order[:1] in ("-", "+") else order
        # Checked before anything is looked up: whether a bad order is refused must not
        # depend on the data (an unknown experiment used to answer an empty list).
        if not (key in _ORDER_FIELDS or (key.startswith("metrics.") and len(key) > 8)):
            raise InvalidQuery(
                f"cannot order by {key!r}; use one of "
                + ", ".join(sorted(_ORDER_FIELDS))
                + " or metrics.<key>"
            )
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
                cond = notebook_condition(notebook, notebook_kernels)
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
            else:
                column = (
                    (RunRow.end_time - RunRow.start_time)
                    if key == "duration"
                    else getattr(RunRow, key)
                )
            ordering = column.desc().nulls_last() if descending else column.asc().nulls_last()
            stmt = stmt.order_by(ordering, RunRow.start_time.desc()).limit(limit).offset(offset)
            ids = list(s.scalars(stmt))
            total = s.scalar(count) or 0
        runs = {r.id: r for r in self._load_runs(ids)}
        return [runs[i] for i in ids if i in runs], total

    def revision(self) -> str:
        """A token that changes whenever a run is created, updated or deleted: the sidebar's
        poll asks for it and re-reads the list only when it moved.

        Index lookups, whatever the number of runs (counting 100,000 runs costs more than
        the 5 ms a poll may take): the newest ``updated_at`` and the newest tombstone, and
        the count and sum of the ``updated_at`` of the runs (the count of the tombstones)
        changed in the last ``LATE_COMMIT_WINDOW`` seconds. The sum catches a write that
        commits after a newer one with an older time (writers stamp their change before
        they commit), which the newest time alone misses; it reads only the recent rows.
        """
        self.reap_local_runs()
        recent = time.time() - LATE_COMMIT_WINDOW
        with self.engine.connect() as conn:
            row = conn.execute(_REVISION, {"b_recent": recent}).one()
        latest, changed, stamps, deleted, removed = row
        return f"{latest or 0:.6f}.{changed}.{stamps or 0:.6f}.{deleted or 0:.6f}.{removed}"

    def best_run(
        self,
        experiment_id: int,
        metric: str,
        *,
        higher_is_better: bool,
        exclude: str | Iterable[str] | None = None,
        reducer: str = "last",
    ) -> RunRef | None:
        """The run of an experiment with the best value of ``metric`` under ``reducer``
        (``last``, ``min``, ``max``, ``mean``, or ``best``: min or max as
        ``higher_is_better`` says), with all its metrics under the same reducer (what the run
        card compares against); ``exclude``: a run id, or several (the card's own run, and
        runs whose final write is under way)."""
        if reducer == "best":
            reducer = "max" if higher_is_better else "min"
        if reducer not in CARD_REDUCERS:
            raise InvalidQuery(
                f"unknown reducer {reducer!r}; use best, " + ", ".join(CARD_REDUCERS)
            )
        args: dict[str, Any] = {"b_exp": experiment_id, "b_key": metric}
        excluded = [exclude] if isinstance(exclude, str) else list(exclude or ())
        if excluded:
            args["b_exclude"] = excluded
        stmt = _BEST_RUN[(bool(higher_is_better), bool(excluded), reducer)]
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, args).all()
        if not rows:
            return None
        return RunRef(
            id=rows[0][0],
            number=rows[0][1],
            metrics={key: _from_db_metric(value) for _id, _n, key, value in rows},
        )

    def runs_tagged(self, key: str, value: str, *, source: str | None = None) -> list[Run]:
        """Runs whose tag ``key`` is ``value`` (of ``source`` only, if given), newest first:
        a sweep found by its name."""
        self.reap_local_runs()
        stmt = (
            select(RunRow.id)
            .join(TagRow, TagRow.run_id == RunRow.id)
            .where(TagRow.key == key, TagRow.value == value)
        )
        if source is not None:
            stmt = stmt.where(RunRow.source == source)
        with self.engine.connect() as conn:
            ids = list(conn.scalars(stmt.order_by(RunRow.start_time.desc())))
        return self._load_runs(ids)

    def child_runs(self, run_id: str, *, source: str | None = None) -> list[Run]:
        """Runs recorded as children of ``run_id`` (a pipeline's runs of a notebook run),
        newest first."""
        self.reap_local_runs()
        stmt = select(RunRow.id).where(RunRow.parent_run_id == run_id)
        if source is not None:
            stmt = stmt.where(RunRow.source == source)
        with self.engine.connect() as conn:
            ids = list(conn.scalars(stmt.order_by(RunRow.start_time.desc())))
        return self._load_runs(ids)

    def sweep_siblings(
        self, parent_run_id: str, run_id: str, metric: str
    ) -> list[tuple[RunStatus, float, dict[int, float]]]:
        """``(status, latest value, {step: value})`` of the sweep's other ended trials
        (finished or pruned) that logged ``metric``: what its pruner compares ``run_id``
        with. Two reads (a sweep's worker makes the same on ``sqlite3``)."""
        args = {"b_parent": parent_run_id, "b_run_id": run_id, "b_key": metric}
        with self.engine.connect() as conn:
            runs = conn.execute(_SWEEP_SIBLINGS, args).all()
            chunks = conn.execute(_SWEEP_SIBLING_CHUNKS, args).all()
        return [(RunStatus(s), v, steps) for s, v, steps in sibling_series(runs, chunks)]

    # internals ---------------------------------------------------------------------------

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
