"""Charts comparing runs, as ``plotly.graph_objects`` figures built once in Python and used
everywhere: the REST API sends :func:`figure_json` of them to JupyterLab (drawn by the
``application/vnd.plotly.v1+json`` renderer the plotly package installs), the notebook
widget wraps them in a ``FigureWidget``, the CLI writes them into its HTML report.

Each chart has a builder over plain data (``curves_from_series``, ``parallel_from_runs``,
``scatter_from_runs``, ``bars_figure``, ``importance_figure``, ``groups_figure``) and, for the first three, a
function that reads what it needs from the store in bulk. :func:`build_chart` is the one
entry point the API, the widget and the CLI call: it checks the arguments and says what
to change when they are wrong. A run has the same colour in every chart (its position in
the compared runs, the baseline first) and is labelled ``#N`` as in the tables.

A sweep's two charts (``sweep_history_figure``, ``sweep_importance_figure``, in
:mod:`.sweep`) are kinds of the same entry point, read from the sweep's run and its trials.

This package imports plotly; nothing imports it at ``import jupyter_mltrack``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ...store.entities import Run
from ...store.errors import RunNotFound
from ..errors import MAX_RUNS, UnknownRun
from ._base import (
    PALETTE,
    ChartArgumentError,
    ChartRun,
    UnknownExperiment,
    UnknownParam,
    chart_runs,
    check_choice,
    check_range,
    figure_json,
    label_list,
    labels,
    run_color,
)
from .curves import DEFAULT_POINTS, X_MODES, curves_from_series
from .groups import groups_figure
from .lineage import lineage_figure
from .runs import parallel_from_runs, scatter_from_runs, varying_params
from .summary import bars_figure, importance_figure
from .sweep import sweep_history_figure, sweep_importance_figure

__all__ = [
    "CHART_KINDS",
    "DEFAULT_POINTS",
    "MAX_EXPERIMENT_RUNS",
    "PALETTE",
    "ChartArgumentError",
    "ChartRun",
    "UnknownExperiment",
    "UnknownParam",
    "bars_figure",
    "build_chart",
    "curves_figure",
    "curves_from_series",
    "figure_json",
    "groups_figure",
    "importance_figure",
    "lineage_figure",
    "load_chart_runs",
    "parallel_figure",
    "parallel_from_runs",
    "run_color",
    "scatter_figure",
    "scatter_from_runs",
    "sweep_history_figure",
    "sweep_importance_figure",
    "varying_params",
]

CHART_KINDS = (
    "curves",
    "parallel",
    "scatter",
    "bars",
    "importance",
    "sweep_history",
    "sweep_importance",
)
#: Most runs a chart over whole experiments (or a list of runs) draws, outside curves/bars.
MAX_EXPERIMENT_RUNS = 10_000


def _names(value: Any, name: str) -> list[str] | None:
    """A list of names from a list or a comma-separated string (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Sequence):
        raise ChartArgumentError(f"{name} must be a list of names or a comma-separated string")
    return list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ChartArgumentError(f"{name} must be true or false, not {value!r}")


# loading from the store --------------------------------------------------------------------


def load_chart_runs(
    store: Any,
    runs: Sequence[str] | None = None,
    experiments: Sequence[str] | str | None = None,
    *,
    experiment: str | None = None,
    most: int = MAX_EXPERIMENT_RUNS,
) -> list[Run]:
    """The runs a chart draws, in bulk (three queries for 10,000 runs): named ``runs``
    (ids, id prefixes or numbers in ``experiment``), or every run of ``experiments``."""
    if (runs is None) == (experiments is None):
        raise ChartArgumentError("give the runs to draw or the experiments, not both or neither")
    if experiments is not None:
        names = check_experiments(store, experiments, most)
        return store.load_runs(store.experiment_run_ids(names, limit=most))
    refs = [str(r) for r in runs or ()]
    if not refs:
        raise ChartArgumentError("name at least one run (ids, id prefixes or numbers)")
    if len(refs) > most:
        raise ChartArgumentError(f"{len(refs):,} runs named; a chart draws at most {most:,}")
    from ..facts import resolve_runs

    found = {r.id: r for r in store.load_runs(refs)}
    missing = [r for r in refs if r not in found]
    ids = list(refs)
    if missing:
        resolved = resolve_runs(store, missing, experiment)
        alias = dict(zip(missing, resolved, strict=True))
        ids = [alias.get(r, r) for r in refs]
        found.update({r.id: r for r in store.load_runs(resolved)})
    if len(set(ids)) < len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        named = [r for r, i in zip(refs, ids, strict=True) if i == twice]
        raise ChartArgumentError(
            f"{' and '.join(map(repr, named))} name the same run; list it once"
        )
    if any(i not in found for i in ids):  # deleted between resolving and loading
        raise UnknownRun(str(RunNotFound(next(i for i in ids if i not in found))))
    return [found[i] for i in ids]


def check_experiments(
    store: Any, experiments: Sequence[str] | str, most: int = MAX_EXPERIMENT_RUNS
) -> list[str]:
    """The experiment names, checked: each exists, together they hold at most ``most`` runs."""
    names = [experiments] if isinstance(experiments, str) else list(experiments)
    if not names:
        raise ChartArgumentError("name at least one experiment")
    counts = {e.name: e.run_count for e in store.list_experiments()}
    unknown = [n for n in names if n not in counts]
    if unknown:
        listed = ", ".join(sorted(counts)[:20]) or "none yet"
        raise UnknownExperiment(f"no experiment {unknown[0]!r}; experiments: {listed}")
    total = sum(counts[n] for n in names)
    if total > most:
        raise ChartArgumentError(
            f"{', '.join(names)} hold {total:,} runs; a chart draws at most {most:,}: "
            "name fewer experiments or pick runs"
        )
    return names


def _goals(store: Any, runs: Sequence[Run]) -> dict[str, str]:
    """Metric goals set for the runs' experiments (the first experiment's win)."""
    if not hasattr(store, "metric_goals"):
        return {}
    merged: dict[str, str] = {}
    by_experiment = store.metric_goals(dict.fromkeys(r.experiment_id for r in runs))
    for goals in by_experiment.values():
        for key, goal in goals.items():
            merged.setdefault(key, goal)
    return merged


# figures from the store ---------------------------------------------------------------------


def curves_figure(
    store: Any,
    runs: Sequence[str],
    metrics: Sequence[str] | None = None,
    *,
    x: str = "step",
    smoothing: float = 0.0,
    log_y: bool = False,
    max_points: int = DEFAULT_POINTS,
    experiment: str | None = None,
) -> go.Figure:
    """Metric curves of up to 100 runs overlaid, a panel per metric (see ``curves``)."""
    from ..series import read_series

    check_choice("x", x, X_MODES)
    if len(runs) > MAX_RUNS:
        raise ChartArgumentError(f"{len(runs)} runs named; curves are drawn for at most {MAX_RUNS}")
    loaded = load_chart_runs(store, runs, experiment=experiment, most=MAX_RUNS)
    series = read_series(store, [r.id for r in loaded], metrics)
    return curves_from_series(
        chart_runs(loaded),
        series,
        metrics,
        x=x,
        smoothing=smoothing,
        log_y=log_y,
        max_points=max_points,
    )


def parallel_figure(
    store: Any,
    *,
    runs: Sequence[str] | None = None,
    experiments: Sequence[str] | str | None = None,
    color: str | None = None,
    params: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    experiment: str | None = None,
) -> go.Figure:
    """Parallel coordinates of named runs or of whole experiments (up to 10,000 runs)."""
    loaded = load_chart_runs(store, runs, experiments, experiment=experiment)
    title = None
    if runs is not None:
        title = "Parameters and metrics of " + label_list(labels(loaded))
    elif experiments is not None:
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        title = f"Parameters and metrics of {len(loaded):,} runs of {', '.join(names)}"
    return parallel_from_runs(
        chart_runs(loaded),
        color=color,
        params=params,
        metrics=metrics,
        goals=_goals(store, loaded),
        title=title,
    )


def scatter_figure(
    store: Any,
    *,
    x: str,
    y: str,
    runs: Sequence[str] | None = None,
    experiments: Sequence[str] | str | None = None,
    log_y: bool = False,
    experiment: str | None = None,
) -> go.Figure:
    """A parameter or metric (``params.lr``, ``metrics.acc``) against a metric, a point per
    run, for named runs or whole experiments."""
    loaded = load_chart_runs(store, runs, experiments, experiment=experiment)
    return scatter_from_runs(
        chart_runs(loaded), x=x, y=y, log_y=log_y, by_experiment=experiments is not None
    )


# the one entry point ----------------------------------------------------------------------

#: Arguments each kind takes (besides ``experiment``, the experiment run numbers refer to).
_ARGS = {
    "curves": {"runs", "metrics", "x", "smoothing", "log_y", "max_points"},
    "parallel": {"runs", "experiments", "params", "metrics", "color"},
    "scatter": {"runs", "experiments", "x", "y", "log_y"},
    "bars": {"runs", "metrics", "baseline", "reducers", "step"},
    "importance": {"runs", "experiments", "metric"},
    "sweep_history": {"sweep"},
    "sweep_importance": {"sweep"},
}
_ALIASES = {"log": "log_y", "reducer": "reducers"}


def build_chart(store: Any, kind: str, args: Mapping[str, Any]) -> go.Figure:
    """The ``kind`` chart (curves, parallel, scatter, bars, importance, sweep_history,
    sweep_importance) for ``args``.

    ``args`` may hold typed values (lists, floats, bools) or the strings of a query or a
    command line (``"3,5,7"``, ``"0.6"``, ``"true"``). Raises :class:`ChartArgumentError`
    (a ``CompareError``) naming what to change for a missing, unknown or bad argument,
    :class:`UnknownExperiment` / ``UnknownRun`` / ``UnknownMetric`` for names that name
    nothing.

    ``experiment`` means what it means for the REST API's ``compare/charts``: with ``runs``,
    the experiment their numbers are looked up in (every kind); without, every run of it
    (``parallel``, ``scatter``, ``importance``, like ``experiments``). The sweep kinds take
    ``sweep``: the sweep's run (id, id prefix, or number in ``experiment``).
    """
    check_choice("kind", kind, CHART_KINDS)
    given = {_ALIASES.get(k, k): v for k, v in args.items() if v is not None}
    experiment = given.pop("experiment", None)
    if experiment is not None and "runs" not in given and "experiments" in _ARGS[kind]:
        given.setdefault("experiments", experiment)  # experiment=NAME: its runs
        experiment = None
    unknown = sorted(set(given) - _ARGS[kind])
    if unknown:
        raise ChartArgumentError(
            f"a {kind} chart does not take {', '.join(unknown)}; it takes "
            + ", ".join(sorted(_ARGS[kind] | {"experiment"}))
        )
    if kind.startswith("sweep_"):
        return _sweep(store, kind, given.get("sweep"), experiment)
    runs = _names(given.get("runs"), "runs")
    experiments = _names(given.get("experiments"), "experiments")
    if runs is not None and experiments is not None:
        raise ChartArgumentError("give runs or experiments, not both")
    metrics = _names(given.get("metrics"), "metrics")
    log_y = _bool(given.get("log_y", False), "log")

    if kind in ("curves", "bars") and runs is None and experiment is not None:
        raise ChartArgumentError(
            f"a {kind} chart draws named runs: give runs (experiment only says where their "
            "numbers are looked up)"
        )
    if kind == "curves":
        if not runs:
            raise ChartArgumentError("a curves chart needs runs: the runs whose metrics to draw")
        return curves_figure(
            store,
            runs,
            metrics,
            x=str(given.get("x", "step")),
            smoothing=check_range("smoothing", given.get("smoothing", 0.0), 0.0, 0.99),
            log_y=log_y,
            max_points=int(
                check_range("max_points", given.get("max_points", DEFAULT_POINTS), 2, 100_000)
            ),
            experiment=experiment,
        )
    if kind in ("parallel", "scatter") and runs is None and experiments is None:
        raise ChartArgumentError(
            f"a {kind} chart needs runs (named runs) or experiments (all their runs)"
        )
    if kind == "parallel":
        color = given.get("color")
        return parallel_figure(
            store,
            runs=runs,
            experiments=experiments,
            color=str(color) if color is not None else None,
            params=_names(given.get("params"), "params"),
            metrics=metrics,
            experiment=experiment,
        )
    if kind == "scatter":
        for name in ("x", "y"):
            if name not in given:
                raise ChartArgumentError(
                    f"a scatter chart needs {name}=params.NAME or {name}=metrics.NAME "
                    "(e.g. x=params.lr, y=metrics.acc)"
                )
        return scatter_figure(
            store,
            x=str(given["x"]),
            y=str(given["y"]),
            runs=runs,
            experiments=experiments,
            log_y=log_y,
            experiment=experiment,
        )
    if kind == "bars":
        return _bars(store, runs, metrics, given, experiment)
    return _importance(store, runs, experiments, given.get("metric"), experiment)


def _bars(
    store: Any,
    runs: list[str] | None,
    metrics: list[str] | None,
    given: Mapping[str, Any],
    experiment: str | None,
) -> go.Figure:
    from ..comparison import compare

    if not runs or len(runs) < 2:
        raise ChartArgumentError("a bars chart compares runs: name at least 2")
    reducers = given.get("reducers")
    if reducers is not None and not isinstance(reducers, Mapping):
        from ..reducers import parse_reducer_arg

        items = [reducers] if isinstance(reducers, str) else list(reducers)
        reducers = dict(parse_reducer_arg(str(item)) for item in items)
    step = given.get("step")
    if step is not None:
        step = int(check_range("step", step, -(2**63), 2**63 - 1))
    comparison = compare(
        store,
        runs,
        given.get("baseline"),
        reducers=reducers,
        step=step,
        experiment=experiment,
    )
    return bars_figure(comparison, metrics)


def _importance(
    store: Any,
    runs: list[str] | None,
    experiments: list[str] | None,
    metric: Any,
    experiment: str | None,
) -> go.Figure:
    from ..importance import importance

    if not runs and not experiments:
        raise ChartArgumentError(
            "an importance chart is computed over runs or experiments: name the runs or one "
            "experiment"
        )
    if not metric:
        raise ChartArgumentError("an importance chart needs metric: the metric to explain")
    if runs:
        ids = [r.id for r in load_chart_runs(store, runs, experiment=experiment)]
        return importance_figure(importance(store, None, str(metric), runs=ids))
    check_experiments(store, experiments)
    return importance_figure(importance(store, experiments, str(metric)))


def _sweep(store: Any, kind: str, ref: Any, experiment: str | None) -> go.Figure:
    if ref is None or not str(ref).strip():
        raise ChartArgumentError(
            f"a {kind} chart needs sweep: the sweep's run (its id, an id prefix or its number)"
        )
    run = load_chart_runs(store, [str(ref).strip()], experiment=experiment, most=1)[0]
    if kind == "sweep_history":
        return sweep_history_figure(store, run.id)
    return sweep_importance_figure(store, run.id)
