"""LightGBM: ``lightgbm.train`` (params, per-iteration evaluation curves of ``valid_sets``,
best iteration) and, after an ``LGBMClassifier``/``LGBMRegressor``/``LGBMRanker`` fit
(recorded by the scikit-learn integration), the curves of its ``eval_set``.

Curve names follow XGBoost's: ``<valid name>-<metric>`` (``valid_0-l2``), one step per
boosting round.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from . import _boosting
from ._session import Session

if TYPE_CHECKING:
    import inspect


def install(session: Session, module: Any) -> None:
    _boosting.install(session, module, _train, _after_fit)


def _history(bound: inspect.BoundArguments, signature: inspect.Signature) -> dict[str, Any]:
    """LightGBM fills a history only through its ``record_evaluation`` callback: added to
    the call when it evaluates ``valid_sets``."""
    history: dict[str, Any] = {}
    record = getattr(sys.modules.get("lightgbm"), "record_evaluation", None)
    if bound.arguments.get("valid_sets") and record is not None:
        # a new list: the user's own callbacks list is left as it was
        bound.arguments["callbacks"] = [*(bound.arguments.get("callbacks") or []), record(history)]
    return history


def _best(model: Any, attribute: str) -> int | None:
    """The best iteration early stopping found (``0`` or missing: it did not run)."""
    best = getattr(model, attribute, 0)
    return best if isinstance(best, int) and best > 0 else None


_train = _boosting.trainer("lightgbm", _history, lambda booster: _best(booster, "best_iteration"))


def _after_fit(session: Session, est: Any) -> None:
    module = sys.modules.get("lightgbm.sklearn")
    if module is None or not isinstance(est, module.LGBMModel):
        return
    _boosting.curves(session, getattr(est, "evals_result_", None), _best(est, "best_iteration_"))
