"""The error every snapshot module raises.

It lives on its own so that :mod:`.sources` and :mod:`.restore`, which raise it, need not
import :mod:`.storage`, which imports them; ``storage`` re-exports it, its public home.
"""

from __future__ import annotations


class SnapshotError(Exception):
    """A snapshot that cannot be taken or restored; the message says why."""
