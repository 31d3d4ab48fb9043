# %% [markdown]
# # Grokked vs steadily learned models: same features, different encodings
#
# Paper: *Grokking vs. learning: same features, different encodings* (arXiv 2502.01739). Grokking can be
# switched on and off with one knob, the init-scale multiplier **alpha** (multiply every parameter by alpha
# after initialisation): large alpha (10) gives a long memorisation plateau before generalisation (grokking),
# small alpha gives steady learning (0.1 for mod-add; 1 for the Ising CNN, as in the authors' Ising configs:
# see Fig 2). The paper asks whether the two paths end in different models.
# Its answers: the *features* are the same (Ising CNN neurons correlate with energy and |magnetisation|;
# mod-add neurons are single-frequency), but the *encodings* differ: in a "compressive regime" of steady
# learning, magnitude-pruning compressibility grows linearly with the final train loss, which never happens
# in grokking. Information-geometric path measures (Fisher step cosines) show a straight path in grokking.
#
# Two tasks, each trained as ONE ensemble whose members are the alphas (x seeds):
# * **Ising**: classify 16x16 Ising snapshots as ordered / disordered with a 6,798-parameter CNN
#   (snapshots generated here with a short Glauber run, see `grokkit.tasks.ising`);
# * **mod-add**: `(a + b) mod p` from concatenated one-hots with a 1-hidden-layer MLP (Adam, batch 64).
#
# Scale: the paper trains the CNN for 100k epochs at lr 1e-4 and the MLP on p=113 for 1000 epochs. The `ci` and
# `demo` profiles shrink the time scale (fewer epochs, a 30x larger Ising learning rate, smaller p for mod-add);
# every claim below is measured at the scale that ran, and says so when it does not hold there.
#
# Shipped results: `-p source shipped` replays without training. `data/03_grokked_vs_learned/demo/` is a demo-profile
# run; `data/03_grokked_vs_learned/paper/` is a paper-profile run cut to fit 2 CPU cores (6,303 s): mod-add at the
# paper's p = 113, width 512, 8 alphas and 1000 epochs, with 3 of the paper's 10 seeds; the controls with 3 seeds and
# 200 / 300 epochs; the Ising CNN at the demo time scale (4000 epochs at lr 3e-3, not 100k at 1e-4; 8 alphas x 5
# seeds). Every claim row names how its section was cut ("reduced scale"). At p = 113 the IPR claim is False: the
# grokked net's neurons are *more* single-frequency than the learned net's (one-sided 0.66 vs 0.56; the paper 0.43
# vs 0.53).

# %% tags=["parameters"]
import os

profile = os.environ.get("GROKKIT_PROFILE", "demo")  # "ci" | "demo" | "paper"
source = os.environ.get("GROKKIT_SOURCE", "run")  # "run" | "shipped" | an earlier output folder
seed = 0
device = "auto"
output_dir = None
task = None  # which task(s) to run
alphas = None  # mod-add init-scale grid (must contain 0.1 and 10)
ising_alphas = None  # Ising init-scale grid (must contain ising_learn_alpha and 10)
ising_learn_alpha = None  # Ising steady-learning alpha compared with alpha 10 ([repo]: 1)
ising_seeds = None  # seeds per Ising alpha (the paper: 5)
epochs = None  # mod-add epochs of the alpha sweep
control_epochs = None  # mod-add epochs of the batch / weight-decay controls
ising_epochs = None  # Ising epochs (full batch: one step each)
ising_lr = None  # Ising Adam learning rate (the paper: 1e-4)
batch_size = None  # mod-add minibatch size
weight_decay = None  # mod-add coupled L2 (Adam)
p = None  # mod-add modulus
d_hidden = None  # mod-add hidden width
n_seeds = None  # seeds per mod-add alpha (the paper: 10)
ising_wd = None  # Ising coupled L2 (Adam)
train_frac = None  # mod-add share of the p^2 pairs used for training
control_batch = None  # batch size of the batch-size control
control_seeds = None  # seeds per alpha of the two controls
control_batch_epochs = None  # epochs of the batch-size control
high_wd_factor = None  # weight-decay multiplier of the extreme-compression control
ckpt_every = None  # mod-add checkpoint spacing (epochs)
ckpt_until = None  # last mod-add checkpoint epoch
ckpt_members = None  # checkpointed mod-add members
ising_ckpt_every = None  # Ising checkpoint spacing (epochs)
prune_points = None  # points of the pruned-fraction grid in [0, 1]
fisher_samples = None  # inputs per Fisher diagonal
ising_sweeps = None  # Glauber sweeps per snapshot
lr = None  # mod-add Adam lr

# %% [markdown]
# ## Parameters
# Each parameter is declared once: type, what is allowed, its default in each profile and a line of help
# (`grokkit run 03_grokked_vs_learned --help-params` prints the same table). `ci` runs in about two minutes on
# 2 CPU cores, `demo` in about four; `paper` is the paper's Table 1 scale and seed counts (GPU for the Ising part).

# %% tags=["params-spec"]
from grokkit import notebook as nb

def alpha_grids(S):  # the grids hold the learning and the grokking alphas
    for name, must in (("alphas", (0.1, 10.0)), ("ising_alphas", (S.ising_learn_alpha, 10.0))):
        if any(a not in S[name] for a in must):
            raise ValueError(f"{name} {S[name]} must contain {', '.join(f'{a:g}' for a in must)} (learn, grok)")


P, POS, GE1 = nb.Param, dict(range=(0, None), open="low"), dict(range=(1, None))
PAPER_ALPHAS = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
PARAMS = nb.Params(
    "03_grokked_vs_learned", P("task", str, "which task(s) to run", default="both", choices=["ising", "modadd", "both"]),
    P("alphas", list, "mod-add init-scale grid (must contain 0.1 and 10)", item=float, ci=[0.05, 0.1, 0.2, 0.5, 10.0],
      demo=[0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 10.0], paper=PAPER_ALPHAS, **POS),
    P("ising_alphas", list, "Ising init-scale grid (must contain ising_learn_alpha and 10)", item=float,
      default=[0.1, 1.0, 10.0], paper=PAPER_ALPHAS, **POS),
    P("ising_learn_alpha", float, "Ising steady-learning alpha compared with alpha 10 ([repo]: 1)", default=1.0, **POS),
    P("ising_seeds", int, "seeds per Ising alpha (the paper: 5)", ci=1, demo=3, paper=5, range=(1, 20)),
    P("epochs", int, "mod-add epochs of the alpha sweep", ci=350, demo=400, paper=1000, widget=(10, 1000, 10), **GE1),
    P("control_epochs", int, "mod-add epochs of the batch / weight-decay controls", ci=80, demo=100, paper=1000,
      widget=(10, 1000, 10), **GE1),
    P("ising_epochs", int, "Ising epochs (full batch: one step each)", ci=3000, demo=4000, paper=100_000,
      widget=(100, 10000, 100), **GE1),
    P("ising_lr", float, "Ising Adam learning rate (the paper: 1e-4)", default=3e-3, paper=1e-4,
      widget=[1e-4, 3e-4, 1e-3, 3e-3], **POS),
    P("batch_size", int, "mod-add minibatch size", default=64, widget=[32, 64, 128, 200, 512], **GE1),
    P("weight_decay", float, "mod-add coupled L2 (Adam)", default=3e-5, range=(0, None), widget=[0.0, 3e-5, 3e-4, 1e-3]),
    P("p", int, "mod-add modulus", default=59, paper=113, range=(5, None), widget=[23, 31, 47, 59, 97, 113]),
    P("d_hidden", int, "mod-add hidden width", default=256, paper=512, **GE1),
    P("n_seeds", int, "seeds per mod-add alpha (the paper: 10)", default=1, paper=10, range=(1, 20)),
    P("ising_wd", float, "Ising coupled L2 (Adam)", default=0.1, range=(0, None)),
    P("train_frac", float, "mod-add share of the p^2 pairs used for training", default=0.7, range=(0, 1), open="both"),
    P("control_batch", int, "batch size of the batch-size control", default=200, **GE1),
    P("control_batch_epochs", int, "epochs of the batch-size control (batch 200: ~3x fewer steps per epoch)", ci=80,
      demo=300, paper=1000, widget=(10, 1000, 10), **GE1),
    P("control_seeds", int, "seeds per alpha of the batch / weight-decay controls", ci=1, demo=3, paper=5, range=(1, 20)),
    P("high_wd_factor", float, "weight-decay multiplier of the extreme-compression control", default=10.0, **POS),
    P("ckpt_every", int, "mod-add checkpoint spacing (epochs)", default=10, **GE1),
    P("ckpt_until", int, "last mod-add checkpoint epoch", ci=350, demo=400, paper=1000, **GE1),
    P("ckpt_members", str, "checkpointed mod-add members", default="all", paper="regimes", choices=["all", "regimes"]),
    P("ising_ckpt_every", int, "Ising checkpoint spacing (epochs)", default=100, paper=1000, range=(4, None)),
    P("prune_points", int, "points of the pruned-fraction grid in [0, 1]", default=21, paper=41, range=(3, 201)),
    P("fisher_samples", int, "inputs per Fisher diagonal", ci=64, demo=128, paper=256, **GE1),
    P("ising_sweeps", int, "Glauber sweeps per snapshot", default=100, **GE1), P("lr", float, "mod-add Adam lr",
                                                                                 default=5e-3, **POS),
    checks=[alpha_grids])

# %%
import math

import numpy as np
import pandas as pd
import torch
from IPython.display import display

import grokkit
from grokkit import plots
from grokkit.data import Data
from grokkit.metrics import compression as comp
from grokkit.metrics import features as feat
from grokkit.metrics import fisher as fim
from grokkit.metrics import regimes
from grokkit.models import OneHotMLP, OneHotMLPConfig
from grokkit.models.cnn import IsingCNN, IsingCNNConfig
from grokkit.tasks import ModularTask, random_split
from grokkit.tasks import ising as ising_mod
from grokkit.train import TrainConfig, fit

S = PARAMS.resolve(globals())
DO_ISING, DO_MODADD = S.task in ("ising", "both"), S.task in ("modadd", "both")
GROK, LEARN = 10.0, 0.1  # the grokking alpha (both tasks) and the mod-add steady-learning alpha (spec, [repo])
NAS = nb.NOT_AT_SCALE
if S.profile != "paper":  # tiny tensors: more than 2 threads only add contention (ci: 136 s at 1 thread, 108 s at 2)
    torch.set_num_threads(min(2, torch.get_num_threads()))
claims = nb.Claims()


def export(fig, name):
    """HTML always; PNG too (when an exporter exists) except in ci (each PNG costs seconds: ci and its replay stay
    fast)."""
    plots.export(fig, S.output_dir, name, static=None if S.profile != "ci" else False)
    return fig


# %%
def reduced(S, names):
    """How a paper-profile run differs from the paper profile's settings in `names` ('' when it does not)."""
    paper = PARAMS.defaults("paper")
    return "; ".join(f"{k}={S[k]!r} (paper {paper[k]!r})" for k in names
                     if S.profile == "paper" and k in paper and S[k] != paper[k])


def paper_rules(fn):
    """At the paper's full scale 'not at this scale' is False; at a reduced paper run the rows say how it was
    reduced (DESIGN "Claims")."""
    def rules(R):
        rows, note = fn(R), (R.data.get("reduced") or "")
        if note:
            return [{**r, "measured": f"{r['measured']} [reduced scale: {note}]"} for r in rows]
        return [{**r, "holds": False if r["holds"] == NAS else r["holds"]} for r in rows] if R.scale == "paper" else rows
    return rules


def show_claims(rows, R):
    """Add a section's claims rows to the notebook's table and show them."""
    claims.extend(rows, R)
    part = nb.Claims()
    part.extend(rows, R)
    display(part)


print(f"grokkit {grokkit.__version__}, profile {S.profile!r}, source {str(S.source)!r}, writing to {S.output_dir}")
S

# %% [markdown]
# ## Helpers: the two ensembles
# `train_modadd` and `train_ising` build one ensemble each (members = alphas x seeds) and call `fit`; every section
# asks for the runs it needs (the run store, and a memo within this kernel, make a repeat free). Grokking time
# follows the paper: the first epoch where test accuracy reaches 0.9 x its maximum minus the first epoch where
# train accuracy does (`grokkit.metrics.regimes.grok_times`, the authors' definition).

# %%
_RUNS = {}  # in-kernel memo of trained ensembles and derived tables


def memo(key, make):
    if key not in _RUNS:
        _RUNS[key] = make()
    return _RUNS[key]


def member_table(run, grid, spe=1):
    """One row per member: its settings, final metrics and grokking time (epochs)."""
    s = run.summary().set_index("member")
    gt = regimes.grok_times(run.history, 0.9, spe).set_index("member")
    cols = ["final_train_acc", "final_test_acc", "final_train_loss", "final_test_loss"]
    return pd.DataFrame([dict(member=m, **g, **{c: float(s.loc[m, c]) for c in cols}, t_train=gt.t_train[m],
                              grok_time=gt.grok_time[m]) for m, g in enumerate(grid)])


def modadd_data(S):
    t = ModularTask(p=S.p, operation="add", pairs="all")
    sp = random_split(t, S.train_frac, seed=S.seed)
    return t, sp, Data(t.inputs("pairs"), t.y, sp.train, sp.test)


def train_modadd(S, alphas, epochs, batch, wd, seeds=1, ckpt=True):
    alphas, wd = tuple(sorted(alphas)), S.weight_decay if wd is None else wd
    key = ("modadd", S.p, S.d_hidden, S.train_frac, S.seed, S.lr, S.ckpt_every, S.ckpt_until, S.device, alphas,
           epochs, batch, wd, seeds, ckpt)
    return memo(key, lambda: _train_modadd(S, alphas, epochs, batch, wd, seeds, ckpt))


def _train_modadd(S, alphas, epochs, batch, wd, seeds, ckpt):
    t, sp, data = modadd_data(S)
    grid = [dict(alpha=a, seed=S.seed + k, weight_decay=wd) for a in alphas for k in range(seeds)]
    model = OneHotMLP(OneHotMLPConfig(p=S.p, d_hidden=S.d_hidden), n_members=len(grid)).reset_parameters(
        [g["seed"] for g in grid], [g["alpha"] for g in grid])
    spe = math.ceil(len(sp.train) / batch)
    ck = tuple(e * spe for e in range(0, min(epochs, S.ckpt_until) + 1, S.ckpt_every)) if ckpt else ()
    cfg = TrainConfig(steps=epochs * spe, lr=S.lr, weight_decay=tuple(g["weight_decay"] for g in grid),
                      optimizer="adam", betas=(0.9, 0.999), batch_size=batch, eval_every=spe, threshold=0.9,
                      checkpoint_steps=ck, data_seed=S.seed, device=S.device)
    run = fit(model, data, cfg, desc=f"mod-add p={S.p} x{len(grid)}")
    return dict(task=t, split=sp, data=data, model=model, run=run, grid=grid, spe=spe,
                table=member_table(run, grid, spe))


# %%
def main_modadd(S):
    """The mod-add alpha sweep of the notebook's settings (alphas x n_seeds; checkpoints when ckpt_members="all")."""
    return train_modadd(S, S.alphas, S.epochs, S.batch_size, S.weight_decay, S.n_seeds, S.ckpt_members == "all")


def regime_run(S):
    """The run with checkpoints and its grokking (alpha 10) and learning (0.1) members of the notebook's seed: the
    main sweep, or (ckpt_members="regimes": the paper's 80 members x 174k parameters are 56 MB per checkpoint) a
    2-member run of the same two members (same init, data order and optimiser)."""
    res = main_modadd(S) if S.ckpt_members == "all" else train_modadd(S, (LEARN, GROK), S.epochs, S.batch_size,
                                                                       S.weight_decay, 1)
    return res, [members_of(res, a, S.seed)[0] for a in (GROK, LEARN)]

# %%
def ising_data(S):
    def make():
        table, tr, te = ising_mod.ising_dataset(300, 1000, sweeps=S.ising_sweeps, seed=S.seed)
        return table, tr, te, Data(table.X, table.y, tr, te)
    return memo(("ising_data", S.ising_sweeps, S.seed), make)


def absm_baseline(S):
    """Test accuracy of the best |M| threshold fit on the train set: an Ising member counts as learned /
    grokked when its final test accuracy beats it (decided; a member on the memorisation plateau sits below)."""
    tab, tr, te, _ = ising_data(S)
    m = tab.magnetisation.abs()
    return feat.threshold_accuracy(m[tr], tab.y[tr], m[te], tab.y[te])[1]


def train_ising(S):
    alphas = tuple(sorted(S.ising_alphas))
    key = ("ising", alphas, S.ising_epochs, S.ising_seeds, S.ising_lr, S.ising_wd, S.ising_ckpt_every,
           S.ising_sweeps, S.seed, S.device)
    return memo(key, lambda: _train_ising(S, alphas))


def _train_ising(S, alphas):
    table, tr, te, data = ising_data(S)
    grid = [dict(alpha=a, seed=S.seed + k) for a in alphas for k in range(S.ising_seeds)]
    model = IsingCNN(IsingCNNConfig(), n_members=len(grid)).reset_parameters(
        [g["seed"] for g in grid], [g["alpha"] for g in grid])
    ck = tuple(range(0, S.ising_epochs + 1, S.ising_ckpt_every))
    cfg = TrainConfig(steps=S.ising_epochs, lr=S.ising_lr, weight_decay=S.ising_wd, optimizer="adam",
                      betas=(0.9, 0.999), eval_every=max(1, S.ising_ckpt_every // 4), threshold=0.9,
                      checkpoint_steps=ck, data_seed=S.seed, device=S.device)
    run = fit(model, data, cfg, desc=f"Ising CNN x{len(grid)}")
    return dict(table_data=table, train=tr, test=te, data=data, model=model, run=run, grid=grid, spe=1,
                table=member_table(run, grid))


# %%
def members_of(res, alpha, seed=None):
    return [m for m, g in enumerate(res["grid"]) if g["alpha"] == alpha and (seed is None or g["seed"] == seed)]


def substate(state, members):
    return {k: v[members].clone() for k, v in state.items()}


def submodel(res, members, state=None):
    m = type(res["model"])(res["model"].config, n_members=len(members))
    m.load_state_dict(substate(res["run"].final_state if state is None else state, members))
    return m


def curves_of(res):
    """Accuracy at the evaluated steps, with the epoch."""
    return regimes.eval_curves(res["run"].history).assign(epoch=lambda d: d.step / res["spe"])


def base_seed(members):
    """The members of the notebook's seed (the lowest seed of an ensemble): what the curve figures draw."""
    return members[members.seed == members.seed.min()]

# %% [markdown]
# ## The Ising data (Fig 1)
# 26 snapshots at each of 50 temperatures in [1, 3.5] from Glauber dynamics started at random spins and stopped
# after a short run (100 sweeps), so the ordered side keeps some metastable *domain-wall* snapshots: low |M| but
# low energy. Those are what forces the CNN to use the energy, not only the magnetisation. Look for |M| near 1
# below Tc (dotted line), near 0 above, and a few low-|M| points at low T. The one-feature baselines (the best
# threshold on |M| or on E, fit on the train set) say how far each feature alone gets: a net that beats the |M|
# baseline has learned more than the magnetisation; that is our test of "learned / grokked" below.

# %%
@nb.section("ising_data", knobs=["ising_sweeps", "seed"], uses=["ising_sweeps", "seed"])
def ising_snapshots(S) -> nb.Result:
    tab, tr, te, _ = ising_data(S)
    n = 16 * 16
    phys = pd.DataFrame({"T": tab.T.double().numpy(), "absM": tab.magnetisation.abs().double().numpy() / n,
                         "E": tab.energy.double().numpy() / n})
    below, above = phys[phys["T"] < ising_mod.TC - 0.3], phys[phys["T"] > ising_mod.TC + 0.3]
    acc_e = feat.threshold_accuracy(tab.energy[tr], tab.y[tr], tab.energy[te], tab.y[te])[1]
    return nb.Result(phys=phys, data_source=str(tab.source), tc=float(ising_mod.TC),
                     absM_below=float(below.absM.mean()), absM_above=float(above.absM.mean()),
                     walls=int(((below.absM < 0.5) & (below.E < -1.5)).sum()), acc_absm=absm_baseline(S), acc_e=acc_e,
                     reduced=reduced(S, ["ising_sweeps"]))


def draw_ising_data(R):
    return plots.scatter_panels(R.phys, "T", {"absM": "|M| per spin", "E": "energy per spin"}, vline=R.tc,
                                title=f"Glauber snapshots ({R.data_source}); Tc = {R.tc:.3f}")


@paper_rules
def ising_data_claims(R):
    return [nb.claim("Ising snapshots are physical: |M| high below Tc, low above", "|M|->1 ordered, ~0 disordered",
                     f"mean |M|/N: {R.absM_below:.3f} (T<Tc-0.3), {R.absM_above:.3f} (T>Tc+0.3); "
                     f"{R.walls} domain-wall snapshots", R.absM_below > 0.7 and R.absM_above < 0.3, checked=True)]


if DO_ISING:
    R_DATA = ising_snapshots(S)
    print(f"one-feature baselines (best threshold fit on the train set), test accuracy: |M| {R_DATA.acc_absm:.3f}, "
          f"E {R_DATA.acc_e:.3f}; domain-wall snapshots (T < Tc-0.3, |M| < 0.5, E < -1.5): {R_DATA.walls}")
    display(export(draw_ising_data(R_DATA), "fig1_ising_data"))
    show_claims(ising_data_claims(R_DATA), R_DATA)

# %%
if DO_ISING:
    display(ising_snapshots.panel(S, draw=draw_ising_data, claims=ising_data_claims))

# %% [markdown]
# ## Fig 2: the alpha sweep (both tasks)
# One ensemble per task, one member per alpha (x seeds). Large alpha memorises first and generalises late (the
# test curve lags the train curve); small alpha learns steadily. Look at the gap between the solid (test) and the
# dashed (train) line of each colour, and at `grok_time` in the tables.
#
# For mod-add at p=59 alpha=10 groks at epoch ~240-290 (test acc 0.006 at epoch 190, 0.62 at 240, 1.0 at 290:
# measured), hence 350 epochs in `ci`.

# %%
MOD_KNOBS = ["alphas", "epochs", "batch_size", "weight_decay", "p"]
MOD_USES = [*MOD_KNOBS, "d_hidden", "n_seeds", "lr", "train_frac", "ckpt_every", "ckpt_until", "ckpt_members", "seed"]
SUMMARY = ["alpha", "seed", "final_train_acc", "final_test_acc", "final_train_loss", "grok_time"]


@nb.section("modadd_sweep", knobs=MOD_KNOBS, uses=MOD_USES)
def modadd_sweep(S) -> nb.Result:
    res = main_modadd(S)
    return nb.Result(members=res["table"], curves=curves_of(res), p=S.p, batch_size=S.batch_size,
                     reduced=reduced(S, MOD_USES))


def draw_modadd_sweep(R):
    return plots.alpha_sweep(R.curves, base_seed(R.members), title=f"mod-add p={R.p}: alpha sweep (batch "
                             f"{R.batch_size})")


@paper_rules
def modadd_sweep_claims(R):
    t = R.members
    g, l_ = t[t.alpha == GROK], t[t.alpha == LEARN]
    acc_g, acc_l, gt_l = g.final_test_acc.median(), l_.final_test_acc.median(), l_.grok_time.median()
    steady = (l_.final_test_acc >= 0.9) & (l_.grok_time <= 10)
    return [
        nb.claim("mod-add: alpha=0.1 learns steadily (test acc >= 0.9, test follows train within 10 epochs; "
                 "median over seeds)", "steady learning", f"test acc {nb.median_spread(l_.final_test_acc)}, grok "
                 f"time {nb.median_spread(l_.grok_time)} epochs; {int(steady.sum())}/{len(l_)} seeds steady",
                 bool(acc_l >= 0.9 and gt_l <= 10)),
        nb.claim("mod-add: grokking (alpha=10) and learning (alpha=0.1) reach similar test accuracy (medians)",
                 "1.0 both", f"alpha=10: {acc_g:.3f}, alpha=0.1: {acc_l:.3f}",
                 bool(abs(acc_g - acc_l) <= 0.05) if acc_g >= 0.9 and acc_l >= 0.9 else NAS)]


if DO_MODADD:
    R_MOD = modadd_sweep(S)
    display(R_MOD.members[SUMMARY].round(4))
    display(export(draw_modadd_sweep(R_MOD), "fig2_modadd_alpha_sweep"))
    show_claims(modadd_sweep_claims(R_MOD), R_MOD)

# %%
if DO_MODADD:
    display(modadd_sweep.panel(S, draw=draw_modadd_sweep, claims=modadd_sweep_claims))

# %% [markdown]
# **Which alpha is "steady learning" for the Ising CNN** (`ising_learn_alpha`, decided: 1). The spec says 0.1,
# but the Ising CNN at alpha=0.1 collapses to the constant predictor (train loss ln 2 = 0.693) at every scale we
# tried: with every parameter ~0.01, the coupled L2 term (wd 0.1) outweighs the loss gradient, which is a product
# over 4 layers of tiny weights, and Adam's normalised steps drive all weights to the origin, a stationary point of
# the ReLU net. Measured: the same at lr 1e-4 (the paper's, 20,000 epochs), 1e-3 and 3e-3, and with wd 0.01; with
# wd 0 the alpha=0.1 net learns (test acc 0.955). The authors' own Ising configs train weight multipliers 1 and 10
# (their mod-add configs: 0.1 and 10), so the Ising comparison below is alpha=10 vs alpha=1, and alpha=0.1 stays in
# the sweep to show the collapse (claims table). Alpha=1 learns at once; alpha=10 memorises first (test acc
# ~0.81 from epoch ~150) and groks late: at lr 3e-3 two of three seeds reached test acc 0.9 at epoch ~1500-2000,
# the third was still at 0.84 at epoch 3000 (measured; the paper too has one Ising seed that never groks).
# A seed that never beats the |M| baseline has a censored grokking time (> the epochs it ran): medians count it.

# %%
ISING_KNOBS = ["ising_alphas", "ising_epochs", "ising_lr", "ising_seeds"]
ISING_USES = [*ISING_KNOBS, "ising_learn_alpha", "ising_wd", "ising_ckpt_every", "ising_sweeps", "seed"]


@nb.section("ising_sweep", knobs=ISING_KNOBS, uses=ISING_USES)
def ising_sweep(S) -> nb.Result:
    res, base = train_ising(S), absm_baseline(S)
    return nb.Result(members=res["table"].assign(learned=lambda d: d.final_test_acc > base), curves=curves_of(res),
                     acc_absm=base, learn_alpha=S.ising_learn_alpha, epochs=S.ising_epochs, lr=S.ising_lr,
                     reduced=reduced(S, ISING_USES))


def draw_ising_sweep(R):
    return plots.alpha_sweep(R.curves, base_seed(R.members), title=f"Ising CNN: alpha sweep (lr {R.lr:g}, "
                             f"{R.epochs} epochs)")


def grok_median(d, epochs):
    """Median grok time of the seeds; a seed that never beat the |M| baseline is censored at > epochs - t_train."""
    return regimes.censored_median(d.grok_time, ~d.learned, epochs - d.t_train)


@paper_rules
def ising_sweep_claims(R):
    t, la, base = R.members, R.learn_alpha, R.acc_absm
    g, l_, r01 = t[t.alpha == GROK], t[t.alpha == la], t[t.alpha == 0.1]
    acc_g, acc_l = g.final_test_acc.median(), l_.final_test_acc.median()
    (tg, bg), (tl, bl) = grok_median(g, R.epochs), grok_median(l_, R.epochs)
    acc_01 = r01.final_test_acc.median() if len(r01) else float("nan")
    return [
        nb.claim(f"Ising: grokking (alpha=10) and learning (alpha={la:g}) reach similar test accuracy (medians over "
                 "seeds)", "~0.9-0.95 both", f"alpha=10: {nb.median_spread(g.final_test_acc)} ({int(g.learned.sum())}/"
                 f"{len(g)} seeds beat the |M| baseline {base:.3f}), alpha={la:g}: {nb.median_spread(l_.final_test_acc)}"
                 f" ({int(l_.learned.sum())}/{len(l_)})", bool(abs(acc_g - acc_l) <= 0.05)
                 if acc_g > base and acc_l > base else NAS),
        nb.claim("Ising: grokking delay grows with alpha (median grok time over seeds; a seed that never beat the |M| "
                 "baseline is censored at > epochs)", "delay at alpha=10, none when learning",
                 f"alpha=10: {regimes.show_median(tg, bg)}, alpha={la:g}: {regimes.show_median(tl, bl)} epochs "
                 f"({int((~g.learned).sum())} + {int((~l_.learned).sum())} censored)", regimes.greater(tg, bg, tl, bl)),
        nb.claim("Ising: the spec's alpha=0.1 learns under coupled L2 wd 0.1 (steady learning)",
                 "spec: learns (the authors' Ising configs use alpha 1)",
                 f"final test acc {acc_01:.3f}, train loss {r01.final_train_loss.median():.4f}" if len(r01)
                 else "not run (0.1 is not in ising_alphas)", bool(acc_01 > base) if len(r01) else NAS)]


if DO_ISING:
    R_IS = ising_sweep(S)
    display(R_IS.members[[*SUMMARY, "learned"]].round(4))
    display(export(draw_ising_sweep(R_IS), "fig2_ising_alpha_sweep"))
    show_claims(ising_sweep_claims(R_IS), R_IS)

# %%
if DO_ISING:
    display(ising_sweep.panel(S, draw=draw_ising_sweep, claims=ising_sweep_claims))

# %% [markdown]
# ## Fig 3: both regimes learn the same Ising features
# For every neuron (a conv channel at one position, or an FC unit) the Pearson correlation of its
# pre-activation with the snapshot's energy E, magnetisation M and |M| over the test set; the layer summary
# weights each neuron by its share of the layer's total |pre-activation|: `sum_n w_n |rho_n|`.
# Paper: conv1 carries no E / |M| information. That holds for any weights: conv1 is affine in the spins, E and |M|
# are invariant under flipping every spin and the snapshots are flip-symmetric, so its correlations vanish up to
# sampling noise (a unit test, `test_conv1_preactivations_carry_no_flip_invariant_feature`, not a claim; the value
# is printed below). FC neurons reach |rho_E| ~ 0.99 and |rho_|M|| ~ 0.9, the same
# for grokked and learned nets; and "for every seed, in both learning and grokking, the energy has the highest
# correlation of the three measures with the majority of neuron activations in the second CNN and in the fully
# connected layer" — the right panel counts exactly that: the share of each layer's live neurons whose strongest
# feature is E, M or |M|. Look for the grokking and learning bars of each group to match.
#
# What we saw (demo: 3 seeds per alpha, 4000 epochs at lr 3e-3): all 3 alpha=1 seeds learned at once
# (test acc 0.954-0.962); 2 of 3 alpha=10 seeds grokked (0.956, grok times 1038 / 1508 epochs) and the third was
# still on the memorisation plateau (0.860, below the |M| baseline 0.899). In every generalised net, alpha 1 or
# 10, E is the strongest feature of >= 92% of the fc1 neurons and >= 95% of the conv2 neurons, and the fc1
# summaries agree within 0.07. The seed still on the plateau is the telling exception: its conv2 / fc1 neurons
# track the signed magnetisation M (78% / 83% of them), i.e. the memorising net classifies by magnetisation and
# grokking is the switch to the energy. At the end of the shorter `ci` run (3000 epochs) the grokked net's fc1
# E summary is still rising (0.56 -> 0.86 over the last 600 epochs), so its FC comparison is reported as not
# at this scale there.

# %%
FEATURE_LAYERS = ("conv1", "conv2", "fc1")


def ising_preacts(res, state=None, members=None):
    """Pre-activations {layer: (E, N_test, n_neurons)} of the chosen members and the test-set features."""
    members = list(range(len(res["grid"]))) if members is None else members
    tab, te = res["table_data"], res["test"]
    X = tab.X[te].unsqueeze(0).expand(len(members), *tab.X[te].shape)
    with torch.no_grad():
        pre = submodel(res, members, state).preactivations(X)
    pre = {k: feat.flatten_neurons(pre[k]) for k in FEATURE_LAYERS}
    return members, pre, {"E": tab.energy[te], "M": tab.magnetisation[te], "|M|": tab.magnetisation[te].abs()}


def ising_features(res, state=None, members=None):
    """Long table: member, layer, feature, rho (the layer summary sum_n w_n |rho_n|)."""
    members, pre, fs = ising_preacts(res, state, members)
    prof = feat.feature_profile(pre, fs)
    return pd.DataFrame([dict(member=members[i], layer=layer, feature=f, rho=float(v[i]))
                         for (layer, f), v in prof.items() for i in range(len(members))])


def ising_dominance(res):
    """Long table: member, layer, feature, share (of the layer's live neurons whose strongest feature it is)."""
    members, pre, fs = ising_preacts(res)
    return pd.DataFrame([dict(member=members[i], layer=layer, feature=f, share=float(v[i]))
                         for layer in FEATURE_LAYERS for f, v in feat.dominant_feature_share(pre[layer], fs).items()
                         for i in range(len(members))])


def fc1_e(df):
    return df[(df.layer == "fc1") & (df.feature == "E")].set_index("member").rho

# %%
@nb.section("ising_features", knobs=ISING_KNOBS, uses=ISING_USES)
def ising_feature_section(S) -> nb.Result:
    res, base = train_ising(S), absm_baseline(S)
    cols = res["table"][["member", "alpha", "seed", "final_test_acc"]]
    f, dom = ising_features(res).merge(cols), ising_dominance(res).merge(cols)
    # the paper's test, per member: E is the strongest feature for the majority of conv2 AND fc1 neurons
    e_major = dom[(dom.feature == "E") & dom.layer.isin(["conv2", "fc1"])].groupby("member").share.min() > 0.5
    members = res["table"].assign(learned=lambda d: d.final_test_acc > base, e_majority=lambda d: d.member.map(e_major))
    # is the grokked net's FC layer still developing? fc1 E summary at ~80% of the run vs at the end
    ck = sorted(res["run"].checkpoints)
    st80 = min(ck, key=lambda c: abs(c - 0.8 * ck[-1]))
    rise = (fc1_e(f) - fc1_e(ising_features(res, state=res["run"].checkpoints[st80]))).loc[members_of(res, GROK)]
    return nb.Result(features=f, dominance=dom, members=members, fc_rise=float(rise.median()), rise_from=int(st80),
                     rise_to=int(ck[-1]), acc_absm=base, learn_alpha=S.ising_learn_alpha,
                     reduced=reduced(S, ISING_USES))


def draw_ising_features(R):
    seed0 = R.features.seed.min()
    return plots.grouped_bars([(R.features[R.features.seed == seed0], "rho", f"layer summary sum_n w_n |rho_n| (seed "
                                f"{seed0})"), (R.dominance[R.dominance.seed == seed0], "share",
                                               "share of live neurons whose strongest feature is ...")],
                              x=("layer", "feature"), title="Ising: which feature does each layer carry?")


def medians(R):
    piv = R.features.groupby(["alpha", "layer", "feature"]).rho.median().unstack(["layer", "feature"])
    dom = R.dominance.groupby(["alpha", "layer", "feature"]).share.median().unstack(["layer", "feature"])
    return piv, dom

# %%
@paper_rules
def ising_feature_claims(R):
    t, la, base = R.members, R.learn_alpha, R.acc_absm
    piv, dom = medians(R)
    g, l_ = t[t.alpha == GROK], t[t.alpha == la]
    acc_g, acc_l = g.final_test_acc.median(), l_.final_test_acc.median()
    both_learn, still = acc_g > base and acc_l > base, R.fc_rise > 0.05  # decided: compare terminal models
    ok_g, ok_l = g[g.learned].e_majority, l_[l_.learned].e_majority
    eg, el, fc, fl = dom.loc[GROK], dom.loc[la], piv.loc[GROK], piv.loc[la]
    diff = (piv.loc[GROK] - piv.loc[la]).abs()
    rising = (f"; the grokked fc1 E summary was still rising at the end (+{R.fc_rise:.2f} over the last 20% of "
              "epochs): not terminal models") if still else ""
    return [
        nb.claim("Ising: same feature in both regimes: E is the strongest of E/M/|M| for most conv2 and fc1 neurons "
                 "(every grokked / learned seed)", "every seed, both regimes",
                 f"alpha=10: {int(ok_g.sum())}/{len(ok_g)} grokked seeds (median E share conv2 "
                 f"{eg[('conv2', 'E')]:.2f}, fc1 {eg[('fc1', 'E')]:.2f}); alpha={la:g}: {int(ok_l.sum())}/{len(ok_l)} "
                 f"learned seeds (conv2 {el[('conv2', 'E')]:.2f}, fc1 {el[('fc1', 'E')]:.2f})",
                 bool(ok_g.all() and ok_l.all()) if len(ok_g) and len(ok_l) else NAS),
        nb.claim("Ising: FC layer summaries of the two regimes agree within 0.1", "agree",
                 f"max |diff| fc1 {diff['fc1'].max():.3f} (conv2 {diff['conv2'].max():.3f}){rising}",
                 bool(diff["fc1"].max() <= 0.1) if both_learn and not still else NAS),
        nb.claim("Ising FC neurons track the energy (|rho_E|) and |M| (grokked net)", "|rho_E|~0.99, |rho_|M||~0.9",
                 f"alpha=10: {fc[('fc1', 'E')]:.3f} / {fc[('fc1', '|M|')]:.3f}{rising}",
                 bool(fc[("fc1", "E")] >= 0.9) if acc_g > base and not still else NAS),
        nb.claim(f"Ising FC neurons track the energy and |M| (steadily learned net, alpha={la:g})",
                 "|rho_E|~0.99, |rho_|M||~0.9", f"{fl[('fc1', 'E')]:.3f} / {fl[('fc1', '|M|')]:.3f}",
                 bool(fl[("fc1", "E")] >= 0.9 and fl[("fc1", "|M|")] >= 0.8) if acc_l > base else NAS, checked=True)]


# %%
if DO_ISING:
    R_FEAT = ising_feature_section(S)
    piv, dom = medians(R_FEAT)
    print("layer summaries (median over seeds):")
    display(piv.round(3))
    print("share of live neurons whose strongest feature is E / M / |M| (median over seeds):")
    display(dom.round(3))
    print(f"grokked nets' fc1 E summary rose by {R_FEAT.fc_rise:+.3f} (median) from epoch {R_FEAT.rise_from} to "
          f"{R_FEAT.rise_to}; conv1 E / |M| summaries at most {piv['conv1'][['E', '|M|']].max().max():.3f} (0 by "
          "symmetry: tests/test_03_regimes.py)")
    display(R_FEAT.members[["alpha", "seed", "final_test_acc", "learned", "e_majority"]])
    display(export(draw_ising_features(R_FEAT), "fig3_ising_features"))
    show_claims(ising_feature_claims(R_FEAT), R_FEAT)

# %%
if DO_ISING:
    display(ising_feature_section.panel(S, draw=draw_ising_features, claims=ising_feature_claims))

# %% [markdown]
# ## Fig 4: mod-add neurons are single-frequency (Fourier IPR)
# DFT of each hidden neuron's input weights (a-block, b-block) and output weights along the residue axis;
# IPR = sum_k |W_k|^4 / (sum_k |W_k|^2)^2. Over the two-sided DFT a real single-frequency neuron has its power at k
# and p-k: IPR 0.5, the maximum for any non-constant real vector, so the paper's 0.53 (learning) cannot be that
# measure. Over the one-sided spectrum (k and p-k merged, `grokkit.metrics.regimes.onesided_fourier_ipr`) one
# frequency gives 1 and a flat spectrum ~2/p: the claims use it and show both. Paper: mean IPR 0.43 (grokking) vs
# 0.53 (learning). Look for histograms piled near 1 (one-sided) in both regimes.

# %%
@nb.section("modadd_ipr", knobs=MOD_KNOBS, uses=MOD_USES)
def modadd_ipr(S) -> nb.Result:
    res, st = main_modadd(S), main_modadd(S)["run"].final_state
    ipr, one = regimes.onehot_mlp_ipr(st, S.p, "two"), regimes.onehot_mlp_ipr(st, S.p, "one")
    regs = [members_of(res, a, S.seed)[0] for a in (GROK, LEARN)]
    neurons = pd.DataFrame([dict(member=m, alpha=res["grid"][m]["alpha"], block=k, ipr=v, ipr_one=w) for m in regs
                            for k in ipr for v, w in zip(ipr[k][m].tolist(), one[k][m].tolist())])
    init = regimes.onehot_mlp_ipr(regime_run(S)[0]["run"].checkpoints[0], S.p, "two")
    return nb.Result(members=res["table"].assign(mean_ipr=feat.mean_ipr(ipr).numpy(), mean_ipr_one=feat.mean_ipr(
        one).numpy()), neurons=neurons, init_ipr=float(feat.mean_ipr(init)[0]), reduced=reduced(S, MOD_USES))


def draw_modadd_ipr(R):
    return [plots.histogram_panels(R.neurons, "ipr_one", "block", title="Fourier IPR per hidden neuron, one-sided "
                                   "spectrum (the paper's scale: 1 = one frequency)"),
            plots.histogram_panels(R.neurons, "ipr", "block", title="the same, two-sided DFT (max 0.5)")]


@paper_rules
def modadd_ipr_claims(R):
    t = R.members
    g, l_ = t[t.alpha == GROK], t[t.alpha == LEARN]
    ig, il = g.mean_ipr_one.median(), l_.mean_ipr_one.median()  # the paper's 0.53 > 0.5 rules out the two-sided DFT
    both_learn = g.final_test_acc.median() >= 0.9 and l_.final_test_acc.median() >= 0.9
    shown = (f"one-sided {nb.median_spread(g.mean_ipr_one)} vs {nb.median_spread(l_.mean_ipr_one)}; two-sided DFT "
             f"(max 0.5) {nb.median_spread(g.mean_ipr)} vs {nb.median_spread(l_.mean_ipr)}")
    return [nb.claim("mod-add mean Fourier IPR, grokking vs learning (both ~single-frequency)", "0.43 vs 0.53",
                     shown, bool(ig >= 0.3 and il >= 0.3) if both_learn else NAS),
            nb.claim("mod-add mean IPR: grokking < learning (medians over seeds)", "0.43 < 0.53", shown,
                     bool(ig < il) if both_learn else NAS)]


if DO_MODADD:
    R_IPR = modadd_ipr(S)
    display(R_IPR.members.groupby("alpha")[["mean_ipr_one", "mean_ipr"]].median().round(3))
    print(f"(medians over seeds; paper: 0.43 grokking, 0.53 learning); random init, two-sided ~{R_IPR.init_ipr:.3f}")
    for fig, name in zip(draw_modadd_ipr(R_IPR), ("fig4_modadd_ipr", "fig4_modadd_ipr_two_sided")):
        display(export(fig, name))
    show_claims(modadd_ipr_claims(R_IPR), R_IPR)

# %%
if DO_MODADD:
    display(modadd_ipr.panel(S, draw=draw_modadd_ipr, claims=modadd_ipr_claims))

# %% [markdown]
# ## Fig 5: pruning curves and the compressive regime
# Layer-wise magnitude pruning: remove the smallest-|w| fraction f of every weight matrix, measure test
# accuracy, A = area under acc(f), compressibility C = 1/(1-A). Paper: in mod-add, C rises as alpha falls in the
# steady-learning regime (batch 64) and is *linear in the final train loss*; no such dependence for grokking
# (alpha > 1) nor for the Ising CNN; batch 200 removes it; 10x weight decay with low alpha prunes 95% of the
# weights for a 5% accuracy drop. Look for the spread of curves at small alpha (left) and the straight line (right).

# %%
def pruning_table(res, fracs, scheme="layer", state=None):
    """Pruning curves (E, F), area A, compressibility C and the kept share for 95% of the unpruned accuracy."""
    state = res["run"].final_state if state is None else state
    if isinstance(res["model"], IsingCNN):
        X, y, idx = res["table_data"].X, res["table_data"].y, res["test"]
    else:
        X, y, idx = res["data"].X, res["data"].y, res["split"].test
    model = type(res["model"])(res["model"].config, n_members=next(iter(state.values())).shape[0])
    curve = comp.pruning_curve(model, state, comp.accuracy_fn(X, y, idx), fracs, scheme)
    A = comp.area(fracs, curve)
    chance = 0.55 if isinstance(res["model"], IsingCNN) else 0.5
    kept = np.where(curve[:, 0] >= chance, comp.kept_for_accuracy(fracs, curve, 0.95), np.nan)  # nan: learned nothing
    return curve, A, comp.compressibility(A), kept


def pruned(res, fracs):
    """(members table with A, C, kept_95; long curves table member, fraction, acc) of a run's final models."""
    def make():
        curve, A, C, kept = pruning_table(res, fracs)
        curves = pd.DataFrame([dict(member=m, fraction=float(f), acc=float(curve[m, j]))
                               for m in range(curve.shape[0]) for j, f in enumerate(fracs)])
        return res["table"].assign(A=A, C=C, kept_95=kept), curves
    return memo(("pruned", id(res), len(fracs)), make)


# %%
PRUNE_COLS = ["alpha", "seed", "final_train_loss", "final_test_acc", "A", "C", "kept_95"]


@nb.section("pruning", knobs=[*MOD_KNOBS, "prune_points"], uses=[*MOD_USES, *ISING_USES, "prune_points", "task"])
def pruning(S) -> nb.Result:
    fracs, out = np.linspace(0, 1, S.prune_points), {}
    if S.task in ("modadd", "both"):
        out["modadd"], out["modadd_curves"] = pruned(main_modadd(S), fracs)
    if S.task in ("ising", "both"):
        out["ising"], out["ising_curves"] = pruned(train_ising(S), fracs)
    return nb.Result(**out, p=S.p, reduced=reduced(S, [*MOD_USES, *ISING_USES, "prune_points"]))


def draw_pruning(R):
    figs = [plots.pruning_panels(R[f"{k}_curves"], R[k], title=f"{name}: layer-wise magnitude pruning")
            for k, name in (("modadd", f"mod-add p={R.p}"), ("ising", "Ising CNN")) if k in R]
    return figs


def steady_fit(t):
    """The compressive-regime fit over the steady-learning members (alpha < 1, test acc >= 0.9)."""
    steady = t[(t.alpha < 1) & (t.final_test_acc >= 0.9)]
    return steady, comp.linear_fit(steady.final_train_loss, steady.C)


@paper_rules
def pruning_claims(R):
    if "modadd" not in R:
        return []
    t = R.modadd
    steady, fit_ = steady_fit(t)
    rho = regimes.spearman(np.log(steady.alpha), steady.C)
    cg, enough = t[t.alpha > 1].C, fit_["n"] >= 3
    return [
        nb.claim("compressive regime: C linear in final train loss for steady learning (slope, R^2)", "linear (high R^2)",
                 f"slope {fit_['slope']:.3g}, R^2 {fit_['r2']:.3f}, n={fit_['n']}",
                 bool(fit_["r2"] >= 0.8 and fit_["slope"] > 0) if enough else NAS),
        nb.claim("compressibility rises as alpha falls (steady learning)", "monotone",
                 f"Spearman(log alpha, C) = {rho:.2f}", bool(rho <= -0.8) if enough else NAS),
        nb.claim("no compressive regime in grokking (C flat across alpha>1)", "curves on top of each other",
                 f"C range {cg.min():.3f}-{cg.max():.3f} (steady {steady.C.min():.3f}-{steady.C.max():.3f})",
                 bool(np.ptp(cg) < 0.5 * np.ptp(steady.C)) if len(cg) >= 2 and len(steady) >= 2 else NAS)]


# %%
R_PRUNE = pruning(S)
for k in ("modadd", "ising"):
    if k in R_PRUNE:
        display(R_PRUNE[k][PRUNE_COLS].round(4))
if "modadd" in R_PRUNE:
    _, f_ = steady_fit(R_PRUNE.modadd)
    print(f"steady learning (alpha<1, test acc>=0.9, n={f_['n']}): C = {f_['slope']:.3g} * loss + {f_['intercept']:.3g}"
          f", R^2 = {f_['r2']:.3f}")
for fig, name in zip(draw_pruning(R_PRUNE), [k for k in ("modadd", "ising") if k in R_PRUNE]):
    display(export(fig, f"fig5_{name}_pruning"))
show_claims(pruning_claims(R_PRUNE), R_PRUNE)

# %%
display(pruning.panel(S, draw=draw_pruning, claims=pruning_claims))

# %% [markdown]
# ### Controls: batch 200 (no compressive regime) and 10x weight decay (extreme compression)
# The same alpha grid trained (a) with batch 200 and (b) with weight decay x10. Paper: (a) the C-vs-loss line
# disappears; (b) at low alpha the share of weights needed for 95% of the unpruned accuracy falls from ~32% to
# ~5%. The controls train for `control_epochs` (the steady-learning alphas converge within a few dozen epochs;
# the main sweep runs longer so that alpha = 10 can grok), the batch-200 one for `control_batch_epochs` (measured at
# demo, 100 epochs = 1,300 steps of batch 200: test acc 0.56-0.79 at alpha <= 0.2, not converged, so no member
# counted as steady and the claim could not be decided), with `control_seeds` seeds per alpha (ci 1, demo 3, paper
# 5): (a) pools every seed's steady-learning members into one fit; (b) takes each seed's most compressible alpha and
# reports the median over seeds and how many seeds reach 10%.

# %%
CTRL_KNOBS = ["control_epochs", "control_batch", "control_batch_epochs", "high_wd_factor", "control_seeds"]


@nb.section("controls", knobs=[*CTRL_KNOBS, "alphas"], uses=[*MOD_USES, *CTRL_KNOBS, "prune_points"])
def controls(S) -> nb.Result:
    fracs, n = np.linspace(0, 1, S.prune_points), S.control_seeds
    settings = {f"batch {S.batch_size} (main)": main_modadd(S),
                f"batch {S.control_batch}": train_modadd(S, S.alphas, S.control_batch_epochs, S.control_batch, None,
                                                         n, ckpt=False),
                f"wd x{S.high_wd_factor:g}": train_modadd(S, S.alphas, S.control_epochs, S.batch_size,
                                                          S.weight_decay * S.high_wd_factor, n, ckpt=False)}
    table = pd.concat([pruned(res, fracs)[0].assign(setting=name) for name, res in settings.items()], ignore_index=True)
    return nb.Result(table=table, big=f"batch {S.control_batch}", high_wd=f"wd x{S.high_wd_factor:g}",
                     reduced=reduced(S, [*MOD_USES, *CTRL_KNOBS]))


def draw_controls(R):
    return plots.line(R.table, "final_train_loss", "C", color="setting", log_x=True,
                      title="compressibility vs final train loss: main run and controls")


# %%
@paper_rules
def controls_claims(R):
    t = R.table
    big, fit_big = steady_fit(t[t.setting == R.big])
    hw = t[(t.setting == R.high_wd) & (t.final_test_acc >= 0.9)]
    main = t[t.setting.str.endswith("(main)") & (t.final_test_acc >= 0.9)]
    best_hw = hw.groupby("seed").kept_95.min()  # per seed: the most compressible alpha's kept share
    kept_hw = float(best_hw.median()) if len(best_hw) else float("nan")
    _, fit_main = steady_fit(t[t.setting.str.endswith("(main)")])  # the regime that batch 200 should remove
    has_regime = fit_main["n"] >= 3 and fit_main["r2"] >= 0.8
    return [
        nb.claim("batch 200 removes the compressive regime that the main batch shows (all seeds pooled; decided "
                 "only where the main run has it: R^2 >= 0.8)", "no C-loss line",
                 f"slope {fit_big['slope']:.3g}, R^2 {fit_big['r2']:.3f}, n={fit_big['n']} ({big.seed.nunique()} "
                 f"seeds); main batch R^2 {fit_main['r2']:.3f}, n={fit_main['n']}",
                 bool(not (fit_big["r2"] >= 0.8)) if fit_big["n"] >= 3 and has_regime else NAS),
        nb.claim("10x weight decay + low alpha: ~5% of weights keep 95% accuracy (per seed the best alpha; median "
                 "over seeds)", "32% -> 5%", f"main best {main.kept_95.min():.1%} -> {R.high_wd} best "
                 f"{kept_hw:.1%} [{best_hw.min():.1%}, {best_hw.max():.1%}] ({int((best_hw <= 0.1).sum())}/"
                 f"{len(best_hw)} seeds <= 10%)", bool(kept_hw <= 0.1) if np.isfinite(kept_hw) else NAS)]


if DO_MODADD:
    R_CTRL = controls(S)
    display(R_CTRL.table[["setting", "alpha", "final_train_loss", "final_test_acc", "C", "kept_95"]].round(4))
    display(export(draw_controls(R_CTRL), "fig5_modadd_controls"))
    show_claims(controls_claims(R_CTRL), R_CTRL)

# %%
if DO_MODADD:
    display(controls.panel(S, draw=draw_controls, claims=controls_claims))

# %% [markdown]
# ## Fig 6/7: features and compressibility through training
# At every checkpoint of the grokking (alpha=10) and learning (mod-add alpha=0.1, Ising alpha=1) members: mod-add
# mean IPR and compressibility; Ising FC-layer |rho_E| summary and compressibility. Paper: mod-add IPR keeps growing
# during the grokking plateau; the Ising model does not develop in its plateau; compressibility peaks right after
# the plateau (+50% learning, +67% grokking above the steady state in mod-add). We measure "hidden progress" as the
# share of the feature measure's total rise (init -> end) already there when the grokking net's test accuracy
# first crosses its bar (mod-add 0.5; Ising the |M| baseline): large for mod-add, small for Ising in the paper.
# Checkpoints span the whole run (paper: every 10 epochs up to 1000). In the paper profile (`ckpt_members="regimes"`)
# they come from a 2-member run of the two regime members (same init, data order and optimiser as in the sweep):
# 80 members x 174k parameters would be 56 MB per checkpoint.

# %%
def through_training(res, members, fracs, p=None):
    """Per checkpoint and member: epoch, alpha, C, the feature measure (mod-add mean_ipr / Ising fc1_rho_E),
    test_acc."""
    run, rows = res["run"], []
    for st in sorted(run.checkpoints):
        state = substate(run.checkpoints[st], members)
        C = pruning_table(res, fracs, state=state)[2]
        if isinstance(res["model"], IsingCNN):
            f = fc1_e(ising_features(res, state=run.checkpoints[st], members=members))
            extra = {"fc1_rho_E": [float(f.loc[m]) for m in members]}
        else:
            extra = {"mean_ipr": feat.mean_ipr(feat.onehot_mlp_ipr(state, p)).numpy().tolist()}
        rows += [dict(step=st, epoch=st / res["spe"], member=m, alpha=res["grid"][m]["alpha"], C=float(C[i]),
                      **{k: v[i] for k, v in extra.items()}) for i, m in enumerate(members)]
    h = run.history
    acc = h[(h.metric == "acc") & (h.split == "test")][["step", "member", "value"]].rename(columns={"value": "test_acc"})
    return pd.DataFrame(rows).merge(acc, on=["step", "member"], how="left")


# %%
@nb.section("dynamics", knobs=["epochs", "ckpt_every", "ising_epochs", "ising_ckpt_every"],
            uses=[*MOD_USES, *ISING_USES, "prune_points", "task"])
def dynamics(S) -> nb.Result:
    fracs, out = np.linspace(0, 1, S.prune_points), {}
    if S.task in ("modadd", "both"):
        res, regs = regime_run(S)
        out["modadd"] = through_training(res, regs, fracs, S.p)
    if S.task in ("ising", "both"):
        res = train_ising(S)
        regs = [members_of(res, a, S.seed)[0] for a in (GROK, S.ising_learn_alpha)]
        out["ising"] = through_training(res, regs, fracs)
        out["acc_absm"] = absm_baseline(S)
    return nb.Result(**out, p=S.p, reduced=reduced(S, [*MOD_USES, *ISING_USES, "prune_points"]))


# %%
def draw_dynamics(R):
    figs = []
    if "modadd" in R:
        figs.append(plots.measure_panels(R.modadd, ["mean_ipr", "C", "test_acc"], title=f"mod-add p={R.p} through "
                                         "training"))
    if "ising" in R:
        figs.append(plots.measure_panels(R.ising, ["fc1_rho_E", "C", "test_acc"], title="Ising CNN through training"))
    return figs


def hidden_progress(R):
    """(share of the feature measure's rise at the generalisation crossing, that epoch) per task (alpha=10)."""
    out = {}
    if "modadd" in R:
        d = R.modadd[R.modadd.alpha == GROK]
        out["modadd"] = regimes.share_before(d.epoch, d.mean_ipr, d.test_acc, 0.5)
    if "ising" in R:
        d = R.ising[R.ising.alpha == GROK]
        out["ising"] = regimes.share_before(d.epoch, d.fc1_rho_E, d.test_acc, R.acc_absm)
    return out


@paper_rules
def dynamics_claims(R):
    rows, hp = [], hidden_progress(R)
    if "modadd" in R:
        (rg, _), (rl, _) = [regimes.peak_ratio(*R.modadd[R.modadd.alpha == a][["epoch", "C"]].T.values)
                            for a in (GROK, LEARN)]
        rows.append(nb.claim("mod-add compressibility peaks transiently above its final level",
                             "+67% grokking, +50% learning", f"+{rg:.0%} grokking, +{rl:.0%} learning",
                             bool(rg > 0.1 and rl > 0.1)))
    if "modadd" in hp and "ising" in hp:
        (sm, em), (si, ei) = hp["modadd"], hp["ising"]
        ok = np.isfinite(sm) and np.isfinite(si)
        rows.append(nb.claim(
            "features form before the transition in mod-add (hidden progress) more than in Ising (share of the "
            "feature measure's rise already there when test acc crosses its bar; alpha=10)",
            "mod-add: IPR grows in the plateau; Ising: no development before the transition",
            f"mod-add mean IPR {sm:.0%} (test acc > 0.5 at epoch {em:g}); Ising fc1 E summary {si:.0%} (test acc > "
            f"|M| baseline at epoch {ei:g})", bool(sm > si) if ok else NAS))
    return rows


# %%
R_DYN = dynamics(S)
for name, d in (("modadd", R_DYN.data.get("modadd")), ("ising", R_DYN.data.get("ising"))):
    if d is not None:
        for a in sorted(d.alpha.unique(), reverse=True):
            r, e = regimes.peak_ratio(*d[d.alpha == a][["epoch", "C"]].T.values)
            print(f"{name} alpha={a:g}: compressibility peak +{r:.0%} over the final level, at epoch {e:g}")
print("hidden progress (share of the rise, epoch of the crossing):", hidden_progress(R_DYN))
for fig, name in zip(draw_dynamics(R_DYN), [k for k in ("modadd", "ising") if k in R_DYN]):
    display(export(fig, {"modadd": "fig6_modadd_dynamics", "ising": "fig7_ising_dynamics"}[name]))
show_claims(dynamics_claims(R_DYN), R_DYN)

# %%
display(dynamics.panel(S, draw=draw_dynamics, claims=dynamics_claims))

# %% [markdown]
# ## Fig 8: information-geometric path measures, and how unequal the Fisher diagonal is
# Diagonal Fisher information F (per-sample gradients with `torch.func`, labels from the model's own predictive
# distribution) at every checkpoint; steps s_k between checkpoints. Fisher cosine of consecutive steps
# `<s_k, s_k+1>_F / (|s_k|_F |s_k+1|_F)` and of each step with -theta (1 = pure weight decay), plus the
# Euclidean versions and the stiff (F >= 0.1 at the end) / sloppy split. Paper: the consecutive Fisher cosine
# rises, peaks near the learning time and decays; for the Ising grokking run it peaks near 1 (a straight path).
# Paper (Fig 25): Fisher diagonals are far more unequal (higher Gini) than the weights. We compare the two over the
# same parameters (the weight tensors), at the last checkpoint, and also show the Fisher Gini over all parameters.

# %%
FISHER_MEASURES = ["fisher_cos_consec", "euclid_cos_consec", "fisher_cos_origin", "fisher_step", "stiff_cos_consec",
                   "sloppy_cos_consec", "euclid_cos_origin", "euclid_step"]


def fisher_path(res, members, n_samples, seed):
    """Path measures per member and checkpoint step, and the Gini coefficients at the last checkpoint."""
    run, steps = res["run"], sorted(res["run"].checkpoints)
    ising = isinstance(res["model"], IsingCNN)
    X = res["table_data"].X[res["test"][:n_samples]] if ising else res["data"].X[res["split"].train[:n_samples]]
    model, thetas, Fs = submodel(res, members), [], []
    for st in steps:
        state = substate(run.checkpoints[st], members)
        F = fim.diag_fisher(model, X, params=state, seed=seed)
        Fs.append(fim.flatten(F))
        thetas.append(fim.flatten(state))
    out, ep = fim.trajectory_measures(thetas, Fs, stiff_cut=0.1), np.array(steps) / res["spe"]
    path = pd.DataFrame([dict(member=m, alpha=res["grid"][m]["alpha"], epoch=ep[k + 1],
                              **{n: float(v[i, k]) for n, v in out.items() if v.ndim == 2})
                         for i, m in enumerate(members) for k in range(len(steps) - 2)])
    wn = comp.weight_names(state)
    Fw, w = fim.flatten(F, wn), fim.flatten(state, wn)
    gini = pd.DataFrame([dict(member=m, alpha=res["grid"][m]["alpha"], gini_F_weights=float(comp.gini(Fw[i])),
                              gini_w=float(comp.gini(w[i])), gini_F_all=float(comp.gini(Fs[-1][i])))
                         for i, m in enumerate(members)])
    return path, gini


# %%
@nb.section("fisher", knobs=["fisher_samples"], uses=[*MOD_USES, *ISING_USES, "fisher_samples", "task"])
def fisher(S) -> nb.Result:
    out, ginis = {}, []
    if S.task in ("modadd", "both"):
        out["modadd"], g = fisher_path(*regime_run(S), S.fisher_samples, S.seed)
        ginis.append(g.assign(task="modadd"))
    if S.task in ("ising", "both"):
        res, base = train_ising(S), absm_baseline(S)
        regs = [members_of(res, a, S.seed)[0] for a in (GROK, S.ising_learn_alpha)]
        out["ising"], g = fisher_path(res, regs, S.fisher_samples, S.seed)
        ginis.append(g.assign(task="ising"))
        out["ising_grokked"] = bool(res["table"].final_test_acc[regs[0]] > base)
    return nb.Result(**out, gini=pd.concat(ginis, ignore_index=True), seed=S.seed, p=S.p,
                     learn_alpha=S.ising_learn_alpha, reduced=reduced(S, [*MOD_USES, *ISING_USES, "fisher_samples"]))

# %%
def draw_fisher(R):
    titles = {"modadd": f"mod-add p={R.p}: Fisher path measures", "ising": "Ising CNN: Fisher path measures"}
    return [plots.measure_panels(R[k], FISHER_MEASURES, cols=4, log_y=("fisher_step", "euclid_step"), title=t)
            for k, t in titles.items() if k in R]


def fisher_peak(df, alpha):
    d = df[df.alpha == alpha]
    return float(d.fisher_cos_consec.max()), float(d.epoch[d.fisher_cos_consec.idxmax()])


@paper_rules
def fisher_claims(R):
    rows = []
    if "ising" in R:
        (pk, ep), (pk_l, _) = fisher_peak(R.ising, GROK), fisher_peak(R.ising, R.learn_alpha)
        rows.append(nb.claim(f"Ising grokking: consecutive-step Fisher cosine peaks near 1 (seed {R.seed})", "~1",
                             f"{pk:.3f} at epoch {ep:g} (alpha={R.learn_alpha:g}: {pk_l:.3f})",
                             bool(pk >= 0.9) if R.ising_grokked else NAS))
    for task, g in R.gini.groupby("task", sort=False):
        g = g.sort_values("alpha", ascending=False)  # alpha=10, then the learning alpha
        rows.append(nb.claim(
            f"{task}: Fisher diagonals are more unequal than the weights (Gini over the same weight tensors, "
            f"alpha={' / '.join(f'{a:g}' for a in g.alpha)})", "Gini F > Gini |w|",
            f"Gini F {' / '.join(f'{v:.3f}' for v in g.gini_F_weights)}; Gini |w| "
            f"{' / '.join(f'{v:.3f}' for v in g.gini_w)} (Gini F over all parameters "
            f"{' / '.join(f'{v:.3f}' for v in g.gini_F_all)})", bool((g.gini_F_weights > g.gini_w).all())))
    return rows


# %%
R_FIM = fisher(S)
for k in ("modadd", "ising"):
    if k in R_FIM:
        for a in sorted(R_FIM[k].alpha.unique(), reverse=True):
            print(f"{k} alpha={a:g}: peak consecutive Fisher cosine %.3f at epoch %g" % fisher_peak(R_FIM[k], a))
display(R_FIM.gini.round(3))
for fig, name in zip(draw_fisher(R_FIM), [k for k in ("modadd", "ising") if k in R_FIM]):
    display(export(fig, f"fig8_{name}_fisher"))
show_claims(fisher_claims(R_FIM), R_FIM)

# %%
display(fisher.panel(S, draw=draw_fisher, claims=fisher_claims))

# %% [markdown]
# ## Fig 25: pruning schemes
# Layer-wise, naive global and layer-normalised global magnitude pruning of the same final models. Paper: the
# conclusions do not depend on the scheme, and more compressible models have larger Gini coefficients of |w|.

# %%
@nb.section("schemes", knobs=["prune_points"], uses=[*MOD_USES, *ISING_USES, "prune_points", "task"])
def schemes(S) -> nb.Result:
    fracs, rows = np.linspace(0, 1, S.prune_points), []
    runs = ([("modadd", main_modadd(S))] if S.task in ("modadd", "both") else []) + \
        ([("ising", train_ising(S))] if S.task in ("ising", "both") else [])
    for name, res in runs:
        st = res["run"].final_state
        w = fim.flatten({k: v for k, v in st.items() if k in comp.weight_names(st)})
        for scheme in comp.SCHEMES:
            C = pruning_table(res, fracs, scheme)[2]
            rows += [dict(task=name, scheme=scheme, alpha=g["alpha"], seed=g["seed"], C=float(C[m]),
                          gini_w=float(comp.gini(w[m]))) for m, g in enumerate(res["grid"])]
    return nb.Result(schemes=pd.DataFrame(rows))


def draw_schemes(R):
    med = R.schemes.groupby(["task", "scheme", "alpha"], as_index=False).C.median()
    return plots.faceted_lines(med, "alpha", "C", "scheme", "task", log_x=True, title="compressibility by pruning "
                               "scheme (median over seeds)")


R_SCH = schemes(S)
print("Gini of |w| by alpha (median over seeds):",
      R_SCH.schemes[R_SCH.schemes.scheme == "layer"].groupby(["task", "alpha"]).gini_w.median().round(3).to_dict())
display(export(draw_schemes(R_SCH), "fig25_pruning_schemes"))

# %%
display(schemes.panel(S, draw=draw_schemes))

# %% [markdown]
# ## Claims
# Each row: the paper's statement, its number, what this run measured, whether it holds here, the section it
# comes from and the scale it ran at. Rows marked checked are asserted in the ci profile (the next cell fails if
# they do not hold).

# %%
claims.save(S.output_dir, profile=S.profile, settings=dict(S))
claims

# %%
# NBVAL_CHECK_OUTPUT
claims.assert_checked(S.profile)

# %% [markdown]
# ## Try it yourself
# Every section above has its own panel: change its knobs and press **Run** to re-run only that section (runs
# done before load from the run store instantly) and redraw its figure and claims rows. Batch 200 should flatten
# the compressibility differences; a 10x weight decay makes low-alpha models extremely prunable; alpha=0.1 in the
# Ising grid shows the collapse under weight decay; fewer Ising epochs catch a grokking net still on its
# magnetisation plateau.
