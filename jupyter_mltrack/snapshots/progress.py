"""Showing how far a slow snapshot has got.

Split from :mod:`.storage` so the write path reads as storing, not displaying: a progress
bar shown once a snapshot takes ``PROGRESS_AFTER`` seconds (an updating display in a
notebook, marked with ``PROGRESS_METADATA`` so a tracked cell does not record it; lines on
stderr elsewhere), and the thread-safe byte counter the encoder threads feed it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

#: A snapshot still writing after this many seconds shows a progress bar.
PROGRESS_AFTER = 1.0
#: Marks the progress display, so a tracked cell does not record it among its outputs.
PROGRESS_METADATA = {"mltrack": {"progress": True}}

ProgressCallback = Callable[[int, int], None]


class _Progress:
    """A progress bar for a slow snapshot: shown only once it has taken ``PROGRESS_AFTER``
    seconds, as an updating display in a notebook, or lines on stderr elsewhere."""

    def __init__(self, label: str, total: int, after: float = PROGRESS_AFTER) -> None:
        self.label = label
        self.total = max(total, 1)
        self.after = after
        self.start = time.perf_counter()
        self._handle: Any = None
        self._shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = max(total, 1)
        now = time.perf_counter()
        if now - self.start < self.after or (now - self._last < 0.25 and done < self.total):
            return
        self._last = now
        self._show(done, final=False)

    def finish(self, written: int) -> None:
        if self._shown:
            self._show(self.total, final=True, written=written)

    def _show(self, done: int, *, final: bool, written: int | None = None) -> None:
        share = min(done / self.total, 1.0)
        elapsed = time.perf_counter() - self.start
        text = (
            f"mltrack: snapshot {self.label} {share:4.0%} of {_size(self.total)} ({elapsed:.1f} s)"
        )
        if final:
            text = f"mltrack: snapshot {self.label} stored: {_size(written or 0)} written in {elapsed:.1f} s"
        bar = "█" * int(share * 30) + "░" * (30 - int(share * 30))
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            shell = None
        if shell is None or not hasattr(shell, "kernel"):
            print(f"{text} {bar if not final else ''}", file=sys.stderr)
            self._shown = True
            return
        from IPython.display import display

        bundle = {
            "text/plain": f"{text}\n{bar}",
            "text/html": (
                f'<div class="jp-mltrack-progress"><progress max="1" value="{share:.3f}" '
                f'style="width:18em;vertical-align:middle"></progress> {_html(text)}</div>'
            ),
        }
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True, metadata=PROGRESS_METADATA)
        else:
            self._handle.update(bundle, raw=True, metadata=PROGRESS_METADATA)
        self._shown = True


def _html(text: str) -> str:
    import html

    return html.escape(text)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class _Counter:
    """Bytes encoded so far, reported to the progress bar (thread-safe)."""

    def __init__(self, report: ProgressCallback, total: int) -> None:
        self.report = report
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            done = self.done
        self.report(done, max(self.total, done))
