"""a registered model's tags

``registered_models.tags``: the model's own tags (``team=growth``, ``task=churn``), as
MLflow's registered model tags, beside its versions' (0016): JSON text, ``{}`` for the
models there are.

Both directions alter the table in place (``recreate="never"``), as 0015 and 0016 do: batch
mode's copy would drop ``registered_models``, and SQLite's foreign keys would delete the
versions and aliases pointing at its rows.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models", recreate="never") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("registered_models", recreate="never") as batch:
        batch.drop_column("tags")
