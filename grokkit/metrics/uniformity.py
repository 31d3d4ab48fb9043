"""Embedding uniformity measures (spec 04, arXiv 2504.03162).

Shape names: E members, V vocabulary rows, D embedding width, p the modulus (token ids 0..p-1).

- `med`: main embedding diff, MED = mean_i ||E[i+1] - E[i]||_2 over i = 0..p-2 (Definition 4.2);
  options: reduce "mean" | "sum", wrap=True adds the pair (p-1, 0).
- `med_authors`: the authors' MED (`calculate_embedding_diff` in github.com/Qihuai27/Grokking-Insight): the mean of
  the gaps 0..p-3 (the last gap p-2 -> p-1 is dropped) of the a-token block and of the b-token block (token ids
  offset..offset+p-2; offset 0 with one shared vocabulary), combined as 0.5 (m_a + m_b) (transformer/base.py),
  m_a + m_b (str.py) or (p - 1)(m_a + m_b) (rec.py): `rescale` "mean" | "sum" | "length".
- `first_hidden`: the first hidden layer's representation of every token, for the MED variant used when
  the embedding is frozen (one-hot inputs): MED is then computed on these rows.
- `spacing_cv`: coefficient of variation of the consecutive gaps ||E[i+1] - E[i]|| (0 = evenly spaced).
- `parallelogram_residual` / `rqi`: ||E_i + E_j - E_m - E_n|| over quadruples with i+j = m+n (mod p), and
  Liu et al.'s representation quality index (share of such quadruples whose residual is small).
- Theorem 3.12: `coverage_size` C = 2n^2 - 2n + 1, `coverage_bound` alpha > 2 ln p / C, and
  `coverage_monte_carlo` (share of grid points within Manhattan distance < n of a random training set).
- `MEDCallback`: a `fit` callback logging MED (and optionally the gap CV) per member at every evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import validate

REDUCE = ("mean", "sum")


def _as_ensemble(emb) -> tuple[torch.Tensor, bool]:
    t = torch.as_tensor(emb)
    if t.dim() == 2:
        return t[None], True
    if t.dim() != 3:
        raise ValueError(f"embedding must be (V, D) or (E, V, D), got shape {tuple(t.shape)}")
    return t, False


def gaps(emb, p: int | None = None, wrap: bool = False) -> torch.Tensor:
    """||E[i+1] - E[i]||_2 for i = 0..p-2 (plus (p-1 -> 0) when wrap): (E, p-1[+1]) or (p-1[+1],)."""
    t, single = _as_ensemble(emb)
    p = t.shape[1] if p is None else validate.integer("p", p, min_value=2, max_value=t.shape[1])
    rows = t[:, :p].double()
    if wrap:
        rows = torch.cat([rows, rows[:, :1]], dim=1)
    g = (rows[:, 1:] - rows[:, :-1]).norm(dim=-1)
    return g[0] if single else g


def med(emb, p: int | None = None, reduce: str = "mean", wrap: bool = False) -> torch.Tensor:
    """Main embedding diff of token rows 0..p-1: mean (or sum) of the consecutive gaps. (E,) or scalar."""
    validate.choice("reduce", reduce, REDUCE)
    g = gaps(emb, p, wrap)
    return g.mean(-1) if reduce == "mean" else g.sum(-1)


AUTHORS_RESCALE = ("mean", "sum", "length")


def med_authors(emb, p: int, offset: int = 0, rescale: str = "mean") -> torch.Tensor:
    """The authors' MED of token blocks [0, p-1) and [offset, offset+p-1): their gaps 0..p-3 averaged per block,
    the two block means combined by `rescale` ("mean": 0.5 (m_a + m_b), "sum": m_a + m_b, "length":
    (p - 1)(m_a + m_b)). With offset 0 and "mean" it is `med` over the gaps 0..p-3. (E,) or scalar."""
    validate.choice("rescale", rescale, AUTHORS_RESCALE)
    t, single = _as_ensemble(emb)
    p = validate.integer("p", p, min_value=3, max_value=t.shape[1])
    offset = validate.integer("offset", offset, min_value=0, max_value=t.shape[1] - (p - 1))
    m_a = gaps(t[:, : p - 1]).mean(-1)
    m_b = gaps(t[:, offset : offset + p - 1]).mean(-1)
    out = {"mean": 0.5, "sum": 1.0, "length": float(p - 1)}[rescale] * (m_a + m_b)
    return out[0] if single else out


def spacing_cv(emb, p: int | None = None, wrap: bool = False) -> torch.Tensor:
    """Coefficient of variation (std / mean) of the consecutive gaps: 0 for evenly spaced tokens."""
    g = gaps(emb, p, wrap)
    return g.std(-1, unbiased=False) / g.mean(-1).clamp_min(1e-12)


def parallelogram_quads(p: int, n: int | None = None, seed: int = 0) -> torch.Tensor:
    """Quadruples (i, j, m, n) with i + j = m + n (mod p) and {i, j} != {m, n}: all of them when
    n is None (p^3 - ... rows, fine for p <= ~50), else n random ones (seeded)."""
    p = validate.integer("p", p, min_value=3)
    if n is None:
        i, j, m = torch.meshgrid(torch.arange(p), torch.arange(p), torch.arange(p), indexing="ij")
        i, j, m = i.reshape(-1), j.reshape(-1), m.reshape(-1)
    else:
        g = torch.Generator().manual_seed(int(seed))
        i, j, m = (torch.randint(0, p, (int(n),), generator=g) for _ in range(3))
    k = (i + j - m) % p
    keep = ~(((i == m) & (j == k)) | ((i == k) & (j == m)))
    return torch.stack([i, j, m, k], dim=1)[keep]


def parallelogram_residual(emb, p: int | None = None, quads: torch.Tensor | None = None,
                           normalize: bool = True) -> torch.Tensor:
    """Per-quadruple ||E_i + E_j - E_m - E_n|| (i+j = m+n mod p), divided by the mean gap when
    normalize (scale-free). Returns (E, Q) or (Q,)."""
    t, single = _as_ensemble(emb)
    p = t.shape[1] if p is None else p
    q = parallelogram_quads(p) if quads is None else torch.as_tensor(quads, dtype=torch.long)
    rows = t[:, :p].double()
    r = (rows[:, q[:, 0]] + rows[:, q[:, 1]] - rows[:, q[:, 2]] - rows[:, q[:, 3]]).norm(dim=-1)
    if normalize:
        r = r / gaps(rows, p).mean(-1, keepdim=True).clamp_min(1e-12)
    return r[0] if single else r


def rqi(emb, p: int | None = None, tol: float = 0.5, quads: torch.Tensor | None = None) -> torch.Tensor:
    """Representation quality index (Liu et al. 2022): share of quadruples with i+j = m+n whose
    normalised parallelogram residual is below tol (1 = perfect parallelograms)."""
    r = parallelogram_residual(emb, p, quads, normalize=True)
    return (r < tol).double().mean(-1)


# ---- first-hidden-layer representations (frozen / one-hot embeddings) ------------------------
@torch.no_grad()
def first_hidden(model, p: int) -> torch.Tensor:
    """The first hidden layer's response to each token 0..p-1 alone, (E, p, H).

    Transformer: embedding + position of the token's slot (first position) — W_E is then the table.
    DNN (grokkit.models.dnn.DNN): ReLU(first layer) applied to the token's embedding in slot 0 with the
    other slots zero. OneHot-style models with `W_in` of shape (E, 2p, H): ReLU(W_in[i])."""
    if hasattr(model, "first_hidden_rows"):
        return model.first_hidden_rows(p)
    if hasattr(model, "W_pos") and hasattr(model, "W_E"):
        return model.W_E[:, :p] + model.W_pos[:, :1]
    if hasattr(model, "W_in") and model.W_in.shape[1] >= p:
        return torch.relu(model.W_in[:, :p])
    raise TypeError(f"no first-hidden-layer rule for {type(model).__name__}")


def embedding_rows(model, p: int, source: str = "embedding") -> torch.Tensor:
    """(E, p, D): the token embedding rows (source="embedding") or the first hidden layer ("hidden")."""
    validate.choice("source", source, ("embedding", "hidden"))
    if source == "hidden":
        return first_hidden(model, p)
    return model.W_E[:, :p]


@dataclass(frozen=True)
class MEDCallback:
    """fit callback: logs extra/med (and extra/spacing_cv when cv) for every member; with `authors_offset` (an
    int: the b block's first token id, 0 for a shared vocabulary) also extra/med_authors (`med_authors`,
    rescale "mean", on the embedding table)."""

    p: int
    reduce: str = "mean"
    wrap: bool = False
    source: str = "embedding"
    cv: bool = True
    authors_offset: int | None = None

    def __call__(self, ctx):
        rows = embedding_rows(ctx.model, self.p, self.source).detach()
        out = {"med": med(rows, self.p, self.reduce, self.wrap).float()}
        if self.authors_offset is not None:
            out["med_authors"] = med_authors(ctx.model.W_E.detach(), self.p, self.authors_offset).float()
        if self.cv:
            out["spacing_cv"] = spacing_cv(rows, self.p, self.wrap).float()
        return out


# ---- Theorem 3.12: coverage of the (a, b) grid by a random training set ------------------------
def coverage_size(n: int) -> int:
    """C(n): grid points at Manhattan distance < n from a point (|dx| + |dy| <= n - 1) = 2n^2 - 2n + 1."""
    n = validate.integer("n", n, min_value=1)
    return 2 * n * n - 2 * n + 1


def coverage_bound(p: int, n: int) -> float:
    """Training fraction above which the expected number of uncovered points is < 1: 2 ln p / C(n)."""
    p = validate.integer("p", p, min_value=2)
    return 2.0 * math.log(p) / coverage_size(n)


def coverage_monte_carlo(p: int, n: int, alpha: float, trials: int = 20, seed: int = 0,
                         torus: bool = True) -> dict:
    """Draw `trials` random training sets of round(alpha p^2) grid points; per trial the share of the
    p x p grid within Manhattan distance < n of a training point (mod p when torus).
    Returns {"mean_coverage", "p_full" (share of trials with every point covered), "coverages"}."""
    p = validate.integer("p", p, min_value=2)
    n = validate.integer("n", n, min_value=1)
    alpha = validate.fraction("alpha", alpha, closed_high=True)
    rng = np.random.default_rng(seed)
    n_train = int(round(alpha * p * p))
    offsets = [(dx, dy) for dx in range(-(n - 1), n) for dy in range(-(n - 1), n) if abs(dx) + abs(dy) <= n - 1]
    covs = []
    for _ in range(int(trials)):
        grid = np.zeros((p, p), dtype=bool)
        pick = rng.choice(p * p, size=n_train, replace=False)
        grid.flat[pick] = True
        cov = np.zeros_like(grid)
        for dx, dy in offsets:
            if torus:
                cov |= np.roll(np.roll(grid, dx, 0), dy, 1)
            else:
                sh = np.zeros_like(grid)
                xs = slice(max(dx, 0), p + min(dx, 0))
                xd = slice(max(-dx, 0), p + min(-dx, 0))
                ys = slice(max(dy, 0), p + min(dy, 0))
                yd = slice(max(-dy, 0), p + min(-dy, 0))
                sh[xs, ys] = grid[xd, yd]
                cov |= sh
        covs.append(cov.mean())
    covs = np.asarray(covs)
    return {"mean_coverage": float(covs.mean()), "p_full": float((covs == 1.0).mean()), "coverages": covs}


def expected_coverage(p: int, n: int, alpha: float) -> float:
    """The proof's independence approximation of a point's coverage probability: 1 - (1 - C/p^2)^(alpha p^2)."""
    C = coverage_size(n)
    return 1.0 - (1.0 - C / p**2) ** (alpha * p**2)


# ---- Toeplitz (circulant) embedding init, App. E ---------------------------------------------
def circulant_rows(v: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Row i = v rolled by i: (n_rows, len(v)) circulant/Toeplitz matrix generated by a vector."""
    d = v.shape[-1]
    idx = (torch.arange(d)[None, :] - torch.arange(n_rows)[:, None]) % d
    return v[..., idx]


# ---- Table 1 numbers and the MED / test-loss correlation ------------------------------------
def table1_stats(steps, train_acc, test_acc, min_rise: float = 0.1) -> dict:
    """U-Acc, L-Acc, GO of one test-accuracy curve (the paper's Table 1 columns), our definitions:
    t_mem = first step with train acc = 1 (>= 0.999); base = test acc there;
    GO (grokking onset) = first step after t_mem with test acc >= base + (max - base) / 2, or None
    ("no grokking") when the rise max - base is below min_rise;
    U-Acc = the highest test acc after t_mem; L-Acc = the lowest test acc after U-Acc is first reached."""
    steps, tr, te = (np.asarray(v, dtype=float) for v in (steps, train_acc, test_acc))
    out = {"U-Acc": float(np.nanmax(te)) if len(te) else float("nan"), "L-Acc": float("nan"), "GO": None,
           "t_mem": None}
    hit = np.nonzero(tr >= 0.999)[0]
    if not len(hit):
        return out
    i0 = hit[0]
    out["t_mem"] = float(steps[i0])
    post = te[i0:]
    u = float(np.nanmax(post))
    iu = i0 + int(np.nanargmax(post))
    out["U-Acc"], out["L-Acc"] = u, float(np.nanmin(te[iu:]))
    base = float(te[i0])
    if u - base >= min_rise:
        j = np.nonzero(post >= base + (u - base) / 2)[0][0]
        out["GO"] = float(steps[i0 + j])
    return out


def med_correlation(steps, train_acc, med_values, test_loss, smooth: int = 5) -> dict:
    """Pearson and Spearman correlation of MED with test loss over the evaluation steps after train acc
    first reaches 1, on the raw series and after a centred rolling mean of `smooth` points."""
    from scipy import stats

    steps, tr, m, loss = (np.asarray(v, dtype=float) for v in (steps, train_acc, med_values, test_loss))
    hit = np.nonzero(tr >= 0.999)[0]
    out = {"n": 0, "pearson": float("nan"), "spearman": float("nan"),
           "pearson_smooth": float("nan"), "spearman_smooth": float("nan")}
    if not len(hit):
        return out
    sel = slice(hit[0], None)
    m, loss = m[sel], loss[sel]
    ok = np.isfinite(m) & np.isfinite(loss)
    m, loss = m[ok], loss[ok]
    out["n"] = int(len(m))
    if len(m) < 3 or np.std(m) == 0 or np.std(loss) == 0:
        return out
    out["pearson"] = float(stats.pearsonr(m, loss)[0])
    out["spearman"] = float(stats.spearmanr(m, loss)[0])
    if len(m) >= smooth + 2:
        kern = np.ones(smooth) / smooth
        ms, ls = np.convolve(m, kern, "valid"), np.convolve(loss, kern, "valid")
        if np.std(ms) > 0 and np.std(ls) > 0:
            out["pearson_smooth"] = float(stats.pearsonr(ms, ls)[0])
            out["spearman_smooth"] = float(stats.spearmanr(ms, ls)[0])
    return out


def scale_k(k: int, p: int, kind: str, train_frac: float, p_ref: int = 97, clip: bool = True) -> int:
    """A Table 1 k (given for p = 97) at another p: round(k p / 97), clipped (`clip=True`) to the largest k
    whose held-out block still leaves round(train_frac p^2) rows to train on."""
    validate.choice("kind", kind, ("square", "strip"))
    kk = int(round(k * p / p_ref))
    n_train = int(round(train_frac * p * p))
    while clip and kk > 0:
        held = (kk + 1) ** 2 if kind == "square" else (kk + 1) * p
        if p * p - held >= n_train:
            break
        kk -= 1
    return min(kk, p - 1)
