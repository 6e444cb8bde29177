"""TCP ports for the servers the tests start: PostgreSQL, moto's S3, Jupyter servers, kernels.

A port found by binding port 0 and closing the socket is free only until someone else binds
it, and under ``pytest -n 2`` (``make pytest``) the other worker is someone else: its own
servers and kernels take ports in the same way at the same moments. So each xdist worker
takes its ports from a range of its own, below the kernel's ephemeral range (which binding
port 0 and outgoing connections draw from, so nothing on the machine is handed one of these
ports by chance): ``gw0`` from the first share, ``gw1`` from the second. Within a process the
ports are handed out in turn, so two servers started one after the other never get the same
one, and each is checked free by binding it (a port still held by a server that has not shut
down, or by anything else, is skipped).
"""

from __future__ import annotations

import itertools
import os
import random
import socket
from collections.abc import Iterator

#: The lowest port handed out; what lies below is left to the services a machine runs.
LOW = 10_000


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default when unknown)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_range() -> range:
    """This xdist worker's share of ``LOW`` up to the ephemeral range (all of it without
    xdist)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    span = (_ephemeral_low() - LOW) // max(count, 1)
    return range(LOW + index * span, LOW + (index + 1) * span)


def _candidates() -> Iterator[int]:
    """This worker's ports in turn, from a random one (another session's tests running on
    the machine at the same time most likely starts elsewhere)."""
    ports = _worker_range()
    start = random.randrange(len(ports))
    return itertools.cycle([*ports[start:], *ports[:start]])


_next: Iterator[int] | None = None


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A free port of this worker's range on 127.0.0.1, not handed out by this process for
    a while (the next ones come first)."""
    global _next
    if _next is None:
        _next = _candidates()
    for _ in range(len(_worker_range())):
        port = next(_next)
        if _is_free(port):
            return port
    raise RuntimeError(f"no free port in {_worker_range()}")
