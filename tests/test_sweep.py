"""grokkit sweep on Dask (issue 17): bad input before anything runs, a 3-seed sweep of 00_quickstart on a
LocalCluster of 2 worker processes over loopback, a worker killed mid-sweep, two workers writing one run store.

Each notebook run is made cheap (p=31, 400 steps, lr 1e-2: ~15 s with the kernel's start on a busy 2-core box)."""
import json
import os
import signal
import socket
import sys
import threading
import time

import pytest

from grokkit.cli import main
from grokkit.dask_sweep import SweepError, parse_axis, plan, sweep

CHEAP = ["p=31", "train_frac=0.6", "lr=0.01", "steps=400"]


# ---- bad input: one line naming the parameter and what is allowed, exit 2, nothing submitted -------------------
def test_parse_axis():
    assert parse_axis("seed=0:4") == ("seed", [0, 1, 2, 3])
    assert parse_axis("seed=0:10:5") == ("seed", [0, 5])
    assert parse_axis("p=59,67,97") == ("p", [59, 67, 97])
    assert parse_axis("operation=add,sub") == ("operation", ["add", "sub"])
    assert parse_axis("wds=[[0.1, 1.0], [1.0]]") == ("wds", [[0.1, 1.0], [1.0]])


def test_plan_validates_against_the_declaration():
    P = plan("00_quickstart", ["seed=0:2", "p=31,97"], profile="ci", params=["steps=400"])
    assert len(P) == 4 and P.params == {"steps": 400} and P.declared
    assert [pt["_name"] for pt in P.points] == ["seed-0_p-31", "seed-0_p-97", "seed-1_p-31", "seed-1_p-97"]
    assert plan("00_quickstart", {"seed": range(3)}, profile="ci").axes == {"seed": [0, 1, 2]}


def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv,needles", [
    (["-g", "seed=0:2", "-g", "stepz=1,2"], ["-g stepz", "no parameter 'stepz'", "train_frac", "steps"]),
    (["-g", "seed=0:2", "-p", "lrr=0.1"], ["-p lrr", "no parameter 'lrr'", "lr"]),
    (["-g", "p=31,4"], ["-g p", "p=4 is not allowed", "a prime"]),
    (["-g", "seed=0:2", "-p", "train_frac=1.5"], ["-p train_frac", "train_frac=1.5", "0 < x < 1"]),
    (["-g", "operation=add,pow"], ["-g operation", "'pow'", "add", "sub"]),
    (["-g", "seed=5:5"], ["-g seed=5:5 gives no values (an empty grid)"]),
    (["-g", "seed="], ["-g seed= gives no values (an empty grid)"]),
    ([], ["the grid is empty", "-g NAME=VALUES"]),
    (["-g", "seed=1,1"], ["-g seed repeats the value 1"]),
    (["-g", "seed=0:2", "-p", "seed=3"], ["seed given with both -g and -p"]),
    (["-g", "output_dir=a,b"], ["-g output_dir: the sweep sets output_dir"]),
    (["-g", "seed=0:2", "--cluster", "local:0"], ["--cluster 'local:0'", "N >= 1"]),
    (["-g", "seed=0:2", "--resources", "GPU=x"], ["--resources GPU=x", "a number > 0"]),
])
def test_bad_input_is_one_line_naming_the_parameter(capsys, tmp_path, argv, needles):
    err = _err(capsys, ["sweep", "00_quickstart", "--profile", "ci", "--out", str(tmp_path / "s"), *argv])
    assert err.startswith("grokkit sweep: error: "), err
    for n in needles:
        assert n in err, (n, err)


def test_unknown_notebook_and_plan_error_type(capsys):
    err = _err(capsys, ["sweep", "nope", "-g", "seed=0:2"])
    assert "notebook 'nope' not found" in err and "00_quickstart" in err
    with pytest.raises(SweepError):
        plan("00_quickstart", ["seed=0:2", "p=4"], profile="ci")


def test_unreachable_scheduler_fails_after_the_timeout(capsys, tmp_path):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    err = _err(capsys, ["sweep", "00_quickstart", "--profile", "ci", "-g", "seed=0:2", "--cluster",
                        f"tcp://127.0.0.1:{port}", "--timeout", "1.5", "--out", str(tmp_path / "s")])
    assert time.time() - t0 < 30
    assert f"no Dask scheduler answered at tcp://127.0.0.1:{port} within 1.5 s" in err and "dask scheduler" in err


# ---- on a LocalCluster of 2 worker processes -----------------------------------------------------------------------
@pytest.mark.notebook
@pytest.mark.slow
def test_three_seed_sweep_of_quickstart_aggregates_three_runs(capsys, tmp_path):
    out = tmp_path / "sweep"
    argv = ["sweep", "00_quickstart", "--profile", "ci", "-g", "seed=0:3", "--cluster", "local:2", "--out", str(out),
            "--no-progress"]
    for kv in CHEAP:
        argv += ["-p", kv]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 run(s) on 2 worker(s) at tcp://127.0.0.1:" in printed and "Dask dashboard: http" in printed
    man = json.loads((out / "sweep.json").read_text())
    assert [p["point"] for p in man["points"]] == ["seed-0", "seed-1", "seed-2"]
    assert all(p["status"] in ("ok", "claims failed") and p["has_results"] for p in man["points"]), man["points"]
    assert len({p["worker"] for p in man["points"]}) == 2  # both worker processes ran notebooks
    for p in man["points"]:
        settings = json.loads((out / "points" / p["point"] / "results.json").read_text())["settings"]
        assert (settings["seed"], settings["p"], settings["steps"]) == (p["seed"], 31, 400)
        assert (out / "points" / f"{p['point']}.ipynb").exists()
    doc = json.loads((out / "aggregate" / "results.json").read_text())
    assert (doc["n_runs"], doc["n_with_results"]) == (3, 3)
    assert len(doc["claims"]) == 2
    for c in doc["claims"]:
        assert c["hold"] + c["fail"] + c["not_at_scale"] == 3 and c["absent"] == 0
    gen = doc["claims"][0]
    assert gen["measured"]["value"]["n"] == 3  # final test accuracy of every seed, as median [min, max]
    import pandas as pd

    curves = pd.read_parquet(out / "aggregate" / "train" / "curves.parquet")
    assert sorted(curves.seed.unique()) == [0, 1, 2]
    assert "test accuracy over training" in (out / "aggregate" / "report.html").read_text()


@pytest.fixture(scope="module")
def cluster():
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        lc = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0")
    client = Client(lc)
    yield lc, client
    client.close()
    lc.close()


@pytest.mark.notebook
@pytest.mark.slow
def test_killing_a_worker_mid_sweep_loses_nothing(cluster, tmp_path):
    lc, client = cluster
    out = tmp_path / "sweep"
    got = {}

    def run():
        try:
            got["df"] = sweep("00_quickstart", ["seed=0:2"], profile="ci", params=CHEAP, cluster=lc.scheduler_address,
                              out=out, progress=False)
        except BaseException as e:  # noqa: B036 - reported below
            got["error"] = e

    th = threading.Thread(target=run)
    th.start()
    killed = None
    deadline = time.time() + 120
    while killed is None and time.time() < deadline and th.is_alive():
        started = list(out.glob("points/*/attempts.jsonl"))
        if started:  # a notebook has started: let it run a little, then kill its worker process (SIGKILL)
            time.sleep(2.0)
            pid = json.loads(started[0].read_text().splitlines()[0])["pid"]
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.1)
    th.join(300)
    assert killed is not None and not th.is_alive()
    assert "error" not in got, got.get("error")
    df = got["df"]
    assert df.seed.tolist() == [0, 1]
    assert df.status.isin(["ok", "claims failed"]).all() and df.has_results.all(), df.to_string()
    assert df.attempts.tolist() in ([1, 2], [2, 1])  # the killed run was retried once, the other ran once
    assert not df.worker.str.endswith(f":{killed}").any()  # every result came from a live worker
    doc = json.loads((out / "aggregate" / "results.json").read_text())
    assert doc["n_with_results"] == 2 and all(c["absent"] == 0 for c in doc["claims"])


def _fit_into(root, seed):
    """On a worker: one small fit into the shared store; (seed, trained here?, pid)."""
    import torch

    from grokkit.data import Data
    from grokkit.models import EmbedMLPConfig, build
    from grokkit.store import RunStore
    from grokkit.tasks import ModularTask, random_split
    from grokkit.train import TrainConfig, fit

    torch.set_num_threads(1)
    task = ModularTask(p=11, operation="add", pairs="all")
    split = random_split(task, 0.5, seed=seed)
    run = fit(build(EmbedMLPConfig(p=11), seeds=[seed]), Data(task.inputs("pairs"), task.y, split.train, split.test),
              TrainConfig(steps=150, lr=3e-3, eval_every=50), store=RunStore(root), progress=False)
    return seed, not run.meta["loaded_from_store"], os.getpid()


@pytest.mark.slow
def test_two_workers_writing_one_store_leave_it_consistent(cluster, tmp_path):
    import cloudpickle

    from grokkit.store import RunStore

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    _, client = cluster
    root = tmp_path / "store"
    futures = client.map(_fit_into, [str(root)] * 6, [0, 0, 1, 1, 0, 1], pure=False)
    got = client.gather(futures)
    assert len({pid for *_, pid in got}) == 2  # both worker processes wrote
    trained = {s: sum(t for s2, t, _ in got if s2 == s) for s in (0, 1)}
    assert trained == {0: 1, 1: 1}  # each config trained once (per-key lock), loaded by the others
    rs = RunStore(root)
    assert len(rs.keys()) == 2 and rs.check() == [] and rs.quarantined() == []
    assert all(rs.load(k) is not None for k in rs.keys())


@pytest.mark.slow
def test_resources_no_worker_has_is_a_clear_error(cluster, tmp_path):
    lc, _ = cluster
    with pytest.raises(RuntimeError, match=r"--resources GPU=1: no worker of the scheduler .* has them; start workers "
                                           r"with `dask worker .* --resources GPU=1`"):
        sweep("00_quickstart", ["seed=0:2"], profile="ci", cluster=lc.scheduler_address, resources=["GPU=1"],
              out=tmp_path / "s", progress=False)
    assert not (tmp_path / "s" / "sweep.json").exists()  # nothing ran


@pytest.mark.parametrize("failures, status, starts", [(1, "ok", 2), (3, "failed", 3)])
def test_a_kernel_that_dies_at_start_is_started_again(monkeypatch, tmp_path, failures, status, starts):
    """Parallel kernel starts on one machine can race for a port (CI: 'Address already in use', then 'Kernel died
    before replying to kernel_info'): no cell ran, so run_point starts the kernel again, at most twice."""
    import papermill as pm

    from grokkit import dask_sweep

    calls = []

    def execute(*args, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(pm, "execute_notebook", execute)
    monkeypatch.setattr(dask_sweep.time, "sleep", lambda s: None)
    _restore_env_after(monkeypatch)
    r = dask_sweep.run_point("nb.ipynb", str(tmp_path / "out.ipynb"), {"output_dir": str(tmp_path / "o")},
                             str(tmp_path), torch_threads=1)
    assert (r["status"], r["kernel_starts"], len(calls)) == (status, starts, starts)
    assert (r["error"] is None) == (status == "ok")


def test_a_notebook_error_is_not_retried(monkeypatch, tmp_path):
    import papermill as pm

    from grokkit import dask_sweep

    calls = []

    def execute(*args, **kwargs):
        calls.append(1)
        raise pm.PapermillExecutionError(3, 4, "ValueError: bad p", "ValueError", "bad p", [])

    monkeypatch.setattr(pm, "execute_notebook", execute)
    _restore_env_after(monkeypatch)
    r = dask_sweep.run_point("nb.ipynb", str(tmp_path / "out.ipynb"), {"output_dir": str(tmp_path / "o")},
                             str(tmp_path), torch_threads=1)
    assert (r["status"], r["kernel_starts"], len(calls)) == ("failed", 1, 1) and "ValueError" in r["error"]


def _restore_env_after(monkeypatch):
    """run_point sets the kernel's thread variables in os.environ: let monkeypatch put them back."""
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GROKKIT_STATIC"):
        monkeypatch.setenv(k, os.environ.get(k, "1"))
