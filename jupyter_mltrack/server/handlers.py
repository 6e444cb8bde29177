"""The HTTP layer of the REST API (see ``docs/rest-api.md`` and ``openapi.json``).

Handlers stay thin: they authenticate, decode the request, run the matching function of
:mod:`.api` in a worker thread (store calls block, the server's event loop must not) and encode
the answer. Errors, including tornado's own (403, 405), are JSON ``{"error": {status, message}}``
so the frontend has a single shape to show.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from functools import cache
from http.client import responses
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from ..imports import first_alone
from ..store import Store, StoreError
from . import api, search
from . import compare as compare_api
from . import datasets as datasets_api
from . import models as models_api

if TYPE_CHECKING:
    from ..snapshots.storage import Snapshotter

#: Key of the shared :class:`Store` in the tornado settings (set by ``MltrackApp``).
STORE_SETTING = "mltrack_store"
#: Key of the shared :class:`Snapshotter` (it owns thread pools: one per server).
SNAPSHOTTER_SETTING = "mltrack_snapshotter"
AUTH_RESOURCE = "mltrack"
OPENAPI_PATH = Path(__file__).with_name("openapi.json")
#: Query arguments jupyter_server itself may put on any request; never an API parameter.
SERVER_QUERY_ARGS = frozenset({"token", "_xsrf", "no_track_activity"})
#: The methods a route of the API may define.
API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

T = TypeVar("T")


class ApiHTTPError(tornado.web.HTTPError):
    """An :class:`api.ApiError` on its way to ``write_error``, with its extra fields."""

    def __init__(self, error: api.ApiError) -> None:
        super().__init__(error.status, "%s", error.message)
        self.extra = error.extra()


class MltrackHandler(ExtensionHandlerMixin, APIHandler):
    """Shared plumbing: the store, JSON errors and running blocking calls in a thread."""

    auth_resource = AUTH_RESOURCE

    @property
    def store(self) -> Store:
        return self.settings[STORE_SETTING]

    @property
    def snapshotter(self) -> Snapshotter:
        return self.settings[SNAPSHOTTER_SETTING]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(store, *args)`` off the event loop and turn API refusals into HTTP errors."""
        return await self.call_with(fn, self.store, *args)

    async def call_with(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` off the event loop and turn API refusals into HTTP errors. The
        first call of each function runs under the import lock: it may be the first to
        import a library, which two threads must not do at once (see :mod:`..imports`)."""
        try:
            return await asyncio.to_thread(first_alone, fn, *args)
        except api.ApiError as exc:
            raise ApiHTTPError(exc) from None

    def query_args(self) -> dict[str, list[str]]:
        """The query arguments as ``name -> [values]``, without the server's own."""
        return {
            name: [self.decode_argument(v, name=name) for v in values]
            for name, values in self.request.query_arguments.items()
            if name not in SERVER_QUERY_ARGS
        }

    def json_body(self) -> Any:
        """The request's body as JSON (``None`` when empty); a 400 when it is not JSON."""
        try:
            return json.loads(self.request.body or b"null")
        except ValueError as exc:  # bad UTF-8 or JSON, or an integer of over 4300 digits
            raise tornado.web.HTTPError(400, f"the body is not valid JSON: {exc}") from None

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The methods this route answers: those the handler defines (``APIHandler``'s own
        ``get``/``post``/… only answer 405), and ``OPTIONS``, which ``APIHandler`` answers."""
        own = [
            m for m in API_METHODS if getattr(cls, m.lower()) is not getattr(APIHandler, m.lower())
        ]
        return [*own, "OPTIONS"]

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(api.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as ``{"error": {"status", "message"}}`` (replaces APIHandler's shape),
        plus the ``reason`` and details of an API refusal a client acts on."""
        message = responses.get(status_code, "Unknown error")
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        extra = exc.extra if isinstance(exc, ApiHTTPError) else {}
        if isinstance(exc, tornado.web.HTTPError):
            if exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
        elif isinstance(exc, StoreError):
            message = str(exc)
        elif exc is not None:
            message = "internal error in the mltrack server extension; see the server log"
        self.set_header("Content-Type", "application/json")
        if status_code == 405:  # RFC 9110: a 405 says which methods the resource has
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        error = {"status": status_code, "message": message, **extra}
        self.finish(json.dumps({"error": error}))


class ExperimentsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(api.list_experiments))


class RunsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(search.list_runs, self.query_args()))


class RunCountHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(search.count_runs, self.query_args()))


class RunGroupsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(search.list_groups, self.query_args()))


class RunKeysHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(search.list_keys, self.query_args()))


class RunHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(await self.call(api.get_run, run_id))

    @tornado.web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        self.write_json(await self.call(api.patch_run, run_id, self.json_body()))

    @tornado.web.authenticated
    @authorized
    async def delete(self, run_id: str) -> None:
        await self.call(api.delete_run, run_id)
        self.set_status(204)
        self.finish()


class SnapshotsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(api.list_snapshots, self.query_args()))


class SnapshotHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        # tornado has already percent-decoded ``ref``: a digest's colon may come either way.
        self.write_json(await self.call(api.get_snapshot, ref))


class SnapshotRowsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, ref: str) -> None:
        rows = await self.call_with(api.snapshot_rows, self.snapshotter, ref, self.query_args())
        self.write_json(rows)


class SnapshotDiffHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, a: str, b: str) -> None:
        diff = await self.call_with(api.diff_snapshots, self.snapshotter, a, b, self.query_args())
        self.write_json(diff)


class ExportHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        # Files go beside the notebook, in the folder the contents API serves it from.
        root = self.serverapp.root_dir
        self.write_json(await self.call(api.export_pipeline, root, self.json_body()))


class CompareHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(compare_api.compare_runs, self.query_args()))


class ExplainHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(compare_api.explain_runs, self.query_args()))


class ChartHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(compare_api.chart, self.query_args()))


class MetricSeriesHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, key: str) -> None:
        # tornado has percent-decoded ``key``: a ``/`` in it arrives as ``%2F`` and matches.
        series = await self.call(compare_api.metric_series, run_id, key, self.query_args())
        self.write_json(series)


class ArtifactsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(await self.call(models_api.list_artifacts, run_id))


class ArtifactPreviewHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        # tornado has percent-decoded ``name``: a ``/`` in it arrives as ``%2F`` and matches.
        args = self.query_args()
        self.write_json(await self.call(models_api.artifact_preview, run_id, name, args))


class ArtifactRawHandler(MltrackHandler):
    """The bytes of one file of an artifact, streamed from the blob store, as a download."""

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        args = self.query_args()
        artifact, path = await self.call(models_api.artifact_file, run_id, name, args)
        filename = path.rpartition("/")[2]
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header(
            "Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        )
        reader = await self.call(models_api.open_artifact_file, artifact, path)
        try:
            while True:
                chunk = await asyncio.to_thread(reader.read, 1 << 20)
                if not chunk:
                    break
                self.write(chunk)
                await self.flush()
        finally:
            reader.close()
        self.finish()


class ModelsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(models_api.list_models, self.query_args()))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        version, created = await self.call(models_api.register, self.json_body())
        self.write_json(version, status=201 if created else 200)


class ModelHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(models_api.get_model, name))

    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        self.write_json(await self.call(models_api.update_model, name, self.json_body()))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        await self.call(models_api.delete_model, name, self.query_args())
        self.set_status(204)
        self.finish()


class ModelAliasHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def put(self, name: str, alias: str) -> None:
        body = self.json_body()
        self.write_json(await self.call(models_api.set_alias, name, alias, body))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, alias: str) -> None:
        await self.call(models_api.delete_alias, name, alias)
        self.set_status(204)
        self.finish()


class ModelVersionHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str, version: str) -> None:
        body = self.json_body()
        self.write_json(await self.call(models_api.update_version, name, version, body))

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, version: str) -> None:
        await self.call(models_api.delete_version, name, version, self.query_args())
        self.set_status(204)
        self.finish()


class ModelLineageHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.call(models_api.lineage, name, self.query_args()))


class DatasetsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(await self.call(datasets_api.list_datasets))


class DatasetHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, dataset: str) -> None:
        # tornado has percent-decoded ``dataset``: the ``/`` of ``team/churn`` comes as ``%2F``.
        self.write_json(await self.call(datasets_api.get_dataset, dataset))


class DatasetVersionHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, dataset: str, selector: str) -> None:
        self.write_json(await self.call(datasets_api.get_version, dataset, selector))


class DatasetRowsHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, dataset: str, selector: str) -> None:
        args = self.query_args()
        rows = await self.call_with(
            datasets_api.version_rows, self.snapshotter, dataset, selector, args
        )
        self.write_json(rows)


class DatasetDiffHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, dataset: str) -> None:
        args = self.query_args()
        diff = await self.call_with(datasets_api.diff_versions, self.snapshotter, dataset, args)
        self.write_json(diff)


class DatasetTagHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, dataset: str, tag: str) -> None:
        body = self.json_body()
        self.write_json(await self.call(datasets_api.set_tag, dataset, tag, body))

    @tornado.web.authenticated
    @authorized
    async def delete(self, dataset: str, tag: str) -> None:
        await self.call(datasets_api.delete_tag, dataset, tag)
        self.set_status(204)
        self.finish()


@cache
def openapi_text() -> str:
    return OPENAPI_PATH.read_text(encoding="utf-8")


class OpenApiHandler(MltrackHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(openapi_text())


#: The API's routes as OpenAPI path templates (the same strings as in ``openapi.json``).
ROUTES: list[tuple[str, type[MltrackHandler]]] = [
    ("/mltrack/api/experiments", ExperimentsHandler),
    ("/mltrack/api/runs", RunsHandler),
    # before runs/{run_id}, which would take "groups" and "keys" for run ids
    ("/mltrack/api/runs/count", RunCountHandler),
    ("/mltrack/api/runs/groups", RunGroupsHandler),
    ("/mltrack/api/runs/keys", RunKeysHandler),
    ("/mltrack/api/runs/{run_id}", RunHandler),
    ("/mltrack/api/runs/{run_id}/metrics/{key}", MetricSeriesHandler),
    ("/mltrack/api/runs/{run_id}/artifacts", ArtifactsHandler),
    ("/mltrack/api/runs/{run_id}/artifacts/{name}/preview", ArtifactPreviewHandler),
    ("/mltrack/api/runs/{run_id}/artifacts/{name}/raw", ArtifactRawHandler),
    ("/mltrack/api/snapshots", SnapshotsHandler),
    ("/mltrack/api/snapshots/{ref}", SnapshotHandler),
    ("/mltrack/api/snapshots/{ref}/rows", SnapshotRowsHandler),
    ("/mltrack/api/snapshots/{a}/diff/{b}", SnapshotDiffHandler),
    ("/mltrack/api/export", ExportHandler),
    ("/mltrack/api/compare", CompareHandler),
    ("/mltrack/api/compare/explain", ExplainHandler),
    ("/mltrack/api/compare/charts", ChartHandler),
    ("/mltrack/api/models", ModelsHandler),
    ("/mltrack/api/models/{name}", ModelHandler),
    ("/mltrack/api/models/{name}/aliases/{alias}", ModelAliasHandler),
    ("/mltrack/api/models/{name}/versions/{version}", ModelVersionHandler),
    ("/mltrack/api/models/{name}/lineage", ModelLineageHandler),
    ("/mltrack/api/datasets", DatasetsHandler),
    ("/mltrack/api/datasets/{dataset}", DatasetHandler),
    ("/mltrack/api/datasets/{dataset}/versions/{selector}", DatasetVersionHandler),
    ("/mltrack/api/datasets/{dataset}/versions/{selector}/rows", DatasetRowsHandler),
    ("/mltrack/api/datasets/{dataset}/diff", DatasetDiffHandler),
    ("/mltrack/api/datasets/{dataset}/tags/{tag}", DatasetTagHandler),
    ("/mltrack/api/openapi.json", OpenApiHandler),
]


def template_to_pattern(template: str) -> str:
    """``/runs/{run_id}`` -> ``/runs/(?P<run_id>[^/]+)`` (tornado URL pattern)."""
    out = ""
    for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", template):
        if part.startswith("{"):
            out += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            out += re.escape(part)
    return out


def handlers() -> list[tuple[str, type[MltrackHandler]]]:
    """The ``(pattern, handler)`` pairs ``MltrackApp`` adds (the server prepends base_url)."""
    return [(template_to_pattern(t), h) for t, h in ROUTES]
