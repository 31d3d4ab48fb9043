"""An exported figure renders in a real (headless) browser with no network: plotly.min.js is written
beside the HTML, so the page draws its SVG offline."""
import shutil
import subprocess

import plotly.graph_objects as go
import pytest

from grokkit import plots

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="no headless chromium")]


def test_exported_html_renders_offline(tmp_path):
    fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[0.1, 0.5, 1.0], name="test acc"))
    html = plots.export(fig, tmp_path, "fig", static=False)[0]
    assert (tmp_path / "plotly.min.js").exists()
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=10000", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert "main-svg" in r.stdout, r.stderr[-2000:]  # plotly drew its SVG
    assert "scatterlayer" in r.stdout
