"""Benchmark 11: artifacts and models (issue 14), side by side with MLflow in one run.

Three workloads, each logged by both tools in the same process, one after the other,
repetition by repetition (the order alternates), on the same disk:

* **a folder** of 1,000 files (1-150 KB each, about 77 MB, in 10 subfolders; the bytes come
  from a seeded RNG, so every run logs the same folder): ``mltrack.log_artifact(folder)``
  against ``mlflow.log_artifacts(folder, artifact_path=…)``. Timed: the first log (ours into
  an empty blob store), a second log of the same folder by another run (ours stores nothing
  new; MLflow copies again), and reading it back into a fresh folder
  (``materialize(…, link=False)`` against ``mlflow.artifacts.download_artifacts``);
* **a single 200 MB file** of random bytes: ``mltrack.log_artifact`` against
  ``mlflow.log_artifact``, and reading it back the same way;
* **a model of about 200 MB**: an ``ExtraTreesRegressor`` (trees grown in full on
  synthetic data: the fastest scikit-learn model to train to that size here), and an
  ``MLPRegressor`` whose weights and Adam moments make about 200 MB (numpy arrays, few
  objects). ``mltrack.log_model`` (skops) against ``mlflow.sklearn.log_model``, which in
  MLflow 3 also defaults to skops, and with ``serialization_format="cloudpickle"`` (unsafe
  to load, MLflow's default before 3.0); ``mltrack.load_model`` against
  ``mlflow.sklearn.load_model``. The serializers alone are timed too, to tell a format's
  cost from the store's.

Part d (``bench/artifacts_s3.py``) logs the same folder and file again with both tools'
artifacts on an S3-compatible server (moto's, a local process): ours as a team store
(``MLTRACK_BLOB_URL=s3://…``), MLflow with an ``s3://`` artifact location.

MLflow's most favourable local setup: a SQLite tracking store set to WAL and
synchronous=NORMAL (our setting; its own default is FULL) and a local folder as the
experiment's artifact location, so that logging an artifact is a file copy
(``LocalArtifactRepository``), with no server or HTTP in between.

Durability is not the same: MLflow copies files without fsync (a power failure can lose
what it logged), our blob store makes every blob durable before the artifact is recorded
(one ``syncfs`` for a batch's bytes and one for its names; the folder's small files are
written as a few packs, ``jupyter_mltrack/models/packs.py``). Both are reported as they are;
a row adds to MLflow's log the time to make its copies durable the cheapest way, one
``syncfs`` right after the copy (the same durability as ours). Before every timed call ``os.sync()``
flushes what the previous one left dirty (outside the timing), so no call pays for
another's write-back. The source files are in the page cache for both tools (caches
cannot be dropped on this shared machine). A repetition's files are deleted before the next,
and a full run first writes 4 GB of memory once (see :func:`touch_memory`: this VM's memory
costs about 2 s per GB the first time it is written, which would land on whichever tool grew
the page cache first).
"""

from __future__ import annotations

import contextlib
import filecmp
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

if __package__ in (None, ""):  # python bench/artifacts.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import met, stats  # noqa: E402
from jupyter_mltrack.store.blob_files import syncfs  # noqa: E402

FULL: dict[str, Any] = {
    "files": 1_000,
    "subfolders": 10,
    "min_kb": 1,
    "max_kb": 150,
    "file_mb": 200,
    "reps": 7,
    "file_reps": 5,
    "warmup": 1,
    "trees": 14,
    "tree_samples": 100_000,
    "mlp_layers": [2_200, 2_200, 700],
    "models": ["trees", "mlp"],
    "model_reps": 3,
    "image_reps": 15,
    "loop_reps": 3,
    "model_warmup": 1,
    "touch_gb": 4,
    # part d (bench/artifacts_s3.py): a folder repetition takes a minute on moto's server
    "s3_reps": 3,
    "s3_file_reps": 7,
    "s3_warmup": 1,
}
#: Smoke run (CI): the same code paths on small data, in well under a minute.
QUICK: dict[str, Any] = {
    "files": 200,
    "subfolders": 4,
    "min_kb": 1,
    "max_kb": 60,
    "file_mb": 20,
    "reps": 2,
    "file_reps": 2,
    "warmup": 1,
    "trees": 2,
    "tree_samples": 5_000,
    "mlp_layers": [200, 200],
    "models": ["trees"],  # (MLflow's log_model infers requirements in a subprocess: seconds)
    "model_reps": 1,
    "image_reps": 3,
    "loop_reps": 1,
    "loop_steps": 20,
    "model_warmup": 0,
    "touch_gb": 0,
    "s3_reps": 2,
    "s3_file_reps": 1,
    "s3_warmup": 1,
}
#: The issue's targets: speedup = MLflow's median time / ours.
TARGETS = {"folder_speedup": 3.0, "file_speedup": 1.0}
SEED = 14
EXPERIMENT = "bench-artifacts"
#: The temp folder of the benchmark's run (both tools' temp files go there).
BENCH_TMP = "tmp"


# data ----------------------------------------------------------------------------------------


def make_folder(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    """The folder of ``files`` files of ``min_kb``-``max_kb`` KB (uniform), seeded bytes."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    folder = root / "folder"
    sizes = rng.integers(p["min_kb"] * 1024, p["max_kb"] * 1024 + 1, p["files"])
    for i, size in enumerate(sizes):
        sub = folder / f"part{i % p['subfolders']:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"file{i:04d}.bin").write_bytes(rng.bytes(int(size)))
    return {"path": folder, "files": int(len(sizes)), "bytes": int(sizes.sum())}


def make_file(root: Path, mb: int) -> dict[str, Any]:
    import numpy as np

    path = root / "big.bin"
    rng = np.random.default_rng(SEED + 1)
    with open(path, "wb") as fh:
        for _ in range(mb):
            fh.write(rng.bytes(1 << 20))
    return {"path": path, "files": 1, "bytes": mb << 20}


# timing --------------------------------------------------------------------------------------


def timed_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``fn``'s wall time and result, after flushing every dirty page (untimed)."""
    os.sync()
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def fsync_tree(path: Path) -> None:
    """fsync every file under ``path`` and every folder, ``path`` included (what it takes to
    make a copy as durable as a blob of ours)."""
    if path.is_file():
        paths = [path, path.parent]
    else:
        paths = [path]
        for here, dirs, files in os.walk(path):
            paths += [Path(here, d) for d in dirs] + [Path(here, f) for f in files]
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def tree_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path`` (or of the file)."""
    if path.is_file():
        return 1, path.stat().st_size
    files = [Path(h, f) for h, _, fs in os.walk(path) for f in fs]
    return len(files), sum(f.stat().st_size for f in files)


def same_tree(a: Path, b: Path) -> bool:
    """Whether ``b`` holds the same files, byte for byte, as ``a`` (a file or a folder)."""
    if a.is_file():
        return b.is_file() and filecmp.cmp(a, b, shallow=False)
    names = sorted(os.path.relpath(Path(h, f), a) for h, _, fs in os.walk(a) for f in fs)
    theirs = sorted(os.path.relpath(Path(h, f), b) for h, _, fs in os.walk(b) for f in fs)
    return names == theirs and all(filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def summary(seconds: list[float]) -> dict[str, Any]:
    return {**stats(seconds), "runs_s": seconds}


# the two tools -------------------------------------------------------------------------------


class Ours:
    """jupyter_mltrack through its public API, a fresh store (empty blob folder) on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        self.current: Any = None
        #: Every store opened, kept referenced: the tracker caches a store's environment
        #: row by ``id(store)``, and a new store at a freed one's address would inherit it.
        self.opened: list[Any] = []

    def fresh_store(self) -> Path:
        import jupyter_mltrack as mltrack

        if self.current is not None:
            self.current.close()
        self.count += 1
        home = self.root / f"store{self.count}"
        self.current = mltrack.set_store(f"sqlite:///{home / 'mltrack.db'}")
        self.opened.append(self.current)
        return home

    def delete_stores(self) -> None:
        """Free the disk between repetitions (the next call opens a fresh store)."""
        if self.current is not None:
            self.current.close()
            self.current = None
        shutil.rmtree(self.root, ignore_errors=True)

    @contextlib.contextmanager
    def run(self) -> Iterator[str]:
        """A run, opened and settled (its environment scan done) before any timing."""
        import jupyter_mltrack as mltrack
        from jupyter_mltrack.capture import api

        active = mltrack.start_run(experiment=EXPERIMENT)
        api.wait_pending()
        try:
            yield active.id
        finally:
            mltrack.end_run()
            api.wait_pending()

    @staticmethod
    def store() -> Any:
        from jupyter_mltrack.capture import api

        return api.get_store()

    def download(self, run_id: str, name: str, dest: Path, *, link: bool) -> Path:
        from jupyter_mltrack.models.artifacts import materialize

        store = self.store()
        return materialize(store, store.get_artifact(run_id, name), dest, link=link)


class Theirs:
    """MLflow with a SQLite tracking store (WAL, synchronous=NORMAL) and a local folder as
    the artifact location: its fastest local setup."""

    def __init__(self, root: Path, artifact_location: str | None = None) -> None:
        """``artifact_location``: the experiment's (default: a local folder, ``mlruns``)."""
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        import mlflow
        from mlflow.tracking._tracking_service.utils import _get_store

        from bench.common import set_pragmas

        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.ERROR)
        root.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        set_pragmas(_get_store().engine, "wal_normal")
        self.artifacts = root / "mlruns"
        self.experiment = mlflow.create_experiment(
            EXPERIMENT, artifact_location=artifact_location or str(self.artifacts)
        )

    @contextlib.contextmanager
    def run(self) -> Iterator[str]:
        import mlflow

        with mlflow.start_run(experiment_id=self.experiment) as active:
            yield active.info.run_id

    def artifact_dir(self, run_id: str) -> Path:
        import mlflow

        uri = mlflow.get_run(run_id).info.artifact_uri
        return Path(uri.removeprefix("file://"))

    def delete_runs(self) -> None:
        """Free the disk between repetitions (the runs' rows stay)."""
        for child in self.artifacts.iterdir() if self.artifacts.exists() else []:
            shutil.rmtree(child, ignore_errors=True)


# a folder or a file --------------------------------------------------------------------------


def free_disk(scratch: Path, ours: Ours, theirs: Theirs) -> None:
    """Delete what a repetition wrote (stores, copies, and the temp folders MLflow leaves
    behind: each load_model downloads the model into one), then let the filesystem settle
    (the deletes' journal commit) before anything else is timed. The next repetition's
    writes then reuse the freed pages of the page cache, as on a machine in steady state."""
    shutil.rmtree(scratch, ignore_errors=True)
    ours.delete_stores()
    theirs.delete_runs()
    tmp = Path(tempfile.gettempdir())
    if tmp.name == BENCH_TMP and tmp.parent == ours.root.parent:  # bench_artifacts' own
        for child in tmp.iterdir():
            shutil.rmtree(child, ignore_errors=True)
    os.sync()


class Timings:
    """Seconds per measurement, the warm-up repetitions left out."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.rep = 0
        self.times: dict[str, list[float]] = {}
        self.checks: dict[str, Any] = {}

    def keep(self, key: str, seconds: float) -> None:
        if self.rep >= self.warmup:
            self.times.setdefault(key, []).append(seconds)

    def call(self, key: str, fn: Callable[[], Any]) -> Any:
        """Time ``fn`` (see :func:`timed_call`) under ``key``; its result."""
        seconds, result = timed_call(fn)
        self.keep(key, seconds)
        return result

    def summaries(self) -> dict[str, Any]:
        return {k: summary(v) for k, v in self.times.items()}

    def alternate(
        self,
        reps: int,
        mine: Callable[[], None],
        theirs: Callable[[], None],
        after: Callable[[], None],
    ) -> None:
        """The warm-up and ``reps`` repetitions, each tool first in turn, ``after`` each."""
        for rep in range(self.warmup + reps):
            self.rep = rep
            for step in (mine, theirs) if rep % 2 == 0 else (theirs, mine):
                step()
            after()


class PathBench(Timings):
    """A file or a folder logged, logged again by another run, and read back, by each tool."""

    def __init__(
        self, ours: Ours, theirs: Theirs, scratch: Path, data: dict[str, Any], warmup: int
    ) -> None:
        super().__init__(warmup)
        self.ours, self.theirs, self.data = ours, theirs, data
        self.src: Path = data["path"]
        self.name = self.src.name
        self.scratch = scratch
        self.checks["stored_bytes"] = {}

    def log_ours(self, key: str, rehash: bool) -> None:
        import jupyter_mltrack as mltrack
        from jupyter_mltrack.snapshots.fingerprint import clear_file_cache

        if rehash:  # a file this process has not hashed (a new process, a new folder)
            clear_file_cache()
        art = self.call(key, lambda: mltrack.log_artifact(self.src))
        self.checks["stored_bytes"][key] = art.meta.get("stored_bytes")
        if key == "ours_first":  # a folder's small files are a few packs: blob files held
            self.checks["blob_files"] = sum(1 for _ in self.ours.store().blobs.iter_digests())

    def loose(self) -> None:
        """What packs give: the folder's first log with packing turned off (a blob file
        per file, as before fd92a96), into an empty store of its own."""
        from jupyter_mltrack.models import packs

        self.ours.fresh_store()
        with self.ours.run(), mock.patch.object(packs, "PACK_FROM", sys.maxsize):
            self.log_ours("ours_first_loose", rehash=True)

    def unsynced(self) -> None:
        """What durability costs: the first log with every fsync, ``syncfs`` and started
        writeback of the blob writes skipped, into an empty store of its own. Not a setting
        of ours (a crash could then leave a record naming lost bytes): it shows how far the
        first log is from MLflow's unsynced copy when both do the same, no durability."""
        from jupyter_mltrack.store import blob_files

        self.ours.fresh_store()
        with (
            self.ours.run(),
            mock.patch("os.fsync", lambda fd: None),
            mock.patch.object(blob_files, "syncfs", lambda path: True),
            mock.patch.object(blob_files, "start_writeback", lambda *args: None),
        ):
            self.log_ours(UNSYNCED, rehash=True)

    def mine(self) -> None:
        dl = self.scratch / f"dl{self.rep}"
        folder = self.src.is_dir()
        if self.rep % 2:  # before or after the durable log, by turns
            self.unsynced()
            if folder:
                self.loose()
        self.ours.fresh_store()
        with self.ours.run() as first:
            self.log_ours("ours_first", rehash=True)
        with self.ours.run():
            self.log_ours("ours_second", rehash=False)
        with self.ours.run():
            self.log_ours("ours_second_rehash", rehash=True)
        out = self.call(
            "ours_download", lambda: self.ours.download(first, self.name, dl / "ours", link=False)
        )
        if self.rep == 0:
            self.checks["downloads_identical"] = same_tree(self.src, out)
        self.call(
            "ours_download_link",
            lambda: self.ours.download(first, self.name, dl / "ours-link", link=True),
        )
        if not self.rep % 2:
            if folder:
                self.loose()
            self.unsynced()

    def log_mlflow(self) -> None:
        import mlflow

        if self.src.is_file():
            mlflow.log_artifact(str(self.src))
        else:
            mlflow.log_artifacts(str(self.src), artifact_path=self.name)

    def theirs_(self) -> None:
        import mlflow

        dl = self.scratch / f"dl{self.rep}" / "mlflow"
        with self.theirs.run() as first:
            self.call("mlflow_first", self.log_mlflow)
            copy = self.theirs.artifact_dir(first) / self.name
            # right after the copy, while its pages are dirty: what making it durable costs,
            # the cheapest way (one syncfs, as our batch does; an fsync per copy and folder,
            # as its copy loop would, where the system has no syncfs)
            t0 = time.perf_counter()
            if not syncfs(str(copy)):
                fsync_tree(copy)
            self.keep("mlflow_fsync", time.perf_counter() - t0)
            self.checks["mlflow_copy"] = dict(zip(("files", "bytes"), tree_size(copy), strict=True))
        with self.theirs.run():
            self.call("mlflow_second", self.log_mlflow)
        dl.mkdir(parents=True)
        out = self.call(
            "mlflow_download",
            lambda: mlflow.artifacts.download_artifacts(
                run_id=first, artifact_path=self.name, dst_path=str(dl)
            ),
        )
        if self.rep == 0:
            self.checks["mlflow_download_identical"] = same_tree(self.src, Path(out))
        # By run id, MLflow copies into a new temp folder even from a local store; by its
        # local URI it returns the path in place (as our link=True: nothing copied).
        out = self.call(
            "mlflow_in_place",
            lambda: mlflow.artifacts.download_artifacts(
                artifact_uri=f"{mlflow.get_run(first).info.artifact_uri}/{self.name}"
            ),
        )
        self.checks["mlflow_in_place_is_its_copy"] = Path(out).is_relative_to(self.theirs.artifacts)

    def run(self, reps: int) -> dict[str, Any]:
        self.alternate(
            reps, self.mine, self.theirs_, lambda: free_disk(self.scratch, self.ours, self.theirs)
        )
        out = self.summaries()
        t = self.times
        durable = [a + b for a, b in zip(t["mlflow_first"], t["mlflow_fsync"], strict=True)]
        out["mlflow_first_durable"] = summary(durable)
        out["checks"] = self.checks
        out["data"] = {"files": self.data["files"], "bytes": self.data["bytes"]}
        return out


# models --------------------------------------------------------------------------------------


def bench_artifacts(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    """Benchmark 11 under ``root`` (emptied of what it wrote as it goes)."""
    tmp = root / BENCH_TMP
    tmp.mkdir(parents=True, exist_ok=True)
    before, tempfile.tempdir = tempfile.tempdir, str(tmp)
    try:
        return _bench(root, p)
    finally:
        tempfile.tempdir = before


def touch_memory(gb: float) -> dict[str, float]:
    """Write ``gb`` GB of memory at once (at most half of what is available), then free it.

    The host backs this VM's memory (Firecracker) only when a page is first written, at
    about 2 s per GB: 200 MB written into the page cache took 530 ms into fresh memory and
    53 ms into pages used before. Whichever tool first grew the page cache would pay that;
    touched once, the memory stays backed (a real machine never pays it)."""
    available = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) / 2**20
    size = min(gb, available / 2)
    t0 = time.perf_counter()
    blocks = [bytearray(1 << 30) for _ in range(int(size))]  # zero-filled: every page
    del blocks
    return {"gb": float(int(size)), "seconds": time.perf_counter() - t0}


def _bench(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    touched = touch_memory(p["touch_gb"])
    data = root / "data"
    data.mkdir(exist_ok=True)
    folder = make_folder(data, p)
    big = make_file(data, p["file_mb"])
    ours = Ours(root / "ours")
    theirs = Theirs(root / "mlflow")
    scratch = root / "scratch"
    out: dict[str, Any] = {
        "sizes": dict(p),
        "memory_touched": touched,
        "durability": {
            "ours": "every blob durable before the artifact is recorded (a batch of new"
            " blobs: one syncfs for their bytes, one for their names; else an fsync per file"
            " and folder; a folder's small files are a few packs); SQLite WAL,"
            " synchronous=NORMAL",
            "mlflow": "files copied without fsync (LocalArtifactRepository); SQLite WAL,"
            " synchronous=NORMAL (set by the benchmark: its default is FULL)",
        },
    }
    out["folder"] = PathBench(ours, theirs, scratch, folder, p["warmup"]).run(p["reps"])
    out["file"] = PathBench(ours, theirs, scratch, big, p["warmup"]).run(p["file_reps"])
    from bench import artifacts_s3  # part d: the same folder and file on an S3 server

    out["s3"] = artifacts_s3.bench_s3(root, folder, big, p)
    shutil.rmtree(data, ignore_errors=True)
    from bench.artifacts_models import ModelBench, make_models  # part c

    models = make_models(p)
    out["models"] = {}
    for key in p["models"]:
        m = models[key]
        out["models"][key] = {
            "fit_s": m["fit_s"],
            "pickle_bytes": m["pickle_bytes"],
            **ModelBench(
                ours, theirs, scratch, m["model"], models["sample"], p["model_warmup"]
            ).run(p["model_reps"]),
        }
    from bench.artifacts_images import bench_images  # part e

    out["images"] = bench_images(ours, theirs, scratch, p)
    out["duration_s"] = time.perf_counter() - t0
    out["targets"] = {**targets(out), **out["s3"].get("targets", {})}
    return out


def speedup(r: dict[str, Any], mine: str, theirs: str) -> float:
    """MLflow's median time over ours: above 1, ours is faster."""
    return r[theirs]["median_ms"] / r[mine]["median_ms"]


def targets(r: dict[str, Any]) -> dict[str, Any]:
    f, s = r["folder"], r["file"]
    goal, file_goal = TARGETS["folder_speedup"], TARGETS["file_speedup"]
    return {
        "folder_first_log_3x": speedup(f, "ours_first", "mlflow_first") >= goal,
        "folder_first_log_3x_equal_durability": speedup(f, "ours_first", "mlflow_first_durable")
        >= goal,
        "folder_second_log_3x": speedup(f, "ours_second", "mlflow_second") >= goal,
        "folder_second_log_rehash_3x": speedup(f, "ours_second_rehash", "mlflow_second") >= goal,
        "folder_download_3x": speedup(f, "ours_download", "mlflow_download") >= goal,
        "file_first_log_no_slower": speedup(s, "ours_first", "mlflow_first") >= file_goal,
        "file_first_log_no_slower_equal_durability": speedup(
            s, "ours_first", "mlflow_first_durable"
        )
        >= file_goal,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _row(label: str, r: dict[str, Any], key: str, vs: str | None = None, width: int = 74) -> str:
    line = f"      {label:<{width}}{r[key]['median_ms']:9.1f}{r[key]['p90_ms']:9.1f}"
    if vs is not None:
        line += f"   {speedup(r, vs, key):6.2f}x"
    return line


#: The first log with durability turned off (:meth:`PathBench.unsynced`).
UNSYNCED = "ours_first_unsynced"


def _unsynced(r: dict[str, Any]) -> str:
    """The first log's speedup with ours unsynced too, where the run measured it."""
    if UNSYNCED not in r:
        return ""
    return f"; with ours unsynced too {speedup(r, UNSYNCED, 'mlflow_first'):.2f}x"


def _path_rows(r: dict[str, Any], what: str) -> list[str]:
    c = r["checks"]
    stored = c["stored_bytes"]
    again = (stored.get("ours_second"), stored.get("ours_second_rehash"))
    store = "nothing new stored" if again == (0, 0) else f"STORED AGAIN: {again} bytes"
    log = "mlflow.log_artifact(file)" if what == "file" else "mlflow.log_artifacts(folder)"
    n = r["data"]["files"]
    return [
        f"      first log (ours: {c['blob_files']:,} blob files stored)",
        _row("ours  mltrack.log_artifact, empty blob store [durable]", r, "ours_first"),
        *(
            [_row("ours  packs turned off: a blob file per file [durable]", r, "ours_first_loose")]
            if "ours_first_loose" in r
            else []
        ),
        *(
            [_row("ours  every fsync and syncfs skipped (as MLflow; not a setting)", r, UNSYNCED)]
            if UNSYNCED in r
            else []
        ),
        _row(f"MLflow {log} [no fsync]", r, "mlflow_first", "ours_first"),
        _row(
            f"MLflow, then its {n:,} cop{'y' if n == 1 else 'ies'} made durable (one syncfs)",
            r,
            "mlflow_first_durable",
            "ours_first",
        ),
        f"      second log of the same {what} by another run (ours: {store})",
        _row("ours  digests cached in this process (stat only)", r, "ours_second"),
        _row("ours  digest cache cleared (as a new process: hash again)", r, "ours_second_rehash"),
        _row("MLflow (copies again)", r, "mlflow_second", "ours_second")
        + f"  ({speedup(r, 'ours_second_rehash', 'mlflow_second'):.2f}x the re-hash)",
        f"      read back into a fresh folder (identical: ours {c['downloads_identical']},"
        f" MLflow {c.get('mlflow_download_identical')})",
        _row("ours  get_artifact + materialize(link=False) (copies)", r, "ours_download"),
        _row(
            "ours  materialize(link=True) (hard links; a packed file is copied)",
            r,
            "ours_download_link",
        ),
        _row(
            "MLflow mlflow.artifacts.download_artifacts(dst_path=…) (copies)",
            r,
            "mlflow_download",
            "ours_download",
        ),
        _row(
            "MLflow download_artifacts() without dst_path (its own folder, no copy)",
            r,
            "mlflow_in_place",
        ),
    ]


def report(r: dict[str, Any]) -> list[str]:
    p, t = r["sizes"], r["targets"]
    f, s = r["folder"], r["file"]
    head = f"      {'':<74}{'median':>9}{'p90':>9}   MLflow÷ours"
    lines = [
        f"11. Artifacts and models (issue 14): ours vs MLflow in one run, wall ms; median / p90"
        f" of {p['reps']} (file: {p['file_reps']}, models: {p['model_reps']}) after"
        f" {p['warmup']} warm-up; speedup = MLflow's median / ours (above 1: ours faster)",
        "   durability: ours makes every blob durable before recording it (syncfs per batch);"
        " MLflow copies without fsync. Both SQLite stores WAL, synchronous=NORMAL. Memory touched"
        f" first: {r['memory_touched']['gb']:g} GB in {r['memory_touched']['seconds']:.1f} s",
        f"   a. a folder of {f['data']['files']:,} files ({p['min_kb']}-{p['max_kb']} KB,"
        f" {_mb(f['data']['bytes'])}, {p['subfolders']} subfolders)",
        head,
        *_path_rows(f, "folder"),
        f"      target >= {TARGETS['folder_speedup']:g}x MLflow: first log"
        f" {speedup(f, 'ours_first', 'mlflow_first'):.2f}x {met(t['folder_first_log_3x'])}"
        f" (at equal durability {speedup(f, 'ours_first', 'mlflow_first_durable'):.2f}x"
        f" {met(t['folder_first_log_3x_equal_durability'])}{_unsynced(f)}),"
        f" second log {speedup(f, 'ours_second', 'mlflow_second'):.2f}x"
        f" {met(t['folder_second_log_3x'])} (re-hashed"
        f" {speedup(f, 'ours_second_rehash', 'mlflow_second'):.2f}x"
        f" {met(t['folder_second_log_rehash_3x'])}), read back"
        f" {speedup(f, 'ours_download', 'mlflow_download'):.2f}x {met(t['folder_download_3x'])}",
        f"   b. a single file of {_mb(s['data']['bytes'])} (random bytes)",
        head,
        *_path_rows(s, "file"),
        f"      target no slower than MLflow: first log"
        f" {speedup(s, 'ours_first', 'mlflow_first'):.2f}x {met(t['file_first_log_no_slower'])};"
        f" at equal durability {speedup(s, 'ours_first', 'mlflow_first_durable'):.2f}x"
        f" {met(t['file_first_log_no_slower_equal_durability'])}{_unsynced(s)}",
    ]
    lines += ["   c. models", head]
    labels = {"trees": "ExtraTreesRegressor", "mlp": "MLPRegressor"}
    from bench.artifacts_models import model_rows

    for key, m in r["models"].items():
        lines += model_rows(labels[key], m)
    if "images" in r:
        from bench.artifacts_images import image_rows

        lines += image_rows(r["images"], p["image_reps"])
    if "s3" in r:
        from bench import artifacts_s3

        lines += artifacts_s3.report(r["s3"], p)
    return lines


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="benchmark 11 alone")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from bench.common import isolate

    root = isolate()
    try:
        result = bench_artifacts(root / "artifacts", QUICK if args.quick else FULL)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("\n".join(report(result)))
    print(json.dumps(result["targets"]))
