"""Structure of pruning masks (spec 01 Fig 7, Fig 9, Table 1).

- `jaccard_distance`: 1 - |A & B| / |A | B| between two masks, per parameter and per member.
- Per-layer bipartite mask graphs: a 2-D mask (or weight) matrix M of shape (n_in, n_out) is the graph with
  adjacency [[0, M], [M^T, 0]] on n_in + n_out nodes. Its adjacency eigenvalues are +-(singular values of M)
  plus zeros, so spectra are computed from an SVD of M (exact, fast).

  spectral gap            lambda_0 - lambda_1 = sigma_1 - sigma_2 of the 0/1 mask
  weighted spectral gap   the same on |W * M| (Hoang et al. 2023a use the trained weights)
  Ramanujan gap           sqrt(2 d_avg - 1) - mu_hat; d_avg = 2|E| / (n_in + n_out); for a bipartite graph the
                          two trivial eigenvalues are +-lambda_0, so mu_hat = the third-largest |eigenvalue| = sigma_2
  average path length     mean shortest-path hop count over connected ordered node pairs (isolated / unreachable
                          pairs are left out; `connected_fraction` says how many pairs count)
  bipartite clustering    Latapy et al. (2008) "dot" clustering, averaged over non-isolated nodes (networkx's
                          bipartite.average_clustering without isolated nodes). DEVIATION from the paper: triangle
                          clustering is identically 0 on a bipartite graph, so the paper's formula cannot be what
                          the paper plotted; we report Latapy's bipartite coefficient instead.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def _as_np(m) -> np.ndarray:
    if isinstance(m, torch.Tensor):
        m = m.detach().cpu().numpy()
    return np.asarray(m)


def jaccard_distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per parameter name (and "all" over every shared name): (E,) Jaccard distances between kept sets.
    Two empty masks have distance 0."""
    out, inter_all, union_all = {}, 0, 0
    for n in a:
        if n not in b:
            continue
        x, y = a[n].bool(), b[n].bool()
        if x.shape != y.shape:
            raise ValueError(f"mask {n}: shapes {tuple(x.shape)} and {tuple(y.shape)} differ")
        E = x.shape[0]
        inter = (x & y).reshape(E, -1).sum(1).double()
        union = (x | y).reshape(E, -1).sum(1).double()
        out[n] = torch.where(union > 0, 1 - inter / union.clamp(min=1), torch.zeros_like(union))
        inter_all = inter_all + inter
        union_all = union_all + union
    if not out:
        raise ValueError("the two mask sets share no parameter names")
    out["all"] = torch.where(union_all > 0, 1 - inter_all / union_all.clamp(min=1), torch.zeros_like(union_all))
    return out


def _singular_values(M: np.ndarray, k: int = 2) -> np.ndarray:
    s = np.linalg.svd(M.astype(np.float64), compute_uv=False)
    if len(s) < k:
        s = np.concatenate([s, np.zeros(k - len(s))])
    return s


def spectral_gap(M) -> float:
    """lambda_0 - lambda_1 of the bipartite adjacency [[0, M], [M^T, 0]] = sigma_1(M) - sigma_2(M).
    Pass a 0/1 mask for the spectral gap, |W * mask| for the weighted spectral gap."""
    s = _singular_values(np.abs(_as_np(M)))
    return float(s[0] - s[1])


def ramanujan_gap(mask) -> float:
    """sqrt(2 d_avg - 1) - mu_hat of the bipartite mask graph (mu_hat = 3rd-largest |eigenvalue| = sigma_2)."""
    M = (_as_np(mask) != 0).astype(np.float64)
    n_nodes = M.shape[0] + M.shape[1]
    d_avg = 2.0 * M.sum() / n_nodes
    s = _singular_values(M)
    return float(math.sqrt(max(2 * d_avg - 1, 0.0)) - s[1])


def _adjacency(mask) -> np.ndarray:
    M = (_as_np(mask) != 0).astype(np.float64)
    a, b = M.shape
    A = np.zeros((a + b, a + b))
    A[:a, a:] = M
    A[a:, :a] = M.T
    return A


def average_path_length(mask) -> tuple[float, float]:
    """(mean hop distance over connected ordered pairs i != j, fraction of ordered pairs that are connected)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    A = _adjacency(mask)
    n = A.shape[0]
    D = shortest_path(csr_matrix(A), method="D", unweighted=True, directed=False)
    off = ~np.eye(n, dtype=bool)
    finite = np.isfinite(D) & off
    if not finite.any():
        return float("nan"), 0.0
    return float(D[finite].mean()), float(finite.sum() / off.sum())


def bipartite_clustering(mask) -> float:
    """Latapy 'dot' bipartite clustering averaged over nodes with at least one edge:
    c(u) = mean over second neighbours v of |N(u) & N(v)| / |N(u) | N(v)| (same-side nodes)."""
    M = (_as_np(mask) != 0).astype(np.float64)
    vals = []
    for B in (M, M.T):  # rows of B are the nodes of one side
        deg = B.sum(1)
        inter = B @ B.T
        union = deg[:, None] + deg[None, :] - inter
        np.fill_diagonal(inter, 0)
        second = inter > 0  # v shares a neighbour with u (v != u)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(second, inter / np.maximum(union, 1), 0.0)
        n2 = second.sum(1)
        has = deg > 0
        cu = np.where(n2 > 0, c.sum(1) / np.maximum(n2, 1), 0.0)
        vals.append(cu[has])
    allv = np.concatenate(vals)
    return float(allv.mean()) if len(allv) else float("nan")


def graph_metrics(mask, weights=None, path_length: bool = True) -> dict[str, float]:
    """All per-layer measures of one 2-D mask (and optionally the weights it masks)."""
    M = _as_np(mask) != 0
    out = {"density": float(M.mean()), "spectral_gap": spectral_gap(M.astype(np.float64)),
           "ramanujan_gap": ramanujan_gap(M), "clustering": bipartite_clustering(M)}
    if weights is not None:
        out["weighted_spectral_gap"] = spectral_gap(np.abs(_as_np(weights)) * M)
    if path_length:
        out["avg_path_length"], out["connected_fraction"] = average_path_length(M)
    return out


def graph_metrics_table(masks: dict[str, torch.Tensor], state: dict[str, torch.Tensor] | None = None,
                        member: int = 0, path_length: bool = True):
    """One row per 2-D masked parameter of one ensemble member (a pandas DataFrame)."""
    import pandas as pd

    rows = []
    for n, m in masks.items():
        mm = m[member]
        if mm.dim() != 2:
            continue
        w = state[n][member] if state is not None else None
        rows.append({"layer": n, **graph_metrics(mm, w, path_length=path_length)})
    return pd.DataFrame(rows)
