"""artifact files packed together

``artifact_files.pack`` and ``offset``: on a remote blob store (S3) the small new files of
an artifact are written as a few *packs* (one object each), not as an object per file: a
file so written is the byte range ``[offset, offset + size)`` of the blob ``pack``. Both
are NULL for a file stored as its own blob, which every row written before this migration
is. The index lets ``gc`` ask whether any file still lives in a pack.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("artifact_files") as batch:
        batch.add_column(sa.Column("pack", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("offset", sa.BigInteger(), nullable=True))
        batch.create_index("ix_artifact_files_pack", ["pack"])


def downgrade() -> None:
    with op.batch_alter_table("artifact_files") as batch:
        batch.drop_index("ix_artifact_files_pack")
        batch.drop_column("offset")
        batch.drop_column("pack")
