"""Benchmark 1: wall time a tracked cell adds, in a real IPython shell, vs MLflow.

Cells are run with ``InteractiveShell.run_cell`` exactly as a kernel runs them (the
``%%track`` line goes through the extension's input transformer and pre/post-run hooks).
Variants are interleaved cell by cell so drift (CPU frequency, page cache) hits them alike.
Since ``%load_ext`` starts the execution log, every cell here (MLflow's too) is logged, and
each cell's time includes writing its log record (see :func:`settle`); two diagnostic
variants run the untracked and the tracked cell with the log's hooks off, to tell what
tracking costs from what the log costs (section 5 measures the log on its own).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any

from bench.common import set_pragmas, sqlite_settings, stats, timed

#: Ten hyper-parameters as literal assignments (what %%track records as params).
PARAMS = """\
lr = 0.001
batch_size = 64
epochs = 10
momentum = 0.9
weight_decay = 0.0005
dropout = 0.2
optimizer = "adam"
hidden = [128, 64]
seed = 42
shuffle = True
"""
#: Five metrics computed from them.
METRICS = """\
accuracy = 0.5 + lr * 100 + dropout
precision = accuracy * momentum
recall = accuracy - weight_decay
f1 = 2 * precision * recall / (precision + recall)
loss = 1.0 / (epochs + batch_size * lr)
"""
NAMES = ["accuracy", "precision", "recall", "f1", "loss"]

PLAIN = PARAMS + METRICS
TRACKED = (
    "%%track\n" + PARAMS + METRICS + "".join(f'mltrack.log_metric("{n}", {n})\n' for n in NAMES)
)
MLFLOW = (
    PARAMS
    + METRICS
    + "with mlflow.start_run():\n"
    + "    mlflow.log_params(dict(lr=lr, batch_size=batch_size, epochs=epochs, momentum=momentum,"
    + " weight_decay=weight_decay, dropout=dropout, optimizer=optimizer, hidden=hidden,"
    + " seed=seed, shuffle=shuffle))\n"
    + "".join(f'    mlflow.log_metric("{n}", {n})\n' for n in NAMES)
)


def make_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False  # no history database writes muddying the timings
    shell = InteractiveShell.instance(config=cfg)
    shell.run_line_magic("load_ext", "jupyter_mltrack")
    return shell


#: Diagnostic variants: the execution log's hooks unregistered (not a user setting), to tell
#: what tracking costs from what the log (on in every cell since %load_ext) costs.
NO_LOG = ("untracked_no_log", "mltrack_no_log")


def _log_switch(shell: Any) -> Any:
    """A context manager that turns the execution log off for the cells run inside it."""
    from jupyter_mltrack.capture import history

    log, _new = history.ExecutionLog.of(shell)
    hooks = [("pre_run_cell", log.pre_run_cell), ("post_run_cell", log.post_run_cell)]

    @contextlib.contextmanager
    def off() -> Any:
        for event, hook in hooks:
            shell.events.unregister(event, hook)
        try:
            yield
        finally:
            for event, hook in hooks:
                shell.events.register(event, hook)

    return off


def settle(shell: Any) -> None:
    """Wait until the execution log has written the last cell's record. The log writes it on
    a thread of its own and waits for it before the next cell: back to back, as here, a cell
    would pay for the one before; settling inside the timing charges each cell its own."""
    from jupyter_mltrack.capture import history

    log = history._logs.get(shell)
    if log is not None and hasattr(log, "settle"):
        log.settle()


def run(shell: Any, cell: str) -> float:
    def go() -> None:
        result = shell.run_cell(cell, store_history=True)
        settle(shell)
        if not result.success:
            raise RuntimeError(f"benchmark cell failed: {result.error_in_exec!r}")

    return timed(go)


def mltrack_full_store(root: Path) -> Any:
    """A second mltrack store with synchronous=FULL: same durability as MLflow's default."""
    from jupyter_mltrack.store.store import Store

    store = Store(f"sqlite:///{root / 'mltrack-full' / 'mltrack.db'}")
    set_pragmas(store.engine, "full")
    return store


def mlflow_setup(root: Path) -> dict[str, str]:
    """Two MLflow SQLite stores: its default settings, and WAL + synchronous=NORMAL."""
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    default_db = root / "mlflow-default" / "mlflow.db"
    wal_db = root / "mlflow-wal" / "mlflow.db"
    default_db.parent.mkdir(parents=True)
    wal_db.parent.mkdir(parents=True)
    experiments: dict[str, str] = {}
    mlflow.set_tracking_uri(f"sqlite:///{default_db}")  # runs MLflow's migrations once
    mlflow.search_experiments()
    shutil.copy(default_db, wal_db)  # same schema, without a second migration
    for label, db in (("default", default_db), ("wal_normal", wal_db)):
        uri = f"sqlite:///{db}"
        mlflow.set_tracking_uri(uri)
        if label == "wal_normal":
            from mlflow.tracking._tracking_service.utils import _get_store

            set_pragmas(_get_store().engine, "wal_normal")
        experiments[label] = mlflow.create_experiment(
            "bench", artifact_location=(db.parent / "artifacts").as_uri()
        )
    return {
        "default": str(default_db),
        "wal_normal": str(wal_db),
        **{f"experiment_{k}": v for k, v in experiments.items()},
    }


def use_mlflow(setup: dict[str, str], label: str) -> None:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{setup[label]}")
    mlflow.set_experiment(experiment_id=setup[f"experiment_{label}"])


def bench_cells(
    root: Path, reps: int, mlflow_reps: int, warmup: int, mlflow_warmup: int
) -> dict[str, Any]:
    import mlflow

    from jupyter_mltrack.capture import api

    shell = make_shell()
    shell.push({"mlflow": mlflow})
    default_store = api.get_store()  # MLTRACK_HOME: WAL + synchronous=NORMAL (the default)
    full_store = mltrack_full_store(root)
    mlf = mlflow_setup(root)
    keys = ("untracked", "mltrack", "mltrack_full", "mlflow", "mlflow_wal_normal")
    times: dict[str, list[float]] = {k: [] for k in (*keys, *NO_LOG)}
    log_off = _log_switch(shell)

    sink = io.StringIO()  # the run card and anything printed (a kernel would send it to the UI)
    with contextlib.redirect_stdout(sink):
        # warm-up (excluded): imports, first store connections, environment/git collection
        for _ in range(warmup):
            run(shell, PLAIN)
            api.set_store(default_store)
            run(shell, TRACKED)
            api.set_store(full_store)
            run(shell, TRACKED)
            api.set_store(default_store)
        api.wait_pending()
        for label in ("default", "wal_normal"):
            use_mlflow(mlf, label)
            for _ in range(mlflow_warmup):
                run(shell, MLFLOW)
        # measured, interleaved
        for i in range(reps):
            times["untracked"].append(run(shell, PLAIN))
            api.set_store(default_store)
            times["mltrack"].append(run(shell, TRACKED))
            api.set_store(full_store)
            times["mltrack_full"].append(run(shell, TRACKED))
            api.set_store(default_store)
            with log_off():  # diagnostic: the same two cells without the execution log
                times["untracked_no_log"].append(run(shell, PLAIN))
                times["mltrack_no_log"].append(run(shell, TRACKED))
            if i < mlflow_reps:
                use_mlflow(mlf, "default")
                times["mlflow"].append(run(shell, MLFLOW))
                use_mlflow(mlf, "wal_normal")
                times["mlflow_wal_normal"].append(run(shell, MLFLOW))
            sink.seek(0)
            sink.truncate()
    api.wait_pending()

    # sanity: every tracked cell became a finished run with its 10 params and 5 metrics
    runs, total = default_store.search_runs(limit=1)
    last = runs[0]
    assert total == warmup + 2 * reps, (total, warmup + 2 * reps)
    assert len(last.params) >= 10 and set(NAMES) <= set(last.metrics), last
    assert last.status.value == "finished", last.status

    out: dict[str, Any] = {k: stats(v) for k, v in times.items()}
    base = out["untracked"]
    for k in ("mltrack", "mltrack_full", "mlflow", "mlflow_wal_normal"):
        out[k]["added_median_ms"] = out[k]["median_ms"] - base["median_ms"]
        out[k]["added_p90_ms"] = out[k]["p90_ms"] - base["p90_ms"]
    base = out["untracked_no_log"]
    out["mltrack_no_log"]["added_median_ms"] = (
        out["mltrack_no_log"]["median_ms"] - base["median_ms"]
    )
    out["mltrack_no_log"]["added_p90_ms"] = out["mltrack_no_log"]["p90_ms"] - base["p90_ms"]
    out["sqlite"] = {
        "mltrack": {**sqlite_settings(default_store.engine.url.database), "synchronous": "NORMAL"},
        "mltrack_full": {**sqlite_settings(full_store.engine.url.database), "synchronous": "FULL"},
        "mlflow": {**sqlite_settings(mlf["default"]), "synchronous": "FULL"},
        "mlflow_wal_normal": {**sqlite_settings(mlf["wal_normal"]), "synchronous": "NORMAL"},
    }
    out["warmup"] = {"ours": warmup, "mlflow": mlflow_warmup}
    out["mlflow_setup"] = mlf
    return out
