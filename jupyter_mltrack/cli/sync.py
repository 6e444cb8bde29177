"""``mltrack sync``: write to the store what processes kept in the local spool while it could
not be written (see :mod:`..store.spool`)."""

from __future__ import annotations

import argparse
from typing import TextIO

from ..store import Store
from ..store.spool import Spool, replay, shown_url, spool_path
from .common import _plural, _print_json


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    commands.add_parser(
        "sync",
        help="write runs kept locally while the store was unreachable",
        description=(
            "Write to the store what tracked cells and scripts kept in the local spool while"
            " it could not be written (a team database that was down, a full or read-only"
            " disk). A running kernel does this by itself once the store is back; this is"
            " for processes that exited before then."
        ),
        parents=[store_opt, json_opt],
    ).set_defaults(func=cmd_sync)


def cmd_sync(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    spool = Spool(spool_path(store.url), store.url)
    if not spool.exists():
        result = {"store": shown_url(store.url), "written": 0, "runs": [], "left": 0, "refused": []}
    else:
        try:
            done = replay(store, spool)
            refused = [{"seq": s, "write": op, "error": e} for s, op, e in spool.failures()]
        finally:
            spool.close()
        result = {
            "store": shown_url(store.url),
            "spool": str(spool.path),
            "written": done.written,
            "runs": list(done.runs),
            "left": done.left,
            "refused": refused,
        }
    if args.json:
        _print_json(result, out)
    elif not result["written"] and not result["left"] and not result["refused"]:
        out.write(f"nothing to sync: no writes kept locally for {result['store']}\n")
    else:
        out.write(
            f"{_plural(result['written'], 'write')} ({_plural(len(result['runs']), 'new run')})"
            f" written to {result['store']}\n"
        )
        if result["left"]:
            out.write(
                f"{_plural(result['left'], 'write')} still kept in {result['spool']}: the store"
                " could not take them now (or another process is writing them); try again\n"
            )
        for item in result["refused"]:
            out.write(f"refused by the store, kept aside: {item['write']}: {item['error']}\n")
    return 1 if result["left"] or result["refused"] else 0
