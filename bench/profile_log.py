"""Where the execution log's time goes, per cell and per statement (a diagnostic beside
benchmark 5; not part of ``make bench``, figures not saved)::

    python -m bench.profile_log            # about a minute
    python -m bench.profile_log --cprofile # plus cProfile of the 15-assignment cell

In one process, with an IPython ``InteractiveShell`` (no ZMQ, so the figures are steadier
than a kernel's): each cell of benchmark 5 is timed with the log off and on, interleaved
(main-thread CPU, min and median of many runs), with what IPython itself charges for the
log's way of marking statements (a call before each top-level statement, an AST
transformer); then, with the log on, the log's functions are wrapped (for the duration of
the run, the package is not changed) to give their time per cell; then the pieces are
timed alone with ``timeit`` (best of 5): the RNG and environment state taken at statement
boundaries (with the ways it was taken before, for comparison), the cell analysis,
IPython's ``fix_missing_locations`` (which it runs only when an AST transformer is
registered), the branch markers (the log's own, and two others for comparison), the write
of a record (made in ``post_run_cell``, before the cell's reply).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import threading
import time
import timeit
from collections import defaultdict
from typing import Any

from bench.log_overhead import CELLS, LOOP_IF, MARKER_SETUP, SETUP, loop_if_marked

#: ``module:attribute`` timed per cell while the log is on (inclusive times); those the
#: package does not have (any more) are skipped.
WRAPPED = [
    "jupyter_mltrack.capture.history:ExecutionLog.pre_run_cell",
    "jupyter_mltrack.capture.history:analyse_cell",
    "jupyter_mltrack.capture.history:_Record.visit",
    # (ExecutionLog.step itself cannot be wrapped: %load_ext binds it into the namespace)
    "jupyter_mltrack.capture.history:_Record.step",
    "jupyter_mltrack.capture.history:_Record._open",
    "jupyter_mltrack.capture.history:_Record._close",
    "jupyter_mltrack.capture.history:_rng_state",
    "jupyter_mltrack.capture.history:_env_state",
    "jupyter_mltrack.capture.history:_numpy_gauss",
    "jupyter_mltrack.capture.history:_identity",
    "jupyter_mltrack.capture.history:_evaluate_chain",
    "jupyter_mltrack.capture.history:_State.now",
    "jupyter_mltrack.capture.history:_Record._gauss_drawn",
    "jupyter_mltrack.capture.history:ExecutionLog.post_run_cell",
    "jupyter_mltrack.capture.history:_Record.close",
    "jupyter_mltrack.capture.history:notebook_path",
    "jupyter_mltrack.capture.history:kernel_id",
    "jupyter_mltrack.capture.history:current_cell_id",
    "jupyter_mltrack.capture.history:branch_points",
    "jupyter_mltrack.capture.api:_submit",
    "jupyter_mltrack.capture.history:ExecutionLog._write",
    "ast:fix_missing_locations",
]


def _resolve(spec: str) -> tuple[Any, str, Any]:
    import importlib

    module_name, _, attr = spec.partition(":")
    owner: Any = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, name, getattr(owner, name)


class Wrapped:
    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.threads: dict[str, set[str]] = defaultdict(set)
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        for spec in WRAPPED:
            try:
                owner, name, fn = _resolve(spec)
            except AttributeError:
                continue
            self._saved.append((owner, name, fn))
            setattr(owner, name, self._wrap(spec.split(":")[1], fn))

    def remove(self) -> None:
        for owner, name, fn in reversed(self._saved):
            setattr(owner, name, fn)
        self._saved.clear()

    def _wrap(self, label: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.totals[label] += time.perf_counter() - t0
                self.calls[label] += 1
                self.threads[label].add(threading.current_thread().name.split("_")[0])

        return timed

    def take(self) -> tuple[dict[str, float], dict[str, int]]:
        out = dict(self.totals), dict(self.calls)
        self.totals.clear()
        self.calls.clear()
        return out


def make_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    return InteractiveShell.instance(config=cfg)


def time_cells(
    shell: Any, reps: int, cells: list[tuple[str, str, str]] = CELLS
) -> dict[str, dict[str, float]]:
    """Main-thread CPU time of ``run_cell`` (steadier than wall time on a shared machine;
    the log does all its work on this thread)."""
    out = {}
    sink = io.StringIO()
    for key, _, code in cells:
        times = []
        with contextlib.redirect_stdout(sink):
            for i in range(reps + 3):
                t0 = time.thread_time()
                result = shell.run_cell(code, store_history=True)
                elapsed = time.thread_time() - t0
                if not result.success:
                    raise RuntimeError(f"{key} failed: {result.error_in_exec!r}")
                if i >= 3:
                    times.append(elapsed * 1e3)
        sink.seek(0)
        sink.truncate()
        out[key] = {"min_ms": min(times), "median_ms": statistics.median(times)}
    return out


def interleaved(shell: Any, reps: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each cell with the log off and on, alternately (so a slower spell of a shared machine
    hits both alike). Off = the log's two hooks unregistered (then no cell is analysed or
    marked); the rest of the extension stays loaded, as it is in both."""
    from jupyter_mltrack.capture import history

    log = history._logs[shell]
    hooks = [("pre_run_cell", log.pre_run_cell), ("post_run_cell", log.post_run_cell)]
    sink = io.StringIO()
    times: dict[str, dict[bool, list[float]]] = {key: {False: [], True: []} for key, _, _ in CELLS}
    with contextlib.redirect_stdout(sink):
        for i in range(reps + 3):
            for key, _, code in CELLS:
                for on in (True, False) if i % 2 else (False, True):
                    if not on:
                        for event, hook in hooks:
                            shell.events.unregister(event, hook)
                    try:
                        t0 = time.thread_time()
                        result = shell.run_cell(code, store_history=True)
                        elapsed = time.thread_time() - t0
                    finally:
                        if not on:
                            for event, hook in hooks:
                                shell.events.register(event, hook)
                    if not result.success:
                        raise RuntimeError(f"{key} failed: {result.error_in_exec!r}")
                    if i >= 3:
                        times[key][on].append(elapsed * 1e3)
            sink.seek(0)
            sink.truncate()

    def summary(on: bool) -> dict[str, Any]:
        return {
            key: {"min_ms": min(t[on]), "median_ms": statistics.median(t[on])}
            for key, t in times.items()
        }

    return summary(False), summary(True)


def ipython_costs(shell: Any, reps: int) -> list[tuple[str, float]]:
    """What IPython itself charges for the log's way of marking statements, without the
    log, on the 15-assignment cell: a no-op AST transformer registered (IPython then runs
    ``ast.fix_missing_locations`` on every cell), and a transformer that puts a call to a
    no-op function before each top-level statement, as the log's does (IPython compiles
    and runs each top-level statement on its own)."""
    plain = CELLS[1][2]
    n = len(ast.parse(plain).body)
    shell.run_cell("def __bench_noop__(i):\n    pass\n")

    class Noop(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            return node

    class Marks(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            if isinstance(node, ast.Module):
                body: list[ast.stmt] = []
                for i, stmt in enumerate(node.body):
                    where = {"lineno": stmt.lineno, "end_lineno": stmt.lineno}
                    where.update(col_offset=0, end_col_offset=0)
                    name = ast.Name("__bench_noop__", ast.Load(), **where)
                    call = ast.Call(name, [ast.Constant(i, **where)], [], **where)
                    body += [ast.Expr(call, **where), stmt]
                node.body = body
            return node

    t = time_cells(shell, reps, [("plain", "", plain)])
    for key, transformer in (("noop", Noop()), ("marks", Marks())):
        shell.ast_transformers.append(transformer)
        try:
            t.update(time_cells(shell, reps, [(key, "", plain)]))
        finally:
            shell.ast_transformers.remove(transformer)
    return [
        (f"IPython: the {n}-assignment cell, no log (median)", t["plain"]["median_ms"] * 1e3),
        (
            "  + a no-op AST transformer registered (fix_missing_locations): added",
            (t["noop"]["median_ms"] - t["plain"]["median_ms"]) * 1e3,
        ),
        (
            f"  + a transformer adding a no-op call before each of its {n} statements: per call",
            (t["marks"]["median_ms"] - t["noop"]["median_ms"]) * 1e3 / n,
        ),
    ]


def best_us(stmt: Any, number: int, g: dict[str, Any] | None = None) -> float:
    timer = timeit.Timer(stmt, globals=g) if isinstance(stmt, str) else timeit.Timer(stmt)
    return min(timer.repeat(5, number)) / number * 1e6


def pieces() -> list[tuple[str, float]]:
    import numpy  # noqa: F401  (imported in the cells: the log hashes its RNG)

    from jupyter_mltrack.capture import history
    from jupyter_mltrack.pipeline.analysis import analyse_cell
    from jupyter_mltrack.store import Store

    out = [
        ("_rng_state() (random + numpy imported), at statement boundaries", history._rng_state),
        ("  for comparison: numpy.random.get_state(legacy=True) + hash", _numpy_state_hash),
        ("  for comparison: random.getstate() + hash", _random_state_hash),
        (
            f"_env_state() ({len(os.environ)} variables), at statement boundaries",
            history._env_state,
        ),
        ("  for comparison: hash of os.environ's decoded items", _env_items_hash),
        ("  for comparison: hash of os.environ._data (bytes, no decoding)", _env_bytes_hash),
        ("os.getcwd() + tuple(sys.path), at statement boundaries", _cwd_path),
    ]
    rows = [(label, best_us(fn, 2000)) for label, fn in out]
    for key, label, code in CELLS:
        rows.append((f"analyse_cell: {key} ({label})", best_us(lambda c=code: analyse_cell(c), 50)))
        tree = ast.parse(code)
        rows.append(
            (
                f"  for comparison: ast.get_source_segment per statement, summed: {key}",
                best_us(lambda c=code, t=tree: [ast.get_source_segment(c, n) for n in t.body], 50),
            )
        )
        rows.append(
            (
                f"ast.fix_missing_locations (IPython, any AST transformer): {key}",
                best_us(lambda t=tree: ast.fix_missing_locations(t), 200),
            )
        )
    ns: dict[str, Any] = {}
    exec(MARKER_SETUP, ns)
    plain = compile(LOOP_IF, "<cell>", "exec")
    variants = [
        ("the log's branch markers", loop_if_marked()),
        (
            "for comparison: set.add(key) per branch",
            LOOP_IF.replace(
                "        total += i\n", "        __mltrack_taken__(10**12)\n        total += i\n"
            ).replace(
                "        others += 1\n",
                "        __mltrack_taken__(10**12 + 1)\n        others += 1\n",
            ),
        ),
        (
            "for comparison: a name store (__mltrack_b0 = True) per branch",
            LOOP_IF.replace(
                "        total += i\n", "        __mltrack_b0 = True\n        total += i\n"
            ).replace(
                "        others += 1\n", "        __mltrack_b1 = True\n        others += 1\n"
            ),
        ),
    ]
    # interleaved, best of 15 rounds: this machine's speed changes by half within seconds
    compiled = [plain] + [compile(source, "<cell>", "exec") for _, source in variants]
    best = [float("inf")] * len(compiled)
    for _ in range(15):
        for n, code in enumerate(compiled):
            t0 = time.perf_counter()
            exec(code, dict(ns))
            best[n] = min(best[n], (time.perf_counter() - t0) * 1e6)
    rows.append(("loop_if cell alone, exec (100k iterations)", best[0]))
    for (label, _), us in zip(variants, best[1:], strict=True):
        rows.append((f"  + {label}: ns per branch executed", (us - best[0]) / 100))
    # the background write of one record (15 statements' facts)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/log.db")
        facts = {
            "statements": [
                {
                    "i": i,
                    "ran": True,
                    "ok": True,
                    "ids": {"lr": 1},
                    "types": {"lr": "float"},
                    "bound": {f"v{i}": 140000000 + i},
                }
                for i in range(15)
            ],
            "start_cwd": tmp,
            "cwd": tmp,
        }
        n = iter(range(10**9))

        def write() -> None:
            store.add_executions(
                [
                    {
                        "session_id": "s",
                        "seq": next(n),
                        "notebook_path": None,
                        "kernel_id": None,
                        "cell_id": "c",
                        "execution_count": 1,
                        "raw": CELLS[1][2],
                        "source": CELLS[1][2],
                        "status": "ok",
                        "error_statement": None,
                        "facts": facts,
                        "run_id": None,
                        "started_at": time.time(),
                        "duration": 0.001,
                    }
                ]
            )

        rows.append(
            ("store.add_executions, one 15-statement record (SQLite, WAL)", best_us(write, 50))
        )
        store.engine.dispose()
    return rows


def _numpy_state_hash() -> int:
    import numpy as np

    state = np.random.get_state(legacy=True)
    return hash((state[1].tobytes(), state[2], state[3], state[4]))


def _random_state_hash() -> int:
    import random

    return hash(random.getstate())


def _env_items_hash() -> int:
    return hash(tuple(os.environ.items()))


def _env_bytes_hash() -> int:
    return hash(tuple(os.environ._data.items()))  # type: ignore[attr-defined]


def _cwd_path() -> Any:
    import sys

    return os.getcwd(), tuple(sys.path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_log")
    parser.add_argument("--reps", type=int, default=60)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args(argv)
    from bench.common import isolate

    isolate()
    shell = make_shell()
    shell.run_cell(SETUP)
    structure = ipython_costs(shell, args.reps)
    shell.run_line_magic("load_ext", "jupyter_mltrack")
    from jupyter_mltrack.capture import api

    before, after = interleaved(shell, args.reps)
    api.wait_pending()
    print(
        f"InteractiveShell.run_cell, main-thread CPU ms ({args.reps} runs each, log off and on"
        " interleaved; min / median)"
    )
    print(f"  {'cell':<10}{'log off':>16}{'log on':>16}{'added (min)':>13}{'added (med)':>13}")
    for key, _, _ in CELLS:
        b, a = before[key], after[key]
        print(
            f"  {key:<10}{b['min_ms']:7.2f} /{b['median_ms']:7.2f}{a['min_ms']:7.2f} /"
            f"{a['median_ms']:7.2f}{a['min_ms'] - b['min_ms']:13.2f}"
            f"{a['median_ms'] - b['median_ms']:13.2f}"
        )

    wrapped = Wrapped()
    wrapped.install()
    sink = io.StringIO()
    print("\nthe log's functions while a cell runs, µs per cell (inclusive; mean of 30 runs)")
    for key, _, code in CELLS:
        with contextlib.redirect_stdout(sink):
            for _ in range(30):
                shell.run_cell(code, store_history=True)
            api.wait_pending()
        totals, calls = wrapped.take()
        parts = ", ".join(
            f"{name} {1e6 * totals[name] / 30:.0f}"
            + (f" ({calls[name] // 30}x)" if calls[name] // 30 > 1 else "")
            for name in sorted(totals, key=lambda n: -totals[n])
            if 1e6 * totals[name] / 30 >= 5
        )
        print(f"  {key}: {parts}")
    wrapped.remove()

    print("\nthe pieces alone, µs (timeit, best of 5; IPython rows: CPU medians)")
    for label, us in [*structure, *pieces()]:
        print(f"  {label:<78}{us:10.2f}")

    if args.cprofile:
        prof = cProfile.Profile()
        code = CELLS[1][2]
        with contextlib.redirect_stdout(sink):
            prof.enable()
            for _ in range(200):
                shell.run_cell(code, store_history=True)
            prof.disable()
        api.wait_pending()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(20)
        print("\ncProfile, 200 runs of the 15-assignment cell, by own time")
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
