"""No SQL is built from strings: every SQL text the package hands to the database is a literal.

The package's source is parsed, and every place SQL text reaches the database is checked —
``sqlalchemy.text(...)`` and ``literal_column(...)`` however imported, ``exec_driver_sql``,
and the DBAPI's or a connection's ``execute``/``executemany``/``executescript`` — for its
first argument being made from an f-string, ``%`` or ``.format``, a ``join``, or a
concatenation with a part that is not a constant. What is allowed: string literals, names
bound at module level to one (or to a concatenation of them), and anything that is not text
being built there: a SQLAlchemy Core statement (``select(...)``, a prebuilt statement's
name) or the SQL compiled from one (``statement.sql`` in ``store/driver.py``). A name bound
in the same function is followed to what it was bound to. Values always go as bound
parameters; the one thing a string could smuggle in is the statement itself.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jupyter_mltrack

PACKAGE = Path(jupyter_mltrack.__file__).resolve().parent
#: Functions whose first argument is SQL text, wherever they come from.
SQL_FUNCTIONS = {"text", "literal_column"}
#: Methods whose first argument is SQL text (connections, cursors, sessions, alembic's op).
SQL_METHODS = {"exec_driver_sql", "execute", "executemany", "executescript"}
#: How far a name is followed through assignments in the same function.
DEPTH = 5


@dataclass(frozen=True)
class Offence:
    file: str
    line: int
    call: str
    why: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.call}(...) gets SQL {self.why}"


def _sql_function_names(tree: ast.Module) -> set[str]:
    """Names under which this module imported ``text``/``literal_column`` from SQLAlchemy,
    and the names of the modules themselves (``sa.text``)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in SQL_FUNCTIONS:
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sqlalchemy"):
                    names.add(f"{alias.asname or alias.name}.*")
    return names


def _constants(tree: ast.Module) -> set[str]:
    """Module-level names bound to a string literal (or a concatenation of them)."""
    constants: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is not None and _literal(value, constants):
            constants.update(t.id for t in targets if isinstance(t, ast.Name))
    return constants


def _literal(node: ast.expr, constants: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str | bytes)
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, constants) and _literal(node.right, constants)
    return False


class _Checker(ast.NodeVisitor):
    def __init__(self, file: str, tree: ast.Module) -> None:
        self.file = file
        self.functions = _sql_function_names(tree)
        self.constants = _constants(tree)
        self.scopes: list[dict[str, list[ast.expr]]] = [{}]
        self.found: list[Offence] = []

    # scopes: what each name was bound to in the function being checked
    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        bound: dict[str, list[ast.expr]] = {}
        for sub in ast.walk(node):
            pairs: list[tuple[ast.expr, ast.expr]] = []
            if isinstance(sub, ast.Assign):
                pairs = [(t, sub.value) for t in sub.targets]
            elif isinstance(sub, ast.AnnAssign | ast.AugAssign) and sub.value is not None:
                value = sub.value
                if isinstance(sub, ast.AugAssign):  # sql += name: built by concatenation
                    value = ast.BinOp(left=sub.target, op=sub.op, right=sub.value)
                pairs = [(sub.target, value)]
            elif isinstance(sub, ast.NamedExpr):
                pairs = [(sub.target, sub.value)]
            for target, value in pairs:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(value)
        self.scopes.append(bound)
        self.generic_visit(node)
        self.scopes.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Call(self, node: ast.Call) -> None:
        name = self._sink(node.func)
        if name is not None and node.args:
            why = self._built(node.args[0], DEPTH)
            if why is not None:
                self.found.append(Offence(self.file, node.lineno, name, why))
        self.generic_visit(node)

    def _sink(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name) and func.id in self.functions:
            return func.id
        if isinstance(func, ast.Attribute):
            if func.attr in SQL_METHODS:
                return func.attr
            owner = func.value
            if (
                func.attr in SQL_FUNCTIONS
                and isinstance(owner, ast.Name | ast.Attribute)
                and f"{ast.unparse(owner)}.*" in self.functions
            ):
                return f"{ast.unparse(owner)}.{func.attr}"
        return None

    def _built(self, node: ast.expr, depth: int) -> str | None:
        """Why ``node`` is SQL text built from parts (``None``: it is not)."""
        if isinstance(node, ast.JoinedStr):
            if any(isinstance(v, ast.FormattedValue) for v in node.values):
                return "from an f-string"
            return None
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Mod) and self._stringish(node.left):
                return "formatted with %"
            if isinstance(node.op, ast.Add):
                if _literal(node, self.constants):
                    return None
                inner = self._built(node.left, depth) or self._built(node.right, depth)
                return inner or "by concatenation with a part that is not a constant"
            return None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format" and self._stringish(node.func.value):
                return "formatted with .format"
            if node.func.attr == "join" and self._stringish(node.func.value):
                return "joined from parts"
            return None
        if isinstance(node, ast.Name) and depth > 0 and node.id not in self.constants:
            for value in self.scopes[-1].get(node.id, []):
                why = self._built(value, depth - 1)
                if why is not None:
                    return f"{why} (through {node.id!r})"
        return None

    def _stringish(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Constant | ast.JoinedStr)
            or (isinstance(node, ast.Name) and node.id in self.constants)
            or (isinstance(node, ast.BinOp) and self._stringish(node.left))
        )


def offences(source: str, file: str = "<sample>") -> list[Offence]:
    tree = ast.parse(source)
    checker = _Checker(file, tree)
    checker.visit(tree)
    return checker.found


def package_offences() -> Iterator[Offence]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield from offences(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))


def test_the_package_builds_no_sql_from_strings() -> None:
    found = list(package_offences())
    assert not found, "\n".join(map(str, found))


def test_the_package_has_sql_to_check() -> None:
    """The walk sees the package's SQL: a checker finding no call at all would pass anything."""
    sinks = 0
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checker = _Checker(str(path), tree)
        sinks += sum(
            isinstance(n, ast.Call) and checker._sink(n.func) is not None for n in ast.walk(tree)
        )
    assert sinks > 50


SAMPLE = textwrap.dedent(
    """
    import sqlalchemy as sa
    from sqlalchemy import literal_column, select
    from sqlalchemy import text
    from sqlalchemy import text as sql_text

    TABLE = "runs"
    QUERY = "SELECT id FROM " + TABLE
    MAX = 10

    def good(conn, cursor, statement, name, stmt):
        conn.execute(text("SELECT 1"))
        conn.execute(text(QUERY), {"n": name})
        conn.execute(sa.text("SELECT id FROM runs WHERE name = :n"), {"n": name})
        cursor.execute(statement.sql, statement.args({"n": name}))
        conn.execute(select(literal_column("value")))
        conn.exec_driver_sql("LOCK TABLE snapshots IN SHARE ROW EXCLUSIVE MODE")
        conn.execute(stmt)
        built = select(sa.column("id"))
        conn.execute(built)
        cursor.execute("PRAGMA busy_timeout=" + "30000")

    def bad(conn, cursor, name, columns):
        conn.execute(text(f"SELECT * FROM runs WHERE name = '{name}'"))  # line 24
        conn.exec_driver_sql("SELECT * FROM " + name)  # 25
        cursor.execute("DELETE FROM runs WHERE id = '%s'" % name)  # 26
        cursor.execute("SELECT {} FROM runs".format(name))  # 27
        conn.execute(sa.text("SELECT " + ", ".join(columns)))  # 28
        sql = f"SELECT {name}"
        conn.execute(text(sql))  # 30
        other = QUERY + " WHERE name = '" + name + "'"
        conn.execute(sql_text(other))  # 32
        cursor.executemany(f"INSERT INTO {name} VALUES (?)", [(1,)])  # 33
        conn.execute(select(literal_column(f"{name}")))  # 34
        query = "SELECT 1"
        query += " WHERE " + name
        cursor.executescript(query)  # 37
        cursor.execute(f"PRAGMA busy_timeout={MAX}")  # 38
    """
)


def test_the_check_catches_sql_built_from_strings() -> None:
    found = offences(SAMPLE)
    by_line = {o.line: o for o in found}
    assert sorted(by_line) == [24, 25, 26, 27, 28, 30, 32, 33, 34, 37, 38], "\n".join(
        map(str, found)
    )
    assert str(by_line[24]) == "<sample>:24: text(...) gets SQL from an f-string"
    assert by_line[26].why == "formatted with %"
    assert by_line[27].why == "formatted with .format"
    assert by_line[28].call == "sa.text" and by_line[28].why == "joined from parts"
    assert by_line[30].why == "from an f-string (through 'sql')"
    assert by_line[32].call == "sql_text"
    assert by_line[37].why.endswith("(through 'query')")
