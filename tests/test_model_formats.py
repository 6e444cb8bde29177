"""Model formats (jupyter_mltrack.models.formats) and signatures (models.signature).

Every format is saved and loaded back through its meta as stored (JSON), and must predict
exactly as the original on held-out rows. Loading must never run code the user has not
trusted: a malicious pickle is refused and its payload never runs; a skops file with a
custom type names the type and the argument that allows it.

Tiny models and few rows keep this fast; torch and keras are imported only in their tests.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from jupyter_mltrack.models.formats import (
    FORMATS,
    SavedModel,
    UnsupportedModelError,
    UntrustedModelError,
    load_saved_model,
    save_model,
)
from jupyter_mltrack.models.formats.sklearn_skops import FILE, canonical
from jupyter_mltrack.models.signature import (
    MAX_JSON_BYTES,
    examples_input,
    infer_signature,
    predict,
)

from .model_classes import BUILT, BuildRecorder, Doubler, ThresholdClassifier, signed_log

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Training frame, labels, and held-out rows: two numeric columns and a string one."""
    rng = np.random.default_rng(14)
    n = 120
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "city": rng.choice(["paris", "lyon", "nice"], size=n),
        }
    )
    y = pd.Series(((frame.x1 + (frame.city == "nice")) > 0.3).astype(int), name="y")
    return frame.iloc[:100], y.iloc[:100], frame.iloc[100:].reset_index(drop=True)


def _reload(folder: Path, saved: SavedModel, **kwargs: Any) -> Any:
    """Load through the meta as the store keeps it: JSON text."""
    meta = json.loads(json.dumps(saved.to_meta(), allow_nan=False))
    return load_saved_model(folder, meta, **kwargs)


def _column_pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("num", StandardScaler(), ["x1", "x2"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    return Pipeline([("pre", columns), ("clf", LogisticRegression())])


# --- scikit-learn / skops -----------------------------------------------------------------


def test_a_column_transformer_pipeline_round_trips_through_skops(data, tmp_path):
    X, y, held_out = data
    model = _column_pipeline().fit(X, y)
    saved = save_model(model, tmp_path / "m")
    assert (saved.format, saved.flavor, saved.files) == ("skops", "sklearn", ["model.skops"])
    assert not saved.unsafe
    # recent skops trusts every scikit-learn and numpy type such a pipeline holds
    assert saved.untrusted_types == []
    assert SavedModel.from_meta(saved.to_meta()) == saved
    loaded = _reload(tmp_path / "m", saved)
    assert type(loaded) is Pipeline
    assert np.array_equal(loaded.predict(held_out), model.predict(held_out))
    assert np.array_equal(loaded.predict_proba(held_out), model.predict_proba(held_out))


def test_a_skops_file_with_a_custom_type_is_refused_until_the_type_is_trusted(data, tmp_path):
    X, y, held_out = data
    model = make_pipeline(StandardScaler(), ThresholdClassifier(column=0)).fit(X[["x1"]], y)
    saved = save_model(model, tmp_path / "m")
    custom = "tests.model_classes.ThresholdClassifier"
    assert saved.untrusted_types == [custom]

    with pytest.raises(UntrustedModelError) as refused:
        _reload(tmp_path / "m", saved)
    assert custom in str(refused.value) and "trusted=" in str(refused.value)
    # the file is checked, not the meta: a meta claiming nothing untrusted does not help
    edited = {**saved.to_meta(), "untrusted_types": []}
    with pytest.raises(UntrustedModelError, match="ThresholdClassifier"):
        load_saved_model(tmp_path / "m", edited, trusted=["sklearn.something.Else"])

    for trusted in ([custom], True):
        loaded = _reload(tmp_path / "m", saved, trusted=trusted)
        assert np.array_equal(loaded.predict(held_out[["x1"]]), model.predict(held_out[["x1"]]))


@pytest.mark.parametrize("kind", ["lambda", "nested", "method"])
def test_a_pipeline_holding_a_function_without_a_name_is_refused_when_saved(data, tmp_path, kind):
    """skops keeps a function by its import name: a lambda, a function defined inside
    another, or a method (skops names its type, which no import reaches) has none that
    works, so the model could be logged but never loaded. Refused at once, saying what to
    do, the folder left empty; as a pickle it is kept by value."""
    X, y, held_out = data

    def nested(z: Any) -> Any:
        return z

    func = {"lambda": lambda z: z, "nested": nested, "method": np.ndarray.copy}[kind]
    model = make_pipeline(FunctionTransformer(func, validate=True), LogisticRegression())
    model.fit(X[["x1"]], y)
    with pytest.raises(UnsupportedModelError) as refused:
        save_model(model, tmp_path / "m")
    message = str(refused.value)
    named = {
        "lambda": "tests.test_model_formats.<lambda>",
        "nested": "tests.test_model_formats.nested",
        "method": "builtins.method_descriptor",  # what skops names np.ndarray.copy by
    }[kind]
    assert f"holds {named}," in message, message
    assert "could never be loaded back" in message and "format='pickle'" in message
    assert list((tmp_path / "m").iterdir()) == []
    saved = save_model(model, tmp_path / "p", format="pickle")
    loaded = _reload(tmp_path / "p", saved, trusted=True)
    assert np.array_equal(loaded.predict(held_out[["x1"]]), model.predict(held_out[["x1"]]))


def test_a_pipeline_holding_a_notebook_function_says_so_when_saved_and_when_loaded(
    data, tmp_path, monkeypatch
):
    """A function defined in a notebook cell lives in ``__main__``: skops keeps it by
    that name, so the model loads only where it is defined again. Saving warns; loading
    where it is not defined says which function, and how to define it, rather than
    skops' AttributeError; defined again, the model loads."""
    X, y, held_out = data

    def doubled(z: Any) -> Any:  # as a notebook cell defines it
        return z * 2

    doubled.__module__, doubled.__qualname__ = "__main__", "doubled"
    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "doubled", doubled, raising=False)
    model = make_pipeline(FunctionTransformer(doubled), LogisticRegression()).fit(X[["x1"]], y)
    with pytest.warns(UserWarning, match=r"holds doubled, defined in this notebook"):
        saved = save_model(model, tmp_path / "m")
    assert saved.untrusted_types == ["__main__.doubled"]
    monkeypatch.delattr(main, "doubled")  # another process, which never ran that cell
    with pytest.raises(ImportError) as refused:
        _reload(tmp_path / "m", saved, trusted=["__main__.doubled"])
    assert "holds doubled" in str(refused.value) and "run the cell that defines it" in str(
        refused.value
    )
    monkeypatch.setattr(main, "doubled", doubled, raising=False)
    loaded = _reload(tmp_path / "m", saved, trusted=["__main__.doubled"])
    assert np.array_equal(loaded.predict(held_out[["x1"]]), model.predict(held_out[["x1"]]))


def _custom_pipeline(X: Any, y: Any) -> Pipeline:
    """Two types of the user's own, off skops' list: a function and an estimator."""
    return make_pipeline(FunctionTransformer(signed_log), BuildRecorder(column=0)).fit(X, y)


def test_a_single_audit_refuses_exactly_what_the_file_list_leaves_untrusted(data, tmp_path):
    """Loading lets skops' own audit decide, in the read that builds the model; it must
    refuse exactly when the types get_untrusted_types finds in the file are not all in
    ``trusted=`` (the rule of a scan then a load), whatever the meta says, and build
    nothing when it refuses."""
    import skops.io as sio

    X, y, held_out = data
    model = _custom_pipeline(X[["x1", "x2"]], y)
    saved = save_model(model, tmp_path / "m")
    found = sorted(sio.get_untrusted_types(file=tmp_path / "m" / "model.skops"))
    assert found == ["tests.model_classes.BuildRecorder", "tests.model_classes.signed_log"]
    unrelated = "sklearn.something.Else"
    metas = {  # as saved; edited to hide the types; edited to list one more
        "saved": saved.to_meta(),
        "hiding": {**saved.to_meta(), "untrusted_types": []},
        "extra": {**saved.to_meta(), "untrusted_types": [*found, unrelated]},
    }
    for label, meta in metas.items():
        for n in range(len(found) + 2):
            for allowed in itertools.combinations([*found, unrelated], n):
                missing = [t for t in found if t not in allowed]
                BUILT.clear()
                if missing:
                    with pytest.raises(UntrustedModelError) as refused:
                        load_saved_model(tmp_path / "m", meta, trusted=list(allowed))
                    listed = f"trust by default: {', '.join(missing)}. "
                    assert listed in str(refused.value), (label, allowed)
                    assert f"trusted={found!r}" in str(refused.value)
                    assert BUILT == [], (label, allowed)  # refused before building
                else:
                    loaded = load_saved_model(tmp_path / "m", meta, trusted=list(allowed))
                    assert BUILT == ["BuildRecorder"], (label, allowed)
                    assert np.array_equal(
                        loaded.predict(held_out[["x1", "x2"]]),
                        model.predict(held_out[["x1", "x2"]]),
                    )
        loaded = load_saved_model(tmp_path / "m", meta, trusted=True)  # skops takes no True
        assert np.array_equal(
            loaded.predict(held_out[["x1", "x2"]]), model.predict(held_out[["x1", "x2"]])
        )
    # the file decides the other way too: a meta listing a type the file lacks refuses nothing
    plain = save_model(_column_pipeline().fit(X, y), tmp_path / "plain")
    listed = {**plain.to_meta(), "untrusted_types": [unrelated]}
    assert type(load_saved_model(tmp_path / "plain", listed)) is Pipeline


def _tiny_trees(X: Any, y: Any) -> Any:
    return ExtraTreesRegressor(n_estimators=2, max_depth=3, random_state=0).fit(X, y)


def _tiny_mlp(X: Any, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: _column_pipeline().fit(X, y),
        lambda X, y: _tiny_trees(X[["x1", "x2"]], y),
        lambda X, y: _tiny_mlp(X[["x1", "x2"]], y),
        lambda X, y: _custom_pipeline(X[["x1", "x2"]], y),
    ],
    ids=["column-pipeline", "extra-trees", "mlp", "custom-function-and-class"],
)
def test_the_types_recorded_at_save_are_those_skops_finds_in_the_file(data, tmp_path, make):
    """Saving reads them off the schema alone (not the model's arrays): the list must be
    skops' own, get_untrusted_types of the file written."""
    import skops.io as sio

    X, y, _ = data
    saved = save_model(make(X, y), tmp_path)
    assert saved.untrusted_types == sorted(sio.get_untrusted_types(file=tmp_path / FILE))


def _canonical_reference(data: bytes) -> bytes:
    """The canonical rewrite in its plainest form (every entry read, and its CRC checked,
    by zipfile; the zip built in memory), as first written: the faster one that slices
    entries out of skops' buffer and writes to the file must give the same bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        schema = json.loads(src.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int):
                        out[key] = ids.setdefault(value, len(ids))
                    elif key == "file" and isinstance(value, str) and value in src.namelist():
                        out[key] = files.setdefault(value, f"{len(files)}{Path(value).suffix}")
                    else:
                        out[key] = walk(value)
                return out
            return [walk(v) for v in node] if isinstance(node, list) else node

        entries = {"schema.json": json.dumps(walk(schema), indent=2).encode()}
        entries.update({new: src.read(old) for old, new in files.items()})
        for info in src.infolist():
            if info.filename != "schema.json" and info.filename not in files:
                entries[info.filename] = src.read(info)
        method = src.infolist()[0].compress_type
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


def test_a_model_is_saved_as_the_same_bytes_every_time(data, tmp_path):
    import skops.io as sio

    X, y, _ = data
    model = _tiny_trees(X[["x1", "x2"]], y)  # arrays in numbers, one object shared by two
    model.estimators_[1].tree_ = model.estimators_[0].tree_
    first, second = sio.dumps(model), sio.dumps(model)
    assert first != second  # ids and dates: what the canonical form removes
    save_model(model, tmp_path / "a")
    save_model(model, tmp_path / "b")
    written = (tmp_path / "a" / FILE).read_bytes()
    assert written == (tmp_path / "b" / FILE).read_bytes()
    assert written == canonical(first) == canonical(second) == _canonical_reference(first)
    # compressed entries (not what save writes) are inflated and written compressed again
    deflated = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    assert canonical(deflated) == _canonical_reference(deflated) != written
    # entries whose local headers carry an extra field (zip64 ones do) are found all the same
    padded = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(first)) as src, zipfile.ZipFile(padded, "w") as dst:
        for info in src.infolist():
            info.extra = b"\xfe\xca\x02\x00id"  # an unknown tag, 2 bytes of data
            dst.writestr(info, src.read(info))
    assert canonical(padded.getvalue()) == written
    loaded = sio.loads(written, trusted=sio.get_untrusted_types(data=written))
    assert loaded.estimators_[0].tree_ is loaded.estimators_[1].tree_


def test_a_model_saved_by_another_minor_version_loads_with_a_warning(data, tmp_path):
    X, y, held_out = data
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[["x1", "x2"]], y)
    saved = save_model(model, tmp_path / "m")
    old = {**saved.to_meta(), "library_version": "0.1.0"}
    with pytest.warns(UserWarning, match=r"saved with sklearn 0\.1\.0") as warned:
        loaded = load_saved_model(tmp_path / "m", old)
    # at the caller's line, not this package's: shown for every model it concerns
    assert {w.filename for w in warned if "saved with" in str(w.message)} == {__file__}
    assert np.array_equal(
        loaded.predict(held_out[["x1", "x2"]]), model.predict(held_out[["x1", "x2"]])
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _reload(tmp_path / "m", saved)
    assert not [w for w in caught if "saved with" in str(w.message)]  # same version: none


# --- boosting libraries -------------------------------------------------------------------


def test_xgboost_classifier_and_booster_round_trip_as_json(data, tmp_path):
    import xgboost

    X, y, held_out = data
    num = ["x1", "x2"]
    model = xgboost.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1).fit(X[num], y)
    saved = save_model(model, tmp_path / "clf")
    assert (saved.format, saved.flavor, saved.files) == ("xgboost-json", "xgboost", ["model.json"])
    assert saved.load_info["class"] == "xgboost.sklearn:XGBClassifier"
    loaded = _reload(tmp_path / "clf", saved)
    assert type(loaded) is xgboost.XGBClassifier
    assert np.array_equal(loaded.predict(held_out[num]), model.predict(held_out[num]))
    assert np.array_equal(loaded.predict_proba(held_out[num]), model.predict_proba(held_out[num]))

    booster = model.get_booster()
    saved = save_model(booster, tmp_path / "booster")
    loaded = _reload(tmp_path / "booster", saved)
    assert type(loaded) is xgboost.Booster
    assert np.array_equal(predict(loaded, held_out[num]), predict(booster, held_out[num]))


def test_lightgbm_classifier_comes_back_as_the_same_wrapper(data, tmp_path):
    import lightgbm

    X, y, held_out = data
    num = ["x1", "x2"]
    labels = np.where(y == 1, "yes", "no")  # string classes: the wrapper's label encoder
    model = lightgbm.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1, n_jobs=1)
    model.fit(X[num], labels)
    saved = save_model(model, tmp_path / "clf")
    assert (saved.format, saved.flavor, saved.files) == ("lightgbm-text", "lightgbm", ["model.txt"])
    loaded = _reload(tmp_path / "clf", saved)
    assert type(loaded) is lightgbm.LGBMClassifier
    assert list(loaded.predict(held_out[num])) == list(model.predict(held_out[num]))
    assert np.array_equal(loaded.predict_proba(held_out[num]), model.predict_proba(held_out[num]))
    assert list(loaded.classes_) == ["no", "yes"]

    saved = save_model(model.booster_, tmp_path / "booster")
    loaded = _reload(tmp_path / "booster", saved)
    assert type(loaded) is lightgbm.Booster
    assert np.array_equal(loaded.predict(held_out[num]), model.booster_.predict(held_out[num]))


# --- torch and keras ----------------------------------------------------------------------


def test_a_torch_module_round_trips_as_a_state_dict(tmp_path):
    import torch

    from .model_classes_torch import SizedNet, TinyNet

    torch.manual_seed(0)
    inputs = torch.randn(6, 4)
    model = TinyNet()  # in training mode, with dropout: predict switches to eval
    saved = save_model(model, tmp_path / "tiny")
    assert (saved.format, saved.flavor, saved.files) == (
        "torch-state-dict",
        "torch",
        ["state_dict.pt"],
    )
    assert saved.load_info["class"] == "tests.model_classes_torch:TinyNet"
    loaded = _reload(tmp_path / "tiny", saved)
    assert type(loaded) is TinyNet and loaded.training
    assert np.array_equal(predict(loaded, inputs), predict(model, inputs))
    assert model.training  # predict put it back in training mode

    sized = SizedNet(4, 2)
    saved = save_model(sized, tmp_path / "sized")
    assert saved.load_info["init_kwargs"] == {"n_in": 4, "n_out": 2}
    loaded = _reload(tmp_path / "sized", saved)
    assert np.array_equal(predict(loaded, inputs.numpy()), predict(sized, inputs.numpy()))

    signature = infer_signature(inputs, model, rows=3)
    assert signature["inputs"] == {"type": "tensor", "shape": [None, 4], "dtype": "float32"}
    assert signature["outputs"] == {"type": "ndarray", "shape": [None, 3], "dtype": "float32"}
    assert torch.equal(examples_input(signature), inputs[:3])
    assert np.allclose(signature["predictions"], predict(model, inputs[:3]))


def test_a_torch_module_defined_in_a_notebook_needs_model_to_load(tmp_path):
    import torch

    class NotebookNet(torch.nn.Module):  # as a notebook cell defines it
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)

        def forward(self, x: Any) -> Any:
            return self.linear(x)

    NotebookNet.__module__ = "__main__"
    NotebookNet.__qualname__ = "NotebookNet"
    model = NotebookNet()
    with pytest.warns(UserWarning, match="defined in the notebook"):
        saved = save_model(model, tmp_path / "m")
    assert saved.load_info["class"] == "__main__:NotebookNet"
    with pytest.raises(ImportError, match=r"__main__.*model="):
        _reload(tmp_path / "m", saved)
    loaded = _reload(tmp_path / "m", saved, model=NotebookNet())
    inputs = np.ones((2, 3), dtype="float32")
    assert np.array_equal(predict(loaded, inputs), predict(model, inputs))


def test_weights_that_do_not_fit_the_rebuilt_module_say_what_to_pass(tmp_path):
    """torch's own error lists keys; ours says the module was built without the
    arguments that shape it, and what to pass so that the weights fit."""
    import torch

    from .model_classes_torch import TinyNet

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with pytest.warns(UserWarning, match=r"model=nn\.Sequential\(\.\.\.the same layers"):
        saved = save_model(net, tmp_path / "seq")
    with pytest.raises(RuntimeError, match=r"built again from its class alone") as refused:
        _reload(tmp_path / "seq", saved)
    message = str(refused.value)
    assert "load_model(ref, model=nn.Sequential(" in message and '"0.weight"' in message
    assert isinstance(refused.value.__cause__, RuntimeError)  # torch's, kept as the cause

    same = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    loaded = _reload(tmp_path / "seq", saved, model=same)
    assert loaded is same and torch.equal(loaded[0].weight, net[0].weight)
    inputs = np.array([[1, 2, 3], [-3, 0, 1]], dtype="float32")
    assert np.array_equal(predict(loaded, inputs), predict(net, inputs))
    with pytest.raises(RuntimeError, match=r"the Sequential passed as model=.*size mismatch"):
        _reload(tmp_path / "seq", saved, model=torch.nn.Sequential(torch.nn.Linear(4, 2)))

    # a class rebuilt with its defaults, logged with other sizes and no _mltrack_init_kwargs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a class of a module: nothing to warn of at log time
        saved = save_model(TinyNet(n_in=5), tmp_path / "wide")
    with pytest.raises(RuntimeError, match=r"TinyNet\(\*\*\{\}\).*_mltrack_init_kwargs"):
        _reload(tmp_path / "wide", saved)
    assert type(_reload(tmp_path / "wide", saved, model=TinyNet(n_in=5))) is TinyNet


@pytest.mark.parametrize("compile", ["script", "trace"])
def test_a_torchscript_module_is_refused_when_logged_saying_what_to_log(tmp_path, compile):
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.11 deprecates both
        if compile == "script":
            compiled = torch.jit.script(net)
        else:
            compiled = torch.jit.trace(net, torch.zeros(1, 3))
    for format in (None, "torch-state-dict"):
        with pytest.raises(UnsupportedModelError, match="TorchScript module") as refused:
            save_model(compiled, tmp_path / "m", format=format)
        assert "mltrack.log_model(net)" in str(refused.value)
        assert "mltrack.log_artifact('model.pt')" in str(refused.value)
        assert not any((tmp_path / "m").iterdir())


def test_a_keras_model_round_trips_in_the_keras_format(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    inputs = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    saved = save_model(model, tmp_path / "m")
    assert (saved.format, saved.flavor, saved.files) == ("keras", "keras", ["model.keras"])
    loaded = _reload(tmp_path / "m", saved)
    assert isinstance(loaded, keras.Model)
    assert np.array_equal(predict(loaded, inputs), predict(model, inputs))


# --- formats only on request --------------------------------------------------------------


def test_onnx_of_a_sklearn_pipeline_predicts_the_same(data, tmp_path):
    X, y, held_out = data
    model = _column_pipeline().fit(X, y)
    with pytest.raises(ValueError, match="sample="):
        save_model(model, tmp_path / "m", format="onnx")
    assert list((tmp_path / "m").iterdir()) == []  # nothing left behind
    saved = save_model(model, tmp_path / "m", format="onnx", sample=X)
    assert (saved.format, saved.files) == ("onnx", ["model.onnx"])
    assert saved.load_info["inputs"] == ["x1", "x2", "city"]
    loaded = _reload(tmp_path / "m", saved)
    assert np.array_equal(loaded.predict(held_out), model.predict(held_out))
    assert np.allclose(loaded.predict_proba(held_out), model.predict_proba(held_out))


def test_a_model_of_no_known_library_needs_pickle_and_pickle_needs_trust(tmp_path):
    model = Doubler(3.0)
    with pytest.raises(UnsupportedModelError) as unsupported:
        save_model(model, tmp_path / "m")
    message = str(unsupported.value)
    assert "tests.model_classes.Doubler" in message
    assert "format='pickle'" in message and "format='onnx'" in message
    saved = save_model(model, tmp_path / "m", format="pickle")
    assert (saved.format, saved.unsafe, saved.files) == ("pickle", True, ["model.pkl"])
    for trusted in (False, ["tests.model_classes.Doubler"]):
        with pytest.raises(UntrustedModelError, match=r"execute arbitrary code.*trusted=True"):
            _reload(tmp_path / "m", saved, trusted=trusted)
    loaded = _reload(tmp_path / "m", saved, trusted=True)
    assert loaded.predict([1.0, 2.0]).tolist() == [3.0, 6.0]


class _Malicious:
    """Unpickling this would create ``marker``: code execution, as an attacker would do it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    saved = save_model(_Malicious(marker), tmp_path / "m", format="pickle")  # as a user logs it
    for trusted in (False, ["builtins.exec"]):
        with pytest.raises(UntrustedModelError, match="trusted=True"):
            _reload(tmp_path / "m", saved, trusted=trusted)
    # nor does editing the meta to look safe get it loaded
    with pytest.raises(UntrustedModelError):
        load_saved_model(tmp_path / "m", {**saved.to_meta(), "unsafe": False})
    assert not marker.exists()
    # the payload is live: trusting the file runs it (which is what the refusal prevents)
    _reload(tmp_path / "m", saved, trusted=True)
    assert marker.exists()


def test_bad_requests_are_clear(data, tmp_path):
    X, y, _ = data
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[["x1"]], y)
    assert set(FORMATS) == {
        "skops",
        "xgboost-json",
        "lightgbm-text",
        "torch-state-dict",
        "keras",
        "onnx",
        "pickle",
    }
    with pytest.raises(ValueError, match="unknown model format 'h5'"):
        save_model(model, tmp_path / "a", format="h5")
    with pytest.raises(UnsupportedModelError, match="format='xgboost-json' cannot save"):
        save_model(model, tmp_path / "a", format="xgboost-json")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(FileExistsError):
        save_model(model, tmp_path / "full")
    saved = save_model(model, tmp_path / "b")
    with pytest.raises(TypeError, match="model= is only for the torch-state-dict"):
        _reload(tmp_path / "b", saved, model=object())


def test_finding_the_format_imports_no_ml_library(tmp_path):
    """Every detector looks at a model of no known library; none may import torch, keras or
    the rest to decide (seconds each in a notebook). Saving as skops does import torch when
    it is installed: skops.io imports every scikit-learn module, array_api_compat's torch
    one included; that is skops' cost, not detection's."""
    code = (
        "import sys\n"
        "from jupyter_mltrack.models.formats import UnsupportedModelError, save_model\n"
        "from tests.model_classes import Doubler\n"
        "try:\n"
        f"    save_model(Doubler(), {str(tmp_path / 'm')!r})\n"
        "except UnsupportedModelError:\n"
        "    pass\n"
        "heavy = {'torch', 'keras', 'xgboost', 'lightgbm', 'onnx', 'skops', 'tensorflow'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    assert result.stdout.strip() == "[]"


# --- signatures ---------------------------------------------------------------------------


def _mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": np.arange(6, dtype="int32"),
            "score": [1.5, np.nan, np.inf, -2.0, 0.25, 3.0],
            "name": ["a", None, "c", "d", "e", "f"],
            "size": pd.Categorical(list("SMSLMS"), categories=list("SML"), ordered=True),
            "when": pd.to_datetime(
                [
                    "2024-01-01",
                    None,
                    "2024-03-01 12:30:00.5",
                    "2024-04-01",
                    "2024-05-01",
                    "2024-06-01",
                ],
                format="mixed",
            ),
            "local": pd.to_datetime(
                ["2024-01-01", "2024-07-01", None, "2024-04-01", "2024-05-01", "2024-06-01"]
            ).tz_localize("Europe/Paris"),
            "flag": [True, False, True, True, False, False],
            "maybe": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "took": pd.to_timedelta([1, 2, None, 4.5, 5, 6], unit="s"),
            "text": pd.array(["p", None, "r", "s", "t", "u"], dtype="string"),
        }
    )


def test_a_mixed_dtype_dataframe_signature_is_json_and_round_trips():
    frame = _mixed_frame()
    signature = infer_signature(frame)
    text = json.dumps(signature, allow_nan=False)  # JSON-safe: NaN and inf never raw
    columns = signature["inputs"]["columns"]
    assert [c["name"] for c in columns] == list(frame.columns)
    assert [c["dtype"] for c in columns] == [str(d) for d in frame.dtypes]
    assert columns[3]["categories"] == ["S", "M", "L"] and columns[3]["ordered"] is True
    assert signature["rows"] == 5 and signature["truncated"] is None
    rebuilt = examples_input(json.loads(text))
    pd.testing.assert_frame_equal(rebuilt, frame.head(5))


def test_arrays_and_lists_round_trip():
    array = np.array([[1.0, np.nan], [np.inf, 2.0], [3.0, 4.0]], dtype="float32")
    signature = json.loads(json.dumps(infer_signature(array, rows=2), allow_nan=False))
    assert signature["inputs"] == {"type": "ndarray", "shape": [None, 2], "dtype": "float32"}
    rebuilt = examples_input(signature)
    assert rebuilt.dtype == np.float32
    np.testing.assert_array_equal(rebuilt, array[:2])

    texts = ["good film", "bad film", "fine"]
    signature = infer_signature(texts)
    assert examples_input(signature) == texts and signature["inputs"]["item_type"] == "str"


def test_a_classifier_signature_records_predictions_and_probabilities(data):
    X, y, held_out = data
    model = _column_pipeline().fit(X, y)
    signature = infer_signature(held_out, model, rows=4)
    json.dumps(signature, allow_nan=False)
    assert signature["predictions"] == model.predict(held_out.head(4)).tolist()
    assert np.allclose(signature["probabilities"], model.predict_proba(held_out.head(4)))
    assert signature["outputs"] == {"type": "ndarray", "shape": [None], "dtype": "int64"}
    assert signature["prediction_error"] is None
    assert np.array_equal(model.predict(examples_input(signature)), model.predict(held_out.head(4)))
    # a model that cannot predict the sample: a signature still, with the reason
    broken = infer_signature(held_out[["x1"]], model)
    assert broken["predictions"] is None and broken["prediction_error"]


def test_the_signature_json_is_capped_by_keeping_fewer_rows():
    wide = pd.DataFrame({f"c{i}": ["x" * 100] * 5 for i in range(200)})  # ~20 KB a row
    signature = infer_signature(wide, lambda X: np.arange(len(X)), rows=5)
    size = len(json.dumps(signature).encode())
    assert size <= MAX_JSON_BYTES
    assert 1 <= signature["rows"] < 5 == signature["truncated"]["requested"]
    assert len(signature["examples"]["data"]) == signature["rows"]
    assert len(examples_input(signature)) == signature["rows"]
    assert signature["predictions"] == list(range(signature["rows"]))

    huge = pd.DataFrame({f"c{i}": ["y" * 1000] * 2 for i in range(100)})  # 100 KB a row
    signature = infer_signature(huge)
    assert signature["examples"] is None and signature["rows"] == 0
    assert "one example row" in signature["truncated"]["reason"]
    assert len(signature["inputs"]["columns"]) == 100  # the schema is always kept
    with pytest.raises(ValueError, match="no examples"):
        examples_input(signature)
