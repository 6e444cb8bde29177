"""A model's lineage graph (``models.graph``) drawn: columns left to right as things flowed
(data and the artifacts a run loaded, the run, what it logged, the runs that loaded that),
an arrow per edge, a marker per node by kind, and each node's detail on hover. Built from the
graph's plain dict, so the REST API, ``mltrack.lineage_figure`` and the CLI's HTML draw the
same figure. A node's ``customdata`` is its run id (``null`` for data): what JupyterLab
opens when the node is clicked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ._base import figure

#: How each kind of node is drawn: marker symbol, colour, and the legend's name.
_STYLE = {
    "model": ("diamond", "#ef553b", "this model"),
    "run": ("square", "#636efa", "run"),
    "artifact": ("diamond", "#ab63fa", "artifact or model used"),
    "data": ("circle", "#00cc96", "data read"),
    "more": ("circle-open", "#8a8a8a", "more runs"),
}
#: The figure's height per node of its tallest column (its width is the page's).
_ROW_HEIGHT = 70


def lineage_figure(graph: Mapping[str, Any]) -> go.Figure:
    """The figure of ``graph`` (``LineageGraph.to_dict()``)."""
    nodes = list(graph.get("nodes") or [])
    columns: dict[int, list[Mapping[str, Any]]] = {}
    for node in nodes:
        columns.setdefault(int(node["column"]), []).append(node)
    place: dict[str, tuple[float, float]] = {}
    rows = max((len(c) for c in columns.values()), default=1)
    for column, members in columns.items():
        top = (len(members) - 1) / 2
        for i, node in enumerate(members):
            place[node["id"]] = (float(column), top - i)
    annotations = []
    for edge in graph.get("edges") or []:
        if edge["source"] not in place or edge["target"] not in place:
            continue
        (x0, y0), (x1, y1) = place[edge["source"]], place[edge["target"]]
        gap = 0.12 if x1 >= x0 else -0.12  # stop short of the markers, either way
        annotations.append(
            {
                "x": x1 - gap,
                "y": y1,
                "ax": x0 + gap,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": 1.2,
                "arrowwidth": 1.2,
                "arrowcolor": "#9aa5b1",
                "text": "",
                "hovertext": edge["label"],
            }
        )
    data = []
    for kind, (symbol, color, name) in _STYLE.items():
        members = [n for n in nodes if n["kind"] == kind]
        if not members:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text",
                "name": name,
                "x": [place[n["id"]][0] for n in members],
                "y": [place[n["id"]][1] for n in members],
                "text": [n["label"] for n in members],
                "textposition": "bottom center",
                "hovertext": [n["detail"] or n["label"] for n in members],
                "hovertemplate": "%{hovertext}<extra></extra>",
                "customdata": [n.get("run_id") for n in members],
                "marker": {
                    "symbol": symbol,
                    "size": 22 if kind == "model" else 16,
                    "color": color,
                    "line": {"color": "white", "width": 1},
                },
                "cliponaxis": False,
            }
        )
    lows = [x for x, _ in place.values()] or [0.0]
    title = f"Lineage of {graph.get('ref', '')}"
    if graph.get("truncated"):
        title += " (runs further up left out)"
    layout = {
        "title": {"text": title},
        "height": 140 + _ROW_HEIGHT * rows,
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.08},
        "margin": {"t": 60, "b": 60, "l": 40, "r": 40},
        "xaxis": {
            "visible": False,
            "range": [min(lows) - 0.6, max(lows) + 0.6],
            "fixedrange": True,
        },
        "yaxis": {"visible": False, "range": [-rows / 2 - 0.2, rows / 2], "fixedrange": True},
        "annotations": annotations,
    }
    return figure(data, layout)
