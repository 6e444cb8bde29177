"""Named, versioned datasets over snapshots (``mltrack.datasets``)::

    v = mltrack.datasets.push(df, "team/churn", message="March data", meta={"source": "crm"})
    mltrack.datasets.tag(v.ref, "gold")
    df = mltrack.datasets.get("team/churn@gold")      # exactly as pushed
    mltrack.datasets.versions("team/churn")           # message, author, size, runs
    mltrack.datasets.diff("team/churn@v1", "team/churn@gold")
    mltrack.datasets.push("data/images", "team/images")   # a folder, file by file
    path = mltrack.datasets.get("team/images")         # a read-only folder (cached)

A version is named by the hash of its manifest (the snapshot digest of its content and the
meta): the same data and meta get the same hash in any store. See :mod:`.api`.
"""

from __future__ import annotations

from ..store.entities import Dataset, DatasetUse, DatasetVersion
from ..store.errors import DatasetNotFound, InvalidDatasetRef
from .api import DatasetDiff, DatasetManifest, browse, diff, get, push, tag, untag, versions
from .api import list_datasets as list  # noqa: A004 - ``mltrack.datasets.list()``, as asked

__all__ = [
    "Dataset",
    "DatasetDiff",
    "DatasetManifest",
    "DatasetNotFound",
    "DatasetUse",
    "DatasetVersion",
    "InvalidDatasetRef",
    "browse",
    "diff",
    "get",
    "list",
    "push",
    "tag",
    "untag",
    "versions",
]
