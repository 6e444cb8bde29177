"""The data a ``%%track`` cell reads and writes, snapshotted in a real kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import RunStatus, SnapshotNotFound, SnapshotStatus, Store

from .kernel import REPO, Kernel, loaded_kernel, open_store, recorded, text_of


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kernel-data")


@pytest.fixture(scope="module")
def kernel(workdir: Path) -> Iterator[Kernel]:
    setup = (
        "import numpy as np, pandas as pd\n"
        "df = pd.DataFrame({'x': np.arange(1000), 'y': np.linspace(0, 1, 1000)})\n"
        "df.to_csv('raw.csv', index=False)\n"
        "np.save('weights.npy', np.arange(10.0))"
    )
    with loaded_kernel(workdir, workdir / "home", "prep.ipynb", setup) as k:
        yield k


@pytest.fixture
def store(workdir: Path) -> Iterator[Store]:
    with open_store(workdir / "home") as st:
        yield st


def last_run(store: Store, experiment: str, *, ended: bool = True):  # noqa: ANN201
    """The experiment's last run, with ``ended`` once it is recorded as ended: a run whose
    snapshots (or environment scan) were still being written when its cell ended is ended by
    a background thread, a moment later."""
    runs, _ = store.search_runs(experiment=experiment, order="-number", limit=1)
    return recorded(store, runs[0].id) if ended else store.get_run_detail(runs[0].id)


def data(detail) -> dict[tuple[str, str], object]:  # noqa: ANN001
    return {(d.role, d.name): d for d in detail.data}


def test_frames_and_files_read_and_written(kernel: Kernel, store: Store, workdir: Path) -> None:
    kernel.ok(
        "%%track -e io\n"
        "raw = pd.read_csv('raw.csv')\n"
        "w = np.load('weights.npy')\n"
        "feat = df[df.x > 10].assign(z=df.y * 2)\n"
        "with open('report.txt', 'w') as fh:\n"
        "    fh.write(str(len(feat)))\n"
        "np.save('feat.npy', feat.to_numpy())\n"
        "mltrack.log_metric('rows', len(feat))"
    )
    detail = last_run(store, "io")
    found = data(detail)
    assert set(found) == {
        ("input", "df"),
        ("input", "raw.csv"),
        ("input", "weights.npy"),
        ("output", "report.txt"),
        ("output", "feat.npy"),
    }
    assert detail.run.status is RunStatus.FINISHED
    assert all(d.snapshot.status is SnapshotStatus.COMPLETE for d in detail.data)
    assert found[("input", "raw.csv")].path == str(workdir / "raw.csv")
    sn = Snapshotter(store)
    try:
        frame = found[("input", "df")].snapshot
        assert (frame.kind, frame.rows, frame.columns) == ("dataframe", 1000, 2)
        expected = pd.DataFrame({"x": np.arange(1000), "y": np.linspace(0, 1, 1000)})
        pd.testing.assert_frame_equal(sn.load(frame), expected, check_exact=True)
        csv = Path(sn.load(found[("input", "raw.csv")].snapshot))
        assert csv.read_bytes() == (workdir / "raw.csv").read_bytes()
        assert Path(sn.load(found[("output", "report.txt")].snapshot)).read_text() == "989"
    finally:
        sn.close()
    # the run's detail in the REST shape lists them too
    listed = detail.to_dict()["data"]
    assert {d["name"] for d in listed["outputs"]} == {"feat.npy", "report.txt"}
    assert {d["name"] for d in listed["inputs"]} == {"df", "raw.csv", "weights.npy"}


def test_the_data_seen_is_the_data_before_the_cell(kernel: Kernel, store: Store) -> None:
    kernel.ok("scores = pd.Series([1.0, 2.0, 3.0], name='s')")
    kernel.ok("%%track -e inplace\nscores.iloc[0] = 100.0\ntotal = scores.sum()\ntotal")
    found = data(last_run(store, "inplace"))
    sn = Snapshotter(store)
    try:
        seen = sn.load(found[("input", "scores")].snapshot)
    finally:
        sn.close()
    assert list(seen) == [1.0, 2.0, 3.0] and seen.name == "s"


def test_no_snapshot_and_explicit_snapshot(kernel: Kernel, store: Store) -> None:
    kernel.ok("%%track -e opts --no-snapshot\nn = len(df)\nopen('raw.csv').read()[:5]")
    assert last_run(store, "opts").data == []
    kernel.ok("%%track -e opts --snapshot out\nout = df.head(3) * 2")
    found = data(last_run(store, "opts"))
    assert set(found) == {("input", "df"), ("output", "out")}
    assert found[("output", "out")].snapshot.rows == 3


def test_unchanged_data_is_stored_once(kernel: Kernel, store: Store) -> None:
    for _ in range(3):
        kernel.ok("%%track -e again\nm = df.y.mean()\nm")
    runs, _ = store.search_runs(experiment="again")
    digests = {data(store.get_run_detail(r.id))[("input", "df")].snapshot.digest for r in runs}
    assert len(digests) == 1
    snap = store.get_snapshot(digests.pop())
    assert len(store.snapshot_users(snap.digest)) >= 3


def test_public_api_snapshot_load_and_diff(kernel: Kernel, store: Store) -> None:
    out = kernel.ok(
        "s = mltrack.snapshot(df, name='baseline-data')\n"
        "print(s.digest.startswith('xxh3-128:'), s.kind, s.rows)\n"
        "print(mltrack.load_snapshot('baseline-data').equals(df))\n"
        "d = mltrack.diff(s, df.assign(y=df.y + 1))\n"
        "print(d['changed_columns'], d['rows'])\n"
        "print(str(d).splitlines()[0])"
    )
    lines = text_of(out).splitlines()
    assert lines[0] == "True dataframe 1000"
    assert lines[1] == "True"
    assert lines[2] == "['y'] {'a': 1000, 'b': 1000, 'delta': 0}"
    assert "changed columns: y" in lines[3]
    pinned = store.resolve_snapshot("baseline-data")
    assert pinned.pinned  # taken outside a run: kept by gc


def test_a_dataset_version_read_by_a_tracked_cell_is_its_input_and_the_pipeline_gets_it(
    kernel: Kernel, store: Store, workdir: Path
) -> None:
    """``team/churn@gold`` got in one cell and read by a tracked cell: the run's input names
    the version; so does a file version's path. The exported pipeline, run after ``gold``
    moved, gets the version the notebook got, by its hash, and records it as its input."""
    kernel.ok(
        "mltrack.datasets.push(df.head(10), 'team/churn', tag='gold')\n"
        "mltrack.datasets.push('raw.csv', 'team/raw')"
    )
    kernel.ok(
        "churn = mltrack.datasets.get('team/churn@gold')\n"
        "raw_path = mltrack.datasets.get('team/raw')"
    )
    kernel.ok(
        "%%track -e ds\n"
        "total = float(churn.x.sum()) + len(open(raw_path).read())\n"
        "mltrack.log_metric('total', total)"
    )
    detail = last_run(store, "ds")
    found = data(detail)
    gold = store.resolve_dataset_version("team/churn", "gold")
    raw = store.resolve_dataset_version("team/raw")
    assert set(found) == {("input", "churn"), ("input", "raw_path")}
    assert found[("input", "churn")].dataset == gold.ref
    assert found[("input", "raw_path")].dataset == raw.ref
    assert found[("input", "raw_path")].snapshot.digest == raw.snapshot_digest
    expected = 45.0 + (workdir / "raw.csv").stat().st_size
    assert detail.run.metrics == {"total": expected}
    (listed,) = store.dataset_versions("team/churn", uses=True)
    assert [u.run_id for u in listed.runs] == [detail.run.id]

    kernel.ok("mltrack.datasets.push(df.head(20), 'team/churn', tag='gold')")  # gold moves
    out = workdir / "ds-pipeline"
    kernel.ok(f"%mltrack export --run {detail.run.id} -o {out}")
    script = (out / "pipeline.py").read_text()
    assert f'mltrack.datasets.get("{gold.ref}")' in script
    assert f"# team/churn@gold was {gold.ref} when the notebook ran" in script
    assert "INPUT_FILES = {}" in script  # the file version is got by name, not re-read
    assert run_exported(out, workdir) == {"total": expected}
    (child,) = [r for r in store.search_runs(order="-start_time")[0] if r.source == "pipeline"]
    assert data(store.get_run_detail(child.id))[("input", "team/churn")].dataset == gold.ref


def run_exported(out: Path, workdir: Path) -> Any:
    """``out/pipeline.py`` run in a fresh interpreter from the notebook's folder, on the
    notebook's store: what it returned (its ``--json`` file)."""
    env = {**os.environ, "MLTRACK_HOME": str(workdir / "home")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    results = out / "results.json"
    ran = subprocess.run(
        [sys.executable, str(out / "pipeline.py"), "--json", str(results)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(results.read_text())


def test_a_reference_built_at_run_time_is_pinned_in_the_pipeline(
    kernel: Kernel, store: Store, workdir: Path
) -> None:
    """``get(name)`` and ``get(f"...@{which}")``: the run's inputs name the version the tag
    named; after the tag moves, the exported pipeline still gets that version, by hash. A
    folder version's file read through the path ``get`` returned is not an input file."""
    kernel.ok(
        "import pathlib\n"
        "pathlib.Path('pics').mkdir()\n"
        "pathlib.Path('pics/a.txt').write_text('abc')\n"
        "mltrack.datasets.push('pics', 'team/pics', tag='gold')\n"
        "mltrack.datasets.push(df.head(5), 'team/pin', tag='gold')\n"
        "pin_name = 'team/pin@gold'\n"
        "which = 'gold'"
    )
    kernel.ok(
        "%%track -e pin\n"
        "by_name = mltrack.datasets.get(pin_name)\n"
        "by_fstring = mltrack.datasets.get(f'team/pin@{which}')\n"
        "pics = mltrack.datasets.get('team/' + 'pics@' + which)\n"
        "rows = float(len(by_name) + len(by_fstring) + len((pics / 'a.txt').read_text()))\n"
        "mltrack.log_metric('rows', rows)"
    )
    detail = last_run(store, "pin")
    gold = store.resolve_dataset_version("team/pin", "gold")
    pics = store.resolve_dataset_version("team/pics", "gold")
    assert {r.dataset for r in detail.data if r.role == "input"} == {gold.ref, pics.ref}
    assert detail.run.metrics == {"rows": 13.0}

    kernel.ok(  # the tags move
        "mltrack.datasets.push(df.head(8), 'team/pin', tag='gold')\n"
        "pathlib.Path('pics/a.txt').write_text('abcdefgh')\n"
        "mltrack.datasets.push('pics', 'team/pics', tag='gold')"
    )
    out = workdir / "pin-pipeline"
    kernel.ok(f"%mltrack export --run {detail.run.id} -o {out}")
    script = (out / "pipeline.py").read_text()
    table = f'pinned={{"team/pin@gold": "{gold.ref}"}}'
    assert script.count(table) == 2  # both calls, whatever the formatter made of them
    assert f'pinned={{"team/pics@gold": "{pics.ref}"}}' in script
    assert "INPUT_FILES = {}" in script  # the folder's file is the version's, got by name
    assert run_exported(out, workdir) == {"rows": 13.0}  # not 24
    children = [r for r in store.search_runs(experiment="pin")[0] if r.source == "pipeline"]
    (child,) = children
    read = {r.dataset for r in store.get_run_detail(child.id).data if r.role == "input"}
    assert read == {gold.ref, pics.ref}


def test_run_ends_only_once_its_data_is_durable(kernel: Kernel, store: Store) -> None:
    # Hold the kernel's snapshot writer, run a tracked cell, look from outside.
    kernel.ok(
        "import threading\n"
        "from jupyter_mltrack.capture.data import snapshotter\n"
        "hold = threading.Event()\n"
        "snapshotter()._jobs.submit(hold.wait)\n"
        "big = pd.DataFrame({'v': np.arange(200_000.0)})"
    )
    kernel.ok("%%track -e durable\ntotal = big.v.sum()")
    detail = last_run(store, "durable", ended=False)
    snap = data(detail)[("input", "big")].snapshot
    assert snap.status is SnapshotStatus.PENDING
    assert detail.run.status is RunStatus.RUNNING  # not ended while its data is not stored
    kernel.ok("hold.set()")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        detail = last_run(store, "durable", ended=False)
        if detail.run.status is not RunStatus.RUNNING:
            break
        time.sleep(0.05)
    assert detail.run.status is RunStatus.FINISHED
    stored = store.get_snapshot(snap.digest)
    assert stored.status is SnapshotStatus.COMPLETE
    assert stored.completed_at is not None and stored.completed_at <= detail.run.end_time + 1


def test_kernel_exit_waits_for_pending_writes(tmp_path: Path) -> None:
    k = Kernel(tmp_path, tmp_path / "home", notebook="exit.ipynb")
    try:
        k.ok("%load_ext jupyter_mltrack")
        k.ok(
            "import numpy as np, pandas as pd\nbig = pd.DataFrame({'v': np.random.default_rng(0).random(6_000_000)})"
        )
        k.ok("%%track -e exiting\nm = big.v.mean()")
        k.km.request_shutdown()  # right away, while the 48 MB are being written
        k.km.finish_shutdown(waittime=60)
    finally:
        k.stop()
    st = Store(str(tmp_path / "home"))
    try:
        detail = last_run(st, "exiting")
        assert detail.run.status is RunStatus.FINISHED
        snap = data(detail)[("input", "big")].snapshot
        assert snap.status is SnapshotStatus.COMPLETE
        sn = Snapshotter(st)
        try:
            assert len(sn.load(snap)) == 6_000_000
        finally:
            sn.close()
    finally:
        st.close()


def test_slow_snapshot_shows_progress_not_recorded_as_output(tmp_path: Path) -> None:
    k = Kernel(tmp_path, tmp_path / "home", notebook="progress.ipynb")
    try:
        k.ok("%load_ext jupyter_mltrack")
        k.ok(
            "import numpy as np, pandas as pd\n"
            "from jupyter_mltrack.snapshots import storage\n"
            "storage.PROGRESS_AFTER = 0.0  # as if it were a big frame\n"
            "df = pd.DataFrame({'v': np.random.default_rng(0).random(2_000_000)})"
        )
        result = k.ok(
            "%%track -e progress\n"
            "m = df.v.mean()\n"
            "from jupyter_mltrack.capture.data import wait_for_snapshots\n"
            "wait_for_snapshots()  # the bar is shown while the cell (and its recorder) runs"
        )
        shown = [
            o["data"]["text/plain"]
            for o in result["outputs"]
            if o["output_type"] == "display_data"
            and "mltrack: snapshot" in o["data"].get("text/plain", "")
        ]
        assert shown  # the user sees the bar under the cell
        k.ok("import time; time.sleep(0.5)")
    finally:
        k.stop()
    st = Store(str(tmp_path / "home"))
    try:
        outputs = last_run(st, "progress").outputs
        assert not any("mltrack: snapshot" in str(o) for o in outputs)
    finally:
        st.close()


def test_inputs_swept_elsewhere_are_stored_again_by_the_next_cell(
    kernel: Kernel, store: Store
) -> None:
    """A tracked cell links its inputs in the transaction that creates its run. When a ``gc``
    in another process swept a snapshot this kernel remembers as complete, that transaction
    fails: the cell snapshots its inputs again, without trusting what it remembered, and
    its run starts linked to them; the cell and its output are unaffected."""
    code = "%%track -e swept\ntotal = float(v.sum() + w.sum())\nprint(total)"
    kernel.ok("v = np.linspace(0, 1, 1001) * 7\nw = np.arange(50.0)")
    for _ in range(2):
        kernel.ok(code)
    first = last_run(store, "swept")
    digests = {d.name: d.snapshot.digest for d in first.data}
    assert set(digests) == {"v", "w"}
    for run in store.search_runs(experiment="swept")[0]:
        store.delete_run(run.id)
    sweeper = Snapshotter(store)
    try:
        sweeper.gc()
    finally:
        sweeper.close()
    for digest in digests.values():
        with pytest.raises(SnapshotNotFound):
            store.get_snapshot(digest)

    reply = kernel.ok(code)
    assert "4728.5" in text_of(reply) and "mltrack:" not in text_of(reply, "stderr")
    third = last_run(store, "swept")
    assert third.run.status is RunStatus.FINISHED
    linked = {d.name: d.snapshot for d in third.data}
    assert {name: s.digest for name, s in linked.items()} == digests
    assert all(s.status is SnapshotStatus.COMPLETE for s in linked.values())
    np.testing.assert_array_equal(Snapshotter(store).load(digests["w"]), np.arange(50.0))


def test_artifacts_option_keeps_written_files_as_the_cell_left_them(
    kernel: Kernel, store: Store, workdir: Path
) -> None:
    kernel.ok(
        "%%track -e kept --artifacts\n"
        "import os\n"
        "os.makedirs('out', exist_ok=True)\n"
        "with open('out/report.txt', 'w') as fh:\n"
        "    fh.write('first')"
    )
    kernel.ok("with open('out/report.txt', 'w') as fh:\n    fh.write('rewritten later')")
    run = last_run(store, "kept").run
    deadline = time.monotonic() + 30
    while not store.list_artifacts(run.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    (kept,) = store.list_artifacts(run.id)
    assert (kept.name, kept.kind, kept.media_type) == ("out/report.txt", "file", "text/plain")
    with store.blobs.open(kept.files[0].digest) as fh:
        assert fh.read() == b"first"
    # without the option (and the setting off, the default) nothing is kept
    kernel.ok("%%track -e notkept\nwith open('out/other.txt', 'w') as fh:\n    fh.write('x')")
    assert store.list_artifacts(last_run(store, "notkept").run.id) == []
