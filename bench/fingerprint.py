"""Standalone benchmark: fingerprint a 1 GiB numeric DataFrame, vs ``hash_pandas_object``.

Run: ``python bench/fingerprint.py [--rows N] [--repeat R]``. Not part of ``python -m bench``.

Prints the median time of ``fingerprint_frame`` and of
``pandas.util.hash_pandas_object(df, index=True).sum()`` (pandas' closest built-in: a uint64
per row, reduced to one number; not exact, not block-structured), their GiB/s and ratio, then
shows which blocks change after a 1-column edit and after a 1% append.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mltrack.snapshots.fingerprint import BLOCK_ROWS, fingerprint_frame  # noqa: E402

GIB = 1024**3


def build(rows: int, seed: int = 0) -> pd.DataFrame:
    """16 columns, 8 int64 + 8 float64 (with a few NaNs): 1 GiB at 8,388,608 rows."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    for k in range(8):
        cols[f"i{k}"] = rng.integers(-(2**40), 2**40, rows, dtype=np.int64)
    for k in range(8):
        f = rng.random(rows)
        f[rng.integers(0, rows, 100)] = np.nan
        cols[f"f{k}"] = f
    return pd.DataFrame(cols)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def changed_blocks(a: Any, b: Any, names: list[str]) -> dict[str, list[int]]:
    out = {}
    for name, x, y in zip(names, a.columns + a.index, b.columns + b.index, strict=True):
        diff = [k for k in range(max(len(x), len(y))) if k >= len(x) or k >= len(y) or x[k] != y[k]]
        if diff:
            out[name] = diff
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8_388_608)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    df = build(args.rows)
    size = df.memory_usage(index=False, deep=False).sum()
    print(f"frame: {len(df):,} rows x {df.shape[1]} cols = {size / GIB:.3f} GiB, B={BLOCK_ROWS:,}")

    t_fp, all_fp, fp = timed(lambda: fingerprint_frame(df), args.repeat)
    print(
        f"fingerprint_frame:           median {t_fp:.3f} s  ({size / GIB / t_fp:.2f} GiB/s)  "
        f"runs {[round(t, 3) for t in all_fp]}"
    )
    print(f"  digest {fp.digest}, {sum(len(c) for c in fp.columns)} column blocks")
    t_hp, all_hp, total = timed(
        lambda: pd.util.hash_pandas_object(df, index=True).sum(), args.repeat
    )
    print(
        f"hash_pandas_object(...).sum: median {t_hp:.3f} s  ({size / GIB / t_hp:.2f} GiB/s)  "
        f"runs {[round(t, 3) for t in all_hp]}"
    )
    print(f"ratio hash_pandas_object / fingerprint_frame = {t_hp / t_fp:.1f}x")
    print(f"target <= 0.15 s: {'met' if t_fp <= 0.15 else 'NOT met'}")

    names = list(df.columns) + ["<index>"]
    edited = df.copy()
    edited["f3"] = edited["f3"] * 1.0000001  # every value of one column
    print(
        "edit all of column f3 ->",
        {k: len(v) for k, v in changed_blocks(fp, fingerprint_frame(edited), names).items()},
        "blocks changed",
    )
    del edited
    one = df.copy()
    one.iloc[len(df) // 2, df.columns.get_loc("i5")] += 1
    print("edit one value of i5 ->", changed_blocks(fp, fingerprint_frame(one), names))
    del one
    extra = build(len(df) // 100, seed=1)
    appended = pd.concat([df, extra], ignore_index=True)
    diff = changed_blocks(fp, fingerprint_frame(appended), names)
    n_old = len(fp.columns[0])
    kept = min(v[0] for v in diff.values())
    print(
        f"append 1% ({len(extra):,} rows) -> blocks changed or added per column "
        f"{sorted({tuple(v) for v in diff.values()})}; the first {kept} of {n_old} blocks "
        f"are unchanged in all {len(diff)} columns + index"
    )


if __name__ == "__main__":
    main()
