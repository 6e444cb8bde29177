"""``mltrack.sweep`` and friends: what a notebook (and the CLI, and the magic) calls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .driver import (
    Definition,
    Sweep,
    SweepError,
    SweepResult,
    definition,
    find_sweep,
    pipeline_experiment,
    read_result,
)


def _store(store: Any = None) -> Any:
    if store is not None:
        return store
    from ..capture.api import get_store

    return get_store()


def sweep(
    target: Any,
    space: Any,
    metric: str,
    *,
    goal: str = "max",
    trials: int = 50,
    jobs: int = 2,
    sampler: str = "tpe",
    pruner: str | None = None,
    executor: Any = None,
    name: str | None = None,
    seed: int | None = None,
    experiment: str | None = None,
    from_snapshots: bool = False,
    threads: int | None = None,
    directory: str | os.PathLike[str] | None = None,
    store: Any = None,
    progress: bool = True,
) -> SweepResult:
    """Search ``space`` for the best ``metric`` of a pipeline: ``trials`` calls of its
    ``run(**params)``, ``jobs`` at a time, each a tracked child run of the sweep's run.

    ``target`` is a tracked run (its number, id or the run itself: its pipeline is exported
    first, into ``directory``, by default ``sweeps/<name>``) or an exported pipeline's
    folder. ``space`` maps parameter names to ``"loguniform(1e-4, 1e-1)"``,
    ``"int(2, 10)"``, ``"choice(rf, gb)"``, a list (a grid) or an Optuna distribution;
    parameters not named keep the pipeline's values. ``sampler``: ``tpe``, ``random``,
    ``grid``, ``cmaes``; ``pruner``: ``median``, ``halving``, ``hyperband`` (the pipeline's
    ``mltrack.log_metric(metric, value, step)`` calls are its reports). ``executor``: local
    processes by default, or ``"dask://HOST:PORT"`` or a ``distributed.Client``.

    The sweep is recorded as it goes: stop it (or lose the kernel) and
    ``mltrack.sweeps.resume(name)`` runs what is left.
    """
    from .space import make_pruner

    make_pruner(pruner)  # a misspelt pruner fails here, not in every trial's worker
    if executor is None or executor == "local":
        from .pool import prestart

        prestart(int(jobs), threads)  # the workers start while the sweep is set up
    st = _store(store)
    name = name or _default_name()
    folder, cwd, experiment = _pipeline_of(st, target, name, directory, experiment)
    d = definition(
        folder,
        space,
        metric,
        name=name,
        goal=goal,
        trials=int(trials),
        jobs=int(jobs),
        sampler=str(sampler).lower(),
        pruner=pruner,
        seed=seed,
        experiment=experiment,
        cwd=cwd,
        from_snapshots=bool(from_snapshots),
        executor=executor if isinstance(executor, str) else "local",
        threads=threads,
    )
    runner = Sweep.create(st, d)
    runner.progress = progress
    return runner.run(
        None if executor is None or isinstance(executor, str) else _client(executor, d)
    )


def resume(
    name: str,
    *,
    executor: Any = None,
    store: Any = None,
    progress: bool = True,
    wait_for_running: float | None = None,
) -> SweepResult:
    """Run what is left of sweep ``name``: its ended trials are kept, the ones that were
    running are run again with their own parameters, then new ones up to its count.

    ``executor`` (``"local"``, ``"dask://HOST:PORT"``, a ``distributed.Client``) says where
    this time; by default where the sweep was started (local, or the address it was given).
    ``wait_for_running``: seconds to wait for trials the last driver left running in a
    process still alive (a Dask worker outlives its driver) before running them again;
    their result is kept if they end in time. Default 600. Running them again at once
    (``0``) is safe: a superseded attempt's writes are refused (see ``store/attempts.py``)."""
    runner = Sweep.resume(_store(store), name)
    runner.progress = progress
    if wait_for_running is not None:
        if wait_for_running < 0:
            raise ValueError(f"wait_for_running must be 0 or more, not {wait_for_running}")
        runner.orphan_wait = float(wait_for_running)
    if isinstance(executor, str):
        runner.d.executor = executor
    if (executor is None and runner.d.executor == "local") or executor == "local":
        from .pool import prestart

        prestart(runner.d.jobs, runner.d.threads)  # while the ended trials are read
    return runner.run(
        None if executor is None or isinstance(executor, str) else _client(executor, runner.d)
    )


def show(name: str, *, store: Any = None) -> SweepResult:
    """Sweep ``name``'s trials as the store has them (its ``summary()`` prints the best)."""
    st = _store(store)
    return read_result(st, find_sweep(st, name))


def _client(client: Any, d: Definition) -> Any:
    from .executors import DaskExecutor

    return DaskExecutor(client, threads=d.threads)


def _default_name() -> str:
    import time

    return time.strftime("sweep-%Y%m%d-%H%M%S")


def _pipeline_of(
    store: Any,
    target: Any,
    name: str,
    directory: str | os.PathLike[str] | None,
    experiment: str | None,
) -> tuple[str, str | None, str | None]:
    """``(pipeline folder, working folder, experiment)`` of what ``mltrack.sweep`` was given:
    a folder as it is, a run exported first (a run number is looked up in ``experiment``,
    as ``mltrack sweep 3 -e E`` says, else in the current one)."""
    if isinstance(target, os.PathLike) or (isinstance(target, str) and os.path.isdir(target)):
        folder = str(Path(target).resolve())
        return folder, os.getcwd(), experiment or pipeline_experiment(folder)
    run_ref = getattr(target, "id", None) or str(target)
    from ..pipeline.export import export
    from ..pipeline.reproduce import start_directory

    try:
        # a run number is in the experiment named (the CLI's -e), else the current one
        run_id = store.resolve_run_id(run_ref, experiment or _current_experiment())
    except Exception as exc:
        raise SweepError(f"{target!r} is neither a pipeline folder nor a run: {exc}") from None
    run = store.get_run(run_id)
    out = Path(directory) if directory is not None else Path("sweeps") / name
    result = export(store, directory=out, run=run_id)
    return (
        str(out.resolve()),
        str(start_directory(result, store, run)),
        experiment or run.experiment,
    )


def _current_experiment() -> str | None:
    try:
        from ..capture.refs import current_experiment

        return current_experiment()
    except Exception:
        return None
