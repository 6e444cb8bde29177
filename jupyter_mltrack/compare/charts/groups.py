"""The chart of runs grouped by a parameter or tag: each group's mean with an error bar.

What makes five seeds of one configuration read as one result with its spread: a panel per
metric (their scales differ), a bar per group at the mean of the metric over the group's
runs, an error bar of one standard deviation, and the minimum and maximum as ticks, the
group's run count under its label. It takes the plain answer of ``GET runs/groups``
(``{"group_by", "metrics", "groups": [...]}``, ``query.groups.groups_answer``), so the sidebar, the
notebook (``mltrack.group_chart``) and the CLI (``runs groups --html``) draw the same
numbers the tables show.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._base import (
    category_panel,
    figure,
    grid,
    is_number,
    message_figure,
    number_text,
    run_color,
)

#: Groups drawn at most, the largest first; the rest are named in a note.
MAX_GROUPS = 40
#: Metric panels per row.
_COLUMNS = 2
_PANEL_HEIGHT = 300


def group_label(value: Any) -> str:
    """A group's value as a label: ``rf``, ``0.01``, ``(none)`` for the runs without one."""
    return "(none)" if value is None else number_text(value)


def groups_figure(answer: Mapping[str, Any]) -> go.Figure:
    """Bars of each metric's mean per group, ± one standard deviation, min and max ticks."""
    group_by = str(answer.get("group_by") or "")
    metrics = [str(m) for m in answer.get("metrics") or []]
    groups = list(answer.get("groups") or [])
    runs = sum(int(g.get("count") or 0) for g in groups)
    title = f"{', '.join(metrics) or 'Runs'} by {group_by} ({runs:,} runs, {len(groups)} groups)"
    if not groups:
        return message_figure(title, "No run is selected.")
    if not metrics:
        return message_figure(title, "Name a metric to aggregate, e.g. acc or loss.min.")
    shown = groups[:MAX_GROUPS]
    labels = [f"{group_label(g.get('value'))} (n={int(g.get('count') or 0)})" for g in shown]
    columns = min(_COLUMNS, len(metrics))
    domains = grid(len(metrics), columns, gap_x=0.1)
    layout: dict[str, Any] = {
        "title": {"text": title},
        "height": 120 + _PANEL_HEIGHT * math.ceil(len(metrics) / columns),
        "showlegend": False,
        "bargap": 0.3,
        "annotations": [],
        "margin": {"t": 90, "b": 80},
    }
    data: list[dict[str, Any]] = []
    for panel, (metric, domain) in enumerate(zip(metrics, domains, strict=True)):
        xref, yref = category_panel(
            layout,
            panel,
            domain,
            f"{metric}: mean ± std, min and max",
            len(shown),
            turn_above=5,
            yaxis={"zeroline": True},
        )
        cells = [_cell(g, metric) for g in shown]
        color = run_color(panel)
        data.append(
            {
                "type": "bar",
                "name": metric,
                "xaxis": xref,
                "yaxis": yref,
                "x": labels,
                "y": [c["mean"] for c in cells],
                "error_y": {
                    "type": "data",
                    "array": [c["std"] or 0 for c in cells],
                    "visible": True,
                    "color": "#333",  # the template's default is white: lost off the bar
                    "thickness": 1.5,
                    "width": 6,
                },
                "marker": {"color": color},
                "customdata": [_hover(c) for c in cells],
                "hovertemplate": f"%{{x}}<br>{metric}%{{customdata}}<extra></extra>",
            }
        )
        for end in ("min", "max"):
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"{metric} {end}",
                    "xaxis": xref,
                    "yaxis": yref,
                    "x": labels,
                    "y": [c[end] for c in cells],
                    "marker": {"symbol": "line-ew-open", "size": 14, "color": "#444"},
                    "hovertemplate": f"%{{x}}<br>{metric} {end} = %{{y:.6g}}<extra></extra>",
                }
            )
    if len(groups) > len(shown):
        rest = len(groups) - len(shown)
        layout["annotations"].append(
            {
                "text": f"the {len(shown)} largest groups of {len(groups)}: {rest} more not drawn",
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": -0.25,
                "showarrow": False,
                "xanchor": "left",
                "font": {"size": 11},
            }
        )
    return figure(data, layout)


def _cell(group: Mapping[str, Any], metric: str) -> dict[str, Any]:
    """The group's aggregate of one metric, non-finite values as missing."""
    found = (group.get("metrics") or {}).get(metric) or {}
    cell = {k: _finite(found.get(k)) for k in ("mean", "std", "min", "max")}
    cell["count"] = int(found.get("count") or 0)
    return cell


def _finite(value: Any) -> float | None:
    return float(value) if is_number(value) and math.isfinite(value) else None


def _hover(cell: Mapping[str, Any]) -> str:
    if cell["mean"] is None:
        return "<br>no value in this group"
    text = f" = {cell['mean']:.6g}"
    if cell["std"] is not None:
        text += f" ± {cell['std']:.3g}"
    return text + (
        f"<br>min {cell['min']:.6g}, max {cell['max']:.6g}<br>{cell['count']} runs with a value"
    )
