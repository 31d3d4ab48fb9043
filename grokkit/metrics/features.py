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


def dominant_feature_share(acts: torch.Tensor, features: dict[str, torch.Tensor], eps: float = 1e-12) -> dict:
    """Paper 03's "which feature does a layer learn" count: for every live neuron, the feature with the largest
    |Pearson rho|; returns {feature: (...,) share of the layer's live neurons for which it is the largest}.

    acts (..., N, n). Dead (constant) neurons carry no feature and are left out; a layer with no live neuron
    gets share 0 for every feature. Ties go to the feature listed first."""
    names = list(features)
    rho = torch.stack([pearson(acts, features[k]).abs() for k in names], -1)  # (..., n, F)
    live = acts.double().var(-2) > eps  # (..., n)
    top = rho.argmax(-1)  # (..., n)
    n_live = live.sum(-1).clamp_min(1)
    return {k: ((top == i) & live).sum(-1).to(acts.dtype) / n_live for i, k in enumerate(names)}


def threshold_accuracy(f_train: torch.Tensor, y_train: torch.Tensor, f_test: torch.Tensor,
                       y_test: torch.Tensor) -> tuple[float, float]:
    """Best one-feature classifier for binary labels: the threshold (and direction) on a scalar feature with the
    highest train accuracy, and that rule's (train, test) accuracy. The Ising baseline "what can |M| alone
    reach?" (thresholds are midpoints between sorted train values; ties in train accuracy go to the lowest)."""
    f, y = f_train.double().flatten(), y_train.flatten().long()
    if f.numel() != y.numel() or f_test.numel() != y_test.numel():
        raise ValueError("feature and label tensors must have the same number of samples")
    if f.numel() == 0 or f_test.numel() == 0:
        raise ValueError("threshold_accuracy needs at least one train and one test sample")
    v = torch.unique(f)
    cuts = torch.cat([v[:1] - 1, (v[1:] + v[:-1]) / 2, v[-1:] + 1])
    above = (f[None, :] > cuts[:, None]).long()  # (n_cuts, N)
    acc_up = (above == y).double().mean(1)  # predict 1 above the cut
    acc = torch.stack([acc_up, 1 - acc_up])  # (2, n_cuts): up / down
    k = int(acc.flatten().argmax())
    direction, cut = divmod(k, len(cuts))
    pred = (f_test.double().flatten() > cuts[cut]).long()
    if direction:
        pred = 1 - pred
    return float(acc.flatten()[k]), float((pred == y_test.flatten().long()).double().mean())


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
