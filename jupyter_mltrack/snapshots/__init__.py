"""Dataset snapshots: exact fingerprints of the data a run saw (see ``fingerprint``).

The names below are loaded on first use: ``fingerprint`` needs numpy, and code that only
reaches a submodule that does not (the CLI's ``mltrack cache``, ``snapshots.eviction``)
should not pay for importing it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fingerprint import (
        ALGORITHM,
        BLOCK_ROWS,
        FileFingerprint,
        Fingerprint,
        clear_file_cache,
        fingerprint_file,
        fingerprint_frame,
    )

__all__ = [
    "ALGORITHM",
    "BLOCK_ROWS",
    "FileFingerprint",
    "Fingerprint",
    "clear_file_cache",
    "fingerprint_file",
    "fingerprint_frame",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module(".fingerprint", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
