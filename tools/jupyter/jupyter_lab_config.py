"""JupyterLab configuration for grokkit's notebooks: `make lab` and the browser test start the lab with
`--config=tools/jupyter/jupyter_lab_config.py`.

- Saved notebooks reopen without "Error displaying widget: model not found": widget outputs (the control
  panels, the live plots) live only as long as their kernel, and JupyterLab saves no widget state by default
  (settings/overrides.json pins `saveState: false`). So when a notebook is saved, each widget output whose
  state is not saved with it is written with an empty model id, which JupyterLab hides on reopening instead of
  showing the error; re-running the cell brings the panel back. (Turn on "Save Jupyter widget state in
  notebooks" in the settings and the widgets whose state is saved are kept as they are.)
- settings/overrides.json: JupyterLab defaults for this lab (no news or update checks: workshops run offline).
"""
import os

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def strip_stale_widget_views(model, **kwargs):
    """ContentsManager pre-save hook: blank the model id of widget outputs whose state is not saved."""
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = model["content"]
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.get("cells", []):
        for out in cell.get("outputs") or []:
            view = (out.get("data") or {}).get(WIDGET_VIEW)
            if isinstance(view, dict) and view.get("model_id") and view["model_id"] not in saved:
                view["model_id"] = ""


c = get_config()  # noqa: F821 (defined by the config loader)
c.FileContentsManager.pre_save_hook = strip_stale_widget_views
c.LabApp.app_settings_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "settings")
c.LabApp.news_url = None
