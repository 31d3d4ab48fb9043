"""Theorem 3.12 of spec 04 (arXiv 2504.03162), measured: how many (a, b) pairs a random training set leaves
uncovered, near the bound alpha* = 2 ln p / C(n).

The proof treats every training pair as covering exactly C(n) = 2n^2 - 2n + 1 grid points (a torus). On the
(a, b) table without wrap-around a pair near an edge covers fewer. `cover_counts` gives each point's C, and
`expected_uncovered` the exact expectation of the number of uncovered points when round(alpha p^2) training
points are drawn without replacement (hypergeometric: no training point among the C_x points around x).
`coverage_table` puts it beside a Monte-Carlo estimate (`uniformity.coverage_monte_carlo`) for a grid of
(n, alpha / alpha*) values, dropping every alpha > 1 (no clipping: a clipped alpha is not the ratio it names).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from .. import validate
from .uniformity import coverage_bound, coverage_monte_carlo, coverage_size


def cover_counts(p: int, n: int, torus: bool = True) -> np.ndarray:
    """(p, p): for each grid point, how many grid points lie within Manhattan distance < n of it (itself
    included); C(n) everywhere on a torus (when p >= 2n - 1), fewer near the edges without wrap-around."""
    p = validate.integer("p", p, min_value=2)
    n = validate.integer("n", n, min_value=1)
    if torus:
        if p < 2 * n - 1:
            raise ValueError(f"p={p} is too small for n={n} on a torus (the neighbourhood wraps onto itself)")
        return np.full((p, p), coverage_size(n))
    x = np.arange(p)
    cnt = np.zeros((p, p), dtype=np.int64)
    for dx in range(-(n - 1), n):
        r = n - 1 - abs(dx)
        okx = (x + dx >= 0) & (x + dx < p)
        for dy in range(-r, r + 1):
            cnt += np.outer(okx, (x + dy >= 0) & (x + dy < p))
    return cnt


def expected_uncovered(p: int, n: int, alpha: float, torus: bool = True) -> float:
    """Exact E[#points not covered] for m = round(alpha p^2) training points drawn without replacement:
    sum over points x of C(N - C_x, m) / C(N, m), N = p^2."""
    alpha = validate.fraction("alpha", alpha, closed_low=True, closed_high=True)
    N = p * p
    m = int(round(alpha * N))
    c = cover_counts(p, n, torus).ravel().astype(float)
    ok = N - c - m >= 0
    logp = gammaln(N - c + 1) - gammaln(np.where(ok, N - c - m, 0) + 1) - gammaln(N + 1) + gammaln(N - m + 1)
    return float(np.exp(logp[ok]).sum())


def coverage_table(p: int = 97, ns=(3, 4, 5, 6), ratios=(0.5, 0.75, 1.0, 1.25, 1.5), trials: int = 100,
                   seed: int = 0, toruses=(False, True)) -> pd.DataFrame:
    """One row per (grid, n, ratio) with alpha = ratio * alpha*(p, n) <= 1: the bound, the Monte-Carlo
    mean number of uncovered points (and its standard error), the share of trials with every point covered,
    the mean covered share, and the exact expectation. grid: "table" (no wrap-around) or "torus"."""
    rows = []
    for torus in toruses:
        for n in ns:
            bound = coverage_bound(p, n)
            for ratio in ratios:
                alpha = ratio * bound
                if alpha > 1:
                    continue
                mc = coverage_monte_carlo(p, n, alpha, trials=trials, seed=seed, torus=torus)
                unc = (1 - mc["coverages"]) * p * p
                rows.append(dict(grid="torus" if torus else "table", n=n, C=coverage_size(n), bound=bound,
                                 ratio=ratio, alpha=alpha, mean_uncovered=float(unc.mean()),
                                 se_uncovered=float(unc.std(ddof=1) / np.sqrt(len(unc))) if len(unc) > 1 else
                                 float("nan"), p_full=mc["p_full"], mean_coverage=mc["mean_coverage"],
                                 exact_uncovered=expected_uncovered(p, n, alpha, torus)))
    return pd.DataFrame(rows)
