"""The searchable forms of params and metrics (``store.searchable``), as the store writes them
and as migration 0009 fills them in for existing rows; and the cheap revision check."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from sqlalchemy import Engine, select, text

from jupyter_mltrack.store import MetricPoint, Store
from jupyter_mltrack.store.models import LatestMetricRow, ParamRow
from jupyter_mltrack.store.searchable import param_columns, param_number, summarise
from tests.test_migrations import alembic, engine, insert_run  # noqa: F401  (fixture)


def point(key: str, value: float, step: int, ts: float | None = None) -> MetricPoint:
    return MetricPoint(key=key, value=value, step=step, timestamp=time.time() if ts is None else ts)


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (0.01, 0.01),
        (3, 3.0),
        ("0.01", 0.01),
        (" 1e-3 ", 0.001),
        ("inf", math.inf),
        (True, None),
        (False, None),
        ("rf", None),
        ("", None),
        ("nan", None),
        (math.nan, None),
        (None, None),
        ([1, 2], None),
        (10**400, None),
        ("1" * 65, None),
    ],
)
def test_param_number(value: object, number: float | None) -> None:
    assert param_number(value) == number


def test_param_columns_of_stored_json() -> None:
    assert param_columns('"0.5"') == (0.5, "0.5")
    assert param_columns("0.5") == (0.5, "0.5")
    assert param_columns("true") == (None, "true")
    assert param_columns('"rf"') == (None, "rf")
    assert param_columns("[1, 2]") == (None, "[1, 2]")
    assert param_columns("not json") == (None, "not json")
    assert param_columns('"a\\u0000b"') == (None, "a\ufffdb")  # PostgreSQL text has no NUL


def test_summarise_ignores_nan_and_keeps_infinities() -> None:
    assert summarise([]) == (None, None, None, 0)
    assert summarise([math.nan]) == (None, None, None, 0)
    assert summarise([2.0, math.nan, -1.0, 5.0]) == (-1.0, 5.0, 6.0, 3)
    s = summarise([math.inf, -math.inf, 1.0])
    assert (s.min_value, s.max_value, s.sum_value, s.n_values) == (-math.inf, math.inf, None, 3)


def params_of(store: Store, run_id: str) -> dict[str, tuple[float | None, str | None]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(ParamRow.key, ParamRow.num_value, ParamRow.text_value).where(
                ParamRow.run_id == run_id
            )
        ).all()
    return {k: (n, t) for k, n, t in rows}


def summaries_of(store: Store, run_id: str) -> dict[str, tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(
                LatestMetricRow.key,
                LatestMetricRow.value,
                LatestMetricRow.min_value,
                LatestMetricRow.max_value,
                LatestMetricRow.sum_value,
                LatestMetricRow.n_values,
            ).where(LatestMetricRow.run_id == run_id)
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_params_are_written_with_their_number_and_text(store: Store) -> None:
    run = store.create_run("p", params={"lr": 0.01, "depth": np.int64(4), "model": "rf"})
    store.log_params(run.id, {"s": "0.5", "flag": True, "bad": "\ud800x", "lst": [1, "a"]})
    store.finish_run(run.id, "finished", params={"lr": "1e-3"})
    assert params_of(store, run.id) == {
        "lr": (0.001, "1e-3"),
        "depth": (4.0, "4"),
        "model": (None, "rf"),
        "s": (0.5, "0.5"),
        "flag": (None, "true"),
        "bad": (None, "\ufffdx"),  # stored as the JSON value is: surrogate replaced
        "lst": (None, '[1, "a"]'),
    }


def test_metric_summaries_merge_every_flush_in_any_order(store: Store) -> None:
    run = store.create_run("m")
    store.log_metrics(run.id, [point("loss", 3.0, 3), point("loss", math.nan, 4)])
    store.log_metrics(run.id, [point("loss", 0.5, 1), point("acc", math.nan, 0)])  # late step
    store.finish_run(run.id, "finished", metrics=[point("loss", 2.0, 2), point("acc", 0.9, 1)])
    summary = summaries_of(store, run.id)
    # latest is the highest step (NaN at step 4); the summary covers every non-NaN value
    assert summary["loss"] == (None, 0.5, 3.0, 5.5, 3)
    assert summary["acc"] == (0.9, 0.9, 0.9, 0.9, 1)


def test_an_unknown_sum_stays_unknown(store: Store) -> None:
    """``inf + -inf`` in one flush makes the sum unknown; a later flush must not replace it
    with its own sum (the mean would be that flush's, silently)."""
    run = store.create_run("m")
    store.log_metrics(
        run.id, [point("x", 0.5, 0), point("x", -math.inf, 1), point("x", math.inf, 2)]
    )
    store.log_metrics(run.id, [point("x", 3.0, 3), point("x", 0.25, 4)])
    assert summaries_of(store, run.id)["x"] == (0.25, -math.inf, math.inf, None, 5)


def test_revision_moves_on_create_update_and_delete_and_not_otherwise(store: Store) -> None:
    first = store.revision()
    assert store.revision() == first
    run = store.create_run("r")
    created = store.revision()
    assert created != first
    store.set_tags(run.id, {"a": "1"})
    tagged = store.revision()
    assert tagged != created
    store.delete_run(run.id)
    deleted = store.revision()
    assert deleted not in (first, created, tagged)
    assert store.revision() == deleted


def test_revision_sees_a_write_that_commits_after_a_newer_one(store: Store) -> None:
    """Writers stamp ``updated_at`` before they commit: a write stamped earlier but committed
    later than another must still move the revision."""
    a = store.create_run("a")
    b = store.create_run("b")
    now = time.time()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE runs SET updated_at = :t WHERE id = :i"), {"t": now, "i": b.id})
    seen = store.revision()
    with store.engine.begin() as conn:  # the late commit: older than the newest change
        conn.execute(
            text("UPDATE runs SET updated_at = :t WHERE id = :i"), {"t": now - 1, "i": a.id}
        )
    assert store.revision() != seen


def test_0009_fills_in_existing_params_and_summaries(engine: Engine, store_url: str) -> None:  # noqa: F811
    """A store written before 0009 gets its params' numbers and its metrics' summaries from
    the rows and chunks it has; a downgrade drops them again."""
    alembic(engine, "upgrade", "0008")
    store_run = "c" * 32
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, store_run, now)
        for key, value in (("lr", "0.01"), ("s", '"2.5"'), ("m", '"rf"'), ("f", "true")):
            conn.execute(
                text("INSERT INTO params (run_id, key, value) VALUES (:i, :k, :v)"),
                {"i": store_run, "k": key, "v": value},
            )
    # chunks as the store of 0008 wrote them: two flushes of "loss"
    from jupyter_mltrack.store.series import chunks

    with engine.begin() as conn:
        for flush in (
            [point("loss", 4.0, 0, now), point("loss", math.nan, 1, now)],
            [point("loss", 1.0, 2, now), point("loss", 2.0, 3, now)],
        ):
            for c in chunks(flush):
                conn.execute(
                    text(
                        "INSERT INTO metric_chunks (run_id, key, count, first_step, last_step,"
                        ' steps, "values", timestamps) VALUES (:i, :k, :n, :a, :b, :s, :v, :t)'
                    ),
                    {
                        "i": store_run,
                        "k": c.key,
                        "n": c.count,
                        "a": c.first_step,
                        "b": c.last_step,
                        "s": c.steps,
                        "v": c.values,
                        "t": c.timestamps,
                    },
                )
        conn.execute(
            text(
                "INSERT INTO latest_metrics (run_id, key, step, value, timestamp)"
                " VALUES (:i, 'loss', 3, 2.0, :t)"
            ),
            {"i": store_run, "t": now},
        )
    alembic(engine, "upgrade", "0009")
    store = Store(store_url)
    try:
        assert params_of(store, store_run) == {
            "lr": (0.01, "0.01"),
            "s": (2.5, "2.5"),
            "m": (None, "rf"),
            "f": (None, "true"),
        }
        assert summaries_of(store, store_run) == {"loss": (2.0, 1.0, 4.0, 7.0, 3)}
    finally:
        store.close()
    alembic(engine, "downgrade", "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM params")).scalar_one() == 4
        assert "num_value" not in {
            c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("params")
        }
