"""The 2-layer DNN baseline of spec 04 (App. D): token embeddings (n_ctx x d_emb, concatenated) ->
d_hidden -> d_hidden -> n_out, ReLU. Ensemble-native; inputs are the transformer's tokens (E, B, n_ctx)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import validate
from .base import EnsembleModule, gather_rows


@dataclass(frozen=True)
class DNNConfig:
    d_vocab: int
    n_out: int
    n_ctx: int = 3
    d_emb: int = 128
    d_hidden: int = 512

    def __post_init__(self):
        for n in ("d_vocab", "n_out", "n_ctx", "d_emb", "d_hidden"):
            validate.integer(n, getattr(self, n), min_value=1)


class DNN(EnsembleModule):
    """(E, B, n_ctx) tokens -> (E, B, n_out). W_E is shared by the positions (like the transformer)."""

    def __init__(self, config: DNNConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        self._param("W_E", c.d_vocab, c.d_emb)
        self._param("W_1", c.n_ctx * c.d_emb, c.d_hidden)
        self._param("b_1", c.d_hidden)
        self._param("W_2", c.d_hidden, c.d_hidden)
        self._param("b_2", c.d_hidden)
        self._param("W_3", c.d_hidden, c.n_out)
        self._param("b_3", c.n_out)

    def init_std(self):
        return {n: 0.0 if n.startswith("b_") else (1.0 if n == "W_E" else 1.0 / math.sqrt(p.shape[1]))
                for n, p in self.named_parameters()}

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        E, B, T = tokens.shape
        x = gather_rows(self.W_E, tokens).reshape(E, B, T * self.config.d_emb)
        h = torch.relu(x @ self.W_1 + self.b_1[:, None])
        h = torch.relu(h @ self.W_2 + self.b_2[:, None])
        return h @ self.W_3 + self.b_3[:, None]

    @torch.no_grad()
    def first_hidden_rows(self, p: int) -> torch.Tensor:
        """ReLU(first layer) for token i in slot 0 alone (other slots zero): (E, p, d_hidden)."""
        d = self.config.d_emb
        return torch.relu(self.W_E[:, :p] @ self.W_1[:, :d] + self.b_1[:, None])
