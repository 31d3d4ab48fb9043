"""Ungrokking statistics (Varma et al. 2023, notebook 02): where test accuracy crosses a level as the reduced
dataset size D' grows (D_crit), a summary of an ungrokking sweep, censored crossings, log-log slopes, and the
first step at which one curve overtakes another.

    crossing([100, 200, 400], [0.1, 0.4, 0.9], 0.5)        # -> D' where acc reaches 0.5 (log-linear), 230.9
    crossings(df, levels=(0.5, 0.7))                        # one row per (weight decay, seed, level)
    describe_crossings(table[table.level == 0.7].d_crit,    # 'median [min, max] (n/N crossed; k above range ...)'
                       table[table.level == 0.7].censored)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BELOW = "below"  # accuracy never reaches the level in the sweep: D_crit > max D'
ABOVE = "above"  # accuracy is at or above the level already at the smallest D': D_crit <= min D'


def crossing(sizes, accs, level: float = 0.5) -> float:
    """D' where accuracy first reaches `level` going up in D' (interpolated linearly in log D'); NaN when the
    curve never reaches it, or is at or above it already at the smallest D' (see `crossing_censored`)."""
    s, a = np.asarray(sizes, float), np.asarray(accs, float)
    order = np.argsort(s)
    s, a = s[order], a[order]
    for i in range(len(s) - 1):
        if a[i] < level <= a[i + 1]:
            t = (level - a[i]) / (a[i + 1] - a[i])
            return float(np.exp(np.log(s[i]) + t * (np.log(s[i + 1]) - np.log(s[i]))))
    return float("nan")


def crossing_censored(sizes, accs, level: float = 0.5) -> str:
    """'' when `crossing` found a crossing, BELOW when the accuracy never reaches `level` (D_crit > max D'),
    ABOVE when it is at or above `level` at the smallest D' (D_crit <= min D')."""
    s, a = np.asarray(sizes, float), np.asarray(accs, float)
    if np.isfinite(crossing(s, a, level)):
        return ""
    a = a[np.argsort(s)]
    if len(a) and a[0] >= level:
        return ABOVE
    return BELOW


def crossings(df: pd.DataFrame, levels=(0.5,), *, size="D'", acc="final_test_acc",
              by=("weight_decay", "seed")) -> pd.DataFrame:
    """Per group (default: weight decay x seed) and level: the crossing D' (`d_crit`, NaN when censored),
    `censored` ('' / 'below' / 'above'), the sweep's D' range (`d_min`, `d_max`)."""
    rows = []
    for key, g in df.groupby(list(by)):
        key = key if isinstance(key, tuple) else (key,)
        g = g.groupby(size)[acc].mean().sort_index()  # one value per D' (duplicate rows averaged)
        for level in levels:
            rows.append({**dict(zip(by, key)), "level": float(level),
                         "d_crit": crossing(g.index, g.to_numpy(), level),
                         "censored": crossing_censored(g.index, g.to_numpy(), level),
                         "d_min": float(g.index.min()), "d_max": float(g.index.max())})
    cols = [*by, "level", "d_crit", "censored", "d_min", "d_max"]
    return pd.DataFrame(rows, columns=cols)


def describe_crossings(d_crit, censored, d_min=None, d_max=None) -> str:
    """'median [min, max] (n/N crossed)' of the crossings, and how many are censored on each side of the
    sweep ('k never reached it: > max D''). The censored ones are counted, never dropped silently."""
    d = np.asarray(list(d_crit), float)
    c = list(censored)
    ok = d[np.isfinite(d)]
    n_below, n_above = c.count(BELOW), c.count(ABOVE)
    head = (f"{np.median(ok):.4g} [{ok.min():.4g}, {ok.max():.4g}] ({len(ok)}/{len(d)} crossed)" if len(ok)
            else f"none crossed (0/{len(d)})")
    tail = []
    if n_below:
        tail.append(f"{n_below} never reached it" + (f" (> {d_max:.0f})" if d_max is not None else ""))
    if n_above:
        tail.append(f"{n_above} above it at every D'" + (f" (<= {d_min:.0f})" if d_min is not None else ""))
    return head + ("; " + ", ".join(tail) if tail else "")


def censored_median(d_crit, censored) -> float:
    """Median of the crossings with censored values placed at their bound's side (BELOW = +inf, ABOVE = -inf),
    so that a majority of censored runs moves the median out of the sweep instead of being dropped. NaN when
    there are no runs."""
    d = np.asarray(list(d_crit), float).copy()
    c = np.asarray(list(censored), object)
    if not len(d):
        return float("nan")
    d[c == BELOW] = np.inf
    d[c == ABOVE] = -np.inf
    d = np.sort(d)
    n = len(d)
    return float(d[n // 2]) if n % 2 else float(0.5 * (d[n // 2 - 1] + d[n // 2]))


def ungrok_summary(df: pd.DataFrame, *, size="D'", acc="final_test_acc") -> dict:
    """The shape of an ungrokking sweep (rows: D', weight_decay, seed, final test acc).

    median: median final acc per D' (over weight decays and seeds); tol: max(0.02, 2 x the mean seed std);
    monotone: the median never drops by more than tol as D' grows; spread_wd: mean over D' of the range
    across weight decays (seed means); spread_D: the range across D' of the mean curve; per_wd: D' x wd means."""
    g = df.groupby([size, "weight_decay"])[acc]
    per = g.mean().unstack("weight_decay")
    seed_std = float(g.std().mean()) if df.seed.nunique() > 1 else 0.0
    med = df.groupby(size)[acc].median()
    tol = max(0.02, 2 * seed_std)
    drops = int((med.diff().dropna() < -tol).sum())
    spread_wd = float((per.max(axis=1) - per.min(axis=1)).mean())
    spread_D = float(per.mean(axis=1).max() - per.mean(axis=1).min())
    return dict(median=med, tol=tol, monotone=drops == 0, seed_std=seed_std, spread_wd=spread_wd,
                spread_D=spread_D, per_wd=per)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (NaN with fewer than two distinct x or any y <= 0)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(np.unique(x)) < 2 or np.any(y <= 0) or np.any(x <= 0):
        return float("nan")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def first_overtake(steps, a, b, after: float = -np.inf) -> float:
    """The first step >= `after` where series a exceeds series b (NaN if never)."""
    steps, a, b = np.asarray(steps, float), np.asarray(a, float), np.asarray(b, float)
    hit = np.flatnonzero((steps >= after) & (a > b))
    return float(steps[hit[0]]) if len(hit) else float("nan")


def still_changing(curves: pd.DataFrame, *, tail: float = 0.2, tol: float = 0.02, y: str = "value") -> pd.Series:
    """Per member: True when its accuracy moved by more than `tol` (max - min) over the last `tail` share of
    the run's steps, i.e. the run has not converged. curves: step, member, value."""
    last = curves.step.max()
    window = curves[curves.step >= last - tail * (last - curves.step.min())]
    span = window.groupby("member")[y].agg(lambda v: float(v.max() - v.min()))
    return span > tol
