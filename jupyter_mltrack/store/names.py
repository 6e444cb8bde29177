"""What a name (experiment, run, param, metric, tag) may be: the same rule on every backend.

Names are indexed, compared and shown as plain text. PostgreSQL refuses text holding a NUL
character and columns are ``VARCHAR(256)``; SQLite takes both; neither can encode a lone
surrogate (what decoding bad bytes with ``surrogateescape`` leaves). Escaping would make two
names one (or one name two spellings), so such a name is refused, on SQLite too: a store
that later moves to PostgreSQL holds nothing PostgreSQL cannot. Anything else is kept as
typed — ``/``, ``..``, quotes, emoji: values are always bound as parameters, never spliced
into SQL, and no name becomes a path.
"""

from __future__ import annotations

import re

from .errors import StoreError

#: Longest name kept, in characters (the columns are ``VARCHAR(256)``).
MAX_NAME = 256

#: A name a reference spells as it is: a part of a dataset's name, a dataset's tag, a
#: registered model, an alias. ASCII letters, digits and ``-_.``, starting with a letter or
#: digit: nothing to escape in a URL path or quote in a shell, never ``..`` (a step up in a
#: URL path) nor read as an option (``-x``).
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InvalidName(StoreError, ValueError):
    """A name (or tag value) the store cannot keep as it is; the message says which, why."""


def _encoding_problem(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be stored, or ``None`` when it can."""
    if len(name) > MAX_NAME:
        return f"a name is at most {MAX_NAME} characters, this one has {len(name):,}"
    if "\x00" in name:
        return "a name cannot contain NUL characters"
    if _encoding_problem(name):
        return "a name must be valid Unicode (it holds a lone surrogate)"
    return None


def text_problem(value: str) -> str | None:
    """Why a tag value (plain text, any length) cannot be stored, or ``None``."""
    if "\x00" in value:
        return "its value cannot contain NUL characters"
    if _encoding_problem(value):
        return "its value must be valid Unicode (it holds a lone surrogate)"
    return None


def shown(name: str) -> str:
    """``name`` as a message quotes it: its ``repr``, cut when long."""
    if len(name) <= 60:
        return repr(name)
    return f"{name[:20]!r}… ({len(name):,} characters)"


def check_name(kind: str, name: str) -> str:
    """``name``, or :class:`InvalidName` saying which ``kind`` of name and why."""
    problem = name_problem(name)
    if problem is not None:
        raise InvalidName(f"{kind} {shown(name)}: {problem}")
    return name


#: Tags named so are the tracker's own (a sweep's ``mltrack.sweep``, ``mltrack.trial`` and
#: ``mltrack.attempt``, a pulled run's ``mltrack.origin``): what resuming a sweep, fencing its
#: attempts and pushing again rely on. A user's edit of a run's tags leaves them as they are.
TRACKER_TAG_PREFIX = "mltrack."


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` (text keys and values, checked), or :class:`InvalidName`."""
    for key, value in tags.items():
        check_name("tag", key)
        problem = text_problem(value)
        if problem is not None:
            raise InvalidName(f"tag {shown(key)}: {problem}")
    return tags


def free_text(text: str) -> str:
    """Text no one looks up by (a cell's code, a note) with what no database text column
    holds — NUL and lone surrogates — replaced by U+FFFD, as ``errors="replace"`` would."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if _encoding_problem(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
