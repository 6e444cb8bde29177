"""The outputs section of a comparison: the runs' recorded outputs aligned by position,
streams (stdout, stderr) diffed as text, rich outputs shown side by side.

A comparison is sent whole to the browser and the widget, for up to 100 runs, so it carries
only what can be read side by side: a stream is cut to its first :data:`MAX_STREAM_CHARS`
characters (a training loop printing for an hour would otherwise send megabytes per run) and
a rich output (an image, HTML, a large repr) over :data:`MAX_RICH_BYTES` is replaced by a
note giving its sizes. A cut output keeps its type and says what was left out, in its text
and in ``mltrack_cut`` (``{"chars", "shown"}`` for a stream, ``{"bytes", "mimes"}`` for a
rich output); the run's own detail view has the full output. Text diffs are computed on the
cut text; whether outputs are ``same`` is decided on the full ones.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .textdiff import text_diff

#: Characters of a stream output kept in a comparison.
MAX_STREAM_CHARS = 20_000
#: A rich output larger than this (its MIME bundle as JSON) is replaced by a note.
MAX_RICH_BYTES = 256 * 1024
#: Key of an output that was cut, saying how much.
CUT_KEY = "mltrack_cut"


def _join(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _stream_text(output: Mapping[str, Any] | None) -> str | None:
    if not output or output.get("output_type") != "stream":
        return None
    return _join(output.get("text", ""))


#: Parts of an output that differ between runs without the output differing.
_INCIDENTAL = frozenset({"execution_count", "metadata", "transient"})


def _content(output: Mapping[str, Any] | None) -> Any:
    if output is None:
        return None
    return {k: v for k, v in output.items() if k not in _INCIDENTAL}


def _size(value: Any) -> int:
    """Bytes of a MIME bundle's value as sent (text as UTF-8, anything else as JSON)."""
    text = _join(value) if isinstance(value, str | list) else json.dumps(value, default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n:,} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def cut_stream(text: str) -> tuple[str, dict[str, int] | None]:
    """The first :data:`MAX_STREAM_CHARS` characters of ``text`` and what was cut."""
    if len(text) <= MAX_STREAM_CHARS:
        return text, None
    return text[:MAX_STREAM_CHARS], {"chars": len(text), "shown": MAX_STREAM_CHARS}


def _shown(output: dict[str, Any] | None, text: str | None) -> dict[str, Any] | None:
    """``output`` as the comparison carries it: cut when too large (see the module)."""
    if output is None:
        return None
    if text is not None:  # a stream
        kept, cut = cut_stream(text)
        if cut is None:
            return output
        note = (
            f"\n[… output cut: {cut['chars'] - cut['shown']:,} more characters "
            f"({cut['chars']:,} in all, the first {cut['shown']:,} shown); "
            "the run's detail view has the full output]\n"
        )
        return {**output, "text": kept + note, CUT_KEY: cut}
    bundle = output.get("data")
    parts = bundle if isinstance(bundle, Mapping) else {}
    if "traceback" in output:
        parts = {**parts, "traceback": output["traceback"]}
    sizes = {mime: _size(value) for mime, value in parts.items()}
    total = sum(sizes.values())
    if total <= MAX_RICH_BYTES:
        return output
    listed = ", ".join(f"{mime} {human_size(n)}" for mime, n in sizes.items())
    note = (
        f"[{output.get('output_type', 'rich')} output of {human_size(total)} ({listed}) left out "
        "of the comparison; the run's detail view shows it]"
    )
    small = {k: v for k, v in output.items() if k not in ("data", "traceback", "metadata")}
    if output.get("output_type") == "error":
        small["traceback"] = [note]
        small["evalue"] = _join(output.get("evalue", ""))[:1000]
    else:
        small["data"] = {"text/plain": note}
        small["metadata"] = {}
    small[CUT_KEY] = {"bytes": total, "mimes": sizes}
    return small


def outputs_section(outputs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``outputs[i]``: the outputs of run ``i`` (baseline first)."""
    length = max((len(o) for o in outputs), default=0)
    rows = []
    for index in range(length):
        items = [o[index] if index < len(o) else None for o in outputs]
        texts = [_stream_text(item) for item in items]
        cut_texts = [None if t is None else cut_stream(t)[0] for t in texts]
        base = items[0]
        text_diffs: list[Any] = [None]
        for item, text in zip(items[1:], cut_texts[1:], strict=True):
            same_stream = (
                cut_texts[0] is not None
                and text is not None
                and (base or {}).get("name") == (item or {}).get("name")
            )
            text_diffs.append(text_diff(cut_texts[0], text) if same_stream else None)
        rows.append(
            {
                "index": index,
                "items": [_shown(item, text) for item, text in zip(items, texts, strict=True)],
                "same": all(_content(item) == _content(base) for item in items[1:]),
                "text_diffs": text_diffs,
            }
        )
    return rows
