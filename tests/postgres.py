"""Start a real, throw-away PostgreSQL server for the tests (no mocks, no shared server).

Debian's ``postgresql`` package provides ``initdb``/``pg_ctl``; PostgreSQL refuses to run as
root, so when the tests run as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .ports import free_port


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if (p / "bin" / "pg_ctl").exists()), reverse=True
        )
        if versions:
            return versions[0] / "bin"
    return None


class PostgresServer:
    """A throw-away server the tests can stop and start again (the team store going away)."""

    def __init__(self, bindir: Path, tmp: Path, port: int, prefix: list[str]) -> None:
        self.bindir, self.tmp, self.port, self.prefix = bindir, tmp, port, prefix
        self.data = tmp / "data"
        self.url = f"postgresql://mltrack@127.0.0.1:{port}/postgres"
        self._env = {**os.environ, "LC_ALL": "C.UTF-8"}

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, *args], check=True, capture_output=True, env=self._env, cwd=self.tmp
        )

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.tmp / "log"),
            "-o",
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected, as when it is restarted)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


@contextmanager
def postgres_instance() -> Iterator[PostgresServer]:
    """A fresh server (see :class:`PostgresServer`), stopped and removed afterwards."""
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql package"
        )
    as_root = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="mltrack-pg-"))
    prefix: list[str] = []
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
        os.chmod(tmp, 0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, tmp, free_port(), prefix)
    server._run(
        str(bindir / "initdb"), "-D", str(server.data), "-U", "mltrack", "-A", "trust", "-E", "UTF8"
    )
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop("immediate")
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a ``postgresql://`` URL of a fresh server, stopped and removed afterwards."""
    with postgres_instance() as server:
        yield server.url
