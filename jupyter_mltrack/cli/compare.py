"""``mltrack runs compare`` and ``mltrack runs explain``.

Both print what :mod:`jupyter_mltrack.compare` computes, so the terminal, the REST API and the
notebook widget never disagree: ``--json`` is ``Comparison.to_dict()`` /
``Explanation.to_dict()`` exactly as the API serves it, and the tables are drawn from that same
dictionary. :mod:`jupyter_mltrack.compare` (numpy) and plotly (``--html`` only) are imported
inside the commands, so the rest of the CLI starts as quickly as before.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from ..compare.artifact_rows import side_text
from ..compare.used import cell_text as used_cell
from ..compare.used import differs as used_differs
from ..store import Store
from .common import (
    CliError,
    _bytes,
    _cut,
    _duration,
    _html_destination,
    _number,
    _offset,
    _one_line,
    _plural,
    _print_json,
    _publish,
    _value,
    _when,
    table,
)

#: What a reducer may be (``compare.reducers`` parses them), for help and messages.
REDUCER_HELP = "last, min, max, best, step=N or mean=K"
#: Lines of one code diff printed in the terminal before the rest is summarised.
MAX_HUNK_LINES = 40
#: Widest a value cell gets in the comparison tables (a column per run, so kept narrow).
VALUE_CELL = 28
#: Run columns per table: more runs are printed as blocks of this many, so that a table of
#: 30 runs stays readable in a terminal instead of wrapping every line.
MAX_TABLE_RUNS = 8
#: What a cell says for a value the run has not recorded (yet), unlike "-" (it has none).
NOT_RECORDED = "not recorded"
#: Spelling of the comparison's non-finite metric values.
NON_FINITE = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}
#: Width the explanation's sentences are wrapped at.
WRAP = 100
RUN_HELP = "run number (in -e's experiment, else the latest), id or unique id prefix"


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> None:
    """Add ``compare`` and ``explain`` to the ``runs`` group."""
    cmp = commands.add_parser(
        "compare",
        help="what differs between runs and what it did to the metrics",
        description="Compare 2 to 100 runs against a baseline (the first run unless --baseline"
        " names another): parameters, metrics (with the change against the baseline and"
        " whether it is better or worse), attributes, packages, code, data and outputs. Only"
        " the rows that differ are shown unless --all is given.",
        parents=[store_opt, json_opt],
    )
    cmp.add_argument("runs", nargs="+", metavar="RUN", help=RUN_HELP)
    cmp.add_argument("--baseline", "-b", metavar="RUN", help="one of the runs (default: first)")
    cmp.add_argument("--all", "-a", action="store_true", help="show identical rows too")
    cmp.add_argument(
        "--reducer",
        "-r",
        action="append",
        default=[],
        metavar="KEY:SPEC",
        help=f"how to reduce a metric's series to one value: {REDUCER_HELP} "
        "(default last; repeatable, e.g. --reducer loss:min)",
    )
    cmp.add_argument(
        "--step",
        type=_offset,  # a step, like an offset, is a whole number from 0
        metavar="N",
        help="compare metrics that have series at step N (the last point at or before it)",
    )
    cmp.add_argument(
        "--html",
        metavar="FILE",
        help="also write a standalone HTML report with charts (readable offline); "
        "an existing file is replaced",
    )
    cmp.add_argument("--experiment", "-e", metavar="E", help="experiment run numbers refer to")
    cmp.set_defaults(func=cmd_runs_compare)

    why = commands.add_parser(
        "explain",
        help="why a metric changed between two runs, factors ranked by evidence",
        description="Every factor that differs between runs A and B (parameters, code hunks,"
        " input data, packages, seeds), ranked by the evidence the rest of the experiment"
        " gives: pairs of runs differing only in that factor, rank correlation and"
        " random-forest importance. Confounded factors are grouped; factors with no evidence"
        " are listed as untested.",
        parents=[store_opt, json_opt],
    )
    why.add_argument("a", metavar="A", help=RUN_HELP)
    why.add_argument("b", metavar="B", help=RUN_HELP)
    why.add_argument("--metric", "-m", required=True, metavar="KEY", help="the metric to explain")
    why.add_argument("--experiment", "-e", metavar="E", help="experiment run numbers refer to")
    why.set_defaults(func=cmd_runs_explain)


# arguments -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _compare_errors() -> Iterator[None]:
    """The comparison's refusals as one-line CLI errors: a run that does not exist exits 1
    (as ``runs show`` does), anything the command line can fix exits 2."""
    from ..compare import CompareError

    try:
        yield
    except CompareError as exc:
        raise CliError(_one_line(exc), 1 if isinstance(exc, LookupError) else 2) from None


def _resolve(store: Store, refs: Sequence[str], experiment: str | None) -> list[str]:
    """Run ids for ``refs``, each run named once."""
    ids: list[str] = []
    seen: dict[str, str] = {}
    for ref in refs:
        run_id = store.resolve_run_id(ref, experiment)  # its errors are the CLI's (main)
        if run_id in seen:
            raise CliError(f"{seen[run_id]!r} and {ref!r} are the same run; name each run once", 2)
        seen[run_id] = ref
        ids.append(run_id)
    return ids


def _reducers(specs: Sequence[str]) -> dict[str, Any]:
    """``--reducer KEY:SPEC`` options, checked here so the message names the option."""
    from ..compare import CompareError, parse_reducer_arg

    reducers: dict[str, Any] = {}
    for raw in specs:
        key, sep, spec = raw.rpartition(":")
        if not sep or not key.strip() or not spec.strip():
            raise CliError(
                f"--reducer must be METRIC:REDUCER (e.g. loss:min), got {raw!r}; "
                f"REDUCER is one of {REDUCER_HELP}",
                2,
            )
        try:
            key, reducer = parse_reducer_arg(raw)
        except CompareError as exc:
            raise CliError(f"--reducer {raw!r}: {_one_line(exc)}", 2) from None
        if key in reducers:
            raise CliError(f"--reducer for {key!r} was given more than once; give one", 2)
        reducers[key] = reducer
    return reducers


# commands --------------------------------------------------------------------------------------


def cmd_runs_compare(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..compare import MAX_RUNS, compare

    if len(args.runs) < 2:
        raise CliError(f"compare needs at least 2 runs, got {len(args.runs)}: name another", 2)
    if len(args.runs) > MAX_RUNS:
        raise CliError(
            f"{len(args.runs)} runs named; at most {MAX_RUNS} can be compared at once", 2
        )
    html_dest = _html_destination(args.html) if args.html else None
    ids = _resolve(store, args.runs, args.experiment)
    baseline = None
    if args.baseline is not None:
        baseline = _resolve(store, [args.baseline], args.experiment)[0]
        if baseline not in ids:
            raise CliError(
                f"--baseline {args.baseline!r} is not one of the compared runs: "
                "name one of them, or add it",
                2,
            )
    reducers = _reducers(args.reducer)
    with _compare_errors():
        comparison = compare(
            store,
            ids,
            baseline,
            reducers=reducers or None,
            step=args.step,
            experiment=args.experiment,
        )
        data = comparison.to_dict()
    if args.json:
        _print_json(data, out)
    else:
        out.write(comparison_report(data, show_all=args.all) + "\n")
    if html_dest is not None:
        from .report import comparison_html

        with _compare_errors():
            page = comparison_html(store, comparison, data, show_all=args.all)
        replaced = html_dest.exists()
        _publish(html_dest, lambda tmp: tmp.write_text(page, encoding="utf-8"), force=True)
        note = "; replaced the file that was there" if replaced else ""
        where = sys.stderr if args.json else out  # --json keeps stdout pure JSON
        size = _bytes(html_dest.stat().st_size)
        where.write(f"wrote {html_dest} ({size}): report of {len(ids)} runs{note}\n")
    return 0


def cmd_runs_explain(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    from ..compare import explain

    a, b = _resolve(store, [args.a, args.b], args.experiment)
    with _compare_errors():
        explanation = explain(store, a, b, args.metric, experiment=args.experiment)
        data = explanation.to_dict()
    if args.json:
        _print_json(data, out)
    else:
        out.write(explanation_report(data) + "\n")
    return 0


# the comparison as text --------------------------------------------------------------------------


def cell(value: Any, width: int = VALUE_CELL) -> str:
    """One value of a comparison row: ``-`` where a run lacks it."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping) and "$type" in value:
        return _cut(_marker(value), width)
    return _cut(_value(value), width)


def _marker(value: Mapping[str, Any]) -> str:
    """A value the store had to encode (``{"$type": "float", "value": "nan"}``, a repr, a
    truncated string) as the text it stands for."""
    for key in ("repr", "value", "name", "seconds"):
        if key in value:
            text = str(value[key])
            return text + "…" if value["$type"] == "truncated" else text
    return str(value["$type"])


def signed(value: float) -> str:
    """A change, always with its sign."""
    return "+" + _number(value) if value >= 0 else _number(value)


def metric_value(value: Any) -> str:
    """A reduced metric: ``-`` where the run did not log it, ``NaN`` / ``inf`` / ``-inf``
    where it logged a non-finite value (the comparison's ``"nan"``, ``"inf"``, ``"-inf"``)."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, float) and value != value:
        return "NaN"
    return _number(float(value))


def metric_cell(metric: Mapping[str, Any], i: int, *, baseline: bool) -> str:
    """``0.94 ↑+0.03 (+3.3%) better``: value, arrow and change against the baseline, verdict."""
    text = metric_value(metric["values"][i])
    if text == "-":
        return text
    step = (metric.get("steps") or [None] * (i + 1))[i]
    if step is not None and metric.get("reducer", "last") != "last":
        text += f" @{step}"
    if baseline:
        return text
    change = metric["changes"][i]
    if change is not None and change == change:  # NaN: no arrow
        arrow = "↑" if change > 0 else "↓" if change < 0 else "="
        text += f" {arrow}{signed(change)}" if change else " ="
        pct = (metric.get("pct_changes") or [None] * (i + 1))[i]
        if pct is not None and change:
            text += f" ({signed(round(pct, 1))}%)"
    verdict = metric["verdicts"][i]
    if verdict in ("better", "worse"):
        text += f" {verdict}"
    return text


def _attribute(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in ("start_time", "end_time"):
        if isinstance(value, str):  # the API's ISO time: shown in local time as elsewhere
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value).timestamp()
        if isinstance(value, int | float):
            return _when(value)
    if key == "duration" and isinstance(value, int | float):
        return _duration(value)
    if key == "git_commit" and isinstance(value, str):
        return value[:12]
    if key == "parent_run" and isinstance(value, str):
        return value[:8]
    return cell(value)


def _code_lines(diff: Mapping[str, Any] | None, what: str) -> list[str]:
    """``cell: 2 hunks, +3 -1 lines`` and the hunks themselves (capped)."""
    if diff is None:
        return [f"{what}: not recorded"]
    if diff.get("same"):
        return [f"{what}: same"]
    hunks = diff.get("hunks") or []
    added = sum(line.startswith("+") for h in hunks for line in h.get("lines", []))
    removed = sum(line.startswith("-") for h in hunks for line in h.get("lines", []))
    lines = [f"{what}: {_plural(len(hunks), 'hunk')}, +{added} -{removed} lines"]
    shown = 0
    for hunk in hunks:
        if shown >= MAX_HUNK_LINES:
            break
        lines.append(f"  {hunk.get('header', '@@')}")
        for line in hunk.get("lines", []):
            if shown >= MAX_HUNK_LINES:
                break
            lines.append(f"  {line}".rstrip())
            shown += 1
    total = sum(len(h.get("lines", [])) for h in hunks)
    if total > shown:
        lines.append(f"  … {total - shown} more lines (see --json or --html)")
    return lines


def data_summary(diff: Mapping[str, Any] | None) -> str:
    """The snapshot diff's summary in a few words: rows, schema, changed columns, drift."""
    if not diff:
        return ""
    parts = []
    rows = diff.get("rows")
    if isinstance(rows, Sequence) and len(rows) == 2 and rows[0] != rows[1]:
        parts.append(f"rows {rows[0]}→{rows[1]}")
    if diff.get("schema_changed"):
        parts.append("schema")
    for word, key in (("+", "added_columns"), ("-", "removed_columns")):
        cols = diff.get(key) or []
        if cols:
            parts.append(word + ",".join(map(str, cols)))
    changed = diff.get("changed_columns") or []
    if changed:
        parts.append("cols " + ",".join(map(str, changed)))
    return "; ".join(parts)


def data_cell(row: Mapping[str, Any], i: int) -> str:
    entry = row["entries"][i]
    state = row["states"][i]
    if state is None:  # the baseline
        return "-" if entry is None else str(entry.get("short") or "")[:12]
    summary = data_summary((row.get("diffs") or [None] * (i + 1))[i])
    return f"{state} ({summary})" if summary else state


def data_differs(row: Mapping[str, Any]) -> bool:
    return any(s not in (None, "same") for s in row["states"])


def output_cell(item: Mapping[str, Any] | None) -> str:
    """An output in a few words: a stream's first line, a display's text or its type."""
    if item is None:
        return "-"
    kind = item.get("output_type", "?")
    if kind == "stream":
        text = item.get("text", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        return f"{item.get('name', 'stream')}: {text.strip()}"
    if kind == "error":
        return f"error: {item.get('ename', '')}: {item.get('evalue', '')}"
    data = item.get("data") or {}
    plain = data.get("text/plain")
    if plain is not None:
        return "".join(plain) if isinstance(plain, list) else str(plain)
    return ", ".join(sorted(data)) or kind


def _section(
    title: str,
    headers: list[str],
    rows: list[list[str]],
    hidden: int,
    noun: str,
    *,
    keys: int = 1,
    notes: Sequence[str] = (),
) -> str:
    """A section's table; ``keys``: leading columns naming the row (the rest: one per run).
    More than :data:`MAX_TABLE_RUNS` runs are printed as blocks of that many columns, each
    repeating the key columns."""
    tail = "".join(f"\n  {note}" for note in notes)
    if not rows:
        if not hidden:
            return f"{title}:{tail}" if notes else ""
        return f"{title}: {_plural(hidden, 'identical ' + noun)} (--all shows them){tail}"
    more = f"  ({_plural(hidden, 'identical ' + noun)} hidden)" if hidden else ""
    runs = len(headers) - keys
    blocks = []
    for start in range(0, max(runs, 1), MAX_TABLE_RUNS):
        cols = list(range(keys)) + list(
            range(keys + start, min(keys + start + MAX_TABLE_RUNS, len(headers)))
        )
        text = table([headers[c] for c in cols], [[r[c] for c in cols] for r in rows])
        head = ""
        if runs > MAX_TABLE_RUNS:
            last = min(start + MAX_TABLE_RUNS, runs)
            head = f"  runs {start + 1}-{last} of {runs}:\n"
        blocks.append(head + "\n".join("  " + line for line in text.splitlines()))
    return f"{title}{more}\n" + "\n".join(blocks) + tail


def comparison_report(data: Mapping[str, Any], *, show_all: bool = False) -> str:
    """``runs compare`` as text: the runs, then one table per section, each with a column per
    run (the baseline first); identical rows are counted, not shown, unless ``show_all``."""
    runs = data["runs"]
    n = len(runs)
    labels = [str(r.get("label") or f"#{r.get('number')}") for r in runs]
    heads = [labels[0] + " (base)"] + labels[1:]
    run_rows = [
        [
            labels[i] + (" *" if i == 0 else ""),
            str(r["id"])[:8],
            _cut(str(r.get("experiment") or "-"), 24),
            _cut(r.get("name") or "-", 24),
            str(r.get("status") or "-"),
        ]
        for i, r in enumerate(runs)
    ]
    parts = [
        f"Comparing {n} runs against {labels[0]} (*)",
        table(["RUN", "ID", "EXPERIMENT", "NAME", "STATUS"], run_rows),
    ]
    shown_any = False

    def add(text: str, shown: bool) -> None:
        nonlocal shown_any
        if text:
            parts.append(text)
            shown_any = shown_any or shown

    rows, hidden = [], 0
    for p in data.get("params", []):
        if not (p.get("differs") or show_all):
            hidden += 1
            continue
        cells = [_cut(p["key"], 32)]
        for i, value in enumerate(p["values"]):
            text = cell(value)
            change = (p.get("changes") or [None] * n)[i]
            if i and change:
                text += f" ({signed(change)})"
            cells.append(text)
        rows.append(cells)
    add(_section("Params", ["PARAM", *heads], rows, hidden, "param"), bool(rows))

    rows, hidden = [], 0
    for m in data.get("metrics", []):
        if not (m.get("differs") or show_all):
            hidden += 1
            continue
        how = f"{m.get('reducer', 'last')}, {m.get('goal', '?')}"
        values = [metric_cell(m, i, baseline=i == 0) for i in range(n)]
        rows.append([_cut(m["key"], 32), how, *values])
    add(
        _section("Metrics", ["METRIC", "REDUCER, GOAL", *heads], rows, hidden, "metric", keys=2),
        bool(rows),
    )

    rows, hidden = [], 0
    for a in data.get("attributes", []):
        if not (a.get("differs") or show_all):
            hidden += 1
            continue
        unknown = a.get("unknown") or [False] * n
        rows.append(
            [
                a["key"],
                *(
                    NOT_RECORDED if u else _attribute(a["key"], v)
                    for v, u in zip(a["values"], unknown, strict=False)
                ),
            ]
        )
    add(_section("Attributes", ["ATTRIBUTE", *heads], rows, hidden, "attribute"), bool(rows))

    env = data.get("environment") or {}
    recorded = env.get("recorded") or [True] * n
    grades: list[dict[str, str]] = [
        {c["name"]: c.get("grade", "") for c in (d or {}).get("changed", [])}
        for d in env.get("diffs") or [None] * n
    ]
    rows, hidden = [], 0
    for pkg in env.get("packages", []):
        if not (pkg.get("differs") or show_all):
            hidden += 1
            continue
        cells = [_cut(pkg["name"], 32)]
        for i, version in enumerate(pkg["values"]):
            if i < len(recorded) and not recorded[i]:
                cells.append(NOT_RECORDED)
                continue
            text = cell(version)
            grade = grades[i].get(pkg["name"]) if i < len(grades) else None
            cells.append(f"{text} ({grade})" if grade else text)
        rows.append(cells)
    # said when some runs recorded an environment and others not (yet); none: nothing to say
    unrecorded = [labels[i] for i, ok in enumerate(recorded) if not ok and i < n and any(recorded)]
    notes = (
        [f"environment not recorded (yet) for {', '.join(unrecorded)}: packages unknown"]
        if unrecorded
        else []
    )
    add(
        _section("Packages", ["PACKAGE", *heads], rows, hidden, "package", notes=notes),
        bool(rows or notes),
    )

    code = data.get("code") or {}
    code_lines: list[str] = []
    for i, diff in enumerate(code.get("diffs") or []):
        if i == 0:
            continue
        diff = diff or {}
        cell_diff, deps_diff = diff.get("cell"), diff.get("dependencies")
        if not show_all and all(d is None or d.get("same") for d in (cell_diff, deps_diff)):
            continue
        code_lines.append(f"  {labels[i]} against {labels[0]}")
        code_lines += ["    " + line for line in _code_lines(cell_diff, "cell")]
        code_lines += ["    " + line for line in _code_lines(deps_diff, "dependencies")]
    if code_lines:
        add("Code\n" + "\n".join(code_lines), True)
    elif code.get("diffs"):
        parts.append("Code: same in every run")

    rows, hidden = [], 0
    for d in data.get("data", []):
        if not (data_differs(d) or show_all):
            hidden += 1
            continue
        name = d.get("name") or d.get("path") or "?"
        rows.append([d.get("role", "?"), _cut(str(name), 32)] + [data_cell(d, i) for i in range(n)])
    add(_section("Data", ["ROLE", "NAME", *heads], rows, hidden, "dataset", keys=2), bool(rows))

    rows, hidden = [], 0
    for u in data.get("used", []):
        if not (used_differs(u) or show_all):
            hidden += 1
            continue
        rows.append([_cut(str(u["key"]), 32)] + [_cut(used_cell(u, i), 40) for i in range(n)])
    add(_section("Used", ["USED", *heads], rows, hidden, "use"), bool(rows))

    rows, hidden = [], 0
    for o in data.get("outputs", []):
        if o.get("same") and not show_all:
            hidden += 1
            continue
        rows.append([str(o.get("index", "?")), *(_cut(output_cell(it)) for it in o["items"])])
    add(_section("Outputs", ["#", *heads], rows, hidden, "output"), bool(rows))

    rows, diffs = artifact_rows(data, labels, show_all=show_all)
    hidden = len(data.get("artifacts") or []) - len(rows)
    text = _section("Artifacts", ["ARTIFACT", *heads], rows, hidden, "artifact")
    add(text + "".join(f"\n{line}" for line in diffs) if text else text, bool(rows))

    if not shown_any and not show_all:
        parts.append("no differences (--all shows every row)")
    return "\n\n".join(parts)


def artifact_rows(
    data: Mapping[str, Any], labels: Sequence[str], *, show_all: bool = False
) -> tuple[list[list[str]], list[str]]:
    """The artifacts section's table rows (name, then a cell per run) and, below it, each
    changed text file's diff against the baseline's (as the code's, capped)."""
    rows: list[list[str]] = []
    lines: list[str] = []
    for a in data.get("artifacts") or []:
        if a.get("status") == "same" and not show_all:
            continue
        n = len(a.get("runs") or [])
        states, changes = a.get("states") or [None] * n, a.get("file_changes") or [None] * n
        tables = a.get("table_diffs") or [None] * n
        cells = zip(a["runs"], states, changes, tables, strict=False)
        rows.append([_cut(a["name"], 32), *(_cut(side_text(*c), 64) for c in cells)])
        for i, files in enumerate(a.get("text_diffs") or []):
            if i == 0 or not files:
                continue
            lines.append(f"  {a['name']}: {labels[i]} against {labels[0]}")
            for f in files:
                if f.get("diff"):
                    lines += ["    " + line for line in _code_lines(f["diff"], f["path"])]
                if f.get("reason"):
                    lines.append(f"    {f['path']}: {f['reason']}")
    return rows, lines


# the explanation as text ------------------------------------------------------------------------


def _side_value(side: Mapping[str, Any]) -> str:
    value = side.get("value")
    return "-" if value is None else _number(float(value))


def explanation_report(data: Mapping[str, Any]) -> str:
    """``runs explain`` as text: the change, then the factors, best-supported first."""
    a, b = data["a"], data["b"]
    metric = data["metric"]
    head = (
        f"{metric} ({data.get('goal', '?')} is better): "
        f"{a.get('label')} {_side_value(a)} → {b.get('label')} {_side_value(b)}"
    )
    change = data.get("change")
    if change is not None:
        head += f" ({signed(change)})"
    lines = [head]
    explained = data.get("explained")
    facts = [f"{_plural(int(data.get('runs_considered') or 0), 'run')} considered"]
    if explained is not None:
        facts.insert(0, f"the evidence accounts for {explained * 100:.0f}% of the change")
    lines.append("; ".join(facts))
    factors = data.get("factors") or []
    if not factors:
        lines += ["", "nothing recorded differs between the two runs"]
    else:
        width = len(str(len(factors)))
        for f in factors:
            tag = f"{f.get('kind', '?')}, {f.get('status', '?')}"
            if f.get("estimate") is not None:
                tag += f", est. {signed(f['estimate'])}"
            rank = str(f.get("rank", "?")).rjust(width)
            sentence = _one_line(f.get("sentence") or _factor_text(f))
            lines.append("")
            lines += textwrap.wrap(
                f"{rank}. [{tag}] {sentence}",
                WRAP,
                subsequent_indent=" " * (width + 2),
                break_long_words=False,
                break_on_hyphens=False,
            )
    groups = data.get("groups") or []
    if groups:
        lines += ["", "Changed together (cannot be told apart):"]
        for g in groups:
            text = _one_line(g.get("sentence") or ", ".join(g["factors"]))
            lines += textwrap.wrap(f"  - {text}", WRAP, subsequent_indent="    ")
    notes = data.get("notes") or []
    if notes:
        lines.append("")
        for n in notes:
            lines += textwrap.wrap(f"note: {_one_line(n)}", WRAP, subsequent_indent="      ")
    return "\n".join(lines)


def _factor_text(f: Mapping[str, Any]) -> str:
    return f"{f.get('key')} {cell(f.get('a'))} → {cell(f.get('b'))}"
