"""Backward slicing over the execution log: the statements a target needs, in the order
they actually ran.

A *step* is one top-level statement that ran to completion in one cell execution. Walking
the session forwards, each step gets the steps it depends on:

* **names**: the step that last bound each name it reads — including, for calls to
  functions and methods defined in the session, the globals their bodies read when called
  (late binding), and for ``global`` statements in them, the names they rebind;
* **objects**: every earlier step that created or changed the objects its names denote, by
  identity as the kernel recorded it — so a change made through an alias (``b = a``), a
  numpy view (``v = arr[:3]``) or an element shared by a shallow copy is seen, and a
  ``copy()`` or ``deepcopy`` is not;
* **process state**: the previous draw from a global RNG (so the stream is reproduced; a
  reseed starts a new stream), the last change of working directory and ``sys.path`` (for
  steps that open files or import), of environment variables (for every step after it);
* **files**: for each file the step read, the last step that wrote it (by resolved path).

A step changes an object when it assigns to its items or attributes, deletes them, uses an
augmented assignment on it, iterates over it when it is an iterator, or calls a method or
function that, by its effect spec and the object's recorded type, changes it
(:mod:`.effects`). The slice is the closure of the targets' dependencies. Statements that
did not complete (an exception mid-cell) are not steps, so what ran before the error is
kept and the rest dropped.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.entities import Execution
from . import effects
from .analysis import FunctionSummary, Statement, analyse_cell
from .branches import prune
from .magics import cell_magic_body


class SliceError(Exception):
    """The export cannot be made; the message says why (and where)."""


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


def _ids(identity: Any) -> list[int]:
    """Object ids in a recorded identity: ``id``, or ``[id, root]`` / ``[id, root, held]``."""
    if identity is None:
        return []
    if isinstance(identity, int):
        return [identity]
    out = [identity[0], identity[1]]
    if len(identity) > 2:
        out.extend(identity[2])
    return out


def _written_ids(identity: Any) -> list[int]:
    """The objects a change to this identity changes: itself and the memory it views."""
    if identity is None:
        return []
    if isinstance(identity, int):
        return [identity]
    return [identity[0], identity[1]]


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


class Slicer:
    """Dependencies between the steps of a session (computed once, sliced many times)."""

    def __init__(self, executions: Sequence[Execution]) -> None:
        self.steps = build_steps(executions)
        self.last_def: dict[str, Step] = {}
        self.identity: dict[str, Any] = {}
        self.functions: dict[str, FunctionSummary] = {}
        #: The type each name last had, as recorded (for effect specs).
        self.types: dict[str, str] = {}
        self._link()

    # forward pass ---------------------------------------------------------------------------

    def _link(self) -> None:
        writers: dict[int, list[Step]] = {}
        rng_last: dict[str, Step] = {}
        state_last: dict[str, Step] = {}
        file_writer: dict[str, Step] = {}
        for step in self.steps:
            stmt, fact = step.stmt, step.fact
            ids = fact.get("ids", {})
            self.identity.update(ids)
            types = fact.get("types", {})
            self.types.update(types)
            reads = set(stmt.reads)
            binds = set(stmt.binds) | set(fact.get("names", []))
            # globals changed in place by the session's functions it calls (no ``global``
            # needed for ``registry.append(n)``)
            changed_by_calls: set[str] = set()
            for name in self._called(stmt, types):
                summary = self.functions[name]
                reads |= summary.reads
                binds |= summary.rebinds
                for target, methods in summary.mutates.items():
                    kind = self.types.get(target)
                    if any(m == "" or effects.method_mutates(kind, m, {}) for m in methods):
                        changed_by_calls.add(target)
            deps = step.deps
            for name in reads:
                if name in self.last_def:
                    deps.add(self.last_def[name])
                elif name in ids and name not in PROVIDED:
                    step.unlogged.add(name)
            # the objects it reads: everything that built or changed them before
            for name in reads | stmt.mutates | stmt.mutates_surely | stmt.iterates:
                identity = ids.get(name, self.identity.get(name))
                for oid in _ids(identity):
                    deps.update(writers.get(oid, ()))
            for identity, _type in fact.get("receivers", {}).values():
                for oid in _ids(identity):
                    deps.update(writers.get(oid, ()))
            # global RNG streams: each draw depends on the previous one (a reseed cuts it)
            for rng in fact.get("rng", []):
                if "rng-seed" not in stmt.effects and rng in rng_last:
                    deps.add(rng_last[rng])
                rng_last[rng] = step
            # process state
            files = fact.get("files", {})
            if files.get("r") or files.get("w") or stmt.imports:
                for key in ("cwd", "sys.path"):
                    if key in state_last:
                        deps.add(state_last[key])
            if "env" in state_last:
                deps.add(state_last["env"])
            for key, flag in (("cwd", "cwd"), ("sys.path", "path"), ("env", "env")):
                if key in stmt.effects or flag in fact:
                    if key in state_last:
                        deps.add(state_last[key])
                    state_last[key] = step
            for path in files.get("r", []):
                if path in file_writer:
                    deps.add(file_writer[path])
            for path in files.get("w", []):
                if path in file_writer:
                    deps.add(file_writer[path])
                file_writer[path] = step
            # what it changed in place
            for name in self._changed(stmt, fact, types) | changed_by_calls:
                for oid in _written_ids(ids.get(name, self.identity.get(name))):
                    step.writes.add(oid)
            for source, (identity, type_name) in fact.get("receivers", {}).items():
                calls = [c for c in stmt.calls if c.receiver_source == source]
                if any(
                    effects.method_mutates(type_name, c.method or "", c.keywords) for c in calls
                ):
                    step.writes.update(_written_ids(identity))
            for oid in step.writes:
                writers.setdefault(oid, []).append(step)
            # what it bound (for a cell magic, what its body's own steps did not)
            by_body = {n for s in step.body for n in s.stmt.binds}
            for name, identity in fact.get("bound", {}).items():
                if name in by_body:
                    continue
                self.identity[name] = identity
                for oid in _written_ids(identity):
                    if oid not in writers:  # a new object (an alias adds no history)
                        writers[oid] = [step]
            for name in binds:
                self.last_def[name] = step
            self.functions.update(stmt.functions)
            for name in binds - set(stmt.functions):
                self.functions.pop(name, None)  # rebound to something else
            deps.discard(step)
        # a cell magic's statement runs its whole body: it needs what every step of it needs
        for step in self.steps:
            step.deps.update(step.body)

    def _called(self, stmt: Statement, types: dict[str, str]) -> set[str]:
        """Session functions and classes the statement calls, directly or through them."""
        direct = {c.func for c in stmt.calls if c.func in self.functions}
        for call in stmt.calls:
            # a method of a session class, called on its instance
            type_name = types.get(call.receiver or "", "")
            cls = type_name.rsplit(".", 1)[-1]
            if type_name.startswith("__main__.") and cls in self.functions:
                direct.add(cls)
        seen: set[str] = set()
        todo = list(direct)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.functions:
                continue
            seen.add(name)
            todo.extend(self.functions[name].calls)
        return seen

    def _changed(self, stmt: Statement, fact: dict[str, Any], types: dict[str, str]) -> set[str]:
        """Names whose objects this step changed in place."""
        changed = set(stmt.mutates_surely)
        for name in stmt.mutates:  # x += ...: in place only for mutable x
            if effects.mutable(types.get(name)):
                changed.add(name)
        for name in stmt.iterates:
            if effects.is_iterator(types.get(name)):
                changed.add(name)
        # Functions of the session may change the mutable objects they are given; library
        # functions are taken not to (numpy, pandas and scikit-learn return new objects),
        # except the few listed in the effect specs (``random.shuffle``, ``next``…).
        for call in stmt.calls:
            if call.method and call.receiver and call.receiver_source == call.receiver:
                if effects.method_mutates(types.get(call.receiver), call.method, call.keywords):
                    changed.add(call.receiver)
            elif (
                call.method
                and call.receiver
                and not call.receiver_source
                and call.keywords.get("inplace") is True
            ):
                # df["a"].fillna(..., inplace=True): an object reached from the name
                changed.add(call.receiver)
            dotted = call.dotted or call.func or ""
            if dotted in effects.ARGUMENT_MUTATORS:
                positions = effects.ARGUMENT_MUTATORS[dotted]
                changed.update(a for n, a in enumerate(call.args) if n in positions)
            elif call.func is not None and call.func in self.functions:
                changed.update(a for a in call.args if effects.mutable(types.get(a)))
        return changed

    # slicing --------------------------------------------------------------------------------

    def slice_names(self, names: Iterable[str]) -> list[Step]:
        """The steps the current values of ``names`` need."""
        roots: set[Step] = set()
        missing = []
        for name in names:
            step = self.last_def.get(name)
            if step is None:
                missing.append(name)
                continue
            roots.add(step)
            for oid in _ids(self.identity.get(name)):
                roots.update(s for s in self.steps if oid in s.writes)
        if missing:
            raise SliceError(
                f"no executed statement defines {', '.join(map(repr, missing))} in this session"
            )
        return self.closure(roots)

    def closure(self, roots: Iterable[Step]) -> list[Step]:
        needed: set[Step] = set()
        todo = list(roots)
        while todo:
            step = todo.pop()
            if step in needed:
                continue
            needed.add(step)
            todo.extend(step.deps - needed)
        # the body of a kept cell magic runs inside it, not a second time on its own
        kept = (s for s in needed if s.inside is None or s.inside not in needed)
        return sorted(kept, key=lambda s: s.order)

    def steps_of(self, execution: Execution) -> list[Step]:
        return [s for s in self.steps if s.execution.seq == execution.seq]
