"""The lab and site plumbing without a browser: the save hook of tools/jupyter/jupyter_lab_config.py, the lab
settings, build_notebooks never storing widget state, and the site's output conversion (offline HTML)."""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def _view(model_id):
    return nbformat.from_dict({"output_type": "display_data", "metadata": {},
                               "data": {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": model_id},
                                        "text/plain": "VBox(children=(...))"}})


def _hook():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("jupyter_lab_config.py", path=str(ROOT / "tools" / "jupyter")).load_config()
    assert config.LabApp.app_settings_dir == str(ROOT / "tools" / "jupyter" / "settings")
    return config.FileContentsManager.pre_save_hook


def test_save_hook_blanks_widget_outputs_without_saved_state():
    hook = _hook()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("panel", outputs=[_view("stale"), _view("kept")]),
                nbformat.v4.new_code_cell("1", outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"},
                                                                                execution_count=1)])]
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {"kept": {}}, "version_major": 2, "version_minor": 0}}
    model = {"type": "notebook", "content": json.loads(nbformat.writes(nb))}
    hook(model=model, path="x.ipynb", contents_manager=None)
    views = [o["data"][WIDGET_VIEW]["model_id"] for o in model["content"]["cells"][0]["outputs"]]
    assert views == ["", "kept"]  # JupyterLab hides an empty model id; saved state is restored as usual
    assert model["content"]["cells"][1]["outputs"][0]["data"] == {"text/plain": ["1"]}  # as nbformat writes it
    nbformat.validate(nbformat.from_dict(model["content"]))
    other = {"type": "file", "content": "text"}
    hook(model=other, path="x.txt", contents_manager=None)
    assert other == {"type": "file", "content": "text"}


def test_lab_settings_pin_no_widget_state():
    overrides = json.loads((ROOT / "tools" / "jupyter" / "settings" / "overrides.json").read_text())
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is False


def test_build_notebooks_never_stores_widget_state(tmp_path):
    from build_notebooks import build

    src = tmp_path / "x.py"
    src.write_text("# ---\n# jupyter:\n#   widgets:\n#     application/vnd.jupyter.widget-state+json:\n"
                   "#       state: {}\n#       version_major: 2\n#       version_minor: 0\n# ---\n\n# %%\n1 + 1\n")
    import jupytext

    assert "widgets" in jupytext.read(src, fmt="py:percent").metadata  # the source does carry widget state
    nb = build(src)
    assert "widgets" not in nb.metadata
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    for shipped in sorted((ROOT / "notebooks").glob("*.ipynb")):
        data = json.loads(shipped.read_text())
        assert "widgets" not in data["metadata"], shipped.name
        assert not any(c.get("outputs") for c in data["cells"]), shipped.name


def test_site_page_is_offline(tmp_path):
    pytest.importorskip("nbconvert")
    import plotly.graph_objects as go
    from build_site import PANEL_NOTE, exporter

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": {}, "version_major": 2, "version_minor": 0}}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
                    "display_data", {"application/vnd.plotly.v1+json": json.loads(fig.to_json())})]),
                nbformat.v4.new_code_cell("panel", outputs=[_view("m1")])]
    html, _ = exporter().from_notebook_node(nb, resources={"metadata": {"name": "t"}})
    assert '<script src="plotly.min.js"></script>' in html
    assert "Plotly.newPlot" in html
    assert PANEL_NOTE.split(":")[0] in html
    assert not re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']https?://""", html), "a page loads from the web"
    assert "widget-state" not in html and "require.js" not in html
