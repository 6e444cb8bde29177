"""The slicer's static analysis of one statement: what it reads from before, binds and may
change. The end-to-end cases (real kernels, exported scripts run in a fresh process) are in
``test_export_cases``; these pin the analysis itself, where a wrong answer would otherwise
show only as a slice that is too big or too small."""

from __future__ import annotations

import textwrap

import pytest

from jupyter_mltrack.pipeline.analysis import Statement, analyse_cell


def one(source: str) -> Statement:
    (stmt,) = analyse_cell(textwrap.dedent(source))
    return stmt


def test_a_name_bound_earlier_in_the_statement_is_not_read_from_before() -> None:
    stmt = one(
        """
        with open(path) as fh:
            fh.write(text)
        """
    )
    assert {"path", "text"} <= stmt.reads
    assert "fh" not in stmt.reads and "fh" not in stmt.mutates
    assert "fh" in stmt.binds


def test_a_binding_inside_a_branch_does_not_hide_a_read_after_it() -> None:
    # `x` may not be bound by the `if`, so `y = x + 1` after it reads the earlier `x`
    stmt = one(
        """
        while more():
            if flag:
                x = 1
            y = x + 1
        """
    )
    assert {"flag", "x"} <= stmt.reads
    assert {"x", "y"} <= stmt.binds


def test_a_loop_variable_is_the_loops_own() -> None:
    stmt = one(
        """
        for row in rows:
            row.append(0)
        """
    )
    assert "rows" in stmt.reads and "row" not in stmt.reads
    assert "row" not in stmt.mutates


@pytest.mark.parametrize(
    ("source", "bound"),
    [
        ("try:\n    risky()\nexcept ValueError as err:\n    last = err\n", {"err", "last"}),
        ("match point:\n    case [x, *rest]:\n        pass\n", {"x", "rest"}),
        ("match cfg:\n    case {'lr': lr, **others}:\n        pass\n", {"lr", "others"}),
        ("match v:\n    case int() as n:\n        pass\n", {"n"}),
    ],
)
def test_except_and_match_bind_their_names(source: str, bound: set[str]) -> None:
    stmt = one(source)
    assert bound <= stmt.binds, stmt.binds
    assert not bound & stmt.reads, stmt.reads


def test_in_place_changes_are_found_and_rebinding_is_not_one() -> None:
    # a method call is a possible change; the effect specs decide with the recorded type
    (call,) = one("lst.append(1)").calls
    assert (call.receiver, call.method) == ("lst", "append")
    assert "d" in one("d['k'] = 2").mutates_surely
    assert "obj" in one("obj.attr = 2").mutates_surely
    assert "xs" in one("del xs[0]").mutates_surely
    assert "xs" in one("xs += [1]").mutates
    rebound = one("t = (1, 2)")
    assert not rebound.mutates and rebound.binds == {"t"}


def test_a_function_summary_says_what_calling_it_reads_rebinds_and_changes() -> None:
    stmt = one(
        """
        def register(n, scale=default_scale):
            global total
            total = total + n * factor
            registry.append(n)
            return helper(n)
        """
    )
    summary = stmt.functions["register"]
    # the default is read when the function is defined, the body's globals when it is called
    assert "default_scale" in stmt.reads and "factor" not in stmt.reads
    assert {"factor", "registry", "total", "helper"} <= summary.reads
    assert summary.rebinds == {"total"}
    assert "registry" in summary.mutates and "n" not in summary.mutates


@pytest.mark.parametrize(
    ("source", "may_call"),
    [
        ("x = 1", False),
        ("y = x * 2 + a.b[3]", False),
        ("d['a'] = 1", False),
        ("x += 1", False),
        ("def g(a=1) -> int:\n    return h()", False),  # the body runs when called
        ("f(x)", True),
        ("import os", True),
        ("@dec\ndef k():\n    pass", True),  # the decorator is called
        ("def m(a=f()):\n    pass", True),  # a default is evaluated at definition
        ("for i in r:\n    pass", True),  # iterating may run a generator
        ("z = [i for i in r]", True),
        ("lam = lambda q=f(): q", True),
    ],
)
def test_which_statements_may_call_code(source: str, may_call: bool) -> None:
    """The kernel reads RNG, working directory and environment only around statements that
    may call code: a statement wrongly taken not to would hide such a change from the slice."""
    assert one(source).may_call is may_call
