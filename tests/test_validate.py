"""Up-front checks: each bad value gives a ValueError that names the parameter and what is allowed."""
import math

import pytest
import torch

from grokkit import validate
from grokkit.models import EmbedMLPConfig
from grokkit.tasks import ModularTask, modular, random_split, square_split
from grokkit.train import TrainConfig


@pytest.mark.parametrize("bad", [math.inf, -math.inf, float("nan"), "inf"])
def test_number_rejects_non_finite(bad):
    with pytest.raises(ValueError, match=r"^lr=.* must be a finite number >= 0"):
        validate.number("lr", bad, min_value=0)


def test_number_allow_inf_opt_in():
    assert validate.number("t_max", math.inf, min_value=0, allow_inf=True) == math.inf
    with pytest.raises(ValueError, match="NaN|finite"):
        validate.number("t_max", float("nan"), allow_inf=True)
    assert validate.number("x", 2, min_value=0, strict=True) == 2.0
    with pytest.raises(ValueError, match=r"x=0 must be > 0"):
        validate.number("x", 0, min_value=0, strict=True)


@pytest.mark.parametrize("name,kw", [("lr", {"lr": math.inf}), ("weight_decay", {"weight_decay": math.inf}),
                                     ("lr", {"lr": (1e-3, math.inf)}), ("weight_decay", {"weight_decay": -math.inf})])
def test_train_config_rejects_non_finite_hyper_parameters(name, kw):
    with pytest.raises(ValueError, match=name):
        TrainConfig(steps=10, **kw)


def test_kappa_and_init_scale_must_be_finite():
    with pytest.raises(ValueError, match=r"kappa=inf must be a finite number > 0"):
        EmbedMLPConfig(p=7, kappa=math.inf)
    with pytest.raises(ValueError, match="init_scale"):
        validate.per_member("init_scale", (1.0, math.inf), 2)


# ---- device ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [("auto", "auto"), ("cpu", "cpu"), (" CPU ", "cpu"),
                                            (torch.device("cpu"), "cpu")])
def test_device_accepts_and_normalises(value, expected):
    assert validate.device("device", value) == expected


@pytest.mark.parametrize("bad", ["cuda:abc", "cuda:", "gpu", "cpu:0", "mps:0", "", "cuda:-1", 0, None])
def test_device_syntax(bad):
    with pytest.raises(ValueError, match=r"^device=.*auto, cpu, cuda, cuda:N, mps"):
        validate.device("device", bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_device_cuda_unavailable():
    for v in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match=r"^device='cuda(:0)?': CUDA is not available.*'cpu' or 'auto'"):
            validate.device("device", v)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_device_cuda_index_out_of_range():
    assert validate.device("device", "cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=r"cuda:99.*CUDA device\(s\).*0\.\."):
        validate.device("device", "cuda:99")


def test_device_mps_unavailable():
    if torch.backends.mps.is_available():
        assert validate.device("device", "mps") == "mps"
        return
    with pytest.raises(ValueError, match=r"^device='mps': MPS .* not available"):
        validate.device("device", "mps")


# ---- task-table size guard ---------------------------------------------------------------------------------------
def test_table_size_guard_refuses_huge_p_before_allocating():
    with pytest.raises(ValueError) as e:
        ModularTask(p=100_000)  # p^2 = 1e10 rows: would allocate ~75 GiB in the meshgrid alone
    msg = str(e.value)
    assert "p=100000" in msg and "10,000,000,000 rows" in msg and "GiB" in msg
    assert "p=4096" in msg and "GROKKIT_MAX_TABLE_ROWS" in msg


def test_table_size_guard_limit_and_override(monkeypatch):
    assert ModularTask(p=97).p == 97
    monkeypatch.setenv("GROKKIT_MAX_TABLE_ROWS", "100")
    assert len(ModularTask(p=10)) == 100
    with pytest.raises(ValueError, match=r"p=11 gives .* 121 rows.*largest allowed is p=10"):
        ModularTask(p=11)
    monkeypatch.setenv("GROKKIT_MAX_TABLE_ROWS", "lots")
    with pytest.raises(ValueError, match=r"GROKKIT_MAX_TABLE_ROWS='lots' must be a positive integer"):
        ModularTask(p=11)


def test_onehot_size_guard(monkeypatch):
    t = ModularTask(p=11)
    assert t.inputs("onehot").shape == (121, 22)
    monkeypatch.setenv("GROKKIT_MAX_ONEHOT_GIB", "1e-6")
    with pytest.raises(ValueError, match=r"encoding='onehot' for p=11 .*GROKKIT_MAX_ONEHOT_GIB.*encoding='pairs'"):
        t.inputs("onehot")


def test_prime_needed_for_div_only():
    with pytest.raises(ValueError, match=r"p=12 must be prime for operation='div'"):
        ModularTask(p=12, operation="div")
    for op in ("add", "sub", "mul", "x2y2", "x2xyy2", "x3xy", "rand"):
        assert len(ModularTask(p=12, operation=op)) == 144


# ---- splits ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("frac,n_train,n_test", [(0.999, 49, 0), (0.001, 0, 49)])
def test_random_split_refuses_an_empty_side(frac, n_train, n_test):
    with pytest.raises(ValueError) as e:
        random_split(ModularTask(p=7), frac)
    msg = str(e.value)
    assert f"train_frac={frac}" in msg and f"{n_train} train and {n_test} test rows" in msg
    assert "[0.02041, 0.9796]" in msg  # what is allowed: [1/n, 1 - 1/n]
    sp = random_split(ModularTask(p=7), 1 / 49)
    assert (len(sp.train), len(sp.test)) == (1, 48)


def test_square_split_refuses_an_empty_train_set():
    with pytest.raises(ValueError, match=r"train_frac=0.001 of 121 rows gives 0 train"):
        square_split(ModularTask(p=11), k=2, train_frac=0.001)


def test_env_limit_helper_default():
    assert modular.max_table_rows() == modular.MAX_TABLE_ROWS == 2**24
