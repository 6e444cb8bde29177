"""A real ``jupyter server`` process serving the extension, over a store with known data.

The fuzz and XSRF tests talk to the server the way clients do (``requests`` from another
thread of control, a browser's login), which pytest-jupyter's in-process server cannot take:
it runs in the test's own event loop, which a blocking client would stall. So the server is a
subprocess on a free port, with a token, ``allow_unauthenticated_access=False`` and its own
Jupyter folders, reading a SQLite store this module fills first.
"""

from __future__ import annotations

import math
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import MetricPoint, RunStatus, Store

from .ports import free_port
from .sweep_data import seed_sweep
from .test_server import populate

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ApiServer:
    """A running server: where it is, its token, and the resources its store holds."""

    url: str  # ends with "/"
    token: str
    store_url: str
    root: Path
    run_ids: dict[str, str] = field(default_factory=dict)
    disposable: list[str] = field(default_factory=list)  # runs a fuzzed DELETE may remove
    metric_keys: list[str] = field(default_factory=list)
    snapshot_refs: list[str] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)
    #: ``(run id, artifact name)`` of the artifacts logged, and their file paths.
    artifacts: list[tuple[str, str]] = field(default_factory=list)
    artifact_paths: list[str] = field(default_factory=list)
    #: Registered models; ``scratch``'s versions and aliases are for a fuzzed DELETE.
    models: list[str] = field(default_factory=list)
    #: Models a fuzzed DELETE of a whole model may remove (no alias: it needs no force).
    disposable_models: list[str] = field(default_factory=list)
    #: Datasets (``team/churn``: v1, v2; ``scratch/data``'s tags are for a fuzzed DELETE),
    #: and what names their versions (tags, ``latest``, hash prefixes).
    datasets: list[str] = field(default_factory=list)
    dataset_versions: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


def fill(store: Store, server: ApiServer) -> None:
    """Runs (finished, failed, running), metrics with a ``/`` and long series, outputs, tags,
    snapshots of a frame, an array and a renamed frame, used by runs: something for every path
    parameter to name."""
    server.run_ids = populate(store)
    t0 = 1_700_001_000.0
    run = store.create_run(
        "exp a/b", name="slashed", notebook_path="nb/c d.ipynb", params={"lr": 0.1}, start_time=t0
    )
    points = [MetricPoint("train/loss", 1.0 / (s + 1), s, t0 + s / 1000) for s in range(5000)]
    points += [
        MetricPoint("odd", v, i, t0 + i) for i, v in enumerate((math.nan, math.inf, -math.inf, 0.5))
    ]
    store.finish_run(run.id, RunStatus.FINISHED, metrics=points, end_time=t0 + 10)
    server.run_ids["slashed"] = run.id
    server.run_ids["sweep"] = seed_sweep(store, start=t0 + 100).sweep  # its own experiment
    server.disposable = [store.create_run("exp-a", name=f"d{i}").id for i in range(4)]
    server.metric_keys = ["loss", "accuracy", "train/loss", "odd"]
    server.experiments = ["exp-a", "exp-b", "exp a/b"]

    sn = Snapshotter(store)
    try:
        frame = pd.DataFrame({"x": [1.5, math.nan, 3.0] * 40, "s": ["a", None, "c"] * 40})
        first = sn.snapshot(frame, name="train/v1", pin=True, progress=False).wait()
        second = sn.snapshot(frame.iloc[:100], name="train", progress=False).wait()
        grid = sn.snapshot(np.arange(12.0).reshape(3, 4), progress=False).wait()
    finally:
        sn.close()
    log_session(store, server)
    store.add_run_data(server.run_ids["a1"], "input", "df", first.digest)
    store.add_run_data(server.run_ids["a2"], "input", "df", second.digest)
    store.add_run_data(server.run_ids["a2"], "output", "grid", grid.digest)
    log_artifacts(store, server)
    push_datasets(store, server)
    digests = [first.digest, second.digest, grid.digest]
    server.snapshot_refs = [
        *digests,
        *(d.split(":")[1][:8] for d in digests),
        "train",
        "train/v1",
    ]


#: A 1x1 PNG: an image artifact to preview.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "da63f8cfc0f01f0005000201ff7e2a1d0000000049454e44ae426082"
)


def log_artifacts(store: Store, server: ApiServer) -> None:
    """A text, an image and models logged by runs a1 and a2; ``churn`` v1 (@production) and
    v2 (@staging); ``scratch`` with 6 versions and aliases ``x1``-``x3`` to delete, and
    ``gone1``-``gone3`` (one version each) to delete whole."""
    from jupyter_mltrack.models.artifacts import Source, write_artifact

    a1, a2, b1 = (server.run_ids[k] for k in ("a1", "a2", "b1"))
    meta = {"format": "skops", "flavor": "sklearn", "library_version": "1.5.0", "unsafe": False}
    write_artifact(store, a1, "notes/readme.md", "text", [Source("readme.md", data=b"# notes\n")])
    write_artifact(store, a1, "pixel.png", "file", [Source("pixel.png", data=PNG)])
    for run_id, payload in ((a1, b"w1"), (a2, b"w2")):
        write_artifact(
            store, run_id, "model", "model", [Source("model.skops", data=payload)], meta=meta
        )
    store.register_model_version("churn", a1, "model")
    store.register_model_version("churn", a2, "model")
    store.set_model_alias("churn", "production", 1)
    store.set_model_alias("churn", "staging", 2)
    for i in range(1, 7):
        data = f"scratch {i}".encode()
        write_artifact(store, b1, f"m{i}", "model", [Source("m.skops", data=data)], meta=meta)
        store.register_model_version("scratch", b1, f"m{i}")
    for i in range(1, 4):
        store.set_model_alias("scratch", f"x{i}", i)
        store.register_model_version(f"gone{i}", b1, f"m{i}")
    server.artifacts = [(a1, "notes/readme.md"), (a1, "pixel.png"), (a1, "model"), (a2, "model")]
    server.artifact_paths = ["readme.md", "pixel.png", "model.skops"]
    server.models = ["churn", "scratch"]
    server.disposable_models = ["gone1", "gone2", "gone3"]


def push_datasets(store: Store, server: ApiServer) -> None:
    """``team/churn`` v1 (@v1, read by run a1 by name) and v2 (@gold, latest);
    ``scratch/data`` with tags ``t1``-``t3`` to delete."""
    from jupyter_mltrack.datasets.api import push_with

    sn = Snapshotter(store)
    try:
        frame = pd.DataFrame({"id": range(20), "score": [i / 4 for i in range(20)]})
        v1, _ = push_with(store, sn, frame.iloc[:15], "team/churn", tag="v1", pushed_by="ann")
        v2, _ = push_with(
            store, sn, frame, "team/churn", meta={"src": "crm"}, tag="gold", pushed_by="bo"
        )
        push_with(store, sn, frame.iloc[:5], "scratch/data", pushed_by="ann")
    finally:
        sn.close()
    store.add_run_data(
        server.run_ids["a1"], "input", "team/churn", v1.snapshot_digest, None, v1.ref
    )
    for tag in ("t1", "t2", "t3"):
        store.set_dataset_tag("scratch/data", tag)
    server.datasets = ["team/churn", "scratch/data"]
    server.dataset_versions = ["latest", "v1", "gold", v1.hex[:8], v2.hex[:10], v2.hash]


#: The notebook whose logged session ``POST export`` can export (``log_session``).
NOTEBOOK = "nb/a.ipynb"
KERNEL = "k-fuzz"


def log_session(store: Store, server: ApiServer) -> None:
    """The execution log a kernel leaves for ``NOTEBOOK``: a setup cell and a tracked cell
    whose run ``POST export`` can turn into a pipeline."""
    t0 = 1_700_002_000.0
    run = store.create_run(
        "exp-a", notebook_path=NOTEBOOK, code="score = sum(data) * C", start_time=t0
    )
    store.finish_run(
        run.id, RunStatus.FINISHED, metrics=[MetricPoint("score", 3.0, 0, t0)], end_time=t0 + 1
    )
    server.run_ids["exported"] = run.id
    cells = ["%load_ext jupyter_mltrack", "C = 0.5\ndata = [1, 2, 3]", "score = sum(data) * C"]
    store.add_executions(
        [
            {
                "session_id": "f" * 32,
                "seq": i,
                "notebook_path": NOTEBOOK,
                "kernel_id": KERNEL,
                "cell_id": f"cell-{i}",
                "execution_count": i + 1,
                "raw": ("%%track\n" if i == 2 else "") + source,
                "source": "" if source.startswith("%") else source,
                "status": "ok",
                "error_statement": None,
                "facts": {},
                "run_id": run.id if i == 2 else None,
                "started_at": t0 + i,
                "duration": 0.01,
            }
            for i, source in enumerate(cells)
        ]
    )


@contextmanager
def api_server(tmp: Path) -> Iterator[ApiServer]:
    """Fill a store under ``tmp`` and serve it; the server is stopped on exit."""
    root = tmp / "root"
    (root / "nb").mkdir(parents=True)
    (root / NOTEBOOK).write_text(
        '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    store_url = f"sqlite:///{tmp / 'store' / 'mltrack.db'}"
    port = free_port()
    server = ApiServer(
        url=f"http://127.0.0.1:{port}/", token=secrets.token_hex(16), store_url=store_url, root=root
    )
    store = Store(store_url)
    try:
        fill(store, server)
    finally:
        store.close()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRACK_", "JUPYTER_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        MLTRACK_HOME=str(tmp / "home"),
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_DATA_DIR=str(tmp / "data"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={server.token}",
            "--ServerApp.allow_unauthenticated_access=False",
            # Only this extension: JupyterLab's start-up is not what is tested.
            "--ServerApp.jpserver_extensions={'jupyter_mltrack': True, 'jupyterlab': False}",
            f"--MltrackApp.store_url={store_url}",
            "--MltrackApp.reap_interval=0",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter server exited:\n{(tmp / 'server.log').read_text()}")
            try:
                if requests.get(server.url + "api/status", headers=server.auth, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter server not up:\n{(tmp / 'server.log').read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
