"""Notebook sources read like papers (issue 14): short code cells, and in converted notebooks a `parameters`
cell that matches the `params-spec` declaration."""
import ast
import re
from pathlib import Path

import pytest

from grokkit.params import load_spec

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
MAX_LINES = 40


def converted(src: Path) -> bool:
    text = src.read_text()
    return "nb.Params(" in text and "@nb.section(" in text


def code_cells(src: Path) -> list[tuple[int, str, str]]:
    """(line number, header, body) of each `# %%` code cell (markdown cells skipped)."""
    text = src.read_text()
    cells, starts = [], [m.start() for m in re.finditer(r"^# %%", text, flags=re.M)]
    for a, b in zip(starts, starts[1:] + [len(text)]):
        header, _, body = text[a:b].partition("\n")
        if "[markdown]" not in header:
            cells.append((text[:a].count("\n") + 1, header, body))
    return cells


def code_lines(body: str) -> int:
    return sum(1 for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("#"))


def _param(src: Path):
    marks = [] if converted(src) else [pytest.mark.xfail(reason="not yet converted (issue 14)", strict=False)]
    return pytest.param(src, id=src.stem, marks=marks)


@pytest.mark.parametrize("src", [_param(s) for s in SOURCES])
def test_code_cells_are_short(src):
    """Analysis cells stay short; the `params-spec` cell (the notebook's settings table) and papermill's
    `parameters` cell (one `name = None` per parameter) are declarations, not analysis code: they are exempt."""
    long = [(line, n) for line, header, body in code_cells(src)
            if "params-spec" not in header and '"parameters"' not in header and (n := code_lines(body)) > MAX_LINES]
    assert not long, (f"{src.name}: code cells longer than {MAX_LINES} lines (non-blank, non-comment) at "
                      + ", ".join(f"line {line} ({n})" for line, n in long))


def test_the_line_count_ignores_blanks_and_comments(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("# %% [markdown]\n# text\n\n# %%\na = 1\n\n# note\nb = 2  # trailing\n# %%\n" + "x = 1\n" * 41)
    cells = code_cells(src)
    assert [code_lines(body) for _, _, body in cells] == [2, 41]
    assert cells[1][0] == 9


@pytest.mark.parametrize("src", [s for s in SOURCES if converted(s)], ids=lambda s: s.stem)
def test_parameters_cell_matches_the_declaration(src):
    """Papermill injects after the `parameters` cell: every declared parameter must be there (as None for
    the knobs: "take the profile's value"), and nothing else."""
    cell = next(body for _, header, body in code_cells(src) if '"parameters"' in header)
    assigned = {t.id: node.value for node in ast.parse(cell).body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    spec = load_spec(src)
    assert set(assigned) == set(spec.names)
    not_none = [k for k in spec.knobs if not (isinstance(assigned[k], ast.Constant) and assigned[k].value is None)]
    assert not not_none, f"knobs must default to None in the parameters cell: {not_none}"
