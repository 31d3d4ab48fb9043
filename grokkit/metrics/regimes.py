"""Grokking vs steady learning (spec 03): the paper's grokking time, transient peaks, hidden progress.

- `grok_times(history)`: per member, the first evaluated step where train accuracy reaches `frac` x its
  maximum, the same for test accuracy, and their difference in epochs (the authors' definition, 0.9 x max).
- `peak_ratio(epoch, value)`: how far a measure's peak rises above its final (steady) level.
- `share_before(epoch, measure, test_acc, bar)`: hidden progress, the share of a measure's rise from the
  first to the last checkpoint that is already there when test accuracy first exceeds `bar`.
- `spearman(x, y)`: rank correlation (ties averaged), NaN for fewer than 3 finite pairs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def eval_curves(history: pd.DataFrame) -> pd.DataFrame:
    """Wide accuracy table at the evaluated steps only: step, member, train_acc, test_acc (rows where the test
    accuracy was measured; the train accuracy is the one logged at that step)."""
    h = history[(history.metric == "acc") & history.split.isin(["train", "test"])]
    w = h.pivot_table(index=["step", "member"], columns="split", values="value", aggfunc="last").reset_index()
    w.columns.name = None
    w = w.rename(columns={"train": "train_acc", "test": "test_acc"})
    return w.dropna(subset=["test_acc"]).sort_values(["member", "step"]).reset_index(drop=True)


def grok_times(history: pd.DataFrame, frac: float = 0.9, steps_per_epoch: int = 1) -> pd.DataFrame:
    """Per member: t_train / t_test = first evaluated epoch with train / test accuracy >= frac x its maximum
    over the run, grok_time = t_test - t_train (epochs). The maximum is the run's own, so both times always
    exist; a member that never generalises has a small test maximum, which this definition does not see:
    judge generalisation by the final test accuracy, not by grok_time alone."""
    rows = []
    for m, c in eval_curves(history).groupby("member"):
        t_tr = float(c.step[c.train_acc >= frac * c.train_acc.max()].iloc[0]) / steps_per_epoch
        t_te = float(c.step[c.test_acc >= frac * c.test_acc.max()].iloc[0]) / steps_per_epoch
        rows.append(dict(member=int(m), t_train=t_tr, t_test=t_te, grok_time=t_te - t_tr))
    return pd.DataFrame(rows, columns=["member", "t_train", "t_test", "grok_time"])


def peak_ratio(epoch, value, tail: float = 0.1) -> tuple[float, float]:
    """(peak / final level - 1, epoch of the peak); the final level is the mean over the last `tail` share of
    the points (at least one), points in epoch order."""
    e, v = np.asarray(epoch, float), np.asarray(value, float)
    order = np.argsort(e, kind="stable")
    e, v = e[order], v[order]
    if not len(v):
        return float("nan"), float("nan")
    steady = v[-max(1, int(len(v) * tail + 1e-9)):].mean()
    k = int(np.nanargmax(v))
    return float(v[k] / steady - 1), float(e[k])


def share_before(epoch, measure, test_acc, bar: float) -> tuple[float, float]:
    """Hidden progress: (m(t*) - m(first)) / (m(last) - m(first)) with t* the first point whose test accuracy
    exceeds `bar`, and t*; (nan, nan) when test accuracy never exceeds the bar or the measure does not move.
    Points without a test accuracy are ignored."""
    d = pd.DataFrame({"e": np.asarray(epoch, float), "m": np.asarray(measure, float),
                      "a": np.asarray(test_acc, float)}).dropna(subset=["a"]).sort_values("e", kind="stable")
    cross = d[d.a > bar]
    if cross.empty or not len(d):
        return float("nan"), float("nan")
    m0, m1 = float(d.m.iloc[0]), float(d.m.iloc[-1])
    if m1 == m0:
        return float("nan"), float("nan")
    return (float(cross.m.iloc[0]) - m0) / (m1 - m0), float(cross.e.iloc[0])


def spearman(x, y) -> float:
    """Spearman rank correlation of the finite pairs (average ranks for ties); NaN for < 3 pairs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    return float(pd.Series(x[ok]).corr(pd.Series(y[ok]), method="spearman"))


UNDECIDED = "not at this scale"


def censored_median(times, censored, bounds) -> tuple[float, bool]:
    """Median of times where some are right-censored (only known to exceed `bounds`).

    Returns (value, is_bound): the exact median when it falls on measured times (censored ones rank above
    every measured one), else (a lower bound of the median, True): the median with each censored time
    replaced by its bound. NaN for no times."""
    t = np.asarray(times, float)
    c = np.asarray(censored, bool)
    b = np.broadcast_to(np.asarray(bounds, float), t.shape)
    if not len(t):
        return float("nan"), False
    med = float(np.median(np.where(c, np.inf, t)))
    if np.isfinite(med):
        return med, False
    return float(np.median(np.where(c, b, t))), True


def greater(a: float, a_is_bound: bool, b: float, b_is_bound: bool):
    """Is a > b? (values from `censored_median`: *_is_bound = only a lower bound is known).
    True / False when the numbers prove it, else UNDECIDED."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return UNDECIDED
    if b_is_bound:  # b is at least b: nothing proves a > b, and a <= b is not proven either
        return UNDECIDED
    if a_is_bound:  # a > bound >= b proves it; otherwise a longer run could tell
        return True if a >= b else UNDECIDED
    return bool(a > b)


def show_median(value: float, is_bound: bool) -> str:
    return f"> {value:.4g}" if is_bound else f"{value:.4g}"


# ---- Fourier IPR normalisations ----------------------------------------------------------------
def onesided_fourier_ipr(W, dim: int = -1):
    """IPR of the one-sided power spectrum of a real signal along `dim`: the powers of frequencies k and p-k
    are merged (k = 0..p//2), so a pure cos/sin of one frequency gives 1 (the two-sided DFT IPR of
    `features.fourier_ipr` gives 0.5, its maximum for any non-constant real signal), two equal frequencies 0.5,
    a flat spectrum ~2/p. A constant gives 1 in both."""
    import torch

    from .features import ipr

    W = torch.as_tensor(W).double()
    p = W.shape[dim]
    power = torch.fft.rfft(W, dim=dim).abs().pow(2)
    n = power.shape[dim]
    weight = torch.full((n,), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if p % 2 == 0:
        weight[-1] = 1.0  # the Nyquist frequency p/2 is its own mirror
    shape = [1] * power.dim()
    shape[dim] = n
    return ipr((power * weight.view(shape)).sqrt(), dim=dim)


def onehot_mlp_ipr(state, p: int, sided: str = "two") -> dict:
    """Per-neuron Fourier IPR of the one-hot MLP (W1 (E, 2p, h), W2 (E, h, p)): {"in_a", "in_b", "out"} -> (E, h).
    sided="two": the two-sided DFT (max 0.5 for a real non-constant signal); "one": the one-sided spectrum
    (max 1; `onesided_fourier_ipr`)."""
    from .features import fourier_ipr

    f = {"two": fourier_ipr, "one": onesided_fourier_ipr}[sided]
    W1, W2 = state["W1"].detach(), state["W2"].detach()
    return {"in_a": f(W1[:, :p, :], dim=1), "in_b": f(W1[:, p:2 * p, :], dim=1), "out": f(W2[:, :, :p], dim=2)}
