"""How a model was built: model version -> run -> code, pipeline -> input data -> params,
environment.

One function serves ``mltrack.lineage``, ``mltrack models lineage`` and the REST API, so each
answers the same question the same way. It only reads the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..store.entities import Artifact, ModelVersion, RunDetail, iso, json_number
from .refs import ModelRef, load_call, parse, resolve

if TYPE_CHECKING:
    from ..store.store import Store

#: How many of the runs that used a model lineage lists (the newest; ``count`` says all).
USED_BY_LISTED = 100


def model_summary(artifact: Artifact) -> dict[str, Any]:
    """What a model artifact is, without its example rows (a listing's view)."""
    meta = artifact.meta
    signature = meta.get("signature") or {}
    return {
        "name": artifact.name,
        "format": meta.get("format"),
        "flavor": meta.get("flavor"),
        "library_version": meta.get("library_version"),
        "python": meta.get("python"),
        "unsafe": bool(meta.get("unsafe")),
        "untrusted_types": list(meta.get("untrusted_types") or []),
        "size": artifact.size,
        "files": [f.path for f in artifact.files],
        "inputs": signature.get("inputs"),
        "outputs": signature.get("outputs"),
        # the call that loads it by its run (a registered version's by the registry)
        "load": load_call(f"{artifact.run_id}/{artifact.name}", meta),
    }


def lineage(store: Store, ref: str | ModelRef, experiment: str | None = None) -> dict[str, Any]:
    """The chain behind a model reference, as JSON-ready data:

    ``model`` (the registered version: the one a ``models:/`` reference names; for a
    ``RUN/NAME`` reference the artifact's first registered version, by model name then
    version; ``None`` when it is not registered), ``models`` (every registered version of
    the artifact, in that order: one artifact can be several models' versions), ``artifact``
    (format, versions, signature), ``run`` (identity, status, timing, notebook and cell),
    ``code`` (the cell that trained it), ``pipeline`` (the notebook run a pipeline run
    reproduced, or the pipeline runs that reproduced this one), ``inputs`` (the snapshots
    of the data the run read), ``used`` (the artifacts and models the run loaded from
    other runs: a base model it fine-tuned, a table of features), ``used_by`` (the runs
    that loaded this model since, newest first, with their status and metrics: its
    evaluations), ``params``, ``metrics`` and ``environment`` (Python, platform, the
    packages that matter to the model, git state)."""
    parsed = ref if isinstance(ref, ModelRef) else parse(ref)
    artifact, version = resolve(store, parsed, experiment)
    detail = store.get_run_detail(artifact.run_id)
    # A RUN/NAME reference resolves to no version, yet the artifact may be registered (as
    # churn v1 and churn-copy v1, say): ask the registry which versions hold it.
    runs = store.versions_of_runs([artifact.run_id]).get(artifact.run_id, [])
    versions = [v for v in runs if v.artifact == artifact.name]
    if version is None and versions:
        version = versions[0]
    return {
        "ref": parsed.text,
        "model": _version(version) if version is not None else None,
        "models": [_version(v) for v in versions],
        "artifact": model_summary(artifact),
        "run": _run(detail),
        "code": detail.code,
        "pipeline": _pipeline(store, detail),
        "inputs": [d.to_dict() for d in detail.data if d.role == "input"],
        "outputs": [d.to_dict() for d in detail.data if d.role == "output"],
        "used": [u.to_dict() for u in store.artifacts_used(artifact.run_id)],
        "used_by": users(store, artifact.run_id, artifact.name),
        "params": dict(detail.run.params),
        "metrics": {k: v for k, v in detail.run.metrics.items()},
        "environment": _environment(detail, artifact),
    }


def users(store: Store, run_id: str, name: str | None = None) -> dict[str, Any]:
    """The runs that used run ``run_id``'s artifacts (artifact ``name``'s only, when
    given): at most :data:`USED_BY_LISTED`, newest first, each with its status and
    metrics (a model's evaluations), and how many there are in all. Lineage's and a run
    detail's ``used_by``."""
    uses = store.artifact_users(run_id, name, limit=USED_BY_LISTED)
    runs = {r.id: r for r in store.load_runs([u.run_id for u in uses])}
    listed = []
    for use in uses:
        entry = use.to_dict()
        run = runs.get(use.run_id)
        entry["status"] = run.status.value if run is not None else None
        metrics = run.metrics if run is not None else {}
        entry["metrics"] = {k: json_number(v) for k, v in metrics.items()}
        listed.append(entry)
    count = len(uses)
    if count == USED_BY_LISTED:
        count = store.artifact_user_count(run_id, name)
    return {"count": count, "runs": listed}


def _version(version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.model,
        "version": version.version,
        "aliases": list(version.aliases),
        "created_at": iso(version.created_at),
        "ref": version.ref,
        "description": version.description,
        "tags": dict(version.tags),
    }


def _run(detail: RunDetail) -> dict[str, Any]:
    run = detail.run
    return {
        "id": run.id,
        "number": run.number,
        "experiment": run.experiment,
        "name": run.name,
        "status": run.status.value,
        "start_time": iso(run.start_time),
        "end_time": iso(run.end_time),
        "duration": run.duration,
        "notebook_path": run.notebook_path,
        "cell_id": run.cell_id,
        "execution_count": run.execution_count,
        "source": run.source,
        "parent_run_id": run.parent_run_id,
    }


def _pipeline(store: Store, detail: RunDetail) -> dict[str, Any]:
    """A pipeline run names the notebook run it reproduces; a notebook run lists the
    pipeline runs that reproduced it (newest first)."""
    run = detail.run
    out: dict[str, Any] = {"reproduces": None, "reproduced_by": []}
    if run.source == "pipeline" and run.parent_run_id:
        out["reproduces"] = run.parent_run_id
    out["reproduced_by"] = [
        {"id": r.id, "number": r.number, "status": r.status.value, "metrics": dict(r.metrics)}
        for r in store.child_runs(run.id, source="pipeline")
    ]
    return out


def _environment(detail: RunDetail, artifact: Artifact) -> dict[str, Any]:
    env = detail.environment
    packages = dict(artifact.meta.get("packages") or {})
    return {
        "python": env.python if env else artifact.meta.get("python"),
        "platform": env.platform if env else None,
        "packages": packages,
        "all_packages": len(env.packages) if env else None,
        "git": {"commit": detail.git_commit, "dirty": detail.git_dirty},
    }
