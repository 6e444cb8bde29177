"""``mltrack artifacts list RUN`` and ``mltrack artifacts get RUN NAME``: what a run logged
(files, folders, texts, dicts, figures, models) and writing it back out.

A group of its own rather than ``runs artifacts``: getting an artifact back is a second
action on the same thing, and ``artifacts get 3 model`` reads as what it does. Files are
written by :func:`..models.artifacts.materialize` (copies, never links into the blob store,
which a user's editor or script could then change) into a temporary name beside the
destination, moved into place only once complete.

An artifact is written under its name, folders included: ``notes/hello.txt`` becomes
``./notes/hello.txt``, as ``mlflow artifacts download`` keeps an artifact's path, so two
artifacts of one name in different folders do not land on one file. Folders made on the
way, and the folder a folder artifact is staged in, get the mode ``mkdir`` gives (the
umask's), not ``tempfile.mkdtemp``'s 0700.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import posixpath
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from ..models.steps import Series, grouped
from ..safepaths import PathRefused, check_target, new_folder
from ..store import Store
from ..store.entities import Artifact, ModelVersion
from ..store.errors import ArtifactNotFound
from .common import (
    CliError,
    _bytes,
    _cut,
    _destination,
    _names_folder,
    _one_line,
    _Parser,
    _plural,
    _print_json,
    _publish,
    _run_id,
    _run_label,
    _version_label,
    _when,
    table,
)

#: Suffix of the temporary names files are staged under beside the destination.
_TMP = ".mltrack-tmp"

GET_HELP = """\
Write an artifact of RUN back to files.

A one-file artifact (a file, text or dict) is written as that file; a folder, figure or
model as a folder holding its files under their paths. It is written under the artifact's
name, its folders included, in the current folder (notes/hello.txt writes
./notes/hello.txt, making notes/ if missing), as mlflow artifacts download keeps an
artifact's path. -o names the file or folder to write instead, or an existing folder to
write it into (under its name there). --path writes just that file of the artifact, under
the file's own name. Nothing existing is overwritten unless --force is given (a folder is
then replaced as a whole)."""


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    group = commands.add_parser(
        "artifacts",
        help="list a run's artifacts, or write one back to files",
        parents=[store_opt],
    )
    sub = group.add_subparsers(dest="artifacts_command", metavar="ACTION", parser_class=_Parser)
    sub.required = True

    listing = sub.add_parser(
        "list",
        help="a run's artifacts: kind, files, size, and the model versions registered",
        parents=[store_opt, json_opt],
    )
    listing.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run number")
    listing.add_argument(
        "--experiment", "-e", metavar="E", help="experiment a run number refers to"
    )
    listing.add_argument(
        "--files", action="store_true", help="also list every file (path, size, digest)"
    )
    listing.add_argument(
        "--steps",
        action="store_true",
        help="list each step of a series of images (log_image(..., step=)), not one line a series",
    )
    listing.set_defaults(func=cmd_artifacts_list)

    get = sub.add_parser(
        "get",
        help="write an artifact (or one file of it) to disk",
        description=GET_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[store_opt],
    )
    get.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run number")
    get.add_argument("name", metavar="NAME", help="the artifact's name (artifacts list shows them)")
    get.add_argument("--experiment", "-e", metavar="E", help="experiment a run number refers to")
    get.add_argument("--path", "-p", metavar="P", help="only this file of the artifact")
    get.add_argument("--output", "-o", metavar="DEST", help="file or folder to write")
    get.add_argument("--force", action="store_true", help="replace what DEST holds")
    get.set_defaults(func=cmd_artifacts_get)


# list -----------------------------------------------------------------------------------------


def _type(artifact: Artifact) -> str:
    """A model's format (``skops``), else the media type of its primary file."""
    if artifact.kind == "model":
        return str(artifact.meta.get("format") or "-")
    return artifact.media_type or "-"


def _row(a: Artifact | Series, registered: dict[str, list[str]]) -> list[str]:
    if isinstance(a, Series):
        last = a.members[-1]
        return [
            _cut(a.name),
            f"{last.kind} series",
            str(sum(m.file_count for m in a.members)),
            _bytes(sum(m.size for m in a.members)),
            _cut(_type(last), 32),
            _when(last.created_at),
            "-",
        ]
    return [
        _cut(a.name),
        a.kind,
        str(a.file_count),
        _bytes(a.size),
        _cut(_type(a), 32),
        _when(a.created_at),
        _cut(", ".join(registered.get(a.name, [])) or "-", 48),
    ]


def artifacts_table(
    artifacts: Sequence[Artifact | Series], versions: Sequence[ModelVersion]
) -> str:
    registered: dict[str, list[str]] = {}
    for v in versions:
        registered.setdefault(v.artifact, []).append(_version_label(v))
    rows = [_row(a, registered) for a in artifacts]
    headers = ["NAME", "KIND", "FILES", "SIZE", "TYPE", "LOGGED", "REGISTERED AS"]
    return table(headers, rows, right=frozenset({2, 3}))


def files_table(artifacts: Sequence[Artifact]) -> str:
    rows = [
        [_cut(a.name), _cut(f.path, 60), _bytes(f.size), f.digest.rpartition(":")[2][:12]]
        for a in artifacts
        for f in a.files
    ]
    return table(["ARTIFACT", "PATH", "SIZE", "DIGEST"], rows, right=frozenset({2}))


def cmd_artifacts_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    run_id = _run_id(store, args.run, args.experiment)
    if args.json:
        from ..server.models import list_artifacts

        _print_json(list_artifacts(store, run_id), out)
        return 0
    artifacts = store.list_artifacts(run_id, files=args.files)
    versions = store.versions_of_runs([run_id]).get(run_id, [])
    where = _run_label(store, run_id)
    if not artifacts:
        out.write(f"{where} logged no artifacts\n")
        return 0
    out.write(f"{where}: {_plural(len(artifacts), 'artifact')}\n")
    listed = list(artifacts) if args.steps or args.files else grouped(artifacts)
    out.write(artifacts_table(listed, versions) + "\n")
    series = [s for s in listed if isinstance(s, Series)]
    for s in series:
        first, last = s.steps[0], s.steps[-1]
        out.write(
            f"{s.name}: {_plural(len(s.steps), 'step')} ({first}-{last}); one of them: "
            f"mltrack artifacts get {args.run} {s.members[-1].name}\n"
        )
    if series:
        out.write("--steps lists every step\n")
    if args.files:
        out.write("\n" + files_table(artifacts) + "\n")
    return 0


# get ------------------------------------------------------------------------------------------


def cmd_artifacts_get(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..models.artifacts import materialize, open_file

    run_id = _run_id(store, args.run, args.experiment)
    try:
        artifact = store.get_artifact(run_id, args.name)
    except ArtifactNotFound:
        series = next(
            (s for s in grouped(store.list_artifacts(run_id)) if isinstance(s, Series)
             and s.name == args.name),
            None,
        )  # fmt: skip
        if series is None or args.path is not None:
            raise
        return _get_series(store, series, args, out)
    of = f"artifact {artifact.name!r} of {_run_label(store, run_id)}"
    if args.path is not None:
        try:
            f = artifact.file(args.path)
        except KeyError:
            paths = ", ".join(x.path for x in artifact.files[:20])
            more = ", …" if len(artifact.files) > 20 else ""
            raise CliError(f"{of} has no file {args.path!r} (its files: {paths}{more})") from None
        dest = _destination(args.output, posixpath.basename(f.path))

        def copy(tmp: Path) -> None:
            with open_file(store, artifact, f.path) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)

        _publish(dest, copy, args.force)
        out.write(f"wrote {dest} ({_bytes(f.size)}): {f.path} of {of}\n")
        return 0

    def fill(staging: Path) -> Path:
        return materialize(store, artifact, staging, link=False)

    dest, one_file = _write_staged(args.output, artifact.name, args.force, fill)
    if one_file:
        out.write(f"wrote {dest} ({_bytes(artifact.size)}): {of}\n")
        return 0
    files = _plural(artifact.file_count, "file")
    out.write(f"wrote {dest}{os.sep} ({files}, {_bytes(artifact.size)}): {of}\n")
    return 0


def _write_staged(
    output: str | None, name: str, force: bool, fill: Callable[[Path], Path]
) -> tuple[Path, bool]:
    """Write what ``fill(staging)`` writes into a staging folder next to where artifact
    ``name`` goes (``output``, else its name here), then move it there whole: a file when
    ``fill`` returns one (a one-file artifact), else the folder. ``(where, a file?)``;
    nothing is left behind by a failure, not even the folders made for it."""
    base, dest = _artifact_destination(output, name)
    try:
        check_target(dest.parent, dest.name)
    except PathRefused as exc:
        raise CliError(str(exc)) from None
    if (dest.exists() or dest.is_symlink()) and not force:
        raise CliError(f"{dest} already exists (pass --force to replace it)")
    made: list[Path] = []
    staging: Path | None = None
    done = False
    try:
        if base is not None:
            made = _make_folders(base, dest.parent)
        staging = new_folder(dest.parent, f".{dest.name}.", _TMP)
        written = fill(staging)
        if written != staging:  # a one-file artifact: the file itself
            _publish(dest, lambda tmp: os.replace(written, tmp), force)
        else:
            _put_folder(staging, dest, force)
        done = True
        return dest, written != staging
    except OSError as exc:
        raise CliError(f"cannot write {dest}: {exc.strerror or _one_line(exc)}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if not done:  # the folders made for it go too (once empty: nothing else is lost)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _get_series(store: Store, series: Series, args: argparse.Namespace, out: TextIO) -> int:
    """A series of images (``artifacts get RUN pred``): a folder of its steps' files
    (``pred/step_000000.png`` …), written as a folder artifact is."""
    from ..models.artifacts import materialize

    def fill(staging: Path) -> Path:
        for member in series.members:
            materialize(store, member, staging, link=False)
        return staging

    dest, _ = _write_staged(args.output, series.name, args.force, fill)
    files = _plural(sum(m.file_count for m in series.members), "file")
    size = _bytes(sum(m.size for m in series.members))
    steps = _plural(len(series.members), "step")
    of = f"series {series.name!r} of {_run_label(store, series.members[0].run_id)}"
    out.write(f"wrote {dest}{os.sep} ({files}, {size}): {of}, {steps}\n")
    return 0


def _artifact_destination(output: str | None, name: str) -> tuple[Path | None, Path]:
    """``(base, dest)``: where ``artifacts get`` writes the artifact ``name``. ``-o``
    naming a new file or folder is ``dest`` itself (``base`` None: nothing to make);
    else ``dest`` is ``name``'s path, folders included, under ``base``, ``-o``'s existing
    folder or the current one. A folder on the way that exists as a link out of ``base``
    is refused, as :func:`..safepaths.check_target` refuses the last name."""
    if output is not None and not _names_folder(output):
        return None, _destination(output, posixpath.basename(name))
    base = Path(output) if output is not None else Path()
    if not base.is_dir():
        raise CliError(f"no such folder: {base}")
    *folders, leaf = name.split("/")  # an artifact name has no '..' nor empty parts
    here = base
    for part in folders:
        try:
            check_target(here, part, within=base)
        except PathRefused as exc:
            raise CliError(str(exc)) from None
        here = here / part
    return base, here / leaf


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
                raise CliError(f"cannot write under {here}: it is a file, not a folder") from None
            continue
        made.append(here)
    return made


def _put_folder(staging: Path, dest: Path, force: bool) -> None:
    """Move the complete folder ``staging`` to ``dest``; with ``force`` what ``dest`` held
    (a file, a link or a folder) is moved aside first and deleted once the new one is in."""
    aside: Path | None = None
    if force and (dest.exists() or dest.is_symlink()):
        aside = new_folder(dest.parent, f".{dest.name}.old.", _TMP)
        os.rename(dest, aside / "previous")
    try:
        os.rename(staging, dest)  # fails if a folder with files appeared there meanwhile
    except OSError:
        if aside is not None:  # put back what was there
            with contextlib.suppress(OSError):
                os.rename(aside / "previous", dest)
            shutil.rmtree(aside, ignore_errors=True)
        if dest.exists():
            raise CliError(f"{dest} already exists (pass --force to replace it)") from None
        raise
    if aside is not None:  # rmtree removes a link it holds, never what the link points at
        shutil.rmtree(aside, ignore_errors=True)
