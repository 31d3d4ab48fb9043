"""Pruning masks: per-parameter boolean tensors with the ensemble axis first (E, ...), True = kept.

`rate` is always the fraction REMOVED (k in spec 01; the authors' repo calls the kept fraction
"sparsity": we do not). Masks are plain dicts {param name: bool tensor}, ready for fit(masks=...).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch

from . import validate

Masks = dict[str, torch.Tensor]
SCOPES = ("global", "layer")


def _select(state: dict[str, torch.Tensor], names: Iterable[str] | None) -> dict[str, torch.Tensor]:
    names = list(state) if names is None else list(names)
    missing = [n for n in names if n not in state]
    if missing:
        raise KeyError(f"no parameters {missing}; have {list(state)}")
    return {n: state[n].detach() for n in names}


def _keep_top(scores: torch.Tensor, n_keep: torch.Tensor | int) -> torch.Tensor:
    """scores (E, N) -> bool (E, N) keeping the n_keep largest per row (ties broken by index)."""
    E, N = scores.shape
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(N, device=scores.device).expand(E, N))
    n_keep = torch.as_tensor(n_keep, device=scores.device).reshape(-1, 1)
    return ranks < n_keep


def masks_from_scores(scores: dict[str, torch.Tensor], rate: float, scope: str = "global") -> Masks:
    """Keep the (1 - rate) highest-scoring weights per member, over all given parameters together
    (global) or per parameter (layer). Exactly round(rate * n) weights are removed in each pool."""
    rate = validate.fraction("rate", rate, closed_low=True)
    validate.choice("scope", scope, SCOPES)
    if scope == "layer":
        out = {}
        for n, s in scores.items():
            flat = s.reshape(s.shape[0], -1).float()
            n_keep = flat.shape[1] - int(round(rate * flat.shape[1]))
            out[n] = _keep_top(flat, n_keep).reshape(s.shape)
        return out
    names = list(scores)
    flat = torch.cat([scores[n].reshape(scores[n].shape[0], -1).float() for n in names], dim=1)
    n_keep = flat.shape[1] - int(round(rate * flat.shape[1]))
    keep = _keep_top(flat, n_keep)
    out, i = {}, 0
    for n in names:
        k = scores[n][0].numel()
        out[n] = keep[:, i : i + k].reshape(scores[n].shape)
        i += k
    return out


def magnitude(state: dict[str, torch.Tensor], rate: float, scope: str = "global",
              names: Iterable[str] | None = None) -> Masks:
    """Remove the fraction `rate` of weights with the smallest |theta| (global over `names`, or per layer)."""
    return masks_from_scores({n: t.abs() for n, t in _select(state, names).items()}, rate, scope)


def random(state: dict[str, torch.Tensor], rate: float, seed: int = 0, scope: str = "layer",
           names: Iterable[str] | None = None) -> Masks:
    """Random masks removing `rate` of the weights (per layer by default)."""
    g = torch.Generator().manual_seed(int(seed))
    sel = _select(state, names)
    return masks_from_scores({n: torch.rand(t.shape, generator=g) for n, t in sel.items()}, rate, scope)


def apply(state: dict[str, torch.Tensor], masks: Masks) -> dict[str, torch.Tensor]:
    """theta * mask for masked parameters (others unchanged); new tensors."""
    return {n: (t * masks[n].to(t.dtype)) if n in masks else t.clone() for n, t in state.items()}


def sparsity(masks: Masks) -> torch.Tensor:
    """Fraction removed per member (E,) over all masked parameters."""
    kept = sum(m.reshape(m.shape[0], -1).sum(1) for m in masks.values())
    total = sum(m[0].numel() for m in masks.values())
    return 1.0 - kept.float() / total


def revive_dead_units(masks: Masks, w_in: str = "W_in",
                      w_out: str = "W_out") -> tuple[Masks, torch.Tensor, torch.Tensor]:
    """The authors' `relive_neurons()` (run after pruning, before retraining): a hidden unit whose input weights
    were all removed gets its whole input column back, and one whose output weights were all removed gets its
    output row back. w_in is (E, d_in, h) and w_out is (E, h, d_out) (x @ W). Returns the new masks and the
    counts of units revived on each side per member (E,)."""
    m_in, m_out = masks[w_in], masks[w_out]
    if m_in.dim() != 3 or m_out.dim() != 3 or m_in.shape[2] != m_out.shape[1]:
        raise ValueError(f"{w_in} {tuple(m_in.shape)} and {w_out} {tuple(m_out.shape)} are not (E, d_in, h) and "
                         "(E, h, d_out) with the same h")
    dead_in, dead_out = ~m_in.any(dim=1), ~m_out.any(dim=2)  # (E, h) each
    out = dict(masks)
    out[w_in] = m_in | dead_in[:, None, :]
    out[w_out] = m_out | dead_out[:, :, None]
    return out, dead_in.sum(1), dead_out.sum(1)


def norm_ratio(state: dict[str, torch.Tensor], masks: Masks, p: float = 2.0) -> torch.Tensor:
    """r_p = ||theta * m||_p / ||theta||_p per member (E,), over the masked parameters (spec 01 Fig 5a/6)."""
    num = sum(((state[n] * m).abs() ** p).reshape(m.shape[0], -1).sum(1) for n, m in masks.items())
    den = sum((state[n].abs() ** p).reshape(m.shape[0], -1).sum(1) for n, m in masks.items())
    return (num / den) ** (1.0 / p)


# ---- pruning at initialisation (spec 01 Fig 5b) ------------------------------------------------
# Each returns a mask from a saliency score computed on the member's own training rows; the model's
# parameters are not changed. All members are scored at once (the ensemble's losses are summed, and
# members do not share parameters, so each member's gradient is its own).
PAI_METHODS = ("random", "snip", "grasp", "synflow")


def _train_batch(model, data):
    """Each member's training rows: idx (E, N), valid (E, N), counts (E,) on the model's device."""
    from .data import padded

    dev = next(model.parameters()).device
    idx, valid, counts = padded(data.train, dev)
    E = model.n_members
    if idx.shape[0] == 1 and E > 1:
        idx, valid, counts = idx.expand(E, -1), valid.expand(E, -1), counts.expand(E)
    elif idx.shape[0] != E:
        raise ValueError(f"data has {idx.shape[0]} members but the model has {E}")
    return idx, valid, counts


def _member_loss(model, data, loss: str = "ce", temperature: float = 1.0) -> torch.Tensor:
    """Per-member mean training loss (E,) on each member's own training rows (full batch),
    with the logits divided by `temperature`."""
    idx, valid, counts = _train_batch(model, data)
    dev = idx.device
    X, Y = data.X.to(dev), data.y.to(dev)
    x = X[idx]
    y = torch.gather(Y, 1, idx) if data.per_member_labels else Y[idx]
    logits = model(x) / temperature
    w = valid.float() / counts[:, None].float()
    E, B = w.shape
    if data.is_classification and loss == "ce":
        per = torch.nn.functional.cross_entropy(logits.reshape(E * B, -1), y.reshape(-1), reduction="none")
    elif data.is_classification:
        target = torch.nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)
        per = (logits - target).pow(2).mean(-1)
    else:
        per = (logits.reshape(y.shape) - y.to(logits.dtype)).pow(2).reshape(E, B, -1).mean(-1)
    return (per.reshape(E, B) * w).sum(1)


def _params(model, names):
    named = dict(model.named_parameters())
    names = list(named) if names is None else list(names)
    missing = [n for n in names if n not in named]
    if missing:
        raise KeyError(f"no parameters {missing}; have {list(named)}")
    return names, [named[n] for n in names]


def snip_scores(model, data, names: Iterable[str] | None = None, loss: str = "ce") -> dict[str, torch.Tensor]:
    """SNIP saliency |dL/dtheta * theta| (Lee et al. 2019)."""
    names, ps = _params(model, names)
    grads = torch.autograd.grad(_member_loss(model, data, loss).sum(), ps)
    return {n: (g * p).abs().detach() for n, g, p in zip(names, grads, ps)}


def grasp_scores(model, data, names: Iterable[str] | None = None, loss: str = "ce",
                 temperature: float = 200.0) -> dict[str, torch.Tensor]:
    """GraSP score -(H g) * theta (Wang et al. 2020), with the logits divided by `temperature`.
    GraSP removes the weights with the HIGHEST score (their removal reduces gradient flow the least)."""
    names, ps = _params(model, names)
    g = torch.autograd.grad(_member_loss(model, data, loss, temperature).sum(), ps)
    g = [x.detach() for x in g]
    g2 = torch.autograd.grad(_member_loss(model, data, loss, temperature).sum(), ps, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(g2, g))
    hg = torch.autograd.grad(z, ps)
    return {n: (-(h * p)).detach() for n, h, p in zip(names, hg, ps)}


def synflow_scores(model, data, names: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """SynFlow saliency |dR/dtheta * theta| with R = sum of the outputs of the network with |theta|
    (Tanaka et al. 2020), one iteration, evaluated on the real training batch (spec 01)."""
    names, ps = _params(model, names)
    all_p = dict(model.named_parameters())
    saved = {n: p.detach().clone() for n, p in all_p.items()}
    try:
        with torch.no_grad():
            for p in all_p.values():
                p.abs_()
        idx, _, _ = _train_batch(model, data)
        out = model(data.X.to(idx.device)[idx])
        grads = torch.autograd.grad(out.double().sum(), ps)
        scores = {n: (g * p).abs().detach() for n, g, p in zip(names, grads, ps)}
    finally:
        with torch.no_grad():
            for n, p in all_p.items():
                p.copy_(saved[n])
    return scores


def at_init(method: str, model, data, rate: float, *, scope: str = "global", names: Iterable[str] | None = None,
            seed: int = 0, loss: str = "ce", temperature: float = 200.0) -> Masks:
    """Pruning-at-initialisation masks: "random", "snip", "grasp" or "synflow" (spec 01 Fig 5b).
    `rate` = fraction removed, global over `names` (default all parameters) or per layer."""
    validate.choice("method", method, PAI_METHODS)
    if method == "random":
        return random(dict(model.named_parameters()), rate, seed=seed, scope=scope, names=names)
    if method == "snip":
        scores = snip_scores(model, data, names, loss)
    elif method == "grasp":
        scores = {n: -s for n, s in grasp_scores(model, data, names, loss, temperature).items()}
    else:
        scores = synflow_scores(model, data, names)
    return masks_from_scores(scores, rate, scope)


# ---- comparing masks --------------------------------------------------------------------------
def stack(masks_list: list[Masks]) -> Masks:
    """Concatenate masks along the member axis (e.g. one mask per pruning rate -> one ensemble)."""
    return {n: torch.cat([m[n] for m in masks_list]) for n in masks_list[0]}
