"""Turning a figure (matplotlib or plotly) into the files of an artifact.

A matplotlib figure is kept as PNG (what a preview shows) and SVG (what a paper takes); a
plotly figure as its JSON (rendered live by JupyterLab's plotly renderer, the same renderer
the compare view uses) and a standalone HTML page. A name with an extension asks for that
one format only: ``log_figure(fig, "roc.pdf")``; any other extension is refused, listing
those a figure of its library can take (a name such as ``fig.xyz`` would otherwise be kept
as ``fig.xyz.png`` and ``fig.xyz.svg``, not what anyone asking for ``.xyz`` meant). An
extension is letters: ``loss_lr0.01`` is a name, kept as ``loss_lr0.01.png`` and ``.svg``.
"""

from __future__ import annotations

import io
import posixpath
from typing import Any

from .artifacts import ArtifactError, Source

PLOTLY_MIME = "application/vnd.plotly.v1+json"
_MPL_FORMATS = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
}
_PLOTLY_FORMATS = {"json": PLOTLY_MIME, "html": "text/html"}


def figure_library(fig: Any) -> str:
    """``matplotlib`` or ``plotly``, judged by type (neither library is imported for it)."""
    for klass in type(fig).__mro__:
        module = klass.__module__ or ""
        if module.startswith("matplotlib.figure") and klass.__name__ in ("Figure", "SubFigure"):
            return "matplotlib"
        if module.startswith("plotly.") and klass.__name__ in ("Figure", "FigureWidget"):
            return "plotly"
    if hasattr(fig, "savefig") and hasattr(fig, "canvas"):  # a Figure subclass elsewhere
        return "matplotlib"
    if type(fig).__module__.startswith("matplotlib") and hasattr(fig, "figure"):
        return "matplotlib-axes"
    raise ArtifactError(
        f"log_figure takes a matplotlib or plotly figure, not {type(fig).__module__}."
        f"{type(fig).__qualname__} (for a file already written, use log_artifact)"
    )


def split_extension(name: str) -> tuple[str, str]:
    """``(stem, extension)`` of an artifact name's last part; the extension is ``""`` when
    there is none. An extension is letters after the last dot: ``roc.pdf`` asks for PDF,
    ``loss_lr0.01`` and ``v1.2b`` are names (kept as ``loss_lr0.01.png``), ``roc.`` is
    ``roc``."""
    base = posixpath.basename(name)
    stem, dot, ext = base.rpartition(".")
    if not (dot and stem and ext.isascii() and ext.isalpha()):
        return base.rstrip(".") or base, ""
    return stem, ext


def figure_sources(fig: Any, name: str) -> tuple[list[Source], str, dict[str, Any]]:
    """``(sources, media type of the primary file, meta)`` for ``fig`` logged as ``name``."""
    library = figure_library(fig)
    if library == "matplotlib-axes":  # an Axes given for its figure
        fig, library = fig.figure, "matplotlib"
    stem, ext = split_extension(name)
    ext = ext.lower()
    known = _MPL_FORMATS if library == "matplotlib" else _PLOTLY_FORMATS
    default = ["png", "svg"] if library == "matplotlib" else ["json", "html"]
    if ext in known:
        formats = [ext]
    elif ext:
        raise ArtifactError(
            f"a {library} figure cannot be saved as .{ext} ({name!r}): end the name with one "
            f"of {', '.join(f'.{e}' for e in known)}, or give it no extension (no dot) to "
            f"keep it as {' and '.join(f'.{e}' for e in default)}"
        )
    else:
        formats = default
    sources = [Source(f"{stem}.{fmt}", data=_render(fig, library, fmt)) for fmt in formats]
    meta = {"library": library, "formats": formats, "primary": sources[0].path}
    return sources, known[formats[0]], meta


def _render(fig: Any, library: str, fmt: str) -> bytes:
    if library == "matplotlib":
        buf = io.BytesIO()
        # metadata without the software version and date: the same figure, the same bytes
        metadata = {"Software": None} if fmt == "png" else {"Date": None} if fmt == "svg" else {}
        fig.savefig(buf, format=fmt, bbox_inches="tight", metadata=metadata or None)
        return buf.getvalue()
    import plotly.io as pio

    if fmt == "json":
        return pio.to_json(fig, validate=False, pretty=False).encode()
    return pio.to_html(fig, include_plotlyjs="cdn", full_html=True).encode()
