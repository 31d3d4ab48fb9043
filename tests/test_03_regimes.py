"""Spec 03 analyses (grokkit.metrics.regimes) on inputs with known answers."""
import math

import numpy as np
import pandas as pd
import pytest

from grokkit.metrics import regimes


def history(train, test, member=0, every=1):
    """A tidy history: train acc at every step, test acc every `every` steps."""
    rows = [dict(step=s, member=member, split="train", metric="acc", value=v) for s, v in enumerate(train)]
    rows += [dict(step=s, member=member, split="test", metric="acc", value=v) for s, v in enumerate(test)
             if s % every == 0]
    rows += [dict(step=s, member=member, split="train", metric="loss", value=1.0) for s in range(len(train))]
    return pd.DataFrame(rows)


def test_grok_times_use_ninety_percent_of_each_maximum():
    train = [0.1, 0.5, 0.95, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    test = [0.0, 0.0, 0.1, 0.1, 0.2, 0.5, 0.91, 1.0, 1.0]
    h = pd.concat([history(train, test), history(train, [0.4] * 9, member=1)])
    t = regimes.grok_times(h, frac=0.9, steps_per_epoch=1).set_index("member")
    assert t.loc[0, "t_train"] == 2 and t.loc[0, "t_test"] == 6 and t.loc[0, "grok_time"] == 4
    # a flat test curve reaches 0.9 x its own maximum at once: grok_time alone does not say "generalised"
    assert t.loc[1, "t_test"] == 0 and t.loc[1, "grok_time"] == -2
    # only the evaluated steps count (test every 2 steps), in epochs of 2 steps
    t2 = regimes.grok_times(history(train, test, every=2), frac=0.9, steps_per_epoch=2).iloc[0]
    assert (t2.t_train, t2.t_test, t2.grok_time) == (1.0, 3.0, 2.0)  # steps 2 and 6


def test_peak_ratio_and_share_before():
    e = np.arange(20.0)
    c = np.r_[np.linspace(1, 3, 10), np.full(10, 2.0)]  # peak 3 at epoch 9, final level 2
    r, at = regimes.peak_ratio(e[::-1], c[::-1])  # order does not matter
    assert r == pytest.approx(0.5) and at == 9
    m = np.linspace(0.0, 1.0, 11)  # measure rises linearly from 0 to 1
    acc = np.r_[np.zeros(6), np.ones(5)]  # test acc crosses at epoch 6
    assert regimes.share_before(np.arange(11), m, acc, 0.5) == (pytest.approx(0.6), 6.0)
    assert all(math.isnan(v) for v in regimes.share_before(np.arange(11), m, np.zeros(11), 0.5))
    assert all(math.isnan(v) for v in regimes.share_before(np.arange(3), [1, 1, 1], [0, 1, 1], 0.5))


def test_spearman():
    assert regimes.spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert regimes.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(regimes.spearman([1, 2], [1, 2]))


def test_censored_median_and_comparison():
    # 3 measured times, 2 censored above them: the median is the 3rd smallest = a measured 30
    assert regimes.censored_median([10, 20, 30, 0, 0], [0, 0, 0, 1, 1], 100) == (30.0, False)
    # 3 of 5 censored: only a lower bound of the median is known (the bounds 500, 400, 600 -> median 400)
    v, bound = regimes.censored_median([10, 20, 0, 0, 0], [0, 0, 1, 1, 1], [0, 0, 500, 400, 600])
    assert bound and v == 400.0
    assert regimes.show_median(v, bound) == "> 400"
    assert regimes.greater(400.0, True, 30.0, False) is True  # a > 400 >= 30
    assert regimes.greater(400.0, True, 500.0, False) == regimes.UNDECIDED  # a > 400 says nothing against 500
    assert regimes.greater(30.0, False, 400.0, True) == regimes.UNDECIDED  # b unknown
    assert regimes.greater(30.0, False, 20.0, False) is True
    assert regimes.greater(10.0, False, 20.0, False) is False


def test_onesided_fourier_ipr_known_signals():
    import torch

    from grokkit.metrics import features as feat

    for p in (31, 32):
        k = torch.arange(p, dtype=torch.float64)
        cos = torch.cos(2 * math.pi * 5 * k / p + 0.3)
        two = torch.cos(2 * math.pi * 3 * k / p) + torch.cos(2 * math.pi * 7 * k / p)
        delta = torch.zeros(p, dtype=torch.float64)
        delta[4] = 1
        W = torch.stack([cos, two, delta, torch.ones(p, dtype=torch.float64)], 1)  # (p, 4 neurons)
        one = regimes.onesided_fourier_ipr(W, dim=0).numpy()
        flat = (1 + 4 * ((p - 1) // 2) + (1 if p % 2 == 0 else 0)) / p**2  # merged powers 1, 2, ..., 2 (, 1)
        np.testing.assert_allclose(one, [1.0, 0.5, flat, 1.0], atol=1e-6)
        np.testing.assert_allclose(feat.fourier_ipr(W, dim=0).numpy(), [0.5, 0.25, 1 / p, 1.0], atol=1e-6)
    # the one-hot MLP helper: both normalisations, same shapes, one-sided = 2 x two-sided for pure frequencies
    p, h = 23, 4
    kk = torch.arange(p, dtype=torch.float64)
    W1 = torch.cos(2 * math.pi * (1 + torch.arange(h))[None, :] * torch.cat([kk, kk])[:, None] / p)[None].float()
    W2 = W1[:, :p, :].transpose(1, 2).contiguous()
    st = {"W1": W1, "W2": W2}
    two, one = regimes.onehot_mlp_ipr(st, p, "two"), regimes.onehot_mlp_ipr(st, p, "one")
    for k in ("in_a", "in_b", "out"):
        assert one[k].shape == (1, h)
        np.testing.assert_allclose(one[k].numpy(), 1.0, atol=1e-5)
        np.testing.assert_allclose(two[k].numpy(), 0.5, atol=1e-5)


def test_conv1_preactivations_carry_no_flip_invariant_feature():
    """Why 'conv1 carries no E / |M| information' is a symmetry, not a finding: conv1 is affine in the spins, E and
    |M| are invariant under s -> -s, so over a flip-symmetric set of snapshots every conv1 neuron has correlation
    exactly 0 with them, whatever the weights. After a ReLU (conv2) the symmetry is broken."""
    import torch

    from grokkit.metrics import features as feat
    from grokkit.models.cnn import IsingCNN, IsingCNNConfig
    from grokkit.tasks import ising

    g = torch.Generator().manual_seed(0)
    s = (torch.rand(64, 16, 16, generator=g) < torch.linspace(0.05, 0.5, 64)[:, None, None]).float() * 2 - 1
    s = torch.cat([s, -s])  # the data are flip-symmetric
    E, M = torch.stack([ising.energy(x) for x in s]).double(), s.sum((1, 2)).double()
    model = IsingCNN(IsingCNNConfig(), n_members=3).reset_parameters([0, 1, 2], [1.0, 1.0, 10.0])
    with torch.no_grad():
        pre = model.preactivations(s.unsqueeze(0).expand(3, *s.shape))
    for f in (E, M.abs()):
        assert feat.layer_summary(feat.flatten_neurons(pre["conv1"]), f).abs().max() < 1e-6
        assert feat.layer_summary(feat.flatten_neurons(pre["conv2"]), f).min() > 1e-3
