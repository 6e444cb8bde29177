"""Prove an export: write a run's pipeline, run it in a fresh process, compare its metrics.

The pipeline runs as a user would run it (``python pipeline.py``), in a new interpreter, from
the folder the notebook's kernel started in (so relative paths resolve as they did), with
the store the run came from (so the pipeline's own run is recorded next to the original, as
its child). Metrics are compared with :func:`math.isclose`; a metric the pipeline did not
produce is a mismatch.
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

from ..location import BLOB_URL_ENV, URL_ENV
from ..store import Run, Store
from .export import ExportError, ExportResult, export
from .slicer import SliceError

#: Default tolerances: pipelines are deterministic replays, but BLAS and threaded reductions
#: may sum in another order than the kernel did.
RTOL = 1e-6
ATOL = 1e-12
#: How much of the pipeline's stderr the report keeps.
STDERR_TAIL = 4000


@dataclass
class MetricCheck:
    """One metric: what the run recorded and what the pipeline produced."""

    name: str
    original: float | None
    reproduced: float | None
    equal: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "original": self.original,
            "reproduced": self.reproduced,
            "equal": self.equal,
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

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(c.equal for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ok": self.ok,
            "returncode": self.returncode,
            "metrics": [c.to_dict() for c in self.checks],
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
    fresh process and compare each of the run's metrics with what the pipeline returned."""
    run_id = store.resolve_run_id(run)
    original = store.get_run(run_id)
    out = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="mltrack-"))
    result = export(store, directory=out, run=run_id)
    results_file = out / "results.json"
    results_file.unlink(missing_ok=True)
    env = {**os.environ, URL_ENV: store.url}
    if store.blob_url:
        env[BLOB_URL_ENV] = store.blob_url
    cwd = start_directory(result, store, original)
    before = {r.id for r in store.child_runs(run_id)}
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
    checks = []
    for name in sorted(original.metrics):
        value, equal = compare(original.metrics[name], produced.get(name), rtol=rtol, atol=atol)
        checks.append(MetricCheck(name, original.metrics[name], value, equal))
    children = [r for r in store.child_runs(run_id) if r.id not in before]
    return Reproduction(
        run_id=run_id,
        export=result,
        returncode=returncode,
        checks=checks,
        stderr=stderr[-STDERR_TAIL:],
        duration=duration,
        pipeline_run_id=children[0].id if children else None,
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


__all__ = ["ExportError", "MetricCheck", "Reproduction", "SliceError", "compare", "reproduce"]
