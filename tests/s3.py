"""An S3-compatible server for the tests: moto in server mode, a process of its own on a
free local port (what a team's MinIO or S3 is to the tracker: an HTTP endpoint)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .ports import free_port

#: Credentials moto accepts (any), set for the tracker's s3fs and for the test's own boto3.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def s3_server(*, tls: bool = False) -> Iterator[str]:
    """Start ``python -m moto.server`` and yield its endpoint URL; stopped at the end.

    ``tls``: serve HTTPS, as S3 itself does, with a certificate made here for 127.0.0.1,
    which clients trust through ``AWS_CA_BUNDLE`` (set while the server runs, botocore's
    and aiobotocore's own setting): over HTTPS botocore sends a checksum of the body
    rather than signing it, so uploads cost the client what they cost against S3."""
    port = free_port()
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with contextlib.ExitStack() as stack:
        if tls:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="mltrack-tls-"))
            cert, key = _certificate(Path(folder))
            args += ["-c", str(cert), "-k", str(key)]
            stack.enter_context(_environ("AWS_CA_BUNDLE", str(cert)))
        scheme = "https" if tls else "http"
        yield stack.enter_context(_serving(args, port, scheme))


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, written in ``folder``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def _serving(args: list[str], port: int, scheme: str) -> Iterator[str]:
    proc = subprocess.Popen(
        args,
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
        yield f"{scheme}://127.0.0.1:{port}"
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
