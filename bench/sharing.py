"""Benchmark 13: sharing (issue 16), pushing work to a team store, ours against MLflow's
export-import and quilt3, in one run, against the same PostgreSQL and S3-compatible servers.

The team store is what the README's *Working with a team* section sets up: a PostgreSQL
server (the tests' own throw-away one, ``tests/postgres.py``) and an S3-compatible server
(moto's, in server mode, ``tests/s3.py``), both on this machine.

* **Runs.** ``runs`` runs of ``steps`` steps × ``metrics`` metrics each (100 × 10: 1,000
  points a run) and 10 params, in a local SQLite store (ours) and in a local SQLite MLflow
  tracking store (WAL, synchronous=NORMAL, as ours). Timed:

  - ours: ``jupyter_mltrack.sharing.push(local, team, experiment=…)`` into the team store
    (PostgreSQL + S3 blobs), then the same push again (it must send nothing);
  - MLflow: its client copying the runs one by one (:func:`copy_mlflow`) into an MLflow
    tracking store on the same PostgreSQL server (its own database), with its artifact root
    on the same S3 server: every metric's full history, params and tags, as ours copies
    them. These are the calls mlflow-export-import makes; its release on PyPI (1.2.0)
    refuses to start without a Databricks host.

* **A 1 GiB dataset**, then the same with 1% more rows appended. A DataFrame of ``rows``
  rows × 8 float64 columns (1 GiB at full size).

  - ours: ``mltrack.datasets.push`` into the local store (the version made, untimed in the
    ratio, reported), then ``sharing.push(local, team, dataset=…)`` timed; after the append,
    the next version pushed locally and pushed to the team store again. Bytes sent are read
    from the transfer's report and checked against what the bucket gained.
  - quilt3: the DataFrame written as Parquet (reported apart), then ``Package.push`` to a
    bucket of the same server, as a Quilt user shares a dataset; after the append, the
    Parquet file written again and pushed as the package's next version.

  Bytes sent are counted for both from the upload requests' ``Content-Length``
  (:func:`_count_uploads`, a botocore hook that sees boto3's and s3fs' requests alike); what
  each bucket gained is reported beside them (quilt3 writes a file's new version over the
  same key, so that is not what it sent).

  Target (issue 16 §3): the re-push after a 1% append sends at most 3% of the bytes.

moto's server does not return the composite ``ChecksumSHA256`` of a multipart upload that
real S3 returns, which quilt3 8 reads. The benchmark adds it to the response in a botocore
hook (:func:`_s3_composite_checksums`), computed from the parts' checksums as S3 does: quilt3
runs unchanged otherwise.

Targets (issue 16 §3): ours ≥ 5× faster than the MLflow copy of the runs; the 1% re-push
sending ≤ 3% of the bytes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import met

FULL: dict[str, Any] = {"runs": 1000, "steps": 100, "metrics": 10, "rows": 16_777_216}
QUICK: dict[str, Any] = {"runs": 40, "steps": 20, "metrics": 5, "rows": 262_144}
TARGETS = {"runs_speedup": 5.0, "repush_fraction": 0.03}
COLUMNS = 8
PARAMS = 10
EXPERIMENT = "bench-sharing"
DATASET = "bench/big"


def available() -> str | None:
    """Why this benchmark cannot run here, or None."""
    import importlib.util

    for module, package in (
        ("s3fs", "s3fs"),
        ("moto", "moto[server]"),
        ("psycopg", "psycopg"),
        ("quilt3", "quilt3"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"needs {package} (pip install -e '.[test,bench]')"
    from tests.postgres import _bindir

    if _bindir() is None:
        return "needs PostgreSQL's server (Debian's postgresql package)"
    return None


# -- servers and their environment ---------------------------------------------------------


def _s3_composite_checksums() -> None:
    """Make a multipart upload's answer carry the composite SHA-256 real S3 gives (the
    SHA-256 of the parts' SHA-256 digests, then ``-<parts>``), which moto leaves out and
    quilt3 reads. Registered for every botocore session made after this call."""
    import botocore.handlers

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        parts = params.get("MultipartUpload", {}).get("Parts", [])
        context["bench_part_sums"] = [p.get("ChecksumSHA256") for p in parts]

    def add(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        sums = context.get("bench_part_sums")
        if sums and all(sums) and "ChecksumSHA256" not in parsed:
            digest = hashlib.sha256(b"".join(base64.b64decode(s) for s in sums)).digest()
            parsed["ChecksumSHA256"] = base64.b64encode(digest).decode() + f"-{len(sums)}"

    handlers = botocore.handlers.BUILTIN_HANDLERS
    if not any(
        getattr(h[1], "__name__", "") == "add" and h[0].endswith("Upload") for h in handlers
    ):
        handlers.append(("before-parameter-build.s3.CompleteMultipartUpload", remember))
        handlers.append(("after-call.s3.CompleteMultipartUpload", add))


#: Bytes of request bodies sent to S3 by botocore clients (PUT and POST: uploads, parts),
#: counted by :func:`_count_uploads`' hook. quilt3 writes a new version of a file over the
#: same key, so what a bucket gains does not say what was sent.
SENT = {"bytes": 0, "requests": 0}


def _count_uploads() -> None:
    """Count the bytes every botocore client (boto3's, aiobotocore's for s3fs) sends in S3
    upload requests, from each request's ``Content-Length``."""
    import botocore.handlers

    def count(request: Any, **_: Any) -> None:
        if request.method in ("PUT", "POST"):
            SENT["bytes"] += int(request.headers.get("Content-Length") or 0)
            SENT["requests"] += 1

    handlers = botocore.handlers.BUILTIN_HANDLERS
    if not any(getattr(h[1], "__name__", "") == "count" for h in handlers):
        handlers.append(("before-send.s3", count))


@contextlib.contextmanager
def servers(root: Path) -> Iterator[dict[str, Any]]:
    """PostgreSQL and moto's S3 server, with the environment a team sets for them."""
    import fsspec.config

    from tests.postgres import postgres_server
    from tests.s3 import CREDENTIALS, s3_client, s3_server

    _s3_composite_checksums()
    _count_uploads()
    with postgres_server() as pg, s3_server() as endpoint:
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "MLFLOW_S3_ENDPOINT_URL": endpoint}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
        try:
            yield {"pg": pg, "endpoint": endpoint, "s3": s3_client(endpoint), "root": root}
        finally:
            fsspec.config.conf.pop("s3", None)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _database(pg: str, name: str) -> str:
    """A new database on the server; its SQLAlchemy URL (psycopg 3)."""
    from sqlalchemy import create_engine, text

    base = pg.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}"


def bucket_bytes(s3: Any, bucket: str) -> tuple[int, int]:
    """(objects, bytes) in ``bucket``."""
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            count += 1
            size += obj["Size"]
    return count, size


# -- the runs --------------------------------------------------------------------------------


def _series(run: int, p: dict[str, Any]) -> list[tuple[str, float, int]]:
    return [
        (f"m{k}", ((run * 31 + k * 7 + step) % 997) / 997.0, step)
        for step in range(p["steps"])
        for k in range(p["metrics"])
    ]


def fill_ours(store: Any, p: dict[str, Any]) -> list[str]:
    """``runs`` finished runs in ``store``'s experiment, each with params and series."""
    from jupyter_mltrack.store import MetricPoint, RunStatus

    ids = []
    now = time.time()
    for i in range(p["runs"]):
        run = store.create_run(EXPERIMENT, name=f"run-{i}")
        store.log_params(run.id, {f"p{k}": i * k for k in range(PARAMS)})
        points = [MetricPoint(k, v, s, now + s) for k, v, s in _series(i, p)]
        store.log_metrics(run.id, points)
        store.finish_run(run.id, RunStatus.FINISHED)
        ids.append(run.id)
    return ids


def fill_mlflow(uri: str, p: dict[str, Any]) -> str:
    """The same runs in an MLflow tracking store; the experiment's id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(uri)
    exp = client.create_experiment(EXPERIMENT)
    now = int(time.time() * 1000)
    for i in range(p["runs"]):
        run = client.create_run(exp, run_name=f"run-{i}")
        metrics = [Metric(k, v, now + s, s) for k, v, s in _series(i, p)]
        params = [Param(f"p{k}", str(i * k)) for k in range(PARAMS)]
        for start in range(0, len(metrics), 1000):
            client.log_batch(
                run.info.run_id,
                metrics=metrics[start : start + 1000],
                params=params if not start else [],
            )
        client.set_terminated(run.info.run_id)
    return exp


def _mlflow_sqlite(path: Path) -> str:
    from sqlalchemy import create_engine

    from bench.common import set_pragmas

    uri = f"sqlite:///{path}"
    engine = create_engine(uri)
    set_pragmas(engine, "wal_normal")
    with engine.connect():
        pass
    engine.dispose()
    return uri


def copy_mlflow(src_uri: str, dst_uri: str, artifacts: str) -> dict[str, float]:
    """MLflow's client copying the experiment's runs one by one, as mlflow-export-import
    does (its release on PyPI, 1.2.0, asks for a Databricks host before it does anything, so
    its steps are made here with the same client calls): for each run, its record, every
    metric's full history (``get_metric_history``), then a new run in the destination with
    its params, tags and metrics in batches of 1,000 (``log_batch``'s limit), then its end.
    The destination experiment has ``artifacts`` as its artifact root."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    src, dst = MlflowClient(src_uri), MlflowClient(dst_uri)
    t0 = time.perf_counter()
    exp = src.get_experiment_by_name(EXPERIMENT)
    target = dst.create_experiment(EXPERIMENT + "-copy", artifact_location=artifacts)
    runs = src.search_runs([exp.experiment_id], max_results=50_000)
    for run in runs:
        rid = run.info.run_id
        history = [m for key in run.data.metrics for m in src.get_metric_history(rid, key)]
        copy = dst.create_run(target, start_time=run.info.start_time, run_name=run.info.run_name)
        params = [Param(k, v) for k, v in run.data.params.items()]
        tags = [RunTag(k, v) for k, v in run.data.tags.items() if not k.startswith("mlflow.")]
        metrics = [Metric(m.key, m.value, m.timestamp, m.step) for m in history]
        dst.log_batch(copy.info.run_id, params=params, tags=tags)
        for start in range(0, len(metrics), 1000):
            dst.log_batch(copy.info.run_id, metrics=metrics[start : start + 1000])
        dst.set_terminated(copy.info.run_id, run.info.status, end_time=run.info.end_time)
    return {"runs": len(runs), "total_s": time.perf_counter() - t0}


def bench_runs(sv: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mltrack.sharing import push
    from jupyter_mltrack.store import Store

    root: Path = sv["root"]
    s3 = sv["s3"]
    out: dict[str, Any] = {"runs": p["runs"], "points_per_run": p["steps"] * p["metrics"]}

    local = Store(str(root / "local-runs"))
    t = time.perf_counter()
    fill_ours(local, p)
    out["ours_fill_s"] = time.perf_counter() - t
    s3.create_bucket(Bucket="team-runs")
    team = Store(_database(sv["pg"], "team_runs"), blob_url="s3://team-runs/team")
    t = time.perf_counter()
    first = push(local, team, experiment=EXPERIMENT)
    out["ours_push_s"] = time.perf_counter() - t
    out["ours_push_report"] = _report(first)
    t = time.perf_counter()
    again = push(local, team, experiment=EXPERIMENT)
    out["ours_repush_s"] = time.perf_counter() - t
    out["ours_repush_report"] = _report(again)
    copied, total = team.search_runs(experiment=EXPERIMENT, limit=10)
    out["ours_runs_at_team"] = total
    sample = team.get_run_detail(copied[0].id)
    out["ours_points_checked"] = sum(len(v) for v in sample.metric_series.values())
    team.close()
    local.close()

    src = _mlflow_sqlite(root / "mlflow-src.db")
    t = time.perf_counter()
    fill_mlflow(src, p)
    out["mlflow_fill_s"] = time.perf_counter() - t
    s3.create_bucket(Bucket="mlflow-team")
    dst = _database(sv["pg"], "mlflow_team")
    out["mlflow_copy"] = copy_mlflow(src, dst, "s3://mlflow-team/artifacts")
    out["speedup"] = out["mlflow_copy"]["total_s"] / out["ours_push_s"]
    return out


def _report(report: Any) -> dict[str, Any]:
    if hasattr(report, "to_dict"):
        return report.to_dict()
    return dict(vars(report))


# -- the dataset -----------------------------------------------------------------------------


def frame(rows: int, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"c{i}": rng.random(rows) for i in range(COLUMNS)})


def bench_dataset(sv: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    import pandas as pd

    from jupyter_mltrack.capture.data import snapshotter
    from jupyter_mltrack.datasets.api import push_with
    from jupyter_mltrack.sharing import push
    from jupyter_mltrack.store import Store

    root: Path = sv["root"]
    s3 = sv["s3"]
    rows = p["rows"]
    base = frame(rows)
    grown = pd.concat([base, frame(rows // 100, seed=1)], ignore_index=True)
    out: dict[str, Any] = {"rows": rows, "appended": rows // 100}
    out["nbytes"] = int(base.memory_usage(index=False).sum())

    local = Store(str(root / "local-data"))
    sn = snapshotter(local)
    s3.create_bucket(Bucket="team-data")
    team = Store(_database(sv["pg"], "team_data"), blob_url="s3://team-data/team")
    legs = []
    for label, df in (("first", base), ("appended", grown)):
        t = time.perf_counter()
        push_with(local, sn, df, DATASET, message=label)
        made = time.perf_counter() - t
        before, sent = bucket_bytes(s3, "team-data"), dict(SENT)
        t = time.perf_counter()
        report = push(local, team, dataset=DATASET)
        pushed = time.perf_counter() - t
        after = bucket_bytes(s3, "team-data")
        legs.append(
            {
                "version_s": made,
                "push_s": pushed,
                "report": _report(report),
                "sent_bytes": SENT["bytes"] - sent["bytes"],
                "sent_requests": SENT["requests"] - sent["requests"],
                "bucket_objects": after[0] - before[0],
                "bucket_bytes": after[1] - before[1],
            }
        )
    out["ours"] = legs
    team.close()
    local.close()

    import quilt3

    s3.create_bucket(Bucket="quilt-team")
    path = root / "quilt" / "data.parquet"
    path.parent.mkdir()
    qlegs = []
    for label, df in (("first", base), ("appended", grown)):
        t = time.perf_counter()
        df.to_parquet(path)
        written = time.perf_counter() - t
        before, sent = bucket_bytes(s3, "quilt-team"), dict(SENT)
        pkg = quilt3.Package()
        pkg.set("data.parquet", str(path))
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            t = time.perf_counter()
            pkg.push(DATASET, registry="s3://quilt-team", message=label, force=True)
            pushed = time.perf_counter() - t
        after = bucket_bytes(s3, "quilt-team")
        qlegs.append(
            {
                "parquet_s": written,
                "parquet_bytes": path.stat().st_size,
                "push_s": pushed,
                "sent_bytes": SENT["bytes"] - sent["bytes"],
                "sent_requests": SENT["requests"] - sent["requests"],
                "bucket_objects": after[0] - before[0],
                "bucket_bytes": after[1] - before[1],
            }
        )
    out["quilt"] = qlegs
    first, second = out["ours"]
    out["repush_fraction"] = second["sent_bytes"] / max(first["sent_bytes"], 1)
    out["quilt_repush_fraction"] = qlegs[1]["sent_bytes"] / max(qlegs[0]["sent_bytes"], 1)
    return out


# -- the run and its report -----------------------------------------------------------------


def bench_sharing(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    root = root / f"sharing-{uuid.uuid4().hex[:6]}"
    root.mkdir(parents=True)
    try:
        with servers(root) as sv:
            result = {"params": dict(p), "runs": bench_runs(sv, p), "dataset": bench_dataset(sv, p)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["targets"] = targets(result)
    return result


def targets(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "runs_5x_mlflow_copy": r["runs"]["speedup"] >= TARGETS["runs_speedup"],
        "repush_le_3pct": r["dataset"]["repush_fraction"] <= TARGETS["repush_fraction"],
    }


def report(r: dict[str, Any]) -> list[str]:
    runs, data = r["runs"], r["dataset"]
    mf = runs["mlflow_copy"]
    lines = [
        "13. Sharing (issue 16): pushing to a team store (PostgreSQL + moto S3), ours vs MLflow's"
        " client and quilt3, wall seconds, one run each",
        f"   a. {runs['runs']:,} runs × {runs['points_per_run']:,} metric points",
        f"      ours  push to the team store                       {runs['ours_push_s']:8.2f}",
        f"      ours  the same push again (sends nothing)          {runs['ours_repush_s']:8.2f}",
        f"      MLflow's client copying the runs one by one          {mf['total_s']:8.2f}"
        f"   {runs['speedup']:.1f}x",
        f"      (filling the sources, untimed in the ratio: ours {runs['ours_fill_s']:.1f} s,"
        f" MLflow {runs['mlflow_fill_s']:.1f} s)",
        f"   b. a dataset of {data['rows']:,} rows × {COLUMNS} float64 ({data['nbytes'] / 2**20:,.0f}"
        f" MiB), then {data['appended']:,} rows appended (1%)",
    ]
    for who, legs, made in (
        ("ours", data["ours"], "version_s"),
        ("quilt3", data["quilt"], "parquet_s"),
    ):
        for label, leg in zip(("first", "after 1% append"), legs, strict=True):
            prep = "version made locally" if who == "ours" else "Parquet written"
            lines.append(
                f"      {who:6s} {label:16s} push {leg['push_s']:7.2f} s, sent"
                f" {leg['sent_bytes'] / 2**20:9.1f} MiB in {leg['sent_requests']:,} requests;"
                f" the bucket gained {leg['bucket_bytes'] / 2**20:,.1f} MiB ({prep} {leg[made]:.2f} s)"
            )
    t = r["targets"]
    lines.append(
        f"   targets: runs >= 5x MLflow's copy {runs['speedup']:.1f}x {met(t['runs_5x_mlflow_copy'])};"
        f" 1% re-push <= 3% of the bytes {data['repush_fraction'] * 100:.1f}%"
        f" {met(t['repush_le_3pct'])} (quilt3 {data['quilt_repush_fraction'] * 100:.0f}%)"
    )
    return lines
