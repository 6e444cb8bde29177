"""A model object's plain attributes as JSON, and back, without pickle.

Some libraries keep a wrapper's fitted state (classes, label encoder, counts) as ordinary
attributes next to a booster they can save on their own. This encodes such attributes when
they are plain data only (numbers, strings, numpy arrays and scalars, dicts, lists, a
scikit-learn LabelEncoder) and refuses anything else, so decoding can never build an
arbitrary object.
"""

from __future__ import annotations

import collections
import math
from typing import Any

TAG = "$t"
_FACTORIES: dict[str, Any] = {
    "dict": dict,
    "OrderedDict": collections.OrderedDict,
    "list": list,
    "int": int,
    "float": float,
}


class NotEncodable(TypeError):
    """An attribute holds something other than plain data."""


def encode(value: Any, where: str = "value") -> Any:
    """JSON-safe form of ``value``; raises ``NotEncodable`` naming the offending attribute."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {TAG: "float", "v": repr(value)}
    module = type(value).__module__
    if module == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufUO":
                raise NotEncodable(f"{where}: a numpy array of dtype {value.dtype}")
            items = [encode(v, where) for v in value.ravel().tolist()]
            return {
                TAG: "ndarray",
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "v": items,
            }
        if isinstance(value, np.generic):
            return {TAG: "np", "dtype": value.dtype.str, "v": encode(value.item(), where)}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "v": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        return _encode_dict(value, where)
    if module.startswith("sklearn.") and type(value).__name__ == "LabelEncoder":
        classes = getattr(value, "classes_", None)
        return {TAG: "LabelEncoder", "classes": None if classes is None else encode(classes)}
    raise NotEncodable(f"{where}: a {module}.{type(value).__qualname__}")


def _encode_dict(value: dict, where: str) -> Any:
    kind = type(value).__name__
    if type(value) is dict and all(isinstance(k, str) and k != TAG for k in value):
        return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    factory = None
    if isinstance(value, collections.defaultdict):
        factory = getattr(value.default_factory, "__name__", None)
        if value.default_factory is not None and factory not in _FACTORIES:
            raise NotEncodable(f"{where}: a defaultdict of {value.default_factory!r}")
    elif type(value) not in (dict, collections.OrderedDict):
        raise NotEncodable(f"{where}: a {type(value).__qualname__}")
    items = [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]
    return {TAG: "dict", "kind": kind, "factory": factory, "v": items}


def decode(value: Any) -> Any:
    """The value ``encode`` was given (numpy arrays and scalars of the same dtype)."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        return {k: decode(v) for k, v in value.items()}
    if tag == "float":
        return float(value["v"])
    if tag == "tuple":
        return tuple(decode(v) for v in value["v"])
    if tag in ("ndarray", "np"):
        import numpy as np

        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            data = np.empty(len(value["v"]), dtype=object)
            data[:] = [decode(v) for v in value["v"]]
        else:
            data = np.array(
                [decode(v) for v in value["v"]] if tag == "ndarray" else decode(value["v"]),
                dtype=dtype,
            )
        return data.reshape(value["shape"]) if tag == "ndarray" else data[()]
    if tag == "dict":
        pairs = [(_hashable(decode(k)), decode(v)) for k, v in value["v"]]
        if value["kind"] == "defaultdict":
            factory = _FACTORIES.get(value["factory"]) if value["factory"] else None
            return collections.defaultdict(factory, pairs)
        return collections.OrderedDict(pairs) if value["kind"] == "OrderedDict" else dict(pairs)
    if tag == "LabelEncoder":
        from sklearn.preprocessing import LabelEncoder

        encoder = LabelEncoder()
        if value["classes"] is not None:
            encoder.classes_ = decode(value["classes"])
        return encoder
    raise ValueError(f"unknown encoded value {tag!r}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list | tuple) else key
