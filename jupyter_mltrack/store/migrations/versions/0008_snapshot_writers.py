"""snapshot writers

Which process is writing a ``pending`` snapshot (host, pid, since when), so that ``gc`` can
tell a snapshot whose writer was killed (collected at once) from one a live process is still
writing (never collected, however long it takes).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("writer_host", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("writer_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("writer_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("writer_at")
        batch.drop_column("writer_pid")
        batch.drop_column("writer_host")
