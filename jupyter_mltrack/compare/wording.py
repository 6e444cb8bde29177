"""The words of an explanation: how a factor, its values and its evidence are said.

Kept apart from ``explain`` (which ranks) so the sentences can change without touching
the scoring, and so other faces (the widget, the CLI) could reuse them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import evidence as ev
from .evidence import MISSING
from .factors import Candidate


def fmt(x: float) -> str:
    return f"{x:.3g}"


def show(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if not isinstance(value, int | bool) else str(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def title(c: Candidate) -> str:
    if c.kind == "param":
        detail = f" ({c.detail})" if c.detail else ""
        return f"`{c.key}` {short(show(c.a))} → {short(show(c.b))}{detail}"
    if c.kind == "code":
        part, _, _ = c.key.partition("@@")
        old, new = changed_parts(c.a, c.b)
        change = (
            f" (`{old}` → `{new}`)"
            if old and new
            else (f" (+`{new}`)" if new else f" (-`{old}`)" if old else "")
        )
        return f"{part} {c.detail}{change}"
    if c.kind == "data":
        cols = f" ({c.detail})" if c.detail else ""
        return f"input `{c.key}` {show(c.a)} → {show(c.b)}{cols}"
    if c.kind == "used":
        refs = f" ({c.detail})" if c.detail else ""
        return f"loaded `{c.key}`: {show(c.a)} → {show(c.b)}{refs}"
    if c.kind == "package":
        grade = f" ({c.detail})" if c.detail else ""
        return f"{c.key} {show(c.a)} → {show(c.b)}{grade}"
    if c.kind == "seed":
        return f"{c.key} seed {show(c.a)} → {show(c.b)}"
    return f"{c.key} {show(c.a)} → {show(c.b)}"


def short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def changed_parts(a: Any, b: Any, width: int = 40) -> tuple[str, str]:
    """The first lines of both sides, each cut to the window where they differ: two long
    lines sharing a prefix must not be shortened to the same text and hide the change."""
    old, new = first_line(a, None), first_line(b, None)
    if not old or not new or (len(old) <= width and len(new) <= width):
        return first_line(a), first_line(b)
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    start = max(0, start - 10)

    def window(text: str) -> str:
        cut = text[start : start + width - 1]
        return ("…" if start else "") + cut + ("…" if start + width - 1 < len(text) else "")

    return window(old), window(new)


def first_line(text: Any, width: int | None = 40) -> str:
    if not isinstance(text, str):
        return ""
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    if not lines:
        return ""
    line = lines[0] if width is None or len(lines[0]) <= width else lines[0][: width - 1] + "…"
    return line + (" …" if len(lines) > 1 else "")


def what(c: Candidate) -> str:
    if c.kind == "param":
        return f"`{c.key}`"
    if c.kind == "code":
        return "this hunk"
    if c.kind == "data":
        return f"`{c.key}`"
    if c.kind == "used":
        return f"which `{c.key}` they loaded"
    if c.kind == "seed":
        return f"the {c.key} seed"
    if c.kind == "package":
        return f"the {c.key} version"
    if c.kind == "environment":
        return "the platform" if c.key == "platform" else f"the {c.key} version"
    return c.key


def name(c: Candidate) -> str:
    """The factor named in a list (``_what`` names it alone)."""
    if c.kind == "code":
        return f"the {c.key.partition('@@')[0]} hunk {c.detail}"
    if c.kind == "data":
        return f"input `{c.key}`"
    if c.kind == "used":
        return f"the `{c.key}` loaded"
    return what(c)


def together(names: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def moved(metric: str, mean: float, std: float | None) -> str:
    if mean == 0:
        return f"{metric} did not change on average (± {fmt(std or 0.0)})"
    verb = "rose" if mean > 0 else "fell"
    return f"{metric} {verb} by {fmt(abs(mean))} ± {fmt(std or 0.0)}"


def body(c: Candidate, e: ev.FactorEvidence, metric: str, what: str) -> str:
    p = e.pairs
    parts = []
    if p.count and p.mean is not None:
        s = "" if p.count == 1 else "s"
        how = ""
        if not p.exact:
            how = " (moved the same way, not between these values)"
        parts.append(
            f"in {p.count} other pair{s} differing only in {what}{how}, "
            f"{moved(metric, p.mean, p.std)}"
        )
    else:
        parts.append(f"no other pair of runs differs only in {what}")
    extra = []
    if e.spearman is not None:
        extra.append(f"Spearman {e.spearman:+.2f} over {e.spearman_runs} runs")
    if e.rf_importance is not None:
        est = f", predicts {e.rf_estimate:+.3g}" if e.rf_estimate is not None else ""
        extra.append(f"forest importance {e.rf_importance:.2f}{est}")
    if extra:
        parts.append("; ".join(extra))
    elif not p.count:
        parts.append(
            "the other runs do not vary it" if not e.varies else "no correlation to measure"
        )
    return "; ".join(parts)
