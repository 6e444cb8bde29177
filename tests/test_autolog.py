"""Autolog: what scikit-learn, XGBoost and LightGBM calls record without a line of code, and
that nothing stays patched.

The cell path (``%%track``, names from the user's namespace, an earlier cell's imports, the
switches) is tested in real kernels; the libraries' details directly, with real estimators
recording into a real store.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import jupyter_mltrack as mltrack
from jupyter_mltrack.autolog import _session, begin
from jupyter_mltrack.capture import api
from jupyter_mltrack.store import RunStatus, Store

from .kernel import REPO, Kernel, loaded_kernel, open_store, text_of

# kernels ------------------------------------------------------------------------------------

DATA = """
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
X, y = make_classification(n_samples=240, n_features=8, random_state=0)
X_train, X_test, y_train, y_test = X[:160], X[160:], y[:160], y[160:]
X_val, y_val = X_test[:40], y_test[:40]
"""

#: Run in the kernel: every patchable thing the session may touch, by identity.
ORIGINALS = """
import sys
import sklearn.base, sklearn.metrics, sklearn.model_selection
def _patchables():
    seen, todo = set(), [sklearn.base.BaseEstimator, sklearn.base.ClassifierMixin,
                         sklearn.base.RegressorMixin, sklearn.base.ClusterMixin,
                         sklearn.base.TransformerMixin, sklearn.base.OutlierMixin,
                         sklearn.base.DensityMixin]
    while todo:
        cls = todo.pop()
        if cls not in seen:
            seen.add(cls)
            todo.extend(cls.__subclasses__())
    names = ("fit", "fit_predict", "fit_transform", "partial_fit", "score", "__init_subclass__")
    held = {(c, n): c.__dict__.get(n) for c in seen for n in names}
    for module in (sklearn.metrics, sklearn.model_selection):
        held.update({(module, n): v for n, v in vars(module).items() if callable(v)})
    held.update({("ns", n): v for n, v in list(globals().items()) if callable(v)})
    held[("meta_path", 0)] = tuple(sys.meta_path)
    return held
"""
SAME = (
    "_now = _patchables()\n"
    "_changed = [k for k, v in _before.items() if k[0] == 'ns' and globals().get(k[1]) is not v]\n"
    "_changed += [k for k, v in _before.items()\n"
    "             if k[0] not in ('ns', 'meta_path') and _now.get(k) is not v]\n"
    "_changed += ['meta_path'] * (_now[('meta_path', 0)] != _before[('meta_path', 0)])\n"
    "print('changed:', _changed)"
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("autolog")
    (root / "nb").mkdir()
    return root


@pytest.fixture(scope="module")
def kernel(workdir: Path) -> Iterator[Kernel]:
    with loaded_kernel(workdir / "nb", workdir / "home", "autolog.ipynb", DATA, ORIGINALS) as k:
        yield k


@pytest.fixture
def store(workdir: Path) -> Iterator[Store]:
    with open_store(workdir / "home") as st:
        yield st


def run_of(kernel: Kernel, store: Store, experiment: str) -> Any:
    """The latest run of ``experiment`` once the kernel has written it."""
    kernel.ok("__import__('jupyter_mltrack.capture.api', fromlist=['_']).wait_pending()")
    runs, _ = store.search_runs(experiment=experiment, order="-start_time", limit=1)
    assert runs, f"no run in {experiment}"
    return store.get_run_detail(runs[0].id)


def series(detail: Any, key: str) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in detail.metric_series[key]]


def test_fit_records_params_and_training_time(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e fit\n"
        "C = 0.5\n"
        "model = LogisticRegression(C=C, max_iter=300).fit(X_train, y_train)\n"
        "model2 = LogisticRegression(C=C, max_iter=300).fit(X_train, y_train)"
    )
    detail = run_of(kernel, store, "fit")
    params, metrics = detail.run.params, detail.run.metrics
    assert params["max_iter"] == 300 and params["solver"] == "lbfgs", (params, metrics)
    # the cell's own `C = 0.5` is never overwritten: the estimator's C gets the prefix
    assert params["C"] == 0.5 and params["LogisticRegression.C"] == 0.5
    times = series(detail, "fit_time")
    assert [step for step, _ in times] == [0, 1]  # one point per fit
    assert all(0 < seconds < 30 for _, seconds in times)
    assert "fit_time" in metrics


def test_several_estimator_classes_get_prefixes(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e classes\n"
        "scaler = StandardScaler().fit(X_train)\n"
        "clf = LogisticRegression(max_iter=250).fit(scaler.transform(X_train), y_train)"
    )
    detail = run_of(kernel, store, "classes")
    params = detail.run.params
    assert params["StandardScaler.with_mean"] is True
    assert params["LogisticRegression.max_iter"] == 250
    assert "max_iter" not in params and "with_mean" not in params
    assert {"StandardScaler.fit_time", "LogisticRegression.fit_time"} <= set(detail.run.metrics)


def test_grid_search_best_params_score_and_candidates(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e grid\n"
        "grid = GridSearchCV(\n"
        "    make_pipeline(StandardScaler(), LogisticRegression()),\n"
        "    {'logisticregression__C': [0.01, 0.1, 1.0]}, cv=3,\n"
        ")\n"
        "grid.fit(X_train, y_train)"
    )
    out = kernel.ok(
        "import json\n"
        "print(json.dumps([list(grid.cv_results_['mean_test_score']),\n"
        "                  list(grid.cv_results_['std_test_score']),\n"
        "                  grid.best_score_, grid.best_params_]))"
    )
    means, stds, best, best_params = json.loads(text_of(out))
    detail = run_of(kernel, store, "grid")
    run = detail.run
    assert run.metrics["best_score"] == pytest.approx(best)
    assert run.params["best_logisticregression__C"] == best_params["logisticregression__C"]
    assert series(detail, "mean_test_score") == [(i, pytest.approx(v)) for i, v in enumerate(means)]
    assert series(detail, "std_test_score") == [(i, pytest.approx(v)) for i, v in enumerate(stds)]
    # the search's own params; the 3×3 inner fits and their scoring are not logged
    assert run.params["cv"] == 3
    assert run.params["estimator__logisticregression__C"] == 1.0
    assert len(series(detail, "fit_time")) == 1
    assert not any(key.startswith(("Pipeline.", "LogisticRegression.")) for key in run.params)
    assert not any(key.startswith(("accuracy", "score")) for key in run.metrics)


def test_metric_imported_in_an_earlier_cell_and_score(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e metrics\n"
        "model = LogisticRegression().fit(X_train, y_train)\n"
        "for _ in range(3):\n"
        "    acc = accuracy_score(y_test, model.predict(X_test))\n"
        "acc_val = accuracy_score(y_val, model.predict(X_val))\n"
        "test_score = model.score(X_test, y_test)\n"
        "print(acc, acc_val, test_score)"
    )
    out = kernel.ok("print(acc, acc_val, test_score)")
    acc, acc_val, test_score = map(float, text_of(out).split())
    detail = run_of(kernel, store, "metrics")
    assert series(detail, "accuracy_score") == [(0, acc), (1, acc), (2, acc)]
    assert series(detail, "accuracy_score_y_val") == [(0, acc_val)]
    # score() computes accuracy_score itself: only the score is recorded for it
    assert series(detail, "score_X_test") == [(0, test_score)]
    out = kernel.ok(
        "import sklearn.metrics\n"
        "print(accuracy_score is sklearn.metrics.accuracy_score, type(accuracy_score).__name__,\n"
        "      'autolog' in accuracy_score.__code__.co_filename)"
    )
    assert text_of(out).split() == ["True", "function", "False"]


def test_cross_val_score_mean_and_std(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e cv\nscores = cross_val_score(LogisticRegression(), X_train, y_train, cv=4)"
    )
    out = kernel.ok("print(scores.mean(), scores.std())")
    mean, std = map(float, text_of(out).split())
    detail = run_of(kernel, store, "cv")
    assert detail.run.metrics["cross_val_score_mean"] == pytest.approx(mean)
    assert detail.run.metrics["cross_val_score_std"] == pytest.approx(std)
    assert "fit_time" not in detail.run.metrics  # the 4 fits belong to cross_val_score
    assert not any(key in detail.run.params for key in ("C", "max_iter"))


def test_classes_defined_in_the_cell_are_autologged_then_restored(
    kernel: Kernel, store: Store
) -> None:
    kernel.ok(
        "%%track -e own-class\n"
        "from sklearn.base import BaseEstimator\n"
        "class Constant(BaseEstimator):\n"
        "    def __init__(self, value=3):\n"
        "        self.value = value\n"
        "    def fit(self, X, y=None):\n"
        "        return self\n"
        "    def score(self, X, y=None):\n"
        "        return 0.25\n"
        "Constant(value=7).fit(X_train).score(X_val)"
    )
    detail = run_of(kernel, store, "own-class")
    assert detail.run.params["value"] == 7
    assert detail.run.metrics["score_X_val"] == 0.25
    out = kernel.ok(
        "print(hasattr(Constant.fit, '__wrapped__'), hasattr(Constant.score, '__wrapped__'))"
    )
    assert text_of(out).split() == ["False", "False"]


def test_the_users_call_is_recorded_with_readable_params(kernel: Kernel, store: Store) -> None:
    """The corpus's F6 and O3: the GaussianMixture called, not the KMeans it starts from;
    nothing for the LabelEncoder ``classification_report`` fits; a function is its name."""
    kernel.ok(
        "%%track -e outermost\n"
        "from sklearn.metrics import classification_report\n"
        "from sklearn.mixture import GaussianMixture\n"
        "def refit_strategy(cv_results):\n"
        "    return 0\n"
        "labels = GaussianMixture(n_components=2, covariance_type='diag', random_state=0)"
        ".fit_predict(X_train)\n"
        "report = classification_report(y_test, y_test)\n"
        "search = GridSearchCV(LogisticRegression(), {'C': [0.1, 1.0]}, cv=2,\n"
        "                      refit=refit_strategy).fit(X_train, y_train)"
    )
    detail = run_of(kernel, store, "outermost")
    params, metrics = detail.run.params, detail.run.metrics
    assert params["GaussianMixture.n_components"] == 2
    assert params["GaussianMixture.covariance_type"] == "diag"
    assert params["GridSearchCV.refit"] == "refit_strategy"
    assert {key.partition(".")[0] for key in params} == {"GaussianMixture", "GridSearchCV"}
    assert {key for key in metrics if key.endswith("fit_time")} == {
        "GaussianMixture.fit_time",
        "GridSearchCV.fit_time",
    }
    assert len(series(detail, "GaussianMixture.fit_time")) == 1
    assert not [v for v in params.values() if isinstance(v, str) and "0x" in v], params


def test_switched_off(kernel: Kernel, store: Store) -> None:
    kernel.ok(
        "%%track -e off --no-autolog\n"
        "m = LogisticRegression().fit(X_train, y_train)\n"
        "a = accuracy_score(y_test, m.predict(X_test))"
    )
    run = run_of(kernel, store, "off").run
    assert run.metrics == {} and "solver" not in run.params
    kernel.ok("%config TrackMagics.autolog = False")
    try:
        kernel.ok(
            "%%track -e off-config\n"
            "m = LogisticRegression().fit(X_train, y_train)\n"
            "a = m.score(X_test, y_test)"
        )
    finally:
        kernel.ok("%config TrackMagics.autolog = True")
    run = run_of(kernel, store, "off-config").run
    assert run.metrics == {} and "solver" not in run.params


def test_nothing_stays_patched_after_success_and_failure(kernel: Kernel, store: Store) -> None:
    kernel.ok("_before = _patchables()")
    stderr = []
    ok = kernel.ok(
        "%%track -e restore\n"
        "m = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)\n"
        "StandardScaler().fit_transform(X_train)\n"
        "accuracy_score(y_test, m.predict(X_test))"
    )
    stderr.append(text_of(ok, "stderr"))
    assert text_of(kernel.ok(SAME)).strip() == "changed: []"
    # a cell failing after a fit, and one whose fit itself raises
    failed = kernel.execute(
        "%%track -e restore\nm = LogisticRegression().fit(X_train, y_train)\nraise KeyError('boom')"
    )
    assert failed["reply"]["status"] == "error" and failed["reply"]["ename"] == "KeyError"
    stderr.append(text_of(failed, "stderr"))
    assert run_of(kernel, store, "restore").run.status is RunStatus.FAILED
    assert text_of(kernel.ok(SAME)).strip() == "changed: []"
    failed = kernel.execute("%%track -e restore\nLogisticRegression(C=-1.0).fit(X_train, y_train)")
    assert failed["reply"]["status"] == "error"
    assert failed["reply"]["ename"] == "InvalidParameterError"  # sklearn's own error, as is
    stderr.append(text_of(failed, "stderr"))
    assert text_of(kernel.ok(SAME)).strip() == "changed: []"
    assert not any("mltrack" in text for text in stderr), stderr  # no logging error


def test_libraries_imported_during_the_cell(tmp_path: Path) -> None:
    """A fresh kernel: scikit-learn and XGBoost are first imported by the tracked cell itself
    (the import hook patches them), and nothing is left behind afterwards."""
    (tmp_path / "nb").mkdir()
    k = Kernel(tmp_path / "nb", tmp_path / "home", notebook="fresh.ipynb")
    try:
        k.ok("%load_ext jupyter_mltrack")
        out = k.ok(
            "import sys\nprint(sorted(m for m in ('sklearn', 'xgboost') if m in sys.modules))"
        )
        assert text_of(out).strip() == "[]"  # loading the extension imported neither
        meta = k.ok("print(len(sys.meta_path))")
        result = k.execute(
            "%%track -e fresh\n"
            "from sklearn.datasets import make_classification\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.metrics import f1_score\n"
            "import xgboost as xgb\n"
            "X, y = make_classification(n_samples=120, random_state=1)\n"
            "m = LogisticRegression(C=0.3).fit(X, y)\n"
            "f1 = f1_score(y, m.predict(X))\n"
            "d = xgb.DMatrix(X, label=y)\n"
            "booster = xgb.train({'objective': 'binary:logistic', 'max_depth': 2}, d, 4,\n"
            "                    evals=[(d, 'train')], verbose_eval=False)"
        )
        assert result["reply"]["status"] == "ok", result
        assert "mltrack" not in text_of(result, "stderr")
        after = k.ok(
            "import sklearn.metrics, sklearn.base\n"
            "print(len(sys.meta_path), type(f1_score).__module__, type(xgb.train).__module__,\n"
            "      'autolog' in LogisticRegression.fit.__code__.co_filename,\n"
            "      '__init_subclass__' in sklearn.base.BaseEstimator.__dict__,\n"
            "      f1_score is sklearn.metrics.f1_score, xgb.train is xgb.training.train)"
        )
        words = text_of(after).split()
        assert words[0] == text_of(meta).strip()  # the import hook is gone
        assert words[1:] == ["builtins", "builtins", "False", "False", "True", "True"]
        k.ok("__import__('jupyter_mltrack.capture.api', fromlist=['_']).wait_pending()")
        st = Store(str(tmp_path / "home"))
        try:
            runs, _ = st.search_runs(experiment="fresh", limit=1)
            detail = st.get_run_detail(runs[0].id)
        finally:
            st.close()
        assert detail.run.params["LogisticRegression.C"] == 0.3
        assert detail.run.params["xgboost.max_depth"] == 2
        assert "f1_score" in detail.run.metrics
        assert [p.step for p in detail.metric_series["train-logloss"]] == [0, 1, 2, 3]
    finally:
        k.stop()


def test_start_run_in_a_script(tmp_path: Path) -> None:
    """``mltrack.autolog()`` + ``start_run()`` in a plain script; without autolog(), nothing."""
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import jupyter_mltrack as mltrack
            from sklearn.datasets import make_classification
            from sklearn.linear_model import LogisticRegression
            from sklearn.metrics import accuracy_score

            X, y = make_classification(n_samples=100, random_state=0)
            X_test, y_test = X[:30], y[:30]
            with mltrack.start_run(name="plain", experiment="script"):
                LogisticRegression().fit(X, y)
            mltrack.autolog()
            with mltrack.start_run(name="auto", experiment="script", params={"max_iter": 5}):
                model = LogisticRegression(max_iter=50).fit(X, y)
                print(accuracy_score(y_test, model.predict(X_test)), model.score(X_test, y_test))
            mltrack.autolog(False)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "MLTRACK_HOME": str(tmp_path / "home"),
             "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    accuracy, score = map(float, done.stdout.split())
    st = Store(str(tmp_path / "home"))
    try:
        runs, _ = st.search_runs(experiment="script", order="number", limit=10)
        plain, auto = (st.get_run_detail(r.id) for r in runs)
    finally:
        st.close()
    assert plain.run.name == "plain" and plain.run.metrics == {} and plain.run.params == {}
    assert auto.run.params["max_iter"] == 5  # the user's param, never overwritten
    assert auto.run.params["LogisticRegression.max_iter"] == 50
    assert auto.run.metrics["accuracy_score"] == accuracy
    assert auto.run.metrics["score_X_test"] == score
    assert "fit_time" in auto.run.metrics


# directly, with real estimators and a real store ---------------------------------------------


@pytest.fixture
def run(sqlite_store: Store) -> Iterator[api.ActiveRun]:
    active = api.start_run(experiment="unit", store=sqlite_store)
    yield active
    active.end()


def new_run(store: Store) -> api.ActiveRun:
    return api.start_run(experiment="unit", store=store)


def recorded(active: api.ActiveRun) -> Any:
    active.end()
    api.wait_pending()
    return active.store.get_run_detail(active.id)


def _cls_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n_samples=150, n_features=6, random_state=0)


class _Echo(ClassifierMixin, BaseEstimator):
    """Returns and raises exactly the objects it is given."""

    def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result = result
        self.error = error

    def fit(self, X: Any, y: Any = None) -> Any:
        if self.error is not None:
            raise self.error
        return self.result

    def score(self, X: Any, y: Any = None) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def test_wrappers_return_and_raise_exactly_what_the_library_does(run: api.ActiveRun) -> None:
    X, y = _cls_data()
    sentinel = object()
    number = 0.123456789
    error = RuntimeError("the estimator's own error")
    session = begin(run, {})
    assert session is not None
    try:
        model = LogisticRegression()
        assert model.fit(X, y) is model
        assert _Echo(result=sentinel).fit(X) is sentinel
        assert _Echo(result=number).score(X) is number
        with pytest.raises(RuntimeError) as raised:
            _Echo(error=error).fit(X)
        assert raised.value is error
        with pytest.raises(RuntimeError) as raised:
            _Echo(error=error).score(X)
        assert raised.value is error
        import sklearn.metrics

        with pytest.raises(ValueError):
            sklearn.metrics.accuracy_score([0, 1], [0, 1, 1])  # sklearn's own validation
        # Pipeline.score is available_if(final step has score): still checked while patched
        assert not hasattr(make_pipeline(StandardScaler()), "score")
        assert hasattr(make_pipeline(StandardScaler(), LogisticRegression()), "score")
    finally:
        session.end()


def test_a_wrapped_metric_pickles_as_the_original(run: api.ActiveRun) -> None:
    import sklearn.metrics
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import cross_val_score

    original = sklearn.metrics.f1_score
    X, y = _cls_data()
    session = begin(run, {})
    assert session is not None
    try:
        wrapped = sklearn.metrics.f1_score
        assert wrapped is not original
        assert inspect.signature(wrapped) == inspect.signature(original)
        pickled = pickle.dumps(wrapped)  # as the original: nothing of jupyter_mltrack in it
        scorer = make_scorer(wrapped)  # a copy of the wrapper that outlives the session
        # joblib's process workers are sent a scorer built from the wrapper
        scores = cross_val_score(
            LogisticRegression(), X, y, cv=2, scoring=make_scorer(wrapped), n_jobs=2
        )
    finally:
        session.end()
    assert sklearn.metrics.f1_score is original
    assert pickle.loads(pickled) is original
    assert b"jupyter_mltrack" not in pickled
    # once the original is back, the copy still pickles (joblib.dump of a fitted search)
    assert pickle.loads(pickle.dumps(scorer))._score_func is original
    assert len(scores) == 2
    assert "f1_score" not in recorded(run).run.metrics  # inside cross_val_score


@pytest.mark.parametrize("kind", ["random", "halving"])
def test_other_search_estimators(run: api.ActiveRun, kind: str) -> None:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV

    X, y = _cls_data()
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    search: Any = (
        RandomizedSearchCV(LogisticRegression(), grid, n_iter=3, cv=3, random_state=0)
        if kind == "random"
        else HalvingGridSearchCV(LogisticRegression(), grid, cv=3, min_resources=30)
    )
    session = begin(run, {})
    assert session is not None
    try:
        search.fit(X, y)
    finally:
        session.end()
    detail = recorded(run)
    assert detail.run.params["best_C"] == search.best_params_["C"]
    assert detail.run.metrics["best_score"] == pytest.approx(search.best_score_)
    means = search.cv_results_["mean_test_score"]
    points = series(detail, "mean_test_score")
    assert [s for s, _ in points] == [i for i, v in enumerate(means) if np.isfinite(v)]
    assert [v for _, v in points] == pytest.approx([v for v in means if np.isfinite(v)])


def test_metric_names_follow_the_first_data_argument(run: api.ActiveRun) -> None:
    import sklearn.metrics as metrics  # the module's attributes are what a session wraps
    import sklearn.model_selection as selection

    X, y = make_regression(n_samples=120, n_features=4, noise=0.5, random_state=0)
    y_a, y_b = y[:60], y[60:]
    session = begin(run, {})
    assert session is not None
    try:
        model = Ridge().fit(X, y)
        pred_a, pred_b = model.predict(X[:60]), model.predict(X[60:])
        metrics.r2_score(y_a, pred_a)
        metrics.r2_score(y_b, pred_b)
        metrics.r2_score(y_a, pred_a)
        metrics.mean_squared_error(y_true=y_b, y_pred=pred_b)  # the first parameter's value
        selection.cross_validate(Ridge(), X, y, cv=3, return_train_score=True)
    finally:
        session.end()
    detail = recorded(run)
    assert [s for s, _ in series(detail, "r2_score")] == [0, 1]
    assert [s for s, _ in series(detail, "r2_score_y_b")] == [0]
    assert "mean_squared_error" in detail.run.metrics
    for key in ("test_score", "train_score"):
        assert f"cross_validate_{key}_mean" in detail.run.metrics
        assert f"cross_validate_{key}_std" in detail.run.metrics
    assert detail.run.params["alpha"] == 1.0


def _one_fit(detail: Any) -> dict[str, Any]:
    """The params of the run's only recorded fit, checking there was exactly one."""
    assert [key for key in detail.run.metrics if key.endswith("fit_time")] == ["fit_time"]
    assert len(series(detail, "fit_time")) == 1
    assert not any("." in key for key in detail.run.params), detail.run.params
    return detail.run.params


def test_fit_predict_records_the_estimator_called_not_the_kmeans_inside(
    run: api.ActiveRun,
) -> None:
    from sklearn.datasets import make_blobs
    from sklearn.mixture import GaussianMixture

    X, _ = make_blobs(n_samples=90, random_state=0)
    session = begin(run, {})
    assert session is not None
    try:
        model = GaussianMixture(n_components=3, covariance_type="tied", random_state=0)
        labels = model.fit_predict(X)
    finally:
        session.end()
    assert len(labels) == 90
    params = _one_fit(recorded(run))
    assert params["n_components"] == 3 and params["covariance_type"] == "tied"
    assert "n_clusters" not in params and "algorithm" not in params  # KMeans's


@pytest.mark.parametrize(
    "make, method, want",
    [
        ("pipeline", "fit_transform", {"pca__n_components": 2, "standardscaler__with_std": True}),
        ("scaler", "fit_transform", {"with_mean": False}),  # TransformerMixin: calls fit
        ("kmeans", "fit_predict", {"n_clusters": 4}),  # calls fit
        ("lof", "fit_predict", {"n_neighbors": 5}),  # available_if
    ],
)
def test_fit_transform_and_fit_predict_record_one_fit(
    run: api.ActiveRun, make: str, method: str, want: dict[str, Any]
) -> None:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.neighbors import LocalOutlierFactor

    X, _ = _cls_data()
    model = {
        "pipeline": lambda: make_pipeline(StandardScaler(), PCA(n_components=2)),
        "scaler": lambda: StandardScaler(with_mean=False),
        "kmeans": lambda: KMeans(n_clusters=4, n_init=1, random_state=0),
        "lof": lambda: LocalOutlierFactor(n_neighbors=5),
    }[make]()
    session = begin(run, {})
    assert session is not None
    try:
        out = getattr(model, method)(X)
    finally:
        session.end()
    assert len(out) == len(X)
    params = _one_fit(recorded(run))
    assert {key: params[key] for key in want} == want


def test_a_transformer_defined_during_the_session(run: api.ActiveRun) -> None:
    """scikit-learn's ``set_output`` wraps the class's ``fit_transform`` after the session
    patched it: the call is still the user's, and recorded once."""
    from sklearn.base import TransformerMixin

    X, _ = _cls_data()
    session = begin(run, {})
    assert session is not None
    try:

        class Scale(TransformerMixin, BaseEstimator):
            def __init__(self, factor: float = 2.0) -> None:
                self.factor = factor

            def fit(self, X: Any, y: Any = None) -> Any:
                return self

            def transform(self, X: Any) -> Any:
                return np.asarray(X) * self.factor

            def fit_transform(self, X: Any, y: Any = None) -> Any:
                return self.fit(X).transform(X)

        out = Scale(factor=3.0).fit_transform(X)
    finally:
        session.end()
    assert out == pytest.approx(X * 3.0)
    assert _one_fit(recorded(run))["factor"] == 3.0


class _Wrapping(ClassifierMixin, BaseEstimator):
    """Fits a LogisticRegression inside its own fit (user code called by scikit-learn)."""

    def fit(self, X: Any, y: Any) -> Any:
        self.inner_ = LogisticRegression(max_iter=123).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X: Any) -> Any:
        return self.inner_.predict(X)


def test_what_scikit_learn_fits_and_scores_itself_is_not_recorded(run: api.ActiveRun) -> None:
    """``classification_report`` fits a LabelEncoder (the corpus's ``LabelEncoder.fit_time``),
    ``cross_val_predict`` fits each fold, ``permutation_importance`` calls ``score``: none is
    a call of the user's, and neither is what they call (the LogisticRegression fitted
    inside a fold's ``_Wrapping.fit``)."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import classification_report
    from sklearn.model_selection import cross_val_predict

    X, y = _cls_data()
    fitted = LogisticRegression().fit(X, y)
    session = begin(run, {})
    assert session is not None
    try:
        report = classification_report(y, fitted.predict(X))
        predicted = cross_val_predict(_Wrapping(), X, y, cv=3)
        importances = permutation_importance(fitted, X, y, n_repeats=2, random_state=0)
    finally:
        session.end()
    assert "precision" in report and len(predicted) == len(y)
    assert importances.importances.shape == (X.shape[1], 2)
    detail = recorded(run)
    assert detail.run.params == {} and detail.run.metrics == {}


def test_partial_fit_records_params_once_and_no_training_time(run: api.ActiveRun) -> None:
    from sklearn.linear_model import SGDClassifier

    X, y = _cls_data()
    model = SGDClassifier(alpha=0.001, random_state=0)
    session = begin(run, {})
    assert session is not None
    try:
        for start in range(0, 150, 30):
            assert model.partial_fit(X[start : start + 30], y[start : start + 30], [0, 1]) is model
        assert session.fits["SGDClassifier"]["alpha"] == 0.001
    finally:
        session.end()
    detail = recorded(run)
    assert detail.run.params["alpha"] == 0.001 and detail.run.params["random_state"] == 0
    assert detail.run.metrics == {}  # one batch's time is not a training time


def test_param_values_carry_no_memory_address(run: api.ActiveRun) -> None:
    """The corpus's O3: the same notebook run twice records the same params."""
    import functools

    import scipy.stats
    import sklearn.metrics
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression

    user: dict[str, Any] = {"__name__": "__main__"}  # what a notebook cell defines
    exec("def refit_strategy(results):\n    return 0\nclass Thing:\n    pass\n", user)
    value = _session.param_value
    assert value(user["refit_strategy"]) == "refit_strategy"
    assert value(user["Thing"]) == "Thing"
    assert value(user["Thing"]()) == "<__main__.Thing object>"
    assert value(f_classif) == "sklearn.feature_selection.f_classif"  # not its private module
    assert value(np.mean) == "numpy.mean"
    assert value(LogisticRegression) == "sklearn.linear_model.LogisticRegression"
    assert value(np.random.RandomState(0)) == value(np.random.RandomState(1)) == "RandomState"
    assert value(np.random.default_rng(0)) == "Generator(PCG64)"
    assert value(scipy.stats.randint(1, 6)) == "randint(1, 6)"
    assert value(scipy.stats.norm(loc=np.float64(1.5), scale=2)) == "norm(loc=1.5, scale=2)"
    assert value({"max_features": scipy.stats.randint(1, 6), "max_depth": [3, None]}) == (
        "{'max_features': randint(1, 6), 'max_depth': [3, None]}"
    )
    assert value(LogisticRegression(C=2.0)) == "LogisticRegression(C=2.0)"
    nested = value(SelectKBest(f_regression, k=3))
    assert nested == "SelectKBest(k=3, score_func=<function f_regression>)"
    partial = value(functools.partial(user["refit_strategy"], 1))
    assert "refit_strategy" in partial and "0x" not in partial
    long = value([scipy.stats.uniform(0, i) for i in range(200)])
    assert len(long) <= _session._MAX_REPR and "0x" not in long
    session = begin(run, {})
    assert session is not None
    try:  # the session's wrapper of a metric is named as the metric
        assert value(sklearn.metrics.accuracy_score) == "sklearn.metrics.accuracy_score"
    finally:
        session.end()


def _pick_first(results: Any) -> int:
    return 0


def test_a_search_records_readable_params(run: api.ActiveRun) -> None:
    import scipy.stats
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.model_selection import RandomizedSearchCV

    X, y = _cls_data()
    search = RandomizedSearchCV(
        make_pipeline(SelectKBest(f_classif, k=4), LogisticRegression()),
        {"logisticregression__C": scipy.stats.loguniform(0.01, 10)},
        n_iter=2,
        cv=2,
        random_state=np.random.RandomState(0),
        refit=_pick_first,
    )
    session = begin(run, {})
    assert session is not None
    try:
        search.fit(X, y)
    finally:
        session.end()
    params = recorded(run).run.params
    assert params["refit"] == f"{__name__}._pick_first"
    assert params["random_state"] == "RandomState"
    assert params["param_distributions"] == "{'logisticregression__C': loguniform(0.01, 10)}"
    assert params["estimator__selectkbest__score_func"] == "sklearn.feature_selection.f_classif"
    assert not [v for v in params.values() if isinstance(v, str) and "0x" in v], params


def test_xgboost_training_curves(run: api.ActiveRun) -> None:
    import xgboost as xgb

    X, y = _cls_data()
    dtrain, dvalid = xgb.DMatrix(X[:100], label=y[:100]), xgb.DMatrix(X[100:], label=y[100:])
    session = begin(run, {})
    assert session is not None
    try:
        booster = xgb.train(
            {"objective": "binary:logistic", "eta": 0.3, "eval_metric": "logloss"},
            dtrain,
            num_boost_round=30,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            early_stopping_rounds=3,
            verbose_eval=False,
        )
        clf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(
            X[:100], y[:100], eval_set=[(X[100:], y[100:])], verbose=False
        )
    finally:
        session.end()
    assert isinstance(booster, xgb.Booster) and xgb.train is xgb.training.train
    detail = recorded(run)
    valid = series(detail, "valid-logloss")
    assert [s for s, _ in valid] == list(range(booster.num_boosted_rounds()))
    assert len(series(detail, "train-logloss")) == len(valid)
    assert detail.run.metrics["best_iteration"] == booster.best_iteration
    assert detail.run.params["xgboost.eta"] == 0.3  # two owners: xgboost and XGBClassifier
    assert detail.run.params["XGBClassifier.max_depth"] == 2
    curve = clf.evals_result()["validation_0"]["logloss"]
    assert [v for _, v in series(detail, "validation_0-logloss")] == pytest.approx(curve)


def test_lightgbm_training_curves(run: api.ActiveRun, sqlite_store: Store) -> None:
    import lightgbm as lgb

    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    callbacks: list[Any] = [lgb.early_stopping(3, verbose=False)]
    session = begin(run, {})
    assert session is not None
    try:
        booster = lgb.train(
            {"objective": "regression", "learning_rate": 0.2, "verbose": -1},
            lgb.Dataset(X[:150], y[:150]),
            num_boost_round=40,
            valid_sets=[lgb.Dataset(X[150:], y[150:])],
            callbacks=callbacks,
        )
    finally:
        session.end()
    assert isinstance(booster, lgb.Booster) and len(callbacks) == 1  # the user's list as it was
    assert lgb.train is lgb.engine.train
    detail = recorded(run)
    curve = series(detail, "valid_0-l2")
    assert [s for s, _ in curve] == list(range(len(curve)))
    assert len(curve) >= booster.best_iteration > 0
    assert detail.run.metrics["best_iteration"] == booster.best_iteration
    assert detail.run.params["learning_rate"] == 0.2

    second = new_run(sqlite_store)
    session = begin(second, {})
    assert session is not None
    try:
        reg = lgb.LGBMRegressor(n_estimators=6, verbose=-1).fit(
            X[:150], y[:150], eval_set=[(X[150:], y[150:])]
        )
    finally:
        session.end()
    detail = recorded(second)
    want = reg.evals_result_["valid_0"]["l2"]
    assert [v for _, v in series(detail, "valid_0-l2")] == pytest.approx(want)
    assert detail.run.params["n_estimators"] == 6
    assert len(series(detail, "fit_time")) == 1  # LGBMModel.fit inside it is not counted


def test_nothing_is_patched_without_a_session(run: api.ActiveRun) -> None:
    import sklearn.metrics

    meta_path = list(sys.meta_path)
    fit, accuracy = LogisticRegression.fit, sklearn.metrics.accuracy_score
    session = begin(run, {})
    assert session is not None
    assert begin(run, {}) is None  # one session at a time (a cell running a tracked cell)
    assert LogisticRegression.fit is not fit and sklearn.metrics.accuracy_score is not accuracy
    session.end()
    session.end()  # idempotent
    assert _session.current() is None
    assert LogisticRegression.fit is fit and sklearn.metrics.accuracy_score is accuracy
    assert sys.meta_path == meta_path
    assert "__init_subclass__" not in BaseEstimator.__dict__
    assert not mltrack.autolog.enabled()  # start_run runs autolog only after autolog()


def test_sessions_reuse_their_wrappers(run: api.ActiveRun) -> None:
    """What keeps a session cheap (its cost is measured by ``python -m bench --only
    coldstart``, not asserted here): the wrappers are built once per process, so a second
    session installs the very same objects, and it leaves the originals behind as the first
    did."""
    import lightgbm  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.metrics
    import xgboost  # noqa: F401

    original_metric = sklearn.metrics.accuracy_score
    original_fit = LogisticRegression.__dict__["fit"]
    seen = []
    for _ in range(2):
        session = begin(run, {})
        assert session is not None
        try:
            seen.append((sklearn.metrics.accuracy_score, LogisticRegression.__dict__["fit"]))
        finally:
            session.end()
        assert sklearn.metrics.accuracy_score is original_metric
        assert LogisticRegression.__dict__["fit"] is original_fit
    (metric1, fit1), (metric2, fit2) = seen
    assert metric1 is metric2 and metric1 is not original_metric
    assert fit1 is fit2 and fit1 is not original_fit


def test_a_method_replaced_between_sessions_is_planned_again(sqlite_store: Store) -> None:
    """Each class's patch plan is made once per process; a class whose ``fit`` the user
    replaced after a session (a notebook redefining a method) is planned again, so the next
    session wraps and calls the new ``fit``, and restores it after."""
    from sklearn.base import BaseEstimator

    class Doubler(BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> Any:
            self.factor_ = 2
            return self

    for factor in (2, 3):
        if factor == 3:

            def fit(self: Any, X: Any, y: Any = None) -> Any:
                self.factor_ = 3
                return self

            Doubler.fit = fit
        current = Doubler.__dict__["fit"]
        active = api.start_run(experiment=f"replanned-{factor}", store=sqlite_store)
        session = begin(active, {})
        assert session is not None
        try:
            assert Doubler.__dict__["fit"] is not current
            assert Doubler().fit([[1.0]]).factor_ == factor
        finally:
            session.end()
            active.end()
        assert Doubler.__dict__["fit"] is current
        api.wait_pending()
        detail = sqlite_store.get_run_detail(active.id)
        assert "fit_time" in detail.run.metrics, detail.run.metrics


def test_end_restores_a_namespace_holding_none_and_never_raises(
    run: api.ActiveRun, capsys: pytest.CaptureFixture[str]
) -> None:
    """A namespace holds None and other values no wrapper has (the corpus's F4: restoring
    once met ``None.__wrapped__`` and failed the run)."""
    import sklearn.metrics

    original = sklearn.metrics.accuracy_score
    namespace: dict[str, Any] = {"nothing": None, "number": 3, "accuracy_score": original}
    session = begin(run, namespace)
    assert session is not None
    assert namespace["accuracy_score"] is not original
    session.end()
    assert namespace == {"nothing": None, "number": 3, "accuracy_score": original}
    assert namespace["accuracy_score"] is original
    assert "mltrack" not in capsys.readouterr().err


def test_restoring_left_for_later_is_done_before_the_next_session(run: api.ActiveRun) -> None:
    """In a kernel, a tracked cell's session leaves undoing its patches for after the cell's
    reply (``Session.end(later=...)``). Until then the wrappers call straight through; a
    session that begins first undoes them itself before patching, so nothing is wrapped
    twice, and the restoring queued earlier is then a no-op."""
    import sklearn.metrics

    fit, accuracy = LogisticRegression.__dict__["fit"], sklearn.metrics.accuracy_score
    queued: list[Any] = []
    first = begin(run, {})
    assert first is not None
    first.end(later=queued.append)
    assert len(queued) == 1 and LogisticRegression.__dict__["fit"] is not fit  # still patched
    X, y = _cls_data()
    model = LogisticRegression().fit(X, y)  # no session: straight through, nothing recorded
    assert sklearn.metrics.accuracy_score(y, model.predict(X)) > 0.5
    second = begin(run, {})
    assert second is not None
    try:
        patched = LogisticRegression.__dict__["fit"]
        assert patched is not fit and getattr(patched, "__wrapped__", None) is fit
    finally:
        second.end()
    assert LogisticRegression.__dict__["fit"] is fit and sklearn.metrics.accuracy_score is accuracy
    queued[0]()  # the restoring queued by the first session: already done, changes nothing
    assert LogisticRegression.__dict__["fit"] is fit and sklearn.metrics.accuracy_score is accuracy
