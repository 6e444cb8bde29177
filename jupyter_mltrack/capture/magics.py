"""``%%track`` and ``%mltrack``: the notebook face of the tracker (jupysql-style magics).

A ``%%track`` cell is run by IPython as an ordinary cell: an input transformer blanks the
``%%track`` line, and the ``pre_run_cell``/``post_run_cell`` hooks open and close a
:class:`~.cell.TrackedCell` around it. So the user's namespace, ``Out[n]``, tracebacks and
failures behave exactly as without the magic (a failing cell still fails, after the run is
recorded). Options are parsed with ``magic_arguments`` from the ``%%track`` line.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Dict, Enum, Int, TraitError, Unicode, validate
from traitlets.config import Configurable

from . import api
from .cell import TrackedCell
from .data import FileAccess
from .history import ExecutionLog
from .outputs import MAX_OUTPUT_BYTES


def _is_track_line(line: str) -> bool:
    stripped = line.strip()
    return stripped == "%%track" or stripped.startswith("%%track ")


@magics_class
class TrackMagics(Magics, Configurable):
    """Track notebook cells as runs. Configure with ``%config TrackMagics.<option> = …``."""

    experiment = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Experiment for runs without -e (default: the notebook's name).",
    )
    run_card = Bool(True, config=True, help="Show a run card under each tracked cell.")
    card_reducer = Enum(
        ["last", "best", "min", "max", "mean"],
        "last",
        config=True,
        help="What the run card shows of each metric, and compares with the experiment's "
        "best run on: the latest value, or the best (min or max by the metric's goal), "
        "min, max or mean of every value the run logged.",
    )
    card_reducers = Dict(
        {},
        config=True,
        help="The same per metric, e.g. {'val_acc': 'best', 'loss': 'min'}; card_reducer "
        "for the others.",
    )

    @validate("card_reducers")
    def _check_card_reducers(self, proposal: Any) -> dict[str, str]:
        """Refuse an unknown reducer when it is set, with the ones there are: silently
        showing the latest value instead would pass for what was asked."""
        from .runcard import CARD_REDUCERS

        value = proposal["value"]
        for key, reducer in value.items():
            if not isinstance(key, str) or reducer not in CARD_REDUCERS:
                raise TraitError(
                    f"card_reducers[{key!r}] = {reducer!r}: use one of " + ", ".join(CARD_REDUCERS)
                )
        return value

    capture_reads = Bool(True, config=True, help="Record simple values a cell reads as parameters.")
    snapshot_data = Bool(
        True,
        config=True,
        help="Snapshot the DataFrames, arrays and files tracked cells read and write.",
    )
    max_output_bytes = Int(
        MAX_OUTPUT_BYTES, config=True, help="Largest single output stored, in bytes."
    )
    autolog = Bool(
        True,
        config=True,
        help="Record the params, scores and training curves of scikit-learn, XGBoost and "
        "LightGBM calls in tracked cells (%%track --no-autolog turns it off for one cell).",
    )

    keep_written_files = Bool(
        False,
        config=True,
        help="Also keep the files tracked cells write as artifacts of their run, "
        "downloadable and previewable beside it (%%track --artifacts for one cell).",
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        #: Tracked cells being executed (more than one only when a cell runs another).
        self._cells: list[TrackedCell] = []
        #: The session's execution log (set when the extension is loaded).
        self.log: ExecutionLog | None = None
        self._transforming: str | None = None
        self._transformed: tuple[str, str] | None = None
        #: Whether the kernel waits for tracked cells' final writes before it reports idle
        #: (see :func:`_settle_before_idle`): they are then written while it sends the reply.
        self.settles_before_idle = False
        #: ``%%track`` lines already parsed (see :meth:`_options`).
        self._parsed: dict[str, Any] = {}

    # %%track ------------------------------------------------------------------------------

    @magic_arguments()
    @argument("name", nargs="?", default=None, help="A name for the run.")
    @argument("-e", "--experiment", default=None, help="Experiment to record the run in.")
    @argument(
        "-p",
        "--param",
        action="append",
        default=[],
        nargs="+",
        metavar="NAME",
        help="Record these variables' values after the cell as parameters.",
    )
    @argument(
        "-m",
        "--metric",
        action="append",
        default=[],
        nargs="+",
        metavar="NAME",
        help="Record these variables' values after the cell as metrics.",
    )
    @argument(
        "-t",
        "--tag",
        action="append",
        default=[],
        nargs="+",
        metavar="TAG",
        help="Tag the run (TAG or KEY=VALUE).",
    )
    @argument("--no-card", action="store_true", help="Do not show the run card.")
    @argument(
        "--no-autolog",
        action="store_true",
        help="Do not record params and metrics from scikit-learn, XGBoost and LightGBM calls.",
    )
    @argument(
        "--no-snapshot",
        action="store_true",
        help="Do not snapshot the DataFrames, arrays and files the cell reads and writes.",
    )
    @argument(
        "--artifacts",
        action="store_true",
        help="Also keep the files the cell writes as artifacts of the run.",
    )
    @argument(
        "--snapshot",
        action="append",
        default=[],
        nargs="+",
        metavar="NAME",
        help="Also snapshot these variables: as inputs if they exist before the cell, and "
        "as outputs if the cell assigns them.",
    )
    @cell_magic
    def track(self, line: str, cell: str) -> Any:
        """Run the cell as a tracked run: ``%%track [NAME] [-e EXP] [-p NAME …] [-m NAME …] [-t TAG …]``.

        A cell starting with ``%%track`` never reaches this method in practice: the input
        transformer below hands it to IPython as a normal cell and the pre/post-run hooks
        record it, so tracebacks, ``Out[n]``, ``;`` and top-level ``await`` behave exactly as
        in an untracked cell. This is the path for ``run_cell_magic("track", …)`` calls.
        """
        self._parse(line)  # report bad options before running anything
        self.shell.run_cell(f"%%track {line}\n{cell}", store_history=False)

    # hooks --------------------------------------------------------------------------------

    def strip_magic_line(self, lines: list[str]) -> list[str]:
        """Input transformer: blank the ``%%track`` line (keeping line numbers)."""
        if lines and _is_track_line(lines[0]):
            self._transforming = "".join(lines)
            return ["\n", *lines[1:]]
        self._transforming = None
        return lines

    def keep_transformed(self, lines: list[str]) -> list[str]:
        """Last input transformer: remember the Python IPython is about to run for a tracked
        cell, so the pre-run hook analyses it without transforming the cell a second time."""
        if self._transforming is not None:
            self._transformed = (self._transforming, "".join(lines))
            self._transforming = None
        return lines

    def _transformed_source(self, raw: str) -> str | None:
        stash, self._transformed = self._transformed, None
        if stash is not None and stash[0].rstrip("\n") == raw.rstrip("\n"):
            return stash[1]
        return None

    def pre_run_cell(self, info: Any) -> None:
        """A ``%%track`` cell is about to run: parse its options and open its run."""
        raw = getattr(info, "raw_cell", None) or ""
        first, _, body = raw.lstrip("\n").partition("\n")
        if not _is_track_line(first):
            return
        line = first.strip()[len("%%track") :].strip()
        try:
            args = self._options(line)
        except Exception as exc:  # bad options: the cell still runs, untracked, and says why
            print(f"mltrack: not tracking this cell: {exc}", file=sys.stderr)
            return
        try:
            cell = TrackedCell(self, args, body, info, self._transformed_source(raw))
        except Exception as exc:
            api.say_store_notices()
            if not getattr(exc, "said", False):  # the store says it once, just above
                print(f"mltrack: could not start a run: {exc}", file=sys.stderr)
            return
        self._cells.append(cell)

    def _parse(self, line: str) -> Any:
        """The options of a ``%%track`` line, split into words as a shell splits them:
        ``%%track "my run" -e 'a b'`` names the run ``my run`` in experiment ``a b`` (the
        exported pipeline's ``runslice`` reads the line so too). ``magic_arguments``' own
        split keeps the quotes, which then became part of the names."""
        try:
            words = shlex.split(line)
        except ValueError as exc:  # an unclosed quote
            raise UsageError(f"{exc}: {line}") from None
        return self.track.parser.parse_args(words)

    def _options(self, line: str) -> Any:
        """The parsed options of a ``%%track`` line: parsed once per distinct line (a cell
        run again has the same), as a copy, so a cell never sees another's changes."""
        cache = self._parsed
        parsed = cache.get(line)
        if parsed is None:
            parsed = self._parse(line)
            if len(cache) >= 256:
                cache.clear()
            cache[line] = parsed
        return argparse.Namespace(**{k: _copied(v) for k, v in vars(parsed).items()})

    def post_run_cell(self, result: Any) -> None:
        api.after_cell()  # idle-time work the next tracked cell would otherwise wait for
        info = getattr(result, "info", None)
        for cell in reversed(self._cells):
            if cell.info is info:
                self._cells.remove(cell)
                cell.finish(result)
                return

    # %mltrack -----------------------------------------------------------------------------

    @line_magic
    def mltrack(self, line: str) -> Any:
        """``%mltrack store [URL]`` show or change the store; ``%mltrack experiment [NAME]``
        show or set the default experiment; ``%mltrack runs`` list this notebook's runs;
        ``%mltrack export [-t NAME …] [--run RUN] [-o DIR]`` write a pipeline script;
        ``%mltrack compare 3 5 7 [-e EXP] [--metric KEY] [--baseline RUN]`` compare runs (a
        widget); ``%mltrack explain 3 5 --metric KEY [-e EXP]`` why a metric changed between
        two runs; ``%mltrack sweep RUN --param NAME=SPEC … --metric M`` search the run's
        parameters (``resume NAME``, ``show NAME``). Runs are named by number in the current
        experiment (the one a bare ``%%track`` cell records into, or ``-e``), id or id
        prefix."""
        words = line.split()
        if not words:
            print(self.mltrack.__doc__)
            return None
        cmd, rest = words[0], words[1:]
        if cmd == "store":
            if rest:
                store = api.set_store(rest[0])
                print(f"mltrack: recording to {store!r}")
            else:
                print(repr(api.get_store()))
            return None
        if cmd == "experiment":
            from .refs import current_experiment

            if rest:
                self.experiment = " ".join(rest)
            print(f"mltrack: experiment = {current_experiment()}")
            return None
        if cmd == "runs":
            return self._list_runs()
        if cmd == "export":
            return self._export(rest)
        if cmd in ("compare", "explain"):
            return self._compare(cmd, rest)
        if cmd == "sweep":
            return self._sweep(line.split(None, 1)[1] if len(words) > 1 else "")
        raise UsageError(
            f"unknown %mltrack command {cmd!r}; "
            "use store, experiment, runs, export, compare, explain or sweep"
        )

    def _sweep(self, text: str) -> Any:
        """``%mltrack sweep RUN --param lr=loguniform(1e-4,1e-1) --metric acc --trials 50
        --jobs 2`` sweeps the run's pipeline (exported first, into ``sweeps/<name>``);
        ``%mltrack sweep resume NAME`` and ``%mltrack sweep show NAME``. Returns the sweep's
        result (its summary shows the best trials)."""
        import argparse
        import shlex

        from ..cli.common import CliError
        from ..cli.sweeps import ACTIONS, add_sweep_arguments, sweep_options
        from ..sweeps import api as sweeps
        from ..sweeps.driver import SweepError
        from .refs import current_experiment

        class Parser(argparse.ArgumentParser):
            def error(self, message: str) -> Any:  # argparse would print usage and exit
                raise UsageError(f"{self.prog}: {message}")

        parser = Parser(prog="%mltrack sweep", add_help=False)
        parser.add_argument("-h", "--help", action="store_true")
        parser.add_argument("target", nargs="?")
        parser.add_argument("name", nargs="?")
        add_sweep_arguments(parser)
        try:
            args = parser.parse_args(shlex.split(text))
        except ValueError as exc:  # an unclosed quote
            raise UsageError(f"%mltrack sweep: {exc}") from None
        if args.help or not args.target:
            parser.print_help()
            return None
        api.wait_pending()  # the run's cells are on their way to the store
        try:
            if args.target in ACTIONS:
                if not args.name:
                    raise UsageError(f"%mltrack sweep {args.target} NAME: which sweep?")
                if args.target == "show":
                    return sweeps.show(args.name)
                return sweeps.resume(args.name, executor=args.executor)
            space, options = sweep_options(args)
            return sweeps.sweep(
                args.target,
                space,
                args.metric,
                experiment=args.experiment or current_experiment(),
                **options,
            )
        except (CliError, SweepError, ValueError) as exc:
            raise UsageError(f"%mltrack sweep: {exc}") from None

    def _compare(self, cmd: str, words: list[str]) -> Any:
        """``%mltrack compare RUN RUN … [-e EXP] [--metric KEY] [--baseline RUN]`` (the
        compare widget) and ``%mltrack explain A B --metric KEY [-e EXP]`` (the explanation),
        as ``mltrack.compare`` and ``mltrack.explain`` give them; errors are one line, not a
        traceback; ``--help`` prints the usage."""
        import argparse

        import jupyter_mltrack

        from ..compare import CompareError
        from .refs import RunRefError

        class Parser(argparse.ArgumentParser):
            def error(self, message: str) -> Any:  # argparse would print usage and exit
                raise UsageError(f"{self.prog}: {message}")

        explaining = cmd == "explain"
        parser = Parser(
            prog=f"%mltrack {cmd}",
            add_help=False,
            description="Why a metric changed between two runs."
            if explaining
            else "Compare runs in a widget: what differs, charts, why.",
            epilog="Runs are named by number in the current experiment (the one a bare "
            "%%track cell records into; -e names another), by id or by id prefix.",
        )
        parser.add_argument("-h", "--help", action="store_true", help="Show this help.")
        parser.add_argument(
            "runs",
            nargs="*",
            metavar="RUN",
            help="the two runs (A B)" if explaining else "the runs to compare",
        )
        parser.add_argument(
            "-e", "--experiment", help="the experiment run numbers are looked up in"
        )
        parser.add_argument(
            "-m",
            "--metric",
            help="the metric whose change to explain (required)"
            if explaining
            else "the metric the charts and the explanation start with",
        )
        if not explaining:
            parser.add_argument(
                "-b", "--baseline", metavar="RUN", help="the run the others are compared with"
            )
        args = parser.parse_args(words)
        if args.help:
            print(parser.format_help())
            return None
        if cmd == "explain" and (len(args.runs) != 2 or not args.metric):
            raise UsageError(
                "%mltrack explain: name two runs and a metric: %mltrack explain 3 5 --metric KEY"
            )
        experiment = args.experiment or self.experiment
        try:
            if cmd == "compare":
                return jupyter_mltrack.compare(
                    *args.runs, experiment=experiment, metric=args.metric, baseline=args.baseline
                )
            return jupyter_mltrack.explain(*args.runs, args.metric, experiment=experiment)
        except (RunRefError, CompareError) as exc:
            raise UsageError(f"%mltrack {cmd}: {exc}") from None

    def _export(self, words: list[str]) -> Any:
        """``%mltrack export [--target NAME ...] [--run RUN] -o DIR``: this session (or the
        run's) as a pipeline script, written to DIR."""
        import argparse
        import os

        from ..pipeline.export import export
        from ..pipeline.slicer import SliceError
        from ..store import InvalidQuery, RunNotFound

        parser = argparse.ArgumentParser(
            prog="%mltrack export", add_help=False, exit_on_error=False
        )
        parser.add_argument("--target", "-t", action="append", default=[])
        parser.add_argument("--run", "-r")
        parser.add_argument("-o", "--output", default="pipeline")
        try:
            args = parser.parse_args(words)
        except (argparse.ArgumentError, SystemExit) as exc:
            raise UsageError(f"%mltrack export: {exc}") from None
        api.wait_pending()  # the log of the cells run so far is on its way to the store
        if self.log is None:
            raise UsageError("the execution log is not running: %load_ext jupyter_mltrack")
        store = api.get_store()
        run_id = None
        if args.run is not None:
            from .refs import current_experiment

            try:
                run_id = store.resolve_run_id(args.run, current_experiment())
            except (RunNotFound, InvalidQuery) as exc:
                raise UsageError(f"%mltrack export: {exc}") from None
        # the kernel's own notebook gives the script its section headings; it may not be on
        # disk (never saved, or a kernel without one): the export works from the log anyway
        notebook = os.environ.get("JPY_SESSION_NAME")
        try:
            result = export(
                store,
                directory=args.output,
                session_id=self.log.session_id if run_id is None else None,
                targets=args.target,
                run=run_id,
                notebook_file=notebook if notebook and os.path.isfile(notebook) else None,
            )
        except SliceError as exc:
            raise UsageError(f"%mltrack export: {exc}") from None
        print(result.summary())
        return None

    def _list_runs(self) -> Any:
        from IPython.display import HTML

        from .refs import current_experiment

        exp = current_experiment()
        api.wait_pending()  # runs that just ended may still be written in the background
        runs, total = api.get_store().search_runs(experiment=exp, limit=50)
        rows = "".join(
            f"<tr><td>#{r.number}</td><td>{r.name or ''}</td><td>{r.status.value}</td>"
            f"<td>{', '.join(f'{k}={v:.4g}' for k, v in r.metrics.items())}</td></tr>"
            for r in runs
        )
        return HTML(
            f"<table><tr><th>run</th><th>name</th><th>status</th><th>metrics</th></tr>{rows}</table>"
            f"<p>{total} runs in {exp}</p>"
        )


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, hooks and input transformer (once) and expose ``mltrack``."""
    import jupyter_mltrack

    unload_ipython_extension(ipython)  # %reload_ext must not register hooks twice
    magics = TrackMagics(ipython)
    ipython.register_magics(magics)
    ipython.configurables.append(magics)
    ipython.input_transformers_cleanup.insert(0, magics.strip_magic_line)
    ipython.input_transformers_post.append(magics.keep_transformed)
    # The execution log's hooks come first: the tracked cell's run is noted in its record.
    log, new = ExecutionLog.of(ipython)
    magics.log = log
    ipython.input_transformers_post.append(log.keep_transformed)
    ipython.events.register("pre_run_cell", log.pre_run_cell)
    ipython.events.register("post_run_cell", log.post_run_cell)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    ipython.push({"mltrack": jupyter_mltrack}, interactive=False)
    log.install()
    magics.settles_before_idle = _settle_before_idle(ipython)
    FileAccess.install()
    if new:
        log.adopt_running_cell()
    # open the store, load the snapshot code and scan the environment in the background
    # now, so that neither this cell nor the first tracked one waits for them
    api.warm_up(os.getcwd())


def _copied(value: Any) -> Any:
    """An option's value, its lists (``-p a b -p c``: lists of lists) copied."""
    return [_copied(v) for v in value] if isinstance(value, list) else value


def _settle_before_idle(ipython: Any) -> bool:
    """Have the kernel wait for tracked cells' final writes after each request's reply and
    before its ``idle`` status (ipykernel's ``post_handler_hook``, called between the two).

    A tracked cell hands its run's final transaction to a thread instead of writing it
    before its reply (a millisecond of the cell's time); with this, a client that waits for
    idle (JupyterLab's busy indicator, nbclient, a test) still reads the run ended. Without
    a kernel that has the hook (a terminal IPython), cells write before they return."""
    kernel = getattr(ipython, "kernel", None)
    original = getattr(kernel, "post_handler_hook", None)
    if original is None:
        return False
    if getattr(original, "__mltrack__", False):
        return True

    def post_handler_hook() -> None:
        try:
            original()
        finally:
            api.settle()

    post_handler_hook.__mltrack__ = True  # type: ignore[attr-defined]
    post_handler_hook.__wrapped__ = original  # type: ignore[attr-defined]
    kernel.post_handler_hook = post_handler_hook
    return True


def _unsettle(ipython: Any) -> None:
    kernel = getattr(ipython, "kernel", None)
    hook = getattr(kernel, "post_handler_hook", None)
    if getattr(hook, "__mltrack__", False):
        if "post_handler_hook" in vars(kernel):
            del kernel.post_handler_hook
        else:  # not ours to remove (set on the class): put the original back
            kernel.post_handler_hook = hook.__wrapped__


def unload_ipython_extension(ipython: Any) -> None:
    _unsettle(ipython)
    api.settle()
    for magics in [m for m in ipython.configurables if isinstance(m, TrackMagics)]:
        ipython.configurables.remove(magics)
        if magics.strip_magic_line in ipython.input_transformers_cleanup:
            ipython.input_transformers_cleanup.remove(magics.strip_magic_line)
        if magics.keep_transformed in ipython.input_transformers_post:
            ipython.input_transformers_post.remove(magics.keep_transformed)
        log = getattr(magics, "log", None)
        if log is not None:
            if log.keep_transformed in ipython.input_transformers_post:
                ipython.input_transformers_post.remove(log.keep_transformed)
            for event, hook in (
                ("pre_run_cell", log.pre_run_cell),
                ("post_run_cell", log.post_run_cell),
            ):
                if hook in ipython.events.callbacks[event]:
                    ipython.events.unregister(event, hook)
        for event, hook in (
            ("pre_run_cell", magics.pre_run_cell),
            ("post_run_cell", magics.post_run_cell),
        ):
            if hook in ipython.events.callbacks[event]:
                ipython.events.unregister(event, hook)
