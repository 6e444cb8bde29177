"""The metric rows of a comparison: each metric reduced to one value per run, its goal,
the change against the baseline and whether that change is better or worse.

Values are encoded by :func:`compare_number`: JSON has no NaN or infinity, and a metric that
diverged (NaN) must not read as one the run never logged (``null``), so NaN is ``"nan"`` and
infinities ``"inf"`` / ``"-inf"``. (``store.entities.json_number``, used by the other
endpoints, keeps its own encoding.) A ``step=N`` reducer on a series that stops before N
keeps the last point it reached; ``steps`` says which (e.g. 29 for ``step=100``), and the
tables show it as ``@29``.

Only what a reducer needs is read: ``last`` comes from the store's latest values (and their
steps), whether a metric has a series and how far it goes from the chunks' headers; the
points themselves are read (one query, decoded with numpy) only for metrics reduced
otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..store import Store
from .errors import UnknownMetric
from .facts import RunFacts
from .goals import metric_goal
from .reducers import LAST, Reducer


def compare_number(value: float | None) -> float | str | None:
    """A reduced metric value for the comparison's JSON: ``None`` where the run did not log
    the metric, ``"nan"`` for NaN (distinct from missing), ``"inf"`` / ``"-inf"``."""
    if value is None:
        return None
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def verdict(value: float | None, base: float | None, goal: str) -> str | None:
    """``better`` / ``worse`` / ``same`` of ``value`` against ``base``, ``None`` when either
    is missing or NaN."""
    if value is None or base is None or math.isnan(value) or math.isnan(base):
        return None
    if value == base:
        return "same"
    return "better" if (value < base) == (goal == "min") else "worse"


def metric_keys(facts: Sequence[RunFacts]) -> list[str]:
    return sorted({k for f in facts for k in f.metrics})


def check_reducers(keys: Sequence[str], reducers: Mapping[str, Reducer]) -> None:
    unknown = [k for k in reducers if k not in set(keys)]
    if unknown:
        known = ", ".join(keys) or "none"
        raise UnknownMetric(
            f"no compared run logged {', '.join(map(repr, unknown))}; metrics: {known}"
        )


def metric_rows(
    store: Store,
    facts: Sequence[RunFacts],
    *,
    reducers: Mapping[str, Reducer],
    step: int | None,
    goals: Mapping[str, str],
) -> list[dict[str, Any]]:
    ids = [f.id for f in facts]
    keys = metric_keys(facts)
    check_reducers(keys, reducers)
    extents = store.metric_extents(ids)
    latest_steps = store.latest_metric_steps(ids)
    chosen: dict[str, Reducer] = {}
    has_series: dict[str, bool] = {}
    max_step: dict[str, int | None] = {}
    for key in keys:
        spans = [extents.get(i, {}).get(key) for i in ids]
        has_series[key] = any(s is not None and s[0] > 1 for s in spans)
        last_steps = [s[1] for s in spans if s is not None]
        max_step[key] = max(last_steps) if last_steps else None
        reducer = reducers.get(key)
        if reducer is None:
            reducer = Reducer("step", step) if step is not None and has_series[key] else LAST
        chosen[key] = reducer
    wanted = [k for k in keys if chosen[k].needs_series]
    series: dict[str, dict[str, Any]] = {}
    if wanted:
        from .series import read_series

        series = read_series(store, ids, wanted)
    rows = []
    for key in keys:
        reducer, goal = chosen[key], metric_goal(key, goals)
        values: list[float | None] = []
        steps: list[int | None] = []
        for f in facts:
            if key not in f.metrics:
                value, at = None, None
            elif not reducer.needs_series:
                value, at = f.metrics[key], latest_steps.get(f.id, {}).get(key)
            else:
                value, at = reducer.reduce(series.get(f.id, {}).get(key), goal)
            values.append(value)
            steps.append(at)
        base = values[0]
        changes: list[float | None] = [None]
        pct: list[float | None] = [None]
        verdicts: list[str | None] = [None]
        for value in values[1:]:
            ok = _finite(value) and _finite(base)
            change = value - base if ok else None  # type: ignore[operator]
            changes.append(change)
            pct.append(100.0 * change / abs(base) if ok and base else None)  # type: ignore[operator,arg-type]
            verdicts.append(verdict(value, base, goal))
        shown = [compare_number(v) for v in values]
        rows.append(
            {
                "key": key,
                "reducer": reducer.spec,
                "goal": goal,
                "values": shown,
                "steps": steps,
                "changes": changes,
                "pct_changes": pct,
                "verdicts": verdicts,
                "differs": len({json_or_key(v) for v in values}) > 1,
                "has_series": has_series[key],
                "max_step": max_step[key],
            }
        )
    return rows


def json_or_key(value: float | None) -> Any:
    """A hashable stand-in for a value where NaN equals NaN."""
    if value is None:
        return ("none",)
    if math.isnan(value):
        return ("nan",)
    return value
