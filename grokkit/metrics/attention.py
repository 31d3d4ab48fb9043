"""Attention-structure measures for spec 05 (1-layer Transformer, query-position attention).

Functions on attention tensors (E, B, H, T):
  informative_mass(attn, S)      -> (min over t in S of alpha_t, sum over S), batch and head mean, (E,) each
  structural_divergence(attn, a*) -> D = KL(alpha* || alpha), batch and head mean (E,)
Functions on a model + a batch:
  attention_gradients(model, x, y) -> per-row dl_i/ds_{i,t}, the batch-mean task gradient w.r.t. the bilinear
      score matrix W_Q W_K^T (its Frobenius norm), and the Lemma 5.1 bound per row.
`AttentionProbe` bundles them as a `fit` callback returning {name: (E,) tensor}.

Lemma 5.1 with our architecture (no LayerNorm, residual MLP, unnormalised embeddings): for row i with loss l_i,
  |dl_i/ds_t| = |alpha_t (v_t - h)^T J^T (p - e_y)| <= 2 sqrt(2) * L_f * V_max * sqrt(l_i)
where v_t = x_t W_V W_O are the value vectors written into the residual stream, h = sum_t alpha_t v_t,
V_max = max_t ||v_t|| (the paper normalises V_max = 1), L_f = ||W_U||_2 (1 + ||W_in||_2 ||W_out||_2) bounds the
Jacobian of logits w.r.t. h (a product of spectral norms; the 1 is the residual path), and
||p - e_y||_2 <= ||p - e_y||_1 <= sqrt(2 l_i) by Pinsker.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..data import padded
from ..priors import MLP_WEIGHTS, kl_to_target, mlp_norm


def informative_mass(attn: torch.Tensor, informative: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """attn (E, B, H, T) -> (mean over rows/heads of min_{t in S} alpha_t, of sum_{t in S} alpha_t), each (E,)."""
    a = attn[..., list(informative)]
    return a.min(-1).values.mean((1, 2)), a.sum(-1).mean((1, 2))


def structural_divergence(attn: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """D = KL(target || alpha), mean over rows and heads: (E,)."""
    return kl_to_target(attn.clamp(min=1e-30).log(), torch.as_tensor(target, device=attn.device)).mean((1, 2))


def spectral_norm(W: torch.Tensor) -> torch.Tensor:
    """(E, m, n) -> (E,) largest singular value."""
    return torch.linalg.matrix_norm(W.float(), ord=2)


def lipschitz_readout(model) -> torch.Tensor:
    """L_f = ||W_U|| (1 + ||W_in|| ||W_out||) per member (E,): bounds d logits / d h (h = pooled attention output)."""
    return spectral_norm(model.W_U) * (1 + spectral_norm(model.W_in0) * spectral_norm(model.W_out0))


def attention_gradients(model, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> dict:
    """Task-gradient quantities for tokens x (E, B, T), labels y (E, B) (1-layer Transformer, no LayerNorm).

    Returns a dict of tensors:
      g_s      (E, B, H, T) per-row dl_i/ds_{i,t} (l_i = CE of row i)
      grad_wqk (E,)  ||dL/d(W_Q W_K^T)||_F for the batch loss L = sum_i w_i l_i (heads stacked)
      bound    (E, B, H) Lemma 5.1 bound on max_t |dl_i/ds_t| per row and head
      loss     (E, B) per-row loss
    """
    if getattr(model.config, "layer_norm", False) or model.config.n_layers != 1:
        raise ValueError("attention_gradients needs a 1-layer Transformer without LayerNorm")
    E, B, T = x.shape
    if weights is None:
        weights = torch.full((E, B), 1.0 / B, device=x.device)
    with torch.enable_grad():
        logits = model(x)
        scores = model.cache["scores_query"]  # (E, B, H, T)
        attn = model.cache["attn_query"]
        # CE in float64 as log1p(sum_{j != y} exp(z_j - z_y)): accurate when the loss is tiny (memorised rows),
        # where float32 cross_entropy rounds to 0 while its gradient does not
        z = logits.double()
        zy = z.gather(-1, y[..., None])
        q = torch.exp(z - zy).masked_fill(F.one_hot(y, z.shape[-1]).bool(), 0.0).sum(-1)
        loss = torch.log1p(q)  # (E, B)
        (g_s,) = torch.autograd.grad(loss.sum(), scores)
    g_s = g_s.detach().float()
    attn = attn.detach()
    with torch.no_grad():
        K = model.config.d_head
        H = model.config.n_heads
        emb = model.embed(x)  # (E, B, T, D) residual stream before attention
        G = g_s * weights[:, :, None, None]
        M = torch.einsum("ebht,ebtd->ebhd", G, emb)
        dB = torch.einsum("ebq,ebhd->ehqd", emb[:, :, -1], M) / math.sqrt(K)  # (E, H, D, D)
        grad_wqk = dB.pow(2).sum((1, 2, 3)).sqrt()
        # value vectors in the residual stream, per head: x_t W_V[h] W_O[h]
        WVO = torch.einsum("ehdk,ehkf->ehdf", model.W_V0, model.W_O0)  # (E, H, D, D)
        v = torch.einsum("ebtd,ehdf->ebhtf", emb, WVO)
        vmax = v.norm(dim=-1).max(-1).values  # (E, B, H)
        Lf = lipschitz_readout(model)
        bound = 2 * math.sqrt(2) * Lf[:, None, None].double() * vmax.double() * loss.detach().sqrt()[:, :, None]
    del H
    return {"g_s": g_s, "grad_wqk": grad_wqk, "bound": bound, "loss": loss.detach(), "attn": attn}


def _rows(data, sets, device):
    idx, valid, counts = padded(sets, device)
    X = data.X.to(device)
    x = X[idx]
    y = data.y.to(device)
    y = y.gather(1, idx) if data.per_member_labels else y[idx]
    w = valid.float() / counts.clamp(min=1)[:, None].float()
    return x, y, w, valid


def _wmean(per_row: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (per_row * w).sum(1)


@dataclass(frozen=True)
class AttentionProbe:
    """fit callback: structure measures at every evaluation.

    Logs test/mass_min, test/mass_sum, train/D, test/D, mlp_norm, and (grad=True) on the training rows
    grad_wqk (||dL_CE/d(W_Q W_K^T)||_F), grad_s (row mean of max_t |dl_i/ds_t|), lemma_bound (row mean of the
    Lemma 5.1 bound) and bound_ratio (max over rows of measured / bound; <= 1 if the lemma holds).
    """

    informative: tuple[int, ...]
    target: tuple[float, ...]
    grad: bool = True

    def __call__(self, ctx) -> dict:
        model, data, dev = ctx.model, ctx.data, ctx.device
        tgt = torch.tensor(self.target, device=dev)
        out = {"mlp_norm": mlp_norm(model, MLP_WEIGHTS)}
        for split, sets in (("train", data.train), ("test", data.test)):
            if max(len(s) for s in sets) == 0:
                continue
            x, y, w, _ = _rows(data, sets, dev)
            if split == "train" and self.grad:
                g = attention_gradients(model, x, y, w)
                attn = g["attn"]
                out["grad_wqk"] = g["grad_wqk"]
                gmax = g["g_s"].abs().max(-1).values  # (E, B, H)
                out["grad_s"] = _wmean(gmax.mean(-1), w)
                out["lemma_bound"] = _wmean(g["bound"].float().mean(-1), w)
                valid = w > 0
                ratio = (gmax.double() / g["bound"].clamp(min=1e-300)).amax(-1).float()
                out["bound_ratio"] = torch.where(valid, ratio, torch.zeros_like(ratio)).amax(1)
            else:
                model(x)
                attn = model.cache["attn_query"]
            D = kl_to_target(attn.float().clamp(min=1e-30).log(), tgt).mean(-1)  # (E, B)
            out[f"{split}/D"] = _wmean(D, w)
            if split == "test":
                a = attn.float()[..., list(self.informative)]
                out["test/mass_min"] = _wmean(a.min(-1).values.mean(-1), w)
                out["test/mass_sum"] = _wmean(a.sum(-1).mean(-1), w)
        return out
