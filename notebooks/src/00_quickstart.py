# %% [markdown]
# # Quickstart: watch a network grok
#
# *Grokking* (Power et al. 2022) is delayed generalisation: a network fits its training set early, then
# keeps training at ~100% train accuracy while test accuracy sits near chance, until, much later, test
# accuracy jumps to ~100% too. Here a small MLP learns modular arithmetic `a ∘ b mod p` from a fraction of
# all pairs (spec 01's model: `logits = ReLU((E_a + E_b) W_in) W_out W_U`, AdamW with weight decay).
#
# Everything below runs through `grokkit.train.fit` and is cached in the run store, so re-running a cell
# with the same settings is instant. In JupyterLab, use the panel at the end to change the task and train again.

# %% tags=["parameters"]
import os

profile = os.environ.get("GROKKIT_PROFILE", "demo")  # "ci" | "demo" | "paper"
seed = 0
device = "auto"
output_dir = None
p = None  # None: take the value of the profile
operation = None
train_frac = None
weight_decay = None
lr = None
steps = None

# %%
import grokkit
from grokkit import notebook as nb
from grokkit import plots
from grokkit.data import Data
from grokkit.models import EmbedMLPConfig, build
from grokkit.tasks import OPERATIONS, ModularTask, random_split
from grokkit.train import TrainConfig, fit

PROFILES = {
    # ci: a fast-grokking setting (lr 3e-3, all pairs) that finishes in seconds on 2 CPU cores
    "ci": dict(p=97, operation="add", pairs="all", train_frac=0.3, weight_decay=1.0, lr=3e-3, steps=3000),
    # demo / paper: spec 01's default (p=67, a<=b pairs, 40% train, AdamW 1e-3, wd 1): t_gen ~10k-25k steps
    "demo": dict(p=67, operation="add", pairs="unordered", train_frac=0.4, weight_decay=1.0, lr=1e-3, steps=30000),
    "paper": dict(p=67, operation="add", pairs="unordered", train_frac=0.4, weight_decay=1.0, lr=1e-3, steps=30000),
}
S = nb.settings("00_quickstart", profile, PROFILES, output_dir=output_dir, seed=seed, device=device, p=p,
                operation=operation, train_frac=train_frac, weight_decay=weight_decay, lr=lr, steps=steps)
print(f"grokkit {grokkit.__version__}, profile {S.profile!r}, writing to {S.output_dir}")
S


# %% [markdown]
# ## Train
# One function does the whole experiment: build the task table and a random split, build the model, and
# call `fit`. The live plot (in JupyterLab) updates every `eval_every` steps; headless runs skip it.


# %%
def quickstart(p, operation, train_frac, weight_decay, lr, steps, seed=S.seed, live=False):
    task = ModularTask(p=p, operation=operation, pairs=S.pairs)
    split = random_split(task, train_frac, seed=seed)
    data = Data(task.inputs("pairs"), task.y, split.train, split.test)
    model = build(EmbedMLPConfig(p=p), seeds=[seed])
    cfg = TrainConfig(steps=steps, lr=lr, weight_decay=weight_decay, eval_every=50, early_stop_patience=500,
                      device=S.device)
    callbacks = []
    if live:
        fig = plots.live_curves(f"{task.description}, {len(split.train)} training pairs")
        from IPython.display import display
        display(fig)
        callbacks.append(plots.live_callback(fig))
    run = fit(model, data, cfg, callbacks=callbacks, desc=f"{operation} mod {p}")
    return task, split, run


task, split, run = quickstart(S.p, S.operation, S.train_frac, S.weight_decay, S.lr, S.steps)
t = run.times.iloc[0]
print(f"{task.description}: {len(split.train)} train / {len(split.test)} test pairs; "
      f"t_mem = {t.t_mem:.0f}, t_gen = {t.t_gen:.0f} steps; "
      f"{run.meta['steps_run']} steps, " + ("loaded from the run store" if run.meta["loaded_from_store"]
                                           else f"trained in {run.meta['wall_s']:.1f} s"))

# %% [markdown]
# ## The grokking curve
# Train accuracy (blue) reaches 100% at `t_mem`; test accuracy (red) stays low for a long time and then
# rises at `t_gen`. The step axis is logarithmic: the plateau between the dotted lines is the delay.

# %%
fig = plots.training_curves(run, member=0, title=f"Grokking on {task.description} (seed {S.seed})")
plots.export(fig, S.output_dir, "quickstart_curves")
fig

# %% [markdown]
# ## Claims
# The one claim of this notebook: train accuracy reaches 1 long before test accuracy does (`t_gen / t_mem`
# is large). Its number is printed beside the paper's; `results.json` in the output folder holds the same table.

# %%
claims = nb.Claims()
ratio = t.t_gen / max(t.t_mem, 1)
final_test = float(run.summary().loc[0, "final_test_acc"])
claims.add("the model generalises (test acc >= 0.95)", "~1.0", round(final_test, 4), final_test >= 0.95, checked=True)
claims.add("train acc reaches 1 long before test acc (t_gen / t_mem)", "t_gen >> t_mem (grokking)",
           f"t_mem={t.t_mem:.0f}, t_gen={t.t_gen:.0f}, ratio={ratio:.1f}", bool(ratio >= 3), checked=True)
claims.save(S.output_dir, profile=S.profile, settings=dict(S), t_mem=t.t_mem, t_gen=t.t_gen, tau_grok=ratio,
            final_test_acc=final_test, steps_run=run.meta["steps_run"])
claims

# %%
# NBVAL_CHECK_OUTPUT
claims.assert_checked()

# %% [markdown]
# ## Try it yourself
# Change the operation (`sub`, `mul`, `x2y2`, ... or `rand`, a random table that cannot generalise), the
# prime, the training fraction or the weight decay and press **Run**. Small training fractions or zero weight
# decay delay grokking or remove it; runs you have done before load from the run store instantly.

# %%
from grokkit import widgets


def explore(p, operation, train_frac, weight_decay, steps):
    _, _, r = quickstart(p, operation, train_frac, weight_decay, S.lr, steps, live=True)
    return plots.training_curves(r, member=0, title=f"{operation} mod {p}, train_frac {train_frac}, wd {weight_decay}")


widgets.panel(explore, S, p=[23, 31, 47, 59, 67, 97, 113], operation=list(OPERATIONS), train_frac=(0.1, 0.9, 0.05),
              weight_decay=(0.0, 3.0, 0.1), steps=(1000, 50000, 1000))
