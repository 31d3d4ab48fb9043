"""Why notebook 05's baseline never groks (issue 16, item 1): a ladder from a setting that groks to the paper's.

Every rung is a 1-layer transformer on a+b mod 113, 30% of the p^2 pairs for training, full batch, AdamW wd 1,
trained through `grokkit.train.fit` (cached in the run store: re-running loads). Each rung changes ONE thing
relative to the rung named in its `change` column. t_gen = first evaluated step with test acc > 0.95
(eval every 100 steps); a run that never crosses is censored at the cap ("> cap").

Extra diagnostics per rung (seq_len 5): `train_acc_fresh` = accuracy on the TRAINING pairs with freshly drawn
distractors (final weights): when the train rows are solved only with their own fixed distractors, this falls
towards chance: the distractors are a memorisation key. `mass_S` = the query's final attention mass on S
(mean over train rows and seeds; 0.4 = uniform over the 5 positions the query sees, 1 = the oracle).

Scales: "paper" (default) is the ladder above (p=113, 30%, lr 1e-3; a 3000-step rung is ~5 CPU-min per seed on
an idle core). "small" is the same ladder at the ci profile's scale (p=23, 60% of the pairs, every lr x10, caps
1500): what fits on a loaded 2-core machine. The CSV keys rows by (rung, p).

Usage:  python benchmarks/ladder_05.py                        # every rung (trains what is not cached), writes the CSV
        python benchmarks/ladder_05.py --rungs R3 R4            # only these rungs (their rows in the CSV are updated)
        python benchmarks/ladder_05.py --scale small --rungs R2 R3 R4 R5
"""
from __future__ import annotations

import argparse
import fcntl
import math
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from grokkit.data import Data
from grokkit.models import TransformerConfig, build
from grokkit.tasks import random_split
from grokkit.tasks.sequences import SequenceTask
from grokkit.train import TrainConfig, fit

OUT = Path(__file__).resolve().parents[1] / "data" / "05_bayesian_tickets" / "ladder.csv"
COLUMNS = ["rung", "change", "seq_len", "distractors", "d_model", "d_mlp", "heads", "lr", "warmup", "clip", "seeds",
           "n_grokked", "t_gen_median", "t_gen_min", "t_gen_max", "cap", "final_train_acc", "final_test_acc",
           "betas", "train_acc_fresh", "mass_S", "p", "train_frac", "wall_s"]


@dataclass(frozen=True)
class Rung:
    rung: str
    change: str
    seq_len: int = 3
    sampling: str = "fixed"  # "fixed" | "resample" (only matters with distractors)
    vocab: str = "task"  # "task" | "separate"
    d_model: int = 64
    d_mlp: int = 256
    heads: int = 1
    lr: float = 1e-3
    warmup: int = 0
    clip: float | None = None
    betas: tuple[float, float] = (0.9, 0.98)
    seeds: tuple[int, ...] = (0,)
    cap: int = 3000

    @property
    def distractors(self) -> str:
        if self.seq_len <= 3:
            return "none"
        return f"{self.sampling}" + ("/separate vocab" if self.vocab == "separate" else "")


# R0 is a plain AdamW setting (Nanda's betas, no warm-up or clipping) with the paper's small model; then the
# paper's optimiser details one at a time; then the distractors (the paper's T=5) in each variant; then the lr.
PLAIN = Rung("R0", "start: [a, b, =], 1 head d_model 64 d_mlp 256, AdamW betas (0.9, 0.98)")
PAPER3 = replace(PLAIN, warmup=10, clip=1.0, betas=(0.9, 0.999))
PAPER5 = replace(PAPER3, seq_len=5)
RUNGS = [
    replace(PLAIN, seeds=(0,), cap=4000),
    replace(PLAIN, rung="R1", change="R0 + warm-up 10, grad clip 1.0", warmup=10, clip=1.0, cap=4000),
    replace(PAPER3, rung="R2", change="R1 + betas (0.9, 0.999) = paper optimiser, T=3", seeds=(0, 1), cap=4000),
    replace(PAPER5, rung="R3", change="R2 + T=5: two distractors, one fixed draw per pair (the paper setting as "
            "built so far)", sampling="fixed", seeds=(0, 1), cap=3000),
    replace(PAPER5, rung="R4", change="R3 with the training distractors resampled every step", sampling="resample",
            seeds=(0, 1), cap=4000),
    replace(PAPER5, rung="R5", change="R3 with distractors from a separate vocabulary (still one fixed draw)",
            sampling="fixed", vocab="separate", seeds=(0,), cap=3000),
    replace(PAPER5, rung="R6", change="R3 with lr x3 (3e-3 at paper scale)", sampling="fixed", lr=3e-3, seeds=(0,),
            cap=3000),
    replace(PAPER5, rung="R7", change="R4 with lr x3 (3e-3 at paper scale)", sampling="resample", lr=3e-3,
            seeds=(0,), cap=3000),
    replace(PLAIN, rung="R8", change="R0 with 4 heads, d_model 128, d_mlp 512 (Nanda's size)", d_model=128, d_mlp=512,
            heads=4, seeds=(0,), cap=3000),
]
P, TRAIN_FRAC, SPLIT_SEED, EVAL_EVERY, PATIENCE = 113, 0.3, 0, 100, 100
SCALES = {"paper": dict(p=113, train_frac=0.3, lr_factor=1.0, cap=None, eval_every=100),
          "small": dict(p=23, train_frac=0.6, lr_factor=10.0, cap=1500, eval_every=50)}


def set_scale(name: str) -> list[Rung]:
    """Set the module's scale (p, train fraction, eval interval) and return the rungs at that scale."""
    global P, TRAIN_FRAC, EVAL_EVERY, PATIENCE
    sc = SCALES[name]
    P, TRAIN_FRAC, EVAL_EVERY = sc["p"], sc["train_frac"], sc["eval_every"]
    PATIENCE = EVAL_EVERY
    return [replace(r, lr=r.lr * sc["lr_factor"], cap=sc["cap"] or r.cap) for r in RUNGS]


def make_task(r: Rung) -> tuple[SequenceTask, Data]:
    t = SequenceTask("add", p=P, seq_len=r.seq_len, distractor_sampling=r.sampling, distractor_vocab=r.vocab)
    split = random_split(t, TRAIN_FRAC, seed=SPLIT_SEED)
    return t, Data(t.X, t.y, split.train, split.test)


def run_rung(r: Rung, store="auto") -> dict:
    t, data = make_task(r)
    cfg = TransformerConfig(d_vocab=t.vocab_size, n_ctx=t.seq_len, d_vocab_out=t.n_classes, d_model=r.d_model,
                            n_heads=r.heads, d_mlp=r.d_mlp)
    model = build(cfg, len(r.seeds), seeds=list(r.seeds))
    tc = TrainConfig(steps=r.cap, lr=r.lr, weight_decay=1.0, betas=r.betas, warmup_steps=r.warmup, grad_clip=r.clip,
                     eval_every=EVAL_EVERY, early_stop_patience=PATIENCE, device="cpu")
    augment = t.resampler(seed=0) if r.seq_len > 3 and r.sampling == "resample" else None
    t0 = time.time()
    run = fit(model, data, tc, augment=augment, store=store, progress=False, desc=r.rung)
    wall = time.time() - t0
    tg = run.times.t_gen.to_numpy(dtype=float)
    ok = tg[np.isfinite(tg)]
    summ = run.summary()
    row = dict(rung=r.rung, change=r.change, seq_len=r.seq_len, distractors=r.distractors, d_model=r.d_model,
               d_mlp=r.d_mlp, heads=r.heads, lr=r.lr, warmup=r.warmup, clip=r.clip if r.clip else "none",
               seeds=" ".join(map(str, r.seeds)), n_grokked=f"{len(ok)}/{len(tg)}",
               t_gen_median=_censored_median(tg, r.cap), t_gen_min=_fmt(np.nanmin(tg) if len(ok) else NAN, r.cap),
               t_gen_max=_fmt(tg.max() if len(ok) == len(tg) else NAN, r.cap), cap=r.cap,
               final_train_acc=_rng(summ.final_train_acc), final_test_acc=_rng(summ.final_test_acc),
               betas=f"({r.betas[0]}, {r.betas[1]})", p=P, train_frac=TRAIN_FRAC, wall_s=round(wall))
    row.update(_diagnostics(model, t, data))
    return row


NAN = float("nan")


def _fmt(v: float, cap: int) -> str:
    return f"> {cap}" if not math.isfinite(v) else f"{int(v)}"


def _censored_median(tg: np.ndarray, cap: int) -> str:
    """Median with censored runs counted as +inf (so "> cap" when at least half did not grok)."""
    v = np.sort(np.where(np.isfinite(tg), tg, np.inf))
    n = len(v)
    med = v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])
    return _fmt(med, cap)


def _rng(s: pd.Series) -> str:
    v = s.to_numpy(dtype=float)
    return f"{np.median(v):.3f}" if len(v) == 1 else f"{np.median(v):.3f} [{v.min():.3f}, {v.max():.3f}]"


@torch.no_grad()
def _diagnostics(model, t: SequenceTask, data: Data) -> dict:
    if t.seq_len <= 3:
        return dict(train_acc_fresh="", mass_S="")
    model.eval()
    x = t.X[data.train[0]].unsqueeze(0).expand(model.n_members, -1, -1).contiguous()
    y = t.y[data.train[0]]
    fresh = SequenceTask("add", p=P, seq_len=t.seq_len, distractor_vocab=t.distractor_vocab).resampler(seed=12345)
    acc = (model(fresh(x, 0)).argmax(-1) == y).float().mean(1)
    model(x)
    mass = model.cache["attn_query"][..., list(t.informative)].sum(-1).mean().item()
    return dict(train_acc_fresh=_rng(pd.Series(acc.numpy())), mass_S=f"{mass:.3f}")


def write_rows(rows: list[dict]) -> pd.DataFrame:
    """Merge these rows into the CSV (other rungs' rows kept; a lock so two processes can write)."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "grokkit_ladder_05.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = pd.read_csv(OUT, dtype=str) if OUT.exists() else pd.DataFrame(columns=COLUMNS)
        new = pd.DataFrame(rows, columns=COLUMNS).astype(str)
        key = (old.rung + "/" + old.p).isin(new.rung + "/" + new.p) if len(old) else pd.Series([], dtype=bool)
        df = pd.concat([old[~key], new], ignore_index=True)
        order = {r.rung: i for i, r in enumerate(RUNGS)}
        df = df.assign(_o=df.rung.map(order), _p=-df.p.astype(int)).sort_values(["_p", "_o"]).drop(columns=["_o", "_p"])
        df = df.reset_index(drop=True)
        df.to_csv(OUT, index=False)
    return df


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rungs", nargs="*", default=None, help="rung names (default: all)")
    ap.add_argument("--scale", choices=sorted(SCALES), default="paper")
    ap.add_argument("--seeds", nargs="*", type=int, default=None, help="override every chosen rung's seeds")
    ap.add_argument("--cap", type=int, default=None, help="override every chosen rung's cap (steps)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rungs = set_scale(args.scale)
    if args.seeds:
        rungs = [replace(r, seeds=tuple(args.seeds)) for r in rungs]
    if args.cap:
        rungs = [replace(r, cap=args.cap) for r in rungs]
    chosen = [r for r in rungs if args.rungs is None or r.rung in args.rungs]
    df = None
    for r in chosen:
        row = run_rung(r)
        print(f"{r.rung}: {row['n_grokked']} grokked, t_gen median {row['t_gen_median']} "
              f"[{row['t_gen_min']}, {row['t_gen_max']}], test acc {row['final_test_acc']}, "
              f"fresh-distractor train acc {row['train_acc_fresh']} ({row['wall_s']} s)", flush=True)
        df = write_rows([row])
    if df is not None:
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_colwidth", 60):
            print(df.drop(columns=["wall_s"]).to_string(index=False))


if __name__ == "__main__":
    main()
