import pytest
import torch

from grokkit.losses import cross_entropy_rows
from grokkit.models import (
    MLP,
    EmbedMLPConfig,
    MLPConfig,
    OneHotMLPConfig,
    TransformerConfig,
    build,
    from_state,
)


def _grads(model, x, y):
    for p in model.parameters():
        p.grad = None
    out = model(x)
    torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1)).backward()
    return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _reassociated_vs_plain(**cfg):
    """The reassociated EmbedMLP and the plain one give the same outputs and gradients; returns the fast model."""
    fast = build(EmbedMLPConfig(p=67, **cfg), n_members=2, seeds=[3, 4]).double()
    plain = build(EmbedMLPConfig(p=67, reassociate=False, **cfg), n_members=2, seeds=[3, 4]).double()
    x = torch.randint(0, 67, (2, 50, 2))
    y = torch.randint(0, 67, (2, 50))
    o1, g1 = _grads(fast, x, y)
    o2, g2 = _grads(plain, x, y)
    torch.testing.assert_close(o1, o2, rtol=1e-10, atol=1e-10)
    for n in g1:
        torch.testing.assert_close(g1[n], g2[n], rtol=1e-9, atol=1e-10)
    return fast, x


def test_embed_mlp_param_count_and_reassociation_is_exact():
    fast, _ = _reassociated_vs_plain()
    assert fast.n_params() == 115_000


def test_embed_mlp_separate_embeddings_exact_and_not_symmetric():
    fast, x = _reassociated_vs_plain(embedding="separate")
    assert fast.n_params() == 115_000 + 67 * 500
    # row p + b embeds b: swapping the operands changes the output (the shared table cannot tell them apart)
    swapped = x.flip(-1)
    assert not torch.allclose(fast(x), fast(swapped))
    shared = build(EmbedMLPConfig(p=67), seeds=0).double()
    torch.testing.assert_close(shared(x[:1]), shared(swapped[:1]))
    assert abs(fast.W_E.std().item() - 1 / 67**0.5) < 0.02
    with pytest.raises(ValueError, match="embedding"):
        EmbedMLPConfig(embedding="concat")


def test_embed_mlp_init_std_follows_kappa():
    m = build(EmbedMLPConfig(p=67, kappa=2.0), seeds=0)
    assert abs(m.W_E.std().item() - 2.0 / 67**0.5) < 0.02
    assert abs(m.W_in.std().item() - 2.0 / 500**0.5) < 0.005


def test_onehot_mlp_count_and_index_path_equals_onehot_path():
    m = build(OneHotMLPConfig(p=113), seeds=0)
    assert m.n_params() == 174_193
    idx = torch.randint(0, 113, (1, 30, 2))
    oh = torch.zeros(1, 30, 226)
    oh[0, torch.arange(30), idx[0, :, 0]] = 1
    oh[0, torch.arange(30), 113 + idx[0, :, 1]] = 1
    torch.testing.assert_close(m(idx), m(oh), rtol=1e-5, atol=1e-5)


def test_members_are_independent_and_seeded():
    m = build(MLPConfig(sizes=(4, 8, 3)), n_members=3, seeds=[7, 8, 9])
    alone = build(MLPConfig(sizes=(4, 8, 3)), n_members=1, seeds=[8])
    torch.testing.assert_close(m.member(1).W0, alone.W0)
    assert not torch.equal(m.W0[0], m.W0[1])
    assert isinstance(m.member(0), MLP)


@pytest.mark.parametrize("n_heads", [1, 4])
def test_transformer_last_only_equals_full(n_heads):
    cfg = TransformerConfig(d_vocab=30, n_ctx=4, d_vocab_out=29, d_model=32, n_heads=n_heads, d_mlp=64)
    fast = build(cfg, n_members=2, seeds=[0, 1]).double()
    full = build(TransformerConfig(**{**cfg.__dict__, "last_only": False}), n_members=2, seeds=[0, 1]).double()
    x = torch.randint(0, 30, (2, 16, 4))
    y = torch.randint(0, 29, (2, 16))
    o1, g1 = _grads(fast, x, y)
    o2, g2 = _grads(full, x, y)
    torch.testing.assert_close(o1, o2, rtol=1e-10, atol=1e-10)
    for n in g1:
        torch.testing.assert_close(g1[n], g2[n], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(fast.cache["attn_query"], full.cache["attn_query"])
    assert fast.cache["attn_query"].shape == (2, 16, n_heads, 4)
    torch.testing.assert_close(fast.cache["attn_query"].sum(-1), torch.ones(2, 16, n_heads, dtype=torch.float64))


def test_transformer_causal_mask_and_two_layers():
    cfg = TransformerConfig(d_vocab=10, n_ctx=3, d_model=16, n_heads=2, d_mlp=32, n_layers=2)
    m = build(cfg, seeds=0)
    out = m(torch.randint(0, 10, (1, 5, 3)))
    assert out.shape == (1, 5, 10)
    attn = m.cache["attn"]
    assert torch.all(attn[..., 0, 1:] == 0)  # position 0 sees only itself


def test_transformer_layernorm_option_runs():
    cfg = TransformerConfig(d_vocab=10, n_ctx=3, d_model=16, n_heads=2, d_mlp=32, layer_norm=True)
    m = build(cfg, seeds=0)
    assert torch.isfinite(m(torch.randint(0, 10, (1, 4, 3)))).all()


def test_config_validation():
    with pytest.raises(ValueError, match="n_heads"):
        TransformerConfig(d_vocab=10, n_ctx=3, d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="n_layers"):
        TransformerConfig(d_vocab=10, n_ctx=3, n_layers=3)
    with pytest.raises(ValueError, match="kappa"):
        EmbedMLPConfig(kappa=0)


def test_cross_entropy_rows_matches_torch_in_value_and_gradient():
    logits = torch.randn(64, 13, requires_grad=True)
    y = torch.randint(0, 13, (64,))
    w = torch.rand(64)
    for dtype in (torch.float32, torch.float64):
        a = cross_entropy_rows(logits, y, dtype)
        b = torch.nn.functional.cross_entropy(logits.to(dtype), y, reduction="none")
        ga, = torch.autograd.grad((a * w).sum(), logits)
        gb, = torch.autograd.grad((b * w).sum(), logits)
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(ga, gb)


def test_from_state_rebuilds_the_same_ensemble():
    cfg = TransformerConfig(d_vocab=8, n_ctx=3, d_vocab_out=7, d_model=16, n_heads=2, d_mlp=32)
    model = build(cfg, n_members=3, seeds=[4, 5, 6])
    copy = from_state(cfg, model.state_dict())
    assert copy.n_members == 3 and copy is not model
    x = torch.randint(0, 8, (3, 5, 3))
    torch.testing.assert_close(copy(x), model(x), rtol=0, atol=0)
    with torch.no_grad():  # a copy, not a view of the state it came from
        next(copy.parameters()).add_(1.0)
    assert not torch.equal(next(copy.parameters()), next(model.parameters()))
