"""``mltrack runs list --filter/--order/--parent/--after`` and ``mltrack runs groups``; and
``mltrack.search_runs`` from Python: the query language outside the sidebar."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.capture import api
from jupyter_mltrack.cli import main
from jupyter_mltrack.store import MetricPoint, Store

T0 = 1_790_000_000.0


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seeds(sqlite_store: Store) -> Store:
    """Six seeded runs of two models, one of them the parent of two trials."""
    for i, (model, lr, acc) in enumerate(
        [
            ("rf", 0.1, 0.8),
            ("rf", 0.01, 0.9),
            ("rf", 0.001, 1.0),
            ("gb", 0.1, 0.6),
            ("gb", 0.01, 0.7),
        ]
    ):
        run = sqlite_store.create_run(
            "grid",
            name=f"{model}-{i}",
            params={"model": model, "lr": lr, "seed": i},
            start_time=T0 + i,
        )
        sqlite_store.finish_run(
            run.id,
            "finished",
            metrics=[MetricPoint("acc", acc / 2, 0, T0), MetricPoint("acc", acc, 1, T0)],
            end_time=T0 + 9,
        )
    parent = sqlite_store.create_run("grid", name="sweep", start_time=T0 + 10)
    sqlite_store.finish_run(parent.id, "finished", end_time=T0 + 11)
    for i in range(2):
        child = sqlite_store.create_run(
            "grid", name=f"trial{i}", parent_run_id=parent.id, start_time=T0 + 12 + i
        )
        sqlite_store.finish_run(child.id, "finished", end_time=T0 + 20)
    return sqlite_store


def test_runs_list_filter_order_parent(capsys: pytest.CaptureFixture[str], seeds: Store) -> None:
    url = seeds.url
    code, out, err = run_cli(
        capsys,
        "--store",
        url,
        "runs",
        "list",
        "--filter",
        "params.lr <= 0.01 and params.model = rf",
        "--order",
        "-metrics.acc",
        "--json",
    )
    assert (code, err) == (0, "")
    assert [r["name"] for r in json.loads(out)["runs"]] == ["rf-2", "rf-1"]
    code, out, err = run_cli(
        capsys, "--store", url, "runs", "list", "--parent", "6", "-e", "grid", "--order", "name"
    )
    assert code == 0, err
    assert [line.split()[3] for line in out.splitlines()[1:]] == ["trial0", "trial1"]
    code, out, err = run_cli(capsys, "--store", url, "runs", "list", "--filter", "params.lr <")
    assert code == 2 and "expected a value after '<' at column" in err
    assert err.splitlines()[-1].strip() == "^" and err.splitlines()[1] == "params.lr <"


def test_runs_groups_table_and_json(capsys: pytest.CaptureFixture[str], seeds: Store) -> None:
    url = seeds.url
    code, out, err = run_cli(
        capsys,
        "--store",
        url,
        "runs",
        "groups",
        "--by",
        "params.model",
        "-m",
        "acc",
        "-m",
        "acc.min",
        "-e",
        "grid",
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["VALUE", "RUNS", "ACC", "ACC.MIN"]
    assert lines[1].startswith("rf") and "0.9 ± 0.1 [0.8, 1]" in lines[1]
    assert [line.split()[:2] for line in lines[1:]] == [["rf", "3"], ["(none)", "3"], ["gb", "2"]]
    code, out, _ = run_cli(
        capsys,
        "--store",
        url,
        "runs",
        "groups",
        "--by",
        "params.model",
        "-m",
        "acc",
        "--filter",
        "params.lr > 0.05",
        "--json",
    )
    groups = json.loads(out)["groups"]
    assert [(g["value"], g["count"]) for g in groups] == [("gb", 1), ("rf", 1)]
    code, _, err = run_cli(capsys, "--store", url, "runs", "groups", "--by", "metrics.acc")
    assert code == 2 and "cannot group by a metric" in err


def test_search_runs_from_python(seeds: Store) -> None:
    previous = api._store
    api.set_store(seeds)
    try:
        frame = mltrack.search_runs("params.model = rf", order_by="-metrics.acc", max_results=2)
        assert list(frame["name"]) == ["rf-2", "rf-1"]
        assert list(frame["params.lr"]) == [0.001, 0.01] and frame["metrics.acc"].tolist() == [
            1.0,
            0.9,
        ]
        everything = mltrack.search_runs(experiments="grid")
        assert len(everything) == 8 and everything["name"].iloc[0] == "trial1"
        with pytest.raises(Exception, match="at column"):
            mltrack.search_runs("params.lr <")
    finally:
        api._store = previous


def test_runs_groups_html_report(
    capsys: pytest.CaptureFixture[str], seeds: Store, tmp_path: Path
) -> None:
    report = tmp_path / "groups.html"
    grouping = ["--store", seeds.url, *["runs", "groups", "--by", "params.model", "-m", "acc"]]
    code, out, err = run_cli(
        capsys, *grouping, "--filter", "status = finished", "--html", str(report)
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"wrote {report}") and "3 groups of params.model" in out
    page = report.read_text()
    # the table as the terminal shows it, the filter escaped, plotly embedded (offline)
    assert "<td>rf</td><td>3</td><td>0.9 ± 0.1 [0.8, 1]</td>" in page
    assert "filter <code>status = finished</code>" in page
    assert "Plotly.newPlot" in page and "<script src=" not in page
    assert '"error_y"' in page  # the error bars travel with the figure
    code, _, err = run_cli(
        capsys, "--store", seeds.url, "runs", "groups", "--by", "params.model", "--html", "nowhere/"
    )
    assert code == 2 and "names a folder" in err


def test_group_runs_and_chart_from_python(seeds: Store) -> None:
    previous = api._store
    api.set_store(seeds)
    try:
        frame = mltrack.group_runs("params.model", ["acc", "acc.min"], experiments="grid")
        assert frame.index.name == "params.model"
        assert list(frame.index) == ["rf", None, "gb"] and list(frame["count"]) == [3, 3, 2]
        assert frame.loc["rf", "acc.mean"] == pytest.approx(0.9)
        assert frame.loc["rf", "acc.std"] == pytest.approx(0.1)
        assert frame.loc["gb", "acc.min.max"] == pytest.approx(0.35)
        assert math.isnan(frame.loc[None, "acc.mean"]) and frame.loc[None, "acc.count"] == 0
        fig = mltrack.group_chart("params.model", "acc", filter="params.lr > 0.05")
        bars = [t for t in fig.data if t.type == "bar"]
        assert list(bars[0].x) == ["gb (n=1)", "rf (n=1)"]
        with pytest.raises(Exception, match="cannot group by a metric"):
            mltrack.group_runs("metrics.acc", ["acc"])
    finally:
        api._store = previous
