"""Named, versioned datasets: the rows of ``datasets``, ``dataset_versions`` and
``dataset_tags``, and the definition of a version's hash.

A mixin of :class:`~.store.Store`. A version is a snapshot (the content, stored and
restored by :mod:`jupyter_mltrack.snapshots`) plus the user's meta, named by the hash of its
manifest — the same content and meta give the same hash in any store, as Quilt's top hash
does — and never changed once written. ``latest`` is the version pushed last; tags
(``gold``, ``v1``) point at versions and move like model aliases. Writing a version takes the
lock a snapshot's completion and ``gc``'s sweep take, so a ``gc`` either sees the version
(and keeps its snapshot) or ran before it (and the writer finds its snapshot gone).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .blobs import DIGEST_ALGORITHM, digest_bytes
from .entities import Dataset, DatasetUse, DatasetVersion, SnapshotStatus
from .errors import DatasetNotFound, InvalidDatasetRef, SnapshotNotFound
from .models import (
    DatasetRow,
    DatasetTagRow,
    DatasetVersionRow,
    ExperimentRow,
    RunDataRow,
    RunRow,
    SnapshotRow,
)
from .names import PLAIN_NAME, InvalidName, check_name, shown
from .snapshot_records import SnapshotRecords

_datasets_t = DatasetRow.__table__
_versions_t = DatasetVersionRow.__table__
_tags_t = DatasetTagRow.__table__
_snapshots_t = SnapshotRow.__table__
_run_data_t = RunDataRow.__table__
_runs_t = RunRow.__table__
_experiments_t = ExperimentRow.__table__

#: The hash function of version manifests: the one snapshots and blobs are named with.
ALGORITHM = DIGEST_ALGORITHM
#: Version of the manifest's layout; bump it when any byte that is hashed changes.
MANIFEST_FORMAT = "mltrack-dataset-version/1"
#: Shortest hash prefix a reference may name a version by.
MIN_PREFIX = 6

_PART = PLAIN_NAME.pattern
_NAME = re.compile(rf"{_PART}(?:/{_PART})*")
_TAG = PLAIN_NAME
_HEX = re.compile(r"[0-9a-fA-F]+")


# names and hashes -----------------------------------------------------------------------------


def check_dataset_name(name: str) -> str:
    """A dataset name: parts of letters, digits and ``-_.`` joined by ``/`` (``team/churn``),
    so that ``NAME@REF`` always reads one way and a name never becomes a path outside its
    folder."""
    if not isinstance(name, str):
        raise InvalidName(f"a dataset name is text, not {type(name).__name__}")
    check_name("dataset", name)
    if not _NAME.fullmatch(name):
        raise InvalidName(
            f"dataset name {shown(name)}: use parts of letters, digits and -_. separated by "
            "'/', e.g. 'team/churn' (no '@', ':', spaces or empty parts; a part starts with a "
            "letter or digit)"
        )
    return name


def check_dataset_tag(tag: str) -> str:
    """A tag: a name no reference could read otherwise (not ``latest``, not a hash prefix)."""
    if not isinstance(tag, str):
        raise InvalidName(f"a dataset tag is text, not {type(tag).__name__}")
    check_name("tag", tag)
    if not _TAG.fullmatch(tag):
        raise InvalidName(
            f"tag {shown(tag)}: use letters, digits and -_. (no '/', '@', ':' or spaces), "
            "starting with a letter or digit"
        )
    if tag == "latest":
        raise InvalidName("tag 'latest' is reserved: it always names the version pushed last")
    if len(tag) >= MIN_PREFIX and _HEX.fullmatch(tag):
        raise InvalidName(
            f"tag {shown(tag)} would read as a hash prefix; pick a name such as 'gold' or 'v1'"
        )
    return tag


def parse_dataset_ref(ref: str) -> tuple[str, str | None]:
    """``NAME[@VERSION]`` as ``(name, version or None)``: ``team/churn``, ``team/churn@gold``,
    ``team/churn@3f2a9c`` (a hash prefix), ``team/churn@latest``. The name is checked; what
    the version names is looked up by :meth:`DatasetRecords.resolve_dataset_version`."""
    if not isinstance(ref, str):
        raise InvalidDatasetRef(
            f"a dataset reference is text ('team/churn@gold'), not {type(ref).__name__}"
        )
    name, at, selector = ref.partition("@")
    if not at:
        return check_dataset_name(ref), None
    if "@" in selector:
        raise InvalidDatasetRef(f"dataset reference {shown(ref)}: one '@' at most")
    if not selector.strip():
        raise InvalidDatasetRef(
            f"dataset reference {shown(ref)}: name a version after '@' (a tag, 'latest', or "
            f"a hash prefix of {MIN_PREFIX}+ hex digits)"
        )
    return check_dataset_name(name), selector


def canonical_meta(meta: Mapping[str, Any] | None) -> str:
    """``meta`` as canonical JSON (sorted keys, no spaces, ASCII): what the hash covers.

    Only plain JSON is taken, strictly: a value JSON would change on the way (a tuple, a
    NaN, a non-text key, a numpy number) is refused rather than coerced, since two different
    metas must never hash alike."""
    _check_meta(meta)
    return json.dumps(
        dict(meta or {}), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _check_meta(meta: Mapping[str, Any] | None) -> None:
    if meta is None:
        return
    if not isinstance(meta, Mapping):
        raise InvalidName(f"meta must be a dict of JSON values, not {type(meta).__name__}")
    _check_json(dict(meta), "meta")


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, bool | str):
        return
    if type(value) is int:
        return
    if type(value) is float:
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidName(f"{where}: {value!r} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidName(f"{where}: key {key!r} is not text (JSON keys are)")
            _check_json(item, f"{where}[{key!r}]")
        return
    raise InvalidName(
        f"{where}: a {type(value).__name__} is not plain JSON (use None, bool, int, float, "
        "str, list or dict)"
    )


def version_manifest(snapshot_digest: str, meta: Mapping[str, Any] | None) -> bytes:
    """The canonical bytes a version's hash is taken of: the manifest's format, the hash
    algorithm, the snapshot digest of the content (itself the hash of the content's
    canonical manifest) and the user's meta. The message, author and time are not in it:
    they describe a push, not the data."""
    _check_meta(meta)
    doc = {
        "algorithm": ALGORITHM,
        "format": MANIFEST_FORMAT,
        "meta": dict(meta or {}),
        "snapshot": snapshot_digest,
    }
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def version_hash(snapshot_digest: str, meta: Mapping[str, Any] | None) -> str:
    """``xxh3-128:<hex>`` of :func:`version_manifest`."""
    return digest_bytes(version_manifest(snapshot_digest, meta))


# the mixin ------------------------------------------------------------------------------------


class DatasetRecords(SnapshotRecords):
    """Datasets, their versions and tags (a :class:`SnapshotRecords`: a version's write
    takes the snapshots' lock)."""

    def add_dataset_version(
        self,
        name: str,
        snapshot_digest: str,
        *,
        meta: Mapping[str, Any] | None = None,
        message: str = "",
        author: str = "",
        tag: str | None = None,
    ) -> tuple[DatasetVersion, bool]:
        """Make the complete snapshot ``snapshot_digest`` (with ``meta``) a version of
        dataset ``name`` (created if new), and the one ``latest`` names; ``(version,
        created)``. A version with the same hash already there is returned as it is (its
        message and author stay those of its first push): pushing unchanged content and
        meta adds nothing. ``tag`` is then pointed at it.

        Raises :class:`SnapshotNotFound` if the snapshot is not (or no longer: a ``gc``
        swept it) complete; the caller snapshots the data again."""
        check_dataset_name(name)
        meta_json = canonical_meta(meta)
        digest = version_hash(snapshot_digest, meta)
        if tag is not None:
            check_dataset_tag(tag)
        message = message or ""
        for attempt in range(3):
            now = time.time()
            try:
                with self.engine.begin() as conn:
                    self._lock_snapshots(conn)
                    status = conn.execute(
                        select(_snapshots_t.c.status).where(
                            _snapshots_t.c.digest == snapshot_digest
                        )
                    ).scalar()
                    if status != SnapshotStatus.COMPLETE.value:
                        raise SnapshotNotFound(
                            f"snapshot {snapshot_digest} is "
                            + ("gone" if status is None else status)
                            + ": only stored data can be a dataset version"
                        )
                    dataset_id = self._dataset_id(conn, name, create=True, now=now)
                    exists = conn.execute(
                        select(_versions_t.c.hash).where(
                            _versions_t.c.dataset_id == dataset_id, _versions_t.c.hash == digest
                        )
                    ).scalar()
                    if exists is None:
                        conn.execute(
                            _versions_t.insert(),
                            {
                                "dataset_id": dataset_id,
                                "hash": digest,
                                "snapshot_digest": snapshot_digest,
                                "message": message,
                                "meta": meta_json,
                                "author": author,
                                "created_at": now,
                            },
                        )
                    conn.execute(
                        update(_datasets_t)
                        .where(_datasets_t.c.id == dataset_id)
                        .values(latest=digest, updated_at=now)
                    )
                    if tag is not None:
                        self._point_dataset_tag(conn, dataset_id, tag, digest, now)
                    return self._dataset_version(conn, dataset_id, name, digest), exists is None
            except IntegrityError:  # another process created the name or the version
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def resolve_dataset_version(self, name: str, selector: str | None = None) -> DatasetVersion:
        """The version ``selector`` names in dataset ``name``: ``None`` or ``latest`` (the
        version pushed last), a tag, a unique hash prefix of 6+ hex digits, or a full hash
        (``xxh3-128:<hex>``)."""
        check_dataset_name(name)
        with self.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            digest = self._dataset_select(conn, dataset_id, name, selector)
            return self._dataset_version(conn, dataset_id, name, digest)

    def dataset_versions(self, name: str, *, uses: bool = False) -> list[DatasetVersion]:
        """The versions of dataset ``name``, newest first; with ``uses``, each with the runs
        that read it (see :meth:`dataset_uses`)."""
        check_dataset_name(name)
        with self.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            latest = conn.execute(
                select(_datasets_t.c.latest).where(_datasets_t.c.id == dataset_id)
            ).scalar()
            tags = self._dataset_tags(conn, dataset_id)
            rows = conn.execute(
                _version_select()
                .where(_versions_t.c.dataset_id == dataset_id)
                .order_by(_versions_t.c.created_at.desc(), _versions_t.c.hash)
            ).all()
            versions = [_version(name, r, tags, latest) for r in rows]
            if not uses:
                return versions
            found = self._dataset_uses(conn, [(v.ref, v.snapshot_digest) for v in versions])
        return [_with_runs(v, found.get(v.ref, ())) for v in versions]

    def dataset_uses(self, version: DatasetVersion) -> list[DatasetUse]:
        """The runs that read ``version``: those that recorded it by name (got with
        ``mltrack.datasets.get``), and those that read exactly its content another way (a
        file or a variable with its snapshot digest) — but not those that recorded another
        dataset's version of the same content."""
        with self.engine.connect() as conn:
            return list(
                self._dataset_uses(conn, [(version.ref, version.snapshot_digest)]).get(
                    version.ref, ()
                )
            )

    def set_dataset_tag(self, name: str, tag: str, selector: str | None = None) -> DatasetVersion:
        """Point ``tag`` of dataset ``name`` at the version ``selector`` names (moving it if
        it pointed elsewhere)."""
        return self.move_dataset_tag(name, tag, selector)[0]

    def move_dataset_tag(
        self, name: str, tag: str, selector: str | None = None
    ) -> tuple[DatasetVersion, str | None]:
        """:meth:`set_dataset_tag`, also saying which version's hash the tag named just
        before (``None``: it was new). Read in the move's own transaction, after the
        dataset's row is taken (SQLite's write lock, PostgreSQL's row lock), so of two moves
        at once each reports the version the other left, never both the same one: what
        "moved from" says is what this move replaced."""
        check_dataset_name(name)
        check_dataset_tag(tag)
        now = time.time()
        with self.engine.begin() as conn:
            dataset_id = self._dataset_id(conn, name)
            # first: the moves of this dataset's tags are serialised from here on
            conn.execute(
                update(_datasets_t).where(_datasets_t.c.id == dataset_id).values(updated_at=now)
            )
            before = self._dataset_tags(conn, dataset_id).get(tag)
            digest = self._dataset_select(conn, dataset_id, name, selector)
            self._point_dataset_tag(conn, dataset_id, tag, digest, now)
            return self._dataset_version(conn, dataset_id, name, digest), before

    def delete_dataset_tag(self, name: str, tag: str) -> None:
        check_dataset_name(name)
        with self.engine.begin() as conn:
            dataset_id = self._dataset_id(conn, name)
            gone = conn.execute(
                delete(_tags_t).where(_tags_t.c.dataset_id == dataset_id, _tags_t.c.tag == tag)
            )
            if gone.rowcount == 0:
                raise DatasetNotFound(
                    f"dataset {name!r} has no tag {tag!r} ({_listed(self._dataset_tags(conn, dataset_id))})"
                )
            conn.execute(
                update(_datasets_t)
                .where(_datasets_t.c.id == dataset_id)
                .values(updated_at=time.time())
            )

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name, with its latest version and tags."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(_datasets_t).order_by(_datasets_t.c.name)).all()
            counts = dict(
                conn.execute(
                    select(_versions_t.c.dataset_id, func.count()).group_by(
                        _versions_t.c.dataset_id
                    )
                ).all()
            )
            tags: dict[int, dict[str, str]] = {}
            for t in conn.execute(select(_tags_t).order_by(_tags_t.c.tag)):
                tags.setdefault(t.dataset_id, {})[t.tag] = t.hash
            latest = {
                r.dataset_id: r
                for r in conn.execute(
                    _version_select(_versions_t.c.dataset_id).join(
                        _datasets_t,
                        (_datasets_t.c.id == _versions_t.c.dataset_id)
                        & (_datasets_t.c.latest == _versions_t.c.hash),
                    )
                )
            }
        return [
            _dataset(r, counts.get(r.id, 0), latest.get(r.id), tags.get(r.id, {})) for r in rows
        ]

    def get_dataset(self, name: str) -> Dataset:
        check_dataset_name(name)
        with self.engine.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            row = conn.execute(select(_datasets_t).where(_datasets_t.c.id == dataset_id)).one()
            count = conn.execute(
                select(func.count()).where(_versions_t.c.dataset_id == dataset_id)
            ).scalar_one()
            latest = None
            if row.latest is not None:
                latest = conn.execute(
                    _version_select().where(
                        _versions_t.c.dataset_id == dataset_id, _versions_t.c.hash == row.latest
                    )
                ).first()
            return _dataset(row, count, latest, self._dataset_tags(conn, dataset_id))

    # internals ---------------------------------------------------------------------------------

    def _dataset_id(
        self, conn: Connection, name: str, *, create: bool = False, now: float = 0.0
    ) -> int:
        found = conn.execute(select(_datasets_t.c.id).where(_datasets_t.c.name == name)).scalar()
        if found is not None:
            return int(found)
        if not create:
            names = list(
                conn.execute(select(_datasets_t.c.name).order_by(_datasets_t.c.name)).scalars()
            )
            known = ", ".join(names[:20]) + (", …" if len(names) > 20 else "")
            raise DatasetNotFound(f"no dataset {name!r} (datasets: {known or 'none yet'})")
        result = conn.execute(
            _datasets_t.insert(),
            {"name": name, "latest": None, "created_at": now, "updated_at": now},
        )
        return int(result.inserted_primary_key[0])

    def _dataset_select(
        self, conn: Connection, dataset_id: int, name: str, selector: str | None
    ) -> str:
        """The hash ``selector`` names (see :meth:`resolve_dataset_version`)."""
        if selector is None or selector == "latest":
            latest = conn.execute(
                select(_datasets_t.c.latest).where(_datasets_t.c.id == dataset_id)
            ).scalar()
            if latest is None:
                raise DatasetNotFound(f"dataset {name!r} has no versions")
            return str(latest)
        if not selector or selector != selector.strip():
            raise InvalidDatasetRef(f"{name}@{selector}: empty, or spaces around the version")
        tagged = conn.execute(
            select(_tags_t.c.hash).where(
                _tags_t.c.dataset_id == dataset_id, _tags_t.c.tag == selector
            )
        ).scalar()
        if tagged is not None:
            return str(tagged)
        algorithm, colon, hexpart = selector.partition(":")
        if not colon:
            algorithm, hexpart = ALGORITHM, selector
        if algorithm == ALGORITHM and _HEX.fullmatch(hexpart) and len(hexpart) >= MIN_PREFIX:
            hexpart = hexpart.lower()
            rows = list(
                conn.execute(
                    select(_versions_t.c.hash)
                    .where(
                        _versions_t.c.dataset_id == dataset_id,
                        _versions_t.c.hash.like(f"{ALGORITHM}:{hexpart}%"),
                    )
                    .order_by(_versions_t.c.hash)
                    .limit(6)
                ).scalars()
            )
            if len(rows) == 1:
                return str(rows[0])
            if len(rows) > 1:
                shown_ = ", ".join(r.partition(":")[2][:16] for r in rows[:5])
                more = "+" if len(rows) > 5 else ""
                raise InvalidDatasetRef(
                    f"{name}@{selector} is ambiguous: {len(rows)}{more} "
                    f"versions' hashes start with it ({shown_}); give more of the hash"
                )
        tags = _listed(self._dataset_tags(conn, dataset_id))
        if colon or (_HEX.fullmatch(hexpart) and len(hexpart) >= MIN_PREFIX):
            raise DatasetNotFound(
                f"dataset {name!r} has no tag {selector!r} and no version whose hash starts "
                f"with it ({tags})"
            )
        if _HEX.fullmatch(hexpart):
            tags += f"; a hash prefix needs at least {MIN_PREFIX} hex digits"
        raise DatasetNotFound(f"dataset {name!r} has no tag {selector!r} ({tags})")

    @staticmethod
    def _point_dataset_tag(
        conn: Connection, dataset_id: int, tag: str, digest: str, now: float
    ) -> None:
        moved = conn.execute(
            update(_tags_t)
            .where(_tags_t.c.dataset_id == dataset_id, _tags_t.c.tag == tag)
            .values(hash=digest, updated_at=now)
        )
        if moved.rowcount == 0:
            conn.execute(
                _tags_t.insert(),
                {"dataset_id": dataset_id, "tag": tag, "hash": digest, "updated_at": now},
            )

    @staticmethod
    def _dataset_tags(conn: Connection, dataset_id: int) -> dict[str, str]:
        return {
            t.tag: t.hash
            for t in conn.execute(
                select(_tags_t.c.tag, _tags_t.c.hash)
                .where(_tags_t.c.dataset_id == dataset_id)
                .order_by(_tags_t.c.tag)
            )
        }

    def _dataset_version(
        self, conn: Connection, dataset_id: int, name: str, digest: str
    ) -> DatasetVersion:
        row = conn.execute(
            _version_select().where(
                _versions_t.c.dataset_id == dataset_id, _versions_t.c.hash == digest
            )
        ).one()
        latest = conn.execute(
            select(_datasets_t.c.latest).where(_datasets_t.c.id == dataset_id)
        ).scalar()
        return _version(name, row, self._dataset_tags(conn, dataset_id), latest)

    @staticmethod
    def _dataset_uses(
        conn: Connection, versions: Sequence[tuple[str, str]]
    ) -> dict[str, tuple[DatasetUse, ...]]:
        """``ref -> runs that read it`` for ``(ref, snapshot digest)`` pairs (one query)."""
        digests = list(dict.fromkeys(d for _, d in versions))
        if not digests:
            return {}
        rows = conn.execute(
            select(
                _run_data_t.c.run_id,
                _run_data_t.c.name,
                _run_data_t.c.dataset,
                _run_data_t.c.snapshot_digest,
                _runs_t.c.number,
                _experiments_t.c.name.label("experiment"),
            )
            .join(_runs_t, _runs_t.c.id == _run_data_t.c.run_id)
            .join(_experiments_t, _experiments_t.c.id == _runs_t.c.experiment_id)
            .where(_run_data_t.c.role == "input", _run_data_t.c.snapshot_digest.in_(digests))
            .order_by(_runs_t.c.start_time, _run_data_t.c.name)
        ).all()
        out: dict[str, list[DatasetUse]] = {}
        for ref, snapshot in versions:
            seen: set[str] = set()
            for r in rows:
                if r.snapshot_digest != snapshot or (r.dataset is not None and r.dataset != ref):
                    continue
                if r.run_id in seen:  # one entry per run (it may read it under two names)
                    continue
                seen.add(r.run_id)
                use = DatasetUse(r.run_id, r.experiment, r.number, r.name, r.dataset)
                out.setdefault(ref, []).append(use)
        return {ref: tuple(uses) for ref, uses in out.items()}


def _version_select(*extra: Any) -> Any:
    return select(
        _versions_t.c.hash,
        _versions_t.c.snapshot_digest,
        _versions_t.c.message,
        _versions_t.c.meta,
        _versions_t.c.author,
        _versions_t.c.created_at,
        _snapshots_t.c.kind,
        _snapshots_t.c.rows,
        _snapshots_t.c.columns,
        _snapshots_t.c.nbytes,
        *extra,
    ).join(_snapshots_t, _snapshots_t.c.digest == _versions_t.c.snapshot_digest)


def _version(name: str, row: Any, tags: Mapping[str, str], latest: str | None) -> DatasetVersion:
    return DatasetVersion(
        dataset=name,
        hash=row.hash,
        snapshot_digest=row.snapshot_digest,
        kind=row.kind,
        message=row.message,
        meta=json.loads(row.meta),
        author=row.author,
        created_at=row.created_at,
        nbytes=row.nbytes,
        rows=row.rows,
        columns=row.columns,
        tags=tuple(sorted(t for t, h in tags.items() if h == row.hash)),
        latest=row.hash == latest,
    )


def _with_runs(version: DatasetVersion, uses: Sequence[DatasetUse]) -> DatasetVersion:
    return replace(version, runs=tuple(uses))


def _dataset(row: Any, count: int, latest: Any, tags: Mapping[str, str]) -> Dataset:
    return Dataset(
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version_count=int(count),
        latest=_version(row.name, latest, tags, row.latest) if latest is not None else None,
        tags=dict(tags),
    )


def _listed(tags: Mapping[str, str]) -> str:
    return "its tags: " + (", ".join(sorted(tags)) or "none")
