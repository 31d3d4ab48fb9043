"""Build notebooks/*.ipynb from their percent-format sources in notebooks/src/*.py (jupytext).

    python tools/build_notebooks.py          # rebuild every notebook
    python tools/build_notebooks.py --check  # exit 1 if an .ipynb is out of date with its source

Edit either side: in JupyterLab with jupytext installed the pair stays in sync; otherwise edit the
.py source and rebuild. Outputs and widget state are never stored (the notebooks are executed by `make demo` /
tests; widgets exist only while their kernel runs).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def build(src: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(src, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.pop("jupytext", None)
    nb.metadata.pop("widgets", None)  # never ship widget state: the widgets live with their kernel
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # deterministic ids: rebuilding an unchanged source changes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("lines_to_next_cell", None)
    return nb


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    stale = []
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        dst = ROOT / "notebooks" / f"{src.stem}.ipynb"
        text = nbformat.writes(build(src)) + "\n"
        if args.check:
            if not dst.exists() or dst.read_text() != text:
                stale.append(dst.name)
        else:
            dst.write_text(text)
            print(f"built {dst.relative_to(ROOT)}")
    if stale:
        print(f"out of date with notebooks/src: {stale} (run `make notebooks`)")
        sys.exit(1)


if __name__ == "__main__":
    main()
