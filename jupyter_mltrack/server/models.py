"""What the REST API does for artifacts and the model registry, with no HTTP in it.

As :mod:`.api`: handlers pass query arguments and bodies here and write back what comes
back; refusals are :class:`~.api.ApiError` with the status a client acts on (404 for a
name that does not exist, 409 for a change the registry refuses, 400 for a bad request).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, BinaryIO

from ..models.artifacts import open_file
from ..models.lineage import lineage as build_lineage
from ..models.lineage import model_summary
from ..models.preview import preview
from ..models.refs import ModelRef, ModelRefError, load_call
from ..store import RunNotFound, Store
from ..store.entities import Artifact, ModelVersion, iso
from ..store.errors import (
    ArtifactNotFound,
    ModelHasAliases,
    ModelNotFound,
    ModelRegistryConflict,
    VersionHasAliases,
)
from ..store.names import InvalidName
from .api import ApiError, _known_args, _single, bad_request, flag, resolve_run

PREVIEW_PARAMS = ("path",)
LINEAGE_PARAMS = ("version", "alias", "figure")
DELETE_VERSION_PARAMS = ("force",)
DELETE_MODEL_PARAMS = ("force",)
#: What a model's signature holds per example row: left out of listings (a run's detail, its
#: artifacts), which show the schema; the lineage and ``mltrack.model_meta`` have them.
_SIGNATURE_ROWS = ("examples", "predictions", "probabilities")
#: Most versions a model's detail reads the run of (newest first): one store call each.
MAX_DETAIL_VERSIONS = 200


def _refused(exc: Exception) -> ApiError:
    """The store's refusal as the API's: absent names are 404, conflicts 409."""
    if isinstance(exc, RunNotFound | ArtifactNotFound | ModelNotFound | KeyError):
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return ApiError(404, str(message))
    if isinstance(exc, ModelRegistryConflict):
        return ApiError(409, str(exc), reason="conflict")
    return bad_request(str(exc))


_STORE_REFUSALS = (
    RunNotFound,
    ArtifactNotFound,
    ModelNotFound,
    ModelRegistryConflict,
    InvalidName,
    ModelRefError,
    KeyError,
)


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    """An artifact as the API shows it: a model's example rows stay out of listings (its
    detail and lineage have them)."""
    data = artifact.to_dict()
    if artifact.kind == "model":
        data["model"] = model_summary(artifact)
        signature = data["meta"].get("signature")
        if isinstance(signature, dict):  # the schema stays; the rows go
            data["meta"] = {
                **data["meta"],
                "signature": {k: v for k, v in signature.items() if k not in _SIGNATURE_ROWS},
            }
    return data


# artifacts -------------------------------------------------------------------------------------


def list_artifacts(store: Store, run_ref: str) -> dict[str, Any]:
    """``GET runs/{id}/artifacts``: ``{id}`` a run's id, id prefix or number, as the CLI's
    ``artifacts list`` takes it."""
    run_id = resolve_run(store, run_ref)
    try:
        artifacts = store.list_artifacts(run_id)
        versions = run_versions_json(store, run_id, artifacts)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return {"artifacts": [artifact_json(a) for a in artifacts], "models": versions}


def run_versions_json(store: Store, run_id: str, artifacts: list[Artifact]) -> list[dict[str, Any]]:
    """The registered versions of the run's models (``artifacts``: the run's), each with
    the call that loads it by the registry: what a run's detail and artifact listing show."""
    trust = {a.name: a.meta for a in artifacts if a.kind == "model"}
    versions = store.versions_of_runs([run_id]).get(run_id, [])
    return [_version_json(v, trust.get(v.artifact)) for v in versions]


def get_artifact(store: Store, run_ref: str, name: str) -> Artifact:
    """Artifact ``name`` of the run ``run_ref`` names (an id, id prefix or number)."""
    run_id = resolve_run(store, run_ref)
    try:
        return store.get_artifact(run_id, name)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None


def artifact_preview(
    store: Store, run_id: str, name: str, args: Mapping[str, list[str]]
) -> dict[str, Any]:
    """``GET runs/{id}/artifacts/{name}/preview``: one file as a mime bundle."""
    args = _known_args(args, PREVIEW_PARAMS)
    artifact = get_artifact(store, run_id, name)
    try:
        return preview(store, artifact, _single(args, "path"))
    except KeyError as exc:
        raise _refused(exc) from None


def artifact_file(
    store: Store, run_id: str, name: str, args: Mapping[str, list[str]]
) -> tuple[Artifact, str]:
    """``GET runs/{id}/artifacts/{name}/raw``: ``(artifact, path)`` of the file to send
    (the handler streams it, from its blob or its pack: ``open_file``)."""
    args = _known_args(args, PREVIEW_PARAMS)
    artifact = get_artifact(store, run_id, name)
    try:
        f = artifact.file(_single(args, "path"))
    except KeyError as exc:
        raise _refused(exc) from None
    return artifact, f.path


def open_artifact_file(store: Store, artifact: Artifact, path: str) -> BinaryIO:
    """A reader of the file ``artifact_file`` chose. Bytes the records name but the blob
    store lacks (deleted behind the store's back) are a 404 saying which, as a preview's
    are, not a server error."""
    try:
        return open_file(store, artifact, path)
    except KeyError as exc:
        raise _refused(exc) from None


# the registry ----------------------------------------------------------------------------------


def _version_json(version: ModelVersion, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A version as the API shows it; with its artifact's ``meta``, also the call that
    loads it by the registry (by its first alias where it has one: code that follows the
    alias keeps working when it moves)."""
    data = {**version.to_dict(), "ref": version.ref}
    if meta is not None:
        ref = f"models:/{version.model}@{version.aliases[0]}" if version.aliases else version.ref
        data["load"] = load_call(ref, meta)
    return data


def list_models(store: Store, args: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """``GET models[?tag=team=growth&tag=…]``: the models, only those whose own tags hold
    each ``KEY=VALUE`` given."""
    wanted: dict[str, str] = {}
    for text in _known_args(args or {}, ("tag",)).get("tag", []):
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise bad_request(f"'tag' is KEY=VALUE, not {text[:60]!r}")
        wanted[key] = value
    models = store.list_registered_models(tags=wanted)
    return {
        "models": [
            {
                "name": m.name,
                "description": m.description,
                "created_at": iso(m.created_at),
                "updated_at": iso(m.updated_at),
                "versions": len(m.versions),
                "latest": m.latest,
                "aliases": dict(m.aliases),
                "tags": dict(m.tags),
            }
            for m in models
        ]
    }


def get_model(store: Store, name: str) -> dict[str, Any]:
    """A model with its versions (newest first), each with its run and metrics."""
    try:
        model = store.get_registered_model(name)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    newest = list(reversed(model.versions))[:MAX_DETAIL_VERSIONS]
    runs = {r.id: r for r in _runs(store, [v.run_id for v in newest])}
    versions = []
    for v in newest:
        run = runs.get(v.run_id)
        versions.append(
            {
                **_version_json(v),
                "run_number": run.number if run else None,
                "run_name": run.name if run else None,
                "experiment": run.experiment if run else None,
                "status": run.status.value if run else None,
                "metrics": dict(run.metrics) if run else {},
                "params": dict(run.params) if run else {},
            }
        )
    return {
        "name": model.name,
        "description": model.description,
        "created_at": iso(model.created_at),
        "updated_at": iso(model.updated_at),
        "latest": model.latest,
        "aliases": dict(model.aliases),
        "tags": dict(model.tags),
        "versions": versions,
    }


def _runs(store: Store, ids: list[str]) -> list[Any]:
    return store.load_runs(list(dict.fromkeys(ids))) if ids else []


def register(store: Store, body: Any) -> tuple[dict[str, Any], bool]:
    """``POST models`` ``{"name", "run", "artifact", "description"?, "tags"?}``: ``(the
    version, whether it is new)``; the handler answers 201 for a new version, 200 for an
    artifact registered before (``tags`` are then set on it). ``run`` is a run's id, id
    prefix or number, the number as text or as a JSON number."""
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object with name, run and artifact")
    unknown = sorted(set(body) - {"name", "run", "artifact", "description", "tags"})
    if unknown:
        raise bad_request(f"unknown field(s): {', '.join(unknown)}")
    run = body.get("run")
    if isinstance(run, int) and not isinstance(run, bool):
        if run < 1:
            raise bad_request(f"'run' as a number is a run's number (1 or more), not {run}")
        run = str(run)
    if not isinstance(run, str) or not run.strip():
        raise bad_request("'run' must be a run's id, id prefix or number")
    fields = {}
    for key in ("name", "artifact"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad_request(f"{key!r} must be a non-empty string")
        fields[key] = value
    description = body.get("description", "")
    if not isinstance(description, str):
        raise bad_request("'description' must be a string")
    tags = body.get("tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise bad_request("'tags' must be an object of keys to text")
    run_id = resolve_run(store, run)
    try:
        version, created = store.add_model_version(
            fields["name"], run_id, fields["artifact"], description=description, tags=tags
        )
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return _version_json(version), created


def set_alias(store: Store, name: str, alias: str, body: Any) -> dict[str, Any]:
    """``PUT models/{name}/aliases/{alias}`` ``{"version": n}``: the model afterwards."""
    if not isinstance(body, dict) or set(body) != {"version"}:
        raise bad_request('the body must be {"version": <positive integer>}')
    version = body["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise bad_request("'version' must be a positive integer")
    try:
        store.set_model_alias(name, alias, version)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return get_model(store, name)


def delete_alias(store: Store, name: str, alias: str) -> None:
    try:
        store.delete_model_alias(name, alias)
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None


def _edit(body: Any) -> tuple[str | None, dict[str, str], list[str]]:
    """A PATCH body ``{"description"?, "tags"?}`` read: ``(description or None, tags to
    set, keys to delete)``. ``tags`` maps each key to set to its text and each key to
    delete to ``null``; keys not named keep their values."""
    if not isinstance(body, dict) or not body or set(body) - {"description", "tags"}:
        raise bad_request(
            'the body must be {"description": "<text>", "tags": {"key": "value" or null}},'
            " with either or both"
        )
    if "description" in body and not isinstance(body["description"], str):
        raise bad_request("'description' must be text")
    tags = body.get("tags", {})
    if not isinstance(tags, dict):
        raise bad_request("'tags' must be an object of keys to text (null deletes a key)")
    kept = {k: v for k, v in tags.items() if v is not None}
    for key, value in kept.items():
        if not isinstance(value, str):
            raise bad_request(f"tag {key!r}: a value is text (or null to delete the tag)")
    return body.get("description"), kept, [k for k, v in tags.items() if v is None]


def update_model(store: Store, name: str, body: Any) -> dict[str, Any]:
    """``PATCH models/{name}`` ``{"description"?, "tags"?}``: the model afterwards."""
    description, kept, gone = _edit(body)
    try:
        store.update_registered_model(
            name, description=description, set_tags=kept, delete_tags=gone
        )
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return get_model(store, name)


def update_version(store: Store, name: str, version: str, body: Any) -> dict[str, Any]:
    """``PATCH models/{name}/versions/{version}`` ``{"description"?, "tags"?}``: the version
    afterwards."""
    number = _version_number(version)
    description, kept, gone = _edit(body)
    try:
        updated = store.update_model_version(
            name, number, description=description, set_tags=kept, delete_tags=gone
        )
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return _version_json(updated)


def _version_number(text: str) -> int:
    """A version number as a path or query gives it. What is not a positive integer is a
    400; a number no version has, however large, is the store's 404 ("no version N")."""
    try:
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
    except ValueError:  # more digits than int() reads (4300): not a number, for a version
        pass
    raise bad_request(f"'version' must be a positive integer, not {text[:40]!r}")


def delete_version(store: Store, name: str, version: str, args: Mapping[str, list[str]]) -> None:
    """``DELETE models/{name}/versions/{version}[?force=1]``."""
    args = _known_args(args, DELETE_VERSION_PARAMS)
    force = flag(args, "force")
    number = _version_number(version)
    try:
        store.delete_model_version(name, number, force=force)
    except VersionHasAliases as exc:  # the store's message says how Python and the CLI force
        raise ApiError(409, str(exc.forced_by("?force=1")), reason="conflict") from None
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None


def delete_model(store: Store, name: str, args: Mapping[str, list[str]]) -> None:
    """``DELETE models/{name}[?force=1]``: the model with its versions and aliases (the
    runs keep their artifacts); a 409 while an alias points into it, unless forced."""
    args = _known_args(args, DELETE_MODEL_PARAMS)
    force = flag(args, "force")
    try:
        store.delete_registered_model(name, force=force)
    except ModelHasAliases as exc:  # the store's message says how Python and the CLI force
        raise ApiError(409, str(exc.forced_by("?force=1")), reason="conflict") from None
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None


def lineage(store: Store, name: str, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET models/{name}/lineage?version=N|alias=A`` (neither: the latest version);
    ``&figure=1`` adds the lineage graph and its figure."""
    args = _known_args(args, LINEAGE_PARAMS)
    version, alias = _single(args, "version"), _single(args, "alias")
    if version is not None and alias is not None:
        raise bad_request("give version or alias, not both")
    number = _version_number(version) if version is not None else None
    ref = ModelRef(
        f"models:/{name}" + (f"@{alias}" if alias else f"/{number}" if number else ""),
        model=name,
        version=number,
        alias=alias,
    )
    with_figure = flag(args, "figure")
    try:
        answer = build_lineage(store, ref)
        if with_figure:  # the graph, and the plotly figure JupyterLab draws of it
            from ..compare.charts import figure_json, lineage_figure
            from ..models.graph import lineage_graph

            graph = lineage_graph(store, ref).to_dict()
            answer["graph"] = graph
            answer["figure"] = figure_json(lineage_figure(graph))
    except _STORE_REFUSALS as exc:
        raise _refused(exc) from None
    return answer
