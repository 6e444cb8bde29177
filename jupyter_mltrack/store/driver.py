"""Statements compiled once and run on a DBAPI cursor: the SQLite writes a kernel makes on
every cell, without SQLAlchemy's per-execution work.

Why: on the kernel's path (the execution log's record after each cell, a tracked cell's run
created before it runs), SQLAlchemy's execution machinery costs more than the insert and
the commit together, and more still once the cell before has left the caches cold (creating
a run: about 0.6 ms against 0.15, see ``docs/benchmarks.md``, section 8). The statements
stay SQLAlchemy Core constructs (:mod:`.statements`), compiled here for the engine's
dialect into :class:`.prepared.PreparedStatement`; only their execution skips the engine
(:func:`.prepared.run_statements`). Values are bound as the engine's bind processors would
bind them, so what is stored is the same either way (``tests/test_prepared.py``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

from .prepared import PreparedStatement, run_statements

__all__ = ["prepare", "run_statements"]


def prepare(stmt: ClauseElement, dialect: Dialect) -> PreparedStatement:
    """``stmt`` compiled for ``dialect``, with how each of its values is bound. Refuses a
    statement with named parameters (the DBAPI path is positional) or a value whose type
    binds in a way :data:`.prepared.PROCESSORS` does not know."""
    if dialect.paramstyle not in ("qmark", "numeric", "format"):
        raise ValueError(f"positional parameters needed, not {dialect.paramstyle!r}")
    compiled = stmt.compile(dialect=dialect)
    # plain strings: an anonymous bind's name is a SQLAlchemy type, which a worker
    # unpickling the statement would import SQLAlchemy for
    names = tuple(str(name) for name in compiled.positiontup or ())
    binds = {str(name): bind for name, bind in compiled.binds.items() if str(name) in names}
    kinds: dict[str, str] = {}
    for name, bind in binds.items():
        if bind.type.bind_processor(dialect) is not None:
            kinds[name] = _kind(bind.type)
    return PreparedStatement(
        sql=str(compiled.string),
        names=names,
        defaults={name: bind.value for name, bind in binds.items()},
        kinds=kinds,
    )


def _kind(type_: object) -> str:
    if isinstance(type_, Boolean):
        return "bool"
    if isinstance(type_, Float):
        return "float"
    if isinstance(type_, LargeBinary):
        return "binary"
    raise ValueError(f"no prepared binding for a value of type {type_!r}")
