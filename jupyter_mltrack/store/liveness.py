"""Liveness: closing the runs whose process is gone, so that no run stays ``running``.

On this host a run's process is checked by pid (zombie-aware, and a pid given to a newer
process does not count); elsewhere the heartbeat the kernel refreshes while a run is open
decides. Reads of runs check this host's runs first (:meth:`Liveness.reap_local_runs`); the
server's reaper checks every host's (:meth:`Liveness.reap_stale_runs`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .base import StoreBase
from .entities import RunStatus
from .models import RunRow
from .write_rows import HOST as _HOST

#: A running run whose heartbeat is older than this, on a host we cannot check, is crashed.
STALE_AFTER = 120.0
#: Reads of runs check this host's running runs' processes at most this often (seconds).
LOCAL_REAP_INTERVAL = 1.0


class Liveness(StoreBase):
    """Marking the runs of dead processes ``crashed`` (shared by reads and writes)."""

    #: When this store last checked this host's running runs (see ``reap_local_runs``).
    _local_reaped_at: float = float("-inf")

    def mark_kernel_runs(
        self,
        kernel_id: str,
        status: RunStatus = RunStatus.CRASHED,
        *,
        started_before: float | None = None,
    ) -> list[str]:
        """Close the runs a kernel left running (it died, restarted or was shut down).

        ``started_before`` spares runs the *new* process of a restarted kernel (same id) may
        already have opened by the time the server reacts to the restart.
        """
        with self.session() as s:
            stmt = select(RunRow.id).where(
                RunRow.kernel_id == kernel_id, RunRow.status == RunStatus.RUNNING.value
            )
            if started_before is not None:
                stmt = stmt.where(RunRow.start_time <= started_before)
            ids = list(s.scalars(stmt))
            if ids:
                self._close_running(s, ids, status)
                s.commit()
            return ids

    def reap_stale_runs(self, *, stale_after: float = STALE_AFTER) -> list[str]:
        """Mark ``crashed`` every running run whose process is gone.

        On this host a run's pid is checked directly; elsewhere we rely on the heartbeat the
        kernel refreshes while the run is open.
        """
        now = time.time()
        host = _HOST
        dead: list[str] = []
        with self.session() as s:
            rows = s.execute(
                select(RunRow.id, RunRow.host, RunRow.pid, RunRow.heartbeat_at).where(
                    RunRow.status == RunStatus.RUNNING.value
                )
            ).all()
            for run_id, run_host, pid, beat in rows:
                if run_host == host and pid:
                    if not _pid_alive(pid, beat):
                        dead.append(run_id)
                elif beat is None or now - beat > stale_after:
                    dead.append(run_id)
            if dead:
                self._close_running(s, dead, RunStatus.CRASHED)
                s.commit()
        return dead

    def reap_local_runs(self) -> list[str]:
        """Mark ``crashed`` the running runs of this host whose process is gone: what every
        read of runs does first (``search_runs``, ``get_run``…), so that a headless kernel
        that died (nbclient, papermill, CI: no server, so no reaper) never shows a run as
        ``running``. Runs of other hosts keep the heartbeat rule (:meth:`reap_stale_runs`).
        A pid check per running run of this host, at most once per ``LOCAL_REAP_INTERVAL``
        per store; never raises (a read-only store is read as it is)."""
        now = time.monotonic()
        if now - self._local_reaped_at < LOCAL_REAP_INTERVAL:
            return []
        self._local_reaped_at = now
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(RunRow.id, RunRow.pid, RunRow.heartbeat_at).where(
                        RunRow.status == RunStatus.RUNNING.value, RunRow.host == _HOST
                    )
                ).all()
            dead = [run_id for run_id, pid, beat in rows if pid and not _pid_alive(pid, beat)]
            if dead:
                with self.session() as s:
                    self._close_running(s, dead, RunStatus.CRASHED)
                    s.commit()
        except Exception:
            return []
        return dead

    @staticmethod
    def _close_running(s: Session, ids: list[str], status: RunStatus) -> None:
        now = time.time()
        s.execute(
            update(RunRow)
            .where(RunRow.id.in_(ids), RunRow.status == RunStatus.RUNNING.value)
            .values(
                status=status.value,
                end_time=func.coalesce(RunRow.heartbeat_at, now),
                updated_at=now,
            )
        )


def _pid_alive(pid: int, since: float | None = None) -> bool:
    """Whether process ``pid`` of this host still runs; with ``since`` (when the run it
    records last showed life: its creation or latest heartbeat, epoch seconds), whether it
    is still *that* process: a pid the system gave to a process started after that is
    another process, and the run's one is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return True
    if fields[0] == "Z":
        return False
    started = _process_start(fields)
    return since is None or started is None or started <= since + 2.0


def _process_start(fields: list[str]) -> float | None:
    """When a process started (epoch seconds), from the fields of its ``/proc/PID/stat``
    after the command name (``starttime``, in clock ticks since boot)."""
    try:
        ticks = int(fields[19])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None


_boot: list[float] = []


def _boot_time() -> float:
    if not _boot:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                _boot.append(float(line.split()[1]))
                break
        else:
            raise OSError("no btime in /proc/stat")
    return _boot[0]
