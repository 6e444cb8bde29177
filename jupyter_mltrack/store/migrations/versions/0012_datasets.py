"""named, versioned datasets

``datasets`` (a name such as ``team/churn`` and the version pushed last), their immutable
``dataset_versions`` (named by the hash of their manifest: the snapshot digest of the content
and the user's meta) and ``dataset_tags`` (``gold`` -> a version; tags move). ``run_data``
gains ``dataset``: the version (``team/churn@<hash>``) a run's input was got as.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("latest", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column(
            "snapshot_digest",
            sa.String(length=80),
            sa.ForeignKey("snapshots.digest", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "hash"),
    )
    op.create_index("ix_dataset_versions_snapshot", "dataset_versions", ["snapshot_digest"])
    op.create_table(
        "dataset_tags",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id", "hash"],
            ["dataset_versions.dataset_id", "dataset_versions.hash"],
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "tag"),
    )
    with op.batch_alter_table("run_data", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dataset", sa.String(length=600), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_data", schema=None) as batch_op:
        batch_op.drop_column("dataset")
    op.drop_table("dataset_tags")
    op.drop_index("ix_dataset_versions_snapshot", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
