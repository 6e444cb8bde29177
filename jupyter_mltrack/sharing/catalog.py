"""Copying named datasets (versions and tags) and registered models (versions, aliases,
descriptions, tags).

A dataset version is named by the hash of its manifest (its snapshot's digest and the
user's meta), the same in every store: a version is copied as it is, hash, message, author
and time, once its snapshot is complete in the destination. A model version is identified
by what it registers (a run's model artifact), not by its number: a version the
destination has already is matched by (run, artifact); a new one keeps its number when the
destination has never given it (above its ``last_version``), else takes the next, so a
number deleted there is not given again.

Pointers (a dataset's tags and ``latest``, a model's aliases) are set where the destination
has none; where it points elsewhere, that is a conflict, reported and left. What people
write of a model and of each version (a description, tags such as ``validation=passed``
set after a first push) goes the same way: added where the destination has none, a
conflict where it has another. ``latest``
moves forward when the destination's latest is a version the source has too (the source
has seen it and pushed since); a dataset copied in part (the versions a run read) has the
newest of them as its latest until its own latest comes. Each dataset and each model is written in one transaction,
and only when something changes: copying again writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from ..store import Store
from ..store.models import (
    DatasetRow,
    DatasetTagRow,
    DatasetVersionRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
    RunRow,
)
from .report import Conflict, TransferReport
from .rows import rows_in, without

_datasets = DatasetRow.__table__
_versions = DatasetVersionRow.__table__
_dtags = DatasetTagRow.__table__
_models = RegisteredModelRow.__table__
_mversions = ModelVersionRow.__table__
_aliases = ModelAliasRow.__table__
_runs = RunRow.__table__


def _one(conn: Connection, table: Any, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(table).where(table.c.name == name)).first()
    return dict(row._mapping) if row is not None else None


# datasets ----------------------------------------------------------------------------------


def dataset_snapshots(src: Store, wanted: Mapping[str, set[str] | None]) -> list[str]:
    """The snapshots the versions to copy hold (``None``: every version of the dataset)."""
    out: list[str] = []
    with src.engine.connect() as conn:
        for name, hashes in wanted.items():
            found = _one(conn, _datasets, name)
            if found is None:
                continue
            for v in rows_in(conn, _versions, "dataset_id", [found["id"]]):
                if hashes is None or v["hash"] in hashes:
                    out.append(v["snapshot_digest"])
    return list(dict.fromkeys(out))


def copy_dataset(
    src: Store,
    dst: Store,
    name: str,
    hashes: set[str] | None,
    report: TransferReport,
    complete: Callable[[str], bool],
) -> None:
    """Copy dataset ``name``'s versions (those in ``hashes``, or all) whose snapshot
    ``complete`` says the destination has, and the tags pointing at them."""
    with src.engine.connect() as conn:
        mine = _one(conn, _datasets, name)
        if mine is None:
            return
        versions = [
            v
            for v in rows_in(conn, _versions, "dataset_id", [mine["id"]])
            if hashes is None or v["hash"] in hashes
        ]
        tags = {t["tag"]: t for t in rows_in(conn, _dtags, "dataset_id", [mine["id"]])}
        all_mine = {v["hash"] for v in rows_in(conn, _versions, "dataset_id", [mine["id"]])}
    with dst.engine.connect() as conn:
        theirs = _one(conn, _datasets, name)
        there: set[str] = set()
        their_tags: dict[str, str] = {}
        if theirs is not None:
            there = {v["hash"] for v in rows_in(conn, _versions, "dataset_id", [theirs["id"]])}
            their_tags = {
                t["tag"]: t["hash"] for t in rows_in(conn, _dtags, "dataset_id", [theirs["id"]])
            }
    new = [v for v in versions if v["hash"] not in there and complete(v["snapshot_digest"])]
    report.dataset_versions_skipped += sum(1 for v in versions if v["hash"] in there)
    after = there | {v["hash"] for v in new}
    set_tags = []
    for tag, row in sorted(tags.items()):
        if row["hash"] not in after or (hashes is not None and row["hash"] not in hashes):
            continue
        if tag not in their_tags:
            set_tags.append(row)
        elif their_tags[tag] != row["hash"]:
            report.conflicts.append(
                Conflict("dataset", name, f"tag {tag}", row["hash"], their_tags[tag])
            )
    latest = theirs["latest"] if theirs is not None else None
    new_latest = latest
    if mine["latest"] in after and mine["latest"] != latest:
        if latest is None or latest in all_mine:
            new_latest = mine["latest"]
        elif hashes is None:
            report.conflicts.append(Conflict("dataset", name, "latest", mine["latest"], latest))
    elif latest is None and new:  # some versions only (a run's): the newest of them
        new_latest = max(new, key=lambda v: (v["created_at"], v["hash"]))["hash"]
    if theirs is not None and not new and not set_tags and new_latest == latest:
        return
    with dst.engine.begin() as conn:
        written = 1
        if theirs is None:  # as the source has it, ``latest`` included (no key: a hash)
            row = {**without(mine, "id"), "latest": new_latest}
            dataset_id = int(conn.execute(_datasets.insert(), row).inserted_primary_key[0])
        else:
            dataset_id = theirs["id"]
            if new_latest != latest:  # moved when the source moved it
                when = max(theirs["updated_at"], mine["updated_at"])
                conn.execute(
                    update(_datasets)
                    .where(_datasets.c.id == dataset_id)
                    .values(latest=new_latest, updated_at=when)
                )
            else:
                written = 0
        if new:
            conn.execute(_versions.insert(), [{**v, "dataset_id": dataset_id} for v in new])
            written += len(new)
        if set_tags:
            conn.execute(_dtags.insert(), [{**t, "dataset_id": dataset_id} for t in set_tags])
            written += len(set_tags)
    report.rows_written += written
    report.dataset_versions_copied += len(new)
    report.dataset_tags_set += len(set_tags)


# models ------------------------------------------------------------------------------------


def model_runs(src: Store, names: list[str]) -> list[str]:
    """The runs the models' versions register (copied first, with their artifacts)."""
    with src.engine.connect() as conn:
        ids = [m["id"] for name in names if (m := _one(conn, _models, name)) is not None]
        rows = rows_in(conn, _mversions, "model_id", ids)
    return list(dict.fromkeys(r["run_id"] for r in rows))


def copy_model(src: Store, dst: Store, name: str, report: TransferReport) -> None:
    """Copy model ``name``: its versions whose run (and artifact) the destination has,
    and its aliases."""
    with src.engine.connect() as conn:
        mine = _one(conn, _models, name)
        if mine is None:
            return
        versions = rows_in(conn, _mversions, "model_id", [mine["id"]], _mversions.c.version)
        aliases = rows_in(conn, _aliases, "model_id", [mine["id"]])
    with dst.engine.connect() as conn:
        theirs = _one(conn, _models, name)
        their_versions = (
            rows_in(conn, _mversions, "model_id", [theirs["id"]]) if theirs is not None else []
        )
        their_aliases = (
            {a["alias"]: a["version"] for a in rows_in(conn, _aliases, "model_id", [theirs["id"]])}
            if theirs is not None
            else {}
        )
        runs_there = {r["id"] for r in rows_in(conn, _runs, "id", [v["run_id"] for v in versions])}
    by_target = {(v["run_id"], v["artifact"]): v["version"] for v in their_versions}
    # the destination's numbers given so far, deleted ones included: none is given again
    last = max([theirs["last_version"] if theirs else 0, *(v["version"] for v in their_versions)])
    number: dict[int, int] = {}  # source version -> destination version
    new = []
    for v in versions:
        key = (v["run_id"], v["artifact"])
        if key in by_target:
            number[v["version"]] = by_target[key]
            report.model_versions_skipped += 1
        elif v["run_id"] in runs_there:
            n = v["version"] if v["version"] > last else last + 1
            last = n
            number[v["version"]] = n
            new.append({**v, "version": n})
    set_aliases = []
    for a in sorted(aliases, key=lambda a: a["alias"]):
        target = number.get(a["version"])
        if target is None:
            continue
        if a["alias"] not in their_aliases:
            set_aliases.append({**a, "version": target})
        elif their_aliases[a["alias"]] != target:
            report.conflicts.append(
                Conflict(
                    "model",
                    name,
                    f"alias {a['alias']}",
                    f"version {target}",
                    f"version {their_aliases[a['alias']]}",
                )
            )
    # what people write of the model and of its versions (descriptions, tags): added where
    # the destination has none, a conflict where it has another (the destination's stays)
    model_edit = _merge_notes(report, name, "", mine, theirs) if theirs is not None else {}
    their_by_number = {v["version"]: v for v in their_versions}
    version_edits = []
    for v in versions:
        target = by_target.get((v["run_id"], v["artifact"]))
        if target is not None:
            edit = _merge_notes(report, name, f"version {target} ", v, their_by_number[target])
            if edit:
                version_edits.append((target, edit))
    if theirs is not None and not (new or set_aliases or model_edit or version_edits):
        return
    with dst.engine.begin() as conn:
        written = 0
        if theirs is None:  # with the source's last_version: its deleted numbers stay unused
            row = {**without(mine, "id"), "last_version": max(mine["last_version"], last)}
            model_id = int(conn.execute(_models.insert(), row).inserted_primary_key[0])
            written += 1
            report.models_copied += 1
        else:
            model_id = theirs["id"]
        if new:
            conn.execute(_mversions.insert(), [{**v, "model_id": model_id} for v in new])
            written += len(new)
        if set_aliases:
            conn.execute(_aliases.insert(), [{**a, "model_id": model_id} for a in set_aliases])
            written += len(set_aliases)
        for target, edit in version_edits:
            conn.execute(
                update(_mversions)
                .where(_mversions.c.model_id == model_id, _mversions.c.version == target)
                .values(**edit)
            )
            written += 1
        if theirs is not None:
            values: dict[str, Any] = {"updated_at": time.time(), "last_version": last}
            conn.execute(
                update(_models).where(_models.c.id == model_id).values(**values, **model_edit)
            )
            written += 1
    report.rows_written += written
    report.model_versions_copied += len(new)
    report.model_aliases_set += len(set_aliases)


def _merge_notes(
    report: TransferReport,
    name: str,
    prefix: str,
    mine: dict[str, Any],
    theirs: dict[str, Any],
) -> dict[str, Any]:
    """The columns to write so the destination's row (a model's, or a version's: ``prefix``
    ``"version 2 "``) holds what the source's says and it lacks: its description when it
    has none, the tag keys it has not. A description or a tag both hold differently is a
    conflict, reported, the destination's value kept."""
    edit: dict[str, Any] = {}
    said, kept = mine.get("description") or "", theirs.get("description") or ""
    if said and not kept:
        edit["description"] = said
    elif said and said != kept:
        report.conflicts.append(
            Conflict("model", name, f"{prefix}description", _cut(said), _cut(kept))
        )
    my_tags, their_tags = _json_tags(mine.get("tags")), _json_tags(theirs.get("tags"))
    for key in sorted(set(my_tags) & set(their_tags)):
        if my_tags[key] != their_tags[key]:
            report.conflicts.append(
                Conflict("model", name, f"{prefix}tag {key}", my_tags[key], their_tags[key])
            )
    if set(my_tags) - set(their_tags):
        edit["tags"] = json.dumps({**my_tags, **their_tags}, sort_keys=True)
    return edit


def _cut(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _json_tags(text: str | None) -> dict[str, str]:
    """A model's ``tags`` column read (``{}`` for none, or for what is not an object)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
