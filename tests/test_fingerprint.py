"""Fingerprints: equal data -> equal digest whatever the layout; any change -> a new digest."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mltrack.snapshots import fingerprint as fpmod
from jupyter_mltrack.snapshots import fingerprint_file, fingerprint_frame

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextlib.contextmanager
def small_blocks(rows: int = 5) -> Iterator[None]:
    """Tiny blocks so that small examples cross many block (and bitmap byte) boundaries."""
    old = fpmod.BLOCK_ROWS
    fpmod.BLOCK_ROWS = rows
    try:
        yield
    finally:
        fpmod.BLOCK_ROWS = old


def digest(obj: object) -> str:
    return fingerprint_frame(obj).digest


# --------------------------------------------------------------------------- strategies

_texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=6)


@st.composite
def frames(draw: st.DrawFn, min_rows: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_rows, 23))
    ints = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
    floats = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
    strs = draw(st.lists(st.one_of(st.none(), _texts), min_size=n, max_size=n))
    nints = draw(st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), min_size=n, max_size=n))
    bools = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    cats = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    secs = draw(st.lists(st.integers(0, 2**31), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "i": np.array(ints, dtype=np.int64),
            "f": np.array(floats, dtype=np.float64),
            "s": pd.Series(strs, dtype="str"),
            "n": pd.array(nints, dtype="Int64"),
            "b": np.array(bools),
            "c": pd.Categorical(cats, categories=["a", "b", "c"]),
            "t": pd.to_datetime(np.array(secs, dtype="int64"), unit="s", utc=True).tz_convert(
                "Europe/Paris"
            ),
        }
    )


# --------------------------------------------------------------------------- equal data


@SETTINGS
@given(df=frames())
def test_equal_data_equal_digest_whatever_the_layout(df: pd.DataFrame) -> None:
    with small_blocks():
        d = digest(df)
        assert digest(df.copy()) == d
        assert digest(df.copy(deep=True)) == d
        assert digest(df.iloc[::-1].iloc[::-1]) == d
        assert digest(df.iloc[::-1].copy().iloc[::-1].copy()) == d
        # A slice of a larger frame (offset data, offset Arrow bitmaps), as a view and a copy.
        junk = df.copy()
        junk.index = junk.index + 10**6
        big = pd.concat([junk.iloc[:3], df, junk])
        part = big.iloc[min(3, len(df)) : min(3, len(df)) + len(df)]
        assert digest(part) == d
        assert digest(part.copy()) == d


@SETTINGS
@given(df=frames())
def test_parquet_round_trip_and_arrow_chunking(df: pd.DataFrame, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("pq") / "frame.parquet"
    with small_blocks():
        d = digest(df)
        pq.write_table(pa.Table.from_pandas(df), path)
        assert digest(pq.read_table(path).to_pandas()) == d
        table = pa.Table.from_pandas(df, preserve_index=False)
        rechunked = pa.concat_tables([table.slice(i, 3) for i in range(0, len(df), 3)])
        assert rechunked.column(0).num_chunks == -(-len(df) // 3)
        assert digest(rechunked) == digest(table.combine_chunks())
        as_arrow = rechunked.to_pandas(types_mapper=pd.ArrowDtype)
        assert digest(as_arrow) == digest(table.to_pandas(types_mapper=pd.ArrowDtype))


def test_non_contiguous_views_hash_like_their_copies() -> None:
    a = np.arange(3 * 100_000, dtype=np.float64).reshape(-1, 3)
    a[7, 1] = np.nan
    strided = pd.DataFrame(a, columns=["x", "y", "z"])  # columns are strided views
    dense = pd.DataFrame({c: np.ascontiguousarray(a[:, i]) for i, c in enumerate("xyz")})
    assert digest(strided) == digest(dense)
    assert digest(a[::2]) == digest(a[::2].copy())
    assert digest(np.asfortranarray(a)) == digest(a)
    assert digest(a.astype(">f8")) == digest(a)  # byte order is layout, not content


def test_nan_payloads_are_canonical_but_signed_zero_is_not() -> None:
    payloads = np.array([0x7FF8000000000000, 0xFFF8000000000001, 0x7FF0000000000F00], np.uint64)
    nans = payloads.view(np.float64)
    assert np.isnan(nans).all()
    canonical = np.full(3, np.nan)
    assert digest(pd.Series(nans)) == digest(pd.Series(canonical))
    f32 = np.array([0x7FC00000, 0xFFC00001], np.uint32).view(np.float32)
    assert digest(f32) == digest(np.full(2, np.nan, np.float32))
    assert digest(pd.Series([0.0])) != digest(pd.Series([-0.0]))


def test_arrow_garbage_under_nulls_and_unaligned_bitmaps() -> None:
    # "ab" | null (whose slot still spans 3 bytes) | "c"
    dirty = pa.Array.from_buffers(
        pa.string(),
        3,
        [
            pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes()),
            pa.py_buffer(np.array([0, 2, 5, 6], np.int32).tobytes()),
            pa.py_buffer(b"abXYZc"),
        ],
    )
    clean = pa.array(["ab", None, "c"])
    assert digest(pa.table({"s": dirty})) == digest(pa.table({"s": clean}))
    ints = pa.array([None if i % 3 == 0 else i for i in range(40)], pa.int64())
    with small_blocks(7):
        for off in range(1, 9):  # bitmaps at every bit offset
            sliced = ints.slice(off, 20)
            copied = pa.array(sliced.to_pylist(), pa.int64())
            assert digest(pa.table({"x": sliced})) == digest(pa.table({"x": copied}))


# --------------------------------------------------------------------------- changed data


def _changed(column: pd.Series, row: int) -> object:
    """A different value of the same dtype for ``column[row]``."""
    value = column.iloc[row]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "a" if value != "a" else "b"
    if pd.isna(value):
        return {"str": "", "Int64": 1, "float64": 0.5}[str(column.dtype)]
    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, (int, np.integer)):
        return int(value) - 1 if value > -(2**63) else int(value) + 1
    if isinstance(value, float):
        return 0.0 if value != 0 else 1.5
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, pd.Timestamp):
        return value + pd.Timedelta(seconds=1)
    raise AssertionError(value)


@SETTINGS
@given(df=frames(), data=st.data())
def test_any_single_changed_value_changes_exactly_one_block(
    df: pd.DataFrame, data: st.DataObject
) -> None:
    col = data.draw(st.sampled_from(list(df.columns)), label="column")
    row = data.draw(st.integers(0, len(df) - 1), label="row")
    edited = df.copy()
    edited.iloc[row, df.columns.get_loc(col)] = _changed(df[col], row)
    assert edited[col].dtype == df[col].dtype
    with small_blocks():
        before, after = fingerprint_frame(df), fingerprint_frame(edited)
    assert before.digest != after.digest
    changed = [
        (c, b)
        for c, (x, y) in enumerate(zip(before.columns, after.columns, strict=True))
        for b, (bx, by) in enumerate(zip(x, y, strict=True))
        if bx != by
    ]
    assert changed == [(df.columns.get_loc(col), row // 5)]


def test_nan_none_na_kept_apart_where_pandas_keeps_them() -> None:
    a = pd.Series(["x", None], dtype=object)
    b = pd.Series(["x", np.nan], dtype=object)
    c = pd.Series(["x", pd.NA], dtype=object)
    assert len({digest(a), digest(b), digest(c)}) == 3
    assert digest(pd.Series([1.0, np.nan])) != digest(pd.Series([1.0, None], dtype="Float64"))


def test_dtype_changes_change_the_digest() -> None:
    base = pd.DataFrame({"a": np.arange(10, dtype=np.int64), "s": list("abcdeabcde")})
    d = digest(base)
    assert digest(base.astype({"a": np.int32})) != d
    assert digest(base.astype({"a": np.float64})) != d
    assert digest(base.astype({"a": np.uint64})) != d
    assert digest(base.astype({"a": "Int64"})) != d
    assert digest(base.astype({"s": object})) != d
    assert digest(base.astype({"s": "category"})) != d
    assert digest(base.astype({"s": object}).astype({"s": "category"})) != digest(
        base.astype({"s": object})
    )
    assert digest(base.astype({"s": "string"})) != d
    # int64 and datetime64 share bytes; the type tag keeps them apart.
    assert digest(base["a"]) != digest(base["a"].astype("datetime64[ns]"))


def test_names_order_and_index_are_identity() -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]})
    d = digest(df)
    assert digest(df.rename(columns={"a": "z"})) != d
    assert digest(df[["b", "a"]]) != d
    assert digest(df.set_axis([0, 1, 5])) != d
    assert digest(df.rename_axis("idx")) != d
    assert digest(df.set_axis(pd.Index([0, 1, 2], dtype=np.int32))) != d
    assert digest(df.set_axis(pd.Index([0, 1, 2], dtype=np.int64))) == d  # == RangeIndex
    assert digest(df.rename(columns={"a": 1})) != digest(df.rename(columns={"a": "1"}))


def test_timezones_and_categories() -> None:
    t = pd.Series(pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"))
    assert digest(t) != digest(t.dt.tz_convert("Europe/Paris"))  # same instants, other tz
    assert digest(t) != digest(t.dt.tz_localize(None))
    assert digest(t) != digest(t.dt.as_unit("ns"))
    c = pd.Series(pd.Categorical(["a", "b", "a"], categories=["a", "b"]))
    assert digest(c) == digest(c.copy())
    assert digest(c) != digest(c.cat.reorder_categories(["b", "a"]))
    assert digest(c) != digest(c.cat.add_categories(["z"]))
    assert digest(c) != digest(c.cat.as_ordered())


def test_empty_one_row_and_multiindex() -> None:
    assert digest(pd.DataFrame()) != digest(pd.DataFrame(columns=["a"]))
    assert digest(pd.DataFrame({"a": pd.Series([], dtype="int64")})) != digest(
        pd.DataFrame({"a": pd.Series([], dtype="float64")})
    )
    empty = fingerprint_frame(pd.DataFrame({"a": pd.Series([], dtype="int64")}))
    assert empty.rows == 0 and empty.columns == ((),)
    one = pd.DataFrame({"a": [1], "s": ["x"]})
    assert digest(one) == digest(one.copy())
    assert digest(one) != digest(pd.DataFrame({"a": [2], "s": ["x"]}))
    mi = pd.MultiIndex.from_product([["x", "y"], [1, 2]], names=["k", "n"])
    df = pd.DataFrame({"v": [1.0, 2.0, 3.0, 4.0]}, index=mi)
    fp = fingerprint_frame(df)
    assert len(fp.index) == 2 and [e["name"] for e in fp.schema["index"]] == ["k", "n"]
    assert digest(df.copy()) == fp.digest
    assert digest(df.swaplevel()) != fp.digest
    assert digest(df.rename_axis(["k", "m"])) != fp.digest
    assert digest(df.reset_index()) != fp.digest


def test_non_string_objects_raise_a_clear_type_error() -> None:
    df = pd.DataFrame({"ok": [1, 2], "bad": pd.Series([1, "x"], dtype=object)})
    with pytest.raises(TypeError, match="'bad'"):
        fingerprint_frame(df)
    with pytest.raises(TypeError, match="'obj'"):
        fingerprint_frame(pd.DataFrame({"obj": [object(), object()]}))


def test_common_object_types_are_exact() -> None:
    import datetime as dt
    import decimal

    for values in (
        [b"a", None, b"bc"],
        [1, 2, None],
        [True, False, None],
        [dt.date(2020, 1, 1), None],
        [dt.datetime(2020, 1, 1), None],
    ):
        s = pd.Series(values, dtype=object)
        assert digest(s) == digest(s.copy())
    one = pd.Series([decimal.Decimal("1.0")], dtype=object)
    assert digest(one) != digest(pd.Series([decimal.Decimal("1.00")], dtype=object))
    # An object column of ints is not the int64 column with the same numbers.
    assert digest(pd.Series([1, 2], dtype=object)) != digest(pd.Series([1, 2]))
    with pytest.raises(TypeError, match="not supported"):
        fingerprint_frame(pd.Series([[1], [2]], dtype=pd.ArrowDtype(pa.list_(pa.int64()))))


def test_manifest_is_what_the_digest_hashes() -> None:
    fp = fingerprint_frame(pd.DataFrame({"a": [1, 2]}))
    assert fp.digest == "xxh3-128:" + xxhash.xxh3_128(fp.manifest()).hexdigest()
    assert fp.kind == "dataframe" and fp.block_rows == fpmod.BLOCK_ROWS
    assert fingerprint_frame(pd.Series([1])).kind == "series"
    assert fingerprint_frame(np.zeros(3)).kind == "ndarray"
    assert fingerprint_frame(pa.table({"a": [1]})).kind == "table"
    assert digest(np.zeros((4, 2))) != digest(np.zeros((2, 4)))


# --------------------------------------------------------------------------- blocks


def test_append_keeps_full_blocks_and_an_edit_changes_one_block() -> None:
    b = fpmod.BLOCK_ROWS
    rng = np.random.default_rng(1)
    n = 3 * b + 123
    df = pd.DataFrame({"i": rng.integers(0, 100, n), "f": rng.random(n)})
    fp = fingerprint_frame(df)
    assert [len(c) for c in fp.columns] == [4, 4]
    extra = pd.DataFrame({"i": rng.integers(0, 100, n // 100), "f": rng.random(n // 100)})
    appended = fingerprint_frame(pd.concat([df, extra], ignore_index=True))
    for before, after in zip(fp.columns + fp.index, appended.columns + appended.index, strict=True):
        assert after[:3] == before[:3] and after[3] != before[3]
    edited = df.copy()
    edited.loc[2 * b + 5, "f"] += 1.0
    ed = fingerprint_frame(edited)
    diffs = [
        (c, k)
        for c, (x, y) in enumerate(zip(fp.columns, ed.columns, strict=True))
        for k in range(len(x))
        if x[k] != y[k]
    ]
    assert diffs == [(1, 2)] and ed.index == fp.index


# --------------------------------------------------------------------------- files


def test_files_stream_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fpmod.clear_file_cache()
    reads: list[str] = []
    real = fpmod._hash_file

    def counting(path: str, chunk_size: int) -> str:
        reads.append(path)
        return real(path, chunk_size)

    monkeypatch.setattr(fpmod, "_hash_file", counting)
    content = os.urandom(300_000)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(content)
    b.write_bytes(content)
    fa = fingerprint_file(a, chunk_size=4096)  # many chunks
    assert fa.digest == "xxh3-128:" + xxhash.xxh3_128(content).hexdigest()
    assert fa.size == len(content) and fa.path == str(a)
    assert fingerprint_file(b).digest == fa.digest
    assert len(reads) == 2
    assert fingerprint_file(a) == fa and len(reads) == 2  # unchanged file: not re-read

    # Same size, restored mtime, same inode: the stat-keyed cache trusts the stat (documented).
    st = a.stat()
    with open(a, "r+b") as f:
        f.write(b"\x00" * 10)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fingerprint_file(a).digest == fa.digest and len(reads) == 2
    fresh = fingerprint_file(a, use_cache=False)
    assert fresh.digest != fa.digest and len(reads) == 3

    # A new mtime forces a re-hash.
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert fingerprint_file(a).digest == fresh.digest and len(reads) == 4
    a.write_bytes(content + b"!")
    assert fingerprint_file(a).digest != fa.digest and len(reads) == 5


def test_parallel_hashing_gives_the_same_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "a": rng.random(300_000),
            "b": rng.integers(0, 9, 300_000),
            "s": pd.array([f"v{i % 13}" for i in range(300_000)], dtype="str"),
            "t": pd.date_range("2020", periods=300_000, freq="s", tz="UTC"),
        }
    )
    parallel = fingerprint_frame(df)
    monkeypatch.setattr(fpmod, "PARALLEL_ROWS", 10**12)
    sequential = fingerprint_frame(df)
    assert parallel.digest == sequential.digest and parallel.columns == sequential.columns
