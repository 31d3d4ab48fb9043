"""Theorems D.1 and D.4 of Varma et al. (2023), checked numerically.

Thm D.4 (allocation): circuits C_i that produce the same logits on the training set, mixed as
f = sum_i w_i C_i, with loss L(w) = L_train(sum_i w_i) + alpha/q sum_i (w_i^(1/kappa) P_i)^q, w_i >= 0.
  kappa >= q: the global minimum puts all weight on the circuit(s) of minimal P_i (winner takes all);
  kappa <  q: w_i* ∝ P_i^(-q kappa / (q - kappa))   (kappa = 1.2, q = 2: w ∝ P^-3).
`minimise_allocation` finds the minimum by direct numerical minimisation (scipy L-BFGS-B with the bounds
w_i >= 0, several starts, best kept) without using the theorem; `check_allocation` fits the exponent.
L_train here is the cross-entropy of a classifier with perfect accuracy and unit margin scaled by s = sum w:
log(1 + (n_classes - 1) exp(-s)), bounded below by 0 as the theorem assumes.

Thm D.1 (logit scaling): if f classifies every training point correctly, xent(c f) < xent(f) for c > 1.
`logit_scaling_losses` evaluates xent(c f) for a grid of c on a trained network's logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

from .. import validate


def allocation_exponent(kappa: float, q: float) -> float:
    """The exponent of Thm D.4 case 2: w_i* ∝ P_i^exponent (only meaningful for kappa < q)."""
    if kappa >= q:
        raise ValueError(f"kappa={kappa} >= q={q}: winner takes all, there is no power law")
    return -q * kappa / (q - kappa)


def _loss_and_grad(w, P, kappa, q, alpha, n_classes):
    s = w.sum()
    # L_train(s) = log(1 + (n-1) e^-s), stable form
    z = np.log(n_classes - 1) - s
    l_train = np.logaddexp(0.0, z)
    d_train = -1.0 / (1.0 + np.exp(-z))  # dL/ds = -sigmoid(z)
    r = q / kappa
    wp = np.power(np.maximum(w, 0.0), r)
    l_wd = alpha / q * np.sum(wp * P**q)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_wd = np.where(w > 0, alpha / q * r * np.power(np.maximum(w, 1e-300), r - 1) * P**q, 0.0)
    return l_train + l_wd, d_train + d_wd


def minimise_allocation(P, kappa: float, q: float = 2.0, alpha: float = 0.01, n_classes: int = 113,
                        n_starts: int = 8, seed: int = 0) -> np.ndarray:
    """argmin_{w >= 0} L(w), found numerically: w = u^2 (so the bound w >= 0 holds) and BFGS over u from
    `n_starts` starts (uniform + random) plus one start per circuit holding most of the weight; the lowest
    loss wins. (L-BFGS-B on w directly stalls when kappa > q: the penalty's slope is infinite at w = 0.)"""
    P = np.asarray(P, dtype=np.float64)
    validate.number("kappa", kappa, min_value=0, strict=True)
    validate.number("q", q, min_value=0, strict=True)
    validate.number("alpha", alpha, min_value=0, strict=True)
    if P.ndim != 1 or len(P) < 2 or (P <= 0).any():
        raise ValueError("P must hold at least two parameter norms, all > 0")
    rng = np.random.default_rng(seed)
    starts = [np.ones_like(P)] + [rng.uniform(0.05, 3.0, size=P.shape) for _ in range(max(n_starts - 1, 0))]
    for i in range(len(P)):
        e = np.full_like(P, 0.05)
        e[i] = 3.0
        starts.append(e)

    def f(u):
        loss, g = _loss_and_grad(u * u, P, kappa, q, alpha, n_classes)
        return loss, 2 * u * g

    best = None
    for w0 in starts:
        res = minimize(f, np.sqrt(w0), jac=True, method="BFGS", options=dict(gtol=1e-12, maxiter=20000))
        if best is None or res.fun < best.fun:
            best = res
    return best.x**2


@dataclass
class AllocationResult:
    kappa: float
    q: float
    P: np.ndarray
    w: np.ndarray
    case: str  # "winner takes all" (kappa >= q) or "power law" (kappa < q)
    predicted_exponent: float | None
    fitted_exponent: float | None
    rel_error: float | None
    winner_share: float  # share of the total weight on the minimal-P circuit

    def holds(self, tol: float = 0.02) -> bool:
        if self.case == "winner takes all":
            return bool(self.winner_share > 1 - 1e-6)
        return bool(self.rel_error is not None and self.rel_error < tol)


def check_allocation(P, kappa: float, q: float = 2.0, **kw) -> AllocationResult:
    """Minimise, then compare with Thm D.4: the fitted slope of log w vs log P (case 2) or the winner's
    share of the weight (case 1)."""
    P = np.asarray(P, dtype=np.float64)
    w = minimise_allocation(P, kappa, q, **kw)
    share = float(w[np.argmin(P)] / w.sum()) if w.sum() > 0 else float("nan")
    if kappa >= q:
        return AllocationResult(kappa, q, P, w, "winner takes all", None, None, None, share)
    pred = allocation_exponent(kappa, q)
    slope = float(np.polyfit(np.log(P), np.log(np.maximum(w, 1e-300)), 1)[0])
    return AllocationResult(kappa, q, P, w, "power law", pred, slope, abs(slope - pred) / abs(pred), share)


def logit_scaling_losses(logits: torch.Tensor, y: torch.Tensor, cs) -> np.ndarray:
    """Mean cross-entropy of c * logits for every c in cs (float64). logits (N, C), y (N,).

    Computed as log1p(sum_{j != y} exp(c (z_j - z_y))): the same value as logsumexp(c z) - c z_y, but without
    its cancellation, which rounds the loss of confidently correct rows to 0 (or +-1 ulp noise) at large c."""
    z = logits.detach().double()
    y = y.detach().long()
    gap = z - z.gather(1, y[:, None])  # (N, C): z_j - z_y, 0 at the correct class
    wrong = torch.ones_like(gap, dtype=torch.bool).scatter_(1, y[:, None], False)
    out = []
    for c in cs:
        others = torch.where(wrong, torch.exp(gap * float(c)), torch.zeros_like(gap)).sum(-1)
        out.append(float(torch.log1p(others).mean()))
    return np.asarray(out)
