"""bigint steps and best-run index

Steps become 64-bit (they are often sample counts or millisecond timestamps, past 2**31), and
latest_metrics gets an index on (key, value) so the run card's "best run of the experiment"
lookup stays fast as experiments grow.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:12:30.465493
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.alter_column(
            "step", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
        )
        batch_op.create_index("ix_latest_metrics_key_value", ["key", "value"], unique=False)

    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.alter_column(
            "step", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.alter_column(
            "step", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
        )

    with op.batch_alter_table("latest_metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_latest_metrics_key_value")
        batch_op.alter_column(
            "step", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=False
        )
