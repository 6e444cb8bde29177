"""What every ``mltrack`` command pays before it does anything: its imports. A command that
lists runs needs SQLAlchemy and the store, not numpy (about 50 ms, through the snapshots
package), nor the PostgreSQL dialect on a SQLite store (20 ms, through ``push``'s rows):
0.73 s went to 0.58 s for ``mltrack runs list`` when they were dropped (no timing is
asserted here; what is loaded is)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyter_mltrack.store import Store

_PROBE = """
import contextlib, io, json, sys
from jupyter_mltrack.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["--store", sys.argv[1], *sys.argv[2:]])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _loaded(store: Path, *command: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(store), *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return set(report["modules"])


def test_listing_runs_loads_neither_numpy_nor_the_postgresql_dialect(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    try:
        run = store.create_run("exp", params={"lr": 0.1})
        store.finish_run(run.id, "finished")
    finally:
        store.close()
    for command in (["runs", "list"], ["runs", "show", "1"], ["cache", "info"], ["models", "list"]):
        loaded = _loaded(tmp_path / "store", *command)
        assert "sqlalchemy" in loaded  # the probe did run the command
        assert "numpy" not in loaded, command
        assert "sqlalchemy.dialects.postgresql" not in loaded, command
