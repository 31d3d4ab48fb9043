"""Lottery-ticket analyses (notebook 01): when to prune, tau_grok against the pruning rate over seeds,
whether a mask change lines up with the test-accuracy jump, and values of a curve at given steps.

Times follow grokkit.train: NaN = never crossed (censored at the run's cap); see grokkit.metrics.censored."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import censored


def prune_step(t_gen: float, margin: int, every: int, last: int) -> tuple[int, bool]:
    """The first checkpoint (multiple of `every`) at or after t_gen + margin, at most `last`;
    (last, False) when the run never generalised (t_gen NaN)."""
    if censored.is_censored(t_gen):
        return int(last), False
    return min(int(math.ceil((float(t_gen) + margin) / every) * every), int(last)), True


def tau_table(sweep: pd.DataFrame, paper: Mapping[float, float] | None = None) -> pd.DataFrame:
    """Per pruning rate k: median tau_grok / t_gen / t_mem over seeds with censored runs counted as +inf
    (never dropped), how many generalised, and the paper's tau. sweep: k, t_mem, t_gen, tau_grok rows."""
    rows = []
    for k, g in sweep.groupby("k", sort=True):
        rows.append(dict(k=float(k), tau_median=censored.median(g.tau_grok), t_gen_median=censored.median(g.t_gen),
                         t_mem_median=float(np.nanmedian(g.t_mem)) if g.t_mem.notna().any() else math.nan,
                         n_generalised=int(np.isfinite(g.t_gen.to_numpy(float)).sum()), n=len(g)))
    out = pd.DataFrame(rows)
    if paper is not None:
        out["paper_tau"] = out.k.round(1).map(paper)
    return out


def tau_decrease(tau: pd.DataFrame, k_max: float = 0.6) -> dict:
    """Does the median tau_grok fall from k = 0 to k = k_max? Spearman rho over k <= k_max (censored medians
    rank last), tau(0), tau(k_max), strict monotonicity."""
    low = tau[tau.k <= k_max + 1e-9].sort_values("k")
    med = low.tau_median.to_numpy(float)
    return dict(rho=censored.spearman(low.k.to_numpy(float), med), tau_first=float(med[0]), tau_last=float(med[-1]),
                strictly_decreasing=bool(np.all(np.diff(med) < 0)), k_last=float(low.k.iloc[-1]))


def peak_alignment(curve: pd.DataFrame, start: float = 0.0, x: str = "step", a: str = "jd",
                   b: str = "d_test_acc") -> tuple[int, int]:
    """Steps of the maximum of column a and of column b over rows with x >= start (all rows if none)."""
    post = curve[curve[x] >= (0.0 if censored.is_censored(start) else start)]
    post = post if len(post) else curve
    return int(post[x][post[a].idxmax()]), int(post[x][post[b].idxmax()])


def at_steps(curve: pd.DataFrame, steps: Sequence[int], x: str = "step", y: str = "value") -> list[float]:
    """y at the row whose x is nearest each of `steps` (a curve sampled every few steps)."""
    xs = curve[x].to_numpy(float)
    ys = curve[y].to_numpy(float)
    return [float(ys[int(np.argmin(np.abs(xs - s)))]) for s in steps]


def weight_norms(state: Mapping, names: Sequence[str] | None = None, member: int = 0) -> dict[str, float]:
    """L1 and L2 norms of one member's weights (stacked form: the first axis indexes members), over `names`
    (default: every tensor). Pruned weights are zeros in a ticket's state, so these are the ticket's norms."""
    names = list(state) if names is None else list(names)
    l1 = sum(float(state[n][member].abs().sum()) for n in names)
    l2 = math.sqrt(sum(float((state[n][member].double() ** 2).sum()) for n in names))
    return {"l1": l1, "l2": l2}
