"""Benchmark 11, part d: the folder and the file of parts a and b on an S3-compatible team
store, ours against MLflow, both on the same S3 server.

Issue 14's "≥ 3× faster than MLflow for the folder (dedup and parallel writes)" matters
most where every file is a request: a team store's blobs on S3-compatible storage, which
ours writes ``WRITERS`` at a time (``models/artifacts.py``) and skips when already there,
where MLflow's ``S3ArtifactRepository.log_artifacts`` uploads the files one by one.

The server is moto's, in server mode, a process of its own (``tests/s3.py``, as the team
store's tests use it), on the same machine: every request goes over local HTTP to a Python
process sharing the 2 cores with the benchmark. Absolute times are far from a real S3 (no
network latency, but a slow server); both tools talk to the same one.

* **ours**: the store as a team configures it (``MLTRACK_BLOB_URL=s3://bucket/team``, the
  records in a local SQLite file as in parts a-b), its blobs in a new, empty bucket every
  repetition; ``mltrack.log_artifact`` through s3fs;
* **MLflow**: its SQLite tracking store (WAL, synchronous=NORMAL) as in parts a-b, and
  ``s3://bucket/artifacts`` as the experiment's artifact location
  (``MLFLOW_S3_ENDPOINT_URL`` names the server); ``mlflow.log_artifacts`` /
  ``log_artifact`` through boto3.

Timed as in parts a-b: the first log, a second log of the same content by another run (ours
stores nothing new; MLflow uploads again), and reading back into a fresh folder
(``get_artifact`` + ``materialize(link=False)`` against
``mlflow.artifacts.download_artifacts(dst_path=…)``), each read-back checked byte for byte
against the source. The order of the tools alternates from one repetition to the next;
a repetition's objects are deleted before the next. A folder repetition takes about a
minute on moto's server, so part d runs fewer repetitions than parts a-b, after one untimed
warm-up on a small folder and file (:func:`warmup_data`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.artifacts import (
    TARGETS,
    Ours,
    PathBench,
    Theirs,
    _mb,
    _row,
    same_tree,
    speedup,
)
from bench.common import met

#: The bucket MLflow's artifact location is in (ours get a new one each repetition).
MLFLOW_BUCKET = "mlflow-artifacts"
#: Where a team store keeps its blobs in its bucket (``MLTRACK_BLOB_URL``'s path).
PREFIX = "team"


def available() -> str | None:
    """Why the S3 part cannot run here (a package of the ``test`` extra missing), or None."""
    import importlib.util

    for module, package in (("s3fs", "s3fs"), ("moto", "moto[server]"), ("boto3", "boto3")):
        if importlib.util.find_spec(module) is None:
            return f"needs {package} (pip install -e '.[test]')"
    return None


@contextlib.contextmanager
def s3_environment(endpoint: str) -> Iterator[None]:
    """The environment a team sets for the server (credentials; the endpoint for s3fs,
    boto3 and MLflow), restored after: parts c and later must not see it."""
    import fsspec.config

    from tests.s3 import CREDENTIALS

    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
    }
    from jupyter_mltrack.location import BLOB_URL_ENV

    saved = {k: os.environ.get(k) for k in (*env, BLOB_URL_ENV)}
    saved_conf = fsspec.config.conf.get("s3")
    os.environ.update(env)
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if saved_conf is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved_conf


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def empty(s3: Any, bucket: str, prefix: str = "") -> None:
    """Delete every object under ``prefix`` (1,000 per request)."""
    found = keys(s3, bucket, prefix)
    for i in range(0, len(found), 1000):
        batch = [{"Key": k} for k in found[i : i + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


class OursS3(Ours):
    """Ours with its blobs in a new bucket of the server for every fresh store."""

    def __init__(self, root: Path, s3: Any) -> None:
        super().__init__(root)
        self.s3 = s3
        self.bucket: str | None = None

    def fresh_store(self) -> Path:
        from jupyter_mltrack.location import BLOB_URL_ENV

        self.drop_bucket()
        self.bucket = f"ours-{self.count + 1}"
        self.s3.create_bucket(Bucket=self.bucket)
        os.environ[BLOB_URL_ENV] = f"s3://{self.bucket}/{PREFIX}"  # read by the new store
        return super().fresh_store()

    def drop_bucket(self) -> None:
        if self.bucket is not None:
            empty(self.s3, self.bucket)
            self.s3.delete_bucket(Bucket=self.bucket)
            self.bucket = None

    def delete_stores(self) -> None:
        super().delete_stores()
        self.drop_bucket()

    def objects(self) -> int:
        assert self.bucket is not None
        return len(keys(self.s3, self.bucket))


class TheirsS3(Theirs):
    """MLflow with its local SQLite tracking store and an ``s3://`` artifact location."""

    def __init__(self, root: Path, s3: Any) -> None:
        s3.create_bucket(Bucket=MLFLOW_BUCKET)
        super().__init__(root, artifact_location=f"s3://{MLFLOW_BUCKET}/artifacts")
        self.s3 = s3

    def delete_runs(self) -> None:
        empty(self.s3, MLFLOW_BUCKET)

    def objects(self, run_id: str) -> int:
        return len(keys(self.s3, MLFLOW_BUCKET, f"artifacts/{run_id}/"))


class S3PathBench(PathBench):
    """Part a's or b's logs and read-back, with both tools' artifacts on the server."""

    ours: OursS3
    theirs: TheirsS3

    def mine(self) -> None:
        dl = self.scratch / f"dl{self.rep}"
        self.ours.fresh_store()
        with self.ours.run() as first:
            self.log_ours("ours_first", rehash=True)
        if self.rep == 0:
            self.checks["ours_objects"] = self.ours.objects()
        with self.ours.run():
            self.log_ours("ours_second", rehash=False)
        out = self.call(
            "ours_download", lambda: self.ours.download(first, self.name, dl / "ours", link=False)
        )
        if self.rep == 0:
            self.checks["downloads_identical"] = same_tree(self.src, out)
            self.checks["ours_objects_after"] = self.ours.objects()

    def theirs_(self) -> None:
        import mlflow

        dl = self.scratch / f"dl{self.rep}" / "mlflow"
        with self.theirs.run() as first:
            self.call("mlflow_first", self.log_mlflow)
        with self.theirs.run() as second:
            self.call("mlflow_second", self.log_mlflow)
        if self.rep == 0:
            self.checks["mlflow_objects"] = self.theirs.objects(first)
            self.checks["mlflow_objects_second"] = self.theirs.objects(second)
        dl.mkdir(parents=True)
        out = self.call(
            "mlflow_download",
            lambda: mlflow.artifacts.download_artifacts(
                run_id=first, artifact_path=self.name, dst_path=str(dl)
            ),
        )
        if self.rep == 0:
            self.checks["mlflow_download_identical"] = same_tree(self.src, Path(out))

    def run(self, reps: int) -> dict[str, Any]:
        for rep in range(self.warmup + reps):
            self.rep = rep
            for step in (self.mine, self.theirs_) if rep % 2 == 0 else (self.theirs_, self.mine):
                step()
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.ours.delete_stores()
            self.theirs.delete_runs()
        out = self.summaries()
        out["checks"] = self.checks
        out["data"] = {"files": self.data["files"], "bytes": self.data["bytes"]}
        return out


def bench_s3(
    root: Path, folder: dict[str, Any], big: dict[str, Any], p: dict[str, Any], *, tls: bool = False
) -> Any:
    """Part d under ``root``: the folder and the file of parts a and b (made by the caller),
    on a moto server started here and stopped at the end; ``tls``: over HTTPS, as S3 is
    reached (see ``tests/s3.py``). MLflow's tracking URI is put back as it was (part c logs
    models through it)."""
    why = available()
    if why is not None:
        return {"skipped": why}
    import mlflow

    from tests.s3 import s3_client, s3_server

    tracking = mlflow.get_tracking_uri()
    t0 = time.perf_counter()
    try:
        with s3_server(tls=tls) as endpoint, s3_environment(endpoint):
            s3 = s3_client(endpoint)
            ours = OursS3(root / "ours-s3", s3)
            theirs = TheirsS3(root / "mlflow-s3", s3)
            scratch = root / "scratch-s3"
            try:
                for data in warmup_data(root / "warmup-s3"):
                    S3PathBench(ours, theirs, scratch, data, p["s3_warmup"]).run(0)
                out: dict[str, Any] = {
                    "server": "moto (python -m moto.server), a local process",
                    "scheme": "https" if tls else "http",
                    "folder": S3PathBench(ours, theirs, scratch, folder, 0).run(p["s3_reps"]),
                    "file": S3PathBench(ours, theirs, scratch, big, 0).run(p["s3_file_reps"]),
                }
            finally:
                ours.delete_stores()
                shutil.rmtree(root / "warmup-s3", ignore_errors=True)
    finally:
        mlflow.set_tracking_uri(tracking)
    out["duration_s"] = time.perf_counter() - t0
    out["targets"] = targets(out)
    return out


def warmup_data(root: Path) -> list[dict[str, Any]]:
    """A small folder (20 files) and a 9 MiB file, logged and read back untimed by both
    tools before the timed repetitions: imports, clients, connections, and both tools'
    paths for large files (MLflow's boto3 uploads above 8 MiB in parts). A warm-up
    repetition of the full data would cost a timed one's minute on this server."""
    from bench.artifacts import make_file, make_folder

    small = {"files": 20, "subfolders": 2, "min_kb": 1, "max_kb": 8}
    return [make_folder(root, small), make_file(root, 9)]


def targets(r: dict[str, Any]) -> dict[str, bool]:
    f, s = r["folder"], r["file"]
    goal, file_goal = TARGETS["folder_speedup"], TARGETS["file_speedup"]
    return {
        "s3_folder_first_log_3x": speedup(f, "ours_first", "mlflow_first") >= goal,
        "s3_folder_second_log_3x": speedup(f, "ours_second", "mlflow_second") >= goal,
        "s3_folder_download_3x": speedup(f, "ours_download", "mlflow_download") >= goal,
        "s3_file_first_log_no_slower": speedup(s, "ours_first", "mlflow_first") >= file_goal,
    }


def _rows(r: dict[str, Any], what: str) -> list[str]:
    c = r["checks"]
    stored = c["stored_bytes"]
    again = stored.get("ours_second")
    store = "nothing new stored" if again == 0 else f"STORED AGAIN: {again} bytes"
    log = "mlflow.log_artifact(file)" if what == "file" else "mlflow.log_artifacts(folder)"
    return [
        "      first log",
        _row(
            f"ours  mltrack.log_artifact, empty bucket ({c['ours_objects']:,} objects)",
            r,
            "ours_first",
        ),
        _row(f"MLflow {log} ({c['mlflow_objects']:,} objects)", r, "mlflow_first", "ours_first"),
        f"      second log of the same {what} by another run (ours: {store},"
        f" {c['ours_objects_after']:,} objects; MLflow: {c['mlflow_objects_second']:,} more)",
        _row("ours  mltrack.log_artifact (digests cached in this process)", r, "ours_second"),
        _row("MLflow (uploads again)", r, "mlflow_second", "ours_second"),
        f"      read back into a fresh folder (identical: ours {c['downloads_identical']},"
        f" MLflow {c.get('mlflow_download_identical')})",
        _row("ours  get_artifact + materialize(link=False)", r, "ours_download"),
        _row(
            "MLflow mlflow.artifacts.download_artifacts(dst_path=…)",
            r,
            "mlflow_download",
            "ours_download",
        ),
    ]


def report(r: dict[str, Any], p: dict[str, Any]) -> list[str]:
    """Part d's lines of benchmark 11's report."""
    if "skipped" in r:
        return [f"   d. on an S3-compatible team store: skipped, {r['skipped']}"]
    f, s, t = r["folder"], r["file"], r["targets"]
    head = f"      {'':<74}{'median':>9}{'p90':>9}   MLflow÷ours"
    return [
        f"   d. on an S3-compatible team store: median / p90 of {p['s3_reps']} (file:"
        f" {p['s3_file_reps']}) after {p['s3_warmup']} untimed warm-up on a 20-file folder and"
        " a 9 MiB file. Ours: MLTRACK_BLOB_URL="
        f"s3://<new bucket>/{PREFIX} (s3fs), MLflow: artifact location s3://{MLFLOW_BUCKET}/"
        "artifacts (boto3); tracking stores local SQLite as above",
        "      the server is moto's, a Python process on the same 2 cores: absolute times are"
        f" far from a real S3, but both tools hit the same server (part d: {r['duration_s']:.0f} s)",
        "      over "
        + (
            "HTTPS, as S3 is reached (a certificate made for the run, trusted by both through"
            " AWS_CA_BUNDLE): bodies checksummed, not signed"
            if r.get("scheme") == "https"
            else "plain HTTP: botocore signs every request body (SHA-256), as it does not over"
            " HTTPS"
        ),
        f"   d1. the folder ({f['data']['files']:,} files, {_mb(f['data']['bytes'])})",
        head,
        *_rows(f, "folder"),
        f"      target >= {TARGETS['folder_speedup']:g}x MLflow: first log"
        f" {speedup(f, 'ours_first', 'mlflow_first'):.2f}x {met(t['s3_folder_first_log_3x'])},"
        f" second log {speedup(f, 'ours_second', 'mlflow_second'):.2f}x"
        f" {met(t['s3_folder_second_log_3x'])}, read back"
        f" {speedup(f, 'ours_download', 'mlflow_download'):.2f}x"
        f" {met(t['s3_folder_download_3x'])}",
        f"   d2. the single file ({_mb(s['data']['bytes'])})",
        head,
        *_rows(s, "file"),
        f"      target no slower than MLflow: first log"
        f" {speedup(s, 'ours_first', 'mlflow_first'):.2f}x"
        f" {met(t['s3_file_first_log_no_slower'])}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Part d alone (``python -m bench.artifacts_s3``): the folder and the file of parts a
    and b made here, logged and read back on a new moto server; the report printed with the
    load average before and after, and the result saved to
    ``bench/results/latest-artifacts-s3.json`` (``quick-…`` with ``--quick``)."""
    import argparse
    import json

    from bench.artifacts import BENCH_TMP, FULL, QUICK, make_file, make_folder, touch_memory
    from bench.common import REPO, isolate

    parser = argparse.ArgumentParser(description="benchmark 11, part d (S3) alone")
    parser.add_argument(
        "--quick", action="store_true", help="QUICK's sizes (figures not meaningful)"
    )
    parser.add_argument(
        "--tls", action="store_true", help="over HTTPS (a certificate made for the run)"
    )
    args = parser.parse_args(argv)
    p = QUICK if args.quick else FULL
    root = isolate() / "artifacts"
    tmp = root / BENCH_TMP
    tmp.mkdir(parents=True)
    import tempfile

    before_tmp, tempfile.tempdir = tempfile.tempdir, str(tmp)
    try:
        load_before = os.getloadavg()
        touched = touch_memory(p["touch_gb"])  # as the full section does before part a
        data = root / "data"
        data.mkdir()
        out = bench_s3(root, make_folder(data, p), make_file(data, p["file_mb"]), p, tls=args.tls)
        out["memory_touched"] = touched
        out["loadavg"] = {"before": load_before, "after": os.getloadavg()}
    finally:
        tempfile.tempdir = before_tmp
        shutil.rmtree(root.parent, ignore_errors=True)
    lines = report(out, p)
    la = out.get("loadavg", {})
    fmt = "/".join  # noqa: E731
    lines.append(
        "   load average before "
        + fmt(f"{x:.2f}" for x in la.get("before", ()))
        + ", after "
        + fmt(f"{x:.2f}" for x in la.get("after", ()))
    )
    print("\n".join(lines))
    name = f"{'quick' if args.quick else 'latest'}-artifacts-s3{'-tls' if args.tls else ''}.json"
    output = REPO / "bench" / "results" / name
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps({"s3": out, "table": "\n".join(lines)}, indent=2, default=str) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
