"""Worker threads import heavy libraries one at a time (``jupyter_mltrack/imports.py``).

A fresh server asked for a sweep's two charts at once failed one of them with Python's
``_DeadlockError``: one worker thread was importing plotly (whose validators import
narwhals) and the other scikit-learn (which imports narwhals too), each holding a module the
other needed. Whether two threads collide is a matter of microseconds, so the test does not
wait for one: in a fresh interpreter, the server's import sites run in threads started
together, and an import hook records, for every module of plotly, narwhals and scikit-learn
a worker thread imports, whether that thread held the import lock."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from jupyter_mltrack.imports import IMPORT_LOCK, first_alone

_PROBE = """
import json, sys, threading

from jupyter_mltrack.imports import IMPORT_LOCK, heavy
import jupyter_mltrack.compare.charts._base as base  # as the server's first chart call does
from jupyter_mltrack.compare.evidence import forest_class

# packages whose __init__ imports their submodules (narwhals, scikit-learn, SciPy), and
# plotly's modules that import narwhals; plotly's graph_objs import their classes lazily,
# each package's __init__ importing none of its submodules: those cannot deadlock
WATCHED = ("narwhals", "sklearn", "scipy", "plotly.basedatatypes", "_plotly_utils.basevalidators")
seen = []


class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(WATCHED) and threading.current_thread() is not threading.main_thread():
            seen.append([name, IMPORT_LOCK.held()])
        return None


sys.meta_path.insert(0, Recorder())
start = threading.Barrier(3)
errors = []


def run(work):
    start.wait()
    try:
        work()
    except Exception as exc:
        errors.append(repr(exc))


works = [
    lambda: base.figure([], {}),
    forest_class,
    lambda: heavy("plotly.io"),
]
threads = [threading.Thread(target=run, args=(w,)) for w in works]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"seen": seen, "errors": errors}))
"""


def test_heavy_imports_in_worker_threads_hold_the_import_lock() -> None:
    pytest.importorskip("sklearn")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    seen = report["seen"]
    names = {name for name, _held in seen}
    # the probe did make the threads import them: plotly's figure, narwhals, scikit-learn
    assert {"plotly.basedatatypes", "sklearn.ensemble"} <= names, sorted(names)
    assert any(n.startswith("narwhals") for n in names), sorted(names)
    unlocked = sorted(name for name, held in seen if not held)
    assert unlocked == [], unlocked


def test_the_first_call_of_a_function_runs_under_the_lock_and_later_ones_do_not() -> None:
    held: list[bool] = []

    def answer(x: int) -> int:
        held.append(IMPORT_LOCK.held())
        return x * 2

    def refused() -> None:
        held.append(IMPORT_LOCK.held())
        raise ValueError("a bad request")

    assert [first_alone(answer, 1), first_alone(answer, 2)] == [2, 4]
    assert held == [True, False]
    held.clear()
    for _ in range(2):  # a call that raised has not returned: the next is a first call too
        with pytest.raises(ValueError):
            first_alone(refused)
    assert held == [True, True]
    # the lock is the other threads' to take again
    taken = threading.Event()

    def other() -> None:
        with IMPORT_LOCK:
            taken.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=10)
    assert taken.is_set() and not IMPORT_LOCK.held()
