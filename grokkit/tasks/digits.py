"""Image classification for the MNIST experiments: a local MNIST file when the user has one, otherwise
scikit-learn's bundled 8x8 digits (nothing is downloaded). `source` says which one ran.

MNIST is looked for at $GROKKIT_MNIST, then data/mnist.npz (keys x_train, y_train, x_test, y_test as in
the Keras file). Pixels are scaled to [0, 1] and flattened.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import validate

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class ImageTable:
    X: torch.Tensor  # (N, d) float in [0, 1]
    y: torch.Tensor  # (N,) long
    n_classes: int
    source: str  # "mnist (<path>)" or "sklearn digits (8x8)"
    image_shape: tuple[int, int]


def find_mnist() -> Path | None:
    for cand in (os.environ.get("GROKKIT_MNIST"), DATA_DIR / "mnist.npz"):
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def load_digits_table(prefer: str = "auto") -> ImageTable:
    """prefer: "auto" (MNIST if found, else sklearn digits), "mnist" (error if absent), "digits"."""
    validate.choice("prefer", prefer, ("auto", "mnist", "digits"))
    path = find_mnist() if prefer in ("auto", "mnist") else None
    if prefer == "mnist" and path is None:
        raise FileNotFoundError("no MNIST file: set GROKKIT_MNIST=/path/to/mnist.npz or put data/mnist.npz")
    if path is not None:
        with np.load(path) as f:
            X = np.concatenate([f["x_train"], f["x_test"]]).reshape(-1, 784).astype(np.float32) / 255.0
            y = np.concatenate([f["y_train"], f["y_test"]]).astype(np.int64)
        return ImageTable(torch.from_numpy(X), torch.from_numpy(y), 10, f"mnist ({path})", (28, 28))
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)
    return ImageTable(torch.from_numpy(X), torch.from_numpy(d.target.astype(np.int64)), 10,
                      "sklearn digits (8x8)", (8, 8))


def train_test_indices(n_rows: int, n_train: int, seed: int = 0, n_test: int | None = None):
    """A random n_train / n_test split of the rows (test = all the rest by default)."""
    n_train = validate.integer("n_train", n_train, min_value=1, max_value=n_rows - 1)
    perm = torch.randperm(n_rows, generator=torch.Generator().manual_seed(int(seed)))
    test = perm[n_train:] if n_test is None else perm[n_train : n_train + n_test]
    return perm[:n_train], test
