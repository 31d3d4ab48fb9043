"""Unit tests for spec 05: sequence tasks, structural priors, attention metrics (known answers)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokkit import priors
from grokkit.data import Data
from grokkit.metrics.attention import (
    AttentionProbe,
    attention_gradients,
    informative_mass,
    lipschitz_readout,
    structural_divergence,
)
from grokkit.models import TransformerConfig, build
from grokkit.tasks import random_split
from grokkit.tasks.sequences import SequenceTask, _perm_table
from grokkit.train import StepContext, TrainConfig, fit


# ---- tasks ---------------------------------------------------------------------------------
def test_add_task_table():
    t = SequenceTask("add", p=7, seq_len=5)
    assert t.X.shape == (49, 5) and len(t) == 49
    assert t.informative == (0, 1) and t.distractors == (2, 3) and t.query == 4
    assert torch.equal(t.y, (t.X[:, 0] + t.X[:, 1]) % 7)
    assert (t.X[:, -1] == 7).all() and t.X[:, :4].max() < 7
    assert t.vocab_size == 8 and t.n_classes == 7
    assert torch.allclose(t.oracle(), torch.tensor([0.5, 0.5, 0, 0, 0]))
    assert torch.allclose(t.adversarial(), torch.tensor([0, 0, 0.5, 0.5, 0]))
    # one fixed distractor draw per pair, reproducible from the seed, different for another seed
    assert torch.equal(t.X, SequenceTask("add", p=7, seq_len=5).X)
    assert not torch.equal(t.X, SequenceTask("add", p=7, seq_len=5, distractor_seed=1).X)
    # distractors do not determine y: the label is a function of positions S only
    assert len(random_split(t, 0.5, seed=0).train) == 24 or len(random_split(t, 0.5, seed=0).train) == 25


def test_other_tasks():
    m = SequenceTask("mul", p=5, seq_len=4)
    assert torch.equal(m.y, (m.X[:, 0] * m.X[:, 1]) % 5)
    k = SequenceTask("k_add", p=5, k=3, seq_len=6)
    assert k.X.shape == (125, 6) and k.informative == (0, 1, 2)
    assert torch.equal(k.y, k.X[:, :3].sum(1) % 5)
    par = SequenceTask("parity", k=3, seq_len=7)
    assert par.X.shape == (64, 7) and par.n_classes == 2 and par.vocab_size == 3
    assert torch.equal(par.y, par.X[:, :3].sum(1) % 2)
    assert len(set(map(tuple, par.X.tolist()))) == 64
    big = SequenceTask("k_add", p=11, k=4, seq_len=6, max_rows=500)
    assert len(big) == 500 and len(set(map(tuple, big.X[:, :4].tolist()))) == 500
    pm = SequenceTask("perm", n_perm=3, seq_len=5)
    perms, comp = _perm_table(3)
    assert pm.n_classes == 6 and len(pm) == 36
    for row, y in zip(pm.X.tolist(), pm.y.tolist()):
        g, h = perms[row[0]], perms[row[1]]
        assert list(perms[y]) == [g[h[x]] for x in range(3)]
    with pytest.raises(ValueError, match="task"):
        SequenceTask("nope")
    with pytest.raises(ValueError, match="seq_len"):
        SequenceTask("k_add", k=4, seq_len=4)


# ---- distractor sampling: resampled every step (default) or one fixed draw; task or separate vocabulary ----
def _train_inputs(t, n_members=2, seed=0):
    split = random_split(t, 0.5, seed=seed)
    return t.X[split.train].unsqueeze(0).expand(n_members, -1, -1).contiguous()


def test_resampler_redraws_only_the_distractors():
    t = SequenceTask("add", p=11, seq_len=6)
    assert t.distractor_sampling == "resample" and t.distractor_vocab == "task"
    x = _train_inputs(t)
    r = t.resampler(seed=3)
    a, b, a2 = r(x, 5), r(x, 6), r(x, 5)
    S, Dpos = list(t.informative), list(t.distractors)
    for z in (a, b):
        assert z.shape == x.shape and z.dtype == x.dtype
        assert torch.equal(z[..., S], x[..., S]) and torch.equal(z[..., -1], x[..., -1])  # operands and "="
        assert z[..., Dpos].min() >= 0 and z[..., Dpos].max() < 11
    assert torch.equal(a, a2)  # same (seed, step) -> same draw
    assert (a[..., Dpos] != b[..., Dpos]).float().mean() > 0.8  # a fresh draw at the next step
    assert (a[..., Dpos] != x[..., Dpos]).float().mean() > 0.8
    assert not torch.equal(a[0], a[1])  # every member gets its own draw
    assert not torch.equal(t.resampler(seed=4)(x, 5), a)
    assert torch.equal(x, _train_inputs(t))  # the input is not modified in place
    # labels are a function of the informative positions only, so they stay right
    assert torch.equal((a[0, :, 0] + a[0, :, 1]) % 11, t.y[random_split(t, 0.5, seed=0).train])
    # the cache key names the task, the seed and the mode
    assert r.cache_key == t.resampler(seed=3).cache_key != t.resampler(seed=4).cache_key
    assert "resample" in r.cache_key


def test_fixed_distractors_are_the_identity():
    t = SequenceTask("add", p=11, seq_len=5, distractor_sampling="fixed")
    x = _train_inputs(t)
    r = t.resampler(seed=0)
    assert torch.equal(r(x, 0), x) and torch.equal(r(x, 17), x)
    assert r.cache_key != SequenceTask("add", p=11, seq_len=5).resampler(seed=0).cache_key
    assert torch.equal(t.X, SequenceTask("add", p=11, seq_len=5).X)  # the stored (test) draw is the same
    with pytest.raises(ValueError, match="distractor_sampling"):
        SequenceTask("add", p=11, distractor_sampling="sometimes")
    with pytest.raises(ValueError, match="distractor_vocab"):
        SequenceTask("add", p=11, distractor_vocab="other")


def test_separate_distractor_vocabulary():
    t = SequenceTask("add", p=7, seq_len=5, distractor_vocab="separate")
    assert t.n_values == 7 and t.n_tokens == 14 and t.vocab_size == 15 and t.n_classes == 7 and t.eq_token == 14
    ops, dis = t.X[:, list(t.informative)], t.X[:, list(t.distractors)]
    assert ops.max() < 7 and dis.min() >= 7 and dis.max() < 14  # disjoint from the number tokens
    assert (t.X[:, -1] == 14).all() and torch.equal(t.y, (t.X[:, 0] + t.X[:, 1]) % 7)
    z = t.resampler(seed=1)(_train_inputs(t), 2)
    assert z[..., list(t.distractors)].min() >= 7 and z[..., list(t.distractors)].max() < 14
    assert z[..., :2].max() < 7
    par = SequenceTask("parity", k=2, seq_len=6, distractor_vocab="separate")
    assert par.vocab_size == 5 and par.X[:, :2].max() <= 1 and par.X[:, 2:5].min() >= 2 and (par.X[:, -1] == 4).all()
    # a model sized by vocab_size trains on it (tokens in range)
    model = build(TransformerConfig(d_vocab=t.vocab_size, n_ctx=5, d_vocab_out=t.n_classes, d_model=16,
                                    n_heads=1, d_mlp=32), 1, seeds=[0])
    assert model(z[:1]).shape == (1, z.shape[1], 7)


def test_fit_with_resampled_distractors_resumes_exactly(tmp_path):
    from grokkit.store import RunStore

    t = SequenceTask("add", p=7, seq_len=5)
    split = random_split(t, 0.6, seed=0)
    data = Data(t.X, t.y, split.train, split.test)
    cfg = TrainConfig(steps=30, lr=1e-2, eval_every=10, device="cpu")

    def model():
        return build(TransformerConfig(d_vocab=t.vocab_size, n_ctx=5, d_vocab_out=7, d_model=16, n_heads=1,
                                       d_mlp=32), 1, seeds=[0])

    plain = fit(model(), data, cfg, store=None, progress=False)
    aug = fit(model(), data, cfg, store=None, progress=False, augment=t.resampler(0))
    again = fit(model(), data, cfg, store=None, progress=False, augment=t.resampler(0))
    assert not torch.equal(plain.final_state["W_E"], aug.final_state["W_E"])
    assert torch.equal(aug.final_state["W_E"], again.final_state["W_E"])
    store = RunStore(tmp_path)
    k1 = fit(model(), data, cfg, store=store, progress=False, augment=t.resampler(0)).key
    k2 = fit(model(), data, cfg, store=store, progress=False, augment=t.resampler(1)).key
    assert k1 != k2


# ---- KL prior: value and the gradient identity dD/ds_t = alpha_t - alpha*_t ------------------
def test_kl_gradient_identity():
    torch.manual_seed(0)
    s = torch.randn(3, 7, 2, 5, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0], dtype=torch.float64)
    D = priors.kl_to_target(s.log_softmax(-1), target)  # (3, 7, 2)
    (g,) = torch.autograd.grad(D.sum(), s)
    alpha = s.detach().softmax(-1)
    assert torch.allclose(g, alpha - target, atol=1e-12)
    # value: sum_{t in S} (1/k)(ln(1/k) - ln alpha_t)
    expect = (0.5 * (math.log(0.5) - alpha[..., :2].log())).sum(-1)
    assert torch.allclose(D.detach(), expect)
    # KL is 0 exactly at the oracle (limit) and positive elsewhere
    assert (D > 0).all()


def _ctx(model, x, y, step=0):
    logits = model(x)
    w = torch.full(y.shape, 1.0 / y.shape[1])
    return StepContext(step, model, x, y, w, logits, torch.zeros(model.n_members))


def _small(E=2, T=5, p=7, heads=1):
    cfg = TransformerConfig(d_vocab=p + 1, n_ctx=T, d_vocab_out=p, d_model=16, n_heads=heads, d_mlp=32)
    return build(cfg, E, seeds=list(range(E)))


def test_priors_per_member_lambda_and_schedules():
    task = SequenceTask("add", p=7, seq_len=5)
    model = _small(E=3)
    x = task.X[:10].expand(3, 10, 5)
    y = task.y[:10].expand(3, 10)
    ctx = _ctx(model, x, y)
    attn = model.cache["attn_query"]
    D = structural_divergence(attn, task.oracle())
    pr = priors.oracle_kl(task, lam=(0.0, 1.0, 2.0))
    out = pr(ctx)
    assert out.shape == (3,)
    assert torch.allclose(out, torch.tensor([0.0, 1.0, 2.0]) * D, atol=1e-5)
    late = priors.oracle_kl(task, lam=1.0, start_step=5)
    assert torch.all(late(ctx) == 0) and torch.allclose(late(_ctx(model, x, y, step=5)), D, atol=1e-5)
    ann = priors.oracle_kl(task, lam=1.0, anneal_steps=10)
    assert torch.allclose(ann(_ctx(model, x, y, step=5)), 0.5 * D, atol=1e-5)
    assert torch.all(ann(_ctx(model, x, y, step=10)) == 0)
    # entropy / sparsity: known values on the model's attention
    a = attn.mean(-2)  # one head
    H = -(a * a.log()).sum(-1).mean(1)
    assert torch.allclose(priors.EntropyPrior(lam=1.0)(ctx), H, atol=1e-5)
    assert torch.allclose(priors.SparsityPrior(lam=1.0)(ctx), -(a ** 2).sum(-1).mean(1), atol=1e-5)
    # teacher = the model itself -> KL 0
    st = {n: p[1:2].detach().clone() for n, p in model.named_parameters()}
    teach = priors.TeacherKL(lam=1.0, teacher_state=st, teacher_config=model.config)
    tk = teach(ctx).detach()
    assert abs(float(tk[1])) < 1e-5 and float(tk[0]) > 0
    with pytest.raises(ValueError, match="probability"):
        priors.TargetKL(target=(0.5, 0.2))


def test_informative_mass_and_divergence_known():
    attn = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.6, 0.2]]).view(1, 2, 1, 3)
    mn, sm = informative_mass(attn, (0, 1))
    assert torch.allclose(mn, torch.tensor([(0.5 + 0.2) / 2])) and torch.allclose(sm, torch.tensor([0.9]))
    D = structural_divergence(attn, torch.tensor([0.5, 0.5, 0.0]))
    expect = 0.5 * (0 + 0.5 * (math.log(0.5 / 0.2) + math.log(0.5 / 0.6)))
    assert torch.allclose(D, torch.tensor([expect]), atol=1e-6)


def test_norm_match_projects_to_radius():
    model = _small(E=3)
    before = priors.mlp_norm(model)
    priors.NormMatch(radius=(2.0, float("nan"), 5.0))(model, 1)
    after = priors.mlp_norm(model)
    assert torch.allclose(after[[0, 2]], torch.tensor([2.0, 5.0]), atol=1e-4)
    assert torch.allclose(after[1], before[1])
    with pytest.raises(ValueError):
        priors.NormMatch(radius=-1.0)


# ---- attention gradients and the Lemma 5.1 bound -------------------------------------------
@pytest.mark.parametrize("heads", [1, 2])
def test_attention_gradient_matches_autograd_and_bound_holds(heads):
    torch.manual_seed(0)
    task = SequenceTask("add", p=7, seq_len=5)
    model = _small(E=2, heads=heads)
    x = task.X[:20].expand(2, 20, 5).contiguous()
    y = task.y[:20].expand(2, 20).contiguous()
    g = attention_gradients(model, x, y)
    # task gradient w.r.t. W_Q via autograd equals dL/dB @ W_K (B = W_Q W_K^T per head): check the norm
    # through the identity dL/dW_Q[h] = dB[h] W_K[h]
    logits = model(x)
    loss = F.cross_entropy(logits.reshape(40, -1), y.reshape(-1), reduction="none").view(2, 20).mean(1).sum()
    (gq,) = torch.autograd.grad(loss, model.W_Q0)
    emb = model.embed(x).detach()
    G = g["g_s"] / 20
    M = torch.einsum("ebht,ebtd->ebhd", G, emb)
    dB = torch.einsum("ebq,ebhd->ehqd", emb[:, :, -1], M) / math.sqrt(model.config.d_head)
    assert torch.allclose(torch.einsum("ehqd,ehdk->ehqk", dB, model.W_K0.detach()), gq, atol=1e-6)
    assert torch.allclose(g["grad_wqk"], dB.pow(2).sum((1, 2, 3)).sqrt())
    # per-row score gradients sum to 0 over positions (softmax) and respect the bound
    assert torch.allclose(g["g_s"].sum(-1), torch.zeros(2, 20, heads), atol=1e-6)
    assert (g["g_s"].abs().amax(-1) <= g["bound"] + 1e-7).all()
    assert (lipschitz_readout(model) > 0).all()


def test_probe_in_fit_logs_everything():
    task = SequenceTask("add", p=7, seq_len=5)
    sp = random_split(task, 0.5, seed=0)
    data = Data(task.X, task.y, sp.train, sp.test)
    model = _small(E=2)
    probe = AttentionProbe(task.informative, tuple(task.oracle().tolist()))
    run = fit(model, data, TrainConfig(steps=20, lr=1e-2, eval_every=10), store=None, progress=False,
              extra_losses=[priors.oracle_kl(task, lam=(0.0, 3.0))], callbacks=[probe],
              after_step=[priors.NormMatch(radius=(float("nan"), 4.0))])
    c = run.curves()
    c = c[c.step % 10 == 0]
    for col in ("train_D", "test_D", "test_mass_min", "test_mass_sum", "extra_mlp_norm", "extra_grad_wqk",
                "extra_lemma_bound", "extra_bound_ratio", "train_oracle_kl"):
        assert col in c and np.isfinite(c[col]).all(), col
    last = c[c.step == 20].set_index("member")
    assert abs(last.loc[1, "extra_mlp_norm"] - 4.0) < 1e-3
    assert (c.extra_bound_ratio <= 1 + 1e-6).all()
    assert last.loc[1, "train_D"] < last.loc[0, "train_D"]  # the prior pulls attention to the oracle


def test_bound_holds_when_float32_loss_underflows():
    """A confident model: float32 CE rounds to 0 on many rows while the score gradient does not."""
    task = SequenceTask("add", p=7, seq_len=5)
    model = _small(E=1)
    x, y = task.X[None, :30], task.y[None, :30]
    with torch.no_grad():
        model(x)
        h = model.cache["resid_final"][0]  # (30, D): make W_U map each row's residual to a huge correct logit
        model.W_U.mul_(0)
        model.W_U[0] += 50 * torch.linalg.pinv(h) @ F.one_hot(y[0], 7).float()
    g = attention_gradients(model, x, y)
    assert (g["g_s"].abs().amax(-1) <= g["bound"] + 1e-30).all()
    assert (g["loss"] > 0).all()


# ---- Fig 8 task variants: sequence-dependent oracle, longer test sequences ----------------
def test_random_positions_task_and_sequence_oracle():
    t = SequenceTask("add", p=5, seq_len=6, distractor_vocab="separate", positions="random")
    X = t.X
    assert X.shape == (25, 6) and (X[:, -1] == t.eq_token).all()
    mask = X[:, :-1] < 5  # the operands: ids below n_values, exactly k per row
    assert (mask.sum(1) == 2).all()
    ops = X[:, :-1][mask].view(25, 2)
    assert torch.equal(t.y, ops.sum(1) % 5)  # in order: a before b
    assert torch.equal(ops, torch.stack([torch.arange(25) // 5, torch.arange(25) % 5], 1))
    assert len({tuple(r) for r in mask.int().tolist()}) > 3  # positions vary across rows
    # a known small example: [d, a, d, d, b, =] -> S = {1, 4}, alpha* = 1/2 there
    x = torch.tensor([[7, 2, 5, 9, 3, t.eq_token]])
    assert t.informative_mask(x).tolist() == [[False, True, False, False, True, False]]
    assert torch.allclose(t.oracle_of(x), torch.tensor([[0, 0.5, 0, 0, 0.5, 0]]))
    with pytest.raises(ValueError, match="per sequence"):
        t.oracle()
    with pytest.raises(ValueError, match="separate"):
        SequenceTask("add", p=5, seq_len=6, positions="random")
    # fixed positions: the oracle of every row is oracle()
    f = SequenceTask("add", p=5, seq_len=6)
    assert torch.equal(f.oracle_of(f.X), f.oracle().expand(25, 6))
    # the resampler moves the operands (kept in order) and redraws the distractors; labels stay right
    r = t.resampler(seed=0)
    x0 = X[None].clone()
    x1, x1b, x2 = r(x0, 1), r(x0, 1), r(x0, 2)
    assert torch.equal(x1, x1b) and not torch.equal(x1, x2) and torch.equal(x0[0], X)
    for xs in (x1, x2):
        m = xs[0, :, :-1] < 5
        assert (m.sum(1) == 2).all() and torch.equal(xs[0, :, :-1][m].view(25, 2), ops)
        assert (xs[0, :, :-1][~m] >= 5).all() and (xs[0, :, :-1][~m] < 10).all()
        assert (xs[0, :, -1] == t.eq_token).all()
    assert not torch.equal(x1[0, :, :-1] < 5, mask)  # positions redrawn


def test_sequence_oracle_kl_prior_matches_fixed_oracle_and_pulls_to_each_rows_positions():
    f = SequenceTask("add", p=7, seq_len=5)
    model = _small(E=1)
    x = f.X[None, :16]
    model(x)
    ctx = StepContext(step=0, model=model, x=x, y=f.y[None, :16], weights=None, logits=None, task_loss=None)
    fixed = priors.oracle_kl(f, lam=2.0)(ctx)
    seq = priors.SequenceOracleKL(lam=2.0, task=f)(ctx)
    assert torch.allclose(fixed, seq)
    # random positions: training with the sequence-dependent prior puts attention on each row's operands
    t = SequenceTask("add", p=7, seq_len=5, distractor_vocab="separate", positions="random")
    sp = random_split(t, 0.5, seed=0)
    data = Data(t.X, t.y, sp.train, sp.test)
    model = build(TransformerConfig(d_vocab=t.vocab_size, n_ctx=5, d_vocab_out=7, d_model=32, n_heads=1, d_mlp=64),
                  2, seeds=[0, 0])
    run = fit(model, data, TrainConfig(steps=60, lr=1e-2, eval_every=60), store=None, progress=False,
              extra_losses=[priors.SequenceOracleKL(lam=(0.0, 3.0), task=t)], augment=t.resampler(0))
    st = run.member_state
    with torch.no_grad():
        mass = []
        for m in (0, 1):
            one = build(model.config, 1)
            for n, prm in one.named_parameters():
                prm.copy_(st(m)[n])
            one(t.X[None])
            mass.append(float((one.cache["attn_query"][0, :, 0] * t.informative_mask(t.X)).sum(-1).mean()))
    assert mass[1] > 0.9 and mass[1] > mass[0] + 0.2


def test_with_length_keeps_the_rows_and_adds_distractors():
    t = SequenceTask("add", p=7, seq_len=5)
    long = t.with_length(8)
    assert long.X.shape == (49, 8) and torch.equal(long.X[:, :2], t.X[:, :2]) and torch.equal(long.y, t.y)
    assert long.distractors == (2, 3, 4, 5, 6) and long.query == 7 and (long.X[:, -1] == t.eq_token).all()
    assert torch.equal(random_split(long, 0.5, seed=3).test, random_split(t, 0.5, seed=3).test)
    with pytest.raises(ValueError, match="parity"):
        SequenceTask("parity", k=2, seq_len=5).with_length(6)
