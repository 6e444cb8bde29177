"""A list of work shared by a few threads (copies of blobs, in and out of a store).

It lives with the store because both the blob store's batch writes and the artifact code
that reads blobs back use it, and the store must not import the artifact code.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def map_threads(fn: Callable[[_T], _R], items: Sequence[_T], threads: int) -> list[_R]:
    """``[fn(x) for x in items]`` on up to ``threads`` threads, each taking the next item
    when done with one. No future per item: for a thousand small files a pool's per-task
    bookkeeping cost more than the work. The first exception is raised once all stop."""
    count = min(threads, len(items))
    if count <= 1:
        return [fn(x) for x in items]
    results: list[Any] = [None] * len(items)
    taken = itertools.count()  # its next() is atomic: each index goes to one thread
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            i = next(taken)
            if i >= len(items):
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)

    workers = [threading.Thread(target=work, name=f"mltrack-blobs-{n}") for n in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return results
