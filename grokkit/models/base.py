"""Ensemble-native modules: every parameter has a leading member axis E.

A model with E members is E independent models trained together (one optimizer step for all).
Member m is initialised from its own seed, so member m of an ensemble equals the same model
built alone with that seed.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import validate


class EnsembleModule(nn.Module):
    """Base class. Subclasses create parameters with `self._param(name, shape)` in a fixed order and
    describe their initialisation in `init_std()` (name -> std, or 0.0 for zeros)."""

    config: object

    def __init__(self, n_members: int = 1):
        super().__init__()
        self.n_members = validate.integer("n_members", n_members, min_value=1)
        self.cache: dict[str, torch.Tensor] = {}

    def _param(self, name: str, *shape: int) -> nn.Parameter:
        p = nn.Parameter(torch.empty(self.n_members, *shape))
        self.register_parameter(name, p)
        return p

    def init_std(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def reset_parameters(self, seeds: Sequence[int] | int = 0, init_scale: float | Sequence[float] = 1.0):
        """Draw member m's parameters from seed seeds[m]; multiply all of them by init_scale[m]."""
        E = self.n_members
        seeds = [seeds + m for m in range(E)] if isinstance(seeds, int) else list(seeds)
        if len(seeds) != E:
            raise ValueError(f"seeds has {len(seeds)} values but the model has {E} members")
        scales = validate.per_member("init_scale", init_scale, E)
        stds = self.init_std()
        for m, (seed, scale) in enumerate(zip(seeds, scales)):
            g = torch.Generator().manual_seed(int(seed))
            for name, p in self.named_parameters():
                std = stds[name]
                if std == 0.0:
                    p[m].zero_()
                else:
                    p[m].copy_(torch.randn(p.shape[1:], generator=g) * (std * scale))
        return self

    def n_params(self) -> int:
        """Parameters of ONE member."""
        return sum(p[0].numel() for p in self.parameters())

    @torch.no_grad()
    def member(self, m: int) -> EnsembleModule:
        """A 1-member copy of member m (same config)."""
        single = type(self)(self.config, n_members=1)
        for (_, p1), (_, p) in zip(single.named_parameters(), self.named_parameters()):
            p1.copy_(p[m : m + 1])
        return single.to(next(self.parameters()).device)


def gather_rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table (E, V, d), idx (E, ...) long -> (E, ..., d): table[m][idx[m]] for every member."""
    E, V, d = table.shape
    offset = (torch.arange(E, device=idx.device) * V).view(E, *([1] * (idx.dim() - 1)))
    return table.reshape(E * V, d)[(idx + offset).reshape(-1)].reshape(*idx.shape, d)

