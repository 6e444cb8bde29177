"""``GET runs`` with the query language, the tree and the cheap poll; ``GET runs/groups`` and
``GET runs/keys``: a real Jupyter server on a real store (SQLite and PostgreSQL), every answer
checked against ``openapi.json``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_mltrack.store import MetricPoint, Store

from .sweep_data import seed_sweep
from .test_server import (  # noqa: F401 - fixtures shared with the other server tests
    _restore_exported_env,
    check,
    error_of,
    jp_asyncio_loop,
    jp_server_config,
    mltrack_config,
    populate,
    schema_for,
    server_options,
)

pytestmark = pytest.mark.asyncio

RUNS = "/mltrack/api/runs"
T0 = 1_790_000_000.0


async def get(jp_fetch: Any, *path: str, **params: str) -> Any:
    response = await jp_fetch("mltrack", "api", *path, params=params)
    return check(response, "/mltrack/api/" + "/".join(path))


async def test_filter_sort_and_pages(jp_fetch: Any, store: Store) -> None:
    ids = populate(store)
    body = await get(jp_fetch, "runs", filter="params.C >= 1 and metrics.accuracy > 0.85")
    assert [r["name"] for r in body["runs"]] == ["a3", "a2"]
    assert body["total"] == 2 and body["next"] is None
    # typed comparison: C is a float param, compared as a number (MLflow: as a string)
    body = await get(jp_fetch, "runs", filter="params.C < 10", order="params.C")
    assert [r["name"] for r in body["runs"]] == ["a1", "a2", "a3"]
    # plain text still means name/number/tag contains
    assert [r["name"] for r in (await get(jp_fetch, "runs", filter="boom"))["runs"]] == ["boom"]
    assert [r["id"] for r in (await get(jp_fetch, "runs", filter="grid"))["runs"]] == [
        ids["a3"],
        ids["a2"],
    ]
    # the page alone (count=0), its total asked for apart, with the same selection
    query = {"filter": "params.C >= 1 and metrics.accuracy > 0.85", "order": "-metrics.accuracy"}
    alone = await get(jp_fetch, "runs", count="0", **query)
    assert alone["total"] is None and [r["name"] for r in alone["runs"]] == ["a2", "a3"]
    counted = await get(jp_fetch, "runs", "count", filter=query["filter"])
    assert counted == {"total": 2, "revision": alone["revision"]}
    assert (await get(jp_fetch, "runs", "count"))["total"] == 5
    refused = await jp_fetch(
        "mltrack", "api", "runs", "count", params={"filter": "params.C <"}, raise_error=False
    )
    assert refused.code == 400 and json.loads(refused.body)["error"]["reason"] == "query"
    refused = await jp_fetch(
        "mltrack", "api", "runs", "count", params={"order": "name"}, raise_error=False
    )
    assert refused.code == 400  # paging has no meaning for a count: refused, not ignored
    # keyset pages
    first = await get(jp_fetch, "runs", order="-metrics.loss.min", limit="2")
    assert [r["name"] for r in first["runs"]] == ["a1", "a3"] and first["total"] == 5
    second = await get(jp_fetch, "runs", order="-metrics.loss.min", limit="2", after=first["next"])
    assert second["runs"][0]["name"] == "a2"  # then the runs without loss, last
    assert {r["name"] for r in second["runs"][1:]} <= {"boom", None}
    run = first["runs"][0]
    assert run["metric_summary"]["loss"] == {
        "last": 0.5,
        "min": 0.5,
        "max": 1.0,
        "mean": 0.75,
        "best": 0.5,
        "count": 2,
    }
    assert run["goals"] == {"accuracy": "max", "loss": "min"}
    assert run["children"] == {"count": 0, "best": {}}


async def test_a_sweep_row_counts_its_trials_by_status(jp_fetch: Any, store: Store) -> None:
    sweep = seed_sweep(store)
    roots = await get(jp_fetch, "runs", experiment="sweeps", roots="1")
    (row,) = roots["runs"]
    assert (row["id"], row["source"], row["tags"]) == (
        sweep.sweep,
        "sweep",
        {"mltrack.sweep": "lr-search"},
    )
    assert row["children"]["statuses"] == {"finished": 5, "pruned": 2, "failed": 1}
    assert row["children"]["best"]["acc"]["last"] == 0.91
    trials = await get(jp_fetch, "runs", parent=sweep.sweep, status="pruned")
    assert [r["tags"]["mltrack.trial"] for r in trials["runs"]] == ["5", "3"]


async def test_a_bad_query_is_a_400_pointing_at_the_column(jp_fetch: Any, store: Store) -> None:
    populate(store)
    response = await jp_fetch(
        "mltrack", "api", "runs", params={"filter": "params.lr < "}, raise_error=False
    )
    error_of(response, 400)
    error = json.loads(response.body)["error"]
    assert error["reason"] == "query"
    assert error["query_error"]["column"] == len("params.lr <") + 1  # where the value goes
    for params in ({"order": "colour"}, {"filter": "metrics.acc.max > (1"}, {"after": "zz"}):
        response = await jp_fetch("mltrack", "api", "runs", params=params, raise_error=False)
        assert json.loads(response.body)["error"]["reason"] == "query", params
        error_of(response, 400)
    both = await jp_fetch(
        "mltrack", "api", "runs", params={"offset": "1", "after": "x"}, raise_error=False
    )
    assert "offset or after" in error_of(both, 400)


async def test_the_tree_roots_and_children(jp_fetch: Any, store: Store) -> None:
    parent = store.create_run("t", name="sweep", start_time=T0)
    store.finish_run(parent.id, "finished", end_time=T0 + 1)
    for i, acc in enumerate((0.7, 0.9)):
        child = store.create_run("t", name=f"trial{i}", parent_run_id=parent.id, start_time=T0 + i)
        store.finish_run(
            child.id, "finished", metrics=[MetricPoint("acc", acc, 0, T0)], end_time=T0 + 2
        )
    roots = await get(jp_fetch, "runs", experiment="t", roots="1")
    assert [r["name"] for r in roots["runs"]] == ["sweep"]
    assert roots["runs"][0]["children"]["count"] == 2
    assert roots["runs"][0]["children"]["best"]["acc"]["last"] == 0.9
    children = await get(jp_fetch, "runs", parent=parent.id, order="name")
    assert [r["name"] for r in children["runs"]] == ["trial0", "trial1"]
    assert children["runs"][0]["parent_run_id"] == parent.id


async def test_poll_since_an_unchanged_revision_reads_no_list(jp_fetch: Any, store: Store) -> None:
    ids = populate(store)
    body = await get(jp_fetch, "runs")
    revision = body["revision"]
    unchanged = await get(jp_fetch, "runs", since=revision, filter="params.C > 0")
    assert unchanged == {"unchanged": True, "revision": revision}
    store.set_tags(ids["a1"], {"new": "tag"})
    changed = await get(jp_fetch, "runs", since=revision)
    assert changed["revision"] != revision and len(changed["runs"]) == 5
    store.delete_run(ids["b2"])
    after_delete = await get(jp_fetch, "runs", since=changed["revision"])
    assert after_delete.get("unchanged") is None and after_delete["total"] == 4


async def test_groups_and_keys(jp_fetch: Any, store: Store) -> None:
    populate(store)
    body = await get(
        jp_fetch, "runs", "groups", group_by="params.penalty", metrics="accuracy,loss.min"
    )
    assert body["total"] == 5
    l2, none = body["groups"]
    assert (l2["value"], l2["count"], none["value"], none["count"]) == ("l2", 3, None, 2)
    acc = l2["metrics"]["accuracy"]
    assert acc["count"] == 3 and acc["min"] == 0.8 and acc["max"] == 0.95
    assert abs(acc["mean"] - 0.8833333) < 1e-6 and abs(acc["std"] - 0.0763763) < 1e-6
    assert l2["metrics"]["loss.min"]["mean"] == pytest.approx(1 / 3)
    filtered = await get(
        jp_fetch, "runs", "groups", group_by="params.C", metrics="accuracy", filter="params.C > 0"
    )
    assert sorted(g["value"] for g in filtered["groups"]) == [1.0, 2.0]
    assert "figure" not in filtered
    charted = await get(
        jp_fetch, "runs", "groups", group_by="params.penalty", metrics="accuracy", figure="1"
    )
    bars = [t for t in charted["figure"]["data"] if t["type"] == "bar"]
    assert [t["name"] for t in bars] == ["accuracy"] and bars[0]["x"] == [
        "l2 (n=3)",
        "(none) (n=2)",
    ]
    assert charted["groups"] == [  # the figure comes beside the same groups, not instead
        {k: g[k] for k in ("value", "count", "metrics")}
        for g in (
            await get(jp_fetch, "runs", "groups", group_by="params.penalty", metrics="accuracy")
        )["groups"]
    ]
    for params in ({}, {"group_by": "metrics.loss"}, {"group_by": "params.x", "filter": "(("}):
        response = await jp_fetch(
            "mltrack", "api", "runs", "groups", params=params, raise_error=False
        )
        error_of(response, 400)
    keys = await get(jp_fetch, "runs", "keys")
    assert keys == {
        "params": ["C", "penalty"],
        "metrics": ["accuracy", "loss"],
        "tags": ["baseline", "kind"],
    }
    assert (await get(jp_fetch, "runs", "keys", experiment="exp-b"))["params"] == []
