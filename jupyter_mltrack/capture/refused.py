"""Values the logging API drops rather than raise for, each said once on stderr.

A name or value of the right type that no store can keep (see ``store.names``: a NUL, a
lone surrogate, over 256 characters; a step beyond 64 bits) is dropped with one line naming
it and why: the cell goes on, and everything else the run logged is kept — one bad key must
not fail the run's final write, which holds all the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..store.names import name_problem, shown, text_problem

#: Metric steps are stored as 64-bit integers.
STEP_RANGE = range(-(2**63), 2**63)


def refuse(
    what: str,
    name: str,
    why: str,
    said: set[tuple[str, str]] | None = None,
    detail: str = "",
) -> None:
    """Say on stderr, once per ``(what, name)`` in ``said``, that a value is not recorded
    (``detail``: which of that name's values, e.g. `` step 2**63``: said once for all).

    A name or value of the right type that no store can keep (see ``store.names``) is
    dropped with this line rather than raised: the cell goes on, and everything else the
    run logged is kept (one bad key must not fail the run's final write)."""
    if said is not None:
        once = (what + detail.split()[0], name) if detail else (what, name)
        if once in said:
            return
        said.add(once)
    print(f"mltrack: {what} {shown(name)}{detail} not recorded: {why}", file=sys.stderr)


def storable_params(
    params: Mapping[str, Any], said: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """``params`` with string keys, without those no store keeps (each said once)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        key = str(key)
        problem = name_problem(key)
        if problem is None:
            out[key] = value
        else:
            refuse("param", key, problem, said)
    return out


def storable_tags(
    tags: Mapping[str, Any], said: set[tuple[str, str]] | None = None
) -> dict[str, str]:
    """``tags`` as text, without those no store keeps (each said once)."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        key, text = str(key), "" if value is None else str(value)
        problem = name_problem(key) or text_problem(text)
        if problem is None:
            out[key] = text
        else:
            refuse("tag", key, problem, said)
    return out
