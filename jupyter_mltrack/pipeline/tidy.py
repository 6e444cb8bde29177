"""Make the written ``pipeline.py`` look like code a person would keep: formatted by ruff,
and lint-clean under ruff's default rules.

The code around the notebook's statements is generated clean; the statements themselves are
the user's and may break a default rule (a mutable default argument, an unused loop
variable). Rewriting them could change what they do, so such lines get a ``# noqa: CODE``
naming the rule instead, which ruff itself adds (``--add-noqa``). ``--isolated`` because the
pipeline may be written inside a project whose ruff settings say nothing about it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: ruff takes well under a second on any pipeline; a stuck binary must not hang an export.
TIMEOUT = 30.0


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
            [ruff, "check", *common, "--add-noqa", target],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return formatted.returncode == 0 and marked.returncode == 0
