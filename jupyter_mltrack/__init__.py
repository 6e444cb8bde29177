"""jupyter_mltrack: reproducible ML tracking for Jupyter notebooks.

Public API (importing this module is cheap: no server, tornado or store code is loaded until
a run actually needs it)::

    %load_ext jupyter_mltrack          # registers %%track and %mltrack
    import jupyter_mltrack as mltrack
    with mltrack.start_run(name="baseline", params={"C": 1.0}) as run:
        mltrack.log_metric("accuracy", 0.93)
    snap = mltrack.snapshot(df, name="train")   # exact, deduplicated dataset snapshot
    df2 = mltrack.load_snapshot("train")        # the same data, dtypes, index and all
"""

from __future__ import annotations

from typing import Any

from .capture.api import (
    active_run,
    end_run,
    get_store,
    log_metric,
    log_metrics,
    log_params,
    set_store,
    set_tags,
    start_run,
)
from .capture.data import diff, load_snapshot, snapshot

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0.dev0"

__all__ = [
    "__version__",
    "active_run",
    "diff",
    "end_run",
    "get_store",
    "load_snapshot",
    "load_ipython_extension",
    "log_metric",
    "log_metrics",
    "log_params",
    "set_store",
    "set_tags",
    "snapshot",
    "start_run",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mltrack``: register the magics and expose ``mltrack``."""
    from .capture.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .capture.magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mltrack"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import MltrackApp

    return [{"module": "jupyter_mltrack.server.app", "app": MltrackApp}]
