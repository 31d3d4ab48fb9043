"""Spec 03: Ising sampler physics and the ensemble Ising CNN."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from grokkit.models.cnn import IsingCNN, IsingCNNConfig
from grokkit.tasks import ising


def test_energy_and_magnetisation_of_known_configurations():
    up = torch.ones(16, 16, dtype=torch.int8)
    checker = ((torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2 - 1).to(torch.int8)
    assert ising.energy(up).item() == -2 * 256 and ising.magnetisation(up).item() == 256
    assert ising.energy(checker).item() == 2 * 256 and ising.magnetisation(checker).item() == 0
    stripe = torch.ones(16, 16)
    stripe[:8] = -1  # two horizontal domain walls (periodic): 2 * 16 broken bonds
    assert ising.energy(stripe).item() == -2 * 256 + 2 * 2 * 16 and ising.magnetisation(stripe).item() == 0
    assert math.isclose(ising.TC, 2.269185, rel_tol=1e-6)


def test_glauber_statistics_are_physical():
    cfg = ising.IsingConfig(n_temps=3, t_min=1.5, t_max=3.5, per_temp=200, sweeps=100, seed=1)
    tab = ising.load_ising(cfg, cache=False)
    m = (tab.magnetisation.abs() / 256).view(3, 200)
    e = (tab.energy / 256).view(3, 200)
    assert m[0].mean() > 0.7  # T = 1.5 < Tc: ordered (a few metastable stripes allowed)
    assert m[2].mean() < 0.2  # T = 3.5 > Tc: disordered
    assert m[0].mean() > m[1].mean() > m[2].mean()
    assert e[0].mean() < e[1].mean() < e[2].mean()
    assert -2.0 <= e.min() and e[0].mean() < -1.8  # ground state energy -2 per spin
    # the short run leaves some ordered-phase domain-wall snapshots: low |M| but low energy
    assert ((m[0] < 0.5) & (e[0] < -1.5)).sum() >= 1
    assert tab.y.view(3, 200)[:, 0].tolist() == [1, 0, 0]


def test_high_temperature_limit_is_uncorrelated():
    g = torch.Generator().manual_seed(0)
    s = ising.glauber(torch.full((400,), 1e6), 16, 5, g).float()
    assert abs(s.mean().item()) < 0.02
    assert abs((ising.energy(s) / 512).mean().item()) < 0.02  # <s_i s_j> ~ 0


def test_dataset_split_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GROKKIT_CACHE", str(tmp_path))
    tab, tr, te = ising.ising_dataset(n_train=30, n_test=70, sweeps=5, seed=3)
    assert len(tab) == 100 and len(tr) == 30 and len(te) == 70
    assert len(set(tr.tolist()) & set(te.tolist())) == 0
    assert tab.X.shape == (100, 1, 16, 16) and set(tab.X.unique().tolist()) == {-1.0, 1.0}
    assert tab.source == "generated"
    again, _, _ = ising.ising_dataset(n_train=30, n_test=70, sweeps=5, seed=3)
    assert again.source.startswith("cache") and torch.equal(again.X, tab.X)
    with pytest.raises(ValueError):
        ising.ising_split(tab, 60, 60)
    with pytest.raises(ValueError):
        ising.IsingConfig(L=15)


def test_cnn_has_6798_parameters():
    assert IsingCNN(IsingCNNConfig()).n_params() == 6798


def _reference(m, e):
    seq = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(2, 4, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 2))
    with torch.no_grad():
        seq[0].weight.copy_(m.conv1_w[e]), seq[0].bias.copy_(m.conv1_b[e])
        seq[3].weight.copy_(m.conv2_w[e]), seq[3].bias.copy_(m.conv2_b[e])
        seq[7].weight.copy_(m.fc1_w[e].T), seq[7].bias.copy_(m.fc1_b[e])
        seq[9].weight.copy_(m.fc2_w[e].T), seq[9].bias.copy_(m.fc2_b[e])
    return seq.double()


def test_cnn_members_equal_independent_torch_models():
    m = IsingCNN(IsingCNNConfig(), n_members=3).reset_parameters([0, 1, 2], [1.0, 3.0, 0.1]).double()
    x = torch.randn(3, 5, 1, 16, 16, dtype=torch.float64)
    out = m(x)
    pre = m.preactivations(x)
    assert pre["conv1"].shape == (3, 5, 2, 16, 16) and pre["conv2"].shape == (3, 5, 4, 8, 8)
    assert pre["fc1"].shape == (3, 5, 100)
    for e in range(3):
        ref = _reference(m, e)
        torch.testing.assert_close(out[e], ref(x[e]))
        torch.testing.assert_close(pre["conv1"][e], ref[0](x[e]))
    # member 1 alone (same seed, same scale) equals member 1 of the ensemble
    single = IsingCNN(IsingCNNConfig(), n_members=1).reset_parameters([1], [3.0]).double()
    torch.testing.assert_close(single(x[1:2]), out[1:2])
    # init scale multiplies every parameter
    base = IsingCNN(IsingCNNConfig()).reset_parameters([0], [1.0])
    big = IsingCNN(IsingCNNConfig()).reset_parameters([0], [10.0])
    for (_, a), (_, b) in zip(base.named_parameters(), big.named_parameters()):
        torch.testing.assert_close(b, 10 * a)
    # gradients flow to every member separately
    out.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in m.parameters())


def test_dataset_cache_unusable_store_still_generates(tmp_path, monkeypatch):
    """GROKKIT_CACHE pointing at a file: one warning, the table is generated, nothing raises."""
    bad = tmp_path / "a-file"
    bad.write_text("not a directory")
    monkeypatch.setenv("GROKKIT_CACHE", str(bad))
    with pytest.warns(UserWarning, match="a-file"):
        tab, _, _ = ising.ising_dataset(n_train=30, n_test=70, sweeps=5, seed=4)
    assert tab.source == "generated" and len(tab) == 100
