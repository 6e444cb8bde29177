"""Benchmark 5: what the execution log adds to every cell, in real kernels (issue 5).

Two ``python3`` kernels are started with jupyter_client, as JupyterLab starts them. Kernel
**A** never loads the extension; kernel **B** runs ``%load_ext jupyter_mltrack`` first, which
starts the execution log (no ``%%track`` anywhere, except the one informational row). Both
run the same setup (numpy, pandas, a 20,000-row DataFrame, a 300x300 matrix: with numpy
imported, the log hashes its global RNG at every statement), then the same cells,
interleaved cell by cell and alternating which kernel goes first.

Each cell is timed twice inside the kernel:

* **wall**, from ipykernel picking up the execute request to its reply (see
  :mod:`bench.kernel`): what the cell costs the kernel, log included; in B it also waits for
  the log's record of the cell to be written (see ``SETTLE``), as cells run back to back do;
* **CPU** of the kernel's main thread (``time.thread_time``) from a ``pre_run_cell`` hook
  registered before the log's to a ``post_run_cell`` hook registered after the log's (read
  back through the request's ``user_expressions``): the log's work in the cell, without the
  kernel's messaging and without the writer thread. Steadier than the wall time when other
  processes share the machine, though not immune: on this VM the same code's CPU time moves
  by up to half when the host is busy, which the interleaving spreads over A and B alike.

The kernel process's CPU over all its threads is also taken from one cell to the next (the
writer thread included); it is saved in the JSON (``cpu_process_*``, /proc's 10 ms ticks
averaged over the repetitions; numpy's BLAS threads make it noisy after the numpy cell).

Budget (issue 5): added <= 2 ms + 10% of the cell's time without the extension (medians).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.cells import PLAIN, TRACKED
from bench.common import stats

FIXED_MS = 2.0
RELATIVE = 0.10
FULL = {"reps": 100, "warmup": 10}
QUICK = {"reps": 10, "warmup": 2}

SETUP = """\
import numpy as np
import pandas as pd
rng = np.random.default_rng(0)
frame = pd.DataFrame(
    {"k": rng.integers(0, 50, 20_000), "a": rng.standard_normal(20_000), "b": rng.random(20_000)}
)
mat = rng.standard_normal((300, 300))
"""

LOOP_IF = """\
total = 0
others = 0
for i in range(100_000):
    if i % 3 == 0:
        total += i
    else:
        others += 1
"""

#: (key, label, code). Every cell is run as is in both kernels.
CELLS: list[tuple[str, str, str]] = [
    ("one", "one assignment (x = 1)", "x = 1\n"),
    ("assign", "15 assignments (section 1's untracked cell)", PLAIN),
    (
        "pandas",
        "pandas: groupby/agg, assign, filter, describe (4 stmts)",
        'grouped = frame.groupby("k")["a"].agg(["mean", "std", "count"])\n'
        'frame2 = frame.assign(c=frame["a"] * frame["b"])\n'
        'frame2 = frame2[frame2["c"] > 0]\n'
        "summary = frame2.describe()\n",
    ),
    (
        "numpy",
        "numpy: 300x300 matmul, norms, sort (4 stmts)",
        "cov = mat @ mat.T\n"
        "norms = np.linalg.norm(cov, axis=0)\n"
        "scaled = cov / norms\n"
        "top = np.sort(scaled.ravel())[-10:]\n",
    ),
    (
        "function",
        "def + call, 10k-iteration loop with if inside the def",
        "def clipped_mean(xs, lo, hi):\n"
        "    total = 0.0\n"
        "    n = 0\n"
        "    for x in xs:\n"
        "        if lo <= x <= hi:\n"
        "            total += x\n"
        "            n += 1\n"
        "    return total / max(n, 1)\n"
        "value = clipped_mean(range(-5_000, 5_000), -1_000, 1_000)\n",
    ),
    ("loop_if", "top-level loop, 100k iterations, if/else inside", LOOP_IF),
    (
        "print",
        "prints 20 lines, displays frame.head()",
        "for epoch in range(20):\n"
        '    print(f"epoch {epoch:2d}  loss {1 / (epoch + 1):.4f}")\n'
        "frame.head()\n",
    ),
]
BUDGETED = [key for key, _, _ in CELLS]

#: Diagnostic, kernel A only: the loop with a branch marker in each branch, as the log
#: would mark it if it marked branches inside loops (it does not; this row says why).
MARKER_SETUP = "__mltrack_taken__ = set().add\n"  # for profile_log's older-marker row


def loop_if_marked() -> str:
    """``LOOP_IF`` with the log's own branch marker (:func:`history._taken`) at the start of
    each branch of its ``if``: the cost one would add on every pass of the loop."""
    import ast

    from jupyter_mltrack.capture import history

    tree = ast.parse(LOOP_IF)
    for node in list(ast.walk(tree)):
        if isinstance(node, ast.If):
            prefix = history.BRANCH_PREFIX
            node.body.insert(0, history._taken(f"{prefix}0_0_0__", node.body[0]))
            if node.orelse:
                node.orelse.insert(0, history._taken(f"{prefix}0_0_1__", node.orelse[0]))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _ok(flag: bool) -> str:
    return "PASS" if flag else "FAIL"


#: Timing hooks, the same in both kernels: the pre hook is registered before
#: ``%load_ext jupyter_mltrack`` (so it runs before the log's), the post hook after it.
HOOK_PRE = """\
import time as __bench_time
__bench_last__ = None
def __bench_pre(info):
    global __bench_t
    __bench_t = (__bench_time.perf_counter(), __bench_time.thread_time())
get_ipython().events.register("pre_run_cell", __bench_pre)
"""
HOOK_POST = """\
def __bench_post(result):
    global __bench_last__
    wall, cpu = __bench_t
    __bench_last__ = (__bench_time.perf_counter() - wall, __bench_time.thread_time() - cpu)
get_ipython().events.register("post_run_cell", __bench_post)
"""
HOOKED = {"hooked": "__bench_last__"}
#: Kernel B only: after the cell, wait until the log has written its record (it does so on a
#: thread of its own; the kernel waits for it before the next cell). User expressions are
#: evaluated before the reply, so B's wall time includes the write, as when cells run back to
#: back (Run All); the CPU column (hooks) does not see the writer thread.
SETTLE = """\
def __bench_settle():
    from jupyter_mltrack.capture import history
    log = history._logs.get(get_ipython())
    started = __bench_time.perf_counter()
    if log is not None and hasattr(log, "settle"):
        log.settle()
    return (__bench_time.perf_counter() - started) * 1e3
"""
SETTLED = {**HOOKED, "settled": "__bench_settle()"}


def _hooked(result: dict[str, Any]) -> tuple[float, float]:
    """(wall, CPU) in ms between the timing hooks."""
    import ast

    value = result["reply"]["user_expressions"]["hooked"]
    wall, cpu = ast.literal_eval(value["data"]["text/plain"])
    return wall * 1e3, cpu * 1e3


def budget_ms(base_ms: float) -> float:
    return FIXED_MS + RELATIVE * base_ms


def bench_log(root: Path, reps: int, warmup: int) -> dict[str, Any]:
    from bench.kernel import BenchKernel
    from jupyter_mltrack.store import Store

    (root / "log-a").mkdir()
    (root / "log-b").mkdir()
    home = root / "log-store"  # a store of its own (section 1 logs into the default one)
    # One BLAS thread per kernel: after the numpy cell, OpenBLAS's idle threads spin for a
    # while, and on a small machine one kernel's spinning took the CPU from the other
    # kernel's next cell (up to 3 ms of wall on the def + call cell that follows it).
    single = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    a = BenchKernel(root / "log-a", home=home, stderr=root / "log-a.stderr", extra_env=single)
    b = BenchKernel(root / "log-b", home=home, stderr=root / "log-b.stderr", extra_env=single)
    try:
        for k in (a, b):
            k.ok(HOOK_PRE)
        b.ok("%load_ext jupyter_mltrack")
        b.ok(SETTLE)
        for k in (a, b):
            k.ok(HOOK_POST)
            k.ok(SETUP)
        a.ok(MARKER_SETUP)
        marked_loop = loop_if_marked()
        rows = CELLS + [("tracked", "", "")]
        keys = [key for key, _, _ in rows] + ["marked"]
        series = ("kernel", "roundtrip", "hook_wall", "hook_cpu", "settle")
        ms: dict[str, dict[str, dict[str, list[float]]]] = {
            name: {k: {"a": [], "b": []} for k in keys} for name in series
        }
        cpu_s: dict[str, dict[str, float]] = {k: {"a": 0.0, "b": 0.0} for k in keys}
        kernels = {"a": a, "b": b}
        b_cells = 4  # the log records %load_ext's cell, then the settle, post hook, setup cells
        #: per kernel: the measured cell whose CPU span is open, and the CPU time it began at
        open_span: dict[str, tuple[str, float] | None] = {"a": None, "b": None}

        def close_span(side: str) -> float:
            now = kernels[side].cpu_seconds()
            span = open_span[side]
            if span is not None:
                # from the start of the kernel's previous cell to now: that cell, its reply
                # and any background work it left behind
                cpu_s[span[0]][side] += now - span[1]
            return now

        def run(side: str, key: str, code: str, measured: bool) -> None:
            nonlocal b_cells
            now = close_span(side)
            open_span[side] = (key, now) if measured else None
            result = kernels[side].ok(code, user_expressions=SETTLED if side == "b" else HOOKED)
            b_cells += side == "b"
            if measured:
                hook_wall, hook_cpu = _hooked(result)
                if side == "b":  # how long B waited for its record to be written
                    settled = result["reply"]["user_expressions"]["settled"]
                    ms["settle"][key][side].append(float(settled["data"]["text/plain"]))
                ms["kernel"][key][side].append(result["kernel_ms"])
                ms["roundtrip"][key][side].append(result["roundtrip_ms"])
                ms["hook_wall"][key][side].append(hook_wall)
                ms["hook_cpu"][key][side].append(hook_cpu)

        started = time.time()
        for rep in range(warmup + reps):
            measured = rep >= warmup
            order = ("a", "b") if rep % 2 == 0 else ("b", "a")
            for key, _, code in CELLS:
                for side in order:
                    run(side, key, code, measured)
            run("a", "marked", marked_loop, measured)  # diagnostic, A only
        # Informational, after the budgeted cells: section 1's %%track cell in B, its plain
        # version in A. A tracked run leaves work to B's background threads (environment and
        # git refreshed at most once a second, the run's end): interleaved with the cells
        # above, it would take the GIL from them and count against the log.
        time.sleep(0.5)
        for rep in range(warmup + reps):
            order = ("a", "b") if rep % 2 == 0 else ("b", "a")
            for side in order:
                run(side, "tracked", PLAIN if side == "a" else TRACKED, rep >= warmup)
        time.sleep(0.5)  # the last cells' background work, if any
        for side in ("a", "b"):
            close_span(side)
        duration = time.time() - started
        check = _check_log(Store(f"sqlite:///{home / 'mltrack.db'}"), b_cells)
    finally:
        a.stop()
        b.stop()

    out: dict[str, Any] = {"cells": {}, "reps": reps, "warmup": warmup, "duration_s": duration}
    med = statistics.median
    for key, label, _code in rows:
        base = stats([t / 1e3 for t in ms["kernel"][key]["a"]])
        withlog = stats([t / 1e3 for t in ms["kernel"][key]["b"]])
        added = withlog["median_ms"] - base["median_ms"]
        # B as if its cells were run one at a time, with a pause for the write between them
        paced = stats(
            [
                (t - w) / 1e3
                for t, w in zip(ms["kernel"][key]["b"], ms["settle"][key]["b"], strict=True)
            ]
        )
        cpu_a, cpu_b = med(ms["hook_cpu"][key]["a"]), med(ms["hook_cpu"][key]["b"])
        entry = {
            "label": label or "%%track + 5 log_metric (section 1's cell) vs it untracked",
            "baseline": base,
            "with_log": withlog,
            "added_ms": added,
            "added_pct": 100 * added / base["median_ms"],
            "added_p90_ms": withlog["p90_ms"] - base["p90_ms"],
            "settle_median_ms": med(ms["settle"][key]["b"]),
            "with_log_paced": paced,
            "added_paced_ms": paced["median_ms"] - base["median_ms"],
            "roundtrip_baseline_median_ms": med(ms["roundtrip"][key]["a"]),
            "roundtrip_with_log_median_ms": med(ms["roundtrip"][key]["b"]),
            "hook_wall_baseline_median_ms": med(ms["hook_wall"][key]["a"]),
            "hook_wall_with_log_median_ms": med(ms["hook_wall"][key]["b"]),
            "cpu_baseline_median_ms": cpu_a,
            "cpu_with_log_median_ms": cpu_b,
            "cpu_added_ms": cpu_b - cpu_a,
            "cpu_added_pct": 100 * (cpu_b - cpu_a) / cpu_a,
            # the kernel process, all threads, from this cell to the next (10 ms ticks)
            "cpu_process_baseline_ms": 1e3 * cpu_s[key]["a"] / reps,
            "cpu_process_with_log_ms": 1e3 * cpu_s[key]["b"] / reps,
        }
        entry["cpu_process_added_ms"] = (
            entry["cpu_process_with_log_ms"] - entry["cpu_process_baseline_ms"]
        )
        if key in BUDGETED:
            entry["budget_ms"] = budget_ms(base["median_ms"])
            entry["within_budget"] = added <= entry["budget_ms"]
            entry["paced_within_budget"] = entry["added_paced_ms"] <= entry["budget_ms"]
            entry["cpu_budget_ms"] = budget_ms(cpu_a)
            entry["cpu_within_budget"] = entry["cpu_added_ms"] <= entry["cpu_budget_ms"]
        out["cells"][key] = entry
    loop = out["cells"]["loop_if"]
    marked_wall = med(ms["kernel"]["marked"]["a"]) - loop["baseline"]["median_ms"]
    marked_cpu = med(ms["hook_cpu"]["marked"]["a"]) - loop["cpu_baseline_median_ms"]
    out["markers"] = {
        "loop_if_hand_marked_median_ms": med(ms["kernel"]["marked"]["a"]),
        "loop_if_hand_marked_cpu_median_ms": med(ms["hook_cpu"]["marked"]["a"]),
        "branch_executions": 100_000,
        "added_ms": marked_wall,
        "cpu_added_ms": marked_cpu,
        "ns_per_branch": marked_cpu * 1e6 / 100_000,
        "share_of_log_cpu_added": marked_cpu / loop["cpu_added_ms"]
        if loop["cpu_added_ms"] > 0
        else None,
        "pct_of_loop_cpu": 100 * marked_cpu / loop["cpu_baseline_median_ms"],
    }
    out["log_check"] = check
    out["all_within_budget"] = all(out["cells"][k]["within_budget"] for k in BUDGETED)
    out["all_cpu_within_budget"] = all(out["cells"][k]["cpu_within_budget"] for k in BUDGETED)
    out["all_paced_within_budget"] = all(out["cells"][k]["paced_within_budget"] for k in BUDGETED)
    return out


def _check_log(store: Any, expected: int, timeout: float = 60.0) -> dict[str, Any]:
    """Kernel B's log holds every cell it ran (written in the background), with no branch
    marked inside the loop (by design); kernel A logged nothing."""
    deadline = time.monotonic() + timeout
    while True:
        sessions = store.sessions(None, limit=5)
        logged = sum(s.executions for s in sessions)
        if logged >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(sessions) == 1, sessions  # kernel B's; A never loaded the extension
    assert logged == expected, (logged, expected)
    executions = store.executions(sessions[0].session_id)
    loops = [e for e in executions if e.source.startswith("total = 0")]
    branches = loops[-1].facts["statements"][2].get("branches")
    assert branches is None, branches  # the log marks no branch inside a loop
    return {"sessions": len(sessions), "executions": logged, "loop_branches": branches}


def report(r: dict[str, Any]) -> list[str]:
    lines = [
        "5. Execution log: time per cell in a real kernel, ms, without the extension (A) vs"
        " with %load_ext jupyter_mltrack (B)",
        f"   ({r['reps']} reps per cell and kernel, interleaved, warm-up {r['warmup']} excluded;"
        " medians; budget = 2 ms + 10% of A; wall = ipykernel request to reply, B's until its log"
        " record is written (cells back to back); 1-by-1 = B's added wall without that wait"
        " (cells run one at a time, the write done in between); CPU = kernel main thread"
        " between pre/post-run hooks)",
        f"   {'cell':<56}{'wall A':>8}{'B':>8}{'added':>8}{'%':>6}{'budget':>8}{'':>6}"
        f"{'1-by-1':>8}{'':>6}{'CPU A':>8}{'B':>8}{'added':>8}{'%':>6}{'budget':>8}",
    ]
    for key, e in r["cells"].items():
        if key not in BUDGETED:
            continue
        lines.append(
            f"   {e['label']:<56}{e['baseline']['median_ms']:8.2f}"
            f"{e['with_log']['median_ms']:8.2f}{e['added_ms']:8.2f}{e['added_pct']:5.0f}%"
            f"{e['budget_ms']:8.2f}  {_ok(e['within_budget']):<4}"
            f"{e['added_paced_ms']:8.2f}  {_ok(e['paced_within_budget']):<4}"
            f"{e['cpu_baseline_median_ms']:8.2f}{e['cpu_with_log_median_ms']:8.2f}"
            f"{e['cpu_added_ms']:8.2f}{e['cpu_added_pct']:5.0f}%{e['cpu_budget_ms']:8.2f}"
            f"  {_ok(e['cpu_within_budget'])}"
        )
    t = r["cells"]["tracked"]
    m = r["markers"]
    share = f"{100 * m['share_of_log_cpu_added']:.0f}%" if m["share_of_log_cpu_added"] else "-"
    lines += [
        f"   {'info: ' + t['label']:<56}{t['baseline']['median_ms']:8.2f}"
        f"{t['with_log']['median_ms']:8.2f}{t['added_ms']:8.2f}{t['added_pct']:5.0f}%{'':>14}"
        f"{t['added_paced_ms']:8.2f}{'':>6}"
        f"{t['cpu_baseline_median_ms']:8.2f}{t['cpu_with_log_median_ms']:8.2f}"
        f"{t['cpu_added_ms']:8.2f}{t['cpu_added_pct']:5.0f}%",
        f"   a branch marker per pass (why the log marks no branch inside a loop; A only):"
        f" CPU +{m['cpu_added_ms']:.2f} ms per 100,000 branch executions ="
        f" {m['ns_per_branch']:.0f} ns each, {m['pct_of_loop_cpu']:.0f}% of the loop's CPU,"
        f" {share} of what the log adds to it (wall +{m['added_ms']:.2f} ms)",
        f"   log check: {r['log_check']['executions']} executions logged by B, none by A;"
        " no branch marked inside the loop (by design)",
        "   B's wait for its record to be written (median, ms): "
        + ", ".join(f"{k} {r['cells'][k]['settle_median_ms']:.2f}" for k in BUDGETED),
        "   budget <= 2 ms + 10% per cell, wall: "
        + ", ".join(f"{k} {_ok(r['cells'][k]['within_budget'])}" for k in BUDGETED),
        "   same, cells run one at a time: "
        + ", ".join(f"{k} {_ok(r['cells'][k]['paced_within_budget'])}" for k in BUDGETED),
        "   same on CPU: "
        + ", ".join(f"{k} {_ok(r['cells'][k]['cpu_within_budget'])}" for k in BUDGETED),
    ]
    return lines


def main() -> int:
    import argparse

    from bench.common import isolate

    parser = argparse.ArgumentParser(prog="python -m bench.log_overhead")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    params = QUICK if args.quick else FULL
    root = isolate()
    r = bench_log(root, params["reps"], params["warmup"])
    print("\n".join(report(r)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
