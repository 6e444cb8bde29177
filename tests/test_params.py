"""Which values of a cell count as its parameters (``capture.params``)."""

from __future__ import annotations

import ast
import math
import os
from decimal import Decimal
from textwrap import dedent
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.capture.params import analyse, is_simple, simple_reads


def cell(source: str):  # noqa: ANN201
    return analyse(ast.parse(dedent(source)))


def literals(source: str) -> dict[str, Any]:
    return cell(source).literals


def reads(source: str) -> list[str]:
    return cell(source).reads


# literal assignments --------------------------------------------------------------------------


def test_literal_assignments() -> None:
    got = literals(
        """
        lr = 1e-3
        epochs = 10
        neg = -5
        neg_float = -0.5
        name = "resnet"
        flag = True
        nothing = None
        layers = [64, 32]
        cfg = {"drop": 0.1, "acts": ("relu", "tanh")}
        shape = (3, 224, 224)
        a, b = 1, "two"
        (c, [d, e]) = (3, [4, 5])
        f = g = 0.25
        h: int = 7
        i: float
        """
    )
    assert got == {
        "lr": 0.001,
        "epochs": 10,
        "neg": -5,
        "neg_float": -0.5,
        "name": "resnet",
        "flag": True,
        "nothing": None,
        "layers": [64, 32],
        "cfg": {"drop": 0.1, "acts": ("relu", "tanh")},
        "shape": (3, 224, 224),
        "a": 1,
        "b": "two",
        "c": 3,
        "d": 4,
        "e": 5,
        "f": 0.25,
        "g": 0.25,
        "h": 7,
    }
    assert type(got["epochs"]) is int and type(got["lr"]) is float


def test_non_literals_and_non_simple_values_do_not_count() -> None:
    many = ", ".join("1" for _ in range(40))
    text = "t" * 600
    got = literals(
        f"""
        computed = 1 + 2
        called = make()
        named = other
        a_set = {{1, 2}}
        big = [0] * 100
        long = [{many}]
        deep = [[[1]]]
        text = "{text}"
        x, y = pair
        first, *rest = [1, 2, 3]
        obj.attr = 1
        table["k"] = 2
        ok = 1
        """
    )
    assert got == {"ok": 1}


def test_names_rebound_later_are_not_parameters() -> None:
    got = literals(
        """
        aug = 1
        aug += 1
        looped = 0
        for looped in range(3):
            pass
        func = 1
        def func():
            pass
        klass = 1
        class klass:
            pass
        imported = 1
        import os as imported
        caught = 1
        try:
            pass
        except ValueError as caught:
            pass
        in_with = 1
        with open("f") as in_with:
            pass
        walrus = 1
        print(walrus := 2)
        branch = 1
        if cond:
            branch = 2
        reassigned = 1
        reassigned = compute()
        kept = 1
        print(kept)
        changed = 1
        changed = 2
        """
    )
    assert got == {"kept": 1, "changed": 2}


# reads ----------------------------------------------------------------------------------------


def test_reads_in_order_excluding_names_bound_earlier() -> None:
    assert reads(
        """
        model = build(width, depth)
        model.fit(data, epochs=epochs)
        width = 3
        print(width, model, later)
        """
    ) == ["build", "width", "depth", "data", "epochs", "later"]
    # a name read before being bound in the same cell is still a read
    assert reads("total = total + step") == ["total", "step"]
    assert reads("count += 1") == ["count"]


def test_reads_skip_builtins_private_and_ipython_names() -> None:
    assert reads("print(len(x), _hidden, __x, In, Out, get_ipython, y)") == ["x", "y"]


def test_scoping_of_functions_lambdas_and_comprehensions() -> None:
    got = reads(
        """
        def train(batch, lr=default_lr, *args, scale=factor, **kw):
            local = batch * lr * scale
            return local + bias

        square = lambda v: v * v + offset
        values = [i * k for i in items if i > threshold]
        pairs = {key: val for key, val in mapping.items()}
        total = sum(j for j in range(n))
        after = i
        """
    )
    assert got == [
        "default_lr",
        "factor",
        "bias",
        "offset",
        "items",  # comprehensions in evaluation order: iterable, condition, element
        "threshold",
        "k",
        "mapping",
        "n",
        "i",  # comprehension variables do not leak into the cell
    ]


def test_imports_classes_and_exceptions_bind_names() -> None:
    got = reads(
        """
        import numpy as np
        import os.path
        from math import sqrt, pi as PI
        class Net(Base):
            size = hidden
        try:
            risky()
        except ValueError as err:
            print(err)
        np.zeros(3); os.getcwd(); sqrt(PI); Net(); err
        """
    )
    assert got == ["Base", "risky"]


def test_last_expression() -> None:
    assert cell("x = 1\nx * 2").last_expression == "x * 2"
    assert cell("model.score(X, y)").last_expression == "model.score(X, y)"
    assert cell("x = 1").last_expression is None
    assert cell("f()\nx = 1").last_expression is None
    assert cell("").last_expression is None


# simple values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1.5,
        math.nan,
        True,
        None,
        "adam",
        "s" * 500,
        [1, 2.0, "x"],
        (1, (2, 3)),
        {"a": 1, "b": [1, 2]},
        [None] * 32,
        np.float64(0.1),
        np.int32(3),
    ],
    ids=repr,
)
def test_simple_values(value: Any) -> None:
    assert is_simple(value)


@pytest.mark.parametrize(
    "value",
    [
        "s" * 501,
        [0] * 33,
        {str(i): i for i in range(33)},
        [[[1]]],
        {1: "non-str key"},
        {1, 2},
        complex(1, 1),
        Decimal("1.5"),
        b"bytes",
        object(),
        len,
        np.array([1, 2]),
        [np.array([1])],
    ],
    ids=lambda v: type(v).__name__,
)
def test_not_simple_values(value: Any) -> None:
    assert not is_simple(value)


def test_simple_reads_take_only_plain_small_data() -> None:
    def fn() -> None:
        pass

    namespace = {
        "lr": 0.01,
        "layers": [64, 32],
        "np_scalar": np.float32(0.5),
        "df": pd.DataFrame({"a": [1, 2]}),
        "series": pd.Series([1.0]),
        "arr": np.zeros(3),
        "zero_d": np.array(1.0),
        "module": os,
        "func": fn,
        "builtin": len,
        "big": list(range(1000)),
        "cls": dict,
        "enum_like": pytest.ExitCode.OK,
    }
    got = simple_reads([*namespace, "missing"], namespace)
    assert got == {"lr": 0.01, "layers": [64, 32], "np_scalar": np.float32(0.5)}
    assert list(simple_reads(["layers", "lr"], namespace)) == ["layers", "lr"]
