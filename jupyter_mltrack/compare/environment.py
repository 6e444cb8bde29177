"""The package rows of a comparison and each run's package diff against the baseline,
every version change graded ``major``, ``minor``, ``patch`` or ``other``.

A run that has not recorded its environment (still running: the tracker records it when the
run ends, or recorded by a client that sends none) has no packages we know of — not zero
packages. So ``recorded`` says, per run, whether the environment is known; such a run's diff
is :data:`UNKNOWN` (``{"unknown": true}`` with empty lists) instead of "every package
removed", and it does not make a package row differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from packaging.version import InvalidVersion, Version

from .facts import RunFacts


def grade(old: str, new: str) -> str:
    """How big a version change is: which of ``major.minor.patch`` changed first; ``other``
    when only a pre-release, post-release, dev or local part changed, or a version does not
    follow PEP 440."""
    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return "other"
    ra = (*a.release, 0, 0, 0)[:3]
    rb = (*b.release, 0, 0, 0)[:3]
    if a.epoch != b.epoch or ra[0] != rb[0]:
        return "major"
    if ra[1] != rb[1]:
        return "minor"
    if ra[2] != rb[2]:
        return "patch"
    return "other"


def known(f: RunFacts) -> bool:
    """Whether the run recorded its environment at all (``{}`` would read as "removed")."""
    return f.python is not None or f.platform is not None or bool(f.packages)


def unknown_diff() -> dict[str, Any]:
    """The diff of a run when it or the baseline has no environment recorded (yet)."""
    return {"unknown": True, "added": [], "removed": [], "changed": []}


def package_diff(base: dict[str, str], other: dict[str, str]) -> dict[str, Any]:
    lower_base = {k.lower(): k for k in base}
    lower_other = {k.lower(): k for k in other}
    added = [
        {"name": lower_other[k], "version": other[lower_other[k]]}
        for k in sorted(lower_other)
        if k not in lower_base
    ]
    removed = [
        {"name": lower_base[k], "version": base[lower_base[k]]}
        for k in sorted(lower_base)
        if k not in lower_other
    ]
    changed = []
    for k in sorted(lower_base):
        if k in lower_other:
            old, new = base[lower_base[k]], other[lower_other[k]]
            if old != new:
                changed.append(
                    {"name": lower_other[k], "from": old, "to": new, "grade": grade(old, new)}
                )
    return {"added": added, "removed": removed, "changed": changed}


def environment_section(facts: Sequence[RunFacts]) -> dict[str, Any]:
    recorded = [known(f) for f in facts]
    names: dict[str, str] = {}
    for f in facts:
        for name in f.packages:
            names.setdefault(name.lower(), name)
    packages = []
    lowered = [{k.lower(): v for k, v in f.packages.items()} for f in facts]
    for low in sorted(names):
        values = [p.get(low) for p in lowered]
        # a run that recorded no environment says nothing about the package: not "missing"
        seen = {v for v, ok in zip(values, recorded, strict=True) if ok}
        packages.append({"name": names[low], "values": values, "differs": len(seen) > 1})
    base = facts[0]
    diffs: list[Any] = [None]
    for f, ok in zip(facts[1:], recorded[1:], strict=True):
        diffs.append(
            package_diff(base.packages, f.packages) if recorded[0] and ok else unknown_diff()
        )
    return {"packages": packages, "diffs": diffs, "recorded": recorded}
