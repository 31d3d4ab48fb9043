
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import InterruptAt

from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, MLPConfig, build
from grokkit.store import RunStore
from grokkit.tasks import ModularTask, random_split, subset
from grokkit.train import TrainConfig, fit, grokking_times


@pytest.fixture(scope="module")
def small():
    task = ModularTask(p=13, operation="add")
    split = random_split(task, 0.5, seed=0)
    return task, split, Data(task.inputs("pairs"), task.y, split.train, split.test)


def _mlp(n=1, seeds=0, p=13):
    return build(EmbedMLPConfig(p=p, d_emb=32, d_hidden=16), n_members=n, seeds=seeds)


@pytest.mark.parametrize("optimizer, torch_cls, wd",
                         [("adamw", torch.optim.AdamW, 0.5), ("adam", torch.optim.Adam, 0.1)])
def test_single_model_matches_torch_optimizer(small, optimizer, torch_cls, wd):
    task, split, data = small
    model = _mlp(seeds=[5])
    ref = _mlp(seeds=[5])
    cfg = TrainConfig(steps=25, lr=3e-3, weight_decay=wd, optimizer=optimizer, eval_every=5, device="cpu")
    fit(model, data, cfg, store=None, progress=False)
    opt = torch_cls(ref.parameters(), lr=3e-3, weight_decay=wd, betas=(0.9, 0.98), eps=1e-8)
    x, y = data.X[split.train][None], task.y[split.train]
    for _ in range(25):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x)[0], y).backward()
        opt.step()
    for (n, a), (_, b) in zip(model.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=n)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_sgd_shared_and_per_member(small, momentum):
    """SGD (coupled L2, heavy-ball momentum as torch.optim.SGD): the shared-optimizer path (one lr / wd) and the
    per-member path (two members with different weight decays) both match torch's SGD run on each member alone."""
    task, split, data = small
    x, y = data.X[split.train][None], task.y[split.train]

    def reference(seed, wd):
        ref = _mlp(seeds=[seed])
        opt = torch.optim.SGD(ref.parameters(), lr=5e-2, momentum=momentum, weight_decay=wd)
        for _ in range(25):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(ref(x)[0], y).backward()
            opt.step()
        return ref

    shared = TrainConfig(steps=25, lr=5e-2, weight_decay=0.5, optimizer="sgd", momentum=momentum, eval_every=5)
    model = _mlp(seeds=[5])
    fit(model, data, shared, store=None, progress=False)
    for (n, a), (_, b) in zip(model.named_parameters(), reference(5, 0.5).named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=n)
    per = TrainConfig(steps=25, lr=5e-2, weight_decay=(0.5, 0.1), optimizer="sgd", momentum=momentum, eval_every=5)
    ens = fit(_mlp(2, seeds=[5, 6]), data, per, store=None, progress=False)
    for m, (seed, wd) in enumerate(((5, 0.5), (6, 0.1))):
        for n, b in reference(seed, wd).named_parameters():
            torch.testing.assert_close(ens.final_state[n][m : m + 1], b.detach(), rtol=1e-5, atol=1e-6, msg=n)


def test_momentum_is_validated_and_keeps_old_keys(small, monkeypatch):
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(optimizer="adamw", momentum=0.9)
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(optimizer="sgd", momentum=1.5)
    import grokkit.train as T
    seen = []
    monkeypatch.setattr(T.store_mod, "config_key", lambda **kw: seen.append(kw["train"]) or "k")
    model, data = _mlp(), small[2]
    for cfg in (TrainConfig(optimizer="sgd"), TrainConfig(optimizer="sgd", momentum=0.9)):
        T._run_key(model, data, cfg, [], [], [], None, None, None)
    assert "momentum" not in seen[0], "momentum 0 (the default) stays out of the run-store key"
    assert seen[1]["momentum"] == 0.9


def test_ensemble_member_equals_run_alone(small):
    """Per-member seed, lr, weight decay and training subset; short horizon (chaos grows with steps)."""
    task, split, data = small
    subsets = [subset(split.train, n, seed=1) for n in (40, 60, 84)]
    lrs, wds = (1e-3, 2e-3, 3e-3), (0.0, 1.0, 0.3)
    ens_data = Data(data.X, task.y, subsets, [split.test] * 3)
    cfg = TrainConfig(steps=60, lr=lrs, weight_decay=wds, eval_every=10, warmup_steps=5, grad_clip=1.0)
    ens = fit(_mlp(3, seeds=[0, 1, 2]), ens_data, cfg, store=None, progress=False)
    for m in range(3):
        one = Data(data.X, task.y, subsets[m], split.test)
        cfg1 = TrainConfig(steps=60, lr=lrs[m], weight_decay=wds[m], eval_every=10, warmup_steps=5, grad_clip=1.0)
        alone = fit(_mlp(1, seeds=[m]), one, cfg1, store=None, progress=False)
        for k, v in alone.final_state.items():
            torch.testing.assert_close(ens.final_state[k][m : m + 1], v, rtol=1e-4, atol=1e-5)
        h_ens = ens.history[ens.history.member == m].drop(columns="member").reset_index(drop=True)
        h_one = alone.history.drop(columns="member").reset_index(drop=True)
        pd.testing.assert_frame_equal(h_ens, h_one, atol=1e-4, rtol=1e-4)


def test_per_member_labels_train_independently(small):
    task, split, data = small
    g = torch.Generator().manual_seed(0)
    y2 = torch.stack([task.y, task.y[torch.randperm(len(task.y), generator=g)]])
    d = Data(data.X, y2, split.train, split.test, n_members=2)
    run = fit(_mlp(2, seeds=[0, 0]), d, TrainConfig(steps=30, eval_every=10), store=None, progress=False)
    # same init, different labels -> different weights
    assert not torch.allclose(run.final_state["W_E"][0], run.final_state["W_E"][1])


def test_masks_keep_pruned_weights_at_zero(small):
    _, _, data = small
    model = _mlp(2, seeds=[0, 1])
    g = torch.Generator().manual_seed(0)
    masks = {n: torch.rand(p.shape, generator=g) > 0.6 for n, p in model.named_parameters()}
    fit(model, data, TrainConfig(steps=30, weight_decay=0.0, eval_every=10), masks=masks, store=None, progress=False)
    for n, p in model.named_parameters():
        assert torch.all(p[~masks[n]] == 0)
        assert (p[masks[n]] != 0).float().mean() > 0.99


def test_history_and_grokking_times_from_a_known_history():
    rows = []
    for step, tr, te in [(0, 0.1, 0.0), (10, 0.96, 0.1), (20, 1.0, 0.5), (30, 1.0, 0.97), (40, 1.0, 1.0)]:
        rows += [(step, 0, "train", "acc", tr), (step, 0, "test", "acc", te)]
    h = pd.DataFrame(rows, columns=["step", "member", "split", "metric", "value"])
    t = grokking_times(h, 0.95).iloc[0]
    assert (t.t_mem, t.t_gen, t.tau_grok) == (10, 30, 3.0)
    h2 = h[~((h.split == "test") & (h.value > 0.9))]
    assert np.isnan(grokking_times(h2, 0.95).iloc[0].t_gen)


def test_fit_groks_tiny_task_and_stops_early():
    task = ModularTask(p=23, operation="add")
    split = random_split(task, 0.5, seed=0)
    data = Data(task.inputs("pairs"), task.y, split.train, split.test)
    model = build(EmbedMLPConfig(p=23, d_emb=128, d_hidden=64), seeds=0)
    cfg = TrainConfig(steps=4000, lr=3e-3, weight_decay=1.0, eval_every=50, early_stop_patience=100)
    run = fit(model, data, cfg, store=None, progress=False)
    t = run.times.iloc[0]
    assert t.t_mem < t.t_gen < 4000
    assert run.meta["stopped_early"] and run.meta["steps_run"] == t.t_gen + 100
    s = run.summary()
    last_test = run.history.query("split == 'test' and metric == 'acc'").sort_values("step").value.iloc[-1]
    assert s.loc[0, "final_test_acc"] == last_test > 0.9  # generalised (acc may wobble just after t_gen)
    assert 0 in run.checkpoints and run.meta["steps_run"] in run.checkpoints


def test_minibatch_and_mse_regression():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 5, generator=g)
    y = X @ torch.randn(5, generator=g)
    d = Data(X, y, torch.arange(150), torch.arange(150, 200))
    model = build(MLPConfig(sizes=(5, 32, 1), bias=True), seeds=0)
    cfg = TrainConfig(steps=600, lr=1e-2, weight_decay=0.0, batch_size=32, loss="mse", eval_every=50)
    run = fit(model, d, cfg, store=None, progress=False)
    loss = run.history.query("split == 'test' and metric == 'loss'").value
    assert loss.iloc[-1] < 0.1 * loss.iloc[0]


def test_store_loads_instead_of_training(small, cache_dir):
    _, _, data = small
    store = RunStore(cache_dir)
    cfg = TrainConfig(steps=40, eval_every=10, checkpoint_steps=(20,))
    r1 = fit(_mlp(seeds=[0]), data, cfg, store=store, progress=False)
    model2 = _mlp(seeds=[0])
    r2 = fit(model2, data, cfg, store=store, progress=False)
    assert r2.meta["loaded_from_store"] and not r1.meta["loaded_from_store"]
    pd.testing.assert_frame_equal(r1.history, r2.history)
    torch.testing.assert_close(model2.W_E.detach(), r1.final_state["W_E"])
    assert 20 in r2.checkpoints
    r3 = fit(_mlp(seeds=[1]), data, cfg, store=store, progress=False)  # another seed -> another key
    assert not r3.meta["loaded_from_store"] and r3.key != r1.key
    assert len(store.keys()) == 2



def test_interrupted_fit_resumes_to_the_same_result(small, cache_dir):
    _, _, data = small
    store = RunStore(cache_dir)
    cfg = TrainConfig(steps=400, eval_every=20)
    with pytest.raises(KeyboardInterrupt, match="state saved"):
        fit(_mlp(seeds=[0]), data, cfg, store=store, progress=False, after_step=[InterruptAt(137)])
    resumed = fit(_mlp(seeds=[0]), data, cfg, store=store, progress=False, after_step=[InterruptAt(-1)])
    assert resumed.meta["resumed_from"] == 137
    straight = fit(_mlp(seeds=[0]), data, cfg, store=None, progress=False)
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    for k in straight.final_state:
        torch.testing.assert_close(resumed.final_state[k], straight.final_state[k])


def test_config_validation_messages():
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="threshold"):
        TrainConfig(threshold=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(weight_decay=-1)
    with pytest.raises(ValueError, match="members"):
        fit(_mlp(2), Data(torch.zeros(4, 2, dtype=torch.long), torch.zeros(4, dtype=torch.long),
                          [torch.arange(2)] * 3, [torch.arange(2, 4)] * 3), TrainConfig(steps=1), store=None)


def test_warmup_schedule_values():
    """lr factor at update 0, 1, ...: today's (step + 1) / W by default; f + (1 - f) step / W with warmup_start."""
    from grokkit.train import lr_scale

    W = 4
    old = TrainConfig(warmup_steps=W)
    assert [lr_scale(old, s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    authors = TrainConfig(warmup_steps=W, warmup_start=0)
    assert [lr_scale(authors, s) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    half = TrainConfig(warmup_steps=W, warmup_start=0.5)
    assert [lr_scale(half, s) for s in range(6)] == [0.5, 0.625, 0.75, 0.875, 1.0, 1.0]
    assert [lr_scale(TrainConfig(), s) for s in range(3)] == [1.0, 1.0, 1.0]
    assert TrainConfig(warmup_steps=W, warmup_start=1).warmup_start == 1.0
    for bad in (-0.1, 1.5, float("nan"), "x"):
        with pytest.raises(ValueError, match="warmup_start"):
            TrainConfig(warmup_steps=W, warmup_start=bad)
    with pytest.raises(ValueError, match="warmup_steps > 0"):
        TrainConfig(warmup_start=0.0)


def test_warmup_start_zero_matches_torch_lambdalr(small):
    """warmup_start=0 is the authors' AdamW + LambdaLR(lambda s: min(s / 10, 1)): the same parameters after 14
    updates; the first update has lr 0 (AdamW's decay too), so one update leaves the parameters unchanged."""
    task, split, data = small
    x, y = data.X[split.train][None], task.y[split.train]
    one, init = _mlp(seeds=[3]), _mlp(seeds=[3])
    fit(one, data, TrainConfig(steps=1, lr=3e-3, warmup_steps=10, warmup_start=0, eval_every=1, device="cpu"),
        store=None, progress=False)
    for (n, a), (_, b) in zip(one.named_parameters(), init.named_parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=n)
    model, ref = _mlp(seeds=[3]), _mlp(seeds=[3])
    cfg = TrainConfig(steps=14, lr=3e-3, weight_decay=1.0, warmup_steps=10, warmup_start=0, eval_every=7,
                      device="cpu")
    fit(model, data, cfg, store=None, progress=False)
    opt = torch.optim.AdamW(ref.parameters(), lr=3e-3, weight_decay=1.0, betas=(0.9, 0.98), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(s / 10, 1))
    for _ in range(14):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x)[0], y).backward()
        opt.step()
        sched.step()
    for (n, a), (_, b) in zip(model.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=n)


def test_warmup_start_default_keeps_run_keys(small):
    """The default (None) leaves the run-store key as before the option existed; a value changes it."""
    from grokkit.train import _run_key

    task, split, data = small
    key = lambda cfg: _run_key(_mlp(seeds=[0]), data, cfg, (), (), (), None, None, None)
    base = TrainConfig(steps=5, warmup_steps=10)
    assert key(base) == key(TrainConfig(steps=5, warmup_steps=10, warmup_start=None))
    assert key(base) != key(TrainConfig(steps=5, warmup_steps=10, warmup_start=0.1))
