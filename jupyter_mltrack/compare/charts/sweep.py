"""The charts of a sweep: its optimisation history and what its metric depends on.

A sweep is runs (see the sweeps design): a parent run with source ``sweep`` whose params
hold the definition (``metric``, ``goal``, ``space.<param>``…), and a child run per trial
(tag ``mltrack.trial=N``) ending ``finished``, ``failed`` or ``pruned``. Both charts are
read from those runs, so they draw a sweep still running, one resumed after a crash, or
one written by another process, exactly as the runs list shows it.

The history follows optuna-dashboard's: each trial's value of the sweep's metric by trial
number, coloured by status, with the best value so far as a step line. Unlike Optuna's
plot, trials without a value are not left out: a pruned trial is drawn at the last value
it reported (hover: the step it was stopped at), and a failed or crashed trial as a cross
on the x axis whose hover gives its error, so a sweep whose trials all fail says so
rather than drawing an empty chart.

The importance is the compare package's (:mod:`..importance`: Spearman and a random
forest) over the finished trials, the same numbers ``mltrack compare importance`` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go

from ...store.entities import Run, RunStatus
from ...sweeps.records import (
    SPACE_PREFIX,
    SWEEP_SOURCE,
    SWEEP_TAG,
    TRIAL_TAG,
    error_text,
    trial_number,
)
from ..errors import UnknownRun
from ..facts import flatten
from ..goals import metric_goal
from ._base import ChartArgumentError, chart_runs, figure, message_figure, number_text
from .runs import log_scale, varying_params

#: Colours of the history: values, the best-so-far line, and each way a trial can end.
_FINISHED, _BEST, _PRUNED = "#636efa", "#ef553b", "#8c8c8c"
_RUNNING, _FAILED, _NO_VALUE = "#19d3f3", "#d62728", "#b0b0b0"
#: Statuses drawn as a cross on the x axis (no value to draw).
_BROKEN = frozenset({RunStatus.FAILED, RunStatus.CRASHED, RunStatus.INTERRUPTED})


class Trial(NamedTuple):
    """A trial as the charts see it."""

    run: Run
    #: Optuna's trial number (the ``mltrack.trial`` tag), 0-based.
    number: int
    #: Latest finite value of the sweep's metric, ``None`` when it logged none.
    value: float | None
    #: The step of that value (where a pruned trial was stopped).
    step: int | None
    #: ``"ValueError: boom"`` for a trial that recorded an error.
    error: str | None
    #: The searched parameters' values, as text, in the space's order.
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SweepTrials:
    """A sweep's definition and its trials, in trial order."""

    sweep: Run
    name: str
    metric: str
    goal: str
    #: The searched parameters (``space.<param>`` of the sweep run).
    space: tuple[str, ...]
    trials: tuple[Trial, ...]

    def counts(self) -> dict[str, int]:
        """Trials per status, largest first (``{"finished": 15, "pruned": 3, …}``)."""
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.run.status.value] = counts.get(t.run.status.value, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def best(self) -> Trial | None:
        """The finished trial with the best value (the first such on ties)."""
        done = [t for t in self.trials if _counts_for_best(t)]
        if not done:
            return None
        pick = min if self.goal == "min" else max
        return pick(done, key=lambda t: t.value)  # type: ignore[arg-type,return-value]


def _counts_for_best(trial: Trial) -> bool:
    return trial.run.status == RunStatus.FINISHED and trial.value is not None


def is_sweep(run: Run) -> bool:
    """Whether ``run`` is a sweep's own run (not one of its trials)."""
    return run.source == SWEEP_SOURCE and TRIAL_TAG not in run.tags


def load_sweep(store: Any, sweep_id: str) -> SweepTrials:
    """The sweep run ``sweep_id`` and its trials, in four queries whatever their number
    (runs, latest steps, errors of the failed ones). Raises ``UnknownRun`` for an id that
    names no run and :class:`ChartArgumentError` for a run that is not a sweep."""
    found = store.load_runs([sweep_id])
    if not found:
        raise UnknownRun(f"no run {sweep_id!r}")
    sweep = found[0]
    if not is_sweep(sweep):
        if sweep.source == SWEEP_SOURCE and sweep.parent_run_id:
            raise ChartArgumentError(
                f"run #{sweep.number} is trial {sweep.tags.get(TRIAL_TAG)} of sweep "
                f"{sweep.tags.get(SWEEP_TAG, '?')!r}: name the sweep's run (its parent)"
            )
        raise ChartArgumentError(
            f"run #{sweep.number} is not a sweep (its source is {sweep.source!r}): name the "
            "run of a sweep, the parent of its trials"
        )
    metric = sweep.params.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ChartArgumentError(
            f"sweep run #{sweep.number} has no 'metric' param: it does not say what it optimises"
        )
    goal = sweep.params.get("goal")
    if goal not in ("min", "max"):
        goal = metric_goal(metric, _experiment_goals(store, sweep))
    space = tuple(k[len(SPACE_PREFIX) :] for k in sweep.params if k.startswith(SPACE_PREFIX))
    runs = store.child_runs(sweep.id, source=SWEEP_SOURCE)
    ids = [r.id for r in runs]
    steps = store.latest_metric_steps(ids)
    errors = store.run_errors([r.id for r in runs if r.status in _BROKEN])
    shown = space or _varying(runs)
    ordered = sorted(runs, key=lambda r: (r.start_time, r.number))
    trials = [
        Trial(
            run=r,
            number=_number(trial_number(r.tags), i),
            value=_finite(r.metrics.get(metric)),
            step=steps.get(r.id, {}).get(metric),
            error=error_text(errors.get(r.id)),
            params=_shown_params(r, shown),
        )
        for i, r in enumerate(ordered)
    ]
    trials.sort(key=lambda t: (t.number, t.run.start_time))
    return SweepTrials(
        sweep=sweep,
        name=sweep.tags.get(SWEEP_TAG) or sweep.name or f"#{sweep.number}",
        metric=metric,
        goal=str(goal),
        space=space,
        trials=tuple(trials),
    )


def _experiment_goals(store: Any, run: Run) -> Mapping[str, str] | None:
    if not hasattr(store, "metric_goals"):
        return None
    return store.metric_goals([run.experiment_id]).get(run.experiment_id)


def _number(number: int | None, fallback: int) -> int:
    """A trial's number, or its place in start order without one."""
    return fallback if number is None else number


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _varying(runs: Sequence[Run]) -> tuple[str, ...]:
    """Parameters that differ between trials (a sweep run that names no space)."""
    return tuple(varying_params(chart_runs(runs))) if runs else ()


def _shown_params(run: Run, keys: Sequence[str]) -> tuple[tuple[str, str], ...]:
    flat = flatten(run.params)
    return tuple((k, number_text(flat[k])) for k in keys if k in flat)


# the history --------------------------------------------------------------------------------


def history_from_trials(sweep: SweepTrials) -> go.Figure:
    """The optimisation history of a loaded sweep (see the module docstring)."""
    metric, goal = sweep.metric, sweep.goal
    title = _escape(f"Optimization history of {sweep.name}: {metric} ({goal})")
    if not sweep.trials:
        return message_figure(title, "No trial has started yet.")
    valued = [t for t in sweep.trials if t.value is not None and t.run.status not in _BROKEN]
    on_axis = [t for t in sweep.trials if t not in valued]
    groups = (
        ("finished", RunStatus.FINISHED, _FINISHED, "circle", 9),
        ("pruned", RunStatus.PRUNED, _PRUNED, "diamond-open", 9),
        ("running", RunStatus.RUNNING, _RUNNING, "circle-open", 9),
    )
    data: list[dict[str, Any]] = []
    for label, status, color, symbol, size in groups:
        chosen = [t for t in valued if t.run.status == status]
        if chosen:
            data.append(_points(chosen, label, color, symbol, size, metric))
    best = _best_line(sweep, valued)
    if best is not None:
        data.append(best)
    broken = [t for t in on_axis if t.run.status in _BROKEN]
    empty = [t for t in on_axis if t.run.status not in _BROKEN]
    for chosen, label, color in ((broken, "failed", _FAILED), (empty, "no value", _NO_VALUE)):
        if chosen:
            data.append(_axis_marks(chosen, label, color, metric))
    values = np.array([t.value for t in valued], dtype=np.float64)
    yaxis: dict[str, Any] = {"title": {"text": metric}}
    if log_scale(values):
        yaxis["type"] = "log"
    layout: dict[str, Any] = {
        "title": {"text": f"{title}<br><sup>{_escape(summary_text(sweep))}</sup>"},
        "height": 440,
        "hovermode": "closest",
        "xaxis": {"title": {"text": "trial"}, "tickformat": "d"},
        "yaxis": yaxis,
        # the crosses of trials without a value sit on the x axis, whatever the y range
        "yaxis2": {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        # below the axis: above the plot, a narrow panel's legend wraps over the title
        "legend": {"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        "margin": {"t": 90, "b": 100},
    }
    if not valued:
        layout["yaxis"]["showticklabels"] = False
    return figure(data, layout)


def _hover(trial: Trial, metric: str, what: str) -> str:
    """The hover text of a trial: number, run, status, value, params, error."""
    lines = [f"trial {trial.number} (run #{trial.run.number}): {what}"]
    if trial.value is not None:
        at = f" at step {trial.step}" if trial.step is not None else ""
        lines.append(f"{metric} = {number_text(trial.value)}{at}")
    lines += [f"{k} = {v}" for k, v in trial.params]
    if trial.error:
        lines.append(trial.error)
    return "<br>".join(_escape(line) for line in lines)


def _escape(text: str) -> str:
    """Plotly hover text is HTML-ish: a ``<`` in an error must not open a tag."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _points(
    trials: Sequence[Trial], label: str, color: str, symbol: str, size: int, metric: str
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": label,
        "x": [t.number for t in trials],
        "y": np.array([t.value for t in trials], dtype=np.float64),
        "ids": [t.run.id for t in trials],
        "text": [_hover(t, metric, label) for t in trials],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"color": color, "symbol": symbol, "size": size, "line": {"width": 1.5}},
    }


def _best_line(sweep: SweepTrials, valued: Sequence[Trial]) -> dict[str, Any] | None:
    """The best finished value so far, as a step line to the last trial."""
    done = [t for t in valued if _counts_for_best(t)]
    if not done:
        return None
    better = (lambda a, b: a < b) if sweep.goal == "min" else (lambda a, b: a > b)
    xs: list[int] = []
    ys: list[float] = []
    best: float | None = None
    for t in done:
        if best is None or better(t.value, best):
            best = t.value
        xs.append(t.number)
        ys.append(best)  # type: ignore[arg-type]
    last = sweep.trials[-1].number
    if last > xs[-1]:
        xs.append(last)
        ys.append(ys[-1])
    return {
        "type": "scatter",
        "mode": "lines",
        "name": f"best {sweep.metric}",
        "x": xs,
        "y": np.array(ys, dtype=np.float64),
        "line": {"color": _BEST, "shape": "hv", "width": 2},
        "hovertemplate": f"best {_escape(sweep.metric)} so far = %{{y:.6g}}<extra></extra>",
    }


def _axis_marks(trials: Sequence[Trial], label: str, color: str, metric: str) -> dict[str, Any]:
    """Trials without a value, as crosses on the x axis (on the hidden 0..1 axis)."""
    texts = []
    for t in trials:
        status = t.run.status.value
        what = status if t.run.status in _BROKEN else f"{status}, no {metric} logged"
        texts.append(_hover(t, metric, what))
    return {
        "type": "scatter",
        "mode": "markers",
        "name": label,
        "yaxis": "y2",
        "x": [t.number for t in trials],
        "y": [0] * len(trials),
        "ids": [t.run.id for t in trials],
        "text": texts,
        "hovertemplate": "%{text}<extra></extra>",
        "cliponaxis": False,
        "marker": {"color": color, "symbol": "x", "size": 10},
    }


def summary_text(sweep: SweepTrials) -> str:
    """``20 trials: 15 finished, 3 pruned, 2 failed · best 0.93 (trial 12, run #57)``."""
    total = len(sweep.trials)
    parts = ", ".join(f"{n} {status}" for status, n in sweep.counts().items())
    text = f"{total} trial{'s' if total != 1 else ''}: {parts}"
    best = sweep.best()
    if best is not None:
        text += (
            f" \u00b7 best {number_text(best.value)} (trial {best.number}, run #{best.run.number})"
        )
    return text


# importance ---------------------------------------------------------------------------------


def importance_from_trials(store: Any, sweep: SweepTrials) -> go.Figure:
    """Each searched parameter's importance for the sweep's metric over its finished
    trials (the compare package's importance: Spearman and a random forest)."""
    from ..importance import importance
    from .summary import importance_figure

    done = [t for t in sweep.trials if _counts_for_best(t)]
    title = f"What {sweep.metric} depends on in {sweep.name}"
    if len(done) < 2:
        have = "no finished trial has" if not done else "only one finished trial has"
        return message_figure(title, f"{have[0].upper()}{have[1:]} {sweep.metric} yet.")
    result = importance(store, None, sweep.metric, runs=[t.run.id for t in done])
    fig = importance_figure(result)
    fig.layout.title.text = f"{title} ({len(done)} finished trials)"
    return fig


# from the store -----------------------------------------------------------------------------


def sweep_history_figure(store: Any, sweep_run_id: str) -> go.Figure:
    """The optimisation history of the sweep whose run is ``sweep_run_id``."""
    return history_from_trials(load_sweep(store, sweep_run_id))


def sweep_importance_figure(store: Any, sweep_run_id: str) -> go.Figure:
    """What the sweep's metric depends on, over its finished trials."""
    return importance_from_trials(store, load_sweep(store, sweep_run_id))
