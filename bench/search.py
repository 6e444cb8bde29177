"""Benchmark 10: runs at scale (issue 13), side by side with MLflow's ``search_runs`` on the same
runs.

Stores of 10,000 and 100,000 runs (10 params, 10 metrics of 100 steps, 3 tags, 3 experiments,
about 10% nested), the same runs in our store and in an MLflow tracking store, both SQLite,
built once and cached (``bench/search_data.py``; checked against each tool's own writes,
``bench/search_verify.py``). At each size, warm (a call first, then the repetitions):

* **first page**: 50 runs of a filtered, metric-sorted query. Ours through the REST API of a
  real Jupyter server (its own process; ``GET /mltrack/api/runs?filter=params.lr < 0.01 and
  metrics.acc > 0.5&order=-metrics.acc&limit=50&count=0``, what the sidebar asks first),
  its total apart (``GET runs/count``), the page while that count runs beside it (the
  sidebar sends both at once), the page with its total in one request, and the same calls
  in process (``server.search``: the server's work without HTTP). MLflow:
  ``MlflowClient.search_runs(…, "params.lr < '0.01' and metrics.acc > 0.5",
  order_by=["metrics.acc DESC"], max_results=50)`` in process (no HTTP: a lower bound for its
  server). MLflow compares params as strings: its answer is checked against the string
  comparison, ours against the numeric one, both computed from the generated runs.
* **all runs as a DataFrame**: ``search_frame`` (what ``mltrack.search_runs`` returns) of
  every run; MLflow: ``mlflow.search_runs(experiment_ids=…, max_results=N)``.
* **grouped**: ``GET /mltrack/api/runs/groups?group_by=params.model&metrics=acc,loss.min,f1``.
  MLflow has no grouping: what a user does instead, ``mlflow.search_runs`` of every run into
  pandas and ``groupby("params.model").agg(…)`` (on the latest ``loss``: the minimum over a
  run's history is not in MLflow's search results).
* **unchanged poll**: ``GET /mltrack/api/runs?…&since=REVISION`` answered
  ``{"unchanged": true}``, on a kept-alive connection (and on a new one), plus the
  server-side work in process (``list_runs`` with ``since``, and ``Store.revision`` alone).

The store must not change while it is read: its revision is compared before and after.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # python bench/search.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ApiClient, met, repeat, stats  # noqa: E402
from bench.search_data import EXPERIMENTS, MODELS, Stores, stores  # noqa: E402

FULL = {
    "sizes": [10_000, 100_000],
    "page_reps": 50,
    "poll_reps": 300,
    "group_reps": 20,
    "frame_reps": 10,
    "mlflow_page_reps": 20,
    "mlflow_frame_reps": 5,
    #: MLflow above 10,000 runs: a call takes minutes (its first page about 5 at 100,000
    #: runs), so this many calls of each, without a warm-up call.
    "mlflow_big_reps": 2,
}
QUICK = {
    "sizes": [2_000],
    "page_reps": 10,
    "poll_reps": 50,
    "group_reps": 5,
    "frame_reps": 3,
    "mlflow_page_reps": 3,
    "mlflow_frame_reps": 2,
    "mlflow_big_reps": 1,
}
#: Targets (issue 13 §5), ms, and the store size each applies at.
TARGETS = {
    "page": {10_000: 50.0, 100_000: 150.0},
    "frame": {10_000: 500.0},
    "groups": {100_000: 300.0},
    "poll": {100_000: 5.0},
}
FILTER = "params.lr < 0.01 and metrics.acc > 0.5"
ORDER = "-metrics.acc"
PAGE = 50
#: The query as MLflow's syntax writes it: MLflow 3 refuses ``<`` on a param (params are
#: strings; only = != LIKE ILIKE IS NULL), so its user filters params on the client.
MLFLOW_FILTER = "params.lr < '0.01' and metrics.acc > 0.5"
MLFLOW_SERVER_FILTER = "metrics.acc > 0.5"
#: Runs per ``search_runs`` call while looking for the first 50 with lr < 0.01.
MLFLOW_CHUNK = 100
GROUP_BY = "params.model"
GROUP_METRICS = ("acc", "loss.min", "f1")


# what the answers must be -------------------------------------------------------------------------


def expected(s: Stores) -> dict[str, Any]:
    """The answers, computed from the generated runs."""
    p, t = s.plan, s.truth
    acc = t["acc"]
    with np.errstate(invalid="ignore"):
        ours = (p.lr < 0.01) & (acc > 0.5)  # NaN: false
    idx = np.flatnonzero(ours)
    order = idx[np.argsort(-acc[idx], kind="stable")]
    groups = {}
    for m, model in enumerate(MODELS):
        mask = p.model == m
        metrics = {}
        for spec in GROUP_METRICS:
            v = t[spec][mask]
            v = v[~np.isnan(v)]
            metrics[spec] = {
                "count": int(len(v)),
                "mean": float(v.mean()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
        groups[model] = {"count": int(mask.sum()), "metrics": metrics}
    return {
        "total": int(ours.sum()),
        "page": [p.ids[i] for i in order[:PAGE]],
        "groups": groups,
    }


def _check_groups(answer: dict[str, Any], want: dict[str, Any]) -> list[str]:
    problems = []
    got = {g["value"]: g for g in answer["groups"]}
    if set(got) != set(want):
        return [f"groups {sorted(got)} != {sorted(want)}"]
    for model, w in want.items():
        g = got[model]
        if g["count"] != w["count"]:
            problems.append(f"group {model}: count {g['count']} != {w['count']}")
        for spec, wm in w["metrics"].items():
            gm = g["metrics"][spec]
            for k in ("count", "mean", "min", "max"):
                if not np.isclose(gm[k], wm[k], rtol=1e-9, atol=0):
                    problems.append(f"group {model} {spec}.{k}: {gm[k]} != {wm[k]}")
    return problems


# timing ---------------------------------------------------------------------------------------------


# one size ----------------------------------------------------------------------------------------------


def bench_size(root: Path, s: Stores, p: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mltrack.store import Store

    n = s.n
    want = expected(s)
    out: dict[str, Any] = {
        "runs": n,
        "store_bytes": {"ours": s.ours.stat().st_size, "mlflow": s.mlflow.stat().st_size},
        "build": {"ours": s.meta["ours"], "mlflow": s.meta["mlflow"]},
        "mlflow_history_runs": s.meta["mlflow"]["history_runs"],
        "verified_runs": s.meta["verified_runs"],
        "expected": {k: v for k, v in want.items() if k != "page"},
        "problems": [],
    }
    problems: list[str] = out["problems"]
    store = Store(s.ours_url)
    revision = store.revision()
    try:
        out["ours"] = _bench_ours_rest(root / f"server-{n}", s, p, want, problems)
        out["ours"].update(_bench_ours_in_process(store, s, p, want, problems))
        if store.revision() != revision:
            problems.append("our store changed while it was read (its revision moved)")
    finally:
        store.close()
    out["mlflow"] = _bench_mlflow(s, p, want, problems)
    out["targets"] = targets(n, out)
    return out


def _page_query(**extra: Any) -> dict[str, Any]:
    return {"filter": FILTER, "order": ORDER, "limit": PAGE, **extra}


def _bench_ours_rest(
    root: Path, s: Stores, p: dict[str, Any], want: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    from tests.load import TOKEN, Server

    server = Server(s.ours_url, root)
    client = ApiClient(server.port, TOKEN)
    out: dict[str, Any] = {}
    try:
        answer = json.loads(client.get("/mltrack/api/runs", **_page_query()))
        ids = [r["id"] for r in answer["runs"]]
        alone = json.loads(client.get("/mltrack/api/runs", **_page_query(count=0)))
        counted = json.loads(client.get("/mltrack/api/runs/count", filter=FILTER))
        out["page_answer"] = {
            "total": answer["total"],
            "matches_expected": ids == want["page"],
            "alone_matches_expected": [r["id"] for r in alone["runs"]] == want["page"],
            "count": counted["total"],
        }
        if ids != want["page"] or answer["total"] != want["total"]:
            problems.append(
                f"ours: first page {len(ids)} runs, total {answer['total']}; expected"
                f" {want['total']} (same page: {ids == want['page']})"
            )
        if not out["page_answer"]["alone_matches_expected"] or alone["total"] is not None:
            problems.append("ours: the page asked with count=0 is not the expected page")
        if counted["total"] != want["total"]:
            problems.append(f"ours: runs/count answered {counted['total']}, not {want['total']}")
        # what the sidebar asks first (the page alone), its total apart, both in one
        # request, and the page while its count runs beside it (the sidebar sends the two
        # at once): what the user waits for before the rows show
        out["page_rest"] = repeat(
            lambda: client.get("/mltrack/api/runs", **_page_query(count=0)), p["page_reps"]
        )
        out["count_rest"] = repeat(
            lambda: client.get("/mltrack/api/runs/count", filter=FILTER), p["page_reps"]
        )
        out["page_total_rest"] = repeat(
            lambda: client.get("/mltrack/api/runs", **_page_query()), p["page_reps"]
        )
        beside = ApiClient(server.port, TOKEN)
        try:
            out["page_beside_count_rest"] = _page_beside_count(client, beside, p["page_reps"])
        finally:
            beside.close()
        out["page_bytes"] = len(client.get("/mltrack/api/runs", **_page_query(count=0)))
        rev = answer["revision"]
        poll = json.loads(client.get("/mltrack/api/runs", **_page_query(since=rev)))
        if poll != {"unchanged": True, "revision": rev}:
            problems.append(f"ours: the poll answered {str(poll)[:200]}")
        out["poll_rest"] = repeat(
            lambda: client.get("/mltrack/api/runs", **_page_query(since=rev)), p["poll_reps"]
        )
        out["poll_rest_new_connection"] = repeat(
            lambda: client.get_new_connection("/mltrack/api/runs", **_page_query(since=rev)),
            max(10, p["poll_reps"] // 5),
        )
        group_query = {"group_by": GROUP_BY, "metrics": ",".join(GROUP_METRICS)}
        groups = json.loads(client.get("/mltrack/api/runs/groups", **group_query))
        problems += [f"ours: {x}" for x in _check_groups(groups, want["groups"])]
        out["groups_rest"] = repeat(
            lambda: client.get("/mltrack/api/runs/groups", **group_query), p["group_reps"]
        )
    finally:
        client.close()
        server.close()
    return out


def _page_beside_count(client: ApiClient, beside: ApiClient, reps: int) -> dict[str, float]:
    """The page (``count=0``) timed while ``runs/count`` of the same filter, sent on another
    connection just before it, runs in the server too: the sidebar sends the two at once,
    and this is how long its rows take to show. The count is waited for untimed."""
    import threading

    times = []
    for i in range(reps + 1):  # the first is the warm-up
        counting = threading.Thread(
            target=beside.get, args=("/mltrack/api/runs/count",), kwargs={"filter": FILTER}
        )
        counting.start()
        t0 = time.perf_counter()
        client.get("/mltrack/api/runs", **_page_query(count=0))
        if i:
            times.append(time.perf_counter() - t0)
        counting.join()
    return stats(times)


def _bench_ours_in_process(
    store: Any, s: Stores, p: dict[str, Any], want: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    from jupyter_mltrack.query.frame import search_frame
    from jupyter_mltrack.server.search import count_runs, list_groups, list_runs

    def args(**extra: Any) -> dict[str, list[str]]:
        return {k: [str(v)] for k, v in _page_query(**extra).items()}

    out: dict[str, Any] = {}
    out["page_in_process"] = repeat(lambda: list_runs(store, args(count=0)), p["page_reps"])
    out["page_total_in_process"] = repeat(lambda: list_runs(store, args()), p["page_reps"])
    count_args = {"filter": [FILTER]}
    out["count_in_process"] = repeat(lambda: count_runs(store, count_args), p["page_reps"])
    rev = store.revision()
    if list_runs(store, args(since=rev)) != {"unchanged": True, "revision": rev}:
        problems.append("ours: list_runs with since did not answer unchanged")
    out["poll_in_process"] = repeat(lambda: list_runs(store, args(since=rev)), p["poll_reps"])
    out["revision"] = repeat(store.revision, p["poll_reps"])
    group_args = {"group_by": [GROUP_BY], "metrics": [",".join(GROUP_METRICS)]}
    out["statements"] = {
        "page": statements(store, lambda: list_runs(store, args(count=0))),
        "count": statements(store, lambda: count_runs(store, count_args)),
        "groups": statements(store, lambda: list_groups(store, group_args)),
        "frame": statements(
            store, lambda: search_frame(store, experiments=list(EXPERIMENTS), max_results=s.n)
        ),
    }
    frame = search_frame(store, experiments=list(EXPERIMENTS), max_results=s.n)
    if len(frame) != s.n:
        problems.append(f"ours: search_frame returned {len(frame)} runs of {s.n}")
    out["frame_shape"] = list(frame.shape)
    out["frame"] = repeat(
        lambda: search_frame(store, experiments=list(EXPERIMENTS), max_results=s.n),
        p["frame_reps"],
    )
    return out


def _bench_mlflow(
    s: Stores, p: dict[str, Any], want: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from bench.search_data import _dispose_mlflow

    mlflow.set_tracking_uri(s.mlflow_uri)
    client = MlflowClient(tracking_uri=s.mlflow_uri)
    exp_ids = s.meta["mlflow"]["experiment_ids"]
    out: dict[str, Any] = {}
    try:
        try:
            client.search_runs(
                exp_ids, MLFLOW_FILTER, order_by=["metrics.acc DESC"], max_results=PAGE
            )
            out["refused"] = None
        except MlflowException as exc:
            out["refused"] = str(exc.message)
        calls: list[int] = []

        def page() -> list[Any]:
            """The first 50 runs by acc with lr < 0.01: acc filtered and sorted by MLflow,
            lr on the client, a page of runs at a time until 50 are found."""
            found: list[Any] = []
            token = None
            n_calls = 0
            while len(found) < PAGE:
                runs = client.search_runs(
                    exp_ids,
                    MLFLOW_SERVER_FILTER,
                    order_by=["metrics.acc DESC"],
                    max_results=MLFLOW_CHUNK,
                    page_token=token,
                )
                n_calls += 1
                found += [r for r in runs if float(r.data.params["lr"]) < 0.01]
                token = runs.token
                if not token:
                    break
            calls.append(n_calls)
            return found[:PAGE]

        t0 = time.perf_counter()
        ids = [r.info.run_id for r in page()]
        first = time.perf_counter() - t0
        out["page_answer"] = {"matches_expected": ids == want["page"], "calls": calls[0]}
        if ids != want["page"]:
            problems.append("MLflow: its first page (lr filtered on the client) is not ours")
        big = s.n > p.get("mlflow_big_above", 10_000)
        if big:  # minutes a call: the first call counts, there is no warm-up
            times = [first]
            for _ in range(p["mlflow_big_reps"] - 1):
                t0 = time.perf_counter()
                page()
                times.append(time.perf_counter() - t0)
            out["page"] = stats(times)
        else:  # the first call was the warm-up
            out["page"] = repeat(page, p["mlflow_page_reps"], warmup=0)

        def frame() -> Any:
            return mlflow.search_runs(experiment_ids=exp_ids, max_results=s.n)

        if not big:
            frame()  # the warm-up
        reps = p["mlflow_big_reps"] if big else p["mlflow_frame_reps"]
        frames, grouped, groupby = [], [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            df = frame()
            t1 = time.perf_counter()
            result = _mlflow_groupby(df)
            t2 = time.perf_counter()
            frames.append(t1 - t0)
            grouped.append(t2 - t0)
            groupby.append(t2 - t1)
        if len(df) != s.n:
            problems.append(f"MLflow: search_runs returned {len(df)} runs of {s.n}")
        out["frame_shape"] = list(df.shape)
        out["frame"] = stats(frames)
        out["groups"] = stats(grouped)
        out["groupby_only"] = stats(groupby)
        counts = {str(k): int(v) for k, v in result[("metrics.acc", "count")].items()}
        out["groups_answer"] = counts
        if counts != {k: g["count"] for k, g in want["groups"].items()}:
            problems.append(f"MLflow: its groups' counts {counts}")
    finally:
        _dispose_mlflow(client)
    return out


def _mlflow_groupby(df: Any) -> Any:
    """What a user writes for "mean ± std of acc, loss and f1 per model" on MLflow's frame."""
    return df.groupby("params.model").agg(
        {
            "metrics.acc": ["mean", "std", "min", "max", "count"],
            "metrics.loss": ["mean", "std", "min", "max", "count"],
            "metrics.f1": ["mean", "std", "min", "max", "count"],
        }
    )


# where the time goes ----------------------------------------------------------------------------


def statements(store: Any, fn: Callable[[], Any], reps: int = 3) -> list[dict[str, Any]]:
    """Each SQL statement ``fn`` runs, replayed alone (executed and fetched, median of
    ``reps``) with SQLite's plan for it: which query dominates, and why."""
    from sqlalchemy import event

    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        fn()
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    out = []
    with store.engine.connect() as conn:
        for sql, params in seen:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                rows = conn.exec_driver_sql(sql, params).all()
                times.append(time.perf_counter() - t0)
            plan = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            out.append(
                {
                    "ms": stats(times)["median_ms"],
                    "rows": len(rows),
                    "sql": " ".join(sql.split()),
                    "plan": plan,
                }
            )
    return out


# the verdicts and the table ----------------------------------------------------------------------


def targets(n: int, r: dict[str, Any]) -> dict[str, Any]:
    o = r["ours"]
    figures = {
        "page": o["page_rest"]["median_ms"],
        "frame": o["frame"]["median_ms"],
        "groups": o["groups_rest"]["median_ms"],
        "poll": o["poll_rest"]["median_ms"],
    }
    return {
        f"{name}_le_{limit:g}ms_at_{n}": figures[name] <= limit
        for name, by_size in TARGETS.items()
        for size, limit in by_size.items()
        if size == n
    }


def report(r: dict[str, Any]) -> list[str]:
    lines = [
        "10. Runs at scale (issue 13): ours vs MLflow's search_runs on the same runs, SQLite,"
        " median / p90 ms after a warm-up"
    ]
    for size in r["sizes"]:
        lines += _report_size(size)
    return lines


def _ms(s: dict[str, float]) -> str:
    digits = 2 if s["p90_ms"] < 10 else 1
    return f"{s['median_ms']:9.{digits}f} {s['p90_ms']:8.{digits}f}"


def _report_size(x: dict[str, Any]) -> list[str]:
    n, o, m, e = x["runs"], x["ours"], x["mlflow"], x["expected"]
    target = {k: lim for k, by in TARGETS.items() for size, lim in by.items() if size == n}

    def verdict(name: str, value: float) -> str:
        if name not in target:
            return ""
        return f"  target <= {target[name]:g} ms: {met(value <= target[name])}"

    ratio = lambda theirs, mine: theirs["median_ms"] / mine["median_ms"]  # noqa: E731
    history = x["mlflow_history_runs"]
    lines = [
        f"   {n:,} runs (ours {x['store_bytes']['ours'] / 1e9:.2f} GB, MLflow"
        f" {x['store_bytes']['mlflow'] / 1e9:.2f} GB"
        + ("" if history == n else f", MLflow's metric history for {history:,} runs")
        + f"; {x['verified_runs']} runs checked against each tool's own writes)",
        f"   {'':<62}{'median':>9} {'p90':>8}",
        f"   a. first page of '{FILTER}' by {ORDER}, {PAGE} runs ({e['total']:,} match)",
        f"      {'ours, REST, the page (count=0: what the sidebar asks first)':<59}"
        f"{_ms(o['page_rest'])}" + verdict("page", o["page_rest"]["median_ms"]),
        f"      {'ours, REST, the page while its count runs beside it':<59}"
        f"{_ms(o['page_beside_count_rest'])}",
        f"      {'ours, REST, its total alone (runs/count)':<59}{_ms(o['count_rest'])}",
        f"      {'ours, REST, the page with its total in one request':<59}"
        f"{_ms(o['page_total_rest'])}",
        f"      {'ours, in process: the page; with its total; the count':<59}"
        f"{_ms(o['page_in_process'])}; {_ms(o['page_total_in_process']).strip()};"
        f" {_ms(o['count_in_process']).strip()}",
        f"      {'MLflow search_runs in process, lr filtered on the client':<59}{_ms(m['page'])}"
        f"  -> {ratio(m['page'], o['page_rest']):.1f}x"
        f" ({ratio(m['page'], o['page_total_rest']):.1f}x ours with its total)",
        f'      (MLflow refuses "{MLFLOW_FILTER}": {m["refused"] or "accepted"}; so'
        f" acc > 0.5 by acc desc in pages of {MLFLOW_CHUNK}, {m['page_answer']['calls']}"
        f" call(s); same 50 runs as ours: {m['page_answer']['matches_expected']})",
        f"   b. every run as a DataFrame ({o['frame_shape'][0]:,} x {o['frame_shape'][1]} ours,"
        f" {m['frame_shape'][0]:,} x {m['frame_shape'][1]} MLflow)",
        f"      {'ours, search_frame (mltrack.search_runs)':<59}{_ms(o['frame'])}"
        + verdict("frame", o["frame"]["median_ms"]),
        f"      {'MLflow, mlflow.search_runs':<59}{_ms(m['frame'])}"
        f"  -> {ratio(m['frame'], o['frame']):.1f}x",
        f"   c. grouped by {GROUP_BY}, {', '.join(GROUP_METRICS)} aggregated",
        f"      {'ours, REST runs/groups':<59}{_ms(o['groups_rest'])}"
        + verdict("groups", o["groups_rest"]["median_ms"]),
        f"      {'MLflow, search_runs of every run + pandas groupby':<59}{_ms(m['groups'])}"
        f"  -> {ratio(m['groups'], o['groups_rest']):.1f}x",
        '   d. unchanged poll (since=REVISION -> {"unchanged": true})',
        f"      {'ours, REST, kept-alive connection':<59}{_ms(o['poll_rest'])}"
        + verdict("poll", o["poll_rest"]["median_ms"]),
        f"      {'ours, REST, a new connection each time':<59}{_ms(o['poll_rest_new_connection'])}",
        f"      {'ours, server side in process (list_runs with since)':<59}"
        f"{_ms(o['poll_in_process'])}",
        f"      {'ours, Store.revision() alone':<59}{_ms(o['revision'])}",
    ]
    lines.append(
        "   e. SQL statements of each, replayed alone: count, total ms; the slowest, its plan"
    )
    for name, found in o["statements"].items():
        if not found:
            continue
        worst = max(found, key=lambda st: st["ms"])
        plan = " | ".join(worst["plan"])
        lines.append(
            f"      {name}: {len(found)}, {sum(st['ms'] for st in found):.1f} ms; slowest"
            f" {worst['ms']:.1f} ms: {plan[:150] + ('...' if len(plan) > 150 else '')}"
        )
    if x["problems"]:
        lines.append("      PROBLEMS: " + "; ".join(x["problems"]))
    return lines


def bench_search(
    root: Path, p: dict[str, Any], progress: Callable[[str], None] = print
) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"sizes": []}
    for n in p["sizes"]:
        s = stores(n, progress)
        progress(f"   measuring at {n:,} runs...")
        out["sizes"].append(bench_size(root, s, p))
        progress("\n".join(_report_size(out["sizes"][-1])))
    out["targets"] = {k: v for x in out["sizes"] for k, v in x["targets"].items()}
    out["problems"] = [f"{x['runs']}: {pr}" for x in out["sizes"] for pr in x["problems"]]
    return out


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="benchmark 10 alone")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="*", default=None)
    args = parser.parse_args()
    params = dict(QUICK if args.quick else FULL)
    if args.sizes:
        params["sizes"] = args.sizes
    result = bench_search(Path(tempfile.mkdtemp(prefix="mltrack-bench-search-")), params)
    print("\n".join(report(result)))
    print(json.dumps(result["targets"]))
