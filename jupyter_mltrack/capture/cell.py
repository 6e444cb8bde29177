"""One tracked cell execution: opened before IPython runs the cell, closed after it.

Working from IPython's ``pre_run_cell``/``post_run_cell`` events rather than exec'ing the cell
inside a magic is what keeps a tracked cell indistinguishable from an untracked one: IPython
itself compiles, runs and displays it, and shows any traceback without tracker frames.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..jsonsafe import to_float
from ..store.entities import RunStatus
from . import api
from .data import FileAccess, retake_snapshots, snapshot_files, snapshot_values, take_snapshots
from .kernelinfo import cell_id, notebook_path
from .outputs import OutputRecorder
from .params import CellAnalysis, analyse, simple_reads
from .runcard import (
    card_bundle,
    card_reducers,
    compared_on,
    experiment_goals,
    lower_is_better,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..snapshots.storage import SnapshotJob
    from ..store.entities import RunRef
    from .magics import TrackMagics


def _flatten(groups: list[list[str]]) -> list[str]:
    return [name for group in groups for name in group]


def _split_tag(tag: str) -> tuple[str, str]:
    key, _, value = tag.partition("=")
    return key.strip(), value.strip()


class TrackedCell:
    """Starts the run and output capture on creation; :meth:`finish` records and closes."""

    def __init__(
        self,
        magics: TrackMagics,
        args: Any,
        body: str,
        info: Any = None,
        source: str | None = None,
    ) -> None:
        """``info``: IPython's ``ExecutionInfo`` of the cell, to match its ``post_run_cell``
        result; ``source``: the cell as IPython transformed it, when known (else done here)."""
        self.magics = magics
        self.shell = shell = magics.shell
        self.args = args
        self.info = info
        self.analysis: CellAnalysis | None
        try:
            python = source if source is not None else shell.transform_cell(body)
            self.analysis = analyse(ast.parse(python))
        except (SyntaxError, ValueError, RecursionError):
            self.analysis = None  # IPython reports the error; the run is recorded as failed
        params: dict[str, Any] = {}
        if self.analysis is not None and magics.capture_reads:
            params = simple_reads(self.analysis.reads, shell.user_ns)
        nb = notebook_path()
        started = time.time()
        snapshots = magics.snapshot_data and not args.no_snapshot
        # the datasets the cell reads, snapshotted before the run opens, so that the run's
        # own transaction links them (one commit fewer on every tracked cell)
        inputs = self._input_snapshots() if snapshots else []
        start = functools.partial(
            api.start_run,
            args.name,
            experiment=args.experiment or magics.experiment or api.default_experiment(nb),
            params=params,
            tags=dict(_split_tag(t) for t in _flatten(args.tag)),
            notebook_path=nb,
            cell_id=cell_id(shell),
            execution_count=shell.execution_count,
            code=body,
            source="notebook",
            start_time=started,
        )
        try:
            self.run = start(data=[("input", name, job, None) for name, job in inputs])
        except Exception:
            if not inputs:
                raise
            # a snapshot remembered as complete was swept by a gc elsewhere: look each up again
            inputs = retake_snapshots(api.get_store(), inputs, shell.user_ns)
            self.run = start(data=[("input", name, job, None) for name, job in inputs])
        self.run.in_cell = True
        if magics.log is not None:
            magics.log.note_run(self.run.id)
        self.files: FileAccess | None = None
        if snapshots:
            home = self.run.store.home
            self.files = FileAccess(ignore=[home] if home is not None else []).__enter__()
        self.recorder = OutputRecorder(shell, max_bytes=magics.max_output_bytes)
        self.recorder.__enter__()
        # Last, so that a failure above (the cell then runs untracked) leaves nothing patched;
        # the run ends the session too (run.end), whatever path finish() takes.
        self.autolog = None
        if magics.autolog and not args.no_autolog:
            from ..autolog import begin

            self.autolog = self.run.autolog = begin(self.run, shell.user_ns)
        # the card's look-up, in the background while the cell runs: started last, so that
        # it does not take the interpreter from the set-up above
        self._best = None
        if magics.run_card and not args.no_card:
            with contextlib.suppress(Exception):  # only an optimisation: never in the way
                self._best = self._prefetch_best()

    def _input_snapshots(self) -> list[tuple[str, SnapshotJob]]:
        """Snapshot the datasets the cell reads (and ``--snapshot`` names that exist), now,
        before the cell can change them; linking them is the run's."""
        reads = self.analysis.reads if self.analysis is not None else []
        bound = self.analysis.bound if self.analysis is not None else set()
        # a --snapshot name the cell assigns without reading it first is an output only
        explicit = [n for n in _flatten(self.args.snapshot) if n not in bound]
        names = list(dict.fromkeys([*reads, *explicit]))
        return take_snapshots(api.get_store(), names, self.shell.user_ns)[0]

    def _prefetch_best(self) -> tuple[tuple[str, str], Future[RunRef | None]] | None:
        """Look up, while the cell runs, the best run the card will compare with: by the
        metric this experiment's latest card compared on (a cell run again logs the same
        one first). Other processes' runs that end meanwhile are not seen; this process's
        are (``api.finishing_runs``)."""
        run = self.run.run
        key = compared_on(run.experiment_id)
        if key is None:
            return None
        reducer = self._reducers([key])[key]
        store = self.run.store

        def lookup() -> RunRef | None:
            higher = not lower_is_better(key, experiment_goals(store, run.experiment_id))
            return store.best_run(
                run.experiment_id, key, higher_is_better=higher, exclude=run.id, reducer=reducer
            )

        return (key, reducer), api._submit(lookup)

    def _reducers(self, keys: Sequence[str]) -> dict[str, str]:
        """How the card shows each metric (``TrackMagics.card_reducer``/``card_reducers``)."""
        return card_reducers(keys, self.magics.card_reducer, self.magics.card_reducers)

    def _prefetched(self) -> tuple[tuple[str, str], RunRef | None] | None:
        """The prefetched best run, if the look-up is done (never waited for)."""
        if self._best is None:
            return None
        key, lookup = self._best
        if not lookup.done() or lookup.exception() is not None:
            return None
        return key, lookup.result()

    def _snapshot_outputs(self) -> None:
        """Files the cell wrote and read, and ``--snapshot`` names it assigned."""
        run = self.run
        if self.files is not None:
            self.files.__exit__(None, None, None)
            snapshot_files(run, "input", self.files.inputs())
            written = snapshot_files(run, "output", self.files.outputs())
            if written and (self.args.artifacts or self.magics.keep_written_files):
                from ..models.written import keep_written_files

                keep_written_files(run, written)
        bound = self.analysis.bound if self.analysis is not None else set()
        outputs = [n for n in _flatten(self.args.snapshot) if n in bound]
        if outputs:
            snapshot_values(run, "output", outputs, self.shell.user_ns)

    def finish(self, result: Any) -> None:
        """Record what the cell produced. Never raises: tracking must not break the cell."""
        run, recorder = self.run, self.recorder
        with contextlib.suppress(Exception):
            recorder.__exit__(None, None, None)
        try:
            with contextlib.suppress(Exception):
                self._snapshot_outputs()
            status, error = self._status(result, recorder)
            ns = self.shell.user_ns
            params: dict[str, Any] = dict(self.analysis.literals) if self.analysis else {}
            params.update({n: ns[n] for n in _flatten(self.args.param) if n in ns})
            run.log_params(params)
            for name in _flatten(self.args.metric):
                if name in ns and to_float(ns[name]) is not None:
                    run.log_metric(name, ns[name])
            value = getattr(result, "result", None)
            if status is RunStatus.FINISHED and value is not None:
                self._result_metrics(run, value)
                self._record_result(recorder, value, getattr(result, "execution_count", None))
            if self.analysis is not None:  # what `mltrack reproduce` compares (never raises)
                from .results import record_cell

                record_cell(
                    run, self.analysis.bound, ns, after_reply=self.magics.settles_before_idle
                )
            if self.autolog is not None:  # params after the cell's; patches restored
                # once the kernel has replied (before it is idle), or now without a kernel
                settles = self.magics.settles_before_idle
                self.autolog.end(later=api.after_reply if settles else None)
            run.in_cell = False
            run.end(
                status,
                outputs=recorder.finalize(),
                error=error,
                wait_environment=False,
                background=self.magics.settles_before_idle,
            )
            api.say_store_notices()  # the store went away (or came back): said here, once
            if self.magics.run_card and not self.args.no_card:
                from IPython.display import publish_display_data

                reducers = self._reducers(list(run.latest))
                goals: dict[str, str] = {}
                if getattr(run.store, "offline", None) is None:  # not kept in the spool
                    goals = experiment_goals(run.store, run.run.experiment_id)
                pending = api.finishing_runs(exclude=run.id, reducers=reducers, goals=goals)
                summary = run.summary(reducers, goals)
                publish_display_data(
                    card_bundle(run.store, summary, pending, self._prefetched(), reducers, goals)
                )
        except Exception as exc:
            print(f"mltrack: could not record run {run.id[:8]}: {exc!r}", file=sys.stderr)
            with contextlib.suppress(Exception):
                run.end(RunStatus.FAILED, error=api.error_info(exc))

    def _status(
        self, result: Any, recorder: OutputRecorder
    ) -> tuple[RunStatus, dict[str, Any] | None]:
        exc = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
        if exc is None:
            return RunStatus.FINISHED, None
        try:
            formatted = self.shell.InteractiveTB.structured_traceback(
                type(exc), exc, exc.__traceback__, tb_offset=1
            )
        except Exception:
            formatted = None
        info = api.error_info(exc, formatted)
        recorder.error(info["ename"], info["evalue"], info["traceback"])
        status = RunStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        return status, info

    def _result_metrics(self, run: api.ActiveRun, value: Any) -> None:
        """A numeric last expression is a metric; so is each entry of a dict of numbers."""
        number = to_float(value)
        if number is not None and not isinstance(value, bool):
            expr = self.analysis.last_expression if self.analysis else None
            run.log_metric(expr if expr and expr.isidentifier() else "value", number)
        elif (
            isinstance(value, dict)
            and value
            and all(
                isinstance(k, str) and not isinstance(v, bool) and to_float(v) is not None
                for k, v in value.items()
            )
        ):
            run.log_metrics(value)

    def _record_result(
        self, recorder: OutputRecorder, value: Any, execution_count: int | None
    ) -> None:
        try:
            data, metadata = self.shell.display_formatter.format(value)
        except Exception:
            return
        recorder.result(data, metadata, execution_count)
