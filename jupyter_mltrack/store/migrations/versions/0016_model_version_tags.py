"""a model version's tags

``model_versions.tags``: the version's tags (``validation=passed``, ``owner=ana``) as JSON
text, ``{}`` for the versions there are. A column rather than a table: tags are read with
their version and written a few keys at a time, and a pushed version carries them with its
row.

Both directions alter the table in place (``recreate="never"``), as 0015 does: batch mode's
copy would drop ``model_versions``, and SQLite's foreign keys would delete the aliases
pointing at its rows.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", recreate="never") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("model_versions", recreate="never") as batch:
        batch.drop_column("tags")
