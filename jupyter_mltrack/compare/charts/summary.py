"""Charts of what the comparison and the importance analysis computed: the reduced metrics
as grouped bars, and each parameter's importance and correlation with a metric.

Both take the plain dicts the REST API serves (``Comparison.to_dict()``,
``Importance.to_dict()``, shapes in the compare contract) or the objects themselves, so the
frontend, the widget and the CLI report draw exactly the numbers they show in tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ..errors import UnknownMetric
from ._base import (
    axis_names,
    category_panel,
    figure,
    grid,
    known,
    label_list,
    message_figure,
    number_text,
    panel_title,
    run_color,
)

#: Bar panels per row.
_BAR_COLUMNS = 4
_BAR_PANEL_HEIGHT = 260
_POSITIVE, _NEGATIVE, _IMPORTANCE = "#2ca02c", "#d62728", "#636efa"
#: Parameters drawn in an importance chart (the strongest first); the rest are noted.
MAX_IMPORTANCE_PARAMS = 40


def _as_dict(value: Any) -> Mapping[str, Any]:
    return value.to_dict() if hasattr(value, "to_dict") else value


def bars_figure(comparison: Any, metrics: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars of the reduced metrics: a panel per metric (their scales differ: a loss
    of 0.1 beside a count of 10,000 would be flat), a bar per run in run colours, the
    baseline first. Hovering a bar shows its change against the baseline and whether that
    is better or worse for the metric's goal.

    ``comparison``: a ``Comparison`` or its ``to_dict()``.
    """
    comp = _as_dict(comparison)
    runs = comp["runs"]
    labels = [r.get("label") or f"#{r['number']}" for r in runs]
    rows = {m["key"]: m for m in comp.get("metrics", [])}
    if metrics is None:
        keys = [k for k, m in rows.items() if any(_finite(v) for v in m["values"])]
    else:
        keys = known(metrics, rows, "a metric named", UnknownMetric)
    title = "Metrics of " + label_list(labels)
    if not keys:
        return message_figure(title, "These runs logged no metric values to compare.")
    columns = min(_BAR_COLUMNS, len(keys))
    domains = grid(len(keys), columns, gap_x=0.06)
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "title": {"text": title},
        "height": 110 + _BAR_PANEL_HEIGHT * math.ceil(len(keys) / columns),
        "showlegend": False,
        "bargap": 0.25,
        "annotations": [],
        "margin": {"t": 90},
    }
    colors = [run_color(i) for i in range(len(runs))]
    for panel, (key, domain) in enumerate(zip(keys, domains, strict=True)):
        row = rows[key]
        reducer = row.get("reducer") or "last"
        goal = row.get("goal")
        name = f"{key} ({reducer}{', ' + goal if goal else ''})"
        xref, yref = category_panel(
            layout, panel, domain, name, len(runs), turn_above=6, yaxis={"zeroline": True}
        )
        raw = row["values"]
        values = [v if _finite(v) else None for v in raw]
        # NaN and infinities are values, unlike a metric a run never logged: an empty bar
        # labelled with the value, so they are not mistaken for "not logged".
        texts = [
            number_text(v) if v is not None else _odd_text(r)
            for v, r in zip(values, raw, strict=True)
        ]
        values = [0 if v is None and t else v for v, t in zip(values, texts, strict=True)]
        data.append(
            {
                "type": "bar",
                "xaxis": xref,
                "yaxis": yref,
                "name": key,
                "x": labels,
                "y": values,
                "marker": {"color": colors},
                "text": texts,
                "textposition": "auto",
                "textangle": 0,  # shrunk to fit rather than turned on its side
                "customdata": [_change_text(row, i) for i in range(len(runs))],
                "hovertemplate": f"%{{x}}<br>{key} = %{{y:.6g}}%{{customdata}}<extra></extra>",
            }
        )
    return figure(data, layout)


def _odd_text(value: Any) -> str:
    """The label of a value a bar cannot show: NaN or an infinity ("" when not logged)."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return "NaN" if value == "nan" else value
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return ""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _change_text(row: Mapping[str, Any], index: int) -> str:
    changes = row.get("changes") or []
    change = changes[index] if index < len(changes) else None
    if not _finite(change):
        return ""
    pct = (row.get("pct_changes") or [None] * (index + 1))[index]
    verdicts = row.get("verdicts") or []
    verdict = verdicts[index] if index < len(verdicts) else None
    text = f"<br>{change:+.4g} vs baseline"
    if _finite(pct):
        text += f" ({pct:+.3g}%)"
    if verdict:
        text += f", {verdict}"
    return text


def importance_figure(importance: Any) -> go.Figure:
    """Each parameter's importance for a metric (random-forest importance when scikit-learn
    is installed) beside its rank correlation with it (Spearman; green when the metric
    rises with the parameter, red when it falls), strongest first, as W&B's parameter
    importance panel.

    ``importance``: an ``Importance`` or its ``to_dict()``.
    """
    imp = _as_dict(importance)
    metric = imp["metric"]
    params = list(imp.get("params", []))
    runs = imp.get("runs")
    where = ", ".join(imp.get("experiments", []))
    title = f"What {metric} depends on" + (f" ({runs:,} runs of {where})" if runs else "")
    if not params:
        return message_figure(title, "No parameter varies between these runs.")
    note = None
    if len(params) > MAX_IMPORTANCE_PARAMS:
        note = f"the {MAX_IMPORTANCE_PARAMS} strongest of {len(params)} parameters"
        params = params[:MAX_IMPORTANCE_PARAMS]
    keys = [p["key"] for p in params]
    with_rf = bool(imp.get("sklearn")) and any(_finite(p.get("rf_importance")) for p in params)
    panels = (["importance"] if with_rf else []) + ["correlation"]
    domains = grid(len(panels), len(panels), gap_x=0.1)
    layout: dict[str, Any] = {
        "title": {"text": title},
        # the margins take 180 px: below that, a few parameters' labels are dropped
        "height": 200 + 26 * len(keys),
        "showlegend": False,
        "annotations": [],
        "margin": {"l": 140},
    }
    data: list[dict[str, Any]] = []
    for panel, (name, (x_domain, y_domain)) in enumerate(zip(panels, domains, strict=True)):
        xaxis, yaxis, xref, yref = axis_names(panel)
        layout[yaxis] = {
            "domain": y_domain,
            "anchor": xref,
            "type": "category",
            "autorange": "reversed",  # the strongest at the top
            **({"matches": "y", "showticklabels": False} if panel else {}),
        }
        if name == "importance":
            values = [p.get("rf_importance") for p in params]
            layout[xaxis] = {"domain": x_domain, "anchor": yref, "rangemode": "tozero"}
            layout["annotations"].append(
                panel_title("importance (random forest)", x_domain, y_domain)
            )
            colors: Any = _IMPORTANCE
        else:
            values = [p.get("spearman") for p in params]
            layout[xaxis] = {"domain": x_domain, "anchor": yref, "range": [-1.05, 1.05]}
            layout["annotations"].append(
                panel_title(f"correlation with {metric} (Spearman)", x_domain, y_domain)
            )
            colors = [_POSITIVE if _finite(v) and v >= 0 else _NEGATIVE for v in values]
        values = [v if _finite(v) else None for v in values]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "xaxis": xref,
                "yaxis": yref,
                "name": name,
                "x": values,
                "y": keys,
                "marker": {"color": colors},
                "customdata": [p.get("runs") for p in params],
                "hovertemplate": f"%{{y}}<br>{name} = %{{x:.3g}}<br>%{{customdata}} runs"
                "<extra></extra>",
            }
        )
    if note or not imp.get("sklearn"):
        text = note or ""
        if not imp.get("sklearn"):
            text = (text + "; " if text else "") + "scikit-learn is not installed: no importance"
        layout["annotations"].append(
            {
                "text": text,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1,
                "yshift": 30,
                "xanchor": "left",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#777"},
            }
        )
    return figure(data, layout)
