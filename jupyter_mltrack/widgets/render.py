"""HTML and text for a comparison and an explanation, from their JSON (``to_dict()``) shapes.

Used by the widget's live tabs and by its static fallback (the ``text/html`` a saved notebook
shows on GitHub or nbviewer, where no kernel runs the widget). So everything here is plain
HTML with inline styles — no classes from a stylesheet that would not travel with the
notebook, no scripts — and every value from the store is escaped. Colour is never the only
signal: changes carry an arrow and a sign, states a word.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..compare.artifact_rows import change_note, shown_images, side_summary
from ..compare.outputs import human_size
from ..compare.used import differs as used_differs
from ..compare.used import entry_text
from ..models.figures import PLOTLY_MIME

#: Colours readable on light and dark themes.
BETTER = "#1a7f37"
WORSE = "#cf222e"
MUTED = "#808080"
#: How an embedded image is drawn: at most its column's width, at least 128 px wide.
EMBEDDED_IMAGE = "max-width:100%;min-width:128px"
CHANGED_BG = "rgba(255, 193, 7, 0.18)"
CELL = "padding:2px 8px;border-bottom:1px solid rgba(128,128,128,0.25);vertical-align:top"
HEAD = f"{CELL};text-align:left;white-space:nowrap"
SECTION = "padding:8px 8px 2px;text-align:left;font-weight:600;border-bottom:1px solid " + MUTED
KEY = f"{CELL};text-align:left;font-family:monospace;white-space:nowrap"
MAX_TEXT = 80
#: Rows of the ``text/plain`` table (a frontend showing plain text shows all of it).
MAX_TEXT_ROWS = 50
#: A value the run has not recorded (yet), unlike "—" (it has none).
NOT_RECORDED = "not recorded"
#: The comparison's spelling of non-finite metric values, and how they are shown.
NON_FINITE = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}


def fmt(value: Any) -> str:
    """A value as short text: numbers to 4 significant digits, long text cut."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def metric_text(value: Any) -> str:
    """A reduced metric: "—" where the run did not log it, ``NaN``/``inf``/``-inf`` where it
    logged a non-finite value (``"nan"``, ``"inf"``, ``"-inf"`` in the comparison)."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    return fmt(value)


def _not_recorded() -> str:
    return f'<span style="color:{MUTED}">{NOT_RECORDED}</span>'


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def _e(value: Any) -> str:
    return html.escape(fmt(value))


_TICKS = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> str:
    """Escape ``text`` and turn its `backticked` names into ``<code>``."""
    return _TICKS.sub(r"<code>\1</code>", html.escape(text, quote=False))


def change_html(change: float | None, pct: float | None, verdict: str | None) -> str:
    """``▲ +0.03 (+3.3%)`` coloured by the verdict (better/worse by the metric's goal)."""
    if change is None:
        return ""
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    colour = {"better": BETTER, "worse": WORSE}.get(verdict or "", MUTED)
    text = f"{arrow} {_signed(change)}"
    if pct is not None and change != 0 and math.isfinite(pct):
        text += f" ({pct:+.3g}%)"
    title = f' title="{html.escape(verdict)}"' if verdict else ""
    return f' <span style="color:{colour};white-space:nowrap"{title}>{html.escape(text)}</span>'


def _attribute(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key == "start_time" and isinstance(value, (int, float)):
        return html.escape(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value)))
    if key == "start_time" and isinstance(value, str):  # ISO 8601: to the second
        return html.escape(value.replace("T", " ").partition(".")[0].partition("+")[0])
    if key == "duration" and isinstance(value, (int, float)):
        return html.escape(f"{value:.3g} s")
    if key == "git_commit" and isinstance(value, str):
        return f"<code>{html.escape(value[:10])}</code>"
    return _e(value)


def _hunk_counts(diff: Mapping[str, Any] | None) -> tuple[int, int]:
    added = removed = 0
    for hunk in (diff or {}).get("hunks") or []:
        for line in hunk.get("lines") or []:
            if line.startswith("+"):
                added += 1
            elif line.startswith("-"):
                removed += 1
    return added, removed


def _code_state(diff: Mapping[str, Any] | None) -> str:
    if diff is None:
        return ""
    if diff.get("same", True):
        return f'<span style="color:{MUTED}">same</span>'
    added, removed = _hunk_counts(diff)
    return f'<span style="background:{CHANGED_BG}">changed: +{added} −{removed} lines</span>'


def _data_cell(
    entry: Mapping[str, Any] | None, state: str | None, diff: Mapping[str, Any] | None
) -> str:
    if entry is None:
        return f'<span style="color:{MUTED}">{html.escape(state or "—")}</span>'
    shape = ""
    if entry.get("rows") is not None:
        columns = entry.get("columns")
        shape = f"{entry['rows']}×{columns}" if columns else str(entry["rows"])
    text = " ".join(p for p in (entry.get("kind") or "", shape, entry.get("short") or "") if p)
    if not state or state == "same":
        return html.escape(text)
    notes = [state]
    if diff:
        rows = diff.get("rows") or []
        if len(rows) == 2 and rows[0] != rows[1]:
            notes.append(f"rows {fmt(rows[0])} → {fmt(rows[1])}")
        if diff.get("schema_changed"):
            notes.append("schema changed")
        changed = diff.get("changed_columns") or []
        if changed:
            notes.append(f"{len(changed)} column{'s' if len(changed) != 1 else ''} changed")
    return (
        f'<span style="background:{CHANGED_BG}">{html.escape(text)} '
        f"({html.escape(', '.join(notes))})</span>"
    )


class _Table:
    """Rows of a comparison table, a section heading before each non-empty group."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: list[str] = []
        self._pending: str | None = None

    def section(self, title: str) -> None:
        self._pending = title

    def row(self, key: str, cells: Sequence[str], *, key_title: str = "") -> None:
        if self._pending is not None:
            self.rows.append(
                f'<tr><th colspan="{self.columns + 1}" style="{SECTION}">'
                f"{html.escape(self._pending)}</th></tr>"
            )
            self._pending = None
        title = f' title="{html.escape(key_title)}"' if key_title else ""
        tds = "".join(f'<td style="{CELL}">{c}</td>' for c in cells)
        self.rows.append(f'<tr><td style="{KEY}"{title}>{key}</td>{tds}</tr>')


def comparison_html(
    data: Mapping[str, Any],
    *,
    differences_only: bool = True,
    images: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The comparison as one HTML table: a column per run, the baseline first; metrics with
    their change against the baseline (arrow, sign, better/worse colour), then parameters,
    code, data, artifacts, attributes and packages. ``differences_only`` hides rows where all
    runs agree. Below it, the code diffs and the differing artifacts (see
    :func:`artifacts_html`, which shows the ``images`` given).
    """
    runs = data.get("runs") or []
    table = _Table(len(runs))

    def keep(row: Mapping[str, Any]) -> bool:
        return not differences_only or bool(row.get("differs", True))

    table.section("Metrics")
    for m in data.get("metrics") or []:
        if not keep(m):
            continue
        values, n = m.get("values") or [], len(runs)
        changes = m.get("changes") or [None] * n
        pcts = m.get("pct_changes") or [None] * n
        verdicts = m.get("verdicts") or [None] * n
        cells = [
            html.escape(metric_text(v)) + change_html(changes[i], pcts[i], verdicts[i])
            for i, v in enumerate(values)
        ]
        goal = "higher is better" if m.get("goal") == "max" else "lower is better"
        reducer = html.escape(str(m.get("reducer") or "last"))
        table.row(
            f'{html.escape(m["key"])} <small style="color:{MUTED}">{reducer}</small>',
            cells,
            key_title=goal,
        )

    table.section("Parameters")
    for p in data.get("params") or []:
        if not keep(p):
            continue
        values = p.get("values") or []
        changes = p.get("changes") or [None] * len(values)
        cells = []
        for i, v in enumerate(values):
            text = _e(v)
            if i and p.get("differs") and v != values[0]:
                if changes[i] is not None:
                    text += f' <small style="color:{MUTED}">({_signed(changes[i])})</small>'
                text = f'<span style="background:{CHANGED_BG}">{text}</span>'
            cells.append(text)
        table.row(html.escape(p["key"]), cells)

    code = data.get("code") or {}
    diffs = code.get("diffs") or []
    table.section("Code")
    for part in ("cell", "dependencies"):
        states = [_code_state((d or {}).get(part)) if d else "" for d in diffs]
        changed = any(d and not (d.get(part) or {}).get("same", True) for d in diffs)
        if states and (changed or not differences_only):
            if not states[0]:
                states[0] = f'<span style="color:{MUTED}">baseline</span>'
            table.row(part, states)

    table.section("Data")
    for d in data.get("data") or []:
        states = d.get("states") or []
        if differences_only and all(s in (None, "same") for s in states):
            continue
        entries = d.get("entries") or [None] * len(states)
        label = f"{d.get('role', '')} {d.get('name') or d.get('path') or ''}".strip()
        diffs_ = d.get("diffs") or [None] * len(states)
        cells = [_data_cell(*cell) for cell in zip(entries, states, diffs_, strict=False)]
        table.row(html.escape(label), cells)

    table.section("Used")
    for u in data.get("used") or []:
        if differences_only and not used_differs(u):
            continue
        cells = []
        for i, state in enumerate(u["states"]):
            text = html.escape(entry_text(u["entries"][i]))
            if state not in (None, "same"):
                text = f'<span style="background:{CHANGED_BG}">{text} ({html.escape(state)})</span>'
            cells.append(text)
        table.row(html.escape(u["key"]), cells)

    table.section("Artifacts")
    for a in data.get("artifacts") or []:
        if differences_only and a.get("status") == "same":
            continue
        n = len(a.get("runs") or [])
        cells = [
            _artifact_cell(*cell)
            for cell in zip(
                a.get("runs") or [],
                a.get("states") or [None] * n,
                a.get("file_changes") or [None] * n,
                a.get("table_diffs") or [None] * n,
                strict=False,
            )
        ]
        table.row(html.escape(a["name"]), cells, key_title=str(a.get("status") or ""))

    table.section("Attributes")
    for a in data.get("attributes") or []:
        if keep(a):
            values = a.get("values") or []
            unknown = a.get("unknown") or [False] * len(values)
            cells = [
                _not_recorded() if u else _attribute(a["key"], v)
                for v, u in zip(values, unknown, strict=False)
            ]
            table.row(html.escape(a["key"]), cells)

    table.section("Packages")
    env = data.get("environment") or {}
    recorded = env.get("recorded") or [True] * len(runs)
    if not all(recorded) and any(recorded):  # some runs have not recorded theirs (yet)
        table.row("environment", ["" if ok else _not_recorded() for ok in recorded])
    for pkg in env.get("packages") or []:
        if keep(pkg):
            cells = [
                _e(v) if i >= len(recorded) or recorded[i] else _not_recorded()
                for i, v in enumerate(pkg.get("values") or [])
            ]
            table.row(html.escape(pkg["name"]), cells)

    heads = "".join(
        f'<th style="{HEAD}">{html.escape(str(r.get("label") or r.get("id", "")[:8]))}'
        + (f' <small style="color:{MUTED}">baseline</small>' if i == 0 else "")
        + (
            f'<br><small style="color:{MUTED}">{html.escape(r["name"])}</small>'
            if r.get("name")
            else ""
        )
        + "</th>"
        for i, r in enumerate(runs)
    )
    body = "".join(table.rows) or (
        f'<tr><td colspan="{len(runs) + 1}" style="{CELL};color:{MUTED}">'
        "The runs differ in nothing recorded.</td></tr>"
    )
    return (
        '<div style="font-size:13px"><table style="border-collapse:collapse">'
        f'<thead><tr><th style="{HEAD}"></th>{heads}</tr></thead><tbody>{body}</tbody></table>'
        + code_diffs_html(data)
        + artifacts_html(data, images)
        + "</div>"
    )


def code_diffs_html(data: Mapping[str, Any]) -> str:
    """Each run's code changes against the baseline as unified-diff hunks (collapsed)."""
    runs = data.get("runs") or []
    parts = []
    for run, diff in zip(runs, (data.get("code") or {}).get("diffs") or [], strict=False):
        for part in ("cell", "dependencies"):
            hunks = ((diff or {}).get(part) or {}).get("hunks") or []
            if not hunks:
                continue
            label = html.escape(f"{run.get('label', '')} vs {runs[0].get('label', '')}")
            parts.append(
                f"<details><summary>{part} diff: {label}</summary>{hunks_html(hunks)}</details>"
            )
    return "".join(parts)


def hunks_html(hunks: Sequence[Mapping[str, Any]]) -> str:
    """Unified-diff hunks as a ``<pre>``: added lines green, removed red."""
    lines = []
    for hunk in hunks:
        lines.append(f'<span style="color:{MUTED}">{html.escape(hunk["header"])}</span>')
        for line in hunk.get("lines") or []:
            colour = BETTER if line[:1] == "+" else WORSE if line[:1] == "-" else ""
            text = html.escape(line)
            lines.append(f'<span style="color:{colour}">{text}</span>' if colour else text)
    return f'<pre style="font-size:12px;margin:4px 0">{chr(10).join(lines)}</pre>'


def _artifact_cell(
    side: Mapping[str, Any] | None,
    state: str | None,
    changes: Mapping[str, int] | None,
    table: Mapping[str, Any] | None = None,
) -> str:
    """What a run holds under an artifact name, and its state against the baseline's."""
    if side is None:
        return f'<span style="color:{MUTED}">{html.escape(state or "—")}</span>'
    text = side_summary(side)
    note = change_note(side, state, changes, table)
    if not note:
        return html.escape(text)
    return f'<span style="background:{CHANGED_BG}">{html.escape(f"{text} ({note})")}</span>'


def artifacts_html(
    data: Mapping[str, Any], images: Mapping[tuple[str, str], str] | None = None
) -> str:
    """The artifacts that differ: each changed text file's diff against the baseline's
    (collapsed, as the code diffs), and each image artifact's images side by side, baseline
    first (a series' last steps, captioned with the step). ``images`` maps ``(run id,
    artifact name)`` to the image as a ``data:`` URI (the HTML travels without the server
    that previews artifacts); an image not in it says why."""
    runs = data.get("runs") or []
    base = str(runs[0].get("label", "")) if runs else ""
    parts = []
    for a in data.get("artifacts") or []:
        if a.get("status") == "same":
            continue
        name = html.escape(a["name"])
        if a.get("view") == "text":
            for run, files in zip(runs, a.get("text_diffs") or [], strict=False):
                for f in files or []:
                    label = html.escape(f"{run.get('label', '')} vs {base}")
                    path = "" if f["path"] == a["name"] else f" ({html.escape(f['path'])})"
                    body = hunks_html(f["diff"]["hunks"]) if f.get("diff") else ""
                    if f.get("reason"):
                        body += f'<p style="color:{MUTED}">{html.escape(f["reason"])}</p>'
                    parts.append(
                        f"<details><summary>artifact {name}{path}: {label}</summary>"
                        f"{body}</details>"
                    )
        elif any(shown_images(a)):
            figures = []
            for run, ref in zip(runs, shown_images(a), strict=False):
                if ref is None:
                    shown = f'<span style="color:{MUTED}">not logged</span>'
                elif (ref["run_id"], ref["name"]) in (images or {}):
                    uri = html.escape((images or {})[(ref["run_id"], ref["name"])])
                    alt = html.escape(f"{a['name']} of {run.get('label', '')}")
                    # a tiny picture (an 8 x 8 digit) is drawn at least 128 px wide
                    shown = f'<img src="{uri}" alt="{alt}" style="{EMBEDDED_IMAGE}">'
                else:
                    why = (
                        "a plotly figure: the compare tab draws it"
                        if ref.get("media_type") == PLOTLY_MIME
                        else f"not embedded ({human_size(int(ref.get('size') or 0))}): "
                        "the compare tab shows it"
                    )
                    shown = f'<span style="color:{MUTED}">{html.escape(why)}</span>'
                caption = str(run.get("label", ""))
                if ref is not None and "step" in ref:
                    caption += f" · step {ref['step']}"
                figures.append(
                    '<figure style="margin:0;flex:1 1 0;min-width:160px">'
                    f"<figcaption>{html.escape(caption)}</figcaption>"
                    f"{shown}</figure>"
                )
            parts.append(
                f'<div style="margin:8px 0"><div>artifact {name}</div>'
                '<div style="display:flex;gap:8px;align-items:flex-start">'
                f"{''.join(figures)}</div></div>"
            )
    return "".join(parts)


def explanation_html(data: Mapping[str, Any]) -> str:
    """An explanation: the change, the ranked factors with their sentences, groups, notes."""
    metric = html.escape(str(data.get("metric", "")))
    a, b = data.get("a") or {}, data.get("b") or {}
    goal = "higher is better" if data.get("goal") == "max" else "lower is better"
    change = data.get("change")
    parts = [
        f"<p><b>{metric}</b> ({goal}): {html.escape(str(a.get('label', '')))} "
        f"{_e(a.get('value'))} → {html.escape(str(b.get('label', '')))} {_e(b.get('value'))}"
        + (f" ({html.escape(_signed(change))})" if isinstance(change, (int, float)) else "")
        + "</p>"
    ]
    explained = data.get("explained")
    considered = data.get("runs_considered", 0)
    summary = f"{considered} other run{'' if considered == 1 else 's'} considered"
    if isinstance(explained, (int, float)):
        summary = f"the evidence accounts for {explained:.0%} of the change; " + summary
    parts.append(f'<p style="color:{MUTED}">{html.escape(summary)}</p>')
    factors = data.get("factors") or []
    if factors:
        items = []
        for f in factors:
            status = str(f.get("status", ""))
            colour = {"supported": BETTER, "confounded": "#b35900"}.get(status, MUTED)
            items.append(
                f'<li><span style="color:{colour}">[{html.escape(status)}]</span> '
                f"{inline_code(str(f.get('sentence', '')))}</li>"
            )
        parts.append(f"<ol>{''.join(items)}</ol>")
    else:
        parts.append("<p>The two runs differ in nothing recorded.</p>")
    for g in data.get("groups") or []:
        parts.append(f"<p>Changed together: {inline_code(str(g.get('sentence', '')))}</p>")
    for note in data.get("notes") or []:
        parts.append(f'<p style="color:{MUTED}"><i>{inline_code(str(note))}</i></p>')
    return "".join(parts)


def comparison_text(data: Mapping[str, Any], *, differences_only: bool = True) -> str:
    """A plain-text table of the differing params and metrics (``text/plain``), at most
    :data:`MAX_TEXT_ROWS` rows (then how many more): a fallback, not the whole comparison."""
    runs = data.get("runs") or []
    header = ["", *(str(r.get("label", r.get("id", "")[:8])) for r in runs)]
    rows = [header]
    for m in data.get("metrics") or []:
        if m.get("differs", True) or not differences_only:
            rows.append([m["key"], *(metric_text(v) for v in m.get("values") or [])])
    for p in data.get("params") or []:
        if p.get("differs", True) or not differences_only:
            rows.append([p["key"], *(fmt(v) for v in p.get("values") or [])])
    more = len(rows) - 1 - MAX_TEXT_ROWS
    if more > 0:
        rows = rows[: MAX_TEXT_ROWS + 1]
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(len(header))]
    text = "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )
    if more > 0:
        plural = "s" if more != 1 else ""
        text += f"\n… {more} more row{plural} (the widget or its HTML shows all)"
    return text
