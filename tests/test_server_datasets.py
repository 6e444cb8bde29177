"""The dataset routes of the REST API, against a real server and real pushed versions.

Versions are pushed with the code ``mltrack.datasets.push`` runs (``push_with``) into the
store the server reads; a run reads one by name as ``mltrack.datasets.get`` records it. Every
answer is checked against ``openapi.json``; the server fixtures are those of ``test_server``
(a token is required: ``allow_unauthenticated_access=False``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jupyter_mltrack.datasets.api import push_with
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.entities import DatasetVersion

from .test_server import (  # noqa: F401 - fixtures shared with the other server tests
    _restore_exported_env,
    check,
    error_of,
    jp_asyncio_loop,
    jp_server_config,
    mltrack_config,
    server_options,
    sqlite_only,
    url,
)

pytestmark = pytest.mark.asyncio

LIST = "/mltrack/api/datasets"
DETAIL = "/mltrack/api/datasets/{dataset}"
VERSION = "/mltrack/api/datasets/{dataset}/versions/{selector}"
ROWS = "/mltrack/api/datasets/{dataset}/versions/{selector}/rows"
DIFF = "/mltrack/api/datasets/{dataset}/diff"
TAG = "/mltrack/api/datasets/{dataset}/tags/{tag}"
SNAPSHOT_DIFF = "/mltrack/api/snapshots/{a}/diff/{b}"
SNAPSHOT_ROWS = "/mltrack/api/snapshots/{ref}/rows"
NAME = "team/churn"


@pytest.fixture(autouse=True)
def _blob_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs in a folder both the test's store and the server's read (PostgreSQL needs one)."""
    monkeypatch.setenv("MLTRACK_BLOB_URL", (tmp_path / "blobs").as_uri())


@pytest.fixture
def snapshotter(store: Store) -> Iterator[Snapshotter]:
    sn = Snapshotter(store)
    yield sn
    sn.close()


def churn(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": range(n), "score": [i / 10 for i in range(n)]})


def pushed(store: Store, sn: Snapshotter) -> tuple[DatasetVersion, DatasetVersion]:
    """``team/churn`` v1 (12 rows, @v1) then v2 (15 rows: 3 appended, other meta, @gold and
    latest); run #1 of ``train`` read v1 by name."""
    v1, _ = push_with(
        store, sn, churn(12), NAME, message="march", meta={"src": "crm"}, tag="v1", pushed_by="ann"
    )
    v2, _ = push_with(
        store, sn, churn(15), NAME, message="april", meta={"src": "erp"}, tag="gold", pushed_by="bo"
    )
    store.create_run("train", data=[("input", NAME, v1.snapshot_digest, None, v1.ref)], name="fit")
    return v1, v2


async def test_list_versions_browse_rows_and_diff(
    call: Any, store: Store, snapshotter: Snapshotter
) -> None:
    empty = check(await call(LIST), LIST)
    assert empty == {"datasets": []}
    v1, v2 = pushed(store, snapshotter)

    listed = check(await call(LIST), LIST)["datasets"]
    assert [d["name"] for d in listed] == [NAME]
    assert listed[0]["versions"] == 2 and listed[0]["tags"] == {"gold": v2.hash, "v1": v1.hash}
    assert listed[0]["latest"]["hash"] == v2.hash and "runs" not in listed[0]["latest"]
    assert listed[0]["nbytes"] == v2.nbytes > 0

    detail = check(await call(url(DETAIL, dataset=NAME)), DETAIL)
    assert detail["total"] == 2 and detail["dataset"]["name"] == NAME
    newest, oldest = detail["versions"]
    assert (newest["hash"], newest["message"], newest["author"]) == (v2.hash, "april", "bo")
    assert newest["tags"] == ["gold"] and newest["latest"] and newest["runs"] == []
    assert (oldest["message"], oldest["tags"], oldest["rows"]) == ("march", ["v1"], 12)
    [use] = oldest["runs"]
    assert (use["experiment"], use["number"], use["dataset"]) == ("train", 1, v1.ref)

    # browse: the manifest the hash is taken of, the schema; by tag, prefix and full hash
    for selector in ("v1", v1.hex[:8], v1.hash):
        browsed = check(await call(url(VERSION, dataset=NAME, selector=selector)), VERSION)
        assert browsed["version"]["hash"] == v1.hash
    assert browsed["manifest"]["snapshot"] == v1.snapshot_digest
    assert browsed["manifest"]["meta"] == {"src": "crm"}
    assert [c["name"] for c in browsed["snapshot"]["schema"]["columns"]] == ["id", "score"]
    assert browsed["version"]["runs"][0]["run_id"] == use["run_id"]

    # the row preview is the snapshot's own
    page = check(
        await call(url(ROWS, dataset=NAME, selector="gold"), params={"offset": "13"}), ROWS
    )
    assert page["total_rows"] == 15 and page["index"] == [13, 14]
    assert page["rows"] == [[13, 1.3], [14, 1.4]]
    same = check(
        await call(url(SNAPSHOT_ROWS, ref=v2.snapshot_digest), params={"offset": "13"}),
        SNAPSHOT_ROWS,
    )
    assert page == same

    # the diff is the snapshots' diff, with the versions and their meta
    diff = check(await call(url(DIFF, dataset=NAME), params={"from": "v1", "to": "latest"}), DIFF)
    assert diff["from"]["hash"] == v1.hash and diff["to"]["hash"] == v2.hash
    assert diff["meta"] == {"from": {"src": "crm"}, "to": {"src": "erp"}}
    assert diff["diff"]["rows"] == {"a": 12, "b": 15, "delta": 3}
    assert diff["diff"]["appended_rows"] == 3
    raw = check(
        await call(url(SNAPSHOT_DIFF, a=v1.snapshot_digest, b=v2.snapshot_digest)), SNAPSHOT_DIFF
    )
    assert diff["diff"] == raw
    itself = check(await call(url(DIFF, dataset=NAME), params={"from": "v1", "to": "v1"}), DIFF)
    assert itself["diff"]["identical"] is True and itself["meta"] is None


async def test_tags_move_and_go(call: Any, store: Store, snapshotter: Snapshotter) -> None:
    v1, v2 = pushed(store, snapshotter)
    moved = await call(url(TAG, dataset=NAME, tag="gold"), method="POST", body='{"version": "v1"}')
    answer = check(moved, TAG, "post")
    assert answer["moved"] is True and answer["previous"] == v2.hash
    assert answer["version"]["hash"] == v1.hash and sorted(answer["version"]["tags"]) == [
        "gold",
        "v1",
    ]
    assert store.resolve_dataset_version(NAME, "gold").hash == v1.hash

    again = check(
        await call(url(TAG, dataset=NAME, tag="gold"), method="POST", body='{"version": "v1"}'),
        TAG,
        "post",
    )
    assert again["moved"] is False and again["previous"] is None
    new = check(
        await call(
            url(TAG, dataset=NAME, tag="prod"),
            method="POST",
            body=f'{{"version": "{v2.hex[:10]}"}}',
        ),
        TAG,
        "post",
    )
    assert new["moved"] is False and new["version"]["hash"] == v2.hash

    gone = await call(url(TAG, dataset=NAME, tag="gold"), method="DELETE")
    assert gone.code == 204
    assert store.get_dataset(NAME).tags == {"prod": v2.hash, "v1": v1.hash}
    assert "no tag 'gold'" in error_of(
        await call(url(TAG, dataset=NAME, tag="gold"), method="DELETE"), 404
    )


@sqlite_only
async def test_clear_refusals(call: Any, store: Store, snapshotter: Snapshotter) -> None:
    v1, _ = pushed(store, snapshotter)
    # unknown names, tags and prefixes: 404, naming what there is
    assert "datasets: team/churn" in error_of(await call(url(DETAIL, dataset="team/other")), 404)
    message = error_of(await call(url(VERSION, dataset=NAME, selector="silver")), 404)
    assert "no tag 'silver'" in message and "gold" in message
    assert "no tag" in error_of(await call(url(ROWS, dataset=NAME, selector="abcdef12")), 404)
    missing = await call(url(DIFF, dataset=NAME), params={"from": "v1", "to": "nope"})
    assert "no tag 'nope'" in error_of(missing, 404)
    # names and references that cannot be read: 400
    assert "dataset name" in error_of(await call(url(DETAIL, dataset="bad name")), 400)
    assert "from and to" in error_of(await call(url(DIFF, dataset=NAME), params={"to": "v1"}), 400)
    unknown = await call(url(DIFF, dataset=NAME), params={"from": "v1", "to": "v1", "x": "1"})
    assert "unknown query parameter 'x'" in error_of(unknown, 400)
    # bad tags and bodies: 400, and nothing changes
    tag_url = url(TAG, dataset=NAME, tag="latest")
    assert "reserved" in error_of(await call(tag_url, method="POST", body='{"version": "v1"}'), 400)
    hexlike = url(TAG, dataset=NAME, tag="abcdef")
    assert "hash prefix" in error_of(
        await call(hexlike, method="POST", body='{"version": "v1"}'), 400
    )
    for body in ("", '{"version": 1}', '{"version": "v1", "force": true}', "[]"):
        response = await call(url(TAG, dataset=NAME, tag="ok"), method="POST", body=body)
        assert error_of(response, 400)
    absent = await call(
        url(TAG, dataset="team/none", tag="ok"), method="POST", body='{"version": "v1"}'
    )
    assert "no dataset 'team/none'" in error_of(absent, 404)
    assert store.get_dataset(NAME).tags == {
        "gold": store.get_dataset(NAME).latest.hash,
        "v1": v1.hash,
    }


@sqlite_only
async def test_a_file_version_has_no_rows(
    call: Any, store: Store, snapshotter: Snapshotter, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    push_with(store, snapshotter, path, "docs/notes", pushed_by="ann")
    browsed = check(await call(url(VERSION, dataset="docs/notes", selector="latest")), VERSION)
    assert browsed["version"]["kind"] == "file" and browsed["snapshot"]["schema"]["name"]
    rows = await call(url(ROWS, dataset="docs/notes", selector="latest"))
    assert "a file has no rows" in error_of(rows, 400)
