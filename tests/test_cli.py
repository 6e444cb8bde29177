"""The ``mltrack`` command against a real SQLite store filled through :class:`Store`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.location import HOME_ENV, URL_ENV
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Store

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    """Tables show local time; pin it so expected lines can be written out literally."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def filled(sqlite_store: Store) -> dict[str, str]:
    """Three runs in two experiments; returns their ids."""
    st = sqlite_store
    env_id = st.put_environment(
        Environment(python="3.11.7", platform="Linux-x86_64", packages={"numpy": "2.0"}, digest="e")
    )
    base = st.create_run(
        "quickstart",
        name="baseline",
        notebook_path="nb/q.ipynb",
        execution_count=3,
        code="C = 1.0\nfit()",
        params={"C": 1.0, "penalty": "l2", "flag": True},
        tags={"baseline": ""},
        environment_id=env_id,
        git_commit="abc1234",
        git_dirty=True,
        start_time=T0,
    )
    st.finish_run(
        base.id,
        RunStatus.FINISHED,
        metrics=[
            MetricPoint("loss", 0.5, 0, T0 + 1),
            MetricPoint("loss", 0.25, 1, T0 + 2),
            MetricPoint("accuracy", 0.93, 1, T0 + 2),
        ],
        end_time=T0 + 75,
    )
    st.update_run(base.id, note="first try")
    second = st.create_run(
        "quickstart", name="wide", notebook_path="nb/q.ipynb", start_time=T0 + 100
    )
    st.finish_run(
        second.id,
        RunStatus.FAILED,
        error={"ename": "ValueError", "evalue": "C must be > 0", "traceback": []},
        metrics=[MetricPoint("accuracy", 0.97, 0, T0 + 101)],
        end_time=T0 + 101.5,
    )
    other = st.create_run("other", notebook_path="nb/o.ipynb", start_time=T0 + 200)
    return {"base": base.id, "second": second.id, "other": other.id}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_experiments_table_and_json(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, filled: dict[str, str]
) -> None:
    url = sqlite_store.url
    code, out, err = run_cli(capsys, "--store", url, "experiments")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["EXPERIMENT", "RUNS", "LAST", "RUN", "CREATED"]
    assert lines[1].startswith("other          1  2023-11-14 22:16:40  ")
    assert lines[2].startswith("quickstart     2  2023-11-14 22:15:00  ")
    assert len(lines) == 3

    code, out, _ = run_cli(capsys, "experiments", "--json", "--store", url)
    data = json.loads(out)
    assert code == 0
    assert [(e["name"], e["run_count"]) for e in data["experiments"]] == [
        ("other", 1),
        ("quickstart", 2),
    ]
    assert data == {"experiments": [e.to_dict() for e in sqlite_store.list_experiments()]}


def test_runs_list_table(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, filled: dict[str, str]
) -> None:
    url = sqlite_store.url
    code, out, err = run_cli(capsys, "--store", url, "runs", "list")
    assert (code, err) == (0, "")
    b, s, o = filled["base"][:8], filled["second"][:8], filled["other"][:8]
    assert out.splitlines() == [
        "#  ID        EXPERIMENT  NAME      STATUS    STARTED              DURATION  METRICS",
        f"1  {o}  other       -         running   2023-11-14 22:16:40         -",
        f"2  {s}  quickstart  wide      failed    2023-11-14 22:15:00      1.5s  accuracy=0.97",
        f"1  {b}  quickstart  baseline  finished  2023-11-14 22:13:20     1m15s  accuracy=0.93 loss=0.25",
    ]

    def names(*extra: str) -> list[str]:
        code, out, err = run_cli(capsys, "runs", "list", "--store", url, *extra)
        assert (code, err) == (0, ""), err
        return [line.split()[3] for line in out.splitlines()[1:] if not line.startswith("runs ")]

    assert names("--experiment", "quickstart") == ["wide", "baseline"]
    assert names("--notebook", "nb/o.ipynb") == ["-"]
    assert names("--status", "failed") == ["wide"]
    assert names("-e", "quickstart", "--order", "-metrics.accuracy") == ["wide", "baseline"]
    assert names("--order", "number", "-e", "quickstart") == ["baseline", "wide"]
    assert names("--experiment", "nope") == []

    code, out, _ = run_cli(capsys, "--store", url, "runs", "list", "--limit", "1", "--offset", "1")
    assert out.splitlines()[-1] == "runs 2-2 of 3 (see --limit, --offset)"
    assert len(out.splitlines()) == 3
    code, out, _ = run_cli(capsys, "--store", url, "runs", "list", "-e", "nope")
    assert (code, out) == (0, "no runs\n")


def test_runs_list_json(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, filled: dict[str, str]
) -> None:
    url = sqlite_store.url
    code, out, _ = run_cli(capsys, "--store", url, "runs", "list", "--json", "-s", "finished")
    data = json.loads(out)
    assert code == 0
    assert (data["total"], data["limit"], data["offset"]) == (1, 50, 0)
    assert data["runs"] == [sqlite_store.get_run(filled["base"]).to_dict()]
    assert data["runs"][0]["metrics"] == {"accuracy": 0.93, "loss": 0.25}


def test_runs_show_by_id_prefix_and_number(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, filled: dict[str, str]
) -> None:
    url = sqlite_store.url
    base = filled["base"]
    code, out, err = run_cli(capsys, "--store", url, "runs", "show", base)
    assert (code, err) == (0, "")
    assert out == (
        f"Run 1 of quickstart  ({base})\n"
        "\n"
        "Overview\n"
        "  name      baseline\n"
        "  status    finished\n"
        "  started   2023-11-14 22:13:20\n"
        "  ended     2023-11-14 22:14:35\n"
        "  duration  1m15s\n"
        "  notebook  nb/q.ipynb [3]\n"
        "  source    notebook\n"
        "  tags      baseline\n"
        "  note      first try\n"
        "\n"
        "Params\n"
        "  C        1.0\n"
        "  flag     true\n"
        "  penalty  l2\n"
        "\n"
        "Metrics (latest)\n"
        "  accuracy  0.93\n"
        "  loss      0.25  (2 points)\n"
        "\n"
        "Environment\n"
        "  python    3.11.7\n"
        "  platform  Linux-x86_64\n"
        "  packages  1\n"
        "  git       abc1234 (dirty)\n"
        "\n"
        "Code\n"
        "  C = 1.0\n"
        "  fit()\n"
    )
    by_prefix = run_cli(capsys, "--store", url, "runs", "show", base[:6])
    assert by_prefix == (0, out, "")
    by_number = run_cli(capsys, "--store", url, "runs", "show", "1", "--experiment", "quickstart")
    assert by_number == (0, out, "")

    code, out, _ = run_cli(capsys, "--store", url, "runs", "show", "2", "-e", "quickstart")
    assert "Error\n  ValueError: C must be > 0\n" in out and "  status    failed\n" in out

    code, out, _ = run_cli(capsys, "--store", url, "runs", "show", base, "--json")
    assert json.loads(out) == sqlite_store.get_run_detail(base).to_dict()


def test_errors_are_one_line_with_exit_codes(
    capsys: pytest.CaptureFixture[str],
    sqlite_store: Store,
    filled: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = sqlite_store.url
    cases = [
        (1, ("--store", url, "runs", "show", "ffffffffffff"), "no run 'ffffffffffff'"),
        (
            1,
            ("--store", url, "runs", "show", "7", "-e", "quickstart"),
            "in experiment 'quickstart'",
        ),
        (2, ("--store", url, "runs", "list", "--order", "colour"), "cannot order by 'colour'"),
        (2, ("--store", url, "runs", "list", "--limit", "0"), "must be between 1 and 1000"),
        (2, ("--store", url, "runs", "list", "--status", "done"), "invalid choice: 'done'"),
        (2, ("--store", url, "runs"), "required: ACTION"),
        (2, ("frobnicate",), "invalid choice: 'frobnicate'"),
        (1, ("--store", str(tmp_path / "nowhere"), "experiments"), "no mltrack store at"),
    ]
    for expected_code, argv, message in cases:
        code, out, err = run_cli(capsys, *argv)
        assert code == expected_code, (argv, err)
        assert out == "", argv
        assert err.startswith("mltrack: error: ") and err.count("\n") == 1, err
        assert message in err, (argv, err)

    # No --store, no env, no .mltrack/ above the working directory: say so, create nothing.
    monkeypatch.delenv(HOME_ENV)
    monkeypatch.delenv(URL_ENV, raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, _, err = run_cli(capsys, "experiments")
    assert code == 1 and "no mltrack store found" in err
    assert not (empty / ".mltrack").exists()


def test_store_is_found_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    sqlite_store: Store,
    filled: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(URL_ENV, sqlite_store.url)
    code, out, _ = run_cli(capsys, "experiments")
    assert code == 0 and "quickstart" in out


def test_module_entry_point_in_a_subprocess(sqlite_store: Store, filled: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "jupyter_mltrack.cli", "--store", sqlite_store.url]
    done = subprocess.run(
        [*argv, "runs", "list", "--json"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 3
    missing = subprocess.run(
        [*argv, "runs", "show", "deadbeef"], capture_output=True, text=True, env=env, timeout=60
    )
    assert missing.returncode == 1
    assert missing.stderr == "mltrack: error: no run 'deadbeef'\n"
