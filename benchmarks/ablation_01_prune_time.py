"""Ablation (issue 15): why do the k = 0.7 / 0.8 grokked tickets of the paper-scale sweep never generalise?

Hypothesis: the pruning time. Spec 01's default prunes at the final checkpoint (30k steps), the notebook at
t_gen + margin (2000) with the dense run stopped there. This trains the paper's dense model (a+b mod 67, 40% of a<=b
pairs, AdamW 1e-3, wd 1, full batch) for the full 30k steps without early stopping, then retrains tickets pruned
at t_gen + 2000 and at 30k for k in {0.6, 0.7, 0.8} (one ensemble, same theta_0), 30k-step cap.

    OMP_NUM_THREADS=1 python benchmarks/ablation_01_prune_time.py [--seed 0]
        [--out data/01_lottery_tickets/ablation_prune_time.csv]
"""
import argparse
import math
from pathlib import Path

import pandas as pd
import torch

from grokkit import prune
from grokkit.data import Data
from grokkit.metrics import tickets as tk
from grokkit.models import EmbedMLPConfig, build
from grokkit.tasks import ModularTask, random_split
from grokkit.train import TrainConfig, fit

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--steps", type=int, default=30000)
ap.add_argument("--out", type=Path, default=Path("data/01_lottery_tickets/ablation_prune_time.csv"))
a = ap.parse_args()

task = ModularTask(p=67, operation="add", pairs="unordered")
split = random_split(task, 0.4, seed=a.seed)
data = Data(task.inputs("pairs"), task.y, split.train, split.test)
cfg = EmbedMLPConfig(p=67, embedding="shared")
train = dict(lr=1e-3, weight_decay=1.0, eval_every=50)
dense = fit(build(cfg, n_members=1, seeds=[a.seed]), data,
            TrainConfig(steps=a.steps, checkpoint_steps=tuple(range(0, a.steps + 1, 500)), **train), desc="dense 30k")
t_gen = float(dense.times.t_gen[0])
t_early, _ = tk.prune_step(t_gen, 2000, 500, a.steps) if math.isfinite(t_gen) else (a.steps, False)
print(f"dense seed {a.seed}: t_mem {dense.times.t_mem[0]:.0f}, t_gen {t_gen:.0f}; prune at {t_early} and {a.steps}")
members = [(t, k) for t in (t_early, a.steps) for k in (0.6, 0.7, 0.8)]
masks = [prune.magnitude(dense.member_state(0, t), k, "global") for t, k in members]
model = build(cfg, n_members=len(members), seeds=[a.seed] * len(members))
m = {n: torch.cat([mk[n] for mk in masks]) for n, _ in model.named_parameters()}
run = fit(model, data, TrainConfig(steps=a.steps, **train), masks=m, desc="tickets")
rows = [dict(seed=a.seed, dense_t_gen=t_gen, prune_step=t, k=k, t_mem=run.times.t_mem[i], t_gen=run.times.t_gen[i],
             final_train_acc=run.summary().final_train_acc[i], final_test_acc=run.summary().final_test_acc[i])
        for i, (t, k) in enumerate(members)]
df = pd.DataFrame(rows)
print(df.to_string(index=False))
a.out.parent.mkdir(parents=True, exist_ok=True)
df.to_csv(a.out, index=False)
