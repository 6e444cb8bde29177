"""What one top-level statement of a cell does to the notebook's namespace, statically.

The kernel records this for every statement it runs (with the runtime facts only it can
see: which objects names were bound to, files opened, RNG use), and the slicer combines both
into a dependency graph. The analysis over-approximates where it must (an unknown call may
mutate its arguments), and is refined by effect specs and runtime types
(:mod:`.effects`), so that reading a frame's ``head()`` is not taken for changing it.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..astbind import BindingVisitor

_BUILTINS = frozenset(dir(builtins))


@dataclass
class Call:
    """A call in a statement: ``root.path.method(args)`` or ``name(args)``."""

    #: The called name for ``f(...)``, else ``None``.
    func: str | None
    #: For a method call, the name the receiver expression starts from (``df`` in
    #: ``df["a"].fillna(...)``) and the method's name.
    receiver: str | None = None
    method: str | None = None
    #: The receiver expression's source when it is a simple chain (``b[0]``, ``self.x``).
    receiver_source: str | None = None
    #: Names passed directly as arguments (positional or keyword values).
    args: list[str] = field(default_factory=list)
    #: Keyword arguments given as literals (``inplace=True``).
    keywords: dict[str, Any] = field(default_factory=dict)
    #: Dotted module path of the callee when it is an attribute of a module name
    #: (``np.random.seed`` -> ``("np", "random.seed")``), for effect specs.
    dotted: str | None = None


@dataclass
class FunctionSummary:
    """What calling a function defined in the session reads and rebinds at call time."""

    name: str
    #: Global names read in the body (late-bound: read when called, not when defined).
    reads: set[str] = field(default_factory=set)
    #: Names declared ``global`` and assigned: calling the function rebinds them.
    rebinds: set[str] = field(default_factory=set)
    #: Functions and classes of the session the body calls (their effects follow).
    calls: set[str] = field(default_factory=set)
    #: Globals the body may change in place without rebinding them, with the methods it
    #: calls on them ("" for item or attribute assignment, ``del x[i]``, being passed to a
    #: function that changes its argument): ``registry.append(n)`` in ``def register(n)``.
    #: A call through an attribute chain is recorded with the chain after the name, dotted
    #: (``".random.rand"`` for ``np.random.rand()``, ``".items.append"`` for
    #: ``self.items.append()``): it may change what the name reaches, unless the name is a
    #: library's module (a draw from numpy's global RNG changes no module object).
    mutates: dict[str, set[str]] = field(default_factory=dict)
    #: Whether calling it may set a global random generator's state: the body calls
    #: something named like a seeding (``np.random.seed``, ``random.setstate``: see
    #: ``effects.RNG_SEEDERS``) or code by name (``exec``, ``getattr``), or imports a module
    #: other than numpy, pandas, scipy, scikit-learn and the standard ``random``/``math``.
    #: (What it reaches through globals and its arguments is followed by the slicer.)
    seeds: bool = False


@dataclass
class Statement:
    """The static facts of one top-level statement."""

    index: int
    source: str
    lineno: int
    end_lineno: int
    binds: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    #: Names whose objects the statement may change in place (assignments to their items
    #: or attributes, ``del x[...]``, ``x += ...``, method calls, being passed to calls).
    mutates: set[str] = field(default_factory=set)
    #: Names whose objects the statement certainly changes (item/attribute assignment,
    #: ``del x[i]``): no effect spec can clear these.
    mutates_surely: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    #: ``for x in it`` over a name: consumes ``it`` if it is an iterator.
    iterates: set[str] = field(default_factory=set)
    imports: set[str] = field(default_factory=set)
    star_import: bool = False
    #: Functions / classes this statement defines, with what calling them does.
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    #: A bare expression (its value is only displayed).
    expression: bool = False
    #: An ``import`` or ``from … import`` statement and nothing else (the script hoists it).
    import_only: bool = False
    #: ``get_ipython()`` calls left by IPython's transforms (magics, shell escapes).
    ipython: bool = False
    #: Static effects on process state: "cwd", "sys.path", "env", "rng-seed".
    effects: set[str] = field(default_factory=set)
    #: ``code`` (kept, as ``code``), ``drop`` (a magic that only configures or displays) or
    #: ``refuse`` (IPython-only code with no plain-Python form); see :mod:`.magics`.
    kind: str = "code"
    #: The plain Python to emit for this statement (``source``, or a magic's translation).
    code: str = ""
    requirements: list[str] = field(default_factory=list)
    reason: str = ""
    #: Import statements a magic's translation needs (see :class:`.magics.Translation`).
    needs: list[str] = field(default_factory=list)
    #: Whether running it may call code (a call, an import, a loop over an iterator…) and
    #: so change process state (RNGs, working directory, environment); the kernel reads
    #: that state only around statements that may. Operators and attribute reads are taken
    #: not to (an overloaded ``+`` that draws random numbers would go unseen).
    may_call: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "binds": sorted(self.binds),
            "reads": sorted(self.reads),
            "mutates": sorted(self.mutates),
        }


def _root(node: ast.AST) -> str | None:
    """The name an attribute/subscript/call chain starts from (``df`` in ``df.a[0].b``)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Starred):
            node = node.value
        else:
            return None


def _simple_chain(node: ast.AST) -> bool:
    """``b[0]``, ``self.items``, ``d["k"][1]``: a chain of constant subscripts and
    attributes on a name, safe to evaluate again to find the object it denotes."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
            return False
        node = node.value
    return isinstance(node, ast.Name)


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


class _Scope(BindingVisitor):
    """Module-scope reads and binds of one statement; function bodies are summarised.

    Reads are what the statement takes from *before* it: a name it binds itself before
    using it (``with open(p) as fh: fh.write(…)``, a loop variable in the loop's body,
    ``x = 1`` then ``f(x)`` in the same block) is not a read of the earlier binding, nor a
    change to the earlier object. Bindings inside a block that may not run (``if``, loop
    and ``try`` bodies) count only within that block.
    """

    def __init__(self, stmt: Statement) -> None:
        self.s = stmt
        #: Names certainly bound by now in this statement, one set per enclosing block.
        self.bound: list[set[str]] = [set()]

    def _own(self, name: str | None) -> bool:
        """Bound earlier in this statement, so using it reads nothing from before."""
        return name is not None and any(name in block for block in self.bound)

    def _bind(self, name: str) -> None:
        self.s.binds.add(name)
        self.bound[-1].add(name)

    def _block(self, stmts: list[ast.stmt], *names: str) -> None:
        """A block that may not run (or runs repeatedly): what it binds stays inside it."""
        self.bound.append(set(names))
        for stmt in stmts:
            self.visit(stmt)
        self.bound.pop()

    # names --------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if not self._own(node.id):
                self.s.reads.add(node.id)
        else:  # stored, or deleted (del x)
            self._bind(node.id)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        self._block(node.body)
        self._block(node.orelse)

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self._block(node.body)
        self._block(node.orelse)

    def visit_Try(self, node: ast.Try) -> None:
        self._block(node.body)
        for handler in node.handlers:
            self._block([handler])
        self._block(node.orelse)
        self._block(node.finalbody)

    visit_TryStar = visit_Try

    def visit_match_case(self, node: ast.match_case) -> None:
        self.bound.append(set())
        self.visit(node.pattern)
        if node.guard is not None:
            self.visit(node.guard)
        for stmt in node.body:
            self.visit(stmt)
        self.bound.pop()

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._target(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        root = _root(node.target)
        if isinstance(node.target, ast.Name):
            # x += y reads x, rebinds it, and changes a mutable x in place (lists, arrays)
            if not self._own(node.target.id):
                self.s.reads.add(node.target.id)
                self.s.mutates.add(node.target.id)
            self._bind(node.target.id)
        elif root is not None:
            self.visit(node.target.value)  # type: ignore[attr-defined]
            if not self._own(root):
                self.s.reads.add(root)
                self.s.mutates_surely.add(root)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._bind(target.id)
            else:
                root = _root(target)
                self.visit(target)
                if root is not None and not self._own(root):
                    self.s.mutates_surely.add(root)
                _state_target(target, self.s)

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._target(elt)
        elif isinstance(target, ast.Starred):
            self._target(target.value)
        elif isinstance(target, ast.Attribute | ast.Subscript):
            root = _root(target)
            self.visit(target.value)
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)
            if root is not None and not self._own(root):
                self.s.mutates_surely.add(root)
            _state_target(target, self.s)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        if isinstance(node.iter, ast.Name) and not self._own(node.iter.id):
            self.s.iterates.add(node.iter.id)
        # the loop variable is bound for the body; after the loop it may not be (no
        # iteration), so the binding is recorded but stays in the body's block
        self.bound.append(set())
        self._target(node.target)
        for stmt in node.body:
            self.visit(stmt)
        self.bound.pop()
        self._block(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = (alias.asname or alias.name).partition(".")[0]
            self._bind(name)
            self.s.imports.add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        self.s.imports.add(module)
        for alias in node.names:
            if alias.name == "*":
                self.s.star_import = True
            else:
                self._bind(alias.asname or alias.name)

    # comprehensions and lambdas: their own scope -------------------------------------------

    def _comprehension(self, node: Any) -> None:
        inner = Statement(0, "", 0, 0)
        walker = _Scope(inner)
        for gen in node.generators:
            walker.visit(gen.iter)
            walker._target(gen.target)
            for cond in gen.ifs:
                walker.visit(cond)
        for attr in ("elt", "key", "value"):
            child = getattr(node, attr, None)
            if child is not None:
                walker.visit(child)
        locals_ = inner.binds
        # the first iterable is evaluated in the enclosing scope; the rest reads late
        outer = {n for n in inner.reads | inner.mutates | inner.mutates_surely if self._own(n)}
        self.s.reads |= inner.reads - locals_ - outer
        self.s.calls += inner.calls
        self.s.mutates |= inner.mutates - locals_ - outer
        self.s.mutates_surely |= inner.mutates_surely - locals_ - outer
        # a walrus inside binds in the enclosing scope
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self._bind(sub.target.id)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in [*node.args.defaults, *[d for d in node.args.kw_defaults if d]]:
            self.visit(default)
        summary = summarise_function("<lambda>", node)
        self.s.reads |= summary.reads  # called wherever: count its globals as read here

    # definitions: evaluated now (decorators, defaults, bases); bodies when called --------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for expr in [
            *node.decorator_list,
            *node.args.defaults,
            *[d for d in node.args.kw_defaults if d is not None],
        ]:
            self.visit(expr)
        self._bind(node.name)
        self.s.functions[node.name] = summarise_function(node.name, node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self._bind(node.name)
        summary = FunctionSummary(node.name)
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                method = summarise_function(stmt.name, stmt)
                summary.reads |= method.reads
                summary.rebinds |= method.rebinds
                summary.calls |= method.calls
                summary.seeds |= method.seeds
                for name, methods in method.mutates.items():
                    summary.mutates.setdefault(name, set()).update(methods)
            else:  # class-level statements run now
                self.visit(stmt)
        self.s.functions[node.name] = summary

    # calls ---------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        self.visit(node.func)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)
        call = Call(func=None, dotted=dotted_name(node.func))
        if isinstance(node.func, ast.Name):
            call.func = node.func.id
            if node.func.id == "get_ipython":
                self.s.ipython = True
        elif isinstance(node.func, ast.Attribute):
            call.method = node.func.attr
            call.receiver = _root(node.func.value)
            if self._own(call.receiver):
                call.receiver = None  # an object this statement made: nothing from before
            elif _simple_chain(node.func.value):
                call.receiver_source = ast.unparse(node.func.value)
            if (
                isinstance(node.func.value, ast.Call)
                and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "get_ipython"
            ):
                self.s.ipython = True
        for arg in node.args:
            root = _root(arg)
            if (
                root is not None
                and isinstance(arg, ast.Name | ast.Attribute | ast.Subscript)
                and not self._own(root)
            ):
                call.args.append(root)
        for kw in node.keywords:
            if kw.arg is None:
                continue
            ok, value = _literal(kw.value)
            if ok:
                call.keywords[kw.arg] = value
            root = _root(kw.value)
            if (
                root is not None
                and isinstance(kw.value, ast.Name | ast.Attribute | ast.Subscript)
                and not self._own(root)
            ):
                call.args.append(root)
        self.s.calls.append(call)
        _static_effects(call, self.s)


def _state_target(target: ast.Attribute | ast.Subscript, stmt: Statement) -> None:
    """``os.environ[k] = v``, ``sys.path[0] = p``, ``sys.path = [...]``."""
    owner = dotted_name(target.value)
    if owner == "os.environ":
        stmt.effects.add("env")
    elif owner == "sys.path" or (owner == "sys" and getattr(target, "attr", None) == "path"):
        stmt.effects.add("sys.path")


def _static_effects(call: Call, stmt: Statement) -> None:
    """Process state a call changes, known from its name alone."""
    dotted = call.dotted or ""
    tail = dotted.split(".", 1)[1] if "." in dotted else dotted
    if tail in ("chdir",) and dotted.startswith("os."):
        stmt.effects.add("cwd")
    if dotted.startswith("sys.path.") or dotted in ("site.addsitedir",):
        stmt.effects.add("sys.path")
    if dotted.startswith("os.environ.") and call.method in (
        "update",
        "setdefault",
        "pop",
        "clear",
        "__setitem__",
    ):
        stmt.effects.add("env")
    if dotted in ("os.putenv", "os.unsetenv"):
        stmt.effects.add("env")
    if call.method == "seed" and dotted.endswith(("random.seed",)):
        stmt.effects.add("rng-seed")


def summarise_function(
    name: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
) -> FunctionSummary:
    """Globals a function reads and rebinds when called (its locals and arguments excluded)."""
    summary = FunctionSummary(name)
    args = node.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    if args.vararg:
        params.add(args.vararg.arg)
    if args.kwarg:
        params.add(args.kwarg.arg)
    body = node.body if isinstance(node.body, list) else [ast.Expr(node.body)]
    declared_global: set[str] = set()
    assigned: set[str] = set()
    loaded: set[str] = set()
    for stmt in body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Global):
                declared_global.update(sub.names)
            elif isinstance(sub, ast.Name):
                if isinstance(sub.ctx, ast.Load):
                    loaded.add(sub.id)
                else:
                    assigned.add(sub.id)
            elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                assigned.add(sub.name)
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                assigned.update((a.asname or a.name).partition(".")[0] for a in sub.names)
                if not summary.seeds:
                    summary.seeds = _import_may_seed(sub)
            elif isinstance(sub, ast.arg):
                assigned.add(sub.arg)
            elif isinstance(sub, ast.Call):
                if isinstance(sub.func, ast.Name):
                    summary.calls.add(sub.func.id)
                if not summary.seeds:
                    summary.seeds = call_may_seed(sub)
            if isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                loaded.add(sub.target.id)  # x += 1 reads x too
    locals_ = (assigned | params) - declared_global
    summary.reads = {n for n in loaded if n not in locals_ and n not in _BUILTINS}
    summary.rebinds = declared_global & assigned
    summary.calls -= locals_
    for stmt in body:
        for name, method in _in_place_changes(stmt):
            if name not in locals_ and name not in _BUILTINS:
                summary.mutates.setdefault(name, set()).add(method)
    return summary


def call_may_seed(call: ast.Call) -> bool:
    """Whether this call, by the name it is made by, may set a global random generator's
    state: ``np.random.seed(0)``, ``random.setstate(s)``, ``exec(code)`` — or calls a value
    computed on the spot (``fns[0]()``), which the names it reads do not tell."""
    from .effects import DYNAMIC_BUILTINS, RNG_SEEDERS

    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr in RNG_SEEDERS
    if isinstance(func, ast.Name):
        return func.id in RNG_SEEDERS or func.id in DYNAMIC_BUILTINS
    # a call of a call's result: the inner call is judged on its own
    return not isinstance(func, ast.Call)


def _import_may_seed(node: ast.Import | ast.ImportFrom) -> bool:
    """Importing a module runs it; importing a seeding function binds it under any name."""
    from .effects import NON_SEEDING_PACKAGES, RNG_SEEDERS

    if isinstance(node, ast.Import):
        modules = [a.name for a in node.names]
    elif node.level or any(a.name in RNG_SEEDERS or a.name == "*" for a in node.names):
        return True
    else:
        modules = [node.module or ""]
    return any(m.partition(".")[0] not in NON_SEEDING_PACKAGES for m in modules)


def _in_place_changes(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """``(name, method)`` for each change a function body may make to the object a name
    denotes: method calls on it, item/attribute assignment and deletion (method ""), being
    passed to a function known to change its argument (method "")."""
    from .effects import ARGUMENT_MUTATORS

    for sub in ast.walk(tree):
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute):
                root = _root(sub.func.value)
                if root is not None:
                    if isinstance(sub.func.value, ast.Name):
                        yield root, sub.func.attr
                    else:
                        dotted = dotted_name(sub.func)
                        yield root, dotted[len(root) :] if dotted else ""
            dotted = dotted_name(sub.func) or ""
            for n in ARGUMENT_MUTATORS.get(dotted, ()):
                if n < len(sub.args):
                    root = _root(sub.args[n])
                    if root is not None:
                        yield root, ""
        elif isinstance(sub, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = sub.targets if isinstance(sub, ast.Assign | ast.Delete) else [sub.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute | ast.Subscript) and isinstance(
                        part.ctx, ast.Store | ast.Del
                    ):
                        root = _root(part)
                        if root is not None:
                            yield root, ""


#: Nodes whose running may call arbitrary code (besides operators and attribute reads).
_CALLING = (
    ast.Call,
    ast.Import,
    ast.ImportFrom,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.ClassDef,
    ast.Delete,
    ast.Try,
    ast.Raise,
)


def _may_call(node: ast.AST) -> bool:
    """Whether running ``node`` may call code; a ``def`` or ``lambda`` runs only its
    decorators, defaults and annotations when it is defined. (A loop over the tree, not
    ``ast.walk``: the kernel asks this of every statement it runs.)"""
    todo = [node]
    while todo:
        item = todo.pop()
        if isinstance(item, _CALLING):
            return True
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            if item.decorator_list:
                return True  # a decorator is called
            args = item.args
            parts: list[ast.AST | None] = [*args.defaults, *args.kw_defaults, item.returns]
            parts += [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            parts += [a.annotation for a in (args.vararg, args.kwarg) if a is not None]
            todo.extend(part for part in parts if part is not None)
            continue
        if isinstance(item, ast.Lambda):
            todo.extend(item.args.defaults)
            todo.extend(d for d in item.args.kw_defaults if d is not None)
            continue
        for name in item._fields:
            value = getattr(item, name, None)
            if type(value) is list:
                todo.extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
                todo.append(value)
    return False


def _segment(lines: list[str], node: ast.stmt) -> str | None:
    """``ast.get_source_segment`` over lines split once: it splits the whole source again
    for every statement, which made this the kernel's largest per-statement cost. Column
    offsets count UTF-8 bytes, so non-ASCII lines are cut as bytes."""
    end_lineno, end_col = node.end_lineno, node.end_col_offset
    if end_lineno is None or end_col is None or end_lineno > len(lines):
        return None

    def cut(line: str, start: int | None, stop: int | None) -> str:
        if line.isascii():
            return line[start:stop]
        return line.encode()[start:stop].decode(errors="replace")

    first, last = node.lineno - 1, end_lineno - 1
    if first == last:
        return cut(lines[first], node.col_offset, end_col)
    return (
        cut(lines[first], node.col_offset, None)
        + "".join(lines[first + 1 : last])
        + cut(lines[last], None, end_col)
    )


def analyse_cell(source: str, tree: ast.Module | None = None) -> list[Statement]:
    """The top-level statements of the Python a cell ran, each with its static facts
    (``tree``: ``source`` already parsed, left unchanged).

    Raises ``SyntaxError`` when ``source`` does not parse (such a cell never ran).
    """
    from .magics import translate

    if tree is None:
        tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    # str.splitlines also breaks at characters Python's parser does not (form feed…)
    plain = not any(c in source for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029")
    out = []
    for i, node in enumerate(tree.body):
        start, end = node.lineno, node.end_lineno or node.lineno
        decorated = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        if decorated and node.decorator_list:  # type: ignore[union-attr]
            # decorators start the statement's text, each on a line of its own
            start = min(d.lineno for d in node.decorator_list)  # type: ignore[union-attr]
            text = "".join(lines[start - 1 : end])
        else:
            # exact text: ``a = 1; b = 2`` is two statements on one line
            text = (
                _segment(lines, node) if plain else ast.get_source_segment(source, node)
            ) or "".join(lines[start - 1 : end])
            if not text.endswith("\n"):
                text += "\n"
        stmt = Statement(index=i, source=text, lineno=start, end_lineno=end)
        stmt.may_call = _may_call(node)
        stmt.expression = isinstance(node, ast.Expr)
        stmt.import_only = isinstance(node, ast.Import | ast.ImportFrom)
        translation = translate(node, text)
        stmt.kind, stmt.code = translation.kind, translation.source
        stmt.requirements, stmt.reason = translation.requirements, translation.reason
        if translation.kind == "code" and translation.source != text:
            # a magic wrapping code: what the code does is what the statement does
            inner = ast.parse(translation.source)
            # the imports it needs go to the script's top: requirements, not bindings here
            stmt.needs = list(translation.imports)
            for needed in translation.imports:
                for imp in ast.parse(needed).body:
                    if isinstance(imp, ast.ImportFrom) and imp.module:
                        stmt.imports.add(imp.module)
                    elif isinstance(imp, ast.Import):
                        stmt.imports.update(a.name for a in imp.names)
            for sub in inner.body:
                _Scope(stmt).visit(sub)
            stmt.expression = len(inner.body) == 1 and isinstance(inner.body[0], ast.Expr)
        elif translation.kind == "refuse":
            # what it binds is unknown beyond its assignment targets
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    _Scope(stmt)._target(target)
            stmt.expression = False
        elif translation.kind == "drop":
            stmt.expression = False
        else:
            _Scope(stmt).visit(node)
        stmt.reads -= stmt.binds if isinstance(node, ast.Import | ast.ImportFrom) else set()
        out.append(stmt)
    return out
