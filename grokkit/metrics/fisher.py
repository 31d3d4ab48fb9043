"""Diagonal Fisher information and information-geometric trajectory measures (spec 03, Fig 8).

F_i = E_x E_{y ~ p_theta(.|x)} [(d log p_theta(y|x) / d theta_i)^2], from per-sample gradients
(torch.func: vmap over grad), ensemble-native: every member gets its own Fisher diagonal (E, ...).

Trajectory over checkpoints theta_0, theta_1, ... (steps s_k = theta_{k+1} - theta_k):
- Fisher step magnitude |s_k|_F = sqrt(sum_i F_i s_ki^2);
- Fisher cosine of consecutive steps <s_k, s_{k+1}>_F / (|s_k|_F |s_{k+1}|_F), F at theta_{k+1};
- Fisher cosine of s_k with -theta_k (1 = the step is pure weight decay), F at theta_k;
- Euclidean versions (F = 1); stiff / sloppy versions (F restricted to coordinates with F_final >= cut / < cut).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.func import functional_call, grad, vmap


def diag_fisher(model, X: torch.Tensor, *, exact: bool | None = None, n_y: int = 1, chunk: int = 64,
                seed: int = 0, params: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Diagonal Fisher of every member of `model` (ensemble) over the inputs X (N, ...) (shared by all members).

    exact: average over y with weights p(y|x) (C backward passes per sample); default when C <= 10.
    Otherwise n_y labels per input are sampled from the model's own predictive distribution.
    params: stacked parameters to evaluate at (default: the model's own). Returns {name: (E, ...)}."""
    E = model.n_members
    if params is None:
        params = {n: p.detach() for n, p in model.named_parameters()}
    dev = next(iter(params.values())).device
    g = torch.Generator().manual_seed(int(seed))

    def logp(ps, x, y):  # one sample x (...), labels y (E,) -> sum over members of log p_m(y_m | x)
        xin = x.unsqueeze(0).unsqueeze(0).expand(E, 1, *x.shape)
        out = functional_call(model, ps, (xin,))[:, 0]  # (E, C)
        return torch.log_softmax(out.float(), -1).gather(1, y[:, None]).sum()

    per_sample = vmap(grad(logp), in_dims=(None, 0, 0))
    acc = {n: torch.zeros_like(p) for n, p in params.items()}
    N = X.shape[0]
    for s in range(0, N, chunk):
        x = X[s:s + chunk].to(dev)
        B = x.shape[0]
        with torch.no_grad():
            logits = functional_call(model, params, (x.unsqueeze(0).expand(E, *x.shape),))  # (E, B, C)
            prob = torch.softmax(logits.float(), -1)
        C = prob.shape[-1]
        use_exact = exact if exact is not None else C <= 10
        if use_exact:
            for c in range(C):
                y = torch.full((B, E), c, dtype=torch.long, device=dev)
                gr = per_sample(params, x, y)
                w = prob[:, :, c].T  # (B, E)
                for n in acc:
                    acc[n] += (gr[n].pow(2) * w.view(B, E, *([1] * (gr[n].dim() - 2)))).sum(0)
        else:
            for _ in range(n_y):
                y = torch.multinomial(prob.reshape(E * B, C).cpu(), 1, generator=g).view(E, B).T.to(dev)
                gr = per_sample(params, x, y)
                for n in acc:
                    acc[n] += gr[n].pow(2).sum(0) / n_y
    return {n: v / N for n, v in acc.items()}


def flatten(state: dict[str, torch.Tensor], names: Sequence[str] | None = None) -> torch.Tensor:
    """Stacked parameters {name: (E, ...)} -> (E, P) in `names` order (default: dict order)."""
    names = list(state) if names is None else list(names)
    return torch.cat([state[n].detach().reshape(state[n].shape[0], -1).double() for n in names], 1)


def _inner(a, b, w):
    return (a * b * w).sum(-1)


def _cos(a, b, w):
    den = (_inner(a, a, w) * _inner(b, b, w)).sqrt()
    return torch.where(den > 0, _inner(a, b, w) / den.clamp_min(1e-300), torch.full_like(den, float("nan")))


def trajectory_measures(thetas: Sequence[torch.Tensor], fishers: torch.Tensor | Sequence[torch.Tensor],
                        stiff_cut: float | None = 0.1) -> dict[str, np.ndarray]:
    """Path measures along checkpoints.

    thetas: K flattened checkpoints (E, P) in step order; fishers: one (E, P) diagonal for all
    checkpoints, or one per checkpoint (K). The stiff / sloppy split uses the last Fisher (F >= stiff_cut).
    Returns arrays (E, K-1) for step measures (index k = step from checkpoint k to k+1) and (E, K-2) for
    consecutive cosines (index k = steps k and k+1): fisher_step, euclid_step, fisher_cos_consec,
    euclid_cos_consec, fisher_cos_origin (with -theta_k), euclid_cos_origin, and stiff_/sloppy_ versions
    of fisher_step and fisher_cos_consec."""
    th = [t.double() for t in thetas]
    K = len(th)
    if K < 2:
        raise ValueError("need at least two checkpoints")
    Fs = [f.double() for f in fishers] if isinstance(fishers, (list, tuple)) else [fishers.double()] * K
    if len(Fs) != K:
        raise ValueError(f"{len(Fs)} Fisher diagonals for {K} checkpoints")
    steps = [th[k + 1] - th[k] for k in range(K - 1)]
    ones = torch.ones_like(th[0])
    weights = {"fisher": Fs, "euclid": [ones] * K}
    if stiff_cut is not None:
        stiff = (Fs[-1] >= stiff_cut).double()
        weights["stiff"] = [F * stiff for F in Fs]
        weights["sloppy"] = [F * (1 - stiff) for F in Fs]
    out = {}
    for name, W in weights.items():
        out[f"{name}_step"] = torch.stack([_inner(s, s, W[k]).sqrt() for k, s in enumerate(steps)], 1).numpy()
        if K >= 3:
            out[f"{name}_cos_consec"] = torch.stack(
                [_cos(steps[k], steps[k + 1], W[k + 1]) for k in range(K - 2)], 1).numpy()
        if name in ("fisher", "euclid"):
            out[f"{name}_cos_origin"] = torch.stack(
                [_cos(steps[k], -th[k], W[k]) for k in range(K - 1)], 1).numpy()
    if stiff_cut is not None:
        out["stiff_share"] = (Fs[-1] >= stiff_cut).double().mean(1).numpy()
    return out
