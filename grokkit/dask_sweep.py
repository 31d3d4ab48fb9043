"""Notebook sweeps on a Dask distributed cluster: one papermill execution per grid point.

    grokkit sweep notebooks/00_quickstart.ipynb --profile ci -g seed=0:10 -g p=59,67,97 --cluster local:2 --out DIR
    df = grokkit.sweep("00_quickstart", {"seed": range(10)}, profile="ci", cluster="local:2", out="DIR")

Each grid point is one task: `run_point` executes the notebook with papermill on a Dask worker, with
`output_dir` = DIR/points/<point>/ (the notebook writes results.json and results/<section>/ there). The cluster
is a LocalCluster of N worker processes (one thread each, torch threads set to match) or any scheduler address
(`dask scheduler` + `dask worker`, dask-jobqueue, dask-kubernetes; see docs/SWEEPS.md). Dask schedules, retries
a task once when its worker is lost (`distributed.scheduler.allowed-failures` = 1 on a local cluster; the task is
also submitted with `retries=1`), and serves the dashboard. No scheduler of our own.

The grid and the fixed parameters are validated against the notebook's declaration (`nb.Params`) before anything
is submitted: an unknown name, a bad value or an empty axis is one ValueError naming the parameter and what is
allowed. A failed execution is reported with its notebook and error; the sweep goes on. Afterwards
`grokkit.aggregate` writes DIR/aggregate/ (results.json, tables, report.html).
"""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

RESERVED = {"output_dir": "the sweep sets output_dir (DIR/points/<point>/)",
            "profile": "give the profile with --profile (profile=...)"}
MANIFEST = "sweep.json"
POINTS = "points"
_RANGE = re.compile(r"^\s*(-?\d+)\s*:\s*(-?\d+)\s*(?::\s*(-?\d+)\s*)?$")


class SweepError(ValueError):
    """Bad sweep input (a one-line message: the parameter and what is allowed)."""


# ---- grid parsing and validation -------------------------------------------------------------------------------
def _value(s: str) -> Any:
    s = s.strip()
    try:
        return json.loads(s)
    except ValueError:
        return s


def parse_axis(text: str) -> tuple[str, list]:
    """'seed=0:10' -> ('seed', [0..9]) (half-open, like range; 'a:b:step' too); 'p=59,67,97' -> ('p', [59, 67, 97]);
    'weight_decays=[[0.1, 1.0], [1.0]]' (a JSON list) -> one value per item. Items are JSON, else strings."""
    name, sep, vals = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise SweepError(f"-g {text!r} must be NAME=VALUES, e.g. -g seed=0:10 or -g p=59,67,97")
    vals = vals.strip()
    m = _RANGE.match(vals)
    if m:
        lo, hi, step = int(m[1]), int(m[2]), int(m[3] or 1)
        if step == 0:
            raise SweepError(f"-g {name}={vals}: the step of a range must not be 0")
        values: list = list(range(lo, hi, step))
    elif vals.startswith("["):
        try:
            values = json.loads(vals)
        except ValueError:
            raise SweepError(f"-g {name}={vals} is not a JSON list; give e.g. {name}=[[0.1,1.0],[1.0]] for "
                             "list-valued parameters, or comma-separated values") from None
    else:
        values = [_value(x) for x in vals.split(",") if x.strip()]
    if not values:
        raise SweepError(f"-g {name}={vals} gives no values (an empty grid); give e.g. {name}=0:3 or {name}=1,2,3")
    return name, values


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """['steps=300', 'operation=sub'] -> {'steps': 300, 'operation': 'sub'} (values JSON, else strings)."""
    out = {}
    for kv in items:
        k, sep, v = kv.partition("=")
        if not sep or not k.strip():
            raise SweepError(f"-p {kv!r} must be NAME=VALUE (VALUE as JSON, else a string), e.g. -p steps=300")
        out[k.strip()] = _value(v)
    return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    return v


def _slug(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "+".join(_slug(x) for x in v) or "empty"
    s = re.sub(r"[^A-Za-z0-9.+-]+", "-", str(v)).strip("-")
    return s[:40] or "x"


def point_name(point: Mapping[str, Any]) -> str:
    """A folder name for a grid point: 'seed-3_p-59'."""
    return "_".join(f"{k}-{_slug(v)}" for k, v in point.items())


class Plan:
    """A validated sweep: the notebook, its profile, the grid axes, the fixed parameters, the points."""

    def __init__(self, notebook: Path, name: str, profile: str, axes: dict[str, list], params: dict[str, Any],
                 points: list[dict[str, Any]], declared: bool):
        self.notebook, self.name, self.profile = notebook, name, profile
        self.axes, self.params, self.points, self.declared = axes, params, points, declared

    def __len__(self) -> int:
        return len(self.points)


def _notebook_file(notebook: str | os.PathLike) -> Path:
    from .params import notebook_path

    path = notebook_path(notebook)
    if path.suffix != ".ipynb":
        ipynb = path.parents[1] / f"{path.stem}.ipynb" if path.parent.name == "src" else path.with_suffix(".ipynb")
        if not ipynb.exists():
            raise SweepError(f"notebook {str(notebook)!r}: papermill needs an .ipynb ({ipynb} not found; "
                             "make notebooks builds them)")
        path = ipynb
    return path.resolve()


def plan(notebook: str | os.PathLike, grid: Mapping[str, Iterable] | Iterable[str], *, profile: str = "demo",
         params: Mapping[str, Any] | Iterable[str] | None = None) -> Plan:
    """Validate a sweep before anything runs. `grid`: {name: values} or ['seed=0:10', 'p=59,67']; `params`: fixed
    values ({name: value} or ['name=value']). Raises SweepError (a ValueError) naming the parameter and what is
    allowed: unknown names, bad values (checked against the notebook's nb.Params declaration, cross-parameter
    checks included), empty axes, repeated values, a name given twice."""
    from .params import PROFILES, load_spec

    path = _notebook_file(notebook)
    name = path.stem
    if profile not in PROFILES:
        raise SweepError(f"--profile {profile!r} is not allowed; choose one of {', '.join(PROFILES)}")
    if isinstance(grid, Mapping):
        axes = {}
        for k, vs in grid.items():
            if isinstance(vs, str):  # {'seed': '0:10'} reads like -g seed=0:10
                vs = parse_axis(f"{k}={vs}")[1]
            vs = [vs] if isinstance(vs, (int, float)) else list(vs)
            if not vs:
                raise SweepError(f"-g {k}: no values (an empty grid); give e.g. {k}=0:3 or {k}=1,2,3")
            axes[k] = vs
    else:
        axes = {}
        for text in grid:
            k, vs = parse_axis(text)
            if k in axes:
                raise SweepError(f"-g {k} is given twice; give all its values in one -g {k}=...")
            axes[k] = vs
    if not axes:
        raise SweepError("the grid is empty; give at least one -g NAME=VALUES, e.g. -g seed=0:3")
    fixed = dict(params) if isinstance(params, Mapping) else parse_params(params or [])
    try:
        spec = load_spec(path)
        names, declared = spec.names, True
    except ValueError:  # a notebook without a params-spec cell: check names against its parameters cell only
        import papermill as pm

        spec, names, declared = None, list(pm.inspect_notebook(str(path))), False
    for source, given in (("-g", axes), ("-p", fixed)):
        for k in given:
            if k in RESERVED:
                raise SweepError(f"{source} {k}: {RESERVED[k]}")
            if k not in names:
                allowed = ", ".join(n for n in names if n not in RESERVED)
                raise SweepError(f"{source} {k}: {name} has no parameter {k!r}; it takes {allowed} "
                                 f"(grokkit run {path.name} --help-params)")
    both = sorted(set(axes) & set(fixed))
    if both:
        raise SweepError(f"{', '.join(both)} given with both -g and -p; give it once")
    if spec is not None:  # each value alone, then every point whole (cross-parameter checks)
        for k, v in list(fixed.items()):
            fixed[k] = _jsonable(_check_value(spec, "-p", k, v))
        for k, vs in axes.items():
            axes[k] = [_jsonable(_check_value(spec, "-g", k, v)) for v in vs]
    for k, vs in axes.items():
        seen = [json.dumps(v, sort_keys=True) for v in vs]
        dup = next((vs[i] for i, s in enumerate(seen) if s in seen[:i]), None)
        if len(set(seen)) < len(seen):
            raise SweepError(f"-g {k} repeats the value {dup!r}; give each value once")
    points = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    if spec is not None:
        for pt in points:
            given = {k: v for k, v in {**fixed, **pt}.items() if k != "device"}  # device: checked on the worker
            try:
                spec._resolve_values(name, {"profile": profile, **given, "output_dir": "unused"}, mkdir=False)
            except ValueError as e:
                raise SweepError(f"grid point {point_name(pt)}: {' '.join(str(e).split())}") from None
    names_seen = [point_name(pt) for pt in points]
    if len(set(names_seen)) < len(names_seen):  # two values with the same slug (e.g. 'a b' and 'a-b')
        names_seen = [f"{i:04d}_{n}" for i, n in enumerate(names_seen)]
    for pt, n in zip(points, names_seen):
        pt["_name"] = n
    return Plan(path, name, profile, axes, fixed, points, declared)


def _check_value(spec, flag: str, k: str, v: Any) -> Any:
    if k == "device":
        return v
    try:
        return spec[k].validate(v)
    except ValueError as e:
        raise SweepError(f"{flag} {k}: {' '.join(str(e).split())} (allowed: {spec[k].allowed()})") from None


# ---- the task ----------------------------------------------------------------------------------------------------
def run_point(notebook: str, out_nb: str, parameters: dict[str, Any], cwd: str, torch_threads: int | None,
              static: bool = False, kernel_name: str = "python3") -> dict[str, Any]:
    """Execute one grid point with papermill (runs on a Dask worker). Never raises for a failing notebook: the
    result says status 'ok', 'claims failed' (the notebook ran to its final assert_checked, which failed: its
    results.json is written) or 'failed', with the error in one line."""
    import socket

    out_dir = Path(parameters["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").unlink(missing_ok=True)  # an earlier attempt's results are not this one's
    attempt = {"host": socket.gethostname(), "pid": os.getpid(), "start": time.time()}
    with open(out_dir / "attempts.jsonl", "a") as f:
        f.write(json.dumps(attempt) + "\n")
    if torch_threads is None:
        torch_threads = _threads_per_task()
    threads = str(max(1, int(torch_threads)))
    # the kernel papermill starts inherits this environment: torch reads OMP_NUM_THREADS when it starts
    os.environ.update({"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
                       "GROKKIT_STATIC": "1" if static else "0"})
    import papermill as pm

    t0 = time.time()
    status, error = "ok", None
    for start in range(KERNEL_START_RETRIES + 1):
        try:
            pm.execute_notebook(notebook, out_nb, parameters=parameters, cwd=cwd, progress_bar=False,
                                log_output=False, kernel_name=kernel_name)
        except pm.PapermillExecutionError as e:
            first = " ".join(str(e.evalue).split())
            status = "claims failed" if e.ename == "AssertionError" and "checked claim" in first else "failed"
            error = f"cell {e.exec_count}: {e.ename}: {first}"[:500]
        except Exception as e:  # kernel died, notebook unreadable, ...
            if kernel_start_failed(e) and start < KERNEL_START_RETRIES:
                time.sleep(0.5 * (start + 1))
                continue
            status, error = "failed", f"{type(e).__name__}: {' '.join(str(e).split())}"[:500]
        break
    return {"status": status, "error": error, "wall_s": round(time.time() - t0, 2),
            "worker": f"{attempt['host']}:{attempt['pid']}", "threads": int(threads), "kernel_starts": start + 1,
            "has_results": (out_dir / "results.json").exists()}


# A kernel that dies before it answers kernel_info has run no cell, so starting it again is safe. On one machine,
# parallel kernel starts race for the loopback ports jupyter_client picks (seen in CI: "ZMQError: Address already
# in use", then "Kernel died before replying to kernel_info" and a failed grid point).
KERNEL_START_RETRIES = 2


def kernel_start_failed(e: BaseException) -> bool:
    text = f"{type(e).__name__}: {e}"
    return "Kernel died before replying to kernel_info" in text or "Address already in use" in text


def _threads_per_task() -> int:
    """On a worker of a remote cluster: the machine's cores shared among this worker's threads."""
    try:
        from distributed import get_worker

        n = get_worker().state.nthreads
    except Exception:
        n = 1
    return max(1, (os.cpu_count() or 1) // max(1, n))


# ---- the cluster -------------------------------------------------------------------------------------------------
def parse_cluster(cluster: str) -> tuple[str, int | None]:
    """'local' -> ('local', None); 'local:4' -> ('local', 4); anything else is a scheduler address."""
    if cluster == "local" or cluster.startswith("local:"):
        n = cluster.partition(":")[2]
        if not n:
            return "local", None
        try:
            k = int(n)
        except ValueError:
            k = 0
        if k < 1:
            raise SweepError(f"--cluster {cluster!r}: local:N needs an integer N >= 1 (worker processes), "
                             "e.g. local:2")
        return "local", k
    if not cluster.strip():
        raise SweepError("--cluster is empty; give local, local:N or a scheduler address such as "
                         "tcp://host:8786")
    return cluster.strip(), None


def parse_resources(items: Iterable[str] | Mapping[str, float] | None) -> dict[str, float]:
    if not items:
        return {}
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        pairs = []
        for it in items:
            for part in str(it).split(","):
                k, sep, v = part.partition("=")
                if not sep or not k.strip():
                    raise SweepError(f"--resources {part!r} must be NAME=AMOUNT, e.g. --resources GPU=1")
                pairs.append((k.strip(), v))
    out = {}
    for k, v in pairs:
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = float("nan")
        if not math.isfinite(x) or x <= 0:
            raise SweepError(f"--resources {k}={v}: the amount must be a number > 0, e.g. {k}=1")
        out[k] = x
    return out


def _dashboard_note() -> str:
    import importlib.util

    return "" if importlib.util.find_spec("bokeh") else " (served only when bokeh>=3.1 is installed: pip install bokeh)"


def connect(cluster: str = "local", *, n_workers: int | None = None, resources: Mapping[str, float] | None = None,
            timeout: float = 10.0):
    """A dask.distributed Client (and the LocalCluster it owns, or None). `cluster`: 'local', 'local:N' or a
    scheduler address. An unreachable scheduler -> RuntimeError after `timeout` seconds."""
    import dask
    from distributed import Client, LocalCluster

    kind, n = parse_cluster(cluster)
    if kind == "local":
        n = n or n_workers or max(1, os.cpu_count() or 1)
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):  # a lost worker: one retry
            lc = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=":0", resources=dict(resources or {}) or None)
        return Client(lc), lc
    address = kind if "://" in kind else f"tcp://{kind}"
    try:
        client = Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as e:
        raise RuntimeError(f"--cluster {kind}: no Dask scheduler answered at {address} within {timeout:g} s "
                           f"({type(e).__name__}); start one with `dask scheduler` (and workers with "
                           f"`dask worker {address}`), or use --cluster local; --timeout waits longer") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise RuntimeError(f"--cluster {kind}: the scheduler at {address} has no workers after {timeout:g} s; "
                           f"start some with `dask worker {address}`") from None
    if resources:
        have = [w for w in client.scheduler_info(n_workers=-1)["workers"].values()
                if all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items())]
        if not have:
            client.close()
            want = ",".join(f"{k}={v:g}" for k, v in resources.items())
            raise RuntimeError(f"--resources {want}: no worker of the scheduler at {address} has them; start "
                               f"workers with `dask worker {address} --resources {want}`")
    return client, None


# ---- the sweep ---------------------------------------------------------------------------------------------------
def sweep(notebook: str | os.PathLike, grid: Mapping[str, Iterable] | Iterable[str], *, profile: str = "demo",
          params: Mapping[str, Any] | Iterable[str] | None = None, cluster: str = "local",
          out: str | os.PathLike | None = None, resources: Mapping[str, float] | Iterable[str] | None = None,
          timeout: float = 10.0, torch_threads: int | None = None, static: bool = False, report: bool = True,
          progress: bool = True, client=None) -> pd.DataFrame:
    """Run `notebook` once per grid point on a Dask cluster; aggregate; return one row per point.

    grid: {name: values} or ['seed=0:10', 'p=59,67,97']; params: fixed values; cluster: 'local', 'local:N' or a
    scheduler address (or pass a dask `client`); out: the sweep folder (default out/sweep/<notebook>-<profile>);
    resources: per-task worker resources, e.g. {'GPU': 1}; torch_threads: threads per run (default: the cores
    shared among a local cluster's workers, else cores / the worker's threads); static: also export PNGs.

    Columns: the grid's parameters, point, status ('ok' | 'claims failed' | 'failed'), error, wall_s, attempts,
    worker, output_dir, notebook_out, and hold / fail / not_at_scale counts of the point's claims.
    df.attrs['aggregate'] is DIR/aggregate/results.json."""
    P = plan(notebook, grid, profile=profile, params=params)
    res = parse_resources(resources)
    out_dir = Path(out if out is not None else Path("out") / "sweep" / f"{P.name}-{profile}").resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise SweepError(f"--out {out_dir} is a file; give a folder (created if missing)")
    (out_dir / POINTS).mkdir(parents=True, exist_ok=True)
    own = client is None
    lc = None
    if own:
        kind, n = parse_cluster(cluster)
        if kind == "local" and torch_threads is None:
            n_workers = n or max(1, os.cpu_count() or 1)
            torch_threads = max(1, (os.cpu_count() or 1) // n_workers)
        client, lc = connect(cluster, resources=res, timeout=timeout)
    try:
        return _run(P, client, out_dir, res, torch_threads, static, report, progress, cluster)
    finally:
        if own:
            client.close()
            if lc is not None:
                lc.close()


def _run(P: Plan, client, out_dir: Path, res: dict, torch_threads, static: bool, report: bool, progress: bool,
         cluster: str) -> pd.DataFrame:
    from distributed import as_completed
    from tqdm.auto import tqdm

    n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    print(f"grokkit sweep: {P.name} (profile {P.profile}), {len(P)} run(s) on {n_workers} worker(s) at "
          f"{client.scheduler.address}", flush=True)
    print(f"Dask dashboard: {client.dashboard_link}{_dashboard_note()}", flush=True)
    futures, rows = {}, {}
    for pt in P.points:
        name = pt["_name"]
        values = {k: v for k, v in pt.items() if k != "_name"}
        pdir = out_dir / POINTS / name
        parameters = {"profile": P.profile, **P.params, **values, "output_dir": str(pdir)}
        fut = client.submit(run_point, str(P.notebook), str(out_dir / POINTS / f"{name}.ipynb"), parameters,
                            str(P.notebook.parent), torch_threads, static, key=f"grokkit-{P.name}-{name}-"
                            f"{os.getpid()}-{time.time_ns()}", resources=res or None, retries=1, pure=False)
        futures[fut] = name
        rows[name] = {**values, "point": name, "output_dir": str(pdir), "notebook_out": str(pdir) + ".ipynb"}
    t0 = time.time()
    bar = tqdm(total=len(futures), desc=f"{P.name} x{len(futures)}", unit="run", disable=not progress,
               file=sys.stderr)
    for fut in as_completed(futures):
        name = futures[fut]
        try:
            r = fut.result()
        except Exception as e:  # lost its worker twice (KilledWorker), cancelled, ...
            r = {"status": "failed", "error": f"{type(e).__name__}: {' '.join(str(e).split())}"[:500],
                 "wall_s": None, "worker": None, "has_results": False}
        rows[name].update(r)
        if r["status"] != "ok":
            bar.write(f"{r['status'].upper()}: {P.notebook.name} at {name}: {r['error']}")
        bar.update(1)
    bar.close()
    wall = time.time() - t0
    df = pd.DataFrame([rows[pt["_name"]] for pt in P.points])
    df["attempts"] = [_attempts(Path(d)) for d in df.output_dir]
    counts = [_claim_counts(Path(d)) for d in df.output_dir]
    for k in ("hold", "fail", "not_at_scale"):
        df[k] = [c[k] for c in counts]
    cols = [*P.axes, "point", "status", "error", "hold", "fail", "not_at_scale", "wall_s", "attempts", "kernel_starts",
            "worker", "threads", "has_results", "output_dir", "notebook_out"]
    df = df[[c for c in cols if c in df.columns]]
    manifest = {"notebook": P.name, "notebook_path": str(P.notebook), "profile": P.profile, "axes": P.axes,
                "params": P.params, "cluster": cluster, "n_workers": n_workers, "wall_s": round(wall, 2),
                "resources": res, "points": json.loads(df.to_json(orient="records"))}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    n_ok = int((df.status == "ok").sum())
    print(f"{n_ok}/{len(df)} run(s) ok in {wall:.0f} s" + ("" if n_ok == len(df) else
          f"; {int((df.status == 'claims failed').sum())} with failed checked claims (results kept), "
          f"{int((df.status == 'failed').sum())} failed"), flush=True)
    if report:
        from .aggregate import aggregate

        agg = aggregate(out_dir)
        df.attrs["aggregate"] = str(agg)
        print(f"aggregate: {agg} and {agg.parent / 'report.html'}", flush=True)
    return df


def _attempts(folder: Path) -> int:
    try:
        return sum(1 for line in (folder / "attempts.jsonl").read_text().splitlines() if line.strip())
    except OSError:
        return 0


def _claim_counts(folder: Path) -> dict[str, int]:
    try:
        claims = json.loads((folder / "results.json").read_text()).get("claims", [])
    except (OSError, ValueError):
        claims = []
    return {"hold": sum(c.get("holds") is True for c in claims), "fail": sum(c.get("holds") is False for c in claims),
            "not_at_scale": sum(isinstance(c.get("holds"), str) for c in claims)}
