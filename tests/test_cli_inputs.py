"""Malformed input to the ``mltrack`` command, and where it may write.

Every command that takes a notebook, a run, a snapshot, a path or an option value is given
bad input, as a console command in its own process against a real store whose session a
real kernel logged: it must exit non-zero with one ``mltrack: error: …`` line naming the
problem, and no traceback. Then the writing commands are given an output folder holding
links planted to files outside it: nothing may be written through them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import update

from jupyter_mltrack.cli import _publish
from jupyter_mltrack.location import HOME_ENV, URL_ENV
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.models import RunRow

from .kernel import REPO, Kernel

NOTEBOOK = "analysis.ipynb"
TRACKED = """%%track
df = pd.read_csv("data.csv")
score = float(df["x"].sum()) * lr
mltrack.log_metric("score", score)"""
#: Two runs' ids are made to share this prefix.
PREFIX = "abcd"


class Logged:
    """A notebook folder whose kernel logged a session (one tracked run reading data.csv,
    snapshotted), plus runs of other experiments, two of them with ids sharing a prefix."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / ".store"
        self.ids: dict[str, str] = {}
        self.snapshot = ""

    def mltrack(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``mltrack --store HOME ARGS`` in a process of its own."""
        env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, HOME_ENV)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        return subprocess.run(
            [sys.executable, "-m", "jupyter_mltrack.cli", "--store", str(self.home), *args],
            cwd=cwd or self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def mltrack_each(self, argvs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
        """:meth:`mltrack` for each of ``argvs``, a few processes at a time: a command's
        process spends most of its second importing, and the cases are independent."""
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda argv: self.mltrack(*argv), argvs))


def write_notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis")] + [
        nbformat.v4.new_code_cell(s) for s in sources
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


#: Files named ``analysis.ipynb`` in folders of these names: each is not a notebook (or has
#: nothing to export). A session of ``analysis.ipynb`` is logged, and an export finds it by
#: the file's name: before the file was checked, each of these exported silently.
BAD_NOTEBOOKS: dict[str, tuple[bytes | None, str]] = {
    "truncated": (b'{"cells": [{"cell_type": "code", "sou', "ends mid-JSON (truncated?)"),
    "cut-after-a-comma": (b'{"nbformat": 4, "cells": [', "ends mid-JSON (truncated?)"),
    "not-json": (b"print('hello')\n", "invalid JSON"),
    "json-list": (b"[1, 2]", "its JSON is not an object"),
    "json-not-a-notebook": (b'{"name": "x"}', "its JSON has no 'cells' list"),
    "nbformat3-without-worksheets": (
        b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}}',
        "has no 'cells' list (nbformat 3)",
    ),
    "cells-not-a-list": (b'{"nbformat": 4, "cells": {"a": 1}}', "has no 'cells' list"),
    "no-code-cells": (
        b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '
        b'[{"cell_type": "markdown", "metadata": {}, "source": "# only text"}]}',
        "has no code cells",
    ),
    "empty": (b"", "is empty: not a notebook"),
    "blank": (b"  \n\n", "is empty: not a notebook"),
    "binary": (b"\xff\xfe\x00\x01garbage", "not UTF-8"),
    "folder": (None, "is a folder, not a notebook"),
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    root = tmp_path_factory.mktemp("inputs")
    state = Logged(root)
    (root / "data.csv").write_text("x\n1\n2\n3\n")
    write_notebook(root / NOTEBOOK, "import pandas as pd\nlr = 0.5", TRACKED)
    kernel = Kernel(root, state.home, notebook=NOTEBOOK)
    try:
        kernel.execute("%load_ext jupyter_mltrack", cell_id="load")
        for cid, code in (("params", "import pandas as pd\nlr = 0.5"), ("train", TRACKED)):
            reply = kernel.execute(code, cell_id=cid)
            assert reply["reply"]["status"] == "ok", reply
    finally:
        kernel.stop()
    store = Store(str(state.home))
    try:
        (run,), _ = store.search_runs(experiment="analysis")
        state.ids["tracked"] = run.id
        snaps, _ = store.list_snapshots(run_id=run.id)
        state.snapshot = snaps[0].digest
        for experiment, key in (("e1", "e1#1"), ("e1", "e1#2"), ("e1", "e1#3"), ("e2", "e2#1")):
            state.ids[key] = store.create_run(experiment).id
        # two ids sharing a prefix, as uuid4 gives one in ~65,000 pairs
        for key, new in (("e1#2", PREFIX + "0" * 28), ("e1#3", PREFIX + "1" * 28)):
            with store.engine.begin() as conn:
                conn.execute(update(RunRow).where(RunRow.id == state.ids[key]).values(id=new))
            state.ids[key] = new
    finally:
        store.close()
    for name, (content, _) in BAD_NOTEBOOKS.items():
        path = root / name / NOTEBOOK
        path.parent.mkdir()
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
    (root / "a-file").write_text("not a folder\n")
    return state


def refused(done: subprocess.CompletedProcess[str], code: int, message: str) -> str:
    """The one error line of a refused command, checked."""
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stdout == "", done.stdout
    assert done.stderr.startswith("mltrack: error: "), done.stderr
    # one line; a query's syntax error adds the query and a caret under the column
    lines = 3 if " at column " in done.stderr.splitlines()[0] else 1
    assert done.stderr.count("\n") == lines, done.stderr
    assert message in done.stderr, done.stderr
    return done.stderr


@pytest.mark.parametrize("case", sorted(BAD_NOTEBOOKS))
def test_a_file_that_is_not_a_notebook_is_named_as_such(logged: Logged, case: str) -> None:
    _, message = BAD_NOTEBOOKS[case]
    notebook = f"{case}/{NOTEBOOK}"
    out = logged.root / f"out-{case}"
    hows = (["--target", "score"], ["--run", logged.ids["tracked"]])
    for done in logged.mltrack_each([["export", notebook, *how, "-o", str(out)] for how in hows]):
        line = refused(done, 1, message)
        assert notebook in line, line  # the message names the file
        assert not out.exists()  # refused before anything was written


def test_a_notebook_file_in_nbformat_3_is_read(logged: Logged, tmp_path: Path) -> None:
    """nbformat 3 keeps cells in worksheets: a notebook all the same (its headings name the
    script's sections)."""
    folder = logged.root / "nbformat3"
    folder.mkdir(exist_ok=True)
    cells = [
        {"cell_type": "heading", "level": 1, "source": "Old", "metadata": {}},
        {"cell_type": "code", "input": "lr = 0.5", "language": "python", "outputs": []},
    ]
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": cells}]}
    (folder / NOTEBOOK).write_text(json.dumps(v3))
    done = logged.mltrack("export", f"nbformat3/{NOTEBOOK}", "--target", "lr", "-o", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pipeline.py").is_file()


def cases(ids: dict[str, str]) -> list[tuple[list[str], int, list[str]]]:
    """``(argv, exit code, what the error line must say)`` for every command."""
    a, b = ids["e1#2"][:12], ids["e1#3"][:12]
    ambiguous = ["run id prefix 'abcd' is ambiguous: it matches", a, b, "give more of the id"]
    short = ["no run 'b': an id prefix needs at least 4 hex digits"]
    return [
        # run references, in each command that takes one
        (["runs", "show", PREFIX], 2, ambiguous),
        (["runs", "show", "b"], 1, short),
        (["runs", "show", "abc"], 1, ["no run 'abc': an id prefix needs at least 4 hex digits"]),
        (["runs", "show", "99"], 1, ["no run '99'"]),
        (["runs", "show", "#99"], 1, ["no run '99'"]),
        (["runs", "show", "9", "-e", "e1"], 1, ["no run '9' in experiment 'e1'"]),
        (["runs", "show", "1", "-e", "nope"], 1, ["no experiment 'nope'; experiments: analysis, e1, e2"]),
        (["runs", "show", "1"], 2, ["run number 1 is ambiguous: experiments analysis, e1, e2"]),
        (["runs", "show", "zz!"], 1, ["no run 'zz!': a run is named by its number, its id or"]),
        (["runs", "show", ""], 1, ["no run '': give a run number"]),
        (["runs", "show", "f" * 32], 1, [f"no run '{'f' * 32}'"]),
        (["runs", "compare", "2", PREFIX], 2, ambiguous),
        (["runs", "compare", "2", "b"], 1, short),
        (["runs", "explain", "2", "99", "--metric", "score"], 1, ["no run '99'"]),
        (["snapshots", "list", "--run", PREFIX], 2, ambiguous),
        (["snapshots", "list", "--run", "b"], 1, short),
        (["export", NOTEBOOK, "--run", PREFIX, "-o", "out"], 2, ambiguous),
        (["export", NOTEBOOK, "--run", "b", "-o", "out"], 1, short),
        (["reproduce", PREFIX], 2, ambiguous),
        (["reproduce", "b"], 1, short),
        (["reproduce", "99"], 1, ["no run '99'"]),
        # snapshot references
        (["snapshots", "show", "deadbeef"], 1, ["no snapshot 'deadbeef'"]),
        (["snapshots", "show", "ab"], 1, ["no snapshot 'ab'", "at least 4 hex digits"]),
        (["snapshots", "diff", "deadbeef", "ab"], 1, ["no snapshot 'deadbeef'"]),
        (["snapshots", "restore", "deadbeef"], 1, ["no snapshot 'deadbeef'"]),
        # dataset names, references, files and meta
        (["datasets", "show", "team/nope"], 1, ["no dataset 'team/nope' (datasets: none yet)"]),
        (["datasets", "versions", "team//x"], 1, ["dataset name 'team//x': use parts of"]),
        (["datasets", "get", "team/x@"], 2, ["dataset reference 'team/x@': name a version after '@'"]),
        (["datasets", "push", "missing.csv", "team/x"], 1, ["no such file or folder: missing.csv"]),
        (["datasets", "push", ".", "team/x", "--table"], 1, [". is a folder: --table reads one"]),
        (["datasets", "push", "data.csv", "team/x", "--meta", "{"], 2, ["--meta is not JSON"]),
        (["datasets", "tag", "team/x", "latest"], 1, ["tag 'latest' is reserved"]),
        # notebooks and paths
        (["export", "missing.ipynb", "--target", "score", "-o", "out"], 1, ["no logged session of 'missing.ipynb' (nor a file of that name here)"]),
        (["export", NOTEBOOK, "--target", "score", "-o", "a-file"], 1, ["cannot write the pipeline into a-file: a file, not a folder"]),
        (["reproduce", "1", "-e", "analysis", "-o", "a-file"], 1, ["a file, not a folder"]),
        (["export", NOTEBOOK, "-o", "out"], 2, ["nothing to export"]),
        (["runs", "compare", "2", "e2#1", "--html", "."], 2, ["--html names a folder"]),
        (["snapshots", "restore", "ab", "-o", "nowhere/x.pkl"], 1, ["no snapshot 'ab'"]),
        # option values
        (["runs", "list", "--limit", "0"], 2, ["--limit/-l: must be between 1 and 1000, got 0"]),
        (["runs", "list", "--limit", "ten"], 2, ["must be an integer, got 'ten'"]),
        (["runs", "list", "--offset", "-1"], 2, ["--offset: must be 0 or more"]),
        (["runs", "list", "--status", "done"], 2, ["invalid choice: 'done'"]),
        (["runs", "list", "--order", "colour"], 2, ["unknown field 'colour'"]),
        (["runs", "show"], 2, ["the following arguments are required: RUN"]),
        (["runs", "compare", "2", "3", "--step", "-1"], 2, ["--step: must be 0 or more"]),
        (["runs", "compare", "2", "3", "--reducer", "loss"], 2, ["--reducer must be METRIC:REDUCER"]),
        (["reproduce", "2", "--rtol", "-1"], 2, ["--rtol: must be 0 or more"]),
        (["reproduce", "2", "--atol", "x"], 2, ["--atol: not a number: 'x'"]),
        (["snapshots", "diff", "a", "b", "--sample", "-1"], 2, ["--sample/-s: must be 0 or more"]),
        (["snapshots", "restore", "abcd", "--format", "xls"], 2, ["invalid choice: 'xls'"]),
        (["frobnicate"], 2, ["invalid choice: 'frobnicate'"]),
    ]  # fmt: skip


def test_bad_input_to_every_command_is_one_line_and_exits_non_zero(logged: Logged) -> None:
    failures = []
    every = cases(logged.ids)
    argvs = [[logged.ids["e2#1"] if a == "e2#1" else a for a in argv] for argv, _, _ in every]
    for argv, (_, code, messages), done in zip(
        argvs, every, logged.mltrack_each(argvs), strict=True
    ):
        try:
            line = refused(done, code, messages[0])
            for message in messages[1:]:
                assert message in line, line
        except AssertionError as exc:
            failures.append(f"{argv}: {exc}")
    assert not (logged.root / "out").exists()
    assert not failures, "\n".join(failures)


def test_no_store_is_an_error_too(tmp_path: Path) -> None:
    state = Logged(tmp_path)
    state.home = tmp_path / "absent"
    refused(state.mltrack("runs", "list"), 1, "no mltrack store at")


# where the writing commands write -------------------------------------------------------------


def plant(folder: Path, name: str, target: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    link.symlink_to(target)
    return link


def test_export_never_writes_through_a_link_out_of_the_output_folder(logged: Logged) -> None:
    outside = logged.root / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("mine\n")
    for name, target in (("params.yaml", secret), ("requirements.txt", outside / "new.txt")):
        out = logged.root / f"planted-{name}"
        plant(out, name, target)
        for argv in (
            ["export", NOTEBOOK, "--target", "score", "-o", str(out)],
            ["export", NOTEBOOK, "--run", logged.ids["tracked"], "-o", str(out)],
            ["reproduce", logged.ids["tracked"], "-o", str(out)],
        ):
            line = refused(logged.mltrack(*argv), 1, f"{out / name} is a link to {target}")
            assert "outside" in line and "refusing to write through it" in line, line
            assert not (out / "pipeline.py").exists(), argv  # refused before writing anything
    assert secret.read_text() == "mine\n"
    assert not (outside / "new.txt").exists()
    # a link inside the folder is no escape: the export replaces it, writing nothing beside
    out = logged.root / "linked-inside"
    plant(out, "params.yaml", out / "elsewhere.yaml")
    done = logged.mltrack("export", NOTEBOOK, "--target", "score", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert not (out / "params.yaml").is_symlink() and not (out / "elsewhere.yaml").exists()


def test_restore_and_html_report_refuse_a_link_out_of_their_folder(logged: Logged) -> None:
    outside = logged.root / "outside-restore"
    outside.mkdir()
    kept = outside / "kept.csv"
    kept.write_text("theirs\n")
    out = logged.root / "restored"
    plant(out, "data.csv", kept)
    for force in ([], ["--force"]):
        argv = ["snapshots", "restore", logged.snapshot, "-o", f"{out}/", *force]
        refused(logged.mltrack(*argv), 1, f"{out / 'data.csv'} is a link to {kept}, outside")
    plant(out, "report.html", outside / "report.html")
    argv = ["runs", "compare", logged.ids["e1#1"], logged.ids["e2#1"], "--html"]
    refused(logged.mltrack(*argv, str(out / "report.html")), 1, "is a link to")
    assert kept.read_text() == "theirs\n" and not (outside / "report.html").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["kept.csv"]


def test_temporary_files_are_never_opened_through_a_planted_link(
    logged: Logged, tmp_path: Path
) -> None:
    """Writes go through a temporary file renamed into place; it used to be named after the
    process id, so a link planted under that name was written through."""
    from jupyter_mltrack.pipeline.export import export

    outside = tmp_path / "outside"
    outside.mkdir()
    folder = tmp_path / "out"
    links = [
        plant(folder, f".out.pkl.{os.getpid()}.mltrack-tmp", outside / "restore.bin"),
        plant(folder, f".pipeline-{os.getpid()}.py", outside / "draft.py"),
    ]
    _publish(folder / "out.pkl", lambda tmp: tmp.write_bytes(b"restored"), force=False)
    assert (folder / "out.pkl").read_bytes() == b"restored"
    store = Store(str(logged.home))
    try:
        result = export(store, directory=folder, targets=["score"], notebook=NOTEBOOK)
    finally:
        store.close()
    assert result.files[0] == folder / "pipeline.py" and not result.files[0].is_symlink()
    assert list(outside.iterdir()) == []
    assert all(link.is_symlink() for link in links)  # left alone, never followed


def test_export_errors_leave_what_was_there(logged: Logged) -> None:
    """A refused export leaves an earlier export as it was."""
    out = logged.root / "kept-export"
    done = logged.mltrack("export", NOTEBOOK, "--target", "score", "-o", str(out))
    assert done.returncode == 0, done.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    plant(out, "rng_state.json", logged.root / "outside-rng.json")
    refused(
        logged.mltrack("export", NOTEBOOK, "--target", "score", "-o", str(out)), 1, "is a link to"
    )
    after = {p.name: p.read_bytes() for p in out.iterdir() if not p.is_symlink()}
    assert after == before
