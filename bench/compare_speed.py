"""Benchmark 7: comparing runs (issue 10), side by side with MLflow and Optuna on the same data.

Three workloads, each built once in a jupyter_mltrack store and, the same values, in an MLflow
tracking store (SQLite, in this process) or an Optuna study:

* **curves**: 10 runs x 10 metrics x 10,000 steps. Ours: the table and the curves through the
  REST API of a real Jupyter server (``GET /mltrack/api/compare`` then
  ``GET /mltrack/api/compare/charts?kind=curves``, each metric downsampled on the server to at
  most 2,000 points per run). MLflow: what its compare page asks for, ``search_runs`` for the
  runs plus ``get_metric_history`` per run and metric (100 calls), made in process through
  ``MlflowClient`` (no HTTP: a lower bound for MLflow). Budget: <= 150 ms for ours.
* **parallel**: parallel coordinates over 1,000 runs (5 params, 3 metrics). Ours:
  ``GET /mltrack/api/compare/charts?kind=parallel&experiment=…`` (the whole plotly figure).
  MLflow: ``search_runs`` of the 1,000 runs (the data its chart is drawn from, client side).
  Budget: <= 300 ms for ours.
* **explain**: ``explain`` over an experiment of 500 runs, in process and through the REST API.
  No tracker ranks the causes of a change; the nearest tool is a parameter-importance
  evaluator, so beside it: ``importance`` (ours) against Optuna's
  ``get_param_importances`` (fANOVA, its default) over a study of the same 500 trials.
  Budget: <= 1 s for ``explain``.

Medians of several repetitions after a warm-up call; the server runs in its own process.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/compare_speed.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ApiClient, checkout_env, met, repeat  # noqa: E402

FULL = {
    "steps": 10_000,
    "runs": 10,
    "metrics": 10,
    "wide_runs": 1_000,
    "explain_runs": 500,
    "reps": 15,
    "mlflow_reps": 5,
}
QUICK = {
    "steps": 1_000,
    "runs": 10,
    "metrics": 10,
    "wide_runs": 200,
    "explain_runs": 100,
    "reps": 3,
    "mlflow_reps": 1,
}
TARGETS_MS = {"curves": 150.0, "parallel": 300.0, "explain": 1000.0}
TOKEN = "bench-compare-token"
OPTIMIZERS = ("adam", "sgd", "rmsprop")


# data ----------------------------------------------------------------------------------------


def _curve(run: int, metric: int, steps: int) -> list[float]:
    """A noisy decaying loss-like curve, different per run and metric, with one spike."""
    rng = random.Random(run * 1000 + metric)
    base = 1.0 + 0.1 * run
    out = [base * math.exp(-s / (steps / 4)) + rng.gauss(0, 0.01) for s in range(steps)]
    out[rng.randrange(steps)] += 5.0
    return out


def _wide_params(i: int) -> dict[str, Any]:
    rng = random.Random(i)
    return {
        "lr": 10 ** rng.uniform(-4, -1),
        "depth": rng.randint(2, 12),
        "optimizer": rng.choice(OPTIMIZERS),
        "dropout": round(rng.uniform(0, 0.5), 3),
        "batch": rng.choice((16, 32, 64, 128)),
    }


def _wide_metrics(p: dict[str, Any], i: int) -> dict[str, float]:
    """``acc`` driven by lr (the planted cause) and depth, plus noise."""
    rng = random.Random(10_000 + i)
    acc = 0.9 - 0.05 * abs(math.log10(p["lr"]) + 2.5) + 0.002 * p["depth"] + rng.gauss(0, 0.005)
    return {"acc": acc, "loss": 1 - acc + rng.gauss(0, 0.01), "f1": acc - 0.02}


def build_ours(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mltrack.store import MetricPoint, RunStatus, Store

    store = Store(f"sqlite:///{root / 'mltrack' / 'mltrack.db'}")
    curve_ids = []
    t0 = time.time() - 3600
    for r in range(p["runs"]):
        run = store.create_run("curves", params={"lr": 0.1 / (r + 1), "seed": r}, start_time=t0)
        points = [
            MetricPoint(f"m{m}", v, s, t0 + s * 0.01)
            for m in range(p["metrics"])
            for s, v in enumerate(_curve(r, m, p["steps"]))
        ]
        store.finish_run(run.id, RunStatus.FINISHED, metrics=points, end_time=t0 + 100)
        curve_ids.append(run.id)
    for exp, n in (("wide", p["wide_runs"]), ("explain", p["explain_runs"])):
        for i in range(n):
            params = _wide_params(i)
            run = store.create_run(exp, params=params, code=f"model = Net(**params)  # v{i % 2}")
            metrics = [
                MetricPoint(k, v, 0, time.time()) for k, v in _wide_metrics(params, i).items()
            ]
            store.finish_run(run.id, RunStatus.FINISHED, metrics=metrics)
    explain_runs, _ = store.search_runs(experiment="explain", order="start_time", limit=1000)
    store.close()
    # two runs that differ in lr (and the rest: the evidence must single lr out)
    return {"curve_ids": curve_ids, "explain_pair": (explain_runs[0].id, explain_runs[1].id)}


def build_mlflow(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    client = MlflowClient()
    curves = client.create_experiment("curves", artifact_location=str(root / "mlflow-art"))
    ids = []
    for r in range(p["runs"]):
        run = client.create_run(curves)
        client.log_batch(run.info.run_id, params=[Param("lr", str(0.1 / (r + 1)))])
        t0 = int(time.time() * 1000)
        metrics = [
            Metric(f"m{m}", v, t0 + s * 10, s)
            for m in range(p["metrics"])
            for s, v in enumerate(_curve(r, m, p["steps"]))
        ]
        for i in range(0, len(metrics), 1000):  # log_batch takes at most 1,000 metrics
            client.log_batch(run.info.run_id, metrics=metrics[i : i + 1000])
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    wide = client.create_experiment("wide", artifact_location=str(root / "mlflow-art"))
    for i in range(p["wide_runs"]):
        params = _wide_params(i)
        run = client.create_run(wide)
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            params=[Param(k, str(v)) for k, v in params.items()],
            metrics=[Metric(k, v, now, 0) for k, v in _wide_metrics(params, i).items()],
        )
        client.set_terminated(run.info.run_id)
    return {"client": client, "curve_ids": ids, "curves_exp": curves, "wide_exp": wide}


def build_optuna(p: dict[str, Any]) -> Any:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "depth": IntDistribution(2, 12),
        "optimizer": CategoricalDistribution(OPTIMIZERS),
        "dropout": FloatDistribution(0.0, 0.5),
        "batch": CategoricalDistribution((16, 32, 64, 128)),
    }
    study = optuna.create_study(direction="maximize")
    trials = []
    for i in range(p["explain_runs"]):
        params = _wide_params(i)
        value = _wide_metrics(params, i)["acc"]
        trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    study.add_trials(trials)
    return study


# the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real Jupyter server with the extension, on loopback, serving the bench's store."""

    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        env = {**checkout_env(), "MLTRACK_HOME": str(root / "mltrack")}
        env.pop("MLTRACK_STORE_URL", None)
        (root / "srv").mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ip=127.0.0.1",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={root / 'srv'}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(root / "server.log", "w"),  # noqa: SIM115
        )
        self.api = ApiClient(self.port, TOKEN, timeout=60)
        deadline = time.time() + 60
        while True:
            try:
                self.api.get("/mltrack/api/experiments")
                return
            except (OSError, http.client.HTTPException):
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the server did not start; see {root / 'server.log'}"
                    ) from None
                self.api.close()
                time.sleep(0.3)

    def get(self, path: str, **query: Any) -> bytes:
        return self.api.get(path, **query)

    def close(self) -> None:
        self.api.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# the benchmark -------------------------------------------------------------------------------


def bench_compare(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mltrack.compare import explain, importance
    from jupyter_mltrack.store import Store

    t0 = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    ours = build_ours(root, p)
    theirs = build_mlflow(root, p)
    study = build_optuna(p)
    out: dict[str, Any] = {"build_s": time.perf_counter() - t0, "sizes": dict(p)}
    reps, mreps = p["reps"], p["mlflow_reps"]
    runs = ",".join(ours["curve_ids"])
    metrics = ",".join(f"m{m}" for m in range(p["metrics"]))
    server = Server(root)
    a, b = ours["explain_pair"]
    try:
        # Opening a comparison imports scikit-learn in the background (for a later *Why?*);
        # let that finish first, so it does not land in the timed requests.
        server.get("/mltrack/api/compare/explain", a=a, b=b, metric="acc")
        table = lambda: server.get("/mltrack/api/compare", runs=runs)  # noqa: E731
        curves = lambda: server.get(  # noqa: E731
            "/mltrack/api/compare/charts", kind="curves", runs=runs, metrics=metrics
        )
        out["curves"] = {
            "table": repeat(table, reps),
            "charts": repeat(curves, reps),
            "both": repeat(lambda: (table(), curves()), reps),
            "bytes": len(table()) + len(curves()),
        }
        out["parallel"] = {
            "ours": repeat(
                lambda: server.get(
                    "/mltrack/api/compare/charts", kind="parallel", experiment="wide", color="acc"
                ),
                reps,
            )
        }
        out["explain"] = {
            "rest": repeat(
                lambda: server.get("/mltrack/api/compare/explain", a=a, b=b, metric="acc"), reps
            )
        }
    finally:
        server.close()

    store = Store(f"sqlite:///{root / 'mltrack' / 'mltrack.db'}")
    try:
        out["explain"]["in_process"] = repeat(lambda: explain(store, a, b, "acc"), reps)
        out["explain"]["importance"] = repeat(lambda: importance(store, "explain", "acc"), reps)
        answer = explain(store, a, b, "acc").to_dict()
        out["explain"]["top_factor"] = answer["factors"][0]["key"] if answer["factors"] else None
        top_ours = importance(store, "explain", "acc").to_dict()["params"][0]["key"]
    finally:
        store.close()

    import optuna

    # Optuna's default evaluator (PED-ANOVA since Optuna 4) and fANOVA, the random-forest
    # one, closer to what ``importance`` computes.
    fanova = optuna.importance.FanovaImportanceEvaluator(seed=0)
    out["explain"]["optuna_default"] = repeat(
        lambda: optuna.importance.get_param_importances(study), mreps
    )
    out["explain"]["optuna_fanova"] = repeat(
        lambda: optuna.importance.get_param_importances(study, evaluator=fanova), mreps
    )
    out["explain"]["top_param"] = {
        "ours": top_ours,
        "optuna_default": next(iter(optuna.importance.get_param_importances(study))),
        "optuna_fanova": next(
            iter(optuna.importance.get_param_importances(study, evaluator=fanova))
        ),
    }
    client = theirs["client"]
    ids = theirs["curve_ids"]

    def mlflow_compare() -> None:
        client.search_runs([theirs["curves_exp"]], filter_string="", max_results=len(ids))
        for run_id in ids:
            for m in range(p["metrics"]):
                client.get_metric_history(run_id, f"m{m}")

    out["curves"]["mlflow"] = repeat(mlflow_compare, mreps)
    out["parallel"]["mlflow"] = repeat(
        lambda: client.search_runs([theirs["wide_exp"]], max_results=p["wide_runs"]), mreps
    )
    out["targets"] = targets(out)
    return out


def targets(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "curves_le_150ms": r["curves"]["both"]["median_ms"] <= TARGETS_MS["curves"],
        "parallel_le_300ms": r["parallel"]["ours"]["median_ms"] <= TARGETS_MS["parallel"],
        "explain_le_1s": r["explain"]["in_process"]["median_ms"] <= TARGETS_MS["explain"]
        and r["explain"]["rest"]["median_ms"] <= TARGETS_MS["explain"],
    }


def report(r: dict[str, Any]) -> list[str]:
    p, c, par, e, t = r["sizes"], r["curves"], r["parallel"], r["explain"], r["targets"]
    ratio = c["mlflow"]["median_ms"] / c["both"]["median_ms"]
    pratio = par["mlflow"]["median_ms"] / par["ours"]["median_ms"]
    iratio = e["optuna_fanova"]["median_ms"] / e["importance"]["median_ms"]
    dratio = e["optuna_default"]["median_ms"] / e["importance"]["median_ms"]
    top = e["top_param"]
    return [
        f"7. Comparing runs (issue 10), median ms of {p['reps']} (MLflow/Optuna: "
        f"{p['mlflow_reps']}) after a warm-up",
        f"   a. {p['runs']} runs x {p['metrics']} metrics x {p['steps']:,} steps, table + curves",
        f"      ours, REST: compare {c['table']['median_ms']:.1f} + charts?kind=curves "
        f"{c['charts']['median_ms']:.1f} = {c['both']['median_ms']:.1f} ms "
        f"(p90 {c['both']['p90_ms']:.1f}, {c['bytes'] / 1e6:.2f} MB)",
        f"      MLflow, in process: search_runs + {p['runs'] * p['metrics']} get_metric_history "
        f"{c['mlflow']['median_ms']:.1f} ms  -> {ratio:.1f}x",
        f"      target <= {TARGETS_MS['curves']:g} ms: {met(t['curves_le_150ms'])}",
        f"   b. parallel coordinates over {p['wide_runs']:,} runs",
        f"      ours, REST: charts?kind=parallel {par['ours']['median_ms']:.1f} ms"
        f" (p90 {par['ours']['p90_ms']:.1f})",
        f"      MLflow, in process: search_runs of the runs {par['mlflow']['median_ms']:.1f} ms"
        f"  -> {pratio:.1f}x",
        f"      target <= {TARGETS_MS['parallel']:g} ms: {met(t['parallel_le_300ms'])}",
        f"   c. explain over an experiment of {p['explain_runs']:,} runs (top factor: "
        f"{e['top_factor']})",
        f"      ours: in process {e['in_process']['median_ms']:.1f} ms, REST "
        f"{e['rest']['median_ms']:.1f} ms",
        f"      parameter importance (top parameter): ours {e['importance']['median_ms']:.1f} ms"
        f" ({top['ours']}); Optuna fANOVA {e['optuna_fanova']['median_ms']:.1f} ms"
        f" ({top['optuna_fanova']}) -> {iratio:.2f}x; Optuna's default, PED-ANOVA,"
        f" {e['optuna_default']['median_ms']:.1f} ms ({top['optuna_default']}) -> {dratio:.2f}x",
        f"      target <= {TARGETS_MS['explain']:g} ms: {met(t['explain_le_1s'])}",
    ]


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="benchmark 7 alone")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = bench_compare(
        Path(tempfile.mkdtemp(prefix="mltrack-bench-cmp-")), QUICK if args.quick else FULL
    )
    print("\n".join(report(result)))
    print(json.dumps(result["targets"]))
