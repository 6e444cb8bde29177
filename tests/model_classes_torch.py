"""PyTorch modules for tests/test_model_formats.py, in a module of their own so that only
the torch tests import torch."""

from __future__ import annotations

from typing import Any

from torch import nn


class TinyNet(nn.Module):
    """Rebuilt by calling the class with no arguments."""

    def __init__(self, n_in: int = 4, hidden: int = 8, n_out: int = 3) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, n_out)
        )

    def forward(self, x: Any) -> Any:
        return self.layers(x)


class SizedNet(nn.Module):
    """Needs arguments: it records them in ``_mltrack_init_kwargs`` so it can be rebuilt."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self._mltrack_init_kwargs = {"n_in": n_in, "n_out": n_out}
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x: Any) -> Any:
        return self.linear(x)
