"""The one error a query can raise, wherever it is typed (filter box, ``--filter``,
``?filter=``, ``search_runs``).

A syntax error, an unknown field, a reducer that does not exist and a value of the wrong
kind (``started > "yesterday-ish"``) are all the same thing to the person typing: the query
is wrong *here*. So they share one class, which keeps the position, and the sidebar, the
CLI and the REST API show the same message and caret.
"""

from __future__ import annotations

from typing import Any

from ..store.errors import InvalidQuery


class QuerySyntaxError(InvalidQuery):
    """A query that cannot be run, with what was expected in words and where.

    ``position`` is 0-based (a Python index into ``text``), ``column`` 1-based (what a person
    counts). ``str()`` gives the message, the column, the query and a caret under the spot,
    ready for a terminal; ``to_dict()`` the parts the REST API answers with.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        super().__init__(message)

    @property
    def column(self) -> int:
        return self.position + 1

    def __str__(self) -> str:
        # one character per character, so the caret lands under the spot in a terminal
        shown = "".join(" " if ch in "\t\r\n\f\v" else ch for ch in self.text)
        return f"{self.message} at column {self.column}\n{shown}\n{' ' * self.position}^"

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (a worker process may raise it)
        return (type(self), (self.message, self.text, self.position))

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "column": self.column, "position": self.position}
