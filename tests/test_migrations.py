"""The alembic migrations agree with the ORM models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from jupyter_mltrack.location import home_of, resolve_store_url
from jupyter_mltrack.store import Store, schema
from jupyter_mltrack.store.models import Base
from jupyter_mltrack.store.store import _make_engine

TABLES = {t.name for t in Base.metadata.sorted_tables}


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty database, configured the way the store configures its own."""
    url = resolve_store_url(store_url)
    home = home_of(url)
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
    eng = _make_engine(url)
    yield eng
    eng.dispose()


def alembic(engine: Engine, action: str, revision: str) -> None:
    cfg = schema.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def insert_run(
    conn: Connection, run_id: str, now: float, *, experiment: str = "e", code: str = ""
) -> None:
    """Experiment 1 and its run 1 as a migration's old schema holds them (columns of 0001):
    what a test of a data migration fills before it upgrades."""
    conn.execute(
        text("INSERT INTO experiments (id, name, created_at) VALUES (1, :n, :t)"),
        {"n": experiment, "t": now},
    )
    conn.execute(
        text(
            "INSERT INTO runs (id, experiment_id, number, status, start_time, updated_at, code,"
            " note, source) VALUES (:id, 1, 1, 'finished', :t, :t, :code, '', 'notebook')"
        ),
        {"id": run_id, "t": now, "code": code},
    )


#: Tables a migration after 0017 adds: a database a test leaves at 0017 or before lacks them.
AFTER_0017 = {"artifact_uses"}
#: Tables a migration after 0010 adds (or adds a column to: ``run_data.dataset``, 0012;
#: ``store_settings``, 0013): a database at 0010 lacks them, and nothing else.
AFTER_0010 = {
    "artifacts",
    "artifact_files",
    "registered_models",
    "model_versions",
    "model_aliases",
    "datasets",
    "dataset_versions",
    "dataset_tags",
    "run_data",
    "store_settings",
    *AFTER_0017,
}


def differences(engine: Engine, *, without: set[str] = frozenset()) -> list:
    """What alembic finds between the database and the models, leaving out the tables
    and columns (``table.column``) ``without`` names: those of migrations the database is
    not at yet."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        found = compare_metadata(ctx, Base.metadata)
    return [
        d
        for d in found
        if _table_of(d) not in without
        and not (d[0] == "add_column" and f"{d[2]}.{d[3].name}" in without)
    ]


def _table_of(diff: tuple) -> str | None:
    """The table an alembic difference is about (a new table, or an index of one)."""
    if diff[0] == "add_table":
        return diff[1].name
    if diff[0] == "add_index":
        return diff[1].table.name
    if diff[0] == "add_column":
        return diff[2]
    return None


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_head_constant_matches_the_scripts(tmp_path) -> None:
    eng = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    scripts = ScriptDirectory.from_config(schema.alembic_config(eng))
    assert scripts.get_heads() == [schema.HEAD]
    # one linear history from head down to a single base
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert chain[0] == schema.HEAD and len(chain) == len(set(chain))
    assert len(scripts.get_bases()) == 1


def test_migrations_match_the_models(engine: Engine) -> None:
    assert tables(engine) == set()
    alembic(engine, "upgrade", "head")
    assert tables(engine) == TABLES | {"alembic_version"}
    assert schema.current_revision(engine) == schema.HEAD
    assert differences(engine) == []


def test_compare_metadata_does_see_a_drifted_schema(engine: Engine) -> None:
    """The check above is not vacuous: a column missing from the database is reported."""
    alembic(engine, "upgrade", "head")
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_runs_kernel_id"))
        conn.execute(text("ALTER TABLE tags DROP COLUMN value"))
    found = differences(engine)
    kinds = {diff[0] if isinstance(diff, tuple) else diff[0][0] for diff in found}
    assert {"add_index", "add_column"} <= kinds


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    alembic(engine, "upgrade", "head")
    st = Store(str(engine.url.render_as_string(hide_password=False)))
    st.create_run("before")
    st.close()

    alembic(engine, "downgrade", "base")
    assert tables(engine) <= {"alembic_version"}
    assert schema.current_revision(engine) is None

    alembic(engine, "upgrade", "head")
    assert differences(engine) == []
    st = Store(str(engine.url.render_as_string(hide_password=False)))
    try:
        assert st.search_runs()[1] == 0  # the downgrade dropped the data with the tables
        assert st.create_run("after").number == 1
    finally:
        st.close()


def test_opening_a_migrated_store_does_not_run_alembic(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_upgrade = command.upgrade

    def spy(cfg, revision, **kw):  # noqa: ANN001
        calls.append(revision)
        return real_upgrade(cfg, revision, **kw)

    monkeypatch.setattr(command, "upgrade", spy)  # schema imports it when migrating
    first = Store(store_url)  # empty database: alembic creates the schema
    run_id = first.create_run("x").id
    assert schema.current_revision(first.engine) == schema.HEAD
    first.close()
    assert calls == ["head"]

    def forbidden(*_a, **_kw):  # noqa: ANN002, ANN003
        raise AssertionError("alembic ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", forbidden)
    monkeypatch.setattr(ScriptDirectory, "from_config", forbidden)
    again = Store(store_url)
    try:
        assert again.get_run(run_id).experiment == "x"
        with again.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [schema.HEAD]
    finally:
        again.close()

    # migrate=False never touches the schema, even of an empty database
    monkeypatch.setattr(schema, "current_revision", forbidden)
    Store(store_url, migrate=False).close()


def test_alembic_config_keeps_percent_signs_of_quoted_passwords() -> None:
    eng = create_engine("postgresql+psycopg://user:p%40ss%25w@db.example/ml")
    try:
        url = schema.alembic_config(eng).get_main_option("sqlalchemy.url")
    finally:
        eng.dispose()
    assert url == "postgresql+psycopg://user:p%40ss%25w@db.example/ml"


def test_store_with_a_quoted_password_migrates(store_url: str) -> None:
    if not store_url.startswith("postgresql://"):
        pytest.skip("SQLite URLs have no password")
    # the test server trusts every password, so any will do; this one needs quoting
    scheme, rest = store_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{quote('p@ss%word', safe='')}@{host}"
    st = Store(url)
    try:
        assert st.create_run("pw").number == 1
        assert "p@ss" not in repr(st)  # the password is hidden
    finally:
        st.close()


def test_upgrade_from_0001_keeps_data_and_widens_steps(engine: Engine, store_url: str) -> None:
    """A store written by the first release upgrades in place on opening: its runs and metrics
    survive, steps past 2**31 become storable, and the best-run index exists."""
    alembic(engine, "upgrade", "0001")
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, "a" * 32, now, experiment="old", code="x = 1")
        conn.execute(
            text(
                "INSERT INTO metrics (run_id, key, step, value, timestamp)"
                " VALUES (:id, 'loss', 3, 0.5, :t)"
            ),
            {"id": "a" * 32, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO latest_metrics (run_id, key, step, value, timestamp)"
                " VALUES (:id, 'loss', 3, 0.5, :t)"
            ),
            {"id": "a" * 32, "t": now},
        )
    store = Store(store_url)  # opening upgrades to head
    try:
        assert schema.current_revision(store.engine) == schema.HEAD
        detail = store.get_run_detail("a" * 32)
        assert detail.run.metrics == {"loss": 0.5}
        assert [(p.step, p.value) for p in detail.metric_series["loss"]] == [(3, 0.5)]
        from jupyter_mltrack.store import MetricPoint

        store.log_metrics("a" * 32, [MetricPoint("loss", 0.25, 2**40, now + 1)])
        assert store.get_run_detail("a" * 32).metric_series["loss"][-1].step == 2**40
        assert store.get_run("a" * 32).metrics == {"loss": 0.25}
        indexes = {i["name"] for i in inspect(store.engine).get_indexes("latest_metrics")}
        assert "ix_latest_metrics_key_value" in indexes
    finally:
        store.close()


def test_0004_moves_metric_points_into_chunks_and_back(engine: Engine, store_url: str) -> None:
    """Points stored a row each move into chunks (NaN, order of equal steps and all), and a
    downgrade puts them back as rows."""
    alembic(engine, "upgrade", "0003")
    now = 1_700_000_000.0
    points = [("loss", 0, 1.0), ("loss", 1, None), ("acc", 0, 0.5), ("loss", 1, 0.75)]
    with engine.begin() as conn:
        insert_run(conn, "b" * 32, now)
        for i, (key, step, value) in enumerate(points):
            conn.execute(
                text(
                    "INSERT INTO metrics (run_id, key, step, value, timestamp)"
                    " VALUES (:id, :k, :s, :v, :t)"
                ),
                {"id": "b" * 32, "k": key, "s": step, "v": value, "t": now + i},
            )
    alembic(engine, "upgrade", "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metric_chunks")).scalar_one() == 2
    store = Store(store_url)
    try:
        series = store.get_run_detail("b" * 32).metric_series
    finally:
        store.close()
    loss = [(p.step, p.value) for p in series["loss"]]
    assert loss[0] == (0, 1.0) and loss[1][0] == 1 and math.isnan(loss[1][1])
    assert loss[2] == (1, 0.75)  # equal steps stay in the order they were logged
    assert [(p.step, p.value) for p in series["acc"]] == [(0, 0.5)]

    alembic(engine, "downgrade", "0003")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT key, step, value FROM metrics ORDER BY key, id")).all()
    assert [tuple(r) for r in rows] == [
        ("acc", 0, 0.5),
        ("loss", 0, 1.0),
        ("loss", 1, None),
        ("loss", 1, 0.75),
    ]


def test_processes_opening_a_new_store_at_once_take_turns_migrating(store_url: str) -> None:
    """A kernel's first logged cell and the server (or two kernels) may create the store at
    the same moment: every one of them must open it, none may fail with "table exists"."""
    import subprocess
    import sys

    code = "import sys\nfrom jupyter_mltrack.store import Store\nStore(sys.argv[1]).close()\n"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, "\n".join(errors)
    st = Store(store_url)
    try:
        assert schema.current_revision(st.engine) == schema.HEAD
    finally:
        st.close()


def _clustered(engine: Engine) -> dict[str, bool]:
    """Which of the run-value tables are ``WITHOUT ROWID`` (SQLite)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                " AND name IN ('params', 'latest_metrics', 'tags')"
            )
        ).all()
    return {name: "WITHOUT ROWID" in sql.upper() for name, sql in rows}


def test_0010_clusters_run_values_and_back(engine: Engine, store_url: str) -> None:
    """A run's params, metrics and tags survive 0010 both ways, unchanged; on SQLite the
    tables are clustered by (run id, key) at head and plain again after the downgrade, with
    their indexes (PostgreSQL is left as it is)."""
    from jupyter_mltrack.query.search import query_runs
    from jupyter_mltrack.store import MetricPoint

    alembic(engine, "upgrade", "0009")
    url = str(engine.url.render_as_string(hide_password=False))
    store = Store(url, migrate=False)
    try:
        run = store.create_run(
            "e", params={"lr": 0.01, "model": "mlp", "none": None}, tags={"stage": "a"}
        )
        store.finish_run(
            run.id,
            "finished",
            metrics=[
                MetricPoint("loss", v, s, 1.0 + s) for s, v in enumerate([0.5, float("nan"), 0.25])
            ],
        )
    finally:
        store.close()

    def contents() -> list[list[tuple]]:
        with engine.connect() as conn:
            return [
                [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY run_id, key"))]
                for t in ("params", "latest_metrics", "tags")
            ]

    before = contents()
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        assert _clustered(engine) == {"params": False, "latest_metrics": False, "tags": False}
    alembic(engine, "upgrade", "0010")
    assert contents() == before
    assert differences(engine, without=AFTER_0010) == []
    if sqlite:
        assert _clustered(engine) == {"params": True, "latest_metrics": True, "tags": True}
    store = Store(url)
    try:
        got = store.get_run(run.id)
        assert got.params == {"lr": 0.01, "model": "mlp", "none": None}
        assert got.metrics == {"loss": 0.25} and got.tags == {"stage": "a"}
        page = query_runs(store, "params.lr < 0.02 and metrics.loss.min < 0.3")
        assert [r.id for r in page.runs] == [run.id]
        # a number compares num_value alone: a param recorded as None is still missing
        assert query_runs(store, "params.none > -1 or params.none <= 0").runs == []
        assert [r.id for r in query_runs(store, "params.none is null").runs] == [run.id]
    finally:
        store.close()
    alembic(engine, "downgrade", "0009")
    assert contents() == before
    if sqlite:
        assert _clustered(engine) == {"params": False, "latest_metrics": False, "tags": False}
    indexes = {i["name"] for i in inspect(engine).get_indexes("params")}
    assert "ix_params_key_num" in indexes


def test_0015_starts_each_model_after_its_highest_version(engine: Engine, store_url: str) -> None:
    """``last_version`` is filled from the versions there are (0 for a model with none),
    so the first registration after the upgrade takes the number after the highest; the
    downgrade drops the column and keeps the versions."""
    alembic(engine, "upgrade", "0014")
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, "c" * 32, now)
        for name in ("model", "model-3", "model-4"):
            conn.execute(
                text(
                    "INSERT INTO artifacts (run_id, name, kind, status, size, file_count, meta,"
                    " created_at) VALUES (:id, :n, 'model', 'complete', 0, 0, '{}', :t)"
                ),
                {"id": "c" * 32, "n": name, "t": now},
            )
        for model_id, name in [(1, "churn"), (2, "empty")]:
            conn.execute(
                text(
                    "INSERT INTO registered_models (id, name, description, created_at, updated_at)"
                    " VALUES (:i, :n, '', :t, :t)"
                ),
                {"i": model_id, "n": name, "t": now},
            )
        for version, artifact in [(1, "model"), (3, "model-3")]:  # version 2 was deleted
            conn.execute(
                text(
                    "INSERT INTO model_versions (model_id, version, run_id, artifact, description,"
                    " created_at) VALUES (1, :v, :id, :a, '', :t)"
                ),
                {"v": version, "id": "c" * 32, "a": artifact, "t": now},
            )
    alembic(engine, "upgrade", "0015")
    with engine.connect() as conn:
        last = conn.execute(text("SELECT name, last_version FROM registered_models ORDER BY name"))
        assert [tuple(r) for r in last] == [("churn", 3), ("empty", 0)]
    # the versions' tags come in 0016, the models' in 0017
    later = {"model_versions", "registered_models.tags", *AFTER_0017}
    assert differences(engine, without=later) == []
    store = Store(store_url)
    try:
        assert store.register_model_version("churn", "c" * 32, "model-4").version == 4
        assert store.register_model_version("empty", "c" * 32, "model").version == 1
    finally:
        store.close()
    alembic(engine, "downgrade", "0014")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT version FROM model_versions ORDER BY model_id, version"))
        assert [v for (v,) in kept] == [1, 3, 4, 1]
    assert "last_version" not in {
        c["name"] for c in inspect(engine).get_columns("registered_models")
    }


def test_0016_gives_every_version_empty_tags_and_keeps_its_aliases(
    engine: Engine, store_url: str
) -> None:
    """The column is added in place: the versions there are read ``{}`` and the aliases
    pointing at them stay (a batch copy of ``model_versions`` would have cascaded to them on
    SQLite); the downgrade drops the column, keeping versions and aliases."""
    alembic(engine, "upgrade", "0015")
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, "d" * 32, now)
        conn.execute(
            text(
                "INSERT INTO artifacts (run_id, name, kind, status, size, file_count, meta,"
                " created_at) VALUES (:id, 'model', 'model', 'complete', 0, 0, '{}', :t)"
            ),
            {"id": "d" * 32, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO registered_models (id, name, description, created_at, updated_at,"
                " last_version) VALUES (1, 'churn', '', :t, :t, 1)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO model_versions (model_id, version, run_id, artifact, description,"
                " created_at) VALUES (1, 1, :id, 'model', 'first', :t)"
            ),
            {"id": "d" * 32, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO model_aliases (model_id, alias, version, updated_at)"
                " VALUES (1, 'production', 1, :t)"
            ),
            {"t": now},
        )
    alembic(engine, "upgrade", "0016")
    # they come in 0017
    assert differences(engine, without={"registered_models.tags", *AFTER_0017}) == []
    store = Store(store_url)
    try:
        (version,) = store.get_registered_model("churn").versions
        assert version.tags == {} and version.aliases == ("production",)
        assert version.description == "first"
        store.update_model_version("churn", 1, set_tags={"validation": "passed"})
        assert store.resolve_model_version("churn", alias="production").tags == {
            "validation": "passed"
        }
    finally:
        store.close()
    alembic(engine, "downgrade", "0015")
    with engine.connect() as conn:
        assert [
            tuple(r) for r in conn.execute(text("SELECT alias, version FROM model_aliases"))
        ] == [("production", 1)]
    assert "tags" not in {c["name"] for c in inspect(engine).get_columns("model_versions")}


def test_0017_gives_every_model_empty_tags_and_keeps_its_versions(
    engine: Engine, store_url: str
) -> None:
    """``registered_models.tags`` is added in place: the models there are read ``{}`` and
    their versions and aliases stay (a batch copy of ``registered_models`` would have
    cascaded to them on SQLite); the downgrade drops the column, keeping them all."""
    alembic(engine, "upgrade", "0016")
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, "e" * 32, now)
        conn.execute(
            text(
                "INSERT INTO artifacts (run_id, name, kind, status, size, file_count, meta,"
                " created_at) VALUES (:id, 'model', 'model', 'complete', 0, 0, '{}', :t)"
            ),
            {"id": "e" * 32, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO registered_models (id, name, description, created_at, updated_at,"
                " last_version) VALUES (1, 'churn', 'who leaves', :t, :t, 1)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO model_versions (model_id, version, run_id, artifact, description,"
                " created_at, tags) VALUES (1, 1, :id, 'model', '', :t, '{\"v\": \"1\"}')"
            ),
            {"id": "e" * 32, "t": now},
        )
        conn.execute(
            text(
                "INSERT INTO model_aliases (model_id, alias, version, updated_at)"
                " VALUES (1, 'production', 1, :t)"
            ),
            {"t": now},
        )
    alembic(engine, "upgrade", "0017")
    assert differences(engine, without=AFTER_0017) == []
    store = Store(store_url)
    try:
        model = store.get_registered_model("churn")
        assert (model.tags, model.description, model.aliases) == (
            {},
            "who leaves",
            {"production": 1},
        )
        assert model.versions[0].tags == {"v": "1"}
        assert store.update_registered_model("churn", set_tags={"team": "growth"}).tags == {
            "team": "growth"
        }
    finally:
        store.close()
    alembic(engine, "downgrade", "0016")
    with engine.connect() as conn:
        assert [
            tuple(r) for r in conn.execute(text("SELECT alias, version FROM model_aliases"))
        ] == [("production", 1)]
        assert conn.execute(text("SELECT tags FROM model_versions")).scalar() == '{"v": "1"}'
    assert "tags" not in {c["name"] for c in inspect(engine).get_columns("registered_models")}


def test_0018_adds_artifact_uses_and_its_downgrade_keeps_the_runs(
    engine: Engine, store_url: str
) -> None:
    """``artifact_uses`` is a new table: runs there are keep everything and used nothing;
    a use recorded at 0018 goes with the table on the way down, the runs stay."""
    alembic(engine, "upgrade", "0017")
    now = 1_700_000_000.0
    with engine.begin() as conn:
        insert_run(conn, "a" * 32, now)
    alembic(engine, "upgrade", "0018")
    assert differences(engine) == []
    store = Store(store_url, migrate=False)
    try:
        assert store.artifacts_used("a" * 32) == []
        user = store.create_run("e").id
        use = {"source_run_id": "a" * 32, "name": "model", "kind": "model", "digest": "d"}
        store.record_artifact_uses(user, [{**use, "ref": "1/model", "how": "load_model"}])
        (found,) = store.artifacts_used(user)
        assert (found.source_number, found.source_exists) == (1, False)  # no such artifact
    finally:
        store.close()
    alembic(engine, "downgrade", "0017")
    assert "artifact_uses" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar_one() == 2
