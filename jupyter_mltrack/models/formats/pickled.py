"""Any Python object, pickled (with cloudpickle when installed, so notebook-defined classes
and functions go by value). Only on request (``format="pickle"``) and marked unsafe.

Unpickling runs whatever callables the file names, so a tampered file executes code on the
loading machine: loading refuses unless ``trusted=True``, and nothing in the file is read
before that check.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ._base import SavedModel, Trusted, UntrustedModelError, check_version, module_version

NAME = "pickle"
FILE = "model.pkl"


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    try:
        import cloudpickle as pickler
    except ImportError:
        pickler = pickle  # type: ignore[no-redef]
    with open(folder / FILE, "wb") as file:
        pickler.dump(model, file, protocol=pickle.HIGHEST_PROTOCOL)
    root = type(model).__module__.partition(".")[0]
    return SavedModel(
        format=NAME,
        flavor=root,
        library_version=module_version(root),
        load_info={
            "file": FILE,
            "pickler": pickler.__name__,
            "pickler_version": module_version(pickler.__name__),
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
        },
        unsafe=True,
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    path = folder / str(info.load_info.get("file", FILE))
    if trusted is not True:
        raise UntrustedModelError(
            f"{path.name} is a pickle: loading it runs whatever code the file names, so a "
            "tampered or foreign file can execute arbitrary code on this machine. Pass "
            "trusted=True only if you trust where it comes from (the run that logged it "
            "and the store it is kept in)"
        )
    with open(path, "rb") as file:
        loaded = pickle.load(file)  # cloudpickle's output is ordinary pickle data
    check_version(info, module_version(info.flavor))
    return loaded
