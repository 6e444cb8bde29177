"""Benchmark 10's data: the same N runs in a jupyter_mltrack store and in an MLflow tracking
store (both SQLite), written straight into each tool's own schema, cached per size.

Writing 100,000 runs through either tool's API takes hours (MLflow's ``log_batch`` commits a
row per point); the search benchmark measures reads, so the stores are filled with bulk
inserts of the very rows each tool writes: ours computed by the store's own helpers
(:func:`jupyter_mltrack.store.series.chunks` for the metric chunks,
:func:`jupyter_mltrack.store.searchable.summarise` for the latest-metric summaries,
``param_number``/``param_text`` for the searchable forms of params), MLflow's as its
``SqlAlchemyStore`` writes them (``value`` 0 and ``is_nan`` for NaN, params as ``str()``, its
``mlflow.*`` tags). So the fast path cannot drift from the real one, :func:`verify_ours` and
:func:`verify_mlflow` write a sample of the runs again through each tool's public API into a
fresh store and compare every row and what the read API returns.

What a run is (:func:`plan`, :func:`curves`): 10 params (``lr`` log-uniform in 1e-5..1e-1 to 3
significant digits, ``weight_decay``, ``dropout`` floats; ``batch_size``, ``epochs``,
``layers``, ``seed`` ints; ``model`` of 5 names and ``optimizer`` of 3 strings; ``augment`` a
bool), 10 metrics of 100 steps with curves driven by the params (``acc`` best near
``lr`` = 1e-3 and for the bigger models), about 3% of the runs diverging (``loss`` and
``val_loss`` NaN from some step on, the last value NaN) and a rare NaN ``grad_norm``; 3 tags;
91% finished, the rest failed or interrupted (none running: a server's reaper would close
them while the benchmark reads); over 3 experiments (50/30/20%); about 10% of the runs
nested under an earlier run of their experiment. Everything is a pure function of the size
and the seed.

MLflow at 100,000 runs: its ``metrics`` table holds a row per point, 100 million rows (about
25 GB and an hour or more of inserts with its three indexes), so above ``FULL_HISTORY_MAX``
runs only every ``HISTORY_EVERY``-th run gets its history; every run has its
``latest_metrics``, params and tags. ``search_runs`` reads ``latest_metrics``, never the
history, so this does not make its searches faster (the docs say so beside the figures).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import REPO

#: Change when what is generated changes: a cached store of another version is rebuilt.
GENERATOR_VERSION = "search-data-3"
SEED = 20261213
EXPERIMENTS = ("vision-sweep", "nlp-baselines", "ablations")
#: Run i goes to experiment EXP_PATTERN[i % 10]: 50%, 30%, 20%.
EXP_PATTERN = (0, 0, 0, 0, 0, 1, 1, 1, 2, 2)
MODELS = ("resnet18", "resnet50", "vit-b16", "mlp-mixer", "convnext-t")
MODEL_BASE = (0.78, 0.84, 0.88, 0.70, 0.86)
OPTIMIZERS = ("adam", "adamw", "sgd")
BATCH_SIZES = (16, 32, 64, 128, 256)
STAGES = ("tuning", "baseline", "ablation")
OWNERS = ("alice", "bob", "chen", "dana")
DATASETS = ("cifar10", "cifar100", "imagenet-100")
METRICS = (
    "acc",
    "loss",
    "val_acc",
    "val_loss",
    "f1",
    "precision",
    "recall",
    "grad_norm",
    "throughput",
    "epoch_time",
)
STEPS = 100
#: 2026-01-01T00:00:00Z: runs start over the 180 days after it.
T0 = 1_767_225_600.0
SPAN = 180 * 86_400.0
#: Runs per generated batch (and per insert transaction).
BATCH = 1_000
FULL_HISTORY_MAX = 10_000
HISTORY_EVERY = 10
STATUS_MLFLOW = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
MLFLOW_ARTIFACTS = "file:///tmp/mltrack-bench-mlflow-artifacts"
CACHE_ENV = "MLTRACK_BENCH_CACHE"


def cache_root() -> Path:
    """Where built stores are kept between runs (``bench/.cache``, ignored by git; or
    ``$MLTRACK_BENCH_CACHE``)."""
    return Path(os.environ.get(CACHE_ENV) or REPO / "bench" / ".cache")


def cache_key(n: int) -> str:
    """What a cached pair of stores depends on: the generator, both schemas, the size."""
    import mlflow

    from jupyter_mltrack.store.schema import HEAD

    return f"{GENERATOR_VERSION}|mltrack-schema-{HEAD}|mlflow-{mlflow.__version__}|n={n}|{SEED}"


# what is generated ---------------------------------------------------------------------------


@dataclass
class Plan:
    """Everything about the ``n`` runs but their curves, as arrays (cheap for 100,000)."""

    n: int
    ids: list[str]
    experiment: np.ndarray
    number: np.ndarray
    start: np.ndarray
    end: np.ndarray
    parent: list[str | None]
    status: list[str]
    diverge_at: np.ndarray  # step from which loss is NaN; STEPS when the run does not diverge
    lr: np.ndarray
    weight_decay: np.ndarray
    dropout: np.ndarray
    batch_size: np.ndarray
    epochs: np.ndarray
    layers: np.ndarray
    seed: np.ndarray
    model: np.ndarray
    optimizer: np.ndarray
    augment: np.ndarray
    stage: np.ndarray
    owner: np.ndarray
    dataset: np.ndarray
    final_acc: np.ndarray

    def params(self, i: int) -> dict[str, Any]:
        return {
            "lr": float(self.lr[i]),
            "weight_decay": float(self.weight_decay[i]),
            "dropout": float(self.dropout[i]),
            "batch_size": int(self.batch_size[i]),
            "epochs": int(self.epochs[i]),
            "layers": int(self.layers[i]),
            "seed": int(self.seed[i]),
            "model": MODELS[self.model[i]],
            "optimizer": OPTIMIZERS[self.optimizer[i]],
            "augment": bool(self.augment[i]),
        }

    def tags(self, i: int) -> dict[str, str]:
        return {
            "stage": STAGES[self.stage[i]],
            "owner": OWNERS[self.owner[i]],
            "dataset": DATASETS[self.dataset[i]],
        }

    def name(self, i: int) -> str:
        exp = EXPERIMENTS[self.experiment[i]].split("-")[0]
        return f"{MODELS[self.model[i]]}-{exp}-{int(self.number[i])}"

    def code(self, i: int) -> str:
        return f"model = build({MODELS[self.model[i]]!r})\nfit(model, lr={float(self.lr[i])!r})"

    def error(self, i: int) -> dict[str, Any] | None:
        if self.status[i] != "failed":
            return None
        if self.diverge_at[i] < STEPS:
            return {"ename": "FloatingPointError", "evalue": "loss is NaN", "traceback": []}
        return {"ename": "RuntimeError", "evalue": "CUDA out of memory", "traceback": []}


def _sig(values: np.ndarray, digits: int) -> np.ndarray:
    """Rounded to ``digits`` significant digits, as a sweep's config would print them."""
    return np.array([float(f"{v:.{digits}g}") for v in values])


def plan(n: int, seed: int = SEED) -> Plan:
    rng = np.random.default_rng(seed)
    ids = [b.hex() for b in np.frombuffer(rng.bytes(16 * n), dtype="S16")]
    if len(set(ids)) != n:  # 128 random bits: never, but a clash would corrupt both stores
        raise RuntimeError("run id clash")
    idx = np.arange(n)
    experiment = np.array(EXP_PATTERN)[idx % 10]
    number = np.zeros(n, dtype=np.int64)
    for e in range(len(EXPERIMENTS)):
        mask = experiment == e
        number[mask] = np.arange(1, int(mask.sum()) + 1)
    start = T0 + idx * (SPAN / n) + rng.uniform(0, 0.5 * SPAN / n, n)
    duration = rng.uniform(300, 7200, n)
    lr = _sig(10 ** rng.uniform(-5, -1, n), 3)
    model = rng.integers(0, len(MODELS), n)
    dropout = np.round(rng.uniform(0, 0.5, n), 2)
    quality = np.exp(-((np.log10(lr) + 3.0) ** 2) / 2.0)
    final_acc = np.clip(
        np.array(MODEL_BASE)[model] * (0.35 + 0.65 * quality)
        - 0.15 * np.maximum(dropout - 0.3, 0)
        + rng.normal(0, 0.02, n),
        0.05,
        0.99,
    )
    diverges = rng.random(n) < np.where(lr > 0.03, 0.25, 0.005)
    diverge_at = np.where(diverges, rng.integers(20, 90, n), STEPS)
    u = rng.random(n)
    status = [
        ("failed" if u[i] < 0.6 else "finished")
        if diverges[i]
        else ("failed" if u[i] < 0.05 else "interrupted" if u[i] < 0.08 else "finished")
        for i in range(n)
    ]
    child = (rng.random(n) < 0.1) & (idx >= 10)
    parent: list[str | None] = [None] * n
    for i in np.flatnonzero(child):
        j = i - 10  # the same slot of an earlier cycle: the same experiment
        while child[j]:
            j -= 10
        if j >= 0:
            parent[i] = ids[j]
    return Plan(
        n=n,
        ids=ids,
        experiment=experiment,
        number=number,
        start=start,
        end=start + duration,
        parent=parent,
        status=status,
        diverge_at=diverge_at,
        lr=lr,
        weight_decay=_sig(10 ** rng.uniform(-6, -2, n), 2),
        dropout=dropout,
        batch_size=np.array(BATCH_SIZES)[rng.integers(0, len(BATCH_SIZES), n)],
        epochs=rng.integers(10, 101, n),
        layers=rng.integers(2, 25, n),
        seed=rng.integers(0, 5, n),
        model=model,
        optimizer=rng.integers(0, len(OPTIMIZERS), n),
        augment=rng.random(n) < 0.5,
        stage=rng.integers(0, len(STAGES), n),
        owner=rng.integers(0, len(OWNERS), n),
        dataset=rng.integers(0, len(DATASETS), n),
        final_acc=final_acc,
    )


def curves(p: Plan, lo: int, hi: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(runs, metrics, steps)`` and timestamps ``(runs, steps)`` of runs ``lo..hi``
    (a batch: the noise is drawn per batch, so a run's curves depend on ``BATCH``)."""
    rng = np.random.default_rng([seed, lo])
    m = hi - lo
    t = np.arange(STEPS, dtype=float)
    tau = rng.uniform(8, 30, (m, 1))
    progress = 1 - np.exp(-(t + 1) / tau)
    final = p.final_acc[lo:hi, None]
    acc = np.clip(0.1 + (final - 0.1) * progress + rng.normal(0, 0.01, (m, STEPS)), 0, 1)
    loss = np.maximum(
        2.3 * (1 - progress) + 0.8 * (1 - final) + rng.normal(0, 0.02, (m, STEPS)), 0.01
    )
    gap = rng.uniform(0.01, 0.05, (m, 1))
    val_acc = np.clip(acc - gap + rng.normal(0, 0.01, (m, STEPS)), 0, 1)
    val_loss = loss * 1.1 + gap + rng.normal(0, 0.02, (m, STEPS))
    f1 = np.clip(val_acc - 0.01 + rng.normal(0, 0.005, (m, STEPS)), 0, 1)
    precision = np.clip(f1 + 0.01 + rng.normal(0, 0.005, (m, STEPS)), 0, 1)
    recall = np.clip(f1 - 0.01 + rng.normal(0, 0.005, (m, STEPS)), 0, 1)
    grad_norm = 5 * np.exp(-t / 30) + 0.5 + np.abs(rng.normal(0, 0.2, (m, STEPS)))
    speed = p.batch_size[lo:hi, None] * 40.0 / (1 + p.model[lo:hi, None])
    throughput = speed * (1 + rng.normal(0, 0.03, (m, STEPS)))
    epoch_time = 50_000 / throughput
    values = np.stack(
        [acc, loss, val_acc, val_loss, f1, precision, recall, grad_norm, throughput, epoch_time],
        axis=1,
    )
    for r in range(m):
        k = int(p.diverge_at[lo + r])
        if k < STEPS:  # diverged: loss NaN, accuracy at chance, gradients gone
            values[r, [1, 3, 7], k:] = np.nan
            values[r, [0, 2, 4, 5, 6], k:] = 0.1 + rng.normal(0, 0.01, (5, STEPS - k))
    values[:, 7, :][rng.random((m, STEPS)) < 0.002] = np.nan  # a rare NaN gradient norm
    duration = (p.end[lo:hi] - p.start[lo:hi])[:, None]
    stamps = p.start[lo:hi, None] + (t + 1) * duration / STEPS
    return values, stamps


def points(values: np.ndarray, stamps: np.ndarray) -> list[Any]:
    """One run's points as its training loop logs them: step by step, every metric."""
    from jupyter_mltrack.store import MetricPoint

    keys = METRICS * STEPS
    vals = values.T.reshape(-1).tolist()  # step-major
    steps = [s for s in range(STEPS) for _ in METRICS]
    ts = np.repeat(stamps, len(METRICS)).tolist()
    return list(map(MetricPoint, keys, vals, steps, ts))


# ours ------------------------------------------------------------------------------------------


def _our_rows(p: Plan, i: int, exp_ids: Sequence[int], values: np.ndarray, stamps: np.ndarray):
    """The rows of run ``i`` in every table, as the store writes them (``RunWrites``)."""
    from jupyter_mltrack.store.run_writes import _dumps
    from jupyter_mltrack.store.searchable import param_number, param_text, summarise
    from jupyter_mltrack.store.series import chunks

    run_id = p.ids[i]
    error = p.error(i)
    run = {
        "id": run_id,
        "experiment_id": exp_ids[p.experiment[i]],
        "number": int(p.number[i]),
        "name": p.name(i),
        "status": p.status[i],
        "start_time": float(p.start[i]),
        "end_time": float(p.end[i]),
        "updated_at": float(p.end[i]),
        "notebook_path": f"sweeps/{EXPERIMENTS[p.experiment[i]]}.ipynb",
        "cell_id": None,
        "execution_count": None,
        "code": p.code(i),
        "error": json.dumps(error, allow_nan=False) if error else None,
        "note": "",
        "source": "notebook",
        "parent_run_id": p.parent[i],
        "environment_id": None,
        "git_commit": None,
        "git_dirty": None,
        "kernel_id": None,
        "host": "bench-generator",
        "pid": None,
        "heartbeat_at": float(p.end[i]),
    }
    params = []
    for k, v in p.params(i).items():
        text = _dumps(v)
        params.append(
            {
                "run_id": run_id,
                "key": k,
                "value": text,
                "num_value": param_number(v),
                "text_value": param_text(v, text),
            }
        )
    tags = [{"run_id": run_id, "key": k, "value": v} for k, v in p.tags(i).items()]
    pts = points(values, stamps)
    chunk_rows = [{"run_id": run_id, **c._asdict()} for c in chunks(pts)]
    latest = []
    for m, key in enumerate(METRICS):
        last = STEPS - 1  # steps are 0..99 once each: the latest point is the last step
        v = float(values[m, last])
        latest.append(
            {
                "run_id": run_id,
                "key": key,
                "step": last,
                "value": None if math.isnan(v) else v,
                "timestamp": float(stamps[last]),
                **summarise(values[m].tolist())._asdict(),
            }
        )
    return run, params, tags, chunk_rows, latest


class OursWriter:
    """Bulk-inserts batches of runs into our store at ``path`` (schema made by ``Store``)."""

    def __init__(self, path: Path) -> None:
        from sqlalchemy import create_engine, event

        from jupyter_mltrack.store import Store
        from jupyter_mltrack.store.models import (
            LatestMetricRow,
            MetricChunkRow,
            ParamRow,
            RunRow,
            TagRow,
        )

        self.path = path
        url = f"sqlite:///{path}"
        store = Store(url)
        self.exp_ids = [store.get_or_create_experiment(name).id for name in EXPERIMENTS]
        store.close()
        self.engine = create_engine(url)

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=OFF")  # a build: a crash rebuilds it
            cur.execute("PRAGMA cache_size=-500000")
            cur.close()

        self.tables = [
            t.__table__ for t in (RunRow, ParamRow, TagRow, MetricChunkRow, LatestMetricRow)
        ]
        self.seconds = 0.0

    def write(self, p: Plan, lo: int, values: np.ndarray, stamps: np.ndarray) -> None:
        t0 = time.perf_counter()
        rows: list[list[dict[str, Any]]] = [[], [], [], [], []]
        for r in range(len(values)):
            run, params, tags, chunk_rows, latest = _our_rows(
                p, lo + r, self.exp_ids, values[r], stamps[r]
            )
            rows[0].append(run)
            rows[1] += params
            rows[2] += tags
            rows[3] += chunk_rows
            rows[4] += latest
        with self.engine.begin() as conn:
            for table, batch in zip(self.tables, rows, strict=True):
                conn.execute(table.insert(), batch)
        self.seconds += time.perf_counter() - t0

    def close(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.engine.dispose()
        return {"build_s": self.seconds, "bytes": self.path.stat().st_size}


# MLflow ----------------------------------------------------------------------------------------


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def mlflow_tags(p: Plan, i: int) -> dict[str, str]:
    """The run's tags as MLflow records them: ours, and the ``mlflow.*`` ones its fluent API
    sets in a notebook (user, source; parent of a nested run; the run name)."""
    tags = {
        **p.tags(i),
        "mlflow.user": p.tags(i)["owner"],
        "mlflow.source.name": f"sweeps/{EXPERIMENTS[p.experiment[i]]}.ipynb",
        "mlflow.source.type": "NOTEBOOK",
    }
    if p.parent[i] is not None:
        tags["mlflow.parentRunId"] = p.parent[i]
    return tags


def mlflow_params(p: Plan, i: int) -> dict[str, str]:
    """Params as ``mlflow.log_params`` stores them: ``str(value)``."""
    return {k: str(v) for k, v in p.params(i).items()}


def _mlflow_metric(v: float) -> tuple[float, bool]:
    """``SqlAlchemyStore.sanitize_metric_value``: NaN is stored as 0 with ``is_nan``."""
    return (0.0, True) if math.isnan(v) else (v, False)


class MlflowWriter:
    """Bulk-inserts batches of runs into MLflow's tables at ``path`` (schema and experiments
    made through its client); the metric history of the runs ``history`` selects, every
    run's ``latest_metrics``."""

    def __init__(self, path: Path, history: Callable[[int], bool]) -> None:
        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric,
            SqlMetric,
            SqlParam,
            SqlRun,
            SqlTag,
        )
        from mlflow.tracking import MlflowClient
        from sqlalchemy import create_engine, event

        t0 = time.perf_counter()
        self.path = path
        self.history = history
        uri = f"sqlite:///{path}"
        client = MlflowClient(tracking_uri=uri)
        self.exp_ids = [
            int(client.create_experiment(name, artifact_location=f"{MLFLOW_ARTIFACTS}/{name}"))
            for name in EXPERIMENTS
        ]
        _dispose_mlflow(client)
        self.engine = create_engine(uri)

        @event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=OFF")  # a build: a crash rebuilds it (not kept)
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-1000000")
            cur.close()

        self.tables = [t.__table__ for t in (SqlRun, SqlParam, SqlTag, SqlLatestMetric)]
        self.metric_sql = str(
            SqlMetric.__table__.insert().compile(
                dialect=self.engine.dialect, column_keys=_METRIC_COLUMNS
            )
        )
        self.history_runs = 0
        self.seconds = time.perf_counter() - t0

    def write(self, p: Plan, lo: int, values: np.ndarray, stamps: np.ndarray) -> None:
        t0 = time.perf_counter()
        rows: list[list[dict[str, Any]]] = [[], [], [], []]
        metrics: list[tuple[Any, ...]] = []
        for r in range(len(values)):
            i = lo + r
            run, params, tags, latest, mt = mlflow_rows(
                p, i, self.exp_ids, values[r], stamps[r], self.history(i)
            )
            rows[0].append(run)
            rows[1] += params
            rows[2] += tags
            rows[3] += latest
            metrics += mt
            self.history_runs += bool(mt)
        with self.engine.begin() as conn:
            for table, batch in zip(self.tables, rows, strict=True):
                conn.execute(table.insert(), batch)
            if metrics:
                conn.exec_driver_sql(self.metric_sql, metrics)
        self.seconds += time.perf_counter() - t0

    def close(self) -> dict[str, Any]:
        self.engine.dispose()
        return {
            "build_s": self.seconds,
            "bytes": self.path.stat().st_size,
            "experiment_ids": [str(e) for e in self.exp_ids],
            "history_runs": self.history_runs,
        }


_METRIC_COLUMNS = ["key", "value", "timestamp", "step", "is_nan", "run_uuid"]


def mlflow_rows(
    p: Plan, i: int, exp_ids: Sequence[int], values: np.ndarray, stamps: np.ndarray, history: bool
):
    """Run ``i``'s rows in MLflow's tables, as its ``SqlAlchemyStore`` writes them for
    ``create_run`` + ``log_batch`` + ``set_terminated``."""
    run_id = p.ids[i]
    exp = EXPERIMENTS[p.experiment[i]]
    tags = mlflow_tags(p, i)
    run = {
        "run_uuid": run_id,
        "name": p.name(i),
        "source_type": "UNKNOWN",
        "source_name": "",
        "entry_point_name": "",
        "user_id": tags["mlflow.user"],
        "status": STATUS_MLFLOW[p.status[i]],
        "start_time": _ms(p.start[i]),
        "end_time": _ms(p.end[i]),
        "deleted_time": None,
        "source_version": "",
        "lifecycle_stage": "active",
        "artifact_uri": f"{MLFLOW_ARTIFACTS}/{exp}/{run_id}/artifacts",
        "experiment_id": exp_ids[p.experiment[i]],
    }
    tag_rows = [
        {"key": k, "value": v, "run_uuid": run_id}
        for k, v in {**tags, "mlflow.runName": p.name(i)}.items()
    ]
    param_rows = [
        {"key": k, "value": v, "run_uuid": run_id} for k, v in mlflow_params(p, i).items()
    ]
    ts = [_ms(s) for s in stamps.tolist()]
    latest = []
    for m, key in enumerate(METRICS):
        value, is_nan = _mlflow_metric(float(values[m, STEPS - 1]))
        latest.append(
            {
                "key": key,
                "value": value,
                "timestamp": ts[STEPS - 1],
                "step": STEPS - 1,
                "is_nan": is_nan,
                "run_uuid": run_id,
            }
        )
    metrics: list[tuple[Any, ...]] = []
    if history:
        for m, key in enumerate(METRICS):
            for s, v in enumerate(values[m].tolist()):
                value, is_nan = _mlflow_metric(v)
                metrics.append((key, value, ts[s], s, is_nan, run_id))
    return run, param_rows, tag_rows, latest, metrics


def _dispose_mlflow(client: Any) -> None:
    """Close the connections MLflow's store keeps (it caches its engine per URI)."""
    store = client._tracking_client.store
    engine = getattr(store, "engine", None)
    if engine is not None:
        engine.dispose()


# the cache ---------------------------------------------------------------------------------------


@dataclass
class Stores:
    """A built pair of stores and what is known about their runs."""

    n: int
    ours: Path
    mlflow: Path
    meta: dict[str, Any]
    plan: Plan
    #: Per run, what the benchmark's queries read (see ``TRUTH``): their answers are checked.
    truth: dict[str, np.ndarray]

    @property
    def ours_url(self) -> str:
        return f"sqlite:///{self.ours}"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.mlflow}"


#: Per-run values the queries' answers are checked against: name -> (metric, reducer).
TRUTH: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "acc": ("acc", lambda v: v[:, -1]),
    "loss": ("loss", lambda v: v[:, -1]),
    "loss.min": ("loss", lambda v: _nanmin(v)),
    "f1": ("f1", lambda v: v[:, -1]),
}


def _nanmin(v: np.ndarray) -> np.ndarray:
    out = np.full(len(v), np.nan)
    ok = ~np.isnan(v).all(axis=1)
    out[ok] = np.nanmin(v[ok], axis=1)
    return out


def _truth(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "truth.npz") as data:
        return {k: data[k] for k in data.files}


def history_of(n: int) -> Callable[[int], bool]:
    if n <= FULL_HISTORY_MAX:
        return lambda i: True
    return lambda i: i % HISTORY_EVERY == 0


def stores(n: int, progress: Callable[[str], None] = print, *, rebuild: bool = False) -> Stores:
    """The stores of ``n`` runs, built (and verified) unless a cached build of the same key
    is there. A build is written under a temp name and renamed when complete."""
    key = cache_key(n)
    folder = cache_root() / f"search-{n}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    meta_file = folder / "meta.json"
    p = plan(n)
    if not rebuild and meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("key") == key:
            progress(f"   using the cached stores of {n:,} runs in {folder}")
            return Stores(n, folder / "mltrack.db", folder / "mlflow.db", meta, p, _truth(folder))
    for old in cache_root().glob(f"search-{n}-*"):  # other versions of this size
        shutil.rmtree(old, ignore_errors=True)
    tmp = folder.with_name(folder.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    progress(f"   building the stores of {n:,} runs in {tmp} (cached for later runs)...")
    t0 = time.perf_counter()
    ours_w = OursWriter(tmp / "mltrack.db")
    mlflow_w = MlflowWriter(tmp / "mlflow.db", history_of(n))
    truth = {k: np.empty(n) for k in TRUTH}
    for lo, values, stamps in iter_batches(p):
        ours_w.write(p, lo, values, stamps)
        mlflow_w.write(p, lo, values, stamps)
        hi = lo + len(values)
        for name, (metric, reduce) in TRUTH.items():
            truth[name][lo:hi] = reduce(values[:, METRICS.index(metric), :])
        if hi % (10 * BATCH) == 0 or hi == n:
            progress(
                f"   {hi:,}/{n:,} runs in {time.perf_counter() - t0:.0f} s"
                f" (ours {ours_w.seconds:.0f} s, MLflow {mlflow_w.seconds:.0f} s)"
            )
    ours = ours_w.close()
    theirs = mlflow_w.close()
    np.savez(tmp / "truth.npz", **truth)
    from bench.search_verify import verify_mlflow, verify_ours

    sample = sample_indices(p)
    problems = verify_ours(tmp / "mltrack.db", p, sample, tmp / "verify")
    problems += verify_mlflow(tmp / "mlflow.db", p, sample, tmp / "verify", theirs)
    shutil.rmtree(tmp / "verify", ignore_errors=True)
    if problems:
        raise RuntimeError(
            f"the generated stores differ from what the tools write ({len(problems)}):\n"
            + "\n".join(problems[:30])
        )
    meta = {
        "key": key,
        "n": n,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ours": ours,
        "mlflow": theirs,
        "verified_runs": len(sample),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return Stores(n, folder / "mltrack.db", folder / "mlflow.db", meta, p, _truth(folder))


def sample_indices(p: Plan, count: int = 24) -> list[int]:
    """Runs checked against the tools' own writes: some of each kind (nested, diverged,
    failed, interrupted, in each experiment), the first and the last."""
    picks: list[int] = [0, p.n - 1]

    def some(pred: Callable[[int], bool], k: int) -> None:
        found = [i for i in range(p.n) if pred(i) and i not in picks][:k]
        picks.extend(found)

    some(lambda i: p.parent[i] is not None, 4)
    some(lambda i: p.diverge_at[i] < STEPS, 4)
    some(lambda i: p.status[i] == "interrupted", 2)
    some(lambda i: p.status[i] == "failed" and p.diverge_at[i] == STEPS, 2)
    some(lambda i: p.lr[i] < 1e-4, 2)  # lr printed in e-notation: "5.62e-05"
    for e in range(len(EXPERIMENTS)):
        some(lambda i, e=e: p.experiment[i] == e, 2)
    rng = np.random.default_rng(SEED + 1)
    rest = [int(i) for i in rng.choice(p.n, size=min(p.n, count), replace=False)]
    picks.extend(i for i in rest if i not in picks)
    return sorted(set(picks))


def run_curves(p: Plan, i: int) -> tuple[np.ndarray, np.ndarray]:
    """The curves of one run (its batch's, regenerated)."""
    lo = (i // BATCH) * BATCH
    values, stamps = curves(p, lo, min(lo + BATCH, p.n))
    return values[i - lo], stamps[i - lo]


def iter_batches(p: Plan) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    for lo in range(0, p.n, BATCH):
        values, stamps = curves(p, lo, min(lo + BATCH, p.n))
        yield lo, values, stamps
