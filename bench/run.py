"""Run every benchmark in one process and write bench/results/latest.json.

python -m bench                    # full run (benchmark 10 alone takes about 21 minutes, most of it
                                   # MLflow at 100,000 runs), figures for docs/benchmarks.md
python -m bench --quick            # smoke run (1 to 2.5 minutes), figures not meaningful
python -m bench --only snapshots   # one part: tracking (1-3), snapshots (4), log (5), export (6),
                                   # compare (7), coldstart (8), concurrency (9), search (10),
                                   # artifacts (11), sweeps (12), sharing (13)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (  # noqa: E402
    artifacts,
    coldstart,
    compare_speed,
    concurrency,
    export_speed,
    log_overhead,
    search,
    sharing,
    snapshots,
    sweeps,
)
from bench.common import REPO, byte_compile_package, environment, isolate, met  # noqa: E402

CELL_TARGET_MS = 5.0
THROUGHPUT_TARGET = 100_000.0
RATIO_TARGET = 10.0

FULL = {
    "reps": 200,
    "mlflow_reps": 50,
    "warmup": 20,
    "mlflow_warmup": 5,
    "values": 100_000,
    "repeats": 3,
    "mlflow_per_call": 2_000,
    "mlflow_batch": 100_000,
    "scaling_sizes": [200, 1_000, 5_000],
    "snapshots": snapshots.FULL,
    "log": log_overhead.FULL,
    "export": export_speed.FULL,
    "compare": compare_speed.FULL,
    "coldstart": coldstart.FULL,
    "concurrency": concurrency.FULL,
    "search": search.FULL,
    "artifacts": artifacts.FULL,
    "sweeps": sweeps.FULL,
    "sharing": sharing.FULL,
}
QUICK = {
    "reps": 20,
    "mlflow_reps": 5,
    "warmup": 3,
    "mlflow_warmup": 1,
    "values": 10_000,
    "repeats": 1,
    "mlflow_per_call": 50,
    "mlflow_batch": 10_000,
    "scaling_sizes": [100, 300],
    "snapshots": snapshots.QUICK,
    "log": log_overhead.QUICK,
    "export": export_speed.QUICK,
    "compare": compare_speed.QUICK,
    "coldstart": coldstart.QUICK,
    "concurrency": concurrency.QUICK,
    "search": search.QUICK,
    "artifacts": artifacts.QUICK,
    "sweeps": sweeps.QUICK,
    "sharing": sharing.QUICK,
}

#: (label, mltrack variant, MLflow variant): out of the box, then at equal durability.
COMPARISONS = [
    ("defaults", "mltrack", "mlflow"),
    ("both WAL/NORMAL", "mltrack", "mlflow_wal_normal"),
    ("both sync=FULL", "mltrack_full", "mlflow"),
]


def summarise(cells: dict[str, Any], tp: dict[str, Any]) -> dict[str, Any]:
    def mlflow_best(suffix: str) -> float:
        return max(
            tp["mlflow_log_metric" + suffix]["values_per_s"],
            tp["mlflow_log_batch" + suffix]["values_per_s"],
        )

    best = {"mlflow": mlflow_best(""), "mlflow_wal_normal": mlflow_best("_wal_normal")}
    ours = cells["mltrack"]["added_median_ms"]
    rate = tp["mltrack"]["values_per_s"]
    cell_ratios = {
        label: cells[theirs]["added_median_ms"] / cells[mine]["added_median_ms"]
        for label, mine, theirs in COMPARISONS
    }
    tp_ratios = {
        label: tp[mine]["values_per_s"] / best[theirs] for label, mine, theirs in COMPARISONS
    }
    return {
        "cell_added_ms": ours,
        "cell_added_p90_ms": cells["mltrack"]["added_p90_ms"],
        "cell_ratios": cell_ratios,
        "throughput_values_per_s": rate,
        "throughput_ratios": tp_ratios,
        "targets": {
            "cell_added_le_5ms": ours <= CELL_TARGET_MS,
            "cell_10x_less_than_mlflow": {k: v >= RATIO_TARGET for k, v in cell_ratios.items()},
            "throughput_ge_100k": rate >= THROUGHPUT_TARGET,
            "throughput_10x_mlflow_best": {k: v >= RATIO_TARGET for k, v in tp_ratios.items()},
        },
    }


def _ratios(ratios: dict[str, float]) -> str:
    return ", ".join(f"{label} {r:.1f}x {met(r >= RATIO_TARGET)}" for label, r in ratios.items())


def header(env: dict[str, Any]) -> str:
    """The first line of the table: versions and machine."""
    return (
        f"jupyter_mltrack {env['jupyter_mltrack']} ({env['git_commit']}"
        + (f", package diff {env['package_diff_sha256']}" if env.get("package_diff_sha256") else "")
        + f") vs MLflow {env['mlflow']}"
        f" | Python {env['python']}, IPython {env['ipython']}, SQLAlchemy {env['sqlalchemy']},"
        f" SQLite {env['sqlite']} | {env['cpu_count']} CPUs, {env['cpu'] or env['platform']}"
        + (
            " | bytecode written first, as pip does at install"
            if "modules_byte_compiled_first" in env
            else ""
        )
    )


def report(
    cells: dict[str, Any],
    tp: dict[str, Any],
    scaling: dict[str, Any],
    s: dict[str, Any],
    params: dict[str, Any],
) -> list[str]:
    """Sections 1-3 of the table (tracking overhead vs MLflow)."""
    lines = [
        f"1. Tracked cell: InteractiveShell.run_cell wall time, ms"
        f" ({params['reps']} reps ours, {params['mlflow_reps']} MLflow, interleaved;"
        f" warm-up {params['warmup']}/{params['mlflow_warmup']} excluded)",
        f"   {'variant':<54}{'median':>8}{'p90':>8}{'added':>8}{'+p90':>8}",
    ]
    rows = [
        ("untracked", "untracked cell (10 params, 5 metrics as variables)"),
        ("mltrack", "%%track + 5 mltrack.log_metric [WAL, sync=NORMAL]"),
        ("mltrack_full", "%%track + 5 mltrack.log_metric [sync=FULL]"),
        ("mlflow", "MLflow run, log_params, 5 log_metric [rollback, FULL]"),
        ("mlflow_wal_normal", "MLflow run, log_params, 5 log_metric [WAL, NORMAL]"),
        ("untracked_no_log", "diagnostic, execution log off: untracked cell"),
        ("mltrack_no_log", "diagnostic, execution log off: %%track [WAL, NORMAL]"),
    ]
    for key, label in rows:
        r = cells[key]
        if "added_median_ms" in r:
            added = f"{r['added_median_ms']:8.2f}{r['added_p90_ms']:8.2f}"
        else:
            added = f"{'-':>8}{'-':>8}"
        lines.append(f"   {label:<54}{r['median_ms']:8.2f}{r['p90_ms']:8.2f}{added}")
    if "untracked_no_log" in cells:
        log_untracked = cells["untracked"]["median_ms"] - cells["untracked_no_log"]["median_ms"]
        log_tracked = cells["mltrack"]["median_ms"] - cells["mltrack_no_log"]["median_ms"]
        lines.append(
            "   (diagnostic rows: the execution log's hooks unregistered; their 'added' is vs the"
            f" untracked cell with the log off too. The log adds {log_untracked:.2f} ms to the"
            f" untracked cell, {log_tracked:.2f} ms to the tracked one)"
        )
    lines += [
        f"   target <= {CELL_TARGET_MS:g} ms added: {s['cell_added_ms']:.2f} ms"
        f" {met(s['targets']['cell_added_le_5ms'])}",
        f"   target >= {RATIO_TARGET:g}x less than MLflow: {_ratios(s['cell_ratios'])}",
        "",
        "2. Metric throughput: values/s committed to SQLite (first call to end of run)",
        f"   {'variant':<66}{'values/s':>12}",
    ]
    tp_rows = [
        ("mltrack", "mltrack.log_metric x{n:,} + end_run [WAL, sync=NORMAL]"),
        ("mltrack_full", "mltrack.log_metric x{n:,} + end_run [sync=FULL]"),
        ("mlflow_log_metric", "MLflow log_metric x{n:,}, extrapolated [rollback, FULL]"),
        ("mlflow_log_batch", "MLflow log_batch, 1,000 per call, x{n:,} [rollback, FULL]"),
        ("mlflow_log_metric_wal_normal", "MLflow log_metric x{n:,}, extrapolated [WAL, NORMAL]"),
        ("mlflow_log_batch_wal_normal", "MLflow log_batch, 1,000 per call, x{n:,} [WAL, NORMAL]"),
    ]
    for key, label in tp_rows:
        r = tp[key]
        lines.append(f"   {label.format(n=r['values']):<66}{r['values_per_s']:12,.0f}")
    lines += [
        f"   target >= {THROUGHPUT_TARGET:,.0f} values/s: {s['throughput_values_per_s']:,.0f}"
        f" {met(s['targets']['throughput_ge_100k'])}",
        f"   target >= {RATIO_TARGET:g}x MLflow's best: {_ratios(s['throughput_ratios'])}",
        "",
        "3. Run card's best-run query (Store.best_run) vs runs in the experiment",
        "   "
        + ", ".join(
            f"{v['runs']:,} runs {v['best_run_median_ms']:.2f} ms" for v in scaling.values()
        ),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, few repetitions (smoke run)"
    )
    parser.add_argument(
        "--only",
        choices=[
            "tracking",
            "snapshots",
            "log",
            "export",
            "compare",
            "coldstart",
            "concurrency",
            "search",
            "artifacts",
            "sweeps",
            "sharing",
        ],
        default=None,
        help="run one part only: tracking (sections 1-3), snapshots (section 4), log (section 5:"
        " the execution log's overhead per cell) or export (section 6: export of a 200-cell"
        " notebook) or compare (section 7: comparing runs against MLflow and Optuna) or coldstart"
        " (section 8: a fresh kernel's load_ext and first tracked cells against MLflow) or"
        " concurrency (section 9: 8 processes tracking at once while a server lists runs, on"
        " SQLite and PostgreSQL, against MLflow) or search (section 10: filtered, sorted,"
        " grouped and polled run lists at 10,000 and 100,000 runs against MLflow's"
        " search_runs; the stores are built once and cached in bench/.cache) or artifacts"
        " (section 11: a 1,000-file folder, a 200 MB file and 200 MB models logged and read"
        " back, against MLflow's log_artifact(s), log_model and load_model; the folder and"
        " the file again on an S3 server, moto's) or sweeps (section 12: a sweep's per-trial"
        " overhead against Optuna with MLflowCallback, and the speed-up of 2 jobs over 1) or"
        " sharing (section 13: 1,000 runs and a 1 GiB dataset pushed to a PostgreSQL + S3 team"
        " store, against MLflow's client copying runs and quilt3 pushing the dataset);"
        " the JSON then goes to bench/results/{latest,quick}-<part>.json",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write the JSON (default bench/results/latest.json; quick runs:"
        " bench/results/quick.json)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temp directory of stores, notebooks and exports (deleted by default)",
    )
    args = parser.parse_args(argv)
    params = QUICK if args.quick else FULL
    name = "quick" if args.quick else "latest"
    if args.only:
        name += "-" + args.only
    output = args.output or REPO / "bench" / "results" / f"{name}.json"
    tracking = args.only in (None, "tracking")
    snapshot_part = args.only in (None, "snapshots")
    log_part = args.only in (None, "log")
    export_part = args.only in (None, "export")
    compare_part = args.only in (None, "compare")
    coldstart_part = args.only in (None, "coldstart")
    concurrency_part = args.only in (None, "concurrency")
    search_part = args.only in (None, "search")
    artifacts_part = args.only in (None, "artifacts")
    sweeps_part = args.only in (None, "sweeps")
    sharing_part = args.only in (None, "sharing")

    root = isolate()
    started = time.time()
    t0 = time.perf_counter()
    compiled = byte_compile_package()  # before anything starts a process that imports it
    env = {**environment(), "modules_byte_compiled_first": compiled}
    print(f"benchmarking in {root} ({'quick' if args.quick else 'full'} run)...", flush=True)
    command = "python -m bench" + (" --quick" if args.quick else "")
    command += f" --only {args.only}" if args.only else ""
    result: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "command": command,
        "quick": args.quick,
        "duration_s": None,
        "environment": env,
        "parameters": params,
    }
    lines = [header(env)]

    if tracking:
        from bench.cells import bench_cells
        from bench.scaling import bench_card_query
        from bench.throughput import bench_mlflow, bench_mltrack

        load_before = _loadavg()
        cells = bench_cells(
            root, params["reps"], params["mlflow_reps"], params["warmup"], params["mlflow_warmup"]
        )
        tp = bench_mltrack(root, params["values"], params["repeats"])
        tp.update(
            bench_mlflow(cells["mlflow_setup"], params["mlflow_per_call"], params["mlflow_batch"])
        )
        scaling = bench_card_query(root, params["scaling_sizes"])
        s = summarise(cells, tp)
        load = {"before": load_before, "after": _loadavg()}
        lines += ["", *report(cells, tp, scaling, s, params), _load_line(load)]
        result.update(
            {
                "tracking_loadavg": load,
                "cell_overhead": {k: v for k, v in cells.items() if k != "mlflow_setup"},
                "throughput": tp,
                "card_query_scaling": scaling,
                "summary": s,
            }
        )
        print("\n".join(lines), flush=True)
    else:
        print(lines[0], flush=True)

    if snapshot_part:
        print("\nsection 4 (dataset snapshots) running...", flush=True)
        snap = snapshots.bench_snapshots(params["snapshots"])
        _add(lines, ["", *snapshots.report(snap)])
        result["snapshots"] = snap

    if log_part:
        result["execution_log"] = _section(
            "5 (execution log overhead, real kernels)",
            lambda: log_overhead.bench_log(root, params["log"]["reps"], params["log"]["warmup"]),
            log_overhead.report,
            lines,
        )

    if export_part:

        def export_with_targets() -> dict[str, Any]:
            exp = export_speed.bench_export(root, params["export"])
            exp["targets"] = export_speed.targets(exp)
            return exp

        result["export"] = _section(
            "6 (export of a 200-cell notebook)", export_with_targets, export_speed.report, lines
        )

    if compare_part:
        result["compare"] = _section(
            "7 (comparing runs, against MLflow and Optuna)",
            lambda: compare_speed.bench_compare(root / "compare", params["compare"]),
            compare_speed.report,
            lines,
        )

    if coldstart_part:
        result["coldstart"] = _section(
            "8 (cold start: fresh kernels, a real scikit-learn cell)",
            lambda: coldstart.bench_coldstart(root, params["coldstart"]),
            coldstart.report,
            lines,
        )

    if concurrency_part:
        result["concurrency"] = _section(
            "9 (concurrent writers and a reader, SQLite and PostgreSQL)",
            lambda: concurrency.bench_concurrency(root / "concurrency", params["concurrency"]),
            concurrency.report,
            lines,
        )

    if search_part:
        result["search"] = _section(
            "10 (runs at scale: 10,000 and 100,000 runs, against MLflow)",
            lambda: search.bench_search(root / "search", params["search"]),
            search.report,
            lines,
        )

    if artifacts_part:
        result["artifacts"] = _section(
            "11 (artifacts and models, against MLflow)",
            lambda: artifacts.bench_artifacts(root / "artifacts", params["artifacts"]),
            artifacts.report,
            lines,
        )

    if sweeps_part:
        result["sweeps"] = _section(
            "12 (sweeps, against Optuna with MLflow's callback)",
            lambda: sweeps.bench_sweeps(root / "sweeps", params["sweeps"]),
            sweeps.report,
            lines,
        )

    if sharing_part:
        missing = sharing.available()
        if missing:
            _add(lines, ["", f"13. Sharing (issue 16): skipped, {missing}"])
        else:
            result["sharing"] = _section(
                "13 (sharing: push to a team store, against MLflow and quilt3)",
                lambda: sharing.bench_sharing(root / "sharing", params["sharing"]),
                sharing.report,
                lines,
            )

    result["duration_s"] = time.perf_counter() - t0
    result["table"] = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, default=_json_default) + "\n")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\nwrote {output.relative_to(REPO) if output.is_relative_to(REPO) else output}"
        f" in {result['duration_s']:.0f} s"
    )
    return 0


def _add(lines: list[str], added: list[str]) -> None:
    """Add a section's lines to the table and print them now (a long run shows progress)."""
    lines += added
    print("\n".join(added), flush=True)


def _section(
    title: str,
    run: Callable[[], dict[str, Any]],
    report_of: Callable[[dict[str, Any]], list[str]],
    lines: list[str],
) -> dict[str, Any]:
    """Run one section: its figures, with the load average before and after it (the
    machine is shared), and its report added to ``lines``."""
    print(f"\nsection {title} running...", flush=True)
    before = _loadavg()
    found = run()
    found["loadavg"] = {"before": before, "after": _loadavg()}
    _add(lines, ["", *report_of(found), _load_line(found["loadavg"])])
    return found


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _load_line(load: dict[str, Any]) -> str:
    def fmt(v: list[float] | None) -> str:
        return "/".join(f"{x:.2f}" for x in v) if v else "?"

    return f"   load average before {fmt(load['before'])}, after {fmt(load['after'])}"


def _json_default(value: Any) -> Any:
    """numpy scalars and other stragglers in the results."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
