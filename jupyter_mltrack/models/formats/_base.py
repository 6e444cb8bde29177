"""What every model format shares: the record of a saved model, the errors, the trust rules.

Kept apart from the format modules so that each of them (and ``__init__``) can use these
without importing one another, and without importing any ML library.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Trusted = bool | Sequence[str]


class UntrustedModelError(Exception):
    """Loading the model would run code, or build types, its owner has not said they trust."""


class UnsupportedModelError(Exception):
    """No format knows how to save this model (or the chosen format cannot save it)."""


@dataclass(frozen=True)
class SavedModel:
    """What ``save_model`` wrote, and all the loader needs besides the files themselves.

    Stored as JSON in the artifact's meta (``to_meta``), so every field is JSON-safe.
    """

    #: "skops", "xgboost-json", "lightgbm-text", "torch-state-dict", "keras", "onnx", "pickle"
    format: str
    #: the library the model comes from ("sklearn", "xgboost", "torch", ...)
    flavor: str
    #: that library's version when saved (a different major.minor warns when loading)
    library_version: str | None
    #: relative POSIX paths of the files written into the folder
    files: list[str] = field(default_factory=list)
    #: what the loader needs (class import paths, init kwargs, file names, ...)
    load_info: dict[str, Any] = field(default_factory=dict)
    #: loading runs arbitrary code (pickle): refused unless ``trusted=True``
    unsafe: bool = False
    #: skops: types in the file that are not on skops' default trusted list
    untrusted_types: list[str] = field(default_factory=list)

    def to_meta(self) -> dict[str, Any]:
        """A JSON-safe dict (fresh copies: mutating it does not touch this record)."""
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> SavedModel:
        """Rebuild from ``to_meta()`` output; other keys (an artifact's whole meta) are ignored."""
        try:
            return cls(
                format=str(meta["format"]),
                flavor=str(meta.get("flavor") or ""),
                library_version=meta.get("library_version"),
                files=list(meta.get("files") or []),
                load_info=dict(meta.get("load_info") or {}),
                unsafe=bool(meta.get("unsafe", False)),
                untrusted_types=list(meta.get("untrusted_types") or []),
            )
        except KeyError:
            raise ValueError("not a saved model's meta: it has no 'format'") from None


def trusted_names(trusted: Trusted) -> set[str] | bool:
    """``True`` for "trust everything", else the set of trusted type names.

    A lone string is one name, not a sequence of one-letter names.
    """
    if trusted is True:
        return True
    if trusted is False or trusted is None:
        return set()
    if isinstance(trusted, str):
        return {trusted}
    return {str(name) for name in trusted}


def class_path(cls: type) -> str:
    """``"package.module:Qual.Name"``, the form ``resolve_class`` reads back."""
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_class(path: str, base: type, *, what: str) -> type:
    """The class at ``"module:QualName"``, checked to be a subclass of ``base``.

    Loading only imports a module by name and looks a class up in it; the check that it
    is a subclass of the expected base keeps a tampered meta from handing us any other
    callable to call.
    """
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"{what}: {path!r} is not a 'module:ClassName' path")
    if "<locals>" in qualname:
        raise ImportError(
            f"{what} {qualname} was defined inside a function, so it cannot be imported "
            "by name: move it to module level (or pass model= where the format allows it)"
        )
    if module_name == "__main__":
        module = sys.modules.get("__main__")
    else:
        module = importlib.import_module(module_name)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            break
    if obj is None:
        if module_name == "__main__":
            raise ImportError(
                f"{what} {qualname} was defined in a notebook or script (__main__), which "
                "cannot be imported by name: run the cell that defines it first, move it "
                "into an importable module, or pass model=<an instance> to load into"
            )
        raise ImportError(f"{what}: module {module_name!r} has no {qualname!r}")
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise TypeError(f"{what}: {path} is not a subclass of {base.__module__}.{base.__name__}")
    return obj


#: This package's folder: frames under it are not where a user's call is.
_PACKAGE_DIR = str(Path(__file__).resolve().parents[2]) + os.sep


def warn_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn``, attributed to the first frame outside jupyter_mltrack: the user's
    line (``log_model(...)`` in a cell), however deep in this package the warning arose.
    A fixed ``stacklevel`` would point into this package when the path to it changes, and
    a UserWarning is shown once per place it is attributed to: one place in this package
    would warn once per process, and be silent for every later model it concerns."""
    frame = sys._getframe(1)
    level = 2  # warnings.warn's 1 is this function; 2 its caller
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _PACKAGE_DIR
    ):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def check_version(info: SavedModel, installed: str | None) -> None:
    """Warn (never fail) when the library's major.minor differs from the one that saved it.

    A model saved by another minor version usually loads but may predict differently or
    break later; the user should know, not be stopped.
    """
    saved = info.library_version
    if not saved or not installed:
        return
    if _major_minor(saved) != _major_minor(installed):
        warn_caller(
            f"this {info.format} model was saved with {info.flavor} {saved}, and "
            f"{info.flavor} {installed} is loading it: predictions may differ"
        )


def _major_minor(version: str) -> tuple[int, ...] | str:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).release[:2]
    except InvalidVersion:
        return version


def from_library(model: Any, *roots: str) -> bool:
    """Whether the model's class, or one it derives from, comes from a top-level package in
    ``roots``; reads ``__module__`` names only, so no library gets imported to find out."""
    for cls in type(model).__mro__:
        module = getattr(cls, "__module__", None) or ""
        if module.partition(".")[0] in roots:
            return True
    return False


def module_version(name: str) -> str | None:
    """``__version__`` of an already imported top-level module, if it has one."""
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


def list_files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, POSIX, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
