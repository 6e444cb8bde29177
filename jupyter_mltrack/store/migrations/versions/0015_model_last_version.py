"""a model's last version number

``registered_models.last_version``: the highest version number ever given to the model,
kept when versions are deleted, so that a deleted version's number is never given to
another model (numbering by the highest remaining version gave it again). Each model
starts from its highest version now; the numbers of versions deleted before this migration
are not known any more, and those above the highest remaining one may still be given once.

Both directions alter the table in place (``recreate="never"``: SQLite's own ``ADD COLUMN``
and, from SQLite 3.35, ``DROP COLUMN``). Batch mode's usual copy would drop
``registered_models``, and with foreign keys on SQLite deletes the rows of a dropped table
first, which cascades to every model's versions and aliases.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models", recreate="never") as batch:
        batch.add_column(
            sa.Column("last_version", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE registered_models SET last_version = COALESCE("
        "(SELECT MAX(v.version) FROM model_versions v"
        " WHERE v.model_id = registered_models.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("registered_models", recreate="never") as batch:
        batch.drop_column("last_version")
