"""Persistence: entities, ORM models, the SQLAlchemy store and its migrations."""

from .entities import Environment, Experiment, MetricPoint, Run, RunDetail, RunRef, RunStatus
from .store import DEFAULT_EXPERIMENT, InvalidQuery, RunNotFound, Store, StoreError

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Environment",
    "Experiment",
    "InvalidQuery",
    "MetricPoint",
    "Run",
    "RunDetail",
    "RunNotFound",
    "RunRef",
    "RunStatus",
    "Store",
    "StoreError",
]
