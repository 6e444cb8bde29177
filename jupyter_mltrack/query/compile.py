"""Query trees to SQLAlchemy expressions over the ``runs`` table (``RunRow``).

Rules every expression here keeps:

- *Bound values only.* Every value from the query is a bound parameter (SQLAlchemy binds a
  Python value compared with a column); nothing is spliced into SQL text.
- *Two-valued.* A condition is true or false, never SQL NULL, so ``not`` means what it
  means in Python: a comparison with a missing param, tag or metric (or a NaN metric) is
  false, and ``not (…)`` of it true. Conditions on params, metrics and tags are
  correlated ``EXISTS (SELECT 1 FROM … WHERE run_id = runs.id AND key = :k AND …)``: true
  or false for each run, one primary-key lookup of its row. Not ``runs.id IN (SELECT
  run_id …)``: SQLite builds such a list in full before it reads a row (57,000 ids for a
  broad filter at 100,000 runs, 220 ms), where ``EXISTS`` lets a query that walks runs in
  its order stop at the page's last row (0.2 ms; benchmark 10). A very selective filter
  pays the other way (a walk of every run, about 55 ms at 100,000), a bound worth having.
  PostgreSQL plans both as the same semi-join. A nullable attribute is guarded with
  ``IS NOT NULL``.
- *Negation means "has a value, and not that one".* ``!=``, ``!~`` and ``not in`` are false
  for a missing value, like every comparison; ``not (x = v)`` is true for it.
- *Types follow the literal.* Against a param, a number compares ``num_value`` (numbers,
  and strings that read as numbers), a string compares ``text_value`` (the string, or the
  JSON text of any other value), ``true``/``false`` the recorded JSON. A param recorded as
  ``None`` counts as missing.

:func:`value_expression` and :func:`order_expressions` give one run's value of a field as a
correlated scalar subquery, for ``ORDER BY``, keyset pagination and grouping.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from ..compare.goals import guess_goal
from ..store.models import (
    ArtifactUseRow,
    ExperimentRow,
    LatestMetricRow,
    MetricGoalRow,
    ModelAliasRow,
    ParamRow,
    RegisteredModelRow,
    RunRow,
    TagRow,
)
from .ast import And, Compare, Field, In, IsNull, Node, Not, Or, Scalar
from .sqltext import binary, contains

#: JSON text of a param recorded as ``None``: such a param counts as missing.
_JSON_NULL = "null"

#: An attribute: its expression over ``runs``, and whether it can be NULL.
_COLUMNS: dict[str, tuple[Any, bool]] = {
    "id": (RunRow.id, False),
    "status": (RunRow.status, False),
    "name": (RunRow.name, True),
    "number": (RunRow.number, False),
    "notebook": (RunRow.notebook_path, True),
    "source": (RunRow.source, False),
    "duration": (RunRow.end_time - RunRow.start_time, True),
    "started": (RunRow.start_time, False),
    "ended": (RunRow.end_time, True),
    "commit": (RunRow.git_commit, True),
    "parent": (RunRow.parent_run_id, True),
    "note": (RunRow.note, False),
}
_TEXT_ATTRIBUTES = frozenset(
    {"id", "status", "name", "notebook", "source", "commit", "parent", "note", "experiment"}
)


def compile_filter(node: Node) -> ColumnElement[bool]:
    """The SQL condition on ``runs`` that ``node`` means (see the module docstring)."""
    if isinstance(node, And):
        return and_(*(compile_filter(item) for item in node.items))
    if isinstance(node, Or):
        return or_(*(compile_filter(item) for item in node.items))
    if isinstance(node, Not):
        return not_(compile_filter(node.item))
    field = node.field
    if field.kind == "param":
        return _param(node)
    if field.kind == "metric":
        return _metric(node)
    if field.kind == "tag":
        return _tag(node) if field.key is not None else _any_tag(node)
    if field.kind == "used":
        return _used(node)
    if field.key == "experiment":
        return _experiment(node)
    return _attribute(node)


# one value against one column --------------------------------------------------------------


def _apply(column: Any, op: str, value: Scalar, *, text: bool = False) -> ColumnElement[bool]:
    """``column op value`` for a present value (callers make missing values false)."""
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "~":
        return contains(column, str(value))
    if op == "!~":
        return not_(contains(column, str(value)))
    ordered = binary(column) if text else column
    if op == "<":
        return ordered < value
    if op == "<=":
        return ordered <= value
    if op == ">":
        return ordered > value
    return ordered >= value


def _condition(node: Compare | In, column: Any, *, text: bool = False) -> ColumnElement[bool]:
    if isinstance(node, In):
        values = list(node.values)
        return column.not_in(values) if node.negated else column.in_(values)
    return _apply(column, node.op, node.value, text=text)


# params ---------------------------------------------------------------------------------


def _runs_with(row: Any, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    """Whether the run of the enclosing query has a ``row`` (a params, metrics or tags row,
    or an alias of one) that meets ``where``: a correlated ``EXISTS`` (module docstring)."""
    stmt = select(literal(1)).select_from(row).where(row.run_id == RunRow.id, *where)
    return exists(stmt.correlate(RunRow))


def _param_runs(key: str, *where: ColumnElement[bool]) -> ColumnElement[bool]:
    return _runs_with(ParamRow, ParamRow.key == key, *where)


def _param_equals(value: Scalar) -> ColumnElement[bool]:
    """The param equals ``value`` in the literal's type; never NULL (it goes under NOT)."""
    if isinstance(value, bool):
        return ParamRow.value == ("true" if value else "false")
    if isinstance(value, float):
        return and_(ParamRow.num_value.is_not(None), ParamRow.num_value == value)
    return and_(ParamRow.text_value.is_not(None), ParamRow.text_value == value)


def _param_in(values: tuple[Scalar, ...]) -> ColumnElement[bool]:
    """The param equals one of ``values``, each in its own type: one ``IN`` per type (a
    thousand-value list is not a thousand ORs); never NULL."""
    numbers = [v for v in values if isinstance(v, float)]
    texts = [v for v in values if isinstance(v, str)]
    flags = ["true" if v else "false" for v in values if isinstance(v, bool)]
    parts = []
    if numbers:
        parts.append(and_(ParamRow.num_value.is_not(None), ParamRow.num_value.in_(numbers)))
    if texts:
        parts.append(and_(ParamRow.text_value.is_not(None), ParamRow.text_value.in_(texts)))
    if flags:
        parts.append(ParamRow.value.in_(flags))
    return or_(*parts) if parts else false()  # a tree built by hand may list nothing


def _param_compare(op: str, value: Scalar) -> ColumnElement[bool]:
    """The positive comparisons (``= < <= > >= ~``); never NULL either."""
    if op == "=":
        return _param_equals(value)
    if op == "~":
        return and_(ParamRow.text_value.is_not(None), contains(ParamRow.text_value, str(value)))
    if isinstance(value, bool):  # the parser refuses it; a hand-built tree may not
        raise ValueError(f"true and false only compare with =, != or in, not {op!r}")
    if isinstance(value, float):
        return and_(ParamRow.num_value.is_not(None), _apply(ParamRow.num_value, op, value))
    text = ParamRow.text_value
    return and_(text.is_not(None), _apply(text, op, value, text=True))


def _param(node: Compare | In | IsNull) -> ColumnElement[bool]:
    key = str(node.field.key)
    present = ParamRow.value != _JSON_NULL
    if isinstance(node, IsNull):
        runs = _param_runs(key, present)
        return runs if node.negated else not_(runs)
    if isinstance(node, In):
        any_equal = _param_in(node.values)
        return _param_runs(key, present, not_(any_equal) if node.negated else any_equal)
    if node.op in ("!=", "!~"):
        positive = "=" if node.op == "!=" else "~"
        return _param_runs(key, present, not_(_param_compare(positive, node.value)))
    if isinstance(node.value, float) and node.op != "~":
        # a number compares num_value, NULL for a param recorded as None: the JSON value
        # need not be read, so the (key, num_value) index answers alone where it carries
        # run_id (SQLite's clustered params, migration 0010)
        return _param_runs(key, _param_compare(node.op, node.value))
    return _param_runs(key, present, _param_compare(node.op, node.value))


# metrics --------------------------------------------------------------------------------


def reduced_metric(metric: Any, field: Field, goal: Any = None) -> ColumnElement[Any]:
    """One number of a run's metric, from its ``latest_metrics`` row ``metric`` (for
    ``best``, ``goal`` is the ``metric_goals`` row outer-joined for the run's experiment)."""
    reducer = field.reducer or "last"
    if reducer == "last":
        return metric.value
    if reducer == "min":
        return metric.min_value
    if reducer == "max":
        return metric.max_value
    if reducer == "count":
        return metric.n_values
    if reducer == "mean":
        # a sum of +inf and -inf points is NaN on PostgreSQL, which it sorts above every
        # number: made NULL (SQLite stores NaN as NULL already; the bound NaN is NULL there)
        total = func.nullif(metric.sum_value, literal(float("nan"), Float))
        return case((metric.n_values > 0, total / cast(metric.n_values, Float)), else_=None)
    # best: the min or the max, by the experiment's goal for this metric or the name's
    chosen = case((goal.goal.in_(("min", "max")), goal.goal), else_=guess_goal(str(field.key)))
    return case((chosen == "min", metric.min_value), else_=metric.max_value)


def _metric_runs(field: Field, test: Any) -> ColumnElement[bool]:
    """Runs whose reduced metric passes ``test`` (a function of the reduced value)."""
    metric = aliased(LatestMetricRow)
    if field.reducer != "best":
        return _runs_with(metric, metric.key == field.key, test(reduced_metric(metric, field)))
    goal = aliased(MetricGoalRow)
    on = and_(goal.experiment_id == RunRow.experiment_id, goal.key == metric.key)
    stmt = (
        select(literal(1))
        .select_from(metric)
        .outerjoin(goal, on)
        .where(metric.run_id == RunRow.id, metric.key == field.key)
        .where(test(reduced_metric(metric, field, goal)))
    )
    return exists(stmt.correlate(RunRow))


def _metric(node: Compare | In | IsNull) -> ColumnElement[bool]:
    if isinstance(node, IsNull):
        runs = _metric_runs(node.field, lambda value: value.is_not(None))
        return runs if node.negated else not_(runs)
    # NULL (missing, NaN) fails every comparison inside the subquery: the run is not in it
    return _metric_runs(node.field, lambda value: _condition(node, value))


# tags -----------------------------------------------------------------------------------


def _tag_runs(*where: ColumnElement[bool]) -> ColumnElement[bool]:
    return _runs_with(TagRow, *where)


def _tag(node: Compare | In | IsNull) -> ColumnElement[bool]:
    keyed = TagRow.key == node.field.key
    if isinstance(node, IsNull):
        runs = _tag_runs(keyed)
        return runs if node.negated else not_(runs)
    return _tag_runs(keyed, _condition(node, TagRow.value, text=True))


def _any_tag(node: Compare | In | IsNull) -> ColumnElement[bool]:
    """Bare ``tags``: some tag's key or value matches; negated, the run has tags and none
    matches."""
    tagged = _tag_runs()
    if isinstance(node, IsNull):
        return tagged if node.negated else not_(tagged)
    negated = node.negated if isinstance(node, In) else node.op in ("!=", "!~")
    if isinstance(node, In):
        positive: Compare | In = In(node.field, node.values)
    else:
        positive = Compare(node.field, {"!=": "=", "!~": "~"}.get(node.op, node.op), node.value)
    matching = _tag_runs(or_(_condition(positive, TagRow.key), _condition(positive, TagRow.value)))
    return and_(tagged, not_(matching)) if negated else matching


# the artifacts a run used -----------------------------------------------------------------


def _used(node: Compare | In | IsNull) -> ColumnElement[bool]:
    """``used``: the run loaded an artifact of another run that matches (see
    :func:`_use_is`); negated (``!=``, ``!~``, ``not in``), the run used something and
    nothing that matches."""
    used_any = _runs_with(ArtifactUseRow)
    if isinstance(node, IsNull):
        return used_any if node.negated else not_(used_any)
    if isinstance(node, In):
        matching = _runs_with(ArtifactUseRow, or_(*(_use_is(str(v)) for v in node.values)))
        return and_(used_any, not_(matching)) if node.negated else matching
    positive = {"!=": "=", "!~": "~"}.get(node.op, node.op)
    value = str(node.value)
    if positive == "~":
        use = ArtifactUseRow
        test = or_(
            and_(use.model.is_not(None), contains(use.model, value)),
            contains(use.source_name, value),
            contains(use.ref, value),
        )
    else:
        test = _use_is(value)
    matching = _runs_with(ArtifactUseRow, test)
    return and_(used_any, not_(matching)) if positive != node.op else matching


def _use_is(value: str) -> ColumnElement[bool]:
    """A use (a row of ``artifact_uses``) is ``value``: ``churn`` (the registered model,
    any version, when loaded through the registry; else an artifact of that name),
    ``churn/2`` (that version), ``churn@production`` (the version the alias names now);
    ``models:/`` in front is allowed, as a reference writes it."""
    use = ArtifactUseRow
    text = value.removeprefix("models:/")
    name, slash, version = text.rpartition("/")
    if slash and version.isdigit():
        return and_(use.model == name, use.version == int(version))
    name, at, alias = text.partition("@")
    if at and name and alias:
        named = (
            select(ModelAliasRow.version)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelAliasRow.model_id)
            .where(RegisteredModelRow.name == name, ModelAliasRow.alias == alias)
            .scalar_subquery()
        )
        return and_(use.model == name, use.version == named)
    return or_(use.model == text, and_(use.model.is_(None), use.source_name == text))


# attributes -----------------------------------------------------------------------------


def _experiment(node: Compare | In | IsNull) -> ColumnElement[bool]:
    if isinstance(node, IsNull):  # every run has one
        return RunRow.experiment_id.is_not(None) if node.negated else RunRow.experiment_id.is_(None)
    names = select(ExperimentRow.id).where(_condition(node, ExperimentRow.name, text=True))
    return RunRow.experiment_id.in_(names)


def _attribute(node: Compare | In | IsNull) -> ColumnElement[bool]:
    name = str(node.field.key)
    column, nullable = _COLUMNS[name]
    if isinstance(node, IsNull):
        return column.is_not(None) if node.negated else column.is_(None)
    condition = _condition(node, column, text=name in _TEXT_ATTRIBUTES)
    return and_(column.is_not(None), condition) if nullable else condition


# one run's value of a field ------------------------------------------------------------------


def value_expression(field: Field) -> ColumnElement[Any]:
    """The value of ``field`` for the run of the enclosing query (a scalar subquery
    correlated to ``RunRow``, or a column of it): NULL when the run has none.

    A param's value is its recorded JSON text (``0.01``, ``"adam"``, ``true``): the
    value itself, with its type, for grouping — decode it with ``json.loads``. To sort by a
    param use :func:`order_expressions`, which sorts numbers as numbers. A metric's value
    is its reducer's (NaN is NULL); a tag's, its text.
    """
    if field.kind == "param":
        return _param_value(ParamRow.value, field)
    if field.kind == "metric":
        return _metric_value(field)
    if field.kind == "used":
        raise ValueError("'used' has no single value: it selects runs (used = churn)")
    if field.kind == "tag":
        if field.key is None:
            raise ValueError("bare 'tags' has no single value: name a tag, tags.KEY")
        stmt = select(TagRow.value).where(TagRow.run_id == RunRow.id, TagRow.key == field.key)
        return stmt.correlate(RunRow).scalar_subquery()
    if field.key == "experiment":
        stmt = select(ExperimentRow.name).where(ExperimentRow.id == RunRow.experiment_id)
        return stmt.correlate(RunRow).scalar_subquery()
    return _COLUMNS[str(field.key)][0]


def order_expressions(field: Field) -> tuple[ColumnElement[Any], ...]:
    """What to ``ORDER BY`` (and compare a keyset cursor with) to sort runs by ``field``,
    most significant first; NULL for runs without a value (put them last).

    A param sorts by its number, then by its text (numbers before strings: a param with
    mixed types still sorts sensibly); text sorts by code point on both backends (see
    :mod:`.sqltext`), so a cursor means the same on SQLite and PostgreSQL.
    """
    if field.kind == "param":
        text = _param_value(ParamRow.text_value, field)
        return (_param_value(ParamRow.num_value, field), binary(text))
    value = value_expression(field)
    if field.kind == "tag" or (field.kind == "attribute" and field.key in _TEXT_ATTRIBUTES):
        return (binary(value),)
    return (value,)


def _param_value(column: Any, field: Field) -> ColumnElement[Any]:
    stmt = select(column).where(ParamRow.run_id == RunRow.id, ParamRow.key == field.key)
    if column is not ParamRow.value:
        stmt = stmt.where(ParamRow.value != _JSON_NULL)
    return stmt.correlate(RunRow).scalar_subquery()


def _metric_value(field: Field) -> ColumnElement[Any]:
    metric = aliased(LatestMetricRow)
    goal = aliased(MetricGoalRow) if field.reducer == "best" else None
    stmt = select(reduced_metric(metric, field, goal)).select_from(metric)
    if goal is not None:
        on = and_(goal.experiment_id == RunRow.experiment_id, goal.key == metric.key)
        stmt = stmt.outerjoin(goal, on)
    stmt = stmt.where(metric.run_id == RunRow.id, metric.key == field.key)
    return stmt.correlate(RunRow).scalar_subquery()
