"""Many processes tracking into one store at once while a server lists runs (issue 12 §3).

The load is real: each writer is a Python process of its own using the public API
(``mltrack.start_run``, ``log_metric``, ``snapshot``, ``flush``), all released together by a
start file once every one is ready; the reader is a thread of the driving process polling a
real Jupyter server (its own process, token auth) on the same store. :func:`verify` then
reads the store back and lists every way it differs from what the writers were told to write.

Used by ``tests/test_concurrency.py`` (what must hold) and by benchmark 9,
``bench/concurrency.py`` (how fast, against MLflow), which imports it: it lives here, beside
the other harnesses of real parts (``postgres.py``, ``s3.py``), so the tests import nothing of
the bench. A writer runs as ``python -m tests.load --writer N …``; what it writes is a pure
function of (writer, run index, step), so the check needs nothing from the writers but their
exit.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mltrack.location import BLOB_URL_ENV, URL_ENV

from .ports import free_port

REPO = Path(__file__).resolve().parents[1]
TOKEN = "mltrack-load"
#: The metric every run logs, and the name its snapshot is linked under.
METRIC = "loss"
DATA = "data"
#: Rows of each run's snapshot.
ROWS = 64
#: Stderr lines a healthy writer may print: a snapshot's progress bar (shown when a write
#: takes over a second, which a loaded machine makes happen).
_PROGRESS = "mltrack: snapshot "


@dataclass(frozen=True)
class Load:
    """How much to write: ``writers`` processes × ``runs`` runs × ``steps`` metric points and
    one small snapshot each, the runs spread over ``experiments`` experiments shared by all
    writers (so every experiment's run numbers are contended by every writer)."""

    writers: int = 8
    runs: int = 200
    steps: int = 100
    experiments: int = 2

    @property
    def total_runs(self) -> int:
        return self.writers * self.runs

    def experiment(self, run: int) -> str:
        return f"load-{run % self.experiments}"


# what each run writes (a pure function of its coordinates) ----------------------------------


def run_name(writer: int, run: int) -> str:
    return f"w{writer}-r{run}"


def metric_value(writer: int, run: int, step: int) -> float:
    """Distinct for every point, exact in float64, easy to recompute."""
    return writer * 1_000_000.0 + run * 1_000.0 + step + 0.25


def shared_snapshot(run: int) -> bool:
    """Every fourth run index snapshots the same frame in every writer: eight processes then
    record and store one digest at the same moment (the dedup race); the others share their
    ``x`` and ``z`` blocks across writers but not their digest."""
    return run % 4 == 0


def snapshot_frame(writer: int, run: int) -> Any:
    import numpy as np
    import pandas as pd

    x = np.arange(ROWS, dtype=np.int64) + run
    owner = -1 if shared_snapshot(run) else writer
    return pd.DataFrame({"x": x, "owner": np.full(ROWS, owner, dtype=np.int64), "z": x * 0.5})


# the writer process -------------------------------------------------------------------------


def ready_file(workdir: Path, writer: int) -> Path:
    return workdir / f"ready-{writer}"


def start_file(workdir: Path) -> Path:
    return workdir / "start"


def wait_for_start(workdir: Path, writer: int, timeout: float = 600.0) -> None:
    """Say this writer is ready, then wait for the driver's start file: every writer begins
    its first run within a few milliseconds of the others (imports and store opening done)."""
    ready_file(workdir, writer).touch()
    deadline = time.monotonic() + timeout
    start = start_file(workdir)
    while not start.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"writer {writer}: no start signal after {timeout:.0f} s")
        time.sleep(0.002)


def report(result: dict[str, Any]) -> None:
    """A writer's result: its last line of stdout, JSON."""
    print(json.dumps(result), flush=True)


def _write(writer: int, load: Load, workdir: Path) -> int:
    """Track ``load.runs`` runs through the public API, as a script would."""
    import jupyter_mltrack as mltrack
    from jupyter_mltrack.capture import data

    mltrack.get_store()  # opened from MLTRACK_STORE_URL, as a user's script opens it
    data.warm_up()  # the snapshot code and its threads, so the start is even
    frames = [snapshot_frame(writer, i) for i in range(load.runs)]
    wait_for_start(workdir, writer)
    started = time.time()
    for i in range(load.runs):
        with mltrack.start_run(
            name=run_name(writer, i),
            experiment=load.experiment(i),
            params={"writer": writer, "index": i},
        ):
            for step in range(load.steps):
                mltrack.log_metric(METRIC, metric_value(writer, i, step), step=step)
            mltrack.snapshot(frames[i], name=DATA)
    logged = time.time()
    flushed = mltrack.flush()
    for line in flushed.failed:
        print(f"writer {writer}: not recorded: {line}", file=sys.stderr)
    report(
        {
            "writer": writer,
            "started": started,
            "logged": logged,
            "finished": time.time(),
            "failed": list(flushed.failed),
            "pending": flushed.pending,
        }
    )
    return 0 if flushed.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.load")
    parser.add_argument("--writer", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=Load.runs)
    parser.add_argument("--steps", type=int, default=Load.steps)
    parser.add_argument("--experiments", type=int, default=Load.experiments)
    args = parser.parse_args(argv)
    load = Load(runs=args.runs, steps=args.steps, experiments=args.experiments)
    return _write(args.writer, load, args.workdir)


# the driver ----------------------------------------------------------------------------------


def checkout_env(**extra: str) -> dict[str, str]:
    """This checkout first on the path (the package is installed editable elsewhere)."""
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), path) if p)}
    env.update(extra)
    return env


@dataclass
class WriterResult:
    writer: int
    returncode: int
    stderr: str
    result: dict[str, Any] | None

    @property
    def error_lines(self) -> list[str]:
        """What the writer said on stderr other than progress bars."""
        return [
            line
            for line in self.stderr.splitlines()
            if line.strip() and not line.strip("\r").startswith(_PROGRESS)
        ]


class Writers:
    """Writer processes started together (see :func:`wait_for_start`)."""

    def __init__(
        self, argv: Callable[[int], list[str]], count: int, workdir: Path, env: dict[str, str]
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        for w in range(count):
            with (
                open(workdir / f"writer-{w}.out", "wb") as out,
                open(workdir / f"writer-{w}.err", "wb") as err,
            ):
                self.procs.append(
                    subprocess.Popen(argv(w), stdout=out, stderr=err, env=env, cwd=workdir)
                )

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        for w, proc in enumerate(self.procs):
            while not ready_file(self.workdir, w).exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"writer {w} exited before starting: {self._err(w)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"writer {w} not ready after {timeout:.0f} s")
                time.sleep(0.02)

    def start(self) -> float:
        start_file(self.workdir).touch()
        return time.time()

    def wait(self, timeout: float = 1800.0) -> list[WriterResult]:
        deadline = time.monotonic() + timeout
        results = []
        for w, proc in enumerate(self.procs):
            try:
                proc.wait(max(deadline - time.monotonic(), 1.0))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out = (self.workdir / f"writer-{w}.out").read_text(errors="replace").splitlines()
            result = None
            with contextlib.suppress(ValueError, IndexError):
                result = json.loads(out[-1])
            results.append(WriterResult(w, proc.returncode, self._err(w), result))
        return results

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def _err(self, w: int) -> str:
        return (self.workdir / f"writer-{w}.err").read_text(errors="replace")


def store_env(store_url: str, blob_url: str | None) -> dict[str, str]:
    """The environment that points a process at the store (and at the blob store, which a
    PostgreSQL store needs for its snapshots' data)."""
    env = {URL_ENV: store_url}
    if blob_url:
        env[BLOB_URL_ENV] = blob_url
    return env


def mltrack_writers(
    load: Load, workdir: Path, store_url: str, blob_url: str | None = None
) -> Writers:
    """The load's writer processes, on ``store_url`` (snapshot data in ``blob_url``)."""

    def argv(w: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tests.load",
            f"--writer={w}",
            f"--workdir={workdir}",
            f"--runs={load.runs}",
            f"--steps={load.steps}",
            f"--experiments={load.experiments}",
        ]

    return Writers(argv, load.writers, workdir, checkout_env(**store_env(store_url, blob_url)))


class Server:
    """A real Jupyter server with the extension, on loopback with a token, on ``store_url``."""

    def __init__(self, store_url: str, root: Path, blob_url: str | None = None) -> None:
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        (root / "srv").mkdir(exist_ok=True)
        env = checkout_env(**store_env(store_url, blob_url), JUPYTER_CONFIG_DIR=str(root / "cfg"))
        self.log = root / "server.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter_server",
                    "--no-browser",
                    "--allow-root",
                    f"--port={self.port}",
                    "--ServerApp.port_retries=0",  # its port or none: never another's
                    "--ip=127.0.0.1",
                    f"--IdentityProvider.token={TOKEN}",
                    f"--ServerApp.root_dir={root / 'srv'}",
                    "--ServerApp.jpserver_extensions=jupyter_mltrack=True",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _, _ = self.get("/mltrack/api/experiments")
                if status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)

    def get(self, path: str) -> tuple[int, float, bytes]:
        """``(status, seconds from request to last byte, body)``, on a new connection each
        time (as a browser's poll after its keep-alive has lapsed)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"token {TOKEN}"})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, time.perf_counter() - t0, body
        finally:
            conn.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Reader:
    """Polls every ``interval`` seconds (on a fixed schedule: a slow answer is followed at
    once by the next request) until stopped; records each request's latency and every
    failure. ``request(n)`` makes the n-th request and returns ``(status, seconds, what)``."""

    request: Callable[[int], tuple[int, float, str]]
    interval: float = 0.1
    latencies: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="load-reader", daemon=True)

    def start(self) -> Reader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run(self, count: int) -> Reader:
        """``count`` requests in this thread, on the same schedule (the idle figures)."""
        for n in range(count):
            t0 = time.monotonic()
            self._one(n)
            time.sleep(max(self.interval - (time.monotonic() - t0), 0.0))
        return self

    def _loop(self) -> None:
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._one(n)
            n += 1
            next_at += self.interval
            self._stop.wait(max(next_at - time.monotonic(), 0.0))

    def _one(self, n: int) -> None:
        try:
            status, seconds, what = self.request(n)
        except Exception as exc:
            self.errors.append(f"request {n}: {type(exc).__name__}: {exc}")
            return
        if status != 200:
            self.errors.append(f"request {n} ({what}): HTTP {status}")
            return
        self.latencies.append(seconds)
        self.kinds.append(what)

    def stats(self) -> dict[str, Any]:
        return latency_stats(self.latencies) | {"errors": len(self.errors)}


def latency_stats(seconds: Sequence[float]) -> dict[str, Any]:
    """p50, p95 and max in ms (``n`` requests)."""
    if not seconds:
        return {"n": 0}
    ms = sorted(s * 1e3 for s in seconds)
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p95_ms": p95, "max_ms": ms[-1]}


def runs_reader(server: Server, detail_every: int = 10) -> Callable[[int], tuple[int, float, str]]:
    """What the sidebar does: list the newest runs; every ``detail_every``-th request, open
    the detail of one of the runs listed last (the run detail view)."""
    listed: list[str] = []

    def request(n: int) -> tuple[int, float, str]:
        if n % detail_every == detail_every - 1 and listed:
            status, seconds, _ = server.get(f"/mltrack/api/runs/{random.choice(listed)}")
            return status, seconds, "detail"
        status, seconds, body = server.get("/mltrack/api/runs?limit=100")
        if status == 200:
            listed[:] = [r["id"] for r in json.loads(body)["runs"]]
        return status, seconds, "list"

    return request


@dataclass
class LoadRun:
    """What one load did: each writer's exit, the reader's record, the wall time from the
    start signal to the last writer's exit."""

    writers: list[WriterResult]
    reader: Reader
    seconds: float

    @property
    def writer_errors(self) -> list[str]:
        """Writers that failed or said anything but progress on stderr."""
        out = []
        for r in self.writers:
            if r.returncode != 0 or r.error_lines or r.result is None:
                out.append(f"writer {r.writer}: exit {r.returncode}: {r.error_lines[-5:]}")
        return out


def run_load(
    store_url: str, load: Load, workdir: Path, server: Server, blob_url: str | None = None
) -> LoadRun:
    """Start the writers, wait until all are ready, release them together and poll
    ``server`` every 100 ms until the last writer has exited. The store must exist already
    (the server has opened and migrated it)."""
    return drive(mltrack_writers(load, workdir, store_url, blob_url), runs_reader(server))


def drive(writers: Writers, read: Callable[[], Any]) -> LoadRun:
    """Wait until ``writers`` are all ready, release them together and call ``read`` every
    100 ms (a :class:`Reader`) until the last has exited; ours and the benchmark's MLflow
    load alike."""
    try:
        writers.wait_ready()
        reader = Reader(read).start()
        t0 = time.perf_counter()
        writers.start()
        results = writers.wait()
        seconds = time.perf_counter() - t0
        reader.stop()
    finally:
        writers.kill()
    return LoadRun(results, reader, seconds)


# checking what was stored --------------------------------------------------------------------


def verify(store_url: str, load: Load, blob_url: str | None = None, sample: int = 50) -> list[str]:
    """Every way the store differs from what the load's writers wrote (empty: all there).

    Every run present once, ``finished``, with its params; per experiment the run numbers
    exactly 1..N; every run's metric points all there (count per run), the values exact for
    ``sample`` runs (and the latest value for all); every run linked to its snapshot, each
    ``complete``, and ``sample`` of them loaded and equal to the frame written.
    """
    import pandas as pd
    from sqlalchemy import func, select

    from jupyter_mltrack.snapshots.storage import Snapshotter
    from jupyter_mltrack.store import Store
    from jupyter_mltrack.store.models import (
        ExperimentRow,
        LatestMetricRow,
        MetricChunkRow,
        ParamRow,
        RunDataRow,
        RunRow,
        SnapshotRow,
    )
    from jupyter_mltrack.store.series import series

    problems: list[str] = []
    store = Store(store_url, blob_url=blob_url)
    try:
        with store.engine.connect() as conn:
            runs = conn.execute(
                select(
                    RunRow.id, RunRow.name, RunRow.number, RunRow.status, ExperimentRow.name
                ).join(ExperimentRow, ExperimentRow.id == RunRow.experiment_id)
            ).all()
            params: dict[str, dict[str, str]] = {}
            for run_id, key, value in conn.execute(
                select(ParamRow.run_id, ParamRow.key, ParamRow.value)
            ):
                params.setdefault(run_id, {})[key] = value
            counts = dict(
                conn.execute(
                    select(MetricChunkRow.run_id, func.sum(MetricChunkRow.count))
                    .where(MetricChunkRow.key == METRIC)
                    .group_by(MetricChunkRow.run_id)
                ).all()
            )
            latest = dict(
                conn.execute(
                    select(LatestMetricRow.run_id, LatestMetricRow.value).where(
                        LatestMetricRow.key == METRIC
                    )
                ).all()
            )
            linked = {
                run_id: (digest, status)
                for run_id, digest, status in conn.execute(
                    select(RunDataRow.run_id, RunDataRow.snapshot_digest, SnapshotRow.status)
                    .join(SnapshotRow, SnapshotRow.digest == RunDataRow.snapshot_digest)
                    .where(RunDataRow.role == "input", RunDataRow.name == DATA)
                )
            }

        by_name: dict[str, Any] = {}
        for row in runs:
            if row.name in by_name:
                problems.append(f"run {row.name} recorded twice")
            by_name[row.name] = row
        expected = {run_name(w, i): (w, i) for w in range(load.writers) for i in range(load.runs)}
        missing = sorted(set(expected) - set(by_name))
        if missing:
            problems.append(f"{len(missing)} runs missing, e.g. {missing[:5]}")
        extra = sorted(set(by_name) - set(expected))
        if extra:
            problems.append(f"{len(extra)} runs nobody wrote, e.g. {extra[:5]}")

        numbers: dict[str, list[int]] = {}
        for row in runs:
            numbers.setdefault(row[4], []).append(row.number)
        for exp in sorted({load.experiment(i) for i in range(load.runs)}):
            got = sorted(numbers.get(exp, []))
            want = sum(1 for i in range(load.runs) if load.experiment(i) == exp) * load.writers
            if got != list(range(1, want + 1)):
                dupes = len(got) - len(set(got))
                gaps = sorted(set(range(1, want + 1)) - set(got))
                problems.append(
                    f"experiment {exp}: run numbers are not 1..{want}: {len(got)} runs,"
                    f" {dupes} duplicate numbers, missing {gaps[:10]}"
                )

        bad_status, bad_params, bad_counts, bad_latest, bad_links = [], [], [], [], []
        for name, (w, i) in expected.items():
            row = by_name.get(name)
            if row is None:
                continue
            if row.status != "finished":
                bad_status.append(f"{name}: {row.status}")
            if row[4] != load.experiment(i):
                bad_params.append(f"{name}: in experiment {row[4]}")
            p = params.get(row.id, {})
            if p.get("writer") != json.dumps(w) or p.get("index") != json.dumps(i):
                bad_params.append(f"{name}: params {p}")
            if counts.get(row.id) != load.steps:
                bad_counts.append(f"{name}: {counts.get(row.id, 0)} points")
            if latest.get(row.id) != metric_value(w, i, load.steps - 1):
                bad_latest.append(f"{name}: latest {latest.get(row.id)}")
            link = linked.get(row.id)
            if link is None or link[1] != "complete":
                bad_links.append(f"{name}: snapshot {link}")
        for label, bad in (
            ("runs not finished", bad_status),
            ("runs with wrong params or experiment", bad_params),
            ("runs with missing or extra metric points", bad_counts),
            ("runs with a wrong latest value", bad_latest),
            ("runs without a complete snapshot", bad_links),
        ):
            if bad:
                problems.append(f"{len(bad)} {label}, e.g. {bad[:5]}")

        rng = random.Random(12)
        present = [n for n in expected if n in by_name]
        chosen = rng.sample(present, min(sample, len(present)))
        # the first runs of a shared frame (the digest eight writers raced for) always
        chosen += [n for n in present if expected[n][1] == 0 and n not in chosen]
        with store.engine.connect() as conn:
            for name in chosen:
                w, i = expected[name]
                run_id = by_name[name].id
                chunks = conn.execute(
                    select(
                        MetricChunkRow.key,
                        MetricChunkRow.steps,
                        MetricChunkRow.values,
                        MetricChunkRow.timestamps,
                    ).where(MetricChunkRow.run_id == run_id)
                ).all()
                points = sorted(series(chunks).get(METRIC, []), key=lambda p: p.step)
                want = [(s, metric_value(w, i, s)) for s in range(load.steps)]
                if [(p.step, p.value) for p in points] != want:
                    problems.append(f"{name}: metric points differ from those logged")
        snaps = Snapshotter(store)
        try:
            for name in chosen:
                link = linked.get(by_name[name].id)
                if link is None or link[1] != "complete":
                    continue
                w, i = expected[name]
                try:
                    frame = snaps.load(link[0])
                    pd.testing.assert_frame_equal(frame, snapshot_frame(w, i), check_exact=True)
                except Exception as exc:
                    problems.append(f"{name}: snapshot {link[0][:20]}: {type(exc).__name__}: {exc}")
        finally:
            snaps.close()
    finally:
        store.close()
    return problems


if __name__ == "__main__":
    raise SystemExit(main())
