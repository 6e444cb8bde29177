"""A sweep written straight into a store, as the sweep driver records one (the sweeps
design): a parent run with source ``sweep`` holding the definition, a child run per trial
tagged with its number, ending finished, failed (with its error) or pruned (at the last
value it reported). Shared by the chart, search and server tests."""

from __future__ import annotations

from typing import Any, NamedTuple

from jupyter_mltrack.store import MetricPoint, Store

T0 = 1_700_000_000.0


class PlannedTrial(NamedTuple):
    status: str
    lr: float
    depth: int
    #: The sweep metric's values, step by step (a pruned trial's stop where it was pruned).
    values: tuple[float, ...]


#: 8 trials: 5 finished (enough for the random forest), 2 pruned, 1 failed; trial 4 best.
PLAN = (
    PlannedTrial("finished", 0.01, 3, (0.6, 0.7, 0.72)),
    PlannedTrial("finished", 0.05, 8, (0.7, 0.8, 0.85)),
    PlannedTrial("failed", 0.09, 2, (0.5,)),
    PlannedTrial("pruned", 0.0003, 4, (0.3, 0.35)),
    PlannedTrial("finished", 0.02, 6, (0.75, 0.88, 0.91)),
    PlannedTrial("pruned", 0.0001, 9, (0.2,)),
    PlannedTrial("finished", 0.03, 5, (0.8, 0.86, 0.89)),
    PlannedTrial("finished", 0.002, 7, (0.5, 0.6, 0.66)),
)


class SeededSweep(NamedTuple):
    sweep: str
    #: Run ids of the trials, by trial number.
    trials: list[str]


def seed_sweep(
    store: Store,
    *,
    name: str = "lr-search",
    experiment: str = "sweeps",
    metric: str = "acc",
    goal: str = "max",
    plan: tuple[PlannedTrial, ...] = PLAN,
    start: float = T0,
    extra_params: dict[str, Any] | None = None,
) -> SeededSweep:
    """The sweep ``name`` with a trial per ``plan`` entry, ended ``finished``."""
    sweep = store.create_run(
        experiment,
        name=name,
        source="sweep",
        tags={"mltrack.sweep": name},
        params={
            "metric": metric,
            "goal": goal,
            "sampler": "tpe",
            "pruner": "median",
            "trials": len(plan),
            "jobs": 2,
            "seed": 0,
            "space.lr": "loguniform(0.0001, 0.1)",
            "space.depth": "int(2, 10)",
            **(extra_params or {}),
        },
        start_time=start,
    )
    trials = []
    for number, (status, lr, depth, values) in enumerate(plan):
        began = start + 10 * (number + 1)
        trial = store.create_run(
            experiment,
            source="sweep",
            parent_run_id=sweep.id,
            tags={"mltrack.sweep": name, "mltrack.trial": str(number)},
            params={"lr": lr, "depth": depth, "n_estimators": 100},
            start_time=began,
        )
        points = [MetricPoint(metric, v, step, began + step) for step, v in enumerate(values)]
        error = None
        if status == "failed":
            error = {"ename": "ValueError", "evalue": "lr too high: <diverged>", "traceback": []}
        store.finish_run(trial.id, status, metrics=points, error=error, end_time=began + 5)
        trials.append(trial.id)
    finished = [p.values[-1] for p in plan if p.status == "finished"]
    summary = [
        MetricPoint(f"trials.{status}", float(sum(p.status == status for p in plan)), 0, start)
        for status in ("finished", "failed", "pruned")
    ]
    if finished:
        best = min(finished) if goal == "min" else max(finished)
        summary.append(MetricPoint(f"best.{metric}", best, 0, start))
    store.finish_run(sweep.id, "finished", metrics=summary, end_time=start + 100)
    return SeededSweep(sweep.id, trials)
