"""A 1-layer Transformer whose query position attends with a fixed distribution (spec 05, Fig 11a: "frozen
oracle attention"). Everything else (embeddings, values, MLP, unembedding) is the plain Transformer's and
trains as usual; W_Q and W_K stay in the graph with a zero weight, so `model.cache["scores_query"]` is
differentiable (the attention probes read it) while the pattern is the fixed one:

    scores = 0 * (q . k) + log(attention)      (log 0 -> -30: a mass of ~1e-13 on those positions)

    model = FrozenAttentionTransformer(cfg, n_members=2, attention=(0.5, 0.5, 0, 0, 0)).reset_parameters([0, 1])
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .transformer import Transformer, TransformerConfig

LOG_ZERO = -30.0


class FrozenAttentionTransformer(Transformer):
    def __init__(self, config: TransformerConfig, n_members: int = 1, attention: Sequence[float] = ()):
        if config.n_layers != 1 or not config.last_only or config.layer_norm:
            raise ValueError("FrozenAttentionTransformer needs a 1-layer, last_only Transformer without LayerNorm")
        a = tuple(float(x) for x in attention)
        if len(a) != config.n_ctx or any(x < 0 for x in a) or abs(sum(a) - 1) > 1e-6:
            raise ValueError(f"attention={attention} must be a probability vector over the {config.n_ctx} positions")
        super().__init__(config, n_members)
        self.attention = a
        self._logits = torch.tensor([math.log(x) if x > 0 else LOG_ZERO for x in a])

    def _forward_last_only(self, tokens):
        c = self.config
        E, B, T = tokens.shape
        H, K = c.n_heads, c.d_head
        resid = self.embed(tokens)
        k = self._heads(resid.reshape(E, B * T, -1), self.W_K0).view(E, B, T, H, K)
        v = self._heads(resid.reshape(E, B * T, -1), self.W_V0).view(E, B, T, H, K)
        q = self._heads(resid[:, :, -1], self.W_Q0)  # (E, B, H, K)
        learned = torch.einsum("ebhk,ebthk->ebht", q, k) / math.sqrt(K)
        scores = 0.0 * learned + self._logits.to(learned)[:T]
        pattern = scores.softmax(-1)
        z = torch.einsum("ebht,ebthk->ebhk", pattern, v).reshape(E, B, H * K)
        r = resid[:, :, -1] + z @ self.W_O0.reshape(E, H * K, -1)
        r = r + self._mlp(r, 0)
        self.cache["attn_query"] = pattern
        self.cache["scores_query"] = scores
        self.cache["resid_final"] = r
        return r @ self.W_U
