"""Prove an export: write a run's pipeline, run it in a fresh process, compare what it
produces with what the run recorded.

The pipeline runs as a user would run it (``python pipeline.py``), in a new interpreter, from
the folder the notebook's kernel started in (so relative paths resolve as they did), with
the store the run came from (so the pipeline's own run is recorded next to the original, as
its child). Three things are compared, whichever the run has:

* its metrics, with :func:`math.isclose`; a metric the pipeline did not produce is a mismatch;
* the values its cell bound (numbers, strings, numpy arrays, pandas frames and series), as
  :mod:`..capture.results` recorded them when the cell ended: within the tolerances when the
  value was small enough to be kept, else exactly by content digest; clock readings
  (``t0 = time.time()``) are not compared;
* the text the cell output (stdout, stderr, the text of its last value), modulo what differs
  on every run (durations, progress bars, memory addresses).

Values and texts are compared even when the run has metrics: a metric is one number, while
an array or a printed report checks everything the cell computed. The pipeline records its
side of them itself (``mltrack.cell_begins()`` in ``pipeline.py``) into a file this module
names in the environment.

A model the run logged with ``signature_from=`` is compared too: the pipeline logs it again
into its own run, and the model it logged is loaded back (never one whose format needs trust)
and asked to predict the example rows the original's signature kept (:mod:`.modelcheck`).

A pipeline with no statement, or a run with nothing to compare, is never "reproduced".
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import autolog
from ..capture import results as cell_results
from ..location import BLOB_URL_ENV, URL_ENV
from ..store import Execution, Run, Store
from . import cellcheck
from .analysis import analyse_cell
from .cellcheck import TextCheck, ValueCheck
from .export import ExportError, ExportResult, export
from .modelcheck import ModelCheck, compare_models, warm_up
from .runslice import LOGGING
from .slicer import SliceError
from .usecheck import UseCheck, compare_uses

#: Default tolerances: pipelines are deterministic replays, but BLAS and threaded reductions
#: may sum in another order than the kernel did.
RTOL = 1e-6
ATOL = 1e-12
#: How much of the pipeline's stderr the report keeps.
STDERR_TAIL = 4000
#: The file the pipeline writes its side of the run's cell to (in the export's folder).
CAPTURE_FILE = "reproduced-cell.json"


class NothingToReproduce(ExportError):
    """The run's pipeline would run no statement: there is nothing it could reproduce."""


@dataclass
class MetricCheck:
    """One metric: what the run recorded and what the pipeline produced."""

    name: str
    original: float | None
    reproduced: float | None
    equal: bool
    #: Why the metric was not compared (a training time measures the machine), or "".
    skipped: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "original": self.original,
            "reproduced": self.reproduced,
            "equal": self.equal,
            "skipped": self.skipped,
        }


@dataclass
class Reproduction:
    run_id: str
    export: ExportResult
    returncode: int
    checks: list[MetricCheck] = field(default_factory=list)
    #: The end of what the pipeline wrote on stderr (its warnings: changed input files…).
    stderr: str = ""
    duration: float = 0.0
    #: The run the pipeline recorded (source ``pipeline``, parent = the original run).
    pipeline_run_id: str | None = None
    #: The values the run's cell bound, compared with the pipeline's.
    values: list[ValueCheck] = field(default_factory=list)
    #: The cell's text outputs (stdout, stderr, result), compared with the pipeline's.
    texts: list[TextCheck] = field(default_factory=list)
    #: What the report should say besides the checks (e.g. the pipeline never reached the
    #: run's cell).
    notes: list[str] = field(default_factory=list)
    #: The models the run logged, their reproductions' predictions on the example rows.
    models: list[ModelCheck] = field(default_factory=list)
    #: The artifacts of other runs the run loaded, and whether the pipeline loaded the same.
    used: list[UseCheck] = field(default_factory=list)

    @property
    def compared(self) -> dict[str, int]:
        """How many metrics, values, text outputs and models were actually compared."""
        return {
            "metrics": sum(not c.skipped for c in self.checks),
            "values": sum(v.equal is not None for v in self.values),
            "outputs": sum(t.equal is not None for t in self.texts),
            "models": sum(m.equal is not None for m in self.models),
        }

    @property
    def differences(self) -> list[str]:
        """What differs, as the report names it: ``metric score``, ``value pred``,
        ``stdout``, ``model model``, ``used churn``."""
        return (
            [f"metric {c.name}" for c in self.checks if not c.equal and not c.skipped]
            + [f"value {v.name}" for v in self.values if v.equal is False]
            + [t.name for t in self.texts if t.equal is False]
            + [f"model {m.name}" for m in self.models if m.equal is False]
            + [f"used {u.key}" for u in self.used if u.equal is False]
        )

    @property
    def ok(self) -> bool:
        return (
            self.returncode == 0
            and not self.differences
            and any(n > 0 for n in self.compared.values())
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "returncode": self.returncode,
            "compared": self.compared,
            "differences": self.differences,
            "metrics": [c.to_dict() for c in self.checks],
            "values": [v.to_dict() for v in self.values],
            "outputs": [t.to_dict() for t in self.texts],
            "models": [m.to_dict() for m in self.models],
            "used": [u.to_dict() for u in self.used],
            "notes": list(self.notes),
            "pipeline_run_id": self.pipeline_run_id,
            "directory": str(self.export.directory),
            "duration": self.duration,
            "stderr": self.stderr,
        }


def compare(
    original: float | None, reproduced: Any, *, rtol: float = RTOL, atol: float = ATOL
) -> tuple[float | None, bool]:
    """``(reproduced as a float, equal within tolerance)``; NaN equals NaN."""
    try:
        value = float(reproduced) if reproduced is not None else None
    except (TypeError, ValueError):
        return None, False
    if original is None or value is None:
        return value, False
    if math.isnan(original) or math.isnan(value):
        return value, math.isnan(original) and math.isnan(value)
    return value, math.isclose(original, value, rel_tol=rtol, abs_tol=atol)


def start_directory(result: ExportResult, store: Store, run: Run) -> Path:
    """Where to run the pipeline: where the notebook's kernel started, if it still exists."""
    for candidate in (result.start_cwd, _notebook_dir(store, run)):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return result.directory


def _notebook_dir(store: Store, run: Run) -> str | None:
    if not run.notebook_path:
        return None
    root = os.environ.get("MLTRACK_SERVER_ROOT")
    path = Path(root) / run.notebook_path if root else Path(run.notebook_path)
    return str(path.parent)


def reproduce(
    store: Store,
    run: str,
    *,
    directory: str | os.PathLike[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    timeout: float | None = None,
    python: str = sys.executable,
    extra_args: Sequence[str] = (),
) -> Reproduction:
    """Export ``run`` (into ``directory``, else a temporary folder), run the pipeline in a
    fresh process and compare the run's metrics, values and text outputs with the
    pipeline's. Raises :class:`NothingToReproduce` for a pipeline without statements."""
    run_id = store.resolve_run_id(run)
    original = store.get_run(run_id)
    out = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="mltrack-"))
    # no separate import check: the run below imports the script in a fresh Python
    result = export(store, directory=out, run=run_id, check_import=False)
    if result.statements == 0:
        raise NothingToReproduce(
            f"run #{original.number} exports a pipeline with no statements (nothing its cell "
            "ran is left in the script to run): there is nothing to reproduce"
        )
    values = store.run_values(run_id)
    execution = store.execution_of_run(run_id)
    results_file = out / "results.json"
    results_file.unlink(missing_ok=True)
    capture_file = out / CAPTURE_FILE
    capture_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        URL_ENV: store.url,
        cell_results.CAPTURE_ENV: str(capture_file),
        cell_results.NAMES_ENV: json.dumps(sorted(values)),
        # autolog the pipeline's cell as the notebook's was: unless `%%track --no-autolog`
        cell_results.AUTOLOG_ENV: "0" if _no_autolog(execution) else "1",
    }
    if store.blob_url:
        env[BLOB_URL_ENV] = store.blob_url
    cwd = start_directory(result, store, original)
    before = {r.id for r in store.child_runs(run_id)}
    importing = warm_up(store, run_id)  # the models' libraries, while the pipeline runs
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, str(out / "pipeline.py"), "--json", str(results_file), *extra_args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        returncode, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        stderr = f"pipeline.py did not finish in {timeout:g} s\n" + _text(exc.stderr)
    duration = time.perf_counter() - started
    produced: dict[str, Any] = {}
    if returncode == 0:
        try:
            produced = json.loads(results_file.read_text())
        except (OSError, ValueError) as exc:
            returncode, stderr = 1, f"pipeline.py wrote no readable results: {exc}\n{stderr}"
    children = [r for r in store.child_runs(run_id) if r.id not in before]
    if children and returncode == 0:
        # what run() returned, and what the pipeline's run recorded besides (autolog's
        # metrics go to the run, not to what run() returns)
        produced = {**children[0].metrics, **produced}
    checks = []
    for name in sorted(original.metrics):
        value, equal = compare(original.metrics[name], produced.get(name), rtol=rtol, atol=atol)
        skipped = "a training time" if autolog.is_timing(name) else ""
        checks.append(MetricCheck(name, original.metrics[name], value, equal, skipped))
    reproduction = Reproduction(
        run_id=run_id,
        export=result,
        returncode=returncode,
        checks=checks,
        stderr=stderr[-STDERR_TAIL:],
        duration=duration,
        pipeline_run_id=children[0].id if children else None,
    )
    if returncode == 0:
        _compare_cell(
            store, original, execution, values, capture_file, reproduction, rtol=rtol, atol=atol
        )
    if importing is not None:
        importing.join()
    reproduction.models = compare_models(
        store,
        run_id,
        reproduction.pipeline_run_id if returncode == 0 else None,
        rtol=rtol,
        atol=atol,
        ended_at=original.end_time,
    )
    reproduction.used = compare_uses(
        store, run_id, reproduction.pipeline_run_id if returncode == 0 else None
    )
    return reproduction


def _no_autolog(execution: Execution | None) -> bool:
    """Whether the run's cell was ``%%track --no-autolog``."""
    if execution is None:
        return False
    first = execution.raw.lstrip("\n").partition("\n")[0].strip()
    return first.startswith("%%track") and "--no-autolog" in first.split()


def _compare_cell(
    store: Store,
    original: Run,
    execution: Execution | None,
    values: cell_results.Records,
    capture_file: Path,
    reproduction: Reproduction,
    *,
    rtol: float,
    atol: float,
) -> None:
    """Compare the values and text outputs of the run's cell with what the pipeline
    recorded of its part (nothing, if it never reached it: every value is then missing)."""
    captured = cell_results.read_capture(capture_file)
    outputs, reproduced = captured if captured is not None else ([], {})
    if captured is None:
        reproduction.notes.append(
            "the pipeline did not record the run's cell (it keeps none of its statements)"
        )
    skip = cellcheck.clock_names(execution.source) if execution is not None else {}
    reproduction.values = cellcheck.compare_values(
        values, reproduced, rtol=rtol, atol=atol, skip=skip
    )
    recorded = cellcheck.text_outputs(store.get_run_detail(original.id).outputs)
    texts = _run_named(recorded, original.id)
    logged = _last_logs(execution)
    reproduction.texts = cellcheck.compare_texts(
        texts,
        _run_named(cellcheck.text_outputs(outputs), reproduction.pipeline_run_id),
        rtol=rtol,
        atol=atol,
        result_elsewhere=(
            f"what {logged} returned (it names the run)"
            if logged
            else "compared as a metric"
            if original.metrics
            else ""
        ),
    )


#: What a run's id reads as in the texts compared.
RUN_ID_MARK = "<run id>"


def _run_named(texts: dict[str, str], run_id: str | None) -> dict[str, str]:
    """``texts`` with the id of the run they were output in replaced by :data:`RUN_ID_MARK`:
    the pipeline records a run of its own, so a cell that shows its run's id (``print(
    run.id)``, the ``ModelInfo`` a ``log_model`` returned) shows another one there."""
    if not run_id:
        return texts
    return {name: text.replace(run_id, RUN_ID_MARK) for name, text in texts.items()}


def _last_logs(execution: Execution | None) -> str | None:
    """The tracker's logging function the cell's last expression calls (``log_model``), if
    it does: what it returned (a ``ModelInfo`` naming the notebook's run) is the value the
    notebook showed, which the pipeline, logging into a run of its own, does not show."""
    if execution is None:
        return None
    try:
        statements = analyse_cell(execution.source)
    except SyntaxError:
        return None
    if not statements or not statements[-1].expression:
        return None
    for call in statements[-1].calls:
        name = call.method if call.receiver is not None else call.func
        if name in LOGGING:
            return name
    return None


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


__all__ = [
    "ExportError",
    "MetricCheck",
    "ModelCheck",
    "NothingToReproduce",
    "Reproduction",
    "SliceError",
    "TextCheck",
    "ValueCheck",
    "compare",
    "reproduce",
]
