"""Pages of runs found by the query language: scope, filter, sort, keyset cursor, count.

Functions of a :class:`~jupyter_mltrack.store.Store`, not methods of it: the store knows
nothing of the language, and the language (this package) sits above the store, so neither
imports the other both ways. The REST API, the CLI and ``mltrack.search_runs`` all call
:func:`query_runs`; :mod:`.groups` and :mod:`.frame` build on the same pieces.

Sorting is always total and stable: by the requested value with missing values last in
both directions, then by run id. That is what makes keyset pagination exact: the cursor is
the last row's (value, id), and the next page is every row after it in that order, whatever
was inserted meanwhile, at the cost of an index range scan rather than an ``OFFSET`` that
reads and throws away every earlier row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from ..compare.goals import metric_goal
from ..store import InvalidQuery, Run, RunStatus, Store
from ..store.listing import checked_status, notebook_condition
from ..store.models import ExperimentRow, LatestMetricRow, MetricGoalRow, RunRow
from . import Field, Node, compile_filter, order_expressions, parse_field, parse_filter
from .compile import reduced_metric

#: Reducers a run's metric summary holds (the query language's, ``count`` aside).
SUMMARY_REDUCERS = ("last", "min", "max", "mean", "best")
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Scope:
    """Which runs a search looks at before its filter: what the sidebar's scope and the
    CLI's and API's plain options select."""

    experiment: str | None = None
    experiments: tuple[str, ...] = ()
    notebook: str | None = None
    #: Kernels of the notebook's live sessions: their runs belong to it even when they
    #: recorded the notebook's older name.
    notebook_kernels: tuple[str, ...] = ()
    status: str | None = None
    #: Only the children of this run.
    parent: str | None = None
    #: Only runs without a parent, or whose parent is gone (the tree's first level).
    roots: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        """The scope as WHERE conditions on ``runs``."""
        out: list[ColumnElement[bool]] = []
        names = [*self.experiments, *([self.experiment] if self.experiment else [])]
        if names:
            ids = select(ExperimentRow.id).where(ExperimentRow.name.in_(names))
            out.append(RunRow.experiment_id.in_(ids.scalar_subquery()))
        if self.notebook:
            out.append(notebook_condition(self.notebook, self.notebook_kernels))
        if self.status:
            out.append(RunRow.status == checked_status(self.status))
        if self.parent:
            out.append(RunRow.parent_run_id == self.parent)
        if self.roots:
            parent = aliased(RunRow)
            out.append(
                or_(
                    RunRow.parent_run_id.is_(None),
                    ~exists().where(parent.id == RunRow.parent_run_id),
                )
            )
        return out


#: The scope of a search that names none: every run of the store.
EVERYTHING = Scope()


@dataclass(frozen=True)
class Order:
    """A parsed ``order``: a field, and whether descending (``-metrics.acc.max``)."""

    text: str
    field: Field
    descending: bool

    @classmethod
    def parse(cls, text: str | None) -> Order:
        """``-start_time``, ``metrics.acc.max``, ``params.lr DESC`` (MLflow's spelling)…"""
        spec = (text or "-start_time").strip()
        descending = False
        words = spec.rsplit(None, 1)
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            spec, descending = words[0].strip(), words[1].lower() == "desc"
        if spec[:1] in ("-", "+"):
            descending, spec = spec[0] == "-", spec[1:].strip()
        if not spec:
            raise InvalidQuery("order by what? give a field, e.g. -start_time or metrics.acc")
        return cls(
            text=("-" if descending else "") + spec, field=parse_field(spec), descending=descending
        )


@dataclass
class MetricSummary:
    """One metric of one run under every reducer (``None``: no value, e.g. all NaN)."""

    last: float | None
    min: float | None
    max: float | None
    mean: float | None
    best: float | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "last": self.last,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "best": self.best,
            "count": self.count,
        }


@dataclass
class Children:
    """What a parent row shows of its children: how many, how many per status (a sweep's
    row says "20 trials · 2 failed · 3 pruned"), and the best child's value of each metric
    under each reducer (best by the metric's goal)."""

    count: int = 0
    best: dict[str, dict[str, float | None]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "best": self.best}
        if self.count:  # only parents: every run of a page has a children summary
            out["statuses"] = dict(self.statuses)
        return out


@dataclass
class RunPage:
    """A page of runs, in order, with what the sidebar shows beside each."""

    runs: list[Run]
    #: How many runs the scope and filter select (``None`` when not counted).
    total: int | None
    #: The cursor of the next page, ``None`` on the last one.
    next: str | None
    #: ``run id -> metric -> summary``.
    summaries: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    #: ``run id -> metric -> "min" | "max"``.
    goals: dict[str, dict[str, str]] = field(default_factory=dict)
    #: ``run id -> children`` (every run of the page, count 0 when it has none).
    children: dict[str, Children] = field(default_factory=dict)

    def run_dicts(self) -> list[dict[str, Any]]:
        """The runs as the REST API sends them: the summary fields added."""
        out = []
        for run in self.runs:
            d = run.to_dict()
            d["parent_run_id"] = run.parent_run_id
            d["source"] = run.source
            d["metric_summary"] = {
                k: s.to_dict() for k, s in self.summaries.get(run.id, {}).items()
            }
            d["goals"] = self.goals.get(run.id, {})
            d["children"] = self.children.get(run.id, Children()).to_dict()
            out.append(d)
        return out


def filter_condition(filter: str | Node | None) -> ColumnElement[bool]:
    """The filter (query text, plain text or a parsed node) as a WHERE condition."""
    node = parse_filter(filter) if isinstance(filter, str) else filter
    return true() if node is None else compile_filter(node)


def selection(filter: str | Node | None, scope: Scope) -> ColumnElement[bool]:
    """Scope and filter together: which runs a search selects."""
    return and_(true(), *scope.conditions(), filter_condition(filter))


def query_runs(
    store: Store,
    filter: str | Node | None = None,
    *,
    order: str | None = None,
    scope: Scope = EVERYTHING,
    limit: int = 50,
    offset: int = 0,
    after: str | None = None,
    count: bool = True,
    details: bool = True,
) -> RunPage:
    """A page of the runs ``scope`` and ``filter`` select, sorted by ``order``.

    ``after`` is the ``next`` cursor of the previous page (keyset pagination: exact and as
    fast on page 1,000 as on page 1); ``offset`` serves a list that jumps to a row (the
    sidebar's scrollbar). ``details`` adds each run's metric summaries, goals and children
    (what a listing shows; a bulk read of ids does not need them).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidQuery("offset must be 0 or more")
    sort = Order.parse(order)
    where = selection(filter, scope)
    store.reap_local_runs()
    with store.engine.connect() as conn:
        if sort.field.kind == "metric":
            rows = _metric_ordered(conn, sort, where, limit + 1, offset, after)
        else:
            rows = _ordered(conn, sort, where, limit + 1, offset, after)
        total = _count_where(conn, where) if count else None
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        next_cursor = _encode_cursor(sort.text, list(rows[-1][1:]), rows[-1][0])
    runs = store.load_runs([r[0] for r in rows])
    page = RunPage(runs=runs, total=total, next=next_cursor)
    if details and runs:
        _add_details(store, page)
    return page


def count_selected(
    store: Store, filter: str | Node | None = None, *, scope: Scope = EVERYTHING
) -> int:
    """How many runs ``scope`` and ``filter`` select: the ``total`` of :func:`query_runs`,
    for a caller that asks for it apart from the page (``count=False``)."""
    where = selection(filter, scope)
    store.reap_local_runs()
    with store.engine.connect() as conn:
        return _count_where(conn, where)


def _count_where(conn: Any, where: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(RunRow).where(where)).scalar_one())


def _ordered(
    conn: Any, sort: Order, where: ColumnElement[bool], n: int, offset: int, after: str | None
) -> list[Any]:
    """The first ``n`` rows ``(id, *sort values)`` after the cursor or offset: one query,
    every selected run's sort value a correlated subquery."""
    keys = order_expressions(sort.field)
    values = [k.label(f"sort_{i}") for i, k in enumerate(keys)]
    stmt = select(RunRow.id, *values).where(where)
    if after is not None:
        last_values, last_id = _decode_cursor(after, sort.text, len(keys))
        stmt = stmt.where(_after(keys, last_values, last_id, sort.descending))
    elif offset:
        stmt = stmt.offset(offset)
    return list(conn.execute(stmt.order_by(*ordering(keys, sort.descending)).limit(n)).all())


def _metric_ordered(
    conn: Any, sort: Order, where: ColumnElement[bool], n: int, offset: int, after: str | None
) -> list[Any]:
    """:func:`_ordered` for a metric order, in two parts that add up to the same order.

    First the runs with a value, read from the metric's rows in the order of their
    ``(key, value, run_id)`` index, each run's conditions checked as it comes: a page of the
    best ``acc`` among 57,000 matching runs stops at its 51st row (0.1 ms at 100,000 runs,
    where a sort key computed for every match took 600 ms; benchmark 10). Then, when the
    page is not full, the runs without a value (no row, or NaN), by id: they come last in
    both directions.
    """
    metric = aliased(LatestMetricRow)
    goal = aliased(MetricGoalRow) if sort.field.reducer == "best" else None
    value = reduced_metric(metric, sort.field, goal)
    last: tuple[Any, str] | None = None
    if after is not None:
        values, last_id = _decode_cursor(after, sort.text, 1)
        last = (values[0], last_id)
    rows: list[Any] = []
    if last is None or last[0] is not None:
        stmt = select(RunRow.id, value.label("sort_0")).select_from(metric)
        stmt = stmt.join(RunRow, RunRow.id == metric.run_id)
        if goal is not None:
            on = and_(goal.experiment_id == RunRow.experiment_id, goal.key == metric.key)
            stmt = stmt.outerjoin(goal, on)
        stmt = stmt.where(metric.key == sort.field.key, value.is_not(None), where)
        if last is not None:
            beyond = value < last[0] if sort.descending else value > last[0]
            past = metric.run_id < last[1] if sort.descending else metric.run_id > last[1]
            stmt = stmt.where(or_(beyond, and_(value == last[0], past)))
        terms = [value.desc(), metric.run_id.desc()] if sort.descending else [value, metric.run_id]
        stmt = stmt.order_by(*terms).limit(n)
        valued = stmt.offset(offset) if offset and last is None else stmt
        rows = list(conn.execute(valued).all())
        if len(rows) == n:
            return rows
        if offset and last is None:
            # how many runs have a value, to know where the runs without one start
            before = offset + len(rows) if rows else _count(conn, stmt.limit(None))
            offset = max(0, offset - before)
    # the same test as the first part's, for the run of the enclosing query
    with_value = select(literal(1)).select_from(metric)
    if goal is not None:
        on = and_(goal.experiment_id == RunRow.experiment_id, goal.key == metric.key)
        with_value = with_value.outerjoin(goal, on)
    with_value = with_value.where(
        metric.run_id == RunRow.id, metric.key == sort.field.key, value.is_not(None)
    )
    has_value = exists(with_value.correlate(RunRow))
    missing = select(RunRow.id, null().label("sort_0")).where(where, not_(has_value))
    if last is not None and last[0] is None:
        missing = missing.where(RunRow.id < last[1] if sort.descending else RunRow.id > last[1])
    elif offset:
        missing = missing.offset(offset)
    order_id = RunRow.id.desc() if sort.descending else RunRow.id.asc()
    rows += conn.execute(missing.order_by(order_id).limit(n - len(rows))).all()
    return rows


def _count(conn: Any, stmt: Any) -> int:
    """How many rows a select returns, ordering and paging aside."""
    inner = stmt.order_by(None).limit(None).offset(None).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def _nullable(value: ColumnElement[Any]) -> bool:
    return bool(getattr(value, "nullable", True))


def ordering(keys: Sequence[ColumnElement[Any]], descending: bool) -> list[ColumnElement[Any]]:
    """ORDER BY each key (missing values last both ways), then the run id, all in the same
    direction: a total order, which keyset paging needs."""
    out = []
    for key in keys:
        term = key.desc() if descending else key.asc()
        # a NOT NULL column keeps a plain ORDER BY, which its index serves
        out.append(term.nulls_last() if _nullable(key) else term)
    out.append(RunRow.id.desc() if descending else RunRow.id.asc())
    return out


def _after(
    keys: Sequence[ColumnElement[Any]], last: Sequence[Any], last_id: str, descending: bool
) -> ColumnElement[bool]:
    """Rows after ``(*last, last_id)`` in the order of :func:`ordering`, built from the last
    key inwards: after on key i means beyond it, or missing where the last row was not
    (missing sorts last), or tied on it and after on the keys that follow."""
    cond: ColumnElement[bool] = RunRow.id < last_id if descending else RunRow.id > last_id
    for key, value in reversed(list(zip(keys, last, strict=True))):
        if value is None:  # the last row had none: only rows without one come after
            cond = and_(key.is_(None), cond)
            continue
        beyond = key < value if descending else key > value
        missing = key.is_(None) if _nullable(key) else false()
        cond = or_(beyond, missing, and_(key == value, cond))
    return cond


def _encode_cursor(order: str, values: list[Any], run_id: str) -> str:
    raw = json.dumps([order, values, run_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, order: str, size: int) -> tuple[list[Any], str]:
    """The sort values and id a cursor carries; a cursor of another order, or not a cursor
    at all, is refused (it would silently skip or repeat runs)."""
    bad = InvalidQuery("not a cursor: pass the 'next' of the previous page as it is")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kept, values, run_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise bad from None
    if kept != order:
        raise InvalidQuery(
            f"this cursor belongs to order {kept!r}, not {order!r}: start again from the first page"
        )
    if not isinstance(run_id, str) or not isinstance(values, list) or len(values) != size:
        raise bad
    if any(v is not None and not isinstance(v, int | float | str) for v in values):
        raise bad
    return values, run_id


# what a listing shows beside each run ---------------------------------------------------------


def _mean() -> ColumnElement[Any]:
    lm = LatestMetricRow
    return case((lm.n_values > 0, lm.sum_value / lm.n_values), else_=None)


def _add_details(store: Store, page: RunPage) -> None:
    """Metric summaries, goals and children of the page's runs: three queries whatever its
    size (the ids are few: a page)."""
    ids = [r.id for r in page.runs]
    experiment_of = {r.id: r.experiment_id for r in page.runs}
    overrides = store.metric_goals(experiment_of.values())
    lm = LatestMetricRow
    child = aliased(RunRow)
    with store.engine.connect() as conn:
        summaries = conn.execute(
            select(
                lm.run_id, lm.key, lm.value, lm.min_value, lm.max_value, _mean(), lm.n_values
            ).where(lm.run_id.in_(ids))
        ).all()
        counts = conn.execute(
            select(child.parent_run_id, child.status, func.count())
            .where(child.parent_run_id.in_(ids))
            .group_by(child.parent_run_id, child.status)
        ).all()
        child_metrics = []
        if counts:
            mean = _mean()
            child_metrics = conn.execute(
                select(
                    child.parent_run_id,
                    lm.key,
                    *(
                        agg(col)
                        for col in (lm.value, lm.min_value, lm.max_value, mean)
                        for agg in (func.min, func.max)
                    ),
                )
                .join(lm, lm.run_id == child.id)
                .where(
                    child.parent_run_id.in_(list(dict.fromkeys(p for p, _s, _n in counts))),
                    # a sweep's best trial is a finished one (as Optuna's best trial is a
                    # complete one): a pruned trial's value is where it was stopped
                    or_(child.source != "sweep", child.status == RunStatus.FINISHED.value),
                )
                .group_by(child.parent_run_id, lm.key)
            ).all()
    sweeps = _sweep_goals(page.runs)
    for run_id, key, last, low, high, mean_value, n in summaries:
        goal = sweeps.get((run_id, key)) or metric_goal(key, overrides.get(experiment_of[run_id]))
        page.goals.setdefault(run_id, {})[key] = goal
        page.summaries.setdefault(run_id, {})[key] = MetricSummary(
            last=last,
            min=low,
            max=high,
            mean=mean_value,
            best=low if goal == "min" else high,
            count=int(n or 0),
        )
    for run in page.runs:
        page.children[run.id] = Children()
    for parent_id, status, n in counts:
        kids = page.children[parent_id]
        kids.count += int(n)
        kids.statuses[status] = kids.statuses.get(status, 0) + int(n)
    for kids in page.children.values():  # the most first, as the row lists them
        kids.statuses = dict(sorted(kids.statuses.items(), key=lambda kv: (-kv[1], kv[0])))
    for parent_id, key, *aggregates in child_metrics:
        goal = sweeps.get((parent_id, key)) or metric_goal(
            key, overrides.get(experiment_of[parent_id])
        )
        pick = 0 if goal == "min" else 1  # (min, max) of each column across children
        last, low, high, mean_value = (aggregates[i : i + 2][pick] for i in range(0, 8, 2))
        page.children[parent_id].best[key] = {
            "last": last,
            "min": low,
            "max": high,
            "mean": mean_value,
            "best": low if goal == "min" else high,
        }


def _sweep_goals(runs: Sequence[Run]) -> dict[tuple[str, str], str]:
    """``(run id, metric) -> goal`` a sweep's run states for its metric (its ``goal``
    param): it decides which trial is best, whatever the metric's name suggests; the sweep
    run's own ``best.<metric>`` follows it."""
    out: dict[tuple[str, str], str] = {}
    for run in runs:
        metric, goal = run.params.get("metric"), run.params.get("goal")
        if run.source == "sweep" and isinstance(metric, str) and goal in ("min", "max"):
            out[(run.id, metric)] = out[(run.id, f"best.{metric}")] = str(goal)
    return out
