"""How a metric's series becomes the one number a comparison shows.

Specs are short strings, the same in the REST API, the CLI and the notebook:

* ``last`` (the default): the latest logged value;
* ``min`` / ``max``: the smallest / largest value (NaN ignored);
* ``best``: ``min`` or ``max`` by the metric's goal (see :mod:`.goals`);
* ``step=N``: the value at the last point logged at a step ``<= N`` (what the run had
  reached by step N; nothing if it logged no point that early). A run that stopped before
  N keeps its last value, and the reduction's step says so: ``step=100`` on a 30-step
  series gives the value at step 29, shown as ``@29`` by the tables;
* ``mean=K``: the mean of the last ``K`` points (NaN ignored), which steadies a noisy metric.

Each reduction also says at which step its value was logged, so a table can show "0.91 at
step 9". ``last`` needs no series (the store keeps the latest value); the others read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from .errors import CompareError

if TYPE_CHECKING:
    from .series import SeriesArrays

Kind = Literal["last", "min", "max", "best", "step", "mean"]
_PLAIN = ("last", "min", "max", "best")
_HELP = "use last, min, max, best, step=N (N >= 0) or mean=K (K >= 1)"


@dataclass(frozen=True)
class Reducer:
    """A parsed reducer spec; ``str(reducer)`` gives the spec back."""

    kind: Kind = "last"
    #: ``N`` of ``step=N``, ``K`` of ``mean=K``.
    arg: int | None = None

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind}={self.arg}"

    @property
    def spec(self) -> str:
        return str(self)

    @property
    def needs_series(self) -> bool:
        """Whether the latest value alone cannot answer (every reducer but ``last``)."""
        return self.kind != "last"

    def reduce(
        self, series: SeriesArrays | None, goal: Literal["min", "max"] = "max"
    ) -> tuple[float | None, int | None]:
        """``(value, step)`` of the point this reducer picks, ``(None, None)`` if none.

        NaN is a value like any other for ``last`` and ``step=N`` (a diverged run shows as
        NaN), and ignored by ``min``, ``max``, ``best`` and ``mean`` unless every point is
        NaN.
        """
        if series is None or series.steps.size == 0:
            return None, None
        steps, values = series.steps, series.values
        kind = self.kind
        if kind == "best":
            kind = "min" if goal == "min" else "max"
        if kind == "last":
            return float(values[-1]), int(steps[-1])
        if kind == "step":
            # steps are sorted: the last point at or before N
            i = int(np.searchsorted(steps, self.arg, side="right")) - 1
            if i < 0:
                return None, None
            return float(values[i]), int(steps[i])
        if kind == "mean":
            tail = values[-(self.arg or 1) :]
            finite = tail[~np.isnan(tail)]
            value = float(finite.mean()) if finite.size else math.nan
            return value, int(steps[-1])
        nan = np.isnan(values)
        if nan.all():
            return math.nan, int(steps[-1])
        if nan.any():
            filled = np.where(nan, np.inf if kind == "min" else -np.inf, values)
        else:
            filled = values
        i = int(filled.argmin() if kind == "min" else filled.argmax())
        return float(values[i]), int(steps[i])


LAST = Reducer("last")


def parse_reducer(spec: str | Reducer) -> Reducer:
    """A :class:`Reducer` from its spec (``"last"``, ``"step=100"``, ``"mean=5"``…);
    :class:`CompareError` saying what is accepted otherwise."""
    if isinstance(spec, Reducer):
        return spec
    text = str(spec).strip().lower()
    if text in _PLAIN:
        return Reducer(text)  # type: ignore[arg-type]
    name, eq, arg = text.partition("=")
    name, arg = name.strip(), arg.strip()
    if eq and name in ("step", "mean"):
        try:
            number = int(arg)
        except ValueError:
            number = -1
        if number >= (0 if name == "step" else 1):
            return Reducer(name, number)  # type: ignore[arg-type]
    raise CompareError(f"unknown reducer {spec!r}: {_HELP}")


def parse_reducer_arg(arg: str) -> tuple[str, Reducer]:
    """``"KEY:SPEC"`` (a query parameter or a CLI option) as ``(key, reducer)``. Split at the
    last ``:`` so that metric names holding one (``val:acc:max``) work."""
    key, sep, spec = str(arg).rpartition(":")
    if not sep or not key.strip():
        raise CompareError(
            f"reducer {arg!r} should be KEY:REDUCER (e.g. loss:min, acc:step=100); {_HELP}"
        )
    return key.strip(), parse_reducer(spec)
