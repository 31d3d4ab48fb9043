"""Right-censored times (a run that never crossed the bar within its cap: t = "> cap") and comparisons
that hold only where the measured times, or the caps themselves, prove them (DESIGN "Claims").

    show(400, 3000) -> "400";  show(nan, 3000) -> "> 3000"
    ratio_at_most(400, 1000, nan, 3000, 1/3) -> True     (400 / t_dense < 400 / 3000 <= 1/3)
    ratio_at_most(400, 1000, nan, 1000, 1/3) -> UNDECIDED (t_dense > 1000 does not prove it)
    greater(nan, 1000, 300, 1000, 2) -> True             (t_a > 1000 >= 2 * 300)

A time is NaN (or inf) when censored; `cap` is the last step the run could have crossed at. Decisions are
True, False or UNDECIDED ("not at this scale": only a longer run can tell)."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

UNDECIDED = "not at this scale"


def is_censored(t) -> bool:
    return t is None or not math.isfinite(float(t))


def value(t) -> float:
    """The time as a number for ordering: censored -> +inf (it ranks after every measured time)."""
    return math.inf if is_censored(t) else float(t)


def show(t, cap) -> str:
    """'400' or '> 3000'."""
    return f"> {cap:.0f}" if is_censored(t) else f"{float(t):.0f}"


def ratio_at_most(t_num, cap_num, t_den, cap_den, bound: float):
    """Does t_num / t_den <= bound hold? True / False / UNDECIDED, given censored times."""
    num, den = is_censored(t_num), is_censored(t_den)
    if not num and not den:
        return bool(float(t_num) / max(float(t_den), 1.0) <= bound)
    if not num:  # t_den > cap_den: the ratio is below t_num / cap_den
        return True if float(t_num) / max(float(cap_den), 1.0) <= bound else UNDECIDED
    if not den:  # t_num > cap_num: the ratio is above cap_num / t_den
        return False if float(cap_num) / max(float(t_den), 1.0) >= bound else UNDECIDED
    return UNDECIDED


def greater(t_a, cap_a, t_b, cap_b, factor: float = 1.0):
    """Does t_a > factor * t_b hold? True / False / UNDECIDED, given censored times."""
    a, b = is_censored(t_a), is_censored(t_b)
    if not a and not b:
        return bool(float(t_a) > factor * float(t_b))
    if a and not b:  # t_a > cap_a
        return True if float(cap_a) >= factor * float(t_b) else UNDECIDED
    if b and not a:  # t_b > cap_b
        return False if float(t_a) <= factor * float(cap_b) else UNDECIDED
    return UNDECIDED


def all_greater(ts_a: Sequence, cap_a, ts_b: Sequence, cap_b, factor: float = 1.0):
    """Is every t_a > factor * every t_b? (the slowest b against the fastest a)."""
    if not len(ts_a) or not len(ts_b):
        return UNDECIDED
    a_min = min(ts_a, key=value)
    b_max = max(ts_b, key=value)
    return greater(a_min, cap_a, b_max, cap_b, factor)


def median(ts: Iterable) -> float:
    """The median with censored times counted as +inf (inf when at least half are censored)."""
    v = sorted(value(t) for t in ts)
    if not v:
        return math.nan
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def summary(ts: Sequence, cap, decisions: Sequence | None = None) -> str:
    """'median [min, max]' with censored times as '> cap', plus '(n held / n)' when decisions are given,
    plus the censored count."""
    ts = list(ts)
    if not ts:
        return "no runs"
    vals = [value(t) for t in ts]
    med, lo, hi = median(ts), min(vals), max(vals)
    text = f"{show(med, cap)} [{show(lo, cap)}, {show(hi, cap)}]"
    n_cens = sum(map(is_censored, ts))
    if n_cens:
        text += f", {n_cens}/{len(ts)} censored"
    if decisions is not None:
        text += f" ({sum(d is True for d in decisions)} held / {len(decisions)})"
    return text


def majority(decisions: Sequence):
    """A claim over seeds: True when more than half hold, False when more than half fail, else UNDECIDED."""
    n = len(decisions)
    if not n:
        return UNDECIDED
    if sum(d is True for d in decisions) * 2 > n:
        return True
    if sum(d is False for d in decisions) * 2 > n:
        return False
    return UNDECIDED


def spearman(x: Sequence[float], t: Sequence) -> float:
    """Spearman rank correlation of x with times t, censored times ranked last (tied), none dropped."""
    xs = np.asarray(x, float)
    ts = np.asarray([value(v) for v in t], float)
    if len(xs) < 2:
        return math.nan
    rx = _rank(xs)
    rt = _rank(ts)
    if rx.std() == 0 or rt.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, rt)[0, 1])


def _rank(v: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank; +inf values tie with each other)."""
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v), float)
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks
