"""Nanda et al. (2023) progress measures for modular addition, for comparison with MED (spec 04).

Rows are the full (a, b) table of a ModularTask (any order: a and b are passed explicitly).
Shape names: E members, N rows, C output classes, p the modulus, K key frequencies.

- `fourier_basis(p)`: orthonormal real Fourier basis over Z_p (row 0 constant, then cos/sin pairs).
- `frequency_norms(W_E, p)`: per frequency k = 1..(p-1)/2, the norm of W_E's cos_k and sin_k components.
- `fourier_gini(W_E, p)`: Gini coefficient of those norms (0 = spread over all frequencies, -> 1 = sparse).
- `key_frequencies(W_E, p, k)`: the k frequencies with the largest norms.
- `restricted_loss`: cross-entropy on all rows after projecting the logits (per class, over rows) onto
  span{1, cos(w(a+b)), sin(w(a+b)) : w key}: the loss of the generalising circuit alone.
- `excluded_loss`: cross-entropy on the training rows after removing those cos/sin(w(a+b)) directions:
  how well the network memorises without the circuit.
- `total_squared_norm(model)`: sum of squared parameters per member.
- `ProgressCallback`: a fit callback logging all four per member at each evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def fourier_basis(p: int) -> torch.Tensor:
    """(p, p) orthonormal rows: constant, cos(2 pi k x / p), sin(2 pi k x / p) for k = 1..p//2."""
    x = torch.arange(p, dtype=torch.float64)
    rows = [torch.ones(p, dtype=torch.float64)]
    for k in range(1, p // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * x / p))
        if len(rows) < p:
            rows.append(torch.sin(2 * math.pi * k * x / p))
    B = torch.stack(rows[:p])
    return B / B.norm(dim=1, keepdim=True)


def frequency_norms(W_E: torch.Tensor, p: int) -> torch.Tensor:
    """(E, V, D) or (V, D) embedding -> (E, p//2) (or (p//2,)) norms of frequency k = 1..p//2."""
    single = W_E.dim() == 2
    W = (W_E[None] if single else W_E)[:, :p].double()
    comp = torch.einsum("fp,epd->efd", fourier_basis(p), W).norm(dim=-1)  # (E, p) per basis row
    sq = comp[:, 1:] ** 2
    if p % 2 == 1:
        per_k = sq.view(W.shape[0], -1, 2).sum(-1)
    else:  # last row (k = p/2) is a lone cosine
        per_k = torch.cat([sq[:, :-1].view(W.shape[0], -1, 2).sum(-1), sq[:, -1:]], dim=1)
    out = per_k.sqrt()
    return out[0] if single else out


def gini(x: torch.Tensor) -> torch.Tensor:
    """Gini coefficient of non-negative values along the last axis."""
    x = x.double().sort(dim=-1).values
    n = x.shape[-1]
    i = torch.arange(1, n + 1, dtype=torch.float64, device=x.device)
    return ((2 * i - n - 1) * x).sum(-1) / (n * x.sum(-1).clamp_min(1e-12))


def fourier_gini(W_E: torch.Tensor, p: int) -> torch.Tensor:
    return gini(frequency_norms(W_E, p))


def key_frequencies(W_E: torch.Tensor, p: int, k: int = 5) -> torch.Tensor:
    """(E, k) (or (k,)) the k frequencies (1..p//2) with the largest embedding norms."""
    return frequency_norms(W_E, p).topk(k, dim=-1).indices + 1


def _directions(a: torch.Tensor, b: torch.Tensor, p: int, freqs) -> torch.Tensor:
    """(N, 2K) orthonormalised columns cos/sin(2 pi w (a+b) / p) for the given frequencies."""
    s = (a + b).double()
    cols = []
    for w in freqs:
        cols += [torch.cos(2 * math.pi * int(w) * s / p), torch.sin(2 * math.pi * int(w) * s / p)]
    Q, _ = torch.linalg.qr(torch.stack(cols, dim=1))
    return Q


def _per_member(logits, freqs):
    E = logits.shape[0]
    freqs = torch.as_tensor(freqs)
    if freqs.dim() == 1:
        freqs = freqs[None].expand(E, -1)
    return freqs


def restricted_loss(logits: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, p: int,
                    freqs) -> torch.Tensor:
    """logits (E, N, C) on all N rows, labels y (N,); freqs (K,) or (E, K). Returns (E,) CE after keeping
    only the mean and the key-frequency cos/sin(w(a+b)) directions of every class's logit column."""
    freqs = _per_member(logits, freqs)
    out = []
    for m in range(logits.shape[0]):
        L = logits[m].double()
        Q = _directions(a, b, p, freqs[m].tolist())
        mean = L.mean(0, keepdim=True)
        Lc = L - mean
        out.append(F.cross_entropy(Q @ (Q.T @ Lc) + mean, y))
    return torch.stack(out)


def excluded_loss(logits: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor, p: int, freqs,
                  rows: list[torch.Tensor] | torch.Tensor | None = None) -> torch.Tensor:
    """(E,) CE on `rows` (per member: its training rows; None = all) after removing the key-frequency
    cos/sin(w(a+b)) directions from every class's logit column."""
    freqs = _per_member(logits, freqs)
    E = logits.shape[0]
    if rows is None or isinstance(rows, torch.Tensor):
        rows = [rows] * E
    out = []
    for m in range(E):
        L = logits[m].double()
        Q = _directions(a, b, p, freqs[m].tolist())
        Lx = L - Q @ (Q.T @ L)
        r = rows[m] if rows[m] is not None else torch.arange(L.shape[0])
        out.append(F.cross_entropy(Lx[r], y[r]))
    return torch.stack(out)


def total_squared_norm(model) -> torch.Tensor:
    """(E,) sum of every squared parameter of each member."""
    return sum(p.detach().double().pow(2).reshape(p.shape[0], -1).sum(1) for p in model.parameters())


@dataclass(frozen=True)
class ProgressCallback:
    """fit callback for a model with W_E trained on a full ModularTask table whose rows are
    ordered a-major (row = a * p + b, as ModularTask(pairs="all") builds them)."""

    p: int
    n_freqs: int = 5

    def __call__(self, ctx):
        p = self.p
        X, y = ctx.data.X.to(ctx.device), ctx.data.y.to(ctx.device)
        if X.shape[0] != p * p:
            raise ValueError("ProgressCallback needs the full p*p table")
        a = torch.arange(p * p, device=ctx.device) // p
        b = torch.arange(p * p, device=ctx.device) % p
        E = ctx.model.n_members
        logits = ctx.model(X[None].expand(E, *X.shape)).detach()
        freqs = key_frequencies(ctx.model.W_E.detach(), p, self.n_freqs)
        return {
            "restricted_loss": restricted_loss(logits, y, a, b, p, freqs).float(),
            "excluded_loss": excluded_loss(logits, y, a, b, p, freqs,
                                           [t.to(ctx.device) for t in ctx.data.train]).float(),
            "fourier_gini": fourier_gini(ctx.model.W_E.detach(), p).float(),
            "sq_norm": total_squared_norm(ctx.model).float(),
        }
