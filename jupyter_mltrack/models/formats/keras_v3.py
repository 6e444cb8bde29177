"""Keras 3 models, saved in the native ``.keras`` format (config JSON plus weights).

Loaded with ``safe_mode=True``, which refuses to deserialize Lambda layers' bytecode (code
execution); ``trusted=True`` lifts it. Custom layers load when their classes are registered
with Keras (``keras.saving.register_keras_serializable``), as Keras requires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import (
    SavedModel,
    Trusted,
    UnsupportedModelError,
    UntrustedModelError,
    check_version,
    from_library,
)

NAME = "keras"
FILE = "model.keras"


def detect(model: Any) -> bool:
    return from_library(model, "keras")


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    import keras

    if not isinstance(model, keras.Model):
        raise UnsupportedModelError(
            f"{type(model).__qualname__} is a Keras object but not a keras.Model: "
            "wrap it in a model (keras.Sequential([...])) to save it"
        )
    model.save(folder / FILE)
    return SavedModel(
        format=NAME,
        flavor="keras",
        library_version=keras.__version__,
        load_info={"file": FILE, "backend": keras.backend.backend()},
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import keras

    check_version(info, keras.__version__)
    path = folder / str(info.load_info.get("file", FILE))
    try:
        return keras.saving.load_model(path, safe_mode=trusted is not True)
    except ValueError as exc:
        if "safe_mode" not in str(exc):
            raise
        raise UntrustedModelError(
            f"{path.name} holds code (a Lambda layer) that loading would run: pass "
            "trusted=True only if you trust where this model comes from"
        ) from exc
