"""Sweeps (issue 15): a pipeline's ``run(**params)`` called with many parameter sets, each call
a tracked child run of one sweep run, the search driven by Optuna's ask/tell interface.

``space`` parses what is searched, ``driver`` runs the ask/tell loop and keeps the sweep's
record (runs, nothing else), ``trial`` is what a worker process runs, ``executors`` where
(local processes, kept warm by ``pool`` between sweeps, or a Dask cluster), ``api`` what a
notebook calls: :func:`sweep`, :func:`resume`, :func:`show`, and :func:`shutdown` to let the
kept workers go now. Optuna is imported when a sweep is used, not before.
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


def shutdown(*, wait: bool = True) -> None:
    """Stop the worker processes kept for the next sweep (see :mod:`.pool`): they exit now
    rather than after ``MLTRACK_SWEEP_POOL_IDLE`` seconds idle; the next sweep starts new
    ones. ``wait``: until they have exited."""
    from .pool import shutdown as stop

    stop(wait=wait)


__all__ = ["resume", "show", "shutdown", "sweep"]
