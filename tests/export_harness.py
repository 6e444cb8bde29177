"""Harness for the export-to-pipeline tests: a real kernel, a real export, a fresh Python.

A :class:`Notebook` is one kernel session in its own notebook folder. A test runs cells in
it (each with a ``cell_id``; reusing an id models re-running or editing the same notebook
cell), exports targets with ``%mltrack export``, then runs the generated ``pipeline.py`` in a
fresh Python subprocess and compares what ``run()`` returns with the kernel's values.

The pipeline runs in the notebook's folder (scripts use relative paths) but as that folder
was *before* the session: the folder the kernel used is moved aside and the files the test
declared as inputs are put back. So a pipeline that reads a file the notebook wrote must
write it itself; one that leans on the session's leftovers fails. Every export must be
``ruff``-clean (no ``noqa: F821`` hiding an undefined name) and free of ``get_ipython``; importing it must print, write and chdir
nothing; and ``run()`` called a second time in the same process must return the same.
"""

from __future__ import annotations

import ast
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import yaml

from jupyter_mltrack.autolog import is_timing
from jupyter_mltrack.store import Run, Store

from .kernel import REPO, Kernel, text_of

NOTEBOOK = "analysis.ipynb"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: Imports ``pipeline`` (checking the import has no side effects), calls ``run(**params)``,
#: then, with the folder put back as it was, calls it again in the same process (``run()``
#: must not leak state from one call into the next, e.g. by mutating its defaults), and
#: pickles a report: ``python -c RUN_PIPELINE PARAMS.pkl REPORT.pkl``.
RUN_PIPELINE = textwrap.dedent(
    """
    import contextlib, io, os, pickle, shutil, sys

    params_path, report_path = sys.argv[1:3]
    with open(params_path, "rb") as f:
        params = pickle.load(f)
    root = os.getcwd()

    def files():
        return sorted(
            os.path.relpath(os.path.join(d, n), root)
            for d, _, names in os.walk(root)
            for n in names
        )

    def put_back(saved):
        os.chdir(root)
        for entry in os.listdir(root):
            path = os.path.join(root, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        for rel, data in saved.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "wb") as f:
                f.write(data)

    before = files()
    saved = {}
    for rel in before:
        with open(os.path.join(root, rel), "rb") as f:
            saved[rel] = f.read()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        import pipeline
    report = {
        "module": pipeline.__file__,
        "import_stdout": out.getvalue(),
        "import_changed_files": sorted(set(files()) ^ set(before)),
        "import_changed_cwd": os.getcwd() != root,
    }
    first = pickle.dumps(pipeline.run(**params))  # now: a second call must not change it
    report["files"] = files()
    put_back(saved)
    report["again"] = pipeline.run(**params)
    report["result"] = pickle.loads(first)
    with open(report_path, "wb") as f:
        pickle.dump(report, f)
    """
)

#: Runs ``pipeline.py ARGS`` as ``__main__`` (what ``python pipeline.py ARGS`` does) and
#: records what its ``run`` function returned, with a profile hook, since the command line's
#: output format is not part of the interface: ``python -c RUN_CLI SCRIPT REPORT.pkl ARGS``.
RUN_CLI = textwrap.dedent(
    """
    import pickle, runpy, sys

    script, report_path, *args = sys.argv[1:]
    returned = []

    def profile(frame, event, arg):
        code = frame.f_code
        if event == "return" and code.co_name == "run" and code.co_filename == script:
            returned.append(arg)

    sys.argv = [script, *args]
    status = 0
    sys.setprofile(profile)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        status = exc.code
    finally:
        sys.setprofile(None)
    with open(report_path, "wb") as f:
        pickle.dump({"status": status, "returned": returned}, f)
    """
)


def strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        body = node.body
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


@dataclass
class Export:
    """What ``%mltrack export`` wrote."""

    dir: Path
    script: str
    params_text: str
    requirements_text: str
    #: Files in the working directory after ``run()`` (set by ``Notebook.pipeline``).
    files_after_run: list[str] = field(default_factory=list)
    #: What ``%mltrack export`` printed (its summary and warnings).
    printed: str = ""

    @property
    def top_imports(self) -> list[str]:
        """The script's module-level import statements, as ``ast.unparse`` writes them."""
        return [
            ast.unparse(node)
            for node in self.tree.body
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]

    @property
    def path(self) -> Path:
        return self.dir / "pipeline.py"

    @property
    def code(self) -> str:
        """The script's code without comments and docstrings, normalised by ``ast.unparse``
        (``int("7")`` reads ``int('7')``): what text assertions look at, so a comment that
        mentions dropped code is no failure."""
        return ast.unparse(strip_docstrings(ast.parse(self.script)))

    @property
    def tree(self) -> ast.Module:
        return ast.parse(self.script)

    @property
    def params(self) -> dict[str, Any]:
        """params.yaml as a mapping of parameter name to default."""
        return yaml.safe_load(self.params_text) or {}

    @property
    def requirements(self) -> set[str]:
        """The distribution names in requirements.txt, normalised (``Foo_Bar`` → ``foo-bar``)."""
        names = set()
        for line in self.requirements_text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if m:
                names.add(re.sub(r"[-_.]+", "-", m.group(0)).lower())
        return names

    def assert_absent(self, *snippets: str) -> None:
        """None of ``snippets`` occurs in the script's code (comments and docstrings aside)."""
        code = self.code
        for snippet in snippets:
            assert snippet not in code, f"{snippet!r} must not be in the pipeline:\n{self.script}"

    def assert_present(self, *snippets: str) -> None:
        code = self.code
        for snippet in snippets:
            assert snippet in code, f"{snippet!r} missing from the pipeline:\n{self.script}"


def assert_same(name: str, got: Any, want: Any, *, got_from: str = "the pipeline") -> None:
    """``got`` (from the pipeline) equals ``want`` (from the kernel), robustly by kind:
    pandas and numpy objects with their testing helpers (NaN equals NaN, dtypes must match),
    anything else by type and ``==``."""
    where = f"target {name!r} from {got_from}"
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want, obj=where)
    elif isinstance(want, pd.Series):
        pd.testing.assert_series_equal(got, want, obj=where)
    elif isinstance(want, pd.Index):
        pd.testing.assert_index_equal(got, want, obj=where)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{where}: {type(got).__name__}, not an ndarray"
        np.testing.assert_array_equal(got, want, err_msg=where, strict=True)  # NaN == NaN
    elif isinstance(want, float) and math.isnan(want):
        assert isinstance(got, float) and math.isnan(got), f"{where}: {got!r}, expected nan"
    else:
        assert type(got) is type(want), f"{where}: {type(got).__name__} {got!r}, expected {want!r}"
        assert got == want, f"{where}: {got!r}, expected {want!r}"


def assert_metrics(got: dict[str, Any], logged: dict[str, float]) -> None:
    """``run()`` of a run's export returns every metric the run logged (those autolog
    recorded included: the pipeline's run autologs its cell too), each equal to the logged
    value, except training times (``fit_time``), which measure the machine."""
    wanted = {k: v for k, v in logged.items() if not is_timing(k)}
    missing = sorted(set(wanted) - set(got))
    assert not missing, f"run() gave {sorted(got)}, without the logged {missing}"
    assert_same("metrics", {k: got[k] for k in wanted}, wanted)


def ruff_problems(path: Path) -> str:
    """``ruff check`` with its default rules (pyflakes and syntax): '' when clean."""
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "" if proc.returncode == 0 else proc.stdout + proc.stderr


class Notebook:
    """One kernel session in a fresh notebook folder ``root/nb``, with the extension loaded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.workdir = root / "nb"
        self.workdir.mkdir()
        self.home = root / "home"
        self.inputs: dict[str, str] = {}
        self._exports = 0
        self._moved_aside = False
        self.kernel = Kernel(self.workdir, self.home, notebook=NOTEBOOK)
        self.run("load-ext", "%load_ext jupyter_mltrack")

    def close(self) -> None:
        self.kernel.stop()

    # the session ---------------------------------------------------------------------------

    def add_inputs(self, files: dict[str, str]) -> None:
        """Files the notebook folder holds before the session (data, modules)."""
        self.inputs.update(files)
        self._write_inputs()

    def run(self, cell_id: str, source: str) -> dict[str, Any]:
        """Execute a cell that must succeed."""
        return self.kernel.ok(source, cell_id=cell_id)

    def cells(self, *cells: tuple[str, str]) -> None:
        """Execute ``(cell_id, source)`` cells in this order, each of which must succeed."""
        for cell_id, source in cells:
            self.run(cell_id, source)

    def fail(self, cell_id: str, source: str, ename: str) -> dict[str, Any]:
        """Execute a cell that must raise ``ename``."""
        result = self.kernel.execute(source, cell_id=cell_id)
        assert result["reply"]["status"] == "error", (source, result)
        assert result["reply"]["ename"] == ename, result["reply"]
        return result

    def save_notebook(self, *cells: tuple[str, str]) -> None:
        """Write the notebook file as the editor now shows it (which need not be what ran)."""
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source, id=cell_id) for cell_id, source in cells]
        )
        nbformat.write(nb, self.workdir / NOTEBOOK)

    def runs(self, timeout: float = 30.0) -> list[Run]:
        """The session's runs by number, once none is running: a tracked cell returns
        before its run's end (its metrics) is written when the kernel still scans the
        environment or writes snapshots; the run is recorded as ended moments later."""
        store = Store(str(self.home))
        try:
            deadline = time.monotonic() + timeout
            while True:
                runs, _ = store.search_runs(order="number", limit=1000)
                running = [r.number for r in runs if r.status.value == "running"]
                if not running or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            store.close()
        assert not running, f"runs {running} still running after {timeout:g} s"
        return runs

    def values(self, *names: str) -> dict[str, Any]:
        """The kernel's current values of ``names`` (pickled by a cell, read here)."""
        path = self.root / "kernel-values.pkl"
        self.run(
            "test-harness-values",
            "import pickle as _harness_pickle\n"
            f"with open({str(path)!r}, 'wb') as _harness_file:\n"
            f"    _harness_pickle.dump({{_n: globals()[_n] for _n in {list(names)!r}}}, "
            "_harness_file)\n",
        )
        with open(path, "rb") as f:
            return pickle.load(f)

    # export --------------------------------------------------------------------------------

    def _export_line(self, targets: tuple[str, ...], run: str | None) -> tuple[str, Path]:
        self._exports += 1
        out = self.root / f"export-{self._exports}"
        what = [f"--run {run}"] if run is not None else [f"--target {t}" for t in targets]
        return f"%mltrack export {' '.join(what)} -o {out}", out

    def export(self, *targets: str, run: str | None = None) -> Export:
        """Export, and check what every pipeline must be: lint-clean plain Python."""
        line, out = self._export_line(targets, run)
        result = self.kernel.execute(line, cell_id="export")
        reply = result["reply"]
        traceback = ANSI.sub("", "\n".join(reply.get("traceback", [])))
        error = f"{reply.get('ename')}: {reply.get('evalue')}"
        assert reply["status"] == "ok", f"{line} failed: {error}\n{traceback}"
        export = self.read_export(out, line)
        export.printed = text_of(result)
        return export

    @staticmethod
    def read_export(out: Path, line: str = "export") -> Export:
        """Read an export folder, checking it is lint-clean plain Python."""
        for name in ("pipeline.py", "params.yaml", "requirements.txt"):
            assert (out / name).is_file(), f"{line} did not write {name}"
        export = Export(
            dir=out,
            script=(out / "pipeline.py").read_text(),
            params_text=(out / "params.yaml").read_text(),
            requirements_text=(out / "requirements.txt").read_text(),
        )
        assert "get_ipython" not in export.script, export.script
        # an undefined name is never hidden: the export refuses instead
        assert "F821" not in export.script, f"a noqa'd undefined name:\n{export.script}"
        problems = ruff_problems(export.path)
        assert not problems, f"ruff check pipeline.py:\n{problems}\n{export.script}"
        return export

    def export_error(self, *targets: str) -> tuple[str, Path]:
        """Export that must fail: its error message (no colours) and the output folder."""
        line, out = self._export_line(targets, None)
        result = self.kernel.execute(line, cell_id="export")
        reply = result["reply"]
        assert reply["status"] == "error", f"{line} should have failed: {result}"
        text = f"{reply['ename']}: {reply['evalue']}\n" + "\n".join(reply["traceback"])
        return ANSI.sub("", text), out

    # the pipeline --------------------------------------------------------------------------

    def _write_inputs(self) -> None:
        for rel, text in self.inputs.items():
            path = self.workdir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def fresh_workdir(self) -> None:
        """The notebook folder as it was before the session: only the declared inputs. The
        session's folder is moved aside (the kernel keeps it as its working directory)."""
        if not self._moved_aside:
            self.workdir.rename(self.root / "nb-session")
            self._moved_aside = True
        else:
            shutil.rmtree(self.workdir)
        self.workdir.mkdir()
        self._write_inputs()

    def _env(self, export: Export) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(export.dir), str(REPO), os.environ.get("PYTHONPATH", "")) if p
            ),
            "MLTRACK_HOME": str(self.root / "pipeline-home"),
        }
        env.pop("MLTRACK_STORE_URL", None)
        return env

    def _python(self, export: Export, code: str, *args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=self.workdir,
            env=self._env(export),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, (
            f"the pipeline failed (exit {proc.returncode}):\n{proc.stderr}\n{export.script}"
        )
        return proc

    def pipeline(self, export: Export, **params: Any) -> dict[str, Any]:
        """``run(**params)`` in a fresh Python, in a fresh notebook folder: its dict."""
        self.fresh_workdir()
        params_path = self.root / "params.pkl"
        report_path = self.root / "report.pkl"
        params_path.write_bytes(pickle.dumps(params))
        self._python(export, RUN_PIPELINE, str(params_path), str(report_path))
        with open(report_path, "rb") as f:
            report = pickle.load(f)
        assert Path(report["module"]).resolve().parent == export.dir.resolve(), report["module"]
        assert report["import_stdout"] == "", f"importing pipeline printed {report!r}"
        assert report["import_changed_files"] == [], f"importing pipeline touched {report!r}"
        assert not report["import_changed_cwd"], "importing pipeline changed directory"
        result, again = report["result"], report["again"]
        assert isinstance(result, dict), f"run() returned {result!r}"
        assert sorted(again) == sorted(result), f"run() twice: {sorted(result)}, {sorted(again)}"
        for name in result:
            if is_timing(name):  # a training time autolog measured: never the same twice
                continue
            assert_same(name, again[name], result[name], got_from="a second run() in one process")
        export.files_after_run = report["files"]
        return result

    def cli(self, export: Export, *args: str) -> dict[str, Any]:
        """``python pipeline.py ARGS`` in a fresh notebook folder must succeed; returns what
        its ``run`` returned (observed by running the script as ``__main__``)."""
        self.fresh_workdir()
        proc = subprocess.run(
            [sys.executable, str(export.path), *args],
            cwd=self.workdir,
            env=self._env(export),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"python pipeline.py {' '.join(args)}:\n{proc.stderr}"
        self.fresh_workdir()
        report_path = self.root / "cli-report.pkl"
        self._python(export, RUN_CLI, str(export.path), str(report_path), *args)
        with open(report_path, "rb") as f:
            report = pickle.load(f)
        assert report["status"] in (0, None), report
        assert report["returned"], "python pipeline.py did not call run()"
        return report["returned"][-1]  # the outermost run() returns last

    def check(self, *targets: str) -> Export:
        """Export ``targets``; the pipeline's ``run()`` must return exactly them, each equal
        to the kernel's value at the end of the session."""
        export = self.export(*targets)
        want = self.values(*targets)
        got = self.pipeline(export)
        assert sorted(got) == sorted(targets), f"run() returned {sorted(got)}, not the targets"
        for name in targets:
            assert_same(name, got[name], want[name])
        return export


def bare_names(export: Export) -> list[str]:
    """Names that the script evaluates as a bare expression statement (display leftovers)."""
    return [
        node.value.id
        for node in ast.walk(export.tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Name)
    ]
