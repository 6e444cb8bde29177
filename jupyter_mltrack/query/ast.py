"""The parsed form of a query: frozen dataclasses, compared by value, printed back as query text.

The parser checks everything it can before building these (fields exist, reducers exist,
values have the kind their field compares: a date for ``started``, a number for a metric),
and resolves what depends only on the text (``= null`` is ``is null``, a day is a span of
instants, ``"5m"`` is 300 seconds). A tree that exists is therefore one the compiler can
always turn into SQL, and one another program can build by hand (the plain-text search
does) with the same meaning.

``str(node)`` is query text that parses back to an equal node.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

#: How a metric's points become one number per run (``metrics.loss.min``); ``last`` when none
#: is written.
REDUCERS = ("last", "min", "max", "mean", "best", "count")

#: The attributes of a run a query can name, as it names them.
ATTRIBUTES = (
    "id",
    "status",
    "name",
    "number",
    "notebook",
    "experiment",
    "source",
    "duration",
    "started",
    "ended",
    "commit",
    "parent",
    "note",
)

FieldKind = Literal["param", "metric", "tag", "attribute", "used"]

#: A key segment written without backticks: anything but blanks, dots, quotes, brackets,
#: commas and the characters operators are made of.
_BARE_SEGMENT = re.compile(r"[^\s.`=<>!~(),'\"]+")
_PREFIXES = {"param": "params", "metric": "metrics", "tag": "tags", "used": "used"}


@dataclass(frozen=True)
class Field:
    """What a condition looks at: ``params.lr``, ``metrics.loss.min``, ``tags.stage``,
    ``status``…

    ``key`` is the param, metric or tag key, or the attribute's name; ``None`` only for a
    bare ``tags`` (any tag's key or value) and for ``used`` (the artifacts of other runs
    the run loaded: ``used = churn``). ``reducer`` is set for metrics only.
    """

    kind: FieldKind
    key: str | None
    reducer: str | None = None

    def __str__(self) -> str:
        if self.kind == "attribute":
            return str(self.key)
        prefix = _PREFIXES[self.kind]
        if self.key is None:
            return prefix
        text = f"{prefix}.{quote_key(self.key)}"
        if self.reducer is not None and self.reducer != "last":
            text += f".{self.reducer}"
        return text


#: A literal once checked against its field: a number (always a float), a string or a
#: boolean. ``null`` never survives parsing (``= null`` becomes ``is null``).
Scalar = float | str | bool


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``op`` is one of ``= != < <= > >= ~ !~`` (``==`` and ``<>`` are
    spelled ``=`` and ``!=`` here)."""

    field: Field
    op: str
    value: Scalar

    def __str__(self) -> str:
        return f"{self.field} {self.op} {format_value(self.value)}"


@dataclass(frozen=True)
class In:
    """``field in (v, …)``, or ``not in`` when ``negated``."""

    field: Field
    values: tuple[Scalar, ...]
    negated: bool = False

    def __str__(self) -> str:
        inner = ", ".join(format_value(v) for v in self.values)
        return f"{self.field} {'not in' if self.negated else 'in'} ({inner})"


@dataclass(frozen=True)
class IsNull:
    """``field is null`` (missing, or a NaN/null value), or ``is not null`` when ``negated``."""

    field: Field
    negated: bool = False

    def __str__(self) -> str:
        return f"{self.field} is {'not ' if self.negated else ''}null"


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(item, Or) for item in self.items)


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(str(item) for item in self.items)


@dataclass(frozen=True)
class Not:
    item: Node

    def __str__(self) -> str:
        return f"not {_wrap(self.item, And, Or)}"


Node = Compare | In | IsNull | And | Or | Not


def _wrap(node: Node, *loose: type) -> str:
    return f"({node})" if isinstance(node, loose) else str(node)


def quote_key(key: str) -> str:
    """A key as a field writes it: bare when it can be, else in backticks (a backtick in it
    doubled). Keys with a dot are always quoted, so their last part is never read back as a
    reducer."""
    if _BARE_SEGMENT.fullmatch(key):
        return key
    return "`" + key.replace("`", "``") + "`"


def format_value(value: Scalar) -> str:
    """A checked literal as query text that reads back as the same literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return '"inf"' if value > 0 else '"-inf"'
        return repr(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'
