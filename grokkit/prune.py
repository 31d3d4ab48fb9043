"""Pruning masks: per-parameter boolean tensors with the ensemble axis first (E, ...), True = kept.

`rate` is always the fraction REMOVED (k in spec 01; the authors' repo calls the kept fraction
"sparsity": we do not). Masks are plain dicts {param name: bool tensor}, ready for fit(masks=...).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from . import validate

Masks = dict[str, torch.Tensor]
SCOPES = ("global", "layer")


def _select(state: dict[str, torch.Tensor], names: Iterable[str] | None) -> dict[str, torch.Tensor]:
    names = list(state) if names is None else list(names)
    missing = [n for n in names if n not in state]
    if missing:
        raise KeyError(f"no parameters {missing}; have {list(state)}")
    return {n: state[n].detach() for n in names}


def _keep_top(scores: torch.Tensor, n_keep: torch.Tensor | int) -> torch.Tensor:
    """scores (E, N) -> bool (E, N) keeping the n_keep largest per row (ties broken by index)."""
    E, N = scores.shape
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(N, device=scores.device).expand(E, N))
    n_keep = torch.as_tensor(n_keep, device=scores.device).reshape(-1, 1)
    return ranks < n_keep


def masks_from_scores(scores: dict[str, torch.Tensor], rate: float, scope: str = "global") -> Masks:
    """Keep the (1 - rate) highest-scoring weights per member, over all given parameters together
    (global) or per parameter (layer). Exactly round(rate * n) weights are removed in each pool."""
    rate = validate.fraction("rate", rate, closed_low=True)
    validate.choice("scope", scope, SCOPES)
    if scope == "layer":
        out = {}
        for n, s in scores.items():
            flat = s.reshape(s.shape[0], -1).float()
            n_keep = flat.shape[1] - int(round(rate * flat.shape[1]))
            out[n] = _keep_top(flat, n_keep).reshape(s.shape)
        return out
    names = list(scores)
    flat = torch.cat([scores[n].reshape(scores[n].shape[0], -1).float() for n in names], dim=1)
    n_keep = flat.shape[1] - int(round(rate * flat.shape[1]))
    keep = _keep_top(flat, n_keep)
    out, i = {}, 0
    for n in names:
        k = scores[n][0].numel()
        out[n] = keep[:, i : i + k].reshape(scores[n].shape)
        i += k
    return out


def magnitude(state: dict[str, torch.Tensor], rate: float, scope: str = "global",
              names: Iterable[str] | None = None) -> Masks:
    """Remove the fraction `rate` of weights with the smallest |theta| (global over `names`, or per layer)."""
    return masks_from_scores({n: t.abs() for n, t in _select(state, names).items()}, rate, scope)


def random(state: dict[str, torch.Tensor], rate: float, seed: int = 0, scope: str = "layer",
           names: Iterable[str] | None = None) -> Masks:
    """Random masks removing `rate` of the weights (per layer by default)."""
    g = torch.Generator().manual_seed(int(seed))
    sel = _select(state, names)
    return masks_from_scores({n: torch.rand(t.shape, generator=g) for n, t in sel.items()}, rate, scope)


def apply(state: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """theta * mask for masked parameters (others unchanged); new tensors."""
    return {n: (t * masks[n].to(t.dtype)) if n in masks else t.clone() for n, t in state.items()}


def sparsity(masks: Masks) -> torch.Tensor:
    """Fraction removed per member (E,) over all masked parameters."""
    kept = sum(m.reshape(m.shape[0], -1).sum(1) for m in masks.values())
    total = sum(m[0].numel() for m in masks.values())
    return 1.0 - kept.float() / total


def norm_ratio(state: dict[str, torch.Tensor], masks: Masks, p: float = 2.0) -> torch.Tensor:
    """r_p = ||theta * m||_p / ||theta||_p per member (E,), over the masked parameters (spec 01 Fig 5a/6)."""
    num = sum(((state[n] * m).abs() ** p).reshape(m.shape[0], -1).sum(1) for n, m in masks.items())
    den = sum((state[n].abs() ** p).reshape(m.shape[0], -1).sum(1) for n, m in masks.items())
    return (num / den) ** (1.0 / p)
