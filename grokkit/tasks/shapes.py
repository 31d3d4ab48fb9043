"""Procedural shape-sum images (spec 04, Sec. 6.3): the task that makes ResNet-18 grok.

A dictionary of `n_shapes` tiles: value 0 is blank, value v >= 1 is a regular polygon with v + 2 sides
(outline + spokes from the centre to every vertex). Every image is a 2x2 grid of dictionary tiles,
label = sum of the four values (0 .. 4 (n_shapes - 1)); all n_shapes^4 grids form the table
(11 shapes -> 14,641 images). Rasterised with numpy (anti-aliased distance-to-segment; no PIL needed,
so images are identical on every machine). `seed` sets each shape's rotation and the random split.
Tables are cached in memory per (n_shapes, image_size, seed, line_width).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate
from .modular import Split


def _segments_image(size: int, segments: np.ndarray, width: float) -> np.ndarray:
    """(size, size) float in [0, 1]: pixels within `width`/2 of any segment (1-pixel soft edge)."""
    c = (np.arange(size) + 0.5)
    py, px = np.meshgrid(c, c, indexing="ij")
    P = np.stack([px, py], -1)[None]  # (1, S, S, 2)
    A = segments[:, None, None, :2]
    B = segments[:, None, None, 2:]
    AB = B - A
    t = np.clip(((P - A) * AB).sum(-1) / np.maximum((AB * AB).sum(-1), 1e-12), 0, 1)
    d = np.linalg.norm(P - (A + t[..., None] * AB), axis=-1).min(0)
    return np.clip(width / 2 + 0.5 - d, 0.0, 1.0)


def shape_tile(value: int, size: int, rotation: float = 0.0, line_width: float | None = None) -> np.ndarray:
    """One dictionary tile (size, size) float32 in [0, 1]: blank for value 0, else a regular polygon with
    value + 2 sides (outline + spokes), centred, radius 0.4 * size, rotated by `rotation` radians."""
    value = validate.integer("value", value, min_value=0)
    size = validate.integer("size", size, min_value=4)
    if value == 0:
        return np.zeros((size, size), np.float32)
    k = value + 2
    w = max(1.0, size / 16) if line_width is None else float(line_width)
    cx = cy = size / 2
    r = 0.4 * size
    ang = rotation - math.pi / 2 + 2 * math.pi * np.arange(k) / k
    vx, vy = cx + r * np.cos(ang), cy + r * np.sin(ang)
    outline = np.stack([vx, vy, np.roll(vx, -1), np.roll(vy, -1)], 1)
    spokes = np.stack([np.full(k, cx), np.full(k, cy), vx, vy], 1)
    return _segments_image(size, np.concatenate([outline, spokes]), w).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _tables(n_shapes: int, image_size: int, seed: int, line_width: float | None):
    tile = image_size // 2
    rng = np.random.default_rng(seed)
    rot = rng.uniform(0, 2 * math.pi, size=n_shapes)
    dictionary = np.stack([shape_tile(v, tile, rot[v], line_width) for v in range(n_shapes)])  # (n, t, t)
    grid = np.stack(np.meshgrid(*[np.arange(n_shapes)] * 4, indexing="ij"), -1).reshape(-1, 4)  # (N, 4)
    img = np.zeros((len(grid), image_size, image_size), np.uint8)
    d8 = np.round(dictionary * 255).astype(np.uint8)
    for q, (r0, c0) in enumerate(((0, 0), (0, tile), (tile, 0), (tile, tile))):
        img[:, r0 : r0 + tile, c0 : c0 + tile] = d8[grid[:, q]]
    return dictionary, grid, img


@dataclass(frozen=True)
class ShapeSumTask:
    """All n_shapes^4 2x2 grids. X: (N, 1, H, W) uint8 (models scale by 1/255); y: (N,) long sums;
    values: (N, 4) the tile values (top-left, top-right, bottom-left, bottom-right)."""

    n_shapes: int = 11
    image_size: int = 224
    seed: int = 0
    line_width: float | None = None
    X: torch.Tensor = field(init=False, repr=False, compare=False)
    y: torch.Tensor = field(init=False, repr=False, compare=False)
    values: torch.Tensor = field(init=False, repr=False, compare=False)
    dictionary: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        validate.integer("n_shapes", self.n_shapes, min_value=2, max_value=11)
        validate.integer("image_size", self.image_size, min_value=8)
        if self.image_size % 2:
            raise ValueError(f"image_size={self.image_size} must be even (2x2 grid of tiles)")
        validate.integer("seed", self.seed)
        dictionary, grid, img = _tables(self.n_shapes, self.image_size, int(self.seed), self.line_width)
        object.__setattr__(self, "dictionary", torch.from_numpy(dictionary))
        object.__setattr__(self, "values", torch.from_numpy(grid.astype(np.int64)))
        object.__setattr__(self, "y", self.values.sum(1))
        object.__setattr__(self, "X", torch.from_numpy(img)[:, None])

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return 4 * (self.n_shapes - 1) + 1

    def split(self, train_frac: float = 0.25, seed: int | None = None) -> Split:
        train_frac = validate.fraction("train_frac", train_frac)
        n = len(self)
        g = torch.Generator().manual_seed(int(self.seed if seed is None else seed))
        perm = torch.randperm(n, generator=g)
        k = int(round(train_frac * n))
        return Split(perm[:k], perm[k:])
