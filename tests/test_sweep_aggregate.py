"""grokkit.aggregate on synthetic sweep folders (known answers): claims counted over the grid, measured numbers as
median [min, max] with censored values counted, section tables concatenated with the grid columns, the report."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from grokkit import aggregate as agg
from grokkit.dask_sweep import MANIFEST
from grokkit.results import Result


def test_parse_measured():
    assert agg.parse_measured(0.25) == {"value": (0.25, "=")}
    assert agg.parse_measured("0.5") == {"value": (0.5, "=")}
    assert agg.parse_measured("1,500") == {"value": (1500.0, "=")}
    assert agg.parse_measured("t_mem=16, t_gen > 300, ratio > 18.8") == {
        "t_mem": (16.0, "="), "t_gen": (300.0, ">"), "ratio": (18.8, ">")}
    assert agg.parse_measured("rho = -0.9; p_value<0.01") == {"rho": (-0.9, "="), "p_value": (0.01, "<")}
    assert agg.parse_measured(True) == {} and agg.parse_measured(None) == {} and agg.parse_measured("yes") == {}
    assert agg.parse_measured(float("nan")) == {}


def test_censored_stats_known_answers():
    st = agg.censored_stats([(3.0, "="), (1.0, "="), (2.0, "=")])
    assert (st["median"], st["min"], st["max"], st["n"]) == (2.0, 1.0, 3.0, 3)
    assert st["text"] == "2 [1, 3] (n=3)"
    st = agg.censored_stats([(1.0, "="), (4.0, "=")])
    assert st["median"] == 2.5
    # two of three runs censored at '> 300': the median is censored too, nothing dropped
    st = agg.censored_stats([(100.0, "="), (300.0, ">"), (300.0, ">")])
    assert (st["median"], st["median_op"], st["max_op"], st["n"], st["n_above"]) == (300.0, ">", ">", 3, 2)
    assert st["text"] == "> 300 [100, > 300] (n=3; 2 censored)"
    # one of three censored: the median is the largest exact value's neighbour, exact
    st = agg.censored_stats([(100.0, "="), (200.0, "="), (300.0, ">")])
    assert (st["median"], st["median_op"]) == (200.0, "=")
    assert agg.censored_stats([])["text"] == "none"
    assert agg.censored_stats([(math.inf, "=")])["median_op"] == ">"


def test_claims_summary_counts_each_outcome():
    nas = "not at this scale"
    runs = [("seed-0", [{"claim": "A", "paper": "~1", "measured": 0.9, "holds": True, "section": "s"},
                        {"claim": "B", "paper": "x", "measured": "t_gen > 300", "holds": nas, "section": "s"}]),
            ("seed-1", [{"claim": "A", "paper": "~1", "measured": 0.5, "holds": False, "section": "s"},
                        {"claim": "B", "paper": "x", "measured": "t_gen=120", "holds": True, "section": "s"}]),
            ("seed-2", [{"claim": "A", "paper": "~1", "measured": 1.0, "holds": True, "section": "s"}]),
            ("seed-3", None)]
    a, b = agg.claims_summary(runs)
    assert (a["claim"], a["hold"], a["fail"], a["not_at_scale"], a["absent"], a["n_runs"]) == ("A", 2, 1, 0, 1, 4)
    assert a["measured"]["value"]["median"] == 0.9 and a["measured_text"] == "0.9 [0.5, 1] (n=3)"
    assert a["summary"] == "2/3 hold, 1 fail, absent from 1" and a["paper"] == "~1"
    assert (b["hold"], b["fail"], b["not_at_scale"], b["absent"]) == (1, 0, 1, 2)
    assert b["measured"]["t_gen"]["text"] == "> 300 [120, > 300] (n=2; 1 censored)"
    assert b["per_point"]["seed-0"] == {"holds": nas, "measured": "t_gen > 300"}


def test_band_known_answer():
    t = pd.DataFrame({"seed": [0, 0, 1, 1, 2, 2], "k": [0.0, 0.5] * 3, "tau": [10, 4, 20, 2, 30, math.inf]})
    b = agg.band(t, "k", "tau", over="seed")
    assert b.k.tolist() == [0.0, 0.5]
    assert b["median"].tolist() == [20.0, 3.0] and b["min"].tolist() == [10.0, 2.0]
    assert b["max"].tolist() == [30.0, 4.0] and b.n.tolist() == [3, 3] and b.n_finite.tolist() == [3, 2]


def _fake_run(folder, seed, acc, t_gen, holds):
    """A results folder as a notebook run writes it: results.json + results/train/ (tables, an array, scalars)."""
    folder.mkdir(parents=True)
    curves = pd.DataFrame({"step": [0, 10, 20], "member": 0, "split": "test", "metric": "acc",
                           "value": [0.0, acc / 2, acc]})
    times = pd.DataFrame({"member": [0], "t_mem": [5.0], "t_gen": [t_gen], "seed": [seed * 10]})
    R = Result(curves=curves, times=times, w=np.full(3, seed, dtype=float), final_test_acc=acc, label="x")
    R.save(folder / "results" / "train")
    claims = [{"claim": "generalises", "paper": "~1.0", "measured": acc, "holds": holds, "section": "train",
               "scale": "ci"}]
    (folder / "results.json").write_text(json.dumps({"claims": claims, "profile": "ci", "settings": {"seed": seed},
                                                     "final_test_acc": acc, "t_gen": t_gen}))


@pytest.fixture
def sweep_dir(tmp_path):
    d = tmp_path / "sweep"
    points = []
    for seed, acc, t_gen, holds in [(0, 1.0, 20.0, True), (1, 0.5, None, False), (2, 0.98, 10.0, True)]:
        out = d / "points" / f"seed-{seed}"
        _fake_run(out, seed, acc, t_gen, holds)
        points.append({"seed": seed, "point": f"seed-{seed}", "status": "ok", "error": None, "wall_s": 1.0,
                       "output_dir": str(out)})
    points.append({"seed": 3, "point": "seed-3", "status": "failed", "error": "cell 4: RuntimeError: boom",
                   "wall_s": 0.5, "output_dir": str(d / "points" / "seed-3")})
    (d / MANIFEST).write_text(json.dumps({"notebook": "00_quickstart", "profile": "ci",
                                          "axes": {"seed": [0, 1, 2, 3]}, "params": {"steps": 30},
                                          "cluster": "local:2", "points": points}))
    return d


def test_aggregate_synthetic_sweep(sweep_dir):
    path = agg.aggregate(sweep_dir)
    assert path == sweep_dir / "aggregate" / "results.json"
    doc = json.loads(path.read_text())
    assert (doc["n_runs"], doc["n_ok"], doc["n_with_results"]) == (4, 3, 3)
    (c,) = doc["claims"]
    assert (c["hold"], c["fail"], c["not_at_scale"], c["absent"]) == (2, 1, 0, 1)
    assert c["measured"]["value"]["median"] == 0.98
    assert doc["failures"] == [{"point": "seed-3", "notebook": "00_quickstart", "status": "failed",
                                "error": "cell 4: RuntimeError: boom"}]
    # results.json's t_gen null (censored) is kept as NaN, and counted
    assert doc["run_measures"]["t_gen"]["text"] == "15 [10, 20] (n=2)"
    assert doc["run_measures"]["final_test_acc"]["n"] == 3
    runs = pd.read_parquet(sweep_dir / "aggregate" / "runs.parquet")
    assert runs.seed.tolist() == [0, 1, 2, 3] and runs.status.tolist() == ["ok", "ok", "ok", "failed"]
    curves = pd.read_parquet(sweep_dir / "aggregate" / "train" / "curves.parquet")
    assert len(curves) == 9 and curves.columns[:2].tolist() == ["seed", "point"]
    assert curves.groupby("seed").value.max().tolist() == [1.0, 0.5, 0.98]
    times = pd.read_parquet(sweep_dir / "aggregate" / "train" / "times.parquet")
    assert times.grid_seed.tolist() == [0, 1, 2] and times.seed.tolist() == [0, 10, 20]  # the table's own column kept
    scal = pd.read_parquet(sweep_dir / "aggregate" / "train" / "scalars.parquet")
    assert scal.final_test_acc.tolist() == [1.0, 0.5, 0.98] and "label" not in scal
    w = np.load(sweep_dir / "aggregate" / "train" / "w.npy")
    assert w.shape == (3, 3) and w[:, 0].tolist() == [0.0, 1.0, 2.0]
    assert doc["sections"]["train"]["tables"]["curves"]["rows"] == 9
    page = (sweep_dir / "aggregate" / "report.html").read_text()
    assert "generalises" in page and "boom" in page and "test accuracy over training" in page
    assert "final_test_acc per run" in page and (sweep_dir / "aggregate" / "plotly.min.js").exists()


def test_aggregate_without_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a grokkit sweep folder"):
        agg.aggregate(tmp_path)
