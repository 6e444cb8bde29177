"""Benchmark 2: how many metric values per second reach SQLite, mltrack vs MLflow.

Every figure is the time from the first call to the end of the run (``end_run`` has
returned, so all values are committed), divided into the number of values; the values are
then counted with a separate SQLite connection to prove they are on disk.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import count_rows, set_pragmas


def _mltrack_once(store: Any, n: int) -> float:
    import jupyter_mltrack as mltrack
    from jupyter_mltrack.capture import api

    api.set_store(store)
    run = mltrack.start_run(name=f"throughput-{n}")
    log_metric = mltrack.log_metric
    t0 = time.perf_counter()
    for i in range(n):
        log_metric("loss", 1.0 / (i + 1), step=i)
    mltrack.end_run()
    elapsed = time.perf_counter() - t0
    db = store.engine.url.database
    got = count_rows(db, f"SELECT sum(count) FROM metric_chunks WHERE run_id = '{run.id}'")
    assert got == n, (got, n)
    return elapsed


def bench_mltrack(root: Path, n: int, repeats: int) -> dict[str, Any]:
    from jupyter_mltrack.capture import api
    from jupyter_mltrack.store.store import Store

    out: dict[str, Any] = {}
    for label, mode in (("mltrack", None), ("mltrack_full", "full")):
        store = Store(f"sqlite:///{root / ('tp-' + label) / 'mltrack.db'}")
        if mode:
            set_pragmas(store.engine, mode)
        _mltrack_once(store, 1_000)  # warm-up, excluded
        api.wait_pending()
        times = [_mltrack_once(store, n) for _ in range(repeats)]
        api.wait_pending()
        best = statistics.median(times)
        out[label] = {
            "values": n,
            "repeats": repeats,
            "seconds_median": best,
            "values_per_s": n / best,
            "method": f"{n:,} log_metric calls + end_run, median of {repeats}",
        }
    return out


def bench_mlflow(setup: dict[str, str], per_call_n: int, batch_n: int) -> dict[str, Any]:
    import mlflow
    from mlflow.entities import Metric

    from bench.cells import use_mlflow

    out: dict[str, Any] = {}
    for label in ("default", "wal_normal"):
        suffix = "" if label == "default" else "_wal_normal"
        use_mlflow(setup, label)
        client = mlflow.MlflowClient()  # bound to the current tracking URI
        db = setup[label]
        # warm-up, excluded
        with mlflow.start_run():
            for i in range(20):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)

        # one call per value: a subset, extrapolated
        run = mlflow.start_run()
        t0 = time.perf_counter()
        for i in range(per_call_n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.end_run()
        elapsed = time.perf_counter() - t0
        got = count_rows(db, f"SELECT count(*) FROM metrics WHERE run_uuid = '{run.info.run_id}'")
        assert got == per_call_n, (got, per_call_n)
        out["mlflow_log_metric" + suffix] = {
            "values": per_call_n,
            "seconds": elapsed,
            "values_per_s": per_call_n / elapsed,
            "extrapolated_100k_s": 100_000 * elapsed / per_call_n,
            "method": f"{per_call_n:,} log_metric calls + end_run, extrapolated to 100,000",
        }

        # log_batch, 1,000 metrics per call (MLflow's limit)
        run = mlflow.start_run()
        run_id = run.info.run_id
        t0 = time.perf_counter()
        for start in range(0, batch_n, 1000):
            ts = int(time.time() * 1000)
            batch = [
                Metric("loss", 1.0 / (i + 1), ts, i)
                for i in range(start, min(start + 1000, batch_n))
            ]
            client.log_batch(run_id, metrics=batch)
        mlflow.end_run()
        elapsed = time.perf_counter() - t0
        got = count_rows(db, f"SELECT count(*) FROM metrics WHERE run_uuid = '{run_id}'")
        assert got == batch_n, (got, batch_n)
        out["mlflow_log_batch" + suffix] = {
            "values": batch_n,
            "seconds": elapsed,
            "values_per_s": batch_n / elapsed,
            "method": f"{batch_n:,} values as log_batch calls of 1,000 + end_run",
        }
    return out
