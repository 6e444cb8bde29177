"""``mltrack sweep`` and ``%mltrack sweep`` (issue 15): the sweeps notebook run by a real
kernel that stays up for the magic; the console command in a process of its own sweeps the
notebook's run (exported first), then shows and resumes it, and refuses what it cannot do
in one line with its exit code (2: a usage error, 1: nothing of that name).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.store import RunStatus
from jupyter_mltrack.sweeps.records import SWEEP_TAG

from .kernel import Kernel, open_store
from .test_pipeline import NOTEBOOK, mltrack
from .test_sweeps import DATA, IMPORTS, PARAMS, TRAIN

pytest.importorskip("optuna")


@dataclass
class Notebook:
    """The notebook's folder, its store and its kernel (up for the whole module)."""

    root: Path
    home: Path
    kernel: Kernel


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notebook]:
    root = tmp_path_factory.mktemp("sweep-cli")
    home = root / ".store"
    kernel = Kernel(root, home, notebook=NOTEBOOK)
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        for cell_id, code in (("imports", IMPORTS), ("data", DATA), ("params", PARAMS)):
            kernel.ok(code, cell_id=cell_id)
        kernel.ok(TRAIN, cell_id="train")  # run #1 of experiment analysis
        yield Notebook(root, home, kernel)
    finally:
        kernel.stop()


@pytest.fixture(scope="module")
def cli_sweep(nb: Notebook) -> subprocess.CompletedProcess[str]:
    """``mltrack sweep 1 -e analysis …``: the console command, in its own process, sweeps
    the notebook's run (a grid of 2 points)."""
    return mltrack(
        nb.home,
        "sweep",
        "1",
        "-e",
        "analysis",
        "--param",
        "C=[0.1, 1.0]",
        "--metric",
        "acc",
        "--sampler",
        "grid",
        "--jobs",
        "1",
        "--name",
        "cli",
        cwd=nb.root,
    )


def cli(capsys: pytest.CaptureFixture[str], nb: Notebook, *argv: str) -> tuple[int, str, str]:
    """``mltrack --store HOME sweep ARGV…`` in this process (what the tests below need of it
    is cheap: no trial runs)."""
    code = main(["--store", str(nb.home), "sweep", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def result_text(reply: dict) -> str:
    (shown,) = [o for o in reply["outputs"] if o["output_type"] == "execute_result"]
    return shown["data"]["text/plain"]


def test_mltrack_sweep_exports_the_run_and_sweeps_it(
    nb: Notebook, cli_sweep: subprocess.CompletedProcess[str]
) -> None:
    assert cli_sweep.returncode == 0, cli_sweep.stderr
    lines = cli_sweep.stdout.splitlines()
    assert lines[0] == "sweep cli (finished): 2 trials (2 finished); max acc"
    assert lines[1].startswith("  best #") and len(lines) == 3
    assert "2/2 done" in cli_sweep.stderr  # a line per trial as it ends
    assert (nb.root / "sweeps" / "cli" / "pipeline.py").is_file()  # exported first
    with open_store(nb.home) as store:
        (sweep_run,) = [
            r for r in store.runs_tagged(SWEEP_TAG, "cli", source="sweep") if not r.parent_run_id
        ]
        assert sweep_run.experiment == "analysis" and sweep_run.status is RunStatus.FINISHED
        trials = store.child_runs(sweep_run.id, source="sweep")
        assert sorted(r.params["C"] for r in trials) == [0.1, 1.0]
        assert all(r.status is RunStatus.FINISHED and "acc" in r.metrics for r in trials)


def test_sweep_show_prints_the_summary_as_text_json_and_html(
    nb: Notebook,
    cli_sweep: subprocess.CompletedProcess[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    code, out, _ = cli(capsys, nb, "show", "cli")
    assert code == 0 and out == cli_sweep.stdout

    code, out, _ = cli(capsys, nb, "show", "cli", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["name"] == "cli" and shown["status"] == "finished"
    assert shown["counts"] == {"finished": 2} and shown["metric"] == "acc"
    assert sorted(t["params"]["C"] for t in shown["trials"]) == [0.1, 1.0]
    best = max(shown["trials"], key=lambda t: (t["value"], -t["number"]))
    assert shown["best"] == best
    with open_store(nb.home) as store:
        for trial in shown["trials"]:
            assert store.get_run(trial["run_id"]).metrics["acc"] == trial["value"]

    page = tmp_path / "sweep.html"
    code, out, _ = cli(capsys, nb, "show", "cli", "--html", str(page))
    assert code == 0 and out == cli_sweep.stdout
    html = page.read_text()
    assert "<title>mltrack: sweep cli</title>" in html
    assert "sweep cli (finished): 2 trials" in html.split("<pre>", 1)[1].split("</pre>")[0]
    for heading in ("Optimisation history", "Parameter importance"):
        drawn = f'<div class="chart"><h3>{heading}</h3>' in html
        said = f'<p class="note">{heading}: not drawn (' in html
        assert drawn != said, heading  # each chart drawn, or its absence said: one of the two


def test_sweep_resume_of_a_finished_sweep_has_nothing_to_do(
    nb: Notebook, cli_sweep: subprocess.CompletedProcess[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(nb.home) as store:
        sweep_id = store.runs_tagged(SWEEP_TAG, "cli", source="sweep")[0].id
        before = sorted((r.id, r.status, r.end_time) for r in store.child_runs(sweep_id))
    code, out, err = cli(capsys, nb, "resume", "cli")
    assert code == 0, err
    assert out == cli_sweep.stdout and "trial #" not in err  # no trial ran
    with open_store(nb.home) as store:
        assert sorted((r.id, r.status, r.end_time) for r in store.child_runs(sweep_id)) == before
        assert store.get_run(sweep_id).status is RunStatus.FINISHED


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["PIPELINE", "--metric", "acc"], 2, "give the parameters to search: --param"),
        (["PIPELINE", "--param", "C=[0.1, 1.0]"], 2, "give the metric to optimise: --metric"),
        (["PIPELINE", "--param", "C", "--metric", "acc"], 2, "--param needs NAME=SPEC"),
        (["PIPELINE", "--param", "C=loguniform(0, 1)", "--metric", "acc"], 2, "C: "),
        (["PIPELINE", "--param", "C=gaussian(0, 1)", "--metric", "acc"], 2, "C: "),
        (["PIPELINE", "extra", "--param", "C=[1]", "--metric", "acc"], 2, "unexpected argument"),
        (
            ["PIPELINE", "--param", "lr=uniform(0, 1)", "--metric", "acc"],
            1,
            "no parameter lr; its parameters: C, steps, boom",
        ),
        (["show"], 2, "mltrack sweep show NAME: which sweep?"),
        (["resume"], 2, "mltrack sweep resume NAME: which sweep?"),
        (["show", "nope"], 1, "no sweep named 'nope'"),
        (["resume", "nope"], 1, "no sweep named 'nope'"),
        (["resume", "nope", "--wait-running", "-1"], 2, "--wait-running: 0 seconds or more"),
    ],
)
def test_what_mltrack_sweep_refuses_is_one_line_and_its_exit_code(
    nb: Notebook,
    cli_sweep: subprocess.CompletedProcess[str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    """Refused before any trial, or any sweep run, is made."""
    pipeline = str(nb.root / "sweeps" / "cli")
    with open_store(nb.home) as store:
        runs_before = store.search_runs(limit=1000)[1]
    got, out, err = cli(capsys, nb, *[pipeline if a == "PIPELINE" else a for a in argv])
    assert (got, out) == (code, ""), err
    assert err.startswith("mltrack: error: ") and err.count("\n") == 1, err
    assert message in err
    with open_store(nb.home) as store:
        assert store.search_runs(limit=1000)[1] == runs_before


def test_the_magic_sweeps_a_run_and_shows_the_sweep(nb: Notebook) -> None:
    """``%mltrack sweep 1 …`` in the notebook's kernel: the run's pipeline exported and swept
    (trial 0 the notebook's own values); its result shows as the summary, as does ``%mltrack
    sweep show``. A usage error is one line."""
    swept = nb.kernel.ok(
        "%mltrack sweep 1 --param C=loguniform(0.01,10) --metric acc --trials 3 --jobs 1"
        " --name magic --seed 0",
        timeout=180,
    )
    summary = result_text(swept)
    assert summary.splitlines()[0] == "sweep magic (finished): 3 trials (3 finished); max acc"
    assert (nb.root / "sweeps" / "magic" / "pipeline.py").is_file()
    with open_store(nb.home) as store:
        (sweep_run,) = [
            r for r in store.runs_tagged(SWEEP_TAG, "magic", source="sweep") if not r.parent_run_id
        ]
        assert sweep_run.params["space.C"] == "loguniform(0.01, 10.0)"
        trials = {int(r.tags["mltrack.trial"]): r for r in store.child_runs(sweep_run.id)}
        assert sorted(trials) == [0, 1, 2] and trials[0].params["C"] == 0.05  # the notebook's
    shown = nb.kernel.ok("%mltrack sweep show magic")
    assert result_text(shown) == summary

    refused = nb.kernel.execute("%mltrack sweep 1 --metric acc")
    assert refused["reply"]["status"] == "error" and refused["reply"]["ename"] == "UsageError"
    assert "give the parameters to search" in refused["reply"]["evalue"]
    assert "\n" not in refused["reply"]["evalue"]
