"""``gc`` rewrites an artifact pack most of whose files no artifact names any more, with only
the files still named: one small file left must not keep a pack of megabytes.

Run A logs a folder of 40 small files (packed); run B logs three of them as a folder and one
alone, which point into A's packs (dedup); then A's artifact is deleted. Its packs are mostly
dead: ``gc`` copies B's files into new packs, checked against their digests, moves B's rows
there and deletes the old packs. Everything B logged reads back byte for byte, and logging
the same bytes again stores nothing. A pack most of whose bytes are named is left alone, a
dry run changes nothing, and a pack changed behind the store's back is never copied.

Concurrency, made deterministic by running the other party inside a step of ``gc`` (never by
sleeping): a reader that read the rows before the move and finds the pack gone reads the
rows again; a writer that claims bytes of the old pack before the move keeps the old pack
(its rows name it), and one that claims after the move finds the new pack.

On SQLite and PostgreSQL with local blobs, and on an S3 server (moto's)."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.cli import _bytes
from jupyter_mltrack.location import BLOB_URL_ENV
from jupyter_mltrack.models import packs
from jupyter_mltrack.models.artifacts import (
    materialize,
    open_file,
    read_bytes,
    sources_of,
    write_artifact,
)
from jupyter_mltrack.sharing import push
from jupyter_mltrack.sharing.runs import RunCopier
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunNotFound, RunStatus, Store
from jupyter_mltrack.store.entities import Artifact

# small packs, so that a test folder of a few hundred KB makes several
from .test_artifact_packs import same_files, small_packs  # noqa: F401
from .test_cli import run_cli


@pytest.fixture
def sn(blob_store: Store) -> Iterator[Snapshotter]:
    with contextlib.closing(Snapshotter(blob_store)) as collector:
        yield collector


@pytest.fixture
def mltrack_gc(
    blob_store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[int, str, str]]:
    """``mltrack gc ARGS…`` on ``blob_store``: its exit code, stdout and stderr."""
    monkeypatch.setenv(BLOB_URL_ENV, (tmp_path / "blobs").as_uri())
    return lambda *args: run_cli(capsys, "--store", blob_store.url, "gc", *args)


@dataclass
class Shared:
    """Run ``run``'s artifacts whose bytes lie in the packs of another run's folder."""

    full: Path  # the other run's folder: 40 files, f00.bin … f39.bin
    kept: Path  # a folder of three of them, logged by ``run`` as ``kept``
    other: str  # the run that logged ``full``
    run: str
    folder: Artifact  # ``kept``
    single: Artifact  # ``one.bin``: the bytes of f05.bin, alone

    def packs(self) -> set[str]:
        return {f.pack for a in (self.folder, self.single) for f in a.files if f.pack}


def shared(store: Store, tmp_path: Path, *, delete: bool = True) -> Shared:
    """Run A's folder of 40 files of 6-14 KB (two packs), run B's artifacts of four of
    them (pointing into A's packs), and, with ``delete``, A's folder deleted."""
    rng = random.Random(3)
    full = tmp_path / "full"
    full.mkdir()
    for i in range(40):
        (full / f"f{i:02}.bin").write_bytes(rng.randbytes(rng.randint(6 << 10, 14 << 10)))
    kept = tmp_path / "kept"
    kept.mkdir()
    for name in ("f00.bin", "f20.bin", "f39.bin"):
        shutil.copy(full / name, kept / name)
    a, b = store.create_run("exp").id, store.create_run("exp").id
    logged = write_artifact(store, a, "eval", *sources_of(full)[::2])
    assert len({f.pack for f in logged.files}) == 2
    folder = write_artifact(store, b, "kept", *sources_of(kept)[::2])
    single = write_artifact(store, b, "one.bin", *sources_of(full / "f05.bin")[::2])
    assert folder.meta["stored_bytes"] == single.meta["stored_bytes"] == 0  # A's bytes
    if delete:
        store.delete_artifact(a, "eval")
    return Shared(full, kept, a, b, folder, single)


def live_bytes(s: Shared) -> dict[str, int]:
    """``pack -> bytes of run B's files in it`` (each content once)."""
    held: dict[str, dict[str, int]] = {}
    for f in (*s.folder.files, *s.single.files):
        assert f.pack is not None
        held.setdefault(f.pack, {})[f.digest] = f.size
    return {pack: sum(sizes.values()) for pack, sizes in held.items()}


def reads_back(store: Store, s: Shared, out: Path, folder: Artifact | None = None) -> None:
    """B's artifacts (as ``folder`` and ``s.single`` say, rows possibly stale) read back
    byte for byte: the folder written out whole, and the single file."""
    written = materialize(store, folder or s.folder, out, link=False)
    assert same_files(s.kept, written)
    assert read_bytes(store, s.single) == (s.full / "f05.bin").read_bytes()


def test_a_mostly_dead_pack_is_rewritten_with_its_live_files_only(
    blob_store: Store, sn: Snapshotter, tmp_path: Path
) -> None:
    s = shared(blob_store, tmp_path)
    blobs = blob_store.blobs
    old = s.packs()
    old_sizes = {p: blobs.size(p) for p in old}
    live = live_bytes(s)
    assert all(live[p] < old_sizes[p] / 2 for p in old)

    report = sn.gc()
    assert report["artifact_packs_rewritten"] == len(old) == 2
    assert report["artifact_packs_damaged"] == []
    assert not any(blobs.has(p) for p in old)  # the space is freed
    folder = blob_store.get_artifact(s.run, "kept")
    single = blob_store.get_artifact(s.run, "one.bin")
    new = {f.pack for a in (folder, single) for f in a.files}
    assert new.isdisjoint(old) and all(blobs.has(p) for p in new)
    new_size = sum(blobs.size(p) for p in new)
    assert new_size == sum(live.values())  # only the live files, each once
    assert report["bytes_freed"] == sum(old_sizes.values()) - new_size
    reads_back(blob_store, Shared(s.full, s.kept, s.other, s.run, folder, single), tmp_path / "o")

    # dedup still works: the same bytes logged again are found in the new packs
    held = set(blobs.iter_digests())  # type: ignore[attr-defined]
    again = write_artifact(blob_store, s.run, "again", *sources_of(s.kept)[::2])
    assert again.meta["stored_bytes"] == 0
    assert {(f.pack, f.offset) for f in again.files} == {(f.pack, f.offset) for f in folder.files}
    assert set(blobs.iter_digests()) == held  # type: ignore[attr-defined]
    assert sn.gc()["artifact_packs_rewritten"] == 0  # a rewritten pack is all live


def test_a_pack_whose_files_are_mostly_named_is_left_as_it_is(
    blob_store: Store, sn: Snapshotter, tmp_path: Path
) -> None:
    s = shared(blob_store, tmp_path, delete=False)
    files = {(f.path, f.pack, f.offset) for f in s.folder.files}
    # every byte of A's packs is named: not rewritten, however high the threshold
    assert sn.gc(repack_below=1.0)["artifact_packs_rewritten"] == 0
    blob_store.delete_run(s.other)  # a run deleted: its artifact's rows go with it
    share = min(n / blob_store.blobs.size(p) for p, n in live_bytes(s).items())
    assert sn.gc(repack_below=share * 0.9)["artifact_packs_rewritten"] == 0
    after = blob_store.get_artifact(s.run, "kept")
    assert {(f.path, f.pack, f.offset) for f in after.files} == files
    assert all(blob_store.blobs.has(p) for p in s.packs())
    assert sn.gc()["artifact_packs_rewritten"] == 2  # under the default half: rewritten


def test_a_dry_run_says_what_it_would_rewrite_and_changes_nothing(
    blob_store: Store, sn: Snapshotter, tmp_path: Path, mltrack_gc: Callable[..., Any]
) -> None:
    s = shared(blob_store, tmp_path)
    listing = set(blob_store.blobs.iter_digests())  # type: ignore[attr-defined]
    dry = sn.gc(dry_run=True)
    assert dry["dry_run"] and dry["artifact_packs_rewritten"] == 2
    freed = dry["bytes_freed"]
    assert mltrack_gc("-n") == (
        0,
        "dry run: would delete 0 snapshots, 0 blocks and 0 packs; would rewrite 2 artifact "
        f"packs with only the files still used; would free {_bytes(freed)} ({freed:,} bytes)\n",
        "",
    )
    assert set(blob_store.blobs.iter_digests()) == listing  # type: ignore[attr-defined]
    assert blob_store.get_artifact(s.run, "kept").files == s.folder.files
    assert blob_store.get_artifact(s.run, "one.bin").files == s.single.files
    real = sn.gc()
    assert real["artifact_packs_rewritten"] == 2
    assert real["bytes_freed"] == dry["bytes_freed"] > 0  # the dry run's figure is exact


def test_a_pack_changed_behind_the_stores_back_is_not_copied_and_gc_says_so(
    blob_store: Store, tmp_path: Path, mltrack_gc: Callable[..., Any]
) -> None:
    s = shared(blob_store, tmp_path)
    broken = next(f for f in s.folder.files if f.path == "f20.bin")
    assert broken.pack is not None and broken.offset is not None
    path = blob_store.blobs.path_of(broken.pack)  # type: ignore[attr-defined]
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[broken.offset + 7] ^= 0xFF
    path.write_bytes(bytes(data))
    other = (s.packs() - {broken.pack}).pop()

    code, out, err = mltrack_gc("--json")
    report = json.loads(out)
    said = (
        f"file 'f20.bin' of artifact 'kept' of run {s.run}: pack {broken.pack} holds other "
        f"bytes at {broken.offset} than {broken.digest}: changed outside mltrack (the pack "
        "is left as it is)"
    )
    assert code == 1 and report["artifact_packs_damaged"] == [said]
    assert err == f"mltrack: error: {said}\n"
    assert report["artifact_packs_rewritten"] == 1  # the other pack is rewritten
    assert blob_store.blobs.has(broken.pack) and not blob_store.blobs.has(other)
    in_broken = {f for f in s.folder.files if f.pack == broken.pack}
    assert in_broken <= set(blob_store.get_artifact(s.run, "kept").files)  # rows left too

    code, out, err = mltrack_gc()
    assert code == 1 and err == f"mltrack: error: {said}\n"
    assert out == (
        "deleted 0 snapshots, 0 blocks and 0 packs; left 1 artifact pack as it was: its "
        "bytes changed outside mltrack; freed 0 B (0 bytes)\n"
    )


def test_a_reader_that_read_the_rows_before_a_rewrite_reads_them_again(
    blob_store: Store, sn: Snapshotter, tmp_path: Path
) -> None:
    """The rows are read (``get_artifact``), then ``gc`` moves them and deletes the old
    packs, then the packs are read: the reader finds them gone and reads the rows again."""
    s = shared(blob_store, tmp_path)
    assert sn.gc()["artifact_packs_rewritten"] == 2
    assert not any(blob_store.blobs.has(p) for p in s.packs())
    reads_back(blob_store, s, tmp_path / "out")  # s holds the rows read before the gc
    with open_file(blob_store, s.folder, "f39.bin") as fh:
        assert fh.read() == (s.full / "f39.bin").read_bytes()


def test_a_writer_claiming_bytes_of_a_pack_being_rewritten_keeps_that_pack(
    blob_store: Store, sn: Snapshotter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer claims bytes of the old packs after ``gc`` chose them and before it moves
    their rows: its pending rows name the old packs, which are then kept (the deletion's
    check sees them), although the writer writes its rows again at completion (it packs
    16 new files too). The next ``gc`` rewrites them once the writer is done."""
    s = shared(blob_store, tmp_path)
    old = s.packs()
    old_sizes = {p: blob_store.blobs.size(p) for p in old}
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(s.kept / "f39.bin", mixed)  # in one of the two old packs
    rng = random.Random(9)
    for i in range(packs.PACK_FROM):
        (mixed / f"new{i:02}.bin").write_bytes(rng.randbytes(3000 + i))
    w_run = blob_store.create_run("exp").id
    claimed, go = threading.Event(), threading.Event()
    logged: list[Artifact] = []
    real_complete = blob_store.complete_artifact

    def complete_once_gc_is_done(*args: Any, **kwargs: Any) -> Artifact:
        claimed.set()  # claimed, and its new files packed
        assert go.wait(60)
        return real_complete(*args, **kwargs)

    monkeypatch.setattr(blob_store, "complete_artifact", complete_once_gc_is_done)
    writer = threading.Thread(
        target=lambda: logged.append(
            write_artifact(blob_store, w_run, "mixed", *sources_of(mixed)[::2])
        )
    )
    real_rewrite = packs.rewrite

    def claim_first(*args: Any) -> dict[str, tuple[str, int]]:
        if not writer.is_alive() and not claimed.is_set():  # gc chose the packs already
            writer.start()
            assert claimed.wait(60)
        return real_rewrite(*args)

    monkeypatch.setattr(packs, "rewrite", claim_first)
    try:
        report = sn.gc()
    finally:
        go.set()
        if writer.is_alive() or claimed.is_set():
            writer.join(60)
    assert logged, "the writer failed"
    assert report["artifact_packs_rewritten"] == 2  # B's rows moved
    claimed_in = next(f for f in logged[0].files if f.path == "f39.bin")
    assert claimed_in.pack in old
    w_live = {claimed_in.pack: claimed_in.size}
    assert all(blob_store.blobs.has(p) for p in w_live)  # the writer's rows name them
    assert not any(blob_store.blobs.has(p) for p in old - set(w_live))
    live = live_bytes(s)
    # only what was deleted is freed
    assert report["bytes_freed"] == sum(old_sizes[p] - live[p] for p in old - set(w_live))
    written = materialize(blob_store, blob_store.get_artifact(w_run, "mixed"), tmp_path / "w")
    assert same_files(mixed, written)
    reads_back(blob_store, s, tmp_path / "b")

    monkeypatch.setattr(packs, "rewrite", real_rewrite)
    again = sn.gc()  # the writer is done: its rows move now, and the old packs go
    assert again["artifact_packs_rewritten"] == len(w_live)
    assert again["bytes_freed"] == sum(old_sizes[p] - n for p, n in w_live.items())
    assert not any(blob_store.blobs.has(p) for p in old)
    written = materialize(blob_store, blob_store.get_artifact(w_run, "mixed"), tmp_path / "w2")
    assert same_files(mixed, written)
    reads_back(blob_store, s, tmp_path / "b2")


def test_a_writer_claiming_after_the_move_finds_the_new_pack(
    blob_store: Store, sn: Snapshotter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer deduplicating against bytes whose rows ``gc`` just moved is told their new
    place (the move and the claim take the same lock), so the old pack can go."""
    s = shared(blob_store, tmp_path)
    w_run = blob_store.create_run("exp").id
    real_move = blob_store.move_packed_files
    seen: list[tuple[dict[str, tuple[str, int]], Artifact]] = []

    def move_then_log(pack: str, where: dict[str, tuple[str, int]], blobs: Any) -> None:
        real_move(pack, where, blobs)
        if not seen:
            seen.append((where, write_artifact(blob_store, w_run, "w", *sources_of(s.kept)[::2])))

    monkeypatch.setattr(blob_store, "move_packed_files", move_then_log)
    report = sn.gc()
    assert report["artifact_packs_rewritten"] == 2
    where, logged = seen[0]
    assert logged.meta["stored_bytes"] == 0
    moved = [f for f in logged.files if f.digest in where]
    assert moved and all((f.pack, f.offset) == where[f.digest] for f in moved)
    assert not any(blob_store.blobs.has(p) for p in s.packs())
    written = materialize(blob_store, blob_store.get_artifact(w_run, "w"), tmp_path / "w")
    assert same_files(s.kept, written)


def test_a_push_that_found_a_pack_at_the_destination_checks_it_again_when_writing(
    blob_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pushed run's files lie in a pack the destination's records name, so it is not sent;
    a ``gc`` there rewrites that pack before the run is written (moving the rows that named
    it, deleting it). The run is not written naming a deleted pack: the push fails saying
    so, and the next one sends the pack."""
    src = Store(f"sqlite:///{tmp_path / 'src.db'}", blob_url=(tmp_path / "src-blobs").as_uri())
    try:
        s = shared(src, tmp_path, delete=False)
        late = src.create_run("later").id
        write_artifact(src, late, "kept", *sources_of(s.kept)[::2])  # into the same packs
        for run in (s.other, s.run, late):
            src.finish_run(run, RunStatus.FINISHED)  # (a running run is not copied)
        push(src, blob_store, experiment="exp")
        blob_store.delete_run(s.other)  # there: the packs are mostly dead
        real = RunCopier._send_artifact_blobs

        def gc_there_meanwhile(self: RunCopier, files: Any) -> set[str]:
            sent = real(self, files)
            assert not sent  # the destination's records named the packs
            sn = Snapshotter(blob_store)
            try:
                assert sn.gc()["artifact_packs_rewritten"] == 2
            finally:
                sn.close()
            return sent

        monkeypatch.setattr(RunCopier, "_send_artifact_blobs", gc_there_meanwhile)
        with pytest.raises(FileNotFoundError, match="removed by a gc at the destination"):
            push(src, blob_store, experiment="later")
        with pytest.raises(RunNotFound):
            blob_store.get_run(late)
        monkeypatch.setattr(RunCopier, "_send_artifact_blobs", real)
        assert push(src, blob_store, experiment="later").blobs_sent >= 1
        written = materialize(blob_store, blob_store.get_artifact(late, "kept"), tmp_path / "o")
        assert same_files(s.kept, written)
    finally:
        src.close()


def test_a_pack_on_s3_is_rewritten_and_the_old_object_deleted(
    s3_store: Store, tmp_path: Path
) -> None:
    s = shared(s3_store, tmp_path)
    old = s.packs()
    sn = Snapshotter(s3_store)
    try:
        report = sn.gc()
    finally:
        sn.close()
    assert report["artifact_packs_rewritten"] == 2 and report["artifact_packs_damaged"] == []
    assert not any(s3_store.blobs.has(p) for p in old)
    folder = s3_store.get_artifact(s.run, "kept")
    new = {f.pack for f in folder.files}
    assert new.isdisjoint(old) and all(s3_store.blobs.has(p) for p in new)
    reads_back(s3_store, s, tmp_path / "stale")  # rows read before: read again
    reads_back(s3_store, s, tmp_path / "fresh", folder)


def test_gc_on_s3_asks_no_pack_its_size(
    s3_store: Store, s3_requests: collections.Counter[str], tmp_path: Path
) -> None:
    """The sizes gc weighs each artifact pack by come from the one listing it makes for the
    orphans anyway: a team bucket of thousands of packs costs no request per pack."""
    s = shared(s3_store, tmp_path, delete=False)
    assert len(s.packs()) == 2
    sn = Snapshotter(s3_store)
    try:
        s3_requests.clear()
        report = sn.gc()
    finally:
        sn.close()
    assert report["artifact_packs_rewritten"] == 0 and report["orphans"] == 0
    # listings (GET) and the one HEAD asking whether the store's folder exists at all
    assert dict(s3_requests) == {"GET": 4, "HEAD": 1}
