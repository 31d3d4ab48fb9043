"""The one training loop: `fit(model, data, TrainConfig(...))`.

Every experiment in grokkit trains through `fit`. It trains an ensemble (E same-shaped models with
stacked parameters, see grokkit.models) with one optimizer step for all members; each member has its
own seed, init, learning rate, weight decay, mask and training set, and its history comes out as if
it had been trained alone.

Step convention: metrics logged at step s belong to the parameters after s optimizer steps
(theta_s). Train metrics come from the training forward pass itself (full batch: every step, no extra
cost); test metrics every `eval_every` steps and at the last step.
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import store as store_mod
from . import validate
from .data import Data, padded
from .losses import cross_entropy_rows
from .models.base import EnsembleModule

OPTIMIZERS = ("adamw", "adam", "sgd")
LOSSES = ("ce", "mse")
LOSS_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class TrainConfig:
    """Everything about how a model is trained (validated on construction).

    lr, weight_decay: a number, or one value per ensemble member.
    optimizer: "adamw" (decoupled weight decay), "adam" (coupled L2: wd * theta added to the gradient),
        "sgd" (gradient descent, coupled L2; with heavy-ball `momentum` as torch.optim.SGD).
    momentum: SGD momentum (torch.optim.SGD's: buf = momentum * buf + g, theta -= lr * buf); "sgd" only.
    batch_size: None = full batch; otherwise per-member minibatches (one epoch = a pass over the
        member's own training rows, reshuffled per epoch from data_seed + member).
    loss: "ce" (cross-entropy) or "mse" (to one-hot for class labels, to the target for regression).
    eval_log_steps: also evaluate at ~log-spaced early steps (1, 2, 3, 4, 6, 8, 11, ...) below 10 * eval_every,
        so that log-step plots have a smooth start.
    threshold: the accuracy P that defines t_mem / t_gen (first step with acc > P).
    regression_tol: for float targets, "accuracy" = share of rows with squared error < regression_tol.
    warmup_steps, warmup_start: linear learning-rate warm-up over the first `warmup_steps` updates.
        warmup_start=None (default): lr * (step + 1) / warmup_steps at update step = 0, 1, ... (lr / warmup_steps
        at the first update, the full lr from update warmup_steps - 1 on). A number f in [0, 1]: lr * (f + (1 - f)
        * step / warmup_steps), the full lr from update warmup_steps on; f = 0 is the LambdaLR(min(step / W, 1))
        of Nanda et al. and the uniformity paper's code (the first update has lr 0). See `lr_scale`.
    early_stop_patience: stop once every member has t_gen and `patience` more steps have run.
    checkpoint_steps: parameter snapshots kept with the run (step 0 = theta_0 is always kept).
    """

    steps: int = 1000
    lr: float | tuple[float, ...] = 1e-3
    weight_decay: float | tuple[float, ...] = 1.0
    optimizer: str = "adamw"
    betas: tuple[float, float] = (0.9, 0.98)
    momentum: float = 0.0
    eps: float = 1e-8
    warmup_steps: int = 0
    warmup_start: float | None = None
    grad_clip: float | None = None
    batch_size: int | None = None
    loss: str = "ce"
    loss_dtype: str = "float32"
    eval_every: int = 100
    eval_log_steps: bool = True
    threshold: float = 0.95
    regression_tol: float = 0.01
    early_stop_patience: int | None = None
    checkpoint_steps: tuple[int, ...] = ()
    data_seed: int = 0
    device: str = "auto"

    def __post_init__(self):
        validate.integer("steps", self.steps, min_value=1)
        validate.number("eps", self.eps, min_value=0, strict=True)
        validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        validate.choice("loss", self.loss, LOSSES)
        validate.choice("loss_dtype", self.loss_dtype, LOSS_DTYPES)
        for name in ("lr", "weight_decay"):
            v = getattr(self, name)
            if isinstance(v, (list, tuple)):
                object.__setattr__(self, name, tuple(validate.number(name, x, min_value=0) for x in v))
            else:
                validate.number(name, v, min_value=0)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas={self.betas} must be two numbers in [0, 1)")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        validate.fraction("momentum", self.momentum, closed_low=True)
        if self.momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum={self.momentum} is SGD's: optimizer={self.optimizer!r} has betas instead")
        object.__setattr__(self, "momentum", float(self.momentum))
        validate.integer("warmup_steps", self.warmup_steps, min_value=0)
        if self.warmup_start is not None:
            validate.fraction("warmup_start", self.warmup_start, closed_low=True, closed_high=True)
            if not self.warmup_steps:
                raise ValueError(f"warmup_start={self.warmup_start} needs warmup_steps > 0 (no warm-up to start)")
            object.__setattr__(self, "warmup_start", float(self.warmup_start))
        if self.grad_clip is not None:
            validate.number("grad_clip", self.grad_clip, min_value=0, strict=True)
        if self.batch_size is not None:
            validate.integer("batch_size", self.batch_size, min_value=1)
        validate.integer("eval_every", self.eval_every, min_value=1)
        validate.fraction("threshold", self.threshold, closed_low=True)
        if self.early_stop_patience is not None:
            validate.integer("early_stop_patience", self.early_stop_patience, min_value=0)
        steps = tuple(sorted({validate.integer("checkpoint_steps", s, min_value=0, max_value=self.steps)
                              for s in self.checkpoint_steps}))
        object.__setattr__(self, "checkpoint_steps", steps)
        object.__setattr__(self, "device", validate.device("device", self.device))


def lr_scale(cfg: TrainConfig, step: int) -> float:
    """The factor on the learning rate at update `step` (0 = the first update): the warm-up of `TrainConfig`."""
    W = cfg.warmup_steps
    if not W:
        return 1.0
    if cfg.warmup_start is None:
        return min(1.0, (step + 1) / W)
    f = cfg.warmup_start
    return min(1.0, f + (1.0 - f) * step / W)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


# ---- optimizer -----------------------------------------------------------------------------
class EnsembleAdam:
    """Adam/AdamW/SGD with a learning rate and weight decay per ensemble member: the same update as
    torch.optim.AdamW (decoupled), Adam (coupled L2) or SGD per member, to float tolerance."""

    def __init__(self, params: list[torch.nn.Parameter], lr, wd, cfg: TrainConfig):
        self.params = params
        self.kind = cfg.optimizer
        self.b1, self.b2 = cfg.betas
        self.momentum = cfg.momentum
        self.eps = cfg.eps
        self.t = 0
        dev = params[0].device
        self.lr = torch.tensor(lr, dtype=torch.float32, device=dev)
        self.wd = torch.tensor(wd, dtype=torch.float32, device=dev)
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @staticmethod
    def _view(t, p):
        return t.view(-1, *([1] * (p.dim() - 1)))

    @torch.no_grad()
    def step(self, lr_scale: float = 1.0):
        self.t += 1
        bc1 = 1 - self.b1**self.t
        bc2_sqrt = math.sqrt(1 - self.b2**self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            if g is None:
                continue
            lr, wd = self._view(self.lr, p) * lr_scale, self._view(self.wd, p)
            if self.kind != "adamw":
                g = g + p * wd
            if self.kind == "sgd":
                if self.momentum:  # torch.optim.SGD: the buffer starts at the first gradient (m = 0 * mu + g)
                    m.mul_(self.momentum).add_(g)
                    g = m
                p.sub_(g * lr)
                continue
            p.mul_(1 - lr * wd)
            m.lerp_(g, 1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            p.sub_((lr / bc1) * m / (v.sqrt() / bc2_sqrt).add_(self.eps))

    def state(self) -> dict:
        return {"t": self.t, "m": [x.cpu() for x in self.m], "v": [x.cpu() for x in self.v]}

    def load(self, state: dict):
        self.t = state["t"]
        for dst, src in zip(self.m + self.v, state["m"] + state["v"]):
            dst.copy_(src)


class SharedOptimizer:
    """Every member has the same lr and weight decay: torch's own optimizer over the stacked parameters
    (elementwise, so per member it is exactly the single-model update), with its fused or multi-tensor
    kernels (few kernel launches per step: what matters on a GPU)."""

    def __init__(self, params, lr: float, wd: float, cfg: TrainConfig):
        self.lr = lr
        kw = dict(lr=lr, weight_decay=wd)
        if cfg.optimizer == "sgd":
            cls, extra = torch.optim.SGD, dict(momentum=cfg.momentum)
        else:
            cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
            extra = dict(betas=cfg.betas, eps=cfg.eps)
        try:
            self.opt = cls(params, **kw, **extra, fused=True)
        except (RuntimeError, TypeError, ValueError):
            self.opt = cls(params, **kw, **extra, foreach=True)

    def step(self, lr_scale: float = 1.0):
        if lr_scale != 1.0 or self.opt.param_groups[0]["lr"] != self.lr:
            self.opt.param_groups[0]["lr"] = self.lr * lr_scale
        self.opt.step()

    def state(self) -> dict:
        return self.opt.state_dict()

    def load(self, state: dict):
        self.opt.load_state_dict(state)


def make_optimizer(params, lrs, wds, cfg: TrainConfig):
    if len(set(lrs)) == 1 and len(set(wds)) == 1:
        return SharedOptimizer(params, lrs[0], wds[0], cfg)
    return EnsembleAdam(params, lrs, wds, cfg)


# ---- contexts handed to user code -----------------------------------------------------------
@dataclass
class StepContext:
    """What an extra loss term sees: the training forward pass of this step."""

    step: int
    model: EnsembleModule
    x: torch.Tensor  # (E, B, ...) inputs
    y: torch.Tensor  # (E, B) labels / targets
    weights: torch.Tensor  # (E, B) per-row weights (1/n per valid row, 0 for padding)
    logits: torch.Tensor  # (E, B, C)
    task_loss: torch.Tensor  # (E,) per-member task loss (differentiable)


@dataclass
class EvalContext:
    """What a callback sees at an evaluation step (no gradients)."""

    step: int
    model: EnsembleModule
    data: Data
    device: torch.device
    metrics: dict[str, torch.Tensor]  # "train/acc", "test/loss", ... -> (E,)
    history: Callable[[], pd.DataFrame] = field(repr=False, default=None)


# ---- results -----------------------------------------------------------------------------
@dataclass
class Run:
    """A finished (or early-stopped) training run of an ensemble."""

    config: TrainConfig
    history: pd.DataFrame  # tidy: step, member, split, metric, value
    times: pd.DataFrame  # member, t_mem, t_gen, tau_grok (NaN when never reached), diverged, diverged_step,
    #                      diverged_cause ("" for healthy members)
    checkpoints: dict[int, dict[str, torch.Tensor]]  # step -> stacked parameters (CPU)
    final_state: dict[str, torch.Tensor]
    key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_members(self) -> int:
        return int(self.history["member"].max()) + 1 if len(self.history) else 0

    def curves(self, member: int | None = None, split: str | None = None) -> pd.DataFrame:
        """Wide table: one row per (step, member), one column per split/metric."""
        h = self.history
        if member is not None:
            h = h[h.member == member]
        if split is not None:
            h = h[h.split == split]
        w = h.assign(col=h.split + "_" + h.metric).pivot_table(
            index=["step", "member"], columns="col", values="value", aggfunc="last")
        return w.reset_index()

    def member_state(self, member: int, step: int | None = None) -> dict[str, torch.Tensor]:
        """Parameters of one member (1-member stacked form) at a checkpoint step (None = final)."""
        state = self.final_state if step is None else self.checkpoints[step]
        return {k: v[member : member + 1].clone() for k, v in state.items()}

    def summary(self) -> pd.DataFrame:
        """Per member: grokking times, divergence, and final metrics (the value at the last logged step, NaN
        for a member that diverged: never a stale earlier value)."""
        h = self.history.sort_values("step", kind="stable")
        last = h.groupby(["member", "split", "metric"]).tail(1).set_index(["member", "split", "metric"]).value
        last = last.unstack(["split", "metric"])
        last.columns = [f"final_{s}_{m}" for s, m in last.columns]
        return self.times.set_index("member").join(last).reset_index()


def grokking_times(history: pd.DataFrame, threshold: float = 0.95) -> pd.DataFrame:
    """t_mem = first step with train acc > P; t_gen = first step with test acc > P;
    tau_grok = t_gen / t_mem (t_mem = 0 counts as 1 to avoid dividing by zero)."""
    rows = []
    members = sorted(history["member"].unique()) if len(history) else []
    acc = history[history.metric == "acc"]
    for m in members:
        out = {"member": int(m)}
        for split, name in (("train", "t_mem"), ("test", "t_gen")):
            s = acc[(acc.member == m) & (acc.split == split)].sort_values("step")
            hit = s[s.value > threshold]
            out[name] = float(hit.step.iloc[0]) if len(hit) else float("nan")
        out["tau_grok"] = out["t_gen"] / max(out["t_mem"], 1.0) if not math.isnan(out["t_mem"]) else float("nan")
        rows.append(out)
    return pd.DataFrame(rows, columns=["member", "t_mem", "t_gen", "tau_grok"])


# ---- the loop ------------------------------------------------------------------------------
def _task_loss(logits, y, weights, cfg: TrainConfig, classification: bool):
    """Per-member loss (E,) and accuracy (E,)."""
    dtype = torch.float64 if cfg.loss_dtype == "float64" else torch.float32
    E, B = weights.shape
    if classification:
        C = logits.shape[-1]
        if cfg.loss == "ce":
            per_row = cross_entropy_rows(logits.reshape(E * B, C), y.reshape(-1), dtype)
        else:
            target = F.one_hot(y, C).to(dtype)
            per_row = (logits.to(dtype) - target).pow(2).mean(-1).reshape(-1)
        correct = (logits.argmax(-1) == y).to(weights.dtype)
    else:
        pred = logits.reshape(y.shape) if logits.numel() == y.numel() else logits
        err = (pred.to(dtype) - y.to(dtype)).pow(2)
        per_row = err.reshape(E, B, -1).mean(-1).reshape(-1)
        correct = (err.reshape(E, B, -1).mean(-1) < cfg.regression_tol).to(weights.dtype)
    loss = (per_row.view(E, B) * weights.to(dtype)).sum(1)
    acc = (correct * weights).sum(1)
    return loss, acc


def _gather(data: Data, idx: torch.Tensor, X: torch.Tensor, Y: torch.Tensor):
    x = X[idx]
    if data.per_member_labels:
        y = torch.gather(Y, 1, idx)
    else:
        y = Y[idx]
    return x, y


class _Snapshotter:
    """Periodic saves of the whole training state so an interrupted run resumes where it stopped."""

    def __init__(self, store, key, every_s):
        self.store, self.key, self.every_s = store, key, every_s
        self.last = time.time()

    def maybe(self, make_state, force=False):
        if self.store is None or self.key is None:
            return
        if force or (self.every_s is not None and time.time() - self.last > self.every_s):
            saved = self.store.save(self.key, make_state(), suffix=".partial")
            self.last = time.time()
            return saved


def _check_inputs(model: EnsembleModule, data: Data, masks, trainable) -> Data:
    """Phase 1: the model, data, masks and trainable names agree (an ensemble-shaped Data)."""
    if data.n_members != model.n_members:
        if data.n_members == 1:
            data = Data(data.X, data.y, data.train[0], data.test[0], n_members=model.n_members)
        else:
            raise ValueError(f"data has {data.n_members} members but the model has {model.n_members}")
    names = [n for n, _ in model.named_parameters()]
    if trainable is not None:
        unknown = set(trainable) - set(names)
        if unknown:
            raise ValueError(f"trainable names {sorted(unknown)} are not parameters; parameters: {names}")
    if masks:
        unknown = set(masks) - set(names)
        if unknown:
            raise ValueError(f"masks for {sorted(unknown)} do not match parameters {names}")
    return data


def _apply_masks(model: EnsembleModule, masks, device):
    """Phase 2: masks on the device as bool tensors, pruned weights zeroed."""
    if not masks:
        return masks
    masks = {k: v.to(device=device, dtype=torch.bool) for k, v in masks.items()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in masks:
                if masks[n].shape != p.shape:
                    raise ValueError(f"mask {n} has shape {tuple(masks[n].shape)}, parameter {tuple(p.shape)}")
                p.mul_(masks[n])
    return masks


# TrainConfig fields added after runs were stored: left out of the key at these defaults, so those runs keep their keys
KEY_DEFAULTS_LEFT_OUT = {"warmup_start": None, "momentum": 0.0}


def _run_key(model, data, cfg, extra_losses, after_step, callbacks, masks, trainable, key_extra) -> str:
    """Phase 3: the run-store key: everything that determines the run (not the device)."""
    return store_mod.config_key(
        model=type(model).__qualname__, model_config=model.config,
        init={n: p for n, p in model.state_dict().items()}, data=data.fingerprint(),
        train={k: v for k, v in asdict(cfg).items()
               if k != "device" and not (k in KEY_DEFAULTS_LEFT_OUT and v == KEY_DEFAULTS_LEFT_OUT[k])},
        extra_losses=list(extra_losses), after_step=list(after_step), callbacks=list(callbacks),
        masks=masks or {}, trainable=list(trainable) if trainable is not None else None,
        extra=key_extra,
    )


class _Loop:
    """The training loop of `fit`, split into its phases: tensors on the device (`__init__`), resume from a
    snapshot (`restore`), the training forward pass (`forward`), evaluation + logging (`evaluate_and_log`),
    the update (`update`) and the finished Run (`finish`). Everything a snapshot needs is an attribute."""

    def __init__(self, model, data, cfg, device, *, masks, trainable, extra_losses, after_step, callbacks):
        self.model, self.data, self.cfg, self.device = model, data, cfg, device
        self.masks, self.extra_losses, self.after_step, self.callbacks = masks, extra_losses, after_step, callbacks
        self.augment = None
        E = self.E = model.n_members
        self.lrs = lrs = validate.per_member("lr", cfg.lr, E, min_value=0)
        self.wds = wds = validate.per_member("weight_decay", cfg.weight_decay, E, min_value=0)
        self.params = [p for n, p in model.named_parameters() if trainable is None or n in trainable]
        pnames = [n for n, _ in model.named_parameters() if trainable is None or n in trainable]
        for n, p in model.named_parameters():
            p.requires_grad_(trainable is None or n in trainable)
        self.opt = make_optimizer(self.params, lrs, wds, cfg)
        self.pmasks = [masks.get(n) if masks else None for n in pnames]

        self.X = data.X.to(device)
        self.Y = data.y.to(device)
        self.classification = data.is_classification
        self.tr_idx, tr_valid, tr_count = padded(data.train, device)
        self.te_idx, te_valid, te_count = padded(data.test, device)
        self.tr_w = tr_valid.float() / tr_count[:, None].float()
        self.te_w = te_valid.float() / te_count.clamp(min=1)[:, None].float()
        self.full_batch = cfg.batch_size is None
        if self.full_batch:
            self.x_tr, self.y_tr = _gather(data, self.tr_idx, self.X, self.Y)

        # ---- state (everything a snapshot needs)
        self.train_buf = torch.full((cfg.steps + 1, 2, E), float("nan"), device=device)  # loss, acc
        self.records: list[tuple[int, str, str, np.ndarray]] = []  # (step, split, metric, values(E,))
        self.checkpoints: dict[int, dict[str, torch.Tensor]] = {}
        self.gens = [torch.Generator().manual_seed(cfg.data_seed * 1000003 + m) for m in range(E)]
        self.t_gen = np.full(E, np.nan)
        # divergence: first step with a non-finite loss per member (-1: none), tracked on the device without a
        # sync; read at evaluation steps. Diverged members are frozen (no update) while the others go on.
        self.first_bad = torch.full((E,), -1, dtype=torch.long, device=device)
        self.diverged: dict[int, dict] = {}  # member -> {"step", "cause"}
        self.frozen: list[torch.Tensor] | None = None  # parameter values the diverged members are held at
        with torch.no_grad():
            sq = sum(p.detach().double().pow(2).reshape(E, -1).sum(1) for p in self.params)
            n = sum(p[0].numel() for p in self.params)
            self.init_rms = (sq / max(n, 1)).sqrt().cpu().numpy() if self.params else np.zeros(E)
        self.start_step = 0
        self.wall0 = 0.0
        self.t0 = time.time()

        self.ckpt_steps = set(cfg.checkpoint_steps) | {0}
        self.extra_eval = set()
        if cfg.eval_log_steps:
            extra_eval = {int(round(1.35**k)) for k in range(60)} - {0}
            self.extra_eval = {s for s in extra_eval if s < 10 * cfg.eval_every}
        # minibatch machinery: per-member permutations of its own rows, per epoch
        self.epoch_perm = [None] * E
        self.counts_list = [len(s) for s in data.train]

    # ---- snapshots
    def restore(self, partial: dict):
        self.model.load_state_dict({k: v.to(self.device) for k, v in partial["params"].items()})
        self.opt.load(partial["opt"])
        self.train_buf.copy_(partial["train_buf"].to(self.device))
        self.records = partial["records"]
        self.checkpoints = partial["checkpoints"]
        for g, s in zip(self.gens, partial["gens"]):
            g.set_state(s)
        self.t_gen = partial["t_gen"]
        self.start_step = partial["step"]
        self.wall0 = partial.get("wall", 0.0)
        if "epoch_perm" in partial:
            self.epoch_perm = list(partial["epoch_perm"])
        if "torch_rng" in partial:
            torch.set_rng_state(partial["torch_rng"])
        self.first_bad.copy_(partial.get("first_bad", self.first_bad.cpu()).to(self.device))
        self.diverged = dict(partial.get("diverged", {}))
        if partial.get("frozen") is not None:
            self.frozen = [f.to(self.device) for f in partial["frozen"]]
        for obj, st in zip(self.stateful(), partial.get("hooks", [])):
            obj.load_state_dict(st)

    def state(self, step: int) -> dict:
        return {
            "params": self.params_now(), "opt": self.opt.state(), "train_buf": self.train_buf.cpu(),
            "records": self.records, "checkpoints": self.checkpoints, "gens": [g.get_state() for g in self.gens],
            "t_gen": self.t_gen, "step": step, "wall": self.wall0 + time.time() - self.t0,
            "epoch_perm": list(self.epoch_perm), "torch_rng": torch.get_rng_state(),
            "first_bad": self.first_bad.cpu(), "diverged": dict(self.diverged),
            "frozen": [f.cpu() for f in self.frozen] if self.frozen is not None else None,
            "hooks": [obj.state_dict() for obj in self.stateful()],
        }

    def stateful(self) -> list:
        """Extra losses, after-step hooks and callbacks that keep state across steps (they define state_dict /
        load_state_dict): their state is part of a snapshot, so that a resumed run is exact."""
        objs = [*self.extra_losses, *self.after_step, *self.callbacks]
        return [o for o in objs if callable(getattr(o, "state_dict", None))
                and callable(getattr(o, "load_state_dict", None))]

    def params_now(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def history_df(self, upto: int | None = None) -> pd.DataFrame:
        return _history(self.train_buf, self.records, self.E, upto=upto, full_batch=self.full_batch,
                        diverged_at={m: d["step"] for m, d in self.diverged.items()})

    # ---- one step
    def minibatch(self, step):
        B, E = self.cfg.batch_size, self.E
        idx_rows = []
        for m in range(E):
            n = self.counts_list[m]
            per_epoch = max(1, math.ceil(n / B))
            j = step % per_epoch
            if j == 0 or self.epoch_perm[m] is None:
                self.epoch_perm[m] = torch.randperm(n, generator=self.gens[m])
            pos = self.epoch_perm[m][j * B : (j + 1) * B]
            idx_rows.append(self.data.train[m][pos])
        b_max = max(len(r) for r in idx_rows)
        idx = torch.zeros(E, b_max, dtype=torch.long)
        w = torch.zeros(E, b_max)
        for m, r in enumerate(idx_rows):
            idx[m, : len(r)] = r
            w[m, : len(r)] = 1.0 / len(r)
        return idx.to(self.device), w.to(self.device)

    def forward(self, step: int, need_grad: bool):
        """The training forward pass at theta_step: per-member task loss and accuracy (the train metrics of
        this step), the extra loss terms, and the total to differentiate."""
        if self.full_batch:
            x, y, w = self.x_tr, self.y_tr, self.tr_w
        else:
            bidx, w = self.minibatch(step)
            x, y = _gather(self.data, bidx, self.X, self.Y)
        if self.augment is not None:
            x = self.augment(x, step)
        with torch.set_grad_enabled(need_grad):
            logits = self.model(x)
            loss_e, acc_e = _task_loss(logits, y, w, self.cfg, self.classification)
            total = loss_e.sum()
            extra_vals = {}
            for i, fn in enumerate(self.extra_losses):
                ctx = StepContext(step, self.model, x, y, w, logits, loss_e)
                term = fn(ctx)
                extra_vals[getattr(fn, "name", f"extra_loss{i}")] = term
                total = total + term.sum()
        if self.full_batch:
            self.train_buf[step, 0] = loss_e.detach().float()
            self.train_buf[step, 1] = acc_e.detach().float()
        bad = ~torch.isfinite(loss_e.detach())
        for v in extra_vals.values():
            bad = bad | ~torch.isfinite(v.detach())
        self.first_bad = torch.where((self.first_bad < 0) & bad, step, self.first_bad)
        return loss_e, acc_e, extra_vals, total

    def evaluate(self):
        """Test (and, for minibatch training, full train) metrics at theta_step."""
        out = {}
        with torch.no_grad():
            sets = [("test", self.te_idx, self.te_w)]
            if not self.full_batch:
                sets.append(("train", self.tr_idx, self.tr_w))
            for split, idx, w in sets:
                if idx.shape[1] == 0:
                    continue
                x, y = _gather(self.data, idx, self.X, self.Y)
                loss, acc = _task_loss(self.model(x), y, w, self.cfg, self.classification)
                out[f"{split}/loss"], out[f"{split}/acc"] = loss.float(), acc.float()
        return out

    def log(self, step, metrics: dict[str, torch.Tensor]):
        for name, vals in metrics.items():
            split, metric = name.split("/", 1) if "/" in name else ("extra", name)
            v = vals.detach().float().cpu().numpy() if isinstance(vals, torch.Tensor) else np.asarray(vals, float)
            self.records.append((step, split, metric, np.broadcast_to(v, (self.E,)).copy()))

    def run_callbacks(self, step, metrics):
        if not self.callbacks:
            return
        ctx = EvalContext(step=step, model=self.model, data=self.data, device=self.device, metrics=metrics,
                          history=lambda: self.history_df(upto=step))
        with torch.no_grad():
            for cb in self.callbacks:
                out = cb(ctx)
                if out:
                    self.log(step, out)

    def evaluate_and_log(self, step, loss_e, acc_e, extra_vals) -> dict[str, torch.Tensor]:
        """Evaluation step: test metrics, logging, callbacks, newly generalised members."""
        metrics = self.evaluate()
        for name in ("test/loss", "train/loss"):
            if name in metrics:  # a model that overflows on the evaluation rows has diverged too
                bad = ~torch.isfinite(metrics[name]).to(self.first_bad.device)
                self.first_bad = torch.where((self.first_bad < 0) & bad, step, self.first_bad)
        self.check_divergence()
        if self.diverged:  # a diverged member's metrics are NaN, not the accuracy of argmax(NaN) = class 0
            dead = torch.tensor(sorted(self.diverged), device=self.device)
            metrics = {k: v.float().index_fill(0, dead.to(v.device), float("nan")) for k, v in metrics.items()}
            loss_e = loss_e.detach().float().index_fill(0, dead, float("nan"))
            acc_e = acc_e.detach().float().index_fill(0, dead, float("nan"))
        if self.full_batch:
            metrics["train/loss"], metrics["train/acc"] = loss_e.detach().float(), acc_e.detach().float()
        for name, v in extra_vals.items():
            metrics[f"train/{name}"] = v.detach().float()
        self.log(step, {k: v for k, v in metrics.items() if not (self.full_batch and k in ("train/loss", "train/acc"))})
        self.run_callbacks(step, metrics)
        if "test/acc" in metrics:
            acc_np = metrics["test/acc"].cpu().numpy()
            newly = np.isnan(self.t_gen) & (acc_np > self.cfg.threshold)
            self.t_gen[newly] = step
        return metrics

    def check_divergence(self):
        """Mark members whose loss became non-finite: diverged at that step (with the member's lr, weight
        decay and initial parameter RMS as the likely cause), frozen from now on."""
        first = self.first_bad.cpu().numpy()
        new = [m for m in np.nonzero(first >= 0)[0].tolist() if m not in self.diverged]
        if not new:
            return
        with torch.no_grad():
            if self.frozen is None:
                self.frozen = [p.detach().clone() for p in self.params]
            for m in new:
                step = int(first[m])
                cause = (f"loss non-finite at step {step}: lr={self.lrs[m]:g}, weight_decay={self.wds[m]:g}, "
                         f"initial parameter RMS={self.init_rms[m]:.3g}")
                self.diverged[m] = {"step": step, "cause": cause}
                for f, p in zip(self.frozen, self.params):
                    f[m].copy_(p[m])

    def alive_view(self, p: torch.Tensor) -> torch.Tensor:
        alive = torch.ones(self.E, dtype=torch.bool, device=p.device)
        alive[sorted(self.diverged)] = False
        return alive.view(-1, *([1] * (p.dim() - 1)))

    def should_stop(self, step) -> bool:
        pat = self.cfg.early_stop_patience
        t_gen = np.delete(self.t_gen, sorted(self.diverged))  # diverged members never generalise: don't wait
        if not len(t_gen):
            return True  # every member diverged
        return pat is not None and not np.isnan(t_gen).any() and step >= np.nanmax(t_gen) + pat

    def update(self, step, total):
        """Backward + update: theta_step -> theta_{step+1} (masks, clipping, warm-up, after-step hooks)."""
        cfg, params, E = self.cfg, self.params, self.E
        for p in params:
            p.grad = None
        total.backward()
        if self.diverged:  # diverged members get no update (their gradients are NaN/inf)
            for p in params:
                if p.grad is not None:
                    p.grad = torch.where(self.alive_view(p), p.grad, 0.0)
        if self.pmasks and self.masks:
            for p, mk in zip(params, self.pmasks):
                if mk is not None and p.grad is not None:
                    p.grad.mul_(mk)
        if cfg.grad_clip is not None:
            sq = sum(p.grad.pow(2).reshape(E, -1).sum(1) for p in params if p.grad is not None)
            scale = (cfg.grad_clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
            for p in params:
                if p.grad is not None:
                    p.grad.mul_(scale.view(-1, *([1] * (p.dim() - 1))))
        self.opt.step(lr_scale(cfg, step))
        if self.masks:
            with torch.no_grad():
                for p, mk in zip(params, self.pmasks):
                    if mk is not None:
                        p.mul_(mk)
        for hook in self.after_step:
            with torch.no_grad():
                hook(self.model, step + 1)
        if self.diverged:  # ... and stay where they were frozen (decoupled weight decay would still move them)
            with torch.no_grad():
                for p, f in zip(params, self.frozen):
                    p.copy_(torch.where(self.alive_view(p), p, f))

    def finish(self, final_step: int, key, stopped_early: bool) -> Run:
        self.check_divergence()
        self.checkpoints[final_step] = self.params_now()
        history = self.history_df(upto=final_step)
        times = _with_divergence(grokking_times(history, self.cfg.threshold), self.diverged)
        n_steps_run = final_step - self.start_step
        return Run(
            config=self.cfg, history=history, times=times, checkpoints=self.checkpoints,
            final_state=self.checkpoints[final_step], key=key,
            meta={"wall_s": self.wall0 + time.time() - self.t0, "steps_run": final_step,
                  "steps_per_s": n_steps_run / max(time.time() - self.t0, 1e-9),
                  "stopped_early": stopped_early, "n_members": self.E, "device": str(self.device),
                  "loaded_from_store": False, "resumed_from": self.start_step or None,
                  "diverged": dict(self.diverged)},
        )


class _ProgressBar:
    """tqdm over steps with train / test accuracy and how many members generalised."""

    def __init__(self, enabled: bool, total: int, initial: int, desc: str):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True,
                            mininterval=0.5)

    def show(self, step, metrics, t_gen):
        if self.bar is None:
            return
        self.bar.n = step
        tr_acc = metrics.get("train/acc")
        post = {"train": f"{float(tr_acc.nanmean()):.3f}" if tr_acc is not None else "-"}
        if "test/acc" in metrics:
            post["test"] = f"{float(metrics['test/acc'].nanmean()):.3f}"
        post["grokked"] = f"{int((~np.isnan(t_gen)).sum())}/{len(t_gen)}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def close(self, complete: bool = True):
        """complete: the run ended (at its last step or by early stopping): show the bar full, not as a
        failure at 45% (tqdm.notebook colours a bar that closes short of its total red)."""
        if self.bar is not None:
            if complete and self.bar.n < self.bar.total:
                self.bar.total = self.bar.n = max(self.bar.n, 1)
                self.bar.refresh()
            self.bar.close()


class _SigintFlag:
    """Ctrl-C / "interrupt kernel" while training: remember it; the loop finishes the step, saves, raises."""

    def __init__(self):
        self.hits: list[int] = []
        self.old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, lambda *_: self.hits.append(1))
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)

    def __bool__(self):
        return bool(self.hits)


def fit(
    model: EnsembleModule,
    data: Data,
    config: TrainConfig,
    *,
    extra_losses: Sequence[Callable[[StepContext], torch.Tensor]] = (),
    after_step: Sequence[Callable[[EnsembleModule, int], None]] = (),
    callbacks: Sequence[Callable[[EvalContext], dict | None]] = (),
    masks: dict[str, torch.Tensor] | None = None,
    trainable: Sequence[str] | None = None,
    store: Any = "auto",
    progress: bool = True,
    desc: str | None = None,
    snapshot_every_s: float | None = 120.0,
    key_extra: Any = None,
    augment: Callable[[torch.Tensor, int], torch.Tensor] | None = None,
) -> Run:
    """Train `model` (an ensemble) on `data` and return a Run.

    extra_losses: callables ctx -> (E,) added to each member's task loss (e.g. an attention prior).
    after_step:   callables (model, step) run after every optimizer step (e.g. weight projection).
    callbacks:    callables ctx -> {name: (E,) tensor} or None at every evaluation step; a name
                  "split/metric" is logged under that split, a bare name under split "extra".
    masks:        {param name: bool tensor shaped like the parameter (E, ...)}: pruned weights are
                  zeroed at the start and stay zero (their gradients are masked too).
    trainable:    names of parameters to train (None = all); the rest stay frozen.
    store:        "auto" (default run store), a RunStore or path, or None. A stored run with the same
                  key is loaded instead of trained; interrupted runs resume from a snapshot.
    key_extra:    anything else that changes the run and should change its cache key.
    augment:      callable (x, step) -> x' applied to the training inputs (E, B, ...) of every step before the
                  forward pass (e.g. fresh distractor tokens per step); evaluation inputs are left alone. It
                  must be a function of (x, step) only (seed a generator from the step), so that a resumed
                  run is exact; it is part of the cache key.
    """
    if os.environ.get("GROKKIT_FORBID_TRAINING", "").strip() not in ("", "0"):
        raise RuntimeError("training is forbidden (GROKKIT_FORBID_TRAINING=1): this run should have replayed "
                           "saved results instead of calling fit")
    if not isinstance(config, TrainConfig):
        raise TypeError("config must be a grokkit.train.TrainConfig")
    cfg = config
    data = _check_inputs(model, data, masks, trainable)
    device = resolve_device(cfg.device)
    model.to(device)
    masks = _apply_masks(model, masks, device)

    rs = store_mod.resolve(store)
    if rs is None:
        return _train(model, data, cfg, device, None, None, masks=masks, trainable=trainable, desc=desc,
                      extra_losses=extra_losses, after_step=after_step, callbacks=callbacks, progress=progress,
                      snapshot_every_s=snapshot_every_s, augment=augment)
    key_parts = key_extra if augment is None else {"key_extra": key_extra, "augment": augment}
    key = _run_key(model, data, cfg, extra_losses, after_step, callbacks, masks, trainable, key_parts)
    # one process per key: another process training the same run makes this one wait, then load its result
    with rs.claim(key):
        cached = rs.load(key)
        if cached is not None:
            run = _run_from_record(cached)
            model.load_state_dict({k: v.to(device) for k, v in run.final_state.items()})
            run.meta["loaded_from_store"] = True
            return run
        return _train(model, data, cfg, device, rs, key, masks=masks, trainable=trainable, desc=desc,
                      extra_losses=extra_losses, after_step=after_step, callbacks=callbacks, progress=progress,
                      snapshot_every_s=snapshot_every_s, augment=augment)


def _train(model, data, cfg, device, rs, key, *, masks, trainable, extra_losses, after_step, callbacks, progress,
           desc, snapshot_every_s, augment=None) -> Run:
    """The loop itself: resume from a snapshot if there is one, train, save the finished run."""
    loop = _Loop(model, data, cfg, device, masks=masks, trainable=trainable, extra_losses=extra_losses,
                 after_step=after_step, callbacks=callbacks)
    loop.augment = augment
    snap = _Snapshotter(rs, key, snapshot_every_s)
    if rs is not None:
        partial = rs.load(key, suffix=".partial")
        if partial is not None:
            loop.restore(partial)
    steps, start = cfg.steps, loop.start_step
    bar = _ProgressBar(progress, steps, start, desc or f"fit x{loop.E}")
    step, stopped_early, ended = start, False, False
    loop.t0 = time.time()
    try:
        with _SigintFlag() as interrupted:
            for step in range(start, steps + 1):
                is_last = step == steps
                # a consistent point: theta_step and the optimizer state after `step` updates
                if interrupted:
                    saved = snap.maybe(lambda: loop.state(step), force=True)
                    note = (" (state saved: re-running the same fit resumes here)" if saved else
                            " (the state could not be saved: re-running starts again)" if rs is not None else "")
                    raise KeyboardInterrupt(f"fit interrupted at step {step}{note}")
                if step % cfg.eval_every == 0 and step > start:
                    snap.maybe(lambda: loop.state(step))
                if step in loop.ckpt_steps:
                    loop.checkpoints[step] = loop.params_now()
                loss_e, acc_e, extra_vals, total = loop.forward(step, need_grad=not is_last)
                if step % cfg.eval_every == 0 or is_last or step in loop.extra_eval:
                    metrics = loop.evaluate_and_log(step, loss_e, acc_e, extra_vals)
                    bar.show(step, metrics, loop.t_gen)
                    if loop.should_stop(step):
                        stopped_early = not is_last
                        break
                if is_last:
                    break
                loop.update(step, total)
        ended = True
    finally:
        bar.close(complete=ended)
    run = loop.finish(step, key, stopped_early)
    if len(loop.diverged) == loop.E:
        if rs is not None:
            rs.delete(key, suffix=".partial")
        causes = "; ".join(f"member {m}: {d['cause']}" for m, d in sorted(loop.diverged.items()))
        raise DivergedError(f"every member diverged, training stopped at step {step} ({causes}). Lower the "
                            "learning rate or the initial scale; the run so far is in this error's .run", run)
    finite = all(torch.isfinite(v).all() for v in run.final_state.values() if v.is_floating_point())
    if loop.diverged:
        causes = "; ".join(f"member {m}: {d['cause']}" for m, d in sorted(loop.diverged.items()))
        warnings.warn(f"{len(loop.diverged)} of {loop.E} members diverged and were frozen ({causes}); their "
                      "history is NaN from that step on, the others trained on"
                      + (" (run not cached)" if rs is not None else ""), stacklevel=3)
    if rs is not None:
        if not loop.diverged and finite:
            rs.save(key, _run_record(run))
        rs.delete(key, suffix=".partial")
    return run


def _history(train_buf: torch.Tensor, records, E: int, upto: int | None, *, full_batch: bool = True,
             diverged_at: dict[int, int] | None = None) -> pd.DataFrame:
    """Tidy history. Full-batch train metrics exist for every step 0..upto (the training forward pass); a member
    that diverged has NaN from its divergence step on, in every split and metric."""
    buf = train_buf.cpu().numpy()
    if upto is not None:
        buf = buf[: upto + 1]
    frames = []
    if full_batch:
        ran = np.arange(len(buf))
        steps_with = ran if upto is not None else ran[~np.isnan(buf[:, 0, :]).all(axis=1)]
    else:
        steps_with = np.zeros(0, dtype=int)
    if len(steps_with):
        for j, metric in enumerate(("loss", "acc")):
            vals = buf[steps_with, j, :]  # (S, E)
            frames.append(pd.DataFrame({
                "step": np.repeat(steps_with, E), "member": np.tile(np.arange(E), len(steps_with)),
                "split": "train", "metric": metric, "value": vals.reshape(-1).astype(np.float64)}))
    if records:
        st = np.repeat([r[0] for r in records], E)
        frames.append(pd.DataFrame({
            "step": st, "member": np.tile(np.arange(E), len(records)),
            "split": np.repeat([r[1] for r in records], E), "metric": np.repeat([r[2] for r in records], E),
            "value": np.concatenate([r[3] for r in records]).astype(np.float64)}))
    if not frames:
        return pd.DataFrame(columns=["step", "member", "split", "metric", "value"])
    h = pd.concat(frames, ignore_index=True)
    if upto is not None:
        h = h[h.step <= upto]
    for m, s in (diverged_at or {}).items():
        h.loc[(h.member == m) & (h.step >= s), "value"] = np.nan
    return h.sort_values(["split", "metric", "member", "step"], kind="stable").reset_index(drop=True)


def _run_record(run: Run) -> dict:
    return {"config": run.config, "history": {c: run.history[c].to_numpy() for c in run.history.columns},
            "checkpoints": run.checkpoints, "final_state": run.final_state, "key": run.key, "meta": run.meta}


def _run_from_record(rec: dict) -> Run:
    history = pd.DataFrame(rec["history"])
    cfg = rec["config"]
    meta = dict(rec["meta"])
    return Run(config=cfg, history=history,
               times=_with_divergence(grokking_times(history, cfg.threshold), meta.get("diverged", {})),
               checkpoints=rec["checkpoints"], final_state=rec["final_state"], key=rec["key"], meta=meta)


def _with_divergence(times: pd.DataFrame, diverged: dict[int, dict]) -> pd.DataFrame:
    """times + diverged (bool), diverged_step (NaN if healthy) and diverged_cause per member."""
    times = times.copy()
    members = times["member"].astype(int)
    times["diverged"] = members.map(lambda m: m in diverged).astype(bool)
    times["diverged_step"] = members.map(lambda m: float(diverged[m]["step"]) if m in diverged else np.nan)
    times["diverged_cause"] = members.map(lambda m: diverged[m]["cause"] if m in diverged else "")
    return times


class DivergedError(RuntimeError):
    """Every member of the ensemble diverged (non-finite loss). `.run` holds the run up to that point."""

    def __init__(self, message: str, run: Run):
        super().__init__(message)
        self.run = run
