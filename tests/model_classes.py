"""Model classes the model-format tests need importable by path, as a user's own package's
would be (tests/test_model_formats.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """A custom estimator: not on skops' default trusted list, so loading must ask."""

    def __init__(self, column: int = 0, threshold: float = 0.0) -> None:
        self.column = column
        self.threshold = threshold

    def fit(self, X: Any, y: Any) -> ThresholdClassifier:
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Any) -> Any:
        values = np.asarray(X)[:, self.column]
        return self.classes_[(values > self.threshold).astype(int)]


class BuildRecorder(ThresholdClassifier):
    """A ThresholdClassifier that notes when skops builds one from a file (skops calls
    ``__setstate__`` then): a refused load must have built none."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        BUILT.append(type(self).__name__)
        super().__setstate__(state)


#: The classes ``BuildRecorder`` instances were built as, in order.
BUILT: list[str] = []


def signed_log(X: Any) -> Any:
    """A function of the user's own (for a FunctionTransformer): skops lists it too."""
    return np.sign(X) * np.log1p(np.abs(X))


class Doubler:
    """A "model" of no known library: only pickle can save it."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def predict(self, X: Any) -> Any:
        return np.asarray(X) * self.factor
