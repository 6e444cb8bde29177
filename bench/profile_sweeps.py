"""Diagnostic for benchmark 12 (not part of ``make bench``): where a sweep's per-trial
overhead goes now, against Optuna + MLflowCallback in the same run.

python -m bench.profile_sweeps [--reps 3] [--trials 200] [--profile]

Variants (ms per trial; MLflow before or after ours, alternating between repetitions):

* ``cold``: a sweep that starts its own workers (the kept ones let go first);
* ``warm``: a sweep in the workers the sweep before kept;
* ``queued``: warm, with one trial more handed out than there are workers, so a worker
  finds its next trial waiting while the driver records the last one's outcome (not what
  ``jobs`` means for the sampler: it asks with one more trial's value unknown);
* ``mlflow``: ``study.optimize(n_jobs=2)`` with MLflow's callback.

``--profile`` adds cProfile's view of the driver over a warm sweep, and of a worker's trial
(``run_trial``, run in this process one after another, as a worker does).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/profile_sweeps.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweeps import METRIC, SPACE, Ours, Theirs, make_pipelines  # noqa: E402

VARIANTS = ["cold", "warm", "queued", "mlflow"]


def queued(store: Any, folder: Path, trials: int, jobs: int, seed: int) -> float:
    """A warm sweep with ``jobs + 1`` trials handed out to ``jobs`` workers."""
    from jupyter_mltrack.sweeps.driver import Sweep, definition
    from jupyter_mltrack.sweeps.executors import LocalExecutor

    d = definition(
        folder, SPACE, METRIC, name=f"queued-{uuid.uuid4().hex[:8]}", trials=trials,
        jobs=jobs + 1, sampler="random", seed=seed,
    )  # fmt: skip
    executor = LocalExecutor(jobs)
    t0 = time.perf_counter()
    sweep = Sweep.create(store, d)
    sweep.progress = False
    try:
        result = sweep.run(executor)
    finally:
        executor.shutdown()
    wall = time.perf_counter() - t0
    if result.counts() != {"finished": trials}:
        raise RuntimeError(f"queued sweep: {result.counts()}")
    return wall


def top(profile: cProfile.Profile, n: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(n)
    return out.getvalue()


def profile_driver(ours: Ours, trials: int, jobs: int) -> str:
    profile = cProfile.Profile()
    profile.enable()
    ours.sweep(trials, jobs, seed=7)
    profile.disable()
    return top(profile)


def profile_worker(store: Any, folder: Path, trials: int) -> str:
    """``run_trial`` in this process, trial after trial (each run created first, as the
    driver does)."""
    from jupyter_mltrack.sweeps.driver import Sweep, definition
    from jupyter_mltrack.sweeps.trial import run_trial

    d = definition(folder, SPACE, METRIC, name=f"profile-{uuid.uuid4().hex[:8]}", trials=trials)
    sweep = Sweep.create(store, d)
    specs = [sweep._spec(i, uuid.uuid4().hex, {"x": i / trials}, None) for i in range(trials)]
    sweep._record_trial(specs[0], again=False)
    run_trial(specs[0])  # the store opened, the pipeline imported
    profile = cProfile.Profile()
    for spec in specs[1:]:
        sweep._record_trial(spec, again=False)
        profile.enable()
        run_trial(spec)
        profile.disable()
    return top(profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    import jupyter_mltrack as mltrack
    from bench.common import isolate

    root = isolate()
    made = make_pipelines(root, 10_000)
    store = made["store"]
    folder = made["folders"]["trivial"]
    ours = Ours(store, folder)
    theirs = Theirs(root / "mlflow")
    walls: dict[str, list[float]] = {n: [] for n in VARIANTS}
    try:
        ours.sweep(10, args.jobs, seed=0, cold=True)
        theirs.optimize(10, args.jobs, seed=0, mlflow=True)
        for rep in range(args.reps):
            # ours in the order cold, warm, queued (each warm one in the workers the sweep
            # before kept: MLflow's callback sets MLFLOW_EXPERIMENT_ID, and workers started
            # before an environment variable changed are not used again), MLflow before or
            # after them
            ours_first = ["cold", "warm", "queued", "mlflow"]
            for name in ours_first if rep % 2 == 0 else ours_first[-1:] + ours_first[:-1]:
                seed = 100 + rep
                if name == "mlflow":
                    wall = theirs.optimize(args.trials, args.jobs, seed, mlflow=True)
                elif name == "queued":
                    wall = queued(store, folder, args.trials, args.jobs, seed)
                else:
                    wall = ours.sweep(args.trials, args.jobs, seed, cold=name == "cold")
                walls[name].append(wall)
        profiles = []
        if args.profile:
            profiles = [
                ("the driver over a warm sweep", profile_driver(ours, args.trials, args.jobs)),
                ("a worker's trials, run here", profile_worker(store, folder, args.trials)),
            ]
    finally:
        mltrack.sweeps.shutdown()
        store.close()
        shutil.rmtree(root, ignore_errors=True)
    theirs_ms = statistics.median(walls["mlflow"]) * 1e3 / args.trials
    print(f"{args.trials} trials, {args.jobs} jobs, ms per trial (median of {args.reps}):")
    for name, seconds in walls.items():
        ms = statistics.median(seconds) * 1e3 / args.trials
        each = "/".join(f"{s * 1e3 / args.trials:.2f}" for s in seconds)
        print(f"  {name:<10}{ms:7.2f}  ({each})  MLflow÷ {theirs_ms / ms:.1f}x")
    for title, text in profiles:
        print(f"\n{title}:\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
