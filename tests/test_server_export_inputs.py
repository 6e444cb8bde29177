"""``POST /mltrack/api/export`` given a malformed notebook, and a folder with links out of the
server root, against a real Jupyter server (and, where a logged session is needed, a real
kernel started through the sessions API): a 4xx naming the problem, never a 5xx, and
nothing written outside the root. The server fixtures are those of ``test_server``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.store import Store

from .test_server import (  # noqa: F401 - fixtures shared with the other server tests
    _restore_exported_env,
    check,
    error_of,
    jp_asyncio_loop,
    jp_server_config,
    mltrack_config,
    server_options,
    sqlite_only,
)
from .test_server_export import (  # noqa: F401 - the fixture and helpers of the export tests
    EXPORT,
    FIRST_RUN,
    NOTEBOOK,
    SETUP,
    OpenNotebook,
    open_notebook,
    post,
    refusal,
    write_notebook,
)

pytestmark = pytest.mark.asyncio

#: Files in ``nb/`` that are no notebook, and what the refusal must say about each.
MALFORMED: dict[str, tuple[bytes, str]] = {
    "nb/truncated.ipynb": (b'{"cells": [{"cell_type": "code", "sou', "ends mid-JSON (truncated?)"),
    "nb/not-json.ipynb": (b"x = 1\n", "invalid JSON"),
    "nb/list.ipynb": (b"[]", "its JSON is not an object"),
    "nb/no-cells.ipynb": (b'{"nbformat": 4, "metadata": {}}', "has no 'cells' list"),
    "nb/v3.ipynb": (b'{"nbformat": 3, "metadata": {}}', "has no 'cells' list (nbformat 3)"),
    "nb/empty.ipynb": (b"", "is empty"),
    "nb/binary.ipynb": (b"\x89PNG\r\n\x1a\n\x00", "not UTF-8"),
}


def bad_notebook(response: Any, path: str, expected: str) -> None:
    error = refusal(response, 422)
    check(response, EXPORT, "post")
    assert error["reason"] == "bad_notebook", error
    message = error["message"]
    assert message.startswith(path) and expected in message, message
    assert "/tmp" not in message and str(Path.cwd()) not in message  # paths as the root shows


@sqlite_only
async def test_a_notebook_that_is_not_one_is_a_422_naming_the_problem(
    jp_fetch: Any, jp_root_dir: Path, store: Store
) -> None:
    orphan = store.create_run("scripts")
    for path, (content, expected) in MALFORMED.items():
        file = jp_root_dir / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)
        for body in (
            {"notebook": path},
            {"notebook": path, "targets": ["x"]},
            {"notebook": path, "run": orphan.id},
        ):
            bad_notebook(await post(jp_fetch, body), path, expected)
    assert sorted(p.name for p in (jp_root_dir / "nb").iterdir()) == sorted(
        Path(p).name for p in MALFORMED
    )
    # A notebook saved before its cells were typed is one: the export is made from the log
    # (here there is none). The command line, which reads files on disk, refuses it.
    write_notebook(jp_root_dir, "nb/text-only.ipynb")
    error = refusal(await post(jp_fetch, {"notebook": "nb/text-only.ipynb"}), 422)
    assert error["reason"] == "no_session", error


@sqlite_only
async def test_a_folder_linked_from_outside_the_root_is_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path: Path
) -> None:
    """``linked`` is a link to a folder outside the root holding a link back to a notebook
    inside it: the notebook resolves inside, but its files would go beside it, outside."""
    write_notebook(jp_root_dir, NOTEBOOK, SETUP)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "back.ipynb").symlink_to(jp_root_dir / NOTEBOOK)
    (jp_root_dir / "linked").symlink_to(outside, target_is_directory=True)
    for body in (
        {"notebook": "linked/back.ipynb"},
        {"notebook": "linked/back.ipynb", "targets": ["C"]},
    ):
        message = error_of(await post(jp_fetch, body), 403)
        assert message == "the folder of 'linked/back.ipynb' is a link to outside the server root"
    assert sorted(p.name for p in outside.iterdir()) == ["back.ipynb"]


@sqlite_only
async def test_links_out_of_the_root_are_never_written_through(
    jp_fetch: Any,
    jp_root_dir: Path,
    open_notebook: OpenNotebook,  # noqa: F811 - the fixture imported above
    store: Store,
    tmp_path: Path,
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP, FIRST_RUN)
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN)
    (first,), _ = store.search_runs(notebook=NOTEBOOK)
    folder = jp_root_dir / "nb"
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("mine\n")

    # a file to write that is a link out of the root: existing, and dangling
    for name, target in (("params.yaml", secret), ("requirements.txt", outside / "new.txt")):
        (folder / name).symlink_to(target)
        for body in (
            {"notebook": NOTEBOOK, "overwrite": True},
            {"run": first.id, "overwrite": True},
            {"notebook": NOTEBOOK, "targets": ["C"], "overwrite": True},
        ):
            message = error_of(await post(jp_fetch, body), 403)
            assert message == (
                f"nb/{name} is a link to outside the server root: refusing to write through it "
                "(remove the link)"
            ), message
            assert not (folder / "pipeline.py").exists()
        (folder / name).unlink()
    assert secret.read_text() == "mine\n" and sorted(p.name for p in outside.iterdir()) == [
        "secret.txt"
    ]

    # the notebook's folder reached through a link from outside: the run is exported, but
    # not beside the link
    linked = tmp_path / "linked-folder"
    linked.mkdir()
    (linked / "back.ipynb").symlink_to(jp_root_dir / NOTEBOOK)
    (jp_root_dir / "linked").symlink_to(linked, target_is_directory=True)
    message = error_of(
        await post(jp_fetch, {"run": first.id, "notebook": "linked/back.ipynb"}), 403
    )
    assert "is a link to outside the server root" in message
    assert sorted(p.name for p in linked.iterdir()) == ["back.ipynb"]

    # with the links gone the export is made; a notebook truncated since is refused, though
    # its session is logged (it used to be read as a notebook without cells)
    response = await post(jp_fetch, {"notebook": NOTEBOOK})
    assert response.code == 200, response.body
    text = (jp_root_dir / NOTEBOOK).read_text()
    (jp_root_dir / NOTEBOOK).write_text(text[: len(text) // 2])
    bad_notebook(
        await post(jp_fetch, {"notebook": NOTEBOOK, "overwrite": True}),
        NOTEBOOK,
        "ends mid-JSON (truncated?)",
    )
    body = json.loads(response.body)
    assert body["files"] == ["nb/pipeline.py", "nb/params.yaml", "nb/requirements.txt"]


@sqlite_only
async def test_every_surface_names_a_bad_run_reference_in_the_stores_words(
    jp_fetch: Any, store: Store
) -> None:
    """Run references are resolved by ``Store.resolve_run_id`` alone: the REST API, compare
    and the notebook's ``mltrack.compare`` show its message as it is (the CLI too, see
    ``test_cli_inputs``), where each used to word its own."""
    from sqlalchemy import update

    from jupyter_mltrack.capture.refs import RunRefError, resolve_runs
    from jupyter_mltrack.compare import CompareError
    from jupyter_mltrack.compare.facts import resolve_runs as compare_runs
    from jupyter_mltrack.store import AmbiguousRunRef, RunNotFound
    from jupyter_mltrack.store.models import RunRow

    ids = [store.create_run("sweep").id for _ in range(3)]
    for i, new in ((1, "abcd" + "0" * 28), (2, "abcd" + "1" * 28)):
        with store.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == ids[i]).values(id=new))
        ids[i] = new
    for ref, kind, status in (
        ("abcd", AmbiguousRunRef, 400),
        ("b", RunNotFound, 404),
        ("zz!", RunNotFound, 404),
        ("99", RunNotFound, 404),
    ):
        with pytest.raises(kind) as raised:
            store.resolve_run_id(ref)
        message = str(raised.value)
        response = await jp_fetch(
            "mltrack", "api", "compare", params={"runs": f"{ids[0]},{ref}"}, raise_error=False
        )
        assert error_of(response, status) == message
        with pytest.raises((CompareError, LookupError)) as raised:
            compare_runs(store, [ids[0], ref])
        assert str(raised.value) == message
        with pytest.raises(RunRefError) as raised:
            resolve_runs(store, [ids[0], ref], None)
        assert str(raised.value) == message
    assert "it matches abcd00000000 (#2 in sweep), abcd11111111 (#3 in sweep)" in str(
        pytest.raises(AmbiguousRunRef, store.resolve_run_id, "abcd").value
    )
