"""Rules the slicer applies to one step's recorded facts: which object ids a read or a
change touches (values have no history), whether a statement binds a constant, seeds or
reseeds a global RNG, is an import (of which module) or a library set-up call. Pure functions
of a statement and its facts, apart from the dependency walk in :mod:`.slicer` that uses them.
"""

from __future__ import annotations

import ast
import functools
import re
from typing import Any

from . import effects
from .analysis import Statement, _import_may_seed, call_may_seed


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
    """The objects a change to this identity changes: itself and the memory it views (not
    the objects it holds)."""
    return _ids(identity)[:2]


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


def _imports_only(stmt: Statement, packages: set[str]) -> bool:
    """An import statement (not relative) of modules of ``packages`` only."""
    if not _is_import(stmt) or not stmt.imports:
        return False
    return all(
        m and not m.startswith(".") and m.partition(".")[0] in packages for m in stmt.imports
    )


#: Names of calls that set a library up: ``use``, ``set_option``, ``set_config``,
#: ``seterr``, ``enable_…``, ``register_…``, ``filterwarnings``, ``config``…
_SETUP_CALL = re.compile(
    r"^(use|set|set_\w+|seterr\w*|enable\w*|disable\w*|register\w*|config\w*|reset_\w+|"
    r"filterwarnings|simplefilter|init\w*)$"
)


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
