"""Pinning the dataset versions a notebook got: an exported pipeline gets the same data.

``mltrack.datasets.get("team/churn@gold")`` in the notebook read the version ``gold`` named
then; by the time the pipeline runs, ``gold`` may name another. The execution log records,
per statement, which version each reference it got resolved to (``facts["datasets"]``,
written by ``get``), and the script's copy of the statement names that version by its hash
(``"team/churn@<hash>"``), the reference a tracked cell's run records as its input: the
pipeline loads that exact version by name instead of re-reading any file.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping


def pin_datasets(code: str, got: Mapping[str, str] | None) -> tuple[str, list[str]]:
    """``code`` with each string literal passed to a call that names a reference the
    statement got (``"team/churn@gold"``) replaced by the version it was (``"team/churn@
    <hash>"``), and a comment line for each reference replaced. A reference spelled another
    way (built in a variable, an f-string) is left as it is: only literals are rewritten, so
    nothing but the argument changes."""
    wanted = {asked: ref for asked, ref in (got or {}).items() if asked != ref}
    if not wanted:
        return code, []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    spots: list[ast.Constant] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for arg in [*node.args[:1], *(k.value for k in node.keywords if k.arg == "ref")]:
            if (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and arg.value in wanted
                and arg.lineno == arg.end_lineno
            ):
                spots.append(arg)
    if not spots:
        return code, []
    lines = code.splitlines(keepends=True)
    # from the end, so that earlier offsets stay right; offsets are in UTF-8 bytes
    for node in sorted(spots, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        line = lines[node.lineno - 1].encode()
        start, end = node.col_offset, node.end_col_offset or node.col_offset
        pinned = json.dumps(wanted[node.value], ensure_ascii=False).encode()
        lines[node.lineno - 1] = (line[:start] + pinned + line[end:]).decode()
    asked = dict.fromkeys(n.value for n in sorted(spots, key=lambda n: (n.lineno, n.col_offset)))
    notes = [f"# {a} was {wanted[a]} when the notebook ran\n" for a in asked]
    return "".join(lines), notes
