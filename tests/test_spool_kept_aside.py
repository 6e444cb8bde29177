"""Writes the store refused when the spool was replayed (issue 12's spool, issue 14's
artifacts): kept aside, numbered and listed by ``mltrack sync``, written again by ``--retry``
once their cause is fixed, or dropped by ``--discard``, which lets ``gc`` free the blobs of
an artifact among them. Before, a refused artifact kept its blobs forever and ``mltrack
sync`` exited 1 forever after. Real SQLite stores and blob folders, through the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.models import artifacts
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.snapshots.collect import SPOOLED_WHY
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store, blob_holds
from jupyter_mltrack.store.spool import KEPT_ASIDE, Spool, SpoolingStore, spool_path


def _sync(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--store", url, "sync", *args])
    got = capsys.readouterr()
    return code, got.out, got.err


def _gc(url: str) -> dict:  # type: ignore[type-arg]
    store = Store(url)
    snapshotter = Snapshotter(store)
    try:
        return snapshotter.gc()
    finally:
        snapshotter.close()
        store.close()


def test_a_refused_artifact_is_kept_aside_and_written_by_retry_once_its_cause_is_fixed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run's model is registered; the store goes away; the notebook logs the model again
    under the same name (and a param). Replayed, the param is written and the model is
    refused (a registered version's artifact cannot be replaced): kept aside with its
    blobs, listed with its number. ``--retry`` with a wrong number changes nothing; once
    the version is deleted, ``--retry`` writes it and the new bytes read back."""
    home = tmp_path / "home"
    st = SpoolingStore(str(home))
    url = st.url
    try:
        run = st.create_run("exp")
        write_artifact(st, run.id, "model", "model", [Source("model.bin", data=b"version one")])
        assert st.register_model_version("churn", run.id, "model").version == 1
        st._go_offline("the test took the store away")
        again = write_artifact(
            st, run.id, "model", "model", [Source("model.bin", data=b"version two")]
        )
        st.log_params(run.id, {"retrained": True})
        assert again.status == "spooled" and st.spool.count() == 2
    finally:
        st.close()  # the kernel exits before the store is back

    code, out, _ = _sync(capsys, url)
    assert code == 1
    (kept,) = Spool(spool_path(url)).set_aside()
    assert (kept.op, kept.run_id, kept.artifact) == ("record_artifact", run.id, "model")
    assert out.startswith("1 write (0 new runs) written to ")
    assert f"1 write refused by the store:\n  #{kept.seq}  " in out
    assert (
        f"record_artifact 'model' of run {run.id[:8]}: ModelRegistryConflict: artifact 'model'"
        f" of run {run.id} is a registered model version; delete the version first"
    ) in out
    assert out.endswith(KEPT_ASIDE + "\n")

    # kept aside, its bytes stay: a later gc must not free what --retry will record
    report = _gc(url)
    assert (report["orphans"], report["orphans_waiting"]) == (0, 1)
    assert report["orphans_waiting_why"] == SPOOLED_WHY
    online = Store(url)
    try:
        assert online.blobs.has(again.files[0].digest)
        assert online.get_run(run.id).params == {"retrained": True}

        code, _, err = _sync(capsys, url, "--retry", str(kept.seq + 100))
        assert code == 2 and f"no write kept aside numbered #{kept.seq + 100}" in err
        assert f"(kept aside: #{kept.seq})" in err
        assert [k.seq for k in Spool(spool_path(url)).set_aside()] == [kept.seq]

        code, out, _ = _sync(capsys, url, "--retry")  # still refused: the version is there
        assert code == 1 and "1 write kept aside put back in the queue" in out
        assert [k.seq for k in Spool(spool_path(url)).set_aside()] == [kept.seq]

        online.delete_model_version("churn", 1)
        code, out, _ = _sync(capsys, url, "--retry", f"#{kept.seq}")
        assert code == 0, out
        assert out == (
            f"1 write kept aside put back in the queue\n1 write (0 new runs) written to {url}\n"
        )
        assert artifacts.read_bytes(online, online.get_artifact(run.id, "model")) == (
            b"version two"
        )
        assert list(blob_holds.holds(online.blobs)) == []  # the rows name the blobs now
        assert _sync(capsys, url)[:2] == (0, f"nothing to sync: no writes kept locally for {url}\n")
    finally:
        online.close()


def test_discard_drops_the_writes_of_a_deleted_run_and_gc_frees_their_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store goes away; the kernel logs a folder and metrics to a run that a colleague
    deletes meanwhile. The kernel's own replay says the store refused them and what to do;
    ``--json`` lists them; ``--discard`` drops them and the hold on the folder's blobs, and
    the next ``gc`` frees those, and only those."""
    home = tmp_path / "home"
    tree = tmp_path / "src"
    for i in range(30):
        (tree / f"part{i % 3}").mkdir(parents=True, exist_ok=True)
        (tree / f"part{i % 3}" / f"f{i:02d}.bin").write_bytes(os.urandom(200 + i))
    st = SpoolingStore(str(home))
    url = st.url
    try:
        kept_run = st.create_run("exp")
        write_artifact(st, kept_run.id, "notes.txt", "text", [Source("notes.txt", data=b"keep")])
        doomed = st.create_run("exp")
        st._go_offline("the test took the store away")
        kind, name, sources = artifacts.sources_of(tree)
        folder = write_artifact(st, doomed.id, name, kind, sources)
        st.log_params(doomed.id, {"lr": 0.1})
        assert folder.status == "spooled"
        spooled = {f.pack or f.digest for f in folder.files}

        colleague = Store(url)
        try:
            colleague.delete_run(doomed.id)
        finally:
            colleague.close()
        done = st.drain(force=True)
        assert done is not None and done.written == 0 and len(done.refused) == 2
        notices = st.take_notices()
        assert notices[-1] == f"mltrack: {KEPT_ASIDE}"
        assert sum("the store refused a spooled write: " in n for n in notices) == 2
    finally:
        st.close()

    code, out, _ = _sync(capsys, url, "--json")
    assert code == 1
    refused = json.loads(out)["refused"]
    assert [(r["write"], r["run_id"], r["artifact"]) for r in refused] == [
        ("record_artifact", doomed.id, name),
        ("log_params", doomed.id, None),
    ]
    assert all("RunNotFound" in r["error"] for r in refused)
    report = _gc(url)  # held until discarded, and said
    assert (report["orphans"], report["orphans_waiting"]) == (0, len(spooled))
    assert report["orphans_waiting_why"] == SPOOLED_WHY

    code, _, err = _sync(capsys, url, "--discard", "seven")
    assert code == 2 and "numbers (as `mltrack sync` lists them) or 'all'" in err
    first, second = (r["seq"] for r in refused)
    code, out, _ = _sync(capsys, url, "--discard", str(second))
    assert code == 0 and out.startswith(f"discarded 1 write kept aside:\n  #{second}  ")
    assert f"log_params of run {doomed.id[:8]}: RunNotFound" in out
    assert out.endswith("\n1 write still kept aside\n")
    assert _gc(url)["orphans"] == 0  # the folder's write is still kept aside
    code, out, _ = _sync(capsys, url, "--discard", "all")
    assert code == 0
    assert out.startswith(f"discarded 1 write kept aside:\n  #{first}  ")
    assert f"record_artifact {name!r} of run {doomed.id[:8]}: RunNotFound" in out
    assert out.endswith(
        "the files of 1 artifact are no longer kept: `mltrack gc` frees those no other"
        " artifact shares\n"
    )
    assert Spool(spool_path(url)).set_aside() == []
    assert _sync(capsys, url)[:2] == (0, f"nothing to sync: no writes kept locally for {url}\n")

    report = _gc(url)
    assert report["orphans"] == len(spooled) and report["orphans_waiting"] == 0
    online = Store(url)
    try:
        assert not any(online.blobs.has(d) for d in spooled)
        assert list(blob_holds.holds(online.blobs)) == []
        kept = online.get_artifact(kept_run.id, "notes.txt")
        assert artifacts.read_bytes(online, kept) == b"keep"
    finally:
        online.close()
    code, out, _ = _sync(capsys, url, "--discard", "all")
    assert (code, out) == (0, f"nothing to discard: no write kept aside for {url}\n")
