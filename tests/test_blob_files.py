"""Batches of blobs written with one durability barrier, and copies staged while hashing.

Each test runs against a real local folder. The batch is checked both ways it makes blobs
durable: ``syncfs`` (Linux) and the fsync per file and folder other systems get.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import write_artifact
from jupyter_mltrack.snapshots.fingerprint import cached_file_digest, clear_file_cache
from jupyter_mltrack.store import Store, blob_files
from jupyter_mltrack.store.blobs import LocalBlobStore, digest_bytes, digest_pieces


@pytest.fixture(params=["syncfs", "fsync"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> LocalBlobStore:
    if request.param == "fsync":  # as on a system without syncfs (macOS)
        monkeypatch.setattr(blob_files, "_libc", lambda: None)
    elif blob_files._libc() is None:
        pytest.skip("no syncfs here")
    return LocalBlobStore(tmp_path / "blobs")


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_batch_publishes_every_blob_read_only(store: LocalBlobStore, tmp_path: Path) -> None:
    payloads = [os.urandom(100 + i) for i in range(20)]
    paths = []
    for i, data in enumerate(payloads):
        p = tmp_path / f"f{i}"
        p.write_bytes(data)
        paths.append(str(p))
    items = [(digest_bytes(b), p) for b, p in zip(payloads, paths, strict=True)]
    items.append((digest_bytes(b"inline"), b"inline"))
    written = store.put_many(items, threads=4)
    assert written == [len(b) for b in payloads] + [6]
    for digest, _ in items:
        path = store.path_of(digest)
        assert path.stat().st_mode & 0o222 == 0
    assert [store.get_bytes(digest_bytes(b)) for b in payloads] == payloads
    assert len(files_in(store.root)) == 21  # no temp file left
    # again: nothing new, nothing written
    assert store.put_many(items, threads=4) == [0] * 21


def test_a_failed_batch_publishes_nothing_and_leaves_no_temp_file(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    good.write_bytes(b"good bytes")
    items = [(digest_bytes(b"good bytes"), str(good))]
    items += [(digest_bytes(bytes([i])), bytes([i])) for i in range(10)]
    items.append((digest_bytes(b"gone"), str(tmp_path / "gone")))  # removed before the copy
    with pytest.raises(FileNotFoundError):
        store.put_many(items, threads=3)
    assert files_in(store.root) == []


def test_a_failed_barrier_publishes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if blob_files._libc() is None:
        pytest.skip("no syncfs here")
    store = LocalBlobStore(tmp_path / "blobs")
    monkeypatch.setattr(blob_files, "syncfs", lambda path: False)
    items = [(digest_bytes(bytes([i])), bytes([i])) for i in range(blob_files.SYNCFS_FROM)]
    with pytest.raises(OSError, match="could not flush"):
        store.put_many(items, threads=2)
    assert files_in(store.root) == []


def test_a_staged_copy_is_published_or_dropped(store: LocalBlobStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    payload = os.urandom(3 << 20)
    src.write_bytes(payload)
    st = src.stat()
    digest = digest_bytes(payload)

    dropped = store.stage_file(str(src)).expect(st.st_size, st.st_mtime_ns)
    dropped.discard()  # the store had the bytes: the copy stops, and goes
    assert files_in(store.root) == []

    staged = store.stage_file(str(src)).expect(st.st_size, st.st_mtime_ns)
    assert store.put_many([(digest, staged)], threads=2) == [len(payload)]
    assert store.get_bytes(digest) == payload
    assert files_in(store.root) == [store.path_of(digest)]
    assert store.path_of(digest).stat().st_ino != src.stat().st_ino


def test_a_staged_copy_of_a_file_that_changed_is_never_stored(tmp_path: Path) -> None:
    """A copy that may not hold the bytes hashed (the file was rewritten after its digest
    was taken, or cannot be read) is refused: no blob is published under that digest."""
    store = LocalBlobStore(tmp_path / "blobs")
    src = tmp_path / "data.bin"
    src.write_bytes(b"a" * 1000)
    hashed = src.stat()
    digest = digest_bytes(b"a" * 1000)
    src.write_bytes(b"b" * 1001)  # rewritten after it was hashed
    staged = store.stage_file(str(src)).expect(hashed.st_size, hashed.st_mtime_ns)
    assert staged.result() is None
    with pytest.raises(OSError, match="changed while it was logged"):
        store.put_many([(digest, staged)], threads=1)
    missing = store.stage_file(str(tmp_path / "nothing")).expect(0, 0)
    assert missing.result() is None
    missing.discard()
    assert files_in(store.root) == []


def test_a_cancelled_copy_stops_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    def no_clone(*args: object) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", no_clone)  # a reflink is whole at once
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(blob_files.CHUNK * 8 * 3))
    cancelled = blob_files.threading.Event()
    with open(src, "rb") as s, open(dst, "wb") as d:
        assert blob_files.copy_into(s.fileno(), d.fileno(), cancelled) == src.stat().st_size
    cancelled.set()
    with open(src, "rb") as s, open(dst, "wb") as d:
        assert blob_files.copy_into(s.fileno(), d.fileno(), cancelled) == 0


@pytest.fixture
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A SQLite store with local blobs, where files from 1 MB on are staged."""
    monkeypatch.setattr(artifacts, "STAGE_FROM", 1 << 20)
    st = Store(f"sqlite:///{tmp_path / 'mltrack.db'}", blob_url=(tmp_path / "blobs").as_uri())
    yield st
    st.close()


def test_a_large_file_is_copied_while_hashed_and_dropped_when_stored(
    local_store: Store, tmp_path: Path
) -> None:
    src = tmp_path / "model.bin"
    payload = os.urandom(3 << 20)
    src.write_bytes(payload)
    clear_file_cache()
    run = local_store.create_run("exp")
    first = write_artifact(local_store, run.id, "model.bin", "file", artifacts.sources_of(src)[2])
    assert first.meta["stored_bytes"] == len(payload)
    assert artifacts.read_bytes(local_store, first) == payload
    assert cached_file_digest(src) == digest_bytes(payload)
    root = Path(local_store.blobs.root)  # type: ignore[attr-defined]
    assert len(files_in(root)) == 1

    clear_file_cache()  # as a new process: the digest is not known, so a copy is staged
    again = write_artifact(local_store, run.id, "again.bin", "file", artifacts.sources_of(src)[2])
    assert again.meta["stored_bytes"] == 0
    deadline = time.monotonic() + 30  # the staged copy is removed by a thread of its own
    while len(files_in(root)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(files_in(root)) == 1  # the staged copy was dropped


def test_a_large_file_rewritten_while_logged_fails_the_log_and_stores_nothing(
    local_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file changes between its hashing and the end of its copy: the log fails with
    a clear error, and no blob holds bytes its name is not the digest of."""
    src = tmp_path / "model.bin"
    src.write_bytes(b"x" * (2 << 20))
    clear_file_cache()
    real, real_copy = artifacts._describe_all, blob_files.copy_into
    rewritten = threading.Event()

    def copy_after_the_rewrite(*args: object, **kwargs: object) -> int:
        rewritten.wait(30)
        return real_copy(*args, **kwargs)  # type: ignore[arg-type]

    def hash_then_rewrite(*args: object) -> object:
        out = real(*args)  # type: ignore[arg-type]
        src.write_bytes(b"y" * (3 << 20))
        rewritten.set()
        return out

    monkeypatch.setattr(blob_files, "copy_into", copy_after_the_rewrite)
    monkeypatch.setattr(artifacts, "_describe_all", hash_then_rewrite)
    monkeypatch.setattr(artifacts, "RETRY_PAUSES", ())  # one try: its refusal
    run = local_store.create_run("exp")
    with pytest.raises(OSError, match="changed while it was logged"):
        write_artifact(local_store, run.id, "model.bin", "file", artifacts.sources_of(src)[2])
    assert local_store.list_artifacts(run.id) == []
    root = Path(local_store.blobs.root)  # type: ignore[attr-defined]
    assert files_in(root) == []


def test_a_file_rewritten_right_after_its_hash_is_never_stored_under_it(
    local_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file of a few MB is hashed, then copied (not staged: see the test above);
    rewritten in between at every try, it is refused, nothing is recorded, and no blob
    holds bytes other than its name's. (Before, its new bytes were stored under the old
    digest.)"""
    monkeypatch.setattr(artifacts, "STAGE_FROM", 1 << 40)
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(2 << 20))
    clear_file_cache()
    real = artifacts._describe_all

    def hash_then_rewrite(*args: object) -> object:
        out = real(*args)  # type: ignore[arg-type]
        src.write_bytes(os.urandom(2 << 20))  # same size, new bytes, a later mtime
        return out

    monkeypatch.setattr(artifacts, "_describe_all", hash_then_rewrite)
    run = local_store.create_run("exp")
    with pytest.raises(blob_files.FileChanged, match="changed each of the 3 times"):
        write_artifact(local_store, run.id, "model.bin", "file", artifacts.sources_of(src)[2])
    assert local_store.list_artifacts(run.id) == []
    assert files_in(Path(local_store.blobs.root)) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("stage_from", [1 << 40, 1 << 20], ids=["copied", "staged"])
def test_a_file_that_changed_once_under_the_log_is_stored_as_it_is_next(
    stage_from: int, local_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rewritten once while it is logged (a log still being written now and then):
    the next try hashes it anew and stores it, under the digest of the bytes stored."""
    monkeypatch.setattr(artifacts, "STAGE_FROM", stage_from)
    src = tmp_path / "train.log"
    src.write_bytes(os.urandom(2 << 20))
    clear_file_cache()
    real, tries = artifacts._describe_all, []

    def hash_then_rewrite_once(*args: object) -> object:
        out = real(*args)  # type: ignore[arg-type]
        if not tries:
            src.write_bytes(src.read_bytes() + b"one more line\n")
        tries.append(1)  # (the copies start from here: after the rewrite)
        return out

    real_copy = blob_files.copy_into

    def copy_late(*args: object, **kwargs: object) -> int:  # after the rewrite, staged too
        while not tries:
            time.sleep(0.001)
        return real_copy(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(artifacts, "_describe_all", hash_then_rewrite_once)
    monkeypatch.setattr(blob_files, "copy_into", copy_late)
    run = local_store.create_run("exp")
    art = write_artifact(local_store, run.id, "train.log", "file", artifacts.sources_of(src)[2])
    assert len(tries) == 2
    stored = local_store.blobs.get_bytes(art.files[0].digest)
    assert stored == src.read_bytes() and digest_bytes(stored) == art.files[0].digest


def test_a_hashed_file_changed_before_or_during_its_copy_is_refused(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    """``put_file`` and a batch take a ``HashedFile`` only while it is the file hashed."""
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(3000))
    st = src.stat()
    hashed = blob_files.HashedFile(str(src), st.st_size, st.st_mtime_ns)
    digest = digest_bytes(src.read_bytes())
    src.write_bytes(os.urandom(3000))
    with pytest.raises(OSError, match="changed after it was hashed"):
        store.put_file(digest, hashed)
    with pytest.raises(OSError, match="changed after it was hashed"):
        store.put_many([(digest, hashed)], threads=2)
    assert not store.root.exists() or files_in(store.root) == []
    fresh = src.stat()  # the file as it is now, hashed again: stored
    now = blob_files.HashedFile(str(src), fresh.st_size, fresh.st_mtime_ns)
    assert store.put_file(digest_bytes(src.read_bytes()), now) == 3000


@pytest.mark.parametrize("way", ["renameat2", "link"])
def test_publish_never_replaces_a_blob(
    way: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temp file takes a free name and is gone; a taken name is left alone, and so is the
    temp file (its caller removes it), whichever primitive the system has."""
    if way == "link":
        monkeypatch.setattr(blob_files, "_libc", lambda: None)
    elif blob_files._libc() is None or not hasattr(blob_files._libc(), "renameat2"):
        pytest.skip("no renameat2 here")
    tmp, final = tmp_path / ".tmp-1", tmp_path / "blob"
    tmp.write_bytes(b"new")
    assert blob_files.publish(str(tmp), str(final)) is True
    assert final.read_bytes() == b"new" and not tmp.exists()
    tmp.write_bytes(b"other")
    assert blob_files.publish(str(tmp), str(final)) is False
    assert final.read_bytes() == b"new" and tmp.read_bytes() == b"other"
    with pytest.raises(FileNotFoundError):
        blob_files.publish(str(tmp_path / "missing"), str(tmp_path / "elsewhere"))


def test_pieces_are_stored_as_their_concatenation(store: LocalBlobStore) -> None:
    """A pack is given as its files' bytes, not joined: more pieces than one ``writev``
    takes (``IOV_MAX``), empty ones among them, stored as one blob named by their whole."""
    pieces = [os.urandom(i % 7) for i in range(3 * blob_files._IOV_MAX + 5)]
    whole = b"".join(pieces)
    digest = digest_pieces(pieces)
    assert digest == digest_bytes(whole)
    assert bytes(blob_files.Pieces(pieces)) == whole  # what a remote store sends
    assert store.put_many([(digest, blob_files.Pieces(pieces))], threads=2) == [len(whole)]
    assert store.get_bytes(digest) == whole


def test_pieces_carry_on_after_a_short_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``writev`` may write less than asked (a signal, a full pipe): the rest follows from
    where it stopped, mid-piece or not."""
    real = os.writev
    calls = []

    def short(fd: int, buffers: list[memoryview]) -> int:  # at most 5 bytes a call
        calls.append(len(buffers))
        return real(fd, [bytes(buffers[0][:5])])

    monkeypatch.setattr(os, "writev", short)
    pieces = [b"abcdefghijkl", b"", b"mn", os.urandom(23), b"z"]
    target = tmp_path / "out"
    fd = os.open(target, os.O_CREAT | os.O_WRONLY)
    try:
        assert blob_files.write_pieces(fd, pieces) == sum(map(len, pieces))
    finally:
        os.close(fd)
    assert target.read_bytes() == b"".join(pieces)
    assert len(calls) > len(pieces)  # the writes were short


def test_a_write_that_writes_nothing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "writev", lambda fd, buffers: 0)
    fd = os.open(tmp_path / "out", os.O_CREAT | os.O_WRONLY)
    try:
        with pytest.raises(OSError, match="wrote nothing"):
            blob_files.write_pieces(fd, [b"abc"])
    finally:
        os.close(fd)
