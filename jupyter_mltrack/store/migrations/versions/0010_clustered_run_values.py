"""clustered run values

On SQLite, ``params``, ``latest_metrics`` and ``tags`` become ``WITHOUT ROWID`` tables: their
rows are stored in the order of their primary key ``(run_id, key)``. A run's value is then one
b-tree lookup (a rowid table looks the key up in its primary-key index, then the row in the
table, a second random read per value), and every other index of these tables carries
``run_id``, so ``params.lr < 0.01`` and ``metrics.acc > 0.5`` find their runs from the index
alone. Benchmark 10 (``bench/search.py``) at 100,000 runs: grouping by a param with three
metrics aggregated 0.95 s -> 0.29 s, the total of a filtered page 0.46 s -> 0.14 s.

PostgreSQL is left as it is (its tables are heaps either way, and it hash-joins).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> list[sa.Column]:
    """The table's columns as of 0009 (a fresh list each time: a Column has one table)."""
    run_id = sa.Column(
        "run_id", sa.String(length=32), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    )
    key = sa.Column("key", sa.String(length=256), nullable=False)
    if table == "params":
        rest = [
            sa.Column("value", sa.Text(), nullable=False),
            sa.Column("num_value", sa.Float(), nullable=True),
            sa.Column("text_value", sa.Text(), nullable=True),
        ]
    elif table == "latest_metrics":
        rest = [
            sa.Column("step", sa.BigInteger(), nullable=False),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column("timestamp", sa.Float(), nullable=False),
            sa.Column("min_value", sa.Float(), nullable=True),
            sa.Column("max_value", sa.Float(), nullable=True),
            sa.Column("sum_value", sa.Float(), nullable=True),
            sa.Column("n_values", sa.Integer(), nullable=False, server_default="0"),
        ]
    else:
        rest = [sa.Column("value", sa.Text(), nullable=False)]
    return [run_id, key, *rest, sa.PrimaryKeyConstraint("run_id", "key")]


#: Each table's indexes besides its primary key: (name, columns).
_INDEXES = {
    "params": [("ix_params_key_num", ["key", "num_value"])],
    "latest_metrics": [("ix_latest_metrics_key_value", ["key", "value"])],
    "tags": [],
}


def _rebuild(table: str, *, with_rowid: bool) -> None:
    """Copy ``table`` into a new table with or without rowid, and take its place."""
    columns = _columns(table)
    names = [c.name for c in columns if isinstance(c, sa.Column)]
    copy = op.create_table(f"{table}_0010", *columns, sqlite_with_rowid=with_rowid)
    old = sa.table(table, *(sa.column(name) for name in names))
    op.execute(copy.insert().from_select(names, sa.select(*old.c)))
    op.drop_table(table)  # its indexes go with it
    op.rename_table(copy.name, table)
    for name, cols in _INDEXES[table]:
        op.create_index(name, table, cols)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _INDEXES:
        _rebuild(table, with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in _INDEXES:
        _rebuild(table, with_rowid=True)
