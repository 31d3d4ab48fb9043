"""grokkit command line.

    grokkit run NOTEBOOK... [--profile ci|demo|paper] [--out out] [-p name=value ...] [--help-params]
    grokkit sweep NOTEBOOK --profile P -g seed=0:10 [-g p=59,67,97] [-p name=value ...] [--cluster local[:N] | ADDRESS]
                  [--out DIR] [--resources GPU=1] [--timeout 10]      one papermill run per grid point on Dask
    grokkit aggregate DIR                                                 (re)aggregate a sweep folder
    grokkit ensemble-sweep [--p 97] [--operation add] [--train-fracs 0.3] [--seeds 0,1,2] [--weight-decays 1.0] ...
                  (an in-process ensemble of spec-01 MLPs; `grokkit sweep --p ...` still runs it)
    grokkit bench [benchmark args]
    grokkit list
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `grokkit sweep: error: argument --seeds: ...` (no usage block)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def _int(s: str, min_value: int = 0) -> int:
    try:
        v = int(s.strip())
    except ValueError:
        raise ValueError("is not an integer") from None
    if v < min_value:
        raise ValueError(f"must be >= {min_value}")
    return v


def _float(s: str, min_value: float = 0.0, strict: bool = False) -> float:
    try:
        v = float(s.strip())
    except ValueError:
        raise ValueError("is not a number") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError("is not a finite number")
    if v < min_value or (strict and v == min_value):
        raise ValueError(f"must be {'>' if strict else '>='} {min_value:g}")
    return v


def _fraction(s: str) -> float:
    v = _float(s)
    if not 0 < v < 1:
        raise ValueError("must lie in (0, 1)")
    return v


def _list(item, what: str):
    """A comma-separated list option, each item checked by `item`; the message names the bad item."""
    def convert(s: str) -> list:
        parts = [x for x in s.split(",") if x.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"{s!r} is empty; give {what}")
        out = []
        for x in parts:
            try:
                out.append(item(x))
            except ValueError as e:
                raise argparse.ArgumentTypeError(f"{x.strip()!r} {e}; give {what}") from None
        return out
    return convert


def _scalar(item, what: str):
    def convert(s: str):
        try:
            return item(s)
        except ValueError as e:
            raise argparse.ArgumentTypeError(f"{s!r} {e}; give {what}") from None
    return convert


def _device(s: str) -> str:
    from . import validate

    try:
        return validate.device("device", s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _param(s: str) -> str:
    if "=" not in s or not s.partition("=")[0].strip():
        raise argparse.ArgumentTypeError(f"{s!r} must be NAME=VALUE (VALUE as JSON, else a string), e.g. -p seed=1")
    return s


def cmd_help_params(args) -> int:
    """`grokkit run NOTEBOOK --help-params [--profile P]`: the notebook's `params-spec` cell, executed alone."""
    from .params import load_spec

    for path in args.notebooks:
        print(load_spec(path).help_text(args.profile))
    return 0


def cmd_run(args) -> int:
    if args.help_params:
        return cmd_help_params(args)
    args.profile = args.profile or "demo"
    out = Path(args.out)
    for p in (out, out / args.profile):
        if p.exists() and not p.is_dir():
            raise ValueError(f"--out {args.out}: {p} is a file; give a folder (created if missing) for the "
                             "executed notebooks and figures")
    missing = [nb for nb in args.notebooks if not Path(nb).is_file()]
    if missing:
        raise ValueError(f"notebook(s) not found: {', '.join(missing)}; give .ipynb paths, "
                         "e.g. notebooks/00_quickstart.ipynb")
    import papermill as pm

    root = out / args.profile
    root.mkdir(parents=True, exist_ok=True)
    extra = {}
    for kv in args.param:
        k, _, v = kv.partition("=")
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    progress = args.progress
    if progress == "auto":
        progress = "cells" if sys.stdout.isatty() else "none"
    if progress == "log":  # papermill logs each output chunk on its "papermill" logger, at INFO
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        logging.getLogger("papermill").setLevel(logging.INFO)
    failures, summary = [], []
    n = len(args.notebooks)
    t_all = time.time()
    for i, path in enumerate(args.notebooks, 1):
        name = Path(path).stem
        out_dir = (root / name).resolve()
        print(f"[{i}/{n}] {name} (profile {args.profile}) ...", flush=True)
        t0 = time.time()
        try:
            pm.execute_notebook(path, str(root / f"{name}.ipynb"), cwd=str(Path(path).parent),
                                parameters={"profile": args.profile, "output_dir": str(out_dir), **extra},
                                progress_bar=progress == "cells", log_output=progress == "log",
                                kernel_name="python3")
            status = "ok"
        except Exception as e:  # keep going: report every notebook
            status = f"FAILED ({type(e).__name__})"
            failures.append((name, e))
        dt = time.time() - t0
        res = out_dir / "results.json"
        claims = json.loads(res.read_text()).get("claims", []) if res.exists() else []
        held = sum(c["holds"] is True for c in claims)
        print(f"[{i}/{n}] {name}: {status} in {dt:.0f} s; claims held {held}/{len(claims)} -> {out_dir}", flush=True)
        summary.append((name, claims))
    print(f"\n{n} notebook(s) in {time.time() - t_all:.0f} s; executed notebooks and figures under {root}/")
    for name, claims in summary:
        for c in claims:
            print(f"  {name:24s} {str(c['holds']):18s} {c['claim'][:72]} (paper: {c['paper']}; "
                  f"measured: {c['measured']})")
    for name, e in failures:
        print(f"\n{name} failed:\n{str(e)[-3000:]}", file=sys.stderr)
    return 1 if failures else 0


def cmd_sweep(args) -> int:
    """`grokkit sweep NOTEBOOK ...`: one papermill execution per grid point, as tasks on a Dask cluster."""
    from .dask_sweep import sweep

    df = sweep(args.notebook, args.grid, profile=args.profile, params=args.param, cluster=args.cluster,
               out=args.out, resources=args.resources, timeout=args.timeout, torch_threads=args.torch_threads,
               static=args.static, report=not args.no_report, progress=not args.no_progress)
    cols = [c for c in df.columns if c not in ("output_dir", "notebook_out", "error", "worker", "has_results")]
    print(df[cols].to_string(index=False))
    return 0 if (df.status != "failed").all() else 1


def cmd_aggregate(args) -> int:
    from .aggregate import aggregate

    path = aggregate(args.dir)
    doc = json.loads(path.read_text())
    print(f"{doc['n_runs']} run(s), {doc['n_ok']} ok -> {path} and {path.parent / 'report.html'}")
    for c in doc["claims"]:
        print(f"  {c['summary']:28s} {c['claim'][:70]}  {c['measured_text'][:80]}")
    return 0


def cmd_ensemble_sweep(args) -> int:
    import itertools

    import torch

    from .data import Data
    from .models import EmbedMLPConfig, build
    from .tasks import ModularTask, random_split
    from .train import TrainConfig, fit

    task = ModularTask(p=args.p, operation=args.operation, pairs=args.pairs)
    combos = list(itertools.product(args.seeds, args.weight_decays, args.train_fracs))
    splits = [random_split(task, frac, seed=s) for s, _, frac in combos]
    data = Data(task.inputs("pairs"), task.y, [sp.train for sp in splits], [sp.test for sp in splits])
    model = build(EmbedMLPConfig(p=args.p), n_members=len(combos), seeds=[s for s, _, _ in combos])
    cfg = TrainConfig(steps=args.steps, lr=args.lr, weight_decay=tuple(w for _, w, _ in combos),
                      eval_every=args.eval_every, early_stop_patience=args.patience, device=args.device)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    run = fit(model, data, cfg, desc=f"sweep x{len(combos)}")
    s = run.summary()
    s.insert(1, "seed", [c[0] for c in combos])
    s.insert(2, "weight_decay", [c[1] for c in combos])
    s.insert(3, "train_frac", [c[2] for c in combos])
    cols = ["member", "seed", "weight_decay", "train_frac", "t_mem", "t_gen", "tau_grok", "final_test_acc"]
    print(f"{task.description}, {len(combos)} members, "
          + ("loaded from the run store" if run.meta["loaded_from_store"] else f"{run.meta['wall_s']:.1f} s"))
    print(s[cols].to_string(index=False))
    return 0


def cmd_bench(rest) -> int:
    import runpy

    path = ROOT / "benchmarks" / "bench_train.py"
    if not path.exists():
        print("benchmarks/bench_train.py is part of the source checkout, not the installed package", file=sys.stderr)
        return 2
    sys.argv = [str(path), *rest]
    runpy.run_path(str(path), run_name="__main__")
    return 0


def cmd_list(args) -> int:
    from .store import RunStore, StoreUnavailable, default_root

    if args.store is None and default_root() is None:
        print("run store switched off (GROKKIT_CACHE=off)")
        return 0
    try:
        store = RunStore(args.store) if args.store else RunStore()
    except StoreUnavailable as e:  # one line saying what is wrong, no traceback
        print(f"grokkit list: {e}", file=sys.stderr)
        return 1
    keys = store.keys()
    damaged = dict(store.check())
    note = "" if store.writable else f" ({store.problem}: runs load, new ones are not saved)"
    print(f"run store {store.root}: {len(keys)} run(s){note}")
    for k in keys[-args.limit:]:
        path = store.path(k)
        if path in damaged:
            print(f"  {k[:12]}  DAMAGED: {damaged[path]}")
            continue
        rec = store.load(k)
        meta = rec.get("meta", {}) if isinstance(rec, dict) else {}
        cfg = rec.get("config") if isinstance(rec, dict) else None
        try:
            size = path.stat().st_size / 1e6
        except OSError:  # removed by another process meanwhile
            size = float("nan")
        print(f"  {k[:12]}  members={meta.get('n_members', '?'):>3}  steps={meta.get('steps_run', '?'):>6}  "
              f"wall={meta.get('wall_s', float('nan')):7.1f}s  {size:6.1f} MB  "
              f"{type(cfg).__name__ if cfg else ''}")
    shown = {store.path(k) for k in keys[-args.limit:]}
    for path, problem in damaged.items():
        if path not in shown:
            print(f"  {path.name}  DAMAGED: {problem}")
    aside = store.quarantined()
    if aside:
        print(f"{len(aside)} damaged file(s) moved aside earlier (*.corrupt-*), kept for inspection")
    if damaged:
        print(f"{len(damaged)} damaged file(s): they are moved aside and recomputed the next time their "
              "config runs", file=sys.stderr)
    nbs = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if nbs:
        print("notebooks: " + ", ".join(n.stem for n in nbs))
    return 1 if damaged else 0


_ENSEMBLE_OPTIONS = {"--p", "--operation", "--pairs", "--train-fracs", "--seeds", "--weight-decays", "--lr", "--steps",
                     "--eval-every", "--patience", "--device"}


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = _Parser(prog="grokkit", description="a Jupyter-first lab for grokking research")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="execute notebooks headless (papermill)")
    r.add_argument("notebooks", nargs="+")
    r.add_argument("--profile", default=None, choices=["ci", "demo", "paper"], help="default: demo")
    r.add_argument("--out", default="out")
    r.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", type=_param)
    r.add_argument("--help-params", action="store_true",
                   help="print the notebooks' parameters (allowed values, defaults per profile, help); run nothing")
    r.add_argument("--progress", default="auto", choices=["auto", "cells", "log", "none"],
                   help="cells: a bar over each notebook's cells; log: stream each cell's printed output as it comes "
                        "(which section runs, what it measured: follow a paper-scale run); none: one line per "
                        "notebook; auto (default): cells on a terminal, else none")
    w = sub.add_parser("sweep", help="run a notebook once per grid point (seeds, primes, ...) on a Dask cluster, "
                       "then aggregate the claims and tables")
    w.add_argument("notebook", help="a notebook (.ipynb path or a name such as 00_quickstart)")
    w.add_argument("--profile", default="demo", choices=["ci", "demo", "paper"], help="default: demo")
    w.add_argument("-g", "--grid", action="append", default=[], metavar="NAME=VALUES",
                   help="a grid axis: seed=0:10 (half-open range, a:b:step too), p=59,67,97 (values as JSON, else "
                   "strings) or a JSON list; the grid is the product of the axes")
    w.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", type=_param,
                   help="a fixed notebook parameter for every run")
    w.add_argument("--cluster", default="local", help="local (one worker process per core), local:N, or a Dask "
                   "scheduler address such as tcp://host:8786 (default: local)")
    w.add_argument("--out", default=None, help="the sweep folder (default out/sweep/<notebook>-<profile>)")
    w.add_argument("--resources", action="append", default=[], metavar="NAME=AMOUNT",
                   help="worker resources each run needs, e.g. GPU=1")
    w.add_argument("--timeout", type=_scalar(lambda x: _float(x, 0, strict=True), "a number of seconds > 0"),
                   default=10.0, help="seconds to wait for a scheduler (and its first worker); default 10")
    w.add_argument("--torch-threads", type=_scalar(lambda x: _int(x, 1), "an integer >= 1"), default=None,
                   help="torch threads per run (default: cores / local workers; on a remote worker its cores / "
                   "its threads)")
    w.add_argument("--static", action="store_true", help="also export PNG figures in every run (slow)")
    w.add_argument("--no-report", action="store_true", help="skip the aggregate (grokkit aggregate DIR later)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = sub.add_parser("aggregate", help="aggregate a sweep folder: DIR/aggregate/results.json, tables, report.html")
    a.add_argument("dir")
    s = sub.add_parser("ensemble-sweep", help="train an ensemble of spec-01 MLPs on modular arithmetic in one "
                       "process, print grokking times")
    s.add_argument("--p", type=_scalar(lambda x: _int(x, 2), "an integer >= 2 (a prime for div), e.g. 97"),
                   default=97)
    s.add_argument("--operation", default="add")
    s.add_argument("--pairs", default="all", choices=["all", "unordered"])
    s.add_argument("--train-fracs", type=_list(_fraction, "comma-separated fractions in (0, 1), e.g. 0.3,0.5"),
                   default="0.3")
    s.add_argument("--seeds", type=_list(_int, "comma-separated integers >= 0, e.g. 0,1,2"), default="0,1,2")
    s.add_argument("--weight-decays", type=_list(_float, "comma-separated finite numbers >= 0, e.g. 0.1,1.0"),
                   default="1.0")
    s.add_argument("--lr", type=_scalar(lambda x: _float(x, 0, strict=True), "a finite number > 0, e.g. 3e-3"),
                   default=3e-3)
    s.add_argument("--steps", type=_scalar(lambda x: _int(x, 1), "an integer >= 1"), default=5000)
    s.add_argument("--eval-every", type=_scalar(lambda x: _int(x, 1), "an integer >= 1"), default=50)
    s.add_argument("--patience", type=_scalar(_int, "an integer >= 0 (steps after t_gen)"), default=None)
    s.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda, cuda:N or mps")
    sub.add_parser("bench", help="training-speed benchmark (args passed through)", add_help=False)
    ls = sub.add_parser("list", help="list stored runs")
    ls.add_argument("--store", default=None)
    ls.add_argument("--limit", type=_scalar(lambda x: _int(x, 1), "an integer >= 1"), default=30)
    if argv and argv[0] == "bench":
        return cmd_bench(argv[1:])
    if len(argv) > 1 and argv[0] == "sweep" and argv[1].partition("=")[0] in _ENSEMBLE_OPTIONS:
        print("note: `grokkit sweep --p/--seeds/...` is now `grokkit ensemble-sweep` (grokkit sweep NOTEBOOK runs "
              "notebooks on Dask)", file=sys.stderr)
        argv[0] = "ensemble-sweep"
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # a bad option (one line, from _Parser.error) or -h: return the code, as below
        return e.code if isinstance(e.code, int) else 2
    try:
        return {"run": cmd_run, "sweep": cmd_sweep, "aggregate": cmd_aggregate, "ensemble-sweep": cmd_ensemble_sweep,
                "list": cmd_list}[args.cmd](args)
    except (ValueError, OSError, RuntimeError) as e:  # bad parameters or an unusable path: one line, no traceback
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"grokkit {args.cmd}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
