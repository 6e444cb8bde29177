"""The model registry: versions numbered per model, aliases that move, refusals that keep
the registry pointing at something, references and lineage. On SQLite and PostgreSQL.

Model artifacts are written directly (kind ``model``) so these tests need no model library;
tests/test_model_api.py logs real models through ``mltrack.log_model``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy import text as sql_text
from sqlalchemy.exc import OperationalError

from jupyter_mltrack.models.artifacts import Source, read_bytes, write_artifact
from jupyter_mltrack.models.lineage import lineage
from jupyter_mltrack.models.refs import ModelRefError, parse, resolve
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, Store
from jupyter_mltrack.store.errors import (
    ArtifactNotFound,
    ModelHasAliases,
    ModelNotFound,
    ModelRegistryConflict,
)
from jupyter_mltrack.store.models import ModelAliasRow, ModelVersionRow, RegisteredModelRow
from jupyter_mltrack.store.names import InvalidName

from .row_locks import LOCKED, try_write

META = {"format": "skops", "flavor": "sklearn", "library_version": "1.5.0", "unsafe": False}


@pytest.fixture
def reg(store_url: str, tmp_path: Path) -> Iterator[Store]:
    st = Store(store_url, blob_url=(tmp_path / "blobs").as_uri())
    yield st
    st.close()


def model_run(st: Store, payload: bytes = b"weights", **kwargs) -> str:
    run = st.create_run("churn-exp", **kwargs)
    write_artifact(st, run.id, "model", "model", [Source("model.skops", data=payload)], meta=META)
    return run.id


def test_versions_are_numbered_per_model_and_registering_again_is_idempotent(reg: Store) -> None:
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    assert reg.register_model_version("churn", a, "model").version == 1
    assert reg.register_model_version("churn", b, "model").version == 2
    assert reg.register_model_version("churn", a, "model").version == 1  # already registered
    again, created = reg.add_model_version("churn", a, "model")  # the same, saying so
    assert (again.version, created) == (1, False)
    new, created = reg.add_model_version("churn", model_run(reg, b"c"), "model")
    assert (new.version, created) == (3, True)
    assert reg.register_model_version("fraud", b, "model").version == 1  # its own numbering
    model = reg.get_registered_model("churn")
    assert [(v.version, v.run_id) for v in model.versions] == [(1, a), (2, b), (3, new.run_id)]
    assert model.latest == 3
    assert [m.name for m in reg.list_registered_models()] == ["churn", "fraud"]
    assert reg.versions_of_runs([b])[b][0].model == "churn"


def test_only_model_artifacts_can_be_registered(reg: Store) -> None:
    run = reg.create_run("exp")
    write_artifact(reg, run.id, "notes.txt", "text", [Source("notes.txt", data=b"x")])
    with pytest.raises(ModelRegistryConflict, match="is a text, not a model"):
        reg.register_model_version("churn", run.id, "notes.txt")
    with pytest.raises(ArtifactNotFound):
        reg.register_model_version("churn", run.id, "absent")
    assert reg.list_registered_models() == []  # nothing half-created


def test_an_alias_moves_and_reads_back(reg: Store) -> None:
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    reg.register_model_version("churn", a, "model")
    reg.register_model_version("churn", b, "model")
    assert reg.set_model_alias("churn", "production", 1).aliases == ("production",)
    reg.set_model_alias("churn", "staging", 2)
    moved = reg.set_model_alias("churn", "production", 2)
    assert moved.version == 2 and moved.aliases == ("production", "staging")
    assert reg.get_registered_model("churn").aliases == {"production": 2, "staging": 2}
    assert reg.resolve_model_version("churn", alias="production").run_id == b
    assert reg.resolve_model_version("churn").version == 2  # the latest
    reg.delete_model_alias("churn", "staging")
    with pytest.raises(ModelNotFound, match=r"no alias 'staging' \(its aliases: @production\)"):
        reg.resolve_model_version("churn", alias="staging")
    with pytest.raises(ModelNotFound, match=r"no version 7 \(versions: 1, 2\)"):
        reg.set_model_alias("churn", "production", 7)


@pytest.mark.parametrize("version", [0, -1, 2**31, 2**63, 99999999999999999999999])
def test_a_version_number_no_version_can_have_is_simply_not_found(reg: Store, version: int) -> None:
    """Past 64 bits SQLite cannot even bind the number; past 32 bits PostgreSQL's column
    cannot hold it: every method says "no version N", as for any absent version."""
    reg.register_model_version("churn", model_run(reg), "model")
    missing = rf"model 'churn' has no version {version} \(versions: 1\)"
    with pytest.raises(ModelNotFound, match=missing):
        reg.resolve_model_version("churn", version=version)
    with pytest.raises(ModelNotFound, match=missing):
        reg.set_model_alias("churn", "production", version)
    with pytest.raises(ModelNotFound, match=missing):
        reg.delete_model_version("churn", version, force=True)
    if version > 0:  # a reference cannot spell the others (tested with parse)
        with pytest.raises(ModelNotFound, match=missing):
            resolve(reg, f"models:/churn/{version}")  # what mltrack.load_model reads
    assert reg.get_registered_model("churn").aliases == {}


@pytest.mark.parametrize("alias", ["3", "latest", "with/slash", "at@sign", " padded"])
def test_aliases_that_would_read_as_something_else_are_refused(reg: Store, alias: str) -> None:
    reg.register_model_version("churn", model_run(reg), "model")
    with pytest.raises((ModelRegistryConflict, InvalidName)):
        reg.set_model_alias("churn", alias, 1)


@pytest.mark.parametrize(
    "name",
    ["a/b", "a@b", "models:x", "", " churn", "my model", "my  model", "..", ".", "-churn", "ü"],
)
def test_model_names_a_reference_could_not_spell_are_refused(reg: Store, name: str) -> None:
    """What the message says is what is kept: letters, digits and -_., from a letter or
    digit (``..`` would be a step up in ``GET models/..``, and ``models:/../1`` its ref)."""
    run_id = model_run(reg)
    with pytest.raises(InvalidName, match="use letters, digits and -_., starting with"):
        reg.register_model_version(name, run_id, "model")
    with pytest.raises(InvalidName):
        reg.check_model_name(name)
    assert reg.list_registered_models() == []
    reg.register_model_version("churn", run_id, "model")
    with pytest.raises(InvalidName):
        reg.set_model_alias("churn", name, 1)


@pytest.mark.parametrize("name", ["churn", "Churn-2", "team.churn_v2", "3d", "a..b"])
def test_plain_names_are_kept(reg: Store, name: str) -> None:
    assert reg.check_model_name(name) == name
    version = reg.register_model_version(name, model_run(reg), "model")
    assert version.ref == f"models:/{name}/1"
    assert reg.set_model_alias(name, name, 1).aliases == (name,)


def test_names_stored_before_the_rule_still_work(reg: Store) -> None:
    """A model and an alias named under the earlier rule (a space was allowed) are read,
    registered to, moved and deleted by their names; only new names are checked."""
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    with reg.engine.begin() as conn:
        model_id = conn.execute(
            RegisteredModelRow.__table__.insert(),
            {"name": "my model", "description": "", "created_at": 1.0, "updated_at": 1.0},
        ).inserted_primary_key[0]
    assert reg.check_model_name("my model") == "my model"
    assert reg.register_model_version("my model", a, "model").version == 1
    with reg.engine.begin() as conn:
        conn.execute(
            ModelAliasRow.__table__.insert(),
            {"model_id": model_id, "alias": "in prod", "version": 1, "updated_at": 1.0},
        )
    assert reg.register_model_version("my model", b, "model").version == 2
    assert reg.set_model_alias("my model", "in prod", 2).aliases == ("in prod",)
    assert resolve(reg, "models:/my model@in prod")[0].run_id == b
    with pytest.raises(InvalidName, match="alias name 'new alias'"):
        reg.set_model_alias("my model", "new alias", 1)
    reg.delete_model_alias("my model", "in prod")
    reg.delete_model_version("my model", 1)
    assert [v.version for v in reg.get_registered_model("my model").versions] == [2]


def test_deleting_a_version_an_alias_holds_needs_force(reg: Store) -> None:
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    reg.register_model_version("churn", a, "model")
    reg.register_model_version("churn", b, "model")
    reg.set_model_alias("churn", "production", 1)
    with pytest.raises(ModelRegistryConflict, match="version 1 of 'churn' holds @production"):
        reg.delete_model_version("churn", 1)
    assert [v.version for v in reg.get_registered_model("churn").versions] == [1, 2]
    reg.delete_model_version("churn", 1, force=True)
    model = reg.get_registered_model("churn")
    assert [v.version for v in model.versions] == [2] and model.aliases == {}
    # numbers are never reused: the next version is 3
    assert reg.register_model_version("churn", a, "model").version == 3


def test_deleting_a_version_reads_its_aliases_under_the_models_lock(
    reg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alias set on a version while it is being deleted is not deleted with it unasked:
    the deletion reads the aliases holding it while it holds the model's row, which moving
    an alias takes too."""
    reg.register_model_version("churn", model_run(reg), "model")
    seen: list[str] = []
    real = type(reg)._check_version
    bump = "UPDATE registered_models SET description = 'x' WHERE name = :name"

    def checked(conn: object, name: str, model_id: int, version: int) -> None:
        seen.append(try_write(reg, bump, {"name": name}))
        real(conn, name, model_id, version)  # type: ignore[arg-type]

    monkeypatch.setattr(reg, "_check_version", checked)
    reg.delete_model_version("churn", 1)
    assert seen == [LOCKED]


def test_numbers_of_deleted_newest_versions_are_not_given_again(reg: Store) -> None:
    """Whatever pinned ``models:/demo/2`` must not load another model once version 2 is
    deleted: the next version is numbered after the last one given, not after the highest
    one left."""
    a, b, c = model_run(reg, b"a"), model_run(reg, b"b"), model_run(reg, b"c")
    reg.register_model_version("demo", a, "model")
    reg.register_model_version("demo", b, "model")
    reg.delete_model_version("demo", 2)
    assert reg.register_model_version("demo", c, "model").version == 3
    with pytest.raises(ModelNotFound, match=r"no version 2 \(versions: 1, 3\)"):
        reg.resolve_model_version("demo", version=2)
    # every version deleted: the model keeps its numbering, and an artifact registered
    # again is a new version
    reg.delete_model_version("demo", 3)
    reg.delete_model_version("demo", 1)
    assert reg.get_registered_model("demo").versions == ()
    assert reg.register_model_version("demo", b, "model").version == 4
    assert reg.register_model_version("other", a, "model").version == 1  # its own numbering


def test_a_registered_run_and_artifact_cannot_be_deleted(reg: Store) -> None:
    run_id = model_run(reg)
    reg.register_model_version("churn", run_id, "model")
    with pytest.raises(ModelRegistryConflict, match="registered model versions"):
        reg.delete_run(run_id)
    with pytest.raises(ModelRegistryConflict, match="registered model version"):
        reg.delete_artifact(run_id, "model")
    with pytest.raises(ModelRegistryConflict):  # nor replaced by logging the name again
        write_artifact(reg, run_id, "model", "model", [Source("m", data=b"new")], meta=META)
    assert reg.get_run(run_id).id == run_id
    reg.delete_model_version("churn", 1)
    reg.delete_run(run_id)


def registry_rows(st: Store) -> tuple[int, ...]:
    """How many models, versions and aliases the tables hold (orphans included)."""
    with st.engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(row.__table__)).scalar()
            for row in (RegisteredModelRow, ModelVersionRow, ModelAliasRow)
        )


def test_deleting_a_model_an_alias_points_into_needs_force(reg: Store) -> None:
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    reg.register_model_version("churn", a, "model")
    reg.register_model_version("churn", b, "model")
    reg.set_model_alias("churn", "staging", 2)
    reg.set_model_alias("churn", "production", 1)
    reg.register_model_version("fraud", a, "model")  # another model of the same run
    with pytest.raises(ModelHasAliases) as refused:
        reg.delete_registered_model("churn")
    assert isinstance(refused.value, ModelRegistryConflict)  # a 409, exit 1
    assert str(refused.value) == (
        "model 'churn' holds @production (v1), @staging (v2): delete the aliases first, or "
        "delete with force=True (--force) to delete them too"
    )
    assert refused.value.aliases == {"production": 1, "staging": 2}
    assert "?force=1" in str(refused.value.forced_by("?force=1"))
    assert registry_rows(reg) == (2, 3, 2)  # nothing deleted

    reg.delete_registered_model("churn", force=True)
    assert [m.name for m in reg.list_registered_models()] == ["fraud"]
    assert registry_rows(reg) == (1, 1, 0)  # no version or alias left behind
    with pytest.raises(ModelNotFound, match=r"no registered model 'churn' \(registered: 'fraud'\)"):
        reg.get_registered_model("churn")
    with pytest.raises(ModelNotFound):
        resolve(reg, "models:/churn@production")  # what mltrack.load_model reads
    # the runs no longer name it; they and their models stay, the files readable
    assert {run: [v.ref for v in vs] for run, vs in reg.versions_of_runs([a, b]).items()} == {
        a: ["models:/fraud/1"]
    }
    assert read_bytes(reg, reg.get_artifact(b, "model")) == b"b"
    assert reg.get_run(a).id == a
    reg.delete_run(b)  # no version names it any more
    with pytest.raises(ModelRegistryConflict, match="registered model versions"):
        reg.delete_run(a)  # fraud's still does


def test_a_model_without_aliases_is_deleted_unasked_and_an_unknown_one_is_not_found(
    reg: Store,
) -> None:
    """Whether it has versions or not: one whose last version was deleted is listed with
    none until it is deleted."""
    reg.register_model_version("churn", model_run(reg, b"a"), "model")
    reg.register_model_version("empty", model_run(reg, b"b"), "model")
    reg.delete_model_version("empty", 1)
    assert [len(m.versions) for m in reg.list_registered_models()] == [1, 0]
    reg.delete_registered_model("churn")
    reg.delete_registered_model("empty")
    assert reg.list_registered_models() == [] and registry_rows(reg) == (0, 0, 0)
    for name in ("churn", "nope"):
        with pytest.raises(
            ModelNotFound, match=rf"no registered model '{name}' \(registered: none"
        ):
            reg.delete_registered_model(name, force=True)


def test_a_name_registered_again_is_a_new_model_numbered_from_1(reg: Store) -> None:
    """Deleting the model frees its name and its numbers (as MLflow): the last number it
    gave (v3, deleted first) is not kept for whatever is registered under the name next."""
    a, b, c = model_run(reg, b"a"), model_run(reg, b"b"), model_run(reg, b"c")
    for run_id in (a, b, c):
        reg.register_model_version("demo", run_id, "model")
    reg.delete_model_version("demo", 3)
    reg.delete_registered_model("demo")
    again = reg.register_model_version("demo", c, "model")
    assert (again.version, again.run_id) == (1, c)
    assert resolve(reg, "models:/demo/1")[0].run_id == c
    assert reg.register_model_version("demo", a, "model").version == 2
    assert [v.version for v in reg.get_registered_model("demo").versions] == [1, 2]


def test_a_registration_racing_a_deletion_lands_before_or_after_it(reg: Store) -> None:
    """Registering under a name while its model is being deleted either adds a version
    that goes with the model or creates the model anew from v1; never an error, never a
    version of a model that is gone."""
    runs = [model_run(reg, bytes([i])) for i in range(9)]
    errors: list[BaseException] = []

    def act(fn: Callable[..., object], *args: str) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for round_, run_id in enumerate(runs[1:]):
        reg.register_model_version("churn", runs[0], "model")
        threads = [
            threading.Thread(target=act, args=(reg.delete_registered_model, "churn")),
            threading.Thread(
                target=act, args=(reg.register_model_version, "churn", run_id, "model")
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], round_
        models = reg.list_registered_models()
        if models:  # registered after: a new model, its first version
            assert [(v.version, v.run_id) for v in models[0].versions] == [(1, run_id)]
            reg.delete_registered_model("churn")
        assert registry_rows(reg) == (0, 0, 0), round_


@pytest.mark.parametrize("deleted", [False, True])
def test_concurrent_registrations_get_distinct_numbers(reg: Store, deleted: bool) -> None:
    """Six threads at once get six consecutive numbers, after the last one given even when
    the newest versions were deleted first."""
    start = 0
    if deleted:
        first, second = model_run(reg, b"first"), model_run(reg, b"second")
        reg.register_model_version("churn", first, "model")
        reg.register_model_version("churn", second, "model")
        reg.delete_model_version("churn", 2)
        start = 2
    runs = [model_run(reg, bytes([i])) for i in range(6)]
    got: list[int] = []
    errors: list[BaseException] = []

    def register(run_id: str) -> None:
        try:
            got.append(reg.register_model_version("churn", run_id, "model").version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(got) == [start + n for n in range(1, 7)]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_model_created_between_its_lock_and_its_lookup_is_locked_before_numbering(
    reg: Store,
) -> None:
    """PostgreSQL reads each statement afresh: a model another registration creates after
    the locking UPDATE found no row is found by the next SELECT, unlocked. It must be taken
    then, or two registrations number versions at once and deadlock (as CI once saw)."""
    created: list[bool] = []

    def create_in_between(conn, cursor, statement, params, context, executemany) -> None:
        if not created and statement.lstrip().startswith("SELECT"):
            created.append(True)
            with reg.engine.begin() as other:
                other.execute(
                    insert(RegisteredModelRow.__table__),
                    {"name": "churn", "description": "", "created_at": 1.0, "updated_at": 1.0},
                )

    with reg.engine.begin() as conn:
        event.listen(conn, "before_cursor_execute", create_in_between)
        assert reg._model_id(conn, "churn", create=True, now=2.0) > 0
        event.remove(conn, "before_cursor_execute", create_in_between)
        with reg.engine.connect() as third, pytest.raises(OperationalError, match="lock"):
            third.execute(
                sql_text("SELECT id FROM registered_models WHERE name = 'churn' FOR UPDATE NOWAIT")
            )
    assert created == [True]


# references ---------------------------------------------------------------------------------------


def test_references_parse_every_form() -> None:
    assert parse("models:/churn@production").alias == "production"
    assert parse("models:/churn/3").version == 3
    assert parse("models:/churn").model == "churn"
    ref = parse("#12/model")
    assert (ref.run, ref.artifact) == ("12", "model")
    assert parse("ab12cd/sub/model.onnx").artifact == "sub/model.onnx"
    for bad in ["", "models:/", "models:/a/b/c", "models:/churn/0", "models:/churn@", "justone"]:
        with pytest.raises(ModelRefError, match="RUN/NAME"):
            parse(bad)


def test_references_resolve_to_the_artifact(reg: Store) -> None:
    run_id = model_run(reg)
    number = reg.get_run(run_id).number
    reg.register_model_version("churn", run_id, "model")
    reg.set_model_alias("churn", "production", 1)
    for text in (
        f"{number}/model",
        f"{run_id[:8]}/model",
        "models:/churn@production",
        "models:/churn/1",
    ):
        artifact, _version = resolve(reg, text, "churn-exp")
        assert (artifact.run_id, artifact.name) == (run_id, "model"), text
    with pytest.raises(ModelNotFound, match="no registered model 'nope'"):
        resolve(reg, "models:/nope@production")


def test_lineage_follows_the_model_to_its_data_code_and_environment(reg: Store) -> None:
    env_id = reg.put_environment(
        Environment(
            python="3.11.7", platform="Linux", packages={"scikit-learn": "1.5.0"}, digest="e1"
        )
    )
    sn = Snapshotter(reg)
    try:
        snap = sn.snapshot(pd.DataFrame({"x": [1, 2, 3]}), name="train").wait(30)
    finally:
        sn.close()
    run = reg.create_run(
        "churn-exp",
        code="clf.fit(X, y)",
        params={"C": 0.5},
        data=[("input", "train", snap.digest, None)],
        environment_id=env_id,
    )
    write_artifact(reg, run.id, "model", "model", [Source("model.skops", data=b"w")], meta=META)
    reg.register_model_version("churn", run.id, "model")
    reg.set_model_alias("churn", "production", 1)
    got = lineage(reg, "models:/churn@production")
    assert got["model"]["version"] == 1 and got["model"]["aliases"] == ["production"]
    assert got["run"]["id"] == run.id and got["code"] == "clf.fit(X, y)"
    assert got["params"] == {"C": 0.5}
    assert [(i["name"], i["digest"]) for i in got["inputs"]] == [("train", snap.digest)]
    assert got["environment"]["python"] == "3.11.7"
    assert got["artifact"]["format"] == "skops"
    assert got["pipeline"] == {"reproduces": None, "reproduced_by": []}


def test_registry_changes_move_the_runs_revision(reg: Store) -> None:
    """The sidebar polls ``revision`` and re-reads only when it moved: a registration, an
    alias moved or deleted, an artifact logged to a finished run and a model deleted must
    move it."""
    a, b = model_run(reg, b"a"), model_run(reg, b"b")
    steps = [
        lambda: reg.register_model_version("churn", a, "model"),
        lambda: reg.register_model_version("churn", b, "model"),
        lambda: reg.set_model_alias("churn", "production", 1),
        lambda: reg.set_model_alias("churn", "production", 2),
        lambda: reg.delete_model_alias("churn", "production"),
        lambda: write_artifact(reg, a, "late.txt", "text", [Source("late.txt", data=b"x")]),
        lambda: reg.delete_registered_model("churn"),  # both runs' details named it
    ]
    for step in steps:
        before = reg.revision()
        time.sleep(0.002)  # updated_at is a float of seconds: let the clock move
        step()
        assert reg.revision() != before


# descriptions and tags ----------------------------------------------------------------------------


def test_a_version_is_described_and_tagged_and_reads_back_everywhere(reg: Store) -> None:
    run_id = model_run(reg)
    reg.register_model_version("churn", run_id, "model", description="first")
    reg.set_model_alias("churn", "production", 1)
    updated = reg.update_model_version(
        "churn", 1, description="retrained on May", set_tags={"validation": "pending", "n": "3"}
    )
    assert updated.description == "retrained on May"
    assert updated.tags == {"validation": "pending", "n": "3"}
    updated = reg.update_model_version(
        "churn", 1, set_tags={"validation": "passed"}, delete_tags=["n"]
    )
    assert updated.tags == {"validation": "passed"} and updated.description == "retrained on May"
    assert updated.aliases == ("production",)
    # every reader of a version has them: by alias, the model, the listing, a run's versions
    assert reg.resolve_model_version("churn", alias="production").tags == {"validation": "passed"}
    assert reg.get_registered_model("churn").versions[0].tags == {"validation": "passed"}
    assert reg.list_registered_models()[0].versions[0].description == "retrained on May"
    assert reg.versions_of_runs([run_id])[run_id][0].tags == {"validation": "passed"}
    assert updated.to_dict()["tags"] == {"validation": "passed"}
    reg.set_model_description("churn", "Who will leave next month")
    assert reg.get_registered_model("churn").description == "Who will leave next month"


def test_deleting_a_tag_the_version_lacks_names_those_it_has(reg: Store) -> None:
    reg.register_model_version("churn", model_run(reg), "model")
    reg.update_model_version("churn", 1, set_tags={"owner": "ana"})
    with pytest.raises(ModelNotFound, match=r"no tag 'stage' \(its tags: owner\)"):
        reg.update_model_version("churn", 1, set_tags={"x": "1"}, delete_tags=["stage"])
    assert reg.resolve_model_version("churn").tags == {"owner": "ana"}  # nothing half-done
    with pytest.raises(ModelNotFound, match="has no version 7"):
        reg.update_model_version("churn", 7, set_tags={"x": "1"})
    with pytest.raises(ModelNotFound, match="no registered model 'fraud'"):
        reg.update_model_version("fraud", 1, description="x")


@pytest.mark.parametrize(
    ("tags", "delete", "message"),
    [
        ({"": "x"}, [], "a tag key is non-empty text"),
        ({"k\x00": "x"}, [], "NUL"),
        ({"k" * 300: "x"}, [], "at most 256 characters"),
        ({"k": "v" * 5001}, [], "at most 5,000 characters"),
        ({"k": None}, [], "is text, not NoneType"),
        ({"k": ["a"]}, [], "is text, not list"),
        ({"k": "x"}, ["k"], "both set and deleted"),
    ],
)
def test_tags_no_store_can_keep_are_refused_before_anything_is_written(
    reg: Store, tags: dict, delete: list, message: str
) -> None:
    reg.register_model_version("churn", model_run(reg), "model")
    before = reg.revision()
    with pytest.raises(InvalidName, match=message):
        reg.update_model_version("churn", 1, set_tags=tags, delete_tags=delete)
    assert reg.revision() == before and reg.resolve_model_version("churn").tags == {}


def test_numbers_and_booleans_are_kept_as_text_and_descriptions_are_checked(reg: Store) -> None:
    reg.register_model_version("churn", model_run(reg), "model")
    assert reg.update_model_version("churn", 1, set_tags={"auc": 0.93, "ok": True}).tags == {
        "auc": "0.93",
        "ok": "True",
    }
    with pytest.raises(InvalidName, match="description: cannot contain NUL"):
        reg.update_model_version("churn", 1, description="a\x00b")
    with pytest.raises(InvalidName, match="description: at most 20,000"):
        reg.set_model_description("churn", "x" * 20_001)
    with pytest.raises(InvalidName, match="a description is text, not int"):
        reg.set_model_description("churn", 3)  # type: ignore[arg-type]


def at_once(n: int, edit: Callable[[int], object]) -> None:
    """``edit(0)`` … ``edit(n - 1)`` on ``n`` threads at once; none may fail."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            edit(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_tag_edits_of_one_version_lose_no_key(reg: Store) -> None:
    """Each edit reads the tags and writes them back under the model's lock: six threads
    each adding their own key leave all six."""
    reg.register_model_version("churn", model_run(reg), "model")
    at_once(6, lambda i: reg.update_model_version("churn", 1, set_tags={f"k{i}": str(i)}))
    assert reg.resolve_model_version("churn").tags == {f"k{i}": str(i) for i in range(6)}


def test_a_models_own_tags_are_edited_in_one_transaction_and_lose_no_key(reg: Store) -> None:
    """``update_registered_model``: description and tags together, or nothing (a tag to
    delete that is missing fails the whole edit); concurrent edits of the model's tags
    each keep the others' keys; its versions' tags are not its."""
    reg.register_model_version("churn", model_run(reg), "model", tags={"validation": "ok"})
    model = reg.update_registered_model(
        "churn", description="who leaves", set_tags={"team": "growth", "task": "churn"}
    )
    assert (model.description, model.tags) == ("who leaves", {"team": "growth", "task": "churn"})
    assert model.versions[0].tags == {"validation": "ok"}
    with pytest.raises(
        ModelNotFound, match=r"model 'churn' has no tag 'x' \(its tags: task, team\)"
    ):
        reg.update_registered_model("churn", description="lost", delete_tags=["x"])
    with pytest.raises(InvalidName, match="'team' is both set and deleted"):
        reg.update_registered_model("churn", set_tags={"team": "a"}, delete_tags=["team"])
    kept = reg.get_registered_model("churn")
    assert (kept.description, kept.tags) == ("who leaves", {"team": "growth", "task": "churn"})
    before = reg.revision()
    time.sleep(0.002)
    reg.update_registered_model("churn", delete_tags=["task"])
    assert reg.revision() != before  # the sidebar re-reads the registry
    at_once(6, lambda i: reg.update_registered_model("churn", set_tags={f"k{i}": str(i)}))
    assert reg.get_registered_model("churn").tags == {
        "team": "growth",
        **{f"k{i}": str(i) for i in range(6)},
    }


def test_tag_and_description_edits_move_the_runs_revision(reg: Store) -> None:
    """The sidebar re-reads a run's detail (which lists its registered versions) only when
    the revision moved."""
    reg.register_model_version("churn", model_run(reg), "model")
    for step in (
        lambda: reg.update_model_version("churn", 1, set_tags={"a": "1"}),
        lambda: reg.update_model_version("churn", 1, description="d"),
        lambda: reg.set_model_description("churn", "m"),
    ):
        before = reg.revision()
        time.sleep(0.002)
        step()
        assert reg.revision() != before


def test_a_version_registered_with_tags_has_them_from_its_first_row(reg: Store) -> None:
    """``register_model(name, ref, tags=...)``: the tags go in the transaction that adds
    the version (one commit), so no reader ever sees the version without them and a crash
    cannot leave it untagged; registering the artifact again sets more on that version."""
    commits: list[int] = []
    event.listen(reg.engine, "commit", lambda _conn: commits.append(1))
    run_id = model_run(reg)
    commits.clear()
    version = reg.register_model_version(
        "churn", run_id, "model", description="first", tags={"validation": "pending", "auc": 0.9}
    )
    assert len(commits) == 1
    assert version.tags == {"validation": "pending", "auc": "0.9"}
    assert reg.resolve_model_version("churn").tags == {"validation": "pending", "auc": "0.9"}
    again = reg.register_model_version("churn", run_id, "model", tags={"owner": "ana"})
    assert again.version == 1 and again.description == "first"
    assert again.tags == {"auc": "0.9", "owner": "ana", "validation": "pending"}
    assert reg.register_model_version("churn", run_id, "model", tags={"owner": "ana"}) == again
    # refused before anything is written: no model named "fraud" appears
    with pytest.raises(InvalidName, match="at most 5,000 characters"):
        reg.register_model_version("fraud", run_id, "model", tags={"notes": "x" * 5001})
    with pytest.raises(InvalidName, match="description: at most 20,000 characters"):
        reg.register_model_version("fraud", run_id, "model", description="x" * 20001)
    assert [m.name for m in reg.list_registered_models()] == ["churn"]
