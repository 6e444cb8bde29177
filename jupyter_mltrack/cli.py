"""``mltrack``: look at recorded runs from a terminal, without starting Jupyter.

::

    mltrack [--store URL] experiments [--json]
    mltrack [--store URL] runs list [--experiment E] [--notebook P] [--status S]
                                    [--order O] [--limit N] [--offset N] [--json]
    mltrack [--store URL] runs show RUN [--experiment E] [--json]

The store is found as the kernel and server find it (``--store``, ``MLTRACK_STORE_URL``,
``MLTRACK_HOME``, the nearest ``.mltrack/``), except that the CLI never creates one: a typo'd
path should say "no store here", not silently show an empty new database. ``--json`` prints
what the REST API answers, so scripts can use either. Exit codes: 0 success, 1 the thing asked
for does not exist or the store cannot be opened, 2 the command line is wrong.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO

from sqlalchemy.exc import SQLAlchemyError

from .location import URL_ENV, resolve_store_url
from .store import (
    Experiment,
    InvalidQuery,
    Run,
    RunDetail,
    RunNotFound,
    RunStatus,
    Store,
    StoreError,
)

PROG = "mltrack"
#: Widest a free-text cell gets in a table before it is cut with an ellipsis.
MAX_CELL = 40
MAX_METRICS_CELL = 60


class CliError(Exception):
    """A failure to report as one line on stderr, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (the usage block hides the actual message)."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", 2)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 1000, got {value}")
    return value


def _offset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    # --store is accepted before or after the subcommand; SUPPRESS keeps a later default
    # from overwriting an earlier value.
    store_opt = argparse.ArgumentParser(add_help=False)
    store_opt.add_argument(
        "--store",
        metavar="URL",
        default=argparse.SUPPRESS,
        help=f"database URL or .mltrack folder (default: ${URL_ENV} or the nearest .mltrack/)",
    )
    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="print JSON (as the REST API)")

    parser = _Parser(
        prog=PROG, description="Inspect runs recorded by jupyter_mltrack.", parents=[store_opt]
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    commands.add_parser(
        "experiments", help="list experiments", parents=[store_opt, json_opt]
    ).set_defaults(func=cmd_experiments)

    runs = commands.add_parser("runs", help="list or show runs", parents=[store_opt])
    runs_commands = runs.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=_Parser)
    runs_commands.required = True
    listing = runs_commands.add_parser("list", help="list runs", parents=[store_opt, json_opt])
    listing.add_argument("--experiment", "-e", metavar="E", help="only this experiment")
    listing.add_argument("--notebook", "-n", metavar="P", help="only runs of this notebook path")
    listing.add_argument("--status", "-s", choices=[s.value for s in RunStatus])
    listing.add_argument(
        "--order",
        "-o",
        metavar="O",
        default="-start_time",
        help="start_time, number, name, status, duration or metrics.<key>; "
        "prefix with - for descending (default: -start_time)",
    )
    listing.add_argument("--limit", "-l", type=_limit, default=50, metavar="N")
    listing.add_argument("--offset", type=_offset, default=0, metavar="N")
    listing.set_defaults(func=cmd_runs_list)

    show = runs_commands.add_parser(
        "show", help="everything recorded for one run", parents=[store_opt, json_opt]
    )
    show.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run number")
    show.add_argument("--experiment", "-e", metavar="E", help="experiment a run number refers to")
    show.set_defaults(func=cmd_runs_show)
    return parser


# the store --------------------------------------------------------------------------------


def open_store(url: str | None) -> Store:
    """Open an existing store; refuse to create one (see the module docstring)."""
    resolved = resolve_store_url(url)
    if resolved.startswith("sqlite:///"):
        db = Path(resolved[len("sqlite:///") :])
        if not db.exists():
            if url or os.environ.get(URL_ENV):
                raise CliError(f"no mltrack store at {db}")
            raise CliError(
                f"no mltrack store found (no .mltrack/ in {Path.cwd()} or above); "
                "pass --store or set MLTRACK_STORE_URL"
            )
    try:
        return Store(resolved)
    except Exception as exc:  # driver errors carry multi-line details; keep the first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(f"cannot open the store: {first}") from None


# formatting -------------------------------------------------------------------------------


def _cut(text: str, width: int = MAX_CELL) -> str:
    text = " ".join(text.split())  # tables are one line per row
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _number(value: float) -> str:
    """A metric: short, and NaN/inf spelled as Python prints them."""
    return "nan" if math.isnan(value) else f"{value:.6g}"


def _value(value: Any) -> str:
    """A param: strings bare, anything else as JSON so ``1.0``, ``"1"`` and ``true`` differ."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """Columns padded to their widest cell; ``right`` holds the indexes of numeric columns."""
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers)] + [line(r) for r in rows])


def experiments_table(experiments: Sequence[Experiment]) -> str:
    rows = [
        [_cut(e.name), str(e.run_count), _when(e.last_run_at), _when(e.created_at)]
        for e in experiments
    ]
    return table(["EXPERIMENT", "RUNS", "LAST RUN", "CREATED"], rows, right=frozenset({1}))


def runs_table(runs: Sequence[Run]) -> str:
    rows = []
    for r in runs:
        metrics = " ".join(f"{k}={_number(v)}" for k, v in r.metrics.items())
        rows.append(
            [
                str(r.number),
                r.id[:8],
                _cut(r.experiment, 24),
                _cut(r.name or "-", 24),
                r.status.value,
                _when(r.start_time),
                _duration(r.duration),
                _cut(metrics, MAX_METRICS_CELL),
            ]
        )
    headers = ["#", "ID", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION", "METRICS"]
    return table(headers, rows, right=frozenset({0, 6}))


def run_report(detail: RunDetail) -> str:
    """``runs show`` as sections of aligned ``key  value`` lines."""
    run = detail.run
    lines = [f"Run {run.number} of {run.experiment}  ({run.id})"]

    def section(title: str, pairs: Sequence[tuple[str, str]]) -> None:
        if not pairs:
            return
        lines.append("")
        lines.append(title)
        width = max(len(k) for k, _ in pairs)
        lines.extend(f"  {k.ljust(width)}  {v}".rstrip() for k, v in pairs)

    where = run.notebook_path or "-"
    if run.execution_count is not None:
        where += f" [{run.execution_count}]"
    overview = [
        ("name", run.name or "-"),
        ("status", run.status.value),
        ("started", _when(run.start_time)),
        ("ended", _when(run.end_time)),
        ("duration", _duration(run.duration)),
        ("notebook", where),
        ("source", run.source),
    ]
    if run.tags:
        overview.append(("tags", ", ".join(f"{k}={v}" if v else k for k, v in run.tags.items())))
    if run.note:
        overview.append(("note", " ".join(run.note.split())))
    if run.parent_run_id:
        overview.append(("parent", run.parent_run_id))
    section("Overview", overview)
    section("Params", [(k, _cut(_value(v), 80)) for k, v in run.params.items()])
    metrics = []
    for key, value in run.metrics.items():
        points = detail.metric_series.get(key, [])
        extra = f"  ({len(points)} points)" if len(points) > 1 else ""
        metrics.append((key, _number(value) + extra))
    section("Metrics (latest)", metrics)
    env = []
    if detail.environment is not None:
        env.append(("python", detail.environment.python))
        env.append(("platform", detail.environment.platform))
        env.append(("packages", str(len(detail.environment.packages))))
    if detail.git_commit:
        env.append(("git", detail.git_commit + (" (dirty)" if detail.git_dirty else "")))
    section("Environment", env)
    if detail.error:
        lines += [
            "",
            "Error",
            f"  {detail.error.get('ename', '')}: {detail.error.get('evalue', '')}",
        ]
    if detail.code:
        lines += ["", "Code"] + [f"  {line}".rstrip() for line in detail.code.splitlines()]
    return "\n".join(lines)


def _print_json(data: Any, out: TextIO) -> None:
    # Entities already turn NaN/inf into JSON values; allow_nan=False guarantees valid JSON.
    out.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


# commands ---------------------------------------------------------------------------------


def cmd_experiments(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    experiments = store.list_experiments()
    if args.json:
        _print_json({"experiments": [e.to_dict() for e in experiments]}, out)
    elif not experiments:
        out.write("no experiments yet\n")
    else:
        out.write(experiments_table(experiments) + "\n")
    return 0


def cmd_runs_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    runs, total = store.search_runs(
        experiment=args.experiment,
        notebook=args.notebook,
        status=args.status,
        order=args.order,
        limit=args.limit,
        offset=args.offset,
    )
    if args.json:
        _print_json(
            {
                "runs": [r.to_dict() for r in runs],
                "total": total,
                "limit": args.limit,
                "offset": args.offset,
            },
            out,
        )
        return 0
    if not runs:
        out.write("no runs match\n" if total or args.offset else "no runs\n")
        return 0
    out.write(runs_table(runs) + "\n")
    if total > len(runs):
        first = args.offset + 1
        out.write(f"runs {first}-{args.offset + len(runs)} of {total} (see --limit, --offset)\n")
    return 0


def cmd_runs_show(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    try:
        run_id = store.resolve_run_id(args.run, args.experiment)
    except RunNotFound:
        where = f" in experiment {args.experiment!r}" if args.experiment else ""
        raise CliError(f"no run {args.run!r}{where}") from None
    detail = store.get_run_detail(run_id)
    if args.json:
        _print_json(detail.to_dict(), out)
    else:
        out.write(run_report(detail) + "\n")
    return 0


def _glue_order(argv: Sequence[str]) -> list[str]:
    """``--order -duration`` -> ``--order=-duration``: argparse would take ``-duration`` for an
    option, and descending order is the common case."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("--order", "-o"):
            value = next(it, None)
            out.append(arg if value is None else f"--order={value}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mltrack`` console script; returns the exit code."""
    parser = build_parser()
    store: Store | None = None
    try:
        args = parser.parse_args(_glue_order(sys.argv[1:] if argv is None else argv))
        store = open_store(getattr(args, "store", None))
        return args.func(store, args, sys.stdout)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.code
    except InvalidQuery as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (RunNotFound, StoreError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # e.g. the database went away mid-command
        print(f"{PROG}: error: database error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    except SystemExit as exc:  # --help / --version from argparse
        return exc.code if isinstance(exc.code, int) else 0
    except BrokenPipeError:  # `mltrack runs list | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if store is not None:
            store.close()


if __name__ == "__main__":
    raise SystemExit(main())
