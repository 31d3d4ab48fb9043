import os
import subprocess
import sys

import pytest
import torch

from grokkit.cli import main


def test_ensemble_sweep_prints_grokking_times(capsys):
    assert main(["ensemble-sweep", "--p", "23", "--train-fracs", "0.5", "--seeds", "0,1", "--steps", "300",
                 "--eval-every", "50"]) == 0
    out = capsys.readouterr().out
    assert "t_gen" in out and "a+b mod 23" in out and "2 members" in out


def test_old_sweep_options_still_run_the_ensemble_sweep(capsys):
    assert main(["sweep", "--p", "11", "--train-fracs", "0.5", "--seeds", "0", "--steps", "20"]) == 0
    out, err = capsys.readouterr()
    assert "1 members" in out and "grokkit ensemble-sweep" in err


def test_bad_operation_is_one_clear_line(capsys):
    assert main(["ensemble-sweep", "--operation", "pow", "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert "operation='pow'" in err and "add" in err


def test_list_shows_runs(capsys):
    main(["ensemble-sweep", "--p", "11", "--train-fracs", "0.5", "--seeds", "0", "--steps", "20"])
    assert main(["list"]) == 0
    assert "1 run(s)" in capsys.readouterr().out


# ---- one-line errors: the option or parameter, what is allowed, exit code 2, no traceback ------------------------
def _err(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("option,value,allowed", [
    ("--seeds", "x", "integers >= 0"),
    ("--seeds", "0,-1", "integers >= 0"),
    ("--seeds", ",", "integers >= 0"),
    ("--train-fracs", "0.3,abc", "fractions in (0, 1)"),
    ("--train-fracs", "1.5", "fractions in (0, 1)"),
    ("--weight-decays", "1,inf", "finite numbers >= 0"),
    ("--weight-decays", "-1", "finite numbers >= 0"),
    ("--lr", "nan", "finite number > 0"),
    ("--lr", "inf", "finite number > 0"),
    ("--steps", "0", "integer >= 1"),
    ("--eval-every", "x", "integer >= 1"),
    ("--p", "x", "integer >= 2"),
    ("--device", "cuda:abc", "auto, cpu, cuda, cuda:N, mps"),
])
def test_sweep_bad_option_names_it(capsys, option, value, allowed):
    err = _err(capsys, ["ensemble-sweep", option, value])
    assert err.startswith(f"grokkit ensemble-sweep: error: argument {option}: ") and allowed in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_sweep_device_cuda_unavailable(capsys):
    err = _err(capsys, ["ensemble-sweep", "--device", "cuda"])
    assert "argument --device" in err and "CUDA is not available" in err and "'cpu' or 'auto'" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")
def test_sweep_device_cuda_index_out_of_range(capsys):
    err = _err(capsys, ["ensemble-sweep", "--device", "cuda:99"])
    assert "argument --device" in err and "CUDA device(s)" in err


def test_sweep_huge_p_is_refused_before_allocating(capsys):
    err = _err(capsys, ["ensemble-sweep", "--p", "100000", "--steps", "1"])
    assert err.startswith("grokkit ensemble-sweep: error: p=100000 ") and "largest allowed is p=4096" in err
    assert "GROKKIT_MAX_TABLE_ROWS" in err


def test_sweep_split_with_no_train_rows(capsys):
    err = _err(capsys, ["ensemble-sweep", "--p", "5", "--train-fracs", "0.01", "--steps", "1"])
    assert "train_frac=0.01 of 25 rows gives 0 train and 25 test rows" in err


def test_run_out_is_a_file(capsys, tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("x")
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    err = _err(capsys, ["run", "--out", str(f), str(nb)])
    assert err.startswith("grokkit run: error: --out ") and "is a file; give a folder" in err
    assert f.read_text() == "x"


def test_run_missing_notebook_and_bad_param(capsys, tmp_path):
    assert "not found: nope.ipynb" in _err(capsys, ["run", "--out", str(tmp_path), "nope.ipynb"])
    err = _err(capsys, ["run", "-p", "seed", "nb.ipynb"])
    assert "argument -p/--param" in err and "NAME=VALUE" in err


def test_unusable_path_is_one_line(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    err = _err(capsys, ["run", "--out", str(f / "sub"), str(nb)])  # mkdir under a file: an OSError
    assert err.startswith("grokkit run: error: ")


def _cli(*args, env=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "grokkit.cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_cli_process_errors_are_one_line(tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("x")
    for args, needle in [(["ensemble-sweep", "--seeds", "x"], "argument --seeds: 'x' is not an integer"),
                         (["ensemble-sweep", "--p", "100000"], "p=100000 gives a table of p^2 = 10,000,000,000 rows"),
                         (["run", "--out", str(f), __file__], "is a file; give a folder")]:
        r = _cli(*args)
        assert r.returncode == 2 and r.stdout == "", (args, r.stdout)
        assert needle in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


@pytest.mark.parametrize("flag, bar, log", [("cells", True, False), ("log", False, True), ("none", False, False),
                                            ("auto", False, False)])  # auto: pytest's stdout is not a terminal
def test_run_progress_modes_reach_papermill(monkeypatch, tmp_path, capsys, flag, bar, log):
    import papermill

    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: seen.update(k))
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    assert main(["run", "--out", str(tmp_path / "out"), "--progress", flag, str(nb)]) == 0
    assert (seen["progress_bar"], seen["log_output"]) == (bar, log)
    assert "nb: ok in" in capsys.readouterr().out
