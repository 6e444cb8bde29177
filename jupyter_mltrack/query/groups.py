"""Runs grouped by a parameter, a tag or an attribute, each metric aggregated per group.

What collapses five seeds of one configuration into a row with an error bar: the count,
mean, standard deviation (sample), minimum and maximum of each metric (under its reducer)
over the group's runs that have it. One ``GROUP BY`` query whatever the number of runs:
the metrics are outer joins on ``latest_metrics``, whose summary columns answer every
reducer, and the standard deviation comes from the mean of squares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import aliased

from ..store import InvalidQuery, Store
from ..store.models import LatestMetricRow, MetricGoalRow, ParamRow, RunRow, TagRow
from . import Field, Node, parse_field, value_expression
from .compile import reduced_metric
from .search import EVERYTHING, Scope, selection

MAX_GROUP_METRICS = 20


@dataclass
class Aggregate:
    """One metric over a group's runs (``count`` of the runs that have a value)."""

    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }


@dataclass
class RunGroup:
    """The runs sharing one value of the grouping field (``value`` None: they lack it)."""

    value: Any
    count: int
    metrics: dict[str, Aggregate]

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "count": self.count,
            "metrics": {k: a.to_dict() for k, a in self.metrics.items()},
        }


def _group_key(field: Field) -> tuple[ColumnElement[Any], bool, Any]:
    """The grouping expression, whether its values are stored JSON, and the join it needs."""
    if field.kind == "param":
        p = aliased(ParamRow)
        return p.value, True, (p, and_(p.run_id == RunRow.id, p.key == field.key))
    if field.kind == "tag":
        if field.key is None:
            raise InvalidQuery("group by one tag: tags.KEY")
        t = aliased(TagRow)
        return t.value, False, (t, and_(t.run_id == RunRow.id, t.key == field.key))
    if field.kind == "metric":
        raise InvalidQuery(
            f"cannot group by a metric ({field}): group by a parameter, a tag or an "
            "attribute, and aggregate metrics within the groups"
        )
    return value_expression(field), False, None


def group_runs(
    store: Store,
    group_by: str,
    metrics: Sequence[str] = (),
    *,
    filter: str | Node | None = None,
    scope: Scope = EVERYTHING,
) -> list[RunGroup]:
    """The groups of the selected runs by ``group_by`` (``params.model``, ``tags.stage``,
    ``status``…), largest first, with ``metrics`` (``acc``, ``loss.min``, or with their
    ``metrics.`` prefix) aggregated in each."""
    if len(metrics) > MAX_GROUP_METRICS:
        raise InvalidQuery(f"at most {MAX_GROUP_METRICS} metrics per grouping")
    key_field = parse_field(group_by)
    specs = []
    for spec in metrics:
        text = spec if spec.startswith(("metrics.", "metric.")) else f"metrics.{spec}"
        metric = parse_field(text)
        if metric.kind != "metric":
            raise InvalidQuery(f"{spec!r} is not a metric")
        specs.append((spec, metric))
    key, is_json, join = _group_key(key_field)
    columns: list[ColumnElement[Any]] = [key.label("g"), func.count(RunRow.id)]
    stmt_from: Any = RunRow
    joins = [join] if join is not None else []
    for _spec, metric in specs:
        lm = aliased(LatestMetricRow)
        joins.append((lm, and_(lm.run_id == RunRow.id, lm.key == metric.key)))
        goal = None
        if metric.reducer == "best":
            goal = aliased(MetricGoalRow)
            on = and_(goal.experiment_id == RunRow.experiment_id, goal.key == metric.key)
            joins.append((goal, on))
        v = reduced_metric(lm, metric, goal)
        columns += [func.count(v), func.avg(v), func.avg(v * v), func.min(v), func.max(v)]
    stmt = select(*columns).select_from(stmt_from)
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    stmt = stmt.where(selection(filter, scope)).group_by(key)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    groups = []
    for row in rows:
        value, count, *numbers = row
        if is_json and value is not None:
            value = json.loads(value)
        aggregates = {}
        for i, (spec, _metric) in enumerate(specs):
            # PostgreSQL averages an integer column (the ``count`` reducer) as a Decimal
            n, mean, mean_sq, low, high = (
                None if v is None else float(v) for v in numbers[i * 5 : i * 5 + 5]
            )
            aggregates[spec] = Aggregate(
                count=int(n or 0),
                mean=mean,
                std=_std(int(n or 0), mean, mean_sq),
                min=low,
                max=high,
            )
        groups.append(RunGroup(value=value, count=int(count), metrics=aggregates))
    groups.sort(key=lambda g: (-g.count, json.dumps(g.value, sort_keys=True, default=str)))
    return groups


def groups_answer(
    group_by: str, metrics: Sequence[str], groups: Sequence[RunGroup]
) -> dict[str, Any]:
    """The groups as ``GET runs/groups`` answers them (and as the groups chart takes them)."""
    return {
        "group_by": group_by,
        "metrics": list(metrics),
        "groups": [g.to_dict() for g in groups],
        "total": sum(g.count for g in groups),
    }


def groups_frame(groups: Sequence[RunGroup], group_by: str, metrics: Sequence[str]) -> Any:
    """The groups as a pandas DataFrame: a row per group, indexed by its value (named after
    ``group_by``), the run ``count``, then ``METRIC.mean``, ``.std``, ``.min``, ``.max`` and
    ``.count`` (the runs with a value) for each metric, in the order asked."""
    import pandas as pd

    columns: dict[str, list[Any]] = {"count": [g.count for g in groups]}
    for spec in metrics:
        for part in ("mean", "std", "min", "max", "count"):
            columns[f"{spec}.{part}"] = [getattr(g.metrics[spec], part) for g in groups]
    index = pd.Index([g.value for g in groups], name=group_by, dtype=object)
    frame = pd.DataFrame(columns, index=index)
    for spec in metrics:  # a group without values leaves None: NaN, as pandas' own aggregates
        for part in ("mean", "std", "min", "max"):
            frame[f"{spec}.{part}"] = frame[f"{spec}.{part}"].astype(float)
    return frame


def _std(n: int, mean: float | None, mean_sq: float | None) -> float | None:
    """Sample standard deviation from the mean and the mean of squares (``None`` below two
    values: one seed has no spread to show)."""
    if n < 2 or mean is None or mean_sq is None:
        return None
    variance = max(0.0, mean_sq - mean * mean) * n / (n - 1)
    return math.sqrt(variance)
