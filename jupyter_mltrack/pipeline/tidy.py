"""Make the written ``pipeline.py`` look like code a person would keep: formatted by ruff,
and lint-clean under ruff's default rules.

The code around the notebook's statements is generated clean; the statements themselves are
the user's and may break a default rule (a mutable default argument, an unused loop
variable). Rewriting them could change what they do, so such lines get a ``# noqa: CODE``
naming the rule instead, which ruff itself adds (``--add-noqa``) — except an undefined name
(F821), which is never hidden: the script would die there, and the export checks for it
(:func:`undefined_names`) and refuses. ``--isolated`` because the pipeline may be written
inside a project whose ruff settings say nothing about it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
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


def undefined_names(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """``(line, name)`` for each undefined name ruff finds in ``path`` (F821); empty when
    there is none, or when ruff is not available or failed (nothing is then known)."""
    ruff = ruff_binary()
    if ruff is None:
        return []
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
        return []
    out = []
    for item in found if isinstance(found, list) else []:
        if item.get("code") != UNDEFINED:
            continue
        name = re.search(r"`([^`]+)`", item.get("message", ""))
        row = (item.get("location") or {}).get("row", 0)
        out.append((int(row), name.group(1) if name else item.get("message", "?")))
    return out
