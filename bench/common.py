"""Shared helpers: environment isolation, statistics, SQLite durability settings, versions."""

from __future__ import annotations

import http.client
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

#: Each tool's SQLite setting out of the box (what a user gets without tuning).
#: mltrack: WAL journal, synchronous=NORMAL (a commit survives a crash of the process, the
#: last commits may be lost on power failure). MLflow: SQLite's defaults, rollback journal and
#: synchronous=FULL (fsync on every commit).
DURABILITY = {
    "wal_normal": ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"),
    "full": ("PRAGMA synchronous=FULL",),
}


def isolate() -> Path:
    """A temp root for every database of this run; no telemetry, no user config read."""
    root = Path(tempfile.mkdtemp(prefix="mltrack-bench-"))
    os.environ["MLTRACK_HOME"] = str(root / "mltrack")
    os.environ.pop("MLTRACK_STORE_URL", None)
    os.environ.pop("MLTRACK_EXPERIMENT", None)
    os.environ.pop("JPY_SESSION_NAME", None)
    os.environ["IPYTHONDIR"] = str(root / "ipython")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # MLflow's store for whatever sets no URI of its own (MLflow 3's default is
    # sqlite:///mlflow.db in the working directory: a run from the checkout left one there)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow-default.db'}"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ["GIT_PYTHON_REFRESH"] = "quiet"
    return root


def checkout_env() -> dict[str, str]:
    """The environment for a subprocess that must import this checkout's package (a console
    script such as ``mltrack``, a probe): the editable install may point at another copy."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), path) if p)}


def set_pragmas(engine: Any, mode: str) -> None:
    """Apply a durability mode to every new connection of a SQLAlchemy engine."""
    from sqlalchemy import event

    pragmas = DURABILITY[mode]

    @event.listens_for(engine, "connect")
    def _durability(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(pragma)
        cur.close()

    engine.dispose()  # pooled connections were opened before the listener


def sqlite_settings(path: str | Path) -> dict[str, Any]:
    con = sqlite3.connect(str(path))
    try:
        return {"journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0]}
    finally:
        con.close()


def count_rows(path: str | Path, sql: str) -> int:
    """Read back with a separate connection: what a crash right now would leave on disk."""
    con = sqlite3.connect(str(path))
    try:
        return int(con.execute(sql).fetchone()[0])
    finally:
        con.close()


def stats(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1e3 for s in seconds]
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[0]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": p90,
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
    }


def met(flag: bool) -> str:
    """A target's verdict in the reports (``MET``/``MISSED``), worded alike by every bench."""
    return "MET" if flag else "MISSED"


def repeat(fn: Callable[[], Any], reps: int, warmup: int = 1) -> dict[str, float]:
    """Time ``fn`` ``reps`` times after ``warmup`` untimed calls (imports, caches,
    connections): the :func:`stats` of the repetitions."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return stats(times)


class ApiClient:
    """GETs to a Jupyter server's REST API on one kept-alive connection (as a browser's
    fetch reuses its connection), authenticated by token."""

    def __init__(self, port: int, token: str, timeout: float = 300) -> None:
        self.port = port
        self.token = token
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def _path(self, path: str, query: dict[str, Any]) -> str:
        qs = urllib.parse.urlencode(query, doseq=True)
        return path + ("?" + qs if qs else "")

    def get(self, path: str, **query: Any) -> bytes:
        """The body of a 200; anything else raises with the status and the body's start."""
        headers = {"Authorization": f"token {self.token}"}
        self.conn.request("GET", self._path(path, query), headers=headers)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path} -> {resp.status}: {body[:300]!r}")
        return body

    def get_new_connection(self, path: str, **query: Any) -> bytes:
        """The same GET on a connection of its own, closed after it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            headers = {"Authorization": f"token {self.token}"}
            conn.request("GET", self._path(path, query), headers=headers)
            return conn.getresponse().read()
        finally:
            conn.close()

    def close(self) -> None:
        self.conn.close()


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except Exception:
        return None
    return out.stdout.strip()


def _diff_digest() -> str | None:
    import hashlib

    diff = _git("diff", "HEAD", "--", "jupyter_mltrack")
    if diff is None:
        return None
    return hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else ""


def byte_compile_package() -> int:
    """Write the bytecode of this checkout's package, as pip does for an installed one, and
    say how many modules were compiled. This machine sets ``PYTHONDONTWRITEBYTECODE=1`` and
    the package is an editable install, so without this every process we start (a sweep's
    workers, a kernel, a console script) compiled our modules from source, about 70 ms a
    process, while MLflow, Optuna and the rest load the bytecode pip wrote at install."""
    import compileall
    import io
    import re
    from contextlib import redirect_stdout

    said = io.StringIO()
    with redirect_stdout(said):  # compileall prints each module it compiles
        ok = compileall.compile_dir(str(REPO / "jupyter_mltrack"), quiet=0)
    if not ok:
        raise RuntimeError(f"could not byte-compile the package: {said.getvalue()}")
    return len(re.findall(r"^Compiling ", said.getvalue(), re.MULTILINE))


def environment() -> dict[str, Any]:
    import jupyter_mltrack

    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "sqlite": sqlite3.sqlite_version,
        "jupyter_mltrack": jupyter_mltrack.__version__,
        "git_commit": (commit + ("-dirty" if dirty else "")) if commit else None,
        # the uncommitted changes to the package measured, as a digest of their diff (other
        # people edit the checkout: the same digest is the same code)
        "package_diff_sha256": _diff_digest(),
        # where the package was imported from (this checkout, whatever pip's install says)
        "jupyter_mltrack_path": str(Path(jupyter_mltrack.__file__).resolve().parent),
        # uncommitted changes the figures include (the package is installed editable)
        "git_dirty_files": [line.split(maxsplit=1)[1] for line in dirty.splitlines()]
        if dirty
        else [],
        "mlflow": _version("mlflow"),
        "ipython": _version("ipython"),
        "sqlalchemy": _version("sqlalchemy"),
    }
