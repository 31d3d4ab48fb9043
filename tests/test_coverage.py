"""grokkit.metrics.coverage (Theorem 3.12 of spec 04) on known answers."""
import itertools
import math

import numpy as np
import pytest

from grokkit.metrics import coverage as cov
from grokkit.metrics import uniformity as U


def test_cover_counts():
    t = cov.cover_counts(5, 2, torus=False)
    assert t[0, 0] == 3 and t[0, 2] == 4 and t[2, 2] == 5  # corner, edge, interior
    assert (cov.cover_counts(7, 3, torus=True) == 13).all()
    assert cov.cover_counts(9, 3, torus=False).max() == U.coverage_size(3)
    with pytest.raises(ValueError):
        cov.cover_counts(3, 3, torus=True)


def _brute_uncovered(p, n, m, torus):
    pts = [(i, j) for i in range(p) for j in range(p)]
    dist = (lambda a, b: min(abs(a - b), p - abs(a - b))) if torus else (lambda a, b: abs(a - b))
    total = 0
    subsets = list(itertools.combinations(pts, m))
    for train in subsets:
        total += sum(all(dist(x, a) + dist(y, b) >= n for a, b in train) for x, y in pts)
    return total / len(subsets)


@pytest.mark.parametrize("torus", [False, True])
def test_expected_uncovered_is_exact(torus):
    p, n = 4, 2  # 16 points, m = 3: all 560 training sets
    assert cov.expected_uncovered(p, n, 3 / 16, torus) == pytest.approx(_brute_uncovered(p, n, 3, torus))
    assert cov.expected_uncovered(p, n, 0.0, torus) == 16 and cov.expected_uncovered(p, n, 1.0, torus) == 0


def test_torus_bound_holds_and_the_edges_break_it():
    """On a torus the theorem is exact math: E[uncovered] < p^2 (1 - C/p^2)^m < 1 at alpha*. Without
    wrap-around (the (a, b) table) the edge points are covered less: at p = 97, n = 6 it is about 2."""
    for n in (3, 4, 5, 6):
        assert cov.expected_uncovered(97, n, U.coverage_bound(97, n), torus=True) < 1
    assert cov.expected_uncovered(97, 6, U.coverage_bound(97, 6), torus=False) > 1.5


def test_monte_carlo_agrees_with_the_exact_expectation():
    t = cov.coverage_table(31, ns=(3,), ratios=(0.75, 1.0, 1.25), trials=400, seed=1)
    assert set(t.grid) == {"table", "torus"} and len(t) == 6
    z = (t.mean_uncovered - t.exact_uncovered) / t.se_uncovered.clip(lower=1e-3)
    assert (z.abs() < 4).all(), t
    assert np.all(t.alpha <= 1) and math.isclose(t.bound.iloc[0], U.coverage_bound(31, 3))
    assert len(cov.coverage_table(97, ns=(3,), ratios=(1.0, 1.5), trials=2)) == 2  # 1.5 * 0.704 > 1: dropped


def test_the_square_of_a_sum_operation():
    from grokkit.tasks import ModularTask

    t = ModularTask(p=7, operation="xpy2")
    assert t.description == "(a+b)^2 mod 7"
    assert all(int(y) == (int(a) + int(b)) ** 2 % 7 for a, b, y in zip(t.a, t.b, t.y))
