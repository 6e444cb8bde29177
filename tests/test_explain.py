"""``explain`` and ``importance`` on constructed experiments in a real SQLite store, each with
a planted cause (a parameter, a code change, a data change, a package change) that must
rank first; plus the evidence algorithms checked against brute force and scipy."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.compare import CompareError, UnknownMetric, UnknownRun
from jupyter_mltrack.compare import evidence as ev
from jupyter_mltrack.compare.explain import explain
from jupyter_mltrack.compare.importance import importance
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Store
from jupyter_mltrack.store.entities import Environment, MetricPoint

from .kernel import Kernel


@pytest.fixture
def st(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'explain' / 'mltrack.db'}")
    yield store
    store.close()


def add_run(
    store: Store,
    experiment: str,
    params: Mapping[str, Any],
    value: float,
    *,
    metric: str = "acc",
    code: str = "",
    env: int | None = None,
    inputs: Mapping[str, str] | None = None,
) -> str:
    run = store.create_run(experiment, params=params, code=code, source="api")
    for name, digest in (inputs or {}).items():
        store.add_run_data(run.id, "input", name, digest)
    store.finish_run(
        run.id,
        "finished",
        metrics=[MetricPoint(metric, float(value), 0, time.time())],
        environment_id=env,
    )
    return run.id


def noise(rng: np.random.Generator, scale: float = 0.002) -> float:
    return float(rng.normal(0, scale))


# (a) a parameter ------------------------------------------------------------------------------


def param_experiment(store: Store, exp: str = "params") -> tuple[str, str]:
    """acc depends on lr only; batch and dropout are noise. A and B differ in all three."""
    rng = np.random.default_rng(1)
    ids = {}
    for lr, batch, dropout in itertools.product([0.1, 0.03, 0.01], [16, 32, 64], [0.0, 0.5]):
        acc = 0.95 - 2.0 * lr + noise(rng)
        ids[lr, batch, dropout] = add_run(
            store, exp, {"lr": lr, "batch": batch, "dropout": dropout}, acc
        )
    return ids[0.1, 16, 0.0], ids[0.01, 64, 0.5]


def test_planted_parameter_ranks_first(st: Store) -> None:
    a, b = param_experiment(st)
    x = explain(st, a, b, "acc")
    assert [f.key for f in x.factors][0] == "lr"
    top = x.factors[0]
    assert top.kind == "param" and top.status == "supported"
    assert (top.a, top.b) == (0.1, 0.01)
    # four other (batch, dropout) cells hold both lr=0.1 and lr=0.01 (A's and B's cells excluded)
    assert top.evidence["pairs"] == 4
    assert top.evidence["pair_mean"] == pytest.approx(0.18, abs=0.01)
    assert top.sentence.startswith("`lr` 0.1 → 0.01: in 4 other pairs differing only in `lr`")
    assert "acc rose by 0.18" in top.sentence
    assert top.evidence["spearman"] < -0.9
    # the random forest sees lr as what acc depends on, and the sentence says so
    assert top.evidence["rf_importance"] > 0.8
    assert all(f.evidence["rf_importance"] < 0.1 for f in x.factors[1:])
    assert "Spearman -0.94 over 16 runs; forest importance 0.99" in top.sentence
    assert top.estimate == pytest.approx(0.18, abs=0.01)
    assert {f.key for f in x.factors} == {"lr", "batch", "dropout"}
    assert all(f.score < top.score for f in x.factors[1:])
    assert x.explained is not None and x.explained > 0.8
    assert x.sklearn is True and x.runs_considered == 16
    d = x.to_dict()
    assert set(d) == {
        "metric", "goal", "a", "b", "change", "explained", "sklearn", "runs_considered",
        "factors", "groups", "notes", "noise",
    }  # fmt: skip
    assert set(d["factors"][0]) == {
        "rank", "kind", "key", "a", "b", "detail", "status", "score", "estimate", "evidence",
        "group", "sentence",
    }  # fmt: skip
    assert set(d["factors"][0]["evidence"]) == {
        "pairs", "pair_mean", "pair_std", "spearman", "rf_importance", "pair_runs",
    }  # fmt: skip
    assert d["goal"] == "max" and d["a"]["label"].startswith("#")
    json.dumps(d, allow_nan=False)
    text = str(x)
    assert "Why acc changed from" in text and "1. [param] `lr` 0.1 → 0.01" in text


def test_explain_is_deterministic(st: Store) -> None:
    a, b = param_experiment(st)
    first = json.dumps(explain(st, a, b, "acc").to_dict(), sort_keys=True)
    second = json.dumps(explain(st, a, b, "acc").to_dict(), sort_keys=True)
    assert first == second


def test_explain_is_the_same_in_other_processes(st: Store) -> None:
    """Nothing in the ranking depends on Python's per-process string hashing (set and dict
    orders of factor names, parameter values, code texts): other interpreters with other
    hash seeds give the very same answer, for plain and for confounded factors."""
    a, b = param_experiment(st)
    rng = np.random.default_rng(7)
    conf = {}
    for (width, act), lr in itertools.product([(64, "relu"), (128, "gelu")], [0.1, 0.01]):
        for rep in range(2):
            acc = 0.8 + (0.06 if width == 128 else 0.0) + noise(rng)
            params = {"width": width, "act": act, "lr": lr, "opt": {"m": [1, rep]}}
            conf[width, lr, rep] = add_run(st, "conf", params, acc, code=f"lr = {lr}\nfit()")
    pairs = [(a, b), (conf[64, 0.1, 0], conf[128, 0.01, 1])]
    script = (
        "import json, sys\n"
        "from jupyter_mltrack.store import Store\n"
        "from jupyter_mltrack.compare import explain\n"
        "store = Store(sys.argv[1])\n"
        "pairs = json.loads(sys.argv[2])\n"
        "out = [explain(store, x, y, 'acc').to_dict() for x, y in pairs]\n"
        "print(json.dumps(out, sort_keys=True))\n"
    )
    here = json.dumps([explain(st, x, y, "acc").to_dict() for x, y in pairs], sort_keys=True)
    assert json.loads(here)[1]["groups"]  # the confounded case has a group
    # a hash seed other than this process's (random unless PYTHONHASHSEED is set)
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run(
        [sys.executable, "-c", script, st.url, json.dumps(pairs)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        cwd=Path(__file__).resolve().parents[1],  # this checkout's package
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == here


def test_without_scikit_learn(st: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = param_experiment(st)
    monkeypatch.setattr(ev, "forest_class", lambda: None)
    x = explain(st, a, b, "acc")
    assert x.sklearn is False
    assert "scikit-learn is not installed: no random-forest importance" in x.notes
    assert x.factors[0].key == "lr"
    assert all(f.evidence["rf_importance"] is None for f in x.factors)
    imp = importance(st, "params", "acc")
    assert imp.sklearn is False and imp.params[0].key == "lr"
    assert all(p.rf_importance is None for p in imp.params)


def test_importance_ranks_planted_parameter_first(st: Store) -> None:
    param_experiment(st)
    imp = importance(st, "params", "acc")
    d = imp.to_dict()
    assert d["experiments"] == ["params"] and d["metric"] == "acc" and d["runs"] == 18
    assert d["sklearn"] is True
    assert [p["key"] for p in d["params"]][0] == "lr"
    top = d["params"][0]
    assert top["rf_importance"] > 0.8 and top["spearman"] < -0.9 and top["runs"] == 18
    assert set(top) == {"key", "spearman", "rf_importance", "runs"}
    assert "lr" in str(imp)
    assert importance(st, ["params"], "acc").to_dict() == d


def test_importance_encodes_categorical_params(st: Store) -> None:
    rng = np.random.default_rng(3)
    for model, depth in itertools.product(["tree", "forest", "linear"], [1, 2, 3, 4]):
        acc = {"tree": 0.7, "forest": 0.9, "linear": 0.6}[model] + noise(rng)
        add_run(st, "cat", {"model": model, "depth": depth}, acc)
    imp = importance(st, "cat", "acc")
    assert imp.params[0].key == "model"
    assert imp.params[0].spearman is None  # not a number: forest only
    assert imp.params[0].rf_importance > 0.8


# (b) a code change ----------------------------------------------------------------------------

CODE_V1 = """\
import numpy as np
x = np.load("train.npy")
model = fit(x, depth=3)
acc = score(model, x)
print(acc)
"""
CODE_V2 = CODE_V1.replace("depth=3", "depth=5")


def test_planted_code_change_ranks_first(st: Store) -> None:
    rng = np.random.default_rng(2)
    ids = {}
    for code, lr, rep in itertools.product([CODE_V1, CODE_V2], [0.1, 0.05, 0.01], [0, 1]):
        acc = 0.8 + (0.05 if code is CODE_V2 else 0.0) + noise(rng)
        ids[code is CODE_V2, lr, rep] = add_run(st, "code", {"lr": lr}, acc, code=code)
    # a run with unrelated code never pairs with anything
    add_run(st, "code", {"lr": 0.1}, 0.5, code="print('other')\n")
    x = explain(st, ids[False, 0.1, 0], ids[True, 0.01, 0], "acc")
    top = x.factors[0]
    assert (top.kind, top.key) == ("code", "cell@@-3")
    assert top.detail == "@@ -3 +3 @@"  # one change, no context lines
    assert (top.a, top.b) == ("model = fit(x, depth=3)", "model = fit(x, depth=5)")
    assert "(`model = fit(x, depth=3)` → `model = fit(x, depth=5)`)" in top.sentence
    # v1/v2 pairs in the (lr, rep) cells other than A's and B's, all cross pairs counted
    assert top.evidence["pairs"] >= 4
    assert top.estimate == pytest.approx(0.05, abs=0.01)
    assert [f.key for f in x.factors] == ["cell@@-3", "lr"]


def test_code_hunks_are_separate_factors(st: Store) -> None:
    """Two changes; only the second matters. Runs carry either on its own. They are three
    lines apart, so a diff with context would show them as one hunk: each change is a factor."""
    lines = [f"step{i}()" for i in range(8)]
    base = "\n".join(lines)
    first = base.replace("step2()", "step2(fast=True)")
    second = base.replace("step6()", "step6(wide=True)")
    both = first.replace("step6()", "step6(wide=True)")
    rng = np.random.default_rng(5)
    ids = {}
    for name, code in [("base", base), ("first", first), ("second", second), ("both", both)]:
        for rep in range(3):
            acc = 0.7 + (0.1 if "wide" in code else 0.0) + noise(rng)
            ids[name, rep] = add_run(st, "hunks", {"rep": 0}, acc, code=code)
    x = explain(st, ids["base", 0], ids["both", 0], "acc")
    keys = [f.key for f in x.factors]
    assert keys == ["cell@@-7", "cell@@-3"]
    assert x.factors[0].detail == "@@ -7 +7 @@"
    assert x.factors[0].sentence.startswith("cell @@ -7 +7 @@ (`step6()` → `step6(wide=True)`)")
    second_hunk = x.factors[0]
    assert second_hunk.evidence["pairs"] > 0
    assert second_hunk.estimate == pytest.approx(0.1, abs=0.01)
    assert abs(x.factors[1].estimate) < 0.01


# (c) a data change ----------------------------------------------------------------------------


def test_planted_data_change_ranks_first(st: Store) -> None:
    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200) % 3})
    changed = frame.assign(x=frame["x"] * 1.5)
    sn = Snapshotter(st)
    try:
        d1 = sn.snapshot(frame, progress=False).wait().digest
        d2 = sn.snapshot(changed, progress=False).wait().digest
    finally:
        sn.close()
    assert d1 != d2
    rng = np.random.default_rng(4)
    ids = {}
    for digest, c in itertools.product([d1, d2], [1, 10, 100]):
        acc = 0.7 + (0.1 if digest == d2 else 0.0) + noise(rng)
        ids[digest, c] = add_run(st, "data", {"C": c}, acc, inputs={"train": digest})
    x = explain(st, ids[d1, 1], ids[d2, 100], "acc")
    top = x.factors[0]
    assert (top.kind, top.key) == ("data", "train")
    assert top.detail == "columns changed: x"
    assert top.sentence.startswith("input `train` ")
    assert "(columns changed: x)" in top.sentence
    assert top.evidence["pairs"] == 1  # C=10 holds both datasets
    assert top.estimate == pytest.approx(0.1, abs=0.01)


# (d) a package change -------------------------------------------------------------------------


def test_planted_package_change_ranks_first(st: Store) -> None:
    def env(numpy: str) -> int:
        packages = {"numpy": numpy, "scikit-learn": "1.4.0"}
        return st.put_environment(
            Environment(python="3.12.1", platform="linux", packages=packages, digest=f"env-{numpy}")
        )

    old, new = env("1.26.4"), env("2.0.1")
    rng = np.random.default_rng(6)
    ids = {}
    for e, alpha in itertools.product([old, new], [0.1, 1.0, 10.0]):
        acc = 0.9 - (0.04 if e == new else 0.0) + noise(rng)
        ids[e, alpha] = add_run(st, "pkg", {"alpha": alpha}, acc, env=e)
    x = explain(st, ids[old, 0.1], ids[new, 10.0], "acc")
    top = x.factors[0]
    assert (top.kind, top.key, top.a, top.b) == ("package", "numpy", "1.26.4", "2.0.1")
    assert top.detail == "major"
    assert "acc fell by 0.04" in top.sentence
    assert [f.key for f in x.factors] == ["numpy", "alpha"]


# (e) a seed, from a real kernel's execution log ---------------------------------------------

PREP = """np.random.seed({seed})
x = np.random.rand(50)"""

TRAIN = """%%track
acc = float(x.mean())
mltrack.log_metric("acc", acc)"""


def test_planted_seed_from_a_real_execution_log(tmp_path: Path) -> None:
    """The seed set in the code the cell depended on decides the data and so the metric.
    It changed with the dependency line setting it and the input array the cell read: the
    three always changed together, a confounded group, ranked first."""
    home = tmp_path / ".store"
    kernel = Kernel(tmp_path, home, notebook="analysis.ipynb")
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok("import numpy as np", cell_id="imports")
        for seed in (0, 1):
            kernel.ok(PREP.format(seed=seed), cell_id="prep")
            for _ in range(3):
                kernel.ok(TRAIN, cell_id="train")
    finally:
        kernel.stop()
    store = Store(str(home))
    try:
        runs, _ = store.search_runs(order="number")
        assert len(runs) == 6
        a, b = runs[0], runs[-1]  # seed 0 → seed 1
        x = explain(store, a.id, b.id, "acc")
        top = x.factors[0]
        assert top.status == "confounded"
        group = x.groups[top.group]
        hunk = next(f for f in x.factors if f.id.startswith("code:dependencies@@"))
        assert (hunk.a, hunk.b) == ("np.random.seed(0)", "np.random.seed(1)")
        assert {"seed:numpy", "data:x", hunk.id} <= set(group.factors)
        assert {f.id for f in x.factors[: len(group.factors)]} == set(group.factors)
        seed = next(f for f in x.factors if f.id == "seed:numpy")
        assert (seed.a, seed.b) == (0, 1)
        # the two other runs of each seed: 2 × 2 pairs, the metric moved exactly as A→B
        assert seed.evidence["pairs"] == 4 and seed.evidence["pair_std"] == 0
        assert seed.estimate == pytest.approx(x.change)
        assert x.explained == pytest.approx(1.0)
    finally:
        store.close()


# confounded and untested ----------------------------------------------------------------------


def test_confounded_factors_are_grouped_and_untested_listed(st: Store) -> None:
    rng = np.random.default_rng(7)
    ids = {}
    for (width, act), lr, rep in itertools.product(
        [(64, "relu"), (128, "gelu")], [0.1, 0.01], [0, 1, 2]
    ):
        acc = 0.8 + (0.06 if width == 128 else 0.0) + noise(rng)
        params = {"width": width, "act": act, "lr": lr, "tag": "same"}
        ids[width, lr, rep] = add_run(st, "conf", params, acc)
    a, b = ids[64, 0.1, 0], ids[128, 0.01, 0]
    # B alone has a different `tag`: no other run varies it
    st.log_params(b, {"tag": "special"})
    x = explain(st, a, b, "acc")
    by_key = {f.key: f for f in x.factors}
    assert by_key["width"].status == by_key["act"].status == "confounded"
    assert by_key["width"].group == by_key["act"].group == 0
    assert x.groups[0].factors == ["param:act", "param:width"]
    assert x.groups[0].sentence == (
        "`act` and `width` always changed together: their effects cannot be told apart; "
        "in 12 other pairs differing in them alone, acc rose by 0.0615 ± 0.00158"
    )
    assert {x.factors[0].key, x.factors[1].key} == {"act", "width"}
    assert x.factors[0].score == x.factors[1].score
    # pairs for the group as a whole: runs differing in width+act and nothing else
    assert by_key["width"].evidence["pairs"] > 0
    assert by_key["width"].estimate == pytest.approx(0.06, abs=0.01)
    assert by_key["width"].sentence.startswith(
        "`width` 64 → 128: always changed together with `act`: in 12 other pairs differing "
        "only in `act` and `width`, acc rose by"
    )
    tag = by_key["tag"]
    assert tag.status == "untested" and tag.score == 0.0 and x.factors[-1].key == "tag"
    assert tag.sentence.startswith("`tag` same → special: untested: no other pair")
    d = x.to_dict()
    assert d["groups"][0]["factors"] == ["param:act", "param:width"]


# errors ---------------------------------------------------------------------------------------


def test_errors(st: Store) -> None:
    a, b = param_experiment(st)
    with pytest.raises(UnknownMetric, match=r"no metric 'f1'.*metrics both runs logged: acc"):
        explain(st, a, b, "f1")
    with pytest.raises(CompareError, match="same run"):
        explain(st, a, a[:10], "acc")
    with pytest.raises(UnknownRun, match="no run 'zzz-nope'"):
        explain(st, a, "zzz-nope", "acc")
    with pytest.raises(UnknownMetric, match="name the metric"):
        explain(st, a, b, "")
    with pytest.raises(UnknownMetric, match="no finished run of params has 'f1'"):
        importance(st, "params", "f1")
    with pytest.raises(CompareError, match="no runs in experiment"):
        importance(st, "nope", "acc")


def test_run_numbers_resolve_in_experiment(st: Store) -> None:
    param_experiment(st)
    x = explain(st, "1", "18", "acc", experiment="params")
    assert (x.a.label, x.b.label) == ("#1", "#18")


def test_runs_of_two_experiments(st: Store) -> None:
    """A and B from different experiments: the evidence comes from both, labels name them."""
    a, _ = param_experiment(st, "first")
    _, b = param_experiment(st, "second")
    x = explain(st, a, b, "acc")
    assert (x.a.label, x.b.label) == ("first #1", "second #18")
    assert x.runs_considered == 34 and x.factors[0].key == "lr"


def test_few_runs_say_so(st: Store) -> None:
    a = add_run(st, "tiny", {"lr": 0.1}, 0.5)
    b = add_run(st, "tiny", {"lr": 0.2}, 0.6)
    x = explain(st, a, b, "acc")
    assert x.runs_considered == 0 and x.explained is None
    assert x.factors[0].status == "untested"
    assert "no other finished run logged acc: there is no evidence to rank by" in x.notes


# speed ----------------------------------------------------------------------------------------


def test_explain_500_runs_within_budget(st: Store) -> None:
    rng = np.random.default_rng(8)
    exp = st.get_or_create_experiment("big")
    now = time.time()
    rows = []
    for _ in range(500):
        params = {
            "lr": float(rng.choice([0.1, 0.03, 0.01, 0.003])),
            "batch": int(rng.choice([16, 32, 64, 128])),
            "opt": str(rng.choice(["adam", "sgd"])),
            "layers": int(rng.integers(1, 5)),
            "seed": int(rng.integers(0, 3)),
        }
        acc = 0.9 - params["lr"] + 0.01 * (params["opt"] == "adam") + noise(rng, 0.005)
        rows.append((params, acc))
    ids = []
    for params, acc in rows:
        run = st.create_run(exp.name, params=params, code="train()", start_time=now)
        st.finish_run(run.id, "finished", metrics=[MetricPoint("acc", acc, 0, now)])
        ids.append(run.id)
    a = next(i for i, (p, _) in zip(ids, rows, strict=True) if p["lr"] == 0.1)
    b = next(i for i, (p, _) in zip(ids, rows, strict=True) if p["lr"] == 0.003)
    explain(st, a, b, "acc")  # imports (scikit-learn) and warm caches
    best = min(_timed(lambda: explain(st, a, b, "acc")) for _ in range(3))
    assert best < 1.0, f"explain on 500 runs took {best:.3f} s"


def _timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# the algorithms -------------------------------------------------------------------------------


def test_rankdata_and_spearman_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(9)
    for _ in range(20):
        x = rng.integers(0, 5, 30).astype(float)
        y = x * 0.3 + rng.normal(size=30)
        np.testing.assert_allclose(ev.rankdata(x), stats.rankdata(x))
        assert ev.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert ev.spearman([1, 1, 1], [1, 2, 3]) is None
    assert ev.spearman([1, 2], [1, 2]) is None


def test_pairs_match_brute_force() -> None:
    """The hashed, vectorised pair finding agrees with checking every pair of runs."""
    rng = np.random.default_rng(10)
    n = 120
    cols = {
        "f": [int(v) for v in rng.integers(0, 3, n)],
        "g": [int(v) for v in rng.integers(0, 2, n)],
        "h": [str(v) for v in rng.choice(["p", "q"], n)],
    }
    background = [int(v) for v in rng.integers(0, 2, n)]
    y = rng.normal(size=n)
    ids = [f"r{i}" for i in range(n)]
    cands = [ev.Candidate("f", 0, 2), ev.Candidate("g", 0, 1), ev.Candidate("h", "p", "q")]
    found = ev.gather(ids, y, cols, cands, background, use_forest=False)
    for c in cands:
        diffs = []
        for i, j in itertools.permutations(range(n), 2):
            same_rest = background[i] == background[j] and all(
                cols[k][i] == cols[k][j] for k in cols if k != c.key
            )
            if same_rest and cols[c.key][i] == c.a and cols[c.key][j] == c.b:
                diffs.append(y[j] - y[i])
        p = found.factors[c.key].pairs
        assert p.count == len(diffs) and p.exact
        assert p.mean == pytest.approx(np.mean(diffs))
        assert p.std == pytest.approx(np.std(diffs, ddof=1))
    assert found.groups == []


def test_numeric_pairs_follow_the_direction() -> None:
    """With no pair between A's and B's values, numeric pairs moving the same way count."""
    ids = ["r0", "r1", "r2", "r3"]
    cols = {"lr": [0.5, 0.2, 0.5, 0.2]}
    y = np.array([0.1, 0.4, 0.2, 0.5])  # lowering lr raises y by 0.3
    found = ev.gather(ids, y, cols, [ev.Candidate("lr", 1.0, 0.1)], [0, 0, 1, 1])
    p = found.factors["lr"].pairs
    assert (p.count, p.exact) == (2, False)
    assert p.mean == pytest.approx(0.3)
    assert p.runs == [["r0", "r1"], ["r2", "r3"]]


# quality: run status, noise, parameter edits, statuses, lists, wording -----------------------


def series_run(
    store: Store,
    experiment: str,
    params: Mapping[str, Any],
    values: list[float],
    *,
    status: str | None = "finished",
    error: Mapping[str, Any] | None = None,
) -> str:
    """A run logging ``acc`` at steps 0, 1, …; ``status=None`` leaves it running."""
    run = store.create_run(experiment, params=params, code="train()", source="api")
    now = time.time()
    store.log_metrics(run.id, [MetricPoint("acc", v, i, now) for i, v in enumerate(values)])
    if status is not None:
        store.finish_run(run.id, status, error=error)
    return run.id


def test_a_running_run_leads_the_answer(st: Store) -> None:
    """B is still running at step 30 of a metric A took to step 99: nothing else differs,
    and that fact, not "nothing differs", is the answer."""
    curve = [0.5 + 0.4 * (1 - np.exp(-i / 20)) for i in range(100)]
    a = series_run(st, "live", {"lr": 0.1}, curve)
    b = series_run(st, "live", {"lr": 0.1}, curve[:31], status=None)
    x = explain(st, a, b, "acc")
    assert x.change < 0
    top = x.factors[0]
    assert (top.kind, top.key, top.status) == ("run", "status", "fact")
    assert (top.a, top.b) == ("finished", "running")
    assert top.sentence.startswith("#2 is still running (at step 30; #1 ended at step 99)")
    assert x.notes[0].startswith("#2 is still running (at step 30; #1 ended at step 99)")
    d = x.to_dict()
    assert d["factors"][0]["status"] == "fact"
    assert set(d["factors"][0]) == {
        "rank", "kind", "key", "a", "b", "detail", "status", "score", "estimate", "evidence",
        "group", "sentence",
    }  # fmt: skip
    json.dumps(d, allow_nan=False)
    assert str(x).splitlines()[2].startswith("  1. [run] #2 is still running")


def test_a_failed_run_leads_the_answer(st: Store) -> None:
    """B failed after 5 of 20 steps; it also differs from A in a package-like param that
    the other runs say nothing about. The failure comes first, with its error."""
    rng = np.random.default_rng(11)
    for rep in range(4):
        series_run(st, "crash", {"lr": 0.1, "rep": rep}, [0.6 + noise(rng)] * 20)
    a = series_run(st, "crash", {"lr": 0.1, "rep": 9}, [0.6 + 0.01 * i for i in range(20)])
    b = series_run(
        st,
        "crash",
        {"lr": 0.2, "rep": 9},
        [0.6 + 0.01 * i for i in range(5)],
        status="failed",
        error={"ename": "RuntimeError", "evalue": "CUDA out of memory\nmore", "traceback": []},
    )
    x = explain(st, a, b, "acc")
    top = x.factors[0]
    assert top.id == "run:status" and top.rank == 1
    assert top.sentence.startswith(
        "#6 failed (RuntimeError: CUDA out of memory) after 5 of 20 steps"
    )
    assert [f.rank for f in x.factors] == list(range(1, len(x.factors) + 1))
    assert x.factors[1].key == "lr"
    assert x.notes[0].startswith("#6 failed (RuntimeError: CUDA out of memory)")


def test_a_failed_run_at_the_same_step_is_a_note_only(st: Store) -> None:
    a = series_run(st, "late", {"lr": 0.1}, [0.5, 0.6, 0.7])
    b = series_run(
        st, "late", {"lr": 0.2}, [0.5, 0.6, 0.8], status="failed", error={"ename": "Oops"}
    )
    x = explain(st, a, b, "acc")
    assert [f.key for f in x.factors] == ["lr"]
    assert x.notes[0].startswith("#2 failed (Oops) at step 2")


def test_unseeded_replicates_give_the_noise_floor(st: Store) -> None:
    """An unseeded estimator re-run 8 times with the same settings: nothing recorded
    differs between A and B, and the answer says the change is within the noise of the 6
    other runs with the same settings."""
    rng = np.random.default_rng(12)
    params = {"n_estimators": 100}
    ids = [add_run(st, "unseeded", params, 0.9 + noise(rng, 0.005)) for _ in range(8)]
    x = explain(st, ids[0], ids[-1], "acc")
    assert x.factors == []
    assert x.noise is not None
    assert (x.noise["runs"], x.noise["groups"], x.noise["within"]) == (6, 1, True)
    others = [st.get_run(i).metrics["acc"] for i in ids[1:-1]]
    assert x.noise["std"] == pytest.approx(np.std(others, ddof=1), rel=1e-5)
    assert x.noise["range"] == pytest.approx(np.ptp(others), rel=1e-5)
    assert x.notes[0].startswith(
        "nothing recorded differs between the two runs; 6 other runs with the same settings "
        "vary by ±"
    )
    assert "is within that noise: run-to-run variation" in x.notes[0]
    assert x.to_dict()["noise"] == x.noise
    json.dumps(x.to_dict(), allow_nan=False)


def test_a_change_beyond_the_noise_says_so(st: Store) -> None:
    rng = np.random.default_rng(13)
    ids = {}
    for lr, rep in itertools.product([0.1, 0.01], range(4)):
        ids[lr, rep] = add_run(st, "reps", {"lr": lr}, 0.9 + (lr == 0.01) * 0.03 + noise(rng))
    x = explain(st, ids[0.1, 0], ids[0.01, 0], "acc")
    assert x.factors[0].key == "lr" and x.factors[0].status == "supported"
    assert x.noise is not None
    assert (x.noise["runs"], x.noise["groups"], x.noise["within"]) == (6, 2, False)
    note = next(n for n in x.notes if "noise" in n)
    assert note.startswith("6 other runs in 2 groups of identical settings vary by ±")
    assert "is beyond that noise" in note
    # without replicates there is no noise to report
    a, b = param_experiment(st)
    assert explain(st, a, b, "acc").noise is None


def test_a_literal_parameter_edit_is_one_factor(st: Store) -> None:
    """``lr = 0.1`` → ``lr = 0.01`` in the cell is the `lr` parameter's edit, not a code
    factor of its own (which was confounded with `lr`); a real code change stays."""
    rng = np.random.default_rng(14)
    ids = {}
    for lr, depth, rep in itertools.product([0.1, 0.01], [3, 5], range(2)):
        code = f"lr = {lr}\nx = load()\nmodel = fit(x, depth={depth})\n"
        acc = 0.8 + (lr == 0.01) * 0.05 + noise(rng)
        ids[lr, depth, rep] = add_run(st, "edit", {"lr": lr}, acc, code=code)
    x = explain(st, ids[0.1, 3, 0], ids[0.01, 3, 0], "acc")
    assert [f.id for f in x.factors] == ["param:lr"]
    top = x.factors[0]
    assert top.status == "supported" and top.group is None and not x.groups
    assert top.detail == "set in the cell at @@ -1 +1 @@"
    assert top.evidence["pairs"] == 1  # depth=3, rep 1
    y = explain(st, ids[0.1, 3, 0], ids[0.01, 5, 0], "acc")
    assert {f.id for f in y.factors} == {"param:lr", "code:cell@@-3"}


def test_weak_evidence_is_not_supported(st: Store) -> None:
    """batch and dropout have pairs and a forest importance, but they barely move acc:
    weak, not supported."""
    a, b = param_experiment(st)
    x = explain(st, a, b, "acc")
    by_key = {f.key: f for f in x.factors}
    assert by_key["lr"].status == "supported"
    assert by_key["batch"].status == by_key["dropout"].status == "weak"
    assert by_key["batch"].evidence["pairs"] > 0


def test_a_list_param_is_one_factor(st: Store) -> None:
    """FEATURES (flattened to FEATURES.0 …) is one factor valued by the whole list; a
    nested dict stays per key."""
    full = [f"f{i}" for i in range(10)]
    short = [f for f in full if f != "f3"]
    rng = np.random.default_rng(15)
    ids = {}
    for feats, lr, rep in itertools.product([full, short], [0.1, 0.01], range(2)):
        acc = 0.8 - (feats is short) * 0.04 + noise(rng)
        params = {"FEATURES": feats, "opt": {"lr": lr, "momentum": 0.9}}
        ids[feats is short, lr, rep] = add_run(st, "lists", params, acc)
    x = explain(st, ids[False, 0.1, 0], ids[True, 0.01, 0], "acc")
    assert [f.key for f in x.factors] == ["FEATURES", "opt.lr"]
    top = x.factors[0]
    assert (top.a, top.b) == (full, short) and top.group is None
    assert top.detail == "removed 'f3'"
    assert top.status == "supported" and top.evidence["pairs"] > 0
    assert top.estimate == pytest.approx(-0.04, abs=0.01)


def test_importance_drops_params_that_do_not_vary_where_present(st: Store) -> None:
    """`momentum` is 0.9 wherever it is set (sgd runs): it varies only in being missing;
    one-run params vary in nothing. Neither is listed."""
    rng = np.random.default_rng(16)
    for i, (opt, lr) in enumerate(itertools.product(["sgd", "adam"] * 3, [0.1, 0.01])):
        config = {"optimizer": {"name": opt, **({"momentum": 0.9} if opt == "sgd" else {})}}
        params = {"lr": lr, "config": config, f"extra_{i}": i}
        add_run(st, "missing", params, 0.8 + (opt == "adam") * 0.05 + noise(rng))
    imp = importance(st, "missing", "acc")
    keys = [p.key for p in imp.params]
    assert keys[0] == "config.optimizer.name"
    assert set(keys) == {"config.optimizer.name", "lr"}


def test_wording_pluralises_and_names_seeds(st: Store) -> None:
    from jupyter_mltrack.compare.explain import _rank
    from jupyter_mltrack.compare.factors import Candidate

    a = add_run(st, "words", {"lr": 0.1}, 0.5)
    b = add_run(st, "words", {"lr": 0.2}, 0.6)
    text = str(explain(st, a, b, "acc"))
    assert "0 other runs" not in text and "No other finished run" in text
    add_run(st, "words", {"lr": 0.3}, 0.7)
    assert "Evidence from 1 other run " in str(explain(st, a, b, "acc"))
    for c, what in [
        (Candidate("seed", "numpy", 1, 2, 1, 2), "the numpy seed"),
        (Candidate("package", "numpy", "1.0", "2.0", "1.0", "2.0"), "the numpy version"),
    ]:
        found = ev.gather(
            ["r0", "r1"],
            [0.5, 0.6],
            {c.id: [c.ha, c.ha]},
            [ev.Candidate(c.id, c.ha, c.hb)],
            [0, 0],
            use_forest=False,
        )
        (f,), _, _ = _rank([c], found, 0.1, 0.0, "acc")
        assert f.sentence.startswith(
            f"{c.key} {'seed ' if c.kind == 'seed' else ''}{c.a} → {c.b}: untested: "
            f"no other pair of runs differs only in {what};"
        )
