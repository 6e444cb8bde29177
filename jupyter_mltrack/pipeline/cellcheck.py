"""Comparing what a tracked cell produced with what its pipeline produced, for
``mltrack reproduce``: the values it bound (records made by :mod:`..capture.results`, on
both sides) and the text it output.

Kept apart from :mod:`..capture.results`, which runs at the end of every tracked cell: the
comparison (its patterns, its report types) is only ever needed by ``reproduce``.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..capture.results import VALUE_BYTES, Records

# comparing ------------------------------------------------------------------------------------


@dataclass
class ValueCheck:
    """One value the cell bound: what was compared, and whether it matched."""

    name: str
    kind: str
    #: ``None``: not compared (a clock reading, or nothing the pipeline could check).
    equal: bool | None
    #: How: ``exact``, ``tolerance``, ``digest``, ``shape`` (shape and dtypes only).
    how: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "equal": self.equal,
            "how": self.how,
            "detail": self.detail,
        }


class _Pair(NamedTuple):
    """One value as the run recorded it (``a``) and as the pipeline did (``b``): the records,
    the data kept with them (``None``: over the size kept, compared by digest) and the
    tolerances — what each kind's comparison takes."""

    name: str
    a: dict[str, Any]
    a_data: bytes | None
    b: dict[str, Any]
    b_data: bytes | None
    rtol: float
    atol: float


def compare_values(
    original: Records,
    reproduced: Records,
    *,
    rtol: float,
    atol: float,
    skip: Mapping[str, str] | None = None,
) -> list[ValueCheck]:
    """Each recorded value of the run against the pipeline's; ``skip`` names values not to
    compare, with why (clock readings differ on every run)."""
    checks = []
    for name in sorted(original):
        record, data = original[name]
        kind = record.get("kind", "?")
        if skip and name in skip:
            checks.append(ValueCheck(name, kind, None, "skipped", skip[name]))
            continue
        if name not in reproduced:
            checks.append(ValueCheck(name, kind, False, "missing", "the pipeline did not bind it"))
            continue
        other, other_data = reproduced[name]
        try:
            checks.append(_compare(_Pair(name, record, data, other, other_data, rtol, atol)))
        except Exception as exc:  # a corrupt record: say so rather than crash the report
            checks.append(ValueCheck(name, kind, False, "error", f"could not compare: {exc!r}"))
    return checks


def _describe(record: Mapping[str, Any]) -> str:
    kind = record.get("kind")
    if kind in ("array", "frame", "series"):
        dtypes = record.get("dtype") or ", ".join(record.get("dtypes") or [])
        return f"{record.get('type')} {tuple(record.get('shape') or ())} {dtypes}"
    if "value" in record:
        return repr(record["value"])[:80]
    return str(record.get("type"))


def _compare(pair: _Pair) -> ValueCheck:
    name, a, b = pair.name, pair.a, pair.b
    kind = a.get("kind", "?")
    if b.get("kind") != kind:
        return ValueCheck(name, kind, False, "type", f"{_describe(a)} became {_describe(b)}")
    if kind == "number":
        if isinstance(a["value"], int) and isinstance(b["value"], int):
            equal = a["value"] == b["value"]
            detail = "" if equal else f"{a['value']!r} became {b['value']!r}"
            return ValueCheck(name, kind, equal, "exact", detail)
        x, y = float(a["value"]), float(b["value"])
        equal = (math.isnan(x) and math.isnan(y)) or math.isclose(
            x, y, rel_tol=pair.rtol, abs_tol=pair.atol
        )
        return ValueCheck(name, kind, equal, "tolerance", "" if equal else f"{x!r} became {y!r}")
    if kind in ("bool", "string"):
        if "value" in a and "value" in b:
            equal = a["value"] == b["value"]
            detail = "" if equal else f"{_short(a['value'])} became {_short(b['value'])}"
            return ValueCheck(name, kind, equal, "exact", detail)
        equal = a.get("digest") == b.get("digest") and a.get("length") == b.get("length")
        return ValueCheck(name, kind, equal, "digest", "" if equal else "the text differs")
    if kind == "array":
        return _compare_array(pair)
    if kind in ("frame", "series"):
        return _compare_frame(pair)
    return ValueCheck(name, kind, None, "skipped", f"no comparison for {kind!r}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare_array(pair: _Pair) -> ValueCheck:
    name, a, a_data, b, b_data, rtol, atol = pair
    if a.get("shape") != b.get("shape") or a.get("dtype") != b.get("dtype"):
        return ValueCheck(name, "array", False, "shape", f"{_describe(a)} became {_describe(b)}")
    if a.get("digest") and a.get("digest") == b.get("digest"):
        return ValueCheck(name, "array", True, "exact")
    if a_data is not None and b_data is not None:
        import numpy as np

        x = np.load(io.BytesIO(a_data), allow_pickle=False)
        y = np.load(io.BytesIO(b_data), allow_pickle=False)
        return _close(name, "array", x, y, rtol, atol)
    if not a.get("digest") or not b.get("digest"):
        why = a.get("note") or b.get("note") or "no digest"
        return ValueCheck(name, "array", True, "shape", f"shape and dtype only ({why})")
    return ValueCheck(
        name,
        "array",
        False,
        "digest",
        f"the values differ (over {VALUE_BYTES:,} bytes: compared by digest, "
        "a tolerance compare was not possible)",
    )


def _close(name: str, kind: str, x: Any, y: Any, rtol: float, atol: float) -> ValueCheck:
    """Arrays of one shape: floats within the tolerances (NaN equals NaN), others exactly."""
    import numpy as np

    if x.dtype.kind in "fc":
        same = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
    else:
        same = np.asarray(x == y)
    if bool(np.all(same)):
        return ValueCheck(name, kind, True, "tolerance" if x.dtype.kind in "fc" else "exact")
    bad = int(same.size - np.count_nonzero(same))
    where = np.argwhere(~same)[0] if same.ndim else ()
    first = tuple(int(i) for i in where)
    detail = f"{bad:,} of {same.size:,} values differ"
    if same.ndim:
        detail += f"; first at {first}: {_item(x[first])!r} became {_item(y[first])!r}"
    return ValueCheck(name, kind, False, "tolerance", detail)


def _item(value: Any) -> Any:
    """A numpy scalar as the plain Python value it holds (``0.5``, not ``np.float64(0.5)``)."""
    return value.item() if hasattr(value, "item") else value


def _compare_frame(pair: _Pair) -> ValueCheck:
    name, a, a_data, b, b_data, rtol, atol = pair
    kind = a["kind"]
    for key in ("shape", "columns", "dtypes", "name"):
        if a.get(key) != b.get(key):
            return ValueCheck(
                name, kind, False, "shape", f"{key}: {a.get(key)} became {b.get(key)}"
            )
    if a.get("digest") and a.get("digest") == b.get("digest"):
        return ValueCheck(name, kind, True, "exact")
    if not a.get("digest") or not b.get("digest"):
        why = a.get("note") or b.get("note") or "no digest"
        if a_data is None or b_data is None:
            return ValueCheck(name, kind, True, "shape", f"shape and dtypes only ({why})")
    elif a.get("index_digest") != b.get("index_digest"):
        return ValueCheck(name, kind, False, "digest", "the index differs")
    columns = a.get("columns") or []
    # scikit-learn's cv_results_ and the like: durations, which differ on every run
    timings = {i for i, c in enumerate(columns) if _TIME_LABEL.search(str(c))}
    skipped = (
        f"columns {', '.join(repr(columns[i]) for i in sorted(timings))} not compared (durations)"
        if timings
        else ""
    )
    if a_data is None or b_data is None:
        differ = [c for i, c in _differing_columns(a, b) if i not in timings]
        if not differ and timings and a.get("column_digests") and b.get("column_digests"):
            return ValueCheck(name, kind, True, "digest", skipped)
        return ValueCheck(
            name,
            kind,
            False,
            "digest",
            f"columns {', '.join(differ) or '?'} differ (over {VALUE_BYTES:,} bytes: compared "
            "by digest, a tolerance compare was not possible)",
        )
    import numpy as np

    x, y = np.load(io.BytesIO(a_data)), np.load(io.BytesIO(b_data))
    digests_a, digests_b = a.get("column_digests"), b.get("column_digests")
    for i, column in enumerate(columns):
        key = f"c{i}"
        if i in timings:
            continue
        if key in x.files and key in y.files:
            check = _close(name, kind, x[key], y[key], rtol, atol)
            if check.equal is False:
                check.detail = f"column {column!r}: {check.detail}"
                return check
        elif digests_a and digests_b and digests_a[i] != digests_b[i]:
            return ValueCheck(name, kind, False, "digest", f"column {column!r} differs")
    return ValueCheck(name, kind, True, "tolerance", skipped)


def _differing_columns(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[tuple[int, str]]:
    """``(position, repr(name))`` of the columns whose digests differ."""
    digests_a, digests_b = a.get("column_digests") or [], b.get("column_digests") or []
    columns = a.get("columns") or []
    return [
        (i, repr(c))
        for i, (c, x, y) in enumerate(zip(columns, digests_a, digests_b, strict=False))
        if x != y
    ]


# clock readings -------------------------------------------------------------------------------

#: Calls whose result is the time: values computed from them differ on every run.
CLOCKS = re.compile(
    r"(^|\.)(time|perf_counter|monotonic|process_time|thread_time|time_ns|perf_counter_ns|"
    r"monotonic_ns|now|utcnow|today|default_timer)$"
)


def clock_names(source: str) -> dict[str, str]:
    """Names a cell binds from a clock reading, directly or through another such name
    (``t0 = time.time()``, ``elapsed = time.time() - t0``): never compared, with why."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    tainted: dict[str, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) or node.value is None:
            continue
        if not any(_reads_clock(inner, tainted) for inner in ast.walk(node.value)):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name):
                    tainted[leaf.id] = "a clock reading"
    return tainted


def _reads_clock(node: Any, tainted: Mapping[str, str]) -> bool:
    import ast

    if isinstance(node, ast.Call):
        return CLOCKS.search(ast.unparse(node.func)) is not None
    return isinstance(node, ast.Name) and node.id in tainted


# text outputs ---------------------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
_TIMING_LINE = re.compile(r"^\s*(Wall time|CPU times|CPU time|Elapsed|Time taken)\b.*$", re.I)
_PROGRESS = re.compile(r"\d+%\|| \d+/\d+ \[|it/s\]|s/it\]")
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?(\.\d+)?\b")
_DURATION = re.compile(
    r"(?<![\w.])[-+]?\d+(\.\d+)?(e[-+]?\d+)?\s?(ns|µs|μs|us|ms|s|sec|secs|seconds?|min|mins|"
    r"minutes?|h|hours?)\b",
    re.I,
)
_WARNING_AT = re.compile(r"^\S.*?:\d+: \w*Warning: ")
_NUMBER = re.compile(r"([-+]?\d+\.\d+(?:[eE][-+]?\d+)?)")


def normalize_text(text: str) -> str:
    """``text`` with what differs on every run masked: durations (``1.23 s``, ``12ms``,
    ``0:00:01``), wall-time lines, progress bars (kept as one line per bar) and memory
    addresses (``0x7f…``), runs of spaces (a printed table realigns when a number's width
    changes); the tracker's own ``mltrack: …`` lines are dropped, and so are Python warnings
    (with the source line they quote):
    which are shown depends on the environment and on what ran before in the process
    (each shows once per place), which differs between a kernel and a fresh script."""
    lines: list[str] = []
    warned = False
    time_columns: set[int] = set()
    for raw in text.split("\n"):
        line = raw.rsplit("\r", 1)[-1]  # what a terminal shows after carriage returns
        line, time_columns = _mask_time_table(line, time_columns)
        if _WARNING_AT.match(line):
            warned = True
            continue
        if line.startswith("mltrack: "):
            continue  # the tracker's own diagnostics (a kernel's, not the notebook's)
        if warned and line.startswith("  "):
            continue  # the source line a warning quotes
        warned = False
        if _TIMING_LINE.match(line):
            line = "<timing>"
        elif _PROGRESS.search(line):
            line = "<progress>"
        else:
            line = _ADDRESS.sub("0x…", line)
            line = _CLOCK.sub("<time>", line)
            line = _DURATION.sub("<time>", line)
        if line == "<progress>" and lines and lines[-1] == "<progress>":
            continue
        lines.append(_SPACES.sub(" ", line).rstrip())  # tables realign with number widths
    return "\n".join(lines)


#: A label that names a duration: ``fit_time``, ``mean_score_time``, ``elapsed``, ``seconds``.
_TIME_LABEL = re.compile(
    r"(^|[^a-z])(time|times|duration|elapsed|seconds|secs|latency)([^a-z]|$)", re.I
)
_TOKEN = re.compile(r"\S+")
_SPACES = re.compile(r"[ \t]+")
_ANY_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(\.\d+)?([eE][-+]?\d+)?(?![\w.])")


def _mask_time_table(line: str, time_columns: set[int]) -> tuple[str, set[int]]:
    """Numbers a printed table labels as durations (scikit-learn's ``cv_results_`` has
    ``mean_fit_time`` and ``mean_score_time``): on a row whose label is one (a Series, a
    transposed frame), and under a column header that is one (pandas right-aligns numbers
    with their header). ``time_columns``: where such headers end, from the lines above, until
    a blank line ends the table. Returns the line and the header ends for the next line."""
    if not line.strip():
        return line, set()
    tokens = list(_TOKEN.finditer(line))
    headers = {t.end() for t in tokens if _TIME_LABEL.search(t.group())}
    spans = [
        m.span()
        for m in _ANY_NUMBER.finditer(line)
        if m.end() in time_columns
        or (_TIME_LABEL.search(tokens[0].group()) and m.start() >= tokens[0].end())
    ]
    for start, end in reversed(spans):
        line = line[:start] + "<time>" + line[end:]
    return line, (headers or time_columns)


@dataclass
class TextCheck:
    """One text output of the cell (``stdout``, ``stderr``, or ``result``: the text/plain
    of its last expression), compared modulo :func:`normalize_text`."""

    name: str
    equal: bool | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "equal": self.equal, "detail": self.detail}


def text_outputs(outputs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The text a cell's recorded outputs hold: its streams, and its result's text/plain."""
    found: dict[str, str] = {}
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            name = str(out.get("name") or "stdout")
            found[name] = found.get(name, "") + str(out.get("text") or "")
        elif kind == "execute_result":
            plain = (out.get("data") or {}).get("text/plain")
            if plain is not None:
                found["result"] = "".join(plain) if isinstance(plain, list) else str(plain)
    return found


def compare_texts(
    original: Mapping[str, str],
    reproduced: Mapping[str, str],
    *,
    rtol: float,
    atol: float,
    result_elsewhere: str = "",
) -> list[TextCheck]:
    """Each text the cell output against the pipeline's: equal after masking, decimal
    numbers within the tolerances. ``result_elsewhere``: why a pipeline that shows no last
    value is right not to (it was logged as a metric, compared there; it is what a logging
    call returned), said in the report; "" when it should have shown it."""
    checks = []
    for name in ("stdout", "stderr", "result"):
        a, b = original.get(name, ""), reproduced.get(name)
        if not a and not b:
            continue
        if name == "result" and b is None and result_elsewhere:
            checks.append(TextCheck(name, None, result_elsewhere))
            continue
        na, nb = normalize_text(a), normalize_text(b or "")
        if na == nb:
            checks.append(TextCheck(name, True))
            continue
        equal, detail = _texts_close(na, nb, rtol, atol)
        checks.append(TextCheck(name, equal, detail))
    return checks


def _texts_close(a: str, b: str, rtol: float, atol: float) -> tuple[bool, str]:
    """Equal but for decimal numbers within the tolerances; else the first differing line."""
    pa, pb = _NUMBER.split(a), _NUMBER.split(b)
    if (
        len(pa) == len(pb)
        and all(x == y for x, y in zip(pa[::2], pb[::2], strict=True))
        and all(
            math.isclose(float(x), float(y), rel_tol=rtol, abs_tol=atol)
            for x, y in zip(pa[1::2], pb[1::2], strict=True)
        )
    ):
        return True, "numbers within tolerance"
    la, lb = a.split("\n"), b.split("\n")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else "<nothing>"
        y = lb[i] if i < len(lb) else "<nothing>"
        if x != y:
            return False, f"line {i + 1}: {x[:80]!r} became {y[:80]!r}"
    return False, "the text differs"
