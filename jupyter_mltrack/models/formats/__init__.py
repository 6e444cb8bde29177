"""Saving a model to a folder in a format of its own library, and loading it back safely.

Each format lives in its own module, imports its library only when used, and says what
``load_saved_model`` needs in ``SavedModel.load_info``. A model's format is found from the
modules its class comes from, without importing torch or keras to find out (seconds each).
Formats that would run code when loading are chosen only on request and refused when
loading unless trusted: pickle always; skops for types beyond its default trusted list;
Keras for Lambda layers.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from . import (
    keras_v3,
    lightgbm_text,
    onnx_sklearn,
    pickled,
    sklearn_skops,
    torch_state_dict,
    xgboost_json,
)
from ._base import SavedModel, UnsupportedModelError, UntrustedModelError, list_files

__all__ = [
    "FORMATS",
    "SavedModel",
    "UnsupportedModelError",
    "UntrustedModelError",
    "load_options",
    "load_saved_model",
    "save_model",
]

_MODULES: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        sklearn_skops,
        xgboost_json,
        lightgbm_text,
        torch_state_dict,
        keras_v3,
        onnx_sklearn,
        pickled,
    )
}
#: every format ``save_model`` can write, by name
FORMATS: tuple[str, ...] = tuple(_MODULES)

# Tried in this order: Keras (on the torch backend, a Keras model is also a torch Module),
# XGBoost and LightGBM (their wrappers derive from scikit-learn's BaseEstimator), then the
# rest of scikit-learn.
_DETECTED = (keras_v3, torch_state_dict, xgboost_json, lightgbm_text, sklearn_skops)


def save_model(
    model: Any, folder: Path | str, *, format: str | None = None, sample: Any = None
) -> SavedModel:
    """Write ``model``'s files into ``folder`` (created if missing; must be empty).

    ``format`` None picks the model's library's own format; name one of ``FORMATS`` to
    choose ("onnx" needs ``sample``, rows of the input; "pickle" is marked unsafe). On
    failure the folder is left empty again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: save_model writes into an empty folder")
    module = _format_for(model, format)
    try:
        saved = module.save(model, folder, sample=sample)
    except BaseException:
        for child in folder.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise
    return replace(saved, files=list_files(folder))


def load_options(format: str) -> tuple[str, ...]:
    """The keyword arguments :func:`load_saved_model` takes for a model of ``format``
    besides ``trusted``: what ``mltrack.load_model`` can pass on, and names when given
    another."""
    return ("model",) if _MODULES.get(format) is torch_state_dict else ()


def load_saved_model(
    folder: Path | str,
    info: dict[str, Any] | SavedModel,
    *,
    trusted: bool | Sequence[str] = False,
    model: Any = None,
) -> Any:
    """The model ``save_model`` wrote into ``folder``, described by ``info`` (its ``to_meta()``;
    an artifact's whole meta does too).

    ``trusted``: ``True`` to allow everything (needed for pickle and Keras Lambda layers), or
    the names of the skops types to allow; anything else not trusted by default raises
    ``UntrustedModelError`` before any of it is built. ``model``: torch-state-dict only, an
    instance to load the weights into (for classes that cannot be rebuilt by import path).
    """
    saved = info if isinstance(info, SavedModel) else SavedModel.from_meta(info)
    module = _MODULES.get(saved.format)
    if module is None:
        raise ValueError(f"unknown model format {saved.format!r}; known: {', '.join(FORMATS)}")
    if model is not None and module is not torch_state_dict:
        raise TypeError(f"model= is only for the torch-state-dict format, not {saved.format}")
    return module.load(Path(folder), saved, trusted=trusted, model=model)


def _format_for(model: Any, format: str | None) -> ModuleType:
    if format is not None:
        module = _MODULES.get(format)
        if module is None:
            raise ValueError(f"unknown model format {format!r}; choose one of {', '.join(FORMATS)}")
        # a library's own format on a model of another library: say so before importing it
        if module in _DETECTED and module is not sklearn_skops and not module.detect(model):
            raise UnsupportedModelError(
                f"format={format!r} cannot save a {_type_name(model)}; {_choices()}"
            )
        return module
    for module in _DETECTED:
        if module.detect(model):
            return module
    raise UnsupportedModelError(f"no model format knows a {_type_name(model)}; {_choices()}")


def _type_name(model: Any) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def _choices() -> str:
    return (
        "formats are found for scikit-learn (skops), XGBoost (xgboost-json), LightGBM "
        "(lightgbm-text), PyTorch (torch-state-dict) and Keras (keras) models. Otherwise pass "
        "format='pickle' (unsafe: loading it runs code, so it needs trusted=True) or, for a "
        "scikit-learn model, format='onnx' with sample=X. Formats: " + ", ".join(FORMATS)
    )
