"""grokkit.metrics.structural (notebook 05's analyses) on known answers."""
import math

import numpy as np
import pytest

from grokkit.metrics import structural as st


def test_lambda_law_recovers_c_over_lambda_plus_floor():
    lams = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    t = [50 / x + 200 for x in lams]
    law = st.lambda_law(lams, t)
    assert law["c"] == pytest.approx(50) and law["floor"] == pytest.approx(200)
    assert law["n"] == law["n_grokked"] == 7 and law["n_censored"] == 0
    # above the floor (t > 1.5 x fastest = 307.5): lambda 0.01 .. 0.3, where t is ~ 1/lambda: slope near -1
    assert law["n_above_floor"] == 4
    assert -1.0 < law["slope_above_floor"] < -0.7
    assert law["slope"] > law["slope_above_floor"]  # the floor flattens the slope over all points


def test_lambda_law_pure_power_law_and_censored_members():
    lams = [0.1, 1.0, 10.0, 0.01]
    t = [1000.0, 100.0, 10.0, float("nan")]
    law = st.lambda_law(lams, t)
    assert law["slope"] == pytest.approx(-1.0)
    assert law["n_grokked"] == 3 and law["n_censored"] == 1 and law["n"] == 4
    few = st.lambda_law([0.1, 1.0], [float("nan"), 50.0])
    assert math.isnan(few["slope"]) and few["n_grokked"] == 1


def test_phase_times():
    steps = [50, 100, 150, 200, 250]
    D = [2.0, 1.5, 0.15, 0.1, 0.05]
    acc = [0.0, 0.1, 0.2, 0.6, 1.0]
    g = [1.0, 3.0, 0.5, 0.1, 0.01]
    ph = st.phase_times(steps, D, acc, g)
    assert ph == dict(D0=2.0, t_D_small=150.0, t_test_half=200.0, grad_peak=3.0, grad_final=0.01, t_grad_peak=100.0)
    assert st.d_before_acc(ph, 50) is True
    late = st.phase_times(steps, D, [0, 0.6, 0.7, 0.8, 0.9], g)
    assert st.d_before_acc(late, 50) is False
    never = st.phase_times(steps, [1, 1, 1, 1, 1], acc, g)
    assert math.isnan(never["t_D_small"]) and st.d_before_acc(never, 50) == st.UNDECIDED
    first = st.phase_times(steps, [1, 0.01, 0, 0, 0], [0.9] * 5, g)
    assert st.d_before_acc(dict(first, t_D_small=50.0), 50) == st.UNDECIDED  # both at the first evaluation


def test_no_later_with_censored_times():
    nan = float("nan")
    assert st.no_later(300, 1000, 500, 1000) is True
    assert st.no_later(700, 1000, 500, 1000) is False
    assert st.no_later(300, 1000, nan, 1000) is True  # t_b > 1000 >= 300
    assert st.no_later(nan, 1000, 500, 1000) is False  # t_a > 1000 > 500
    assert st.no_later(nan, 1000, nan, 1000) == st.UNDECIDED  # both censored: only a longer run can tell
    r = st.paired_no_later([300, nan, nan], [nan, nan, 200], 1000, 1000)
    assert r["decisions"] == [True, st.UNDECIDED, False] and r["held"] == 1 and r["n"] == 3
    assert r["majority"] == st.UNDECIDED
    assert st.paired_no_later([1, 2, np.inf], [5, 5, 5], 10, 10)["majority"] is True


def test_notebook_05_figures_draw_from_tables():
    import pandas as pd

    from grokkit import plots

    curves = pd.DataFrame(dict(label=["a", "a", "b", "b"], step=[0, 50, 0, 50], x=[1.0, 2.0, 3.0, 4.0],
                               y=[0.1, 0.2, 0.3, 0.4]))
    fig = plots.stacked_curves(curves, [("x", ["x"], False), ("y", ["y"], True)])
    assert len(fig.data) == 4 and fig.layout.yaxis2.type == "log"
    table = pd.DataFrame({"no prior": [0.1, 0.2], "oracle": [0.9, 1.0]}, index=["wd 1", "wd 0"])
    assert plots.table_heatmap(table).data[0].z.shape == (2, 2)
    lam = pd.DataFrame(dict(lam=[0.1, 1.0, 10.0], t_gen=[1000.0, 100.0, float("nan")]))
    lc = pd.DataFrame(dict(lam=[0.1, 0.1], step=[0, 50], test_acc=[0.0, 1.0]))
    fig = plots.lambda_law(lc, lam, st.lambda_law(lam.lam, lam.t_gen), cap=1500)
    assert [len(d.x) for d in fig.data[1:3]] == [2, 1]  # grokked, censored at the cap
    bars = plots.censored_bars(pd.DataFrame(dict(seed=[0, 1], a=[100.0, float("nan")])), "seed", ["a"], cap=1500)
    assert list(bars.data[0].y) == [100.0, 1500.0] and list(bars.data[0].marker.pattern.shape) == ["", "/"]
    assert bars.layout.yaxis.type is None
    log = plots.censored_bars(pd.DataFrame(dict(seed=[0], a=[100.0])), "seed", ["a"], cap=1500, log_y=True)
    assert log.layout.yaxis.type == "log"


def test_qk_penalty_is_a_per_member_l2_on_query_and_key():
    from types import SimpleNamespace

    import torch

    from grokkit import priors
    from grokkit.models import TransformerConfig, build

    model = build(TransformerConfig(d_vocab=7, n_ctx=5, d_vocab_out=5, d_model=8, n_heads=1, d_mlp=16), 2, seeds=[0, 1])
    pen = priors.QKPenalty(lam=(0.5, 0.0))(SimpleNamespace(model=model))
    want = 0.5 * (model.W_Q0[0].pow(2).sum() + model.W_K0[0].pow(2).sum())
    assert pen.shape == (2,) and torch.allclose(pen[0], want) and pen[1] == 0
    pen.sum().backward()
    assert torch.allclose(model.W_Q0.grad[0], model.W_Q0[0].detach()) and model.W_V0.grad is None


def test_frozen_attention_uses_the_fixed_pattern_and_keeps_scores_differentiable():
    import torch

    from grokkit.metrics.attention import attention_gradients
    from grokkit.models import TransformerConfig
    from grokkit.models.frozen_attention import FrozenAttentionTransformer

    cfg = TransformerConfig(d_vocab=7, n_ctx=5, d_vocab_out=5, d_model=8, n_heads=1, d_mlp=16)
    oracle = (0.5, 0.5, 0.0, 0.0, 0.0)
    model = FrozenAttentionTransformer(cfg, 2, attention=oracle).reset_parameters([0, 1])
    x = torch.randint(0, 7, (2, 6, 5))
    model(x)
    assert torch.allclose(model.cache["attn_query"], torch.tensor(oracle).expand(2, 6, 1, 5), atol=1e-9)
    g = attention_gradients(model, x, torch.randint(0, 5, (2, 6)))
    assert torch.isfinite(g["grad_wqk"]).all() and (g["g_s"].abs().max(-1).values <= g["bound"] + 1e-6).all()
    with pytest.raises(ValueError, match="probability vector"):
        FrozenAttentionTransformer(cfg, 1, attention=(1.0, 0.5, 0, 0, 0))
