"""Cross-site request forgery: a logged-in browser's state-changing requests need the XSRF token.

jupyter_server checks the ``_xsrf`` cookie against the ``X-XSRFToken`` header on requests
authenticated by the login cookie (a token in the ``Authorization`` header is not sent by a
browser on its own, so it needs no such check). A page on another site can make the browser
send the cookies but cannot read them, so it cannot send the header. This logs in as a browser
does, against a real server, and sends every state-changing operation of ``openapi.json``
(iterated from the document, so a new route is covered without touching this test) without
the header, then with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from jupyter_mltrack.store import Store

from .api_server import NOTEBOOK, REPO, ApiServer, api_server

SPEC = json.loads((REPO / "jupyter_mltrack" / "server" / "openapi.json").read_text())
STATE_CHANGING = ("post", "put", "patch", "delete")
#: A request body each state-changing operation accepts (``{}`` for one not listed here: the
#: XSRF check comes before the body is read, and an invalid body is still not a 403).
BODIES: dict[tuple[str, str], Any] = {
    ("patch", "/mltrack/api/runs/{run_id}"): {"note": "changed", "tags": {"t": "v"}},
    ("post", "/mltrack/api/export"): {"notebook": NOTEBOOK},
    ("post", "/mltrack/api/models"): {"name": "xsrf-model", "run": "a1", "artifact": "model"},
    ("put", "/mltrack/api/models/{name}/aliases/{alias}"): {"version": 4},
    ("post", "/mltrack/api/datasets/{dataset}/tags/{tag}"): {"version": "latest"},
}
#: The other path parameters: scratch's alias and version a DELETE removes, scratch/data's
#: tag t1 (api_server: a POST points it at the latest version, a DELETE removes it).
PATH_VALUES = {
    "{name}": "scratch",
    "{alias}": "x1",
    "{version}": "6",
    "{dataset}": "scratch%2Fdata",
    "{tag}": "t1",
}
#: Where an operation needs other values: a DELETE of a whole model removes gone1 (scratch
#: has aliases, and its versions are for the operations after it).
OPERATION_VALUES = {("delete", "/mltrack/api/models/{name}"): {"{name}": "gone1"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with api_server(tmp_path_factory.mktemp("xsrf")) as running:
        yield running


def browser_login(server: ApiServer) -> requests.Session:
    """A session holding what a browser holds after the login page: the ``_xsrf`` cookie
    (set by the login form) and the login cookie (set by posting the token as password)."""
    session = requests.Session()
    page = session.get(server.url + "login", timeout=60)
    assert page.status_code == 200, page.text
    xsrf = session.cookies.get("_xsrf")
    assert xsrf, session.cookies
    done = session.post(
        server.url + "login",
        data={"password": server.token, "_xsrf": xsrf},
        allow_redirects=False,
        timeout=60,
    )
    assert done.status_code == 302, (done.status_code, done.text)
    assert any(c.name.startswith("username-") for c in session.cookies), session.cookies
    return session


def operations() -> list[tuple[str, str]]:
    found = [
        (method, path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in STATE_CHANGING
    ]
    assert ("delete", "/mltrack/api/runs/{run_id}") in found
    return found


def url_of(server: ApiServer, method: str, template: str) -> str:
    """The operation's URL, naming a run kept for it (a DELETE removes a run of its own)."""
    run_id = server.disposable[0] if method == "delete" else server.run_ids["a1"]
    path = template.replace("{run_id}", run_id)
    for name, value in {**PATH_VALUES, **OPERATION_VALUES.get((method, template), {})}.items():
        path = path.replace(name, value)
    assert "{" not in path, f"give {method.upper()} {template} a value for its parameters here"
    return server.url.rstrip("/") + path


def body_of(server: ApiServer, method: str, template: str) -> Any:
    """The operation's body, with a run named by its key (``a1``) given its id."""
    body = BODIES.get((method, template), {})
    if isinstance(body.get("run"), str) and body["run"] in server.run_ids:
        body = {**body, "run": server.run_ids[body["run"]]}
    return body


def state(server: ApiServer) -> tuple[Any, ...]:
    """What a forged request could change: the runs (all their fields) and the files."""
    store = Store(server.store_url)
    try:
        runs = store.load_runs(list(server.run_ids.values()))
        listed = store.search_runs(limit=1000)
    finally:
        store.close()
    files = sorted(str(p.relative_to(server.root)) for p in Path(server.root).rglob("*"))
    return runs, listed, files


def test_state_changing_requests_need_the_xsrf_header(server: ApiServer) -> None:
    session = browser_login(server)
    # Logged in: a read needs no XSRF header (the browser's GET is not state-changing).
    assert session.get(url_of(server, "get", "/mltrack/api/runs/{run_id}"), timeout=60).ok

    before = state(server)
    for method, template in operations():  # without the header, or with a wrong one
        url = url_of(server, method, template)
        body = body_of(server, method, template)
        for headers in ({}, {"X-XSRFToken": "2|00000000|" + "0" * 32 + "|1700000000"}):
            forged = session.request(method.upper(), url, json=body, headers=headers, timeout=60)
            assert forged.status_code == 403, (method, template, forged.status_code, forged.text)
            assert "xsrf" in forged.json()["error"]["message"].lower(), forged.text
    assert state(server) == before, "a request refused for XSRF changed the store"

    header = {"X-XSRFToken": session.cookies["_xsrf"]}
    for method, template in operations():
        url = url_of(server, method, template)
        body = body_of(server, method, template)
        sent = session.request(method.upper(), url, json=body, headers=header, timeout=60)
        assert sent.status_code != 403, (method, template, sent.text)
        documented = SPEC["paths"][template][method]["responses"]
        assert str(sent.status_code) in documented, (method, template, sent.status_code)
        if (method, template) in BODIES or method == "delete":
            assert 200 <= sent.status_code < 300, (method, template, sent.text)

    store = Store(server.store_url)
    try:
        assert store.search_runs(limit=1000) != before[1]  # the patch and the delete happened
        assert not store.load_runs([server.disposable[0]])
        assert store.get_run(server.run_ids["a1"]).note == "changed"
        assert "gone1" not in [m.name for m in store.list_registered_models()]
    finally:
        store.close()
    assert (server.root / "nb" / "pipeline.py").exists()


def test_the_token_header_needs_no_xsrf_header(server: ApiServer) -> None:
    """A client with the token (the CLI, scripts) is not a browser: no XSRF token needed."""
    url = url_of(server, "patch", "/mltrack/api/runs/{run_id}")
    sent = requests.patch(url, json={"note": "by token"}, headers=server.auth, timeout=60)
    assert sent.status_code == 200, sent.text
    assert sent.json()["note"] == "by token"
