"""Export to pipeline from the outside: the execution log a real kernel writes, ``mltrack
export`` and ``mltrack reproduce`` as console commands, and the script run in fresh Python
processes — with and without jupyter_mltrack, with a store and without one.

The slicing cases themselves (mutation, aliasing, RNG, files…) are in
``test_export_cases.py``; this file checks the commands and the promises around them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_mltrack.location import HOME_ENV, URL_ENV
from jupyter_mltrack.store import RunStatus, Store

from .kernel import REPO, Kernel, text_of

NOTEBOOK = "analysis.ipynb"

TRACKED = """%%track
df = pd.read_csv("data.csv")
score = float(df["x"].sum()) * lr * epochs
mltrack.log_metric("score", score)
score / 10"""


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, HOME_ENV)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if home is not None:
        env[HOME_ENV] = str(home)
    env.update(extra)
    return env


def mltrack(home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``mltrack`` console command, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mltrack.cli", "--store", str(home), *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def python(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


class Session:
    """A notebook folder, its store, and a kernel that ran cells in it (then stopped)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / ".store"

    def run(self, *cells: tuple[str, str], load: str = "%load_ext jupyter_mltrack") -> list[dict]:
        kernel = Kernel(self.root, self.home, notebook=NOTEBOOK)
        try:
            kernel.ok(load, cell_id="load")
            return [kernel.execute(code, cell_id=cid) for cid, code in cells]
        finally:
            kernel.stop()

    def store(self) -> Store:
        return Store(str(self.home))


def session_reading_data(root: Path, *cells: tuple[str, str]) -> Session:
    """A session whose kernel ran ``cells`` (each must succeed), with ``data.csv`` (``x``: 1,
    2, 3) beside the notebook for them to read."""
    s = Session(root)
    (root / "data.csv").write_text("x\n1\n2\n3\n")
    replies = s.run(*cells)
    assert all(r["reply"]["status"] == "ok" for r in replies), replies
    return s


@pytest.fixture
def session(tmp_path: Path) -> Session:
    """``data.csv`` read by a tracked cell that logs ``score`` (and ``value``, its last
    expression), from parameters set in an earlier cell."""
    return session_reading_data(
        tmp_path,
        ("params", "import pandas as pd\nlr = 0.5\nepochs = 3\nunused = 'nothing reads me'"),
        ("train", TRACKED),
    )


def test_cli_export_by_target_and_by_run(session: Session) -> None:
    out = session.root / "by-target"
    done = mltrack(session.home, "export", NOTEBOOK, "--target", "score", "-o", str(out),
                   cwd=session.root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "parameters: epochs, lr" in done.stdout, done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "params.yaml",
        "pipeline.py",
        "requirements.txt",
    ]
    script = (out / "pipeline.py").read_text()
    assert "nothing reads me" not in script and "get_ipython" not in script
    ran = python(str(out / "pipeline.py"), "--json", "results.json", cwd=session.root)
    assert ran.returncode == 0, ran.stderr
    assert json.loads((session.root / "results.json").read_text()) == {"score": 9.0}

    by_run = session.root / "by-run"
    done = mltrack(session.home, "export", NOTEBOOK, "--run", "1", "-o", str(by_run), "--json",
                   cwd=session.root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # the run's variables: `value` (its last expression's metric) names none
    assert report["targets"] == ["score"] and report["parameters"] == ["epochs", "lr"]
    requirements = (by_run / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("pandas==") for line in requirements), requirements
    assert any(line.startswith("xxhash==") for line in requirements), requirements


def test_an_export_made_while_the_kernel_writes_the_runs_end_waits_for_it(
    session: Session, tmp_path: Path
) -> None:
    """A tracked cell returns before its run's end (its metrics) is written when the kernel
    still scans the environment or writes snapshots. An export made then from another
    process (the server, the command line) waits for the end: it needs the metrics to know
    that the cell's last expression is the metric ``value`` the script must log."""
    import threading

    from sqlalchemy import text

    from jupyter_mltrack.pipeline.export import export
    from jupyter_mltrack.store import MetricPoint

    store = session.store()
    try:
        run = store.get_run(store.resolve_run_id("1"))
        assert run.metrics == {"score": 9.0, "value": 0.9}
        with store.engine.begin() as conn:  # the run as the store holds it in that moment
            conn.execute(text("DELETE FROM metric_chunks WHERE run_id = :r"), {"r": run.id})
            conn.execute(text("DELETE FROM latest_metrics WHERE run_id = :r"), {"r": run.id})
            conn.execute(
                text("UPDATE runs SET status = 'running', end_time = NULL WHERE id = :r"),
                {"r": run.id},
            )
        assert store.get_run(run.id).metrics == {}
        points = [
            MetricPoint("score", 9.0, 0, time.time()),
            MetricPoint("value", 0.9, 0, time.time()),
        ]
        writer = threading.Timer(
            0.5, lambda: store.finish_run(run.id, RunStatus.FINISHED, metrics=points)
        )
        writer.start()
        try:
            result = export(store, directory=tmp_path / "export", run=run.id)
        finally:
            writer.join()
    finally:
        store.close()
    assert result.targets == ["score"] and not result.warnings, result
    script = (tmp_path / "export" / "pipeline.py").read_text()
    assert 'mltrack.log_metric("value", score / 10)' in script, script


def test_cli_export_errors_say_what_is_wrong(session: Session) -> None:
    cases = [
        (["export", NOTEBOOK, "-o", "x"], 2, "give --target NAME"),
        (["export", "other.ipynb", "--target", "score", "-o", "x"], 1, "no logged session"),
        (["export", NOTEBOOK, "--target", "nope", "-o", "x"], 1, "'nope'"),
        (["export", NOTEBOOK, "--run", "99", "-o", "x"], 1, "no run '99'"),
        (["reproduce", "99"], 1, "no run '99'"),
        (["reproduce", "1", "--rtol", "-1"], 2, "must be 0 or more"),
    ]
    for argv, code, message in cases:
        done = mltrack(session.home, *argv, cwd=session.root)
        assert done.returncode == code, (argv, done.stdout, done.stderr)
        assert message in done.stderr, (argv, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (session.root / "x").exists()


def test_reproduce_prints_the_table_and_records_the_pipeline_run(session: Session) -> None:
    done = mltrack(session.home, "reproduce", "1", "-o", str(session.root / "repro"),
                   cwd=session.root)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["metric", "original", "reproduced", "equal"], done.stdout
    assert lines[1].split() == ["score", "9.0", "9.0", "yes"], done.stdout
    assert lines[2].split() == ["value", "0.9", "0.9", "yes"], done.stdout
    assert lines[-1].startswith("reproduced ("), done.stdout

    store = session.store()
    try:
        (original,), _ = store.search_runs(experiment="analysis", order="number", limit=1)
        (child,) = store.child_runs(original.id)
        assert child.source == "pipeline" and child.parent_run_id == original.id
        assert child.experiment == original.experiment == "analysis"
        assert child.status is RunStatus.FINISHED
        assert child.metrics == original.metrics == {"score": 9.0, "value": 0.9}
        assert child.params == {"lr": 0.5, "epochs": 3}
    finally:
        store.close()


def test_reproduce_runs_the_script_without_importing_it_first(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reproduce`` leaves out the export's import check (a fresh Python importing the
    script, a third of a reproduction's time): the run right after imports it in a fresh
    Python too. A script that fails to import is then a run that failed, its traceback
    said, rather than an export refused."""
    from jupyter_mltrack.pipeline import export as export_module
    from jupyter_mltrack.pipeline.reproduce import reproduce

    def no_import_check(*args: object) -> None:
        raise AssertionError("reproduce started the export's import check")

    monkeypatch.setattr(export_module, "_start_import", no_import_check)
    monkeypatch.chdir(session.root)
    store = session.store()
    try:
        good = reproduce(store, "1", directory=session.root / "good")
        assert good.returncode == 0 and good.ok, good
        assert [c.reproduced for c in good.checks] == [9.0, 0.9]

        real = export_module.generate

        def generate(plan):  # type: ignore[no-untyped-def]
            script, params = real(plan)
            head, sep, rest = script.partition("from __future__ import annotations\n")
            broken = "from sklearn.model_selection import HalvingRandomSearchCV\n"
            return head + sep + broken + rest, params

        monkeypatch.setattr(export_module, "generate", generate)
        bad = reproduce(store, "1", directory=session.root / "bad")
        assert bad.returncode != 0 and not bad.ok
        assert "ImportError" in bad.stderr and "HalvingRandomSearchCV" in bad.stderr, bad.stderr
        assert (session.root / "bad" / "pipeline.py").exists()  # there to look at
    finally:
        store.close()


def test_reproduce_fails_on_changed_data_and_from_snapshots_recovers(session: Session) -> None:
    (session.root / "data.csv").write_text("x\n1\n2\n4\n")  # the data moved under the notebook
    done = mltrack(session.home, "reproduce", "1", cwd=session.root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert ["score", "9.0", "10.5", "NO"] in [line.split() for line in done.stdout.splitlines()]
    assert "data.csv differs from the data the notebook read" in done.stdout, done.stdout
    assert "NOT reproduced: 2 metrics differ" in done.stdout

    done = mltrack(session.home, "reproduce", "1", "--from-snapshots", "--json",
                   cwd=session.root)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and [m["reproduced"] for m in report["metrics"]] == [9.0, 0.9]
    # the data file in the notebook's folder is left as the user put it
    assert (session.root / "data.csv").read_text() == "x\n1\n2\n4\n"


def test_from_snapshots_never_overwrites_a_file_outside_its_folder(tmp_path: Path) -> None:
    """An input read by absolute path lies outside the folder a reproduction from snapshots
    works in: it is used as it is while it holds the data the notebook read, and when it
    has changed the run stops saying how to restore it, rather than writing the old data
    over the user's file (which it used to do). One reached with ``..`` is restored inside
    that folder (the script works in a subfolder), never beside it."""
    data = tmp_path / "shared" / "abs.csv"
    data.parent.mkdir()
    data.write_text("x\n1\n2\n3\n")
    root = tmp_path / "nb"
    root.mkdir()
    (tmp_path / "up.csv").write_text("x\n10\n")
    s = Session(root)
    cells = (
        ("params", "import pandas as pd\nlr = 0.5"),
        (
            "train",
            f"%%track\ndf = pd.read_csv({str(data)!r})\nup = pd.read_csv('../up.csv')\n"
            "score = float(df['x'].sum() + up['x'].sum()) * lr\nscore",
        ),
    )
    replies = s.run(*cells)
    assert all(r["reply"]["status"] == "ok" for r in replies), replies

    unchanged = mltrack(s.home, "reproduce", "1", "--from-snapshots", cwd=root)
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr

    data.write_text("x\n100\n")  # the user's file moved on since
    (tmp_path / "up.csv").write_text("x\n20\n")
    done = mltrack(s.home, "reproduce", "1", "--from-snapshots", cwd=root)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "does not overwrite files outside the folder" in said, said
    assert str(data) in said and "mltrack snapshots restore" in said
    assert "up.csv" not in said.split("does not overwrite")[1]  # restored inside, not refused
    assert "Traceback" not in said
    assert data.read_text() == "x\n100\n"  # left as the user put it
    assert (tmp_path / "up.csv").read_text() == "x\n20\n"

    data.write_text("x\n1\n2\n3\n")  # the absolute input as it was: only ../up.csv differs
    again = mltrack(s.home, "reproduce", "1", "--from-snapshots", cwd=root)
    assert again.returncode == 0, again.stdout + again.stderr  # from up.csv's snapshot
    assert (tmp_path / "up.csv").read_text() == "x\n20\n"


def test_params_yaml_is_read_and_flags_override_it(session: Session) -> None:
    out = session.root / "p"
    assert mltrack(session.home, "export", NOTEBOOK, "--run", "1", "-o", str(out),
                   cwd=session.root).returncode == 0  # fmt: skip
    params = out / "params.yaml"
    assert "lr: 0.5" in params.read_text() and "epochs: 3" in params.read_text()
    params.write_text(params.read_text().replace("lr: 0.5", "lr: 1.0"))

    def score(*flags: str) -> float:
        ran = python(str(out / "pipeline.py"), "--json", "r.json", *flags, cwd=session.root)
        assert ran.returncode == 0, ran.stderr
        return json.loads((session.root / "r.json").read_text())["score"]

    assert score() == 18.0  # params.yaml: lr 1.0
    assert score("--lr", "0.25") == 4.5  # the flag wins
    assert score("--epochs", "1") == 6.0


def test_the_script_runs_without_jupyter_mltrack_and_without_a_store(session: Session) -> None:
    out = session.root / "nostore"
    assert mltrack(session.home, "export", NOTEBOOK, "--run", "1", "-o", str(out),
                   cwd=session.root).returncode == 0  # fmt: skip
    # jupyter_mltrack cannot be imported: nothing is recorded, nothing fails
    hide = textwrap.dedent(
        """
        import json, sys
        sys.modules["jupyter_mltrack"] = None  # as if it were not installed
        sys.path.insert(0, sys.argv[1])
        import pipeline
        print(json.dumps(pipeline.run()))
        """
    )
    ran = python("-c", hide, str(out), cwd=session.root)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout.splitlines()[-1]) == {"score": 9.0, "value": 0.9}
    assert "xxhash is not installed" not in ran.stderr

    # installed, but the store cannot be reached: it runs anyway, and says the run is kept
    # in the local spool until the store can take it (issue 12: nothing recorded is lost)
    broken = _env(**{URL_ENV: "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"})
    ran = python(str(out / "pipeline.py"), cwd=session.root, env=broken)
    assert ran.returncode == 0, ran.stderr
    assert "cannot be written" in ran.stderr and "mltrack sync" in ran.stderr, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "score: 9.0" in ran.stdout

    store = session.store()
    try:
        assert store.search_runs(limit=10)[1] == 1  # only the notebook's run
    finally:
        store.close()


def test_importing_the_script_runs_nothing(session: Session) -> None:
    out = session.root / "imp"
    assert mltrack(session.home, "export", NOTEBOOK, "--run", "1", "-o", str(out),
                   cwd=session.root).returncode == 0  # fmt: skip
    code = "import sys; sys.path.insert(0, sys.argv[1]); import pipeline; print(pipeline.PARAMS)"
    ran = python("-c", code, str(out), cwd=session.root)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "{'lr': 0.5, 'epochs': 3}"
    store = session.store()
    try:
        assert store.search_runs(limit=10)[1] == 1  # importing recorded no run
    finally:
        store.close()


def test_the_log_records_cells_as_they_ran(tmp_path: Path) -> None:
    s = Session(tmp_path)
    replies = s.run(
        ("a", "x = 1"),
        ("b", "%time y = x + 1"),
        ("a", "x = 10"),  # cell a edited and re-run
        ("c", "z = y * 2\nraise ValueError('boom')\nnever = 1"),
        ("d", "%%track\nw = x + y\nw"),
    )
    assert [r["reply"]["status"] for r in replies] == ["ok", "ok", "ok", "error", "ok"]
    store = s.store()
    try:
        (sess,) = store.sessions(NOTEBOOK)
        assert sess.executions == 6 and sess.notebook_path == NOTEBOOK
        log = store.executions(sess.session_id)
        assert [e.seq for e in log] == [1, 2, 3, 4, 5, 6]
        assert [e.cell_id for e in log] == ["load", "a", "b", "a", "c", "d"]
        assert [e.execution_count for e in log] == [1, 2, 3, 4, 5, 6]
        assert [e.status for e in log] == ["ok", "ok", "ok", "ok", "error", "ok"]
        assert log[1].source == "x = 1\n" and log[3].source == "x = 10\n"
        # the source as it ran, after IPython's transforms; the raw text as typed
        assert log[2].raw == "%time y = x + 1" and "run_line_magic" in log[2].source
        failed = log[4]
        assert failed.error_statement == 1
        ran = {f["i"]: f["ok"] for f in failed.facts["statements"]}
        assert ran == {0: True, 1: False}  # statement 2 never ran
        (run,), _ = store.search_runs(experiment="analysis")
        assert log[5].run_id == run.id and store.execution_of_run(run.id).seq == 6
    finally:
        store.close()


def test_a_branch_the_notebook_never_took_stops_the_script_clearly(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.run(
        ("n", "n = 5"),
        ("big", "if n > 100:\n    big = expensive_helper(n)\nelse:\n    big = n * 2"),
    )
    out = tmp_path / "out"
    assert mltrack(s.home, "export", NOTEBOOK, "--target", "big", "-o", str(out),
                   cwd=tmp_path).returncode == 0  # fmt: skip
    assert "expensive_helper" not in (out / "pipeline.py").read_text()
    ran = python(str(out / "pipeline.py"), cwd=tmp_path)
    assert ran.returncode == 0 and "big: 10" in ran.stdout, ran.stderr
    ran = python(str(out / "pipeline.py"), "--n", "200", cwd=tmp_path)
    assert ran.returncode != 0
    assert "this branch never ran in the notebook (In [3] (cell big), line 1)" in ran.stderr, (
        ran.stderr
    )


def test_a_kernel_that_dies_loses_no_logged_cell(tmp_path: Path) -> None:
    s = Session(tmp_path)
    kernel = Kernel(tmp_path, s.home, notebook=NOTEBOOK)
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok("a = [1, 2]\na.append(3)", cell_id="a")
        kernel.ok("b = sum(a)", cell_id="b")
        kernel.execute("import os\nos._exit(1)", cell_id="die", wait=False)
        deadline = time.monotonic() + 30
        while kernel.km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not kernel.km.is_alive()
    finally:
        kernel.stop()
    store = s.store()
    try:
        (sess,) = store.sessions(NOTEBOOK)
        assert [e.cell_id for e in store.executions(sess.session_id)] == ["load", "a", "b"]
    finally:
        store.close()
    out = tmp_path / "out"
    done = mltrack(s.home, "export", NOTEBOOK, "--target", "b", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ran = python(str(out / "pipeline.py"), cwd=tmp_path)
    assert ran.returncode == 0 and "b: 6" in ran.stdout, ran.stderr


def test_runs_opened_with_start_run_are_not_exported_by_run(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.run(("api", "with mltrack.start_run(name='loop') as r:\n    mltrack.log_metric('m', 1.0)"))
    done = mltrack(s.home, "export", NOTEBOOK, "--run", "1", "-o", "out", cwd=tmp_path)
    assert done.returncode == 1
    assert "opened with mltrack.start_run" in done.stderr and "--target" in done.stderr


def test_the_cell_that_loads_the_extension_is_logged_too(tmp_path: Path) -> None:
    """Notebooks start with ``%load_ext jupyter_mltrack`` next to their imports; what that
    cell defines is exported (and ``%reload_ext`` does not start a new session)."""
    s = Session(tmp_path)
    s.run(
        ("root", "r = math.sqrt(base)"),
        ("again", "%reload_ext jupyter_mltrack"),
        ("twice", "r2 = r * 2"),
        load="%load_ext jupyter_mltrack\nimport math\nbase = 16",
    )
    store = s.store()
    try:
        (sess,) = store.sessions(NOTEBOOK)
        log = store.executions(sess.session_id)
        assert [e.cell_id for e in log] == ["load", "root", "again", "twice"]
    finally:
        store.close()
    out = tmp_path / "out"
    done = mltrack(s.home, "export", NOTEBOOK, "--target", "r2", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    script = (out / "pipeline.py").read_text()
    assert "import math" in script and "load_ext" not in script, script
    ran = python(str(out / "pipeline.py"), cwd=tmp_path)
    assert ran.returncode == 0 and "r2: 8.0" in ran.stdout, ran.stdout + ran.stderr


def test_names_the_log_never_saw_bound_stop_the_export_naming_the_line(tmp_path: Path) -> None:
    """A value defined before ``%load_ext`` or taken from IPython's output history (``_``,
    ``Out[2]``) exists in the kernel but in no logged cell: the script would fail with a
    NameError, so the export refuses, quoting the line and saying what to do."""
    kernel = Kernel(tmp_path, tmp_path / ".store", notebook=NOTEBOOK)
    try:
        kernel.ok("early = 4", cell_id="before")
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok("late = early * 2", cell_id="uses-early")
        kernel.ok("21", cell_id="shown")
        kernel.ok("doubled = _ * 2", cell_id="uses-underscore")
        kernel.ok("fine = 3", cell_id="fine")
    finally:
        kernel.stop()
    home = tmp_path / ".store"

    def export(target: str) -> subprocess.CompletedProcess:
        return mltrack(home, "export", NOTEBOOK, "-t", target, "-o", "out", cwd=tmp_path)

    done = export("late")
    assert done.returncode == 1, done.stdout
    assert "(cell uses-early), line 1: 'late = early * 2' reads early" in done.stderr
    assert "defined before '%load_ext jupyter_mltrack'" in done.stderr
    done = export("doubled")
    assert done.returncode == 1, done.stdout
    assert "'doubled = _ * 2' reads IPython's output history (_)" in done.stderr
    assert not (tmp_path / "out" / "pipeline.py").exists()
    assert export("fine").returncode == 0


def test_an_undefined_name_in_the_script_refuses_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A generated script that reads a name it never binds although the session bound it (a
    slicer bug, simulated here by adding such a function to the script) is never written with ``# noqa: F821``: the export
    refuses, naming the line and the name, and leaves no pipeline.py."""
    from jupyter_mltrack.pipeline import export as export_module

    kernel = Kernel(tmp_path, tmp_path / ".store", notebook=NOTEBOOK)
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok("import pandas as pd", cell_id="pd")
        kernel.ok("x = 1", cell_id="x")
    finally:
        kernel.stop()
    real = export_module.generate

    def generate(plan):  # type: ignore[no-untyped-def]
        script, params = real(plan)
        return script + "\n\ndef frame():\n    return pd.DataFrame()\n", params

    monkeypatch.setattr(export_module, "generate", generate)
    store = Store(str(tmp_path / ".store"))
    try:
        with pytest.raises(export_module.ExportError) as caught:
            export_module.export(
                store, directory=tmp_path / "out", notebook=NOTEBOOK, targets=["x"]
            )
    finally:
        store.close()
    message = str(caught.value)
    assert "'return pd.DataFrame()'): the slice does not define `pd`" in message, message
    assert "a bug in the slicer; please report it" in message, message
    assert "line " in message, message
    assert not (tmp_path / "out" / "pipeline.py").exists()
    assert list((tmp_path / "out").glob("*.py")) == []


@pytest.mark.parametrize(
    "line",
    [
        "baseline -m acc f1 -t x -p lr",
        "-macc --snapshot df -e E name",
        "--metric=acc --snapshot a b -m c",
        "",
        "-p a -m b --no-card",
    ],
)
def test_the_export_reads_track_options_as_the_magic_does(line: str) -> None:
    """The export reads ``-m`` and ``--snapshot`` without importing IPython; it must agree
    with the magic's own parser."""
    from IPython.core.magic_arguments import parse_argstring

    from jupyter_mltrack.capture.magics import TrackMagics
    from jupyter_mltrack.pipeline.export import _track_options

    parsed = parse_argstring(TrackMagics.track, line)
    assert _track_options(line) == {
        "metric": [n for group in parsed.metric for n in group],
        "snapshot": [n for group in parsed.snapshot for n in group],
    }


def test_a_cell_that_switches_store_is_logged_where_its_run_is(tmp_path: Path) -> None:
    """A tracked cell that calls ``mltrack.set_store`` is logged in the store it started
    with (where its run is: logged in the new one, its record would break the foreign key
    and be lost); the cells after it go to the new store."""
    home, other = tmp_path / ".store", tmp_path / "other"
    kernel = Kernel(tmp_path, home, notebook=NOTEBOOK)
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        switched = kernel.ok(
            f"%%track switch\nx = 1\nmltrack.set_store({str(other)!r})", cell_id="switch"
        )
        later = kernel.ok("y = x + 1", cell_id="later")
    finally:
        kernel.stop()
    for result in (switched, later):
        assert "not being recorded" not in text_of(result, "stderr"), text_of(result, "stderr")
    for folder, cells in ((home, ["load", "switch"]), (other, ["later"])):
        store = Store(str(folder))
        try:
            (sess,) = store.sessions(NOTEBOOK)
            logged = store.executions(sess.session_id)
            assert [e.cell_id for e in logged] == cells, folder
        finally:
            store.close()
    store = Store(str(home))
    try:
        (run,) = store.search_runs(experiment="analysis")[0]
        assert run.name == "switch"
        assert store.executions(store.sessions(NOTEBOOK)[0].session_id)[1].run_id == run.id
    finally:
        store.close()


def test_a_script_that_fails_its_import_check_is_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After writing the draft, the export imports it in a fresh Python, as its user would.
    A script whose imports fail (the slicer bug the check was made for: `HalvingRandomSearchCV`
    imported without the sklearn.experimental import that enables it) or whose import changes
    directory is refused as a slicer bug, with the check's output, and no pipeline.py is left
    (an earlier one is not replaced)."""
    from jupyter_mltrack.pipeline import export as export_module

    kernel = Kernel(tmp_path, tmp_path / ".store", notebook=NOTEBOOK)
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok("x = 1", cell_id="x")
    finally:
        kernel.stop()
    real = export_module.generate
    out = tmp_path / "out"
    store = Store(str(tmp_path / ".store"))
    try:
        first = export_module.export(store, directory=out, notebook=NOTEBOOK, targets=["x"])
        assert first.check_seconds > 0, first
        written = (out / "pipeline.py").read_text()
        for extra, expected in (
            ("from sklearn.model_selection import HalvingRandomSearchCV", "ImportError"),
            ("import os\nos.chdir('..')", "importing it changed the working directory"),
        ):

            def generate(plan, extra=extra):  # type: ignore[no-untyped-def]
                script, params = real(plan)
                head, sep, rest = script.partition("from __future__ import annotations\n")
                return head + sep + extra + "\n" + rest, params

            monkeypatch.setattr(export_module, "generate", generate)
            with pytest.raises(export_module.ExportError) as caught:
                export_module.export(store, directory=out, notebook=NOTEBOOK, targets=["x"])
            message = str(caught.value)
            assert "pipeline.py failed its import check" in message, message
            assert expected in message, message
            assert "a bug in the slicer" in message and "no pipeline written" in message, message
            assert (out / "pipeline.py").read_text() == written  # the earlier one stays
            assert [p.name for p in out.glob("*.py")] == ["pipeline.py"]
    finally:
        store.close()


def test_the_script_checks_find_what_a_user_would(tmp_path: Path) -> None:
    """The checks on their own, on drafts broken on purpose: a file created at import, no
    `run()`, an undefined name (ruff's F821 and, where ruff is missing, the symbol-table
    check that stands in for it)."""
    from jupyter_mltrack.pipeline.export import ExportError, check_script
    from jupyter_mltrack.pipeline.tidy import symtable_undefined, undefined_names

    draft = tmp_path / "draft.py"
    draft.write_text("open('made-at-import.txt', 'w').close()\n\n\ndef run():\n    return {}\n")
    with pytest.raises(ExportError, match=r"importing it created .*made-at-import\.txt"):
        check_script(draft, None, str(tmp_path))
    draft.write_text("import json\n")
    with pytest.raises(ExportError, match=r"pipeline.py defines no run\(\)"):
        check_script(draft, None, str(tmp_path))
    text = "import os\n\n\ndef run():\n    return {'a': pd.DataFrame(), 'b': os.sep}\n"
    draft.write_text(text)
    assert undefined_names(draft) == ([(5, "pd")], "ruff")
    assert symtable_undefined(text) == [(5, "pd")]
    with pytest.raises(ExportError, match=r"the slice does not define `pd`"):
        check_script(draft, None, str(tmp_path))
    draft.write_text("def run():\n    return {'a': 1}\n")
    assert check_script(draft, None, str(tmp_path)) == []
    scoped = (
        "X = 1\n\n\ndef f(v):\n    global Y\n    Y = v\n    return [X + Y + q for q in range(v)]\n"
        "\n\nclass C:\n    a = missing\n\n    def m(self):\n        return C, self.a, __file__\n"
    )
    assert symtable_undefined(scoped) == [(11, "missing")]
