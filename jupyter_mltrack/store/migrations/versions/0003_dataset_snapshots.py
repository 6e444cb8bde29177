"""dataset snapshots

Snapshots (named by their fingerprint digest), the blocks they are stored in (byte ranges of
pack blobs), and which snapshots each run read or wrote.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 03:35:42.037489
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("pack", sa.String(length=80), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("raw_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index("ix_blocks_pack", ["pack"], unique=False)

    op.create_table(
        "snapshots",
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("columns", sa.Integer(), nullable=True),
        sa.Column("nbytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("stats", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_snapshots_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_snapshots_name", ["name"], unique=False)

    op.create_table(
        "run_data",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("snapshot_digest", sa.String(length=80), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["snapshot_digest"], ["snapshots.digest"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("run_id", "role", "name"),
    )
    with op.batch_alter_table("run_data", schema=None) as batch_op:
        batch_op.create_index("ix_run_data_snapshot", ["snapshot_digest"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_data", schema=None) as batch_op:
        batch_op.drop_index("ix_run_data_snapshot")

    op.drop_table("run_data")
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_snapshots_name")
        batch_op.drop_index("ix_snapshots_created_at")

    op.drop_table("snapshots")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_pack")

    op.drop_table("blocks")
