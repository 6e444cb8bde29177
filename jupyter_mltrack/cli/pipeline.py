"""``mltrack export`` and ``mltrack reproduce``: the pipeline commands (the pipeline package is
imported only when one of them runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from ..store import Store
from .common import CliError, _plural, _print_json, _run_id, _tolerance, table

EXPORT_HELP = """Write the notebook's latest logged session as a pipeline: what actually ran, in
the order it ran, sliced back from the targets (named variables, or one run's metrics and
outputs). Sessions are logged from '%load_ext jupyter_mltrack' on. Files in DIR with the
same names are replaced."""


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    exp = commands.add_parser(
        "export",
        help="write a notebook's pipeline (pipeline.py, params.yaml, requirements.txt)",
        description=EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[store_opt, json_opt],
    )
    exp.add_argument(
        "notebook",
        metavar="NOTEBOOK",
        help="the notebook (.ipynb) whose latest logged session to export",
    )
    exp.add_argument(
        "--target",
        "-t",
        action="append",
        default=[],
        metavar="NAME",
        help="a variable the pipeline computes and returns (repeatable)",
    )
    exp.add_argument(
        "--run",
        "-r",
        metavar="RUN",
        help="reproduce this run of the notebook "
        "(its metrics and outputs) instead of --target variables",
    )
    exp.add_argument("--experiment", "-e", metavar="E", help="experiment a --run number refers to")
    exp.add_argument("--output", "-o", metavar="DIR", required=True, help="folder to write")
    exp.set_defaults(func=cmd_export)

    rep = commands.add_parser(
        "reproduce",
        help="export a run, re-run it in a fresh process and compare what it produces",
        description="Export RUN as a pipeline, run it with a fresh Python in the folder the"
        " notebook's kernel started in, and compare with what RUN recorded: its metrics, the"
        " values its cell bound (numbers, strings, arrays, frames: within the tolerances when"
        " small enough to have been kept, else exactly by digest) and the text the cell"
        " printed and displayed (modulo durations, progress bars and memory addresses). The"
        " pipeline's run is recorded as a child of RUN. Exit status 1 when anything differs,"
        " is missing, or there is nothing to compare.",
        parents=[store_opt, json_opt],
    )
    rep.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run number")
    rep.add_argument("--experiment", "-e", metavar="E", help="experiment a run number refers to")
    rep.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        help="keep the exported pipeline here (default: a temporary folder)",
    )
    rep.add_argument(
        "--rtol",
        type=_tolerance,
        default=None,
        metavar="X",
        help="relative tolerance of metrics, values and numbers in text (default 1e-6)",
    )
    rep.add_argument(
        "--atol",
        type=_tolerance,
        default=None,
        metavar="X",
        help="absolute tolerance (default 1e-12)",
    )
    rep.add_argument(
        "--timeout",
        type=_tolerance,
        default=None,
        metavar="SECONDS",
        help="give up on the pipeline after this long",
    )
    rep.add_argument(
        "--from-snapshots",
        action="store_true",
        help="run on the snapshotted input files the run read, not the current ones",
    )
    rep.set_defaults(func=cmd_reproduce)


# export and reproduce -----------------------------------------------------------------------


def cmd_export(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline.export import export
    from ..pipeline.notebook import check_notebook
    from ..pipeline.slicer import SliceError

    if not args.target and not args.run:
        raise CliError("nothing to export: give --target NAME (one or more) or --run RUN", 2)
    notebook = Path(args.notebook)
    run_id = _run_id(store, args.run, args.experiment) if args.run else None
    try:
        if notebook.exists():  # a file on disk named from a shell: a notebook, with code
            check_notebook(notebook)
        result = export(
            store,
            directory=args.output,
            notebook=args.notebook,
            targets=args.target,
            run=run_id,
            # a file (or folder) of that name must be a notebook; a path the log knows but
            # that is not here (the server's, relative to its root) is found in the log
            notebook_file=notebook if notebook.exists() else None,
        )
    except SliceError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(result.to_dict(), out)
    else:
        out.write(result.summary() + "\n")
    return 0


def cmd_reproduce(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..pipeline import reproduce as rp

    run_id = _run_id(store, args.run, args.experiment)
    try:
        result = rp.reproduce(
            store,
            run_id,
            directory=args.output,
            rtol=rp.RTOL if args.rtol is None else args.rtol,
            atol=rp.ATOL if args.atol is None else args.atol,
            timeout=args.timeout,
            extra_args=["--from-snapshots"] if args.from_snapshots else [],
        )
    except rp.SliceError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(result.to_dict(), out)
        return 0 if result.ok else 1
    out.write(reproduce_report(result) + "\n")
    return 0 if result.ok else 1


def reproduce_report(result: Any) -> str:
    """The human report of ``mltrack reproduce``: a table per kind of thing compared
    (metrics, values, text outputs), what was compared, and the verdict naming what differs."""
    rows = [
        [
            c.name,
            "-" if c.original is None else repr(c.original),
            "-" if c.reproduced is None else repr(c.reproduced),
            f"- ({c.skipped})" if c.skipped else "yes" if c.equal else "NO",
        ]
        for c in result.checks
    ]
    parts = []
    if rows:
        parts.append(table(["metric", "original", "reproduced", "equal"], rows))
    if result.values:
        parts.append(
            table(
                ["value", "kind", "compared", "equal", "detail"],
                [[v.name, v.kind, v.how, _equal_word(v.equal), v.detail] for v in result.values],
            )
        )
    if result.texts:
        parts.append(
            table(
                ["output", "equal", "detail"],
                [[t.name, _equal_word(t.equal), t.detail] for t in result.texts],
            )
        )
    if result.models:
        parts.append(_models_table(result.models))
    if result.used:
        parts.append(
            table(
                ["used", "reference", "original", "reproduced", "equal", "detail"],
                [
                    [u.key, u.ref, u.original, u.reproduced or "-", _equal_word(u.equal), u.detail]
                    for u in result.used
                ],
            )
        )
    parts.extend(result.notes)
    if result.returncode == 0:
        parts.append(_compared_line(result))
    if result.returncode != 0:
        parts.append(f"pipeline.py failed (exit status {result.returncode}):")
    elif not result.ok and result.stderr.strip():
        parts.append("pipeline.py said:")
    if not result.ok:
        parts.extend("  " + line for line in result.stderr.rstrip().splitlines()[-20:])
    differences = result.differences
    failed = sum(not c.equal and not c.skipped for c in result.checks)
    if result.ok:
        verdict = "reproduced"
    elif result.returncode != 0:
        verdict = "NOT reproduced"
    elif not differences:
        verdict = "NOT reproduced: nothing to compare"
    else:
        what = [f"{_plural(failed, 'metric')} differ"] if failed else []
        others = [d for d in differences if not d.startswith("metric ")]
        if others:
            what.append(", ".join(others) + (" differs" if len(others) == 1 else " differ"))
        verdict = "NOT reproduced: " + "; ".join(what)
    where = f"pipeline in {result.export.directory}, {result.duration:.1f} s"
    if result.pipeline_run_id:
        where += f"; recorded as run {result.pipeline_run_id[:8]}"
    parts.append(f"{verdict} ({where})")
    return "\n".join(parts)


def _models_table(models: list[Any]) -> str:
    """The models the run logged: how many example rows the reproduced model predicted as
    the original did, the largest difference of a probability (or a regressor's value),
    and the verdict with its reason."""
    rows = [
        [
            m.name,
            m.format or "-",
            f"{m.matches}/{m.rows}" if m.rows else "-",
            "-" if m.max_abs_diff is None else f"{m.max_abs_diff:.3g}",
            _equal_word(m.equal),
            m.reason,
        ]
        for m in models
    ]
    return table(["model", "format", "rows", "max diff", "equal", "detail"], rows)


def _equal_word(equal: bool | None) -> str:
    return "-" if equal is None else "yes" if equal else "NO"


def _compared_line(result: Any) -> str:
    """``compared: 2 metrics, 3 values, stdout, result, 1 model; not compared: t0 (a clock
    reading)``."""
    what = []
    counts = result.compared
    if counts["metrics"]:
        what.append(_plural(counts["metrics"], "metric"))
    if counts["values"]:
        what.append(_plural(counts["values"], "value"))
    what.extend(t.name for t in result.texts if t.equal is not None)
    if counts.get("models"):
        what.append(_plural(counts["models"], "model"))
    skipped = [f"metric {c.name} ({c.skipped})" for c in result.checks if c.skipped]
    skipped += [f"{v.name} ({v.detail})" for v in result.values if v.equal is None]
    skipped += [f"model {m.name} ({m.reason})" for m in result.models if m.equal is None]
    line = "compared: " + (", ".join(what) or "nothing (no metric, value, text output or model)")
    if skipped:
        line += "; not compared: " + ", ".join(skipped)
    return line
