"""Named, versioned datasets (``mltrack.datasets``) on SQLite and PostgreSQL: versions named
by the hash of their manifest, pushed once, got back exactly, tagged, diffed, listed with
the runs that read them, kept by ``gc``; refusals that say what is wrong.

The tracked cell that records ``team/churn@<hash>`` as its input, and the exported pipeline
that gets the same version, are in tests/test_kernel_snapshots.py (they need a kernel)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import xxhash
from sqlalchemy import insert, update

import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import api, data
from jupyter_mltrack.datasets import inputs
from jupyter_mltrack.datasets.api import push_with
from jupyter_mltrack.snapshots.errors import SnapshotError
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import DatasetNotFound, InvalidDatasetRef, InvalidName, Store
from jupyter_mltrack.store.dataset_records import parse_dataset_ref, version_hash
from jupyter_mltrack.store.models import DatasetRow, DatasetTagRow, DatasetVersionRow


@pytest.fixture
def ds(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The process's store (what ``mltrack.datasets`` uses), on each backend."""
    st = Store(store_url, blob_url=(tmp_path / "blobs").as_uri())
    monkeypatch.setattr(api, "_store", st)
    inputs.clear()
    yield st
    inputs.clear()
    sn = data._snapshotters.pop(id(st), None)
    if sn is not None:
        sn.close()
    st.close()


def frame(n: int = 5, **extra: object) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n), "y": [f"r{i}" for i in range(n)], **extra})


def test_pushing_the_same_data_twice_makes_one_version(ds: Store) -> None:
    v1 = mltrack.datasets.push(frame(), "team/churn", message="March", meta={"src": "crm"})
    again = mltrack.datasets.push(frame(), "team/churn", message="March again", meta={"src": "crm"})
    assert again == v1 and again.message == "March"  # the first push's record, unchanged
    assert [v.hash for v in mltrack.datasets.versions("team/churn")] == [v1.hash]
    assert v1.kind == "dataframe" and (v1.rows, v1.columns) == (5, 2) and v1.nbytes > 0
    assert v1.author and v1.latest and v1.ref == f"team/churn@{v1.hash.split(':')[1]}"
    # other meta is another version of the same data
    v2 = mltrack.datasets.push(frame(), "team/churn", meta={"src": "crm", "fixed": True})
    assert v2.hash != v1.hash and v2.snapshot_digest == v1.snapshot_digest
    assert [v.hash for v in mltrack.datasets.versions("team/churn")] == [v2.hash, v1.hash]


def test_the_hash_is_that_of_the_manifest_in_any_store(ds: Store, tmp_path: Path) -> None:
    meta = {"b": [1, 2.5, None], "a": {"nested": "é"}}
    here = mltrack.datasets.push(frame(), "team/churn", meta=meta)
    other = Store(str(tmp_path / "other"))
    sn = Snapshotter(other)
    try:
        there, created = push_with(
            other, sn, frame(), "elsewhere/churn", meta=dict(reversed(meta.items()))
        )
    finally:
        sn.close()
        other.close()
    assert created and there.hash == here.hash  # another store, name and key order
    # the definition, spelled out: xxh3-128 of the canonical JSON manifest
    manifest = {
        "algorithm": "xxh3-128",
        "format": "mltrack-dataset-version/1",
        "meta": meta,
        "snapshot": here.snapshot_digest,
    }
    body = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert here.hash == "xxh3-128:" + xxhash.xxh3_128(body.encode()).hexdigest()
    assert version_hash(here.snapshot_digest, meta) == here.hash
    assert mltrack.datasets.browse("team/churn").manifest == manifest


def test_get_gives_back_exactly_what_was_pushed(ds: Store, tmp_path: Path) -> None:
    df = frame(7, when=pd.date_range("2024-01-01", periods=7, tz="UTC"))
    df["cat"] = pd.Categorical(list("aabbcca"))
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    table = pa.table({"k": [1, 2, None], "s": ["a", None, "c"]})
    (tmp_path / "raw.csv").write_bytes(b"a,b\n1,2\n")
    mltrack.datasets.push(df, "t/frame")
    mltrack.datasets.push(arr, "t/array")
    mltrack.datasets.push(table, "t/table")
    file_version = mltrack.datasets.push(tmp_path / "raw.csv", "t/file")
    pd.testing.assert_frame_equal(mltrack.datasets.get("t/frame"), df)
    got = mltrack.datasets.get("t/array@latest")
    assert got.dtype == arr.dtype and np.array_equal(got, arr)
    assert mltrack.datasets.get("t/table").equals(table)
    path = mltrack.datasets.get("t/file")
    assert isinstance(path, Path) and path.read_bytes() == b"a,b\n1,2\n"
    assert file_version.kind == "file" and file_version.nbytes == 8
    with pytest.raises(SnapshotError, match="no such file or folder"):
        mltrack.datasets.push(tmp_path / "absent.csv", "t/file")


def test_a_tag_move_says_what_it_replaced_while_another_moves_it(ds: Store) -> None:
    """What a move reports as replaced ("moved from", the REST route's ``previous``) is read
    in the move's own transaction once it holds the dataset's row, so two moves at once never
    both report the same version. Here another store's transaction holds the row and moves
    ``gold`` to v2 while ours starts moving it to v3: ours waits, then says it replaced v2
    (it read v1 before the other committed, when the read came first)."""
    v1 = mltrack.datasets.push(frame(3), "team/churn", tag="gold")
    v2 = mltrack.datasets.push(frame(4), "team/churn")
    v3 = mltrack.datasets.push(frame(5), "team/churn")
    other = Store(ds.url)
    moved: list[object] = []
    try:
        with other.engine.begin() as conn:
            conn.execute(
                update(DatasetRow).where(DatasetRow.name == "team/churn").values(updated_at=1.0)
            )
            conn.execute(
                update(DatasetTagRow).where(DatasetTagRow.tag == "gold").values(hash=v2.hash)
            )
            mover = threading.Thread(
                target=lambda: moved.append(ds.move_dataset_tag("team/churn", "gold", v3.hash)),
                daemon=True,
            )
            mover.start()
            mover.join(timeout=1.0)
            assert mover.is_alive(), "the move did not wait for the dataset's row"
        mover.join(timeout=60)
    finally:
        other.close()
    assert moved, "the move did not end"
    version, before = moved[0]  # type: ignore[misc]
    assert version.hash == v3.hash and before == v2.hash != v1.hash
    assert ds.get_dataset("team/churn").tags == {"gold": v3.hash}
    assert ds.move_dataset_tag("team/churn", "new", "latest")[1] is None


def test_refs_tags_and_hash_prefixes(ds: Store) -> None:
    v1 = mltrack.datasets.push(frame(3), "team/churn", tag="v1")
    v2 = mltrack.datasets.push(frame(4), "team/churn", tag="gold")
    assert mltrack.datasets.get("team/churn").shape == (4, 2)  # latest
    assert mltrack.datasets.get("team/churn@v1").shape == (3, 2)
    assert mltrack.datasets.get(f"team/churn@{v1.hex[:6].upper()}").shape == (3, 2)
    assert mltrack.datasets.get(f"team/churn@{v2.hash}").shape == (4, 2)
    # tags move; "latest" is the version pushed last, even when it existed before
    moved = mltrack.datasets.tag("team/churn@v1", "gold")
    assert moved.hash == v1.hash and moved.tags == ("gold", "v1")
    assert ds.get_dataset("team/churn").tags == {"gold": v1.hash, "v1": v1.hash}
    again = mltrack.datasets.push(frame(3), "team/churn")
    assert again.hash == v1.hash and again.latest
    assert [v.latest for v in mltrack.datasets.versions("team/churn")] == [False, True]
    mltrack.datasets.untag("team/churn", "v1")
    assert mltrack.datasets.browse("team/churn@gold").version.tags == ("gold",)

    with pytest.raises(DatasetNotFound, match="no dataset 'team/nope' \\(datasets: team/churn\\)"):
        mltrack.datasets.get("team/nope")
    with pytest.raises(DatasetNotFound, match="no tag 'v1' \\(its tags: gold\\)"):
        mltrack.datasets.get("team/churn@v1")
    with pytest.raises(DatasetNotFound, match="a hash prefix needs at least 6 hex digits"):
        mltrack.datasets.get(f"team/churn@{v1.hex[:5]}")
    with pytest.raises(DatasetNotFound, match="no version whose hash starts with it"):
        mltrack.datasets.get("team/churn@ffffff0000")
    with pytest.raises(InvalidDatasetRef, match="name a version after '@'"):
        mltrack.datasets.get("team/churn@")
    with pytest.raises(InvalidDatasetRef, match="one '@' at most"):
        parse_dataset_ref("team/churn@a@b")
    for bad in ("latest", "abc123", "a/b", "-x"):
        with pytest.raises(InvalidName):
            mltrack.datasets.tag("team/churn", bad)

    # two versions whose hashes share a prefix (written directly: hashes are not chosen)
    dataset_id = ds.engine.connect().exec_driver_sql("SELECT id FROM datasets").scalar()
    with ds.engine.begin() as conn:
        for suffix in ("0" * 26, "1" * 26):
            conn.execute(
                insert(DatasetVersionRow),
                {
                    "dataset_id": dataset_id,
                    "hash": f"xxh3-128:abcdef{suffix}",
                    "snapshot_digest": v1.snapshot_digest,
                    "message": "",
                    "meta": "{}",
                    "author": "",
                    "created_at": 0.0,
                },
            )
    with pytest.raises(InvalidDatasetRef, match="ambiguous: 2 versions' hashes start with it"):
        mltrack.datasets.get("team/churn@abcdef")
    assert mltrack.datasets.browse("team/churn@abcdef0").version.hash.endswith("0" * 26)


def test_names_and_meta_are_checked_before_any_data_is_read(ds: Store) -> None:
    for bad in ("team//churn", "/churn", "churn/", "a b", "a@b", "a:b", ".hidden", ""):
        with pytest.raises(InvalidName, match="dataset name"):
            mltrack.datasets.push(frame(), bad)
    for meta, why in (
        ({"x": float("nan")}, "not a JSON number"),
        ({"x": (1, 2)}, "a tuple is not plain JSON"),
        ({"x": np.int64(1)}, "int64 is not plain JSON"),
        ({1: "a"}, "key 1 is not text"),
        ([1], "meta must be a dict"),
    ):
        with pytest.raises(InvalidName, match=why):
            mltrack.datasets.push(frame(), "team/churn", meta=meta)  # type: ignore[arg-type]
    assert ds.list_datasets() == [] and ds.list_snapshots()[1] == 0


def test_diff_browse_and_list(ds: Store) -> None:
    a = mltrack.datasets.push(frame(5), "team/churn", tag="v1")
    mltrack.datasets.push(frame(5, z=np.ones(5)), "team/churn", tag="v2", meta={"k": 1})
    diff = mltrack.datasets.diff("team/churn@v1", "team/churn@v2")
    assert diff["schema"]["added"] == ["z"] and not diff["identical"]
    assert diff["meta"] == {"a": {}, "b": {"k": 1}}
    assert diff.summary().startswith(f"team/churn@{a.short} -> team/churn@")
    assert "added: z" in diff.summary() and "changed columns" not in diff.summary()
    same = mltrack.datasets.diff("team/churn@v1", f"team/churn@{a.hex[:8]}")
    assert same["identical"]
    browsed = mltrack.datasets.browse("team/churn@v2")
    assert [c["name"] for c in browsed.schema["columns"]] == ["x", "y", "z"]
    assert browsed.snapshot.rows == 5 and browsed.stats is not None
    (listed,) = mltrack.datasets.list()
    assert listed.name == "team/churn" and listed.version_count == 2
    assert listed.latest is not None and listed.latest.tags == ("v2",)
    assert set(listed.to_dict()["tags"]) == {"v1", "v2"}


def test_versions_list_the_runs_that_read_them_and_gc_keeps_them(ds: Store) -> None:
    v1 = mltrack.datasets.push(frame(3), "team/churn", tag="v1")
    v2 = mltrack.datasets.push(frame(4), "team/churn")
    with mltrack.start_run("by-name", experiment="ds") as run:
        mltrack.datasets.get("team/churn@v1")
    with mltrack.start_run("same-data", experiment="ds") as again:
        mltrack.snapshot(frame(3), name="copy")  # v1's data: in this process, v1
    inputs.clear()  # as in a process that never got nor pushed it
    with mltrack.start_run("same-data", experiment="ds") as other:
        mltrack.snapshot(frame(3), name="copy")  # v1's content, read another way
    mltrack.datasets.push(frame(3), "other/copy")  # the same content in another dataset
    with mltrack.start_run("other-dataset", experiment="ds") as third:
        mltrack.datasets.get("other/copy")
    (recorded,) = ds.run_data(run.id)
    assert (recorded.role, recorded.name, recorded.dataset) == ("input", "team/churn", v1.ref)
    newest, oldest = mltrack.datasets.versions("team/churn")
    assert newest.hash == v2.hash and newest.runs == ()
    assert [(u.run_id, u.number, u.experiment, u.dataset) for u in oldest.runs] == [
        (run.id, 1, "ds", v1.ref),
        (again.id, 2, "ds", v1.ref),
        (other.id, 3, "ds", None),  # the same data: listed, as not got by name
    ]
    assert third.id not in {u.run_id for u in oldest.runs}  # got as other/copy
    assert oldest.to_dict()["runs"][0]["dataset"] == v1.ref

    sn = data.snapshotter(ds)
    sn.gc()  # no run reads v2 and nothing pinned it: its version keeps it
    pd.testing.assert_frame_equal(mltrack.datasets.get(f"team/churn@{v2.short}"), frame(4))


def test_a_snapshot_swept_after_it_was_stored_is_stored_again(ds: Store) -> None:
    """A gc elsewhere can sweep the push's snapshot between its write and the version's
    record: the version is still only recorded over stored data."""
    sn = data.snapshotter(ds)
    first = sn.snapshot(frame(), pin=False).wait()
    sn.snapshot(frame(), pin=False)  # found complete: remembered as such from now on
    calls: list[str] = []
    record = ds.add_dataset_version

    def spy(*args: object, **kwargs: object) -> object:
        calls.append("add")
        return record(*args, **kwargs)  # type: ignore[arg-type]

    ds.add_dataset_version = spy  # type: ignore[method-assign]
    elsewhere = Snapshotter(ds)  # another process's gc: this one still trusts its memory
    try:
        assert [s.digest for s in elsewhere.store.sweep_snapshots(dry_run=True).snapshots] == [
            first.digest
        ]
        elsewhere.gc()  # unused and unpinned: swept
    finally:
        elsewhere.close()
    version = mltrack.datasets.push(frame(), "team/churn")
    assert calls == ["add", "add"]  # refused over the swept snapshot, then stored again
    assert version.snapshot_digest == first.digest
    pd.testing.assert_frame_equal(mltrack.datasets.get("team/churn"), frame())


def test_no_two_store_mixins_define_the_same_method() -> None:
    """The store is one class made of mixins: a helper named alike in two of them (both had
    a ``_version``) silently makes one call the other's."""
    seen: dict[str, str] = {}
    clashes = []
    for cls in Store.__mro__:
        if not cls.__module__.startswith("jupyter_mltrack.store"):
            continue
        for name, value in vars(cls).items():
            if not callable(value) or name.startswith("__"):
                continue
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {cls.__name__}")
            seen.setdefault(name, cls.__name__)
    assert not clashes


def test_references_built_at_run_time_are_pinned_in_an_export() -> None:
    """The script's copy of a statement names the versions its references were: a literal
    in place, a reference built at run time (a variable, an f-string, a loop) through the
    table ``get`` is given; nothing else changes (another ``.get``, a parse failure)."""
    from jupyter_mltrack.pipeline.datasets import pin_datasets

    was = "team/churn@xxh3-128:" + "ab" * 16
    got = {"team/churn@gold": was}
    table = f'pinned={{"team/churn@gold": "{was}"}}'
    note = f"# team/churn@gold was {was} when the notebook ran\n"
    assert pin_datasets("df = mltrack.datasets.get('team/churn@gold')\n", got) == (
        f'df = mltrack.datasets.get("{was}")\n',
        [note],
    )
    assert pin_datasets("df = mltrack.datasets.get(name)\n", got) == (
        f"df = mltrack.datasets.get(name, {table})\n",
        [note],
    )
    assert pin_datasets("p = mltrack.datasets.get(f'team/{n}@{t}', out)\n", got)[0] == (
        f"p = mltrack.datasets.get(f'team/{{n}}@{{t}}', out, {table})\n"
    )
    loop = "for n in names:\n    frames.append(datasets.get(\n        n,\n    ))\n"
    pinned, notes = pin_datasets(loop, got)
    assert f"datasets.get(\n        n, {table},\n    ))" in pinned and notes == [note]
    for untouched in ("y = lookup.get(name)\n", "df = mltrack.datasets.get('team/other')\n"):
        assert pin_datasets(untouched, got) == (untouched, [])
    assert pin_datasets("df = mltrack.datasets.get(name)\n", {was: was}) == (
        "df = mltrack.datasets.get(name)\n",
        [],
    )
