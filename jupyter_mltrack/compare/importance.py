"""Parameter importance for a metric across whole experiments, computed locally (W&B's
parameter-importance panel): per parameter, Spearman's rank correlation with the metric
(numeric parameters) and a fixed-seed random forest's impurity importance (every varying
parameter; numbers as they are, other values ordinal-encoded in a sorted order).

Runs considered: the finished runs of the experiments that logged the metric (a finite
latest value). Parameters present in fewer than two of them, or taking a single value among
the runs that have them, are left out: they explain nothing, and a forest fed them would
measure which runs have the parameter at all (``optimizer.momentum``, always 0.9 where
present, is not a cause).
Rows are sorted by forest importance (by |Spearman| without scikit-learn), then by key.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..store.entities import RunStatus
from . import evidence as ev
from .errors import CompareError, UnknownMetric
from .evidence import MISSING
from .factors import hashable, varies
from .facts import load_experiment_facts, load_facts


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.4g}")


@dataclass(frozen=True)
class ParamImportance:
    key: str
    spearman: float | None
    rf_importance: float | None
    runs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "spearman": self.spearman,
            "rf_importance": self.rf_importance,
            "runs": self.runs,
        }


@dataclass(frozen=True)
class Importance:
    experiments: list[str]
    metric: str
    runs: int
    sklearn: bool
    params: list[ParamImportance]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiments": list(self.experiments),
            "metric": self.metric,
            "runs": self.runs,
            "sklearn": self.sklearn,
            "params": [p.to_dict() for p in self.params],
        }

    def __str__(self) -> str:
        lines = [
            f"Importance of parameters for {self.metric} over {self.runs} runs of "
            f"{', '.join(self.experiments)}"
        ]
        if not self.params:
            lines.append("  No parameter varies across these runs.")
        width = max((len(p.key) for p in self.params), default=3)
        if self.params:
            lines.append(f"  {'param':<{width}}  {'forest':>6}  {'spearman':>8}  runs")
        for p in self.params:
            rf = f"{p.rf_importance:.3f}" if p.rf_importance is not None else "-"
            rho = f"{p.spearman:+.3f}" if p.spearman is not None else "-"
            lines.append(f"  {p.key:<{width}}  {rf:>6}  {rho:>8}  {p.runs}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    __repr__ = __str__


def importance(
    store: Any,
    experiments: str | Sequence[str] | None,
    metric: str,
    *,
    runs: Sequence[str] | None = None,
) -> Importance:
    """Per parameter: Spearman correlation with ``metric`` and random-forest importance
    over the finished runs of ``experiments``, or over the given ``runs`` (ids; the runs a
    comparison holds) when named (see the module docstring)."""
    if not isinstance(metric, str) or not metric.strip():
        raise UnknownMetric("name the metric to rank parameters by (for example 'accuracy')")
    metric = metric.strip()
    if runs is not None:
        facts = load_facts(store, list(runs), code=False)
        names = sorted({f.run.experiment for f in facts})
    else:
        names = [experiments] if isinstance(experiments, str) else list(experiments or ())
        names = sorted(dict.fromkeys(str(n) for n in names))
        if not names:
            raise CompareError("name at least one experiment, or the runs")
        facts = load_experiment_facts(store, names)
    if not facts:
        raise CompareError(f"no runs in experiment(s) {', '.join(map(repr, names))}")
    used = [
        f
        for f in facts
        if f.run.status == RunStatus.FINISHED and math.isfinite(f.metrics.get(metric, math.nan))
    ]
    if not used:
        known = sorted({k for f in facts for k in f.metrics})
        hint = f"metrics logged there: {', '.join(known)}" if known else "no run logged a metric"
        raise UnknownMetric(f"no finished run of {', '.join(names)} has {metric!r}; {hint}")
    used.sort(key=lambda f: (f.run.experiment, f.run.number, f.id))
    y = np.array([f.metrics[metric] for f in used], dtype=float)
    columns: dict[str, list[Hashable]] = {}
    n = len(used)
    for i, f in enumerate(used):
        for k, v in f.params.items():
            col = columns.get(k)
            if col is None:
                col = columns[k] = [MISSING] * n
            col[i] = hashable(v)
    varying = {k: col for k, col in columns.items() if varies(col)}
    forest = ev.forest_class()
    rf: dict[str, float] = {}
    notes = []
    if forest is None:
        notes.append("scikit-learn is not installed: no random-forest importance")
    elif n >= 5 and varying:
        rf = ev.forest_importances(forest, y - float(np.median(y)), varying)
    elif varying:
        notes.append(f"only {n} runs: too few for a random forest")
    rows = []
    for k, col in varying.items():
        rho = None
        if ev.numeric_column(col):
            x = np.array([np.nan if v is MISSING else float(v) for v in col], dtype=float)
            rho = ev.spearman(x, y)
        rows.append(
            ParamImportance(
                key=k,
                spearman=_num(rho),
                rf_importance=_num(rf.get(k)),
                runs=sum(v is not MISSING for v in col),
            )
        )
    if rf:
        rows.sort(key=lambda p: (-(p.rf_importance or 0.0), p.key))
    else:
        rows.sort(key=lambda p: (-abs(p.spearman or 0.0), p.key))
    return Importance(
        experiments=names,
        metric=metric,
        runs=n,
        sklearn=forest is not None,
        params=rows,
        notes=notes,
    )
