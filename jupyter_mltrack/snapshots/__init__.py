"""Dataset snapshots: exact fingerprints of the data a run saw (see ``fingerprint``)."""

from __future__ import annotations

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
