"""``make team-store``: a team store on this machine, for trying *Working with a team* (README).

The same two servers the tests start: a throw-away PostgreSQL server (``tests/postgres.py``)
for the records and moto's S3-compatible server (``tests/s3.py``) for the data, with one
bucket. It prints the variables a shell, a kernel or ``mltrack`` needs to use them (and,
with ``--env-file``, writes them to a file to ``source``), then keeps both running until
Ctrl-C, when both are stopped and their data removed. Nothing here is for production: a
team runs its own PostgreSQL and S3 (or MinIO, Ceph, R2…) with the same two variables.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from jupyter_mltrack.location import BLOB_URL_ENV

from .postgres import postgres_server
from .s3 import CREDENTIALS, make_bucket, s3_server

#: The variables of the team store (``--to`` / ``--from`` of ``mltrack push|pull`` take the
#: first as a URL and the second as ``--to-blobs``/``--from-blobs``).
TEAM_URL_ENV = "MLTRACK_TEAM_URL"
TEAM_BLOBS_ENV = "MLTRACK_TEAM_BLOBS"


def environment(pg_url: str, endpoint: str, bucket: str) -> dict[str, str]:
    """What a process needs to reach this team store: its URLs, and the S3 endpoint and
    credentials for s3fs/boto3."""
    return {
        TEAM_URL_ENV: pg_url,
        TEAM_BLOBS_ENV: f"s3://{bucket}/mltrack",
        "AWS_ENDPOINT_URL": endpoint,
        **CREDENTIALS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.team_store", description=__doc__)
    parser.add_argument("--bucket", default="team", help="the bucket made for the data")
    parser.add_argument("--env-file", type=Path, help="also write the variables here")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("starting PostgreSQL and an S3-compatible server (moto)…", file=sys.stderr)
    with postgres_server() as pg, s3_server() as endpoint:
        make_bucket(endpoint, args.bucket)
        env = environment(pg, endpoint, args.bucket)
        lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
        if args.env_file is not None:
            args.env_file.write_text("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        where = (
            f"`source {args.env_file}`"
            if args.env_file is not None
            else "write them to a file with --env-file FILE and `source` it"
        )
        print(
            f"\nThe team store is up. In another terminal, set the variables above ({where}),"
            " then:\n"
            f'  mltrack push --to "${TEAM_URL_ENV}" --to-blobs "${TEAM_BLOBS_ENV}"\n'
            f"A notebook records into it directly with MLTRACK_STORE_URL=${TEAM_URL_ENV} and"
            f" {BLOB_URL_ENV}=${TEAM_BLOBS_ENV}.\nCtrl-C stops both servers and deletes"
            " their data.",
            file=sys.stderr,
            flush=True,
        )
        stop.wait()
    if args.env_file is not None:
        args.env_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
