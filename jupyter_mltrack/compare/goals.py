"""Whether a metric is better high or low: guessed from its name, overridable.

The guess follows the names people use: losses and errors (``loss``, ``val_loss``,
``error``, ``err``, ``mae``, ``mse``, ``rmse``, ``perplexity``, ``ppl``, ``nll``,
``logloss``, ``wer``, ``cer``…) are minimised, everything else (accuracy, F1, AUC, R², reward)
maximised. An experiment-level override (``mltrack.set_metric_goal("f1_gap", "min")``,
kept in the store) wins over the guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

Goal = Literal["min", "max"]

#: Name parts of metrics that are better low.
MINIMISED = frozenset(
    {
        "loss",
        "losses",
        "error",
        "errors",
        "err",
        "mae",
        "mse",
        "rmse",
        "msle",
        "rmsle",
        "mape",
        "smape",
        "perplexity",
        "ppl",
        "nll",
        "logloss",
        "wer",
        "cer",
        "ter",
        "brier",
        "hinge",
        "regret",
        "latency",
        "fpr",
        "fnr",
        "eer",
        "fid",
        "kl",
        "divergence",
        "distortion",
    }
)
#: Endings that mark a loss even when glued to another word (``valloss``, ``trainerror``).
_SUFFIXES = ("loss", "error", "perplexity")
_WORD = re.compile(r"[a-z]+|[0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def guess_goal(key: str) -> Goal:
    """The goal the name suggests (see the module docstring)."""
    words = _WORD.findall(_CAMEL.sub("_", key).lower())
    for word in words:
        if word in MINIMISED or word.endswith(_SUFFIXES):
            return "min"
    return "max"


def metric_goal(key: str, overrides: Mapping[str, str] | None = None) -> Goal:
    """``"min"`` or ``"max"`` for ``key``: the override when one is set, else the guess."""
    if overrides:
        goal = overrides.get(key)
        if goal in ("min", "max"):
            return goal  # type: ignore[return-value]
    return guess_goal(key)
