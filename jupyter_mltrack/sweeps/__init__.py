"""Sweeps (issue 15): a pipeline's ``run(**params)`` called with many parameter sets, each call
a tracked child run of one sweep run, the search driven by Optuna's ask/tell interface.

``space`` parses what is searched, ``driver`` runs the ask/tell loop and keeps the sweep's
record (runs, nothing else), ``trial`` is what a worker process runs, ``executors`` where
(local processes, a Dask cluster), ``api`` what a notebook calls: :func:`sweep`,
:func:`resume`, :func:`show`. Optuna is imported when a sweep is used, not before.
"""

from __future__ import annotations

from typing import Any


def sweep(target: Any, space: Any, metric: str, **options: Any) -> Any:
    """See :func:`.api.sweep`."""
    from .api import sweep as run

    return run(target, space, metric, **options)


def resume(name: str, **options: Any) -> Any:
    """See :func:`.api.resume`."""
    from .api import resume as run

    return run(name, **options)


def show(name: str, **options: Any) -> Any:
    """See :func:`.api.show`."""
    from .api import show as run

    return run(name, **options)


__all__ = ["resume", "show", "sweep"]
