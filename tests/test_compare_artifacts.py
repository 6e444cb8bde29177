"""The artifacts section of a comparison (``compare.artifacts``) on runs whose artifacts are
written into a real store and blob folder: statuses and per-run states, text diffs (and why
a file is not diffed), image references, models, folders, and what it reads.

SQLite only: the section reads the store through ``artifact_counts`` and ``list_artifacts``,
which ``test_artifacts`` covers on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from jupyter_mltrack.compare import artifacts as section
from jupyter_mltrack.compare import compare
from jupyter_mltrack.compare.artifacts import artifacts_section
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.models.figures import PLOTLY_MIME
from jupyter_mltrack.store import Store


@pytest.fixture
def st(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}", blob_url=(tmp_path / "blobs").as_uri())
    yield store
    store.close()


@pytest.fixture(autouse=True)
def _no_remembered_diffs() -> Iterator[None]:
    """Each test starts with no diff remembered (the cache is per process)."""
    section._cache.clear()
    yield
    section._cache.clear()


def runs(st: Store, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        run = st.create_run("exp")
        st.finish_run(run.id, "finished")
        ids.append(run.id)
    return ids


def text(st: Store, run_id: str, name: str, body: str, kind: str = "text") -> None:
    media = "application/json" if name.endswith(".json") else "text/plain"
    write_artifact(st, run_id, name, kind, [Source(name, data=body.encode())], media_type=media)


def row_of(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (found,) = [r for r in rows if r["name"] == name]
    return found


def test_statuses_states_and_text_diffs(st: Store) -> None:
    base, same, other = runs(st, 3)
    for run_id in (base, same, other):
        text(st, run_id, "notes.txt", "identical\n")
    text(st, base, "report.md", "# Report\nacc 0.91\nloss 0.3\n")
    text(st, same, "report.md", "# Report\nacc 0.91\nloss 0.3\n")
    text(st, other, "report.md", "# Report\nacc 0.94\nloss 0.3\n")
    params = {"lr": 0.1, "layers": [64, 32]}
    write_artifact(
        st,
        base,
        "config.json",
        "dict",
        [Source("config.json", data=json.dumps(params, indent=2).encode())],
    )
    write_artifact(
        st,
        other,
        "config.json",
        "dict",
        [Source("config.json", data=json.dumps({**params, "lr": 0.01}, indent=2).encode())],
    )
    text(st, other, "extra.txt", "only here\n")

    rows = artifacts_section(st, [base, same, other])
    assert [r["name"] for r in rows] == ["config.json", "extra.txt", "notes.txt", "report.md"]

    notes = row_of(rows, "notes.txt")
    assert notes["status"] == "same" and notes["view"] == "text"
    assert notes["states"] == [None, "same", "same"]
    assert notes["text_diffs"] == [None, None, None]
    digests = {side["files"][0]["digest"] for side in notes["runs"]}
    assert len(digests) == 1

    report = row_of(rows, "report.md")
    assert report["status"] == "changed" and report["kind"] == "text"
    assert report["states"] == [None, "same", "changed"]
    assert report["file_changes"] == [
        None,
        {"added": 0, "removed": 0, "changed": 0},
        {"added": 0, "removed": 0, "changed": 1},
    ]
    assert report["text_diffs"][:2] == [None, None]
    (entry,) = report["text_diffs"][2]
    assert entry["path"] == "report.md" and entry["reason"] is None
    assert not entry["diff"]["same"]
    (hunk,) = entry["diff"]["hunks"]
    assert hunk["header"] == "@@ -1,3 +1,3 @@"
    assert hunk["lines"] == [" # Report", "-acc 0.91", "+acc 0.94", " loss 0.3"]

    config = row_of(rows, "config.json")
    assert config["status"] == "missing" and config["kind"] == "dict"
    assert config["runs"][1] is None and config["states"] == [None, "missing", "changed"]
    (entry,) = config["text_diffs"][2]
    assert '-  "lr": 0.1,' in entry["diff"]["hunks"][0]["lines"]
    assert '+  "lr": 0.01,' in entry["diff"]["hunks"][0]["lines"]

    extra = row_of(rows, "extra.txt")
    assert extra["status"] == "missing" and extra["states"] == [None, None, "added"]
    assert extra["runs"][0] is None and extra["runs"][2]["size"] == len("only here\n")
    assert extra["text_diffs"] == [None, None, None]


def test_images_are_referenced_not_sent(st: Store) -> None:
    base, other = runs(st, 2)
    for run_id, png in ((base, b"\x89PNG one"), (other, b"\x89PNG two")):
        write_artifact(
            st,
            run_id,
            "roc",
            "figure",
            [Source("roc.png", data=png), Source("roc.svg", data=b"<svg>" + png[-3:] + b"</svg>")],
            meta={"library": "matplotlib", "formats": ["png", "svg"], "primary": "roc.png"},
            media_type="image/png",
        )
        write_artifact(
            st,
            run_id,
            "curve",
            "figure",
            [
                Source("curve.json", data=b'{"data": [], "layout": {}}'),
                Source("curve.html", data=b"<html>" + png + b"</html>"),
            ],
            meta={"library": "plotly", "formats": ["json", "html"], "primary": "curve.json"},
            media_type=PLOTLY_MIME,
        )
    write_artifact(
        st, other, "photo.jpg", "file", [Source("photo.jpg", data=b"\xff\xd8jpeg")], media_type=None
    )

    rows = artifacts_section(st, [base, other])
    roc = row_of(rows, "roc")
    assert roc["view"] == "image" and roc["status"] == "changed"
    assert roc["images"] == [
        {"run_id": base, "name": "roc", "path": "roc.png", "media_type": "image/png", "size": 8},
        {"run_id": other, "name": "roc", "path": "roc.png", "media_type": "image/png", "size": 8},
    ]
    assert roc["file_changes"][1] == {"added": 0, "removed": 0, "changed": 2}
    # no image bytes, and no diff of a figure's SVG or HTML
    assert "PNG" not in json.dumps(rows)
    assert roc["text_diffs"] == [None, None]

    curve = row_of(rows, "curve")
    assert curve["view"] == "image" and curve["text_diffs"] == [None, None]
    assert [i["path"] for i in curve["images"]] == ["curve.json", "curve.json"]
    assert {i["media_type"] for i in curve["images"]} == {PLOTLY_MIME}

    photo = row_of(rows, "photo.jpg")
    assert photo["view"] == "image" and photo["status"] == "missing"
    assert photo["images"][0] is None
    assert photo["images"][1]["media_type"] == "image/jpeg"


def test_models_compare_formats_and_bytes(st: Store) -> None:
    base, same, other = runs(st, 3)
    weights = {base: b"w1", same: b"w1", other: b"w2"}
    versions = {base: "1.5.2", same: "1.5.2", other: "1.6.0"}
    for run_id in (base, same, other):
        write_artifact(
            st,
            run_id,
            "model",
            "model",
            [Source("model.skops", data=weights[run_id]), Source("README.txt", data=b"a model")],
            meta={"format": "skops", "flavor": "sklearn", "library_version": versions[run_id]},
        )
    (row,) = artifacts_section(st, [base, same, other])
    assert row["view"] == "model" and row["status"] == "changed"
    assert row["states"] == [None, "same", "changed"]
    assert [side["model"] for side in row["runs"]] == [
        {"format": "skops", "flavor": "sklearn", "library_version": v} for v in versions.values()
    ]
    # a model's files are compared by bytes, never diffed (its README neither)
    assert row["text_diffs"] == [None, None, None]
    assert row["file_changes"][2] == {"added": 0, "removed": 0, "changed": 1}


def test_text_that_cannot_be_diffed_says_why(st: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    base, other = runs(st, 2)
    big = "x" * (section.TEXT_LIMIT + 1)
    text(st, base, "big.log", big + "\n")
    text(st, other, "big.log", "short\n")
    write_artifact(st, base, "data.txt", "file", [Source("data.txt", data=b"a\x00b")])
    write_artifact(st, other, "data.txt", "file", [Source("data.txt", data=b"a\x00c")])
    long_old = "".join(f"line {i}\n" for i in range(40))
    long_new = "".join(f"line {i}{'!' if i % 10 == 0 else ''}\n" for i in range(40))
    text(st, base, "long.txt", long_old)
    text(st, other, "long.txt", long_new)
    monkeypatch.setattr(section, "MAX_DIFF_LINES", 10)

    rows = artifacts_section(st, [base, other])
    (entry,) = row_of(rows, "big.log")["text_diffs"][1]
    assert entry["diff"] is None
    assert entry["reason"].startswith("too big to diff (256.0 KB and 6 bytes;")
    (entry,) = row_of(rows, "data.txt")["text_diffs"][1]
    assert entry == {"path": "data.txt", "diff": None, "reason": "binary content: not diffed"}
    (entry,) = row_of(rows, "long.txt")["text_diffs"][1]
    # four hunks (5, 8, 8 and 8 lines): only the first fits in 10 lines
    assert [h["header"] for h in entry["diff"]["hunks"]] == ["@@ -1,4 +1,4 @@"]
    assert entry["reason"] == "diff cut: 5 of its 29 lines shown"

    monkeypatch.setattr(section, "MAX_DIFFED_FILES", 0)
    section._cache.clear()
    (entry,) = row_of(artifacts_section(st, [base, other]), "long.txt")["text_diffs"][1]
    assert entry["diff"] is None
    assert entry["reason"] == "not diffed: a comparison diffs at most 0 files"


def test_folders_diff_their_changed_text_files(st: Store) -> None:
    base, other = runs(st, 2)

    def folder(run_id: str, files: dict[str, bytes]) -> None:
        sources = [Source(path, data=data) for path, data in files.items()]
        write_artifact(st, run_id, "outputs", "folder", sources)

    folder(base, {"a.txt": b"one\n", "b.bin": b"\x01", "c.csv": b"x\n1\n", "gone.txt": b"-"})
    folder(other, {"a.txt": b"one\n", "b.bin": b"\x02", "c.csv": b"x\n2\n", "new.yaml": b"k: v\n"})
    (row,) = artifacts_section(st, [base, other])
    assert row["view"] == "text" and row["status"] == "changed"
    assert row["file_changes"][1] == {"added": 1, "removed": 1, "changed": 2}
    (entry,) = row["text_diffs"][1]  # the binary file is compared by bytes only
    assert entry["path"] == "c.csv"
    assert entry["diff"]["hunks"][0]["lines"] == [" x", "-1", "+2"]
    assert [f["path"] for f in row["runs"][1]["files"]] == ["a.txt", "b.bin", "c.csv", "new.yaml"]


def test_reads_each_file_once_and_a_diff_once(st: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    base, second, third = runs(st, 3)
    text(st, base, "log.txt", "a\nb\n")
    text(st, second, "log.txt", "a\nc\n")
    text(st, third, "log.txt", "a\nc\n")
    reads: list[str] = []
    real = section.read_bytes

    def counting(store: Store, artifact: Any, path: str | None = None, **kw: Any) -> bytes:
        reads.append(artifact.file(path).digest)
        return real(store, artifact, path, **kw)

    monkeypatch.setattr(section, "read_bytes", counting)
    first = artifacts_section(st, [base, second, third])
    # the baseline's file and the one the other two share: two reads for two diffs
    assert len(reads) == 2 and len(set(reads)) == 2
    assert first[0]["text_diffs"][1] == first[0]["text_diffs"][2]
    # a live comparison polls: the same digests are not read again
    assert artifacts_section(st, [base, second, third]) == first
    assert len(reads) == 2


def test_runs_without_artifacts_cost_one_query(st: Store) -> None:
    ids = runs(st, 3)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(st.engine, "before_cursor_execute", seen)
    try:
        assert artifacts_section(st, ids) == []
    finally:
        event.remove(st.engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert compare(st, ids).to_dict()["artifacts"] == []
