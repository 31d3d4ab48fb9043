"""Polynomial regression (spec 01 §2, Fig 2d; the authors' repo): x ~ N(0, I/d), y = (x . beta)^2 / 2 with a
fixed beta ~ N(0, I). Train / test sizes are parameters (spec: 100 each [decided])."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import validate


@dataclass(frozen=True)
class PolynomialTask:
    d: int = 40
    n_train: int = 100
    n_test: int = 100
    seed: int = 0
    X: torch.Tensor = field(init=False, repr=False, compare=False)
    y: torch.Tensor = field(init=False, repr=False, compare=False)
    beta: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        validate.integer("d", self.d, min_value=1)
        validate.integer("n_train", self.n_train, min_value=1)
        validate.integer("n_test", self.n_test, min_value=1)
        g = torch.Generator().manual_seed(int(self.seed))
        beta = torch.randn(self.d, generator=g)
        X = torch.randn(self.n_train + self.n_test, self.d, generator=g) / self.d ** 0.5
        y = (X @ beta) ** 2 / 2
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)

    @property
    def train(self) -> torch.Tensor:
        return torch.arange(self.n_train)

    @property
    def test(self) -> torch.Tensor:
        return torch.arange(self.n_train, self.n_train + self.n_test)
