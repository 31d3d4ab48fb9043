"""Uniformity diagnostics of final token embeddings, one row per ensemble member (notebook 04).

`diagnostics(W_E, p)`: MED (ours: mean of the gaps 0..p-2, Definition 4.2), the authors' MED (`uniformity.med_authors`:
their code averages the gaps 0..p-3, the last gap is dropped; with `offset` > 0, the authors' separate b-token ids, it
is the mean of that over the a block and the b block at ids offset..), the gap coefficient of variation, the median
normalised parallelogram residual ||E_i + E_j - E_m - E_n|| / mean gap over quadruples with i + j = m + n (mod p), and
Liu et al.'s RQI (share of those residuals below `tol`). All quadruples for p <= `all_quads_up_to`, else `n_quads`
random ones (seeded).
"""
from __future__ import annotations

import pandas as pd
import torch

from . import uniformity as U


def diagnostics(W_E, p: int, tol: float = 0.5, n_quads: int = 20000, all_quads_up_to: int = 50,
                seed: int = 0, offset: int = 0) -> pd.DataFrame:
    rows = torch.as_tensor(W_E).detach().double()
    if rows.dim() == 2:
        rows = rows[None]
    quads = U.parallelogram_quads(p, None if p <= all_quads_up_to else n_quads, seed=seed)
    resid = U.parallelogram_residual(rows, p, quads, normalize=True)
    return pd.DataFrame({
        "member": range(rows.shape[0]),
        "MED": U.med(rows, p).numpy(),
        "MED (authors: gaps 0..p-3)": U.med_authors(rows, p, offset).numpy(),
        "gap CV": U.spacing_cv(rows, p).numpy(),
        "parallelogram residual": resid.median(-1).values.numpy(),
        "RQI": (resid < tol).double().mean(-1).numpy(),
    })
