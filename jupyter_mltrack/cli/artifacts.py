"""``mltrack artifacts list RUN`` and ``mltrack artifacts get RUN NAME``: what a run logged
(files, folders, texts, dicts, figures, models) and writing it back out.

A group of its own rather than ``runs artifacts``: getting an artifact back is a second
action on the same thing, and ``artifacts get 3 model`` reads as what it does. What a name
means and how files are written is :mod:`..models.readback`'s (``mltrack.download_artifact``
does the same from Python): copies, never links into the blob store, which a user's editor
or script could then change, staged beside the destination and moved into place only once
complete (:mod:`..placing`); an artifact is written under its name, folders included
(``notes/hello.txt`` becomes ``./notes/hello.txt``, as ``mlflow artifacts download`` keeps
an artifact's path, so two artifacts of one name in different folders do not land on one
file).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from typing import TextIO

from ..models.steps import Series, grouped
from ..store import Store
from ..store.entities import Artifact, ModelVersion
from .common import (
    CliError,
    _bytes,
    _cut,
    _Parser,
    _plural,
    _print_json,
    _run_id,
    _run_label,
    _version_label,
    _when,
    table,
)

GET_HELP = """\
Write an artifact of RUN back to files.

A one-file artifact (a file, text or dict) is written as that file (with its file's
extension when its name has none: an image logged as digit is digit.png); a folder, figure
or model as a folder holding its files under their paths. It is written under the artifact's
name, its folders included, in the current folder (notes/hello.txt writes
./notes/hello.txt, making notes/ if missing), as mlflow artifacts download keeps an
artifact's path. -o names the file or folder to write instead, or an existing folder to
write it into (under its name there). --path writes just that file of the artifact, under
the file's own name; a file of a folder artifact can also be named in NAME itself
(reports/summary.txt). A series of images (log_image(..., step=)) is written as a folder of
its steps; --step writes one. Nothing existing is overwritten unless --force is given (a
folder is then replaced as a whole)."""


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
    get.add_argument(
        "--step", type=int, metavar="N", help="only this step of a series of images or figures"
    )
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
    from ..models.artifacts import ArtifactError
    from ..models.readback import download, find_in_run

    run_id = _run_id(store, args.run, args.experiment)
    try:
        found = find_in_run(store, run_id, args.name, ref=args.name, path=args.path, step=args.step)
    except ArtifactError as exc:  # its options as a terminal spells them: path= is --path
        raise CliError(re.sub(r"\b(path|step)= ?", r"--\1 ", str(exc))) from None
    dest, one_file = download(store, found, args.output, force=args.force, option="--force")
    if found.series is not None:
        members = found.series.members
        files = _plural(sum(m.file_count for m in members), "file")
        size = _bytes(sum(m.size for m in members))
        steps = _plural(len(members), "step")
        of = f"series {found.series.name!r} of {_run_label(store, run_id)}"
        out.write(f"wrote {dest}{os.sep} ({files}, {size}): {of}, {steps}\n")
        return 0
    artifact = found.one()
    of = f"artifact {artifact.name!r} of {_run_label(store, run_id)}"
    if found.path is not None:
        size = _bytes(artifact.file(found.path).size)
        out.write(f"wrote {dest} ({size}): {found.path} of {of}\n")
    elif one_file:
        out.write(f"wrote {dest} ({_bytes(artifact.size)}): {of}\n")
    else:
        files = _plural(artifact.file_count, "file")
        out.write(f"wrote {dest}{os.sep} ({files}, {_bytes(artifact.size)}): {of}\n")
    return 0
