"""Comparing runs: what differs between them, what it did to the metrics, and why.

Pure logic over the store (no tornado, no widgets); the REST API, the notebook widget and
the CLI all serialise the same objects. Names are loaded on first use so that importing
the package (which ``import jupyter_mltrack`` may do) costs nothing, and plotly is only
imported by ``compare.charts``.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from .errors import MAX_RUNS, CompareError, UnknownMetric, UnknownRun

if TYPE_CHECKING:
    from .comparison import Comparison, compare
    from .explain import Explanation, explain
    from .facts import RunFacts, flatten, load_experiment_facts, load_facts
    from .goals import metric_goal
    from .importance import Importance, importance
    from .reducers import Reducer, parse_reducer, parse_reducer_arg

#: Public name -> the module defining it (imported when the name is first used).
_LAZY = {
    "compare": "comparison",
    "Comparison": "comparison",
    "explain": "explain",
    "Explanation": "explain",
    "importance": "importance",
    "Importance": "importance",
    "parse_reducer": "reducers",
    "parse_reducer_arg": "reducers",
    "Reducer": "reducers",
    "metric_goal": "goals",
    "RunFacts": "facts",
    "flatten": "facts",
    "load_facts": "facts",
    "load_experiment_facts": "facts",
}

__all__ = [
    "MAX_RUNS",
    "CompareError",
    "Comparison",
    "Explanation",
    "Importance",
    "Reducer",
    "RunFacts",
    "UnknownMetric",
    "UnknownRun",
    "compare",
    "explain",
    "flatten",
    "importance",
    "load_experiment_facts",
    "load_facts",
    "metric_goal",
    "parse_reducer",
    "parse_reducer_arg",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``explain`` and ``importance`` are both functions of this package and modules in it.
    Importing such a module sets the package's attribute of that name to the module, which
    would hide the function: this package keeps the function instead (the module is still
    ``sys.modules["jupyter_mltrack.compare.explain"]``, which ``from … import`` uses)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
