"""Benchmark 11, part c: two models of about 200 MB logged and loaded by ours and MLflow
(``mltrack.log_model``/``load_model`` against ``mlflow.sklearn.log_model``/``load_model`` in
four variants), and the serializers alone: where each tool's time goes. Split from
:mod:`bench.artifacts`, which runs it after parts a and b and reports it.
"""

from __future__ import annotations

import pickle
import time
import warnings
from pathlib import Path
from typing import Any

from bench.artifacts import SEED, Ours, Theirs, Timings, _mb, _row, free_disk


def make_models(p: dict[str, Any]) -> dict[str, Any]:
    """The models of ``p["models"]``, fitted (fit times and pickled sizes recorded), and a
    few rows of their input to check predictions with."""
    import numpy as np
    from sklearn.ensemble import ExtraTreesRegressor
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(SEED)
    n = p["tree_samples"]
    X = rng.normal(size=(n, 8))
    y = 2 * X[:, 0] + np.sin(X[:, 1]) + rng.normal(scale=0.5, size=n)

    def trees() -> Any:
        # grown in full: about 2 nodes per sample per tree, 72 bytes a node
        return ExtraTreesRegressor(n_estimators=p["trees"], n_jobs=2, random_state=0).fit(X, y)

    def mlp() -> Any:
        # one epoch on 400 rows: the weights and Adam's two moments are the size
        net = MLPRegressor(
            hidden_layer_sizes=tuple(p["mlp_layers"]), max_iter=1, batch_size=200, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return net.fit(X[:400], y[:400])

    out: dict[str, Any] = {"sample": X[:5]}
    for key in p["models"]:
        t0 = time.perf_counter()
        model = {"trees": trees, "mlp": mlp}[key]()
        out[key] = {
            "model": model,
            "fit_s": time.perf_counter() - t0,
            "pickle_bytes": len(pickle.dumps(model, protocol=5)),
        }
    return out


#: MLflow's variants: (key, ``log_model`` arguments, loaded too).
#: By default MLflow infers the model's requirements by loading it in a subprocess
#: (about 2 s here); ``pip_requirements`` given skips that: its fastest path of each format.
MLFLOW_MODEL_VARIANTS = (
    ("mlflow_skops", {}, True),
    ("mlflow_skops_reqs", {"pip_requirements": ["scikit-learn", "skops"]}, False),
    ("mlflow_cloudpickle", {"serialization_format": "cloudpickle"}, True),
    (
        "mlflow_cloudpickle_reqs",
        {"serialization_format": "cloudpickle", "pip_requirements": ["scikit-learn"]},
        False,  # it loads as mlflow_cloudpickle does
    ),
)


class ModelBench(Timings):
    """A model logged and loaded by each tool, and the serializers alone."""

    def __init__(
        self, ours: Ours, theirs: Theirs, scratch: Path, model: Any, sample: Any, warmup: int
    ) -> None:
        import skops.io as sio

        super().__init__(warmup)
        self.ours, self.theirs, self.scratch = ours, theirs, scratch
        self.model, self.sample = model, sample
        self.expected = model.predict(sample)
        #: the types skops does not trust by default, which a user allows after checking
        self.untrusted = sio.get_untrusted_types(data=sio.dumps(model))

    def agrees(self, loaded: Any) -> bool:
        import numpy as np

        return bool(np.array_equal(loaded.predict(self.sample), self.expected))

    def mine(self, work: Path) -> None:
        import jupyter_mltrack as mltrack
        from jupyter_mltrack.models.artifacts import folder_sources, write_artifact
        from jupyter_mltrack.models.formats import save_model

        self.ours.fresh_store()
        with self.ours.run():
            info = self.call("ours_log", lambda: mltrack.log_model(self.model))
        with self.ours.run():
            again = self.call("ours_log_second", lambda: mltrack.log_model(self.model))
        stored = self.ours.store().get_artifact(again.run_id, again.name).meta.get("stored_bytes")
        self.checks["second_stored_bytes"] = stored
        loaded = self.call(
            "ours_load", lambda: mltrack.load_model(info.ref, trusted=list(self.untrusted))
        )
        self.checks["ours_predictions_equal"] = self.agrees(loaded)
        self.checks["ours_format"] = info.format
        # where log_model's time goes: the format (skops), then the blob store
        folder = work / "saved"
        folder.mkdir()
        saved = self.call("ours_save_model", lambda: save_model(self.model, folder))
        self.checks["ours_files"] = list(saved.files)
        self.ours.fresh_store()  # its blobs are new there, as on a first log
        with self.ours.run() as run_id:
            self.call(
                "ours_write_artifact",
                lambda: write_artifact(
                    self.ours.store(), run_id, "copy", "model", folder_sources(folder)
                ),
            )

    def theirs_(self, work: Path) -> None:
        import mlflow.sklearn

        for key, kwargs, load in MLFLOW_MODEL_VARIANTS:
            if key.startswith("mlflow_skops"):  # it refuses to log what it would not load
                kwargs = {**kwargs, "skops_trusted_types": list(self.untrusted)}
            with self.theirs.run():
                info = self.call(
                    f"{key}_log",
                    lambda kw=kwargs: mlflow.sklearn.log_model(self.model, name="model", **kw),
                )
            if load:
                loaded = self.call(
                    f"{key}_load", lambda uri=info.model_uri: mlflow.sklearn.load_model(uri)
                )
                self.checks[f"{key}_predictions_equal"] = self.agrees(loaded)

    def serializers(self, work: Path) -> None:
        """The formats alone: skops' steps as our ``save_model`` and ``load_model`` take
        them, and cloudpickle's (files left in the page cache)."""
        import cloudpickle
        import skops.io as sio

        from jupyter_mltrack.models.formats.sklearn_skops import (
            untrusted_in_schema,
            write_canonical,
        )

        skops_file, pickle_file = work / "m.skops", work / "m.pkl"
        data = self.call("skops_dumps", lambda: sio.dumps(self.model))

        def canonical_file() -> tuple[bytes, list[str]]:
            with open(skops_file, "wb") as out:
                return write_canonical(data, out)

        schema, names = self.call("skops_canonical", canonical_file)
        self.call("skops_scan", lambda: untrusted_in_schema(schema, names))
        trusted = list(self.untrusted)
        # an untimed load first: the first load after the dumps took up to twice as long
        # as the next (its 200 MB of arrays into memory just freed by the dumps)
        sio.load(skops_file, trusted=trusted)
        self.call("skops_load", lambda: sio.load(skops_file, trusted=trusted))
        self.call(
            "skops_scan_load",
            lambda: sio.load(skops_file, trusted=sio.get_untrusted_types(file=skops_file)),
        )
        data = self.call("cloudpickle_dumps", lambda: cloudpickle.dumps(self.model))
        pickle_file.write_bytes(data)

        def pickle_load() -> Any:
            with open(pickle_file, "rb") as fh:
                return pickle.load(fh)

        pickle_load()  # untimed, as skops' first load
        self.call("cloudpickle_load", pickle_load)
        self.checks["skops_file_bytes"] = skops_file.stat().st_size
        self.checks["pickle_file_bytes"] = pickle_file.stat().st_size

    def run(self, reps: int) -> dict[str, Any]:
        for rep in range(self.warmup + reps):
            self.rep = rep
            work = self.scratch / f"model{rep}"
            work.mkdir(parents=True)
            for step in (self.mine, self.theirs_) if rep % 2 == 0 else (self.theirs_, self.mine):
                step(work)
            self.serializers(work)
            free_disk(self.scratch, self.ours, self.theirs)  # about 2 GB a repetition
        out = self.summaries()
        out["checks"] = self.checks
        out["untrusted_types"] = list(self.untrusted)
        return out


# the benchmark -------------------------------------------------------------------------------


def model_rows(name: str, m: dict[str, Any]) -> list[str]:
    c = m["checks"]
    second = c.get("second_stored_bytes")
    return [
        f"   {name}: fitted in {m['fit_s']:.1f} s, pickle {_mb(m['pickle_bytes'])},"
        f" skops {_mb(c['skops_file_bytes'])}; skops types off its trusted list:"
        f" {', '.join(m['untrusted_types']) or 'none'}",
        "      log",
        _row("ours  mltrack.log_model(model) (skops) [fsync]", m, "ours_log"),
        _row(
            "MLflow mlflow.sklearn.log_model, skops (its default) [no fsync]",
            m,
            "mlflow_skops_log",
            "ours_log",
        ),
        _row(
            "MLflow skops, pip_requirements given (no inference)",
            m,
            "mlflow_skops_reqs_log",
            "ours_log",
        ),
        _row(
            "MLflow log_model, serialization_format='cloudpickle' (unsafe)",
            m,
            "mlflow_cloudpickle_log",
            "ours_log",
        ),
        _row(
            "MLflow cloudpickle, pip_requirements given (no inference)",
            m,
            "mlflow_cloudpickle_reqs_log",
            "ours_log",
        ),
        _row(
            f"ours  a second log_model of it ({second} bytes stored)",
            m,
            "ours_log_second",
        ),
        "      where our log's time goes",
        _row(
            "save_model(model, folder): skops dumps, canonical, write, scan", m, "ours_save_model"
        ),
        _ms3(
            "  skops dumps / canonical zip written / untrusted types (schema)",
            m,
            ("skops_dumps", "skops_canonical", "skops_scan"),
        ),
        _row("write_artifact of that folder (hash, copy, fsync, rows)", m, "ours_write_artifact"),
        _row("cloudpickle.dumps alone (MLflow's unsafe format)", m, "cloudpickle_dumps"),
        f"      load (predictions equal: ours {c.get('ours_predictions_equal')},"
        f" MLflow {c.get('mlflow_skops_predictions_equal')}"
        f"/{c.get('mlflow_cloudpickle_predictions_equal')})",
        _row("ours  mltrack.load_model(ref, trusted=[…])", m, "ours_load"),
        _row("MLflow mlflow.sklearn.load_model, skops", m, "mlflow_skops_load", "ours_load"),
        _row(
            "MLflow mlflow.sklearn.load_model, cloudpickle (runs code)",
            m,
            "mlflow_cloudpickle_load",
            "ours_load",
        ),
        _ms3(
            "  skops alone: scan, then load(trusted=found) / load(trusted=[…]) (ours)",
            m,
            ("skops_scan_load", "skops_load"),
        ),
        _row("pickle.load alone", m, "cloudpickle_load"),
    ]


def _ms3(label: str, r: dict[str, Any], keys: tuple[str, ...], width: int = 74) -> str:
    """A row of several medians (ms), slash-separated."""
    return f"      {label:<{width}}" + " / ".join(f"{r[k]['median_ms']:.1f}" for k in keys)
