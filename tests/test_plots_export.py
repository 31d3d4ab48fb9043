"""Static (PNG) figure export never hangs a notebook: without a browser kaleido's sync server waits forever
(seen: a paper-profile run of 03 sat idle at its first figure on a machine without Chromium), so export looks
for a browser first and gives up on a PNG that does not come within STATIC_TIMEOUT_S."""
import threading
import time

import plotly.graph_objects as go
import pytest

from grokkit import plots


@pytest.fixture
def fresh_export_state(monkeypatch):
    monkeypatch.setattr(plots, "_KALEIDO", {"server": None, "off": False, "warned": False})
    monkeypatch.delenv("GROKKIT_STATIC", raising=False)
    yield


def fig():
    return go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))


def test_no_browser_writes_html_only_without_starting_kaleido(fresh_export_state, monkeypatch, tmp_path, capsys):
    kaleido = pytest.importorskip("kaleido")
    monkeypatch.setattr(plots, "find_browser", lambda: None)
    calls = []
    monkeypatch.setattr(kaleido, "start_sync_server", lambda *a, **k: calls.append("server"))
    monkeypatch.setattr(go.Figure, "write_image", lambda *a, **k: calls.append("png"))
    first = plots.export(fig(), tmp_path, "a")
    second = plots.export(fig(), tmp_path, "b")
    assert first == [tmp_path / "a.html"] and second == [tmp_path / "b.html"]
    assert (tmp_path / "a.html").stat().st_size > 0 and not list(tmp_path.glob("*.png"))
    assert calls == []
    out = capsys.readouterr().out
    assert out.count("static PNG export unavailable: no Chrome / Chromium found") == 1


def test_stuck_browser_times_out_and_switches_png_off(fresh_export_state, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(plots, "find_browser", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(plots, "_kaleido_server", lambda: None)
    monkeypatch.setattr(plots, "STATIC_TIMEOUT_S", 0.2)
    release, calls = threading.Event(), []

    def stuck(*a, **k):
        calls.append("png")
        release.wait(10)

    monkeypatch.setattr(go.Figure, "write_image", stuck)
    t0 = time.perf_counter()
    assert plots.export(fig(), tmp_path, "a") == [tmp_path / "a.html"]
    assert time.perf_counter() - t0 < 5
    assert plots.export(fig(), tmp_path, "b") == [tmp_path / "b.html"]
    release.set()
    assert calls == ["png"]  # the second figure did not wait again
    assert "no PNG after 0.2 s" in capsys.readouterr().out


def test_png_error_is_reported_and_html_kept(fresh_export_state, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(plots, "find_browser", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(plots, "_kaleido_server", lambda: None)

    def broken(*a, **k):
        raise RuntimeError("browser crashed")

    monkeypatch.setattr(go.Figure, "write_image", broken)
    assert plots.export(fig(), tmp_path, "a") == [tmp_path / "a.html"]
    assert "static PNG export unavailable: RuntimeError" in capsys.readouterr().out


def test_find_browser_rejects_a_browser_path_that_is_not_executable(monkeypatch, tmp_path):
    pytest.importorskip("choreographer")
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    assert plots.find_browser() is None
