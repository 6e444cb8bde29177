"""Autolog: params and metrics recorded from the ML libraries' own calls, with no code.

In a ``%%track`` cell (on by default; ``%%track --no-autolog`` or
``%config TrackMagics.autolog = False`` turns it off) and in ``mltrack.start_run()`` runs after
``mltrack.autolog()``, a :class:`Session` patches scikit-learn, XGBoost, LightGBM, Keras and
PyTorch Lightning — only those already imported or imported while it is open — and
:meth:`Session.end` restores every patch. With no session open nothing is patched, so
autolog costs nothing outside tracked cells. This module imports only the standard library:
``%load_ext`` pays nothing for it.

One module per library (``sklearn``, ``xgboost``, ``lightgbm``, ``keras``, ``lightning``); the
deep-learning ones record a training as it goes (a point per epoch, through a callback the
session adds for the call), so an interrupted training keeps what it had done.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["begin", "enable", "enabled", "is_timing"]

#: Whether ``start_run()`` runs autolog (``mltrack.autolog()``); ``%%track`` has its own switch.
_for_runs = False


def enable(on: bool = True) -> None:
    """``mltrack.autolog(enable=True)``: autolog the runs ``start_run()`` opens from now on
    (scripts, loops of runs), until ``mltrack.autolog(False)``."""
    global _for_runs
    _for_runs = bool(on)


def enabled() -> bool:
    """Whether ``start_run()`` runs are autologged."""
    return _for_runs


def begin(run: Any, namespace: dict[str, Any] | None = None) -> Session | None:
    """Start autologging into ``run`` (an ``ActiveRun``, or anything with ``log_metric`` and
    ``log_params``). ``namespace`` holds the user's variables (the kernel's ``user_ns``; by
    default ``__main__``'s): names it binds to patched functions are swapped for the session,
    and data arguments are named from it. ``None`` when a session is already open. Never
    raises: a failure is one line on stderr and the run goes on without autolog."""
    try:
        from . import _session

        if namespace is None:
            main = sys.modules.get("__main__")
            namespace = getattr(main, "__dict__", None)
        return _session.begin(run, namespace)
    except Exception as exc:
        print(f"mltrack: autolog: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def begin_for_run(run: Any) -> Session | None:
    """A session for a ``start_run()`` run when ``mltrack.autolog()`` turned them on."""
    return begin(run) if _for_runs else None


def is_timing(key: str) -> bool:
    """Whether metric ``key`` is a training time autolog recorded (``fit_time``, or
    ``<Class>.fit_time``): it measures the machine, so a reproduction never matches it."""
    return key == "fit_time" or key.endswith(".fit_time")
