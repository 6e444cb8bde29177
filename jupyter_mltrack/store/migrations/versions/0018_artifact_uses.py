"""artifacts a run used

``artifact_uses``: which logged artifact (``source_run_id``/``source_name``) a run loaded or
downloaded (``mltrack.load_model("models:/churn@production")`` in an evaluation cell, say),
by what reference, as which registered version, and the artifact's content digest at the
time. W&B's ``use_artifact`` edge: lineage answers "which runs used this model?", and a
comparison says that two evaluations loaded different models.

The producer is not a foreign key: a use is history, kept when the artifact or its run is
deleted later (lineage then says so), and a run pushed to a team store without the run that
logged what it used still says what it used.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifact_uses",
        sa.Column(
            "run_id",
            sa.String(length=32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source_run_id", sa.String(length=32), nullable=False),
        sa.Column("source_name", sa.String(length=512), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("how", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source_run_id", "source_name"),
    )
    op.create_index("ix_artifact_uses_source", "artifact_uses", ["source_run_id", "source_name"])


def downgrade() -> None:
    op.drop_index("ix_artifact_uses_source", table_name="artifact_uses")
    op.drop_table("artifact_uses")
