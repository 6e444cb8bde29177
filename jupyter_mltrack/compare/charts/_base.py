"""What every chart shares: the runs as plain data, their colours and labels, figure
assembly without plotly's per-property validation, and the JSON a browser can take.

Figures are assembled from plain dicts and wrapped in ``plotly.graph_objects.Figure`` with
validation off: validating a figure of 100 curves of 2,000 points costs 30 to 100 ms (it
copies and checks every array), assembling it 5 ms. The builders are tested by validating
their output (``Figure(figure_json(fig))`` with validation on), so a misspelt property
still fails a test rather than a user's request.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go

from ...imports import heavy
from ...store.entities import Run
from ..errors import CompareError
from ..facts import flatten

#: Run colours, in run order (the baseline is first): plotly's default cycle, then 24 more.
PALETTE = (
    "#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a",
    "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52",
    "#2e91e5", "#e15f99", "#1ca71c", "#fb0d0d", "#da16ff",
    "#222a2a", "#b68100", "#750d86", "#eb663b", "#511cfb",
    "#00a08b", "#fb00d1", "#fc0080", "#b2828d", "#6c7c32",
    "#778aae", "#862a16", "#a777f1", "#620042", "#1616a7",
    "#da60ca", "#6c4516", "#0d2a63", "#af0038",
)  # fmt: skip
#: Shown where a run has no value (a parameter it did not set, a metric it did not log).
MISSING = "n/a"
#: Height of one panel of a multi-panel figure, in pixels.
PANEL_HEIGHT = 300


class ChartRun(NamedTuple):
    """A run as the charts see it: plain data, so builders are testable without a store."""

    id: str
    label: str
    #: Flattened (``optimizer.lr``).
    params: Mapping[str, Any]
    #: Latest value of each metric.
    metrics: Mapping[str, float]
    experiment: str = ""
    start_time: float = 0.0
    number: int = 0


def run_color(index: int) -> str:
    """The colour of the run at ``index`` in the compared order, the same in every chart."""
    return PALETTE[index % len(PALETTE)]


def rgba(color: str, alpha: float) -> str:
    """``#rrggbb`` as ``rgba(…)`` with ``alpha``: faded copies of a run's colour."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def labels(runs: Sequence[Run]) -> list[str]:
    """``#N``, or ``experiment #N`` when the runs span several experiments (as the
    comparison labels them)."""
    several = len({r.experiment_id for r in runs}) > 1
    return [f"{r.experiment} #{r.number}" if several else f"#{r.number}" for r in runs]


def chart_runs(runs: Sequence[Run]) -> list[ChartRun]:
    """Store runs as chart runs (params flattened, labels as above)."""
    return [
        ChartRun(
            id=r.id,
            label=label,
            params=flatten(r.params),
            metrics=dict(r.metrics),
            experiment=r.experiment,
            start_time=r.start_time,
            number=r.number,
        )
        for r, label in zip(runs, labels(runs), strict=True)
    ]


def label_list(labels: Sequence[str], most: int = 8) -> str:
    """``#3, #5 and #7`` for titles; long lists cut: ``#3, #5, … (12 runs)``."""
    if len(labels) == 1:
        return labels[0]
    if len(labels) <= most:
        return ", ".join(labels[:-1]) + " and " + labels[-1]
    return ", ".join(labels[: most - 1]) + f", … ({len(labels)} runs)"


_AXIS = {
    "gridcolor": "#ebf0f8",
    "linecolor": "#ebf0f8",
    "zerolinecolor": "#ebf0f8",
    "zerolinewidth": 2,
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 15},
}


def template() -> dict[str, Any]:
    """The part of plotly's ``plotly_white`` look these charts use (white panels read best
    in a grid of small charts), with the run colours as the colour cycle. A new dict each
    time (figures are mutable); written out because the full template is 7 KB of JSON per
    figure, mostly defaults for trace types no chart here draws."""
    return {
        "layout": {
            "autotypenumbers": "strict",
            "colorway": list(PALETTE[:10]),
            "font": {"color": "#2a3f5f"},
            "hovermode": "closest",
            "hoverlabel": {"align": "left"},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "xaxis": copy.deepcopy(_AXIS),
            "yaxis": copy.deepcopy(_AXIS),
            "annotationdefaults": {"arrowcolor": "#2a3f5f", "arrowhead": 0, "arrowwidth": 1},
            "title": {"x": 0.05},
        },
        "data": {
            "bar": [{"type": "bar", "marker": {"line": {"color": "white", "width": 0.5}}}],
            "parcoords": [
                {"type": "parcoords", "line": {"colorbar": {"outlinewidth": 0, "ticks": ""}}}
            ],
        },
    }


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure from plain dicts, without plotly's per-property validation (see above)."""
    layout.setdefault("template", template())
    # plotly imports its figure class on first use, narwhals with it: one thread at a time
    figure_class = heavy("plotly.graph_objs._figure").Figure
    return figure_class({"data": data, "layout": layout}, _validate=False)


def message_figure(title: str, text: str) -> go.Figure:
    """An empty chart that says why it is empty (no series logged, nothing varies)."""
    return figure(
        [],
        {
            "title": {"text": title},
            "xaxis": {"visible": False},
            "yaxis": {"visible": False},
            "annotations": [
                {
                    "text": text,
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "showarrow": False,
                    "font": {"size": 14},
                }
            ],
            "height": 260,
        },
    )


def grid(count: int, columns: int, *, gap_x: float = 0.08, gap_y: float | None = None) -> list:
    """Axis domains of ``count`` panels in a grid (row-major, top row first):
    ``[(x_domain, y_domain), …]``. Computed here because ``make_subplots`` costs more than
    the rest of a figure together and validates everything it touches."""
    rows = max(1, math.ceil(count / columns))
    if gap_y is None:
        gap_y = min(0.12, 0.3 / rows) if rows > 1 else 0.0
    width = (1.0 - gap_x * (columns - 1)) / columns
    height = (1.0 - gap_y * (rows - 1)) / rows
    out = []
    for i in range(count):
        row, col = divmod(i, columns)
        x0 = col * (width + gap_x)
        y1 = 1.0 - row * (height + gap_y)
        out.append(([round(x0, 6), round(x0 + width, 6)], [round(y1 - height, 6), round(y1, 6)]))
    return out


def panel_title(text: str, x_domain: Sequence[float], y_domain: Sequence[float]) -> dict:
    """A panel's title, as the annotation ``make_subplots`` would put above it."""
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": (x_domain[0] + x_domain[1]) / 2,
        "y": y_domain[1],
        "xanchor": "center",
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 13},
    }


def axis_names(index: int) -> tuple[str, str, str, str]:
    """``(xaxis, yaxis, x, y)`` layout keys and trace references of panel ``index`` (0-based)."""
    suffix = "" if index == 0 else str(index + 1)
    return f"xaxis{suffix}", f"yaxis{suffix}", f"x{suffix}", f"y{suffix}"


def category_panel(
    layout: dict[str, Any],
    index: int,
    domains: tuple[Sequence[float], Sequence[float]],
    title: str,
    categories: int,
    *,
    turn_above: int,
    yaxis: Mapping[str, Any],
) -> tuple[str, str]:
    """Lay out panel ``index`` of a grid of bar panels: ``categories`` along x (labels
    turned when there are more than ``turn_above``), ``yaxis`` properties, ``title``
    above. Returns the ``(x, y)`` references its traces take."""
    x_domain, y_domain = domains
    xaxis, yaxis_key, xref, yref = axis_names(index)
    layout[xaxis] = {
        "domain": x_domain,
        "anchor": yref,
        "type": "category",
        "tickangle": 0 if categories <= turn_above else -45,
    }
    layout[yaxis_key] = {"domain": y_domain, "anchor": xref, **yaxis}
    layout.setdefault("annotations", []).append(panel_title(title, x_domain, y_domain))
    return xref, yref


# values --------------------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    """A real number (bools are categories, not numbers)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def number_text(value: Any) -> str:
    """A value as a short label: ``0.001``, ``1e+05``, ``rf``, ``True``."""
    if is_number(value):
        value = float(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if value is None:
        return "None"
    if isinstance(value, Mapping) and value.get("$type") == "float":
        return str(value.get("value"))  # the store's marker for NaN/inf params
    return str(value)


def sort_key(value: Any) -> tuple:
    """Orders mixed values: numbers (numerically), then booleans, strings, anything else."""
    if is_number(value):
        return (0, float(value), "")
    if isinstance(value, bool):
        return (1, float(value), "")
    if isinstance(value, str):
        return (2, 0.0, value)
    return (3, 0.0, number_text(value))


def hashable(value: Any) -> Any:
    """A value usable as a dict key (marker dicts and empty containers become text)."""
    try:
        hash(value)
    except TypeError:
        return ("$unhashable", repr(value))
    return value


def known(names: Iterable[str], available: Iterable[str], what: str, error: type) -> list[str]:
    """``names`` checked against what the runs have, with a message listing what they do."""
    have = set(available)
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in have]
    if unknown:
        listed = ", ".join(sorted(have)[:30]) or "none"
        more = f" (and {len(have) - 30} more)" if len(have) > 30 else ""
        raise error(
            f"no compared run has {what} {', '.join(map(repr, unknown))}; they have: {listed}{more}"
        )
    return names


class ChartArgumentError(CompareError):
    """A chart argument that is missing, unknown or out of range."""


class UnknownExperiment(CompareError, LookupError):
    """An experiment name that names no experiment."""


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ChartArgumentError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def check_range(name: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ChartArgumentError(
            f"{name} must be a number between {low:g} and {high:g}, not {value!r}"
        ) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ChartArgumentError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return number


class UnknownParam(CompareError):
    """A parameter no charted run has."""


# JSON ----------------------------------------------------------------------------------------


def figure_json(fig: Any, *, typed_arrays: bool = False) -> dict[str, Any]:
    """``{"data": [...], "layout": {...}}`` that ``json.dumps(..., allow_nan=False)`` takes and
    plotly.js (and JupyterLab's ``application/vnd.plotly.v1+json`` renderer) draws.

    numpy arrays become lists, NaN and ±inf become ``null`` (a gap in a line), datetimes ISO
    strings. Plotly's own ``to_dict`` deep-copies the figure and encodes arrays as base64
    typed arrays; reading the figure's property dicts directly skips the copy, and typed
    arrays already in a figure are decoded back into lists.

    ``typed_arrays=True`` instead writes numeric arrays as plotly.js typed arrays
    (``{"dtype": "f8", "bdata": base64}``, what plotly.py itself sends since version 6,
    drawn by plotly.js >= 2.28): a tenth of the encoding time and half the bytes of a list
    of floats, for charts of hundreds of thousands of points. NaN stays NaN (a gap), ±inf
    becomes NaN.
    """
    data = getattr(fig, "_data", None)
    layout = getattr(fig, "_layout", None)
    if data is None or layout is None:  # a figure dict, or a future plotly
        source = fig if isinstance(fig, Mapping) else fig.to_dict()
        data, layout = source.get("data", []), source.get("layout", {})
    array = _typed if typed_arrays else _array
    return {"data": [_plain(t, array) for t in data], "layout": _plain(layout, array)}


def _plain(value: Any, array: Any) -> Any:
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            return array(_typed_array(value))
        return {str(k): _plain(v, array) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, array) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return array(value)
    if isinstance(value, np.generic):
        return _plain(value.item(), array)
    if value is None or isinstance(value, str | int | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v, array) for k, v in value.items()}
    if hasattr(value, "tolist"):  # pandas objects
        return _plain(value.tolist(), array)
    return str(value)


def _array(a: np.ndarray) -> list:
    kind = a.dtype.kind
    if kind == "f":
        finite = np.isfinite(a)
        if finite.all():
            return a.tolist()
        obj = a.astype(object)
        obj[~finite] = None
        return obj.tolist()
    if kind in "iub":
        return a.tolist()
    if kind == "M":
        text = np.datetime_as_string(a).astype(object)
        text[np.isnat(a)] = None
        return text.tolist()
    return [_plain(v, _array) for v in a.tolist()]


#: Integer types plotly.js takes as typed arrays (it has no 64-bit integers).
_INT_TYPES = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32)


def _typed(a: np.ndarray) -> Any:
    import base64

    kind = a.dtype.kind
    if kind == "f":
        a = a.astype("<f8", copy=False)
        if np.isinf(a).any():
            a = np.where(np.isinf(a), np.nan, a)
    elif kind in "iu":
        if a.size:
            lo, hi = int(a.min()), int(a.max())
            fits = (t for t in _INT_TYPES if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)
            a = a.astype(np.dtype(next(fits, np.float64)).newbyteorder("<"), copy=False)
        else:
            a = a.astype("<f8")
    else:
        return _array(a)
    spec = {"dtype": a.dtype.str.lstrip("<|="), "bdata": base64.b64encode(a.tobytes()).decode()}
    if a.ndim > 1:
        spec["shape"] = ",".join(str(d) for d in a.shape)
    return spec


def _typed_array(spec: Mapping[str, Any]) -> np.ndarray:
    """A plotly.js typed-array spec (``{"dtype": "f8", "bdata": base64, "shape"?}``)."""
    import base64

    a = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.dtype(spec["dtype"]))
    shape = spec.get("shape")
    if shape:
        dims = [int(d) for d in str(shape).split(",")] if isinstance(shape, str) else shape
        a = a.reshape(dims)
    return a
