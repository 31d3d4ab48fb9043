"""Sections that return data, saved with provenance, and replayed without training.

    @nb.section("train", knobs=["operation", "p", "train_frac"])   # knobs: the widgets of its panel
    def train(S, live=False) -> nb.Result:
        run = fit(...)
        return nb.Result(curves=run.history, times=run.times, final_test_acc=0.99)

    R = train(S)   # source "run": compute, save to S.output_dir/results/train/
                   # source "shipped": load data/<notebook>/<profile>/train/; a path: load <path>/results/train/

$GROKKIT_RUN_SECTIONS (names, comma-separated) computes those sections even when `source` replays: re-run one
section of a bundle at its scale while the others replay (the output folder then holds a whole bundle).

On disk, one folder per section: a Parquet file per DataFrame, a .npy file per numpy array, and result.json
with the scalars / short lists / dicts (non-finite floats as the strings "NaN", "Infinity", "-Infinity", as in
protobuf's JSON mapping) and the provenance (versions, commit, device, profile, settings, wall time, date).
"""
from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import math
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .params import Settings, shipped_dir

FORMAT = "grokkit.result/1"
RESULTS = "results"
_RESERVED = {"save", "load", "provenance", "stale", "section", "scale", "data", "keys", "items"}
_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class Result:
    """A section's result: named data, attribute access (`R.curves`, `R.t_gen`).

    Values: pandas DataFrames, numpy arrays, and JSON-able values (numbers, strings, bools, None, short
    lists / dicts of those). Those are normalised on construction (tuples -> lists, numpy scalars -> Python
    numbers), so a computed result and its replay look the same to figures and claims. `provenance` is filled
    when the section runs."""

    def __init__(self, **data: Any):
        for name, v in data.items():
            if name in _RESERVED or name.startswith("_"):
                raise ValueError(f"Result field name {name!r} is reserved")
            data[name] = _check_value(name, v)
        self.data = data
        self.provenance: dict[str, Any] = {}
        self.stale: dict[str, tuple[Any, Any]] = {}  # setting -> (saved, now) when replayed with other settings

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("data", {})
        if name in data:
            return data[name]
        raise AttributeError(f"Result has no field {name!r}; fields: {sorted(data)}")

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def keys(self):
        return self.data.keys()

    def items(self):
        return self.data.items()

    @property
    def section(self) -> str | None:
        return self.provenance.get("section")

    @property
    def scale(self) -> str | None:
        """The profile the result was computed at (ci / demo / paper), and each setting of the section that differs
        from that profile's default: "paper (n_seeds=3, paper: 10)"."""
        profile, over = self.provenance.get("profile"), self.provenance.get("overrides") or {}
        if profile is None or not over:
            return profile
        return f"{profile} (" + "; ".join(f"{k}={_short(v)}, {profile}: {_short(d)}" for k, (v, d) in over.items()) \
            + ")"

    def __repr__(self) -> str:
        parts = []
        for k, v in self.data.items():
            if isinstance(v, pd.DataFrame):
                parts.append(f"{k}=<DataFrame {v.shape[0]}x{v.shape[1]}>")
            elif isinstance(v, np.ndarray):
                parts.append(f"{k}=<ndarray {v.dtype}{list(v.shape)}>")
            else:
                r = repr(v)
                parts.append(f"{k}={r if len(r) < 60 else r[:57] + '...'}")
        head = f"Result[{self.section}]" if self.section else "Result"
        return f"{head}({', '.join(parts)})"

    # ---- on disk
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the folder (replacing an older one whole): <field>.parquet, <field>.npy, result.json."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        values, tables, arrays = {}, {}, {}
        for name, v in self.data.items():
            if isinstance(v, pd.DataFrame):
                try:
                    v.to_parquet(tmp / f"{name}.parquet", engine="pyarrow")
                except Exception as e:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise TypeError(f"Result field {name!r}: cannot write this DataFrame as Parquet ({e}); use "
                                    "string column names and one type per column") from e
                tables[name] = f"{name}.parquet"
            elif isinstance(v, np.ndarray):
                np.save(tmp / f"{name}.npy", v, allow_pickle=False)
                arrays[name] = f"{name}.npy"
            else:
                values[name] = _encode(v)
        doc = {"format": FORMAT, "fields": list(self.data), "values": values, "tables": tables, "arrays": arrays,
               "provenance": _encode(self.provenance)}
        (tmp / "result.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        old = folder.with_name(f".{folder.name}.old{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike) -> Result:
        folder = Path(folder)
        path = folder / "result.json"
        if not path.exists():
            raise FileNotFoundError(f"no saved result in {folder} (result.json missing)")
        doc = json.loads(path.read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown format {doc.get('format')!r} (expected {FORMAT!r})")
        r = cls.__new__(cls)
        data = {k: _decode(v) for k, v in doc["values"].items()}
        data.update({k: pd.read_parquet(folder / f, engine="pyarrow") for k, f in doc["tables"].items()})
        data.update({k: np.load(folder / f, allow_pickle=False) for k, f in doc["arrays"].items()})
        order = doc.get("fields") or list(data)
        r.data = {k: data[k] for k in order}
        r.provenance = _decode(doc.get("provenance", {}))
        r.stale = {}
        return r


def _check_value(name: str, v: Any) -> Any:
    if isinstance(v, (pd.DataFrame, np.ndarray)):
        if isinstance(v, np.ndarray) and v.dtype == object:
            raise TypeError(f"Result field {name!r}: object arrays cannot be saved; use a DataFrame or a list")
        return v
    if isinstance(v, pd.Series):
        raise TypeError(f"Result field {name!r} is a Series: pass series.to_frame() or a list")
    try:
        return _decode(_encode(v))  # exactly what a replay will load
    except TypeError as e:
        raise TypeError(f"Result field {name!r}: {e}. A Result holds DataFrames, numpy arrays and JSON-able "
                        "values (numbers, strings, bools, None, lists and dicts of those)") from None


def _encode(v: Any) -> Any:
    """A JSON-able copy; non-finite floats become "NaN" / "Infinity" / "-Infinity"."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isfinite(v):
            return v
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise TypeError("dict keys must be strings")
        return {k: _encode(x) for k, x in v.items()}
    raise TypeError(f"{type(v).__name__} is not JSON-able")


def _decode(v: Any) -> Any:
    if isinstance(v, str):
        return _NONFINITE.get(v, v)
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    return v


def _short(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


# ---- provenance ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """HEAD of the checkout grokkit runs from (None outside git or when git is slow or absent)."""
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                           text=True, timeout=2)
    except (OSError, subprocess.SubprocessError):
        return None
    return (r.stdout.strip() or None) if r.returncode == 0 else None


def overrides(S: Settings, names: Iterable[str]) -> dict[str, list]:
    """{name: [value, the profile's default]} for the settings in `names` that differ from what the profile alone
    resolves to: a result made at "paper" with fewer seeds says so in its scale."""
    spec = getattr(S, "spec", None)
    if spec is None:
        return {}
    try:
        base = spec._resolve_values(S.notebook, {"profile": S.get("profile")}, mkdir=False)
    except Exception:  # the profile's defaults alone fail a cross-parameter check: nothing to compare with
        return {}
    return {n: [_encode(S.get(n)), _encode(base.get(n))] for n in names
            if n in base and not _same(S.get(n), base.get(n))}


def provenance(S: Settings, section: Section, wall_s: float) -> dict[str, Any]:
    import torch

    from .train import resolve_device

    uses = list(section.uses_for(S))
    try:
        device = str(resolve_device(S.get("device", "auto")))
    except Exception:  # an unusual device string: record it as given
        device = str(S.get("device"))
    return {
        "notebook": S.notebook, "section": section.name, "profile": S.get("profile"),
        "grokkit": __version__, "commit": git_commit(), "torch": torch.__version__,
        "python": platform.python_version(), "device": device,
        "settings": _encode({k: v for k, v in S.items() if k != "output_dir"}),
        "knobs": list(section.knobs), "uses": uses, "overrides": overrides(S, uses), "wall_s": round(wall_s, 3),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ---- sections ------------------------------------------------------------------------------
def results_dir(source: str | os.PathLike) -> Path:
    """The results/ folder of an earlier run: `<source>/results`, or `source` itself when it holds sections."""
    p = Path(source)
    if (p / RESULTS).is_dir():
        return p / RESULTS
    if p.name == RESULTS or any(p.glob("*/result.json")):
        return p
    raise FileNotFoundError(f"{p} holds no saved results (expected {p / RESULTS}/<section>/result.json; "
                            "run the notebook with output_dir there first)")


def _same(a: Any, b: Any) -> bool:
    return _encode(a) == _encode(b)


def _show(v: Any) -> str:
    return json.dumps(_encode(v), ensure_ascii=False)


def run_sections() -> set[str]:
    """Sections named in $GROKKIT_RUN_SECTIONS: computed whatever the source."""
    return {n.strip() for n in os.environ.get("GROKKIT_RUN_SECTIONS", "").split(",") if n.strip()}


class Section:
    """A notebook section: a function settings -> Result (see `section`)."""

    def __init__(self, fn: Callable[..., Result], name: str, knobs: Iterable[str] = (),
                 uses: Iterable[str] | None = None):
        functools.update_wrapper(self, fn)
        self.fn, self.name, self.knobs = fn, name, list(knobs)
        self.uses = None if uses is None else list(uses)
        self.takes_live = "live" in inspect.signature(fn).parameters

    def __repr__(self) -> str:
        return f"<section {self.name!r} knobs={self.knobs}>"

    def uses_for(self, S: Settings) -> list[str]:
        """The settings the result depends on: `uses=` or every knob of the notebook plus the seed."""
        if self.uses is not None:
            return self.uses
        return [*S.spec.knobs, "seed"] if S.spec is not None else [k for k in S if k not in
                                                                     ("profile", "source", "device", "output_dir")]

    def _check_names(self, S: Settings) -> None:
        if S.spec is None:
            return
        bad = [k for k in [*self.knobs, *(self.uses or [])] if k not in S.spec.names]
        if bad:
            raise ValueError(f"section {self.name!r} names {bad}, which are not parameters of {S.notebook} "
                             f"({S.spec.names})")

    def __call__(self, S: Settings, **kwargs: Any) -> Result:
        """Compute (source "run") or load (source "shipped" or a path); record it in S.sections."""
        self._check_names(S)
        source = S.get("source", "run")
        if self.name in run_sections():
            source = "run"
        R = self.compute(S, **kwargs) if source == "run" else self.replay(S)
        S.sections[self.name] = R
        return R

    def compute(self, S: Settings, *, save: bool = True, **kwargs: Any) -> Result:
        """Run the section's function; save the Result under S.output_dir/results/<name>/ (unless save=False)."""
        t0 = time.time()
        R = self.fn(S, **kwargs)
        if not isinstance(R, Result):
            raise TypeError(f"section {self.name!r} must return an nb.Result, not {type(R).__name__}")
        R.provenance = provenance(S, self, time.time() - t0)
        if save:
            R.save(Path(S.output_dir) / RESULTS / self.name)
        return R

    def folder(self, S: Settings) -> Path:
        """Where this section's saved result is read from for S.source."""
        if S.source == "shipped":
            return shipped_dir(S.notebook, S.profile) / self.name
        return results_dir(S.source) / self.name

    def replay(self, S: Settings) -> Result:
        folder = self.folder(S)
        if not (folder / "result.json").exists():
            have = sorted(d.name for d in folder.parent.iterdir() if (d / "result.json").exists())
            raise FileNotFoundError(f"no saved result for section {self.name!r} in {folder.parent} "
                                    f"(sections there: {', '.join(have) or 'none'})")
        R = Result.load(folder)
        made = R.provenance
        if made.get("overrides"):  # the scale names the settings this section uses (as declared now)
            uses = set(self.uses_for(S))
            made["overrides"] = {k: v for k, v in made["overrides"].items() if k in uses}
        print(f"section {self.name!r}: replayed from {folder} (made at {R.scale!r} on "
              f"{made.get('device')}, {made.get('date')}, {made.get('wall_s')} s)")
        saved = dict(made.get("settings", {}))
        for k, (_, default) in (made.get("overrides") or {}).items():
            if _same(default, S.get(k)):  # made at a declared reduced scale (its scale says so), not stale
                saved[k] = default
        R.stale = {k: (saved.get(k), S.get(k)) for k in self.uses_for(S)
                   if k in saved and not _same(saved[k], S.get(k))}
        if R.stale:
            diffs = ", ".join(f"{k}={_show(a)} (now {_show(b)})" for k, (a, b) in R.stale.items())
            msg = f"section {self.name!r} was made with {diffs}; replaying it as saved"
            S.stale[self.name] = msg
            print(f"STALE: {msg}")
        dest = Path(S.output_dir) / RESULTS / self.name
        if dest.resolve() != folder.resolve():  # the replay's output folder can be replayed in turn
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(folder, dest)
        return R

    def panel(self, S: Settings, draw: Callable[[Result], Any] | None = None,
              claims: Callable[[Result], list] | None = None, knobs: Iterable[str] | None = None, **inputs: Any):
        """This section's control panel (grokkit.widgets.section_panel); `inputs` are passed to the section's
        function on Run (e.g. the result of an earlier section it builds on)."""
        from .widgets import section_panel

        return section_panel(self, S, draw=draw, claims=claims, knobs=knobs, **inputs)


def section(name: str, *, knobs: Iterable[str] = (), uses: Iterable[str] | None = None):
    """Decorator: a function (S, **kw) -> Result becomes a Section named `name`.

    knobs: the parameters its panel shows as widgets. uses: the settings its result depends on (default:
    every knob of the notebook and the seed); a replay whose saved `uses` differ is reported as stale."""
    def deco(fn):
        return Section(fn, name, knobs, uses)
    return deco
