"""The evidence an experiment gives about factors: matched pairs, rank correlation, a random
forest, and which factors were confounded. Pure numpy on plain per-run values, so it is
independent of how runs are loaded (``explain`` and ``importance`` feed it from the store).

Input is a table: one row per run, one column per factor, each cell a hashable value
(:data:`MISSING` where a run has no value). Rows are the *other* runs of the experiment,
never A or B themselves, so the evidence is independent of the change being explained.

Matched pairs
    Two runs are a matched pair for a factor when they differ in it and in nothing else (no
    other factor, and the same *background*: everything on which A and B agree, folded into
    one hashable per run by the caller). Runs are grouped by a signature of every factor
    but one: each column's values are factorised and hashed (splitmix64 of code and column
    position), the row signature is the sum of the column hashes, and the signature without
    factor ``f`` is that sum minus ``f``'s hash: O(runs × factors), never O(runs²). Groups
    are then checked exactly, so a hash collision cannot make a false pair. A pair counts
    when its two values are A's and B's (the change is taken in A→B's direction), or, for a
    numeric factor with no such pair, when the values move the same way as A→B (the change
    is then taken along that direction). Pair statistics come from per-group sums (every
    cross pair of a group), so a group of 250 × 250 runs costs as much as one of 2.
Confounding
    Factors whose values partition the runs (A and B included) identically always changed
    together: no run can tell them apart. They are grouped, and pairs are sought for the
    group as a whole (runs differing in all of them and in nothing else).
Correlation and forest
    Spearman's rank correlation (average ranks for ties, numpy only) for numeric factors;
    a scikit-learn ``RandomForestRegressor`` with a fixed ``random_state`` over every factor
    (numbers as they are, other values ordinal-encoded in a sorted order), giving impurity
    importances and, for each factor, a counterfactual: the forest's prediction at A with
    the factor set to B's value, minus its prediction at A.
Noise
    Replicates are other runs that share every factor and the background (nothing recorded
    tells them apart: an unseeded estimator re-run, say). Their metric's spread within each
    group of replicates, pooled over the groups (``sqrt(Σ (y - group mean)² / (N - G))``),
    and the largest range within a group are the run-to-run noise a change is measured
    against.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..imports import heavy


class _Missing:
    """A run has no value for the factor (a param it did not log, a dataset it did not read)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: Trees in the forest, and the seed that makes it deterministic. 60 trees keep a 500-run
#: experiment well inside explain's one-second budget; importances settle long before.
FOREST_TREES = 60
FOREST_SEED = 0
#: Features a split considers at most (all of them when there are fewer).
MAX_SPLIT_FEATURES = 16
#: Pairs listed per factor (the statistics use them all).
MAX_PAIR_RUNS = 10

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def forest_class() -> Any:
    """scikit-learn's ``RandomForestRegressor``, or ``None`` when scikit-learn is not
    installed (then there is no forest evidence, and the answer says so)."""
    try:
        return heavy("sklearn.ensemble").RandomForestRegressor  # (see ..imports)
    except ImportError:
        return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def numeric_column(values: Sequence[Any], *extra: Any) -> bool:
    """Are all present values (and ``extra``) real numbers (bools count as 0/1)?"""
    seen = False
    for v in (*values, *extra):
        if v is MISSING:
            continue
        if not is_number(v):
            return False
        seen = True
    return seen


# ranks and correlation ----------------------------------------------------------------------


def rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean of their positions (scipy's default)."""
    x = np.asarray(x, dtype=float)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    boundaries = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1], True])
    starts, ends = boundaries[:-1], boundaries[1:]
    avg = (starts + ends + 1) / 2.0  # mean of positions start+1 .. end
    ranks = np.empty(n, dtype=float)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rank correlation, or ``None`` when it is undefined (fewer than 3 points,
    or either side constant)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if len(xa) < 3:
        return None
    rx, ry = rankdata(xa), rankdata(ya)
    rx -= rx.mean()
    ry -= ry.mean()
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0:
        return None
    return max(-1.0, min(1.0, float(rx @ ry) / denom))


# hashing ------------------------------------------------------------------------------------


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def factorize(values: Sequence[Hashable]) -> tuple[np.ndarray, list[Hashable]]:
    """Integer codes by first appearance, and the distinct values in that order."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter(
        (index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values)
    )
    return codes, list(index)


def _column_hash(codes: np.ndarray, position: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        salt = _splitmix(np.array([position + 1], dtype=np.uint64))[0]
        return _splitmix(codes.astype(np.uint64) ^ salt)


# results ------------------------------------------------------------------------------------


@dataclass
class Pairs:
    """Matched pairs of one factor: how many, the mean and std of the metric's change
    (direction-adjusted), and some of the runs (``[from, to]``)."""

    count: int = 0
    mean: float | None = None
    std: float | None = None
    runs: list[list[str]] = field(default_factory=list)
    #: True when the pairs went exactly from A's value to B's; False when they only moved
    #: a number the same way.
    exact: bool = True


@dataclass
class FactorEvidence:
    key: str
    pairs: Pairs
    spearman: float | None = None
    #: Runs the correlation used.
    spearman_runs: int = 0
    rf_importance: float | None = None
    #: The forest's predicted change at A when this factor (its whole group) takes B's value.
    rf_estimate: float | None = None
    #: Least-squares slope × (b − a), for numeric factors (the fallback without a forest).
    linear_estimate: float | None = None
    #: Does the factor take at least two values among the other runs?
    varies: bool = False
    numeric: bool = False
    group: int | None = None


@dataclass(frozen=True)
class Noise:
    """The metric's spread among replicates: ``runs`` runs in ``groups`` groups of
    identical settings (each of two runs or more)."""

    runs: int
    groups: int
    #: Pooled within-group standard deviation.
    std: float
    #: The largest max − min within a group.
    range: float


@dataclass
class Evidence:
    factors: dict[str, FactorEvidence]
    #: Confounded groups, each a sorted list of factor keys (groups sorted by first key).
    groups: list[list[str]]
    sklearn: bool
    runs: int
    #: Run-to-run noise among replicates, ``None`` when no two runs share every factor.
    noise: Noise | None = None


@dataclass(frozen=True)
class Candidate:
    """A factor on which A and B differ: its key and its value in A and in B."""

    key: str
    a: Hashable
    b: Hashable


# the analysis -------------------------------------------------------------------------------


def gather(
    run_ids: Sequence[str],
    metric: Sequence[float] | np.ndarray,
    columns: Mapping[str, Sequence[Hashable]],
    candidates: Sequence[Candidate],
    background: Sequence[Hashable],
    *,
    features: Mapping[str, Sequence[Hashable]] | None = None,
    feature_ab: Mapping[str, tuple[Hashable, Hashable]] | None = None,
    forest: Any = None,
    use_forest: bool = True,
) -> Evidence:
    """The evidence for each candidate factor.

    ``columns``: each candidate's value per run (aligned with ``run_ids`` and ``metric``);
    ``background``: one hashable per run standing for every other factor (runs whose
    background differs are never a pair); ``features``: further varying factors the forest
    may use (with their A and B values in ``feature_ab``), so a candidate's importance is
    measured next to what else varied. ``forest``: the regressor class (default: found with
    :func:`forest_class`); ``use_forest=False`` leaves the forest out.
    """
    y = np.asarray(metric, dtype=float)
    n = len(y)
    keys = [c.key for c in candidates]
    by_key = {c.key: c for c in candidates}
    numeric = {k: numeric_column(columns[k], by_key[k].a, by_key[k].b) for k in keys}

    # factorised columns: rows 0 and 1 are A and B, then the other runs
    codes: dict[str, np.ndarray] = {}
    for k in keys:
        codes[k], _ = factorize([by_key[k].a, by_key[k].b, *columns[k]])
    groups = _confounded(keys, codes)
    group_of = {k: i for i, g in enumerate(groups) for k in g}
    clusters: list[list[str]] = [list(g) for g in groups] + [[k] for k in keys if k not in group_of]

    # signatures over the other runs: every candidate column plus the background
    bg_codes, _ = factorize(list(background))
    col_hash = {k: _column_hash(codes[k][2:], i) for i, k in enumerate(keys)}
    total = _column_hash(bg_codes, len(keys)).copy()
    with np.errstate(over="ignore"):
        for k in keys:
            total += col_hash[k]

    out: dict[str, FactorEvidence] = {}
    for cluster in clusters:
        with np.errstate(over="ignore"):
            sig = total.copy()
            for k in cluster:
                sig -= col_hash[k]
        members = set(cluster)
        rest = [codes[k][2:] for k in keys if k not in members]
        # members partition the runs alike: same variation, same exact pairs
        varies = n > 0 and len(np.unique(codes[cluster[0]][2:])) > 1
        exact: Pairs | None = None
        for k in cluster:
            if exact is not None and (exact.count or not numeric[k]):
                pairs = exact
            else:
                pairs = _pairs(sig, rest, bg_codes, y, run_ids, numeric[k], by_key[k], columns[k])
                if exact is None or (pairs.count and pairs.exact):
                    exact = pairs if pairs.exact else Pairs()
            out[k] = FactorEvidence(
                key=k,
                pairs=pairs,
                varies=varies,
                numeric=numeric[k],
                group=group_of.get(k),
            )

    # correlation and a least-squares slope for numeric factors
    for k in keys:
        if not numeric[k]:
            continue
        x = np.array([float(v) if v is not MISSING else np.nan for v in columns[k]], dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        ev = out[k]
        ev.spearman = spearman(x[ok], y[ok])
        ev.spearman_runs = int(ok.sum())
        if ok.sum() >= 3 and np.ptp(x[ok]) > 0:
            slope = np.polyfit(x[ok], y[ok], 1)[0]
            ev.linear_estimate = float(slope * (float(by_key[k].b) - float(by_key[k].a)))

    sklearn = False
    if use_forest:
        forest = forest if forest is not None else forest_class()
        sklearn = forest is not None
    if sklearn and keys and n >= 5 and np.isfinite(y).sum() >= 5:
        _forest_evidence(forest, y, keys, columns, by_key, clusters, out, features, feature_ab)
    noise = replicate_noise([bg_codes, *(codes[k][2:] for k in keys)], y)
    return Evidence(factors=out, groups=groups, sklearn=sklearn, runs=n, noise=noise)


def replicate_noise(code_columns: Sequence[np.ndarray], y: np.ndarray) -> Noise | None:
    """The metric's spread among runs equal in every column (integer codes per run), or
    ``None`` when no two runs (with a finite metric) are (see the module docstring)."""
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(y)
    if finite.sum() < 2 or not code_columns:
        return None
    keys = np.column_stack(list(code_columns))[finite]
    ys = y[finite]
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    counts = np.bincount(inv)
    multi = counts[inv] > 1
    if not multi.any():
        return None
    inv, ys = inv[multi], ys[multi]
    n_groups = int((counts > 1).sum())
    sums = np.bincount(inv, weights=ys, minlength=len(counts))
    means = sums[inv] / counts[inv]
    dev = ys - means
    runs = len(ys)
    std = math.sqrt(float(dev @ dev) / (runs - n_groups))
    hi = np.full(len(counts), -np.inf)
    lo = np.full(len(counts), np.inf)
    np.maximum.at(hi, inv, ys)
    np.minimum.at(lo, inv, ys)
    used = counts > 1
    spread = float(np.max(hi[used] - lo[used]))
    return Noise(runs=runs, groups=n_groups, std=std, range=spread)


def _confounded(keys: Sequence[str], codes: Mapping[str, np.ndarray]) -> list[list[str]]:
    """Candidate factors that partition the runs identically (codes are by first appearance,
    so identical partitions have identical code arrays)."""
    by_partition: dict[bytes, list[str]] = {}
    for k in keys:
        by_partition.setdefault(codes[k].tobytes(), []).append(k)
    groups = [sorted(g) for g in by_partition.values() if len(g) > 1]
    return sorted(groups)


def _pairs(
    sig: np.ndarray,
    rest: Sequence[np.ndarray],
    bg: np.ndarray,
    y: np.ndarray,
    run_ids: Sequence[str],
    numeric: bool,
    cand: Candidate,
    values: Sequence[Hashable],
) -> Pairs:
    """Matched pairs of one factor among runs sharing a signature (see the module doc)."""
    finite = np.isfinite(y)
    if len(sig) < 2:
        return Pairs()
    # groups of runs with the same signature, two or more runs, varying in the factor
    uniq, inverse, counts = np.unique(sig, return_inverse=True, return_counts=True)
    multi = counts[inverse] > 1
    idx = np.flatnonzero(multi & finite)
    if len(idx) < 2:
        return Pairs()
    order = idx[np.lexsort((idx, inverse[idx]))]
    g = inverse[order]
    cuts = np.flatnonzero(np.r_[True, g[1:] != g[:-1], True])
    exact_groups: list[tuple[np.ndarray, np.ndarray]] = []
    loose: list[np.ndarray] = []
    for s, e in zip(cuts[:-1], cuts[1:], strict=True):
        if e - s < 2:
            continue
        members = order[s:e]
        for sub in _exact_subgroups(members, rest, bg):
            vals = [values[i] for i in sub]
            in_a = np.array([v == cand.a for v in vals])
            in_b = np.array([v == cand.b for v in vals])
            if in_a.any() and in_b.any():
                exact_groups.append((sub[in_a], sub[in_b]))
            elif numeric and len(set(vals)) > 1:
                loose.append(sub)
    if exact_groups:
        return _exact_stats(exact_groups, y, run_ids)
    if numeric and loose:
        direction = 1.0 if float(cand.b) > float(cand.a) else -1.0
        return _oriented_stats(loose, values, y, run_ids, direction)
    return Pairs()


def _exact_subgroups(
    members: np.ndarray, rest: Sequence[np.ndarray], bg: np.ndarray
) -> list[np.ndarray]:
    """Split a signature group by the exact values of the other factors (guards against a
    64-bit hash collision; normally the group comes back whole)."""
    if not rest:
        keys = bg[members][:, None]
    else:
        keys = np.column_stack([bg[members], *[r[members] for r in rest]])
    if (keys == keys[0]).all():
        return [members]
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    return [members[inv == i] for i in range(inv.max() + 1) if (inv == i).sum() > 1]


def _exact_stats(
    groups: Sequence[tuple[np.ndarray, np.ndarray]], y: np.ndarray, run_ids: Sequence[str]
) -> Pairs:
    count = 0
    total = 0.0
    squares = 0.0
    listed: list[list[str]] = []
    for a_rows, b_rows in groups:
        ya, yb = y[a_rows], y[b_rows]
        na, nb = len(ya), len(yb)
        sa, sb = float(ya.sum()), float(yb.sum())
        qa, qb = float(ya @ ya), float(yb @ yb)
        count += na * nb
        total += na * sb - nb * sa
        squares += na * qb + nb * qa - 2 * sa * sb
        for i in a_rows:
            for j in b_rows:
                if len(listed) < MAX_PAIR_RUNS:
                    listed.append([run_ids[i], run_ids[j]])
    return _finish(count, total, squares, listed, exact=True)


def _oriented_stats(
    groups: Sequence[np.ndarray],
    values: Sequence[Hashable],
    y: np.ndarray,
    run_ids: Sequence[str],
    direction: float,
) -> Pairs:
    """Pairs moving a number: the change from the lower to the higher value, times the
    direction of A→B (so a positive mean says "moving it as A→B did raised the metric")."""
    count = 0
    total = 0.0
    squares = 0.0
    listed: list[list[str]] = []
    for members in groups:
        by_value: dict[float, list[int]] = {}
        for i in members:
            v = values[i]
            if v is not MISSING:
                by_value.setdefault(float(v), []).append(int(i))
        levels = sorted(by_value)
        for lo_i, lo in enumerate(levels):
            for hi in levels[lo_i + 1 :]:
                ylo, yhi = y[by_value[lo]], y[by_value[hi]]
                nl, nh = len(ylo), len(yhi)
                sl, sh = float(ylo.sum()) * direction, float(yhi.sum()) * direction
                ql, qh = float(ylo @ ylo), float(yhi @ yhi)
                count += nl * nh
                total += nl * sh - nh * sl
                squares += nl * qh + nh * ql - 2 * sl * sh
                first, second = (by_value[lo], by_value[hi])
                if direction < 0:
                    first, second = second, first
                for i in first:
                    for j in second:
                        if len(listed) < MAX_PAIR_RUNS:
                            listed.append([run_ids[i], run_ids[j]])
    return _finish(count, total, squares, listed, exact=False)


def _finish(
    count: int, total: float, squares: float, listed: list[list[str]], *, exact: bool
) -> Pairs:
    if count == 0:
        return Pairs()
    mean = total / count
    var = max(0.0, squares / count - mean * mean)
    if count > 1:
        var *= count / (count - 1)
    return Pairs(count=count, mean=mean, std=math.sqrt(var), runs=listed, exact=exact)


# the forest ---------------------------------------------------------------------------------


def encode(values: Sequence[Hashable], a: Hashable, b: Hashable) -> tuple[np.ndarray, float, float]:
    """A factor as one numeric feature: numbers as they are (missing below the minimum),
    anything else by its rank in a sorted order of the distinct values."""
    if numeric_column(values, a, b):
        present = [float(v) for v in (*values, a, b) if v is not MISSING]
        fill = min(present) - 1.0 - abs(min(present))

        def num(v: Hashable) -> float:
            return fill if v is MISSING else float(v)  # type: ignore[arg-type]

        return np.array([num(v) for v in values], dtype=float), num(a), num(b)
    distinct = sorted({*values, a, b}, key=lambda v: (v is not MISSING, type(v).__name__, repr(v)))
    rank = {v: float(i) for i, v in enumerate(distinct)}
    return np.array([rank[v] for v in values], dtype=float), rank[a], rank[b]


def _model(forest: Any, n_features: int) -> Any:
    """The forest: fixed seed, one thread; with many features each split looks at about
    a dozen of them (as random forests do), which keeps a wide experiment in budget."""
    share = 1.0 if n_features <= MAX_SPLIT_FEATURES else MAX_SPLIT_FEATURES / n_features
    return forest(
        n_estimators=FOREST_TREES,
        random_state=FOREST_SEED,
        min_samples_leaf=2,
        max_features=share,
        n_jobs=1,
    )


def _forest_evidence(
    forest: Any,
    y: np.ndarray,
    keys: Sequence[str],
    columns: Mapping[str, Sequence[Hashable]],
    by_key: Mapping[str, Candidate],
    clusters: Sequence[Sequence[str]],
    out: dict[str, FactorEvidence],
    features: Mapping[str, Sequence[Hashable]] | None,
    feature_ab: Mapping[str, tuple[Hashable, Hashable]] | None,
) -> None:
    """One feature per cluster (a confounded group's members carry the same information,
    so the group is one feature and its importance is the group's), then the varying
    background factors."""
    cols: list[np.ndarray] = []
    xa: list[float] = []
    xb: list[float] = []
    for cluster in clusters:
        k = cluster[0]
        col, va, vb = encode(columns[k], by_key[k].a, by_key[k].b)
        cols.append(col)
        xa.append(va)
        xb.append(vb)
    for k in sorted(features or {}):
        a, b = (feature_ab or {}).get(k, (MISSING, MISSING))
        col, va, vb = encode(features[k], a, b)  # type: ignore[index]
        if np.ptp(col) == 0:
            continue
        cols.append(col)
        xa.append(va)
        xb.append(vb)
    ok = np.isfinite(y)
    X = np.column_stack(cols)[ok]
    model = _model(forest, X.shape[1])
    model.fit(X, y[ok])
    importances = model.feature_importances_
    base = np.array([xa])
    switched = np.repeat(base, len(clusters), axis=0)
    for row in range(len(clusters)):
        switched[row, row] = xb[row]
    preds = model.predict(np.vstack([base, switched]))
    for row, cluster in enumerate(clusters):
        for k in cluster:
            ev = out[k]
            if ev.varies:
                ev.rf_importance = float(importances[row])
                ev.rf_estimate = float(preds[row + 1] - preds[0])


def forest_importances(
    forest: Any, y: np.ndarray, features: Mapping[str, Sequence[Hashable]]
) -> dict[str, float]:
    """Impurity importances of a fixed-seed forest over ``features`` (sorted by name)."""
    names = sorted(features)
    if not names:
        return {}
    X = np.column_stack([encode(features[k], MISSING, MISSING)[0] for k in names])
    ok = np.isfinite(y)
    model = _model(forest, X.shape[1])
    model.fit(X[ok], y[ok])
    return dict(zip(names, (float(v) for v in model.feature_importances_), strict=True))
