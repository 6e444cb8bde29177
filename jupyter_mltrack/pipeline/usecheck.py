"""Did the reproduction load what the run loaded? A run that evaluated
``models:/churn@production`` recorded the version the alias named then (v1); its pipeline,
run today, loads whatever the alias names now (v3, if it moved). Its metrics may then
differ for a reason no other check would name, so ``mltrack reproduce`` compares the two
runs' uses (:mod:`..models.uses`) by the bytes each loaded, and says which reference
resolved elsewhere and how to pin it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..models.refs import parse
from ..models.uses import keyed, label

if TYPE_CHECKING:
    from ..store import Store
    from ..store.entities import ArtifactUse


@dataclass(frozen=True)
class UseCheck:
    """One artifact the run used: what it was then, and what the pipeline loaded."""

    #: What the use is matched by: the registered model's name, else the artifact's name.
    key: str
    ref: str
    original: str
    #: ``None``: the pipeline recorded no use of it (or no run at all).
    reproduced: str | None
    #: ``None``: not compared (the pipeline recorded no run).
    equal: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "ref": self.ref,
            "original": self.original,
            "reproduced": self.reproduced,
            "equal": self.equal,
            "detail": self.detail,
        }


def compare_uses(store: Store, run_id: str, pipeline_run_id: str | None) -> list[UseCheck]:
    """The run's uses, each checked against the pipeline run's (``None``: it recorded no
    run, so nothing is compared)."""
    original = keyed(store.artifacts_used(run_id))
    if not original:
        return []
    if pipeline_run_id is None:
        return [
            UseCheck(key, u.ref, label(u), None, None, "the pipeline recorded no run")
            for key, u in original.items()
        ]
    reproduced = keyed(store.artifacts_used(pipeline_run_id))
    return [_check(key, u, reproduced.get(key)) for key, u in original.items()]


def _check(key: str, then: ArtifactUse, now: ArtifactUse | None) -> UseCheck:
    if now is None:
        return UseCheck(key, then.ref, label(then), None, False, "the pipeline did not load it")
    if now.digest == then.digest:
        return UseCheck(key, then.ref, label(then), label(now), True)
    detail = f"{now.ref} loaded {label(now)}, not {label(then)}"
    moved = _moved(then)
    if moved:
        detail += (
            f": {moved} since the run; load models:/{then.model}/{then.version} in the notebook"
            " to reproduce it"
        )
    return UseCheck(key, then.ref, label(then), label(now), False, detail)


def _moved(then: ArtifactUse) -> str:
    """Why a registry reference may load another version today: ``""`` for a pinned one
    (``models:/churn/3``, ``3/model``)."""
    if then.version is None:
        return ""
    try:
        ref = parse(then.ref)
    except ValueError:
        return ""
    if not ref.registered:  # a run's model (3/model), registered or not: pinned
        return ""
    if ref.alias is not None:
        return f"the alias @{ref.alias} has moved"
    if ref.version is None:
        return "a newer version was registered"
    return ""
