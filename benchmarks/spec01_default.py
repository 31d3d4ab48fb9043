"""Spec 01's default configuration, seeds as an ensemble: does it grok within 30k steps, and when?

p=67, a<=b pairs, 40% train (split shuffled by seed), the embedding-sum MLP (kappa=1), AdamW lr 1e-3,
wd 1, betas (0.9, 0.98), full batch, cross-entropy in --loss-dtype. Writes a JSON summary (--out).

    python benchmarks/spec01_default.py --seeds 0,1,2 --loss-dtype float64 --out data/spec01_default.json
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.tasks import ModularTask, random_split
from grokkit.train import TrainConfig, fit, resolve_device


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--loss-dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    task = ModularTask(p=67, operation="add", pairs="unordered")
    splits = [random_split(task, 0.4, seed=s) for s in seeds]
    data = Data(task.inputs("pairs"), task.y, [s.train for s in splits], [s.test for s in splits])
    model = build(EmbedMLPConfig(p=67), n_members=len(seeds), seeds=seeds)
    cfg = TrainConfig(steps=args.steps, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), eval_every=50,
                      loss_dtype=args.loss_dtype, device=args.device)
    t0 = time.time()
    run = fit(model, data, cfg, store=None, desc="spec-01 default")
    wall = time.time() - t0
    times = run.times.assign(seed=seeds)
    t_gen = times.t_gen.to_numpy()
    ok = np.isfinite(t_gen)
    summary = {
        "config": "p=67 a<=b 40% train, EmbedMLP d_emb 500 hidden 48, AdamW 1e-3 wd 1 betas (0.9,0.98)",
        "loss_dtype": args.loss_dtype, "steps": args.steps, "device": str(resolve_device(args.device)),
        "torch": torch.__version__, "machine": platform.machine(),
        "seeds": seeds, "t_mem": times.t_mem.tolist(), "t_gen": [float(x) if np.isfinite(x) else None for x in t_gen],
        "n_grokked": int(ok.sum()), "median_t_gen": float(np.median(t_gen[ok])) if ok.any() else None,
        "wall_s": wall, "ensemble_steps_per_s": run.meta["steps_per_s"],
    }
    print(times[["seed", "t_mem", "t_gen", "tau_grok"]].to_string(index=False))
    print(json.dumps({k: summary[k] for k in ("n_grokked", "median_t_gen", "wall_s")}))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
