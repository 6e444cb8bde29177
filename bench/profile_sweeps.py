"""Diagnostic for benchmark 12 (not part of ``make bench``): what our sweep's per-trial
overhead would be with each change proposed in docs/benchmarks.md, tried by patching the
driver in this process (the package is not changed), against Optuna + MLflowCallback in
the same run, the order alternating.

python -m bench.profile_sweeps [--reps 3] [--trials 200]

Variants (each adds to the one before):

* ``baseline``: the sweep as it is;
* ``kept``: the worker pool kept from one sweep to the next in this process (started by an
  untimed sweep first), so a sweep neither spawns its workers (about 0.5 s: each imports
  SQLAlchemy and the store before its first trial) nor waits for them to exit (about 0.3 s);
* ``kept+totals``: the sweep run's running totals written at most every 0.5 s and at the
  end, not after every trial (a commit each, in the driver's serial path);
* ``kept+totals+queued``: one trial more than the workers queued in the pool, so a worker
  finds its next trial waiting while the driver records the last one's outcome.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/profile_sweeps.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sweeps import Ours, Theirs, make_pipelines  # noqa: E402

VARIANTS = ["baseline", "kept", "kept+totals", "kept+totals+queued"]


class Patches:
    """The variants' changes, applied to the driver's classes for the time of a sweep."""

    def __init__(self) -> None:
        from jupyter_mltrack.sweeps import driver, executors

        self.driver, self.executors = driver, executors
        self.kept: dict[tuple[int, int | None], Any] = {}
        self.workers: int | None = None

    def kept_executor_for(self, target: Any, jobs: int, *, threads: int | None = None) -> Any:
        """One pool per size, never shut down (``self.workers`` processes when set)."""
        jobs = self.workers or jobs
        key = (jobs, threads)
        if key not in self.kept:
            ex = self.executors.LocalExecutor(jobs, threads=threads)
            ex.shutdown = lambda: None  # type: ignore[method-assign]
            self.kept[key] = ex
        return self.kept[key]

    @staticmethod
    def throttled(report: Any) -> Any:
        """``Sweep._report`` writing the totals at most every 0.5 s and at the last trial;
        the in-memory totals still updated every time (as ``_report`` does)."""

        def _report(sweep: Any, outcome: Any) -> None:
            ended = sum(sweep._counts.values()) + 1
            last = getattr(sweep, "_written_at", float("-inf"))
            if time.monotonic() - last >= 0.5 or ended >= sweep.d.trials:
                sweep._written_at = time.monotonic()
                report(sweep, outcome)
                return
            counts = sweep._counts
            counts[outcome.state] = counts.get(outcome.state, 0) + 1
            if outcome.state == "finished" and outcome.value is not None:
                best = sweep._best
                if (
                    best is None
                    or (sweep.d.goal == "max" and outcome.value > best[0])
                    or (sweep.d.goal == "min" and outcome.value < best[0])
                ):
                    sweep._best = (outcome.value, outcome.number)

        return _report

    @contextlib.contextmanager
    def applied(self, variant: str, jobs: int) -> Iterator[int]:
        """The variant's patches; yields the ``jobs`` to give the sweep (one more than the
        workers when trials are queued)."""
        saved_for = self.executors.executor_for
        saved_report = self.driver.Sweep._report
        asked = jobs
        if variant.startswith("kept"):
            self.executors.executor_for = self.kept_executor_for
        if "totals" in variant:
            self.driver.Sweep._report = self.throttled(saved_report)  # type: ignore[method-assign]
        if variant.endswith("queued"):
            self.workers, asked = jobs, jobs + 1
        try:
            yield asked
        finally:
            self.executors.executor_for = saved_for
            self.driver.Sweep._report = saved_report  # type: ignore[method-assign]
            self.workers = None

    def close(self) -> None:
        for ex in self.kept.values():
            if ex._pool is not None:
                ex._pool.shutdown(wait=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    from bench.common import isolate

    root = isolate()
    made = make_pipelines(root, 10_000)
    store = made["store"]
    ours = Ours(store, made["folders"]["trivial"])
    theirs = Theirs(root / "mlflow")
    patches = Patches()
    try:
        with patches.applied("kept", args.jobs) as jobs:  # starts the kept pool, untimed
            ours.sweep(10, jobs, seed=0)
        with patches.applied("kept+totals+queued", args.jobs) as jobs:
            ours.sweep(10, jobs, seed=0)
        ours.sweep(10, args.jobs, seed=0)
        theirs.optimize(10, args.jobs, seed=0, mlflow=True)
        names = [*VARIANTS, "mlflow"]
        walls: dict[str, list[float]] = {n: [] for n in names}
        for rep in range(args.reps):
            for name in names if rep % 2 == 0 else names[::-1]:
                if name == "mlflow":
                    walls[name].append(theirs.optimize(args.trials, args.jobs, rep, mlflow=True))
                    continue
                with patches.applied(name, args.jobs) as jobs:
                    walls[name].append(ours.sweep(args.trials, jobs, seed=rep))
    finally:
        patches.close()
        store.close()
        shutil.rmtree(root, ignore_errors=True)
    theirs_ms = statistics.median(walls["mlflow"]) * 1e3 / args.trials
    print(f"{args.trials} trials, {args.jobs} jobs, ms per trial (median of {args.reps}):")
    for name, seconds in walls.items():
        ms = statistics.median(seconds) * 1e3 / args.trials
        each = "/".join(f"{s * 1e3 / args.trials:.2f}" for s in seconds)
        print(f"  {name:<22}{ms:7.2f}  ({each})  MLflow÷ {theirs_ms / ms:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
