"""What ``GET runs``, ``runs/count``, ``runs/groups`` and ``runs/keys`` do, without HTTP.

The listing the sidebar polls: scope, query-language filter, server-side sort, offset or
keyset paging, the parent/child tree, each run's metric summary under every reducer, and
the cheap poll (``since``: when nothing changed, the answer is the revision alone and no
list is read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..query import QuerySyntaxError
from ..query.groups import MAX_GROUP_METRICS, group_runs, groups_answer
from ..query.keys import run_keys
from ..query.search import Scope, count_selected, query_runs
from ..store import InvalidQuery, Store
from ..store.listing import checked_status
from .api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    ApiError,
    _int_arg,
    _known_args,
    _single,
    bad_request,
    flag,
)

LIST_PARAMS = (
    "experiment",
    "notebook",
    "kernel",
    "status",
    "order",
    "limit",
    "offset",
    "after",
    "filter",
    "parent",
    "roots",
    "since",
    "count",
)
#: ``GET runs/count`` takes what selects the runs of a listing, not how it is paged.
COUNT_PARAMS = ("experiment", "notebook", "kernel", "status", "filter", "parent", "roots")
GROUP_PARAMS = (
    "group_by",
    "metrics",
    "filter",
    "experiment",
    "notebook",
    "kernel",
    "status",
    "figure",
)
KEYS_PARAMS = ("experiment", "notebook", "kernel")
#: Longest filter a request may carry (a query is a line, not a document).
MAX_FILTER = 4000


def _query_error(exc: InvalidQuery) -> ApiError:
    """A refused filter or order as a 400 a client can point at: ``query_error`` carries
    the column of a syntax error for the sidebar's inline message."""
    details: dict[str, Any] = {}
    if isinstance(exc, QuerySyntaxError):
        details["query_error"] = exc.to_dict()
    return ApiError(400, str(exc), reason="query", details=details)


def _scope(args: Mapping[str, list[str]]) -> Scope:
    """The plain options every route shares; an empty one (``?status=``) means none."""
    status = _single(args, "status") or None
    if status is not None:
        try:
            checked_status(status)
        except InvalidQuery as exc:
            raise bad_request(str(exc)) from None
    notebook = _single(args, "notebook") or None
    kernel = _single(args, "kernel") or None
    return Scope(
        experiment=_single(args, "experiment") or None,
        notebook=notebook,
        notebook_kernels=(kernel,) if notebook and kernel else (),
        status=status,
        parent=_single(args, "parent") or None,
        roots=flag(args, "roots"),
    )


def _filter(args: Mapping[str, list[str]]) -> str | None:
    text = _single(args, "filter")
    if text is not None and len(text) > MAX_FILTER:
        raise bad_request(f"filter is longer than {MAX_FILTER} characters")
    return text or None


def list_runs(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET runs``: ``args`` maps each query parameter to its raw values (tornado's shape).

    With ``notebook``, ``kernel`` (the notebook's kernel, which the frontend knows) also
    selects that kernel's runs: a kernel started before the notebook was renamed still
    records the old name. JupyterLab does not update the session's path on a rename, so the
    server cannot find this out itself."""
    args = _known_args(args, LIST_PARAMS)
    since = _single(args, "since")
    scope = _scope(args)
    if since:
        revision = store.revision()
        if revision == since:
            return {"unchanged": True, "revision": revision}
    else:
        revision = store.revision()
    limit = _int_arg(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg(args, "offset", 0, 0, MAX_OFFSET)
    after = _single(args, "after") or None
    if after is not None and offset:
        raise bad_request("give offset or after, not both")
    try:
        page = query_runs(
            store,
            _filter(args),
            order=_single(args, "order") or "-start_time",
            scope=scope,
            limit=limit,
            offset=offset,
            after=after,
            count=flag(args, "count", default=True),
        )
    except InvalidQuery as exc:
        raise _query_error(exc) from None
    return {
        "runs": page.run_dicts(),
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "next": page.next,
        "revision": revision,
    }


def count_runs(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET runs/count``: the ``total`` of ``GET runs`` with the same selection, apart.

    A page of the best runs of a broad filter is a walk that stops at its last row (10 ms
    at 100,000 runs); counting every match reads them all (about 150 ms on SQLite). The
    sidebar asks for the page with ``count=0`` and for this beside it, so its rows show
    before the scrollbar knows its length."""
    args = _known_args(args, COUNT_PARAMS)
    revision = store.revision()
    try:
        total = count_selected(store, _filter(args), scope=_scope(args))
    except InvalidQuery as exc:
        raise _query_error(exc) from None
    return {"total": total, "revision": revision}


def list_groups(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET runs/groups``: the selected runs grouped by ``group_by``, ``metrics`` (comma
    separated, each ``KEY`` or ``KEY.REDUCER``) aggregated per group."""
    args = _known_args(args, GROUP_PARAMS)
    group_by = _single(args, "group_by")
    if not group_by:
        raise bad_request("group_by is required, e.g. group_by=params.model")
    metrics = [m.strip() for m in (_single(args, "metrics") or "").split(",") if m.strip()]
    if len(metrics) > MAX_GROUP_METRICS:
        raise bad_request(f"at most {MAX_GROUP_METRICS} metrics")
    try:
        groups = group_runs(store, group_by, metrics, filter=_filter(args), scope=_scope(args))
    except InvalidQuery as exc:
        raise _query_error(exc) from None
    answer = groups_answer(group_by, metrics, groups)
    if flag(args, "figure"):
        from ..compare.charts import figure_json, groups_figure

        answer["figure"] = figure_json(groups_figure(answer))
    return answer


def list_keys(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET runs/keys``: the param, metric and tag keys of the scope's runs."""
    args = _known_args(args, KEYS_PARAMS)
    return run_keys(store, _scope(args))
