"""Run numbers in a kernel mean the runs of ONE current experiment: the one a bare ``%%track``
cell records into, whatever the function or magic that takes them.

The kernel here has no notebook name (as under nbconvert, or a console): its bare
``%%track`` cells record into the store's default experiment, ``Default``. Another
experiment's runs, recorded later with ``-e side``, have the same numbers and are the most
recent ones: a number must still mean Default's run, in ``compare``, ``explain``,
``importance``, ``set_metric_goal`` and the magics alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mltrack.store import Store

from .kernel import Kernel, text_of

#: x decides m in Default (m = x / 10); side's runs have m far away.
DEFAULT_RUNS = [1, 2, 3]
SIDE_RUNS = [7, 8]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("refs")


@pytest.fixture(scope="module")
def kernel(home: Path) -> Iterator[Kernel]:
    (home / "work").mkdir()
    with pytest.MonkeyPatch.context() as mp:  # no notebook name, no experiment from outside
        mp.delenv("JPY_SESSION_NAME", raising=False)
        mp.delenv("MLTRACK_EXPERIMENT", raising=False)
        k = Kernel(home / "work", home / "home", notebook=None)
    k.ok("%load_ext jupyter_mltrack")
    for x in DEFAULT_RUNS:
        k.ok(f"%%track\nx = {x}\nmltrack.log_params(x=x)\nmltrack.log_metric('m', x / 10)")
    for x in SIDE_RUNS:
        k.ok(f"%%track -e side\nx = {x}\nmltrack.log_params(x=x)\nmltrack.log_metric('m', x)")
    k.ok("import jupyter_mltrack.capture.api as _api\n_api.wait_pending()")
    yield k
    k.stop()


@pytest.fixture(scope="module")
def ids(kernel: Kernel, home: Path) -> dict[str, dict[int, str]]:
    """Run ids by experiment and number, read from the store."""
    store = Store(str(home / "home"))
    try:
        out: dict[str, dict[int, str]] = {}
        for exp in ("Default", "side"):
            runs, _ = store.search_runs(experiment=exp, limit=10)
            out[exp] = {r.number: r.id for r in runs}
    finally:
        store.close()
    assert sorted(out["Default"]) == [1, 2, 3] and sorted(out["side"]) == [1, 2]
    return out


def value(kernel: Kernel, expression: str) -> Any:
    out = kernel.ok(f"import json as _json\nprint(_json.dumps({expression}))")
    return json.loads(text_of(out))


def test_the_current_experiment_is_the_one_track_records_into(kernel: Kernel) -> None:
    kernel.ok("from jupyter_mltrack.capture.refs import current_experiment")
    assert value(kernel, "current_experiment()") == "Default"
    assert text_of(kernel.ok("%mltrack experiment")).strip() == "mltrack: experiment = Default"


def test_compare_takes_numbers_in_the_current_experiment(
    kernel: Kernel, ids: dict[str, dict[int, str]]
) -> None:
    kernel.ok("w = mltrack.compare(1, 2, 3)")
    assert value(kernel, "[r['id'] for r in w.data['runs']]") == [
        ids["Default"][1],
        ids["Default"][2],
        ids["Default"][3],
    ]
    assert value(kernel, "repr(w)") == "<CompareWidget #1, #2, #3>"
    kernel.ok("w = mltrack.compare()")  # the latest runs of the current experiment
    assert value(kernel, "[r['id'] for r in w.data['runs']]") == [
        ids["Default"][n] for n in (1, 2, 3)
    ]
    # -e / experiment= name another
    kernel.ok("w = mltrack.compare(1, 2, experiment='side')")
    assert value(kernel, "[r['id'] for r in w.data['runs']]") == [ids["side"][1], ids["side"][2]]


def test_explain_and_the_magics_take_the_same_runs(
    kernel: Kernel, ids: dict[str, dict[int, str]]
) -> None:
    assert value(kernel, "[mltrack.explain(1, 2, 'm').to_dict()[k]['id'] for k in 'ab']") == [
        ids["Default"][1],
        ids["Default"][2],
    ]
    kernel.ok("%mltrack compare 2 3")
    assert value(kernel, "[r['id'] for r in _.data['runs']]") == [
        ids["Default"][2],
        ids["Default"][3],
    ]
    kernel.ok("e = %mltrack explain 1 3 --metric m")
    assert value(kernel, "[e.to_dict()[k]['id'] for k in 'ab']") == [
        ids["Default"][1],
        ids["Default"][3],
    ]
    kernel.ok("e = %mltrack explain 1 2 --metric m -e side")
    assert value(kernel, "[e.to_dict()[k]['id'] for k in 'ab']") == [
        ids["side"][1],
        ids["side"][2],
    ]


def test_importance_and_metric_goals_use_the_current_experiment(kernel: Kernel, home: Path) -> None:
    result = kernel.ok("mltrack.importance(metric='m')")
    text = next(o for o in result["outputs"] if o["output_type"] == "execute_result")
    assert "Default" in text["data"]["text/plain"]
    kernel.ok("mltrack.set_metric_goal('m', 'min')")
    try:
        store = Store(str(home / "home"))
        try:
            by_name = {e.name: e.id for e in store.list_experiments()}
            goals = store.metric_goals([by_name["Default"], by_name["side"]])
        finally:
            store.close()
        assert goals == {by_name["Default"]: {"m": "min"}, by_name["side"]: {}}
        kernel.ok("w = mltrack.compare(1, 2)")  # Default's m rose: worse when minimised
        assert value(kernel, "w.comparison.metric('m')['verdicts']") == [None, "worse"]
    finally:
        kernel.ok("mltrack.set_metric_goal('m', None)")


def test_the_magics_experiment_setting_moves_every_one_of_them(
    kernel: Kernel, ids: dict[str, dict[int, str]]
) -> None:
    kernel.ok("%mltrack experiment side")
    try:
        kernel.ok("w = mltrack.compare(1, 2)")
        assert value(kernel, "[r['id'] for r in w.data['runs']]") == [
            ids["side"][1],
            ids["side"][2],
        ]
        assert value(kernel, "[mltrack.explain(2, 1, 'm').to_dict()[k]['id'] for k in 'ab']") == [
            ids["side"][2],
            ids["side"][1],
        ]
    finally:
        kernel.ok(
            "[setattr(c, 'experiment', None) for c in get_ipython().configurables "
            "if type(c).__name__ == 'TrackMagics']"
        )
    assert text_of(kernel.ok("%mltrack experiment")).strip() == "mltrack: experiment = Default"


def test_the_load_call_asks_for_the_trust_its_file_needs() -> None:
    """The call the CLI, the API and the run detail show: nothing for a file that loads as
    it is, the skops types to trust, or ``trusted=True`` for a pickle (which runs code)."""
    from jupyter_mltrack.models.refs import load_call

    ref = "models:/churn@production"
    assert load_call(ref, {}) == f"mltrack.load_model({ref!r})"
    assert load_call(ref, {"unsafe": False, "untrusted_types": ("a.B", "c.D")}) == (
        f"mltrack.load_model({ref!r}, trusted=['a.B', 'c.D'])"
    )
    assert load_call("3f2a/model", {"unsafe": True, "untrusted_types": ["a.B"]}) == (
        "mltrack.load_model('3f2a/model', trusted=True)"
    )
