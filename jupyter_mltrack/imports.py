"""Importing heavy libraries from worker threads, one thread at a time.

The server answers requests in worker threads, and a request is often the first to need a
heavy library: plotly's figure class, scikit-learn's forest, pandas, or a module of ours
that imports numpy. Python holds a lock per module while it imports it, and takes the
module's lock *before* importing its parent package. So two threads that enter one package
at once by different modules can each hold what the other needs: one runs the package's
``__init__``, which imports submodule ``b``; the other imports ``b`` itself, holding ``b``
and waiting for the package. Python then raises ``_DeadlockError`` in one of them and that
request fails. It happened: a fresh server asked for a sweep's two charts at once, one
thread importing plotly (whose validators import ``narwhals.stable.v1``) and the other
scikit-learn (which imports narwhals too), and the history chart failed with a 500.

So these imports take one lock: :func:`heavy` imports a module under it, and the server
runs the first call of each of its API functions under it (see
:meth:`..server.handlers.MltrackHandler.call_with`). Once a module is imported, :func:`heavy`
returns it without the lock.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

T = TypeVar("T")


class ImportLock:
    """A re-entrant lock that can say whether the calling thread holds it (tests check
    that heavy imports happen under it)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = threading.local()

    def __enter__(self) -> ImportLock:
        self._lock.acquire()
        self._depth.n = getattr(self._depth, "n", 0) + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth.n -= 1
        self._lock.release()

    def held(self) -> bool:
        """Does the calling thread hold the lock?"""
        return getattr(self._depth, "n", 0) > 0


#: Held while a worker thread imports a heavy library (or runs an API function for the
#: first time, which may import anything).
IMPORT_LOCK = ImportLock()


def heavy(module: str) -> ModuleType:
    """``importlib.import_module(module)``, under :data:`IMPORT_LOCK` unless the module is
    imported already (a module another thread is still importing counts as not yet)."""
    found = sys.modules.get(module)
    spec = getattr(found, "__spec__", None)
    if found is not None and not getattr(spec, "_initializing", False):
        return found
    with IMPORT_LOCK:
        return importlib.import_module(module)


_CALLED: set[tuple[str, str]] = set()


def first_alone(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``; until a call of ``fn`` has returned, under :data:`IMPORT_LOCK` (the
    first call of an API function may import anything; later ones run side by side)."""
    key = (getattr(fn, "__module__", None) or "", getattr(fn, "__qualname__", None) or repr(fn))
    if key in _CALLED:
        return fn(*args)
    with IMPORT_LOCK:
        result = fn(*args)
    _CALLED.add(key)
    return result
