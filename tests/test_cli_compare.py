"""``mltrack runs compare`` and ``mltrack runs explain`` against a real SQLite store.

The runs are written through :class:`Store` (and real dataset snapshots through
:class:`Snapshotter`), then the command runs in-process through ``cli.main`` as a user's
terminal would run it.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from jupyter_mltrack.cli import main
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Store

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000.0
COMPARISON_KEYS = {
    "baseline",
    "runs",
    "params",
    "metrics",
    "attributes",
    "environment",
    "code",
    "data",
    "outputs",
    "artifacts",
    "used",
}
EXPLANATION_KEYS = {
    "metric",
    "goal",
    "a",
    "b",
    "change",
    "explained",
    "sklearn",
    "runs_considered",
    "factors",
    "groups",
    "notes",
    "noise",
}
#: The banner at the top of the plotly.js bundle: one per embedded copy.
PLOTLY_BANNER = re.compile(r"\* plotly\.js v\d")
#: A script, stylesheet or image loaded from elsewhere (a report must read offline).
EXTERNAL = re.compile(
    r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", re.I
)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def response_schema(path: str) -> Draft202012Validator:
    """The OpenAPI schema of ``GET path``'s 200 answer: what ``--json`` must print."""
    spec = json.loads((REPO / "jupyter_mltrack" / "server" / "openapi.json").read_text())
    uri = "urn:mltrack:openapi"
    registry = Registry().with_resource(
        uri, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/get/responses/200/content/application~1json/schema"
    return Draft202012Validator({"$ref": uri + "#" + pointer}, registry=registry)


def section(out: str, title: str) -> str:
    """The lines of one section of the compare table (up to the next blank line)."""
    match = re.search(rf"^{title}\b.*?(?=\n\n|\Z)", out, re.S | re.M)
    return match.group(0) if match else ""


def row(text: str, key: str) -> str:
    """The table line whose first cell is ``key``."""
    for line in text.splitlines():
        if re.split(r" {2,}", line.strip())[0] == key:
            return line
    return ""


def series(key: str, values: list[float], t0: float) -> list[MetricPoint]:
    return [MetricPoint(key, v, step, t0 + step) for step, v in enumerate(values)]


CODE = "x = load()\nmodel = fit(x, lr=lr)\nscore(model)\n"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-not-really-an-image-").decode()
#: Outputs only run #2 has: an image, and markup a report must show as text, never run.
RICH = [
    {"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG + "\n"}},
    {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": "<script>alert(1)</script>", "text/plain": "<Chart 'x'>"},
    },
]


@pytest.fixture
def cmp(sqlite_store: Store) -> dict[str, Any]:
    """Three runs of experiment "cmp": #2 changes lr, a code line, numpy (major), the input
    data and its printed output, and ends better; #3 keeps lr but ends worse."""
    st = sqlite_store
    old = st.put_environment(
        Environment("3.11.7", "Linux", {"numpy": "1.26.4", "pandas": "2.2.0"}, digest="old")
    )
    new = st.put_environment(
        Environment("3.11.7", "Linux", {"numpy": "2.0.1", "pandas": "2.2.0"}, digest="new")
    )
    sn = Snapshotter(st)
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    more = pd.concat([frame, pd.DataFrame({"x": [5.0, 6.0], "y": [1, 1]})], ignore_index=True)
    data_a = sn.snapshot(frame, progress=False).wait()
    data_b = sn.snapshot(more, progress=False).wait()
    sn.close()
    specs = [
        # lr, code, env, data, loss curve, acc, output text
        (0.1, CODE, old, data_a, [1.0, 0.6, 0.4], 0.90, "epoch 2 loss 0.4\n"),
        (
            0.01,
            CODE.replace("fit(x, lr=lr)", "fit(x, lr=lr, warm=True)"),
            new,
            data_b,
            [1.0, 0.5, 0.2],
            0.95,
            "epoch 2 loss 0.2\n",
        ),
        (0.1, CODE, old, data_a, [1.0, 0.7, 0.5], 0.85, "epoch 2 loss 0.4\n"),
    ]
    ids = []
    for i, (lr, code, env, snap, losses, acc, text) in enumerate(specs):
        t = T0 + 100 * i
        run = st.create_run(
            "cmp",
            name=f"run-{i + 1}",
            code=code,
            params={
                "lr": lr,
                "epochs": 3,
                "opt": {"name": "adam", "beta": 0.9},
                "label": "<b>bold</b> & co",
            },
            environment_id=env,
            start_time=t,
        )
        st.add_run_data(run.id, "input", "df", snap.digest)
        st.finish_run(
            run.id,
            RunStatus.FINISHED,
            metrics=[*series("loss", losses, t), MetricPoint("acc", acc, 2, t + 3)],
            outputs=[{"output_type": "stream", "name": "stdout", "text": text}]
            + (RICH if i == 1 else []),
            end_time=t + 10,
        )
        ids.append(run.id)
    return {"url": st.url, "ids": ids}


@pytest.fixture
def grid(sqlite_store: Store) -> dict[str, Any]:
    """Experiment "grid": lr x batch, where acc is driven by lr (+0.1 at lr 0.01) and barely
    by batch. Runs A (lr 0.1, batch 16) and B (lr 0.01, batch 64) differ in both."""
    st = sqlite_store
    refs: dict[tuple[float, int], int] = {}
    for i, (lr, batch) in enumerate((lr, b) for lr in (0.1, 0.01) for b in (16, 32, 64)):
        t = T0 + 10 * i
        run = st.create_run(
            "grid", code="fit(lr, batch)", params={"lr": lr, "batch": batch}, start_time=t
        )
        acc = 0.80 + (0.10 if lr == 0.01 else 0.0) + 0.001 * (batch // 16)
        st.finish_run(run.id, RunStatus.FINISHED, metrics=[MetricPoint("acc", acc, 0, t + 1)])
        refs[(lr, batch)] = run.number
    return {"url": st.url, "a": str(refs[(0.1, 16)]), "b": str(refs[(0.01, 64)])}


# compare: the table --------------------------------------------------------------------------


def test_compare_table_shows_what_differs(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any]
) -> None:
    code, out, err = run_cli(capsys, "--store", cmp["url"], "runs", "compare", "1", "2", "3")
    assert (code, err) == (0, "")
    assert out.startswith("Comparing 3 runs against #1 (*)")
    params = section(out, "Params")
    assert "0.01 (-0.09)" in row(params, "lr")
    assert row(params, "opt.beta") == ""  # identical in every run: hidden
    assert row(params, "epochs") == "" and row(params, "label") == ""
    assert "identical params hidden" in params.splitlines()[0]

    metrics = section(out, "Metrics")
    acc = row(metrics, "acc")
    assert "last, max" in acc
    assert re.search(r"0\.95 ↑\+0\.05 \(\+5\.6%\) better", acc), acc
    assert re.search(r"0\.85 ↓-0\.05 \(-5\.6%\) worse", acc), acc
    loss = row(metrics, "loss")
    assert "last, min" in loss and "0.2 ↓-0.2 (-50%) better" in loss, loss

    packages = section(out, "Packages")
    assert "2.0.1 (major)" in row(packages, "numpy")
    assert row(packages, "pandas") == ""

    code_part = section(out, "Code")
    assert "#2 against #1" in code_part
    assert "+model = fit(x, lr=lr, warm=True)" in code_part
    assert "-model = fit(x, lr=lr)" in code_part
    assert "#3 against #1" not in code_part  # the same code: not listed

    data = section(out, "Data")
    df = row(data, "input")
    assert "changed" in df and "rows 4→6" in df, df
    assert "stdout: epoch 2 loss 0.2" in section(out, "Outputs")


def test_compare_all_shows_identical_rows(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any]
) -> None:
    code, out, _ = run_cli(capsys, "--store", cmp["url"], "runs", "compare", "1", "2", "--all")
    assert code == 0
    params = section(out, "Params")
    assert "hidden" not in params
    assert row(params, "epochs").split()[1:] == ["3", "3"]
    assert row(params, "opt.name") != "" and row(params, "opt.beta") != ""
    assert "<b>bold</b> & co" in row(params, "label")  # plain text in a terminal
    assert row(section(out, "Packages"), "pandas") != ""


def test_compare_by_number_in_an_experiment(
    capsys: pytest.CaptureFixture[str], grid: dict[str, Any]
) -> None:
    url = grid["url"]
    code, _, err = run_cli(capsys, "--store", url, "runs", "compare", "1", "1", "-e", "grid")
    assert code == 2 and "are the same run; name each run once" in err
    code, out, _ = run_cli(capsys, "--store", url, "runs", "compare", "1", "2", "-e", "grid")
    assert code == 0
    assert "batch" in section(out, "Params") and "lr" not in section(out, "Params")


def test_compare_baseline_reducer_and_step(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any]
) -> None:
    url, ids = cmp["url"], cmp["ids"]
    code, out, _ = run_cli(
        capsys, "--store", url, "runs", "compare", "1", "2", "--baseline", "2", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["baseline"] == ids[1]
    assert [r["id"] for r in data["runs"]] == [ids[1], ids[0]]

    code, out, _ = run_cli(
        capsys, "--store", url, "runs", "compare", "1", "3", "--reducer", "loss:max", "--json"
    )
    loss = next(m for m in json.loads(out)["metrics"] if m["key"] == "loss")
    assert loss["reducer"] == "max" and loss["values"] == [1.0, 1.0]
    assert loss["differs"] is False

    code, out, _ = run_cli(capsys, "--store", url, "runs", "compare", "1", "3", "--step", "1")
    assert code == 0
    loss_row = row(section(out, "Metrics"), "loss")
    assert "step=1" in loss_row and "0.7 @1" in loss_row, loss_row


def test_compare_json_is_the_api_answer(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any]
) -> None:
    code, out, err = run_cli(
        capsys, "--store", cmp["url"], "runs", "compare", *cmp["ids"][:2], "--json"
    )
    assert (code, err) == (0, "")
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert set(data) == COMPARISON_KEYS
    response_schema("/mltrack/api/compare").validate(data)
    assert data["baseline"] == cmp["ids"][0]
    lr = next(p for p in data["params"] if p["key"] == "lr")
    assert lr["values"] == [0.1, 0.01] and lr["differs"] is True
    assert {"opt.name", "opt.beta"} <= {p["key"] for p in data["params"]}


def test_nan_inf_and_step_beyond_the_series_are_shown(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store
) -> None:
    """NaN is "NaN" and infinity "inf" (not "-", which is "not logged"), in the table and as
    "nan"/"inf" in --json; step=100 on a 30-step series shows the step it took (@29)."""
    st, ids = sqlite_store, []
    finals = [0.5, float("nan"), float("inf"), None]
    for i, final in enumerate(finals):
        run = st.create_run("nan", start_time=T0 + i)
        points = series("loss", [1.0 / (s + 1) for s in range(30)], T0)
        if final is not None:
            points.append(MetricPoint("score", final, 0, T0))
        st.finish_run(run.id, RunStatus.FINISHED, metrics=points, end_time=T0 + i + 1)
        ids.append(run.id)
    argv = ["--store", st.url, "runs", "compare", *ids]
    code, out, _ = run_cli(capsys, *argv, "--reducer", "loss:step=100", "--all")
    assert code == 0
    score = row(section(out, "Metrics"), "score")
    assert re.split(r" {2,}", score.strip())[2:] == ["0.5", "NaN", "inf better", "-"], score
    loss = row(section(out, "Metrics"), "loss")
    assert loss.count("0.0333333 @29") == 4 and "step=100" in loss, loss
    code, out, _ = run_cli(capsys, *argv, "--json")
    data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    response_schema("/mltrack/api/compare").validate(data)
    assert next(m for m in data["metrics"] if m["key"] == "score")["values"] == [
        0.5,
        "nan",
        "inf",
        None,
    ]


def test_a_run_without_environment_is_not_recorded_not_removed(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any], sqlite_store: Store
) -> None:
    """A run still running has recorded no environment yet: its packages, Python and
    platform say "not recorded", and nothing reads as removed."""
    running = sqlite_store.create_run("cmp", start_time=T0 + 500)
    argv = ["--store", cmp["url"], "runs", "compare", cmp["ids"][0], running.id]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0
    packages = section(out, "Packages")
    assert "environment not recorded (yet) for #4: packages unknown" in packages
    assert row(packages, "numpy") == ""  # not a difference
    assert "removed" not in out
    code, out, _ = run_cli(capsys, *argv, "--all")
    assert re.split(r" {2,}", row(section(out, "Packages"), "numpy").strip()) == [
        "numpy",
        "1.26.4",
        "not recorded",
    ]
    attrs = section(out, "Attributes")
    assert re.split(r" {2,}", row(attrs, "python").strip()) == ["python", "3.11.7", "not recorded"]
    code, out, _ = run_cli(capsys, *argv, "--json")
    data = json.loads(out)
    response_schema("/mltrack/api/compare").validate(data)
    assert data["environment"]["diffs"][1]["unknown"] is True


def test_start_time_is_not_a_difference(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store
) -> None:
    st, ids = sqlite_store, []
    for i in range(2):
        run = st.create_run("same", params={"lr": 0.1}, start_time=T0 + 100 * i)
        st.finish_run(run.id, RunStatus.FINISHED, end_time=T0 + 100 * i + 10)
        ids.append(run.id)
    code, out, _ = run_cli(capsys, "--store", st.url, "runs", "compare", *ids)
    assert code == 0
    assert "start_time" not in out and "no differences (--all shows every row)" in out
    code, out, _ = run_cli(capsys, "--store", st.url, "runs", "compare", *ids, "--all")
    assert row(section(out, "Attributes"), "start_time") != ""  # the row is kept


def test_many_runs_are_printed_in_blocks_and_code_diffs_capped(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store
) -> None:
    """20 runs: each table in blocks of at most 8 run columns; a long code diff shows at most
    40 lines and says how many more there are."""
    st, ids = sqlite_store, []
    for i in range(20):
        code = "\n".join(f"x{j} = {j * (i + 1)}" for j in range(60)) + "\n"
        run = st.create_run("many", params={"lr": i / 100}, code=code, start_time=T0 + i)
        st.finish_run(
            run.id, RunStatus.FINISHED, metrics=[MetricPoint("acc", i / 20, 0, T0)], end_time=T0
        )
        ids.append(run.id)
    code, out, _ = run_cli(capsys, "--store", st.url, "runs", "compare", *ids)
    assert code == 0
    params = section(out, "Params")
    assert [line.strip() for line in params.splitlines() if "runs " in line] == [
        "runs 1-8 of 20:",
        "runs 9-16 of 20:",
        "runs 17-20 of 20:",
    ]
    heads = [line for line in params.splitlines() if line.strip().startswith("PARAM")]
    assert len(heads) == 3 and "#8" in heads[0] and "#9" not in heads[0]
    assert "#17" in heads[2] and "#20" in heads[2]
    assert max(len(line) for line in out.splitlines()) < 300
    metrics = out[out.index("\nMetrics") :]
    assert "METRIC  REDUCER, GOAL  #9" in metrics  # the key columns repeat in each block
    code_part = out[out.index("\nCode\n") :].split("\n\n")[0]
    first = code_part.split("#3 against #1")[0]
    diff_lines = [line for line in first.splitlines() if line.strip()[:1] in "+- "]
    shown = [line for line in first.splitlines() if re.match(r"^ {6}[-+ ]x\d", line)]
    assert len(shown) == 40 and "… 79 more lines (see --json or --html)" in first, diff_lines


# compare: the HTML report ---------------------------------------------------------------------


def test_compare_html_report(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any], tmp_path: Path
) -> None:
    dest = tmp_path / "report.html"
    argv = ["--store", cmp["url"], "runs", "compare", "1", "2", "3", "--html", str(dest)]
    code, out, err = run_cli(capsys, *argv)
    assert (code, err) == (0, "")
    assert out.startswith("Comparing 3 runs")  # the table is printed too
    assert re.search(
        rf"^wrote {re.escape(str(dest))} \([\d.]+ [KM]iB\): report of 3 runs$", out, re.M
    )
    page = dest.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<h2>Params</h2>" in page and "<h2>Metrics</h2>" in page
    assert "<code>lr</code>" in page and "0.01 (-0.09)" in page
    assert 'class="better"' in page and 'class="worse"' in page
    # identical rows are in the page, hidden until "differences only" is unticked
    assert '<body class="differences-only">' in page
    assert '<tr class="same"><td><code>epochs</code></td>' in page
    assert '<tr class="differs"><td><code>lr</code></td>' in page
    assert '<span class="add">+model = fit(x, lr=lr, warm=True)</span>' in page
    # every chart is a plotly div; plotly.js is embedded exactly once, nothing is fetched
    assert page.count('class="plotly-graph-div"') == 3  # curves, bars, parallel
    assert len(PLOTLY_BANNER.findall(page)) == 1
    assert EXTERNAL.search(page) is None
    assert 'src="https://cdn.plot.ly' not in page
    # what the runs recorded is escaped, never markup
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page
    assert f'<img class="output" alt="image/png" src="data:image/png;base64,{PNG}">' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;Chart &#x27;x&#x27;&gt;" in page

    # an existing file is replaced, and the message says so
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "; replaced the file that was there" in out
    assert dest.read_text(encoding="utf-8").count("<h2>Params</h2>") == 1


def test_compare_html_hides_sections_where_nothing_differs(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any], tmp_path: Path
) -> None:
    """Runs #1 and #3 share packages and code: with "differences only" their sections are
    hidden whole (no empty heading) and named in a "no differences in" line."""
    dest = tmp_path / "same.html"
    argv = ["--store", cmp["url"], "runs", "compare", "1", "3", "--html", str(dest)]
    assert run_cli(capsys, *argv)[0] == 0
    page = dest.read_text(encoding="utf-8")
    assert '<div class="same"><h2>Packages</h2>' in page
    assert '<div class="same"><h2>Code</h2>' in page
    assert "<h2>Packages</h2>" not in page.replace('<div class="same"><h2>Packages</h2>', "")
    assert "<h2>Metrics</h2>" in page  # acc and loss differ: shown as before
    assert re.search(r'class="note only-differences">No differences in: [^<]*Packages, Code', page)
    assert "body.differences-only .only-differences { display: block; }" in page


def test_compare_shows_artifacts_in_the_terminal_and_the_report(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any], sqlite_store: Store, tmp_path: Path
) -> None:
    """The Artifacts section: what each run holds and how it differs; a text's diff below the
    table; in the report, the runs' images side by side (a series at its last step),
    embedded, as the notebook widget shows them."""
    from jupyter_mltrack.models.artifacts import Source, write_artifact
    from jupyter_mltrack.models.tables import table_source

    one, two, three = cmp["ids"]
    image = base64.b64decode(PNG)
    for run_id, acc in ((one, "0.91"), (two, "0.94"), (three, "0.91")):
        report = f"# Report\nacc {acc}\n".encode()
        write_artifact(
            sqlite_store, run_id, "report.md", "text", [Source("report.md", data=report)]
        )
        write_artifact(
            sqlite_store, run_id, "notes.txt", "text", [Source("notes.txt", data=b"same")]
        )
        preds = {"id": [1, 2, 3], "pred": [1, 1 if run_id == two else 0, 1]}
        source, media, meta = table_source(preds, "predictions")
        write_artifact(
            sqlite_store, run_id, "predictions", "file", [source], meta=meta, media_type=media
        )
    for run_id, steps in ((one, (0, 1)), (two, (0, 1, 2))):
        for step in steps:
            write_artifact(
                sqlite_store,
                run_id,
                f"pred/step_{step:06d}",
                "file",
                [Source(f"step_{step:06d}.png", data=image + bytes([step, run_id == two]))],
                meta={"series": "pred", "step": step},
                media_type="image/png",
            )
    code, out, _ = run_cli(capsys, "--store", cmp["url"], "runs", "compare", "1", "2")
    assert code == 0
    text = section(out, "Artifacts")
    assert text.startswith("Artifacts  (1 identical artifact hidden)"), text  # notes.txt
    assert row(text, "pred").endswith("(3 steps) (changed: 1 added, 2 changed)")
    assert "(changed)" in row(text, "report.md")
    assert row(text, "predictions").endswith("(changed: 1 of 3 rows differ: pred 1)")
    assert "report.md: #2 against #1" in out and "  -acc 0.91" in out and "  +acc 0.94" in out

    code, out, _ = run_cli(capsys, "--store", cmp["url"], "runs", "compare", "1", "3")
    text = section(out, "Artifacts")
    assert text.startswith("Artifacts  (3 identical artifacts hidden)"), text
    assert row(text, "pred").endswith("(2 steps)  missing")  # #3 logged no series

    dest = tmp_path / "report.html"
    argv = ["--store", cmp["url"], "runs", "compare", "1", "2", "--html", str(dest)]
    assert run_cli(capsys, *argv)[0] == 0
    page = dest.read_text(encoding="utf-8")
    assert '<tr class="differs"><td><code>pred</code></td>' in page
    assert '<tr class="same"><td><code>notes.txt</code></td>' in page
    assert "(changed: 1 of 3 rows differ: pred 1)</td>" in page
    shown = re.findall(r'<figcaption>([^<]*)</figcaption><img src="data:image/png;base64,', page)
    assert shown == ["#1 · step 1", "#2 · step 2"]
    assert EXTERNAL.search(page) is None


def test_compare_html_message_goes_to_stderr_with_json(
    capsys: pytest.CaptureFixture[str], cmp: dict[str, Any], tmp_path: Path
) -> None:
    dest = tmp_path / "r.html"
    dest.write_text("old")
    code = main(["--store", cmp["url"], "runs", "compare", "1", "2", "--json", "--html", str(dest)])
    out, err = capsys.readouterr()
    assert code == 0
    assert set(json.loads(out)) == COMPARISON_KEYS
    assert err.startswith(f"wrote {dest} (") and "replaced the file that was there" in err
    assert dest.read_text(encoding="utf-8") != "old"


def test_compare_html_without_series_has_no_curves(
    capsys: pytest.CaptureFixture[str], grid: dict[str, Any], tmp_path: Path
) -> None:
    dest = tmp_path / "grid.html"
    argv = ["--store", grid["url"], "runs", "compare", "1", "6", "-e", "grid", "--html", str(dest)]
    assert run_cli(capsys, *argv)[0] == 0
    page = dest.read_text(encoding="utf-8")
    assert len(PLOTLY_BANNER.findall(page)) == 1
    assert "Metric curves" not in page  # one point per run: nothing to draw as a curve
    assert EXTERNAL.search(page) is None


# explain ------------------------------------------------------------------------------------------


def test_explain_names_the_planted_cause_first(
    capsys: pytest.CaptureFixture[str], grid: dict[str, Any]
) -> None:
    argv = ["--store", grid["url"], "runs", "explain", grid["a"], grid["b"], "-e", "grid"]
    code, out, err = run_cli(capsys, *argv, "--metric", "acc")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("acc (max is better): #") and "(+0.103)" in lines[0], lines[0]
    ranked = [line for line in lines if re.match(r"\s*\d+\. ", line)]
    assert len(ranked) == 2
    assert ranked[0].lstrip().startswith("1. ") and "lr" in ranked[0] and "[param" in ranked[0]
    assert "batch" in ranked[1]

    code, out, _ = run_cli(capsys, *argv, "--metric", "acc", "--json")
    data = json.loads(out)
    assert set(data) == EXPLANATION_KEYS
    response_schema("/mltrack/api/compare/explain").validate(data)
    assert data["factors"][0]["key"] == "lr" and data["factors"][0]["kind"] == "param"


# errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["compare", "1"], 2, "compare needs at least 2 runs, got 1: name another"),
        (["compare", "1", "deadbeef"], 1, "no run 'deadbeef'"),
        (["compare", "1", "9", "-e", "cmp"], 1, "no run '9' in experiment 'cmp'"),
        (["compare", "1", "2", "--reducer", "loss"], 2, "--reducer must be METRIC:REDUCER"),
        (["compare", "1", "2", "--reducer", "loss:median"], 2, "--reducer 'loss:median': "),
        (["compare", "1", "2", "-r", "loss:min", "-r", "loss:max"], 2, "more than once"),
        (["compare", "1", "2", "--baseline", "3"], 2, "--baseline '3' is not one of the"),
        (["compare", "1", "2", "--step", "-1"], 2, "argument --step: must be 0 or more"),
        (["compare", "1", "2", "--html", "/nonexistent/dir/r.html"], 1, "no such folder"),
        (["explain", "1", "2"], 2, "the following arguments are required: --metric"),
        (["explain", "1", "2", "--metric", "nope"], 2, "nope"),
        (["explain", "1", "zzz", "--metric", "acc"], 1, "no run 'zzz'"),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str],
    cmp: dict[str, Any],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    got, out, err = run_cli(capsys, "--store", cmp["url"], "runs", *argv)
    assert got == code, err
    assert out == ""
    assert err.startswith("mltrack: error: ") and err.count("\n") == 1, err
    assert message in err
