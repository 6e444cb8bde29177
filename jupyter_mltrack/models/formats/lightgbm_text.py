"""LightGBM boosters and scikit-learn wrappers, saved as LightGBM's text model.

The text model is the booster only. A wrapper (LGBMClassifier, ...) also holds its fitted
state as plain attributes (classes, label encoder, objective, best iteration); those are kept
as JSON in ``load_info["state"]`` and set back on a fresh instance around the reloaded
booster, so ``predict`` returns labels exactly as before. If some attribute is not plain
data (a custom objective function, say), the wrapper cannot be rebuilt safely: loading then
returns the ``lightgbm.Booster`` (with a warning), whose ``predict`` gives raw predictions
(probabilities for a classifier, not labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _state
from ._base import (
    SavedModel,
    Trusted,
    UnsupportedModelError,
    check_version,
    class_path,
    from_library,
    resolve_class,
    warn_caller,
)

NAME = "lightgbm-text"
FILE = "model.txt"


def detect(model: Any) -> bool:
    return from_library(model, "lightgbm")


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    import lightgbm

    info: dict[str, Any] = {"file": FILE, "class": class_path(type(model))}
    if isinstance(model, lightgbm.LGBMModel):
        booster = model.booster_  # raises LGBMNotFittedError on an unfitted wrapper
        info["kind"] = "sklearn"
        state = {k: v for k, v in vars(model).items() if k != "_Booster"}
        try:
            info["state"] = _state.encode(state, "attribute")
        except _state.NotEncodable as exc:
            info["state"] = None
            info["state_error"] = str(exc)
    elif isinstance(model, lightgbm.Booster):
        booster = model
        info["kind"] = "booster"
    else:
        raise UnsupportedModelError(
            f"{type(model).__qualname__} is neither a lightgbm.Booster nor a LightGBM "
            "scikit-learn estimator (LGBMClassifier, LGBMRegressor, ...)"
        )
    # every iteration (not just the best), and the best one noted, as the booster had it
    booster.save_model(str(folder / FILE), num_iteration=-1)
    info["best_iteration"] = int(booster.best_iteration)
    return SavedModel(
        format=NAME, flavor="lightgbm", library_version=lightgbm.__version__, load_info=info
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import lightgbm

    check_version(info, lightgbm.__version__)
    load_info = info.load_info
    booster = lightgbm.Booster(model_file=str(folder / str(load_info.get("file", FILE))))
    booster.best_iteration = int(load_info.get("best_iteration") or 0)
    if load_info.get("kind") != "sklearn":
        return booster
    if load_info.get("state") is None:
        warn_caller(
            f"the {load_info.get('class')} wrapper could not be rebuilt "
            f"({load_info.get('state_error')}): this is its lightgbm.Booster, whose predict "
            "returns raw predictions"
        )
        return booster
    cls = resolve_class(str(load_info["class"]), lightgbm.LGBMModel, what="LightGBM model")
    restored = cls.__new__(cls)  # as unpickling does: no __init__, the state set back
    restored.__dict__.update(_state.decode(load_info["state"]))
    restored._Booster = booster
    return restored
