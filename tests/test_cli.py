"""The ``mltrack`` command against a real SQLite store filled through :class:`Store`."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as pa_feather
import pyarrow.parquet as pq
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from jupyter_mltrack.cli import _bytes, _glue_order, _publish, main
from jupyter_mltrack.location import HOME_ENV, URL_ENV
from jupyter_mltrack.placing import WriteError
from jupyter_mltrack.server import api
from jupyter_mltrack.snapshots import fingerprint
from jupyter_mltrack.snapshots.diff import diff_snapshots
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Snapshot, Store

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
    footer = out.splitlines()[-1]
    assert footer.startswith("runs 2-2 of 3; next page: --after ")
    cursor = footer.rsplit(" ", 1)[1]
    code, out, _ = run_cli(
        capsys, "--store", url, "runs", "list", "--limit", "1", "--after", cursor
    )
    assert code == 0 and "next page" not in out and len(out.splitlines()) == 2  # the last run
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
    (listed,) = data["runs"]
    expected = sqlite_store.get_run(filled["base"]).to_dict()
    assert {k: listed[k] for k in expected} == expected
    assert listed["children"] == {"count": 0, "best": {}}
    assert listed["metric_summary"]["loss"]["last"] == 0.25 and data["next"] is None
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
    # as the REST API answers: the detail, with what the run logged and registered, what
    # it used of other runs and who used its own
    assert json.loads(out) == {
        **sqlite_store.get_run_detail(base).to_dict(),
        "artifacts": [],
        "models": [],
        "used": [],
        "used_by": {"count": 0, "runs": []},
    }
    assert json.loads(out) == api.get_run(sqlite_store, base)


def test_a_run_number_several_experiments_have_needs_the_experiment(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, filled: dict[str, str]
) -> None:
    url = sqlite_store.url  # quickstart #1, #2 and other #1
    for argv in (
        ("runs", "show", "1"),
        ("runs", "compare", "1", "2"),
        ("export", "nb.ipynb", "--run", "1", "-o", "out"),
    ):
        code, out, err = run_cli(capsys, "--store", url, *argv)
        assert (code, out) == (2, ""), (argv, err)
        assert err.startswith(
            "mltrack: error: run number 1 is ambiguous: experiments other, quickstart have one; "
            "name the experiment (experiment=… / -e …) or use the run id"
        ), (argv, err)
    # a number one experiment has is still enough; -e names the other ones
    code, out, _ = run_cli(capsys, "--store", url, "runs", "show", "2")
    assert code == 0 and out.startswith(f"Run 2 of quickstart  ({filled['second']})")
    code, out, _ = run_cli(capsys, "--store", url, "runs", "show", "1", "-e", "other")
    assert code == 0 and out.startswith(f"Run 1 of other  ({filled['other']})")


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
        (2, ("--store", url, "runs", "list", "--order", "colour"), "unknown field 'colour'"),
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
        lines = 3 if " at column " in err.splitlines()[0] else 1  # + the query and a caret
        assert err.startswith("mltrack: error: ") and err.count("\n") == lines, err
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


# dataset snapshots ------------------------------------------------------------------------

SPEC = json.loads((REPO / "jupyter_mltrack" / "server" / "openapi.json").read_text())
SPEC_URI = "urn:mltrack:openapi"
REGISTRY = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)
#: Bytes a text-mode copy, a newline translation or a decode/encode would change.
FILE_BYTES = b"id,label\r\n1,caf\xc3\xa9\r\n2,\xff\x00\n3,last-no-newline"
#: The query the CLI's default page is: ``--json`` must equal the API's answer to it.
LIMIT_50 = {"limit": ["50"], "offset": ["0"]}


def response_schema(path: str) -> Draft202012Validator:
    """The spec's schema of ``GET path`` answering 200: what ``--json`` must print."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": SPEC_URI + "#" + pointer}, registry=REGISTRY)


def strict_json(text: str) -> Any:
    """``text`` as JSON; a bare NaN/Infinity token (which strict parsers reject) fails."""
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))


def cells(line: str) -> list[str]:
    """A table line's cells (cells hold single spaces at most; columns are 2+ apart)."""
    return re.split(r" {2,}", line.strip())


def when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def take(sn: Snapshotter, obj: Any, **kwargs: Any) -> Snapshot:
    return sn.snapshot(obj, progress=False, **kwargs).wait()


def rich_frame() -> pd.DataFrame:
    """What a lossy round trip gets wrong: None beside NaN in an object column, -0.0, NaT in
    a tz-aware column, an ordered categorical with an unused category, nullable integers,
    and a named string index."""
    paris = "Europe/Paris"
    frame = pd.DataFrame(
        {
            "f": [1.5, math.nan, -0.0, 3.25],
            "o": pd.Series(["a", None, math.nan, "d"], dtype=object),
            "c": pd.Categorical(["u", None, "v", "u"], categories=["v", "u", "w"], ordered=True),
            "t": pd.Series(
                [
                    pd.Timestamp("2024-03-31 01:30", tz=paris),
                    pd.NaT,
                    pd.Timestamp("2024-03-31 03:30", tz=paris),
                    pd.Timestamp("2024-06-30 23:59", tz=paris),
                ]
            ),
            "i": pd.array([1, None, 3, 4], dtype="Int64"),
            "b": [True, False, True, False],
        }
    )
    frame.index = pd.Index(["r1", "r2", "r3", "r4"], name="key")
    return frame


class Filled(NamedTuple):
    """A store holding one run's data, a pinned snapshot and an unused one."""

    store: Store
    url: str
    run_id: str
    frame: pd.DataFrame
    series: pd.Series
    array: np.ndarray
    train: Snapshot  # unnamed (as a tracked cell records it), run 1's input "train"
    labels: Snapshot  # a file, run 1's output "labels.csv"
    reference: Snapshot  # a Series, pinned under a name, used by no run
    scratch: Snapshot  # a 2-D array, named, neither used nor pinned


@pytest.fixture
def snaps(sqlite_store: Store, tmp_path: Path) -> Iterator[Filled]:
    st = sqlite_store
    sn = Snapshotter(st)
    try:
        run = st.create_run("exp", name="fit", start_time=T0)
        frame = rich_frame()
        raw = tmp_path / "raw" / "labels.csv"
        raw.parent.mkdir()
        raw.write_bytes(FILE_BYTES)
        train = take(sn, frame)
        labels = take(sn, raw)
        st.add_run_data(run.id, "input", "train", train.digest)
        st.add_run_data(run.id, "output", "labels.csv", labels.digest, path=str(raw))
        series = pd.Series([0.25, math.nan, 0.5], name="score")
        reference = take(sn, series, name="reference", pin=True)
        array = np.arange(12, dtype=np.int32).reshape(3, 4)
        scratch = take(sn, array, name="scratch")
    finally:
        sn.close()
    raw.unlink()  # restoring must not depend on the original file
    yield Filled(st, st.url, run.id, frame, series, array, train, labels, reference, scratch)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory, where restore writes by default."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_sizes_are_in_binary_units() -> None:
    assert [_bytes(n) for n in (0, 1023, 1024, 1536, 5 * 2**20, 3 * 2**30, 2**50)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "5.0 MiB",
        "3.0 GiB",
        "1024.0 TiB",
    ]


def test_snapshots_list_table_paging_and_json(
    capsys: pytest.CaptureFixture[str], snaps: Filled, tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, "--store", snaps.url, "snapshots", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    header = ["DIGEST", "NAME", "KIND", "SHAPE", "SIZE", "STORED", "STATUS", "PINNED", "CREATED"]
    assert cells(lines[0]) == header

    def row(s: Snapshot, name: str, kind: str, shape: str, pinned: str) -> list[str]:
        assert s.nbytes < 1024  # printed exactly in bytes
        return [s.short, name, kind, shape, f"{s.nbytes} B", _bytes(s.stored_bytes)] + [
            "complete",
            pinned,
            when(s.created_at),
        ]

    assert [cells(line) for line in lines[1:]] == [  # newest first
        row(snaps.scratch, "scratch", "ndarray", "3x4", "no"),
        row(snaps.reference, "reference", "series", "3x1", "yes"),
        row(snaps.labels, "-", "file", "-", "no"),
        row(snaps.train, "-", "dataframe", "4x6", "no"),
    ]
    assert snaps.scratch.nbytes == 48 and snaps.labels.nbytes == len(FILE_BYTES)
    # numeric columns are right-aligned under their header
    shape_end = lines[0].index("SHAPE") + len("SHAPE")
    assert lines[1][:shape_end].endswith(" 3x4") and lines[3][:shape_end].endswith(" -")

    code, out, _ = run_cli(
        capsys, "--store", snaps.url, "snapshots", "list", "--limit", "2", "--offset", "1"
    )
    lines = out.splitlines()
    assert [cells(line)[0] for line in lines[1:3]] == [snaps.reference.short, snaps.labels.short]
    assert lines[3:] == ["snapshots 2-3 of 4 (see --limit, --offset)"]
    code, out, _ = run_cli(capsys, "--store", snaps.url, "snapshots", "list", "--offset", "9")
    assert (code, out) == (0, "no snapshots match\n")

    code, out, _ = run_cli(capsys, "--store", snaps.url, "snapshots", "list", "--json", "-l", "3")
    data = strict_json(out)
    response_schema("/mltrack/api/snapshots").validate(data)
    assert data == api.list_snapshots(snaps.store, {"limit": ["3"]})
    assert (data["total"], data["limit"], data["offset"]) == (4, 3, 0)
    assert [s["digest"] for s in data["snapshots"]] == [
        snaps.scratch.digest,
        snaps.reference.digest,
        snaps.labels.digest,
    ]
    # the REST list leaves the (large) schema and statistics to the detail
    assert set(data["snapshots"][0]) == set(snaps.scratch.to_dict()) - {"schema", "stats"}

    empty = Store(str(tmp_path / "empty-store"))
    try:
        code, out, _ = run_cli(capsys, "--store", empty.url, "snapshots", "list")
        assert (code, out) == (0, "no snapshots\n")
    finally:
        empty.close()


def test_snapshots_list_of_a_run(capsys: pytest.CaptureFixture[str], snaps: Filled) -> None:
    url, run_id = snaps.url, snaps.run_id
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "list", "--run", "1")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert cells(lines[0])[-2:] == ["CREATED", "USED AS"]
    assert [(cells(line)[0], cells(line)[-1]) for line in lines[1:]] == [
        (snaps.labels.short, "output labels.csv"),
        (snaps.train.short, "input train"),
    ]
    for ref in (run_id, run_id[:6], "1"):
        again = run_cli(capsys, "snapshots", "list", "--store", url, "-r", ref, "-e", "exp")
        assert again == (0, out, "")

    # a snapshot the run both read and wrote is one row naming both uses
    snaps.store.add_run_data(run_id, "output", "train_copy", snaps.train.digest)
    _, out, _ = run_cli(capsys, "--store", url, "snapshots", "list", "--run", run_id[:8])
    assert cells(out.splitlines()[2])[-1] == "input train, output train_copy"

    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "list", "--run", "1", "--json")
    data = strict_json(out)
    response_schema("/mltrack/api/snapshots").validate(data)
    assert data == api.list_snapshots(snaps.store, {"run": [run_id]} | LIMIT_50)
    assert {s["digest"] for s in data["snapshots"]} == {snaps.train.digest, snaps.labels.digest}

    idle = snaps.store.create_run("exp", name="idle")
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "list", "--run", idle.id)
    assert (code, out) == (0, "this run used no data\n")
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "list", "--run", "7")
    assert (code, out, err) == (1, "", "mltrack: error: no run '7'\n")


def test_snapshots_show(capsys: pytest.CaptureFixture[str], snaps: Filled) -> None:
    url, train, frame = snaps.url, snaps.train, snaps.frame
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "show", train.short)
    assert (code, err) == (0, "")
    sections = out.split("\n\n")
    assert sections[0] == f"Snapshot {train.short}  ({train.digest})"
    assert sections[1] == (
        "Overview\n"
        "  name       -\n"
        "  kind       dataframe\n"
        "  status     complete\n"
        "  shape      4x6\n"
        f"  size       {train.nbytes} B\n"
        f"  stored     {_bytes(train.stored_bytes)} added to the store when taken\n"
        "  pinned     no\n"
        f"  created    {when(train.created_at)}\n"
        f"  completed  {when(train.completed_at)}"
    )
    assert sections[2] == (
        "Schema\n"
        "  #  COLUMN  DTYPE\n"
        "  0  f       float64\n"
        "  1  o       object\n"
        "  2  c       category (3 categories, ordered)\n"
        f"  3  t       {frame['t'].dtype}\n"
        "  4  i       Int64\n"
        "  5  b       bool\n"
        f"  index: key ({frame.index.dtype})"
    )
    stats = sections[3].splitlines()
    assert stats[0] == "Statistics"
    assert cells(stats[1]) == ["COLUMN", "NULLS", "MIN", "MAX", "MEAN", "STD", "DISTINCT", "TOP"]
    by_column = {cells(line)[0]: cells(line) for line in stats[2:]}
    assert list(by_column) == ["f", "o", "c", "t", "i", "b"]
    # f: [1.5, NaN, -0.0, 3.25]; std with ddof=1; every value kept, -0.0 included
    assert by_column["f"][:7] == ["f", "25%", "-0", "3.25", "1.58333", "1.6266", "3"]
    assert by_column["o"][:7] == ["o", "50%", "-", "-", "-", "-", "2"]
    assert sorted(by_column["o"][7].split(", ")) == ["a 50%", "d 50%"]  # a tie: any order
    assert by_column["c"] == ["c", "25%", "-", "-", "-", "-", "2", "u 66.7%, v 33.3%"]
    assert by_column["t"][:7] == [
        "t",
        "25%",
        "2024-03-31T01:30:00+01:00",
        "2024-06-30T23:59:00+02:00",
        "-",
        "-",
        "3",
    ]
    assert by_column["i"][:7] == ["i", "25%", "1", "4", "2.66667", "1.52753", "3"]
    assert by_column["b"][:7] == ["b", "0%", "-", "-", "-", "-", "2"]
    assert sorted(by_column["b"][7].split(", ")) == ["false 50%", "true 50%"]
    assert sections[4] == (
        "Used by\n"
        "  #  EXPERIMENT  RUN       RUN NAME  ROLE   AS\n"
        f"  1  exp         {snaps.run_id[:8]}  fit       input  train\n"
    )

    # every way of naming it shows the same snapshot
    hexpart = train.digest.partition(":")[2]
    for ref in (train.digest, hexpart[:5], "xxh3-128:" + hexpart[:8]):
        assert run_cli(capsys, "--store", url, "snapshots", "show", ref) == (0, out, ""), ref

    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "show", "reference")
    assert f"Snapshot {snaps.reference.short}" in out
    assert "  pinned     yes (kept by gc)\n" in out
    assert out.endswith("Used by\n  no run (pinned, so gc keeps it)\n")
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "show", "scratch")
    assert "  shape      3x4\n" in out and "Statistics" not in out  # a 2-D array has none
    assert out.endswith("Used by\n  no run (not pinned, so gc deletes it)\n")

    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "show", snaps.labels.short)
    assert code == 0
    assert "  kind       file\n  status     complete\n  file       labels.csv\n" in out
    assert "Schema" not in out and "Statistics" not in out
    assert f"  1  exp         {snaps.run_id[:8]}  fit       output  labels.csv\n" in out


def test_snapshots_show_json(capsys: pytest.CaptureFixture[str], snaps: Filled) -> None:
    for snap in (snaps.train, snaps.labels, snaps.reference, snaps.scratch):
        code, out, _ = run_cli(
            capsys, "--store", snaps.url, "snapshots", "show", snap.short, "--json"
        )
        assert code == 0
        data = strict_json(out)
        response_schema("/mltrack/api/snapshots/{ref}").validate(data)
        assert data == api.get_snapshot(snaps.store, snap.digest)
        assert {k: v for k, v in data.items() if k != "users"} == json.loads(
            json.dumps(snap.to_dict())
        )
    data = strict_json(
        run_cli(capsys, "--store", snaps.url, "snapshots", "show", "--json", snaps.train.short)[1]
    )
    assert data["users"] == [
        {
            "run_id": snaps.run_id,
            "role": "input",
            "name": "train",
            "run": {"number": 1, "name": "fit", "experiment": "exp", "status": "running"},
        }
    ]
    assert [c["name"] for c in data["stats"]["columns"]] == ["f", "o", "c", "t", "i", "b"]


@pytest.fixture
def broken(sqlite_store: Store) -> dict[str, Snapshot]:
    """Records another process left: one still being written, one that failed; their
    digests share the prefix ``abcd``. Both have metadata and no data."""
    st = sqlite_store

    def record(hexdigest: str) -> Snapshot:
        return st.add_snapshot(
            digest="xxh3-128:" + hexdigest,
            kind="dataframe",
            rows=2,
            columns=1,
            nbytes=16,
            schema={"columns": [{"name": "x", "dtype": "float64", "position": 0}]},
            layout={"format": "mltrack-frame/1", "blocks": {}},
        )

    pending = record("abcd1" + "0" * 27)
    failed = record("abcd2" + "0" * 27)
    st.fail_snapshot(failed.digest, "OSError: [Errno 28] No space left on device\nin pack 3")
    return {"pending": pending, "failed": st.get_snapshot(failed.digest)}


def test_pending_and_failed_snapshots_show_but_do_not_restore_or_diff(
    capsys: pytest.CaptureFixture[str],
    sqlite_store: Store,
    broken: dict[str, Snapshot],
    workdir: Path,
) -> None:
    url = sqlite_store.url
    pending, failed = broken["pending"], broken["failed"]
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "show", pending.short)
    assert code == 0
    assert "  status     pending\n" in out and "  completed  -\n" in out
    assert "Statistics" not in out and "Error" not in out
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "show", failed.short)
    assert code == 0 and "  status     failed\n" in out
    assert out.endswith(
        "\n\nError\n  OSError: [Errno 28] No space left on device in pack 3\n"
    )  # the recorded error, on one line
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "list")
    assert [cells(line)[6] for line in out.splitlines()[1:]] == ["failed", "pending"]

    pending_says = (
        f"snapshot {pending.short} is still being stored (status 'pending'); "
        "its data can be read once its status is 'complete'"
    )
    failed_says = (
        f"snapshot {failed.short} could not be stored (status 'failed': OSError: [Errno 28] "
        "No space left on device in pack 3); it has no data to read"
    )
    cases = [
        (("snapshots", "restore", pending.short), 1, pending_says),
        (("snapshots", "restore", failed.short, "-o", "x.parquet"), 1, failed_says),
        (("snapshots", "diff", pending.short, failed.short), 1, pending_says),
        (("snapshots", "diff", failed.short, failed.short, "--json"), 1, failed_says),
    ]
    for argv, expected_code, message in cases:
        assert run_cli(capsys, "--store", url, *argv) == (
            expected_code,
            "",
            f"mltrack: error: {message}\n",
        ), argv
    assert list(workdir.iterdir()) == []  # nothing written, not even a temporary file


def test_unknown_and_ambiguous_refs(
    capsys: pytest.CaptureFixture[str],
    sqlite_store: Store,
    broken: dict[str, Snapshot],
    workdir: Path,
) -> None:
    url = sqlite_store.url
    cases = [
        (("snapshots", "show", "abcd"), 2, "snapshot prefix 'abcd' is ambiguous"),
        (("snapshots", "restore", "abcd"), 2, "snapshot prefix 'abcd' is ambiguous"),
        (("snapshots", "diff", "abcd", "abcd1"), 2, "snapshot prefix 'abcd' is ambiguous"),
        (("snapshots", "show", "abc"), 1, "no snapshot 'abc'"),  # under 4 digits: no prefix
        (("snapshots", "show", "ffff"), 1, "no snapshot 'ffff'"),
        (("snapshots", "restore", "train"), 1, "no snapshot 'train'"),
        (("snapshots", "diff", "nope", "abcd1"), 1, "no snapshot 'nope'"),
        (("snapshots", "diff", "abcd1"), 2, "the following arguments are required: B"),
        (("snapshots",), 2, "required: ACTION"),
        (("gc", "--dry-run", "--store", str(workdir / "nowhere")), 1, "no mltrack store at"),
    ]
    for argv, expected_code, message in cases:
        code, out, err = run_cli(capsys, "--store", url, *argv)
        assert (code, out) == (expected_code, ""), (argv, err)
        lines = 3 if " at column " in err.splitlines()[0] else 1  # + the query and a caret
        assert err.startswith("mltrack: error: ") and err.count("\n") == lines, err
        assert message in err, (argv, err)
    assert list(workdir.iterdir()) == []


@pytest.fixture
def versions(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Versions of one table in blocks of 4 rows (so a change touches some blocks only):
    ``base``; ``grown`` (2 rows appended); ``edited`` (one value NaN, ``y`` made float,
    ``s`` dropped, ``z`` added); ``keyed``/``rekeyed`` (indexed by label, one row dropped
    and one value changed)."""
    monkeypatch.setattr(fingerprint, "BLOCK_ROWS", 4)
    base = pd.DataFrame(
        {"x": np.arange(10, dtype=np.float64), "y": np.arange(10), "s": list("abcdefghij")}
    )
    extra = pd.DataFrame({"x": [10.0, 11.0], "y": [10, 11], "s": ["k", "l"]})
    grown = pd.concat([base, extra], ignore_index=True)
    edited = base.drop(columns="s").assign(y=base["y"].astype("float64"), z=1)
    edited.loc[5, "x"] = math.nan
    keyed = base.set_index("s")
    rekeyed = keyed.drop(index="c")
    rekeyed.loc["e", "y"] = 40
    sn = Snapshotter(sqlite_store)
    try:
        found = {
            name: take(sn, frame, name=name, pin=True)
            for name, frame in {
                "base": base,
                "grown": grown,
                "edited": edited,
                "keyed": keyed,
                "rekeyed": rekeyed,
            }.items()
        }
        yield {"store": sqlite_store, "sn": sn, **found}
    finally:
        sn.close()


def test_snapshots_diff_table(capsys: pytest.CaptureFixture[str], versions: dict[str, Any]) -> None:
    url = versions["store"].url
    base, grown, edited = versions["base"], versions["grown"], versions["edited"]
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "diff", "base", "grown")
    assert (code, err) == (0, "")
    assert out == (
        f"{base.short} (base) -> {grown.short} (grown): rows 10 -> 12 (+2); "
        "2 appended, earlier rows unchanged; 3 of 3 columns changed\n"
        "\n"
        "COLUMN  STATUS   BLOCKS  MEAN        NULLS     DRIFT\n"
        f"x       changed     1/3  4.5 -> 5.5  0% -> 0%  {drift(versions, 'x')}\n"
        f"y       changed     1/3  4.5 -> 5.5  0% -> 0%  {drift(versions, 'y')}\n"
        f"s       changed     1/3  - -> -      0% -> 0%  {drift(versions, 's')}\n"
    )

    code, out, _ = run_cli(
        capsys, "--store", url, "snapshots", "diff", base.short, edited.short, "--sample", "5"
    )
    lines = out.splitlines()
    assert lines[0] == (
        f"{base.short} (base) -> {edited.short} (edited): rows 10 -> 10 (+0); added: z; "
        "removed: s; retyped: y int64 -> float64; 4 of 4 columns changed"
    )
    assert [cells(line)[:3] for line in lines[2:7]] == [
        ["COLUMN", "STATUS", "BLOCKS"],
        ["x", "changed", "1/3"],
        ["y", "dtype_changed", "3/3"],
        ["s", "removed", "-"],
        ["z", "added", "-"],
    ]
    assert cells(lines[3])[3:5] == ["4.5 -> 4.44444", "0% -> 10%"]
    assert cells(lines[6])[3:6] == ["- -> 1", "- -> 0%", "-"]
    # the one mismatched cell: y's 5 and 5.0 are equal values, x's 5.0 became NaN
    assert lines[7:] == [
        "",
        "Mismatched cells: 1",
        "ROW  COLUMN  A    B",
        "5    x       5.0  nan",
    ]

    code, out, _ = run_cli(
        capsys, "--store", url, "snapshots", "diff", "keyed", "rekeyed", "-s", "9"
    )
    # aligned on the index: the dropped row is counted, not reported as changed cells
    assert out.splitlines()[-5:] == [
        "",
        "Mismatched cells: 1",
        "INDEX  COLUMN  A  B",
        "e      y       4  40",
        "rows only in A: 1, only in B: 0",
    ]

    assert run_cli(capsys, "--store", url, "snapshots", "diff", "base", base.short) == (
        0,
        f"{base.short} (base) -> {base.short} (base): same data\n",
        "",
    )


def drift(versions: dict[str, Any], column: str) -> str:
    """The drift the core computes for ``column`` from base to grown, as the table shows it."""
    found = diff_snapshots(versions["sn"], versions["base"], versions["grown"])
    (col,) = [c for c in found["columns"] if c["name"] == column]
    return f"{col['drift']:.3f}"


def test_snapshots_diff_json_and_sample_bound(
    capsys: pytest.CaptureFixture[str], versions: dict[str, Any]
) -> None:
    url, sn = versions["store"].url, versions["sn"]
    code, out, _ = run_cli(
        capsys, "--store", url, "snapshots", "diff", "base", "edited", "--json", "-s", "3"
    )
    data = strict_json(out)
    response_schema("/mltrack/api/snapshots/{a}/diff/{b}").validate(data)
    assert data == api.diff_snapshots(sn, "base", "edited", {"sample": ["3"]})
    assert data == json.loads(
        json.dumps(diff_snapshots(sn, versions["base"], versions["edited"], sample=3))
    )
    assert data["sample"]["rows"] == [
        {"index": 5, "position": 5, "column": "x", "a": 5.0, "b": "nan"}
    ]
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "diff", "base", "grown", "--json")
    assert strict_json(out)["appended_rows"] == 2 and "sample" not in strict_json(out)

    for value, message in (("1001", "must be at most 1000"), ("-1", "must be 0 or more")):
        code, out, err = run_cli(
            capsys, "--store", url, "snapshots", "diff", "base", "grown", "--sample", value
        )
        assert (code, out) == (2, "") and message in err and err.count("\n") == 1, err


def test_diff_of_files_and_of_different_kinds(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path
) -> None:
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_bytes(b"a\n1\n")
    two.write_bytes(b"a\n1\n2\n")
    sn = Snapshotter(sqlite_store)
    try:
        a, b = take(sn, one, name="one"), take(sn, two, name="two")
        frame = take(sn, pd.DataFrame({"v": [1.0, 2.0], "w": [3, 4]}), name="frame")
        series = take(sn, pd.Series([1.0, 2.0], name="v"), name="series")
    finally:
        sn.close()
    url = sqlite_store.url
    _, out, _ = run_cli(capsys, "--store", url, "snapshots", "diff", "one", "two")
    assert out == f"{a.short} (one) -> {b.short} (two): size 4 B -> 6 B; content differs\n"
    _, out, _ = run_cli(capsys, "--store", url, "snapshots", "diff", "frame", "series", "-s", "3")
    assert out.splitlines()[0] == (
        f"{frame.short} (frame) -> {series.short} (series): kind dataframe -> series; "
        "rows 2 -> 2 (+0); removed: w; 1 of 2 columns changed"
    )
    assert out.splitlines()[-1] == (
        "no row sample: only two DataFrames or two Series are compared by row"
    )


def test_restore_pickle_is_exact(
    capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path
) -> None:
    url, train = snaps.url, snaps.train
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "restore", train.short)
    default = f"dataframe-{train.short}.pkl"  # unnamed: named after its kind and digest
    size = _bytes((workdir / default).stat().st_size)
    assert (code, out, err) == (
        0,
        f"wrote {default} (pickle, {size}): dataframe 4x6 from snapshot {train.short}\n",
        "",
    )
    back = pd.read_pickle(workdir / default)
    pd.testing.assert_frame_equal(back, snaps.frame, check_exact=True)
    # what assert_frame_equal treats as equal but an exact copy must keep apart
    assert back["o"].iloc[1] is None and math.isnan(back["o"].iloc[2])
    assert math.copysign(1.0, back["f"].iloc[2]) == -1.0
    assert list(back["c"].cat.categories) == ["v", "u", "w"] and back["c"].cat.ordered
    assert back["t"].dtype == snaps.frame["t"].dtype and back["t"].iloc[1] is pd.NaT
    assert back["i"].dtype == "Int64" and back["i"].iloc[1] is pd.NA

    code, out, _ = run_cli(
        capsys, "--store", url, "snapshots", "restore", "reference", "-o", "ref.pickle"
    )
    assert out.startswith("wrote ref.pickle (pickle, ") and "series 3x1" in out
    pd.testing.assert_series_equal(
        pd.read_pickle(workdir / "ref.pickle"), snaps.series, check_exact=True
    )
    # --format wins over a missing or unknown extension
    code, out, _ = run_cli(
        capsys,
        "--store",
        url,
        "snapshots",
        "restore",
        "scratch",
        "-o",
        "s.bin",
        "--format",
        "pickle",
    )
    assert code == 0
    with open(workdir / "s.bin", "rb") as fh:
        restored = pickle.load(fh)
    assert restored.dtype == np.int32 and np.array_equal(restored, snaps.array)


def test_restore_npy_is_exact_for_arrays(
    capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path
) -> None:
    code, out, _ = run_cli(
        capsys, "--store", snaps.url, "snapshots", "restore", "scratch", "--format", "npy"
    )
    assert out.startswith("wrote scratch.npy (npy, ") and out.endswith(
        f"): ndarray 3x4 from snapshot {snaps.scratch.short}\n"
    )
    back = np.load(workdir / "scratch.npy")
    assert back.dtype == np.int32 and back.shape == (3, 4)
    assert np.array_equal(back, snaps.array)

    sn = Snapshotter(snaps.store)
    try:
        objects = np.array(["a", None, "c"], dtype=object)
        take(sn, objects, name="objects")
    finally:
        sn.close()
    run_cli(capsys, "--store", snaps.url, "snapshots", "restore", "objects", "-o", "o.npy")
    back = np.load(workdir / "o.npy", allow_pickle=True)
    assert back.dtype == object and back.tolist() == ["a", None, "c"]


def test_restore_parquet_feather_csv_lose_what_the_help_says(
    capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path
) -> None:
    url, frame = snaps.url, snaps.frame
    for fmt, read in (("parquet", pd.read_parquet), ("feather", pd.read_feather)):
        code, out, _ = run_cli(
            capsys, "--store", url, "snapshots", "restore", snaps.train.short, "-o", f"t.{fmt}"
        )
        assert code == 0 and out.startswith(f"wrote t.{fmt} ({fmt}, "), out
        back = read(workdir / f"t.{fmt}")
        # kept: values (-0.0 too), categoricals, time zone, NaT, nullable ints, the index
        pd.testing.assert_frame_equal(
            back.drop(columns="o"), frame.drop(columns="o"), check_exact=True
        )
        # lost: None and NaN in an object column are both just missing
        assert back["o"].isna().tolist() == [False, True, True, False]
        assert back["o"].iloc[0] == "a"

    run_cli(capsys, "--store", url, "snapshots", "restore", snaps.train.short, "-o", "t.csv")
    text = (workdir / "t.csv").read_text()
    assert text.splitlines()[:3] == [
        "key,f,o,c,t,i,b",
        "r1,1.5,a,u,2024-03-31 01:30:00+01:00,1,True",
        "r2,,,,,,False",  # None and NaN alike: empty
    ]
    back = pd.read_csv(workdir / "t.csv", index_col="key")
    assert back["i"].dtype == np.float64 and back["c"].dtype != frame["c"].dtype

    # a Series is a one-column frame, a 2-D array one column per array column
    run_cli(capsys, "--store", url, "snapshots", "restore", "reference", "-o", "r.feather")
    pd.testing.assert_series_equal(
        pd.read_feather(workdir / "r.feather")["score"], snaps.series, check_exact=True
    )
    run_cli(capsys, "--store", url, "snapshots", "restore", "scratch", "-o", "a.parquet")
    back = pd.read_parquet(workdir / "a.parquet")
    assert back.shape == (3, 4) and np.array_equal(back.to_numpy(), snaps.array)
    assert (back.dtypes == np.int32).all()


def test_restore_arrow_tables(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, workdir: Path
) -> None:
    table = pa.table(
        {"n": pa.array([1, None, 3], pa.int16()), "s": ["x", None, "z"]},
        metadata={"source": "sensor"},
    )
    sn = Snapshotter(sqlite_store)
    try:
        take(sn, table, name="readings")
    finally:
        sn.close()
    url = sqlite_store.url
    for fmt in ("pkl", "parquet", "feather", "csv"):
        code, out, err = run_cli(
            capsys, "--store", url, "snapshots", "restore", "readings", "-o", f"r.{fmt}"
        )
        assert code == 0, err
    with open(workdir / "r.pkl", "rb") as fh:
        assert pickle.load(fh).equals(table, check_metadata=True)
    assert pq.read_table(workdir / "r.parquet").equals(table, check_metadata=True)
    assert pa_feather.read_table(workdir / "r.feather").equals(table, check_metadata=True)
    assert (workdir / "r.csv").read_text().splitlines() == ['"n","s"', '1,"x"', ",", '3,"z"']


def test_restore_a_file_byte_for_byte(
    capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path
) -> None:
    url, short = snaps.url, snaps.labels.short
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "restore", short)
    size = f"{len(FILE_BYTES)} B"
    assert (code, out, err) == (0, f"wrote labels.csv ({size}): file snapshot {short}\n", "")
    restored = workdir / "labels.csv"  # its original name, in the current folder
    assert restored.read_bytes() == FILE_BYTES
    assert os.access(restored, os.W_OK)  # a copy the user owns, not the read-only blob

    restored.write_bytes(b"edited")
    code, out, err = run_cli(capsys, "--store", url, "snapshots", "restore", short)
    assert (code, out) == (1, "")
    assert err == "mltrack: error: labels.csv already exists (pass --force to overwrite it)\n"
    assert restored.read_bytes() == b"edited"
    code, out, _ = run_cli(capsys, "--store", url, "snapshots", "restore", short, "--force")
    assert code == 0 and restored.read_bytes() == FILE_BYTES

    (workdir / "into").mkdir()
    run_cli(capsys, "--store", url, "snapshots", "restore", short, "-o", "into")
    assert (workdir / "into" / "labels.csv").read_bytes() == FILE_BYTES
    run_cli(capsys, "--store", url, "snapshots", "restore", short, "-o", "into/other.bin")
    assert (workdir / "into" / "other.bin").read_bytes() == FILE_BYTES
    assert sorted(p.name for p in workdir.rglob("*")) == [
        "into",
        "labels.csv",
        "labels.csv",
        "other.bin",
    ]  # no temporary files left behind


def test_restore_refusals(capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path) -> None:
    url = snaps.url
    (workdir / "taken.pkl").write_bytes(b"mine")
    sn = Snapshotter(snaps.store)
    try:
        take(sn, np.zeros((2, 2, 2)), name="cube")
        waves = take(sn, np.array([1 + 2j, -3j]), name="waves")
    finally:
        sn.close()
    cases = [
        (("reference", "-o", "taken.pkl"), 1, "taken.pkl already exists (pass --force"),
        (("reference", "-o", "x.txt"), 2, "cannot tell a format from 'x.txt'"),
        (("reference", "--format", "npy"), 2, "npy holds numpy arrays; snapshot"),
        ((snaps.labels.short, "--format", "csv"), 2, "a file snapshot is restored byte for"),
        (("cube", "-o", "c.csv"), 2, "a 3-dimensional array has no table form for csv"),
        (("reference", "-o", "missing/x.pkl"), 1, "no such folder: missing"),
        (("reference", "-o", "missing/"), 1, "no such folder: missing"),
        (("reference", "--format", "xlsx"), 2, "invalid choice: 'xlsx'"),
        (
            ("waves", "-o", "w.parquet"),
            1,
            f"cannot write snapshot {waves.short} as parquet: ('Unsupported numpy type 15', "
            "'Conversion failed for column values with type complex128') "
            "(--format pickle restores any snapshot exactly)",
        ),
    ]
    for argv, expected_code, message in cases:
        code, out, err = run_cli(capsys, "--store", url, "snapshots", "restore", *argv)
        assert (code, out) == (expected_code, ""), (argv, err)
        lines = 3 if " at column " in err.splitlines()[0] else 1  # + the query and a caret
        assert err.startswith("mltrack: error: ") and err.count("\n") == lines, err
        assert message in err, (argv, err)
    assert [p.name for p in workdir.iterdir()] == ["taken.pkl"]
    assert (workdir / "taken.pkl").read_bytes() == b"mine"

    code, _, _ = run_cli(
        capsys, "--store", url, "snapshots", "restore", "reference", "-o", "taken.pkl", "--force"
    )
    assert code == 0
    pd.testing.assert_series_equal(
        pd.read_pickle(workdir / "taken.pkl"), snaps.series, check_exact=True
    )


def blob_files(store: Store) -> dict[str, int]:
    assert store.home is not None
    folder = store.home / "blobs"
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_gc_dry_run_then_real(
    capsys: pytest.CaptureFixture[str], snaps: Filled, workdir: Path
) -> None:
    url, st = snaps.url, snaps.store
    sn = Snapshotter(st)
    try:  # unused too, but every block of it is shared with run 1's input
        shared = take(sn, snaps.frame[["f", "c"]])
    finally:
        sn.close()
    assert shared.stored_bytes == 0
    before = blob_files(st)

    code, out, _ = run_cli(capsys, "--store", url, "gc", "--dry-run", "--json")
    report = strict_json(out)
    assert code == 0
    assert set(report) == {
        "dry_run",
        "snapshots",
        "blocks",
        "packs_deleted",
        "packs_rewritten",
        "artifact_packs_rewritten",
        "artifact_packs_damaged",
        "orphans",
        "orphans_waiting",
        "orphans_waiting_why",
        "temp_files",
        "abandoned",
        "abandoned_artifacts",
        "bytes_freed",
    }
    assert report["dry_run"] is True
    assert sorted(report["snapshots"]) == sorted([snaps.scratch.digest, shared.digest])
    assert report["blocks"] >= 1 and report["packs_deleted"] >= 1 and report["bytes_freed"] > 0
    assert report["orphans"] == 0 and report["packs_rewritten"] == 0
    assert report["temp_files"] == 0 and report["abandoned"] == []
    assert report["abandoned_artifacts"] == []
    code, out, _ = run_cli(capsys, "--store", url, "gc", "-n")
    assert out == (
        f"dry run: would delete 2 snapshots, {plural(report['blocks'], 'block')} and "
        f"{plural(report['packs_deleted'], 'pack')}; would free "
        f"{_bytes(report['bytes_freed'])} ({report['bytes_freed']:,} bytes)\n"
    )
    assert blob_files(st) == before  # a dry run deletes nothing
    assert st.list_snapshots()[1] == 5

    code, out, err = run_cli(capsys, "--store", url, "gc")
    assert (code, err) == (0, "")
    assert out == (
        f"deleted 2 snapshots, {plural(report['blocks'], 'block')} and "
        f"{plural(report['packs_deleted'], 'pack')}; freed "
        f"{_bytes(report['bytes_freed'])} ({report['bytes_freed']:,} bytes)\n"
    )
    after = blob_files(st)
    assert set(after) < set(before)
    assert sum(before.values()) - sum(after.values()) == report["bytes_freed"]

    for gone in ("scratch", shared.short):
        code, _, err = run_cli(capsys, "--store", url, "snapshots", "show", gone)
        assert (code, err) == (1, f"mltrack: error: no snapshot {gone!r}\n")
    # what a run used, and what was pinned, is still whole
    run_cli(capsys, "--store", url, "snapshots", "restore", snaps.train.short, "-o", "t.pkl")
    pd.testing.assert_frame_equal(pd.read_pickle(workdir / "t.pkl"), snaps.frame, check_exact=True)
    run_cli(capsys, "--store", url, "snapshots", "restore", "reference", "-o", "r.pkl")
    pd.testing.assert_series_equal(
        pd.read_pickle(workdir / "r.pkl"), snaps.series, check_exact=True
    )
    run_cli(capsys, "--store", url, "snapshots", "restore", snaps.labels.short)
    assert (workdir / "labels.csv").read_bytes() == FILE_BYTES

    assert run_cli(capsys, "--store", url, "gc") == (
        0,
        "nothing to delete: every snapshot is used by a run or pinned\n",
        "",
    )
    code, out, _ = run_cli(capsys, "--store", url, "gc", "--json")
    assert strict_json(out) == {
        "dry_run": False,
        "snapshots": [],
        "blocks": 0,
        "packs_deleted": 0,
        "packs_rewritten": 0,
        "artifact_packs_rewritten": 0,
        "artifact_packs_damaged": [],
        "orphans": 0,
        "orphans_waiting": 0,
        "orphans_waiting_why": None,
        "temp_files": 0,
        "abandoned": [],
        "abandoned_artifacts": [],
        "bytes_freed": 0,
    }


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def test_order_gluing_is_only_for_runs() -> None:
    """``-o`` is ``runs list``'s order and ``snapshots restore``'s output path."""
    assert _glue_order(["--store", "runs", "runs", "list", "-o", "-duration"]) == [
        "--store",
        "runs",
        "runs",
        "list",
        "--order=-duration",
    ]
    argv = ["--store", "u", "snapshots", "restore", "ab12", "-o", "-odd-name.pkl"]
    assert _glue_order(argv) == argv


def test_snapshot_commands_in_a_subprocess(snaps: Filled, tmp_path: Path) -> None:
    """The real entry point: each command ends (the snapshotter's threads are shut down)
    and answers on stdout/stderr with its exit code."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "jupyter_mltrack.cli", "--store", snaps.url]

    def mltrack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
        )

    done = mltrack("snapshots", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["total"] == 4
    done = mltrack("snapshots", "restore", snaps.train.short, "-o", "train.parquet")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote train.parquet (parquet, ")
    restored = pd.read_parquet(tmp_path / "train.parquet")
    pd.testing.assert_frame_equal(restored.drop(columns="o"), snaps.frame.drop(columns="o"))
    done = mltrack("snapshots", "diff", snaps.train.short, snaps.reference.short, "--json")
    assert done.returncode == 0, done.stderr
    assert strict_json(done.stdout)["kind"] == "dataframe -> series"
    done = mltrack("gc", "--dry-run")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("dry run: would delete 1 snapshot, ")
    missing = mltrack("snapshots", "show", "ffff")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "mltrack: error: no snapshot 'ffff'\n"


def test_restore_never_clobbers_a_file_that_appears_while_writing(tmp_path: Path) -> None:
    """Another process may create the output while a large snapshot is being written: the
    finished file is then not moved over it, and no temporary file is left."""
    dest = tmp_path / "out.pkl"

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"restored")
        dest.write_bytes(b"theirs")  # appears meanwhile

    with pytest.raises(WriteError, match=r"out.pkl already exists \(pass --force"):
        _publish(dest, write, force=False)
    assert dest.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]
    _publish(dest, lambda tmp: tmp.write_bytes(b"restored"), force=True)
    assert dest.read_bytes() == b"restored"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pkl"]
