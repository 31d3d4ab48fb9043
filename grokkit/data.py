"""Training data for an ensemble: one shared table of rows, per-member train/test row indices
(and optionally per-member labels, e.g. random-label memorisation nets)."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def _as_index_list(idx, n_members: int, name: str) -> list[torch.Tensor]:
    if isinstance(idx, torch.Tensor) and idx.dim() == 1:
        return [idx.long()] * n_members
    out = [torch.as_tensor(i, dtype=torch.long) for i in idx]
    if len(out) != n_members:
        raise ValueError(f"{name} has {len(out)} index sets but the ensemble has {n_members} members")
    return out


@dataclass
class Data:
    """X: (n_rows, ...) inputs; y: (n_rows,) labels or targets, or (E, n_rows) per member;
    train / test: one index tensor for all members, or a list with one per member."""

    X: torch.Tensor
    y: torch.Tensor
    train: torch.Tensor | Sequence[torch.Tensor]
    test: torch.Tensor | Sequence[torch.Tensor]
    n_members: int = 1

    def __post_init__(self):
        if isinstance(self.train, (list, tuple)) and self.n_members == 1:
            self.n_members = len(self.train)
        self.train = _as_index_list(self.train, self.n_members, "train")
        self.test = _as_index_list(self.test, self.n_members, "test")
        n = self.X.shape[0]
        E = self.n_members
        if self.y.shape[0] == n:
            self.per_member_labels = False
        elif self.y.dim() >= 2 and tuple(self.y.shape[:2]) == (E, n):
            self.per_member_labels = True
        else:
            raise ValueError(f"y has shape {tuple(self.y.shape)}; expected ({n}, ...) or ({E}, {n}, ...)")
        for name, sets in (("train", self.train), ("test", self.test)):
            for s in sets:
                if len(s) and (int(s.min()) < 0 or int(s.max()) >= n):
                    raise ValueError(f"{name} indices fall outside the {n} rows of X")
        if any(len(s) == 0 for s in self.train):
            raise ValueError("every member needs at least one training row")

    @property
    def is_classification(self) -> bool:
        return self.y.dtype == torch.long

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for t in [self.X, self.y, *self.train, *self.test]:
            h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()


def padded(sets: list[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-member index sets -> idx (E, N_max) (padding repeats row 0 of each set),
    valid (E, N_max) bool, counts (E,)."""
    E = len(sets)
    n_max = max(len(s) for s in sets)
    idx = torch.zeros(E, n_max, dtype=torch.long)
    valid = torch.zeros(E, n_max, dtype=torch.bool)
    for m, s in enumerate(sets):
        idx[m, : len(s)] = s
        if len(s):
            idx[m, len(s):] = s[0]
        valid[m, : len(s)] = True
    counts = valid.sum(1)
    return idx.to(device), valid.to(device), counts.to(device)
