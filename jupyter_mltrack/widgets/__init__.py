"""Notebook widgets (ipywidgets). Imported lazily: ``import jupyter_mltrack`` loads neither
ipywidgets nor plotly; ``mltrack.compare(...)`` does, when it builds a :class:`CompareWidget`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CompareWidget"]


def __getattr__(name: str) -> Any:
    if name == "CompareWidget":
        from .compare import CompareWidget

        return CompareWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
