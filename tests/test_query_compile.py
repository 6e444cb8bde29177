"""The query compiler on SQLite and PostgreSQL: generated runs written through the Store
API, generated queries, and every query's runs compared with a brute-force evaluation in
Python (tests/query_oracle.py); then the cases worth reading one by one, injection
attempts as values, the SQL holding no user value, and one run's value of a field."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Select, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite

from jupyter_mltrack.query import (
    REDUCERS,
    Field,
    compile_filter,
    order_expressions,
    parse,
    parse_field,
    parse_filter,
    value_expression,
)
from jupyter_mltrack.store import MetricPoint, Store
from jupyter_mltrack.store.models import RunRow

from .query_oracle import (
    BASE,
    DAY,
    INJECTION,
    Logged,
    Pools,
    Spec,
    holds,
    param_text,
    query,
    run_specs,
    value_of,
)

_SLOW_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


#: Tells one example's runs and experiments from another's in the same store. Not random:
#: the queries are drawn from values the runs hold, and hypothesis must draw the same way
#: when it replays an example (ids and names of equal length and order do).
_EXAMPLES = itertools.count()


def write_runs(store: Store, specs: list[Spec], goals: dict[int, dict[str, str]]) -> list[Logged]:
    """Write ``specs`` through the Store API, in two fresh experiments; the runs as the
    store reads them back, with the points each metric logged."""
    example = next(_EXAMPLES)
    prefix = f"{example:06x}"
    experiments = [f"{prefix} Exp_A", f"{prefix} base%line"]
    for index, wanted in goals.items():
        for key, goal in wanted.items():
            store.set_metric_goal(experiments[index], key, goal)
    ids: list[str] = []
    for index, spec in enumerate(specs):
        parent = spec.parent
        run = store.create_run(
            experiments[spec.experiment],
            name=spec.name,
            notebook_path=spec.notebook,
            source=spec.source,
            git_commit=spec.commit,
            parent_run_id="f" * 32 if parent == "gone" else None if parent is None else ids[parent],
            start_time=spec.start,
            run_id=f"{example:08x}{index:024x}",
        )
        if spec.params:
            store.log_params(run.id, spec.params)
        if spec.overwrite:
            store.log_params(run.id, spec.overwrite)
        points = [
            MetricPoint(key, value, step, spec.start + step)
            for key, values in spec.metrics.items()
            for step, value in enumerate(values)
        ]
        # two flushes, so the summaries are merged as a long run's are
        store.log_metrics(run.id, points[: spec.split])
        store.log_metrics(run.id, points[spec.split :])
        if spec.tags:
            store.set_tags(run.id, spec.tags)
        if spec.note:
            store.update_run(run.id, note=spec.note)
        if spec.status != "running":
            store.finish_run(run.id, spec.status, end_time=spec.start + spec.duration)
        ids.append(run.id)
    logged = []
    for spec, run_id in zip(specs, ids, strict=True):
        run = store.get_run(run_id)
        logged.append(
            Logged(
                id=run.id,
                number=run.number,
                experiment=run.experiment,
                name=run.name,
                status=run.status.value,
                start=run.start_time,
                end=run.end_time,
                notebook=run.notebook_path,
                source=run.source,
                commit=spec.commit,
                parent=run.parent_run_id,
                note=run.note,
                params=run.params,
                tags=run.tags,
                metrics=spec.metrics,
                goals=goals[spec.experiment],
                logged_params={**spec.params, **spec.overwrite},
            )
        )
    return logged


def matching(store: Store, query_text: str, runs: list[Logged]) -> set[str]:
    node = parse_filter(query_text)
    assert node is not None
    stmt = select(RunRow.id).where(RunRow.id.in_([r.id for r in runs]), compile_filter(node))
    with store.engine.connect() as conn:
        return set(conn.scalars(stmt))


def expected(q: tuple, runs: list[Logged]) -> set[str]:
    return {r.id for r in runs if holds(q, r)}


#: No shrinking: each example writes a store, so shrinking one takes minutes; a failure
#: names its query and the runs' values are in the assertion's output.
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=_SLOW_OK,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_queries_find_what_a_brute_force_filter_finds(store: Store, data: st.DataObject) -> None:
    specs, goals = data.draw(run_specs(), label="runs")
    runs = write_runs(store, specs, goals)
    pools = Pools(runs)
    for _ in range(40):
        query_text, q = data.draw(query(pools), label="query")
        assert matching(store, query_text, runs) == expected(q, runs), (query_text, q)


# one by one -------------------------------------------------------------------------------------


@pytest.fixture
def runs(store: Store) -> list[Logged]:
    """Six runs whose differences the cases below are about."""

    def spec(**values: object) -> Spec:
        base = dict(
            experiment=0, name=None, status="finished", start=BASE, duration=60.0,
            notebook=None, source="notebook", commit=None, parent=None, note="",
            params={}, overwrite={}, metrics={}, split=0, tags={},
        )  # fmt: skip
        base.update(values)
        return Spec(**base)  # type: ignore[arg-type]

    specs = [
        spec(name="sweep-1", params={"lr": 0.01, "model": "adam", "flag": True},
             metrics={"loss": [3.0, 1.0, 2.0], "acc": [0.5, 0.75]}, tags={"stage": "tuning"}),
        spec(name="sweep-2", params={"lr": "0.001", "model": "SGD", "flag": False},
             metrics={"loss": [2.0, 0.5], "acc": [float("nan")]}, tags={"stage": "final"},
             status="failed", duration=5400.0, start=BASE + DAY),
        spec(name="Baseline", params={"lr": "auto", "seed": None}, metrics={"acc": [0.9]},
             status="running", experiment=1, commit="abc123def", parent=0),
        spec(name=INJECTION, params={"model": "a%b_c\\d", "lr": [1, 2]},
             tags={"note": "50%"}, note="it's 100% done", parent="gone"),
        spec(name="a_b", params={"model": "a_b"}, metrics={"loss": [float("inf"), -1.0]}),
        spec(params={"lr": 10}, tags={"best": ""}, metrics={"f1_gap": [0.25, 0.5]}),
    ]  # fmt: skip
    return write_runs(store, specs, {0: {"f1_gap": "min"}, 1: {}})


#: A query and the runs (of the ``runs`` fixture, by index) it finds.
CASES = [
    # numbers compare as numbers whatever the param's type; strings as strings
    ("params.lr < 0.05", [0, 1]),
    ("params.lr > 1", [5]),
    ("params.lr = '0.001'", [1]),
    ("params.lr = 0.001", [1]),
    ("params.lr ~ 0.0", [0, 1]),
    ("params.lr = auto", [2]),
    ("params.lr = '[1, 2]'", [3]),
    ("params.model < 'b'", [0, 1, 3, 4]),  # code point order: 'S' < 'a' < 'b'
    # missing values: every comparison false, not true
    ("params.lr != 0.01", [1, 2, 3, 5]),  # has a value, not that one ('auto' too)
    ("not params.lr = 0.01", [1, 2, 3, 4, 5]),
    ("params.model != adam", [1, 3, 4]),
    ("params.model is null", [2, 5]),
    ("params.seed is null", [0, 1, 2, 3, 4, 5]),  # recorded as None
    ("params.flag = true", [0]),
    ("params.flag != TRUE", [1]),
    ("params.flag in (true, false)", [0, 1]),
    ("params.model not in (adam, SGD)", [3, 4]),
    ("params.model in (adam, null)", [0, 2, 5]),
    # LIKE's wildcards and escape match themselves; * and ? are the wildcards
    ("params.model ~ '%'", [3]),
    ("params.model ~ '_'", [3, 4]),
    ("params.model ~ '\\\\'", [3]),
    ("params.model ~ 'A*'", [0, 3, 4]),
    ("params.model ~ 'a?b*'", [3, 4]),
    ("params.model !~ a", [1]),
    ("name ~ SWEEP", [0, 1]),
    ("name ~ 'drop table'", [3]),
    ("name = '" + INJECTION.replace("'", "\\'") + "'", [3]),
    ("name is null", [5]),
    ("name != a_b", [0, 1, 2, 3]),
    # metrics under reducers (NaN is missing; inf is a value)
    ("metrics.loss < 2", [1, 4]),
    ("metrics.loss.min <= 0.5", [1, 4]),
    ("metrics.loss.max = inf", [4]),
    ("metrics.loss.mean = 2", [0]),
    ("metrics.loss.count = 3", [0]),
    ("metrics.acc is null", [1, 3, 4, 5]),
    ("metrics.acc.count = 0", [1]),
    ("metrics.acc >= 0.75", [0, 2]),
    ("not metrics.acc > 0.6", [1, 3, 4, 5]),
    ("metrics.loss.best < 1", [1, 4]),  # a loss: its minimum
    ("metrics.acc.best = 0.75", [0]),  # else its maximum
    ("metrics.f1_gap.best = 0.25", [5]),  # the experiment's goal says min
    # tags, and any tag's key or value
    ("tags.stage = tuning", [0]),
    ("tags.stage != tuning", [1]),
    ("tags.stage is null", [2, 3, 4, 5]),
    ("tags ~ fin", [1]),
    ("tags = best", [5]),
    ("tags ~ '%'", [3]),
    ("tags !~ tun", [1, 3, 5]),
    ("tags is null", [2, 4]),
    # attributes
    ("status = failed or status = running", [1, 2]),
    ("status in (FAILED, running)", [1, 2]),
    ("duration > 1h", [1]),
    ("duration <= 60", [0, 3, 4, 5]),
    ("duration is null", [2]),
    ("started >= 2026-11-02T12:00Z", [1]),
    ("experiment ~ 'base%line'", [2]),
    ("experiment ~ 'exp_a'", [0, 1, 3, 4, 5]),
    ("experiment ~ 'exp?a'", []),  # a glob matches the whole name
    ("commit ~ ABC", [2]),
    ("parent is not null", [2, 3]),
    ("note ~ '100%'", [3]),
    ("number = #2 and experiment ~ exp_a", [1]),
    # plain text
    ("sweep", [0, 1]),
    ("sweep failed", [1]),
    ("tuning", [0]),
    ("#5", [5]),
]


def test_cases(store: Store, runs: list[Logged]) -> None:
    """Each case of :data:`CASES` (one test, not one per case: each would build a store)."""
    wrong = []
    for query_text, numbers in CASES:
        got = matching(store, query_text, runs)
        if got != {runs[i].id for i in numbers}:
            wrong.append((query_text, sorted(i for i, r in enumerate(runs) if r.id in got)))
    assert not wrong, wrong


def test_injection_attempts_are_values(store: Store, runs: list[Logged]) -> None:
    attempts = [
        INJECTION,
        "' OR '1'='1",
        '"; DELETE FROM params; --',
        "\\'; DROP TABLE tags; --",
        "%' OR 1=1 --",
        "_",
        "\\",
        "\\%",
        "%%",
        "'",
        "`",
    ]
    for attempt in attempts:
        escaped = attempt.replace("\\", "\\\\").replace("'", "\\'")
        for template in ("name = '{}'", "name ~ '{}'", "params.model ~ '{}'", "tags ~ '{}'",
                         "params.`{}` = 1", "tags.stage in ('{}', x)", "note !~ '{}'"):  # fmt: skip
            field_text = template.format(attempt.replace("`", "``") if "`" in template else escaped)
            got = matching(store, field_text, runs)
            assert got <= {r.id for r in runs}
    assert matching(store, "name = '" + INJECTION.replace("'", "\\'") + "'", runs) == {runs[3].id}
    assert matching(store, 'name ~ "\'"', runs) == {runs[3].id}
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {"runs", "params", "tags", "latest_metrics"} <= tables
        counts = [
            conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("runs", "tags")
        ]
    assert counts[0] == len(runs) and counts[1] == 4


def test_the_largest_queries_the_parser_takes_run(store: Store, runs: list[Logged]) -> None:
    """The parser's limits (depth, conditions, list length, words) keep a query within what
    both databases execute: SQLite's parser stack and expression depth are the tighter."""
    deepest = "name !~ a"
    for i in range(31):  # not (… or (not (… and (…)))): a level each
        deepest = (
            f"not ({deepest})" if i % 2 else f"name !~ b {'or' if i % 4 else 'and'} ({deepest})"
        )
    queries = [
        "not " * 32 + "name !~ a",
        deepest,
        " and ".join(f"name !~ zz{i}" for i in range(256)),
        " or ".join(f"metrics.loss.best = {i} or name = x{i}" for i in range(128)),
        "params.lr in (" + ", ".join(str(i) for i in range(1000)) + ")",
        "name not in (" + ", ".join(f"n{i}" for i in range(1000)) + ")",
        " ".join(f"w{i}" for i in range(50)),
    ]
    for query_text in queries:
        matching(store, query_text, runs)  # runs, no database error


def _sql(stmt: Select, dialect: object) -> tuple[str, dict[str, object]]:
    compiled = stmt.compile(dialect=dialect)  # type: ignore[arg-type]
    return str(compiled), dict(compiled.params)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_every_value_is_a_bound_parameter(dialect: object) -> None:
    query_text = (
        "params.zqkey1 < 12345.5 and params.zqkey2 ~ 'zq%val2' and metrics.zqkey3.best > 67891"
        " and tags.zqkey4 in ('zqval4', zqval5) and name = \"zq'val6\" and tags ~ zqval7 and"
        " started > 2026-11-01 and experiment != zqval8 and status = crashed and number = #4321"
        " and duration > 93m and not tags.zqkey9 is null and metrics.`zq.key10`.mean != 1e-7"
        " and params.zqkey11 = true and notebook !~ 'zq*val12'"
    )
    node = parse(query_text)
    sql, params = _sql(select(RunRow.id).where(compile_filter(node)), dialect)
    for literal in ("zq", "12345", "67891", "4321", "crashed", "5580", "1e-07", "true", "DROP"):
        assert literal not in sql, (literal, sql)
    values = set()
    for value in params.values():  # an IN list is one expanding parameter
        values |= {str(v) for v in (value if isinstance(value, list) else [value])}
    assert {"zqkey1", "zqkey2", "zqkey3", "zqkey4", "zqval4", "zqval5", "zq'val6"} <= values
    assert {"12345.5", "67891.0", "4321.0", "5580.0", "crashed", "zq.key10"} <= values
    assert "%zq\\%val2%" in values and "zq%val12" in values  # escaped, globbed
    for name in ("started", "params.lr", "metrics.loss.best", "tags.zqkey", "experiment"):
        for expression in (
            value_expression(parse_field(name)),
            *order_expressions(parse_field(name)),
        ):
            sql, _ = _sql(select(RunRow.id).order_by(expression), dialect)
            assert "zqkey" not in sql and "'lr'" not in sql and "'loss'" not in sql


# one run's value of a field ----------------------------------------------------------------------


FIELDS = [
    *(f"metrics.{k}.{r}" for k in ("loss", "acc", "f1_gap") for r in REDUCERS),
    "params.lr", "params.model", "params.seed", "tags.stage", "name", "number", "status",
    "duration", "started", "ended", "experiment", "parent", "commit", "note", "notebook",
]  # fmt: skip


def _oracle_value(run: Logged, field: Field) -> object:
    kind = {"param": "param", "metric": "metric", "tag": "tag"}.get(field.kind, "attr")
    value = value_of(run, (kind, field.key, field.reducer))
    if kind == "param":
        return None if value is None else json.dumps(value, ensure_ascii=False)
    return value


def test_value_expression_is_the_runs_value(store: Store, runs: list[Logged]) -> None:
    wrong = []
    for name in FIELDS:
        field = parse_field(name)
        ids = [r.id for r in runs]
        stmt = select(RunRow.id, value_expression(field)).where(RunRow.id.in_(ids))
        with store.engine.connect() as conn:
            got = dict(conn.execute(stmt).all())
        for index, run in enumerate(runs):
            want = _oracle_value(run, field)
            value = got[run.id]
            if field.kind == "param":  # the recorded JSON: compare the values
                value = None if value is None else json.loads(value)
                want = run.params.get(field.key)
            same = value == want or (
                isinstance(want, float)
                and isinstance(value, float | int)
                and math.isclose(value, want)
            )
            if not same:
                wrong.append((name, index, value, want))
    assert not wrong, wrong


def _sort_key(run: Logged, field: Field) -> tuple:
    """Nulls last; a param by its number, then its text; text by code point."""
    if field.kind == "param":
        value = run.params.get(field.key)
        number = None if value is None else run.param_number(str(field.key))
        words = None if value is None else param_text(value)
        return ((number is None, number or 0.0), (words is None, words or ""))
    value = _oracle_value(run, field)
    return ((value is None, value if value is not None else 0),)


def test_order_expressions_sort_like_python(store: Store, runs: list[Logged]) -> None:
    for name in FIELDS:
        field = parse_field(name)
        keys = [e.asc().nulls_last() for e in order_expressions(field)]
        stmt = select(RunRow.id).where(RunRow.id.in_([r.id for r in runs]))
        with store.engine.connect() as conn:
            got = list(conn.scalars(stmt.order_by(*keys, RunRow.id)))
        want = [r.id for r in sorted(runs, key=lambda r: (*_sort_key(r, field), r.id))]
        assert got == want, name
