"""Unit tests for spec 02: toy circuit model, allocation theorem, circuit proxies (known answers)."""
import math

import numpy as np
import pytest
import torch

from grokkit.metrics.circuits import (
    ProxyCallback,
    circuit_proxies,
    correct_logit,
    isologit_buckets,
    param_norm,
    param_norm_state,
    trig_coefficients,
    trig_logits,
)
from grokkit.theory import (
    TOY_SETTINGS,
    ToyConfig,
    allocation_exponent,
    check_allocation,
    logit_scaling_losses,
    simulate_toy,
    toy_grad,
    toy_loss,
)


def _grid(p):
    a = torch.arange(p, dtype=torch.float64)
    return torch.meshgrid(a, a, a, indexing="ij")


# ---- toy model -----------------------------------------------------------------------------
def test_toy_closed_form_gradient_matches_autograd():
    cfg = ToyConfig(P_G=1.3, P_M=2.1, kappa=1.2, alpha=0.01)
    w = torch.tensor([0.7, 0.4, -0.3, 1.2], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(toy_loss(w, cfg), w)
    g2 = toy_grad(w.detach().numpy()[:, None], cfg.P_G, cfg.P_M, cfg.kappa, cfg.alpha, cfg.n_classes)[:, 0]
    np.testing.assert_allclose(g2, g.numpy(), rtol=1e-10, atol=1e-12)


def test_toy_predicted_ratio():
    assert TOY_SETTINGS["a"].predicted_ratio() == pytest.approx(8.0)
    assert TOY_SETTINGS["b"].predicted_ratio() == pytest.approx(1 / 8)


def test_toy_settings_reach_their_fixed_points():
    r = simulate_toy(steps=30000, record_every=100).summary.set_index("setting")
    assert r.loc["a", "ratio"] == pytest.approx(8.0, rel=0.05)
    assert r.loc["a", "final_test_acc"] == 1.0 and r.loc["a", "plateau"] > 10  # groks late
    assert r.loc["b", "ratio"] == pytest.approx(1 / 8, rel=0.05)
    assert not r.loc["b", "ever_generalised"]
    assert r.loc["c", "t_gen"] <= r.loc["c", "t_mem"]  # no plateau


def test_toy_rejects_bad_config():
    with pytest.raises(ValueError):
        ToyConfig(kappa=0)


# ---- allocation theorem ------------------------------------------------------------------
def test_allocation_power_law_exponent():
    for kappa, q in [(1.2, 2.0), (1.0, 2.0), (1.5, 3.0)]:
        r = check_allocation([1.0, 1.5, 2.0, 3.0], kappa, q)
        assert r.fitted_exponent == pytest.approx(allocation_exponent(kappa, q), rel=0.02)
        assert (r.w > 0).all()


def test_allocation_winner_takes_all():
    for kappa, q in [(2.0, 2.0), (3.0, 2.0)]:
        r = check_allocation([2.0, 1.0, 1.5, 3.0], kappa, q)
        assert r.winner_share > 1 - 1e-6 and r.holds()


def test_allocation_exponent_value_and_error():
    assert allocation_exponent(1.2, 2) == pytest.approx(-3.0)
    with pytest.raises(ValueError):
        allocation_exponent(2.0, 2.0)


def test_logit_scaling_decreases_loss_for_perfect_classifier():
    torch.manual_seed(0)
    logits = torch.randn(50, 7)
    y = logits.argmax(-1)
    losses = logit_scaling_losses(logits, y, [1.0, 1.5, 2.0, 4.0])
    assert np.all(np.diff(losses) < 0)
    # the same cross-entropy as the textbook formula ...
    direct = [float(torch.nn.functional.cross_entropy(c * logits.double(), y)) for c in (1.0, 1.5, 2.0, 4.0)]
    np.testing.assert_allclose(losses, direct, rtol=1e-12)
    # ... and still strictly decreasing when margins are so large that logsumexp(cz) - cz_y cancels to 0
    wide = torch.tensor([[30.0, 0.0, 0.0], [0.0, 45.0, 1.0]])
    big = logit_scaling_losses(wide, torch.tensor([0, 1]), [1.0, 2.0, 4.0])
    assert np.all(big > 0) and np.all(np.diff(big) < 0)


# ---- circuit proxies ---------------------------------------------------------------------
def test_trig_projection_of_pure_fourier_logits():
    p = 7
    A, B, C = _grid(p)
    Z = 3 * torch.cos(2 * math.pi * 2 * (A + B - C) / p) + 0.5 * torch.cos(2 * math.pi * (A + B - C) / p)
    coef = trig_coefficients(Z[None])[0]
    np.testing.assert_allclose(coef.numpy(), [0.5, 3.0, 0.0], atol=1e-10)
    torch.testing.assert_close(trig_logits(Z[None])[0], Z)
    pr = circuit_proxies(Z[None])
    assert float(pr.trig_logit) == pytest.approx(3.5)
    assert float(pr.mem_logit["all"]) == pytest.approx(0.0, abs=1e-10)
    assert float(pr.trig_fraction) == pytest.approx(1.0)


def test_pure_memorisation_logits_have_no_trig_part_on_average():
    p = 11
    # a lookup table that puts logit 1 on the correct label of a few inputs only: o_t is small, o_m carries it
    Z = torch.zeros(1, p, p, p, dtype=torch.float64)
    rows = torch.tensor([0, 5, 17, 30, 64])
    for r in rows.tolist():
        a, b = divmod(r, p)
        Z[0, a, b, (a + b) % p] = 1.0
    pr = circuit_proxies(Z, {"train": rows})
    assert float(pr.correct_logit["train"]) == pytest.approx(1.0 - 1.0 / p)  # centred: minus the row mean 1/p
    # projection of a 5-point spike onto the K directions: o_t = sum_k 5*1/(p^3/2) = 5 K * 2 / p^3
    assert float(pr.trig_logit) == pytest.approx(5 * ((p - 1) // 2) * 2 / p**3)
    assert float(pr.mem_logit["train"]) == pytest.approx(1.0 - 1.0 / p - float(pr.trig_logit))


def test_subtraction_sign():
    p = 5
    A, B, C = _grid(p)
    Z = torch.cos(2 * math.pi * (A - B - C) / p)
    assert float(circuit_proxies(Z[None], sign=-1).trig_logit) == pytest.approx(1.0)
    assert float(circuit_proxies(Z[None], sign=1).trig_fraction) < 0.5


def test_param_norm_and_correct_logit():
    from grokkit.models import MLP, MLPConfig

    m = MLP(MLPConfig(sizes=(3, 4, 2)), n_members=2).reset_parameters([0, 1])
    with torch.no_grad():
        for prm in m.parameters():
            prm.fill_(1.0)
        for prm in m.parameters():
            prm[1].fill_(2.0)
    n = sum(prm[0].numel() for prm in m.parameters())
    np.testing.assert_allclose(param_norm(m).numpy(), [math.sqrt(n), 2 * math.sqrt(n)])
    state = {k: v.detach() for k, v in m.named_parameters()}
    np.testing.assert_allclose(param_norm_state(state).numpy(), [math.sqrt(n), 2 * math.sqrt(n)])
    logits = torch.tensor([[[1.0, 2.0], [3.0, 0.0]]])
    assert float(correct_logit(logits, torch.tensor([[1, 0]]), centred=False)) == pytest.approx(2.5)
    assert float(correct_logit(logits, torch.tensor([[1, 0]]))) == pytest.approx((0.5 + 1.5) / 2)


def test_isologit_buckets_geometric():
    v = np.array([1.0, 3.0, 5.0, 10.0, 20.0, 64.0, -1.0])
    ids, edges = isologit_buckets(v, n_buckets=3)
    np.testing.assert_allclose(edges, [1.0, 4.0, 16.0, 64.0])
    assert list(ids) == [0, 0, 1, 1, 2, 2, -1]


def test_proxy_callback_on_transformer():
    from grokkit.data import Data
    from grokkit.models import Transformer, TransformerConfig
    from grokkit.tasks import ModularTask, random_split
    from grokkit.train import EvalContext

    p = 7
    task = ModularTask(p=p)
    sp = random_split(task, 0.5)
    data = Data(task.inputs("sequence"), task.y, sp.train, sp.test, n_members=2)
    model = Transformer(TransformerConfig(d_vocab=p + 1, n_ctx=3, d_vocab_out=p, d_model=8, n_heads=2, d_mlp=16),
                        n_members=2).reset_parameters([0, 1])
    out = ProxyCallback(p)(EvalContext(0, model, data, torch.device("cpu"), {}))
    assert set(out) >= {"trig_logit", "mem_logit_train", "mem_logit_test", "P", "trig_frac"}
    assert all(v.shape == (2,) for v in out.values())
    with torch.no_grad():
        y_logits = model(data.X[sp.train].expand(2, -1, -1))
    expect = correct_logit(y_logits, task.y[sp.train].expand(2, -1))
    torch.testing.assert_close(out["correct_logit_train"], expect.float(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out["trig_logit"] + out["mem_logit_train"], expect.float(), rtol=1e-4, atol=1e-5)
