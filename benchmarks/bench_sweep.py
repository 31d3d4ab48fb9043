"""Sweep benchmark (issue 17): 4 runs of a notebook as a Dask sweep on 2 local workers vs the same 4 runs one after
another (papermill, one process at a time, like a shell loop of `grokkit run`). Prints both wall times and the
ratio. Not a test: the number depends on the machine and on what else it runs.

    python benchmarks/bench_sweep.py [--notebook 00_quickstart] [--workers 2] [--runs 4] [-p steps=400 ...]

Each run gets its own fresh run store (GROKKIT_CACHE in a temporary folder), so nothing is loaded from an earlier
run in either arm. Both arms use the same threads per run (cores / workers) and no PNG export.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebook", default="00_quickstart")
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("-p", "--param", action="append", default=None,
                    help="fixed parameters (default: p=31 train_frac=0.6 lr=0.01 steps=400, a ~5 s fit)")
    args = ap.parse_args()
    params = args.param if args.param is not None else ["p=31", "train_frac=0.6", "lr=0.01", "steps=400"]
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    sys.path.insert(0, str(ROOT))
    from grokkit.dask_sweep import parse_params, plan, run_point, sweep

    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    P = plan(args.notebook, {"seed": list(range(args.runs))}, profile=args.profile, params=params)
    print(f"{P.name} (profile {args.profile}, {' '.join(params)}), {args.runs} runs; {os.cpu_count()} cores, "
          f"{threads} torch thread(s) per run; load average {os.getloadavg()[0]:.1f}", flush=True)

    # one after another: the same task function, in this process, one run at a time
    os.environ["GROKKIT_CACHE"] = str(tmp / "store-serial")
    t0 = time.time()
    serial = []
    for seed in range(args.runs):
        out = tmp / "serial" / f"seed-{seed}"
        r = run_point(str(P.notebook), f"{out}.ipynb", {"profile": args.profile, **parse_params(params),
                                                        "seed": seed, "output_dir": str(out)},
                      str(P.notebook.parent), threads)
        serial.append(r["status"])
    t_serial = time.time() - t0
    print(f"one after another: {t_serial:.1f} s ({', '.join(serial)})", flush=True)

    os.environ["GROKKIT_CACHE"] = str(tmp / "store-dask")
    t0 = time.time()
    df = sweep(P.notebook, {"seed": list(range(args.runs))}, profile=args.profile, params=params,
               cluster=f"local:{args.workers}", out=tmp / "dask", progress=False, report=False,
               torch_threads=threads)
    t_dask = time.time() - t0
    print(f"Dask sweep on {args.workers} workers: {t_dask:.1f} s including the cluster's start "
          f"({', '.join(df.status)})", flush=True)
    print(f"ratio (one after another / Dask): {t_serial / t_dask:.2f}x; load average now "
          f"{os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
