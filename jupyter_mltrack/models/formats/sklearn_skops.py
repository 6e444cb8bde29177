"""scikit-learn estimators and pipelines, saved with skops.

skops writes a zip of JSON and arrays and, unlike pickle, rebuilds only types it trusts:
scikit-learn's own, numpy's, and those the user names. The types a file holds beyond the
default list are recorded at save time so a user can see them before loading; loading
checks the file itself again, since the meta is not what runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import (
    SavedModel,
    Trusted,
    UntrustedModelError,
    check_version,
    from_library,
    module_version,
    trusted_names,
)

NAME = "skops"
FILE = "model.skops"


def detect(model: Any) -> bool:
    return from_library(model, "sklearn")


def _skops_io() -> Any:
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "saving a scikit-learn model needs skops: pip install 'jupyter_mltrack[models]' "
            "(or pass format='pickle', which is unsafe to load)"
        ) from None
    return skops.io


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    import sklearn

    sio = _skops_io()
    path = folder / FILE
    sio.dump(model, path)
    return SavedModel(
        format=NAME,
        flavor="sklearn",
        library_version=sklearn.__version__,
        load_info={"file": FILE, "skops_version": module_version("skops")},
        untrusted_types=sorted(sio.get_untrusted_types(file=path)),
    )


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import sklearn

    sio = _skops_io()
    path = folder / str(info.load_info.get("file", FILE))
    # from the file, not the meta: a meta edited to say "nothing untrusted" must not help
    found = sorted(sio.get_untrusted_types(file=path))
    allowed = trusted_names(trusted)
    missing = [] if allowed is True else [t for t in found if t not in allowed]
    if missing:
        listed = ", ".join(missing)
        raise UntrustedModelError(
            f"{path.name} holds types skops does not trust by default: {listed}. Loading "
            "builds them, so only allow the ones you expect: pass "
            f"trusted={found!r} (or trusted=True to allow every type in the file)"
        )
    check_version(info, sklearn.__version__)
    return sio.load(path, trusted=found)
