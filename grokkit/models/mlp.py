"""MLPs: the embedding-sum MLP of spec 01, the one-hot mod-add MLP of spec 03, and a plain dense MLP."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import validate
from .base import EnsembleModule, gather_rows

ACTIVATIONS = {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh}


@dataclass(frozen=True)
class EmbedMLPConfig:
    """logits = ReLU((E_a + E_b) W_in) W_out W_U  (spec 01, Eq. 1; no biases).

    Init N(0, (kappa / sqrt(d_in))^2) per matrix. `reassociate=True` computes the same function as
    (E W_in)[a] + (E W_in)[b] and h (W_out W_U): about 10x fewer FLOPs, same outputs and gradients.

    `embedding="shared"` (the paper's Eq. 1) uses one table for both operands, so the input E_a + E_b is
    symmetric in (a, b) and a non-commutative table (a - b, a / b) cannot be fitted. `"separate"` gives the
    b slot its own table (W_E has 2p rows: row p + b embeds b), i.e. one-hot(a) ++ one-hot(b) times W_E.
    """

    p: int = 67
    d_emb: int = 500
    d_hidden: int = 48
    kappa: float = 1.0
    reassociate: bool = True
    n_out: int | None = None
    embedding: str = "shared"

    def __post_init__(self):
        validate.integer("p", self.p, min_value=2)
        validate.choice("embedding", self.embedding, ("shared", "separate"))
        validate.integer("d_emb", self.d_emb, min_value=1)
        validate.integer("d_hidden", self.d_hidden, min_value=1)
        validate.number("kappa", self.kappa, min_value=0, strict=True)


def token_counts(module, x: torch.Tensor, vocab: int, per_slot: bool = False) -> torch.Tensor:
    """(E, B, n) token ids -> (E, B, vocab) float counts, so that counts @ table = sum of table rows
    (`per_slot=True`: (E, B, n * vocab), slot i's token counted in block i, for per-slot tables).
    A matmul is several times faster than a row gather on CPU (forward and backward). The counts of
    the last two input tensors are cached on `module` (full-batch training feeds the same tensor)."""
    cache = module.__dict__.setdefault("_count_cache", {})
    hit = cache.get(id(x))
    if hit is not None and hit[0] is x and hit[1] == x._version:
        return hit[2]
    onehot = F.one_hot(x, vocab)
    counts = (onehot.flatten(-2) if per_slot else onehot.sum(-2)).to(torch.get_default_dtype())
    if len(cache) >= 2:
        cache.pop(next(iter(cache)))
    cache[id(x)] = (x, x._version, counts)
    return counts


class EmbedMLP(EnsembleModule):
    """Input (E, B, 2) long token pairs -> logits (E, B, n_out)."""

    def __init__(self, config: EmbedMLPConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        n_out = c.n_out or c.p
        self.separate = c.embedding == "separate"
        self.W_E = self._param("W_E", 2 * c.p if self.separate else c.p, c.d_emb)
        self.W_in = self._param("W_in", c.d_emb, c.d_hidden)
        self.W_out = self._param("W_out", c.d_hidden, c.d_emb)
        self.W_U = self._param("W_U", c.d_emb, n_out)

    def init_std(self):
        k, p = self.config.kappa, self.config.p  # W_E: 1/sqrt(p) for both layouts (same scale of E_a + E_b)
        return {n: k / math.sqrt(p if n == "W_E" else w.shape[1]) for n, w in self.named_parameters()}

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation hidden layer (E, B, d_hidden)."""
        if self.config.reassociate:
            EW = self.W_E @ self.W_in  # (E, p, h)
            counts = token_counts(self, x, self.config.p, per_slot=self.separate)
            return counts.to(EW.dtype) @ EW  # = EW[a] + EW[b] (EW[p + b] when separate), one matmul
        off = self.config.p if self.separate else 0
        emb = gather_rows(self.W_E, x[..., 0]) + gather_rows(self.W_E, x[..., 1] + off)  # (E, B, d_emb)
        return emb @ self.W_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.hidden(x))
        if self.config.reassociate:
            return h @ (self.W_out @ self.W_U)
        return (h @ self.W_out) @ self.W_U


@dataclass(frozen=True)
class OneHotMLPConfig:
    """Linear(n_in * p, hidden) - ReLU - Linear(hidden, n_out) with biases (spec 03: 226-512-113,
    174,193 parameters). Xavier-normal weights, zero biases. Accepts token indices (E, B, n_in) long
    (computed as row gathers, the same function as the one-hot product) or one-hot floats (E, B, n_in*p)."""

    p: int = 113
    n_in: int = 2
    d_hidden: int = 512
    n_out: int | None = None

    def __post_init__(self):
        validate.integer("p", self.p, min_value=2)
        validate.integer("d_hidden", self.d_hidden, min_value=1)


class OneHotMLP(EnsembleModule):
    def __init__(self, config: OneHotMLPConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        self.n_out = c.n_out or c.p
        self.W1 = self._param("W1", c.n_in * c.p, c.d_hidden)
        self.b1 = self._param("b1", c.d_hidden)
        self.W2 = self._param("W2", c.d_hidden, self.n_out)
        self.b2 = self._param("b2", self.n_out)

    def init_std(self):
        c = self.config
        return {
            "W1": math.sqrt(2.0 / (c.n_in * c.p + c.d_hidden)),
            "b1": 0.0,
            "W2": math.sqrt(2.0 / (c.d_hidden + self.n_out)),
            "b2": 0.0,
        }

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.long, torch.int32, torch.int64):
            p = self.config.p
            h = sum(gather_rows(self.W1, x[..., i] + i * p) for i in range(self.config.n_in))
        else:
            h = x @ self.W1
        return h + self.b1[:, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.hidden(x)) @ self.W2 + self.b2[:, None, :]


@dataclass(frozen=True)
class MLPConfig:
    """Dense MLP on float inputs (E, B, sizes[0]) -> (E, B, sizes[-1]).

    init "kappa": N(0, (kappa/sqrt(d_in))^2) (spec 01); "xavier": Xavier normal. Biases start at 0.
    """

    sizes: tuple[int, ...] = (784, 200, 200, 10)
    bias: bool = False
    kappa: float = 1.0
    init: str = "kappa"
    act: str = "relu"

    def __post_init__(self):
        if len(self.sizes) < 2:
            raise ValueError(f"sizes={self.sizes} needs at least input and output sizes")
        for s in self.sizes:
            validate.integer("sizes", s, min_value=1)
        validate.choice("init", self.init, ("kappa", "xavier"))
        validate.choice("act", self.act, ACTIVATIONS)
        object.__setattr__(self, "sizes", tuple(int(s) for s in self.sizes))


class MLP(EnsembleModule):
    def __init__(self, config: MLPConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        for i, (a, b) in enumerate(zip(c.sizes[:-1], c.sizes[1:])):
            self._param(f"W{i}", a, b)
            if c.bias:
                self._param(f"b{i}", b)

    def init_std(self):
        c = self.config
        out = {}
        for i, (a, b) in enumerate(zip(c.sizes[:-1], c.sizes[1:])):
            out[f"W{i}"] = c.kappa / math.sqrt(a) if c.init == "kappa" else math.sqrt(2.0 / (a + b))
            if c.bias:
                out[f"b{i}"] = 0.0
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        act = ACTIVATIONS[c.act]
        n = len(c.sizes) - 1
        for i in range(n):
            x = x @ getattr(self, f"W{i}")
            if c.bias:
                x = x + getattr(self, f"b{i}")[:, None, :]
            if i < n - 1:
                x = act(x)
        return x
