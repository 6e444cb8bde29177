"""Start a real, throw-away PostgreSQL server for the tests (no mocks, no shared server).

Debian's ``postgresql`` package provides ``initdb``/``pg_ctl``; PostgreSQL refuses to run as
root, so when the tests run as root the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a ``postgresql://`` URL of a fresh server, stopped and removed afterwards."""
    bindir = _bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs Debian's postgresql package"
        )
    as_root = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="mltrack-pg-"))
    data = tmp / "data"
    port = _free_port()
    prefix: list[str] = []
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
        os.chmod(tmp, 0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    env = {**os.environ, "LC_ALL": "C.UTF-8"}

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, env=env, cwd=tmp)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "mltrack", "-A", "trust", "-E", "UTF8")
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(tmp / "log"),
        "-o",
        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
        "-w",
        "start",
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"postgresql://mltrack@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            env=env,
            cwd=tmp,
        )
        shutil.rmtree(tmp, ignore_errors=True)
