"""A real IPython kernel driven over ZMQ with jupyter_client, as JupyterLab drives it."""

from __future__ import annotations

import os
import queue
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager
from jupyter_core.paths import jupyter_runtime_dir

from jupyter_mltrack.store import RunStatus, Store

from .ports import free_port

REPO = Path(__file__).resolve().parents[1]

_PORTS = ("shell_port", "iopub_port", "stdin_port", "hb_port", "control_port")


def kernel_ports() -> dict[str, Any]:
    """Arguments of a kernel manager that put its kernel on ports of this xdist worker's
    range (``tests/ports.py``), not on ones jupyter_client draws by binding port 0: the other
    worker's kernel, started at the same moment, may draw the same, and ipykernel does not
    retry a port it was given (jupyter_server's restarter would, nbclient and this module's
    :class:`Kernel` do not)."""
    return {"cache_ports": False, **{name: free_port() for name in _PORTS}}


def recorded(store: Store, run_id: str, timeout: float = 30):  # noqa: ANN201
    """The run's detail once its cell's writes are all in: a run still writing snapshots
    when its cell ended is ended by a background thread, and a kernel's first run gets its
    environment once the package scan is done, a moment after it is recorded as ended."""
    deadline = time.monotonic() + timeout
    while True:
        detail = store.get_run_detail(run_id)
        status = detail.run.status
        described = detail.environment is not None or status is RunStatus.CRASHED
        if (status is not RunStatus.RUNNING and described) or time.monotonic() > deadline:
            return detail
        time.sleep(0.05)


class Kernel:
    """Start a kernel with the server's environment variables and run cells in it."""

    def __init__(self, cwd: Path, home: Path, notebook: str | None = "nb/analysis.ipynb") -> None:
        env = {
            **os.environ,
            "MLTRACK_HOME": str(home),
            # a module's kernel outlives the test that started it (and its cache variable)
            "MLTRACK_CACHE_DIR": f"{home}-cache",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "MLTRACK_SERVER_ROOT": str(cwd),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
        env.pop("MLTRACK_STORE_URL", None)
        if notebook:
            env["JPY_SESSION_NAME"] = str(cwd / notebook)
        # Name the connection file as jupyter_server does, so the kernel knows its id.
        self.kernel_id = str(uuid.uuid4())
        runtime = Path(jupyter_runtime_dir())
        runtime.mkdir(parents=True, exist_ok=True)
        self.km = KernelManager(
            kernel_name="python3",
            connection_file=str(runtime / f"kernel-{self.kernel_id}.json"),
            **kernel_ports(),
        )
        self.km.start_kernel(env=env, cwd=str(cwd), extra_arguments=[])
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def execute(
        self, code: str, *, cell_id: str | None = None, timeout: float = 60, wait: bool = True
    ) -> dict[str, Any]:
        """Run a cell; return its reply and iopub outputs (nbformat-like dicts)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = self.kc.session.msg(
            "execute_request", content, metadata={"cellId": cell_id} if cell_id else {}
        )
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        if not wait:
            return {"msg_id": msg_id}
        return self.collect(msg_id, timeout=timeout)

    def collect(self, msg_id: str, timeout: float = 60) -> dict[str, Any]:
        outputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no idle status for {msg_id} in {timeout}s")
            try:
                m = self.kc.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            kind, c = m["msg_type"], m["content"]
            if kind == "status" and c["execution_state"] == "idle":
                break
            if kind == "stream":
                outputs.append({"output_type": "stream", "name": c["name"], "text": c["text"]})
            elif kind in ("display_data", "execute_result"):
                outputs.append({"output_type": kind, "data": c["data"]})
            elif kind == "error":
                outputs.append(
                    {"output_type": "error", "ename": c["ename"], "traceback": c["traceback"]}
                )
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        return {"reply": reply["content"], "outputs": outputs}

    def ok(self, code: str, **kw: Any) -> dict[str, Any]:
        result = self.execute(code, **kw)
        assert result["reply"]["status"] == "ok", (code, result)
        return result

    def stop(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                # as JupyterLab shuts a kernel down: asked first (its last cell's log record
                # is written in the background, and finished at exit), killed if it hangs
                self.km.shutdown_kernel(now=not self.km.is_alive())


def text_of(result: dict[str, Any], name: str = "stdout") -> str:
    return "".join(
        o["text"] for o in result["outputs"] if o["output_type"] == "stream" and o["name"] == name
    )


@contextmanager
def loaded_kernel(cwd: Path, home: Path, notebook: str, *cells: str) -> Iterator[Kernel]:
    """A kernel of ``notebook`` in ``cwd`` with ``%load_ext jupyter_mltrack`` and then
    ``cells`` run (each must succeed), storing in ``home``; stopped when done. The module
    fixtures of the kernel tests share one: starting a kernel costs seconds."""
    kernel = Kernel(cwd, home, notebook=notebook)
    try:
        kernel.ok("%load_ext jupyter_mltrack")
        for cell in cells:
            kernel.ok(cell)
        yield kernel
    finally:
        kernel.stop()


@contextmanager
def open_store(home: Path) -> Iterator[Store]:
    """The store a kernel started with ``home`` writes to, read from the test's process."""
    store = Store(str(home))
    try:
        yield store
    finally:
        store.close()
