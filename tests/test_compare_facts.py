"""What a comparison learns from the execution log of a real kernel: the code a run's cell
depended on (the slice export uses) and the RNG seeds set in it, diffed between two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_mltrack.compare import compare, load_facts
from jupyter_mltrack.compare.facts import seeds_of
from jupyter_mltrack.pipeline.slicer import Slicer
from jupyter_mltrack.store import Execution, Store

from .kernel import Kernel

PREP = """import random
import numpy as np
np.random.seed(0)
random.seed(7)
unused = "nothing reads me"
lr = {lr}
data = np.arange(10)"""

TRAIN = """%%track
noise = np.random.rand()
score = float(data.sum()) * lr + noise
mltrack.log_metric("score", score)"""


def test_dependencies_and_seeds_from_a_real_execution_log(tmp_path: Path) -> None:
    home = tmp_path / ".store"
    kernel = Kernel(tmp_path, home, notebook="analysis.ipynb")
    try:
        kernel.ok("%load_ext jupyter_mltrack", cell_id="load")
        kernel.ok(PREP.format(lr=0.1), cell_id="prep")
        kernel.ok(TRAIN, cell_id="train")
        kernel.ok(PREP.format(lr=0.01), cell_id="prep")  # the cell edited and run again
        kernel.ok(TRAIN, cell_id="train")
        kernel.ok("mltrack.start_run(name='outside').end()", cell_id="api")
    finally:
        kernel.stop()
    store = Store(str(home))
    try:
        runs, _ = store.search_runs(order="number")
        first, second, outside = runs
        facts = load_facts(store, [first.id, second.id, outside.id])
        deps = facts[0].dependencies
        assert deps is not None
        assert deps.splitlines() == [
            "import numpy as np",
            "np.random.seed(0)",
            "lr = 0.1",
            "data = np.arange(10)",
        ]
        assert "unused" not in deps and "random.seed(7)" not in deps
        assert facts[0].code.startswith("noise = np.random.rand()")
        # numpy was reseeded in what the cell depended on; `random` was not drawn from
        assert facts[0].seeds == {"numpy": 0} and facts[1].seeds == {"numpy": 0}
        # a run opened outside a tracked cell's log record has no dependencies
        assert facts[2].dependencies is None and facts[2].seeds == {}

        out = compare(store, [first.id, second.id]).to_dict()
        diff = out["code"]["diffs"][1]
        assert diff["cell"] == {"same": True, "hunks": []}
        assert diff["dependencies"]["same"] is False
        changed = [line for h in diff["dependencies"]["hunks"] for line in h["lines"]]
        assert "-lr = 0.1" in changed and "+lr = 0.01" in changed
        second_deps = out["code"]["runs"][1]["dependencies"].splitlines()
        assert "lr = 0.01" in second_deps and "lr = 0.1" not in second_deps
        # the statements are shown as typed (the %%track line is not mistaken for one)
        assert "%%track" not in out["code"]["runs"][1]["dependencies"]
        (data,) = out["data"]  # the array the cell read, snapshotted as an input
        assert (data["role"], data["name"], data["states"]) == ("input", "data", [None, "same"])
        score = next(m for m in out["metrics"] if m["key"] == "score")
        assert score["verdicts"] == [None, "worse"]
    finally:
        store.close()


def execution(seq: int, source: str, facts: list[dict[str, Any]]) -> Execution:
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
        facts={"statements": facts},
        run_id=None,
        started_at=0.0,
        duration=0.0,
    )


def ran(i: int, **extra: Any) -> dict[str, Any]:
    return {"i": i, "ran": True, "ok": True, **extra}


def test_seeds_need_the_log_to_have_seen_the_reseed() -> None:
    source = "\n".join(
        [
            "SEED = 42",
            "np.random.seed(SEED)",
            "random.seed(3)",
            "torch.manual_seed(SEED)",
            "tf.random.set_seed(5)",
            "np.random.seed(compute())",
        ]
    )
    facts = [
        ran(0),
        ran(1, rng=["numpy"]),
        ran(2),  # the log saw no change of `random`: not a reseed it can vouch for
        ran(3),  # torch's generator is not watched: the call is taken as it ran
        ran(4),
        ran(5, rng=["numpy"]),  # not a literal: the earlier seed stands
    ]
    steps = Slicer([execution(1, source, facts)]).steps
    assert seeds_of(steps) == {"numpy": 42, "torch": 42, "tensorflow": 5}
    later = execution(2, "np.random.seed(1)", [ran(0, rng=["numpy"])])
    steps = Slicer([execution(1, source, facts), later]).steps
    assert seeds_of(steps)["numpy"] == 1
