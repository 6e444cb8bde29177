"""Make the written ``pipeline.py`` look like code a person would keep: formatted by ruff,
and lint-clean under ruff's default rules.

The code around the notebook's statements is generated clean; the statements themselves are
the user's and may break a default rule (a mutable default argument, an unused loop
variable). Rewriting them could change what they do, so such lines get a ``# noqa: CODE``
naming the rule instead, which ruff itself adds (``--add-noqa``) — except an undefined name
(F821), which is never hidden: the script would die there, and the export checks for it
(:func:`undefined_names`) and refuses. ``--isolated`` because the pipeline may be written
inside a project whose ruff settings say nothing about it. Without ruff (it is a dependency,
but an environment may lack its binary) the script is written as generated, and undefined
names are found by a plainer check of the standard library's symbol tables.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import re
import shutil
import subprocess
import symtable
from pathlib import Path

#: ruff takes well under a second on any pipeline; a stuck binary must not hang an export.
TIMEOUT = 30.0
#: ruff's (pyflakes') undefined-name rule.
UNDEFINED = "F821"


def ruff_binary() -> str | None:
    """The ruff executable: the one installed with the ``ruff`` package, else on ``PATH``."""
    try:
        from ruff.__main__ import find_ruff_bin

        return os.fspath(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("ruff")


def tidy(path: str | os.PathLike[str]) -> bool:
    """Format ``path`` and mark the lines ruff's default rules flag; ``False`` if ruff is not
    available or failed (the file is then left as generated, which is still valid Python)."""
    ruff = ruff_binary()
    if ruff is None:
        return False
    target = os.fspath(Path(path))
    common = ["--isolated", "--no-cache", "--quiet"]
    try:
        formatted = subprocess.run(
            [ruff, "format", *common, target], capture_output=True, timeout=TIMEOUT, check=False
        )
        marked = subprocess.run(
            [ruff, "check", *common, "--add-noqa", "--extend-ignore", UNDEFINED, target],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return formatted.returncode == 0 and marked.returncode == 0


def undefined_names(path: str | os.PathLike[str]) -> tuple[list[tuple[int, str]], str]:
    """``(line, name)`` for each undefined name in ``path``, and what found them: ruff's
    F821 (``"ruff"``), or where ruff is not available or failed, :func:`symtable_undefined`
    (``"symtable"``)."""
    ruff = ruff_binary()
    if ruff is not None:
        try:
            proc = subprocess.run(
                [
                    ruff,
                    "check",
                    "--isolated",
                    "--no-cache",
                    "--quiet",
                    "--select",
                    UNDEFINED,
                    "--output-format",
                    "json",
                    os.fspath(path),
                ],
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
            found = json.loads(proc.stdout or "[]")
        except (OSError, subprocess.TimeoutExpired, ValueError):
            found = None
        if isinstance(found, list):
            out = []
            for item in found:
                if item.get("code") != UNDEFINED:
                    continue
                name = re.search(r"`([^`]+)`", item.get("message", ""))
                row = (item.get("location") or {}).get("row", 0)
                out.append((int(row), name.group(1) if name else item.get("message", "?")))
            return out, "ruff"
    return symtable_undefined(Path(path).read_text()), "symtable"


#: Names every module has without binding them.
_MODULE_NAMES = frozenset(
    {"__file__", "__name__", "__doc__", "__spec__", "__loader__", "__package__", "__builtins__"}
)


def symtable_undefined(text: str) -> list[tuple[int, str]]:
    """``(line, name)`` for the names ``text`` reads as globals (at module level, or free in
    a function or class) that nothing in the module binds and that are not builtins: what
    ruff's F821 finds, less its flow analysis (a name bound anywhere in the module counts
    as defined, as a function reads globals late). The first line reading each is given."""
    top = symtable.symtable(text, "pipeline.py", "exec")
    bound = set(dir(builtins)) | _MODULE_NAMES
    read: set[str] = set()
    todo = [top]
    while todo:
        table = todo.pop()
        module_level = table is top
        for symbol in table.get_symbols():
            name = symbol.get_name()
            global_here = module_level or symbol.is_global()
            if global_here and (symbol.is_assigned() or symbol.is_imported()):
                bound.add(name)
            if global_here and symbol.is_referenced():
                read.add(name)
            if module_level and symbol.is_namespace():
                bound.add(name)
        todo.extend(table.get_children())
    missing = read - bound
    if not missing:
        return []
    first: dict[str, int] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name) and node.id in missing and isinstance(node.ctx, ast.Load):
            first[node.id] = min(first.get(node.id, node.lineno), node.lineno)
    return sorted((line, name) for name, line in first.items())
