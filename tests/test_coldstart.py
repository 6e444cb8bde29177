"""What ``%load_ext jupyter_mltrack`` loads, and what a kernel's first run defers (issue 11 §4).

The timings are measured by ``python -m bench --only coldstart``; these tests guard the
properties the timings rest on, without timing anything: the extension loads without the
store's dependencies (SQLAlchemy, alembic) or the snapshot code (numpy, pandas, pyarrow), the
store is opened afterwards on the kernel's event loop, and a run whose environment scan is
still under way when it ends still records its whole environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mltrack.capture import environment
from jupyter_mltrack.store.store import Store

REPO = Path(__file__).resolve().parents[1]


def _run(
    code: str, tmp_path: Path, *, expect: int = 0, args: list[str] | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    Store(str(home)).close()  # at the schema's head already, as after a user's first kernel
    full_env = {
        **os.environ,
        "MLTRACK_HOME": str(home),
        "MLTRACK_CACHE_DIR": str(tmp_path / "cache"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    full_env.pop("MLTRACK_STORE_URL", None)
    full_env.pop("JPY_SESSION_NAME", None)
    result = subprocess.run(
        [sys.executable, "-c", code, *(args or [])],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == expect, result.stderr
    return result


LOAD_EXT = """
import asyncio, sys
from IPython.core.interactiveshell import InteractiveShell

HEAVY = ("sqlalchemy", "alembic", "mako", "pyarrow", "pandas", "numpy", "plotly",
         "jupyter_mltrack.store.store", "jupyter_mltrack.snapshots",
         "jupyter_mltrack.models.public", "importlib.metadata")

async def main():
    shell = InteractiveShell.instance()
    before = {m for m in HEAVY if m in sys.modules}
    import jupyter_mltrack
    jupyter_mltrack.load_ipython_extension(shell)
    # in a kernel, %load_ext returns here: nothing of the store or the snapshots is loaded
    loaded = sorted(m for m in HEAVY if m in sys.modules and m not in before)
    assert not loaded, f"%load_ext imported {loaded}"
    from jupyter_mltrack.capture import api
    assert api.opened_store() is None
    # ... and the store is opened on the event loop once the cell has returned
    for _ in range(1000):
        if api.opened_store() is not None:
            break
        await asyncio.sleep(0.01)
    assert api.opened_store() is not None, "the store was not opened after %load_ext"
    assert "sqlalchemy" in sys.modules
    # a store at the schema's head needs no migration tooling; no numpy: none was loaded
    for name in ("alembic", "numpy", "pandas", "pyarrow"):
        assert name not in sys.modules or name in before, f"the warm-up imported {name}"
    # the model API loads when first named, by attribute or by import
    assert "log_model" in dir(jupyter_mltrack)
    from jupyter_mltrack import log_model
    assert jupyter_mltrack.load_model.__module__ == "jupyter_mltrack.models.public"
    print("ok")

asyncio.run(main())
"""


def test_load_ext_leaves_the_store_and_snapshot_code_for_later(tmp_path: Path) -> None:
    """``%load_ext`` imports neither SQLAlchemy nor alembic nor the snapshot code's numpy,
    pandas and pyarrow; the store opens afterwards, on the event loop, without alembic."""
    assert _run(LOAD_EXT, tmp_path).stdout.strip() == "ok"


IMPORTED_DURING_RUN = """
import sys
import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import api
from jupyter_mltrack.capture.environment import _module_to_distributions

mapping = _module_to_distributions()
candidates = [t for t in ("idna", "certifi", "six", "pyparsing", "packaging", "wcwidth")
              if t not in sys.modules and mapping.get(t)]
assert candidates, "no installed package left to import"
name = candidates[0]
dist = mapping[name][0]

run = mltrack.start_run(experiment="cold")
api.wait_pending()  # the scan requested at the start is done: it did not see the package
__import__(name)    # imported during the run
run.end()
api.wait_pending()  # the run ends once the scan that sees it is done
detail = mltrack.get_store().get_run_detail(run.id)
assert detail.run.status.value == "finished", detail.run.status
assert detail.environment is not None
assert dist in detail.environment.packages, (dist, sorted(detail.environment.packages))
print("ok")
"""


def test_a_package_imported_during_a_run_is_in_its_environment(tmp_path: Path) -> None:
    """A run that ends while the scan of what it imported is under way is recorded as ended
    once that scan is done (the cell does not wait), with the package in its environment."""
    assert _run(IMPORTED_DURING_RUN, tmp_path).stdout.strip() == "ok"


ENDED_BEFORE_THE_SCAN = """
import os, sys, threading
import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import api

busy = threading.Event()
api._executor.submit(busy.wait)  # the worker is busy: the scan waits behind it
try:
    run = mltrack.start_run(experiment="cold")
    mltrack.log_metric("acc", 0.5)
    run.end(wait_environment=False)  # as a tracked cell ends
    store = mltrack.get_store()
    detail = store.get_run_detail(run.id)
    assert detail.run.status.value == "finished", detail.run.status
    assert detail.run.metrics == {"acc": 0.5}, detail.run.metrics
    assert detail.environment is None  # the scan has not run
except BaseException:
    busy.set()  # else the exit would wait for the worker
    raise
print(run.id, flush=True)
if sys.argv[1] == "die":
    os._exit(3)  # the process dies (the next cell calls os._exit, the kernel is killed)
busy.set()
api.wait_pending()
detail = store.get_run_detail(run.id)
assert detail.environment is not None and detail.environment.python, detail
assert detail.run.status.value == "finished" and detail.run.metrics == {"acc": 0.5}
print("ok")
"""


@pytest.mark.parametrize("then", ["die", "scan"])
def test_a_cell_run_is_recorded_before_its_environment_scan(tmp_path: Path, then: str) -> None:
    """A tracked cell's run whose environment scan is still under way when the cell ends
    (a kernel's first run) is recorded as ended, with what it logged, at once; its
    environment follows once the scan is done. A process that dies in between loses only
    the environment: the run it recorded stays finished (it was lost, and reaped as
    crashed, when the whole write waited for the scan)."""
    result = _run(ENDED_BEFORE_THE_SCAN, tmp_path, expect=3 if then == "die" else 0, args=[then])
    run_id = result.stdout.split()[0]
    store = Store(str(tmp_path / "home"))
    try:
        detail = store.get_run_detail(run_id)
        assert detail.run.status.value == "finished" and detail.run.metrics == {"acc": 0.5}
        assert (detail.environment is None) == (then == "die")
        assert result.stdout.split()[1:] == ([] if then == "die" else ["ok"])
    finally:
        store.close()


def test_the_distribution_map_is_cached_until_an_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module -> distribution map is read back from its cache file, which a change in a
    ``sys.path`` folder (an install adds a ``*.dist-info`` folder there) invalidates."""
    from importlib import metadata

    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setenv(environment.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(site))
    environment._module_to_distributions.cache_clear()
    try:
        key = environment._path_key()
        first = environment._module_to_distributions()
        assert first == metadata.packages_distributions()
        assert (tmp_path / "cache" / f"distributions-{key}.json").is_file()
        # an "install": a new folder in a sys.path entry changes that entry's time
        (site / "newpkg-1.0.dist-info").mkdir()
        os.utime(site, ns=(1, 10**18))
        assert environment._path_key() != key
    finally:
        environment._module_to_distributions.cache_clear()


def test_a_git_read_done_before_its_callback_is_attached_does_not_deadlock(
    tmp_path: Path,
) -> None:
    """A run whose packages the last scan saw refreshes git's state alone, in a thread, and
    attaches a callback that records it under the context's lock. Outside a repository git
    fails in about a millisecond, so on a busy machine the read can be over before the cell's
    thread, descheduled after starting it, attaches the callback, which then runs at once in
    the cell's thread: the lock must not be held there (it was, and the cell hung for good).
    The read is made done at once here, the order a descheduled thread sees."""
    import threading
    import time
    from concurrent.futures import Future

    from jupyter_mltrack.capture import api
    from jupyter_mltrack.capture import context as run_context

    context = api.RunContext(api._submit, lambda: None)
    seen = environment.GitState("0" * 40, False)
    context._state = ("env", environment.GitState(None, None))
    context._scanned = (len(sys.modules), run_context.top_level_names())
    context._at = time.monotonic() - context.REFRESH - 1

    def done_already(cwd: str) -> Future:
        future: Future = Future()
        future.set_result(seen)
        return future

    original, run_context.git_now = run_context.git_now, done_already
    try:
        returned: list[object] = []
        caller = threading.Thread(
            target=lambda: returned.append(context.request(str(tmp_path))), daemon=True
        )
        caller.start()
        caller.join(timeout=10)
    finally:
        run_context.git_now = original
    assert not caller.is_alive(), "request() deadlocked on its own lock"
    assert returned == [None]
    assert context._state == ("env", seen)
    assert context.git is not None and context.git.result() is seen


def _committed_repo(tmp_path: Path) -> Path:
    """A git repository with one committed file, ``data.txt``: clean until it is written."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "data.txt").write_text("a\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    identity = ["-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", *identity, "commit", "-qm", "init"], cwd=repo, check=True)
    return repo


def test_git_state_is_as_old_as_its_read_not_as_the_scan_that_carried_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Git's state is re-read when the last read *began* over ``REFRESH`` seconds ago. It was
    counted from when the environment scan around it ended, so on a loaded machine (a scan of
    half a second or more) a file changed just after the read stayed unseen by the runs of
    the next second and more: CI recorded a dirty tree as clean."""
    import time

    from jupyter_mltrack.capture import api

    repo = _committed_repo(tmp_path)
    scan = environment.current_environment

    def slow_scan() -> object:
        time.sleep(0.8)  # a busy machine's scan
        return scan()

    monkeypatch.setattr(environment, "current_environment", slow_scan)
    context = api.RunContext(api._submit, lambda: None)
    first = context.request(str(repo))
    began = time.monotonic()  # (the read began before this)
    assert first is not None and context.git is not None
    assert context.git.result(timeout=30).dirty is False
    (repo / "data.txt").write_text("changed\n")
    first.result(timeout=30)
    time.sleep(max(0.0, began + context.REFRESH + 0.05 - time.monotonic()))
    assert context.request(str(repo)) is None  # the packages are those scanned: git alone
    assert context.git.result(timeout=30).dirty is True


def test_the_idle_scans_read_of_git_is_what_the_next_runs_record(tmp_path: Path) -> None:
    """After a cell that loaded modules the kernel scans again while idle, reading git's
    state itself. The runs starting within the next second record that read, not the older
    one begun when the previous run started: CI (a loaded machine, the file changed while
    the idle scan ran) saw the run after the change recorded as clean."""
    from jupyter_mltrack.capture import api

    repo = _committed_repo(tmp_path)
    context = api.RunContext(api._submit, lambda: None)
    scan = context.request(str(repo))
    assert scan is not None and context.git is not None
    scan.result(timeout=30)
    assert context.git.result(timeout=30).dirty is False
    (repo / "data.txt").write_text("changed\n")
    context.collect(str(repo))  # the idle scan
    assert context.request(str(repo)) is None  # fresh: no read of its own
    assert context.git.result(timeout=30).dirty is True


def test_a_scan_that_saw_every_package_covers_lazily_loaded_submodules() -> None:
    """Modules of packages the last scan saw (a library's lazy submodules) do not make it
    stale; once the names were compared, the scan covers the new count of modules, so the
    next tracked cell's check is a length comparison again rather than a pass over every
    loaded module. A new top-level package still makes it stale."""
    from jupyter_mltrack.capture import api
    from jupyter_mltrack.capture import context as run_context

    context = api.RunContext(api._submit, lambda: None)
    context._state = ("env", environment.GitState(None, None))
    context._scanned = (len(sys.modules) - 3, run_context.top_level_names())
    assert context.covers_now()
    assert context._scanned[0] == len(sys.modules)

    sys.modules["mltrack_test_new_top_level"] = sys.modules["os"]
    try:
        assert not context.covers_now()
    finally:
        del sys.modules["mltrack_test_new_top_level"]


def test_track_options_are_parsed_once_per_line_and_never_shared() -> None:
    """A cell run again has the same ``%%track`` line: its options are parsed once (argparse
    costs a tracked cell about 0.1 ms), and each cell gets its own copy of them."""
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mltrack.capture.magics import TrackMagics

    magics = TrackMagics(InteractiveShell.instance())
    line = "run1 -e exp -t stage=dev -p a b -p c"
    first = magics._options(line)
    assert first.name == "run1" and first.experiment == "exp"
    assert first.tag == [["stage=dev"]] and first.param == [["a", "b"], ["c"]]
    first.param[0].append("changed")
    first.tag.clear()
    second = magics._options(line)
    assert second.param == [["a", "b"], ["c"]] and second.tag == [["stage=dev"]]
    assert magics._options("other").name == "other" and len(magics._parsed) == 2
