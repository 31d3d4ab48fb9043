"""Build the static workshop site: an index page, then one page per notebook (nbconvert's HTML exporter with the
lab template, tools/site_template/), with interactive plotly figures that work offline (plotly.min.js written
once into the site folder, no CDN) and the claims tables.

    python tools/build_site.py --execute [--from out/demo] [--out site]   # what `make site` runs
    python tools/build_site.py --from .test-cache/ci-out --out /tmp/site  # from notebooks executed already

--from DIR (repeatable): executed notebooks to use as they are, found as DIR/<name>.ipynb or
DIR/<name>/<name>.ipynb (the layouts of `grokkit run` / `make demo` and of the test suite's ci runs).
--execute: a notebook with a shipped paper-scale bundle (data/<name>/paper/) is replayed from it
(`-p source shipped -p profile paper`: seconds, no training); the others are taken from --from when found there,
else executed in the demo profile (minutes each on 2 CPU cores; `make demo` first makes them reusable) into
--work. Without --execute a notebook that is not found in --from is an error.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "tools" / "site_template"
PLOTLY = "application/vnd.plotly.v1+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PANEL_NOTE = ("(An interactive control panel: open this notebook in JupyterLab with `make lab` to change the values "
              "and run the section again.)")


class SiteOutputs(Preprocessor):
    """Plotly outputs -> HTML drawing with the page's plotly.min.js; widget outputs (control panels, progress bars)
    need a kernel: a panel becomes a one-line note, a progress bar its text; saved widget state is dropped."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if PLOTLY in data:
                import plotly.io as pio

                html = pio.to_html(data[PLOTLY], include_plotlyjs=False, full_html=False, validate=False,
                                   config={"responsive": True})
                out["data"] = {"text/html": html}
            elif WIDGET_VIEW in data:
                text = str(data.get("text/plain", ""))
                if re.match(r"^[VH]Box\(", text):
                    out["data"] = {"text/plain": PANEL_NOTE}
                elif text.strip():
                    out["data"] = {"text/plain": text}
                else:
                    continue
            outputs.append(out)
        cell.outputs = outputs
        return cell, resources


def exporter() -> HTMLExporter:
    ex = HTMLExporter(template_name="grokkit_site", extra_template_basedirs=[str(TEMPLATES)])
    ex.register_preprocessor(SiteOutputs(), enabled=True)
    return ex


def title_of(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return ""


def find_executed(name: str, dirs: list[Path], newer_than: Path | None = None) -> Path | None:
    for d in dirs:
        for cand in (d / f"{name}.ipynb", d / name / f"{name}.ipynb"):
            if cand.is_file():
                if newer_than is not None and cand.stat().st_mtime < newer_than.stat().st_mtime:
                    print(f"{cand} is older than {newer_than}: not reused")
                    continue
                return cand
    return None


def has_paper_bundle(name: str) -> bool:
    sys.path.insert(0, str(ROOT))
    from grokkit.params import shipped_bundles

    return "paper" in shipped_bundles(name)


def execute(nb: Path, work: Path, parameters: dict) -> Path:
    import papermill as pm

    profile = parameters["profile"]
    out_dir = (work / profile / nb.stem).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = work / profile / f"{nb.stem}.ipynb"
    os.environ.setdefault("GROKKIT_STATIC", "0")  # the site needs no PNGs
    t0 = time.time()
    print(f"executing {nb.name} ({', '.join(f'{k}={v}' for k, v in parameters.items())}) ...", flush=True)
    pm.execute_notebook(str(nb), str(dst), cwd=str(nb.parent), parameters={**parameters, "output_dir": str(out_dir)},
                        progress_bar=False, kernel_name="python3")
    print(f"  {nb.name}: {time.time() - t0:.0f} s", flush=True)
    return dst


def provenance(nb) -> tuple[str, dict]:
    """'profile ci, source run' from papermill's record of the parameters, and results.json when found."""
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    profile, source = params.get("profile", "?"), params.get("source", "run")
    results = {}
    out = params.get("output_dir")
    if out and (Path(out) / "results.json").is_file():
        results = json.loads((Path(out) / "results.json").read_text())
    return f"executed with profile {profile}, source {source}", results


def build(names: list[Path], out: Path, from_dirs: list[Path], do_execute: bool, work: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    import plotly.offline

    (out / "plotly.min.js").write_text(plotly.offline.get_plotlyjs(), encoding="utf-8")
    ex = exporter()
    pages = []
    for nb_path in names:
        name = nb_path.stem
        if do_execute and has_paper_bundle(name):
            executed = execute(nb_path, work, {"profile": "paper", "source": "shipped"})
        else:
            executed = find_executed(name, from_dirs, newer_than=nb_path if do_execute else None)
            if executed is None:
                if not do_execute:
                    raise SystemExit(f"build_site: no executed {name}.ipynb under {[str(d) for d in from_dirs]} "
                                     "(pass --execute to run it)")
                executed = execute(nb_path, work, {"profile": "demo"})
        nb = nbformat.read(executed, as_version=4)
        prov, results = provenance(nb)
        body, _ = ex.from_notebook_node(nb, resources={"metadata": {"name": title_of(nb) or name},
                                                       "grokkit_provenance": prov})
        (out / f"{name}.html").write_text(body, encoding="utf-8")
        claims = results.get("claims", [])
        pages.append({"name": name, "title": title_of(nb) or name, "provenance": prov,
                      "held": sum(c.get("holds") is True for c in claims), "claims": len(claims),
                      "figures": sum(PLOTLY in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))})
        print(f"wrote {out / f'{name}.html'} ({prov}; {pages[-1]['figures']} figures)", flush=True)
    index = nbformat.v4.new_notebook()
    rows = "\n".join(f"| [{p['name']}]({p['name']}.html) | {p['title']} | {p['provenance']} | "
                     f"{p['held']}/{p['claims']} |" for p in pages)
    index.cells = [nbformat.v4.new_markdown_cell(
        "# grokkit workshop\n\nOne page per notebook: the narrative, the code, the interactive figures (zoom, hover, "
        "click the legend) and the claims table, each claim beside the paper's number. The pages work offline. "
        "To change the settings and train again, open the notebooks in JupyterLab (`make lab`).\n\n"
        "| notebook | title | run | claims held |\n|---|---|---|---|\n" + rows)]
    body, _ = ex.from_notebook_node(index, resources={"metadata": {"name": "grokkit workshop"}})
    (out / "index.html").write_text(body, encoding="utf-8")
    (out / "site.json").write_text(json.dumps(pages, indent=1))
    print(f"site: {out / 'index.html'}")
    return pages


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    ap.add_argument("--out", default=str(ROOT / "site"), help="site folder (default: site/)")
    ap.add_argument("--from", dest="from_dirs", action="append", default=[], help="folder of executed notebooks")
    ap.add_argument("--execute", action="store_true", help="execute what is needed (see above)")
    ap.add_argument("--work", default=str(ROOT / "out" / "site"), help="where --execute writes (default: out/site/)")
    args = ap.parse_args(argv)
    names = [Path(n) for n in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    build(names, Path(args.out), [Path(d) for d in args.from_dirs], args.execute, Path(args.work))


if __name__ == "__main__":
    main()
