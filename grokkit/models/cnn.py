"""The Ising CNN of spec 03, ensemble-native.

Conv(1->2, 3x3, pad 1) - ReLU - MaxPool2 - Conv(2->4, 3x3, pad 1) - ReLU - MaxPool2 - flatten (64 for L=16)
- Linear(64, 100) - ReLU - Linear(100, 2): 6,798 parameters for L=16.

All E members run at once: the member axis is folded into the channel axis and the convolutions are
grouped (groups=E), so member m only ever sees its own channels; the dense layers are batched matmuls.
Inputs (E, B, 1, L, L) -> logits (E, B, n_out). Init: N(0, 1/(3 fan_in)) for weights and biases (the
variance of PyTorch's default uniform init, drawn normal as every grokkit model is) [decided].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import validate
from .base import EnsembleModule


@dataclass(frozen=True)
class IsingCNNConfig:
    L: int = 16
    channels: tuple[int, int] = (2, 4)
    kernel: int = 3
    d_hidden: int = 100
    n_out: int = 2

    def __post_init__(self):
        validate.integer("L", self.L, min_value=4)
        if self.L % 4:
            raise ValueError(f"L={self.L} must be divisible by 4 (two 2x2 max-pools)")
        if len(self.channels) != 2:
            raise ValueError(f"channels={self.channels} must have two entries")
        object.__setattr__(self, "channels", tuple(validate.integer("channels", c, min_value=1)
                                                   for c in self.channels))
        validate.integer("kernel", self.kernel, min_value=1)
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel={self.kernel} must be odd ('same' padding)")
        validate.integer("d_hidden", self.d_hidden, min_value=1)
        validate.integer("n_out", self.n_out, min_value=1)

    @property
    def flat(self) -> int:
        return self.channels[1] * (self.L // 4) ** 2


LAYERS = ("conv1", "conv2", "fc1", "fc2")


class IsingCNN(EnsembleModule):
    def __init__(self, config: IsingCNNConfig = IsingCNNConfig(), n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        c1, c2 = c.channels
        k = c.kernel
        self._param("conv1_w", c1, 1, k, k)
        self._param("conv1_b", c1)
        self._param("conv2_w", c2, c1, k, k)
        self._param("conv2_b", c2)
        self._param("fc1_w", c.flat, c.d_hidden)
        self._param("fc1_b", c.d_hidden)
        self._param("fc2_w", c.d_hidden, c.n_out)
        self._param("fc2_b", c.n_out)

    def init_std(self):
        c = self.config
        k2 = c.kernel**2
        fan = {"conv1": k2, "conv2": c.channels[0] * k2, "fc1": c.flat, "fc2": c.d_hidden}
        return {f"{layer}_{t}": 1.0 / math.sqrt(3 * fan[layer]) for layer in fan for t in ("w", "b")}

    def _conv(self, x, w, b):
        """x (B, E*C_in, H, W), w (E, C_out, C_in, k, k) -> (B, E*C_out, H, W)."""
        E = self.n_members
        return F.conv2d(x, w.reshape(E * w.shape[1], *w.shape[2:]), b.reshape(-1),
                        padding=self.config.kernel // 2, groups=E)

    def preactivations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's pre-activation: conv1 (E, B, c1, L, L), conv2 (E, B, c2, L/2, L/2),
        fc1 (E, B, d_hidden), fc2 = logits (E, B, n_out)."""
        E, B = x.shape[:2]
        L = self.config.L
        c1, c2 = self.config.channels
        h = x.reshape(E, B, L, L).transpose(0, 1)  # (B, E, L, L): member = group, 1 channel each
        z1 = self._conv(h, self.conv1_w, self.conv1_b)  # (B, E*c1, L, L)
        h = F.max_pool2d(torch.relu(z1), 2)
        z2 = self._conv(h, self.conv2_w, self.conv2_b)  # (B, E*c2, L/2, L/2)
        h = F.max_pool2d(torch.relu(z2), 2)  # (B, E*c2, L/4, L/4)
        flat = h.reshape(B, E, -1).transpose(0, 1)  # (E, B, c2 * (L/4)^2), channel-major like nn.Flatten
        z3 = flat @ self.fc1_w + self.fc1_b[:, None, :]
        z4 = torch.relu(z3) @ self.fc2_w + self.fc2_b[:, None, :]
        return {
            "conv1": z1.reshape(B, E, c1, L, L).transpose(0, 1),
            "conv2": z2.reshape(B, E, c2, L // 2, L // 2).transpose(0, 1),
            "fc1": z3,
            "fc2": z4,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.preactivations(x)["fc2"]
