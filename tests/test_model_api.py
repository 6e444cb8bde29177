"""``mltrack.log_model`` / ``load_model`` / the registry, end to end in one process: a real
scikit-learn pipeline logged with its signature, registered, promoted and loaded back by
alias with the same predictions; and the refusals that keep untrusted code from running.
(Each format's own round trip is tests/test_model_formats.py's.)
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.models.formats import UntrustedModelError
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.errors import ModelHasAliases, ModelNotFound
from jupyter_mltrack.store.names import InvalidName


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


@pytest.fixture(scope="module")
def churn() -> tuple[object, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, 200).astype("int64"),
            "charges": rng.normal(70, 20, 200),
            "plan": rng.choice(["basic", "plus", "pro"], 200),
        }
    )
    y = (X["charges"] > 70).astype(int) ^ (X["plan"] == "pro").astype(int)
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["tenure", "charges"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=200)),
        ]
    )
    return pipe.fit(X, y), X


class Payload:
    """Pickles into a call that writes a file: what a hostile model file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_log_register_promote_and_load_by_alias(api_store: Store, churn: tuple) -> None:
    model, X = churn
    with mltrack.start_run(name="train") as run:
        info = mltrack.log_model(model, signature_from=X[:5], register="churn")
    assert info.format == "skops" and not info.unsafe and info.registered.version == 1
    assert info.signature is not None and len(info.signature["examples"]["data"]) == 5
    mltrack.set_alias("churn", "production", 1)

    loaded = mltrack.load_model("models:/churn@production")
    assert (loaded.predict(X) == model.predict(X)).all()
    by_run = mltrack.load_model(f"{run.number}/model")
    assert (by_run.predict_proba(X) == model.predict_proba(X)).all()

    meta = api_store.get_artifact(run.id, "model").meta
    assert meta["packages"]["scikit-learn"] and meta["python"]
    assert meta["signature"]["predictions"] == model.predict(X[:5]).tolist()
    lineage = mltrack.lineage("models:/churn@production")
    assert lineage["run"]["id"] == run.id
    assert [m.name for m in mltrack.list_models()] == ["churn"]
    assert mltrack.get_model("churn").aliases == {"production": 1}


def test_delete_model_takes_it_out_of_the_registry_and_leaves_the_run_its_model(
    api_store: Store, churn: tuple
) -> None:
    model, X = churn
    with mltrack.start_run() as run:
        mltrack.log_model(model, register="churn")
    mltrack.set_alias("churn", "production", 1)
    with pytest.raises(ModelHasAliases, match=r"holds @production \(v1\).*force=True"):
        mltrack.delete_model("churn")
    assert mltrack.get_model("churn").aliases == {"production": 1}
    mltrack.delete_model("churn", force=True)
    assert mltrack.list_models() == []
    with pytest.raises(ModelNotFound, match="no registered model 'churn'"):
        mltrack.load_model("models:/churn@production")
    with pytest.raises(ModelNotFound, match="no registered model 'churn'"):
        mltrack.delete_model("churn")
    kept = mltrack.load_model(f"{run.number}/model")  # the run's own model stays
    assert (kept.predict(X) == model.predict(X)).all()
    assert "delete_model" in mltrack.__all__ and "delete_model" in dir(mltrack)


def test_a_pipeline_leaves_the_registry_as_it_is(api_store: Store, churn: tuple) -> None:
    """The exported script's ``mltrack`` (``_Tracker``) hands what it does not define on to
    jupyter_mltrack; the registry's changes it defines, as doing nothing, so running a
    pipeline (or reproducing one) never moves an alias or deletes a model."""
    from jupyter_mltrack.pipeline.script_runtime import _TRACKER

    namespace: dict[str, object] = {}
    exec(_TRACKER, namespace)
    tracker = namespace["_Tracker"]()  # type: ignore[operator]
    model, _X = churn
    with mltrack.start_run():
        mltrack.log_model(model, register="churn")
    assert tracker.set_alias("churn", "production", 1) is None
    assert tracker.delete_alias("churn", "production") is None
    assert tracker.delete_model("churn", force=True) is None
    assert tracker.describe_model("churn", "rewritten") is None
    assert tracker.set_model_tag("churn", "team", "x") is None
    assert tracker.delete_model_tag("churn", "team") is None
    assert tracker.set_model_version_tag("churn", 1, "validation", "failed") is None
    assert tracker.delete_model_version_tag("churn", 1, "validation") is None
    registered = mltrack.get_model("churn")
    assert ([v.version for v in registered.versions], registered.aliases) == ([1], {})
    assert (registered.description, registered.tags, registered.versions[0].tags) == ("", {}, {})


def test_a_pipeline_takes_every_argument_the_notebook_gave() -> None:
    """The exported script's ``mltrack.log_*`` are the tracker's: each takes the arguments
    jupyter_mltrack's takes, or the notebook's own call fails in the pipeline (as
    ``log_table(..., key=)`` did before the tracker took it)."""
    import inspect

    from jupyter_mltrack.pipeline.script_runtime import _TRACKER

    namespace: dict[str, object] = {}
    exec(_TRACKER, namespace)
    tracker = namespace["_Tracker"]
    for name in ("log_artifact", "log_text", "log_dict", "log_figure", "log_image", "log_table"):
        theirs = set(inspect.signature(getattr(tracker, name)).parameters) - {"self"}
        ours = set(inspect.signature(getattr(mltrack, name)).parameters)
        assert theirs == ours, (name, ours ^ theirs)


def test_log_model_refuses_a_bad_registry_name_before_storing_anything(
    api_store: Store, churn: tuple
) -> None:
    """Registering comes after the model is stored: a name the registry refuses must be
    said first, or the run keeps a model the call said it could not log."""
    model, _X = churn
    with pytest.raises(InvalidName, match="model name 'bad/name'"):
        mltrack.log_model(model, register="bad/name")
    assert api_store.search_runs()[1] == 0  # no run started for it either
    with mltrack.start_run() as run, pytest.raises(InvalidName, match=r"model name '\.\.'"):
        mltrack.log_model(model, register="..")
    assert api_store.list_artifacts(run.id) == []
    assert list(api_store.blobs.iter_digests()) == []


def test_arguments_of_the_wrong_kind_are_named_in_the_error(api_store: Store, churn: tuple) -> None:
    """A bad argument is said by the function it was given to, naming the argument (not
    ``int()``'s "invalid literal", not an internal loader's signature)."""
    model, X = churn
    with mltrack.start_run():
        mltrack.log_model(model, register="churn")
    with pytest.raises(
        ValueError, match=r"set_alias: version must be a version number such as 3, not 'two'"
    ):
        mltrack.set_alias("churn", "production", "two")
    for version in (1.0, None, True):
        with pytest.raises(TypeError, match="set_alias: version must be a version number"):
            mltrack.set_alias("churn", "production", version)
    assert mltrack.get_model("churn").aliases == {}
    mltrack.set_alias("churn", "production", "1")
    mltrack.set_alias("churn", "staging", np.int64(1))
    assert mltrack.get_model("churn").aliases == {"production": 1, "staging": 1}

    for extra in ({"foo": 1}, {"model": model}):  # model= is for a PyTorch state_dict only
        name = next(iter(extra))
        with pytest.raises(
            TypeError,
            match=rf"^load_model\(\) got an unexpected keyword argument '{name}': loading "
            r"'models:/churn@production' \(a skops model\) takes trusted=, store=$",
        ):
            mltrack.load_model("models:/churn@production", **extra)
    loaded = mltrack.load_model("models:/churn@production", trusted=False)
    assert (loaded.predict(X) == model.predict(X)).all()


def test_load_model_passes_model_on_to_a_state_dict_and_names_what_it_takes(
    api_store: Store,
) -> None:
    torch = pytest.importorskip("torch")
    from .model_classes_torch import TinyNet

    torch.manual_seed(0)
    net = TinyNet().eval()
    with mltrack.start_run():
        info = mltrack.log_model(net, "net")
    into = TinyNet()
    assert mltrack.load_model(info.ref, model=into) is into
    assert all(torch.equal(a, b) for a, b in zip(into.parameters(), net.parameters(), strict=True))
    with pytest.raises(
        TypeError, match=r"\(a torch-state-dict model\) takes trusted=, store=, model=$"
    ):
        mltrack.load_model(info.ref, weights_only=True)


def test_the_same_model_logged_twice_is_stored_once(api_store: Store, churn: tuple) -> None:
    model, _X = churn
    with mltrack.start_run():
        mltrack.log_model(model)
    blobs = sorted(api_store.blobs.iter_digests())
    with mltrack.start_run():
        mltrack.log_model(model, "again")
    assert sorted(api_store.blobs.iter_digests()) == blobs


def test_a_malicious_pickle_never_runs(api_store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    with mltrack.start_run() as run:
        info = mltrack.log_model(Payload(marker), "evil", format="pickle")
    assert info.unsafe and not marker.exists()
    with pytest.raises(UntrustedModelError, match="trusted=True"):
        mltrack.load_model(f"{run.id}/evil")
    with pytest.raises(UntrustedModelError):
        mltrack.load_model(f"{run.id}/evil", trusted=["builtins.exec"])
    assert not marker.exists()
    # the registry does not launder it: loading by alias refuses the same way
    mltrack.register_model("evil", info)
    mltrack.set_alias("evil", "production", 1)
    with pytest.raises(UntrustedModelError):
        mltrack.load_model("models:/evil@production")
    assert not marker.exists()
    # proof the payload is live: the plain pickle module would run it
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.read_text() == "pwned"
    os.remove(marker)


def test_load_model_refuses_artifacts_that_are_not_models(api_store: Store) -> None:
    with mltrack.start_run() as run:
        mltrack.log_text("hello", "notes.txt")
    with pytest.raises(ValueError, match="is a text artifact, not a model"):
        mltrack.load_model(f"{run.id}/notes.txt")
    with pytest.raises(ValueError, match="RUN/NAME"):
        mltrack.load_model("not a reference")


def test_a_sequential_is_loaded_into_the_model_passed(api_store: Store) -> None:
    """``log_model`` says, at the user's line, that an ``nn.Sequential`` needs ``model=``
    to load; ``load_model`` without it says the same rather than torch's list of keys."""
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with mltrack.start_run(), pytest.warns(UserWarning, match="model=nn.Sequential") as caught:
        info = mltrack.log_model(net, "net")
    assert [w.filename for w in caught if "Sequential" in str(w.message)] == [__file__]
    with pytest.raises(RuntimeError, match=r"load_model\(ref, model=nn\.Sequential"):
        mltrack.load_model(info.ref)
    loaded = mltrack.load_model(info.ref, model=torch.nn.Sequential(torch.nn.Linear(3, 2)))
    assert torch.equal(loaded[0].weight, net[0].weight)


def test_a_library_installed_under_another_distribution_name_is_recorded(
    api_store: Store,
) -> None:
    """The model's library is recorded by the distributions that install its module, as a
    run's environment is: here xgboost, whose distribution may be ``xgboost-cpu``."""
    from importlib import metadata

    import xgboost

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    booster = xgboost.XGBClassifier(n_estimators=2).fit(X, (X.a > 10).astype(int))
    with mltrack.start_run() as run:
        mltrack.log_model(booster, "booster")
    installed = {d: metadata.version(d) for d in metadata.packages_distributions()["xgboost"]}
    assert installed and xgboost.__version__ in installed.values()
    packages = api_store.get_artifact(run.id, "booster").meta["packages"]
    assert installed.items() <= packages.items()
    assert {"numpy", "pandas", "scipy"} <= packages.keys()
    lineage = mltrack.lineage(f"{run.id}/booster")
    assert installed.items() <= lineage["environment"]["packages"].items()


def test_signature_rows_the_model_cannot_predict_warn_and_the_model_is_logged(
    api_store: Store, churn: tuple
) -> None:
    model, X = churn
    wrong = pd.DataFrame({"zz": [1.0]})
    with mltrack.start_run(), pytest.warns(UserWarning, match="could not predict") as caught:
        info = mltrack.log_model(model, "clf", signature_from=wrong)
    [warning] = [w for w in caught if "signature_from" in str(w.message)]
    assert warning.filename == __file__  # the user's line, not this package's
    assert "(ValueError: columns are missing: " in str(warning.message)
    assert info.signature["prediction_error"].startswith("ValueError")
    assert info.signature["inputs"]["columns"][0]["name"] == "zz"
    assert (mltrack.load_model(info.ref).predict(X) == model.predict(X)).all()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows it takes: nothing to say
        with mltrack.start_run():
            mltrack.log_model(model, "clf", signature_from=X[:3])


def test_rows_no_signature_can_be_taken_from_warn_and_the_model_is_logged(
    api_store: Store,
) -> None:
    """A model trained on a scipy sparse matrix, with its test rows as signature_from: no
    signature is taken from a sparse matrix, but the model is logged (a warning at the
    user's line says why), and loads back."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    X = sp.random(40, 30, density=0.2, format="csr", random_state=0)
    y = np.arange(40) % 2
    model = LogisticRegression().fit(X, y)
    with mltrack.start_run(), pytest.warns(UserWarning, match="no signature") as caught:
        info = mltrack.log_model(model, "sparse", signature_from=X[:5])
    [warning] = [w for w in caught if "signature_from" in str(w.message)]
    assert warning.filename == __file__
    assert "(TypeError: cannot infer a signature from a csr_matrix" in str(warning.message)
    assert info.signature is None
    assert (mltrack.load_model(info.ref).predict(X) == model.predict(X)).all()


def test_what_a_load_will_need_to_trust_is_shown_when_logged(
    api_store: Store, churn: tuple
) -> None:
    """Gradient boosting keeps its trees as a type skops does not trust by default: the
    ModelInfo ``log_model`` returns names it, with the argument that loads the model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    _, X = churn
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer([("cat", OneHotEncoder(), ["plan"])], remainder="passthrough"),
            ),
            ("gbm", GradientBoostingClassifier(n_estimators=3, random_state=0)),
        ]
    ).fit(X, X["charges"] > 70)
    with mltrack.start_run() as run:
        info = mltrack.log_model(pipe, "gbm")
    recorded = api_store.get_artifact(run.id, "gbm").meta["untrusted_types"]
    assert "sklearn.tree._tree.Tree" in recorded
    assert info.untrusted_types == tuple(recorded) and not info.unsafe
    assert repr(info) == (
        f"<ModelInfo {info.ref} (skops); load with "
        f"mltrack.load_model({info.ref!r}, trusted={list(recorded)!r})>"
    )
    with pytest.raises(UntrustedModelError, match="sklearn.tree._tree.Tree"):
        mltrack.load_model(info.ref)
    loaded = mltrack.load_model(info.ref, trusted=list(info.untrusted_types))
    assert (loaded.predict(X) == pipe.predict(X)).all()

    # a model skops trusts needs nothing; a pickle needs trusted=True
    with mltrack.start_run():
        plain = mltrack.log_model(churn[0], "plain")
        pickled = mltrack.log_model({"w": [1, 2]}, "pickled", format="pickle")
    assert plain.untrusted_types == () and repr(plain).endswith("(skops)>")
    assert repr(pickled).endswith(
        f"; unsafe, loading runs code: mltrack.load_model({pickled.ref!r}, trusted=True)>"
    )


def test_load_model_of_a_version_no_model_can_have_is_not_found(api_store: Store) -> None:
    with mltrack.start_run():
        info = mltrack.log_model(Payload(Path("unused")), "evil", format="pickle")
    assert mltrack.register_model("evil", info) == 1
    with pytest.raises(ModelNotFound, match="model 'evil' has no version 9{23} "):
        mltrack.load_model("models:/evil/" + "9" * 23)


def test_describe_and_tag_versions_as_mlflow_users_do(api_store: Store, churn: tuple) -> None:
    """``register_model(..., description=, tags=)``, ``describe_model`` (the model, or one
    version), ``set_model_version_tag`` and ``delete_model_version_tag``; the version is a
    number or its digits; a bad tag is refused before the version is registered."""
    model, _ = churn
    with mltrack.start_run():
        info = mltrack.log_model(model)
    with pytest.raises(InvalidName, match="at most 5,000 characters"):
        mltrack.register_model("churn", info, tags={"notes": "x" * 5001})
    assert mltrack.list_models() == []  # refused before anything was registered
    version = mltrack.register_model(
        "churn", info, description="baseline", tags={"validation": "pending", "auc": 0.9}
    )
    assert version == 1
    assert mltrack.register_model("churn", info, tags={"owner": "ana"}) == 1  # tags added
    mltrack.describe_model("churn", "Who leaves next month")
    mltrack.describe_model("churn", "baseline, retrained", version="1")
    mltrack.set_model_version_tag("churn", np.int64(1), "validation", "passed")
    mltrack.delete_model_version_tag("churn", 1, "auc")
    got = mltrack.get_model("churn")
    assert got.description == "Who leaves next month"
    (v1,) = got.versions
    assert v1.description == "baseline, retrained"
    assert v1.tags == {"owner": "ana", "validation": "passed"}
    with pytest.raises(ModelNotFound, match=r"no tag 'auc' \(its tags: owner, validation\)"):
        mltrack.delete_model_version_tag("churn", 1, "auc")
    with pytest.raises(TypeError, match="set_model_version_tag: version must be a version"):
        mltrack.set_model_version_tag("churn", 1.0, "a", "b")
    with pytest.raises(ModelNotFound, match="has no version 2"):
        mltrack.describe_model("churn", "x", version=2)
    for name in ("describe_model", "set_model_version_tag", "delete_model_version_tag"):
        assert name in mltrack.__all__ and name in dir(mltrack)


def test_a_model_carries_tags_of_its_own(api_store: Store, churn: tuple) -> None:
    """``set_model_tag`` / ``delete_model_tag`` (MLflow's registered model tags): on the
    model, beside its versions' own; listed with it; the versions' tags untouched."""
    model, _ = churn
    with mltrack.start_run():
        mltrack.log_model(model, register="churn")
    mltrack.set_model_version_tag("churn", 1, "validation", "passed")
    mltrack.set_model_tag("churn", "team", "growth")
    mltrack.set_model_tag("churn", "rows", 10_000)  # kept as text, as a version's
    mltrack.delete_model_tag("churn", "rows")
    got = mltrack.get_model("churn")
    assert got.tags == {"team": "growth"}
    assert got.versions[0].tags == {"validation": "passed"}
    assert mltrack.list_models()[0].tags == {"team": "growth"}
    assert [m.name for m in mltrack.list_models(tags={"team": "growth"})] == ["churn"]
    assert mltrack.list_models(tags={"team": "risk"}) == []
    assert got.to_dict()["tags"] == {"team": "growth"}
    with pytest.raises(ModelNotFound, match=r"model 'churn' has no tag 'rows' \(its tags: team\)"):
        mltrack.delete_model_tag("churn", "rows")
    with pytest.raises(ModelNotFound, match="no registered model 'fraud'"):
        mltrack.set_model_tag("fraud", "team", "x")
    with pytest.raises(InvalidName, match="at most 5,000 characters"):
        mltrack.set_model_tag("churn", "notes", "x" * 5001)
    assert mltrack.get_model("churn").tags == {"team": "growth"}  # nothing half-done
    for name in ("set_model_tag", "delete_model_tag"):
        assert name in mltrack.__all__ and name in dir(mltrack)
