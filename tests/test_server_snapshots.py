"""The snapshot routes of the REST API, against a real server and real stored snapshots.

Snapshots are taken with the same ``Snapshotter`` the kernels use, into the store the server
reads; runs record them with ``add_run_data`` as a tracked cell does. Every answer is checked
against ``openapi.json``; the server fixtures are those of ``test_server``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from tornado.httpclient import HTTPResponse

from jupyter_mltrack.server import api
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Snapshot, Store

from .test_server import (  # noqa: F401 - fixtures shared with the other server tests
    _restore_exported_env,
    check,
    error_of,
    jp_asyncio_loop,
    jp_server_config,
    mltrack_config,
    server_options,
    sqlite_only,
)

LIST = "/mltrack/api/snapshots"
DETAIL = "/mltrack/api/snapshots/{ref}"
ROWS = "/mltrack/api/snapshots/{ref}/rows"
DIFF = "/mltrack/api/snapshots/{a}/diff/{b}"
ABSENT = "xxh3-128:" + "0" * 32  # a well-formed digest no snapshot has


@pytest.fixture(autouse=True)
def _blob_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where snapshot data goes. A SQLite store keeps it beside the database; a PostgreSQL
    store needs a blob URL, read by the test's store and the server's alike."""
    monkeypatch.setenv("MLTRACK_BLOB_URL", (tmp_path / "blobs").as_uri())


@pytest.fixture
def snapshotter(store: Store) -> Iterator[Snapshotter]:
    sn = Snapshotter(store)
    yield sn
    sn.close()


def take(sn: Snapshotter, obj: Any, **kwargs: Any) -> Snapshot:
    """A complete snapshot of ``obj``."""
    return sn.snapshot(obj, progress=False, **kwargs).wait()


def loads(response: HTTPResponse) -> Any:
    """The body as JSON; a bare ``NaN``/``Infinity`` token (invalid JSON) fails the test."""
    return json.loads(response.body, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def checked(response: HTTPResponse, path: str) -> Any:
    loads(response)
    return check(response, path)


async def get(jp_fetch: Any, *parts: str, **params: str) -> HTTPResponse:
    return await jp_fetch("mltrack", "api", "snapshots", *parts, params=params, raise_error=False)


def frame(n: int = 130) -> pd.DataFrame:
    """Values JSON cannot hold as they are: NaN, None, NaT, pd.NA, time zones, categories."""
    t0 = pd.Timestamp("2024-03-31 01:30", tz="Europe/Paris")
    return pd.DataFrame(
        {
            "x": [float(i) if i % 3 else math.nan for i in range(n)],
            "s": [None if i % 4 == 1 else f"s{i}" for i in range(n)],
            "t": [pd.NaT if i == 2 else t0 + pd.Timedelta(hours=i) for i in range(n)],
            "c": pd.Categorical([None if i == 3 else "ab"[i % 2] for i in range(n)]),
            "n": pd.array([None if i == 0 else i for i in range(n)], dtype="Int64"),
            "d": pd.to_timedelta([i for i in range(n)], unit="s"),
            "b": [i % 2 == 0 for i in range(n)],
        }
    )


# listing ------------------------------------------------------------------------------------


async def test_list_filter_paginate(jp_fetch: Any, store: Store, snapshotter: Snapshotter) -> None:
    first = take(snapshotter, pd.DataFrame({"a": [1, 2, 3]}))
    second = take(snapshotter, pd.DataFrame({"a": [1, 2, 4]}))
    third = take(snapshotter, np.arange(10.0), name="grid", pin=True)
    reader = store.create_run("exp", name="reader")
    store.add_run_data(reader.id, "input", "df", first.digest)
    store.add_run_data(reader.id, "output", "clean", second.digest)
    other = store.create_run("exp")
    store.add_run_data(other.id, "input", "df", first.digest)
    idle = store.create_run("exp")

    body = checked(await get(jp_fetch), LIST)
    assert [s["digest"] for s in body["snapshots"]] == [
        third.digest,
        second.digest,
        first.digest,
    ]
    assert (body["total"], body["limit"], body["offset"]) == (3, 100, 0)
    listed = body["snapshots"][0]
    assert listed["kind"] == "ndarray" and listed["shape"] == [10] and listed["rows"] == 10
    assert (listed["name"], listed["pinned"], listed["status"]) == ("grid", True, "complete")
    assert listed["short"] == third.digest.split(":")[1][:12] and listed["nbytes"] == 80
    assert "stats" not in listed and "schema" not in listed  # the detail has them

    page = checked(await get(jp_fetch, limit="1", offset="1"), LIST)
    assert [s["digest"] for s in page["snapshots"]] == [second.digest]
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)

    async def used_by(run_id: str) -> list[str]:
        return [s["digest"] for s in checked(await get(jp_fetch, run=run_id), LIST)["snapshots"]]

    assert await used_by(reader.id) == [second.digest, first.digest]
    assert await used_by(other.id) == [first.digest]
    assert await used_by(idle.id) == []
    assert len(await used_by("")) == 3  # an empty filter is no filter
    # JupyterLab's cache-busting ``&<timestamp>`` is not an unknown parameter.
    assert checked(await get(jp_fetch, **{"1700000000000": ""}), LIST)["total"] == 3

    for params, expected in (
        ({"run": "0" * 32}, (404, f"no run '{'0' * 32}'")),
        ({"run": "nope"}, (404, "no run 'nope'")),
        ({"limit": "0"}, (400, "limit must be between 1 and 1000")),
        ({"offset": "-1"}, (400, "offset must be between 0")),
        ({"offset": "x"}, (400, "offset must be an integer")),
        ({"kind": "ndarray"}, (400, "unknown query parameter 'kind'; use run, limit, offset")),
    ):
        response = await get(jp_fetch, **params)
        assert expected[1] in error_of(response, expected[0]), params
        check(response, LIST)


# detail -------------------------------------------------------------------------------------


async def test_detail_by_digest_prefix_and_name(
    jp_fetch: Any,
    jp_serverapp: Any,
    http_server_client: Any,
    jp_auth_header: Any,
    store: Store,
    snapshotter: Snapshotter,
) -> None:
    snap = take(snapshotter, frame(), name="train/v1", pin=True)
    reader = store.create_run("exp", name="fit")
    writer = store.create_run("prep")
    store.add_run_data(writer.id, "output", "df", snap.digest)
    store.add_run_data(reader.id, "input", "train", snap.digest)
    store.add_run_data(reader.id, "output", "same", snap.digest)

    body = checked(await get(jp_fetch, snap.digest), DETAIL)  # the colon as %3A
    assert body["digest"] == snap.digest and body["status"] == "complete"
    assert (body["kind"], body["rows"], body["columns"], body["shape"]) == (
        "dataframe",
        130,
        7,
        [130, 7],
    )
    assert body["name"] == "train/v1" and body["pinned"] is True and body["error"] is None
    assert [c["name"] for c in body["schema"]["columns"]] == ["x", "s", "t", "c", "n", "d", "b"]
    stats = {c["name"]: c for c in body["stats"]["columns"]}
    assert set(stats) == {"x", "s", "t", "c", "n", "d", "b"}
    assert stats["x"]["nulls"] == 44 and stats["x"]["numeric"]["max"] == 128.0
    assert stats["c"]["nulls"] == 1
    assert body["users"] == [
        {
            "run_id": writer.id,
            "role": "output",
            "name": "df",
            "run": {"number": 1, "name": None, "experiment": "prep", "status": "running"},
        },
        {
            "run_id": reader.id,
            "role": "input",
            "name": "train",
            "run": {"number": 1, "name": "fit", "experiment": "exp", "status": "running"},
        },
        {
            "run_id": reader.id,
            "role": "output",
            "name": "same",
            "run": {"number": 1, "name": "fit", "experiment": "exp", "status": "running"},
        },
    ]

    # The colon unencoded, as a person types it.
    raw = await http_server_client.fetch(
        f"{jp_serverapp.base_url}mltrack/api/snapshots/{snap.digest}", headers=jp_auth_header
    )
    assert checked(raw, DETAIL)["digest"] == snap.digest
    hexpart = snap.digest.split(":")[1]
    for ref in (hexpart[:4], hexpart[:12], "xxh3-128:" + hexpart[:6]):
        assert checked(await get(jp_fetch, ref), DETAIL)["digest"] == snap.digest, ref
    # A name holding "/" is sent with it percent-encoded, as the frontend does.
    named = await http_server_client.fetch(
        f"{jp_serverapp.base_url}mltrack/api/snapshots/{quote('train/v1', safe='')}",
        headers=jp_auth_header,
    )
    assert checked(named, DETAIL)["digest"] == snap.digest
    # ...while an unencoded "/" is another route.
    slash = await http_server_client.fetch(
        f"{jp_serverapp.base_url}mltrack/api/snapshots/train/v1",
        headers=jp_auth_header,
        raise_error=False,
    )
    assert slash.code == 404

    for ref in (ABSENT, "beef" * 8, "unknown name", "abc"):
        assert f"no snapshot {ref!r}" in error_of(await get(jp_fetch, ref), 404)
    assert "must not contain NUL" in error_of(await get(jp_fetch, "a\x00b"), 400)


async def test_detail_of_pending_failed_and_file_snapshots(
    jp_fetch: Any, store: Store, snapshotter: Snapshotter, tmp_path: Path
) -> None:
    # Recorded as a kernel records them before (or instead of) their blocks being durable.
    pending = store.add_snapshot(
        digest="xxh3-128:" + "ab" * 16,
        kind="dataframe",
        rows=3,
        columns=1,
        nbytes=24,
        schema={"columns": [{"name": "a", "dtype": "int64", "position": 0}]},
        layout={},
    )
    failed = store.add_snapshot(
        digest="xxh3-128:" + "ab" * 15 + "cd",
        kind="ndarray",
        rows=2,
        columns=1,
        nbytes=16,
        schema={},
        layout={},
    )
    store.fail_snapshot(failed.digest, "OSError: disk full")
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    file = take(snapshotter, str(csv))

    body = checked(await get(jp_fetch, pending.digest), DETAIL)
    assert (body["status"], body["stats"], body["completed_at"], body["users"]) == (
        "pending",
        None,
        None,
        [],
    )
    body = checked(await get(jp_fetch, failed.digest), DETAIL)
    assert (body["status"], body["error"]) == ("failed", "OSError: disk full")
    body = checked(await get(jp_fetch, file.digest), DETAIL)
    assert (body["kind"], body["shape"], body["rows"], body["nbytes"]) == ("file", [], None, 8)
    assert body["schema"] == {"name": "data.csv", "size": 8}

    # Their digests share 30 hex digits: a shorter prefix names neither.
    assert "ambiguous" in error_of(await get(jp_fetch, "abab"), 400)


# rows ---------------------------------------------------------------------------------------


async def test_rows_are_json_safe_and_paginated(
    jp_fetch: Any, store: Store, snapshotter: Snapshotter
) -> None:
    df = frame()
    snap = take(snapshotter, df)
    body = checked(await get(jp_fetch, snap.digest, "rows", limit="5"), ROWS)
    assert body["digest"] == snap.digest and body["kind"] == "dataframe"
    assert (body["offset"], body["limit"], body["total_rows"], body["total_columns"]) == (
        0,
        5,
        130,
        7,
    )
    assert body["columns"] == ["x", "s", "t", "c", "n", "d", "b"]
    assert body["dtypes"] == [str(t) for t in df.dtypes]
    assert "Europe/Paris" in body["dtypes"][2] and body["dtypes"][3] == "category"
    assert body["index_names"] == [None] and body["index"] == [0, 1, 2, 3, 4]
    assert body["rows"] == [
        [None, "s0", "2024-03-31T01:30:00+01:00", "a", None, "0 days 00:00:00", True],
        [1.0, None, "2024-03-31T03:30:00+02:00", "b", 1, "0 days 00:00:01", False],
        [2.0, "s2", None, "a", 2, "0 days 00:00:02", True],
        [None, "s3", "2024-03-31T05:30:00+02:00", None, 3, "0 days 00:00:03", False],
        [4.0, "s4", "2024-03-31T06:30:00+02:00", "a", 4, "0 days 00:00:04", True],
    ]

    middle = checked(await get(jp_fetch, snap.digest, "rows", offset="64", limit="3"), ROWS)
    assert middle["index"] == [64, 65, 66]
    assert [r[0] for r in middle["rows"]] == [64.0, 65.0, None]
    tail = checked(await get(jp_fetch, snap.digest, "rows", offset="128", limit="500"), ROWS)
    assert tail["index"] == [128, 129]
    assert [r[:2] for r in tail["rows"]] == [[128.0, "s128"], [None, None]]
    past = checked(await get(jp_fetch, snap.digest, "rows", offset="1000"), ROWS)
    assert (past["rows"], past["index"], past["total_rows"]) == ([], [], 130)
    default = checked(await get(jp_fetch, snap.digest, "rows"), ROWS)
    assert (default["limit"], len(default["rows"])) == (50, 50)

    for params, message in (
        ({"limit": "501"}, "limit must be between 1 and 500"),
        ({"limit": "0"}, "limit must be between 1 and 500"),
        ({"offset": "-5"}, "offset must be between 0"),
        ({"offset": "1", "sample": "3"}, "unknown query parameter 'sample'"),
    ):
        response = await get(jp_fetch, snap.digest, "rows", **params)
        assert message in error_of(response, 400), params
        check(response, ROWS)


@sqlite_only
async def test_rows_of_every_kind(jp_fetch: Any, snapshotter: Snapshotter) -> None:
    async def rows(obj: Any, **params: str) -> dict[str, Any]:
        snap = take(snapshotter, obj)
        return checked(await get(jp_fetch, snap.short, "rows", **params), ROWS)

    series = pd.Series([0.5, math.nan], name="score", index=pd.Index(["u", "v"], name="user"))
    body = await rows(series)
    assert (body["kind"], body["columns"], body["dtypes"]) == ("series", ["score"], ["float64"])
    assert (body["index_names"], body["index"], body["rows"]) == (
        ["user"],
        ["u", "v"],
        [[0.5], [None]],
    )

    multi = pd.DataFrame(
        {("a", "x"): [1, 2], ("a", "y"): [3, 4]},
        index=pd.MultiIndex.from_tuples([(1, "p"), (2, "q")], names=["n", "m"]),
    )
    body = await rows(multi)
    assert body["columns"] == ["(a, x)", "(a, y)"] and body["index_names"] == ["n", "m"]
    assert body["index"] == [[1, "p"], [2, "q"]] and body["rows"] == [[1, 3], [2, 4]]

    body = await rows(np.arange(12, dtype=np.int32).reshape(4, 3), offset="2")
    assert (body["kind"], body["columns"], body["dtypes"]) == (
        "ndarray",
        ["0", "1", "2"],
        ["int32"] * 3,
    )
    assert (body["index"], body["rows"], body["total_rows"]) == (
        [2, 3],
        [[6, 7, 8], [9, 10, 11]],
        4,
    )

    cube = await rows(np.arange(8).reshape(2, 2, 2))
    assert cube["rows"] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]

    stamps = np.array(["2024-01-02T03:04:05.123456789", "NaT"], dtype="datetime64[ns]")
    body = await rows(stamps)
    assert (body["columns"], body["dtypes"]) == (["values"], ["datetime64[ns]"])
    assert body["rows"] == [["2024-01-02T03:04:05.123456789"], [None]]

    # Infinities as in metrics, "inf"/"-inf"; NaN and None both null.
    floats = [1.5, np.inf, -np.inf, np.nan]
    body = await rows(pd.DataFrame({"d": floats, "f": np.array(floats, "float32")}))
    assert body["dtypes"] == ["float64", "float32"]
    assert body["rows"] == [[1.5, 1.5], ["inf", "inf"], ["-inf", "-inf"], [None, None]]
    detail = checked(await get(jp_fetch, body["digest"]), DETAIL)  # their statistics too
    assert [c["nulls"] for c in detail["stats"]["columns"]] == [1, 1]
    body = await rows(pd.DataFrame({"o": pd.Series([1.0, np.inf, None], dtype=object)}))
    assert body["rows"] == [[1.0], ["inf"], [None]] and body["dtypes"] == ["object"]

    table = pa.table({"x": [1.0, float("inf"), None], "y": ["a", None, "c"]})
    body = await rows(table, limit="2")
    assert (body["kind"], body["columns"], body["dtypes"]) == (
        "table",
        ["x", "y"],
        ["double", "string"],
    )
    assert (body["index"], body["rows"]) == ([0, 1], [[1.0, "a"], ["inf", None]])

    long_text = pd.DataFrame({"t": ["é" * 5000, "short"]})
    body = await rows(long_text)
    assert body["rows"][0][0] == "é" * api.MAX_CELL_TEXT + "…" and body["rows"][1] == ["short"]

    wide = pd.DataFrame([list(range(250))], columns=[f"c{i}" for i in range(250)])
    body = await rows(wide)
    assert (len(body["columns"]), body["total_columns"]) == (api.MAX_PREVIEW_COLUMNS, 250)
    assert body["rows"] == [list(range(api.MAX_PREVIEW_COLUMNS))]


@sqlite_only
async def test_rows_across_a_block_boundary(jp_fetch: Any, snapshotter: Snapshotter) -> None:
    """A page that straddles two storage blocks reads both and keeps the order."""
    from jupyter_mltrack.snapshots.storage import block_rows

    n = 70_000
    snap = take(snapshotter, pd.DataFrame({"i": np.arange(n, dtype=np.int64) * 2}))
    per_block = block_rows(snap.layout)
    assert per_block < n  # the data really has two blocks
    start = per_block - 3
    body = checked(await get(jp_fetch, snap.digest, "rows", offset=str(start), limit="6"), ROWS)
    assert body["index"] == list(range(start, start + 6))
    assert body["rows"] == [[2 * i] for i in range(start, start + 6)]


async def test_rows_refused_with_a_reason(
    jp_fetch: Any, store: Store, snapshotter: Snapshotter, tmp_path: Path
) -> None:
    pending = store.add_snapshot(
        digest="xxh3-128:" + "12" * 16,
        kind="dataframe",
        rows=3,
        columns=1,
        nbytes=24,
        schema={},
        layout={},
    )
    failed = store.add_snapshot(
        digest="xxh3-128:" + "34" * 16,
        kind="dataframe",
        rows=3,
        columns=1,
        nbytes=24,
        schema={},
        layout={},
    )
    store.fail_snapshot(failed.digest, "SnapshotError: the data changed while it was stored")
    data = tmp_path / "notes.txt"
    data.write_text("hello\n")
    file = take(snapshotter, str(data))

    pending_rows = await get(jp_fetch, pending.digest, "rows")
    message = error_of(pending_rows, 409)
    check(pending_rows, ROWS)
    assert f"snapshot {pending.short} is still being stored" in message
    message = error_of(await get(jp_fetch, failed.digest, "rows"), 409)
    assert "could not be stored" in message and "the data changed" in message
    file_rows = await get(jp_fetch, file.digest, "rows")
    check(file_rows, ROWS)
    assert "is a file ('notes.txt', 6 bytes): a file has no rows" in error_of(file_rows, 400)
    assert f"no snapshot {ABSENT!r}" in error_of(await get(jp_fetch, ABSENT, "rows"), 404)


# diff ---------------------------------------------------------------------------------------


async def test_diff(jp_fetch: Any, store: Store, snapshotter: Snapshotter, tmp_path: Path) -> None:
    before = pd.DataFrame({"x": [1.0, 2.0, 3.0], "s": ["a", "b", "c"]})
    after = before.copy()
    after.loc[1, "x"] = 20.0
    grown = pd.concat([before, pd.DataFrame({"x": [4.0], "s": ["d"]})], ignore_index=True)
    a, b, c = (take(snapshotter, df) for df in (before, after, grown))

    body = checked(await get(jp_fetch, a.digest, "diff", b.digest), DIFF)
    assert body["a"]["digest"] == a.digest and body["b"]["digest"] == b.digest
    assert (body["identical"], body["kind"], body["changed_columns"]) == (
        False,
        "dataframe",
        ["x"],
    )
    assert body["rows"] == {"a": 3, "b": 3, "delta": 0}
    assert {col["name"]: col["status"] for col in body["columns"]} == {
        "x": "changed",
        "s": "unchanged",
    }
    x = body["columns"][0]
    assert x["stats"]["a"]["max"] == 3.0 and x["stats"]["b"]["max"] == 20.0
    assert 0 < x["drift"] <= 1
    assert "sample" not in body and body["appended_rows"] is None

    sampled = checked(await get(jp_fetch, a.short, "diff", b.short, sample="10"), DIFF)
    assert sampled["sample"]["rows"] == [
        {"index": 1, "position": 1, "column": "x", "a": 2.0, "b": 20.0}
    ]
    appended = checked(await get(jp_fetch, a.digest, "diff", c.digest), DIFF)
    assert appended["appended_rows"] == 1 and appended["rows"]["delta"] == 1
    same = checked(await get(jp_fetch, a.digest, "diff", a.digest), DIFF)
    assert same["identical"] is True and same["changed_columns"] == []

    data = tmp_path / "a.bin"
    data.write_bytes(b"\x00" * 10)
    file = take(snapshotter, str(data))
    mixed = checked(await get(jp_fetch, a.digest, "diff", file.digest), DIFF)
    assert mixed["kind"] == "dataframe -> file" and mixed["files"]["b_size"] == 10

    pending = store.add_snapshot(
        digest="xxh3-128:" + "56" * 16,
        kind="dataframe",
        rows=1,
        columns=1,
        nbytes=8,
        schema={},
        layout={},
    )
    refused = await get(jp_fetch, a.digest, "diff", pending.digest)
    check(refused, DIFF)
    assert "still being stored" in error_of(refused, 409)
    assert f"no snapshot {ABSENT!r}" in error_of(await get(jp_fetch, ABSENT, "diff", a.digest), 404)
    for params, message in (
        ({"sample": "1001"}, "sample must be between 0 and 1000"),
        ({"sample": "-1"}, "sample must be between 0 and 1000"),
        ({"limit": "1"}, "unknown query parameter 'limit'; use sample"),
    ):
        response = await get(jp_fetch, a.digest, "diff", b.digest, **params)
        assert message in error_of(response, 400), params


# authentication ----------------------------------------------------------------------------


@sqlite_only
@pytest.mark.parametrize(
    "server_options",
    [{"allow_unauthenticated_access": False}, {"allow_unauthenticated_access": True}],
    ids=["server-requires-auth", "handlers-alone"],
)
async def test_snapshot_routes_need_authentication(
    jp_fetch: Any,
    jp_serverapp: Any,
    http_server_client: Any,
    snapshotter: Snapshotter,
) -> None:
    snap = take(snapshotter, pd.DataFrame({"a": [1]}))
    other = take(snapshotter, pd.DataFrame({"a": [2]}))
    base = jp_serverapp.base_url + "mltrack/api/snapshots"
    urls = [
        base,
        f"{base}/{snap.digest}",
        f"{base}/{snap.short}/rows",
        f"{base}/{snap.digest}/diff/{other.digest}",
    ]
    for url in urls:
        refused = await http_server_client.fetch(url, raise_error=False)
        assert refused.code == 403, url
        assert loads(refused)["error"]["status"] == 403
        # ...and the same request with the token is answered.
        allowed = await jp_fetch(url[len(jp_serverapp.base_url) :])
        assert allowed.code == 200, url


@sqlite_only
async def test_one_snapshotter_per_server_closed_at_stop(
    jp_fetch: Any, jp_serverapp: Any, snapshotter: Snapshotter
) -> None:
    ext = jp_serverapp.extension_manager.extension_points["jupyter_mltrack"].app
    shared = jp_serverapp.web_app.settings["mltrack_snapshotter"]
    assert shared is ext.snapshotter and shared.store is ext.store
    snap = take(snapshotter, pd.DataFrame({"a": [1, 2]}))
    assert checked(await get(jp_fetch, snap.digest, "rows"), ROWS)["rows"] == [[1], [2]]
    await jp_serverapp.cleanup_extensions()
    # Its reader threads are gone: nothing is left running after the server stops.
    with pytest.raises(RuntimeError, match="after shutdown"):
        shared.preview(snap)


# cell encoding ------------------------------------------------------------------------------


def test_cells_become_json() -> None:
    """Values a preview may meet, in every form pandas, numpy and Arrow hand out."""
    cases: list[tuple[Any, Any]] = [
        (None, None),
        (math.nan, None),
        (np.float32("nan"), None),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (np.float32(0.5), 0.5),
        (np.int64(2**40), 2**40),
        (np.bool_(True), True),
        (pd.NA, None),
        (pd.NaT, None),
        (np.datetime64("NaT"), None),
        (np.timedelta64("NaT"), None),
        (np.datetime64("2024-01-02T03:04:05"), "2024-01-02T03:04:05"),
        (pd.Timestamp("2024-01-02 03:04", tz="UTC"), "2024-01-02T03:04:00+00:00"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.timedelta(days=1, seconds=2), "1 days 00:00:02"),
        (np.timedelta64(3, "s"), "0 days 00:00:03"),
        (decimal.Decimal("1.10"), "1.10"),
        (decimal.Decimal("NaN"), None),
        (decimal.Decimal("-Infinity"), "-inf"),
        (b"\x00ab", "b'\\x00ab'"),
        ([1, math.nan, [np.int8(3)]], [1, None, [3]]),
        ((1, "a"), [1, "a"]),
        ({"k": math.inf, 3: None}, {"k": "inf", "3": None}),
        (np.array(7), 7),
        (np.arange(150), list(range(api.MAX_CELL_ITEMS))),
        (1 + 2j, "(1+2j)"),
        ("\ud800x", "?x"),  # a lone surrogate cannot be sent as UTF-8
    ]
    for value, expected in cases:
        got = api._cell(value)
        assert got == expected, (value, got)
        json.dumps(got, allow_nan=False)
