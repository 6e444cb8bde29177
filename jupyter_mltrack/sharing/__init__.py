"""Sharing work between stores: ``push`` and ``pull`` of runs, snapshots, datasets and
models (a laptop's SQLite store and a team's PostgreSQL + S3 one, or any two stores).

Pure logic on two :class:`~jupyter_mltrack.store.Store`\\ s: :mod:`.selection` (what the
options name), :mod:`.runs` (runs, whole, one transaction each), :mod:`.catalog` (datasets
and models), :mod:`.push` (the order that keeps the destination whole), :mod:`.report`
(counts and conflicts), :mod:`.rows` (bulk row reads and writes). Blobs move through
:mod:`jupyter_mltrack.store.transfer`, the spool's path too.
"""

from __future__ import annotations

from .push import pull, push
from .report import Conflict, TransferReport
from .runs import ORIGIN_TAG
from .selection import NothingToTransfer

__all__ = ["ORIGIN_TAG", "Conflict", "NothingToTransfer", "TransferReport", "pull", "push"]
