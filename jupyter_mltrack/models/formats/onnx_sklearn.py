"""scikit-learn models converted to ONNX (skl2onnx), run back with onnxruntime.

Only on request (``format="onnx"``): conversion covers most but not all estimators, and
the converted model computes in ONNX's own kernels (probabilities may differ in the last
bits). It needs a sample of the input to know the input names and types. The file is
portable and loading it runs no Python code from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._base import SavedModel, Trusted, UnsupportedModelError, class_path, from_library

NAME = "onnx"
FILE = "model.onnx"

_NUMPY_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


def save(model: Any, folder: Path, *, sample: Any = None) -> SavedModel:
    if not from_library(model, "sklearn"):
        raise UnsupportedModelError(
            f"format='onnx' converts scikit-learn models (with skl2onnx); "
            f"{type(model).__qualname__} is not one"
        )
    if sample is None:
        raise ValueError(
            "format='onnx' needs sample=X (a few rows of the model's input, as it is "
            "given to predict) to know the input names and types"
        )
    import onnx
    import skl2onnx
    import sklearn
    from sklearn.base import is_classifier

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    # probabilities as one array, not the default list of {class: p} dicts
    options = {id(final): {"zipmap": False}} if is_classifier(final) else None
    head = sample.iloc[:1] if hasattr(sample, "iloc") else _first_rows(sample)
    converted = skl2onnx.to_onnx(model, X=head, options=options)
    (folder / FILE).write_bytes(converted.SerializeToString())
    return SavedModel(
        format=NAME,
        flavor="onnx",
        library_version=onnx.__version__,
        load_info={
            "file": FILE,
            "inputs": [i.name for i in converted.graph.input],
            "outputs": [o.name for o in converted.graph.output],
            "opsets": {(o.domain or "ai.onnx"): o.version for o in converted.opset_import},
            "source_flavor": "sklearn",
            "source_version": sklearn.__version__,
            "source_class": class_path(type(model)),
            "converter": f"skl2onnx {skl2onnx.__version__}",
        },
    )


def _first_rows(sample: Any) -> Any:
    import numpy as np

    return np.asarray(sample)[:1]


def load(folder: Path, info: SavedModel, *, trusted: Trusted, model: Any = None) -> OnnxModel:
    # no version warning: an ONNX file states the opsets it needs and onnxruntime checks them
    import onnxruntime

    path = folder / str(info.load_info.get("file", FILE))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return OnnxModel(session)


class OnnxModel:
    """An onnxruntime session that predicts like the estimator it was converted from.

    ``predict(X)`` returns the first output (labels or values), ``predict_proba(X)`` the
    second (a classifier's probabilities). X is what the estimator took: a DataFrame (one
    ONNX input per column, as skl2onnx makes them) or an array.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self.inputs = [(i.name, _NUMPY_TYPES.get(i.type, "float32")) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]

    def run(self, X: Any) -> list[Any]:
        """Every output of the model for ``X``."""
        return self.session.run(None, self._feeds(X))

    def predict(self, X: Any) -> Any:
        return self.run(X)[0]

    def predict_proba(self, X: Any) -> Any:
        if len(self.output_names) < 2:
            raise AttributeError("this ONNX model has no probabilities output")
        return self.run(X)[1]

    def _feeds(self, X: Any) -> dict[str, Any]:
        import numpy as np

        if isinstance(X, dict):
            return {name: np.asarray(X[name]).astype(dtype) for name, dtype in self.inputs}
        if len(self.inputs) == 1:
            name, dtype = self.inputs[0]
            values = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
            return {name: _cast(values, dtype)}
        if not hasattr(X, "columns"):
            names = ", ".join(name for name, _ in self.inputs)
            raise TypeError(
                f"this ONNX model takes one input per column ({names}): pass a DataFrame"
            )
        return {
            name: _cast(X[name].to_numpy().reshape(-1, 1), dtype) for name, dtype in self.inputs
        }

    def __repr__(self) -> str:
        return f"OnnxModel(inputs={[n for n, _ in self.inputs]}, outputs={self.output_names})"


def _cast(values: Any, dtype: str) -> Any:
    if dtype == "object":  # onnxruntime's strings are a numpy object array of str
        return values.astype(str).astype(object)
    return values.astype(dtype)
