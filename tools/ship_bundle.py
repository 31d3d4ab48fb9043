"""Ship a notebook's saved section results as a replay bundle: data/<notebook>/<profile>/<section>/.

    python tools/ship_bundle.py 01_lottery_tickets paper --from OUT/paper/01_lottery_tickets \
        [--fill-from OUT/demo/01_lottery_tickets] [--max-mb 10]

Every section of the notebook (its `@nb.section("name")` declarations) is taken from `--from` (an output folder of
a run, or its results/ folder); a section missing there is taken from `--fill-from` (a smaller run: its
provenance keeps the profile and settings it was made at, so the claims table's scale column and the replay's
stale-section notes say so). The bundle must hold every section and stay under --max-mb. Prints what came
from where and at which scale.

To re-run only some sections of a shipped bundle (the others replay, byte for byte):
    GROKKIT_RUN_SECTIONS=sweep_f64 grokkit run notebooks/01_lottery_tickets.ipynb --profile paper \
        --out OUT -p source=shipped
then ship with --from OUT/paper/01_lottery_tickets.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sections(notebook: str) -> list[str]:
    src = (ROOT / "notebooks" / "src" / f"{notebook}.py").read_text()
    return re.findall(r'@nb\.section\("([A-Za-z0-9_]+)"', src)


def results(folder: Path) -> Path:
    return folder / "results" if (folder / "results").is_dir() else folder


def scale(section_dir: Path) -> str:
    from grokkit.results import Result

    r = Result.load(section_dir)
    return f"{r.scale}, {r.provenance.get('device')}, {r.provenance.get('date')}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebook")
    ap.add_argument("profile", choices=["ci", "demo", "paper"])
    ap.add_argument("--from", dest="src", required=True, type=Path)
    ap.add_argument("--fill-from", type=Path)
    ap.add_argument("--max-mb", type=float, default=10.0)
    a = ap.parse_args(argv)
    names = sections(a.notebook)
    if not names:
        print(f"error: {a.notebook} declares no sections", file=sys.stderr)
        return 2
    dest = ROOT / "data" / a.notebook / a.profile
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    missing = []
    for name in names:
        for origin in filter(None, (a.src, a.fill_from)):
            d = results(origin) / name
            if (d / "result.json").exists():
                shutil.copytree(d, tmp / name)
                print(f"{name:>16}: {scale(d)}  <- {origin}")
                break
        else:
            missing.append(name)
    size = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) / 2**20
    if missing or size > a.max_mb:
        shutil.rmtree(tmp)
        why = f"sections missing: {missing}" if missing else f"{size:.1f} MB > {a.max_mb} MB"
        print(f"error: not shipped ({why})", file=sys.stderr)
        return 1
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    print(f"shipped {len(names)} sections to {dest.relative_to(ROOT)} ({size:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
