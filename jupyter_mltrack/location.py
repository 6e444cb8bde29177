"""Where the store lives, decided the same way by the kernel, the server and the CLI.

Order: an explicit URL; ``MLTRACK_STORE_URL``; ``MLTRACK_HOME`` (a folder holding
``mltrack.db``); the nearest ``.mltrack/`` walking up from the working directory; else a new
``.mltrack/`` in the working directory (which, for a kernel, is the notebook's folder). The
server exports its choice in its own environment so the kernels it starts agree with it.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "MLTRACK_HOME"
URL_ENV = "MLTRACK_STORE_URL"
#: Where snapshot blobs go when not beside a SQLite store (``s3://bucket/prefix``, a folder).
BLOB_URL_ENV = "MLTRACK_BLOB_URL"
DIRNAME = ".mltrack"
DBNAME = "mltrack.db"


def find_home(start: str | os.PathLike[str] | None = None) -> Path:
    """The ``.mltrack`` folder to use when no URL is configured (not created here)."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / DIRNAME
        if candidate.is_dir():
            return candidate
    return here / DIRNAME


def sqlite_url(home: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(home) / DBNAME}"


def resolve_store_url(url: str | None = None, start: str | os.PathLike[str] | None = None) -> str:
    """The database URL to use (see the module docstring for the order)."""
    if url:
        return _normalise(url)
    env_url = os.environ.get(URL_ENV)
    if env_url:
        return _normalise(env_url)
    return sqlite_url(find_home(start))


def _normalise(url: str) -> str:
    """Accept a bare folder or ``.db`` path as well as a SQLAlchemy URL."""
    if "://" in url:
        if url.startswith("postgresql://"):
            # psycopg 3 is the driver we install; SQLAlchemy defaults to psycopg2.
            return "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    path = Path(url).expanduser().resolve()
    if path.suffix == ".db":
        return f"sqlite:///{path}"
    return sqlite_url(path)


def home_of(url: str) -> Path | None:
    """The folder of a SQLite store (where blobs go beside the database), else ``None``."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).parent
    return None
