"""Charts with a mark per run, over named runs or whole experiments (up to 10,000 runs):
parallel coordinates of parameters and metrics, and a scatter of one against another.

Parallel coordinates show, by default, only the parameters that vary (a constant axis says
nothing); a parameter whose values are not all numbers becomes a categorical axis (ticks
at 0..k-1 labelled with the values). plotly.js draws a missing value as 0, which would be a
lie, so a run without a value is put on an ``n/a`` tick below the axis's range, and a run
without the colouring metric is drawn in grey. Parameters spanning three decades or more
(learning rates) are drawn on a log scale, with ticks labelled in the parameter's units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..errors import UnknownMetric
from ..goals import metric_goal
from ._base import (
    MISSING,
    ChartArgumentError,
    ChartRun,
    UnknownParam,
    figure,
    hashable,
    is_number,
    known,
    label_list,
    message_figure,
    number_text,
    run_color,
    sort_key,
)

#: Drawn for runs without the colouring metric.
_GREY = "#b0b0b0"
#: plotly's Viridis, dark (worse) to bright (better).
_VIRIDIS = (
    "#440154", "#482878", "#3e4989", "#31688e", "#26828e",
    "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725",
)  # fmt: skip
#: A numeric axis is drawn on a log scale when its positive values span this ratio…
_LOG_RATIO = 1000.0
#: … and at least this share of them sit in the bottom tenth of the linear range (values
#: spread evenly in log space, like learning rates; a uniform dropout in 0..0.5 is not).
_LOG_CROWDED = 0.5
#: Scatter points get their run's label printed beside them up to this many runs.
_TEXT_UP_TO = 30


def varying_params(runs: Sequence[ChartRun]) -> list[str]:
    """Parameters whose value is not the same in every run (missing counts as a value)."""
    keys = sorted({k for r in runs for k in r.params})
    out = []
    for key in keys:
        seen = {hashable(r.params.get(key, _ABSENT)) for r in runs}
        if len(seen) > 1:
            out.append(key)
    return out


_ABSENT = ("$absent",)


def default_color(runs: Sequence[ChartRun]) -> str | None:
    """The metric most runs logged (ties: alphabetical): the default colouring."""
    counts: dict[str, int] = {}
    for r in runs:
        for k in r.metrics:
            counts[k] = counts.get(k, 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


def parallel_from_runs(
    runs: Sequence[ChartRun],
    *,
    color: str | None = None,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    goals: Mapping[str, str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Parallel coordinates from plain data.

    ``params``: the parameter axes (default: those that vary); ``metrics``: the metric axes
    (default: the colouring metric); ``color``: the metric colouring the lines (default: the
    one most runs logged). ``goals`` (``metric -> "min"|"max"``) overrides the guess from the
    name: the better end of the colour scale is the bright one.
    """
    title = title or f"Parameters and metrics of {len(runs):,} run{'s' if len(runs) != 1 else ''}"
    all_params = {k for r in runs for k in r.params}
    all_metrics = {k for r in runs for k in r.metrics}
    if params is None:
        params = varying_params(runs)
    else:
        params = known(params, all_params, "a parameter named", UnknownParam)
    if color is None:
        color = default_color(runs)
    else:
        known([color], all_metrics, "a metric named", UnknownMetric)
    if metrics is None:
        metrics = [color] if color else []
    else:
        metrics = known(metrics, all_metrics, "a metric named", UnknownMetric)
    if not runs:
        return message_figure(title, "No runs to draw.")
    if not params and not metrics:
        return message_figure(
            title,
            "No parameter varies between these runs and none logged a metric: "
            "name parameters to draw with params=",
        )
    dimensions = [_dimension(key, [r.params.get(key, _ABSENT) for r in runs]) for key in params]
    dimensions += [
        _dimension(f"metrics.{key}", [r.metrics.get(key, _ABSENT) for r in runs], label=key)
        for key in metrics
    ]
    line: dict[str, Any] = {"color": _GREY}
    if color:
        values = np.array([_float(r.metrics.get(color)) for r in runs], dtype=np.float64)
        goal = metric_goal(color, goals)
        line = _color_line(values, color, goal)
    trace = {"type": "parcoords", "dimensions": dimensions, "line": line}
    if len(runs) <= 1000:  # plotly.js has no hover on parcoords lines; ids help selections
        trace["ids"] = [r.id for r in runs]
    layout = {
        "title": {"text": title},
        "height": 480,
        "margin": {"l": 80, "r": 80, "t": 110, "b": 40},
    }
    return figure([trace], layout)


def log_scale(values: np.ndarray) -> bool:
    """Whether finite ``values`` read better on a log axis: all positive, spanning three
    decades or more, and crowded at the bottom of a linear axis."""
    if values.size < 2:
        return False
    lo, hi = float(values.min()), float(values.max())
    if lo <= 0 or hi / lo < _LOG_RATIO:
        return False
    return float(np.mean(values < lo + 0.1 * (hi - lo))) >= _LOG_CROWDED


def _float(value: Any) -> float:
    """A finite number, else NaN (what the colour scale treats as missing)."""
    if is_number(value) and math.isfinite(float(value)):
        return float(value)
    return math.nan


def _dimension(key: str, values: list[Any], *, label: str | None = None) -> dict[str, Any]:
    """One axis: numeric (linear or log) or categorical, with an ``n/a`` tick if needed."""
    label = label or key
    # NaN and ±inf have no place on an axis: they are drawn as missing
    values = [_ABSENT if is_number(v) and not math.isfinite(float(v)) else v for v in values]
    present = [v for v in values if v is not _ABSENT]
    numeric = bool(present) and all(is_number(v) and math.isfinite(float(v)) for v in present)
    if not numeric:
        return _categorical(key, label, values)
    nums = np.array([float(v) if v is not _ABSENT else math.nan for v in values])
    missing = np.isnan(nums)
    finite = nums[~missing]
    lo, hi = float(finite.min()), float(finite.max())
    log = log_scale(finite)
    dim: dict[str, Any] = {"label": label}
    if log:
        shown = np.log10(np.where(missing, lo, nums))
        lo_s, hi_s = math.log10(lo), math.log10(hi)
        decades = range(math.floor(lo_s), math.ceil(hi_s) + 1)
        ticks = [float(d) for d in decades if lo_s - 1e-9 <= d <= hi_s + 1e-9]
        dim["tickvals"] = ticks
        dim["ticktext"] = [number_text(10.0**t) for t in ticks]
    else:
        shown = np.where(missing, lo, nums)
        lo_s, hi_s = lo, hi
    span = (hi_s - lo_s) or (abs(hi_s) or 1.0)
    if missing.any():
        below = lo_s - 0.12 * span
        shown = np.where(missing, below, shown)
        if "tickvals" not in dim:
            ticks = _nice_ticks(lo_s, hi_s)
            dim["tickvals"] = ticks
            dim["ticktext"] = [number_text(t) for t in ticks]
        dim["tickvals"] = [below, *dim["tickvals"]]
        dim["ticktext"] = [MISSING, *dim["ticktext"]]
        dim["range"] = [below, hi_s if hi_s > lo_s else hi_s + 0.5 * span]
    elif hi_s == lo_s:
        dim["range"] = [lo_s - 0.5 * span, hi_s + 0.5 * span]
    dim["values"] = shown
    return dim


def _categorical(key: str, label: str, values: list[Any]) -> dict[str, Any]:
    present = {hashable(v): v for v in values if v is not _ABSENT}
    ordered = sorted(present, key=lambda h: sort_key(present[h]))
    codes = {h: i for i, h in enumerate(ordered)}
    text = [number_text(present[h]) for h in ordered]
    if any(v is _ABSENT for v in values):
        codes[_ABSENT] = len(ordered)
        text.append(MISSING)
    k = len(text)
    return {
        "label": label,
        "values": np.array([codes[hashable(v)] for v in values], dtype=np.int64),
        "tickvals": list(range(k)),
        "ticktext": text,
        "range": [0, k - 1] if k > 1 else [-0.5, 0.5],
    }


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values between ``lo`` and ``hi``."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _color_line(values: np.ndarray, metric: str, goal: str) -> dict[str, Any]:
    """Lines coloured by ``metric`` (bright = better); runs without it grey, below cmin."""
    scale = list(_VIRIDIS if goal == "max" else reversed(_VIRIDIS))
    missing = np.isnan(values)
    bar = {"title": {"text": f"{metric} ({goal})"}}
    if missing.all():
        return {"color": _GREY}
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    stops = [[i / (len(scale) - 1), c] for i, c in enumerate(scale)]
    if not missing.any():
        return {
            "color": values,
            "colorscale": stops,
            "cmin": lo,
            "cmax": hi,
            "showscale": True,
            "colorbar": bar,
        }
    # a grey band below the scale for runs without the metric
    band = 0.04
    below = lo - (hi - lo) * band / (1 - band)
    stops = [[0.0, _GREY], [band, _GREY]] + [[band + (1 - band) * p, c] for p, c in stops]
    stops[2][0] = band + 1e-9
    return {
        "color": np.where(missing, below, values),
        "colorscale": stops,
        "cmin": below,
        "cmax": hi,
        "showscale": True,
        "colorbar": bar,
    }


# scatter -------------------------------------------------------------------------------------


def field_value(run: ChartRun, name: str) -> Any:
    """The value of ``params.NAME`` or ``metrics.NAME`` in ``run`` (``_ABSENT`` if none)."""
    kind, _, key = name.partition(".")
    source = run.params if kind == "params" else run.metrics
    return source.get(key, _ABSENT)


def check_field(name: str, what: str) -> str:
    kind, _, key = str(name).partition(".")
    if kind not in ("params", "metrics") or not key:
        raise ChartArgumentError(
            f"{what} must be params.NAME or metrics.NAME (e.g. params.lr, metrics.acc), "
            f"not {name!r}"
        )
    return name


def scatter_from_runs(
    runs: Sequence[ChartRun],
    *,
    x: str,
    y: str,
    log_y: bool = False,
    by_experiment: bool = False,
    title: str | None = None,
) -> go.Figure:
    """One point per run: ``x`` and ``y`` are ``params.NAME`` or ``metrics.NAME``.

    Named runs get their own colour and label (as in every chart); whole experiments
    (``by_experiment``) one colour per experiment. A non-numeric ``x`` is a category axis;
    runs without either value are left out, and a note says how many.
    """
    check_field(x, "x")
    check_field(y, "y")
    for name in (x, y):
        kind, _, key = name.partition(".")
        have = {k for r in runs for k in (r.params if kind == "params" else r.metrics)}
        error = UnknownParam if kind == "params" else UnknownMetric
        known([key], have, f"a {kind[:-1]} named", error)
    x_key, y_key = x.partition(".")[2], y.partition(".")[2]
    title = title or f"{y_key} against {x_key}"
    pairs = [(i, r, field_value(r, x), field_value(r, y)) for i, r in enumerate(runs)]
    pairs = [p for p in pairs if p[2] is not _ABSENT and p[3] is not _ABSENT]
    left_out = len(runs) - len(pairs)
    x_numeric = all(is_number(p[2]) for p in pairs)
    y_numeric = all(is_number(p[3]) for p in pairs)
    layout: dict[str, Any] = {
        "title": {"text": title},
        "height": 480,
        "hovermode": "closest",
        "xaxis": {"title": {"text": x_key}},
        "yaxis": {"title": {"text": y_key}},
        "annotations": [],
    }
    for axis, numeric, index in (("xaxis", x_numeric, 2), ("yaxis", y_numeric, 3)):
        if not numeric:
            order = sorted({hashable(p[index]): p[index] for p in pairs}.values(), key=sort_key)
            layout[axis].update(
                {
                    "type": "category",
                    "categoryorder": "array",
                    "categoryarray": [number_text(v) for v in order],
                }
            )
        else:
            vals = np.array([float(p[index]) for p in pairs], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            if (axis == "yaxis" and log_y) or log_scale(vals):
                layout[axis]["type"] = "log"

    def column(index: int, numeric: bool, chosen: list[tuple]) -> Any:
        if numeric:
            return np.array([float(p[index]) for p in chosen], dtype=np.float64)
        return [number_text(p[index]) for p in chosen]

    hover = f"%{{text}}<br>{x_key} = %{{x}}<br>{y_key} = %{{y}}<extra></extra>"
    data: list[dict[str, Any]] = []
    if by_experiment:
        groups: dict[str, list[tuple]] = {}
        for p in pairs:
            groups.setdefault(p[1].experiment, []).append(p)
        for g, (experiment, chosen) in enumerate(groups.items()):
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": experiment,
                    "x": column(2, x_numeric, chosen),
                    "y": column(3, y_numeric, chosen),
                    "text": [p[1].label for p in chosen],
                    "ids": [p[1].id for p in chosen],
                    "marker": {"color": run_color(g), "size": 7, "opacity": 0.8},
                    "hovertemplate": hover,
                }
            )
        layout["showlegend"] = len(groups) > 1
    else:
        text_mode = len(pairs) <= _TEXT_UP_TO
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text" if text_mode else "markers",
                "name": "runs",
                "x": column(2, x_numeric, pairs),
                "y": column(3, y_numeric, pairs),
                "text": [p[1].label for p in pairs],
                "ids": [p[1].id for p in pairs],
                "textposition": "top center",
                "marker": {"color": [run_color(p[0]) for p in pairs], "size": 10},
                "hovertemplate": hover,
            }
        )
        layout["showlegend"] = False
        if runs and len(runs) <= 8:
            layout["title"]["text"] = f"{title}: {label_list([r.label for r in runs])}"
    if left_out:
        layout["annotations"].append(
            {
                "text": f"{left_out:,} run{'s' if left_out != 1 else ''} without "
                f"{x_key} or {y_key} not shown",
                "xref": "paper",
                "yref": "paper",
                "x": 1,
                "y": 1.02,
                "xanchor": "right",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11, "color": "#777"},
            }
        )
    return figure(data, layout)
