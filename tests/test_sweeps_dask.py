"""Sweeps on Dask (issue 15, section 3): the sweeps notebook's pipeline searched through a
real ``distributed.LocalCluster`` of two worker processes started here, every trial writing
its run into the team store the workers share (a real PostgreSQL server and an
S3-compatible one, moto's). The workers get the pipeline's files in each trial's spec, not
from the driver's folder; a worker SIGKILLed mid-trial has its trial run again elsewhere,
into the same run; two trials given to one worker process at once do not mix. A cluster
of its own processes (a scheduler and workers, as ``dask scheduler``/``dask worker``)
outlives a sweep's driver SIGKILLed mid-trial: the trials it ran go on, and their writes
never reach the runs the resumed sweep gave to new attempts. And where trials run without
a cluster: a local pool's worker whose driver is SIGKILLed dies with it; one SIGKILLed
mid-trial fails that trial alone and is replaced (this module has the notebook whose
trials can be made slow, or held).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.location import BLOB_URL_ENV, HOME_ENV
from jupyter_mltrack.pipeline.export import export
from jupyter_mltrack.store import RunStatus, Store
from jupyter_mltrack.store.spool import SPOOL_ENV
from jupyter_mltrack.sweeps import api
from jupyter_mltrack.sweeps import pool as sweep_pool
from jupyter_mltrack.sweeps.driver import (
    Sweep,
    definition,
    find_sweep_or_none,
    pipeline_params,
    read_result,
)
from jupyter_mltrack.sweeps.executors import DaskExecutor
from jupyter_mltrack.sweeps.records import SWEEP_TAG, TRIAL_TAG
from jupyter_mltrack.sweeps.trial import TrialOutcome, TrialSpec

from .s3 import CREDENTIALS, s3_server
from .test_pipeline import Session, _env, session_reading_data
from .test_sweeps import DATA, IMPORTS, PARAMS, TRAIN

pytest.importorskip("optuna")
pytest.importorskip("distributed")
pytest.importorskip("s3fs")

#: The sweeps notebook, with a ``pause`` (seconds) before training: the slow trial whose
#: worker is killed; and a ``gate``, a folder where the first attempt at a C whose
#: ``hold-<C>`` file is there waits until the file is removed (then logs ``held`` = 1.0,
#: which no other attempt logs): a trial that runs on after its driver is killed. Each
#: trial also logs a small dict: a blob each worker writes to S3.
HELD = """
import os


def held(gate, C):
    if not gate:
        return 0.0
    try:  # only the first attempt at C creates it
        os.close(os.open(os.path.join(gate, f"started-{C}"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return 0.0
    hold = os.path.join(gate, f"hold-{C}")
    if not os.path.exists(hold):
        return 0.0
    while os.path.exists(hold):
        time.sleep(0.02)
    os.close(os.open(os.path.join(gate, f"released-{C}"), os.O_CREAT))
    return 1.0"""
TRAIN_DASK = (
    TRAIN.replace("%%track\n", "%%track\ntime.sleep(pause)\nwaited = held(gate, C)\n", 1)
    + '\nmltrack.log_metric("held", waited)'
    + '\nmltrack.log_dict({"C": C, "pause": pause}, "trial.json")'
)
#: How long the slow trial sleeps: time enough to see it start in a worker and kill that.
SLOW = 3.0


@pytest.fixture(scope="module", autouse=True)
def _kept_workers_go_with_the_module() -> Iterator[None]:
    yield
    sweep_pool.shutdown()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """The notebook run once by a real kernel (its run #1 is what ``pipeline`` exports)."""
    return session_reading_data(
        tmp_path_factory.mktemp("dask"),
        ("imports", IMPORTS + "\nimport time" + HELD),
        ("data", DATA),
        ("params", PARAMS + '\npause = 0.0\ngate = ""'),
        ("train", TRAIN_DASK),
    )


@pytest.fixture(scope="module")
def pipeline(session: Session) -> Path:
    """The notebook's run #1 exported (as in test_sweeps)."""
    store = session.store()
    try:
        (run,), _ = store.search_runs(order="number", limit=1)
        export(store, directory=session.root / "pipeline", run=run.id)
    finally:
        store.close()
    return session.root / "pipeline"


@dataclass
class Team:
    """The shared store: its URL, its blobs' URL, the S3 server's endpoint and a client."""

    url: str
    blob_url: str
    endpoint: str
    s3: Any

    def store(self) -> Store:
        return Store(self.url, blob_url=self.blob_url)

    def keys(self) -> list[str]:
        bucket, prefix = self.blob_url[len("s3://") :].split("/", 1)
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="module")
def team(postgres_url: str) -> Iterator[Team]:
    """A fresh PostgreSQL database and a fresh bucket of a moto S3 server, the endpoint and
    credentials set in this process as a team sets them (``AWS_ENDPOINT_URL``)."""
    import boto3
    import fsspec.config
    from sqlalchemy import create_engine, text

    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with s3_server() as endpoint, pytest.MonkeyPatch.context() as mp:
            for key, value in CREDENTIALS.items():
                mp.setenv(key, value)
            mp.setenv("AWS_ENDPOINT_URL", endpoint)
            mp.setitem(fsspec.config.conf, "s3", {"endpoint_url": endpoint})
            s3 = boto3.client("s3", endpoint_url=endpoint)
            bucket = "mltrack-" + uuid.uuid4().hex[:10]
            s3.create_bucket(Bucket=bucket)
            url = postgres_url.rsplit("/", 1)[0] + "/" + name
            Store(url).close()  # its tables, before two workers race to create them
            yield Team(url, f"s3://{bucket}/team", endpoint, s3)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def cluster(team: Team, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A ``LocalCluster`` of 2 worker processes of one thread each, and a client of it. The
    workers know of the team store only what a cluster's workers would: the S3 endpoint and
    credentials in their environment; their temp folder is the test's, so what they write
    there can be looked at (and is removed)."""
    from distributed import Client, LocalCluster

    tmp = tmp_path_factory.mktemp("workers")
    (tmp / "tmp").mkdir()
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": team.endpoint,
        "TMPDIR": str(tmp / "tmp"),
        HOME_ENV: str(tmp / ".mltrack"),  # never a developer's store or spool
        SPOOL_ENV: str(tmp / "spool"),
    }
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
        ) as lc,
        Client(lc, set_as_default=False) as client,
    ):
        client.wait_for_workers(2)
        # what every trial imports, imported by each worker while the notebook's kernel
        # runs (the first test asks for the cluster first): the first trials start warm
        warming = [
            client.submit(importlib.import_module, name, workers=[worker], pure=False)
            for worker in client.nthreads()
            for name in ("jupyter_mltrack.capture.api", "sklearn.linear_model", "s3fs")
        ]
        yield client
        del warming


@pytest.fixture
def store(team: Team) -> Iterator[Store]:
    st = team.store()
    yield st
    st.close()


def worker_pids(client: Any) -> set[int]:
    return set(client.run(os.getpid).values())


def trials_of(store: Store, sweep_run_id: str) -> list:
    return store.child_runs(sweep_run_id, source="sweep")


def assert_each_trial_once(store: Store, sweep_run_id: str, count: int) -> list:
    """The sweep's child runs: ``count`` of them, numbered 0..count-1, one run each."""
    runs = trials_of(store, sweep_run_id)
    numbers = sorted(int(r.tags[TRIAL_TAG]) for r in runs)
    assert numbers == list(range(count)), numbers
    assert len({r.id for r in runs}) == count
    return runs


def test_a_sweep_on_a_dask_client_records_each_trial_once_in_the_team_store(
    cluster: Any, pipeline: Path, store: Store, team: Team
) -> None:
    """``executor=client``: the trials run in the cluster's worker processes (their pids),
    each a finished child run in PostgreSQL with its artifact's blob in the bucket."""
    from jupyter_mltrack.models.artifacts import read_bytes

    result = api.sweep(
        pipeline,
        {"C": [0.01, 0.1, 1.0]},
        "acc",
        sampler="grid",
        jobs=2,
        executor=cluster,
        name="on-dask",
        store=store,
        progress=False,
    )
    assert result.counts() == {"finished": 3}
    assert store.url.startswith("postgresql") and result.best is not None
    runs = assert_each_trial_once(store, result.run_id, 3)
    pids = worker_pids(cluster)
    for run in runs:
        assert run.status is RunStatus.FINISHED and run.tags[SWEEP_TAG] == "on-dask"
        assert store.get_run_detail(run.id).pid in pids  # run by a Dask worker
        logged = json.loads(read_bytes(store, store.get_artifact(run.id, "trial.json")))
        assert logged == {"C": run.params["C"], "pause": 0.0}
    assert len(team.keys()) >= 3  # the workers' blobs, in the S3 server
    assert store.get_run(result.run_id).status is RunStatus.FINISHED


class FolderOnlyOnTheDriver(DaskExecutor):
    """A cluster whose workers cannot see the driver's pipeline folder, as on a real one:
    the folder is moved away once the driver has read it (when it hands out the first
    trial), so the trials can only work from the files their spec carries."""

    def __init__(self, client: Any, folder: Path, away: Path) -> None:
        super().__init__(client)
        self.folder, self.away = folder, away

    def submit(self, spec: TrialSpec) -> Future[TrialOutcome]:
        if self.folder.exists():
            self.folder.rename(self.away)
        return super().submit(spec)


def test_the_workers_run_the_pipeline_shipped_in_the_spec_not_the_drivers_folder(
    pipeline: Path, store: Store, cluster: Any, tmp_path: Path
) -> None:
    """The driver's folder is gone when the trials run: they finish all the same, from the
    pipeline the workers wrote out of the spec (found in their temp folder)."""
    folder, away = tmp_path / "pipeline", tmp_path / "elsewhere"
    shutil.copytree(pipeline, folder)
    d = definition(folder, {"C": [0.5, 2.0]}, "acc", name="shipped", sampler="grid", jobs=2)
    executor = FolderOnlyOnTheDriver(cluster, folder, away)
    result = Sweep.create(store, d).run(executor)
    assert not folder.exists()  # gone before the first trial, and never needed
    assert result.counts() == {"finished": 2}, result.to_dict()
    assert_each_trial_once(store, result.run_id, 2)
    source = (away / "pipeline.py").read_bytes()

    def materialized() -> list[bytes]:
        import glob
        import tempfile
        from pathlib import Path

        found = glob.glob(os.path.join(tempfile.gettempdir(), "mltrack-pipeline-*"))
        return [(Path(f) / "pipeline.py").read_bytes() for f in found]

    written = [data for datas in cluster.run(materialized).values() for data in datas]
    assert source in written  # the workers wrote the shipped files, and ran them


def test_mltrack_sweep_with_a_dask_address_runs_on_the_cluster(
    pipeline: Path,
    store: Store,
    team: Team,
    cluster: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI's ``--executor dask://HOST:PORT`` (the string form): a client of its own."""
    from jupyter_mltrack.cli import main

    monkeypatch.setenv(BLOB_URL_ENV, team.blob_url)
    address = cluster.scheduler_info()["address"].replace("tcp://", "dask://")
    argv = ["--store", team.url, "sweep", str(pipeline), "--param", "C=[0.2, 3.0]"]
    argv += ["--metric", "acc", "--sampler", "grid", "--executor", address]
    code = main([*argv, "--name", "by-address", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    shown = json.loads(out)
    assert shown["counts"] == {"finished": 2} and shown["status"] == "finished"
    sweep_run = store.get_run(shown["run_id"])
    assert sweep_run.params["executor"] == address  # resumed on the cluster, too
    pids = worker_pids(cluster)
    for run in assert_each_trial_once(store, shown["run_id"], 2):
        assert store.get_run_detail(run.id).pid in pids


def test_two_trials_given_to_one_worker_process_at_once_do_not_mix(
    pipeline: Path, store: Store
) -> None:
    """A Dask worker of two threads (``dask worker``'s default is one per core) runs two
    trials at once in one process, whose trial context and pipeline module are the
    process's: what such a worker does, here in two threads of this process. The slow
    trial sleeps while the other runs; each must still train and log its own values."""
    sweep_run = store.create_run(
        "analysis", name="threads", source="sweep", tags={SWEEP_TAG: "threads"}
    )
    specs = []
    for number, (c, pause) in enumerate([(0.3, 1.0), (7.0, 0.0)]):
        run_id = uuid.uuid4().hex
        store.create_run(
            "analysis",
            source="sweep",
            parent_run_id=sweep_run.id,
            tags={SWEEP_TAG: "threads", TRIAL_TAG: str(number)},
            params={"C": c, "pause": pause},
            run_id=run_id,
        )
        specs.append(
            TrialSpec(
                sweep="threads",
                sweep_run_id=sweep_run.id,
                number=number,
                run_id=run_id,
                params={"C": c, "pause": pause},
                metric="acc",
                goal="max",
                pruner=None,
                experiment="analysis",
                pipeline=str(pipeline),
                store_url=store.url,
                blob_url=store.blob_url,
            )
        )
    from jupyter_mltrack.models.artifacts import read_bytes
    from jupyter_mltrack.sweeps.executors import _run_on_worker

    outcomes: dict[int, TrialOutcome] = {}
    threads = [
        threading.Thread(target=lambda s=s: outcomes.__setitem__(s.number, _run_on_worker(s, 1)))
        for s in specs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [outcomes[s.number].state for s in specs] == ["finished", "finished"], outcomes
    for spec in specs:
        run = store.get_run(spec.run_id)
        assert run.status is RunStatus.FINISHED and run.params["C"] == spec.params["C"]
        logged = json.loads(read_bytes(store, store.get_artifact(run.id, "trial.json")))
        assert logged == spec.params  # trained with its own values
        assert run.metrics["acc"] == outcomes[spec.number].value


def test_a_worker_killed_mid_trial_has_its_trial_run_again_into_the_same_run(
    pipeline: Path, store: Store, team: Team, cluster: Any
) -> None:
    """The slow trial's worker (the pid its run records) is SIGKILLed while the trial
    sleeps; the scheduler runs the task again on a worker alive, the trial starts its own
    run over, and the sweep ends with exactly its 4 trials, each recorded once."""
    ended: dict[str, Any] = {}

    def drive() -> None:
        try:
            ended["result"] = api.sweep(
                pipeline,
                {"pause": [0.0, 0.001, 0.002, SLOW]},  # one slow trial of four
                "acc",
                sampler="grid",
                jobs=2,
                executor=cluster,
                name="killed",
                store=store,
                progress=False,
            )
        except BaseException as exc:  # noqa: BLE001 (re-raised by the test)
            ended["error"] = exc

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    watcher = team.store()
    try:
        pids = worker_pids(cluster)
        slow_run, killed = None, None
        deadline = time.monotonic() + 120
        while killed is None:
            assert driver.is_alive(), ended
            assert time.monotonic() < deadline, "the slow trial never started in a worker"
            sweep = find_sweep_or_none(watcher, "killed")
            for run in trials_of(watcher, sweep.id) if sweep else []:
                if run.params.get("pause") == SLOW and run.status is RunStatus.RUNNING:
                    pid = watcher.get_run_detail(run.id).pid
                    if pid in pids:  # the worker took the trial over: it sleeps now
                        slow_run, killed = run, pid
            if killed is None:
                time.sleep(0.02)
        os.kill(killed, signal.SIGKILL)
        killed_at = time.time()
        driver.join(timeout=180)
        assert not driver.is_alive(), "the sweep did not end"
        if "error" in ended:
            raise ended["error"]
        result = ended["result"]
        assert result.counts() == {"finished": 4}, result.to_dict()
        runs = assert_each_trial_once(store, result.run_id, 4)
        (again,) = [r for r in runs if r.params.get("pause") == SLOW]
        assert again.id == slow_run.id and again.tags[TRIAL_TAG] == slow_run.tags[TRIAL_TAG]
        assert again.status is RunStatus.FINISHED and "acc" in again.metrics
        assert again.start_time >= killed_at  # started over after the kill
        detail = store.get_run_detail(again.id)
        assert detail.pid != killed and detail.error is None
        with contextlib.suppress(ProcessLookupError):
            os.kill(killed, 0)
            pytest.fail("the killed worker is alive")
    finally:
        watcher.close()


#: A sweep's driver in a process of its own, on the local pool of 2 workers, as a user may
#: write it: no ``__main__`` guard (the workers must not run it: each is spawned hiding it).
DRIVER = """
import sys
from jupyter_mltrack.store import Store
from jupyter_mltrack.sweeps import api
api.sweep(sys.argv[2], {"pause": [0.0, float(sys.argv[3])]}, "acc", sampler="grid", jobs=2,
          name="orphan", store=Store(sys.argv[1]), progress=False)
"""


def test_local_workers_die_with_their_killed_driver_and_resume_finishes_the_sweep(
    session: Session, pipeline: Path
) -> None:
    """Where trials run when no cluster is given: a local pool. Its driver SIGKILLed while
    its slow trial runs (a kernel killed), the workers die with it at once — none waits
    forever for work, none finishes a trial a resumed sweep is running again — and the
    resumed sweep runs that trial again into its own run: two trials, each recorded once."""
    import psutil

    script = session.root / "orphan.py"
    script.write_text(DRIVER)
    pause = SLOW / 3
    driver = subprocess.Popen(
        [sys.executable, str(script), str(session.home), str(pipeline), str(pause)],
        cwd=session.root,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = session.store()
    children: list[psutil.Process] = []
    try:
        sweep, slow = None, None
        deadline = time.monotonic() + 120
        while slow is None:
            if driver.poll() is not None:
                pytest.fail(f"the sweep ended before it was killed: {driver.stderr.read()}")
            assert time.monotonic() < deadline, "the slow trial never started in a worker"
            sweep = find_sweep_or_none(store, "orphan")
            for run in trials_of(store, sweep.id) if sweep else []:
                # running in its worker (which took the run over from the driver): it sleeps
                if (
                    run.params.get("pause") == pause
                    and run.status is RunStatus.RUNNING
                    and store.get_run_detail(run.id).pid != driver.pid
                ):
                    slow = run.id
            time.sleep(0.02)
        children = psutil.Process(driver.pid).children(recursive=True)
        driver.kill()
        driver.wait()
        assert len(children) >= 2  # the two workers (and multiprocessing's tracker)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, "processes of the sweep outlived its driver"
        assert store.get_run(slow).status is RunStatus.CRASHED  # its worker died with it
        result = api.resume("orphan", store=store, progress=False)
        runs = trials_of(store, sweep.id)
        assert sorted(r.params["pause"] for r in runs) == [0.0, pause]
        assert all(r.status is RunStatus.FINISHED for r in runs)
        assert slow in {r.id for r in runs} and result.counts() == {"finished": 2}
    finally:
        if driver.poll() is None:
            driver.kill()
        for child in children:  # what a failure left
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        store.close()


#: A sweep's driver in a process of its own, on a Dask cluster it did not start; it loads
#: what it needs while the cluster warms up, and sweeps once told to go.
CLUSTER_DRIVER = """
import os, sys, time
import distributed, optuna
from jupyter_mltrack.store import Store
from jupyter_mltrack.sweeps import api
home, pipeline, gate, address = sys.argv[1:5]
store = Store(home)
while not os.path.exists(os.path.join(gate, "go")):
    time.sleep(0.02)
api.sweep(pipeline, {"C": [0.5, 1.0, 2.0, 4.0], "gate": [gate]}, "acc", sampler="grid",
          jobs=2, executor=address, name="orphans", store=store, progress=False)
"""


@dataclass
class Cluster:
    """A Dask scheduler and workers, each a process of its own (as ``dask scheduler`` and
    ``dask worker`` on a cluster): they outlive any driver."""

    folder: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = dataclasses.field(default_factory=list)
    address: str = ""

    def start(self, workers: int) -> None:
        info = self.folder / "scheduler.json"
        self._spawn("distributed.cli.dask_scheduler", "--scheduler-file", str(info),
                    "--port", "0", "--no-dashboard", "--host", "127.0.0.1")  # fmt: skip
        deadline = time.monotonic() + 120
        while not self.address:  # the scheduler writes its address once it listens
            assert self.processes[0].poll() is None, "the scheduler exited"
            assert time.monotonic() < deadline, "the scheduler did not start"
            with contextlib.suppress(OSError, ValueError):  # not there, or half written
                self.address = json.loads(info.read_text())["address"]
            time.sleep(0.05)
        for _ in range(workers):
            self.add_worker()

    def add_worker(self) -> None:
        self._spawn("distributed.cli.dask_worker", self.address, "--nthreads", "1",
                    "--no-nanny", "--no-dashboard", "--host", "127.0.0.1")  # fmt: skip

    def _spawn(self, module: str, *args: str) -> None:
        with open(self.folder / f"process-{len(self.processes)}.log", "wb") as log:
            self.processes.append(
                subprocess.Popen([sys.executable, "-m", module, *args], env=self.env,
                                 cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
            )  # fmt: skip

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.kill()
            process.wait()


def set_paused(client: Any, workers: list[str], paused: bool) -> None:
    """Pause (or resume) workers as Dask does when one runs out of memory: a paused worker
    finishes the task it runs, and the scheduler gives it no other; returns once the
    scheduler knows."""
    from distributed.core import Status

    def flip(dask_worker: Any) -> None:
        dask_worker.status = Status.paused if paused else Status.running

    client.run(flip, workers=workers)
    wanted = "paused" if paused else "running"
    deadline = time.monotonic() + 60
    while any(client.scheduler_info()["workers"][w]["status"] != wanted for w in workers):
        assert time.monotonic() < deadline, f"the scheduler never saw {workers} {wanted}"
        time.sleep(0.02)


def trial_record(store: Store, run_id: str) -> dict[str, Any]:
    """Everything a trial's run holds: its row (``updated_at`` and ``heartbeat_at`` too),
    detail (params, metrics and their series, error, owner), tags and artifacts."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM runs WHERE id = :r"), {"r": run_id}).one()
    detail = store.get_run_detail(run_id)
    return {
        "row": dict(row._mapping),
        "detail": detail.to_dict(),
        "pid": detail.pid,
        "artifacts": [(a.name, [f.digest for f in a.files]) for a in store.list_artifacts(run_id)],
    }


def test_a_trial_still_running_on_a_cluster_when_its_driver_dies_never_mixes_into_its_rerun(
    pipeline: Path, tmp_path: Path
) -> None:
    """A cluster outlives its sweep's driver: the driver, a process of its own, is SIGKILLed
    while its 2 trials run on the cluster's 2 workers (held at a gate). Resumed without
    waiting for them (as after ``ORPHAN_WAIT``), the sweep hands them out again, as new
    attempts, to a third worker (the two are paused, as Dask pauses a worker short of
    memory), and ends with exactly its 4 trials. Only then are the orphans let go: they
    train, log and end, and every one of their writes is refused; the workers live on, and
    not a byte of any trial's record changes: each holds one attempt's values (its ``curve``
    a function of its C, logged once; ``held`` never the orphans' 1.0)."""
    from distributed import Client

    from jupyter_mltrack.sweeps.records import ATTEMPT_TAG

    grid = [0.5, 1.0, 2.0, 4.0]
    gate, home = tmp_path / "gate", tmp_path / "store"
    gate.mkdir()
    for c in grid:
        (gate / f"hold-{c}").touch()
    (tmp_path / "tmp").mkdir()
    env = _env(
        tmp_path / ".mltrack",
        TMPDIR=str(tmp_path / "tmp"),
        # a worker paused here stays paused (its memory monitor resumes one it did not pause)
        DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE="False",
        **{SPOOL_ENV: str(tmp_path / "spool")},
    )
    cluster = Cluster(tmp_path, env)
    client = driver = None
    store = Store(str(home))
    try:
        cluster.start(workers=3)
        script = tmp_path / "driver.py"
        script.write_text(CLUSTER_DRIVER)
        address = cluster.address.replace("tcp://", "dask://")
        driver = subprocess.Popen(
            [sys.executable, str(script), str(home), str(pipeline), str(gate), address],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        client = Client(cluster.address, set_as_default=False)
        client.wait_for_workers(3)
        first, second, spare = sorted(client.nthreads())
        set_paused(client, [spare], True)  # the driver's trials go to the other two
        (gate / "go").touch()  # (both idle: each takes one)
        deadline = time.monotonic() + 180
        while len(list(gate.glob("started-*"))) < 2:  # each trial took its run, and waits
            if driver.poll() is not None:
                pytest.fail(f"the sweep ended before it was killed: {driver.stderr.read()}")
            assert time.monotonic() < deadline, "the trials never started"
            time.sleep(0.02)
        driver.kill()
        driver.wait()
        sweep = find_sweep_or_none(store, "orphans")
        assert sweep is not None
        held = {r.params["C"]: r for r in trials_of(store, sweep.id)}
        assert len(held) == 2 and all(r.status is RunStatus.RUNNING for r in held.values())
        for c in grid:  # the trials not asked for yet will not wait at the gate
            if c not in held:
                (gate / f"hold-{c}").unlink()
        set_paused(client, [first, second], True)
        set_paused(client, [spare], False)

        # at once: on the cluster the sweep was started on, the orphans still running
        result = api.resume("orphans", store=store, progress=False, wait_for_running=0)

        assert result.counts() == {"finished": 4}, result.to_dict()
        runs = assert_each_trial_once(store, sweep.id, 4)
        assert {r.params["C"] for r in runs} == set(grid)
        spare_pid = client.run(os.getpid, workers=[spare])[spare]
        before = {r.id: trial_record(store, r.id) for r in runs}
        for orphan in held.values():  # run again into its own run, as a new attempt
            record = before[orphan.id]
            assert record["pid"] == spare_pid
            assert record["detail"]["tags"][ATTEMPT_TAG] != orphan.tags[ATTEMPT_TAG]
        assert not [c for c in held if (gate / f"released-{c}").exists()]  # still held

        for c in held:
            (gate / f"hold-{c}").unlink()
        set_paused(client, [first, second], False)
        # a task of each of their workers runs once its orphan has ended (one thread each)
        ended = [client.submit(os.getpid, workers=[w], pure=False) for w in (first, second)]
        client.gather(ended)
        # the orphans went on past the gate, to train, log and end, and their workers live
        assert all((gate / f"released-{c}").exists() for c in held)
        assert all(process.poll() is None for process in cluster.processes)
        after = {r.id: trial_record(store, r.id) for r in trials_of(store, sweep.id)}
        assert after == before
        steps = int(pipeline_params(pipeline)["steps"])
        for run in runs:
            c = run.params["C"]
            series = store.get_run_detail(run.id).metric_series
            assert [(p.step, p.value) for p in series["curve"]] == [
                (s, c * (s + 1)) for s in range(steps)
            ]
            assert [p.value for p in series["held"]] == [0.0]  # never an orphan's
            assert run.status is RunStatus.FINISHED
            assert run.metrics["acc"] == next(t.value for t in result.trials if t.id == run.id)
        assert read_result(store, store.get_run(sweep.id)).to_dict() == result.to_dict()
    finally:
        if driver is not None and driver.poll() is None:
            driver.kill()
            driver.wait()
        if client is not None:
            client.close()
        cluster.stop()


def test_a_local_worker_killed_mid_trial_fails_that_trial_alone_and_is_replaced(
    session: Session, pipeline: Path
) -> None:
    """In a local pool, the worker running the slow trial is SIGKILLed: that trial fails
    (its run says its worker died), the other trial ends, and the pool, kept, has a new
    worker in the dead one's place, in which the next sweep runs."""
    store = session.store()
    pause = SLOW / 3
    ended: dict[str, Any] = {}

    def drive() -> None:
        try:
            ended["result"] = api.sweep(
                pipeline, {"pause": [0.0, pause]}, "acc", sampler="grid", jobs=2,
                name="local-killed", store=store, progress=False,
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 (re-raised by the test)
            ended["error"] = exc

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        killed = None
        deadline = time.monotonic() + 120
        while killed is None:
            assert driver.is_alive(), ended
            assert time.monotonic() < deadline, "the slow trial never started in a worker"
            sweep = find_sweep_or_none(store, "local-killed")
            for run in trials_of(store, sweep.id) if sweep else []:
                pid = store.get_run_detail(run.id).pid
                slow = run.params.get("pause") == pause and run.status is RunStatus.RUNNING
                if slow and pid != os.getpid():  # its worker took it over: it sleeps
                    killed = pid
            time.sleep(0.02)
        os.kill(killed, signal.SIGKILL)
        driver.join(timeout=120)
        assert not driver.is_alive(), "the sweep did not end"
        if "error" in ended:
            raise ended["error"]
        result = ended["result"]
        assert result.counts() == {"failed": 1, "finished": 1}, result.to_dict()
        (failed,) = [t for t in result.trials if t.state == "failed"]
        assert failed.params == {"pause": pause} and "worker died" in (failed.error or "")
        (done,) = [t for t in result.trials if t.state == "finished"]
        alive = store.get_run_detail(done.run_id).pid
        (kept,) = [p for p in sweep_pool.kept() if alive in p.pids()]
        assert killed not in kept.pids()
        deadline = time.monotonic() + 60
        while len(kept.pids()) < 2:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.02)
        after = api.sweep(
            pipeline, {"pause": [0.0, 0.001]}, "acc", sampler="grid", jobs=2,
            name="after-kill", store=store, progress=False,
        )  # fmt: skip
        assert after.counts() == {"finished": 2}
        pids = {store.get_run_detail(t.run_id).pid for t in after.trials}
        assert pids <= set(kept.pids()) and killed not in pids
    finally:
        driver.join(timeout=30)
        store.close()
