"""``mltrack.log_table`` / ``load_table``: tables kept as Parquet artifacts, as MLflow's
``log_table`` and W&B's ``Table`` keep them, but every dtype read back as logged. Written
through the public API into a real SQLite store and blob folder; previews, refusals (nothing
recorded), the comparison and an exported pipeline's tracker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.compare import tables as compare_tables
from jupyter_mltrack.compare.artifact_rows import side_text, table_change_text
from jupyter_mltrack.compare.artifacts import artifacts_section
from jupyter_mltrack.compare.tables import table_diff
from jupyter_mltrack.models import tables
from jupyter_mltrack.models.artifacts import ArtifactError
from jupyter_mltrack.models.preview import preview
from jupyter_mltrack.store import Store


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


def predictions(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "score": rng.random(rows),
            "label": pd.Categorical(["cat", "dog", "eel"] * (rows // 3)),
            "seen": pd.date_range("2024-01-01", periods=rows, freq="h", tz="Europe/Paris"),
            "votes": pd.array([1, None, 3] * (rows // 3), dtype="Int64"),
            "note": ["<script>alert(1)</script>", "a & b", None] * (rows // 3),
        }
    )
    frame.loc[5, "score"] = np.nan
    return frame.set_axis(pd.Index(np.arange(rows) * 2, name="row"), axis=0)


def test_a_table_comes_back_as_logged_and_is_stored_once(api_store: Store) -> None:
    frame = predictions()
    with mltrack.start_run() as run:
        first = mltrack.log_table(frame, "eval/predictions")
        again = mltrack.log_table(frame.copy(), "eval/again.parquet")
    assert (first.name, first.files[0].path) == ("eval/predictions", "predictions.parquet")
    assert first.media_type == "application/vnd.apache.parquet" and first.kind == "file"
    assert first.meta["rows"] == 300 and first.meta["format"] == "parquet"
    assert first.meta["columns"][2] == {"name": "label", "dtype": "category"}
    assert again.files[0].digest == first.files[0].digest  # the same bytes: stored once
    assert again.meta["stored_bytes"] == 0
    back = mltrack.load_table(f"{run.id}/eval/predictions")
    pd.testing.assert_frame_equal(back, frame)
    assert back["seen"].dtype == frame["seen"].dtype and "Europe/Paris" in str(back["seen"].dtype)


def test_a_dict_of_columns_and_a_pyarrow_table(api_store: Store) -> None:
    with mltrack.start_run() as run:
        mltrack.log_table({"k": [1, 2], "v": ["a", "b"]}, "from-dict")
        mltrack.log_table(pa.table({"k": [3], "v": ["c"]}), "from-arrow")
        mltrack.log_table(pd.DataFrame({1: [1.5], 2: [2.5]}), "int-columns")
    expected = pd.DataFrame({"k": [1, 2], "v": ["a", "b"]})
    pd.testing.assert_frame_equal(mltrack.load_table(f"{run.id}/from-dict"), expected)
    assert mltrack.load_table(f"{run.id}/from-arrow").to_dict("list") == {"k": [3], "v": ["c"]}
    assert list(mltrack.load_table(f"{run.id}/int-columns").columns) == ["1", "2"]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ([[1, 2]], "t", "takes a pandas DataFrame, a dict of columns or a pyarrow Table, not"),
        ({"a": [1, 2], "b": [1]}, "t", "a dict of columns of one length"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "t", r"\['a'\] repeat"),
        (pd.DataFrame([[1, 2]], columns=[1, "1"]), "t", r"\['1'\] repeat"),
        (pd.DataFrame({"a": [1]}), "t.csv", "a table is kept as Parquet, not .csv"),
        (pd.DataFrame({"mixed": [1, "two"]}), "t", "cannot be kept as Parquet"),
    ],
)
def test_what_is_no_table_is_refused_and_nothing_recorded(
    api_store: Store, data: Any, name: str, message: str
) -> None:
    with mltrack.start_run() as run, pytest.raises(ArtifactError, match=message):
        mltrack.log_table(data, name)
    assert api_store.list_artifacts(run.id) == []


def test_load_table_names_what_it_was_given_instead(api_store: Store) -> None:
    with mltrack.start_run() as run:
        mltrack.log_text("hello", "notes.txt")
    with pytest.raises(ArtifactError, match="is a text artifact .text/plain., not a table"):
        mltrack.load_table(f"{run.id}/notes.txt")
    with pytest.raises(ArtifactError, match="names a registered model; a table is 'RUN/NAME'"):
        mltrack.load_table("models:/churn@production")


def test_a_parquet_file_of_a_folder_loads_as_a_table(api_store: Store, tmp_path: Path) -> None:
    """``log_artifact("outputs/")`` of a folder holding a Parquet file: ``load_table``
    reads that file by its path in the reference or ``path=``, as the other loaders do;
    another file of the folder is refused, saying what reads it."""
    frame = pd.DataFrame({"id": [1, 2], "when": pd.to_datetime(["2026-01-01", "2026-01-02"])})
    (tmp_path / "outputs").mkdir()
    frame.to_parquet(tmp_path / "outputs" / "preds.parquet")
    (tmp_path / "outputs" / "notes.csv").write_text("a\n1\n")
    with mltrack.start_run():
        mltrack.log_artifact(tmp_path / "outputs")
    pd.testing.assert_frame_equal(mltrack.load_table("1/outputs/preds.parquet"), frame)
    pd.testing.assert_frame_equal(mltrack.load_table("1/outputs", path="preds.parquet"), frame)
    with pytest.raises(ArtifactError, match="is notes.csv, a file of a folder artifact, not a Par"):
        mltrack.load_table("1/outputs/notes.csv")
    with pytest.raises(ArtifactError, match="is a folder artifact .no type., not a table"):
        mltrack.load_table("1/outputs")


def test_the_preview_is_the_first_rows_escaped(api_store: Store) -> None:
    with mltrack.start_run():
        art = mltrack.log_table(predictions(), "predictions")
        small = mltrack.log_table({"a": [1, 2, 3]}, "small")
        wide = mltrack.log_table({f"c{i}": [i] for i in range(50)}, "wide")
    shown = preview(api_store, art)
    html = shown["bundle"]["text/html"]
    assert html.count("<tr>") == 1 + tables.PREVIEW_ROWS  # the header, then 100 rows
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a &amp; b" in html
    assert shown["reason"] == "The first 100 of 300 rows shown; load_table or Download has all."
    assert "id" in shown["bundle"]["text/plain"].splitlines()[0]
    assert preview(api_store, small)["reason"] is None
    assert preview(api_store, wide)["reason"] == (
        "40 of 50 columns shown; load_table or Download has all."
    )
    assert "c39" in preview(api_store, wide)["bundle"]["text/html"]


def test_a_file_named_parquet_that_is_not_says_so(api_store: Store, tmp_path: Path) -> None:
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"not parquet at all")
    with mltrack.start_run():
        art = mltrack.log_artifact(fake)
    shown = preview(api_store, art)
    assert shown["bundle"] is None and shown["reason"].startswith("not a table Parquet can read")


def test_tables_compare_by_their_bytes(api_store: Store) -> None:
    ids = []
    for score in (0.5, 0.5, 0.7):
        with mltrack.start_run() as run:
            mltrack.log_table({"id": [1, 2], "score": [score, 0.1]}, "predictions")
        ids.append(run.id)
    (row,) = artifacts_section(api_store, ids)
    assert [side["table"] for side in row["runs"]] == [{"rows": 2, "columns": 2}] * 3
    assert side_text(row["runs"][2], row["states"][2], row["file_changes"][2]).startswith(
        "table 2 x 2 "
    )
    assert side_text(row["runs"][2], row["states"][2], None).endswith(" (changed)")
    assert (row["view"], row["status"], row["states"]) == (
        "files",
        "changed",
        [None, "same", "changed"],
    )
    # the run that differs says which cells: row 0's score
    assert row["table_diffs"][:2] == [None, None]
    assert row["table_diffs"][2]["columns_changed"] == {"score": 1}
    text = side_text(*(row[k][2] for k in ("runs", "states", "file_changes", "table_diffs")))
    assert text.startswith("table 2 x 2 ")
    assert text.endswith(" (changed: 1 of 2 rows differ: score 1)")


def test_a_table_diff_names_the_columns_and_rows_that_changed() -> None:
    """Cell by cell, by column name: missing values equal each other, values that do not
    compare (lists) are compared as text, and rows are paired only when as many."""
    old = predictions(30)
    new = old.copy()
    new.loc[new.index[[1, 4]], "score"] = 2.0
    new.loc[new.index[1], "note"] = "changed"
    new["extra"] = 1
    new = new.drop(columns=["seen"])
    new["votes"] = new["votes"].astype("float64")  # same values, another dtype
    diff = table_diff(old, new)
    assert diff["rows"] == [30, 30]
    assert (diff["added"], diff["removed"]) == (["extra"], ["seen"])
    assert diff["retyped"] == [{"name": "votes", "a": "Int64", "b": "float64"}]
    assert diff["columns_changed"] == {"score": 2, "note": 1}  # most first; NaN == NaN
    assert diff["rows_changed"] == 2
    assert table_change_text(diff) == (
        "2 of 30 rows differ: score 2, note 1; + column extra; - column seen; "
        "votes Int64 -> float64"
    )
    lists = table_diff(
        pd.DataFrame({"tokens": [["a"], ["b", "c"], None]}),
        pd.DataFrame({"tokens": [["a"], ["b"], None]}),
    )
    assert lists["columns_changed"] == {"tokens": 1}
    longer = table_diff(old, pd.concat([old, old.iloc[:2]]))
    assert (longer["rows"], longer["rows_changed"], longer["columns_changed"]) == (
        [30, 32],
        None,
        None,
    )
    assert table_change_text(longer) == "rows 30 -> 32"
    assert table_change_text(table_diff(old, old)) == "the same cells"


def test_a_key_pairs_rows_whatever_their_order(api_store: Store) -> None:
    """``log_table(..., key="customer_id")``: compared runs pair their tables' rows by the
    key, not by position, so a table written in another order (a shuffled test set, a
    ``groupby`` that sorts) says which customers' predictions changed, and which only one
    run has. A key that does not name each row once is refused, nothing recorded."""
    ids = []
    base = pd.DataFrame({"customer_id": [10, 11, 12, 13], "pred": [0, 1, 1, 0]})
    changed = base.copy()
    changed.loc[changed.customer_id == 12, "pred"] = 0
    changed = pd.concat([changed, pd.DataFrame({"customer_id": [14], "pred": [1]})])
    for frame in (base, changed.iloc[::-1].reset_index(drop=True), base.iloc[::-1]):
        with mltrack.start_run() as run:
            logged = mltrack.log_table(frame, "predictions", key="customer_id")
        ids.append(run.id)
    assert logged.meta["key"] == ["customer_id"]
    (row,) = artifacts_section(api_store, ids)
    diff = row["table_diffs"][1]
    assert (diff["paired_by"], diff["key"]) == ("key", ["customer_id"])
    assert (diff["rows_changed"], diff["columns_changed"]) == (1, {"pred": 1})
    assert (diff["rows_added"], diff["rows_removed"]) == (1, 0)
    assert table_change_text(diff) == "1 of 4 rows (by customer_id) differ: pred 1; 1 row added"
    # the same rows in another order: nothing differs (by position, every row would)
    assert table_change_text(row["table_diffs"][2]) == "none of 4 rows (by customer_id) differ"
    by_position = table_diff(base, base.iloc[::-1].reset_index(drop=True))
    assert by_position["paired_by"] == "position" and by_position["rows_changed"] == 4
    # two columns together; a key the baseline's table lacks falls back as before
    two = table_diff(
        pd.DataFrame({"store": [1, 1, 2], "day": [1, 2, 1], "sales": [5, 6, 7]}),
        pd.DataFrame({"store": [2, 1, 1], "day": [1, 2, 1], "sales": [7, 6, 9]}),
        ["store", "day"],
    )
    assert (two["paired_by"], two["columns_changed"]) == ("key", {"sales": 1})
    assert table_diff(base[["pred"]], base, ["customer_id"])["paired_by"] == "position"

    with mltrack.start_run() as run:
        with pytest.raises(
            ArtifactError, match=r"key customer_id repeats: 2 rows share a value \(10 first\)"
        ):
            mltrack.log_table(
                {"customer_id": [10, 10, 11], "pred": [0, 1, 1]}, "t", key="customer_id"
            )
        with pytest.raises(
            ArtifactError, match=r"key column 'id' is not in the table \(its columns: a\)"
        ):
            mltrack.log_table({"a": [1]}, "t", key="id")
        with pytest.raises(ArtifactError, match="key is a column name or a list of them"):
            mltrack.log_table({"a": [1]}, "t", key=[])
    assert api_store.list_artifacts(run.id) == []


def test_a_table_too_big_to_read_whole_says_so(
    api_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = []
    for score in (0.5, 0.7):
        with mltrack.start_run() as run:
            mltrack.log_table({"id": [1, 2], "score": [score, 0.1]}, "predictions")
        ids.append(run.id)
    monkeypatch.setattr(compare_tables, "MAX_TABLE_BYTES", 100)
    compare_tables._cache.clear()
    (row,) = artifacts_section(api_store, ids)
    assert row["table_diffs"][1]["skipped"].startswith("too big to compare (")
    assert "(changed: too big to compare" in side_text(
        *(row[k][1] for k in ("runs", "states", "file_changes", "table_diffs"))
    )


def test_an_exported_pipeline_logs_its_tables(api_store: Store) -> None:
    from jupyter_mltrack.pipeline.script_runtime import _TRACKER

    namespace: dict[str, Any] = {}
    exec(_TRACKER, namespace)
    tracker = namespace["_Tracker"]()
    with mltrack.start_run() as run:
        tracker.active = mltrack.active_run()
        tracker.log_table({"a": [1]}, "t")
    assert [a.name for a in api_store.list_artifacts(run.id)] == ["t"]


def test_tables_with_an_index_of_their_own_are_compared_row_by_row_of_it() -> None:
    """Predictions by customer id, logged in another order, with a customer gone and one
    new: paired by id, only the changed score counts; a default 0..n-1 index (what Parquet
    gives back for one) pairs rows by position."""
    old = pd.DataFrame(
        {"score": [0.1, 0.2, 0.3, 0.4], "pred": [0, 0, 1, 1]},
        index=pd.Index(["c1", "c2", "c3", "c4"], name="customer"),
    )
    new = old.drop(index="c2").iloc[::-1].copy()
    new.loc["c9"] = [0.9, 1]
    new.loc["c3", "score"] = 0.35
    diff = table_diff(old, new)
    assert (diff["paired_by"], diff["rows_added"], diff["rows_removed"]) == ("index", 1, 1)
    assert (diff["rows_changed"], diff["columns_changed"]) == (1, {"score": 1})
    assert table_change_text(diff) == "1 of 3 rows differ: score 1; 1 row added; 1 row removed"
    shuffled = table_diff(old, old.sample(frac=1, random_state=1))
    assert table_change_text(shuffled) == "the same cells"
    plain = table_diff(old.reset_index(drop=True), old.reset_index(drop=True).iloc[::-1])
    assert plain["paired_by"] == "position" and plain["rows_changed"] == 4
    assert table_change_text(plain) == "4 of 4 rows differ: score 4, pred 4"


def test_a_logged_tables_index_survives_for_the_comparison(api_store: Store) -> None:
    ids = []
    for frame in (
        pd.DataFrame({"pred": [0, 1, 1]}, index=pd.Index([7, 3, 5], name="id")),
        pd.DataFrame({"pred": [1, 1, 1]}, index=pd.Index([3, 5, 7], name="id")),  # 7 flipped
    ):
        with mltrack.start_run() as run:
            mltrack.log_table(frame, "predictions")
        ids.append(run.id)
    (row,) = artifacts_section(api_store, ids)
    diff = row["table_diffs"][1]
    assert (diff["paired_by"], diff["rows_changed"], diff["columns_changed"]) == (
        "index",
        1,
        {"pred": 1},
    )
