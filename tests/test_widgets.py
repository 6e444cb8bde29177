"""The notebook face of comparing runs: ``mltrack.compare`` / ``mltrack.explain``, the
``%mltrack compare`` / ``%mltrack explain`` magics and the compare widget, executed in a real
kernel and driven over the widget's comm as a frontend drives it."""

from __future__ import annotations

import base64
import json
import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.capture.api import start_run
from jupyter_mltrack.compare import compare
from jupyter_mltrack.store import Store
from jupyter_mltrack.widgets import render

from .kernel import REPO, Kernel, text_of

WIDGET = "application/vnd.jupyter.widget-view+json"

#: lr decides acc (+0.1 for 0.01); layers barely matters. Runs 1-4 of experiment "analysis".
RUNS = [(0.1, 1, 0.80), (0.01, 1, 0.90), (0.1, 2, 0.81), (0.01, 2, 0.91)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("widgets")
    (root / "nb").mkdir()
    return root


@pytest.fixture(scope="module")
def kernel(workdir: Path) -> Iterator[Kernel]:
    k = Kernel(workdir / "nb", workdir / "home", notebook="analysis.ipynb")
    k.ok("%load_ext jupyter_mltrack")
    k.ok(
        f"for lr, layers, acc in {RUNS!r}:\n"
        "    with mltrack.start_run(params={'lr': lr, 'layers': layers}):\n"
        "        for step in range(5):\n"
        "            mltrack.log_metric('loss', lr * (5 - step), step=step)\n"
        "        mltrack.log_metric('acc', acc)\n"
    )
    yield k
    k.stop()


def result_data(result: dict[str, Any]) -> dict[str, Any]:
    """The data of the cell's one ``execute_result``."""
    (out,) = [o for o in result["outputs"] if o["output_type"] == "execute_result"]
    return out["data"]


def result_data_or_none(result: dict[str, Any]) -> dict[str, Any] | None:
    found = [o for o in result["outputs"] if o["output_type"] == "execute_result"]
    return found[0]["data"] if found else None


def value(kernel: Kernel, expression: str) -> Any:
    """Evaluate ``expression`` in the kernel and return it (as JSON)."""
    out = kernel.ok(f"import json as _json\nprint(_json.dumps({expression}))")
    return json.loads(text_of(out))


def send_comm_update(kernel: Kernel, model_id: str, state: dict[str, Any]) -> None:
    """What a frontend sends when the user changes a control: a ``comm_msg`` ``update``."""
    msg = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": model_id, "data": {"method": "update", "state": state, "buffer_paths": []}},
    )
    kernel.kc.shell_channel.send(msg)
    wait_idle(kernel, msg["header"]["msg_id"])


def wait_idle(kernel: Kernel, msg_id: str) -> None:
    """Wait until the kernel handled a comm message (which has no reply)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            m = kernel.kc.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if (
            m["parent_header"].get("msg_id") == msg_id
            and m["msg_type"] == "status"
            and m["content"]["execution_state"] == "idle"
        ):
            return
    raise TimeoutError("the kernel did not handle the comm message")


# the display bundle --------------------------------------------------------------------------


def test_compare_by_number_shows_widget_with_static_fallback(kernel: Kernel) -> None:
    data = result_data(kernel.ok("w = mltrack.compare(1, 2, 3, metric='acc')\nw"))
    assert data[WIDGET]["model_id"] == value(kernel, "w.model_id")
    static = data["text/html"]
    assert "<table" in static and "lr" in static and "acc" in static
    # the baseline first, changes against it coloured and signed
    assert static.index("#1") < static.index("#2") < static.index("#3")
    assert render.BETTER in static and "▲ +0.1" in static
    # the charts as static plotly HTML, loading plotly.js from its CDN
    assert "cdn.plot.ly" in static and "Plotly.newPlot" in static
    # the explanation of the preselected metric, the planted cause named
    assert "Why?" in static and "<code>lr</code>" in static
    assert "#1" in data["text/plain"] and "lr" in data["text/plain"]


def test_changing_the_selection_over_the_comm_recomputes(kernel: Kernel) -> None:
    kernel.ok("w = mltrack.compare(1, 2)")
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#1", "#2"]
    options = value(kernel, "[label for label, _ in w.picker.options]")
    assert [o.split()[0] for o in options] == ["#1", "#2", "#3", "#4"]
    send_comm_update(kernel, value(kernel, "w.picker.model_id"), {"index": [0, 2, 3]})
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#1", "#3", "#4"]
    assert "#4" in value(kernel, "w.table.value")
    # a new baseline reorders the columns
    send_comm_update(kernel, value(kernel, "w.baseline.model_id"), {"index": 2})
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#4", "#1", "#3"]
    # one run is not a comparison: the widget says so instead of failing
    send_comm_update(kernel, value(kernel, "w.picker.model_id"), {"index": [1]})
    assert value(kernel, "w.data") is None
    assert "at least two runs" in value(kernel, "w.status.value")


def test_refresh_lists_new_runs_and_rereads(kernel: Kernel) -> None:
    kernel.ok(
        "for acc in (0.5, 0.6):\n"
        "    with mltrack.start_run(experiment='other', params={'lr': acc}):\n"
        "        mltrack.log_metric('acc', acc)\n"
        "w = mltrack.compare(1, 2, experiment='other')"
    )
    assert len(value(kernel, "w.picker.options")) == 2
    kernel.ok(
        "with mltrack.start_run(experiment='other', params={'lr': 0.7}):\n"
        "    mltrack.log_metric('acc', 0.7)"
    )
    assert len(value(kernel, "w.picker.options")) == 2
    # a click on Refresh, as the frontend sends it
    button = value(kernel, "w.refresh_button.model_id")
    msg = kernel.kc.session.msg(
        "comm_msg",
        {"comm_id": button, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    kernel.kc.shell_channel.send(msg)
    wait_idle(kernel, msg["header"]["msg_id"])
    assert [o[0] for o in value(kernel, "w.picker.options")] == ["#1", "#2", "#3"]
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#1", "#2"]


def test_compare_without_runs_takes_the_latest(kernel: Kernel) -> None:
    kernel.ok("w = mltrack.compare()")
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#1", "#2", "#3", "#4"]


def test_differences_only_toggle(kernel: Kernel) -> None:
    kernel.ok("w = mltrack.compare(1, 3)")  # same lr, different layers
    table = value(kernel, "w.table.value")
    assert "layers" in table and ">lr<" not in table
    send_comm_update(kernel, value(kernel, "w.differences_only.model_id"), {"value": False})
    assert ">lr<" in value(kernel, "w.table.value")


def test_charts_tab_draws_and_follows_its_controls(kernel: Kernel) -> None:
    kernel.ok("w = mltrack.compare(1, 2)")
    assert value(kernel, "w.figure") is None  # made and drawn when the tab is opened
    send_comm_update(kernel, value(kernel, "w.tabs.model_id"), {"selected_index": 1})
    names = value(kernel, "[t.name for t in w.figure.data]")
    assert names and all(n for n in names)
    kernel.ok("w.chart_metric.value = 'loss'")
    raw = value(kernel, "[list(t.y) for t in w.figure.data if t.y is not None]")
    send_comm_update(kernel, value(kernel, "w.smoothing.model_id"), {"value": 0.9})
    smooth = value(kernel, "[list(t.y) for t in w.figure.data if t.y is not None]")
    assert smooth != raw
    send_comm_update(kernel, value(kernel, "w.log_y.model_id"), {"value": True})
    assert value(kernel, "w.figure.layout.yaxis.type") == "log"
    kernel.ok("w.chart_kind.value = 'bars'")
    assert value(kernel, "[t.type for t in w.figure.data]")[0] == "bar"
    assert value(kernel, "w.smoothing.disabled") is True


def test_why_tab_explains_the_chosen_pair(kernel: Kernel) -> None:
    kernel.ok("w = mltrack.compare(1, 2, 3, metric='acc')")
    send_comm_update(kernel, value(kernel, "w.tabs.model_id"), {"selected_index": 2})
    why = value(kernel, "w.why.value")
    assert "<b>acc</b>" in why and "<code>lr</code>" in why
    assert value(kernel, "w.explanation.factors[0].key") == "lr"
    # run B := #3 (same lr as #1, other layers): the explanation follows
    send_comm_update(kernel, value(kernel, "w.run_b.model_id"), {"index": 2})
    assert value(kernel, "w.explanation.b.label") == "#3"
    assert value(kernel, "w.explanation.factors[0].key") == "layers"


# the public functions and the magics ---------------------------------------------------------


def test_compare_takes_ids_and_prefixes(kernel: Kernel, workdir: Path) -> None:
    store = Store(str(workdir / "home"))
    try:
        runs, _ = store.search_runs(experiment="analysis", order="number", limit=10)
    finally:
        store.close()
    kernel.ok(f"w = mltrack.compare({runs[3].id!r}, {runs[1].id[:8]!r}, '#1')")
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#4", "#2", "#1"]


def test_explain_has_a_readable_repr(kernel: Kernel) -> None:
    text = result_data(kernel.ok("mltrack.explain(1, 2, 'acc')"))["text/plain"]
    assert text.startswith("Why acc changed from #1 (0.8) to #2 (0.9)")
    assert "`lr` 0.1 → 0.01" in text and "object at 0x" not in text


def test_magics(kernel: Kernel) -> None:
    data = result_data(kernel.ok("%mltrack compare 1 2 4 --metric acc"))
    assert WIDGET in data and "text/html" in data
    assert value(kernel, "[r['label'] for r in _.data['runs']]") == ["#1", "#2", "#4"]
    assert value(kernel, "_._metric") == "acc"
    text = result_data(kernel.ok("%mltrack explain 1 2 --metric acc"))["text/plain"]
    assert text.startswith("Why acc changed from #1") and "`lr`" in text
    data = result_data(kernel.ok("%mltrack compare 1 2 -e analysis"))
    assert WIDGET in data
    kernel.ok("%mltrack compare 1 2 4 --baseline 2")
    assert value(kernel, "[r['label'] for r in _.data['runs']]") == ["#2", "#1", "#4"]
    kernel.ok("w = mltrack.compare(1, 2, baseline='#2')")
    assert value(kernel, "[r['label'] for r in w.data['runs']]") == ["#2", "#1"]
    text = result_data(kernel.ok("%mltrack explain 1 2 --metric acc -e analysis"))["text/plain"]
    assert text.startswith("Why acc changed from #1")
    for cmd in ("compare", "explain"):
        result = kernel.ok(f"%mltrack {cmd} --help")
        usage = text_of(result)
        assert usage.startswith(f"usage: %mltrack {cmd}") and "--experiment" in usage, usage
        assert ("--baseline" in usage) == (cmd == "compare"), usage
        assert not text_of(result, "stderr") and not result_data_or_none(result)


def test_metric_goal_and_importance(kernel: Kernel) -> None:
    kernel.ok("mltrack.set_metric_goal('acc', 'min')")  # the current experiment: analysis
    try:
        kernel.ok("w = mltrack.compare(1, 2)")
        assert value(kernel, "w.comparison.metric('acc')['verdicts']") == [None, "worse"]
    finally:
        kernel.ok("mltrack.set_metric_goal('acc', None)")
    kernel.ok("w = mltrack.compare(1, 2)")
    assert value(kernel, "w.comparison.metric('acc')['verdicts']") == [None, "better"]
    text = result_data(kernel.ok("mltrack.importance(metric='acc')"))["text/plain"]
    assert "acc" in text and "analysis" in text
    assert (
        value(kernel, "mltrack.importance('analysis', 'acc').to_dict()['params'][0]['key']") == "lr"
    )


def error_of(result: dict[str, Any]) -> dict[str, Any]:
    assert result["reply"]["status"] == "error", result
    (err,) = [o for o in result["outputs"] if o["output_type"] == "error"]
    return err


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%mltrack compare 1 99", "no run '99' in experiment 'analysis'"),
        ("%mltrack compare 1 2 -e nowhere", "no experiment 'nowhere'; experiments: analysis"),
        ("%mltrack compare 1 2 --baseline 3", "baseline '3' is not one of the compared runs"),
        ("%mltrack explain 1 2 --metric acc -e nowhere", "no experiment 'nowhere'"),
        ("%mltrack explain 1 2", "name two runs and a metric"),
        ("%mltrack explain 1 2 --metric nope", "has no metric 'nope'"),
        ("%mltrack compare 1 --bogus", "unrecognized arguments: --bogus"),
        ("%mltrack frobnicate", "use store, experiment, runs, export, compare, explain or sweep"),
    ],
)
def test_magic_errors_are_one_line(kernel: Kernel, code: str, message: str) -> None:
    result = kernel.execute(code)
    assert result["reply"]["status"] == "error", result
    # IPython shows a UsageError as one line on stderr, no traceback
    assert [o for o in result["outputs"] if o["output_type"] == "error"] == []
    (line,) = text_of(result, "stderr").strip().splitlines()
    assert line.startswith("UsageError: ") and "%mltrack" in line and message in line, line


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("mltrack.compare(1, 99)", "no run '99' in experiment 'analysis'"),
        ("mltrack.compare(1)", "at least two different runs"),
        ("mltrack.compare(1, '1')", "at least two different runs"),
        ("mltrack.explain(1, 2, 'nope')", "has no metric 'nope'"),
        ("mltrack.explain(1, 'ffffffffffff', 'acc')", "no run 'ffffffffffff'"),
        (
            "mltrack.compare(1, 2, metric='nosuch')",
            "none of the compared runs has a metric 'nosuch'; their metrics: acc, loss",
        ),
        ("mltrack.compare(1, 2, experiment='nosuch')", "no experiment 'nosuch'"),
        ("mltrack.compare(experiment='nosuch')", "no experiment 'nosuch'"),
    ],
)
def test_bad_refs_give_a_clear_error(kernel: Kernel, code: str, message: str) -> None:
    err = error_of(kernel.execute(code))
    # one line: the error and its message, none of the library's frames
    (line,) = err["traceback"]
    assert err["ename"] in line and message in line, line


# the name ``compare`` and a cheap import -----------------------------------------------------


def test_compare_function_survives_importing_the_subpackage() -> None:
    code = (
        "import sys, inspect\n"
        "import jupyter_mltrack as mltrack\n"
        "heavy = [m for m in ('plotly', 'ipywidgets', 'pandas', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import jupyter_mltrack.compare.charts\n"
        "import jupyter_mltrack.compare.comparison as comparison\n"
        "from jupyter_mltrack.compare import compare as pure_compare\n"
        "assert callable(mltrack.compare) and mltrack.compare.__name__ == 'compare'\n"
        "assert list(inspect.signature(mltrack.compare).parameters) == "
        "['runs', 'experiment', 'metric', 'baseline']\n"
        "assert 'widget' in mltrack.compare.__doc__\n"
        "assert mltrack.compare.charts is sys.modules['jupyter_mltrack.compare.charts']\n"
        "assert comparison is sys.modules['jupyter_mltrack.compare.comparison']\n"
        "assert pure_compare is comparison.compare\n"
        "assert mltrack.compare.compare is comparison.compare\n"
        "import importlib; importlib.import_module('jupyter_mltrack.compare.importance')\n"
        "assert mltrack.compare.__name__ == 'compare'\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_import_jupyter_mltrack_stays_cheap() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import jupyter_mltrack"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    for heavy in ("plotly", "ipywidgets", "pandas", "sklearn"):
        assert heavy not in imported, f"import jupyter_mltrack imports {heavy}"


# the HTML, from a real comparison -------------------------------------------------------------


@pytest.fixture
def local_store(tmp_path: Path) -> Iterator[Store]:
    st = Store(str(tmp_path / "home"))
    yield st
    st.close()


def test_table_html_escapes_and_marks_changes(local_store: Store) -> None:
    ids = []
    for params, acc, loss in [
        ({"lr": 0.1, "note": "<script>x</script>", "same": 1}, 0.8, 0.5),
        ({"lr": 0.01, "note": "<b>", "same": 1}, 0.9, 0.7),
    ]:
        with start_run(experiment="e", params=params, store=local_store) as run:
            run.log_metrics({"acc": acc, "loss": loss})
        ids.append(run.id)
    data = compare(local_store, ids).to_dict()
    page = render.comparison_html(data)
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert ">same<" not in page  # equal everywhere: hidden with differences only
    assert ">same<" in render.comparison_html(data, differences_only=False)
    acc_row = page[page.index(">acc ") : page.index("</tr>", page.index(">acc "))]
    assert render.BETTER in acc_row and "▲ +0.1" in acc_row  # higher accuracy: better
    loss_row = page[page.index(">loss ") : page.index("</tr>", page.index(">loss "))]
    assert render.WORSE in loss_row and "▲ +0.2" in loss_row  # higher loss: worse
    assert "#1" in render.comparison_text(data) and "0.01" in render.comparison_text(data)


def test_table_shows_nan_inf_and_unrecorded_environment(local_store: Store) -> None:
    """NaN and infinity are shown as such, not as "—" (not logged); a run that has not
    recorded its environment (still running) says "not recorded", not a removed package."""
    from jupyter_mltrack.store import Environment, MetricPoint

    st = local_store
    env = st.put_environment(
        Environment(python="3.11.7", platform="linux", packages={"numpy": "1.26.4"}, digest="e")
    )
    ids = []
    for final in (0.5, float("nan"), float("inf")):
        run = st.create_run("e", environment_id=env)
        st.finish_run(run.id, "finished", metrics=[MetricPoint("loss", final, 0, time.time())])
        ids.append(run.id)
    running = st.create_run("e")
    ids.append(running.id)
    data = compare(st, ids).to_dict()
    page = render.comparison_html(data)
    loss_row = page[page.index(">loss ") : page.index("</tr>", page.index(">loss "))]
    cells = loss_row.split("<td")[1:]
    assert [c.split(">", 1)[1].split(" <", 1)[0].split("<")[0] for c in cells] == [
        "0.5",
        "NaN",
        "inf",
        "—",
    ]
    assert ">python<" not in page  # unknown is not a difference
    env_row = page[page.index(">environment<") : page.index("</tr>", page.index(">environment<"))]
    assert env_row.count("not recorded") == 1
    every = render.comparison_html(data, differences_only=False)
    python_row = every[every.index(">python<") : every.index("</tr>", every.index(">python<"))]
    assert python_row.count("3.11.7") == 3 and "not recorded" in python_row
    numpy_row = every[every.index(">numpy<") : every.index("</tr>", every.index(">numpy<"))]
    assert numpy_row.count("1.26.4") == 3 and "not recorded" in numpy_row
    text = render.comparison_text(data)
    assert text.splitlines()[1].split() == ["loss", "0.5", "NaN", "inf", "—"]


def test_text_fallback_is_capped(local_store: Store) -> None:
    """A text/plain fallback of 300 differing rows lists 50 and says how many more."""
    ids = []
    for i in range(2):
        params = {f"p{j:03d}": j + i for j in range(300)}
        with start_run(experiment="e", params=params, store=local_store) as run:
            pass
        ids.append(run.id)
    text = render.comparison_text(compare(local_store, ids).to_dict())
    lines = text.splitlines()
    assert len(lines) == 1 + 50 + 1 and lines[-1].startswith("… 250 more rows")


def test_table_diffs_text_artifacts_and_shows_images_side_by_side(local_store: Store) -> None:
    """The table lists the artifacts that differ; below it, a text artifact's diff and the
    runs' images embedded side by side, baseline first (the widget reads their bytes)."""
    from jupyter_mltrack.models.artifacts import Source, write_artifact
    from jupyter_mltrack.widgets.compare import CompareWidget

    st = local_store
    ids = []
    for lr, png in ((0.1, b"\x89PNG-a"), (0.01, b"\x89PNG-b")):
        with start_run(experiment="e", params={"lr": lr}, store=st) as run:
            pass
        report = f"lr = {lr}\nsteps = 20\n".encode()
        write_artifact(st, run.id, "report.txt", "text", [Source("report.txt", data=report)])
        write_artifact(st, run.id, "notes.txt", "text", [Source("notes.txt", data=b"same")])
        figure = [Source("roc.png", data=png)]
        write_artifact(st, run.id, "roc", "figure", figure, media_type="image/png")
        ids.append(run.id)
    widget = CompareWidget(st, ids)
    page = widget.table.value
    row = page[page.index(">report.txt<") : page.index("</tr>", page.index(">report.txt<"))]
    assert "(changed)" in row
    assert "-lr = 0.1" in page and "+lr = 0.01" in page
    uris = [
        f"data:image/png;base64,{base64.b64encode(png).decode()}"
        for png in (b"\x89PNG-a", b"\x89PNG-b")
    ]
    assert 0 < page.index(uris[0]) < page.index(uris[1])  # the baseline's first
    assert widget.static_html().count("data:image/png;base64,") == 2
    # the same bytes in both runs: a row with differences only off, no diff, no images
    assert ">notes.txt<" not in page
    every = render.comparison_html(compare(st, ids).to_dict(), differences_only=False)
    assert ">notes.txt<" in every and "artifact notes.txt" not in every
