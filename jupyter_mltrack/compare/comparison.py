"""``compare(store, runs)``: what differs between 2 to 100 runs, and what it did to the
metrics, as plain data (the REST API, the notebook widget and the CLI serialise the same
:meth:`Comparison.to_dict`).

The baseline (the first run unless named) is the reference every change is measured
against; the other runs follow in the order given. Runs may come from several experiments:
they are then labelled ``exp #3`` rather than ``#3``. See ``CONTRACT.md``'s JSON for the
shape; each section is built by its own module (:mod:`.params`, :mod:`.metrics`,
:mod:`.environment`, :mod:`.code`, :mod:`.data`, :mod:`.outputs`, :mod:`.artifacts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from .artifacts import artifacts_section
from .code import code_section
from .data import data_section
from .environment import environment_section
from .errors import MAX_RUNS, CompareError
from .facts import RunFacts, load_facts, resolve_runs
from .metrics import metric_rows
from .outputs import outputs_section
from .params import attribute_rows, param_rows
from .reducers import Reducer, parse_reducer
from .used import used_section


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`; every list has one entry per run, baseline first."""

    baseline_id: str
    #: The compared runs' facts, baseline first.
    runs: tuple[RunFacts, ...]
    labels: tuple[str, ...]
    params: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)
    data: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    #: Artifacts of other runs the runs loaded (``compare.used``).
    used: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return [f.id for f in self.runs]

    def metric(self, key: str) -> dict[str, Any]:
        """The row of one metric (``KeyError`` if no run logged it)."""
        for row in self.metrics:
            if row["key"] == key:
                return row
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline_id,
            "runs": [
                {
                    "id": f.run.id,
                    "number": f.run.number,
                    "name": f.run.name,
                    "experiment": f.run.experiment,
                    "status": f.run.status.value,
                    "label": label,
                }
                for f, label in zip(self.runs, self.labels, strict=True)
            ],
            "params": self.params,
            "metrics": self.metrics,
            "attributes": self.attributes,
            "environment": self.environment,
            "code": self.code,
            "data": self.data,
            "outputs": self.outputs,
            "artifacts": self.artifacts,
            "used": self.used,
        }

    def __repr__(self) -> str:
        differing = sum(1 for row in self.params if row["differs"])
        return (
            f"<Comparison of {', '.join(self.labels)} (baseline {self.labels[0]}): "
            f"{differing} of {len(self.params)} params differ, {len(self.metrics)} metrics>"
        )


def run_labels(facts: Sequence[RunFacts]) -> list[str]:
    """``#3``, or ``exp #3`` when the runs span several experiments."""
    several = len({f.run.experiment_id for f in facts}) > 1
    return [f"{f.run.experiment} #{f.run.number}" if several else f"#{f.run.number}" for f in facts]


def compare(
    store: Store,
    runs: Sequence[str],
    baseline: str | None = None,
    *,
    reducers: Mapping[str, str | Reducer] | None = None,
    step: int | None = None,
    experiment: str | None = None,
) -> Comparison:
    """Compare 2 to :data:`MAX_RUNS` runs (numbers in ``experiment``, ids or id prefixes).

    ``baseline``: the run changes are measured against (one of ``runs``; default the first).
    ``reducers``: ``metric -> spec`` (``"min"``, ``"step=100"``…; default ``last``).
    ``step``: reduce every metric that has a series to its value at that step (``step=N``),
    unless ``reducers`` says otherwise for it.
    Raises :class:`CompareError` (and its :class:`UnknownRun`, :class:`UnknownMetric`) with
    a message that says what to change.
    """
    if isinstance(runs, str):
        runs = [r for r in runs.split(",") if r.strip()]
    refs = list(runs)
    if len(refs) < 2:
        raise CompareError(f"compare needs at least 2 runs, got {len(refs)}: name another run")
    if len(refs) > MAX_RUNS:
        raise CompareError(
            f"compare takes at most {MAX_RUNS} runs, got {len(refs)}: select fewer runs"
        )
    if step is not None:
        number = _whole(step)
        if number is None:
            raise CompareError(f"step must be a whole number >= 0, not {step!r}")
        step = number
    parsed = {str(k): parse_reducer(v) for k, v in (reducers or {}).items()}
    ids = list(dict.fromkeys(resolve_runs(store, refs, experiment)))
    if len(ids) < 2:
        raise CompareError("compare needs 2 different runs: the references name the same run")
    if baseline is not None:
        (base_id,) = resolve_runs(store, [baseline], experiment)
        if base_id not in ids:
            raise CompareError(
                f"baseline {baseline!r} is not one of the compared runs: pick one of them"
            )
        ids.remove(base_id)
        ids.insert(0, base_id)
    facts = load_facts(store, ids, series=False, code=True)
    # the baseline's experiment decides a goal set differently in two experiments
    experiments = list(dict.fromkeys(f.run.experiment_id for f in facts))
    by_experiment = store.metric_goals(experiments)
    goals: dict[str, str] = {}
    for exp_id in experiments:
        for key, goal in by_experiment.get(exp_id, {}).items():
            goals.setdefault(key, goal)
    outputs = store.runs_outputs(ids)
    return Comparison(
        baseline_id=ids[0],
        runs=tuple(facts),
        labels=tuple(run_labels(facts)),
        params=param_rows(facts),
        metrics=metric_rows(store, facts, reducers=parsed, step=step, goals=goals),
        attributes=attribute_rows(facts),
        environment=environment_section(facts),
        code=code_section(facts),
        data=data_section(facts),
        outputs=outputs_section([outputs.get(i, []) for i in ids]),
        artifacts=artifacts_section(store, ids),
        used=used_section(facts),
    )


def _whole(value: Any) -> int | None:
    """``value`` as an int >= 0 (``5``, ``5.0``, ``"5"``), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, int | float) and float(value).is_integer() and value >= 0:
        return int(value)
    return None
