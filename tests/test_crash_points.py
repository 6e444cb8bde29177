"""Reliability (issue 12): ``kill -9`` at each of the store's write points — a snapshot's
blocks and blobs, a metric flush, a tracked cell's final write, the Jupyter server's
writes — and at random moments of a writing workload. After each kill the store opens,
nothing partial is visible, the dead process's run reads ``crashed`` with what it had
made durable, and ``mltrack gc`` removes what the kill left behind and nothing else.

Real processes, killed with ``SIGKILL`` by a test-only patch they install from the test's
text (``crash_harness.PRELUDE``). Snapshot and metric-flush points are reached by scripts:
the snapshot job thread and the background worker run the same code in a script as in a
kernel (a kernel adds only the messaging around the cell). The final write of a tracked
cell is a kernel's own (written after the reply, from ipykernel's post-handler hook), so a
real ipykernel dies there; one kernel also dies during a tracked cell's input snapshot.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import urllib.error
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.store import RunStatus, SnapshotStatus
from jupyter_mltrack.store.entities import MetricPoint

from .crash_harness import (
    PRELUDE,
    Server,
    check_collected,
    check_store,
    gc_cli,
    gc_found_nothing,
    load,
    metric_value,
    opened,
    run_victim,
    start_victim,
    victim_env,
)
from .kernel import Kernel

_FRAMES = """
import numpy as np, pandas as pd
import jupyter_mltrack as mltrack
from jupyter_mltrack.capture.data import snapshotter
from jupyter_mltrack.snapshots import storage
from jupyter_mltrack.store import blobs
from jupyter_mltrack.store.store import Store

storage.PACK_BYTES = 256 << 10  # several packs per snapshot

import threading
gate = threading.Event()  # the snapshot job waits for it: the run links the data first
gate.set()
for _name in ("_store_blocks", "_store_file"):
    def _held(self, *args, _real=getattr(storage.Snapshotter, _name), **kwargs):
        gate.wait(120)
        return _real(self, *args, **kwargs)
    setattr(storage.Snapshotter, _name, _held)

def frame(n):
    return pd.DataFrame({
        "a": np.arange(n, dtype=float),
        "b": np.random.default_rng(0).random(400_000)[:n],
        "s": [f"row {i}" for i in range(n)],
    })
"""


def frame(n: int) -> pd.DataFrame:
    """The victims' ``frame(n)``: appending rows shares the blocks of the shorter one."""
    return pd.DataFrame(
        {
            "a": np.arange(n, dtype=float),
            "b": np.random.default_rng(0).random(400_000)[:n],
            "s": [f"row {i}" for i in range(n)],
        }
    )


# Each kill point of a snapshot's write: (arming code, the victim's data is a file, the
# snapshot is linked to a run).
SNAPSHOT_POINTS = {
    # some packs published, others not, no block recorded
    "after a pack is published": (
        "kill_in(blobs._LocalWriter, 'commit', nth=2, after=True)",
        False,
        True,
    ),
    # every pack durable, the snapshot not yet marked complete
    "before it is marked complete": ("kill_in(Store, 'complete_snapshot')", False, False),
    # block rows inserted, the status update run, the transaction not committed
    "inside the completing transaction": (
        "kill_on_sql(r'^UPDATE snapshots SET status')",
        False,
        True,
    ),
    # a pack half-written under its temporary name
    "in the middle of a pack": ("kill_mid_pack(nth=6)", False, False),
    # a pack published under its final name (renamed; where hard links publish, its
    # temporary name not yet removed), its snapshot not yet complete
    "between publishing and cleaning up": (
        "kill_in(blobs, 'fsync_dir', nth=1, after=True)",
        False,
        True,
    ),
    # a file half-copied into the blob store
    "in the middle of a file copy": ("kill_mid_copy()", True, True),
    # a file copied and published, its snapshot not yet complete
    "after a file is copied": ("kill_in(Store, 'complete_snapshot')", True, False),
}


@pytest.mark.parametrize("point", list(SNAPSHOT_POINTS))
def test_a_snapshot_killed_at_each_write_point(tmp_path: Path, point: str) -> None:
    """A snapshot's writer killed at each of its write points: nothing is ``complete``
    without all its blocks, no blob is half-written under its name, the run that read the
    data reads ``crashed`` with the metrics it had flushed, and ``mltrack gc`` (a process of
    its own) removes the abandoned snapshot — deleted if nothing uses it, kept as
    ``failed`` if a run does — with its packs and temp files, while a complete snapshot
    sharing its blocks still loads byte-exact. A second ``gc`` finds nothing."""
    arm, is_file, linked = SNAPSHOT_POINTS[point]
    home = tmp_path / "home"
    data = "open('data.bin', 'wb').write(os.urandom(3 << 20)); target = 'data.bin'"
    body = _FRAMES + (data if is_file else "target = frame(300_000)") + "\n"
    body += """
keep = mltrack.snapshot(frame(100_000), name="keep")  # outside a run: pinned
mltrack.flush()
print("keep", keep.digest, flush=True)
from jupyter_mltrack.snapshots.fingerprint import fingerprint_file, fingerprint_frame
fingerprint = fingerprint_file if isinstance(target, str) else fingerprint_frame
print("killed", fingerprint(target).digest, flush=True)  # the job may die before we print
"""
    body += arm + "\n"
    if linked:
        body += """
with mltrack.start_run(experiment="crash") as run:
    print("run", run.id, flush=True)
    for step in range(30):
        mltrack.log_metric("loss", 1.0 / (step + 1))
    mltrack.flush()
    gate.clear()
    mltrack.snapshot(target, name="killed")
    gate.set()
    mltrack.flush()
"""
    else:
        body += """
snapshotter().snapshot(target, pin=False, progress=False).wait()
"""
    env = victim_env(home)
    killed = run_victim(tmp_path, body, env)
    keep, victim = killed.value("keep"), killed.value("killed")
    url = f"sqlite:///{home / 'mltrack.db'}"
    with opened(url, home) as store:
        seen = check_store(store)
        assert seen.snapshots[victim].status is SnapshotStatus.PENDING
        if linked:
            detail = store.get_run_detail(killed.value("run"))
            assert detail.run.status is RunStatus.CRASHED
            assert len(detail.metric_series["loss"]) == 30
    report = gc_cli(env)
    if linked:
        assert report["abandoned"] == [victim] and report["snapshots"] == []
    else:
        assert report["snapshots"] == [victim] and report["abandoned"] == []
    with opened(url, home) as store:
        seen = check_store(store)
        check_collected(store, seen)
        assert keep in seen.snapshots
        if linked:
            snap = store.get_snapshot(victim)
            assert snap.status is SnapshotStatus.FAILED and "died" in (snap.error or "")
        else:
            assert victim not in seen.snapshots
        pd.testing.assert_frame_equal(load(store, keep), frame(100_000), check_exact=True)
    assert gc_found_nothing(gc_cli(env))


ARTIFACT_POINTS = {
    # a large file half-copied into the store while it is hashed
    "in the middle of a staged copy": "kill_mid_copy()",
    # every blob's bytes flushed under temp names, none published
    "after the bytes are flushed": "kill_in(blob_files, 'syncfs', nth=1, after=True)",
    # every blob published and flushed, the artifact not yet recorded
    "before the artifact is recorded": "kill_in(blob_files, 'syncfs', nth=2, after=True)",
}


@pytest.mark.parametrize("point", list(ARTIFACT_POINTS))
def test_an_artifact_killed_at_each_write_point(tmp_path: Path, point: str) -> None:
    """A folder's log killed at each point of its batch write (a large file copied while
    hashed, 13 blobs made durable with one barrier, then published): the artifact logged
    before stays whole, the killed one is not recorded, no blob is half-written under its
    name, and ``gc`` forgets the half-logged artifact and removes its blobs and temp files."""
    from jupyter_mltrack.store import blob_files

    if blob_files._libc() is None:
        pytest.skip("the batch barrier is syncfs (Linux)")
    home = tmp_path / "home"
    body = f"""
import os
import jupyter_mltrack as mltrack
from jupyter_mltrack.models import artifacts
from jupyter_mltrack.store import blob_files

artifacts.STAGE_FROM = 1 << 20
os.makedirs("folder/sub", exist_ok=True)
for i in range(12):
    open(f"folder/sub/f{{i}}.bin", "wb").write(os.urandom(1000 + i))
open("folder/big.bin", "wb").write(os.urandom(3 << 20))
with mltrack.start_run(experiment="crash") as run:
    print("run", run.id, flush=True)
    mltrack.log_text("kept before the kill", "keep.txt")
    {ARTIFACT_POINTS[point]}
    mltrack.log_artifact("folder", name="killed")
"""
    env = victim_env(home)
    killed = run_victim(tmp_path, body, env)
    run_id = killed.value("run")
    url = f"sqlite:///{home / 'mltrack.db'}"
    with opened(url, home) as store:
        check_store(store)  # every published blob holds the bytes its name says
        assert store.get_run(run_id).status is RunStatus.CRASHED
        assert [a.name for a in store.list_artifacts(run_id)] == ["keep.txt"]
    report = gc_cli(env)
    assert report["abandoned_artifacts"] == [f"{run_id}/killed"]
    with opened(url, home) as store:
        seen = check_store(store)
        assert seen.temp_files == []
        (keep,) = store.list_artifacts(run_id)
        assert seen.blobs == {f.digest for f in keep.files}
        assert store.blobs.get_bytes(keep.files[0].digest) == b"kept before the kill"
    assert gc_found_nothing(gc_cli(env))


def test_gc_never_collects_what_a_live_process_is_writing(tmp_path: Path) -> None:
    """A process stopped in the middle of a snapshot's write (packs published, one half
    written), its snapshot and packs made two hours old as a very long write would be:
    ``mltrack gc`` leaves all of it alone while that process lives — the one-hour rule
    used to delete such a snapshot — and collects it once the process is killed."""
    home = tmp_path / "home"
    body = (
        _FRAMES
        + """
print("digest", __import__("jupyter_mltrack.snapshots.fingerprint", fromlist=["x"])
      .fingerprint_frame(frame(300_000)).digest, flush=True)
hang_mid_pack(nth=20)
snapshotter().snapshot(frame(300_000), pin=False, progress=False).wait()
"""
    )
    env = victim_env(home)
    url = f"sqlite:///{home / 'mltrack.db'}"
    proc = start_victim(tmp_path, body, env)
    try:
        assert proc.stdout is not None
        digest = proc.stdout.readline().split()[1]
        assert proc.stdout.readline().strip() == "hung", proc.stderr
        with opened(url, home) as store:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE snapshots SET created_at = created_at - 7200")
            packs = sorted(store.blobs.iter_digests())
            assert packs  # some packs are published, none recorded yet
            old = time.time() - 7200
            for pack in packs:
                os.utime(store.blobs.path_of(pack), (old, old))
        report = gc_cli(env)
        assert gc_found_nothing(report), json.dumps(report)
        with opened(url, home) as store:
            seen = check_store(store)
            assert seen.snapshots[digest].status is SnapshotStatus.PENDING
            assert sorted(seen.blobs) == packs and seen.temp_files
        proc.kill()  # kill -9
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    report = gc_cli(env)
    assert report["snapshots"] == [digest] and report["orphans"] == len(packs)
    assert report["temp_files"] >= 1
    with opened(url, home) as store:
        check_collected(store, check_store(store))
    assert gc_found_nothing(gc_cli(env))


def test_a_writer_gc_did_not_know_of_fails_cleanly(tmp_path: Path) -> None:
    """Two processes write the same data; the one the snapshot's row names is killed, so a
    ``gc`` takes the snapshot for abandoned (``failed``) and deletes the packs no row
    names — among them the other, live writer's, published and about to be recorded.
    That writer's completion then finds its packs gone and fails the snapshot instead of
    marking it ``complete`` over missing data (``gc`` deletes blobs under the lock the
    completing transaction takes, and the completion checks its blobs under it)."""
    import subprocess
    import sys

    home, go = tmp_path / "home", tmp_path / "go"
    body = (
        _FRAMES
        + f"""
import time
real = Store.complete_snapshot

def complete_snapshot(self, *args, **kwargs):
    print("waiting", flush=True)
    while not os.path.exists({str(go)!r}):
        time.sleep(0.05)
    return real(self, *args, **kwargs)

Store.complete_snapshot = complete_snapshot
mltrack.snapshot(frame(300_000), name="twice")
print("flushed", mltrack.flush().failed, flush=True)
"""
    )
    env = victim_env(home)
    url = f"sqlite:///{home / 'mltrack.db'}"
    proc = start_victim(tmp_path, body, env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting", proc.stderr
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        with opened(url, home) as store:
            with store.engine.begin() as conn:  # the writer it names: dead
                conn.exec_driver_sql("UPDATE snapshots SET writer_pid = ?", (gone.pid,))
            packs = len(list(store.blobs.iter_digests()))
        report = gc_cli(env)
        assert len(report["abandoned"]) == 1 and report["orphans"] == packs > 0
        go.touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out.startswith("flushed") and "removed by a gc" in out, (out, err)
    with opened(url, home) as store:
        seen = check_store(store)
        (snap,) = seen.snapshots.values()
        assert snap.status is SnapshotStatus.FAILED  # as gc marked it: never complete
    assert gc_found_nothing(gc_cli(env))


def test_a_metric_flush_killed_mid_insert(tmp_path: Path, store_url: str) -> None:
    """The background worker killed inside its batch insert (the chunk inserted, the
    transaction not committed): the run reads ``crashed`` with exactly the points of the
    flushes committed before, none of the killed batch, and a latest value that is the
    last durable point."""
    home = tmp_path / "home"
    where = tmp_path / "where.txt"
    body = f"""
import threading, time
import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import api
from jupyter_mltrack.store.store import Store

api.FLUSH_INTERVAL = 0.1
committed = threading.Event()
real = Store.log_metrics

def log_metrics(self, run_id, points):
    real(self, run_id, points)
    if not committed.is_set():
        print("committed", len(points), flush=True)
        kill_on_sql(r"^INSERT INTO metric_chunks", where={str(where)!r})  # the next batch
        committed.set()

Store.log_metrics = log_metrics
run = mltrack.start_run(experiment="flush")
print("run", run.id, flush=True)
for step in range(100):
    mltrack.log_metric("loss", 1.0 / (step + 1))
assert committed.wait(120)
for step in range(100, 250):
    mltrack.log_metric("loss", 1.0 / (step + 1))
time.sleep(120)
"""
    killed = run_victim(tmp_path, body, victim_env(home, store_url))
    assert "_work" in where.read_text().split()  # the background worker's flush
    durable = int(killed.value("committed"))
    with opened(store_url, home) as store:
        check_store(store)
        detail = store.get_run_detail(killed.value("run"))
        assert detail.run.status is RunStatus.CRASHED
        points = detail.metric_series["loss"]
        assert [p.step for p in points] == list(range(durable))
        assert detail.run.metrics["loss"] == metric_value(durable - 1)


def test_a_kernel_killed_in_a_tracked_cells_final_write(tmp_path: Path, store_url: str) -> None:
    """A real kernel killed inside the final write of a ``%%track`` cell — after the
    cell's reply, from ipykernel's post-handler hook, the transaction under way: the run
    reads ``crashed`` with what it had flushed during the cell, and none of what the final
    write carried (the last metric points, the outputs) is half there."""
    home, where = tmp_path / "home", tmp_path / "where.txt"
    kernel = Kernel(tmp_path, home, notebook="nb/final.ipynb")
    try:
        kernel.ok("%load_ext jupyter_mltrack")
        kernel.ok(f"%mltrack store {store_url}")
        kernel.ok(PRELUDE + f"kill_on_sql(r'^INSERT INTO outputs', where={str(where)!r})")
        sent = kernel.execute(
            "%%track -e final\n"
            "for step in range(50):\n"
            "    mltrack.log_metric('loss', 1.0 / (step + 1))\n"
            "mltrack.flush()\n"
            "for step in range(50, 60):\n"
            "    mltrack.log_metric('loss', 1.0 / (step + 1))\n"
            "print('trained')\n",
            wait=False,
        )
        reply = kernel.kc.get_shell_msg(timeout=120)
        assert reply["parent_header"]["msg_id"] == sent["msg_id"]
        assert reply["content"]["status"] == "ok"  # the cell itself ran and replied
        _wait_dead(kernel)
    finally:
        kernel.stop()
    assert "settle" in where.read_text().split()  # the write left for after the reply
    with opened(store_url, home) as store:
        check_store(store)
        (run,) = store.search_runs(experiment="final")[0]
        assert run.status is RunStatus.CRASHED
        detail = store.get_run_detail(run.id)
        assert [p.step for p in detail.metric_series["loss"]] == list(range(50))
        assert detail.outputs == []


def test_a_kernel_killed_while_a_tracked_cells_input_is_stored(tmp_path: Path) -> None:
    """A real kernel killed while the snapshot of a ``%%track`` cell's input is written
    (a pack published, the snapshot pending): the run reads ``crashed``, its input is
    ``pending`` until ``mltrack gc`` marks it ``failed`` (a run uses it) and removes its
    packs; a second ``gc`` finds nothing."""
    home = tmp_path / "home"
    kernel = Kernel(tmp_path, home, notebook="nb/snap.ipynb")
    try:
        kernel.ok("%load_ext jupyter_mltrack")
        kernel.ok(_FRAMES + "df = frame(300_000)")
        kernel.ok(PRELUDE + "kill_in(blobs._LocalWriter, 'commit', nth=2, after=True)")
        kernel.execute("%%track -e snap\nprint(len(df))", wait=False)
        _wait_dead(kernel)
    finally:
        kernel.stop()
    env = victim_env(home)
    url = f"sqlite:///{home / 'mltrack.db'}"
    with opened(url, home) as store:
        check_store(store)
        (run,) = store.search_runs(experiment="snap")[0]
        assert run.status is RunStatus.CRASHED
        (used,) = store.run_data(run.id)
        assert used.snapshot.status is SnapshotStatus.PENDING
    report = gc_cli(env)
    assert report["abandoned"] == [used.snapshot.digest]
    assert report["orphans"] >= 1
    with opened(url, home) as store:
        check_collected(store, check_store(store))
        assert store.get_snapshot(used.snapshot.digest).status is SnapshotStatus.FAILED
    assert gc_found_nothing(gc_cli(env))


def test_a_kernel_dead_before_a_tracked_cells_input_is_stored_keeps_what_it_logged(
    tmp_path: Path,
) -> None:
    """A ``%%track`` cell whose input is still being stored when it ends leaves its run
    open until the snapshot is durable; the kernel dies before that (the next cell runs out
    of memory: ``os._exit`` here). The run reads ``crashed`` with its metrics, params and
    outputs: they were written as soon as the kernel had replied, the run still open."""
    home = tmp_path / "home"
    kernel = Kernel(tmp_path, home, notebook="nb/oom.ipynb")
    try:
        kernel.ok("%load_ext jupyter_mltrack")
        kernel.ok(_FRAMES + "df = frame(50_000)\ngate.clear()")  # its snapshot is held
        kernel.ok(
            "%%track -e oom -p lr\n"
            "lr = 0.1\n"
            "mltrack.log_metric('acc', 1.0)\n"
            "print('trained on', len(df))"
        )
        with opened(f"sqlite:///{home / 'mltrack.db'}", home) as store:
            (run,) = store.search_runs(experiment="oom")[0]
            assert run.status is RunStatus.RUNNING  # waiting for its input's snapshot
            assert run.metrics == {"acc": 1.0} and run.params == {"lr": 0.1}
        kernel.execute("import os\nos._exit(3)", wait=False)
        _wait_dead(kernel)
    finally:
        kernel.stop()
    with opened(f"sqlite:///{home / 'mltrack.db'}", home) as store:
        check_store(store)
        store.reap_stale_runs()
        detail = store.get_run_detail(run.id)
        assert detail.run.status is RunStatus.CRASHED
        assert detail.run.metrics == {"acc": 1.0} and detail.run.params == {"lr": 0.1}
        assert "trained on 50000" in json.dumps(detail.outputs)
        (used,) = store.run_data(run.id)
        assert used.snapshot.status is SnapshotStatus.PENDING


def _wait_dead(kernel: Kernel, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while kernel.km.is_alive():
        assert time.monotonic() < deadline, "the kernel did not reach its kill point"
        time.sleep(0.1)


# --------------------------------------------------------------------------- the server


def _server_case(tmp_path: Path) -> tuple[Path, Path, dict[str, str], str]:
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    return root, home, victim_env(home), f"sqlite:///{home / 'mltrack.db'}"


def _request_dies(server: Server, method: str, path: str, body: object) -> None:
    """A request whose handling kills the server: the answer may never come."""
    with contextlib.suppress(urllib.error.URLError, ConnectionError, OSError):
        server.request(method, path, body)


def test_the_server_killed_while_patching_a_run(tmp_path: Path) -> None:
    """``PATCH /mltrack/api/runs/ID`` (name and tags) killed after the old tags are deleted,
    before the commit: the run keeps its old name and all its old tags."""
    root, home, env, url = _server_case(tmp_path)
    with opened(url, home) as store:
        run = store.create_run("srv", name="old", tags={"a": "1", "b": "2"})
        store.finish_run(run.id, RunStatus.FINISHED)
    server = Server(tmp_path, root, env, "kill_on_sql(r'^DELETE FROM tags')")
    try:
        server.wait_up()
        _request_dies(
            server, "PATCH", f"mltrack/api/runs/{run.id}", {"name": "new", "tags": {"c": "3"}}
        )
        server.wait_killed()
    finally:
        server.stop()
    with opened(url, home) as store:
        check_store(store)
        after = store.get_run(run.id)
        assert (after.name, after.tags) == ("old", {"a": "1", "b": "2"})


def test_the_server_killed_while_deleting_a_run(tmp_path: Path) -> None:
    """``DELETE /mltrack/api/runs/ID`` killed at its last statement, everything else of the
    run deleted in the transaction: the run is all there, metrics and params included."""
    root, home, env, url = _server_case(tmp_path)
    with opened(url, home) as store:
        run = store.create_run("srv", params={"lr": 0.1})
        points = [MetricPoint("loss", metric_value(s), s, time.time()) for s in range(20)]
        store.finish_run(run.id, RunStatus.FINISHED, metrics=points)
    server = Server(tmp_path, root, env, r"kill_on_sql(r'^DELETE FROM runs\b')")
    try:
        server.wait_up()
        _request_dies(server, "DELETE", f"mltrack/api/runs/{run.id}", None)
        server.wait_killed()
    finally:
        server.stop()
    with opened(url, home) as store:
        check_store(store)
        detail = store.get_run_detail(run.id)
        assert len(detail.metric_series["loss"]) == 20 and detail.run.params == {"lr": 0.1}


def test_the_server_killed_while_its_reaper_marks_runs_crashed(tmp_path: Path) -> None:
    """The server's reaper (at start-up) killed inside its update of a dead process's runs:
    the store opens and the runs read ``crashed`` all the same (every read checks)."""
    root, home, env, url = _server_case(tmp_path)
    code = (
        "import sys; from jupyter_mltrack.store import Store;"
        "s = Store(sys.argv[1]); print(s.create_run('reap').id, s.create_run('reap').id)"
    )
    import subprocess
    import sys

    made = subprocess.run(
        [sys.executable, "-c", code, url], env=env, capture_output=True, text=True, check=True
    )
    ids = made.stdout.split()
    server = Server(tmp_path, root, env, "kill_on_sql(r'^UPDATE runs SET status')")
    server.wait_killed()
    with opened(url, home) as store:
        check_store(store)
        assert {store.get_run(i).status for i in ids} == {RunStatus.CRASHED}


def test_the_server_killed_while_moving_runs_with_a_renamed_notebook(tmp_path: Path) -> None:
    """A notebook renamed through the contents API, the server killed while it moves the
    notebook's runs: the runs and the execution log stay together (both at the old path),
    never the log moved and the runs not."""
    root, home, env, url = _server_case(tmp_path)
    (root / "old.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    with opened(url, home) as store:
        runs = [store.create_run("nb", notebook_path="old.ipynb") for _ in range(2)]
        for run in runs:
            store.finish_run(run.id, RunStatus.FINISHED)
        store.add_executions(
            [
                {
                    "session_id": "s1",
                    "seq": i,
                    "notebook_path": "old.ipynb",
                    "raw": "x = 1",
                    "source": "x = 1",
                    "status": "ok",
                    "facts": {},
                    "started_at": time.time(),
                }
                for i in range(3)
            ]
        )
    server = Server(tmp_path, root, env, "kill_on_sql(r'^UPDATE runs SET .*notebook_path')")
    try:
        server.wait_up()
        _request_dies(server, "PATCH", "api/contents/old.ipynb", {"path": "new.ipynb"})
        server.wait_killed()
    finally:
        server.stop()
    with opened(url, home) as store:
        check_store(store)
        paths = {store.get_run(r.id).notebook_path for r in runs}
        with store.engine.connect() as conn:
            logged = {r[0] for r in conn.exec_driver_sql("SELECT notebook_path FROM executions")}
        assert paths == logged == {"old.ipynb"}, (paths, logged)
    assert os.path.exists(root / "new.ipynb")  # the file itself was renamed


# --------------------------------------------------------------------------- at random


_ITERATIONS = int(os.environ.get("MLTRACK_CRASH_ITERATIONS", "20"))


@pytest.mark.timeout(max(300, _ITERATIONS * 6))
def test_kills_at_random_moments_of_a_writing_workload(tmp_path: Path) -> None:
    """A workload that logs metrics, snapshots frames inside and outside runs and copies
    files, killed with SIGKILL at a random moment, many times
    (``MLTRACK_CRASH_ITERATIONS``, default 20) on one store. After each kill the
    invariants hold (``check_store``), ``mltrack gc`` (in this process; the last one a
    process of its own) leaves nothing pending, no temp file and no unreferenced blob, the
    complete snapshots the killed process took load exactly as they were taken, and a
    second ``gc`` finds nothing."""
    import random

    from jupyter_mltrack.cli import main as mltrack_main

    from .crash_harness import Zygote, expected_of

    iterations = _ITERATIONS
    rng = random.Random(int(os.environ.get("MLTRACK_CRASH_SEED", "12")))
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'mltrack.db'}"
    env = victim_env(home)
    with opened(url, home):
        pass  # created (and migrated) before any kill
    verified: set[str] = set()
    tally = {"crashed": 0, "abandoned": 0, "deleted": 0, "orphans": 0, "temp_files": 0}

    def gc(in_process: bool) -> dict[str, object]:
        if not in_process:
            return gc_cli(env)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert mltrack_main(["--store", url, "gc", "--json"]) == 0
        return json.loads(out.getvalue())

    zygote = Zygote(tmp_path, env)
    try:
        for seed in range(iterations):
            last = seed == iterations - 1
            pid = zygote.kill_after(seed, rng.uniform(0.1, 1.6))
            with opened(url, home) as store:
                check_store(store, verified, pid=pid)
                crashed = store.search_runs(status="crashed", limit=1000)[1]
            tally["crashed"] = crashed
            report = gc(in_process=not last)
            tally["abandoned"] += len(report["abandoned"])  # type: ignore[arg-type]
            tally["deleted"] += len(report["snapshots"])  # type: ignore[arg-type]
            tally["orphans"] += report["orphans"]  # type: ignore[operator]
            tally["temp_files"] += report["temp_files"]  # type: ignore[operator]
            with opened(url, home) as store:
                seen = check_store(store, verified, pid=pid)
                check_collected(store, seen)
                for snap in seen.snapshots.values():
                    if snap.status is not SnapshotStatus.COMPLETE or not snap.name:
                        continue
                    if snap.name.split("-")[1] != str(seed):
                        continue  # an earlier child's: checked after its own kill
                    got, want = load(store, snap.digest), expected_of(snap.name)
                    if isinstance(want, bytes):
                        assert Path(got).read_bytes() == want, snap.name
                    else:
                        pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert gc_found_nothing(gc(in_process=not last))
    finally:
        zygote.close()
    print(f"\n{iterations} kills: {tally}")
    assert tally["crashed"] >= 1
