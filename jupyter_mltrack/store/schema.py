"""Bringing a database to the current schema with alembic.

Opening a store happens at every kernel start, so the common case (already at head) must cost
one small query, not a scan of the migration scripts: we compare the database's revision with
``HEAD`` and run alembic only when they differ. A test checks ``HEAD`` against the scripts.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

#: The newest migration in ``migrations/versions``.
HEAD = "0004"
MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
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
    if current_revision(engine) == HEAD:
        return
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
