"""Unified-diff hunks as data: what the code and output views draw, and what ``explain``
names a code change by (its ``@@ -3,4 +3,4 @@`` header)."""

from __future__ import annotations

import difflib
from typing import Any

#: Lines of context around a change, as ``git diff`` shows.
CONTEXT = 3


def _range(start: int, stop: int) -> tuple[int, int, str]:
    """``(start, length, text)`` of one side of a hunk header, as ``diff -u`` writes it
    (an empty side starts at the line before it)."""
    length = stop - start
    first = start + 1 if length else start
    text = f"{first}" if length == 1 else f"{first},{length}"
    return first, length, text


def hunks(old: str | None, new: str | None, *, context: int = CONTEXT) -> list[dict[str, Any]]:
    """The hunks turning ``old`` into ``new`` (``[]`` when equal; ``None`` is empty text).

    Each hunk: ``header``, ``old_start``, ``old_lines``, ``new_start``, ``new_lines`` and
    ``lines`` prefixed ``" "``, ``"-"`` or ``"+"``.
    """
    a = (old or "").splitlines()
    b = (new or "").splitlines()
    if a == b:
        return []
    out = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        old_start, old_lines, old_text = _range(group[0][1], group[-1][2])
        new_start, new_lines, new_text = _range(group[0][3], group[-1][4])
        lines: list[str] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                lines.extend("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                lines.extend("+" + line for line in b[j1:j2])
        out.append(
            {
                "header": f"@@ -{old_text} +{new_text} @@",
                "old_start": old_start,
                "old_lines": old_lines,
                "new_start": new_start,
                "new_lines": new_lines,
                "lines": lines,
            }
        )
    return out


def text_diff(old: str | None, new: str | None) -> dict[str, Any]:
    """``{"same": bool, "hunks": [...]}``."""
    found = hunks(old, new)
    same = not found and (old or "") == (new or "")
    return {"same": same, "hunks": found}
