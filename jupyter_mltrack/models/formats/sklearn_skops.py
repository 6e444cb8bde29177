"""scikit-learn estimators and pipelines, saved with skops.

skops writes a zip of JSON and arrays and, unlike pickle, rebuilds only types it trusts:
scikit-learn's own, numpy's, and those the user names. The types a file holds beyond the
default list are recorded at save time so a user can see them before loading; loading
checks the file itself again, since the meta is not what runs.

A model is hundreds of MB at times, so both ways avoid passes over its arrays: saving
keeps skops' buffer rather than a copy, writes the canonical file straight to disk from
slices of it, and reads the types off the schema alone; loading lets skops' own audit
refuse the file, in the one read that builds the model.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ._base import (
    SavedModel,
    Trusted,
    UnsupportedModelError,
    UntrustedModelError,
    check_version,
    from_library,
    module_version,
    trusted_names,
    warn_caller,
)

NAME = "skops"
FILE = "model.skops"
#: The date every entry of a canonical file carries (the earliest a zip can hold).
EPOCH = (1980, 1, 1, 0, 0, 0)


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
    with open(path, "wb") as out:
        schema, names = write_canonical(_dumped(sio, model), out)
    untrusted = untrusted_in_schema(schema, names)
    _check_names(untrusted)
    return SavedModel(
        format=NAME,
        flavor="sklearn",
        library_version=sklearn.__version__,
        load_info={"file": FILE, "skops_version": module_version("skops")},
        untrusted_types=untrusted,
    )


def _check_names(types: list[str]) -> None:
    """skops keeps a function or class the model holds by its module and name, and loading
    imports it by them. A lambda, a function defined inside another, or a method such as
    ``str.split`` (skops names its type, ``builtins.method_descriptor``) cannot be reached
    that way, so such a model could be logged but never loaded: refused now, saying what
    to do. One defined in the notebook (``__main__``) loads only where that name is
    defined again: said now, not first in the process that loads it."""
    nameless = [t for t in types if _unreachable(t)]
    if nameless:
        raise UnsupportedModelError(
            f"this model holds {', '.join(nameless)}, which skops keeps by an import name "
            "that reaches nothing (a lambda, a function defined inside another, a method "
            "such as str.split), so it could never be loaded back: give it a function "
            "defined with def at the top level of a module or the notebook, or pass "
            "format='pickle' (cloudpickle keeps it by value; loading it then needs "
            "trusted=True)"
        )
    in_notebook = [t.removeprefix("__main__.") for t in types if t.startswith("__main__.")]
    if in_notebook:
        warn_caller(
            f"this model holds {', '.join(in_notebook)}, defined in this notebook or script "
            "(__main__): skops keeps it by name, so loading the model elsewhere needs it "
            "defined there first (move it into a module both import to load it anywhere)"
        )


def _unreachable(name: str) -> bool:
    """Whether ``module.attr`` (skops' name for a type or function) names nothing in its
    module as this process has it; a module not imported here is not looked into (the
    name came from an object of it, so it is imported unless skops' name is not its)."""
    if "<lambda>" in name or "<locals>" in name:
        return True
    module_name, _, rest = name.rpartition(".")
    while module_name and module_name not in sys.modules:
        module_name, _, head = module_name.rpartition(".")
        rest = f"{head}.{rest}"
    if not module_name:
        return False
    obj: Any = sys.modules[module_name]
    for part in rest.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return True
    return False


_MISSING = object()


class _OneWrite:
    """A file that keeps what is written to it rather than copying it."""

    def __init__(self) -> None:
        self.parts: list[Any] = []

    def write(self, data: Any) -> int:
        self.parts.append(data)
        return memoryview(data).nbytes


def _dumped(sio: Any, model: Any) -> memoryview | bytes:
    """skops' file of ``model``, without the copy ``dumps`` makes of it (a tenth of a
    second for 200 MB). ``dump`` builds the zip in a buffer of its own and writes it to
    the file in one call, then drops it: that one buffer is kept. Should a skops write in
    several calls (each may be a buffer it reuses after the call), ``dumps`` is used."""
    sink = _OneWrite()
    sio.dump(model, sink)
    if len(sink.parts) == 1:
        view = memoryview(sink.parts[0])
        return view if view.format == "B" and view.ndim == 1 else view.cast("B")
    return sio.dumps(model)


class _ViewReader(io.RawIOBase):
    """A read-only, seekable file over a buffer, without the copy ``io.BytesIO`` makes
    of anything but ``bytes``: where zipfile reads skops' file from."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        chunk = self._view[self._pos : self._pos + len(target)]
        target[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def canonical(data: bytes | memoryview) -> bytes:
    """The canonical form of a skops file (see ``write_canonical``), as bytes."""
    out = io.BytesIO()
    write_canonical(data, out)
    return out.getvalue()


def write_canonical(data: bytes | memoryview, dest: IO[bytes]) -> tuple[bytes, list[str]]:
    """Write the same skops file to ``dest`` (seekable), so that the same model gives the
    same bytes; returns the new ``schema.json`` and the names of the other entries.

    skops names its array files and ``__id__`` fields after ``id()`` of Python objects and
    stamps zip entries with the time: two dumps of one model differ, which would defeat the
    blob store's dedup (and make "did the model change?" unanswerable by digest). Ids are
    renumbered in the schema's order (one-to-one, so shared objects stay shared), entries
    are sorted and dated 1980-01-01; the content is otherwise unchanged.

    Stored (uncompressed) entries, all of skops' by default, are copied as slices of
    ``data``: not read through zipfile, which would copy them and check their CRC (the
    bytes come from skops in this process), while writing them computes it anyway."""
    view = memoryview(data).cast("B")
    with zipfile.ZipFile(_ViewReader(view)) as src:
        infos = src.infolist()
        present = {info.filename for info in infos}
        schema = json.loads(src.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                out = {}
                for key, value in node.items():
                    if key == "__id__" and isinstance(value, int):
                        out[key] = ids.setdefault(value, len(ids))
                    elif key == "file" and isinstance(value, str) and value in present:
                        suffix = Path(value).suffix
                        out[key] = files.setdefault(value, f"{len(files)}{suffix}")
                    else:
                        out[key] = walk(value)
                return out
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        renamed = json.dumps(walk(schema), indent=2).encode()
        by_name = {info.filename: info for info in infos}
        entries: dict[str, Any] = {"schema.json": renamed}
        for old, new in files.items():
            entries[new] = _content(src, view, by_name[old])
        for info in infos:  # anything the schema does not name, kept as it is
            if info.filename != "schema.json" and info.filename not in files:
                entries[info.filename] = _content(src, view, info)
        method = infos[0].compress_type if infos else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(dest, "w") as dst:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=EPOCH)
                info.compress_type = method
                info.external_attr = 0o644 << 16
                dst.writestr(info, entries[name])
    return renamed, sorted(n for n in entries if n != "schema.json")


def _content(src: zipfile.ZipFile, view: memoryview, info: zipfile.ZipInfo) -> Any:
    """An entry's uncompressed bytes: a slice of ``view`` where it is stored as is (and
    not encrypted), else read (and inflated) by zipfile."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return src.read(info)
    start = info.header_offset
    header = view[start : start + 30]  # the local header: its name and extra field vary
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename!r} in the skops file")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    begin = start + 30 + name_len + extra_len
    content = view[begin : begin + info.compress_size]
    if len(content) != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename!r} is cut short in the skops file")
    return content


def untrusted_in_schema(schema: bytes, names: Iterable[str]) -> list[str]:
    """``skops.io.get_untrusted_types`` of a skops file, from its ``schema.json`` alone.

    skops builds its tree of nodes from the schema; the entries it names (arrays, bytes,
    sparse matrices) it reads into buffers there, used only to build the objects later,
    never to audit them. So a zip of the schema beside an empty entry per name gets
    skops' own answer while reading none of the model's data (the file's would read it
    all: an eighth of a second for 200 MB). tests/test_model_formats.py checks that the
    answer is the one from the file."""
    sio = _skops_io()
    stand_in = io.BytesIO()
    with zipfile.ZipFile(stand_in, "w") as z:
        z.writestr("schema.json", schema)
        for name in names:
            z.writestr(name, b"")
    return sorted(sio.get_untrusted_types(data=stand_in.getvalue()))


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
    except AttributeError as exc:
        missing = _undefined_here(info.untrusted_types)
        if not missing:
            raise
        raise ImportError(
            f"{path.name} holds {', '.join(missing)}, defined in the notebook or script that "
            "logged it (__main__), which this process does not define: run the cell that "
            "defines it first, or move it into a module both import"
        ) from exc
    except Exception:
        check_version(info, sklearn.__version__)  # what a failure to build may come from
        raise
    check_version(info, sklearn.__version__)
    return loaded


def _undefined_here(types: list[str]) -> list[str]:
    """The ``__main__`` names among ``types`` that this process's ``__main__`` lacks."""
    main = sys.modules.get("__main__")
    names = [t.removeprefix("__main__.") for t in types if t.startswith("__main__.")]
    return [n for n in names if not hasattr(main, n.partition(".")[0])]


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
