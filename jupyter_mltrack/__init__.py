"""jupyter_mltrack: reproducible ML tracking for Jupyter notebooks.

Public API (importing this module is cheap: no server, tornado or store code is loaded until
a run actually needs it)::

    %load_ext jupyter_mltrack          # registers %%track and %mltrack
    import jupyter_mltrack as mltrack
    with mltrack.start_run(name="baseline", params={"C": 1.0}) as run:
        mltrack.log_metric("accuracy", 0.93)
    snap = mltrack.snapshot(df, name="train")   # exact, deduplicated dataset snapshot
    df2 = mltrack.load_snapshot("train")        # the same data, dtypes, index and all
    mltrack.compare(3, 5, 7)                    # a widget: what differs, charts, why
    mltrack.explain(3, 5, "accuracy")           # ranked reasons the metric changed
    mltrack.search_runs("params.lr < 0.01 and metrics.acc > 0.9")   # runs as a DataFrame
    mltrack.group_runs("params.model", ["acc", "loss.min"])         # seeds collapsed
    mltrack.log_figure(fig, "roc")                  # files, texts, dicts and figures too
    mltrack.log_image(X_test[0].reshape(8, 8) / 16, "digit")   # arrays, PIL images, tensors
    mltrack.log_image(sample, "pred", step=epoch)   # a series: a slider over its steps
    mltrack.log_table(predictions_df, "predictions")   # Parquet; load_table("3/predictions")
    cfg = mltrack.load_dict("3/settings.yaml")      # load_text, load_image, load_figure too
    mltrack.log_model(clf, signature_from=X_test[:5], register="churn")  # skops: safe
    mltrack.set_alias("churn", "production", 1)
    clf = mltrack.load_model("models:/churn@production")   # in a run: recorded as used
    mltrack.datasets.push(df, "team/churn", tag="gold")    # named, versioned data
    df = mltrack.datasets.get("team/churn@gold")           # exactly as pushed
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# The subpackage ``jupyter_mltrack.compare`` (pure comparison logic) and the function
# ``mltrack.compare`` share a name. Importing a submodule sets the parent package's attribute
# to the module, but only when the submodule is first loaded: so the subpackage is imported
# here, before the function is defined (it is cheap: its names load on first use), and the
# function below replaces the attribute for good. See ``_ComparePublic`` for the other half.
# The same for ``jupyter_mltrack.autolog`` (stdlib only) and ``mltrack.autolog()``.
from . import autolog as _autolog_package
from . import compare as _compare_package
from .capture.api import (
    active_run,
    end_run,
    get_store,
    log_metric,
    log_metrics,
    log_params,
    set_store,
    set_tags,
    start_run,
)
from .capture.api import set_metric_goal as _set_metric_goal
from .capture.api import wait_pending as _wait_pending
from .capture.data import diff, load_snapshot, snapshot

# after capture.api (and so after concurrent.futures): registers the exit path
from .capture.exit import flush

if TYPE_CHECKING:
    import pandas as pd

    from .compare import Explanation, Importance
    from .models.public import (
        ModelInfo,
        delete_alias,
        delete_model,
        delete_model_tag,
        delete_model_version_tag,
        describe_model,
        download_artifact,
        get_model,
        lineage,
        lineage_figure,
        list_artifacts,
        list_models,
        load_dict,
        load_figure,
        load_image,
        load_model,
        load_table,
        load_text,
        log_artifact,
        log_dict,
        log_figure,
        log_image,
        log_model,
        log_table,
        log_text,
        register_model,
        set_alias,
        set_model_tag,
        set_model_version_tag,
        use_artifact,
    )
    from .widgets.compare import CompareWidget

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0.dev0"

__all__ = [
    "__version__",
    "ModelInfo",
    "active_run",
    "autolog",
    "compare",
    "datasets",
    "delete_alias",
    "delete_model",
    "delete_model_tag",
    "delete_model_version_tag",
    "describe_model",
    "diff",
    "download_artifact",
    "end_run",
    "explain",
    "flush",
    "get_model",
    "get_store",
    "group_chart",
    "group_runs",
    "importance",
    "lineage",
    "lineage_figure",
    "list_artifacts",
    "list_models",
    "load_dict",
    "load_figure",
    "load_image",
    "load_ipython_extension",
    "load_model",
    "load_snapshot",
    "load_table",
    "load_text",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "search_runs",
    "set_alias",
    "set_metric_goal",
    "set_model_tag",
    "set_model_version_tag",
    "set_store",
    "set_tags",
    "snapshot",
    "start_run",
    "sweep",
    "sweeps",
    "use_artifact",
]


#: The artifact and model API, loaded on first use (PEP 562): ``import jupyter_mltrack``,
#: which every kernel start with the extension does, does not pay for it (about 20 ms).
_MODEL_API = frozenset(
    {
        "ModelInfo",
        "delete_alias",
        "delete_model",
        "delete_model_tag",
        "delete_model_version_tag",
        "describe_model",
        "download_artifact",
        "get_model",
        "lineage",
        "lineage_figure",
        "list_artifacts",
        "list_models",
        "load_dict",
        "load_figure",
        "load_image",
        "load_model",
        "load_table",
        "load_text",
        "log_artifact",
        "log_dict",
        "log_figure",
        "log_image",
        "log_model",
        "log_table",
        "log_text",
        "register_model",
        "set_alias",
        "set_model_tag",
        "set_model_version_tag",
        "use_artifact",
    }
)


def __getattr__(name: str) -> Any:
    if name == "datasets":  # loads the snapshot code: only once a dataset is used
        value = importlib.import_module(f"{__name__}.datasets")
        globals()[name] = value
        return value
    if name in ("sweep", "sweeps"):  # sweeps load Optuna: only once one is asked for
        # not ``from . import sweeps``: that asks this module for ``sweeps`` first, which
        # (before the subpackage is loaded) calls this function again, without end
        sweeps = importlib.import_module(f"{__name__}.sweeps")
        value = sweeps.sweep if name == "sweep" else sweeps
        globals()[name] = value
        return value
    if name in _MODEL_API:
        from .models import public

        value = getattr(public, name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names with the model API's (tab completion offers them before use)."""
    return sorted(set(globals()) | _MODEL_API | {"datasets", "sweep", "sweeps"})


def _one_line(exc: BaseException) -> BaseException:
    """``exc`` shown by IPython as one line (``UnknownRun: no run '9' …``), not a traceback
    through this package: a wrong run number is the user's to fix, and the frames say
    nothing about it. IPython asks an exception for ``_render_traceback_`` before formatting
    one; outside IPython the exception is raised as usual."""
    line = f"\x1b[0;31m{type(exc).__name__}\x1b[0m: {exc}"
    exc._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
    return exc.with_traceback(None)


def _compare(
    *runs: Any,
    experiment: str | None = None,
    metric: str | None = None,
    baseline: Any = None,
) -> CompareWidget:
    """Compare runs in the notebook: a widget with a run picker and tabs for the table of what
    differs (baseline first), the charts and the explanation of a metric's change.

    ``runs`` are named as everywhere: a run number in the current experiment (the one a bare
    ``%%track`` cell records into, or ``experiment``), a full id, an id prefix, or a run
    object. Without runs, the five most recent runs of the experiment are selected.
    ``baseline`` (one of the runs, named the same way) is the run the others are compared
    with; by default the first. ``metric`` preselects the metric of the charts and of the
    explanation. Its saved output also shows as static HTML (GitHub, nbviewer).
    """
    __tracebackhide__ = True  # IPython: show the user's line and the message, not our frames
    from .capture.refs import RunRefError, check_experiment, current_experiment, resolve_runs
    from .compare import CompareError

    exp = experiment or current_experiment()
    store = get_store()
    _wait_pending()  # runs that just ended are written in the background
    try:
        if runs:
            ids = resolve_runs(store, runs, exp)
        else:
            check_experiment(store, exp)
            recent, _total = store.search_runs(experiment=exp, order="-start_time", limit=5)
            ids = [r.id for r in reversed(recent)]
            if len(ids) < 2:
                raise RunRefError(
                    f"experiment {exp!r} has {len(ids)} run(s): name at least two runs to compare"
                )
        if len(ids) < 2:
            raise CompareError("name at least two different runs to compare")
        if len(ids) > _compare_package.MAX_RUNS:
            raise CompareError(
                f"{len(ids)} runs: compare at most {_compare_package.MAX_RUNS} at a time"
            )
        if baseline is not None:
            (base_id,) = resolve_runs(store, [baseline], exp)
            if base_id not in ids:
                raise CompareError(
                    f"baseline {baseline!r} is not one of the compared runs: name one of them"
                )
            ids = [base_id, *(i for i in ids if i != base_id)]
        if metric is not None:
            _check_metric(store, ids, metric)
        from .widgets.compare import CompareWidget

        return CompareWidget(store, ids, metric=metric)
    except (RunRefError, CompareError) as exc:
        raise _one_line(exc) from None


def _check_metric(store: Any, ids: Sequence[str], metric: str) -> None:
    """Refuse a ``metric`` none of the runs logged, naming those they did."""
    from .compare.errors import UnknownMetric

    keys = sorted({key for run in store.load_runs(list(ids)) for key in run.metrics})
    if metric not in keys:
        have = f"their metrics: {', '.join(keys)}" if keys else "they logged no metrics"
        raise UnknownMetric(f"none of the compared runs has a metric {metric!r}; {have}")


class _ComparePublic:
    """``mltrack.compare(*runs, experiment=None, metric=None, baseline=None)``: the function, which also
    answers for the subpackage ``jupyter_mltrack.compare`` it shadows.

    Python's ``import jupyter_mltrack.compare.charts as charts`` (and
    ``import jupyter_mltrack.compare as c``) reads the attribute ``compare`` of this package
    rather than ``sys.modules``; handing attribute lookups on to the subpackage keeps those
    imports working while ``mltrack.compare(3, 5)`` stays the function.
    """

    def __init__(self) -> None:
        self.__name__ = self.__qualname__ = "compare"
        self.__doc__ = _compare.__doc__
        self.__signature__ = inspect.signature(_compare)

    def __call__(
        self,
        *runs: Any,
        experiment: str | None = None,
        metric: str | None = None,
        baseline: Any = None,
    ) -> CompareWidget:
        __tracebackhide__ = True
        return _compare(*runs, experiment=experiment, metric=metric, baseline=baseline)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_compare_package, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(_compare_package)) | {"__call__"})

    def __repr__(self) -> str:
        signature = "*runs, experiment=None, metric=None, baseline=None"
        return f"<function jupyter_mltrack.compare({signature})>"


compare = _ComparePublic()


class _AutologPublic:
    """``mltrack.autolog(enable=True)``: the function, which also answers for the subpackage
    ``jupyter_mltrack.autolog`` it shadows (as ``_ComparePublic`` does for ``compare``)."""

    def __init__(self) -> None:
        self.__name__ = self.__qualname__ = "autolog"
        self.__doc__ = self.__call__.__doc__

    def __call__(self, enable: bool = True) -> None:
        """Record params and metrics of scikit-learn, XGBoost and LightGBM calls in the runs
        ``start_run()`` opens from now on (scripts, loops of runs); ``autolog(False)`` stops.
        ``%%track`` cells autolog already (``--no-autolog`` or
        ``%config TrackMagics.autolog = False`` turns that off)."""
        _autolog_package.enable(enable)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_autolog_package, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(_autolog_package)) | {"__call__"})

    def __repr__(self) -> str:
        return "<function jupyter_mltrack.autolog(enable=True)>"


autolog = _AutologPublic()


def explain(a: Any, b: Any, metric: str, *, experiment: str | None = None) -> Explanation:
    """Why ``metric`` differs between runs ``a`` and ``b``: every factor that differs between
    them (parameters, code, data, packages, seeds), ranked by the evidence the rest of the
    experiment gives. Runs are named as in :func:`compare`. The result prints readably and
    has ``to_dict()``."""
    __tracebackhide__ = True
    from .capture.refs import RunRefError, current_experiment, resolve_runs
    from .compare import CompareError
    from .compare import explain as _explain

    exp = experiment or current_experiment()
    store = get_store()
    _wait_pending()
    try:
        ids = resolve_runs(store, [a, b], exp)
        if len(ids) != 2:
            raise CompareError("name two different runs to explain a change between")
        return _explain(store, ids[0], ids[1], metric, experiment=exp)
    except (RunRefError, CompareError) as exc:
        raise _one_line(exc) from None


def importance(
    experiment: str | Sequence[str] | None = None, metric: str | None = None
) -> Importance:
    """Per parameter, how strongly it goes with ``metric`` across an experiment's runs (rank
    correlation and, with scikit-learn, random-forest importance). ``experiment`` defaults
    to the current one."""
    __tracebackhide__ = True
    from .capture.refs import current_experiment
    from .compare import CompareError
    from .compare import importance as _importance

    if metric is None:
        raise TypeError("importance() needs the metric: mltrack.importance(experiment, 'acc')")
    exp = experiment or current_experiment()
    _wait_pending()
    try:
        return _importance(get_store(), exp, metric)
    except CompareError as exc:
        raise _one_line(exc) from None


def search_runs(
    filter: str | None = None,
    *,
    order_by: str | Sequence[str] | None = None,
    experiments: str | Sequence[str] | None = None,
    max_results: int | None = None,
) -> pd.DataFrame:
    """The runs a query selects, as a DataFrame: a row per run, its attributes (``run_id``,
    ``number``, ``experiment``, ``name``, ``status``, ``start_time``…) then ``params.*``,
    ``metrics.*`` (latest values) and ``tags.*`` columns, as MLflow's ``search_runs``
    returns, except that params keep the types they were recorded with::

        mltrack.search_runs("params.lr < 0.01 and metrics.acc.max >= 0.9",
                            order_by="-metrics.acc.max", max_results=20)

    ``filter`` is the query language of the sidebar, the CLI and the REST API (AND, OR,
    NOT, ``in``, ``~``, ``is null``, reducers such as ``metrics.loss.min``), or plain words
    matching a run's name, number or tags; ``order_by`` a field (``-`` or ``DESC`` for
    descending; several for ties), default newest first; ``experiments`` one name or
    several, default every experiment. A query that does not parse raises an error
    pointing at the column."""
    __tracebackhide__ = True
    from .query import QuerySyntaxError
    from .query.frame import search_frame
    from .store import InvalidQuery

    _wait_pending()  # runs that just ended are written in the background
    try:
        return search_frame(
            get_store(),
            filter,
            order_by=order_by,
            experiments=experiments,
            max_results=max_results,
        )
    except QuerySyntaxError as exc:
        raise _one_line(exc) from None
    except InvalidQuery as exc:
        raise _one_line(exc) from None


def group_runs(
    group_by: str,
    metrics: Sequence[str] = (),
    *,
    filter: str | None = None,
    experiments: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The runs grouped by a parameter, tag or attribute, as a DataFrame: a row per group
    (indexed by its value, largest group first), its run ``count``, then ``METRIC.mean``,
    ``.std``, ``.min``, ``.max`` and ``.count`` of each metric over the group's runs::

        mltrack.group_runs("params.model", ["acc", "loss.min"], filter="status = finished")

    What collapses the seeds of one configuration into one row with its spread. A metric is
    ``KEY`` (its latest value) or ``KEY.REDUCER`` (``loss.min``, ``acc.best``…); ``filter``
    is the query language of :func:`search_runs`. :func:`group_chart` draws the same."""
    __tracebackhide__ = True
    from .query.groups import groups_frame

    metrics, groups = _groups(group_by, metrics, filter, experiments)
    return groups_frame(groups, group_by, metrics)


def group_chart(
    group_by: str,
    metrics: Sequence[str] = (),
    *,
    filter: str | None = None,
    experiments: str | Sequence[str] | None = None,
) -> Any:
    """:func:`group_runs` as a plotly figure: a panel per metric, a bar per group at its
    mean with a ± one standard deviation error bar and min and max ticks (the chart the
    sidebar's groups view and ``mltrack runs groups --html`` show)."""
    __tracebackhide__ = True
    from .compare.charts import groups_figure
    from .query.groups import groups_answer

    metrics, groups = _groups(group_by, metrics, filter, experiments)
    return groups_figure(groups_answer(group_by, metrics, groups))


def _groups(
    group_by: str,
    metrics: str | Sequence[str],
    filter: str | None,
    experiments: str | Sequence[str] | None,
) -> tuple[list[str], list[Any]]:
    from .query import QuerySyntaxError
    from .query.groups import group_runs as _group_runs
    from .query.search import Scope
    from .store import InvalidQuery

    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if isinstance(experiments, str):
        experiments = [experiments]
    _wait_pending()
    try:
        groups = _group_runs(
            get_store(),
            group_by,
            names,
            filter=filter,
            scope=Scope(experiments=tuple(experiments or ())),
        )
    except (QuerySyntaxError, InvalidQuery) as exc:
        raise _one_line(exc) from None
    return names, groups


def set_metric_goal(key: str, goal: str | None, experiment: str | None = None) -> None:
    """Say whether metric ``key`` is better low (``"min"``) or high (``"max"``) in an
    experiment (default: the current one), when its name would be guessed wrong; comparisons
    then call its changes better or worse by it. ``None`` forgets the setting."""
    from .capture.refs import current_experiment

    _set_metric_goal(key, goal, experiment or current_experiment())


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mltrack``: register the magics and expose ``mltrack``."""
    from .capture.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .capture.magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mltrack"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import MltrackApp

    return [{"module": "jupyter_mltrack.server.app", "app": MltrackApp}]
