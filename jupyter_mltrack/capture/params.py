"""Which values of a cell are its parameters, found from the cell's syntax tree.

Two kinds count: names the cell binds to a literal at top level (``lr = 1e-3``,
``layers = [64, 32]``), and names the cell reads before binding them whose current value is
simple (a number, string, bool, None, or a small list/tuple/dict of those) — typically a
hyper-parameter set in an earlier cell. Objects (DataFrames, models, modules) never count.
"""

from __future__ import annotations

import ast
import builtins
import numbers
from dataclasses import dataclass, field
from typing import Any

from ..astbind import BindingVisitor

_MAX_ITEMS = 32
_MAX_STR = 500
_IGNORED = frozenset({"In", "Out", "exit", "quit", "get_ipython", "mltrack"}) | frozenset(
    dir(builtins)
)


@dataclass
class CellAnalysis:
    """What the cell binds to literals (name → value) and reads before binding."""

    literals: dict[str, Any] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    last_expression: str | None = None
    #: Every name the cell binds at top level (assignments, imports, defs, loops, …).
    bound: set[str] = field(default_factory=set)


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _bind_targets(
    target: ast.AST, value: ast.AST | None, out: dict[str, Any], dropped: set[str]
) -> None:
    if isinstance(target, ast.Name):
        if value is None:
            dropped.add(target.id)
            return
        ok, literal = _literal(value)
        if ok and is_simple(literal):
            out[target.id] = literal
            dropped.discard(target.id)
        else:
            out.pop(target.id, None)
            dropped.add(target.id)
    elif isinstance(target, ast.Tuple | ast.List):
        values: list[ast.AST | None]
        if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
            values = list(value.elts)
        else:
            values = [None] * len(target.elts)
        for t, v in zip(target.elts, values, strict=True):
            _bind_targets(t, v, out, dropped)


class _Reads(BindingVisitor):
    """Names loaded before the cell binds them, in order of first use (scope-aware enough:
    names bound inside functions, lambdas and comprehensions are local to them).

    It also records which names each top-level statement (re)binds in the cell's scope
    (``binds``), so one pass over the tree serves both questions.
    """

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.reads: list[str] = []
        self._seen: set[str] = set()
        #: Names bound in the cell's scope by the statement being visited.
        self.binds: set[str] = set()
        #: Names a function body declares ``global`` (they rebind the cell's names).
        self.globals: set[str] = set()

    def _bind(self, name: str) -> None:
        self.bound.add(name)
        self.binds.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.bound and node.id not in self._seen:
                self._seen.add(node.id)
                self.reads.append(node.id)
        else:
            self._bind(node.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for t in node.targets:
            self.visit(t)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.visit_Name(ast.Name(id=node.target.id, ctx=ast.Load()))
        self.visit(node.value)
        self.visit(node.target)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for default in [*args.defaults, *[d for d in args.kw_defaults if d is not None]]:
            self.visit(default)
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self.visit(deco)
            self._bind(node.name)
        # globals read inside a function body are read when it is called, which may be in
        # this cell: count them, but not the function's own parameters and locals.
        inner = _Reads()
        inner.bound = set(self.bound) | {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            inner.visit(stmt)
        for name in inner.reads:
            if name not in self._seen:
                self._seen.add(name)
                self.reads.append(name)
        # a function that declares a name global may rebind it when called
        self.binds.update(inner.globals)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            self.visit(base)
        for deco in node.decorator_list:
            self.visit(deco)
        self._bind(node.name)

    def _comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)
        saved, saved_binds = set(self.bound), set(self.binds)
        for gen in generators:
            for n in ast.walk(gen.target):
                if isinstance(n, ast.Name):
                    self.bound.add(n.id)
        for gen in generators[1:]:
            self.visit(gen.iter)
        for gen in generators:
            for cond in gen.ifs:
                self.visit(cond)
        for attr in ("elt", "key", "value"):
            child = getattr(node, attr, None)
            if child is not None:
                self.visit(child)
        # comprehension variables are local to it; a walrus inside binds in the cell
        self.bound = saved | (self.binds - saved_binds)

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_GeneratorExp = _comprehension
    visit_DictComp = _comprehension

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._bind((alias.asname or alias.name).partition(".")[0])

    visit_ImportFrom = visit_Import


def analyse(tree: ast.Module) -> CellAnalysis:
    """Parameters and reads of a parsed (already IPython-transformed) cell.

    One pass over the statements: a literal assignment makes a parameter, and any later
    statement that rebinds the name (``x += 1``, ``for x in …``, ``def x``) drops it again.
    """
    literals: dict[str, Any] = {}
    dropped: set[str] = set()
    visitor = _Reads()
    for stmt in tree.body:
        visitor.binds = set()
        visitor.visit(stmt)
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind_targets(target, stmt.value, literals, dropped)
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            _bind_targets(stmt.target, stmt.value, literals, dropped)
        else:
            for name in visitor.binds:
                literals.pop(name, None)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.unparse(tree.body[-1].value)
    return CellAnalysis(
        literals=literals,
        reads=[n for n in visitor.reads if n not in _IGNORED and not n.startswith("_")],
        last_expression=last,
        bound=set(visitor.bound),
    )


def is_simple(value: Any, _depth: int = 0) -> bool:
    """Plain data small enough to be a parameter."""
    if value is None or isinstance(value, bool | str):
        return not isinstance(value, str) or len(value) <= _MAX_STR
    if isinstance(value, numbers.Number):
        return isinstance(value, numbers.Real)
    if _depth >= 2:
        return False
    if isinstance(value, list | tuple):
        return len(value) <= _MAX_ITEMS and all(is_simple(v, _depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= _MAX_ITEMS and all(
            isinstance(k, str) and is_simple(v, _depth + 1) for k, v in value.items()
        )
    return False


def simple_reads(names: list[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """The current simple values of ``names`` (names missing or not simple are skipped)."""
    out: dict[str, Any] = {}
    for name in names:
        if name in namespace:
            value = namespace[name]
            if _is_plain(value) and is_simple(value):
                out[name] = value
    return out


def _is_plain(value: Any) -> bool:
    # numpy scalars are numbers.Number too, and fine; but exclude numpy arrays and the like,
    # which are not Number and are caught by is_simple anyway. Types that subclass str/int
    # with behaviour (enums) are excluded here to keep params plain.
    return type(value).__module__ in {"builtins", "numpy"}
