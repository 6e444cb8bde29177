"""The local spool: the writes a store could not take, kept in order until it can.

A team store goes away (PostgreSQL restarted, the network dropped) while a notebook keeps
running. Tracking must not break the cell, and what the cell recorded must not be lost:
:class:`SpoolingStore` (the store the kernel and scripts record into) catches a write that
failed because the database could not be reached or written (:func:`.errors.unavailable`),
appends it to a journal of its own — a small SQLite file on local disk, one per store — and
sends every later write there too, in order, until the journal has been written to the
store (:meth:`SpoolingStore.drain`: the kernel's background worker tries every few seconds;
``mltrack sync`` does it for a process that has exited). A run created while the store was
away gets its number when it is written.

Why a journal of the store's own write calls, rather than a local store to copy runs from:
a run opened before the store went away has its creation there and its final write here;
replaying the calls in order covers that, a run created offline, and the execution log, with
one mechanism. The calls are replayed through the same :class:`.store.Store` methods, so
what lands in the database is exactly what a direct write would have made. Each entry is
JSON (values the cell recorded already encoded by :func:`..jsonsafe.to_json`): nothing in
the spool can run code when read.

What is not spooled: heartbeats (the run is alive in this process; its final write says
how it ended); a run's environment goes with its final write. Snapshots of data taken while
the store is away go to a local store beside the spool (:meth:`SpoolingStore.snapshot_store`)
and are copied to the store, sending only the blocks it lacks, before the first spooled write
that links them (:mod:`.transfer`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..jsonsafe import to_json
from . import blob_holds
from .entities import Environment, MetricPoint, Run, RunStatus
from .errors import StoreUnavailable, reason, unavailable
from .snapshot_records import DataLink
from .store import Store

_T = TypeVar("_T")

#: Where spool files go: ``MLTRACK_SPOOL_DIR``, else ``$XDG_DATA_HOME/mltrack/spool``.
SPOOL_ENV = "MLTRACK_SPOOL_DIR"
#: How often a process that spooled tries to write the spool to the store again.
RETRY_INTERVAL = 5.0
#: What to do with writes the store refused (said by the kernel and by ``mltrack sync``).
KEPT_ASIDE = (
    "refused writes are kept aside: `mltrack sync --retry` writes them again once the cause"
    " is fixed, `mltrack sync --discard all` (or their numbers) drops them"
)

#: Picks set-aside writes: all (first parameter true), or those whose numbers the second
#: parameter lists as JSON (literal SQL: the numbers go as a bound parameter).
_PICKED = " WHERE (? OR seq IN (SELECT value FROM json_each(?)))"
_SET_ASIDE = "SELECT seq, op, args, error, at FROM failed" + _PICKED + " ORDER BY seq"
_REQUEUE = (
    "INSERT INTO entries (seq, op, args, pid, created)"
    " SELECT seq, op, args, ?, at FROM failed" + _PICKED
)
_FORGET = "DELETE FROM failed" + _PICKED

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS store (url TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " op TEXT NOT NULL, args TEXT NOT NULL, pid INTEGER NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS failed (seq INTEGER PRIMARY KEY, op TEXT NOT NULL,"
    " args TEXT NOT NULL, error TEXT NOT NULL, at REAL NOT NULL)",
)


def spool_dir() -> Path:
    """The folder of this user's spool files."""
    env = os.environ.get(SPOOL_ENV)
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(data) / "mltrack" / "spool"


def shown_url(url: str) -> str:
    """``url`` without its password: what a spool file records and messages show."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def spool_path(url: str, folder: Path | None = None) -> Path:
    """The spool file of the store at ``url`` (one per store, shared by its processes;
    named after the URL as the store resolves it, without its password)."""
    from ..location import resolve_store_url

    digest = hashlib.sha256(shown_url(resolve_store_url(url)).encode()).hexdigest()[:16]
    return (folder or spool_dir()) / f"{digest}.sqlite"


def spooled_blobs(url: str) -> set[str] | None:
    """The blobs named by the artifacts this host's spool keeps for the store at ``url``
    (their files' and packs'). They were stored when the artifact was logged, but no row
    names them until the replay writes it, perhaps hours later: ``gc`` keeps them as if a
    row did, else the replay would record an artifact whose bytes were deleted. ``None``
    when the spool cannot be read (damaged, locked past its timeout): then nothing
    unrecorded may be deleted."""
    spool = Spool(spool_path(url))
    if not spool.exists():
        return set()
    try:
        found: set[str] = set()
        for args in spool.kept("record_artifact"):
            for row in args.get("files") or []:
                found.update(str(part) for part in (row[1], *row[3:4]) if part)
        return found
    except (sqlite3.Error, OSError, ValueError, TypeError, IndexError):
        return None
    finally:
        spool.close()


# the entries' encoding ---------------------------------------------------------------------


def _encode(value: Any) -> Any:
    """Arguments of a store call as JSON: points, bytes and statuses marked, tuples as lists."""
    if isinstance(value, MetricPoint):
        return {"$point": [value.key, value.value, value.step, value.timestamp]}
    if isinstance(value, RunStatus):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if "$point" in value:
                key, number, step, stamp = value["$point"]
                return MetricPoint(key, float(number), int(step), float(stamp))
            if "$bytes" in value:
                return base64.b64decode(value["$bytes"])
            if "$json" in value:  # a value the cell recorded, encoded as the store would
                return value["$json"]
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _values(mapping: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Recorded values (params) encoded now, as the store encodes them, and marked so that
    decoding leaves them alone (a user's dict may hold any key)."""
    if mapping is None:
        return None
    return {str(k): {"$json": to_json(v)} for k, v in mapping.items()}


# the journal ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    seq: int
    op: str
    args: dict[str, Any]


@dataclass(frozen=True)
class SetAside:
    """A spooled write the store refused for a reason of its own (a run deleted meanwhile,
    an artifact name taken by a registered model version): kept until ``mltrack sync
    --retry`` writes it or ``--discard`` drops it."""

    seq: int
    op: str
    error: str
    at: float
    run_id: str | None
    #: The artifact a ``record_artifact`` write was for.
    artifact: str | None
    #: The blob hold that keeps that artifact's blobs from ``gc`` (see :mod:`.blob_holds`).
    hold: str | None

    @classmethod
    def of(cls, seq: int, op: str, args: str, error: str, at: float) -> SetAside:
        try:
            values = json.loads(args)
        except ValueError:
            values = {}
        values = values if isinstance(values, dict) else {}

        def text(key: str) -> str | None:
            value = values.get(key)
            return value if isinstance(value, str) else None

        artifact = text("name") if op == "record_artifact" else None
        hold = text("hold") if op == "record_artifact" else None
        return cls(int(seq), str(op), str(error), float(at), text("run_id"), artifact, hold)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "write": self.op,
            "run_id": self.run_id,
            "artifact": self.artifact,
            "error": self.error,
            "at": self.at,
        }


def _which(seqs: Collection[int] | None) -> tuple[int, str]:
    """The parameters of :data:`_PICKED` for the set-aside writes numbered ``seqs`` (all of
    them for ``None``)."""
    if seqs is None:
        return 1, "[]"
    return 0, json.dumps(sorted({int(s) for s in seqs}))


class Spool:
    """One store's journal of writes that could not be made (a SQLite file on local disk)."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self._url = url
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # spooled means durable
            with conn:
                for statement in _SCHEMA:
                    conn.execute(statement)
                if self._url is not None and not conn.execute("SELECT 1 FROM store").fetchone():
                    conn.execute("INSERT INTO store (url) VALUES (?)", (shown_url(self._url),))
            self._conn = conn
        return self._conn

    def exists(self) -> bool:
        return self.path.exists()

    @property
    def data_path(self) -> Path:
        """The folder of the local store that holds snapshots taken while the store could
        not be written (a SQLite store with its blobs), copied over before the runs that
        read them (:func:`.transfer.copy_snapshot`)."""
        return self.path.with_suffix(".data")

    def append(self, op: str, args: Mapping[str, Any]) -> None:
        """Keep one write (raises ``OSError``/``sqlite3.Error`` when even that fails)."""
        text = json.dumps(_encode(args), ensure_ascii=False)
        with self._lock:
            conn = self._connect()
            with conn:
                conn.execute(
                    "INSERT INTO entries (op, args, pid, created) VALUES (?, ?, ?, ?)",
                    (op, text, os.getpid(), time.time()),
                )

    def count(self) -> int:
        if self._conn is None and not self.exists():
            return 0
        with self._lock:
            return int(self._connect().execute("SELECT count(*) FROM entries").fetchone()[0])

    def entries(self) -> Iterator[Entry]:
        """The kept writes, oldest first (read in batches: the spool may be long)."""
        last = 0
        while True:
            with self._lock:
                rows = (
                    self._connect()
                    .execute(
                        "SELECT seq, op, args FROM entries WHERE seq > ? ORDER BY seq LIMIT 200",
                        (last,),
                    )
                    .fetchall()
                )
            if not rows:
                return
            for seq, op, args in rows:
                last = seq
                yield Entry(seq, op, _decode(json.loads(args)))

    def done(self, seq: int) -> None:
        with self._lock, self._connect() as conn:
            conn.execute("DELETE FROM entries WHERE seq = ?", (seq,))

    def fail(self, entry: Entry, error: str) -> None:
        """Set aside a write the store refused for a reason of its own (kept, and shown by
        ``mltrack sync``), so that it does not hold up those behind it."""
        with self._lock, self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO failed (seq, op, args, error, at)"
                " SELECT seq, op, args, ?, ? FROM entries WHERE seq = ?",
                (error, time.time(), entry.seq),
            )
            conn.execute("DELETE FROM entries WHERE seq = ?", (entry.seq,))

    def kept(self, op: str) -> Iterator[dict[str, Any]]:
        """The arguments of every kept write of ``op``, set-aside ones included (``mltrack
        sync`` may yet write those)."""
        with self._lock:
            rows = (
                self._connect()
                .execute(
                    "SELECT args FROM entries WHERE op = ? UNION ALL"
                    " SELECT args FROM failed WHERE op = ?",
                    (op, op),
                )
                .fetchall()
            )
        for (args,) in rows:
            yield _decode(json.loads(args))

    def set_aside(self, seqs: Collection[int] | None = None) -> list[SetAside]:
        """The writes the store refused (all, or those numbered ``seqs``), oldest first,
        with what they were for."""
        if self._conn is None and not self.exists():
            return []
        with self._lock:
            found = self._connect().execute(_SET_ASIDE, _which(seqs)).fetchall()
        return [SetAside.of(*row) for row in found]

    def requeue(self, seqs: Collection[int] | None = None) -> int:
        """Put set-aside writes (all, or those numbered ``seqs``) back in the queue, under
        their own numbers, so that the next replay tries them again in their first order
        (once what made the store refuse them is fixed). Returns how many."""
        picked = _which(seqs)
        with self._lock, self._connect() as conn:
            moved = conn.execute(_REQUEUE, (os.getpid(), *picked)).rowcount
            conn.execute(_FORGET, picked)
        return int(moved)

    def forget(self, seqs: Collection[int] | None = None) -> list[SetAside]:
        """Remove set-aside writes (all, or those numbered ``seqs``) for good; returns them.
        See :func:`discard`, which also lets ``gc`` free the blobs of artifacts among them."""
        picked = _which(seqs)
        with self._lock, self._connect() as conn:
            rows = conn.execute(_SET_ASIDE, picked).fetchall()
            conn.execute(_FORGET, picked)
        return [SetAside.of(*row) for row in rows]

    @contextlib.contextmanager
    def replaying(self) -> Iterator[bool]:
        """Hold the spool's replay lock (a file lock: one replay at a time, across
        processes); yields ``False`` when another process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@dataclass(frozen=True)
class Replayed:
    """What a replay did: writes made, writes set aside (refused by the store, with why),
    writes left (the store went away again, or another process was replaying)."""

    written: int = 0
    refused: tuple[str, ...] = ()
    left: int = 0
    runs: tuple[str, ...] = ()


class _Snapshots:
    """The spool's local snapshot store, opened on first need during one replay."""

    def __init__(self, spool: Spool) -> None:
        self.path = spool.data_path
        self._store: Store | None = None

    def bring(self, store: Store, digests: Iterable[str]) -> None:
        """Copy to ``store`` the snapshots among ``digests`` taken locally while it could
        not be written, before a run links them; one still being written locally holds the
        replay up (tried again later) rather than linking nothing."""
        from .transfer import copy_snapshot, has_complete_snapshot

        for digest in digests:
            if has_complete_snapshot(store, digest) or not self.path.is_dir():
                continue
            if self._store is None:
                self._store = Store(str(self.path))
            if not copy_snapshot(self._store, store, digest):
                try:
                    status = self._store.get_snapshot(digest).status.value
                except Exception:
                    continue  # not taken here: the store says what it makes of the link
                if status == "pending":
                    raise StoreUnavailable(f"snapshot {digest[:12]} is still being written")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def replay(store: Store, spool: Spool) -> Replayed:
    """Write the spool's entries to ``store`` in order, through ``Store``'s own methods.

    Stops at the first entry the store cannot take for want of the database (left for the
    next try); an entry it refuses for another reason (a run deleted meanwhile, say) is set
    aside with the error, and the rest go on."""
    written, refused, runs = 0, [], []
    snapshots = _Snapshots(spool)
    with spool.replaying() as mine, contextlib.closing(snapshots):
        if not mine:
            return Replayed(left=spool.count())
        for entry in spool.entries():
            try:
                _apply(store, entry, snapshots)
            except Exception as exc:
                if unavailable(exc):
                    return Replayed(written, tuple(refused), spool.count(), tuple(runs))
                line = f"{entry.op}: {type(exc).__name__}: {str(exc).strip()[:300]}"
                spool.fail(entry, line)
                refused.append(line)
                continue
            spool.done(entry.seq)
            written += 1
            if entry.op == "create_run":
                runs.append(entry.args["run_id"])
    return Replayed(written, tuple(refused), spool.count(), tuple(runs))


def discard(store: Store, spool: Spool, seqs: Collection[int] | None = None) -> list[SetAside]:
    """Drop set-aside writes (all, or those numbered ``seqs``) for good, and the holds that
    kept the blobs of artifacts among them from ``gc``: no row will name those blobs now,
    so the next ``gc`` past their grace period frees them (unless another artifact has the
    same bytes). The holds go first: if the blob store cannot be reached, nothing is
    dropped and the error says why."""
    found = spool.set_aside(seqs)
    for item in found:
        if item.hold is not None:
            blob_holds.drop_hold(store.blobs, item.hold)
    return spool.forget([item.seq for item in found])


def _apply(store: Store, entry: Entry, snapshots: _Snapshots) -> None:
    args = dict(entry.args)
    if _applied(store, entry.op, args):  # written by a replay killed before it noted so
        return
    if entry.op == "create_run":
        args["data"] = [tuple(d) for d in args.get("data") or ()]
        snapshots.bring(store, [d[2] for d in args["data"]])
        Store.create_run(store, args.pop("experiment"), **args)
    elif entry.op == "finish_run":
        env = args.pop("environment", None)
        if env is not None:
            args["environment_id"] = Store.put_environment(store, Environment(**env))
        Store.finish_run(store, args.pop("run_id"), args.pop("status"), **args)
    elif entry.op == "set_run_values":
        values = {k: (record, data) for k, (record, data) in args["values"].items()}
        Store.set_run_values(store, args["run_id"], values)
    elif entry.op == "add_run_data_many":
        snapshots.bring(store, [e[2] for e in args["entries"]])
        Store.add_run_data_many(store, args["run_id"], [tuple(e) for e in args["entries"]])
    elif entry.op == "record_artifact":
        _record_artifact(store, **args)
    elif entry.op in _REPLAYED:
        getattr(Store, entry.op)(store, **args)
    else:
        raise ValueError(f"unknown spooled write {entry.op!r}")


_REPLAYED = ("log_params", "log_metrics", "set_tags", "add_executions", "record_artifact_uses")


def _record_artifact(store: Store, hold: str | None = None, **args: Any) -> None:
    """Record a spooled artifact, then drop the hold that kept its blobs from ``gc`` (the
    rows name them now; a spool written before holds has none)."""
    Store.record_artifact(store, **args)
    if hold is not None:
        blob_holds.drop_hold(store.blobs, hold)


def _applied(store: Store, op: str, args: Mapping[str, Any]) -> bool:
    """Is this spooled write in the store already? A write can reach the store and the
    process replaying it die before removing it from the spool (or a write can commit and
    its connection drop before saying so): the next replay must not make it twice. Writes
    that append (a run, metric points, a run's final write with its outputs, execution log
    records) are looked for; the others are upserts or replacements, harmless to repeat."""
    from sqlalchemy import select

    from .models import ExecutionRow, MetricChunkRow, RunRow
    from .series import chunks

    with store.session() as s:
        if op == "create_run":
            return s.scalar(select(RunRow.id).where(RunRow.id == args["run_id"])) is not None
        if op == "finish_run":
            if args.get("end_time") is None:
                return False
            row = s.execute(
                select(RunRow.status, RunRow.end_time).where(RunRow.id == args["run_id"])
            ).first()
            status = RunStatus(args["status"]).value
            return row is not None and row.status == status and row.end_time == args["end_time"]
        if op == "log_metrics":
            t = MetricChunkRow
            for chunk in chunks(args["points"]):
                found = s.scalar(
                    select(t.id).where(
                        t.run_id == args["run_id"],
                        t.key == chunk.key,
                        t.count == chunk.count,
                        t.first_step == chunk.first_step,
                        t.last_step == chunk.last_step,
                        t.timestamps == chunk.timestamps,
                    )
                )
                if found is None:
                    return False
            return True
        if op == "add_executions":
            first, e = args["rows"][0], ExecutionRow
            found = s.scalar(
                select(e.id).where(e.session_id == first["session_id"], e.seq == first["seq"])
            )
            return found is not None
    return False


# the store that spools --------------------------------------------------------------------------


class SpoolingStore(Store):
    """A :class:`Store` whose writes from a kernel or a script never fail for want of the
    database: they go to the local spool instead, and from it to the database once it is
    back (see the module docstring). Reads are a plain store's (they raise)."""

    def __init__(self, url: str | None = None, *, spool: Path | None = None, **kw: Any) -> None:
        #: The schema has not been checked yet: the database could not be read when the
        #: store was made (a read-only folder, a server down); checked before the spool is
        #: written to it.
        self._unchecked: str | None = None
        try:
            super().__init__(url, **kw)
        except Exception as exc:
            if not unavailable(exc) or not hasattr(self, "_experiments"):
                raise  # not made at all (a bad URL, say): said by whoever asked for it
            self._unchecked = reason(exc)
        self.spool = Spool(spool or spool_path(self.url), self.url)
        #: Why writes are being spooled (the first error), or ``None`` while they are not.
        self.offline: str | None = None
        self._offline_lock = threading.RLock()
        self._retry_at = 0.0
        #: Said once per process: even the spool could not be written.
        self._lost_said = False
        #: Said once each time the store stops taking writes: where they are kept.
        self._kept_said = False
        #: Messages not shown yet (see take_notices).
        self._notices: list[str] = []
        #: The local store of snapshots taken while this one cannot be written.
        self._local: Store | None = None
        #: Runs written from the spool since the process began (their new numbers).
        self.synced: list[str] = []
        if self._unchecked is not None:
            self._go_offline(self._unchecked)
        elif self.spool.count():  # left by a process that exited while the store was away
            self._go_offline("writes of an earlier session are waiting in the spool", say=False)

    # the switch -------------------------------------------------------------------------------

    def _go_offline(self, reason: str, *, say: bool = True) -> None:
        with self._offline_lock:
            if self.offline is not None:
                return
            self.offline = reason
            self._retry_at = time.monotonic() + RETRY_INTERVAL
            self._kept_said = not say

    def _write(self, op: str, direct: Any, args: Callable[[], Mapping[str, Any]]) -> Any:
        """Make a write: on the store while it takes them, else kept in the spool, as
        ``args()`` (built only then: encoding a cell's params or a flush's points for the
        journal is work a write the store takes must not pay). Said once on stderr: that
        the store cannot be written and where writes are kept, or that they cannot be kept
        either."""
        if self.offline is None:
            try:
                return direct()
            except Exception as exc:
                if not unavailable(exc):
                    raise
                self._go_offline(reason(exc))
        try:
            self.spool.append(op, args())
        except Exception as exc:  # the local disk too: said once, the cell goes on
            if not self._lost_said:
                self._lost_said = self._kept_said = True
                self._notices.append(
                    f"mltrack: not recorded: the store {shown_url(self.url)} cannot be written"
                    f" ({self.offline}) and neither can the local spool {self.spool.path}"
                    f" ({reason(exc)}); tracking resumes when either can"
                )
            raise StoreUnavailable(f"not recorded: {reason(exc)}", said=True) from exc
        if not self._kept_said:
            self._kept_said = True
            self._notices.append(
                f"mltrack: the store {shown_url(self.url)} cannot be written ({self.offline});"
                f" what is recorded is kept in {self.spool.path} and written to the store"
                " when it is back (or by `mltrack sync`)"
            )
        return None

    def take_notices(self) -> list[str]:
        """What the user should be told (once each) of the store going away and coming
        back, taken by whoever can show it where the user looks: a tracked cell's stderr,
        a script's, the exit message. Not printed when it happens: a write made in the
        kernel's idle time or by a background thread prints where no cell shows it."""
        with self._offline_lock:
            notices, self._notices = self._notices, []
        return notices

    def drain(self, *, force: bool = False) -> Replayed | None:
        """Write the spool to the store if it is time to try (every ``RETRY_INTERVAL``
        seconds, or now with ``force``); back to direct writes once it is empty."""
        with self._offline_lock:
            if self.offline is None:
                return None
            if not force and time.monotonic() < self._retry_at:
                return None
            self._retry_at = time.monotonic() + RETRY_INTERVAL
        if self._unchecked is not None:
            from .schema import upgrade_to_head

            try:
                upgrade_to_head(self.engine)
            except Exception as exc:
                if not unavailable(exc):
                    raise
                return Replayed(left=self.spool.count())
            self._unchecked = None
        done = replay(self, self.spool)
        self.synced.extend(done.runs)
        with self._offline_lock:
            for line in done.refused:
                self._notices.append(f"mltrack: the store refused a spooled write: {line}")
            if done.refused:
                self._notices.append(f"mltrack: {KEPT_ASIDE}")
            if done.left == 0 and self.spool.count() == 0:
                self.offline = None
                if done.written:
                    self._notices.append(
                        f"mltrack: the store is back: {len(done.runs)} run(s) and"
                        f" {done.written} write(s) kept locally are now in it"
                    )
        return done

    def snapshot_store(self) -> Store:
        """Where snapshots of data go now: this store, or while it cannot be written a
        local store beside the spool (their blocks are deduplicated against the store they
        are written to), copied to this one when the runs that read them are."""
        if self.offline is None:
            return self
        with self._offline_lock:
            if self._local is None:
                self._local = Store(str(self.spool.data_path))
            return self._local

    # the writes a kernel makes ---------------------------------------------------------------

    def create_run(self, experiment: str | None = None, **kw: Any) -> Run:
        run_id = kw.pop("run_id", None) or uuid.uuid4().hex
        start = kw.get("start_time") or time.time()

        def direct() -> Run:
            return Store.create_run(self, experiment, run_id=run_id, **kw)

        def args() -> dict[str, Any]:
            return {
                **kw,
                "experiment": experiment,
                "run_id": run_id,
                "start_time": start,
                "params": _values(kw.get("params")),
            }

        made = self._write("create_run", direct, args)
        if made is not None:
            return made
        known = self._experiments.get(experiment or "")
        return Run(
            id=run_id,
            number=0,
            experiment_id=known.id if known is not None else 0,
            experiment=known.name if known is not None else (experiment or "Default"),
            name=kw.get("name"),
            status=RunStatus.RUNNING,
            start_time=start,
            end_time=None,
            notebook_path=kw.get("notebook_path"),
            cell_id=kw.get("cell_id"),
            execution_count=kw.get("execution_count"),
            source=kw.get("source", "notebook"),
            parent_run_id=kw.get("parent_run_id"),
            note="",
            tags={str(k): str(v) for k, v in (kw.get("tags") or {}).items()},
            params={str(k): to_json(v) for k, v in (kw.get("params") or {}).items()},
        )

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        if params:
            self._write(
                "log_params",
                lambda: Store.log_params(self, run_id, params),
                lambda: {"run_id": run_id, "params": _values(params)},
            )

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        if points:
            self._write(
                "log_metrics",
                lambda: Store.log_metrics(self, run_id, points),
                lambda: {"run_id": run_id, "points": list(points)},
            )

    def set_tags(self, run_id: str, tags: Mapping[str, str], *, replace: bool = False) -> None:
        self._write(
            "set_tags",
            lambda: Store.set_tags(self, run_id, tags, replace=replace),
            lambda: {"run_id": run_id, "tags": dict(tags), "replace": replace},
        )

    def record_artifact_uses(self, run_id: str, uses: Sequence[Mapping[str, Any]]) -> None:
        """Spooled as the run's other writes: a run created while the store was away says
        what it loaded once it is written (the spool keeps the calls' order)."""
        now = time.time()  # when they were used, not when replayed
        uses = [{**u, "used_at": u.get("used_at") or now} for u in uses]
        self._write(
            "record_artifact_uses",
            lambda: Store.record_artifact_uses(self, run_id, uses),
            lambda: {"run_id": run_id, "uses": uses},
        )

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        if self.offline is None:
            Store.heartbeat(self, run_ids)

    def put_environment(self, env: Any) -> int:
        if self.offline is not None:
            raise StoreUnavailable(f"the store cannot be written ({self.offline})")
        return Store.put_environment(self, env)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus | str,
        *,
        environment: Environment | None = None,
        **kw: Any,
    ) -> None:
        """``Store.finish_run``; ``environment``: where the run executed, when its id in the
        store is not known (recorded while the store could not be written)."""
        if environment is not None and self.offline is None:
            try:
                kw["environment_id"] = Store.put_environment(self, environment)
                environment = None
            except Exception as exc:
                if not unavailable(exc):
                    raise
                self._go_offline(reason(exc))

        def args() -> dict[str, Any]:
            out = {**kw, "run_id": run_id, "status": RunStatus(status)}
            if environment is not None:
                out["environment"] = {**environment.to_dict(), "digest": environment.digest}
            if kw.get("params"):
                out["params"] = _values(kw["params"])
            if kw.get("error") is not None:
                out["error"] = {"$json": to_json(dict(kw["error"]))}
            return out

        self._write("finish_run", lambda: Store.finish_run(self, run_id, status, **kw), args)

    def add_run_data_many(self, run_id: str, entries: Sequence[DataLink]) -> None:
        if entries:
            self._write(
                "add_run_data_many",
                lambda: Store.add_run_data_many(self, run_id, entries),
                lambda: {"run_id": run_id, "entries": [list(e) for e in entries]},
            )

    def set_run_values(self, run_id: str, values: Any) -> None:
        self._write(
            "set_run_values",
            lambda: Store.set_run_values(self, run_id, values),
            lambda: {"run_id": run_id, "values": {k: [r, d] for k, (r, d) in values.items()}},
        )

    def begin_artifact(self, run_id: str, name: str, kind: str, **kw: Any) -> None:
        """``Store.begin_artifact`` while the store takes writes; else (or when it fails
        for want of the database) ``StoreUnavailable``: the writer then stores the blobs
        and spools the whole artifact (:meth:`spool_artifact`)."""
        self._begin(lambda: Store.begin_artifact(self, run_id, name, kind, **kw))

    def open_artifact(self, run_id: str, name: str, kind: str, files: Any, **kw: Any) -> Any:
        """``Store.open_artifact``, or ``StoreUnavailable`` as :meth:`begin_artifact`."""
        return self._begin(lambda: Store.open_artifact(self, run_id, name, kind, files, **kw))

    def _begin(self, begin: Callable[[], _T]) -> _T:
        if self.offline is not None:
            raise StoreUnavailable(f"the store cannot be written ({self.offline})")
        try:
            return begin()
        except Exception as exc:
            if not unavailable(exc):
                raise
            self._go_offline(reason(exc))
            raise StoreUnavailable(f"the store cannot be written ({self.offline})") from None

    def spool_artifact(
        self,
        run_id: str,
        name: str,
        kind: str,
        files: Sequence[Any],
        *,
        meta: Mapping[str, Any] | None = None,
        media_type: str | None = None,
        hold: str | None = None,
    ) -> None:
        """Keep an artifact (its blobs stored already, kept from ``gc`` by ``hold``: see
        :mod:`.blob_holds`) for the store: written by the replay, after the run it belongs
        to, which then drops the hold."""
        # (a packed file's pack and offset too; a spool written before packs has three)
        rows = [[f.path, f.digest, f.size, f.pack, f.offset] for f in files]
        args = {
            "run_id": run_id,
            "name": name,
            "kind": kind,
            "files": rows,
            "meta": dict(meta or {}),
            "media_type": media_type,
            "hold": hold,
        }
        self._write("record_artifact", lambda: _record_artifact(self, **args), lambda: args)

    def add_executions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:  # facts as the store writes them: JSON, anything else as its str()
            self._write(
                "add_executions",
                lambda: Store.add_executions(self, rows),
                lambda: {
                    "rows": [
                        {**r, "facts": json.loads(json.dumps(r.get("facts") or {}, default=str))}
                        for r in rows
                    ]
                },
            )
