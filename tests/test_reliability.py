"""Reliability (issue 12): nothing recorded is lost when a process ends (scripts that exit
right after recording, ``mltrack.flush`` and what it reports), and no run of a dead process
stays ``running`` (a headless kernel that dies, read with no server anywhere). Real
processes, real kernels, a real store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, SnapshotStatus, Store

from .kernel import REPO, kernel_ports


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` as a script of its own with the store in ``tmp_path/home``."""
    env = {
        **os.environ,
        "MLTRACK_HOME": str(tmp_path / "home"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("MLTRACK_STORE_URL", None)
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_script_that_snapshots_twice_and_exits_keeps_both(tmp_path: Path) -> None:
    """The second of two large snapshots is queued behind the first when the script ends.
    Both are stored: the exit path makes everything durable before ``concurrent.futures``
    stops its thread pools (it used to fail with "cannot schedule new futures after
    shutdown"), and the run that read them is recorded as ended with them."""
    done = _script(
        tmp_path,
        """
        import numpy as np
        import jupyter_mltrack as mltrack

        with mltrack.start_run(experiment="exit") as run:
            for seed in (1, 2):
                data = np.random.default_rng(seed).random((2_000_000, 4))  # 64 MB each
                mltrack.snapshot(data, name=f"big{seed}")
            print("ended", run.id)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "mltrack:" not in done.stderr, done.stderr
    run_id = done.stdout.split()[-1]
    store = Store(str(tmp_path / "home"))
    try:
        detail = store.get_run_detail(run_id)
        assert detail.run.status is RunStatus.FINISHED
        snaps = {d.name: d.snapshot for d in detail.data}
        assert set(snaps) == {"big1", "big2"}
        assert all(s.status is SnapshotStatus.COMPLETE for s in snaps.values())
        loader = Snapshotter(store)
        try:
            second = loader.load(snaps["big2"].digest)
        finally:
            loader.close()
        expected = np.random.default_rng(2).random((2_000_000, 4))
        np.testing.assert_array_equal(second, expected)
    finally:
        store.close()


def test_flush_makes_everything_durable_and_says_what_failed(tmp_path: Path) -> None:
    """``mltrack.flush()`` returns once the open run's buffered metrics and the snapshots
    are written — read back by another process while this one is still running — and
    reports a record that could not be written instead of raising."""
    done = _script(
        tmp_path,
        """
        import subprocess, sys
        import numpy as np
        import jupyter_mltrack as mltrack

        run = mltrack.start_run(experiment="flush")
        for step in range(500):
            mltrack.log_metric("loss", 1.0 / (step + 1))
        mltrack.snapshot(np.arange(3_000_000, dtype=float), name="values")
        result = mltrack.flush()
        print("flushed", result.ok, result.failed, result.pending)
        check = (
            "from jupyter_mltrack.store import Store; import sys;"
            "st = Store(sys.argv[1]); d = st.get_run_detail(sys.argv[2]);"
            "print(len(d.metric_series['loss']),"
            " [x.snapshot.status.value for x in d.data])"
        )
        seen = subprocess.run(
            [sys.executable, "-c", check, str(mltrack.get_store().home), run.id],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        print("seen", seen)
        # a run whose row is gone cannot take its buffered points: said, not raised
        mltrack.log_metric("late", 1.0)
        mltrack.get_store().delete_run(run.id)
        result = mltrack.flush()
        print("failed", result.ok, len(result.failed), "|", result.failed[0])
        """,
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["flushed"] == "True () 0"
    assert lines["seen"] == "500 ['complete']"
    assert lines["failed"].startswith("False 1 | run ")
    assert "no run" in lines["failed"].split("|", 1)[1]


def test_a_headless_kernel_that_dies_leaves_no_running_run(tmp_path: Path) -> None:
    """A notebook run by nbclient (as papermill and CI run them) whose kernel dies inside a
    ``%%track`` cell: with no server anywhere, ``mltrack runs list`` — any read of runs —
    shows the run ``crashed``, at once, not ``running``; the runs before it are intact."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from traitlets.config import Config

    home = tmp_path / "home"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_mltrack"),
        nbformat.v4.new_code_cell("%%track -e headless\nmltrack.log_metric('before', 1.0)"),
        nbformat.v4.new_code_cell("%%track -e headless\nimport os\nos._exit(1)"),
    ]
    env_before = dict(os.environ)
    os.environ["MLTRACK_HOME"] = str(home)
    os.environ.pop("MLTRACK_STORE_URL", None)
    try:
        ports = Config(KernelManager=kernel_ports())  # nbclient's own manager, our ports
        client = NotebookClient(nb, timeout=120, kernel_name="python3", config=ports)
        try:
            client.execute(cwd=str(tmp_path))
        except DeadKernelError:
            pass
        else:
            raise AssertionError("the kernel was expected to die")
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    env = {**os.environ, "MLTRACK_HOME": str(home)}
    env.pop("MLTRACK_STORE_URL", None)
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_mltrack.cli", "runs", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    import json

    runs = sorted(json.loads(listed.stdout)["runs"], key=lambda r: r["number"])
    assert [(r["number"], r["status"]) for r in runs] == [(1, "finished"), (2, "crashed")]


def test_a_pid_given_to_a_newer_process_is_not_the_runs_process() -> None:
    """A run's process is checked by pid on its own host; once that process is gone the
    system may give the pid to another one. A process started after the run last showed
    life (its heartbeat) is not the run's: the run is dead."""
    import time

    from jupyter_mltrack.store.liveness import _pid_alive, _process_start

    fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[-1].split()
    started = _process_start(fields)
    assert started is not None and abs(started - time.time()) < 24 * 3600
    assert _pid_alive(os.getpid(), since=time.time())
    assert _pid_alive(os.getpid())
    assert not _pid_alive(os.getpid(), since=started - 60)  # "its" run predates it
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _pid_alive(child.pid)
