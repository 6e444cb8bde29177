"""Frames through column blocks come back exactly; block bytes are stable and fixed-range."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from jupyter_mltrack.snapshots.blocks import (
    DEFAULT_BLOCK_ROWS,
    blocks_to_frame,
    decode_block,
    decode_frame_schema,
    encode_block,
    encode_frame_schema,
    frame_to_blocks,
    split_blocks,
)


def roundtrip(df: pd.DataFrame, block_rows: int = 3) -> pd.DataFrame:
    schema, blocks = frame_to_blocks(df, block_rows)
    json.loads(schema)  # plain JSON
    for encoded in blocks.values():
        assert all(isinstance(b, bytes) for b in encoded)
    out = blocks_to_frame(schema, blocks)
    pd.testing.assert_frame_equal(out, df, check_exact=True)
    assert list(out.dtypes) == list(df.dtypes)
    assert type(out.index) is type(df.index)
    assert type(out.columns) is type(df.columns)
    return out


def _frames() -> dict[str, pd.DataFrame]:
    n = 10
    rng = np.random.default_rng(0)
    frames: dict[str, pd.DataFrame] = {}
    frames["numeric_widths"] = pd.DataFrame(
        {
            **{
                str(t): np.arange(n, dtype=t)
                for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
            },
            "uint64": np.array([0, 2**64 - 1] * 5, dtype="uint64"),
            "f16": np.arange(n, dtype="float16"),
            "f32": rng.standard_normal(n).astype("float32"),
            "f64": np.r_[rng.standard_normal(n - 4), [np.nan, np.inf, -np.inf, -0.0]],
            "bool": np.arange(n) % 3 == 0,
        }
    )
    frames["temporal"] = pd.DataFrame(
        {
            "naive_ns": pd.date_range("2021-03-01", periods=n, freq="h"),
            "naive_s": pd.date_range("2021-03-01", periods=n, freq="D", unit="s"),
            "tz_paris": pd.date_range("2021-03-27", periods=n, freq="6h", tz="Europe/Paris"),
            "tz_utc_ms": pd.date_range("2000", periods=n, tz="UTC", unit="ms"),
            "with_nat": pd.to_datetime(["2020-01-01", None] * 5),
            "delta": pd.to_timedelta(np.arange(n), unit="s"),
            "delta_nat": pd.to_timedelta([1, None] * 5, unit="D"),
        }
    )
    frames["categorical"] = pd.DataFrame(
        {
            "unordered": pd.Categorical(["b", "a", None, "c", "a"] * 2, categories=list("cabz")),
            "ordered": pd.Categorical(
                ["lo", "hi", "mid", "lo", None] * 2, categories=["lo", "mid", "hi"], ordered=True
            ),
            "int_cats": pd.Categorical([3, 1, 2, 3, 1] * 2, categories=[3, 2, 1, 0]),
            "unused_only": pd.Categorical([None] * n, categories=["x", "y"]),
        }
    )
    frames["nullable"] = pd.DataFrame(
        {
            "Int64": pd.array([1, None, 3, 4, 5, None, 7, 8, 9, 10], dtype="Int64"),
            "Int8": pd.array([1, None] * 5, dtype="Int8"),
            "UInt32": pd.array([None, 4] * 5, dtype="UInt32"),
            "boolean": pd.array([True, None, False, True, None] * 2, dtype="boolean"),
            "Float64": pd.array([1.5, None] * 5, dtype="Float64"),
            "string_py": pd.array(["a", None, "c", "", "e"] * 2, dtype="string[python]"),
            "string_pa": pd.array(["a", None, "c", "", "e"] * 2, dtype="string[pyarrow]"),
            "str_default": pd.Series(["a", None, "c", "", "é"] * 2),
        }
    )
    frames["object"] = pd.DataFrame(
        {
            "strings": pd.Series(["a", None, np.nan, pd.NA, "e"] * 2, dtype=object),
            "only_none": pd.Series([None] * n, dtype=object),
            "ints": pd.Series(list(range(n)), dtype=object),
            "floats_none_nan": pd.Series([1.5, None, np.nan] * 3 + [None], dtype=object),
            "bytes": pd.Series([b"x", None, b"\x00\xff"] * 3 + [b""], dtype=object),
            "bools": pd.Series([True, False, None, True, False] * 2, dtype=object),
            "nat": pd.Series(["s", pd.NaT] * 5, dtype=object),
        }
    )
    frames["range_index_custom"] = pd.DataFrame(
        {"x": np.arange(n)}, index=pd.RangeIndex(100, 100 + 3 * n, 3, name="step3")
    )
    frames["named_str_index"] = pd.DataFrame(
        {"x": np.arange(n)}, index=pd.Index([f"r{i}" for i in range(n)], name="row")
    )
    frames["object_index_with_nulls"] = pd.DataFrame(
        {"x": np.arange(4)}, index=pd.Index(["a", None, np.nan, "d"], dtype=object, name=0)
    )
    frames["int_index_int_name"] = pd.DataFrame(
        {"x": np.arange(n)}, index=pd.Index(np.arange(n) * 7, name=5)
    )
    frames["datetime_tz_index"] = pd.DataFrame(
        {"x": np.arange(n)}, index=pd.date_range("2024", periods=n, tz="Asia/Tokyo", name="ts")
    )
    frames["multiindex"] = pd.DataFrame(
        {"x": np.arange(n), "y": np.arange(n) * 0.5},
        index=pd.MultiIndex.from_arrays(
            [["a", "b"] * 5, np.arange(n) // 2, pd.date_range("2020", periods=n)],
            names=["k", None, "when"],
        ),
    )
    frames["int_column_labels"] = pd.DataFrame({2: [1, 2], 0: [3, 4], 1: [5.0, 6.0]})
    frames["mixed_column_labels"] = pd.DataFrame(
        [[1, 2, 3, 4, 5, 6]],
        columns=pd.Index(["a", 1, 2.5, None, False, ("t", 1)], dtype=object, tupleize_cols=False),
    )
    frames["range_columns"] = pd.DataFrame(np.arange(12).reshape(4, 3))
    frames["named_columns"] = pd.DataFrame(
        {"b": [1], "a": [2]}, index=pd.RangeIndex(1)
    ).rename_axis(columns="features")
    frames["multiindex_columns"] = pd.DataFrame(
        np.arange(8).reshape(2, 4),
        columns=pd.MultiIndex.from_tuples(
            [("a", 1), ("a", 2), ("b", 1), ("b", 2)], names=["grp", None]
        ),
    )
    frames["order_kept"] = pd.DataFrame({c: [i] for i, c in enumerate("zyxabc")})
    frames["zero_rows"] = pd.DataFrame(
        {
            "i": pd.Series([], dtype="int16"),
            "c": pd.Categorical([], categories=["p", "q"], ordered=True),
            "o": pd.Series([], dtype=object),
            "t": pd.Series([], dtype="datetime64[us, UTC]"),
        }
    )
    frames["zero_columns"] = pd.DataFrame(index=pd.RangeIndex(5))
    frames["empty"] = pd.DataFrame()
    frames["attrs"] = pd.DataFrame({"x": [1]})
    frames["attrs"].attrs["source"] = "unit-test"
    return frames


FRAMES = _frames()


@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("block_rows", [1, 3, 4, 1000])
def test_roundtrip(name: str, block_rows: int) -> None:
    roundtrip(FRAMES[name], block_rows)


def test_missing_value_kinds_preserved() -> None:
    df = FRAMES["object"]
    out = roundtrip(df)
    got = out["strings"].tolist()
    assert got[0] == "a" and got[4] == "e"
    assert got[1] is None
    assert isinstance(got[2], float) and np.isnan(got[2])
    assert got[3] is pd.NA
    floats = out["floats_none_nan"].tolist()
    assert floats[1] is None and isinstance(floats[2], float) and np.isnan(floats[2])
    assert all(x is None for x in out["only_none"])
    assert out["nat"].tolist()[1] is pd.NaT
    assert out["strings"].dtype == object
    assert [type(x) for x in out["ints"]] == [int] * 10
    nulls = roundtrip(FRAMES["nullable"])
    assert nulls["Int64"].tolist()[1] is pd.NA
    assert nulls["str_default"].dtype == FRAMES["nullable"]["str_default"].dtype
    idx = roundtrip(FRAMES["object_index_with_nulls"]).index.tolist()
    assert idx[1] is None and isinstance(idx[2], float) and np.isnan(idx[2])


def test_tz_categories_order_and_index_kept() -> None:
    temporal = roundtrip(FRAMES["temporal"])
    assert str(temporal["tz_paris"].dt.tz) == "Europe/Paris"
    assert temporal["tz_utc_ms"].dtype == "datetime64[ms, UTC]"
    assert temporal["naive_s"].dtype == "datetime64[s]"
    cats = roundtrip(FRAMES["categorical"])
    assert list(cats["unordered"].cat.categories) == list("cabz")
    assert cats["ordered"].cat.ordered and not cats["unordered"].cat.ordered
    assert cats["int_cats"].cat.categories.dtype == "int64"
    order = roundtrip(FRAMES["order_kept"])
    assert list(order.columns) == list("zyxabc")
    ranged = roundtrip(FRAMES["range_index_custom"])
    assert isinstance(ranged.index, pd.RangeIndex)
    assert (ranged.index.start, ranged.index.step, ranged.index.name) == (100, 3, "step3")
    labels = roundtrip(FRAMES["mixed_column_labels"]).columns.tolist()
    assert [type(x) for x in labels] == [str, int, float, type(None), bool, tuple]
    assert roundtrip(FRAMES["int_index_int_name"]).index.name == 5
    assert roundtrip(FRAMES["attrs"]).attrs == {"source": "unit-test"}


def test_range_index_is_not_stored_as_blocks() -> None:
    schema, blocks = frame_to_blocks(pd.DataFrame({"x": np.arange(10)}), 4)
    assert set(blocks) == {"col:0"}
    schema2, blocks2 = frame_to_blocks(
        pd.DataFrame({"x": np.arange(10)}, index=pd.Index(np.arange(10))), 4
    )
    assert set(blocks2) == {"col:0", "index:0"}


def test_block_boundaries_are_fixed_and_bytes_stable() -> None:
    rng = np.random.default_rng(1)
    n, extra, b = 1000, 37, 100

    def make(rows: int, start: int = 0) -> pd.DataFrame:
        r = np.arange(start, start + rows)
        return pd.DataFrame(
            {
                "f": rng.standard_normal(rows),
                "i": r,
                "s": pd.Series([f"s{x}" for x in r]),
                "o": pd.Series([None if x % 7 == 0 else f"o{x}" for x in r], dtype=object),
                "c": pd.Categorical([("a", "b", "c")[x % 3] for x in r], categories=list("abc")),
                "n": pd.array([x if x % 5 else None for x in r], dtype="Int64"),
                "t": pd.date_range("2020", periods=rows, freq="min", tz="UTC"),
            }
        )

    base = make(n)
    # The appended rows add kinds of missing values the first rows never had.
    more = make(extra, n)
    more.loc[more.index[0], "f"] = np.nan
    more["o"] = more["o"].astype(object)
    more.iloc[1, more.columns.get_loc("o")] = np.nan
    grown = pd.concat([base, more], ignore_index=True)
    grown["c"] = grown["c"].astype(base["c"].dtype)

    schema1, blocks1 = frame_to_blocks(base, b)
    schema2, blocks2 = frame_to_blocks(grown, b)
    assert set(blocks1) == set(blocks2)
    for key in blocks1:
        assert len(blocks1[key]) == n // b
        assert len(blocks2[key]) == -(-(n + extra) // b)
        assert blocks2[key][: n // b] == blocks1[key], key
    roundtrip(grown, b)
    # Deterministic: equal input, equal bytes; equal blocks regardless of column name.
    assert frame_to_blocks(base.copy(), b) == (schema1, blocks1)
    renamed = base.rename(columns={"f": "renamed"})
    assert frame_to_blocks(renamed, b)[1]["col:0"] == blocks1["col:0"]


def test_changed_row_changes_only_its_block() -> None:
    df = pd.DataFrame({"x": np.arange(1000, dtype="float64")})
    _, before = frame_to_blocks(df, 100)
    df.loc[550, "x"] = -1.0
    _, after = frame_to_blocks(df, 100)
    changed = [
        k for k, (a, b) in enumerate(zip(before["col:0"], after["col:0"], strict=True)) if a != b
    ]
    assert changed == [5]


def test_split_blocks_ranges() -> None:
    s = pd.Series(np.arange(10, dtype="int32"))
    parts = split_blocks(s, 4)
    assert [len(p) for p in parts] == [4, 4, 2]
    assert [p.to_pylist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(p.type == pa.int32() for p in parts)
    cats = split_blocks(pd.Series(pd.Categorical(["b", "a", "b"], categories=["a", "b"])), 2)
    assert [p.to_pylist() for p in cats] == [[1, 0], [1]]  # codes only
    assert split_blocks(pd.Series([], dtype="float64"), 4) == []
    assert len(split_blocks(pd.Series(np.zeros(DEFAULT_BLOCK_ROWS + 1)))) == 2
    with pytest.raises(ValueError):
        split_blocks(s, 0)


def test_encode_block_roundtrip_and_compression() -> None:
    values = np.repeat(np.arange(10, dtype="int64"), 10_000)
    data = encode_block(values)
    assert data == encode_block(pa.array(values))
    assert len(data) < values.nbytes / 20  # zstd actually applied
    block = decode_block(data)
    assert block.null_kinds is None
    np.testing.assert_array_equal(block.values.to_numpy(), values)
    kinds = np.array([0, 1, 2], dtype=np.int8)
    with_kinds = decode_block(encode_block(pa.array(["a", None, None]), kinds))
    np.testing.assert_array_equal(with_kinds.null_kinds, kinds)
    # Only-None kinds carry no extra column: same bytes as no kinds at all.
    assert encode_block(pa.array(["a", None]), np.array([0, 1], dtype=np.int8)) == encode_block(
        pa.array(["a", None])
    )
    with pytest.raises(ValueError):
        decode_block(encode_frame_schema(pd.DataFrame({"x": [1]})).encode())


def test_schema_json_is_deterministic_and_checked() -> None:
    df = FRAMES["multiindex"]
    assert encode_frame_schema(df, 4) == encode_frame_schema(df.copy(), 4)
    assert encode_frame_schema(df, 4) == frame_to_blocks(df, 4)[0]
    schema = decode_frame_schema(encode_frame_schema(df, 4))
    assert schema["nrows"] == 10 and schema["block_rows"] == 4
    bad = json.dumps({**schema, "format": "other/9"})
    with pytest.raises(ValueError, match="format"):
        blocks_to_frame(bad, {})


def test_missing_or_short_blocks_are_errors() -> None:
    schema, blocks = frame_to_blocks(pd.DataFrame({"x": np.arange(10)}), 4)
    with pytest.raises(ValueError, match="rows"):
        blocks_to_frame(schema, {"col:0": blocks["col:0"][:-1]})
    with pytest.raises(KeyError):
        blocks_to_frame(schema, {})


def test_unsupported_frames_fail_clearly() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        frame_to_blocks(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(TypeError, match="Arrow"):
        frame_to_blocks(pd.DataFrame({"m": pd.Series(["a", 1], dtype=object)}))
    with pytest.raises(TypeError, match="label"):
        frame_to_blocks(pd.DataFrame({pd.Timestamp("2020"): [1]}))
    with pytest.raises(TypeError):
        frame_to_blocks(pd.Series([1]))  # type: ignore[arg-type]
