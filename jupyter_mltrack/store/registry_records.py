"""The model registry's rows: registered models, their versions and aliases.

A mixin of :class:`~.store.Store`. A version is a model artifact of a run, numbered from 1
within its model and never renumbered: the model's row keeps the last number it gave
(``last_version``), so deleting the newest versions does not hand their numbers out again.
An alias (``production``) names one version of a model and moves in one statement.
Registering takes the registry's lock for the transaction (SQLite's write lock, a row lock
on PostgreSQL), so two processes registering at once get consecutive numbers. Deleting a
whole model frees its name: registered again, it is a new model numbered from 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .base import StoreBase
from .entities import ModelVersion, RegisteredModel
from .errors import (
    ArtifactNotFound,
    ModelHasAliases,
    ModelNotFound,
    ModelRegistryConflict,
    VersionHasAliases,
)
from .models import (
    ArtifactRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
)
from .names import PLAIN_NAME, InvalidName, check_name, name_problem, shown, text_problem

#: The highest version number a model can have: ``model_versions.version`` is an ``INTEGER``,
#: 32 bits on PostgreSQL. A number outside ``1..MAX_VERSION`` names no version on either
#: backend, and is answered so without asking the database (SQLite cannot even bind one past
#: 64 bits: ``OverflowError``).
MAX_VERSION = 2**31 - 1

_models_t = RegisteredModelRow.__table__
_versions_t = ModelVersionRow.__table__
_aliases_t = ModelAliasRow.__table__
_artifacts_t = ArtifactRow.__table__


def check_registry_name(kind: str, name: str) -> str:
    """A new model or alias name: letters, digits and ``-_.``, starting with a letter or
    digit (:data:`~.names.PLAIN_NAME`, as a dataset's tag). Such a name reads one way in a
    reference (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``), needs no quoting on the
    command line and no escaping in a REST path, where ``..`` would be a step up.

    Only names being created are checked: a model or alias stored under an earlier, looser
    rule (``my model``) is still read, registered to, moved and deleted by its name."""
    if not isinstance(name, str):
        raise InvalidName(f"a {kind} name is text, not {type(name).__name__}")
    check_name(kind, name)
    if not PLAIN_NAME.fullmatch(name):
        raise InvalidName(
            f"{kind} name {shown(name)}: use letters, digits and -_., starting with a letter "
            "or digit (no spaces, '/', '@' or ':')"
        )
    return name


class RegistryRecords(StoreBase):
    """Registered models, versions and aliases."""

    def register_model_version(
        self,
        name: str,
        run_id: str,
        artifact: str,
        *,
        description: str = "",
        tags: Mapping[str, object] | None = None,
    ) -> ModelVersion:
        """Add the model artifact ``artifact`` of ``run_id`` as the next version of ``name``
        (created if new: :func:`check_registry_name`), described and tagged. Registering
        the same artifact again returns its version, ``tags`` set on it (its description
        kept)."""
        return self.add_model_version(name, run_id, artifact, description=description, tags=tags)[0]

    def add_model_version(
        self,
        name: str,
        run_id: str,
        artifact: str,
        *,
        description: str = "",
        tags: Mapping[str, object] | None = None,
    ) -> tuple[ModelVersion, bool]:
        """:meth:`register_model_version`, and whether the version is new: ``(version,
        created)``, as :meth:`add_dataset_version` answers. ``created`` is decided in the
        transaction that registers, so a caller reporting it (the REST API's 201 or 200)
        is right even when another process registers the same artifact at the same time.
        The tags go in the same transaction: no version is ever seen without them."""
        check_name("model", name)
        check_text("description", description)
        new_tags = check_version_tags(tags or {})
        now = time.time()
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    # the run's row first: an artifact being replaced waits, or is waited
                    # for (see ArtifactRecords._replace)
                    self._take_run(conn, run_id)
                    # then, so a bad new name is said before what is wrong with the artifact
                    # (a model created here goes with the transaction if the artifact fails)
                    model_id = self._model_id(conn, name, create=True, now=now)
                    kind = conn.execute(
                        select(_artifacts_t.c.kind).where(
                            _artifacts_t.c.run_id == run_id,
                            _artifacts_t.c.name == artifact,
                            _artifacts_t.c.status == "complete",
                        )
                    ).scalar()
                    if kind is None:
                        raise ArtifactNotFound(f"run {run_id} has no artifact {artifact!r}")
                    if kind != "model":
                        raise ModelRegistryConflict(
                            f"artifact {artifact!r} of run {run_id} is a {kind}, not a model: "
                            "log it with mltrack.log_model to register it"
                        )
                    same = conn.execute(
                        select(_versions_t.c.version).where(
                            _versions_t.c.model_id == model_id,
                            _versions_t.c.run_id == run_id,
                            _versions_t.c.artifact == artifact,
                        )
                    ).scalar()
                    if same is not None:
                        if new_tags:
                            self._merge_tags(conn, model_id, same, new_tags, now)
                        return self._version(conn, name, model_id, same), False
                    version = self._next_version(conn, model_id)
                    conn.execute(
                        _versions_t.insert(),
                        {
                            "model_id": model_id,
                            "version": version,
                            "run_id": run_id,
                            "artifact": artifact,
                            "description": description,
                            "tags": json.dumps(new_tags, sort_keys=True),
                            "created_at": now,
                        },
                    )
                    conn.execute(
                        update(_models_t)
                        .where(_models_t.c.id == model_id)
                        .values(updated_at=now, last_version=version)
                    )
                    self._touch(conn, run_id)  # its detail lists the version
                    return self._version(conn, name, model_id, version), True
            except IntegrityError:  # another process took this number (or created the name)
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def check_model_name(self, name: str) -> str:
        """``name`` if a version can be registered under it: a new name that follows
        :func:`check_registry_name`, or the name of a model registered before that rule.
        For callers that must refuse before they write what the registration needs
        (``log_model(..., register=name)``); the database is read only for a name the rule
        refuses."""
        try:
            return check_registry_name("model", name)
        except InvalidName:
            if isinstance(name, str) and name_problem(name) is None:
                with self.engine.connect() as conn:
                    found = conn.execute(
                        select(_models_t.c.id).where(_models_t.c.name == name)
                    ).scalar()
                if found is not None:
                    return name
            raise

    def set_model_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` of model ``name`` at ``version`` (moving it if it pointed
        elsewhere). Aliases are names, not numbers: ``3`` or ``latest`` are refused. A new
        alias follows :func:`check_registry_name`; one stored before that rule still moves."""
        check_name("alias", alias)
        if alias.isdigit() or alias == "latest":
            raise InvalidName(
                f"alias {alias!r} would read as a version; pick a name such as 'production'"
            )
        now = time.time()
        with self.engine.begin() as conn:
            model_id = self._model_id(conn, name, lock=True)
            before = conn.execute(
                select(_aliases_t.c.version).where(
                    _aliases_t.c.model_id == model_id, _aliases_t.c.alias == alias
                )
            ).scalar()
            if before is None:
                check_registry_name("alias", alias)
            self._check_version(conn, name, model_id, version)
            moved = conn.execute(
                update(_aliases_t)
                .where(_aliases_t.c.model_id == model_id, _aliases_t.c.alias == alias)
                .values(version=version, updated_at=now)
            )
            if moved.rowcount == 0:
                conn.execute(
                    _aliases_t.insert(),
                    {"model_id": model_id, "alias": alias, "version": version, "updated_at": now},
                )
            conn.execute(update(_models_t).where(_models_t.c.id == model_id).values(updated_at=now))
            self._touch_versions(conn, model_id, {version, before})
            return self._version(conn, name, model_id, version)

    def delete_model_alias(self, name: str, alias: str) -> None:
        with self.engine.begin() as conn:
            model_id = self._model_id(conn, name)
            held = conn.execute(
                select(_aliases_t.c.version).where(
                    _aliases_t.c.model_id == model_id, _aliases_t.c.alias == alias
                )
            ).scalar()
            self._touch_versions(conn, model_id, {held})
            gone = conn.execute(
                delete(_aliases_t).where(
                    _aliases_t.c.model_id == model_id, _aliases_t.c.alias == alias
                )
            )
            if gone.rowcount == 0:
                raise ModelNotFound(f"model {name!r} has no alias {alias!r}")

    def delete_model_version(self, name: str, version: int, *, force: bool = False) -> None:
        """Delete a version. One an alias points at is kept unless ``force`` (then its
        aliases go with it): deleting the model in production by accident is worse than
        being asked."""
        with self.engine.begin() as conn:
            # the model's row first: an alias set on this version meanwhile is seen below
            # (or waits), not deleted with it unasked
            model_id = self._model_id(conn, name, lock=True)
            self._check_version(conn, name, model_id, version)
            held = list(
                conn.execute(
                    select(_aliases_t.c.alias)
                    .where(_aliases_t.c.model_id == model_id, _aliases_t.c.version == version)
                    .order_by(_aliases_t.c.alias)
                ).scalars()
            )
            if held and not force:
                raise VersionHasAliases(name, version, held)
            self._touch_versions(conn, model_id, {version})
            conn.execute(
                delete(_aliases_t).where(
                    _aliases_t.c.model_id == model_id, _aliases_t.c.version == version
                )
            )
            conn.execute(
                delete(_versions_t).where(
                    _versions_t.c.model_id == model_id, _versions_t.c.version == version
                )
            )

    def delete_registered_model(self, name: str, *, force: bool = False) -> None:
        """Delete model ``name`` with its versions and aliases, in one transaction. The
        runs and their model artifacts stay: they are the runs' (a run no version names
        any more can then be deleted). Refused (:class:`ModelHasAliases`) while an alias
        points into the model, unless ``force``: an alias is what someone loads
        (``models:/churn@production``), as for :meth:`delete_model_version`.

        The name is free afterwards: registering under it again creates a new model whose
        versions are numbered from 1, as MLflow does. Numbers are never reused *within* a
        model (``last_version``), but the deleted model's go with it, so whatever pinned
        ``models:/churn/2`` before loads the new model's version 2 once it has one.

        The runs of the deleted versions are marked changed, so the sidebar's poll sees the
        registry change (a model that had no versions left touches no run: the Models
        section shows it gone on its next refresh)."""
        with self.engine.begin() as conn:
            model_id = self._model_id(conn, name, lock=True)
            held = self._aliases(conn, model_id)
            if held and not force:
                raise ModelHasAliases(name, held)
            runs = list(
                conn.execute(
                    select(_versions_t.c.run_id)
                    .where(_versions_t.c.model_id == model_id)
                    .distinct()
                    .order_by(_versions_t.c.run_id)
                ).scalars()
            )
            for run_id in runs:  # their details list the versions
                self._touch(conn, run_id)
            conn.execute(delete(_aliases_t).where(_aliases_t.c.model_id == model_id))
            conn.execute(delete(_versions_t).where(_versions_t.c.model_id == model_id))
            conn.execute(delete(_models_t).where(_models_t.c.id == model_id))

    def resolve_model_version(
        self, name: str, *, version: int | None = None, alias: str | None = None
    ) -> ModelVersion:
        """The version ``version``, the one ``alias`` names, or (neither) the latest."""
        with self.engine.connect() as conn:
            model_id = self._model_id(conn, name)
            if alias is not None:
                found = conn.execute(
                    select(_aliases_t.c.version).where(
                        _aliases_t.c.model_id == model_id, _aliases_t.c.alias == alias
                    )
                ).scalar()
                if found is None:
                    known = self._aliases(conn, model_id)
                    listed = ", ".join(f"@{a}" for a in sorted(known)) or "none"
                    raise ModelNotFound(
                        f"model {name!r} has no alias {alias!r} (its aliases: {listed})"
                    )
                version = found
            elif version is None:
                version = conn.execute(
                    select(func.max(_versions_t.c.version)).where(
                        _versions_t.c.model_id == model_id
                    )
                ).scalar()
                if version is None:
                    raise ModelNotFound(f"model {name!r} has no versions")
            else:
                self._check_version(conn, name, model_id, version)
            return self._version(conn, name, model_id, version)

    def list_registered_models(
        self, *, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModel]:
        """Every registered model with its versions and aliases, by name; with ``tags``,
        only those whose own tags hold each of these values (MLflow's
        ``search_registered_models("tags.team = 'growth'")``). A registry holds tens of
        models: they are filtered once read, not in SQL (the tags are one JSON column)."""
        with self.engine.connect() as conn:
            models = conn.execute(select(_models_t).order_by(_models_t.c.name)).all()
            versions: dict[int, list[Any]] = {}
            for v in conn.execute(select(_versions_t).order_by(_versions_t.c.version)):
                versions.setdefault(v.model_id, []).append(v)
            aliases: dict[int, dict[str, int]] = {}
            for a in conn.execute(select(_aliases_t).order_by(_aliases_t.c.alias)):
                aliases.setdefault(a.model_id, {})[a.alias] = a.version
        found = [_model(m, versions.get(m.id, []), aliases.get(m.id, {})) for m in models]
        wanted = dict(tags or {})
        return [m for m in found if all(m.tags.get(k) == v for k, v in wanted.items())]

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.engine.connect() as conn:
            return self._model_in(conn, self._model_id(conn, name))

    def _model_in(self, conn: Connection, model_id: int) -> RegisteredModel:
        """The model as ``conn`` sees it: its row, versions (oldest first) and aliases."""
        row = conn.execute(select(_models_t).where(_models_t.c.id == model_id)).one()
        versions = conn.execute(
            select(_versions_t)
            .where(_versions_t.c.model_id == model_id)
            .order_by(_versions_t.c.version)
        ).all()
        return _model(row, versions, self._aliases(conn, model_id))

    def set_model_description(self, name: str, description: str) -> None:
        """Describe model ``name`` (what it predicts, for whom): shown with it everywhere."""
        self.update_registered_model(name, description=description)

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, object] | None = None,
        delete_tags: Iterable[str] = (),
    ) -> RegisteredModel:
        """Describe model ``name`` and set or delete its own tags (``team=growth``, as
        MLflow's registered model tags), in one transaction; the model afterwards. Deleting
        a tag the model does not have is :class:`ModelNotFound`, naming the tags it has."""
        if description is not None:
            check_text("description", description)
        new_tags, gone = _tag_edit(set_tags, delete_tags)
        with self.engine.begin() as conn:
            # the model's row first: two edits of its tags take turns, neither losing keys
            model_id = self._model_id(conn, name, lock=True)
            where = _models_t.c.id == model_id
            tags = _edited(
                _tags(conn.execute(select(_models_t.c.tags).where(where)).scalar()),
                new_tags,
                gone,
                f"model {name!r}",
            )
            values: dict[str, Any] = {"tags": json.dumps(tags, sort_keys=True)}
            if description is not None:
                values["description"] = description
            conn.execute(update(_models_t).where(where).values(updated_at=time.time(), **values))
            # the sidebar re-reads the registry when the runs' revision moves
            versions = select(_versions_t.c.version).where(_versions_t.c.model_id == model_id)
            self._touch_versions(conn, model_id, set(conn.execute(versions).scalars()))
            return self._model_in(conn, model_id)

    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        delete_tags: Iterable[str] = (),
    ) -> ModelVersion:
        """Describe version ``version`` of ``name`` and set or delete its tags, in one
        transaction; the version afterwards. Tags are how a team records what happened to a
        version outside the run (``validation=passed``, ``approved_by=ana``), as MLflow's
        model version tags; deleting a tag the version does not have is
        :class:`ModelNotFound`, naming the tags it has."""
        if description is not None:
            check_text("description", description)
        new_tags, gone = _tag_edit(set_tags, delete_tags)
        now = time.time()
        with self.engine.begin() as conn:
            # the model's row first, as the other registry writes: two edits of the same
            # version's tags take turns, and neither loses the other's keys
            model_id = self._model_id(conn, name, lock=True)
            self._check_version(conn, name, model_id, version)
            where = (_versions_t.c.model_id == model_id, _versions_t.c.version == version)
            tags = _edited(
                _tags(conn.execute(select(_versions_t.c.tags).where(*where)).scalar()),
                new_tags,
                gone,
                f"version {version} of model {name!r}",
            )
            values: dict[str, Any] = {"tags": json.dumps(tags, sort_keys=True)}
            if description is not None:
                values["description"] = description
            conn.execute(update(_versions_t).where(*where).values(**values))
            conn.execute(update(_models_t).where(_models_t.c.id == model_id).values(updated_at=now))
            self._touch_versions(conn, model_id, {version})
            return self._version(conn, name, model_id, version)

    def _merge_tags(
        self, conn: Connection, model_id: int, version: int, tags: Mapping[str, str], now: float
    ) -> None:
        """Set ``tags`` on a version (keys not named keep their values), in ``conn``'s
        transaction, which holds the model's row."""
        where = (_versions_t.c.model_id == model_id, _versions_t.c.version == version)
        current = _tags(conn.execute(select(_versions_t.c.tags).where(*where)).scalar())
        merged = _edited(dict(current), tags, [], "")
        if merged == current:
            return  # already so: nothing to write
        conn.execute(
            update(_versions_t).where(*where).values(tags=json.dumps(merged, sort_keys=True))
        )
        conn.execute(update(_models_t).where(_models_t.c.id == model_id).values(updated_at=now))
        self._touch_versions(conn, model_id, {version})

    def versions_of_runs(self, run_ids: Iterable[str]) -> dict[str, list[ModelVersion]]:
        """``run id -> the registered versions of its artifacts``."""
        ids = list(dict.fromkeys(run_ids))
        out: dict[str, list[ModelVersion]] = {}
        if not ids:
            return out
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_versions_t, _models_t.c.name)
                .join(_models_t, _models_t.c.id == _versions_t.c.model_id)
                .where(_versions_t.c.run_id.in_(ids))
                .order_by(_models_t.c.name, _versions_t.c.version)
            ).all()
            for r in rows:
                held = self._aliases(conn, r.model_id)
                out.setdefault(r.run_id, []).append(_version(r.name, r, held))
        return out

    # internals ---------------------------------------------------------------------------------

    def _model_id(
        self,
        conn: Connection,
        name: str,
        *,
        create: bool = False,
        lock: bool = False,
        now: float = 0.0,
    ) -> int:
        """The id of model ``name``; :class:`ModelNotFound` listing the models there are,
        unless ``create`` (then a new model, its name checked).

        ``create`` and ``lock`` first take the model's row for the transaction, with an
        ``UPDATE`` that changes nothing: a row lock on PostgreSQL, the database's write lock
        on SQLite (whose driver begins a transaction at its first write: reads before it
        would not see a deletion committed after them). So registrations number versions
        one at a time, an alias is not set on a model being deleted, and a model being
        deleted gets no version meanwhile: whoever waited for the deletion finds the name
        gone (a registration then creates the model anew).

        A model created by another transaction between that ``UPDATE`` and the ``SELECT``
        (PostgreSQL reads each statement of a transaction afresh) is found unlocked: its row
        is taken then. Without that, two registrations creating a model at once could both
        number a version unlocked, each then waiting for the other: a deadlock."""
        locked = (create or lock) and self._lock_model(conn, name)
        found = conn.execute(select(_models_t.c.id).where(_models_t.c.name == name)).scalar()
        if found is not None:
            if (create or lock) and not locked:
                self._lock_model(conn, name)
            return found
        if not create:
            names = list(
                conn.execute(select(_models_t.c.name).order_by(_models_t.c.name)).scalars()
            )
            known = ", ".join(repr(n) for n in names[:20]) or "none yet"
            raise ModelNotFound(f"no registered model {name!r} (registered: {known})")
        check_registry_name("model", name)
        result = conn.execute(
            _models_t.insert(),
            {"name": name, "description": "", "created_at": now, "updated_at": now},
        )
        return int(result.inserted_primary_key[0])

    @staticmethod
    def _lock_model(conn: Connection, name: str) -> bool:
        """Take the row of model ``name`` for the transaction (see :meth:`_model_id`);
        whether there was one to take."""
        return bool(
            conn.execute(
                update(_models_t)
                .where(_models_t.c.name == name)
                .values(updated_at=_models_t.c.updated_at)
            ).rowcount
        )

    @staticmethod
    def _next_version(conn: Connection, model_id: int) -> int:
        """The number the model's next version takes: one past the last it was given
        (``last_version``), which deleting versions leaves as it is. The highest version
        present counts too, so a row written without raising ``last_version`` can never
        make every registration collide with it."""
        last = conn.execute(
            select(
                _models_t.c.last_version,
                select(func.max(_versions_t.c.version))
                .where(_versions_t.c.model_id == model_id)
                .scalar_subquery(),
            ).where(_models_t.c.id == model_id)
        ).one()
        return max(last[0] or 0, last[1] or 0) + 1

    def _touch_versions(self, conn: Connection, model_id: int, versions: set[int | None]) -> None:
        """Mark the runs of ``versions`` changed (their details list the registry's names
        for them): the sidebar's cheap poll then shows an alias that moved."""
        wanted = [v for v in versions if v is not None]
        if not wanted:
            return
        for run_id in conn.execute(
            select(_versions_t.c.run_id).where(
                _versions_t.c.model_id == model_id, _versions_t.c.version.in_(wanted)
            )
        ).scalars():
            self._touch(conn, run_id)

    @staticmethod
    def _check_version(conn: Connection, name: str, model_id: int, version: int) -> None:
        """:class:`ModelNotFound` unless model ``model_id`` has ``version``. Every method
        given a version number checks it here first, so a number no version can have
        (0, ``10**23``) is "no version N" for the REST API, the CLI and ``mltrack.*``
        alike, rather than a database error."""
        found = None
        if 1 <= version <= MAX_VERSION:
            found = conn.execute(
                select(_versions_t.c.version).where(
                    _versions_t.c.model_id == model_id, _versions_t.c.version == version
                )
            ).scalar()
        if found is None:
            listed = list(
                conn.execute(
                    select(_versions_t.c.version)
                    .where(_versions_t.c.model_id == model_id)
                    .order_by(_versions_t.c.version)
                ).scalars()
            )
            shown = ", ".join(str(v) for v in listed) or "none"
            raise ModelNotFound(f"model {name!r} has no version {version} (versions: {shown})")

    @staticmethod
    def _aliases(conn: Connection, model_id: int) -> dict[str, int]:
        return {
            a.alias: a.version
            for a in conn.execute(
                select(_aliases_t.c.alias, _aliases_t.c.version).where(
                    _aliases_t.c.model_id == model_id
                )
            )
        }

    def _version(self, conn: Connection, name: str, model_id: int, version: int) -> ModelVersion:
        row = conn.execute(
            select(_versions_t).where(
                _versions_t.c.model_id == model_id, _versions_t.c.version == version
            )
        ).one()
        return _version(name, row, self._aliases(conn, model_id))


def _version(name: str, row: Any, aliases: dict[str, int]) -> ModelVersion:
    return ModelVersion(
        model=name,
        version=row.version,
        run_id=row.run_id,
        artifact=row.artifact,
        created_at=row.created_at,
        description=row.description,
        aliases=tuple(sorted(a for a, v in aliases.items() if v == row.version)),
        tags=_tags(row.tags),
    )


def _tags(text: str | None) -> dict[str, str]:
    """A version's tags column as a dict (``{}`` when empty or, never expected, not a JSON
    object: a listing must not fail on one row)."""
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


#: Longest tag value and description kept (characters): a note, not a file.
MAX_TAG_VALUE = 5_000
MAX_DESCRIPTION = 20_000


def check_text(kind: str, text: object, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` if a description or tag value can be stored, else :class:`InvalidName`."""
    if not isinstance(text, str):
        raise InvalidName(f"a {kind} is text, not {type(text).__name__}")
    problem = text_problem(text)
    if problem is None and len(text) > limit:
        problem = f"at most {limit:,} characters, this one has {len(text):,}"
    if problem is not None:
        raise InvalidName(f"{kind}: {problem.removeprefix('its value ')}")
    return text


def check_version_tags(tags: Mapping[str, object]) -> dict[str, str]:
    """Tags as stored: keys are names (:func:`~.names.check_name`), values text; numbers and
    booleans are written as text (``0.93``, ``True``), as a run's tags are. ``None`` is
    refused: deleting a tag is asked for by name."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key.strip():
            raise InvalidName(f"a tag key is non-empty text, not {key!r}")
        check_name("tag", key)
        if isinstance(value, bool | int | float) and not isinstance(value, str):
            value = str(value)
        out[key] = check_text(f"tag {shown(key)}", value, MAX_TAG_VALUE)
    return out


def _tag_edit(
    set_tags: Mapping[str, object] | None, delete_tags: Iterable[str]
) -> tuple[dict[str, str], list[str]]:
    """``(tags to set, checked; keys to delete)``, refused before any transaction when a
    key is both set and deleted."""
    new_tags = check_version_tags(set_tags or {})
    gone = list(dict.fromkeys(delete_tags))
    both = sorted(set(gone) & set(new_tags))
    if both:
        raise InvalidName(f"tag {shown(both[0])} is both set and deleted")
    return new_tags, gone


def _edited(
    tags: dict[str, str], new: Mapping[str, str], gone: list[str], of: str
) -> dict[str, str]:
    """``tags`` with ``gone`` deleted and ``new`` set; :class:`ModelNotFound` for a key to
    delete that ``of`` (``model 'churn'``) lacks, naming those it has."""
    missing = [key for key in gone if key not in tags]
    if missing:
        have = ", ".join(sorted(tags)) or "none"
        raise ModelNotFound(f"{of} has no tag {shown(missing[0])} (its tags: {have})")
    for key in gone:
        del tags[key]
    tags.update(new)
    return tags


def _model(row: Any, versions: list[Any], aliases: dict[str, int]) -> RegisteredModel:
    return RegisteredModel(
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        versions=tuple(_version(row.name, v, aliases) for v in versions),
        aliases=dict(aliases),
        tags=_tags(row.tags),
    )
