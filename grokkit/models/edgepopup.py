"""Edge-popup (Ramanujan et al. 2020; spec 01 §11, Table 1): a wrapper around any grokkit model whose extra
parameters are one SCORE per weight. The forward pass uses w * h(|s|), h = 1 for the top `keep` fraction of
|s| in each layer (per member) and 0 otherwise; the gradient passes straight through h to |s|, and through the
absolute value to s: dL/ds = sign(s) dL/d(w h) * w. So |s| of a weight grows when keeping it lowers the loss,
whatever the sign of s (the edge-popup code, and the grokking-tickets authors' `GetSubnet(scores.abs())`).
`EdgePopupConfig(grad="identity")` keeps the old variant, dL/ds = dL/d(w h) * w without sign(s): there |s| of a
negative score moves the wrong way (it grows when keeping the weight RAISES the loss), so half of the scores learn
backwards. It is kept for the ablation that shows what that costs (notebook 01, Table 1).

Variants are ordinary `fit` calls:
- weights frozen ("EP w/o WD"):      fit(ep, data, cfg(weight_decay=w), trainable=ep.score_names()); the
  authors' command decays the scores (w = 1)
- weights trained with / without wd: fit(ep, data, cfg(weight_decay=wd)) (scores and weights both train).
Decoupled weight decay shrinks every score of a layer by the same factor: it never changes the ranking by itself,
but the Adam steps then move the mask much faster (notebook 01 measures both).

Build: `EdgePopup.from_state(EdgePopupConfig(base_config, keep=0.4), state, seeds)` copies the (E-member) base
weights `state` (e.g. a memorising checkpoint) and draws the scores kaiming-uniform (bound 1/sqrt(fan_in),
torch's default a=sqrt(5)) from `seeds`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.func import functional_call

from .. import validate
from .base import EnsembleModule

PREFIX = "score_"
GRADS = ("abs", "identity")


@dataclass(frozen=True)
class EdgePopupConfig:
    base: object  # the wrapped model's config (EmbedMLPConfig, MLPConfig, ...)
    keep: float = 0.4  # fraction of each layer's weights kept (top |score|)
    names: tuple[str, ...] | None = None  # scored parameters (None: every parameter with >= 2 axes per member)
    grad: str = "abs"  # "abs": dL/ds through |s| (edge-popup); "identity": without sign(s) (ablation only)

    def __post_init__(self):
        validate.fraction("keep", self.keep, closed_high=True)
        validate.choice("grad", self.grad, GRADS)
        if self.names is not None:
            object.__setattr__(self, "names", tuple(self.names))


class _TopKStraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep: float):
        E = scores.shape[0]
        flat = scores.abs().reshape(E, -1)
        n_keep = max(1, int(round(keep * flat.shape[1])))
        idx = flat.topk(n_keep, dim=1).indices
        out = torch.zeros_like(flat).scatter_(1, idx, 1.0)
        return out.reshape(scores.shape)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def topk_mask(scores: torch.Tensor, keep: float, grad: str = "abs") -> torch.Tensor:
    """(E, ...) scores -> float 0/1 mask of the top `keep` fraction of |scores| per member; straight-through to
    |scores| (grad="abs": the gradient wrt scores carries sign(scores)) or, grad="identity", to scores unchanged."""
    return _TopKStraightThrough.apply(scores.abs() if grad == "abs" else scores, keep)


class EdgePopup(EnsembleModule):
    def __init__(self, config: EdgePopupConfig, n_members: int = 1):
        super().__init__(n_members)
        from . import CONFIG_TO_MODEL

        self.config = config
        self.base = CONFIG_TO_MODEL[type(config.base)](config.base, n_members=n_members)
        names = config.names
        if names is None:
            names = tuple(n for n, p in self.base.named_parameters() if p.dim() >= 3)
        self.scored = tuple(names)
        for n in self.scored:
            shape = dict(self.base.named_parameters())[n].shape[1:]
            self._param(PREFIX + n, *shape)

    def score_names(self) -> list[str]:
        return [PREFIX + n for n in self.scored]

    def weight_names(self) -> list[str]:
        return ["base." + n for n, _ in self.base.named_parameters()]

    def init_std(self):
        stds = {"base." + n: s for n, s in self.base.init_std().items()}
        stds.update({PREFIX + n: 1.0 for n in self.scored})
        return stds

    @torch.no_grad()
    def reset_parameters(self, seeds: Sequence[int] | int = 0, init_scale=1.0):
        E = self.n_members
        seeds = [seeds + m for m in range(E)] if isinstance(seeds, int) else list(seeds)
        self.base.reset_parameters(seeds, init_scale)
        for m, seed in enumerate(seeds):
            g = torch.Generator().manual_seed(int(seed) + 7919)
            for n in self.scored:
                s = getattr(self, PREFIX + n)
                bound = 1.0 / math.sqrt(s.shape[1])  # fan_in = d_in of an x @ W matrix
                s[m].copy_((torch.rand(s.shape[1:], generator=g) * 2 - 1) * bound)
        return self

    @classmethod
    def from_state(cls, config: EdgePopupConfig, state: dict[str, torch.Tensor], seeds: Sequence[int] | int = 0):
        """Wrap the E-member base weights `state` ({base param name: (E, ...)}); scores drawn from seeds."""
        E = next(iter(state.values())).shape[0]
        model = cls(config, n_members=E).reset_parameters(seeds)
        with torch.no_grad():
            for n, p in model.base.named_parameters():
                p.copy_(state[n])
        return model

    def effective_weights(self) -> dict[str, torch.Tensor]:
        out = {}
        for n, p in self.base.named_parameters():
            if n in self.scored:
                out[n] = p * topk_mask(getattr(self, PREFIX + n), self.config.keep, self.config.grad)
            else:
                out[n] = p
        return out

    @torch.no_grad()
    def masks(self) -> dict[str, torch.Tensor]:
        """{base param name: bool (E, ...)} the current top-k masks."""
        return {n: topk_mask(getattr(self, PREFIX + n), self.config.keep).bool() for n in self.scored}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, self.effective_weights(), (x,))


def masks_from_state(config: EdgePopupConfig, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Top-k masks from a stored EdgePopup state dict (e.g. run.checkpoints[step])."""
    names = config.names or [k[len(PREFIX):] for k in state if k.startswith(PREFIX)]
    return {n: topk_mask(state[PREFIX + n], config.keep).bool() for n in names}
