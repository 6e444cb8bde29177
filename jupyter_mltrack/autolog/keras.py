"""Keras 3: what ``model.fit`` and ``model.evaluate`` record.

Both are patched on ``keras.Model`` itself (each backend's trainer defines them on a base
class of it, so ``Sequential``, functional models and the user's subclasses all inherit the
patch). An outermost ``fit`` records:

- params (through :meth:`Session.record_fit`, owned by the model's class, so they are named
  like scikit-learn's): ``fit``'s own settings (``epochs``, ``batch_size``,
  ``validation_split``, ``shuffle``, …), ``model`` (the class name) and ``num_params``
  (``count_params()``), ``loss`` (its name, or names for several outputs), ``optimizer`` (its
  class name) and its configuration flattened like a nested estimator's
  (``optimizer__learning_rate``, ``optimizer__beta_1``);
- ``fit_time``, and one point per epoch of every number Keras logs at the end of an epoch
  (``loss``, ``accuracy``, ``val_loss``, …; step = epoch), by a callback added to a new list
  of callbacks: the user's list is not changed, and the curves are written as training goes,
  so an interrupted training keeps the epochs it finished (and its params; not its time; a
  ``fit`` that fails before training, for want of ``compile()``, records nothing);
- ``stopped_epoch`` and ``best_epoch`` when an ``EarlyStopping`` callback was given.

An outermost ``evaluate`` records its results named after the data it was given, as
scikit-learn's ``score`` is: ``loss_x_test``, ``accuracy_x_test`` (``eval_loss`` when the data
is not a variable); the same data again adds a step. The validation ``fit`` runs is part of
``fit`` and is not recorded as an evaluation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import _session
from ._session import Session

#: ``fit`` arguments that are settings rather than data, callbacks or verbosity.
_FIT_SETTINGS = (
    "epochs",
    "batch_size",
    "validation_split",
    "shuffle",
    "class_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
)
Handler = Callable[..., Any]
#: Per ``keras.callbacks`` module, the handlers of ``fit`` and ``evaluate``: made once, so
#: every session reuses the wrappers the first one built (see ``_session._made``).
_handlers: dict[Any, tuple[Handler, Handler]] = {}


def install(session: Session, module: Any) -> None:
    """Patch ``fit`` and ``evaluate`` on ``keras.Model`` (``module`` is ``keras``)."""
    model = getattr(module, "Model", None)
    if not isinstance(model, type):
        return
    callbacks = module.callbacks
    handlers = _handlers.get(callbacks)
    if handlers is None:
        handlers = _handlers[callbacks] = (_fitter(callbacks), _evaluator(callbacks))
    for name, handler in zip(("fit", "evaluate"), handlers, strict=True):
        original = getattr(model, name, None)
        if callable(original):
            session.set_attr(model, name, _session.method_wrapper(original, handler))


def _bind(original: Handler, model: Any, args: Any, kwargs: Any) -> Any:
    """``original``'s arguments by name, or ``None`` when they do not fit its signature (Keras
    then raises the user's mistake itself)."""
    try:
        return inspect.signature(original).bind(model, *args, **kwargs)
    except (TypeError, ValueError):
        return None


def _with_callback(callbacks: Any, given: Any, extra: Any) -> list[Any] | None:
    """A new list: the callbacks the user gave, then ``extra``; ``None`` when they came as a
    ``CallbackList``, which Keras uses as it is (adding to it would change the user's object)."""
    if isinstance(given, callbacks.CallbackList):
        return None
    if given is None:
        return [extra]
    if isinstance(given, list | tuple):
        return [*given, extra]
    return [given, extra]  # Keras accepts one callback on its own too


def _add_callback(session: Session, callbacks: Any, bound: Any, extra: Any) -> None:
    """Have the call made with ``extra`` added to its callbacks (never raising)."""
    extended = session.guard(_with_callback, callbacks, bound.arguments.get("callbacks"), extra)
    if extended is not None:
        bound.arguments["callbacks"] = extended


# fit ----------------------------------------------------------------------------------------


def _fitter(callbacks: Any) -> Handler:
    """The handler of an outermost ``fit``, for the Keras whose ``callbacks`` module this is
    (this package never imports Keras: it is given the module the user imported)."""

    class EpochRecorder(callbacks.Callback):
        """Logs every number Keras reports at the end of an epoch, step = epoch."""

        def __init__(self, session: Session) -> None:
            super().__init__()
            self._session = session
            #: Whether training began (a fit that failed before has nothing to record).
            self.began = False

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.began = True

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for key, value in (logs or {}).items():
                self._session.guard(self._session.metric, key, value, epoch)

    def fit(
        session: Session, original: Handler, model: Any, args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        bound = _bind(original, model, args, kwargs)
        if bound is None:
            return session.call(original, model, *args, **kwargs)[0]
        given = bound.arguments.get("callbacks")
        recorder = EpochRecorder(session)
        _add_callback(session, callbacks, bound, recorder)
        seconds = None
        try:
            history, seconds = session.call(original, *bound.args, **bound.kwargs)
        finally:
            if seconds is not None or recorder.began:
                session.guard(_after_fit, session, callbacks, model, bound, given, seconds)
        return history

    return fit


def _after_fit(
    session: Session,
    callbacks: Any,
    model: Any,
    bound: inspect.BoundArguments,
    given: Any,
    seconds: float | None,
) -> None:
    """Params (also when the training began but failed or was interrupted: its epochs are
    recorded already) and, when it completed, the training time and what the user's early
    stopping did."""
    session.record_fit(type(model).__name__, _fit_params(model, bound), seconds)
    if seconds is not None:
        _early_stopping(session, callbacks, given)


def _fit_params(model: Any, bound: inspect.BoundArguments) -> dict[str, Any]:
    settings = {
        name: parameter.default
        for name, parameter in bound.signature.parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    settings.update(bound.arguments)
    params = {name: settings[name] for name in _FIT_SETTINGS if name in settings}
    params["model"] = type(model).__name__
    if getattr(model, "built", False):
        params["num_params"] = model.count_params()
    loss = _loss_name(getattr(model, "loss", None))
    if loss is not None:
        params["loss"] = loss
    params.update(_optimizer_params(getattr(model, "optimizer", None)))
    return params


def _loss_name(loss: Any) -> Any:
    """What the model was compiled with: ``"binary_crossentropy"`` for the string, a loss
    object or a loss function alike; a list or dict of them for several outputs."""
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, list | tuple):
        return [_loss_name(item) for item in loss]
    if isinstance(loss, dict):
        return {str(key): _loss_name(item) for key, item in loss.items()}
    name = getattr(loss, "name", None)  # a keras.losses.Loss
    if isinstance(name, str):
        return name
    return getattr(loss, "__name__", None) or type(loss).__name__


def _optimizer_params(optimizer: Any) -> dict[str, Any]:
    """``optimizer`` (its class) and its configuration as ``optimizer__<key>``."""
    if optimizer is None:
        return {}
    params: dict[str, Any] = {"optimizer": type(optimizer).__name__}
    try:
        config = optimizer.get_config()
    except Exception:  # a user's optimizer without a config: its class says enough
        return params
    for key, value in config.items():
        if key != "name":  # "adam": the class again
            params[f"optimizer__{key}"] = _learning_rate(value) if key == "learning_rate" else value
    return params


def _learning_rate(value: Any) -> Any:
    """The rate as the user wrote it: Keras keeps it in a float32 variable, so ``0.01`` comes
    back as ``0.009999999776482582``; a schedule reads ``ExponentialDecay(initial_learning_rate=
    0.1, decay_steps=10, …)`` rather than as its serialized dict."""
    if isinstance(value, float):
        import numpy  # a dependency of Keras's: loaded already

        return float(str(numpy.float32(value)))  # the shortest decimal of that float32
    if isinstance(value, dict) and isinstance(value.get("class_name"), str):
        config = value.get("config")
        settings = config.items() if isinstance(config, dict) else ()
        args = ", ".join(f"{key}={item!r}" for key, item in settings if key != "name")
        return f"{value['class_name']}({args})"
    return value


def _early_stopping(session: Session, callbacks: Any, given: Any) -> None:
    """``stopped_epoch`` when an ``EarlyStopping`` stopped the training, and the ``best_epoch``
    it saw (whose weights it restores with ``restore_best_weights``)."""
    if given is None or isinstance(given, callbacks.CallbackList):
        return
    listed = given if isinstance(given, list | tuple) else [given]
    stoppers = [c for c in listed if isinstance(c, callbacks.EarlyStopping)]
    if not stoppers:
        return
    stopper = next((c for c in stoppers if c.stopped_epoch > 0), stoppers[0])
    if stopper.stopped_epoch > 0:
        session.metric("stopped_epoch", stopper.stopped_epoch)
    if getattr(stopper, "best", None) is not None:  # it saw the metric it monitors
        session.metric("best_epoch", getattr(stopper, "best_epoch", None))


# evaluate -----------------------------------------------------------------------------------


def _evaluator(callbacks: Any) -> Handler:
    """The handler of an outermost ``evaluate`` (see :func:`_fitter`)."""

    class ResultsRecorder(callbacks.Callback):
        """Keeps the named results Keras hands its callbacks at the end of ``evaluate``:
        ``evaluate`` itself returns a bare list unless ``return_dict=True``, and the model's
        ``metrics_names`` do not name that list's entries (``compile_metrics``)."""

        def __init__(self) -> None:
            super().__init__()
            self.results: dict[str, Any] = {}

        def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
            self.results = dict(logs or {})

    def evaluate(
        session: Session, original: Handler, model: Any, args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        bound = _bind(original, model, args, kwargs)
        if bound is None:
            return session.call(original, model, *args, **kwargs)[0]
        recorder = ResultsRecorder()
        _add_callback(session, callbacks, bound, recorder)
        result = session.call(original, *bound.args, **bound.kwargs)[0]
        results = result if isinstance(result, dict) else recorder.results
        session.guard(_record_results, session, results, bound.arguments.get("x"), frame)
        return result

    return evaluate


def _record_results(session: Session, results: dict[str, Any], x: Any, frame: Any) -> None:
    data = session.name_of(x, frame)
    for name, value in results.items():
        session.metric(f"{name}_{data}" if data else f"eval_{name}", value)
