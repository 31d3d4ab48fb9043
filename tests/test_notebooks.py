"""Every notebook executes headless through papermill in its ci profile, writes results.json in the
shared format, and rejects bad parameters early. (The Makefile then runs the same notebooks under nbval.)"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
pm = pytest.importorskip("papermill")

pytestmark = pytest.mark.notebook


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


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_ci_profile(nb, nb_env):
    out = nb_env / nb.stem
    _execute(nb, out, profile="ci")
    res = json.loads((out / "results.json").read_text())
    assert res["claims"], "a notebook ends with a claims table"
    for c in res["claims"]:
        assert set(c) == {"claim", "paper", "measured", "holds"}
        assert c["holds"] in (True, False, "not at this scale")
    assert list(out.glob("*.html")), "figures are exported as HTML"
    if nb.stem == "00_quickstart":
        assert res["final_test_acc"] >= 0.95 and res["t_gen"] > res["t_mem"]
        if shutil.which("chromium") and os.environ.get("GROKKIT_STATIC", "1") != "0":
            assert (out / "quickstart_curves.png").stat().st_size > 10_000


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
    """Issue 3: the ci must-shows also hold for a - b mod 59 (separate operand tables, chosen by embedding="auto").
    Separate tables grok more slowly than the shared one (measured: a - b mod 59 at 30% train did not grok in 8000
    steps, at 50% t_gen 1900 / 2550 for seeds 0 / 1), hence train_frac 0.5 and longer caps here."""
    nb = ROOT / "notebooks" / "01_lottery_tickets.ipynb"
    out = nb_env / "01_sub59"
    _execute(nb, out, profile="ci", operation="sub", p=59, train_frac=0.5, steps=6000, ticket_steps=1500)
    claims = {c["claim"]: c for c in json.loads((out / "results.json").read_text())["claims"]}
    ticket = next(c for k, c in claims.items() if k.startswith("grokked ticket (k="))
    sweep = next(c for k, c in claims.items() if k.startswith("tau_grok decreases"))
    assert ticket["holds"] is True, ticket
    assert sweep["holds"] is True, sweep
