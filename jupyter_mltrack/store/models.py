"""SQLAlchemy ORM rows. Only :mod:`.store` touches them; everyone else gets :mod:`.entities`.

Times are epoch seconds in a ``Float`` column: portable between SQLite and PostgreSQL, cheap
to index and compare, and exact enough (microseconds) for ordering runs and metric points.
JSON values are kept as text so both backends store them the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ExperimentRow(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False, unique=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class EnvironmentRow(Base):
    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    python: Mapped[str] = mapped_column(String(64), nullable=False)
    platform: Mapped[str] = mapped_column(String(256), nullable=False)
    packages: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("experiment_id", "number", name="uq_runs_experiment_number"),
        Index("ix_runs_status", "status"),
        Index("ix_runs_notebook_path", "notebook_path"),
        Index("ix_runs_start_time", "start_time"),
        Index("ix_runs_kernel_id", "kernel_id"),
        #: Nested runs: a parent's children, and "is this run's parent still there?".
        Index("ix_runs_parent_run_id", "parent_run_id"),
        #: The sidebar's poll: the newest change is one index lookup (see ``revision``).
        Index("ix_runs_updated_at", "updated_at"),
        #: An experiment's runs newest first, the default listing, without a sort.
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    start_time: Mapped[float] = mapped_column(Float, nullable=False)
    end_time: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)
    notebook_path: Mapped[str | None] = mapped_column(String(1024))
    cell_id: Mapped[str | None] = mapped_column(String(128))
    execution_count: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(Text, nullable=False, default="")
    error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    source: Mapped[str] = mapped_column(String(32), nullable=False, default="notebook")
    parent_run_id: Mapped[str | None] = mapped_column(String(32))
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="SET NULL")
    )
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    kernel_id: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(256))
    pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[float | None] = mapped_column(Float)


class ParamRow(Base):
    """A parameter: its typed JSON ``value``, and the forms the query language compares
    (see :mod:`.searchable`)."""

    __tablename__ = "params"
    #: ``params.lr < 0.01`` is a range scan of one key. On SQLite the rows are clustered by
    #: ``(run_id, key)`` (``WITHOUT ROWID``, migration 0010): a run's param is one lookup,
    #: and this index carries ``run_id``, so a query's subquery reads the index alone.
    __table_args__ = (
        Index("ix_params_key_num", "key", "num_value"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    #: The value as a number (a number, or a string that reads as one), else NULL.
    num_value: Mapped[float | None] = mapped_column(Float)
    #: The string of a string value, the JSON text of any other.
    text_value: Mapped[str | None] = mapped_column(Text)


class MetricChunkRow(Base):
    """Points of one metric of one run, as written by one flush: steps (int64), values
    (float64, NaN kept) and timestamps (float64) as little-endian arrays.

    A row per point (MLflow's layout) makes logging 100,000 steps cost 100,000 inserts and
    index entries; a chunk per flush makes it one, and reading a series back is a few rows.
    """

    __tablename__ = "metric_chunks"
    __table_args__ = (Index("ix_metric_chunks_run_key", "run_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    key: Mapped[str] = mapped_column(String(256), nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
    first_step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    steps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    values: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    timestamps: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LatestMetricRow(Base):
    """Latest value of each metric of a run, and the minimum, maximum, sum and count of all
    its non-NaN values (merged at each flush, see :mod:`.searchable`): listing, filtering
    and sorting runs by any reducer never decodes a series."""

    __tablename__ = "latest_metrics"
    #: The run card asks "best value of this metric in this experiment" after every cell.
    #: Clustered by ``(run_id, key)`` on SQLite, as ``params``.
    __table_args__ = (
        Index("ix_latest_metrics_key_value", "key", "value"),
        {"sqlite_with_rowid": False},
    )

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, nullable=False)
    value: Mapped[float | None] = mapped_column(Float)
    timestamp: Mapped[float] = mapped_column(Float, nullable=False)
    min_value: Mapped[float | None] = mapped_column(Float)
    max_value: Mapped[float | None] = mapped_column(Float)
    sum_value: Mapped[float | None] = mapped_column(Float)
    n_values: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class RunTombstoneRow(Base):
    """A deleted run and when: the sidebar's poll notices a deletion by one index lookup
    (the newest tombstone) instead of counting every run."""

    __tablename__ = "run_tombstones"
    __table_args__ = (Index("ix_run_tombstones_deleted_at", "deleted_at"),)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    deleted_at: Mapped[float] = mapped_column(Float, nullable=False)


class OutputRow(Base):
    __tablename__ = "outputs"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    output_type: Mapped[str] = mapped_column(String(32), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)


class TagRow(Base):
    __tablename__ = "tags"
    #: Clustered by ``(run_id, key)`` on SQLite, as ``params``.
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False, default="")


class SnapshotRow(Base):
    """One dataset snapshot, named by its fingerprint digest (``xxh3-128:…``).

    ``schema`` is the fingerprint's schema (what identity covers), ``layout`` how to rebuild
    it: the frame's storage schema and each column's block digests, or the blob of a file.
    A snapshot is usable once ``status`` is ``complete``: its blocks are durable.
    """

    __tablename__ = "snapshots"
    __table_args__ = (
        Index("ix_snapshots_name", "name"),
        Index("ix_snapshots_created_at", "created_at"),
    )

    digest: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    columns: Mapped[int | None] = mapped_column(Integer)
    #: Size of the data itself: in-memory bytes of a frame, or a file's size.
    nbytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    #: Bytes this snapshot added to the blob store when it was first written.
    stored_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    schema: Mapped[str] = mapped_column(Text, nullable=False)
    layout: Mapped[str] = mapped_column(Text, nullable=False)
    stats: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(256))
    pinned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    completed_at: Mapped[float | None] = mapped_column(Float)
    #: The process writing a ``pending`` snapshot and since when (a pid is only that
    #: process's if it started before then): ``gc`` collects at once a snapshot whose
    #: writer is gone, and never one whose writer lives.
    writer_host: Mapped[str | None] = mapped_column(String(255))
    writer_pid: Mapped[int | None] = mapped_column(Integer)
    writer_at: Mapped[float | None] = mapped_column(Float)


class BlockRow(Base):
    """Where a stored block lives: a byte range of a pack blob. A row exists only once the
    pack holding it is durable, so "is this block stored?" is one indexed lookup."""

    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_pack", "pack"),)

    digest: Mapped[str] = mapped_column(String(80), primary_key=True)
    pack: Mapped[str] = mapped_column(String(80), nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, nullable=False)
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: Uncompressed size of the block's values.
    raw_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: Partial moments of a numeric block (JSON: n, nulls, sum, min, max, m2): merged, they
    #: give a column's exact count, mean, std, min and max without reading its data again.
    stats: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class RunDataRow(Base):
    """A dataset a run read (``input``) or wrote (``output``): a variable or a file."""

    __tablename__ = "run_data"
    __table_args__ = (Index("ix_run_data_snapshot", "snapshot_digest"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(1024), primary_key=True)
    snapshot_digest: Mapped[str] = mapped_column(
        ForeignKey("snapshots.digest", ondelete="RESTRICT"), nullable=False
    )
    #: Resolved path of a file (``None`` for a variable).
    path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    #: The dataset version an input was got as (``team/churn@<hash>``, from
    #: ``mltrack.datasets.get``); ``None`` for data read any other way.
    dataset: Mapped[str | None] = mapped_column(String(600))


class ExecutionRow(Base):
    """One cell execution of a kernel session, as it actually ran (the export's input).

    ``source`` is the Python IPython executed (after its transforms); ``facts`` holds what
    the kernel observed per top-level statement (which ran, which objects names were bound
    to, files opened, RNG and working-directory changes): what slicing needs.
    """

    __tablename__ = "executions"
    __table_args__ = (
        UniqueConstraint("session_id", "seq", name="uq_executions_session_seq"),
        Index("ix_executions_notebook_path", "notebook_path"),
        Index("ix_executions_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(32), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    notebook_path: Mapped[str | None] = mapped_column(String(1024))
    kernel_id: Mapped[str | None] = mapped_column(String(64))
    cell_id: Mapped[str | None] = mapped_column(String(128))
    execution_count: Mapped[int | None] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    error_statement: Mapped[int | None] = mapped_column(Integer)
    facts: Mapped[str] = mapped_column(Text, nullable=False)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    started_at: Mapped[float] = mapped_column(Float, nullable=False)
    duration: Mapped[float | None] = mapped_column(Float)


class MetricGoalRow(Base):
    """Whether a metric of an experiment is minimised or maximised, when the name alone
    would guess wrong (``f1_loss_gap``…): what comparisons call better and worse."""

    __tablename__ = "metric_goals"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(256), primary_key=True)
    #: ``min`` or ``max``.
    goal: Mapped[str] = mapped_column(String(8), nullable=False)


class RunValueRow(Base):
    """A value a tracked cell bound, recorded compactly when the cell ended: its type, shape,
    dtypes and content digest (``record``, JSON), and the value itself when it is small
    (``data``: ``.npy``/``.npz`` bytes). ``mltrack reproduce`` compares a pipeline's values
    with these after the kernel is gone. A table of its own, not a JSON column of ``runs``
    or of ``executions``: a value may take up to a megabyte, and run listings and exports
    must not read it."""

    __tablename__ = "run_values"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    record: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)


class ArtifactRow(Base):
    """A file, folder, text, figure or model a run logged (``mltrack.log_artifact`` and
    friends). Its bytes are blobs of the snapshot blob store, listed in ``artifact_files``;
    this row says what the artifact is and how to preview it. ``pending`` while its blobs
    are being written, by the process in ``writer_*`` (``gc`` keeps the blobs of a live
    writer, as for snapshots); ``complete`` once every file is recorded."""

    __tablename__ = "artifacts"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    #: ``file``, ``folder``, ``text``, ``dict``, ``figure`` or ``model``.
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    file_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Media type of the file a preview shows first (``text/plain``, ``image/png``…).
    media_type: Mapped[str | None] = mapped_column(String(128))
    #: JSON: what the kind adds (a model's format, versions, signature, inputs…).
    meta: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    writer_host: Mapped[str | None] = mapped_column(String(255))
    writer_pid: Mapped[int | None] = mapped_column(Integer)
    writer_at: Mapped[float | None] = mapped_column(Float)


class ArtifactFileRow(Base):
    """One file of an artifact: its path inside the artifact and the blob holding its bytes.
    Rows rather than a manifest blob, so that ``gc`` learns every blob artifacts use from
    one indexed query."""

    __tablename__ = "artifact_files"
    __table_args__ = (
        ForeignKeyConstraint(
            ["run_id", "name"], ["artifacts.run_id", "artifacts.name"], ondelete="CASCADE"
        ),
        Index("ix_artifact_files_digest", "digest"),
        Index("ix_artifact_files_pack", "pack"),
    )

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(512), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: The blob holding the file's bytes at ``offset`` when it was written in a pack with
    #: other small files (on a remote store: one object for many, see ``models/packs.py``);
    #: NULL when the file is its own blob, named ``digest``.
    pack: Mapped[str | None] = mapped_column(String(80))
    offset: Mapped[int | None] = mapped_column(BigInteger)


class ArtifactUseRow(Base):
    """A run loaded or downloaded another run's artifact (W&B's ``use_artifact``): by which
    reference, as which registered version, and what the artifact's bytes were (``digest``,
    :attr:`~.entities.Artifact.content_digest`). One row per run and artifact, the first
    use's. The producer is no foreign key: the use outlives the artifact's deletion."""

    __tablename__ = "artifact_uses"
    __table_args__ = (Index("ix_artifact_uses_source", "source_run_id", "source_name"),)

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    source_run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source_name: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False)
    #: As the user gave it: ``models:/churn@production``, ``3/model``.
    ref: Mapped[str] = mapped_column(Text, nullable=False)
    #: ``load_model``, ``load_table``, ``load_text``… or ``download_artifact``.
    how: Mapped[str] = mapped_column(String(32), nullable=False)
    #: The registered version the reference resolved to then (an alias moves later); for a
    #: model loaded by its run (``3/model``), the version it was registered as then.
    model: Mapped[str | None] = mapped_column(String(256))
    version: Mapped[int | None] = mapped_column(Integer)
    used_at: Mapped[float] = mapped_column(Float, nullable=False)


class RegisteredModelRow(Base):
    """A name models are registered under (``churn``); its versions are ``model_versions``.

    ``last_version`` is the highest version number ever given to the model. It stays when
    versions are deleted, so the next version takes the number after it and a number never
    names a second model: whatever pinned ``models:/churn/2`` must not load another model
    after version 2 was deleted."""

    __tablename__ = "registered_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)
    last_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default="0"
    )
    #: The model's own tags (``team=growth``) as JSON text; its versions have theirs.
    tags: Mapped[str] = mapped_column(Text, nullable=False, default="{}", server_default="{}")


class ModelVersionRow(Base):
    """Version ``version`` of a registered model: the model artifact ``artifact`` of run
    ``run_id``, with its description and tags. A run with registered versions cannot be deleted (``RESTRICT``): the
    registry would point at nothing."""

    __tablename__ = "model_versions"
    __table_args__ = (Index("ix_model_versions_run", "run_id"),)

    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="RESTRICT"), nullable=False)
    artifact: Mapped[str] = mapped_column(String(512), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    #: ``{"key": "value"}`` as JSON text (``validation=passed``): read with the version,
    #: changed a few keys at a time, never searched by the database.
    tags: Mapped[str] = mapped_column(Text, nullable=False, default="{}", server_default="{}")


class ModelAliasRow(Base):
    """``production`` -> version 3 of ``churn``: at most one version per alias."""

    __tablename__ = "model_aliases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["model_id", "version"],
            ["model_versions.model_id", "model_versions.version"],
            ondelete="CASCADE",
        ),
    )

    model_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(256), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class DatasetRow(Base):
    """A named dataset (``team/churn``); its versions are ``dataset_versions``. ``latest``
    is the hash of the version pushed last (pushing an earlier version's content again makes
    it the latest without adding a version)."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), nullable=False, unique=True)
    latest: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class DatasetVersionRow(Base):
    """An immutable version of a dataset, named by ``hash``: the digest of its manifest (the
    snapshot digest of its content and the user's meta), the same in any store. The
    snapshot cannot be deleted while a version holds it (``RESTRICT``; ``gc`` keeps it)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (Index("ix_dataset_versions_snapshot", "snapshot_digest"),)

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    hash: Mapped[str] = mapped_column(String(80), primary_key=True)
    snapshot_digest: Mapped[str] = mapped_column(
        ForeignKey("snapshots.digest", ondelete="RESTRICT"), nullable=False
    )
    message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: The user's meta as canonical JSON (exactly what the hash covers).
    meta: Mapped[str] = mapped_column(Text, nullable=False, default="{}")
    author: Mapped[str] = mapped_column(String(256), nullable=False, default="")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


class DatasetTagRow(Base):
    """``gold`` -> a version of a dataset: at most one version per tag; moving is one
    ``UPDATE``."""

    __tablename__ = "dataset_tags"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dataset_id", "hash"],
            ["dataset_versions.dataset_id", "dataset_versions.hash"],
            ondelete="CASCADE",
        ),
    )

    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(256), primary_key=True)
    hash: Mapped[str] = mapped_column(String(80), nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)


class StoreSettingRow(Base):
    """What a store says about itself, by key (``blob_url``: where its blobs are; see
    :mod:`.settings`). A table of its own rather than an environment variable every client
    must set: a team store's database is what everyone is given."""

    __tablename__ = "store_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)
