"""``mltrack snapshots list/show/diff/restore`` and ``mltrack gc``.

The snapshot modules import numpy, pandas and pyarrow; they are imported only inside the
commands that need them, so ``mltrack runs list`` stays quick to start."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..placing import destination as _destination
from ..placing import names_folder as _names_folder
from ..server import api
from ..store import Snapshot, SnapshotStatus, Store
from .common import (
    PROG,
    CliError,
    _bytes,
    _cut,
    _limit,
    _number,
    _offset,
    _one_line,
    _Parser,
    _plural,
    _print_json,
    _publish,
    _run_id,
    _value,
    _when,
    table,
)

if TYPE_CHECKING:
    from ..snapshots.storage import Snapshotter

#: File formats ``snapshots restore`` writes data snapshots in, with their default extension.
RESTORE_FORMATS = {
    "pickle": ".pkl",
    "parquet": ".parquet",
    "feather": ".feather",
    "csv": ".csv",
    "npy": ".npy",
}
#: Output extensions that choose a format when ``--format`` is not given.
FORMAT_OF_EXTENSION = {
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".csv": "csv",
    ".npy": "npy",
}


REF_HELP = "snapshot digest, unique digest prefix (4+ hex digits) or name"
RESTORE_HELP = """\
Write a snapshot back to a file.

A file snapshot is written back byte for byte. A DataFrame, Series, array or Arrow table is
written in the format --format names, else the one PATH's extension names (.pkl .parquet
.feather .csv .npy), else pickle. What each format gives back:

  pickle   exactly what was stored (pandas.read_pickle / pickle.load), for every kind.
  npy      arrays only: exactly what was stored (numpy.load; allow_pickle=True for an
           object array).
  parquet, feather
           through Arrow: values, dtypes (categoricals, time zones, nullable integers)
           and the index are kept, except that None and NaN in an object column both
           come back as missing (a column of strings as pandas' string dtype) and a
           DatetimeIndex loses its freq. A Series becomes a one-column frame, a 1-D
           array a "values" column, a 2-D array one column per array column (complex
           numbers cannot be written); an Arrow table is written as it is.
  csv      text: every dtype is inferred again when read (categories, time zones and
           nullable integers are lost), None and NaN are both empty, the index is the
           first column.

An existing file is never overwritten unless --force is given."""


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    snaps = commands.add_parser(
        "snapshots", help="list, show, compare or restore dataset snapshots", parents=[store_opt]
    )
    snaps_commands = snaps.add_subparsers(
        dest="snapshots_command", metavar="ACTION", parser_class=_Parser
    )
    snaps_commands.required = True
    slist = snaps_commands.add_parser(
        "list", help="list snapshots, newest first", parents=[store_opt, json_opt]
    )
    slist.add_argument(
        "--run",
        "-r",
        metavar="RUN",
        help="only the data this run read or wrote (run number, id or unique id prefix)",
    )
    slist.add_argument(
        "--experiment", "-e", metavar="E", help="experiment a --run number refers to"
    )
    slist.add_argument("--limit", "-l", type=_limit, default=50, metavar="N")
    slist.add_argument("--offset", type=_offset, default=0, metavar="N")
    slist.set_defaults(func=cmd_snapshots_list)

    sshow = snaps_commands.add_parser(
        "show",
        help="a snapshot's schema, statistics and the runs that used it",
        parents=[store_opt, json_opt],
    )
    sshow.add_argument("ref", metavar="REF", help=REF_HELP)
    sshow.set_defaults(func=cmd_snapshots_show)

    sdiff = snaps_commands.add_parser(
        "diff", help="what changed from snapshot A to snapshot B", parents=[store_opt, json_opt]
    )
    sdiff.add_argument("a", metavar="A", help=REF_HELP)
    sdiff.add_argument("b", metavar="B", help=REF_HELP)
    add_sample_argument(sdiff)
    sdiff.set_defaults(func=cmd_snapshots_diff)

    restore = snaps_commands.add_parser(
        "restore",
        help="write a snapshot back to a file",
        description=RESTORE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[store_opt],
    )
    restore.add_argument("ref", metavar="REF", help=REF_HELP)
    restore.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        help="file (or existing folder) to write; default: the file's original name, or "
        "NAME.EXT for data, in the current folder",
    )
    restore.add_argument(
        "--format",
        choices=list(RESTORE_FORMATS),
        help="data snapshots only; default: from PATH's extension, else pickle",
    )
    restore.add_argument("--force", action="store_true", help="overwrite an existing file")
    restore.set_defaults(func=cmd_snapshots_restore)

    gc = commands.add_parser(
        "gc",
        help="delete snapshot data no run uses and nobody pinned",
        parents=[store_opt, json_opt],
    )
    gc.add_argument(
        "--dry-run", "-n", action="store_true", help="only report what would be deleted"
    )
    gc.set_defaults(func=cmd_gc)


# formatting ---------------------------------------------------------------------------------------


def _shape(snap: Snapshot) -> str:
    """``rows x cols`` (an array: its own dimensions); a file has none."""
    dims = snap.shape
    if not dims:
        return "-"
    return "x".join("?" if d is None else f"{d:,}" for d in dims)


def _stat(value: Any) -> str:
    """A recorded statistic: numbers short, timestamps and other text as recorded."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    return _cut(str(value), 32)


def _share(value: Any) -> str:
    """A share as a percentage with 3 significant digits: one null in 100,000 rows shows
    as 0.001%, not as a "0.0%" that reads like none."""
    if not isinstance(value, int | float):
        return "-"
    if 0 < value < 1e-4:
        return "<0.01%"
    return f"{value * 100:.3g}%"


def _top(values: Sequence[Mapping[str, Any]] | None, n: int = 3) -> str:
    if not values:
        return "-"
    parts = [f"{_cut(_value(t.get('value')), 16)} {_share(t.get('share'))}" for t in values[:n]]
    return ", ".join(parts)


def snapshots_table(snaps: Sequence[Snapshot], uses: Mapping[str, list[str]] | None = None) -> str:
    """One line per snapshot; ``uses`` (``digest -> ["input df", ...]``) adds the names a
    run used each one under, which is what tells a run's data apart."""
    rows = []
    for s in snaps:
        row = [
            s.short,
            _cut(s.name or "-", 24),
            s.kind,
            _shape(s),
            _bytes(s.nbytes),
            _bytes(s.stored_bytes),
            s.status.value,
            "yes" if s.pinned else "no",
            _when(s.created_at),
        ]
        if uses is not None:
            row.append(_cut(", ".join(uses.get(s.digest, [])) or "-"))
        rows.append(row)
    headers = ["DIGEST", "NAME", "KIND", "SHAPE", "SIZE", "STORED", "STATUS", "PINNED", "CREATED"]
    if uses is not None:
        headers.append("USED AS")
    return table(headers, rows, right=frozenset({3, 4, 5}))


def _indented(text: str) -> list[str]:
    return [f"  {line}".rstrip() for line in text.splitlines()]


def snapshot_report(snap: Snapshot, users: Sequence[Mapping[str, Any]]) -> str:
    """``snapshots show``: overview, schema, statistics, users and error, as sections.
    ``users``: the API's ``users`` (each use, with its run's number and name when known)."""
    with _data_modules():
        from ..snapshots.diff import column_name

    lines = [f"Snapshot {snap.short}  ({snap.digest})"]

    def section(title: str, body: Sequence[str]) -> None:
        if body:
            lines.extend(["", title, *body])

    overview = [("name", snap.name or "-"), ("kind", snap.kind), ("status", snap.status.value)]
    if snap.kind == "file":
        overview.append(("file", str(snap.schema.get("name", "-"))))
    elif snap.kind == "folder":
        overview.append(("files", f"{int(snap.schema.get('files', 0)):,}"))
    else:
        overview.append(("shape", _shape(snap)))
    exact = f" ({snap.nbytes:,} bytes)" if snap.nbytes >= 1024 else ""
    overview += [
        ("size", _bytes(snap.nbytes) + exact),
        # data equal to what earlier snapshots stored is not stored again
        ("stored", f"{_bytes(snap.stored_bytes)} added to the store when taken"),
        ("pinned", "yes (kept by gc)" if snap.pinned else "no"),
        ("created", _when(snap.created_at)),
        ("completed", _when(snap.completed_at)),
    ]
    width = max(len(k) for k, _ in overview)
    section("Overview", [f"  {k.ljust(width)}  {v}".rstrip() for k, v in overview])

    if snap.kind not in ("file", "folder"):
        schema_rows = []
        for position, col in enumerate(snap.schema.get("columns", [])):
            dtype = str(col.get("dtype", "-"))
            categories = col.get("categories")
            if isinstance(categories, Mapping) and "count" in categories:
                ordered = ", ordered" if col.get("ordered") else ""
                dtype += (
                    f" ({_plural(int(categories['count']), 'category', 'categories')}{ordered})"
                )
            schema_rows.append([str(position), _cut(column_name(col.get("name"))), dtype])
        body = _indented(table(["#", "COLUMN", "DTYPE"], schema_rows, right=frozenset({0})))
        index = snap.schema.get("index") or []
        if index:
            levels = [
                f"{column_name(level['name'])} ({level.get('dtype')})"
                if level.get("name") is not None
                else str(level.get("dtype"))
                for level in index
            ]
            body.append(f"  index: {', '.join(levels)}")
        section("Schema", body)

    stats = snap.stats
    if stats and stats.get("error"):
        section("Statistics", [f"  not recorded: {_one_line(stats['error'])}"])
    elif stats and stats.get("columns"):
        stat_rows = []
        for col in stats["columns"]:
            numeric = col.get("numeric") or {}
            distinct = col.get("distinct_estimate")
            distinct_text = "-" if distinct is None else f"{distinct:,}"
            if distinct is not None and col.get("sampled") is not None:
                distinct_text = "~" + distinct_text  # estimated from a sample
            stat_rows.append(
                [
                    _cut(str(col.get("name")), 24),
                    _share(col.get("null_share")),
                    _stat(numeric.get("min")),
                    _stat(numeric.get("max")),
                    _stat(numeric.get("mean")),
                    _stat(numeric.get("std")),
                    distinct_text,
                    _cut(_top(col.get("top"))),
                ]
            )
        headers = ["COLUMN", "NULLS", "MIN", "MAX", "MEAN", "STD", "DISTINCT", "TOP"]
        body = _indented(table(headers, stat_rows, right=frozenset({1, 2, 3, 4, 5, 6})))
        section("Statistics", body)

    if users:
        user_rows = []
        for use in users:
            run = use.get("run") or {}
            user_rows.append(
                [
                    str(run.get("number", "-")),
                    _cut(str(run.get("experiment", "-")), 24),
                    str(use["run_id"])[:8],
                    _cut(run.get("name") or "-", 24),
                    use["role"],
                    _cut(use["name"]),
                ]
            )
        headers = ["#", "EXPERIMENT", "RUN", "RUN NAME", "ROLE", "AS"]
        section("Used by", _indented(table(headers, user_rows, right=frozenset({0}))))
    else:
        keep = "pinned, so gc keeps it" if snap.pinned else "not pinned, so gc deletes it"
        section("Used by", [f"  no run ({keep})"])

    if snap.error:
        section("Error", [f"  {_one_line(snap.error)}"])
    return "\n".join(lines)


def _side(summary: Mapping[str, Any]) -> str:
    name = summary.get("name")
    return f"{summary['short']} ({name})" if name else str(summary["short"])


#: Paths of each change a folder diff prints (``--json`` has them all).
FOLDER_LINES = 200


def folder_report(head: str, folder: Mapping[str, Any]) -> str:
    """Two folder snapshots' diff: counts, then ``+``/``-``/``~`` per path."""
    counts = (
        f"files {folder['a_files']:,} -> {folder['b_files']:,}: {len(folder['added'])} added, "
        f"{len(folder['removed'])} removed, {len(folder['changed'])} changed, "
        f"{folder['unchanged']:,} unchanged"
    )
    lines = [f"{head}: {counts}"]
    listed = [
        *(f"  + {p}" for p in folder["added"]),
        *(f"  - {p}" for p in folder["removed"]),
        *(
            f"  ~ {c['path']} ({_bytes(c['a_size'])} -> {_bytes(c['b_size'])})"
            for c in folder["changed"]
        ),
    ]
    lines += listed[:FOLDER_LINES]
    if len(listed) > FOLDER_LINES:
        lines.append(f"  … {len(listed) - FOLDER_LINES:,} more (--json lists all)")
    return "\n".join(lines)


def diff_report(diff: Mapping[str, Any]) -> str:
    """``snapshots diff``: a summary line, the changed columns, then the sample if asked."""
    a, b = diff["a"], diff["b"]
    head = f"{_side(a)} -> {_side(b)}"
    if diff["identical"]:
        return f"{head}: same data"
    parts: list[str] = []
    if a["kind"] != b["kind"]:
        parts.append(f"kind {a['kind']} -> {b['kind']}")
    files = diff.get("files")
    if files is not None:
        parts.append(f"size {_bytes(files['a_size'])} -> {_bytes(files['b_size'])}")
        parts.append("same content" if files["same_content"] else "content differs")
        return f"{head}: {'; '.join(parts)}"
    folder = diff.get("folder")
    if folder is not None:
        return folder_report(head, folder)
    rows = diff["rows"]
    parts.append(f"rows {rows['a']:,} -> {rows['b']:,} ({rows['delta']:+,})")
    appended = diff.get("appended_rows")
    if appended:
        parts.append(f"{appended:,} appended, earlier rows unchanged")
    schema = diff.get("schema") or {}
    if schema.get("added"):
        parts.append("added: " + ", ".join(schema["added"]))
    if schema.get("removed"):
        parts.append("removed: " + ", ".join(schema["removed"]))
    if schema.get("dtype_changed"):
        retyped = [f"{c['name']} {c['a']} -> {c['b']}" for c in schema["dtype_changed"]]
        parts.append("retyped: " + ", ".join(retyped))
    if schema.get("order_changed"):
        parts.append("column order changed")
    if schema.get("index_changed"):
        parts.append("index changed")
    columns = diff.get("columns") or []
    changed = [c for c in columns if c["status"] != "unchanged"]
    parts.append(f"{len(changed)} of {_plural(len(columns), 'column')} changed")
    lines = [f"{head}: {'; '.join(parts)}"]

    if changed:
        col_rows = []
        for col in changed:
            sa = (col.get("stats") or {}).get("a") or {}
            sb = (col.get("stats") or {}).get("b") or {}
            blocks = (
                f"{col['changed_blocks']}/{col['blocks']}"
                if col.get("changed_blocks") is not None and col.get("blocks")
                else "-"
            )
            col_rows.append(
                [
                    _cut(str(col["name"]), 24),
                    col["status"],
                    blocks,
                    f"{_stat(sa.get('mean'))} -> {_stat(sb.get('mean'))}",
                    f"{_share(sa.get('null_share'))} -> {_share(sb.get('null_share'))}",
                    "-" if col.get("drift") is None else f"{col['drift']:.3f}",
                ]
            )
        headers = ["COLUMN", "STATUS", "BLOCKS", "MEAN", "NULLS", "DRIFT"]
        lines += ["", table(headers, col_rows, right=frozenset({2, 5}))]

    sample = diff.get("sample")
    if sample is not None:
        lines.append("")
        if sample.get("by") is None:
            lines.append("no row sample: only two DataFrames or two Series are compared by row")
        elif not sample["rows"]:
            lines.append("no mismatched cells in the rows both hold")
        else:
            label = "INDEX" if sample["by"] == "index" else "ROW"
            cells = [
                [
                    _cut(_value(r["index"] if sample["by"] == "index" else r["position"]), 24),
                    _cut(str(r["column"]), 24),
                    _cut(_value(r["a"])),
                    _cut(_value(r["b"])),
                ]
                for r in sample["rows"]
            ]
            more = " (more differ)" if sample.get("truncated") else ""
            lines.append(f"Mismatched cells: {len(cells)}{more}")
            lines.append(table([label, "COLUMN", "A", "B"], cells))
        if sample.get("only_in_a") or sample.get("only_in_b"):
            lines.append(
                f"rows only in A: {sample.get('only_in_a', 0):,}, "
                f"only in B: {sample.get('only_in_b', 0):,}"
            )
    return "\n".join(lines)


def gc_line(report: Mapping[str, Any]) -> str:
    """``gc``'s report as one sentence (what a dry run would do, or what was done)."""
    dry = bool(report.get("dry_run"))
    snaps, blocks = len(report.get("snapshots", [])), int(report.get("blocks", 0))
    deleted, rewritten = int(report.get("packs_deleted", 0)), int(report.get("packs_rewritten", 0))
    orphans, freed = int(report.get("orphans", 0)), int(report.get("bytes_freed", 0))
    abandoned, temps = len(report.get("abandoned", [])), int(report.get("temp_files", 0))
    half_logged = len(report.get("abandoned_artifacts", []))
    art_packs = int(report.get("artifact_packs_rewritten", 0))
    damaged = len(report.get("artifact_packs_damaged", []))
    prefix = "dry run: " if dry else ""
    counts = (snaps, blocks, deleted, rewritten, orphans, abandoned, temps, half_logged)
    waiting = _waiting(report)
    if not any((*counts, art_packs, damaged)):
        return f"{prefix}nothing to delete: every snapshot is used by a run or pinned{waiting}"
    done = [
        f"{'would delete' if dry else 'deleted'} {_plural(snaps, 'snapshot')}, "
        f"{_plural(blocks, 'block')} and {_plural(deleted, 'pack')}"
    ]
    if rewritten:
        done.append(f"{'would rewrite' if dry else 'rewrote'} {_plural(rewritten, 'pack')}")
    if art_packs:
        done.append(
            f"{'would rewrite' if dry else 'rewrote'} {_plural(art_packs, 'artifact pack')} "
            "with only the files still used"
        )
    if damaged:
        it, its = ("it was", "its") if damaged == 1 else ("they were", "their")
        done.append(
            f"left {_plural(damaged, 'artifact pack')} as {it}: {its} bytes changed outside mltrack"
        )
    if orphans:
        done.append(f"{'would remove' if dry else 'removed'} {_plural(orphans, 'orphan blob')}")
    if temps:
        done.append(f"{'would remove' if dry else 'removed'} {_plural(temps, 'temp file')}")
    if abandoned:
        done.append(
            f"{'would mark' if dry else 'marked'} {_plural(abandoned, 'snapshot')} whose "
            "writer died failed"
        )
    if half_logged:
        done.append(
            f"{'would forget' if dry else 'forgot'} {_plural(half_logged, 'artifact')} whose "
            "writer died before it was logged"
        )
    freeing = "would free" if dry else "freed"
    return f"{prefix}{'; '.join(done)}; {freeing} {_bytes(freed)} ({freed:,} bytes){waiting}"


def _waiting(report: Mapping[str, Any]) -> str:
    """The unrecorded blobs ``gc`` left for later, and why, as the end of its sentence
    (empty when none were): a store that does not shrink says what holds it up."""
    count = int(report.get("orphans_waiting") or 0)
    if not count:
        return ""
    why = report.get("orphans_waiting_why") or "a writer may still record them"
    return f"; kept {_plural(count, 'unrecorded blob')} for a later gc: {why}"


# snapshots: commands ----------------------------------------------------------------------


@contextlib.contextmanager
def _data_modules() -> Iterator[None]:
    """numpy, pandas and pyarrow are the optional ``data`` extra: the CLI may run where they
    are missing although a kernel elsewhere took the snapshots."""
    try:
        yield
    except ImportError as exc:
        missing = exc.name or "a data library"
        raise CliError(
            f"{missing} is not installed; snapshot commands need "
            "pip install 'jupyter_mltrack[data]'"
        ) from None


@contextlib.contextmanager
def _snapshotter(store: Store) -> Iterator[Snapshotter]:
    """A :class:`Snapshotter` closed on the way out (its worker threads must end before the
    process does), with its failures turned into one-line CLI errors."""
    with _data_modules():
        from ..snapshots.storage import SnapshotError, Snapshotter
        from ..store.blobs import BlobNotFound

    try:
        store.blobs  # noqa: B018 - opened now so a misconfigured blob URL is one clear error
    except (ValueError, ImportError) as exc:
        raise CliError(f"cannot open the snapshot data: {_one_line(exc)}") from None
    sn = Snapshotter(store)
    try:
        yield sn
    except SnapshotError as exc:
        raise CliError(_one_line(exc)) from None
    except BlobNotFound as exc:
        raise CliError(f"snapshot data missing from the blob store: {_one_line(exc)}") from None
    finally:
        sn.close()


def cmd_snapshots_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    run_id = _run_id(store, args.run, args.experiment) if args.run else None
    if args.json:
        query = {"limit": [str(args.limit)], "offset": [str(args.offset)]}
        if run_id:
            query["run"] = [run_id]
        _print_json(api.list_snapshots(store, query), out)
        return 0
    snaps, total = store.list_snapshots(run_id=run_id, limit=args.limit, offset=args.offset)
    if not snaps:
        if total or args.offset:
            out.write("no snapshots match\n")
        else:
            out.write("this run used no data\n" if run_id else "no snapshots\n")
        return 0
    uses: dict[str, list[str]] | None = None
    if run_id:
        uses = {}
        for d in store.run_data(run_id):
            uses.setdefault(d.snapshot.digest, []).append(f"{d.role} {d.name}")
    out.write(snapshots_table(snaps, uses) + "\n")
    if total > len(snaps):
        last = args.offset + len(snaps)
        out.write(f"snapshots {args.offset + 1}-{last} of {total} (see --limit, --offset)\n")
    return 0


def cmd_snapshots_show(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    detail = api.get_snapshot(store, args.ref)
    if args.json:
        _print_json(detail, out)
    else:
        snap = store.get_snapshot(detail["digest"])
        out.write(snapshot_report(snap, detail["users"]) + "\n")
    return 0


def add_sample_argument(parser: argparse.ArgumentParser) -> None:
    """A diff's ``--sample`` (snapshots and dataset versions diff alike)."""
    parser.add_argument(
        "--sample",
        "-s",
        type=_offset,
        default=0,
        metavar="N",
        help="also list up to N mismatched cells (reads the changed blocks; default 0)",
    )


def check_sample(sample: int) -> None:
    """Refuse a ``--sample`` above what a diff lists (checked here, not by the argument's
    type: the limit lives with the data libraries, which the parser does not import)."""
    with _data_modules():
        from ..snapshots.diff import MAX_SAMPLE

    if sample > MAX_SAMPLE:
        raise CliError(f"argument --sample/-s: must be at most {MAX_SAMPLE}, got {sample}", 2)


def cmd_snapshots_diff(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    check_sample(args.sample)
    with _snapshotter(store) as sn:
        # The API refuses pending and failed snapshots (409) with the reason.
        diff = api.diff_snapshots(sn, args.a, args.b, {"sample": [str(args.sample)]})
    if args.json:
        _print_json(diff, out)
    else:
        out.write(diff_report(diff) + "\n")
    return 0


def _readable(snap: Snapshot) -> Snapshot:
    """``snap`` if its data can be read, else why not (worded as the API's 409)."""
    if snap.status is SnapshotStatus.PENDING:
        raise CliError(
            f"snapshot {snap.short} is still being stored (status 'pending'); "
            "its data can be read once its status is 'complete'"
        )
    if snap.status is SnapshotStatus.FAILED:
        raise CliError(
            f"snapshot {snap.short} could not be stored (status 'failed': "
            f"{_one_line(snap.error or 'no reason recorded')}); it has no data to read"
        )
    return snap


def _safe_file_name(text: str) -> str:
    """A snapshot name as a file name in the current folder (names may hold paths)."""
    base = re.sub(r"[^\w.+-]+", "_", text.replace(os.sep, "_")).strip("._")
    return base[:120]


def _table_form(obj: Any, kind: str) -> Any:
    """A DataFrame for parquet/feather/csv from a Series or a 1-D/2-D array."""
    import pandas as pd

    if kind == "dataframe":
        return obj
    if kind == "series":
        return obj.to_frame()
    if obj.ndim <= 1:
        return pd.DataFrame({"values": obj.reshape(-1)})
    return pd.DataFrame(obj)


def _write_data(obj: Any, kind: str, fmt: str, path: Path) -> None:
    import pickle

    if fmt == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return
    if fmt == "npy":
        import numpy as np

        with open(path, "wb") as fh:  # a path would get ".npy" appended
            np.save(fh, obj, allow_pickle=obj.dtype.hasobject)
        return
    if kind == "table":
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(obj, path)
        elif fmt == "feather":
            import pyarrow.feather as feather

            feather.write_feather(obj, path)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(obj, path)
        return
    frame = _table_form(obj, kind)
    if fmt == "parquet":
        frame.to_parquet(path)
    elif fmt == "feather":
        frame.to_feather(path)
    else:
        frame.to_csv(path)


def _restore_format(snap: Snapshot, output: str | None, chosen: str | None) -> str:
    """The format to write a data snapshot in, refusing combinations that cannot work
    before anything is read."""
    fmt = chosen
    if fmt is None and output is not None and not _names_folder(output):
        suffix = Path(output).suffix.lower()
        fmt = FORMAT_OF_EXTENSION.get(suffix)
        if fmt is None:
            known = " ".join(sorted(FORMAT_OF_EXTENSION))
            raise CliError(
                f"cannot tell a format from {output!r} (known extensions: {known}); pass --format",
                2,
            )
    fmt = fmt or "pickle"
    if fmt == "npy" and snap.kind != "ndarray":
        raise CliError(
            f"npy holds numpy arrays; snapshot {snap.short} is a {snap.kind} "
            "(use pickle, parquet, feather or csv)",
            2,
        )
    if fmt in ("parquet", "feather", "csv") and snap.kind == "ndarray" and len(snap.shape) > 2:
        raise CliError(
            f"a {len(snap.shape)}-dimensional array has no table form for {fmt} "
            "(use npy or pickle)",
            2,
        )
    return fmt


def cmd_snapshots_restore(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    with _snapshotter(store) as sn:
        snap = _readable(store.resolve_snapshot(args.ref))
        if snap.kind == "folder":
            if args.format:
                raise CliError("a folder is restored file by file; --format is for tables", 2)
            folder = Path(args.output or _safe_file_name(snap.name or "") or f"folder-{snap.short}")
            sn.restore_folder(snap, folder)
            count = int(snap.schema.get("files", 0))
            out.write(f"wrote {folder}/ ({count:,} files, {_bytes(snap.nbytes)}): {snap.short}\n")
            return 0
        if snap.kind == "file":
            if args.format:
                raise CliError(
                    "a file snapshot is restored byte for byte; --format is for data snapshots",
                    2,
                )
            original = os.path.basename(str(snap.schema.get("name") or ""))
            dest = _destination(args.output, _safe_file_name(original) or f"file-{snap.short}")
            _publish(dest, lambda tmp: sn.restore_file(snap, tmp), args.force)
            out.write(f"wrote {dest} ({_bytes(dest.stat().st_size)}): file snapshot {snap.short}\n")
            return 0
        fmt = _restore_format(snap, args.output, args.format)
        stem = _safe_file_name(snap.name or "") or f"{snap.kind}-{snap.short}"
        dest = _destination(args.output, stem + RESTORE_FORMATS[fmt])
        if dest.exists() and not args.force:  # before loading what may be gigabytes
            raise CliError(f"{dest} already exists (pass --force to overwrite it)")
        obj = sn.load(snap)

        def write(tmp: Path) -> None:
            try:
                with _data_modules():
                    _write_data(obj, snap.kind, fmt, tmp)
            except (OSError, MemoryError, CliError):
                raise  # not the format's problem (a full disk is reported by _publish)
            except Exception as exc:  # pandas / pyarrow refusing this data in this format
                raise CliError(
                    f"cannot write snapshot {snap.short} as {fmt}: {_one_line(exc)} "
                    "(--format pickle restores any snapshot exactly)"
                ) from None

        _publish(dest, write, args.force)
    size = _bytes(dest.stat().st_size)
    out.write(
        f"wrote {dest} ({fmt}, {size}): {snap.kind} {_shape(snap)} from snapshot {snap.short}\n"
    )
    return 0


def cmd_gc(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    """Exit 1 when an artifact pack was left as it is, its bytes changed outside mltrack:
    the rest was done, but files are damaged, each said on stderr."""
    with _snapshotter(store) as sn:
        report = sn.gc(dry_run=args.dry_run)
    if args.json:
        _print_json(report, out)
    else:
        out.write(gc_line(report) + "\n")
    damaged = report.get("artifact_packs_damaged", [])
    for line in damaged:
        sys.stderr.write(f"{PROG}: error: {line}\n")
    return 1 if damaged else 0
