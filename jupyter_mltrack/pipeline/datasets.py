"""Pinning the dataset versions a notebook got: an exported pipeline gets the same data.

``mltrack.datasets.get("team/churn@gold")`` in the notebook read the version ``gold`` named
then; by the time the pipeline runs, ``gold`` may name another. The execution log records,
per statement, which version each reference it got resolved to (``facts["datasets"]``,
written by ``get``: the reference as asked at run time, whatever expression built it), and
the script's copy of the statement names that version by its hash, the reference a tracked
cell's run records as its input: the pipeline loads that exact version by name instead of
re-reading any file.

Two rewrites, each changing nothing but the call's arguments:

- a string literal naming a reference the statement got (``get("team/churn@gold")``)
  becomes the version it was (``get("team/churn@<hash>")``);
- a reference built at run time (a variable, an f-string, a loop over names:
  ``get(name)``) cannot be rewritten in place, so the call is given what the statement
  got as a table: ``get(name, pinned={"team/churn@gold": "team/churn@<hash>"})``; ``get``
  looks the reference up there when it runs (one the notebook never asked for, after a
  parameter changed, resolves as usual).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping


def pin_datasets(code: str, got: Mapping[str, str] | None) -> tuple[str, list[str]]:
    """``code`` with each dataset reference the statement got pinned to the version it was
    (see the module docstring), and a comment line for each reference pinned. Code that
    does not parse, or would not once rewritten, is left as it is."""
    wanted = {asked: ref for asked, ref in (got or {}).items() if asked != ref}
    if not wanted:
        return code, []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    # (line, start byte, end byte, text): a replacement, or an insertion where start == end
    edits: list[tuple[int, int, int, str]] = []
    asked: dict[str, None] = {}
    table = json.dumps(wanted, ensure_ascii=False)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        refs = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "ref")]
        literal = [
            arg
            for arg in refs
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value in wanted
        ]
        for arg in literal:
            if arg.lineno == arg.end_lineno and arg.end_col_offset is not None:
                pinned = json.dumps(wanted[arg.value], ensure_ascii=False)
                edits.append((arg.lineno, arg.col_offset, arg.end_col_offset, pinned))
                asked[arg.value] = None
        if literal or not refs or not _is_dataset_get(node.func):
            continue
        if isinstance(refs[0], ast.Constant) or any(k.arg == "pinned" for k in node.keywords):
            continue  # a literal the statement did not get as another version; pinned already
        last = max(
            [*node.args, *node.keywords], key=lambda n: (n.end_lineno or 0, n.end_col_offset or 0)
        )
        if last.end_lineno is None or last.end_col_offset is None:
            continue
        edits.append(
            (last.end_lineno, last.end_col_offset, last.end_col_offset, f", pinned={table}")
        )
        asked.update(dict.fromkeys(wanted))
    if not edits:
        return code, []
    lines = code.splitlines(keepends=True)
    # from the end, so that earlier offsets stay right; offsets are in UTF-8 bytes
    for lineno, start, end, text in sorted(edits, reverse=True):
        line = lines[lineno - 1].encode()
        lines[lineno - 1] = (line[:start] + text.encode() + line[end:]).decode()
    out = "".join(lines)
    try:
        ast.parse(out)
    except SyntaxError:
        return code, []
    notes = [f"# {a} was {wanted[a]} when the notebook ran\n" for a in sorted(asked)]
    return out, notes


def _is_dataset_get(func: ast.expr) -> bool:
    """Whether a call is ``<...>.datasets.get`` (``mltrack.datasets.get``, ``datasets.get``
    after ``from jupyter_mltrack import datasets``): a run-time reference is pinned only in
    the call that got it, never in another ``.get`` (a dict's)."""
    if not isinstance(func, ast.Attribute) or func.attr != "get":
        return False
    owner = func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "datasets") or (
        isinstance(owner, ast.Name) and owner.id == "datasets"
    )
