"""``mltrack cache``: what the local cache of remote blobs holds, and emptying it.

The cache (:mod:`..snapshots.cache`) belongs to this machine's user, not to a store, so
these commands open no store.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from ..snapshots.cache import cache_dir
from ..snapshots.eviction import CACHE_SIZE_ENV, evict, parse_size, size_limit, usage
from .common import CliError, _bytes, _print_json


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    cache = commands.add_parser(
        "cache",
        help="the local cache of a remote store's blobs (dataset versions read from S3, …)",
    )
    sub = cache.add_subparsers(dest="cache_command", metavar="COMMAND")
    sub.required = True
    sub.add_parser(
        "info", help="where the cache is, what it holds, its size limit", parents=[json_opt]
    ).set_defaults(func=cmd_cache_info, needs_store=False)
    clean = sub.add_parser(
        "clean",
        help="remove the least recently used entries (read again from the store when needed)",
        parents=[json_opt],
    )
    which = clean.add_mutually_exclusive_group()
    which.add_argument(
        "--max-size",
        metavar="SIZE",
        help=f"keep at most this much (20G, 500M; default: ${CACHE_SIZE_ENV})",
    )
    which.add_argument("--all", action="store_true", help="remove everything")
    clean.set_defaults(func=cmd_cache_clean, needs_store=False)


def _limit() -> int | None:
    try:
        return size_limit()
    except ValueError as exc:
        raise CliError(str(exc), 2) from None


def cmd_cache_info(_store: object, args: argparse.Namespace, out: TextIO) -> int:
    found = usage(cache_dir(), _limit())
    if args.json:
        _print_json(found.to_dict(), out)
        return 0
    limit = _bytes(found.limit) if found.limit is not None else f"none (${CACHE_SIZE_ENV} unset)"
    out.write(
        f"cache:   {found.root}\n"
        f"holds:   {_bytes(found.bytes)} in {found.blobs} blob(s) and {found.folders} folder(s)\n"
        f"limit:   {limit}\n"
    )
    return 0


def cmd_cache_clean(_store: object, args: argparse.Namespace, out: TextIO) -> int:
    if args.all:
        limit = 0
    elif args.max_size is not None:
        try:
            limit = parse_size(args.max_size)
        except ValueError as exc:
            raise CliError(f"--max-size: {exc}", 2) from None
    else:
        configured = _limit()
        if configured is None:
            raise CliError(
                f"say how much to keep: --max-size SIZE, or --all (or set ${CACHE_SIZE_ENV})", 2
            )
        limit = configured
    # asked for by hand: what was used a moment ago goes too
    done = evict(cache_dir(), limit, keep_recent=0)
    if args.json:
        _print_json(done.to_dict(), out)
        return 0
    out.write(
        f"removed {done.entries} entr{'y' if done.entries == 1 else 'ies'}, freed"
        f" {_bytes(done.freed)}; the cache holds {_bytes(done.after.bytes)}\n"
    )
    return 0
