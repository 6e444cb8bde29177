"""Shared fixtures: a store on SQLite and on a real PostgreSQL server started by the tests."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import create_engine, text
from tornado.httpclient import HTTPResponse

from jupyter_mltrack.location import BLOB_URL_ENV, HOME_ENV, URL_ENV
from jupyter_mltrack.snapshots.cache import CACHE_ENV
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.spool import SPOOL_ENV

from .postgres import postgres_server
from .s3 import s3_server, use_s3

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture(autouse=True)
def _isolated_store_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may write to a developer's real store: point the default at a temp folder."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(BLOB_URL_ENV, raising=False)  # the server exports it: never inherit it
    monkeypatch.setenv(HOME_ENV, str(tmp_path / ".mltrack"))
    monkeypatch.setenv(SPOOL_ENV, str(tmp_path / "spool"))  # nor to a developer's spool
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))  # nor fill their blob cache


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'mltrack.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    st = Store(store_url)
    yield st
    st.close()


@pytest.fixture
def blob_store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store on each backend with its blobs in a local folder (a PostgreSQL store has
    no folder of its own to put them beside)."""
    st = Store(store_url, blob_url=(tmp_path / "blobs").as_uri())
    yield st
    st.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(str(tmp_path / "sqlite-store"))
    yield st
    st.close()


@pytest.fixture
def call(jp_serverapp: Any, http_server_client: Any, jp_auth_header: dict[str, str]) -> Any:
    """``method path?params`` with the token; the path is sent as built, so the ``%2F`` of
    an artifact's or a dataset's name stays one segment (``jp_fetch`` would escape it
    again)."""

    async def call(
        path: str,
        *,
        method: str = "GET",
        body: str | None = None,
        params: dict[str, str] | None = None,
    ) -> HTTPResponse:
        full = jp_serverapp.base_url.rstrip("/") + path
        if params:
            full += "?" + urlencode(params)
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = ""
        return await http_server_client.fetch(
            full, method=method, body=body, headers=jp_auth_header, raise_error=False
        )

    return call


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server for a test module's tests (each makes its own bucket)."""
    pytest.importorskip("s3fs")
    with s3_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_store(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A SQLite store with its blobs in a new bucket of the server (a team's blob store)."""
    from jupyter_mltrack.store import s3_blobs

    bucket = use_s3(monkeypatch, s3_endpoint)
    store = Store(f"sqlite:///{tmp_path / 'mltrack.db'}", blob_url=f"s3://{bucket}/team")
    assert isinstance(store.blobs, s3_blobs.S3BlobStore)
    yield store
    store.close()


@pytest.fixture
def s3_requests(s3_store: Store) -> Iterator[collections.Counter[str]]:
    """``method -> count`` of the HTTP requests ``s3_store``'s s3fs client sends from now
    on, counted as sent (botocore's ``before-send`` event): what reached the server."""
    fs = s3_store.blobs.fs  # type: ignore[attr-defined]
    fs.call_s3("list_buckets")  # the client exists from here on
    counts: collections.Counter[str] = collections.Counter()

    def count(request: object, **_: object) -> None:
        counts[request.method] += 1  # type: ignore[attr-defined]

    fs.s3.meta.events.register("before-send.s3", count)
    yield counts
    fs.s3.meta.events.unregister("before-send.s3", count)
