"""PyTorch modules, saved as their state dict: tensors only, loaded with ``weights_only=True``.

A state dict is weights, not code, so loading one runs nothing; the price is that the module's
class must be built again. The class is recorded as ``"module:QualName"`` and rebuilt by
calling it with the keyword arguments the model lists in ``_mltrack_init_kwargs`` (a dict the
user's ``__init__`` can set, e.g. ``self._mltrack_init_kwargs = {"hidden": hidden}``), or with
none. When that cannot work (a class defined in a notebook, whose module is ``__main__``, in
another kernel; an ``__init__`` that needs objects), ``load_saved_model(..., model=instance)``
loads the weights into an instance the caller built.

The module comes back in the mode it was saved in (``training`` recorded), as unpickling it
would; ``signature.predict`` switches to eval mode for its forward pass only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from ._base import (
    SavedModel,
    Trusted,
    UnsupportedModelError,
    check_version,
    class_path,
    resolve_class,
)

NAME = "torch-state-dict"
FILE = "state_dict.pt"
#: the attribute a module can set to the keyword arguments that rebuild it
INIT_KWARGS_ATTR = "_mltrack_init_kwargs"


def detect(model: Any) -> bool:
    return any(
        cls.__module__ == "torch.nn.modules.module" and cls.__name__ == "Module"
        for cls in type(model).__mro__
    )


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise UnsupportedModelError(f"{type(model).__qualname__} is not a torch.nn.Module")
    kwargs = getattr(model, INIT_KWARGS_ATTR, None)
    if kwargs is not None:
        try:
            if not isinstance(kwargs, dict):
                raise TypeError("not a dict")
            json.dumps(kwargs, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{INIT_KWARGS_ATTR} must be a dict of JSON values (numbers, strings, lists, "
                f"dicts) to rebuild {type(model).__qualname__} with: {exc}"
            ) from None
    cls = type(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        warnings.warn(
            f"{cls.__qualname__} is defined in the notebook, not in an importable module: "
            f"loading this model will need {cls.__qualname__} defined again (run its cell) "
            f"or model={cls.__qualname__}(...) to load the weights into",
            UserWarning,
            stacklevel=3,
        )
    torch.save(model.state_dict(), folder / FILE)
    return SavedModel(
        format=NAME,
        flavor="torch",
        library_version=torch.__version__,
        load_info={
            "file": FILE,
            "class": class_path(cls),
            "init_kwargs": kwargs,
            "training": bool(model.training),
        },
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import torch

    check_version(info, torch.__version__)
    load_info = info.load_info
    state = torch.load(
        folder / str(load_info.get("file", FILE)), map_location="cpu", weights_only=True
    )
    if model is None:
        cls = resolve_class(str(load_info["class"]), torch.nn.Module, what="torch module")
        kwargs = load_info.get("init_kwargs") or {}
        try:
            model = cls(**kwargs)
        except TypeError as exc:
            raise TypeError(
                f"cannot rebuild {cls.__qualname__}(**{kwargs!r}): {exc}. Set "
                f"{INIT_KWARGS_ATTR} = {{...}} on the module before logging it, or pass "
                f"model={cls.__qualname__}(...) to load the weights into"
            ) from exc
    elif not isinstance(model, torch.nn.Module):
        raise TypeError(f"model= must be a torch.nn.Module, not {type(model).__qualname__}")
    model.load_state_dict(state)
    model.train(bool(load_info.get("training", False)))
    return model
