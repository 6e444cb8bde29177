"""A real IPython kernel driven over ZMQ with jupyter_client, as JupyterLab drives it.

Each cell is timed two ways:

* ``kernel_ms``: inside the kernel, from ipykernel's ``started`` stamp (taken when it picks
  up the execute request, before IPython sees the code) to the ``date`` of its
  ``execute_reply`` header (after the post-run hooks, the output flush and the reply's
  serialisation). Both stamps come from the kernel's clock, so this is what the cell costs
  the kernel, without the client's scheduling noise;
* ``roundtrip_ms``: in this process, from sending the request until the reply and the
  kernel's ``idle`` status have both arrived (what a frontend waits for).
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import checkout_env


def _stamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class BenchKernel:
    """One ``python3`` kernel in ``cwd``; ``notebook`` sets ``JPY_SESSION_NAME`` as
    jupyter_server does (the log records it as the notebook's path), relative to ``root``
    (``MLTRACK_SERVER_ROOT``); ``home`` is its ``MLTRACK_HOME`` (its store)."""

    def __init__(
        self,
        cwd: Path,
        *,
        notebook: str | None = None,
        root: Path | None = None,
        home: Path | None = None,
        stderr: Path | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        from jupyter_client.manager import KernelManager
        from jupyter_core.paths import jupyter_runtime_dir

        # this checkout's package (the editable install may point at another copy)
        env = {**checkout_env(), "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        env.pop("JPY_SESSION_NAME", None)
        if home is not None:  # the store: home/mltrack.db
            env["MLTRACK_HOME"] = str(home)
        if root is not None:
            env["MLTRACK_SERVER_ROOT"] = str(root)
        if notebook:
            env["JPY_SESSION_NAME"] = str((root or cwd) / notebook)
        env.update(extra_env or {})
        # name the connection file as jupyter_server does, so the kernel knows its id
        self.kernel_id = str(uuid.uuid4())
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        self.km = KernelManager(
            kernel_name="python3", connection_file=str(runtime / f"kernel-{self.kernel_id}.json")
        )
        # the kernel's own stderr (ipykernel's warnings) goes to a file, not the table
        self._stderr = open(stderr or os.devnull, "ab")  # noqa: SIM115 (closed in stop)
        self.km.start_kernel(env=env, cwd=str(cwd), extra_arguments=[], stderr=self._stderr)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def cpu_seconds(self, *, children: bool = False) -> float:
        """User + system CPU time of the kernel process so far (all its threads); with
        ``children``, plus that of the subprocesses it has waited for (ruff, for an export)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        if children:
            ticks += int(fields[13]) + int(fields[14])
        return ticks / os.sysconf("SC_CLK_TCK")

    def execute(
        self,
        code: str,
        *,
        cell_id: str | None = None,
        user_expressions: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> dict[str, Any]:
        """Run a cell; its reply, outputs and the two timings (see the module docstring).
        ``user_expressions`` are evaluated by the kernel after the cell (and its hooks)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": user_expressions or {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg(
            "execute_request", content, metadata={"cellId": cell_id} if cell_id else {}
        )
        msg_id = msg["header"]["msg_id"]
        t0 = time.perf_counter()
        self.kc.shell_channel.send(msg)
        outputs: list[dict[str, Any]] = []
        reply: dict[str, Any] | None = None
        idle = False
        deadline = time.monotonic() + timeout
        while reply is None or not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:60]!r}")
            if not idle:
                try:
                    m = self.kc.get_iopub_msg(timeout=remaining)
                except queue.Empty:
                    continue
                if m["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, c = m["msg_type"], m["content"]
                if kind == "status" and c["execution_state"] == "idle":
                    idle = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    outputs.append({"output_type": kind, **c})
            else:
                m = self.kc.get_shell_msg(timeout=remaining)
                if m["parent_header"].get("msg_id") == msg_id:
                    reply = m
        roundtrip = time.perf_counter() - t0
        started = _stamp(reply["metadata"]["started"])
        finished = _stamp(reply["header"]["date"])
        return {
            "reply": reply["content"],
            "outputs": outputs,
            "kernel_ms": (finished - started).total_seconds() * 1e3,
            "roundtrip_ms": roundtrip * 1e3,
        }

    def ok(self, code: str, **kw: Any) -> dict[str, Any]:
        result = self.execute(code, **kw)
        if result["reply"]["status"] != "ok":
            tb = "\n".join(result["reply"].get("traceback", []))
            raise RuntimeError(f"benchmark cell failed: {code[:80]!r}\n{tb}")
        return result

    def stop(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            self._stderr.close()
