import pytest
import torch

from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.models.edgepopup import EdgePopup, EdgePopupConfig, masks_from_state, topk_mask
from grokkit.tasks.parity import SparseParityTask
from grokkit.tasks.polynomial import PolynomialTask
from grokkit.train import TrainConfig, fit


def test_polynomial_task_targets():
    t = PolynomialTask(d=5, n_train=7, n_test=3, seed=2)
    torch.testing.assert_close(t.y, (t.X @ t.beta) ** 2 / 2)
    assert t.X.shape == (10, 5) and len(t.train) == 7 and len(t.test) == 3
    assert torch.equal(PolynomialTask(d=5, n_train=7, n_test=3, seed=2).X, t.X)


def test_sparse_parity_labels():
    t = SparseParityTask(n_bits=10, k=3, n_train=50, n_test=20, seed=1)
    bits = (t.X > 0).long()
    assert torch.equal(t.y, bits[:, t.subset].sum(1) % 2)
    assert len(t.subset) == 3 and set(t.X.unique().tolist()) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="k"):
        SparseParityTask(n_bits=3, k=4)


def test_topk_straight_through_to_abs_scores():
    """The mask ranks |s|; the gradient passes straight through the top-k to |s|, so dL/ds = sign(s) dL/dmask."""
    s = torch.tensor([[3.0, -5.0, 1.0, 0.5], [0.1, 0.2, 0.3, -0.4]], requires_grad=True)
    m = topk_mask(s, 0.5)
    assert torch.equal(m, torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
    (m * torch.arange(4.0)).sum().backward()
    torch.testing.assert_close(s.grad, torch.tensor([[0.0, -1.0, 2.0, 3.0], [0.0, 1.0, 2.0, -3.0]]))
    s.grad = None  # the ablation rule: straight through to s itself, no sign
    (topk_mask(s, 0.5, grad="identity") * torch.arange(4.0)).sum().backward()
    torch.testing.assert_close(s.grad, torch.arange(4.0).expand(2, 4))


def test_a_gradient_step_keeps_the_helpful_weight_whatever_the_score_sign():
    """Two weights, keep 1: the weight whose use lowers the loss must win the slot after a step. Its score starts
    negative and just below the other's |s|; with the sign-free rule it loses (|s| of a negative score moves the
    wrong way)."""
    w = torch.tensor([[1.0, 1.0]])
    for grad, winner in (("abs", 0), ("identity", 1)):
        s = torch.tensor([[-0.50, 0.51]], requires_grad=True)
        loss = ((topk_mask(s, 0.5, grad=grad) * w) * torch.tensor([[-1.0, 1.0]])).sum()  # weight 0 helps, 1 hurts
        loss.backward()
        with torch.no_grad():
            s -= 0.1 * s.grad
        assert int(topk_mask(s, 0.5).argmax()) == winner, (grad, s)
    with pytest.raises(ValueError, match="grad"):
        EdgePopupConfig(EmbedMLPConfig(p=11), grad="sign")


def _tiny():
    from grokkit.tasks import ModularTask, random_split

    task = ModularTask(p=11, operation="add")
    split = random_split(task, 0.5, seed=0)
    return Data(task.inputs("pairs"), task.y, split.train, split.test)


def test_edgepopup_forward_equals_masked_base_and_frozen_weights():
    cfg = EmbedMLPConfig(p=11, d_emb=16, d_hidden=8)
    base = build(cfg, n_members=2, seeds=[0, 1])
    state = {n: p.detach().clone() for n, p in base.named_parameters()}
    ep = EdgePopup.from_state(EdgePopupConfig(cfg, keep=0.4), state, seeds=[3, 4])
    masks = ep.masks()
    assert abs(float(masks["W_in"][0].float().mean()) - 0.4) < 0.01
    x = _tiny().X[:5].expand(2, 5, 2)
    masked = build(cfg, n_members=2, seeds=[0, 1])
    with torch.no_grad():
        for n, p in masked.named_parameters():
            p.mul_(masks[n])
    torch.testing.assert_close(ep(x), masked(x))
    run = fit(ep, _tiny(), TrainConfig(steps=20, lr=1e-2, weight_decay=0.0, eval_every=10),
              trainable=ep.score_names(), store=None, progress=False)
    for n in state:  # weights frozen, scores moved, masks changed
        torch.testing.assert_close(run.final_state["base." + n], state[n])
    new = masks_from_state(ep.config, run.final_state)
    assert any(not torch.equal(new[n], masks[n]) for n in masks)
