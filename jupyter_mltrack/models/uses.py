"""Recording that the active run used an artifact: W&B's ``use_artifact``, done by loading.

Every reader of the notebook's API (``load_model``, ``load_table``, ``load_text``,
``load_dict``, ``load_image``, ``load_figure``, ``download_artifact``) and ``use_artifact``
itself call :func:`record_use` with what they read. When a run is open in this process (a
``%%track`` cell's, ``start_run``'s, a pipeline's) on the store the artifact came from, the
use is recorded in it; with no run open nothing is (reading starts no run). Lineage then
answers "which runs used this model?", and a comparison of two evaluations names the
models they loaded.

Recording never breaks the read: the user asked for a model, not for its lineage. A store
that refuses the write is said once per run, as a warning at the user's line.

Two runs' uses are matched by what they were used as (:func:`keyed`): a comparison's rows
and ``explain``'s factors, and ``mltrack reproduce``'s check that the pipeline loaded what
the notebook did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.entities import Artifact, ArtifactUse, ModelVersion
    from ..store.store import Store

#: Runs whose failed use was said already (one warning per run, not one per load).
_said: set[str] = set()
#: ``(run id, producer run id, artifact name)`` recorded by this process: a loop that loads
#: the same model or image again and again writes its use once, not once per load (the
#: store keeps the first use anyway).
_recorded: set[tuple[str, str, str]] = set()


def use_of(artifact: Artifact, ref: str, how: str, version: ModelVersion | None) -> dict[str, Any]:
    """The plain values :meth:`~..store.artifact_uses.ArtifactUses.record_artifact_uses`
    takes for one artifact."""
    return {
        "source_run_id": artifact.run_id,
        "name": artifact.name,
        "kind": artifact.kind,
        "digest": artifact.content_digest,
        "ref": ref,
        "how": how,
        "model": version.model if version is not None else None,
        "version": version.version if version is not None else None,
    }


def record_use(
    store: Store,
    artifacts: Iterable[Artifact],
    *,
    ref: str,
    how: str,
    version: ModelVersion | None = None,
) -> None:
    """Record in the active run, if any, that it used ``artifacts`` (read from ``store``,
    reached by ``ref`` through the function ``how``). Never raises."""
    from ..capture import api

    active = api.active_run()
    if active is None or not _same_store(active.store, store):
        return
    try:
        fresh = [a for a in artifacts if (active.id, a.run_id, a.name) not in _recorded]
        if not fresh:
            return
        uses = [use_of(a, ref, how, version or _registered_as(store, a)) for a in fresh]
        active.store.record_artifact_uses(active.id, uses)
        _recorded.update((active.id, a.run_id, a.name) for a in fresh)
    except Exception as exc:  # never the user's read's failure
        if active.id in _said:
            return
        _said.add(active.id)
        from ..store.errors import reason
        from .formats._base import warn_caller

        warn_caller(
            f"{how}({ref!r}) read it, but its use was not recorded in run "
            f"{active.id[:8]} ({reason(exc)}): lineage will not list this run among its users"
        )


def _registered_as(store: Store, artifact: Artifact) -> ModelVersion | None:
    """The registered version a model loaded by its run (``3/model``) is, if any (its
    first, by model name then version): the use is then churn v1 whichever way it was
    reached, so ``used = churn`` and a comparison find it."""
    if artifact.kind != "model":
        return None
    versions = store.versions_of_runs([artifact.run_id]).get(artifact.run_id, [])
    return next((v for v in versions if v.artifact == artifact.name), None)


def _same_store(active: Store, store: Store) -> bool:
    """The run is in the store the artifact was read from (``store=`` may name another:
    a use recorded across stores would name a run the other store does not have)."""
    return active is store or getattr(active, "url", None) == getattr(store, "url", None)


# matching a run's uses with another's -------------------------------------------------------


def use_key(use: ArtifactUse) -> str:
    """What a use is matched across runs by: the registered model's name, else the
    artifact's name."""
    return use.model if use.model else use.name


def keyed(uses: Sequence[ArtifactUse]) -> dict[str, ArtifactUse]:
    """A run's uses by :func:`use_key`. Two uses of one key in a run (two runs' ``model``
    artifacts, say) are told apart by the producing run: ``model (#3)``."""
    out: dict[str, ArtifactUse] = {}
    for use in uses:
        key = use_key(use)
        if key in out:
            label = f"#{use.source_number}" if use.source_number else use.source_run_id[:8]
            key = f"{key} ({label})"
        out.setdefault(key, use)
    return out


def label(use: ArtifactUse) -> str:
    """``churn v2``, or ``model of #3``: what a run used, in a sentence or a cell."""
    if use.version is not None:
        return f"{use.model} v{use.version}"
    if use.source_number is not None:
        return f"{use.name} of #{use.source_number}"
    return f"{use.name} of {use.source_run_id[:8]}"
