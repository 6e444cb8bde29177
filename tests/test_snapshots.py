"""Dataset snapshots stored and restored for real: a SQLite or PostgreSQL store and its blob
folder, exact round trips, deduplication, durability, mutation and garbage collection."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from jupyter_mltrack.snapshots import storage
from jupyter_mltrack.snapshots.diff import diff_snapshots
from jupyter_mltrack.snapshots.storage import SnapshotError, Snapshotter
from jupyter_mltrack.store import Snapshot, SnapshotNotFound, SnapshotStatus, Store

from .test_fingerprint import frames, small_blocks

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def sn(store: Store) -> Iterator[Snapshotter]:
    """A snapshotter on each backend (SQLite, PostgreSQL), blobs in a local folder."""
    if store.home is None:  # PostgreSQL: blobs need an explicit place
        store.blob_url = str(Path(os.environ["MLTRACK_HOME"]) / "pg-blobs")
    s = Snapshotter(store)
    yield s
    s.close()


@pytest.fixture
def local(sqlite_store: Store) -> Iterator[Snapshotter]:
    s = Snapshotter(sqlite_store)
    yield s
    s.close()


def take(sn: Snapshotter, obj: object, **kw: object) -> tuple[Snapshot, int]:
    job = sn.snapshot(obj, progress=False, **kw)
    return job.wait(), job.written


def mixed(n: int = 23) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    strings = np.array([f"s{i % 7}" for i in range(n)], dtype=object)
    strings[::5] = None
    floats = rng.standard_normal(n)
    floats[::4] = np.nan
    frame = pd.DataFrame(
        {
            "i": np.arange(n, dtype=np.int64),
            "f": floats,
            "str": pd.array([None if i % 6 == 0 else f"t{i}" for i in range(n)], dtype="str"),
            "obj": pd.Series(strings, dtype=object, index=range(n)).to_numpy(dtype=object),
            "cat": pd.Categorical([("a", "b", None)[i % 3] for i in range(n)], ordered=True),
            "tz": pd.date_range("2024-03-30", periods=n, freq="7h", tz="Europe/Paris"),
            "naive": pd.to_datetime(["2020-01-01", None] * (n // 2) + ["2021-06-01"] * (n % 2)),
            "nint": pd.array([None if i % 4 == 1 else i for i in range(n)], dtype="Int64"),
            "b": np.arange(n) % 3 == 0,
        },
        index=pd.Index([f"r{i}" for i in range(n)], name="row"),
    )
    # pandas 3 infers "str" for strings: keep one real object column (None vs NaN kept)
    frame["obj"] = pd.Series(strings, dtype=object, index=frame.index)
    return frame


# --------------------------------------------------------------------------- round trips


@SETTINGS
@given(df=frames())
def test_any_frame_restores_exactly(
    df: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> None:
    st = Store(str(tmp_path_factory.mktemp("prop")))
    sn = Snapshotter(st)
    try:
        with small_blocks(4):
            snap, _ = take(sn, df)
            back = sn.load(snap.digest)
        pd.testing.assert_frame_equal(back, df, check_exact=True)
        assert list(back.dtypes) == list(df.dtypes)
        # object columns keep the kind of each missing value
        for col in [c for c in df.columns if df[c].dtype == np.dtype(object)]:
            assert [type(v) for v in back[col]] == [type(v) for v in df[col]]
    finally:
        sn.close()
        st.close()


def test_mixed_frame_series_arrays_tables_and_files(sn: Snapshotter, tmp_path: Path) -> None:
    df = mixed()
    with small_blocks(5):
        snap, written = take(sn, df, name="mixed")
        assert snap.status is SnapshotStatus.COMPLETE and written > 0
        assert (snap.kind, snap.rows, snap.columns, snap.name) == ("dataframe", 23, 9, "mixed")
        back = sn.load("mixed")
        pd.testing.assert_frame_equal(back, df, check_exact=True)
        assert back["obj"].iloc[0] is None and back["f"].isna().iloc[0]

        s = df["f"].rename(("multi", 2))
        pd.testing.assert_series_equal(sn.load(take(sn, s)[0]), s, check_exact=True)

        cube = np.arange(60, dtype=">i4").reshape(20, 3)
        arr = sn.load(take(sn, cube)[0])
        assert arr.dtype == np.dtype("int32") and arr.shape == (20, 3)
        assert (arr == cube).all()
        scalar = sn.load(take(sn, np.array(3.5))[0])
        assert scalar.shape == () and scalar == 3.5
        objs = np.array(["a", None, "c"], dtype=object)
        assert list(sn.load(take(sn, objs)[0])) == ["a", None, "c"]

        table = pa.table({"x": [1, None, 3] * 4, "y": pa.array(["p", "q", None] * 4)})
        assert sn.load(take(sn, table)[0]).equals(table)

    path = tmp_path / "data.csv"
    df.to_csv(path)
    fsnap, fwritten = take(sn, path)
    assert fsnap.kind == "file" and fwritten == path.stat().st_size
    copy = Path(sn.load(fsnap.digest))
    assert copy.read_bytes() == path.read_bytes()
    assert copy.stat().st_ino != path.stat().st_ino  # a copy, never a link
    path.write_text("changed")
    assert copy.read_bytes() != path.read_bytes()
    restored = sn.restore_file(fsnap, tmp_path / "again.csv")
    assert restored.read_text() == df.to_csv()


def test_unsupported_objects_fail_clearly(sn: Snapshotter) -> None:
    with pytest.raises(SnapshotError, match="mixed"):
        sn.snapshot(pd.DataFrame({"x": ["a", 1]}))
    with pytest.raises(SnapshotError, match="cannot snapshot"):
        sn.snapshot("/no/such/file.csv")
    with pytest.raises(SnapshotNotFound):
        sn.load("xxh3-128:" + "0" * 32)


# --------------------------------------------------------------------------- dedup


def test_unchanged_append_and_one_column(sn: Snapshotter) -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({c: rng.random(1000) for c in "abcd"})
    with small_blocks(100):
        first, written = take(sn, df)
        assert written > 0
        again, rewritten = take(sn, df.copy(deep=True))
        assert again.digest == first.digest and rewritten == 0

        appended = pd.concat([df, df.iloc[:10]], ignore_index=True)  # 1% more rows
        blocks_before = set(sn.store.missing_blocks([]))  # (nothing)
        app, app_written = take(sn, appended)
        assert app.digest != first.digest
        # only the new last block of each column and of nothing else
        new = {d for ds in app.layout["blocks"].values() for d in ds} - {
            d for ds in first.layout["blocks"].values() for d in ds
        }
        assert len(new) == 4 and not blocks_before
        assert app_written < written * 0.03

        edited = df.copy()
        edited.loc[150, "c"] = -1.0  # one value of one column
        ed, ed_written = take(sn, edited)
        changed = [
            k for k in ed.layout["blocks"] if ed.layout["blocks"][k] != first.layout["blocks"][k]
        ]
        assert changed == ["col:2"]
        assert ed_written < written / 10
        pd.testing.assert_frame_equal(sn.load(ed), edited, check_exact=True)
        pd.testing.assert_frame_equal(sn.load(app), appended, check_exact=True)


def test_renamed_column_reuses_every_block(local: Snapshotter) -> None:
    df = pd.DataFrame({"a": np.arange(500.0), "b": np.arange(500)})
    with small_blocks(64):
        take(local, df)
        renamed, written = take(local, df.rename(columns={"a": "alpha"}))
        assert written == 0  # new snapshot, no new block
        assert list(local.load(renamed).columns) == ["alpha", "b"]


# --------------------------------------------------------------------------- durability


@contextlib.contextmanager
def paused(sn: Snapshotter) -> Iterator[threading.Event]:
    """Hold the snapshotter's job queue: snapshots taken meanwhile wait to be written."""
    go = threading.Event()
    sn._jobs.submit(go.wait)
    try:
        yield go
    finally:
        go.set()


def test_pending_until_durable_and_readers_wait(local: Snapshotter) -> None:
    df = pd.DataFrame({"x": np.arange(10_000)})
    with paused(local) as go:
        job = local.snapshot(df, progress=False)
        assert job.snapshot.status is SnapshotStatus.PENDING
        assert local.store.get_snapshot(job.digest).status is SnapshotStatus.PENDING
        assert local.store.missing_blocks(job.snapshot.layout["blocks"]["col:0"])
        go.set()
        pd.testing.assert_frame_equal(local.load(job.digest), df)  # waits for the job
    assert local.store.get_snapshot(job.digest).status is SnapshotStatus.COMPLETE


def test_array_edited_before_it_is_stored_fails_cleanly(local: Snapshotter) -> None:
    a = np.arange(1000, dtype=np.float64)
    with small_blocks(100), paused(local):
        job = local.snapshot(a, progress=False)
        a[550] = -1.0  # in place, after the fingerprint, before the write
    with pytest.raises(SnapshotError, match="changed while it was being stored"):
        job.wait()
    snap = local.store.get_snapshot(job.digest)
    assert snap.status is SnapshotStatus.FAILED and "changed" in (snap.error or "")
    # nothing was recorded for the block whose bytes no longer match its digest
    assert local.store.missing_blocks(snap.layout["blocks"]["values"])
    # the edited array is a new snapshot and stores fine
    edited, _ = take(local, a)
    assert (local.load(edited) == a).all()


def test_frames_are_protected_by_copy_on_write(local: Snapshotter) -> None:
    df = pd.DataFrame({"x": np.arange(1000.0)})
    with paused(local):
        job = local.snapshot(df, progress=False)
        df.loc[5, "x"] = -5.0  # pandas copies instead of changing what we hold
    snap = job.wait()
    assert local.load(snap)["x"].iloc[5] == 5.0


def test_file_changed_during_copy_fails(local: Snapshotter, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"a" * 10_000)
    with paused(local):
        job = local.snapshot(path, progress=False)
        path.write_bytes(b"b" * 10_000)  # same size, new content
    with pytest.raises(SnapshotError, match="changed while it was being copied"):
        job.wait()
    assert not local.blobs.has(job.digest)


def test_a_failed_write_leaves_no_pack_and_no_rows(
    local: Snapshotter, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = pd.DataFrame({"x": np.arange(5000.0), "y": np.arange(5000)})
    calls = {"n": 0}
    real = storage._FrameSource.encode

    def flaky(self, key, k, level):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] > 6:
            raise OSError(28, "No space left on device")
        return real(self, key, k, level)

    monkeypatch.setattr(storage._FrameSource, "encode", flaky)
    with small_blocks(500):
        job = local.snapshot(df, progress=False)
        with pytest.raises(SnapshotError, match="No space left"):
            job.wait()
        snap = local.store.get_snapshot(job.digest)
        assert snap.status is SnapshotStatus.FAILED
        all_blocks = [d for ds in snap.layout["blocks"].values() for d in ds]
        assert local.store.missing_blocks(all_blocks) == set(all_blocks)
        assert list(local.blobs.iter_digests()) == []  # no pack was published
        assert not list(local.blobs.root.glob(".tmp-*"))  # and no temp file is left
        monkeypatch.setattr(storage._FrameSource, "encode", real)
        again, _ = take(local, df)  # the same snapshot, taken again, now succeeds
        assert again.digest == snap.digest and again.status is SnapshotStatus.COMPLETE


# --------------------------------------------------------------------------- statistics


def test_statistics_are_exact_and_survive_appends(local: Snapshotter) -> None:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "f": np.r_[rng.normal(5, 2, 997), [np.nan] * 3],
            "i": rng.integers(-50, 50, 1000),
            "t": pd.date_range("2020-01-01", periods=1000, freq="h"),
            "s": pd.array([f"v{i % 4}" for i in range(1000)], dtype="str"),
        }
    )
    with small_blocks(128):
        snap, _ = take(local, df)
        app, _ = take(local, pd.concat([df, df.iloc[:40]], ignore_index=True))
    for s, frame in ((snap, df), (app, pd.concat([df, df.iloc[:40]], ignore_index=True))):
        cols = {c["name"]: c for c in s.stats["columns"]}
        f = cols["f"]
        assert f["count"] == len(frame) and f["nulls"] == frame["f"].isna().sum()
        assert f["numeric"]["mean"] == pytest.approx(frame["f"].mean(), rel=1e-12)
        assert f["numeric"]["std"] == pytest.approx(frame["f"].std(), rel=1e-12)
        assert f["numeric"]["min"] == frame["f"].min() and f["numeric"]["max"] == frame["f"].max()
        assert cols["i"]["numeric"]["mean"] == pytest.approx(frame["i"].mean(), rel=1e-12)
        assert cols["t"]["numeric"]["max"] == frame["t"].max().isoformat()
        assert {t["value"] for t in cols["s"]["top"]} == {"v0", "v1", "v2", "v3"}
        assert cols["s"]["distinct_estimate"] == 4


# --------------------------------------------------------------------------- preview & diff


def test_preview_reads_rows_across_blocks(local: Snapshotter) -> None:
    df = mixed(50)
    with small_blocks(8):
        snap, _ = take(local, df)
        part = local.preview(snap, 5, 12)
    pd.testing.assert_frame_equal(part, df.iloc[5:17], check_exact=True)
    assert len(local.preview(snap, 48, 100)) == 2
    assert len(local.preview(snap, 60, 5)) == 0
    ranged = pd.DataFrame({"x": np.arange(30)}, index=pd.RangeIndex(100, 160, 2))
    with small_blocks(8):
        r, _ = take(local, ranged)
        pd.testing.assert_frame_equal(local.preview(r, 9, 4), ranged.iloc[9:13])


def test_diff_of_schema_rows_columns_and_drift(local: Snapshotter) -> None:
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"a": rng.normal(0, 1, 400), "b": np.arange(400), "c": ["x", "y"] * 200})
    with small_blocks(64):
        a, _ = take(local, df)
        shifted = df.assign(a=df["a"] + 3, d=1.5).drop(columns="c")
        shifted["b"] = shifted["b"].astype("int32")
        b, _ = take(local, shifted)
        d = diff_snapshots(local, a, b, sample=3)
        assert d["schema"]["added"] == ["d"] and d["schema"]["removed"] == ["c"]
        assert d["schema"]["dtype_changed"] == [{"name": "b", "a": "int64", "b": "int32"}]
        by = {c["name"]: c for c in d["columns"]}
        assert by["a"]["status"] == "changed" and by["a"]["drift"] > 0.5
        assert by["b"]["status"] == "dtype_changed"
        assert d["appended_rows"] is None
        assert len(d["sample"]["rows"]) == 3 and d["sample"]["by"] == "position"

        c, _ = take(local, pd.concat([df, df.iloc[:9]], ignore_index=True))
        d2 = diff_snapshots(local, a, c)
        assert d2["appended_rows"] == 9 and d2["rows"]["delta"] == 9
        assert diff_snapshots(local, a, a)["identical"] is True

        keyed = df.set_index(pd.Index([f"k{i}" for i in range(400)]))
        k1, _ = take(local, keyed)
        changed = keyed.drop(index="k3")
        changed.loc["k10", "b"] = -1
        k2, _ = take(local, changed)
        sample = diff_snapshots(local, k1, k2, sample=10)["sample"]
        assert sample["by"] == "index" and sample["only_in_a"] == 1
        assert sample["rows"] == [
            {"index": "k10", "position": None, "column": "b", "a": 10, "b": -1}
        ]


# --------------------------------------------------------------------------- gc


def test_gc_keeps_what_runs_and_pins_use(sn: Snapshotter) -> None:
    store = sn.store
    base = pd.DataFrame({"x": np.arange(3000.0), "y": np.arange(3000)})
    with small_blocks(500):
        used, _ = take(sn, base)
        run = store.create_run("gc")
        store.add_run_data(run.id, "input", "base", used.digest)
        pinned, _ = take(sn, base.assign(z=7), pin=True)
        loose, _ = take(sn, base.assign(x=-base["x"]))  # shares y's blocks with the others
        loose_only = {d for ds in loose.layout["blocks"].values() for d in ds} - {
            d for s in (used, pinned) for ds in s.layout["blocks"].values() for d in ds
        }
        assert loose_only

        dry = sn.gc(dry_run=True)
        assert dry["snapshots"] == [loose.digest] and dry["blocks"] == len(loose_only)
        assert store.get_snapshot(loose.digest)  # a dry run deletes nothing

        report = sn.gc()
        assert report["snapshots"] == [loose.digest] and report["bytes_freed"] > 0
        with pytest.raises(SnapshotNotFound):
            store.get_snapshot(loose.digest)
        assert store.missing_blocks(loose_only) == loose_only
        pd.testing.assert_frame_equal(sn.load(used), base)
        pd.testing.assert_frame_equal(sn.load(pinned), base.assign(z=7))
        assert sn.gc()["snapshots"] == []  # nothing left to collect

        store.delete_run(run.id)  # now only the pinned one is kept
        sn.gc()
        pd.testing.assert_frame_equal(sn.load(pinned), base.assign(z=7))
        with pytest.raises(SnapshotNotFound):
            store.get_snapshot(used.digest)


def test_gc_rewrites_a_mostly_dead_pack(local: Snapshotter) -> None:
    rng = np.random.default_rng(5)
    with small_blocks(100):
        # One job stores a's, then k's, then b's blocks: the packs mix k with a and b.
        big, _ = take(
            local,
            pd.DataFrame({"a": rng.random(2000), "k": np.arange(2000), "b": rng.random(2000)}),
        )
        keep = pd.DataFrame({"k": np.arange(1000)})  # k's first ten blocks, already stored
        small, written = take(local, keep, pin=True)
        assert written == 0
        packs_before = set(local.blobs.iter_digests())
        bytes_before = sum(local.blobs.size(p) for p in packs_before)
        dry = local.gc(dry_run=True)
        report = local.gc()
        assert big.digest in report["snapshots"]
        assert report["packs_rewritten"] >= 1
        after = set(local.blobs.iter_digests())
        assert after.isdisjoint(packs_before)  # every old pack was deleted or rewritten
        stored = sum(local.blobs.size(p) for p in after)
        # what it says it freed is what left the disk, net of the rewritten packs; a dry
        # run says the same
        assert report["bytes_freed"] == dry["bytes_freed"] == bytes_before - stored > 0
        assert stored < sum(len(ds) for ds in big.layout["blocks"].values()) * 800 / 3
        pd.testing.assert_frame_equal(local.load(small), keep)


def test_a_rewritten_pack_another_gc_deleted_before_the_move_leaves_the_blocks_whole(
    local: Snapshotter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until its blocks are moved to it, a pack gc writes to rewrite another is named by no
    row: a gc of another process may take it for an orphan and delete it. The move checks,
    under the lock deletions take, that it is still there; when not, nothing moves and the
    old pack stays, where the blocks still are (its dead bytes with it: a leak, never a
    loss)."""
    rng = np.random.default_rng(6)
    with small_blocks(100):
        big, _ = take(
            local,
            pd.DataFrame({"a": rng.random(2000), "k": np.arange(2000), "b": rng.random(2000)}),
        )
        keep = pd.DataFrame({"k": np.arange(1000)})
        small, _ = take(local, keep, pin=True)
        real = local.store.move_blocks

        def after_another_gc(moves, *args):  # type: ignore[no-untyped-def]
            for pack in {p for _d, p, _o in moves}:
                local.blobs.delete(pack)  # what a concurrent gc's orphan sweep does
            return real(moves, *args)

        monkeypatch.setattr(local.store, "move_blocks", after_another_gc)
        report = local.gc()
        local._complete.clear()
        pd.testing.assert_frame_equal(local.load(small), keep)
        assert big.digest in report["snapshots"] and report["packs_rewritten"] == 0
        monkeypatch.setattr(local.store, "move_blocks", real)
        local.gc()
        local._complete.clear()
        pd.testing.assert_frame_equal(local.load(small), keep)


# --------------------------------------------------------------------------- progress


def test_slow_snapshots_show_progress(
    local: Snapshotter, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    df = pd.DataFrame({"x": np.arange(50_000.0)})
    local.snapshot(df).wait()  # fast: no progress bar
    assert "mltrack: snapshot" not in capsys.readouterr().err
    monkeypatch.setattr(storage, "PROGRESS_AFTER", 0.0)
    local.snapshot(df.assign(y=1)).wait()
    err = capsys.readouterr().err
    assert "mltrack: snapshot" in err and "stored:" in err


def test_gc_spares_a_snapshot_another_process_is_writing(local: Snapshotter) -> None:
    df = pd.DataFrame({"x": np.arange(1000.0)})
    other = Snapshotter(local.store)  # gc from another process: it cannot wait for our jobs
    try:
        with paused(local):
            job = local.snapshot(df, progress=False)
            assert other.gc()["snapshots"] == []  # pending and young: not garbage yet
            run = local.store.create_run("race")
            local.store.add_run_data(run.id, "input", "df", job.digest)  # still linkable
        assert job.wait().status is SnapshotStatus.COMPLETE
        # a snapshot left pending for hours is collected only if its writer may be gone
        orphan = local.store.add_snapshot(
            digest="xxh3-128:" + "e" * 32,
            kind="dataframe",
            rows=1,
            columns=1,
            nbytes=8,
            schema={},
            layout={"blocks": {}},
        )
        with local.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE snapshots SET created_at = created_at - 7200 WHERE digest = ?",
                (orphan.digest,),
            )
        # its writer (this process) lives: kept, however long the write takes
        assert other.gc()["snapshots"] == []
        # a writer on another host cannot be checked: two hours pending is taken for dead
        with local.store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE snapshots SET writer_host = 'elsewhere',"
                " writer_at = writer_at - 7200 WHERE digest = ?",
                (orphan.digest,),
            )
        assert other.gc()["snapshots"] == [orphan.digest]
    finally:
        other.close()


def test_unstorable_frames_raise_snapshot_errors(local: Snapshotter) -> None:
    with pytest.raises(SnapshotError, match="complex|cannot store"):
        local.snapshot(pd.DataFrame({"z": np.array([1 + 2j, 3j])}))
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(SnapshotError, match="duplicate"):
        local.snapshot(dup)
    snap, _ = take(local, pd.DataFrame({"a": [1, 2]}))
    assert local.store.resolve_snapshot(snap.short.upper()).digest == snap.digest


def test_snapshots_through_an_fsspec_blob_store(sqlite_store: Store) -> None:
    """Teams keep blobs in object storage: the same packs, written with one PUT each."""
    import uuid

    sqlite_store.blob_url = f"memory://mltrack-{uuid.uuid4().hex}"
    sn = Snapshotter(sqlite_store)
    try:
        assert type(sn.blobs).__name__ == "FsspecBlobStore"
        df = mixed(300)
        with small_blocks(64):
            snap, written = take(sn, df)
            assert written > 0 and take(sn, df)[1] == 0
            pd.testing.assert_frame_equal(sn.load(snap), df, check_exact=True)
            pd.testing.assert_frame_equal(sn.preview(snap, 100, 30), df.iloc[100:130])
        path = Path(os.environ["MLTRACK_HOME"]) / "f.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("payload")
        fsnap, _ = take(sn, path)
        assert Path(sn.load(fsnap)).read_text() == "payload"  # a local cached copy
        packs = set(sn.blobs.iter_digests()) - {fsnap.digest}
        assert packs
        report = sn.gc()  # neither is pinned nor used by a run
        assert set(report["snapshots"]) == {snap.digest, fsnap.digest}
        assert list(sn.blobs.iter_digests()) == []
    finally:
        sn.close()


def test_a_snapshot_remembered_as_complete_but_swept_elsewhere_is_stored_again(
    tmp_path: Path,
) -> None:
    """A tracked cell re-reading the same arrays skips their look-up (the snapshotter
    remembers complete snapshots); when another process's ``gc`` swept one meanwhile, linking
    the next run fails, the snapshot is looked up again and stored anew, and the run is
    linked: nothing is lost."""
    from jupyter_mltrack.capture import api
    from jupyter_mltrack.capture.data import snapshot_values, snapshotter

    home = str(tmp_path / "store")
    store, elsewhere = Store(home), Store(home)
    try:
        ns = {"a": np.arange(1000.0), "b": np.ones((20, 3))}
        runs = []
        for _ in range(2):
            run = api.ActiveRun(store.create_run("e"), store)
            assert snapshot_values(run, "input", ["a", "b"], ns) == []
            for job in run.data_jobs:
                job.wait()
            runs.append(run)
        digests = [d.snapshot.digest for d in store.run_data(runs[1].id)]
        assert len(digests) == 2 and set(digests) <= set(snapshotter(store)._complete)
        for run in runs:
            elsewhere.delete_run(run.id)
        sweeper = Snapshotter(elsewhere)
        sweeper.gc()
        sweeper.close()
        with pytest.raises(SnapshotNotFound):
            elsewhere.get_snapshot(digests[0])

        third = api.ActiveRun(store.create_run("e"), store)
        assert snapshot_values(third, "input", ["a", "b"], ns) == []
        for job in third.data_jobs:
            job.wait()
        linked = store.run_data(third.id)
        assert [d.name for d in linked] == ["a", "b"]  # in the order the cell read them
        assert all(d.snapshot.status is SnapshotStatus.COMPLETE for d in linked)
        restored = snapshotter(store).load(linked[0].snapshot.digest)
        np.testing.assert_array_equal(restored, ns["a"])
    finally:
        snapshotter(store).close()
        store.close()
        elsewhere.close()
