import pytest
import torch

from grokkit import prune


def _state():
    g = torch.Generator().manual_seed(0)
    return {"A": torch.randn(2, 10, 20, generator=g), "B": torch.randn(2, 30, generator=g) * 5}


def test_global_magnitude_exact_count_and_threshold():
    s = _state()
    m = prune.magnitude(s, 0.6, "global")
    total = 200 + 30
    for e in range(2):
        kept = int(m["A"][e].sum() + m["B"][e].sum())
        assert kept == total - round(0.6 * total)
        kept_min = min(s["A"][e][m["A"][e]].abs().min(), s["B"][e][m["B"][e]].abs().min())
        dropped_max = max(s["A"][e][~m["A"][e]].abs().max(), s["B"][e][~m["B"][e]].abs().max())
        assert kept_min >= dropped_max
    # B has larger weights: globally it keeps a larger share than A
    assert m["B"].float().mean() > m["A"].float().mean()
    torch.testing.assert_close(prune.sparsity(m), torch.full((2,), round(0.6 * total) / total))


def test_layer_magnitude_prunes_each_layer_by_rate():
    m = prune.magnitude(_state(), 0.3, "layer")
    assert int(m["A"][0].sum()) == 200 - 60 and int(m["B"][1].sum()) == 30 - 9


def test_random_masks_and_rate_zero():
    s = _state()
    m = prune.random(s, 0.5, seed=1)
    assert int(m["A"][0].sum()) == 100
    assert all(v.all() for v in prune.magnitude(s, 0.0).values())
    with pytest.raises(ValueError, match="rate"):
        prune.magnitude(s, 1.2)
    with pytest.raises(ValueError, match="scope"):
        prune.magnitude(s, 0.5, scope="row")


def test_revive_dead_units_exact_counts():
    m_in = torch.ones(2, 5, 4, dtype=torch.bool)
    m_out = torch.ones(2, 4, 3, dtype=torch.bool)
    m_in[0, :, 1] = False  # member 0: unit 1 has no inputs left
    m_in[1, :4, 2] = False  # member 1: unit 2 keeps one input: not dead
    m_out[1, 3, :] = False  # member 1: unit 3 has no outputs left
    m_out[1, 0, :2] = False
    masks = {"W_in": m_in, "W_out": m_out, "W_E": torch.zeros(2, 3, dtype=torch.bool)}
    out, n_in, n_out = prune.revive_dead_units(masks)
    assert n_in.tolist() == [1, 0] and n_out.tolist() == [0, 1]
    assert out["W_in"][0].all() and out["W_out"][1, 3].all()
    assert int(out["W_in"][1].sum()) == 20 - 4 and int(out["W_out"][1].sum()) == 12 - 2  # partial ones untouched
    assert out["W_E"] is masks["W_E"] and masks["W_in"][0, :, 1].sum() == 0  # other masks and the input unchanged
    with pytest.raises(ValueError, match="same h"):
        prune.revive_dead_units({"W_in": m_in, "W_out": m_out.transpose(1, 2)})


def test_norm_ratio_known_values():
    s = {"W": torch.tensor([[3.0, 4.0, 0.0, 0.0]])}
    m = {"W": torch.tensor([[True, False, False, False]])}
    torch.testing.assert_close(prune.norm_ratio(s, m, 2), torch.tensor([3.0 / 5.0]))
    torch.testing.assert_close(prune.norm_ratio(s, m, 1), torch.tensor([3.0 / 7.0]))
    assert torch.equal(prune.apply(s, m)["W"], torch.tensor([[3.0, 0.0, 0.0, 0.0]]))


def _model_data():
    from grokkit.data import Data
    from grokkit.models import EmbedMLPConfig, build
    from grokkit.tasks import ModularTask, random_split

    task = ModularTask(p=11, operation="add")
    split = random_split(task, 0.5, seed=0)
    data = Data(task.inputs("pairs"), task.y, split.train, split.test)
    return build(EmbedMLPConfig(p=11, d_emb=12, d_hidden=6), n_members=2, seeds=[0, 1]), data


def test_snip_scores_are_abs_grad_times_weight():
    model, data = _model_data()
    scores = prune.snip_scores(model, data)
    loss = prune._member_loss(model, data)
    g = torch.autograd.grad(loss[1], model.W_in)[0]
    torch.testing.assert_close(scores["W_in"][1], (g * model.W_in).abs()[1].detach())
    m = prune.at_init("snip", model, data, 0.6)
    assert torch.allclose(prune.sparsity(m), torch.full((2,), 0.6), atol=1e-3)


def test_grasp_scores_match_explicit_hessian_vector_product():
    model, data = _model_data()
    sc = prune.grasp_scores(model, data, names=["W_in"], temperature=3.0)

    from torch.func import functional_call

    class Swapped(torch.nn.Module):  # the same model with W_in replaced by w
        def __init__(self, w):
            super().__init__()
            self.w, self.n_members, self.dummy = w, 2, torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return functional_call(model, {**dict(model.named_parameters()), "W_in": self.w}, (x,)) / 3.0

    def loss_of(w):
        return prune._member_loss(Swapped(w), data).sum()

    w = model.W_in.detach().clone().requires_grad_(True)
    g = torch.autograd.grad(loss_of(w), w)[0]
    hv = torch.autograd.functional.hvp(loss_of, w, g)[1]
    torch.testing.assert_close(sc["W_in"], -(hv * w).detach(), rtol=1e-3, atol=1e-7)


def test_synflow_restores_parameters_and_masks_all_methods():
    model, data = _model_data()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    sf = prune.synflow_scores(model, data)
    assert all((v >= 0).all() for v in sf.values())
    for n, p in model.named_parameters():
        assert torch.equal(p.detach(), before[n])
    for method in prune.PAI_METHODS:
        m = prune.at_init(method, model, data, 0.5)
        assert set(m) == set(before)
        assert torch.allclose(prune.sparsity(m), torch.full((2,), 0.5), atol=1e-3)
    with pytest.raises(ValueError, match="method"):
        prune.at_init("bogus", model, data, 0.5)
