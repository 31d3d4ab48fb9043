"""grokkit.metrics.curve_stats on known answers."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from grokkit.metrics import curve_stats as cs
from grokkit.metrics.embedding_diag import diagnostics
from grokkit.metrics.uniformity import parallelogram_quads


def _history():
    rows = []
    for m in (0, 1):
        for step in (0, 1, 2, 3):
            rows.append((step, m, "train", "acc", 0.5 + 0.1 * step))
            rows.append((step, m, "train", "loss", 2.0 - step))
            if step % 2 == 0:
                rows.append((step, m, "test", "acc", 0.1 * step + m))
                rows.append((step, m, "extra", "med", 3.0 - step))
    return pd.DataFrame(rows, columns=["step", "member", "split", "metric", "value"])


def test_wide_curves_keeps_evaluated_rows_and_round_trips():
    w = cs.wide_curves(_history())
    assert list(w.step) == [0, 2, 0, 2] and list(w.member) == [0, 0, 1, 1]
    assert w.loc[1, "test_acc"] == pytest.approx(0.2) and w.loc[3, "test_acc"] == pytest.approx(1.2)
    assert w.loc[1, "extra_med"] == 1.0
    assert len(cs.wide_curves(_history(), member=1, evaluated=False)) == 4
    t = cs.tidy_curves(w)
    assert set(t.split) == {"train", "test"} and set(t.metric) == {"acc", "loss"}
    assert len(t) == 4 * 3  # 4 evaluated rows x (train acc, train loss, test acc)
    assert cs.wide_curves(t)[["train_acc", "test_acc"]].equals(w[["train_acc", "test_acc"]])


def test_first_crossing_and_late_median():
    assert cs.first_crossing([0, 10, 20, 30], [0.1, 0.95, 0.96, 1.0], 0.95) == 20  # strictly above
    assert math.isnan(cs.first_crossing([0, 10], [0.1, 0.2], 0.95))  # censored
    assert cs.late_median(np.arange(0, 101, 10), [0] * 9 + [1, 3], 0.1) == 2.0  # steps >= 90: 1, 3


def test_after_fit():
    assert cs.after_fit([0.5, 1.0, 0.98, 1.0]).tolist() == [False, True, True, True]
    assert not cs.after_fit([0.5, 0.9]).any()


def test_oscillation():
    out = cs.oscillation([0.1, 0.5, 0.95, 0.85, 0.99, 0.97])
    after = np.array([0.95, 0.85, 0.99, 0.97])
    assert out["post_std"] == pytest.approx(after.std(ddof=1))
    assert out["drops"] == 1  # 0.95 -> 0.85 only (0.99 -> 0.97 is 2 points)
    assert math.isnan(cs.oscillation([0.1, 0.95])["post_std"])


def test_trend():
    df = pd.DataFrame({"split": ["square"] * 3 + ["strip"] * 2 + ["x"], "k_paper": [60, 30, 45, 1, 2, 0],
                       "U-Acc": [50, 90, 70, 5, 5, 1]})
    rho, d = cs.trend(df, "square")
    assert rho == pytest.approx(-1.0) and list(d.k_paper) == [30, 45, 60]
    assert cs.trend(df, "strip")[0] == 0.0  # constant U-Acc
    assert math.isnan(cs.trend(df, "x")[0])


def test_paired_faster_censoring():
    nan = float("nan")
    out = cs.paired_faster([100, nan, nan, 50], [80, 300, nan, 60])
    # pair 1: faster; pair 2: other grokked, base never (the cap proves it): faster; pair 3: both censored;
    # pair 4: slower
    assert out == {"faster": 2, "slower": 1, "ties": 0, "n_pairs": 3, "n_censored_both": 1, "holds": True}
    assert cs.paired_faster([nan], [nan])["holds"] is None
    assert cs.paired_faster([10, 10], [10, 20])["holds"] is False
    with pytest.raises(ValueError):
        cs.paired_faster([1, 2], [1])


def test_partial_correlation():
    rng = np.random.default_rng(0)
    z = rng.normal(size=500)
    x = z + 0.1 * rng.normal(size=500)
    y = z + 0.1 * rng.normal(size=500)
    assert np.corrcoef(x, y)[0, 1] > 0.95  # both follow z ...
    assert abs(cs.partial_correlation(x, y, z)) < 0.15  # ... and nothing else
    e = rng.normal(size=500)
    assert cs.partial_correlation(z + e, 2 * e - z, z) == pytest.approx(1.0)  # the same residual
    assert math.isnan(cs.partial_correlation([1, 2, 3], [1, 2, 3], [1, 2, 3]))


def test_embedding_diagnostics_on_a_perfect_line_and_noise():
    p, D = 11, 4
    line = torch.zeros(p + 1, D, dtype=torch.float64)
    line[:, 0] = torch.arange(p + 1)  # evenly spaced on a line; row p ("=") is ignored
    noise = torch.randn(p + 1, D, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d = diagnostics(torch.stack([line, noise]), p)
    assert d.loc[0, "MED"] == 1.0 and d.loc[0, "MED (authors: gaps 0..p-3)"] == 1.0
    assert d.loc[0, "gap CV"] == pytest.approx(0, abs=1e-12)
    q = parallelogram_quads(p)  # a line is a perfect parallelogram exactly where i + j = m + n without wrapping
    assert d.loc[0, "RQI"] == pytest.approx(float((q[:, 0] + q[:, 1] == q[:, 2] + q[:, 3]).double().mean()))
    assert d.loc[1, "RQI"] < 0.2 < d.loc[0, "RQI"]
    rows = torch.zeros(5, 1, dtype=torch.float64)
    rows[:, 0] = torch.tensor([0, 1, 2, 3, 13])  # gaps 1, 1, 1, 10 (p = 5): ours 13/4, the authors' 3/3
    d = diagnostics(rows, 5)
    assert d.loc[0, "MED"] == 13 / 4 and d.loc[0, "MED (authors: gaps 0..p-3)"] == 1.0
