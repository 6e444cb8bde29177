"""Backward slicing over the execution log: the statements a target needs, in the order
they actually ran.

A *step* is one top-level statement that ran to completion in one cell execution. Walking
the session forwards, each step gets the steps it depends on:

* **names**: the step that last bound each name it reads — including, for functions and
  methods defined in the session that it calls or passes on as values (callbacks,
  ``refit=f``, ``key=f``), the globals their bodies read when called (late binding), and
  for ``global`` statements in them, the names they rebind;
* **objects**: every earlier step that created or changed the objects its names denote, by
  identity as the kernel recorded it — so a change made through an alias (``b = a``), a
  numpy view (``v = arr[:3]``) or an element shared by a shallow copy is seen, and a
  ``copy()`` or ``deepcopy`` is not. An id is an object's only while it lives (CPython
  hands a freed object's address to the next one), so a name bound to an object no name
  held before starts a new history; values (numbers, strings, ``None``) have none at all;
  an import run again supersedes the one that bound the module first;
* **process state**: the previous draw from a global RNG (so the stream is reproduced; a
  reseed — ``np.random.seed(0)``, not one whose argument draws — starts a new stream; a draw
  changes the generator, not the module it is called through; a stream nothing in the log
  may have seeded came from the OS's entropy, and its draws are no dependency), the last change of working directory and ``sys.path`` (for
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

import ast
import builtins
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..store.entities import Execution
from . import effects
from .analysis import (
    FunctionSummary,
    Statement,
    _import_may_seed,
    analyse_cell,
    call_may_seed,
    dotted_name,
)
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
    #: An earlier step this one repeats to no effect: the same statement (or an import of
    #: the same module) binding the same names to the objects they already denoted, with no
    #: other effect (``import numpy as np`` run again). Where the slice keeps that step, this
    #: one is left out (see :meth:`Slicer.closure`).
    repeats: Step | None = None

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


#: Types whose objects never change in place: reading one needs the statement that bound
#: the name, not the object's history. (CPython reuses their ids as soon as they are freed,
#: and shares small ints, interned strings, ``None``: their ids say nothing.) Tuples and
#: frozensets are values too, but the mutable objects they hold are followed.
VALUE_TYPES = frozenset(
    {f"builtins.{t}" for t in ("int", "float", "complex", "bool", "str", "bytes", "NoneType")}
    | {"builtins.range", "builtins.ellipsis", "builtins.NotImplementedType"}
    | {
        f"numpy.{t}"
        for t in (
            "bool",
            "bool_",
            "str_",
            "bytes_",
            "datetime64",
            "timedelta64",
            *(f"int{n}" for n in (8, 16, 32, 64)),
            *(f"uint{n}" for n in (8, 16, 32, 64)),
            *(f"float{n}" for n in (16, 32, 64, 128)),
            *(f"complex{n}" for n in (64, 128, 256)),
            "longdouble",
            "clongdouble",
            "intc",
            "uintc",
            "longlong",
            "ulonglong",
        )
    }
)
_VALUE_CONTAINERS = frozenset({"builtins.tuple", "builtins.frozenset"})
#: Packages whose modules no call changes: a call through one (``np.random.rand()``,
#: ``np.linalg.norm(x)``) changes its arguments or a global RNG (recorded as such), never the
#: module object a later ``np.…`` reads.
LIBRARY_PACKAGES = frozenset(
    {"numpy", "pandas", "random", "math", "statistics", "scipy", "sklearn", "torch", "jax"}
)
#: Functions of those packages that may return the object they are given (not a new one).
_RETURNS_ITS_ARGUMENT = frozenset(
    {"asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "asmatrix", "require"}
)
#: Facts of a step that are effects besides binding names (see ``Step.repeats``).
_EFFECT_FACTS = ("rng", "files", "cwd", "path", "env", "names")


def _constant(node: ast.AST) -> bool:
    """An immutable literal: ``1``, ``-0.5``, ``"a"``, ``None``, a tuple of those."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if isinstance(node, ast.Tuple):
        return all(_constant(e) for e in node.elts)
    return isinstance(node, ast.Constant)


def _binds_constant(node: ast.AST | None, name: str) -> bool:
    """Whether the statement binds ``name`` (alone, not by unpacking) to an immutable literal."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        targets = [node.target]
    else:
        return False
    return _constant(node.value) and any(isinstance(t, ast.Name) and t.id == name for t in targets)


#: Expressions whose value is certainly a new object.
_NEW_VALUES = (
    ast.List,
    ast.Dict,
    ast.Set,
    ast.Tuple,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.GeneratorExp,
    ast.JoinedStr,
    ast.Lambda,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
)
#: Builtins whose result is always a new object.
_NEW_FROM_BUILTINS = frozenset({"list", "dict", "set", "bytearray", "sorted"})


def _read_ids(identity: Any, type_name: str | None) -> list[int]:
    """The objects whose history a statement reading this identity depends on: none of a
    value's own (only the mutable objects a tuple holds)."""
    if type_name in VALUE_TYPES:
        return []
    if type_name in _VALUE_CONTAINERS:
        return list(identity[2]) if isinstance(identity, list) and len(identity) > 2 else []
    return _ids(identity)


def _parse(stmt: Statement) -> ast.stmt | None:
    """The statement's node, when its code is one statement (not to be changed: shared)."""
    return _parse_code(stmt.code or stmt.source)


@functools.lru_cache(maxsize=4096)
def _parse_code(code: str) -> ast.stmt | None:
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return None
    return body[0] if len(body) == 1 else None


@functools.lru_cache(maxsize=4096)
def _seeding_code(code: str) -> bool:
    """Whether the statement's own code may set a global random generator's state, by the
    names it calls (``np.random.seed``, ``exec``…) or a module it imports (see
    :func:`.analysis.call_may_seed`); ``True`` when it is not one statement."""
    node = _parse_code(code)
    if node is None:
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and call_may_seed(sub):
            return True
        if isinstance(sub, ast.Import | ast.ImportFrom) and _import_may_seed(sub):
            return True
    return False


def _is_import(stmt: Statement) -> bool:
    return isinstance(_parse(stmt), ast.Import | ast.ImportFrom)


def imported_module(stmt: Statement, name: str) -> str | None:
    """The module an import statement binds ``name`` to (``numpy`` for ``np`` in ``import
    numpy as np``, ``numpy.random`` in ``from numpy import random``), else ``None``."""
    node = _parse(stmt)
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname == name:
                return alias.name
            if alias.asname is None and alias.name.partition(".")[0] == name:
                return name
    elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
        for alias in node.names:
            if (alias.asname or alias.name) == name:
                return f"{node.module}.{alias.name}"
    return None


def reseeds(stmt: Statement) -> bool:
    """Whether the statement is a reseed and nothing before it: ``np.random.seed(0)``,
    ``random.seed(SEED)`` — a call of ``….seed`` whose arguments call nothing that could draw
    first (``np.random.seed(np.random.randint(9))`` continues the old stream)."""
    if "rng-seed" not in stmt.effects:
        return False
    node = _parse(stmt)
    if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Call):
        return False
    call = node.value
    if not isinstance(call.func, ast.Attribute) or call.func.attr != "seed":
        return False
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        for sub in ast.walk(arg):
            if isinstance(sub, ast.Call) and not (
                isinstance(sub.func, ast.Name) and sub.func.id in effects.PURE_BUILTINS
            ):
                return False
    return True


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
        #: The steps that built or changed each object (by id) in its current lifetime: the
        #: step that first bound a name to it, then those that changed it in place.
        self.writers: dict[int, list[Step]] = {}
        #: Of those, the steps that bound it (as a new object, or an import again).
        self._born: dict[int, list[Step]] = {}
        #: Objects changed in place in their current lifetime.
        self._changed_ids: set[int] = set()
        #: How many names' identities hold each object id (as elements too).
        self._refs: dict[int, int] = {}
        #: Objects made or changed by statements that ran code of the session's own that may
        #: seed a global RNG (see :meth:`_library_only`): using them may run it again.
        self._user_code: set[int] = set()
        self._link()

    # forward pass ---------------------------------------------------------------------------

    def _link(self) -> None:
        writers = self.writers
        rng_last: dict[str, Step] = {}
        state_last: dict[str, Step] = {}
        file_writer: dict[str, Step] = {}
        for step in self.steps:
            stmt, fact = step.stmt, step.fact
            ids = fact.get("ids", {})
            for name, identity in ids.items():
                self._set_identity(name, identity)
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
                    if any(self._call_changes(target, m) for m in methods):
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
                for oid in _read_ids(identity, types.get(name)):
                    deps.update(writers.get(oid, ()))
            receivers = fact.get("receivers", {})
            for identity, type_name in receivers.values():
                for oid in _read_ids(identity, type_name):
                    deps.update(writers.get(oid, ()))
            # global RNG streams: each draw depends on the previous one (a reseed cuts it).
            # A stream nothing in the log may have seeded started from the OS's entropy: no
            # script can give its draws again, and earlier draws from it are no dependency
            # (the same cell run again does not depend on its last run's draws). The stream
            # is followed from the first statement that may have set its state.
            cuts = reseeds(stmt)
            drawn = fact.get("rng", [])
            library_only = self._library_only(stmt, types)
            sets = bool(drawn) and (cuts or not library_only)
            for rng in drawn:
                if not cuts and rng in rng_last:
                    deps.add(rng_last[rng])
                if sets or rng in rng_last:
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
            for source, (identity, type_name) in receivers.items():
                calls = [c for c in stmt.calls if c.receiver_source == source]
                if any(
                    effects.method_mutates(type_name, c.method or "", c.keywords) for c in calls
                ):
                    step.writes.update(_written_ids(identity))
            for oid in step.writes:
                writers.setdefault(oid, []).append(step)
                self._changed_ids.add(oid)
            # what it bound (for a cell magic, what its body's own steps did not)
            by_body = {n for s in step.body for n in s.stmt.binds}
            bound = {n: i for n, i in fact.get("bound", {}).items() if n not in by_body}
            seen = {oid for i in ids.values() for oid in _ids(i)}
            seen.update(oid for i, _t in receivers.values() for oid in _ids(i))
            state_changed = max((s.order for s in state_last.values()), default=-1)
            self._bind(step, bound, seen, types, state_changed)
            if not library_only:
                self._user_code.update(oid for i in bound.values() for oid in _written_ids(i))
                self._user_code.update(step.writes)
            for name in binds:
                self.last_def[name] = step
            self.functions.update(stmt.functions)
            for name in binds - set(stmt.functions):
                self.functions.pop(name, None)  # rebound to something else
            deps.discard(step)
        # a cell magic's statement runs its whole body: it needs what every step of it needs
        for step in self.steps:
            step.deps.update(step.body)

    # objects: identities, lifetimes -----------------------------------------------------------

    def _set_identity(self, name: str, identity: Any) -> None:
        """Record what ``name`` denotes now, counting the names that hold each object."""
        refs = self._refs
        for oid in _ids(self.identity.get(name)):
            left = refs.get(oid, 0) - 1
            if left > 0:
                refs[oid] = left
            else:
                refs.pop(oid, None)
        self.identity[name] = identity
        for oid in _ids(identity):
            refs[oid] = refs.get(oid, 0) + 1

    def _bind(
        self,
        step: Step,
        bound: dict[str, Any],
        seen: set[int],
        types: dict[str, str],
        state_changed: int,
    ) -> None:
        """The objects the step bound names to: new ones start a history of their own.

        An id is only an object's while it lives: CPython gives a freed object's address to
        the next one. So an object the names did not hold before the step (nor the step read)
        is new, and the history recorded under its id belongs to a dead object — unless that
        object was changed in place and may have lived on out of the names' sight (in an
        attribute, in a container's element not followed), when the statement is not one that
        certainly makes a new object: then the history stays (a larger slice, not a wrong one).
        An object the names already held is bound again: an import re-run supersedes the
        import that bound the module first (see :meth:`_supersedes`).
        """
        writers, born = self.writers, self._born
        repeated: Step | None = None
        repeats = bool(bound) and not any(k in step.fact for k in _EFFECT_FACTS)
        for name in bound:
            previous = self.identity.get(name)
            # alive until the step rebound the name: an object it is bound to again
            seen = seen | set(_ids(previous))
            if repeats and (previous is None or previous != bound[name]):
                repeats = False
            last = self.last_def.get(name)
            if repeats and (repeated is None or last is repeated) and last is not None:
                repeated = last
            else:
                repeats = False
            self._set_identity(name, None)  # what it held before is not held by it now
        for name, identity in bound.items():
            if _binds_constant(_parse(step.stmt), name):
                # ``k = 1``: the statement is the value's whole history. The object may be
                # one other names hold (small ints, interned strings are shared): its id
                # says nothing, and taking its history would tie ``k`` to those names'.
                self._set_identity(name, None)
                continue
            for oid in _written_ids(identity):
                history = writers.get(oid)
                if history is None:
                    new = True
                elif self._refs.get(oid, 0) > 0 or oid in seen:
                    new = False  # an object there was before: bound again (an alias…)
                    old = [b for b in born.get(oid, ()) if self._supersedes(step, b, state_changed)]
                    if old:
                        writers[oid] = [s for s in history if s not in old] + [step]
                        born[oid] = [b for b in born[oid] if b not in old] + [step]
                else:
                    new = oid not in self._changed_ids or self._fresh(step, name, types)
                if new:
                    writers[oid] = [step]
                    born[oid] = [step]
                    self._changed_ids.discard(oid)
                    self._user_code.discard(oid)
            self._set_identity(name, identity)
        if (
            repeats
            and repeated is not None
            and set(bound) <= set(repeated.fact.get("bound", {}))
            and self._supersedes(step, repeated, state_changed)
        ):
            step.repeats = repeated

    def _supersedes(self, step: Step, earlier: Step, state_changed: int) -> bool:
        """Whether ``step`` binding a module ``earlier`` bound makes ``earlier`` needless to
        what reads it from then on: both are imports, ``earlier`` did nothing else that was
        seen (no file, RNG, environment, directory or ``sys.path`` effect) and the working
        directory and ``sys.path`` did not change since it ran (the script imports where
        ``step`` ran). Other statements binding an object again are not taken to make it:
        ``m = make()`` may return what the first call built, from what was then."""
        if earlier is step or any(k in earlier.fact for k in _EFFECT_FACTS):
            return False
        if state_changed > earlier.order:
            return False
        return _is_import(step.stmt) and _is_import(earlier.stmt)

    def _fresh(self, step: Step, name: str, types: dict[str, str]) -> bool:
        """Whether the statement certainly made a new object for ``name`` (a display, a
        comprehension, arithmetic, a definition, a call of a class or of a library function
        that returns new objects)."""
        node = _parse(step.stmt)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return node.name == name
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            return False
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return False
        value = node.value
        if isinstance(value, _NEW_VALUES):
            return True
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in effects.RETURNS_SELF
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
        ):
            # RandomForestClassifier(...).fit(X, y): the estimator just made, returned
            cls = func.value.func.id
            kind = types.get(cls) or self.types.get(cls) or ""
            return self._library(cls) and (kind == "builtins.type" or kind.endswith("Meta"))
        if isinstance(func, ast.Name):
            kind = types.get(func.id)
            if kind is None:
                return func.id in _NEW_FROM_BUILTINS
            return not kind.startswith("enum.") and (
                kind == "builtins.type" or kind.endswith(("Meta", "Metaclass"))
            )
        root = dotted_name(func)
        if root is None or func.attr in _RETURNS_ITS_ARGUMENT:  # type: ignore[attr-defined]
            return False
        return self._library(root.partition(".")[0])

    def _library(self, name: str) -> bool:
        """Whether ``name`` was last bound by an import from a library package."""
        step = self.last_def.get(name)
        module = imported_module(step.stmt, name) if step is not None else None
        return module is not None and module.partition(".")[0] in LIBRARY_PACKAGES

    def _library_only(self, stmt: Statement, types: dict[str, str]) -> bool:
        """Whether running the statement certainly runs no code that could set a global
        random generator's state, only draw from it: it calls nothing named like a seeding
        (:data:`.effects.RNG_SEEDERS`), and every name it reads is a module or function of
        a library that seeds only when asked by name (:data:`.effects.NON_SEEDING_PACKAGES`),
        a builtin, the tracker, plain data or a library object (by recorded type, when one
        was recorded) not made by code of the session's own that may seed, or a function or class of the session
        whose body seeds nothing and reads only such names. ``RandomForestClassifier()
        .fit(X, y)`` with ``random_state=None``, ``train_test_split(X, y)``,
        ``cross_val_score(pipe, X, y)`` only draw."""
        if stmt.ipython or _seeding_code(stmt.code or stmt.source):
            return False
        todo = list(stmt.reads | stmt.mutates | stmt.mutates_surely | stmt.iterates)
        done: set[str] = set()
        while todo:
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            if any(oid in self._user_code for oid in _ids(self.identity.get(name))):
                return False
            summary = self.functions.get(name)
            type_name = types.get(name) or self.types.get(name)
            if summary is None and type_name and type_name.startswith("__main__."):
                # an instance of a class of the session: its methods run
                summary = self.functions.get(type_name[len("__main__.") :])
                if summary is None:
                    return False
            if summary is not None:
                if summary.seeds:
                    return False
                todo.extend(summary.reads)
                continue
            step = self.last_def.get(name)
            if step is None:
                if name != "mltrack" and name not in effects.LIBRARY_BUILTINS:
                    return False
            elif _is_import(step.stmt):
                module = imported_module(step.stmt, name) or ""
                if module.partition(".")[0] not in effects.NON_SEEDING_PACKAGES:
                    return False
                if module.rpartition(".")[2] in effects.RNG_SEEDERS:
                    return False  # from numpy.random import seed as s
            elif type_name is not None and not effects.library_value(type_name):
                return False
            # else: an object no statement read yet, made by a statement that ran no code
            # that may seed (or it would be in ``_user_code``)
        return True

    def _call_changes(self, target: str, method: str) -> bool:
        """Whether a session function calling ``method`` on the global ``target`` (as its
        summary records it) may change the object ``target`` denotes."""
        if method == "":
            return True
        if self._library(target):
            return False
        if method.startswith("."):  # through an attribute chain: what the name reaches
            return True
        return effects.method_mutates(self.types.get(target), method, {})

    def _called(self, stmt: Statement, types: dict[str, str]) -> set[str]:
        """Session functions and classes the statement may run, directly or through them:
        those it calls, and those it reads as values (a callback, ``refit=f``, ``key=f``,
        ``.apply(f)``, an instance of a session class or its bound method): whatever it
        hands them to may call them now, when their globals are read."""
        direct = {c.func for c in stmt.calls if c.func in self.functions}
        direct |= {n for n in stmt.reads if n in self.functions}
        receivers = {c.receiver for c in stmt.calls if c.receiver}
        for name in receivers | stmt.reads:
            # a method of a session class, called on (or through) its instance
            cls = self._session_class(types.get(name) or self.types.get(name) or "")
            if cls is not None:
                direct.add(cls)
        seen: set[str] = set()
        todo = list(direct)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.functions:
                continue
            seen.add(name)
            summary = self.functions[name]
            # called in the body, or passed on by it as a value
            todo.extend(summary.calls | {n for n in summary.reads if n in self.functions})
        return seen

    def _session_class(self, type_name: str) -> str | None:
        """The session class ``type_name`` (``__main__.Weigher``) names, if it is one (a
        bound method's recorded type is ``builtins.method``: its instance is read too)."""
        cls = type_name.rsplit(".", 1)[-1]
        if type_name.startswith("__main__.") and cls in self.functions:
            return cls
        return None

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
                roots.update(self.writers.get(oid, ()))
        if missing:
            raise SliceError(
                f"no executed statement defines {', '.join(map(repr, missing))} in this session"
            )
        return self.closure(roots)

    def closure(self, roots: Iterable[Step]) -> list[Step]:
        roots = list(roots)
        needed = _reach(roots, {})
        # an import run again to no effect is left out where the one it repeats is kept
        instead: dict[Step, Step] = {}
        for step in needed:
            earlier, kept = step.repeats, None
            while earlier is not None:
                if earlier in needed:
                    kept = earlier
                earlier = earlier.repeats
            if kept is not None:
                instead[step] = kept
        if instead:
            needed = _reach(roots, instead)
        # the body of a kept cell magic runs inside it, not a second time on its own
        kept = (s for s in needed if s.inside is None or s.inside not in needed)
        return sorted(kept, key=lambda s: s.order)

    def steps_of(self, execution: Execution) -> list[Step]:
        return [s for s in self.steps if s.execution.seq == execution.seq]


def _reach(roots: Iterable[Step], instead: dict[Step, Step]) -> set[Step]:
    """The steps ``roots`` need, transitively, each taken as the step ``instead`` names."""
    needed: set[Step] = set()
    todo = [instead.get(s, s) for s in roots]
    while todo:
        step = todo.pop()
        if step in needed:
            continue
        needed.add(step)
        todo.extend(instead.get(s, s) for s in step.deps if s not in needed)
    return needed
