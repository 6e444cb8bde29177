"""metric goals

Per experiment and metric, whether it is minimised or maximised (``mltrack.set_metric_goal``),
overriding the guess from the metric's name when runs are compared.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_goals",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("goal", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("experiment_id", "key"),
    )


def downgrade() -> None:
    op.drop_table("metric_goals")
