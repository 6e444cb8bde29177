"""XGBoost: ``xgboost.train`` (params, per-iteration evaluation curves, best iteration) and,
after an ``XGBClassifier``/``XGBRegressor`` fit (recorded by the scikit-learn integration),
the curves of its ``eval_set``.

Curve names are XGBoost's own: ``<eval name>-<metric>`` (``valid-logloss``,
``validation_0-rmse``), one step per boosting round.
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


def _history(bound: inspect.BoundArguments, signature: inspect.Signature) -> Any:
    """XGBoost fills the ``evals_result`` dict it is given: one is passed when the call
    evaluates ``evals`` and gave none (the user's own is used as it is)."""
    if (
        bound.arguments.get("evals")
        and bound.arguments.get("evals_result") is None
        and "evals_result" in signature.parameters
    ):
        bound.arguments["evals_result"] = {}
    return bound.arguments.get("evals_result")


def _best(model: Any) -> Any:
    """The best iteration, set only with early stopping (else reading it raises)."""
    try:
        return model.best_iteration
    except Exception:
        return None


_train = _boosting.trainer("xgboost", _history, _best)


def _after_fit(session: Session, est: Any) -> None:
    module = sys.modules.get("xgboost.sklearn")
    if module is None or not isinstance(est, module.XGBModel):
        return
    _boosting.curves(session, getattr(est, "evals_result_", None), _best(est))
