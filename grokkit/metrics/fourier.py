"""Periodicity of weight rows: Fourier spectra and Fourier entropy (spec 01 Fig 8).

Input: a matrix whose ROWS are functions on Z_p (e.g. (W_E W_in)^T: one row of p input weights per hidden
neuron). The spectrum of a row is |DFT| at frequencies `first .. first + n_bins - 1`, normalised to sum 1.

- `shannon`: the true Shannon entropy -sum q log q (nats) of that distribution; 0 for a single frequency,
  log(n_bins) for a flat spectrum.
- `repo`: the value the authors' code computes (torch cross_entropy(q, q) with q used as LOGITS):
  logsumexp(q) - sum q^2. It is NOT an entropy: it ranges from log(n_bins - 1 + e) - 1 (one frequency; 2.518 for
  32 bins) to log(n_bins) (flat; 3.466 for 32 bins), which is why the paper's Fig 8 axis spans ~3.2-3.45.
  [decided] The repo takes bins 1..32 at p = 67; `repo_bins(p)` = p // 2 - 1 reproduces that count for any p.
"""
from __future__ import annotations

import torch

KINDS = ("shannon", "repo")


def repo_bins(p: int) -> int:
    return p // 2 - 1


def spectrum(rows: torch.Tensor, first: int = 1, n_bins: int | None = None) -> torch.Tensor:
    """rows (..., d) -> normalised |DFT| (..., n_bins); default: every non-constant frequency 1..(d-1)//2."""
    d = rows.shape[-1]
    n_bins = (d - 1) // 2 if n_bins is None else int(n_bins)
    if first < 0 or n_bins < 1 or first + n_bins > d // 2 + 1:
        raise ValueError(f"frequencies {first}..{first + n_bins - 1} do not fit a length-{d} signal")
    amp = torch.fft.rfft(rows.double(), dim=-1).abs()[..., first : first + n_bins]
    return amp / amp.sum(-1, keepdim=True).clamp(min=1e-300)


def entropy(rows: torch.Tensor, kind: str = "shannon", first: int = 1, n_bins: int | None = None,
            reduce: str = "mean") -> torch.Tensor:
    """Fourier entropy of each row (reduce="none": shape rows.shape[:-1]) or its mean over the last row axis
    (reduce="mean": shape rows.shape[:-2])."""
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not allowed; choose one of {list(KINDS)}")
    q = spectrum(rows, first, n_bins)
    if kind == "shannon":
        h = -(q * torch.log(q.clamp(min=1e-300))).sum(-1)
    else:
        h = torch.logsumexp(q, -1) - (q * q).sum(-1)
    if reduce == "none":
        return h
    if reduce != "mean":
        raise ValueError(f"reduce={reduce!r}; choose 'mean' or 'none'")
    return h.mean(-1)


def embed_mlp_rows(state: dict[str, torch.Tensor], p: int | None = None) -> torch.Tensor:
    """(E, d_hidden, p): the input weights of each hidden neuron of spec 01's MLP, (W_E W_in)^T.

    With separate operand tables (W_E has 2p rows; pass `p`) each neuron gives two functions on Z_p, its a-slot
    and its b-slot weights: (E, 2 d_hidden, p)."""
    rows = (state["W_E"] @ state["W_in"]).transpose(-1, -2)
    if p is not None and rows.shape[-1] == 2 * p:
        rows = torch.cat([rows[..., :p], rows[..., p:]], dim=-2)
    elif p is not None and rows.shape[-1] != p:
        raise ValueError(f"W_E has {rows.shape[-1]} rows, expected p={p} or 2p={2 * p}")
    return rows


def embed_mlp_entropy(state: dict[str, torch.Tensor], kind: str = "shannon", p: int | None = None) -> torch.Tensor:
    """(E,) mean Fourier entropy of the rows of W_in_proj = (W_E W_in)^T (repo bins for kind='repo')."""
    rows = embed_mlp_rows(state, p)
    p = rows.shape[-1]
    n_bins = repo_bins(p) if kind == "repo" else None
    return entropy(rows, kind, n_bins=n_bins)
