"""What the comparison routes of the REST API do, with no HTTP in it (see :mod:`.api`).

The comparison itself lives in :mod:`jupyter_mltrack.compare` (pure Python, shared with the
notebook widget and the CLI). This module only turns query arguments into its arguments,
refuses what it cannot answer with a message that says what to change, and maps its errors
to HTTP statuses: a run that does not exist is a ``404``, anything else the caller can fix in
the query (too many runs, a bad reducer, a metric no run has) a ``400``.

:mod:`jupyter_mltrack.compare` pulls in numpy (and plotly for charts): it is imported on
the first request, so the server starts as fast as before.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..compare.errors import MAX_RUNS
from ..store import InvalidQuery, RunNotFound, Store
from ..store.entities import iso, json_number
from .api import (
    ApiError,
    _check_text,
    _int_arg,
    _known_args,
    _single,
    bad_request,
    resolve_run,
)

COMPARE_PARAMS = ("runs", "baseline", "reducer", "step", "experiment")
EXPLAIN_PARAMS = ("a", "b", "metric", "experiment")
#: The query parameters each chart kind takes besides ``kind``.
KIND_PARAMS = {
    "curves": ("runs", "experiment", "metrics", "x", "smoothing", "log", "max_points"),
    "parallel": ("runs", "experiment", "params", "metrics", "color"),
    "scatter": ("runs", "experiment", "x", "y", "log"),
    "bars": ("runs", "experiment", "metrics", "baseline", "reducer", "step"),
    "importance": ("runs", "experiment", "metric"),
    "sweep_history": ("sweep", "experiment"),
    "sweep_importance": ("sweep", "experiment"),
}
#: Parameters every chart kind takes.
COMMON_CHART_PARAMS = ("kind", "typed_arrays")
CHART_PARAMS = (
    *COMMON_CHART_PARAMS,
    *dict.fromkeys(p for params in KIND_PARAMS.values() for p in params),
)
SERIES_PARAMS = ("max_points",)

#: Most runs a chart over whole experiments draws (parallel coordinates, scatter, importance).
MAX_EXPERIMENT_RUNS = 10_000
CHART_KINDS = tuple(KIND_PARAMS)
CURVE_X = ("step", "relative", "wall")
#: Points of a series sent by default, and the bounds a client may ask for.
DEFAULT_POINTS = 2000
MIN_POINTS, MAX_POINTS = 2, 100_000
_FULL_ID = re.compile(r"^[0-9a-f]{32}$")
#: Largest metric step (steps are stored as int64).
MAX_STEP = 2**63 - 1
#: What a reducer may be, for messages (``compare.reducers`` parses them).
REDUCER_HELP = "last, min, max, best, step=N or mean=K"


# errors ------------------------------------------------------------------------------------


@contextmanager
def _errors() -> Iterator[None]:
    """The comparison's and the store's refusals as API errors.

    ``compare.UnknownRun`` is both a ``CompareError`` and a ``LookupError``: checking the
    latter keeps this independent of where the subclass is defined."""
    from ..compare import CompareError

    try:
        yield
    except CompareError as exc:
        raise ApiError(404 if isinstance(exc, LookupError) else 400, str(exc)) from None
    except RunNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except InvalidQuery as exc:  # an ambiguous id prefix
        raise bad_request(str(exc)) from None


# arguments ---------------------------------------------------------------------------------


def _refs(args: Mapping[str, list[str]], name: str) -> list[str]:
    """A comma-separated list argument (``runs=3,5,7``); repeating it appends."""
    out: list[str] = []
    for raw in args.get(name, []):
        _check_text(f"query parameter {name!r}", raw)
        out += [part.strip() for part in raw.split(",") if part.strip()]
    return out


def _resolve(store: Store, refs: Sequence[str], experiment: str | None) -> list[str]:
    """Run ids for ``refs`` (ids, unique id prefixes, numbers), each listed once.

    Clients mostly send full ids: those are checked in one query, and only the other
    references are resolved one by one."""
    ids: list[str] = []
    seen: dict[str, str] = {}
    full = [ref.lower() for ref in refs if _FULL_ID.match(ref.lower())]
    known = {run.id for run in store.load_runs(full)} if full else set()
    for ref in refs:
        run_id = ref.lower() if ref.lower() in known else resolve_run(store, ref, experiment)
        if run_id in seen:
            raise bad_request(
                f"runs names the same run twice ({seen[run_id]!r} and {ref!r}); list each run once"
            )
        seen[run_id] = ref
        ids.append(run_id)
    return ids


def _run_list(
    store: Store, args: Mapping[str, list[str]], experiment: str | None, low: int
) -> list[str]:
    refs = _refs(args, "runs")
    if len(refs) < low:
        example = "runs=3,5" if low > 1 else "runs=3"
        raise bad_request(
            f"runs must name at least {low} run{'s' if low > 1 else ''} (ids, id prefixes or "
            f"numbers, separated by commas, e.g. {example}); got {len(refs)}"
        )
    if len(refs) > MAX_RUNS:
        raise bad_request(
            f"runs names {len(refs)} runs; at most {MAX_RUNS} can be compared at once: name fewer"
        )
    return _resolve(store, refs, experiment)


def _reducers(args: Mapping[str, list[str]]) -> dict[str, str]:
    """``reducer=KEY:SPEC`` arguments (split at the last ``:``, so keys may hold colons),
    each spec checked here so the message names the argument."""
    from ..compare import parse_reducer

    reducers: dict[str, str] = {}
    for raw in args.get("reducer", []):
        _check_text("query parameter 'reducer'", raw)
        key, sep, spec = raw.rpartition(":")
        key, spec = key.strip(), spec.strip()
        if not sep or not key or not spec:
            raise bad_request(
                f"reducer must be METRIC:REDUCER, e.g. loss:min, got {raw!r}; "
                f"REDUCER is one of {REDUCER_HELP}"
            )
        if key in reducers:
            raise bad_request(f"reducer for {key!r} was given more than once; give one")
        try:
            parse_reducer(spec)
        except ValueError as exc:  # CompareError is a ValueError
            raise bad_request(f"reducer {raw!r}: {exc}") from None
        reducers[key] = spec
    return reducers


def _optional_int(args: Mapping[str, list[str]], name: str) -> int | None:
    if _single(args, name) is None:
        return None
    return _int_arg(args, name, 0, 0, MAX_STEP)


def _required(args: Mapping[str, list[str]], name: str, what: str) -> str:
    value = (_single(args, name) or "").strip()
    if not value:
        raise bad_request(f"{name} is required: {what}")
    return value


def _names(args: Mapping[str, list[str]], name: str) -> list[str] | None:
    """A comma-separated list of metric or parameter names, ``None`` when absent."""
    if name not in args:
        return None
    return list(dict.fromkeys(_refs(args, name)))


# routes ------------------------------------------------------------------------------------


def compare_runs(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET compare``: the comparison of 2 to 100 runs, baseline first."""
    from ..compare import compare

    args = _known_args(args, COMPARE_PARAMS)
    experiment = _single(args, "experiment") or None
    ids = _run_list(store, args, experiment, 2)
    baseline = _single(args, "baseline") or None
    if baseline is not None:
        base_id = _resolve(store, [baseline], experiment)[0]
        if base_id not in ids:
            raise bad_request(
                f"baseline {baseline!r} is not one of the compared runs: add it to runs, "
                "or name one of them"
            )
        baseline = base_id
    reducers = _reducers(args)
    step = _optional_int(args, "step")
    with _errors():
        result = compare(
            store, ids, baseline, reducers=reducers or None, step=step, experiment=experiment
        )
        answer = result.to_dict()
    _warm_explain()
    return answer


_warming: threading.Thread | None = None


def _warm_explain() -> None:
    """Import scikit-learn's forest in the background once a comparison is open: the first
    *Why?* would otherwise pay its import (1.5-4 s here) while the user waits."""
    global _warming
    if _warming is None:
        from ..compare.evidence import forest_class

        _warming = threading.Thread(target=forest_class, name="mltrack-warm-sklearn", daemon=True)
        _warming.start()


def explain_runs(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET compare/explain``: why ``metric`` changed from run ``a`` to run ``b``."""
    from ..compare import explain

    args = _known_args(args, EXPLAIN_PARAMS)
    experiment = _single(args, "experiment") or None
    a = _required(args, "a", "the run to explain from (id, id prefix or number)")
    b = _required(args, "b", "the run to explain to (id, id prefix or number)")
    metric = _required(args, "metric", "the metric whose change to explain, e.g. metric=acc")
    a_id, b_id = _resolve(store, [a], experiment)[0], _resolve(store, [b], experiment)[0]
    if a_id == b_id:
        raise bad_request(f"a and b name the same run ({a!r}, {b!r}): give two different runs")
    with _errors():
        return explain(store, a_id, b_id, metric, experiment=experiment).to_dict()


def _no_experiment(name: str, known: Iterable[str]) -> ApiError:
    listed = ", ".join(sorted(known)[:20]) or "none yet"
    return ApiError(404, f"no experiment {name!r}; experiments: {listed}")


def _experiments(store: Store, names: Sequence[str]) -> list[str]:
    """``names`` checked: each exists, and together they hold at most 10,000 runs."""
    known = {e.name: e.run_count for e in store.list_experiments()}
    for name in names:
        if name not in known:
            raise _no_experiment(name, known)
    total = sum(known[n] for n in names)
    if total > MAX_EXPERIMENT_RUNS:
        raise bad_request(
            f"experiment {', '.join(names)} hold{'s' if len(names) == 1 else ''} {total:,} "
            f"runs; a chart draws at most {MAX_EXPERIMENT_RUNS:,}: name fewer experiments, "
            "or pick runs with runs="
        )
    return list(names)


def _float_arg(args: Mapping[str, list[str]], name: str, low: float, high: float) -> float | None:
    raw = _single(args, name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be a number, got {raw!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise bad_request(f"{name} must be between {low} and {high}, got {raw}")
    return value


def _bool_arg(args: Mapping[str, list[str]], name: str) -> bool | None:
    raw = _single(args, name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise bad_request(f"{name} must be true or false, got {raw!r}")


def chart_request(store: Store, args: Mapping[str, list[str]]) -> tuple[str, dict[str, Any]]:
    """The chart ``kind`` and the arguments for ``charts.build_chart``, validated: each kind
    takes only its own parameters (``KIND_PARAMS``), so a misspelt or misplaced one is a 400
    rather than silently ignored."""
    kind = _required(args, "kind", "one of " + ", ".join(CHART_KINDS))
    if kind not in CHART_KINDS:
        raise bad_request(f"unknown chart kind {kind!r}; use one of " + ", ".join(CHART_KINDS))
    allowed = (*COMMON_CHART_PARAMS, *KIND_PARAMS[kind])
    a_kind = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} chart"
    try:
        args = _known_args(args, allowed)
    except ApiError:  # say what this kind takes, and whether the parameter is another kind's
        name = sorted(n for n in args if n not in allowed and not n.isdigit())[0]
        what = f"does not take {name}" if name in CHART_PARAMS else f"has no parameter {name!r}"
        raise bad_request(f"{a_kind} {what}; it takes " + ", ".join(allowed)) from None
    experiments = list(dict.fromkeys(v.strip() for v in args.get("experiment", []) if v.strip()))
    for name in experiments:
        _check_text("query parameter 'experiment'", name)
    if kind.startswith("sweep_"):
        return kind, {"sweep": _sweep_run(store, args, experiments, a_kind)}

    # With runs=, experiment= is where their numbers are looked up (as for compare); without
    # it, every run of the experiments (the kinds drawn over whole experiments).
    chart: dict[str, Any] = {}
    lookup: str | None = None
    if "runs" in args:
        if len(experiments) > 1:
            raise bad_request(
                "with runs=, experiment= names the one experiment run numbers are looked up "
                f"in; got {len(experiments)}: give one, or name runs by id"
            )
        lookup = experiments[0] if experiments else None
        chart["runs"] = _run_list(store, args, lookup, 2 if kind == "bars" else 1)
    elif experiments and kind in ("curves", "bars"):
        raise bad_request(
            f"{a_kind} draws named runs: give runs= (experiment= only says where their "
            "numbers are looked up)"
        )
    elif experiments:
        chart["experiments"] = _experiments(store, experiments)
    elif kind == "importance":
        raise bad_request(
            "an importance chart is computed over runs or experiments: give runs= or "
            "experiment=NAME"
        )
    else:
        chart["runs"] = _run_list(store, args, None, 2 if kind == "bars" else 1)

    x, y = _single(args, "x"), _single(args, "y")
    if kind == "curves" and x is not None and x not in CURVE_X:
        raise bad_request(f"x must be one of {', '.join(CURVE_X)} for curves, got {x!r}")
    if kind == "scatter":
        for name, value in (("x", x), ("y", y)):
            prefix, _, rest = (value or "").partition(".")
            if prefix not in ("params", "metrics") or not rest:
                raise bad_request(
                    f"a scatter chart needs {name}=params.NAME or {name}=metrics.NAME "
                    f"(e.g. x=params.lr&y=metrics.acc), got {value!r}"
                )
    if kind == "bars" and "baseline" in args:
        baseline = _required(args, "baseline", "one of the runs")
        base_id = _resolve(store, [baseline], lookup)[0]
        if base_id not in chart["runs"]:
            raise bad_request(f"baseline {baseline!r} is not one of the runs: name one of them")
        chart["baseline"] = base_id
    options = {
        "x": x,
        "y": y,
        "metrics": _names(args, "metrics"),
        "params": _names(args, "params"),
        "color": _single(args, "color") or None,
        "smoothing": _float_arg(args, "smoothing", 0.0, 0.99),
        "log_y": _bool_arg(args, "log"),
        "metric": _single(args, "metric") or None,
        "reducers": _reducers(args) or None,
        "step": _optional_int(args, "step"),
    }
    if "max_points" in args:
        options["max_points"] = _int_arg(args, "max_points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
    if kind == "importance" and not options["metric"]:
        raise bad_request("an importance chart needs metric=KEY: the metric to explain")
    chart.update({k: v for k, v in options.items() if v is not None})
    return kind, chart


def _sweep_run(
    store: Store, args: Mapping[str, list[str]], experiments: Sequence[str], a_kind: str
) -> str:
    """The id of the run ``sweep=`` names (whether it is a sweep, the chart says)."""
    ref = _required(args, "sweep", f"{a_kind} draws the sweep whose run this names")
    _check_text("query parameter 'sweep'", ref)
    if len(experiments) > 1:
        raise bad_request(
            "with sweep=, experiment= names the one experiment its number is looked up in; "
            f"got {len(experiments)}"
        )
    return _resolve(store, [ref], experiments[0] if experiments else None)[0]


def chart(store: Store, args: Mapping[str, list[str]]) -> dict[str, Any]:
    """``GET compare/charts``: a plotly figure as JSON (``{"data", "layout"}``).

    Numeric arrays are sent as plotly.js typed arrays (``{"dtype", "bdata"}``, base64) unless
    ``typed_arrays=false``: what plotly.py itself sends since version 6, and what keeps the
    curves of 10 runs x 10 metrics (200,000 points) within the time budget -- as a list of
    decimal numbers the JSON is twice as large and takes ten times as long to encode."""
    from ..compare.charts import build_chart, figure_json

    typed = _bool_arg(args, "typed_arrays")
    kind, options = chart_request(store, args)
    with _errors():
        figure = build_chart(store, kind, options)
    return figure_json(figure, typed_arrays=typed is not False)


def metric_series(store: Store, run_ref: str, key: str, args: Mapping[str, list[str]]) -> dict:
    """``GET runs/{id}/metrics/{key}``: one series, downsampled to at most ``max_points``
    points (each bucket's first, last, min and max are kept, so spikes survive)."""
    from ..compare.series import downsample, read_series

    args = _known_args(args, SERIES_PARAMS)
    max_points = _int_arg(args, "max_points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
    _check_text("the metric key", key)
    run_id = _resolve(store, [run_ref], None)[0]
    found = read_series(store, [run_id], [key]).get(run_id, {})
    if key not in found:
        run = store.get_run(run_id)
        keys = ", ".join(sorted(run.metrics)) or "none"
        raise ApiError(404, f"run #{run.number} has no metric {key!r}; its metrics: {keys}")
    full = found[key]
    count = len(full.steps)
    shown = downsample(full, max_points) if count > max_points else full
    return {
        "run_id": run_id,
        "key": key,
        "count": count,
        "downsampled": len(shown.steps) < count,
        "steps": shown.steps.tolist(),
        "values": [json_number(v) for v in shown.values.tolist()],
        "timestamps": [iso(t) for t in shown.timestamps.tolist()],
    }
