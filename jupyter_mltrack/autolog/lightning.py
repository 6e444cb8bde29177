"""PyTorch Lightning (``lightning.pytorch`` and ``pytorch_lightning``, which are two copies
with a ``Trainer`` each): what ``trainer.fit``, ``validate`` and ``test`` record.

An outermost ``fit`` records:

- params (through :meth:`Session.record_fit`, owned by the LightningModule's class): the
  module's ``hparams`` (``save_hyperparameters()``; the datamodule's too), the trainer's
  settings (``max_epochs``, ``max_steps``, ``accumulate_grad_batches``, ``gradient_clip_val``,
  ``precision``, …), and ``optimizer`` (its class) with its first parameter group's settings
  as ``optimizer__lr``, ``optimizer__weight_decay``, … (the rate the training started with,
  before any scheduler changed it);
- ``fit_time``, and ``trainer.callback_metrics`` once per epoch (step = ``current_epoch``):
  what validation logged when it ends (the sanity check excepted), and what training logged
  once its epoch has ended, by a callback the trainer has for the duration of the call only;
- ``stopped_epoch`` when an ``EarlyStopping`` stopped the training, and the
  ``best_model_score`` of its ``ModelCheckpoint``.

``validate`` and ``test`` record the metrics they return, as Lightning names them
(``test_acc``, ``val_loss/dataloader_idx_1``); the same call again adds a step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from . import _session
from ._session import Session

#: ``Trainer`` attributes recorded as params (those a version lacks are skipped).
_TRAINER_SETTINGS = (
    "max_epochs",
    "min_epochs",
    "max_steps",
    "min_steps",
    "accumulate_grad_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
    "precision",
    "check_val_every_n_epoch",
    "val_check_interval",
    "limit_train_batches",
    "limit_val_batches",
    "num_devices",
)
#: torch optimizer settings that choose an implementation, not what is optimized.
_IMPLEMENTATION = frozenset({"params", "foreach", "capturable", "differentiable", "fused"})
Handler = Callable[..., Any]
#: Per Lightning package, the handlers of ``fit`` and of ``validate``/``test``: made once, so
#: every session reuses the wrappers the first one built (see ``_session._made``).
_handlers: dict[Any, tuple[Handler, Handler]] = {}


def install(session: Session, module: Any) -> None:
    """Patch ``fit``, ``validate`` and ``test`` on ``module.Trainer``."""
    trainer = getattr(module, "Trainer", None)
    if not isinstance(trainer, type):
        return
    handlers = _handlers.get(module)
    if handlers is None:
        handlers = _handlers[module] = (_fitter(module), _evaluate)
    fit, evaluate = handlers
    for name, handler in (("fit", fit), ("validate", evaluate), ("test", evaluate)):
        original = getattr(trainer, name, None)
        if callable(original):
            session.set_attr(trainer, name, _session.method_wrapper(original, handler))


def _number(value: Any) -> Any:
    """A one-element tensor as a Python number; anything else as it is."""
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() == 1:
        return value.item()
    return value


# fit ----------------------------------------------------------------------------------------


def _fitter(module: Any) -> Handler:
    """The handler of an outermost ``fit``, for the Lightning package ``module`` (this package
    never imports Lightning: it is given the package the user imported)."""

    class EpochRecorder(module.Callback):
        """Records ``trainer.callback_metrics`` once per epoch, telling which are fresh by
        identity: Lightning puts a new tensor in the dict for each value it computes, so a
        metric still holding the object seen before was not logged again (the last
        validation's ``val_loss`` in an epoch that did not validate) and is not recorded.
        Each hook goes through ``session.guard``: a recording failure never stops training."""

        def __init__(self, session: Session) -> None:
            super().__init__()
            self._session = session
            #: Each metric's value when the last training epoch was recorded.
            self._seen: dict[str, Any] = {}
            self._before_validation: dict[str, Any] = {}
            #: Metrics validation produced: recorded when it ends, never as training's.
            self._validation_keys: set[str] = set()
            #: The training epoch that ended and is not recorded yet.
            self._pending: int | None = None
            #: Whether training began (a fit that failed before has nothing to record).
            self.began = False

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.began = True

        def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
            self._session.guard(self._validation_starts, trainer)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            self._session.guard(self._validation_ends, trainer)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            # the callbacks run before the module's own on_train_epoch_end, which may log
            # the epoch's figures (a torchmetrics compute()): recorded once the next epoch
            # starts, or the training ends
            self._pending = trainer.current_epoch

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._session.guard(self.flush, trainer)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self._session.guard(self.flush, trainer)

        def flush(self, trainer: Any) -> None:
            """Record the training epoch that ended, if not yet done."""
            epoch, self._pending = self._pending, None
            if epoch is None or not trainer.is_global_zero:
                return
            metrics = dict(trainer.callback_metrics)
            for key, value in metrics.items():
                if key not in self._validation_keys and value is not self._seen.get(key):
                    self._record(key, value, epoch)
            self._seen = metrics

        def _recording(self, trainer: Any) -> bool:
            # one process records (the others of a distributed run see the same metrics)
            return trainer.is_global_zero and not trainer.sanity_checking

        def _validation_starts(self, trainer: Any) -> None:
            if self._recording(trainer):
                self._before_validation = dict(trainer.callback_metrics)

        def _validation_ends(self, trainer: Any) -> None:
            if not self._recording(trainer):
                return
            for key, value in trainer.callback_metrics.items():
                if value is not self._before_validation.get(key):
                    self._validation_keys.add(key)
                    self._record(key, value, trainer.current_epoch)

        def _record(self, key: str, value: Any, step: int) -> None:
            self._session.guard(self._session.metric, key, _number(value), step)

        def __reduce__(self) -> tuple[Any, ...]:
            # a trainer pickled for other processes (``ddp_spawn``) or deep-copied gets a
            # plain Callback instead: this class is local, and its session stays here
            return (module.Callback, ())

    def fit(
        session: Session, original: Handler, trainer: Any, args: Any, kwargs: Any, frame: Any
    ) -> Any:
        __tracebackhide__ = True
        recorder = EpochRecorder(session)
        attached = session.guard(_attach, trainer, recorder)
        seconds = None
        try:
            result, seconds = session.call(original, trainer, *args, **kwargs)
        finally:
            if attached is not None:
                session.guard(recorder.flush, trainer)  # an epoch ended just before an error
                session.guard(_detach, trainer, recorder, *attached)
            if seconds is not None or recorder.began:
                session.guard(_after_fit, session, module, original, trainer, args, kwargs, seconds)
        return result

    return fit


def _attach(trainer: Any, recorder: Any) -> tuple[list[Any], list[Any]]:
    """Give ``trainer`` a new callbacks list that ends with ``recorder`` (the list it had, which
    may be the user's, is not changed); the list it had and the new one."""
    before = trainer.callbacks
    trainer.callbacks = [*before, recorder]
    return before, trainer.callbacks


def _detach(trainer: Any, recorder: Any, before: list[Any], attached: list[Any]) -> None:
    """The trainer's callbacks as they were; or, when Lightning replaced the list during the
    call (it adds the module's ``configure_callbacks()``), that list without ``recorder``."""
    if trainer.callbacks is attached:
        trainer.callbacks = before
    else:
        trainer.callbacks = [c for c in trainer.callbacks if c is not recorder]


def _after_fit(
    session: Session,
    module: Any,
    original: Handler,
    trainer: Any,
    args: Any,
    kwargs: Any,
    seconds: float | None,
) -> None:
    """Params (also when the training began but failed or was interrupted: its epochs are
    recorded already) and, when it completed, the training time and what early stopping and
    checkpointing found."""
    try:
        bound = inspect.signature(original).bind(trainer, *args, **kwargs)
    except TypeError:
        return  # Lightning raised the user's mistake: nothing was trained
    model = bound.arguments.get("model")
    if model is None:
        return
    datamodule = bound.arguments.get("datamodule")
    loaders = bound.arguments.get("train_dataloaders")
    if datamodule is None and isinstance(loaders, module.LightningDataModule):
        datamodule = loaders  # fit(model, datamodule) positionally
    params = {**_hparams(datamodule), **_hparams(model)}
    # the trainer's after the hparams: an hparam of the same name is the value passed to the
    # Trainer, and what the Trainer used is what was trained with
    params.update(_trainer_params(trainer))
    params.update(_optimizer_params(getattr(trainer, "optimizers", None) or []))
    session.record_fit(type(model).__name__, params, seconds)
    if seconds is not None:
        _outcome(session, trainer)


def _hparams(owner: Any) -> dict[str, Any]:
    """What ``save_hyperparameters()`` saved on a LightningModule or LightningDataModule."""
    hparams = getattr(owner, "hparams", None) if owner is not None else None
    return {str(key): value for key, value in hparams.items()} if isinstance(hparams, dict) else {}


def _trainer_params(trainer: Any) -> dict[str, Any]:
    params = {name: getattr(trainer, name) for name in _TRAINER_SETTINGS if hasattr(trainer, name)}
    for name in ("accelerator", "strategy"):  # CPUAccelerator, SingleDeviceStrategy
        value = getattr(trainer, name, None)
        if value is not None:
            params[name] = type(value).__name__
    return params


def _optimizer_params(optimizers: list[Any]) -> dict[str, Any]:
    """``optimizer`` (``optimizer_1``, … for the others of a GAN) and its first parameter
    group's settings: ``lr`` as it started (a scheduler keeps that as ``initial_lr`` and
    changes ``lr``), ``betas``, ``weight_decay``, …"""
    params: dict[str, Any] = {}
    for index, optimizer in enumerate(optimizers):
        name = "optimizer" if index == 0 else f"optimizer_{index}"
        params[name] = type(optimizer).__name__
        groups = getattr(optimizer, "param_groups", None)
        if not groups:
            continue
        group = dict(groups[0])
        if "initial_lr" in group:
            group["lr"] = group.pop("initial_lr")
        for key, value in group.items():
            if key not in _IMPLEMENTATION:
                params[f"{name}__{key}"] = value
    return params


def _outcome(session: Session, trainer: Any) -> None:
    """``stopped_epoch`` when early stopping ended the training; the checkpoint's
    ``best_model_score``."""
    stopper = getattr(trainer, "early_stopping_callback", None)
    stopped = getattr(stopper, "stopped_epoch", 0)
    if stopped:
        session.metric("stopped_epoch", stopped)
    checkpoint = getattr(trainer, "checkpoint_callback", None)
    score = getattr(checkpoint, "best_model_score", None)
    if score is not None:
        session.metric("best_model_score", _number(score))


# validate, test -----------------------------------------------------------------------------


def _evaluate(
    session: Session, original: Handler, trainer: Any, args: Any, kwargs: Any, frame: Any
) -> Any:
    """The handler of an outermost ``validate`` or ``test``: the metrics it returns (a dict
    per dataloader, whose keys Lightning has made distinct)."""
    __tracebackhide__ = True
    results = session.call(original, trainer, *args, **kwargs)[0]
    session.guard(_record_results, session, results)
    return results


def _record_results(session: Session, results: Any) -> None:
    for metrics in results or ():
        for key, value in metrics.items():
            session.metric(key, _number(value))
