"""Record what a tracked cell shows, while the user still sees it exactly as usual.

Streams are teed (the original stream still receives every write), rich display calls are
recorded on their way through IPython's display publisher, and the whole record is kept as
nbformat v4 outputs. Each output is capped: a huge one is replaced by a text marker that says
how big it was, so a cell printing a gigabyte cannot bloat the store.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

#: Largest single output kept, in bytes of its JSON.
MAX_OUTPUT_BYTES = 1_000_000
#: Most outputs kept per run; later ones are counted in a final marker.
MAX_OUTPUTS = 200
RUN_CARD_MIME = "application/vnd.mltrack.run+json"


class _Tee:
    """A text stream that forwards to the real one and records what it saw."""

    def __init__(self, target: Any, name: str, recorder: OutputRecorder) -> None:
        self._target = target
        self._name = name
        self._recorder = recorder

    def write(self, text: str) -> int:
        result = self._target.write(text)
        with contextlib.suppress(Exception):
            self._recorder.stream(self._name, text)
        return result

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, …
        return getattr(self._target, name)


class OutputRecorder:
    """Context manager recording stdout, stderr and display data of one cell."""

    def __init__(self, shell: Any = None, *, max_bytes: int = MAX_OUTPUT_BYTES) -> None:
        self.shell = shell
        self.max_bytes = max_bytes
        self.outputs: list[dict[str, Any]] = []
        self.dropped = 0
        self._stream_bytes: dict[str, int] = {}
        self._saved: dict[str, Any] = {}

    # recording ---------------------------------------------------------------------------

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        used = self._stream_bytes.get(name, 0)
        if used >= self.max_bytes:
            self._stream_bytes[name] = used + len(text)
            return
        room = self.max_bytes - used
        self._stream_bytes[name] = used + len(text)
        piece = text[:room]
        last = self.outputs[-1] if self.outputs else None
        if last and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += piece
        elif not self._append({"output_type": "stream", "name": name, "text": piece}):
            return

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        if RUN_CARD_MIME in data or ((metadata or {}).get("mltrack") or {}).get("progress"):
            return  # the run card and snapshot progress bars are not the cell's outputs
        self._append(
            capped(
                {
                    "output_type": "display_data",
                    "data": dict(data),
                    "metadata": dict(metadata or {}),
                },
                self.max_bytes,
            )
        )

    def result(
        self, data: dict[str, Any], metadata: dict[str, Any], execution_count: int | None
    ) -> None:
        self._append(
            capped(
                {
                    "output_type": "execute_result",
                    "data": dict(data),
                    "metadata": dict(metadata),
                    "execution_count": execution_count,
                },
                self.max_bytes,
            )
        )

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self._append(
            capped(
                {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback},
                self.max_bytes,
            )
        )

    def _append(self, output: dict[str, Any]) -> bool:
        if len(self.outputs) >= MAX_OUTPUTS:
            self.dropped += 1
            return False
        self.outputs.append(output)
        return True

    def finalize(self) -> list[dict[str, Any]]:
        """The recorded outputs, with markers for anything cut."""
        outs = list(self.outputs)
        for out in outs:
            if out.get("output_type") == "stream":
                total = self._stream_bytes.get(out["name"], 0)
                if total > self.max_bytes and not out.get("metadata"):
                    out["text"] += (
                        f"\n[mltrack: {out['name']} cut at {self.max_bytes:,} of {total:,} characters]\n"
                    )
                    out.setdefault("metadata", {})["mltrack"] = {
                        "truncated": True,
                        "original_size": total,
                    }
        if self.dropped:
            outs.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": f"[mltrack: {self.dropped} more outputs not recorded]\n",
                }
            )
        return outs

    # installing --------------------------------------------------------------------------

    def __enter__(self) -> OutputRecorder:
        self._saved["stdout"], self._saved["stderr"] = sys.stdout, sys.stderr
        sys.stdout = _Tee(sys.stdout, "stdout", self)  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, "stderr", self)  # type: ignore[assignment]
        pub = getattr(self.shell, "display_pub", None)
        if pub is not None:
            original = pub.publish
            self._saved["publish"] = (pub, original, "publish" in vars(pub))

            def publish(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
                with contextlib.suppress(Exception):
                    self.display(data, metadata)
                return original(data, metadata, *args, **kwargs)

            pub.publish = publish
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.stdout, sys.stderr = self._saved["stdout"], self._saved["stderr"]
        saved = self._saved.get("publish")
        if saved is not None:
            pub, original, had_instance_attr = saved
            if had_instance_attr:
                pub.publish = original
            else:
                del pub.publish


def capped(output: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """``output`` itself, or a marker when its JSON is bigger than ``max_bytes``."""
    try:
        size = len(json.dumps(output, default=str))
    except (TypeError, ValueError):
        output = _jsonable(output)
        size = len(json.dumps(output))
    if size <= max_bytes:
        return _jsonable(output)
    kinds = ", ".join(sorted(output.get("data", {}))) or output.get("output_type", "output")
    marker = f"[mltrack: {kinds} output of {size:,} bytes not stored (limit {max_bytes:,})]"
    if output.get("output_type") == "error":
        return {
            "output_type": "error",
            "ename": str(output.get("ename", ""))[:1000],
            "evalue": str(output.get("evalue", ""))[:10_000],
            "traceback": [marker],
        }
    short = {k: v for k, v in output.items() if k not in ("data", "metadata")}
    short["data"] = {"text/plain": marker}
    short["metadata"] = {"mltrack": {"truncated": True, "original_size": size}}
    return short


def _jsonable(output: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(output, allow_nan=False)
        return output
    except (TypeError, ValueError):
        # NaN/inf (invalid JSON) become null; unknown objects become their str().
        return json.loads(json.dumps(output, default=str), parse_constant=lambda _c: None)
