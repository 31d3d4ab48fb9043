# %% [markdown]
# # Grokking tickets: lottery tickets accelerate grokking
#
# Minegishi et al. (TMLR 2025, arXiv 2310.19470) ask *why* grokking takes so long. Their answer: the network
# has to find a good **structure** (a sparse subnetwork), not just small weights. The evidence is the
# **grokked ticket**: train the dense model past generalisation, prune the fraction `k` of weights with the
# smallest magnitude, rewind the survivors to their initial values theta_0 and retrain. This sparse network
# generalises almost as soon as it memorises. Controls (a dense model with the same weight norm, pruning at
# initialisation) do not.
#
# Model (spec 01, Eq. 1): `logits = ReLU((E_a + E_b) W_in) W_out W_U`, d_emb 500, 48 hidden units, no biases;
# AdamW with weight decay, full batch. `t_mem` / `t_gen` = first step with train / test accuracy > 95%,
# `tau_grok = t_gen / t_mem`. Pruning rate `k` = fraction REMOVED, global over the four matrices.
#
# **Loss precision** (`loss_dtype`, [decided] float32 in every profile): the authors compute the cross-entropy in
# float64, and that turns out to matter here. With float32 the trained unembedding W_U stays small, the global mask
# empties it and k >= 0.7 tickets fail; with float64 they generalise in a few hundred steps (the k >= 0.7 diagnosis
# below, and Fig 3a again with the float64 loss, over 10 seeds in the bundle). The shipped paper bundle was made with
# float32 before we found this; `-p loss_dtype=float64` runs every section like the repo (the paper profile: several
# hours on 2 CPU cores).
#
# **Protocol.** The grokked ticket is taken from a dense run that *has generalised*, at
# `t_prune = dense t_gen + margin` (rounded up to a checkpoint). If a dense member never generalises, the notebook
# says so and uses its last checkpoint: that seed's tickets are not grokked tickets, so the ticket, tau and control
# claims are evaluated over the seeds whose dense run generalised (counted and named in the claims; "not at this
# scale" only when none did). Profiles only change the scale: `ci` uses a fast-grokking setting (p=97, all pairs, lr 3e-3), `demo`
# / `paper` use the paper's (p=67, a<=b, 40% train, lr 1e-3).
#
# **Sections.** Each experiment below is one *section*: a function from the settings to a result made of data
# (tables, small arrays, numbers), saved with its provenance in `output_dir/results/`. Its figures and its claims
# rows are drawn from that result alone, so `source="shipped"` (the bundle in `data/01_lottery_tickets/<profile>/`)
# or `source=<an earlier output folder>` replays every figure and the claims table without training. The paper
# profile's bundle is shipped: `grokkit run notebooks/01_lottery_tickets.ipynb --profile paper -p source=shipped`
# shows the paper-scale figures and claims in seconds (5 dense seeds x 30k steps, MLP sections, on 2 CPU cores). Each section
# ends with its own control panel (JupyterLab): change its knobs and press Run to re-run only that section.
# A run that never crosses 95% has a censored time, shown as `> cap`: a comparison involving it holds only where
# the cap itself proves it (`grokkit.metrics.censored`).

# %% tags=["parameters"]
import os

profile = os.environ.get("GROKKIT_PROFILE", "demo")  # "ci" | "demo" | "paper"
source = os.environ.get("GROKKIT_SOURCE", "run")  # "run" | "shipped" | the output folder of an earlier run
seed = 0
device = "auto"
output_dir = None
p = None  # None: take the value of the profile
operation = None
pairs = None
train_frac = None
lr = None
weight_decay = None
embedding = None
steps = None
n_seeds = None
margin = None
ckpt_every = None
eval_every = None
loss_dtype = None
prune_rate = None
prune_rates = None
ticket_steps = None
prune_times = None
prune_every = None
graph_layers = None
jd_gap = None
ep_start = None
ep_steps = None
ep_lr = None
ep_mem_lr = None
ep_train_frac = None
ep_seeds = None
ep_score_wd = None
retrain_wd = None
late_rates = None
layer_sweep = None
f64_sweep = None
f64_seeds = None
nowd_rates = None
nowd_steps = None
extras = None
transformer = None
tr_d_model = None
tr_pairs = None
tr_lr = None
ops = None
extra_tasks = None
extra_steps = None

# %% [markdown]
# ## Parameters
# Each parameter is declared once (type, what is allowed, its default in each profile, a line of help); the
# settings table below, the panels' widgets and `grokkit run 01_lottery_tickets --help-params` come from it.
# A bad value fails here, naming the parameter and what is allowed.

# %% tags=["params-spec"]
from grokkit import notebook as nb
from grokkit.tasks.modular import OPERATIONS, PAIRS

NINE, OPS = [round(0.1 * i, 1) for i in range(9)], [o for o in OPERATIONS if o != "rand"]
LAYERS, BYOP = ["W_E", "W_in", "W_out", "W_U"], dict(ci=None, nullable=True)  # BYOP: ci default None = by operation
P, K, N = nb.Param, dict(range=(0, 1), open="high"), dict(range=(1, None))  # K: a pruning rate 0 <= k < 1; N: >= 1
EMBEDDINGS, MLP_TASKS = ["auto", "shared", "separate"], ["poly", "parity", "digits"]
PT = dict(demo=[0.1, 0.25, 0.5, 1.0], paper=[0.1, 0.25, 0.5, 0.75, 1.0], range=(0, None), open="low")
NOWD = dict(default=[0.8, 0.85, 0.9], paper=[0.80, 0.81, 0.82, 0.84, 0.86, 0.88, 0.90])


PARAMS = nb.Params("01_lottery_tickets",  # each knob: type, what is allowed, default per profile, help
    P("p", int, "prime modulus", ci=97, default=67, check=nb.prime, widget=[59, 67, 97, 113]),
    P("operation", str, "a∘b mod p of the main task", default="add", choices=OPS),
    P("pairs", str, "all (a, b) pairs, or unordered (a <= b, the paper)", ci="all", default="unordered", choices=PAIRS),
    P("train_frac", float, "training share (ci None: 0.3, 0.6 for a-b, a/b..)", **BYOP, default=0.4, range=(0, 1), open="both"),
    P("lr", float, "AdamW learning rate", ci=3e-3, default=1e-3, range=(0, None), open="low"),
    P("weight_decay", float, "AdamW weight decay (dense run and tickets)", default=1.0, range=(0, None)),
    P("embedding", str, "operand tables (auto: separate ones for a-b, a/b)", default="auto", choices=EMBEDDINGS),
    P("steps", int, "dense-run step cap", ci=3000, default=30000, **N),
    P("n_seeds", int, "dense models, seeds seed.. (paper 5: not all grok in 30k)", ci=1, demo=2, paper=5, **N),
    P("margin", int, "pruning time: dense t_gen plus this margin", ci=200, default=2000, range=(0, None)),
    P("ckpt_every", int, "checkpoint interval (pruning times, masks)", ci=50, default=500, **N),
    P("eval_every", int, "test evaluation interval", ci=10, default=50, **N),
    P("loss_dtype", str, "cross-entropy precision (the repo's: float64; see the k >= 0.7 diagnosis)",
      default="float32", choices=["float32", "float64"]),
    P("prune_rate", float, "k of the grokked ticket (fraction removed)", default=0.6, **K, widget=NINE[1:]),
    P("prune_rates", list, "the Fig 3 sweep of k", default=NINE, item=float, **K),
    P("ticket_steps", int, "retraining step cap (ci None: 300, 800 for a-b, a/b..)", **BYOP, demo=3000, paper=30000, **N),
    P("prune_times", list, "Fig 4a: pruning times / dense t_gen (>= 1: t_prune)", ci=[0.25, 0.5, 1.0], **PT, item=float),
    P("prune_every", int, "Fig 4a at the paper's grid: a ticket every this many steps (0: off)", ci=150, demo=4000, default=2000, range=(0, None)),
    P("graph_layers", list, "Fig 9 layers (W_E/W_U path lengths cost ~4x)", ci=LAYERS[1:3], default=LAYERS, choices=LAYERS),
    P("jd_gap", int, "Fig 7: steps between the two masks compared (spec 01: 2000)", ci=200, default=2000, **N),
    P("ep_start", int, "Table 1: theta_mem = its own dense run at this step", ci=80, default=1000, range=(0, None)),
    P("ep_steps", int, "Table 1: edge-popup steps from theta_mem", ci=300, default=2000, **N),
    P("ep_lr", float, "Table 1: lr of the three variants from theta_mem (authors' 1e-2)", default=1e-2,
      range=(0, None), open="low"),
    P("ep_mem_lr", float, "Table 1: lr of theta_mem's own dense run (the repo's weight training: 1e-3)", ci=1e-2,
      default=1e-3, range=(0, None), open="low"),
    P("ep_train_frac", float, "Table 1: training share of theta_mem's run (authors' 0.5)", ci=0.3, default=0.5,
      range=(0, 1), open="both"),
    P("ep_seeds", int, "Table 1: seeds of theta_mem (edge-popup from each)", ci=1, demo=2, paper=10, **N),
    P("ep_score_wd", float, "Table 1: AdamW weight decay on the scores of frozen-weight EP (the repo's -w 1)",
      default=1.0, range=(0, None)),
    P("retrain_wd", float, "weight decay of the ticket-retraining variant (authors' config: 0)", default=0.0,
      range=(0, None)),
    P("late_rates", list, "k >= 0.7 diagnosis: rates pruned at the last checkpoint / with neuron revival", ci=[0.8],
      default=[0.7, 0.8], item=float, **K),
    P("layer_sweep", bool, "Fig 3a again with per-layer masks (the k >= 0.7 diagnosis)", ci=False, default=True),
    P("f64_sweep", bool, "Fig 3a again with the repo's float64 loss (own dense runs; when loss_dtype is float32)",
      ci=False, default=True),
    P("f64_seeds", int, "that sweep's dense seeds seed.. (paper 10: with float64 2 of 5 grok within 30k)", ci=1,
      demo=2, paper=10, **N),
    P("nowd_rates", list, "Fig 17: k of tickets retrained without weight decay", **NOWD, item=float, **K),
    P("nowd_steps", int, "Fig 17: step cap without weight decay", ci=300, demo=3000, paper=30000, **N),
    P("extras", bool, "run the other models/tasks section (Fig 2b-e, Fig 10)", ci=False, default=True),
    P("transformer", bool, "Fig 2b: the 1-layer transformer (with extras)", ci=False, default=True),
    P("tr_d_model", int, "Fig 2b: its d_model (paper 500; CPU profiles 128)", default=128, paper=500, **N),
    P("tr_pairs", str, "Fig 2b: its table (unordered is the paper's)", default="all", paper="unordered", choices=PAIRS),
    P("tr_lr", float, "Fig 2b: its learning rate", default=3e-3, paper=1e-3, range=(0, None), open="low"),
    P("ops", list, "Fig 2c: other operations (the paper: a-b, ab, a^2+b^2, a^2+ab+b^2)", default=[],
      paper=["sub", "mul", "x2y2", "x2xyy2"], choices=OPS),
    P("extra_tasks", list, "Fig 2d/2e/10 tasks", default=[], paper=MLP_TASKS, choices=MLP_TASKS),
    P("extra_steps", int, "step cap of the Fig 2d/2e/10 tasks", default=3000, paper=50000, **N),
)

# %%
import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
from IPython.display import display

import grokkit
from grokkit import plots, prune
from grokkit.data import Data
from grokkit.metrics import censored, fourier, structure
from grokkit.metrics import tickets as tk
from grokkit.models import EmbedMLPConfig, MLPConfig, TransformerConfig, build, from_state
from grokkit.models.edgepopup import EdgePopup, EdgePopupConfig, masks_from_state
from grokkit.tasks import ModularTask, random_split
from grokkit.tasks.digits import load_digits_table, train_test_indices
from grokkit.tasks.parity import SparseParityTask
from grokkit.tasks.polynomial import PolynomialTask
from grokkit.train import TrainConfig, fit

# %%
SYMMETRIC_OPS = ("add", "mul", "x2y2", "x2xyy2")  # a∘b = b∘a: one shared operand table suffices
# [decided] ci defaults by operation (measured, ci lr 3e-3 / all pairs): the shared table (commutative ops) groks
# a+b mod 97 at 30% train by ~800 steps; separate tables (a-b, a/b, ...) grok more slowly: a-b mod 59 did not
# grok in 8000 steps at 30% train; dense t_gen at 50% 1900 / 2550 (seeds 0 / 1), at 60% 880 / 1090 (seed 3, its own
# split: 1120), at 70% 520-730. Hence 60% and a longer ticket cap (800 steps: a ci run of a-b mod 59 takes ~60% of
# its time at 50% / 6000 / 1500 steps, with the same claims holding, row by row, for seeds 0 and 3).
BY_OPERATION = {"shared": dict(train_frac=0.3, ticket_steps=300), "separate": dict(train_frac=0.6, ticket_steps=800)}


def by_operation(S):  # fills the knobs left at None (ci) with the operation's values, before the checks below
    tables = "shared" if S.operation in SYMMETRIC_OPS and S.embedding != "separate" else "separate"
    for name, v in BY_OPERATION[tables].items():
        if S[name] is None:
            S[name] = v


def consistent(S):  # cross-parameter checks: resolve and every panel's Run apply them
    bad = [f"{n}={S[n]} is not allowed: must be < steps={S.steps}" for n in ("jd_gap", "ep_start") if S[n] >= S.steps]
    if S.prune_every % S.ckpt_every:
        bad.append(f"prune_every={S.prune_every} is not allowed: must be a multiple of ckpt_every={S.ckpt_every}")
    if not any(abs(k - S.prune_rate) < 1e-9 for k in S.prune_rates):
        bad.append(f"prune_rate={S.prune_rate} is not allowed: must be one of prune_rates={list(S.prune_rates)}")
    if bad:
        raise ValueError("; ".join(bad))


PARAMS.checks += [by_operation, consistent]
S = PARAMS.resolve(globals())
PAPER_TAU = {0.0: 245.674, 0.1: 105.667, 0.2: 51.322, 0.3: 20.214, 0.4: 11.525, 0.5: 5.446, 0.6: 5.099,
             0.7: 3.629, 0.8: 4.266}
claims = nb.Claims()
print(f"grokkit {grokkit.__version__}, profile {S.profile!r}, source {str(S.source)!r}, writing to {S.output_dir}")
S

# %% [markdown]
# ## The building blocks
# The task and split, the model, the optimiser settings, and the retraining of masked members: every section
# below composes these. Runs are memoised (and cached in the run store), so sections that share the dense run
# or the sweep train them once.

# %%
_MEMO = {}
EXTRA_KNOBS = ("extras", "transformer", "tr_d_model", "tr_pairs", "tr_lr", "ops", "extra_tasks", "extra_steps")
EP_KNOBS = ("ep_lr", "ep_mem_lr", "ep_train_frac", "ep_seeds", "ep_score_wd")  # Table 1's theta_mem runs: only edge_popup uses them
OWN = ("retrain_wd", "late_rates", "layer_sweep", "f64_sweep", "f64_seeds", "prune_every")  # knobs of one section each (it adds them to its uses)
MAIN = [n for n in PARAMS.knobs if n not in EXTRA_KNOBS + EP_KNOBS + OWN] + ["seed"]  # the knobs the others use
EP_USES = ["p", "operation", "pairs", "embedding", "weight_decay", "eval_every", "loss_dtype", "ckpt_every", "ep_start",
           "ep_steps", *EP_KNOBS, "seed"]  # Table 1 (edge_popup): its own theta_mem runs, none of the main dense run's knobs


def memo(name, S, keys, make):
    """One cached value per name, recomputed when the settings in `keys` change (sections share runs)."""
    key = tuple(repr(S[k]) for k in keys)
    if name not in _MEMO or _MEMO[name][0] != key:
        _MEMO[name] = (key, make())
    return _MEMO[name][1]


def embed_cfg(S, *operations):
    """The spec-01 MLP. [decided] embedding="auto": the paper's shared table (input E_a + E_b, symmetric in a and b)
    for commutative operations, a separate table for the b slot otherwise (a shared table cannot fit a - b)."""
    emb = S.embedding
    if emb == "auto":
        emb = "shared" if all(o in SYMMETRIC_OPS for o in operations) else "separate"
    elif emb == "shared" and not all(o in SYMMETRIC_OPS for o in operations):
        print(f"WARNING: {operations} include a non-commutative operation but embedding='shared' makes the input "
              "E_a + E_b symmetric in (a, b): the table cannot be fitted. Use embedding='auto' or 'separate'.")
    return EmbedMLPConfig(p=S.p, embedding=emb)


def train_cfg(S, steps, wd=None, patience=0, ckpts=()):
    return TrainConfig(steps=steps, lr=S.lr, weight_decay=S.weight_decay if wd is None else wd,
                       eval_every=S.eval_every, loss_dtype=S.loss_dtype, early_stop_patience=patience,
                       checkpoint_steps=tuple(ckpts), device=S.device)


def export(fig, name):
    """HTML (and PNG when a static exporter is present) in output_dir. A replay and the ci profile write HTML only
    (PNG: seconds per figure, a replay has 20 s in all); PNGs from demo / paper runs and $GROKKIT_RUN_SECTIONS ones."""
    plots.export(fig, S.output_dir, name, static=nb.static_export(S))


def acc_range(v):
    """'median [min, max]' of accuracies (or 'none')."""
    return f"{np.median(v):.2f} [{np.min(v):.2f}, {np.max(v):.2f}]" if len(v) else "none"


def acc_curves(run, member, label):
    """Train/test accuracy of one member as a tidy table (label, split, step, value)."""
    h = run.history
    h = h[(h.member == member) & (h.metric == "acc")]
    return h.assign(label=label)[["label", "split", "step", "value"]].reset_index(drop=True)


# %% [markdown]
# ## Dense run and the grokked ticket's pruning time
# One ensemble trains `n_seeds` dense models (different initialisations, the same split) with checkpoints every
# `ckpt_every` steps. Each member's ticket is pruned at its own `t_prune`.

# %%
DENSE_KEYS = ("p", "operation", "pairs", "train_frac", "lr", "weight_decay", "embedding", "steps", "n_seeds",
              "margin", "ckpt_every", "eval_every", "loss_dtype", "seed", "device")


def main_task(S, train_frac):
    """The main task a∘b mod p (S.pairs), its Data split at `train_frac` (split seed S.seed), the dense model config."""
    task = ModularTask(p=S.p, operation=S.operation, pairs=S.pairs)
    split = random_split(task, train_frac, seed=S.seed)
    return task, Data(task.inputs("pairs"), task.y, split.train, split.test), embed_cfg(S, S.operation)


def dense_ctx(S):
    """The dense ensemble (one member per seed) and each member's pruning time, shared by the sections."""
    def make():
        task, data, cfg = main_task(S, S.train_frac)
        seeds = [S.seed + i for i in range(S.n_seeds)]
        model = build(cfg, n_members=len(seeds), seeds=list(seeds))
        ckpts = range(0, S.steps + 1, S.ckpt_every)
        run = fit(model, data, train_cfg(S, S.steps, patience=S.margin + S.ckpt_every, ckpts=ckpts), progress=False,
                  desc="dense")
        tp = [tk.prune_step(run.times.t_gen[m], S.margin, S.ckpt_every, max(run.checkpoints)) for m in range(len(seeds))]
        return SimpleNamespace(task=task, data=data, cfg=cfg, run=run, seeds=seeds, t_prune=[t for t, _ in tp],
                               grokked=[g for _, g in tp], cap=S.steps)
    return memo(f"dense-{S.loss_dtype}", S, DENSE_KEYS, make)


@nb.section("dense", knobs=["operation", "p", "train_frac", "steps", "n_seeds"], uses=MAIN)
def dense(S) -> nb.Result:
    D = dense_ctx(S)
    times = D.run.times.assign(seed=D.seeds, t_prune=D.t_prune, grokked=D.grokked)
    h = D.run.history
    return nb.Result(times=times, history=h[h.metric.isin(["acc", "loss"])].reset_index(drop=True), cap=D.cap,
                     task=D.task.description, embedding=D.cfg.embedding)


R_dense = dense(S)
for t in R_dense.times.itertuples():
    print(f"seed {t.seed}: dense t_mem={t.t_mem:.0f}, t_gen={censored.show(t.t_gen, R_dense.cap)} -> t_prune="
          f"{t.t_prune}" + ("" if t.grokked else "  (DID NOT GENERALISE: the ticket is not a grokked ticket)"))


# %%
def draw_dense(R):
    return plots.training_curves(R.history, member=0, times=R.times,
                                 title=f"Dense run, {R.task} ({R.embedding} operand table(s), seed {R.times.seed[0]})")


def dense_claims(R):
    t = R.times
    return [nb.claim("dense runs generalise before pruning (grokked ticket protocol)", "dense t_gen ~ 25k (paper)",
                     f"{int(t.grokked.sum())}/{len(t)} grokked; dense t_gen {censored.summary(t.t_gen, R.cap)}",
                     bool(t.grokked.all()))]


fig = draw_dense(R_dense)
export(fig, "dense_run")
claims.extend(dense_claims(R_dense), R_dense)
fig

# %%
dense.panel(S, draw=draw_dense, claims=dense_claims)


# %% [markdown]
# ## Fig 3a: the pruning-rate sweep (one ensemble over seeds x k)
# Every member is the dense model's theta_0 with its own magnitude mask (from `t_prune`) and is trained from scratch.
# `k = 0` is the dense run itself (an all-ones mask is the same computation), so it is read from the dense run.
# The paper's `tau_grok` falls from 246 (k=0) to ~4-5 (k=0.6-0.8). Tickets that never generalise count as
# `tau > cap / t_mem` in the medians and the rank correlation (they are not dropped).

# %%
def ticket_mask(run, m, rate, step, scope="global"):
    """The magnitude mask of dense member m at `step`: global over the four matrices (the repo's config), or per layer."""
    return prune.magnitude(run.member_state(m, step), rate, scope)


def retrain(S, D, members, steps, wd=None, ckpts=()):
    """Retrain one ensemble from the dense theta_0: members = dicts (seed index m, mask or None, init scale)."""
    model = build(D.cfg, n_members=len(members), seeds=[D.seeds[mb["m"]] for mb in members],
                  init_scale=[mb.get("scale", 1.0) for mb in members])
    ones = lambda n: torch.ones_like(D.run.checkpoints[0][n][:1], dtype=torch.bool)  # noqa: E731
    masks = {n: torch.cat([mb["mask"][n] if mb.get("mask") is not None else ones(n) for mb in members])
             for n, _ in model.named_parameters()}
    return fit(model, D.data, train_cfg(S, steps, wd=wd, ckpts=ckpts), masks=masks, progress=False, desc="tickets")


def grokked_seeds(D):
    """Members (seed indices) whose dense run generalised within its cap."""
    return [m for m in range(len(D.seeds)) if D.grokked[m]]


def ticket_seeds(D):
    """Members (seed indices) that get tickets: those whose dense run generalised (else all, to show something)."""
    return grokked_seeds(D) or list(range(len(D.seeds)))


def sweep_ctx(S):
    D = dense_ctx(S)

    def make():
        rates = [r for r in S.prune_rates if r > 0]
        members = [dict(m=m, k=r, mask=ticket_mask(D.run, m, r, D.t_prune[m])) for m in ticket_seeds(D)
                   for r in rates]
        run = retrain(S, D, members, S.ticket_steps, ckpts=range(0, S.ticket_steps + 1, S.ckpt_every))
        return SimpleNamespace(run=run, members=members, df=ticket_rows(D, members, run, S.ticket_steps))
    return memo(f"sweep-{S.loss_dtype}", S, DENSE_KEYS + ("prune_rates", "ticket_steps"), make)


def ticket_rows(D, members, run, cap, dense=True):
    """Per ticket (and, with `dense`, per dense run as k = 0): seed, k, t_mem, t_gen, tau_grok = t_gen / t_mem and
    tau_bound = cap / t_mem (a censored ticket's tau is > tau_bound)."""
    rows = [dict(seed=D.seeds[mb["m"]], m=mb["m"], k=mb["k"], member=i, cap=cap, **run.times.iloc[i][["t_mem", "t_gen"]])
            for i, mb in enumerate(members)]
    rows += [dict(seed=s, m=m, k=0.0, member=-1, cap=D.cap, t_mem=D.run.times.t_mem[m], t_gen=D.run.times.t_gen[m])
             for m, s in enumerate(D.seeds) if dense]
    df = pd.DataFrame(rows).sort_values(["seed", "k"]).reset_index(drop=True)
    return df.assign(tau_grok=df.t_gen / df.t_mem, tau_bound=df.cap / df.t_mem)


# %%
def ticket_member(df, k, m=0):
    r = df[(df.k.round(3) == round(k, 3)) & (df.m == m)]
    return int(r.member.iloc[0]) if len(r) and r.member.iloc[0] >= 0 else None


def grokked_only(df, dense_grokked):
    """The rows of seeds whose dense run generalised (tickets of the others are not grokked tickets), and a note."""
    seeds = sorted(int(s_) for s_ in df.seed.unique())
    keep = [s_ for s_, g in zip(seeds, dense_grokked) if g]
    note = "" if len(keep) == len(seeds) else (f"; over the {len(keep)}/{len(seeds)} seeds whose dense run generalised "
                                               f"(not seeds {[s_ for s_ in seeds if s_ not in keep]})")
    return df[df.seed.isin(keep)], note


@nb.section("sweep", knobs=["operation", "p", "train_frac", "prune_rates", "prune_rate", "ticket_steps"], uses=MAIN)
def sweep(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    h = W.run.history
    kmap = W.df[W.df.member >= 0].set_index("member")
    early = h[(h.split == "train") & (h.metric == "acc") & (h.step <= 5 * max(D.run.times.t_mem.max(), 20))]
    early = early[early.member.map(kmap.m) == 0].assign(k=lambda e: e.member.map(kmap.k))
    tm = ticket_member(W.df, S.prune_rate)
    curves = acc_curves(D.run, 0, "dense")
    if tm is not None:
        curves = pd.concat([curves, acc_curves(W.run, tm, f"ticket k={S.prune_rate}")], ignore_index=True)
    return nb.Result(sweep=W.df, tau=tk.tau_table(W.df, PAPER_TAU), early=early.reset_index(drop=True), curves=curves,
                     task=D.task.description, prune_rate=S.prune_rate, dense_grokked=[bool(g) for g in D.grokked])


R_sweep = sweep(S)
tk.tau_table(grokked_only(R_sweep.sweep, R_sweep.dense_grokked)[0], PAPER_TAU)  # the seeds that grokked


# %%
def draw_sweep(R):
    g, n = grokked_only(R.sweep, R.dense_grokked)[0], f"{sum(R.dense_grokked)}/{len(R.dense_grokked)}"
    return [plots.tau_vs_k(g, tk.tau_table(g, PAPER_TAU), PAPER_TAU,
                           title=f"Fig 3a: tau_grok vs k ({R.task}; tickets of the {n} dense seeds that grokked)"),
            plots.line(R.early, "step", "value", color="k", markers=False, title="Fig 3b: train accuracy (seed 0) by k"),
            plots.accuracy_curves(R.curves, f"Fig 2a: dense vs grokked ticket, {R.task}")]


figs = draw_sweep(R_sweep)
for f_, name in zip(figs, ("fig3a_tau_vs_k", "fig3b_train_acc_early", "fig2a_dense_vs_ticket")):
    export(f_, name)
figs[0]

# %% [markdown]
# **What to look for:** `tau_grok` falls steeply with k and bottoms out around k = 0.6-0.8 (the paper's minimum is
# at 0.7). At k = 0.9 (Fig 4b) too little is left and the ticket fails.
#
# ## Fig 3b: train accuracy in the first steps (higher k delays memorisation slightly)

# %%
figs[1]

# %% [markdown]
# ## Fig 2a: dense model vs grokked ticket
# Train / test accuracy of the dense model and of the ticket with `k = prune_rate` (same seed, same theta_0).
# The claim compares each seed's ticket with its own dense run: `t_gen(ticket) <= t_gen(dense) / 3`, decided
# only where the measured times or the caps prove it, and only for dense runs that generalised.

# %%
figs[2]


# %%
def sweep_claims(R):
    df, nd = R.sweep, "not a grokked ticket: the dense run did not generalise"
    dec, ratios = [], []
    for m, g in df.groupby("m"):
        if not ((g.k - R.prune_rate).abs() < 1e-9).any():  # no ticket: the dense run did not generalise
            dec.append(nd)
            continue
        d, t = g[g.k == 0].iloc[0], g[(g.k - R.prune_rate).abs() < 1e-9].iloc[0]
        ratios.append(t.t_gen / d.t_gen)
        dec.append(censored.ratio_at_most(t.t_gen, t.cap, d.t_gen, d.cap, 1 / 3) if R.dense_grokked[m] else nd)
    decided = [d for d in dec if d != nd]  # over the seeds whose dense run generalised (grokked tickets)
    tick = df[(df.k - R.prune_rate).abs() < 1e-9]
    measured = (f"ticket/dense t_gen {nb.median_spread(ratios)}; ticket t_gen {censored.summary(tick.t_gen, tick.cap.max())}"
                f" ({sum(d is True for d in decided)} held / {len(decided)} seeds whose dense run generalised, of {len(dec)})")
    holds = censored.majority(decided) if decided else nb.NOT_AT_SCALE
    rows = [nb.claim(f"grokked ticket (k={R.prune_rate}) t_gen <= 1/3 of dense t_gen", "ticket t_gen << dense t_gen "
                     "(Fig 2a)", measured if nd not in dec else f"{measured}; {nd}", holds, checked=True)]
    return rows + tau_claims(R)


# %%
def tau_claims(R):
    g, note = grokked_only(R.sweep, R.dense_grokked)
    if not len(g):
        why = f"no dense run generalised (0/{len(R.dense_grokked)}): no grokked tickets"
        return [nb.claim("tau_grok decreases from k=0 to k=0.6 (median over seeds; Spearman rho <= -0.8 and "
                         "tau(0.6) < tau(0))", "245.7 -> 5.1", why, nb.NOT_AT_SCALE, checked=True),
                nb.claim("tau_grok minimum at k ~ 0.6-0.8", "0.7 (tau 3.63)", why, nb.NOT_AT_SCALE)]
    tau = tk.tau_table(g, PAPER_TAU)
    d = tk.tau_decrease(tau)
    bound = lambda k: float(g[g.k.round(3) == round(k, 3)].tau_bound.median())  # noqa: E731
    lower = censored.greater(d["tau_first"], bound(0.0), d["tau_last"], bound(d["k_last"]))  # tau(0.6) < tau(0)?
    holds = bool(d["rho"] <= -0.8) if lower is True else lower  # False, or undecided when the caps cannot tell
    n_cens = int((tau.n - tau.n_generalised).sum())
    rows = [nb.claim("tau_grok decreases from k=0 to k=0.6 (median over seeds; Spearman rho <= -0.8 and "
                     "tau(0.6) < tau(0))", "245.7 -> 5.1",
                     f"{d['tau_first']:.2f} -> {d['tau_last']:.2f}; rho={d['rho']:.2f}; strictly monotone: "
                     f"{d['strictly_decreasing']}; {n_cens} censored runs counted as > cap{note}", holds, checked=True)]
    fin = tau[np.isfinite(tau.tau_median)]
    kmin = float(fin.k[fin.tau_median.idxmin()]) if len(fin) else None
    rows.append(nb.claim("tau_grok minimum at k ~ 0.6-0.8", "0.7 (tau 3.63)",
                         f"k={kmin} (tau {fin.tau_median.min():.2f})" if len(fin) else "no run generalised",
                         bool(0.5 <= kmin <= 0.8) if len(fin) else nb.NOT_AT_SCALE))
    return rows


claims.extend(sweep_claims(R_sweep), R_sweep)
_g = grokked_only(R_sweep.sweep, R_sweep.dense_grokked)[0].pivot_table("t_gen", "seed", "k")
print("ticket t_gen / dense t_gen per seed (dense runs that generalised):",
      (_g[S.prune_rate] / _g[0.0]).round(3).to_dict() if len(_g) else {})
claims.table().tail(3)

# %%
sweep.panel(S, draw=draw_sweep, claims=sweep_claims)


# %% [markdown]
# ## Which weight decay retrains the tickets? Fig 3 vs the authors' config
# The paper's text retrains a ticket "with the same optimisation" as the base model (weight decay 1: the sweep
# above). The authors' checked-in pruning config retrains with weight decay 0. Here the same tickets (same masks,
# same theta_0, same cap) are retrained with `retrain_wd` (default 0, that config). [decided, by measurement] Fig 3
# prints a finite tau_grok at every k = 0.1-0.8, so the variant under which the tickets generalise at more of
# those k is the one Fig 3 used; the other is shown here as a variant. (The paper's own Fig 17a points the same
# way: without weight decay, tickets below k ~ 0.8 do not fully generalise.)


# %%
@nb.section("retrain_wd", knobs=["retrain_wd", "prune_rates", "ticket_steps"], uses=[*MAIN, "retrain_wd"])
def retrain_wd(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    members = W.members  # the sweep's tickets: same masks, same theta_0
    run = retrain(S, D, members, S.ticket_steps, wd=S.retrain_wd)
    both = pd.concat([W.df[W.df.k > 0].assign(retrain_wd=S.weight_decay),
                      ticket_rows(D, members, run, S.ticket_steps, dense=False).assign(retrain_wd=S.retrain_wd)])
    return nb.Result(tickets=both.reset_index(drop=True), wd=S.weight_decay, variant_wd=S.retrain_wd,
                     dense_grokked=[bool(g) for g in D.grokked], task=D.task.description)


def retrain_table(R):
    """tau_grok (median over the grokked seeds; '> bound' when censored) per k and retraining weight decay."""
    g = grokked_only(R.tickets, R.dense_grokked)[0]
    tabs = [tk.tau_table(g[g.retrain_wd == w].drop(columns="retrain_wd"), PAPER_TAU).assign(retrain_wd=w)
            for w in (R.wd, R.variant_wd)]
    return pd.concat(tabs, ignore_index=True)


R_rwd = retrain_wd(S)
retrain_table(R_rwd)


# %%
def draw_retrain_wd(R):
    t = retrain_table(R).assign(col=lambda d: d.retrain_wd.map(lambda w: f"retrained with wd {w:g}"))
    wide = t.pivot_table("t_gen_median", "k", "col", aggfunc="first").reset_index()
    return plots.censored_bars(wide, "k", [c for c in wide.columns if c != "k"], float(R.tickets.cap.max()),
                         title=f"Ticket t_gen (median over the grokked seeds) by retraining weight decay: "
                               f"{R.wd:g} (text) vs {R.variant_wd:g} (authors' config)", y_title="ticket t_gen")


def retrain_wd_claims(R):
    g = grokked_only(R.tickets, R.dense_grokked)[0]
    if not len(g):
        return [nb.claim("Fig 3's tickets were retrained with weight decay (finite tau at more k than without)",
                         "finite tau_grok at k = 0.1-0.8", "no dense run generalised: no grokked tickets",
                         nb.NOT_AT_SCALE)]
    ok = {w: sorted(float(k) for k, gk in g[g.retrain_wd == w].groupby("k") if gk.t_gen.notna().mean() > 0.5)
          for w in (R.wd, R.variant_wd)}
    n_k = g.k.nunique()
    return [nb.claim(f"Fig 3's tickets were retrained with weight decay {R.wd:g}: majority of seeds generalise at more "
                     f"k than when retrained with {R.variant_wd:g}", "finite tau_grok at k = 0.1-0.8 (Fig 3)",
                     f"k generalised (majority of seeds): wd {R.wd:g}: {len(ok[R.wd])}/{n_k} {ok[R.wd]}; "
                     f"wd {R.variant_wd:g}: {len(ok[R.variant_wd])}/{n_k} {ok[R.variant_wd]}",
                     len(ok[R.wd]) > len(ok[R.variant_wd]))]


fig = draw_retrain_wd(R_rwd)
export(fig, "fig3_retrain_weight_decay")
claims.extend(retrain_wd_claims(R_rwd), R_rwd)
fig

# %%
retrain_wd.panel(S, draw=draw_retrain_wd, claims=retrain_wd_claims)


# %% [markdown]
# ## Why do tickets with k >= 0.7 fail here? Four differences, measured
# The paper's tau_grok is smallest at k = 0.7 (3.6) and still 4.3 at k = 0.8. In the sweep above (paper profile,
# float32 loss) no k >= 0.7 ticket generalised within 30k steps, and the k = 0.8 tickets did not even fit the
# training set. Four variants, each from the same seeds, theta_0 and cap as the sweep (k in `late_rates`):
# - **pruning later:** the repo prunes the dense run's final checkpoint by default (`-e final`); we prune at
#   `t_prune` = t_gen + `margin`. Variant: the mask of the dense run's last checkpoint.
# - **neuron revival:** after pruning, the repo calls `relive_neurons()`: a hidden unit whose input weights (or
#   output weights) were all pruned gets them back (`grokkit.prune.revive_dead_units`). Variant: the `t_prune` mask
#   with revival; the table counts the revived units.
# - **per-layer masks:** the repo's config (and ours) prunes globally over the four matrices. After training, the
#   unembedding W_U has the smallest weights, so a global mask empties it first (the second table: the share of
#   each matrix the global mask keeps). Variant: each matrix loses the fraction k.
# - **the loss precision (the cause):** the repo computes its cross-entropy in float64; our sections in float32
#   (`loss_dtype`). Variant: dense runs and tickets with the float64 loss (its own dense runs, so its own t_gen,
#   t_prune and grokked seeds; skipped when `loss_dtype` is already float64).
#
# Measured at paper scale (3 grokked seeds, 30k steps; the shipped bundle): the first two do not rescue k >= 0.7.
# Pruning later makes tickets worse: at k = 0.7, 1/3 generalised (t_gen 24,550), and in a 10k-step check k = 0.6
# tickets of seeds 0 / 3 slowed from t_gen 750 / 2,100 (t_prune) to 2,950 / 4,300 (step 20k) and 6,650 / 7,900
# (step 30k). Revival changes little: the global masks leave only 0-8 of the 48 hidden units dead, and 0/3 revived
# tickets generalise at either k. Per-layer masks do rescue them: at k = 0.7 3/3 seeds generalise (t_gen 550 /
# 21,250 / 1,250 for seeds 0 / 2 / 3; tau 3.4 for seed 0, the paper 3.6), at k = 0.8 2/3 (1,700 / 4,550; seed 2,
# the slow dense seed, does not), while the global masks keep only 9% (k = 0.7) and 4% (k = 0.8) of W_U (medians
# over the seeds). So the failure is the global mask's bottleneck at W_U. **Why the authors' global masks did not hit
# it: their float64 loss.** With it the trained matrices stay balanced (mean |w| of W_E = W_U and of W_in = W_out,
# measured over 5 seeds at 10k / 20k / 30k steps), and the global mask at k = 0.7 keeps 24-28% of W_U (float32:
# 2-11%). Its global-mask tickets generalise at every k >= 0.6: at paper scale (the bundle; dense seeds 0 / 3,
# the two of 5 that grokked within 30k with float64, at t_gen 12,400 / 12,950) t_gen 222 / 450 at k = 0.6,
# 222 / 299 at k = 0.7 and 250 / 400 at k = 0.8 (tau 2.0-4.5; the paper 5.1 / 3.6 / 4.3). This run's numbers are in the
# table; "Fig 3a again, with the repo's float64 loss" below runs the whole sweep with it (10 seeds at paper scale).
# A likely mechanism (not isolated): in float32 the correct-class probability of a confidently fitted row rounds to
# 1, so its gradient is exactly 0 while the wrong classes' stay positive, and Adam rescales such tiny one-sided
# gradients to full steps.
#
# This section has no claim of its own: it says which difference changes the sweep's k >= 0.7 result.

# %%
def layer_shares(D, rates):
    """Per k: the share of each matrix the global mask keeps (median over the grokked seeds, at t_prune)."""
    rows = [dict(k=k, seed=D.seeds[m], **{n: float(v.float().mean())
                                          for n, v in ticket_mask(D.run, m, k, D.t_prune[m]).items()})
            for k in rates for m in grokked_seeds(D)]
    return pd.DataFrame(rows).groupby("k").median(numeric_only=True).drop(columns="seed").reset_index() if rows else \
        pd.DataFrame(columns=["k"])


# %%
def late_float64(S):
    """The fourth variant: the repo's float64 cross-entropy, for the dense runs and the tickets (same seeds, theta_0,
    split and cap; its own dense runs, so its own t_gen, t_prune and grokked seeds). None when S runs float64."""
    if S.loss_dtype == "float64":
        return [], pd.DataFrame()
    S64 = S.override(loss_dtype="float64")
    D64 = dense_ctx(S64)
    members = [dict(m=m, k=k, mask=ticket_mask(D64.run, m, k, D64.t_prune[m])) for m in grokked_seeds(D64)
               for k in S.late_rates]
    rows = [dict(seed=D64.seeds[mb["m"]], k=mb["k"], variant="float64 loss (own dense runs, t_prune)",
                 prune_step=D64.t_prune[mb["m"]], removed=float(prune.sparsity(mb["mask"])[0]), revived_units=0)
            for mb in members]
    if members:
        run = retrain(S64, D64, members, S.ticket_steps)
        summ = run.summary()
        for i, r in enumerate(rows):
            r.update(t_mem=float(run.times.t_mem[i]), t_gen=float(run.times.t_gen[i]),
                     final_test_acc=float(summ.final_test_acc[i]))
    return rows, layer_shares(D64, S.late_rates).assign(loss="float64")


# %%
@nb.section("late_prune", knobs=["late_rates", "ticket_steps"], uses=[*MAIN, "late_rates"])
def late_prune(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    last, rows, fits = max(D.run.checkpoints), [], {"repo": [], "layer": []}
    summ = W.run.summary()
    for m in grokked_seeds(D):
        for k in S.late_rates:
            revived, n_in, n_out = prune.revive_dead_units(ticket_mask(D.run, m, k, D.t_prune[m]))
            sw = W.df[(W.df.m == m) & (W.df.k.round(3) == round(k, 3)) & (W.df.member >= 0)]
            if len(sw):  # the sweep's own ticket (same mask) as the reference row
                i = int(sw.member.iloc[0])
                rows.append(dict(seed=D.seeds[m], k=k, variant="sweep (t_prune)", prune_step=D.t_prune[m],
                                 removed=k, revived_units=0, t_mem=float(sw.t_mem.iloc[0]),
                                 t_gen=float(sw.t_gen.iloc[0]), final_test_acc=float(summ.final_test_acc[i])))
            for fit_, name, t, mask, nrev in (
                    ("repo", "last checkpoint", last, ticket_mask(D.run, m, k, last), 0),
                    ("repo", "neuron revival (t_prune)", D.t_prune[m], revived, int(n_in[0] + n_out[0])),
                    ("layer", "per-layer masks (t_prune)", D.t_prune[m], ticket_mask(D.run, m, k, D.t_prune[m], "layer"), 0)):
                row = dict(seed=D.seeds[m], k=k, variant=name, prune_step=t, removed=float(prune.sparsity(mask)[0]),
                           revived_units=nrev)
                fits[fit_].append((dict(m=m, k=k, mask=mask), row))
                rows.append(row)
    for pairs in fits.values():  # two fits: the per-layer variant was added later (the first fit stays in the run store)
        if pairs:
            run = retrain(S, D, [mb for mb, _ in pairs], S.ticket_steps)
            summ_l = run.summary()
            for i, (_, r) in enumerate(pairs):
                r.update(t_mem=float(run.times.t_mem[i]), t_gen=float(run.times.t_gen[i]),
                         final_test_acc=float(summ_l.final_test_acc[i]))
    rows64, kept64 = late_float64(S)
    cols = ["seed", "k", "variant", "prune_step", "removed", "revived_units", "t_mem", "t_gen", "final_test_acc"]
    df = pd.DataFrame(rows + rows64, columns=cols)
    kept = pd.concat([layer_shares(D, S.late_rates).assign(loss=S.loss_dtype), kept64], ignore_index=True)
    return nb.Result(late=df.sort_values(["k", "variant", "seed"], kind="stable").reset_index(drop=True),
                     cap=S.ticket_steps, last=last, kept=kept)



R_late = late_prune(S)
R_late.late


# %%
def late_table(R):
    """Per k and variant: how many seeds generalised, the median t_gen ('> cap' when censored), final test acc."""
    return (R.late.groupby(["k", "variant"], sort=False)
            .apply(lambda g: pd.Series(dict(generalised=f"{int(g.t_gen.notna().sum())}/{len(g)}",
                                            t_gen_median=censored.show(censored.median(g.t_gen), R.cap),
                                            final_test_acc=acc_range(g.final_test_acc.to_numpy(float)),
                                            removed=f"{g.removed.mean():.3f}", revived_units=int(g.revived_units.sum()))),
                   include_groups=False).reset_index())


def draw_late(R):
    d = R.late.assign(col=lambda x: x.variant)
    if not len(d):
        return plots.line(pd.DataFrame(dict(k=[], t_gen=[])), "k", "t_gen", title="no grokked tickets")
    wide = (d.groupby(["k", "col"]).t_gen.apply(censored.median).unstack("col").reset_index())
    return plots.censored_bars(wide, "k", [c for c in wide.columns if c != "k"], float(R.cap),
                               title=f"k >= 0.7: median ticket t_gen over the grokked seeds, by variant (last "
                                     f"checkpoint: step {R.last})", y_title="ticket t_gen", log_y=True)


fig = draw_late(R_late)
export(fig, "fig3_late_prune")
display(late_table(R_late) if len(R_late.late) else "no dense run generalised: no grokked tickets")
display(R_late.kept.round(3))  # the share of each matrix the global mask keeps, per k
fig

# %%
late_prune.panel(S, draw=draw_late)


# %% [markdown]
# ## Fig 3a again, with per-layer masks
# The third variant above over the whole sweep: the same seeds, theta_0, `t_prune` and cap as Fig 3a, but every
# matrix loses the fraction k (`layer_sweep`). The table puts the median tau_grok per k of the global masks (the
# sweep), of the per-layer masks and the paper's side by side (censored tickets count as > cap / t_mem). No claim:
# this is our diagnosis, not the paper's setting. [decided] ci skips it (`layer_sweep=False`), as it skips the
# float64 sweep below: it has no claim, the per-layer masks are still trained at ci by `late_prune`'s third variant,
# and it took ~20-27 s of every ci run on the CI machine.

# %%
@nb.section("sweep_layer", knobs=["layer_sweep", "prune_rates", "ticket_steps"], uses=[*MAIN, "layer_sweep"])
def sweep_layer(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    rates = [r for r in S.prune_rates if r > 0]
    members = [dict(m=m, k=r, mask=ticket_mask(D.run, m, r, D.t_prune[m], "layer")) for m in ticket_seeds(D)
               for r in rates] if S.layer_sweep else []
    df = ticket_rows(D, members, retrain(S, D, members, S.ticket_steps), S.ticket_steps) if members else W.df.iloc[:0]
    return nb.Result(sweep=df, global_sweep=W.df, dense_grokked=[bool(g) for g in D.grokked],
                     not_run="" if members else "layer_sweep=False")


def tau_side(sweeps):
    """Median tau_grok (and how many generalised) per k for each (name, sweep rows, dense grokked) beside the paper."""
    tabs = {name: tk.tau_table(grokked_only(df, g)[0], PAPER_TAU).set_index("k") for name, df, g in sweeps}
    out = pd.DataFrame({"paper_tau": next(iter(tabs.values())).paper_tau})
    for name, t in tabs.items():
        out[f"tau_{name}"] = t.tau_median
        out[f"generalised_{name}"] = t.n_generalised.astype(str) + "/" + t.n.astype(str)
    return out.reset_index()


def scope_table(R):
    """Global masks (the sweep) vs per-layer masks, beside the paper."""
    return tau_side([("global", R.global_sweep, R.dense_grokked), ("per_layer", R.sweep, R.dense_grokked)])


R_slayer = sweep_layer(S)
scope_table(R_slayer) if len(R_slayer.sweep) else f"not run ({R_slayer.not_run})"


# %%
def draw_variant_sweep(sweep, grokked, not_run, what):
    """Fig 3a for a variant sweep (per-layer masks, float64 loss): tau_grok vs k of its grokked seeds' tickets."""
    g = grokked_only(sweep, grokked)[0] if len(sweep) else sweep
    if not len(g):
        return plots.line(pd.DataFrame(dict(k=[], tau=[])), "k", "tau", title=f"sweep with {what}: not run ({not_run})")
    return plots.tau_vs_k(g, tk.tau_table(g, PAPER_TAU), PAPER_TAU, title=f"Fig 3a with {what}: tau_grok vs k "
                          f"(tickets of the {sum(grokked)}/{len(grokked)} dense seeds that grokked)")


def draw_slayer(R):
    return draw_variant_sweep(R.sweep, R.dense_grokked, R.not_run, "per-layer masks")


fig = draw_slayer(R_slayer)
export(fig, "fig3a_tau_vs_k_per_layer")
fig

# %%
sweep_layer.panel(S, draw=draw_slayer)


# %% [markdown]
# ## Fig 3a again, with the repo's float64 loss
# The fourth variant of the k >= 0.7 diagnosis over the whole sweep: the repo computes its cross-entropy in float64
# (`loss_dtype`; this notebook's sections use float32 unless you pass `-p loss_dtype=float64`). Its own dense runs
# (same seeds, theta_0 and split; their own t_gen, t_prune and grokked seeds), then the global-mask tickets of every
# k, retrained with the float64 loss for the same cap (`f64_sweep`). Its dense runs are `f64_seeds` seeds (paper 10:
# with float64 only 2 of 5 dense seeds grok within 30k steps). The table: median tau_grok per k over the seeds whose
# dense run grokked, float32 (the sweep above), float64 and the paper's; the shares of each matrix the float64 global
# masks keep are in the k >= 0.7 section's second table. No claim: a diagnosis (run the notebook with
# `loss_dtype=float64` for the claims).
# [decided] ci skips it (`f64_sweep=False`): at ci scale the two losses give the same tau within noise (measured:
# 5.4 / 4.4 / 2.6 / 1.8 / 1.4 / 1.4 / 1.2 / 1.1 with float32, 5.4 / 4.4 / 3.7 / 2.0 / 1.4 / 1.3 / 1.3 / 1.2 with
# float64 at k = 0.1 ... 0.8), so it would only add ~30 s to every ci run.
#
# At paper scale (the bundle, 10 seeds, 30k steps; 52 min of 2 CPU cores): 6 of the 10 float64 dense runs grokked
# (seeds 0 / 3 / 5 / 6 / 8 / 9 at t_gen 12,400 / 12,950 / 18,550 / 27,250 / 15,150 / 18,300; t_mem 83-86 for all 10;
# float32: 3 of 5). Median tau_grok over the tickets of those 6 seeds at k = 0 ... 0.8:
#
# | k | 0 | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 | 0.6 | 0.7 | 0.8 |
# |---|---|---|---|---|---|---|---|---|---|
# | float64 (6 seeds) | 200 | 80 | 24 | 12.8 | 7.6 | 5.6 | 3.6 | 2.3 | 2.0 |
# | generalised | 6/6 | 6/6 | 6/6 | 6/6 | 6/6 | 6/6 | 6/6 | 5/6 | 5/6 |
# | float32 (3 seeds) | 131 | 72 | 71 | 23 | 21 | 9.3 | 10.7 | never (0/3) | never (0/3) |
# | the paper | 246 | 106 | 51 | 20 | 11.5 | 5.4 | 5.1 | 3.6 | 4.3 |
#
# With float64 the curve falls monotonically like the paper's, to its minimum at k = 0.8 (the paper's at 0.7, with 0.8
# close). At k = 0.5 it is within 3% of the paper; at the other k our tickets generalise 1.2-2.1x sooner. The one
# seed whose k = 0.7 / 0.8 tickets fail is seed 6, the slowest dense run (t_gen 27,250, pruned at 29,500). Median
# ticket t_gen at k = 0.6: 374.5 steps, against 16,725 for the 6 dense runs. Seeds 0 and 3 give the same dense runs as
# in a 5-seed ensemble (t_gen 12,400 / 12,950): a member does not depend on the ensemble's size.


# %%
@nb.section("sweep_f64", knobs=["f64_sweep", "f64_seeds", "prune_rates", "ticket_steps"],
            uses=[*MAIN, "f64_sweep", "f64_seeds"])
def sweep_f64(S) -> nb.Result:
    """The float64 dense runs (`f64_seeds` of them) and their tickets; the float32 side is the sweep section's."""
    why = "f64_sweep=False" if not S.f64_sweep else "loss_dtype is float64: the sweep above" \
        if S.loss_dtype == "float64" else ""
    if why:
        return nb.Result(sweep=pd.DataFrame(), not_run=why, dense_grokked64=[], dense64=pd.DataFrame())
    S64 = S.override(loss_dtype="float64", n_seeds=S.f64_seeds)
    D64 = dense_ctx(S64)
    return nb.Result(sweep=sweep_ctx(S64).df, not_run="", dense_grokked64=[bool(g) for g in D64.grokked],
                     dense64=D64.run.times.assign(seed=D64.seeds, t_prune=D64.t_prune, grokked=D64.grokked))


def dtype_table(R32, R64):
    """The float32 loss (the sweep section) vs the float64 loss, beside the paper."""
    return tau_side([("float32", R32.sweep, R32.dense_grokked), ("float64", R64.sweep, R64.dense_grokked64)])


R_f64 = sweep_f64(S)
if len(R_f64.sweep):
    display(R_f64.dense64)
    display(dtype_table(R_sweep, R_f64))
else:
    print(f"not run ({R_f64.not_run})")


# %%
def draw_f64(R):
    return draw_variant_sweep(R.sweep, R.dense_grokked64, R.not_run, "the float64 loss")


fig = draw_f64(R_f64)
export(fig, "fig3a_tau_vs_k_float64")
fig

# %%
sweep_f64.panel(S, draw=draw_f64)


# %% [markdown]
# ## Fig 4a / 4b: when to prune, and how much
# 4a: tickets with `k = prune_rate` taken at fractions of the dense `t_gen` (the last one is `t_prune`). Tickets taken
# before the dense model generalised should be slower or fail (paper: tickets before ~25k steps do not fully
# generalise). 4b: k = 0.9 removes too much (see the sweep for 0.1-0.8).

# %%
@nb.section("prune_time", knobs=["prune_times", "prune_rate", "ticket_steps"], uses=MAIN)
def prune_time(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    members = []
    for m in grokked_seeds(D):
        for f in S.prune_times:
            t = D.t_prune[m] if f >= 1 else int(round(f * D.run.times.t_gen[m] / S.ckpt_every) * S.ckpt_every)
            members.append(dict(m=m, frac=f, t=t, mask=ticket_mask(D.run, m, S.prune_rate, t)))
    members.append(dict(m=0, frac=None, t=D.t_prune[0], k=0.9, mask=ticket_mask(D.run, 0, 0.9, D.t_prune[0])))
    run = retrain(S, D, members, S.ticket_steps)
    summ = run.summary()
    df = pd.DataFrame([dict(seed=D.seeds[mb["m"]], prune_step=mb["t"], frac_of_tgen=mb["frac"],
                            k=mb.get("k", S.prune_rate), t_gen=run.times.t_gen[i],
                            final_test_acc=summ.final_test_acc[i]) for i, mb in enumerate(members)])
    curves = pd.concat([acc_curves(run, i, f"t={r.prune_step}" + (f", k={r.k}" if pd.isna(r.frac_of_tgen) else ""))
                        for i, r in df.iterrows() if r.seed == D.seeds[0]], ignore_index=True)
    tm = ticket_member(W.df, S.prune_rate)
    ref = W.run.times.t_gen[tm] if tm is not None else math.nan
    return nb.Result(ptime=df, curves=curves, cap=S.ticket_steps, ticket_t_gen=float(ref),
                     dense_grokked=[bool(g) for g in D.grokked])


R_ptime = prune_time(S)
R_ptime.ptime


# %%
def draw_ptime(R):
    return plots.accuracy_curves(R.curves, "Fig 4a/b: tickets pruned at different times (and k=0.9)")


def ptime_claims(R):
    df, cap = R.ptime, R.cap
    grid = df[df.frac_of_tgen.notna()]
    early, late = grid[grid.frac_of_tgen < 0.5], grid[grid.frac_of_tgen >= 1]
    per_seed = [censored.all_greater(early[early.seed == sd].t_gen.tolist(), cap, late[late.seed == sd].t_gen.tolist(), cap)
                for sd in sorted(set(early.seed) & set(late.seed))]  # each seed's early tickets vs its own t_prune one
    holds = censored.majority(per_seed) if per_seed else nb.NOT_AT_SCALE
    n_held = sum(d is True for d in per_seed)
    k9 = df[df.frac_of_tgen.isna()].iloc[0]
    slow = censored.greater(k9.t_gen, cap, R.ticket_t_gen, cap)
    return [nb.claim("tickets pruned well before dense t_gen generalise later (Fig 4a; per seed, majority)",
                     "no full generalisation before ~25k", f"early t_gen {censored.summary(early.t_gen, cap)}, at t_prune "
                     f"{censored.summary(late.t_gen, cap)}; {n_held} held / {len(per_seed)} seeds (undecided: both censored)"
                     if per_seed else "no dense run generalised", holds),
            nb.claim("k=0.9 ticket fails or is slow (Fig 4b)", "does not generalise",
                     f"t_gen={censored.show(k9.t_gen, cap)} vs k={0.6} ticket {censored.show(R.ticket_t_gen, cap)}, "
                     f"final test acc {k9.final_test_acc:.3f}", slow if R.dense_grokked[0] else nb.NOT_AT_SCALE)]


fig = draw_ptime(R_ptime)
export(fig, "fig4_prune_time")
claims.extend(ptime_claims(R_ptime), R_ptime)
fig

# %%
prune_time.panel(S, draw=draw_ptime, claims=ptime_claims)


# %% [markdown]
# ## Fig 4a at the paper's grid of pruning times
# The paper took a ticket every 2k steps from 2k to 30k; its dense model generalised at ~25k. The fractions above
# place each pruning time relative to the seed's own `t_gen`. Here the steps are absolute, as in the paper: every
# `prune_every` steps up to the dense run's last checkpoint, for each seed whose dense run generalised (k =
# `prune_rate`). Three readings of the paper's text:
# - tickets taken before the dense `t_gen` ("non-grokked tickets") do not fully generalise within the paper's 30k steps;
# - tickets taken at or after it ("grokked tickets") do;
# - a ticket's final test accuracy follows the dense model's test accuracy at its pruning step ("this generalization
#   ability corresponds to the test accuracy of the base model"): the Spearman correlation over the non-grokked
#   tickets of all seeds, which holds at >= 0.5.
#
# A ticket that generalises before 30k steps decides the first reading as False at any scale. A ticket that does not
# generalise decides it only when the retraining cap reaches the paper's 30k steps.
#
# Measured at paper scale (the shipped bundle: 45 tickets of 3 seeds, 30k steps): 4/21 tickets pruned before the
# dense t_gen generalised (the earliest pruned at 6k, dense t_gen 10,650), 21/24 pruned after it did, and the final
# test accuracy follows the dense test accuracy at the pruning step (Spearman 0.62). The boundary is not as sharp as
# the paper's "before 25k / after 25k": how much the dense model has generalised when it is pruned is what counts.

# %%
PAPER_TICKET_CAP = 30000  # Fig 4a's retraining budget (steps = epochs, full batch)


def dense_test_acc(run, m, step):
    """The dense member's test accuracy at the last evaluation at or before `step`."""
    h = run.history
    h = h[(h.member == m) & (h.split == "test") & (h.metric == "acc") & (h.step <= step)]
    return float(h.sort_values("step").value.iloc[-1]) if len(h) else math.nan


@nb.section("prune_grid", knobs=["prune_every", "prune_rate", "ticket_steps"], uses=[*MAIN, "prune_every"])
def prune_grid(S) -> nb.Result:
    D = dense_ctx(S)
    last = max(D.run.checkpoints)
    grid = list(range(S.prune_every, last + 1, S.prune_every)) if S.prune_every else []
    members = [dict(m=m, t=t, mask=ticket_mask(D.run, m, S.prune_rate, t))
               for m in grokked_seeds(D) for t in grid]
    cols = ["seed", "prune_step", "dense_t_gen", "dense_test_acc", "t_gen", "final_test_acc"]
    if not members:
        why = "prune_every=0" if not S.prune_every else "no dense run generalised"
        return nb.Result(grid=pd.DataFrame(columns=cols), curves=pd.DataFrame(columns=["label", "split", "step", "value"]),
                         cap=S.ticket_steps, not_run=why)
    run = retrain(S, D, members, S.ticket_steps)
    summ = run.summary()
    df = pd.DataFrame([dict(seed=D.seeds[mb["m"]], prune_step=mb["t"], dense_t_gen=float(D.run.times.t_gen[mb["m"]]),
                            dense_test_acc=dense_test_acc(D.run, mb["m"], mb["t"]), t_gen=float(run.times.t_gen[i]),
                            final_test_acc=float(summ.final_test_acc[i])) for i, mb in enumerate(members)], columns=cols)
    first = members[0]["m"]
    curves = pd.concat([acc_curves(run, i, f"t={mb['t']}") for i, mb in enumerate(members) if mb["m"] == first],
                       ignore_index=True)
    return nb.Result(grid=df, curves=curves[curves.split == "test"].reset_index(drop=True), cap=S.ticket_steps,
                     not_run="")


R_pgrid = prune_grid(S)
R_pgrid.grid


# %%
def draw_pgrid(R):
    df = R.grid
    if not len(df):
        return [plots.line(pd.DataFrame(dict(prune_step=[], value=[])), "prune_step", "value",
                           title=f"Fig 4a at the paper's grid: not run ({R.not_run})")]
    long = pd.concat([df.assign(value=df.final_test_acc, what=lambda d: "seed " + d.seed.astype(str) + ": ticket, final test acc"),
                      df.assign(value=df.dense_test_acc, what=lambda d: "seed " + d.seed.astype(str) + ": dense, test acc at t")])
    fig = plots.line(long, "prune_step", "value", "what", title=f"Fig 4a, the paper's grid: ticket's final test acc "
                     f"({R.cap} steps) vs dense test acc at the pruning step")
    for i, (sd, tg) in enumerate(df.groupby("seed").dense_t_gen.first().sort_values().items()):  # alternate labels
        fig.add_vline(x=tg, line_dash="dot", annotation_text=f"dense t_gen, seed {sd}",
                      annotation_position=("top right", "bottom right")[i % 2])
    curves = plots.accuracy_curves(R.curves, f"Fig 4a (paper style): test acc of tickets pruned at step t, seed "
                                   f"{df.seed.iloc[0]}", log_x=False)
    return [fig, curves]


for f_, name in zip(draw_pgrid(R_pgrid), ["fig4a_grid", "fig4a_grid_curves"]):
    export(f_, name)
    f_.show()


# %%
def pgrid_claims(R):
    df, cap = R.grid, R.cap
    texts = ["tickets pruned before the dense t_gen do not fully generalise within 30k steps (Fig 4a grid; per seed)",
             "tickets pruned at or after the dense t_gen generalise within the cap (Fig 4a grid; per seed)",
             "a ticket's final test acc follows the dense test acc at its pruning step (Fig 4a; Spearman >= 0.5)"]
    papers = ["non-grokked tickets (before ~25k) do not fully generalise", "grokked tickets get perfect generalisation",
              "generalisation ability corresponds to the base model's test accuracy"]
    if not len(df):
        return [nb.claim(t, p_, f"not run: {R.not_run}", nb.NOT_AT_SCALE) for t, p_ in zip(texts, papers)]
    long_enough = cap >= PAPER_TICKET_CAP
    before, after = df[df.prune_step < df.dense_t_gen], df[df.prune_step >= df.dense_t_gen]

    def no_full_gen(g):  # a ticket that generalised within the paper's 30k disproves it; none does only with cap >= 30k
        if (g.t_gen <= PAPER_TICKET_CAP).any():
            return False
        return True if long_enough else nb.NOT_AT_SCALE

    def all_gen(g):
        return True if g.t_gen.notna().all() else (False if long_enough else nb.NOT_AT_SCALE)

    def per_seed(part, decide):
        dec = [decide(g) for _, g in part.groupby("seed")]
        n_gen = [f"seed {sd}: {int(g.t_gen.notna().sum())}/{len(g)}" for sd, g in part.groupby("seed")]
        held = f"{sum(d is True for d in dec)} held / {len(dec)} seeds"
        return (censored.majority(dec) if dec else nb.NOT_AT_SCALE), f"generalised {', '.join(n_gen) or 'none'}; {held}"

    h1, m1 = per_seed(before, no_full_gen)
    gen_before = before[before.t_gen.notna()]
    m1 += (f"; earliest such pruning step {int(gen_before.prune_step.min())} (dense t_gen "
           f"{gen_before.dense_t_gen.iloc[0]:.0f}), final test acc of the others {acc_range(before[before.t_gen.isna()].final_test_acc)}"
           if len(gen_before) else "") + f" (cap {cap})"
    h2, m2 = per_seed(after, all_gen)
    x, y = before.dense_test_acc.to_numpy(float), before.final_test_acc.to_numpy(float)
    rho = float(pd.Series(x).corr(pd.Series(y), method="spearman")) if len(before) >= 5 else math.nan
    h3 = (bool(rho >= 0.5) if long_enough else nb.NOT_AT_SCALE) if math.isfinite(rho) else nb.NOT_AT_SCALE
    m3 = f"Spearman {rho:.2f} over {len(before)} non-grokked tickets (cap {cap})"
    return [nb.claim(texts[0], papers[0], m1, h1), nb.claim(texts[1], papers[1], m2, h2),
            nb.claim(texts[2], papers[2], m3, h3)]


claims.extend(pgrid_claims(R_pgrid), R_pgrid)

# %%
prune_grid.panel(S, draw=draw_pgrid, claims=pgrid_claims)

# %% [markdown]
# ## Fig 5a/6 and 5b: controls that do NOT accelerate grokking
# *Norm-matched dense*: the dense model started at `r_p theta_0`, `r_p = ||theta_0 * m||_p / ||theta_0||_p` (p = 1, 2),
# i.e. with the ticket's initial weight norm but no sparsity. *Pruning at initialisation* (same k): random,
# SNIP `|g theta|`, GraSP `-(Hg) theta` (temperature 200), SynFlow (1 iteration, |theta|, real data). The grokked
# ticket is trained in the same ensemble for reference.


# %%
@nb.section("controls", knobs=["prune_rate", "ticket_steps"], uses=MAIN)
def controls(S) -> nb.Result:
    D, members, ratios = dense_ctx(S), [], []
    probe = build(D.cfg, n_members=len(D.seeds), seeds=D.seeds)
    for m in ticket_seeds(D):
        mk = ticket_mask(D.run, m, S.prune_rate, D.t_prune[m])
        for pn in (1, 2):
            r = float(prune.norm_ratio(D.run.member_state(m, 0), mk, pn))
            ratios.append(dict(seed=D.seeds[m], p=pn, r=r))
            members.append(dict(m=m, kind=f"dense, L{pn}-norm matched (r={r:.3f})", scale=r))
        members.append(dict(m=m, kind="grokked ticket", mask=mk))
    for method in prune.PAI_METHODS:
        ms = prune.at_init(method, probe, D.data, S.prune_rate, seed=S.seed)
        members += [dict(m=m, kind=f"PaI {method}", mask={n: v[m : m + 1] for n, v in ms.items()})
                    for m in ticket_seeds(D)]
    run = retrain(S, D, members, S.ticket_steps)
    summ = run.summary()
    df = pd.DataFrame([dict(seed=D.seeds[mb["m"]], kind=mb["kind"], t_mem=run.times.t_mem[i], t_gen=run.times.t_gen[i],
                            final_test_acc=summ.final_test_acc[i]) for i, mb in enumerate(members)])
    curves = pd.concat([acc_curves(run, i, r.kind) for i, r in df.iterrows() if r.seed == D.seeds[0]],
                       ignore_index=True)
    return nb.Result(controls=df, norm_ratio=pd.DataFrame(ratios), curves=curves, cap=S.ticket_steps,
                     prune_rate=S.prune_rate, dense_grokked=[bool(g) for g in D.grokked])


R_ctrl = controls(S)
R_ctrl.controls


# %%
def draw_controls(R):
    return plots.accuracy_curves(R.curves, "Fig 5: norm-matched dense and pruning at init vs the grokked ticket "
                                           f"(k={R.prune_rate})")


def control_claims(R):
    (df, why), cap, nr = grokked_only(R.controls, R.dense_grokked), R.cap, R.norm_ratio
    tk_ = df[df.kind == "grokked ticket"].t_gen.tolist()
    nm = df[df.kind.str.startswith("dense")].t_gen.tolist()
    pai = df[df.kind.str.startswith("PaI")]
    ok = len(df) > 0
    why = why if ok else "; not a grokked ticket: no dense run generalised"
    return [nb.claim("norm-matched dense does not match the grokked ticket (t_gen > 2x ticket's)",
                     "does not grok faster; r2~0.649, r1~0.415 (repo)",
                     f"r2={nr[nr.p == 2].r.mean():.3f}, r1={nr[nr.p == 1].r.mean():.3f}; t_gen "
                     f"{censored.summary(nm, cap)} vs ticket {censored.summary(tk_, cap)}{why}",
                     censored.all_greater(nm, cap, tk_, cap, 2) if ok else nb.NOT_AT_SCALE),
            nb.claim("PaI tickets (random, SNIP, GraSP, SynFlow) do not match the grokked ticket (t_gen > 2x ticket's)",
                     "all worse than the grokked ticket", "; ".join(f"{k_}: {censored.summary(g.t_gen, cap)}"
                                                                    for k_, g in pai.groupby("kind")) + why,
                     censored.all_greater(pai.t_gen.tolist(), cap, tk_, cap, 2) if ok else nb.NOT_AT_SCALE)]


fig = draw_controls(R_ctrl)
export(fig, "fig5_controls")
claims.extend(control_claims(R_ctrl), R_ctrl)
fig

# %%
controls.panel(S, draw=draw_controls, claims=control_claims)

# %% [markdown]
# ## Fig 6: weight norms over training, dense vs grokked ticket
# L1 and L2 norms of all four weight matrices (seed 0) at every checkpoint of the dense run and of the ticket with
# `k = prune_rate` (its pruned weights are zeros). The paper: the ticket starts with a smaller norm, but the
# norm-matched dense model above shows that a small norm alone does not remove the delay.


# %%
@nb.section("norms", knobs=["prune_rate"], uses=MAIN)
def norms(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    rows = [dict(model=label, step=s, **tk.weight_norms(run.member_state(mem, s)))
            for label, run, mem in (("dense", D.run, 0), (f"ticket k={S.prune_rate}", W.run,
                                                           ticket_member(W.df, S.prune_rate)))
            for s in sorted(run.checkpoints)]
    return nb.Result(norms=pd.DataFrame(rows), t_gen_dense=float(D.run.times.t_gen[0]))


R_norms = norms(S)


def draw_norms(R):
    return plots.metric_grid(R.norms, "step", ["l1", "l2"], "model", "Fig 6: L1 and L2 weight norms (seed 0)")


fig = draw_norms(R_norms)
export(fig, "fig6_weight_norms")
fig

# %%
norms.panel(S, draw=draw_norms)

# %% [markdown]
# **What to look for:** the grokked ticket's test accuracy rises right after memorisation; the norm-matched dense
# models grok about as late as the dense model, and the PaI masks are slower or never generalise.
#
# ## Fig 7: the mask moves when the test accuracy jumps
# Magnitude masks (`k = prune_rate`) of the dense run at its checkpoints; Jaccard distance between the masks at
# `t` and `t + jd_gap` (spec 01: 2000 steps; `ci` 200, its run is short) against the test-accuracy change over the
# same interval. Peak and jump are compared after `t_mem` (during memorisation both move for trivial reasons).


# %%
@nb.section("jaccard", knobs=["prune_rate", "jd_gap"], uses=MAIN)
def jaccard(S) -> nb.Result:
    D = dense_ctx(S)
    gap = max(1, round(S.jd_gap / S.ckpt_every))  # in checkpoints
    steps_ = sorted(s for s in D.run.checkpoints if s % S.ckpt_every == 0)
    h = D.run.history
    acc = h[(h.member == 0) & (h.split == "test") & (h.metric == "acc")].set_index("step").value
    rows = []
    for a, b in zip(steps_[:-gap], steps_[gap:]):
        jd = structure.jaccard_distance(ticket_mask(D.run, 0, S.prune_rate, a), ticket_mask(D.run, 0, S.prune_rate, b))
        rows.append(dict(step=a, jd=float(jd["all"]), **{f"jd_{n}": float(v) for n, v in jd.items() if n != "all"},
                         d_test_acc=float(acc.get(b, np.nan) - acc.get(a, np.nan))))
    if not rows:
        raise ValueError(f"jd_gap={S.jd_gap} is longer than the dense run ({max(D.run.checkpoints)} steps): lower jd_gap")
    df = pd.DataFrame(rows)
    t_mem = float(D.run.times.t_mem[0])
    jd_peak, acc_jump = tk.peak_alignment(df, t_mem)  # the paper's axis starts after memorisation
    jd_peak_all, acc_jump_all = tk.peak_alignment(df)
    return nb.Result(jd=df, jd_peak=jd_peak, acc_jump=acc_jump, jd_peak_all=jd_peak_all, acc_jump_all=acc_jump_all,
                     t_mem=t_mem, gap_steps=gap * S.ckpt_every, ckpt_every=S.ckpt_every)


R_jd = jaccard(S)
print(f"after t_mem={R_jd.t_mem:.0f}: JD peak at step {R_jd.jd_peak}, largest test-acc jump at step {R_jd.acc_jump} "
      f"(checkpoints every {R_jd.ckpt_every})")


# %%
def draw_jaccard(R):
    return plots.jaccard_vs_acc(R.jd, f"Fig 7: Jaccard distance JD(t + {R.gap_steps}, t) vs test-accuracy change "
                                      "(seed 0)")


def jaccard_claims(R):
    return [nb.claim("JD peak within one checkpoint of the largest test-acc jump (Fig 7)", "coincide",
                     f"after t_mem={R.t_mem:.0f}: JD peak {R.jd_peak}, acc jump {R.acc_jump}, checkpoint "
                     f"{R.ckpt_every} (whole run: JD peak {R.jd_peak_all}, acc jump {R.acc_jump_all})",
                     bool(abs(R.jd_peak - R.acc_jump) <= R.ckpt_every))]


fig = draw_jaccard(R_jd)
export(fig, "fig7_jaccard")
claims.extend(jaccard_claims(R_jd), R_jd)
fig

# %%
jaccard.panel(S, draw=draw_jaccard, claims=jaccard_claims)

# %% [markdown]
# ## Fig 8: periodic weights and Fourier entropy
# Rows of `W_in_proj = (W_E W_in)^T` (one row of p input weights per hidden neuron). Fourier entropy (FE) of the
# normalised |DFT| of each row, averaged over neurons: low FE = few frequencies = periodic. We report the true Shannon
# entropy and the authors' code's value (`logsumexp(q) - sum q^2`, range 2.52-3.47 at p = 67: the paper's axis).


# %%
@nb.section("fourier", knobs=["prune_rate"], uses=MAIN)
def fourier_entropy(S) -> nb.Result:
    D, W = dense_ctx(S), sweep_ctx(S)
    tm, rows = ticket_member(W.df, S.prune_rate), []
    for label, run, mem in (("dense", D.run, 0), ("ticket", W.run, tm)):
        for s in sorted(run.checkpoints):
            st = run.member_state(mem, s)
            rows.append(dict(model=label, step=s, fe_shannon=float(fourier.embed_mlp_entropy(st, "shannon", p=S.p)),
                             fe_repo=float(fourier.embed_mlp_entropy(st, "repo", p=S.p))))
    t_early = int(0.25 * D.t_prune[0])
    s_t = min(W.run.checkpoints, key=lambda s: abs(s - t_early))
    neurons = lambda st: fourier.embed_mlp_rows(st, p=S.p)[0][:3].numpy()  # noqa: E731
    return nb.Result(fe=pd.DataFrame(rows), t_early=t_early, rows_theta0=neurons(D.run.member_state(0, 0)),
                     rows_ticket_early=neurons(W.run.member_state(tm, s_t)),
                     rows_dense_prune=neurons(D.run.member_state(0, D.t_prune[0])))


R_fe = fourier_entropy(S)


# %%
def draw_fourier(R):
    return [plots.metric_grid(R.fe, "step", ["fe_shannon", "fe_repo"], "model",
                              "Fig 8: Fourier entropy of W_in_proj rows (Shannon, nats; repo-compatible)", height=380),
            plots.weight_rows({"dense theta_0": R.rows_theta0, "ticket early": R.rows_ticket_early,
                               "dense at t_prune": R.rows_dense_prune}, title="Fig 8 (bottom): input weights of three "
                                                                              "neurons")]


def fourier_claims(R):
    fe_d = R.fe[R.fe.model == "dense"].set_index("step").fe_shannon
    fe_t = R.fe[R.fe.model == "ticket"].set_index("step").fe_shannon
    s_e = min(fe_t.index, key=lambda s: abs(s - R.t_early))
    s_d = min(fe_d.index, key=lambda s: abs(s - s_e))
    return [nb.claim("ticket's Fourier entropy drops early (below dense at ~t_prune/4)",
                     "FE(ticket) drops by 2k, dense later", f"step {s_e}: ticket {fe_t[s_e]:.3f} vs dense "
                     f"{fe_d[s_d]:.3f} (Shannon; theta_0 {fe_d.iloc[0]:.3f})", bool(fe_t[s_e] < fe_d[s_d]))]


figs_fe = draw_fourier(R_fe)
export(figs_fe[0], "fig8_fourier_entropy")
export(figs_fe[1], "fig8_neuron_rows")
claims.extend(fourier_claims(R_fe), R_fe)
figs_fe[0]

# %%
figs_fe[1]

# %%
fourier_entropy.panel(S, draw=draw_fourier, claims=fourier_claims)

# %% [markdown]
# ## Fig 9: graph structure of the masks
# Each masked matrix is a bipartite graph (inputs x outputs). Spectral gap, weighted spectral gap (|theta| on the kept
# edges), Ramanujan gap, average path length and Latapy bipartite clustering (the paper's triangle clustering is
# identically 0 on a bipartite graph) of the magnitude masks of the dense run along training, for all four layers
# (`W_E`, `W_in`, `W_out`, `W_U`; `graph_layers`, ci: the two hidden ones). The paper's Table 1 (edge-popup masks, `W_in`/`W_out`) is in the next section.

# %%
GRAPH_METRICS = ["weighted_spectral_gap", "spectral_gap", "ramanujan_gap", "avg_path_length", "clustering"]


@nb.section("graph", knobs=["prune_rate", "graph_layers"], uses=MAIN)
def graph(S) -> nb.Result:
    D, rows = dense_ctx(S), []
    for s in sorted(D.run.checkpoints)[::max(1, len(D.run.checkpoints) // 12)]:
        st = D.run.member_state(0, s)
        mk = prune.magnitude(st, S.prune_rate, "global")
        tab = structure.graph_metrics_table({n: mk[n] for n in S.graph_layers}, st, path_length=True)
        rows += [dict(step=s, **r) for r in tab.to_dict("records")]
    return nb.Result(graph=pd.DataFrame(rows))


R_graph = graph(S)


def draw_graph(R):
    return plots.metric_grid(R.graph, "step", GRAPH_METRICS, "layer",
                             "Fig 9: mask-graph measures of the dense run's magnitude masks")


fig = draw_graph(R_graph)
export(fig, "fig9_graph_metrics")
fig

# %%
graph.panel(S, draw=draw_graph)

# %% [markdown]
# ## Table 1 / Fig 9: edge-popup from a memorising checkpoint
# Does *finding structure* alone make a memorising network generalise? Like for like with the paper's Table 1
# (the authors' repo): `theta_mem` is a dense run of its own, weight decay 1, `ep_train_frac` = 50% of the pairs, at
# step `ep_start` = 1000 (train acc 1, test acc low), one per seed (`ep_seeds`), trained at `ep_mem_lr`. From each
# `theta_mem`, learn only WHICH 40% of each layer's weights to keep (edge-popup: one score per weight, per-layer
# top-k of |score|, straight-through gradient, lr `ep_lr` = 1e-2). Variants, each from `theta_mem` with a fresh AdamW
# at `ep_lr`: **WD** = the dense model trained on, **EP w/o WD** (weights frozen), **EP w/ WD** (scores and weights,
# weight decay 1), and ours, **EP + weights, no WD**. The table gives each variant's test accuracy (mean ± std over
# seeds) at the paper's four columns (600 / 1000 / 1400 / 2000 steps after `theta_mem`) beside the paper's.
#
# **Why `ep_mem_lr` = 1e-3 (the base optimiser) and not 1e-2.** Table 1 only makes sense from a memorising
# checkpoint (its WD column is at 0.53 600 steps later). Trained at lr 1e-2, our dense model has already generalised
# by step 1000, so the premise failed (the first claim below; earlier bundles). Measured at the paper's settings
# (p = 67, 50% of the a <= b pairs, weight decay 1, seeds 0-2), the dense run's test accuracy at step 1000:
# AdamW lr 1e-2: 1.00 / 0.88 / 1.00 (t_gen 700 / 1150 / 700); AdamW lr 1e-3: 0.006 / 0.014 / 0.027 with train acc 1
# (t_gen 5950 / > 6000 / > 6000); the SGD of `train_slth.py`'s argument defaults (momentum 0.9, lr 1e-2, coupled L2 1)
# does not even fit the training set (train acc 0.01-0.02 at step 6000: the L2 term wins). The repo's scripts train
# weights with `-o adam -l 0.001 --weight_learning` and run edge-popup with `-o adam -l 0.01`. [decided] So
# `theta_mem` comes from the base optimiser (lr 1e-3) and the three variants run at 1e-2; the table below the settings
# shows `theta_mem` at both learning rates in this run. At paper scale (10 seeds, shipped bundle) the premise holds
# in 10/10 seeds (test 0.004-0.035 at step 1000; 0.91-1.00 at lr 1e-2). The means at the four columns:
#
# | variant | 600 | 1000 | 1400 | 2000 | the paper |
# |---|---|---|---|---|---|
# | WD (dense continues) | 0.88 | 0.99 | 0.99 | 1.00 | 0.53 / 0.95 / 1.00 / 1.00 |
# | EP w/o WD (weights frozen) | 0.63 | 0.70 | 0.74 | 0.77 | 0.68 / 0.80 / 0.84 / 0.92 |
# | EP w/ WD | 0.73 | 0.87 | 0.93 | 0.96 | 0.82 / 0.96 / 0.99 / 1.00 |
#
# 11 of the 12 cells are within 0.15 (EP w/o WD at 2000: 0.77 vs 0.92, just inside). The one outside is WD at 600
# (0.88 vs 0.53; with the earlier bundle's 3 seeds it was 0.86).
#
# **Why WD at 600 is 0.88, not 0.53 (ablation rows of the table).** Trained on at lr 1e-2, the dense model
# generalises 350-950 steps after `theta_mem` (measured over the 10 seeds), so the 600 column falls in the middle of
# its jump: per seed 0.50-1.00 (median 0.99; 3/10 seeds below 0.8: 0.50 / 0.58 / 0.79). The paper's 0.53 is what our
# slowest seeds show; its later columns (0.95 / 1.00 / 1.00) match ours. We tried other optimisers for the WD run,
# from the same `theta_mem` (rows "ablation: WD ..."): the SGD of the authors' script defaults (momentum 0.9, coupled
# L2 1) and Adam with a coupled L2 1 never generalise (test 0.01-0.02 in every column), and AdamW at `theta_mem`'s
# lr 1e-3 is too slow (0.03 / 0.05 / 0.08 / 0.15). AdamW betas (0.9, 0.999) instead of (0.9, 0.98)
# gives 0.88 / 0.98 / 1.00 / 1.00 (3 seeds, a script outside the notebook), and the float64 loss 0.86 at 600 (3
# seeds). So none of these readings gives 0.53; we read the gap as the timing of a fast jump, which the paper's
# seeds put later than ours (their seed count is not stated), and leave the cell False.
#
# **Why frozen-weight edge-popup was stuck at 0.26 (found; our earlier bundles).** Two differences from the repo:
# 1. *The score gradient.* Edge-popup ranks |s| and passes the gradient straight through the top-k to |s|, so
#    dL/ds carries sign(s) (the repo's `GetSubnet.apply(self.scores.abs(), k)`). Ours skipped sign(s): for the half
#    of the scores that start negative, |s| grew when keeping the weight RAISED the loss. Fixed in
#    `grokkit.models.edgepopup` (`EdgePopupConfig.grad = "abs"`; the old rule stays as `"identity"`, unit-tested).
# 2. *Decay on the scores.* The repo's frozen-weight command passes `-w 1`: AdamW decays the scores (the only
#    trainable tensors). Decoupled decay shrinks every score of a layer by the same factor, which keeps the ranking
#    but lets the Adam steps move the mask much faster. `ep_score_wd` = 1 (like for like); 0 is an ablation row.
#
# At paper scale (the bundle, seeds 0 / 1 / 2, test acc 2000 steps after `theta_mem`): the old rule without decay
# 0.20 / 0.08 / 0.51 (mean 0.26); sign(s) without decay 0.58 / 0.22 / 0.82 (0.54); sign(s) with decay 0.93 / 0.62 /
# 0.92 (0.82; the paper 0.92); over the bundle's 10 seeds the means are 0.23 / 0.51 / 0.77. The two ablations are rows
# of the table below (not drawn in the figure). Also not the cause (measured before the fix): the repo's wider
# embedding init (kaiming normal, sqrt(2) x ours) of `theta_mem`: 0.18 / 0.13 / 0.50.
#
# *Read the repo's EP w/ WD with care:* with `--weight_learning` its `SupermaskLinear.forward` uses `w = self.weight`
# and ignores the mask, so that command trains the dense model from `theta_mem` at lr 1e-2, as our WD column does.
# Our EP w/ WD keeps the mask (the paper's description). [decided] ci: at p = 97 with 50% of
# the pairs and lr 1e-2 there is no memorising checkpoint (test accuracy follows train: 0.84 at step 50, measured),
# so ci keeps `ep_mem_lr` = `ep_lr` = 1e-2 and uses 30% (theta_mem at step 80: train 1.00, test 0.33).

# %%
PAPER_TABLE1 = {"WD (dense continues)": [0.53, 0.95, 1.00, 1.00], "EP w/o WD (weights frozen)": [0.68, 0.80, 0.84, 0.92],
                "EP w/ WD": [0.82, 0.96, 0.99, 1.00]}
ABL_NO_DECAY = "ablation: EP frozen, no decay on the scores"
ABL_NO_SIGN = "ablation: EP frozen, no decay, gradient without sign(s) (our earlier bundles)"
TABLE1_TOL = 0.15  # [decided] a cell "matches" the paper within this test-accuracy distance
EP_MIN_GAIN = 0.1  # [decided] a claimed improvement must exceed this (test accuracy), not 0.01 vs 0.00


# The WD column under other optimisers (ablation rows: which reading gives the paper's 0.53 at 600 steps?), each
# from theta_mem for ep_steps with weight decay `weight_decay`: kwargs of TrainConfig, or None to skip.
WD_ABLATIONS = {
    "ablation: WD with Adam, coupled L2": lambda S: dict(optimizer="adam"),
    "ablation: WD with SGD, momentum 0.9, coupled L2": lambda S: dict(optimizer="sgd", momentum=0.9),
    "ablation: WD at theta_mem's lr (ep_mem_lr)": lambda S: dict(lr=S.ep_mem_lr) if S.ep_mem_lr != S.ep_lr else None,
}


def ep_mem_ctx(S):
    """theta_mem's dense runs (one member per seed, lr ep_mem_lr, ep_start steps) and the WD column: the dense model
    trained on from theta_mem at ep_lr for ep_steps (a fresh optimiser, like the two edge-popup variants)."""
    def make():
        _, data, cfg = main_task(S, S.ep_train_frac)
        seeds = [S.seed + i for i in range(S.ep_seeds)]
        tc = TrainConfig(steps=S.ep_start, lr=S.ep_mem_lr, weight_decay=S.weight_decay, eval_every=S.eval_every,
                         loss_dtype=S.loss_dtype, checkpoint_steps=(S.ep_start,), device=S.device)
        run = fit(build(cfg, n_members=len(seeds), seeds=seeds), data, tc, progress=False, desc="theta_mem")

        def from_mem(desc, **kw):  # the dense model trained on from theta_mem at ep_lr for ep_steps (fresh optimiser)
            return fit(from_state(cfg, run.checkpoints[S.ep_start]), data, dataclasses.replace(
                tc, **{**dict(steps=S.ep_steps, lr=S.ep_lr, checkpoint_steps=()), **kw}), progress=False, desc=desc)
        wd_run = from_mem("WD")
        alt = None if S.ep_mem_lr == S.ep_lr else fit(  # the premise at the variants' lr: theta_mem's run at ep_lr
            build(cfg, n_members=len(seeds), seeds=seeds), data, dataclasses.replace(tc, lr=S.ep_lr, checkpoint_steps=()),
            progress=False, desc="theta_mem at ep_lr")
        abl = {name: kw(S) for name, kw in WD_ABLATIONS.items()}
        wd_abl = {name: from_mem("WD ablation", **kw) for name, kw in abl.items() if kw is not None}
        return SimpleNamespace(data=data, cfg=cfg, run=run, wd_run=wd_run, alt=alt, wd_abl=wd_abl, seeds=seeds)
    return memo("ep_mem", S, EP_USES, make)


# %%
def edge_popup_runs(S, M, keep=0.4):
    """Edge-popup from each seed's theta_mem. Frozen weights: scores with weight decay ep_score_wd (member i = seed
    i) and without (member n + i); the ablation without sign(s) in the score gradient, no decay (r_old, member i).
    Scores and weights: with weight decay (member i) and without (member n + i)."""
    n, theta = len(M.seeds), M.run.checkpoints[S.ep_start]
    cfg = EdgePopupConfig(M.cfg, keep=keep)
    ck = tuple(sorted(set(range(0, S.ep_steps + 1, max(S.ckpt_every, S.ep_steps // 10))) | set(ep_report(S))))
    twice = {k: torch.cat([v, v]) for k, v in theta.items()}

    def frozen(cfg_, state, seeds, wd, ckpts=(), desc="EP frozen"):
        ep = EdgePopup.from_state(cfg_, state, seeds=seeds)
        return fit(ep, M.data, TrainConfig(steps=S.ep_steps, lr=S.ep_lr, weight_decay=wd, eval_every=S.eval_every,
                                           loss_dtype=S.loss_dtype, checkpoint_steps=ckpts, device=S.device),
                   trainable=ep.score_names(), progress=False, desc=desc)
    r_frozen = frozen(cfg, twice, M.seeds + M.seeds, (S.ep_score_wd,) * n + (0.0,) * n, ck)
    r_old = frozen(dataclasses.replace(cfg, grad="identity"), {k: v.clone() for k, v in theta.items()}, M.seeds, 0.0,
                   desc="EP frozen, no sign(s)")
    both = EdgePopup.from_state(cfg, twice, seeds=M.seeds + M.seeds)
    r_both = fit(both, M.data, TrainConfig(steps=S.ep_steps, lr=S.ep_lr, weight_decay=(S.weight_decay,) * n + (0.0,) * n,
                                           eval_every=S.eval_every, loss_dtype=S.loss_dtype, device=S.device),
                 progress=False, desc="EP+w")
    return r_frozen, r_old, r_both, cfg


# %%
def ep_report(S):  # the paper's Table 1 columns (600 / 1000 / 1400 / 2000 of 2000 steps), scaled to ep_steps
    return [int(round(f * S.ep_steps)) for f in (0.3, 0.5, 0.7, 1.0)]


def ep_graph(r_frozen, cfg, seeds):
    """Graph measures of the frozen-weight edge-popup masks (W_in, W_out) per checkpoint and seed, averaged over
    the two layers (the paper's 'average values ... on the network's weight matrix')."""
    rows = []
    for s_ in sorted(r_frozen.checkpoints):
        mk = masks_from_state(cfg, r_frozen.checkpoints[s_])
        w = {n_: r_frozen.checkpoints[s_]["base." + n_] for n_ in mk}
        for i, sd in enumerate(seeds):
            tab = structure.graph_metrics_table({n_: mk[n_] for n_ in ("W_in", "W_out")}, w, member=i)
            rows.append(dict(step=s_, seed=sd, **tab.drop(columns="layer").mean().to_dict()))
    return pd.DataFrame(rows)


def test_acc(run, m, label, shift=0, upto=None):
    c = acc_curves(run, m, label)
    c = c[(c.split == "test") & (c.step >= shift) & (c.step <= (upto if upto is not None else c.step.max()))]
    return c.assign(step=c.step - shift)


# %%
@nb.section("edge_popup", knobs=["ep_start", "ep_steps", "ep_lr", "ep_mem_lr", "ep_train_frac", "ep_seeds",
                                  "ep_score_wd"],
            uses=EP_USES)
def edge_popup(S) -> nb.Result:
    M = ep_mem_ctx(S)
    r_frozen, r_old, r_both, cfg = edge_popup_runs(S, M)
    n, curves = len(M.seeds), []
    for i, sd in enumerate(M.seeds):
        curves += [c.assign(seed=sd) for c in (
            test_acc(M.wd_run, i, "WD (dense continues)"), test_acc(r_frozen, i, "EP w/o WD (weights frozen)"),
            test_acc(r_both, i, "EP w/ WD"), test_acc(r_both, n + i, "EP + weights, no WD"),
            test_acc(r_frozen, n + i, ABL_NO_DECAY), test_acc(r_old, i, ABL_NO_SIGN),
            *(test_acc(r, i, name) for name, r in M.wd_abl.items()))]
    curves = pd.concat(curves, ignore_index=True)
    report = ep_report(S)
    cells = pd.DataFrame([dict(variant=v, seed=sd, **{str(t): a for t, a in zip(report, tk.at_steps(g, report))})
                          for (v, sd), g in curves.groupby(["label", "seed"], sort=False)])
    premise = pd.concat([at_start(run, S.ep_start, M.seeds, lr) for run, lr in ((M.run, S.ep_mem_lr), (M.alt, S.ep_lr))
                         if run is not None], ignore_index=True)
    return nb.Result(curves=curves[curves.seed == M.seeds[0]].drop(columns="seed"), cells=cells, report=report,
                     theta_mem=premise[premise.lr == S.ep_mem_lr].drop(columns="lr").reset_index(drop=True),
                     premise=premise, graph=ep_graph(r_frozen, cfg, M.seeds), ep_start=S.ep_start)


def at_start(run, step, seeds, lr):
    """Train / test accuracy of each seed's dense run at `step` (theta_mem), with the run's lr."""
    h = run.history
    a = h[(h.metric == "acc") & (h.step == step)].pivot_table(index="member", columns="split", values="value")
    return pd.DataFrame(dict(lr=lr, seed=seeds, train_acc=a["train"].values, test_acc=a["test"].values))


def table1(R):
    """Mean ± std over seeds per variant and column, the paper's value beside it."""
    cols, rows = [str(t) for t in R.report], []
    for v, g in R.cells.groupby("variant", sort=False):
        row = dict(variant=v, seeds=len(g))
        for c, pv in zip(cols, PAPER_TABLE1.get(v, [math.nan] * 4)):
            row[c] = f"{g[c].mean():.2f} ± {g[c].std(ddof=0):.2f}" + (f" (paper {pv:.2f})" if pv == pv else "")
        rows.append(row)
    return pd.DataFrame(rows)


# %%
PAPER_GRAPH = {"weighted_spectral_gap": [0.612, 0.810, 0.479, 0.358], "spectral_gap": [48.91, 48.51, 47.42, 47.20],
               "ramanujan_gap": [-2.550, -4.022, -4.335, -4.555], "avg_path_length": [1.964, 1.961, 1.960, 1.959],
               "clustering": [0.733, 0.724, 0.719, 0.719]}


def graph_table(R):
    """Table 1's graph rows: the frozen-weight EP masks' measures (mean over W_in / W_out, then mean ± std over
    seeds) at the four columns, the paper's beside. Our clustering is Latapy's bipartite one (see Fig 9)."""
    g = R.graph[R.graph.step.isin(R.report)]
    rows = []
    for m, paper in PAPER_GRAPH.items():
        row = dict(measure=m)
        for st_, pv in zip(R.report, paper):
            v = g[g.step == st_][m]
            row[str(st_)] = f"{v.mean():.3f} ± {v.std(ddof=0):.3f} (paper {pv})"
        rows.append(row)
    return pd.DataFrame(rows)


R_ep = edge_popup(S)
display(R_ep.premise.rename(columns=dict(lr="theta_mem run's lr")))
display(graph_table(R_ep))
table1(R_ep)


# %%
def draw_edge_popup(R):
    return plots.accuracy_curves(R.curves[~R.curves.label.str.startswith("ablation")],
                                 f"Table 1: test accuracy from theta_mem (step {R.ep_start}, first seed)", log_x=False)


def edge_popup_claims(R):
    cells, cols = R.cells, [str(t) for t in R.report]
    by = {v: g.set_index("seed")[cols] for v, g in cells.groupby("variant")}
    mem_test = R.theta_mem.set_index("seed").test_acc
    gain = by["EP w/o WD (weights frozen)"][cols[-1]] - mem_test  # per seed: frozen-weight EP's final minus theta_mem
    lead = by["EP w/ WD"][cols[0]] - by["WD (dense continues)"][cols[0]]  # per seed: EP w/ WD ahead of WD at 600
    near = [abs(float(by[v][c].mean()) - pv) <= TABLE1_TOL for v, vals in PAPER_TABLE1.items() for c, pv in zip(cols, vals)]
    rng = lambda s: f"{s.median():.2f} [{s.min():.2f}, {s.max():.2f}]"  # noqa: E731
    mem = R.theta_mem
    n_mem = int(((mem.train_acc >= 0.95) & (mem.test_acc <= 0.5)).sum())  # memorised, not yet generalised
    return [nb.claim(f"theta_mem (step {R.ep_start}) is a memorising checkpoint: train acc >= 0.95, test acc <= 0.5 "
                     "(Table 1's premise; majority of seeds)", "memorised solutions (WD column: 0.53 600 steps later)",
                     f"{n_mem}/{len(mem)} seeds; train / test acc {rng(mem.train_acc)} / {rng(mem.test_acc)}",
                     bool(n_mem > len(mem) / 2)),
            nb.claim(f"edge-popup with frozen weights lifts theta_mem's test acc by > {EP_MIN_GAIN} (Table 1, EP w/o "
                     "WD; median over seeds)", "0.68 / 0.80 / 0.84 / 0.92 from theta_mem",
                     f"gain {rng(gain)}, {int((gain > EP_MIN_GAIN).sum())}/{len(gain)} seeds", bool(gain.median() > EP_MIN_GAIN)),
            nb.claim(f"EP w/ WD is ahead of WD alone {cols[0]} steps after theta_mem, by > {EP_MIN_GAIN} (median over "
                     "seeds)", "0.82 vs 0.53", f"lead {rng(lead)}, {int((lead > EP_MIN_GAIN).sum())}/{len(lead)} seeds",
                     bool(lead.median() > EP_MIN_GAIN)),
            nb.claim(f"Table 1 like for like: mean test acc within {TABLE1_TOL} of the paper in every cell (3 variants x "
                     "4 columns)", "Table 1", f"{sum(near)}/{len(near)} cells within {TABLE1_TOL}", all(near))]


fig = draw_edge_popup(R_ep)
export(fig, "table1_edge_popup")
claims.extend(edge_popup_claims(R_ep), R_ep)
fig

# %%
edge_popup.panel(S, draw=draw_edge_popup, claims=edge_popup_claims)

# %% [markdown]
# ## Fig 17: tickets without weight decay
# Dense model and tickets (k in `nowd_rates`, masks from the weight-decay dense run at `t_prune`) retrained with
# weight decay 0. Paper: the dense model does not generalise without weight decay; a ticket at the critical
# k ~ 0.81 does. "Does not generalise" is only shown by a cap well past the weight-decay dense run's t_gen
# (3x here); a shorter cap says "not at this scale".


# %%
@nb.section("no_wd", knobs=["nowd_rates", "nowd_steps"], uses=MAIN)
def no_wd(S) -> nb.Result:
    D = dense_ctx(S)
    members = [dict(m=0, k=0.0)] + [dict(m=0, k=r, mask=ticket_mask(D.run, 0, r, D.t_prune[0])) for r in S.nowd_rates]
    run = retrain(S, D, members, S.nowd_steps, wd=0.0)
    summ = run.summary()
    df = pd.DataFrame([dict(k=mb["k"], t_gen=run.times.t_gen[i], final_test_acc=summ.final_test_acc[i])
                       for i, mb in enumerate(members)])
    curves = pd.concat([acc_curves(run, i, f"k={r.k}") for i, r in df.iterrows()], ignore_index=True)
    return nb.Result(no_wd=df, curves=curves, cap=S.nowd_steps, dense_wd_t_gen=float(D.run.times.t_gen[0]))


R_nowd = no_wd(S)
R_nowd.no_wd


# %%
def draw_no_wd(R):
    return plots.accuracy_curves(R.curves, "Fig 17: no weight decay")


def no_wd_claims(R):
    nd = R.no_wd.set_index("k")
    crit = [k_ for k_ in nd.index if k_ > 0 and np.isfinite(nd.t_gen[k_])]
    dense_never = censored.is_censored(nd.t_gen[0.0])
    long_enough = np.isfinite(R.dense_wd_t_gen) and R.cap >= 3 * R.dense_wd_t_gen
    if not dense_never:  # the dense model generalised without weight decay
        holds = False
    elif not crit:  # no ticket within a long cap, or within the paper's own 30k steps: that contradicts Fig 17
        holds = False if long_enough or R.scale == "paper" else nb.NOT_AT_SCALE
    else:
        holds = True if long_enough else nb.NOT_AT_SCALE
    return [nb.claim("without weight decay: dense does not generalise, some ticket with k in 0.8-0.9 does (Fig 17)",
                     "critical k = 0.81", f"dense t_gen {censored.show(nd.t_gen[0.0], R.cap)} (with wd: "
                     f"{censored.show(R.dense_wd_t_gen, R.cap)}), final test acc {nd.final_test_acc[0.0]:.3f}; "
                     f"tickets that generalise: {crit}", holds)]


fig = draw_no_wd(R_nowd)
export(fig, "fig17_no_weight_decay")
claims.extend(no_wd_claims(R_nowd), R_nowd)
fig

# %%
no_wd.panel(S, draw=draw_no_wd, claims=no_wd_claims)

# %% [markdown]
# ## Fig 2b-e and Fig 10: other models and tasks
# Fig 2b: the same protocol on a 1-layer transformer (1 head, no LayerNorm, d_mlp 128; `tr_d_model`, `transformer`).
# Fig 2c-e, 10: the same protocol (dense until `t_gen + margin`, magnitude prune `k = prune_rate`, rewind, retrain)
# on other modular operations (one ensemble with per-member labels; the paper's `E_a + E_b` input is symmetric in a
# and b, so with `embedding="auto"` a list including a-b or a/b trains all members with separate operand tables),
# polynomial regression (MSE; "accuracy" = share of rows with squared error < 0.01), sparse parity and digit
# classification (MLP, MSE to one-hot, init scale kappa = 8; `extra_tasks`).
# `extras=True` turns the section on (`demo`: the transformer only; `paper`: everything); the `ci` profile skips it.
# [decided] `extra_steps` = 50k in `paper`: at 3k and 5k steps none of the three MLP tasks generalised (dense or
# ticket) on 2 CPU cores, so the demo leaves them out.


# %%
def dense_then_ticket(S, model_cfg, data, *, lr, wd, steps, loss="ce", members=1, labels=None):
    ck = tuple(range(0, steps + 1, S.ckpt_every))
    cfg = dict(lr=lr, weight_decay=wd, loss=loss, eval_every=S.eval_every, device=S.device)
    d_run = fit(build(model_cfg, n_members=members, seeds=[S.seed] * members), data,
                TrainConfig(steps=steps, early_stop_patience=S.margin + S.ckpt_every, checkpoint_steps=ck, **cfg),
                progress=False, desc="dense")
    tps = [tk.prune_step(d_run.times.t_gen[m], S.margin, S.ckpt_every, max(d_run.checkpoints))[0]
           for m in range(members)]
    masks = prune.stack([prune.magnitude(d_run.member_state(m, t), S.prune_rate, "global") for m, t in enumerate(tps)])
    t_steps = max(tps) + S.ckpt_every
    t_run = fit(build(model_cfg, n_members=members, seeds=[S.seed] * members), data,
                TrainConfig(steps=t_steps, early_stop_patience=0, **cfg), masks=masks, progress=False, desc="ticket")
    rows = [dict(task=(labels or [""])[m], t_prune=tps[m], dense_t_mem=d_run.times.t_mem[m],
                 dense_t_gen=d_run.times.t_gen[m], ticket_t_mem=t_run.times.t_mem[m], ticket_t_gen=t_run.times.t_gen[m],
                 dense_cap=steps, ticket_cap=t_steps) for m in range(members)]
    curves = [pd.concat([acc_curves(d_run, m, "dense"), acc_curves(t_run, m, "ticket")]).assign(figure=lab)
              for m, lab in enumerate(labels or [""])]
    return rows, curves


# %%
def extra_transformer(S):
    # Fig 2b: 1-layer transformer (1 head, no LayerNorm, d_mlp 128, logits at the last token) on the main task
    # [decided] CPU profiles: all p^2 pairs and lr 3e-3 (measured at p=67, 40%, d_model 128: a <= b with lr 1e-3 did
    # not grok within 15k steps (203 s); all pairs with lr 3e-3 grokked at step 550)
    t_tr = ModularTask(p=S.p, operation=S.operation, pairs=S.tr_pairs)
    sp = random_split(t_tr, S.train_frac, seed=S.seed)
    cfg = TransformerConfig(d_vocab=S.p + 1, n_ctx=3, d_vocab_out=S.p, d_model=S.tr_d_model, n_heads=1, d_mlp=128)
    return dense_then_ticket(S, cfg, Data(t_tr.inputs("sequence"), t_tr.y, sp.train, sp.test), lr=S.tr_lr,
                             wd=S.weight_decay, steps=S.steps,
                             labels=[f"Fig 2b: 1-layer transformer (d_model {S.tr_d_model}), {t_tr.description}"])


def extra_ops(S):
    """Fig 2c: one ensemble per operand-table layout (embed_cfg: a shared table for commutative operations, the
    paper's model; a separate b table for a-b, a/b), each label naming its model."""
    rows, curves = [], []
    for ops in ([o for o in S.ops if o in SYMMETRIC_OPS], [o for o in S.ops if o not in SYMMETRIC_OPS]):
        if not ops:
            continue
        tasks_, cfg = [ModularTask(p=S.p, operation=o, pairs=S.pairs) for o in ops], embed_cfg(S, *ops)
        sp = random_split(tasks_[0], S.train_frac, seed=S.seed)
        d_ops = Data(tasks_[0].inputs("pairs"), torch.stack([t.y for t in tasks_]), sp.train, sp.test, n_members=len(ops))
        r, c = dense_then_ticket(S, cfg, d_ops, lr=S.lr, wd=S.weight_decay, steps=S.steps, members=len(ops),
                                 labels=[f"Fig 2c: {t.description} (MLP, {cfg.embedding} operand table)" for t in tasks_])
        rows, curves = rows + r, curves + c
    return rows, curves


def extra_mlp_task(S, name):
    if name == "poly":
        t = PolynomialTask(d=40, n_train=100, n_test=100, seed=S.seed)
        return dense_then_ticket(S, MLPConfig(sizes=(40, 40, 48, 500, 1)), Data(t.X, t.y, t.train, t.test), lr=1e-2,
                                 wd=1.0, steps=S.extra_steps, loss="mse", labels=["Fig 2d: polynomial regression"])
    if name == "parity":
        t = SparseParityTask(n_bits=40, k=3, n_train=1000, n_test=1000, seed=S.seed)
        return dense_then_ticket(S, MLPConfig(sizes=(40, 200, 2)), Data(t.X, t.y, t.train, t.test), lr=1e-3, wd=1.0,
                                 steps=S.extra_steps, labels=["Fig 2e: sparse parity (n=40, k=3)"])
    img = load_digits_table()
    tr_i, te_i = train_test_indices(len(img.y), 1000, seed=S.seed)
    return dense_then_ticket(S, MLPConfig(sizes=(img.X.shape[1], 200, 200, 10), kappa=8.0), Data(img.X, img.y, tr_i, te_i),
                             lr=1e-3, wd=0.1, steps=S.extra_steps, loss="mse", labels=[f"Fig 10: {img.source}"])


# %%
EXTRA_COLS = ["task", "t_prune", "dense_t_mem", "dense_t_gen", "ticket_t_mem", "ticket_t_gen", "dense_cap", "ticket_cap"]


@nb.section("extras", knobs=["extras", "transformer", "tr_d_model", "ops", "extra_tasks", "extra_steps"])
def extras_section(S) -> nb.Result:
    parts = []
    if S.extras and S.transformer:
        parts.append(extra_transformer(S))
    if S.extras and S.ops:
        parts.append(extra_ops(S))
    parts += [extra_mlp_task(S, name) for name in ("poly", "parity", "digits") if S.extras and name in S.extra_tasks]
    rows = [r for rs, _ in parts for r in rs]
    curves = [c for _, cs in parts for c in cs]
    off = ([] if S.transformer else ["Fig 2b transformer"]) + [t for t in MLP_TASKS if t not in S.extra_tasks]
    return nb.Result(not_run=off if S.extras else ["the whole section (extras=False)"],
                     rows=pd.DataFrame(rows, columns=EXTRA_COLS).astype({"task": str}),
                     curves=pd.concat(curves, ignore_index=True) if curves else
                     pd.DataFrame(columns=["label", "split", "step", "value", "figure"]).astype({"step": int, "value": float}))


R_extra = extras_section(S)
R_extra.rows


# %%
def draw_extras(R):
    return [plots.accuracy_curves(g, title) for title, g in R.curves.groupby("figure", sort=False)]


def extras_claims(R):
    df = R.rows
    if not len(df):
        return []
    dec = [censored.greater(r.dense_t_gen, r.dense_cap, r.ticket_t_gen, r.ticket_cap) if np.isfinite(r.dense_t_gen)
           else censored.UNDECIDED for r in df.itertuples()]
    holds = all(d is True for d in dec) or (False if any(d is False for d in dec) else nb.NOT_AT_SCALE)
    return [nb.claim("other models and tasks: the ticket generalises before the dense model (Fig 2b-e, Fig 10)",
                     "faster on every task", "; ".join(f"{r.task}: dense {censored.show(r.dense_t_gen, r.dense_cap)}, "
                                                       f"ticket {censored.show(r.ticket_t_gen, r.ticket_cap)}"
                                                       for r in df.itertuples())
                     + (f"; not run at this scale: {', '.join(R.not_run)}" if R.not_run else ""), holds)]


for f_, (title, _) in zip(draw_extras(R_extra), R_extra.curves.groupby("figure", sort=False)):
    export(f_, title.split(":")[0].replace(" ", "_").lower())
    f_.show()
claims.extend(extras_claims(R_extra), R_extra)

# %%
extras_section.panel(S, draw=draw_extras, claims=extras_claims)

# %% [markdown]
# ## Claims
# Each row comes from one section's result (its `section` and the `scale` it was computed at). `checked` claims
# are asserted in the ci profile; the rest are reported. `results.json` in the output folder holds the same table.

# %%
claims.save(S.output_dir, profile=S.profile, settings=dict(S), tau_table=R_sweep.tau, sweep=R_sweep.sweep,
            prune_time=R_ptime.ptime, controls=R_ctrl.controls, no_wd=R_nowd.no_wd, dense_times=R_dense.times,
            edge_popup=table1(R_ep), extra_tasks=R_extra.rows, jaccard_peak=R_jd.jd_peak, acc_jump=R_jd.acc_jump)
claims

# %%
# NBVAL_CHECK_OUTPUT
claims.assert_checked(S.profile)
