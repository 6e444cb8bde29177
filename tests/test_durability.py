"""Nothing recorded is lost when a process ends (issue 12, section 1): scripts that exit
right after recording, ``mltrack.flush`` and what it reports. Real processes, a real store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, SnapshotStatus, Store

from .kernel import REPO


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
