"""Circuit proxies of Varma et al. (2023), App C: how much of a modular-addition network's logits come from the
"trigonometric" (generalising) algorithm and how much from memorisation.

The logit tensor Z (p, p, p): Z[a, b, c] = logit of label c on input (a, b). The trigonometric directions are
Z_k[a, b, c] = cos(w_k (a + b - c)), w_k = 2 pi k / p, k = 1..(p-1)/2 (orthogonal, |Z_k|^2 = p^3 / 2 for odd p).
  Z_T = sum_k (Z . Z_k / |Z_k|^2) Z_k  (trigonometric logits),  Z_M = Z - Z_T  (memorisation logits).
For label c* = a + b mod p every cos term is 1, so the trigonometric correct-class logit is the same on every
input: o_t = sum_k coef_k. The memorisation correct-class logit o_m = Zc[a, b, c*] - o_t, averaged over a row set,
where Zc = Z minus its mean over c (per input): softmax ignores a per-input constant, so correct-class logits are
measured against the input's mean logit (the paper's "ignoring the constant bias vector"). The Z_k have zero mean
over c, so the centring does not change o_t.
For subtraction use sign=-1 (directions cos(w_k (a - b - c))).

Also: the parameter norm P (global L2 norm of all parameters, per member), the mean correct-class logit, and
isologit bucketing (geometric buckets of logit values, Fig 3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import validate


def trig_coefficients(Z: torch.Tensor, sign: int = 1) -> torch.Tensor:
    """Z (..., p, p, p) -> projection coefficients (..., K) onto cos(w_k (a + sign*b - c)), k = 1..K."""
    p = Z.shape[-1]
    if Z.shape[-3:] != (p, p, p):
        raise ValueError(f"Z must end in (p, p, p), got {tuple(Z.shape)}")
    K = (p - 1) // 2
    Zd = Z.double()
    k = torch.arange(1, K + 1, dtype=torch.float64, device=Z.device)
    idx = torch.arange(p, dtype=torch.float64, device=Z.device)
    ang = 2 * math.pi * k[:, None] * idx[None, :] / p  # (K, p)
    cos, sin = torch.cos(ang), torch.sin(ang)
    # sum_c Z[a,b,c] e^{-i w c} -> (..., a, b, K) complex, as cos/sin parts
    zc_cos = Zd @ cos.T  # sum_c Z cos(w c)
    zc_sin = Zd @ sin.T  # sum_c Z sin(w c)
    # cos(w(a + s b) - w c) = cos(w(a+sb)) cos(wc) + sin(w(a+sb)) sin(wc)
    ab = idx[:, None] + sign * idx[None, :]  # (p, p)
    ang_ab = 2 * math.pi * k[None, None, :] * ab[:, :, None] / p  # (p, p, K)
    dot = (zc_cos * torch.cos(ang_ab)).sum((-3, -2)) + (zc_sin * torch.sin(ang_ab)).sum((-3, -2))
    norm2 = p**3 / 2.0 if p % 2 else None
    if norm2 is None:
        raise ValueError("p must be odd (the cos directions for k and p-k coincide only then)")
    return dot / norm2


def trig_logits(Z: torch.Tensor, sign: int = 1) -> torch.Tensor:
    """Z_T: the projection of Z (..., p, p, p) onto the trigonometric subspace (same shape)."""
    p = Z.shape[-1]
    coef = trig_coefficients(Z, sign)  # (..., K)
    K = coef.shape[-1]
    k = torch.arange(1, K + 1, dtype=torch.float64, device=Z.device)
    idx = torch.arange(p, dtype=torch.float64, device=Z.device)
    arg = idx[:, None, None] + sign * idx[None, :, None] - idx[None, None, :]  # (p, p, p)
    basis = torch.cos(2 * math.pi * k[:, None, None, None] * arg[None] / p)  # (K, p, p, p)
    return torch.einsum("...k,kabc->...abc", coef, basis)


@dataclass
class CircuitProxies:
    trig_logit: torch.Tensor  # (E,) trigonometric correct-class logit (same on every input)
    mem_logit: dict[str, torch.Tensor]  # row-set name -> (E,) mean memorisation correct-class logit
    correct_logit: dict[str, torch.Tensor]  # row-set name -> (E,) mean centred correct-class logit
    trig_fraction: torch.Tensor  # (E,) |Z_T|^2 / |Z|^2 of the per-input centred logits


def circuit_proxies(Z: torch.Tensor, rows: dict[str, list[torch.Tensor] | torch.Tensor] | None = None,
                    sign: int = 1) -> CircuitProxies:
    """Z (E, p, p, p) logits on every (a, b) (row index a*p + b, as ModularTask(pairs="all") orders them).
    rows: {"train": per-member index tensors (or one for all), ...} -> mean proxies over those rows.
    Correct-class logits and the trig fraction use logits centred per input (see the module docstring)."""
    E, p = Z.shape[0], Z.shape[-1]
    coef = trig_coefficients(Z, sign)  # (E, K)
    o_t = coef.sum(-1)  # (E,)
    a = torch.arange(p, device=Z.device)
    cstar = (a[:, None] + sign * a[None, :]) % p  # (p, p)
    Zc = Z.double() - Z.double().mean(-1, keepdim=True)
    correct = Zc.gather(-1, cstar.expand(E, p, p)[..., None]).squeeze(-1).reshape(E, p * p)
    # |Z_T|^2 = sum_k coef_k^2 |Z_k|^2 (orthogonal directions); Z_k have zero mean over c, so centring leaves
    # the projection unchanged
    trig_norm2 = (coef**2).sum(-1) * p**3 / 2.0
    frac = trig_norm2 / Zc.pow(2).sum((-3, -2, -1)).clamp_min(1e-30)
    mem, corr = {}, {}
    for name, idx in (rows or {"all": torch.arange(p * p)}).items():
        sets = idx if isinstance(idx, (list, tuple)) else [idx] * E
        vals = torch.stack([correct[m, sets[m].to(Z.device)].mean() if len(sets[m]) else
                            torch.tensor(float("nan"), dtype=torch.float64, device=Z.device) for m in range(E)])
        corr[name] = vals
        mem[name] = vals - o_t
    return CircuitProxies(o_t, mem, corr, frac)


def logit_tensor(model, X_all: torch.Tensor, p: int, batch: int = 4096) -> torch.Tensor:
    """Logits (E, p, p, C) of an ensemble on every row of a p*p table (rows ordered a*p + b)."""
    E = model.n_members
    device = next(model.parameters()).device
    outs = []
    with torch.no_grad():
        for i in range(0, X_all.shape[0], batch):
            x = X_all[i : i + batch].to(device)
            outs.append(model(x.expand(E, *x.shape)))
    Z = torch.cat(outs, 1)
    if Z.shape[1] != p * p:
        raise ValueError(f"expected {p * p} rows (all pairs), got {Z.shape[1]}")
    return Z.reshape(E, p, p, -1)


def param_norm(model) -> torch.Tensor:
    """P: global L2 norm of all parameters, per member (E,)."""
    sq = sum(p.detach().double().pow(2).reshape(p.shape[0], -1).sum(1) for p in model.parameters())
    return sq.sqrt()


def param_norm_state(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """P of a stacked parameter dict (run.checkpoints[step]) -> (E,)."""
    sq = sum(v.double().pow(2).reshape(v.shape[0], -1).sum(1) for v in state.values())
    return sq.sqrt()


def correct_logit(logits: torch.Tensor, y: torch.Tensor, centred: bool = True) -> torch.Tensor:
    """Mean logit of the correct class: logits (..., N, C), y (..., N) -> (...). centred: measured against each
    row's mean logit (softmax-invariant)."""
    if centred:
        logits = logits - logits.mean(-1, keepdim=True)
    return logits.gather(-1, y[..., None].long()).squeeze(-1).mean(-1)


def isologit_buckets(values, n_buckets: int = 6, edges=None) -> tuple[np.ndarray, np.ndarray]:
    """Geometric buckets of positive logit values: (bucket id per value in 0..n-1, -1 for values <= 0 or
    outside given edges; the n+1 edges). Edges default to geomspace(min, max) of the positive values."""
    v = np.asarray(values, dtype=float)
    validate.integer("n_buckets", n_buckets, min_value=1)
    pos = v[np.isfinite(v) & (v > 0)]
    if edges is None:
        if not len(pos):
            return np.full(v.shape, -1), np.array([])
        lo, hi = pos.min(), pos.max()
        edges = np.geomspace(lo, hi * (1 + 1e-12) if hi > lo else lo * 1.0001, n_buckets + 1)
    edges = np.asarray(edges, dtype=float)
    ids = np.searchsorted(edges, v, side="right") - 1
    ids = np.where((v > 0) & np.isfinite(v) & (v >= edges[0]) & (v <= edges[-1]), ids, -1)
    ids = np.minimum(ids, len(edges) - 2)
    return ids, edges


@dataclass(frozen=True)
class ProxyCallback:
    """fit callback: circuit proxies + parameter norm at every evaluation step.

    Needs a modular-addition Data whose X holds every (a, b) row of ModularTask(p, pairs="all") in order.
    Logs trig_logit, mem_logit_train, mem_logit_test, correct_logit_train, correct_logit_test, trig_frac, P."""

    p: int
    sign: int = 1

    def __call__(self, ctx) -> dict[str, torch.Tensor]:
        Z = logit_tensor(ctx.model, ctx.data.X, self.p)
        pr = circuit_proxies(Z, {"train": ctx.data.train, "test": ctx.data.test}, self.sign)
        out = {"trig_logit": pr.trig_logit, "trig_frac": pr.trig_fraction, "P": param_norm(ctx.model)}
        for name in ("train", "test"):
            out[f"mem_logit_{name}"] = pr.mem_logit[name]
            out[f"correct_logit_{name}"] = pr.correct_logit[name]
        return {k: v.float() for k, v in out.items()}
