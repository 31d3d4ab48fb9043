"""Every notebook executes headless through papermill in its ci profile, writes results.json in the
shared format, and rejects bad parameters early; converted notebooks (nb.Params + @nb.section, issue 14)
replay that ci run without training. (The Makefile then runs the same notebooks under nbval.)"""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
pm = pytest.importorskip("papermill")

pytestmark = pytest.mark.notebook
CLAIM_KEYS = {"claim", "paper", "measured", "holds"}
SECTION_KEYS = {"section", "scale"}  # added by notebooks whose claims come from sections
# Issue 14's target (a replay in <= 20 s on 2 idle cores) is a measurement, not a timed test: each replay's wall time
# is printed and appended to $GROKKIT_TEST_CACHE/replay_times.jsonl for the record. The assert is only a sanity
# bound (a replay that takes minutes is broken), so that a busy CI machine cannot fail a correct replay.
REPLAY_LIMIT_S = float(os.environ.get("GROKKIT_REPLAY_LIMIT_S", 120))
_CI_DONE: dict[str, Path] = {}  # notebook -> its ci output folder, made in this session


def converted(nb: Path) -> bool:
    """Declares its parameters once and computes in sections (issue 14): it can replay saved results."""
    src = (ROOT / "notebooks" / "src" / f"{nb.stem}.py").read_text()
    return "nb.Params(" in src and "@nb.section(" in src


CONVERTED = [n for n in NOTEBOOKS if converted(n)]


def by_notebook(notebooks):
    """One param per notebook, in an xdist group of its own name: under `pytest -n 2 --dist loadgroup` (make test)
    a notebook's ci execution and its replay run in the same worker, and different notebooks run side by side."""
    return [pytest.param(n, id=n.stem, marks=pytest.mark.xdist_group(n.stem)) for n in notebooks]


@pytest.fixture(scope="session")
def ci_root(tmp_path_factory):
    """Where the ci executions go; the replay test reads them (no second ci execution in `make test`)."""
    cache = os.environ.get("GROKKIT_TEST_CACHE")
    return Path(cache) / "ci-out" if cache else tmp_path_factory.mktemp("ci-out")


@pytest.fixture
def nb_env(monkeypatch, tmp_path):
    cache = os.environ.get("GROKKIT_TEST_CACHE") or str(tmp_path / "runs")
    monkeypatch.setenv("GROKKIT_CACHE", cache)
    monkeypatch.setenv("GROKKIT_STATIC", os.environ.get("GROKKIT_STATIC", "1"))
    return tmp_path


def _execute(nb: Path, out_dir: Path, **params):
    out_dir.mkdir(parents=True, exist_ok=True)
    return pm.execute_notebook(str(nb), str(out_dir / f"{nb.stem}.ipynb"), cwd=str(nb.parent),
                               parameters={"output_dir": str(out_dir), **params}, progress_bar=False,
                               kernel_name="python3")


@pytest.mark.parametrize("nb", by_notebook(NOTEBOOKS))
def test_notebook_ci_profile(nb, nb_env, ci_root):
    out = ci_root / nb.stem
    shutil.rmtree(out, ignore_errors=True)
    _execute(nb, out, profile="ci")
    _CI_DONE[nb.stem] = out
    res = json.loads((out / "results.json").read_text())
    assert res["claims"], "a notebook ends with a claims table"
    for c in res["claims"]:
        assert CLAIM_KEYS <= set(c) <= CLAIM_KEYS | SECTION_KEYS, c
        assert c["holds"] in (True, False, "not at this scale")
    if converted(nb):
        assert all(c["section"] and c["scale"] == "ci" for c in res["claims"]), "every claim names its section"
        assert sorted(p.parent.name for p in (out / "results").glob("*/result.json")), "sections save results"
    assert list(out.glob("*.html")), "figures are exported as HTML"
    if nb.stem == "00_quickstart":
        assert res["final_test_acc"] >= 0.95 and res["t_gen"] > res["t_mem"]
        if shutil.which("chromium") and os.environ.get("GROKKIT_STATIC", "1") != "0":
            assert (out / "quickstart_curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("nb", by_notebook(CONVERTED))
def test_notebook_replays_without_training(nb, nb_env, ci_root, monkeypatch):
    """Issue 14: execute ci into X, then again with source=X, the run store off and fit forbidden: it must
    succeed (target <= 20 s, measured and logged: REPLAY_LIMIT_S) and write the same claims (same holds, same
    measured numbers). The replay draws and
    writes every figure as HTML; PNG export (Chromium, tested by the ci run) is off so that the limit measures
    the replay, not browser start-ups."""
    first = _CI_DONE.get(nb.stem)
    if first is None:  # run on its own (-k replay): make the ci run first
        first = ci_root / nb.stem
        shutil.rmtree(first, ignore_errors=True)
        _execute(nb, first, profile="ci")
        _CI_DONE[nb.stem] = first
    monkeypatch.setenv("GROKKIT_CACHE", "off")
    monkeypatch.setenv("GROKKIT_FORBID_TRAINING", "1")
    monkeypatch.setenv("GROKKIT_STATIC", "0")
    out = nb_env / f"{nb.stem}-replay"
    t0 = time.time()
    _execute(nb, out, profile="ci", source=str(first))
    took = time.time() - t0
    print(f"replay of {nb.stem}: {took:.1f} s")
    log = os.environ.get("GROKKIT_TEST_CACHE")
    if log:
        with open(Path(log) / "replay_times.jsonl", "a") as f:
            f.write(json.dumps({"notebook": nb.stem, "replay_s": round(took, 2)}) + "\n")
    before = json.loads((first / "results.json").read_text())
    after = json.loads((out / "results.json").read_text())
    key = lambda res: [(c["claim"], c["holds"], c["measured"], c.get("section")) for c in res["claims"]]
    assert key(after) == key(before)
    assert "stale_sections" not in after, after.get("stale_sections")
    assert sorted(p.parent.name for p in (out / "results").glob("*/result.json")) == \
        sorted(p.parent.name for p in (first / "results").glob("*/result.json")), "a replay can be replayed"
    assert took <= REPLAY_LIMIT_S, f"replay took {took:.1f} s (limit {REPLAY_LIMIT_S} s)"


@pytest.mark.xdist_group("00_quickstart")
def test_quickstart_replay_names_stale_sections(nb_env, ci_root, monkeypatch):
    """Replaying a ci run with other section settings says which section and which settings differ."""
    first = _CI_DONE.get("00_quickstart")
    if first is None:
        pytest.skip("needs the ci execution of 00_quickstart from this session")
    monkeypatch.setenv("GROKKIT_FORBID_TRAINING", "1")
    monkeypatch.setenv("GROKKIT_STATIC", "0")
    nb = ROOT / "notebooks" / "00_quickstart.ipynb"
    out = nb_env / "stale"
    executed = _execute(nb, out, profile="ci", source=str(first), weight_decay=0.5)
    res = json.loads((out / "results.json").read_text())
    assert "weight_decay" in res["stale_sections"]["train"]
    text = json.dumps(executed["cells"])
    assert "section 'train' was made with weight_decay=1.0 (now 0.5)" in text


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_rejects_unknown_profile(nb, nb_env):
    with pytest.raises(pm.PapermillExecutionError) as e:
        _execute(nb, nb_env / "bad", profile="huge")
    assert "profile" in str(e.value) and "ci" in str(e.value)


def test_quickstart_rejects_bad_values(nb_env):
    nb = ROOT / "notebooks" / "00_quickstart.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="train_frac"):
        _execute(nb, nb_env / "bad1", profile="ci", train_frac=1.5)
    with pytest.raises(pm.PapermillExecutionError, match="operation"):
        _execute(nb, nb_env / "bad2", profile="ci", operation="pow")
    with pytest.raises(pm.PapermillExecutionError, match="prime"):
        _execute(nb, nb_env / "bad3", profile="ci", operation="div", p=12)
    with pytest.raises(pm.PapermillExecutionError, match="operation='foo' is not allowed") as e:
        _execute(nb, nb_env / "bad4", profile="ci", operation="foo")
    assert "PARAMS.resolve(globals())" in str(e.value), "bad values fail in the first cells, before training"
    with pytest.raises(pm.PapermillExecutionError, match=r"unknown parameters \['q'\]"):
        _execute(nb, nb_env / "bad5", profile="ci", q=3)


def test_grokked_vs_learned_rejects_bad_alpha_grids(nb_env):
    nb = ROOT / "notebooks" / "03_grokked_vs_learned.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="ising_alphas .* must contain 1, 10"):
        _execute(nb, nb_env / "bad1", profile="ci", ising_alphas=[0.1, 10])
    with pytest.raises(pm.PapermillExecutionError, match="ising_learn_alpha"):
        _execute(nb, nb_env / "bad2", profile="ci", ising_learn_alpha=-1)
    with pytest.raises(pm.PapermillExecutionError, match="alphas .* must contain 0.1, 10"):
        _execute(nb, nb_env / "bad3", profile="ci", alphas=[1, 10])


def test_notebook_sources_are_in_sync():
    r = subprocess.run([str(ROOT / ".venv/bin/python") if (ROOT / ".venv/bin/python").exists() else "python",
                        str(ROOT / "tools/build_notebooks.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_no_training_loop_inside_notebooks():
    for nb in NOTEBOOKS:
        text = nb.read_text()
        for pattern in (".backward(", "optimizer.step(", "opt.step("):
            assert pattern not in text, f"{nb.name} has its own training loop ({pattern}); use grokkit.train.fit"


def test_lottery_tickets_other_operation_and_prime(nb_env):
    """Issues 3 and 15: the ci must-shows also hold for a plain `-p operation sub -p p 59` (separate operand tables,
    chosen by embedding="auto"). Separate tables grok more slowly than the shared one (measured: a - b mod 59 at 30%
    train did not grok in 8000 steps, at 60% t_gen 880 / 1090 for seeds 0 / 1), so the ci profile's train_frac and
    ticket_steps default by operation (0.6 and 800 for separate tables). It also passes ep_mem_lr != ep_lr, so Table
    1's ablation row "WD at theta_mem's lr" (skipped when the two are equal, as in ci) runs at ci cost."""
    nb = ROOT / "notebooks" / "01_lottery_tickets.ipynb"
    out = nb_env / "01_sub59"
    _execute(nb, out, profile="ci", operation="sub", p=59, ep_mem_lr=3e-3)
    cells = pd.read_parquet(out / "results" / "edge_popup" / "cells.parquet")
    assert {"ablation: WD at theta_mem's lr (ep_mem_lr)", "ablation: WD with Adam, coupled L2"} <= set(cells.variant)
    claims = {c["claim"]: c for c in json.loads((out / "results.json").read_text())["claims"]}
    ticket = next(c for k, c in claims.items() if k.startswith("grokked ticket (k="))
    sweep = next(c for k, c in claims.items() if k.startswith("tau_grok decreases"))
    assert ticket["holds"] is True, ticket
    assert sweep["holds"] is True, sweep
