"""Modular arithmetic tasks: a table of (a, b) -> op(a, b) mod p, splits over its rows, token encodings.

The `operation` names are the `operation` parameter everywhere in grokkit and its notebooks.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate

# name -> (description, f(a, b, p) on int64 numpy arrays)
OPERATIONS = {
    "add": ("a+b", lambda a, b, p: (a + b) % p),
    "sub": ("a-b", lambda a, b, p: (a - b) % p),
    "mul": ("a*b", lambda a, b, p: (a * b) % p),
    "div": ("a/b", lambda a, b, p: (a * np.array([pow(int(x), p - 2, p) for x in b], dtype=np.int64)) % p),
    "x2y2": ("a^2+b^2", lambda a, b, p: (a * a + b * b) % p),
    "x2xyy2": ("a^2+ab+b^2", lambda a, b, p: (a * a + a * b + b * b) % p),
    "x3xy": ("a^3+ab", lambda a, b, p: (a * a % p * a + a * b) % p),
    "xpy2": ("(a+b)^2", lambda a, b, p: (a + b) % p * ((a + b) % p) % p),
    "rand": ("random table", None),
}
PAIRS = ("all", "unordered")
ENCODINGS = ("pairs", "onehot", "sequence", "sequence_op")

# Size guards. The table is built from a p x p grid whatever `pairs` is, and keeps a, b, y as int64 (24 bytes a row;
# about 3x that at the peak while building). 2^24 grid rows (p <= 4096) is ~0.4 GiB stored and ~1 GiB at the peak,
# far beyond the papers (p <= 113 is 12,769 rows) and safe on a laptop. A one-hot input table is (rows, 2p) float32.
MAX_TABLE_ROWS = 2**24
MAX_ONEHOT_GIB = 4.0
_ROW_BYTES = 24


def _env_limit(var: str, default: float, kind=int):
    raw = os.environ.get(var)
    if raw is None or raw.strip() == "":
        return default
    try:
        v = kind(raw)
    except ValueError:
        v = -1
    if not v > 0:
        raise ValueError(f"{var}={raw!r} must be a positive {'integer' if kind is int else 'number'}")
    return v


def max_table_rows() -> int:
    """The largest p x p grid a ModularTask may build: GROKKIT_MAX_TABLE_ROWS, default MAX_TABLE_ROWS (2^24)."""
    return _env_limit("GROKKIT_MAX_TABLE_ROWS", MAX_TABLE_ROWS)


def check_table_size(p: int) -> None:
    """Refuse a p whose p^2 table would not fit comfortably in memory (before anything is allocated)."""
    rows, limit = p * p, max_table_rows()
    if rows > limit:
        gib = rows * _ROW_BYTES / 2**30
        raise ValueError(
            f"p={p} gives a table of p^2 = {rows:,} rows (~{gib:,.1f} GiB as int64 a, b, y, more while building); "
            f"the largest allowed is p={math.isqrt(limit)} (p^2 <= {limit:,} rows; "
            "set GROKKIT_MAX_TABLE_ROWS to raise it)"
        )


@dataclass(frozen=True)
class ModularTask:
    """All (a, b) pairs with label op(a, b) mod p.

    pairs: "all" (p^2 rows, or p(p-1) for div where b != 0) or "unordered" (a <= b).
    table_seed: seed of the random table for operation="rand".
    """

    p: int = 97
    operation: str = "add"
    pairs: str = "all"
    table_seed: int = 0
    a: torch.Tensor = field(init=False, repr=False, compare=False)
    b: torch.Tensor = field(init=False, repr=False, compare=False)
    y: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        p = validate.integer("p", self.p, min_value=2)
        validate.choice("operation", self.operation, OPERATIONS)
        validate.choice("pairs", self.pairs, PAIRS)
        if self.operation == "div" and not validate.is_prime(p):
            raise ValueError(f"p={p} must be prime for operation='div' (b needs an inverse mod p)")
        check_table_size(p)
        a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        a, b = a.ravel().astype(np.int64), b.ravel().astype(np.int64)
        keep = np.ones_like(a, dtype=bool)
        if self.pairs == "unordered":
            keep &= a <= b
        if self.operation == "div":
            keep &= b != 0
        a, b = a[keep], b[keep]
        if self.operation == "rand":
            table = np.random.default_rng(self.table_seed).integers(0, p, size=(p, p))
            y = table[a, b]
        else:
            y = OPERATIONS[self.operation][1](a, b, p)
        object.__setattr__(self, "a", torch.from_numpy(a))
        object.__setattr__(self, "b", torch.from_numpy(b))
        object.__setattr__(self, "y", torch.from_numpy(np.asarray(y, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return self.p

    @property
    def description(self) -> str:
        return f"{OPERATIONS[self.operation][0]} mod {self.p}"

    def inputs(self, encoding: str = "pairs") -> torch.Tensor:
        """Model inputs for every row.

        pairs:       (N, 2) long, [a, b] (embedding MLPs, one-hot MLPs index their own weights)
        onehot:      (N, 2p) float, concatenated one-hots
        sequence:    (N, 3) long, [a, b, =] with "=" = p (vocabulary p+1)
        sequence_op: (N, 4) long, [a, op, b, =] with op = p, "=" = p+1 (vocabulary p+2)
        """
        validate.choice("encoding", encoding, ENCODINGS)
        p = self.p
        if encoding == "pairs":
            return torch.stack([self.a, self.b], dim=1)
        if encoding == "onehot":
            gib, limit = len(self) * 2 * p * 4 / 2**30, _env_limit("GROKKIT_MAX_ONEHOT_GIB", MAX_ONEHOT_GIB, float)
            if gib > limit:
                raise ValueError(
                    f"encoding='onehot' for p={p} makes a ({len(self):,}, {2 * p:,}) float32 table of ~{gib:,.1f} GiB; "
                    f"the largest allowed is {limit:g} GiB (set GROKKIT_MAX_ONEHOT_GIB to raise it), or use "
                    "encoding='pairs' (one-hot MLPs index their own weights: the same function)"
                )
            x = torch.zeros(len(self), 2 * p)
            x[torch.arange(len(self)), self.a] = 1.0
            x[torch.arange(len(self)), p + self.b] = 1.0
            return x
        n = len(self)
        if encoding == "sequence":
            return torch.stack([self.a, self.b, torch.full((n,), p)], dim=1)
        return torch.stack([self.a, torch.full((n,), p), self.b, torch.full((n,), p + 1)], dim=1)

    @staticmethod
    def vocab_size(encoding: str, p: int) -> int:
        return {"sequence": p + 1, "sequence_op": p + 2}.get(encoding, p)


@dataclass(frozen=True)
class Split:
    """Row indices of a task table: train and test (disjoint)."""

    train: torch.Tensor
    test: torch.Tensor

    def __post_init__(self):
        object.__setattr__(self, "train", torch.as_tensor(self.train, dtype=torch.long))
        object.__setattr__(self, "test", torch.as_tensor(self.test, dtype=torch.long))

    def __repr__(self) -> str:
        return f"Split(train={len(self.train)}, test={len(self.test)})"


def _perm(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))


def random_split(task: ModularTask, train_frac: float, seed: int = 0) -> Split:
    """A random fraction of the rows for training, the rest for testing (shuffled by seed)."""
    train_frac = validate.fraction("train_frac", train_frac)
    n = len(task)
    n_train = int(round(train_frac * n))
    if not 0 < n_train < n:
        raise ValueError(
            f"train_frac={train_frac} of {n} rows gives {n_train} train and {n - n_train} test rows; both need "
            f"at least one row, so train_frac must lie in [1/{n}, 1 - 1/{n}] = [{1 / n:.4g}, {1 - 1 / n:.4g}]"
        )
    perm = _perm(n, seed)
    return Split(perm[:n_train], perm[n_train:])


def _structured_split(task: ModularTask, held: torch.Tensor, train_frac: float, seed: int,
                      train_all_rest: bool = False) -> Split:
    """Rows in `held` go to test first; train = train_frac of ALL rows drawn from the rest.
    When fewer rows remain: an error, or (`train_all_rest=True`) every remaining row is trained on."""
    train_frac = validate.fraction("train_frac", train_frac)
    n = len(task)
    n_train = int(round(train_frac * n))
    rest = torch.nonzero(~held).flatten()
    if n_train > len(rest) and train_all_rest:
        n_train = len(rest)
    if n_train > len(rest):
        raise ValueError(
            f"train_frac={train_frac} asks for {n_train} training rows but only {len(rest)} remain "
            "outside the held-out block; lower train_frac or k"
        )
    n_test = n - n_train
    if n_train == 0 or n_test == 0:
        raise ValueError(
            f"train_frac={train_frac} of {n} rows gives {n_train} train and {n_test} test rows; both need at least "
            f"one row: raise train_frac (>= 1/{n} = {1 / n:.4g}) or k"
        )
    rest = rest[_perm(len(rest), seed)]
    train = rest[:n_train]
    test = torch.cat([torch.nonzero(held).flatten(), rest[n_train:]])
    return Split(train, test)


def square_split(task: ModularTask, k: int, train_frac: float = 0.3, seed: int = 0,
                 train_all_rest: bool = False) -> Split:
    """SQUARE(k): every (i, j) with 0 <= i, j <= k is test; train = train_frac of p^2 from the rest."""
    k = validate.integer("k", k, min_value=0, max_value=task.p - 1)
    held = (task.a <= k) & (task.b <= k)
    return _structured_split(task, held, train_frac, seed, train_all_rest)


def strip_split(task: ModularTask, k: int, train_frac: float = 0.3, seed: int = 0,
                train_all_rest: bool = False) -> Split:
    """STRIP(k): rows a = 0..k (all b) are test; train = train_frac of p^2 from the rest."""
    k = validate.integer("k", k, min_value=0, max_value=task.p - 1)
    held = task.a <= k
    return _structured_split(task, held, train_frac, seed, train_all_rest)


def subset(indices: torch.Tensor, size: int, seed: int = 0) -> torch.Tensor:
    """A random subset of `size` of the given row indices."""
    size = validate.integer("size", size, min_value=1, max_value=len(indices))
    return indices[_perm(len(indices), seed)[:size]]


SPLITS = ("random", "square", "strip")


def make_split(task: ModularTask, kind: str = "random", *, train_frac: float, k: int = 0, seed: int = 0,
               train_all_rest: bool = False) -> Split:
    validate.choice("split", kind, SPLITS)
    if kind == "random":
        return random_split(task, train_frac, seed)
    return (square_split if kind == "square" else strip_split)(task, k, train_frac, seed, train_all_rest)
