from grokkit.cli import main


def test_sweep_prints_grokking_times(capsys):
    assert main(["sweep", "--p", "23", "--train-fracs", "0.5", "--seeds", "0,1", "--steps", "300",
                 "--eval-every", "50"]) == 0
    out = capsys.readouterr().out
    assert "t_gen" in out and "a+b mod 23" in out and "2 members" in out


def test_bad_operation_is_one_clear_line(capsys):
    assert main(["sweep", "--operation", "pow", "--steps", "10"]) == 2
    err = capsys.readouterr().err
    assert "operation='pow'" in err and "add" in err


def test_list_shows_runs(capsys):
    main(["sweep", "--p", "11", "--train-fracs", "0.5", "--seeds", "0", "--steps", "20"])
    assert main(["list"]) == 0
    assert "1 run(s)" in capsys.readouterr().out
