"""What selects the runs of a listing before any query: their status, and the notebook
with the kernels of its live sessions. Shared by the store's own plain listing
(``Store.search_runs``) and the query language's scope (``query.search.Scope``), so both
refuse the same statuses with the same words and find a renamed notebook's runs the same
way."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_

from .entities import RunStatus
from .errors import InvalidQuery
from .models import RunRow


def checked_status(status: str) -> str:
    """``status`` as stored, or :class:`InvalidQuery` naming the statuses there are."""
    try:
        return RunStatus(status).value
    except ValueError:
        raise InvalidQuery(
            f"unknown status {status!r}; use one of " + ", ".join(s.value for s in RunStatus)
        ) from None


def notebook_condition(notebook: str, kernels: Sequence[str] = ()) -> ColumnElement[bool]:
    """The runs of a notebook: recorded under its path, or by one of ``kernels`` (the
    notebook's live kernels: one started before the notebook was renamed still records the
    old path, and JupyterLab does not tell the server of the rename)."""
    condition = RunRow.notebook_path == notebook
    if kernels:
        condition = or_(condition, RunRow.kernel_id.in_(list(kernels)))
    return condition
