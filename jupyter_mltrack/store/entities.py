"""Plain data objects the store hands out.

They are deliberately separate from the ORM rows in :mod:`.models` (as in MLflow): callers
never hold a session-bound object, so nothing lazy-loads after the session is closed and the
REST layer can serialise them without touching SQLAlchemy.
"""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple


class RunStatus(str, enum.Enum):
    """Life-cycle of a run. Only ``RUNNING`` is non-terminal. ``PRUNED`` is a sweep's trial
    its pruner stopped early (its metrics are those it reported until then)."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    CRASHED = "crashed"
    PRUNED = "pruned"

    @property
    def terminal(self) -> bool:
        return self is not RunStatus.RUNNING


def iso(ts: float | None) -> str | None:
    """Epoch seconds (how the store keeps time, portable across backends) to ISO-8601 UTC."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def json_number(value: float | None) -> float | str | None:
    """A metric value for JSON, which has no NaN or infinity: NaN → null, ±inf → "inf"/"-inf"."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    created_at: float
    run_count: int = 0
    last_run_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": iso(self.created_at),
            "run_count": self.run_count,
            "last_run_at": iso(self.last_run_at),
        }


class MetricPoint(NamedTuple):
    """One logged value of a metric. ``value`` may be NaN or +/-inf.

    A named tuple rather than a frozen dataclass: one is made per ``log_metric`` call, and
    building a tuple costs a fraction of a frozen dataclass's ``__init__``.
    """

    key: str
    value: float
    step: int
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "value": json_number(self.value),
            "timestamp": iso(self.timestamp),
        }


@dataclass(frozen=True)
class Environment:
    """Where a run executed. Stored once per distinct content (``digest``)."""

    python: str
    platform: str
    packages: dict[str, str]
    digest: str
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"python": self.python, "platform": self.platform, "packages": self.packages}


@dataclass(frozen=True)
class Run:
    """A run as listed: identity, status, timing and the summary of params and metrics."""

    id: str
    number: int
    experiment_id: int
    experiment: str
    name: str | None
    status: RunStatus
    start_time: float
    end_time: float | None
    notebook_path: str | None
    cell_id: str | None
    execution_count: int | None
    source: str
    parent_run_id: str | None
    note: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.end_time is None:
            return None
        return max(0.0, self.end_time - self.start_time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "name": self.name,
            "status": self.status.value,
            "start_time": iso(self.start_time),
            "end_time": iso(self.end_time),
            "duration": self.duration,
            "notebook_path": self.notebook_path,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "tags": dict(self.tags),
            "note": self.note,
            "params": dict(self.params),
            "metrics": {k: json_number(v) for k, v in self.metrics.items()},
        }


@dataclass(frozen=True)
class RunRef:
    """A run's identity and latest metric values: what comparing against it needs."""

    id: str
    number: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RunDetail:
    """Everything recorded for one run."""

    run: Run
    code: str
    error: dict[str, Any] | None
    metric_series: dict[str, list[MetricPoint]]
    outputs: list[dict[str, Any]]
    environment: Environment | None
    git_commit: str | None
    git_dirty: bool | None
    kernel_id: str | None = None
    host: str | None = None
    pid: int | None = None
    #: Datasets the run read and wrote (variables and files), inputs first.
    data: list[RunData] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = self.run.to_dict()
        env = self.environment.to_dict() if self.environment else {}
        env["git"] = {"commit": self.git_commit, "dirty": self.git_dirty}
        data.update(
            {
                "code": self.code,
                "error": self.error,
                "metric_series": {
                    k: [p.to_dict() for p in pts] for k, pts in self.metric_series.items()
                },
                "outputs": self.outputs,
                "environment": env,
                "parent_run_id": self.run.parent_run_id,
                "source": self.run.source,
                "data": {
                    "inputs": [d.to_dict() for d in self.data if d.role == "input"],
                    "outputs": [d.to_dict() for d in self.data if d.role == "output"],
                },
            }
        )
        return data


class SnapshotStatus(str, enum.Enum):
    """``pending`` while its blocks are being written; usable only once ``complete``."""

    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass(frozen=True)
class Snapshot:
    """A dataset snapshot: identity (``digest``), shape, statistics and storage state."""

    digest: str
    kind: str
    status: SnapshotStatus
    rows: int | None
    columns: int | None
    nbytes: int
    stored_bytes: int
    schema: dict[str, Any]
    layout: dict[str, Any]
    stats: dict[str, Any] | None
    error: str | None
    name: str | None
    pinned: bool
    created_at: float
    completed_at: float | None

    def __repr__(self) -> str:
        shape = "x".join("?" if d is None else f"{d:,}" for d in self.shape) or f"{self.nbytes:,} B"
        name = f" {self.name!r}" if self.name else ""
        return f"<Snapshot{name} {self.kind} {shape} {self.short} {self.status.value}>"

    @property
    def short(self) -> str:
        """The digest's first 12 hex digits: what tables and the sidebar show."""
        return self.digest.partition(":")[2][:12]

    @property
    def shape(self) -> list[int | None]:
        if self.kind in ("file", "folder"):
            return []
        if self.kind == "ndarray":
            return list(self.schema.get("shape", [self.rows]))
        return [self.rows, self.columns]

    def to_dict(self, *, layout: bool = False) -> dict[str, Any]:
        data = {
            "digest": self.digest,
            "short": self.short,
            "kind": self.kind,
            "status": self.status.value,
            "rows": self.rows,
            "columns": self.columns,
            "shape": self.shape,
            "nbytes": self.nbytes,
            "stored_bytes": self.stored_bytes,
            "schema": self.schema,
            "stats": self.stats,
            "error": self.error,
            "name": self.name,
            "pinned": self.pinned,
            "created_at": iso(self.created_at),
            "completed_at": iso(self.completed_at),
        }
        if layout:
            data["layout"] = self.layout
        return data


@dataclass(frozen=True)
class RunData:
    """A dataset a run read (``input``) or wrote (``output``), with its snapshot."""

    run_id: str
    role: str
    name: str
    path: str | None
    snapshot: Snapshot
    #: The dataset version the run got this input as (``team/churn@<hash>``), if it did.
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        snap = self.snapshot
        return {
            "role": self.role,
            "name": self.name,
            "path": self.path,
            "dataset": self.dataset,
            "digest": snap.digest,
            "short": snap.short,
            "kind": snap.kind,
            "status": snap.status.value,
            "shape": snap.shape,
            "rows": snap.rows,
            "columns": snap.columns,
            "nbytes": snap.nbytes,
        }


@dataclass(frozen=True)
class Execution:
    """One logged cell execution (see ``models.ExecutionRow``)."""

    session_id: str
    seq: int
    notebook_path: str | None
    kernel_id: str | None
    cell_id: str | None
    execution_count: int | None
    raw: str
    source: str
    status: str
    error_statement: int | None
    facts: dict[str, Any]
    run_id: str | None
    started_at: float
    duration: float | None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class KernelSession:
    """A kernel session's execution log: where and when it ran, and how many cells."""

    session_id: str
    notebook_path: str | None
    kernel_id: str | None
    started_at: float
    last_at: float
    executions: int


@dataclass(frozen=True)
class RunContext:
    """Where a run executed and what it ran, for many runs at once (comparison, explain):
    the environment (shared rows read once), git state and, when asked, the cell's code."""

    run_id: str
    environment: Environment | None
    git_commit: str | None
    git_dirty: bool | None
    code: str | None = None


@dataclass(frozen=True)
class ArtifactFile:
    """One file of an artifact: where it sits inside the artifact and which blob holds it:
    the blob named ``digest``, or, for a file written in a pack with others, the bytes
    ``[offset, offset + size)`` of the blob ``pack`` (the file's digest still names its
    bytes: dedup, checks and comparisons use it either way)."""

    path: str
    digest: str
    size: int
    pack: str | None = None
    offset: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest, "size": self.size}


def placed(
    files: Sequence[ArtifactFile], where: Mapping[str, tuple[str, int]]
) -> list[ArtifactFile]:
    """``files``, those whose bytes ``where`` places (``digest -> (pack, offset)``) saying
    so: what a claim writes of packed bytes it finds stored, and what a writer completes
    with once it packed new ones."""
    out = []
    for f in files:
        at = where.get(f.digest)
        out.append(f if at is None else ArtifactFile(f.path, f.digest, f.size, *at))
    return out


@dataclass(frozen=True)
class Artifact:
    """Something a run logged besides values: a file, a folder, a text, a dict, a figure or
    a model. ``meta`` is what the kind adds (a model's format, versions, signature…)."""

    run_id: str
    name: str
    kind: str
    size: int
    file_count: int
    media_type: str | None
    meta: dict[str, Any]
    created_at: float
    status: str = "complete"
    files: tuple[ArtifactFile, ...] = ()

    def __repr__(self) -> str:
        """One line: ``mltrack.list_artifacts(3)`` in a notebook lists a run's artifacts,
        and the generated repr (every file's digest, the whole meta) buried them."""
        what = self.kind
        if self.media_type and self.file_count == 1:
            what += f" {self.media_type}"
        files = "1 file" if self.file_count == 1 else f"{self.file_count:,} files"
        step = f", step {self.meta['step']}" if "step" in self.meta else ""
        return (
            f"<Artifact {self.name!r} ({what}, {files}, {self.size:,} bytes{step}) "
            f"of run {self.run_id[:8]}>"
        )

    @property
    def content_digest(self) -> str:
        """What the artifact's bytes are, as one digest (of its files' paths and digests):
        two artifacts with the same files have the same, whatever run logged them. What a
        recorded use keeps, so that two runs that loaded the same model are seen to."""
        h = hashlib.blake2b(digest_size=16)
        for path, digest in sorted((f.path, f.digest) for f in self.files):
            h.update(f"{path}\0{digest}\n".encode())
        return h.hexdigest()

    def file(self, path: str | None = None) -> ArtifactFile:
        """The file at ``path``, or with none the one a preview shows first (the only file,
        else the first of the listing): raises ``KeyError`` when there is none."""
        if path is None:
            if not self.files:
                raise KeyError(f"artifact {self.name!r} has no files")
            primary = self.meta.get("primary")
            for f in self.files:
                if f.path == primary:
                    return f
            return self.files[0]
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(f"artifact {self.name!r} has no file {path!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "kind": self.kind,
            "size": self.size,
            "file_count": self.file_count,
            "media_type": self.media_type,
            "meta": self.meta,
            "created_at": iso(self.created_at),
            "status": self.status,
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class ArtifactUse:
    """Run ``run_id`` loaded or downloaded artifact ``name`` of run ``source_run_id``: by
    ``ref``, through ``how`` (``load_model``…), as registered version ``model``/``version``
    when the reference named one, when the bytes were ``digest``. The run numbers and
    experiments of both ends are read with it; a producer not in this store (deleted since,
    or not pushed with the run) has ``None`` there and ``source_exists`` false."""

    run_id: str
    source_run_id: str
    name: str
    kind: str
    digest: str
    ref: str
    how: str
    model: str | None
    version: int | None
    used_at: float
    run_number: int | None = None
    run_experiment: str | None = None
    source_number: int | None = None
    source_experiment: str | None = None
    #: The artifact is still there under its name (it may since hold other bytes: compare
    #: ``digest`` with its :attr:`Artifact.content_digest`).
    source_exists: bool = True

    @property
    def source(self) -> str:
        """``"<run id>/<name>"``: the reference that loads it again."""
        return f"{self.source_run_id}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_number": self.run_number,
            "run_experiment": self.run_experiment,
            "source_run_id": self.source_run_id,
            "source_number": self.source_number,
            "source_experiment": self.source_experiment,
            "source_exists": self.source_exists,
            "name": self.name,
            "kind": self.kind,
            "digest": self.digest,
            "ref": self.ref,
            "how": self.how,
            "model": self.model,
            "version": self.version,
            "used_at": iso(self.used_at),
        }


@dataclass(frozen=True)
class ModelVersion:
    """Version ``version`` of registered model ``model``: the model artifact ``artifact`` of
    run ``run_id``, with the aliases that point at it, its description and its tags."""

    model: str
    version: int
    run_id: str
    artifact: str
    created_at: float
    description: str = ""
    aliases: tuple[str, ...] = ()
    #: ``validation=passed``, ``owner=ana``: what a team says of the version, by key.
    tags: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def ref(self) -> str:
        return f"models:/{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "run_id": self.run_id,
            "artifact": self.artifact,
            "created_at": iso(self.created_at),
            "description": self.description,
            "aliases": list(self.aliases),
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class RegisteredModel:
    """A registry name, its versions (oldest first) and its aliases (``alias -> version``)."""

    name: str
    description: str
    created_at: float
    updated_at: float
    versions: tuple[ModelVersion, ...] = ()
    aliases: dict[str, int] = field(default_factory=dict)
    #: The model's own tags (``team=growth``), as MLflow's registered model tags.
    tags: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def latest(self) -> int | None:
        return self.versions[-1].version if self.versions else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "latest": self.latest,
            "aliases": dict(self.aliases),
            "tags": dict(self.tags),
            "versions": [v.to_dict() for v in self.versions],
        }


@dataclass(frozen=True)
class DatasetUse:
    """A run that read a dataset version: as that version (``dataset`` names it: got with
    ``mltrack.datasets.get``), or as the same data read another way (``dataset`` is
    ``None``: a file or a variable holding exactly that content)."""

    run_id: str
    experiment: str
    number: int
    #: The input's name in the run (the variable, the file, or the dataset's name).
    name: str
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "number": self.number,
            "name": self.name,
            "dataset": self.dataset,
        }


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable version of dataset ``dataset``, named by ``hash`` (the digest of its
    manifest: see ``store.dataset_records.version_manifest``), with the tags pointing at it
    and what its snapshot records (kind, size, rows and columns)."""

    dataset: str
    hash: str
    snapshot_digest: str
    kind: str
    message: str
    meta: dict[str, Any]
    author: str
    created_at: float
    nbytes: int
    rows: int | None = None
    columns: int | None = None
    tags: tuple[str, ...] = ()
    #: Whether ``latest`` points at it (the version pushed last).
    latest: bool = False
    #: The runs that read it (filled by ``dataset_versions(..., uses=True)``).
    runs: tuple[DatasetUse, ...] = ()

    @property
    def hex(self) -> str:
        """The hash without its algorithm: what a reference spells."""
        return self.hash.partition(":")[2] or self.hash

    @property
    def short(self) -> str:
        """The hash's first 12 hex digits: what tables show."""
        return self.hex[:12]

    @property
    def ref(self) -> str:
        """``team/churn@<hash>``: names this version in any store, for good."""
        return f"{self.dataset}@{self.hex}"

    def __repr__(self) -> str:
        tags = "".join(f" @{t}" for t in self.tags) + (" (latest)" if self.latest else "")
        return f"<DatasetVersion {self.dataset}@{self.short}{tags} {self.kind}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "hash": self.hash,
            "short": self.short,
            "ref": self.ref,
            "snapshot": self.snapshot_digest,
            "kind": self.kind,
            "message": self.message,
            "meta": self.meta,
            "author": self.author,
            "created_at": iso(self.created_at),
            "nbytes": self.nbytes,
            "rows": self.rows,
            "columns": self.columns,
            "tags": list(self.tags),
            "latest": self.latest,
            "runs": [u.to_dict() for u in self.runs],
        }


@dataclass(frozen=True)
class Dataset:
    """A named dataset: its tags (``tag -> hash``), how many versions it has and the one
    ``latest`` points at."""

    name: str
    created_at: float
    updated_at: float
    version_count: int
    latest: DatasetVersion | None
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "versions": self.version_count,
            "latest": self.latest.to_dict() if self.latest is not None else None,
            "tags": dict(self.tags),
        }
