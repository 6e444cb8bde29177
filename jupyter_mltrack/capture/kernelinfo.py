"""Facts about the kernel and the cell being executed, as the Jupyter server gives them.

The notebook path comes from ``JPY_SESSION_NAME`` (set by jupyter_server for the kernels of a
session), never from ``sys.argv`` (which says ``ipykernel_launcher.py``); the cell id is the
``cellId`` JupyterLab puts in each execute request's metadata.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ROOT_ENV = "MLTRACK_SERVER_ROOT"


def notebook_path() -> str | None:
    """The notebook's path relative to the server root (as the REST API and sidebar use)."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name:
        return None
    root = os.environ.get(ROOT_ENV)
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
    """The server's id for this kernel, read from the connection file's name."""
    try:
        from ipykernel.connect import get_connection_file

        match = _KERNEL_FILE.search(get_connection_file())
    except Exception:
        return None
    return match.group(1) if match else None
