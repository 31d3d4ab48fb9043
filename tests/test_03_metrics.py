"""Spec 03 metrics on inputs with known answers: correlations, IPR, pruning/compressibility, Gini, Fisher."""
import math

import numpy as np
import pytest
import torch

from grokkit.metrics import compression as comp
from grokkit.metrics import features as feat
from grokkit.metrics import fisher
from grokkit.models import OneHotMLP, OneHotMLPConfig
from grokkit.models.cnn import IsingCNN, IsingCNNConfig


def test_pearson_matches_numpy_and_layer_summary():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(200, generator=g)
    noise = torch.randn(200, 3, generator=g)
    acts = torch.stack([2 * f + 1, -f, noise[:, 0]], 1)  # (N, 3)
    acts = torch.cat([acts, torch.zeros(200, 1)], 1)  # a dead neuron
    rho = feat.pearson(acts[None], f)[0]
    ref = [np.corrcoef(acts[:, i].numpy(), f.numpy())[0, 1] for i in range(3)]
    np.testing.assert_allclose(rho[:3].numpy(), ref, atol=1e-6)
    assert rho[3].item() == 0.0
    w = feat.activity_weights(acts[None])[0]
    assert math.isclose(w.sum().item(), 1.0, rel_tol=1e-6) and w[3].item() == 0
    summary = feat.layer_summary(acts[None], f)[0].item()
    assert math.isclose(summary, (w * rho.abs()).sum().item(), rel_tol=1e-6)
    # a layer of perfect feature detectors has summary 1
    assert math.isclose(feat.layer_summary(torch.stack([f, -3 * f], 1)[None], f).item(), 1.0, rel_tol=1e-6)


def test_dominant_feature_share_counts_live_neurons():
    g = torch.Generator().manual_seed(1)
    e, m = torch.randn(500, generator=g), torch.randn(500, generator=g)
    # 3 energy detectors, 1 magnetisation detector, 1 mostly-energy mix, 1 dead neuron
    acts = torch.stack([e, -2 * e, e + 0.1 * m, m, 0.8 * e + 0.5 * m, torch.full((500,), 3.0)], 1)
    share = feat.dominant_feature_share(torch.stack([acts, acts[:, [3, 3, 3, 3, 0, 5]]]), {"E": e, "M": m})
    assert share["E"].tolist() == pytest.approx([4 / 5, 1 / 5])
    assert share["M"].tolist() == pytest.approx([1 / 5, 4 / 5])
    dead = feat.dominant_feature_share(torch.zeros(1, 500, 4), {"E": e, "M": m})
    assert dead["E"].item() == 0 and dead["M"].item() == 0


def test_threshold_accuracy_finds_the_separating_cut():
    f = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    assert feat.threshold_accuracy(f, y, torch.tensor([0.0, 1.0]), torch.tensor([0, 1])) == (1.0, 1.0)
    # the rule may point down: large feature -> class 0
    assert feat.threshold_accuracy(-f, y, torch.tensor([0.0, -1.0]), torch.tensor([0, 1])) == (1.0, 1.0)
    y2 = torch.tensor([0, 0, 1, 1, 1, 1])
    tr, te = feat.threshold_accuracy(f, y2, torch.tensor([0.0, 0.25, 0.5, 1.0]), torch.tensor([0, 1, 1, 1]))
    # the cut at 0.25 separates y2 exactly; a test point ON the cut is predicted 0 (strictly above predicts 1)
    assert tr == pytest.approx(1.0) and te == pytest.approx(3 / 4)
    y3 = torch.tensor([0, 1, 0, 1, 1, 1])
    # cuts at 0.15 and 0.5 both make one train error: the lower one wins -> test predictions [0, 1, 1, 1]
    tr, te = feat.threshold_accuracy(f, y3, torch.tensor([0.05, 0.25, 0.5, 1.0]), torch.tensor([0, 0, 1, 0]))
    assert tr == pytest.approx(5 / 6) and te == pytest.approx(2 / 4)
    with pytest.raises(ValueError):
        feat.threshold_accuracy(f, y[:3], f, y)


def test_fourier_ipr_known_values():
    p = 31
    k = torch.arange(p, dtype=torch.float64)
    cos = torch.cos(2 * math.pi * 5 * k / p)
    mix = torch.cos(2 * math.pi * 3 * k / p + 0.7)  # any phase: still one frequency
    two = torch.cos(2 * math.pi * 3 * k / p) + torch.cos(2 * math.pi * 7 * k / p)
    delta = torch.zeros(p, dtype=torch.float64)
    delta[4] = 1
    W = torch.stack([cos, mix, two, delta, torch.ones(p, dtype=torch.float64)], 1)  # (p, 5 neurons)
    out = feat.fourier_ipr(W, dim=0)
    np.testing.assert_allclose(out.numpy(), [0.5, 0.5, 0.25, 1 / p, 1.0], atol=1e-6)


def test_onehot_mlp_ipr_shapes_and_pure_frequency_model():
    p, h = 23, 6
    m = OneHotMLP(OneHotMLPConfig(p=p, d_hidden=h), n_members=2).reset_parameters([0, 1])
    k = torch.arange(p, dtype=torch.float32)
    with torch.no_grad():
        for n in range(h):
            m.W1[0, :p, n] = torch.cos(2 * math.pi * (n + 1) * k / p)
            m.W1[0, p:, n] = torch.sin(2 * math.pi * (n + 1) * k / p)
            m.W2[0, n, :] = torch.cos(2 * math.pi * (n + 1) * k / p + 1.0)
    iprs = feat.onehot_mlp_ipr(dict(m.named_parameters()), p)
    assert set(iprs) == {"in_a", "in_b", "out"} and iprs["in_a"].shape == (2, h)
    np.testing.assert_allclose(feat.mean_ipr(iprs)[0].item(), 0.5, atol=1e-5)
    assert feat.mean_ipr(iprs)[1].item() < 0.3  # random Gaussian weights are spread over frequencies


def test_area_compressibility_kept_and_gini():
    f = np.linspace(0, 1, 11)
    assert math.isclose(comp.area(f, np.ones(11)), 1.0)
    assert math.isclose(comp.area(f, 1 - f), 0.5)
    assert math.isclose(float(comp.compressibility(0.5)), 2.0)
    acc = np.where(f <= 0.65, 1.0, 0.1)
    assert math.isclose(float(comp.kept_for_accuracy(f, acc, 0.95)), 0.4)
    acc2 = np.stack([acc, np.where(f <= 0.25, 0.8, 0.0)])
    np.testing.assert_allclose(comp.kept_for_accuracy(f, acc2, 0.95), [0.4, 0.8])
    assert comp.gini(np.ones(10)) == pytest.approx(0.0)
    assert comp.gini(np.eye(10)[0]) == pytest.approx(0.9)
    assert comp.gini(np.arange(1, 5.0)) == pytest.approx(0.25)
    fit = comp.linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit["slope"] == pytest.approx(2) and fit["r2"] == pytest.approx(1)


def test_pruning_schemes():
    m = IsingCNN(IsingCNNConfig(), n_members=2).reset_parameters([0, 1])
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    assert comp.weight_names(state) == ["conv1_w", "conv2_w", "fc1_w", "fc2_w"]
    masks = comp.magnitude_masks(state, 0.5, "layer")
    for mk in masks.values():
        assert mk[0].sum().item() == mk[0].numel() - round(0.5 * mk[0].numel())
    # scaling one layer by 1000 moves naive global pruning onto the other layers, not the normalised one
    scaled = dict(state, fc1_w=state["fc1_w"] * 1000)
    g0, g1 = comp.magnitude_masks(state, 0.5, "global"), comp.magnitude_masks(scaled, 0.5, "global")
    assert g1["fc1_w"].sum() > g0["fc1_w"].sum()
    n0, n1 = comp.magnitude_masks(state, 0.5, "global_norm"), comp.magnitude_masks(scaled, 0.5, "global_norm")
    assert all(torch.equal(n0[k], n1[k]) for k in n0)
    with pytest.raises(ValueError):
        comp.magnitude_masks(state, 0.5, "nope")


def test_pruning_curve_evaluates_pruned_members_and_restores():
    m = IsingCNN(IsingCNNConfig(), n_members=2).reset_parameters([0, 1])
    X = torch.randn(40, 1, 16, 16)
    y = torch.randint(0, 2, (40,))
    evaluate = comp.accuracy_fn(X, y, torch.arange(40), chunk=16)
    before = evaluate(m)
    state = {k: v.detach().clone() for k, v in m.state_dict().items()}
    curve = comp.pruning_curve(m, state, evaluate, [0.0, 1.0], "layer")
    assert curve.shape == (2, 2)
    np.testing.assert_allclose(curve[:, 0], before.numpy())
    # all weights removed: the output is a function of the biases only -> one class for every input
    m_zero = IsingCNN(IsingCNNConfig(), n_members=2)
    m_zero.load_state_dict({k: (v * 0 if v.dim() >= 3 else v) for k, v in state.items()})
    np.testing.assert_allclose(curve[:, 1], evaluate(m_zero).numpy())
    assert all(torch.equal(v, state[k]) for k, v in m.state_dict().items())


def _brute_fisher(model, X):
    """Exact diagonal Fisher by a plain loop over samples and classes (member 0 only)."""
    out = {n: torch.zeros_like(p[0]) for n, p in model.named_parameters()}
    for x in X:
        logits = model(x[None, None].expand(model.n_members, 1, *x.shape))[0, 0]
        prob = torch.softmax(logits, -1).detach()
        for c in range(len(prob)):
            model.zero_grad()
            torch.log_softmax(model(x[None, None].expand(model.n_members, 1, *x.shape))[0, 0], -1)[c].backward()
            for n, p in model.named_parameters():
                out[n] += prob[c] * p.grad[0] ** 2
    return {n: v / len(X) for n, v in out.items()}


@pytest.fixture
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny per-sample gradients: threads only add overhead
    yield
    torch.set_num_threads(n)


def test_diag_fisher_matches_brute_force_and_is_per_member(one_thread):
    m = IsingCNN(IsingCNNConfig(), n_members=2).reset_parameters([0, 1], [1.0, 2.0]).double()
    X = torch.randn(6, 1, 16, 16, dtype=torch.float64)
    F = fisher.diag_fisher(m, X, chunk=4)
    ref = _brute_fisher(m, X)
    for n in ref:
        torch.testing.assert_close(F[n][0].double(), ref[n], rtol=1e-4, atol=1e-10)
    single = IsingCNN(IsingCNNConfig(), n_members=1).reset_parameters([1], [2.0]).double()
    F1 = fisher.diag_fisher(single, X)
    for n in F1:
        torch.testing.assert_close(F1[n][0], F[n][1], rtol=1e-4, atol=1e-10)
    # sampled labels (many classes) are an unbiased estimate: close to exact with many draws
    mlp = OneHotMLP(OneHotMLPConfig(p=5, d_hidden=8), n_members=1).reset_parameters([0]).double()
    Xp = torch.tensor([[a, b] for a in range(5) for b in range(5)])
    Fe = fisher.flatten(fisher.diag_fisher(mlp, Xp, exact=True))
    Fs = fisher.flatten(fisher.diag_fisher(mlp, Xp, exact=False, n_y=100, seed=1))
    assert (Fs - Fe).abs().sum() / Fe.sum() < 0.2


def test_trajectory_measures_known_paths():
    v = torch.tensor([[1.0, 2.0, 0.0]])
    theta0 = torch.tensor([[1.0, 1.0, 1.0]])
    straight = [theta0 + k * v for k in range(5)]
    F = torch.tensor([[1.0, 4.0, 9.0]])
    out = fisher.trajectory_measures(straight, F, stiff_cut=2.0)
    np.testing.assert_allclose(out["fisher_cos_consec"], 1.0)
    np.testing.assert_allclose(out["euclid_cos_consec"], 1.0)
    np.testing.assert_allclose(out["fisher_step"], math.sqrt(1 + 4 * 4))
    np.testing.assert_allclose(out["euclid_step"], math.sqrt(5))
    np.testing.assert_allclose(out["stiff_step"], 4.0)  # only coordinates with F >= 2 (the 2nd; the 3rd does not move)
    np.testing.assert_allclose(out["sloppy_step"], 1.0)
    decay = [theta0 * 0.9**k for k in range(4)]  # pure weight decay: every step points at the origin
    np.testing.assert_allclose(fisher.trajectory_measures(decay, F)["fisher_cos_origin"], 1.0)
    zigzag = [torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 1.0]]),
              torch.tensor([[2.0, 1.0]])]
    z = fisher.trajectory_measures(zigzag, torch.ones(1, 2), stiff_cut=None)
    np.testing.assert_allclose(z["fisher_cos_consec"], 0.0, atol=1e-12)
    # the Fisher metric ignores coordinates with zero information
    back = [torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 0.0]])]
    b = fisher.trajectory_measures(back, torch.tensor([[1.0, 0.0]]), stiff_cut=None)
    assert b["fisher_cos_consec"][0, 0] == pytest.approx(1.0) and b["euclid_cos_consec"][0, 0] == pytest.approx(0.0)
