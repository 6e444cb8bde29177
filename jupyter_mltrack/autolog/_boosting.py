"""What the XGBoost and LightGBM integrations record alike: after ``train``, the params and
training time, and after ``train`` or a scikit-learn-style ``fit``, the booster's evaluation
curves and best iteration. One place, so both libraries name and step their curves the same:
``<data name>-<metric>`` (``valid-logloss``, ``valid_0-l2``), one step per boosting round.
Each library's module says only what differs: where ``train`` leaves the evaluation history,
how its best iteration reads, which estimators are its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._session import Session

if TYPE_CHECKING:
    import inspect

    #: Given ``train``'s bound arguments (which it may change, to have the history filled)
    #: and signature: the ``{data name: {metric: [value per round]}}`` the call will fill.
    History = Callable[[inspect.BoundArguments, inspect.Signature], Any]


def install(
    session: Session,
    module: Any,
    train: Callable[..., Any],
    after_fit: Callable[[Session, Any], None],
) -> None:
    """Route the library's ``train`` through ``train`` (made by :func:`trainer`), and run
    ``after_fit`` after each scikit-learn-style fit (its estimators' curves)."""
    session.wrap_function(module, "train", train)
    if after_fit not in session.after_fit:
        session.after_fit.append(after_fit)


def curves(session: Session, history: Any, best: Any = None) -> None:
    """``{data name: {metric: [value per iteration]}}`` as metric series, then the best
    iteration (``None``: no early stopping set one)."""
    if isinstance(history, dict):
        for data, metrics in history.items():
            if not isinstance(metrics, dict):
                continue
            for metric, values in metrics.items():
                for step, value in enumerate(values):
                    session.metric(f"{data}-{metric}", value, step)
    if best is not None:
        session.metric("best_iteration", best)


def trainer(library: str, history: History, best_of: Callable[[Any], Any]) -> Callable[..., Any]:
    """The handler of ``<library>.train``: it runs the call with the evaluation history
    ``history`` arranges, then records the params, training time and curves;
    ``best_of(booster)`` is the best iteration. What fails in recording is reported by the
    session, never raised into the cell."""

    def train(
        session: Session, original: Callable[..., Any], args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        import inspect

        try:
            signature = inspect.signature(original)
            bound = signature.bind(*args, **kwargs)
        except (TypeError, ValueError):  # the library raises the user's mistake itself
            return session.call(original, *args, **kwargs)[0]
        filled = history(bound, signature)
        booster, seconds = session.call(original, *bound.args, **bound.kwargs)
        params = bound.arguments.get("params")

        def record() -> None:
            session.record_fit(library, dict(params or {}), seconds)
            curves(session, filled, best_of(booster))

        session.guard(record)
        return booster

    return train
