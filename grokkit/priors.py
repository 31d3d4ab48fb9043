"""Structural priors on the query-position attention (spec 05) as extra loss terms for `fit`, plus norm matching.

Every prior is a small frozen dataclass; `prior(ctx) -> (E,)` is the per-member term lambda_m(step) * R_m,
where R is a batch mean (rows weighted by ctx.weights) and, with several heads, a mean over heads. It reads
the attention of the last forward pass from `ctx.model.cache["scores_query"]` (E, B, H, T) (log-softmax of the
scores = log alpha, numerically safe) / `cache["attn_query"]`.

  TargetKL      forward KL(alpha* || alpha) toward a fixed target over positions (oracle / adversarial)
  SequenceOracleKL  the same toward the sequence-dependent oracle alpha*(x) of a task with random positions
  EntropyPrior  lambda * H(alpha)            (minimising it sharpens attention, structure-agnostic)
  SparsityPrior -lambda * ||alpha||_2^2
  TeacherKL     KL(alpha_teacher || alpha), the teacher's attention from a (grokked) 1-member model state
Schedules (every prior): `start_step` (late start: 0 before it) and `anneal_steps` (linear decay of lambda to 0
over that many steps after the start; 0 = constant).

`lam` is a number or one value per ensemble member (a lambda sweep is one ensemble).

NormMatch is an after_step hook: it rescales the MLP weights (W_in, W_out jointly) of each member to a fixed
Frobenius radius after every optimizer step (radius NaN = leave that member alone).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from . import validate


def _lam_tensor(lam, E: int, device) -> torch.Tensor:
    vals = validate.per_member("lam", lam, E, min_value=0)
    return torch.tensor(vals, dtype=torch.float32, device=device)


def _log_alpha(model) -> torch.Tensor:
    if "scores_query" not in model.cache:
        raise KeyError("model.cache has no 'scores_query': priors need grokkit.models.Transformer")
    return model.cache["scores_query"].float().log_softmax(-1)  # (E, B, H, T)


def _batch_mean(per_row: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """per_row (E, B) -> (E,), weighted by ctx.weights (1/n per valid row) or a plain mean."""
    if weights is None:
        return per_row.mean(1)
    return (per_row * weights.to(per_row.dtype)).sum(1)


def kl_to_target(log_alpha: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || alpha) per row and head: (..., T) -> (...). Terms with target 0 contribute 0."""
    tgt = target.to(log_alpha)
    logt = torch.where(tgt > 0, tgt.clamp(min=1e-30).log(), torch.zeros_like(tgt))
    return (tgt * (logt - log_alpha)).sum(-1)


@dataclass(frozen=True)
class _Prior:
    lam: float | tuple[float, ...] = 1.0
    start_step: int = 0
    anneal_steps: int = 0

    def __post_init__(self):
        if isinstance(self.lam, (list, tuple)):
            object.__setattr__(self, "lam", tuple(validate.number("lam", x, min_value=0) for x in self.lam))
        else:
            validate.number("lam", self.lam, min_value=0)
        validate.integer("start_step", self.start_step, min_value=0)
        validate.integer("anneal_steps", self.anneal_steps, min_value=0)

    def scale(self, step: int) -> float:
        """Schedule factor in [0, 1] at this step."""
        if step < self.start_step:
            return 0.0
        if self.anneal_steps:
            return max(0.0, 1.0 - (step - self.start_step) / self.anneal_steps)
        return 1.0

    def penalty(self, ctx) -> torch.Tensor:  # pragma: no cover - abstract
        """(E, B, H) per row and head."""
        raise NotImplementedError

    def __call__(self, ctx) -> torch.Tensor:
        per = self.penalty(ctx).mean(-1)  # heads
        r = _batch_mean(per, ctx.weights)
        lam = _lam_tensor(self.lam, r.shape[0], r.device) * self.scale(ctx.step)
        return lam * r


@dataclass(frozen=True)
class TargetKL(_Prior):
    """lambda * KL(target || alpha), target a fixed distribution over the T positions."""

    target: tuple[float, ...] = ()
    name: str = "kl_prior"

    def __post_init__(self):
        super().__post_init__()
        t = tuple(float(x) for x in self.target)
        if not t or any(x < 0 for x in t) or abs(sum(t) - 1) > 1e-6:
            raise ValueError(f"target={self.target} must be a probability vector over the positions")
        object.__setattr__(self, "target", t)

    def penalty(self, ctx):
        la = _log_alpha(ctx.model)
        if la.shape[-1] != len(self.target):
            raise ValueError(f"target has {len(self.target)} positions, attention has {la.shape[-1]}")
        return kl_to_target(la, torch.tensor(self.target, device=la.device))


def oracle_kl(task, lam=1.0, **kw) -> TargetKL:
    """Forward KL toward alpha* (1/k on the task's informative positions)."""
    return TargetKL(lam=lam, target=tuple(task.oracle().tolist()), name="oracle_kl", **kw)


@dataclass(frozen=True)
class SequenceOracleKL(_Prior):
    """lambda * KL(alpha*(x) || alpha(x)) with the sequence-dependent oracle of a SequenceTask (1/k on each
    training row's own informative positions, `task.oracle_of(x)`; the task's positions="random")."""

    task: object = None
    name: str = "sequence_oracle_kl"

    def cache_key(self):
        t = self.task
        return ("SequenceOracleKL", self.lam, self.start_step, self.anneal_steps,
                (t.task, t.p, t.seq_len, t.k, t.n_perm, t.distractor_vocab, t.positions))

    def penalty(self, ctx):
        la = _log_alpha(ctx.model)  # (E, B, H, T)
        return kl_to_target(la, self.task.oracle_of(ctx.x)[:, :, None, :])


def adversarial_kl(task, lam=1.0, **kw) -> TargetKL:
    """Forward KL toward the uniform distribution over the distractor positions."""
    return TargetKL(lam=lam, target=tuple(task.adversarial().tolist()), name="adversarial_kl", **kw)


@dataclass(frozen=True)
class EntropyPrior(_Prior):
    """lambda * H(alpha): pushes attention to be sharp, on whatever positions."""

    name: str = "entropy_prior"

    def penalty(self, ctx):
        la = _log_alpha(ctx.model)
        return -(la.exp() * la).sum(-1)


@dataclass(frozen=True)
class SparsityPrior(_Prior):
    """-lambda * ||alpha||_2^2 (rewards concentrated attention)."""

    name: str = "sparsity_prior"

    def penalty(self, ctx):
        return -(_log_alpha(ctx.model).exp() ** 2).sum(-1)


@dataclass(frozen=True)
class TeacherKL(_Prior):
    """lambda * KL(alpha_teacher(x) || alpha(x)); the teacher is a 1-member Transformer state (e.g. a grokked
    baseline) run on the same batch. teacher_state: {name: tensor (1, ...)}; teacher_config: its config."""

    teacher_state: dict = field(default_factory=dict)
    teacher_config: object = None
    name: str = "teacher_kl"

    def _teacher(self, E: int, device):
        from .models.transformer import Transformer

        key = (E, str(device))
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            t = Transformer(self.teacher_config, n_members=E).to(device)
            with torch.no_grad():
                for n, p in t.named_parameters():
                    p.copy_(self.teacher_state[n].to(device).expand_as(p))
            t.requires_grad_(False)
            cache[key] = t
        return cache[key]

    def penalty(self, ctx):
        la = _log_alpha(ctx.model)
        with torch.no_grad():
            t = self._teacher(la.shape[0], la.device)
            t(ctx.x)
            tgt = t.cache["attn_query"].float()
        return kl_to_target(la, tgt)


# ---- norm matching --------------------------------------------------------------------------
MLP_WEIGHTS = ("W_in0", "W_out0")


def mlp_norm(model_or_state, names: Sequence[str] = MLP_WEIGHTS) -> torch.Tensor:
    """Joint Frobenius norm of the MLP weight matrices per member (E,)."""
    get = (lambda n: model_or_state[n]) if isinstance(model_or_state, dict) else (lambda n: getattr(model_or_state, n))
    sq = sum(get(n).detach().float().pow(2).reshape(get(n).shape[0], -1).sum(1) for n in names)
    return sq.sqrt()


@dataclass(frozen=True)
class NormMatch:
    """after_step hook: project member m's MLP weights onto the sphere ||(W_in, W_out)||_F = radius[m]
    (NaN: member not projected)."""

    radius: float | tuple[float, ...] = 1.0
    names: tuple[str, ...] = MLP_WEIGHTS

    def __post_init__(self):
        r = self.radius
        vals = tuple(float(x) for x in r) if isinstance(r, (list, tuple)) else (float(r),)
        if any(not math.isnan(v) and v <= 0 for v in vals):
            raise ValueError(f"radius={self.radius} must be > 0 (or NaN to skip a member)")
        object.__setattr__(self, "radius", vals if isinstance(r, (list, tuple)) else vals[0])
        object.__setattr__(self, "names", tuple(self.names))

    @torch.no_grad()
    def __call__(self, model, step: int):
        E = model.n_members
        r = self.radius if isinstance(self.radius, tuple) else (self.radius,) * E
        if len(r) != E:
            raise ValueError(f"radius has {len(r)} values but the model has {E} members")
        target = torch.tensor(r, dtype=torch.float32, device=next(model.parameters()).device)
        norm = mlp_norm(model, self.names)
        scale = torch.where(torch.isnan(target), torch.ones_like(norm), target / norm.clamp(min=1e-12))
        for n in self.names:
            p = getattr(model, n)
            p.mul_(scale.view(-1, *([1] * (p.dim() - 1))).to(p.dtype))


# ---- the paper's norm-matched control (App. G.3) --------------------------------------------------------------
@dataclass(frozen=True)
class QKPenalty:
    """lambda * (||W_Q||_F^2 + ||W_K||_F^2) per member (E,): the targeted L2 penalty on the attention weights that
    App. G.3 names as its norm-matched control ("qk_penalty=0.5"), an extra loss for `fit`."""

    lam: float | tuple[float, ...] = 0.5
    names: tuple[str, ...] = ("W_Q0", "W_K0")
    name: str = "qk_penalty"

    def __call__(self, ctx) -> torch.Tensor:
        m = ctx.model
        sq = sum(getattr(m, n).float().pow(2).reshape(m.n_members, -1).sum(1) for n in self.names)
        return _lam_tensor(self.lam, m.n_members, sq.device) * sq
