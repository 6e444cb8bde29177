"""The outputs section of a comparison: the runs' recorded outputs aligned by position,
streams (stdout, stderr) diffed as text, rich outputs shown side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .textdiff import text_diff


def _stream_text(output: Mapping[str, Any] | None) -> str | None:
    if not output or output.get("output_type") != "stream":
        return None
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


#: Parts of an output that differ between runs without the output differing.
_INCIDENTAL = frozenset({"execution_count", "metadata", "transient"})


def _content(output: Mapping[str, Any] | None) -> Any:
    if output is None:
        return None
    return {k: v for k, v in output.items() if k not in _INCIDENTAL}


def outputs_section(outputs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``outputs[i]``: the outputs of run ``i`` (baseline first)."""
    length = max((len(o) for o in outputs), default=0)
    rows = []
    for index in range(length):
        items = [o[index] if index < len(o) else None for o in outputs]
        base = items[0]
        base_text = _stream_text(base)
        text_diffs: list[Any] = [None]
        for item in items[1:]:
            text = _stream_text(item)
            same_stream = (
                base_text is not None
                and text is not None
                and (base or {}).get("name") == (item or {}).get("name")
            )
            text_diffs.append(text_diff(base_text, text) if same_stream else None)
        rows.append(
            {
                "index": index,
                "items": items,
                "same": all(_content(item) == _content(base) for item in items[1:]),
                "text_diffs": text_diffs,
            }
        )
    return rows
