"""``mltrack push`` and ``mltrack pull`` against a team store (PostgreSQL + moto's S3): the
summary on stdout, progress on stderr, ``--json``, the blob URL a team store remembers,
conflicts (exit 3, said clearly) and refusals (exit 1 or 2, one line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.store import Store

from .sharing_work import TeamDatabases, dump, make_work, team_server


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def teams(postgres_url: str) -> Iterator[TeamDatabases]:
    with team_server() as bucket:
        made = TeamDatabases(postgres_url, bucket)
        yield made
        made.close()


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("laptop")
    store = Store(str(folder))
    work = make_work(store, 3)
    store.close()
    yield str(folder), work


def test_push_then_pull_with_only_the_team_database_url(
    capsys: pytest.CaptureFixture[str],
    laptop: tuple[str, dict[str, Any]],
    teams: TeamDatabases,
    tmp_path: Path,
) -> None:
    home, work = laptop
    url, blob_url = teams.new()
    code, out, err = run_cli(capsys, "--store", home, "push", "--to", url, "--to-blobs", blob_url)
    assert code == 0, err
    assert "3 runs copied, 0 already there" in out and "5 blobs" in out
    assert f"now remembers its blobs at {blob_url}" in err
    assert "mltrack: runs: 3/3 copied" in err  # progress goes to stderr
    # the team store says where its blobs are: its URL alone does from now on
    code, out, err = run_cli(capsys, "--store", home, "push", "--to", url, "--json")
    assert code == 0, err
    again = json.loads(out)
    assert (again["blobs_sent"], again["bytes_sent"], again["rows_written"]) == (0, 0, 0)
    assert again["runs_skipped"] == 3 and again["conflicts"] == []
    # a colleague pulls into a store of their own, made by the pull
    colleague = tmp_path / "colleague"
    code, out, err = run_cli(capsys, "pull", "--from", url, "--store", str(colleague), "--json")
    assert code == 0, err
    pulled = json.loads(out)
    assert pulled["runs_copied"] == 3 and pulled["dataset_versions_copied"] == 2
    assert set(pulled["numbers"]) == set(work["runs"])
    mine, theirs = Store(home), Store(str(colleague))
    try:
        assert dump(theirs) == dump(mine)
    finally:
        mine.close()
        theirs.close()
    # one model only: its run comes along
    only = tmp_path / "only-model"
    code, out, err = run_cli(
        capsys, "--store", str(only), "pull", "--from", url, "--model", "churn-model", "--json"
    )
    assert code == 0, err
    got = json.loads(out)
    assert (got["runs_copied"], got["model_versions_copied"], got["model_aliases_set"]) == (1, 1, 1)
    assert got["dataset_versions_copied"] == 0 and list(got["numbers"]) == [work["runs"][1]]


def test_conflicts_exit_3_and_say_what_was_kept(
    capsys: pytest.CaptureFixture[str], teams: TeamDatabases, tmp_path: Path
) -> None:
    url, blob_url = teams.new()
    mine = Store(str(tmp_path / "mine"))
    try:
        run_id = make_work(mine, 2)["runs"][0]
        code, _, err = run_cli(
            capsys, "--store", str(tmp_path / "mine"), "push", "--to", url, "--to-blobs", blob_url
        )
        assert code == 0, err
        mine.update_run(run_id, tags={"stage": "prod", "seed": "0"})
        team = Store(url)
        try:
            team.update_run(run_id, tags={"stage": "review", "seed": "0"})
        finally:
            team.close()
        code, out, err = run_cli(capsys, "--store", str(tmp_path / "mine"), "push", "--to", url)
        assert code == 3
        assert "1 conflict left as they are in" in err
        line = (
            f"run {run_id}: tags.stage is 'prod' in the source, 'review' in the destination (kept)"
        )
        assert line in err and line in out
        team = Store(url)
        try:
            assert team.get_run(run_id).tags["stage"] == "review"
        finally:
            team.close()
    finally:
        mine.close()


def test_refusals_are_one_line(
    capsys: pytest.CaptureFixture[str], laptop: tuple[str, dict[str, Any]], teams: TeamDatabases
) -> None:
    home, _ = laptop
    url, _ = teams.new()
    # a team store that knows no blob location, and none given
    code, _, err = run_cli(capsys, "--store", home, "push", "--to", url)
    assert code == 1 and "--to-blobs" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "--store", home, "push", "--to", home, "--runs", "params.lr <")
    assert code == 2 and "expected a value" in err
    code, _, err = run_cli(capsys, "--store", home, "push", "--to", home, "--experiment", "nope")
    assert code == 1 and "no experiment 'nope'" in err
    code, _, err = run_cli(
        capsys, "--store", home, "push", "--to", home, "--model", "m", "--dataset", "d"
    )
    assert code == 2 and "not allowed with argument" in err
    # pull makes a store only when told where
    code, _, err = run_cli(capsys, "pull", "--from", home)
    assert code == 1 and "no mltrack store found" in err
