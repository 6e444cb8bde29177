"""Persistence: entities, ORM models, the SQLAlchemy store and its migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entities import (
    Dataset,
    DatasetUse,
    DatasetVersion,
    Environment,
    Execution,
    Experiment,
    KernelSession,
    MetricPoint,
    Run,
    RunData,
    RunDetail,
    RunRef,
    RunStatus,
    Snapshot,
    SnapshotStatus,
)
from .errors import (
    AmbiguousRunNumber,
    AmbiguousRunRef,
    DatasetNotFound,
    InvalidDatasetRef,
    InvalidQuery,
    RunNotFound,
    RunRefError,
    SnapshotNotFound,
    StoreError,
)
from .names import InvalidName

if TYPE_CHECKING:
    from .store import DEFAULT_EXPERIMENT, Store

#: Loaded on first use: the store needs SQLAlchemy (about 0.2 s to import), which
#: ``%load_ext jupyter_mltrack`` and ``import jupyter_mltrack`` must not wait for (the
#: entities above are plain dataclasses; the kernel opens the store in the background).
_LAZY = ("DEFAULT_EXPERIMENT", "Store")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_EXPERIMENT",
    "Dataset",
    "DatasetNotFound",
    "DatasetUse",
    "DatasetVersion",
    "Environment",
    "Execution",
    "Experiment",
    "KernelSession",
    "AmbiguousRunNumber",
    "AmbiguousRunRef",
    "InvalidDatasetRef",
    "InvalidName",
    "InvalidQuery",
    "MetricPoint",
    "Run",
    "RunData",
    "RunDetail",
    "RunNotFound",
    "RunRefError",
    "RunRef",
    "RunStatus",
    "Snapshot",
    "SnapshotNotFound",
    "SnapshotStatus",
    "Store",
    "StoreError",
]
