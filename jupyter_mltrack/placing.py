"""Putting written files into place: whole, under the name asked for, never over what is
there unless asked.

``mltrack artifacts get``, ``mltrack datasets get``, the HTML reports and
``mltrack.download_artifact`` all write something a user will open: a half-written file
left by a failure (a full disk, a Ctrl-C, a blob gone missing) looks like a good one, and a
file the user had at that name is theirs. So a file is written under a temporary name beside
its destination and moved into place once complete (:func:`publish`); a folder is filled in
a staging folder beside it and renamed whole (:func:`write_staged`). Without ``force``,
nothing existing is replaced, even if it appeared while the write ran (a hard link, unlike a
rename, fails if the name exists).

Every refusal and failure is a :class:`WriteError` whose message is complete, including the
option that would allow it: ``option`` names it as the caller's user spells it
(``--force`` in a terminal, ``force=True`` in Python). Links are handled by
:mod:`.safepaths`: nothing is written through a link out of the folder asked for.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .safepaths import PathRefused, check_target, new_file, new_folder

#: Suffix of the temporary names files are staged under beside their destination.
TMP_SUFFIX = ".mltrack-tmp"


class WriteError(Exception):
    """A destination that cannot or may not be written; the message says why and what to
    do (including the ``option`` that overwrites)."""


def _exists(dest: Path, option: str, verb: str = "overwrite") -> WriteError:
    return WriteError(f"{dest} already exists (pass {option} to {verb} it)")


def _failed(dest: Path, exc: OSError) -> WriteError:
    reason = exc.strerror or " ".join(str(exc).split())
    return WriteError(f"cannot write {dest}: {reason}")


def names_folder(output: str | os.PathLike[str]) -> bool:
    """``output`` naming a folder: an existing one, or any path written with a trailing
    slash (``-o out/`` asks for a folder even before it exists)."""
    text = os.fspath(output)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def destination(output: str | os.PathLike[str] | None, default: str) -> Path:
    """Where a file goes: ``output`` itself (a file name, or for a folder artifact the folder
    itself), or ``default`` inside ``output`` when it names an existing folder, or
    ``default`` here when ``output`` is ``None``."""
    if output is None:
        return Path(default)
    path = Path(output)
    if names_folder(output):
        if not path.is_dir():
            raise WriteError(f"no such folder: {path}")
        return path / default
    if not path.parent.is_dir():
        raise WriteError(f"no such folder: {path.parent}")
    return path


def publish(dest: Path, write: Callable[[Path], Any], force: bool, option: str) -> None:
    """Have ``write(tmp)`` fill a new file beside ``dest``, then move it into place: a failed
    or interrupted write never leaves a partial file, and (without ``force``) a file that
    appeared meanwhile is still not overwritten. A link at ``dest`` to outside its folder is
    refused, not written through."""
    try:
        check_target(dest.parent, dest.name)
    except PathRefused as exc:
        raise WriteError(str(exc)) from None
    if dest.exists() and not force:
        raise _exists(dest, option)
    tmp: Path | None = None
    try:
        # created exclusively under a random name: a link planted beside dest is never
        # written through (writers open the path they are given)
        tmp = new_file(dest.parent, f".{dest.name}.", TMP_SUFFIX)
        write(tmp)
        if force:
            os.replace(tmp, dest)
            return
        try:
            os.link(tmp, dest)
        except FileExistsError:
            raise _exists(dest, option) from None
        except OSError:  # a filesystem without hard links
            if dest.exists():
                raise _exists(dest, option) from None
            os.replace(tmp, dest)
    except OSError as exc:
        raise _failed(dest, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def named_destination(output: str | os.PathLike[str] | None, name: str) -> tuple[Path | None, Path]:
    """``(base, dest)``: where something named ``name`` (an artifact's name, folders
    included: ``notes/hello.txt``) is written. ``output`` naming a new file or folder is
    ``dest`` itself (``base`` None: nothing to make); else ``dest`` is ``name``'s path,
    folders included, under ``base``, ``output``'s existing folder or the current one. A
    folder on the way that exists as a link out of ``base`` is refused, as
    :func:`.safepaths.check_target` refuses the last name."""
    if output is not None and not names_folder(output):
        return None, destination(output, posixpath.basename(name))
    base = Path(output) if output is not None else Path()
    if not base.is_dir():
        raise WriteError(f"no such folder: {base}")
    *folders, _ = name.split("/")  # an artifact name has no '..' nor empty parts
    here = base
    for part in folders:
        try:
            check_target(here, part, within=base)
        except PathRefused as exc:
            raise WriteError(str(exc)) from None
        here = here / part
    return base, here / posixpath.basename(name)


def write_staged(
    output: str | os.PathLike[str] | None,
    name: str,
    force: bool,
    fill: Callable[[Path], Path],
    option: str,
) -> tuple[Path, bool]:
    """Write what ``fill(staging)`` writes into a staging folder next to where ``name``
    goes (:func:`named_destination`), then move it there whole: a file when ``fill`` returns
    one, else the folder. ``(where, a file?)``; nothing is left behind by a failure, not
    even the folders made for it. Folders made get ``mkdir``'s mode (the umask's), not
    ``tempfile.mkdtemp``'s 0700."""
    base, dest = named_destination(output, name)
    try:
        check_target(dest.parent, dest.name)
    except PathRefused as exc:
        raise WriteError(str(exc)) from None
    if (dest.exists() or dest.is_symlink()) and not force:
        raise _exists(dest, option, "replace")
    made: list[Path] = []
    staging: Path | None = None
    done = False
    try:
        if base is not None:
            made = _make_folders(base, dest.parent)
        staging = new_folder(dest.parent, f".{dest.name}.", TMP_SUFFIX)
        written = fill(staging)
        if written != staging:  # a one-file artifact: the file itself
            publish(dest, lambda tmp: os.replace(written, tmp), force, option)
        else:
            _put_folder(staging, dest, force, option)
        done = True
        return dest, written != staging
    except OSError as exc:
        raise _failed(dest, exc) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not done:  # the folders made for it go too (once empty: nothing else is lost)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _make_folders(base: Path, folder: Path) -> list[Path]:
    """Make the folders from ``base`` down to ``folder`` that are missing, with ``mkdir``'s
    mode (the umask's); the ones made, outermost first."""
    made: list[Path] = []
    here = base
    for part in folder.relative_to(base).parts:
        here = here / part
        try:
            os.mkdir(here)
        except FileExistsError:
            if not here.is_dir():
                raise WriteError(f"cannot write under {here}: it is a file, not a folder") from None
            continue
        made.append(here)
    return made


def _put_folder(staging: Path, dest: Path, force: bool, option: str) -> None:
    """Move the complete folder ``staging`` to ``dest``; with ``force`` what ``dest`` held
    (a file, a link or a folder) is moved aside first and deleted once the new one is in."""
    aside: Path | None = None
    if force and (dest.exists() or dest.is_symlink()):
        aside = new_folder(dest.parent, f".{dest.name}.old.", TMP_SUFFIX)
        os.rename(dest, aside / "previous")
    try:
        os.rename(staging, dest)  # fails if a folder with files appeared there meanwhile
    except OSError:
        if aside is not None:  # put back what was there
            with contextlib.suppress(OSError):
                os.rename(aside / "previous", dest)
            shutil.rmtree(aside, ignore_errors=True)
        if dest.exists():
            raise _exists(dest, option, "replace") from None
        raise
    if aside is not None:  # rmtree removes a link it holds, never what the link points at
        shutil.rmtree(aside, ignore_errors=True)
