"""The notebooks in a real JupyterLab, driven by headless Chromium (Playwright), and the static workshop site.

For each notebook: start from a copy in a temporary lab root, run all cells with GROKKIT_PROFILE=ci (replaying
the ci executions of `make test`'s papermill tests where they exist, see Lab; the run store is an overlay of the
warm store those tests filled, so finished runs load), then, for notebooks with a section panel, change widget
values in the panel and press Run. Asserted:
  (a) the panel's figure updates: a live plot whose point count grows while training (sections that train
      live), then a figure whose data differ from what the panel showed before;
  (b) no output anywhere contains "Traceback", "Error displaying widget" or an "...Error: ..." line;
  (c) plotly figures are drawn (an SVG .main-svg in every .js-plotly-plot);
  (d) after saving, shutting the kernel down and reopening, no widget output says "Error displaying widget"
      (tools/jupyter/jupyter_lab_config.py blanks the model ids of widget outputs whose state is not saved).
A screenshot per notebook goes to $GROKKIT_TEST_CACHE/screenshots/ (else pytest's tmp folder); its path is
printed. The site test builds the workshop site from the ci executions (tools/build_site.py) and opens it with
every non-local request aborted: every figure must be drawn.

Run alone (after a warm store exists, e.g. from `make test` or a papermill ci run):
    GROKKIT_TEST_CACHE=/path/to/store .venv/bin/python -m pytest -q tests/test_lab_browser.py -x -s
Manual checks that the test can fail: GROKKIT_LAB_BREAK=anywidget makes `import anywidget` fail in the lab's
kernel (a sitecustomize on PYTHONPATH), which breaks the panel's live plot; GROKKIT_LAB_BREAK=lab-config starts
the lab without tools/jupyter/jupyter_lab_config.py (no save hook: reopened notebooks show widget errors).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
LAB_CONFIG = ROOT / "tools" / "jupyter" / "jupyter_lab_config.py"
NOT_STORE = {"ci-out", "nbval-out", "screenshots", "site", "lab"}  # folders of GROKKIT_TEST_CACHE that are not runs

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="no headless chromium")]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package (dev extra) is not installed")

# Section panels to exercise: notebook -> (knob names that identify the panel, runs). Each run sets these widget
# values, presses Run and expects a new figure; "live": the section trains live, so its plot must grow while it
# trains. Choose ci-scale values that are NOT the notebook's ci settings (those load from the store instantly).
# A notebook with a section panel but no entry here gets one Run with the panel's values as they are.
PANEL_PLAN = {
    "00_quickstart": (["operation", "p", "train_frac", "steps"], [
        {"set": {"operation": "add", "p": 23, "steps": 1000}, "live": True},
        {"set": {"operation": "sub", "train_frac": 0.5}, "live": True},
        {"set": {"operation": "mul"}, "live": True},
    ]),
}
PANEL_RUN_TIMEOUT_S = 240
ERROR_LINE = re.compile(r"^\s*[A-Z]\w*(Error|Exception): ", re.M)


def has_section_panel(nb: Path) -> bool:
    src = nb.read_text()
    return "@nb.section(" in src and re.search(r"\w\.panel\(", src.replace("widgets.panel(", "")) is not None


# ---- the lab server ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _overlay_store(warm: Path | None, dst: Path) -> None:
    """dst: a run store holding the warm store's runs as hard links, so what the lab trains goes to dst only
    (each test session's panel runs really train, and the warm store is left as it was)."""
    dst.mkdir(parents=True)
    if warm is None or not warm.is_dir():
        return
    for d in warm.iterdir():
        if d.is_dir() and d.name not in NOT_STORE:
            try:
                shutil.copytree(d, dst / d.name, copy_function=os.link)
            except (OSError, shutil.Error):  # another filesystem: plain copies
                shutil.rmtree(dst / d.name, ignore_errors=True)
                shutil.copytree(d, dst / d.name)


def _breaker(base: Path, module: str) -> Path:
    """A sitecustomize that makes `import <module>` fail (GROKKIT_LAB_BREAK, manual negative check)."""
    d = base / "break"
    d.mkdir()
    (d / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r} or name.startswith({module + '.'!r}):\n"
        f"            raise ImportError('{module} blocked by GROKKIT_LAB_BREAK')\n"
        "sys.meta_path.insert(0, _Block())\n")
    return d


class Lab:
    """A JupyterLab server on a loopback port with a token; each notebook copied to root/<name>/. When the ci
    executions of every notebook exist ($GROKKIT_TEST_CACHE/ci-out/<name>/, made by `make test`'s papermill tests),
    root/<name>/ci-run links to it and the kernels get GROKKIT_SOURCE=ci-run: Run All replays those results
    (converted notebooks; the replay tests keep that fast) and the panels compute again (source "run", their fits
    loading from the store). GROKKIT_LAB_SOURCE=run makes Run All compute everything from the store instead."""

    def __init__(self, base: Path):
        self.base, self.root = base, base / "root"
        self.root.mkdir()
        warm = os.environ.get("GROKKIT_TEST_CACHE")
        ci_out = Path(warm) / "ci-out" if warm else None
        self.replay = (os.environ.get("GROKKIT_LAB_SOURCE", "replay") != "run" and ci_out is not None
                       and all((ci_out / nb.stem).is_dir() for nb in NOTEBOOKS))
        for nb in NOTEBOOKS:
            (self.root / nb.stem).mkdir()
            shutil.copy(nb, self.root / nb.stem / nb.name)
            if self.replay:
                (self.root / nb.stem / "ci-run").symlink_to(ci_out / nb.stem, target_is_directory=True)
        self.store = base / "runs"
        _overlay_store(Path(warm) if warm else None, self.store)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GROKKIT_", "JUPYTER_"))}
        env.update(GROKKIT_PROFILE="ci", GROKKIT_CACHE=str(self.store), GROKKIT_OUTPUT=str(base / "out"),
                   GROKKIT_STATIC="0", JUPYTER_DATA_DIR=str(base / "data"), JUPYTER_CONFIG_DIR=str(base / "config"),
                   JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTER_PLATFORM_DIRS="1")
        if self.replay:
            env["GROKKIT_SOURCE"] = "ci-run"  # relative: the kernel starts in the notebook's folder
        broken = os.environ.get("GROKKIT_LAB_BREAK")
        config = [] if broken == "lab-config" else [f"--config={LAB_CONFIG}"]
        if broken and broken != "lab-config":
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_breaker(base, broken)), env.get("PYTHONPATH")]))
        self.log = open(base / "jupyter-lab.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", *config, "--no-browser", f"--port={self.port}",
             "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
             "--allow-root", f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
             f"--LabApp.user_settings_dir={base / 'user-settings'}", f"--LabApp.workspaces_dir={base / 'workspaces'}"],
            cwd=base, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        t0 = time.time()
        while True:
            try:
                self.api("GET", "status")
                break
            except OSError:
                if self.proc.poll() is not None or time.time() - t0 > 180:
                    self.close()
                    pytest.fail(f"jupyter lab did not start:\n{(base / 'jupyter-lab.log').read_text()[-3000:]}")
                time.sleep(0.5)

    def path(self, nb: Path) -> str:
        return f"{nb.stem}/{nb.name}"

    def api(self, method: str, path: str):
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        for s in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{s['id']}")

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    cache = os.environ.get("GROKKIT_TEST_CACHE")
    d = Path(cache) / "screenshots" if cache else tmp_path_factory.mktemp("screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---- page helpers (JupyterLab's DOM and its exposed app, window.jupyterapp) -----------------------------
KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected'; }"""
BUSY_PROMPTS = "() => [...document.querySelectorAll('.jp-InputPrompt')].some(e => e.textContent.includes('*'))"
PLOTS = """(root) => [...(root || document).querySelectorAll('.js-plotly-plot')].map(el => {
  el.__gk = el.__gk || Math.random().toString(36).slice(2);
  const data = el._fullData && el._fullData.length ? el._fullData : el.data || [];  // decoded (typed) arrays
  return {id: el.__gk, traces: data.length, svg: !!el.querySelector('.main-svg'),
          points: data.reduce((n, t) => n + (t.x ? t.x.length : 0) + (t.z ? t.z.length : 0), 0),
          fingerprint: JSON.stringify(data.map(t => [t.name, t.x && Array.from(t.x).slice(-5),
                                                     t.y && Array.from(t.y).slice(-5)]))}; })"""
# innerText (line starts) and textContent (also what content-visibility leaves unrendered off screen)
OUTPUT_TEXTS = """() => [...document.querySelectorAll('.jp-OutputArea-output, .jupyter-widgets')]
  .map(e => e.innerText + '\\n' + e.textContent).filter(t => t && t.trim())"""
# Mark the panel (a VBox holding a Run button and an Output) whose labels include every name in `knobs`.
FIND_PANEL = """(knobs) => {
  const current = window.jupyterapp && window.jupyterapp.shell.currentWidget;  // the open notebook only
  const boxes = [...((current && current.node) || document).querySelectorAll('.jp-Notebook .widget-vbox')].filter(b =>
      [...b.children].some(c => c.classList.contains('widget-output')) &&
      [...b.querySelectorAll('button')].some(x => ['Run', 'Running…'].includes(x.textContent.trim())));
  const labels = b => [...b.querySelectorAll('.widget-label')].map(l => l.textContent.trim());
  const box = boxes.find(b => knobs.every(k => labels(b).includes(k)));
  if (!box) return null;
  document.querySelectorAll('[data-gk-panel]').forEach(e => e.removeAttribute('data-gk-panel'));
  box.setAttribute('data-gk-panel', '1');
  return labels(box); }"""
# While the panel runs, sample at every DOM change in it and every 50 ms: its plots' point counts (a live plot
# shows up as one element whose count grows) and its Run button (section panels disable it and show "Running…"
# until the figure is drawn).
# (The kernel status cannot tell: JupyterLab shows the kernel idle while a button handler runs.)
SAMPLE = """() => { const box = document.querySelector('[data-gk-panel]');
  window.__gkSamples = []; window.__gkSeenRunning = false; window.__gkT0 = performance.now();
  box.querySelectorAll('.js-plotly-plot').forEach(el => { el.__gkBefore = true; });
  const sample = () => {
    const b = [...box.querySelectorAll('button')].find(x => /Run/.test(x.textContent));
    if (b && (b.disabled || b.textContent.includes('Running'))) window.__gkSeenRunning = true;
    const out = [...box.children].find(c => c.classList.contains('widget-output'));
    for (const el of out.querySelectorAll('.js-plotly-plot')) {
      if (el.__gkBefore) continue;  // the figure of the previous run
      el.__gk = el.__gk || Math.random().toString(36).slice(2);
      const n = (el._fullData || el.data || []).reduce((n, t) => n + (t.x ? t.x.length : 0), 0);
      const s = window.__gkSamples, last = s.filter(x => x[0] === el.__gk).pop();
      if (!last || last[1] !== n) s.push([el.__gk, n, Math.round(performance.now() - window.__gkT0)]);
    } };
  // every DOM change in the panel (each redraw of a plot) and every 50 ms
  window.__gkObserver = new MutationObserver(sample);
  window.__gkObserver.observe(box, {subtree: true, childList: true, attributes: true});
  window.__gkTimer = setInterval(sample, 50); }"""
PANEL_IDLE = """() => { const box = document.querySelector('[data-gk-panel]');
  const b = [...box.querySelectorAll('button')].find(x => /Run/.test(x.textContent));
  return window.__gkSeenRunning && b && !b.disabled && b.textContent.trim() === 'Run'; }"""
STOP_SAMPLING = """() => { clearInterval(window.__gkTimer); window.__gkObserver.disconnect();
  return window.__gkSamples; }"""


CURRENT_PATH = "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget; " \
               "return w && w.context ? w.context.path : null; }"


def open_notebook(page, lab: Lab, path: str) -> None:
    """Open `path` as the current tab. `reset` starts from an empty workspace: the lab server is shared by the
    tests, and a restored tab of the previous notebook could otherwise become the current widget, so that Run All
    ran there (seen in CI: 01's test ran 00's cells and then found 00's panel in a hidden tab)."""
    page.goto(f"{lab.url}/lab/tree/{path}?token={lab.token}&reset")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell')",
                           timeout=120_000)
    if page.evaluate(CURRENT_PATH) != path:
        page.evaluate("(p) => window.jupyterapp.commands.execute('docmanager:open', {path: p})", path)
    page.wait_for_function(f"(p) => ({CURRENT_PATH})() === p", arg=path, timeout=60_000, polling=250)
    page.wait_for_function(KERNEL_IDLE, timeout=180_000, polling=250)


def run_all(page, timeout_s: float) -> None:
    """Run > Run All Cells; wait until every cell has run (the command's promise) and the kernel is idle."""
    page.evaluate("() => { window.__gkRunAll = undefined; window.jupyterapp.commands"
                  ".execute('notebook:run-all-cells').then(ok => { window.__gkRunAll = ok; }, "
                  "e => { window.__gkRunAll = String(e); }); }")
    page.wait_for_function(f"() => window.__gkRunAll !== undefined && ({KERNEL_IDLE})() && !({BUSY_PROMPTS})()",
                           timeout=timeout_s * 1000, polling=500)
    ok = page.evaluate("() => window.__gkRunAll")
    assert ok is True, f"Run All stopped ({ok}): " + "\n".join(error_outputs(page))[-3000:]


def reveal(locator) -> None:
    """Scroll an element of a notebook output into view. JupyterLab 4's default windowing ("contentVisibility")
    skips the layout of off-screen cells, and Playwright may see an element there as "not visible" and never scroll
    to it (seen once in CI, under load): scroll with the DOM API first, which works on skipped content."""
    locator.evaluate("el => el.scrollIntoView({block: 'center'})")
    locator.scroll_into_view_if_needed()


def error_outputs(page) -> list[str]:
    bad = []
    for text in page.evaluate(OUTPUT_TEXTS):
        if "Traceback" in text or "Error displaying widget" in text or ERROR_LINE.search(text):
            bad.append(text[-2000:])
    return bad


def assert_figures_drawn(page, where: str) -> list[dict]:
    plots = page.evaluate(PLOTS)
    assert plots, f"{where}: no plotly figure in the page"
    undrawn = [p for p in plots if not p["svg"]]
    assert not undrawn, f"{where}: {len(undrawn)}/{len(plots)} plotly figures without an SVG"
    return plots


def set_control(panel, name: str, value) -> None:
    """Set one ipywidgets control of the panel the way a user does (select, type into a slider readout...)."""
    row = panel.locator(".widget-inline-hbox").filter(
        has=panel.page.locator(".widget-label", has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")))
    assert row.count() >= 1, f"no control labelled {name!r} in the panel"
    row = row.first
    if row.locator("select").count():
        row.locator("select").select_option(str(value))
    elif row.locator(".widget-readout").count():  # slider: type into its editable readout
        readout = row.locator(".widget-readout")
        readout.click()
        readout.press("Control+A")
        readout.type(str(value))
        readout.press("Enter")
        panel.page.wait_for_function("([el, v]) => parseFloat(el.textContent) === v",
                                     arg=[readout.element_handle(), float(value)], timeout=10_000)
    elif row.locator("input[type=checkbox]").count():
        row.locator("input[type=checkbox]").set_checked(bool(value))
    else:
        row.locator("input").fill(", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
        row.locator("input").press("Enter")


def panel_output_plots(page) -> list[dict]:
    return page.evaluate(f"""() => {{ const box = document.querySelector('[data-gk-panel]');
        const out = [...box.children].find(c => c.classList.contains('widget-output'));
        return ({PLOTS})(out); }}""")


def press_run(page, panel, live: bool, label: str) -> dict:
    """Press the panel's Run button, wait until the kernel is idle again, check the live plot and the new figure."""
    before = {p["fingerprint"] for p in panel_output_plots(page)}
    page.evaluate(SAMPLE)
    button = panel.locator("button", has_text=re.compile(r"^\s*Run\s*$")).first
    t0 = time.time()
    button.click()
    page.wait_for_function("() => window.__gkSeenRunning", timeout=60_000, polling=100)
    page.wait_for_function(PANEL_IDLE, timeout=PANEL_RUN_TIMEOUT_S * 1000, polling=250)
    took = time.time() - t0
    samples = page.evaluate(STOP_SAMPLING)
    text = panel.locator(":scope > .widget-output").inner_text()
    status = button.locator("xpath=..").inner_text()  # the row of the Run button (section panels: its status)
    assert "failed" not in status and not ERROR_LINE.search(text), \
        f"{label}: the panel reports an error ({status.strip()!r}):\n{text[-2000:]}"
    if live:
        counts: dict[str, list[int]] = {}
        for gid, n, _ in samples:
            counts.setdefault(gid, []).append(n)
        # seen part-way and again later with more points (a plot drawn once at the end shows one count)
        grew = [c for c in counts.values() if len({n for n in c if n > 0}) >= 2 and c == sorted(c)]
        assert grew, (f"{label}: no live plot grew while training (point counts seen per plot: {counts}); "
                      f"panel output:\n{text[-2000:]}")
    after = panel_output_plots(page)
    assert after and all(p["svg"] and p["points"] > 0 for p in after), \
        f"{label}: the panel shows no drawn figure with data after Run ({after}); output:\n{text[-2000:]}"
    assert any(p["fingerprint"] not in before for p in after), f"{label}: the panel's figure did not change"
    first = next((ms for _, n, ms in samples if 0 < n), None)  # the first live point (or the first figure)
    return {"label": label, "seconds": round(took, 1), "first_point_s": first and round(first / 1000, 1),
            "counts": [n for _, n, _ in samples][:6] + ["..."], "status": status.replace("Run", "").strip()}


def check_saved_notebook(lab: Lab, path: str) -> int:
    """The saved file keeps no widget output whose state it does not keep; returns its number of widget outputs."""
    name = path
    saved = json.loads((lab.root / path).read_text())
    state = saved.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    kept = set(state.get("state", {}))
    stale = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
             for c in saved["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
             and o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] not in kept | {""}]
    assert not stale, f"{name} was saved with {len(stale)} widget outputs whose state is not saved: {stale[:3]}"
    return sum("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for c in saved["cells"] for o in c.get("outputs", []))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_in_jupyterlab(nb, lab, browser, shots):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    report = {"notebook": nb.stem, "run_all": "replays the ci run" if lab.replay else "computes (store)"}
    try:
        t0 = time.time()
        open_notebook(page, lab, lab.path(nb))
        run_all(page, timeout_s=300)
        report["run_all_s"] = round(time.time() - t0, 1)
        bad = error_outputs(page)
        assert not bad, f"{nb.stem}: outputs with errors after Run All:\n" + "\n---\n".join(bad)[-4000:]
        assert_figures_drawn(page, f"{nb.stem} after Run All")

        if has_section_panel(nb):
            knobs, runs = PANEL_PLAN.get(nb.stem, ([], [{"set": {}, "live": False}]))
            try:  # the widget views of a late cell may render after Run All returns: wait for the panel
                page.wait_for_function(f"(knobs) => ({FIND_PANEL})(knobs) !== null", arg=knobs, timeout=60_000,
                                       polling=500)
            except sync_api.TimeoutError:
                pass
            labels = page.evaluate(FIND_PANEL, knobs)
            assert labels is not None, f"{nb.stem}: no section panel with controls {knobs}"
            panel = page.locator("[data-gk-panel]")
            reveal(panel)
            report["panel_runs"] = []
            for run in runs:
                for name, value in run["set"].items():
                    set_control(panel, name, value)
                label = f"{nb.stem} panel {run['set'] or '(as is)'}"
                report["panel_runs"].append(press_run(page, panel, run["live"], label))
                bad = error_outputs(page)
                assert not bad, f"{label}: outputs with errors:\n" + "\n---\n".join(bad)[-4000:]
            assert_figures_drawn(page, f"{nb.stem} after the panel runs")
            reveal(panel)

        shot = shots / f"{nb.stem}.png"
        page.screenshot(path=str(shot))
        report["screenshot"] = str(shot)

        # saved, closed and reopened: no stale widget outputs, no "Error displaying widget"
        page.evaluate("async () => await window.jupyterapp.commands.execute('docmanager:save')")
        n_widgets = check_saved_notebook(lab, lab.path(nb))
        lab.shutdown_kernels()
        open_notebook(page, lab, lab.path(nb))
        # every widget output has its renderer (a Panel) and none of them is still loading
        page.wait_for_function("(n) => { const w = [...document.querySelectorAll('.jp-OutputArea-output.lm-Panel')];"
                               " return w.length >= n && !w.some(e => e.textContent.includes('Loading widget') && "
                               "e.checkVisibility()); }", arg=n_widgets, timeout=60_000, polling=250)
        reopened = [t for t in page.evaluate(OUTPUT_TEXTS) if "Error displaying widget" in t]
        assert not reopened, f"{nb.stem} reopened with widget errors: {reopened[:3]}"
        report["total_s"] = round(time.time() - t0, 1)
        print(json.dumps(report))
    except Exception:
        page.screenshot(path=str(shots / f"{nb.stem}-failed.png"))
        print(f"screenshot: {shots / f'{nb.stem}-failed.png'}; server log: {lab.base / 'jupyter-lab.log'}")
        raise
    finally:
        try:
            lab.shutdown_kernels()
        finally:
            page.close()


# ---- the static workshop site ------------------------------------------------------------------------------
def test_site_renders_offline(browser, tmp_path):
    """tools/build_site.py on the ci executions of this test run (make test's papermill tests): every page opens
    from file:// with every non-local request aborted, and each plotly output of the notebook is drawn (SVG)."""
    cache = os.environ.get("GROKKIT_TEST_CACHE")
    ci_out = Path(cache) / "ci-out" if cache else None
    if ci_out is None or not all((ci_out / n.stem / f"{n.stem}.ipynb").is_file() for n in NOTEBOOKS):
        pytest.skip("needs the ci executions of every notebook ($GROKKIT_TEST_CACHE/ci-out, made by `make test`)")
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--from", str(ci_out), "--out",
                        str(site)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    pages = json.loads((site / "site.json").read_text())
    assert [p["name"] for p in pages] == [n.stem for n in NOTEBOOKS]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    remote, errors = [], []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:", "blob:"))
               else (remote.append(route.request.url), route.abort()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto((site / "index.html").as_uri())
        links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
        for p in pages:
            assert f"{p['name']}.html" in links, f"the index does not link {p['name']}"
            page.goto((site / f"{p['name']}.html").as_uri())
            page.wait_for_load_state("load")
            page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= "
                                   f"{p['figures']}", timeout=60_000)
            plots = page.evaluate(PLOTS)
            assert len(plots) == p["figures"] and all(x["svg"] and x["traces"] for x in plots), (p["name"], plots)
            assert page.locator("table").count() >= 1, f"{p['name']}: no claims table"
            page.screenshot(path=str(tmp_path / f"site-{p['name']}.png"))
        assert not remote, f"the site asked the network for {remote[:5]}"
        assert not [e for e in errors if "Plotly is not defined" in e or "ReferenceError" in e], errors[:5]
        print(f"site: {site / 'index.html'}, {len(pages)} pages, {sum(p['figures'] for p in pages)} figures drawn")
    finally:
        page.close()
