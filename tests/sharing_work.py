"""A notebook's worth of work to push and pull (tests/test_sharing.py, test_cli_sharing.py),
and what two stores must agree on once it has been copied.

``dump`` reads every table of a store into plain values, with what is per store replaced by
what names it everywhere (an experiment's, environment's, dataset's and model's integer id
by its name or digest) and what a copy legitimately changes left out (a run's number and
``updated_at``, the ``mltrack.origin`` tag a copy adds, a snapshot's or block's own record
times); blob bytes are read from each store's blob store. Equal dumps: equal stores, byte
for byte where it is data.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, select, text

from jupyter_mltrack.datasets.api import push_with
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.sharing import ORIGIN_TAG
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Store
from jupyter_mltrack.store.models import Base

from .s3 import s3_server, use_s3

META = {"format": "skops", "flavor": "sklearn", "library_version": "1.5.0", "unsafe": False}

#: Columns that are per store, or record when a row was written in that store.
_LOCAL = {
    "runs": {"number", "updated_at"},
    "snapshots": {"created_at", "completed_at", "writer_host", "writer_pid", "writer_at"},
    "blocks": {"created_at"},
    "metric_chunks": {"id"},
    "executions": {"id"},
    "experiments": {"id", "created_at"},
    "environments": {"id"},
    "datasets": {"id"},
    "registered_models": {"id", "updated_at"},
}


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "k": [f"r{i % 7}" for i in range(n)]})


def make_work(store: Store, runs: int = 3, *, experiment: str = "churn") -> dict[str, Any]:
    """Runs with params, metric series, outputs, tags, a note, a nested run, an input
    snapshot, the execution log; a model artifact registered with an alias; a dataset with
    two versions and a tag, read by a run. What was made, by name."""
    sn = Snapshotter(store)
    try:
        data_v1, _ = push_with(store, sn, frame(40, 1), "team/churn", message="March")
        data_v2, _ = push_with(store, sn, frame(60, 2), "team/churn", message="April", tag="gold")
        loose = sn.snapshot(frame(30, 3), name="scratch", pin=True, progress=False).wait()
    finally:
        sn.close()
    env = store.put_environment(Environment("3.12.1", "linux", {"numpy": "2.0.0"}, "e" * 64))
    t0 = time.time() - 100
    session = uuid.uuid4().hex
    ids: list[str] = []
    for i in range(runs):
        run = store.create_run(
            experiment,
            name=f"fit {i}",
            tags={"stage": "dev", "seed": str(i)},
            params={"lr": 0.1 / (i + 1), "layers": [8, 4], "opt": "adam"},
            code=f"model.fit(lr={0.1 / (i + 1)})",
            notebook_path="work/churn.ipynb",
            cell_id=f"cell-{i}",
            execution_count=i + 1,
            start_time=t0 + i,
            parent_run_id=ids[0] if i == 2 else None,
            data=[("input", "df", data_v1.snapshot_digest, None, data_v1.ref)] if i == 0 else [],
        )
        store.log_metrics(
            run.id, [MetricPoint("loss", 1.0 / (s + 1), s, t0 + i + s / 100) for s in range(20)]
        )
        store.log_metrics(run.id, [MetricPoint("loss", float("nan"), 20, t0 + i + 0.5)])
        store.finish_run(
            run.id,
            RunStatus.FINISHED,
            metrics=[MetricPoint("acc", 0.8 + i / 100, 0, t0 + i + 1)],
            outputs=[{"output_type": "stream", "name": "stdout", "text": f"epoch {i}\n"}],
            end_time=t0 + i + 1,
            environment_id=env,
            git_commit="abc123",
            git_dirty=False,
        )
        ids.append(run.id)
    store.add_run_data(ids[1], "output", "scratch", loose.digest)
    store.update_run(ids[1], note="the good one")
    store.set_run_values(ids[0], {"w": ({"type": "ndarray", "shape": [3]}, b"\x93NUMPY\x00\x01")})
    store.add_executions(
        [
            {
                "session_id": session,
                "seq": i,
                "notebook_path": "work/churn.ipynb",
                "kernel_id": "k1",
                "cell_id": f"cell-{i}",
                "execution_count": i + 1,
                "raw": f"%%track\nmodel.fit(lr={0.1 / (i + 1)})",
                "source": f"model.fit(lr={0.1 / (i + 1)})",
                "status": "ok",
                "error_statement": None,
                "facts": {"statements": [i]},
                "run_id": ids[i] if i < len(ids) else None,
                "started_at": t0 + i,
                "duration": 0.01,
            }
            for i in range(runs)
        ]
    )
    write_artifact(
        store,
        ids[1],
        "model",
        "model",
        [Source("model.skops", data=b"weights" * 100), Source("extra/notes.txt", data=b"hi")],
        meta=META,
    )
    store.register_model_version("churn-model", ids[1], "model", description="first")
    store.set_model_alias("churn-model", "production", 1)
    store.update_model_version("churn-model", 1, set_tags={"validation": "passed"})
    store.update_registered_model("churn-model", set_tags={"team": "growth"})
    return {
        "runs": ids,
        "dataset": ("team/churn", data_v1.hash, data_v2.hash),
        "snapshot": loose.digest,
    }


def dump(store: Store) -> dict[str, Any]:
    """Every table, canonical (see the module docstring), plus the bytes of every blob a
    row names."""
    out: dict[str, Any] = {}
    with store.engine.connect() as conn:

        def rows(name: str) -> list[dict[str, Any]]:
            table = Base.metadata.tables[name]
            order = [c for c in table.primary_key.columns] or list(table.c)
            got = [dict(r._mapping) for r in conn.execute(select(table).order_by(*order))]
            return [
                {
                    k: bytes(v) if isinstance(v, memoryview) else v
                    for k, v in r.items()
                    if k not in _LOCAL.get(name, ())
                }
                for r in got
            ]

        experiments = {
            r.id: r.name for r in conn.execute(select(Base.metadata.tables["experiments"]))
        }
        envs = {r.id: r.digest for r in conn.execute(select(Base.metadata.tables["environments"]))}
        datasets = {r.id: r.name for r in conn.execute(select(Base.metadata.tables["datasets"]))}
        models = {
            r.id: r.name for r in conn.execute(select(Base.metadata.tables["registered_models"]))
        }
        ids = {
            "experiment_id": experiments,
            "environment_id": envs,
            "dataset_id": datasets,
            "model_id": models,
        }
        for name in sorted(Base.metadata.tables):
            if name in ("run_tombstones",):
                continue
            table_rows = []
            for r in rows(name):
                for key, names in ids.items():
                    if key in r and not (name == "experiments" or name == "environments"):
                        r[key] = names.get(r[key], r[key])
                if name == "tags" and r["key"] == ORIGIN_TAG:
                    continue
                table_rows.append(r)
            if name in ("metric_chunks", "executions"):  # their order, not their ids
                table_rows = sorted(table_rows, key=repr)
            out[name] = sorted(table_rows, key=repr) if name not in _ORDERED else table_rows
    blob_names = {r["digest"] for r in out["artifact_files"]} | {r["pack"] for r in out["blocks"]}
    out["blob bytes"] = {n: store.blobs.get_bytes(n) for n in sorted(blob_names)}
    return out


#: Tables whose rows' order (by primary key) is meaningful as it is.
_ORDERED = {"outputs"}


def run_entities(store: Store, ids: list[str]) -> dict[str, Any]:
    """The runs as the store hands them out, but for their number and origin tag."""
    return {
        i: replace(
            (r := store.get_run(i)),
            number=0,
            experiment_id=0,
            tags={k: v for k, v in r.tags.items() if k != ORIGIN_TAG},
        )
        for i in ids
    }


def run_details(store: Store, ids: list[str]) -> dict[str, Any]:
    out = {}
    for i in ids:
        d = store.get_run_detail(i).to_dict()
        for key in ("number", "experiment_id", "updated_at"):
            d.pop(key, None)
        d["tags"] = {k: v for k, v in d["tags"].items() if k != ORIGIN_TAG}
        out[i] = d
    return out


@contextlib.contextmanager
def team_server() -> Iterator[str]:
    """moto's S3 server with a bucket, set up for s3fs as a team sets it (the environment,
    so subprocesses see it too); yields the bucket's ``s3://`` URL."""
    import pytest

    pytest.importorskip("s3fs")
    with s3_server() as endpoint, pytest.MonkeyPatch.context() as mp:
        bucket = use_s3(mp, endpoint, "share")
        yield f"s3://{bucket}"


class TeamDatabases:
    """Fresh PostgreSQL databases on the tests' server (each a new team store), dropped
    at the end."""

    def __init__(self, server_url: str, bucket: str) -> None:
        self.server = server_url
        self.bucket = bucket
        self.admin = create_engine(
            server_url.replace("postgresql://", "postgresql+psycopg://"),
            isolation_level="AUTOCOMMIT",
        )
        self.names: list[str] = []

    def new(self) -> tuple[str, str]:
        """A new empty database's URL and a new blob prefix in the bucket."""
        name = "share_" + uuid.uuid4().hex[:12]
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self.server.rsplit("/", 1)[0] + "/" + name, f"{self.bucket}/{name}"

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()
