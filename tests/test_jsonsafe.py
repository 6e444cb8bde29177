"""``to_json``/``to_float``: whatever a user logs becomes storable JSON, and nothing raises."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import enum
import fractions
import json
import math
import pathlib
import uuid
from typing import Any

import numpy as np
import pytest

from jupyter_mltrack.jsonsafe import MAX_DEPTH, MAX_ITEMS, MAX_STRING, to_float, to_json


class Colour(enum.Enum):
    RED = "r"


class Level(enum.IntEnum):
    HIGH = 3


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class BrokenGetattr:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"no attribute {name}")


class Opaque:
    __slots__ = ()


def dumps(value: Any) -> str:
    """What the store does: strict JSON (no NaN), and the text must be valid UTF-8."""
    out = json.dumps(to_json(value), allow_nan=False, ensure_ascii=False)
    out.encode("utf-8")
    return out


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


ODD_VALUES = [
    np.float64(1.5),
    np.float32(math.nan),
    np.int8(-3),
    np.uint64(2**64 - 1),
    np.bool_(False),
    np.array(2.0),
    np.arange(6).reshape(2, 3),
    np.zeros(MAX_ITEMS + 1),
    np.array(["a", "b"]),
    np.datetime64("2024-01-02T03:04:05.123456789"),
    np.timedelta64(3, "h"),
    math.nan,
    -math.inf,
    10**100,
    -(2**63),
    decimal.Decimal("1.1"),
    decimal.Decimal("NaN"),
    decimal.Decimal("sNaN"),
    decimal.Decimal("1e999"),
    fractions.Fraction(10**400, 3),
    complex(1, 2),
    dt.datetime(2024, 1, 2, 3, 4, 5),
    dt.date(2024, 1, 2),
    dt.time(12, 30),
    dt.timedelta(days=1, seconds=1),
    Colour.RED,
    Level.HIGH,
    pathlib.Path("/data/train.csv"),
    uuid.UUID(int=5),
    b"\xff\x00",
    bytearray(3),
    memoryview(b"abc"),
    {3, 1, 2},
    frozenset({"a"}),
    {BrokenRepr(), BrokenRepr()},
    nested(50),
    [[[[[[[[[[[1]]]]]]]]]]],
    "x" * (MAX_STRING * 3),
    "bad \ud800 surrogate",
    {"bad \udcff key": 1},
    BrokenRepr(),
    BrokenGetattr(),
    Opaque(),
    object,
    print,
    math,
    lambda x: x,
    {1: "a", None: "b", (1, 2): "c", 1.5: "d"},
    collections.OrderedDict(a=1),
    list(range(MAX_ITEMS + 10)),
    {str(i): i for i in range(MAX_ITEMS + 5)},
    range(5),
    Ellipsis,
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_to_json_is_always_strict_json(value: Any) -> None:
    text = dumps(value)
    assert json.loads(text) == to_json(value)  # plain JSON types only: it round-trips


def test_plain_values_are_unchanged() -> None:
    plain = {"i": 3, "f": 0.5, "s": "héllo", "b": True, "n": None, "l": [1, [2, {"x": "y"}]]}
    assert to_json(plain) == plain
    assert to_json((1, "a")) == [1, "a"]
    assert to_json(2**63 - 1) == 2**63 - 1


def test_numbers() -> None:
    assert to_json(math.nan) == {"$type": "float", "value": "nan"}
    assert to_json(math.inf) == {"$type": "float", "value": "inf"}
    assert to_json(-math.inf) == {"$type": "float", "value": "-inf"}
    assert to_json(2**64) == {"$type": "int", "value": str(2**64)}
    assert to_json(-(2**63)) == {"$type": "int", "value": str(-(2**63))}
    assert to_json(decimal.Decimal("2.5")) == 2.5
    assert to_json(decimal.Decimal("sNaN")) == {"$type": "float", "value": "nan"}
    assert to_json(decimal.Decimal("-1e999")) == {"$type": "float", "value": "-inf"}
    assert to_json(fractions.Fraction(1, 4)) == 0.25
    assert to_json(fractions.Fraction(10**400, 3)) == {"$type": "float", "value": "inf"}
    assert to_json(complex(1, 2))["$type"] == "repr"


def test_numpy_values_become_python_values() -> None:
    cases = [
        (np.int64(7), 7, int),
        (np.float64(0.5), 0.5, float),
        (np.float32(0.25), 0.25, float),
        (np.bool_(True), True, bool),
        (np.array(3), 3, int),
    ]
    for value, expected, kind in cases:
        got = to_json(value)
        assert got == expected and type(got) is kind, value
    assert to_json(np.uint64(2**64 - 1)) == {"$type": "int", "value": str(2**64 - 1)}
    assert to_json(np.float32(math.inf)) == {"$type": "float", "value": "inf"}
    assert to_json(np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    assert to_json(np.array([1.0, math.nan]))[1] == {"$type": "float", "value": "nan"}
    big = to_json(np.zeros(MAX_ITEMS + 1))
    assert big["$type"] == "repr" and big["class"] == "numpy.ndarray"
    assert to_json(np.datetime64("2024-01-02T03:04:05.123456789")) == {
        "$type": "numpy.datetime64",
        "value": "2024-01-02T03:04:05.123456789",
    }


def test_other_types_get_markers() -> None:
    assert to_json(dt.datetime(2024, 1, 2, 3, 4, 5)) == {
        "$type": "datetime",
        "value": "2024-01-02T03:04:05",
    }
    assert to_json(dt.date(2024, 1, 2)) == {"$type": "date", "value": "2024-01-02"}
    assert to_json(dt.timedelta(minutes=1, microseconds=500)) == {
        "$type": "timedelta",
        "seconds": 60.0005,
    }
    assert to_json(Colour.RED) == {"$type": "enum", "class": f"{__name__}.Colour", "name": "RED"}
    # an IntEnum is not silently turned into its number
    assert to_json(Level.HIGH) == {"$type": "enum", "class": f"{__name__}.Level", "name": "HIGH"}
    assert to_json(pathlib.PurePosixPath("/a/b")) == "/a/b"
    assert to_json(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert to_json(b"abc") == {"$type": "bytes", "length": 3, "hex": "616263"}
    assert to_json(bytearray(b"\xff")) == {"$type": "bytes", "length": 1, "hex": "ff"}
    assert to_json(b"\x00" * 1_001) == {"$type": "bytes", "length": 1_001}  # too long to keep
    assert to_json({"b", "a", "c"}) == ["a", "b", "c"]
    opaque = to_json(Opaque())
    assert opaque["$type"] == "repr" and opaque["class"] == f"{__name__}.Opaque"
    assert opaque["repr"].startswith(f"<{__name__}.Opaque object")


def test_long_strings_and_big_containers_are_cut() -> None:
    long = "é" * (MAX_STRING + 5)
    assert to_json(long) == {"$type": "truncated", "value": long[:MAX_STRING], "length": len(long)}
    assert to_json("x" * MAX_STRING) == "x" * MAX_STRING
    assert to_json("abcdef", max_string=3) == {"$type": "truncated", "value": "abc", "length": 6}
    items = to_json(list(range(MAX_ITEMS + 10)))
    assert len(items) == MAX_ITEMS + 1 and items[-1] == {"$type": "truncated", "length": 1010}
    mapping = to_json({str(i): i for i in range(MAX_ITEMS + 5)})
    assert len(mapping) == MAX_ITEMS + 1 and mapping["$truncated"] == MAX_ITEMS + 5


def test_deep_nesting_stops_with_a_marker() -> None:
    got = to_json(nested(3 * MAX_DEPTH))
    depth = 0
    while isinstance(got, dict | list) and "$type" not in got:
        got = got["k"] if isinstance(got, dict) else got[0]
        depth += 1
    assert got["$type"] == "repr" and depth == MAX_DEPTH
    loop: list[Any] = []
    loop.append(loop)
    dumps(loop)  # a self-containing list ends too


def test_broken_objects_never_raise() -> None:
    got = to_json(BrokenRepr())
    assert got["$type"] == "repr" and "unrepresentable" in got["repr"]
    assert to_json({BrokenRepr(): 1}) == {
        "<unrepresentable BrokenRepr: RuntimeError('no repr for you')>": 1
    }
    assert len(to_json({BrokenRepr(), BrokenRepr()})) == 2
    assert to_json(BrokenGetattr())["$type"] == "repr"
    long_repr = type("Long", (), {"__repr__": lambda self: "r" * 1000})()
    assert len(to_json(long_repr)["repr"]) <= 201


def test_dict_keys_become_strings() -> None:
    assert to_json({1: "a", None: "b", (1, 2): "c", "s": "d"}) == {
        "1": "a",
        "None": "b",
        "(1, 2)": "c",
        "s": "d",
    }


def test_lone_surrogates_are_replaced() -> None:
    assert to_json("a\ud800b") == "a\ufffdb"
    assert to_json({"k\udcff": "v"}) == {"k\ufffd": "v"}
    assert to_json("ok \U0001f600") == "ok \U0001f600"  # real astral characters are kept


FLOATS = [
    (3, 3.0),
    (True, 1.0),
    (np.int32(-2), -2.0),
    (np.float16(0.5), 0.5),
    (np.bool_(True), 1.0),
    (np.array(1.25), 1.25),
    (decimal.Decimal("0.1"), 0.1),
    (fractions.Fraction(1, 8), 0.125),
    (10**400, math.inf),
    (-(10**400), -math.inf),
    (fractions.Fraction(-(10**400), 7), -math.inf),
    (math.inf, math.inf),
]


@pytest.mark.parametrize(("value", "expected"), FLOATS, ids=lambda v: type(v).__name__)
def test_to_float_numbers(value: Any, expected: float) -> None:
    got = to_float(value)
    assert type(got) is float and got == expected


@pytest.mark.parametrize(
    "value",
    [math.nan, np.float64(math.nan), decimal.Decimal("NaN"), decimal.Decimal("sNaN")],
    ids=str,
)
def test_to_float_nan(value: Any) -> None:
    got = to_float(value)
    assert isinstance(got, float) and math.isnan(got)


@pytest.mark.parametrize(
    "value",
    ["1.5", None, [1.0], np.array([1.0]), complex(1, 0), np.complex128(1), BrokenGetattr(), {}],
    ids=lambda v: type(v).__name__,
)
def test_to_float_rejects_non_numbers(value: Any) -> None:
    assert to_float(value) is None
