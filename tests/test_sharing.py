"""Push and pull between stores (issue 16, section 2), for real: a laptop's SQLite store with
local blobs, the team's PostgreSQL with blobs on an S3-compatible server (moto's, in server
mode), and a colleague's empty SQLite store. Everything arrives equal, byte for byte; a
second push sends and writes nothing; a push killed at each stage and run again ends
identical; the same data pushed from two stores is one version; conflicts are reported and
left as they are."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from jupyter_mltrack.datasets.api import push_with
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.sharing import ORIGIN_TAG, NothingToTransfer, pull, push
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, Store
from jupyter_mltrack.store.models import RunRow, SnapshotRow
from jupyter_mltrack.store.spool import shown_url

from .kernel import REPO
from .sharing_work import (
    META,
    TeamDatabases,
    dump,
    frame,
    make_work,
    run_details,
    run_entities,
    team_server,
)

RUNS = 6


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    with team_server() as url:
        yield url


@pytest.fixture(scope="module")
def teams(postgres_url: str, bucket: str) -> Iterator[TeamDatabases]:
    made = TeamDatabases(postgres_url, bucket)
    yield made
    made.close()


@pytest.fixture(scope="module")
def laptop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict[str, Any]]]:
    store = Store(str(tmp_path_factory.mktemp("laptop")))
    work = make_work(store, RUNS)
    yield store, work
    store.close()


@pytest.fixture(scope="module")
def shared(
    laptop: tuple[Store, dict[str, Any]],
    teams: TeamDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """The laptop's work pushed to a new team store, pushed again, then pulled into a
    colleague's new store."""
    src, _ = laptop
    url, blob_url = teams.new()
    team = Store(url, blob_url=blob_url)
    colleague = Store(str(tmp_path_factory.mktemp("colleague")))
    lines: list[str] = []
    first = push(src, team, progress=lines.append)
    before = dump(team)
    keys = sorted(team.blobs.iter_digests())
    second = push(src, team)
    pulled = pull(colleague, team)
    yield {
        "team": team,
        "colleague": colleague,
        "first": first,
        "second": second,
        "pulled": pulled,
        "before": before,
        "keys": keys,
        "lines": lines,
    }
    team.close()
    colleague.close()


def test_everything_reaches_the_team_store_and_a_third_store_byte_for_byte(
    laptop: tuple[Store, dict[str, Any]], shared: dict[str, Any]
) -> None:
    src, work = laptop
    team, colleague = shared["team"], shared["colleague"]
    mine = dump(src)
    filled = [t for t, rows in mine.items() if rows]
    assert set(filled) >= {
        "runs", "params", "metric_chunks", "latest_metrics", "outputs", "tags", "run_data",
        "executions", "environments", "artifacts", "artifact_files", "snapshots", "blocks",
        "datasets", "dataset_versions", "dataset_tags", "registered_models", "model_versions",
        "model_aliases", "run_values", "blob bytes",
    }  # fmt: skip
    assert dump(team) == mine
    assert dump(colleague) == mine
    runs = work["runs"]
    assert run_entities(team, runs) == run_entities(src, runs)
    assert run_entities(colleague, runs) == run_entities(src, runs)
    assert run_details(colleague, runs) == run_details(src, runs)
    first = shared["first"]
    assert (first.runs_copied, first.snapshots_copied, first.artifacts_copied) == (RUNS, 3, 1)
    assert (first.dataset_versions_copied, first.dataset_tags_set) == (2, 1)
    assert (first.models_copied, first.model_versions_copied, first.model_aliases_set) == (1, 1, 1)
    assert first.blobs_sent == 5 and first.bytes_sent > 0 and first.conflicts == []
    assert shared["pulled"].blobs_sent == first.blobs_sent  # the colleague had nothing
    assert any(line.startswith(f"runs: {RUNS}/{RUNS}") for line in shared["lines"])
    # numbers are the destination's; the first store and number are kept in a tag
    for run_id in runs:
        here = src.get_run(run_id)
        assert team.get_run(run_id).number == first.numbers[run_id]
        assert team.get_run(run_id).tags[ORIGIN_TAG] == f"{shown_url(src.url)}#{here.number}"
        # copied on, it keeps where it was first recorded
        assert colleague.get_run(run_id).tags[ORIGIN_TAG] == team.get_run(run_id).tags[ORIGIN_TAG]
    # the data reads back: a snapshot, the dataset by tag, the model by alias, the export's log
    sn = Snapshotter(colleague)
    try:
        pd.testing.assert_frame_equal(sn.load(work["snapshot"]), frame(30, 3))
        name, v1, v2 = work["dataset"]
        gold = colleague.resolve_dataset_version(name, "gold")
        assert gold.hash == v2 and colleague.resolve_dataset_version(name).hash == v2
        pd.testing.assert_frame_equal(sn.load(gold.snapshot_digest), frame(60, 2))
        assert [v.hash for v in colleague.dataset_versions(name)] == [v2, v1]
    finally:
        sn.close()
    model = colleague.resolve_model_version("churn-model", alias="production")
    assert model.run_id == runs[1] and model.version == 1
    assert model.tags == {"validation": "passed"} and model.description == "first"
    assert colleague.get_registered_model("churn-model").tags == {"team": "growth"}
    art = colleague.get_artifact(runs[1], "model")
    assert {f.path: colleague.blobs.get_bytes(f.digest) for f in art.files} == {
        "model.skops": b"weights" * 100,
        "extra/notes.txt": b"hi",
    }
    ran = colleague.execution_of_run(runs[2])
    assert ran is not None and [
        e.seq for e in colleague.executions(ran.session_id, upto=ran.seq)
    ] == [0, 1, 2]


def test_a_second_push_sends_no_blob_and_writes_no_row(shared: dict[str, Any]) -> None:
    second, team = shared["second"], shared["team"]
    assert (second.blobs_sent, second.bytes_sent, second.blocks_sent, second.rows_written) == (
        0,
        0,
        0,
        0,
    )
    assert (second.runs_copied, second.runs_skipped) == (0, RUNS)
    assert (second.snapshots_copied, second.snapshots_skipped) == (0, 3)
    assert second.dataset_versions_skipped == 2 and second.model_versions_skipped == 1
    assert second.conflicts == []
    assert dump(team) == shared["before"]  # updated_at included: no row was touched
    assert sorted(team.blobs.iter_digests()) == shared["keys"]


_KILLED_PUSH = textwrap.dedent(
    """
    import os, signal, sys
    from jupyter_mltrack.sharing import push
    from jupyter_mltrack.store import Store

    src, dst = Store(sys.argv[1]), Store(sys.argv[2], blob_url=sys.argv[3])
    mark = sys.argv[4]

    def progress(line):
        print(line, flush=True)
        if mark and mark in line:
            os.kill(os.getpid(), signal.SIGKILL)  # as a laptop closed mid-push

    push(src, dst, progress=progress)
    print("finished", flush=True)
    """
)


def _push_in_a_process(
    src: Store, url: str, blob_url: str, mark: str
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
    }
    return subprocess.run(
        [sys.executable, "-c", _KILLED_PUSH, src.url, url, blob_url, mark],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _count(store: Store, *where: Any, table: Any = RunRow) -> int:
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_a_push_killed_at_each_stage_and_run_again_ends_identical(
    laptop: tuple[Store, dict[str, Any]], teams: TeamDatabases
) -> None:
    src, work = laptop
    url, blob_url = teams.new()
    team = Store(url, blob_url=blob_url)
    complete = SnapshotRow.status == "complete"
    try:
        # killed once the snapshots' blobs are sent, before they are recorded complete
        done = _push_in_a_process(src, url, blob_url, " blobs (")
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert _count(team, complete, table=SnapshotRow) == 0 and _count(team) == 0
        # killed before the artifacts' blobs: snapshots complete, no run
        done = _push_in_a_process(src, url, blob_url, "artifacts: sending")
        assert done.returncode == -signal.SIGKILL, done.stderr
        assert _count(team, complete, table=SnapshotRow) == 3 and _count(team) == 0
        # killed after two runs, then after two more: each run there is whole
        for there in (2, 4):
            done = _push_in_a_process(src, url, blob_url, "runs: 2/")
            assert done.returncode == -signal.SIGKILL, done.stderr
            assert _count(team) == there
            present = list(team.engine.connect().execute(select(RunRow.id)).scalars())
            assert run_details(team, present) == run_details(src, present)
        done = _push_in_a_process(src, url, blob_url, "")
        assert done.returncode == 0 and "finished" in done.stdout, done.stderr
        assert dump(team) == dump(src)
        assert sorted(team.get_run(r).number for r in work["runs"]) == list(range(1, RUNS + 1))
        again = push(src, team)
        assert (again.blobs_sent, again.rows_written) == (0, 0)
    finally:
        team.close()


def test_the_same_data_pushed_from_two_stores_is_one_version(
    tmp_path: Path, teams: TeamDatabases
) -> None:
    url, blob_url = teams.new()
    team = Store(url, blob_url=blob_url)
    versions = []
    try:
        for name in ("alice", "bob"):  # two laptops that never met
            store = Store(str(tmp_path / name))
            sn = Snapshotter(store)
            try:
                version, _ = push_with(
                    store, sn, frame(50, 7), "shared/iris", message=name, meta={"source": "uci"}
                )
            finally:
                sn.close()
            versions.append(version.hash)
            report = push(store, team, dataset="shared/iris")
            store.close()
            if name == "alice":
                assert report.dataset_versions_copied == 1 and report.blobs_sent == 1
            else:  # bob's is alice's: nothing to send, nothing to add
                assert report.dataset_versions_copied == 0 and report.dataset_versions_skipped == 1
                assert (report.blobs_sent, report.rows_written) == (0, 0)
        assert versions[0] == versions[1]
        assert [v.hash for v in team.dataset_versions("shared/iris")] == [versions[0]]
        assert team.dataset_versions("shared/iris")[0].message == "alice"  # the first push's
    finally:
        team.close()


def test_a_copied_version_never_takes_a_number_the_destination_gave_before(
    tmp_path: Path, teams: TeamDatabases
) -> None:
    """The team registered a version 2 and deleted it: the laptop's own version 2 arrives
    as version 3, not as a second model under a number someone may have pinned; and a
    store pulled from the team numbers its next version after the team's last."""
    url, blob_url = teams.new()
    team = Store(url, blob_url=blob_url)
    mine = Store(str(tmp_path / "mine"))
    colleague = Store(str(tmp_path / "colleague"))
    try:
        work = make_work(mine, 2)
        first, other = work["runs"]
        push(mine, team)
        write_artifact(
            team, other, "team-model", "model", [Source("t.skops", data=b"t")], meta=META
        )
        assert team.register_model_version("churn-model", other, "team-model").version == 2
        team.delete_model_version("churn-model", 2)
        write_artifact(mine, other, "model-v2", "model", [Source("m.skops", data=b"2")], meta=META)
        assert mine.register_model_version("churn-model", other, "model-v2").version == 2
        report = push(mine, team)
        assert report.model_versions_copied == 1
        versions = team.get_registered_model("churn-model").versions
        assert [(v.version, v.artifact) for v in versions] == [(1, "model"), (3, "model-v2")]
        pull(colleague, team)
        write_artifact(colleague, first, "late", "model", [Source("l.skops", data=b"l")], meta=META)
        assert colleague.register_model_version("churn-model", first, "late").version == 4
    finally:
        colleague.close()
        team.close()
        mine.close()


def test_edits_on_both_sides_are_conflicts_reported_and_left_as_they_are(
    tmp_path: Path, teams: TeamDatabases
) -> None:
    url, blob_url = teams.new()
    team = Store(url, blob_url=blob_url)
    mine = Store(str(tmp_path / "mine"))
    try:
        work = make_work(mine, 2)
        run_id, other = work["runs"]
        push(mine, team)
        # the same run's tags, note and name edited on both sides; a dataset tag and a
        # model alias moved on one side only count when the other has them elsewhere
        mine.update_run(run_id, tags={"stage": "prod", "seed": "0"}, note="mine")
        team.update_run(run_id, tags={"stage": "review", "seed": "0", "by": "bob"}, name="bob's")
        sn = Snapshotter(mine)
        try:
            v3, _ = push_with(mine, sn, frame(10, 9), "team/churn", tag="gold")
        finally:
            sn.close()
        name, v1, _ = work["dataset"]
        team.set_dataset_tag(name, "gold", v1)
        # a model logged later to a run the team has: its artifact follows; the alias moved
        # to it here conflicts with the team's
        write_artifact(mine, other, "model-v2", "model", [Source("m.skops", data=b"2")], meta=META)
        assert mine.register_model_version("churn-model", other, "model-v2").version == 2
        mine.set_model_alias("churn-model", "production", 2)
        # the model's own tags: one changed on both sides, one new here (copied)
        mine.update_registered_model("churn-model", set_tags={"team": "risk", "task": "churn"})
        team.update_registered_model("churn-model", set_tags={"team": "growth-2"})
        report = push(mine, team)
        found = {(c.kind, c.item, c.field): (c.source, c.destination) for c in report.conflicts}
        assert found == {
            ("run", run_id, "name"): ("fit 0", "bob's"),
            ("run", run_id, "note"): ("mine", ""),
            ("run", run_id, "tags.by"): (None, "bob"),
            ("run", run_id, "tags.stage"): ("prod", "review"),
            ("dataset", name, "tag gold"): (v3.hash, v1),
            ("model", "churn-model", "alias production"): ("version 2", "version 1"),
            ("model", "churn-model", "tag team"): ("risk", "growth-2"),
        }
        assert report.artifacts_copied == 1 and report.model_versions_copied == 1
        # nothing overwritten; what did not conflict was copied (the new version, latest)
        kept = team.get_run(run_id)
        assert (kept.name, kept.note, kept.tags["stage"]) == ("bob's", "", "review")
        assert team.resolve_dataset_version(name, "gold").hash == v1
        assert team.resolve_dataset_version(name).hash == v3.hash
        assert team.resolve_model_version("churn-model", alias="production").version == 1
        assert team.resolve_model_version("churn-model", version=2).run_id == other
        assert team.get_registered_model("churn-model").tags == {
            "task": "churn",
            "team": "growth-2",
        }
        # pulled back, the same conflicts, seen from the other side; the laptop keeps its own
        back = pull(mine, team)
        assert {
            (c.kind, c.item, c.field): (c.destination, c.source) for c in back.conflicts
        } == found
        assert mine.get_run(run_id).tags["stage"] == "prod"
    finally:
        team.close()
        mine.close()


def test_descriptions_and_version_tags_written_after_a_push_follow_it(tmp_path: Path) -> None:
    """The model and its version are pushed bare; then the laptop describes both and tags
    the version ``validation=passed``, the team describes the version its own way: a push
    brings what the team lacks (the model's description, the version's tag) and reports the
    version's description as a conflict, keeping the team's; pushing again changes nothing."""
    mine, team = Store(str(tmp_path / "mine")), Store(str(tmp_path / "team"))
    try:
        make_work(mine, 2)
        push(mine, team)
        mine.update_registered_model("churn-model", description="who leaves")
        mine.update_model_version(
            "churn-model", 1, description="C=0.1", set_tags={"validation": "passed"}
        )
        team.update_model_version("churn-model", 1, description="bob's notes")
        report = push(mine, team)
        assert [(c.item, c.field, c.source, c.destination) for c in report.conflicts] == [
            ("churn-model", "version 1 description", "C=0.1", "bob's notes")
        ]
        model = team.get_registered_model("churn-model")
        assert model.description == "who leaves"
        (version,) = model.versions
        assert (version.description, version.tags) == ("bob's notes", {"validation": "passed"})
        again = push(mine, team)
        assert again.rows_written == 0 and len(again.conflicts) == 1
    finally:
        team.close()
        mine.close()


def test_running_runs_wait_and_a_deleted_run_is_not_brought_back(tmp_path: Path) -> None:
    a, b = Store(str(tmp_path / "a")), Store(str(tmp_path / "b"))
    try:
        done = a.create_run("exp", name="done")
        a.finish_run(done.id, RunStatus.FINISHED)
        busy = a.create_run("exp", name="busy")
        report = push(a, b)
        assert (report.runs_copied, report.runs_running) == (1, 1)
        a.finish_run(busy.id, RunStatus.FINISHED)
        b.delete_run(done.id)
        report = push(a, b)
        assert report.runs_copied == 1 and [(c.item, c.field) for c in report.conflicts] == [
            (done.id, "deleted")
        ]
        with b.engine.connect() as conn:
            assert list(conn.execute(select(RunRow.id)).scalars()) == [busy.id]
        with pytest.raises(NothingToTransfer, match="no experiment 'nope'"):
            push(a, b, experiment="nope")
    finally:
        a.close()
        b.close()


def test_a_team_store_remembers_its_blob_url(teams: TeamDatabases) -> None:
    url, blob_url = teams.new()
    team = Store(url)
    try:
        with pytest.raises(ValueError, match="give a blob URL"):
            team.blobs  # noqa: B018
        with pytest.raises(ValueError, match="only an object store"):
            team.remember_blob_url("file:///tmp/elsewhere")
        team.remember_blob_url(blob_url)
    finally:
        team.close()
    teammate = Store(url)  # given only the database
    try:
        teammate.blobs.put_bytes("xxh3-128:" + "a" * 32, b"x")
        assert teammate.blob_url == blob_url and teammate.blobs.has("xxh3-128:" + "a" * 32)
    finally:
        teammate.close()


def test_a_filter_copies_those_runs_with_the_data_and_dataset_versions_they_read(
    tmp_path: Path,
) -> None:
    a, b = Store(str(tmp_path / "a")), Store(str(tmp_path / "b"))
    try:
        work = make_work(a, 3)
        name, v1, v2 = work["dataset"]
        report = push(a, b, runs="params.lr > 0.07")  # the first run only: it read v1
        assert report.runs_copied == 1 and list(report.numbers) == [work["runs"][0]]
        assert [v.hash for v in b.dataset_versions(name)] == [v1]
        assert b.resolve_dataset_version(name).hash == v1  # the only version it has
        assert report.dataset_tags_set == 0  # gold names v2, not copied
        assert (report.snapshots_copied, report.model_versions_copied) == (1, 0)
        report = push(a, b, experiment="churn")
        assert (report.runs_copied, report.runs_skipped) == (2, 1)
        assert report.snapshots_copied == 1  # the second run's output
        assert [v.hash for v in b.dataset_versions(name)] == [v1]
        report = push(a, b, dataset=name)
        assert (report.dataset_versions_copied, report.dataset_tags_set) == (1, 1)
        assert b.resolve_dataset_version(name, "gold").hash == v2
        assert b.resolve_dataset_version(name).hash == v2  # latest moved forward
        with pytest.raises(NothingToTransfer, match="no dataset 'nope'"):
            push(a, b, dataset="nope")
    finally:
        a.close()
        b.close()
