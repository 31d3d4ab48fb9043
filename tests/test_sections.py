"""Issue 14 infrastructure: parameters declared once (grokkit.params), sections that return data and replay
(grokkit.results), section panels (grokkit.widgets), claims rows tagged by section, `--help-params`."""
import json
import math
import re

import ipywidgets as W
import numpy as np
import pandas as pd
import pytest

from grokkit import notebook as nb
from grokkit.cli import main

PARAMS = nb.Params(
    "toy",
    nb.Param("p", int, "prime modulus", ci=7, default=11, check=nb.prime, widget=[5, 7, 11, 13]),
    nb.Param("operation", str, "operation", default="add", choices=["add", "sub"]),
    nb.Param("train_frac", float, "share of pairs", ci=0.3, default=0.4, range=(0, 1), open="both"),
    nb.Param("steps", int, "steps", ci=10, default=100, range=(1, None)),
    nb.Param("weight_decays", list, "weight decays", ci=[0.3, 1.0], default=[1.0], item=float, range=(0, None)),
    nb.Param("live", bool, "a flag", default=False),
)


@pytest.fixture
def S(tmp_path):
    return PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "out"))


# ---- parameters ------------------------------------------------------------------------------
def test_profile_defaults_and_overrides(tmp_path):
    s = PARAMS.resolve(profile="demo", output_dir=str(tmp_path), steps=50)
    assert (s.p, s.train_frac, s.steps, s.weight_decays, s.operation) == (11, 0.4, 50, (1.0,), "add")
    assert (s.profile, s.source, s.seed, s.device) == ("demo", "run", 0, "auto")
    ci = PARAMS.resolve(profile="ci", output_dir=str(tmp_path), p=None)  # None: the profile's default
    assert ci.p == 7 and ci.weight_decays == (0.3, 1.0)


@pytest.mark.parametrize("bad, message", [
    (dict(operation="mul"), "operation='mul' is not allowed; choose one of ['add', 'sub']"),
    (dict(train_frac=1.0), "train_frac=1.0 is not allowed: must lie in 0 < train_frac < 1"),
    (dict(train_frac="x"), "train_frac='x' is not allowed: must be a number"),
    (dict(p=12), "p=12 is not allowed: must be a prime"),
    (dict(p=7.5), "p=7.5 is not allowed: must be an integer"),
    (dict(steps=0), "steps=0 is not allowed: must be >= 1"),
    (dict(train_frac=float("inf")), "train_frac=inf is not allowed: must be a finite number"),
    (dict(device="gpu"), "device='gpu' is not a device; choose one of"),
    (dict(weight_decays=[1.0, -1]), "weight_decays=[1.0, -1] is not allowed: must be >= 0 (each item)"),
    (dict(live="maybe"), "live='maybe' is not allowed: must be True or False"),
    (dict(profile="huge"), "profile='huge' is not allowed; choose one of ['ci', 'demo', 'paper']"),
    (dict(q=3), "unknown parameters ['q']; toy takes ['profile', 'source', 'seed'"),
    (dict(source="shipped"), "no shipped results for toy profile 'ci'; shipped: none"),
])
def test_bad_values_name_the_parameter_and_what_is_allowed(bad, message, tmp_path):
    with pytest.raises(ValueError) as e:
        PARAMS.resolve(**{"profile": "ci", "output_dir": str(tmp_path), **bad})
    assert message in str(e.value)


def test_strings_are_parsed_papermill_and_widget_style(tmp_path):
    s = PARAMS.resolve(profile="ci", output_dir=str(tmp_path), p="13", weight_decays="0.5, 2", live="true")
    assert (s.p, s.weight_decays, s.live) == (13, (0.5, 2.0), True)
    assert PARAMS.resolve(profile="ci", output_dir=str(tmp_path), weight_decays="[0.1]").weight_decays == (0.1,)


def test_unknown_and_missing_names_in_a_notebook_namespace(tmp_path):
    ns = {"profile": "ci", "output_dir": str(tmp_path), "In": ["import os", "# Parameters\nprofile = 'ci'\nq = 3\n"]}
    ns.update({n: None for n in PARAMS.knobs} | {"source": "run", "seed": 0, "device": "auto"})
    with pytest.raises(ValueError, match=r"unknown parameters \['q'\]"):
        PARAMS.resolve(ns)
    ns["In"], ns["steps"] = ["# Parameters\nprofile = 'ci'\nsteps = 5\n"], 5  # what papermill injects
    assert PARAMS.resolve(ns).steps == 5
    del ns["steps"]
    with pytest.raises(ValueError, match=r"\['steps'\] are declared but missing from the `parameters` cell"):
        PARAMS.resolve(ns)


def test_declarations_are_checked():
    with pytest.raises(TypeError, match="no default for profile"):
        nb.Param("x", int, "x", ci=1)
    with pytest.raises(ValueError, match="x=-1 is not allowed"):  # defaults are validated too
        nb.Param("x", int, "x", default=-1, range=(0, None))
    with pytest.raises(ValueError, match="declared twice"):
        nb.Params("t", nb.Param("seed", int, "s", default=0))
    with pytest.raises(ValueError, match="reserved"):
        nb.Params("t", nb.Param("table", int, "s", default=0))


def test_cross_parameter_checks(tmp_path):
    def enough_steps(s):
        if s.steps < 10 * len(s.weight_decays):
            raise ValueError(f"steps={s.steps} must be >= 10 per weight decay")
    params = nb.Params("t", nb.Param("steps", int, "s", default=20),
                       nb.Param("weight_decays", list, "w", default=[1.0], item=float), checks=[enough_steps])
    assert params.resolve(profile="ci", output_dir=str(tmp_path)).steps == 20
    with pytest.raises(ValueError, match="steps=20 must be >= 10 per weight decay"):
        params.resolve(profile="ci", output_dir=str(tmp_path), weight_decays=[1, 2, 3])


def test_settings_table_marks_changed_values(tmp_path):
    s = PARAMS.resolve(profile="ci", output_dir=str(tmp_path), steps=99)
    t = s.table().set_index("parameter")
    assert list(t.columns) == ["value", "profile default", "changed", "help"]
    assert (t.loc["steps", "changed"], t.loc["steps", "value"], t.loc["steps", "profile default"]) == ("*", "99", "10")
    assert t.loc["p", "changed"] == "" and t.loc["weight_decays", "value"] == "[0.3, 1.0]"
    assert "font-weight: bold" in s._repr_html_()


def test_override_validates_and_keeps_the_rest(S):
    s2 = S.override(steps=20, source="run")
    assert (s2.steps, s2.p, s2.output_dir) == (20, S.p, S.output_dir) and S.steps == 10
    with pytest.raises(ValueError, match="operation='mul'"):
        S.override(operation="mul")
    with pytest.raises(ValueError, match="unknown parameters"):
        S.override(q=1)


def test_describe_and_parameters_cell():
    d = PARAMS.describe()
    assert list(d.columns) == ["parameter", "allowed", "ci", "demo", "paper", "help"]
    row = d.set_index("parameter").loc["train_frac"]
    assert (row.allowed, row.ci, row.demo) == ("float, 0 < x < 1", "0.3", "0.4")
    assert "p = None  # prime modulus" in PARAMS.parameters_cell()
    assert list(PARAMS.describe("ci").columns) == ["parameter", "allowed", "default", "help"]


# ---- results on disk -------------------------------------------------------------------------
def _result():
    df = pd.DataFrame({"step": np.arange(4, dtype=np.int64), "member": np.array([0, 0, 1, 1], dtype=np.int32),
                       "split": ["train", "test", "train", "test"], "value": [0.1, np.nan, 0.3, 1.0],
                       "ok": [True, False, True, True]})
    df["kind"] = pd.Categorical(["a", "b", "a", "b"])
    wide = pd.DataFrame({"x": [1.5, 2.5]}, index=pd.Index([3, 7], name="k"))
    return nb.Result(curves=df, wide=wide, mask=np.array([[True, False]]), w=np.linspace(0, 1, 5, dtype=np.float32),
                     t_gen=float("nan"), cap=float("inf"), n=3, name="a+b mod 7", flags=[1, 2.5, None],
                     info={"k": [1, 2], "z": "s"}, ok=True)


def _same(a, b):
    assert list(a.keys()) == list(b.keys())
    for k in a.keys():
        x, y = a[k], b[k]
        if isinstance(x, pd.DataFrame):
            pd.testing.assert_frame_equal(x, y)  # values, dtypes and index
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y)
        elif isinstance(x, float) and math.isnan(x):
            assert math.isnan(y)
        else:
            assert x == y and type(x) is type(y), k


def test_result_round_trip(tmp_path):
    r = _result()
    r.provenance = {"section": "s", "profile": "ci", "settings": {"p": 7}}
    r.save(tmp_path / "s")
    files = sorted(f.name for f in (tmp_path / "s").iterdir())
    assert files == ["curves.parquet", "mask.npy", "result.json", "w.npy", "wide.parquet"]
    doc = json.loads((tmp_path / "s" / "result.json").read_text())  # strict JSON: no NaN literals
    assert doc["values"]["t_gen"] == "NaN" and doc["values"]["cap"] == "Infinity"
    back = nb.Result.load(tmp_path / "s")
    _same(r, back)
    assert back.provenance == r.provenance and (back.section, back.scale) == ("s", "ci")
    assert back.t_gen != back.t_gen and back.curves.value.isna().sum() == 1
    r.save(tmp_path / "s")  # saving again replaces the folder whole
    assert sorted(f.name for f in (tmp_path / "s").iterdir()) == files


def test_result_values_look_the_same_computed_and_replayed(tmp_path):
    r = nb.Result(sizes=(1, 2), acc=np.float32(0.5), n=np.int64(3), nested={"a": (np.float64(1.5), None)})
    assert (r.sizes, r.acc, r.n, r.nested) == ([1, 2], 0.5, 3, {"a": [1.5, None]})
    assert type(r.acc) is float and type(r.n) is int
    r.save(tmp_path / "x")
    back = nb.Result.load(tmp_path / "x")
    assert [(k, v, type(v)) for k, v in back.items()] == [(k, v, type(v)) for k, v in r.items()]


def test_result_rejects_what_it_cannot_save():
    with pytest.raises(TypeError, match="Result field 'f'.*set is not JSON-able"):
        nb.Result(f={1, 2})
    with pytest.raises(TypeError, match="Series"):
        nb.Result(s=pd.Series([1]))
    with pytest.raises(ValueError, match="reserved"):
        nb.Result(save=1)
    with pytest.raises(AttributeError, match="fields: \\['a'\\]"):
        _ = nb.Result(a=1).b


# ---- sections ---------------------------------------------------------------------------------
calls = []


@nb.section("fit", knobs=["p", "steps", "operation"], uses=["p", "steps"])
def fit_section(S, live=False):
    calls.append(("fit", S.p, S.steps, S.operation, live))
    if S.operation == "sub":
        raise RuntimeError("sub failed")
    return nb.Result(table=pd.DataFrame({"step": [0, S.steps], "acc": [0.0, 1.0]}), p=S.p, acc=1.0)


@nb.section("other", knobs=["train_frac"])
def other_section(S):
    calls.append(("other", S.train_frac))
    return nb.Result(frac=S.train_frac)


def fit_claims(R):
    return [nb.claim("it learns", "~1", R.acc, R.acc >= 0.9, checked=True)]


def test_section_runs_saves_with_provenance_and_replays(S, tmp_path):
    calls.clear()
    R = fit_section(S)
    assert calls == [("fit", 7, 10, "add", False)] and S.sections["fit"] is R
    folder = S.output_dir / "results" / "fit"
    prov = json.loads((folder / "result.json").read_text())["provenance"]
    assert {"grokkit", "commit", "torch", "device", "profile", "settings", "knobs", "uses", "wall_s", "date",
            "notebook", "section"} <= set(prov)
    assert (prov["profile"], prov["section"], prov["notebook"], prov["device"]) == ("ci", "fit", "toy", "cpu")
    assert prov["settings"]["weight_decays"] == [0.3, 1.0] and "output_dir" not in prov["settings"]
    assert prov["uses"] == ["p", "steps"] and prov["date"].endswith("+00:00")
    # replay: from the output folder, or from its results/ folder; nothing is computed
    for src in (S.output_dir, S.output_dir / "results"):
        S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "replay"), source=str(src))
        calls.clear()
        back = fit_section(S2)
        assert calls == [] and back.p == 7 and back.scale == "ci" and not back.stale and S2.stale == {}
        pd.testing.assert_frame_equal(back.table, R.table)
        assert (tmp_path / "replay" / "results" / "fit" / "result.json").exists()  # the replay can be replayed


def test_scale_names_the_settings_that_differ_from_the_profile(tmp_path):
    """A result made at a profile with overrides says so: the claims table's scale column shows them."""
    S = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "o"), steps=25, operation="sub")
    R = other_section(S)
    assert R.scale == "ci (operation=sub, ci: add; steps=25, ci: 10)"  # it uses every knob (the default)
    assert fit_section.uses_for(S) == ["p", "steps"]
    S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "o2"), steps=25)
    R2 = fit_section(S2)
    assert R2.provenance["overrides"] == {"steps": [25, 10]} and R2.scale == "ci (steps=25, ci: 10)"
    back = fit_section(PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r"), source=str(S2.output_dir)))
    assert back.scale == "ci (steps=25, ci: 10)" and not back.stale  # the replay keeps the scale it was made at
    # a bundle made at a declared reduced scale replays at the profile's defaults without being stale (its scale
    # says what differs); a setting the user changes now, or a default changed since, is stale as before
    S3 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r3"), source=str(S2.output_dir))
    assert S3.steps == 10 and not fit_section(S3).stale and S3.stale == {}
    S4 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r4"), source=str(S2.output_dir), p=5)
    assert fit_section(S4).stale == {"p": (7, 5)}


def test_source_can_be_the_folder_of_every_notebooks_outputs(S, tmp_path):
    """`grokkit run --out DIR` writes DIR/<notebook>/: source=DIR replays this notebook's part of it."""
    S1 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "all" / "toy"))
    fit_section(S1)
    S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r"), source=str(tmp_path / "all"))
    assert S2.source == (tmp_path / "all" / "toy").resolve()
    calls.clear()
    assert fit_section(S2).p == 7 and calls == []


def test_run_sections_recompute_named_sections_while_the_rest_replays(S, tmp_path, monkeypatch):
    """$GROKKIT_RUN_SECTIONS: re-run one section of a saved bundle at its scale; the others replay, and the
    output folder holds the whole bundle again (fit recomputed with its new settings, other copied)."""
    fit_section(S)
    other_section(S)
    monkeypatch.setenv("GROKKIT_RUN_SECTIONS", " fit, ")
    S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r"), source=str(S.output_dir), p=5)
    calls.clear()
    assert fit_section(S2).p == 5 and other_section(S2).frac == S.train_frac
    assert calls == [("fit", 5, 10, "add", False)]
    back = tmp_path / "r" / "results"
    assert nb.Result.load(back / "fit").p == 5 and (back / "other" / "result.json").exists()


def test_static_export_only_where_sections_compute(S, tmp_path, monkeypatch):
    """PNG export (static=None) for runs that compute at demo / paper scale, also a replay that re-runs some
    sections; HTML only (False) for a plain replay and for ci."""
    demo = PARAMS.resolve(profile="demo", output_dir=str(tmp_path / "d"))
    replay = PARAMS.resolve(profile="demo", output_dir=str(tmp_path / "r"), source=str(S.output_dir))
    assert nb.static_export(demo) is None and nb.static_export(replay) is False and nb.static_export(S) is False
    monkeypatch.setenv("GROKKIT_RUN_SECTIONS", "fit")
    assert nb.static_export(replay) is None and nb.static_export(S) is False


def test_stale_sections_are_named(S, tmp_path, capsys):
    fit_section(S)
    other_section(S)
    S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "r"), source=str(S.output_dir), steps=20,
                        operation="sub", weight_decays=[1.0])
    R = fit_section(S2)  # uses p and steps only: operation does not make it stale
    assert R.stale == {"steps": (10, 20)}
    assert S2.stale["fit"] == "section 'fit' was made with steps=10 (now 20); replaying it as saved"
    assert "STALE: section 'fit' was made with steps=10 (now 20)" in capsys.readouterr().out
    other_section(S2)  # default uses: every knob + seed
    assert "weight_decays=[0.3, 1.0] (now [1.0])" in S2.stale["other"]
    claims = nb.Claims()
    claims.extend(fit_claims(R), R)
    path = claims.save(tmp_path)
    res = json.loads(path.read_text())
    assert res["claims"] == [{"claim": "it learns", "paper": "~1", "measured": 1.0, "holds": True,
                              "section": "fit", "scale": "ci"}]
    assert res["stale_sections"] == {"fit": "steps: saved 10, now 20"}
    assert "Stale sections" in claims._repr_html_() and list(claims.table().columns)[0] == "section"


def test_shipped_bundles(S, tmp_path, monkeypatch):
    monkeypatch.setenv("GROKKIT_DATA", str(tmp_path / "data"))
    for profile in ("ci", "demo"):
        (tmp_path / "data" / "toy" / profile).mkdir(parents=True)
    (tmp_path / "data" / "toy" / "notes.json").write_text("{}")  # files are not bundles
    with pytest.raises(ValueError, match="no shipped results for toy profile 'paper'; shipped: ci, demo"):
        PARAMS.resolve(profile="paper", output_dir=str(tmp_path / "o"), source="shipped")
    S2 = PARAMS.resolve(profile="ci", output_dir=str(tmp_path / "o"), source="shipped")
    with pytest.raises(FileNotFoundError, match="no saved result for section 'fit'.*sections there: none"):
        fit_section(S2)
    fit_section(S).save(tmp_path / "data" / "toy" / "ci" / "fit")
    calls.clear()
    assert fit_section(S2).p == 7 and calls == []


def test_a_failing_section_raises(S):
    with pytest.raises(RuntimeError, match="sub failed"):
        fit_section(S.override(operation="sub"))

    @nb.section("bad")
    def bad(S):
        return {"acc": 1}
    with pytest.raises(TypeError, match="must return an nb.Result"):
        bad(S)

    @nb.section("typo", knobs=["stepz"])
    def typo(S):
        return nb.Result()
    with pytest.raises(ValueError, match=r"names \['stepz'\], which are not parameters"):
        typo(S)


# ---- panels -----------------------------------------------------------------------------------
def test_panel_reruns_only_its_section(S):
    fit_section(S)
    other_section(S)
    drawn = []
    box = fit_section.panel(S, draw=lambda R: drawn.append(R.p), claims=fit_claims)
    c = box.controls
    assert list(c) == ["p", "steps", "operation"]
    assert isinstance(c["p"], W.Dropdown) and c["p"].options == (5, 7, 11, 13)  # widget=[...]
    assert isinstance(c["steps"], W.Text) and isinstance(c["operation"], W.Dropdown)
    calls.clear()
    c["p"].value, c["steps"].value = 11, "30"
    box.run()
    assert calls == [("fit", 11, 30, "add", True)]  # only this section, with the widget values, live
    assert drawn == [11] and box.result.p == 11
    assert (box.button.description, box.button.disabled) == ("Run", False)
    assert S.p == 7 and S.sections["fit"].p == 7  # the notebook's settings and result are untouched
    assert json.loads((S.output_dir / "results" / "fit" / "result.json").read_text())["values"]["p"] == 7


def test_panel_passes_inputs_to_its_section(S):
    seen = []

    @nb.section("downstream", knobs=["steps"])
    def downstream(S, upstream):
        seen.append((S.steps, upstream.p))
        return nb.Result(total=S.steps + upstream.p)

    up = fit_section(S)
    box = downstream.panel(S, upstream=up)
    box.controls["steps"].value = "5"
    box.run()
    assert seen == [(5, 7)] and box.result.total == 12


def test_panel_errors_are_one_line(S, capsys):
    printed = lambda: re.sub(r"\x1b\[2K\r?", "", capsys.readouterr().out).strip()  # without clear_output's codes
    box = fit_section.panel(S)
    box.controls["operation"].value = "sub"
    box.run()
    assert printed() == "RuntimeError: sub failed"
    box.controls["steps"].value = "many"
    box.run()
    assert printed() == "ValueError: steps='many' is not allowed: must be an integer"
    assert box.result is None and box.button.description == "Run" and not box.button.disabled


def test_panel_widgets_follow_the_declarations(S):
    box = other_section.panel(S, knobs=["train_frac", "weight_decays", "live", "p"])
    c = box.controls
    assert isinstance(c["train_frac"], W.FloatSlider) and (c["train_frac"].min, c["train_frac"].max) == (0, 1)
    assert isinstance(c["weight_decays"], W.Text) and c["weight_decays"].value == "0.3, 1.0"
    assert isinstance(c["live"], W.Checkbox)
    with pytest.raises(ValueError, match="not parameters"):
        other_section.panel(S, knobs=["nope"])


# ---- the CLI ----------------------------------------------------------------------------------
def test_help_params_prints_the_declaration_without_running(capsys, monkeypatch):
    monkeypatch.setenv("GROKKIT_FORBID_TRAINING", "1")
    assert main(["run", "00_quickstart", "--help-params"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("00_quickstart: parameters (defaults per profile)")
    lines = {ln.split()[0]: ln for ln in out.splitlines()[1:]}
    assert {"p", "operation", "train_frac", "weight_decay", "steps", "profile", "source", "seed"} <= set(lines)
    assert "a prime" in lines["p"] and "97" in lines["p"] and "67" in lines["p"]
    assert main(["run", "notebooks/00_quickstart.ipynb", "--help-params", "--profile", "ci"]) == 0
    out = capsys.readouterr().out
    assert "(profile 'ci')" in out and "0.003" in out and "0.001" not in out
    assert main(["run", "01_nonexistent", "--help-params"]) == 2
    assert "not found" in capsys.readouterr().err
