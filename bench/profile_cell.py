"""What ``%%track`` itself costs a later cell, without a long fit around it (a diagnostic
beside benchmark 8; not part of ``make bench``, figures not saved)::

    python -m bench.profile_cell            # 60 rounds, about a minute
    python -m bench.profile_cell --rounds 200

Benchmark 8 times a 0.28 s random-forest cell, whose own time wanders by several ms from
one round to the next; the tracker's share is hard to see under it. Here one fresh kernel
(as benchmark 8 starts them) runs a cell that does real tracked work but little else —
``accuracy_score`` of a fitted forest's predictions, reading three arrays and one model, so
the run is created, its inputs linked, autolog's session opened and its metric recorded —
untracked, under ``%%track`` and under ``%%track --no-autolog``, interleaved, with the
order of the three reversed every other round. Reported: the median of each round's
tracked cell minus the untracked one beside it, wall (ipykernel's own clock) and main-thread
CPU (benchmark 8's pre-run hook).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.coldstart import CPU, HOOK, SETUP
from bench.kernel import BenchKernel

#: A forest fitted once, before any timed round.
FIT = "clf = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_train, y_train)"
#: The timed cell.
CELL = "acc = accuracy_score(y_test, clf.predict(X_test))\n"
KINDS = {"untracked": CELL, "tracked": "%%track\n" + CELL}
KINDS["tracked, --no-autolog"] = "%%track --no-autolog\n" + CELL


def measure(rounds: int) -> dict[str, dict[str, float]]:
    """Per kind: median wall and CPU (ms), and for the tracked kinds the paired medians."""
    root = Path(tempfile.mkdtemp(prefix="mltrack-profile-cell-"))
    single = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    kernel = BenchKernel(
        root, notebook="cell.ipynb", root=root, home=root / "home", extra_env=single
    )
    times: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
    try:
        for code in (HOOK, "%load_ext jupyter_mltrack", SETUP, FIT):
            kernel.ok(code)
        for _ in range(3):  # the statements' first compilation, outside the rounds
            kernel.ok(KINDS["tracked"])
        time.sleep(1.0)
        order = list(KINDS)
        for i in range(rounds):
            for kind in order if i % 2 == 0 else order[::-1]:
                result = kernel.ok(KINDS[kind], user_expressions=CPU)
                cpu = float(result["reply"]["user_expressions"]["cpu"]["data"]["text/plain"])
                times[kind].append((result["kernel_ms"], cpu))
    finally:
        kernel.stop()
    out: dict[str, dict[str, float]] = {}
    for kind, values in times.items():
        entry = {
            "wall_ms": statistics.median(w for w, _ in values),
            "cpu_ms": statistics.median(c for _, c in values),
        }
        if kind != "untracked":
            pairs = list(zip(values, times["untracked"], strict=True))
            entry["added_wall_ms"] = statistics.median(a[0] - b[0] for a, b in pairs)
            entry["added_cpu_ms"] = statistics.median(a[1] - b[1] for a, b in pairs)
        out[kind] = entry
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_cell")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    results = measure(args.rounds)
    print(f"one kernel, {args.rounds} interleaved rounds; cell: {CELL.strip()}")
    for kind, entry in results.items():
        line = f"  {kind:<24} wall {entry['wall_ms']:6.2f} ms  CPU {entry['cpu_ms']:6.2f} ms"
        if "added_wall_ms" in entry:
            line += (
                f"   added (paired): wall {entry['added_wall_ms']:+.2f} ms,"
                f" CPU {entry['added_cpu_ms']:+.2f} ms"
            )
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
