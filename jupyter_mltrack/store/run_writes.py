"""Writing runs: creating them, what they log, user edits, renames and deletion (closing the
runs a dead kernel left open is :mod:`.liveness`).

These are the kernel's hot paths (every tracked cell opens and closes a run), so they run the
prebuilt statements of :mod:`.statements` on a Core connection, one transaction each.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from ..jsonsafe import to_json, utf8
from .attempts import ATTEMPT_TAG, Fence
from .attempts import writing_as as fenced
from .entities import MetricPoint, Run, RunStatus
from .errors import RunNotFound, RunSuperseded, StoreError
from .fast_writes import finish_steps, restart_steps, restarted_run
from .liveness import Liveness
from .models import (
    ExecutionRow,
    ModelVersionRow,
    RunRow,
    TagRow,
)
from .names import TRACKER_TAG_PREFIX, InvalidName, check_name, check_tags, free_text, shown
from .snapshot_records import DataLink, link_run_data, run_data_rows
from .statements import (
    _INSERT_CHUNKS,
    _INSERT_RUN,
    _INSERT_RUN_RETURNING,
    _INSERT_TAGS,
    _INSERT_TOMBSTONE,
    _LOCK_EXPERIMENT,
    _NEXT_OUTPUT,
    _NUMBER_OF,
    _RUN_EXISTS,
    _UPDATE_RUN,
    _UPSERT_LATEST,
    _UPSERT_PARAMS,
    _UPSERT_RUN_DATA,
    RUN_VALUE_TABLES,
    _outputs_t,
    _tags_t,
)
from .write_rows import (
    HOST,
    finish_values,
    metric_rows,
    param_rows,
    registered,
    take_over_values,
)


class RunWrites(Liveness):
    """Run writes (uses ``get_or_create_experiment`` of ``Store``); liveness is inherited."""

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
        data: Sequence[DataLink] = (),
        run_id: str | None = None,
    ) -> Run:
        """Insert a ``running`` run with the next number of its experiment.

        ``data``: ``(role, name, snapshot digest, path[, dataset])`` of the datasets it read
        already, linked in the same transaction (a tracked cell's inputs: one commit fewer
        per cell);
        ``run_id``: the run's id when it has one already (a run written from the spool).
        """
        exp = self.get_or_create_experiment(experiment)
        if name is not None:
            check_name("run name", name)
        tags = check_tags({str(k): str(v) for k, v in (tags or {}).items()})
        now = time.time()
        start = start_time if start_time is not None else now
        run_id = run_id or uuid.uuid4().hex
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
            "v_code": free_text(code),
            "v_error": None,
            "v_note": "",
            "v_source": source,
            "v_parent_run_id": parent_run_id,
            "v_environment_id": environment_id,
            "v_git_commit": git_commit,
            "v_git_dirty": git_dirty,
            "v_kernel_id": kernel_id,
            "v_host": HOST,
            "v_pid": os.getpid(),
            "v_heartbeat_at": now,
        }
        for attempt in range(20):
            try:
                if self._fast_writes:  # a tracked cell's, a sweep's trial: the fast way
                    number = self._insert_run_driver(row, tags, params, data)
                else:
                    number = self._insert_run_engine(row, tags, params, data)
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
                tags=dict(tags),
                params={str(k): to_json(v) for k, v in (params or {}).items()},
            )
        raise StoreError(f"could not allocate a run number in experiment {exp.name!r}")

    def _insert_run_engine(
        self,
        row: dict[str, Any],
        tags: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Sequence[DataLink],
    ) -> int:
        """Insert the run, its tags, params and data links in one transaction; its number."""
        with self._number_lock, self.engine.begin() as conn:
            number = self._insert_run(conn, row)
            if tags:
                self._write_tags(conn, row["v_id"], tags, replace=False)
            if params:
                conn.execute(_UPSERT_PARAMS[self._dialect], param_rows(row["v_id"], params))
            if data:
                link_run_data(conn, self._dialect, row["v_id"], data)
        return number

    def _insert_run_driver(
        self,
        row: dict[str, Any],
        tags: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Sequence[DataLink],
    ) -> int:
        """:meth:`_insert_run_engine` on SQLite through the kept DBAPI connection (see
        :mod:`.driver`): the same statements and rows, a third of the time on a cell's path
        (and on a sweep driver's, which creates every trial's run before handing it out)."""
        run_id = row["v_id"]
        steps: list[tuple[Any, Any]] = []
        if self._returning:
            steps.append((self._driver_statement("insert_run", _INSERT_RUN_RETURNING), row))
        else:
            steps.append((self._driver_statement("insert_run_plain", _INSERT_RUN), row))
            steps.append((self._driver_statement("number_of", _NUMBER_OF), {"b_run_id": run_id}))
        if tags:  # a new run has none to replace
            rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
            steps.append((self._driver_statement("insert_tags", _INSERT_TAGS), rows))
        if params:
            upsert = self._driver_statement("upsert_params", _UPSERT_PARAMS[self._dialect])
            steps.append((upsert, param_rows(run_id, params)))
        if data:
            link = self._driver_statement("upsert_run_data", _UPSERT_RUN_DATA[self._dialect])
            steps.append((link, run_data_rows(run_id, data)))
        with self._number_lock, self._driver_lock:
            firsts = self._driver_run(steps)
        return int(firsts[0][0] if self._returning else firsts[1][0])

    def _insert_run(self, conn: Connection, row: dict[str, Any]) -> int:
        """Insert the run with the next free number of its experiment; return the number.

        On PostgreSQL the experiment's row is locked first, until the transaction ends
        (see ``statements._LOCK_EXPERIMENT``): without it, every writer of an experiment
        read the same maximum, all but one hit the unique constraint and retried, and under
        contention (24 processes creating runs in one experiment) a writer could lose 20
        times in a row and fail its ``start_run``."""
        if self._dialect == "postgresql":
            conn.execute(_LOCK_EXPERIMENT, row)
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
            conn.execute(_UPSERT_PARAMS[self._dialect], param_rows(run_id, params))

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
        every = list(run_ids)
        ids = [i for i in every if i not in self._fences]
        if ids:
            with self.session() as s:
                s.execute(update(RunRow).where(RunRow.id.in_(ids)).values(heartbeat_at=time.time()))
                s.commit()
        for run_id in [i for i in every if i in self._fences]:
            # a superseded attempt's heartbeat must not keep the current one's run looking
            # alive (on another host a run's heartbeat is its liveness)
            with contextlib.suppress(RunSuperseded, RunNotFound), self.engine.begin() as conn:
                conn.execute(_UPDATE_RUN, {"b_run_id": run_id, "heartbeat_at": time.time()})
                self._check_attempt(conn, run_id)

    @contextlib.contextmanager
    def writing_as(self, run_id: str, attempt: str | None) -> Iterator[Fence]:
        """Within this block, every write of this store to ``run_id`` (params, metrics,
        tags, artifacts, data links, its end, its restart, heartbeats) is refused with
        :class:`RunSuperseded` once the run's attempt tag no longer names ``attempt``, in
        the write's own transaction (see :mod:`.attempts`); the :class:`Fence` yielded says
        whether one was. A sweep's worker writes its trial's run so: a worker of a dead
        driver still running the trial cannot write into the run its resumed sweep gave to
        another attempt. ``attempt=None`` fences nothing (a trial run by hand)."""
        with fenced(self._fences, run_id, attempt) as fence:
            yield fence

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
        values = finish_values(
            status,
            error=error,
            end_time=end_time,
            environment_id=environment_id,
            git_commit=git_commit,
            git_dirty=git_dirty,
        )
        if self._fast_writes and self._returning and not outputs:
            # a sweep's trial, a pipeline's or a script's run: the fast way
            self._finish_run_driver(run_id, values, params, metrics)
            return
        with self.engine.begin() as conn:
            if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values}).rowcount == 0:
                raise RunNotFound(run_id)
            self._check_attempt(conn, run_id)
            if params:
                conn.execute(_UPSERT_PARAMS[self._dialect], param_rows(run_id, params))
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
                            # an output's text may hold lone surrogates (a print of
                            # badly decoded bytes): replaced, as the kernel sent them
                            "content": utf8(json.dumps(out, allow_nan=False, ensure_ascii=False)),
                        }
                        for i, out in enumerate(outputs)
                    ],
                )

    def _finish_run_driver(
        self,
        run_id: str,
        values: Mapping[str, Any],
        params: Mapping[str, Any] | None,
        metrics: Sequence[MetricPoint],
    ) -> None:
        """:meth:`finish_run` without outputs on SQLite, through the kept DBAPI connection:
        the same statements in one transaction (a sweep's worker ends a run per trial)."""
        steps = finish_steps(self._driver_statement, self._fences, run_id, values, params, metrics)
        with self._driver_lock:
            self._driver_run(steps)

    def reopen_run(self, run_id: str) -> None:
        """Mark a run ``running`` again, owned by this process (its heartbeat and pid): a
        sweep resumed after its driver died carries on in its own run."""
        with self.engine.begin() as conn:
            _take_over(conn, run_id, start=False)

    def restart_run(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        attempt: str | None = None,
    ) -> Run:
        """Start a run over in this process: what an earlier attempt recorded (metrics,
        params, outputs, artifacts, data links) goes, in one transaction with the run made
        ``running`` again, owned by this process, with ``params``. A sweep's trial run again
        (its worker died, its sweep resumed) keeps its id, number and tags: never recorded
        twice, and never missing from the store for a moment.

        ``attempt``: the run is the new attempt's from now on (its ``mltrack.attempt``
        tag), and any other attempt's writes to it are refused (see :mod:`.attempts`): what
        a sweep's driver does when it hands a trial out again. A store writing the run as
        an attempt (``writing_as``, a sweep's worker) starts it over only if it is still
        that attempt's (else :class:`RunSuperseded`, and the run is left as it is)."""
        if self._fast_writes and self._returning:  # every trial of a sweep: fast
            return self._restart_run_driver(run_id, params, attempt)
        with self.engine.begin() as conn:
            _take_over(conn, run_id, start=True)
            self._check_attempt(conn, run_id)
            _refuse_registered(conn, run_id, "started over")
            if attempt is not None:
                self._write_tags(conn, run_id, {ATTEMPT_TAG: attempt}, replace=False)
            for table in RUN_VALUE_TABLES:
                conn.execute(delete(table).where(table.run_id == run_id))
            if params:
                conn.execute(_UPSERT_PARAMS[self._dialect], param_rows(run_id, params))
        return self.get_run(run_id)

    def _restart_run_driver(
        self, run_id: str, params: Mapping[str, Any] | None, attempt: str | None
    ) -> Run:
        """:meth:`restart_run` on SQLite through the kept DBAPI connection: the same
        statements, and the run read back in the same transaction (its row and tags; its
        params are ``params``, its metrics none). A sweep's worker starts every trial's run
        over, and SQLAlchemy's work per statement was most of a trivial trial's time. The
        attempt is checked and handed over as the engine's path does it: after the run's
        row is taken, before the read."""
        steps, rows = restart_steps(self._driver_statement, self._fences, run_id, params, attempt)
        with self._driver_lock:
            row = self._driver_run(steps)[-1]
        return restarted_run(row, rows)

    def update_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        note: str | None = None,
    ) -> None:
        """User edits from the sidebar or CLI; ``tags`` replaces the run's tags, except the
        tracker's own (``mltrack.*``: a sweep resumed, an attempt fenced, a pull compared
        need them). Those the edit leaves out are kept; one it adds or changes is refused
        (:class:`InvalidName`) and nothing is written."""
        values: dict[str, Any] = {"updated_at": time.time()}
        if name is not None:
            values["name"] = check_name("run name", name) or None
        if note is not None:
            values["note"] = free_text(note)
        if tags is not None:
            tags = check_tags({str(k): str(v) for k, v in tags.items()})
        with self.engine.begin() as conn:
            if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values}).rowcount == 0:
                raise RunNotFound(run_id)
            if tags is not None:
                kept = {
                    row.key: row.value
                    for row in conn.execute(
                        select(_tags_t.c.key, _tags_t.c.value).where(
                            _tags_t.c.run_id == run_id,
                            _tags_t.c.key.startswith(TRACKER_TAG_PREFIX, autoescape=True),
                        )
                    )
                }
                changed = sorted(
                    k
                    for k, v in tags.items()
                    if k.startswith(TRACKER_TAG_PREFIX) and kept.get(k) != v
                )
                if changed:
                    raise InvalidName(
                        f"tag {shown(changed[0])}: tags starting with {TRACKER_TAG_PREFIX!r} are"
                        " the tracker's own and cannot be added or changed (leave them out:"
                        " they are kept)"
                    )
                self._write_tags(conn, run_id, {**tags, **kept}, replace=True)

    def rename_notebook(self, old: str, new: str) -> int:
        """A notebook (or a folder of them) was renamed: its runs and its execution log
        follow it, in one transaction (a process killed half-way must not leave the log at
        the new path and the runs at the old one). Returns the count of runs moved."""
        old, new = old.strip("/"), new.strip("/")
        now = time.time()
        moved = 0
        with self.engine.begin() as conn:
            for t in (ExecutionRow.__table__, RunRow.__table__):
                extra = {"updated_at": now} if t is RunRow.__table__ else {}
                done = conn.execute(
                    update(t).where(t.c.notebook_path == old).values(notebook_path=new, **extra)
                ).rowcount
                prefix = t.c.notebook_path.startswith(old + "/", autoescape=True)
                inside = conn.execute(select(t.c.id, t.c.notebook_path).where(prefix)).all()
                for row in inside:
                    conn.execute(
                        update(t)
                        .where(t.c.id == row.id)
                        .values(notebook_path=new + row.notebook_path[len(old) :], **extra)
                    )
                if t is RunRow.__table__:
                    moved = done + len(inside)
        return moved

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(_RUN_EXISTS, {"b_run_id": run_id}).first() is None:
                raise RunNotFound(run_id)
            _refuse_registered(conn, run_id, "deleted")
            for table in (*RUN_VALUE_TABLES, TagRow):
                conn.execute(delete(table).where(table.run_id == run_id))
            conn.execute(delete(RunRow).where(RunRow.id == run_id))
            conn.execute(
                _INSERT_TOMBSTONE[self._dialect], {"run_id": run_id, "deleted_at": time.time()}
            )

    # internals ---------------------------------------------------------------------------

    @staticmethod
    def _write_tags(
        conn: Connection, run_id: str, tags: Mapping[str, str], *, replace: bool
    ) -> None:
        tags = check_tags({str(k): str(v) for k, v in tags.items()})
        if replace:
            conn.execute(delete(TagRow).where(TagRow.run_id == run_id))
        elif tags:
            conn.execute(delete(TagRow).where(TagRow.run_id == run_id, TagRow.key.in_(list(tags))))
        if tags:
            conn.execute(
                _tags_t.insert(),
                [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
            )

    def _write_metrics(self, conn: Connection, run_id: str, points: Sequence[MetricPoint]) -> None:
        chunk_rows, latest_rows = metric_rows(run_id, points)
        conn.execute(_INSERT_CHUNKS, chunk_rows)
        conn.execute(_UPSERT_LATEST[self._dialect], latest_rows)


def _refuse_registered(conn: Connection, run_id: str, what: str) -> None:
    """Refuse to remove a run's artifacts while registry versions point at them."""
    found = conn.execute(
        select(ModelVersionRow.model_id).where(ModelVersionRow.run_id == run_id).limit(1)
    ).first()
    if found is not None:
        raise registered(run_id, what)


def _take_over(conn: Connection, run_id: str, *, start: bool) -> None:
    """Make a run ``running`` again, owned by this process (see :func:`.write_rows.take_over_values`)."""
    values = take_over_values(start=start)
    if conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values}).rowcount == 0:
        raise RunNotFound(run_id)
