"""Everything recorded about a run that a comparison or an explanation looks at, loaded in
bulk: a handful of queries for 2 runs or 10,000, never one per run.

``params`` are flattened (``{"optimizer": {"lr": 0.1}}`` becomes ``optimizer.lr``) so nested
configurations compare key by key. ``dependencies`` is the code the run's cell depended on,
the same backward slice of the execution log that *Export to Pipeline* writes, so a change
in an earlier cell that fed the run shows up as a code difference. ``seeds`` are the global
RNG seeds set in that code, when the log saw the generator reseeded. ``uses`` are the
artifacts of other runs it loaded (the model an evaluation ran).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..store import RunNotFound, RunRefError, Store
from ..store.entities import ArtifactUse, Execution, Run, RunData
from .errors import CompareError, UnknownRun

if TYPE_CHECKING:
    from ..pipeline.slicer import Step
    from .series import SeriesArrays

#: Values ``jsonsafe`` encodes as a marker dict are leaves, not nested params.
_MARKER = "$type"


@dataclass(frozen=True)
class RunFacts:
    """One run as the comparison sees it."""

    run: Run
    #: Flattened: nested dicts and lists become dotted keys (``optimizer.lr``, ``layers.0``).
    params: dict[str, Any]
    #: Latest value of each metric (NaN kept).
    metrics: dict[str, float]
    #: Full series, ``key -> arrays``; ``None`` unless loaded with ``series=True``.
    series: dict[str, SeriesArrays] | None
    #: Distribution -> version of the packages the run imported (``{}`` when unknown);
    #: runs of one environment share the dict: read it, do not change it.
    packages: dict[str, str]
    python: str | None
    platform: str | None
    git_commit: str | None
    git_dirty: bool | None
    #: The run's cell (``""`` when not loaded or not recorded).
    code: str
    #: Earlier statements the execution log says produced what the cell read (as typed, in
    #: the order they ran); ``None`` when the run has no log record or code was not loaded.
    dependencies: str | None
    #: Inputs then outputs.
    data: list[RunData] = field(default_factory=list)
    #: Global RNG seeds set in the cell or its dependencies: ``{"numpy": 0, "random": 42}``.
    seeds: dict[str, Any] = field(default_factory=dict)
    #: Artifacts of other runs it loaded (a model it evaluated), in the order it used them.
    uses: list[ArtifactUse] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.run.id


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as dotted keys, leaves as they are.

    Empty containers stay as values (``{"a": {}}`` keeps ``a``), and the marker dicts the
    store uses for values JSON cannot hold (``{"$type": "float", "value": "nan"}``) are leaves.
    """
    if not prefix and not any(
        type(v) in _NESTED or isinstance(v, _CONTAINERS) for v in value.values()
    ):
        return dict(value)  # flat already: the common case, 10,000 runs at a time
    out: dict[str, Any] = {}
    for key, item in value.items():
        _flatten_into(out, f"{prefix}{key}", item)
    return out


_NESTED = (dict, list, tuple)
_CONTAINERS = (Mapping, list, tuple)


def _flatten_into(out: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, Mapping) and value and _MARKER not in value:
        for k, v in value.items():
            _flatten_into(out, f"{key}.{k}", v)
    elif isinstance(value, list | tuple) and value:
        for i, v in enumerate(value):
            _flatten_into(out, f"{key}.{i}", v)
    else:
        out[key] = value


def resolve_runs(store: Store, refs: Sequence[str], experiment: str | None = None) -> list[str]:
    """Run ids of references (number in ``experiment``, full id or unique id prefix)."""
    ids = []
    for ref in refs:
        try:
            ids.append(store.resolve_run_id(str(ref), experiment))
        except RunNotFound as exc:
            raise UnknownRun(str(exc)) from None
        except RunRefError as exc:  # ambiguous: a number several experiments have, a prefix
            raise CompareError(str(exc)) from None
    return ids


def load_facts(
    store: Store, run_ids: Sequence[str], *, series: bool = False, code: bool = True
) -> list[RunFacts]:
    """The facts of the given runs, in the order given (ids; references are resolved too).

    ``series``: read every metric's full series (one query, see ``compare.series``).
    ``code``: read each run's cell, its dependencies and seeds (the execution log).
    """
    ids = list(run_ids)
    runs = {r.id: r for r in store.load_runs(ids)}
    missing = [i for i in ids if i not in runs]
    if missing:
        resolved = resolve_runs(store, missing)
        runs.update({r.id: r for r in store.load_runs(resolved)})
        alias = dict(zip(missing, resolved, strict=True))
        ids = [alias.get(i, i) for i in ids]
    return _facts(store, [runs[i] for i in ids], series=series, code=code)


def load_experiment_facts(
    store: Store, experiments: Sequence[str], *, limit: int = 10_000, code: bool = False
) -> list[RunFacts]:
    """The facts of every run of the named experiments (newest first, at most ``limit``):
    about ten queries whatever the count, so 10,000 runs load in well under a second."""
    if isinstance(experiments, str):
        experiments = [experiments]
    ids = store.experiment_run_ids(experiments, limit=limit)
    return _facts(store, store.load_runs(ids), series=False, code=code)


def _facts(store: Store, runs: Sequence[Run], *, series: bool, code: bool) -> list[RunFacts]:
    ids = [r.id for r in runs]
    contexts = store.run_contexts(ids, code=code)
    data = store.runs_data(ids)
    uses = store.runs_uses(ids)
    slices = _code_slices(store, runs) if code else {}
    arrays: dict[str, dict[str, SeriesArrays]] = {}
    if series and ids:
        from .series import read_series

        arrays = read_series(store, ids)
    empty: dict[str, str] = {}
    out = []
    for run in runs:
        ctx = contexts.get(run.id)
        env = ctx.environment if ctx is not None else None
        dependencies, seeds = slices.get(run.id, (None, {}))
        out.append(
            RunFacts(
                run=run,
                params=flatten(run.params),
                metrics=run.metrics,
                series=arrays.get(run.id, {}) if series else None,
                # shared by the runs of one environment (thousands of runs, a few of them)
                packages=env.packages if env is not None else empty,
                python=env.python if env is not None else None,
                platform=env.platform if env is not None else None,
                git_commit=ctx.git_commit if ctx is not None else None,
                git_dirty=ctx.git_dirty if ctx is not None else None,
                code=(ctx.code or "") if ctx is not None else "",
                dependencies=dependencies,
                data=data.get(run.id, []),
                seeds=seeds,
                uses=uses.get(run.id, []),
            )
        )
    return out


# dependencies and seeds -----------------------------------------------------------------------


def _code_slices(store: Store, runs: Sequence[Run]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """``run id -> (dependencies, seeds)`` for the runs recorded in logged cells.

    A session's log is read once, and one slicer built over it up to the latest compared
    run's cell: dependencies only point backwards, so the slice of an earlier run is the
    same in it. Only a cell naming variables (``%%track -m x``, ``--snapshot``) looks names
    up at the end of the log, so such a run that is not the last gets a slicer of its own.
    """
    from ..pipeline.runslice import _track_options, run_slice, steps_text
    from ..pipeline.slicer import Slicer

    by_run = store.executions_of_runs([r.id for r in runs])
    sessions: dict[str, list[tuple[Run, Execution]]] = {}
    for run in runs:
        execution = by_run.get(run.id)
        if execution is not None:
            sessions.setdefault(execution.session_id, []).append((run, execution))
    out: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for session_id, members in sessions.items():
        last = max(e.seq for _r, e in members)
        log = store.executions(session_id, upto=last)
        shared = Slicer(log)
        for run, execution in members:
            slicer = shared
            if execution.seq != last:
                first = execution.raw.lstrip("\n").partition("\n")[0].strip()
                if first.startswith("%%track"):
                    names = _track_options(first[len("%%track") :])
                    if names["metric"] or names["snapshot"]:
                        slicer = Slicer([e for e in log if e.seq <= execution.seq])
            cell, deps = run_slice(slicer, run, execution)
            out[run.id] = (steps_text(deps), seeds_of([*deps, *cell]))
    return out


#: Global generators the execution log watches (it records when their state changes).
_WATCHED = {"random", "numpy"}
#: Seeding calls by their dotted name's ending, and the generator they seed.
_SEEDERS = {
    "random.seed": "random",
    "np.random.seed": "numpy",
    "numpy.random.seed": "numpy",
    "torch.manual_seed": "torch",
    "torch.cuda.manual_seed": "torch.cuda",
    "torch.cuda.manual_seed_all": "torch.cuda",
    "tf.random.set_seed": "tensorflow",
    "tensorflow.random.set_seed": "tensorflow",
    "tf.keras.utils.set_random_seed": "tensorflow",
    "keras.utils.set_random_seed": "keras",
    "transformers.set_seed": "transformers",
    "pl.seed_everything": "lightning",
    "lightning.seed_everything": "lightning",
    "pytorch_lightning.seed_everything": "lightning",
    "L.seed_everything": "lightning",
    "jax.random.PRNGKey": "jax",
    "jax.random.key": "jax",
}


def seeds_of(steps: Sequence[Step]) -> dict[str, Any]:
    """Seeds set by literal calls (``np.random.seed(0)``, ``torch.manual_seed(SEED)`` with
    ``SEED = 0`` assigned earlier) in these steps, the last per generator.

    For ``random`` and numpy, whose state the log watches, a call counts only when the log
    saw that generator's state change in the statement: the reseed really happened.
    """
    seeds: dict[str, Any] = {}
    literals: dict[str, Any] = {}
    for step in steps:
        try:
            tree = ast.parse(step.stmt.code or step.stmt.source)
        except SyntaxError:
            continue
        changed = set(step.fact.get("rng", ()))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                name = _dotted(node.func)
                generator = _SEEDERS.get(name or "")
                if generator is None and name in ("seed", "set_seed", "seed_everything"):
                    generator = name
                if generator is None or (generator in _WATCHED and generator not in changed):
                    continue
                value = _literal(node.args[0], literals)
                if value is not _UNKNOWN:
                    seeds[generator] = value
        for node in tree.body:
            if isinstance(node, ast.Assign):
                value = _literal(node.value, literals)
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        if value is _UNKNOWN:
                            literals.pop(target.id, None)
                        else:
                            literals[target.id] = value
    return seeds


_UNKNOWN = object()


def _literal(node: ast.expr, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id, _UNKNOWN)
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _UNKNOWN
    return value if isinstance(value, int | float | str | bool) or value is None else _UNKNOWN


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
