"""Killing real processes at the store's write points, and checking what a kill leaves.

The victim of a test is a real process — a script, an ipykernel, a Jupyter server — that
runs the product's code unchanged. To be killed *at* a point, it first runs
:data:`PRELUDE`, test code that wraps the function or watches the SQL statement of that
point and sends the process ``SIGKILL`` when it is reached: a test-only patch made by the
victim from the test's own text, never a hook in the product.

:func:`check_store` then opens the store the way the next process would and checks what
must hold after any kill (issue 12): nothing partial is visible, no run of a dead process
reads ``running``, and what was durable is intact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, SnapshotStatus, Store
from jupyter_mltrack.store.blobs import LocalBlobStore, digest_bytes

from .kernel import REPO
from .ports import free_port

#: Test code a victim runs first: ways to SIGKILL itself at a point of the product's code.
PRELUDE = textwrap.dedent(
    '''
    import os, re, signal, sys, traceback

    def die(where=None):
        """SIGKILL this process now (no exit handler, no flush: as a kill -9 from outside)."""
        if where:  # the test reads which code path was running when it died
            with open(where, "w") as fh:
                fh.write("\\n".join(f.name for f in traceback.extract_stack()))
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def kill_on_sql(pattern, nth=1, where=None):
        """Die right after the nth statement matching ``pattern`` has run, inside its
        transaction: before the commit."""
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        rx, seen = re.compile(pattern, re.I), [0]

        def after(conn, cursor, statement, parameters, context, executemany):
            if rx.search(statement):
                seen[0] += 1
                if seen[0] >= nth:
                    die(where)

        event.listen(Engine, "after_cursor_execute", after)

    def kill_in(owner, name, nth=1, after=False):
        """Die when ``owner.name`` is called the nth time (before it runs, or after)."""
        real, seen = getattr(owner, name), [0]

        def wrapper(*args, **kwargs):
            seen[0] += 1
            if seen[0] >= nth and not after:
                die()
            out = real(*args, **kwargs)
            if seen[0] >= nth and after:
                die()
            return out

        setattr(owner, name, wrapper)

    def kill_mid_pack(nth=1):
        """Die in the nth write into a pack blob, after writing half of it: a partial file."""
        from jupyter_mltrack.store import blobs

        real, seen = blobs._LocalWriter._write, [0]

        def write(self, view):
            seen[0] += 1
            if seen[0] >= nth:
                real(self, view[: max(len(view) // 2, 1)])
                die()
            real(self, view)

        blobs._LocalWriter._write = write

    def hang_mid_pack(nth=1):
        """Stop for good in the nth write into a pack blob, half of it written, and say so:
        a live process in the middle of a snapshot's write."""
        import time
        from jupyter_mltrack.store import blobs

        real, seen = blobs._LocalWriter._write, [0]

        def write(self, view):
            seen[0] += 1
            if seen[0] >= nth:
                real(self, view[: max(len(view) // 2, 1)])
                print("hung", flush=True)
                while True:
                    time.sleep(60)
            real(self, view)

        blobs._LocalWriter._write = write

    def kill_mid_copy():
        """Die while a snapshotted file is copied into the blob store, half of it written."""
        from jupyter_mltrack.store import blob_files

        def copy(src_fd, dst_fd, cancelled=None):
            size = os.fstat(src_fd).st_size
            os.write(dst_fd, os.pread(src_fd, size // 2, 0))
            die()

        blob_files.copy_into = copy
    '''
)


def victim_env(home: Path, url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a victim recording into ``home`` (or the database ``url``, with
    its blobs in ``home``)."""
    env = {
        **os.environ,
        "MLTRACK_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "OPENBLAS_NUM_THREADS": "1",
        **extra,
    }
    env.pop("MLTRACK_STORE_URL", None)
    env.pop("MLTRACK_BLOB_URL", None)
    if url is not None:
        env["MLTRACK_STORE_URL"] = url
        env["MLTRACK_BLOB_URL"] = str(home)
    return env


@dataclass
class Killed:
    """A victim that ran to its kill point: what it printed before dying."""

    pid: int
    stdout: str
    stderr: str

    def value(self, key: str) -> str:
        """The value of a ``key value`` line the victim printed."""
        for line in self.stdout.splitlines():
            name, _, rest = line.partition(" ")
            if name == key:
                return rest.strip()
        raise AssertionError(f"the victim printed no {key!r}: {self.stdout!r} {self.stderr!r}")


def start_victim(tmp_path: Path, body: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start :data:`PRELUDE` then ``body`` as a script of its own."""
    path = tmp_path / f"victim-{time.monotonic_ns()}.py"
    path.write_text(PRELUDE + textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(path)],
        env=dict(env),
        cwd=str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_victim(tmp_path: Path, body: str, env: Mapping[str, str]) -> Killed:
    """Run :data:`PRELUDE` then ``body`` as a script; it must die of ``SIGKILL`` (its kill
    point was reached), not exit."""
    proc = start_victim(tmp_path, body, env)
    try:
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    return Killed(proc.pid, out, err)


def gc_cli(env: Mapping[str, str]) -> dict[str, Any]:
    """``mltrack gc --json`` as a process of its own; its report."""
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mltrack.cli", "gc", "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def gc_found_nothing(report: Mapping[str, Any]) -> bool:
    """Whether a gc report says there was nothing left to collect."""
    counts = (
        "blocks",
        "packs_deleted",
        "packs_rewritten",
        "artifact_packs_rewritten",
        "orphans",
        "temp_files",
    )
    return (
        not report["snapshots"]
        and not report.get("abandoned")
        and not report.get("abandoned_artifacts")
        and not report.get("artifact_packs_damaged")
        and all(not report.get(k) for k in counts)
        and not report["bytes_freed"]
    )


# --------------------------------------------------------------------------- invariants


@dataclass
class Checked:
    """What :func:`check_store` saw, for the test's own assertions."""

    snapshots: dict[str, Any] = field(default_factory=dict)  # digest -> Snapshot
    blobs: set[str] = field(default_factory=set)
    temp_files: list[Path] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)  # blobs a row or a snapshot names


def _sqlite_ok(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def check_store(
    store: Store, verified: set[str] | None = None, *, pid: int | None = None
) -> Checked:
    """What must hold after any kill, read from a store just opened (on SQLite, opening it
    is what recovers the WAL a killed writer left):

    * the database is consistent (SQLite's ``integrity_check``);
    * no run reads ``running`` whose process is gone (the read-time reaper);
    * every metric series is whole: the points of a run's flushes, none half-present, and
      the latest value is the series' last point;
    * every blob under its final name holds exactly the bytes its name is the digest of
      (none half-written; ``verified`` caches those already hashed);
    * with ``pid``, only that process's runs' series are read (the others' did not change);
    * a ``complete`` snapshot has all its blocks, each inside a pack that exists (or its
      file's blob, of its size).
    """
    _sqlite_ok(store)
    seen = Checked()
    runs = _every(store.search_runs)
    for run in runs:
        assert run.status is not RunStatus.RUNNING, run
    for run in runs:
        detail = store.get_run_detail(run.id)
        if pid is not None and detail.pid != pid:
            continue
        for key, points in detail.metric_series.items():
            steps = [p.step for p in points]
            assert steps == list(range(len(steps))), (run.id, key, steps[:5], len(steps))
            for p in points:
                assert p.value == metric_value(p.step), (run.id, key, p)
            if points:
                assert detail.run.metrics[key] == points[-1].value, (run.id, key)
    blobs = store.blobs
    assert isinstance(blobs, LocalBlobStore)
    verified = verified if verified is not None else set()
    for digest in blobs.iter_digests():
        seen.blobs.add(digest)
        if digest not in verified:
            assert digest_bytes(blobs.get_bytes(digest)) == digest, f"half-written {digest}"
            verified.add(digest)
    if blobs.root.is_dir():
        seen.temp_files = [p for p in blobs.root.rglob(".tmp-*")]
    for snap in _every(store.list_snapshots):
        seen.snapshots[snap.digest] = snap
        if snap.kind == "file":
            seen.referenced.add(snap.layout["blob"])
            if snap.status is SnapshotStatus.COMPLETE:
                assert blobs.size(snap.layout["blob"]) == snap.layout["size"], snap
            continue
        if snap.status is not SnapshotStatus.COMPLETE:
            continue
        digests = [d for ds in snap.layout.get("blocks", {}).values() for d in ds]
        where = store.block_locations(digests)
        assert set(where) == set(digests), f"complete {snap.short} misses blocks"
        for pack, offset, length in where.values():
            assert blobs.size(pack) >= offset + length, f"complete {snap.short}: short pack"
    with store.engine.connect() as conn:
        seen.referenced |= {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT pack FROM blocks")}
    return seen


def _every(page: Any) -> list[Any]:
    """Every item of a paged listing (``search_runs``, ``list_snapshots``)."""
    items: list[Any] = []
    while True:
        chunk, total = page(limit=1000, offset=len(items))
        items.extend(chunk)
        if not chunk or len(items) >= total:
            return items


def check_collected(store: Store, seen: Checked) -> None:
    """After ``gc``: nothing is pending (every writer is dead), no temp file is left, and
    every blob is one a block row or a snapshot names."""
    pending = [s for s in seen.snapshots.values() if s.status is SnapshotStatus.PENDING]
    assert pending == [], pending
    assert seen.temp_files == [], seen.temp_files
    assert seen.blobs <= seen.referenced, seen.blobs - seen.referenced


def metric_value(step: int) -> float:
    """The value every victim logs at ``step`` (so a reader can tell a point is whole)."""
    return 1.0 / (step + 1)


@contextmanager
def opened(url: str, home: Path) -> Iterator[Store]:
    """The store as the next process opens it (blobs in ``home``)."""
    store = Store(url, blob_url=str(home))
    try:
        yield store
    finally:
        store.close()


def load(store: Store, digest: str) -> Any:
    sn = Snapshotter(store)
    try:
        return sn.load(digest)
    finally:
        sn.close()


# --------------------------------------------------------------------------- the server


TOKEN = "crash-test-token"


class Server:
    """A Jupyter server with the extension, in a process of its own, which runs
    :data:`PRELUDE` and ``arm`` (the kill point) before it starts."""

    def __init__(self, tmp_path: Path, root: Path, env: Mapping[str, str], arm: str) -> None:
        self.port = free_port()
        script = tmp_path / f"server-{self.port}.py"
        script.write_text(
            PRELUDE
            + textwrap.dedent(arm)
            + textwrap.dedent(
                f"""
                from jupyter_server.serverapp import ServerApp
                ServerApp.launch_instance(
                    argv=[
                        "--ServerApp.port={self.port}",
                        "--ServerApp.port_retries=0",
                        "--ServerApp.open_browser=False",
                        "--ServerApp.allow_root=True",
                        "--IdentityProvider.token={TOKEN}",
                        "--ServerApp.root_dir={root}",
                    ],
                    jpserver_extensions={{"jupyter_mltrack": True}},
                )
                """
            )
        )
        self.log = (tmp_path / f"server-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            env=dict(env),
            cwd=str(root),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = Path(self.log.name)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def wait_up(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited: {self.log_path.read_text()}")
            try:
                self.request("GET", "mltrack/api/experiments")
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not start: {self.log_path.read_text()}")

    def wait_killed(self, timeout: float = 120.0) -> None:
        """The server must die of its kill point (``SIGKILL``), not exit."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.stop()
        assert code == -signal.SIGKILL, (code, self.log_path.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------- the random loop


def loop_frame(seed: int, n: int) -> Any:
    """A child's frames: prefixes of one frame of its own, so its snapshots share blocks
    (and gc must keep a pack a complete snapshot still uses while it removes a killed
    one's) and each child has new blocks to write."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "a": np.arange(n, dtype=float) + seed,
            "b": np.random.default_rng(seed).random(200_000)[:n],
            "c": np.arange(n) % 7,
        }
    )


def loop_rows(seed: int, i: int) -> int:
    return 20_000 * (1 + (seed * 7 + i) % 10)


def loop_file(seed: int, i: int) -> bytes:
    import numpy as np

    return np.random.default_rng(seed * 1000 + i).bytes(200_000 + 1000 * i)


def workload(seed: int) -> None:
    """What a killed child was doing, endlessly: runs logging metrics (flushed by the
    background worker every 50 ms), each reading a frame it snapshots; pinned snapshots
    outside runs; file snapshots. Small packs, so a snapshot is several."""
    import random

    import jupyter_mltrack as mltrack
    from jupyter_mltrack.capture import api
    from jupyter_mltrack.snapshots import storage

    api.FLUSH_INTERVAL = 0.05
    storage.PACK_BYTES = 128 << 10
    rng = random.Random(seed)
    i = 0
    while True:
        with mltrack.start_run(experiment="loop"):
            for step in range(rng.randrange(50, 500)):
                mltrack.log_metric("loss", metric_value(step))
                if step % 100 == 99:
                    time.sleep(0.02)
            mltrack.snapshot(loop_frame(seed, loop_rows(seed, i)), name=f"frame-{seed}-{i}")
        mltrack.snapshot(loop_frame(seed, loop_rows(seed, i + 3)), name=f"pinned-{seed}-{i}")
        path = f"file-{seed}-{i}.bin"
        Path(path).write_bytes(loop_file(seed, i))
        mltrack.snapshot(path, name=f"file-{seed}-{i}")
        i += 1


def expected_of(name: str) -> Any:
    """What the snapshot the workload named ``name`` holds."""
    kind, seed, i = name.rsplit("-", 2)
    if kind == "file":
        return loop_file(int(seed), int(i))
    return loop_frame(int(seed), loop_rows(int(seed), int(i) + (3 if kind == "pinned" else 0)))


_ZYGOTE = """
import os, sys, traceback
import numpy, pandas, pyarrow, sqlalchemy, xxhash
import jupyter_mltrack, jupyter_mltrack.store.store, jupyter_mltrack.snapshots.storage
import jupyter_mltrack.capture.api, jupyter_mltrack.capture.data
from tests.crash_harness import workload

print("ready", flush=True)
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            workload(int(line))
        except BaseException:
            traceback.print_exc()
        os._exit(1)
    print(pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print(status, flush=True)
"""


class Zygote:
    """A process with the workload's modules imported that forks a child per kill: each
    child is a real process that opens the store and starts its threads itself, as a
    script does, without paying seconds of imports per kill."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            env=dict(env),
            cwd=str(cwd),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line, "the zygote died"
        return line

    def kill_after(self, seed: int, delay: float) -> int:
        """Fork a child running ``workload(seed)``, SIGKILL it ``delay`` seconds later;
        its pid. The child must die of the kill, not of an error."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{seed}\n")
        self.proc.stdin.flush()
        pid = int(self._line())
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        status = int(self._line())
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
        return pid

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
