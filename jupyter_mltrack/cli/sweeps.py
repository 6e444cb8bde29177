"""``mltrack sweep``: search an exported pipeline's parameters from a terminal.

::

    mltrack sweep PIPELINE --param lr=loguniform(1e-4,1e-1) --param depth=int(2,10)
                  --metric acc [--goal max] [--trials 50] [--jobs 2] [--sampler tpe]
                  [--pruner median] [--executor dask://HOST:PORT] [--name N] [--seed N]
    mltrack sweep resume NAME [--executor dask://HOST:PORT]
    mltrack sweep show NAME [--json] [--html FILE]

``PIPELINE`` is an exported pipeline's folder (``mltrack export``), or a run (its number in
``-e``'s experiment, id or id prefix), exported first into ``sweeps/<name>``. A folder named
``resume`` or ``show`` is given as ``./resume``. The argument definitions are shared with
``%mltrack sweep`` (:func:`add_sweep_arguments`, :func:`sweep_options`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from ..store import Store
from .common import CliError, _print_json

ACTIONS = ("resume", "show")


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "sweep",
        help="search a pipeline's parameters (trials in parallel, each a tracked run); "
        "resume or show a sweep",
        description=__doc__.split("::")[0].strip(),
        parents=[store_opt, json_opt],
    )
    parser.add_argument(
        "target",
        metavar="PIPELINE|RUN|resume|show",
        help="an exported pipeline's folder or a run to sweep; or resume/show",
    )
    parser.add_argument("name", metavar="NAME", nargs="?", help="the sweep to resume or show")
    add_sweep_arguments(parser)
    parser.add_argument("--html", metavar="FILE", help="show: also write its charts as HTML")
    parser.add_argument(
        "--wait-running",
        type=float,
        default=None,
        metavar="SECONDS",
        help="resume: how long to wait for trials the last driver left running on live "
        "workers before running them again (default 600; 0: at once)",
    )
    parser.set_defaults(func=cmd_sweep)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a sweep (the CLI's and ``%mltrack sweep``'s)."""
    parser.add_argument(
        "--param",
        "-p",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        help="a searched parameter: lr=loguniform(1e-4,1e-1), depth=int(2,10), "
        "model=choice(rf,gb), C=[0.1,1,10] (a grid)",
    )
    parser.add_argument("--metric", "-m", metavar="M", help="the metric to optimise")
    parser.add_argument("--goal", choices=("max", "min"), default="max")
    parser.add_argument("--trials", "-n", type=int, default=50, metavar="N")
    parser.add_argument("--jobs", "-j", type=int, default=2, metavar="J")
    parser.add_argument(
        "--sampler", default="tpe", metavar="S", help="tpe (default), random, grid or cmaes"
    )
    parser.add_argument(
        "--pruner", default=None, metavar="P", help="median, halving or hyperband (default: none)"
    )
    parser.add_argument(
        "--executor",
        default=None,
        metavar="URL",
        help="dask://HOST:PORT (default: local processes)",
    )
    parser.add_argument("--sweep-name", "--name", dest="sweep_name", metavar="NAME")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--experiment", "-e", metavar="E", help="experiment of a run number")
    parser.add_argument(
        "--from-snapshots",
        action="store_true",
        help="trials read the run's snapshotted input files (every worker sees the same data)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, metavar="T", help="BLAS threads per worker (1)"
    )


def sweep_options(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(space, options)`` of ``mltrack.sweep`` from parsed arguments."""
    from ..sweeps.space import parse_param

    if not args.param:
        raise CliError("give the parameters to search: --param NAME=SPEC (one or more)", code=2)
    if not args.metric:
        raise CliError("give the metric to optimise: --metric NAME", code=2)
    space: dict[str, Any] = {}
    for text in args.param:
        try:
            name, axis = parse_param(text)
        except ValueError as exc:
            raise CliError(str(exc), code=2) from None
        space[name] = axis
    options = {
        "goal": args.goal,
        "trials": args.trials,
        "jobs": args.jobs,
        "sampler": args.sampler,
        "pruner": args.pruner,
        "executor": args.executor,
        "name": args.sweep_name,
        "seed": args.seed,
        "from_snapshots": args.from_snapshots,
        "threads": args.threads,
    }
    return space, options


def cmd_sweep(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..sweeps import api
    from ..sweeps.driver import SweepError
    from ..sweeps.space import SpaceError

    try:
        if args.target in ACTIONS:
            if not args.name:
                raise CliError(f"mltrack sweep {args.target} NAME: which sweep?", code=2)
            if args.target == "show":
                result = api.show(args.name, store=store)
                if args.html:
                    _write_html(store, result, Path(args.html))
            else:
                if args.wait_running is not None and args.wait_running < 0:
                    raise CliError("--wait-running: 0 seconds or more", code=2)
                result = api.resume(
                    args.name,
                    executor=args.executor,
                    store=store,
                    progress=not args.json,
                    wait_for_running=args.wait_running,
                )
        else:
            if args.name:
                raise CliError(f"unexpected argument {args.name!r} (the name is --name)", code=2)
            space, options = sweep_options(args)
            target: Any = args.target
            if Path(target).is_dir():
                target = Path(target)
            result = api.sweep(
                target,
                space,
                args.metric,
                store=store,
                experiment=args.experiment,
                progress=not args.json,
                **options,
            )
    except (SpaceError, SweepError) as exc:
        raise CliError(str(exc), code=2 if isinstance(exc, SpaceError) else 1) from None
    if args.json:
        _print_json(result.to_dict(), out)
    else:
        print(result.summary(), file=out)
    return 0


def _write_html(store: Store, result: Any, path: Path) -> None:
    """The sweep's best trials, optimisation history and parameter importance, one file."""
    from ..compare.charts import build_chart
    from .report import sweep_html

    figures, notes = [], []
    for heading, kind in (
        ("Optimisation history", "sweep_history"),
        ("Parameter importance", "sweep_importance"),
    ):
        try:
            figures.append((heading, build_chart(store, kind, {"sweep": result.run_id})))
        except Exception as exc:  # noqa: BLE001 (a chart that cannot be drawn is said)
            notes.append(f"{heading}: not drawn ({exc})")
    path.write_text(sweep_html(result, figures, notes))


__all__ = ["add_parsers", "add_sweep_arguments", "cmd_sweep", "sweep_options"]
