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


def test_norm_ratio_known_values():
    s = {"W": torch.tensor([[3.0, 4.0, 0.0, 0.0]])}
    m = {"W": torch.tensor([[True, False, False, False]])}
    torch.testing.assert_close(prune.norm_ratio(s, m, 2), torch.tensor([3.0 / 5.0]))
    torch.testing.assert_close(prune.norm_ratio(s, m, 1), torch.tensor([3.0 / 7.0]))
    assert torch.equal(prune.apply(s, m)["W"], torch.tensor([[3.0, 0.0, 0.0, 0.0]]))
