"""Sparse parity (spec 01 §3, Fig 2e [decided]): n random bits, label = parity of a fixed hidden subset of k bits.
Inputs are +-1 floats (n columns); labels are 0/1 longs."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import validate


@dataclass(frozen=True)
class SparseParityTask:
    n_bits: int = 40
    k: int = 3
    n_train: int = 1000
    n_test: int = 1000
    seed: int = 0
    X: torch.Tensor = field(init=False, repr=False, compare=False)
    y: torch.Tensor = field(init=False, repr=False, compare=False)
    subset: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        validate.integer("n_bits", self.n_bits, min_value=1)
        validate.integer("k", self.k, min_value=1, max_value=self.n_bits)
        validate.integer("n_train", self.n_train, min_value=1)
        validate.integer("n_test", self.n_test, min_value=1)
        g = torch.Generator().manual_seed(int(self.seed))
        subset = torch.randperm(self.n_bits, generator=g)[: self.k].sort().values
        bits = torch.randint(0, 2, (self.n_train + self.n_test, self.n_bits), generator=g)
        y = bits[:, subset].sum(1) % 2
        object.__setattr__(self, "subset", subset)
        object.__setattr__(self, "X", (2.0 * bits - 1.0).float())
        object.__setattr__(self, "y", y.long())

    @property
    def train(self) -> torch.Tensor:
        return torch.arange(self.n_train)

    @property
    def test(self) -> torch.Tensor:
        return torch.arange(self.n_train, self.n_train + self.n_test)
