"""The steps of a session: each top-level statement that ran to completion in one cell
execution, with the facts the kernel recorded for it — what :class:`.slicer.Slicer` links
into dependencies and :mod:`.codegen` writes out. Kept apart from the slicer so that the
script writer and the run-slice helpers need the step model without the dependency rules.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.entities import Execution
from .analysis import Statement, analyse_cell
from .branches import prune
from .magics import cell_magic_body


@dataclass(eq=False)
class Step:
    """One completed top-level statement of one cell execution."""

    execution: Execution
    stmt: Statement
    fact: dict[str, Any]
    order: int
    deps: set[Step] = field(default_factory=set)
    #: Objects this step created or changed (ids, as recorded by the kernel).
    writes: set[int] = field(default_factory=set)
    #: The cell magic statement that ran this step's cell as a nested cell (``%%capture``
    #: runs its body with ``run_cell``, so the log holds both): when the slice keeps that
    #: statement, which runs the whole body itself, this step is not emitted again.
    inside: Step | None = None
    #: The reverse: the steps of the nested cell this cell magic statement ran.
    body: list[Step] = field(default_factory=list)
    #: Names it read that existed in the kernel but that no logged statement bound: defined
    #: before the log started, or put there by IPython (``_``, ``Out``) — a script lacks them.
    unlogged: set[str] = field(default_factory=set)
    #: An earlier step this one repeats to no effect: the same statement (or an import of
    #: the same module) binding the same names to the objects they already denoted, with no
    #: other effect (``import numpy as np`` run again). Where the slice keeps that step, this
    #: one is left out (see :meth:`Slicer.closure`).
    repeats: Step | None = None
    #: Global RNG streams (``numpy``, ``random``) this step drew from where nothing earlier
    #: in the log may have set their state: the script restores the state the kernel had
    #: before it (recorded by the log) to draw the same values.
    unseeded: set[str] = field(default_factory=set)
    #: Whether the step may itself have set an RNG's state (it calls something named like a
    #: seeding, or session code that does), or the notebook had seeded the stream before an
    #: import drew from it: then no warning that the notebook is unseeded.
    may_seed: bool = False

    @property
    def label(self) -> str:
        """Where the statement comes from, for comments and errors."""
        return f"{cell_label(self.execution)}, line {self.stmt.lineno}"

    def __repr__(self) -> str:
        return f"<Step {self.order} {self.label}: {self.stmt.source.strip()[:40]!r}>"


#: Names the kernel has without a cell binding them that the script has too: the tracker,
#: and builtins IPython shadows in the namespace (its own ``open``, ``exit``).
PROVIDED = frozenset({"mltrack"}) | frozenset(dir(builtins))
#: IPython's input and output history in the user namespace: ``_``, ``__``, ``___``, ``_5``,
#: ``_i``, ``_ii``, ``_iii``, ``_i5``, ``_oh``, ``_ih``, ``_dh``, ``In``, ``Out``.
_HISTORY = re.compile(r"^(_{1,3}|_\d+|_i{1,3}|_i\d+|_oh|_ih|_dh|In|Out)$")


def is_history(name: str) -> bool:
    """Whether ``name`` is one of IPython's history variables."""
    return _HISTORY.match(name) is not None


def cell_label(execution: Execution) -> str:
    """``In [3] (cell 9d607804)`` — as the notebook shows the execution, and the cell's id
    (``In [3]`` alone when the front end sent no cell id)."""
    cell = execution.cell_id or ""
    count = execution.execution_count
    prompt = f"In [{count}]" if count is not None else "In [ ]"
    if not cell or cell == f"exec-{count}":
        return prompt
    # JupyterLab's ids are UUIDs: their first 8 characters tell cells apart, as git's do
    short = cell[:8] if len(cell) == 36 and cell.count("-") == 4 else cell
    return f"{prompt} (cell {short})"


def build_steps(executions: Sequence[Execution]) -> list[Step]:
    """The steps of a session, in the order they ran."""
    steps: list[Step] = []
    previous: tuple[Execution, list[Step]] | None = None
    for execution in executions:
        try:
            statements = analyse_cell(execution.source)
        except SyntaxError:
            continue  # it never ran
        outer = _nesting_step(execution, previous)
        facts = {f["i"]: f for f in execution.facts.get("statements", [])}
        own: list[Step] = []
        for stmt in statements:
            fact = facts.get(stmt.index)
            if fact is None or not fact.get("ran") or not fact.get("ok"):
                continue
            if "branches" in fact and stmt.kind == "code" and stmt.code == stmt.source:
                stmt = _without_untaken_branches(stmt, set(fact["branches"]), execution)
            step = Step(execution, stmt, fact, len(steps), inside=outer)
            if outer is not None:
                outer.body.append(step)
            own.append(step)
            steps.append(step)
        previous = (execution, own)
    return steps


def _nesting_step(
    execution: Execution, previous: tuple[Execution, list[Step]] | None
) -> Step | None:
    """The step of the previous execution that ran ``execution`` as its cell magic's body:
    same cell and prompt number, and the body is this cell's code."""
    if previous is None:
        return None
    before, steps = previous
    if (before.cell_id, before.execution_count) != (execution.cell_id, execution.execution_count):
        return None
    for step in steps:
        body = cell_magic_body(step.stmt.source)
        if body is not None and body.strip() == execution.raw.strip():
            return step
    return None


def _without_untaken_branches(stmt: Statement, taken: set[int], execution: Execution) -> Statement:
    """The statement with the ``if`` branches it never took cut out (see :mod:`.branches`),
    analysed again so that what only those branches mention is no dependency."""
    where = f"{cell_label(execution)}, line {stmt.lineno}"
    try:
        pruned = prune(stmt.code, taken, where)
        if pruned is None:
            return stmt
        (again,) = analyse_cell(pruned)
    except (SyntaxError, ValueError):
        return stmt
    again.index, again.lineno, again.end_lineno = stmt.index, stmt.lineno, stmt.end_lineno
    again.source = stmt.source
    return again
