import math

import numpy as np
import pytest
import torch

from grokkit.metrics import progress
from grokkit.metrics import uniformity as U


def test_med_on_a_line_and_options():
    # rows i * v on a line: every gap = |v| = 5
    v = torch.tensor([3.0, 4.0])
    emb = torch.arange(7.0)[:, None] * v
    assert U.med(emb).item() == pytest.approx(5.0)
    assert U.med(emb, reduce="sum").item() == pytest.approx(30.0)
    # wrap adds ||E[0] - E[6]|| = 30: mean over 7 gaps = 60/7
    assert U.med(emb, wrap=True).item() == pytest.approx(60 / 7)
    assert U.spacing_cv(emb).item() == pytest.approx(0.0, abs=1e-12)
    # ensemble axis and p < V (the "=" token is ignored)
    ens = torch.stack([emb, 2 * emb])
    torch.testing.assert_close(U.med(ens, p=5), torch.tensor([5.0, 10.0], dtype=torch.float64))
    with pytest.raises(ValueError):
        U.med(emb, reduce="max")


def test_med_authors_on_a_circle():
    """Points equally spaced on a circle (gap g = 2 r sin(pi / p)) with the last token moved off it: ours averages
    the gaps 0..p-2 (the moved one included), the authors' the gaps 0..p-3 only; their rescalings are exact
    multiples; with separate b ids the a block and the b block at the offset are averaged."""
    p, r = 11, 2.0
    ang = 2 * math.pi * torch.arange(p, dtype=torch.float64) / p
    circle = r * torch.stack([ang.cos(), ang.sin()], 1)
    g = 2 * r * math.sin(math.pi / p)
    assert U.med(circle).item() == pytest.approx(g)
    assert U.med_authors(circle, p).item() == pytest.approx(g)
    moved = circle.clone()
    moved[p - 1] = 3 * circle[p - 1]  # the last gap changes, no other
    last = (moved[p - 1] - moved[p - 2]).norm().item()
    assert U.med(moved).item() == pytest.approx(((p - 2) * g + last) / (p - 1))
    assert U.med_authors(moved, p).item() == pytest.approx(g)
    assert U.med_authors(moved, p, rescale="sum").item() == pytest.approx(2 * g)
    assert U.med_authors(moved, p, rescale="length").item() == pytest.approx(2 * (p - 1) * g)
    # separate b ids: a block = the circle, b block at offset 15 = a circle of radius 2r: 0.5 (g + 2g)
    table = torch.zeros(15 + p + 1, 2, dtype=torch.float64)
    table[:p], table[15:15 + p] = moved, 2 * circle
    assert U.med_authors(table, p, offset=15).item() == pytest.approx(1.5 * g)
    ens = torch.stack([moved, 2 * moved])
    torch.testing.assert_close(U.med_authors(ens, p), torch.tensor([g, 2 * g], dtype=torch.float64))
    for bad in (dict(rescale="max"), dict(offset=2)):
        with pytest.raises(ValueError):
            U.med_authors(moved, p, **bad)


def test_spacing_cv_known_value():
    emb = torch.tensor([[0.0], [1.0], [4.0]])  # gaps 1, 3: mean 2, std 1
    assert U.spacing_cv(emb).item() == pytest.approx(0.5)


def test_parallelogram_residual_and_rqi_on_a_line():
    p = 11
    lin = torch.arange(p, dtype=torch.float64)[:, None] * torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    quads = U.parallelogram_quads(p)
    assert torch.all((quads[:, 0] + quads[:, 1] - quads[:, 2] - quads[:, 3]) % p == 0)
    # i + j = m + n exactly (no wrap-around) gives zero residual; wrapped quadruples are off by p * v
    exact = (quads[:, 0] + quads[:, 1]) == (quads[:, 2] + quads[:, 3])
    r = U.parallelogram_residual(lin, quads=quads)
    assert torch.all(r[exact] < 1e-9)
    torch.testing.assert_close(r[~exact], torch.full_like(r[~exact], float(p)))
    assert U.rqi(lin).item() == pytest.approx(exact.double().mean().item())
    assert U.parallelogram_quads(p, n=100, seed=1).shape[1] == 4


def test_coverage_bound_matches_spec_numbers():
    assert [U.coverage_size(n) for n in (1, 2, 3)] == [1, 5, 13]
    for n, want in ((3, 0.704), (4, 0.366), (5, 0.223), (6, 0.150)):
        assert U.coverage_bound(97, n) == pytest.approx(want, abs=1e-3)


def test_coverage_monte_carlo():
    full = U.coverage_monte_carlo(13, 2, 1.0, trials=2)
    assert full["mean_coverage"] == 1.0 and full["p_full"] == 1.0
    # n = 1 covers only the training points themselves
    one = U.coverage_monte_carlo(13, 1, 0.3, trials=3)
    assert one["mean_coverage"] == pytest.approx(round(0.3 * 169) / 169)
    # above the bound almost every point is covered; expected coverage formula is close to MC
    p, n = 31, 4
    alpha = 1.2 * U.coverage_bound(p, n)
    mc = U.coverage_monte_carlo(p, n, alpha, trials=10)
    assert mc["mean_coverage"] > 0.99
    assert abs(mc["mean_coverage"] - U.expected_coverage(p, n, alpha)) < 0.01


def test_circulant_rows():
    v = torch.tensor([1.0, 2.0, 3.0])
    M = U.circulant_rows(v, 4)
    assert M.tolist() == [[1, 2, 3], [3, 1, 2], [2, 3, 1], [1, 2, 3]]
    # consecutive rows are equally spaced: MED spacing CV is 0
    assert U.spacing_cv(U.circulant_rows(torch.randn(16), 10)).item() < 1e-6


def test_fourier_basis_and_gini():
    B = progress.fourier_basis(7)
    torch.testing.assert_close(B @ B.T, torch.eye(7, dtype=torch.float64))
    p = 13
    x = torch.arange(p, dtype=torch.float64)
    W = torch.stack([torch.cos(2 * math.pi * 4 * x / p), torch.sin(2 * math.pi * 4 * x / p)], 1)
    norms = progress.frequency_norms(W, p)
    assert int(norms.argmax()) + 1 == 4 and norms.sum() == pytest.approx(norms.max().item())
    assert progress.key_frequencies(W, p, 1).tolist() == [4]
    assert progress.gini(torch.ones(6)).item() == pytest.approx(0.0)
    assert progress.gini(torch.tensor([0, 0, 0, 1.0])).item() == pytest.approx(0.75)
    assert progress.fourier_gini(W, p).item() == pytest.approx((6 - 1) / 6)


def test_restricted_and_excluded_loss_on_a_fourier_circuit():
    p = 11
    a = torch.arange(p * p) // p
    b = torch.arange(p * p) % p
    y = (a + b) % p
    c = torch.arange(p)
    w = 2
    # logits = 10 cos(w (a + b - c)): pure key-frequency circuit, predicts (a + b) mod p
    logits = (10 * torch.cos(2 * math.pi * w * ((a + b)[:, None] - c[None]) / p))[None]
    full = torch.nn.functional.cross_entropy(logits[0].double(), y).item()
    assert progress.restricted_loss(logits, y, a, b, p, [w]).item() == pytest.approx(full, rel=1e-6)
    # removing the circuit leaves constant logits: loss ln p
    assert progress.excluded_loss(logits, y, a, b, p, [w]).item() == pytest.approx(math.log(p), rel=1e-6)
    # restricting to a wrong frequency destroys it
    assert progress.restricted_loss(logits, y, a, b, p, [3]).item() == pytest.approx(math.log(p), rel=1e-6)


def test_total_squared_norm_and_med_callback():
    from grokkit.models import Transformer, TransformerConfig

    m = Transformer(TransformerConfig(d_vocab=8, n_ctx=3, d_vocab_out=7, d_model=8, n_heads=2, d_mlp=16),
                    n_members=2).reset_parameters([0, 1])
    want = torch.stack([sum(p[i].double().pow(2).sum() for p in m.parameters()) for i in range(2)])
    torch.testing.assert_close(progress.total_squared_norm(m), want)

    class Ctx:
        model = m

    out = U.MEDCallback(p=7)(Ctx())
    torch.testing.assert_close(out["med"], U.med(m.W_E.detach(), 7).float())
    assert out["spacing_cv"].shape == (2,)
    assert "med_authors" not in out
    both = U.MEDCallback(p=7, authors_offset=0)(Ctx())
    torch.testing.assert_close(both["med_authors"], U.med(m.W_E.detach(), 6).float())
    hid = U.MEDCallback(p=7, source="hidden", cv=False)(Ctx())
    torch.testing.assert_close(hid["med"], U.med(m.W_E.detach() + m.W_pos[:, :1].detach(), 7).float())


def test_table1_stats_definitions():
    steps = [0, 100, 200, 300, 400, 500]
    train = [0.1, 1.0, 1.0, 1.0, 1.0, 1.0]
    test = [0.0, 0.1, 0.2, 0.6, 0.9, 0.7]
    st = U.table1_stats(steps, train, test)
    assert st["t_mem"] == 100 and st["U-Acc"] == pytest.approx(0.9) and st["L-Acc"] == pytest.approx(0.7)
    assert st["GO"] == 300  # first step with test acc >= 0.1 + (0.9 - 0.1) / 2 = 0.5
    flat = U.table1_stats(steps, train, [0.0, 0.05, 0.06, 0.05, 0.07, 0.06])
    assert flat["GO"] is None and flat["U-Acc"] == pytest.approx(0.07)
    assert U.table1_stats(steps, [0.5] * 6, test)["t_mem"] is None


def test_med_correlation_and_scale_k():
    steps = np.arange(20)
    train = np.r_[np.zeros(5), np.ones(15)]
    loss = np.linspace(5, 1, 20)
    r = U.med_correlation(steps, train, 2 * loss + 1, loss)
    assert r["n"] == 15 and r["pearson"] == pytest.approx(1.0) and r["spearman"] == pytest.approx(1.0)
    assert r["pearson_smooth"] == pytest.approx(1.0)
    assert U.med_correlation(steps, train, -loss, loss)["spearman"] == pytest.approx(-1.0)
    assert U.scale_k(60, 97, "square", 0.3) == 60
    assert U.scale_k(66, 97, "strip", 0.3) == 66
    assert U.scale_k(67, 97, "strip", 0.3) == 66  # rows 0..67 would leave < 30% of the table to train on
    assert U.scale_k(40, 31, "strip", 0.45) == 13
    assert U.scale_k(67, 97, "strip", 0.3, clip=False) == 67
    assert U.scale_k(67, 31, "strip", 0.45, clip=False) == 21  # round(67 * 31 / 97)
    assert U.scale_k(67, 31, "strip", 0.45) == 16
