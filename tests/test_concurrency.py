"""Many processes tracking into one store at once, while a server lists runs (issue 12 §3).

8 writer processes × 200 runs × 100 metric steps and a small snapshot each, all started
together into the same 2 experiments, on SQLite and on PostgreSQL, while a real Jupyter
server on the same store is asked for the run list every 100 ms (and a run's detail every
tenth time). Everything written must be there: every run once and ``finished``, every
metric point (the values exact for a sample), every snapshot ``complete`` and loadable,
the run numbers of each experiment exactly 1..N; no writer may fail or complain, and the
reader must get no error. The harness is ``tests/load.py`` (benchmark 9 runs the same load
for its figures). Full scale: about 20 s of load on SQLite and 35-55 s on PostgreSQL on a
shared 2-core machine.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from jupyter_mltrack.store import Store

from .load import Load, Server, Writers, checkout_env, run_load, verify

FULL = Load(writers=8, runs=200, steps=100, experiments=2)


def _blob_url(store_url: str, tmp_path: Path) -> str | None:
    """A PostgreSQL store keeps snapshot data in a blob store of its own: a shared folder."""
    return None if store_url.startswith("sqlite") else (tmp_path / "blobs").as_uri()


@pytest.mark.timeout(900)
def test_eight_writers_and_a_reader(store_url: str, tmp_path: Path) -> None:
    blob_url = _blob_url(store_url, tmp_path)
    Store(store_url, blob_url=blob_url).close()  # created and migrated before anyone writes
    server = Server(store_url, tmp_path / "server", blob_url)
    try:
        run = run_load(store_url, FULL, tmp_path / "writers", server, blob_url)
    finally:
        server.close()

    assert run.writer_errors == []
    assert all(r.result and not r.result["failed"] for r in run.writers)
    assert run.reader.errors == []
    assert "list" in run.reader.kinds and "detail" in run.reader.kinds  # it did read
    assert verify(store_url, FULL, blob_url) == []


# Creating runs only, many processes into one experiment: the contention on its numbers
# alone, higher than the load above (each create is all a writer does).
_CREATOR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from jupyter_mltrack.store import Store
    from tests.load import wait_for_start

    writer, runs, workdir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    store = Store()  # MLTRACK_STORE_URL
    store.get_or_create_experiment("contended")
    wait_for_start(workdir, writer)
    for i in range(runs):
        store.create_run(
            "contended",
            name=f"w{writer}-r{i}",
            tags={"writer": str(writer), "index": str(i)},
            params={"writer": writer, "index": i, "lr": 0.1, "layers": [64, 32]},
        )
    """
)


@pytest.mark.timeout(600)
def test_run_numbers_under_contention(store_url: str, tmp_path: Path) -> None:
    """24 processes × 40 runs (with tags and params, so each run's transaction is a few
    statements long) into one experiment: numbers 1..960, none refused.

    Before the experiment's row was locked for the allocation, a PostgreSQL writer that lost
    the race for a number 20 times in a row gave up ("could not allocate a run number"),
    failing the user's ``start_run``: here 18 of the 24 writers did, in each of two runs."""
    writers, runs = 24, 40
    store = Store(store_url)
    store.close()
    workdir = tmp_path / "creators"
    procs = Writers(
        lambda w: [sys.executable, "-c", _CREATOR, str(w), str(runs), str(workdir)],
        writers,
        workdir,
        checkout_env(MLTRACK_STORE_URL=store_url),
    )
    try:
        procs.wait_ready()
        procs.start()
        results = procs.wait()
    finally:
        procs.kill()
    assert [(r.writer, r.returncode, r.stderr[-500:]) for r in results if r.returncode] == []

    store = Store(store_url)
    try:
        found, _total = store.search_runs(experiment="contended", limit=writers * runs)
    finally:
        store.close()
    assert sorted(r.number for r in found) == list(range(1, writers * runs + 1))
    assert len({r.name for r in found}) == writers * runs


# Snapshotting the same new data in many processes at the same instant, round after round:
# the race for one digest that the load above meets only now and then. Each round, every
# process waits until all have arrived (a file each), then snapshots that round's frame.
_SNAPSHOTTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np, pandas as pd
    import jupyter_mltrack as mltrack
    from jupyter_mltrack.capture import data
    from tests.load import wait_for_start

    writer, writers, rounds = (int(a) for a in sys.argv[1:4])
    workdir = Path(sys.argv[4])
    mltrack.get_store()
    data.warm_up()
    frames = [pd.DataFrame({"x": np.arange(2000) * k, "k": str(k)}) for k in range(rounds)]
    wait_for_start(workdir, writer)
    for k in range(rounds):
        (workdir / f"at-{k}-{writer}").touch()
        deadline = time.monotonic() + 60
        while sum(1 for _ in workdir.glob(f"at-{k}-*")) < writers:
            if time.monotonic() > deadline:  # another process failed
                sys.exit(f"writer {writer}: round {k}: the others never came")
            time.sleep(0.001)
        mltrack.snapshot(frames[k], name=f"round-{k}")
    flushed = mltrack.flush()
    sys.exit(0 if flushed.ok else 1)
    """
)


@pytest.mark.timeout(600)
def test_same_snapshot_from_many_processes_at_once(store_url: str, tmp_path: Path) -> None:
    """8 processes × 30 rounds snapshot the same new frame at the same instant: each is
    stored once, complete and loadable, and no process fails."""
    import numpy as np
    import pandas as pd

    from jupyter_mltrack.snapshots.storage import Snapshotter

    writers, rounds = 8, 30
    blob_url = _blob_url(store_url, tmp_path)
    Store(store_url, blob_url=blob_url).close()
    workdir = tmp_path / "snapshotters"
    env = checkout_env(MLTRACK_STORE_URL=store_url)
    if blob_url:
        env["MLTRACK_BLOB_URL"] = blob_url
    procs = Writers(
        lambda w: [
            sys.executable,
            "-c",
            _SNAPSHOTTER,
            str(w),
            str(writers),
            str(rounds),
            str(workdir),
        ],
        writers,
        workdir,
        env,
    )
    try:
        procs.wait_ready()
        procs.start()
        results = procs.wait()
    finally:
        procs.kill()
    assert [
        (r.writer, r.returncode, r.error_lines[-5:])
        for r in results
        if r.error_lines or r.returncode
    ] == []

    store = Store(store_url, blob_url=blob_url)
    snaps = Snapshotter(store)
    try:
        for k in range(rounds):
            snap = store.resolve_snapshot(f"round-{k}")
            assert snap.status.value == "complete", (k, snap)
            want = pd.DataFrame({"x": np.arange(2000) * k, "k": str(k)})
            pd.testing.assert_frame_equal(snaps.load(snap.digest), want, check_exact=True)
    finally:
        snaps.close()
        store.close()
