"""The code section of a comparison: each run's cell and the code it depended on (the
execution log's slice), as unified-diff hunks against the baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .facts import RunFacts
from .textdiff import text_diff


def code_section(facts: Sequence[RunFacts]) -> dict[str, Any]:
    runs = [{"cell": f.code, "dependencies": f.dependencies} for f in facts]
    base = facts[0]
    diffs: list[Any] = [None]
    for f in facts[1:]:
        diffs.append(
            {
                "cell": text_diff(base.code, f.code),
                "dependencies": text_diff(base.dependencies, f.dependencies),
            }
        )
    return {"runs": runs, "diffs": diffs}
