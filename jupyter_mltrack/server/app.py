"""The Jupyter server extension: opens the store, serves the REST API, keeps run status honest.

Kernels write runs straight into the store; the server is the only process that sees kernels
come and go, so it is the one that closes runs a kernel can no longer close itself:

* when the server shuts a kernel down or restarts it (its ``kernel_actions`` events, and all
  live kernels when the server itself stops), the kernel's ``running`` runs become ``crashed``;
* every ``reap_interval`` seconds (and once at start-up) runs whose process is gone are reaped,
  which covers kernels that died on their own (OOM killer, ``kill -9``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Unicode, default

from ..capture.kernelinfo import ROOT_ENV
from ..location import BLOB_URL_ENV, HOME_ENV, URL_ENV, resolve_store_url
from ..store import RunStatus, Store
from . import handlers

if TYPE_CHECKING:
    from ..snapshots.storage import Snapshotter

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
CONTENTS_ACTIONS = "https://events.jupyter.org/jupyter_server/contents_service/v1"
#: Kernel actions after which the kernel process that opened a run is gone.
ENDING_ACTIONS = frozenset({"shutdown", "restart"})


class MltrackApp(ExtensionApp):
    """Server extension ``jupyter_mltrack`` (config section ``MltrackApp``)."""

    name = "jupyter_mltrack"
    load_other_extensions = True

    store_url = Unicode(
        help="""Database of runs: a SQLAlchemy URL (sqlite:///…, postgresql://…) or a folder.
        Default: MLTRACK_STORE_URL, else MLTRACK_HOME, else the nearest .mltrack/ folder above
        the server's root_dir, else <root_dir>/.mltrack. Exported to the kernels the server
        starts so they record into the same store.""",
    ).tag(config=True)

    reap_interval = Float(
        10.0,
        help="Seconds between checks for running runs whose process died (0 disables).",
    ).tag(config=True)

    blob_url = Unicode(
        "",
        help="""Where snapshot data goes: a folder or fsspec URL (s3://bucket/prefix for a
        team on PostgreSQL). Default: MLTRACK_BLOB_URL, else a blobs/ folder beside a SQLite
        store. Exported to the kernels the server starts.""",
    ).tag(config=True)

    @default("store_url")
    def _default_store_url(self) -> str:
        root = getattr(self.serverapp, "root_dir", None) if self.serverapp else None
        return resolve_store_url(None, start=root)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store: Store | None = None
        self.snapshotter: Snapshotter | None = None
        self._reaper: PeriodicCallback | None = None
        self._pending: set[asyncio.Future[Any]] = set()
        self._stopped = False

    # start-up -----------------------------------------------------------------------------

    def initialize_settings(self) -> None:
        """Open the store, share it with handlers and kernels, and hook kernel lifecycle."""
        try:
            self.store = Store(self.store_url, blob_url=self.blob_url or None)
        except Exception as exc:
            self.log.error("mltrack: cannot open the store %s: %s", self.store_url, exc)
            raise
        self.log.info("mltrack: recording runs in %r", self.store)
        self._export_environment(self.store)
        self.settings[handlers.STORE_SETTING] = self.store
        # Reads snapshot data for the API; it owns thread pools, so one per server, shared.
        from ..snapshots.storage import Snapshotter

        self.snapshotter = Snapshotter(self.store)
        self.settings[handlers.SNAPSHOTTER_SETTING] = self.snapshotter

        assert self.serverapp is not None
        self.serverapp.event_logger.add_listener(
            schema_id=KERNEL_ACTIONS, listener=self._on_kernel_action
        )
        self.serverapp.event_logger.add_listener(
            schema_id=CONTENTS_ACTIONS, listener=self._on_contents_action
        )
        # The IO loop is not running yet (pytest-jupyter never calls the async start hook),
        # so schedule the first reap and the periodic one for when it does.
        self.serverapp.io_loop.add_callback(self._start_reaper)

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers.handlers())

    def _export_environment(self, store: Store) -> None:
        """Kernels inherit the server's environment: make them resolve the same store."""
        os.environ[URL_ENV] = store.url
        if store.home is not None:
            os.environ[HOME_ENV] = str(store.home)
        if store.blob_url:
            os.environ[BLOB_URL_ENV] = store.blob_url
        if self.serverapp is not None:
            # Lets a kernel turn JPY_SESSION_NAME into the path the API shows.
            os.environ[ROOT_ENV] = str(self.serverapp.root_dir)

    # background work ----------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a store call in a worker thread, remembered so ``stop_extension`` can wait."""
        fut = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
        self._pending.add(fut)
        try:
            return await fut
        finally:
            self._pending.discard(fut)

    async def _start_reaper(self) -> None:
        if self._stopped:
            return
        await self.reap()
        if self.reap_interval > 0 and not self._stopped:
            self._reaper = PeriodicCallback(self.reap, self.reap_interval * 1000)
            self._reaper.start()

    async def reap(self) -> list[str]:
        """Crash the running runs whose process is gone; never raises (it runs unattended)."""
        if self.store is None or self._stopped:
            return []
        try:
            ids: list[str] = await self._in_thread(self.store.reap_stale_runs)
        except Exception:
            self.log.exception("mltrack: reaping stale runs failed")
            return []
        if ids:
            self.log.info("mltrack: %d run(s) whose process died marked crashed", len(ids))
        return ids

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """``kernel_actions`` listener: a shut down or restarted kernel closes no more runs."""
        kernel_id = data.get("kernel_id")
        if data.get("action") not in ENDING_ACTIONS or data.get("status") != "success":
            return
        if not kernel_id or self.store is None or self._stopped:
            return
        # A restarted kernel keeps its id; spare runs its new process may have opened already.
        await self._crash_kernel_runs(kernel_id, started_before=time.time())

    async def _on_contents_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """``contents_service`` listener: runs follow a renamed notebook (or folder)."""
        if data.get("action") != "rename" or self.store is None or self._stopped:
            return
        old, new = data.get("source_path"), data.get("path")
        if not old or not new:
            return
        try:
            moved = await self._in_thread(self.store.rename_notebook, old, new)
        except Exception:
            self.log.exception("mltrack: moving runs from %s to %s failed", old, new)
            return
        if moved:
            self.log.info("mltrack: %d run(s) moved with %s -> %s", moved, old, new)

    async def _crash_kernel_runs(self, kernel_id: str, started_before: float | None) -> None:
        assert self.store is not None
        try:
            ids = await self._in_thread(
                self.store.mark_kernel_runs,
                kernel_id,
                RunStatus.CRASHED,
                started_before=started_before,
            )
        except Exception:
            self.log.exception("mltrack: closing the runs of kernel %s failed", kernel_id)
            return
        if ids:
            self.log.info("mltrack: kernel %s ended; %d run(s) marked crashed", kernel_id, len(ids))

    # shutdown -----------------------------------------------------------------------------

    async def stop_extension(self) -> None:
        """Server shutdown: the server stops extensions *before* it kills the kernels, and
        would emit their events to a stopped extension, so close their runs here."""
        if self._stopped or self.store is None:
            return
        if self._reaper is not None:
            self._reaper.stop()
        assert self.serverapp is not None
        self.serverapp.event_logger.remove_listener(
            schema_id=KERNEL_ACTIONS, listener=self._on_kernel_action
        )
        self.serverapp.event_logger.remove_listener(
            schema_id=CONTENTS_ACTIONS, listener=self._on_contents_action
        )
        km = getattr(self.serverapp, "kernel_manager", None)
        for kernel_id in list(km.list_kernel_ids()) if km is not None else []:
            await self._crash_kernel_runs(kernel_id, started_before=None)
        self._stopped = True
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
        if self.snapshotter is not None:
            # Joins its pools' threads: a preview still reading finishes first.
            await asyncio.to_thread(self.snapshotter.close)
        self.store.close()
