"""The compact card shown under a tracked cell: run number, key metrics, change vs. the best.

It is a MIME bundle: JupyterLab renders ``application/vnd.mltrack.run+json`` with the
labextension's renderer, other frontends fall back to the HTML or text versions.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..store.entities import Run, RunRef

if TYPE_CHECKING:  # the store (SQLAlchemy) is not loaded by %load_ext
    from ..store.store import Store
from .outputs import RUN_CARD_MIME

MAX_CARD_METRICS = 6
#: What a card may show a metric as: the latest value, or one over every value logged.
CARD_REDUCERS = ("last", "best", "min", "max", "mean")


def lower_is_better(metric: str, goals: Mapping[str, str] | None = None) -> bool:
    """Whether a metric is better low: by the goal set for it in the experiment
    (``set_metric_goal``, in ``goals``), else by its name, as comparisons guess it
    (:mod:`..compare.goals`: losses, errors, perplexity… are minimised)."""
    from ..compare.goals import metric_goal

    return metric_goal(metric, goals) == "min"


#: Per store and experiment, the goals set for its metrics as this process last read them,
#: and when.
_goals: dict[tuple[str, int], tuple[float, dict[str, str]]] = {}
#: How long a read of the goals serves (seconds): a goal set elsewhere (the CLI, another
#: kernel) shows on the cards after this; one set in this process at once.
GOALS_FRESH_FOR = 10.0


def experiment_goals(store: Store, experiment_id: int) -> dict[str, str]:
    """The goals set for the experiment's metrics (``metric -> "min" | "max"``), read at
    most every :data:`GOALS_FRESH_FOR` seconds per experiment (a card after every cell
    needs them), none when the store cannot say: the card then goes by the names."""
    now = time.monotonic()
    key = (str(getattr(store, "url", id(store))), experiment_id)
    kept = _goals.get(key)
    if kept is not None and now - kept[0] < GOALS_FRESH_FOR:
        return kept[1]
    try:
        found = store.metric_goals([experiment_id]).get(experiment_id, {})
    except Exception:  # the store went away: the names decide, and it is asked again
        return {}
    _goals[key] = (now, found)
    return found


def forget_goals() -> None:
    """Read the goals from the store again at the next card (a goal was set)."""
    _goals.clear()


def card_reducers(
    keys: Sequence[str], default: str, per_metric: Mapping[str, str]
) -> dict[str, str]:
    """The reducer of each metric a card shows: its own setting, else the default."""
    out = {}
    for key in keys:
        reducer = per_metric.get(key, default)
        out[key] = reducer if reducer in CARD_REDUCERS else "last"
    return out


def _num(value: float | None) -> float | None:
    """Finite values only: NaN and infinities are not comparable as a "best"."""
    return None if value is None or not math.isfinite(value) else value


#: Per experiment, the metric its latest card compared on: a cell run again compares on
#: the same one, so its best run can be looked up while the cell runs (see ``prefetch``).
_compared_on: dict[int, str] = {}


def compared_on(experiment_id: int) -> str | None:
    """The metric the latest card of this experiment compared on, if any."""
    return _compared_on.get(experiment_id)


def card_data(
    store: Store,
    run: Run,
    pending: Sequence[Run] = (),
    prefetched: tuple[tuple[str, str], RunRef | None] | None = None,
    reducers: Mapping[str, str] | None = None,
    goals: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The card's JSON (see docs/rest-api.md, "Run card MIME type"). ``pending``: runs of
    this process whose final write is under way, compared with as if stored;
    ``prefetched``: ``(metric, best run)`` looked up while the cell ran, used when the card
    compares on that metric (a query less after the cell); ``reducers``: metric -> how
    ``run``'s (and ``pending``'s) values were reduced (``last`` when absent), which the best
    run is looked up and compared under too; ``goals``: the experiment's metric goals
    (:func:`experiment_goals`; read here when not given), which decide which run is best
    and whether a change is better."""
    from ..compare.goals import metric_goal

    reducers = {k: r for k, r in (reducers or {}).items() if r != "last"}
    metrics = {k: _num(v) for k, v in list(run.metrics.items())[:MAX_CARD_METRICS]}
    best = None
    deltas: dict[str, float] = {}
    first = next((k for k, v in metrics.items() if v is not None), None)
    spooled = getattr(store, "offline", None)  # the run is being kept locally (store.spool)
    if goals is None:
        goals = experiment_goals(store, run.experiment_id) if spooled is None else {}
    if first is not None and spooled is None:
        _compared_on[run.experiment_id] = first
        higher = not lower_is_better(first, goals)
        # a pending run's stored row is older than what it is about to write: left out of
        # the query, compared with as it will be stored
        ids = {p.id for p in pending}
        reducer = reducers.get(first, "last")
        fetched = prefetched is not None and prefetched[0] == (first, reducer)
        if fetched and not _one_of(prefetched[1], ids):  # type: ignore[index]
            other = prefetched[1]  # type: ignore[index]
        else:
            excluded = [run.id, *ids]
            try:
                other = store.best_run(
                    run.experiment_id,
                    first,
                    higher_is_better=higher,
                    exclude=excluded,
                    reducer=reducer,
                )
            except Exception:  # the store went away since: the card shows the run alone
                other = None
        other = _better_pending(other, run, first, higher, pending)
        if other is not None:
            best = {
                "run_id": other.id,
                "number": other.number,
                "metrics": {k: _num(v) for k, v in other.metrics.items() if k in metrics},
            }
            for key, value in metrics.items():
                before = _num(other.metrics.get(key))
                if value is not None and before is not None:
                    deltas[key] = value - before
    return {
        "run_id": run.id,
        "number": run.number,
        "experiment": run.experiment,
        "name": run.name,
        "status": run.status.value,
        "duration": run.duration,
        "metrics": metrics,
        "best": best,
        "deltas": deltas,
        "goals": {k: metric_goal(k, goals) for k in metrics},
        **({"reducers": {k: r for k, r in reducers.items() if k in metrics}} if reducers else {}),
        **({"spooled": _spooled_note(store, spooled)} if spooled is not None else {}),
    }


def _spooled_note(store: Store, reason: str) -> str:
    """What the card says of a run kept in the local spool (see ``store.spool``)."""
    return (
        f"Not in the store yet: it cannot be written ({reason}). Kept locally in"
        f" {store.spool.path}; written to the store when it is back, or by `mltrack sync`."  # type: ignore[attr-defined]
    )


def _one_of(ref: RunRef | None, ids: set[str]) -> bool:
    return ref is not None and ref.id in ids


def _better_pending(
    best: RunRef | None, run: Run, key: str, higher: bool, pending: Sequence[Run]
) -> RunRef | None:
    """``best``, or the run among ``pending`` (same experiment) with a better ``key``."""
    for other in pending:
        value = _num(other.metrics.get(key))
        if other.experiment_id != run.experiment_id or other.id == run.id or value is None:
            continue
        held = _num(best.metrics.get(key)) if best is not None else None
        if held is None or (value > held if higher else value < held):
            best = RunRef(id=other.id, number=other.number, metrics=dict(other.metrics))
    return best


def _label(data: dict[str, Any], key: str) -> str:
    """``acc`` for the latest value, ``acc (best)`` under another reducer."""
    reducer = data.get("reducers", {}).get(key)
    return f"{key} ({reducer})" if reducer else key


def _fmt(value: float | None) -> str:
    if value is None:
        return "NaN"
    return f"{value:.4g}"


def _number(data: dict[str, Any]) -> str:
    """A run kept in the spool has no number yet (the store gives it when written)."""
    return str(data["number"]) if data["number"] else "?"


def card_text(data: dict[str, Any]) -> str:
    head = f"mltrack run #{_number(data)}"
    if data.get("name"):
        head += f" {data['name']}"
    head += f" [{data['experiment']}] {data['status']}"
    if data.get("duration") is not None:
        head += f" in {data['duration']:.2f}s"
    parts = []
    for key, value in data["metrics"].items():
        text = f"{_label(data, key)}={_fmt(value)}"
        if key in data["deltas"] and data.get("best"):
            text += f" ({data['deltas'][key]:+.4g} vs #{data['best']['number']})"
        parts.append(text)
    text = head + ("\n" + "  ".join(parts) if parts else "")
    return text + (f"\n{data['spooled']}" if data.get("spooled") else "")


def card_html(data: dict[str, Any]) -> str:
    esc = html.escape
    cells = []
    for key, value in data["metrics"].items():
        delta = data["deltas"].get(key)
        extra = ""
        if delta is not None and data.get("best"):
            good = (delta < 0) if data["goals"].get(key) == "min" else (delta > 0)
            colour = "#2e7d32" if good else ("#c62828" if delta else "inherit")
            extra = (
                f' <span style="color:{colour}">({delta:+.4g} vs #{data["best"]["number"]})</span>'
            )
        cells.append(f"<b>{esc(_label(data, key))}</b> {esc(_fmt(value))}{extra}")
    name = f" {esc(data['name'])}" if data.get("name") else ""
    dur = f" · {data['duration']:.2f}s" if data.get("duration") is not None else ""
    return (
        '<div class="jp-mltrack-card-fallback" style="font-family:var(--jp-ui-font-family,sans-serif);'
        'font-size:12px;border-left:3px solid #1976d2;padding:2px 8px">'
        f"run <b>#{_number(data)}</b>{name} · {esc(data['experiment'])} · {esc(data['status'])}{dur}"
        + ("<br>" + " &nbsp; ".join(cells) if cells else "")
        + (f"<br><i>{esc(data['spooled'])}</i>" if data.get("spooled") else "")
        + "</div>"
    )


def card_bundle(
    store: Store,
    run: Run,
    pending: Sequence[Run] = (),
    prefetched: tuple[tuple[str, str], RunRef | None] | None = None,
    reducers: Mapping[str, str] | None = None,
    goals: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    data = card_data(store, run, pending, prefetched, reducers, goals)
    return {RUN_CARD_MIME: data, "text/html": card_html(data), "text/plain": card_text(data)}
