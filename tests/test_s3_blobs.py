"""Artifacts on an S3-compatible store (moto's server) make one request per blob, or none:
a second log of bytes the records know makes no request, a first log PUTs new bytes without
asking first, a read GETs each file once (no HEAD), a large file goes up in parts and comes
back in ranges, and a blob removed or changed behind the store's back fails the read, named.

Requests are counted as the client sends them (botocore's ``before-send`` event of s3fs's
client), so each count is what reached the server."""

from __future__ import annotations

import collections
import os
import time
from pathlib import Path

import pytest

from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import Source, materialize, sources_of, write_artifact
from jupyter_mltrack.snapshots import collect
from jupyter_mltrack.snapshots.fingerprint import clear_file_cache
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store, s3_blobs
from jupyter_mltrack.store.blobs import BlobNotFound, digest_bytes

from .s3 import use_s3


def make_folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    for i in range(5):
        (root / f"f{i}.bin").write_bytes(os.urandom(100 + i))
    (root / "sub" / "copy.bin").write_bytes((root / "f0.bin").read_bytes())  # same bytes
    return root


def test_a_second_log_of_known_bytes_makes_no_request(
    s3_store: Store, s3_requests: collections.Counter[str], tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    kind, name, sources = sources_of(folder)
    first, second, third = (s3_store.create_run("exp") for _ in range(3))
    logged = write_artifact(s3_store, first.id, name, kind, sources)
    assert dict(s3_requests) == {"PUT": 5}  # one PUT per distinct content, nothing asked first
    assert logged.meta["stored_bytes"] == sum(100 + i for i in range(5))
    s3_requests.clear()
    again = write_artifact(s3_store, second.id, name, kind, sources)
    assert dict(s3_requests) == {} and again.meta["stored_bytes"] == 0
    clear_file_cache()  # as a new process: every file hashed again, still nothing asked
    write_artifact(s3_store, third.id, name, kind, sources)
    assert dict(s3_requests) == {}


def test_reading_back_gets_each_file_once(
    s3_store: Store, s3_requests: collections.Counter[str], tmp_path: Path
) -> None:
    folder = make_folder(tmp_path / "eval")
    kind, name, sources = sources_of(folder)
    logged = write_artifact(s3_store, s3_store.create_run("exp").id, name, kind, sources)
    s3_requests.clear()
    out = materialize(s3_store, logged, tmp_path / "out", link=False)
    assert dict(s3_requests) == {"GET": 6}  # no HEAD: the sizes are in the records
    for f in logged.files:
        assert (out / f.path).read_bytes() == (folder / f.path).read_bytes()


def test_a_blob_removed_or_changed_behind_the_stores_back_fails_the_read(
    s3_store: Store, tmp_path: Path
) -> None:
    """The records are trusted: logging the bytes again does not notice the blob is gone
    (nothing is asked), but reading it is an error that names the artifact and the blob,
    never a file of other bytes. Once no record names the bytes, they are stored again."""
    blobs = s3_store.blobs
    data, other = b"kept bytes", b"other data"
    run = s3_store.create_run("exp")
    first = write_artifact(s3_store, run.id, "a.bin", "file", [Source("a.bin", data=data)])
    digest = digest_bytes(data)
    blobs.fs.rm_file(blobs.path_of(digest))  # type: ignore[attr-defined]
    again = write_artifact(s3_store, run.id, "b.bin", "file", [Source("b.bin", data=data)])
    assert again.meta["stored_bytes"] == 0
    with pytest.raises(BlobNotFound, match=f"'a.bin' of run {run.id}: blob {digest} is missing"):
        materialize(s3_store, first, tmp_path / "out", link=False)
    assert not (tmp_path / "out" / "a.bin").exists()

    blobs.fs.pipe_file(blobs.path_of(digest), other)  # type: ignore[attr-defined]
    with pytest.raises(BlobNotFound, match="holds other bytes"):
        materialize(s3_store, first, tmp_path / "out2", link=False)

    for name in ("a.bin", "b.bin"):
        s3_store.delete_artifact(run.id, name)
    third = write_artifact(s3_store, run.id, "c.bin", "file", [Source("c.bin", data=data)])
    assert third.meta["stored_bytes"] == len(data)
    assert artifacts.read_bytes(s3_store, third) == data


def test_a_large_file_goes_up_in_parts_and_comes_back_in_ranges(
    s3_store: Store,
    s3_requests: collections.Counter[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3_blobs, "MULTIPART_FROM", 6 << 20)
    monkeypatch.setattr(s3_blobs, "PART", 5 << 20)  # S3's smallest part
    monkeypatch.setattr(s3_blobs, "RANGE", 4 << 20)
    monkeypatch.setattr(s3_blobs, "RANGED_FROM", 4 << 20)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom((11 << 20) + 3))
    kind, name, sources = sources_of(path)
    logged = write_artifact(s3_store, s3_store.create_run("exp").id, name, kind, sources)
    # not asked for (it is checked to be the file hashed instead): a multipart upload,
    # create, 3 parts, complete
    assert dict(s3_requests) == {"POST": 2, "PUT": 3}
    # the upload named its parts' checksum (CRC32), so the object's is built from theirs,
    # not computed again over the whole object by the server
    bucket, key = s3_store.blobs._key(logged.files[0].digest)  # type: ignore[attr-defined]
    head = s3_store.blobs.fs.call_s3(  # type: ignore[attr-defined]
        "head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED"
    )
    assert "ChecksumCRC32" in head and "ChecksumCRC64NVME" not in head
    s3_requests.clear()
    out = materialize(s3_store, logged, tmp_path / "out", link=False)
    assert dict(s3_requests) == {"GET": 3}
    assert out.read_bytes() == path.read_bytes()


def test_a_file_that_shrinks_during_its_upload_stores_nothing(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The part read after the file was cut short fails the log, the multipart upload is
    aborted, and no object holds the half-written bytes."""
    monkeypatch.setattr(s3_blobs, "MULTIPART_FROM", 6 << 20)
    monkeypatch.setattr(s3_blobs, "PART", 5 << 20)
    monkeypatch.setattr(s3_blobs, "PARTS_AT_ONCE", 1)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(11 << 20))
    real = s3_blobs._FileParts.read

    def read_then_cut(self: s3_blobs._FileParts, offset: int, length: int) -> bytes:
        data = real(self, offset, length)
        os.truncate(self.path, 6 << 20)  # cut after the first part is read
        return data

    monkeypatch.setattr(s3_blobs._FileParts, "read", read_then_cut)
    assert_refused(s3_store, path, "shrank")


def assert_refused(store: Store, path: Path, error: str) -> None:
    """Logging ``path`` fails with ``error`` and leaves nothing behind: no blob, no
    multipart upload open, no artifact."""
    kind, name, sources = sources_of(path)
    run = store.create_run("exp")
    with pytest.raises(OSError, match=error):
        write_artifact(store, run.id, name, kind, sources)
    blobs = store.blobs
    bucket = blobs.root.split("/")[0]  # type: ignore[attr-defined]
    assert list(blobs.iter_digests()) == []
    uploads = blobs.fs.call_s3("list_multipart_uploads", Bucket=bucket)  # type: ignore[attr-defined]
    assert uploads.get("Uploads", []) == []
    assert store.list_artifacts(run.id) == []


@pytest.mark.parametrize("size", [(2 << 20) + 1, (11 << 20) + 3], ids=["one-put", "in-parts"])
def test_a_file_rewritten_after_it_was_hashed_is_refused_and_stores_nothing(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """A file is sent without asking whether its blob exists, so it must be the file that
    was hashed: rewritten (same size, new bytes) between its hash and its upload, or while
    its parts go up, at each try, the log fails, nothing is visible under the digest,
    nothing recorded."""
    monkeypatch.setattr(s3_blobs, "MULTIPART_FROM", 6 << 20)
    monkeypatch.setattr(s3_blobs, "PART", 5 << 20)
    monkeypatch.setattr(s3_blobs, "PARTS_AT_ONCE", 1)
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(size))

    def rewrite() -> None:
        path.write_bytes(os.urandom(size))
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a later tick

    if size < s3_blobs.MULTIPART_FROM:  # rewritten once hashed, before the upload
        real_claim = s3_store.open_artifact

        def claim_then_rewrite(*args: object, **kwargs: object) -> object:
            found = real_claim(*args, **kwargs)  # type: ignore[arg-type]
            rewrite()
            return found

        monkeypatch.setattr(s3_store, "open_artifact", claim_then_rewrite)
    else:  # rewritten while its first part goes up
        real_read = s3_blobs._FileParts.read

        def read_then_rewrite(self: s3_blobs._FileParts, offset: int, length: int) -> bytes:
            data = real_read(self, offset, length)
            if offset == 0:
                rewrite()
            return data

        monkeypatch.setattr(s3_blobs._FileParts, "read", read_then_rewrite)
    assert_refused(s3_store, path, "changed each of the 3 times it was logged")


def test_a_team_store_over_https_trusting_its_own_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team's server over HTTPS with a certificate of its own CA (``AWS_CA_BUNDLE``, as
    a team's MinIO is set up): a folder and a file in parts go up and come back intact."""
    from .s3 import s3_server

    monkeypatch.setattr(s3_blobs, "MULTIPART_FROM", 6 << 20)
    monkeypatch.setattr(s3_blobs, "PART", 5 << 20)
    with s3_server(tls=True) as endpoint:
        assert endpoint.startswith("https://")
        bucket = use_s3(monkeypatch, endpoint)
        store = Store(f"sqlite:///{tmp_path / 'mltrack.db'}", blob_url=f"s3://{bucket}/team")
        try:
            run = store.create_run("exp")
            big = tmp_path / "big.bin"
            big.write_bytes(os.urandom((11 << 20) + 3))
            for source in (make_folder(tmp_path / "eval"), big):
                kind, name, sources = sources_of(source)
                logged = write_artifact(store, run.id, name, kind, sources)
                assert logged.meta["stored_bytes"] > 0
                out = materialize(store, logged, tmp_path / "out" / name, link=False)
                for f in logged.files:
                    original = source / f.path if source.is_dir() else source
                    copy = out / f.path if source.is_dir() else out
                    assert copy.read_bytes() == original.read_bytes()
        finally:
            store.close()


def test_gc_deletes_the_objects_of_a_deleted_runs_artifacts(
    s3_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deleted run's artifacts leave objects no row names: ``gc`` finds them by listing
    the bucket and deletes them (it once listed local folders only, so a team's bucket kept
    every model ever logged). While a writer of another host may be busy, only objects
    older than an hour go, aged by the listing's ``LastModified``."""
    keep = s3_store.create_run("exp").id
    write_artifact(s3_store, keep, "keep.txt", "text", [Source("keep.txt", data=b"keep")])
    gone = s3_store.create_run("exp").id
    kind, name, sources = sources_of(make_folder(tmp_path / "eval"))
    write_artifact(s3_store, gone, name, kind, sources)  # 5 objects (one file is a copy)
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(3 << 20))
    write_artifact(s3_store, gone, "model.bin", "file", [Source("model.bin", file=str(model))])
    listed = {blob.digest: blob for blob in s3_store.blobs.listing()}
    assert len(listed) == 7
    assert all(abs(b.written_at - time.time()) < 600 for b in listed.values() if b.written_at)
    s3_store.delete_run(gone)
    kept = {digest_bytes(b"keep")}
    their_bytes = sum(b.size or 0 for d, b in listed.items() if d not in kept)
    assert their_bytes > 3 << 20  # the model's object is among them, by its size
    sn = Snapshotter(s3_store)
    try:
        dry = sn.gc(dry_run=True)
        assert dry["orphans"] == 6 and dry["bytes_freed"] == their_bytes
        assert set(s3_store.blobs.iter_digests()) == set(listed)
        # a writer on another host, which gc cannot check: young objects stay, said
        busy = s3_store.create_run("other-host").id
        s3_store.begin_artifact(busy, "upload", "file")
        report = sn.gc()  # its writer is this process, alive: nothing unrecorded goes
        assert (report["orphans"], report["orphans_waiting"]) == (0, 6)
        assert report["orphans_waiting_why"] == (
            "a process on this host is writing a snapshot or an artifact"
        )
        with s3_store.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE artifacts SET writer_host = 'elsewhere'")
        report = sn.gc()
        assert report["orphans"] == 0 and len(set(s3_store.blobs.iter_digests())) == 7
        assert (report["orphans_waiting"], report["orphans_waiting_why"]) == (
            6,
            "younger than 60 minutes, and a writer on another host may still record them",
        )
        later = time.time() + 7200  # two hours on: the listing's times say they are old
        monkeypatch.setattr(collect.time, "time", lambda: later)
        report = sn.gc()
        assert report["orphans"] == 6 and report["bytes_freed"] == their_bytes
        assert report["orphans_waiting"] == 0 and report["orphans_waiting_why"] is None
    finally:
        sn.close()
    assert set(s3_store.blobs.iter_digests()) == kept
    assert artifacts.read_bytes(s3_store, s3_store.get_artifact(keep, "keep.txt")) == b"keep"


def test_an_artifact_spooled_on_another_machine_keeps_its_objects_until_its_replay(
    s3_store: Store, tmp_path: Path
) -> None:
    """A laptop logs an artifact while the team's database is away: its objects are in the
    bucket, its record in the laptop's spool, no row names them. A ``gc`` from another
    machine (which cannot see that spool) keeps them by the hold the laptop left in the
    bucket; the replay records the artifact and drops the hold; once its run is deleted,
    ``gc`` deletes them."""
    from jupyter_mltrack.store import blob_holds
    from jupyter_mltrack.store.spool import SpoolingStore, replay

    laptop = SpoolingStore(s3_store.url, blob_url=s3_store.blob_url, spool=tmp_path / "laptop")
    try:
        run = laptop.create_run("exp").id
        laptop._go_offline("the test took the database away")
        kind, name, sources = sources_of(make_folder(tmp_path / "eval"))
        art = write_artifact(laptop, run, name, kind, sources)
        assert art.status == "spooled"
        objects = set(s3_store.blobs.iter_digests())
        (hold,) = blob_holds.holds(s3_store.blobs)
        assert hold.digests == objects and len(objects) == 5
        sn = Snapshotter(s3_store)
        try:
            assert sn.gc()["orphans"] == 0 and set(s3_store.blobs.iter_digests()) == objects
            assert replay(laptop, laptop.spool).written == 1
            assert list(blob_holds.holds(s3_store.blobs)) == []  # the rows name them now
            out = materialize(s3_store, s3_store.get_artifact(run, name), tmp_path / "out")
            assert (out / "sub" / "copy.bin").read_bytes() == (out / "f0.bin").read_bytes()
            s3_store.delete_run(run)
            assert sn.gc()["orphans"] == 5 and list(s3_store.blobs.iter_digests()) == []
        finally:
            sn.close()
    finally:
        laptop.close()


def test_a_hold_naming_no_object_yet_is_a_writer_at_work(
    s3_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hold left before its writer stores anything says a writer may be storing objects
    no row names: while it is young no unrecorded object goes; an hour old, its writer is
    taken as one that may have died (as another host's): objects an hour old go; a day
    old, as one that did, and the hold is dropped."""
    from jupyter_mltrack.store import blob_holds

    s3_store.blobs.put_bytes(digest_bytes(b"left"), b"left")
    name = blob_holds.new_hold(s3_store.blobs)
    sn = Snapshotter(s3_store)
    try:
        report = sn.gc()
        assert report["orphans"] == 0 and report["orphans_waiting"] == 1
        assert report["orphans_waiting_why"].startswith(
            f"an artifact is being stored (hold {name}, "
        )
        later = time.time() + 7200
        monkeypatch.setattr(collect.time, "time", lambda: later)
        assert sn.gc()["orphans"] == 1
        assert [h.name for h in blob_holds.holds(s3_store.blobs)] == [name]
        # a day on, its writer is taken as killed mid-store: the hold is dropped
        day = time.time() + 86400 + 60
        monkeypatch.setattr(collect.time, "time", lambda: day)
        sn.gc()
        assert list(blob_holds.holds(s3_store.blobs)) == []
    finally:
        sn.close()


def test_a_hold_of_an_artifact_with_no_bytes_keeps_nothing_back(s3_store: Store) -> None:
    """A hold whose writer stored nothing (an empty artifact) names no object, and is no
    writer at work: an object no row names goes as with no hold at all."""
    from jupyter_mltrack.store import blob_holds

    s3_store.blobs.put_bytes(digest_bytes(b"left"), b"left")
    name = blob_holds.new_hold(s3_store.blobs)
    blob_holds.put_hold(s3_store.blobs, name, [])
    sn = Snapshotter(s3_store)
    try:
        assert sn.gc()["orphans"] == 1
    finally:
        sn.close()
    assert [h.busy for h in blob_holds.holds(s3_store.blobs)] == [False]


def test_a_hold_that_cannot_be_read_keeps_every_unrecorded_object(
    s3_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged hold may name any object: it counts as a writer at work, and is never
    dropped, however old."""
    from jupyter_mltrack.store import blob_holds

    s3_store.blobs.put_bytes(digest_bytes(b"left"), b"left")
    fs = s3_store.blobs.fs  # type: ignore[attr-defined]
    fs.pipe_file(f"{s3_store.blobs.root}/{blob_holds.FOLDER}/damaged.json", b"{not json")  # type: ignore[attr-defined]
    sn = Snapshotter(s3_store)
    try:
        report = sn.gc()
        assert report["orphans"] == 0 and report["orphans_waiting"] == 1
        assert report["orphans_waiting_why"] == "hold damaged in the blob store could not be read"
        (hold,) = blob_holds.holds(s3_store.blobs)
        assert not hold.readable and hold.busy
        day = time.time() + 2 * 86400
        monkeypatch.setattr(collect.time, "time", lambda: day)
        assert sn.gc()["orphans"] == 0
        assert [h.name for h in blob_holds.holds(s3_store.blobs)] == ["damaged"]
        assert s3_store.blobs.has(digest_bytes(b"left"))
    finally:
        sn.close()
