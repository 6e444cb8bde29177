"""Autolog of Keras (on its torch backend) and PyTorch Lightning: what ``fit``, ``evaluate``,
``validate`` and ``test`` record, and that nothing stays patched or changed.

Real libraries, tiny models on tiny generated data, recording into a real store; the cell
path (the library first imported inside a ``%%track`` cell) in one real kernel.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyter_mltrack.autolog import begin
from jupyter_mltrack.capture import api
from jupyter_mltrack.store import Store

from .kernel import Kernel, loaded_kernel, open_store, text_of

# Keras reads its backend once, when first imported; its default (TensorFlow) is not a test
# dependency. Set here, before any test imports Keras, and inherited by the test kernel.
os.environ["KERAS_BACKEND"] = "torch"


@pytest.fixture
def run(sqlite_store: Store) -> Iterator[api.ActiveRun]:
    active = api.start_run(experiment="deep", store=sqlite_store)
    yield active
    active.end()


def recorded(active: api.ActiveRun) -> Any:
    active.end()
    api.wait_pending()
    return active.store.get_run_detail(active.id)


def series(detail: Any, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in detail.metric_series[key]]


def steps(detail: Any, key: str) -> list[int]:
    return [step for step, _ in series(detail, key)]


def _binary_data(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((n, 4), dtype=np.float32)
    return x, (x.sum(axis=1) > 2).astype("int32")


# Keras --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras() -> Any:
    import keras

    assert keras.backend.backend() == "torch"
    return keras


def _keras_model(keras: Any, learning_rate: float = 0.01) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _epoch_logs(keras: Any) -> Any:
    """A user's callback keeping what Keras reported at each epoch's end."""

    class EpochLogs(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.logs: dict[int, dict[str, float]] = {}

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.logs[epoch] = dict(logs or {})

    return EpochLogs()


def test_keras_fit_records_params_and_a_point_per_epoch(run: api.ActiveRun, keras: Any) -> None:
    x, y = _binary_data()
    model = _keras_model(keras)
    seen = _epoch_logs(keras)
    callbacks = [seen]
    session = begin(run, {})
    assert session is not None
    try:
        history = model.fit(
            x, y, epochs=3, batch_size=16, validation_split=0.25, callbacks=callbacks, verbose=0
        )
    finally:
        session.end()
    assert history is model.history and isinstance(history, keras.callbacks.History)
    assert callbacks == [seen] and len(callbacks) == 1  # the user's list as it was
    detail = recorded(run)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        want = [(epoch, pytest.approx(seen.logs[epoch][key])) for epoch in range(3)]
        assert series(detail, key) == want, key
        assert [v for _, v in series(detail, key)] == pytest.approx(history.history[key])
    params = detail.run.params
    assert {k: params[k] for k in ("epochs", "batch_size", "validation_split", "shuffle")} == {
        "epochs": 3,
        "batch_size": 16,
        "validation_split": 0.25,
        "shuffle": True,
    }
    assert params["model"] == "Sequential" and params["num_params"] == model.count_params()
    assert params["loss"] == "binary_crossentropy"
    assert params["optimizer"] == "Adam"
    assert params["optimizer__learning_rate"] == 0.01  # not float32's 0.009999999776482582
    assert params["optimizer__beta_1"] == 0.9
    assert "optimizer__name" not in params and not any("." in key for key in params)
    assert len(series(detail, "fit_time")) == 1
    # fit's own validation is part of fit: no evaluation of its own
    assert set(detail.run.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy", "fit_time"}


def test_keras_evaluate_names_its_results_after_the_data(run: api.ActiveRun, keras: Any) -> None:
    x, y = _binary_data()
    x_test, y_test, x_val, y_val = x[:32], y[:32], x[32:64], y[32:64]
    model = _keras_model(keras)
    model.fit(x[64:], y[64:], epochs=1, verbose=0)  # before the session: not recorded
    session = begin(run, {})
    assert session is not None
    try:
        as_list = model.evaluate(x_test, y_test, verbose=0)
        as_dict = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        on_val = model.evaluate(x=x_val, y=y_val, verbose=0, return_dict=True)
        unnamed = model.evaluate(x[:8], y[:8], verbose=0, return_dict=True)
    finally:
        session.end()
    assert isinstance(as_list, list) and isinstance(as_dict, dict)  # as Keras returns them
    assert as_list == pytest.approx([as_dict["loss"], as_dict["accuracy"]])
    detail = recorded(run)
    assert series(detail, "loss_x_test") == [(0, as_list[0]), (1, as_dict["loss"])]
    assert series(detail, "accuracy_x_test") == [(0, as_list[1]), (1, as_dict["accuracy"])]
    assert series(detail, "loss_x_val") == [(0, on_val["loss"])]
    assert series(detail, "eval_accuracy") == [(0, unnamed["accuracy"])]
    assert detail.run.params == {} and "fit_time" not in detail.run.metrics


def test_keras_early_stopping_records_where_it_stopped(run: api.ActiveRun, keras: Any) -> None:
    x, y = _binary_data()
    model = _keras_model(keras)
    # no later epoch can beat the first by 10: stopped once patience (1 epoch) runs out
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=10.0)
    session = begin(run, {})
    assert session is not None
    try:
        history = model.fit(x, y, epochs=20, callbacks=[stopper], verbose=0)
    finally:
        session.end()
    assert history.epoch == [0, 1] and stopper.stopped_epoch == 1
    detail = recorded(run)
    assert steps(detail, "loss") == [0, 1]
    assert detail.run.metrics["stopped_epoch"] == 1
    assert detail.run.metrics["best_epoch"] == stopper.best_epoch == 0
    assert detail.run.params["epochs"] == 20


def test_keras_a_failing_fit_raises_as_is_and_leaves_nothing_patched(
    run: api.ActiveRun, keras: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = _binary_data()
    model = _keras_model(keras)
    error = RuntimeError("the user's own error")

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if epoch == 1:
                raise error

    fit, evaluate = keras.Model.fit, keras.Model.evaluate
    session = begin(run, {})
    assert session is not None
    try:
        assert keras.Model.__dict__["fit"] is not fit
        with pytest.raises(RuntimeError) as raised:
            model.fit(x, y, epochs=3, callbacks=[Boom()], verbose=0)
        assert raised.value is error
        with pytest.raises(ValueError, match="compile"):  # Keras's own check, as it was
            keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]).fit(x, y)
    finally:
        session.end()
    assert "fit" not in keras.Model.__dict__ and "evaluate" not in keras.Model.__dict__
    assert keras.Model.fit is fit and keras.Model.evaluate is evaluate
    detail = recorded(run)
    assert steps(detail, "loss") == [0]  # the epoch it finished
    assert detail.run.params["epochs"] == 3  # an interrupted training keeps its params
    assert "fit_time" not in detail.run.metrics
    assert "mltrack: autolog" not in capsys.readouterr().err


def test_keras_sessions_reuse_their_wrappers(run: api.ActiveRun, keras: Any) -> None:
    """What keeps a session cheap: its wrappers are built once per process."""
    seen = []
    for _ in range(2):
        session = begin(run, {})
        assert session is not None
        seen.append((keras.Model.__dict__["fit"], keras.Model.__dict__["evaluate"]))
        session.end()
    assert seen[0] == seen[1]


# Lightning ----------------------------------------------------------------------------------


def _regressor_class(L: Any) -> type:
    """A LightningModule whose own bookkeeping is the reference for what autolog records: the
    mean training loss of each epoch (logged from its ``on_train_epoch_end``, which Lightning
    calls after the callbacks'), and each validation's mean loss (logged in the sanity check
    too, which must not be recorded)."""
    import torch

    class Regressor(L.LightningModule):
        def __init__(self, hidden: int = 4, lr: float = 0.05) -> None:
            super().__init__()
            self.save_hyperparameters()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
            )
            self.train_means: dict[int, float] = {}
            self.val_means: dict[int, float] = {}
            self.fail: tuple[int, BaseException] | None = None
            self.extra_callbacks: list[Any] = []
            self._losses: list[float] = []
            self._val_losses: list[float] = []

        def _loss(self, batch: Any) -> Any:
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)

        def training_step(self, batch: Any, index: int) -> Any:
            if self.fail is not None and self.current_epoch == self.fail[0]:
                raise self.fail[1]
            loss = self._loss(batch)
            self._losses.append(loss.item())
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def on_train_epoch_end(self) -> None:
            mean, self._losses = float(np.mean(self._losses)), []
            self.train_means[self.current_epoch] = mean
            self.log("train_mean", mean)

        def validation_step(self, batch: Any, index: int) -> None:
            loss = self._loss(batch)
            self._val_losses.append(loss.item())
            self.log("val_loss", loss)

        def on_validation_epoch_end(self) -> None:
            mean, self._val_losses = float(np.mean(self._val_losses)), []
            if not self.trainer.sanity_checking:
                self.val_means[self.current_epoch] = mean
            self.log("val_mean", mean)

        def test_step(self, batch: Any, index: int, dataloader_idx: int = 0) -> None:
            self.log("test_loss", self._loss(batch))

        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
            halving = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {"optimizer": optimizer, "lr_scheduler": halving}

        def configure_callbacks(self) -> Any:
            return self.extra_callbacks

    return Regressor


@pytest.fixture(scope="module")
def lit() -> types.SimpleNamespace:
    """``lightning.pytorch`` as ``L``, the ``Regressor`` built on it, and its data loaders."""
    import lightning.pytorch as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.rand(64, 3, generator=torch.Generator().manual_seed(0))
    y = x.sum(dim=1)
    return types.SimpleNamespace(
        L=L,
        Regressor=_regressor_class(L),
        train=DataLoader(TensorDataset(x, y), batch_size=16),
        val=DataLoader(TensorDataset(x[:32], y[:32]), batch_size=16),
        other=DataLoader(TensorDataset(x[32:], y[32:]), batch_size=16),
    )


def _trainer(L: Any, root: Path, **settings: Any) -> Any:
    quiet = {
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": str(root),
    }
    return L.Trainer(**{**quiet, **settings})


def test_lightning_fit_records_hparams_settings_optimizer_and_epochs(
    run: api.ActiveRun, lit: Any, tmp_path: Path
) -> None:
    model = lit.Regressor(hidden=5)
    callbacks = [lit.L.Callback()]
    trainer = _trainer(
        lit.L,
        tmp_path,
        max_epochs=4,
        check_val_every_n_epoch=2,
        accumulate_grad_batches=2,
        gradient_clip_val=0.5,
        callbacks=callbacks,
    )
    before, held = trainer.callbacks, list(trainer.callbacks)
    session = begin(run, {})
    assert session is not None
    try:
        result = trainer.fit(model, lit.train, lit.val)
    finally:
        session.end()
    assert result is None
    assert trainer.callbacks is before and trainer.callbacks == held
    assert len(callbacks) == 1
    detail = recorded(run)
    assert series(detail, "train_mean") == [
        (epoch, pytest.approx(model.train_means[epoch])) for epoch in range(4)
    ]
    assert steps(detail, "train_loss_epoch") == [0, 1, 2, 3]
    # validated at epochs 1 and 3 only: no stale point in between, none of the sanity check
    assert series(detail, "val_mean") == [(e, pytest.approx(model.val_means[e])) for e in (1, 3)]
    assert steps(detail, "val_loss") == [1, 3]
    params = detail.run.params
    assert params["hidden"] == 5 and params["lr"] == 0.05
    assert params["max_epochs"] == 4 and params["accumulate_grad_batches"] == 2
    assert params["gradient_clip_val"] == 0.5 and params["precision"] == "32-true"
    assert params["check_val_every_n_epoch"] == 2
    assert params["optimizer"] == "Adam"
    # the rate the training started with, though the scheduler has halved it since
    assert params["optimizer__lr"] == 0.05
    assert trainer.optimizers[0].param_groups[0]["lr"] < 0.05
    assert params["optimizer__betas"] == [0.9, 0.999]
    assert "optimizer__foreach" not in params and "optimizer__params" not in params
    assert len(series(detail, "fit_time")) == 1
    assert not any("." in key for key in params)


def test_lightning_early_stopping_and_checkpoint(
    run: api.ActiveRun, lit: Any, tmp_path: Path
) -> None:
    import torch

    model = lit.Regressor()
    # no later validation can beat the first by 100: stopped once patience (1) runs out
    stopper = lit.L.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=100.0)
    checkpoint = lit.L.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_loss")
    trainer = _trainer(
        lit.L,
        tmp_path,
        max_epochs=10,
        enable_checkpointing=True,
        callbacks=[stopper, checkpoint],
    )
    session = begin(run, {})
    assert session is not None
    try:
        trainer.fit(model, lit.train, lit.val)
    finally:
        session.end()
    assert stopper.stopped_epoch == 1
    detail = recorded(run)
    assert detail.run.metrics["stopped_epoch"] == 1
    assert detail.run.metrics["best_model_score"] == pytest.approx(
        checkpoint.best_model_score.item()
    )
    assert steps(detail, "val_loss") == [0, 1] and steps(detail, "train_mean") == [0, 1]
    # the recorder leaves no trace in what the checkpoint saved
    saved = torch.load(checkpoint.best_model_path, weights_only=False)
    assert not any("Recorder" in key for key in saved.get("callbacks", {})), saved["callbacks"]


def test_lightning_validate_and_test_record_what_they_return(
    run: api.ActiveRun, lit: Any, tmp_path: Path
) -> None:
    model = lit.Regressor()
    trainer = _trainer(lit.L, tmp_path, max_epochs=1)
    trainer.fit(model, lit.train)  # before the session: not recorded
    session = begin(run, {})
    assert session is not None
    try:
        validated = trainer.validate(model, lit.val, verbose=False)
        tested = trainer.test(model, lit.val, verbose=False)
        again = trainer.test(model, dataloaders=[lit.val, lit.other], verbose=False)
    finally:
        session.end()
    detail = recorded(run)
    assert series(detail, "val_loss") == [(0, pytest.approx(validated[0]["val_loss"]))]
    assert series(detail, "val_mean") == [(0, pytest.approx(validated[0]["val_mean"]))]
    assert series(detail, "test_loss") == [(0, pytest.approx(tested[0]["test_loss"]))]
    for index, results in enumerate(again):  # one dict per dataloader, named by Lightning
        key = f"test_loss/dataloader_idx_{index}"
        assert series(detail, key) == [(0, pytest.approx(results[key]))]
    assert detail.run.params == {} and "fit_time" not in detail.run.metrics


def test_lightning_a_failing_fit_raises_as_is_and_leaves_nothing_behind(
    run: api.ActiveRun, lit: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = RuntimeError("the user's own error")
    model = lit.Regressor(hidden=3)
    model.fail = (1, error)
    # Lightning replaces the trainer's list to add the module's configure_callbacks()
    model.extra_callbacks = [lit.L.callbacks.LambdaCallback()]
    trainer = _trainer(lit.L, tmp_path, max_epochs=3)
    originals = {name: lit.L.Trainer.__dict__[name] for name in ("fit", "validate", "test")}
    session = begin(run, {})
    assert session is not None
    try:
        assert lit.L.Trainer.__dict__["fit"] is not originals["fit"]
        with pytest.raises(RuntimeError) as raised:
            trainer.fit(model, lit.train, lit.val)
    finally:
        session.end()
    assert raised.value is error
    assert {name: lit.L.Trainer.__dict__[name] for name in originals} == originals
    names = [type(c).__name__ for c in trainer.callbacks]
    assert "EpochRecorder" not in names and "LambdaCallback" in names
    detail = recorded(run)
    assert steps(detail, "train_mean") == [0]  # the epoch it finished
    assert detail.run.params["hidden"] == 3 and detail.run.params["optimizer"] == "Adam"
    assert "fit_time" not in detail.run.metrics
    assert "mltrack: autolog" not in capsys.readouterr().err


def test_tensors_are_numbers_only_once_converted() -> None:
    """``number`` takes numpy's scalars and 0-d arrays; a torch tensor has a dtype too, with
    no numpy ``kind``: it is not taken as a number as it is (a bool tensor would read as 1.0),
    and the Lightning integration converts what it records with ``.item()``."""
    import torch

    from jupyter_mltrack.autolog._session import number

    assert number(np.float32(0.5)) == 0.5
    assert number(np.array(3)) == 3.0
    assert number(np.array(True)) is None
    assert number(torch.tensor(0.5)) is None
    assert number(torch.tensor(True)) is None
    assert number(torch.tensor(0.5).item()) == 0.5


def test_pytorch_lightning_is_patched_as_well(run: api.ActiveRun, tmp_path: Path) -> None:
    """The ``pytorch_lightning`` package is a copy of ``lightning.pytorch`` with its own
    ``Trainer``: patched on its own."""
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.rand(32, 3, generator=torch.Generator().manual_seed(1))
    loader = DataLoader(TensorDataset(x, x.sum(dim=1)), batch_size=16)
    model = _regressor_class(pl)(lr=0.1)
    trainer = _trainer(pl, tmp_path, max_epochs=2)
    fit = pl.Trainer.__dict__["fit"]
    session = begin(run, {})
    assert session is not None
    try:
        trainer.fit(model, loader)
    finally:
        session.end()
    assert pl.Trainer.__dict__["fit"] is fit
    detail = recorded(run)
    assert series(detail, "train_mean") == [
        (e, pytest.approx(model.train_means[e])) for e in (0, 1)
    ]
    assert detail.run.params["lr"] == 0.1 and detail.run.params["max_epochs"] == 2


# in a kernel --------------------------------------------------------------------------------

#: Run in the kernel: what a session left behind (its import hook, a wrapper), if anything.
LEFTOVERS = """
import sys
def _leftovers():
    found = [type(f).__name__ for f in sys.meta_path if 'autolog' in type(f).__module__]
    keras = sys.modules.get('keras')
    if keras is not None:
        found += [f'keras.Model.{n}' for n in ('fit', 'evaluate') if n in keras.Model.__dict__]
    for package in ('lightning.pytorch', 'pytorch_lightning'):
        module = sys.modules.get(package)
        if module is not None:
            found += [f'{package}.Trainer.{n}' for n in ('fit', 'validate', 'test')
                      if 'autolog' in module.Trainer.__dict__[n].__code__.co_filename]
    return found
"""
NOTHING_LEFT = "print('left:', _leftovers())"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("autolog-deep")
    (root / "nb").mkdir()
    return root


@pytest.fixture(scope="module")
def kernel(workdir: Path) -> Iterator[Kernel]:
    """One fresh kernel for both libraries (each is imported by the test's tracked cell)."""
    with loaded_kernel(workdir / "nb", workdir / "home", "deep.ipynb", LEFTOVERS) as k:
        yield k


def run_of(kernel: Kernel, workdir: Path, experiment: str) -> Any:
    kernel.ok("__import__('jupyter_mltrack.capture.api', fromlist=['_']).wait_pending()")
    with open_store(workdir / "home") as store:
        runs, _ = store.search_runs(experiment=experiment, order="-start_time", limit=1)
        assert runs, f"no run in {experiment}"
        return store.get_run_detail(runs[0].id)


def _not_imported(kernel: Kernel, module: str) -> None:
    kernel.ok("%%track -e warmup\nwarm = 1")  # a session opened and closed: imports nothing
    out = kernel.ok(f"print({module!r} in sys.modules)")
    assert text_of(out).strip() == "False"


KERAS_CELL = """%%track -e keras
import keras
import numpy as np
rng = np.random.default_rng(0)
x = rng.random((96, 4), dtype=np.float32)
y = (x.sum(axis=1) > 2).astype("int32")
x_train, y_train, x_test, y_test = x[:64], y[:64], x[64:], y[64:]
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="binary_crossentropy",
              metrics=["accuracy"])
callbacks = [keras.callbacks.TerminateOnNaN()]
history = model.fit(x_train, y_train, epochs=3, batch_size=16, validation_split=0.25,
                    callbacks=callbacks, verbose=0)
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
"""


def test_keras_in_a_tracked_cell(kernel: Kernel, workdir: Path) -> None:
    _not_imported(kernel, "keras")
    result = kernel.ok(KERAS_CELL)
    assert "mltrack: autolog" not in text_of(result, "stderr")
    out = kernel.ok(
        "import json\n"
        "print(json.dumps([history.history, len(callbacks), history is model.history,\n"
        "                  test_loss, test_accuracy, model.count_params()]))\n" + NOTHING_LEFT
    )
    first, left = text_of(out).strip().splitlines()
    curves, kept, identical, test_loss, test_accuracy, count = json.loads(first)
    assert left == "left: []" and kept == 1 and identical
    detail = run_of(kernel, workdir, "keras")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert series(detail, key) == [(e, pytest.approx(v)) for e, v in enumerate(curves[key])]
    assert series(detail, "loss_x_test") == [(0, pytest.approx(test_loss))]
    assert series(detail, "accuracy_x_test") == [(0, pytest.approx(test_accuracy))]
    params = detail.run.params
    assert params["epochs"] == 3 and params["batch_size"] == 16 and params["num_params"] == count
    assert params["optimizer"] == "SGD" and params["optimizer__learning_rate"] == 0.05

    failed = kernel.execute(
        "%%track -e keras-fail\n"
        "class Boom(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        if epoch == 1:\n"
        "            raise KeyError('boom')\n"
        "model.fit(x_train, y_train, epochs=3, callbacks=[Boom()], verbose=0)"
    )
    assert failed["reply"]["status"] == "error" and failed["reply"]["ename"] == "KeyError"
    assert "mltrack: autolog" not in text_of(failed, "stderr")
    assert text_of(kernel.ok(NOTHING_LEFT)).strip() == "left: []"
    detail = run_of(kernel, workdir, "keras-fail")
    assert steps(detail, "loss") == [0] and "fit_time" not in detail.run.metrics


LIGHTNING_CELL = """%%track -e lightning
import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

class Regressor(L.LightningModule):
    def __init__(self, hidden=4, lr=0.05, fail_at=None):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, 1))
    def _loss(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x).squeeze(-1), y)
    def training_step(self, batch, index):
        if self.current_epoch == self.hparams.fail_at:
            raise KeyError("boom")
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss
    def validation_step(self, batch, index):
        self.log("val_loss", self._loss(batch))
    def test_step(self, batch, index):
        self.log("test_loss", self._loss(batch))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

x = torch.rand(64, 3, generator=torch.Generator().manual_seed(0))
data = TensorDataset(x, x.sum(dim=1))
train, val = DataLoader(data, batch_size=16), DataLoader(data, batch_size=32)
callbacks = [L.Callback()]
quiet = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False,
             enable_model_summary=False)
trainer = L.Trainer(max_epochs=3, callbacks=callbacks, **quiet)
model = Regressor(hidden=6)
fitted = trainer.fit(model, train, val)
tested = trainer.test(model, val, verbose=False)
"""


def test_lightning_in_a_tracked_cell(kernel: Kernel, workdir: Path) -> None:
    _not_imported(kernel, "lightning")
    result = kernel.ok(LIGHTNING_CELL)
    assert "mltrack: autolog" not in text_of(result, "stderr")
    out = kernel.ok(
        "import json\n"
        "print(json.dumps([fitted is None, len(callbacks), tested,\n"
        "                  [type(c).__name__ for c in trainer.callbacks]]))\n" + NOTHING_LEFT
    )
    first, left = text_of(out).strip().splitlines()
    fitted_none, kept, tested, names = json.loads(first)
    assert left == "left: []" and fitted_none and kept == 1
    assert "EpochRecorder" not in names
    detail = run_of(kernel, workdir, "lightning")
    assert steps(detail, "train_loss") == [0, 1, 2] and steps(detail, "val_loss") == [0, 1, 2]
    assert series(detail, "test_loss") == [(0, pytest.approx(tested[0]["test_loss"]))]
    params = detail.run.params
    assert params["hidden"] == 6 and params["lr"] == 0.05 and params["max_epochs"] == 3
    assert params["optimizer"] == "SGD" and params["optimizer__lr"] == 0.05

    failed = kernel.execute(
        "%%track -e lightning-fail\n"
        "L.Trainer(max_epochs=3, **quiet).fit(Regressor(fail_at=1), train, val)"
    )
    assert failed["reply"]["status"] == "error" and failed["reply"]["ename"] == "KeyError"
    assert "mltrack: autolog" not in text_of(failed, "stderr")
    assert text_of(kernel.ok(NOTHING_LEFT)).strip() == "left: []"
    detail = run_of(kernel, workdir, "lightning-fail")
    assert steps(detail, "train_loss") == [0] and "fit_time" not in detail.run.metrics
    assert detail.run.params["fail_at"] == 1
