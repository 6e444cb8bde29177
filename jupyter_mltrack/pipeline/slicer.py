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

Beyond those dependencies, the slice keeps every import of a top-level package it imports
from, and set-up calls through that package's modules (:meth:`Slicer.side_effects`):
importing is a side effect (``from sklearn.experimental import enable_halving_search_cv``).
A draw from a stream nothing before it may have seeded is marked (``Step.unseeded``): the
script restores the state the kernel's generator had before it (see ``export.rng_restores``).

A step changes an object when it assigns to its items or attributes, deletes them, uses an
augmented assignment on it, iterates over it when it is an iterator, or calls a method or
function that, by its effect spec and the object's recorded type, changes it
(:mod:`.effects`). The slice is the closure of the targets' dependencies. Statements that
did not complete (an exception mid-cell) are not steps, so what ran before the error is
kept and the rest dropped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

from ..store.entities import Execution
from . import effects
from .analysis import FunctionSummary, Statement, dotted_name
from .step_rules import (
    _EFFECT_FACTS,
    _NEW_FROM_BUILTINS,
    _NEW_VALUES,
    _RETURNS_ITS_ARGUMENT,
    _SETUP_CALL,
    LIBRARY_PACKAGES,
    _binds_constant,
    _ids,
    _imports_only,
    _is_import,
    _parse,
    _read_ids,
    _seeding_code,
    _written_ids,
    imported_module,
    reseeds,
)
from .steps import PROVIDED, Step, build_steps


class SliceError(Exception):
    """The export cannot be made; the message says why (and where)."""


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
        #: Seeded streams an import drew from since (their next draw is restored, unwarned).
        import_shifted: set[str] = set()
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
            if stmt.import_only and drawn:
                # A module drawing as it is first imported initialises itself (rich, which
                # scikit-learn imports when installed, draws an id from `random`): not the
                # notebook's randomness. The script imports it at its top, and once per
                # process (a second run() would not draw again), so the stream's next draw
                # is given the state the kernel had before it instead, with no warning when
                # the notebook had seeded the stream.
                for rng in drawn:
                    if rng_last.pop(rng, None) is not None:
                        import_shifted.add(rng)
                drawn = []
            library_only = self._library_only(stmt, types)
            sets = bool(drawn) and (cuts or not library_only)
            step.unseeded = {r for r in drawn if not cuts and r not in rng_last}
            if step.unseeded:
                step.may_seed = (
                    _seeding_code(stmt.code or stmt.source)
                    or any(self.functions[n].seeds for n in self._called(stmt, types))
                    or bool(step.unseeded & import_shifted)
                )
            import_shifted.difference_update(drawn)
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
        """The steps ``roots`` need, in the order they ran: their dependencies, and the
        imports and set-up calls of the packages they use (:meth:`side_effects`)."""
        roots = list(roots)
        needed = _reach(roots, {})
        extra = self.side_effects(needed)
        if extra:
            roots.extend(extra)
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

    def side_effects(self, needed: set[Step]) -> set[Step]:
        """Steps kept for what they do to a package the slice uses, not for a name it reads:
        imports are side effects (``from sklearn.experimental import
        enable_halving_search_cv`` makes ``HalvingRandomSearchCV`` importable; a plugin
        import registers it), and so are set-up calls through the package's modules
        (``matplotlib.use("Agg")``, ``pd.set_option(...)``, ``np.seterr(...)``). Every
        import of a top-level package the slice imports from is kept, with those set-up
        statements, when they ran before the slice's last statement; an import of a package
        nothing in the slice uses (``import json``) is not."""
        packages = {
            module.partition(".")[0]
            for step in needed
            for module in step.stmt.imports
            if module and not module.startswith(".")
        }
        packages.discard("jupyter_mltrack")  # the script's recorder stands in for it
        if not packages or not needed:
            return set()
        last = max(step.order for step in needed)
        extra: set[Step] = set()
        for step in self.steps[:last]:
            if step in needed or step.stmt.kind != "code":
                continue
            if _imports_only(step.stmt, packages) or self._sets_up(step, packages):
                extra.add(step)
        return extra

    def _sets_up(self, step: Step, packages: set[str]) -> bool:
        """Whether the step is a set-up call or assignment through modules of ``packages``:
        ``pd.set_option("display.precision", 3)``, ``matplotlib.use("Agg")``,
        ``plt.rcParams["figure.dpi"] = 80`` — it reads nothing but those modules and
        builtins, draws from no RNG and writes no file."""
        stmt, fact = step.stmt, step.fact
        if not stmt.reads or stmt.binds or "rng" in fact or fact.get("files", {}).get("w"):
            return False
        node = _parse(stmt)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if not isinstance(func, ast.Attribute) or dotted_name(func) is None:
                return False
            if func.attr in effects.RNG_SEEDERS or not _SETUP_CALL.match(func.attr):
                return False
        elif isinstance(node, ast.Assign):
            if not all(isinstance(t, ast.Attribute | ast.Subscript) for t in node.targets):
                return False
        else:
            return False
        types = fact.get("types", {})
        imports = [d for d in step.deps if _is_import(d.stmt)]
        for name in stmt.reads:
            if name in PROVIDED and name not in types:
                continue  # a builtin
            if types.get(name) != "builtins.module":
                return False
            modules = [m for d in imports if (m := imported_module(d.stmt, name))]
            if not modules or modules[-1].partition(".")[0] not in packages:
                return False
        return True

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
