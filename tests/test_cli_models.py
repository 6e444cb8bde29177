"""``mltrack models …`` and ``mltrack artifacts …`` against a real SQLite store whose runs
logged model artifacts (written as ``log_model`` writes them, without a model library: the
registry and the CLI only read the artifact's rows and meta)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from jupyter_mltrack.cli import main
from jupyter_mltrack.models.artifacts import Source, write_artifact
from jupyter_mltrack.models.lineage import lineage
from jupyter_mltrack.server import models as models_api
from jupyter_mltrack.snapshots.storage import Snapshotter
from jupyter_mltrack.store import Environment, MetricPoint, RunStatus, Store

T0 = 1_700_000_000.0
CODE = "\n".join(["import sklearn", "X, y = load()"] + [f"step_{i}()" for i in range(10)])
MODEL_META = {
    "format": "skops",
    "flavor": "sklearn",
    "library_version": "1.5.0",
    "python": "3.11.7",
    "packages": {"scikit-learn": "1.5.0", "numpy": "2.0.1"},
    "load_info": {},
    "unsafe": False,
    "untrusted_types": [],
    "signature": None,
}


class Registry(NamedTuple):
    store: Store
    url: str
    first: str  # run #1 of churn: a model, a text, a folder; read a snapshot
    second: str  # run #2 of churn: a model
    pipeline: str  # a pipeline run reproducing the first


def _when(ts: float) -> str:
    """A time as the CLI prints it (local time)."""
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def model_sources(tag: bytes) -> list[Source]:
    return [
        Source("model.skops", data=b"skops-bytes-" + tag),
        Source("meta/schema.json", data=b"{}"),
    ]


@pytest.fixture
def reg(sqlite_store: Store) -> Registry:
    st = sqlite_store
    env_id = st.put_environment(
        Environment(
            python="3.11.7", platform="Linux-x86_64", packages={"numpy": "2.0.1"}, digest="e"
        )
    )
    first = st.create_run(
        "churn",
        name="baseline",
        notebook_path="nb/train.ipynb",
        cell_id="cell-7",
        execution_count=4,
        code=CODE,
        params={"C": 0.5, "penalty": "l2"},
        environment_id=env_id,
        git_commit="abc1234",
        git_dirty=True,
        start_time=T0,
    )
    st.finish_run(
        first.id,
        RunStatus.FINISHED,
        metrics=[MetricPoint("auc", 0.81, 0, T0 + 1)],
        end_time=T0 + 75,
    )
    second = st.create_run("churn", name="wider", start_time=T0 + 100)
    st.finish_run(
        second.id,
        RunStatus.FINISHED,
        metrics=[MetricPoint("auc", 0.86, 0, T0 + 101)],
        end_time=T0 + 110,
    )
    pipeline = st.create_run(
        "churn", source="pipeline", parent_run_id=first.id, start_time=T0 + 200
    )
    st.finish_run(
        pipeline.id,
        RunStatus.FINISHED,
        metrics=[MetricPoint("auc", 0.81, 0, T0 + 201)],
        end_time=T0 + 210,
    )
    write_artifact(st, first.id, "model", "model", model_sources(b"1"), meta=MODEL_META)
    write_artifact(st, second.id, "model", "model", model_sources(b"2"), meta=MODEL_META)
    report = [Source("report.md", data=b"# AUC 0.81\n")]
    write_artifact(st, first.id, "report.md", "text", report, media_type="text/markdown")
    write_artifact(
        st,
        first.id,
        "plots",
        "folder",
        [Source("roc.svg", data=b"<svg/>"), Source("sub/pr.svg", data=b"<svg></svg>")],
    )
    return Registry(st, st.url, first.id, second.id, pipeline.id)


@pytest.fixture
def registered(reg: Registry) -> Registry:
    """churn v1 (run 1) and v2 (run 2), @production on v1."""
    reg.store.register_model_version("churn", reg.first, "model")
    reg.store.register_model_version("churn", reg.second, "model")
    reg.store.set_model_alias("churn", "production", 1)
    return reg


def one_error(err: str, *parts: str) -> None:
    """A refusal is one line on stderr, saying what is wrong."""
    assert err.startswith("mltrack: error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, (part, err)


# list / show ------------------------------------------------------------------------------


def test_list_and_show_as_tables_and_as_the_rest_api(
    capsys: pytest.CaptureFixture[str], reg: Registry
) -> None:
    code, out, err = run_cli(capsys, "--store", reg.url, "models", "list")
    assert (code, err) == (0, "") and out.startswith("no registered models yet")
    assert json.loads(run_cli(capsys, "--store", reg.url, "models", "list", "--json")[1]) == {
        "models": []
    }

    reg.store.register_model_version("churn", reg.first, "model")
    reg.store.register_model_version("churn", reg.second, "model")
    reg.store.register_model_version("attrition", reg.second, "model")
    reg.store.set_model_alias("churn", "production", 1)
    reg.store.set_model_alias("churn", "staging", 2)
    reg.store.update_registered_model("churn", set_tags={"team": "growth", "task": "churn"})
    reg.store.update_registered_model("attrition", set_tags={"team": "risk"})

    code, out, err = run_cli(capsys, "--store", reg.url, "models", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["MODEL", "VERSIONS", "LATEST", "ALIASES", "TAGS", "UPDATED"]
    assert lines[1].split()[:5] == ["attrition", "1", "v1", "-", "team=risk"]
    assert lines[2].split()[:7] == [
        "churn",
        "2",
        "v2",
        "@production=v1",
        "@staging=v2",
        "task=churn",
        "team=growth",
    ]
    assert len(lines) == 3
    # only the models whose own tags hold each value given
    code, out, _ = run_cli(capsys, "--store", reg.url, "models", "list", "--tag", "team=growth")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["churn"]
    both = ("--tag", "team=growth", "-t", "task=other")
    assert run_cli(capsys, "--store", reg.url, "models", "list", *both) == (
        0,
        "no registered model has the tags team=growth task=other\n",
        "",
    )
    code, out, err = run_cli(capsys, "--store", reg.url, "models", "list", "--tag", "team")
    assert code == 2 and "a tag is KEY=VALUE, not 'team'" in err
    code, out, _ = run_cli(capsys, "--store", reg.url, "models", "list", "--json")
    assert json.loads(out) == models_api.list_models(reg.store)
    assert [
        (m["name"], m["versions"], m["latest"], m["aliases"]) for m in json.loads(out)["models"]
    ] == [
        ("attrition", 1, 1, {}),
        ("churn", 2, 2, {"production": 1, "staging": 2}),
    ]

    code, out, err = run_cli(capsys, "--store", reg.url, "models", "show", "churn")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Model churn: 2 versions, latest v2"
    assert lines[1] == "  tags: task=churn team=growth"
    assert lines[2] == "  aliases: @production=v1 @staging=v2"
    header, newest, oldest = lines[4], lines[5], lines[6]  # (a blank line before)
    assert header.split()[:4] == ["VERSION", "RUN", "EXPERIMENT", "RUN"]
    # newest first, with the run (number, experiment, name, id prefix), aliases and metrics
    assert newest.split()[:6] == ["v2", "2", "churn", "wider", reg.second[:8], "model"]
    assert newest.endswith("@staging     auc=0.86")
    assert oldest.split()[:6] == ["v1", "1", "churn", "baseline", reg.first[:8], "model"]
    assert oldest.endswith("@production  auc=0.81")

    code, out, _ = run_cli(capsys, "--store", reg.url, "models", "show", "churn", "--json")
    data = json.loads(out)
    assert data == models_api.get_model(reg.store, "churn")
    assert [
        (v["version"], v["run_number"], v["aliases"], v["metrics"]) for v in data["versions"]
    ] == [
        (2, 2, ["staging"], {"auc": 0.86}),
        (1, 1, ["production"], {"auc": 0.81}),
    ]

    code, out, err = run_cli(capsys, "--store", reg.url, "models", "show", "chrun")
    assert (code, out) == (1, "")
    one_error(err, "no registered model 'chrun'", "'attrition', 'churn'")


def test_show_of_one_version_ends_with_the_call_that_loads_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``models show churn@production``: the version's run, format, signature, and the
    ``load_model`` call with the ``trusted=`` its file needs, which loads it as printed
    (the alias form when an alias was asked: a serving script then follows the alias)."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    import jupyter_mltrack as mltrack

    X = pd.DataFrame({"x1": np.arange(20.0), "x2": np.arange(20.0) % 3})
    y = (X.x1 > 9).astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    home = str(tmp_path / "home")
    st = Store(home)
    mltrack.set_store(st)
    try:
        run = st.create_run("churn", name="tree")
        mltrack.log_model(tree, "model", signature_from=X[:3], run=run.id)
        st.finish_run(run.id, RunStatus.FINISHED, metrics=[MetricPoint("auc", 0.9, 0, T0)])
        st.register_model_version("churn", run.id, "model")
        st.set_model_alias("churn", "production", 1)

        code, out, err = run_cli(capsys, "--store", home, "models", "show", "churn@production")
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert lines[0].startswith("churn v1 @production  (models:/churn/1, registered ")
        assert lines[1] == f"  run       #1 of churn 'tree' ({run.id[:8]}): finished  auc=0.9"
        assert lines[2].startswith("  artifact  'model': skops (sklearn ")
        assert lines[3] == "  inputs    dataframe of 2 columns: x1 float64, x2 float64"
        assert lines[4].startswith("  outputs   ndarray int64")
        call = "mltrack.load_model('models:/churn@production', trusted=['sklearn.tree._tree.Tree'])"
        assert lines[5] == f"  load      {call}" and len(lines) == 6

        code, out, _ = run_cli(capsys, "--store", home, "models", "show", "churn/1", "--json")
        card = json.loads(out)
        assert card["load"] == call.replace("@production", "/1")
        assert card["model"]["ref"] == "models:/churn/1" and card["run"]["id"] == run.id
        # the printed call loads the model, as a serving script would run it
        loaded = eval(card["load"], {"mltrack": mltrack})
        assert (loaded.predict(X) == tree.predict(X)).all()

        code, out, err = run_cli(capsys, "--store", home, "models", "show", "1/model")
        assert (code, out) == (2, "")
        one_error(err, "'1/model' is not a registered model's version", "models lineage")
    finally:
        mltrack.set_store(None)
        st.close()


# register -----------------------------------------------------------------------------------


def test_register_by_run_number_or_id_prints_the_version(
    capsys: pytest.CaptureFixture[str], reg: Registry
) -> None:
    url = reg.url
    code, out, err = run_cli(
        capsys, "--store", url, "models", "register", "churn", "1/model", "-e", "churn"
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"registered churn v1: artifact 'model' of run #1 of churn ({reg.first[:8]})",
        "load it with mltrack.load_model('models:/churn/1')",
    ]
    code, out, _ = run_cli(
        capsys, "--store", url, "models", "register", "churn", f"{reg.second[:8]}/model"
    )
    assert out.startswith("registered churn v2: artifact 'model' of run #2 of churn")
    # the same artifact again is the version it already is
    code, out, _ = run_cli(capsys, "--store", url, "models", "register", "churn", "#1/model")
    assert code == 0 and out.startswith(
        f"artifact 'model' of run #1 of churn ({reg.first[:8]}) is already churn v1\n"
    )
    assert [v.version for v in reg.store.get_registered_model("churn").versions] == [1, 2]

    code, out, _ = run_cli(
        capsys,
        "--store",
        url,
        "models",
        "register",
        "attrition",
        f"{reg.second}/model",
        "--json",
        "-d",
        "wide C",
        "--tag",
        "validation=pending",
        "-t",
        "note=a=b",
    )
    assert code == 0
    assert json.loads(out) == {
        "model": "attrition",
        "version": 1,
        "run_id": reg.second,
        "artifact": "model",
        "created_at": json.loads(out)["created_at"],
        "description": "wide C",
        "aliases": [],
        "tags": {"note": "a=b", "validation": "pending"},
        "ref": "models:/attrition/1",
    }


@pytest.mark.parametrize(
    ("argv", "status", "parts"),
    [
        (("churn", "model"), 2, ["cannot read 'model'", "RUN/NAME"]),
        (("churn", "1/report.md"), 1, ["artifact 'report.md'", "is a text, not a model"]),
        (("churn", "1/nope"), 1, ["has no artifact 'nope'", "'model', 'plots', 'report.md'"]),
        (("churn", "9/model", "-e", "churn"), 1, ["no run '9' in experiment 'churn'"]),
        (("a/b", "1/model"), 2, ["model name 'a/b'", "use letters, digits and -_."]),
        (("my model", "1/model"), 2, ["model name 'my model'", "no spaces"]),
        (("..", "1/model"), 2, ["model name '..'", "starting with a letter or digit"]),
    ],
)
def test_register_refusals_are_one_line(
    capsys: pytest.CaptureFixture[str],
    reg: Registry,
    argv: tuple[str, ...],
    status: int,
    parts: list[str],
) -> None:
    code, out, err = run_cli(capsys, "--store", reg.url, "models", "register", *argv)
    assert (code, out) == (status, "")
    one_error(err, *parts)
    assert reg.store.list_registered_models() == []


# aliases and deleting versions -----------------------------------------------------------------


def test_alias_set_move_and_delete_say_what_happened(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    url = registered.url
    alias = ("--store", url, "models", "alias", "churn")
    assert run_cli(capsys, *alias, "staging", "1") == (0, "set churn@staging to v1\n", "")
    assert run_cli(capsys, *alias, "production", "v2") == (
        0,
        "moved churn@production from v1 to v2\n",
        "",
    )
    assert run_cli(capsys, *alias, "@production", "2") == (
        0,
        "churn@production already names v2\n",
        "",
    )
    assert registered.store.get_registered_model("churn").aliases == {"production": 2, "staging": 1}

    code, out, _ = run_cli(capsys, *alias, "staging", "2", "--json")
    assert code == 0 and json.loads(out) == models_api.get_model(registered.store, "churn")
    assert json.loads(out)["aliases"] == {"production": 2, "staging": 2}

    assert run_cli(capsys, *alias, "staging", "--delete") == (
        0,
        "deleted churn@staging (it named v2)\n",
        "",
    )
    assert registered.store.get_registered_model("churn").aliases == {"production": 2}

    for argv, status, parts in [
        (("staging", "--delete"), 1, ["model 'churn' has no alias 'staging'"]),
        (("production", "9"), 1, ["model 'churn' has no version 9 (versions: 1, 2)"]),
        (("3", "1"), 2, ["alias '3' would read as a version"]),
        (("prod/x", "1"), 2, ["alias name 'prod/x'"]),
        (("production",), 2, ["give the VERSION"]),
        (("production", "1", "--delete"), 2, ["not both"]),
        (("production", "0"), 2, ["a positive number"]),
        (("production", "9" * 23), 1, [f"model 'churn' has no version {'9' * 23}"]),
    ]:
        code, out, err = run_cli(capsys, *alias, *argv)
        assert (code, out) == (status, ""), argv
        one_error(err, *parts)
    code, _, err = run_cli(capsys, "--store", url, "models", "alias", "nope", "production", "1")
    assert code == 1
    one_error(err, "no registered model 'nope'")
    assert registered.store.get_registered_model("churn").aliases == {"production": 2}


def test_delete_version_is_refused_while_an_alias_names_it_unless_forced(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    url = registered.url
    code, out, err = run_cli(capsys, "--store", url, "models", "delete-version", "churn", "1")
    assert (code, out) == (1, "")
    one_error(err, "version 1 of 'churn' holds @production", "--force")
    assert [v.version for v in registered.store.get_registered_model("churn").versions] == [1, 2]

    assert run_cli(capsys, "--store", url, "models", "delete-version", "churn", "2") == (
        0,
        "deleted churn v2\n",
        "",
    )
    assert run_cli(
        capsys, "--store", url, "models", "delete-version", "churn", "v1", "--force"
    ) == (
        0,
        "deleted churn v1 and its alias @production\n",
        "",
    )
    model = registered.store.get_registered_model("churn")
    assert (model.versions, model.aliases) == ((), {})
    for version in ("1", "9" * 23):
        code, out, err = run_cli(
            capsys, "--store", url, "models", "delete-version", "churn", version
        )
        assert (code, out) == (1, "")
        one_error(err, f"model 'churn' has no version {version} (versions: none)")


def test_delete_a_model_is_refused_while_an_alias_points_into_it_unless_forced(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    st, url = registered.store, registered.url
    st.set_model_alias("churn", "staging", 2)
    delete = ("--store", url, "models", "delete")
    code, out, err = run_cli(capsys, *delete, "churn")
    assert (code, out) == (1, "")
    one_error(err, "model 'churn' holds @production (v1), @staging (v2)", "--force")
    assert len(st.get_registered_model("churn").versions) == 2

    assert run_cli(capsys, *delete, "churn", "--force") == (
        0,
        "deleted model churn with its 2 versions and aliases @production, @staging\n",
        "",
    )
    assert st.list_registered_models() == []
    assert st.get_artifact(registered.first, "model").kind == "model"  # the runs keep them
    code, out, err = run_cli(capsys, *delete, "churn")
    assert (code, out) == (1, "")
    one_error(err, "no registered model 'churn' (registered: none yet)")

    # one without aliases goes unasked; one left with no versions too
    st.register_model_version("fraud", registered.first, "model")
    st.register_model_version("empty", registered.second, "model")
    st.delete_model_version("empty", 1)
    assert run_cli(capsys, *delete, "fraud") == (0, "deleted model fraud with its 1 version\n", "")
    assert run_cli(capsys, *delete, "empty") == (
        0,
        "deleted model empty (it had no versions)\n",
        "",
    )
    code, out, err = run_cli(capsys, *delete)
    assert (code, out) == (2, "") and "NAME" in err  # argparse's usage error


# lineage --------------------------------------------------------------------------------------


def test_lineage_tree_from_version_to_data_and_environment(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    st, url = registered.store, registered.url
    sn = Snapshotter(st)
    try:
        train = sn.snapshot(pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]}), progress=False).wait()
    finally:
        sn.close()
    st.add_run_data(registered.first, "input", "train", train.digest)

    code, out, err = run_cli(capsys, "--store", url, "models", "lineage", "churn@production")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    first = registered.first
    assert lines[0].startswith("churn v1 @production  (models:/churn/1, registered ")
    assert lines[1] == "└── artifact 'model': skops (sklearn 1.5.0), 2 files, 15 B"
    assert lines[2] == (
        f"    └── run #1 of churn 'baseline' ({first[:8]}): finished, "
        f"started {_when(T0)}, ran 1m15s"
    )
    body = "\n".join(lines[3:])
    tree = "        "
    assert f"{tree}├── notebook: nb/train.ipynb, cell cell-7 [4]\n" in body + "\n"
    assert (
        f"{tree}├── code: 12 lines\n{tree}│     import sklearn\n{tree}│     X, y = load()\n" in body
    )
    assert f"{tree}│     step_5()\n{tree}│     … 4 more lines (--code shows all)\n" in body
    assert "step_6()" not in body
    assert (
        f"{tree}├── pipeline: reproduced by 1 pipeline run\n"
        f"{tree}│   └── #3 ({registered.pipeline[:8]}): finished  auc=0.81\n"
    ) in body
    assert (
        f"{tree}├── inputs: 1 snapshot\n{tree}│   └── train  {train.short}  dataframe 3 x 2\n"
    ) in body
    assert f"{tree}├── params\n{tree}│   ├── C = 0.5\n{tree}│   └── penalty = l2\n" in body
    assert f"{tree}├── metrics\n{tree}│   └── auc = 0.81\n" in body
    assert body.endswith(
        f"{tree}└── environment\n"
        f"{tree}    ├── python 3.11.7 on Linux-x86_64 (1 package recorded)\n"
        f"{tree}    ├── libraries: numpy 2.0.1, scikit-learn 1.5.0\n"
        f"{tree}    └── git abc1234 (uncommitted changes)"
    )

    code, full, _ = run_cli(capsys, "--store", url, "models", "lineage", "churn/1", "--code")
    assert code == 0 and "more lines" not in full
    assert all(f"{tree}│     step_{i}()\n" in full for i in range(10))

    # every spelling of the same version gives the same answer; --json is lineage()'s dict
    expected = lineage(st, "models:/churn@production")
    for ref in ("churn@production", "models:/churn@production"):
        code, got, _ = run_cli(capsys, "--store", url, "models", "lineage", ref, "--json")
        assert code == 0 and json.loads(got) == expected, ref
    assert expected["inputs"][0]["digest"] == train.digest
    for ref in ("churn/1", "models:/churn/1"):
        assert run_cli(capsys, "--store", url, "models", "lineage", ref) == (0, out, ""), ref
    # the latest version by the bare name; a run's artifact, registered or not
    code, latest, _ = run_cli(capsys, "--store", url, "models", "lineage", "churn")
    assert latest.startswith("churn v2  (models:/churn/2, registered ")
    code, by_run, _ = run_cli(capsys, "--store", url, "models", "lineage", "2/model", "-e", "churn")
    assert by_run.splitlines()[0] == "2/model: registered as churn v2"
    assert by_run.splitlines()[2].startswith(
        f"    └── run #2 of churn 'wider' ({registered.second[:8]})"
    )
    assert "inputs: no data snapshots recorded" in by_run and "code: not recorded" in by_run
    data = json.loads(run_cli(capsys, "--store", url, "models", "lineage", "2/model", "--json")[1])
    assert data["run"]["id"] == registered.second
    assert data["model"] == lineage(st, "models:/churn/2")["model"]
    assert data["models"] == [data["model"]]


def test_lineage_of_a_run_artifact_names_every_version_it_is_registered_as(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    """``RUN/NAME`` finds the artifact's versions in the registry (the reference itself
    names none); a ``models:/`` reference names its version first, then the others."""
    st, url = registered.store, registered.url
    st.register_model_version("churn-copy", registered.first, "model")
    write_artifact(st, registered.pipeline, "model", "model", model_sources(b"3"), meta=MODEL_META)
    lineage_of = ("--store", url, "models", "lineage")

    code, out, err = run_cli(capsys, *lineage_of, "1/model", "-e", "churn")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "1/model: registered as churn v1 @production, churn-copy v1"
    data = json.loads(run_cli(capsys, *lineage_of, registered.first[:8] + "/model", "--json")[1])
    assert [(m["name"], m["version"], m["ref"]) for m in data["models"]] == [
        ("churn", 1, "models:/churn/1"),
        ("churn-copy", 1, "models:/churn-copy/1"),
    ]
    assert data["model"] == data["models"][0]
    assert data["models"][0]["aliases"] == ["production"]

    # by the registry's name: that version, then the artifact's other versions
    code, out, _ = run_cli(capsys, *lineage_of, "churn-copy/1")
    assert out.splitlines()[0].startswith("churn-copy v1  (models:/churn-copy/1, registered ")
    assert out.splitlines()[0].endswith("; also churn v1 @production")
    by_name = lineage(st, "models:/churn-copy/1")
    assert by_name["model"]["name"] == "churn-copy" and by_name["models"] == data["models"]
    # the REST API answers with the same lists
    assert models_api.lineage(st, "churn", {"version": ["1"]})["models"] == data["models"]

    # a model no version holds
    code, out, _ = run_cli(capsys, *lineage_of, "3/model", "-e", "churn")
    assert out.splitlines()[0] == "3/model (not registered)"
    data = json.loads(run_cli(capsys, *lineage_of, "3/model", "-e", "churn", "--json")[1])
    assert (data["model"], data["models"]) == (None, [])


@pytest.mark.parametrize(
    ("ref", "status", "parts"),
    [
        ("churn@staging", 1, ["model 'churn' has no alias 'staging' (its aliases: @production)"]),
        ("churn/7", 1, ["model 'churn' has no version 7 (versions: 1, 2)"]),
        ("models:/churn/x", 2, ["cannot read 'models:/churn/x'"]),
        ("nope", 1, ["no registered model 'nope' (registered: 'churn')"]),
        ("1/plot", 1, ["has no artifact 'plot'"]),
    ],
)
def test_lineage_refusals_are_one_line(
    capsys: pytest.CaptureFixture[str],
    registered: Registry,
    ref: str,
    status: int,
    parts: list[str],
) -> None:
    code, out, err = run_cli(
        capsys, "--store", registered.url, "models", "lineage", ref, "-e", "churn"
    )
    assert (code, out) == (status, "")
    one_error(err, *parts)


# artifacts --------------------------------------------------------------------------------------


def test_artifacts_list_and_runs_show_name_what_a_run_logged(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    url, first = registered.url, registered.first
    code, out, err = run_cli(capsys, "--store", url, "artifacts", "list", "1", "-e", "churn")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"run #1 of churn ({first[:8]}): 3 artifacts"
    assert lines[1].split() == [
        "NAME",
        "KIND",
        "FILES",
        "SIZE",
        "TYPE",
        "LOGGED",
        "REGISTERED",
        "AS",
    ]
    assert lines[2].split()[:6] == ["model", "model", "2", "15", "B", "skops"]
    assert lines[2].endswith("churn v1 @production")
    assert lines[3].split()[:6] == ["plots", "folder", "2", "17", "B", "-"]
    assert lines[4].split()[:6] == ["report.md", "text", "1", "11", "B", "text/markdown"]
    assert len(lines) == 5

    code, out, _ = run_cli(capsys, "--store", url, "artifacts", "list", first[:8], "--files")
    files = out.split("\n\n")[1].splitlines()
    assert files[0].split() == ["ARTIFACT", "PATH", "SIZE", "DIGEST"]
    assert [row.split()[:2] for row in files[1:]] == [
        ["model", "meta/schema.json"],
        ["model", "model.skops"],
        ["plots", "roc.svg"],
        ["plots", "sub/pr.svg"],
        ["report.md", "report.md"],
    ]

    code, out, _ = run_cli(capsys, "--store", url, "artifacts", "list", first, "--json")
    data = json.loads(out)
    assert data == models_api.list_artifacts(registered.store, first)
    assert [a["name"] for a in data["artifacts"]] == ["model", "plots", "report.md"]
    assert data["models"][0]["ref"] == "models:/churn/1"

    code, out, _ = run_cli(capsys, "--store", url, "artifacts", "list", registered.pipeline)
    assert out == f"run #3 of churn ({registered.pipeline[:8]}) logged no artifacts\n"

    code, out, _ = run_cli(capsys, "--store", url, "runs", "show", first)
    assert (
        "\nArtifacts\n"
        "  model      model, 2 files, 15 B, skops; registered as churn v1 @production\n"
        "  plots      folder, 2 files, 17 B\n"
        "  report.md  text, 1 file, 11 B\n"
    ) in out


def test_artifacts_get_writes_files_and_folders_and_never_overwrites_unasked(
    capsys: pytest.CaptureFixture[str],
    registered: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, first = registered.url, registered.first
    work = tmp_path / "work"  # beside the store's folder
    work.mkdir()
    monkeypatch.chdir(work)
    get = ("--store", url, "artifacts", "get", first)

    # a one-file artifact is the file; a model or folder a folder of its files
    code, out, err = run_cli(capsys, *get, "report.md")
    assert (code, err) == (0, "")
    assert out == f"wrote report.md (11 B): artifact 'report.md' of run #1 of churn ({first[:8]})\n"
    assert (work / "report.md").read_bytes() == b"# AUC 0.81\n"
    code, out, _ = run_cli(capsys, *get, "model")
    assert out.startswith(f"wrote model{os.sep} (2 files, 15 B): artifact 'model' of run #1")
    assert (work / "model" / "model.skops").read_bytes() == b"skops-bytes-1"
    assert (work / "model" / "meta" / "schema.json").read_bytes() == b"{}"
    # copies, not links into the blob store a user could then change
    assert (work / "model" / "model.skops").stat().st_nlink == 1

    # nothing existing is overwritten unless --force; staging folders do not linger
    code, out, err = run_cli(capsys, *get, "model")
    assert (code, out) == (1, "")
    one_error(err, "model already exists (pass --force to replace it)")
    (work / "model" / "stale.txt").write_text("old")
    code, out, err = run_cli(capsys, *get, "model", "--force")
    assert (code, err) == (0, "")
    assert sorted(
        p.relative_to(work / "model").as_posix() for p in (work / "model").rglob("*")
    ) == [
        "meta",
        "meta/schema.json",
        "model.skops",
    ]
    code, _, err = run_cli(capsys, *get, "report.md")
    assert code == 1
    one_error(err, "report.md already exists (pass --force to replace it)")
    assert sorted(p.name for p in work.iterdir()) == ["model", "report.md"]

    # -o: a new name, or an existing folder to write into; --path: one file
    out_dir = work / "deploy"
    out_dir.mkdir()
    assert run_cli(capsys, *get, "plots", "-o", str(out_dir))[0] == 0
    assert (out_dir / "plots" / "sub" / "pr.svg").read_bytes() == b"<svg></svg>"
    assert run_cli(capsys, *get, "model", "-o", str(out_dir / "churn-v1"))[0] == 0
    assert (out_dir / "churn-v1" / "model.skops").read_bytes() == b"skops-bytes-1"
    code, out, _ = run_cli(capsys, *get, "model", "--path", "model.skops", "-o", str(out_dir))
    assert out.startswith(
        f"wrote {out_dir / 'model.skops'} (13 B): model.skops of artifact 'model'"
    )
    assert (out_dir / "model.skops").read_bytes() == b"skops-bytes-1"
    code, out, _ = run_cli(
        capsys,
        "--store",
        url,
        "artifacts",
        "get",
        "2",
        "model",
        "-e",
        "churn",
        "-p",
        "model.skops",
        "-o",
        str(out_dir / "v2.skops"),
    )
    assert (out_dir / "v2.skops").read_bytes() == b"skops-bytes-2"

    for argv, parts in [
        (
            ("model", "--path", "nope.bin"),
            ["has no file 'nope.bin' (its files: meta/schema.json, model.skops)"],
        ),
        (("modle",), ["has no artifact 'modle' (its artifacts: 'model', 'plots', 'report.md')"]),
        (("model", "-o", str(work / "missing" / "x")), ["no such folder"]),
    ]:
        code, out, err = run_cli(capsys, *get, *argv)
        assert (code, out) == (1, ""), argv
        one_error(err, *parts)
    assert not list(work.rglob("*.mltrack-tmp"))


def test_artifacts_get_keeps_the_artifact_path_and_makes_folders_as_mkdir_does(
    capsys: pytest.CaptureFixture[str],
    registered: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``notes/hello.txt`` is written as ``./notes/hello.txt`` (as ``mlflow artifacts
    download`` keeps an artifact's path), and every folder made gets the umask's mode,
    not the 0700 of a ``tempfile.mkdtemp`` staging folder renamed into place."""
    st, url, first = registered.store, registered.url, registered.first
    write_artifact(st, first, "notes/hello.txt", "text", [Source("hello.txt", data=b"hi\n")])
    write_artifact(
        st,
        first,
        "deep/plots",
        "folder",
        [Source("a.svg", data=b"<svg/>"), Source("sub/b.svg", data=b"<svg></svg>")],
    )
    write_artifact(st, first, "linked/x.txt", "text", [Source("x.txt", data=b"x")])
    write_artifact(st, first, "fresh/y.txt", "text", [Source("y.txt", data=b"y")])
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    get = ("--store", url, "artifacts", "get", first)
    mask = os.umask(0o022)
    try:
        code, out, err = run_cli(capsys, *get, "notes/hello.txt")
        assert (code, err) == (0, "")
        assert out.startswith("wrote notes/hello.txt (3 B): artifact 'notes/hello.txt' of run #1")
        assert (work / "notes" / "hello.txt").read_bytes() == b"hi\n"
        assert not (work / "hello.txt").exists()

        assert run_cli(capsys, *get, "plots")[0] == 0
        out_dir = work / "deploy"
        out_dir.mkdir()
        assert run_cli(capsys, *get, "deep/plots", "-o", str(out_dir))[0] == 0
        assert (out_dir / "deep" / "plots" / "sub" / "b.svg").read_bytes() == b"<svg></svg>"
        for folder in ("notes", "plots", "plots/sub", "deploy/deep", "deploy/deep/plots"):
            assert (work / folder).stat().st_mode & 0o777 == 0o755, folder
        code, out, _ = run_cli(capsys, *get, "notes/hello.txt", "-o", str(work / "hi.txt"))
        assert (work / "hi.txt").read_bytes() == b"hi\n"  # -o naming a file: that file

        # a folder on the way that is a link out of the destination is not written through
        outside = tmp_path / "outside"
        outside.mkdir()
        (work / "linked").symlink_to(outside)
        code, out, err = run_cli(capsys, *get, "linked/x.txt")
        assert (code, out) == (1, "")
        one_error(err, "is a link to", "refusing to write through it")
        assert not list(outside.iterdir())

        # a write that fails leaves no folder it made
        from jupyter_mltrack.models import readback

        def full(*_args: object, **_kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(readback, "materialize", full)
        code, out, err = run_cli(capsys, *get, "fresh/y.txt")
        assert (code, out) == (1, "")
        one_error(err, "cannot write fresh/y.txt: No space left on device")
        assert not (work / "fresh").exists()
    finally:
        os.umask(mask)
    assert not list(work.rglob("*.mltrack-tmp"))


def test_describe_and_tag_say_what_happened_and_show_prints_them(
    capsys: pytest.CaptureFixture[str], registered: Registry
) -> None:
    url = registered.url
    models = ("--store", url, "models")
    assert run_cli(capsys, *models, "describe", "churn", "Who leaves next month") == (
        0,
        "described churn\n",
        "",
    )
    assert run_cli(capsys, *models, "describe", "churn", "-v", "v1", "Baseline,\n May") == (
        0,
        "described churn v1\n",
        "",
    )
    tag = (*models, "tag", "churn", "1")
    assert run_cli(capsys, *tag, "validation=pending", "owner=ana", "query=a=b") == (
        0,
        "churn v1 tags: owner=ana query=a=b validation=pending\n",
        "",
    )
    assert run_cli(capsys, *tag, "validation=passed", "--delete", "query") == (
        0,
        "churn v1 tags: owner=ana validation=passed\n",
        "",
    )
    code, out, _ = run_cli(capsys, *tag, "empty=", "--json")
    assert code == 0
    assert json.loads(out)["tags"] == {"empty": "", "owner": "ana", "validation": "passed"}
    assert json.loads(out)["ref"] == "models:/churn/1"
    run_cli(capsys, *tag, "-D", "empty")
    # without a version: the model's own tags (MLflow's registered model tags)
    assert run_cli(capsys, *models, "tag", "churn", "team=growth", "task=churn") == (
        0,
        "churn tags: task=churn team=growth\n",
        "",
    )
    assert run_cli(capsys, *models, "tag", "churn", "-D", "task") == (
        0,
        "churn tags: team=growth\n",
        "",
    )
    code, out, _ = run_cli(capsys, *models, "tag", "churn", "v1", "validation=passed", "--json")
    assert json.loads(out)["tags"] == {"owner": "ana", "validation": "passed"}  # the version's

    code, out, err = run_cli(capsys, *models, "show", "churn")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1] == "  Who leaves next month"
    assert lines[2] == "  tags: team=growth"
    # under the table, the versions that have a description or tags
    assert lines[-1] == "  v1  Baseline, May  [owner=ana validation=passed]"
    assert not any(line.startswith("  v2 ") for line in lines)
    code, out, _ = run_cli(capsys, *models, "show", "churn@production")
    assert "  about     Baseline, May" in out.splitlines()
    assert "  tags      owner=ana validation=passed" in out.splitlines()
    assert json.loads(run_cli(capsys, *models, "show", "churn", "--json")[1]) == (
        models_api.get_model(registered.store, "churn")
    )
    assert run_cli(capsys, *models, "describe", "churn", "") == (
        0,
        "cleared the description of churn\n",
        "",
    )

    for argv, status, parts in [
        (("tag", "churn", "1"), 2, ["give tags as KEY=VALUE"]),
        (("tag", "churn", "1", "oops"), 2, ["a tag is KEY=VALUE, not 'oops'"]),
        (("tag", "churn", "1", "=x"), 2, ["a tag is KEY=VALUE"]),
        (("tag", "churn", "1", "-D", "stage"), 1, ["no tag 'stage' (its tags: owner, validation)"]),
        (("tag", "churn", "9", "a=b"), 1, ["has no version 9"]),
        (("tag", "churn", "1", "a=b", "-D", "a"), 2, ["'a' is both set and deleted"]),
        (("tag", "churn", "oops"), 2, ["a version is a positive number", "tags are KEY=VALUE"]),
        (("tag", "churn", "-D", "x"), 1, ["model 'churn' has no tag 'x' (its tags: team)"]),
        (("tag", "nope", "a=b"), 1, ["no registered model 'nope'"]),
        (("describe", "nope", "x"), 1, ["no registered model 'nope'"]),
        (("describe", "churn", "-v", "0", "x"), 2, ["a positive number"]),
    ]:
        code, out, err = run_cli(capsys, *models, *argv)
        assert (code, out) == (status, ""), argv
        one_error(err, *parts)
    assert registered.store.resolve_model_version("churn", version=1).tags == {
        "owner": "ana",
        "validation": "passed",
    }
