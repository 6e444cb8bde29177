"""Images and figures logged at a step: one artifact per step, grouped as a series.

A training loop that logs its predictions, a confusion matrix or a generated sample every
epoch wants to scroll through them afterwards (MLflow's ``log_image(..., step=)``, W&B's
media panels). ``log_image(img, "pred", step=3)`` keeps the image as its own artifact,
``pred/step_000003``, holding ``step_000003.png``, and records ``series`` (``"pred"``) and
``step`` in its meta: everything that reads artifacts (the blob store's dedup, gc,
download, ``materialize``) works on each step unchanged, and the readers that show a series
(the run detail's slider, the compare view, :mod:`..compare.artifacts`) group by the meta,
never by parsing names. The step is zero-padded to six digits so that a plain listing of
names sorts as the steps do (up to a million steps; past that the meta still orders them).
"""

from __future__ import annotations

import operator
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .artifacts import ArtifactError
from .figures import split_extension

if TYPE_CHECKING:
    from ..store.entities import Artifact

#: Meta keys of an artifact logged at a step.
SERIES = "series"
STEP = "step"
#: Steps are 64-bit integers, as a metric's.
STEP_RANGE = range(-(2**63), 2**63)


def check_step(step: Any) -> int:
    """``step`` as an int: an integer (a NumPy one too) in 64-bit range; a float, a bool or
    a string is refused (``1.5`` would be a different step from ``1``, silently)."""
    if isinstance(step, bool):
        raise ArtifactError(f"a step is an integer, not {step!r}")
    try:
        value = operator.index(step)
    except TypeError:
        raise ArtifactError(
            f"a step is an integer, not {type(step).__name__} {step!r:.40}"
        ) from None
    if value not in STEP_RANGE:
        raise ArtifactError(f"step {value} is out of range: steps are 64-bit integers")
    return value


def stepped(name: str, step: Any) -> tuple[str, str, dict[str, Any]]:
    """``(artifact name, file name, meta)`` of ``name`` logged at ``step``: the series is
    ``name`` without its extension (``val/pred.jpg`` -> ``val/pred``), the artifact
    ``val/pred/step_000003``, its file ``step_000003.jpg`` (the extension still picks the
    format)."""
    value = check_step(step)
    stem, ext = split_extension(name)
    series = posixpath.join(posixpath.dirname(name), stem)
    label = f"step_{value:06d}"
    return f"{series}/{label}", f"{label}.{ext}" if ext else label, {SERIES: series, STEP: value}


def step_of(meta: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(series, step)`` of an artifact logged at a step, from its meta; ``None`` for any
    other artifact (or meta not written by :func:`stepped`)."""
    series, step = meta.get(SERIES), meta.get(STEP)
    if isinstance(series, str) and series and type(step) is int:
        return series, step
    return None


@dataclass(frozen=True)
class Series:
    """The images or figures a run logged at steps under one name, in step order: what the
    terminal lists as one line (the run detail and the compare view group them alike)."""

    name: str
    members: list[Artifact]

    @property
    def steps(self) -> list[int]:
        return [int(a.meta["step"]) for a in self.members]


def grouped(artifacts: Sequence[Artifact]) -> list[Artifact | Series]:
    """The artifacts as a listing shows them: a series where its first step is (the store
    lists by name), its steps in order."""
    out: list[Artifact | Series] = []
    series: dict[str, Series] = {}
    for a in artifacts:
        at = step_of(a.meta)
        if at is None:
            out.append(a)
            continue
        if at[0] not in series:
            series[at[0]] = Series(at[0], [])
            out.append(series[at[0]])
        series[at[0]].members.append(a)
    for s in series.values():
        s.members.sort(key=lambda a: int(a.meta["step"]))
    return out
