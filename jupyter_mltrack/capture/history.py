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
* ``rng``: the global RNGs (``random``, numpy's) it consumed or reseeded;
* ``cwd`` / ``path`` / ``env``: the working directory, ``sys.path`` and environment
  variables it changed; ``names``: for a star import, the names it bound.

How: an AST transformer puts a call to a recorder before each top-level statement of the
cell (IPython compiles and runs the cell's statements one by one, so this is the same
granularity), and the ``post_run_cell`` hook closes the record. Records are written to the
store as each cell ends (one small insert), so a kernel that dies keeps the cells it ran.
The overhead is measured in ``make bench``.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
import threading
import time
import uuid
import weakref
from typing import Any

from ..pipeline.analysis import Statement, analyse_cell
from ..pipeline.branches import branch_points
from . import api
from .kernelinfo import cell_id as current_cell_id
from .kernelinfo import kernel_id, notebook_path

#: Name of the recorder in the user namespace (hidden from ``%whos``).
STEP = "__mltrack_step__"
#: Name of the branch recorder (``set.add`` of the log's taken branches).
TAKEN = "__mltrack_taken__"
#: Branch keys: ``seq * SEQ_STRIDE + statement * STMT_STRIDE + branch``, unique per session.
SEQ_STRIDE = 10**12
STMT_STRIDE = 10**6
#: Containers are followed this many elements deep for shared mutable elements.
MAX_ELEMENTS = 64
_MUTABLE = (list, dict, set, bytearray)


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
        #: Branches taken (keys, see ``SEQ_STRIDE``); the markers add to it, records take
        #: theirs out when a statement ends.
        self.taken: set[int] = set()
        self._warned = False

    # hooks ----------------------------------------------------------------------------------

    def keep_transformed(self, lines: list[str]) -> list[str]:
        """Last input transformer: the Python IPython is about to run."""
        self._transformed = "".join(lines)
        return lines

    def pre_run_cell(self, info: Any) -> None:
        raw = getattr(info, "raw_cell", None) or ""
        source, self._transformed = self._transformed, None
        self.seq += 1
        record = _Record(self, info, raw, source if source is not None else raw, self.seq)
        self._records.append(record)
        ExecutionLog.current = self
        if record.statements is not None:
            # Analysed tree -> markers; registered only while this cell runs.
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

    def step(self, i: int) -> None:
        """``__mltrack_step__``: the innermost cell running is the one reaching ``i``."""
        if self._records:
            self._records[-1].step(i)

    def post_run_cell(self, result: Any) -> None:
        info = getattr(result, "info", None)
        for record in reversed(self._records):
            if record.info is info:
                self._records.remove(record)
                with contextlib.suppress(ValueError):
                    self.shell.ast_transformers.remove(record)
                row = record.close(result)
                if row is not None:
                    self._write([row])
                break
        if not self._records:
            ExecutionLog.current = None

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Write now, before the next cell: a kernel that dies later (killed, out of memory)
        keeps every cell it finished. One small insert, a fraction of a millisecond."""
        try:
            api.get_store().add_executions(rows)
        except Exception as exc:  # a log that cannot be written must not break the cell
            if not self._warned:
                self._warned = True
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                print(
                    f"mltrack: the execution log is not being recorded ({first})", file=sys.stderr
                )

    def note_run(self, run_id: str) -> None:
        """The tracked cell now running recorded run ``run_id``."""
        if self._records:
            self._records[-1].run_id = run_id

    # audit hook ------------------------------------------------------------------------------

    def file_opened(self, path: str, writing: bool) -> None:
        if self._records:
            self._records[-1].file_opened(path, writing)


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
        self._visited = False
        self.facts: list[dict[str, Any]] = []
        #: How many ``if`` statements each top-level statement holds (when any).
        self.branches: dict[int, int] = {}
        self.statements: list[Statement] | None
        try:
            self.statements = analyse_cell(source)
        except (SyntaxError, ValueError, RecursionError):
            self.statements = None  # it will not run; recorded as an error
        self._before: dict[str, Any] = {}
        shell = log.shell
        self.cell_id = current_cell_id(shell)
        self.execution_count = getattr(shell, "execution_count", None)

    # the AST transformer --------------------------------------------------------------------

    def visit(self, tree: ast.Module) -> ast.Module:
        """Put ``__mltrack_step__(i)`` before top-level statement ``i`` (once: IPython calls
        transformers for nested cells too)."""
        if self._visited or self.statements is None:
            return tree
        self._visited = True
        if len(tree.body) != len(self.statements):
            return tree  # another transformer changed the cell: record it unobserved
        body: list[ast.stmt] = []
        for i, node in enumerate(tree.body):
            body.append(_marker(i, node.lineno))
            body.append(node)
            points = branch_points(node)
            if points:
                self.branches[i] = len(points)
                base = self.seq * SEQ_STRIDE + i * STMT_STRIDE
                for n, branch in enumerate(points):
                    branch.body.insert(0, _taken(base + 2 * n, branch.body[0]))
                    if branch.orelse:
                        branch.orelse.insert(0, _taken(base + 2 * n + 1, branch.orelse[0]))
        tree.body = body
        return tree

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
        self._before = {
            "rng": _rng_state(),
            "cwd": os.getcwd(),
            "path": tuple(sys.path),
            "env": _env_state(),
            "keys": set(ns) if stmt.star_import else None,
        }
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
        before = self._before
        rng, was = _rng_state(), before.get("rng", {})
        # a generator imported by the statement (numpy, first time) was not drawn from
        changed = [k for k in rng if k in was and rng[k] != was[k]]
        if changed:
            fact["rng"] = changed
        cwd = os.getcwd()
        if cwd != before.get("cwd"):
            fact["cwd"] = cwd
        if tuple(sys.path) != before.get("path"):
            fact["path"] = list(sys.path)
        if _env_state() != before.get("env"):
            fact["env"] = True
        keys = before.get("keys")
        if keys is not None:
            fact["names"] = sorted(set(ns) - keys - {STEP, TAKEN})
        if i in self.branches:
            low = self.seq * SEQ_STRIDE + i * STMT_STRIDE
            mine = {k for k in self.log.taken if low <= k < low + STMT_STRIDE}
            self.log.taken -= mine
            fact["branches"] = sorted(k - low for k in mine)

    def file_opened(self, path: str, writing: bool) -> None:
        if threading.get_ident() != self.thread or not self.facts:
            return
        files = self.facts[-1].setdefault("files", {"r": [], "w": []})
        bucket = files["w" if writing else "r"]
        if path not in bucket:
            bucket.append(path)

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


def _marker(i: int, line: int) -> ast.stmt:
    """``__mltrack_step__(i)``, placed on the statement's first line (tracebacks keep
    pointing at the user's code)."""
    where = {"lineno": line, "end_lineno": line, "col_offset": 0, "end_col_offset": 0}
    call = ast.Call(ast.Name(STEP, ast.Load(), **where), [ast.Constant(i, **where)], [], **where)
    return ast.Expr(call, **where)


def _taken(key: int, at: ast.stmt) -> ast.stmt:
    """``__mltrack_taken__(key)`` at the start of a branch."""
    where = {
        "lineno": at.lineno,
        "end_lineno": at.lineno,
        "col_offset": at.col_offset,
        "end_col_offset": at.col_offset,
    }
    call = ast.Call(ast.Name(TAKEN, ast.Load(), **where), [ast.Constant(key, **where)], [], **where)
    return ast.Expr(call, **where)


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


def _rng_state() -> dict[str, int]:
    """Hashes of the global RNGs' states (only of those already imported)."""
    out = {}
    rnd = sys.modules.get("random")
    if rnd is not None:
        with contextlib.suppress(Exception):
            out["random"] = hash(rnd.getstate())
    np = sys.modules.get("numpy")
    if np is not None:
        with contextlib.suppress(Exception):
            state = np.random.get_state(legacy=True)
            out["numpy"] = hash((state[1].tobytes(), state[2], state[3], state[4]))
    return out


def _env_state() -> int:
    return hash(tuple(os.environ.items()))
