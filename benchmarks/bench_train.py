"""Training speed on the spec-01 MLP (p=67, a<=b pairs, 40% train, AdamW 1e-3, wd 1, float64 loss).

Measured in one process, side by side:
  (a) plain:     a per-model PyTorch loop as public reference code writes it: nn.Parameter matrices,
                 (E_a + E_b) W_in W_out W_U computed literally, torch.optim.AdamW, train AND test loss
                 and accuracy evaluated (with .item()) every step;
  (b) single:    grokkit.train.fit on one model (reassociated forward, train metrics from the training
                 pass, test metrics every `eval_every` steps);
  (c) ensemble8: grokkit.train.fit on 8 stacked models, reported in model-steps/s.
Ratios are relative to (a). The last line is `ratios: single=<x> ensemble8=<y>`.

    python benchmarks/bench_train.py [--steps 400] [--device cpu|cuda|auto] [--loss-dtype float64]
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.tasks import ModularTask, random_split
from grokkit.train import TrainConfig, fit, resolve_device


class PlainMLP(torch.nn.Module):
    def __init__(self, p=67, d_emb=500, hidden=48):
        super().__init__()
        self.W_E = torch.nn.Parameter(torch.randn(p, d_emb) / math.sqrt(p))
        self.W_in = torch.nn.Parameter(torch.randn(d_emb, hidden) / math.sqrt(d_emb))
        self.W_out = torch.nn.Parameter(torch.randn(hidden, d_emb) / math.sqrt(hidden))
        self.W_U = torch.nn.Parameter(torch.randn(d_emb, p) / math.sqrt(d_emb))

    def forward(self, x):
        h = torch.relu((self.W_E[x[:, 0]] + self.W_E[x[:, 1]]) @ self.W_in)
        return h @ self.W_out @ self.W_U


def plain_loop(X, y, tr, te, steps, device, loss_dtype):
    torch.manual_seed(0)
    model = PlainMLP().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
    Xtr, ytr, Xte, yte = X[tr].to(device), y[tr].to(device), X[te].to(device), y[te].to(device)
    log = []
    t0 = time.perf_counter()
    for _ in range(steps):
        logits = model(Xtr)
        loss = F.cross_entropy(logits.to(loss_dtype), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            test_logits = model(Xte)
            test_loss = F.cross_entropy(test_logits.to(loss_dtype), yte)
            log.append((loss.item(), (logits.argmax(-1) == ytr).float().mean().item(),
                        test_loss.item(), (test_logits.argmax(-1) == yte).float().mean().item()))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def grokkit_fit(data, n_members, steps, device, loss_dtype, eval_every):
    model = build(EmbedMLPConfig(p=67), n_members=n_members, seeds=0)
    cfg = TrainConfig(steps=steps, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), eval_every=eval_every,
                      loss_dtype=loss_dtype, device=str(device))
    t0 = time.perf_counter()
    fit(model, data, cfg, store=None, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--loss-dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=2, help="best of N timings per variant")
    args = ap.parse_args(argv)
    device = resolve_device(args.device)
    dtype = torch.float64 if args.loss_dtype == "float64" else torch.float32
    task = ModularTask(p=67, operation="add", pairs="unordered")
    split = random_split(task, 0.4, seed=0)
    X = task.inputs("pairs")
    data = Data(X, task.y, split.train, split.test)
    print(f"device={device} threads={torch.get_num_threads()} steps={args.steps} loss_dtype={args.loss_dtype} "
          f"train={len(split.train)} test={len(split.test)}")
    best = lambda f: max(f() for _ in range(args.repeats))
    plain = best(lambda: plain_loop(X, task.y, split.train, split.test, args.steps, device, dtype))
    single = best(lambda: grokkit_fit(data, 1, args.steps, device, args.loss_dtype, args.eval_every))
    ens = best(lambda: grokkit_fit(data, 8, args.steps, device, args.loss_dtype, args.eval_every))
    print(f"plain loop        {plain:9.1f} steps/s")
    print(f"grokkit single    {single:9.1f} steps/s")
    print(f"grokkit ensemble8 {ens * 8:9.1f} model-steps/s ({ens:.1f} ensemble steps/s)")
    print(f"ratios: single={single / plain:.2f} ensemble8={ens * 8 / plain:.2f}")


if __name__ == "__main__":
    main()
