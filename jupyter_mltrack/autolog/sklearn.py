"""scikit-learn: parameters and training time of fits, search results, scores and metrics.

Patched for a session only: ``fit``, ``fit_predict``, ``fit_transform``, ``partial_fit`` and
``score`` of the estimator classes defined so far (and of those defined while it is open,
through ``BaseEstimator.__init_subclass__``), the score/loss/error functions of
``sklearn.metrics`` and ``cross_val_score``/``cross_validate``. Only the outermost call is
recorded: a Pipeline's or a GridSearchCV's inner fits, the ``fit`` a ``fit_transform`` makes,
the KMeans a ``GaussianMixture.fit_predict`` starts from, and the metric a ``score``
computes, belong to the call that made them; so does whatever scikit-learn itself calls from
a function that is not patched (the LabelEncoder ``classification_report`` fits, the folds of
``cross_val_predict``): see ``_session.internal``.

``fit_predict``/``fit_transform`` are recorded as fits (params and ``fit_time``, which then
includes the predict/transform). ``partial_fit`` records the estimator's params, once per
estimator in a loop of batches, and no ``fit_time`` (one batch is not a training time).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from . import _session
from ._session import Session

#: Methods recorded as a fit (params and duration).
_FITS = ("fit", "fit_predict", "fit_transform")
#: ``sklearn.metrics`` functions that return one number, besides the ``*_score``,
#: ``*_loss`` and ``*_error`` ones.
_OTHER_METRICS = frozenset({"auc", "matthews_corrcoef"})
_METRIC_SUFFIXES = ("_score", "_loss", "_error")
_SEARCH_SERIES = ("mean_test_", "std_test_")
_first_parameter: dict[int, str | None] = {}
#: Per module (and size of its namespace), the classes it defines; per ``sklearn.metrics``,
#: the names of its one-number functions: what every session looks through, found once.
_defined: dict[tuple[Any, int], list[type]] = {}
_metric_names: dict[Any, list[str]] = {}


def install_base(session: Session, module: Any) -> None:
    """``fit``/``fit_predict``/``fit_transform``/``partial_fit``/``score`` of every estimator
    class, now and defined later in the session."""
    for name in _FITS:
        session.method_handlers.setdefault(name, _fit)
    session.method_handlers.setdefault("partial_fit", _partial_fit)
    session.method_handlers.setdefault("score", _score)
    # the mixins (ClassifierMixin.score, ClusterMixin.fit_predict, …) are not
    # BaseEstimator subclasses
    for value in _classes_of(module):
        session.patch_class(value)
    _pass_through(module)
    base = module.BaseEstimator
    session.patch_subclasses(base)
    _hook_new_subclasses(session, base)


def _pass_through(module: Any) -> None:
    """The decorators that wrap a method of a class after the class is made: a class defined
    during the session has them outside the session's wrapper (``fit_transform``), so their
    frame, not the user's, calls it; ``_session.internal`` looks through them."""
    if _session.PASS_THROUGH:
        return
    set_output = sys.modules.get("sklearn.utils._set_output")
    for make in (
        lambda: set_output._wrap_method_output(_passed, "transform"),
        lambda: module._fit_context(prefer_skip_nested_validation=True)(_passed),
    ):
        try:
            _session.PASS_THROUGH.add(make().__code__)
        except Exception:  # another scikit-learn version: that decorator is not there
            continue


def _passed(self: Any, X: Any = None) -> Any:
    return X


def _hook_new_subclasses(session: Session, base: type) -> None:
    """Classes defined while the session is open (in the cell, or by a module it imports)
    are patched as they are created."""
    own = base.__dict__.get("__init_subclass__")

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        current = _session.current()
        if current is not None:
            current.guard(current.patch_class, cls)

    session.set_attr(base, "__init_subclass__", classmethod(__init_subclass__))


def _classes_of(module: Any) -> list[type]:
    """The classes ``module`` defines (looked up once per module and size of its namespace:
    every session patches the mixins among them)."""
    key = (module, len(vars(module)))
    found = _defined.get(key)
    if found is None:
        found = _defined[key] = [
            value
            for value in list(vars(module).values())
            if isinstance(value, type) and value.__module__ == module.__name__
        ]
    return found


def install_metrics(session: Session, module: Any) -> None:
    names = _metric_names.get(module)
    if names is None:
        names = _metric_names[module] = [
            name
            for name in getattr(module, "__all__", ())
            if name.endswith(_METRIC_SUFFIXES) or name in _OTHER_METRICS
        ]
    for name in names:
        session.wrap_function(module, name, _metric)


def install_model_selection(session: Session, module: Any) -> None:
    for name in ("cross_val_score", "cross_validate"):
        session.wrap_function(module, name, _cross_validation)


# handlers -----------------------------------------------------------------------------------


def _method(after: Callable[..., None]) -> Callable[..., Any]:
    """A method handler: the call, as an autologged call, then ``after(session, est, args,
    kwargs, frame, result, seconds)`` records it — never raising into the cell."""

    def handler(
        session: Session, original: Callable[..., Any], est: Any, args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        result, seconds = session.call(original, est, *args, **kwargs)
        session.guard(after, session, est, args, kwargs, frame, result, seconds)
        return result

    return handler


def _function(after: Callable[..., None]) -> Callable[..., Any]:
    """A module-level function's handler: as :func:`_method`, ``after(session, original,
    args, kwargs, frame, result)``."""

    def handler(
        session: Session, original: Callable[..., Any], args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        result, _seconds = session.call(original, *args, **kwargs)
        session.guard(after, session, original, args, kwargs, frame, result)
        return result

    return handler


def _after_fit(
    session: Session, est: Any, args: Any, kwargs: Any, frame: Any, result: Any, seconds: float
) -> None:
    session.partial_fitted = None
    owner = type(est).__name__
    session.record_fit(owner, est.get_params(deep=True), seconds)
    search = sys.modules.get("sklearn.model_selection._search")
    if search is not None and isinstance(est, search.BaseSearchCV):
        _search_results(session, owner, est)
    for hook in session.after_fit:
        session.guard(hook, session, est)


def _after_partial_fit(
    session: Session, est: Any, args: Any, kwargs: Any, frame: Any, result: Any, seconds: float
) -> None:
    if session.partial_fitted is not est:
        session.partial_fitted = est
        session.record_fit(type(est).__name__, est.get_params(), None)


def _search_results(session: Session, owner: str, est: Any) -> None:
    """Best params and score, and each candidate's mean/std test score (step = candidate)."""
    best = getattr(est, "best_params_", None)
    if isinstance(best, dict):
        session.extra_params.extend((owner, f"best_{key}", value) for key, value in best.items())
    session.metric("best_score", getattr(est, "best_score_", None))
    results = getattr(est, "cv_results_", None)
    if not isinstance(results, dict):
        return
    for key, values in results.items():
        if key.startswith(_SEARCH_SERIES):
            for step, value in enumerate(values):
                session.metric(key, value, step)


def _after_score(
    session: Session, est: Any, args: Any, kwargs: Any, frame: Any, result: Any, seconds: float
) -> None:
    if _session.number(result) is None:
        return
    data = args[0] if args else kwargs.get("X")
    name = session.name_of(data, frame)
    session.metric(f"score_{name}" if name else "score", result)


def _after_metric(
    session: Session, original: Any, args: Any, kwargs: Any, frame: Any, result: Any
) -> None:
    if _session.number(result) is None:
        return  # per-class arrays (average=None) are not one metric
    if args:
        data = args[0]
    else:
        first = _first_parameter_of(original)
        data = kwargs.get(first) if first else None
    function = original.__name__
    session.metric(session.metric_key(function, session.name_of(data, frame)), result)


_fit = _method(_after_fit)
_partial_fit = _method(_after_partial_fit)
_score = _method(_after_score)
_metric = _function(_after_metric)


def _first_parameter_of(function: Any) -> str | None:
    key = id(function)
    if key not in _first_parameter:
        import inspect

        try:
            names = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            names = []
        _first_parameter[key] = names[0] if names else None
    return _first_parameter[key]


def _after_cross_validation(
    session: Session, original: Any, args: Any, kwargs: Any, frame: Any, result: Any
) -> None:
    function = original.__name__
    if isinstance(result, dict):  # cross_validate: test_<scorer>, train_<scorer> arrays
        for key, values in result.items():
            if key.startswith(("test_", "train_")):
                _mean_std(session, f"{function}_{key}", values)
    else:
        _mean_std(session, function, result)


_cross_validation = _function(_after_cross_validation)


def _mean_std(session: Session, prefix: str, values: Any) -> None:
    figures = [_session.number(v) for v in values]
    if not figures or any(f is None for f in figures):
        return
    mean = math.fsum(figures) / len(figures)  # type: ignore[arg-type]
    std = math.sqrt(math.fsum((f - mean) ** 2 for f in figures) / len(figures))  # type: ignore[operator]
    session.metric(f"{prefix}_mean", mean)
    session.metric(f"{prefix}_std", std)
