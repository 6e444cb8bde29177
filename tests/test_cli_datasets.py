"""``mltrack datasets …`` against a real SQLite store: push a file and a table, push again,
list, versions (with a run that read one), show, get back byte for byte and as parquet, tag
and move a tag, diff. Bad input to each command is in tests/test_cli_inputs.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.store import Store

CSV = "id,score\n1,0.5\n2,0.25\n3,0.125\n"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An existing store (the CLI never creates one), and a folder to work in."""
    Store(str(tmp_path / "home")).close()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.csv").write_text(CSV)
    return tmp_path / "home"


def test_push_list_versions_show_get(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    store = str(home)
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "push", "scores.csv", "team/scores",
        "-m", "raw export", "--meta", '{"source": "crm"}', "-t", "v1",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("pushed team/scores@") and f"@v1 (latest): file, {len(CSV)} B" in out
    code, out, _ = run_cli(
        capsys, "--store", store, "datasets", "push", "scores.csv", "team/scores",
        "--meta", '{"source": "crm"}', "--json",
    )  # fmt: skip
    again = json.loads(out)
    assert code == 0 and again["created"] is False and again["message"] == "raw export"
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "push", "scores.csv", "team/scores", "--table",
        "-m", "as rows", "-t", "gold",
    )  # fmt: skip
    assert code == 0 and "@gold (latest): dataframe 3x2" in out, err

    # a run read the table version by name
    st = Store(store)
    try:
        table_version = st.resolve_dataset_version("team/scores", "gold")
        run = st.create_run(
            "train",
            data=[("input", "scores", table_version.snapshot_digest, None, table_version.ref)],
        )
    finally:
        st.close()

    code, out, _ = run_cli(capsys, "--store", store, "datasets", "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "NAME",
        "VERSIONS",
        "LATEST",
        "KIND",
        "SHAPE",
        "SIZE",
        "TAGS",
        "UPDATED",
    ]
    assert row.split()[:5] == ["team/scores", "2", table_version.short, "dataframe", "3x2"]
    assert "@gold @v1" in row

    code, out, _ = run_cli(capsys, "--store", store, "datasets", "versions", "team/scores")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[1].startswith(f"{table_version.short}  @gold (latest)  dataframe")
    assert lines[1].split()[-3:] == ["1", "as", "rows"]  # RUNS, MESSAGE
    assert lines[2].split()[-3:] == ["0", "raw", "export"]
    versions = json.loads(
        run_cli(capsys, "--store", store, "datasets", "versions", "team/scores", "--json")[1]
    )
    assert [v["tags"] for v in versions] == [["gold"], ["v1"]]
    assert versions[0]["runs"] == [
        {"run_id": run.id, "experiment": "train", "number": 1, "name": "scores",
         "dataset": table_version.ref}
    ]  # fmt: skip
    assert versions[1]["meta"] == {"source": "crm"} and versions[1]["runs"] == []

    code, out, _ = run_cli(capsys, "--store", store, "datasets", "show", "team/scores@gold")
    assert code == 0 and "Columns:" in out and "score  float64" in out
    assert f"#1 of train ({run.id[:8]}): scores (by name)" in out
    shown = json.loads(
        run_cli(capsys, "--store", store, "datasets", "show", "team/scores@v1", "--json")[1]
    )
    assert shown["manifest"]["meta"] == {"source": "crm"}
    assert (
        shown["version"]["kind"] == "file" and shown["snapshot"]["schema"]["name"] == "scores.csv"
    )

    Path("out").mkdir()
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "get", "team/scores@v1", "-o", "out/"
    )
    assert code == 0, err
    assert Path("out/scores.csv").read_text() == CSV
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "get", f"team/scores@{table_version.hex[:8]}",
        "-o", "out/scores.parquet",
    )  # fmt: skip
    assert code == 0 and out.startswith("wrote out/scores.parquet (parquet"), err
    pd.testing.assert_frame_equal(pd.read_parquet("out/scores.parquet"), pd.read_csv("scores.csv"))
    code, _, err = run_cli(
        capsys, "--store", store, "datasets", "get", "team/scores@v1", "-o", "out/"
    )
    assert code == 1 and "already exists (pass --force" in err


def test_tags_move_and_diff(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    store = str(home)
    run_cli(
        capsys, "--store", store, "datasets", "push", "scores.csv", "t/s", "--table", "-t", "v1"
    )
    Path("scores.csv").write_text(CSV + "4,0.0625\n")
    run_cli(capsys, "--store", store, "datasets", "push", "scores.csv", "t/s", "--table")
    code, out, _ = run_cli(capsys, "--store", store, "datasets", "tag", "t/s", "gold")
    assert code == 0 and out.startswith("@gold -> t/s@") and "moved" not in out
    code, out, _ = run_cli(capsys, "--store", store, "datasets", "tag", "t/s@v1", "gold")
    assert code == 0 and "(moved from " in out
    code, out, _ = run_cli(capsys, "--store", store, "datasets", "diff", "t/s@gold", "t/s")
    assert code == 0
    first, second = out.splitlines()[:2]
    assert first.startswith("t/s@") and " -> t/s@" in first
    assert "rows 3 -> 4 (+1); 1 appended, earlier rows unchanged" in second
    diff = json.loads(
        run_cli(capsys, "--store", store, "datasets", "diff", "t/s@v1", "t/s", "--json")[1]
    )
    assert diff["rows"] == {"a": 3, "b": 4, "delta": 1} and diff["refs"]["a"].startswith("t/s@")
    code, out, _ = run_cli(capsys, "--store", store, "datasets", "tag", "t/s", "gold", "--delete")
    assert code == 0 and out == "deleted tag gold of t/s\n"
    code, _, err = run_cli(capsys, "--store", store, "datasets", "get", "t/s@gold")
    assert code == 1 and "has no tag 'gold' (its tags: v1)" in err


def test_push_get_and_diff_a_folder(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    store = str(home)
    images = Path("images")
    (images / "cats").mkdir(parents=True)
    (images / "a.txt").write_bytes(b"alpha")
    (images / "cats" / "1.png").write_bytes(b"cat one")
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "push", "images", "team/images", "-t", "v1"
    )
    assert code == 0 and "@v1 (latest): folder, 12 B" in out, err
    code, out, err = run_cli(capsys, "--store", store, "datasets", "push", "images", "team/images")
    assert code == 0 and out.startswith("unchanged:"), err
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "push", "images", "team/images", "--table"
    )
    assert code != 0 and "is a folder: --table" in err

    (images / "cats" / "2.png").write_bytes(b"cat two")
    (images / "a.txt").unlink()
    assert run_cli(capsys, "--store", store, "datasets", "push", "images", "team/images")[0] == 0
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "diff", "team/images@v1", "team/images"
    )
    assert code == 0, err
    assert "1 added, 1 removed, 0 changed, 1 unchanged" in out
    assert "  + cats/2.png" in out and "  - a.txt" in out

    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "get", "team/images@v1", "-o", "restored"
    )
    assert code == 0 and out.startswith("wrote restored/ (2 files, 12 B)"), err
    assert (Path("restored") / "cats" / "1.png").read_bytes() == b"cat one"
    assert sorted(p.name for p in Path("restored").rglob("*")) == ["1.png", "a.txt", "cats"]
    code, out, err = run_cli(
        capsys, "--store", store, "datasets", "get", "team/images@v1", "-o", "restored"
    )
    assert code != 0 and "not an empty folder" in err
    code, out, err = run_cli(capsys, "--store", store, "datasets", "show", "team/images@v1")
    assert code == 0 and "files:    2" in out, err
