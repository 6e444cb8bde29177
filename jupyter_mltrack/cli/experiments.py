"""``mltrack experiments``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from ..store import Experiment, Store
from .common import _cut, _print_json, _when, table


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    commands.add_parser(
        "experiments", help="list experiments", parents=[store_opt, json_opt]
    ).set_defaults(func=cmd_experiments)


def experiments_table(experiments: Sequence[Experiment]) -> str:
    rows = [
        [_cut(e.name), str(e.run_count), _when(e.last_run_at), _when(e.created_at)]
        for e in experiments
    ]
    return table(["EXPERIMENT", "RUNS", "LAST RUN", "CREATED"], rows, right=frozenset({1}))


def cmd_experiments(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    experiments = store.list_experiments()
    if args.json:
        _print_json({"experiments": [e.to_dict() for e in experiments]}, out)
    elif not experiments:
        out.write("no experiments yet\n")
    else:
        out.write(experiments_table(experiments) + "\n")
    return 0
