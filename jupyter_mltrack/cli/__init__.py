"""``mltrack``: look at recorded runs from a terminal, without starting Jupyter.

::

    mltrack [--store URL] experiments [--json]
    mltrack [--store URL] runs list [--experiment E] [--notebook P] [--status S]
                                    [--order O] [--limit N] [--offset N] [--json]
    mltrack [--store URL] runs show RUN [--experiment E] [--json]
    mltrack [--store URL] runs compare A B [C ...] [--baseline A] [--all] [--reducer KEY:SPEC]
                                       [--step N] [--experiment E] [--html FILE] [--json]
    mltrack [--store URL] runs explain A B --metric KEY [--experiment E] [--json]
    mltrack [--store URL] snapshots list [--run RUN [--experiment E]] [--limit N] [--offset N]
                                         [--json]
    mltrack [--store URL] snapshots show REF [--json]
    mltrack [--store URL] snapshots diff A B [--sample N] [--json]
    mltrack [--store URL] snapshots restore REF [-o PATH] [--format F] [--force]
    mltrack [--store URL] gc [--dry-run] [--json]
    mltrack [--store URL] export NOTEBOOK (--target NAME ... | --run RUN) -o DIR [--json]
    mltrack [--store URL] reproduce RUN [-o DIR] [--rtol X] [--atol X] [--from-snapshots] [--json]
    mltrack [--store URL] sync [--retry [N ...] | --discard N ... | --discard all] [--json]
    mltrack [--store URL] push --to URL [--to-blobs BLOB_URL] [--runs FILTER | --experiment E
                               | --dataset NAME | --model NAME] [--json]
    mltrack [--store URL] pull --from URL [--from-blobs BLOB_URL] [--runs FILTER | ...] [--json]
    mltrack [--store URL] artifacts list RUN [-e E] [--files] [--json]
    mltrack [--store URL] artifacts get RUN NAME [-e E] [--path P] [-o DEST] [--force]
    mltrack [--store URL] models list [--json]
    mltrack [--store URL] models show NAME [--json]
    mltrack [--store URL] models register NAME RUN/ARTIFACT [-e E] [-d TEXT] [--json]
    mltrack [--store URL] models alias NAME ALIAS (VERSION | --delete) [--json]
    mltrack [--store URL] models delete-version NAME VERSION [--force]
    mltrack [--store URL] models delete NAME [--force]
    mltrack [--store URL] models lineage REF [-e E] [--code] [--json]
    mltrack [--store URL] datasets list [--json]
    mltrack [--store URL] datasets versions NAME [--json]
    mltrack [--store URL] datasets show REF [--json]
    mltrack [--store URL] datasets push PATH NAME [-m TEXT] [--meta JSON] [-t TAG] [--table]
                                        [--json]
    mltrack [--store URL] datasets get REF [-o PATH] [--format F] [--force]
    mltrack [--store URL] datasets tag REF TAG [--delete] [--json]
    mltrack [--store URL] datasets diff A B [--sample N] [--json]
    mltrack [--store URL] sweep PIPELINE|RUN --param NAME=SPEC ... --metric M [--goal G]
                                [--trials N] [--jobs J] [--sampler S] [--pruner P]
                                [--executor dask://HOST:PORT] [--name N] [--seed N] [--json]
    mltrack [--store URL] sweep resume NAME [--executor URL] [--json]
    mltrack [--store URL] sweep show NAME [--json] [--html FILE]
    mltrack cache info [--json]
    mltrack cache clean [--max-size SIZE | --all] [--json]

The store is found as the kernel and server find it (``--store``, ``MLTRACK_STORE_URL``,
``MLTRACK_HOME``, the nearest ``.mltrack/``), except that the CLI never creates one: a typo'd
path should say "no store here", not silently show an empty new database. (``pull`` does,
when the store is named with ``--store`` or ``MLTRACK_STORE_URL``: filling a new store is
what it is for.) ``--json`` prints
what the REST API answers (the entities' ``to_dict()``), so scripts can use either. Exit
codes: 0 success, 1 the thing asked for does not exist, cannot be read or written, or the
store cannot be opened, 2 the command line is wrong (including an ambiguous prefix).

The snapshot modules import numpy, pandas and pyarrow, and ``runs compare --html`` plotly;
they are imported only by the commands that need them, so ``mltrack runs list`` stays quick to
start.

One module per command group (:mod:`.experiments`, :mod:`.runs`, :mod:`.compare`,
:mod:`.snapshots`, :mod:`.pipeline`, :mod:`.sync`, :mod:`.sharing` (push, pull),
:mod:`.artifacts`, :mod:`.models`, :mod:`.datasets`, :mod:`.sweeps`, :mod:`.cache`), shared
helpers in :mod:`.common`; this module wires the parser and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from ..location import URL_ENV
from ..placing import WriteError
from ..safepaths import PathRefused
from ..server.api import ApiError
from ..store import InvalidQuery, RunNotFound, Store, StoreError
from . import (
    artifacts,
    cache,
    compare,
    datasets,
    experiments,
    models,
    pipeline,
    runs,
    sharing,
    snapshots,
    sweeps,
    sync,
)
from .common import PROG, CliError, _one_line, _Parser, open_store

# Helpers that lived in the single ``cli.py`` before the split, still importable from here.
from .common import _bytes as _bytes
from .common import _publish as _publish

__all__ = ["PROG", "CliError", "build_parser", "main", "open_store"]


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
        prog=PROG,
        description="Inspect runs and dataset snapshots recorded by jupyter_mltrack.",
        parents=[store_opt],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    experiments.add_parsers(commands, store_opt, json_opt)
    runs_commands = runs.add_parsers(commands, store_opt, json_opt)
    compare.add_parsers(runs_commands, store_opt, json_opt)
    snapshots.add_parsers(commands, store_opt, json_opt)
    pipeline.add_parsers(commands, store_opt, json_opt)
    sync.add_parsers(commands, store_opt, json_opt)
    sharing.add_parsers(commands, store_opt, json_opt)
    artifacts.add_parsers(commands, store_opt, json_opt)
    models.add_parsers(commands, store_opt, json_opt)
    datasets.add_parsers(commands, store_opt, json_opt)
    sweeps.add_parsers(commands, store_opt, json_opt)
    cache.add_parsers(commands, store_opt, json_opt)
    return parser


def _glue_order(argv: Sequence[str]) -> list[str]:
    """``--order -duration`` -> ``--order=-duration``: argparse would take ``-duration`` for an
    option, and descending order is the common case. Only after ``runs``: elsewhere ``-o``
    is ``snapshots restore``'s output path."""
    out: list[str] = []
    in_runs = False
    it = iter(argv)
    for arg in it:
        if arg == "--store":  # its value is never a command name
            out.append(arg)
            value = next(it, None)
            if value is not None:
                out.append(value)
        elif in_runs and arg in ("--order", "-o"):
            value = next(it, None)
            out.append(arg if value is None else f"--order={value}")
        else:
            in_runs = in_runs or arg == "runs"
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mltrack`` console script; returns the exit code."""
    parser = build_parser()
    store: Store | None = None
    try:
        args = parser.parse_args(_glue_order(sys.argv[1:] if argv is None else argv))
        if getattr(args, "needs_store", True):  # (``cache`` is this machine's, not a store's)
            store = open_store(
                getattr(args, "store", None), create=getattr(args, "creates_store", False)
            )
        return args.func(store, args, sys.stdout)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.code
    except ApiError as exc:  # the REST API's refusals: 400 is a bad argument, others exit 1
        print(f"{PROG}: error: {_one_line(exc.message)}", file=sys.stderr)
        return 2 if exc.status == 400 else 1
    except InvalidQuery as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (RunNotFound, StoreError, PathRefused, WriteError) as exc:
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
