"""Writing files only where the user said: inside a folder, never through a link out of it.

The CLI and the REST API write files into a folder someone named (``mltrack export -o DIR``,
the notebook's folder under the server root, ``snapshots restore -o``). A name in that folder
may already be a symbolic link — planted, or left by a tool — to a file elsewhere; writing
to it with ``open(path, "w")`` would follow the link and change that file. So:

- :func:`check_target` refuses a name that is not a plain file name (``..``, separators) and
  an existing link at ``folder/name`` whose target resolves outside ``within`` (the folder
  itself, or the server root), naming both, so the user learns why;
- :func:`write_atomically` never opens the destination: it writes a new temporary file
  beside it (created exclusively, so no link planted under a guessed name is followed) and
  renames it over ``path``, which replaces a link rather than writing through it, and
  leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path


class PathRefused(Exception):
    """A write the caller asked for would land outside the folder it must stay in;
    ``path`` is where it was asked to go."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def _shown(path: Path) -> str:
    return os.fspath(path)


def check_target(folder: Path, name: str, within: Path | None = None) -> Path:
    """``folder / name``, refused (:class:`PathRefused`) when ``name`` is not a plain file
    name or when it exists and resolves outside ``within`` (default: ``folder``)."""
    if not name or name in (".", "..") or "/" in name or os.sep in name or "\x00" in name:
        raise PathRefused(
            f"{name!r} is not a plain file name: nothing is written outside {folder}", folder
        )
    path = folder / name
    inside = (within or folder).resolve()
    if path.is_symlink() or path.exists():
        target = path.resolve()
        if not target.is_relative_to(inside):
            raise PathRefused(
                f"{_shown(path)} is a link to {_shown(target)}, outside {_shown(inside)}: "
                "refusing to write through it (remove the link, or choose another folder)",
                path,
            )
    return path


def check_targets(folder: Path, names: Iterable[str], within: Path | None = None) -> list[Path]:
    """:func:`check_target` for each name, all checked before anything is written."""
    return [check_target(folder, name, within) for name in names]


def check_folder(folder: Path, within: Path) -> None:
    """Refuse a folder that resolves outside ``within`` (a link out of the server root)."""
    resolved = folder.resolve()
    if not resolved.is_relative_to(within.resolve()):
        raise PathRefused(
            f"{_shown(folder)} resolves to {_shown(resolved)}, outside {_shown(within)}", folder
        )


def new_file(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty file in ``folder`` under a random name, created exclusively (an existing
    file or link of that name is never opened) with the mode a plain ``open`` would give
    (``tempfile.mkstemp``'s 0600 would carry over to the file it is renamed onto)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            fd = os.open(path, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary name in {folder}")  # pragma: no cover


def new_folder(folder: Path, prefix: str, suffix: str) -> Path:
    """A new empty folder in ``folder`` under a random name, created exclusively, with the
    mode a plain ``mkdir`` gives (the umask's): ``tempfile.mkdtemp``'s 0700 would carry over
    to the folder it is renamed to, which other users could then not read."""
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            os.mkdir(path, 0o777)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name in {folder}")  # pragma: no cover


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Have ``write(tmp)`` fill a new temporary file beside ``path``, then rename it onto
    ``path`` (replacing a link there, never following it)."""
    tmp = new_file(path.parent, f".{path.name}.", ".mltrack-tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
