"""A sweep's search space: the text a person types for each parameter, Optuna's
distributions for it, and back.

One spec per parameter, the same in the Python API (``space={"lr": "loguniform(1e-4, 0.1)"}``),
on the command line (``--param lr=loguniform(1e-4,0.1)``) and in the sweep run's params
(``space.lr = "loguniform(0.0001, 0.1)"``, the canonical text :func:`spec_text` writes, which
:meth:`Space.from_texts` reads back when a sweep resumes)::

    choice(a, b, ...)       one of the values (Optuna's CategoricalDistribution)
    int(lo, hi)             an integer in [lo, hi]
    int(lo, hi, step)       lo, lo + step, ... hi (hi - lo must be a multiple of step)
    logint(lo, hi)          an integer in [lo, hi], sampled on a log scale (1 <= lo)
    uniform(lo, hi)         a float in [lo, hi]
    uniform(lo, hi, step)   lo, lo + step, ... hi
    loguniform(lo, hi)      a float in [lo, hi], sampled on a log scale (0 < lo)
    [a, b, ...]             a grid axis: the values, every one tried by a grid sweep

Values are read like YAML scalars: ``3`` is an int, ``0.5`` and ``1e-4`` floats,
``true``/``false``/``none`` (any case, ``null`` too) a bool or None, anything else a string;
quote a string that would read as something else or that has spaces, commas or brackets
(``"1"``, ``'random forest'``; backslash escapes ``\\n \\t \\r \\\\ \\" \\' \\uXXXX``). Function
names are case-insensitive. In the Python API a parameter may also be a list, tuple or
``range`` (a grid axis) or an Optuna distribution.

A spec is checked as a whole, so what is stored always parses again: ``lo < hi`` (a range
of one value is a constant, not a search), ``0 < lo`` on a log scale, ``step > 0`` dividing
``hi - lo`` (Optuna would silently lower ``hi``), at least one choice, no two choices equal
to Python (Optuna finds a choice by ``==``, so ``choice(1, 1.0)`` or ``choice(1, true)``
could never suggest the second), finite numbers only. Every error is a :class:`SpaceError`
whose one-line message names the parameter, and the column when it is about one spot.

**Grids.** A grid sweep tries every combination, so it needs every parameter to be a finite
set: lists, ``choice(...)``, ``int``/``logint`` (every integer in range, or every step) and
stepped ``uniform``. :attr:`Space.is_grid` says the space was *written* as a grid (every
parameter a list: the sampler a driver should default to); :attr:`Space.finite` says a grid
sweep is possible at all; :meth:`Space.grid` lists the combinations, in parameter order then
value order, so the same space always gives the same grid.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from optuna.distributions import (
    BaseDistribution,
    CategoricalChoiceType,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.pruners import (
    BasePruner,
    HyperbandPruner,
    MedianPruner,
    NopPruner,
    SuccessiveHalvingPruner,
)
from optuna.samplers import BaseSampler, GridSampler, RandomSampler, TPESampler

#: A parsed spec: an Optuna distribution, or a list for a grid axis.
Axis = BaseDistribution | list

#: Prefix of the sweep run's params that hold the space (``space.lr``).
SPACE_PREFIX = "space."

#: The most combinations a grid sweep enumerates: Optuna's GridSampler keeps every one in a
#: list (a million small tuples is ~100 MB); a larger finite space is for random or tpe.
MAX_GRID_SIZE = 1_000_000

#: The spec functions and the arguments each takes.
FUNCTIONS = {
    "choice": "choice(a, b, ...)",
    "int": "int(lo, hi[, step])",
    "logint": "logint(lo, hi)",
    "uniform": "uniform(lo, hi[, step])",
    "loguniform": "loguniform(lo, hi)",
}

SAMPLERS = ("grid", "random", "tpe", "cmaes")
PRUNERS = ("none", "median", "halving", "hyperband")


class SpaceError(ValueError):
    """A parameter spec that cannot be searched, or a sampler or pruner that cannot serve it.

    ``param`` is the parameter's name, ``position`` the 0-based index in ``text`` of the spot
    the message is about (None when it is about the whole spec). ``str()`` is one line.
    """

    def __init__(
        self, param: str, message: str, text: str | None = None, position: int | None = None
    ) -> None:
        self.param = param
        self.message = message
        self.text = text
        self.position = position
        where = f" (column {position + 1})" if position is not None else ""
        super().__init__(f"{param}: {message}{where}" if param else f"{message}{where}")

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (a worker process may raise it)
        return (type(self), (self.param, self.message, self.text, self.position))


# the grammar -------------------------------------------------------------------------------

# LALR with lark's contextual lexer: where a function name is expected only FUNC is looked
# for, where a value is expected only BARE and STRING, so `int` is a function in front of `(`
# and a string inside `choice(int, str)`. Numbers, booleans and words are all BARE: what a
# value is, is decided when the tree is read (as YAML does), not by the grammar.
_GRAMMAR = r"""
start: FUNC "(" [values] ")"   -> call
     | "[" [values] "]"        -> grid

values: value ("," value)* ","?
?value: STRING | BARE

FUNC: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/
BARE: /[^\s()\[\],'"]+/

%ignore /\s+/
"""

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_KEYWORDS: dict[str, CategoricalChoiceType] = {
    "true": True,
    "false": False,
    "none": None,
    "null": None,
}
# a string written bare in canonical text: a word that cannot read as anything else
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-+/:@]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@functools.cache
def _lark() -> Lark:
    """Built on first use (a few milliseconds), not at import."""
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual")


# parsing -----------------------------------------------------------------------------------


def parse_spec(text: str, name: str = "param") -> Axis:
    """The distribution (or grid list) the spec ``text`` describes, checked; ``name`` is the
    parameter's, for the error messages."""
    if not isinstance(text, str):
        raise SpaceError(name, f"expected a spec text, got {type(text).__name__}")
    if not text.strip():
        raise SpaceError(name, f"the spec is empty: expected {_EXAMPLE}")
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as exc:
        error = _syntax_error(name, text, exc)
    else:
        return _Reader(name, text).axis(tree)
    # raised here, not in the except block: an error raised there keeps lark's exception as
    # its __context__ (its parser state), which tblib's exception pickling — installed by
    # dask.distributed — then tries, and fails, to pickle with it
    raise error


def parse_param(text: str) -> tuple[str, Axis]:
    """``NAME=SPEC`` as ``--param`` takes it (``lr=loguniform(1e-4,1e-1)``): the name and
    what :func:`parse_spec` makes of the spec."""
    name, eq, spec = text.partition("=")
    name = name.strip()
    if not eq:
        raise SpaceError("", f"--param needs NAME=SPEC, such as lr=loguniform(1e-4, 0.1): {text!r}")
    _check_name(name)
    return name, parse_spec(spec, name)


def parse_space(space: Mapping[str, Any] | Space) -> Space:
    """The :class:`Space` of ``space``: each value a spec text, a list, tuple or ``range``
    (a grid axis) or an Optuna distribution (Int, Float or Categorical, checked as a text
    would be), or a :class:`Space` (returned as it is). The parameters keep their order."""
    if isinstance(space, Space):
        return space
    if not isinstance(space, Mapping):
        raise SpaceError(
            "", f"a space is a mapping of parameter to spec, got {type(space).__name__}"
        )
    if not space:
        raise SpaceError(
            "", f"the space is empty: give at least one parameter, such as lr={_EXAMPLE}"
        )
    axes: dict[str, Axis] = {}
    for name, value in space.items():
        _check_name(name)
        axes[name] = _axis(name, value)
    return Space(axes)


def _axis(name: str, value: Any) -> Axis:
    if isinstance(value, str):
        return parse_spec(value, name)
    if isinstance(value, BaseDistribution):
        return _from_distribution(name, value)
    if isinstance(value, (list, tuple, range)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        shown = repr(items)
        return _choices(name, [_python_value(name, v, shown) for v in items], "grid", shown)
    raise SpaceError(
        name,
        f"expected a spec text such as {_EXAMPLE}, a list of values or an Optuna "
        f"distribution, got {type(value).__name__} {value!r}",
    )


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise SpaceError(
            "", f"a parameter name is a Python identifier (run() takes it by keyword), got {name!r}"
        )


_EXAMPLE = "loguniform(1e-4, 0.1), int(2, 10), choice(rf, gb) or [1, 2, 4]"


class _Reader:
    """Reads lark's tree of one spec into a checked distribution or grid list."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.shown = text.strip()

    def fail(self, message: str, token: Token | None = None) -> SpaceError:
        at = token.start_pos if token is not None else None
        return SpaceError(self.name, message, self.text, at)

    def axis(self, tree: Tree) -> Axis:
        if tree.data == "grid":
            values = self.values(tree.children[0])
            return _choices(self.name, [v for v, _ in values], "grid", self.shown)
        func, args = tree.children
        assert isinstance(func, Token)
        kind = str(func).lower()
        values = self.values(args)
        if kind not in FUNCTIONS:
            raise self.fail(_unknown_function(str(func)), func)
        if kind == "choice":
            return _choices(self.name, [v for v, _ in values], "choice", self.shown)
        takes = (2, 3) if kind in ("int", "uniform") else (2,)
        if len(values) not in takes:
            raise self.fail(f"{kind} takes {FUNCTIONS[kind]}, got {self.shown}")
        numbers = []
        for value, token in values:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(f"{kind} takes numbers, got {str(token)!r}", token)
            if kind in ("int", "logint"):
                if isinstance(value, float) and not value.is_integer():
                    raise self.fail(f"{kind} takes whole numbers, got {token}", token)
                value = int(value)
            numbers.append(value)
        return _range(self.name, kind, numbers, self.shown)

    def values(self, tree: Tree | None) -> list[tuple[CategoricalChoiceType, Token]]:
        if tree is None:
            return []
        out = []
        for token in tree.children:
            assert isinstance(token, Token)
            if token.type == "STRING":
                out.append((self.unquote(token), token))
            else:
                out.append((self.scalar(token), token))
        return out

    def scalar(self, token: Token) -> CategoricalChoiceType:
        word = str(token)
        if word.lower() in _KEYWORDS:
            return _KEYWORDS[word.lower()]
        if _INT.fullmatch(word):
            try:
                return int(word)
            except ValueError:  # more digits than Python converts (4300)
                raise self.fail(f"{word[:20]}... has too many digits", token) from None
        if _FLOAT.fullmatch(word):
            number = float(word)
            if not math.isfinite(number):
                raise self.fail(f"{word} is too large for a float", token)
            return number
        return word

    def unquote(self, token: Token) -> str:
        body, out, i = str(token)[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            escaped = body[i + 1]  # the grammar puts a character after every backslash
            hexa = body[i + 2 : i + 6]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
                i += 2
            elif escaped == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", hexa):
                out.append(chr(int(hexa, 16)))
                i += 6
            else:
                at = (token.start_pos or 0) + 1 + i
                what = (
                    "\\u takes 4 hex digits (\\u00e9)"
                    if escaped == "u"
                    else f"unknown escape \\{escaped} in a string (a backslash is written \\\\)"
                )
                raise SpaceError(self.name, what, self.text, at)
        return "".join(out)


def _syntax_error(name: str, text: str, exc: UnexpectedInput) -> SpaceError:
    """Lark's refusal in words: what was expected where, and what was found there."""
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream]
        if char in "'\"":
            return SpaceError(
                name, f"unclosed string: add the closing {char}", text, exc.pos_in_stream
            )
        return SpaceError(name, f"unexpected character {char!r}", text, exc.pos_in_stream)
    if not isinstance(exc, UnexpectedToken):  # pragma: no cover (LALR raises only these two)
        return SpaceError(name, f"cannot read the spec: {exc}", text, None)
    token = exc.token
    end = token.type == "$END"
    at = len(text.rstrip()) if end else (token.start_pos or 0)
    found = "the spec ends" if end else f"found {str(token)!r}"
    # what the parser state takes (``expected`` may be the lexer's, wider, list)
    expected = set(exc.accepts or exc.expected)
    if "FUNC" in expected:  # the very start
        hint = f": a single value is written choice({token})" if token.type == "BARE" else ""
        return SpaceError(name, f"expected {_EXAMPLE}, {found}{hint}", text, at)
    if expected == {"LPAR"}:
        return SpaceError(name, f"expected '(' after the function name, {found}", text, at)
    if expected & {"$END", "<END-OF-FILE>"}:
        return SpaceError(name, f"unexpected {str(token)!r} after the end of the spec", text, at)
    opening, closing = ("(", "')'") if "RPAR" in expected else ("[", "']'")
    if end:
        return SpaceError(name, f"unclosed '{opening}': add {closing}", text, at)
    if expected & {"BARE", "STRING"}:
        return SpaceError(name, f"expected a value or {closing}, {found}", text, at)
    hint = " (quote a value that has spaces)" if token.type in ("BARE", "STRING", "FUNC") else ""
    return SpaceError(name, f"expected ',' or {closing}, {found}{hint}", text, at)


def _unknown_function(func: str) -> str:
    close = difflib.get_close_matches(func.lower(), list(FUNCTIONS), n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    known = ", ".join(FUNCTIONS.values())
    return f"unknown function {func!r}: {guess}the functions are {known}, or a list [a, b, ...]"


# checking and building ---------------------------------------------------------------------


def _python_value(name: str, value: Any, shown: str) -> CategoricalChoiceType:
    """A value of a list given in Python, as a choice takes it (numpy scalars unwrapped)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise SpaceError(
        name,
        f"a choice is None, a bool, an int, a float or a str, got {type(value).__name__} "
        f"{value!r} in {shown}",
    )


def _choices(name: str, values: list[CategoricalChoiceType], kind: str, shown: str) -> Axis:
    what = "a grid list" if kind == "grid" else "choice"
    if not values:
        raise SpaceError(name, f"{what} needs at least one value, got {shown}")
    for i, value in enumerate(values):
        if isinstance(value, float) and not math.isfinite(value):
            raise SpaceError(name, f"{what} takes finite numbers, got {value!r} in {shown}")
        for earlier in values[:i]:
            if earlier == value:
                if type(earlier) is type(value):
                    raise SpaceError(name, f"{what} has {_literal(value)} twice: {shown}")
                raise SpaceError(
                    name,
                    f"{what} has {_literal(earlier)} and {_literal(value)}, which are equal to "
                    f"Python: Optuna finds a choice by ==, so it would never suggest the second: "
                    f"{shown}",
                )
    if kind == "grid":
        return list(values)
    return CategoricalDistribution(values)


def _range(name: str, kind: str, numbers: list[int | float], shown: str) -> BaseDistribution:
    """The Int or Float distribution of ``kind(lo, hi[, step])``, checked first (Optuna would
    lower ``hi`` with a warning, or raise its own message naming no parameter)."""
    lo, hi = numbers[0], numbers[1]
    step = numbers[2] if len(numbers) == 3 else None
    for number in numbers:
        if not math.isfinite(number):
            raise SpaceError(name, f"{kind} takes finite numbers, got {shown}")
    if kind == "logint" and not 1 <= lo < hi:
        raise SpaceError(name, f"logint needs 1 <= lo < hi, got {shown}")
    if kind == "loguniform" and not 0 < lo < hi:
        raise SpaceError(name, f"loguniform needs 0 < lo < hi, got {shown}")
    if not lo < hi:
        raise SpaceError(name, f"{kind} needs lo < hi, got {shown}")
    if step is not None:
        if not step > 0:
            raise SpaceError(name, f"{kind} needs step > 0, got {shown}")
        if (_decimal(hi) - _decimal(lo)) % _decimal(step) != 0:
            raise SpaceError(
                name,
                f"{kind} needs hi - lo to be a multiple of step, got {shown} "
                f"(the last value would be {_last(lo, hi, step)!r})",
            )
    if kind in ("int", "logint"):
        return IntDistribution(int(lo), int(hi), log=kind == "logint", step=int(step or 1))
    return FloatDistribution(float(lo), float(hi), log=kind == "loguniform", step=_float(step))


def _decimal(number: int | float | Decimal) -> Decimal:
    # str(), as Optuna's own step check does: 0.1 is 0.1, not 0.1000000000000000055...
    return number if isinstance(number, Decimal) else Decimal(str(number))


def _last(lo: int | float, hi: int | float, step: int | float) -> int | float:
    d_lo, d_step = _decimal(lo), _decimal(step)
    last = (_decimal(hi) - d_lo) // d_step * d_step + d_lo
    return int(last) if isinstance(lo, int) and isinstance(step, int) else float(last)


def _float(step: int | float | None) -> float | None:
    return None if step is None else float(step)


def _from_distribution(name: str, dist: BaseDistribution) -> Axis:
    """An Optuna distribution given in Python, checked as its text would be (so what is
    stored in ``space.<name>`` parses again)."""
    shown = spec_text(dist)
    if isinstance(dist, CategoricalDistribution):
        return _choices(
            name, [_python_value(name, v, shown) for v in dist.choices], "choice", shown
        )
    if isinstance(dist, IntDistribution):
        kind = "logint" if dist.log else "int"
        numbers = [dist.low, dist.high] + ([dist.step] if dist.step != 1 else [])
        return _range(name, kind, numbers, shown)
    if isinstance(dist, FloatDistribution):
        kind = "loguniform" if dist.log else "uniform"
        numbers = [dist.low, dist.high] + ([dist.step] if dist.step is not None else [])
        return _range(name, kind, numbers, shown)
    raise SpaceError(name, f"unsupported distribution {type(dist).__name__}")


# canonical text ----------------------------------------------------------------------------


def spec_text(axis: Axis) -> str:
    """The canonical text of a distribution or grid list: what the sweep run stores in
    ``space.<param>``; :func:`parse_spec` reads it back to an equal distribution."""
    if isinstance(axis, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in axis) + "]"
    if isinstance(axis, CategoricalDistribution):
        return "choice(" + ", ".join(_literal(v) for v in axis.choices) + ")"
    if isinstance(axis, IntDistribution):
        if axis.log:
            return f"logint({axis.low}, {axis.high})"
        step = f", {axis.step}" if axis.step != 1 else ""
        return f"int({axis.low}, {axis.high}{step})"
    if isinstance(axis, FloatDistribution):
        if axis.log:
            return f"loguniform({axis.low!r}, {axis.high!r})"
        step = f", {axis.step!r}" if axis.step is not None else ""
        return f"uniform({axis.low!r}, {axis.high!r}{step})"
    raise TypeError(f"not a distribution or a list: {axis!r}")


def _literal(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # a float's repr reads back to the same float, and keeps its '.'
    text = str(value)
    if _PLAIN_WORD.fullmatch(text) and text.lower() not in _KEYWORDS:
        return text
    return _quote(text)


def _quote(text: str) -> str:
    """Double quotes, and escapes that keep the text on one line."""
    out = ['"']
    for ch in text:
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# the space ---------------------------------------------------------------------------------


class Space:
    """A checked search space: each parameter's distribution, in the order given. Build one
    with :func:`parse_space` or :meth:`from_texts`; the constructor trusts its input."""

    def __init__(self, axes: Mapping[str, Axis]) -> None:
        self._axes = dict(axes)

    @classmethod
    def from_texts(cls, texts: Mapping[str, str]) -> Space:
        """The space of the canonical texts :meth:`to_texts` made (name -> spec text)."""
        for name, text in texts.items():
            if not isinstance(text, str):
                raise SpaceError(str(name), f"expected a spec text, got {type(text).__name__}")
        return parse_space(texts)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Space:
        """The space a sweep run recorded: its ``space.<param>`` params (others ignored)."""
        texts = {k[len(SPACE_PREFIX) :]: v for k, v in params.items() if k.startswith(SPACE_PREFIX)}
        return cls.from_texts(texts)

    @property
    def names(self) -> list[str]:
        return list(self._axes)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        """Name -> Optuna distribution, for ``study.ask(distributions)``; a grid list is a
        CategoricalDistribution of its values."""
        return {
            name: CategoricalDistribution(axis) if isinstance(axis, list) else axis
            for name, axis in self._axes.items()
        }

    @property
    def is_grid(self) -> bool:
        """Every parameter was given as a list: the space was written as a grid."""
        return all(isinstance(axis, list) for axis in self._axes.values())

    @property
    def finite(self) -> bool:
        """Every parameter is a finite set of values, so a grid sweep can try them all."""
        return self.size() is not None

    @property
    def continuous(self) -> list[str]:
        """The parameters with no finite set of values (uniform and loguniform)."""
        return [name for name, axis in self._axes.items() if _count(axis) is None]

    def size(self) -> int | None:
        """How many combinations a grid sweep has (None when a parameter is continuous);
        counted, not enumerated."""
        total = 1
        for axis in self._axes.values():
            count = _count(axis)
            if count is None:
                return None
            total *= count
        return total

    @property
    def grid_values(self) -> dict[str, list[CategoricalChoiceType]]:
        """Name -> every value of that parameter, for a grid sweep (Optuna's GridSampler).
        Raises :class:`SpaceError` when the space is not finite or has more than
        :data:`MAX_GRID_SIZE` combinations."""
        self._check_grid()
        return {name: _values(axis) for name, axis in self._axes.items()}

    def grid(self) -> list[dict[str, CategoricalChoiceType]]:
        """Every combination, parameter by parameter in the order given, each parameter's
        values in their order (the last parameter varies fastest)."""
        values = self.grid_values
        names = list(values)
        return [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*values.values())
        ]

    def _check_grid(self) -> None:
        continuous = self.continuous
        if continuous:
            shown = ", ".join(f"{n} = {spec_text(self._axes[n])}" for n in continuous)
            raise SpaceError(
                continuous[0],
                f"a grid sweep needs a finite set of values for every parameter, and {shown} "
                "is continuous: give a list, choice(...), int(...) or uniform(lo, hi, step), "
                "or use the random or tpe sampler",
            )
        size = self.size()
        assert size is not None
        if size > MAX_GRID_SIZE:
            raise SpaceError(
                "",
                f"the grid has {size} combinations, more than {MAX_GRID_SIZE}: use the random "
                "or tpe sampler, or fewer values",
            )

    def to_texts(self) -> dict[str, str]:
        """Name -> canonical spec text (:func:`spec_text`); :meth:`from_texts` reads it back."""
        return {name: spec_text(axis) for name, axis in self._axes.items()}

    def to_params(self) -> dict[str, str]:
        """The sweep run's params that record the space: ``space.<name>`` -> spec text."""
        return {SPACE_PREFIX + name: text for name, text in self.to_texts().items()}

    def __len__(self) -> int:
        return len(self._axes)

    def __iter__(self) -> Iterator[str]:
        return iter(self._axes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._axes.items()) == list(other._axes.items())

    __hash__ = None  # type: ignore[assignment]  (it holds lists: compared, never hashed)

    def __repr__(self) -> str:
        return "Space(" + ", ".join(f"{n}={t}" for n, t in self.to_texts().items()) + ")"


def _count(axis: Axis) -> int | None:
    if isinstance(axis, list):
        return len(axis)
    if isinstance(axis, CategoricalDistribution):
        return len(axis.choices)
    if isinstance(axis, IntDistribution):
        return (axis.high - axis.low) // axis.step + 1
    assert isinstance(axis, FloatDistribution)
    if axis.step is None:
        return None
    return int((_decimal(axis.high) - _decimal(axis.low)) // _decimal(axis.step)) + 1


def _values(axis: Axis) -> list[CategoricalChoiceType]:
    if isinstance(axis, list):
        return list(axis)
    if isinstance(axis, CategoricalDistribution):
        return list(axis.choices)
    if isinstance(axis, IntDistribution):
        return list(range(axis.low, axis.high + 1, axis.step))
    assert isinstance(axis, FloatDistribution) and axis.step is not None
    count = _count(axis)
    assert count is not None
    low, step = _decimal(axis.low), _decimal(axis.step)
    # in decimal, so uniform(0, 1, 0.1) gives 0.3 rather than 0.30000000000000004
    return [float(low + i * step) for i in range(count)]


# samplers and pruners ----------------------------------------------------------------------


def make_sampler(name: str, space: Space, seed: int | None = None) -> BaseSampler:
    """The Optuna sampler ``name`` (grid, random, tpe or cmaes) for ``space``, seeded.

    ``grid`` walks :attr:`Space.grid_values` (:class:`SweepGridSampler`: every combination
    once, in an order the seed shuffles, each new trial the first combination no trial has
    taken; refused, with a :class:`SpaceError` saying why, for a space that is not finite or
    has more than :data:`MAX_GRID_SIZE` combinations); ``tpe`` runs with the constant liar, since trials run in parallel processes and
    without it TPE proposes near-identical parameters for trials that are running together;
    ``cmaes`` needs the ``cmaes`` package and a numeric parameter, and samples choices and
    lists at random (CMA-ES searches numbers only).
    """
    kind = _pick(name, SAMPLERS, "sampler")
    if kind == "grid":
        return SweepGridSampler(space.grid_values, seed=seed)
    if kind == "random":
        return RandomSampler(seed=seed)
    if kind == "tpe":
        return TPESampler(seed=seed, constant_liar=True)
    try:
        import cmaes  # noqa: F401  (CmaEsSampler imports it only when it first samples)
    except ImportError:
        raise ImportError(
            "the cmaes sampler needs the cmaes package: pip install cmaes "
            "(or pip install 'jupyter_mltrack[sweeps]')"
        ) from None
    from optuna.samplers import CmaEsSampler

    numeric = [
        n
        for n, d in space.distributions.items()
        if isinstance(d, (IntDistribution, FloatDistribution)) and not d.single()
    ]
    if not numeric:
        raise SpaceError(
            "",
            "the cmaes sampler searches numbers, and this space has none (only choices and "
            "lists): use tpe or random",
        )
    # choices are sampled at random by design (documented above): no warning per trial
    return CmaEsSampler(seed=seed, warn_independent_sampling=False)


class SweepGridSampler(GridSampler):
    """Optuna's GridSampler, fit for an ask/tell driver that rebuilds its study from runs.

    - Optuna's calls ``study.stop()`` after the trial that completes the grid, and
      ``study.stop()`` raises RuntimeError outside ``study.optimize`` (from inside
      ``study.tell``, after the trial is stored); here it does not: a driver stops asking
      after :meth:`Space.size` trials, or when :meth:`is_exhausted` says so.
    - Optuna's gives trial number ``n`` the ``n``-th combination (of an order its seed
      shuffles) without looking at the trials already there, which is right only in a study
      that has run from the start with the same seed; here every new trial takes the first
      combination no trial has finished or is running, so a resumed sweep (its trials
      rebuilt in any order, with gaps where trials crashed) never repeats one.
    - It knows which combinations were tried from each trial's ``grid_id`` system attr, which
      a trial rebuilt with ``study.add_trial`` lacks: :meth:`system_attrs_for` gives the attrs
      to rebuild it with, and a trial enqueued with a combination's params
      (``study.enqueue_trial``) is marked with it.
    """

    _ids: dict[tuple[tuple[bool, Any], ...], int] | None = None

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        """Nothing: the grid's end is the driver's to see (the class docstring says why)."""

    def before_trial(self, study: Any, trial: Any) -> None:
        if "grid_id" in trial.system_attrs:
            return  # a rebuilt trial
        fixed = trial.system_attrs.get("fixed_params")
        if fixed is not None:  # enqueued with its params (a crashed trial run again): it
            # marks its combination tried, so no later trial takes it too
            for key, value in self.system_attrs_for(fixed).items():
                study._storage.set_trial_system_attr(trial._trial_id, key, value)
            return
        left = self._get_unvisited_grid_ids(study)
        if not left:  # every combination tried: Optuna's (warns, and repeats one)
            super().before_trial(study, trial)
            return
        study._storage.set_trial_system_attr(trial._trial_id, "search_space", self._search_space)
        study._storage.set_trial_system_attr(trial._trial_id, "grid_id", min(left))

    def system_attrs_for(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The system attrs of a trial with ``params`` rebuilt for this sampler's study
        (``optuna.trial.create_trial(..., system_attrs=...)``); empty when ``params`` are no
        combination of this grid (that trial then counts for nothing)."""
        # GridSampler's own bookkeeping (_all_grids, _param_names, _search_space, the attrs
        # it reads): test_sweep_space's resume test fails if a new Optuna changes it
        try:
            key = _grid_key(params[n] for n in self._param_names)
        except KeyError:
            return {}
        if self._ids is None:
            self._ids = {_grid_key(grid): i for i, grid in enumerate(self._all_grids)}
        grid_id = self._ids.get(key)
        if grid_id is None:
            return {}
        return {"grid_id": grid_id, "search_space": self._search_space}


def _grid_key(values: Any) -> tuple[tuple[bool, Any], ...]:
    # 2 and 2.0 are one value (a store may give back either), True and 1 are not
    return tuple((isinstance(v, bool), v) for v in values)


def make_pruner(name: str | None) -> BasePruner:
    """The Optuna pruner ``name``: ``None``/``none`` (never prune), ``median``, ``halving``
    (successive halving) or ``hyperband``.

    ``median`` stops a trial whose best value so far is worse than the median of the other
    trials' values at the same step. It waits for 5 finished trials (``n_startup_trials``):
    a median of fewer is noise, and pruning on it stops good trials. It does not wait for a
    warm-up within a trial (``n_warmup_steps=0``): the steps are whatever the pipeline logs
    (epochs, boosting rounds, folds) and a trial is compared only with others at the same
    step, so no number of steps is right for every pipeline; Optuna's defaults, kept so.
    """
    kind = _pick("none" if name is None else name, PRUNERS, "pruner")
    if kind == "none":
        return NopPruner()
    if kind == "median":
        return MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if kind == "halving":
        return SuccessiveHalvingPruner()
    return HyperbandPruner()


def _pick(name: str, known: Sequence[str], what: str) -> str:
    kind = str(name).strip().lower()
    if kind in known:
        return kind
    close = difflib.get_close_matches(kind, list(known), n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    raise SpaceError("", f"unknown {what} {name!r}: {guess}the {what}s are {', '.join(known)}")
