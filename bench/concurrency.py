"""Benchmark 9: many processes tracking into one store at once, while a reader lists runs.

The load is ``tests/load.py``'s, the one ``tests/test_concurrency.py`` checks: 8 writer
processes released together, each tracking 200 runs of 100 metric steps and a small
snapshot through the public API, into 2 experiments they all share, while a reader asks a
real Jupyter server for the run list every 100 ms (and a run's detail every tenth time). On
SQLite and on PostgreSQL (a throw-away server, ``tests/postgres.py``). Reported: runs,
metric points and snapshots per second from the start signal to the last writer's exit
(everything flushed), the reader's latency under that load and idle afterwards (the same
store, the same requests), and that everything written is there (``tests.load.verify``).

MLflow under the same load, side by side: 8 processes × 200 runs, each ``mlflow.start_run``,
``log_params``, the 100 points in one ``log_batch`` call (MLflow's fastest way, one request
per run), ``mlflow.log_input`` of the same frame (a dataset record: digest, schema and
profile, not the data itself) and ``end_run``, into an SQLite tracking URI and a PostgreSQL
one; its reader calls ``MlflowClient.search_runs`` (and ``get_run`` every tenth time) in the
driving process, without HTTP: a lower bound for what its UI would wait.

A writer runs as ``python -m bench.concurrency --writer N …`` (MLflow's) or
``python -m tests.load --writer N …`` (ours).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/concurrency.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.load import (  # noqa: E402
    DATA,
    METRIC,
    Load,
    LoadRun,
    Reader,
    Server,
    Writers,
    checkout_env,
    drive,
    metric_value,
    run_load,
    run_name,
    runs_reader,
    snapshot_frame,
    verify,
    wait_for_start,
)

FULL = {"writers": 8, "runs": 200, "steps": 100, "experiments": 2, "idle_reads": 100}
QUICK = {"writers": 4, "runs": 10, "steps": 100, "experiments": 2, "idle_reads": 10}


def _load(p: dict[str, Any]) -> Load:
    return Load(
        writers=p["writers"], runs=p["runs"], steps=p["steps"], experiments=p["experiments"]
    )


# MLflow's writer process ----------------------------------------------------------------------


def _mlflow_write(writer: int, load: Load, workdir: Path, uri: str, ids: dict[str, str]) -> int:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    frames = [snapshot_frame(writer, i) for i in range(load.runs)]
    wait_for_start(workdir, writer)
    started = time.time()
    errors: list[str] = []
    for i in range(load.runs):
        try:
            with mlflow.start_run(
                experiment_id=ids[load.experiment(i)], run_name=run_name(writer, i)
            ) as run:
                mlflow.log_params({"writer": writer, "index": i})
                now = int(time.time() * 1000)
                client.log_batch(
                    run.info.run_id,
                    metrics=[
                        Metric(METRIC, metric_value(writer, i, s), now, s)
                        for s in range(load.steps)
                    ],
                )
                mlflow.log_input(mlflow.data.from_pandas(frames[i], name=DATA), context="train")
        except Exception as exc:  # counted, and the load goes on (as a training script would)
            errors.append(f"run {i}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            print(f"writer {writer}: {errors[-1]}", file=sys.stderr)
    print(
        json.dumps(
            {"writer": writer, "started": started, "finished": time.time(), "errors": errors}
        ),
        flush=True,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency")
    parser.add_argument("--writer", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--experiment-ids", required=True, help="JSON: name -> MLflow id")
    parser.add_argument("--runs", type=int, default=Load.runs)
    parser.add_argument("--steps", type=int, default=Load.steps)
    parser.add_argument("--experiments", type=int, default=Load.experiments)
    args = parser.parse_args(argv)
    load = Load(runs=args.runs, steps=args.steps, experiments=args.experiments)
    ids = json.loads(args.experiment_ids)
    return _mlflow_write(args.writer, load, args.workdir, args.uri, ids)


# the two tools under load --------------------------------------------------------------------


def _throughput(load: Load, seconds: float) -> dict[str, float]:
    return {
        "seconds": seconds,
        "runs_per_s": load.total_runs / seconds,
        "points_per_s": load.total_runs * load.steps / seconds,
        "snapshots_per_s": load.total_runs / seconds,
    }


def bench_mltrack(
    store_url: str, blob_url: str | None, root: Path, load: Load, idle_reads: int
) -> dict[str, Any]:
    from jupyter_mltrack.store import Store

    Store(store_url, blob_url=blob_url).close()  # created and migrated before the load
    server = Server(store_url, root / "server", blob_url)
    try:
        run: LoadRun = run_load(store_url, load, root / "writers", server, blob_url)
        idle = Reader(runs_reader(server)).run(idle_reads)
    finally:
        server.close()
    problems = verify(store_url, load, blob_url)
    flush = [r.result["finished"] - r.result["logged"] for r in run.writers if r.result]
    return {
        **_throughput(load, run.seconds),
        "writer_errors": run.writer_errors,
        "flush_at_end_s_max": max(flush, default=None),
        "reader_load": run.reader.stats(),
        "reader_load_errors": run.reader.errors[:20],
        "reader_idle": idle.stats(),
        "problems": problems,
        "stored_ok": not problems and not run.writer_errors,
    }


def _mlflow_experiments(uri: str, load: Load) -> dict[str, str]:
    """Create MLflow's database and the load's experiments before the writers start:
    MLflow's first connection migrates its schema, which eight processes must not race."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    names = sorted({load.experiment(i) for i in range(load.runs)})
    return {name: client.create_experiment(name) for name in names}


def _mlflow_reader(uri: str, ids: list[str]) -> Callable[[int], tuple[int, float, str]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    listed: list[str] = []

    def request(n: int) -> tuple[int, float, str]:
        t0 = time.perf_counter()
        if n % 10 == 9 and listed:
            client.get_run(random.choice(listed))
            return 200, time.perf_counter() - t0, "detail"
        runs = client.search_runs(ids, max_results=100, order_by=["attributes.start_time DESC"])
        listed[:] = [r.info.run_id for r in runs]
        return 200, time.perf_counter() - t0, "list"

    return request


def _mlflow_counts(uri: str) -> dict[str, int]:
    """What MLflow stored, counted in its tables (finished runs, metric points, dataset
    inputs)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(uri)
    try:
        with engine.connect() as conn:

            def one(sql: str) -> int:
                return int(conn.execute(text(sql)).scalar_one())

            return {
                "runs_finished": one("SELECT count(*) FROM runs WHERE status = 'FINISHED'"),
                "points": one("SELECT count(*) FROM metrics"),
                "inputs": one("SELECT count(*) FROM inputs WHERE destination_type = 'RUN'"),
            }
    finally:
        engine.dispose()


def bench_mlflow(uri: str, root: Path, load: Load, idle_reads: int) -> dict[str, Any]:
    ids = _mlflow_experiments(uri, load)
    workdir = root / "writers"

    def argv(w: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.concurrency",
            f"--writer={w}",
            f"--workdir={workdir}",
            f"--uri={uri}",
            f"--experiment-ids={json.dumps(ids)}",
            f"--runs={load.runs}",
            f"--steps={load.steps}",
            f"--experiments={load.experiments}",
        ]

    done = drive(
        Writers(argv, load.writers, workdir, checkout_env()),
        _mlflow_reader(uri, list(ids.values())),
    )
    results, seconds, reader = done.writers, done.seconds, done.reader
    idle = Reader(_mlflow_reader(uri, list(ids.values()))).run(idle_reads)
    errors = [e for r in results for e in (r.result["errors"] if r.result else ["no result"])]
    errors += [f"writer {r.writer}: exit {r.returncode}" for r in results if r.returncode]
    counts = _mlflow_counts(uri)
    return {
        **_throughput(load, seconds),
        "method": "start_run, log_params, log_batch of the run's 100 points, log_input, end_run",
        "writer_errors": errors[:20],
        "writer_error_count": len(errors),
        "counts": counts,
        "stored_ok": counts["runs_finished"] == load.total_runs
        and counts["points"] == load.total_runs * load.steps
        and counts["inputs"] == load.total_runs,
        "reader_load": reader.stats(),
        "reader_load_errors": reader.errors[:20],
        "reader_idle": idle.stats(),
    }


# the backends --------------------------------------------------------------------------------


@contextlib.contextmanager
def _postgres() -> Iterator[Callable[[], str] | None]:
    """A throw-away PostgreSQL server (``tests/postgres.py``), as a maker of fresh databases;
    ``None`` when PostgreSQL is not installed."""
    from sqlalchemy import create_engine, text

    from tests.postgres import postgres_server

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except RuntimeError as exc:
            print(f"   PostgreSQL skipped: {exc}", flush=True)
            yield None
            return
        base = url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        admin = create_engine(base + "/postgres", isolation_level="AUTOCOMMIT")
        stack.callback(admin.dispose)

        def database() -> str:
            name = "b_" + uuid.uuid4().hex[:12]
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            return f"{base}/{name}"

        yield database


def bench_concurrency(root: Path, p: dict[str, Any], mlflow: bool = True) -> dict[str, Any]:
    load = _load(p)
    out: dict[str, Any] = {"sizes": dict(p)}
    root.mkdir(parents=True, exist_ok=True)
    print("   SQLite: mltrack...", flush=True)
    out["sqlite"] = {
        "mltrack": bench_mltrack(
            f"sqlite:///{root / 'sqlite' / 'mltrack.db'}",
            None,
            root / "sqlite",
            load,
            p["idle_reads"],
        )
    }
    if mlflow:
        print("   SQLite: MLflow...", flush=True)
        out["sqlite"]["mlflow"] = bench_mlflow(
            f"sqlite:///{root / 'mlflow.db'}", root / "mlflow-sqlite", load, p["idle_reads"]
        )
    with _postgres() as database:
        if database is not None:
            print("   PostgreSQL: mltrack...", flush=True)
            out["postgresql"] = {
                "mltrack": bench_mltrack(
                    database(), (root / "pg-blobs").as_uri(), root / "pg", load, p["idle_reads"]
                )
            }
            if mlflow:
                print("   PostgreSQL: MLflow...", flush=True)
                out["postgresql"]["mlflow"] = bench_mlflow(
                    database(), root / "mlflow-pg", load, p["idle_reads"]
                )
    return out


# the report ----------------------------------------------------------------------------------


def _lat(s: dict[str, Any]) -> str:
    if not s.get("n"):
        return f"{'-':>23}"
    return f"{s['p50_ms']:7.1f}{s['p95_ms']:8.1f}{s['max_ms']:8.1f}"


def report(r: dict[str, Any]) -> list[str]:
    s = r["sizes"]
    lines = [
        f"9. Concurrent tracking (issue 12): {s['writers']} processes x {s['runs']} runs x"
        f" {s['steps']} steps + a snapshot each, into {s['experiments']} shared experiments;"
        " a reader lists runs every 100 ms",
        f"   {'':<21}{'runs/s':>8}{'points/s':>10}{'snaps/s':>9}{'wall s':>8}{'errors':>7}"
        f"  {'reader under load p50/p95/max ms':>33}  {'idle p50/p95/max ms':>23}",
    ]
    for backend, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if backend not in r:
            lines.append(f"   {label}: not run (PostgreSQL not installed)")
            continue
        for tool in ("mltrack", "mlflow"):
            x = r[backend].get(tool)
            if x is None:
                continue
            errors = len(x["writer_errors"]) if tool == "mltrack" else x["writer_error_count"]
            errors += x["reader_load"].get("errors", 0)
            lines.append(
                f"   {label + ' ' + tool:<21}{x['runs_per_s']:8.1f}{x['points_per_s']:10,.0f}"
                f"{x['snapshots_per_s']:9.1f}{x['seconds']:8.1f}{errors:7d}"
                f"  {_lat(x['reader_load']):>33}  {_lat(x['reader_idle']):>23}"
            )
        ours, theirs = r[backend]["mltrack"], r[backend].get("mlflow")
        verdict = (
            "all stored (every run finished, numbered 1..N per experiment, every point,"
            " every snapshot complete and loadable)"
            if ours["stored_ok"]
            else f"NOT all stored: {ours['problems'][:3]} {ours['writer_errors'][:3]}"
        )
        lines.append(f"   {label} ours: {verdict}")
        if theirs is not None:
            lines.append(
                f"   {label}: ours {ours['runs_per_s'] / theirs['runs_per_s']:.1f}x MLflow's"
                f" runs/s; MLflow stored {theirs['counts']}"
                + ("" if theirs["stored_ok"] else " (NOT all)")
            )
    lines.append(
        "   (ours: list and detail through a Jupyter server's REST API; MLflow's: search_runs"
        " and get_run in process, no HTTP; MLflow logs its 100 points per run in one log_batch)"
    )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
