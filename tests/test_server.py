"""The server extension against a real Jupyter server, real kernels and real databases.

Every request goes through tornado, jupyter_server's authentication and the extension's
handlers; responses are checked against ``openapi.json``. Lifecycle tests start real ipykernel
processes through the server's kernel manager.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.base.handlers import APIHandler
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from tornado.httpclient import HTTPResponse

from jupyter_mltrack.location import BLOB_URL_ENV, HOME_ENV, URL_ENV, resolve_store_url
from jupyter_mltrack.server.app import MltrackApp
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Store

REPO = Path(__file__).resolve().parents[1]
SPEC = json.loads((REPO / "jupyter_mltrack" / "server" / "openapi.json").read_text())
SPEC_URI = "urn:mltrack:openapi"
REGISTRY = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ABSENT = "0" * 32  # a well-formed run id that no run has

# pytest-asyncio (``asyncio_mode = "auto"``) runs async tests in its own loop; pytest-jupyter's
# server must live in that same loop, so its loop fixture is replaced below.
pytestmark = pytest.mark.asyncio


# fixtures ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def jp_asyncio_loop() -> asyncio.AbstractEventLoop:
    """The loop pytest-asyncio runs this test in (pytest-jupyter would make another)."""
    return asyncio.get_running_loop()


@pytest.fixture
def mltrack_config() -> dict[str, Any]:
    """``MltrackApp`` settings; tests that need other values override this fixture's result."""
    return {"reap_interval": 0.2}


@pytest.fixture
def server_options() -> dict[str, Any]:
    """Extra ``ServerApp`` settings; tests parametrize this name to change them."""
    return {}


@pytest.fixture
def jp_server_config(
    store_url: str, mltrack_config: dict[str, Any], server_options: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mltrack": True},
            "allow_unauthenticated_access": False,
            **server_options,
        },
        "MltrackApp": {"store_url": store_url, **mltrack_config},
    }


@pytest.fixture(autouse=True)
def _restore_exported_env() -> Iterator[None]:
    """The extension exports the store into ``os.environ``; undo it after each test."""
    keys = (URL_ENV, HOME_ENV, BLOB_URL_ENV, "MLTRACK_SERVER_ROOT")
    saved = {k: os.environ.get(k) for k in keys}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


# helpers ----------------------------------------------------------------------------------


def schema_for(path: str, method: str, status: int) -> Draft202012Validator:
    """A validator for the spec's response schema of ``method path`` answering ``status``."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"
    return Draft202012Validator({"$ref": SPEC_URI + "#" + pointer}, registry=REGISTRY)


def check(response: HTTPResponse, path: str, method: str = "get") -> Any:
    """The JSON body of ``response``, after checking it against the spec."""
    body = json.loads(response.body)
    schema_for(path, method, response.code).validate(body)
    return body


def url(template: str, **parts: str) -> str:
    """``template`` with each ``{part}`` replaced by its value, escaped as one segment."""
    path = template
    for key, value in parts.items():
        path = path.replace("{" + key + "}", quote(value, safe=""))
    return path


def error_of(response: HTTPResponse, status: int) -> str:
    assert response.code == status, (response.code, response.body)
    body = json.loads(response.body)
    schema_for("/mltrack/api/runs/{run_id}", "patch", 404).validate(body)  # the Error schema
    assert body["error"]["status"] == status
    return body["error"]["message"]


def populate(store: Store) -> dict[str, str]:
    """Five runs in two experiments; returns their ids by a readable key."""
    env_id = store.put_environment(
        Environment(python="3.11.7", platform="Linux", packages={"numpy": "2.0.0"}, digest="d1")
    )
    t0 = 1_700_000_000.0
    ids: dict[str, str] = {}
    for i, (acc, loss) in enumerate([(0.80, 0.5), (0.95, 0.2), (0.90, 0.3)]):
        run = store.create_run(
            "exp-a",
            name=f"a{i + 1}",
            notebook_path="nb/a.ipynb",
            cell_id=f"cell-{i}",
            execution_count=i + 1,
            code=f"C = {i}",
            params={"C": float(i), "penalty": "l2"},
            tags={"kind": "grid"} if i else {"baseline": ""},
            environment_id=env_id,
            git_commit="abc123",
            git_dirty=False,
            start_time=t0 + i * 10,
        )
        store.finish_run(
            run.id,
            RunStatus.FINISHED,
            metrics=[
                MetricPoint("loss", loss * 2, 0, t0 + i * 10 + 1),
                MetricPoint("loss", loss, 1, t0 + i * 10 + 2),
                MetricPoint("accuracy", acc, 1, t0 + i * 10 + 2),
            ],
            outputs=[{"output_type": "stream", "name": "stdout", "text": f"run {i}\n"}],
            end_time=t0 + i * 10 + 3 + i,
        )
        ids[f"a{i + 1}"] = run.id
    failed = store.create_run("exp-b", name="boom", notebook_path="nb/b.ipynb", start_time=t0 + 40)
    store.finish_run(
        failed.id,
        RunStatus.FAILED,
        error={"ename": "ValueError", "evalue": "bad", "traceback": ["Traceback", "ValueError"]},
        metrics=[MetricPoint("accuracy", float("nan"), 0, t0 + 41)],
        end_time=t0 + 42,
    )
    ids["b1"] = failed.id
    ids["b2"] = store.create_run("exp-b", notebook_path="nb/b.ipynb", start_time=t0 + 50).id
    return ids


def live_routes(serverapp: Any) -> dict[str, type]:
    """The extension's routes as registered in the running tornado app, as path templates."""
    base = serverapp.base_url.rstrip("/")
    found: dict[str, type] = {}

    def walk(rules: list[Any]) -> None:
        for rule in rules:
            if hasattr(rule.target, "rules"):
                walk(rule.target.rules)
                continue
            regex = getattr(rule.matcher, "regex", None)
            target = rule.target
            ours = isinstance(target, type) and target.__module__.startswith("jupyter_mltrack")
            if regex is None or not (ours or "mltrack" in regex.pattern):
                continue
            template = regex.pattern.removesuffix("$")
            template = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", template).replace("\\", "")
            assert template.startswith(base + "/"), template
            found[template[len(base) :]] = target

    walk(serverapp.web_app.default_router.rules)
    return found


def implemented_methods(handler: type) -> set[str]:
    """HTTP methods the handler defines itself (not APIHandler's 405 defaults or OPTIONS)."""
    return {m for m in HTTP_METHODS if getattr(handler, m) is not getattr(APIHandler, m)}


#: A well-formed snapshot digest, for routes that take one (refusals come before lookups).
SOME_DIGEST = "xxh3-128:" + "0" * 32


def concrete(template: str, run_id: str) -> str:
    """A URL path of a route template: ``run_id`` for runs (``loss`` for a metric key), a
    digest for snapshots, ``model``/``production``/``1`` for artifacts and the registry,
    ``churn``/``latest``/``gold`` for datasets."""
    path = template.replace("{run_id}", run_id).replace("{key}", "loss")
    for name, value in (
        ("{name}", "model"),
        ("{alias}", "production"),
        ("{version}", "1"),
        ("{dataset}", "churn"),
        ("{selector}", "latest"),
        ("{tag}", "gold"),
    ):
        path = path.replace(name, value)
    for name in ("{ref}", "{a}", "{b}"):
        path = path.replace(name, SOME_DIGEST)
    assert "{" not in path, f"no value for a parameter of {template}"
    return path


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def status_of(store: Store, run_id: str) -> RunStatus:
    return store.get_run(run_id).status


def stored_status(store: Store, run_id: str) -> RunStatus:
    """The status as stored, read without the store's own check of this host's dead runs
    (which every read of runs makes first): what the server's reaper did, alone."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        value = conn.execute(text("SELECT status FROM runs WHERE id = :i"), {"i": run_id})
        return RunStatus(value.scalar_one())


def run_in_dead_process(url: str) -> str:
    """A ``running`` run opened by a process that has exited (a kernel that died)."""
    code = "import sys; from jupyter_mltrack.store import Store; print(Store(sys.argv[1]).create_run('reap', name='orphan').id)"
    out = subprocess.run(
        [sys.executable, "-c", code, url],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip().splitlines()[-1]


# the API ----------------------------------------------------------------------------------


async def test_list_filter_order_paginate(
    jp_fetch: Any, jp_serverapp: Any, http_server_client: Any, store: Store
) -> None:
    ids = populate(store)
    path = "/mltrack/api/runs"

    async def names(**params: str) -> list[str | None]:
        body = check(await jp_fetch("mltrack", "api", "runs", params=params), path)
        return [r["name"] for r in body["runs"]]

    body = check(await jp_fetch("mltrack", "api", "runs"), path)
    assert [r["id"] for r in body["runs"]] == [ids[k] for k in ("b2", "b1", "a3", "a2", "a1")]
    assert (body["total"], body["limit"], body["offset"]) == (5, 100, 0)
    first = body["runs"][-1]
    assert first["params"] == {"C": 0.0, "penalty": "l2"}
    assert first["metrics"] == {"accuracy": 0.8, "loss": 0.5}
    assert first["tags"] == {"baseline": ""} and first["duration"] == 3.0
    assert first["notebook_path"] == "nb/a.ipynb" and first["experiment"] == "exp-a"
    assert body["runs"][1]["metrics"] == {"accuracy": None}  # NaN is null

    assert await names(experiment="exp-a") == ["a3", "a2", "a1"]
    assert await names(notebook="nb/b.ipynb") == [None, "boom"]
    assert await names(status="failed") == ["boom"]
    assert await names(status="running", experiment="exp-b") == [None]
    assert await names(experiment="nope") == []
    assert await names(experiment="exp-a", order="number") == ["a1", "a2", "a3"]
    assert await names(experiment="exp-a", order="-metrics.accuracy") == ["a2", "a3", "a1"]
    assert await names(experiment="exp-a", order="metrics.loss") == ["a2", "a3", "a1"]
    assert await names(experiment="exp-a", order="-duration") == ["a3", "a2", "a1"]
    assert await names(order="name", status="finished") == ["a1", "a2", "a3"]

    page = check(
        await jp_fetch("mltrack", "api", "runs", params={"limit": "2", "offset": "1"}), path
    )
    assert [r["name"] for r in page["runs"]] == ["boom", "a3"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    last = check(await jp_fetch("mltrack", "api", "runs", params={"offset": "4"}), path)
    assert [r["name"] for r in last["runs"]] == ["a1"] and last["total"] == 5

    # The server's own ?token= argument is authentication, not an unknown filter.
    token = jp_serverapp.identity_provider.token
    by_query = await http_server_client.fetch(
        f"{jp_serverapp.base_url}mltrack/api/runs?limit=1&token={token}"
    )
    assert json.loads(by_query.body)["total"] == 5


async def test_detail_patch_delete_and_revision(jp_fetch: Any, store: Store) -> None:
    ids = populate(store)
    path = "/mltrack/api/runs/{run_id}"

    detail = check(await jp_fetch("mltrack", "api", "runs", ids["a2"]), path)
    assert detail["code"] == "C = 1" and detail["error"] is None
    assert detail["metric_series"]["loss"] == [
        {"step": 0, "value": 0.4, "timestamp": detail["metric_series"]["loss"][0]["timestamp"]},
        {"step": 1, "value": 0.2, "timestamp": detail["metric_series"]["loss"][1]["timestamp"]},
    ]
    assert detail["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "run 1\n"}]
    assert detail["environment"] == {
        "python": "3.11.7",
        "platform": "Linux",
        "packages": {"numpy": "2.0.0"},
        "git": {"commit": "abc123", "dirty": False},
    }
    failed = check(await jp_fetch("mltrack", "api", "runs", ids["b1"]), path)
    assert failed["error"]["ename"] == "ValueError" and failed["status"] == "failed"
    assert failed["environment"] == {"git": {"commit": None, "dirty": None}}

    async def revision() -> str:
        return json.loads((await jp_fetch("mltrack", "api", "runs")).body)["revision"]

    rev0 = await revision()
    assert await revision() == rev0  # stable while nothing changes

    patched = check(
        await jp_fetch(
            "mltrack",
            "api",
            "runs",
            ids["a2"],
            method="PATCH",
            body=json.dumps({"name": "best", "tags": {"keep": "yes"}, "note": "winner"}),
        ),
        path,
        "patch",
    )
    assert (patched["name"], patched["tags"], patched["note"]) == (
        "best",
        {"keep": "yes"},
        "winner",
    )
    again = json.loads((await jp_fetch("mltrack", "api", "runs", ids["a2"])).body)
    assert (again["name"], again["tags"], again["note"]) == ("best", {"keep": "yes"}, "winner")
    rev1 = await revision()
    assert rev1 != rev0

    cleared = await jp_fetch(
        "mltrack", "api", "runs", ids["a2"], method="PATCH", body=json.dumps({"name": None})
    )
    assert json.loads(cleared.body)["name"] is None

    store.create_run("exp-c")  # a kernel writing behind the server's back
    rev2 = await revision()
    assert rev2 != rev1

    deleted = await jp_fetch("mltrack", "api", "runs", ids["a1"], method="DELETE")
    assert deleted.code == 204 and deleted.body == b""
    gone = await jp_fetch("mltrack", "api", "runs", ids["a1"], raise_error=False)
    assert "no run" in error_of(gone, 404)
    listing = json.loads((await jp_fetch("mltrack", "api", "runs")).body)
    assert listing["total"] == 5 and ids["a1"] not in {r["id"] for r in listing["runs"]}
    assert listing["revision"] != rev2


async def test_experiments(jp_fetch: Any, store: Store) -> None:
    empty = check(await jp_fetch("mltrack", "api", "experiments"), "/mltrack/api/experiments")
    assert empty == {"experiments": []}
    populate(store)
    store.get_or_create_experiment("unused")
    body = check(await jp_fetch("mltrack", "api", "experiments"), "/mltrack/api/experiments")
    summary = {e["name"]: (e["run_count"], e["last_run_at"]) for e in body["experiments"]}
    assert summary == {
        "exp-a": (3, "2023-11-14T22:13:40+00:00"),
        "exp-b": (2, "2023-11-14T22:14:10+00:00"),
        "unused": (0, None),
    }


@sqlite_only
async def test_bad_requests_are_json_400_and_404(
    jp_fetch: Any, jp_serverapp: Any, http_server_client: Any, jp_auth_header: Any, store: Store
) -> None:
    run_id = populate(store)["a1"]
    bad_queries = {
        "limit": ({"limit": "0"}, "limit must be between 1 and 1000"),
        "limit-high": ({"limit": "1001"}, "limit must be between 1 and 1000"),
        "limit-type": ({"limit": "ten"}, "limit must be an integer"),
        "offset": ({"offset": "-1"}, "offset must be between 0"),
        "offset-huge": ({"offset": str(2**70)}, "offset must be between 0"),
        "order": ({"order": "colour"}, "unknown field 'colour'"),
        "status": ({"status": "done"}, "unknown status 'done'"),
        "unknown": ({"expriment": "exp-a"}, "unknown query parameter 'expriment'"),
        "nul": ({"experiment": "a\x00b"}, "must not contain NUL"),
    }
    for case, (params, expected) in bad_queries.items():
        response = await jp_fetch("mltrack", "api", "runs", params=params, raise_error=False)
        assert expected in error_of(response, 400), case
    repeated = await http_server_client.fetch(
        jp_serverapp.base_url + "mltrack/api/runs?status=failed&status=finished",
        headers=jp_auth_header,
        raise_error=False,
    )
    assert "more than once" in error_of(repeated, 400)

    bad_bodies = {
        "not json": "{name: 1",
        "[1]": "must be a JSON object",
        "": "must be a JSON object",
        '{"colour": "red"}': "unknown field 'colour'",
        "{}": "nothing to change",
        '{"name": 5}': "name must be a string",
        '{"name": "x", "note": null}': "note must be a string",
        '{"tags": ["a"]}': "tags must be an object",
        '{"tags": {"a": 1}}': "tag 'a' must have a string value",
        '{"tags": {"": "x"}}': "tag names must be",
        '{"name": "' + "n" * 300 + '"}': "at most 256 characters",
        '{"note": "a\\u0000b"}': "must not contain NUL",
        '{"name": "n", "tags": {"mltrack.attempt": "mine"}}': "are the tracker's own",
    }
    for body, expected in bad_bodies.items():
        response = await jp_fetch(
            "mltrack", "api", "runs", run_id, method="PATCH", body=body, raise_error=False
        )
        message = error_of(response, 400)
        assert (expected if body != "not json" else "not valid JSON") in message, body
    assert status_of(store, run_id) is RunStatus.FINISHED
    assert store.get_run(run_id).name == "a1"  # nothing was half-applied

    for method, body in (("GET", None), ("PATCH", '{"note": "x"}'), ("DELETE", None)):
        for missing in (ABSENT, "not-a-run-id"):
            response = await jp_fetch(
                "mltrack", "api", "runs", missing, method=method, body=body, raise_error=False
            )
            assert f"no run '{missing}'" in error_of(response, 404), (method, missing)
    not_allowed = await jp_fetch(
        "mltrack", "api", "runs", method="POST", body="{}", raise_error=False
    )
    error_of(not_allowed, 405)


# authentication, authorization and the spec -------------------------------------------------


@pytest.fixture
def example_run_id(store: Store) -> str:
    return populate(store)["a1"]


@sqlite_only
@pytest.mark.parametrize(
    "server_options",
    [{"allow_unauthenticated_access": False}, {"allow_unauthenticated_access": True}],
    ids=["server-requires-auth", "handlers-alone"],
)
async def test_unauthenticated_requests_get_403_everywhere(
    jp_serverapp: Any, http_server_client: Any, jp_fetch: Any, example_run_id: str
) -> None:
    # With allow_unauthenticated_access=True only the handlers' own decorators protect them.
    routes = live_routes(jp_serverapp)
    assert len(routes) >= 8, routes
    checked = []
    for template, handler in routes.items():
        methods = implemented_methods(handler)
        assert methods, template
        for method in sorted(methods):
            url = jp_serverapp.base_url.rstrip("/") + concrete(template, example_run_id)
            body = "{}" if method in ("post", "put", "patch") else None
            # A matching XSRF cookie and header, so only authentication can refuse the request.
            headers = {"Cookie": "_xsrf=abc", "X-XSRFToken": "abc"}
            response = await http_server_client.fetch(
                url, method=method.upper(), body=body, headers=headers, raise_error=False
            )
            assert response.code == 403, (method, template, response.code)
            assert json.loads(response.body)["error"]["status"] == 403
            checked.append((method, template))
    # Every operation of the document (test_openapi_matches_the_handlers: the same routes).
    assert set(checked) == {
        (method, path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    # ... while the same requests with the token are not refused.
    ok = await jp_fetch("mltrack", "api", "runs", example_run_id)
    assert ok.code == 200


class DenyMltrack(Authorizer):
    """Lets a user do anything except touch the ``mltrack`` resource."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource != "mltrack"


@sqlite_only
@pytest.mark.parametrize("server_options", [{"authorizer_class": DenyMltrack}])
async def test_authorizer_guards_the_mltrack_resource(
    jp_serverapp: Any, jp_fetch: Any, example_run_id: str
) -> None:
    assert isinstance(jp_serverapp.authorizer, DenyMltrack)
    assert (await jp_fetch("api", "status")).code == 200  # the user is authenticated
    for template, handler in live_routes(jp_serverapp).items():
        for method in implemented_methods(handler):
            body = '{"note": "x"}' if method in ("patch", "post", "put") else None
            response = await jp_fetch(
                concrete(template, example_run_id),
                method=method.upper(),
                body=body,
                raise_error=False,
            )
            assert response.code == 403, (method, template)
            assert "resource: mltrack" in json.loads(response.body)["error"]["message"]


@sqlite_only
async def test_openapi_matches_the_handlers(
    jp_fetch: Any, jp_serverapp: Any, example_run_id: str
) -> None:
    served = json.loads((await jp_fetch("mltrack", "api", "openapi.json")).body)
    assert served == SPEC
    validate_openapi(served)

    live = {
        (template, method)
        for template, handler in live_routes(jp_serverapp).items()
        for method in implemented_methods(handler)
    }
    documented = {
        (path, method)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert live == documented
    for path, method in documented:
        responses = SPEC["paths"][path][method]["responses"]
        assert "403" in responses, (path, method)
        assert any(code.startswith("2") for code in responses), (path, method)
    assert schema_for("/mltrack/api/openapi.json", "get", 200).is_valid(served)


@sqlite_only
async def test_non_finite_metrics_are_valid_json(jp_fetch: Any, store: Store) -> None:
    run = store.create_run("inf")
    store.finish_run(
        run.id, RunStatus.FINISHED, metrics=[MetricPoint("loss", float("inf"), 0, time.time())]
    )
    raw = (await jp_fetch("mltrack", "api", "runs", run.id)).body.decode()
    detail = json.loads(raw, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert (
        detail["metrics"]["loss"] == "inf" and detail["metric_series"]["loss"][0]["value"] == "inf"
    )
    schema_for("/mltrack/api/runs/{run_id}", "get", 200).validate(detail)


# configuration and kernel lifecycle ---------------------------------------------------------


@sqlite_only
async def test_server_exports_the_store_to_kernels(
    jp_serverapp: Any, store_url: str, store: Store
) -> None:
    assert os.environ[URL_ENV] == resolve_store_url(store_url) == store.url
    assert os.environ[HOME_ENV] == str(store.home)
    ext = jp_serverapp.extension_manager.extension_points["jupyter_mltrack"].app
    assert isinstance(ext, MltrackApp) and ext.reap_interval == 0.2

    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    kernel = km.get_kernel(kernel_id)
    # Kernels find their id in their connection file's name (capture.kernelinfo relies on it).
    assert Path(kernel.connection_file).name == f"kernel-{kernel_id}.json"
    client = kernel.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        seen: list[str] = []

        def on_output(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                seen.append(msg["content"]["text"])

        code = (
            "import os; print(os.environ['MLTRACK_STORE_URL'], os.environ['MLTRACK_SERVER_ROOT'])"
        )
        await client.execute_interactive(code, output_hook=on_output, timeout=60)
    finally:
        client.stop_channels()
    assert "".join(seen).split() == [store.url, str(jp_serverapp.root_dir)]


@sqlite_only
async def test_default_store_is_beside_the_root_dir(
    jp_configurable_serverapp: Any,
    jp_server_config: dict[str, Any],
    jp_root_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(HOME_ENV)
    config = {"ServerApp": jp_server_config["ServerApp"], "MltrackApp": {"reap_interval": 0}}
    app = jp_configurable_serverapp(config=config)
    ext = app.extension_manager.extension_points["jupyter_mltrack"].app
    expected = jp_root_dir / ".mltrack" / "mltrack.db"
    assert ext.store_url == f"sqlite:///{expected}" and expected.exists()
    assert os.environ[HOME_ENV] == str(expected.parent)


async def test_blob_url_is_configurable_and_exported(
    jp_configurable_serverapp: Any,
    jp_server_config: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A team on PostgreSQL keeps snapshot data elsewhere: the server uses and exports it."""
    monkeypatch.delenv(BLOB_URL_ENV, raising=False)
    blobs = tmp_path / "shared-blobs"
    config = {
        "ServerApp": jp_server_config["ServerApp"],
        "MltrackApp": {
            **jp_server_config["MltrackApp"],
            "blob_url": str(blobs),
            "reap_interval": 0,
        },
    }
    app = jp_configurable_serverapp(config=config)
    ext = app.extension_manager.extension_points["jupyter_mltrack"].app
    assert os.environ[BLOB_URL_ENV] == str(blobs)
    assert ext.snapshotter.blobs.root == blobs / "blobs"


@sqlite_only
async def test_kernel_shutdown_crashes_its_running_runs(jp_serverapp: Any, store: Store) -> None:
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    mine = store.create_run("k", kernel_id=kernel_id)
    other = store.create_run("k", kernel_id="another-kernel")
    done = store.create_run("k", kernel_id=kernel_id)
    store.finish_run(done.id, RunStatus.FINISHED)

    await km.shutdown_kernel(kernel_id)
    await wait_for(lambda: status_of(store, mine.id) is RunStatus.CRASHED)
    assert store.get_run(mine.id).end_time is not None
    assert status_of(store, other.id) is RunStatus.RUNNING  # only that kernel's runs
    assert status_of(store, done.id) is RunStatus.FINISHED


@sqlite_only
async def test_kernel_restart_crashes_runs_of_the_old_process(
    jp_serverapp: Any, store: Store
) -> None:
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    before = store.create_run("k", kernel_id=kernel_id)
    await km.restart_kernel(kernel_id)
    assert kernel_id in km.list_kernel_ids()
    await wait_for(lambda: status_of(store, before.id) is RunStatus.CRASHED)


@sqlite_only
async def test_server_stop_crashes_runs_of_live_kernels(jp_serverapp: Any, store: Store) -> None:
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3")
    run = store.create_run("k", kernel_id=kernel_id)
    # ServerApp._cleanup stops extensions first, then shuts the kernels down.
    await jp_serverapp.cleanup_extensions()
    assert status_of(store, run.id) is RunStatus.CRASHED


@sqlite_only
@pytest.mark.parametrize("mltrack_config", [{"reap_interval": 0}])
async def test_startup_reaps_runs_of_dead_processes(
    jp_configurable_serverapp: Any, jp_server_config: dict[str, Any], store_url: str, store: Store
) -> None:
    orphan = run_in_dead_process(store_url)
    alive = store.create_run("reap")  # this test process is alive
    jp_configurable_serverapp(config=jp_server_config)
    await wait_for(lambda: stored_status(store, orphan) is RunStatus.CRASHED)
    assert stored_status(store, alive.id) is RunStatus.RUNNING
    # reap_interval=0: no periodic reaping after start-up (a read still marks it, below)
    late = run_in_dead_process(store_url)
    await asyncio.sleep(0.6)
    assert stored_status(store, late) is RunStatus.RUNNING
    assert status_of(store, late) is RunStatus.CRASHED
    assert status_of(store, alive.id) is RunStatus.RUNNING


@sqlite_only
async def test_periodic_reaper_crashes_runs_of_dead_processes(
    jp_serverapp: Any, store_url: str, store: Store
) -> None:
    await asyncio.sleep(0.3)  # let the start-up reap pass
    orphan = run_in_dead_process(store_url)
    alive = store.create_run("reap")
    await wait_for(lambda: stored_status(store, orphan) is RunStatus.CRASHED, timeout=10)
    assert stored_status(store, alive.id) is RunStatus.RUNNING


@sqlite_only
async def test_runs_follow_a_renamed_notebook(
    jp_fetch: Any, jp_root_dir: Path, store: Store
) -> None:
    """Renaming through the contents API moves the recorded runs (folders too); runs a kernel
    records later under the old name are listed with ``kernel=`` (JupyterLab keeps the
    session's old path); a cache-busting ``&<ms>`` argument is accepted."""
    (jp_root_dir / "dir").mkdir()
    (jp_root_dir / "dir" / "Untitled.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    before = store.create_run("u", notebook_path="dir/Untitled.ipynb", kernel_id="k1")
    other = store.create_run("u", notebook_path="dir/Other.ipynb", kernel_id="k2")
    await jp_fetch(
        "api",
        "contents",
        "dir",
        "Untitled.ipynb",
        method="PATCH",
        body=json.dumps({"path": "dir/Renamed.ipynb"}),
    )
    await wait_for(lambda: store.get_run(before.id).notebook_path == "dir/Renamed.ipynb")
    after = store.create_run("u", notebook_path="dir/Untitled.ipynb", kernel_id="k1")

    async def listed(**params: str) -> set[str]:
        response = await jp_fetch("mltrack", "api", "runs", params=params)
        return {r["id"] for r in check(response, "/mltrack/api/runs")["runs"]}

    assert await listed(notebook="dir/Renamed.ipynb") == {before.id}
    assert await listed(notebook="dir/Renamed.ipynb", kernel="k1", **{"1700000000000": ""}) == {
        before.id,
        after.id,
    }
    assert await listed(kernel="k1") == {before.id, after.id, other.id}  # needs notebook
    assert store.get_run(other.id).notebook_path == "dir/Other.ipynb"
    await jp_fetch("api", "contents", "dir", method="PATCH", body=json.dumps({"path": "moved"}))
    await wait_for(lambda: store.get_run(other.id).notebook_path == "moved/Other.ipynb")
