"""The content-addressed blob store: atomic, write-once, safe names, copies not links."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from jupyter_mltrack.store import blobs
from jupyter_mltrack.store.blobs import (
    BlobNotFound,
    FsspecBlobStore,
    LocalBlobStore,
    blob_store_for,
    digest_bytes,
    validate_digest,
)


def d(data: bytes) -> str:
    return digest_bytes(data)


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_put_get_and_layout(store: LocalBlobStore) -> None:
    data = b"hello blocks"
    digest = d(data)
    assert not store.has(digest)
    assert store.put_bytes(digest, data) == len(data)
    assert store.has(digest)
    assert store.get_bytes(digest) == data
    with store.open(digest) as fh:
        assert fh.read() == data
    assert store.size(digest) == len(data)
    hexpart = digest.split(":")[1]
    path = store.root / "xxh3-128" / hexpart[:2] / hexpart  # one fan-out level
    assert store.path_of(digest) == path
    assert path.is_file()
    assert path.stat().st_mode & 0o777 == 0o444
    assert list(store.iter_digests()) == [digest]
    assert store.total_bytes() == len(data)


def test_second_put_writes_nothing_and_does_not_rewrite(store: LocalBlobStore) -> None:
    data = b"x" * 1000
    digest = d(data)
    assert store.put_bytes(digest, data) == 1000
    before = store.path_of(digest).stat()
    assert store.put_bytes(digest, data) == 0
    assert store.put_bytes(digest, b"something else entirely") == 0
    after = store.path_of(digest).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert store.get_bytes(digest) == data


def test_blobs_of_the_two_level_layout_are_read_listed_and_deleted_in_place(
    store: LocalBlobStore, tmp_path: Path
) -> None:
    """A store written before one fan-out level keeps its blobs where they are: read,
    found, listed, linked, counted, deleted there; the same bytes are never written again;
    new blobs go to the one-level path beside them."""
    old, new = b"written before" * 100, b"written after" * 100
    hexpart = d(old).split(":")[1]
    legacy = store.root / "xxh3-128" / hexpart[:2] / hexpart[2:4] / hexpart
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(old)
    legacy.chmod(0o444)
    assert store.has(d(old)) and store.path_of(d(old)) == legacy
    assert store.get_bytes(d(old)) == old and store.size(d(old)) == len(old)
    assert store.read_range(d(old), 5, 4) == old[5:9]
    src = tmp_path / "same.bin"
    src.write_bytes(old)
    assert store.put_file(d(old), src) == 0 and store.put_bytes(d(old), old) == 0
    assert store.put_many([(d(old), old), (d(new), new)], threads=2) == [0, len(new)]
    assert not os.path.exists(store.new_path(d(old)))  # not copied to the new layout
    assert store.path_of(d(new)) == Path(store.new_path(d(new)))
    assert sorted(store.iter_digests()) == sorted([d(old), d(new)])
    assert store.total_bytes() == len(old) + len(new)
    assert store.delete(d(old)) is True and not legacy.exists()
    assert not store.has(d(old)) and list(store.iter_digests()) == [d(new)]


def test_missing_blob(store: LocalBlobStore) -> None:
    digest = d(b"absent")
    with pytest.raises(BlobNotFound):
        store.open(digest)
    with pytest.raises(BlobNotFound):
        store.size(digest)
    assert store.delete(digest) is False
    assert list(store.iter_digests()) == []
    assert store.total_bytes() == 0


def test_delete(store: LocalBlobStore) -> None:
    a, b = b"a" * 10, b"b" * 20
    store.put_bytes(d(a), a)
    store.put_bytes(d(b), b)
    assert store.delete(d(a)) is True
    assert not store.has(d(a))
    assert list(store.iter_digests()) == [d(b)]
    assert store.total_bytes() == 20
    # A deleted blob can be stored again (gc then a later snapshot of the same data).
    assert store.put_bytes(d(a), a) == 10


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "xxh3-128",
        "xxh3-128:",
        "xxh3-128:../../../../etc/passwd",
        "xxh3-128:" + "A" * 32,  # uppercase: one content must have one name
        "xxh3-128:" + "0" * 31,
        "xxh3-128:" + "0" * 32 + "/x",
        "xxh3-128:" + "0" * 32 + "\x00",
        "../x:" + "0" * 32,
        "a/b:" + "0" * 32,
        "/abs:" + "0" * 32,
        "xxh3-128:" + "0" * 32 + "\n",
    ],
)
def test_digest_validation(store: LocalBlobStore, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid blob digest"):
        validate_digest(bad)
    with pytest.raises(ValueError, match="invalid blob digest"):
        store.put_bytes(bad, b"data")
    with pytest.raises(ValueError, match="invalid blob digest"):
        store.has(bad)
    with pytest.raises(ValueError, match="invalid blob digest"):
        store.delete(bad)
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_digest_validation_accepts_good_names() -> None:
    good = "xxh3-128:" + "0123456789abcdef" * 2
    assert validate_digest(good) == good
    assert validate_digest(d(b"")) == d(b"")


def test_failed_publish_leaves_nothing_visible(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"z" * 4096
    digest = d(data)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    # Publishing fails, as if the process died right before it.
    monkeypatch.setattr(blobs.blob_files, "publish", boom)
    with pytest.raises(OSError, match="disk on fire"):
        store.put_bytes(digest, data)
    assert not store.path_of(digest).exists()
    assert not store.has(digest)
    assert list(store.iter_digests()) == []
    monkeypatch.undo()
    assert store.put_bytes(digest, data) == len(data)


def test_failed_write_leaves_nothing_visible(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"q" * 4096
    digest = d(data)
    monkeypatch.setattr(blobs.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io")))
    with pytest.raises(OSError):
        store.put_bytes(digest, data)
    assert not store.has(digest)
    assert list(store.path_of(digest).parent.iterdir()) == []  # temp file cleaned up


def test_killed_writer_leaves_only_an_ignored_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    digest = "xxh3-128:" + "ab" * 16
    script = textwrap.dedent(
        f"""
        import os, sys
        from jupyter_mltrack.store.blobs import LocalBlobStore

        real_write = os.write
        def slow_write(fd, data):
            n = real_write(fd, data[: 1 << 20])
            print("wrote", flush=True)
            import time; time.sleep(0.05)
            return n
        os.write = slow_write
        LocalBlobStore({str(root)!r}).put_bytes({digest!r}, b"x" * (256 << 20))
        print("done", flush=True)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        for _ in range(3):
            assert proc.stdout.readline().strip() == "wrote"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = LocalBlobStore(root)
    final = store.path_of(digest)
    assert not final.exists()
    temps = list(final.parent.glob(".tmp-*"))
    assert len(temps) == 1 and temps[0].stat().st_size > 0
    assert list(store.iter_digests()) == []
    assert store.total_bytes() == 0
    # Its name says whose it is: that process is gone, so it goes at once.
    assert temps[0].name.startswith(f".tmp-{proc.pid}-")
    assert store.cleanup_temp(older_than=3600) == 1
    assert not temps[0].exists()
    # A live writer's temp file is left alone; one that names no writer (made before names
    # did) goes once it is old.
    with store.writer() as live:
        live.write(b"still being written")
        (legacy := final.parent / ".tmp-abcdef").write_bytes(b"x")
        assert store.cleanup_temp(older_than=3600) == 0
        old = time.time() - 7200
        os.utime(legacy, (old, old))
        assert store.cleanup_temp(older_than=3600) == 1
        assert not legacy.exists() and len(list(store.root.glob(".tmp-*"))) == 1  # the live one
        live.abort()


def test_concurrent_puts_of_one_digest(store: LocalBlobStore) -> None:
    data = os.urandom(1 << 20)
    digest = d(data)
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def put() -> None:
        try:
            barrier.wait()
            results.append(store.put_bytes(digest, data))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8
    # Exactly one writer publishes; the rest see it (0 bytes) or lose the link race (0).
    assert sorted(results) == [0] * 7 + [len(data)]
    assert store.get_bytes(digest) == data
    assert list(store.iter_digests()) == [digest]
    assert list(store.path_of(digest).parent.glob(".tmp-*")) == []


def test_concurrent_puts_of_many_digests(store: LocalBlobStore) -> None:
    payloads = [os.urandom(1000 + i) for i in range(64)]

    def put(chunk: list[bytes]) -> None:
        for p in chunk:
            store.put_bytes(d(p), p)

    threads = [threading.Thread(target=put, args=(payloads[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.iter_digests()) == sorted(d(p) for p in payloads)
    for p in payloads:
        assert store.get_bytes(d(p)) == p


def test_put_file_copies_never_links(store: LocalBlobStore, tmp_path: Path) -> None:
    user = tmp_path / "data.csv"
    user.write_bytes(b"a,b\n1,2\n" * 1000)
    before = user.stat()
    digest = d(user.read_bytes())
    assert store.put_file(digest, user) == before.st_size
    blob = store.path_of(digest)
    after = user.stat()
    assert not blob.is_symlink()
    assert blob.stat().st_ino != after.st_ino
    assert after.st_nlink == before.st_nlink == 1
    assert blob.stat().st_nlink == 1
    assert after.st_mode == before.st_mode  # the user's file is not made read-only
    assert blob.stat().st_mode & 0o777 == 0o444
    # Editing the user's file in place afterwards does not reach the blob.
    with open(user, "r+b") as fh:
        fh.write(b"CHANGED")
    assert store.get_bytes(digest) == b"a,b\n1,2\n" * 1000
    assert store.put_file(digest, user) == 0


@pytest.mark.parametrize("fail", ["ficlone", "ficlone+copy_file_range"])
def test_put_file_fallbacks(
    store: LocalBlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    import fcntl

    def no_clone(*args: object) -> None:
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", no_clone)
    if "copy_file_range" in fail:
        monkeypatch.setattr(blobs.os, "copy_file_range", no_clone, raising=False)
    user = tmp_path / "big.bin"
    payload = os.urandom(3 << 20)
    user.write_bytes(payload)
    digest = d(payload)
    assert store.put_file(digest, user) == len(payload)
    assert store.get_bytes(digest) == payload
    assert store.path_of(digest).stat().st_ino != user.stat().st_ino


def test_put_file_rejects_non_files(store: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file(d(b"x"), tmp_path / "missing")
    with pytest.raises(FileNotFoundError):
        store.put_file(d(b"x"), tmp_path)


def test_iter_digests_ignores_stray_files(store: LocalBlobStore) -> None:
    data = b"real"
    store.put_bytes(d(data), data)
    folder = store.path_of(d(data)).parent
    (folder / "README").write_text("not a blob")
    (folder / ("f" * 32)).write_bytes(b"wrong fan-out folder")
    (store.root / "stray.txt").write_text("x")
    assert list(store.iter_digests()) == [d(data)]


def test_blob_store_for(tmp_path: Path) -> None:
    home = tmp_path / ".mltrack"
    local = blob_store_for(home)
    assert isinstance(local, LocalBlobStore) and local.root == home / "blobs"
    via_sqlite = blob_store_for(f"sqlite:///{home / 'mltrack.db'}")
    assert isinstance(via_sqlite, LocalBlobStore) and via_sqlite.root == home / "blobs"
    via_file = blob_store_for(f"file://{tmp_path / 'shared'}")
    assert isinstance(via_file, LocalBlobStore) and via_file.root == tmp_path / "shared"
    with pytest.raises(ValueError, match="blob URL"):
        blob_store_for("postgresql+psycopg://u@h/db")


def test_blob_store_for_s3_names_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without s3fs (or fsspec) an ``s3://`` blob URL says which package to install (the
    test extra installs s3fs: its absence is simulated)."""
    import fsspec  # noqa: F401  (loads fsspec.registry, the module behind fsspec.registry)

    known = sys.modules["fsspec.registry"]._registry
    monkeypatch.setitem(sys.modules, "s3fs", None)
    for protocol in ("s3", "s3a"):  # an s3fs loaded by an earlier test stays registered
        monkeypatch.delitem(known, protocol, raising=False)
    with pytest.raises(ImportError, match="s3fs"):
        blob_store_for("s3://bucket/prefix")
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(ImportError, match="fsspec"):
        blob_store_for("s3://bucket/prefix")


@pytest.fixture(params=["memory", "local"])
def fsspec_store(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecBlobStore:
    pytest.importorskip("fsspec")
    if request.param == "memory":
        store = blob_store_for(f"memory://mltrack-test-{os.getpid()}-{time.monotonic_ns()}")
    else:
        import fsspec

        store = FsspecBlobStore(fsspec.filesystem("file"), str(tmp_path / "fs"))
    assert isinstance(store, FsspecBlobStore)
    return store


def test_fsspec_store(fsspec_store: FsspecBlobStore, tmp_path: Path) -> None:
    store = fsspec_store
    assert not store.atomic_put  # temp-then-rename on these backends
    a, b = b"alpha" * 100, b"beta" * 50
    assert store.put_bytes(d(a), a) == len(a)
    assert store.put_bytes(d(a), a) == 0
    user = tmp_path / "u.bin"
    user.write_bytes(b)
    assert store.put_file(d(b), user) == len(b)
    assert store.has(d(a)) and store.has(d(b))
    assert store.get_bytes(d(a)) == a
    assert store.size(d(b)) == len(b)
    assert sorted(store.iter_digests()) == sorted([d(a), d(b)])
    assert store.total_bytes() == len(a) + len(b)
    # No temp keys left behind by the rename discipline.
    assert not [p for p in store.fs.find(store.root) if ".tmp-" in p]
    assert store.delete(d(a)) is True and store.delete(d(a)) is False
    assert list(store.iter_digests()) == [d(b)]
    with pytest.raises(BlobNotFound):
        store.open(d(a))
    with pytest.raises(ValueError, match="invalid blob digest"):
        store.put_bytes("xxh3-128:../../x", a)


def test_a_listing_says_when_each_blob_was_written_and_its_size(
    fsspec_store: FsspecBlobStore, store: LocalBlobStore
) -> None:
    """``gc`` ages the blobs no row names by the listing's times (a young one may be about
    to be recorded by a writer it cannot check) and says what deleting them freed by its
    sizes: each store kind gives both."""
    for kind in (fsspec_store, store):
        before = time.time()
        kind.put_bytes(d(b"timed"), b"timed")
        (digest, written_at, size), *rest = list(kind.listing())
        assert digest == d(b"timed") and size == len(b"timed") and rest == []
        assert written_at is not None and before - 5 < written_at < time.time() + 5


def test_fsspec_store_ignores_temp_keys(fsspec_store: FsspecBlobStore) -> None:
    store = fsspec_store
    data = b"x"
    store.put_bytes(d(data), data)
    parent = store.path_of(d(data)).rsplit("/", 1)[0]
    store.fs.pipe_file(f"{parent}/.tmp-deadbeef", b"partial")
    assert list(store.iter_digests()) == [d(data)]


@pytest.mark.parametrize(
    ("backend", "atomic"),
    [("memory", True), ("memory", False), ("local", False)],
    ids=["atomic-put", "temp-then-move", "local-folder"],
)
def test_fsspec_store_never_keeps_a_file_changed_during_its_upload(
    backend: str, atomic: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file hashed, then rewritten while it goes up: refused, and nothing is left under
    its digest (nor a temp key), whether the store puts straight to the final key (as on
    an object store) or to a temp key it then moves; a file changed before the upload is
    refused untouched."""
    import fsspec

    from jupyter_mltrack.store import blob_files

    if backend == "memory":
        fs, root = fsspec.filesystem("memory"), f"/mltrack-test-{time.monotonic_ns()}"
    else:
        fs, root = fsspec.filesystem("file"), str(tmp_path / "fs")
    store = FsspecBlobStore(fs, root, atomic_put=atomic)
    user = tmp_path / "model.bin"
    user.write_bytes(b"hashed" * 1000)
    st = user.stat()
    hashed = blob_files.HashedFile(str(user), st.st_size, st.st_mtime_ns)
    digest = d(user.read_bytes())
    real = fs.put_file

    def upload_then_rewrite(source: str, key: str) -> None:
        real(source, key)
        user.write_bytes(b"edited" * 1000)  # same size, a later mtime

    monkeypatch.setattr(fs, "put_file", upload_then_rewrite)
    with pytest.raises(OSError, match="changed after it was hashed"):
        store.put_file(digest, hashed)
    assert not store.has(digest) and list(store.iter_digests()) == []
    assert not [k for k in fs.find(root) if ".tmp-" in k]
    with pytest.raises(OSError, match="changed after it was hashed"):  # before the upload
        store.put_file(digest, hashed)
