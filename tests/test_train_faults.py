"""Fault injection on the training loop (issue 13): divergent members, non-finite hyper-parameters, exact resume
after an interrupt (minibatches included) and after kill -9. Store faults: tests/test_store_faults.py."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import InterruptAt

from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.store import RunStore
from grokkit.tasks import ModularTask, random_split
from grokkit.train import DivergedError, TrainConfig, fit


@pytest.fixture(scope="module")
def task_split():
    task = ModularTask(p=13, operation="add")
    return task, random_split(task, 0.5, seed=0)


def _data(task, split, E=1):
    return Data(task.inputs("pairs"), task.y, [split.train] * E, [split.test] * E)


def _mlp(seeds):
    return build(EmbedMLPConfig(p=13, d_emb=32, d_hidden=16), n_members=len(seeds), seeds=seeds)


def _member(run, m):
    return run.history[run.history.member == m].drop(columns="member").reset_index(drop=True)


@pytest.mark.parametrize("bad", [0, 2])
def test_divergent_member_leaves_the_others_bit_identical(task_split, bad):
    """lr 1e3 diverges within a few steps; the healthy members' histories, times and parameters are exactly those
    of the ensemble trained without that member (same optimizer path: per-member learning rates)."""
    task, split = task_split
    good_lrs, good_seeds = [1e-2, 2e-2], [1, 2]
    lrs, seeds = list(good_lrs), list(good_seeds)
    lrs.insert(bad, 1e3)
    seeds.insert(bad, 7)
    cfg = dict(steps=300, eval_every=10)
    with pytest.warns(UserWarning, match="1 of 3 members diverged"):
        ens = fit(_mlp(seeds), _data(task, split, 3), TrainConfig(lr=tuple(lrs), **cfg), store=RunStore(
            os.environ["GROKKIT_CACHE"]), progress=False)
    ref = fit(_mlp(good_seeds), _data(task, split, 2), TrainConfig(lr=tuple(good_lrs), **cfg), store=None,
              progress=False)
    healthy = [m for m in range(3) if m != bad]
    for m_ens, m_ref in zip(healthy, range(2)):
        pd.testing.assert_frame_equal(_member(ens, m_ens), _member(ref, m_ref), check_exact=True)
        for k in ens.final_state:
            assert torch.equal(ens.final_state[k][m_ens], ref.final_state[k][m_ref]), k
        t_ens = ens.times.set_index("member").loc[m_ens, ["t_mem", "t_gen"]].to_numpy(float)
        t_ref = ref.times.set_index("member").loc[m_ref, ["t_mem", "t_gen"]].to_numpy(float)
        np.testing.assert_array_equal(t_ens, t_ref)
    row = ens.times.set_index("member").loc[bad]
    assert row.diverged and not ens.times.set_index("member").loc[healthy].diverged.any()
    assert 1 <= row.diverged_step <= 10 and "lr=1000" in row.diverged_cause
    assert np.isnan(row.t_gen)
    # every step of every member is in the history; the diverged member's values are NaN from its step on
    tr = ens.history[(ens.history.split == "train") & (ens.history.metric == "loss")]
    assert (tr.groupby("member").step.nunique() == 301).all()
    dead = ens.history[ens.history.member == bad]
    assert dead[dead.step >= row.diverged_step].value.isna().all()
    assert dead[dead.step < row.diverged_step].value.notna().all()
    # a run with a diverged member is not cached as a good run
    assert RunStore(os.environ["GROKKIT_CACHE"]).keys() == []
    summ = ens.summary().set_index("member")
    assert np.isnan(summ.loc[bad, "final_test_acc"]) and summ.loc[healthy, "final_train_acc"].notna().all()


def test_single_model_divergence_stops_with_a_clear_message_and_keeps_the_history(task_split):
    task, split = task_split
    with pytest.raises(DivergedError, match=r"every member diverged.*step \d+.*lr=1000") as e:
        fit(_mlp([0]), _data(task, split), TrainConfig(steps=300, eval_every=10, lr=1e3), store=None,
            progress=False)
    run = e.value.run
    s = run.summary().iloc[0]
    assert s.diverged and np.isnan(s.final_train_loss) and np.isnan(s.final_test_acc)  # no stale or argmax(NaN)
    steps = run.history[(run.history.split == "train") & (run.history.metric == "loss")].step
    assert list(steps) == list(range(int(steps.max()) + 1))  # NaN steps are kept, not dropped
    assert run.meta["steps_run"] <= 10  # stopped at the first evaluation after the divergence


def test_early_stop_does_not_wait_for_a_diverged_member():
    """The tiny grokking setting of test_train.py, plus a member at lr 1e3 that diverges at once."""
    task = ModularTask(p=23, operation="add")
    split = random_split(task, 0.5, seed=0)
    data = Data(task.inputs("pairs"), task.y, [split.train] * 2, [split.test] * 2)
    model = build(EmbedMLPConfig(p=23, d_emb=128, d_hidden=64), n_members=2, seeds=[0, 0])
    cfg = TrainConfig(steps=4000, lr=(1e3, 3e-3), weight_decay=1.0, eval_every=50, early_stop_patience=100)
    with pytest.warns(UserWarning, match="1 of 2 members diverged"):
        run = fit(model, data, cfg, store=None, progress=False)
    t_gen = run.times.t_gen[1]
    assert np.isfinite(t_gen) and run.meta["stopped_early"] and run.meta["steps_run"] == t_gen + 100


@pytest.mark.parametrize("kw, match", [
    (dict(lr=float("inf")), "lr"), (dict(lr=(1e-3, float("inf"))), "lr"), (dict(weight_decay=float("inf")),
                                                                            "weight_decay"),
    (dict(eps=-1), "eps"), (dict(eps=0), "eps"), (dict(steps=100, checkpoint_steps=(50, 200)), "checkpoint_steps"),
    (dict(device="cuda:abc"), "device"), (dict(grad_clip=float("inf")), "grad_clip")])
def test_non_finite_and_out_of_range_hyper_parameters_are_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)



class _CountingCallback:
    """A callback with state across evaluations (a running max of test accuracy): part of the snapshot."""

    cache_key = "counting-callback"

    def __init__(self):
        self.best = None

    def __call__(self, ctx):
        acc = ctx.metrics["test/acc"]
        self.best = acc.clone() if self.best is None else torch.maximum(self.best, acc)
        return {"best_test_acc": self.best}

    def state_dict(self):
        return {"best": self.best}

    def load_state_dict(self, st):
        self.best = st["best"]


@pytest.mark.parametrize("batch_size", [16, None])
def test_resume_is_bit_identical_after_interrupts_at_three_steps(task_split, tmp_path, batch_size):
    """84 training rows in batches of 16: 6 batches per epoch, so 37, 101 and 250 are mid-epoch."""
    task, split = task_split
    cfg = TrainConfig(steps=300, eval_every=20, batch_size=batch_size, lr=3e-3)
    straight = fit(_mlp([0, 1]), _data(task, split, 2), cfg, store=None, progress=False,
                   callbacks=[_CountingCallback()])
    for at in (37, 101, 250):
        store = RunStore(tmp_path / f"s{at}")
        with pytest.raises(KeyboardInterrupt, match="state saved"):
            fit(_mlp([0, 1]), _data(task, split, 2), cfg, store=store, progress=False,
                after_step=[InterruptAt(at)], callbacks=[_CountingCallback()])
        resumed = fit(_mlp([0, 1]), _data(task, split, 2), cfg, store=store, progress=False,
                      after_step=[InterruptAt(-1)], callbacks=[_CountingCallback()])
        assert resumed.meta["resumed_from"] == at
        pd.testing.assert_frame_equal(resumed.history, straight.history, check_exact=True)
        for k in straight.final_state:
            assert torch.equal(resumed.final_state[k], straight.final_state[k]), (at, k)


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.store import RunStore
from grokkit.tasks import ModularTask, random_split
from grokkit.train import TrainConfig, fit
task = ModularTask(p=13, operation="add")
split = random_split(task, 0.5, seed=0)
data = Data(task.inputs("pairs"), task.y, split.train, split.test)
model = build(EmbedMLPConfig(p=13, d_emb=32, d_hidden=16), n_members=1, seeds=[0])
cfg = TrainConfig(steps=int(sys.argv[2]), eval_every=50, batch_size=16, lr=3e-3)
run = fit(model, data, cfg, store=RunStore(sys.argv[1]), progress=False, snapshot_every_s=float(sys.argv[3]))
print("resumed_from", run.meta["resumed_from"], "loaded", run.meta["loaded_from_store"])
"""


def test_kill_9_mid_run_loses_nothing_and_resumes_exactly(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    store_dir, steps = tmp_path / "store", 6000
    proc = subprocess.Popen([sys.executable, str(script), str(store_dir), str(steps), "0"])
    deadline = time.time() + 120
    while time.time() < deadline and not list(store_dir.glob("*/*.partial")) and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # let it get a few snapshots further
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    out = subprocess.run([sys.executable, str(script), str(store_dir), str(steps), "1000"], capture_output=True,
                         text=True, check=True).stdout
    assert "resumed_from None" not in out, out
    straight = subprocess.run([sys.executable, str(script), str(tmp_path / "fresh"), str(steps), "1000"],
                              capture_output=True, text=True, check=True).stdout
    assert "resumed_from None" in straight
    a, b = RunStore(store_dir), RunStore(tmp_path / "fresh")
    (ka,), (kb,) = a.keys(), b.keys()
    assert ka == kb
    ra, rb = a.load(ka), b.load(kb)
    for k in rb["final_state"]:
        assert torch.equal(ra["final_state"][k], rb["final_state"][k]), k
    for c in rb["history"]:
        np.testing.assert_array_equal(ra["history"][c], rb["history"][c])


def test_two_processes_training_the_same_run_train_it_once(tmp_path):
    """The second writer waits on the key's lock, then loads the first one's result (no duplicate work)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    store_dir = tmp_path / "store"
    first = subprocess.Popen([sys.executable, str(script), str(store_dir), "3000", "1000"], stdout=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(store_dir.glob("*/*.lock")) and first.poll() is None:
        time.sleep(0.02)
    assert first.poll() is None, "the first run finished before the second started"
    second = subprocess.run([sys.executable, str(script), str(store_dir), "3000", "1000"], capture_output=True,
                            text=True, check=True).stdout
    assert "loaded False" in first.communicate()[0]
    assert "loaded True" in second, second
    assert len(RunStore(store_dir).keys()) == 1


class _FlipNoise:
    """A deterministic per-step input transform (a function of (x, step) only)."""

    cache_key = "flip-noise"

    def __call__(self, x, step):
        g = torch.Generator().manual_seed(step)
        noisy = torch.rand(x.shape[:-1], generator=g) < 0.1  # 10% of rows get b + 1 (label noise)
        shifted = torch.stack([x[..., 0], (x[..., 1] + 1) % 13], -1)
        return torch.where(noisy[..., None], shifted, x)


def test_augmented_inputs_change_the_run_and_resume_exactly(task_split, tmp_path):
    task, split = task_split
    cfg = TrainConfig(steps=200, eval_every=20, lr=3e-3)
    plain = fit(_mlp([0]), _data(task, split), cfg, store=None, progress=False)
    straight = fit(_mlp([0]), _data(task, split), cfg, store=None, progress=False, augment=_FlipNoise())
    assert not torch.equal(plain.final_state["W_E"], straight.final_state["W_E"])
    store = RunStore(tmp_path / "s")
    with pytest.raises(KeyboardInterrupt):
        fit(_mlp([0]), _data(task, split), cfg, store=store, progress=False, augment=_FlipNoise(),
            after_step=[InterruptAt(77)])
    resumed = fit(_mlp([0]), _data(task, split), cfg, store=store, progress=False, augment=_FlipNoise(),
                  after_step=[InterruptAt(-1)])
    assert resumed.meta["resumed_from"] == 77
    pd.testing.assert_frame_equal(resumed.history, straight.history, check_exact=True)
    assert fit(_mlp([0]), _data(task, split), cfg, store=store, progress=False).key != resumed.key
