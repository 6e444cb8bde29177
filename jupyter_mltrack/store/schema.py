"""Bringing a database to the current schema with alembic.

Opening a store happens at every kernel start, so the common case (already at head) must cost
one small query, not a scan of the migration scripts: we compare the database's revision with
``HEAD`` and run alembic only when they differ. A test checks ``HEAD`` against the scripts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in ``migrations/versions``.
HEAD = "0018"
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    # alembic (and mako with it) is imported only when a migration runs: it takes about
    # 0.1 s to import, and a store at head (every kernel start but the first) never needs it
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # alembic's config is a ConfigParser: a "%" (URL-quoted password) must be doubled
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database to ``HEAD``. Safe when several processes open a new store at once
    (a kernel's first cell and the server, say): they take turns, and whoever comes second
    finds the work done."""
    if current_revision(engine) == HEAD:
        return
    with _migration_lock(engine) as conn:
        if current_revision(engine) == HEAD:
            return
        from alembic import command

        cfg = alembic_config(engine)
        if conn is not None:  # PostgreSQL: migrate in the transaction holding the lock
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            return
        with engine.begin() as own:
            cfg.attributes["connection"] = own
            command.upgrade(cfg, "head")


#: Key of the PostgreSQL advisory lock migrations hold ("mltrack" in ASCII, truncated).
PG_LOCK_KEY = 0x6D6C747261636B


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection | None]:
    """Serialise migrations across processes: an advisory lock on PostgreSQL (yielding the
    connection holding it), a lock file beside a SQLite database file."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            yield conn
        return
    database = engine.url.database
    if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
        yield None
        return
    with open(f"{database}.migrate-lock", "a+b") as handle:
        _lock_file(handle.fileno())
        try:
            yield None
        finally:
            _unlock_file(handle.fileno())


if sys.platform == "win32":
    import msvcrt

    def _lock_file(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:  # LK_LOCK gives up after 10 s; keep waiting
                continue

    def _unlock_file(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock_file(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
