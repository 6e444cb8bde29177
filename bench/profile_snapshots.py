"""Where a snapshot's time goes: phase timings of snapshot/re-snapshot/append/restore.

A diagnostic beside benchmark 4 (not part of ``make bench``; figures are not saved)::

    python -m bench.profile_snapshots                 # numeric and mixed 1 GiB frames
    python -m bench.profile_snapshots --frame mixed --columns --cprofile
    python -m bench.profile_snapshots --quick         # 32 MiB frames

Phases are timed by wrapping functions of ``jupyter_mltrack`` for the duration of the run
(the package itself is not changed). Work runs on the snapshot's job thread and on the
encoder pool, so a phase's figure is the sum over the threads it ran on: phases running on
both encoder threads can add up to more than the wall time. A function that does not exist
(any more) is skipped. ``--cprofile`` profiles the encoder/reader threads and the calling
thread separately (cProfile sees one thread at a time); ``--columns`` times each column of
the mixed frame alone through the public API (fingerprint, durable snapshot, restore).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import pstats
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.snapshots import GIB, MIB, _fresh_store, _reopen, build, build_mixed, scratch_root

#: ``module:attribute`` (a function, or ``Class.method``) timed as a phase.
PHASES = [
    "jupyter_mltrack.snapshots.storage:fingerprint_frame",
    "jupyter_mltrack.snapshots.storage:_source_for",
    "jupyter_mltrack.snapshots.storage:Snapshotter._known",
    "jupyter_mltrack.store.store:Store.add_snapshot",
    "jupyter_mltrack.store.store:Store.missing_blocks",
    "jupyter_mltrack.snapshots.storage:Snapshotter._levels",
    "jupyter_mltrack.snapshots.storage:Snapshotter._write_packs",
    "jupyter_mltrack.snapshots.sources:_FrameSource.encode",
    "jupyter_mltrack.snapshots.sources:encode_raw",
    "jupyter_mltrack.snapshots.sources:block_moments",
    "jupyter_mltrack.snapshots.blocks:FramePlan.array",
    "jupyter_mltrack.snapshots.blocks:encode_block",
    "jupyter_mltrack.snapshots.blocks:_null_kinds",
    "jupyter_mltrack.snapshots.sources:_FrameSource.verify",
    "jupyter_mltrack.store.blobs:_LocalWriter.write",
    "jupyter_mltrack.store.blobs:_LocalWriter.commit",
    "os:fsync",
    "jupyter_mltrack.snapshots.storage:_safe_stats",
    "jupyter_mltrack.snapshots.storage:Snapshotter._moments",
    "jupyter_mltrack.store.store:Store.complete_snapshot",
    "jupyter_mltrack.store.store:Store.block_locations",
    "jupyter_mltrack.snapshots.restore:SnapshotReads._read_blocks",
    "jupyter_mltrack.snapshots.restore:SnapshotReads._read_run",
    "jupyter_mltrack.store.blobs:LocalBlobStore.read_range_into",
    "jupyter_mltrack.snapshots.blocks:decode_raw_into",
    "jupyter_mltrack.snapshots.blocks:decode_block",
    "jupyter_mltrack.snapshots.restore:_rebuild",
    "jupyter_mltrack.snapshots.blocks:blocks_to_frame",
    "jupyter_mltrack.snapshots.blocks:_object_values",
]
#: Functions run on worker threads, profiled per call with ``--cprofile``.
THREAD_ENTRIES = {
    "jupyter_mltrack.snapshots.storage:Snapshotter._write_packs",
    "jupyter_mltrack.snapshots.restore:SnapshotReads._read_run",
}


class Phases:
    """Thread-safe accumulated time per wrapped function, per thread."""

    def __init__(self, cprofile: bool) -> None:
        self.cprofile = cprofile
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.threads: dict[str, set[str]] = defaultdict(set)
        self.profiles: list[cProfile.Profile] = []
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, spec: str) -> None:
        module_name, _, path = spec.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            print(f"   (skipped {spec}: not found)")
            return
        label = path if module_name != "os" else f"os.{path}"
        profile_calls = self.cprofile and spec in THREAD_ENTRIES

        def timed(*args: Any, **kwargs: Any) -> Any:
            prof = cProfile.Profile() if profile_calls else None
            t0 = time.perf_counter()
            if prof is not None:
                prof.enable()
            try:
                return original(*args, **kwargs)
            finally:
                if prof is not None:
                    prof.disable()
                elapsed = time.perf_counter() - t0
                with self.lock:
                    self.seconds[label] += elapsed
                    self.calls[label] += 1
                    self.threads[label].add(threading.current_thread().name.split("_")[0])
                    if prof is not None:
                        self.profiles.append(prof)

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def install(self) -> None:
        for spec in PHASES:
            self._wrap(spec)

    def remove(self) -> None:
        while self._undo:
            self._undo.pop()()

    def reset(self) -> None:
        with self.lock:
            self.seconds.clear()
            self.calls.clear()
            self.threads.clear()
            self.profiles.clear()

    def report(self, title: str, wall: float) -> None:
        print(f"\n-- {title}: wall {wall:.3f} s")
        print(f"   {'phase':<36}{'seconds':>9}{'calls':>7}  threads")
        for label in sorted(self.seconds, key=lambda k: -self.seconds[k]):
            threads = ", ".join(sorted(self.threads[label]))
            print(f"   {label:<36}{self.seconds[label]:9.3f}{self.calls[label]:7d}  {threads}")
        if self.profiles:
            stats = pstats.Stats(self.profiles[0])
            for prof in self.profiles[1:]:
                stats.add(prof)
            print("   worker threads, cProfile by own time:")
            stats.sort_stats("tottime").print_stats(12)
        self.reset()


@contextmanager
def _main_profile(enabled: bool) -> Iterator[None]:
    prof = cProfile.Profile() if enabled else None
    if prof is not None:
        prof.enable()
    try:
        yield
    finally:
        if prof is not None:
            prof.disable()
            print("   calling thread, cProfile by cumulative time:")
            pstats.Stats(prof).sort_stats("cumulative").print_stats(15)


def profile_frame(kind: str, df: Any, root: Path, phases: Phases, cprofile: bool) -> None:
    import pandas as pd

    size = int(df.memory_usage(index=True, deep=True).sum())
    print(f"\n==== {kind} frame: {len(df):,} rows, {size / GIB:.3f} GiB")
    with _fresh_store(root, f"profile-{kind}") as (_store, snapper, home):
        gc.collect()
        phases.reset()
        with _main_profile(cprofile):
            t0 = time.perf_counter()
            job = snapper.snapshot(df, progress=False)
            returned = time.perf_counter() - t0
        job.wait()
        durable = time.perf_counter() - t0
        print(f"\nfirst snapshot: snapshot() returned {returned:.3f} s, durable {durable:.3f} s,")
        print(f"   {job.written / MIB:,.1f} MiB written")
        phases.report("first snapshot", durable)
        if kind == "numeric":
            gc.collect()
            t0 = time.perf_counter()
            snapper.snapshot(df, progress=False).wait()
            phases.report("unchanged re-snapshot", time.perf_counter() - t0)
            appended = pd.concat([df, build(len(df) // 100, seed=1)], ignore_index=True)
            gc.collect()
            t0 = time.perf_counter()
            grown = snapper.snapshot(appended, progress=False)
            returned = time.perf_counter() - t0
            grown.wait()
            wall = time.perf_counter() - t0
            print(f"\n1% append: snapshot() returned {returned:.3f} s")
            phases.report("1% append", wall)
            del appended
        store2, snapper2 = _reopen(home)
        try:
            gc.collect()
            with _main_profile(cprofile):
                t0 = time.perf_counter()
                back = snapper2.load(job.digest)
                wall = time.perf_counter() - t0
            phases.report("restore", wall)
            del back
        finally:
            snapper2.close()
            store2.close()


def profile_columns(df: Any, root: Path) -> None:
    """Each column of ``df`` alone, through the public API."""
    from jupyter_mltrack.snapshots import fingerprint_frame

    print(f"\n==== per column, each as a one-column frame ({len(df):,} rows)")
    print(
        f"   {'column':<10}{'dtype':<30}{'MiB deep':>9}{'fingerprint':>12}{'returned':>10}"
        f"{'durable':>9}{'restore':>9}{'written MiB':>12}"
    )
    for i, column in enumerate(df.columns):
        one = df[[column]]
        size = one.memory_usage(index=False, deep=True).sum() / MIB
        gc.collect()
        t0 = time.perf_counter()
        fingerprint_frame(one)
        fp = time.perf_counter() - t0
        with _fresh_store(root, f"column-{i}") as (_store, snapper, home):
            gc.collect()
            t0 = time.perf_counter()
            job = snapper.snapshot(one, progress=False)
            returned = time.perf_counter() - t0
            job.wait()
            durable = time.perf_counter() - t0
            store2, snapper2 = _reopen(home)
            try:
                gc.collect()
                t0 = time.perf_counter()
                snapper2.load(job.digest)
                restore = time.perf_counter() - t0
            finally:
                snapper2.close()
                store2.close()
        print(
            f"   {str(column):<10}{str(one.dtypes.iloc[0]):<30}{size:9.1f}{fp:12.3f}"
            f"{returned:10.3f}{durable:9.3f}{restore:9.3f}{job.written / MIB:12.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile_snapshots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="32 MiB frames")
    parser.add_argument("--frame", choices=["numeric", "mixed", "both"], default="both")
    parser.add_argument("--columns", action="store_true", help="per-column times (mixed frame)")
    parser.add_argument("--cprofile", action="store_true", help="cProfile each thread's work")
    args = parser.parse_args(argv)
    rows = 262_144 if args.quick else 8_388_608
    mixed_bytes = 32 * MIB if args.quick else GIB

    root, fs = scratch_root()
    print(f"stores in {root} ({fs['fstype']}); data in the page cache")
    phases = Phases(args.cprofile)
    try:
        # warm-up (imports, first calls), excluded
        with _fresh_store(root, "warm") as (_store, snapper, _home):
            snapper.snapshot(build(70_000, seed=99), progress=False).wait()
        phases.install()
        if args.frame in ("numeric", "both"):
            df = build(rows)
            profile_frame("numeric", df, root, phases, args.cprofile)
            del df
        if args.frame in ("mixed", "both") or args.columns:
            df = build_mixed(mixed_bytes)
            if args.frame in ("mixed", "both"):
                profile_frame("mixed", df, root, phases, args.cprofile)
            if args.columns:
                phases.remove()
                profile_columns(df, root)
    finally:
        phases.remove()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
