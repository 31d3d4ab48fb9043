"""Feature measures of spec 03: neuron-feature Pearson correlations (Ising) and Fourier IPR (mod-add).

All functions are ensemble-native: activations (E, N, n_neurons), weights (E, ...).
"""
from __future__ import annotations

import torch


def pearson(acts: torch.Tensor, feature: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Pearson correlation of every neuron with a feature over samples.

    acts (..., N, n) pre-activations, feature (N,) -> (..., n). A constant neuron (zero variance)
    gets correlation 0 (it carries no information about the feature)."""
    a = acts.double()
    f = feature.double().to(a.device)
    a = a - a.mean(-2, keepdim=True)
    f = f - f.mean()
    cov = (a * f[:, None]).sum(-2)
    den = a.pow(2).sum(-2).sqrt() * f.pow(2).sum().sqrt()
    return torch.where(den > eps, cov / den.clamp_min(eps), torch.zeros_like(cov)).to(acts.dtype)


def activity_weights(acts: torch.Tensor) -> torch.Tensor:
    """w_n = share of the layer's total |pre-activation| carried by neuron n: (..., N, n) -> (..., n),
    summing to 1 over n."""
    s = acts.abs().double().sum(-2)
    return (s / s.sum(-1, keepdim=True).clamp_min(1e-300)).to(acts.dtype)


def layer_summary(acts: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """Weighted layer summary rho_layer = sum_n w_n |rho_n| (w_n = activity_weights): (..., N, n) -> (...)."""
    return (activity_weights(acts) * pearson(acts, feature).abs()).sum(-1)


def flatten_neurons(pre: torch.Tensor) -> torch.Tensor:
    """(E, B, *neuron dims) -> (E, B, n_neurons): a conv channel at a position is one neuron."""
    return pre.reshape(pre.shape[0], pre.shape[1], -1)


def feature_profile(preacts: dict[str, torch.Tensor], features: dict[str, torch.Tensor]) -> dict:
    """{(layer, feature): (E,) layer summary} for every layer's pre-activations (E, B, ...)."""
    out = {}
    for layer, pre in preacts.items():
        a = flatten_neurons(pre)
        for name, f in features.items():
            out[(layer, name)] = layer_summary(a, f)
    return out


# ---- Fourier IPR ------------------------------------------------------------------------------
def ipr(W: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Inverse participation ratio sum_k |W_k|^4 / (sum_k |W_k|^2)^2 along `dim` (a zero vector gives 0)."""
    p2 = W.abs().double().pow(2)
    num = p2.pow(2).sum(dim)
    den = p2.sum(dim).pow(2)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num)).float()


def fourier_ipr(W: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """IPR of the discrete Fourier transform along `dim` (the residue axis of length p).
    A pure cos/sin of one frequency k != 0 has power at k and p-k only: IPR 0.5; a flat spectrum 1/p."""
    return ipr(torch.fft.fft(W.double(), dim=dim), dim=dim)


def onehot_mlp_ipr(state: dict[str, torch.Tensor], p: int, n_in: int = 2) -> dict[str, torch.Tensor]:
    """Per-neuron Fourier IPR of the one-hot MLP (OneHotMLP parameters W1 (E, n_in*p, h), W2 (E, h, p)).

    Returns {"in_a": (E, h), "in_b": (E, h) [one per input one-hot block], "out": (E, h)}: the DFT runs
    along the p axis of each hidden neuron's input weights from each operand, and of its output weights."""
    W1, W2 = state["W1"].detach(), state["W2"].detach()
    out = {}
    names = ["in_a", "in_b"] if n_in == 2 else [f"in_{i}" for i in range(n_in)]
    for i, name in enumerate(names):
        out[name] = fourier_ipr(W1[:, i * p:(i + 1) * p, :], dim=1)
    out["out"] = fourier_ipr(W2[:, :, :p], dim=2)
    return out


def mean_ipr(iprs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean over neurons and over the weight blocks: (E,)."""
    return torch.stack([v.mean(-1) for v in iprs.values()]).mean(0)
