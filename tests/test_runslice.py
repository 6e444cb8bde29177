"""The code a tracked run depended on (``pipeline/runslice.py``), as the comparison shows it
and the export writes it: the same for identical sessions, an import run again listed once,
and a reseed of a global RNG cutting off the draws before it — while the exported pipeline
still gives the run's numbers exactly.

Most cases run a real kernel (``export_harness.Notebook``); the object-lifetime rules are
also checked on a hand-written log, where ids are reused on purpose (CPython reuses a freed
object's address for the next one, which a real kernel does only most of the time).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.compare import load_facts
from jupyter_mltrack.pipeline.slicer import Slicer
from jupyter_mltrack.store import Execution, Store

from .export_harness import Notebook, assert_metrics


@pytest.fixture
def nb(tmp_path: Path) -> Iterator[Notebook]:
    notebook = Notebook(tmp_path)
    yield notebook
    notebook.close()


def dependencies(nb: Notebook) -> list[list[str]]:
    """Each run's dependencies (by run number), line by line, as the comparison reads them."""
    store = Store(str(nb.home))
    try:
        runs, _ = store.search_runs(order="number")
        facts = load_facts(store, [r.id for r in runs])
    finally:
        store.close()
    return [(f.dependencies or "").splitlines() for f in facts]


def logged(nb: Notebook, number: int) -> dict[str, float]:
    return dict(nb.runs()[number - 1].metrics)


def reproduces(nb: Notebook, number: int) -> None:
    """The run's export gives the metrics it logged (autolog's included), exactly; training
    times aside."""
    export = nb.export(run=str(number))
    got = nb.pipeline(export)
    assert_metrics(got, logged(nb, number))


IMPORT_AND_SEED = "import numpy as np\nnp.random.seed(0)"
TRAIN = """%%track
lr = {lr}
noise = np.random.rand()
acc = float(data.sum()) * lr + noise
mltrack.log_metric("acc", acc)"""


def rerun_session(nb: Notebook) -> None:
    """The import cell (with a reseed) run again between tracked runs."""
    nb.cells(
        ("imports", IMPORT_AND_SEED),
        ("data", "data = np.arange(10)"),
        ("train", TRAIN.format(lr=0.1)),
        ("imports", IMPORT_AND_SEED),
        ("train", TRAIN.format(lr=0.01)),
        ("imports", IMPORT_AND_SEED),
        ("train", TRAIN.format(lr=0.001)),
    )


def test_a_run_depends_on_what_fed_it_not_on_the_previous_run(nb: Notebook) -> None:
    """No line of the previous tracked cell (``lr = 0.1``, ``acc = …``: their objects' ids
    are reused by this run's floats) and one ``import numpy as np`` (the import cell ran
    three times; the later runs' reseed reads the module it bound again)."""
    rerun_session(nb)
    first, second, third = dependencies(nb)
    assert first == ["import numpy as np", "np.random.seed(0)", "", "data = np.arange(10)"]
    # the import run again binds the module the first import bound: listed once
    assert second == ["import numpy as np", "", "data = np.arange(10)", "", "np.random.seed(0)"]
    assert third == second
    reproduces(nb, 3)


def test_identical_sessions_give_identical_dependencies(tmp_path: Path) -> None:
    seen = []
    for n in range(2):
        (tmp_path / str(n)).mkdir()
        notebook = Notebook(tmp_path / str(n))
        try:
            rerun_session(notebook)
            seen.append(dependencies(notebook))
        finally:
            notebook.close()
    assert seen[0] == seen[1]


def test_without_a_reseed_the_stream_is_kept_and_the_import_listed_once(nb: Notebook) -> None:
    """No reseed: the second run's draw continues the stream the first run's draw left, so
    that draw stays (the script must make it to give the same number), with the import
    it needs — once, though the import cell ran again before the second run."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("seed", "np.random.seed(3)"),
        ("data", "data = np.arange(10)"),
        ("train", TRAIN.format(lr=0.1)),
        ("imports", "import numpy as np"),
        ("train", TRAIN.format(lr=0.01)),
    )
    _, second = dependencies(nb)
    assert second == [
        "import numpy as np",
        "",
        "np.random.seed(3)",
        "",
        "data = np.arange(10)",
        "",
        "noise = np.random.rand()",
    ]
    reproduces(nb, 2)


def test_a_draw_is_no_change_to_the_numpy_module(nb: Notebook) -> None:
    """A function of the session drawing with ``np.random.rand()`` changes numpy's RNG, not
    the module: after ``np.random.seed(0)``, a run using ``np`` does not depend on it."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("def", "def draw():\n    return np.random.rand()"),
        ("early", "early = draw()"),
        ("seed", "np.random.seed(0)"),
        ("data", "data = np.arange(10)"),
        ("train", TRAIN.format(lr=0.1)),
    )
    (deps,) = dependencies(nb)
    assert deps == ["import numpy as np", "", "np.random.seed(0)", "", "data = np.arange(10)"]
    reproduces(nb, 1)


def test_draws_after_the_reseed_stay(nb: Notebook) -> None:
    """A draw between the reseed and the run (displayed, its value unused) moves the stream
    the run draws from: it is a dependency, the draws before the reseed are not."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("before", "np.random.rand(5)"),
        ("seed", "np.random.seed(0)"),
        ("after", "np.random.rand(2)"),
        ("data", "data = np.arange(10)"),
        ("train", TRAIN.format(lr=0.1)),
    )
    (deps,) = dependencies(nb)
    assert deps == [
        "import numpy as np",
        "",
        "np.random.seed(0)",
        "",
        "np.random.rand(2)",
        "",
        "data = np.arange(10)",
    ]
    reproduces(nb, 1)


def test_a_seed_drawn_from_the_stream_does_not_cut_it(nb: Notebook) -> None:
    """``np.random.seed(np.random.randint(1000))`` draws from the old stream before it
    reseeds: what came before it is still needed."""
    nb.cells(
        ("imports", "import numpy as np"),
        ("seed", "np.random.seed(1)"),
        ("draw", "np.random.rand(3)"),
        ("reseed", "np.random.seed(np.random.randint(1000))"),
        ("data", "data = np.arange(10)"),
        ("train", TRAIN.format(lr=0.1)),
    )
    (deps,) = dependencies(nb)
    assert "np.random.seed(1)" in deps and "np.random.rand(3)" in deps, deps
    reproduces(nb, 1)


# unseeded streams: draws nothing seeded -----------------------------------------------------

SKLEARN = """from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier"""
DIGITS = "X, y = load_digits(return_X_y=True)"
RF = """%%track rf
clf = RandomForestClassifier(n_estimators=3).fit(X, y)
acc = clf.score(X, y)
mltrack.log_metric("acc", acc)"""


def test_an_unseeded_cell_run_again_does_not_depend_on_its_last_run(nb: Notebook) -> None:
    """``random_state=None`` draws from numpy's global generator, which nothing in the
    session seeded: its state came from the OS's entropy, so the draws of the earlier runs
    are no dependency (no script could give them again) and identical cells have identical
    dependencies."""
    nb.cells(("imports", SKLEARN), ("data", DIGITS), ("rf", RF), ("rf", RF), ("rf", RF))
    expected = [*SKLEARN.splitlines(), "", DIGITS]
    assert dependencies(nb) == [expected] * 3


def test_cross_validation_of_an_unseeded_pipeline_run_again(nb: Notebook) -> None:
    """``cross_val_score`` clones the estimator and changes none of its arguments; its
    unseeded forest draws from an unseeded stream: the runs' dependencies are the same."""
    cv = """%%track cv
scores = cross_val_score(pipe, X_train, y_train, cv=3)
mltrack.log_metric("cv", float(scores.mean()))"""
    nb.cells(
        ("imports", SKLEARN),
        (
            "more",
            "from sklearn.model_selection import cross_val_score, train_test_split\n"
            "from sklearn.pipeline import make_pipeline\n"
            "from sklearn.preprocessing import StandardScaler",
        ),
        ("data", DIGITS),
        ("split", "X_train, X_test, y_train, y_test = train_test_split(X, y)"),
        ("pipe", "pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3))"),
        ("cv", cv),
        ("cv", cv),
        ("cv", cv),
    )
    first, second, third = dependencies(nb)
    assert first == second == third
    assert "scores = cross_val_score(pipe, X_train, y_train, cv=3)" not in first
    assert first[-1] == (
        "pipe = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3))"
    )


def test_a_redefined_function_is_the_only_difference(nb: Notebook) -> None:
    """The function the run calls was redefined between two runs; the unseeded fit in it
    draws: the second run's dependencies differ from the first's by the function only (not
    by the first run's call, nor the old definition it needed)."""
    run = """%%track ev
acc = evaluate(RandomForestClassifier(n_estimators=3))
mltrack.log_metric("acc", acc)"""
    old = "def evaluate(model):\n    return model.fit(X, y).score(X, y)"
    new = "def evaluate(model):\n    return model.fit(X[:1000], y[:1000]).score(X, y)"
    nb.cells(
        ("imports", SKLEARN),
        ("data", DIGITS),
        ("def", old),
        ("run", run),
        ("def", new),
        ("run", run),
    )
    first, second = dependencies(nb)
    head = [*SKLEARN.splitlines(), "", DIGITS, ""]
    assert first == [*head, *old.splitlines()]
    assert second == [*head, *new.splitlines()]


def test_a_seeded_stream_keeps_the_earlier_runs_draws(nb: Notebook) -> None:
    """Once the session seeded numpy's generator, the same unseeded cell run again draws
    where the last run left the stream: that run's fit is a dependency, and the export of
    the second run gives its accuracy exactly."""
    nb.cells(
        ("imports", f"import numpy as np\n{SKLEARN}"),
        ("seed", "np.random.seed(0)"),
        ("data", DIGITS),
        ("rf", RF),
        ("rf", RF),
    )
    first, second = dependencies(nb)
    assert "clf = RandomForestClassifier(n_estimators=3).fit(X, y)" not in first
    assert "clf = RandomForestClassifier(n_estimators=3).fit(X, y)" in second
    reproduces(nb, 2)


def test_a_seeding_function_of_the_session_starts_the_stream(nb: Notebook) -> None:
    """``set_seed(0)``, a function of the session calling ``np.random.seed``, seeds: the
    draws after it are followed, and the export reproduces the second run."""
    nb.cells(
        ("imports", f"import numpy as np\n{SKLEARN}"),
        ("def", "def set_seed(n):\n    np.random.seed(n)"),
        ("seed", "set_seed(0)"),
        ("data", DIGITS),
        ("rf", RF),
        ("rf", RF),
    )
    _, second = dependencies(nb)
    assert "set_seed(0)" in second
    assert "clf = RandomForestClassifier(n_estimators=3).fit(X, y)" in second
    reproduces(nb, 2)


# object lifetimes, on a hand-written log ----------------------------------------------------


def execution(seq: int, source: str, facts: dict[str, Any]) -> Execution:
    return Execution(
        session_id="s",
        seq=seq,
        notebook_path=None,
        kernel_id=None,
        cell_id=f"c{seq}",
        execution_count=seq,
        raw=source,
        source=source,
        status="ok",
        error_statement=None,
        facts={"statements": [{"i": 0, "ran": True, "ok": True, **facts}]},
        run_id=None,
        started_at=0.0,
        duration=0.0,
    )


def sliced(cells: list[tuple[str, dict[str, Any]]], name: str) -> list[str]:
    slicer = Slicer([execution(n, src, facts) for n, (src, facts) in enumerate(cells, 1)])
    return [s.stmt.source.strip() for s in slicer.slice_names([name])]


NP = 1


def test_a_reused_id_does_not_carry_a_dead_objects_history() -> None:
    cells = [
        ("import numpy as np", {"bound": {"np": NP}}),
        ("acc = 1.5", {"bound": {"acc": 10}}),
        ("acc = None", {"bound": {"acc": 2}}),
        ("noise = np.random.rand()", {"ids": {"np": NP}, "bound": {"noise": 10}}),
        ("score = noise * 2", {"ids": {"noise": 10}, "types": {"noise": "builtins.float"}}),
        ("lst = []", {"bound": {"lst": 20}}),
        ("lst.append(1)", {"ids": {"lst": 20}, "types": {"lst": "builtins.list"}}),
        ("lst = None", {"bound": {"lst": 2}}),
        ("arr = np.zeros(3)", {"ids": {"np": NP}, "bound": {"arr": 20}}),
        ("total = arr.sum()", {"ids": {"arr": 20}, "types": {"arr": "numpy.ndarray"}}),
    ]
    cells[4][1]["bound"] = {"score": 11}
    cells[9][1]["bound"] = {"total": 12}
    assert sliced(cells, "score") == ["import numpy as np", "noise = np.random.rand()", cells[4][0]]
    assert sliced(cells, "total") == ["import numpy as np", "arr = np.zeros(3)", cells[9][0]]


def test_a_changed_object_out_of_the_names_sight_keeps_its_history() -> None:
    """``models["rf"]`` changed through ``m``, which is then rebound: the estimator lives on
    in the dict (whose elements of that type are not followed), and is bound again."""
    rf = {"m": "sklearn.ensemble.RandomForestClassifier"}
    cells = [
        ("models = make()", {"bound": {"models": 30}}),
        ("m = models['rf']", {"ids": {"models": 30}, "bound": {"m": 40}}),
        ("m.fit(X)", {"ids": {"m": 40}, "types": rf, "bound": {}}),
        ("m = None", {"bound": {"m": 2}}),
        ("best = models['rf']", {"ids": {"models": 30}, "bound": {"best": 40}}),
    ]
    assert "m.fit(X)" in sliced(cells, "best")
