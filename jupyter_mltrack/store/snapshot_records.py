"""The database half of dataset snapshots: snapshot rows, their blocks, which runs used which
snapshot (``run_data``) and the sweep of ``gc``.

The data itself is in the blob store (:mod:`.blobs`), written and read by
:mod:`jupyter_mltrack.snapshots`; this module only records what is where.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .base import StoreBase
from .blobs import BlobStore, LocalBlobStore
from .entities import RunData, Snapshot, SnapshotStatus
from .errors import InvalidQuery, SnapshotNotFound
from .liveness import _HOST, _pid_alive
from .models import DatasetVersionRow
from .statements import (
    _IN_CHUNK,
    _INSERT_BLOCKS,
    _UPSERT_RUN_DATA,
    _blocks_t,
    _run_data_t,
    _snapshot,
    _snapshots_t,
)
from .threads import map_threads

_dataset_versions_t = DatasetVersionRow.__table__


class Sweep(NamedTuple):
    """What :meth:`Store.sweep_snapshots` found (and, unless a dry run, deleted)."""

    snapshots: list[Snapshot]
    #: ``(digest, pack, offset, length)`` of blocks no snapshot uses any more.
    blocks: list[tuple[str, str, int, int]]
    #: Blocks still used, by pack: ``pack -> [(digest, offset, length)]``.
    kept: dict[str, list[tuple[str, int, int]]]
    #: Blobs of file snapshots still used.
    files: set[str]
    #: Pending snapshots whose writer died, kept because a run uses them or they are
    #: pinned: marked ``failed`` (unless a dry run).
    abandoned: list[Snapshot] = []
    #: The states (``writer_state``) of the writers of the snapshots left pending: with
    #: ``"alive"`` or ``"unknown"`` among them, unreferenced blobs may be packs a live
    #: process is about to record.
    writers: frozenset[str] = frozenset()


#: A run's link to a snapshot: ``(role, name, digest, path)``, and optionally the dataset
#: version (``team/churn@<hash>``) an input was got as.
DataLink = tuple[str, str, str, str | None] | tuple[str, str, str, str | None, str | None]


def writer_state(host: str | None, pid: int | None, since: float | None) -> str:
    """Of a pending snapshot's writer: ``"alive"`` or ``"gone"`` (a process of this host,
    checked by pid; a pid given to a process started after ``since`` is not the writer),
    else ``"unknown"`` (another host, or a row from before writers were recorded)."""
    if host != _HOST or not pid:
        return "unknown"
    return "alive" if _pid_alive(pid, since) else "gone"


def link_run_data(
    conn: Connection,
    dialect: str,
    run_id: str,
    entries: Sequence[DataLink],
) -> None:
    """Link run ``run_id`` to snapshots: ``(role, name, digest, path[, dataset])`` entries
    (see :data:`DataLink`), kept in the order given; the same role and name again points at the newer snapshot. In the caller's
    transaction (``create_run`` links a tracked cell's inputs in the run's own)."""
    for row in run_data_rows(run_id, entries):
        conn.execute(_UPSERT_RUN_DATA[dialect], row)


def run_data_rows(run_id: str, entries: Sequence[DataLink]) -> list[dict[str, Any]]:
    """The ``run_data`` rows linking ``entries`` (see :func:`link_run_data`), in order."""
    now = time.time()
    rows = []
    for i, entry in enumerate(entries):
        role, name, digest, path = entry[:4]
        dataset = entry[4] if len(entry) > 4 else None
        if role not in ("input", "output"):
            raise InvalidQuery(f"role must be 'input' or 'output', not {role!r}")
        rows.append(
            {
                "run_id": run_id,
                "role": role,
                "name": name,
                "snapshot_digest": digest,
                "path": path,
                "created_at": now + i * 1e-6,  # keeps the order they were given in
                "dataset": dataset,
            }
        )
    return rows


#: Requests a completion makes at once to check a remote store holds its blobs.
HAS_THREADS = 8

#: The error of a snapshot ``gc`` found abandoned (see ``sweep_snapshots``).
_ABANDONED = (
    "not stored: the process writing it died before it was complete "
    "(snapshot the data again to store it)"
)


class SnapshotRecords(StoreBase):
    """Snapshots, blocks, run data and garbage collection."""

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
        ``pinned``, which only ever turns on, and a ``failed`` one, which starts over).

        The caller is about to write the snapshot: it is recorded as its writer (host, pid,
        now) — also of a ``failed`` one, or a ``pending`` one whose writer is gone — so that
        ``gc`` knows whether a live process is still writing it."""
        now = time.time()
        me = {"writer_host": _HOST, "writer_pid": os.getpid(), "writer_at": now}
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
            **me,
        }
        t = _snapshots_t
        with self.engine.begin() as conn:
            existing = conn.execute(
                select(
                    t.c.status, t.c.pinned, t.c.writer_host, t.c.writer_pid, t.c.writer_at
                ).where(t.c.digest == digest)
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
                    values.update(status=SnapshotStatus.PENDING.value, error=None, **me)
                elif existing.status == SnapshotStatus.PENDING.value:
                    writer = (existing.writer_host, existing.writer_pid, existing.writer_at)
                    if writer[0] is None or writer_state(*writer) == "gone":
                        values.update(me)
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
        blobs: BlobStore | None = None,
        blob_names: Sequence[str] = (),
    ) -> None:
        """Record the (now durable) blocks and mark the snapshot ``complete``, atomically.

        With ``blobs``, the packs the blocks are in (and ``blob_names``: a file's copy) are
        checked to exist *inside* the transaction, once it holds the lock ``gc`` deletes
        blobs under (:meth:`blob_deletion_lock`): a blob a concurrent ``gc`` removed fails
        the snapshot (``FileNotFoundError``) instead of completing it with missing data."""
        now = time.time()
        values: dict[str, Any] = {
            "status": SnapshotStatus.COMPLETE.value,
            "completed_at": now,
            "error": None,
        }
        if stored_bytes:
            values["stored_bytes"] = stored_bytes
        if stats is not None:
            values["stats"] = json.dumps(stats, sort_keys=True, allow_nan=False)
        with self.engine.begin() as conn:
            # the update first: it takes the write lock (SQLite) or a lock on the table
            # that gc's excludes (PostgreSQL) before the blobs are checked
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
            if blobs is not None:
                needed = list(dict.fromkeys([*(b["pack"] for b in blocks), *blob_names]))
                # a folder's files on a remote store: a request each, overlapped (the lock
                # is held meanwhile)
                remote = not isinstance(blobs, LocalBlobStore)
                present = map_threads(blobs.has, needed, HAS_THREADS if remote else 1)
                gone = [name for name, ok in zip(needed, present, strict=True) if not ok]
                if gone:
                    raise FileNotFoundError(
                        f"snapshot {digest} was not stored: {len(gone)} of its blobs "
                        f"({gone[0]}…) were removed by a gc while it was being written; "
                        "snapshot the data again"
                    )
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
                        .order_by(_snapshots_t.c.digest)
                        .limit(6)
                    ).all()
                    if len(rows) > 1:
                        shown = ", ".join(
                            f"{s.short}" + (f" ({s.name})" if s.name else "")
                            for s in map(_snapshot, rows[:5])
                        )
                        raise InvalidQuery(
                            f"snapshot prefix {ref!r} is ambiguous: it matches {shown}"
                            + (", …" if len(rows) > 5 else "")
                            + "; give more of the digest"
                        )
                    row = rows[0] if rows else None
        if row is None:
            hexpart = (ref.partition(":")[2] if ":" in ref else ref).lower()
            if len(hexpart) < 4 and all(c in "0123456789abcdef" for c in hexpart):
                raise SnapshotNotFound(
                    f"no snapshot {ref!r}: no snapshot has that name, and a digest prefix "
                    "needs at least 4 hex digits"
                )
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
        self,
        run_id: str,
        role: str,
        name: str,
        digest: str,
        path: str | None = None,
        dataset: str | None = None,
    ) -> None:
        """Record that a run read (``input``) or wrote (``output``) a snapshot; the same
        name recorded again for a run points at the newer snapshot. ``dataset``: the
        dataset version (``team/churn@<hash>``) an input was got as."""
        self.add_run_data_many(run_id, [(role, name, digest, path, dataset)])

    def add_run_data_many(self, run_id: str, entries: Sequence[DataLink]) -> None:
        """:meth:`add_run_data` for several ``(role, name, digest, path[, dataset])`` at
        once, in one transaction."""
        if not entries:
            return
        with self.engine.begin() as conn:
            self._touch(conn, run_id)
            link_run_data(conn, self._dialect, run_id, entries)

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
                dataset=r.dataset,
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

    def block_rows(self, digests: Iterable[str]) -> list[dict[str, Any]]:
        """The stored blocks among ``digests`` as ``complete_snapshot`` takes them (pack,
        offset, length, raw bytes, stats): what copying them to another store records."""
        t = _blocks_t
        columns = [t.c.pack, t.c.offset, t.c.length, t.c.raw_bytes, t.c.stats]
        return [
            {
                "digest": r.digest,
                "pack": r.pack,
                "offset": r.offset,
                "length": r.length,
                "raw_bytes": r.raw_bytes,
                "stats": json.loads(r.stats) if r.stats else None,
            }
            for r in self._blocks_in(columns, digests)
        ]

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

        A ``pending`` snapshot is never collected while its writer lives, however long the
        write takes. One whose writer is gone (a process of this host that died: killed,
        out of memory) is collected at once — deleted if nothing uses it, else marked
        ``failed`` (its run says what it read; the data was never stored). One whose writer
        cannot be checked (another host) is collected once ``pending_after`` seconds old and
        unused, as before writers were recorded. With ``dry_run`` nothing is changed. The
        caller then deletes the pack blobs left without blocks.
        """
        with self.engine.begin() as conn:
            self._lock_snapshots(conn)
            used = set(conn.execute(select(_run_data_t.c.snapshot_digest)).scalars())
            # a dataset version holds its snapshot for good (versions are immutable)
            used.update(conn.execute(select(_dataset_versions_t.c.snapshot_digest)).scalars())
            dead: list[Snapshot] = []
            abandoned: list[Snapshot] = []
            writers: set[str] = set()
            live_blocks: set[str] = set()
            live_blobs: set[str] = set()
            cutoff = time.time() - pending_after
            for row in conn.execute(select(_snapshots_t)):
                keep = row.digest in used or row.pinned
                if row.status == SnapshotStatus.PENDING.value:
                    state = writer_state(row.writer_host, row.writer_pid, row.writer_at)
                    if state == "gone" and keep:
                        abandoned.append(_snapshot(row))
                    elif state == "alive" or (
                        state == "unknown" and (row.writer_at or row.created_at) > cutoff
                    ):
                        keep = True  # may be about to be linked to a run
                    if keep and state != "gone":
                        writers.add(state)
                if not keep:
                    dead.append(_snapshot(row))
                    continue
                layout = json.loads(row.layout)
                for digests in layout.get("blocks", {}).values():
                    live_blocks.update(digests)
                live_blobs.update(file_blobs(layout))
            blocks = conn.execute(
                select(_blocks_t.c.digest, _blocks_t.c.pack, _blocks_t.c.offset, _blocks_t.c.length)
            ).all()
            dead_blocks = [tuple(b) for b in blocks if b.digest not in live_blocks]
            kept: dict[str, list[tuple[str, int, int]]] = {}
            for b in blocks:
                if b.digest in live_blocks:
                    kept.setdefault(b.pack, []).append((b.digest, b.offset, b.length))
            if not dry_run:
                for snap in abandoned:
                    conn.execute(
                        update(_snapshots_t)
                        .where(
                            _snapshots_t.c.digest == snap.digest,
                            _snapshots_t.c.status == SnapshotStatus.PENDING.value,
                        )
                        .values(status=SnapshotStatus.FAILED.value, error=_ABANDONED)
                    )
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
        return Sweep(dead, dead_blocks, kept, live_blobs, abandoned, frozenset(writers))

    @contextmanager
    def blob_deletion_lock(self) -> Iterator[None]:
        """Held while ``gc`` deletes blobs: no snapshot is completed meanwhile, and one
        completed after checks its blobs still exist (see :meth:`complete_snapshot`), so a
        blob is never deleted under a snapshot that is recorded as using it. Only reads
        may be made while it is held (a write would wait for it)."""
        with self.engine.begin() as conn:
            self._lock_snapshots(conn)
            yield

    def snapshot_writers(self) -> set[str]:
        """The states (``"alive"``, ``"gone"``, ``"unknown"``: see ``writer_state``) of the
        writers of the ``pending`` snapshots: ``gc`` asks after listing the blobs, so that a
        blob no row names is removed only when no live process can be about to record it."""
        t = _snapshots_t
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.writer_host, t.c.writer_pid, t.c.writer_at).where(
                    t.c.status == SnapshotStatus.PENDING.value
                )
            ).all()
        return {writer_state(*row) for row in rows}

    def move_blocks(self, moves: Sequence[tuple[str, str, int]], blobs: BlobStore) -> None:
        """Point blocks at their copies in a new pack: ``(digest, pack, offset)``.

        Under the lock ``gc`` deletes blobs under, the new packs are checked to exist: until
        this move names them they are orphans to a concurrent ``gc`` (of another process or
        machine), which may have deleted them; then nothing is moved
        (``FileNotFoundError``), and the blocks stay where they are, whole."""
        with self.engine.begin() as conn:
            self._lock_snapshots(conn)
            for new in sorted({pack for _digest, pack, _offset in moves}):
                if not blobs.has(new):
                    raise FileNotFoundError(f"pack {new} was removed by another gc")
            for digest, pack, offset in moves:
                conn.execute(
                    update(_blocks_t)
                    .where(_blocks_t.c.digest == digest)
                    .values(pack=pack, offset=offset)
                )

    def folder_blobs(self) -> set[str]:
        """Every blob a folder snapshot (any status: a pending one is being written) names
        as one of its files: ``gc`` deletes none of them. Read from the layouts of folder
        snapshots only (one query; they are few beside tables and files)."""
        with self.engine.connect() as conn:
            layouts = conn.execute(
                select(_snapshots_t.c.layout).where(_snapshots_t.c.kind == "folder")
            ).scalars()
            return {blob for layout in layouts for blob in file_blobs(json.loads(layout))}

    def pack_in_use(self, pack: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(_blocks_t.c.digest).where(_blocks_t.c.pack == pack).limit(1)
            ).first()
        return found is not None


def file_blobs(layout: Mapping[str, Any]) -> list[str]:
    """The whole-file blobs a snapshot's layout names: a file snapshot's one, a folder
    snapshot's files' (``[path, digest, size]`` each); a table's blocks are in packs."""
    if layout.get("blob"):
        return [layout["blob"]]
    return [entry[1] for entry in layout.get("files", ())]
