"""A sweep: Optuna's ask/tell loop over an exported pipeline's parameters, each trial a run.

The sampler runs here, in the driver; trials run wherever the executor puts them. The
record is the store's runs, nothing else (see ``sweeps/__init__``): the sweep is a run of
source ``sweep`` whose params are its definition (``space.lr = "loguniform(0.0001, 0.1)"``,
``metric``, ``goal``…), and each trial is its child run. Optuna's study is rebuilt from
those runs whenever the driver starts, so a sweep resumes after a crash or a closed laptop:
ended trials are kept, and a trial that was running is run again with its own parameters
into its own run id.

Each trial's run is created here, before it is handed to a worker (status ``running``,
owned by the driver, its parameters recorded): a driver killed at any moment leaves every
trial it had asked for in the store, and the next one knows which to run again.

Each hand-out of a trial is an attempt: a token recorded on its run (``mltrack.attempt``)
and carried by the spec, the worker writing the run as that attempt (``store.attempts``).
A resumed sweep hands a trial that was running out again as a new attempt, which makes
every later write of the old one fail, in its own transaction: a Dask worker still running
the dead driver's attempt (a cluster outlives its driver) cannot mix its values, or its
end, into the run the new attempt records.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import math
import os
import sys
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store.entities import Run, RunStatus
from .records import SWEEP_TAG, error_text, trial_number
from .space import Space, make_sampler, parse_space
from .trial import TrialOutcome, TrialSpec
from .trial_store import TrialWrites

if TYPE_CHECKING:
    from ..store.store import Store
    from .executors import Executor

#: Files of an exported pipeline a remote worker needs.
PIPELINE_FILES = ("pipeline.py", "params.yaml", "rng_state.json")
#: The sweep run's running totals (its metrics) are written at most this often (seconds),
#: and at its end: at every trial they were a fifth of a trivial trial's cost.
TOTALS_EVERY = 0.5
#: How long a resumed sweep waits for a trial still running in a process of the last one
#: (its result is then kept); after that the trial is handed out again as a new attempt,
#: and whatever the old one writes from then on is refused.
ORPHAN_WAIT = 600.0
_ENDED = {RunStatus.FINISHED: "finished", RunStatus.FAILED: "failed", RunStatus.PRUNED: "pruned"}


class SweepError(ValueError):
    """A sweep cannot run as asked (an unknown parameter, a missing pipeline…)."""


@dataclass(frozen=True)
class SweepTrial:
    """One trial as the store has it."""

    number: int
    run_id: str
    state: str
    value: float | None
    params: dict[str, Any]
    error: str | None = None

    @property
    def id(self) -> str:
        """The trial's run id: a trial is a run reference (``mltrack.compare(*result.top(3))``)."""
        return self.run_id


@dataclass
class Definition:
    """What a sweep searches, how, and over what: the sweep run's params."""

    name: str
    pipeline: str
    space: Space
    metric: str
    goal: str = "max"
    trials: int = 50
    jobs: int = 2
    sampler: str = "tpe"
    pruner: str | None = None
    seed: int | None = None
    experiment: str | None = None
    cwd: str | None = None
    from_snapshots: bool = False
    executor: str = "local"
    threads: int | None = None
    #: Trial 0 is the pipeline's own values (where the space holds them): the notebook's
    #: run is the baseline every other trial is measured against.
    baseline: bool = True

    def to_params(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "metric": self.metric,
            "goal": self.goal,
            "trials": self.trials,
            "jobs": self.jobs,
            "sampler": self.sampler,
            "pruner": self.pruner or "none",
            "seed": "none" if self.seed is None else self.seed,
            "cwd": self.cwd or "",
            "from_snapshots": self.from_snapshots,
            "executor": self.executor,
            "threads": "auto" if self.threads is None else self.threads,
            "baseline": self.baseline,
            **self.space.to_params(),
        }

    @classmethod
    def from_run(cls, run: Run) -> Definition:
        p = run.params
        try:
            return cls(
                name=run.tags.get(SWEEP_TAG) or run.name or run.id,
                pipeline=str(p["pipeline"]),
                space=Space.from_params(p),
                metric=str(p["metric"]),
                goal=str(p.get("goal", "max")),
                trials=int(p["trials"]),
                jobs=int(p.get("jobs", 2)),
                sampler=str(p.get("sampler", "tpe")),
                pruner=None if p.get("pruner") in (None, "none") else str(p["pruner"]),
                seed=None if p.get("seed") in (None, "none") else int(p["seed"]),
                experiment=run.experiment,
                cwd=str(p.get("cwd") or "") or None,
                from_snapshots=bool(p.get("from_snapshots", False)),
                executor=str(p.get("executor", "local")),
                threads=None if p.get("threads") in (None, "auto") else int(p["threads"]),
                baseline=bool(p.get("baseline", False)),
            )
        except (KeyError, ValueError) as exc:
            raise SweepError(f"run {run.id} is not a sweep this version can read: {exc}") from None


@dataclass
class SweepResult:
    """A sweep's trials, read from the store (``mltrack.sweep`` returns it)."""

    name: str
    run_id: str
    metric: str
    goal: str
    trials: list[SweepTrial] = field(default_factory=list)
    status: str = "finished"
    #: The store the trials were read from (for the charts).
    store: Any = field(default=None, repr=False, compare=False)

    def history_figure(self) -> Any:
        """The optimisation history: each trial's value by number, the best so far (the
        chart the sidebar's "Sweep charts" and ``mltrack sweep show --html`` draw)."""
        from ..compare.charts.sweep import sweep_history_figure

        return sweep_history_figure(self.store, self.run_id)

    def importance_figure(self) -> Any:
        """Which parameters the metric depends on, over the finished trials."""
        from ..compare.charts.sweep import sweep_importance_figure

        return sweep_importance_figure(self.store, self.run_id)

    @property
    def best(self) -> SweepTrial | None:
        done = [t for t in self.trials if t.state == "finished" and t.value is not None]
        if not done:
            return None
        pick = max if self.goal == "max" else min
        return pick(done, key=lambda t: (t.value, -t.number))  # ties: the earlier trial

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    def top(self, n: int = 5) -> list[SweepTrial]:
        done = [t for t in self.trials if t.state == "finished" and t.value is not None]
        return sorted(done, key=lambda t: (-t.value if self.goal == "max" else t.value, t.number))[
            :n
        ]

    def to_frame(self) -> Any:
        """The trials as a pandas DataFrame: number, state, value, params, run id."""
        import pandas as pd

        rows = [
            {
                "trial": t.number,
                "state": t.state,
                self.metric: t.value,
                **{f"params.{k}": v for k, v in t.params.items()},
                "run_id": t.run_id,
                "error": t.error,
            }
            for t in self.trials
        ]
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()

    def summary(self) -> str:
        """What ``mltrack sweep show`` prints: counts, then the best trials."""
        counts = self.counts()
        parts = [f"{n} {state}" for state, n in sorted(counts.items())]
        lines = [
            f"sweep {self.name} ({self.status}): {len(self.trials)} trials"
            + (f" ({', '.join(parts)})" if parts else "")
            + f"; {self.goal} {self.metric}"
        ]
        best = self.top(5)
        if not best:
            lines.append("  no trial has finished yet")
        for i, t in enumerate(best):
            params = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
            mark = "best" if i == 0 else "    "
            lines.append(f"  {mark} #{t.number:<4} {self.metric}={t.value:.6g}  {params}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        best = self.best
        return {
            "name": self.name,
            "run_id": self.run_id,
            "status": self.status,
            "metric": self.metric,
            "goal": self.goal,
            "counts": self.counts(),
            "best": None if best is None else best.__dict__,
            "trials": [t.__dict__ for t in self.trials],
        }


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else repr(value)


# finding and reading sweeps -------------------------------------------------------------------


def find_sweep(store: Store, name: str) -> Run:
    """The sweep run named ``name`` (the newest if several), or a run id."""
    found = find_sweep_or_none(store, name)
    if found is not None:
        return found
    with contextlib.suppress(Exception):
        run = store.get_run(store.resolve_run_id(name))
        if run.source == "sweep" and not run.parent_run_id:
            return run
    raise SweepError(f"no sweep named {name!r}")


def read_result(store: Store, sweep_run: Run) -> SweepResult:
    """The sweep's trials, as the store has them now."""
    definition = Definition.from_run(sweep_run)
    searched = set(definition.space.names)
    trials = []
    runs = store.child_runs(sweep_run.id, source="sweep")
    errors = store.run_errors(
        [r.id for r in runs if r.status not in _ENDED or r.status is RunStatus.FAILED]
    )
    for run in runs:
        number = _trial_number(run)
        if number is None:
            continue
        state = _ENDED.get(run.status, run.status.value)
        value = run.metrics.get(definition.metric) if state == "finished" else None
        error = error_text(errors.get(run.id))
        trials.append(
            SweepTrial(
                number=number,
                run_id=run.id,
                state=state,
                value=value,
                params={k: v for k, v in run.params.items() if k in searched},
                error=error,
            )
        )
    trials.sort(key=lambda t: t.number)
    return SweepResult(
        name=definition.name,
        run_id=sweep_run.id,
        metric=definition.metric,
        goal=definition.goal,
        trials=trials,
        status=sweep_run.status.value,
        store=store,
    )


def _trial_number(run: Run) -> int | None:
    return trial_number(run.tags)


def pipeline_params(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parameters of an exported pipeline (``PARAMS``) and their values, read from its
    text without running it (importing it would import every library it uses)."""
    return _pipeline_constants(folder)[0]


def pipeline_experiment(folder: str | os.PathLike[str]) -> str | None:
    """The experiment an exported pipeline records into (its ``EXPERIMENT``)."""
    value = _pipeline_constants(folder)[1].get("EXPERIMENT")
    return value if isinstance(value, str) and value else None


def _pipeline_constants(folder: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params and their values, every literal top-level name)`` of ``pipeline.py``."""
    path = Path(folder) / "pipeline.py"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SweepError(f"no pipeline at {folder}: export one with mltrack export") from None
    params, values = _constants_of(str(path), text)
    return copy.deepcopy(params), copy.deepcopy(values)


@functools.lru_cache(maxsize=8)
def _constants_of(path: str, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`_pipeline_constants` of a pipeline's text, parsed once per text: a sweep reads
    them three times (its checks, its experiment, its baseline), 15 ms each."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise SweepError(f"{path} does not parse: {exc}") from None
    values: dict[str, Any] = {}
    names: list[str] | None = None
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        if target.id == "PARAMS" and isinstance(node.value, ast.Dict):
            names = [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
        else:
            with contextlib.suppress(ValueError, TypeError, SyntaxError, RecursionError):
                values[target.id] = ast.literal_eval(node.value)
    if names is None:
        raise SweepError(f"{path} has no PARAMS: is it a pipeline exported by mltrack?")
    return {name: values.get(name) for name in names}, values


# the driver ---------------------------------------------------------------------------------------


class Sweep:
    """A sweep's driver: asks Optuna for parameters, runs trials, tells it their values."""

    def __init__(self, store: Store, definition: Definition, run_id: str) -> None:
        self.store = store
        self.d = definition
        self.run_id = run_id
        self.progress = True
        #: How long :meth:`run` waits for trials still running in a process of the last
        #: driver (a Dask worker's) before it hands them out again.
        self.orphan_wait = ORPHAN_WAIT
        self._counts: dict[str, int] = {}
        self._best: tuple[float, int] | None = None
        #: The sweep run's running totals not yet written, and when they last were.
        self._totals: list[Any] = []
        self._totals_at = float("-inf")

    # creating and resuming ----------------------------------------------------------------------

    @classmethod
    def create(cls, store: Store, definition: Definition) -> Sweep:
        """Check the definition against the pipeline and record the sweep's run."""
        d = definition
        known = pipeline_params(d.pipeline)
        unknown = [n for n in d.space.names if n not in known]
        if unknown:
            raise SweepError(
                f"the pipeline has no parameter {', '.join(unknown)}; its parameters: "
                + (", ".join(known) or "none (export it from a notebook whose cells set some)")
            )
        if d.goal not in ("max", "min"):
            raise SweepError(f"goal must be 'max' or 'min', not {d.goal!r}")
        if d.trials < 1 or d.jobs < 1:
            raise SweepError("trials and jobs must be at least 1")
        size = d.space.size()
        if d.sampler == "grid" and size is not None and d.trials > size:
            d.trials = size  # a grid has that many trials, no more
        make_sampler(d.sampler, d.space, d.seed)  # a bad sampler fails now, not mid-sweep
        if find_sweep_or_none(store, d.name) is not None:
            raise SweepError(f"a sweep named {d.name!r} exists: resume it, or pick another name")
        run = store.create_run(
            d.experiment,
            name=d.name,
            source="sweep",
            tags={SWEEP_TAG: d.name},
            params=d.to_params(),
        )
        return cls(store, d, run.id)

    @classmethod
    def resume(cls, store: Store, name: str) -> Sweep:
        """The sweep named ``name``, to run what is left of it."""
        run = find_sweep(store, name)
        store.reopen_run(run.id)
        return cls(store, Definition.from_run(run), run.id)

    # running --------------------------------------------------------------------------------

    def run(self, executor: Executor | None = None) -> SweepResult:
        """Run the trials left, ``jobs`` at a time; the sweep's result once all have ended."""
        import optuna

        from .executors import executor_for

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        d = self.d
        own = executor is None
        executor = executor or executor_for(d.executor, d.jobs, threads=d.threads)
        sampler = make_sampler(d.sampler, d.space, d.seed)
        direction = "maximize" if d.goal == "max" else "minimize"
        study = optuna.create_study(direction=direction, sampler=sampler)
        redo = self._restore(study, sampler)
        asked = len(study.trials) + len(redo)  # the ended trials, and those to run again
        if (redo or asked < d.trials) and hasattr(executor, "start"):
            executor.start()  # every worker at once, importing while the driver sets up
        if asked and d.seed is not None and d.sampler != "grid":
            # a resumed sweep's sampler seeded as the first one would propose the first
            # trials' values again: seeded on from where it is (the same on every resume of
            # the same history). A grid's order is its seed's, and stays.
            sampler = make_sampler(d.sampler, d.space, d.seed + asked)
            study.sampler = sampler
        if d.baseline and not asked and self._max_number() < 0:
            first = self._baseline()
            if first:  # the next trial asked for takes these values
                study.enqueue_trial(first)
        files = self._shipped() if getattr(executor, "remote", False) else None
        self._tally_from_store()
        next_number = 1 + max([t[0] for t in redo] + [self._max_number()], default=-1)
        running: dict[Future[TrialOutcome], tuple[Any, TrialSpec]] = {}
        status = RunStatus.FINISHED
        try:
            while True:
                while len(running) < d.jobs and (redo or asked < d.trials):
                    again = bool(redo)
                    if redo:  # its own number, run and params (asked afresh if it had none)
                        number, run_id, params = redo.pop(0)
                        if params:
                            study.enqueue_trial(params, skip_if_exists=False)
                    elif _exhausted(sampler, study):  # a grid with every point asked
                        break
                    else:
                        number, run_id = next_number, uuid.uuid4().hex
                        next_number += 1
                        asked += 1
                    trial = study.ask(d.space.distributions)
                    spec = self._spec(number, run_id, dict(trial.params), files)
                    self._record_trial(spec, again=again)
                    running[self._submit(executor, spec)] = (trial, spec)
                if not running:
                    break
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in done:
                    trial, spec = running.pop(fut)
                    outcome = self._outcome(fut, spec, executor)
                    self._tell(study, trial, outcome)
                    if outcome.state != "superseded":  # another driver's to count
                        self._report(outcome)
        except BaseException:
            status = RunStatus.INTERRUPTED
            for fut, (_trial, spec) in running.items():
                if fut.done() and not fut.cancelled() and fut.exception() is not None:
                    self._outcome(fut, spec, executor)  # its worker died: its run says so
                else:
                    fut.cancel()  # one running goes on, and ends its run itself
            raise
        finally:
            if own:
                with contextlib.suppress(Exception):
                    executor.shutdown()
            self._finish(status)
        return self.result()

    def result(self) -> SweepResult:
        return read_result(self.store, self.store.get_run(self.run_id))

    def _restore(self, study: Any, sampler: Any) -> list[tuple[int, str, dict[str, Any]]]:
        """Put the ended trials in the study; the ones to run again ``(number, run id,
        params)``: those left running by a driver that died (waiting for any still running
        in a live process of the last driver, which may finish it)."""
        from optuna.trial import TrialState, create_trial

        states = {
            "finished": TrialState.COMPLETE,
            "failed": TrialState.FAIL,
            "pruned": TrialState.PRUNED,
        }
        redo = []
        dists = self.d.space.distributions
        for run in self._children(wait_for_live=True):
            number = _trial_number(run)
            if number is None:
                continue
            params = {k: run.params[k] for k in dists if k in run.params}
            state = states.get(_ENDED.get(run.status, ""))
            value = run.metrics.get(self.d.metric) if state is TrialState.COMPLETE else None
            if (
                state is None
                or len(params) != len(dists)
                or (state is TrialState.COMPLETE and value is None)
            ):
                redo.append((number, run.id, params))
                continue
            with contextlib.suppress(ValueError):  # a value outside today's space: not told
                attrs = getattr(sampler, "system_attrs_for", lambda p: {})(params)
                study.add_trial(
                    create_trial(
                        state=state,
                        value=value,
                        params=params,
                        distributions=dists,
                        system_attrs=attrs,
                    )
                )
        return sorted(redo)

    def _baseline(self) -> dict[str, Any] | None:
        """The pipeline's own values of the searched parameters, if the space holds them."""
        values = pipeline_params(self.d.pipeline)
        own = {}
        for name, dist in self.d.space.distributions.items():
            value = values.get(name)
            try:
                if value is None or not dist._contains(dist.to_internal_repr(value)):
                    return None
            except (ValueError, TypeError):
                return None
            own[name] = value
        return own

    def _children(self, *, wait_for_live: bool) -> list[Run]:
        deadline = time.monotonic() + self.orphan_wait
        said = False
        while True:
            runs = self.store.child_runs(self.run_id, source="sweep")
            live = [r for r in runs if r.status is RunStatus.RUNNING]  # the dead are crashed
            if not wait_for_live or not live or time.monotonic() > deadline:
                return runs
            if self.progress and not said:  # a wait of minutes must say what it waits for
                said = True
                print(
                    f"sweep {self.d.name}: {len(live)} trial(s) still running in a live process"
                    f" of the last driver (a Dask worker): waiting up to {self.orphan_wait:.0f} s"
                    " for them to end, then they run again (wait_for_running=0 / "
                    "--wait-running 0 runs them again at once)",
                    file=sys.stderr,
                )
            time.sleep(0.5)

    def _max_number(self) -> int:
        numbers = [_trial_number(r) for r in self.store.child_runs(self.run_id, source="sweep")]
        return max([n for n in numbers if n is not None], default=-1)

    def _spec(
        self, number: int, run_id: str, params: dict[str, Any], files: dict[str, bytes] | None
    ) -> TrialSpec:
        d = self.d
        return TrialSpec(
            sweep=d.name,
            sweep_run_id=self.run_id,
            number=number,
            run_id=run_id,
            params=params,
            metric=d.metric,
            goal=d.goal,
            pruner=d.pruner,
            experiment=d.experiment,
            pipeline=d.pipeline,
            store_url=self.store.url,
            blob_url=self.store.blob_url,
            cwd=d.cwd,
            from_snapshots=d.from_snapshots,
            files=files,
            attempt=uuid.uuid4().hex,  # this hand-out's (see the module docstring)
            writes=self._writes,
        )

    @functools.cached_property
    def _writes(self) -> TrialWrites | None:
        """The trials' writes, compiled once for the workers (see :mod:`.trial_store`)."""
        return TrialWrites.of(self.store)

    def _record_trial(self, spec: TrialSpec, *, again: bool = True) -> None:
        """The trial's run, before any worker has it: what a resumed sweep runs again if
        this driver dies now. An earlier attempt's run is replaced, and made this
        attempt's: anything the earlier one, if still running, writes from now on is
        refused. A new trial's run (``again`` false: its id was made now) is created in one
        transaction, its attempt tag with its other tags, without looking for an earlier
        one first."""
        from ..store.errors import RunNotFound

        if again:
            with contextlib.suppress(RunNotFound):
                self.store.restart_run(spec.run_id, spec.params, attempt=spec.attempt)
                return
        self.store.create_run(self.d.experiment, params=spec.params, **spec.run_fields())

    def _submit(self, executor: Executor, spec: TrialSpec) -> Future[TrialOutcome]:
        """Hand the trial out. If it cannot be (the workers cannot start), its run says so,
        ``interrupted``: a resumed sweep runs it again, and this one stops with the error."""
        try:
            return executor.submit(spec)
        except BaseException as exc:
            from ..capture.api import error_info

            with (
                contextlib.suppress(Exception),
                self.store.writing_as(spec.run_id, spec.attempt),  # still this attempt's
            ):
                self.store.finish_run(spec.run_id, RunStatus.INTERRUPTED, error=error_info(exc))
            raise

    def _outcome(self, fut: Future[TrialOutcome], spec: TrialSpec, executor: Any) -> TrialOutcome:
        """The trial's outcome; a worker that died is the trial's failure (and its run says
        so; a local pool replaces the worker for the trials still to come)."""
        try:
            return fut.result()
        except BaseException as exc:  # noqa: BLE001 (the worker's death, not this process's)
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason = f"the trial's worker died ({type(exc).__name__}: {exc})".strip()
            with (
                contextlib.suppress(Exception),
                self.store.writing_as(spec.run_id, spec.attempt),  # still this attempt's
            ):
                self.store.finish_run(
                    spec.run_id,
                    RunStatus.FAILED,
                    error={"ename": "WorkerDied", "evalue": reason, "traceback": []},
                )
            return TrialOutcome(spec.number, spec.run_id, "failed", None, reason)

    def _tell(self, study: Any, trial: Any, outcome: TrialOutcome) -> None:
        from optuna.trial import TrialState

        if (
            outcome.state == "finished"
            and outcome.value is not None
            and math.isfinite(outcome.value)
        ):
            study.tell(trial, outcome.value)
        elif outcome.state == "pruned":
            for step, value in sorted(outcome.intermediate.items()):
                with contextlib.suppress(Exception):
                    trial.report(value, step)
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, state=TrialState.FAIL)

    def _tally_from_store(self) -> None:
        """The running totals of the trials ended so far (read once, when the driver starts:
        after that each outcome updates them, so a trial costs no read of the whole sweep)."""
        result = self.result()
        self._counts = {s: n for s, n in result.counts().items() if s in _ENDED.values()}
        best = result.best
        self._best = None if best is None else (best.value, best.number)

    def _report(self, outcome: TrialOutcome) -> None:
        """The sweep run's running totals (its metrics, a step per ended trial), and a line
        for the user."""
        from ..store.entities import MetricPoint

        counts = self._counts
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
        if outcome.state == "finished" and outcome.value is not None:
            better = (
                self._best is None
                or (self.d.goal == "max" and outcome.value > self._best[0])
                or (self.d.goal == "min" and outcome.value < self._best[0])
            )
            if better:
                self._best = (outcome.value, outcome.number)
        ended = sum(counts.values())
        metrics = {f"trials.{k}": float(v) for k, v in counts.items()}
        if self._best is not None:
            metrics[f"best.{self.d.metric}"] = float(self._best[0])
        now = time.time()
        self._totals = [MetricPoint(k, v, ended, now) for k, v in metrics.items()]
        if time.monotonic() - self._totals_at >= TOTALS_EVERY:  # else at the next, or the end
            self._write_totals()
        if self.progress:
            what = (
                f"{self.d.metric}={outcome.value:.6g}"
                if outcome.value is not None
                else (outcome.error or _stopped_at(outcome))
            )
            tail = f" (best {self._best[0]:.6g}, #{self._best[1]})" if self._best else ""
            print(
                f"sweep {self.d.name}: trial #{outcome.number} {outcome.state} {what[:120]}"
                f" in {outcome.seconds:.1f} s; {ended}/{self.d.trials} done{tail}",
                file=sys.stderr,
                flush=True,
            )

    def _write_totals(self) -> None:
        totals, self._totals = self._totals, []
        self._totals_at = time.monotonic()
        if totals:
            with contextlib.suppress(Exception):
                self.store.log_metrics(self.run_id, totals)

    def _finish(self, status: RunStatus) -> None:
        """The sweep's run ended, with its last running totals, in one transaction."""
        totals, self._totals = self._totals, []
        with contextlib.suppress(Exception):
            self.store.finish_run(self.run_id, status, metrics=totals)

    def _shipped(self) -> dict[str, bytes]:
        folder = Path(self.d.pipeline)
        return {n: (folder / n).read_bytes() for n in PIPELINE_FILES if (folder / n).is_file()}


def _stopped_at(outcome: TrialOutcome) -> str:
    """Where a pruned trial stopped: its last reported step and value."""
    if not outcome.intermediate:
        return "before its first report"
    step = max(outcome.intermediate)
    return f"at step {step} ({outcome.intermediate[step]:.6g})"


def _exhausted(sampler: Any, study: Any) -> bool:
    check = getattr(sampler, "is_exhausted", None)
    return bool(check(study)) if check is not None else False


def find_sweep_or_none(store: Store, name: str) -> Run | None:
    """The sweep run named ``name`` (the newest if several), or ``None``."""
    found = [r for r in store.runs_tagged(SWEEP_TAG, name, source="sweep") if not r.parent_run_id]
    return found[0] if found else None


def definition(
    pipeline: str | os.PathLike[str],
    space: Any,
    metric: str,
    **options: Any,
) -> Definition:
    """A :class:`Definition` from the public API's arguments (names checked, paths made
    absolute, a default name given)."""
    name = options.pop("name", None) or time.strftime("sweep-%Y%m%d-%H%M%S")
    return Definition(
        name=name,
        pipeline=str(Path(pipeline).resolve()),
        space=parse_space(space),
        metric=metric,
        **{k: v for k, v in options.items() if v is not None or k in ("pruner", "seed")},
    )


__all__ = [
    "Definition",
    "Sweep",
    "SweepError",
    "SweepResult",
    "SweepTrial",
    "definition",
    "find_sweep",
    "pipeline_params",
    "read_result",
]
