"""Writing runs: creating them, what they log, user edits, renames, deletion, and closing the
runs a dead kernel left open (liveness).

These are the kernel's hot paths (every tracked cell opens and closes a run), so they run the
prebuilt statements of :mod:`.statements` on a Core connection, one transaction each.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..jsonsafe import to_json
from .base import StoreBase
from .entities import MetricPoint, Run, RunStatus
from .errors import RunNotFound, StoreError
from .models import (
    ExecutionRow,
    LatestMetricRow,
    MetricChunkRow,
    OutputRow,
    ParamRow,
    RunDataRow,
    RunRow,
    RunValueRow,
    TagRow,
)
from .series import chunks
from .snapshot_records import link_run_data, run_data_rows
from .statements import (
    _INSERT_CHUNKS,
    _INSERT_RUN,
    _INSERT_RUN_RETURNING,
    _NEXT_OUTPUT,
    _NUMBER_OF,
    _RUN_EXISTS,
    _UPDATE_RUN,
    _UPSERT_LATEST,
    _UPSERT_PARAMS,
    _UPSERT_RUN_DATA,
    _metric_value,
    _outputs_t,
    _tags_t,
)

#: A running run whose heartbeat is older than this, on a host we cannot check, is crashed.
STALE_AFTER = 120.0
#: Reads of runs check this host's running runs' processes at most this often (seconds).
LOCAL_REAP_INTERVAL = 1.0
_HOST = socket.gethostname()


class RunWrites(StoreBase):
    """Run writes and liveness (uses ``get_or_create_experiment`` of ``Store``)."""

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
        data: Sequence[tuple[str, str, str, str | None]] = (),
    ) -> Run:
        """Insert a ``running`` run with the next number of its experiment.

        ``data``: ``(role, name, snapshot digest, path)`` of the datasets it read already,
        linked in the same transaction (a tracked cell's inputs: one commit fewer per cell).
        """
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
                if self._dialect == "sqlite" and not tags:  # a tracked cell's: the fast way
                    number = self._insert_run_driver(row, params, data)
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
                tags={str(k): str(v) for k, v in (tags or {}).items()},
                params={str(k): to_json(v) for k, v in (params or {}).items()},
            )
        raise StoreError(f"could not allocate a run number in experiment {exp.name!r}")

    def _insert_run_engine(
        self,
        row: dict[str, Any],
        tags: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        data: Sequence[tuple[str, str, str, str | None]],
    ) -> int:
        """Insert the run, its tags, params and data links in one transaction; its number."""
        with self._number_lock, self.engine.begin() as conn:
            number = self._insert_run(conn, row)
            if tags:
                self._write_tags(conn, row["v_id"], tags, replace=False)
            if params:
                conn.execute(_UPSERT_PARAMS[self._dialect], _param_rows(row["v_id"], params))
            if data:
                link_run_data(conn, self._dialect, row["v_id"], data)
        return number

    def _insert_run_driver(
        self,
        row: dict[str, Any],
        params: Mapping[str, Any] | None,
        data: Sequence[tuple[str, str, str, str | None]],
    ) -> int:
        """:meth:`_insert_run_engine` on SQLite through the kept DBAPI connection (see
        :mod:`.driver`): the same statements and rows, a third of the time on a cell's path."""
        run_id = row["v_id"]
        steps: list[tuple[Any, Any]] = []
        if self._returning:
            steps.append((self._driver_statement("insert_run", _INSERT_RUN_RETURNING), row))
        else:
            steps.append((self._driver_statement("insert_run_plain", _INSERT_RUN), row))
            steps.append((self._driver_statement("number_of", _NUMBER_OF), {"b_run_id": run_id}))
        if params:
            upsert = self._driver_statement("upsert_params", _UPSERT_PARAMS[self._dialect])
            steps.append((upsert, _param_rows(run_id, params)))
        if data:
            link = self._driver_statement("upsert_run_data", _UPSERT_RUN_DATA[self._dialect])
            steps.append((link, run_data_rows(run_id, data)))
        with self._number_lock, self._driver_lock:
            firsts = self._driver_run(steps)
        return int(firsts[0][0] if self._returning else firsts[1][0])

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
                RunValueRow,
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
                    if not _pid_alive(pid, beat):
                        dead.append(run_id)
                elif beat is None or now - beat > stale_after:
                    dead.append(run_id)
            if dead:
                self._close_running(s, dead, RunStatus.CRASHED)
                s.commit()
        return dead

    def reap_local_runs(self) -> list[str]:
        """Mark ``crashed`` the running runs of this host whose process is gone: what every
        read of runs does first (``search_runs``, ``get_run``…), so that a headless kernel
        that died (nbclient, papermill, CI: no server, so no reaper) never shows a run as
        ``running``. Runs of other hosts keep the heartbeat rule (:meth:`reap_stale_runs`).
        A pid check per running run of this host, at most once per ``LOCAL_REAP_INTERVAL``
        per store; never raises (a read-only store is read as it is)."""
        now = time.monotonic()
        if now - self._local_reaped_at < LOCAL_REAP_INTERVAL:
            return []
        self._local_reaped_at = now
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(RunRow.id, RunRow.pid, RunRow.heartbeat_at).where(
                        RunRow.status == RunStatus.RUNNING.value, RunRow.host == _HOST
                    )
                ).all()
            dead = [run_id for run_id, pid, beat in rows if pid and not _pid_alive(pid, beat)]
            if dead:
                with self.session() as s:
                    self._close_running(s, dead, RunStatus.CRASHED)
                    s.commit()
        except Exception:
            return []
        return dead

    # internals ---------------------------------------------------------------------------

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


def _dumps(value: Any) -> str:
    return json.dumps(to_json(value), allow_nan=False, ensure_ascii=False)


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    # keys are stored as text: 1 and "1" are the same param (the last one wins)
    values = {str(k): v for k, v in params.items()}
    return [{"run_id": run_id, "key": k, "value": _dumps(v)} for k, v in values.items()]


def _pid_alive(pid: int, since: float | None = None) -> bool:
    """Whether process ``pid`` of this host still runs; with ``since`` (when the run it
    records last showed life: its creation or latest heartbeat, epoch seconds), whether it
    is still *that* process: a pid the system gave to a process started after that is
    another process, and the run's one is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return True
    if fields[0] == "Z":
        return False
    started = _process_start(fields)
    return since is None or started is None or started <= since + 2.0


def _process_start(fields: list[str]) -> float | None:
    """When a process started (epoch seconds), from the fields of its ``/proc/PID/stat``
    after the command name (``starttime``, in clock ticks since boot)."""
    try:
        ticks = int(fields[19])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None


_boot: list[float] = []


def _boot_time() -> float:
    if not _boot:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                _boot.append(float(line.split()[1]))
                break
        else:
            raise OSError("no btime in /proc/stat")
    return _boot[0]
