"""searchable runs

What the query language and the sidebar at 100,000 runs need: params keep their value as a
number and as text (``num_value``, ``text_value``; indexed by key and number), each run's
metric keeps the minimum, maximum, sum and count of its values beside the latest one, runs
are indexed by parent, by last change and by experiment and start, and deleted runs leave a
tombstone so the poll's revision check never counts runs. Existing rows are filled in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jupyter_mltrack.store.searchable import param_columns, summarise
from jupyter_mltrack.store.series import _unpack

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("params") as batch:
        batch.add_column(sa.Column("num_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("text_value", sa.Text(), nullable=True))
        batch.create_index("ix_params_key_num", ["key", "num_value"])
    with op.batch_alter_table("latest_metrics") as batch:
        batch.add_column(sa.Column("min_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("sum_value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("n_values", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("runs") as batch:
        batch.create_index("ix_runs_parent_run_id", ["parent_run_id"])
        batch.create_index("ix_runs_updated_at", ["updated_at"])
        batch.create_index("ix_runs_experiment_start", ["experiment_id", "start_time"])
    op.create_table(
        "run_tombstones",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_tombstones_deleted_at", "run_tombstones", ["deleted_at"])
    _fill_params()
    _fill_summaries()


def _fill_params() -> None:
    conn = op.get_bind()
    params = sa.table(
        "params",
        sa.column("run_id", sa.String),
        sa.column("key", sa.String),
        sa.column("value", sa.Text),
        sa.column("num_value", sa.Float),
        sa.column("text_value", sa.Text),
    )
    update = (
        params.update()
        .where(params.c.run_id == sa.bindparam("b_run"), params.c.key == sa.bindparam("b_key"))
        .values(num_value=sa.bindparam("b_num"), text_value=sa.bindparam("b_text"))
    )
    rows = conn.execute(sa.select(params.c.run_id, params.c.key, params.c.value)).all()
    for start in range(0, len(rows), _BATCH):
        batch = []
        for run_id, key, value in rows[start : start + _BATCH]:
            num, text = param_columns(value)
            batch.append({"b_run": run_id, "b_key": key, "b_num": num, "b_text": text})
        conn.execute(update, batch)


def _fill_summaries() -> None:
    conn = op.get_bind()
    chunks = sa.table(
        "metric_chunks",
        sa.column("id", sa.Integer),
        sa.column("run_id", sa.String),
        sa.column("key", sa.String),
        sa.column("values", sa.LargeBinary),
    )
    latest = sa.table(
        "latest_metrics",
        sa.column("run_id", sa.String),
        sa.column("key", sa.String),
        sa.column("min_value", sa.Float),
        sa.column("max_value", sa.Float),
        sa.column("sum_value", sa.Float),
        sa.column("n_values", sa.Integer),
    )
    update = (
        latest.update()
        .where(latest.c.run_id == sa.bindparam("b_run"), latest.c.key == sa.bindparam("b_key"))
        .values(
            min_value=sa.bindparam("b_min"),
            max_value=sa.bindparam("b_max"),
            sum_value=sa.bindparam("b_sum"),
            n_values=sa.bindparam("b_n"),
        )
    )
    batch: list[dict[str, object]] = []

    def add(run_id: str, key: str, series: list[float]) -> None:
        s = summarise(series)
        batch.append(
            {
                "b_run": run_id,
                "b_key": key,
                "b_min": s.min_value,
                "b_max": s.max_value,
                "b_sum": s.sum_value,
                "b_n": s.n_values,
            }
        )

    # Streamed a series at a time (chunks in key order): a store's whole history may not
    # fit in memory. The summaries are written once the read is done.
    current: tuple[str, str] | None = None
    series: list[float] = []
    found = conn.execute(
        sa.select(chunks.c.run_id, chunks.c.key, chunks.c["values"])
        .order_by(chunks.c.run_id, chunks.c.key, chunks.c.id)
        .execution_options(stream_results=True, yield_per=_BATCH)
    )
    for run_id, key, data in found:
        if (run_id, key) != current:
            if current is not None:
                add(*current, series)
            current, series = (run_id, key), []
        series.extend(_unpack("d", data))
    if current is not None:
        add(*current, series)
    for start in range(0, len(batch), _BATCH):
        conn.execute(update, batch[start : start + _BATCH])


def downgrade() -> None:
    op.drop_index("ix_run_tombstones_deleted_at", table_name="run_tombstones")
    op.drop_table("run_tombstones")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_experiment_start")
        batch.drop_index("ix_runs_updated_at")
        batch.drop_index("ix_runs_parent_run_id")
    with op.batch_alter_table("latest_metrics") as batch:
        batch.drop_column("n_values")
        batch.drop_column("sum_value")
        batch.drop_column("max_value")
        batch.drop_column("min_value")
    with op.batch_alter_table("params") as batch:
        batch.drop_index("ix_params_key_num")
        batch.drop_column("text_value")
        batch.drop_column("num_value")
