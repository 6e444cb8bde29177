"""Copying runs, each whole, in one transaction of the destination.

A run's id is its identity in every store. Its number is per store (per experiment): the
destination gives it its next one, as it gives a new run's, and the run keeps where it was
first recorded in the tag ``mltrack.origin`` (``<store>#<number>``). A tag rather than a
column: runs already carry the package's own facts as ``mltrack.*`` tags (a sweep's, an
attempt's), tags are searchable (``tags."mltrack.origin" = "…"``) and shown everywhere,
travel with every copy of the run, and a column would widen the insert of every tracked
cell's run for a value only copies have. A run copied on (laptop -> team -> colleague)
keeps its first origin.

What a copy holds: the run's row (its experiment matched by name, its environment by
digest), params, metric chunks (in their order), latest values and summaries, outputs,
tags, data links, recorded values, the artifacts of other runs it used (the use names its
producer by id, so it holds whether or not that run is copied too), complete artifacts and
their files, and the execution
log of its kernel session up to its cell (what ``export``/``reproduce`` read). The blobs of
its artifacts and the snapshots it links are sent before, so a run is never in the
destination without its data; a run already there is not written again (its artifacts
logged since are added), and differences in what people edit (name, note, tags) are
conflicts, reported and not overwritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from ..store import Store
from ..store.models import (
    ArtifactFileRow,
    ArtifactRow,
    ArtifactUseRow,
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
    RunTombstoneRow,
    RunValueRow,
    SnapshotRow,
    TagRow,
)
from ..store.spool import shown_url
from ..store.transfer import missing_blobs, recorded_in, send_blobs
from .report import Conflict, TransferReport
from .rows import as_bytes, by_key, chunks, insert_ignoring, rows_in, without

ORIGIN_TAG = "mltrack.origin"
#: Runs are read from the source this many at a time (each table one query per batch).
BATCH = 200

_runs = RunRow.__table__
_tags = TagRow.__table__
_arts = ArtifactRow.__table__
_files = ArtifactFileRow.__table__
_execs = ExecutionRow.__table__
_experiments = ExperimentRow.__table__
_environments = EnvironmentRow.__table__
_goals = MetricGoalRow.__table__
_snapshots = SnapshotRow.__table__

#: Tables holding a run's rows by ``run_id``, copied as they are.
_PLAIN = (
    ParamRow.__table__,
    LatestMetricRow.__table__,
    OutputRow.__table__,
    RunDataRow.__table__,
    RunValueRow.__table__,
    ArtifactUseRow.__table__,
)

_NEXT_NUMBER = select(func.coalesce(func.max(_runs.c.number), 0) + 1).where(
    _runs.c.experiment_id == bindparam("experiment_id")
)
_LOCK_EXPERIMENT = (
    select(_experiments.c.id)
    .where(_experiments.c.id == bindparam("experiment_id"))
    .with_for_update(key_share=True)
)


@dataclass
class RunPlan:
    """Which of the runs asked for the destination needs: ``new`` (not there), ``present``
    (there, with the artifacts it lacks), ``running`` (not copied yet)."""

    new: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    #: Complete artifacts of present runs the destination lacks: (run id, name).
    missing_artifacts: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def plan_runs(src: Store, dst: Store, run_ids: Sequence[str]) -> RunPlan:
    """Compare the runs ``run_ids`` of ``src`` with ``dst``, in bulk (a few queries per
    batch of runs on each side): what to copy, what is there, and the conflicts."""
    plan = RunPlan()
    for batch in chunks(list(run_ids)):
        with src.engine.connect() as conn:
            mine = {r["id"]: r for r in rows_in(conn, _runs, "id", batch)}
            my_tags = by_key(rows_in(conn, _tags, "run_id", batch), "run_id")
        with dst.engine.connect() as conn:
            theirs = {r["id"]: r for r in rows_in(conn, _runs, "id", batch)}
            their_tags = by_key(rows_in(conn, _tags, "run_id", list(theirs)), "run_id")
            buried = {
                r["run_id"] for r in rows_in(conn, RunTombstoneRow.__table__, "run_id", batch)
            }
        for run_id in batch:
            row = mine.get(run_id)
            if row is None:
                continue
            if run_id in theirs:
                plan.present.append(run_id)
                plan.conflicts.extend(
                    _differences(row, my_tags[run_id], theirs[run_id], their_tags[run_id])
                )
            elif run_id in buried:
                plan.conflicts.append(Conflict("run", run_id, "deleted", "kept", "deleted"))
            elif row["status"] == "running":
                plan.running.append(run_id)
            else:
                plan.new.append(run_id)
    plan.missing_artifacts = _missing_artifacts(src, dst, plan.present)
    return plan


def _differences(
    mine: dict[str, Any],
    my_tags: list[dict[str, Any]],
    theirs: dict[str, Any],
    their_tags: list[dict[str, Any]],
) -> list[Conflict]:
    """What people edit on a run (name, note, tags) that differs between the two sides."""
    out = [
        Conflict("run", mine["id"], name, mine[name], theirs[name])
        for name in ("name", "note")
        if (mine[name] or None) != (theirs[name] or None)
    ]
    a = {t["key"]: t["value"] for t in my_tags if t["key"] != ORIGIN_TAG}
    b = {t["key"]: t["value"] for t in their_tags if t["key"] != ORIGIN_TAG}
    out.extend(
        Conflict("run", mine["id"], f"tags.{key}", a.get(key), b.get(key))
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    )
    return out


def _complete_artifacts(store: Store, run_ids: Sequence[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    with store.engine.connect() as conn:
        for batch in chunks(list(run_ids)):
            found.update(
                (r.run_id, r.name)
                for r in conn.execute(
                    select(_arts.c.run_id, _arts.c.name).where(
                        _arts.c.run_id.in_(batch), _arts.c.status == "complete"
                    )
                )
            )
    return found


def _missing_artifacts(src: Store, dst: Store, run_ids: Sequence[str]) -> list[tuple[str, str]]:
    """Complete artifacts of ``src``'s runs that ``dst`` has none of that name of (a
    pending one there is being written there: left alone)."""
    if not run_ids:
        return []
    return sorted(_complete_artifacts(src, run_ids) - _all_artifacts(dst, run_ids))


def _all_artifacts(store: Store, run_ids: Sequence[str]) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        return {(r["run_id"], r["name"]) for r in rows_in(conn, _arts, "run_id", run_ids)}


def linked_snapshots(src: Store, run_ids: Sequence[str]) -> list[str]:
    """The snapshots the runs link (inputs and outputs): copied before the runs."""
    with src.engine.connect() as conn:
        rows = rows_in(conn, RunDataRow.__table__, "run_id", run_ids)
    return list(dict.fromkeys(r["snapshot_digest"] for r in rows))


def used_datasets(src: Store, run_ids: Sequence[str]) -> list[str]:
    """The dataset versions (``name@hash``) the runs' inputs were got as."""
    with src.engine.connect() as conn:
        rows = rows_in(conn, RunDataRow.__table__, "run_id", run_ids)
    return list(dict.fromkeys(r["dataset"] for r in rows if r["dataset"]))


class RunCopier:
    """Copies planned runs from ``src`` to ``dst``, adding to ``report``."""

    def __init__(
        self,
        src: Store,
        dst: Store,
        report: TransferReport,
        say: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.src, self.dst, self.report, self.say = src, dst, report, say
        self._experiments: dict[int, int] = {}
        self._environments: dict[int, int] = {}
        self._origin = shown_url(src.url)

    def copy(self, plan: RunPlan) -> None:
        """The new runs, a batch read at a time, each written in its own transaction once
        its artifacts' blobs are in the destination; then the present runs' new artifacts."""
        new_runs = plan.new
        every = max(1, len(new_runs) // 20)  # a line per run for a few, per 5% for many
        for start in range(0, len(new_runs), BATCH):
            batch = new_runs[start : start + BATCH]
            data = self._read(batch)
            sent = self._send_artifact_blobs(data["files"])
            for i, run_id in enumerate(batch, start + 1):
                self._write_run(run_id, data, sent)
                if i % every == 0 or i == len(new_runs):
                    self.say(f"runs: {i}/{len(new_runs)} copied")
        if plan.missing_artifacts:
            self._copy_artifacts(plan.missing_artifacts)

    # reading -------------------------------------------------------------------------------

    def _read(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """Every row the runs hold, grouped by run (one query per table)."""
        with self.src.engine.connect() as conn:
            runs = {r["id"]: r for r in rows_in(conn, _runs, "id", run_ids)}
            data: dict[str, Any] = {"runs": runs}
            for table in _PLAIN:
                data[table.name] = by_key(rows_in(conn, table, "run_id", run_ids), "run_id")
            data["metric_chunks"] = by_key(
                rows_in(conn, MetricChunkRow.__table__, "run_id", run_ids, MetricChunkRow.id),
                "run_id",
            )
            data["tags"] = by_key(rows_in(conn, _tags, "run_id", run_ids), "run_id")
            arts = [a for a in rows_in(conn, _arts, "run_id", run_ids) if a["status"] == "complete"]
            data["artifacts"] = by_key(arts, "run_id")
            names = {(a["run_id"], a["name"]) for a in arts}
            data["files"] = [
                f
                for f in rows_in(conn, _files, "run_id", run_ids)
                if (f["run_id"], f["name"]) in names
            ]
            data["executions"] = self._executions(conn, run_ids)
            env_ids = {r["environment_id"] for r in runs.values() if r["environment_id"]}
            data["environments"] = {
                r["id"]: r for r in rows_in(conn, _environments, "id", sorted(env_ids))
            }
            exp_ids = {r["experiment_id"] for r in runs.values()}
            data["experiments"] = {
                r["id"]: r for r in rows_in(conn, _experiments, "id", sorted(exp_ids))
            }
            data["goals"] = by_key(
                rows_in(conn, _goals, "experiment_id", sorted(exp_ids)), "experiment_id"
            )
        return data

    @staticmethod
    def _executions(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Each run's kernel session up to its cell (what exporting it reads)."""
        own = rows_in(conn, _execs, "run_id", run_ids)
        upto: dict[str, tuple[str, int]] = {}
        for row in own:
            seen = upto.get(row["run_id"])
            if seen is None or row["seq"] > seen[1]:
                upto[row["run_id"]] = (row["session_id"], row["seq"])
        sessions = sorted({s for s, _ in upto.values()})
        log = by_key(rows_in(conn, _execs, "session_id", sessions, _execs.c.seq), "session_id")
        return {
            run_id: [r for r in log[session] if r["seq"] <= seq]
            for run_id, (session, seq) in upto.items()
        }

    # blobs ----------------------------------------------------------------------------------

    def _send_artifact_blobs(self, files: Sequence[dict[str, Any]]) -> set[str]:
        """Send the artifact blobs the destination lacks; the names sent (checked again
        inside the runs' transactions: until a row names them, a ``gc`` there may not
        keep them)."""
        missing = missing_blobs(self.dst, [_blob_of(f) for f in files])
        if missing:
            self.say(f"artifacts: sending {len(missing)} blobs")
        sent = send_blobs(
            self.src.blobs,
            self.dst.blobs,
            missing,
            progress=lambda n, b: self.say(f"artifacts: {n}/{len(missing)} blobs ({b} bytes) sent"),
        )
        self.report.blobs_sent += sent.blobs
        self.report.bytes_sent += sent.bytes
        return set(missing)

    def _check_blobs(self, conn: Connection, names: set[str], sent: set[str]) -> None:
        """Under the lock ``gc`` deletes blobs under, the blobs ``names`` this transaction's
        rows name must still be there, else its rows are not written. Those ``sent`` just
        now are asked for (until a row names them, a ``gc`` there may not keep them). The
        others were left unsent because the destination had them, mostly by its records:
        those its records still name are there (and stay, this transaction's rows naming
        them from its commit); the rest are asked for, since a ``gc`` there may since have
        rewritten a pack they named (moved its rows and deleted it)."""
        if not names:
            return
        self.dst._lock_snapshots(conn)
        unsure = (names & sent) | (names - sent - recorded_in(conn, names - sent))
        gone = [n for n in sorted(unsure) if not self.dst.blobs.has(n)]
        if gone:
            raise FileNotFoundError(f"blob {gone[0]} was removed by a gc at the destination")

    # writing --------------------------------------------------------------------------------

    def _experiment_id(self, src_id: int, data: dict[str, Any]) -> int:
        found = self._experiments.get(src_id)
        if found is None:
            row = data["experiments"][src_id]
            exp = self.dst.get_or_create_experiment(row["name"])
            found = self._experiments[src_id] = exp.id
            self._copy_goals(exp.id, data["goals"].get(src_id, []))
        return found

    def _copy_goals(self, exp_id: int, goals: list[dict[str, Any]]) -> None:
        """An experiment's metric goals the destination has not set (its own are kept)."""
        with self.dst.engine.connect() as conn:
            there = {r["key"] for r in rows_in(conn, _goals, "experiment_id", [exp_id])}
        rows = [{**g, "experiment_id": exp_id} for g in goals if g["key"] not in there]
        if rows:
            with self.dst.engine.begin() as conn:
                conn.execute(insert_ignoring(self.dst, _goals, ["experiment_id", "key"]), rows)
            self.report.rows_written += len(rows)

    def _environment_id(
        self, conn: Connection, src_id: int | None, data: dict[str, Any]
    ) -> int | None:
        if src_id is None:
            return None
        found = self._environments.get(src_id)
        if found is not None:
            return found
        row = data["environments"][src_id]
        find = select(_environments.c.id).where(_environments.c.digest == row["digest"])
        found = conn.execute(find).scalar()
        if found is None:
            conn.execute(insert_ignoring(self.dst, _environments, ["digest"]), without(row, "id"))
            self.report.rows_written += 1
            found = conn.execute(find).scalar_one()
        self._environments[src_id] = found  # committed with the run (or found again)
        return found

    def _write_run(self, run_id: str, data: dict[str, Any], sent: set[str]) -> None:
        run = data["runs"][run_id]
        exp_id = self._experiment_id(run["experiment_id"], data)
        for attempt in range(20):
            try:
                with self.dst.engine.begin() as conn:
                    rows = self._insert_run(conn, run, exp_id, data, sent)
            except IntegrityError as exc:
                self._environments.clear()  # an environment inserted in it was rolled back
                if self._exists(run_id):  # another transfer wrote it first
                    self.report.runs_skipped += 1
                    return
                if not self.dst._number_clash(exc) or attempt == 19:
                    raise
                continue
            self.report.rows_written += rows
            self.report.runs_copied += 1
            self.report.artifacts_copied += len(data["artifacts"].get(run_id, []))
            return

    def _exists(self, run_id: str) -> bool:
        with self.dst.engine.connect() as conn:
            return conn.execute(select(_runs.c.id).where(_runs.c.id == run_id)).first() is not None

    def _insert_run(
        self,
        conn: Connection,
        run: dict[str, Any],
        exp_id: int,
        data: dict[str, Any],
        sent: set[str],
    ) -> int:
        """The run and everything it holds; the rows written."""
        run_id = run["id"]
        files = [f for f in data["files"] if f["run_id"] == run_id]
        self._check_blobs(conn, {_blob_of(f) for f in files}, sent)
        env_id = self._environment_id(conn, run["environment_id"], data)
        if self.dst.engine.dialect.name == "postgresql":  # numbers taken one after the other
            conn.execute(_LOCK_EXPERIMENT, {"experiment_id": exp_id})
        number = conn.execute(_NEXT_NUMBER, {"experiment_id": exp_id}).scalar_one()
        row = {
            **run,
            "experiment_id": exp_id,
            "environment_id": env_id,
            "number": number,
            # this store's change: what the sidebar's poll of this store notices
            "updated_at": time.time(),
        }
        conn.execute(_runs.insert(), row)
        written = 1
        tags = [dict(t) for t in data["tags"].get(run_id, [])]
        if not any(t["key"] == ORIGIN_TAG for t in tags):
            origin = f"{self._origin}#{run['number']}"
            tags.append({"run_id": run_id, "key": ORIGIN_TAG, "value": origin})
        written += _insert(conn, _tags, tags)
        for table in _PLAIN:
            written += _insert(conn, table, [as_bytes(r) for r in data[table.name].get(run_id, [])])
        chunks_ = [as_bytes(without(r, "id")) for r in data["metric_chunks"].get(run_id, [])]
        written += _insert(conn, MetricChunkRow.__table__, chunks_)
        written += _insert(conn, _arts, data["artifacts"].get(run_id, []))
        written += _insert(conn, _files, files)
        written += self._insert_executions(conn, run_id, data["executions"].get(run_id, []))
        self.report.numbers[run_id] = number
        return written

    def _insert_executions(self, conn: Connection, run_id: str, log: list[dict[str, Any]]) -> int:
        """The session's log up to the run's cell: entries another copied run brought
        already are kept; an entry naming a run the destination does not have names none
        (until that run comes, which names itself in its entries)."""
        if not log:
            return 0
        others = sorted({r["run_id"] for r in log if r["run_id"] and r["run_id"] != run_id})
        known = set()
        if others:
            known = {r["id"] for r in rows_in(conn, _runs, "id", others)}
        rows = [
            {
                **without(r, "id"),
                "run_id": r["run_id"] if r["run_id"] == run_id or r["run_id"] in known else None,
            }
            for r in log
        ]
        insert = insert_ignoring(self.dst, _execs, ["session_id", "seq"])
        written = conn.execute(insert, rows).rowcount or 0
        mine = [r["seq"] for r in log if r["run_id"] == run_id]
        if mine:
            written += (
                conn.execute(
                    update(_execs)
                    .where(
                        _execs.c.session_id == log[0]["session_id"],
                        _execs.c.seq.in_(mine),
                        _execs.c.run_id.is_(None),
                    )
                    .values(run_id=run_id)
                ).rowcount
                or 0
            )
        return max(written, 0)

    def _copy_artifacts(self, keys: Sequence[tuple[str, str]]) -> None:
        """Artifacts logged to runs the destination has since they were copied."""
        wanted = set(keys)
        run_ids = sorted({k[0] for k in keys})
        with self.src.engine.connect() as conn:
            arts = [
                a
                for a in rows_in(conn, _arts, "run_id", run_ids)
                if (a["run_id"], a["name"]) in wanted
            ]
            files = [
                f
                for f in rows_in(conn, _files, "run_id", run_ids)
                if (f["run_id"], f["name"]) in wanted
            ]
        sent = self._send_artifact_blobs(files)
        for art in arts:
            own = [f for f in files if (f["run_id"], f["name"]) == (art["run_id"], art["name"])]
            try:
                with self.dst.engine.begin() as conn:
                    self._check_blobs(conn, {_blob_of(f) for f in own}, sent)
                    written = _insert(conn, _arts, [art]) + _insert(conn, _files, own)
            except IntegrityError:  # written meanwhile (by another transfer, or logged there)
                continue
            self.report.rows_written += written
            self.report.artifacts_copied += 1


def _blob_of(file_row: dict[str, Any]) -> str:
    """The blob an artifact file's row needs: its pack, when packed (the row is copied as
    it is, offset and all), else its own."""
    return file_row.get("pack") or file_row["digest"]


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
    if rows:
        conn.execute(table.insert(), rows)
    return len(rows)


def record_unusable(src: Store, dst: Store, digests: Sequence[str], report: TransferReport) -> None:
    """Snapshots runs link that the source has not complete (``failed``: their writer died;
    ``pending``: still being written) are recorded in the destination as ``failed``, without
    data, so the runs' links hold; one the source completes later is copied by the next
    transfer (recording a failed snapshot again starts it over)."""
    if not digests:
        return
    with src.engine.connect() as conn:
        rows = rows_in(conn, _snapshots, "digest", digests)
    with dst.engine.connect() as conn:
        there = {r["digest"] for r in rows_in(conn, _snapshots, "digest", digests)}
    rows = [
        {
            **r,
            "status": "failed",
            "error": r["error"] or f"not complete in {shown_url(src.url)} when it was copied",
            "stored_bytes": 0,
            "writer_host": None,
            "writer_pid": None,
            "writer_at": None,
            "completed_at": None,
        }
        for r in rows
        if r["digest"] not in there
    ]
    if rows:
        with dst.engine.begin() as conn:
            conn.execute(insert_ignoring(dst, _snapshots, ["digest"]), rows)
        report.rows_written += len(rows)
