"""An S3-compatible server for the tests: moto in server mode, a process of its own on a
free local port (what a team's MinIO or S3 is to the tracker: an HTTP endpoint)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from .ports import free_port

#: Credentials moto accepts (any), set for the tracker's s3fs and for the test's own boto3.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Start ``python -m moto.server`` and yield its endpoint URL; stopped at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's S3 server did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def s3_client(endpoint: str) -> Any:
    """The test's own boto3 client of the server at ``endpoint`` (to look at what the
    tracker wrote, not through it)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
    )


def make_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the server at ``endpoint``."""
    s3_client(endpoint).create_bucket(Bucket=bucket)


def use_s3(monkeypatch: Any, endpoint: str, prefix: str = "mltrack") -> str:
    """Point the tracker's s3fs at ``endpoint`` (credentials, ``AWS_ENDPOINT_URL``, fsspec's
    config for ``s3``) through ``monkeypatch``, and create a new bucket there: its name."""
    import fsspec.config

    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
    bucket = f"{prefix}-{uuid.uuid4().hex[:10]}"
    make_bucket(endpoint, bucket)
    return bucket
