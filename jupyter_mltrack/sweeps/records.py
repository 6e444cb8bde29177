"""How a sweep is recorded: runs, with these tags and params (no table of its own).

The sweep is a run of source ``sweep`` tagged ``mltrack.sweep=<name>`` whose params are its
definition (``metric``, ``goal``, ``space.<param>``…); each trial is a child run of the same
source tagged ``mltrack.trial=<number>`` and ``mltrack.attempt=<token>``, the attempt at
the trial whose writes its run takes (see ``store.attempts``: the driver gives each hand-out
of a trial a new one). Read by the driver, the charts, the CLI and the sidebar's queries
alike; this module imports nothing heavy, so any of them can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..store.attempts import ATTEMPT_TAG

SWEEP_SOURCE = "sweep"
SWEEP_TAG = "mltrack.sweep"
TRIAL_TAG = "mltrack.trial"
SPACE_PREFIX = "space."
#: Longest error text shown for a trial (a hover, a summary line).
ERROR_CHARS = 200


def trial_number(tags: Mapping[str, str]) -> int | None:
    """A trial's number (its ``mltrack.trial`` tag), ``None`` without a valid one."""
    try:
        return int(tags.get(TRIAL_TAG, ""))
    except ValueError:
        return None


def error_text(error: Mapping[str, Any] | None) -> str | None:
    """``"ValueError: boom"``: a run's recorded error, first line, cut to ``ERROR_CHARS``."""
    if not error:
        return None
    name = str(error.get("ename") or "").strip()
    lines = str(error.get("evalue") or "").strip().splitlines()
    text = f"{name}: {lines[0]}" if name and lines else name or (lines[0] if lines else "")
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


__all__ = [
    "ATTEMPT_TAG",
    "ERROR_CHARS",
    "SPACE_PREFIX",
    "SWEEP_SOURCE",
    "SWEEP_TAG",
    "TRIAL_TAG",
    "error_text",
    "trial_number",
]
