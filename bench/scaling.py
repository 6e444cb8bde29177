"""Benchmark 3: does a tracked cell get slower as an experiment accumulates runs?

Everything a tracked cell writes is per run, but the run card looks up the experiment's best
run for comparison (``Store.best_run``), a query whose cost grows with the number of runs in
the experiment. This times that query alone at a few experiment sizes.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import timed


def bench_card_query(root: Path, sizes: list[int], reps: int = 50) -> dict[str, Any]:
    from jupyter_mltrack.store.entities import MetricPoint
    from jupyter_mltrack.store.store import Store

    store = Store(f"sqlite:///{root / 'scaling' / 'mltrack.db'}")
    out: dict[str, Any] = {}
    made = 0
    last = None
    for size in sorted(sizes):
        while made < size:
            last = store.create_run("scaling")
            now = time.time()
            store.finish_run(
                last.id,
                "finished",
                metrics=[MetricPoint(f"m{j}", 0.5 + j + made * 1e-5, 0, now) for j in range(5)],
            )
            made += 1
        assert last is not None

        def query(run: Any = last) -> None:
            store.best_run(run.experiment_id, "m0", higher_is_better=True, exclude=run.id)

        query()  # warm-up
        times = [timed(query) for _ in range(reps)]
        out[str(size)] = {
            "runs": size,
            "best_run_median_ms": statistics.median(times) * 1e3,
            "reps": reps,
        }
    store.close()
    return out
