"""Facts about the kernel and the cell being executed, as the Jupyter server gives them.

The notebook path comes from ``JPY_SESSION_NAME`` (set by jupyter_server for the kernels of a
session), never from ``sys.argv`` (which says ``ipykernel_launcher.py``); the cell id is the
``cellId`` JupyterLab puts in each execute request's metadata.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT_ENV = "MLTRACK_SERVER_ROOT"


def notebook_path() -> str | None:
    """The notebook's path relative to the server root (as the REST API and sidebar use)."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    return _relative(name, os.environ.get(ROOT_ENV))


@functools.lru_cache(maxsize=16)
def _relative(name: str, root: str | None) -> str:
    """``name`` relative to ``root`` (both resolved), or ``name``. Cached: every cell asks,
    and resolving walks the folders with a system call each (a tenth of a millisecond)."""
    if root and os.path.isabs(name):
        try:
            return Path(name).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            return name
    return name


def parent_header_metadata(shell: Any) -> dict[str, Any]:
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return {}
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # older ipykernel
        parent = kernel.get_parent()
    except Exception:
        return {}
    return dict((parent or {}).get("metadata") or {})


def cell_id(shell: Any) -> str | None:
    value = parent_header_metadata(shell).get("cellId")
    return str(value) if value else None


_KERNEL_FILE = re.compile(r"kernel-([0-9a-fA-F-]{8,})\.json$")


def kernel_id() -> str | None:
    """The server's id for this kernel, read from the connection file's name; ``None`` in a
    process that is no kernel (a script, a sweep's worker), without importing ipykernel:
    its import (IPython, prompt_toolkit, jedi) takes half a second, and finds no kernel."""
    if "ipykernel" not in sys.modules:  # a kernel imported it long before any run
        return None
    try:
        from ipykernel.connect import get_connection_file

        return _kernel_id_of(get_connection_file())
    except Exception:
        return None


@functools.lru_cache(maxsize=4)
def _kernel_id_of(connection_file: str) -> str | None:
    match = _KERNEL_FILE.search(connection_file)
    return match.group(1) if match else None
