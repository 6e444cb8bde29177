"""Metric curves of several runs overlaid: one panel per metric, one line per run.

One figure with a panel per metric (two columns) rather than a figure per metric: the runs'
legend is shared, so hiding a run hides it in every panel, and one request draws it all.
Each series is downsampled on the server to at most ``max_points`` points keeping each
bucket's extremes (``series.downsample``), so a spike in 100,000 steps is still drawn.
Smoothing is the debiased EMA TensorBoard and W&B use, computed on the full series before
downsampling; the raw curve stays behind it, faded, as in W&B.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..errors import UnknownMetric
from ..series import SeriesArrays, downsample, ema
from ._base import (
    PANEL_HEIGHT,
    ChartRun,
    axis_names,
    check_choice,
    check_range,
    figure,
    grid,
    known,
    label_list,
    message_figure,
    panel_title,
    rgba,
    run_color,
)

X_MODES = ("step", "relative", "wall")
#: Points per run and metric drawn by default (a browser gains nothing from more).
DEFAULT_POINTS = 2000
#: Panels drawn when no metrics are named; more are listed in a note.
DEFAULT_PANELS = 16
#: Below this many points a line also gets markers (one logged value is otherwise invisible).
_MARKERS_BELOW = 50
#: Relative time is shown in the largest unit in which the longest run still spans 2 units.
_UNITS = ((3600.0, "hours"), (60.0, "minutes"), (1.0, "seconds"))


def curves_from_series(
    runs: Sequence[ChartRun],
    series: Mapping[str, Mapping[str, SeriesArrays]],
    metrics: Sequence[str] | None = None,
    *,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    max_points: int = DEFAULT_POINTS,
) -> go.Figure:
    """The curves figure from plain data: ``series`` is ``{run_id: {key: arrays}}``.

    ``runs`` gives the order (and so the colours) and the labels; ``x`` is ``step``,
    ``relative`` (time since the run started) or ``wall`` (date and time, UTC).
    """
    check_choice("x", x, X_MODES)
    smoothing = check_range("smoothing", smoothing, 0.0, 0.99)
    max_points = int(check_range("max_points", max_points, 2, 100_000))
    available = sorted({k for r in runs for k in series.get(r.id, {})})
    note = None
    if metrics is None:
        metrics = available[:DEFAULT_PANELS]
        if len(available) > DEFAULT_PANELS:
            note = (
                f"showing {DEFAULT_PANELS} of {len(available)} metrics; choose others with metrics="
            )
    else:
        # the runs' latest values name every metric they logged, also when ``series`` was
        # read for the requested keys only
        logged = set(available).union(*(r.metrics for r in runs))
        metrics = known(metrics, logged, "a metric series named", UnknownMetric)
    title = "Metrics of " + label_list([r.label for r in runs])
    if not metrics:
        return message_figure(title, "No metric series were logged by these runs.")

    scale, unit = 1.0, "seconds"
    if x == "relative":
        longest = max(
            (
                float(s.timestamps[-1]) - r.start_time
                for r in runs
                for s in series.get(r.id, {}).values()
                if s.size
            ),
            default=0.0,
        )
        scale, unit = next((f, u) for f, u in _UNITS if longest >= 2 * f or f == 1.0)
    x_title = {"step": "step", "relative": f"{unit} since the run started", "wall": "time (UTC)"}[x]

    columns = 1 if len(metrics) == 1 else 2
    domains = grid(len(metrics), columns)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "title": {"text": title},
        "height": 110 + PANEL_HEIGHT * -(-len(metrics) // columns),
        "hovermode": "closest",
        "legend": {"title": {"text": "run"}},
        "annotations": [],
        "margin": {"t": 90},
    }
    shown: set[str] = set()
    #: raw curves under smoothing: drawn first, behind every smoothed curve (as in W&B)
    behind: list[dict[str, Any]] = []
    for panel, (key, (x_domain, y_domain)) in enumerate(zip(metrics, domains, strict=True)):
        xaxis, yaxis, xref, yref = axis_names(panel)
        # the x title under the bottom panel of each column only: the same in every panel
        bottom = panel + columns >= len(metrics)
        layout[xaxis] = {
            "domain": x_domain,
            "anchor": yref,
            **({"title": {"text": x_title}} if bottom else {}),
            **({"type": "date"} if x == "wall" else {}),
        }
        layout[yaxis] = {
            "domain": y_domain,
            "anchor": xref,
            **({"type": "log"} if log_y else {}),
        }
        layout["annotations"].append(panel_title(key, x_domain, y_domain))
        for index, run in enumerate(runs):
            s = series.get(run.id, {}).get(key)
            if s is None or not s.size:
                continue
            color = run_color(index)
            first = run.id not in shown
            shown.add(run.id)
            common = {
                "type": "scatter",
                "xaxis": xref,
                "yaxis": yref,
                "legendgroup": run.id,
                "name": run.label,
                "mode": "lines" if s.size >= _MARKERS_BELOW else "lines+markers",
            }
            hover = _hover(run.label, key, x, unit)
            if smoothing:
                raw = downsample(s, max_points)
                behind.append(
                    {
                        **common,
                        "x": _x(raw, run, x, scale),
                        "y": raw.values,
                        "line": {"color": rgba(color, 0.25), "width": 1},
                        "marker": {"color": rgba(color, 0.25), "size": 4},
                        "showlegend": False,
                        "hoverinfo": "skip",
                    }
                )
                smooth = downsample(s._replace(values=ema(s.values, smoothing)), max_points)
                data.append(
                    {
                        **common,
                        "x": _x(smooth, run, x, scale),
                        "y": smooth.values,
                        "line": {"color": color, "width": 2},
                        "marker": {"color": color, "size": 5},
                        "showlegend": first,
                        "hovertemplate": hover + " (smoothed)<extra></extra>",
                    }
                )
            else:
                shown_s = downsample(s, max_points)
                data.append(
                    {
                        **common,
                        "x": _x(shown_s, run, x, scale),
                        "y": shown_s.values,
                        "line": {"color": color, "width": 1.5},
                        "marker": {"color": color, "size": 5},
                        "showlegend": first,
                        "hovertemplate": hover + "<extra></extra>",
                    }
                )
    if note:
        layout["annotations"].append(
            {
                "text": note,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1,
                "yshift": 40,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#777"},
            }
        )
    return figure(behind + data, layout)


def _x(s: SeriesArrays, run: ChartRun, mode: str, scale: float) -> np.ndarray:
    if mode == "step":
        return s.steps
    if mode == "relative":
        return (s.timestamps - run.start_time) / scale
    # a date axis takes epoch milliseconds: no date strings to build or parse
    return s.timestamps * 1000.0


def _hover(label: str, key: str, mode: str, unit: str) -> str:
    x = {
        "step": "step %{x}",
        "relative": f"%{{x:.4g}} {unit}",
        "wall": "%{x|%Y-%m-%d %H:%M:%S}",
    }[mode]
    return f"{label}<br>{x}<br>{key} = %{{y:.6g}}"
