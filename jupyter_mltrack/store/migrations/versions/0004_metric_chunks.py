"""metric series in chunks

Metric points move from a row each (``metrics``) to a row per metric per flush
(``metric_chunks``: steps, values and timestamps as little-endian arrays), so logging a
100,000-step series is one insert instead of 100,000. Existing points are moved, a chunk per
run and metric, in the order they were written; NULL values (NaN) become NaN.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 05:40:00
"""

import math
from collections.abc import Iterator, Sequence

import sqlalchemy as sa
from alembic import op

from jupyter_mltrack.store.entities import MetricPoint
from jupyter_mltrack.store.series import chunks, series

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Points moved per chunk at most, so a huge series does not become one huge row.
MOVE_CHUNK = 100_000

_chunks = sa.table(
    "metric_chunks",
    sa.column("run_id", sa.String),
    sa.column("key", sa.String),
    sa.column("count", sa.Integer),
    sa.column("first_step", sa.BigInteger),
    sa.column("last_step", sa.BigInteger),
    sa.column("steps", sa.LargeBinary),
    sa.column("values", sa.LargeBinary),
    sa.column("timestamps", sa.LargeBinary),
)
_metrics = sa.table(
    "metrics",
    sa.column("run_id", sa.String),
    sa.column("key", sa.String),
    sa.column("step", sa.BigInteger),
    sa.column("value", sa.Float),
    sa.column("timestamp", sa.Float),
)


def _groups(rows: Iterator[sa.Row]) -> Iterator[tuple[str, list[MetricPoint]]]:
    """``(run_id, points)`` of one run and metric at a time, at most MOVE_CHUNK points."""
    current: tuple[str, str] | None = None
    group: list[MetricPoint] = []
    for run_id, key, step, value, ts in rows:
        if (run_id, key) != current or len(group) >= MOVE_CHUNK:
            if group and current is not None:
                yield current[0], group
            current, group = (run_id, key), []
        group.append(MetricPoint(key, math.nan if value is None else value, step, ts))
    if group and current is not None:
        yield current[0], group


def upgrade() -> None:
    op.create_table(
        "metric_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("steps", sa.LargeBinary(), nullable=False),
        sa.Column("values", sa.LargeBinary(), nullable=False),
        sa.Column("timestamps", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metric_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_metric_chunks_run_key", ["run_id", "key"], unique=False)

    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT run_id, key, step, value, timestamp FROM metrics ORDER BY run_id, key, id")
    )
    for run_id, group in _groups(iter(rows)):
        conn.execute(_chunks.insert(), [{"run_id": run_id, **c._asdict()} for c in chunks(group)])

    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_metrics_run_key_step")
    op.drop_table("metrics")


def downgrade() -> None:
    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_index("ix_metrics_run_key_step", ["run_id", "key", "step"], unique=False)

    conn = op.get_bind()
    runs = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT run_id FROM metric_chunks"))]
    for run_id in runs:
        rows = conn.execute(
            sa.text(
                'SELECT key, steps, "values", timestamps FROM metric_chunks '
                "WHERE run_id = :r ORDER BY id"
            ),
            {"r": run_id},
        )
        points = [p for pts in series(rows).values() for p in pts]
        if points:
            conn.execute(
                _metrics.insert(),
                [
                    {
                        "run_id": run_id,
                        "key": p.key,
                        "step": p.step,
                        "value": None if math.isnan(p.value) else p.value,
                        "timestamp": p.timestamp,
                    }
                    for p in points
                ],
            )

    with op.batch_alter_table("metric_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_chunks_run_key")
    op.drop_table("metric_chunks")
