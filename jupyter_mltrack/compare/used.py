"""The artifacts and models the compared runs used (loaded from other runs), matched by
what they were used as: a registered model by its name (``churn``: A loaded v2, B v3),
anything else by the artifact's name. Each run's use is marked same, changed, added or
missing against the baseline's, by the bytes it held (the use's content digest): two
evaluations that loaded different model versions are told apart here, and ``explain``
weighs the difference as a factor (kind ``used``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models.uses import keyed
from ..store.entities import ArtifactUse
from .facts import RunFacts


def entry_text(entry: Mapping[str, Any] | None) -> str:
    """A row's entry (the JSON form) in a few words, for the terminal, the report and the
    widget alike: ``churn v2 (#3)``, ``model of #3``, ``-`` for none."""
    if entry is None:
        return "-"
    run = (
        f"#{entry['source_number']}"
        if entry.get("source_number") is not None
        else f"{str(entry.get('source_run_id', ''))[:8]}, not in this store"
    )
    if entry.get("version") is not None:
        return f"{entry['model']} v{entry['version']} ({run})"
    return f"{entry['name']} of {run}"


def cell_text(row: Mapping[str, Any], i: int) -> str:
    """Run ``i``'s cell of a row: its entry, and its state unless it is the baseline's or
    the same."""
    text = entry_text(row["entries"][i])
    state = row["states"][i]
    return text if state in (None, "same") else f"{text}: {state}"


def differs(row: Mapping[str, Any]) -> bool:
    return any(s not in (None, "same") for s in row["states"])


def _entry(use: ArtifactUse | None) -> dict[str, Any] | None:
    if use is None:
        return None
    return {
        "ref": use.ref,
        "how": use.how,
        "kind": use.kind,
        "name": use.name,
        "source_run_id": use.source_run_id,
        "source_number": use.source_number,
        "source_experiment": use.source_experiment,
        "source_exists": use.source_exists,
        "model": use.model,
        "version": use.version,
        "digest": use.digest,
    }


def used_section(facts: Sequence[RunFacts]) -> list[dict[str, Any]]:
    """Rows ``{key, entries, states}``: every key any run used, in the order first seen;
    ``entries`` one per run (``None``: that run used none), ``states`` as the data
    section's (``None`` for the baseline)."""
    per_run = [keyed(f.uses) for f in facts]
    keys = list(dict.fromkeys(k for uses in per_run for k in uses))
    rows = []
    for key in keys:
        items = [uses.get(key) for uses in per_run]
        base = items[0]
        states: list[str | None] = [None]
        for use in items[1:]:
            if use is None:
                states.append("missing" if base is not None else None)
            elif base is None:
                states.append("added")
            else:
                states.append("same" if use.digest == base.digest else "changed")
        rows.append({"key": key, "entries": [_entry(u) for u in items], "states": states})
    return rows
