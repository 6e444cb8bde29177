"""Folder versions of datasets, and the local cache of a remote (S3) store's blobs.

A folder pushed as a dataset is a folder snapshot named by its canonical manifest (paths,
sizes, digests; not mtimes): the same content has the same hash in any store; ``get``
restores it exactly (a read-only cached folder, or writable copies where asked); ``browse``
lists its files from the record; ``diff`` lists added, removed and changed files; ``gc``
keeps its files' blobs while it is used and frees them after; ``copy_snapshot`` copies it
between stores. From an S3 store, a second ``get`` reads nothing remote: shown by stopping
the S3 server before it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xxhash

import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import data
from jupyter_mltrack.datasets.api import push_with
from jupyter_mltrack.snapshots.errors import SnapshotError
from jupyter_mltrack.snapshots.folders import folder_manifest
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.dataset_records import version_hash
from jupyter_mltrack.store.transfer import copy_snapshot

from .process_store import use_store, using_store
from .s3 import s3_server, use_s3


@pytest.fixture
def ds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The process's store (what ``mltrack.datasets`` uses): SQLite, local blobs."""
    yield from use_store(monkeypatch, Store(str(tmp_path / "store")))


def make_folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative posix path, with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


IMAGES = {
    "a.txt": b"alpha\n",
    "cats/1.png": b"\x89PNG cat one",
    "cats/2.png": b"\x89PNG cat two",
    "dogs/deep/3.png": b"\x89PNG dog" * 1000,
    "same.txt": b"alpha\n",  # the same bytes as a.txt: one blob
}


def test_a_folder_is_a_version_named_by_its_manifest(ds: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "images", IMAGES)
    v1 = mltrack.datasets.push(folder, "team/images", message="first")
    assert v1.kind == "folder" and v1.nbytes == sum(len(b) for b in IMAGES.values())
    # the definition: xxh3-128 of the canonical JSON of the sorted (path, size, digest)s
    entries = [
        {"digest": "xxh3-128:" + xxhash.xxh3_128(b).hexdigest(), "path": p, "size": len(b)}
        for p, b in sorted(IMAGES.items())
    ]
    body = json.dumps({"files": entries, "format": "mltrack-folder/1"}, separators=(",", ":"))
    assert v1.snapshot_digest == "xxh3-128:" + xxhash.xxh3_128(body.encode()).hexdigest()
    assert folder_manifest([(e["path"], e["digest"], e["size"]) for e in entries]) == body.encode()
    assert v1.hash == version_hash(v1.snapshot_digest, None)

    # unchanged, even touched: no new version
    for p in folder.rglob("*"):
        os.utime(p, (1, 1))
    again = push_with(ds, data.snapshotter(ds), folder, "team/images")
    assert again == (v1, False)
    # the same content elsewhere, under another name, into another store: the same hash
    copy = shutil.copytree(folder, tmp_path / "elsewhere" / "pics")
    other = Store(str(tmp_path / "other"))
    sn = Snapshotter(other)
    try:
        there, created = push_with(other, sn, copy, "x/pics")
    finally:
        sn.close()
        other.close()
    assert created and there.hash == v1.hash

    # get: a read-only folder under the cache, exactly the files; or writable copies
    got = mltrack.datasets.get("team/images")
    assert isinstance(got, Path) and tree(got) == IMAGES
    assert got.is_relative_to(tmp_path / "cache")  # MLTRACK_CACHE_DIR (tests/conftest.py)
    assert mltrack.datasets.get(v1.ref) == got  # built once
    dest = mltrack.datasets.get("team/images", tmp_path / "out")
    assert dest == tmp_path / "out" and tree(dest) == IMAGES
    (dest / "a.txt").write_bytes(b"edited")  # a copy: the store and the cache are intact
    (got / "cats" / "1.png").unlink()  # a damaged cache folder is rebuilt
    assert tree(mltrack.datasets.get("team/images")) == IMAGES
    with pytest.raises(SnapshotError, match="not an empty folder"):
        mltrack.datasets.get("team/images", dest)

    # browse: the files from the record
    shown = mltrack.datasets.browse("team/images")
    assert [(f["path"], f["size"]) for f in shown.files] == [
        (p, len(b)) for p, b in sorted(IMAGES.items())
    ]
    assert "5 files" in str(shown) and "dogs/deep/3.png" in str(shown)
    assert shown.to_dict()["files"] == shown.files

    # a second version: one added, one removed, one changed
    (folder / "cats" / "2.png").unlink()
    (folder / "cats" / "3.png").write_bytes(b"\x89PNG cat three")
    (folder / "a.txt").write_bytes(b"alpha, edited\n")
    v2 = mltrack.datasets.push(folder, "team/images", tag="v2")
    assert v2.hash != v1.hash
    d = mltrack.datasets.diff(v1.ref, "team/images@v2")
    assert d["folder"]["added"] == ["cats/3.png"]
    assert d["folder"]["removed"] == ["cats/2.png"]
    assert d["folder"]["changed"] == [{"path": "a.txt", "a_size": 6, "b_size": 14}]
    assert d["folder"]["unchanged"] == 3
    assert "1 added, 1 removed, 1 changed" in d.summary()
    assert "+ cats/3.png" in str(d) and "~ a.txt" in str(d)
    assert "<td>cats/2.png</td><td>removed</td>" in d._repr_html_()
    assert tree(mltrack.datasets.get(v1.ref)) == IMAGES  # the old version is intact


def test_a_file_version_is_got_as_a_path_or_into_a_destination(ds: Store, tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_bytes(b"a,b\n1,2\n")
    mltrack.datasets.push(tmp_path / "raw.csv", "t/raw")
    path = mltrack.datasets.get("t/raw")
    assert isinstance(path, Path) and path.read_bytes() == b"a,b\n1,2\n"
    (tmp_path / "into").mkdir()
    into = mltrack.datasets.get("t/raw", tmp_path / "into")
    assert into == tmp_path / "into" / "raw.csv" and into.read_bytes() == b"a,b\n1,2\n"
    named = mltrack.datasets.get("t/raw", tmp_path / "renamed.csv")
    assert named.read_bytes() == b"a,b\n1,2\n"
    mltrack.datasets.push(pd.DataFrame({"x": [1]}), "t/frame")
    with pytest.raises(SnapshotError, match="'dest' is for file and folder versions"):
        mltrack.datasets.get("t/frame", tmp_path / "frame")


def test_gc_keeps_a_folders_blobs_while_it_is_used(ds: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "f", {"k.bin": b"kept", "shared.bin": b"both"})
    lone = make_folder(tmp_path / "g", {"gone.bin": b"unused", "shared.bin": b"both"})
    version = mltrack.datasets.push(folder, "team/f")
    sn = data.snapshotter(ds)
    unused = sn.snapshot(lone).wait()  # no run, no version, not pinned: swept
    blobs = ds.blobs
    digest = {p: "xxh3-128:" + xxhash.xxh3_128(b).hexdigest() for p, b in tree(lone).items()}
    report = sn.gc()
    assert report["snapshots"] == [unused.digest]
    assert not blobs.has(digest["gone.bin"])  # only the unused folder's own file went
    assert blobs.has(digest["shared.bin"])  # still a file of the version
    assert tree(mltrack.datasets.get(version.ref)) == tree(folder)


def test_copy_snapshot_copies_a_folder_and_its_files(ds: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "f", IMAGES)
    sn = data.snapshotter(ds)
    snap = sn.snapshot(folder).wait()
    dst = Store(str(tmp_path / "dst"))
    try:
        assert copy_snapshot(ds, dst, snap.digest)
        copied = dst.get_snapshot(snap.digest)
        assert copied.kind == "folder" and copied.layout == snap.layout
        there = Snapshotter(dst)
        try:
            out = there.restore_folder(snap.digest, tmp_path / "restored")
        finally:
            there.close()
        assert tree(out) == IMAGES
        assert copy_snapshot(ds, dst, snap.digest)  # again: already there
        assert sorted(dst.blobs.iter_digests()) == sorted(ds.blobs.iter_digests())
    finally:
        dst.close()


def test_a_folder_snapshot_with_a_path_outside_itself_is_refused(ds: Store, tmp_path: Path) -> None:
    """A record copied from another store names where its files go: never outside."""
    sn = data.snapshotter(ds)
    snap = sn.snapshot(make_folder(tmp_path / "f", {"a": b"x"})).wait()
    bad = snap.layout["files"][0][1]
    digest = "xxh3-128:" + uuid.uuid4().hex
    ds.add_snapshot(
        digest=digest,
        kind="folder",
        rows=None,
        columns=None,
        nbytes=1,
        schema={},
        layout={"format": "mltrack-folder/1", "files": [["../escape", bad, 1]]},
    )
    ds.complete_snapshot(digest)
    with pytest.raises(SnapshotError, match="not a relative path"):
        sn.restore_folder(digest, tmp_path / "out")
    assert not (tmp_path / "escape").exists()


# the cache of a remote store ---------------------------------------------------------------


def test_a_second_get_from_s3_reads_the_local_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions of each kind pushed to S3; the first ``get`` fills the cache; with the S3
    server stopped, the second ``get`` of each still gives the data back exactly."""
    pytest.importorskip("s3fs")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.random(50_000), "k": rng.integers(0, 9, 50_000)})
    folder = make_folder(tmp_path / "images", IMAGES)
    (tmp_path / "raw.csv").write_bytes(b"a,b\n1,2\n")
    with contextlib.ExitStack() as stack:  # the store outlives the server
        with s3_server() as endpoint:
            bucket = use_s3(monkeypatch, endpoint)
            st = Store(f"sqlite:///{tmp_path / 'db' / 'mltrack.db'}", blob_url=f"s3://{bucket}/t")
            stack.enter_context(using_store(monkeypatch, st))
            mltrack.datasets.push(df, "team/frame")
            mltrack.datasets.push(tmp_path / "raw.csv", "team/raw")
            mltrack.datasets.push(folder, "team/images")
            assert not (tmp_path / "cache").exists()  # pushing fills no cache
            pd.testing.assert_frame_equal(mltrack.datasets.get("team/frame"), df)
            first_raw = mltrack.datasets.get("team/raw")
            first_images = mltrack.datasets.get("team/images")
            # a folder snapshot copied from a local store to this one: its files land in S3
            local = Store(str(tmp_path / "local"))
            sn = Snapshotter(local)
            try:
                snap = sn.snapshot(make_folder(tmp_path / "more", {"x/y.txt": b"why"})).wait()
                assert copy_snapshot(local, st, snap.digest)
            finally:
                sn.close()
                local.close()
            copied = data.snapshotter(st).restore_folder(snap.digest, tmp_path / "from-s3")
            assert tree(copied) == {"x/y.txt": b"why"}
        # the server is stopped: any read from S3 would fail now
        pd.testing.assert_frame_equal(mltrack.datasets.get("team/frame"), df)
        raw = mltrack.datasets.get("team/raw")
        assert raw == first_raw and raw.read_bytes() == b"a,b\n1,2\n"
        images = mltrack.datasets.get("team/images")
        assert images == first_images and tree(images) == IMAGES
        assert tree(mltrack.datasets.get("team/images", tmp_path / "mine")) == IMAGES
