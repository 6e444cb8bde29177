"""A sweep worker's store (``sweeps/trial_store.py``): a trial's run written with ``sqlite3``
and statements its driver prepared, without SQLAlchemy. It must write what the store
itself writes, check attempts the same way, hand everything else to the full store (with
the same fences), and bind values as SQLAlchemy binds them. The real pool's workers are
checked in ``test_sweeps.py`` (no SQLAlchemy loaded)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Boolean, Float, LargeBinary

from jupyter_mltrack.store import MetricPoint, RunStatus, Store, prepared
from jupyter_mltrack.store.entities import Environment
from jupyter_mltrack.store.errors import RunNotFound, RunSuperseded
from jupyter_mltrack.store.fast_writes import trial_keys
from jupyter_mltrack.store.prepared import PROCESSORS
from jupyter_mltrack.store.series import series
from jupyter_mltrack.store.spool import SpoolingStore
from jupyter_mltrack.sweeps.trial_store import NOT_HERE, TrialStore, TrialWrites

from .sweep_data import seed_sweep

ATTEMPT = "mltrack.attempt"
#: Values each kind of binding is tried with, and values it must refuse as SQLAlchemy does.
SAMPLES = {
    "float": ([1, 2.5, -0.0, 1e300, True], []),
    "binary": ([b"", b"\x00\xffab", bytearray(b"xy")], []),
    "bool": ([True, False, 1, 0], [2, "yes"]),
}


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    """SQLite only: the prepared writes are SQLite's (PostgreSQL's workers open the store)."""
    return sqlite_store


@pytest.fixture
def trial_store(store: Store) -> Iterator[TrialStore]:
    writes = TrialWrites.of(store)
    assert writes is not None
    ts = TrialStore(store.url, store.blob_url, writes)
    yield ts
    ts.close()


def test_every_prepared_binding_is_sqlalchemys(store: Store) -> None:
    """For each value of each statement a trial writes with, the binding its kind names
    gives what SQLAlchemy's own bind processor gives, and refuses what it refuses."""
    dialect = store.engine.dialect
    types = {"float": Float(), "binary": LargeBinary(), "bool": Boolean()}
    seen = set()
    for key, statement in store.prepared_statements(trial_keys()).items():
        assert all(kind in PROCESSORS for kind in statement.kinds.values()), key
        seen.update(statement.kinds.values())
    assert seen == set(PROCESSORS)
    for kind, (good, bad) in SAMPLES.items():
        theirs = types[kind].bind_processor(dialect)
        assert theirs is not None
        for value in good:
            ours = PROCESSORS[kind](value)
            assert ours == theirs(value) and type(ours) is type(theirs(value)), (kind, value)
        for value in bad:
            with pytest.raises(Exception) as refused:
                theirs(value)
            with pytest.raises(refused.type):
                PROCESSORS[kind](value)


def test_the_prepared_writes_pickle_without_sqlalchemy(store: Store) -> None:
    """A worker unpickles them without importing SQLAlchemy: nothing of it is in them."""
    import pickle

    data = pickle.dumps(TrialWrites.of(store))
    assert b"sqlalchemy" not in data
    assert pickle.loads(data) == TrialWrites.of(store)


def _trial_run(store: Store, attempt: str) -> str:
    return store.create_run(
        "sweeps", source="sweep", tags={"mltrack.sweep": "s", ATTEMPT: attempt}
    ).id


def _write_a_trial(writer: Store | TrialStore, run_id: str, attempt: str, env_id: int) -> None:
    """What a trial's worker writes: restart, a flush, a heartbeat, the end with its
    metrics, params and where it ran."""
    points = [MetricPoint("loss", v, i, 1000.0 + i) for i, v in enumerate([0.9, 0.5, float("nan")])]
    with writer.writing_as(run_id, attempt):
        run = writer.restart_run(run_id, {"lr": 0.1, "name": "é", "layers": [1, 2]})
        assert run.status is RunStatus.RUNNING and run.params["layers"] == [1, 2]
        assert run.tags[ATTEMPT] == attempt and run.tags["mltrack.sweep"] == "s"
        writer.log_metrics(run_id, points)
        writer.heartbeat([run_id])
        writer.finish_run(
            run_id,
            RunStatus.FAILED,
            params={"extra": True},
            metrics=[MetricPoint("acc", 0.75, 0, 2000.0), MetricPoint("loss", 0.1, 3, 1003.0)],
            error={"type": "ValueError", "message": "no"},
            environment_id=env_id,
            git_commit="abc",
            git_dirty=True,
        )


def _rows(store: Store, run_id: str) -> dict[str, list[tuple]]:
    """The run's rows in every table it writes, without its id and times."""
    db = sqlite3.connect(store.engine.url.database)
    try:
        return {
            "run": db.execute(
                "SELECT status, error, environment_id, git_commit, git_dirty, host, pid,"
                " end_time IS NOT NULL, heartbeat_at IS NOT NULL FROM runs WHERE id = ?",
                (run_id,),
            ).fetchall(),
            "params": db.execute(
                "SELECT key, value, num_value, text_value FROM params WHERE run_id = ?"
                " ORDER BY key",
                (run_id,),
            ).fetchall(),
            "latest": db.execute(
                "SELECT key, step, value, timestamp, min_value, max_value, sum_value, n_values"
                " FROM latest_metrics WHERE run_id = ? ORDER BY key",
                (run_id,),
            ).fetchall(),
            "chunks": db.execute(
                'SELECT key, count, first_step, last_step, steps, "values", timestamps'
                " FROM metric_chunks WHERE run_id = ? ORDER BY key, first_step",
                (run_id,),
            ).fetchall(),
            "tags": db.execute(
                "SELECT key, value FROM tags WHERE run_id = ? AND key != ? ORDER BY key",
                (run_id, ATTEMPT),
            ).fetchall(),
        }
    finally:
        db.close()


def test_a_trial_store_writes_what_the_store_writes(store: Store, trial_store: TrialStore) -> None:
    env = Environment("3.11.7", "linux", {"numpy": "2.0"}, digest="d" * 64)
    env_id = store.put_environment(env)
    assert trial_store.put_environment(env) == env_id  # once per digest, either way
    theirs, ours = _trial_run(store, "a1"), _trial_run(store, "b1")
    _write_a_trial(store, theirs, "a1", env_id)
    _write_a_trial(trial_store, ours, "b1", env_id)
    assert trial_store._full is None  # written without the full store
    expected, got = _rows(store, theirs), _rows(store, ours)
    assert expected["params"] and expected["latest"] and expected["chunks"]
    assert got == expected
    assert store.get_run(ours).metrics == store.get_run(theirs).metrics


def test_a_pruners_view_of_the_other_trials_is_the_same_either_way(
    store: Store, trial_store: TrialStore
) -> None:
    """What a pruned trial reads of its sweep: its other ended trials (finished, pruned;
    not failed, not itself, not another sweep's) with their latest value and steps, a step
    logged twice at its last value and NaN left out: the same through the store and the
    trial store, and as the store's general reads give it."""
    seeded = seed_sweep(store, metric="acc")
    sweep_id = store.get_run(seeded.trials[0]).parent_run_id
    odd = store.create_run(
        "sweeps", source="sweep", parent_run_id=sweep_id, tags={"mltrack.sweep": "lr-search"}
    )
    points = [MetricPoint("acc", v, s, 10.0 + i) for i, (s, v) in enumerate(
        [(0, float("nan")), (1, 0.5), (1, 0.7), (2, 0.6)]
    )]  # fmt: skip
    store.finish_run(odd.id, RunStatus.FINISHED, metrics=points)
    seed_sweep(store, name="other-sweep", metric="acc")
    me = seeded.trials[1]
    expected = []
    for run in store.child_runs(sweep_id, source="sweep"):
        if run.id == me or run.status not in (RunStatus.FINISHED, RunStatus.PRUNED):
            continue
        chunks = store.metric_chunks([run.id], ["acc"])
        steps = {p.step: p.value for p in series(chunks).get("acc", []) if p.value == p.value}
        expected.append((run.id, run.status, run.metrics["acc"], steps))
    assert len(expected) == 7 and {e[1] for e in expected} == {RunStatus.FINISHED, RunStatus.PRUNED}
    by_value = sorted(e[1:] for e in expected)
    assert (RunStatus.FINISHED, 0.6, {1: 0.7, 2: 0.6}) in by_value
    assert sorted(store.sweep_siblings(sweep_id, me, "acc")) == by_value
    assert sorted(trial_store.sweep_siblings(sweep_id, me, "acc")) == by_value
    assert trial_store._full is None


def test_a_new_environment_is_stored_once(store: Store, trial_store: TrialStore) -> None:
    env = Environment("3.11.7", "linux", {"pandas": "2.2"}, digest="e" * 64)
    first = trial_store.put_environment(env)
    assert trial_store.put_environment(env) == first == store.put_environment(env)


def test_an_environment_stored_meanwhile_by_another_worker_is_read_not_an_error(
    store: Store, trial_store: TrialStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers of a sweep store the same environment at once: the one whose look-up
    missed and whose insert comes second reads the other's row. No error is raised on the
    way (an error is translated as SQLAlchemy's, which loads it in the worker)."""
    env = Environment("3.11.7", "linux", {"numpy": "2.1"}, digest="f" * 64)
    real_run = trial_store._run
    calls: list[int] = []

    def other_worker_first(steps: list) -> list:
        found = real_run(steps)
        if not calls:  # the look-up missed: the other worker inserts now
            other = store.put_environment(env)
            calls.append(other)
        return found

    errors: list[BaseException] = []

    def translated(failed: list, exc: BaseException, module: object) -> BaseException:
        errors.append(exc)
        return exc

    monkeypatch.setattr(trial_store, "_run", other_worker_first)
    monkeypatch.setattr(prepared, "_as_sqlalchemy", translated)
    assert trial_store.put_environment(env) == calls[0]
    assert errors == []


def test_a_superseded_attempt_writes_nothing_either_way(
    store: Store, trial_store: TrialStore
) -> None:
    """The driver hands the trial to another attempt while this one runs: this store's
    writes are refused, through its own statements and through the full store alike (they
    share the fence); its heartbeat is dropped quietly."""
    run_id = _trial_run(store, "old")
    with trial_store.writing_as(run_id, "old") as fence:
        trial_store.restart_run(run_id, {"lr": 0.1})
        store.restart_run(run_id, {"lr": 0.2}, attempt="new")
        beat = _heartbeat(store, run_id)
        with pytest.raises(RunSuperseded):
            trial_store.finish_run(
                run_id, RunStatus.FINISHED, metrics=[MetricPoint("acc", 1, 0, 1)]
            )
        assert fence.superseded
        fence.superseded = False
        with pytest.raises(RunSuperseded):
            trial_store.log_params(run_id, {"lr": 0.3})  # the full store's write
        assert fence.superseded and trial_store._full is not None
        trial_store.heartbeat([run_id])
        with pytest.raises(RunSuperseded):
            trial_store.log_metrics(run_id, [MetricPoint("acc", 1, 0, 1)])
    run = store.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.params == {"lr": 0.2} and not run.metrics
    assert run.tags[ATTEMPT] == "new" and _heartbeat(store, run_id) == beat


def _heartbeat(store: Store, run_id: str) -> float:
    db = sqlite3.connect(store.engine.url.database)
    try:
        return db.execute("SELECT heartbeat_at FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    finally:
        db.close()


def test_a_missing_run_is_said_as_the_store_says_it(trial_store: TrialStore) -> None:
    with pytest.raises(RunNotFound):
        trial_store.restart_run("0" * 32, {})
    with pytest.raises(RunNotFound):
        trial_store.finish_run("0" * 32, RunStatus.FINISHED)
    trial_store.heartbeat(["0" * 32])  # as the store's: nothing to say


def test_what_only_a_spooling_store_has_is_not_looked_for(trial_store: TrialStore) -> None:
    """A trial's store is a plain store: ``getattr(store, "take_notices", None)`` and the
    like answer at once, without opening the full store; everything else is the store's."""
    plain = {n for n in dir(Store) if not n.startswith("_")}
    spooling = {n for n in dir(SpoolingStore) if not n.startswith("_")}
    spooling |= {n for n in vars(SpoolingStore(trial_store.url)) if not n.startswith("_")}
    assert spooling - plain - {"home", "url", "blob_url", "engine"} <= NOT_HERE
    for name in NOT_HERE:
        assert getattr(trial_store, name, None) is None
    assert trial_store._full is None
    assert trial_store.search_runs(limit=1)[0] == []  # the full store's, opened now
    assert trial_store._full is not None


def test_a_store_without_the_fast_writes_gets_none(store_url: str, tmp_path: Path) -> None:
    """PostgreSQL: the workers open the full store, as before."""
    s = Store(store_url)
    try:
        writes = TrialWrites.of(s)
        assert (writes is None) == store_url.startswith("postgresql")
    finally:
        s.close()
