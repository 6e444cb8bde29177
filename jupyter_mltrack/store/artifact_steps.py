"""An artifact's two writes on SQLite's DBAPI path (:func:`.prepared.run_statements`): the
artifact begun with its files claimed, then completed, each one transaction of prepared
statements.

Why: a training loop logs a small image, text or dict per step, and what the store did for
each was about 13 statements in 3 transactions through SQLAlchemy's engine, which builds
every statement again on each call (a 28 x 28 image: 4.5 ms against MLflow's 1.6, of which
the blob's two fsyncs were 0.6). Here the same writes are two transactions of statements
compiled once (:meth:`.base.StoreBase._driver_statement`), as a tracked cell's run writes
are; the engine path (PostgreSQL, and an artifact with many files) stays in
:mod:`.artifact_records`, and ``tests/test_artifact_steps.py`` checks both leave the same
rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Text, bindparam, delete, func, insert, select, update

from .entities import Artifact, ArtifactFile, placed
from .errors import ArtifactNotFound, ModelRegistryConflict
from .fast_writes import StatementOf, touch_step
from .models import ArtifactFileRow, ArtifactRow, ModelVersionRow
from .prepared import Step

PENDING = "pending"
COMPLETE = "complete"
#: The most files an artifact is begun with on this path: each is looked for in the packs
#: by a statement of its own (the engine path asks for 500 at once).
MOST_FILES = 16

_artifacts_t = ArtifactRow.__table__
_files_t = ArtifactFileRow.__table__
_versions_t = ModelVersionRow.__table__
_ONE = (_artifacts_t.c.run_id == bindparam("b_run_id")) & (
    _artifacts_t.c.name == bindparam("b_name")
)
_ITS_FILES = (_files_t.c.run_id == bindparam("b_run_id")) & (_files_t.c.name == bindparam("b_name"))

#: The constructs, by key (compiled once per process by ``_driver_statement``).
STATEMENTS: dict[str, Any] = {
    "artifact:registered": select(_versions_t.c.model_id, _versions_t.c.version)
    .where(
        _versions_t.c.run_id == bindparam("b_run_id"),
        _versions_t.c.artifact == bindparam("b_name"),
    )
    .limit(1),
    "artifact:delete_files": delete(_files_t).where(_ITS_FILES),
    "artifact:delete": delete(_artifacts_t).where(_ONE),
    "artifact:insert": insert(_artifacts_t).values(
        {c: bindparam(c.name, type_=c.type) for c in _artifacts_t.c}
    ),
    #: Where a complete artifact keeps these bytes in a pack (see ``packed_files``).
    "artifact:packed_at": select(_files_t.c.pack, _files_t.c.offset)
    .join(
        _artifacts_t,
        (_artifacts_t.c.run_id == _files_t.c.run_id) & (_artifacts_t.c.name == _files_t.c.name),
    )
    .where(
        _files_t.c.digest == bindparam("b_digest"),
        _files_t.c.pack.is_not(None),
        _artifacts_t.c.status == COMPLETE,
    )
    .limit(1),
    "artifact:insert_files": insert(_files_t).values(
        {c: bindparam(c.name, type_=c.type) for c in _files_t.c}
    ),
    #: A pending artifact made complete, its whole row back; a meta or media type left
    #: ``None`` keeps the one it was begun with.
    "artifact:complete": update(_artifacts_t)
    .where(_ONE, _artifacts_t.c.status == PENDING)
    .values(
        status=COMPLETE,
        size=bindparam("v_size"),
        file_count=bindparam("v_file_count"),
        meta=func.coalesce(bindparam("v_meta", type_=Text), _artifacts_t.c.meta),
        media_type=func.coalesce(
            bindparam("v_media_type", type_=_artifacts_t.c.media_type.type),
            _artifacts_t.c.media_type,
        ),
        writer_host=None,
        writer_pid=None,
        writer_at=None,
    )
    .returning(*_artifacts_t.c),
}
#: The artifact row's columns, in the order ``artifact:complete`` returns them.
COLUMNS = tuple(c.name for c in _artifacts_t.c)


def _check(predicate: Callable[[Any], bool], error: Callable[[], Exception]) -> Any:
    def check(row: Any) -> None:
        if predicate(row):
            raise error()

    return check


def begin_steps(
    statement: StatementOf,
    fence: list[Step],
    row: Mapping[str, Any],
    files: Sequence[ArtifactFile],
    packed: dict[str, tuple[str, int]],
) -> list[Step]:
    """``begin_artifact`` and ``claim_artifact_files`` in one transaction: the run's row
    taken (it must exist; ``fence``: the attempt checked when the store writes it as one),
    no registered version replaced, the artifact (``row``, every column) inserted
    ``pending`` in place of one of the same name, each file's bytes looked for in the packs
    of complete artifacts (``packed`` filled as they are found), and the files' rows
    written, placed there.

    The run's row is taken by a write, first: Python's sqlite3 begins the transaction at
    the first write, and SQLite takes its write lock there, so what the checks read no
    other writer can change before this commits (a version registered in between: see
    ``ArtifactRecords._replace``), and ``gc``, which deletes blobs under that lock, keeps
    the packs found while these rows name them. A failed check rolls it all back."""
    run_id, name = row["run_id"], row["name"]
    key = {"b_run_id": run_id, "b_name": name}
    steps: list[Step] = [
        touch_step(statement, run_id, row["created_at"]),
        *fence,
        (
            statement("artifact:registered"),
            key,
            _check(lambda r: r is not None, lambda: registered_conflict(run_id, name)),
        ),
        (statement("artifact:delete_files"), key),
        (statement("artifact:delete"), key),
        (statement("artifact:insert"), dict(row)),
    ]
    for digest in dict.fromkeys(f.digest for f in files):
        steps.append(
            (statement("artifact:packed_at"), {"b_digest": digest}, _found_in(packed, digest))
        )

    if files:  # rows built once the packs are read (run_statements calls this then)
        rows = lambda: [file_row(run_id, name, f) for f in placed(files, packed)]  # noqa: E731
        steps.append((statement("artifact:insert_files"), rows))
    return steps


def file_row(run_id: str, name: str, f: ArtifactFile) -> dict[str, Any]:
    """An artifact file's row."""
    return {
        "run_id": run_id,
        "name": name,
        "path": f.path,
        "digest": f.digest,
        "size": f.size,
        "pack": f.pack,
        "offset": f.offset,
    }


def _found_in(packed: dict[str, tuple[str, int]], digest: str) -> Any:
    def check(row: Any) -> None:
        if row is None:
            packed.pop(digest, None)  # (a try again after a busy wait finds it afresh)
        else:
            packed[digest] = (row[0], int(row[1]))

    return check


def complete_steps(
    statement: StatementOf,
    fence: list[Step],
    run_id: str,
    name: str,
    files: Sequence[ArtifactFile],
    *,
    now: float,
    meta: str | None,
    media_type: str | None,
    packed: bool,
) -> list[Step]:
    """``complete_artifact``: the run touched at ``now`` (its row first: the sidebar's poll
    sees it changed; refused for a superseded attempt by ``fence``), with ``packed`` the
    file rows written again as ``files`` place them, and the artifact made complete (its
    row read back: the last step's). ``meta`` (JSON) or ``media_type`` ``None``: kept."""
    key = {"b_run_id": run_id, "b_name": name}
    steps: list[Step] = [touch_step(statement, run_id, now), *fence]
    if packed:
        rows = [file_row(run_id, name, f) for f in files]
        steps += [
            (statement("artifact:delete_files"), key),
            (statement("artifact:insert_files"), rows),
        ]
    complete = {
        **key,
        "v_size": sum(f.size for f in files),
        "v_file_count": len(files),
        "v_meta": meta,
        "v_media_type": media_type,
    }
    missing = _check(
        lambda r: r is None,
        lambda: ArtifactNotFound(f"run {run_id} has no artifact {name!r} being written"),
    )
    # last: its row is what complete_artifact hands back
    return [*steps, (statement("artifact:complete"), complete, missing)]


def completed(row: Sequence[Any], files: Sequence[ArtifactFile]) -> Artifact:
    """The artifact ``artifact:complete`` read back, with ``files`` in the order
    ``get_artifact`` lists them (by path: SQLite compares text as UTF-8 bytes, which sort
    as Python sorts their code points)."""
    fields = dict(zip(COLUMNS, row, strict=True))
    return artifact_from(fields, sorted(files, key=lambda f: f.path))


def artifact_from(fields: Mapping[str, Any], files: Sequence[ArtifactFile]) -> Artifact:
    """An artifact from its row's columns (by name) and its files."""
    return Artifact(
        run_id=fields["run_id"],
        name=fields["name"],
        kind=fields["kind"],
        size=fields["size"],
        file_count=fields["file_count"],
        media_type=fields["media_type"],
        meta=json.loads(fields["meta"] or "{}"),
        created_at=fields["created_at"],
        status=fields["status"],
        files=tuple(files),
    )


def registered_conflict(run_id: str, name: str) -> ModelRegistryConflict:
    """Why an artifact that is a registered model version cannot be replaced."""
    return ModelRegistryConflict(
        f"artifact {name!r} of run {run_id} is a registered model version; delete the "
        "version first (mltrack models delete-version …)"
    )
