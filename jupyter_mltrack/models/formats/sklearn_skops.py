"""scikit-learn estimators and pipelines, saved with skops.

skops writes a zip of JSON and arrays and, unlike pickle, rebuilds only types it trusts:
scikit-learn's own, numpy's, and those the user names. The types a file holds beyond the
default list are recorded at save time so a user can see them before loading; loading
checks the file itself again, since the meta is not what runs.
"""

from __future__ import annotations

import io
import json
import zipfile
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
    path.write_bytes(canonical(sio.dumps(model)))
    return SavedModel(
        format=NAME,
        flavor="sklearn",
        library_version=sklearn.__version__,
        load_info={"file": FILE, "skops_version": module_version("skops")},
        untrusted_types=sorted(sio.get_untrusted_types(file=path)),
    )


def canonical(data: bytes) -> bytes:
    """The same skops file, written so that the same model gives the same bytes.

    skops names its array files and ``__id__`` fields after ``id()`` of Python objects and
    stamps zip entries with the time: two dumps of one model differ, which would defeat the
    blob store's dedup (and make "did the model change?" unanswerable by digest). Ids are
    renumbered in the schema's order (one-to-one, so shared objects stay shared), entries
    are sorted and dated 1980-01-01; the content is otherwise unchanged."""
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
                        suffix = Path(value).suffix
                        out[key] = files.setdefault(value, f"{len(files)}{suffix}")
                    else:
                        out[key] = walk(value)
                return out
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        renamed = walk(schema)
        entries = {"schema.json": json.dumps(renamed, indent=2).encode()}
        for old, new in files.items():
            entries[new] = src.read(old)
        for info in src.infolist():  # anything the schema does not name, kept as it is
            if info.filename != "schema.json" and info.filename not in files:
                entries[info.filename] = src.read(info)
        method = src.infolist()[0].compress_type if src.infolist() else zipfile.ZIP_DEFLATED
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> Any:
    import sklearn

    sio = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    path = folder / str(info.load_info.get("file", FILE))
    allowed = trusted_names(trusted)
    # What decides is the file, never the meta: a meta edited to say "nothing untrusted"
    # must not help. skops' load audits the file before it builds anything, refusing any
    # type neither on its default list nor in ``trusted=`` (the types get_untrusted_types
    # lists, less those allowed), so one read both checks and loads. The list is read
    # apart only to word a refusal, and first when the meta foresees one: a load reads
    # every array before its audit refuses, and the list would read them all again.
    if allowed is not True and not set(info.untrusted_types) <= allowed:
        refusal = _refusal(path, sorted(sio.get_untrusted_types(file=path)), allowed)
        if refusal is not None:
            raise refusal
    # skops takes no trusted=True: the meta's list is tried first (one that falls short
    # costs a second read, with the file's own list)
    first = sorted(info.untrusted_types) if allowed is True else sorted(allowed)
    try:
        try:
            loaded = sio.load(path, trusted=first)
        except UntrustedTypesFoundException:
            found = sorted(sio.get_untrusted_types(file=path))
            if allowed is not True:
                refusal = _refusal(path, found, allowed)
                if refusal is not None:
                    raise refusal from None  # ours says the same, and how to allow them
                raise  # skops refused types its own list allows: keep its refusal
            loaded = sio.load(path, trusted=found)
    except (UntrustedModelError, UntrustedTypesFoundException):
        raise
    except Exception:
        check_version(info, sklearn.__version__)  # what a failure to build may come from
        raise
    check_version(info, sklearn.__version__)
    return loaded


def _refusal(path: Path, found: list[str], allowed: set[str]) -> UntrustedModelError | None:
    """The error for a file holding types (``found``: those off skops' default list) that
    ``allowed`` leaves out, naming them and the argument that allows them; else None."""
    missing = [t for t in found if t not in allowed]
    if not missing:
        return None
    return UntrustedModelError(
        f"{path.name} holds types skops does not trust by default: {', '.join(missing)}. "
        "Loading builds them, so only allow the ones you expect: pass "
        f"trusted={found!r} (or trusted=True to allow every type in the file)"
    )
