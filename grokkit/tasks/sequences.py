"""k-sparse distractor sequence tasks (spec 05): a fixed set S of k informative positions determines the
label; every other position before the query "=" holds a distractor token. The model reads its prediction
at the last position (the query).

Like `ModularTask`, a task is a table: `X` (N, T) long tokens, `y` (N,) labels; splits are row indices
(`grokkit.tasks.random_split(task, train_frac, seed)` works on it). The task object knows its informative
positions (`informative`), its oracle attention (`oracle()`: 1/k on S, 0 elsewhere) and its distractor
positions (`distractors`).

Tasks (`task=`):
  "add"    [a, b, d_1 .. d_{T-3}, =], y = a + b mod p                 (S = {0, 1}; rows: all p^2 pairs)
  "mul"    [a, b, d.., =],            y = a * b mod p                 (S = {0, 1})
  "k_add"  [x_1 .. x_k, d.., =],       y = x_1 + .. + x_k mod p        (S = {0..k-1})
  "parity" [b_1 .. b_{T-1}, =] bits,   y = xor of the bits at S        (S = {0..k-1}; other bits are distractors)
  "perm"   [g, h, d.., =] elements of S_n, y = g o h (composition)     (S = {0, 1}; vocabulary n!)
Rows: one per combination of the informative tokens (add/mul: all p^2 pairs); a split (`random_split`) is
therefore a split over those combinations. When the full table has more than `max_rows` rows (k_add with
large p^k, parity with many bits) a random subset of `max_rows` distinct rows is used (seed `distractor_seed`).

Distractors (spec 05, revised) [decided; both kept as parameters]:
  distractor_sampling="resample" (default): the TRAINING rows get fresh distractors at every step, the test rows
      keep the one fixed draw stored in `X`. The redraw is `fit(..., augment=task.resampler(seed))`: a function
      of (seed, step) only, so a resumed run is exact. (`X` always holds one fixed draw per row from
      `distractor_seed`; it is what the test rows see.)
  distractor_sampling="fixed": the first decision, one fixed draw per row for training too (`task.resampler()`
      is then the identity). With p=113 and two distractors a fixed draw makes every training row unique by its
      distractors alone: a memorisation key that never transfers to the test rows (benchmarks/ladder_05.py).
  distractor_vocab="task" (default): distractors are drawn from the task's own tokens (numbers / bits / perms).
  distractor_vocab="separate": distractors get their own ids after the task's tokens (as many as the task
      has), disjoint from every operand/label token; `n_tokens` (and `vocab_size`) grow accordingly.

Informative positions (paper App. F.3 / Fig 8, "dynamic routing") [decided; a parameter]:
  positions="fixed" (default): S = {0..k-1} for every row.
  positions="random": each row places its k informative tokens (in their order) at a random k-subset of the T-1
      positions before the query; the other positions hold distractors. Needs distractor_vocab="separate" (the
      tokens then say which positions are informative; with shared ids the task would be ill-posed). There is no
      fixed S: `informative_mask(x)` / `oracle_of(x)` give the sequence-dependent S and alpha*(x) from the tokens,
      and with distractor_sampling="resample" the resampler redraws the positions too (test rows keep one draw).

Longer test sequences (more distractors at test time): `with_length(L)` is the same task (same rows, same
operands, so the same split indices) with sequence length L: the extra positions are distractors.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import validate

SEQ_TASKS = ("add", "mul", "k_add", "parity", "perm")
DISTRACTOR_SAMPLING = ("resample", "fixed")
DISTRACTOR_VOCAB = ("task", "separate")
POSITIONS = ("fixed", "random")


def _perm_table(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All permutations of n (lexicographic) and the composition table C[i, j] = index of (perm_i o perm_j),
    where (g o h)(x) = g(h(x))."""
    perms = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    index = {tuple(q): i for i, q in enumerate(perms)}
    m = len(perms)
    comp = np.empty((m, m), dtype=np.int64)
    for i in range(m):
        for j in range(m):
            comp[i, j] = index[tuple(perms[i][perms[j]])]
    return perms, comp


@dataclass(frozen=True)
class SequenceTask:
    """A k-sparse sequence classification table with distractors.

    p: modulus for add/mul/k_add (ignored for parity/perm). seq_len: T, the full length including "=".
    k: number of informative positions for k_add / parity (add, mul, perm always use k = 2).
    n_perm: n of S_n for perm (4: 24 elements on CPU; 5: 120, the paper's setting).
    distractor_sampling: "resample" (fresh training distractors every step through `resampler`) or "fixed".
    distractor_vocab: "task" (distractors are task tokens) or "separate" (their own token ids).
    positions: "fixed" (S = {0..k-1}) or "random" (a random k-subset of positions per row; needs "separate").
    """

    task: str = "add"
    p: int = 113
    seq_len: int = 5
    k: int = 2
    n_perm: int = 4
    distractor_seed: int = 0
    max_rows: int = 20000
    distractor_sampling: str = "resample"
    distractor_vocab: str = "task"
    positions: str = "fixed"
    X: torch.Tensor = field(init=False, repr=False, compare=False)
    y: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        validate.choice("task", self.task, SEQ_TASKS)
        validate.integer("p", self.p, min_value=2)
        validate.integer("n_perm", self.n_perm, min_value=2, max_value=6)
        validate.integer("max_rows", self.max_rows, min_value=1)
        validate.choice("distractor_sampling", self.distractor_sampling, DISTRACTOR_SAMPLING)
        validate.choice("distractor_vocab", self.distractor_vocab, DISTRACTOR_VOCAB)
        validate.choice("positions", self.positions, POSITIONS)
        if self.positions == "random" and self.distractor_vocab != "separate":
            raise ValueError('positions="random" needs distractor_vocab="separate": with shared token ids nothing '
                             "tells the informative tokens from the distractors")
        k = self.k if self.task in ("k_add", "parity") else 2
        validate.integer("k", k, min_value=1)
        T = validate.integer("seq_len", self.seq_len, min_value=k + 1)
        object.__setattr__(self, "k", k)
        rng = np.random.default_rng(self.distractor_seed)
        n_tok = self.n_values
        if self.task == "parity":
            n_bits = T - 1
            n_all = 2 ** n_bits
            if n_all <= self.max_rows:
                codes = np.arange(n_all, dtype=np.int64)
            else:
                codes = rng.choice(n_all, size=self.max_rows, replace=False).astype(np.int64)
            bits = (codes[:, None] >> np.arange(n_bits)[None, :]) & 1
            y = bits[:, :k].sum(1) % 2
            body = bits
            if self.distractor_vocab == "separate":  # the distractor bits get their own two ids
                body = np.concatenate([bits[:, :k], bits[:, k:] + self.distractor_offset], axis=1)
        else:
            n_all = n_tok ** k
            if n_all <= self.max_rows:
                codes = np.arange(n_all, dtype=np.int64)
            else:
                codes = np.sort(rng.choice(n_all, size=self.max_rows, replace=False)).astype(np.int64)
            ops = np.stack([(codes // n_tok ** (k - 1 - i)) % n_tok for i in range(k)], axis=1)  # (N, k)
            if self.task == "add":
                y = (ops[:, 0] + ops[:, 1]) % self.p
            elif self.task == "mul":
                y = (ops[:, 0] * ops[:, 1]) % self.p
            elif self.task == "k_add":
                y = ops.sum(1) % self.p
            else:
                _, comp = _perm_table(self.n_perm)
                y = comp[ops[:, 0], ops[:, 1]]
            dis = rng.integers(0, n_tok, size=(len(codes), T - 1 - k)) + self.distractor_offset
            body = np.concatenate([ops, dis], axis=1)
        if self.positions == "random":
            body = _place(body, k, rng.random(body.shape))
        X = np.concatenate([body, np.full((len(body), 1), self.eq_token)], axis=1)
        object.__setattr__(self, "X", torch.from_numpy(np.ascontiguousarray(X, dtype=np.int64)))
        object.__setattr__(self, "y", torch.from_numpy(np.asarray(y, dtype=np.int64)))

    # ---- sizes ---------------------------------------------------------------------------
    @property
    def n_values(self) -> int:
        """The task's own tokens (numbers / bits / permutations): operands and labels are among them."""
        if self.task == "parity":
            return 2
        if self.task == "perm":
            return math.factorial(self.n_perm)
        return self.p

    @property
    def distractor_offset(self) -> int:
        """Distractor token d is stored as id d + offset: 0 for the task's vocabulary, n_values for a separate one."""
        return self.n_values if self.distractor_vocab == "separate" else 0

    @property
    def n_tokens(self) -> int:
        """Content tokens (task tokens, plus the distractors' own ids when distractor_vocab="separate");
        "=" is token n_tokens."""
        return self.n_values + self.distractor_offset

    @property
    def eq_token(self) -> int:
        return self.n_tokens

    @property
    def vocab_size(self) -> int:
        return self.n_tokens + 1

    @property
    def n_classes(self) -> int:
        return 2 if self.task == "parity" else self.n_values

    def __len__(self) -> int:
        return len(self.y)

    # ---- structure -----------------------------------------------------------------------
    @property
    def fixed_positions(self) -> bool:
        return self.positions == "fixed"

    def _need_fixed(self, what: str) -> None:
        if not self.fixed_positions:
            raise ValueError(f'{what} is per sequence for positions="random": use informative_mask(x) / oracle_of(x)')

    @property
    def informative(self) -> tuple[int, ...]:
        """The positions S that determine y (the same for every row: positions="fixed")."""
        self._need_fixed("S")
        return tuple(range(self.k))

    @property
    def query(self) -> int:
        return self.seq_len - 1

    @property
    def distractors(self) -> tuple[int, ...]:
        """Positions before the query that are not in S."""
        return tuple(t for t in range(self.seq_len - 1) if t not in self.informative)

    def informative_mask(self, x: torch.Tensor) -> torch.Tensor:
        """(..., L) tokens -> (..., L) bool: the informative positions of each sequence (any length L; the query
        is the last position). Fixed positions: S; random positions: the task tokens (ids < n_values) before
        the query."""
        L = x.shape[-1]
        before = torch.arange(L, device=x.device) < L - 1
        if self.fixed_positions:
            return (torch.arange(L, device=x.device) < self.k).expand(x.shape)
        return (x < self.n_values) & before

    def oracle_of(self, x: torch.Tensor) -> torch.Tensor:
        """The sequence-dependent oracle alpha*(x): (..., L) float, 1/k on each sequence's informative positions."""
        return self.informative_mask(x).float() / self.k

    def with_length(self, seq_len: int) -> SequenceTask:
        """The same rows (operands, labels, order) with sequence length seq_len: more (or fewer) distractors.
        Not for parity (its rows are all bit strings of length seq_len - 1)."""
        if self.task == "parity":
            raise ValueError("with_length: parity's rows depend on the sequence length")
        return SequenceTask(self.task, p=self.p, seq_len=seq_len, k=self.k, n_perm=self.n_perm,
                            distractor_seed=self.distractor_seed, max_rows=self.max_rows,
                            distractor_sampling=self.distractor_sampling, distractor_vocab=self.distractor_vocab,
                            positions=self.positions)

    def oracle(self) -> torch.Tensor:
        """alpha*: (T,) with 1/k on S and 0 elsewhere."""
        a = torch.zeros(self.seq_len)
        a[list(self.informative)] = 1.0 / self.k
        return a

    def adversarial(self) -> torch.Tensor:
        """Uniform over the distractor positions (the adversarial prior's target)."""
        a = torch.zeros(self.seq_len)
        d = list(self.distractors) or [self.query]
        a[d] = 1.0 / len(d)
        return a

    @property
    def description(self) -> str:
        name = {"add": "a+b mod p", "mul": "a*b mod p", "k_add": f"{self.k}-operand sum mod p",
                "parity": f"parity of {self.k} of {self.seq_len - 1} bits", "perm": f"S_{self.n_perm} composition"}
        d = "" if self.task in ("parity",) else f", p={self.p}" if self.task != "perm" else ""
        n_dis = self.seq_len - 1 - self.k
        dis = f"{n_dis} distractors" + ("" if self.fixed_positions else ", informative positions random per row")
        if n_dis:
            dis += (", resampled every step" if self.distractor_sampling == "resample" else ", fixed per row")
            dis += ", own vocabulary" if self.distractor_vocab == "separate" else ""
        return f"{name[self.task]}{d}, T={self.seq_len} ({dis})"

    def inputs(self) -> torch.Tensor:
        return self.X

    def resampler(self, seed: int = 0) -> DistractorResampler:
        """The training-input transform for `fit(..., augment=task.resampler(seed))`: fresh distractors at every
        step (distractor_sampling="resample"), or the identity ("fixed")."""
        positions = self.distractors if self.fixed_positions else tuple(range(self.seq_len - 1))
        task = (self.task, self.p, self.seq_len, self.k, self.n_perm, self.distractor_vocab)
        return DistractorResampler(
            positions=positions, low=self.distractor_offset, high=self.distractor_offset + self.n_values,
            seed=validate.integer("seed", seed), active=self.distractor_sampling == "resample",
            task=task if self.fixed_positions else (*task, "random"),
            k=0 if self.fixed_positions else self.k)


def _place(body: np.ndarray, k: int, keys: np.ndarray) -> np.ndarray:
    """body (N, n): k informative tokens then the distractors, per row -> the same tokens with the informative
    ones (in their order) at the k positions with the smallest `keys` (N, n), sorted, distractors elsewhere."""
    order = np.argsort(keys, axis=1, kind="stable")
    slots = np.concatenate([np.sort(order[:, :k], axis=1), np.sort(order[:, k:], axis=1)], axis=1)
    out = np.empty_like(body)
    np.put_along_axis(out, slots, body, axis=1)
    return out


@dataclass(frozen=True)
class DistractorResampler:
    """(x, step) -> x' with the distractor positions of x (E, B, T) redrawn uniformly from token ids [low, high),
    from a generator seeded by (seed, step) only: the same step gives the same draw (a resumed run is exact),
    the next step a fresh one. Every member and row gets its own draw. The informative positions and the query
    are untouched, so the labels stay right. `active=False` is the identity (fixed distractors).
    k > 0 (positions="random"): `positions` are all positions before the query; the k tokens below `low` (the
    informative ones, in order) move to a fresh random k-subset of them, the others get fresh distractors."""

    positions: tuple[int, ...]
    low: int
    high: int
    seed: int = 0
    active: bool = True
    task: tuple = ()
    k: int = 0

    @property
    def cache_key(self) -> tuple:
        mode = "resample" if self.active else "fixed"
        return ("SequenceTask.resampler", mode, self.task, tuple(self.positions), self.low, self.high, self.seed)

    def draw(self, shape: tuple[int, ...], step: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, int(step)])
        return torch.from_numpy(rng.integers(self.low, self.high, size=shape, dtype=np.int64))

    def __call__(self, x: torch.Tensor, step: int) -> torch.Tensor:
        if not self.active or not self.positions:
            return x
        pos = list(self.positions)
        x = x.clone()
        if self.k:
            body = x[..., pos]
            ops_first = torch.argsort((body >= self.low).to(torch.int8), dim=-1, stable=True)[..., :self.k]
            ops = body.gather(-1, ops_first).reshape(-1, self.k).cpu().numpy()
            shape = (ops.shape[0], len(pos))
            rng = np.random.default_rng([self.seed, int(step), 1])
            fresh = np.concatenate([ops, rng.integers(self.low, self.high, size=(shape[0], shape[1] - self.k))], 1)
            new = _place(fresh, self.k, rng.random(shape))
            x[..., pos] = torch.from_numpy(new).view(*body.shape).to(x.device)
            return x
        x[..., pos] = self.draw(tuple(x.shape[:-1]) + (len(pos),), step).to(x.device)
        return x
