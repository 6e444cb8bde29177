"""Persistence: entities, ORM models, the SQLAlchemy store and its migrations."""

from .entities import (
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
from .store import (
    DEFAULT_EXPERIMENT,
    AmbiguousRunNumber,
    InvalidQuery,
    RunNotFound,
    SnapshotNotFound,
    Store,
    StoreError,
)

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Environment",
    "Execution",
    "Experiment",
    "KernelSession",
    "AmbiguousRunNumber",
    "InvalidQuery",
    "MetricPoint",
    "Run",
    "RunData",
    "RunDetail",
    "RunNotFound",
    "RunRef",
    "RunStatus",
    "Snapshot",
    "SnapshotNotFound",
    "SnapshotStatus",
    "Store",
    "StoreError",
]
