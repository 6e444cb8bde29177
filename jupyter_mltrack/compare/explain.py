"""Why did a metric change between two runs? Every factor on which run A and run B differ,
ranked by the evidence the rest of their experiment(s) gives.

The factors (``compare.factors``): each flattened parameter, each code hunk of the cell and
of its dependencies, each input dataset (naming the columns that changed), each artifact
loaded from another run (the model an evaluation ran), each package version, each RNG seed
the execution log saw set, Python and the platform.

The evidence (``compare.evidence``) comes from the *other* finished runs of A's and B's
experiments that logged the metric, never from A and B themselves:

1. matched pairs: runs that differ from each other in that factor only, and what the metric
   did between them (mean ± std of the change, taken in A→B's direction);
2. across the runs: Spearman's rank correlation of a numeric factor with the metric, and a
   fixed-seed random forest's importance and counterfactual estimate (when scikit-learn is
   installed; the answer says when it is not);
3. factors that always changed together are grouped as confounded (their effects cannot
   be told apart); factors with no evidence are untested.

Score (0..1, deterministic, rounded to 4 places), a weighted mean over the sources that apply
to the factor (pairs 0.6; correlation 0.25, numeric factors only; forest 0.15, with
scikit-learn), each source in 0..1:

- pairs: ``agree(mean) × min(1, |mean| / |Δ|) × |mean| / (|mean| + std/√n) × n / (n + 1)``;
- correlation: ``agree(ρ · sign(b − a)) × |ρ| × m / (m + 5)`` over ``m`` runs;
- forest: ``agree(estimate) × importance``;

where ``Δ`` is A→B's change and ``agree`` is 1 when the evidence pushes the metric the way
it moved, 0.25 when it pushes against it (a factor that worked against the change does not
explain it). A confounded group shares its best member's score. Ties are broken by kind
(param, code, data, used, package, seed, environment) and key.

The estimate of a factor's contribution is the pairs' mean, else the forest's
counterfactual, else (numeric factors) a least-squares slope × (b − a). ``explained`` is
the sum of the estimates (one per confounded group) over ``Δ``, clamped to 0..1.

A factor's ``status``:

- ``supported``: evidence pushes the metric the way it moved, with some strength: pairs
  whose mean agrees and exceeds twice its standard error and a tenth of ``|Δ|``, or
  ``|ρ| ≥ 0.3`` agreeing, or a forest importance ≥ 0.1 with an agreeing estimate;
- ``weak``: there is evidence, but it is weak or points the other way;
- ``confounded``: it always changed together with other factors (see ``groups``);
- ``untested``: no evidence at all;
- ``fact``: not a factor weighed by evidence but a recorded fact that likely explains the
  change by itself, listed first (kind ``run``, key ``status``): A or B is still running,
  or failed, at an earlier step of the metric than the other run reached.

Run status
    A run still running, or one that failed, crashed or was interrupted, is reported first
    in ``notes`` ("#151 is still running (at step 30; #1 ended at step 999)", "#5 failed
    (RuntimeError: …) after 5 of 20 steps"), from the run's status and error and the
    metric's last step; when its metric stopped at an earlier step than the other run's,
    the ``fact`` line leads the factors.
Noise
    Other runs that share every factor and everything else recorded (replicates: an
    unseeded estimator re-run, say) measure the run-to-run noise: ``noise`` gives their
    pooled std, the largest range within a group, and how many runs and groups. The
    change is *within* that noise when ``|Δ|`` is at most ``max(2√2·std, range)`` (the
    spread of a difference of two replicates at about 95%, or what was seen), else
    *beyond* it; a note says which, and when A and B differ in nothing recorded that is
    the answer.

Loading is bulk (``load_experiment_facts``); other runs' execution-log slices
(dependencies, seeds) are read only when A and B differ in them, so otherwise a difference
in another run's dependencies alone does not keep it from being a matched pair.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..store.entities import RunStatus
from . import evidence as ev
from . import wording as words
from .errors import CompareError, UnknownMetric
from .evidence import MISSING
from .factors import KINDS, Candidate, candidates, table
from .facts import RunFacts, load_experiment_facts, load_facts, resolve_runs
from .goals import metric_goal

#: Weights of the evidence sources in a factor's score.
W_PAIRS, W_CORR, W_FOREST = 0.6, 0.25, 0.15
#: How much evidence pushing against the observed change still counts.
AGAINST = 0.25


def _num(x: float | None, digits: int = 6) -> float | None:
    """A float for JSON: ``digits`` significant digits (stable across platforms), NaN → None."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def _json(value: Any) -> Any:
    return None if value is MISSING else value


@dataclass(frozen=True)
class Side:
    id: str
    label: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "value": self.value}


@dataclass(frozen=True)
class Factor:
    """One way A and B differ, with the evidence about it."""

    rank: int
    kind: str
    key: str
    a: Any
    b: Any
    detail: str | None
    status: str  # supported | weak | confounded | untested | fact (see the module doc)
    score: float
    estimate: float | None
    evidence: dict[str, Any]
    group: int | None
    sentence: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "kind": self.kind,
            "key": self.key,
            "a": _json(self.a),
            "b": _json(self.b),
            "detail": self.detail,
            "status": self.status,
            "score": self.score,
            "estimate": self.estimate,
            "evidence": dict(self.evidence),
            "group": self.group,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class Group:
    factors: list[str]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"factors": list(self.factors), "sentence": self.sentence}


@dataclass(frozen=True)
class Explanation:
    """The ranked answer to "why did ``metric`` change from run A to run B?"."""

    metric: str
    goal: str
    a: Side
    b: Side
    change: float
    explained: float | None
    sklearn: bool
    runs_considered: int
    factors: list[Factor]
    groups: list[Group] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Run-to-run noise among replicates (``None`` when no two other runs share every
    #: factor): ``{"runs", "groups", "std", "range", "within"}``.
    noise: dict[str, Any] | None = None

    @property
    def top(self) -> Factor | None:
        return self.factors[0] if self.factors else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "goal": self.goal,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "change": self.change,
            "explained": self.explained,
            "sklearn": self.sklearn,
            "runs_considered": self.runs_considered,
            "factors": [f.to_dict() for f in self.factors],
            "groups": [g.to_dict() for g in self.groups],
            "notes": list(self.notes),
            "noise": dict(self.noise) if self.noise is not None else None,
        }

    def __str__(self) -> str:
        verdict = ""
        if self.change:
            better = (self.change > 0) == (self.goal == "max")
            verdict = ", better" if better else ", worse"
        lines = [
            f"Why {self.metric} changed from {self.a.label} ({words.fmt(self.a.value)}) to "
            f"{self.b.label} ({words.fmt(self.b.value)}): {self.change:+.3g}{verdict}",
        ]
        share = (
            f"accounts for {self.explained:.0%} of the change"
            if self.explained is not None
            else "does not estimate the change"
        )
        n = self.runs_considered
        if n:
            lines.append(f"Evidence from {words.plural(n, 'other run')} {share}.")
        else:
            lines.append("No other finished run to weigh the evidence by.")
        if not self.factors:
            lines.append("  The two runs differ in nothing recorded.")
        width = len(str(len(self.factors)))
        for f in self.factors:
            est = f", est. {f.estimate:+.3g}" if f.estimate is not None else ""
            lines.append(
                f"  {f.rank:>{width}}. [{f.kind}] {f.sentence} "
                f"(score {f.score:.2f}{est}, {f.status})"
            )
        if self.groups:
            lines.append("Confounded:")
            lines.extend(f"  - {g.sentence}" for g in self.groups)
        if self.notes:
            lines.append("Notes:")
            lines.extend(f"  - {n}" for n in self.notes)
        return "\n".join(lines)

    __repr__ = __str__


# the entry point ----------------------------------------------------------------------------


def _label(f: RunFacts, several: bool) -> str:
    return f"{f.run.experiment} #{f.run.number}" if several else f"#{f.run.number}"


def _metric_of(f: RunFacts, metric: str, label: str, other: RunFacts) -> float:
    if metric not in f.metrics:
        both = sorted(set(f.metrics) & set(other.metrics))
        hint = (
            f"metrics both runs logged: {', '.join(both)}"
            if both
            else "the two runs logged no metric in common"
        )
        raise UnknownMetric(f"run {label} has no metric {metric!r}; {hint}")
    value = f.metrics[metric]
    if not math.isfinite(value):
        raise CompareError(f"metric {metric!r} of run {label} is {value}: nothing to explain")
    return float(value)


def explain(
    store: Any, a: str, b: str, metric: str, *, experiment: str | None = None
) -> Explanation:
    """Rank every factor on which runs ``a`` and ``b`` differ by how well the rest of their
    experiment(s) says it explains the change in ``metric`` (see the module docstring).

    ``a``, ``b``: run numbers (in ``experiment``, default the latest), ids or id prefixes.
    """
    if not isinstance(metric, str) or not metric.strip():
        raise UnknownMetric("name the metric to explain (for example metric='accuracy')")
    metric = metric.strip()
    a_id, b_id = resolve_runs(store, [str(a), str(b)], experiment)
    if a_id == b_id:
        raise CompareError(f"{a!r} and {b!r} are the same run: name two different runs to explain")
    fa, fb = load_facts(store, [a_id, b_id], code=True)
    several = fa.run.experiment != fb.run.experiment
    la, lb = _label(fa, several), _label(fb, several)
    va = _metric_of(fa, metric, la, fb)
    vb = _metric_of(fb, metric, lb, fa)
    change = vb - va
    exp_ids = sorted({fa.run.experiment_id, fb.run.experiment_id})
    overrides: dict[str, str] = {}
    for goals in store.metric_goals(exp_ids).values():
        overrides.update(goals)
    goal = metric_goal(metric, overrides)

    cands, parts = candidates(fa, fb)
    need_log = any(c.kind == "seed" for c in cands) or bool(
        "dependencies" in parts and parts["dependencies"].hunks
    )
    experiments = sorted({fa.run.experiment, fb.run.experiment})
    everyone = load_experiment_facts(store, experiments, code=need_log)
    others = [
        f
        for f in everyone
        if f.id not in (a_id, b_id)
        and f.run.status == RunStatus.FINISHED
        and math.isfinite(f.metrics.get(metric, math.nan))
    ]
    others.sort(key=lambda f: (f.run.experiment, f.run.number, f.id))
    if not need_log and others:
        contexts = store.run_contexts([f.id for f in others], code=True)
        others = [_with_code(f, contexts[f.id].code if f.id in contexts else None) for f in others]
    tab = table(others, fa, cands, parts, seeds_loaded=need_log)
    y = np.array([f.metrics[metric] for f in others], dtype=float)
    if len(y):
        y = y - float(np.median(y))  # differences are what count; keeps sums well conditioned
    found = ev.gather(
        [f.id for f in others],
        y,
        tab.columns,
        [ev.Candidate(c.id, c.ha, c.hb) for c in cands],
        tab.background,
        features=tab.features,
        feature_ab=tab.feature_ab,
        forest=ev.forest_class(),
    )
    spread = float(np.std(y)) if len(y) > 1 else 0.0
    factors, groups, explained = _rank(cands, found, change, spread, metric)
    notes, lead = _status_facts(store, fa, fb, la, lb, metric)
    if lead is not None:
        factors = [lead, *(_replace(f, rank=f.rank + 1) for f in factors)]
    noise = _noise(found.noise, change)
    if noise is not None:
        notes.append(_noise_note(noise, change, nothing=not cands))
    if not found.sklearn:
        notes.append("scikit-learn is not installed: no random-forest importance")
    if not others:
        notes.append(f"no other finished run logged {metric}: there is no evidence to rank by")
    elif len(others) < 3:
        notes.append(
            f"only {words.plural(len(others), 'other finished run')} logged {metric}: there is "
            f"little evidence to rank by"
        )
    return Explanation(
        metric=metric,
        goal=goal,
        a=Side(a_id, la, va),
        b=Side(b_id, lb, vb),
        change=change,
        explained=explained,
        sklearn=found.sklearn,
        runs_considered=len(others),
        factors=factors,
        groups=groups,
        notes=notes,
        noise=noise,
    )


def _with_code(f: RunFacts, code: str | None) -> RunFacts:
    return _replace(f, code=code or "")


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


# run status and noise -----------------------------------------------------------------------


def _run_error(store: Any, run_id: str) -> str | None:
    """``"RuntimeError: boom"`` from a run's recorded error (one column of one row)."""
    try:
        from sqlalchemy import select

        from ..store.models import RunRow

        t = RunRow.__table__
        with store.engine.connect() as conn:
            raw = conn.execute(select(t.c.error).where(t.c.id == run_id)).scalar()
        error = json.loads(raw) if raw else None
    except Exception:  # an older store, an odd record: the status alone still says it
        return None
    if not isinstance(error, dict):
        return None
    name = str(error.get("ename") or "").strip()
    value = str(error.get("evalue") or "").strip().splitlines()
    text = f"{name}: {value[0]}" if name and value else name or (value[0] if value else "")
    return text if len(text) <= 80 else text[:79] + "…"


def _status_facts(
    store: Any, fa: RunFacts, fb: RunFacts, la: str, lb: str, metric: str
) -> tuple[list[str], Factor | None]:
    """Notes on A or B not having finished, and a leading ``fact`` line when one of them
    stopped (or is, so far) at an earlier step of ``metric`` than the other reached."""
    if fa.run.status == RunStatus.FINISHED and fb.run.status == RunStatus.FINISHED:
        return [], None
    try:
        extents = store.metric_extents([fa.id, fb.id])
    except Exception:  # a store without series: the statuses alone
        extents = {}

    def extent(f: RunFacts) -> tuple[int, int] | None:
        return extents.get(f.id, {}).get(metric)

    notes: list[str] = []
    lead: Factor | None = None
    for f, label, o, other in ((fb, lb, fa, la), (fa, la, fb, lb)):
        status = f.run.status
        if status == RunStatus.FINISHED:
            continue
        mine, theirs = extent(f), extent(o)
        earlier = mine is not None and theirs is not None and mine[1] < theirs[1]
        ended = "ended" if o.run.status != RunStatus.RUNNING else "is"
        if status == RunStatus.RUNNING:
            text = f"{label} is still running"
            if mine is not None and theirs is not None:
                text += f" (at step {mine[1]}; {other} {ended} at step {theirs[1]})"
            elif mine is not None:
                text += f" (at step {mine[1]})"
            why = f"its {metric} is not final yet"
        else:
            error = _run_error(store, f.id)
            text = f"{label} {status.value}" + (f" ({error})" if error else "")
            if mine is not None and theirs is not None and mine[0] < theirs[0]:
                text += f" after {mine[0]} of {theirs[0]} steps"
            elif mine is not None:
                text += f" at step {mine[1]}"
            why = f"its {metric} is from where it stopped"
        if earlier and lead is None:
            sentence = (
                f"{text}: {why}, so the change may come from comparing {metric} at "
                f"different steps rather than from what the runs were made of"
            )
            notes.insert(0, f"{text}: {why}")
            lead = Factor(
                rank=1,
                kind="run",
                key="status",
                a=fa.run.status.value,
                b=fb.run.status.value,
                detail=text,
                status="fact",
                score=1.0,
                estimate=None,
                evidence={
                    "pairs": 0,
                    "pair_mean": None,
                    "pair_std": None,
                    "spearman": None,
                    "rf_importance": None,
                    "pair_runs": [],
                },
                group=None,
                sentence=sentence,
            )
        else:
            notes.append(f"{text}: {why}")
    return notes, lead


#: A change beyond ``max(NOISE_Z · √2 · std, range)`` of replicates is beyond their noise.
NOISE_Z = 2.0


def _noise(noise: ev.Noise | None, change: float) -> dict[str, Any] | None:
    if noise is None:
        return None
    bound = max(NOISE_Z * math.sqrt(2.0) * noise.std, noise.range)
    return {
        "runs": noise.runs,
        "groups": noise.groups,
        "std": _num(noise.std),
        "range": _num(noise.range),
        "within": bool(abs(change) <= bound),
    }


def _noise_note(noise: dict[str, Any], change: float, *, nothing: bool) -> str:
    runs, groups = noise["runs"], noise["groups"]
    who = f"{runs} other runs with the same settings"
    if groups > 1:
        who = f"{runs} other runs in {groups} groups of identical settings"
    spread = f"vary by ±{words.fmt(noise['std'] or 0.0)} (range {words.fmt(noise['range'] or 0.0)})"
    verdict = "within" if noise["within"] else "beyond"
    text = f"{who} {spread}: this change ({change:+.3g}) is {verdict} that noise"
    if nothing:
        head = "nothing recorded differs between the two runs"
        if noise["within"]:
            return f"{head}; {text}: run-to-run variation (an unseeded estimator, say)"
        return f"{head}; {text}: something not recorded changed"
    if noise["within"]:
        text += ": it may be run-to-run variation rather than any factor listed"
    return text


# scoring and sentences ----------------------------------------------------------------------


def _agree(x: float | None, change: float) -> float:
    if x is None or x == 0:
        return 0.0
    if change == 0 or (x > 0) == (change > 0):
        return 1.0
    return AGAINST


def _direction(c: Candidate) -> float:
    try:
        return 1.0 if float(c.hb) > float(c.ha) else -1.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _score(c: Candidate, e: ev.FactorEvidence, change: float, spread: float, sk: bool) -> float:
    scale = abs(change) or spread or 1.0
    total = weight = 0.0
    p = e.pairs
    weight += W_PAIRS
    if p.count and p.mean is not None:
        sem = (p.std or 0.0) / math.sqrt(p.count)
        m = abs(p.mean)
        consistency = m / (m + sem) if m > 0 else 0.0
        total += W_PAIRS * (
            _agree(p.mean, change) * min(1.0, m / scale) * consistency * p.count / (p.count + 1)
        )
    if e.numeric:
        weight += W_CORR
        if e.spearman is not None:
            rho = e.spearman
            m = e.spearman_runs
            total += W_CORR * _agree(rho * _direction(c), change) * abs(rho) * m / (m + 5)
    if sk:
        weight += W_FOREST
        if e.rf_importance is not None:
            total += W_FOREST * _agree(e.rf_estimate, change) * e.rf_importance
    return round(total / weight, 4)


#: What "non-trivial" evidence is (see ``status`` in the module docstring).
MIN_PAIR_SHARE, MIN_SPEARMAN, MIN_FOREST = 0.1, 0.3, 0.1


def _supports(c: Candidate, e: ev.FactorEvidence, change: float) -> bool:
    """Does the evidence push the metric the way it moved, with some strength?"""
    p = e.pairs
    if p.count and p.mean is not None and _agree(p.mean, change) == 1.0:
        sem = (p.std or 0.0) / math.sqrt(p.count)
        if abs(p.mean) > 2 * sem and abs(p.mean) >= MIN_PAIR_SHARE * abs(change):
            return True
    rho = e.spearman
    if rho is not None and abs(rho) >= MIN_SPEARMAN and _agree(rho * _direction(c), change) == 1.0:
        return True
    return (
        e.rf_importance is not None
        and e.rf_importance >= MIN_FOREST
        and _agree(e.rf_estimate, change) == 1.0
    )


def _estimate(e: ev.FactorEvidence) -> float | None:
    if e.pairs.count:
        return e.pairs.mean
    if e.rf_estimate is not None:
        return e.rf_estimate
    return e.linear_estimate


def _evidence_dict(e: ev.FactorEvidence) -> dict[str, Any]:
    p = e.pairs
    return {
        "pairs": p.count,
        "pair_mean": _num(p.mean) if p.count else None,
        "pair_std": _num(p.std) if p.count else None,
        "spearman": _num(e.spearman, 4),
        "rf_importance": _num(e.rf_importance, 4),
        "pair_runs": [list(r) for r in p.runs],
    }


def _rank(
    cands: Sequence[Candidate], found: ev.Evidence, change: float, spread: float, metric: str
) -> tuple[list[Factor], list[Group], float | None]:
    by_id = {c.id: c for c in cands}
    scores = {c.id: _score(c, found.factors[c.id], change, spread, found.sklearn) for c in cands}
    for g in found.groups:
        best = max(scores[k] for k in g)
        for k in g:
            scores[k] = best

    def status(c: Candidate) -> str:
        e = found.factors[c.id]
        if e.group is not None:
            return "confounded"
        if _supports(c, e, change):
            return "supported"
        if e.pairs.count or e.spearman is not None or e.rf_importance is not None:
            return "weak"
        return "untested"

    def order(c: Candidate) -> tuple[Any, ...]:
        st = status(c)
        s = 0.0 if st == "untested" else scores[c.id]
        g = found.factors[c.id].group
        return (-s, st == "untested", g if g is not None else -1, KINDS.index(c.kind), c.key)

    ranked = sorted(cands, key=order)
    group_names = [[words.name(by_id[k]) for k in g] for g in found.groups]
    factors: list[Factor] = []
    for i, c in enumerate(ranked, 1):
        e = found.factors[c.id]
        st = status(c)
        title = words.title(c)
        what = words.what(c)
        if e.group is not None:
            names = group_names[e.group]
            what = words.together(names)
            pairs_ = zip(found.groups[e.group], names, strict=True)
            mates = words.together([n for k, n in pairs_ if k != c.id])
            title += f": always changed together with {mates}"
        body = words.body(c, e, metric, what)
        if e.group is None and st == "untested":
            body = "untested: " + body
        factors.append(
            Factor(
                rank=i,
                kind=c.kind,
                key=c.key,
                a=c.a,
                b=c.b,
                detail=c.detail,
                status=st,
                score=0.0 if st == "untested" else scores[c.id],
                estimate=_num(_estimate(e)),
                evidence=_evidence_dict(e),
                group=e.group,
                sentence=f"{title}: {body}",
            )
        )
    groups = []
    for g in found.groups:
        members = [by_id[k] for k in g]
        e = found.factors[g[0]]
        names = words.together([words.name(m) for m in members])
        if e.pairs.count and e.pairs.mean is not None:
            s = "" if e.pairs.count == 1 else "s"
            tail = (
                f"; in {e.pairs.count} other pair{s} differing in them alone, "
                f"{words.moved(metric, e.pairs.mean, e.pairs.std)}"
            )
        else:
            tail = ""
        groups.append(
            Group(
                factors=list(g),
                sentence=f"{names} always changed together: their effects cannot be "
                f"told apart{tail}",
            )
        )
    explained = None
    if change != 0:
        total = 0.0
        seen_groups: set[int] = set()
        any_estimate = False
        for f in factors:
            if f.status == "untested" or f.estimate is None:
                continue
            if f.group is not None:
                if f.group in seen_groups:
                    continue
                seen_groups.add(f.group)
            total += f.estimate
            any_estimate = True
        if any_estimate:
            explained = round(min(1.0, max(0.0, total / change)), 4)
    return factors, groups, explained
