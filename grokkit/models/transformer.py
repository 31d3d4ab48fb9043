"""A 1-2 layer decoder-only transformer in the style of Nanda et al. (no LayerNorm by default),
ensemble-native (leading member axis E on every weight).

Shape names: E members, B batch, T positions, H heads, D d_model, K d_head, M d_mlp, V vocab.
Hook points: after a forward, `model.cache` holds
  "attn"        (E, B, H, T, T) attention pattern of the last layer (full computation only)
  "attn_query"  (E, B, H, T)    attention of the query (last) position in the last layer
  "scores_query"(E, B, H, T)    its pre-softmax scores
  "resid_final" (E, B, D)       residual stream at the query position before unembedding
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import validate
from .base import EnsembleModule, gather_rows
from .mlp import ACTIVATIONS


@dataclass(frozen=True)
class TransformerConfig:
    d_vocab: int
    n_ctx: int
    d_vocab_out: int | None = None
    d_model: int = 128
    n_heads: int = 4
    d_head: int | None = None
    d_mlp: int = 512
    n_layers: int = 1
    act: str = "relu"
    layer_norm: bool = False
    causal: bool = True
    last_only: bool = True
    init_std: float | None = None  # default 1/sqrt(d_model) for every matrix (Nanda); biases 0

    def __post_init__(self):
        for name in ("d_vocab", "n_ctx", "d_model", "n_heads", "d_mlp"):
            validate.integer(name, getattr(self, name), min_value=1)
        validate.integer("n_layers", self.n_layers, min_value=1, max_value=2)
        validate.choice("act", self.act, ACTIVATIONS)
        if self.d_head is None:
            if self.d_model % self.n_heads:
                raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
            object.__setattr__(self, "d_head", self.d_model // self.n_heads)
        if self.d_vocab_out is None:
            object.__setattr__(self, "d_vocab_out", self.d_vocab)


class Transformer(EnsembleModule):
    """Input tokens (E, B, T) long -> logits at the last position (E, B, d_vocab_out)."""

    def __init__(self, config: TransformerConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        D, H, K, M = c.d_model, c.n_heads, c.d_head, c.d_mlp
        self._param("W_E", c.d_vocab, D)
        self._param("W_pos", c.n_ctx, D)
        for l in range(c.n_layers):
            self._param(f"W_Q{l}", H, D, K)
            self._param(f"W_K{l}", H, D, K)
            self._param(f"W_V{l}", H, D, K)
            self._param(f"W_O{l}", H, K, D)
            self._param(f"W_in{l}", D, M)
            self._param(f"b_in{l}", M)
            self._param(f"W_out{l}", M, D)
            self._param(f"b_out{l}", D)
            if c.layer_norm:
                for n in ("ln1", "ln2"):
                    self._param(f"{n}_w{l}", D)
                    self._param(f"{n}_b{l}", D)
        if c.layer_norm:
            self._param("lnf_w", D)
            self._param("lnf_b", D)
        self._param("W_U", D, c.d_vocab_out)

    def init_std(self):
        std = self.config.init_std or 1.0 / math.sqrt(self.config.d_model)
        out = {}
        for n, _ in self.named_parameters():
            if n.startswith("b_") or "_b" in n:
                out[n] = 0.0
            elif "_w" in n:  # LayerNorm gains start at 1: handled in reset_parameters
                out[n] = 0.0
            else:
                out[n] = std
        return out

    @torch.no_grad()
    def reset_parameters(self, seeds=0, init_scale=1.0):
        super().reset_parameters(seeds, init_scale)
        scales = validate.per_member("init_scale", init_scale, self.n_members)
        for n, p in self.named_parameters():
            if "_w" in n:
                p.copy_(torch.tensor(scales, dtype=p.dtype).view(-1, 1).expand_as(p))
        return self

    # ---- pieces -------------------------------------------------------------------------
    def _ln(self, x, name, l=""):
        if not self.config.layer_norm:
            return x
        w = getattr(self, f"{name}_w{l}")
        b = getattr(self, f"{name}_b{l}")
        shape = (w.shape[0],) + (1,) * (x.dim() - 2) + (w.shape[1],)
        return F.layer_norm(x, x.shape[-1:]) * w.view(shape) + b.view(shape)

    def _heads(self, x, W):
        """x (E, N, D), W (E, H, D, K) -> (E, N, H, K)."""
        E, H, D, K = W.shape
        return (x @ W.permute(0, 2, 1, 3).reshape(E, D, H * K)).view(E, x.shape[1], H, K)

    def _mlp(self, x, l):
        act = ACTIVATIONS[self.config.act]
        shape = (x.shape[0],) + (1,) * (x.dim() - 2)
        W_in, W_out = getattr(self, f"W_in{l}"), getattr(self, f"W_out{l}")
        b_in, b_out = getattr(self, f"b_in{l}"), getattr(self, f"b_out{l}")
        flat = x.reshape(x.shape[0], -1, x.shape[-1])
        h = act(flat @ W_in + b_in.view(shape[0], 1, -1))
        self.cache[f"mlp_post{l}"] = h
        return (h @ W_out + b_out.view(shape[0], 1, -1)).view_as(x)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        T = tokens.shape[-1]
        return gather_rows(self.W_E, tokens) + self.W_pos[:, None, :T, :]  # (E, B, T, D)

    # ---- forward ------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        c = self.config
        self.cache = {}
        if c.last_only and c.n_layers == 1:
            return self._forward_last_only(tokens)
        return self._forward_full(tokens)

    def _forward_full(self, tokens):
        c = self.config
        E, B, T = tokens.shape
        H, K = c.n_heads, c.d_head
        resid = self.embed(tokens)
        mask = torch.ones(T, T, dtype=torch.bool, device=tokens.device).tril() if c.causal else None
        for l in range(c.n_layers):
            x = self._ln(resid, "ln1", l).reshape(E, B * T, -1)
            q = self._heads(x, getattr(self, f"W_Q{l}")).view(E, B, T, H, K).transpose(2, 3)
            k = self._heads(x, getattr(self, f"W_K{l}")).view(E, B, T, H, K).transpose(2, 3)
            v = self._heads(x, getattr(self, f"W_V{l}")).view(E, B, T, H, K).transpose(2, 3)
            scores = q @ k.transpose(-1, -2) / math.sqrt(K)  # (E, B, H, T, T)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            pattern = scores.softmax(-1)
            z = (pattern @ v).transpose(2, 3).reshape(E, B * T, H * K)  # (E, BT, HK)
            W_O = getattr(self, f"W_O{l}").reshape(E, H * K, -1)
            resid = resid + (z @ W_O).view(E, B, T, -1)
            resid = resid + self._mlp(self._ln(resid, "ln2", l), l)
        self.cache["attn"] = pattern
        self.cache["attn_query"] = pattern[..., -1, :]
        self.cache["scores_query"] = scores[..., -1, :]
        final = self._ln(resid[:, :, -1], "lnf")
        self.cache["resid_final"] = final
        return final @ self.W_U

    def _forward_last_only(self, tokens):
        """1 layer: only the query position's attention row, MLP and unembedding affect the output.
        Keys and values still use every position. Same function as the full computation."""
        c = self.config
        E, B, T = tokens.shape
        H, K = c.n_heads, c.d_head
        resid = self.embed(tokens)
        x = self._ln(resid, "ln1", 0)
        k = self._heads(x.reshape(E, B * T, -1), self.W_K0).view(E, B, T, H, K)
        v = self._heads(x.reshape(E, B * T, -1), self.W_V0).view(E, B, T, H, K)
        q = self._heads(x[:, :, -1], self.W_Q0)  # (E, B, H, K)
        scores = torch.einsum("ebhk,ebthk->ebht", q, k) / math.sqrt(K)  # causal: last sees all
        pattern = scores.softmax(-1)
        z = torch.einsum("ebht,ebthk->ebhk", pattern, v).reshape(E, B, H * K)
        r = resid[:, :, -1] + z @ self.W_O0.reshape(E, H * K, -1)
        r = r + self._mlp(self._ln(r, "ln2", 0), 0)
        self.cache["attn_query"] = pattern
        self.cache["scores_query"] = scores
        final = self._ln(r, "lnf")
        self.cache["resid_final"] = final
        return final @ self.W_U
