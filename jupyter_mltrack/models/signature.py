"""A model's signature: what it takes, what it returns, and a few real examples of both.

Stored as JSON in the model artifact's meta, so a reader (the registry page, a serving
script, a colleague) can see the expected columns and dtypes and call the model on real
rows without the training data. Everything here is JSON-safe (no NaN, no numpy scalars):
missing values are ``null``, infinities use ``jsonsafe``'s markers. The examples round-trip:
``examples_input`` rebuilds a DataFrame with the same column names and dtypes (categorical,
datetime with time zone, nullable and string dtypes included), an array with the same dtype,
a tensor, or a list. A DataFrame's index is not kept (the rebuilt frame has a RangeIndex).

The JSON is capped at ``MAX_JSON_BYTES``: wide or long rows keep fewer examples (the
signature then says so under ``"truncated"``), never a cut-off row.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from ..jsonsafe import to_json

#: Largest signature, as UTF-8 JSON; rows of examples are dropped to fit.
MAX_JSON_BYTES = 64 * 1024
_NAN = {"$type": "float", "value": "nan"}


def infer_signature(sample: Any, model: Any = None, *, rows: int = 5) -> dict[str, Any]:
    """The signature of ``model`` for inputs like ``sample``.

    ``sample``: a pandas DataFrame or Series, a numpy array, a torch tensor, or a list (of
    rows, strings, ...). Keys: ``"inputs"`` (columns with dtypes, or shape and dtype),
    ``"examples"`` (the first ``rows`` rows), ``"outputs"`` (what ``predict`` returned for
    them: shape and dtype), ``"predictions"`` and, for classifiers, ``"probabilities"`` on
    those rows, ``"rows"`` (examples kept), ``"truncated"`` (null, or why fewer rows were
    kept), ``"prediction_error"`` (null, or why the model could not predict: the signature is
    still useful without predictions, so that is not an error here).
    """
    kind = _kind(sample)
    count = min(max(int(rows), 1), len(sample))
    head = _head(sample, count)
    signature: dict[str, Any] = {
        "inputs": _describe(sample, kind),
        "outputs": None,
        "examples": _encode(head, kind),
        "predictions": None,
        "probabilities": None,
        "rows": count,
        "truncated": None,
        "prediction_error": None,
    }
    if model is not None and count:
        try:
            output = predict(model, head)
            signature["outputs"] = _describe_output(output)
            signature["predictions"] = _encode_output(output)
            signature["probabilities"] = _probabilities(model, head)
        except Exception as exc:  # a model that cannot predict the sample still has inputs
            signature["prediction_error"] = f"{type(exc).__name__}: {exc}"[:500]
    return _capped(signature)


def examples_input(signature: dict[str, Any]) -> Any:
    """The signature's examples as the model takes them: a DataFrame (same columns and
    dtypes), Series, numpy array, torch tensor or list, like the sample they came from."""
    examples = signature.get("examples")
    if not examples:
        reason = (signature.get("truncated") or {}).get("reason")
        raise ValueError("this signature keeps no examples" + (f" ({reason})" if reason else ""))
    kind = examples["type"]
    data = examples["data"]
    inputs = signature["inputs"]
    if kind == "dataframe":
        import pandas as pd

        specs = inputs["columns"]
        columns = {
            i: _decode_column([row[i] for row in data], spec) for i, spec in enumerate(specs)
        }
        frame = pd.DataFrame(columns, index=pd.RangeIndex(len(data)))
        frame.columns = [_name(spec["name"]) for spec in specs]
        return frame
    if kind == "series":
        series = _decode_column(data, inputs)
        series.name = _name(inputs.get("name"))
        return series
    if kind in ("ndarray", "tensor"):
        array = _decode_array(data, inputs["dtype"] if kind == "ndarray" else _numpy_twin(inputs))
        if kind == "ndarray":
            return array
        import torch

        return torch.as_tensor(array).to(getattr(torch, inputs["dtype"]))
    return [_decode_nested(item) for item in data]


#: the contract's first name for ``examples_input``
examples_frame = examples_input


def predict(model: Any, X: Any) -> Any:
    """``model``'s predictions for ``X``, whatever the library.

    torch modules: a forward pass in eval mode (restored after) without gradients, on a
    tensor made from X with the parameters' float dtype and device, returned as numpy.
    Keras: ``predict(X, verbose=0)``. An XGBoost Booster: on a ``DMatrix``. Anything else
    with ``predict`` (scikit-learn, the ONNX wrapper, wrappers of the boosting libraries):
    that; else a callable is called.
    """
    modules = {(getattr(c, "__module__", "") or "").partition(".")[0] for c in type(model).__mro__}
    if "keras" in modules:  # before torch: on the torch backend a Keras model is a Module
        return model.predict(X, verbose=0)
    if "torch" in modules and hasattr(model, "parameters") and hasattr(model, "train"):
        return _torch_forward(model, X)
    if "xgboost" in modules and type(model).__name__ == "Booster":
        import xgboost

        return model.predict(xgboost.DMatrix(X))
    if hasattr(model, "predict"):
        return model.predict(X)
    if callable(model):
        return model(X)
    raise TypeError(f"{type(model).__qualname__} has no predict method and is not callable")


def predictions(model: Any, X: Any) -> dict[str, Any]:
    """``{"predictions", "probabilities"}``: ``model``'s on ``X``, encoded as a signature
    keeps them (JSON-safe), so that they compare with a signature's recorded ones (``mltrack
    reproduce`` does, for a model its pipeline trained again). ``probabilities`` is ``None``
    for a model without ``predict_proba``."""
    return {
        "predictions": _encode_output(predict(model, X)),
        "probabilities": _probabilities(model, X),
    }


def _torch_forward(model: Any, X: Any) -> Any:
    import numpy as np
    import torch

    if isinstance(X, torch.Tensor):
        tensor = X
    else:
        tensor = torch.as_tensor(X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X))
    parameter = next(iter(model.parameters()), None)
    if parameter is not None:
        if tensor.is_floating_point() and parameter.is_floating_point():
            tensor = tensor.to(dtype=parameter.dtype)
        tensor = tensor.to(parameter.device)
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(tensor)
    finally:
        model.train(training)
    return _tensors_to_numpy(output)


def _tensors_to_numpy(value: Any) -> Any:
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    if isinstance(value, tuple | list):
        return type(value)(_tensors_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _tensors_to_numpy(v) for k, v in value.items()}
    return value


def _probabilities(model: Any, X: Any) -> Any:
    """A classifier's class probabilities, when it has them (SVC without probability=True
    does not: ``hasattr`` is False, or the call raises)."""
    if not hasattr(model, "predict_proba"):
        return None
    try:
        return _encode_output(model.predict_proba(X))
    except Exception:
        return None


# --- kinds of samples ---------------------------------------------------------------------


def _kind(sample: Any) -> str:
    module = type(sample).__module__.partition(".")[0]
    name = type(sample).__name__
    if module == "pandas" and name in ("DataFrame", "Series"):
        return name.lower()
    if module == "numpy" and name == "ndarray":
        if sample.ndim == 0:
            raise TypeError("a signature needs rows: the sample is a 0-d array")
        return "ndarray"
    if module == "torch" and hasattr(sample, "detach"):
        if sample.dim() == 0:
            raise TypeError("a signature needs rows: the sample is a 0-d tensor")
        return "tensor"
    if isinstance(sample, list | tuple):
        return "list"
    raise TypeError(
        f"cannot infer a signature from a {type(sample).__qualname__}: give a pandas "
        "DataFrame or Series, a numpy array, a torch tensor or a list"
    )


def _head(sample: Any, count: int) -> Any:
    if hasattr(sample, "iloc"):
        return sample.iloc[:count]
    if isinstance(sample, tuple):
        return list(sample[:count])
    return sample[:count]


def _describe(sample: Any, kind: str) -> dict[str, Any]:
    if kind == "dataframe":
        return {
            "type": "dataframe",
            "columns": [
                _column_spec(sample.columns[i], sample.dtypes.iloc[i])
                for i in range(sample.shape[1])
            ],
        }
    if kind == "series":
        return {"type": "series", **_column_spec(sample.name, sample.dtype)}
    if kind == "ndarray":
        return {"type": "ndarray", "shape": [None, *sample.shape[1:]], "dtype": str(sample.dtype)}
    if kind == "tensor":
        dtype = str(sample.dtype).removeprefix("torch.")
        return {"type": "tensor", "shape": [None, *sample.shape[1:]], "dtype": dtype}
    first = sample[0] if len(sample) else None
    return {"type": "list", "item_type": type(first).__name__ if len(sample) else None}


def _column_spec(name: Any, dtype: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": to_json(name), "dtype": str(dtype)}
    if str(dtype) == "category":
        spec["categories"] = [_leaf(c) for c in dtype.categories.tolist()]
        spec["categories_dtype"] = str(dtype.categories.dtype)
        spec["ordered"] = bool(dtype.ordered)
    return spec


def _describe_output(output: Any) -> dict[str, Any]:
    module = type(output).__module__.partition(".")[0]
    if module == "pandas" and type(output).__name__ == "DataFrame":
        return _describe(output, "dataframe")
    if module == "pandas" and type(output).__name__ == "Series":
        return _describe(output, "series")
    if hasattr(output, "shape") and hasattr(output, "dtype"):
        return {"type": "ndarray", "shape": [None, *output.shape[1:]], "dtype": str(output.dtype)}
    if isinstance(output, tuple | list | dict):
        items = output.values() if isinstance(output, dict) else output
        described = [_describe_output(o) for o in items]
        if isinstance(output, dict):
            return {"type": "dict", "items": dict(zip(output, described, strict=True))}
        return {"type": type(output).__name__, "items": described}
    return {"type": type(output).__qualname__}


# --- encoding -----------------------------------------------------------------------------


def _encode(head: Any, kind: str) -> dict[str, Any]:
    if kind == "dataframe":
        columns = [_encode_column(head.iloc[:, i]) for i in range(head.shape[1])]
        data = [list(row) for row in zip(*columns, strict=True)] if columns else []
        if not columns:
            data = [[] for _ in range(len(head))]
        return {"type": kind, "columns": [to_json(c) for c in head.columns], "data": data}
    if kind == "series":
        return {"type": kind, "data": _encode_column(head)}
    if kind == "tensor":
        import torch

        head = head.detach().cpu()
        if head.dtype == torch.bfloat16:  # numpy has no bfloat16: its values as float32
            head = head.float()
        return {"type": kind, "data": _encode_array(head.numpy())}
    if kind == "ndarray":
        return {"type": kind, "data": _encode_array(head)}
    return {"type": kind, "data": [_nested(item) for item in head]}


def _encode_output(output: Any) -> Any:
    module = type(output).__module__.partition(".")[0]
    if module == "pandas" and type(output).__name__ == "DataFrame":
        return _encode(output, "dataframe")
    if module == "pandas" and type(output).__name__ == "Series":
        return _encode_column(output)
    if module == "numpy" and type(output).__name__ == "ndarray":
        return _encode_array(output)
    if isinstance(output, dict):
        return {str(k): _encode_output(v) for k, v in output.items()}
    if isinstance(output, tuple | list):
        return [_encode_output(v) for v in output]
    return _nested(output)


def _encode_column(series: Any) -> list[Any]:
    kind = getattr(series.dtype, "kind", "O")
    if str(series.dtype) != "category" and kind in "Mm":
        # ISO 8601 (with the UTC offset for time zones), or pandas' timedelta text
        convert = (lambda v: v.isoformat()) if kind == "M" else str
        return [None if _missing(v) else convert(v) for v in series.tolist()]
    return [_leaf(v) for v in series.tolist()]


def _encode_array(array: Any) -> list[Any]:
    import numpy as np

    if array.dtype.kind == "M":
        return np.datetime_as_string(array).tolist()
    if array.dtype.kind == "m":
        return _nested(array.astype("int64").tolist())
    return _nested(array.tolist())


def _nested(value: Any) -> Any:
    """Lists walked here (jsonsafe would cut them at 1,000 items), leaves made JSON-safe."""
    if isinstance(value, list | tuple):
        return [_nested(v) for v in value]
    return _leaf(value)


def _leaf(value: Any) -> Any:
    if _missing(value):
        return None
    out = to_json(value)
    return None if out == _NAN else out


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    name = type(value).__name__
    return name in ("NAType", "NaTType") or (
        name in ("float32", "float16", "datetime64", "timedelta64") and value != value
    )


# --- decoding -----------------------------------------------------------------------------


def _decode_leaf(value: Any) -> Any:
    """The value behind one of jsonsafe's markers; anything else as it is."""
    if not (isinstance(value, dict) and "$type" in value):
        return value
    kind = value["$type"]
    if kind == "float":
        return float(value["value"])  # "inf", "-inf", "nan"
    if kind == "int":
        return int(value["value"])
    if kind in ("datetime", "date", "time"):
        return getattr(_dt, kind).fromisoformat(value["value"])
    if kind == "timedelta":
        return _dt.timedelta(seconds=value["seconds"])
    if kind == "bytes" and "hex" in value:
        return bytes.fromhex(value["hex"])
    return value


def _decode_nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_nested(v) for v in value]
    return _decode_leaf(value)


def _decode_column(values: list[Any], spec: dict[str, Any]) -> Any:
    import pandas as pd

    values = [_decode_leaf(v) for v in values]
    dtype = spec["dtype"]
    if dtype == "category":
        categories = pd.Index(
            [_decode_leaf(c) for c in spec["categories"]], dtype=spec.get("categories_dtype")
        )
        return pd.Series(pd.Categorical(values, categories=categories, ordered=spec["ordered"]))
    raw = pd.Series(values, dtype=object)
    try:
        target = pd.api.types.pandas_dtype(dtype)
        if isinstance(target, pd.DatetimeTZDtype):
            return (
                pd.to_datetime(raw, utc=True, format="ISO8601")
                .dt.tz_convert(target.tz)
                .astype(target)
            )
        if target.kind == "M":
            return pd.to_datetime(raw, format="ISO8601").astype(target)
        if target.kind == "m":
            return pd.to_timedelta(raw).astype(target)
        return raw.astype(target)
    except (TypeError, ValueError):  # a dtype pandas cannot rebuild from values: as objects
        return raw


def _decode_array(data: list[Any], dtype: str) -> Any:
    import numpy as np

    target = np.dtype(dtype)
    if target.kind == "m":
        return np.array(data, dtype="int64").astype(target)
    if target.kind == "O":
        decoded = _decode_nested(data)
        array = np.empty(len(decoded), dtype=object)
        array[:] = decoded  # one object per row, even when rows are lists
        return array
    return np.array(_decode_nested(data), dtype=target)  # None becomes NaN for floats


def _numpy_twin(inputs: dict[str, Any]) -> str:
    """The numpy dtype a tensor's examples were stored as (bfloat16 went through float32)."""
    return "float32" if inputs["dtype"] == "bfloat16" else inputs["dtype"]


def _name(name: Any) -> Any:
    """A column name as pandas had it (a MultiIndex's tuples came back as JSON lists)."""
    return tuple(_name(n) for n in name) if isinstance(name, list) else _decode_leaf(name)


# --- the size cap -------------------------------------------------------------------------


def _capped(signature: dict[str, Any]) -> dict[str, Any]:
    """Fewer rows until the JSON fits in ``MAX_JSON_BYTES``; none at all if one is too big."""
    requested = signature["rows"]
    count = requested
    while _size(signature) > MAX_JSON_BYTES and count > 1:
        previous, count = count, max(1, count // 2)
        _keep_rows(signature, previous, count)
    reason = None
    if _size(signature) > MAX_JSON_BYTES:
        count = 0
        for key in ("examples", "predictions", "probabilities"):
            signature[key] = None
        reason = f"one example row is more than {MAX_JSON_BYTES // 1024} KB of JSON"
    elif count < requested:
        reason = f"{requested} example rows are more than {MAX_JSON_BYTES // 1024} KB of JSON"
    if reason:
        signature["rows"] = count
        signature["truncated"] = {
            "requested": requested,
            "kept": count,
            "max_bytes": MAX_JSON_BYTES,
            "reason": reason,
        }
    return signature


def _keep_rows(signature: dict[str, Any], previous: int, count: int) -> None:
    """The first ``count`` of ``previous`` rows, in the examples and in what was predicted."""
    signature["examples"]["data"] = signature["examples"]["data"][:count]
    for key in ("predictions", "probabilities"):
        value = signature[key]
        if isinstance(value, dict) and isinstance(value.get("data"), list):
            value["data"] = value["data"][:count]
        elif isinstance(value, list) and len(value) == previous:
            signature[key] = value[:count]
        elif value is not None:  # not one entry per row: cannot be cut to match
            signature[key] = None


def _size(signature: dict[str, Any]) -> int:
    return len(json.dumps(signature, allow_nan=False, ensure_ascii=False).encode("utf-8"))
