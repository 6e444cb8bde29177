"""An artifact logged on SQLite's DBAPI path (``store/artifact_steps.py``: begun with its
files claimed in one transaction, completed in another, by prepared statements) leaves the
rows the engine path leaves, hands back what ``get_artifact`` reads, and refuses what the
engine path refuses, with nothing recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from jupyter_mltrack.models import artifacts, packs
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.artifact_steps import MOST_FILES
from jupyter_mltrack.store.blobs import digest_bytes
from jupyter_mltrack.store.entities import Artifact, ArtifactFile
from jupyter_mltrack.store.errors import ArtifactNotFound, ModelRegistryConflict, RunNotFound

from .row_locks import LOCKED, try_write

#: Columns that differ between two writes of the same artifact (when, by whom).
_WHEN = {"created_at", "writer_at", "writer_pid", "writer_host"}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    st.close()


def rows(st: Store, run_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """The run's artifact and file rows, without what says when they were written."""
    out = {}
    with st.engine.connect() as conn:
        for table in ("artifacts", "artifact_files"):
            result = conn.execute(
                text(f"SELECT * FROM {table} WHERE run_id = :r ORDER BY name"),  # noqa: S608
                {"r": run_id},
            )
            columns = result.keys()  # (a Result: iterating it gives rows)
            keys = [k for k in columns if k not in _WHEN | {"run_id"}]
            found = [tuple(m[k] for k in keys) for m in result.mappings()]
            out[table] = sorted(found, key=repr)
    return out


def log_everything(st: Store, run_id: str, tree: Path) -> list[Artifact]:
    """Artifacts of every shape the two paths split on: bytes, a figure's two files, a
    name logged again, bytes a folder keeps in a pack, 16 new small files (packed on the
    fast path), one more than it takes (the engine path)."""
    folder = {f"f{i:02}.txt": f"file {i}".encode() * 50 for i in range(packs.PACK_FROM)}
    for rel, data in folder.items():
        (tree / "packed" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / "packed" / rel).write_bytes(data)
    for i in range(MOST_FILES + 1):
        (tree / "many" / f"m{i:02}.txt").parent.mkdir(parents=True, exist_ok=True)
        (tree / "many" / f"m{i:02}.txt").write_bytes(f"many {i}".encode() * 40)
    logged = [
        write_artifact(st, run_id, "notes.txt", "text", [Source("notes.txt", data=b"hello")]),
        write_artifact(
            st,
            run_id,
            "roc",
            "figure",
            [Source("roc.png", data=b"\x89PNG fake"), Source("roc.svg", data=b"<svg/>")],
            meta={"library": "matplotlib"},
            media_type="image/png",
        ),
        write_artifact(st, run_id, "notes.txt", "text", [Source("notes.txt", data=b"again")]),
        write_artifact(st, run_id, "packed", "folder", artifacts.folder_sources(tree / "packed")),
        write_artifact(st, run_id, "one.txt", "file", [Source("one.txt", data=folder["f03.txt"])]),
        write_artifact(st, run_id, "many", "folder", artifacts.folder_sources(tree / "many")),
    ]
    return logged


def test_both_paths_leave_the_same_rows(tmp_path: Path) -> None:
    """The same artifacts logged into two empty stores, one by each path."""
    logged, stores = {}, {}
    for fast in (True, False):
        st = stores[fast] = Store(f"sqlite:///{tmp_path / str(fast) / 'mltrack.db'}")
        assert st._fast_writes and st._returning
        st._fast_writes = fast
        run = st.create_run("exp")
        logged[fast] = (run.id, log_everything(st, run.id, tmp_path / f"tree-{fast}"))
        for art in logged[fast][1]:
            if art.name != "notes.txt":  # (logged twice: the first is replaced)
                assert art == st.get_artifact(run.id, art.name)
    st = stores[True]
    st._fast_writes = True
    (fast_id, fast_logged), (engine_id, engine_logged) = logged[True], logged[False]
    assert rows(st, fast_id) == rows(stores[False], engine_id)
    assert len(rows(st, fast_id)["artifacts"]) == 5
    one = next(a for a in fast_logged if a.name == "one.txt")
    assert one.meta["stored_bytes"] == 0 and one.files[0].pack is not None  # found in a pack
    packed = next(a for a in fast_logged if a.name == "packed")
    assert packed.file_count == packs.PACK_FROM and all(f.pack for f in packed.files)
    assert artifacts.read_bytes(st, one) == artifacts.read_bytes(st, packed, "f03.txt")
    again = st.get_artifact(fast_id, "notes.txt")
    assert artifacts.read_bytes(st, again) == b"again"
    for fast_art, engine_art in zip(fast_logged, engine_logged, strict=True):
        assert fast_art.meta == engine_art.meta and fast_art.files == engine_art.files
    for each in stores.values():
        each.close()


def test_the_fast_path_refuses_what_the_engine_refuses(sqlite_store: Store) -> None:
    st = sqlite_store
    run = st.create_run("exp")
    model = write_artifact(st, run.id, "model", "model", [Source("m.json", data=b"{}")])
    st.register_model_version("churn", run.id, "model")
    before = rows(st, run.id)
    files = [ArtifactFile("m.json", digest_bytes(b"[]"), 2)]
    with pytest.raises(ModelRegistryConflict, match="registered model version"):
        st.open_artifact(run.id, "model", "model", files)
    with pytest.raises(RunNotFound):
        st.open_artifact("0" * 32, "x", "text", files)
    with pytest.raises(ValueError, match="unknown artifact kind"):
        st.open_artifact(run.id, "x", "video", files)
    with pytest.raises(ArtifactNotFound, match="being written"):
        st.complete_artifact(run.id, "model", files)  # complete already, not pending
    with pytest.raises(RunNotFound):
        st.complete_artifact("0" * 32, "model", files)
    assert rows(st, run.id) == before
    assert st.get_artifact(run.id, "model") == model


def test_a_pending_artifact_is_invisible_until_completed(sqlite_store: Store) -> None:
    """Opened (begun and claimed at once), the artifact is pending: gc keeps its blobs,
    readers do not see it; completed, it is whole; abandoned, it is gone with its files."""
    st = sqlite_store
    run = st.create_run("exp")
    data = b"payload"
    files = [ArtifactFile("p.bin", digest_bytes(data), len(data))]
    assert st.open_artifact(run.id, "p", "file", files, meta={"k": 1}) == {}
    assert st.list_artifacts(run.id) == []
    assert digest_bytes(data) in st.artifact_blobs()
    assert st.artifact_writers() == {"alive"}
    st.blobs.put_bytes(digest_bytes(data), data)
    done = st.complete_artifact(run.id, "p", files, meta={"k": 1, "stored_bytes": len(data)})
    assert done == st.get_artifact(run.id, "p") and done.meta["k"] == 1
    assert done.status == "complete" and st.artifact_writers() == set()
    st.open_artifact(run.id, "q", "file", files)
    st.abandon_artifact(run.id, "q")
    assert [a.name for a in st.list_artifacts(run.id)] == ["p"]
    assert rows(st, run.id)["artifact_files"] == [("p", "p.bin", digest_bytes(data), 7, None, None)]


def _another_writer(st: Store, run_id: str) -> str:
    return try_write(st, "UPDATE runs SET note = 'x' WHERE id = :id", {"id": run_id})


def test_the_fast_path_checks_under_the_write_lock(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry check of the fast path reads under SQLite's write lock: no other
    writer can register the artifact being replaced between the check and the replacement
    (Python's sqlite3 begins a transaction only at a write)."""
    st = sqlite_store
    run = st.create_run("exp")
    write_artifact(st, run.id, "model", "model", [Source("m.json", data=b"{}")])
    seen: list[str] = []
    real = st._driver_run
    checked = st._artifact_statement("artifact:registered")

    def with_another_writer(steps: list[Any]) -> list[Any]:
        def check(row: Any) -> None:
            seen.append(_another_writer(st, run.id))

        return real([(s[0], s[1], check) if s[0] is checked else s for s in steps])

    monkeypatch.setattr(st, "_driver_run", with_another_writer)
    files = [ArtifactFile("m.json", digest_bytes(b"[]"), 2)]
    st.open_artifact(run.id, "model", "model", files)
    assert seen == [LOCKED]


def test_replacing_and_registering_wait_for_each_other(
    blob_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the engine's path (PostgreSQL; SQLite's many-file artifacts), replacing or
    deleting an artifact checks that no version registers it while holding the run's row,
    and a registration checks the artifact while holding it too: the two cannot interleave
    and leave a version naming an artifact replaced under it."""
    store = blob_store
    store._fast_writes = False
    run = store.create_run("exp")
    write_artifact(store, run.id, "model", "model", [Source("m.json", data=b"{}")])
    seen: list[str] = []
    real_check = type(store)._check_not_registered
    real_model_id = type(store)._model_id

    def checked(conn: Any, run_id: str, name: str) -> None:
        seen.append(_another_writer(store, run.id))
        real_check(conn, run_id, name)

    def model_id(self: Store, *args: Any, **kwargs: Any) -> Any:
        seen.append(_another_writer(store, run.id))
        return real_model_id(self, *args, **kwargs)

    monkeypatch.setattr(store, "_check_not_registered", checked)
    monkeypatch.setattr(type(store), "_model_id", model_id)
    write_artifact(store, run.id, "model", "model", [Source("m.json", data=b"[]")])
    store.register_model_version("churn", run.id, "model")
    with pytest.raises(ModelRegistryConflict):
        store.delete_artifact(run.id, "model")
    assert seen == [LOCKED] * 3


def test_statements_compile_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store reuses the statements another store of the process compiled: compiling
    an artifact's ten statements was 4 ms of every new store's first log."""
    from jupyter_mltrack.store import driver

    compiled: list[str] = []
    real = driver.prepare

    def counted(stmt: Any, dialect: Any) -> Any:
        compiled.append(str(stmt))
        return real(stmt, dialect)

    monkeypatch.setattr(driver, "prepare", counted)
    for i in range(2):
        st = Store(f"sqlite:///{tmp_path / str(i) / 'mltrack.db'}")
        try:
            run = st.create_run("exp")
            before = len(compiled)
            write_artifact(st, run.id, "n.txt", "text", [Source("n.txt", data=b"x")])
            if i == 1:
                assert len(compiled) == before  # nothing compiled again
        finally:
            st.close()
