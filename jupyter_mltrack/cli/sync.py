"""``mltrack sync``: write to the store what processes kept in the local spool while it could
not be written (see :mod:`..store.spool`), and deal with the writes it refused: write them
again once their cause is fixed (``--retry``), or drop them (``--discard``)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ..store import Store
from ..store.spool import KEPT_ASIDE, SetAside, Spool, discard, replay, shown_url, spool_path
from .common import CliError, _one_line, _plural, _print_json, _when


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "sync",
        help="write runs kept locally while the store was unreachable",
        description=(
            "Write to the store what tracked cells and scripts kept in the local spool while"
            " it could not be written (a team database that was down, a full or read-only"
            " disk). A running kernel does this by itself once the store is back; this is"
            " for processes that exited before then. A write the store refuses for a reason"
            " of its own (its run deleted meanwhile, an artifact name now a registered model"
            " version) is kept aside, numbered, and listed here: --retry writes it again"
            " once the cause is fixed, --discard drops it."
        ),
        parents=[store_opt, json_opt],
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--retry",
        nargs="*",
        metavar="N",
        help="put the writes kept aside (all, or those numbered N) back in order, then sync",
    )
    what.add_argument(
        "--discard",
        nargs="+",
        metavar="N",
        help=(
            "drop the writes kept aside numbered N ('all': every one), for good; gc then"
            " frees the files of artifacts among them"
        ),
    )
    parser.set_defaults(func=cmd_sync)


def cmd_sync(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    spool = Spool(spool_path(store.url), store.url)
    try:
        if args.discard is not None:
            return _discard(store, spool, _numbers(args.discard, spool), args.json, out)
        retried = 0
        if args.retry is not None and spool.exists():
            retried = spool.requeue(_numbers(args.retry or ["all"], spool))
        return _sync(store, spool, retried, args.json, out)
    finally:
        spool.close()


def _numbers(given: list[str], spool: Spool) -> list[int] | None:
    """The set-aside writes named on the command line (``None``: all of them), each checked
    to be one: a mistyped number must not pass for done."""
    if [g.lower() for g in given] == ["all"]:
        return None
    try:
        numbers = [int(g.lstrip("#")) for g in given]
    except ValueError:
        raise CliError(
            f"writes kept aside are named by their numbers (as `mltrack sync` lists them) or"
            f" 'all', not {' '.join(given)!r}",
            2,
        ) from None
    kept = {item.seq for item in spool.set_aside()}
    unknown = [n for n in numbers if n not in kept]
    if unknown:
        listed = ", ".join(f"#{n}" for n in sorted(kept)) or "none"
        raise CliError(
            f"no write kept aside numbered {', '.join(f'#{n}' for n in unknown)}"
            f" (kept aside: {listed})",
            2,
        )
    return numbers


def _sync(store: Store, spool: Spool, retried: int, as_json: bool, out: TextIO) -> int:
    result: dict[str, Any] = {"store": shown_url(store.url), "retried": retried}
    kept: list[SetAside] = []
    if not spool.exists():
        result.update(written=0, runs=[], left=0, refused=[])
    else:
        done = replay(store, spool)
        kept = spool.set_aside()
        result.update(
            spool=str(spool.path),
            written=done.written,
            runs=list(done.runs),
            left=done.left,
            refused=[item.as_json() for item in kept],
        )
    if as_json:
        _print_json(result, out)
        return _status(result)
    if retried:
        out.write(f"{_plural(retried, 'write')} kept aside put back in the queue\n")
    if not result["written"] and not result["left"] and not result["refused"]:
        out.write(f"nothing to sync: no writes kept locally for {result['store']}\n")
        return 0
    out.write(
        f"{_plural(result['written'], 'write')} ({_plural(len(result['runs']), 'new run')})"
        f" written to {result['store']}\n"
    )
    if result["left"]:
        out.write(
            f"{_plural(result['left'], 'write')} still kept in {result['spool']}: the store"
            " could not take them now (or another process is writing them); try again\n"
        )
    if kept:
        out.write(f"{_plural(len(kept), 'write')} refused by the store:\n")
        for item in kept:
            out.write(_line(item))
        out.write(KEPT_ASIDE + "\n")
    return _status(result)


def _status(result: dict[str, Any]) -> int:
    return 1 if result["left"] or result["refused"] else 0


def _discard(
    store: Store, spool: Spool, numbers: list[int] | None, as_json: bool, out: TextIO
) -> int:
    dropped = discard(store, spool, numbers) if spool.exists() else []
    left = spool.set_aside()
    holds = sum(item.hold is not None for item in dropped)
    if as_json:
        _print_json(
            {
                "store": shown_url(store.url),
                "discarded": [item.as_json() for item in dropped],
                "holds_dropped": holds,
                "refused": [item.as_json() for item in left],
            },
            out,
        )
        return 0
    if not dropped:
        out.write(f"nothing to discard: no write kept aside for {shown_url(store.url)}\n")
        return 0
    out.write(f"discarded {_plural(len(dropped), 'write')} kept aside:\n")
    for item in dropped:
        out.write(_line(item))
    if holds:
        out.write(
            f"the files of {_plural(holds, 'artifact')} are no longer kept: `mltrack gc`"
            " frees those no other artifact shares\n"
        )
    if left:
        out.write(f"{_plural(len(left), 'write')} still kept aside\n")
    return 0


def _line(item: SetAside) -> str:
    """One write kept aside: its number (what --retry and --discard take), when it was
    refused, its run and artifact, and the store's reason."""
    what = f" {item.artifact!r}" if item.artifact else ""
    run = f" of run {item.run_id[:8]}" if item.run_id else ""
    return f"  #{item.seq}  {_when(item.at)}  {item.op}{what}{run}: {_reason(item)}\n"


def _reason(item: SetAside) -> str:
    """The store's error without the write's name, which the line gives already."""
    text = _one_line(item.error)
    prefix = f"{item.op}: "
    return text[len(prefix) :] if text.startswith(prefix) else text
