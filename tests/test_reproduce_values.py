"""``mltrack reproduce`` when a run logged no metric: it compares the values the tracked
cell bound (recorded in the store when the cell ended) and the text it printed and showed,
with what the exported pipeline produces in a fresh process.

Real kernels write the runs (``tests/kernel.py``), the store is a real SQLite store, and the
command runs as a console command, after the kernel is gone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.capture import results
from jupyter_mltrack.pipeline import cellcheck

from .test_pipeline import Session, mltrack, session_reading_data

#: A cell that logs no metric: arrays (one over the 1 MB kept whole), a frame, scalars, a
#: string, a clock reading, and a printed line with a duration and a memory address.
NO_METRIC = """%%track
t0 = time.time()
df = pd.read_csv("data.csv")
pred = df["x"].to_numpy() * lr
big = np.repeat(pred, 50_000)
table = df.assign(y=df["x"] * 2.5)
total = float(pred.sum())
label = "model-" + str(len(df))
elapsed = time.time() - t0
print(f"mean {pred.mean():.3f} in {elapsed:.4f} s", object())
pred"""


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return session_reading_data(
        tmp_path,
        ("imports", "import time\nimport numpy as np\nimport pandas as pd\nlr = 0.5"),
        ("train", NO_METRIC),
    )


def _run_id(s: Session) -> str:
    store = s.store()
    try:
        (run,), _ = store.search_runs(experiment="analysis", order="number", limit=1)
        return run.id
    finally:
        store.close()


def test_the_cell_records_its_values_in_the_store(session: Session) -> None:
    store = session.store()
    try:
        run_id = _run_id(session)
        assert store.get_run(run_id).metrics == {}
        values = store.run_values(run_id)
    finally:
        store.close()
    assert sorted(values) == ["big", "df", "elapsed", "label", "pred", "t0", "table", "total"]
    pred, data = values["pred"]
    assert pred["kind"] == "array" and pred["shape"] == [3] and pred["dtype"] == "float64"
    assert pred["digest"].startswith("xxh3-128:") and data is not None
    big, big_data = values["big"]  # 1.2 MB: over the size kept whole, so digest only
    assert big["shape"] == [150_000] and big["digest"] and big_data is None
    table, _ = values["table"]
    assert table["kind"] == "frame" and table["columns"] == ["x", "y"]
    assert table["dtypes"] == ["int64", "float64"] and len(table["column_digests"]) == 2
    assert values["total"][0]["value"] == 3.0 and values["label"][0]["value"] == "model-3"


def test_a_run_without_metrics_reproduces_its_values_and_text(session: Session) -> None:
    done = mltrack(session.home, "reproduce", "1", "-o", str(session.root / "r"),
                   cwd=session.root)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.strip()}
    assert rows["pred"][1:4] == ["array", "exact", "yes"], done.stdout
    assert rows["table"][1:4] == ["frame", "exact", "yes"], done.stdout
    assert rows["big"][1:4] == ["array", "exact", "yes"], done.stdout
    assert rows["t0"][1:4] == ["number", "skipped", "-"], done.stdout
    # the printed duration and address differ on every run: compared modulo those
    assert rows["stdout"][1] == "yes" and rows["result"][1] == "yes", done.stdout
    compared = next(line for line in done.stdout.splitlines() if line.startswith("compared:"))
    assert compared.startswith("compared: 6 values, stdout, result"), compared
    assert "not compared: elapsed (a clock reading), t0 (a clock reading)" in compared
    assert done.stdout.splitlines()[-1].startswith("reproduced ("), done.stdout
    script = (session.root / "r" / "pipeline.py").read_text()
    assert "mltrack.cell_begins()" in script and "mltrack.show(pred)" in script
    assert "print(" in script  # the cell's printed line is part of its pipeline


def test_json_says_what_was_compared(session: Session) -> None:
    done = mltrack(session.home, "reproduce", "1", "--json", cwd=session.root)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True and report["differences"] == []
    assert report["compared"] == {"metrics": 0, "values": 6, "outputs": 2, "models": 0}
    assert report["models"] == []
    assert report["metrics"] == []
    by_name = {v["name"]: v for v in report["values"]}
    assert set(by_name["pred"]) == {"name", "kind", "equal", "how", "detail"}
    assert by_name["pred"]["equal"] is True and by_name["t0"]["equal"] is None
    assert [(t["name"], t["equal"]) for t in report["outputs"]] == [
        ("stdout", True),
        ("result", True),
    ]


def test_changed_input_data_names_what_differs(session: Session) -> None:
    (session.root / "data.csv").write_text("x\n1\n2\n4\n")
    done = mltrack(session.home, "reproduce", "1", cwd=session.root)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert " NO " in rows["pred"] and "first at (2,): 1.5 became 2.0" in rows["pred"]
    assert " NO " in rows["big"] and "a tolerance compare was not possible" in rows["big"]
    assert " NO " in rows["table"] and " NO " in rows["stdout"] and " NO " in rows["result"]
    assert rows["label"].split()[1:4] == ["string", "exact", "yes"]
    verdict = done.stdout.splitlines()[-1]
    assert verdict.startswith("NOT reproduced: value big, value df, value pred,"), verdict
    assert "stdout, result differ" in verdict, verdict

    done = mltrack(session.home, "reproduce", "1", "--json", cwd=session.root)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert not report["ok"] and "value pred" in report["differences"]

    # the snapshot of the data the notebook read reproduces it again
    done = mltrack(session.home, "reproduce", "1", "--from-snapshots", cwd=session.root)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_pipeline_with_no_statements_is_never_reproduced(tmp_path: Path) -> None:
    s = Session(tmp_path)
    replies = s.run(("show", '%%track\ndisplay("nothing a script can run")'))
    assert replies[0]["reply"]["status"] == "ok", replies
    done = mltrack(s.home, "reproduce", "1", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no statements" in done.stderr and "nothing to reproduce" in done.stderr
    assert "Traceback" not in done.stderr and "reproduced (" not in done.stdout


# the comparison itself, on records made by the code the cell uses ---------------------------


def test_values_compare_within_tolerances_when_kept_and_by_digest_when_not() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.random(100), rng.random(200_000)
    frame = pd.DataFrame({"a": rng.random(10), "s": list("abcdefghij")})
    before = results.record_values(["small", "large", "frame", "n"], locals() | {"n": 7})
    nudged = {
        "small": small * (1 + 1e-9),
        "large": large * (1 + 1e-9),
        "frame": frame.assign(a=frame["a"] + 1e-13),
        "n": 7,
    }
    after = results.record_values(sorted(nudged), nudged)
    checks = {c.name: c for c in cellcheck.compare_values(before, after, rtol=1e-6, atol=1e-12)}
    assert (checks["small"].equal, checks["small"].how) == (True, "tolerance")
    assert (checks["frame"].equal, checks["frame"].how) == (True, "tolerance")
    assert (checks["n"].equal, checks["n"].how) == (True, "exact")
    large_check = checks["large"]  # 1.6 MB: only its digest was kept
    assert (large_check.equal, large_check.how) == (False, "digest")
    assert "a tolerance compare was not possible" in large_check.detail
    strict = cellcheck.compare_values(before, after, rtol=0, atol=0)
    assert [c.name for c in strict if c.equal is False] == ["frame", "large", "small"]


def test_huge_values_are_not_hashed_and_compare_by_shape() -> None:
    huge = np.zeros(results.HASH_BYTES // 8 + 1)
    record, data = results.record_value(huge)
    assert record["digest"] is None and data is None and "not hashed" in record["note"]
    again = results.record_value(np.ones_like(huge))
    check = cellcheck.compare_values({"x": (record, data)}, {"x": again}, rtol=0, atol=0)[0]
    assert (check.equal, check.how) == (True, "shape") and "not hashed" in check.detail


def test_text_is_compared_modulo_durations_progress_addresses_and_warnings() -> None:
    kernel = (
        "epoch 1 took 1.23 s (12ms per batch), total 0:00:01\n"
        "<Model object at 0x7f3a2b1c9d00>\n"
        "Wall time: 3.2 s\n"
        " 50%|#####     | 5/10 [00:01<00:01, 4.9it/s]\r100%|##########| 10/10 [00:02<00:00]\n"
        "accuracy 0.9312\n"
        "/tmp/ipykernel_4242/123.py:7: UserWarning: shown once per place\n"
        '  warnings.warn("shown once per place")\n'
        "mltrack: autolog: ValueError: the tracker's own diagnostic\n"
    )
    script = (
        "epoch 1 took 0.98 s (9ms per batch), total 0:00:02\n"
        "<Model object at 0x7f0000000000>\n"
        "Wall time: 2.9 s\n"
        "100%|##########| 10/10 [00:01<00:00]\n"
        "accuracy 0.9312000001\n"
    )
    (check,) = cellcheck.compare_texts({"stdout": kernel}, {"stdout": script}, rtol=1e-6, atol=0)
    assert check.equal is True, check
    (check,) = cellcheck.compare_texts(
        {"stdout": kernel}, {"stdout": script.replace("0.9312000001", "0.95")}, rtol=1e-6, atol=0
    )
    assert (
        check.equal is False and "line 5: 'accuracy 0.9312' became 'accuracy 0.95'" in check.detail
    )
    # a percentage that is a result, not a progress bar, is compared
    (check,) = cellcheck.compare_texts(
        {"stdout": "accuracy: 93%\n"}, {"stdout": "accuracy: 94%\n"}, rtol=0, atol=0
    )
    assert check.equal is False


def test_clock_readings_are_found_through_the_names_computed_from_them() -> None:
    source = (
        "import time, datetime\n"
        "t0 = time.perf_counter()\n"
        "x = 1\n"
        "elapsed = time.perf_counter() - t0\n"
        "rate = x / elapsed\n"
        "stamp = datetime.datetime.now()\n"
    )
    assert sorted(cellcheck.clock_names(source)) == ["elapsed", "rate", "stamp", "t0"]


def test_durations_in_printed_tables_and_frame_columns_are_not_compared() -> None:
    """scikit-learn's ``cv_results_`` holds ``mean_fit_time``: printed as a frame (or a row
    of it), or kept as a frame, its durations differ on every run; the rest must not."""
    kernel = pd.DataFrame(
        {"mean_fit_time": [0.0123, 0.5], "param_C": ["1", "10"], "mean_test_score": [0.91, 0.93]}
    )
    script = kernel.assign(mean_fit_time=[0.02, 0.4])
    for shown in (str, lambda f: str(f.iloc[0]), lambda f: str(f.T)):
        checks = cellcheck.compare_texts(
            {"stdout": shown(kernel)}, {"stdout": shown(script)}, rtol=0, atol=0
        )
        assert [c.equal for c in checks] == [True], checks
    worse = kernel.assign(mean_test_score=[0.5, 0.93])
    (check,) = cellcheck.compare_texts(
        {"stdout": str(kernel)}, {"stdout": str(worse)}, rtol=0, atol=0
    )
    assert check.equal is False

    before = results.record_values(["cv"], {"cv": kernel})
    (same,) = cellcheck.compare_values(before, results.record_values(["cv"], {"cv": script}),
                                       rtol=0, atol=0)  # fmt: skip
    assert same.equal is True and "'mean_fit_time' not compared (durations)" in same.detail
    (differs,) = cellcheck.compare_values(before, results.record_values(["cv"], {"cv": worse}),
                                          rtol=0, atol=0)  # fmt: skip
    assert differs.equal is False and "column 'mean_test_score'" in differs.detail
