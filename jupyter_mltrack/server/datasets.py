"""What the REST API does for named, versioned datasets, with no HTTP in it.

As :mod:`.models` does for the registry: handlers pass path parts, query arguments and
bodies here and write back what comes back. A dataset version is a snapshot plus meta
(:mod:`jupyter_mltrack.datasets`), so its row preview and the diff of two versions are the
snapshot routes' own (:func:`.api.snapshot_rows`, :func:`.api.diff_snapshots`) called on the
versions' snapshot digests: one implementation of reading rows and comparing data, whichever
way a client names the data.

Refusals are :class:`~.api.ApiError`: 404 for a dataset, tag or hash prefix that names
nothing (the message lists what there is), 400 for a name, tag or reference that cannot be
read (an ambiguous hash prefix, ``latest`` as a tag).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store.entities import Dataset, DatasetVersion
from ..store.errors import DatasetNotFound, InvalidQuery
from ..store.names import InvalidName, check_name
from .api import (
    DIFF_PARAMS,
    ApiError,
    _known_args,
    _single,
    bad_request,
    diff_snapshots,
    snapshot_rows,
)

if TYPE_CHECKING:
    from ..snapshots.storage import Snapshotter

#: Most versions one ``GET datasets/{dataset}`` lists (newest first), with the runs of each.
MAX_VERSIONS = 500
#: Query parameters of the diff: the two versions, and the snapshot diff's own.
DIFF_VERSION_PARAMS = ("from", "to")
TAG_FIELDS = ("version",)


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, DatasetNotFound):
        return ApiError(404, str(exc))
    return bad_request(str(exc))


#: What the store raises for a name or reference the API reports as a 404 or a 400.
_STORE_REFUSALS = (DatasetNotFound, InvalidQuery, InvalidName)


def version_json(version: DatasetVersion, *, runs: bool = True) -> dict[str, Any]:
    """A version as the API shows it; ``runs`` left out where they were not looked up (a
    listing's latest version), rather than shown as an empty list, which says "none"."""
    data = version.to_dict()
    if not runs:
        del data["runs"]
    return data


def dataset_json(dataset: Dataset) -> dict[str, Any]:
    """A dataset as listed: its latest version (without runs), tags and size."""
    latest = dataset.latest
    return {
        **dataset.to_dict(),
        "latest": version_json(latest, runs=False) if latest is not None else None,
        "nbytes": latest.nbytes if latest is not None else None,
    }


def _text(kind: str, value: str) -> str:
    """``value`` if the store can look it up (no NUL, no lone surrogate, not too long): a
    400 otherwise, before any query is sent with it."""
    try:
        return check_name(kind, value)
    except InvalidName as exc:
        raise bad_request(str(exc)) from None


def _name(name: str) -> str:
    return _text("dataset name", name)


def _version(store: Store, name: str, selector: str | None) -> DatasetVersion:
    """The version ``selector`` (a tag, ``latest``, a hash or its prefix) names in ``name``."""
    if selector is not None:
        _text("dataset version", selector)
    try:
        return store.resolve_dataset_version(_name(name), selector)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None


# reading -------------------------------------------------------------------------------------


def list_datasets(store: Store) -> dict[str, Any]:
    """``GET datasets``: every dataset by name."""
    return {"datasets": [dataset_json(d) for d in store.list_datasets()]}


def get_dataset(store: Store, name: str) -> dict[str, Any]:
    """``GET datasets/{dataset}``: the dataset and its versions, newest first, each with its
    tags and the runs that read it."""
    try:
        dataset = store.get_dataset(_name(name))
        versions = store.dataset_versions(dataset.name, uses=True)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return {
        "dataset": dataset_json(dataset),
        "versions": [version_json(v) for v in versions[:MAX_VERSIONS]],
        "total": len(versions),
    }


def get_version(store: Store, name: str, selector: str) -> dict[str, Any]:
    """``GET datasets/{dataset}/versions/{selector}``: the version's record, the manifest
    its hash is taken of, and its snapshot's schema and statistics; no data is read."""
    from ..datasets.api import manifest_with

    version = _version(store, name, selector)
    browsed = manifest_with(store, version)
    data = browsed.to_dict()
    data["version"] = version_json(replace(version, runs=tuple(store.dataset_uses(version))))
    return data


def version_rows(
    snapshotter: Snapshotter, name: str, selector: str, args: Mapping[str, list[str]]
) -> dict[str, Any]:
    """``GET datasets/{dataset}/versions/{selector}/rows``: the snapshot preview of the
    version's data (same answer, same limits as ``snapshots/{ref}/rows``)."""
    version = _version(snapshotter.store, name, selector)
    return snapshot_rows(snapshotter, version.snapshot_digest, args)


def diff_versions(
    snapshotter: Snapshotter, name: str, args: Mapping[str, list[str]]
) -> dict[str, Any]:
    """``GET datasets/{dataset}/diff?from=A&to=B``: the snapshot diff of two versions (what
    ``snapshots/{a}/diff/{b}`` answers for their snapshots), the two versions, and their
    meta when it differs (the meta is part of a version, not of its snapshot)."""
    args = _known_args(args, (*DIFF_VERSION_PARAMS, *DIFF_PARAMS))
    picked = {key: _single(args, key) for key in DIFF_VERSION_PARAMS}
    missing = [key for key, value in picked.items() if not value]
    if missing:
        raise bad_request(
            f"give the two versions to compare: from and to (a tag, 'latest', or a hash "
            f"prefix), e.g. ?from=v1&to=latest; missing {', '.join(missing)}"
        )
    a = _version(snapshotter.store, name, picked["from"])
    b = _version(snapshotter.store, name, picked["to"])
    rest = {k: v for k, v in args.items() if k not in DIFF_VERSION_PARAMS}
    diff = diff_snapshots(snapshotter, a.snapshot_digest, b.snapshot_digest, rest)
    return {
        "dataset": a.dataset,
        "from": version_json(a, runs=False),
        "to": version_json(b, runs=False),
        "meta": {"from": a.meta, "to": b.meta} if a.meta != b.meta else None,
        "diff": diff,
    }


# tags ----------------------------------------------------------------------------------------


def set_tag(store: Store, name: str, tag: str, body: Any) -> dict[str, Any]:
    """``POST datasets/{dataset}/tags/{tag}`` ``{"version": "<selector>"}``: point the tag
    at that version, moving it from the one it named before (``previous``)."""
    if not isinstance(body, dict) or set(body) - set(TAG_FIELDS) or "version" not in body:
        raise bad_request(
            'the body must be {"version": "<a tag, latest, or a hash prefix>"}: the version '
            "the tag is to name"
        )
    selector = body["version"]
    if not isinstance(selector, str) or not selector.strip():
        raise bad_request("'version' must be a non-empty string (a tag, latest, a hash prefix)")
    _text("dataset version", selector)
    _text("tag", tag)
    try:
        from ..store.dataset_records import check_dataset_tag

        check_dataset_tag(tag)  # said before whether the dataset exists
        version, before = store.move_dataset_tag(_name(name), tag, selector)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return {
        "dataset": version.dataset,
        "tag": tag,
        "previous": before if before != version.hash else None,
        "moved": before is not None and before != version.hash,
        "version": version_json(version, runs=False),
    }


def delete_tag(store: Store, name: str, tag: str) -> None:
    """``DELETE datasets/{dataset}/tags/{tag}``: the tag goes; its version stays."""
    _text("tag", tag)
    try:
        store.delete_dataset_tag(_name(name), tag)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
