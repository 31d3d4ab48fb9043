"""Magnitude-pruning compressibility of spec 03 and the Gini coefficient.

Pruning schemes (fraction f = share of weights REMOVED, weight tensors only, biases kept):
- "layer":       the smallest-|w| fraction f of each layer separately (the paper's main-text scheme);
- "global":      the smallest-|w| fraction f over all layers together (naive global);
- "global_norm": global ranking of |w| / rms(layer) (layer-normalised global, Fig 25).
A = integral_0^1 acc(f) df (trapezoid on the grid), compressibility C = 1 / (1 - A) [decided reading of Eq 5].
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .. import prune

SCHEMES = ("layer", "global", "global_norm")


def weight_names(state: dict[str, torch.Tensor]) -> list[str]:
    """Stacked parameters with at least 2 dims per member (matrices, conv kernels), not biases."""
    return [n for n, t in state.items() if t.dim() >= 3]


def magnitude_masks(state: dict[str, torch.Tensor], f: float, scheme: str = "layer",
                    names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    names = list(names) if names is not None else weight_names(state)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r}; choose one of {SCHEMES}")
    if f >= 1.0:  # everything removed
        return {n: torch.zeros_like(state[n], dtype=torch.bool) for n in names}
    if scheme == "layer":
        return prune.magnitude(state, f, scope="layer", names=names)
    if scheme == "global":
        return prune.magnitude(state, f, scope="global", names=names)
    if scheme == "global_norm":
        scores = {}
        for n in names:
            t = state[n].detach().abs()
            rms = t.reshape(t.shape[0], -1).pow(2).mean(1).sqrt().clamp_min(1e-30)
            scores[n] = t / rms.view(-1, *([1] * (t.dim() - 1)))
        return prune.masks_from_scores(scores, f, scope="global")
    raise ValueError(f"scheme={scheme!r}; choose one of {SCHEMES}")


def accuracy_fn(X: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, chunk: int = 4096) -> Callable:
    """model -> (E,) accuracy on the rows idx (shared by all members), evaluated in chunks."""
    def evaluate(model) -> torch.Tensor:
        dev = next(model.parameters()).device
        E = model.n_members
        correct = torch.zeros(E, device=dev)
        with torch.no_grad():
            for s in range(0, len(idx), chunk):
                rows = idx[s:s + chunk]
                x = X[rows].to(dev)
                x = x.unsqueeze(0).expand(E, *x.shape)
                pred = model(x).argmax(-1)
                correct += (pred == y[rows].to(dev)).float().sum(1)
        return (correct / len(idx)).cpu()
    return evaluate


def pruning_curve(model, state: dict[str, torch.Tensor], evaluate: Callable, fractions: Sequence[float],
                  scheme: str = "layer", names: Sequence[str] | None = None) -> np.ndarray:
    """Accuracy (E, F) of `state` (stacked, E members) with the fraction fractions[j] of weights pruned.
    `model` is an ensemble of the same shape (its parameters are overwritten, then restored)."""
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = []
    try:
        for f in fractions:
            masks = magnitude_masks(state, float(f), scheme, names)
            pruned = prune.apply(state, masks)
            model.load_state_dict({k: v.to(saved[k].device) for k, v in pruned.items()})
            out.append(torch.as_tensor(evaluate(model)).float().cpu().numpy())
    finally:
        model.load_state_dict(saved)
    return np.stack(out, axis=1)


def area(fractions: Sequence[float], acc: np.ndarray) -> np.ndarray:
    """A = integral acc(f) df over the grid (trapezoid), per row of acc (..., F)."""
    f = np.asarray(fractions, float)
    a = np.asarray(acc, float)
    return ((a[..., 1:] + a[..., :-1]) * 0.5 * np.diff(f)).sum(-1)


def compressibility(A) -> np.ndarray:
    """C = 1 / (1 - A)."""
    return 1.0 / np.maximum(1.0 - np.asarray(A, float), 1e-12)


def kept_for_accuracy(fractions: Sequence[float], acc: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Smallest kept share 1 - f such that acc stays >= level * acc(f=0) for every pruning fraction up to f
    (fractions must start at 0 and increase). (..., F) -> (...)."""
    f = np.asarray(fractions, float)
    a = np.asarray(acc, float)
    ok = a >= level * a[..., :1]
    run = np.cumprod(ok, axis=-1).astype(bool)  # still ok at every f' <= f
    last = run.sum(-1) - 1
    return 1.0 - f[np.clip(last, 0, len(f) - 1)]


def gini(x: torch.Tensor | np.ndarray, axis: int = -1) -> np.ndarray:
    """Gini coefficient of non-negative values along `axis` (0 = all equal, -> 1 = one value holds all):
    G = sum_i (2i - n - 1) x_(i) / (n sum x), x sorted ascending, i = 1..n."""
    a = np.sort(np.abs(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, float)), axis=axis)
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    i = np.arange(1, n + 1)
    tot = a.sum(-1)
    g = ((2 * i - n - 1) * a).sum(-1) / np.maximum(n * tot, 1e-300)
    return np.where(tot > 0, g, 0.0)


def linear_fit(x, y) -> dict[str, float]:
    """Least-squares y = slope x + intercept, with R^2 and n."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        return {"slope": float("nan"), "intercept": float("nan"), "r2": float("nan"), "n": int(len(x))}
    slope, intercept = np.polyfit(x, y, 1)
    res = y - (slope * x + intercept)
    ss_tot = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 - (res**2).sum() / ss_tot if ss_tot > 0 else float("nan")
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2), "n": int(len(x))}
