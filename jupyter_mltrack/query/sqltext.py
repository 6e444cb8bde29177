"""Text comparisons that mean the same on SQLite and PostgreSQL.

Two things differ between the backends and are made the same here:

- *Order.* SQLite compares text byte by byte (code point order); PostgreSQL by the
  database's collation (``en_US.UTF-8`` puts ``a`` before ``B``). :func:`binary` makes an
  expression compare by code point on PostgreSQL too (``COLLATE "C"``), so
  ``name < "b"`` and a sort by name agree across backends and with Python.
- *Case-insensitive contains.* SQLite's ``lower()`` and ``LIKE`` fold ASCII letters only;
  PostgreSQL's ``ILIKE`` folds whatever the database's locale folds (``É``/``é`` under
  ``C.UTF-8`` or ``en_US.UTF-8``, nothing beyond ASCII under ``C``). :func:`contains` folds
  ASCII letters on both — ``lower(x COLLATE "C") LIKE :pattern`` on PostgreSQL, the pattern
  folded the same way in Python — so a filter finds the same runs on either backend and
  whatever the server's locale. The pattern is the user's text with ``%``, ``_`` and the
  escape character escaped so they match themselves, and ``*``/``?`` as wildcards when
  the text has them (a glob matches the whole value; plain text anywhere in it); it is a
  bound parameter like every other value.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

#: Escapes ``%`` and ``_`` (and itself) in a LIKE pattern.
ESCAPE = "\\"


class binary(FunctionElement[str]):  # noqa: N801 - SQLAlchemy's spelling of SQL constructs
    """``expr`` compared by code point: ``expr COLLATE "C"`` on PostgreSQL, ``expr`` as it
    is on SQLite (whose default collation already is)."""

    name = "binary"
    inherit_cache = True
    type = Text()


@compiles(binary)
def _binary_default(element: binary, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(binary, "postgresql")
def _binary_postgresql(element: binary, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.clauses, **kw)} COLLATE "C")'


def is_glob(text: str) -> bool:
    return "*" in text or "?" in text


def like_pattern(text: str) -> str:
    """The LIKE pattern of ``~ text``: ``%text%`` with LIKE's own wildcards escaped, or, when
    ``text`` has ``*`` or ``?``, the glob with those turned into ``%`` and ``_``."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    if is_glob(text):
        return escaped.replace("*", "%").replace("?", "_")
    return f"%{escaped}%"


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """``text`` with its ASCII letters in lower case (what ``lower()`` does on both
    backends under :func:`binary`); ``str.lower`` would fold ``É`` too."""
    return text.translate(_ASCII_LOWER)


def contains(column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """``column ~ text``: NULL when ``column`` is (callers guard), else true or false."""
    return func.lower(binary(column)).like(ascii_lower(like_pattern(text)), escape=ESCAPE)
