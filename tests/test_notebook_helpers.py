import json

import pytest

from grokkit import notebook as nb
from grokkit import widgets

PROFILES = {"ci": {"p": 7, "steps": 10}, "demo": {"p": 11, "steps": 100}, "paper": {"p": 97, "steps": 1000}}


def test_settings_merge_and_validate(tmp_path):
    s = nb.settings("x", "ci", PROFILES, output_dir=tmp_path, p=None, steps=20)
    assert (s.p, s.steps, s.profile) == (7, 20, "ci") and s.output_dir == tmp_path
    with pytest.raises(ValueError, match="profile"):
        nb.settings("x", "big", PROFILES, output_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown parameters"):
        nb.settings("x", "ci", PROFILES, output_dir=tmp_path, q=3)
    with pytest.raises(ValueError, match="p=8"):
        def prime(v):
            if v % 2 == 0:
                raise ValueError(f"p={v} must be odd")
        nb.settings("x", "ci", PROFILES, output_dir=tmp_path, p=8, checks={"p": prime})


def test_claims_table_and_results_json(tmp_path):
    c = nb.Claims()
    c.add("a", 1.0, 0.9, True, checked=True)
    c.add("b", "x", float("nan"), nb.NOT_AT_SCALE)
    c.add("c", 2, 3, False)
    c.assert_checked()  # only "a" is checked and it holds
    path = c.save(tmp_path, t_gen=12.0)
    res = json.loads(path.read_text())
    assert [r["holds"] for r in res["claims"]] == [True, "not at this scale", False]
    assert res["claims"][1]["measured"] is None and res["t_gen"] == 12.0
    c.add("d", 1, 0, False, checked=True)
    with pytest.raises(AssertionError, match="d: paper 1"):
        c.assert_checked()
    with pytest.raises(ValueError, match="holds"):
        c.add("e", 1, 1, "maybe")
    assert "<table" in c._repr_html_()


def test_median_spread():
    assert nb.median_spread([1, 3, float("nan")]) == "2 [1, 3] (2/3)"
    assert nb.median_spread([float("nan")]) == "none of 1"


def test_widget_panel_calls_function_with_control_values():
    calls = []
    box = widgets.panel(lambda p, frac, op, flag: calls.append((p, frac, op, flag)) or "done",
                        {"p": 7, "frac": 0.3, "op": "add", "flag": True},
                        p=(5, 11), frac=(0.1, 0.9, 0.1), op=["add", "sub"], flag=True)
    box.controls["op"].value = "sub"
    box.run(None)
    assert calls == [(7, 0.3, "sub", True)]
