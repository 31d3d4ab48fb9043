"""Censored-time comparisons (grokkit.metrics.censored) and the ticket analyses of notebook 01
(grokkit.metrics.tickets) on known answers."""
import math

import numpy as np
import pandas as pd
import pytest

from grokkit.metrics import censored, tickets
from grokkit.metrics.censored import UNDECIDED

NAN = float("nan")


def test_show_and_median_count_censored_runs():
    assert censored.show(400, 3000) == "400" and censored.show(NAN, 3000) == "> 3000"
    assert censored.median([100, NAN, 300]) == 300  # the censored run ranks last, it is not dropped
    assert censored.median([100, NAN]) == math.inf and censored.median([1, 3]) == 2
    assert censored.summary([100, NAN, 300], 1000, [True, UNDECIDED, False]) == \
        "300 [100, > 1000], 1/3 censored (1 held / 3)"


def test_ratio_holds_only_where_the_cap_proves_it():
    assert censored.ratio_at_most(400, 1000, 1500, 3000, 1 / 3) is True
    assert censored.ratio_at_most(600, 1000, 1500, 3000, 1 / 3) is False
    assert censored.ratio_at_most(400, 1000, NAN, 3000, 1 / 3) is True  # 400 / (> 3000) < 1/3: proved
    assert censored.ratio_at_most(400, 1000, NAN, 1000, 1 / 3) == UNDECIDED  # > 1000 does not prove it
    assert censored.ratio_at_most(NAN, 1000, 2000, 3000, 1 / 3) is False  # > 1000 / 2000 = 0.5
    assert censored.ratio_at_most(NAN, 300, 2000, 3000, 1 / 3) == UNDECIDED
    assert censored.ratio_at_most(NAN, 300, NAN, 3000, 1 / 3) == UNDECIDED


def test_greater_with_censored_times():
    assert censored.greater(700, 1000, 300, 1000, 2) is True and censored.greater(500, 1000, 300, 1000, 2) is False
    assert censored.greater(NAN, 1000, 300, 1000, 2) is True  # > 1000 >= 600
    assert censored.greater(NAN, 500, 300, 1000, 2) == UNDECIDED  # > 500 says nothing about > 600
    assert censored.greater(500, 1000, NAN, 300, 2) is False  # 2 * (> 300) > 600 > 500
    assert censored.greater(700, 1000, NAN, 300, 2) == UNDECIDED
    assert censored.all_greater([NAN, 900], 1000, [200, 400], 1000, 2) is True
    assert censored.all_greater([NAN, 700], 1000, [200, 400], 1000, 2) is False
    assert censored.all_greater([], 1000, [200], 1000) == UNDECIDED


def test_majority_and_spearman_with_censored_times():
    assert censored.majority([True, True, False]) is True
    assert censored.majority([True, False, False]) is False
    assert censored.majority([True, UNDECIDED]) == UNDECIDED and censored.majority([]) == UNDECIDED
    assert censored.spearman([0, 1, 2, 3], [10, 5, 3, 1]) == pytest.approx(-1.0)
    # a never-generalising ticket at the highest k ranks last: the decrease is no longer perfect
    assert censored.spearman([0, 1, 2, 3], [10, 5, 3, NAN]) == pytest.approx(0.2)
    assert censored.spearman([0, 1, 2], [NAN, NAN, 1]) == pytest.approx(-np.sqrt(3) / 2)


def test_prune_step():
    assert tickets.prune_step(620, 200, 50, 3000) == (850, True)
    assert tickets.prune_step(600, 200, 50, 3000) == (800, True)
    assert tickets.prune_step(2900, 200, 50, 3000) == (3000, True)
    assert tickets.prune_step(NAN, 200, 50, 2500) == (2500, False)


def test_tau_table_counts_censored_tickets_and_decrease():
    sweep = pd.DataFrame(dict(k=[0.0, 0.0, 0.3, 0.3, 0.6, 0.6], t_mem=[100, 100, 100, 100, 100, 100],
                              t_gen=[3000, 2000, 600, NAN, 300, 200]))
    sweep["tau_grok"] = sweep.t_gen / sweep.t_mem
    tab = tickets.tau_table(sweep, {0.0: 245.674, 0.3: 20.214, 0.6: 5.099})
    assert tab.tau_median.tolist() == [25.0, math.inf, 2.5]
    assert tab.n_generalised.tolist() == [2, 1, 2] and tab.n.tolist() == [2, 2, 2]
    assert tab.paper_tau.tolist() == [245.674, 20.214, 5.099]
    d = tickets.tau_decrease(tab)
    assert d["rho"] == pytest.approx(-0.5) and d["tau_first"] == 25.0 and d["tau_last"] == 2.5
    assert d["strictly_decreasing"] is False


def test_peak_alignment_and_values_at_steps():
    curve = pd.DataFrame(dict(step=[0, 100, 200, 300, 400], jd=[0.9, 0.1, 0.5, 0.2, 0.1],
                              d_test_acc=[0.5, 0.0, 0.1, 0.6, 0.0]))
    assert tickets.peak_alignment(curve) == (0, 300)
    assert tickets.peak_alignment(curve, start=100) == (200, 300)
    assert tickets.peak_alignment(curve, start=NAN) == (0, 300)
    c = pd.DataFrame(dict(step=[0, 50, 100, 150], value=[0.1, 0.2, 0.3, 0.4]))
    assert tickets.at_steps(c, [0, 60, 149, 1000]) == [0.1, 0.2, 0.4, 0.4]


@pytest.mark.parametrize("bad, message", [
    (dict(p=12), "p=12 is not allowed: must be a prime"),
    (dict(operation="rand"), "operation='rand' is not allowed"),
    (dict(prune_rate=1.0), "prune_rate=1.0 is not allowed"),
    (dict(prune_rates="0.1, 1.5"), "prune_rates="),
    (dict(ops="sub,foo"), "ops="),
    (dict(extra_tasks="mnist"), "extra_tasks="),
    (dict(extras="maybe"), "extras='maybe' is not allowed: must be True or False"),
    (dict(ticket_steps=0), "ticket_steps=0 is not allowed: must be >= 1"),
    (dict(train_frac=1.0), "train_frac=1.0 is not allowed"),
])
def test_notebook_01_rejects_bad_values_naming_the_parameter(bad, message, tmp_path):
    from grokkit.params import load_spec

    spec = load_spec("01_lottery_tickets")
    with pytest.raises(ValueError) as e:
        spec.resolve(profile="ci", output_dir=str(tmp_path), **bad)
    assert message in str(e.value)


def test_weight_norms_of_a_member():
    import torch

    state = {"W": torch.tensor([[[3.0, -4.0]], [[1.0, 0.0]]]), "b": torch.tensor([[0.0], [2.0]])}
    assert tickets.weight_norms(state) == {"l1": 7.0, "l2": 5.0}
    assert tickets.weight_norms(state, member=1) == {"l1": 3.0, "l2": pytest.approx(math.sqrt(5))}
    assert tickets.weight_norms(state, ["b"], member=1) == {"l1": 2.0, "l2": 2.0}
