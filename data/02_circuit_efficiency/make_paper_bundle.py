"""Assemble data/02_circuit_efficiency/paper/, the paper-profile replay bundle of notebook 02.

    .venv/bin/python data/02_circuit_efficiency/make_paper_bundle.py OUTPUT_FOLDER_OF_A_CI_OR_DEMO_RUN

What each section holds, and at which scale it ran (the claims table's `scale` column says the same):
- toy, theorems, digits: computed here with the paper profile's settings (CPU; digits on scikit-learn's 8x8
  digits unless a local MNIST exists, so only the sizes that fit in it).
- ungrokking: the H100 run shipped in paper_ungrokking_h100.json (p=113, d_model 128, paper settings; the
  baseline grokked at t_gen=5100), 7 D' x 3 weight decays x 2 seeds, but only 5,000 ungrokking steps (the paper
  profile asks for 40,000 and 3 seeds): not converged, so its D_crit is a lower bound. Its final test
  accuracies and Fig 8 curves only (no parameter norms or logit proxies were saved: Fig 12 is absent).
- baseline, efficiency, semi_grokking, other_operations: the p=113 transformer runs need a GPU; these are
  the sections of the smaller run given (p=23; its profile is in each section's provenance and in the claims
  table's scale column), replayed as saved (the notebook names them as stale).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOK = ROOT / "notebooks" / "src" / "02_circuit_efficiency.py"
COMPUTE = ("toy", "theorems", "digits")
FROM_SMALL = ("baseline", "efficiency", "semi_grokking", "other_operations")
H100 = HERE / "paper_ungrokking_h100.json"
H100_COMMIT = "a5a268966265f3b3b0bb75bed77904dd5230a18d"  # the commit that shipped the JSON


def h100_ungrokking(folder: Path, settings: dict) -> None:
    """The ungrokking section's Result from the H100 JSON (final test acc per member, test acc over steps)."""
    from grokkit import notebook as nb
    from grokkit.metrics import ungrokking as U

    d = json.loads(H100.read_text())
    members = pd.DataFrame(d["members"], columns=["D'", "weight_decay", "seed"])
    steps = sorted(int(s) for s in d["test_acc"])
    table = members.assign(final_test_acc=np.asarray(d["test_acc"][str(steps[-1])], float))
    curves = pd.DataFrame([(s, m, float(a)) for s in steps for m, a in enumerate(d["test_acc"][str(s)])],
                          columns=["step", "member", "value"]).join(members, on="member")
    R = nb.Result(table=table, curves=curves, crossings=U.crossings(table, levels=(0.5, 0.7)), steps=steps[-1],
                  p=113, scale_label="H100, p=113 paper settings, 5,000 steps: not converged")
    used = {**settings, "ungrok_steps": steps[-1], "seeds": int(members.seed.nunique()),
            "weight_decays": sorted(members.weight_decay.unique().tolist()),
            "subset_sizes": sorted(members["D'"].unique().tolist())}
    R.provenance = {"notebook": "02_circuit_efficiency", "section": "ungrokking", "profile": "paper",
                    "device": "cuda (NVIDIA H100)", "commit": H100_COMMIT, "settings": used,
                    "baseline_t_mem": d["t_mem"], "baseline_t_gen": d["t_gen"], "wall_s": None, "date": "2026-11-23",
                    "note": "converted from data/02_circuit_efficiency/paper_ungrokking_h100.json; not converged"}
    R.save(folder)


def code_cells(path: Path) -> list[tuple[str, str]]:
    cells = re.split(r"^# %%", path.read_text(), flags=re.M)[1:]
    out = []
    for c in cells:
        header, _, body = c.partition("\n")
        if "[markdown]" not in header:
            out.append((header, body))
    return out


def main(small_out: str) -> None:
    from grokkit import results as gr

    small = gr.results_dir(small_out)
    staging = Path(tempfile.mkdtemp(prefix="nb02-bundle-"))
    out = staging / "out"
    for name in FROM_SMALL:
        shutil.copytree(small / name, staging / "results" / name)
    ns: dict = {"__name__": "__nb02_bundle__"}
    compute, replay = gr.Section.compute, gr.Section.replay

    def call(self, S, **kw):  # compute the cheap sections, replay the others from the staging folder
        R = compute(self, S, **kw) if self.name in COMPUTE else replay(self, S)
        S.sections[self.name] = R
        return R

    gr.Section.__call__ = call
    gr.Section.folder = lambda self, S: staging / "results" / self.name
    os.environ["GROKKIT_PROFILE"] = "paper"
    for header, body in code_cells(NOTEBOOK):
        exec(compile(body, f"{NOTEBOOK.name}", "exec"), ns)
        if 'tags=["parameters"]' in header:
            ns.update(profile="paper", output_dir=str(out), device="cpu")
        if 'tags=["params-spec"]' in header:  # the ungrokking section needs the paper settings for provenance
            S0 = ns["PARAMS"].resolve(profile="paper", output_dir=str(staging / "s0"))
            h100_ungrokking(staging / "results" / "ungrokking", {k: v for k, v in S0.items() if k != "output_dir"})
    bundle = HERE / "paper"
    shutil.rmtree(bundle, ignore_errors=True)
    shutil.copytree(out / "results", bundle)
    shutil.copy(out / "results.json", bundle / "claims.json")
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
    print(f"wrote {bundle} ({size / 1e6:.2f} MB): {sorted(p.name for p in bundle.iterdir())}")
    shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
