"""What a store says about itself: ``store_settings``, one value per key.

The one setting so far is ``blob_url``: where a team store's blobs are. A PostgreSQL store
has no folder to put blobs beside, so every client used to need ``MLTRACK_BLOB_URL`` as well
as the database's URL; once the store remembers its blob URL (``mltrack push --to-blobs``
records it on a store that has none, or :meth:`StoreSettings.remember_blob_url`), the
database's URL is enough: ``Store.blobs`` reads it when no blob URL was given.

Only an object store's URL (``s3://``, ``gs://``…) is remembered and followed: a local path
read from a shared database would make every client write into that path on its own disk,
and a shared folder is mounted at different places on different machines anyway (those
give ``MLTRACK_BLOB_URL``). An explicit blob URL always wins over the remembered one.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from .base import StoreBase
from .models import StoreSettingRow

BLOB_URL = "blob_url"
_settings_t = StoreSettingRow.__table__
#: Schemes that name no place on the client's own disk.
_LOCAL_SCHEMES = frozenset({"file", "local", "sqlite", "postgresql", "postgres", "memory"})


def remote_blob_url(url: str) -> bool:
    """Is ``url`` an object store's (one a store may remember for everyone)?"""
    scheme, sep, rest = url.partition("://")
    return bool(sep and rest) and scheme.lower().split("+")[0] not in _LOCAL_SCHEMES


class StoreSettings(StoreBase):
    """Reading and writing ``store_settings``."""

    def setting(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(_settings_t.c.value).where(_settings_t.c.key == key)
            ).scalar()

    def set_setting(self, key: str, value: str) -> None:
        # the dialect's module imported here: a sweep's workers and every kernel import
        # the store, and PostgreSQL's dialect costs 20 ms to load where it is not used
        if self._dialect == "postgresql":
            from sqlalchemy.dialects import postgresql as module
        else:
            from sqlalchemy.dialects import sqlite as module
        stmt = module.insert(_settings_t).values(key=key, value=value, updated_at=time.time())
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def remembered_blob_url(self) -> str | None:
        """The blob URL this store remembers (``None``: none, or not an object store's)."""
        found = self.setting(BLOB_URL)
        return found if found and remote_blob_url(found) else None

    def remember_blob_url(self, url: str) -> None:
        """Make ``url`` (an object store's) the blob URL clients given only this store's
        database URL use."""
        if not remote_blob_url(url):
            raise ValueError(
                f"only an object store's URL (s3://bucket/prefix…) can be remembered by a "
                f"store, not {url!r}: clients mount a shared folder each at its own place"
            )
        self.set_setting(BLOB_URL, url)
