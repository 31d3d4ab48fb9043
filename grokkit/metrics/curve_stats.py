"""Statistics of training curves and small result tables (notebook 04 and anyone who needs them).

- `wide_curves`: a tidy history (step, member, split, metric, value) as one row per (step, member) evaluation.
- `tidy_curves`: back from that wide form to the tidy one (for `grokkit.plots.training_curves`).
- `first_crossing`: the first step where a curve exceeds a level (NaN = censored: never within the run).
- `after_fit`: the evaluations from the first one with train acc 1 on (where the MED correlations are taken).
- `late_median`: the median of a curve over its last share of steps (robust to a last-evaluation spike).
- `oscillation`: how much a test-accuracy curve still moves after it first passes a level.
- `trend`: Spearman rho of a value against a parameter inside one family of rows (e.g. U-Acc vs k).
- `paired_faster`: a paired comparison of censored times (NaN = never, i.e. > cap), by the "Claims" rules.
- `partial_correlation`: Pearson correlation of x and y with z regressed out of both.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def wide_curves(history: pd.DataFrame, member: int | None = None, evaluated: bool = True) -> pd.DataFrame:
    """One row per (step, member), one column per split_metric (train_acc, test_loss, extra_med, ...),
    sorted by member and step. evaluated: keep only the rows with a test evaluation."""
    h = history if member is None else history[history.member == member]
    w = h.assign(col=h.split + "_" + h.metric).pivot_table(
        index=["step", "member"], columns="col", values="value", aggfunc="last").reset_index()
    w.columns.name = None
    if evaluated and "test_acc" in w:
        w = w.dropna(subset=["test_acc"])
    return w.sort_values(["member", "step"]).reset_index(drop=True)


def tidy_curves(wide: pd.DataFrame, splits=("train", "test")) -> pd.DataFrame:
    """The inverse of `wide_curves` for the given splits: (step, member, split, metric, value), NaNs dropped
    (what `grokkit.plots.training_curves` draws)."""
    cols = [c for c in wide.columns if c.split("_", 1)[0] in splits and "_" in c]
    long = wide.melt(id_vars=["step", "member"], value_vars=cols, var_name="col").dropna(subset=["value"])
    parts = long.col.str.split("_", n=1, expand=True)
    return long.assign(split=parts[0], metric=parts[1])[["step", "member", "split", "metric", "value"]]


def first_crossing(steps, values, level: float) -> float:
    """The first step with value > level, or NaN when the curve never exceeds it (censored)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    hit = np.nonzero(values > level)[0]
    return float(steps[hit[0]]) if len(hit) else float("nan")


def after_fit(train_acc, level: float = 0.999) -> np.ndarray:
    """Boolean mask of the evaluations from the first one with train acc >= level on (all False if never)."""
    acc = np.asarray(train_acc, dtype=float)
    hit = np.nonzero(acc >= level)[0]
    mask = np.zeros(len(acc), dtype=bool)
    if len(hit):
        mask[hit[0]:] = True
    return mask


def late_median(steps, values, share: float = 0.1) -> float:
    """Median of the values at steps >= (1 - share) * the last step."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if not len(steps):
        return float("nan")
    return float(np.nanmedian(values[steps >= (1 - share) * steps.max()]))


def oscillation(test_acc, level: float = 0.9, drop: float = 0.05) -> dict:
    """After test acc first exceeds `level`: its standard deviation (ddof 1) and the number of drops larger
    than `drop` between consecutive evaluations. NaN / 0 when fewer than two evaluations are left."""
    acc = np.asarray(test_acc, dtype=float)
    above = np.nonzero(acc > level)[0]
    after = acc[above[0]:] if len(above) else acc[:0]
    if len(after) < 2:
        return {"post_std": float("nan"), "drops": 0}
    return {"post_std": float(np.std(after, ddof=1)), "drops": int((np.diff(after) < -drop).sum())}


def trend(df: pd.DataFrame, family: str, x: str = "k_paper", y: str = "U-Acc", by: str = "split"
          ) -> tuple[float, pd.DataFrame]:
    """Spearman rho of y against x among the rows with df[by] == family (sorted by x): -1 = falls
    monotonically; 0 when y is constant; NaN with fewer than two rows."""
    from scipy.stats import spearmanr

    d = df[df[by] == family].sort_values(x)
    if len(d) < 2:
        return float("nan"), d
    if d[y].nunique() == 1:
        return 0.0, d
    return float(spearmanr(d[x], d[y])[0]), d


def paired_faster(base, other) -> dict:
    """Is `other` faster than `base`, pair by pair? Times are NaN when never reached within the cap (censored).

    A pair counts when at least one of the two reached the bar: `other` is faster when its time is smaller
    (a finite time beats a censored one: the cap proves it). Pairs where neither reached it say nothing.
    Returns {"faster", "slower", "ties", "n_pairs" (informative pairs), "n_censored_both", "holds"}, holds =
    True/False by majority of the informative pairs, None when there are none."""
    a = np.asarray(base, dtype=float)
    b = np.asarray(other, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired_faster: {a.shape} and {b.shape} times; give one per pair")
    a, b = np.where(np.isfinite(a), a, np.inf), np.where(np.isfinite(b), b, np.inf)
    informative = (a < np.inf) | (b < np.inf)
    faster = int((b < a)[informative].sum())
    slower = int((b > a)[informative].sum())
    n = int(informative.sum())
    return {"faster": faster, "slower": slower, "ties": n - faster - slower, "n_pairs": n,
            "n_censored_both": int((~informative).sum()), "holds": (faster > n / 2) if n else None}


def partial_correlation(x, y, z) -> float:
    """Pearson correlation of x and y after a least-squares fit on z (with intercept) is removed from
    both: what x says about y beyond z. NaN when fewer than 4 finite rows or a residual is constant."""
    x, y, z = (np.asarray(v, dtype=float) for v in (x, y, z))
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[ok], y[ok], z[ok]
    if len(x) < 4:
        return float("nan")
    A = np.column_stack([np.ones_like(z), z])
    rx = x - A @ np.linalg.lstsq(A, x, rcond=None)[0]
    ry = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    sx, sy = np.linalg.norm(rx), np.linalg.norm(ry)
    if sx < 1e-12 * max(1.0, np.abs(x).max()) or sy < 1e-12 * max(1.0, np.abs(y).max()):
        return float("nan")
    return float(np.clip(rx @ ry / (sx * sy), -1.0, 1.0))
