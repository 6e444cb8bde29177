"""A model's lineage as a graph (W&B's lineage DAG): the data its run read and the artifacts
it loaded, their runs further up, the model, and the runs that loaded it since; drawn as one
plotly figure for the notebook (``mltrack.lineage_figure``), the REST API (``?figure=1``,
in ``test_server_models``) and ``mltrack models lineage --html``. Real SQLite store, a real
scikit-learn model fine-tuned from a registered base model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_mltrack as mltrack
from jupyter_mltrack.cli import main
from jupyter_mltrack.compare.charts import figure_json
from jupyter_mltrack.models.graph import lineage_graph
from jupyter_mltrack.store import Store


@pytest.fixture
def api_store(tmp_path: Path) -> Iterator[Store]:
    st = mltrack.set_store(f"sqlite:///{tmp_path / 'home' / 'mltrack.db'}")
    yield st
    mltrack.set_store(None)


@pytest.fixture
def tuned(api_store: Store) -> dict[str, str]:
    """``team/churn@gold`` -> run *base* (churn-base v1, a feature table) -> run *tuned*
    (loads both; churn v1 @production) -> three evaluations. Run ids by name."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((60, 3)), columns=list("abc"))
    frame["y"] = (frame["a"] > 0.5).astype(int)
    mltrack.datasets.push(frame, "team/churn", tag="gold")
    ids = {}
    with mltrack.start_run(experiment="train", name="base") as run:
        data = mltrack.datasets.get("team/churn@gold")
        base = LogisticRegression().fit(data[list("abc")], data["y"])
        mltrack.log_model(base, "model", register="churn-base")
        mltrack.log_table(data.head(5), "features")
    ids["base"] = run.id
    with mltrack.start_run(experiment="train", name="tuned") as run:
        model = mltrack.load_model("models:/churn-base/1")
        mltrack.load_table(f"{ids['base']}/features")
        mltrack.log_model(model, "model", register="churn")
    ids["tuned"] = run.id
    mltrack.set_alias("churn", "production", 1)
    for i in range(3):
        with mltrack.start_run(experiment="eval") as run:
            mltrack.load_model("models:/churn@production")
            mltrack.log_metric("auc", 0.9 + i / 100)
        ids[f"eval{i}"] = run.id
    return ids


def test_the_graph_goes_up_through_what_each_run_used_and_down_to_its_users(
    api_store: Store, tuned: dict[str, str]
) -> None:
    graph = lineage_graph(api_store, "models:/churn@production", users=2).to_dict()
    nodes = {n["id"]: n for n in graph["nodes"]}
    base, tuned_run = tuned["base"], tuned["tuned"]
    placed = {(n["kind"], n["label"], n["column"]) for n in graph["nodes"]}
    gold = next(n for n in graph["nodes"] if n["kind"] == "data")
    assert gold["label"].startswith("team/churn@") and len(gold["label"]) == len("team/churn@") + 8
    assert placed == {
        ("model", "churn v1 @production", 0),
        ("run", "#2 train", -1),
        ("artifact", "churn-base v1", -2),
        ("artifact", "features", -2),
        ("run", "#1 train", -3),
        ("data", gold["label"], -4),
        ("run", "#3 eval", 1),  # the newest two users, then the rest
        ("run", "#2 eval", 1),
        ("more", "… 1 more run", 1),
    }
    edges = {(e["source"], e["target"], e["label"]) for e in graph["edges"]}
    model = f"artifact:{tuned_run}/model"
    assert (f"run:{tuned_run}", model, "logged") in edges
    assert (f"artifact:{base}/model", f"run:{tuned_run}", "used") in edges
    assert (f"artifact:{base}/features", f"run:{tuned_run}", "used") in edges
    assert (f"run:{base}", f"artifact:{base}/model", "logged") in edges
    assert (gold["id"], f"run:{base}", "read") in edges
    assert (model, f"run:{tuned['eval2']}", "used") in edges
    assert nodes[f"artifact:{base}/model"]["run_id"] == base  # a click opens its run
    assert "auc=0.92" in nodes[f"run:{tuned['eval2']}"]["detail"]
    assert graph["truncated"] is False

    short = lineage_graph(api_store, "models:/churn/1", depth=1).to_dict()
    assert short["truncated"] is True  # the tuned run used things: not walked
    assert {n["kind"] for n in short["nodes"]} == {"model", "run"}


def test_one_figure_for_the_notebook_and_the_terminal(
    api_store: Store, tuned: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import plotly.graph_objects as go

    fig = mltrack.lineage_figure("models:/churn@production")
    go.Figure(figure_json(fig))  # valid: every property checked
    names = [trace.name for trace in fig.data]
    assert names == ["this model", "run", "artifact or model used", "data read"]
    runs = next(t for t in fig.data if t.name == "run")
    assert set(runs.customdata) == {tuned[k] for k in ("base", "tuned", "eval0", "eval1", "eval2")}
    assert len(fig.layout.annotations) == 9  # an arrow per edge

    page = tmp_path / "lineage.html"
    args = ["--store", api_store.url, "models", "lineage", "churn@production", "--html", str(page)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {page} (") and "the lineage graph, 9 nodes" in out
    text = page.read_text()
    assert "Plotly.newPlot" in text and "churn-base v1" in text and "used by 3 runs" in text
    assert main([*args[:-1], str(tmp_path)]) == 2  # a folder is no file name
    assert "--html names a folder" in capsys.readouterr().err


def test_a_run_no_longer_in_the_store_is_a_node_that_says_so(api_store: Store) -> None:
    from jupyter_mltrack.models.artifacts import Source, write_artifact

    gone = api_store.create_run("train")
    write_artifact(api_store, gone.id, "notes", "text", [Source("n.txt", data=b"n")])
    with mltrack.start_run(experiment="train") as run:
        mltrack.load_text(f"{gone.id}/notes")
        mltrack.log_model({"a": 1}, "model", format="pickle")
    api_store.delete_run(gone.id)
    graph = lineage_graph(api_store, f"{run.id}/model").to_dict()
    (missing,) = [n for n in graph["nodes"] if n["id"] == f"run:{gone.id}"]
    assert (missing["detail"], missing["run_id"], missing["column"]) == (
        "not in this store",
        None,
        -3,
    )
