"""Hostile values in tracked cells (issue 12 §4), one table run in a real kernel per backend.

Each case is a cell run twice in the same kernel, plain and under ``%%track``, from the same
clean namespace: what the user sees (status, error, result, displays, streams) and what the
cell leaves in the namespace must be identical, except for the run card and one ``mltrack:``
line on stderr per value the store refused. Then the store is read back: the run exists and
ended as the cell did, every value is stored faithfully (read back through
``get_run_detail`` and the CLI's JSON) or, where the policy in docs/architecture.md
(*Names and values the store refuses*) says so, refused with that one clear line — on
SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from jupyter_mltrack.cli import main as cli_main
from jupyter_mltrack.server import api
from jupyter_mltrack.store import RunDetail, RunStatus, Store

from .kernel import Kernel, loaded_kernel

RUN_CARD = "application/vnd.mltrack.run+json"
LONG = "n" * 10_000
#: Names a store keeps as they are, on both backends.
KEPT_NAMES = ("a/b", "..", "../../etc/passwd", "🚀 loss 📉", "'; DROP TABLE runs; --", 'say "hi"')
#: Names no store keeps (see docs/architecture.md), refused with one line each.
REFUSED_NAMES = {"a\x00b": "NUL", "\udcff": "surrogate", LONG: "256"}

# cells the harness runs around each case ---------------------------------------------------

SETUP = r"""
import hashlib as _h_hashlib, json as _h_json
_h_keep = set(globals()) | {"_h_keep", "_h_probe", "_h_clean", "_h_rss"}

def _h_probe():
    '''A digest of every user name's type and repr: what the cell left in the namespace.'''
    out = {}
    for key, value in list(globals().items()):
        if key in _h_keep or key.startswith("_"):
            continue
        try:
            shown = repr(value)
        except BaseException as exc:  # too deep to repr, say
            shown = "unrepresentable: " + type(exc).__name__
        digest = _h_hashlib.sha256(shown.encode("utf-8", "surrogatepass")).hexdigest()
        out[key] = type(value).__name__ + ":" + digest
    return out

def _h_clean():
    for key in [k for k in globals() if k not in _h_keep and not k.startswith("_")]:
        del globals()[key]
    while mltrack.active_run() is not None:  # a plain cell's mltrack.log_* opened one
        mltrack.end_run()

def _h_rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
"""
PROBE = "print(_h_json.dumps({'ns': _h_probe(), 'rss': _h_rss()}))"


# what an execution showed ------------------------------------------------------------------


@dataclass
class Shown:
    """What one execution showed the user. Streams are kept as length and digest (a case
    prints 100 MB) plus their text when short; run cards are counted, not compared."""

    status: str
    error: tuple[str, str] | None
    results: list[Any] = field(default_factory=list)
    displays: list[Any] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    streams: dict[str, tuple[int, str]] = field(default_factory=dict)
    stderr: str = ""
    stdout_head: str = ""


def execute(kernel: Kernel, code: str, timeout: float = 300, keep: int = 10_000) -> Shown:
    """Run ``code`` and digest its iopub messages as they come (never two copies of a
    100 MB print in memory); the first ``keep`` characters of stdout are kept."""
    msg_id = kernel.execute(code, wait=False)["msg_id"]
    hashes: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    stderr: list[str] = []
    head: list[str] = []
    results: list[Any] = []
    displays: list[Any] = []
    cards: list[dict[str, Any]] = []
    while True:
        m = kernel.kc.get_iopub_msg(timeout=timeout)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        kind, c = m["msg_type"], m["content"]
        if kind == "status" and c["execution_state"] == "idle":
            break
        if kind == "stream":
            name, chunk = c["name"], c["text"]
            hashes.setdefault(name, hashlib.sha256()).update(chunk.encode("utf-8", "replace"))
            sizes[name] = sizes.get(name, 0) + len(chunk)
            if name == "stderr":
                stderr.append(chunk)
            elif sum(map(len, head)) < keep:
                head.append(chunk[:keep])
        elif kind == "display_data" and RUN_CARD in c["data"]:
            cards.append(c["data"][RUN_CARD])
        elif kind == "display_data":
            displays.append(c["data"])
        elif kind == "execute_result":
            results.append(c["data"])
    reply = kernel.kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.kc.get_shell_msg(timeout=timeout)
    content = reply["content"]
    return Shown(
        status=content["status"],
        error=(content["ename"], content["evalue"]) if content["status"] == "error" else None,
        results=results,
        displays=displays,
        cards=cards,
        streams={name: (sizes[name], h.hexdigest()) for name, h in hashes.items()},
        stderr="".join(stderr),
        stdout_head="".join(head),
    )


def probe(kernel: Kernel) -> dict[str, Any]:
    shown = execute(kernel, PROBE, keep=10**8)
    assert shown.status == "ok", shown
    return json.loads(shown.stdout_head)


# the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """What a case's check reads: the store, the tracked cell's run (``None`` when the
    cell ran untracked), the runs its ``mltrack.start_run`` calls made, what it showed."""

    store: Store
    run: RunDetail | None
    api_runs: list[RunDetail]
    shown: Shown
    rss: tuple[int, int]  # the kernel's resident memory after the plain and tracked runs


@dataclass(frozen=True)
class Case:
    """``code`` runs plain and as ``%%track -e hostile-<id> <track>`` (or ``%%track <line>``
    when ``line`` is given); ``{exp}`` in it is the experiment its own ``start_run`` calls
    use (different for the plain run). ``refused``: what each ``mltrack:`` line the tracked
    execution prints must contain, one line each, in order. ``tracked``: whether a run is
    recorded for the cell (``False`` when its ``%%track`` line names what no store keeps)."""

    id: str
    code: str
    check: Callable[[Seen], None]
    track: str = ""
    line: str | None = None
    refused: tuple[str, ...] = ()
    status: RunStatus = RunStatus.FINISHED
    tracked: bool = True
    experiment: str | None = None  # where the cell's run is, when ``line`` names it

    def track_line(self) -> str:
        if self.line is not None:
            return self.line
        return f"-e hostile-{self.id} {self.track}".strip()

    def run_experiment(self) -> str:
        return self.experiment if self.experiment is not None else f"hostile-{self.id}"


def _params(seen: Seen) -> dict[str, Any]:
    assert seen.run is not None
    return seen.run.run.params


def _series(seen: Seen, key: str) -> list[tuple[int, float]]:
    assert seen.run is not None
    return [(p.step, p.value) for p in seen.run.metric_series[key]]


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_print(seen: Seen) -> None:
    assert seen.shown.streams["stdout"][0] == 100_000_001  # the user saw all of it
    assert seen.run is not None
    (out,) = seen.run.outputs
    assert out["name"] == "stdout" and out["text"].startswith("x" * 1_000_000)
    assert "cut at 1,000,000 of 100,000,001 characters" in out["text"]
    assert len(out["text"]) < 1_000_100
    assert out["metadata"]["mltrack"] == {"truncated": True, "original_size": 100_000_001}
    plain, tracked = seen.rss
    assert tracked - plain < 50 * 2**20, f"the tracked print kept {tracked - plain:,} bytes"


def check_10k_literals(seen: Seen) -> None:
    params = _params(seen)
    assert {k: v for k, v in params.items() if k.startswith("p")} == {
        f"p{i}": i for i in range(10_000)
    }


def check_10k_option(seen: Seen) -> None:
    params = _params(seen)
    assert {k: params[k] for k in params if k.startswith("q")} == {
        f"q{i}": f"v{i}" for i in range(10_000)
    }


def check_10k_api(seen: Seen) -> None:
    assert {k: v for k, v in _params(seen).items() if k.startswith("k")} == {
        f"k{i}": [i, str(i)] for i in range(10_000)
    }


def _innermost(value: Any) -> tuple[int, Any]:
    depth = 0
    while (isinstance(value, dict) and "a" in value) or (isinstance(value, list) and value):
        value, depth = value["a"] if isinstance(value, dict) else value[0], depth + 1
    return depth, value


def check_nested(seen: Seen) -> None:
    params = _params(seen)
    for name in ("d", "deep_dict", "deep_list", "deeper"):
        depth, inner = _innermost(params[name])
        assert depth == 8 and inner["$type"] == "repr", (name, inner)  # cut, and said so


def check_syntax_error(seen: Seen) -> None:
    assert seen.run is not None and seen.run.run.status is RunStatus.FAILED
    assert seen.run.error is not None
    assert seen.run.error["ename"] in ("SyntaxError", "RecursionError", "MemoryError")


def check_value_params(seen: Seen) -> None:
    params = _params(seen)
    assert params["raw"] == params["b"] == {"$type": "bytes", "length": 2, "hex": "ff00"}
    assert params["nul"] == params["nul_api"] == "a\x00b"  # stored as it is
    assert params["lone"] == params["lone_api"] == "x\ufffdy"  # as errors="replace" reads it
    assert params["huge"] == params["huge_api"] == {"$type": "int", "value": str(10**100)}
    assert params["big"] == {"$type": "int", "value": str(2**63)}
    assert params["nan"] == {"$type": "float", "value": "nan"}


def check_param_names(seen: Seen) -> None:
    params = _params(seen)
    for name in KEPT_NAMES:
        assert params[name] == name, name
    for name in REFUSED_NAMES:
        assert name not in params
    assert params["after"] == 1  # the values after a refused one are kept


def check_metric_names(seen: Seen) -> None:
    assert seen.run is not None
    assert set(seen.run.metric_series) == {*KEPT_NAMES, "after"}
    for i, name in enumerate(KEPT_NAMES):
        assert _series(seen, name) == [(0, float(i))]
        assert seen.run.run.metrics[name] == float(i)


def check_metric_values(seen: Seen) -> None:
    assert seen.run is not None
    expected = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "googol": 1e100,
        "2**63": 9.223372036854776e18,
        "beyond": math.inf,
        "f32": 1.5,
        "i64": 7.0,
        "np_nan": math.nan,
        "np_bool": 1.0,
        "decimal": 0.1,
        "m": 0.25,
        "nan_var": math.nan,
    }
    assert set(seen.run.metric_series) == set(expected)
    for key, value in expected.items():
        (point,) = seen.run.metric_series[key]
        assert _same_float(point.value, value), (key, point.value)
        assert _same_float(seen.run.run.metrics[key], value), key


def check_wrong_type(seen: Seen) -> None:
    assert seen.shown.error is not None and seen.shown.error[0] == "TrackingError"
    assert seen.run is not None and seen.run.error is not None
    assert seen.run.error["ename"] == "TrackingError" and not seen.run.metric_series


def check_steps(seen: Seen) -> None:
    assert seen.run is not None
    assert _series(seen, "neg") == [(-5, 1.0), (-1, 2.0), (0, 3.0)]
    assert _series(seen, "shuffled") == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert seen.run.run.metrics["shuffled"] == 3.0  # the latest step, not the last logged
    assert _series(seen, "edges") == [(-(2**63), 1.0), (2**63 - 1, 2.0)]
    assert seen.run.run.metrics["edges"] == 2.0
    assert _series(seen, "np_step") == [(4, 4.0)]
    assert _series(seen, "kept") == [(0, 1.0), (1, 2.0)]  # points beside a refused step kept


def check_tags(seen: Seen) -> None:
    assert seen.run is not None
    tags = seen.run.run.tags
    for name in KEPT_NAMES:
        assert tags[name] == name, name
    assert tags["line/tag"] == "'; DROP TABLE runs; --"
    assert tags["emoji"] == "🎉"
    assert not any("\x00" in k or "\udcff" in k or len(k) > 256 for k in tags)
    assert "nul_value" not in tags and "lone_value" not in tags
    assert tags["long_value"] == LONG  # values are text: no length limit


def check_named_experiment(name: str) -> Callable[[Seen], None]:
    def check(seen: Seen) -> None:
        assert seen.run is not None and seen.run.run.experiment == name

    return check


def check_named_run(name: str | None) -> Callable[[Seen], None]:
    def check(seen: Seen) -> None:
        assert seen.run is not None and seen.run.run.name == name

    return check


def check_untracked(seen: Seen) -> None:
    assert seen.run is None and not seen.shown.cards
    assert "execution log" not in seen.shown.stderr  # the cell is logged all the same


def check_code_nul(seen: Seen) -> None:
    assert seen.run is not None
    assert seen.run.code == "x = 1  # a\ufffdb"  # what no text column holds, replaced
    logged = seen.store.execution_of_run(seen.run.run.id)  # the execution log kept it
    assert logged is not None and logged.raw.endswith("x = 1  # a\ufffdb")


def check_outputs(seen: Seen) -> None:
    assert seen.run is not None
    texts = "".join(o.get("text", "") for o in seen.run.outputs if o["output_type"] == "stream")
    assert "a\x00b" in texts
    assert "lone \ufffd" in texts and "lone \ufffd" in seen.shown.stdout_head  # as shown
    (error,) = [o for o in seen.run.outputs if o["output_type"] == "error"]
    assert error["ename"] == "ValueError" and error["evalue"] == "bad \ufffd\x00 value"
    assert seen.run.error is not None and seen.run.error["ename"] == "ValueError"


def check_api(seen: Seen) -> None:
    by_name = {d.run.name: d for d in seen.api_runs}
    assert set(by_name) == {"'; DROP TABLE runs; --", "🚀", None}, set(by_name)
    sql = by_name["'; DROP TABLE runs; --"].run
    assert sql.experiment == "api-exp/../🚀" and sql.status is RunStatus.FINISHED
    assert sql.params == {
        "a/b": "'; --",
        "nul": "a\x00b",
        "bytes": {"$type": "bytes", "length": 1, "hex": "ff"},
    }
    assert sql.tags == {"..": "🚀"}
    assert sql.metrics["'"] == -math.inf
    rocket = by_name["🚀"]
    assert rocket.run.status is RunStatus.FAILED and rocket.error["ename"] == "KeyError"
    assert [(p.step, p.value) for p in rocket.metric_series["loss/train"]] == [(-1, 2.0), (3, 1.0)]
    unnamed = by_name[None].run  # its name was refused, the run kept
    assert unnamed.params == {"kept": True}


def _case_10k_option() -> Case:
    names = " ".join(f"q{i}" for i in range(10_000))
    return Case(
        "params_10k_option",
        "for _i in range(10_000):\n    globals()[f'q{_i}'] = f'v{_i}'\n",
        check_10k_option,
        track=f"-p {names}",
    )


CASES: list[Case] = [
    Case("print_100mb", "print('x' * 100_000_000)", check_print),
    Case(
        "params_10k_literals", "\n".join(f"p{i} = {i}" for i in range(10_000)), check_10k_literals
    ),
    _case_10k_option(),
    Case(
        "params_10k_api",
        "mltrack.log_params({f'k{i}': (i, str(i)) for i in range(10_000)})",
        check_10k_api,
    ),
    Case(
        "params_nested",
        "d = x = {}\n"
        "for _ in range(1_000):\n"
        "    x['a'] = {}\n"
        "    x = x['a']\n"
        "deep_list = y = []\n"
        "for _ in range(1_000):\n"
        "    y.append([])\n"
        "    y = y[0]\n"
        "deeper = z = []\n"
        "for _ in range(100_000):  # far beyond the recursion limit\n"
        "    z.append([])\n"
        "    z = z[0]\n"
        "del x, y, z\n"
        "mltrack.log_params({'deep_dict': d})\n",
        check_nested,
        track="-p d deep_list deeper",
    ),
    Case(
        "nested_literal",
        "d = " + "[" * 1_000 + "]" * 1_000,
        check_syntax_error,
        status=RunStatus.FAILED,
    ),
    Case(
        "param_values",
        "raw = b'\\xff\\x00'\n"
        "nul = 'a\\x00b'\n"
        "lone = 'x\\udcffy'\n"
        "huge = 10**100\n"
        "big = 2**63\n"
        "nan = float('nan')\n"
        "mltrack.log_params(b=raw, nul_api=nul, lone_api=lone, huge_api=huge)\n",
        check_value_params,
        track="-p raw huge big nan",
    ),
    Case(
        "param_names",
        "mltrack.log_params({**{k: k for k in NAMES}, **{k: 0 for k in REFUSED}, 'after': 1})",
        check_param_names,
        refused=(
            "param 'a\\x00b' not recorded: a name cannot contain NUL",
            "param '\\udcff' not recorded: a name must be valid Unicode",
            "param 'nnnnn",
        ),
    ),
    Case(
        "metric_names",
        "for i, k in enumerate(NAMES):\n"
        "    mltrack.log_metric(k, i)\n"
        "for k in REFUSED:\n"
        "    mltrack.log_metric(k, 1.0)\n"
        "    mltrack.log_metric(k, 2.0)  # refused once, said once\n"
        "mltrack.log_metric('after', 1.0)\n",
        check_metric_names,
        refused=(
            "metric 'a\\x00b' not recorded: a name cannot contain NUL",
            "metric '\\udcff' not recorded: a name must be valid Unicode",
            "metric 'nnnnn",
        ),
    ),
    Case(
        "metric_values",
        "import decimal, math\n"
        "import numpy as np\n"
        "m = 0.25\n"
        "nan_var = math.nan\n"
        "for k, v in [('nan', math.nan), ('inf', math.inf), ('-inf', -math.inf),\n"
        "             ('googol', 10**100), ('2**63', 2**63), ('beyond', 10**400),\n"
        "             ('f32', np.float32(1.5)), ('i64', np.int64(7)),\n"
        "             ('np_nan', np.float64('nan')), ('np_bool', np.bool_(True)),\n"
        "             ('decimal', decimal.Decimal('0.1'))]:\n"
        "    mltrack.log_metric(k, v)\n",
        check_metric_values,
        track="-m m nan_var",
    ),
    *[
        Case(
            f"metric_wrong_type_{i}",
            code,  # a programming error: raised, with or without %%track
            check_wrong_type,
            status=RunStatus.FAILED,
        )
        for i, code in enumerate(
            ["mltrack.log_metric(b'\\xff', 1.0)", "mltrack.log_metric('m', b'\\xff')"]
        )
    ],
    Case(
        "steps",
        "import numpy as np\n"
        "for step, v in [(0, 3.0), (-5, 1.0), (-1, 2.0)]:\n"
        "    mltrack.log_metric('neg', v, step=step)\n"
        "for step in (3, 1, 2):\n"
        "    mltrack.log_metric('shuffled', float(step), step=step)\n"
        "mltrack.log_metric('edges', 2.0, step=2**63 - 1)\n"
        "mltrack.log_metric('edges', 1.0, step=-2**63)\n"
        "mltrack.log_metric('np_step', 4.0, step=np.int64(4))\n"
        "mltrack.log_metric('kept', 1.0, step=0)\n"
        "mltrack.log_metric('kept', 9.0, step=2**63)\n"
        "mltrack.log_metric('kept', 9.0, step=-10**100)\n"
        "mltrack.log_metric('kept', 2.0, step=1)\n",
        check_steps,
        refused=(
            # once per metric: the second bad step is dropped without a word
            "metric 'kept' step 9223372036854775808 not recorded: steps are 64-bit integers",
        ),
    ),
    Case(
        "tags",
        "mltrack.set_tags({k: k for k in NAMES})\n"
        "mltrack.set_tags({k: 'x' for k in REFUSED})\n"
        "mltrack.set_tags(nul_value='a\\x00b', lone_value='\\udcff', long_value=LONG)\n",
        check_tags,
        track="""-t "line/tag='; DROP TABLE runs; --" emoji=🎉""",
        refused=(
            "tag 'a\\x00b' not recorded: a name cannot contain NUL",
            "tag '\\udcff' not recorded: a name must be valid Unicode",
            "tag 'nnnnn",
            "tag 'nul_value' not recorded: its value cannot contain NUL",
            "tag 'lone_value' not recorded: its value must be valid Unicode",
        ),
    ),
    *[
        Case(
            f"experiment_{i}",
            "x = 1",
            check_named_experiment(name),
            line=f"-e {json.dumps(name, ensure_ascii=False)}",
            experiment=name,
        )
        for i, name in enumerate(KEPT_NAMES)
    ],
    Case(
        "experiment_nul",
        "x = 1",
        check_untracked,
        line='-e "a\x00b"',
        refused=("could not start a run: experiment 'a\\x00b': a name cannot contain NUL",),
        tracked=False,
    ),
    Case(
        "experiment_long",
        "x = 1",
        check_untracked,
        line=f"-e {LONG}",
        refused=("could not start a run: experiment 'nnnnn",),
        tracked=False,
    ),
    *[
        Case(
            f"run_name_{i}",
            "x = 1",
            check_named_run(name),
            track=json.dumps(name, ensure_ascii=False),
        )
        for i, name in enumerate(KEPT_NAMES)
    ],
    Case(
        "run_name_nul",
        "x = 1",
        check_named_run(None),
        track='"a\x00b"',
        refused=("run name 'a\\x00b' not recorded: a name cannot contain NUL",),
    ),
    Case(
        "run_name_long",
        "x = 1",
        check_named_run(None),
        track=LONG,
        refused=("run name 'nnnnn",),
    ),
    Case(
        "code_nul",
        "x = 1  # a\x00b",  # no Python compiles it; the run records the cell as failed
        check_code_nul,
        status=RunStatus.FAILED,
    ),
    Case(
        "outputs",
        "print('a\\x00b')\nprint('lone \\udcff')\nraise ValueError('bad \\udcff\\x00 value')",
        check_outputs,
        status=RunStatus.FAILED,
    ),
    Case(
        "api",
        "with mltrack.start_run(\"'; DROP TABLE runs; --\", experiment='{exp}',\n"
        "                       params={'a/b': \"'; --\", 'nul': 'a\\x00b', 'bytes': b'\\xff'},\n"
        "                       tags={'..': '🚀'}):\n"
        "    mltrack.log_metric(\"'\", -float('inf'))\n"
        "try:\n"
        "    with mltrack.start_run('🚀', experiment='{exp}'):\n"
        "        mltrack.log_metric('loss/train', 1.0, step=3)\n"
        "        mltrack.log_metric('loss/train', 2.0, step=-1)\n"
        "        {}['missing']\n"
        "except KeyError:\n"
        "    pass\n"
        "with mltrack.start_run('a\\x00b', experiment='{exp}'):\n"
        "    mltrack.log_params(kept=True)\n",
        check_api,
        refused=("run name 'a\\x00b' not recorded: a name cannot contain NUL",),
    ),
]


# running it -------------------------------------------------------------------------------


def _database(server: str) -> Iterator[str]:
    name = "hostile_" + uuid.uuid4().hex[:12]
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Kernel, Store]]:
    """One kernel per backend for the whole table, recording into a fresh database."""
    root = tmp_path_factory.mktemp(f"hostile-{request.param}")
    (root / "nb").mkdir()
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{root / 'store.db'}"])
    else:
        urls = _database(request.getfixturevalue("postgres_url"))
    url = next(urls)
    names = f"NAMES = {KEPT_NAMES!r}\nREFUSED = {tuple(REFUSED_NAMES)!r}\nLONG = 'n' * 10_000\n"
    with loaded_kernel(root / "nb", root / "home", "hostile.ipynb", f"%mltrack store {url}") as k:
        k.ok(names + SETUP)
        store = Store(url)
        try:
            yield k, store
        finally:
            store.close()
    for _ in urls:  # drops the PostgreSQL database
        pass


def _cli_json(url: str, run_id: str) -> Any:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["--store", url, "runs", "show", run_id, "--json"]) == 0
    return json.loads(out.getvalue())


def _error(shown: Shown) -> tuple[str, str] | None:
    """The error the cell raised; a syntax error names the cell's file, which IPython names
    after the text of the cell (the tracked one has a ``%%track`` line)."""
    if shown.error is None:
        return None
    name, value = shown.error
    return name, re.sub(r"\(\d+\.py, line", "(<cell>, line", value)


def _mltrack_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("mltrack:")]


def _not_ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("mltrack:")]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_value(case: Case, backend: tuple[Kernel, Store]) -> None:
    kernel, store = backend
    api_exp = "api-exp/../🚀" if case.id == "api" else f"api-{case.id}"
    clean = execute(kernel, "_h_clean()")
    assert clean.status == "ok", clean
    plain = execute(kernel, case.code.replace("{exp}", api_exp + "-plain"))
    after_plain = probe(kernel)
    clean = execute(kernel, "_h_clean()")
    assert clean.status == "ok", clean
    assert probe(kernel)["ns"] == {}  # the tracked run starts from the same namespace
    tracked = execute(
        kernel, f"%%track {case.track_line()}\n" + case.code.replace("{exp}", api_exp)
    )
    after_tracked = probe(kernel)

    # the cell behaves exactly as without %%track
    assert tracked.status == plain.status
    assert _error(tracked) == _error(plain)
    assert tracked.results == plain.results
    assert tracked.displays == plain.displays
    assert tracked.streams.get("stdout") == plain.streams.get("stdout")
    assert after_tracked["ns"] == after_plain["ns"]
    lines = _mltrack_lines(tracked.stderr)
    assert _not_ours(tracked.stderr) == _not_ours(plain.stderr)
    # the logging API's own refusals are said the same way without %%track
    assert all(line in lines for line in _mltrack_lines(plain.stderr)), plain.stderr
    assert len(lines) == len(case.refused), lines
    for line, expected in zip(lines, case.refused, strict=True):
        assert expected in line, (expected, line)
    assert "Traceback" not in tracked.stderr

    # the store holds what it should
    runs, _ = store.search_runs(experiment=case.run_experiment(), limit=5)
    cell_runs = [r for r in runs if r.source == "notebook"]
    if case.tracked:
        assert len(cell_runs) == 1, cell_runs
        detail = store.get_run_detail(cell_runs[0].id)
        assert detail.run.status is case.status
        assert len(tracked.cards) == 1
    else:
        assert not cell_runs
        detail = None
    api_runs = [
        store.get_run_detail(r.id) for r in store.search_runs(experiment=api_exp, limit=10)[0]
    ]
    for d in ([detail] if detail else []) + api_runs:  # what the CLI and REST API serve
        assert json.dumps(d.to_dict(), allow_nan=False)
        served = api.get_run(store, d.run.id)  # the detail, its artifacts and models
        assert _cli_json(store.url, d.run.id) == json.loads(json.dumps(served))
    case.check(Seen(store, detail, api_runs, tracked, (after_plain["rss"], after_tracked["rss"])))


# the store itself -------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REFUSED_NAMES), ids=list(REFUSED_NAMES.values()))
def test_the_store_refuses_the_same_names_on_both_backends(store: Store, name: str) -> None:
    """What PostgreSQL cannot hold, SQLite is not let hold either: every write of a name
    refuses it before writing anything (one clear error), and what was stored is intact."""
    from jupyter_mltrack.store import InvalidName, MetricPoint

    run = store.create_run("kept", params={"p": 1}, tags={"t": "v"})
    point = MetricPoint(name, 1.0, 0, 0.0)
    writes: list[Callable[[], Any]] = [
        lambda: store.create_run(name),
        lambda: store.create_run("kept", name=name),
        lambda: store.create_run("kept", params={name: 1}),
        lambda: store.create_run("kept", tags={name: ""}),
        lambda: store.log_params(run.id, {"ok": 2, name: 1}),
        lambda: store.log_metrics(run.id, [MetricPoint("ok", 2.0, 0, 0.0), point]),
        lambda: store.set_tags(run.id, {name: "x"}),
        lambda: store.update_run(run.id, name=name),
        lambda: store.finish_run(run.id, RunStatus.FINISHED, params={name: 1}),
        lambda: store.finish_run(run.id, RunStatus.FINISHED, metrics=[point]),
        lambda: store.set_metric_goal("kept", name, "min"),
    ]
    if len(name) <= 256:  # a tag's value may be long, not hold NUL or lone surrogates
        writes.append(lambda: store.set_tags(run.id, {"t2": name}))
    for write in writes:
        with pytest.raises(InvalidName, match="NUL|Unicode|256"):
            write()
    runs, total = store.search_runs(experiment="kept")
    assert total == 1 and runs[0].status is RunStatus.RUNNING  # no write went half-way
    assert runs[0].params == {"p": 1} and runs[0].tags == {"t": "v"} and runs[0].metrics == {}
    store.update_run(run.id, note="a\x00b \udcff")  # free text: replaced, not refused
    assert store.get_run_detail(run.id).run.note == "a\ufffdb \ufffd"
