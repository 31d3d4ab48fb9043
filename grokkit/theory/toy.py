"""The toy two-circuit model of Varma et al. (2023), App B.5 / Table 1 (no network).

A generalising circuit G and a memorising circuit M are fixed lookup tables over `n_classes` labels:
  o_G = 1 on the correct label of every train and test input;
  o_M = 1 on the correct label of every train input and on ONE wrong label of every test input.
Logits are w_G o_G + w_M o_M with w_G = w_G1 w_G2 and w_M = w_M1 w_M2 (subweights: their initial values set
how fast each circuit is learned). The loss is
  L = xent_train + alpha/2 * [(|w_G|^(1/kappa) P_G)^2 + (|w_M|^(1/kappa) P_M)^2]
and the four subweights follow plain gradient descent, w <- w - lr dL/dw (float64; the closed-form gradient
is checked against torch autograd of `toy_loss` in the tests).

Every training input looks the same to both circuits (correct logit w_G + w_M, all others 0) and so does every
test input (correct logit w_G, one wrong logit w_M, the others 0), so the losses need no dataset: they are
closed-form functions of (w_G, w_M). Several settings are simulated side by side (one row per setting).

Fixed point (both circuits present, dL/dw_G = dL/dw_M): P_G^2 w_G^(2/kappa-1) = P_M^2 w_M^(2/kappa-1), so
w_G / w_M = (P_M / P_G)^(2 kappa / (2 - kappa))  (= 8 for P_M/P_G = 2, kappa = 1.2).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from .. import validate


@dataclass(frozen=True)
class ToyConfig:
    """One setting of Table 1 (defaults: setting (a))."""

    P_G: float = 1.0
    P_M: float = 2.0
    kappa: float = 1.2
    alpha: float = 0.005
    wG1: float = 0.0
    wG2: float = 0.005
    wM1: float = 0.0
    wM2: float = 1.0
    n_classes: int = 113
    lr: float = 0.01

    def __post_init__(self):
        for name in ("P_G", "P_M", "kappa", "lr"):
            validate.number(name, getattr(self, name), min_value=0, strict=True)
        validate.number("alpha", self.alpha, min_value=0)
        validate.integer("n_classes", self.n_classes, min_value=2)

    def predicted_ratio(self) -> float:
        """w_G / w_M at the interior fixed point (q = 2 weight decay)."""
        return (self.P_M / self.P_G) ** (2 * self.kappa / (2 - self.kappa))


TOY_SETTINGS = {
    "a": ToyConfig(),  # generalisation slower but more efficient: grokking
    "b": ToyConfig(P_G=4.0),  # generalisation less efficient: never generalises
    "c": ToyConfig(wG2=1.0),  # both learned at the same speed: no plateau
}


@dataclass
class ToyResult:
    history: pd.DataFrame  # setting, step, w_G, w_M, train_loss, test_loss, train_acc, test_acc
    summary: pd.DataFrame  # one row per setting


def toy_loss(w: torch.Tensor, cfg: ToyConfig) -> torch.Tensor:
    """L(subweights) for one setting: w = (w_G1, w_G2, w_M1, w_M2) (differentiable, used to test the
    closed-form gradient of `simulate_toy` against autograd)."""
    wG, wM = w[0] * w[1], w[2] * w[3]
    s = wG + wM
    train = torch.logaddexp(s, torch.tensor(math.log(cfg.n_classes - 1), dtype=w.dtype)) - s
    wd = cfg.alpha / 2 * (wG.abs().pow(2 / cfg.kappa) * cfg.P_G**2 + wM.abs().pow(2 / cfg.kappa) * cfg.P_M**2)
    return train + wd


def toy_grad(w: np.ndarray, P_G, P_M, kappa, alpha, n_classes) -> np.ndarray:
    """Closed-form dL/d(subweights); w (4, S) -> (4, S)."""
    wG, wM = w[0] * w[1], w[2] * w[3]
    d_s = -1.0 / (1.0 + np.exp(wG + wM - math.log(n_classes - 1)))  # d xent_train / d(w_G + w_M)
    e = 2 / kappa - 1
    gG = d_s + alpha / kappa * P_G**2 * np.sign(wG) * np.abs(wG) ** e
    gM = d_s + alpha / kappa * P_M**2 * np.sign(wM) * np.abs(wM) ** e
    return np.stack([gG * w[1], gG * w[0], gM * w[3], gM * w[2]])


def toy_metrics(wG, wM, n_classes):
    """Train / test cross-entropy and accuracy of the toy logits (numpy arrays)."""
    s = wG + wM
    train = np.logaddexp(s, math.log(n_classes - 1)) - s
    test = np.logaddexp(np.logaddexp(wG, wM), math.log(n_classes - 2)) - wG
    return train, test, (s > 0).astype(float), ((wG > wM) & (wG > 0)).astype(float)


def simulate_toy(settings: dict[str, ToyConfig] | None = None, steps: int = 30000, record_every: int = 10,
                 loss_frac: float = 0.1) -> ToyResult:
    """Gradient descent on the subweights of every setting at once (float64, closed-form gradient of
    `toy_loss`, checked against torch autograd in the tests).

    Summary per setting: final w_G, w_M and their ratio, the predicted fixed-point ratio, the final test
    accuracy, whether test accuracy was ever 1, t_mem = first step with train loss < loss_frac * log(n_classes),
    t_gen = first step with test accuracy 1 (w_G > w_M: the generalising circuit outvotes the memorising one on
    test inputs), t_gen_loss = first step with test loss < loss_frac * log(n_classes), plateau = t_gen / t_mem.
    """
    settings = dict(TOY_SETTINGS if settings is None else settings)
    validate.integer("steps", steps, min_value=1)
    validate.integer("record_every", record_every, min_value=1)
    cfgs = list(settings.values())
    if len({(c.n_classes, c.lr) for c in cfgs}) != 1:
        raise ValueError("settings simulated together must share n_classes and lr")
    n, lr = cfgs[0].n_classes, cfgs[0].lr

    def col(name):
        return np.array([getattr(c, name) for c in cfgs], dtype=np.float64)

    P_G, P_M, kappa, alpha = col("P_G"), col("P_M"), col("kappa"), col("alpha")
    w = np.stack([col("wG1"), col("wG2"), col("wM1"), col("wM2")])  # (4, S)
    rec_steps = list(range(0, steps + 1, record_every))
    if rec_steps[-1] != steps:
        rec_steps.append(steps)
    rec = np.empty((len(rec_steps), 2, len(cfgs)))
    j = 0
    for step in range(steps + 1):
        if step == rec_steps[j]:
            rec[j] = w[0] * w[1], w[2] * w[3]
            j += 1
        if step == steps:
            break
        w = w - lr * toy_grad(w, P_G, P_M, kappa, alpha, n)
    frames = []
    for i, name in enumerate(settings):
        wG, wM = rec[:, 0, i], rec[:, 1, i]
        train, test, tr_acc, te_acc = toy_metrics(wG, wM, n)
        frames.append(pd.DataFrame({"setting": name, "step": rec_steps, "w_G": wG, "w_M": wM, "train_loss": train,
                                    "test_loss": test, "train_acc": tr_acc, "test_acc": te_acc}))
    hist = pd.concat(frames, ignore_index=True)
    thr = loss_frac * math.log(n)
    summ = []
    for name, cfg in settings.items():
        h = hist[hist.setting == name]
        last = h.iloc[-1]

        def first(mask):
            hit = h[mask]
            return float(hit.step.iloc[0]) if len(hit) else float("nan")

        t_mem, t_gen = first(h.train_loss < thr), first(h.test_acc >= 1)
        summ.append({"setting": name, **asdict(cfg), "w_G": last.w_G, "w_M": last.w_M,
                     "ratio": last.w_G / last.w_M if last.w_M != 0 else float("inf"),
                     "predicted_ratio": cfg.predicted_ratio(), "final_test_acc": last.test_acc,
                     "final_test_loss": last.test_loss, "ever_generalised": bool((h.test_acc >= 1).any()),
                     "t_mem": t_mem, "t_gen": t_gen, "t_gen_loss": first(h.test_loss < thr),
                     "plateau": t_gen / max(t_mem, 1.0) if math.isfinite(t_mem) else float("nan")})
    return ToyResult(hist, pd.DataFrame(summ))
