"""``mltrack runs compare --html`` and ``runs groups --html``: one standalone HTML file.

The file is meant to be attached to a pull request or mailed, and opened anywhere without a
network: plotly.js is embedded once (with the first chart; the other charts use that copy),
there is no external script, stylesheet or font, and images from the runs' outputs are
inlined as data URLs. Everything that comes from the store (run names, params, code, output
text) is HTML-escaped; plotly escapes ``<``/``>`` in the figures' JSON itself. Rich HTML
outputs of the runs are shown as their plain text, never as markup: a report must not run
what a notebook printed.

plotly is imported here only, when a report is asked for.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..compare.artifact_rows import side_text
from ..compare.artifacts import embedded_images
from ..compare.used import cell_text as used_cell
from ..compare.used import differs as used_differs
from ..widgets.render import artifacts_html
from .compare import (
    NOT_RECORDED,
    _attribute,
    cell,
    data_cell,
    data_differs,
    metric_cell,
    output_cell,
    signed,
)

if TYPE_CHECKING:
    from ..store import Store

#: Output images inlined in the report (other binary outputs are named, not shown).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
#: An inlined image larger than this (base64 characters) is named instead: reports stay small.
MAX_IMAGE = 2_000_000

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em 2em;
       color: #1f2328; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
h3 { font-size: 1em; } h4 { font-size: .9em; margin: .6em 0 .2em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { font-variant-numeric: tabular-nums; }
tr.differs td:first-child { border-left: 3px solid #bf8700; }
tr.same { color: #57606a; }
body.differences-only .same { display: none; }
.only-differences { display: none; }
body.differences-only .only-differences { display: block; }
.better { color: #1a7f37; font-weight: 600; } .worse { color: #cf222e; font-weight: 600; }
.base { font-weight: 600; }
pre { background: #f6f8fa; padding: 6px 10px; overflow-x: auto; margin: .3em 0; }
pre.diff span { display: block; }
pre.diff .add { background: #dafbe1; } pre.diff .del { background: #ffebe9; }
pre.diff .hunk { color: #8250df; }
.note { color: #57606a; }
.chart { margin: 1em 0; }
img.output { max-width: 480px; }
"""

#: Checkbox toggling identical rows (no network, no library).
SCRIPT = """
document.getElementById("mltrack-diff-only").addEventListener("change", function (e) {
  document.body.classList.toggle("differences-only", e.target.checked);
});
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[tuple[bool | None, Sequence[str]]]) -> str:
    """``rows``: (differs, cells already escaped/marked up); ``None``: a row always shown."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    kinds = {True: ' class="differs"', False: ' class="same"', None: ""}
    body = "".join(
        f"<tr{kinds[differs]}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        for differs, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_html(metric: Mapping[str, Any], i: int) -> str:
    text = esc(metric_cell(metric, i, baseline=i == 0))
    verdict = metric["verdicts"][i]
    if verdict in ("better", "worse"):
        return f'<span class="{verdict}">{text}</span>'
    return text


def _diff_pre(diff: Mapping[str, Any] | None) -> str:
    if diff is None:
        return '<p class="note">not recorded</p>'
    if diff.get("same"):
        return '<p class="note">same as the baseline</p>'
    out = []  # a block per line: a changed line's background spans the width
    for hunk in diff.get("hunks") or []:
        out.append(f'<span class="hunk">{esc(hunk.get("header", "@@"))}</span>')
        for line in hunk.get("lines", []):
            kind = "add" if line.startswith("+") else "del" if line.startswith("-") else "ctx"
            out.append(f'<span class="{kind}">{esc(line) or " "}</span>')
    return '<pre class="diff">' + "".join(out) + "</pre>"


def _output_html(item: Mapping[str, Any] | None) -> str:
    """An output of a run: an inlined image when it is one, else its text (escaped)."""
    if item is None:
        return "-"
    data = item.get("data") or {}
    for mime in IMAGE_TYPES:
        raw = data.get(mime)
        if isinstance(raw, list):
            raw = "".join(raw)
        if isinstance(raw, str) and len(raw) <= MAX_IMAGE:
            compact = "".join(raw.split())
            try:
                base64.b64decode(compact, validate=True)
            except (binascii.Error, ValueError):
                continue
            return f'<img class="output" alt="{esc(mime)}" src="data:{mime};base64,{compact}">'
    return f"<pre>{esc(output_cell(item))}</pre>"


def _sections(
    data: Mapping[str, Any], images: Mapping[tuple[str, str], str] | None = None
) -> list[str]:
    runs = data["runs"]
    n = len(runs)
    labels = [str(r.get("label") or f"#{r.get('number')}") for r in runs]
    heads = [labels[0] + " (baseline)"] + labels[1:]
    out: list[str] = []

    run_rows: list[tuple[bool | None, list[str]]] = [
        (
            None,
            [
                f'<span class="base">{esc(labels[i])}</span>' if i == 0 else esc(labels[i]),
                f"<code>{esc(r['id'])}</code>",
                esc(r.get("experiment") or "-"),
                esc(r.get("name") or "-"),
                esc(r.get("status") or "-"),
            ],
        )
        for i, r in enumerate(runs)
    ]
    out.append("<h2>Runs</h2>" + _table(["run", "id", "experiment", "name", "status"], run_rows))

    identical: list[str] = []

    def wrap(title: str, body: str, differs: bool) -> None:
        """A section; one where nothing differs is hidden with "differences only" (and named
        in the "no differences in" line) rather than shown as an empty heading."""
        if differs:
            out.append(f"<h2>{esc(title)}</h2>{body}")
        else:
            identical.append(title)
            out.append(f'<div class="same"><h2>{esc(title)}</h2>{body}</div>')

    def section(title: str, headers: list[str], rows: list[tuple[bool, list[str]]]) -> None:
        if rows:
            wrap(title, _table(headers, rows), any(differs for differs, _ in rows))

    rows = []
    for p in data.get("params", []):
        cells = [f"<code>{esc(p['key'])}</code>"]
        for i, value in enumerate(p["values"]):
            text = cell(value, 200)
            change = (p.get("changes") or [None] * n)[i]
            cells.append(esc(text + (f" ({signed(change)})" if i and change else "")))
        rows.append((bool(p.get("differs")), cells))
    section("Params", ["param", *heads], rows)

    rows = []
    for m in data.get("metrics", []):
        how = f"{m.get('reducer', 'last')}, {m.get('goal', '?')}"
        cells = [f"<code>{esc(m['key'])}</code>", esc(how)]
        cells += [_metric_html(m, i) for i in range(n)]
        rows.append((bool(m.get("differs")), cells))
    section("Metrics", ["metric", "reducer, goal", *heads], rows)

    rows = []
    for a in data.get("attributes", []):
        unknown = a.get("unknown") or [False] * n
        cells = [esc(a["key"])]
        for v, u in zip(a["values"], unknown, strict=False):
            text = _attribute(a["key"], v)
            cells.append(f'<span class="note">{NOT_RECORDED}</span>' if u else esc(text))
        rows.append((bool(a.get("differs")), cells))
    section("Attributes", ["attribute", *heads], rows)

    env = data.get("environment") or {}
    recorded = env.get("recorded") or [True] * n
    grades = [
        {c["name"]: c.get("grade", "") for c in (d or {}).get("changed", [])}
        for d in env.get("diffs") or [None] * n
    ]
    rows = []
    for pkg in env.get("packages", []):
        cells = [esc(pkg["name"])]
        for i, version in enumerate(pkg["values"]):
            if i < len(recorded) and not recorded[i]:
                cells.append(f'<span class="note">{NOT_RECORDED}</span>')
                continue
            grade = grades[i].get(pkg["name"]) if i < len(grades) else None
            cells.append(esc(cell(version) + (f" ({grade})" if grade else "")))
        rows.append((bool(pkg.get("differs")), cells))
    # said when some runs recorded an environment and others not (yet); none: nothing to say
    unrecorded = [labels[i] for i, ok in enumerate(recorded) if not ok and i < n and any(recorded)]
    if unrecorded:
        out.append(
            f'<p class="note">Environment not recorded (yet) for {esc(", ".join(unrecorded))}: '
            "its packages, Python and platform are unknown.</p>"
        )
    section("Packages", ["package", *heads], rows)

    code = data.get("code") or {}
    diffs = code.get("diffs") or []
    code_parts = []
    code_differs = False
    for i, diff in enumerate(diffs):
        if i == 0:
            continue
        diff = diff or {}
        same = all(d is None or d.get("same") for d in (diff.get("cell"), diff.get("dependencies")))
        code_differs = code_differs or not same
        code_parts.append(
            f'<div class="{"same" if same else "differs"}">'
            f"<h3>{esc(labels[i])} against {esc(labels[0])}</h3>"
            f"<h4>cell</h4>{_diff_pre(diff.get('cell'))}"
            f"<h4>dependencies</h4>{_diff_pre(diff.get('dependencies'))}</div>"
        )
    base_code = (code.get("runs") or [{}])[0] or {}
    if base_code.get("cell"):
        code_parts.append(
            f"<details><summary>{esc(labels[0])}'s cell</summary>"
            f"<pre>{esc(base_code['cell'])}</pre></details>"
        )
    if code_parts:
        wrap("Code", "".join(code_parts), code_differs)

    rows = []
    for d in data.get("data", []):
        name = d.get("name") or d.get("path") or "?"
        cells = [esc(d.get("role", "?")), esc(name)] + [esc(data_cell(d, i)) for i in range(n)]
        rows.append((data_differs(d), cells))
    section("Data", ["role", "name", *heads], rows)

    rows = [
        (used_differs(u), [esc(u["key"]), *(esc(used_cell(u, i)) for i in range(n))])
        for u in data.get("used", [])
    ]
    section("Used", ["used", *heads], rows)

    rows = [
        (not o.get("same"), [esc(o.get("index", "?")), *(_output_html(it) for it in o["items"])])
        for o in data.get("outputs", [])
    ]
    section("Outputs", ["#", *heads], rows)

    artifacts = data.get("artifacts") or []
    rows = []
    for a in artifacts:
        n_runs = len(a.get("runs") or [])
        states = a.get("states") or [None] * n_runs
        changes = a.get("file_changes") or [None] * n_runs
        tables = a.get("table_diffs") or [None] * n_runs
        cells = [f"<code>{esc(a['name'])}</code>"]
        sides = zip(a["runs"], states, changes, tables, strict=False)
        cells += [esc(side_text(*c)) for c in sides]
        rows.append((a.get("status") != "same", cells))
    if rows:
        # the table, then what differs: text diffs, the runs' images side by side
        body = _table(["artifact", *heads], rows) + artifacts_html(data, images)
        wrap("Artifacts", body, any(differs for differs, _ in rows))
    if identical:
        out.append(
            '<p class="note only-differences">No differences in: '
            f'{esc(", ".join(identical))} (untick "differences only" to see them).</p>'
        )
    return out


def _charts(store: Store, comparison: Any, data: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The figures (curves, bars, parallel coordinates) as HTML, plotly.js embedded with the
    first; a chart that cannot be drawn for these runs is named with the reason instead."""
    from ..compare import CompareError
    from ..compare.charts import bars_figure, curves_figure, parallel_figure

    ids = [r["id"] for r in data["runs"]]
    metrics = data.get("metrics", [])
    wanted: list[tuple[str, Callable[[], Any]]] = []
    with_series = [m["key"] for m in metrics if m.get("has_series")]
    if with_series:
        wanted.append(("Metric curves", lambda: curves_figure(store, ids, with_series)))
    if metrics:
        wanted.append(("Metrics (reduced)", lambda: bars_figure(comparison)))
    if any(p.get("differs") for p in data.get("params", [])):
        wanted.append(("Parameters", lambda: parallel_figure(store, runs=ids)))
    divs: list[str] = []
    notes: list[str] = []
    for title, build in wanted:
        try:
            fig = build()
        except CompareError as exc:  # e.g. nothing to draw for these runs
            notes.append(f"{title}: not drawn ({exc})")
            continue
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=not divs,  # embedded once, offline; the rest reuse it
            include_mathjax=False,
            default_width="100%",
            config={"displaylogo": False, "responsive": True},
        )
        divs.append(f'<div class="chart"><h3>{esc(title)}</h3>{div}</div>')
    return divs, notes


def comparison_html(
    store: Store, comparison: Any, data: Mapping[str, Any], *, show_all: bool = False
) -> str:
    """The standalone report: header, the comparison's tables, the charts."""
    labels = [str(r.get("label") or f"#{r.get('number')}") for r in data["runs"]]
    title = f"mltrack: {', '.join(labels)} compared"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    checked = "" if show_all else " checked"
    body_class = "" if show_all else ' class="differences-only"'
    divs, notes = _charts(store, comparison, data)
    chart_html = "".join(divs) or '<p class="note">no chart for these runs</p>'
    chart_html += "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    parts = [
        *_page_head(title, body_class),
        f'<p class="note">Baseline {esc(labels[0])}; written by <code>mltrack runs compare'
        f"</code> on {esc(when)}. Changes are against the baseline.</p>",
        f'<p><label><input type="checkbox" id="mltrack-diff-only"{checked}> '
        "differences only</label></p>",
        *_sections(data, embedded_images(store, data.get("artifacts") or [])),
        "<h2>Charts</h2>",
        chart_html,
        f"<script>{SCRIPT}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _page_head(title: str, body_class: str = "") -> list[str]:
    """The start of every standalone report page, down to its heading."""
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>",
        f"<body{body_class}>",
        f"<h1>{esc(title)}</h1>",
    ]


def groups_html(
    answer: Mapping[str, Any],
    groups: Sequence[Any],
    *,
    filter: str | None = None,
    experiment: str | None = None,
) -> str:
    """``runs groups --html``: the groups' table and their chart, standalone as above."""
    from ..compare.charts import groups_figure
    from .runs import aggregate_text, group_value

    metrics = list(answer["metrics"])
    title = f"mltrack: runs by {answer['group_by']}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    selected = ", ".join(
        part
        for part in (
            f"experiment {experiment}" if experiment else "",
            f"filter <code>{esc(filter)}</code>" if filter else "",
        )
        if part
    )
    head = "".join(f"<th>{esc(m)}</th>" for m in ["value", "runs", *metrics])
    rows = "".join(
        "<tr>"
        + f"<td>{esc(group_value(g))}</td><td>{g.count:,}</td>"
        + "".join(f"<td>{esc(aggregate_text(g.metrics[m]))}</td>" for m in metrics)
        + "</tr>"
        for g in groups
    )
    chart = ""
    if groups and metrics:
        chart = groups_figure(answer).to_html(
            full_html=False,
            include_plotlyjs=True,
            include_mathjax=False,
            default_width="100%",
            config={"displaylogo": False, "responsive": True},
        )
    parts = [
        *_page_head(title),
        f'<p class="note">{answer["total"]:,} runs{" of " + selected if selected else ""};'
        f" each metric as mean ± std [min, max]; written by <code>mltrack runs groups</code>"
        f" on {esc(when)}.</p>",
        f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>",
        f'<div class="chart">{chart}</div>' if chart else '<p class="note">no chart: no metric</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def lineage_html(data: Mapping[str, Any], graph: Mapping[str, Any]) -> str:
    """``models lineage --html``: the lineage graph, and the tree the terminal prints,
    standalone as above."""
    from ..compare.charts import lineage_figure
    from .lineage import lineage_tree, render

    title = f"mltrack: lineage of {data['ref']}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    chart = lineage_figure(graph).to_html(
        full_html=False,
        include_plotlyjs=True,
        include_mathjax=False,
        config={"displaylogo": False},
    )
    tree = "\n".join(render(lineage_tree(data)))
    parts = [
        *_page_head(title),
        f'<p class="note">written by <code>mltrack models lineage</code> on {esc(when)}</p>',
        f'<div class="chart">{chart}</div>',
        f"<pre>{esc(tree)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def sweep_html(result: Any, figures: Sequence[tuple[str, Any]], notes: Sequence[str]) -> str:
    """``sweep show --html``: the sweep's best trials and its charts, standalone as above."""
    title = f"mltrack: sweep {result.name}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    divs = []
    for i, (heading, fig) in enumerate(figures):
        div = fig.to_html(
            full_html=False,
            include_plotlyjs=i == 0,  # embedded once, offline; the rest reuse it
            include_mathjax=False,
            default_width="100%",
            config={"displaylogo": False, "responsive": True},
        )
        divs.append(f'<div class="chart"><h3>{esc(heading)}</h3>{div}</div>')
    parts = [
        *_page_head(title),
        f'<p class="note">written by <code>mltrack sweep show</code> on {esc(when)}</p>',
        f"<pre>{esc(result.summary())}</pre>",
        *divs,
        *(f'<p class="note">{esc(n)}</p>' for n in notes),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
