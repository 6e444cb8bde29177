"""execution log

Every cell execution of a kernel session with the extension loaded, as it ran, with what
the kernel observed per statement: the input of "export to pipeline".

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 05:47:22.754553
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("notebook_path", sa.String(length=1024), nullable=True),
        sa.Column("kernel_id", sa.String(length=64), nullable=True),
        sa.Column("cell_id", sa.String(length=128), nullable=True),
        sa.Column("execution_count", sa.Integer(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error_statement", sa.Integer(), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "seq", name="uq_executions_session_seq"),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_notebook_path", ["notebook_path"], unique=False)
        batch_op.create_index("ix_executions_run_id", ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_run_id")
        batch_op.drop_index("ix_executions_notebook_path")

    op.drop_table("executions")
