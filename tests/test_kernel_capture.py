"""``%%track`` in a real kernel, driven the way JupyterLab drives it."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mltrack.store import RunStatus, Store

from .kernel import Kernel, loaded_kernel, open_store, recorded, text_of

RUN_CARD = "application/vnd.mltrack.run+json"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kernel")
    (root / "nb").mkdir()
    return root


@pytest.fixture(scope="module")
def kernel(workdir: Path) -> Iterator[Kernel]:
    with loaded_kernel(workdir / "nb", workdir / "home", "analysis.ipynb") as k:
        yield k


@pytest.fixture
def store(workdir: Path) -> Iterator[Store]:
    with open_store(workdir / "home") as st:
        yield st


def latest(store: Store, **filters: str):
    """The latest run once its cell's writes are all in (see :func:`recorded`)."""
    runs, _ = store.search_runs(order="-start_time", limit=1, **filters)
    assert runs, "no run recorded"
    return recorded(store, runs[0].id)


def test_tracked_cell_records_everything(kernel: Kernel, store: Store, workdir: Path) -> None:
    kernel.ok("C = 0.5\npenalty = 'l2'\nbig = list(range(1000))\nimport numpy as np")
    result = kernel.ok(
        "%%track baseline -t stage=dev -t keep -m acc -p big\n"
        "lr = 0.01\n"
        "layers = [64, 32]\n"
        "print('training with', C, penalty)\n"
        "acc = np.float64(0.875)\n"
        "for step in range(3):\n"
        "    mltrack.log_metric('loss', 1.0 / (step + 1))\n"
        "mltrack.log_metrics({'f1': 0.8, 'auc': 0.9})\n"
        "acc * 2",
        cell_id="cell-123",
    )
    # the user still sees the print and Out[n]
    assert "training with 0.5 l2" in text_of(result)
    results = [o for o in result["outputs"] if o["output_type"] == "execute_result"]
    assert results and "1.75" in results[0]["data"]["text/plain"]
    card = [o for o in result["outputs"] if RUN_CARD in o.get("data", {})]
    assert len(card) == 1

    detail = latest(store)
    run = detail.run
    assert run.status is RunStatus.FINISHED
    assert run.name == "baseline"
    assert run.experiment == "analysis"  # named after the notebook
    assert run.notebook_path == "analysis.ipynb"  # relative to the server root
    assert run.cell_id == "cell-123"
    assert run.execution_count == result["reply"]["execution_count"]
    assert run.tags == {"stage": "dev", "keep": ""}
    assert run.params["lr"] == 0.01 and run.params["layers"] == [64, 32]
    assert run.params["C"] == 0.5 and run.params["penalty"] == "l2"  # read by the cell
    assert len(run.params["big"]) == 1000  # asked for with -p
    assert "np" not in run.params and "step" not in run.params
    assert run.metrics["acc"] == 0.875
    assert run.metrics["value"] == 1.75  # numeric last expression
    assert run.metrics["f1"] == 0.8 and run.metrics["auc"] == 0.9
    assert [p.value for p in detail.metric_series["loss"]] == [1.0, 0.5, 1.0 / 3]
    assert [p.step for p in detail.metric_series["loss"]] == [0, 1, 2]
    assert detail.code.startswith("lr = 0.01")
    kinds = [o["output_type"] for o in detail.outputs]
    assert kinds == ["stream", "execute_result"]
    assert "1.75" in detail.outputs[1]["data"]["text/plain"]
    assert detail.environment is not None
    assert detail.environment.python.count(".") == 2
    assert "numpy" in detail.environment.packages
    assert run.duration is not None and run.duration >= 0
    assert detail.kernel_id == kernel.kernel_id


def test_log_params_and_a_dict_of_numbers_as_last_expression(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e dicts\n"
        "mltrack.log_params({'optimizer': 'sgd'}, momentum=0.9)\n"
        "scores = {'precision': 0.75, 'recall': 0.5}\n"
        "scores"
    )
    run = latest(store, experiment="dicts").run
    assert run.params["optimizer"] == "sgd" and run.params["momentum"] == 0.9
    assert run.metrics == {"precision": 0.75, "recall": 0.5}
    # a dict that is not all numbers is a result, not metrics
    kernel.ok("%%track -e dicts\n{'name': 'x', 'score': 1.0}")
    assert latest(store, experiment="dicts").run.metrics == {}


def test_a_cell_running_another_cell_keeps_its_run_open(kernel: Kernel, store: Store) -> None:
    """IPython fires post_run_cell for the inner cell too: it must not close the outer run."""
    kernel.ok(
        "%%track outer -e nested\n"
        "get_ipython().run_cell('inner_value = 41')\n"
        "mltrack.log_metric('after_inner', 1.0)\n"
        "get_ipython().run_cell_magic('track', 'inner -e nested', 'mltrack.log_metric(\"m\", 2.0)')\n"
        "mltrack.log_metric('end', 3.0)\n"
        "print('outer done')"
    )
    runs, total = store.search_runs(experiment="nested", order="number")
    assert total == 2
    outer, inner = runs
    assert (outer.name, inner.name) == ("outer", "inner")
    assert outer.metrics == {"after_inner": 1.0, "end": 3.0}
    assert inner.metrics == {"m": 2.0}
    assert outer.status is inner.status is RunStatus.FINISHED
    assert "outer done" in store.get_run_detail(outer.id).outputs[-1]["text"]


def test_run_card_compares_with_best(kernel: Kernel, store: Store) -> None:
    kernel.ok("%%track -e card\nmltrack.log_metric('accuracy', 0.9)")
    result = kernel.ok("%%track -e card\nmltrack.log_metric('accuracy', 0.8)")
    card = next(o["data"] for o in result["outputs"] if RUN_CARD in o.get("data", {}))
    data = card[RUN_CARD]
    assert data["number"] == 2 and data["experiment"] == "card"
    assert data["best"]["number"] == 1
    assert data["deltas"]["accuracy"] == pytest.approx(-0.1)
    assert "#2" in card["text/plain"] and "run <b>#2</b>" in card["text/html"]


def test_run_card_under_a_reducer_is_best_not_last(kernel: Kernel, store: Store) -> None:
    """``%config TrackMagics.card_reducer = "best"``: a run whose accuracy peaked then fell
    shows (and is compared on) its peak, labelled; a per-metric setting wins."""
    kernel.ok("%%track -e peak\nfor a in (0.5, 0.95, 0.6): mltrack.log_metric('accuracy', a)")
    kernel.ok("%config TrackMagics.card_reducer = 'best'")
    result = kernel.ok(
        "%%track -e peak\nfor a in (0.7, 0.9, 0.8): mltrack.log_metric('accuracy', a)\n"
        "mltrack.log_metric('loss', 0.3); mltrack.log_metric('loss', 0.2)"
    )
    card = next(o["data"] for o in result["outputs"] if RUN_CARD in o.get("data", {}))
    data = card[RUN_CARD]
    assert data["metrics"] == {"accuracy": 0.9, "loss": 0.2}
    assert data["reducers"] == {"accuracy": "best", "loss": "best"}
    assert data["best"]["number"] == 1 and data["best"]["metrics"]["accuracy"] == 0.95
    assert data["deltas"]["accuracy"] == pytest.approx(-0.05)
    assert "accuracy (best)=0.9" in card["text/plain"]
    kernel.ok("%config TrackMagics.card_reducers = {'accuracy': 'mean'}")
    result = kernel.ok("%%track -e peak\nfor a in (0.2, 0.4): mltrack.log_metric('accuracy', a)")
    data = next(o["data"] for o in result["outputs"] if RUN_CARD in o.get("data", {}))[RUN_CARD]
    assert data["metrics"]["accuracy"] == pytest.approx(0.3)
    assert data["reducers"] == {"accuracy": "mean"}
    refused = kernel.execute("%config TrackMagics.card_reducers = {'accuracy': 'median'}")
    assert "use one of last, best, min, max, mean" in str(refused), refused


def test_a_cells_final_write_comes_after_its_reply_and_before_idle(
    kernel: Kernel, store: Store
) -> None:
    """A tracked cell leaves its run's final transaction for after the kernel has sent the
    cell's reply (the cell's time does not include it), and the kernel writes it before it
    reports idle: a client that waits for idle, as this one does, reads the run ended with
    its metrics, even when the write is slow. The run card, published before the write,
    still compares with the previous run."""
    slow = (
        "import time\n"
        "from jupyter_mltrack.capture import api as _api\n"
        "_Store = type(_api.get_store())\n"
        "_finish_run = _Store.finish_run\n"
        "def _slow_finish(self, *args, **kwargs):\n"
        "    time.sleep(0.5)\n"
        "    return _finish_run(self, *args, **kwargs)\n"
        "_Store.finish_run = _slow_finish"
    )
    kernel.ok(slow)
    try:
        for value in (0.7, 0.9):
            sent = kernel.execute(
                f"%%track -e settled\nmltrack.log_metric('acc', {value})", wait=False
            )
            reply = kernel.kc.get_shell_msg(timeout=60)
            replied = time.monotonic()
            assert reply["parent_header"]["msg_id"] == sent["msg_id"]
            assert reply["content"]["status"] == "ok"
            card = None
            while True:
                msg = kernel.kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != sent["msg_id"]:
                    continue
                if msg["msg_type"] == "display_data" and RUN_CARD in msg["content"]["data"]:
                    card = msg["content"]["data"][RUN_CARD]
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            assert time.monotonic() - replied > 0.4  # the slow write came after the reply
            runs, _ = store.search_runs(experiment="settled", order="-number", limit=1)
            assert runs[0].status is RunStatus.FINISHED  # read at once: no waiting here
            assert runs[0].metrics == {"acc": value}
        assert card is not None and card["best"]["number"] == 1
        assert card["deltas"]["acc"] == pytest.approx(0.2)
    finally:
        kernel.ok("_Store.finish_run = _finish_run")


def test_failing_cell_is_recorded_and_still_fails(kernel: Kernel, store: Store) -> None:
    result = kernel.execute("%%track\nx = 1\nraise ValueError('boom')")
    assert result["reply"]["status"] == "error"
    assert result["reply"]["ename"] == "ValueError"
    traceback = "\n".join(result["reply"]["traceback"])
    assert "boom" in traceback
    assert "jupyter_mltrack" not in traceback and "run_cell_magic" not in traceback
    detail = latest(store)
    assert detail.run.status is RunStatus.FAILED
    assert detail.error["ename"] == "ValueError" and detail.error["evalue"] == "boom"
    assert detail.outputs[-1]["output_type"] == "error"
    assert detail.run.params == {"x": 1}


def test_syntax_error_is_a_failed_run(kernel: Kernel, store: Store) -> None:
    result = kernel.execute("%%track\nx = (1,")
    assert result["reply"]["status"] == "error"
    detail = latest(store)
    assert detail.run.status is RunStatus.FAILED
    assert detail.error["ename"] == "SyntaxError"


def test_interrupted_cell(kernel: Kernel, store: Store) -> None:
    sent = kernel.execute("%%track -e interrupts\nimport time\ntime.sleep(30)", wait=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs, _ = store.search_runs(experiment="interrupts", status="running")
        if runs:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    kernel.km.interrupt_kernel()
    result = kernel.collect(sent["msg_id"])
    assert result["reply"]["status"] == "error"
    run = latest(store, experiment="interrupts").run
    assert run.status is RunStatus.INTERRUPTED


def test_rerun_and_loops_make_new_runs(kernel: Kernel, store: Store) -> None:
    for _ in range(2):
        kernel.ok("%%track -e reruns\ny = 2")
    kernel.ok(
        "for i in range(3):\n"
        "    with mltrack.start_run(name=f'loop-{i}', experiment='reruns', params={'i': i}):\n"
        "        mltrack.log_metric('sq', i * i)\n"
    )
    kernel.ok(
        "r = mltrack.start_run(experiment='reruns')\nr2 = mltrack.start_run(experiment='reruns')"
    )
    kernel.ok("mltrack.end_run(); mltrack.end_run()")
    runs, total = store.search_runs(experiment="reruns", order="number")
    assert total == 7
    assert [r.number for r in runs] == list(range(1, 8))
    assert all(r.status is RunStatus.FINISHED for r in runs)
    loops = [r for r in runs if r.name and r.name.startswith("loop-")]
    assert [r.params["i"] for r in loops] == [0, 1, 2]
    assert [r.metrics["sq"] for r in loops] == [0, 1, 4]
    assert all(r.source == "api" for r in loops)


def test_odd_values_never_break_the_cell(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e odd -p when obj s nan\n"
        "import datetime, math\n"
        "class Thing:\n"
        "    def __repr__(self): raise RuntimeError('no repr')\n"
        "when = datetime.datetime(2024, 5, 1, 12, 0)\n"
        "obj = Thing()\n"
        "s = 'x' * 1_000_000\n"
        "nan = float('nan')\n"
        "mltrack.log_metric('nan_metric', math.nan)\n"
        "mltrack.log_metric('inf_metric', math.inf)\n"
        "print('y' * 3_000_000)\n"
    )
    detail = latest(store, experiment="odd")
    run = detail.run
    assert run.status is RunStatus.FINISHED
    assert run.params["when"] == {"$type": "datetime", "value": "2024-05-01T12:00:00"}
    assert run.params["obj"]["$type"] == "repr"
    assert run.params["s"]["$type"] == "truncated" and run.params["s"]["length"] == 1_000_000
    assert run.params["nan"] == {"$type": "float", "value": "nan"}
    series = detail.metric_series
    assert series["nan_metric"][0].value != series["nan_metric"][0].value  # NaN
    assert series["inf_metric"][0].value == float("inf")
    stream = detail.outputs[0]
    assert stream["output_type"] == "stream"
    assert len(stream["text"]) < 1_100_000 and "cut at" in stream["text"]
    assert stream["metadata"]["mltrack"]["original_size"] > 3_000_000
    assert json.dumps(detail.to_dict(), allow_nan=False)


def test_bad_metric_value_fails_clearly(kernel: Kernel, store: Store) -> None:
    result = kernel.execute("%%track -e bad\nmltrack.log_metric('acc', 'high')")
    assert result["reply"]["status"] == "error"
    assert result["reply"]["ename"] == "TrackingError"
    assert "must be a number" in result["reply"]["evalue"]
    assert latest(store, experiment="bad").run.status is RunStatus.FAILED


def test_huge_rich_output_is_capped(kernel: Kernel, store: Store) -> None:
    result = kernel.ok(
        "%%track -e rich\n"
        "from IPython.display import display, HTML\n"
        "display(HTML('<b>small</b>'))\n"
        "display(HTML('<i>' + 'z' * 2_000_000 + '</i>'))"
    )
    shown = [o for o in result["outputs"] if o["output_type"] == "display_data"]
    assert len(shown[1]["data"]["text/html"]) > 2_000_000  # the user sees all of it
    outputs = latest(store, experiment="rich").outputs
    assert outputs[0]["data"]["text/html"] == "<b>small</b>"
    assert outputs[1]["metadata"]["mltrack"]["truncated"] is True
    assert "not stored" in outputs[1]["data"]["text/plain"]


def test_store_magic_switches_store(kernel: Kernel, tmp_path: Path) -> None:
    other = tmp_path / "other-store"
    kernel.ok(f"%mltrack store {other}")
    try:
        kernel.ok("%%track -e switched\nz = 3")
    finally:
        kernel.ok("%mltrack store")
    st = Store(str(other))
    assert st.search_runs(experiment="switched")[1] == 1
    st.close()


def test_git_state_is_recorded(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "data.txt").write_text("a\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    k = Kernel(repo, tmp_path / "home", notebook="nb.ipynb")
    try:
        k.ok("%load_ext jupyter_mltrack")
        k.ok("%%track\na = 1")
        (repo / "data.txt").write_text("changed\n")
        time.sleep(1.2)  # the worker refreshes git state at most once a second
        k.ok("%%track\na = 2")
        time.sleep(0.1)
        k.ok("%%track\na = 3")
    finally:
        k.stop()
    st = Store(str(tmp_path / "home"))
    runs, _ = st.search_runs(order="number")
    first, _, third = (st.get_run_detail(r.id) for r in runs)
    assert first.git_commit == head and first.git_dirty is False
    assert third.git_commit == head and third.git_dirty is True
    st.close()


def _wait_for_status(store: Store, run_id: str, timeout: float = 20) -> RunStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = store.get_run(run_id).status
        if status is not RunStatus.RUNNING:
            return status
        store.reap_stale_runs()
        time.sleep(0.1)
    return store.get_run(run_id).status


def _start_long_run(k: Kernel, store: Store, experiment: str) -> str:
    k.ok("%load_ext jupyter_mltrack")
    k.ok(f"%%track -e {experiment}\nmltrack.log_metric('before', 1)")
    k.execute(f"%%track -e {experiment}\nimport time\ntime.sleep(60)", wait=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        # the second run: the first may still read `running` for a moment after its cell
        # (a kernel's first run is recorded as ended once the environment scan is done)
        runs, _ = store.search_runs(experiment=experiment, status="running")
        long = [r for r in runs if r.number == 2]
        if long:
            return long[0].id
        time.sleep(0.05)
    raise AssertionError("the long run never started")


def _run_numbered(store: Store, experiment: str, number: int, timeout: float = 20) -> str:
    """The id of run ``number`` of ``experiment`` once the kernel has opened it (on a loaded
    machine that can take longer than any fixed sleep: CI once read run 1 instead)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs, _ = store.search_runs(experiment=experiment, order="-number", limit=1)
        if runs and runs[0].number == number:
            return runs[0].id
        time.sleep(0.05)
    raise AssertionError(f"run {number} of {experiment} never started")


@pytest.mark.parametrize("how", ["killed", "shutdown", "os_exit"])
def test_dead_kernel_leaves_no_running_run(tmp_path: Path, how: str) -> None:
    home = tmp_path / "home"
    k = Kernel(tmp_path, home, notebook="nb.ipynb")
    store = Store(str(home))
    try:
        if how == "os_exit":
            k.ok("%load_ext jupyter_mltrack")
            k.ok("%%track -e dying\nmltrack.log_metric('before', 1)")
            k.execute("%%track -e dying\nimport os\nos._exit(3)", wait=False)
            run_id = _run_numbered(store, "dying", 2)
        else:
            run_id = _start_long_run(k, store, "dying")
            if how == "killed":
                k.km.shutdown_kernel(now=True)  # SIGKILL: no atexit, no goodbye
            else:
                k.km.request_shutdown()  # graceful: the kernel exits mid-cell
                k.km.finish_shutdown(waittime=10)
        status = _wait_for_status(store, run_id)
        assert status is RunStatus.CRASHED
        first = store.search_runs(experiment="dying", order="number")[0][0]
        assert first.status is RunStatus.FINISHED and first.metrics == {"before": 1.0}
    finally:
        k.stop()
        store.close()
