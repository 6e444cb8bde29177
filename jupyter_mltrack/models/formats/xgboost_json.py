"""XGBoost boosters and scikit-learn wrappers, saved in XGBoost's own JSON model format.

The JSON format is XGBoost's portable one (no pickle); its ``save_model`` on a wrapper also
keeps the scikit-learn attributes (classes, feature names), so recording the wrapper's class
is enough to get the same kind of object back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import (
    SavedModel,
    Trusted,
    UnsupportedModelError,
    check_version,
    class_path,
    from_library,
    resolve_class,
)

NAME = "xgboost-json"
FILE = "model.json"


def detect(model: Any) -> bool:
    return from_library(model, "xgboost")


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    import xgboost

    if isinstance(model, xgboost.XGBModel):
        kind = "sklearn"
    elif isinstance(model, xgboost.Booster):
        kind = "booster"
    else:
        raise UnsupportedModelError(
            f"{type(model).__qualname__} is neither an xgboost.Booster nor an XGBoost "
            "scikit-learn estimator (XGBClassifier, XGBRegressor, ...)"
        )
    model.save_model(str(folder / FILE))
    return SavedModel(
        format=NAME,
        flavor="xgboost",
        library_version=xgboost.__version__,
        load_info={"file": FILE, "kind": kind, "class": class_path(type(model))},
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import xgboost

    check_version(info, xgboost.__version__)
    path = str(folder / str(info.load_info.get("file", FILE)))
    if info.load_info.get("kind") == "booster":
        return xgboost.Booster(model_file=path)
    cls = resolve_class(str(info.load_info["class"]), xgboost.XGBModel, what="XGBoost model")
    restored = cls()
    restored.load_model(path)
    return restored
