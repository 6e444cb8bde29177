"""The execution log: every cell the kernel runs, as it ran, with the facts slicing needs.

From ``%load_ext jupyter_mltrack`` on, each cell execution is recorded with its cell id (the
``cellId`` JupyterLab sends; the execution count where there is none), the Python IPython
actually ran (after its transforms), its position in the session, whether it raised and at
which top-level statement, and per statement what only the running kernel can see:

* ``ran`` / ``ok``: whether the statement was reached and completed;
* ``ids``: the identity of the objects its names denote (before it runs, for the names it
  reads, changes or calls methods on; after, for the names it binds) — how aliasing
  (``b = a``), views (numpy arrays record the array that owns their memory) and shallow
  copies (a container records the mutable objects it holds) are told apart from copies;
* ``types``: the type of each object a method is called on (for effect specs: ``df.head()``
  reads, ``lst.append()`` writes);
* ``files``: files opened for reading and writing (by resolved path), from an audit hook;
* ``rng``: the global RNGs (``random``, numpy's) it consumed or reseeded; ``rng_state``:
  for a stream no statement of the session reseeded (``np.random.seed(0)``), its whole state
  before the statement drew, so that an export can start a script's draw where the
  kernel's started (see :func:`rng_state_fact`);
* ``cwd`` / ``path`` / ``env``: the working directory, ``sys.path`` and environment
  variables it changed; ``names``: for a star import, the names it bound.

How: IPython compiles and runs a cell's top-level statements one by one, each through the
shell's ``run_code``; a wrapper around it tells the record that the next statement starts
(closing the previous one), and the ``post_run_cell`` hook closes the record. Branches are
marked by an AST transformer, registered only for cells that have top-level ``if``
statements (see :mod:`jupyter_mltrack.pipeline.branches`). Records are written to the store
before the next cell starts (one small insert), so a kernel that dies keeps the cells it
ran. The overhead is measured in ``make bench`` (benchmark 5).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import ctypes
import os
import struct
import sys
import threading
import time
import uuid
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..pipeline.analysis import Statement, analyse_cell
from ..pipeline.branches import branch_points
from . import api
from .kernelinfo import cell_id as current_cell_id
from .kernelinfo import kernel_id, notebook_path

#: Branch markers are assignments to names with this prefix, one per branch of a statement,
#: unique per cell run and statement (``__mltrack_b<seq>_<statement>_<branch>``); the
#: statement's record takes them out of the namespace when it ends. A global store costs a
#: loop a fraction of what a call would (10 ns a pass instead of 35).
BRANCH_PREFIX = "__mltrack_b"
#: Containers are followed this many elements deep for shared mutable elements.
MAX_ELEMENTS = 64
_MUTABLE = (list, dict, set, bytearray)


#: Writes the log's records, in order: a thread of its own, so that a record never waits
#: behind the tracking worker's slower jobs (environment, git), which the next cell would feel.
_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrack-log")

#: The log of each shell (one per kernel; a dict so tests with several shells work).
_logs: weakref.WeakKeyDictionary[Any, ExecutionLog] = weakref.WeakKeyDictionary()


class ExecutionLog:
    """The log of one kernel session (one per process, made by ``%load_ext``)."""

    #: The log recording now (its audit hook and the tracked cell use it).
    current: ExecutionLog | None = None

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session_id = uuid.uuid4().hex
        self.seq = 0
        self._records: list[_Record] = []
        self._transformed: str | None = None
        self._lock = threading.Lock()
        self._warned = False
        #: numpy's normal-draw cache as the last cell left it (see ``_Record._gauss_drawn``).
        self.gauss: Any = None
        #: Global RNG streams a statement reseeded (``np.random.seed(0)``): from then on a
        #: draw's state is not kept, the export replays the stream from the seed.
        self.rng_seeded: set[str] = set()
        #: The write of the last cell's record, while it is under way.
        self._writing: Future[Any] | None = None
        #: The last record handed to the writer because the store was not open yet.
        self._queued: Future[Any] | None = None

    # hooks ----------------------------------------------------------------------------------

    def keep_transformed(self, lines: list[str]) -> list[str]:
        """Last input transformer: the Python IPython is about to run."""
        self._transformed = "".join(lines)
        return lines

    def pre_run_cell(self, info: Any) -> None:
        self.settle()
        raw = getattr(info, "raw_cell", None) or ""
        source, self._transformed = self._transformed, None
        self.seq += 1
        record = _Record(self, info, raw, source if source is not None else raw, self.seq)
        self._records.append(record)
        ExecutionLog.current = self
        if record.statements is not None and (record.marked or self.shell.ast_transformers):
            # Registered while this cell runs, only when needed: it puts the branch markers
            # in, and checks that other transformers left one node per statement. (IPython
            # runs ``fix_missing_locations`` over every cell when any transformer is there.)
            self.shell.ast_transformers.insert(0, record)

    @classmethod
    def of(cls, shell: Any) -> tuple[ExecutionLog, bool]:
        """The log of ``shell``'s session, and whether it is new: unloading and loading the
        extension again (``%reload_ext``) continues the same session."""
        log = _logs.get(shell)
        if log is not None:
            return log, False
        log = _logs[shell] = cls(shell)
        return log, True

    def adopt_running_cell(self) -> None:
        """Record the cell that is running ``%load_ext`` too: it may also import or define
        what later cells use. It was compiled before the log existed, so its statements are
        recorded as having run (or not, if the cell fails), without runtime facts."""
        result = getattr(getattr(self.shell, "displayhook", None), "exec_result", None)
        info = getattr(result, "info", None)
        raw = getattr(info, "raw_cell", None)
        if info is None or not raw:
            return
        try:
            source = self.shell.transform_cell(raw)
        except Exception:  # IPython could not transform it: it will not be exported
            source = raw
        self.seq += 1
        record = _Record(self, info, raw, source, self.seq)
        record.observed = False
        self._records.append(record)
        ExecutionLog.current = self

    def install(self) -> None:
        """Follow the cell statement by statement: IPython compiles each top-level statement
        of a cell on its own and runs it with ``run_code`` (``run_ast_nodes``), so a wrapper
        around it sees each statement start, at no cost to the statement itself (markers in
        the code would double the statements IPython compiles and runs)."""
        shell = self.shell
        if getattr(shell.run_code, "__mltrack__", False):
            return
        run_code = shell.run_code
        log = self

        async def run_code_logged(
            code_obj: Any, result: Any = None, *, async_: bool = False
        ) -> Any:
            if log._records:
                log._records[-1].next_statement()
            return await run_code(code_obj, result, async_=async_)

        run_code_logged.__mltrack__ = True  # type: ignore[attr-defined]
        shell.run_code = run_code_logged

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        for record in reversed(self._records):
            if record.info is info:
                self._records.remove(record)
                with contextlib.suppress(ValueError):
                    self.shell.ast_transformers.remove(record)
                row = record.close(result)
                if row is not None:
                    self._write(record.store, [row])
                break
        if not self._records:
            ExecutionLog.current = None

    def _write(self, store: Any, rows: list[dict[str, Any]]) -> None:
        """Write the record before the next cell starts, so that a kernel that dies in a
        later cell (killed, out of memory) keeps every cell it finished. On SQLite, now: an
        insert and a commit take a fifth of a millisecond, less than handing them to a
        thread costs (which runs only when the main thread lets go of the GIL). On a server
        database, in a thread of its own (a round trip, kept off the cell's reply), waited
        for when the next cell starts (:meth:`settle`).

        While the store is not open yet (``%load_ext`` leaves opening it to the kernel's idle
        time, see ``api.warm_up``: the record of the ``%load_ext`` cell itself), the record
        goes to that thread too, to be written once the store is open, without this cell or
        the next waiting for it (nor do later records overtake it); ``api.wait_pending`` (an
        export, exit) waits for it."""
        queued = self._queued
        if store is None or (queued is not None and not queued.done()):
            self._queued = _writer.submit(self._write_queued, store, rows)
            api.track_pending(self._queued)
            return
        if store.engine.dialect.name == "sqlite":
            self._write_now(store, rows)
        else:
            self._writing = _writer.submit(self._write_now, store, rows)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait for the last cell's record to be written (before a cell runs, and before an
        export reads the log)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            with contextlib.suppress(Exception):
                writing.result(timeout=timeout)

    def _write_queued(self, store: Any, rows: list[dict[str, Any]]) -> None:
        """Write a record made before the store was open (see ``_write``)."""
        try:
            store = store if store is not None else api.wait_for_store(5.0)
        except Exception as exc:  # reported as the other failed writes are
            self._warn(exc)
            return
        self._write_now(store, rows)

    def _write_now(self, store: Any, rows: list[dict[str, Any]]) -> None:
        try:
            store.add_executions(rows)
        except Exception as exc:  # a log that cannot be written must not break the cell
            self._warn(exc)

    def _warn(self, exc: BaseException) -> None:
        """Say once per session that the log is not being recorded, and why (unless the
        store has said it: see ``StoreUnavailable.said``)."""
        if not self._warned and not getattr(exc, "said", False):
            self._warned = True
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"mltrack: the execution log is not being recorded ({first})", file=sys.stderr)

    def note_run(self, run_id: str) -> None:
        """The tracked cell now running recorded run ``run_id``."""
        if self._records:
            self._records[-1].run_id = run_id

    # audit hook ------------------------------------------------------------------------------

    def file_opened(self, path: str, writing: bool) -> None:
        if self._records:
            self._records[-1].file_opened(path, writing)

    def dataset_got(self, asked: str, ref: str) -> None:
        """The statement running now got dataset ``asked`` (``team/churn@gold``), which was
        version ``ref`` (``team/churn@<hash>``): an export gets that version by its hash."""
        if self._records:
            self._records[-1].dataset_got(asked, ref)


class _Record:
    """One cell execution being recorded."""

    def __init__(self, log: ExecutionLog, info: Any, raw: str, source: str, seq: int) -> None:
        self.log = log
        self.info = info
        self.raw = raw
        self.source = source
        self.seq = seq
        self.started = time.time()
        #: Where the cell started: a pipeline replaying the session starts where it did.
        self.start_cwd = os.getcwd()
        self.run_id: str | None = None
        #: False for the cell that loaded the extension (no markers ran in it).
        self.observed = True
        self.thread = threading.get_ident()
        self.current = -1
        #: Statements started so far (``run_code`` calls); -1 once the count cannot be
        #: trusted (another AST transformer changed the cell's statements).
        self.started_statements = 0
        self._visited = False
        self.facts: list[dict[str, Any]] = []
        #: The branch markers of each top-level statement holding ``if`` statements:
        #: ``(branch, marker name)``.
        self.branches: dict[int, list[tuple[int, str]]] = {}
        #: The cell's statements with their static facts; ``None`` for a cell that does not
        #: compile (it will not run; recorded as an error).
        self.statements: list[Statement] | None = None
        self._tree: ast.Module | None = None
        self._analyse()
        #: Whether some statement holds ``if`` branches to mark (see :meth:`visit`).
        self.marked = self._tree is not None and any(
            branch_points(node) for node in self._tree.body
        )
        #: Process state before the open statement; ``_after``: as the last one left it
        #: (the next statement's "before": each boundary is observed once).
        self._before: _State | None = None
        self._after: _State | None = None
        #: numpy's generator words when the first statement started (``_gauss_drawn``).
        self._numpy_first: Any = None
        #: The raw states of the unseeded global RNGs before each statement that may call
        #: code (a copy of about 2.5 kB each, ~1 µs): kept in the record only for those that
        #: drew (see :func:`rng_state_fact`).
        self._rng_raw: dict[int, dict[str, Any]] = {}
        # as the previous cell left it (nothing draws between cells)
        self._gauss = log.gauss if log.gauss is not None else _numpy_gauss()
        shell = log.shell
        self.cell_id = current_cell_id(shell)
        #: The store the cell started with: its run is there, and so is the session so far.
        #: A cell that switches store (``mltrack.set_store``) is still logged here; the
        #: cells after it, in the new one. ``None`` while the store is not open yet (see
        #: ``_write``).
        self.store = api.opened_store()
        self.execution_count = getattr(shell, "execution_count", None)

    # the AST transformer --------------------------------------------------------------------

    def visit(self, tree: ast.Module) -> ast.Module:
        """Put a marker at the start of each branch of the cell's ``if`` statements (once:
        IPython calls transformers for nested cells too)."""
        if self._visited:
            return tree
        self._visited = True
        if self.statements is None:
            return tree
        if len(tree.body) != len(self.statements):
            self.started_statements = -1  # another transformer changed the cell: unobserved
            return tree
        for i, node in enumerate(tree.body):
            points = branch_points(node)
            if points:
                markers = self.branches[i] = []
                for n, branch in enumerate(points):
                    for key, block in ((2 * n, branch.body), (2 * n + 1, branch.orelse)):
                        if block:
                            name = f"{BRANCH_PREFIX}{self.seq}_{i}_{key}__"
                            markers.append((key, name))
                            block.insert(0, _taken(name, block[0]))
        return tree

    def _analyse(self) -> None:
        try:
            self._tree = ast.parse(self.source)
            self.statements = analyse_cell(self.source, self._tree)
        except (SyntaxError, ValueError, RecursionError):
            self.statements = None  # it will not run; recorded as an error

    def next_statement(self) -> None:
        """IPython is about to run the cell's next top-level statement."""
        if self.started_statements < 0 or not self.observed or self.statements is None:
            return
        i = self.started_statements
        self.started_statements += 1
        if i < len(self.statements):
            self.step(i)

    # runtime facts --------------------------------------------------------------------------

    def step(self, i: int) -> None:
        """Statement ``i`` is about to run: close ``i - 1`` (it completed) and observe what
        ``i`` reads."""
        if threading.get_ident() != self.thread:
            return
        try:
            if self.current >= 0:
                self._close(self.current, ok=True)
            self.current = i
            self._open(i)
        except Exception:  # observing must never break the user's cell
            pass

    def _open(self, i: int) -> None:
        assert self.statements is not None
        stmt = self.statements[i]
        ns = self.log.shell.user_ns
        fact: dict[str, Any] = {"i": i, "ran": True, "ok": False}
        names = stmt.reads | stmt.mutates | stmt.mutates_surely | stmt.iterates
        for call in stmt.calls:
            if call.receiver:
                names.add(call.receiver)
            names.update(call.args)
        ids: dict[str, Any] = {}
        types: dict[str, str] = {}
        for name in names:
            if name in ns:
                value = ns[name]
                ids[name] = _identity(value)
                types[name] = _type_name(value)
        fact["ids"] = ids
        fact["types"] = types
        # the objects method calls are made on, when a simple chain points at them
        receivers: dict[str, Any] = {}
        for call in stmt.calls:
            if call.receiver_source and call.receiver_source != call.receiver:
                with contextlib.suppress(Exception):
                    target = _evaluate_chain(call.receiver_source, ns)
                    receivers[call.receiver_source] = [_identity(target), _type_name(target)]
        if receivers:
            fact["receivers"] = receivers
        self._before = self._after or _State.now()
        if stmt.may_call:
            raw = _rng_raw(self.log.rng_seeded)
            if raw:
                self._rng_raw[i] = raw
        if self._numpy_first is None:
            self._numpy_first = self._before.rng.get("numpy")
        self._after = None
        self._keys = set(ns) if stmt.star_import else None
        self.facts.append(fact)

    def _close(self, i: int, *, ok: bool) -> None:
        assert self.statements is not None
        stmt = self.statements[i]
        fact = self.facts[-1]
        fact["ok"] = ok
        ns = self.log.shell.user_ns
        bound = {}
        for name in stmt.binds:
            bound[name] = _identity(ns[name]) if name in ns else None
        fact["bound"] = bound
        before = self._before or _State.now()
        # a statement that calls nothing changes no process state: not read again
        after = self._after = _State.now() if stmt.may_call else before
        # a generator imported by the statement (numpy, first time) was not drawn from
        changed = [k for k in after.rng if k in before.rng and after.rng[k] != before.rng[k]]
        if changed:
            fact["rng"] = changed
            self._keep_rng_state(i, fact)
            if "rng-seed" in stmt.effects:
                self.log.rng_seeded.update(changed)
            elif stmt.import_only:
                # a module drawing as it is first imported: a script imports it once, at its
                # top, so what follows cannot be replayed from the seed; the state before
                # the stream's next draw is kept for the script to restore (see the slicer)
                self.log.rng_seeded.difference_update(changed)
        if after.cwd != before.cwd:
            fact["cwd"] = after.cwd
        if after.path != before.path:
            fact["path"] = list(sys.path)
        if after.env != before.env:
            fact["env"] = True
        keys, self._keys = self._keys, None
        if keys is not None:
            fact["names"] = sorted(n for n in set(ns) - keys if not n.startswith(BRANCH_PREFIX))
        if i in self.branches:
            fact["branches"] = [
                key for key, name in self.branches[i] if ns.pop(name, None) is not None
            ]

    def _keep_rng_state(self, i: int, fact: dict[str, Any]) -> None:
        """Put the state the streams statement ``i`` drew from had before it in its fact."""
        raw = self._rng_raw.get(i)
        if not raw:
            return
        kept = fact.get("rng_state", {})
        for stream in fact.get("rng", ()):
            if stream in raw and stream not in kept:
                with contextlib.suppress(Exception):
                    kept[stream] = rng_state_fact(stream, raw[stream])
        if kept:
            fact["rng_state"] = kept

    def _gauss_drawn(self) -> None:
        """numpy's legacy generator caches every second normal draw: taking the cached one
        moves no word of its state, which :meth:`_State.now` watches. If the cache changed
        during the cell, the statements that may have drawn it (those that call anything)
        are marked as drawing: a larger slice, never a wrong one."""
        known = self._gauss
        first, last = self._numpy_first, self._after.rng.get("numpy") if self._after else None
        if known is not None and not known[0] and first is not None and first == last:
            # no cached value to take, and no word drawn that could have cached one: as it was
            self.log.gauss = known
            return
        gauss = self.log.gauss = _numpy_gauss()
        if gauss is None or known is None or gauss == known:
            return
        assert self.statements is not None
        for fact in self.facts:
            stmt = self.statements[fact["i"]]
            if stmt.calls and "numpy" not in fact.get("rng", ()):
                fact.setdefault("rng", []).append("numpy")
                self._keep_rng_state(fact["i"], fact)

    def file_opened(self, path: str, writing: bool) -> None:
        if threading.get_ident() != self.thread or not self.facts:
            return
        files = self.facts[-1].setdefault("files", {"r": [], "w": []})
        bucket = files["w" if writing else "r"]
        if path not in bucket:
            bucket.append(path)

    def dataset_got(self, asked: str, ref: str) -> None:
        if threading.get_ident() != self.thread or not self.facts:
            return
        self.facts[-1].setdefault("datasets", {})[asked] = ref

    def close(self, result: Any) -> dict[str, Any] | None:
        """The record as a row of the store, or ``None`` for nothing to record."""
        error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
        if not self.observed and self.statements is not None:
            self.facts = [
                {"i": i, "ran": True, "ok": error is None, "observed": False}
                for i in range(len(self.statements))
            ]
        with contextlib.suppress(Exception):
            if self.current >= 0:
                self._close(self.current, ok=error is None)
        with contextlib.suppress(Exception):
            self._gauss_drawn()
        self._rng_raw = {}
        failed_at = self.current if error is not None and self.current >= 0 else None
        return {
            "session_id": self.log.session_id,
            "seq": self.seq,
            "notebook_path": notebook_path(),
            "kernel_id": kernel_id(),
            "cell_id": self.cell_id
            or (f"exec-{self.execution_count}" if self.execution_count is not None else None),
            "execution_count": self.execution_count,
            "raw": self.raw,
            "source": self.source,
            "status": "error" if error is not None else "ok",
            "error_statement": failed_at,
            "facts": {"statements": self.facts, "start_cwd": self.start_cwd, "cwd": os.getcwd()},
            "run_id": self.run_id,
            "started_at": self.started,
            "duration": time.time() - self.started,
        }


# --------------------------------------------------------------------------- helpers


def _taken(name: str, at: ast.stmt) -> ast.stmt:
    """``<name> = True`` at the start of a branch (the statement runs in the notebook's
    global namespace: branches inside functions and classes are not marked)."""
    where = {
        "lineno": at.lineno,
        "end_lineno": at.lineno,
        "col_offset": at.col_offset,
        "end_col_offset": at.col_offset,
    }
    target = ast.Name(name, ast.Store(), **where)
    return ast.Assign([target], ast.Constant(True, **where), **where)


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


def _identity(value: Any) -> Any:
    """``id`` of an object; for a numpy array, of the array owning its memory (so a view and
    its base are one object); for a container, with the ids of the mutable objects it holds
    (so a shallow copy and its original share them): ``[id, root, [element ids]]``."""
    ident = id(value)
    module = type(value).__module__
    if module == "numpy":
        base = getattr(value, "base", None)
        root = value
        while base is not None and type(base).__module__ == "numpy":
            root, base = base, getattr(base, "base", None)
        if root is not value:
            return [ident, id(root)]
        return ident
    if isinstance(value, list | tuple | dict | set):
        items = value.values() if isinstance(value, dict) else value
        held = []
        for n, item in enumerate(items):
            if n >= MAX_ELEMENTS:
                break
            if isinstance(item, _MUTABLE) or type(item).__module__.startswith(("pandas", "numpy")):
                held.append(id(item))
        if held:
            return [ident, ident, held]
    return ident


def _evaluate_chain(source: str, ns: dict[str, Any]) -> Any:
    """The object ``b[0]`` or ``self.items`` denotes, with constant subscripts on builtin
    containers and plain attribute reads only (no user code runs)."""
    node = ast.parse(source, mode="eval").body
    path: list[tuple[str, Any]] = []
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute):
            path.append(("attr", node.attr))
        else:
            path.append(("item", node.slice.value))  # type: ignore[attr-defined]
        node = node.value
    value = ns[node.id]  # type: ignore[attr-defined]
    for kind, key in reversed(path):
        if kind == "item":
            if not isinstance(value, list | tuple | dict):
                raise TypeError("only builtin containers are indexed")
            value = value[key]
        else:
            value = object.__getattribute__(value, key)
    return value


class _State:
    """What a statement may change in the process besides its namespace, cheap to take at
    every statement boundary: the global RNGs, working directory, ``sys.path``, environment."""

    __slots__ = ("cwd", "env", "path", "rng")

    def __init__(self, rng: dict[str, Any], cwd: str, path: tuple[str, ...], env: int) -> None:
        self.rng, self.cwd, self.path, self.env = rng, cwd, path, env

    @classmethod
    def now(cls) -> _State:
        return cls(_rng_state(), os.getcwd(), tuple(sys.path), _env_state())


def _rng_state() -> dict[str, Any]:
    """Tokens of the global RNGs' states that change when they are drawn from or reseeded
    (only of those already imported)."""
    out: dict[str, Any] = {}
    rnd = sys.modules.get("random")
    if rnd is not None:
        with contextlib.suppress(Exception):
            out["random"] = (*_random_words(rnd._inst), rnd._inst.gauss_next)
    np = sys.modules.get("numpy")
    if np is not None:
        with contextlib.suppress(Exception):
            out["numpy"] = _numpy_words(np)
    return out


#: The ``random`` generators whose C state was checked readable in place (by id).
_readable_random: dict[int, Any] = {}
#: CPython's ``RandomObject``: ``PyObject_HEAD; int index; uint32_t state[624]``.
_RANDOM_INDEX = object.__basicsize__


def _random_words(generator: Any) -> tuple[int, ...]:
    """Position and a few words of a ``random.Random``'s Mersenne Twister.

    ``getstate()`` builds a tuple of 625 integers (13 µs), too slow for every statement; the
    C struct is read in place instead, once it was checked to agree with ``getstate()`` for
    this object (another interpreter or layout falls back to ``getstate()``)."""
    if id(generator) not in _readable_random:
        words = generator.getstate()[1]
        index = ctypes.c_int.from_address(id(generator) + _RANDOM_INDEX).value
        state = (ctypes.c_uint32 * 624).from_address(id(generator) + _RANDOM_INDEX + 4)
        ok = (
            sys.implementation.name == "cpython"
            and index == words[-1]
            and list(state) == list(words[:624])
        )
        _readable_random[id(generator)] = generator if ok else None  # kept alive: id stays
    if _readable_random[id(generator)] is None:
        words = generator.getstate()[1]
        return words[-1], words[0], words[311], words[623]
    address = id(generator) + _RANDOM_INDEX
    state = (ctypes.c_uint32 * 624).from_address(address + 4)
    return ctypes.c_int.from_address(address).value, state[0], state[311], state[623]


#: The legacy global generator's bit generator, and the address of its C state.
_mt_state: list[Any] = [None, 0]


def _numpy_words(np: Any) -> Any:
    """Position and a few key words of numpy's global MT19937, read from its C struct
    (``uint32 key[624]; int pos``): ``get_state()`` copies the 624 words one by one, 50 µs a
    call, too much for every statement. Another bit generator: its full state, hashed."""
    bit_generator = np.random.mtrand._rand._bit_generator
    if type(bit_generator).__name__ != "MT19937":
        state = np.random.get_state(legacy=False)
        return hash(repr(state))
    if _mt_state[0] is not bit_generator:  # keep it alive: its address stays valid
        _mt_state[0], _mt_state[1] = bit_generator, bit_generator.ctypes.state_address
    address = _mt_state[1]
    key = (ctypes.c_uint32 * 624).from_address(address)
    return (ctypes.c_int.from_address(address + 624 * 4).value, key[0], key[311], key[623])


def _rng_raw(seeded: set[str]) -> dict[str, Any]:
    """The raw states of the global RNGs no statement reseeded, copied from their C structs
    (``random``'s Mersenne Twister and ``gauss_next``; numpy's legacy MT19937 with its
    normal-draw cache): about a microsecond, where ``get_state()`` takes 35. Empty for those
    that cannot be read in place (another interpreter, another bit generator)."""
    out: dict[str, Any] = {}
    if "random" not in seeded:
        rnd = sys.modules.get("random")
        inst = getattr(rnd, "_inst", None)
        if inst is not None and _readable_random.get(id(inst)) is not None:
            raw = ctypes.string_at(id(inst) + _RANDOM_INDEX, 4 + 624 * 4)
            out["random"] = (raw, inst.gauss_next)
    if "numpy" not in seeded and sys.modules.get("numpy") is not None:
        with contextlib.suppress(Exception):
            np = sys.modules["numpy"]
            rand = np.random.mtrand._rand
            if _mt_state[0] is rand._bit_generator and _numpy_gauss_at(np) is not None:
                address = id(rand) + _numpy_gauss_at(np)  # type: ignore[operator]
                gauss = (
                    ctypes.c_int.from_address(address - 8).value,
                    ctypes.c_double.from_address(address).value,
                )
                out["numpy"] = (ctypes.string_at(_mt_state[1], 624 * 4 + 4), gauss)
    return out


def rng_state_fact(stream: str, raw: Any) -> dict[str, Any]:
    """A raw state from :func:`_rng_raw` as the log stores it: the 624 Mersenne Twister
    words little-endian in base64, with the position and the cached normal draw (what
    ``np.random.set_state`` and ``random.setstate`` take back)."""
    data, cache = raw
    if stream == "numpy":
        words, pos = data[: 624 * 4], struct.unpack("=i", data[624 * 4 :])[0]
    else:
        pos, words = struct.unpack("=i", data[:4])[0], data[4:]
    little = struct.pack("<624I", *struct.unpack("=624I", words))
    out: dict[str, Any] = {"key": base64.b64encode(little).decode(), "pos": pos}
    if stream == "numpy":
        out["has_gauss"], out["gauss"] = cache
    else:
        out["gauss_next"] = cache
    return out


#: Where numpy's ``RandomState`` keeps its cached normal draw (``double gauss``, after
#: ``int has_gauss``), found once on a probe instance: ``None`` if not found.
_gauss_offset: list[Any] = []


def _numpy_gauss_at(np: Any) -> int | None:
    """The offset of ``gauss`` in the legacy generator's object (``aug_bitgen_t``), found
    once by drawing normals on two probe generators and looking for the cached value in
    their memory, then checked (``has_gauss`` 8 bytes before it, 1 then 0)."""
    if not _gauss_offset:
        try:
            _gauss_offset.append(_find_gauss_offset(np))
        except Exception:
            _gauss_offset.append(None)
    return _gauss_offset[0]


def _find_gauss_offset(np: Any) -> int | None:
    cls = np.random.RandomState
    if type(np.random.mtrand._rand) is not cls:
        return None
    probes = [cls(n) for n in (0, 1)]
    found: set[int] = set()
    for probe in probes:
        probe.standard_normal()  # draws two, caches one: has_gauss 1
        state = probe.get_state(legacy=False)
        found.add(
            ctypes.string_at(id(probe), cls.__basicsize__).find(struct.pack("=d", state["gauss"]))
        )
    if len(found) != 1 or min(found) < 8:
        return None
    (at,) = found
    for probe in probes:
        if ctypes.c_int.from_address(id(probe) + at - 8).value != 1:
            return None
        probe.standard_normal()  # takes the cached one: has_gauss 0
        if ctypes.c_int.from_address(id(probe) + at - 8).value != 0:
            return None
    return at


def _numpy_gauss() -> Any:
    """numpy's legacy normal-draw cache (``has_gauss``, ``gauss``), when numpy is imported."""
    np = sys.modules.get("numpy")
    if np is None:
        return None
    try:
        state = np.random.mtrand._rand.get_state(legacy=False)
        return state["has_gauss"], state["gauss"]
    except Exception:
        return None


#: The environment as last seen, and a counter bumped whenever it differs.
_env_seen: list[Any] = [None, 0]


def _env_state() -> int:
    """A number that changes when the environment does: comparing ``os.environ``'s raw dict
    with a copy is a fraction of a microsecond; hashing its decoded items is fifty times that."""
    data = getattr(os.environ, "_data", None)
    if data is None:  # not CPython's os.environ
        return hash(tuple(os.environ.items()))
    if data != _env_seen[0]:
        _env_seen[0], _env_seen[1] = dict(data), _env_seen[1] + 1
    return _env_seen[1]
