"""A preview of an artifact's file as a mime bundle, for JupyterLab's rendermime.

The run detail shows artifacts with the renderers JupyterLab already has: text and JSON
with its text and JSON renderers, images with its image renderer, a plotly figure with the
plotly renderer the plotly package installs. So a preview is what a notebook output would
be: ``{mime type: data}``. Files too big or not previewable get no bundle and a reason; the
raw bytes are downloadable either way.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from .artifacts import media_type_of, read_bytes
from .tables import PARQUET, table_preview

if TYPE_CHECKING:
    from ..store.entities import Artifact
    from ..store.store import Store

#: Largest text shown (bigger files are cut, and say so).
TEXT_LIMIT = 1 << 20
#: Largest image, JSON document or plotly figure previewed whole.
WHOLE_LIMIT = 8 << 20
#: Largest table previewed (its first rows: Parquet is read from its footer, so whole).
TABLE_LIMIT = 64 << 20
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_TEXT_TYPES = ("text/", "application/yaml", "application/x-yaml", "application/toml")
_IMAGES = ("image/png", "image/jpeg", "image/gif")


def preview(store: Store, artifact: Artifact, path: str | None = None) -> dict[str, Any]:
    """``{name, path, media_type, size, bundle, truncated, reason}`` of one file."""
    f = artifact.file(path)
    media = _media(artifact, f.path)
    out: dict[str, Any] = {
        "name": artifact.name,
        "path": f.path,
        "media_type": media,
        "size": f.size,
        "bundle": None,
        "truncated": False,
        "reason": None,
    }
    if (
        media == "image/svg+xml"
        or media in _IMAGES
        or media == "application/json"
        or media == PLOTLY_MIME
    ):
        if f.size > WHOLE_LIMIT:
            out["reason"] = f"{f.size:,} bytes is too big to preview; download it"
            return out
        data = read_bytes(store, artifact, f.path)
        if media in _IMAGES:
            out["bundle"] = {media: base64.b64encode(data).decode("ascii")}
        elif media == "image/svg+xml":
            out["bundle"] = {media: data.decode("utf-8", "replace")}
        else:
            try:
                value = json.loads(data)
            except ValueError as exc:
                out["bundle"] = {"text/plain": data[:TEXT_LIMIT].decode("utf-8", "replace")}
                out["reason"] = f"not valid JSON ({exc}); shown as text"
                return out
            out["bundle"] = {media: value, "text/plain": _cut(data)}
        return out
    if media.startswith(_TEXT_TYPES) or media in ("application/javascript", "text/csv"):
        data = read_bytes(store, artifact, f.path, limit=TEXT_LIMIT + 1)
        text = data[:TEXT_LIMIT].decode("utf-8", "replace")
        out["truncated"] = len(data) > TEXT_LIMIT
        bundle = {"text/plain": text}
        if media == "text/markdown":
            bundle["text/markdown"] = text
        out["bundle"] = bundle
        return out
    if media == PARQUET:
        if f.size > TABLE_LIMIT:
            out["reason"] = f"{f.size:,} bytes is too big to preview; load_table or download it"
            return out
        try:
            out["bundle"], _cut_off, out["reason"] = table_preview(
                read_bytes(store, artifact, f.path)
            )
        except Exception as exc:  # not Parquet after all (a file logged under that name)
            out["reason"] = f"not a table Parquet can read ({exc}); download it"
        return out
    out["reason"] = f"no preview for {media}; download it"
    return out


def _media(artifact: Artifact, path: str) -> str:
    """The file's media type: the artifact's own for its primary file of a figure (a
    plotly figure's JSON is a figure, not any JSON), else by extension."""
    if artifact.kind == "figure" and path.endswith(".json"):
        return PLOTLY_MIME
    return media_type_of(path)


def _cut(data: bytes) -> str:
    return data[:TEXT_LIMIT].decode("utf-8", "replace")
