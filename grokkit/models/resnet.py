"""ResNet-18 (He et al. 2016; BasicBlock x [2, 2, 2, 2]) without torchvision, ensemble-native.

Every parameter has a leading member axis E. Inputs are (E, B, C, H, W) (float, or uint8 scaled by 1/255).
The E members run as one grouped convolution (groups=E) over (B, E*C, H, W); BatchNorm normalises the
E*C channels separately, so member m is exactly the network it would be alone.

BatchNorm mode: batch statistics when gradients are enabled (the training forward of `fit`), running
statistics otherwise (evaluation under no_grad), so no train()/eval() switching is needed. Evaluations
of large batches run in chunks of `eval_chunk` images (exact, because running statistics are used).

stem: "imagenet" (7x7 stride-2 conv + 3x3 max-pool, the torchvision layout) or "small" (3x3 stride-1
conv, no pool: the usual CIFAR variant for 32-64 px images). width: channels of the first stage
(64 = ResNet-18; smaller values give a narrower network with the same depth for CPU runs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .. import validate
from .base import EnsembleModule

STEMS = ("imagenet", "small")


@dataclass(frozen=True)
class ResNetConfig:
    n_classes: int
    in_channels: int = 1
    width: int = 64
    blocks: tuple[int, ...] = (2, 2, 2, 2)
    stem: str = "imagenet"
    bn_momentum: float = 0.1
    eval_chunk: int = 512

    def __post_init__(self):
        validate.integer("n_classes", self.n_classes, min_value=2)
        validate.integer("in_channels", self.in_channels, min_value=1)
        validate.integer("width", self.width, min_value=1)
        validate.choice("stem", self.stem, STEMS)
        object.__setattr__(self, "blocks", tuple(int(b) for b in self.blocks))
        if not self.blocks or any(b < 1 for b in self.blocks):
            raise ValueError(f"blocks={self.blocks} must be positive block counts per stage")
        validate.integer("eval_chunk", self.eval_chunk, min_value=1)


class ResNet(EnsembleModule):
    """(E, B, C, H, W) images -> (E, B, n_classes) logits."""

    def __init__(self, config: ResNetConfig, n_members: int = 1):
        super().__init__(n_members)
        self.config = c = config
        k = 7 if c.stem == "imagenet" else 3
        self._conv("stem", c.in_channels, c.width, k)
        self._bn("stem_bn", c.width)
        self.plan = []  # (prefix, c_in, c_out, stride, has_downsample)
        c_in = c.width
        for s, n_blocks in enumerate(c.blocks):
            c_out = c.width * 2**s
            for b in range(n_blocks):
                stride = 2 if (b == 0 and s > 0) else 1
                pre = f"s{s}b{b}"
                down = stride != 1 or c_in != c_out
                self._conv(f"{pre}_conv1", c_in, c_out, 3)
                self._bn(f"{pre}_bn1", c_out)
                self._conv(f"{pre}_conv2", c_out, c_out, 3)
                self._bn(f"{pre}_bn2", c_out)
                if down:
                    self._conv(f"{pre}_down", c_in, c_out, 1)
                    self._bn(f"{pre}_downbn", c_out)
                self.plan.append((pre, c_in, c_out, stride, down))
                c_in = c_out
        self._param("fc_W", c_in, c.n_classes)
        self._param("fc_b", c.n_classes)

    def _conv(self, name, c_in, c_out, k):
        self._param(name, c_out, c_in, k, k)

    def _bn(self, name, ch):
        self._param(f"{name}_w", ch)
        self._param(f"{name}_b", ch)
        self.register_buffer(f"{name}_mean", torch.zeros(self.n_members, ch))
        self.register_buffer(f"{name}_var", torch.ones(self.n_members, ch))

    def init_std(self):
        out = {}
        for n, p in self.named_parameters():
            if n.endswith("_w") or n.endswith("_b"):
                out[n] = 0.0  # BN gains are set to 1 below, biases 0
            elif n == "fc_W":
                out[n] = 1.0 / math.sqrt(p.shape[1])
            else:  # kaiming normal, fan_out, ReLU gain (torchvision's ResNet init)
                out[n] = math.sqrt(2.0 / (p.shape[1] * p.shape[3] * p.shape[4]))
        return out

    @torch.no_grad()
    def reset_parameters(self, seeds=0, init_scale=1.0):
        super().reset_parameters(seeds, init_scale)
        for n, p in self.named_parameters():
            if n.endswith("_w") and n != "fc_W":
                p.fill_(1.0)
        for n, b in self.named_buffers():
            b.fill_(1.0 if n.endswith("_var") else 0.0)
        return self

    # ---- pieces -------------------------------------------------------------------------
    def _conv2d(self, x, name, stride=1):
        w = getattr(self, name)  # (E, Co, Ci, k, k)
        E, Co, Ci, k, _ = w.shape
        return F.conv2d(x, w.reshape(E * Co, Ci, k, k), stride=stride, padding=k // 2, groups=E)

    def _batchnorm(self, x, name):
        use_batch = torch.is_grad_enabled()
        return F.batch_norm(x, getattr(self, f"{name}_mean").view(-1), getattr(self, f"{name}_var").view(-1),
                            getattr(self, f"{name}_w").reshape(-1), getattr(self, f"{name}_b").reshape(-1),
                            training=use_batch, momentum=self.config.bn_momentum, eps=1e-5)

    def _forward(self, x):
        E = self.n_members
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        _, B, C, H, W = x.shape
        h = x.permute(1, 0, 2, 3, 4).reshape(B, E * C, H, W)
        h = F.relu(self._batchnorm(self._conv2d(h, "stem", 2 if self.config.stem == "imagenet" else 1), "stem_bn"))
        if self.config.stem == "imagenet":
            h = F.max_pool2d(h, 3, 2, 1)
        for pre, _, _, stride, down in self.plan:
            out = F.relu(self._batchnorm(self._conv2d(h, f"{pre}_conv1", stride), f"{pre}_bn1"))
            out = self._batchnorm(self._conv2d(out, f"{pre}_conv2"), f"{pre}_bn2")
            skip = self._batchnorm(self._conv2d(h, f"{pre}_down", stride), f"{pre}_downbn") if down else h
            h = F.relu(out + skip)
        feat = h.mean((2, 3)).view(B, E, -1).transpose(0, 1)  # (E, B, D)
        self.cache["features"] = feat
        return feat @ self.fc_W + self.fc_b[:, None, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.cache = {}
        B = x.shape[1]
        chunk = self.config.eval_chunk
        if torch.is_grad_enabled() or B <= chunk:
            return self._forward(x)
        return torch.cat([self._forward(x[:, i : i + chunk]) for i in range(0, B, chunk)], dim=1)


def resnet18(n_classes: int, in_channels: int = 1, width: int = 64, stem: str = "imagenet", n_members: int = 1,
             seeds=0) -> ResNet:
    """Build a ResNet-18 ensemble (BasicBlock x [2, 2, 2, 2])."""
    cfg = ResNetConfig(n_classes=n_classes, in_channels=in_channels, width=width, stem=stem)
    return ResNet(cfg, n_members=n_members).reset_parameters(seeds)
