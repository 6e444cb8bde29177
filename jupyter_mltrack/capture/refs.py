"""Naming runs from a notebook: the current experiment, and run references resolved in it.

``mltrack.compare(3, 5)``, ``%mltrack compare 3 5`` and the compare widget all name runs the way
the CLI and the REST API do (a number in the current experiment, a full id or a unique id
prefix). "Current" in a kernel is the experiment a bare ``%%track`` cell records into: the
magics' ``%mltrack experiment NAME`` when it was set, else ``$MLTRACK_EXPERIMENT``, else the
notebook's name, else the store's default experiment (``Default``: a notebook run by nbconvert
has no name the kernel can see). So a number always means the run the run card under a cell
showed, and ``compare``, ``explain``, ``importance``, ``set_metric_goal`` and the magics agree
on it. Kept apart from ``magics.py`` so the public API can use it without loading the magics
(and IPython) in a plain script.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from . import api
from .kernelinfo import notebook_path

if TYPE_CHECKING:
    from ..store.store import Store


class RunRefError(LookupError):
    """A run reference that names no run (or several): the message says which and where."""


def current_experiment() -> str:
    """The experiment a run number refers to in this process: the one a bare ``%%track``
    cell (or ``start_run()``) records into.

    The ``%mltrack experiment`` setting of a loaded extension wins; without one (or outside
    IPython) it is the default experiment of the notebook the kernel runs
    (``MLTRACK_EXPERIMENT``, else the notebook's name), else the store's default experiment.
    """
    from ..store.store import DEFAULT_EXPERIMENT

    name: str | None = None
    magics_module = sys.modules.get("jupyter_mltrack.capture.magics")
    if magics_module is not None:  # only a loaded extension can have set one
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - the magics module imports IPython
            shell = None
        for configurable in getattr(shell, "configurables", ()):
            if isinstance(configurable, magics_module.TrackMagics) and configurable.experiment:
                name = configurable.experiment
                break
    if name is None:
        name = api.default_experiment(notebook_path())
    # as Store.get_or_create_experiment names the experiment a run is recorded into
    return (name or DEFAULT_EXPERIMENT).strip() or DEFAULT_EXPERIMENT


def resolve_runs(store: Store, refs: Iterable[object], experiment: str | None) -> list[str]:
    """Full run ids for ``refs`` (numbers in ``experiment``, ids, id prefixes), in order.

    Duplicates are dropped (keeping the first). An unknown or ambiguous reference raises
    :class:`RunRefError` naming the reference and the experiment a number was looked up in.
    """
    from ..store import errors

    ids: list[str] = []
    for ref in refs:
        text = _ref_text(ref)
        try:
            run_id = store.resolve_run_id(text, experiment)
        except errors.RunRefError as exc:  # its message says what is wrong, and where
            raise RunRefError(str(exc)) from None
        if run_id not in ids:
            ids.append(run_id)
    return ids


def check_experiment(store: Store, experiment: str) -> None:
    """Raise :class:`RunRefError` when ``experiment`` does not exist, listing some that do."""
    names = sorted(e.name for e in store.list_experiments())
    if experiment not in names:
        listed = ", ".join(names[:10]) + (", …" if len(names) > 10 else "") or "none yet"
        raise RunRefError(f"no experiment {experiment!r}; experiments: {listed}")


def _ref_text(ref: object) -> str:
    """A reference as text: ``3``, ``"3"``, ``"#3"``, an id, or an object with an ``id``
    (a ``Run`` or the ``ActiveRun`` that ``start_run`` returned)."""
    if isinstance(ref, bool):
        raise RunRefError(f"not a run reference: {ref!r}")
    if isinstance(ref, int):
        return str(ref)
    if isinstance(ref, str):
        text = ref.strip()
        return text[1:] if text.startswith("#") and text[1:].isdigit() else text
    run_id = getattr(ref, "id", None)
    if isinstance(run_id, str):
        return run_id
    raise RunRefError(f"not a run reference: {ref!r} (use a run number, an id or an id prefix)")
