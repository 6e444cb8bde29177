"""Artifacts: files, folders, texts, dicts and figures logged with a run, stored once by
content in the blob store, read back byte for byte, and kept (or collected) by ``gc``.

Store-level tests run on SQLite and PostgreSQL (blobs in a local folder for both); the
public API tests log through ``mltrack.log_*`` as a notebook does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import ArtifactError, Source, write_artifact
from jupyter_mltrack.models.preview import preview
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.blobs import BlobNotFound, digest_bytes
from jupyter_mltrack.store.entities import ArtifactFile
from jupyter_mltrack.store.errors import ArtifactNotFound


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    """The store ``mltrack.log_*`` writes into (SQLite, blobs beside it)."""
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


def blob_count(st: Store) -> int:
    return sum(1 for _ in st.blobs.iter_digests())


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


# the store ------------------------------------------------------------------------------------


def test_a_folder_round_trips_and_same_bytes_are_stored_once(
    blob_store: Store, tmp_path: Path
) -> None:
    run = blob_store.create_run("exp")
    other = blob_store.create_run("exp")
    tree = make_tree(
        tmp_path / "out",
        {"a.txt": b"alpha", "sub/b.bin": bytes(range(256)) * 100, "sub/c.txt": b"alpha"},
    )
    kind, name, sources = artifacts.sources_of(tree)
    assert (kind, name) == ("folder", "out")
    first = write_artifact(blob_store, run.id, name, kind, sources)
    assert [f.path for f in first.files] == ["a.txt", "sub/b.bin", "sub/c.txt"]
    assert first.size == 5 + 25600 + 5 and first.file_count == 3
    # a.txt and sub/c.txt hold the same bytes: one blob
    assert blob_count(blob_store) == 2
    assert first.meta["stored_bytes"] == 5 + 25600
    # the same folder logged by another run adds nothing
    again = write_artifact(blob_store, other.id, "copy", kind, artifacts.folder_sources(tree))
    assert again.meta["stored_bytes"] == 0 and blob_count(blob_store) == 2

    got = blob_store.get_artifact(run.id, "out")
    assert artifacts.read_bytes(blob_store, got, "sub/b.bin") == bytes(range(256)) * 100
    out = artifacts.materialize(blob_store, got, tmp_path / "back", link=False)
    assert (out / "sub" / "c.txt").read_bytes() == b"alpha"
    # a copy, not the blob: writing to it leaves the recorded bytes alone
    (out / "a.txt").write_bytes(b"changed")
    assert artifacts.read_bytes(blob_store, got, "a.txt") == b"alpha"
    assert [a.name for a in blob_store.list_artifacts(run.id)] == ["out"]
    assert blob_store.artifact_counts([run.id, other.id]) == {run.id: 1, other.id: 1}


def test_logging_a_name_again_replaces_it(blob_store: Store) -> None:
    run = blob_store.create_run("exp")
    write_artifact(blob_store, run.id, "notes.txt", "text", [Source("notes.txt", data=b"v1")])
    write_artifact(blob_store, run.id, "notes.txt", "text", [Source("notes.txt", data=b"v2")])
    (only,) = blob_store.list_artifacts(run.id)
    assert artifacts.read_bytes(blob_store, only) == b"v2"


def test_unknown_artifacts_and_files_say_what_there_is(blob_store: Store) -> None:
    run = blob_store.create_run("exp")
    write_artifact(blob_store, run.id, "a.txt", "text", [Source("a.txt", data=b"x")])
    with pytest.raises(ArtifactNotFound, match=r"no artifact 'b\.txt' \(its artifacts: 'a\.txt'\)"):
        blob_store.get_artifact(run.id, "b.txt")
    with pytest.raises(KeyError, match="no file 'zzz'"):
        blob_store.get_artifact(run.id, "a.txt").file("zzz")


@pytest.mark.parametrize("name", ["", "../up", "/abs", "a//b", "a/./b", "back\\slash", "x" * 600])
def test_names_that_could_escape_a_folder_are_refused(blob_store: Store, name: str) -> None:
    run = blob_store.create_run("exp")
    with pytest.raises(ArtifactError):
        write_artifact(blob_store, run.id, name, "text", [Source("f", data=b"x")])
    assert blob_store.list_artifacts(run.id) == []


def test_a_failed_write_records_nothing(blob_store: Store, tmp_path: Path) -> None:
    run = blob_store.create_run("exp")
    missing = tmp_path / "gone.txt"
    with pytest.raises(FileNotFoundError):
        write_artifact(blob_store, run.id, "gone", "file", [Source("gone.txt", file=str(missing))])
    assert blob_store.list_artifacts(run.id) == []
    assert blob_store.artifact_writers() == set()  # no pending row left behind


def test_claimed_files_keep_their_blobs_from_gc(blob_store: Store) -> None:
    """Once a pending artifact's files are claimed, ``gc`` keeps their blobs whatever the
    writer's state, so the writer can look for them without holding gc's lock."""
    run = blob_store.create_run("exp")
    data = b"payload"
    digest = digest_bytes(data)
    blob_store.blobs.put_bytes(digest, data)  # stored before, by a run since deleted
    blob_store.begin_artifact(run.id, "p", "text")
    blob_store.claim_artifact_files(run.id, "p", [ArtifactFile("p", digest, len(data))])
    assert blob_store.list_artifacts(run.id) == []  # not complete: not listed
    sn = Snapshotter(blob_store)
    try:
        assert sn.gc()["orphans"] == 0 and blob_store.blobs.has(digest)
        blob_store.complete_artifact(run.id, "p", [ArtifactFile("p", digest, len(data))])
        assert [a.name for a in blob_store.list_artifacts(run.id)] == ["p"]
        with pytest.raises(ArtifactNotFound):  # complete already: nothing to claim
            blob_store.claim_artifact_files(run.id, "p", [])
    finally:
        sn.close()


def test_the_records_say_which_blobs_are_stored(blob_store: Store, tmp_path: Path) -> None:
    """What a writer to a remote blob store trusts without asking the server: the blobs a
    complete artifact or a complete file snapshot names. Not those only a pending artifact
    names (they may not be written yet), nor a deleted artifact's (gc may remove them)."""
    run = blob_store.create_run("exp")
    done, snapped, pending = b"in a complete artifact", b"in a file snapshot", b"pending"
    write_artifact(blob_store, run.id, "done", "file", [Source("done", data=done)])
    path = tmp_path / "snapped.bin"
    path.write_bytes(snapped)
    sn = Snapshotter(blob_store)
    try:
        sn.snapshot_file(path, progress=False).wait(30)
    finally:
        sn.close()
    files = [ArtifactFile(d.decode(), digest_bytes(d), len(d)) for d in (done, snapped, pending)]
    blob_store.begin_artifact(run.id, "other", "folder")
    blob_store.claim_artifact_files(run.id, "other", files[2:])  # pending: not trusted
    blob_store.begin_artifact(run.id, "new", "folder")
    known = blob_store.claim_artifact_files(run.id, "new", files, known=True)
    assert known == dict.fromkeys([digest_bytes(done), digest_bytes(snapped)])  # own blobs
    assert blob_store.claim_artifact_files(run.id, "new", files) == {}  # not asked
    blob_store.delete_artifact(run.id, "done")
    known = blob_store.claim_artifact_files(run.id, "new", files, known=True)
    assert known == {digest_bytes(snapped): None}


def test_the_records_say_where_packed_bytes_are(blob_store: Store) -> None:
    """Bytes a complete artifact keeps in a pack are known by their pack and offset, which
    a new claim's rows take at once (so ``gc`` keeps the pack from then on); the pack
    itself is a stored blob; a pending artifact's packed bytes are not trusted."""
    run = blob_store.create_run("exp")
    pack = digest_bytes(b"ab" + b"cd")
    a = ArtifactFile("a", digest_bytes(b"ab"), 2, pack, 0)
    c = ArtifactFile("c", digest_bytes(b"cd"), 2, pack, 2)
    pending = ArtifactFile("p", digest_bytes(b"pp"), 2, digest_bytes(b"pp"), 0)
    blob_store.record_artifact(run.id, "packed", "folder", [a, c])
    blob_store.begin_artifact(run.id, "other", "folder")
    blob_store.claim_artifact_files(run.id, "other", [pending])
    assert blob_store.get_artifact(run.id, "packed").files == (a, c)

    blob_store.begin_artifact(run.id, "new", "folder")
    asked = [
        ArtifactFile("x", a.digest, 2),
        ArtifactFile("y", c.digest, 2),
        ArtifactFile("z", pending.digest, 2),
        ArtifactFile("pack-itself", pack, 4),
    ]
    known = blob_store.claim_artifact_files(run.id, "new", asked, known=True)
    assert known == {a.digest: (pack, 0), c.digest: (pack, 2), pack: None}
    # a local store's writer checks its own blobs' files, but packed bytes have none
    blob_store.begin_artifact(run.id, "local", "folder")
    packed_only = blob_store.claim_artifact_files(run.id, "local", asked)
    assert packed_only == {a.digest: (pack, 0), c.digest: (pack, 2)}
    blob_store.abandon_artifact(run.id, "local")
    blob_store.delete_artifact(run.id, "packed")
    assert blob_store.artifact_blob_in_use(pack)  # the pending claim names it now
    blob_store.complete_artifact(run.id, "new", asked)  # nothing packed since the claim
    files = {f.path: f for f in blob_store.get_artifact(run.id, "new").files}
    assert (files["x"].pack, files["x"].offset) == (pack, 0)
    assert (files["y"].pack, files["y"].offset) == (pack, 2)
    assert files["z"].pack is None and files["pack-itself"].pack is None


def test_bytes_a_gc_removed_before_the_claim_are_written_again(
    blob_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes stored already are not copied again; if a gc removes them just before the
    files are claimed, the writer finds them missing and stores them again rather than
    record an artifact without data."""
    run = blob_store.create_run("exp")
    data = b"shared bytes"
    first = write_artifact(
        blob_store, run.id, "first.bin", "file", [Source("first.bin", data=data)]
    )
    assert first.meta["stored_bytes"] == len(data)
    again = write_artifact(
        blob_store, run.id, "again.bin", "file", [Source("again.bin", data=data)]
    )
    assert again.meta["stored_bytes"] == 0
    real = blob_store.open_artifact

    def racing_gc(*args: object, **kwargs: object) -> None:
        blob_store.blobs.delete(digest_bytes(data))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(blob_store, "open_artifact", racing_gc)
    third = write_artifact(
        blob_store, run.id, "third.bin", "file", [Source("third.bin", data=data)]
    )
    assert third.meta["stored_bytes"] == len(data)
    assert artifacts.read_bytes(blob_store, third) == data


def test_a_copy_failing_in_a_writer_thread_fails_the_log(
    blob_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file removed between its hashing and its copy fails the whole log: nothing is
    recorded, no blob of the batch is published, no temp file is left behind. (Files are
    copied from their paths here: small ones are otherwise stored from the bytes hashed.)"""
    monkeypatch.setattr(artifacts, "SMALL_FILE", 0)
    run = blob_store.create_run("exp")
    tree = make_tree(tmp_path / "t", {f"f{i:02d}.txt": bytes([i]) * 10 for i in range(20)})
    real = blob_store.open_artifact

    def user_deletes_one(*args: object, **kwargs: object) -> None:
        (tree / "f07.txt").unlink(missing_ok=True)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(blob_store, "open_artifact", user_deletes_one)
    with pytest.raises(FileNotFoundError, match="f07.txt"):
        write_artifact(blob_store, run.id, "t", "folder", artifacts.folder_sources(tree))
    assert blob_store.list_artifacts(run.id) == []
    assert blob_store.artifact_writers() == set()
    root = blob_store.blobs.root  # type: ignore[attr-defined]
    assert not [p for p in root.rglob("*") if p.is_file()]


def test_a_small_file_is_stored_as_it_was_hashed(
    blob_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small file is read once: the bytes hashed are the bytes stored, even if the file
    changes or goes before its blob is written."""
    run = blob_store.create_run("exp")
    tree = make_tree(tmp_path / "t", {"a.txt": b"first", "b.txt": b"second"})
    real = blob_store.open_artifact

    def user_edits(*args: object, **kwargs: object) -> None:
        (tree / "a.txt").write_bytes(b"edited afterwards")
        (tree / "b.txt").unlink()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(blob_store, "open_artifact", user_edits)
    art = write_artifact(blob_store, run.id, "t", "folder", artifacts.folder_sources(tree))
    assert artifacts.read_bytes(blob_store, art, "a.txt") == b"first"
    assert artifacts.read_bytes(blob_store, art, "b.txt") == b"second"
    assert {f.digest for f in art.files} == {digest_bytes(b"first"), digest_bytes(b"second")}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX symlinks and fifos")
def test_a_folder_lists_its_files_and_links_to_files_only(tmp_path: Path) -> None:
    """Each folder's files by name, then its subfolders; a link to a file is followed, a
    link to a folder is not (no cycle can loop), a dangling link or a fifo is skipped."""
    tree = make_tree(tmp_path / "t", {"b.txt": b"b", "a.txt": b"a", "z/d.txt": b"d", "s/c": b"c"})
    outside = make_tree(tmp_path / "o", {"x.txt": b"x"})
    (tree / "link.txt").symlink_to(outside / "x.txt")
    (tree / "m").symlink_to(outside, target_is_directory=True)
    (tree / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tree / "pipe")
    sources = artifacts.folder_sources(tree)
    assert [s.path for s in sources] == ["a.txt", "b.txt", "link.txt", "s/c", "z/d.txt"]
    assert sources[2].file == str(tree / "link.txt")


def test_materialize_links_or_copies_over_what_is_there(blob_store: Store, tmp_path: Path) -> None:
    run = blob_store.create_run("exp")
    tree = make_tree(tmp_path / "t", {"top.txt": b"top", "deep/er/b.bin": b"bytes"})
    art = write_artifact(blob_store, run.id, "t", "folder", artifacts.folder_sources(tree))
    blob = blob_store.blobs.path_of(art.file("deep/er/b.bin").digest)  # type: ignore[attr-defined]
    linked = artifacts.materialize(blob_store, art, tmp_path / "out")
    assert (linked / "deep" / "er" / "b.bin").stat().st_ino == blob.stat().st_ino
    copied = artifacts.materialize(blob_store, art, tmp_path / "out", link=False)
    target = copied / "deep" / "er" / "b.bin"
    assert target.read_bytes() == b"bytes" and target.stat().st_ino != blob.stat().st_ino
    target.write_bytes(b"edited")  # a copy is the reader's own
    assert blob.read_bytes() == b"bytes"


def test_gc_keeps_artifact_blobs_and_collects_them_with_their_run(blob_store: Store) -> None:
    run = blob_store.create_run("exp")
    write_artifact(blob_store, run.id, "keep.txt", "text", [Source("keep.txt", data=b"keep")])
    sn = Snapshotter(blob_store)
    try:
        report = sn.gc()
        assert report["orphans"] == 0 and blob_count(blob_store) == 1
        blob_store.delete_run(run.id)
        report = sn.gc()
        assert report["orphans"] == 1 and blob_count(blob_store) == 0
    finally:
        sn.close()


def test_gc_leaves_the_blobs_of_an_artifact_being_written(blob_store: Store) -> None:
    """Between ``begin_artifact`` and the claim of its files, blobs may be on disk that no
    row names; the pending row's live writer keeps ``gc`` off them."""
    run = blob_store.create_run("exp")
    data = b"in flight"
    digest = digest_bytes(data)
    blob_store.begin_artifact(run.id, "f", "text")
    blob_store.blobs.put_bytes(digest, data)
    assert blob_store.artifact_writers() == {"alive"}
    sn = Snapshotter(blob_store)
    try:
        assert sn.gc()["orphans"] == 0
        assert blob_store.blobs.has(digest)
        files = [ArtifactFile("f", digest, len(data))]
        blob_store.claim_artifact_files(run.id, "f", files)
        blob_store.complete_artifact(run.id, "f", files)
    finally:
        sn.close()


def test_a_file_snapshot_and_an_artifact_of_the_same_bytes_share_a_blob(
    blob_store: Store, tmp_path: Path
) -> None:
    """A data file snapshotted and then logged as an artifact is one blob; collecting the
    snapshot (no run uses it) must not take the artifact's bytes with it."""
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")
    sn = Snapshotter(blob_store)
    try:
        snap = sn.snapshot_file(path).wait(30)
        run = blob_store.create_run("exp")
        write_artifact(
            blob_store, run.id, "train.csv", "file", [Source("train.csv", file=str(path))]
        )
        assert blob_count(blob_store) == 1
        report = sn.gc()
        assert snap.digest in report["snapshots"]
        art = blob_store.get_artifact(run.id, "train.csv")
        assert artifacts.read_bytes(blob_store, art) == b"a,b\n1,2\n"
    finally:
        sn.close()


# the public API ---------------------------------------------------------------------------------


def test_log_functions_write_into_the_active_run(api_store: Store, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    report = tmp_path / "report.md"
    report.write_text("# Results\n")
    with mltrack.start_run(name="logs") as run:
        mltrack.log_artifact(report)
        mltrack.log_text("line one\nline two\n", "notes/log.txt")
        mltrack.log_dict({"lr": 0.1, "bad": float("nan"), "layers": (3, 4)}, "config")
        mltrack.log_dict({"lr": 0.1}, "config.yaml")
        mltrack.log_dict({"lr": 0.2}, "params.txt")  # kept as named, holding JSON
        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        mltrack.log_figure(fig, "loss")
        plt.close(fig)
        mltrack.log_figure(go.Figure(go.Bar(y=[1, 2])), "bars")
    found = {a.name: a for a in api_store.list_artifacts(run.id)}
    assert sorted(found) == [
        "bars",
        "config.json",
        "config.yaml",
        "loss",
        "notes/log.txt",
        "params.txt",
        "report.md",
    ]
    assert json.loads(artifacts.read_bytes(api_store, found["params.txt"])) == {"lr": 0.2}
    assert found["params.txt"].kind == "dict" and found["params.txt"].media_type == "text/plain"
    assert found["report.md"].kind == "file" and found["report.md"].media_type == "text/markdown"
    config = json.loads(artifacts.read_bytes(api_store, found["config.json"]))
    assert config == {"lr": 0.1, "bad": None, "layers": [3, 4]}
    assert artifacts.read_bytes(api_store, found["config.yaml"]) == b"lr: 0.1\n"
    assert [f.path for f in found["loss"].files] == ["loss.png", "loss.svg"]
    assert artifacts.read_bytes(api_store, found["loss"], "loss.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert found["bars"].media_type == "application/vnd.plotly.v1+json"
    figure = json.loads(artifacts.read_bytes(api_store, found["bars"], "bars.json"))
    assert figure["data"][0]["type"] == "bar"


def test_log_figure_with_an_extension_keeps_that_format_only(api_store: Store) -> None:
    import matplotlib
    import plotly.graph_objects as go

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    with mltrack.start_run() as run:
        art = mltrack.log_figure(fig, "plots/roc.svg")
        with pytest.raises(ArtifactError, match=r"cannot be saved as \.html"):
            mltrack.log_figure(fig, "roc.html")
        # an extension no format has is refused, not kept as fig.xyz.png and fig.xyz.svg
        with pytest.raises(ArtifactError) as refused:
            mltrack.log_figure(fig, "fig.xyz")
        assert str(refused.value) == (
            "a matplotlib figure cannot be saved as .xyz ('fig.xyz'): end the name with one "
            "of .png, .svg, .pdf, .jpg, .jpeg, or give it no extension (no dot) to keep it "
            "as .png and .svg"
        )
        with pytest.raises(ArtifactError, match=r"\.json, \.html, or give it no extension"):
            mltrack.log_figure(go.Figure(), "bars.xyz")
        upper = mltrack.log_figure(fig, "ROC.PNG")
        # letters after the last dot are an extension; a number is part of the name
        decimal = mltrack.log_figure(fig, "loss_lr0.01")
        trailing = mltrack.log_figure(fig, "roc.")
        with pytest.raises(ArtifactError, match="matplotlib or plotly figure"):
            mltrack.log_figure(object(), "x")
    plt.close(fig)
    assert [f.path for f in art.files] == ["roc.svg"] and art.media_type == "image/svg+xml"
    assert [f.path for f in upper.files] == ["ROC.png"]
    assert [f.path for f in decimal.files] == ["loss_lr0.01.png", "loss_lr0.01.svg"]
    assert [f.path for f in trailing.files] == ["roc.png", "roc.svg"]
    assert art.run_id == run.id
    assert sorted(a.name for a in api_store.list_artifacts(run.id)) == [
        "ROC.PNG",
        "loss_lr0.01",
        "plots/roc.svg",
        "roc.",
    ]


def test_log_text_refuses_what_utf8_cannot_encode(api_store: Store) -> None:
    """A lone surrogate has no UTF-8: refused, at its position, rather than stored as bytes
    no reader decodes; log_dict keeps it as JSON's (and YAML's) escape."""
    with mltrack.start_run() as run:
        with pytest.raises(ArtifactError) as refused:
            mltrack.log_text("ok \ud800 then", "t.txt")
        assert "'\\ud800' at position 3, a lone surrogate" in str(refused.value)
        assert isinstance(refused.value, ValueError)
        kept = mltrack.log_text("naïve ✓\n", "fine.txt")
        as_json = mltrack.log_dict({"k": "a\ud800", "é": 1}, "d.json")
        as_yaml = mltrack.log_dict({"k": "a\ud800"}, "d.yaml")
    assert [a.name for a in api_store.list_artifacts(run.id)] == ["d.json", "d.yaml", "fine.txt"]
    assert artifacts.read_bytes(api_store, kept).decode("utf-8") == "naïve ✓\n"
    assert json.loads(artifacts.read_bytes(api_store, as_json).decode("utf-8")) == {
        "k": "a\ud800",
        "é": 1,
    }
    import yaml

    assert yaml.safe_load(artifacts.read_bytes(api_store, as_yaml).decode("utf-8")) == {
        "k": "a\ud800"
    }


def test_logging_into_a_finished_run_by_reference(api_store: Store) -> None:
    with mltrack.start_run() as run:
        pass
    mltrack.log_text("after the fact", "late.txt", run=run.number)
    assert [a.name for a in api_store.list_artifacts(run.id)] == ["late.txt"]
    with pytest.raises(ArtifactError, match="no file or folder"):
        mltrack.log_artifact("/no/such/path", run=run.id)


def test_previews_are_mime_bundles(api_store: Store, tmp_path: Path) -> None:
    png = tmp_path / "tiny.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    blob = tmp_path / "weights.bin"
    blob.write_bytes(os.urandom(64))
    with mltrack.start_run() as run:
        mltrack.log_text("x" * (1 << 20) + "tail", "big.txt")
        mltrack.log_dict({"a": 1}, "d.json")
        mltrack.log_artifact(png)
        mltrack.log_artifact(blob)
    get = lambda name: api_store.get_artifact(run.id, name)  # noqa: E731
    big = preview(api_store, get("big.txt"))
    assert big["truncated"] and len(big["bundle"]["text/plain"]) == 1 << 20
    assert preview(api_store, get("d.json"))["bundle"]["application/json"] == {"a": 1}
    image = preview(api_store, get("tiny.png"))["bundle"]
    assert list(image) == ["image/png"]
    binary = preview(api_store, get("weights.bin"))
    assert binary["bundle"] is None and "download" in binary["reason"]


def test_an_artifact_logged_while_the_store_cannot_be_written_is_spooled(
    tmp_path: Path,
) -> None:
    """A ``SpoolingStore`` that went offline: the blobs are stored, the artifact's record
    waits in the spool, and the replay writes it after its run (twice is once)."""
    from jupyter_mltrack.store.spool import SpoolingStore, replay

    home = tmp_path / "home"
    st = SpoolingStore(str(home), spool=tmp_path / "spool.db")
    try:
        run = st.create_run("exp")
        st._go_offline("the test took the store away")
        art = write_artifact(st, run.id, "notes.txt", "text", [Source("notes.txt", data=b"kept")])
        assert art.status == "spooled" and st.blobs.has(art.files[0].digest)
        assert Store.list_artifacts(st, run.id) == []  # not in the database yet
        assert replay(st, st.spool).written == 1
        (got,) = st.list_artifacts(run.id)
        assert artifacts.read_bytes(st, got) == b"kept" and got.status == "complete"
        st.record_artifact(
            run.id, "notes.txt", "text", [list(f.to_dict().values()) for f in got.files]
        )
        assert [a.name for a in st.list_artifacts(run.id)] == ["notes.txt"]
    finally:
        st.close()


@pytest.mark.parametrize("by", ["hold and spool", "hold", "spool"])
def test_gc_keeps_the_blobs_of_an_artifact_waiting_in_the_spool(
    tmp_path: Path, by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An artifact logged while the database could not be written has its blobs stored and
    its record in the spool: no row names them until the replay. A ``gc`` meanwhile (the
    database back for it, the kernel that spooled gone) keeps them, files and packs, and
    the replay then records an artifact that reads back. Each of the two keeps them alone:
    the hold the writer left in the blob store (a spool on another machine, which gc
    cannot read) and this host's spool (one written before holds)."""
    from jupyter_mltrack.store import blob_holds
    from jupyter_mltrack.store.spool import SpoolingStore, replay

    tree = make_tree(tmp_path / "src", {f"f{i:02d}.bin": os.urandom(50 + i) for i in range(20)})
    home = tmp_path / "home"
    if by == "spool":
        monkeypatch.setattr(blob_holds, "new_hold", lambda blobs: None)
        monkeypatch.setattr(blob_holds, "put_hold", lambda *args, **kwargs: None)
    # the spool this store's URL names, as gc finds it, or one on another machine
    st = SpoolingStore(str(home), spool=tmp_path / "elsewhere.sqlite" if by == "hold" else None)
    try:
        run = st.create_run("exp")
        st._go_offline("the test took the store away")
        kind, name, sources = artifacts.sources_of(tree)
        folder = write_artifact(st, run.id, name, kind, sources)
        note = write_artifact(st, run.id, "n.txt", "text", [Source("n.txt", data=b"note")])
        assert {folder.status, note.status} == {"spooled"}
        held = set(st.blobs.iter_digests())
        assert len(held) >= 2  # the folder's packs and the note's own blob
        online = Store(str(home))
        sn = Snapshotter(online)
        try:
            assert sn.gc()["orphans"] == 0 and set(online.blobs.iter_digests()) == held
        finally:
            sn.close()
            online.close()
        assert replay(st, st.spool).written == 2
        assert list(blob_holds.holds(st.blobs)) == []  # dropped: the rows name them now
        out = artifacts.materialize(st, st.get_artifact(run.id, name), tmp_path / "out")
        for f in folder.files:
            assert (out / f.path).read_bytes() == (tree / f.path).read_bytes(), f.path
        assert artifacts.read_bytes(st, st.get_artifact(run.id, "n.txt")) == b"note"
    finally:
        st.close()


def test_gc_deletes_no_unrecorded_blob_while_the_spool_cannot_be_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A damaged spool may name any unrecorded blob: ``gc`` then keeps them all, and says
    so (a store that does not shrink tells its user why), through ``mltrack gc`` too."""
    from jupyter_mltrack.cli import main
    from jupyter_mltrack.store.spool import spool_path

    st = Store(str(tmp_path / "home"))
    sn = Snapshotter(st)
    try:
        st.blobs.put_bytes(digest_bytes(b"unrecorded"), b"unrecorded")
        spool = spool_path(st.url)
        spool.parent.mkdir(parents=True, exist_ok=True)
        spool.write_bytes(b"not a SQLite file, " * 100)
        report = sn.gc()
        assert report["orphans"] == 0 and blob_count(st) == 1
        why = f"this host's spool ({spool}) could not be read"
        assert (report["orphans_waiting"], report["orphans_waiting_why"]) == (1, why)
        capsys.readouterr()
        assert main(["--store", st.url, "gc"]) == 0
        assert capsys.readouterr().out == (
            "nothing to delete: every snapshot is used by a run or pinned;"
            f" kept 1 unrecorded blob for a later gc: {why}\n"
        )
        spool.unlink()
        report = sn.gc()
        assert report["orphans"] == 1 and blob_count(st) == 0
        assert report["bytes_freed"] == len(b"unrecorded") and report["orphans_waiting"] == 0
    finally:
        sn.close()
        st.close()


def test_a_folder_spooled_while_the_store_is_away_is_packed_and_reads_back(
    tmp_path: Path,
) -> None:
    """Offline, a folder's many small files are packed as they are online: a few blob
    files, not one each; the spool keeps where each file sits, and once replayed the
    artifact reads back whole. Logged again offline, the same packs are the same blobs."""
    from jupyter_mltrack.store.spool import SpoolingStore, replay

    tree = make_tree(
        tmp_path / "src", {f"part{i % 3}/f{i:02d}.bin": os.urandom(100 + i) for i in range(40)}
    )
    st = SpoolingStore(str(tmp_path / "home"), spool=tmp_path / "spool.db")
    try:
        run = st.create_run("exp")
        st._go_offline("the test took the store away")
        kind, name, sources = artifacts.sources_of(tree)
        art = write_artifact(st, run.id, name, kind, sources)
        packed = {f.pack for f in art.files}
        assert art.status == "spooled" and None not in packed
        assert sorted(st.blobs.iter_digests()) == sorted(packed)  # no blob file per file
        again = write_artifact(st, run.id, "again", kind, sources)
        assert again.meta["stored_bytes"] == 0 and {f.pack for f in again.files} == packed
        assert replay(st, st.spool).written == 2
        got = st.get_artifact(run.id, name)
        assert got.status == "complete" and {f.pack for f in got.files} == packed
        out = artifacts.materialize(st, got, tmp_path / "out", link=False)
        for f in got.files:
            assert (out / f.path).read_bytes() == (tree / f.path).read_bytes(), f.path
        assert len(got.files) == 40
    finally:
        st.close()


def test_an_fsspec_store_reads_back_and_checks_the_recorded_size(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """A blob store on another fsspec filesystem (here fsspec's memory one) reads files back
    through ``BlobStore.copy_out``; a blob that no longer holds the recorded number of bytes
    fails the read, named, rather than write a short file silently."""
    import uuid

    sqlite_store.blob_url = f"memory://mltrack-{uuid.uuid4().hex}"
    blobs = sqlite_store.blobs
    assert type(blobs).__name__ == "FsspecBlobStore" and not blobs.remote
    run = sqlite_store.create_run("exp")
    tree = make_tree(tmp_path / "src", {"a.txt": b"alpha", "sub/b.bin": b"\x00" * 3000})
    kind, name, sources = artifacts.sources_of(tree)
    logged = write_artifact(sqlite_store, run.id, name, kind, sources)
    out = artifacts.materialize(sqlite_store, logged, tmp_path / "out", link=False)
    assert (out / "a.txt").read_bytes() == b"alpha"
    assert (out / "sub" / "b.bin").read_bytes() == b"\x00" * 3000
    digest = logged.file("a.txt").digest
    blobs.fs.pipe_file(blobs.path_of(digest), b"alp")  # type: ignore[attr-defined]
    with pytest.raises(BlobNotFound, match=f"'{name}' of run {run.id}: blob {digest} holds 3"):
        artifacts.materialize(sqlite_store, logged, tmp_path / "out2", link=False)
