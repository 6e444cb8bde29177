"""``mltrack datasets``: named, versioned datasets from a terminal.

::

    mltrack datasets list                        datasets, their latest version and tags
    mltrack datasets versions NAME               its versions, newest first, and the runs
    mltrack datasets show REF                    a version: record, meta, schema, runs
    mltrack datasets push PATH NAME              a file (or, --table, its rows) as a version
    mltrack datasets get REF [-o PATH]           write a version to a file
    mltrack datasets tag REF TAG                 point (or move) a tag; --delete removes it
    mltrack datasets diff A B                    what changed between two versions

REF is ``NAME``, ``NAME@TAG``, ``NAME@latest`` or ``NAME@HASH`` (a unique prefix of 6+ hex
digits). The rules (names, tags, hashes) are the store's (:mod:`..store.dataset_records`)
and the work is :mod:`..datasets.api`'s: this module reads arguments and prints, so the CLI
and ``mltrack.datasets`` always agree. ``--json`` prints the entities' ``to_dict()``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from ..placing import destination as _destination
from ..store import Store
from ..store.entities import DatasetVersion
from .common import (
    CliError,
    _bytes,
    _cut,
    _one_line,
    _Parser,
    _print_json,
    _publish,
    _when,
    table,
)
from .snapshots import (
    RESTORE_FORMATS,
    _data_modules,
    _restore_format,
    _safe_file_name,
    _snapshotter,
    _write_data,
    add_sample_argument,
    check_sample,
    diff_report,
)

REF_HELP = "NAME, NAME@TAG, NAME@latest or NAME@HASH (a unique prefix of 6+ hex digits)"
#: Files ``push --table`` reads into a DataFrame, by extension.
TABLE_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".feather": "feather"}
PUSH_HELP = """\
Push a file or a folder as the next version of dataset NAME (e.g. team/churn), created if
new.

By default the file is stored byte for byte (any file: CSV, parquet, images, a model); a
folder as its files, each byte for byte, named by their relative paths (a folder's version
is the same wherever its files are the same: their times and the folder's name do not
count; only the files the store lacks are copied).
With --table a .csv, .parquet or .feather file is read into a DataFrame (pandas) and its
rows and columns are stored instead: versions then diff column by column and preview row by
row, and `mltrack datasets get` writes them in any format. A version is named by the hash of
its content and meta: pushing the same again adds no version (it becomes the latest)."""


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    datasets = commands.add_parser(
        "datasets",
        help="named, versioned datasets: list, versions, show, push, get, tag, diff",
        description="Named datasets (team/churn) whose versions are snapshots named by the"
        " hash of their content and meta; tags such as 'gold' name a version and move."
        " mltrack.datasets.get('team/churn@gold') gets one in a notebook.",
        parents=[store_opt],
    )
    sub = datasets.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=_Parser)
    sub.required = True

    listing = sub.add_parser(
        "list", help="datasets: versions, the latest, tags", parents=[store_opt, json_opt]
    )
    listing.set_defaults(func=cmd_datasets_list)

    versions = sub.add_parser(
        "versions",
        help="a dataset's versions, newest first, with the runs that read each",
        parents=[store_opt, json_opt],
    )
    versions.add_argument("name", metavar="NAME", help="dataset name, e.g. team/churn")
    versions.set_defaults(func=cmd_datasets_versions)

    show = sub.add_parser(
        "show",
        help="a version's record, meta, schema and the runs that read it (reads no data)",
        parents=[store_opt, json_opt],
    )
    show.add_argument("ref", metavar="REF", help=REF_HELP)
    show.set_defaults(func=cmd_datasets_show)

    push = sub.add_parser(
        "push",
        help="push a file or folder (or, with --table, a file's rows) as the next version",
        description=PUSH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[store_opt, json_opt],
    )
    push.add_argument("path", metavar="PATH", help="the file or folder to push")
    push.add_argument("name", metavar="NAME", help="dataset name, e.g. team/churn")
    push.add_argument("--message", "-m", default="", metavar="TEXT", help="what this version is")
    push.add_argument(
        "--meta", metavar="JSON", help="a JSON object kept with (and hashed into) the version"
    )
    push.add_argument("--tag", "-t", metavar="TAG", help="point this tag (e.g. gold) at it")
    push.add_argument(
        "--table",
        action="store_true",
        help="read a .csv/.parquet/.feather file into a DataFrame and push its rows",
    )
    push.set_defaults(func=cmd_datasets_push)

    get = sub.add_parser(
        "get",
        help="write a version to a file or folder (a file version byte for byte)",
        description="Write the version REF names to a file and print where. A file version"
        " is written byte for byte (default: its original name); a folder version as a new"
        " folder (default: NAME-HASH in the current folder); a table or array in the"
        " format --format names, else the one PATH's extension names, else pickle (see"
        " 'mltrack snapshots restore --help' for what each format keeps).",
        parents=[store_opt],
    )
    get.add_argument("ref", metavar="REF", help=REF_HELP)
    get.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="file (or existing folder) to write; for a folder version, a new or empty folder",
    )
    get.add_argument(
        "--format",
        choices=list(RESTORE_FORMATS),
        help="tables and arrays only; default: from PATH's extension, else pickle",
    )
    get.add_argument("--force", action="store_true", help="overwrite an existing file")
    get.set_defaults(func=cmd_datasets_get)

    tag = sub.add_parser(
        "tag",
        help="point a tag (e.g. gold) at a version, moving it; or --delete it",
        description="Point TAG of the dataset REF names at the version REF names (its latest"
        " if REF is only a name), moving the tag from where it was; with --delete, remove"
        " TAG. 'latest' is not a tag: it always names the version pushed last.",
        parents=[store_opt, json_opt],
    )
    tag.add_argument("ref", metavar="REF", help=REF_HELP)
    tag.add_argument("tag", metavar="TAG", help="tag name, e.g. gold or v1")
    tag.add_argument("--delete", action="store_true", help="remove the tag")
    tag.set_defaults(func=cmd_datasets_tag)

    diff = sub.add_parser(
        "diff", help="what changed from version A to version B", parents=[store_opt, json_opt]
    )
    diff.add_argument("a", metavar="A", help=REF_HELP)
    diff.add_argument("b", metavar="B", help=REF_HELP)
    add_sample_argument(diff)
    diff.set_defaults(func=cmd_datasets_diff)


# formatting ---------------------------------------------------------------------------------


def _shape(v: DatasetVersion) -> str:
    if v.kind in ("file", "folder"):
        return "-"
    if v.rows is None:
        return "?"
    return f"{v.rows:,}x{v.columns}" if v.columns is not None else f"{v.rows:,}"


def _tags(v: DatasetVersion) -> str:
    return " ".join([*(f"@{t}" for t in v.tags), *(["(latest)"] if v.latest else [])])


def versions_table(versions: Sequence[DatasetVersion]) -> str:
    rows = [
        [
            v.short,
            _tags(v) or "-",
            v.kind,
            _shape(v),
            _bytes(v.nbytes),
            _cut(v.author or "-", 24),
            _when(v.created_at),
            str(len(v.runs)),
            _cut(v.message or "-"),
        ]
        for v in versions
    ]
    headers = ["HASH", "TAGS", "KIND", "SHAPE", "SIZE", "AUTHOR", "PUSHED", "RUNS", "MESSAGE"]
    return table(headers, rows, right=frozenset({4, 7}))


def version_line(v: DatasetVersion, verb: str) -> str:
    """``pushed team/churn@3f2a9c1b0d4e @gold (latest): dataframe 5x2, 1.2 KiB``."""
    tags = _tags(v)
    what = v.kind if v.kind in ("file", "folder") else f"{v.kind} {_shape(v)}"
    return f"{verb} {v.dataset}@{v.short}{' ' + tags if tags else ''}: {what}, {_bytes(v.nbytes)}"


def show_report(v: DatasetVersion, schema: Mapping[str, Any]) -> str:
    lines = [
        version_line(v, "version"),
        f"  hash:     {v.hash}",
        f"  snapshot: {v.snapshot_digest}",
        f"  pushed:   {_when(v.created_at)} by {v.author or '-'}",
    ]
    if v.message:
        lines.append(f"  message:  {_one_line(v.message)}")
    if v.meta:
        lines.append(f"  meta:     {json.dumps(v.meta, ensure_ascii=False, sort_keys=True)}")
    columns = schema.get("columns") or []
    if columns:
        lines += ["", "Columns:"]
        cells = [[_cut(str(c.get("name")), 32), str(c.get("dtype", "-"))] for c in columns]
        lines += ["  " + line for line in table(["NAME", "DTYPE"], cells).splitlines()]
    elif v.kind == "file" and schema.get("name"):
        lines.append(f"  file:     {schema['name']}")
    elif v.kind == "folder":
        lines.append(
            f"  files:    {schema.get('files', 0):,} (mltrack datasets show --json lists them)"
        )
    lines += ["", f"Runs that read it: {len(v.runs)}"]
    for use in v.runs:
        how = "by name" if use.dataset else "the same data"
        lines.append(f"  #{use.number} of {use.experiment} ({use.run_id[:8]}): {use.name} ({how})")
    return "\n".join(lines)


# commands -----------------------------------------------------------------------------------


def _resolve(store: Store, ref: str) -> DatasetVersion:
    from ..datasets.api import resolve_with

    return resolve_with(store, ref)


def cmd_datasets_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    found = store.list_datasets()
    if args.json:
        _print_json([d.to_dict() for d in found], out)
        return 0
    if not found:
        out.write("no datasets (mltrack datasets push PATH NAME, or mltrack.datasets.push)\n")
        return 0
    rows = []
    for d in found:
        v = d.latest
        rows.append(
            [
                d.name,
                str(d.version_count),
                v.short if v else "-",
                v.kind if v else "-",
                _shape(v) if v else "-",
                _bytes(v.nbytes) if v else "-",
                _cut(" ".join(f"@{t}" for t in d.tags) or "-"),
                _when(d.updated_at),
            ]
        )
    headers = ["NAME", "VERSIONS", "LATEST", "KIND", "SHAPE", "SIZE", "TAGS", "UPDATED"]
    out.write(table(headers, rows, right=frozenset({1, 5})) + "\n")
    return 0


def cmd_datasets_versions(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    versions = store.dataset_versions(args.name, uses=True)
    if args.json:
        _print_json([v.to_dict() for v in versions], out)
        return 0
    out.write(versions_table(versions) + "\n")
    return 0


def cmd_datasets_show(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..datasets.api import manifest_with

    browsed = manifest_with(store, args.ref)
    v = browsed.version
    uses = store.dataset_uses(v)
    if args.json:
        data = browsed.to_dict()
        data["version"]["runs"] = [u.to_dict() for u in uses]
        _print_json(data, out)
        return 0
    out.write(show_report(replace(v, runs=tuple(uses)), browsed.snapshot.schema) + "\n")
    return 0


def _meta(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        meta = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--meta is not JSON: {exc}", 2) from None
    if not isinstance(meta, dict):
        raise CliError(f"--meta must be a JSON object ({{...}}), not {type(meta).__name__}", 2)
    return meta


def _table_of(path: Path) -> Any:
    """``push --table``: the file's rows as a DataFrame."""
    kind = TABLE_READERS.get(path.suffix.lower())
    if kind is None:
        known = " ".join(sorted(TABLE_READERS))
        raise CliError(f"--table reads {known} files, not {path.name!r}", 2)
    with _data_modules():
        import pandas as pd

        try:
            if kind == "csv":
                return pd.read_csv(path)
            if kind == "parquet":
                return pd.read_parquet(path)
            return pd.read_feather(path)
        except (OSError, MemoryError):
            raise
        except Exception as exc:  # a file pandas cannot read as that format
            raise CliError(f"cannot read {path} as {kind}: {_one_line(exc)}") from None


def cmd_datasets_push(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..datasets.api import push_with
    from ..store.dataset_records import check_dataset_name, check_dataset_tag

    check_dataset_name(args.name)  # before any data is read
    if args.tag is not None:
        check_dataset_tag(args.tag)
    meta = _meta(args.meta)
    path = Path(args.path)
    if path.is_dir() and args.table:
        raise CliError(f"{args.path} is a folder: --table reads one .csv/.parquet/.feather file")
    if not path.is_file() and not path.is_dir():
        raise CliError(f"no such file or folder: {args.path}")
    obj: Any = _table_of(path) if args.table else path
    with _snapshotter(store) as sn:
        version, created = push_with(
            store, sn, obj, args.name, message=args.message, meta=meta, tag=args.tag
        )
    if args.json:
        _print_json({**version.to_dict(), "created": created}, out)
        return 0
    line = version_line(version, "pushed" if created else "unchanged:")
    if not created:
        line += " (this content and meta are that version already; no version added)"
    out.write(line + "\n")
    return 0


def cmd_datasets_get(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..datasets.api import load_with

    version = _resolve(store, args.ref)
    stem = _safe_file_name(version.dataset.replace("/", "-")) or "dataset"
    with _snapshotter(store) as sn:
        snap = sn.resolve(version.snapshot_digest)
        if snap.kind == "folder":
            if args.format:
                raise CliError(
                    "a folder version is written file by file; --format is for tables", 2
                )
            folder = Path(args.output or f"{stem}-{version.short}")
            written = load_with(sn, version, folder)
            count = int(snap.schema.get("files", 0))
            out.write(f"wrote {written}/ ({count:,} files, {_bytes(snap.nbytes)}): {version.ref}\n")
            return 0
        if snap.kind == "file":
            if args.format:
                raise CliError(
                    "a file version is written byte for byte; --format is for tables and arrays",
                    2,
                )
            original = os.path.basename(str(snap.schema.get("name") or ""))
            dest = _destination(args.output, _safe_file_name(original) or stem)
            _publish(dest, lambda tmp: sn.restore_file(snap, tmp), args.force)
            out.write(f"wrote {dest} ({_bytes(dest.stat().st_size)}): {version.ref}\n")
            return 0
        fmt = _restore_format(snap, args.output, args.format)
        dest = _destination(args.output, f"{stem}-{version.short}{RESTORE_FORMATS[fmt]}")
        if dest.exists() and not args.force:  # before loading what may be gigabytes
            raise CliError(f"{dest} already exists (pass --force to overwrite it)")
        obj = load_with(sn, version)

        def write(tmp: Path) -> None:
            try:
                with _data_modules():
                    _write_data(obj, snap.kind, fmt, tmp)
            except (OSError, MemoryError, CliError):
                raise
            except Exception as exc:  # pandas / pyarrow refusing this data in this format
                raise CliError(
                    f"cannot write {version.dataset}@{version.short} as {fmt}: "
                    f"{_one_line(exc)} (--format pickle writes any version exactly)"
                ) from None

        _publish(dest, write, args.force)
    out.write(
        f"wrote {dest} ({fmt}, {_bytes(dest.stat().st_size)}): {version.kind} {_shape(version)}"
        f" of {version.ref}\n"
    )
    return 0


def cmd_datasets_tag(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..store.dataset_records import check_dataset_tag, parse_dataset_ref

    name, selector = parse_dataset_ref(args.ref)
    check_dataset_tag(args.tag)  # said before whether the dataset exists
    if args.delete:
        if selector is not None:
            raise CliError("--delete takes the dataset's name, not a version (NAME TAG)", 2)
        store.delete_dataset_tag(name, args.tag)
        if args.json:
            _print_json({"dataset": name, "tag": args.tag, "deleted": True}, out)
        else:
            out.write(f"deleted tag {args.tag} of {name}\n")
        return 0
    version, before = store.move_dataset_tag(name, args.tag, selector)
    if args.json:
        _print_json(version.to_dict(), out)
        return 0
    moved = ""
    if before is not None and before != version.hash:
        moved = f" (moved from {before.partition(':')[2][:12]})"
    elif before == version.hash:
        moved = " (already there)"
    out.write(f"@{args.tag} -> {version.dataset}@{version.short}{moved}\n")
    return 0


def cmd_datasets_diff(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..datasets.api import diff_with

    check_sample(args.sample)
    with _snapshotter(store) as sn:
        diff = diff_with(store, sn, args.a, args.b, args.sample)
    if args.json:
        _print_json(dict(diff), out)
        return 0
    names = diff["versions"]
    lines = [f"{names['a']} -> {names['b']}", diff_report(diff)]
    meta = diff.get("meta")
    if meta is not None:
        lines.append(
            "meta: "
            + json.dumps(meta["a"], ensure_ascii=False, sort_keys=True)
            + " -> "
            + json.dumps(meta["b"], ensure_ascii=False, sort_keys=True)
        )
    out.write("\n".join(lines) + "\n")
    return 0
