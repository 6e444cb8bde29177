"""Comparing the models a run logged with the ones its pipeline logged again, for ``mltrack
reproduce``.

A metric is one number the model scored; the model itself is what a reproduction is for.
``log_model(..., signature_from=X_test[:5])`` kept a few example rows with the model's
predictions on them (and class probabilities, for a classifier). After the pipeline ran, the
model it logged under the same name is loaded back from its run, asked to predict those same
rows, and its answers compared with the recorded ones: labels exactly, floating-point values
within the tolerances the metrics are compared with.

Loading is as safe as ``mltrack.load_model`` is by default: nothing that can run code. A
model whose format needs trust (pickle; skops types off its trusted list) is not loaded, and
the report says so, rather than trusting a file for the user.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import threading
from dataclasses import dataclass
from typing import Any

from ..store import Store
from ..store.entities import Artifact

REPRODUCED = "reproduced"
DIFFERENT = "different"
NOT_COMPARED = "not compared"


@dataclass
class ModelCheck:
    """One model the run logged: its reproduction's predictions on the example rows."""

    name: str
    #: The original's format (``skops``, ``xgboost-json``, ``pickle``…).
    format: str | None
    #: Example rows predicted on (0 when not compared).
    rows: int
    #: Rows whose predictions (and probabilities) matched the recorded ones.
    matches: int
    #: The largest absolute difference over the numbers compared, or ``None`` (none were).
    max_abs_diff: float | None
    #: :data:`REPRODUCED`, :data:`DIFFERENT` or :data:`NOT_COMPARED`.
    status: str
    #: Why it was not compared, or where it first differs; "" when reproduced.
    reason: str = ""

    @property
    def equal(self) -> bool | None:
        """As :class:`.cellcheck.ValueCheck` says it: ``None`` when not compared."""
        return None if self.status == NOT_COMPARED else self.status == REPRODUCED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "format": self.format,
            "rows": self.rows,
            "matches": self.matches,
            "max_abs_diff": self.max_abs_diff,
            "status": self.status,
            "reason": self.reason,
        }


#: What loading a model of each format imports first (skops alone takes seconds: it lists
#: every scikit-learn estimator as it is imported).
_LIBRARIES = {
    "skops": ("skops.io",),
    "xgboost-json": ("xgboost",),
    "lightgbm-text": ("lightgbm",),
    "torch-state-dict": ("torch",),
    "keras": ("keras",),
    "onnx": ("onnxruntime",),
}


def warm_up(store: Store, run_id: str) -> threading.Thread | None:
    """Start importing, in a thread, what comparing the models of run ``run_id`` will need
    (its formats' libraries): done while the pipeline runs in its own process, the seconds
    it takes are not added to the reproduction's. ``None`` when the run logged no model to
    compare. Join the thread before comparing (an import it has not finished is waited for
    anyway: the import lock)."""
    modules = ["pandas", "jupyter_mltrack.models.formats", "jupyter_mltrack.models.signature"]
    found = False
    for artifact in store.list_artifacts(run_id, files=False):
        meta = artifact.meta
        signature = meta.get("signature") or {}
        comparable = signature.get("predictions") is not None and not meta.get("unsafe")
        if artifact.kind == "model" and comparable:
            found = True
            modules.extend(_LIBRARIES.get(str(meta.get("format")), ()))
    if not found:
        return None

    def load() -> None:
        for name in dict.fromkeys(modules):
            with contextlib.suppress(Exception):  # the comparison says why, if it matters
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="mltrack-model-imports", daemon=True)
    thread.start()
    return thread


def compare_models(
    store: Store,
    run_id: str,
    pipeline_run_id: str | None,
    *,
    rtol: float,
    atol: float,
    ended_at: float | None = None,
) -> list[ModelCheck]:
    """A check for each model artifact run ``run_id`` logged, against the model of the same
    name its pipeline's run (``pipeline_run_id``; ``None`` when the pipeline did not finish)
    logged. ``ended_at``: when the run ended; a model logged into it later (``log_model(...,
    run=3)`` from another cell) is no part of what its pipeline runs."""
    originals = [a for a in store.list_artifacts(run_id, files=False) if a.kind == "model"]
    if not originals:
        return []
    reproduced: dict[str, Artifact] = {}
    if pipeline_run_id is not None:
        reproduced = {a.name: a for a in store.list_artifacts(pipeline_run_id)}
    checks = []
    for original in originals:
        again = reproduced.get(original.name)
        if pipeline_run_id is None:
            checks.append(_not_compared(original, "the pipeline did not finish"))
        elif again is None and ended_at is not None and original.created_at > ended_at:
            checks.append(_not_compared(original, _AFTER))
        else:
            checks.append(check_model(store, original, again, rtol=rtol, atol=atol))
    return checks


def check_model(
    store: Store,
    original: Artifact,
    reproduced: Artifact | None,
    *,
    rtol: float,
    atol: float,
) -> ModelCheck:
    """``reproduced`` (the pipeline's model of that name, ``None`` if it logged none) against
    the predictions ``original`` recorded with its signature."""
    meta = original.meta
    signature = meta.get("signature")
    if not signature:
        return _not_compared(original, "logged without signature_from: no example rows")
    if signature.get("predictions") is None:
        why = signature.get("prediction_error") or "no predictions were recorded"
        return _not_compared(original, f"the original predicted nothing on its examples ({why})")
    if meta.get("unsafe"):
        return _not_compared(original, _UNSAFE.format(format=meta.get("format")))
    if reproduced is None:
        return _different(original, 0, "the pipeline logged no model of this name")
    if reproduced.kind != "model":
        return _different(original, 0, f"the pipeline logged a {reproduced.kind}, not a model")
    if reproduced.meta.get("unsafe"):
        return _not_compared(original, _UNSAFE.format(format=reproduced.meta.get("format")))
    from ..models.formats import UntrustedModelError
    from ..models.signature import examples_input

    try:
        rows = examples_input(signature)
    except Exception as exc:  # a signature that kept no rows (too wide), a library missing
        return _not_compared(original, f"its example rows cannot be rebuilt ({_said(exc)})")
    try:
        model = _load(store, reproduced)
    except UntrustedModelError as exc:
        first = str(exc).split(";")[0].split(". ")[0]
        return _not_compared(original, f"the reproduced model needs trust to load ({first})")
    except Exception as exc:  # its library is not installed here, a class not importable…
        return _not_compared(original, f"the reproduced model could not be loaded ({_said(exc)})")
    from ..models.signature import predictions

    try:
        got = predictions(model, rows)
    except Exception as exc:
        return _different(original, 0, f"the reproduced model cannot predict them ({_said(exc)})")
    return compare_predictions(original, signature, got, rtol=rtol, atol=atol)


_AFTER = "logged after the run ended (with run=), not by the code its pipeline runs"
_UNSAFE = "{format} format: loading it could run code, and a reproduction loads nothing that can"


def _load(store: Store, artifact: Artifact) -> Any:
    """The model, loaded as ``mltrack.load_model`` does by default (trusting nothing)."""
    from ..models.artifacts import checked_out
    from ..models.formats import load_saved_model

    with checked_out(store, artifact) as folder:
        return load_saved_model(folder, artifact.meta, trusted=False)


def compare_predictions(
    original: Artifact,
    signature: dict[str, Any],
    got: dict[str, Any],
    *,
    rtol: float,
    atol: float,
) -> ModelCheck:
    """The recorded predictions (and probabilities) of ``signature`` against ``got`` (as
    :func:`..models.signature.predictions` encodes them), row by row."""
    count = int(signature.get("rows") or 0)
    parts = ["predictions"]
    if signature.get("probabilities") is not None:
        parts.append("probabilities")
    diff = _Diff(rtol, atol)
    matched = [True] * count
    first = ""
    for part in parts:
        want, have = signature[part], got.get(part)
        split = _rows(want, count), _rows(have, count)
        if split[0] is None or split[1] is None:  # not row by row: compared as a whole
            if not diff.same(want, have):
                matched = [False] * count
                first = first or f"{part} differ"
            continue
        for i, (a, b) in enumerate(zip(*split, strict=True)):
            if not diff.same(a, b):
                matched[i] = False
                first = first or f"row {i}: {part} {_short(a)} became {_short(b)}"
    matches = sum(matched)
    ok = matches == count
    return ModelCheck(
        name=original.name,
        format=original.meta.get("format"),
        rows=count,
        matches=matches,
        max_abs_diff=diff.largest,
        status=REPRODUCED if ok else DIFFERENT,
        reason="" if ok else first,
    )


class _Diff:
    """Compares encoded predictions leaf by leaf: numbers within the tolerances (two
    integers exactly: labels), anything else (string labels, ``None``) by ``==``; keeps the
    largest absolute difference between floating-point values (probabilities, a regressor's
    predictions)."""

    def __init__(self, rtol: float, atol: float) -> None:
        self.rtol, self.atol = rtol, atol
        self.largest: float | None = None

    def same(self, a: Any, b: Any) -> bool:
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return False
            return all([self.same(x, y) for x, y in zip(a, b, strict=True)])  # every leaf seen
        if isinstance(a, dict) and isinstance(b, dict) and not _marker(a) and not _marker(b):
            if sorted(a) != sorted(b):
                return False
            return all([self.same(a[k], b[k]) for k in a])
        x, y = _number(a), _number(b)
        if x is None or y is None:
            return a == b
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        if math.isinf(x) or math.isinf(y):
            return x == y
        if isinstance(a, int) and isinstance(b, int):
            return a == b  # labels: how far apart two classes' numbers are means nothing
        gap = abs(x - y)
        self.largest = gap if self.largest is None else max(self.largest, gap)
        return math.isclose(x, y, rel_tol=self.rtol, abs_tol=self.atol)


def _marker(value: dict[str, Any]) -> bool:
    """A JSON-safe stand-in for a float JSON cannot hold (``{"$type": "float", ...}``)."""
    return "$type" in value


def _number(value: Any) -> float | None:
    """A leaf as a number, or ``None`` for a label that is no number (bools are labels)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict) and value.get("$type") in ("float", "int"):
        try:
            return float(value["value"])
        except (KeyError, TypeError, ValueError):
            return None
    return None


def _rows(encoded: Any, count: int) -> list[Any] | None:
    """The encoded output split into its ``count`` rows: an array's first axis, a frame's
    records, each output of a dict of them zipped; ``None`` when it does not split so."""
    if isinstance(encoded, list):
        return encoded if len(encoded) == count else None
    if isinstance(encoded, dict) and not _marker(encoded):
        if encoded.get("type") == "dataframe" and isinstance(encoded.get("data"), list):
            return encoded["data"] if len(encoded["data"]) == count else None
        columns = {key: _rows(value, count) for key, value in encoded.items()}
        if columns and all(value is not None for value in columns.values()):
            return [{key: value[i] for key, value in columns.items()} for i in range(count)]  # type: ignore[index]
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def _not_compared(original: Artifact, reason: str) -> ModelCheck:
    return ModelCheck(original.name, original.meta.get("format"), 0, 0, None, NOT_COMPARED, reason)


def _different(original: Artifact, rows: int, reason: str) -> ModelCheck:
    return ModelCheck(original.name, original.meta.get("format"), rows, 0, None, DIFFERENT, reason)
