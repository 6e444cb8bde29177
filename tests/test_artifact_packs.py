"""Many small files of an artifact go to an S3 store (moto's server) as a few packs: a folder
of hundreds of files is a handful of PUTs and, read back, a handful of GETs; every file
comes back byte for byte; a second log (by another run, or an artifact sharing some of the
files) makes no request and points at the same bytes; a pack changed behind the store's
back fails the read, named; a pack is kept while any artifact names it; and a run pulled
into a local store brings its packs, where they read and are collected the same way. A
local store packs the same way: a few pack files, not one file each; read back as copies,
never links; a second log stores nothing; collected with the last artifact naming them.

Requests are counted as s3fs's client sends them (botocore's ``before-send`` event)."""

from __future__ import annotations

import collections
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mltrack.models import packs
from jupyter_mltrack.models.artifacts import (
    Source,
    materialize,
    read_bytes,
    sources_of,
    write_artifact,
)
from jupyter_mltrack.sharing import pull
from jupyter_mltrack.snapshots.fingerprint import clear_file_cache
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, Store, entities
from jupyter_mltrack.store.blobs import BlobNotFound, LocalBlobStore, digest_bytes
from jupyter_mltrack.store.entities import ArtifactFile

#: Small packs, so that a test folder of a few MB makes several.
PACK = 256 << 10


@pytest.fixture(autouse=True)
def small_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packs, "PACK_BYTES", PACK)


def make_folder(root: Path, files: int = 120, seed: int = 0) -> Path:
    """``files`` small files of 1-40 KB in three subfolders, two of them copies of another,
    an empty file, and two files over ``PACKED_SIZE`` (stored as blobs of their own)."""
    rng = random.Random(seed)
    for i in range(files):
        sub = root / f"part{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:03}.bin").write_bytes(rng.randbytes(rng.randint(1 << 10, 40 << 10)))
    (root / "copy-a.bin").write_bytes((root / "part0" / "f000.bin").read_bytes())
    (root / "part1" / "copy-b.bin").write_bytes((root / "part0" / "f000.bin").read_bytes())
    (root / "empty.txt").write_bytes(b"")
    for n in range(2):
        (root / f"big{n}.bin").write_bytes(rng.randbytes(packs.PACKED_SIZE + 1 + n))
    return root


def log_packed(store: Store, tmp_path: Path) -> tuple[entities.Artifact, ArtifactFile]:
    """A 40-file folder logged by a new run (its files packed), and one packed file of it
    that is not empty: what the tests of a pack changed behind the store's back break."""
    folder = make_folder(tmp_path / "eval", files=40)
    run = store.create_run("exp")
    logged = write_artifact(store, run.id, "eval", *sources_of(folder)[::2])
    return logged, next(f for f in logged.files if f.pack and f.size)


def same_files(a: Path, b: Path) -> bool:
    def listing(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    return listing(a) == listing(b)


def test_a_folder_of_small_files_goes_up_as_a_few_packs_and_comes_back_whole(
    s3_store: Store, s3_requests: collections.Counter[str], tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    kind, name, sources = sources_of(folder)
    run = s3_store.create_run("exp")
    small = {s.path: s for s in sources if os.path.getsize(s.file or "") <= packs.PACKED_SIZE}
    clear_file_cache()
    logged = write_artifact(s3_store, run.id, name, kind, sources)

    by_path = {f.path: f for f in logged.files}
    used = {f.pack for f in logged.files if f.pack}
    small_bytes = sum({f.digest: f.size for p, f in by_path.items() if p in small}.values())
    assert len(used) == -(-small_bytes // PACK) or len(used) == -(-small_bytes // PACK) + 1
    assert all(by_path[p].pack for p in small if by_path[p].size)  # (the empty one too)
    assert not by_path["big0.bin"].pack and not by_path["big1.bin"].pack
    # copies share their bytes: one place for one content
    assert by_path["copy-a.bin"].offset == by_path["part0/f000.bin"].offset
    assert by_path["copy-a.bin"].pack == by_path["part1/copy-b.bin"].pack
    # a PUT per pack, one per large file (checked unchanged since hashed, not asked for)
    assert dict(s3_requests) == {"PUT": len(used) + 2}
    distinct = {f.digest: f.size for f in logged.files}
    assert logged.meta["stored_bytes"] == sum(distinct.values())

    s3_requests.clear()
    again = s3_store.get_artifact(run.id, name)
    assert again.files == logged.files  # the rows say where the bytes are
    out = materialize(s3_store, again, tmp_path / "back", link=False)
    assert same_files(folder, out)
    # a GET per pack (its wanted bytes are contiguous), one per large file
    assert dict(s3_requests) == {"GET": len(used) + 2}

    s3_requests.clear()
    assert read_bytes(s3_store, again, "part2/f005.bin") == (folder / "part2/f005.bin").read_bytes()
    assert read_bytes(s3_store, again, "empty.txt") == b""
    assert (
        read_bytes(s3_store, again, "part1/f004.bin", limit=7)
        == (folder / "part1/f004.bin").read_bytes()[:7]
    )
    assert s3_requests["GET"] == 2  # a range of the pack for each non-empty file


def test_a_second_log_makes_no_request_and_points_at_the_same_bytes(
    s3_store: Store, s3_requests: collections.Counter[str], tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    runs = [s3_store.create_run("exp").id for _ in range(3)]
    logged = write_artifact(s3_store, runs[0], "eval", *sources_of(folder)[::2])

    s3_requests.clear()
    clear_file_cache()  # as a new process: every file hashed again
    again = write_artifact(s3_store, runs[1], "eval", *sources_of(folder)[::2])
    assert dict(s3_requests) == {} and again.meta["stored_bytes"] == 0
    assert again.files == logged.files

    # another folder: half of the same files, and new ones, packed anew
    other = tmp_path / "other"
    other.mkdir()
    kept = sorted((folder / "part0").iterdir())[:20]
    for p in kept:
        (other / p.name).write_bytes(p.read_bytes())
    rng = random.Random(7)
    for i in range(packs.PACK_FROM):
        (other / f"new{i}.bin").write_bytes(rng.randbytes(4000 + i))
    s3_requests.clear()
    mixed = write_artifact(s3_store, runs[2], "other", *sources_of(other)[::2])
    before = {f.digest: (f.pack, f.offset) for f in logged.files}
    for f in mixed.files:
        if f.path.startswith("new"):
            assert f.pack and f.pack not in {p for p, _ in before.values()}
        else:
            assert (f.pack, f.offset) == before[f.digest]
    assert dict(s3_requests) == {"PUT": 1}  # the new files' one pack
    assert mixed.meta["stored_bytes"] == sum(4000 + i for i in range(packs.PACK_FROM))
    assert same_files(other, materialize(s3_store, mixed, tmp_path / "mixed", link=False))


def test_fewer_small_files_than_a_pack_needs_are_blobs_of_their_own(
    s3_store: Store, s3_requests: collections.Counter[str]
) -> None:
    run = s3_store.create_run("exp")
    sources = [Source(f"f{i}", data=os.urandom(50)) for i in range(packs.PACK_FROM - 1)]
    logged = write_artifact(s3_store, run.id, "few", "folder", sources)
    assert not any(f.pack for f in logged.files)
    assert dict(s3_requests) == {"PUT": packs.PACK_FROM - 1}


def test_a_pack_changed_or_removed_behind_the_stores_back_fails_the_read(
    s3_store: Store, tmp_path: Path
) -> None:
    logged, f = log_packed(s3_store, tmp_path)
    blobs = s3_store.blobs
    bucket, key = blobs._key(f.pack)  # type: ignore[attr-defined]
    data = bytearray(blobs.get_bytes(f.pack))
    data[f.offset] ^= 0xFF  # type: ignore[index]
    blobs.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=bytes(data))  # type: ignore[attr-defined]
    with pytest.raises(BlobNotFound, match="changed outside mltrack"):
        read_bytes(s3_store, logged, f.path)
    with pytest.raises(BlobNotFound, match=f"artifact 'eval' of run {logged.run_id}"):
        materialize(s3_store, logged, tmp_path / "back", link=False)
    blobs.fs.call_s3("delete_object", Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    with pytest.raises(BlobNotFound, match=f"pack {f.pack}"):
        read_bytes(s3_store, logged, f.path)


def test_a_file_changed_between_its_hash_and_its_pack_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"as hashed")
    hashed = ArtifactFile("f.bin", digest_bytes(b"as hashed"), 9)
    path.write_bytes(b"rewritten")
    with pytest.raises(OSError, match="changed after it was hashed"):
        packs.write_packs(
            LocalBlobStore(tmp_path / "blobs"), [hashed], {hashed.digest: str(path)}, 1
        )


def test_a_pack_is_kept_while_an_artifact_names_it(s3_store: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "eval", files=40)
    a, b = s3_store.create_run("exp"), s3_store.create_run("exp")
    first = write_artifact(s3_store, a.id, "eval", *sources_of(folder)[::2])
    write_artifact(s3_store, b.id, "eval", *sources_of(folder)[::2])
    pack = next(f.pack for f in first.files if f.pack)
    assert pack in s3_store.artifact_blobs() and s3_store.artifact_blob_in_use(pack)
    s3_store.delete_artifact(a.id, "eval")
    assert s3_store.artifact_blob_in_use(pack)  # run b's names it still
    s3_store.delete_artifact(b.id, "eval")
    assert not s3_store.artifact_blob_in_use(pack) and pack not in s3_store.artifact_blobs()


def test_a_run_pulled_into_a_local_store_brings_its_packs(s3_store: Store, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "eval", files=40)
    run = s3_store.create_run("exp")
    logged = write_artifact(s3_store, run.id, "eval", *sources_of(folder)[::2])
    s3_store.finish_run(run.id, RunStatus.FINISHED)
    used = {f.pack for f in logged.files if f.pack}

    local = Store(f"sqlite:///{tmp_path / 'laptop.db'}", blob_url=str(tmp_path / "blobs"))
    try:
        report = pull(local, s3_store)
        assert report.blobs_sent == len(used) + 2  # the packs and the two large files
        pulled = local.get_artifact(run.id, "eval")
        assert pulled.files == logged.files
        assert all(local.blobs.has(p) for p in used)
        out = materialize(local, pulled, tmp_path / "linked", link=True)  # packed: copies
        assert same_files(folder, out)
        assert pull(local, s3_store).blobs_sent == 0  # nothing new the second time

        sn = Snapshotter(local)
        try:
            assert sn.gc()["orphans"] == 0 and all(local.blobs.has(p) for p in used)
            local.delete_run(run.id)
            sn.gc()
            assert not any(local.blobs.has(p) for p in used)  # collected with their run
        finally:
            sn.close()
    finally:
        local.close()


def test_packs_are_cut_at_their_size_and_built_a_wave_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pack closes before the file that would take it past ``PACK_BYTES``; packs are
    built and written ``WAVE_BYTES`` of files at a time (what a folder holds in memory);
    every file reads back from where it was placed."""
    monkeypatch.setattr(packs, "PACK_BYTES", 2000)
    monkeypatch.setattr(packs, "WAVE_BYTES", 5000)
    blobs = LocalBlobStore(tmp_path / "blobs")
    data = [os.urandom(900 + i) for i in range(20)]
    files = [ArtifactFile(f"f{i}", digest_bytes(d), len(d)) for i, d in enumerate(data)]
    waves: list[int] = []
    real = blobs.put_many

    def counted(items: list, threads: int, *, check: bool = True) -> list[int]:
        waves.append(len(items))
        return real(items, threads, check=check)

    monkeypatch.setattr(blobs, "put_many", counted)
    where, sent = packs.write_packs(
        blobs, files, {f.digest: d for f, d in zip(files, data, strict=True)}, 4
    )
    assert waves == [3, 3, 3, 3]  # 5 files a wave: packs of 2, 2 and 1
    assert sent == sum(len(d) for d in data)
    placed = entities.placed(files, where)
    assert len({f.pack for f in placed}) == 12
    for f, d in zip(placed, data, strict=True):
        assert packs.read_packed(blobs, f) == d


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'local.db'}", blob_url=str(tmp_path / "blobs"))
    yield st
    st.close()


def blob_files(store: Store) -> set[str]:
    """The blobs a local store holds, as files (temp files excluded)."""
    return set(store.blobs.iter_digests())  # type: ignore[attr-defined]


def test_a_local_folder_of_small_files_is_a_few_pack_files_read_back_as_copies(
    local_store: Store, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    run = local_store.create_run("exp")
    clear_file_cache()
    logged = write_artifact(local_store, run.id, "eval", *sources_of(folder)[::2])

    used = {f.pack for f in logged.files if f.pack}
    big = {f.digest for f in logged.files if f.path.startswith("big")}
    assert len(used) >= 2 and all(f.pack for f in logged.files if f.size <= packs.PACKED_SIZE)
    assert blob_files(local_store) == used | big  # a file per pack, not per small file
    distinct = {f.digest: f.size for f in logged.files}
    assert logged.meta["stored_bytes"] == sum(distinct.values())

    linked = materialize(local_store, logged, tmp_path / "linked", link=True)
    assert same_files(folder, linked)
    store_path = local_store.blobs.file_path  # type: ignore[attr-defined]
    for f in logged.files:
        out = linked / f.path
        if f.pack:  # a copy: writing to it cannot reach the store's bytes
            assert out.stat().st_nlink == 1
        else:  # a large file is still a hard link to its blob
            assert os.path.samefile(out, store_path(f.digest))
    (linked / "part0" / "f000.bin").write_bytes(b"edited")
    again = materialize(local_store, logged, tmp_path / "copied", link=False)
    assert same_files(folder, again)
    assert (
        read_bytes(local_store, logged, "part2/f005.bin")
        == (folder / "part2" / "f005.bin").read_bytes()
    )


def test_a_second_local_log_stores_nothing_and_a_lone_copy_of_a_packed_file_neither(
    local_store: Store, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    runs = [local_store.create_run("exp").id for _ in range(3)]
    logged = write_artifact(local_store, runs[0], "eval", *sources_of(folder)[::2])
    held = blob_files(local_store)

    clear_file_cache()  # as a new process: every file hashed again
    again = write_artifact(local_store, runs[1], "eval", *sources_of(folder)[::2])
    assert again.meta["stored_bytes"] == 0 and again.files == logged.files

    # one file with the bytes of a packed one: the pack's range, not a blob of its own
    lone = folder / "part1" / "f004.bin"
    single = write_artifact(local_store, runs[2], "lone.bin", *sources_of(lone)[::2])
    packed = next(f for f in logged.files if f.path == "part1/f004.bin")
    assert single.meta["stored_bytes"] == 0
    assert (single.file().pack, single.file().offset) == (packed.pack, packed.offset)
    assert read_bytes(local_store, single) == lone.read_bytes()
    assert blob_files(local_store) == held


def test_a_local_pack_is_collected_with_the_last_artifact_naming_it(
    local_store: Store, tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval", files=40)
    a, b = local_store.create_run("exp"), local_store.create_run("exp")
    first = write_artifact(local_store, a.id, "eval", *sources_of(folder)[::2])
    write_artifact(local_store, b.id, "eval", *sources_of(folder)[::2])
    used = {f.pack for f in first.files if f.pack}
    sn = Snapshotter(local_store)
    try:
        assert sn.gc()["orphans"] == 0
        local_store.delete_run(a.id)
        sn.gc()
        assert used <= blob_files(local_store)  # run b's artifact names them still
        out = materialize(local_store, local_store.get_artifact(b.id, "eval"), tmp_path / "b")
        assert same_files(folder, out)
        local_store.delete_run(b.id)
        sn.gc()
        assert not blob_files(local_store)
    finally:
        sn.close()


def test_a_local_pack_removed_by_hand_fails_the_read_naming_it(
    local_store: Store, tmp_path: Path
) -> None:
    logged, f = log_packed(local_store, tmp_path)
    assert f.pack is not None
    path = local_store.blobs.path_of(f.pack)  # type: ignore[attr-defined]
    os.chmod(path, 0o644)
    os.unlink(path)
    with pytest.raises(BlobNotFound, match=f"pack {f.pack}"):
        read_bytes(local_store, logged, f.path)
    with pytest.raises(BlobNotFound, match=f"artifact 'eval' of run {logged.run_id}"):
        materialize(local_store, logged, tmp_path / "back")
