"""grokkit.metrics.ungrokking: D' crossings (D_crit), censoring, sweep summary, slopes, overtake (known answers)."""
import math

import numpy as np
import pandas as pd
import pytest

from grokkit.metrics.ungrokking import (
    ABOVE,
    BELOW,
    censored_median,
    crossing,
    crossing_censored,
    crossings,
    describe_crossings,
    first_overtake,
    loglog_slope,
    ungrok_summary,
)


def test_crossing_log_linear_interpolation():
    # between 200 (0.4) and 400 (0.9): a fifth of the way in log D' -> 200 * 2**0.2
    assert crossing([100, 200, 400], [0.1, 0.4, 0.9], 0.5) == pytest.approx(200 * 2 ** 0.2)
    assert crossing([100, 200, 400], [0.1, 0.4, 0.9], 0.9) == pytest.approx(400)
    # unsorted input is sorted by D' first
    assert crossing([400, 100, 200], [0.9, 0.1, 0.4], 0.5) == pytest.approx(200 * 2 ** 0.2)
    # the first upward crossing counts
    assert crossing([1, 2, 4, 8], [0.0, 1.0, 0.0, 1.0], 0.5) == pytest.approx(math.sqrt(2))


def test_crossing_censored_sides():
    assert math.isnan(crossing([10, 20], [0.1, 0.2], 0.5))
    assert crossing_censored([10, 20], [0.1, 0.2], 0.5) == BELOW
    assert math.isnan(crossing([10, 20], [0.8, 0.9], 0.5))
    assert crossing_censored([10, 20], [0.8, 0.9], 0.5) == ABOVE
    assert crossing_censored([10, 20], [0.1, 0.9], 0.5) == ""


def test_crossings_table_per_group_and_level():
    df = pd.DataFrame({"D'": [100, 200, 400] * 2, "weight_decay": [1.0] * 6, "seed": [0] * 3 + [1] * 3,
                       "final_test_acc": [0.1, 0.4, 0.9, 0.05, 0.1, 0.2]})
    t = crossings(df, levels=(0.5, 0.7))
    assert len(t) == 4 and list(t.level) == [0.5, 0.7, 0.5, 0.7]
    s0 = t[t.seed == 0].set_index("level")
    assert s0.loc[0.5, "d_crit"] == pytest.approx(200 * 2 ** 0.2)
    assert s0.loc[0.7, "d_crit"] == pytest.approx(200 * 2 ** 0.6)
    assert list(t[t.seed == 1].censored) == [BELOW, BELOW]
    text = describe_crossings(t[t.level == 0.5].d_crit, t[t.level == 0.5].censored, d_max=400)
    assert text.startswith("229.7 [229.7, 229.7] (1/2 crossed)") and "1 never reached it (> 400)" in text


def test_censored_median_keeps_censored_runs():
    assert censored_median([100, 300, np.nan], ["", "", BELOW]) == 300
    assert censored_median([np.nan, np.nan, 300], [BELOW, BELOW, ""]) == np.inf
    assert censored_median([np.nan, 100, 300, np.nan], [ABOVE, "", "", BELOW]) == 200
    assert math.isnan(censored_median([], []))


def test_ungrok_summary_monotone_and_spreads():
    rows = [(d, w, s, a) for d, a in ((10, 0.0), (20, 0.5), (40, 1.0)) for w in (0.5, 1.0) for s in (0, 1)]
    df = pd.DataFrame(rows, columns=["D'", "weight_decay", "seed", "final_test_acc"])
    us = ungrok_summary(df)
    assert us["monotone"] and us["spread_wd"] == 0 and us["spread_D"] == 1.0 and us["tol"] == 0.02
    df.loc[df["D'"] == 40, "final_test_acc"] = 0.2  # a drop of 0.3 > tol
    assert not ungrok_summary(df)["monotone"]


def test_loglog_slope_and_first_overtake():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    assert loglog_slope(x, 3 * x ** 1.5) == pytest.approx(1.5)
    assert math.isnan(loglog_slope([2, 2], [1, 2]))
    assert first_overtake([0, 10, 20, 30], [0, 2, 1, 5], [1, 1, 2, 2]) == 10
    assert first_overtake([0, 10, 20, 30], [0, 2, 1, 5], [1, 1, 2, 2], after=15) == 30
    assert math.isnan(first_overtake([0, 10], [0, 0], [1, 1]))


def test_still_changing_flags_runs_that_have_not_converged():
    from grokkit.metrics.ungrokking import still_changing

    steps = np.arange(0, 1001, 100)
    flat = pd.DataFrame({"step": steps, "member": 0, "value": np.r_[np.linspace(1, 0.3, 6), [0.3] * 5]})
    falling = pd.DataFrame({"step": steps, "member": 1, "value": np.linspace(1, 0.3, 11)})
    out = still_changing(pd.concat([flat, falling]))
    assert list(out.index) == [0, 1] and list(out) == [False, True]
