"""The artifact and registry routes of the REST API, against a real server and store.

Artifacts are logged with the same code the kernel uses; every answer is checked against
``openapi.json``. The server fixtures are those of ``test_server``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.server import models as models_api
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.blobs import digest_bytes
from jupyter_mltrack.store.entities import ArtifactFile

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

RUN = "/mltrack/api/runs/{run_id}"
ARTIFACTS = "/mltrack/api/runs/{run_id}/artifacts"
PREVIEW = "/mltrack/api/runs/{run_id}/artifacts/{name}/preview"
RAW = "/mltrack/api/runs/{run_id}/artifacts/{name}/raw"
MODELS = "/mltrack/api/models"
MODEL = "/mltrack/api/models/{name}"
ALIAS = "/mltrack/api/models/{name}/aliases/{alias}"
VERSION = "/mltrack/api/models/{name}/versions/{version}"
LINEAGE = "/mltrack/api/models/{name}/lineage"
#: A version number past 64 bits (SQLite cannot bind it).
HUGE = 99999999999999999999999
META = {"format": "skops", "flavor": "sklearn", "library_version": "1.5.0", "unsafe": False}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def _blob_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blobs in a folder both the test's store and the server's read (PostgreSQL needs one)."""
    monkeypatch.setenv("MLTRACK_BLOB_URL", (tmp_path / "blobs").as_uri())


def logged_run(store: Store, payload: bytes = b"weights") -> str:
    run = store.create_run("exp", code="fit()")
    sources = [
        ("notes/readme.md", "text", [Source("readme.md", data=b"# Notes\n\nall good\n")]),
        ("pixel.png", "file", [Source("pixel.png", data=PNG)]),
        ("blob.bin", "file", [Source("blob.bin", data=bytes(range(256)))]),
    ]
    for name, kind, files in sources:
        write_artifact(store, run.id, name, kind, files)
    write_artifact(
        store, run.id, "model", "model", [Source("model.skops", data=payload)], meta=META
    )
    return run.id


async def test_run_detail_lists_artifacts_and_previews_them(call: Any, store: Store) -> None:
    run_id = logged_run(store)
    detail = check(await call(url(RUN, run_id=run_id)), RUN)
    names = [a["name"] for a in detail["artifacts"]]
    assert names == ["blob.bin", "model", "notes/readme.md", "pixel.png"]
    model = next(a for a in detail["artifacts"] if a["kind"] == "model")
    assert model["model"]["format"] == "skops" and detail["models"] == []
    # the call that loads it, by its run, with the trust its file needs
    assert model["model"]["load"] == f"mltrack.load_model('{run_id}/model')"
    listed = check(await call(url(ARTIFACTS, run_id=run_id)), ARTIFACTS)
    assert [a["name"] for a in listed["artifacts"]] == names
    # a run named as everywhere else: an id prefix, its number
    for ref in (run_id[:6], "1", "#1"):
        assert check(await call(url(ARTIFACTS, run_id=ref)), ARTIFACTS) == listed, ref
    by_number = check(await call(url(PREVIEW, run_id="1", name="notes/readme.md")), PREVIEW)
    assert by_number["bundle"]["text/markdown"].startswith("# Notes")
    assert (await call(url(RAW, run_id=run_id[:8], name="blob.bin"))).body == bytes(range(256))

    text = check(await call(url(PREVIEW, run_id=run_id, name="notes/readme.md")), PREVIEW)
    assert text["bundle"]["text/markdown"].startswith("# Notes")
    image = check(await call(url(PREVIEW, run_id=run_id, name="pixel.png")), PREVIEW)
    assert base64.b64decode(image["bundle"]["image/png"]) == PNG
    binary = check(await call(url(PREVIEW, run_id=run_id, name="blob.bin")), PREVIEW)
    assert binary["bundle"] is None and binary["reason"]

    raw = await call(url(RAW, run_id=run_id, name="blob.bin"))
    assert raw.body == bytes(range(256))
    assert "attachment" in raw.headers["Content-Disposition"]
    raw = await call(url(RAW, run_id=run_id, name="model"), params={"path": "model.skops"})
    assert raw.body == b"weights"


async def test_files_kept_in_a_pack_are_previewed_and_downloaded(call: Any, store: Store) -> None:
    """A folder written to S3 in packs (or pulled from such a store) keeps its files as
    ranges of a pack blob: the preview and the download read the range, checked."""
    run = store.create_run("exp")
    notes, table = b"# Packed\n", b"a,b\n1,2\n"
    pack = digest_bytes(notes + table)
    store.blobs.put_bytes(pack, notes + table)
    files = [
        ArtifactFile("notes.md", digest_bytes(notes), len(notes), pack, 0),
        ArtifactFile("table.csv", digest_bytes(table), len(table), pack, len(notes)),
    ]
    store.record_artifact(run.id, "report", "folder", files, media_type="text/markdown")
    raw = await call(url(RAW, run_id=run.id, name="report"), params={"path": "table.csv"})
    assert raw.body == table
    shown = check(await call(url(PREVIEW, run_id=run.id, name="report")), PREVIEW)
    assert shown["path"] == "notes.md" and shown["bundle"]["text/markdown"] == notes.decode()


async def test_a_download_whose_pack_a_gc_rewrites_meanwhile_reads_the_new_pack(
    call: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route reads the artifact's rows, then its pack; a ``gc`` in between moves the
    file to a new pack and deletes the old one: the download reads the rows again and
    sends the bytes, not a 404 or a 500."""
    run_a, run_b = store.create_run("exp").id, store.create_run("exp").id
    files = [Source(f"f{i:02}.bin", data=bytes([i]) * (200 + i)) for i in range(20)]
    write_artifact(store, run_a, "all", "folder", files)
    kept = write_artifact(
        store, run_b, "kept.bin", "file", [Source("kept.bin", data=files[3].data)]
    )
    assert kept.file().pack is not None  # in run a's pack, no blob of its own
    store.delete_artifact(run_a, "all")  # the pack is mostly dead now
    real = models_api.artifact_file
    reports: list[dict[str, Any]] = []

    def gc_meanwhile(*args: Any) -> Any:
        found = real(*args)
        sn = Snapshotter(store)
        try:
            reports.append(sn.gc())
        finally:
            sn.close()
        return found

    monkeypatch.setattr(models_api, "artifact_file", gc_meanwhile)
    raw = await call(url(RAW, run_id=run_b, name="kept.bin"))
    assert raw.code == 200 and raw.body == files[3].data
    assert reports[0]["artifact_packs_rewritten"] == 1
    assert not store.blobs.has(kept.file().pack)  # the pack the rows first named is gone


@sqlite_only
async def test_artifact_routes_refuse_what_is_not_there(call: Any, store: Store) -> None:
    run_id = logged_run(store)
    for path, params in [
        (url(PREVIEW, run_id=run_id, name="absent"), {}),
        (url(PREVIEW, run_id=run_id, name="model"), {"path": "nope"}),
        (url(RAW, run_id=run_id, name="absent"), {}),
        (url(ARTIFACTS, run_id="0" * 32), {}),
        (url(ARTIFACTS, run_id="not-an-id"), {}),
    ]:
        response = await call(path, params=params)
        error_of(response, 404)
    response = await call(url(PREVIEW, run_id=run_id, name="model"), params={"bogus": "1"})
    assert "unknown query parameter" in error_of(response, 400)


async def test_a_download_whose_bytes_were_deleted_behind_the_store_is_a_404_naming_them(
    call: Any, store: Store
) -> None:
    """Bytes the records name but the blob store lost (deleted by hand) are said, as a
    preview says them, not hidden in a server error."""
    run_id = logged_run(store)
    digest = store.get_artifact(run_id, "notes/readme.md").files[0].digest
    store.blobs.delete(digest)
    for route in (RAW, PREVIEW):
        message = error_of(await call(url(route, run_id=run_id, name="notes/readme.md")), 404)
        assert digest in message, (route, message)


async def test_register_move_an_alias_and_read_the_lineage(call: Any, store: Store) -> None:
    first, second = logged_run(store, b"v1"), logged_run(store, b"v2")
    body = {"name": "churn", "run": first, "artifact": "model"}
    created = await call(MODELS, method="POST", body=json.dumps(body))
    assert created.code == 201
    assert check(created, MODELS, "post")["version"] == 1
    again = await call(MODELS, method="POST", body=json.dumps(body))
    assert again.code == 200  # registered before: nothing created
    assert check(again, MODELS, "post") == check(created, MODELS, "post")
    body["run"] = second[:8]  # an id prefix works as everywhere
    created = await call(MODELS, method="POST", body=json.dumps(body))
    assert created.code == 201 and check(created, MODELS, "post")["version"] == 2
    body["run"] = 2  # and a run's number, as a JSON number (or as text)
    for run in (2, "2", "#2"):
        again = await call(MODELS, method="POST", body=json.dumps({**body, "run": run}))
        assert again.code == 200 and check(again, MODELS, "post")["version"] == 2, run
    # tags with the registration: set on the version it is, new or not
    tagged = await call(MODELS, method="POST", body=json.dumps({**body, "tags": {"a": "1"}}))
    assert tagged.code == 200 and check(tagged, MODELS, "post")["tags"] == {"a": "1"}

    moved = await call(
        url(ALIAS, name="churn", alias="production"), method="PUT", body='{"version": 1}'
    )
    assert check(moved, ALIAS, "put")["aliases"] == {"production": 1}
    moved = await call(
        url(ALIAS, name="churn", alias="production"), method="PUT", body='{"version": 2}'
    )
    model = check(moved, ALIAS, "put")
    assert model["aliases"] == {"production": 2}
    assert [v["version"] for v in model["versions"]] == [2, 1]  # newest first
    assert model["versions"][0]["aliases"] == ["production"]

    listed = check(await call(MODELS), MODELS)
    assert listed["models"] == [
        {
            "name": "churn",
            "description": "",
            "created_at": listed["models"][0]["created_at"],
            "updated_at": listed["models"][0]["updated_at"],
            "versions": 2,
            "latest": 2,
            "aliases": {"production": 2},
            "tags": {},
        }
    ]
    detail = check(await call(url(RUN, run_id=second)), RUN)
    assert [m["ref"] for m in detail["models"]] == ["models:/churn/2"]
    # loaded by the registry, by its alias: the code follows the alias when it moves
    (version,) = detail["models"]
    assert version["load"].startswith("mltrack.load_model('models:/churn@production'")
    listed_by_run = check(await call(url(ARTIFACTS, run_id=second)), ARTIFACTS)
    assert listed_by_run["models"] == detail["models"]

    lineage = check(await call(url(LINEAGE, name="churn"), params={"alias": "production"}), LINEAGE)
    assert lineage["run"]["id"] == second and lineage["code"] == "fit()"
    assert lineage["model"]["aliases"] == ["production"]
    assert "graph" not in lineage and lineage["used"] == [] and lineage["used_by"]["count"] == 0
    # a run that loaded the model: in its detail and the lineage, and the graph's figure
    user = store.create_run("eval")
    model = store.get_artifact(second, "model")
    use = {"ref": "models:/churn@production", "how": "load_model", "model": "churn"}
    store.record_artifact_uses(
        user.id,
        [{**use, "source_run_id": second, "name": "model", "kind": "model", "version": 2,
          "digest": model.content_digest}],
    )  # fmt: skip
    drawn = check(
        await call(url(LINEAGE, name="churn"), params={"alias": "production", "figure": "1"}),
        LINEAGE,
    )
    assert [u["run_id"] for u in drawn["used_by"]["runs"]] == [user.id]
    kinds = sorted((n["kind"], n["column"]) for n in drawn["graph"]["nodes"])
    assert kinds == [("model", 0), ("run", -1), ("run", 1)]
    assert {t["name"] for t in drawn["figure"]["data"]} == {"this model", "run"}
    assert check(await call(url(RUN, run_id=user.id)), RUN)["used"][0]["version"] == 2
    bad = await call(url(LINEAGE, name="churn"), params={"figure": "maybe"})
    assert "figure must be 1 or 0" in error_of(bad, 400)

    # the version holding the alias is kept unless forced; the run cannot go meanwhile
    refused = await call(url(VERSION, name="churn", version="2"), method="DELETE")
    message = error_of(refused, 409)
    assert "holds @production" in message and "delete with ?force=1" in message
    assert "force=True" not in message and "--force" not in message  # Python's, the CLI's
    refused = await call(url(RUN, run_id=second), method="DELETE")
    assert "registered" in error_of(refused, 409)
    gone = await call(
        url(VERSION, name="churn", version="2"), method="DELETE", params={"force": "1"}
    )
    assert gone.code == 204
    assert check(await call(url(MODEL, name="churn")), MODEL)["aliases"] == {}


async def test_delete_a_model_refused_while_an_alias_points_into_it_unless_forced(
    call: Any, store: Store
) -> None:
    first, second = logged_run(store, b"v1"), logged_run(store, b"v2")
    store.register_model_version("churn", first, "model")
    store.register_model_version("churn", second, "model")
    store.set_model_alias("churn", "production", 2)

    refused = await call(url(MODEL, name="churn"), method="DELETE")
    message = error_of(refused, 409)
    assert "model 'churn' holds @production (v2)" in message
    assert "delete with ?force=1" in message
    assert "force=True" not in message and "--force" not in message  # Python's, the CLI's
    assert check(await call(url(MODEL, name="churn")), MODEL)["aliases"] == {"production": 2}

    gone = await call(url(MODEL, name="churn"), method="DELETE", params={"force": "true"})
    assert (gone.code, gone.body) == (204, b"")
    error_of(await call(url(MODEL, name="churn")), 404)
    assert check(await call(MODELS), MODELS)["models"] == []
    # the runs no longer name it, and keep their models
    detail = check(await call(url(RUN, run_id=second)), RUN)
    assert detail["models"] == [] and "model" in [a["name"] for a in detail["artifacts"]]
    raw = await call(url(RAW, run_id=second, name="model"), params={"path": "model.skops"})
    assert raw.body == b"v2"
    error_of(await call(url(MODEL, name="churn"), method="DELETE"), 404)

    # the name registered again is a new model, from v1; without aliases it goes unasked
    body = json.dumps({"name": "churn", "run": second, "artifact": "model"})
    again = await call(MODELS, method="POST", body=body)
    assert again.code == 201 and check(again, MODELS, "post")["ref"] == "models:/churn/1"
    gone = await call(url(MODEL, name="churn"), method="DELETE", params={"force": "0"})
    assert gone.code == 204
    assert store.list_registered_models() == []


@sqlite_only
@pytest.mark.parametrize("server_options", [{"allow_unauthenticated_access": True}])
async def test_deleting_a_model_needs_the_token(
    jp_serverapp: Any, http_server_client: Any, call: Any, store: Store
) -> None:
    """The handler's own decorators refuse it (the server would let the request through),
    and the model stays."""
    store.register_model_version("churn", logged_run(store), "model")
    path = jp_serverapp.base_url.rstrip("/") + url(MODEL, name="churn")
    for params in ("", "?force=1"):
        response = await http_server_client.fetch(
            path + params,
            method="DELETE",
            headers={"Cookie": "_xsrf=abc", "X-XSRFToken": "abc"},  # only the token missing
            raise_error=False,
        )
        error_of(response, 403)
    assert [m.name for m in store.list_registered_models()] == ["churn"]
    assert (await call(url(MODEL, name="churn"), method="DELETE")).code == 204


@sqlite_only
async def test_registry_routes_refuse_bad_requests(call: Any, store: Store) -> None:
    run_id = logged_run(store)
    store.register_model_version("churn", run_id, "model")
    store.create_run("other")  # run number 1 is now in two experiments
    register = {"name": "churn", "artifact": "model"}
    cases = [
        (MODELS, "POST", {"name": "churn"}, 400),
        (MODELS, "POST", {"name": "churn", "run": run_id, "artifact": "pixel.png"}, 409),
        (MODELS, "POST", {"name": "a/b", "run": run_id, "artifact": "model"}, 400),
        (MODELS, "POST", {"name": "..", "run": run_id, "artifact": "model"}, 400),
        (MODELS, "POST", {"name": "my model", "run": run_id, "artifact": "model"}, 400),
        (MODELS, "POST", {"name": "x", "run": "0" * 32, "artifact": "model"}, 404),
        (url(ALIAS, name="churn", alias="production"), "PUT", {"version": 0}, 400),
        (url(ALIAS, name="churn", alias="production"), "PUT", {"version": 9}, 404),
        (url(ALIAS, name="churn", alias="latest"), "PUT", {"version": 1}, 400),
        (url(ALIAS, name="nope", alias="production"), "PUT", {"version": 1}, 404),
        (url(ALIAS, name="churn", alias="production"), "DELETE", None, 404),
        (MODELS, "POST", {**register, "run": 1}, 400),  # which run #1?
        (MODELS, "POST", {**register, "run": 0}, 400),
        (MODELS, "POST", {**register, "run": True}, 400),
        (MODELS, "POST", {**register, "run": 3}, 404),
        (MODELS, "POST", {**register, "run": run_id, "tags": ["a"]}, 400),
        (MODELS, "POST", {**register, "run": run_id, "tags": {"a": 1}}, 400),
        (MODELS, "POST", {**register, "run": run_id, "tags": {"": "x"}}, 400),
        (url(ARTIFACTS, run_id="1"), "GET", None, 400),
        (url(PREVIEW, run_id="1", name="model"), "GET", None, 400),
        (url(ARTIFACTS, run_id="7"), "GET", None, 404),
        # a version that is not a number is a bad request, on every route
        (url(VERSION, name="churn", version="x"), "DELETE", None, 400),
        (url(VERSION, name="churn", version="0"), "DELETE", None, 400),
        (url(VERSION, name="churn", version="²"), "DELETE", None, 400),
        (url(LINEAGE, name="churn") + "?version=x", "GET", None, 400),
        (url(LINEAGE, name="churn") + "?version=%C2%B2", "GET", None, 400),
        (url(MODEL, name="nope"), "GET", None, 404),
        (url(MODEL, name="nope"), "DELETE", None, 404),
        (url(MODEL, name="churn") + "?force=maybe", "DELETE", None, 400),
        (url(MODEL, name="churn") + "?force=1&force=1", "DELETE", None, 400),
        (url(MODEL, name="churn") + "?forced=1", "DELETE", None, 400),
        # a number no version can have is no version, not a database error
        (url(ALIAS, name="churn", alias="production"), "PUT", {"version": HUGE}, 404),
        (url(VERSION, name="churn", version=str(HUGE)), "DELETE", None, 404),
        (url(LINEAGE, name="churn") + f"?version={HUGE}", "GET", None, 404),
    ]
    for path, method, body, status in cases:
        response = await call(
            path,
            method=method,
            body=None if body is None else json.dumps(body),
        )
        error_of(response, status)
    both = await call(url(LINEAGE, name="churn"), params={"version": "1", "alias": "a"})
    assert "not both" in error_of(both, 400)
    ambiguous = await call(MODELS, method="POST", body=json.dumps({**register, "run": 1}))
    assert "run number 1 is ambiguous" in error_of(ambiguous, 400)
    # a number past what json reads (4,300 digits) is a bad body, not a server error
    huge = await call(
        url(ALIAS, name="churn", alias="production"),
        method="PUT",
        body='{"version": 1' + "0" * 5000 + "}",
    )
    assert "not valid JSON" in error_of(huge, 400)
    huge = await call(url(VERSION, name="churn", version="1" * 5000), method="DELETE")
    assert "must be a positive integer" in error_of(huge, 400)
    assert [m.name for m in store.list_registered_models()] == ["churn"]  # none deleted it


async def test_describe_a_model_and_tag_its_versions(call: Any, store: Store) -> None:
    """``PATCH`` a model's description and a version's description and tags (``null``
    deletes a tag); each answer is the thing afterwards, and every listing shows them."""
    run_id = logged_run(store)
    store.register_model_version("churn", run_id, "model")
    store.set_model_alias("churn", "production", 1)
    described = await call(
        url(MODEL, name="churn"), method="PATCH", body='{"description": "Who leaves next"}'
    )
    assert check(described, MODEL, "patch")["description"] == "Who leaves next"
    patched = await call(
        url(VERSION, name="churn", version="1"),
        method="PATCH",
        body=json.dumps({"description": "May data", "tags": {"validation": "pending", "n": "1"}}),
    )
    version = check(patched, VERSION, "patch")
    assert version["tags"] == {"n": "1", "validation": "pending"}
    assert version["description"] == "May data" and version["aliases"] == ["production"]
    patched = await call(
        url(VERSION, name="churn", version="1"),
        method="PATCH",
        body=json.dumps({"tags": {"validation": "passed", "n": None}}),
    )
    assert check(patched, VERSION, "patch")["tags"] == {"validation": "passed"}
    model = check(await call(url(MODEL, name="churn")), MODEL)
    assert model["versions"][0]["tags"] == {"validation": "passed"}
    assert model["versions"][0]["description"] == "May data"
    detail = check(await call(url(RUN, run_id=run_id)), RUN)
    assert detail["models"][0]["tags"] == {"validation": "passed"}
    lineage = check(await call(url(LINEAGE, name="churn")), LINEAGE)
    assert lineage["model"]["tags"] == {"validation": "passed"}
    assert check(await call(MODELS), MODELS)["models"][0]["description"] == "Who leaves next"
    # the model's own tags: set and deleted as a version's, shown with the model
    tagged = await call(
        url(MODEL, name="churn"),
        method="PATCH",
        body=json.dumps({"tags": {"team": "growth", "task": "churn"}}),
    )
    assert check(tagged, MODEL, "patch")["tags"] == {"task": "churn", "team": "growth"}
    tagged = await call(
        url(MODEL, name="churn"),
        method="PATCH",
        body=json.dumps({"description": "Who leaves", "tags": {"task": None}}),
    )
    model = check(tagged, MODEL, "patch")
    assert (model["description"], model["tags"]) == ("Who leaves", {"team": "growth"})
    assert model["versions"][0]["tags"] == {"validation": "passed"}  # the version's, apart
    assert check(await call(MODELS), MODELS)["models"][0]["tags"] == {"team": "growth"}
    # the listing filtered by the models' own tags (MLflow's "tags.team = 'growth'")
    found = check(await call(MODELS + "?tag=team%3Dgrowth"), MODELS)["models"]
    assert [m["name"] for m in found] == ["churn"]
    assert check(await call(MODELS + "?tag=team%3Dgrowth&tag=task%3Dx"), MODELS)["models"] == []
    assert "'tag' is KEY=VALUE" in error_of(await call(MODELS + "?tag=team"), 400)
    assert "unknown query parameter 'tags'" in error_of(await call(MODELS + "?tags=a%3Db"), 400)


@sqlite_only
async def test_patching_the_registry_refuses_bad_requests(call: Any, store: Store) -> None:
    store.register_model_version("churn", logged_run(store), "model")
    store.update_model_version("churn", 1, set_tags={"owner": "ana"})
    version = url(VERSION, name="churn", version="1")
    cases = [
        (url(MODEL, name="churn"), {}, 400, "the body must be"),
        (url(MODEL, name="churn"), {"description": 3}, 400, "'description' must be text"),
        (url(MODEL, name="churn"), {"owner": "x"}, 400, "with either or both"),
        (url(MODEL, name="churn"), {"tags": {"team": 3}}, 400, "a value is text"),
        (url(MODEL, name="churn"), {"tags": {"x": None}}, 404, "no tag 'x' (its tags: none)"),
        (url(MODEL, name="churn"), {"description": "y", "tags": {"": "x"}}, 400, "tag key"),
        (url(MODEL, name="nope"), {"description": "x"}, 404, "no registered model 'nope'"),
        (version, {}, 400, "with either or both"),
        (version, {"owner": "x"}, 400, "with either or both"),
        (version, {"description": None}, 400, "'description' must be text"),
        (version, {"tags": ["owner"]}, 400, "'tags' must be an object"),
        (version, {"tags": {"owner": 3}}, 400, "a value is text"),
        (version, {"tags": {"k\u0000": "x"}}, 400, "NUL"),
        (version, {"tags": {"k": "v" * 5001}}, 400, "at most 5,000 characters"),
        (version, {"tags": {"stage": None}}, 404, "no tag 'stage' (its tags: owner)"),
        (version, {"description": "x\u0000"}, 400, "cannot contain NUL"),
        (url(VERSION, name="churn", version="2"), {"description": "x"}, 404, "no version 2"),
        (url(VERSION, name="churn", version="x"), {"description": "x"}, 400, "positive integer"),
    ]
    for path, body, status, message in cases:
        response = await call(path, method="PATCH", body=json.dumps(body))
        assert message in error_of(response, status), (path, body)
    assert "not valid JSON" in error_of(await call(version, method="PATCH", body="{"), 400)
    kept = store.resolve_model_version("churn", version=1)
    assert kept.tags == {"owner": "ana"} and kept.description == ""
    model = store.get_registered_model("churn")
    assert (model.tags, model.description) == ({}, "")  # no refused edit half-done
