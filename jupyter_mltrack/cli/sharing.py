"""``mltrack push`` and ``mltrack pull``: copy work between this store and another.

::

    mltrack push --to URL [--to-blobs BLOB_URL] [--runs FILTER | --experiment E |
                 --dataset NAME | --model NAME] [--json]
    mltrack pull --from URL [--from-blobs BLOB_URL] [same selection] [--json]

The other store's blobs: ``--to-blobs``/``--from-blobs``, else ``MLTRACK_BLOB_URL`` (as
for any store), else the ``blobs/`` folder beside a SQLite store, else the blob URL a team
store remembers (it records the one it is first pushed with: ``store/settings.py``). Progress goes to
stderr, the summary (or ``--json``: the report's ``to_dict()``) to stdout. Exit 0 when all
is copied, 3 when it is but conflicts were left as they are (listed, and said on stderr), 1
when something could not be read or written, 2 for a wrong command line (a bad filter).

The work is :mod:`..sharing`'s; this module reads arguments, opens the other store and
prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from ..location import resolve_store_url
from ..sharing import NothingToTransfer, TransferReport, pull, push
from ..store import Store
from ..store.settings import remote_blob_url
from ..store.spool import shown_url
from .common import PROG, CliError, _one_line, _plural, _print_json

#: Exit code of a transfer that left conflicts (everything else was copied).
CONFLICTS = 3


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    for name, option, blobs, helptext in (
        (
            "push",
            "--to",
            "--to-blobs",
            "copy runs, snapshots, datasets and models to another store",
        ),
        (
            "pull",
            "--from",
            "--from-blobs",
            "copy runs, snapshots, datasets and models from another store",
        ),
    ):
        sub = commands.add_parser(
            name,
            help=helptext,
            description=(
                f"{helptext[0].upper()}{helptext[1:]} (a team's PostgreSQL + S3 store, or any"
                " other), sending only the blobs and rows it lacks: doing it again sends"
                " nothing. Runs keep their ids and get the next numbers of the store they"
                " reach (the tag mltrack.origin says where they were first recorded). What"
                " both stores hold differently (a run's name, note or tags edited on both"
                " sides, a dataset tag or model alias pointing elsewhere) is reported and"
                f" left as it is; the exit code is then {CONFLICTS}. Without a selection,"
                " everything is copied."
            ),
            parents=[store_opt, json_opt],
        )
        sub.add_argument(
            option,
            dest="other",
            required=True,
            metavar="URL",
            help="the other store: a database URL or a .mltrack folder",
        )
        sub.add_argument(
            blobs,
            dest="other_blobs",
            metavar="BLOB_URL",
            help="the other store's blobs (s3://bucket/prefix…; default: $MLTRACK_BLOB_URL,"
            " else beside a SQLite store, else what a team store remembers; a team store"
            " that remembers none remembers this one)",
        )
        what = sub.add_mutually_exclusive_group()
        what.add_argument("--runs", metavar="FILTER", help="the runs this query selects")
        what.add_argument("--experiment", "-e", metavar="E", help="an experiment's runs")
        what.add_argument("--dataset", metavar="NAME", help="a dataset: every version and tag")
        what.add_argument(
            "--model", metavar="NAME", help="a registered model, its versions and their runs"
        )
        sub.set_defaults(
            func=cmd_push if name == "push" else cmd_pull, creates_store=name == "pull"
        )


def open_other(url: str, blob_url: str | None, err: TextIO) -> Store:
    """The other store, created if new (the user named it), with its blob store checked
    now: a team store without a known blob location is a clear error, not a failure
    halfway. A blob URL given for a team store that remembers none is remembered."""
    try:
        other = Store(resolve_store_url(url), blob_url=blob_url)
    except Exception as exc:
        raise CliError(f"cannot open {shown_url(url)}: {_one_line(exc)}") from None
    try:
        remembered = other.remembered_blob_url() if other.home is None else None
        if blob_url and other.home is None and remote_blob_url(blob_url):
            if remembered is None:
                other.remember_blob_url(blob_url)
                err.write(f"{PROG}: {shown_url(other.url)} now remembers its blobs at {blob_url}\n")
            elif remembered != blob_url:
                err.write(
                    f"{PROG}: warning: {shown_url(other.url)} remembers its blobs at "
                    f"{remembered}; using {blob_url} as asked\n"
                )
        other.blobs  # noqa: B018 (opened now, to fail before anything is copied)
    except ValueError as exc:
        other.close()
        raise CliError(
            f"{_one_line(exc)} (pass the other store's blob URL: --to-blobs / --from-blobs)"
        ) from None
    except ImportError as exc:
        other.close()
        raise CliError(_one_line(exc)) from None
    return other


def _selection(args: argparse.Namespace) -> dict[str, str | None]:
    return {
        "runs": args.runs,
        "experiment": args.experiment,
        "dataset": args.dataset,
        "model": args.model,
    }


def _progress(line: str) -> None:
    sys.stderr.write(f"{PROG}: {line}\n")
    sys.stderr.flush()


def cmd_push(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    return _transfer(push, store, args, out)


def cmd_pull(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    return _transfer(pull, store, args, out)


def _transfer(
    how: Callable[..., TransferReport], store: Store, args: argparse.Namespace, out: TextIO
) -> int:
    """``push`` or ``pull`` between ``store`` and the store the options name."""
    other = open_other(args.other, args.other_blobs, sys.stderr)
    try:
        report = how(store, other, progress=_progress, **_selection(args))
    except NothingToTransfer as exc:
        raise CliError(str(exc)) from None
    finally:
        other.close()
    return _finish(report, args, out)


def _finish(report: TransferReport, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        _print_json(report.to_dict(), out)
    else:
        out.write(report.summary())
    if not report.conflicts:
        return 0
    sys.stderr.write(
        f"{PROG}: {_plural(len(report.conflicts), 'conflict')} left as they are in "
        f"{report.destination} (the rest was copied); change one side and run again:\n"
    )
    for conflict in report.conflicts:
        sys.stderr.write(f"  {conflict.message()}\n")
    return CONFLICTS
