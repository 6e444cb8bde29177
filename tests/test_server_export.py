"""``POST /mltrack/api/export`` against a real Jupyter server and real kernels.

Notebooks are opened as JupyterLab opens them: a session through ``/api/sessions``, so the
server starts the kernel with the notebook's ``JPY_SESSION_NAME`` and the store's
environment, and the kernel logs its cells from ``%load_ext jupyter_mltrack`` on. Every
answer is checked against ``openapi.json``; the generated ``pipeline.py`` is run with a fresh
Python in the notebook's folder. The server fixtures are those of ``test_server``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
import pytest_asyncio
from tornado.httpclient import HTTPResponse

from jupyter_mltrack.store import Store

from .test_server import (  # noqa: F401 - fixtures shared with the other server tests
    ABSENT,
    _restore_exported_env,
    check,
    error_of,
    jp_asyncio_loop,
    jp_server_config,
    mltrack_config,
    server_options,
    sqlite_only,
    wait_for,
)

pytestmark = pytest.mark.asyncio

EXPORT = "/mltrack/api/export"
NOTEBOOK = "nb/analysis.ipynb"
FILES = ("pipeline.py", "params.yaml", "requirements.txt")

SETUP = "import math\nC = 0.5\ndata = [1, 2, 3, 4]"
FIRST_RUN = '%%track first\nscore = sum(data) * C\nmltrack.log_metric("score", score)'
SECOND_RUN = '%%track second\nscore2 = math.prod(data) * C\nmltrack.log_metric("score2", score2)'


def write_notebook(root: Path, path: str, *sources: str) -> Path:
    """A notebook file as the file browser would have saved it (a heading, code cells)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis")] + [
        nbformat.v4.new_code_cell(s) for s in sources
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, file)
    return file


class LabNotebook:
    """A notebook's kernel session, started through the sessions API like JupyterLab does."""

    def __init__(self, jp_fetch: Any, serverapp: Any, store: Store, path: str) -> None:
        self.jp_fetch = jp_fetch
        self.serverapp = serverapp
        self.store = store
        self.path = path
        self.loaded = False
        self.logged = 0  # cells run since %load_ext (the log is written in the background)

    async def start(self) -> LabNotebook:
        body = {
            "path": self.path,
            "name": Path(self.path).name,
            "type": "notebook",
            "kernel": {"name": "python3"},
        }
        response = await self.jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
        model = json.loads(response.body)
        self.session = model["id"]
        self.kernel_id = model["kernel"]["id"]
        kernel = self.serverapp.kernel_manager.get_kernel(self.kernel_id)
        self.client = kernel.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)
        return self

    async def run(self, *cells: str) -> None:
        """Run cells in order; each must succeed and be in the execution log afterwards."""
        for code in cells:
            errors: list[str] = []

            def on_output(msg: dict[str, Any], errors: list[str] = errors) -> None:
                if msg["msg_type"] == "error":
                    errors.append("\n".join(msg["content"]["traceback"]))

            reply = await self.client.execute_interactive(code, output_hook=on_output, timeout=90)
            assert reply["content"]["status"] == "ok", (code, errors)
            if self.loaded:
                self.logged += 1
            self.loaded = self.loaded or code.startswith("%load_ext jupyter_mltrack")
        if self.logged:
            await wait_for(lambda: self._logged_cells() >= self.logged, timeout=30)

    def _logged_cells(self) -> int:
        sessions = self.store.sessions(None, limit=50)
        return sum(s.executions for s in sessions if s.kernel_id == self.kernel_id)

    async def stop(self) -> None:
        self.client.stop_channels()
        await self.jp_fetch("api", "sessions", self.session, method="DELETE")


OpenNotebook = Callable[[str], Awaitable[LabNotebook]]


@pytest_asyncio.fixture
async def open_notebook(
    jp_fetch: Any, jp_serverapp: Any, store: Store
) -> AsyncIterator[OpenNotebook]:
    opened: list[LabNotebook] = []

    async def start(path: str) -> LabNotebook:
        nb = await LabNotebook(jp_fetch, jp_serverapp, store, path).start()
        opened.append(nb)
        return nb

    yield start
    for nb in opened:
        await nb.stop()


async def post(jp_fetch: Any, body: Any) -> HTTPResponse:
    raw = body if isinstance(body, str) else json.dumps(body)
    return await jp_fetch("mltrack", "api", "export", method="POST", body=raw, raise_error=False)


async def exported(jp_fetch: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = await post(jp_fetch, body)
    assert response.code == 200, response.body
    return check(response, EXPORT, "post")


def refusal(response: HTTPResponse, status: int) -> dict[str, Any]:
    """The error object of ``response`` (checked against the spec's Error schema)."""
    error_of(response, status)
    error = json.loads(response.body)["error"]
    return error


def run_pipeline(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python pipeline.py`` in the notebook's folder, in a fresh interpreter."""
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    for key in ("MLTRACK_STORE_URL", "MLTRACK_BLOB_URL", "JPY_SESSION_NAME"):
        env.pop(key, None)
    env["MLTRACK_HOME"] = str(folder / ".pipeline-store")
    return subprocess.run(
        [sys.executable, "pipeline.py", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# what is exported ---------------------------------------------------------------------------


async def test_default_exports_the_latest_run_beside_the_notebook_and_it_runs(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook, store: Store
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP, FIRST_RUN, SECOND_RUN)
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN, SECOND_RUN, "unrelated = 1")
    second = store.get_run(store.search_runs(notebook=NOTEBOOK)[0][0].id)
    assert second.name == "second"

    result = await exported(jp_fetch, {"notebook": NOTEBOOK})
    folder = jp_root_dir / "nb"
    assert result["selection"] == "latest_run"
    assert result["run"] == {
        "id": second.id,
        "number": second.number,
        "name": "second",
        "experiment": second.experiment,
    }
    assert result["notebook"] == NOTEBOOK and result["directory"] == "nb"
    assert result["files"] == [f"nb/{name}" for name in FILES]
    assert result["pipeline"] == "nb/pipeline.py"
    assert result["targets"] == ["score2"]
    assert result["summary"].startswith("wrote nb/pipeline.py, nb/params.yaml")
    assert str(jp_root_dir) not in result["summary"]  # paths as the file browser shows them
    assert Path(result["start_cwd"]).resolve() == folder.resolve()
    for name in FILES:
        assert (folder / name).is_file(), name
    script = (folder / "pipeline.py").read_text()
    assert "math.prod(data)" in script and "unrelated" not in script
    assert "sum(data)" not in script  # the first run's cell is not needed for score2

    done = run_pipeline(folder)
    assert done.returncode == 0, done.stderr


@sqlite_only
async def test_export_a_given_run_and_given_targets(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook, store: Store
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP, FIRST_RUN, SECOND_RUN)
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN, SECOND_RUN, "doubled = C * 2")
    first = next(r for r in store.search_runs(notebook=NOTEBOOK)[0] if r.name == "first")
    folder = jp_root_dir / "nb"

    # A run of the sidebar: its id alone, the files go beside its notebook.
    result = await exported(jp_fetch, {"run": first.id})
    assert result["selection"] == "run" and result["run"]["id"] == first.id
    assert result["run"]["number"] == first.number and result["targets"] == ["score"]
    assert result["files"][0] == "nb/pipeline.py"
    script = (folder / "pipeline.py").read_text()
    assert "sum(data)" in script and "math.prod" not in script
    done = run_pipeline(folder)
    assert done.returncode == 0, done.stderr

    # Variables of the latest session, named by the user.
    result = await exported(
        jp_fetch, {"notebook": NOTEBOOK, "targets": ["doubled", "C"], "overwrite": True}
    )
    assert result["selection"] == "targets" and result["run"] is None
    assert result["targets"] == ["doubled", "C"]
    script = (folder / "pipeline.py").read_text()
    assert "doubled = C * 2" in script and "sum(data)" not in script
    done = run_pipeline(folder)
    assert done.returncode == 0, done.stderr


@sqlite_only
async def test_existing_files_are_a_409_until_overwrite(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP, FIRST_RUN)
    folder = jp_root_dir / "nb"
    (folder / "params.yaml").write_text("mine: 1\n")
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN)

    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK}), 409)
    assert error["reason"] == "files_exist"
    assert error["existing"] == ["nb/params.yaml"]
    assert "params.yaml already exists in nb" in error["message"]
    assert "overwrite" in error["message"]
    # Nothing was written: not the other files either.
    assert (folder / "params.yaml").read_text() == "mine: 1\n"
    assert not (folder / "pipeline.py").exists()

    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK, "overwrite": False}), 409)
    assert error["existing"] == ["nb/params.yaml"]
    await exported(jp_fetch, {"notebook": NOTEBOOK, "overwrite": True})
    assert (folder / "params.yaml").read_text() != "mine: 1\n"

    # Now all three exist: the UI asks once for all of them.
    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK}), 409)
    assert error["existing"] == [f"nb/{name}" for name in FILES]
    assert error["message"].startswith("pipeline.py, params.yaml, requirements.txt already exist")
    await exported(jp_fetch, {"notebook": NOTEBOOK, "overwrite": True})


@sqlite_only
async def test_notebook_at_the_root(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    write_notebook(jp_root_dir, "top.ipynb", SETUP, FIRST_RUN)
    nb = await open_notebook("top.ipynb")
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN)
    result = await exported(jp_fetch, {"notebook": "/top.ipynb"})
    assert result["notebook"] == "top.ipynb" and result["directory"] == ""
    assert result["files"] == list(FILES) and result["pipeline"] == "pipeline.py"
    assert run_pipeline(jp_root_dir).returncode == 0
    error = refusal(await post(jp_fetch, {"notebook": "top.ipynb"}), 409)
    assert "already exist in the server root" in error["message"]


# the notebook has nothing to export yet -------------------------------------------------------


@sqlite_only
async def test_without_a_run_the_client_is_told_to_ask_for_targets(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP)
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", SETUP, "total = sum(data) * C")

    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK}), 400)
    assert error["reason"] == "targets_required"
    assert "has no tracked run" in error["message"] and "targets" in error["message"]
    assert not (jp_root_dir / "nb" / "pipeline.py").exists()

    result = await exported(jp_fetch, {"notebook": NOTEBOOK, "targets": ["total"]})
    assert result["selection"] == "targets" and result["targets"] == ["total"]
    done = run_pipeline(jp_root_dir / "nb")
    assert done.returncode == 0, done.stderr


@sqlite_only
async def test_a_notebook_never_logged_says_to_load_the_extension(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK, SETUP)
    # Its kernel ran cells, but never loaded the extension: nothing was logged.
    nb = await open_notebook(NOTEBOOK)
    await nb.run(SETUP)
    for body in ({"notebook": NOTEBOOK}, {"notebook": NOTEBOOK, "targets": ["C"]}):
        error = refusal(await post(jp_fetch, body), 422)
        assert error["reason"] == "no_session", body
        assert "%load_ext jupyter_mltrack" in error["message"]
    assert not (jp_root_dir / "nb" / "pipeline.py").exists()


@sqlite_only
async def test_an_export_that_cannot_be_made_is_a_422_with_the_reason(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK)
    nb = await open_notebook(NOTEBOOK)
    await nb.run("%load_ext jupyter_mltrack", "listing = !echo hi", "n = len(listing)", "k = 1")

    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK, "targets": ["n"]}), 422)
    assert error["reason"] == "export_failed"
    assert "listing = !echo hi" in error["message"], error["message"]
    assert "shell command" in error["message"]

    error = refusal(await post(jp_fetch, {"notebook": NOTEBOOK, "targets": ["nope"]}), 422)
    assert error["reason"] == "export_failed" and "'nope'" in error["message"]
    assert not (jp_root_dir / "nb" / "pipeline.py").exists()
    await exported(jp_fetch, {"notebook": NOTEBOOK, "targets": ["k"]})  # the rest is fine


@sqlite_only
async def test_a_kernel_logging_the_name_from_before_a_rename_is_found_by_its_id(
    jp_fetch: Any, jp_root_dir: Path, open_notebook: OpenNotebook
) -> None:
    """JupyterLab's "New notebook" starts the kernel of Untitled.ipynb, then renames it: the
    kernel logs the old name, and the client sends the kernel's id with the new one."""
    write_notebook(jp_root_dir, "nb/Untitled.ipynb")
    nb = await open_notebook("nb/Untitled.ipynb")
    await jp_fetch(
        "api",
        "contents",
        "nb",
        "Untitled.ipynb",
        method="PATCH",
        body=json.dumps({"path": "nb/renamed.ipynb"}),
    )
    await nb.run("%load_ext jupyter_mltrack", SETUP, FIRST_RUN)

    error = refusal(await post(jp_fetch, {"notebook": "nb/renamed.ipynb"}), 422)
    assert error["reason"] == "no_session"
    body = {"notebook": "nb/renamed.ipynb", "kernel": nb.kernel_id}
    result = await exported(jp_fetch, body)
    assert result["selection"] == "latest_run" and result["run"]["name"] == "first"
    assert result["notebook"] == "nb/renamed.ipynb"
    assert (jp_root_dir / "nb" / "pipeline.py").is_file()


# bad requests -------------------------------------------------------------------------------


@sqlite_only
async def test_bad_bodies_are_400_and_unknown_things_404(
    jp_fetch: Any, jp_root_dir: Path, store: Store
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK)
    (jp_root_dir / "outside.ipynb").write_text("{}")
    orphan = store.create_run("scripts")  # a run recorded outside any notebook
    bad = {
        "{notebook": "not valid JSON",
        "": "must be a JSON object",
        "[]": "must be a JSON object",
        '"nb/analysis.ipynb"': "must be a JSON object",
        "{}": "notebook is required",
        '{"notebook": null}': "notebook is required",
        '{"notebook": "  "}': "notebook is required",
        '{"notebook": 5}': "notebook must be a string",
        '{"notebook": "nb/analysis.ipynb", "colour": 1}': "unknown field 'colour'",
        '{"notebook": "nb/analysis.ipynb", "targets": "model"}': "targets must be an array",
        '{"notebook": "nb/analysis.ipynb", "targets": [1]}': "targets must be an array",
        '{"notebook": "nb/analysis.ipynb", "targets": []}': "at least one variable",
        '{"notebook": "nb/analysis.ipynb", "targets": ["1x"]}': "'1x' is not a variable name",
        '{"notebook": "nb/analysis.ipynb", "targets": ["a.b"]}': "'a.b' is not a variable name",
        '{"notebook": "nb/analysis.ipynb", "targets": ["class"]}': "not a variable name",
        '{"notebook": "nb/analysis.ipynb", "overwrite": "yes"}': "overwrite must be true or false",
        '{"notebook": "nb/analysis.ipynb", "kernel": 3}': "kernel must be a string",
        '{"notebook": "nb/analysis.ipynb", "run": "'
        + ABSENT
        + '", "targets": ["x"]}': "either run or targets",
        '{"notebook": "../outside.ipynb"}': "relative to the server root",
        '{"notebook": "nb/../../outside.ipynb"}': "relative to the server root",
        '{"notebook": "nb/a\\u0000.ipynb"}': "must not contain NUL",
    }
    for body, expected in bad.items():
        message = error_of(await post(jp_fetch, body), 400)
        assert expected in message, (body, message)

    missing = {
        '{"notebook": "nb/absent.ipynb"}': "no notebook 'nb/absent.ipynb'",
        '{"notebook": "nb"}': "no notebook 'nb'",  # a folder is not a notebook
        # Paths are the contents API's: a file system path is not one.
        '{"notebook": "' + str(jp_root_dir / NOTEBOOK) + '"}': "in the server root",
        '{"run": "' + ABSENT + '"}': f"no run '{ABSENT}'",
        '{"run": "not-a-run-id"}': "no run 'not-a-run-id'",
        '{"notebook": "nb/analysis.ipynb", "run": "' + ABSENT + '"}': "no run",
    }
    for body, expected in missing.items():
        message = error_of(await post(jp_fetch, body), 404)
        assert expected in message, (body, message)

    # a link in the root to a notebook outside it: the files would land outside the root
    elsewhere = jp_root_dir.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    write_notebook(elsewhere, "outside.ipynb")
    (jp_root_dir / "linked").symlink_to(elsewhere, target_is_directory=True)
    message = error_of(await post(jp_fetch, {"notebook": "linked/outside.ipynb"}), 403)
    assert "outside the server root" in message, message
    assert not (elsewhere / "pipeline.py").exists()

    error = refusal(await post(jp_fetch, {"run": orphan.id}), 422)
    assert error["reason"] == "no_notebook" and "give notebook" in error["message"]
    # With a notebook to write beside, the export itself says why it cannot be made.
    error = refusal(await post(jp_fetch, {"run": orphan.id, "notebook": NOTEBOOK}), 422)
    assert error["reason"] == "export_failed" and f"run #{orphan.number}" in error["message"]
    assert sorted(p.name for p in (jp_root_dir / "nb").iterdir()) == ["analysis.ipynb"]

    wrong_method = await jp_fetch("mltrack", "api", "export", raise_error=False)
    error_of(wrong_method, 405)


@sqlite_only
@pytest.mark.parametrize(
    "server_options",
    [{"allow_unauthenticated_access": False}, {"allow_unauthenticated_access": True}],
    ids=["server-requires-auth", "handler-alone"],
)
async def test_unauthenticated_export_is_refused_and_writes_nothing(
    jp_serverapp: Any, http_server_client: Any, jp_root_dir: Path
) -> None:
    write_notebook(jp_root_dir, NOTEBOOK)
    url = f"{jp_serverapp.base_url}mltrack/api/export"
    body = json.dumps({"notebook": NOTEBOOK, "targets": ["x"], "overwrite": True})
    for headers in (
        {"Cookie": "_xsrf=abc", "X-XSRFToken": "abc"},  # no credentials
        {"Authorization": "token not-the-token", "Cookie": "_xsrf=abc", "X-XSRFToken": "abc"},
    ):
        response = await http_server_client.fetch(
            url, method="POST", body=body, headers=headers, raise_error=False
        )
        assert response.code in (401, 403), response.code
        assert json.loads(response.body)["error"]["status"] == response.code
    assert sorted(p.name for p in (jp_root_dir / "nb").iterdir()) == ["analysis.ipynb"]
