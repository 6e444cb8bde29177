"""Benchmark 10's generated stores checked against each tool's own writes.

A sample of the generated runs is written again through the public API (ours:
``Store.create_run`` with its params and tags, ``finish_run`` with its points, status, error
and end time; MLflow: ``MlflowClient.create_run``, ``log_batch``, ``set_terminated``) into a
fresh store; then every row of those runs is compared between the bulk-built store and the
API-built one, and each run is read back through the read API of both (ours: ``get_run``,
``get_run_detail``; MLflow: ``get_run``, ``search_runs``, ``get_metric_history``) and checked
against what the generator meant to write. A difference is a line of the returned list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.search_data import (
    EXPERIMENTS,
    METRICS,
    MLFLOW_ARTIFACTS,
    STATUS_MLFLOW,
    STEPS,
    Plan,
    _dispose_mlflow,
    _ms,
    history_of,
    mlflow_params,
    mlflow_tags,
    points,
    run_curves,
)

#: Columns of ``runs`` that the API sets from the clock and the process, not from the run.
_VOLATILE = {"updated_at", "heartbeat_at", "host", "pid"}


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, in nested tuples, lists and dicts."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _rows(engine: Any, table: Any, id_column: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    from sqlalchemy import select

    col = table.c[id_column]
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(table).where(col.in_(list(ids))))]
    return sorted(rows, key=lambda r: (r[id_column], str(r.get("key", "")), r.get("step", 0)))


def _compare_tables(
    what: str, built: Any, ref: Any, tables: Sequence[tuple[Any, str, set[str]]], ids: list[str]
) -> list[str]:
    problems = []
    for table, id_column, skip in tables:
        a = [
            {k: v for k, v in r.items() if k not in skip}
            for r in _rows(built, table, id_column, ids)
        ]
        b = [
            {k: v for k, v in r.items() if k not in skip} for r in _rows(ref, table, id_column, ids)
        ]
        if len(a) != len(b):
            problems.append(f"{what} {table.name}: {len(a)} rows built, {len(b)} written")
            continue
        for x, y in zip(a, b, strict=True):
            if not _same(x, y):
                diff = {
                    k: (x.get(k), y.get(k))
                    for k in x.keys() | y.keys()
                    if not _same(x.get(k), y.get(k))
                }
                problems.append(f"{what} {table.name} {x.get(id_column)}: built vs written {diff}")
                break
    return problems


# ours -------------------------------------------------------------------------------------------


def verify_ours(path: Path, p: Plan, sample: Sequence[int], workdir: Path) -> list[str]:
    from sqlalchemy import select

    from jupyter_mltrack.store import Store
    from jupyter_mltrack.store.models import (
        ExperimentRow,
        LatestMetricRow,
        MetricChunkRow,
        ParamRow,
        RunRow,
        TagRow,
    )

    workdir.mkdir(parents=True, exist_ok=True)
    ref = Store(f"sqlite:///{workdir / 'ours-ref.db'}")
    built = Store(f"sqlite:///{path}")
    problems: list[str] = []
    try:
        for i in sample:
            values, stamps = run_curves(p, i)
            ref.create_run(
                EXPERIMENTS[p.experiment[i]],
                name=p.name(i),
                notebook_path=f"sweeps/{EXPERIMENTS[p.experiment[i]]}.ipynb",
                code=p.code(i),
                source="notebook",
                parent_run_id=p.parent[i],
                tags=p.tags(i),
                params=p.params(i),
                start_time=float(p.start[i]),
                run_id=p.ids[i],
            )
            ref.finish_run(
                p.ids[i],
                p.status[i],
                metrics=points(values, stamps),
                error=p.error(i),
                end_time=float(p.end[i]),
            )
        ids = [p.ids[i] for i in sample]
        # experiments are numbered in the order they were first used: compare names
        runs = RunRow.__table__
        exp = ExperimentRow.__table__
        for name, store in (("built", built), ("written", ref)):
            with store.engine.connect() as conn:
                got = dict(
                    conn.execute(
                        select(runs.c.id, exp.c.name)
                        .join(exp, exp.c.id == runs.c.experiment_id)
                        .where(runs.c.id.in_(ids))
                    ).all()
                )
            want = {p.ids[i]: EXPERIMENTS[p.experiment[i]] for i in sample}
            if got != want:
                problems.append(f"ours ({name}): runs' experiments differ from the plan")
        # run numbers: the sample's runs are numbered 1.. in the written store, not built
        problems += _compare_tables(
            "ours",
            built.engine,
            ref.engine,
            [
                (runs, "id", _VOLATILE | {"number", "experiment_id"}),
                (ParamRow.__table__, "run_id", set()),
                (TagRow.__table__, "run_id", set()),
                (MetricChunkRow.__table__, "run_id", {"id"}),
                (LatestMetricRow.__table__, "run_id", set()),
            ],
            ids,
        )
        for i in sample:
            problems += _check_our_run(built, ref, p, i)
    finally:
        built.close()
        ref.close()
    return problems


def _check_our_run(built: Any, ref: Any, p: Plan, i: int) -> list[str]:
    """Run ``i`` read back through the store's API: as the API-written one, as planned."""
    from dataclasses import asdict

    run_id = p.ids[i]
    a, b = built.get_run_detail(run_id), ref.get_run_detail(run_id)
    out = []
    ra, rb = asdict(a.run), asdict(b.run)
    ra.pop("number"), rb.pop("number"), ra.pop("experiment_id"), rb.pop("experiment_id")
    if not _same(ra, rb):
        out.append(f"ours {run_id}: get_run differs from the API-written run")
    if not _same(a.metric_series, b.metric_series) or a.error != b.error:
        out.append(f"ours {run_id}: get_run_detail differs from the API-written run")
    values, stamps = run_curves(p, i)
    want_params = p.params(i)
    if not _same(a.run.params, dict(sorted(want_params.items()))):
        out.append(f"ours {run_id}: params {a.run.params} != {want_params}")
    last = {k: float(values[m, STEPS - 1]) for m, k in enumerate(METRICS)}
    if not _same(a.run.metrics, dict(sorted(last.items()))):
        out.append(f"ours {run_id}: latest metrics differ from the plan")
    for m, key in enumerate(METRICS):
        series = a.metric_series.get(key, [])
        got = [(pt.step, pt.value, pt.timestamp) for pt in series]
        want = [(s, float(values[m, s]), float(stamps[s])) for s in range(STEPS)]
        if not _same(got, want):
            out.append(f"ours {run_id}: series {key} differs from the plan")
    if a.run.tags != p.tags(i) or a.run.parent_run_id != p.parent[i]:
        out.append(f"ours {run_id}: tags or parent differ from the plan")
    if a.run.status.value != p.status[i] or a.run.start_time != float(p.start[i]):
        out.append(f"ours {run_id}: status or start differ from the plan")
    return out


# MLflow -----------------------------------------------------------------------------------------


def verify_mlflow(
    path: Path, p: Plan, sample: Sequence[int], workdir: Path, built_meta: dict[str, Any]
) -> list[str]:
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.tracking import MlflowClient
    from sqlalchemy import create_engine, func, update

    workdir.mkdir(parents=True, exist_ok=True)
    ref_uri = f"sqlite:///{workdir / 'mlflow-ref.db'}"
    ref = MlflowClient(tracking_uri=ref_uri)
    exp_ids = [
        ref.create_experiment(name, artifact_location=f"{MLFLOW_ARTIFACTS}/{name}")
        for name in EXPERIMENTS
    ]
    problems: list[str] = []
    if exp_ids != built_meta["experiment_ids"]:
        problems.append(f"MLflow experiment ids {built_meta['experiment_ids']} != {exp_ids}")
    history = history_of(p.n)
    written: dict[str, str] = {}
    for i in sample:
        values, stamps = run_curves(p, i)
        run = ref.create_run(
            exp_ids[p.experiment[i]],
            start_time=_ms(p.start[i]),
            tags=mlflow_tags(p, i),
            run_name=p.name(i),
        )
        rid = run.info.run_id
        ts = [_ms(s) for s in stamps.tolist()]
        metrics = [
            Metric(key, float(values[m, s]), ts[s], s)
            for s in range(STEPS)
            for m, key in enumerate(METRICS)
        ]
        ref.log_batch(
            rid, metrics=metrics, params=[Param(k, v) for k, v in mlflow_params(p, i).items()]
        )
        ref.set_terminated(rid, status=STATUS_MLFLOW[p.status[i]], end_time=_ms(p.end[i]))
        written[rid] = p.ids[i]
    _dispose_mlflow(ref)
    # MLflow makes its own run ids: give the written runs the built ones, then compare rows
    ref_engine = create_engine(ref_uri)
    with ref_engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        for rid, want in written.items():
            for t in (SqlRun, SqlParam, SqlTag, SqlMetric, SqlLatestMetric):
                table = t.__table__
                conn.execute(update(table).where(table.c.run_uuid == rid).values(run_uuid=want))
            runs = SqlRun.__table__
            conn.execute(
                update(runs)
                .where(runs.c.run_uuid == want)
                .values(artifact_uri=func.replace(runs.c.artifact_uri, rid, want))
            )
    built_engine = create_engine(f"sqlite:///{path}")
    ids = [p.ids[i] for i in sample]
    try:
        problems += _compare_tables(
            "MLflow",
            built_engine,
            ref_engine,
            [
                (SqlRun.__table__, "run_uuid", set()),
                (SqlParam.__table__, "run_uuid", set()),
                (SqlTag.__table__, "run_uuid", set()),
                (SqlLatestMetric.__table__, "run_uuid", set()),
            ],
            ids,
        )
        # the history: of the runs that have theirs (every run up to FULL_HISTORY_MAX)
        problems += _compare_tables(
            "MLflow",
            built_engine,
            ref_engine,
            [(SqlMetric.__table__, "run_uuid", set())],
            [p.ids[i] for i in sample if history(i)],
        )
    finally:
        built_engine.dispose()
        ref_engine.dispose()
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    try:
        for i in sample:
            problems += _check_mlflow_run(client, p, i, history(i))
    finally:
        _dispose_mlflow(client)
    return problems


def _check_mlflow_run(client: Any, p: Plan, i: int, history: bool) -> list[str]:
    run_id = p.ids[i]
    run = client.get_run(run_id)
    values, stamps = run_curves(p, i)
    out = []
    if run.data.params != mlflow_params(p, i):
        out.append(f"MLflow {run_id}: params {run.data.params} != {mlflow_params(p, i)}")
    last = {k: float(values[m, STEPS - 1]) for m, k in enumerate(METRICS)}
    if not _same(run.data.metrics, last):
        out.append(f"MLflow {run_id}: metrics {run.data.metrics} != {last}")
    if run.data.tags != {**mlflow_tags(p, i), "mlflow.runName": p.name(i)}:
        out.append(f"MLflow {run_id}: tags {run.data.tags}")
    info = run.info
    if (info.status, info.start_time, info.end_time, info.run_name) != (
        STATUS_MLFLOW[p.status[i]],
        _ms(p.start[i]),
        _ms(p.end[i]),
        p.name(i),
    ):
        out.append(f"MLflow {run_id}: info {info}")
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(exp_ids, f"tags.mlflow.runName = '{p.name(i)}'")
    if [r.info.run_id for r in found] != [run_id]:
        out.append(f"MLflow {run_id}: search_runs by name found {[r.info.run_id for r in found]}")
    for m, key in ((0, "acc"), (1, "loss")):
        got = [(x.step, x.value, x.timestamp) for x in client.get_metric_history(run_id, key)]
        got.sort()
        ts = [_ms(s) for s in stamps.tolist()]
        # a run left without history at 100,000 runs has none (its latest metrics are there)
        want = [(s, float(values[m, s]), ts[s]) for s in range(STEPS)] if history else []
        if not _same([tuple(g) for g in got], want):
            out.append(f"MLflow {run_id}: history of {key} differs from the plan")
    return out
