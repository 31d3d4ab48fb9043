"""2D Ising snapshots for the phase-classification task of spec 03 (L=16, periodic, J=1).

The paper's data (Zenodo) cannot be downloaded here, so snapshots are generated with Glauber dynamics:
every chain starts from random spins (T = infinity) and is updated with the heat-bath (Glauber) rule,
flip with probability 1 / (1 + exp(dE / T)). All chains run at once, and the lattice is updated in a
checkerboard pattern (the two sublattices alternately; spins of one sublattice do not interact, so
updating them together is exact Glauber dynamics with a systematic site order). Runs are deliberately
short (`sweeps` full-lattice updates), so some ordered snapshots are still metastable domain-wall
(stripe) states with low |M| but low energy, as in the paper.

Label 1 = ordered (T < Tc = 2 / ln(1 + sqrt 2)), 0 = disordered. Generated tables are cached as a
compressed .npz (spins bit-packed) under <run store>/datasets (or not cached when the store is off).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import validate

TC = 2.0 / math.log(1.0 + math.sqrt(2.0))


@dataclass(frozen=True)
class IsingConfig:
    """L: linear size; temperatures: n_temps values evenly spaced in [t_min, t_max] [decided: 1.0-3.5];
    per_temp: chains (snapshots) per temperature; sweeps: Glauber sweeps per chain (short on purpose)."""

    L: int = 16
    n_temps: int = 50
    t_min: float = 1.0
    t_max: float = 3.5
    per_temp: int = 26
    sweeps: int = 100
    seed: int = 0

    def __post_init__(self):
        validate.integer("L", self.L, min_value=2)
        if self.L % 2:
            raise ValueError(f"L={self.L} must be even (checkerboard updates on a periodic lattice)")
        validate.integer("n_temps", self.n_temps, min_value=1)
        validate.integer("per_temp", self.per_temp, min_value=1)
        validate.integer("sweeps", self.sweeps, min_value=0)
        validate.number("t_min", self.t_min, min_value=0, strict=True)
        validate.number("t_max", self.t_max, min_value=0, strict=True)
        if self.t_max < self.t_min:
            raise ValueError(f"t_max={self.t_max} < t_min={self.t_min}")

    @property
    def temperatures(self) -> np.ndarray:
        return np.linspace(self.t_min, self.t_max, self.n_temps)


def energy(spins: torch.Tensor) -> torch.Tensor:
    """E = -sum over nearest-neighbour bonds s_i s_j (periodic; each bond once). spins (..., L, L) +-1."""
    s = spins.float()
    return -(s * s.roll(1, -1) + s * s.roll(1, -2)).sum((-1, -2))


def magnetisation(spins: torch.Tensor) -> torch.Tensor:
    """M = sum_i s_i for spins (..., L, L)."""
    return spins.float().sum((-1, -2))


def glauber(temps: torch.Tensor, L: int, sweeps: int, generator: torch.Generator) -> torch.Tensor:
    """Run one chain per entry of `temps` (n,) for `sweeps` checkerboard sweeps from random spins.
    Returns int8 spins (n, L, L)."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # elementwise ops on small tensors: threads only add contention
    try:
        return _glauber(temps, L, sweeps, generator)
    finally:
        torch.set_num_threads(n_threads)


def _glauber(temps, L, sweeps, generator):
    n = temps.shape[0]
    s = (torch.randint(0, 2, (n, L, L), generator=generator, dtype=torch.int8) * 2 - 1).float()
    ii, jj = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
    parity = [((ii + jj) % 2 == c) for c in (0, 1)]
    beta = (1.0 / temps.float()).view(n, 1, 1)
    for _ in range(sweeps):
        for mask in parity:
            nb = s.roll(1, 1) + s.roll(-1, 1) + s.roll(1, 2) + s.roll(-1, 2)
            dE = 2.0 * s * nb  # energy change of flipping each spin
            p_flip = torch.sigmoid(-beta * dE)  # 1 / (1 + exp(dE / T))
            u = torch.rand(s.shape, generator=generator)
            flip = (u < p_flip) & mask
            s = torch.where(flip, -s, s)
    return s.to(torch.int8)


@dataclass(frozen=True)
class IsingTable:
    X: torch.Tensor  # (N, 1, L, L) float +-1
    y: torch.Tensor  # (N,) long: 1 ordered (T < Tc), 0 disordered
    T: torch.Tensor  # (N,) temperature of each snapshot
    energy: torch.Tensor  # (N,)
    magnetisation: torch.Tensor  # (N,)
    config: IsingConfig
    source: str

    def __len__(self):
        return int(self.y.shape[0])


def _cache_key(cfg: IsingConfig) -> str:
    return "ising-" + hashlib.sha256(repr(sorted(asdict(cfg).items())).encode() + b"ising-v1").hexdigest()[:32]


def generate(cfg: IsingConfig) -> np.ndarray:
    """Spins int8 (n_temps * per_temp, L, L), chains ordered temperature-major."""
    g = torch.Generator().manual_seed(int(cfg.seed))
    temps = torch.from_numpy(cfg.temperatures).float().repeat_interleave(cfg.per_temp)
    return glauber(temps, cfg.L, cfg.sweeps, g).numpy()


def load_ising(cfg: IsingConfig = IsingConfig(), cache: bool = True) -> IsingTable:
    """Generate (or load from the run store: checksummed, shared safely by several processes) the snapshot
    table of `cfg`. An unusable store only means the table is generated again."""
    from .. import store as store_mod

    rs = store_mod.resolve("auto") if cache else None
    key, n = _cache_key(cfg), cfg.n_temps * cfg.per_temp
    spins, source = None, "generated"
    if rs is None:
        spins = generate(cfg)
    else:
        with rs.claim(key):  # one process generates, the others wait and load
            rec = rs.load(key, suffix=".dataset")
            if rec is not None:
                bits = rec["spins_bits"]
                spins = np.unpackbits(bits)[: n * cfg.L * cfg.L].reshape(n, cfg.L, cfg.L).astype(np.int8) * 2 - 1
                source = f"cache ({rs.path(key, '.dataset')})"
            else:
                spins = generate(cfg)
                rs.save(key, {"spins_bits": np.packbits(spins > 0), "temps": cfg.temperatures}, suffix=".dataset")
    s = torch.from_numpy(spins.astype(np.int8))
    T = torch.from_numpy(cfg.temperatures).float().repeat_interleave(cfg.per_temp)
    return IsingTable(X=s.float().unsqueeze(1), y=(T < TC).long(), T=T, energy=energy(s),
                      magnetisation=magnetisation(s), config=cfg, source=source)


def ising_split(table: IsingTable, n_train: int = 300, n_test: int = 1000, seed: int = 0):
    """Random disjoint train / test row indices."""
    n = len(table)
    validate.integer("n_train", n_train, min_value=1)
    validate.integer("n_test", n_test, min_value=1)
    if n_train + n_test > n:
        raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the {n} snapshots")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return perm[:n_train], perm[n_train:n_train + n_test]


def ising_dataset(n_train: int = 300, n_test: int = 1000, sweeps: int = 100, seed: int = 0, cache: bool = True):
    """The paper's 300 / 1000 set: 50 temperatures x ceil((n_train + n_test) / 50) chains.
    Returns (table, train_idx, test_idx)."""
    cfg = IsingConfig(per_temp=math.ceil((n_train + n_test) / 50), sweeps=sweeps, seed=seed)
    table = load_ising(cfg, cache=cache)
    tr, te = ising_split(table, n_train, n_test, seed=seed)
    return table, tr, te
