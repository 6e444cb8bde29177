"""Artifact rows: what a run logged besides values, and which blobs hold its files.

A mixin of :class:`~.store.Store` (see there). Writing an artifact takes three steps so that
``gc`` never deletes the blobs of one being written: :meth:`begin_artifact` records it
``pending`` with its writer (host, pid); once its files are hashed, :meth:`claim_artifact_files`
records them under the lock ``gc`` deletes blobs under, so ``gc`` keeps their blobs from then
on; the caller writes the blobs the store lacks (no lock held), then
:meth:`complete_artifact` marks it ``complete``. A writer that has hashed its files before
it writes any blob takes the first two steps as one (:meth:`open_artifact`).

On SQLite, an artifact of a few files is opened and completed with prepared statements
(:mod:`.artifact_steps`): what a training loop logging an image per step pays for.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update

from . import artifact_steps
from .artifact_steps import COMPLETE, PENDING, artifact_from, file_row, registered_conflict
from .base import StoreBase
from .blobs import BlobStore
from .entities import Artifact, ArtifactFile, SnapshotStatus, placed
from .errors import ArtifactNotFound
from .liveness import _HOST
from .models import ArtifactFileRow, ArtifactRow, ModelVersionRow
from .snapshot_records import writer_state
from .statements import _IN_CHUNK, _snapshots_t

_artifacts_t = ArtifactRow.__table__
_files_t = ArtifactFileRow.__table__
_versions_t = ModelVersionRow.__table__

#: The kinds of artifact (``ArtifactRow.kind``).
KINDS = ("file", "folder", "text", "dict", "figure", "model")
#: Names an "artifact not found" error lists (a series of images has one per step).
KNOWN_NAMES = 20
#: Rows per multi-row insert of files (SQLite allows 32,766 bound values per statement).
_FILES_PER_INSERT = 2000
#: A file row's columns, in ``ArtifactFile``'s order.
_FILE_COLUMNS = (
    _files_t.c.path,
    _files_t.c.digest,
    _files_t.c.size,
    _files_t.c.pack,
    _files_t.c.offset,
)


class ArtifactRecords(StoreBase):
    """The rows of artifacts and their files."""

    def begin_artifact(
        self,
        run_id: str,
        name: str,
        kind: str,
        *,
        meta: Mapping[str, Any] | None = None,
        media_type: str | None = None,
    ) -> None:
        """Record ``name`` as a ``pending`` artifact of ``run_id``, replacing one of the same
        name (logging a name again replaces it, as writing a file again does)."""
        with self.engine.begin() as conn:
            self._replace(conn, run_id, name, kind, _pending(), meta=meta, media_type=media_type)

    def open_artifact(
        self,
        run_id: str,
        name: str,
        kind: str,
        files: Sequence[ArtifactFile],
        *,
        meta: Mapping[str, Any] | None = None,
        media_type: str | None = None,
        known: bool = False,
    ) -> dict[str, tuple[str, int] | None]:
        """:meth:`begin_artifact` and :meth:`claim_artifact_files` in one transaction, for
        a writer that hashed its files before writing any of their blobs (nothing staged
        ahead: no blob of its sits unrecorded in the store before this commits, so the
        pending row need not come first). Returns what the claim returns.

        On SQLite, an artifact of up to ``artifact_steps.MOST_FILES`` files of a local blob
        store (not ``known``) goes by prepared statements (:mod:`.artifact_steps`)."""
        _check_kind(kind)
        row = _pending()
        few = len(files) <= artifact_steps.MOST_FILES
        if self._fast_writes and self._returning and few and not known:
            values = _artifact_values(run_id, name, kind, row, meta, media_type)
            packed: dict[str, tuple[str, int]] = {}
            steps = artifact_steps.begin_steps(
                self._artifact_statement, self._attempt_steps(run_id), values, files, packed
            )
            with self._driver_lock:
                self._driver_run(steps)
            return dict(packed)
        with self.engine.begin() as conn:
            self._replace(conn, run_id, name, kind, row, meta=meta, media_type=media_type)
            return self._claim(conn, run_id, name, files, known)

    def claim_artifact_files(
        self, run_id: str, name: str, files: Sequence[ArtifactFile], *, known: bool = False
    ) -> dict[str, tuple[str, int] | None]:
        """Record the files of a pending artifact before its blobs are written, under the
        lock ``gc`` deletes blobs under: from then on ``gc`` keeps every blob they name, so
        the writer may check which blobs exist and write the missing ones outside any lock
        (on a team store that is a thousand requests to S3: no other writer waits for them).
        A blob ``gc`` deleted before the claim is simply found missing and written again.

        Returns, read under the same lock, ``digest -> (pack, offset)`` for the bytes among
        ``files`` a complete artifact keeps in a pack (:func:`packed_files`): no blob bears
        their digest, so only the records can say they are stored. The claimed rows of
        packed bytes already say where they are, so ``gc`` keeps their pack from now on
        too. With ``known``, also ``digest -> None`` for each digest the records say is a
        stored blob of its own (:func:`stored_digests`): a writer to a remote blob store
        trusts these rather than ask the server; a local one checks its files (a stat)."""
        with self.engine.begin() as conn:
            self._fence_first(conn, run_id)
            # the update first: it takes the lock gc deletes blobs under (SQLite's write lock)
            found = conn.execute(
                update(_artifacts_t)
                .where(
                    _artifacts_t.c.run_id == run_id,
                    _artifacts_t.c.name == name,
                    _artifacts_t.c.status == PENDING,
                )
                .values(writer_at=time.time())
            )
            if found.rowcount == 0:
                raise ArtifactNotFound(f"run {run_id} has no artifact {name!r} being written")
            return self._claim(conn, run_id, name, files, known)

    def complete_artifact(
        self,
        run_id: str,
        name: str,
        files: Sequence[ArtifactFile],
        *,
        meta: Mapping[str, Any] | None = None,
        media_type: str | None = None,
        packed: bool = False,
    ) -> Artifact:
        """Mark a pending artifact whose files were claimed (and their blobs written)
        ``complete``: readers see it from now on, whole. With ``packed`` (files were
        written into packs since the claim), the file rows are written again from
        ``files``, saying where each is (``ArtifactFile.pack``), in the same transaction;
        without, ``files`` are those claimed. Returns the artifact as ``get_artifact``
        reads it (on SQLite, its row read back by the update itself)."""
        if self._fast_writes and self._returning:
            now = time.time()
            steps = artifact_steps.complete_steps(
                self._artifact_statement,
                self._attempt_steps(run_id),
                run_id,
                name,
                files,
                now=now,
                meta=None if meta is None else _dumps(meta),
                media_type=media_type,
                packed=packed,
            )
            with self._driver_lock:
                row = self._driver_run(steps)[-1]
            return artifact_steps.completed(row, files)
        values: dict[str, Any] = {
            "status": COMPLETE,
            "size": sum(f.size for f in files),
            "file_count": len(files),
            "writer_host": None,
            "writer_pid": None,
            "writer_at": None,
        }
        if meta is not None:
            values["meta"] = _dumps(meta)
        if media_type is not None:
            values["media_type"] = media_type
        with self.engine.begin() as conn:
            self._fence_first(conn, run_id)
            found = conn.execute(
                update(_artifacts_t)
                .where(
                    _artifacts_t.c.run_id == run_id,
                    _artifacts_t.c.name == name,
                    _artifacts_t.c.status == PENDING,
                )
                .values(**values)
            )
            if found.rowcount == 0:
                raise ArtifactNotFound(f"run {run_id} has no artifact {name!r} being written")
            if packed:
                self._write_files(conn, run_id, name, files)
            self._touch(conn, run_id)  # the sidebar's poll sees the run changed
        return self.get_artifact(run_id, name)

    def record_artifact(
        self,
        run_id: str,
        name: str,
        kind: str,
        files: Sequence[ArtifactFile | Sequence[Any]],
        *,
        meta: Mapping[str, Any] | None = None,
        media_type: str | None = None,
    ) -> None:
        """Record a complete artifact whose blobs are already stored, in one transaction
        (replacing one of the same name): what a spooled artifact is written as once the
        store is back, and what replaying it twice leaves the same."""
        rows = [f if isinstance(f, ArtifactFile) else ArtifactFile(*f) for f in files]
        with self.engine.begin() as conn:
            row = {
                "status": COMPLETE,
                "size": sum(f.size for f in rows),
                "file_count": len(rows),
                "created_at": time.time(),
            }
            self._replace(conn, run_id, name, kind, row, meta=meta, media_type=media_type)
            self._write_files(conn, run_id, name, rows)

    def abandon_artifact(self, run_id: str, name: str) -> None:
        """Forget a pending artifact whose writing failed, with the files it claimed (its
        blobs become gc's orphans)."""
        with self.engine.begin() as conn:
            self._fence_first(conn, run_id)  # not the current attempt's pending one
            self._forget_pending(conn, run_id, name)

    def delete_artifact(self, run_id: str, name: str) -> None:
        """Delete an artifact (its blobs go at the next ``gc``); refused while a registered
        model version is this artifact."""
        with self.engine.begin() as conn:
            self._touch(conn, run_id)  # first: see _replace
            self._check_not_registered(conn, run_id, name)
            gone = conn.execute(
                delete(_artifacts_t).where(
                    _artifacts_t.c.run_id == run_id, _artifacts_t.c.name == name
                )
            )
            if gone.rowcount == 0:
                raise ArtifactNotFound(f"run {run_id} has no artifact {name!r}")

    def list_artifacts(self, run_id: str, *, files: bool = True) -> list[Artifact]:
        """The run's complete artifacts, by name, each with its files (sorted by path)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_artifacts_t)
                .where(_artifacts_t.c.run_id == run_id, _artifacts_t.c.status == COMPLETE)
                .order_by(_artifacts_t.c.name)
            ).all()
            by_name: dict[str, list[ArtifactFile]] = {}
            if files and rows:
                for f in conn.execute(
                    select(_files_t.c.name, *_FILE_COLUMNS)
                    .where(_files_t.c.run_id == run_id)
                    .order_by(_files_t.c.name, _files_t.c.path)
                ):
                    by_name.setdefault(f.name, []).append(ArtifactFile(*f[1:]))
        return [_artifact(r, by_name.get(r.name, [])) for r in rows]

    def get_artifact(self, run_id: str, name: str) -> Artifact:
        """A complete artifact with its files; :class:`ArtifactNotFound` names the run's
        artifacts when there is none of this name."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_artifacts_t).where(
                    _artifacts_t.c.run_id == run_id,
                    _artifacts_t.c.name == name,
                    _artifacts_t.c.status == COMPLETE,
                )
            ).first()
            if row is None:
                names = conn.execute(
                    select(_artifacts_t.c.name)
                    .where(_artifacts_t.c.run_id == run_id, _artifacts_t.c.status == COMPLETE)
                    .order_by(_artifacts_t.c.name)
                ).scalars()
                listed = list(names)
                known = ", ".join(repr(n) for n in listed[:KNOWN_NAMES]) or "none"
                if len(listed) > KNOWN_NAMES:  # a long series of images: thousands of names
                    known += f", … {len(listed) - KNOWN_NAMES} more"
                raise ArtifactNotFound(
                    f"run {run_id} has no artifact {name!r} (its artifacts: {known})"
                )
            files = [
                ArtifactFile(*f)
                for f in conn.execute(
                    select(*_FILE_COLUMNS)
                    .where(_files_t.c.run_id == run_id, _files_t.c.name == name)
                    .order_by(_files_t.c.path)
                )
            ]
        return _artifact(row, files)

    def artifact_counts(self, run_ids: Iterable[str]) -> dict[str, int]:
        """``run id -> number of complete artifacts`` (runs without any left out)."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, int] = {}
        if not ids:
            return out
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                for run_id, count in conn.execute(
                    select(_artifacts_t.c.run_id, func.count())
                    .where(
                        _artifacts_t.c.run_id.in_(ids[i : i + 500]),
                        _artifacts_t.c.status == COMPLETE,
                    )
                    .group_by(_artifacts_t.c.run_id)
                ):
                    out[run_id] = count
        return out

    # garbage collection ----------------------------------------------------------------------

    def artifact_blobs(self) -> set[str]:
        """Every blob an artifact (complete or being written) names, its files' own and
        their packs: ``gc`` keeps them."""
        with self.engine.connect() as conn:
            own = set(conn.execute(select(_files_t.c.digest).distinct()).scalars())
            packs = conn.execute(
                select(_files_t.c.pack).distinct().where(_files_t.c.pack.is_not(None))
            ).scalars()
            return own | set(packs)

    def artifact_blob_in_use(self, digest: str) -> bool:
        """Whether an artifact's file is the blob ``digest``, or lives in it (a pack)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(_files_t.c.run_id)
                .where(or_(_files_t.c.digest == digest, _files_t.c.pack == digest))
                .limit(1)
            ).first()
        return found is not None

    def artifact_pack_contents(self) -> dict[str, list[ArtifactFile]]:
        """``pack -> the bytes artifact rows name in it``, one record per digest in the
        pack's order (``path`` left empty: the rows of several artifacts may name the same
        bytes): what ``gc`` weighs against a pack's size, and rewrites a mostly dead pack
        with. A pack a pending artifact names is left out: its writer claimed places in it
        and may write its rows again from them (``complete_artifact``), so moving the rows
        would not free it (the next ``gc`` sees it once the writer is done)."""
        f, a = _files_t, _artifacts_t
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(f.c.pack, f.c.digest, f.c.offset, f.c.size, a.c.status)
                .distinct()
                .join(a, and_(a.c.run_id == f.c.run_id, a.c.name == f.c.name))
                .where(f.c.pack.is_not(None))
            ).all()
        pending = {r.pack for r in rows if r.status != COMPLETE}
        out: dict[str, dict[str, ArtifactFile]] = {}
        for r in rows:
            if r.pack not in pending:
                held = out.setdefault(r.pack, {})
                held.setdefault(r.digest, ArtifactFile("", r.digest, r.size, r.pack, r.offset))
        return {
            pack: sorted(held.values(), key=lambda x: x.offset or 0) for pack, held in out.items()
        }

    def move_packed_files(
        self, pack: str, where: Mapping[str, tuple[str, int]], blobs: BlobStore
    ) -> None:
        """Point the rows of complete artifacts that find ``digest`` in ``pack`` at
        ``where[digest]`` (``(new pack, offset)``: its copy), all in one transaction, which
        ``gc`` then lets delete ``pack``.

        The transaction holds the lock a claim reads :func:`packed_files` under (and
        ``gc`` deletes blobs under): a writer deduplicating against these bytes reads all
        of their places before the move, its claimed rows then naming ``pack``, which the
        deletion's check under the same lock sees, so ``pack`` stays; or all after, and its
        rows name the new pack. The new packs are checked to exist inside it: one a
        concurrent ``gc`` deleted (it was an orphan until now) fails the move with
        ``FileNotFoundError``, nothing moved. Rows of pending artifacts are not moved (see
        :meth:`artifact_pack_contents`): their writer may write them again as claimed."""
        f, a = _files_t, _artifacts_t
        complete = (
            select(a.c.run_id)
            .where(a.c.run_id == f.c.run_id, a.c.name == f.c.name, a.c.status == COMPLETE)
            .exists()
        )
        move = (
            update(f)
            .where(f.c.pack == pack, f.c.digest == bindparam("b_digest"), complete)
            .values(pack=bindparam("b_pack"), offset=bindparam("b_offset"))
        )
        moves = [
            {"b_digest": digest, "b_pack": new, "b_offset": offset}
            for digest, (new, offset) in where.items()
        ]
        with self.engine.begin() as conn:
            self._lock_snapshots(conn)
            for new in sorted({new for new, _ in where.values()}):
                if not blobs.has(new):
                    raise FileNotFoundError(
                        f"pack {new}, written to rewrite {pack}, was removed by another gc"
                    )
            if moves:
                conn.execute(move, moves)

    def packed_file_owner(self, pack: str, digest: str) -> str:
        """A row that finds ``digest`` in ``pack``, said as a person names the file: what
        ``gc`` names a file with when the pack holds other bytes than its digest."""
        f = _files_t
        with self.engine.connect() as conn:
            row = conn.execute(
                select(f.c.run_id, f.c.name, f.c.path)
                .where(f.c.pack == pack, f.c.digest == digest)
                .order_by(f.c.run_id, f.c.name, f.c.path)
                .limit(1)
            ).first()
        if row is None:
            return f"{digest} (no artifact names it any more)"
        return f"file {row.path!r} of artifact {row.name!r} of run {row.run_id}"

    def artifact_writers(self) -> set[str]:
        """The states of the writers of pending artifacts (see ``writer_state``): while one
        is ``alive``, ``gc`` deletes no unrecorded blob, which may be about to be recorded."""
        t = _artifacts_t
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.writer_host, t.c.writer_pid, t.c.writer_at).where(t.c.status == PENDING)
            ).all()
        return {writer_state(*row) for row in rows}

    def sweep_abandoned_artifacts(self, *, dry_run: bool = False) -> list[str]:
        """Forget the pending artifacts whose writer died (``run_id/name`` of each): a
        process killed while it wrote one. Its blobs, recorded nowhere, are then ``gc``'s
        orphans. A writer of another host cannot be checked and is left alone."""
        t = _artifacts_t
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(t.c.run_id, t.c.name, t.c.writer_host, t.c.writer_pid, t.c.writer_at).where(
                    t.c.status == PENDING
                )
            ).all()
            dead = [(r.run_id, r.name) for r in rows if writer_state(*r[2:]) == "gone"]
            if not dry_run:
                for run_id, name in dead:
                    self._forget_pending(conn, run_id, name)
        return [f"{run_id}/{name}" for run_id, name in dead]

    # internals ---------------------------------------------------------------------------------

    def _artifact_statement(self, key: str) -> Any:
        """A statement of :mod:`.artifact_steps` (or a run's touch), compiled once per
        process."""
        return self._driver_statement(key, artifact_steps.STATEMENTS.get(key))

    def _claim(
        self, conn: Connection, run_id: str, name: str, files: Sequence[ArtifactFile], known: bool
    ) -> dict[str, tuple[str, int] | None]:
        """The claim of :meth:`claim_artifact_files`, in ``conn``'s transaction."""
        self._lock_snapshots(conn)  # (on SQLite the artifact's row took it already)
        digests = {f.digest for f in files}
        own = stored_digests(conn, digests) if known else frozenset()
        packed = packed_files(conn, digests - own)
        self._write_files(conn, run_id, name, placed(files, packed))
        return {**packed, **dict.fromkeys(own)}

    def _write_files(
        self, conn: Connection, run_id: str, name: str, files: Sequence[ArtifactFile]
    ) -> None:
        """The artifact's file rows, replacing any it had."""
        conn.execute(delete(_files_t).where(_files_t.c.run_id == run_id, _files_t.c.name == name))
        rows = [file_row(run_id, name, f) for f in files]
        for i in range(0, len(rows), _FILES_PER_INSERT):
            conn.execute(_files_t.insert(), rows[i : i + _FILES_PER_INSERT])

    @staticmethod
    def _forget_pending(conn: Connection, run_id: str, name: str) -> None:
        """Delete a pending artifact and the files it claimed (not a complete one)."""
        t = _artifacts_t
        gone = conn.execute(
            delete(t).where(t.c.run_id == run_id, t.c.name == name, t.c.status == PENDING)
        )
        if gone.rowcount:
            conn.execute(
                delete(_files_t).where(_files_t.c.run_id == run_id, _files_t.c.name == name)
            )

    def _replace(
        self,
        conn: Connection,
        run_id: str,
        name: str,
        kind: str,
        row: Mapping[str, Any],
        *,
        meta: Mapping[str, Any] | None,
        media_type: str | None,
    ) -> None:
        """Insert the artifact's row (``row`` holds its state), replacing one of the same
        name: refused for an unknown kind or run, a superseded attempt, or a registered model
        version's artifact.

        The run's row is taken first (touched: it must exist), as a registration and
        :meth:`delete_artifact` take it: one waits for the other, so no version is
        registered between the check here and the replacement (SQLite's write lock; a row
        lock on PostgreSQL, where each statement reads what was committed before it)."""
        _check_kind(kind)
        self._touch(conn, run_id)
        self._check_not_registered(conn, run_id, name)
        conn.execute(
            delete(_artifacts_t).where(_artifacts_t.c.run_id == run_id, _artifacts_t.c.name == name)
        )
        conn.execute(
            _artifacts_t.insert(), _artifact_values(run_id, name, kind, row, meta, media_type)
        )

    @staticmethod
    def _check_not_registered(conn: Connection, run_id: str, name: str) -> None:
        version = conn.execute(
            select(_versions_t.c.model_id, _versions_t.c.version).where(
                _versions_t.c.run_id == run_id, _versions_t.c.artifact == name
            )
        ).first()
        if version is not None:
            raise registered_conflict(run_id, name)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}: one of {', '.join(KINDS)}")


def _artifact_values(
    run_id: str,
    name: str,
    kind: str,
    row: Mapping[str, Any],
    meta: Mapping[str, Any] | None,
    media_type: str | None,
) -> dict[str, Any]:
    """Every column of an artifact's row, ``row`` its state (see :func:`_pending`)."""
    return {
        "run_id": run_id,
        "name": name,
        "kind": kind,
        "media_type": media_type,
        "meta": _dumps(meta or {}),
        **row,
    }


def _pending() -> dict[str, Any]:
    """A pending artifact's state columns, its writer this process, begun now."""
    now = time.time()
    return {
        "status": PENDING,
        "size": 0,
        "file_count": 0,
        "created_at": now,
        "writer_host": _HOST,
        "writer_pid": os.getpid(),
        "writer_at": now,
    }


def _dumps(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, allow_nan=False, default=str)


def _artifact(row: Any, files: Sequence[ArtifactFile]) -> Artifact:
    return artifact_from(row._mapping, files)


def stored_digests(conn: Connection, digests: set[str]) -> frozenset[str]:
    """Which of ``digests`` name a blob a *complete* record names: an artifact's file
    stored as its own blob, the pack of an artifact's files, a complete file snapshot (its
    digest is its blob's). These blobs are stored, and stay so while this
    transaction's rows name them too. A complete record's writer made sure its blobs
    existed after its own rows protected them from ``gc``, which deletes no blob any
    row (pending or complete) names, and only under the lock this is read under. Only
    a deletion behind the store's back breaks this; a read then fails on the missing
    blob (``BlobNotFound``) instead of returning other bytes."""
    f, a, s = _files_t, _artifacts_t, _snapshots_t
    ordered = sorted(digests)
    out: set[str] = set()
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i : i + _IN_CHUNK]
        complete = and_(a.c.run_id == f.c.run_id, a.c.name == f.c.name)
        out.update(
            conn.execute(
                select(f.c.digest)
                .distinct()
                .join(a, complete)
                .where(f.c.digest.in_(chunk), f.c.pack.is_(None), a.c.status == COMPLETE)
            ).scalars()
        )
        out.update(
            conn.execute(
                select(f.c.pack)
                .distinct()
                .join(a, complete)
                .where(f.c.pack.in_(chunk), a.c.status == COMPLETE)
            ).scalars()
        )
        out.update(
            conn.execute(
                select(s.c.digest).where(
                    s.c.digest.in_(chunk),
                    s.c.kind == "file",
                    s.c.status == SnapshotStatus.COMPLETE.value,
                )
            ).scalars()
        )
    return frozenset(out)


def packed_files(conn: Connection, digests: set[str]) -> dict[str, tuple[str, int]]:
    """``digest -> (pack, offset)`` for those of ``digests`` whose bytes a *complete*
    artifact keeps in a pack (one place each, when several artifacts hold the same bytes):
    stored, as :func:`stored_digests` says of blobs, and read as a range of the pack."""
    f, a = _files_t, _artifacts_t
    ordered = sorted(digests)
    out: dict[str, tuple[str, int]] = {}
    for i in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[i : i + _IN_CHUNK]
        for digest, pack, offset in conn.execute(
            select(f.c.digest, f.c.pack, f.c.offset)
            .join(a, and_(a.c.run_id == f.c.run_id, a.c.name == f.c.name))
            .where(f.c.digest.in_(chunk), f.c.pack.is_not(None), a.c.status == COMPLETE)
        ):
            out.setdefault(digest, (pack, int(offset)))
    return out
