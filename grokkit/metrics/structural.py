"""Spec 05 analyses (grokking as structural inference) on tidy results, not on models.

    lambda_law(lams, t_gen)              Theorem 5.2: t_grok ~ c / lambda + floor; log-log slope of t vs lambda
    phase_times(steps, D, acc, grad)     the baseline's four phases: when D condenses, when test acc rises,
                                         the attention-gradient peak and its final value
    d_before_acc(ph, first_step)         "D falls before test accuracy rises": True / False / not at this scale
    no_later(t_a, cap_a, t_b, cap_b)     t_a <= t_b with censored times (NaN = never crossed by the cap)
    paired_no_later(ts_a, ts_b, caps)    per pair (e.g. per seed) decisions and their majority

Times are grokking steps; NaN (or inf) means the run never crossed the bar by its cap (right-censored), as in
`grokkit.metrics.censored`, whose rules decide every comparison here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import censored
from .ungrokking import loglog_slope

UNDECIDED = censored.UNDECIDED


def lambda_law(lams: Sequence[float], t_gen: Sequence[float], floor_factor: float = 1.5) -> dict:
    """Fit the grokked points of a lambda sweep.

    Returns n (members), n_grokked, n_censored; slope = log-log slope of t_gen vs lambda over the grokked points;
    c, floor = least squares of t_gen = c / lambda + floor; slope_above_floor = the log-log slope over the points
    slower than floor_factor x the fastest one (the part of the curve above the optimisation floor) and
    n_above_floor. NaN where there are too few points (fewer than two)."""
    lam = np.asarray(lams, float)
    t = np.asarray(t_gen, float)
    ok = np.isfinite(t)
    out = dict(n=int(len(t)), n_grokked=int(ok.sum()), n_censored=int((~ok).sum()), slope=math.nan, c=math.nan,
               floor=math.nan, n_above_floor=0, slope_above_floor=math.nan)
    if ok.sum() < 2:
        return out
    lo, to = lam[ok], t[ok]
    out["slope"] = loglog_slope(lo, to)
    A = np.stack([1 / lo, np.ones(len(lo))], 1)
    (c, f), *_ = np.linalg.lstsq(A, to, rcond=None)
    out["c"], out["floor"] = float(c), float(f)
    above = to > floor_factor * to.min()
    out["n_above_floor"] = int(above.sum())
    if above.sum() >= 2:
        out["slope_above_floor"] = loglog_slope(lo[above], to[above])
    return out


def phase_times(steps, test_D, test_acc, grad, D_frac: float = 0.1, acc_level: float = 0.5) -> dict:
    """From one member's evaluations (ascending steps): D0 = the first test D; t_D_small = the first step with
    D < D_frac * D0; t_test_half = the first step with test acc > acc_level (NaN when never: censored);
    grad_peak / t_grad_peak = the largest attention-gradient norm and its step; grad_final = the last one."""
    s = np.asarray(steps, float)
    D, acc, g = (np.asarray(v, float) for v in (test_D, test_acc, grad))
    D0 = float(D[0])
    below = np.flatnonzero(D < D_frac * D0)
    rise = np.flatnonzero(acc > acc_level)
    return dict(D0=D0, t_D_small=float(s[below[0]]) if len(below) else math.nan,
                t_test_half=float(s[rise[0]]) if len(rise) else math.nan, grad_peak=float(np.nanmax(g)),
                grad_final=float(g[-1]), t_grad_peak=float(s[int(np.nanargmax(g))]))


def d_before_acc(ph: dict, first_step: float):
    """Does D condense no later than test accuracy rises? Decided only when both were measured and at least one
    after the first evaluation (at the first evaluation both only read "already there")."""
    a, b = ph["t_D_small"], ph["t_test_half"]
    if censored.is_censored(a) or censored.is_censored(b) or max(a, b) <= first_step:
        return UNDECIDED
    return bool(a <= b)


def no_later(t_a, cap_a, t_b, cap_b):
    """t_a <= t_b? True / False / not at this scale (both censored, or the caps cannot tell)."""
    later = censored.greater(t_a, cap_a, t_b, cap_b)
    return later if later == UNDECIDED else (not later)


def paired_no_later(ts_a: Sequence, ts_b: Sequence, cap_a, cap_b) -> dict:
    """Per pair i: no_later(ts_a[i], cap_a, ts_b[i], cap_b). Returns decisions, held (count of True), n, and
    majority (True when more than half hold, False when more than half fail, else not at this scale)."""
    if len(ts_a) != len(ts_b):
        raise ValueError(f"paired_no_later: {len(ts_a)} vs {len(ts_b)} times")
    dec = [no_later(a, cap_a, b, cap_b) for a, b in zip(ts_a, ts_b)]
    return dict(decisions=dec, held=sum(d is True for d in dec), n=len(dec), majority=censored.majority(dec))
