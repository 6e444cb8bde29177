"""``mltrack runs list`` and ``mltrack runs show`` (``runs compare``/``explain`` live in
:mod:`.compare`, which adds itself to the ``runs`` group this module creates). ``runs show``
names the run's artifacts; ``mltrack artifacts`` (:mod:`.artifacts`) lists and gets them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ..models.steps import Series, grouped
from ..query.groups import Aggregate, RunGroup, group_runs, groups_answer
from ..query.search import Scope, query_runs
from ..store import Run, RunDetail, RunStatus, Store
from ..store.entities import Artifact, ModelVersion
from .common import (
    MAX_METRICS_CELL,
    _bytes,
    _cut,
    _duration,
    _html_destination,
    _limit,
    _number,
    _offset,
    _Parser,
    _plural,
    _print_json,
    _publish,
    _run_id,
    _value,
    _version_label,
    _when,
    table,
    used_text,
    user_text,
)


def add_parsers(
    commands: argparse._SubParsersAction,
    store_opt: argparse.ArgumentParser,
    json_opt: argparse.ArgumentParser,
) -> argparse._SubParsersAction:
    """Add the ``runs`` group; returns its sub-commands so other modules can add theirs."""
    runs = commands.add_parser(
        "runs", help="list, show, compare or explain runs", parents=[store_opt]
    )
    runs_commands = runs.add_subparsers(dest="runs_command", metavar="ACTION", parser_class=_Parser)
    runs_commands.required = True
    listing = runs_commands.add_parser("list", help="list runs", parents=[store_opt, json_opt])
    listing.add_argument("--experiment", "-e", metavar="E", help="only this experiment")
    listing.add_argument("--notebook", "-n", metavar="P", help="only runs of this notebook path")
    listing.add_argument("--status", "-s", choices=[s.value for s in RunStatus])
    listing.add_argument(
        "--filter",
        "-f",
        metavar="Q",
        help="a query, e.g. 'params.lr < 0.01 and metrics.acc.max >= 0.9', or words "
        "matching a run's name, number or tags (see the README's query language)",
    )
    listing.add_argument(
        "--order",
        "-o",
        metavar="O",
        default="-start_time",
        help="a field: start_time, number, name, status, duration, params.KEY, "
        "metrics.KEY[.min|.max|.mean|.best|.last], tags.KEY; prefix with - for descending "
        "(default: -start_time); missing values last",
    )
    listing.add_argument("--parent", metavar="RUN", help="only the children of this run")
    listing.add_argument("--limit", "-l", type=_limit, default=50, metavar="N")
    listing.add_argument("--offset", type=_offset, default=0, metavar="N")
    listing.add_argument(
        "--after", metavar="CURSOR", help="the next page: the cursor the previous page printed"
    )
    listing.set_defaults(func=cmd_runs_list)

    groups = runs_commands.add_parser(
        "groups",
        help="runs grouped by a param, tag or attribute, metrics aggregated per group",
        parents=[store_opt, json_opt],
    )
    groups.add_argument("--by", "-b", required=True, metavar="FIELD", help="e.g. params.model")
    groups.add_argument(
        "--metric",
        "-m",
        action="append",
        default=[],
        metavar="KEY[.REDUCER]",
        help="a metric to aggregate (mean ± std, min, max); repeat for more",
    )
    groups.add_argument("--filter", "-f", metavar="Q", help="only the runs this query selects")
    groups.add_argument("--experiment", "-e", metavar="E", help="only this experiment")
    groups.add_argument(
        "--html",
        metavar="FILE",
        help="also write the groups and their chart (mean ± std, min, max per metric) as one"
        " standalone HTML file",
    )
    groups.set_defaults(func=cmd_runs_groups)

    show = runs_commands.add_parser(
        "show", help="everything recorded for one run", parents=[store_opt, json_opt]
    )
    show.add_argument("run", metavar="RUN", help="run id, unique id prefix, or run number")
    show.add_argument("--experiment", "-e", metavar="E", help="experiment a run number refers to")
    show.set_defaults(func=cmd_runs_show)
    return runs_commands


def runs_table(runs: Sequence[Run]) -> str:
    rows = []
    for r in runs:
        metrics = " ".join(f"{k}={_number(v)}" for k, v in r.metrics.items())
        rows.append(
            [
                str(r.number),
                r.id[:8],
                _cut(r.experiment, 24),
                _cut(r.name or "-", 24),
                r.status.value,
                _when(r.start_time),
                _duration(r.duration),
                _cut(metrics, MAX_METRICS_CELL),
            ]
        )
    headers = ["#", "ID", "EXPERIMENT", "NAME", "STATUS", "STARTED", "DURATION", "METRICS"]
    return table(headers, rows, right=frozenset({0, 6}))


def run_report(
    detail: RunDetail,
    artifacts: Sequence[Artifact] = (),
    versions: Sequence[ModelVersion] = (),
    used: Sequence[Mapping[str, Any]] = (),
    used_by: Mapping[str, Any] | None = None,
) -> str:
    """``runs show`` as sections of aligned ``key  value`` lines; ``artifacts`` are what the
    run logged, ``versions`` the registered model versions among them, ``used`` the
    artifacts of other runs it loaded and ``used_by`` the runs that loaded its own (as the
    REST API's run detail carries them)."""
    run = detail.run
    lines = [f"Run {run.number} of {run.experiment}  ({run.id})"]

    def section(title: str, pairs: Sequence[tuple[str, str]]) -> None:
        if not pairs:
            return
        lines.append("")
        lines.append(title)
        width = max(len(k) for k, _ in pairs)
        lines.extend(f"  {k.ljust(width)}  {v}".rstrip() for k, v in pairs)

    where = run.notebook_path or "-"
    if run.execution_count is not None:
        where += f" [{run.execution_count}]"
    overview = [
        ("name", run.name or "-"),
        ("status", run.status.value),
        ("started", _when(run.start_time)),
        ("ended", _when(run.end_time)),
        ("duration", _duration(run.duration)),
        ("notebook", where),
        ("source", run.source),
    ]
    if run.tags:
        overview.append(("tags", ", ".join(f"{k}={v}" if v else k for k, v in run.tags.items())))
    if run.note:
        overview.append(("note", " ".join(run.note.split())))
    if run.parent_run_id:
        overview.append(("parent", run.parent_run_id))
    section("Overview", overview)
    section("Params", [(k, _cut(_value(v), 80)) for k, v in run.params.items()])
    metrics = []
    for key, value in run.metrics.items():
        points = detail.metric_series.get(key, [])
        extra = f"  ({len(points)} points)" if len(points) > 1 else ""
        metrics.append((key, _number(value) + extra))
    section("Metrics (latest)", metrics)
    env = []
    if detail.environment is not None:
        env.append(("python", detail.environment.python))
        env.append(("platform", detail.environment.platform))
        env.append(("packages", str(len(detail.environment.packages))))
    if detail.git_commit:
        env.append(("git", detail.git_commit + (" (dirty)" if detail.git_dirty else "")))
    section("Environment", env)
    section(
        "Artifacts",
        [
            (a.name, series_summary(a) if isinstance(a, Series) else artifact_summary(a, versions))
            for a in grouped(artifacts)
        ],
    )
    section("Used", [(u["ref"], used_text(u)) for u in used])
    if used_by and used_by["count"]:
        lines += ["", f"Used by ({_plural(used_by['count'], 'run')})"]
        lines += [f"  {user_text(u)}" for u in used_by["runs"]]
        more = used_by["count"] - len(used_by["runs"])
        if more > 0:
            lines.append(f"  … {_plural(more, 'more run')} (--json lists the newest)")
    if detail.error:
        lines += [
            "",
            "Error",
            f"  {detail.error.get('ename', '')}: {detail.error.get('evalue', '')}",
        ]
    if detail.code:
        lines += ["", "Code"] + [f"  {line}".rstrip() for line in detail.code.splitlines()]
    return "\n".join(lines)


def series_summary(series: Series) -> str:
    """A series of images on one line: ``file series, 100 steps (0-99), 52 KB``."""
    steps, size = series.steps, sum(a.size for a in series.members)
    what = f"{series.members[-1].kind} series, {_plural(len(steps), 'step')}"
    return f"{what} ({steps[0]}-{steps[-1]}), {_bytes(size)}"


def artifact_summary(artifact: Artifact, versions: Sequence[ModelVersion] = ()) -> str:
    """One artifact on one line: kind, files, size, a model's format and registered versions
    (``mltrack artifacts list`` shows them as a table)."""
    text = f"{artifact.kind}, {_plural(artifact.file_count, 'file')}, {_bytes(artifact.size)}"
    if artifact.kind == "model" and artifact.meta.get("format"):
        text += f", {artifact.meta['format']}"
    names = [_version_label(v) for v in versions if v.artifact == artifact.name]
    return text + (f"; registered as {', '.join(names)}" if names else "")


def cmd_runs_list(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    parent = _run_id(store, args.parent, args.experiment) if args.parent else None
    page = query_runs(
        store,
        args.filter,
        order=args.order,
        scope=Scope(
            experiment=args.experiment, notebook=args.notebook, status=args.status, parent=parent
        ),
        limit=args.limit,
        offset=args.offset,
        after=args.after,
        details=args.json,
    )
    runs, total = page.runs, page.total or 0
    if args.json:
        _print_json(
            {
                "runs": page.run_dicts(),
                "total": total,
                "limit": args.limit,
                "offset": args.offset,
                "next": page.next,
            },
            out,
        )
        return 0
    if not runs:
        out.write("no runs match\n" if total or args.offset or args.after else "no runs\n")
        return 0
    out.write(runs_table(runs) + "\n")
    if page.next is not None:
        shown = (
            f"{len(runs)} of {total} runs"
            if args.after
            else (f"runs {args.offset + 1}-{args.offset + len(runs)} of {total}")
        )
        out.write(f"{shown}; next page: --after {page.next}\n")
    return 0


def groups_table(groups: Sequence[RunGroup], metrics: Sequence[str]) -> str:
    """A row per group: its value, its runs, each metric as ``mean ± std [min, max]``."""
    rows = []
    for g in groups:
        cells = [_cut(group_value(g), 32), str(g.count)]
        cells += [aggregate_text(g.metrics[spec]) for spec in metrics]
        rows.append(cells)
    return table(["VALUE", "RUNS", *(m.upper() for m in metrics)], rows, right=frozenset({1}))


def group_value(group: RunGroup) -> str:
    return _value(group.value) if group.value is not None else "(none)"


def aggregate_text(a: Aggregate) -> str:
    """``mean ± std [min, max]``, ``-`` for a group without a value of the metric."""
    if a.count == 0 or a.mean is None:
        return "-"
    spread = f" ± {_number(a.std)}" if a.std is not None else ""
    return f"{_number(a.mean)}{spread} [{_number(a.min)}, {_number(a.max)}]"


def cmd_runs_groups(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    html_dest = _html_destination(args.html) if args.html else None
    groups = group_runs(
        store, args.by, args.metric, filter=args.filter, scope=Scope(experiment=args.experiment)
    )
    answer = groups_answer(args.by, args.metric, groups)
    if html_dest is not None:
        from .report import groups_html

        page = groups_html(answer, groups, filter=args.filter, experiment=args.experiment)
        _publish(html_dest, lambda tmp: tmp.write_text(page, encoding="utf-8"), force=True)
        where = sys.stderr if args.json else out
        size = html_dest.stat().st_size
        where.write(f"wrote {html_dest} ({size:,} bytes): {len(groups)} groups of {args.by}\n")
    if args.json:
        _print_json({k: v for k, v in answer.items() if k != "total"}, out)
        return 0
    if not groups:
        out.write("no runs\n")
        return 0
    out.write(groups_table(groups, args.metric) + "\n")
    return 0


def cmd_runs_show(store: Store, args: argparse.Namespace, out: TextIO) -> int:
    run_id = _run_id(store, args.run, args.experiment)
    if args.json:  # the REST API's run: the detail, its artifacts and registered models
        from ..server.api import get_run

        _print_json(get_run(store, run_id), out)
        return 0
    from ..models.lineage import users

    detail = store.get_run_detail(run_id)
    artifacts = store.list_artifacts(run_id, files=False)
    versions = store.versions_of_runs([run_id]).get(run_id, []) if artifacts else []
    used = [u.to_dict() for u in store.artifacts_used(run_id)]
    out.write(run_report(detail, artifacts, versions, used, users(store, run_id)) + "\n")
    return 0
