"""What a tracked cell produced — the values it bound and the text it printed — recorded
compactly when it ends, and compared with what its exported pipeline produces.

Why: most notebooks log no metric (they print a score, or leave a frame in a variable), so
``mltrack reproduce`` needs something else to compare, after the kernel is gone. At the end
of a ``%%track`` cell, each name the cell bound to a number, a string, a numpy array or a
pandas frame/series gets a *record*: its type, shape and dtypes, a content digest (the
snapshot fingerprint, so "same digest" means the same data whatever the memory layout), and
the value itself when it is small (at most :data:`VALUE_BYTES`): small values can then be
compared within a tolerance, larger ones only exactly, by digest. Values larger than
:data:`HASH_BYTES` are not even hashed (that would cost the cell tens of milliseconds per
gigabyte): only their shape and dtypes are compared, and reproduce says so.

The same code records the pipeline's side (:class:`CellCapture`, driven by the generated
``pipeline.py`` under ``mltrack reproduce``), so both sides are recorded alike. Nothing here
may break a cell: every failure is swallowed and the value is left unrecorded.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

#: Largest value (bytes of its data) kept whole, so that it can be compared within
#: ``--rtol/--atol``; larger ones keep only their digest and compare exactly.
VALUE_BYTES = 1_000_000
#: Largest value hashed. Hashing is memory-bound (~10-20 GB/s here): 256 MiB costs the cell
#: ~15-25 ms; beyond, the record keeps shape and dtypes only.
HASH_BYTES = 256 * 2**20
#: Most names recorded per cell (a cell binding thousands of names is a loop of ``exec``).
MAX_NAMES = 256
#: Environment variables through which ``mltrack reproduce`` asks the pipeline to record the
#: tracked cell's part: where to write, and which names to record.
CAPTURE_ENV = "MLTRACK_REPRODUCE_CAPTURE"
NAMES_ENV = "MLTRACK_REPRODUCE_NAMES"
#: ``"0"`` when the run's cell did not autolog (``%%track --no-autolog``): nor does the pipeline.
AUTOLOG_ENV = "MLTRACK_REPRODUCE_AUTOLOG"

#: ``name -> (record, data)``: a value's JSON record and its bytes when it was small.
Records = dict[str, tuple[dict[str, Any], bytes | None]]


# recording ----------------------------------------------------------------------------------


def record_value(value: Any) -> tuple[dict[str, Any], bytes | None] | None:
    """The record of one value, or ``None`` for a kind that is not compared (models,
    functions, modules, containers…). May raise; :func:`record_values` catches."""
    kind = type(value)
    if kind is bool:
        return {"kind": "bool", "type": "bool", "value": value}, None
    if kind is int or kind is float:
        return {"kind": "number", "type": kind.__name__, "value": _number(value)}, None
    if kind is str:
        return _string(value), None
    module = kind.__module__
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return _array(value)
        if isinstance(value, np.bool_):
            return {"kind": "bool", "type": f"numpy.{kind.__name__}", "value": bool(value)}, None
        if isinstance(value, np.integer | np.floating):
            item = value.item()
            return {
                "kind": "number",
                "type": f"numpy.{kind.__name__}",
                "value": _number(item),
            }, None
        return None
    if module.startswith("pandas"):
        import pandas as pd

        if isinstance(value, pd.DataFrame | pd.Series):
            return _frame(value)
    return None


def record_values(names: Iterable[str], namespace: Mapping[str, Any]) -> Records:
    """Records of the values ``names`` denote in ``namespace`` (those of a compared kind)."""
    out: Records = {}
    for name in names:
        if len(out) >= MAX_NAMES:
            break
        if name.startswith("_") or name not in namespace:
            continue
        try:
            found = record_value(namespace[name])
        except Exception:  # an odd subclass, a frame that will not hash: left unrecorded
            continue
        if found is not None:
            out[name] = found
    return out


def record_cell(
    run: Any, bound: Iterable[str], namespace: Mapping[str, Any], *, after_reply: bool = False
) -> None:
    """At the end of a tracked cell: record the values of the names it bound, for
    ``mltrack reproduce``. The records are made now (the next cell may change the values)
    and written by the tracker's background writer, or, ``after_reply``, once the kernel
    has replied to the cell (see ``api.after_reply``). Never raises."""
    try:
        records = record_values(sorted(bound), namespace)
        if not records:
            return
        from . import api

        if after_reply:
            api.after_reply(lambda: run.store.set_run_values(run.id, records))
        else:
            api._submit(run.store.set_run_values, run.id, records)
    except Exception:
        return


def _number(value: int | float) -> int | float | str:
    """JSON for a number: NaN and infinities as the strings ``float()`` reads back."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _string(value: str) -> dict[str, Any]:
    record: dict[str, Any] = {"kind": "string", "type": "str", "length": len(value)}
    if len(value) <= VALUE_BYTES // 4:
        record["value"] = value
    else:
        import xxhash

        data = value.encode("utf-8", "surrogatepass")
        record["digest"] = "xxh3-128:" + xxhash.xxh3_128_hexdigest(data)
    return record


def _array(a: Any) -> tuple[dict[str, Any], bytes | None]:
    import numpy as np

    record: dict[str, Any] = {
        "kind": "array",
        "type": "numpy.ndarray",
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "nbytes": int(a.nbytes),
    }
    record["digest"] = _digest(a, a.nbytes, record)
    data = None
    if a.dtype.kind in "biufcmMSU" and a.nbytes <= VALUE_BYTES:
        buffer = io.BytesIO()
        np.save(buffer, a, allow_pickle=False)
        data = buffer.getvalue()
    return record, data


def _frame(value: Any) -> tuple[dict[str, Any], bytes | None]:
    """A DataFrame or Series: schema, digests (whole, per column, index) and, when small,
    its numeric columns (the ones a tolerance applies to; the others compare by digest)."""
    import numpy as np
    import pandas as pd

    frame = value.to_frame() if isinstance(value, pd.Series) else value
    numeric = [
        i
        for i, dtype in enumerate(frame.dtypes)
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf"
    ]
    # object columns cost far more to hash than their 8-byte pointers suggest
    dtypes = list(frame.dtypes)
    size = len(frame) * sum(dtypes[i].itemsize if i in numeric else 64 for i in range(len(dtypes)))
    record: dict[str, Any] = {
        "kind": "series" if frame is not value else "frame",
        "type": f"pandas.{type(value).__name__}",
        "shape": list(value.shape),
        "columns": [str(c) for c in frame.columns],
        "dtypes": [str(d) for d in frame.dtypes],
        "nbytes": int(size),
    }
    if isinstance(value, pd.Series):
        record["name"] = None if value.name is None else str(value.name)
    record["digest"] = _digest(value, size, record)
    data = None
    if size <= VALUE_BYTES:
        arrays = {f"c{i}": frame.iloc[:, i].to_numpy() for i in numeric}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
    return record, data


def _digest(value: Any, size: int, record: dict[str, Any]) -> str | None:
    """The snapshot fingerprint's digest of ``value`` (and, for frames, of each column and
    of the index), or ``None`` with the reason in ``record["note"]``."""
    if size > HASH_BYTES:
        record["note"] = f"not hashed: {size:,} bytes (more than {HASH_BYTES:,})"
        return None
    from ..snapshots.fingerprint import fingerprint_frame

    try:
        fp = fingerprint_frame(value)
    except TypeError as exc:  # mixed-type object columns: no exact bytes to hash
        record["note"] = f"not hashed: {exc}"
        return None
    if record["kind"] in ("frame", "series"):
        import xxhash

        def joined(blocks: Iterable[str], sep: str = "|") -> str:
            return xxhash.xxh3_64_hexdigest(sep.join(blocks).encode())

        record["column_digests"] = [joined(c) for c in fp.columns]
        record["index_digest"] = joined(("|".join(i) for i in fp.index), "||")
    return fp.digest


# the pipeline's side --------------------------------------------------------------------------


class CellCapture:
    """In a pipeline run by ``mltrack reproduce``: records what the run's own cell prints,
    the value it shows last and the values it binds, into the file reproduce named; and
    autologs the cell into the pipeline's run, as ``%%track`` autologged the notebook's, so
    that the metrics autolog recorded there (``accuracy_score``…) have a reproduction."""

    def __init__(self, path: str, names: list[str]) -> None:
        from .outputs import OutputRecorder

        self.path = path
        self.names = names
        self.recorder = OutputRecorder()
        self.shown: str | None = None
        self.autolog: Any = None

    @classmethod
    def from_environment(cls) -> CellCapture | None:
        """A capture when reproduce asked for one (else ``None``: the pipeline runs as is)."""
        path = os.environ.get(CAPTURE_ENV)
        if not path:
            return None
        try:
            names = [str(n) for n in json.loads(os.environ.get(NAMES_ENV) or "[]")]
        except ValueError:
            names = []
        return cls(path, names)

    def begin(self, namespace: dict[str, Any] | None = None) -> None:
        """Start recording; ``namespace``: the pipeline's globals (the notebook's names)."""
        from .. import autolog
        from . import api

        run = api.active_run()
        if run is not None and os.environ.get(AUTOLOG_ENV) != "0":
            self.autolog = autolog.begin(run, namespace)  # never raises
        self.recorder.__enter__()

    def result(self, value: Any) -> None:
        """The cell's last expression, as IPython would have shown it (``None`` shows
        nothing, as in the notebook)."""
        if value is None:
            return
        try:
            from IPython.lib.pretty import pretty

            self.shown = pretty(value, max_width=79)
        except Exception:
            self.shown = repr(value)

    def end(self, namespace: Mapping[str, Any]) -> None:
        """Stop recording and write the file (never raises: the pipeline's run goes on)."""
        with contextlib.suppress(Exception):
            self.recorder.__exit__(None, None, None)
        if self.autolog is not None:
            self.autolog.end()  # never raises; its metrics go to the pipeline's run
        with contextlib.suppress(Exception):
            outputs = self.recorder.finalize()
            if self.shown is not None:
                outputs.append(
                    {"output_type": "execute_result", "data": {"text/plain": self.shown}}
                )
            values = record_values(self.names, namespace)
            payload = {
                "outputs": outputs,
                "values": {
                    name: {
                        "record": record,
                        "data": None if data is None else base64.b64encode(data).decode(),
                    }
                    for name, (record, data) in values.items()
                },
            }
            with open(self.path, "w", encoding="utf-8") as handle:
                json.dump(payload, handle)


def read_capture(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], Records] | None:
    """``(outputs, values)`` a :class:`CellCapture` wrote, or ``None`` if it wrote nothing
    (the pipeline never reached the run's cell)."""
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError):
        return None
    values: Records = {}
    for name, entry in (payload.get("values") or {}).items():
        data = entry.get("data")
        values[name] = (entry["record"], None if data is None else base64.b64decode(data))
    return list(payload.get("outputs") or []), values
