"""The team set-up of the README, for real (issue 12, section 5): the store on PostgreSQL and
snapshot data on an S3-compatible server (moto's, in server mode), through ``s3://`` with
``MLTRACK_BLOB_URL``. Snapshots are written, deduplicated, restored, shared by a second
process and garbage-collected."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.location import BLOB_URL_ENV, URL_ENV
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import SnapshotStatus, Store

from .kernel import REPO
from .s3 import s3_client, use_s3


@pytest.fixture
def team(
    s3_endpoint: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, str, object]]:
    """A store on a fresh PostgreSQL database with its blobs in a fresh bucket; the s3
    endpoint set as a team sets it for s3fs (``AWS_ENDPOINT_URL``) and for fsspec."""
    from sqlalchemy import create_engine, text

    bucket = use_s3(monkeypatch, s3_endpoint)
    s3 = s3_client(s3_endpoint)
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    blob_url = f"s3://{bucket}/team"
    store = Store(url, blob_url=blob_url)
    try:
        yield store, blob_url, s3
    finally:
        store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _keys(s3: object, blob_url: str) -> list[str]:
    bucket, prefix = blob_url[len("s3://") :].split("/", 1)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_snapshots_on_postgresql_and_s3(team: tuple[Store, str, object]) -> None:
    store, blob_url, s3 = team
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.random(300_000),
            "label": pd.Categorical(rng.choice(["a", "b", "c"], 300_000)),
            "when": pd.date_range("2026-01-01", periods=300_000, freq="s", tz="UTC"),
        }
    )
    sn = Snapshotter(store)
    try:
        first = sn.snapshot(frame, name="train").wait()
        assert first.status is SnapshotStatus.COMPLETE
        keys = _keys(s3, blob_url)
        assert keys, "nothing was written to the bucket"
        # the same data again: nothing new in the bucket
        again = sn.snapshot(frame.copy(), name="train-again")
        assert again.wait().digest == first.digest and again.written == 0
        assert _keys(s3, blob_url) == keys
        # appended rows: only the new blocks are written
        longer = pd.concat([frame, frame.iloc[:1000]], ignore_index=True)
        grown = sn.snapshot(longer, name="train-longer")
        grown.wait()
        assert 0 < grown.written < first.stored_bytes
        restored = sn.load(first.digest)
        pd.testing.assert_frame_equal(restored, frame)
    finally:
        sn.close()

    # another process, configured only by the environment as a teammate's would be, reads it
    env = {**os.environ, URL_ENV: store.url, BLOB_URL_ENV: blob_url}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    code = (
        "import jupyter_mltrack as m; f = m.load_snapshot('train');"
        "print(len(f), f['label'].dtype, f['when'].dt.tz)"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.split() == ["300000", "category", "UTC"]

    # nothing uses them (not pinned, no run): gc deletes the rows and the blobs
    collector = Snapshotter(store)
    try:
        report = collector.gc()
    finally:
        collector.close()
    assert len(report["snapshots"]) == 2 and report["packs_deleted"] >= 1
    assert _keys(s3, blob_url) == []


def test_artifacts_and_models_on_postgresql_and_s3(
    team: tuple[Store, str, object], tmp_path
) -> None:
    """Artifacts share the bucket with snapshots: a folder's files land once each (a second
    run logging the same folder adds no object), and a registered model logged into S3
    loads back by alias in another process configured only by the environment."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_mltrack.models.artifacts import read_bytes, sources_of, write_artifact

    store, blob_url, s3 = team
    folder = tmp_path / "eval"
    (folder / "plots").mkdir(parents=True)
    (folder / "summary.txt").write_text("auc 0.91\n")
    (folder / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
    first, second = store.create_run("team"), store.create_run("team")
    kind, name, sources = sources_of(folder)
    logged = write_artifact(store, first.id, name, kind, sources)
    keys = _keys(s3, blob_url)
    assert len(keys) == 2
    write_artifact(store, second.id, name, kind, sources)
    assert _keys(s3, blob_url) == keys
    assert read_bytes(store, logged, "plots/roc.csv") == b"fpr,tpr\n0,0\n1,1\n"

    import jupyter_mltrack as mltrack

    mltrack.set_store(store)
    try:
        model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
        mltrack.log_model(model, run=first.id, register="team-model")
        mltrack.set_alias("team-model", "production", 1)
    finally:
        mltrack.set_store(None)
    env = {**os.environ, URL_ENV: store.url, BLOB_URL_ENV: blob_url}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    code = (
        "import jupyter_mltrack as m; model = m.load_model('models:/team-model@production');"
        "print(model.predict([[0.0], [3.0]]).tolist())"
    )
    seen = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() == "[0, 1]"


def test_make_team_store_starts_a_store_a_second_process_can_use(tmp_path: Path) -> None:
    """``make team-store`` (``python -m tests.team_store``): the variables it writes reach a
    working store (records in its PostgreSQL, data in its bucket) from another process, and
    Ctrl-C stops it cleanly and removes the file."""
    pytest.importorskip("s3fs")
    env_file = tmp_path / "team.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.team_store", "--env-file", str(env_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the team store did not start"
            time.sleep(0.2)
        time.sleep(0.2)  # (written in one call; let it land)
        env = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in env_file.read_text().splitlines()
        )
        code = (
            "import os, pandas as pd\n"
            "from jupyter_mltrack.store import Store\n"
            "from jupyter_mltrack.snapshots.storage import Snapshotter\n"
            "s = Store(os.environ['MLTRACK_TEAM_URL'], blob_url=os.environ['MLTRACK_TEAM_BLOBS'])\n"
            "run = s.create_run('team', name='first')\n"
            "snap = Snapshotter(s).snapshot(pd.DataFrame({'x': range(1000)}), name='d').wait()\n"
            "s.finish_run(run.id, 'finished')\n"
            "print(s.search_runs(experiment='team')[1], snap.status.value, snap.stored_bytes > 0)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["1", "complete", "True"], done.stdout
        assert env["MLTRACK_TEAM_BLOBS"] == "s3://team/mltrack"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "export MLTRACK_TEAM_URL=" in out and not env_file.exists()
